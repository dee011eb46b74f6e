/* db_promote: turning the standby into the primary without a restart, and
 * fencing a server (read_only plus killing the sessions that could write
 * through it). Promotion order matters: stop receiving, apply everything
 * received, detach, record the new epoch, then allow writes. */
#include "commands.h"
#include "db_ops.h"
#include "epoch.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* While the relay log drains nobody else writes, and every transaction is
 * still in the relay log: one fsync per applied transaction only slows the
 * failover down (seconds for a backlog of a few thousand). Durability is put
 * back before the epoch row, whose commit then syncs everything before it. */
struct durability {
	long long flush_at_commit, sync_binlog;
};

static bool relax_durability(struct db_conn *c, struct durability *d)
{
	char *e = NULL;
	if (db_long(c, "SELECT @@global.innodb_flush_log_at_trx_commit", &d->flush_at_commit, &e) ||
	    db_long(c, "SELECT @@global.sync_binlog", &d->sync_binlog, &e) ||
	    db_exec(c, "SET GLOBAL innodb_flush_log_at_trx_commit = 2", &e) ||
	    db_exec(c, "SET GLOBAL sync_binlog = 0", &e)) {
		log_debug("promote: applying with full durability (%s)", e);
		free(e);
		return false;
	}
	return true;
}

/* On success a failure here is the caller's error (the promotion stops);
 * on an earlier failure (err NULL) it is only logged. */
