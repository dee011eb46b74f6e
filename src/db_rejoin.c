/* db_rejoin: the old primary becomes a replica of the new one. Before it
 * follows, its binlog is compared with the fork point the new primary
 * recorded when promoted: transactions written on the old primary after
 * that point (errant) are listed and extracted to a file, never dropped
 * silently. With errant transactions rejoin refuses, unless --force, which
 * re-seeds the old primary from the new one. The exception: errant
 * transactions that only write lifeboat's own heartbeat (db_errant.c), which
 * an old primary cut off before it died kept writing, are saved, discarded
 * and the old primary's binlog restarts at the fork point. */
#include "child.h"
#include "db_errant.h"
#include "db_ops.h"
#include "gtid.h"
#include "log.h"
#include "residency.h"
#include "result.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* mariadb-binlog of everything after the fork point into STATE_DIR. Returns
 * the file path (caller frees) or NULL with *err. */
static char *save_errant(struct db_pair *p, struct db_conn *old, const char *fork, char **err)
{
	char *first = NULL;
	struct db_row row;
	bool found;
	if (db_row(old, "SHOW BINARY LOGS", &row, &found, err))
		return NULL;
	if (found && row.values[0])
		first = xstrdup(row.values[0]);
	db_row_free(&row);
	if (!first) {
		*err = xasprintf("%s has no binary logs to extract the errant transactions from",
				 old->name);
		return NULL;
	}
	char *cnf = db_write_client_cnf(p->cfg, old->server, p->cfg->db.user, p->password, NULL, err);
	if (!cnf) {
		free(first);
		return NULL;
	}
	struct strv argv;
	strv_init(&argv);
	strv_push(&argv, "mariadb-binlog");
	strv_pushf(&argv, "--defaults-file=%s", cnf);
	strv_push_split(&argv, "--read-from-remote-server --to-last-log --skip-gtid-strict-mode "
			       "--base64-output=auto");
	/* GTID start positions are exclusive: events after the fork. */
	if (fork && *fork)
		strv_pushf(&argv, "--start-position=%s", fork);
	strv_push(&argv, first);
	struct run_result r;
	int code = child_run(argv.items, NULL, 0, 600000, &r);
	char *path = NULL;
	if (code != 0) {
		*err = xasprintf("mariadb-binlog failed (exit %d): %s", code, r.err_tail);
	} else {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		path = xasprintf("%s/errant-%s.sql", p->cfg->state_dir, stamp);
		/* Two rejoins in one second keep both extracts. */
		for (int i = 2; access(path, F_OK) == 0; i++) {
			free(path);
			path = xasprintf("%s/errant-%s-%d.sql", p->cfg->state_dir, stamp, i);
		}
		if (write_file_atomic(path, r.out.data, r.out.len) < 0) {
			*err = xasprintf("cannot write %s: %s", path, strerror(errno));
			free(path);
			path = NULL;
		}
	}
	run_result_free(&r);
	strv_free(&argv);
	unlink(cnf);
	free(cnf);
	free(first);
	return path;
}

static char *describe_errant(const struct gtid_errant *e, size_t n)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (e[i].diverged)
			buf_addf(&b, "%sdomain %u: %u-%u-%llu differs from the new primary's history",
				 i ? "; " : "", e[i].domain, e[i].old_last.domain,
				 e[i].old_last.server, (unsigned long long)e[i].old_last.seq);
		else
			buf_addf(&b, "%sdomain %u: seq %llu..%llu (%llu transaction%s, last %u-%u-%llu)",
				 i ? "; " : "", e[i].domain, (unsigned long long)e[i].first,
				 (unsigned long long)e[i].last,
				 (unsigned long long)(e[i].last - e[i].first + 1),
				 e[i].last == e[i].first ? "" : "s", e[i].old_last.domain,
				 e[i].old_last.server, (unsigned long long)e[i].old_last.seq);
	}
	return buf_steal(&b);
}

/* Errant transactions that only wrote lifeboat's heartbeat (the old primary
 * kept writing it after its cable was cut): saved like any errant ones, then
 * discarded (*discard); else *why says why not. */
static void errant_is_heartbeat(struct db_pair *p, struct db_conn *old, const char *fork,
			       const struct gtid_errant *e, size_t n, const char *list,
			       bool *discard, char **why)
{
	bool own = false;
	char *e2 = NULL;
	/* Anything unsure (binlog unreadable, extract not saved) keeps the
	 * refusal. */
	if (db_errant_only_own(old, e, n, &own, why, &e2)) {
		*why = xasprintf("cannot read its binlog: %s", e2);
		free(e2);
		return;
	}
	if (!own)
		return;
	char *file = save_errant(p, old, fork, &e2);
	if (!file) {
		*why = e2;
		return;
	}
	log_warn("%s has errant transactions the new primary lacks (%s), but they only write "
		 "lifeboat.heartbeat, the heartbeat it kept writing after the new primary "
		 "forked: discarding them (saved to %s)",
		 old->name, list, file);
	free(file);
	*discard = true;
}

