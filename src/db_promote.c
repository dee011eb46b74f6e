/* db_promote: turning the standby into the primary without a restart, and
 * fencing a server (read_only plus killing the sessions that could write
 * through it). Promotion order matters: stop receiving, apply everything
 * received, detach, record the new epoch, then allow writes. */
#include "result.h"
#include "db_ops.h"
#include "epoch.h"
#include "log.h"
#include "privileges.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* While the relay log drains nobody else writes, and every transaction is
 * still in the relay log: one fsync per applied transaction only slows the
 * failover down (seconds for a backlog of a few thousand). Durability is put
 * back before the epoch row, whose commit then syncs everything before it.
 * The original values are first recorded in STATE_DIR/promote-durability
 * (fsync'd, naming the server): a promote killed while they are relaxed
 * leaves the record, and the next run restores from it before anything
 * else, so the relaxed values are never taken for the original ones. */
struct durability {
	long long flush_at_commit, sync_binlog;
};

static char *record_path(const struct config *cfg)
{
	return xasprintf("%s/promote-durability", cfg->state_dir);
}

/* temp + fsync + rename + fsync of the directory. */
static int write_synced(const char *dir, const char *path, const char *text, char **err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = mkdir_p(dir, 0700) < 0 ? -1
					  : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd >= 0 && write_all(fd, text, strlen(text)) == 0 && fsync(fd) == 0) {
		close(fd);
		fd = -1;
		if (rename(tmp, path) == 0) {
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
			if (dfd >= 0)
				close(dfd);
		}
	}
	if (rc < 0)
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

static int record_write(const struct config *cfg, const char *server, const struct durability *d,
			char **err)
{
	char *path = record_path(cfg);
	char *text = xasprintf("%s\ninnodb_flush_log_at_trx_commit=%lld\nsync_binlog=%lld\n", server,
			       d->flush_at_commit, d->sync_binlog);
	int rc = write_synced(cfg->state_dir, path, text, err);
	free(text);
	free(path);
	return rc;
}

/* The record for server, if there is one. */
static bool record_read(const struct config *cfg, const char *server, struct durability *d)
{
	char *path = record_path(cfg);
	size_t len;
	char *text = read_file(path, &len);
	free(path);
	if (!text)
		return false;
	size_t sl = strlen(server);
	bool ok = strncmp(text, server, sl) == 0 && text[sl] == '\n' &&
		  sscanf(text + sl + 1, "innodb_flush_log_at_trx_commit=%lld\nsync_binlog=%lld",
			 &d->flush_at_commit, &d->sync_binlog) == 2;
	free(text);
	return ok;
}

static void record_clear(const struct config *cfg)
{
	char *path = record_path(cfg);
	unlink(path);
	free(path);
}

/* The record's key: the server as configured (not its connection name). */
static char *server_key(const struct db_conn *c)
{
	return xasprintf("%s:%u", c->server->host, c->server->port);
}

static int restore_durability(struct db_conn *c, const struct durability *d, char **err);

/* Undo what a killed run relaxed. 0 when nothing was pending or it is
 * restored (and the record gone). */
static int restore_recorded(const struct config *cfg, struct db_conn *c, char **err)
{
	char *key = server_key(c);
	struct durability d;
	bool pending = record_read(cfg, key, &d);
	free(key);
	if (!pending)
		return LB_OK;
	int rc = restore_durability(c, &d, err);
	if (rc)
		return rc;
	log_info("promote: restored innodb_flush_log_at_trx_commit=%lld and sync_binlog=%lld on %s "
		 "(recorded by an interrupted promote)",
		 d.flush_at_commit, d.sync_binlog, c->name);
	record_clear(cfg);
	return LB_OK;
}

static bool relax_durability(const struct config *cfg, struct db_conn *c, struct durability *d)
{
	char *e = NULL;
	if (db_long(c, "SELECT @@global.innodb_flush_log_at_trx_commit", &d->flush_at_commit, &e) ||
	    db_long(c, "SELECT @@global.sync_binlog", &d->sync_binlog, &e)) {
		log_debug("promote: applying with full durability (%s)", e);
		free(e);
		return false;
	}
	char *key = server_key(c);
	int rc = record_write(cfg, key, d, &e);
	free(key);
	if (rc < 0) {
		log_warn("promote: applying with full durability: %s", e);
		free(e);
		return false;
	}
	if (db_exec(c, "SET GLOBAL innodb_flush_log_at_trx_commit = 2", &e) ||
	    db_exec(c, "SET GLOBAL sync_binlog = 0", &e)) {
		/* SUPER is needed for the first one: without it, nothing relaxed. */
		log_debug("promote: applying with full durability (%s)", e);
		free(e);
		if (restore_durability(c, d, NULL) == 0)
			record_clear(cfg);
		return false;
	}
	failpoint("promote-relaxed");
	return true;
}

/* On success a failure here is the caller's error (the promotion stops);
 * on an earlier failure (err NULL) it is only logged. The record stays
 * until the values are back. */
static int restore_durability(struct db_conn *c, const struct durability *d, char **err)
{
	char *e = NULL;
	if (db_execf(c, &e, "SET GLOBAL innodb_flush_log_at_trx_commit = %lld", d->flush_at_commit) ||
	    db_execf(c, &e, "SET GLOBAL sync_binlog = %lld", d->sync_binlog)) {
		char *m = xasprintf("%s: could not restore innodb_flush_log_at_trx_commit=%lld and "
				    "sync_binlog=%lld after the drain (%s): 'lifeboat db promote' "
				    "again restores them from its record, or set them by hand",
				    c->name, d->flush_at_commit, d->sync_binlog, e);
		free(e);
		if (err) {
			*err = m;
		} else {
			log_error("%s", m);
			free(m);
		}
		return LB_FAILED;
	}
	return LB_OK;
}

/* The SQL thread before the drain: stopped on an error is reported with the
 * error and the GTID it stopped at, nothing changed (force: promote what is
 * applied, *skip_drain); stopped by an administrator (no error) is started,
 * so what was received is applied. */
static int sql_thread_ready(struct db_conn *c, bool force, bool *skip_drain, char **err)
{
	struct db_facts f;
	*skip_drain = false;
	int rc = db_facts_read(c, &f, err);
	if (rc)
		return rc;
	if (f.sql_errno) {
		char *m = xasprintf("%s: the SQL thread stopped on error %lld (%s) at GTID %s", c->name,
				    f.sql_errno, f.sql_error, *f.gtid_slave_pos ? f.gtid_slave_pos : "-");
		if (!force) {
			*err = xasprintf("cannot promote: %s; nothing changed: fix the cause and START "
					 "SLAVE, or 'lifeboat db promote --force' to promote what is "
					 "applied (received transactions after it are lost)",
					 m);
			rc = LB_FAILED;
		} else {
			log_warn("%s: promoting what is applied (--force)", m);
			*skip_drain = true;
		}
		free(m);
	} else if (strcmp(f.sql_running, "Yes") != 0) {
		log_info("promote: the SQL thread on %s was stopped (no error): starting it to apply "
			 "what was received",
			 c->name);
		rc = db_execf(c, err, "%s SQL_THREAD", c->flavor->start_replica);
	}
	db_facts_free(&f);
	return rc;
}

/* MASTER_GTID_WAIT on target in 0.2 s slices, re-checking the SQL thread
 * (MASTER_GTID_WAIT alone is no divergence check, pitfall 7). */
static int wait_applied(struct db_pair *p, struct db_conn *c, const char *target, char **err)
{
	double deadline = (double)now_ms() / 1000.0 + p->cfg->db.promote_timeout;
	char *q = db_quote(c, target);
	int rc;
	for (bool first = true;; first = false) {
		long long r = -1;
		double left = deadline - (double)now_ms() / 1000.0;
		char *sql = xasprintf("SELECT MASTER_GTID_WAIT(%s, %.3f)", q,
				      left > 0.2 ? 0.2 : (left > 0 ? left : 0));
		rc = db_long(c, sql, &r, err);
		free(sql);
		if (first)
			failpoint("promote-draining");
		if (rc || r == 0)
			break;
		struct db_facts f;
		rc = db_facts_read(c, &f, err);
		if (rc)
			break;
		char *problem = f.sql_errno ? db_facts_replication_problem(&f) : NULL;
		bool sql_stopped = strcmp(f.sql_running, "Yes") != 0;
		db_facts_free(&f);
		if (problem || sql_stopped || (double)now_ms() / 1000.0 > deadline) {
			*err = xasprintf("cannot promote %s: received transactions up to %s are not "
					 "all applied after promote_timeout=%.0f s%s%s (IO thread "
					 "stopped, nothing else changed; START SLAVE resumes)",
					 c->name, target, p->cfg->db.promote_timeout,
					 problem ? ": " : "", problem ? problem : "");
			free(problem);
			rc = LB_FAILED;
			break;
		}
	}
	free(q);
	return rc;
}

/* The IO thread of a MariaDB replica, when there is exactly one (a second
 * one belongs to a multi-source connection lifeboat does not manage).
 * NULL: none, several, or not visible (no PROCESS privilege). */
#define KILL_TO_STOP_MS 50

static char *io_thread_id(struct db_conn *c)
{
	struct db_row *rows = NULL;
	size_t n = 0;
	char *e = NULL, *id = NULL;
	if (db_rows(c, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'",
		    &rows, &n, &e) != 0) {
		log_debug("promote: %s", e);
		free(e);
		return NULL;
	}
	if (n == 1 && rows[0].values[0])
		id = xstrdup(rows[0].values[0]);
	db_rows_free(rows, n);
	return id;
}

/* Stop receiving. STOP SLAVE IO_THREAD alone costs 2 s when the primary
 * vanished (its link cut, no FIN): the thread sits in a read that the
 * server's first stop signal does not end, and the server signals again
 * only every 2 s. Measured on 10.11: a KILL of the thread's connection
 * first, then the STOP a moment later, ends it in milliseconds (the STOP
 * right after the KILL is the slow case again: its signal is lost among the
 * KILL's). The KILL only marks the thread; the STOP stops it, and what it
 * wrote to the relay log stays (the drain applies it; a transaction it had
 * only begun to receive is not in gtid_io_pos). Without the privileges
 * (CONNECTION ADMIN, PROCESS) or on MySQL: the plain STOP. */
static int stop_io_thread(struct db_conn *c, char **err)
{
	char *id = c->flavor->gtid_domain_style ? io_thread_id(c) : NULL;
	if (id) {
		char *e = NULL;
		/* 1094: it ended by itself meanwhile. */
		if (db_execf(c, &e, "KILL CONNECTION %s", id) == 0)
			nap(KILL_TO_STOP_MS);
		else if (db_errno(c) != 1094)
			log_debug("promote: KILL of the IO thread: %s (STOP SLAVE IO_THREAD alone)",
				  e);
		free(e);
		free(id);
	}
	return db_exec(c, c->flavor->stop_io_thread, err);
}

/* Apply every transaction already received, bounded by promote_timeout. The
 * IO thread is stopped first so the target cannot move. */
static int drain_relay_log(struct db_pair *p, struct db_conn *c, bool force, char **err)
{
	bool skip = false;
	int rc = sql_thread_ready(c, force, &skip, err);
	if (rc || skip)
		return rc;
	struct db_facts f;
	rc = stop_io_thread(c, err);
	if (!rc)
		rc = db_facts_read(c, &f, err);
	if (rc)
		return rc;
	char *target = xstrdup(f.gtid_io_pos);
	db_facts_free(&f);
	struct durability saved;
	bool relaxed = *target && relax_durability(p->cfg, c, &saved);
	if (*target)
		rc = wait_applied(p, c, target, err);
	failpoint("promote-drained");
	if (relaxed) {
		int r2 = restore_durability(c, &saved, rc == 0 ? err : NULL);
		if (!r2)
			record_clear(p->cfg);
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
		return LB_FAILED;
	int rc = db_meta_epoch(c, &db_epoch, NULL, &found, err);
	if (rc)
		return rc;
	*out = (file_epoch > db_epoch ? file_epoch : db_epoch) + 1;
	return LB_OK;
}

static int promote_conn(struct db_pair *p, struct db_conn *c, bool force,
			struct db_promote_result *r, char **err)
{
	const struct db_flavor *fl = c->flavor;
	int64_t t0 = now_ms();
	struct db_facts f;
	int rc = restore_recorded(p->cfg, c, err);
	if (!rc)
		rc = db_facts_read(c, &f, err);
	if (rc)
		return rc;
	bool replica = f.replica, ro = f.read_only;
	db_facts_free(&f);
	if (!replica && !ro) {
		*err = xasprintf("%s is already writable and replicates from nobody: nothing to "
				 "promote",
				 c->name);
		return LB_FAILED;
	}
	if (replica) {
		rc = drain_relay_log(p, c, force, err);
		/* Everything received is applied: the relay log can go. */
		if (!rc)
			rc = db_exec(c, fl->stop_replica, err);
		if (!rc)
			rc = db_exec(c, fl->reset_replica_all, err);
		if (rc)
			return rc;
		failpoint("promote-detached");
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
	unsigned given = 0;
	if (!rc)
		rc = db_fence_give_back(c, &given, err);
	if (!rc)
		rc = db_exec(c, "SET GLOBAL read_only = OFF", err);
	if (!rc && given)
		log_info("promote: READ_ONLY ADMIN given back to %u account(s) a fence took it from",
			 given);
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
		return LB_FAILED;
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
			return LB_FAILED;
		}
	}
	db_close(&c);
	return LB_OK;
}

int db_promote_guarded(struct db_pair *p, bool force, struct db_promote_result *r, char **err)
{
	memset(r, 0, sizeof(*r));
	int rc = refuse_live_primary(p, force, err);
	if (rc)
		return rc;
	return db_promote(p, force, r, err);
}

int db_promote(struct db_pair *p, bool force, struct db_promote_result *r, char **err)
{
	memset(r, 0, sizeof(*r));
	struct db_conn c;
	int rc = db_pair_connect(p, &p->standby, &c, err);
	if (!rc)
		rc = promote_conn(p, &c, force, r, err);
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

/* Accounts that write through read_only: READ_ONLY ADMIN, held
 * by root and every ALL PRIVILEGES account in 10.11. lifeboat's own account
 * keeps it: it sets read_only and writes the epoch row through it. */
#define OTHER_WRITERS                                                                              \
	"FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'READ_ONLY ADMIN' AND "    \
	"GRANTEE <> " DB_CURRENT_GRANTEE

/* What a fence revoked, kept on the fenced server itself (not binlogged):
 * the promote that makes this server a primary again gives it back. */
#define REVOKED_TABLE "lifeboat.fence_revoked"

/* information_schema's 'user'@'host' as an account for GRANT/REVOKE; a
 * role ('name'@'') is named by its quoted name. NULL for a spelling that
 * cannot be used safely. */
static char *grantee_sql(const char *g)
{
	size_t len = strlen(g);
	const char *at = strstr(g, "'@'");
	if (len < 5 || g[0] != '\'' || g[len - 1] != '\'' || !at || strchr(g, '\\') ||
	    strchr(g, '`'))
		return NULL;
	if (at + 3 == g + len - 1) /* empty host: a role */
		return xasprintf("`%.*s`", (int)(at - g - 1), g + 1);
	return xstrdup(g);
}

/* Whether one role holds READ_ONLY ADMIN on *.* (its SHOW GRANTS lines). */
static int role_writes(struct db_conn *c, const char *role, bool *writes, char **err)
{
	static const char *const want[] = {"READ_ONLY ADMIN"};
	char *ident = db_quote_ident(role);
	char *sql = xasprintf("SHOW GRANTS FOR %s", ident);
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c, sql, &rows, &n, err);
	free(sql);
	free(ident);
	if (rc)
		return rc;
	char **lines = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		lines[i] = rows[i].n ? rows[i].values[0] : NULL;
	char *missing = priv_lines_missing(lines, n, want, 1);
	*writes = missing == NULL;
	free(missing);
	free(lines);
	db_rows_free(rows, n);
	return 0;
}

/* Roles holding READ_ONLY ADMIN, spelled 'name'@'' as grantee_sql expects.
 * information_schema.USER_PRIVILEGES lists accounts only, so an
 * application whose default role is an admin role would write through
 * read_only unseen. The roles lifeboat's own session has enabled are left
 * alone: revoking from them would take the fence's own privilege. */
static int list_writer_roles(struct db_conn *c, struct strv *out, char **err)
{
	if (!c->flavor || !c->flavor->gtid_domain_style) /* is_role: MariaDB's roles */
		return 0;
	struct db_row *rows;
	size_t n;
	if (db_rows(c,
		    "SELECT User FROM mysql.user WHERE is_role = 'Y' AND User NOT IN "
		    "(SELECT ROLE_NAME FROM information_schema.ENABLED_ROLES WHERE ROLE_NAME IS NOT "
		    "NULL) ORDER BY 1",
		    &rows, &n, err))
		return -1;
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		bool writes = false;
		const char *role = rows[i].values[0];
		if (role && (rc = role_writes(c, role, &writes, err)) == 0 && writes)
			strv_pushf(out, "'%s'@''", role);
	}
	db_rows_free(rows, n);
	return rc;
}