static int restore_durability(struct db_conn *c, const struct durability *d, char **err)
{
	char *e = NULL;
	if (db_execf(c, &e, "SET GLOBAL innodb_flush_log_at_trx_commit = %lld", d->flush_at_commit) ||
	    db_execf(c, &e, "SET GLOBAL sync_binlog = %lld", d->sync_binlog)) {
		char *m = xasprintf("%s: could not restore innodb_flush_log_at_trx_commit=%lld and "
				    "sync_binlog=%lld after the drain (%s): set them by hand",
				    c->name, d->flush_at_commit, d->sync_binlog, e);
		free(e);
		if (err) {
			*err = m;
		} else {
			log_error("%s", m);
			free(m);
		}
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* Apply every transaction already received, bounded by promote_timeout. The
 * IO thread is stopped first so the target cannot move. */
static int drain_relay_log(struct db_pair *p, struct db_conn *c, char **err)
{
	const struct db_flavor *fl = c->flavor;
	struct db_facts f;
	int rc = db_facts_read(c, &f, err);
	if (rc)
		return rc;
	if (f.sql_errno) { /* checked before anything changes */
		char *problem = db_facts_replication_problem(&f);
		*err = xasprintf("cannot promote %s: %s (nothing changed)", c->name, problem);
		free(problem);
		db_facts_free(&f);
		return EXIT_FAILED;
	}
	db_facts_free(&f);
	rc = db_exec(c, fl->stop_io_thread, err);
	if (!rc)
		rc = db_facts_read(c, &f, err);
	if (rc)
		return rc;
	char *target = xstrdup(f.gtid_io_pos);
	db_facts_free(&f);
	struct durability saved;
	bool relaxed = *target && relax_durability(c, &saved);
	if (*target) {
		double deadline = (double)now_ms() / 1000.0 + p->cfg->db.promote_timeout;
		char *q = db_quote(c, target);
		for (;;) {
			long long r = -1;
			double left = deadline - (double)now_ms() / 1000.0;
			char *sql = xasprintf("SELECT MASTER_GTID_WAIT(%s, %.3f)", q,
					      left > 0.2 ? 0.2 : (left > 0 ? left : 0));
			rc = db_long(c, sql, &r, err);
			free(sql);
			if (rc || r == 0)
				break;
			rc = db_facts_read(c, &f, err);
			if (rc)
				break;
			char *problem = f.sql_errno ? db_facts_replication_problem(&f) : NULL;
			bool sql_stopped = strcmp(f.sql_running, "Yes") != 0;
			db_facts_free(&f);
			if (problem || sql_stopped || (double)now_ms() / 1000.0 > deadline) {
				*err = xasprintf(
					"cannot promote %s: received transactions up to %s are not "
					"all applied after promote_timeout=%.0f s%s%s (IO thread "
					"stopped, nothing else changed; START SLAVE resumes)",
					c->name, target, p->cfg->db.promote_timeout,
					problem ? ": " : "", problem ? problem : "");
				free(problem);
				rc = EXIT_FAILED;
				break;
			}
		}
		free(q);
	}
	if (relaxed) {
		int r2 = restore_durability(c, &saved, rc == 0 ? err : NULL);
		rc = rc ? rc : r2;
	}
	free(target);
	return rc;
}

/* Epoch = 1 + the highest known here: STATE_DIR file and the database. */
static int next_epoch(struct db_pair *p, struct db_conn *c, uint64_t *out, char **err)
{
	uint64_t file_epoch = 0, db_epoch = 0;
	bool found;
	if (epoch_read(p->cfg->state_dir, &file_epoch, err) < 0)
		return EXIT_FAILED;
	int rc = db_meta_epoch(c, &db_epoch, NULL, &found, err);
	if (rc)
		return rc;
	*out = (file_epoch > db_epoch ? file_epoch : db_epoch) + 1;
	return EXIT_OK;
}

static int promote_conn(struct db_pair *p, struct db_conn *c, struct db_promote_result *r,
			char **err)
{
	const struct db_flavor *fl = c->flavor;
	int64_t t0 = now_ms();
	struct db_facts f;
	int rc = db_facts_read(c, &f, err);
	if (rc)
		return rc;
	bool replica = f.replica, ro = f.read_only;
	db_facts_free(&f);
	if (!replica && !ro) {
		*err = xasprintf("%s is already writable and replicates from nobody: nothing to "
				 "promote",
				 c->name);
		return EXIT_FAILED;
	}
	if (replica) {
		rc = drain_relay_log(p, c, err);
		/* Everything received is applied: the relay log can go. */
		if (!rc)
			rc = db_exec(c, fl->stop_replica, err);
		if (!rc)
			rc = db_exec(c, fl->reset_replica_all, err);
		if (rc)
			return rc;
	}
	rc = db_value(c, "SELECT @@global.gtid_current_pos", &r->fork_gtid, err);
	if (!rc)
		rc = db_meta_ensure(c, err);
	if (!rc)
		rc = next_epoch(p, c, &r->epoch, err);
	/* The epoch row is written (through read_only, with READ_ONLY ADMIN)
	 * before the application can write: no app write without an epoch. */
	if (!rc)
		rc = db_meta_record_epoch(c, r->epoch, p->cfg->node, r->fork_gtid, err);
	if (!rc)
		rc = db_exec(c, "SET GLOBAL read_only = OFF", err);
	if (rc) {
		char *m = xasprintf("%s (replication on %s is detached already; it is still "
				    "read-only; run 'lifeboat db promote' again)",
				    *err, c->name);
		free(*err);
		*err = m;
		return rc;
	}
	r->ms_to_writable = (double)(now_ms() - t0);
	char *e2 = NULL;
	/* A primary is no semi-sync replica; the master side is enabled by
	 * rejoin once a replica exists (enabling it now would stall the first
	 * writes for rpl_semi_sync_master_timeout). */
	if (p->cfg->db.semi_sync && db_exec(c, "SET GLOBAL rpl_semi_sync_slave_enabled = OFF", &e2)) {
		log_warn("%s", e2);
		free(e2);
		e2 = NULL;
	}
	if (epoch_write(p->cfg->state_dir, r->epoch, &e2) < 0) {
		*err = xasprintf("%s is writable (epoch %llu recorded on it) but %s", c->name,
				 (unsigned long long)r->epoch, e2);
		free(e2);
		return EXIT_FAILED;
	}
	return db_persist_read_only(p->cfg, c->server, false, r->epoch, err);
}

/* Split-brain guard: a primary that still answers and is writable must be
 * fenced first. A dead or unreachable one is the normal failover case; the
 * short timeout keeps a blackholed host from costing the RTO more than 1 s. */
static int refuse_live_primary(struct db_pair *p, bool force, char **err)
{
	struct db_conn c;
	char *e = NULL;
	p->primary.connect_timeout = 1;
	int rc = db_pair_connect(p, &p->primary, &c, &e);
	p->primary.connect_timeout = 0;
	long long ro = 1;
	if (!rc)
		rc = db_long(&c, "SELECT @@global.read_only", &ro, &e);
	free(e);
	if (!rc && !ro) {
		if (force) {
			log_warn("%s is still writable: promoting anyway (--force); two primaries "
				 "now accept writes until it is fenced",
				 c.name);
		} else {
			*err = xasprintf("%s is still up and writable: run 'lifeboat db fence' first "
					 "(or 'lifeboat failover'), or promote with --force; nothing "
					 "changed",
					 c.name);
			db_close(&c);
			return EXIT_FAILED;
		}
	}
	db_close(&c);
	return EXIT_OK;
}

int db_promote_guarded(struct db_pair *p, bool force, struct db_promote_result *r, char **err)
{
	memset(r, 0, sizeof(*r));
	int rc = refuse_live_primary(p, force, err);
	if (rc)
		return rc;
	return db_promote(p, r, err);
}

int db_promote(struct db_pair *p, struct db_promote_result *r, char **err)
{
	memset(r, 0, sizeof(*r));
	struct db_conn c;
	int rc = db_pair_connect(p, &p->standby, &c, err);
	if (!rc)
		rc = promote_conn(p, &c, r, err);
	db_close(&c);
	return rc;
}

/* Sessions that could write: everything but us, replication and the
 * server's own threads. Under read_only, READ_ONLY ADMIN (and so ALL
 * PRIVILEGES) sessions still write, and we cannot tell from here what an
 * open transaction will do, so every client session goes. */
#define CLIENT_SESSIONS                                                                            \
	"SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND "           \
	"USER NOT IN ('system user', 'event_scheduler') AND COMMAND NOT IN ('Binlog Dump', "       \
	"'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')"

/* KILL every client session; ids collects the killed ones. */
static int kill_client_sessions(struct db_conn *c, unsigned *killed, struct buf *ids, char **err)
{
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c, CLIENT_SESSIONS, &rows, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].values[0])
			continue;
		char *e = NULL;
		/* 1094: the session ended by itself meanwhile. */
		if (db_execf(c, &e, "KILL CONNECTION %s", rows[i].values[0]) == 0) {
			(*killed)++;
			buf_addf(ids, "%s%s", ids->len ? "," : "", rows[i].values[0]);
		} else if (db_errno(c) != 1094) {
			*err = xasprintf("%s: %s", c->name, e);
			free(e);
			rc = EXIT_FAILED;
			break;
		}
		free(e);
	}
	db_rows_free(rows, n);
	return rc;
}