/* 0: no errant, or only the heartbeat's (*discard, *fork_out set: the old
 * primary's binlog is to be reset to the fork); LB_FAILED with *err listing
 * them (and *found set). */
static int check_errant(struct db_pair *p, struct db_conn *old, struct db_conn *neu, bool *found,
			bool *discard, char **fork_out, char **err)
{
	*found = false;
	*discard = false;
	struct db_facts fo, fn;
	int rc = db_facts_read(old, &fo, err);
	if (rc)
		return rc;
	rc = db_facts_read(neu, &fn, err);
	if (rc) {
		db_facts_free(&fo);
		return rc;
	}
	/* The fork point the new primary recorded at promotion; without one
	 * (promoted by hand), what it had applied from the old primary. */
	const char *fork = fn.fork_gtid && *fn.fork_gtid ? fn.fork_gtid : fn.gtid_slave_pos;
	if (!(fn.fork_gtid && *fn.fork_gtid))
		log_warn("%s has no lifeboat promotion record; comparing with its gtid_slave_pos %s",
			 neu->name, fork);
	struct gtid_pos ob, fk;
	struct gtid_errant *e = NULL;
	size_t n = 0;
	if (gtid_pos_parse(fo.gtid_binlog_pos, &ob) < 0 || gtid_pos_parse(fork, &fk) < 0) {
		*err = xasprintf("cannot parse GTID positions '%s' / '%s'", fo.gtid_binlog_pos, fork);
		rc = LB_FAILED;
		goto out;
	}
	n = gtid_find_errant(&ob, &fk, &e);
	char *why = NULL;
	if (n) {
		char *list = describe_errant(e, n);
		errant_is_heartbeat(p, old, fork, e, n, list, discard, &why);
		free(list);
		if (*discard) {
			*fork_out = xstrdup(fork);
			n = 0;
		}
	}
	if (n) {
		*found = true;
		log_info("errant transactions kept: %s", why ? why : "not inspected");
		char *list = describe_errant(e, n);
		char *e2 = NULL;
		char *file = save_errant(p, old, fork, &e2);
		if (file)
			*err = xasprintf("%s has errant transactions the new primary lacks: %s; saved "
					 "to %s; apply what matters on the new primary by hand, then "
					 "'lifeboat db rejoin --force' re-clones it (old primary left "
					 "fenced, read-only)",
					 old->name, list, file);
		else
			*err = xasprintf("%s has errant transactions the new primary lacks: %s; they "
					 "could NOT be saved (%s); old primary left fenced, nothing "
					 "else changed",
					 old->name, list, e2);
		free(e2);
		free(file);
		free(list);
		rc = LB_FAILED;
	}
	free(why);
	free(e);
	gtid_pos_free(&ob);
	gtid_pos_free(&fk);
out:
	db_facts_free(&fo);
	db_facts_free(&fn);
	return rc;
}

/* STATE_DIR/rejoin-reset names the old primary and the fork while its binlog
 * is being reset: a rejoin killed between RESET MASTER and setting the GTID
 * state (an empty binlog: its position would be lost) finishes it next run. */
static char *reset_record_path(const struct config *cfg)
{
	return xasprintf("%s/rejoin-reset", cfg->state_dir);
}

/* The fork of an unfinished reset of this old primary, or NULL. The record
 * counts only while the binlog is as a reset leaves it (empty, or at the
 * fork): anything else means it is stale. */
static char *unfinished_reset(struct db_pair *p, struct db_conn *old)
{
	char *path = reset_record_path(p->cfg);
	char *text = read_file(path, NULL);
	char *fork = NULL, *pos = NULL, *e = NULL;
	char *nl = text ? strchr(text, '\n') : NULL;
	if (!nl) {
		free(text);
		free(path);
		return NULL;
	}
	*nl = '\0';
	char *f = nl + 1;
	f[strcspn(f, "\n")] = '\0';
	if (strcmp(text, old->name) == 0 &&
	    !db_value(old, "SELECT @@global.gtid_binlog_pos", &pos, &e) && pos &&
	    (!*pos || strcmp(pos, f) == 0))
		fork = xstrdup(f);
	else if (strcmp(text, old->name) == 0)
		log_warn("%s: stale (binlog of %s at '%s', not reset to %s): ignored", path,
			 old->name, pos ? pos : "?", f);
	if (!fork)
		unlink(path);
	free(e);
	free(pos);
	free(text);
	free(path);
	return fork;
}

/* Drop the discarded heartbeat transactions from the old primary's history:
 * its binlog restarts at the fork point, so the new primary's transactions
 * with the same sequence numbers follow in order (gtid_strict_mode would stop
 * them with 1950 otherwise, anchors pitfall 5). The extract saved them. */