int db_read_only_writers(struct db_conn *c, struct strv *out, char **err)
{
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c, "SELECT GRANTEE " OTHER_WRITERS " ORDER BY 1", &rows, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		if (rows[i].values[0])
			strv_push(out, rows[i].values[0]);
	if (!rc)
		db_rows_free(rows, n);
	return rc ? rc : list_writer_roles(c, out, err);
}

static int record_table(struct db_conn *c, char **err)
{
	int rc = db_exec(c, "CREATE DATABASE IF NOT EXISTS lifeboat", err);
	if (!rc)
		rc = db_exec(c,
			     "CREATE TABLE IF NOT EXISTS " REVOKED_TABLE " (grantee VARCHAR(400) "
			     "PRIMARY KEY, revoked_at TIMESTAMP(6) NOT NULL DEFAULT "
			     "CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
			     err);
	return rc;
}

/* REVOKE READ_ONLY ADMIN from every other holder, each first recorded in
 * REVOKED_TABLE; neither binlogged (the replica's accounts keep theirs). */
static int revoke_writers(struct db_conn *c, unsigned *revoked, char **err)
{
	struct strv w;
	strv_init(&w);
	int rc = db_read_only_writers(c, &w, err);
	if (!rc && w.len)
		rc = db_exec(c, "SET SESSION sql_log_bin = 0", err);
	if (!rc && w.len)
		rc = record_table(c, err);
	for (size_t i = 0; !rc && i < w.len; i++) {
		char *who = grantee_sql(w.items[i]);
		if (!who) {
			log_warn("fence: cannot revoke READ_ONLY ADMIN from %s (unusual name): "
				 "revoke it by hand",
				 w.items[i]);
			continue;
		}
		char *q = db_quote(c, w.items[i]);
		rc = db_execf(c, err, "INSERT IGNORE INTO " REVOKED_TABLE " (grantee) VALUES (%s)", q);
		if (!rc)
			rc = db_execf(c, err, "REVOKE READ_ONLY ADMIN ON *.* FROM %s", who);
		if (!rc)
			(*revoked)++;
		free(q);
		free(who);
	}
	if (w.len) {
		char *e = NULL;
		if (db_exec(c, "SET SESSION sql_log_bin = 1", &e))
			free(e);
	}
	strv_free(&w);
	return rc;
}