int db_fence_conn(struct db_conn *c, unsigned *killed, char **err)
{
	*killed = 0;
	struct buf ids;
	buf_init(&ids);
	/* Sessions first: a commit waiting for a semi-sync acknowledgement
	 * that will not come (the standby is gone) holds the lock SET GLOBAL
	 * read_only waits for. Again after it: a client that reconnected in
	 * between. */
	int rc = db_exec(c, "SET SESSION lock_wait_timeout = 10", err);
	if (!rc)
		rc = kill_client_sessions(c, killed, &ids, err);
	if (!rc)
		rc = db_exec(c, "SET GLOBAL read_only = ON", err);
	if (!rc)
		rc = kill_client_sessions(c, killed, &ids, err);
	if (rc) {
		buf_free(&ids);
		return rc;
	}
	/* Verify: read_only holds and the killed sessions are gone (KILL is
	 * asynchronous); bounded wait. */
	char *sql = xasprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN (%s)",
			      ids.len ? ids.data : "0");
	buf_free(&ids);
	int64_t deadline = now_ms() + 5000;
	for (;;) {
		long long ro = 0, left = 0;
		rc = db_long(c, "SELECT @@global.read_only", &ro, err);
		if (!rc)
			rc = db_long(c, sql, &left, err);
		if (rc || (ro && left == 0))
			break;
		if (now_ms() > deadline) {
			*err = xasprintf("fence of %s not verified: read_only=%lld and %lld killed "
					 "session(s) still there after 5 s: check SHOW PROCESSLIST",
					 c->name, ro, left);
			rc = EXIT_FAILED;
			break;
		}
		nap(20);
	}
	free(sql);
	return rc;
}

int db_fence(struct db_pair *p, const struct db_server *target, char **err)
{
	struct db_conn c;
	int rc = db_pair_connect(p, target, &c, err);
	if (rc) {
		char *m = xasprintf("%s; a stopped server takes no writes, but keep read_only=ON "
				    "in its my.cnf so it stays fenced when it comes back",
				    *err);
		free(*err);
		*err = m;
		db_close(&c);
		return rc;
	}
	unsigned killed = 0;
	rc = db_fence_conn(&c, &killed, err);
	if (!rc)
		log_info("fenced %s: read_only=ON, %u client session(s) killed", c.name, killed);
	if (!rc)
		rc = db_persist_read_only(p->cfg, target, true, 0, err);
	db_close(&c);
	return rc;
}