static int forget_errant(struct db_pair *p, struct db_conn *old, const char *fork, char **err)
{
	char *path = reset_record_path(p->cfg);
	char *record = xasprintf("%s\n%s\n", old->name, fork);
	int rc = LB_OK;
	if (write_file_atomic(path, record, strlen(record)) < 0) {
		*err = xasprintf("cannot write %s: %s; the old primary's binlog is not reset, "
				 "nothing changed",
				 path, strerror(errno));
		rc = LB_FAILED;
	}
	char *q = db_quote(old, fork);
	if (!rc)
		rc = db_exec(old, "RESET MASTER", err);
	if (!rc)
		failpoint("rejoin-reset");
	if (!rc)
		rc = db_execf(old, err, "SET GLOBAL gtid_binlog_state = %s", q);
	if (!rc)
		rc = db_execf(old, err, "SET GLOBAL gtid_slave_pos = %s", q);
	if (!rc) {
		unlink(path);
		log_info("%s: binlog reset to the fork point %s", old->name, fork);
	}
	free(q);
	free(record);
	free(path);
	return rc;
}

static int check_roles(struct db_conn *old, struct db_conn *neu, uint64_t *new_epoch, char **err)
{
	struct db_facts fo, fn;
	int rc = db_facts_read(old, &fo, err);
	if (rc)
		return rc;
	rc = db_facts_read(neu, &fn, err);
	if (rc) {
		db_facts_free(&fo);
		return rc;
	}
	if (fn.read_only || fn.replica) {
		*err = xasprintf("%s is not a promoted primary (read_only %s, %s): run 'lifeboat db "
				 "promote' first; nothing changed",
				 neu->name, fn.read_only ? "ON" : "OFF",
				 fn.replica ? "replicating" : "not replicating");
		rc = LB_FAILED;
	} else if (fo.epoch > fn.epoch) {
		*err = xasprintf("%s holds role epoch %llu, higher than %s's %llu: it is the newer "
				 "primary; the roles in the configuration are the other way round; "
				 "nothing changed",
				 old->name, (unsigned long long)fo.epoch, neu->name,
				 (unsigned long long)fn.epoch);
		rc = LB_FAILED;
	}
	*new_epoch = fn.epoch;
	db_facts_free(&fo);
	db_facts_free(&fn);
	return rc;
}

int db_rejoin(struct db_pair *p, bool force, uint64_t *new_epoch, char **err)
{
	struct db_conn old, neu;
	memset(&neu, 0, sizeof(neu));
	/* The old primary will replicate from the new one: a copy goes there. */
	if (residency_check_db_copy(p->cfg, &p->primary, err) < 0)
		return LB_USAGE;
	/* Config roles: "primary" is the old primary, "standby" the promoted one. */
	int rc = db_pair_connect(p, &p->primary, &old, err);
	if (!rc)
		rc = db_pair_connect(p, &p->standby, &neu, err);
	if (!rc)
		rc = db_check_server_ids(&old, &neu, err);
	if (!rc)
		rc = check_roles(&old, &neu, new_epoch, err);
	unsigned killed = 0;
	if (!rc)
		rc = db_fence_conn(&old, &killed, err);
	bool errant = false, discard = false;
	char *fork = rc ? NULL : unfinished_reset(p, &old);
	if (fork) {
		log_info("%s: finishing the binlog reset to %s an interrupted rejoin began",
			 old.name, fork);
		discard = true;
	} else if (!rc) {
		rc = check_errant(p, &old, &neu, &errant, &discard, &fork, err);
	}
	if (rc && errant && force) {
		log_warn("%s", *err);
		free(*err);
		*err = NULL;
		db_close(&old);
		db_close(&neu);
		free(fork);
		log_info("rejoin --force: re-cloning the old primary from the new one");
		struct db_clone_opts o = {.method = DB_CLONE_DUMP, .force = true};
		return db_clone(p, &p->standby, &p->primary, &o, err);
	}
	if (!rc)
		rc = db_ensure_repl_user(p, &neu, err);
	if (!rc)
		rc = db_exec(&old, old.flavor->stop_replica, err);
	if (!rc)
		rc = db_exec(&old, old.flavor->reset_replica_all, err);
	if (!rc && discard)
		rc = forget_errant(p, &old, fork, err);
	free(fork);
	if (!rc)
		rc = db_start_replication(p, &old, &p->standby, true, err);
	char *pos = NULL;
	if (!rc)
		rc = db_value(&neu, "SELECT @@global.gtid_binlog_pos", &pos, err);
	if (!rc)
		rc = db_wait_replica(&old, pos, p->cfg->db.promote_timeout, err);
	free(pos);
	if (!rc)
		rc = db_semi_sync_setup(p, &neu, &old, err);
	if (!rc)
		rc = db_persist_read_only(p->cfg, &p->primary, true, *new_epoch, err);
	if (!rc)
		log_info("rejoined: %s replicates from %s with GTID", old.name, neu.name);
	db_close(&old);
	db_close(&neu);
	return rc;
}