/* GRANT back one recorded grantee and forget it. */
static int give_back_one(struct db_conn *c, const char *g, unsigned *given, char **err)
{
	char *who = grantee_sql(g);
	char *q = db_quote(c, g);
	int rc = LB_OK;
	if (who) {
		rc = db_execf(c, err, "GRANT READ_ONLY ADMIN ON *.* TO %s", who);
		unsigned e = rc ? db_errno(c) : 0;
		/* The account was dropped meanwhile: nothing to give back. */
		if (e == 1133 || e == 1396 || e == 1959) {
			free(*err);
			*err = NULL;
			rc = LB_OK;
		} else if (!rc) {
			(*given)++;
		}
	}
	if (!rc)
		rc = db_execf(c, err, "DELETE FROM " REVOKED_TABLE " WHERE grantee = %s", q);
	free(q);
	free(who);
	return rc;
}

int db_fence_give_back(struct db_conn *c, unsigned *given, char **err)
{
	*given = 0;
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c, "SELECT grantee FROM " REVOKED_TABLE, &rows, &n, err);
	if (rc && db_errno(c) == 1146) { /* never fenced */
		free(*err);
		*err = NULL;
		return LB_OK;
	}
	if (rc)
		return rc;
	if (n)
		rc = db_exec(c, "SET SESSION sql_log_bin = 0", err);
	for (size_t i = 0; !rc && i < n; i++)
		if (rows[i].values[0])
			rc = give_back_one(c, rows[i].values[0], given, err);
	if (n) {
		char *e = NULL;
		if (db_exec(c, "SET SESSION sql_log_bin = 1", &e))
			free(e);
	}
	db_rows_free(rows, n);
	return rc;
}

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
			rc = LB_FAILED;
			break;
		}
		free(e);
	}
	db_rows_free(rows, n);
	return rc;
}

/* Verify: read_only holds, the killed sessions are gone (KILL is
 * asynchronous) and no other account can write through read_only, so a
 * session that reconnected meanwhile cannot either. */
static int verify_fence(struct db_conn *c, const char *ids, char **err)
{
	char *sql = xasprintf("SELECT @@global.read_only, (SELECT COUNT(*) FROM "
			      "information_schema.PROCESSLIST WHERE ID IN (%s)), (SELECT COUNT(*) "
			      OTHER_WRITERS ")",
			      *ids ? ids : "0");
	int64_t deadline = now_ms() + 5000;
	int rc;
	for (;;) {
		struct db_row row;
		bool found = false;
		rc = db_row(c, sql, &row, &found, err);
		if (rc)
			break;
		long long ro = found && row.values[0] ? atoll(row.values[0]) : 0;
		long long left = found && row.values[1] ? atoll(row.values[1]) : 0;
		long long writers = found && row.values[2] ? atoll(row.values[2]) : 0;
		db_row_free(&row);
		if (ro && left == 0 && writers == 0)
			break;
		if (now_ms() > deadline) {
			*err = xasprintf("fence of %s not verified: read_only=%lld, %lld killed "
					 "session(s) still there, %lld other account(s) hold READ_ONLY "
					 "ADMIN after 5 s: check SHOW PROCESSLIST and "
					 "information_schema.USER_PRIVILEGES",
					 c->name, ro, left, writers);
			rc = LB_FAILED;
			break;
		}
		nap(20);
	}
	free(sql);
	return rc;
}

int db_fence_conn(struct db_conn *c, unsigned *killed, char **err)
{
	*killed = 0;
	unsigned revoked = 0;
	struct buf ids;
	buf_init(&ids);
	/* Sessions first: a commit waiting for a semi-sync acknowledgement
	 * that will not come (the standby is gone) holds the lock SET GLOBAL
	 * read_only waits for. Then READ_ONLY ADMIN goes, so a session that
	 * reconnects logs in without it; then the sessions again (an existing
	 * one keeps the privileges it logged in with). */
	int rc = db_exec(c, "SET SESSION lock_wait_timeout = 10", err);
	if (!rc)
		rc = kill_client_sessions(c, killed, &ids, err);
	if (!rc)
		rc = db_exec(c, "SET GLOBAL read_only = ON", err);
	/* A revoke that fails (no GRANT OPTION) still gets the sessions
	 * killed; the fence then fails with the revoke's GRANT advice. */
	char *revoke_err = NULL;
	if (!rc && revoke_writers(c, &revoked, &revoke_err))
		log_warn("fence: %s", revoke_err);
	if (!rc)
		rc = kill_client_sessions(c, killed, &ids, err);
	if (!rc && revoke_err) {
		*err = revoke_err;
		revoke_err = NULL;
		rc = LB_FAILED;
	}
	free(revoke_err);
	if (!rc)
		rc = verify_fence(c, ids.len ? ids.data : "", err);
	buf_free(&ids);
	if (!rc && revoked)
		log_info("fence: READ_ONLY ADMIN revoked from %u account(s) on %s (recorded there; "
			 "promote gives it back)",
			 revoked, c->name);
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
