/* drill_verify: the drill's proofs that both sides hold the same data.
 * Database: every application table (all schemas but the server's own and
 * lifeboat's) has the same row count and CHECKSUM TABLE on the primary and
 * on its replica at one consistent point: the primary's consistent snapshot
 * and the replica stopped at that snapshot's GTID, so the application may
 * keep writing (freeze_at_snapshot).
 * Files: the sync daemons of both nodes have nothing pending and an
 * `rsync -ani --delete` dry run between source and target lists nothing. */
#include "drill.h"
#include "child.h"
#include "ctl.h"
#include "db.h"
#include "db_ops.h"
#include "gtid.h"
#include "log.h"
#include "peer.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CATCH_UP_S 30
#define STARTING_S 10
#define FILES_WAIT_S 30
#define RSYNC_TIMEOUT_MS 120000

/* ------------------------------------------------------------ database */

static char *ident(const char *schema, const char *table)
{
	struct buf b;
	buf_init(&b);
	const char *parts[] = {schema, table};
	for (int i = 0; i < 2; i++) {
		buf_adds(&b, i ? ".`" : "`");
		for (const char *s = parts[i]; *s; s++) {
			if (*s == '`')
				buf_addc(&b, '`');
			buf_addc(&b, *s);
		}
		buf_addc(&b, '`');
	}
	return buf_steal(&b);
}

/* A server as people know it now: its node name, else its host (the
 * connection's name says the role the configuration gave it, which a
 * switchover reversed). */
static const char *where(const struct db_conn *c)
{
	return c->server->node ? c->server->node : c->server->host;
}

/* "ROWS/CHECKSUM" of one table, or NULL with *err. */
static char *table_sum(struct db_conn *c, const char *name, char **err)
{
	char *sql = xasprintf("SELECT COUNT(*) FROM %s", name);
	long long rows = 0;
	int rc = db_long(c, sql, &rows, err);
	free(sql);
	if (rc)
		return NULL;
	sql = xasprintf("CHECKSUM TABLE %s", name);
	struct db_row row = {0};
	bool found = false;
	rc = db_row(c, sql, &row, &found, err);
	free(sql);
	if (rc)
		return NULL;
	const char *sum = found ? db_row_get(&row, "Checksum") : NULL;
	char *out = xasprintf("%lld rows, checksum %s", rows, sum ? sum : "NULL");
	db_row_free(&row);
	return out;
}

static int list_tables(struct db_conn *c, struct db_row **rows, size_t *n, char **err)
{
	return db_rows(c,
		       "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES "
		       "WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'sys', "
		       "'information_schema', 'performance_schema', 'lifeboat') ORDER BY 1, 2",
		       rows, n, err);
}

struct pair_conns {
	struct db_conn primary, replica;
	char *err;
	char *frozen_mark; /* STATE_DIR/drill-frozen: exists while the replica is held */
};

/* Compare one table: the primary reads it in its consistent snapshot, the
 * replica stopped at that snapshot's GTID (freeze_at_snapshot). */
static bool compare_table(struct pair_conns *pc, const char *name, char **detail)
{
	char *r = NULL;
	char *p1 = table_sum(&pc->primary, name, &pc->err);
	bool done = p1 && (r = table_sum(&pc->replica, name, &pc->err));
	bool same = done && strcmp(p1, r) == 0;
	if (!done)
		*detail = xasprintf("%s: %s", name, pc->err ? pc->err : "?");
	else if (!same)
		*detail = xasprintf("%s differs: %s on the primary %s, %s on its replica %s", name,
				    p1, where(&pc->primary), r, where(&pc->replica));
	else
		*detail = xstrdup(p1);
	free(p1);
	free(r);
	return same;
}

/* The GTID position of the primary's consistent snapshot. */
#define SNAPSHOT_GTID                                                                              \
	"SELECT BINLOG_GTID_POS((SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "    \
	"WHERE VARIABLE_NAME = 'BINLOG_SNAPSHOT_FILE'), (SELECT VARIABLE_VALUE FROM "              \
	"information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'BINLOG_SNAPSHOT_POSITION'))"

/* Until the replica stopped exactly at pos (START SLAVE UNTIL reached it),
 * bounded; a SQL error is a failure. */
static int wait_frozen(struct pair_conns *pc, const char *pos)
{
	char *q = db_quote(&pc->replica, pos);
	char *sql = xasprintf("SELECT MASTER_GTID_WAIT(%s, 0.2)", q);
	free(q);
	int64_t deadline = now_ms() + CATCH_UP_S * 1000;
	int rc = -1;
	while (!pc->err) {
		long long r = -1;
		struct db_facts f;
		if (db_long(&pc->replica, sql, &r, &pc->err) ||
		    db_facts_read(&pc->replica, &f, &pc->err))
			break;
		bool stopped = strcmp(f.sql_running, "Yes") != 0;
		if (f.sql_errno)
			pc->err = db_facts_replication_problem(&f);
		db_facts_free(&f);
		if (r == 0 && stopped) {
			rc = 0;
			break;
		}
		if (!pc->err && now_ms() > deadline)
			pc->err = xasprintf("the replica did not reach the primary's snapshot %s "
					    "within %d s",
					    pos, CATCH_UP_S);
	}
	free(sql);
	return rc;
}

/* Replication as the administrator left it is not ours to start; one just
 * started (a switchback, a thawed drill) gets STARTING_S to connect.
 * 0, or -1 with pc->err. */
static int replication_running(struct pair_conns *pc)
{
	int64_t deadline = now_ms() + STARTING_S * 1000;
	for (;;) {
		struct db_facts f;
		if (db_facts_read(&pc->replica, &f, &pc->err))
			return -1;
		bool starting = db_facts_replication_starting(&f) && now_ms() < deadline;
		if (!starting)
			pc->err = f.replica ? db_facts_replication_problem(&f)
					    : xstrdup("the replica does not replicate (no "
						      "replication configured)");
		db_facts_free(&f);
		if (!starting)
			return pc->err ? -1 : 0;
		struct timespec nap = {0, 50 * 1000000L};
		nanosleep(&nap, NULL);
	}
}

/* One consistent point on both sides while the application writes: the
 * replica's SQL thread stops, the primary opens a consistent snapshot, and
 * the replica applies up to exactly that snapshot's GTID and stops there.
 * thaw() undoes both. */
static int freeze_at_snapshot(struct pair_conns *pc, char **pos)
{
	const struct db_flavor *fl = pc->replica.flavor;
	*pos = NULL;
	if (replication_running(pc))
		return -2;
	/* A drill killed from here on leaves the replica's SQL thread stopped:
	 * the mark lets the next drill start it again (drill_thaw_leftover). */
	if (write_file_atomic(pc->frozen_mark, where(&pc->replica), strlen(where(&pc->replica)))) {
		pc->err = xasprintf("cannot write %s: %s", pc->frozen_mark, strerror(errno));
		return -1;
	}
	/* UNTIL master_gtid_pos wants both threads stopped (error 1254). */
	if (db_exec(&pc->replica, fl->stop_replica, &pc->err) ||
	    db_exec(&pc->primary, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		    &pc->err) ||
	    db_exec(&pc->primary, "START TRANSACTION WITH CONSISTENT SNAPSHOT", &pc->err) ||
	    db_value(&pc->primary, SNAPSHOT_GTID, pos, &pc->err))
		return -1;
	if (!*pos || !**pos)
		return 0; /* an empty binlog: nothing to apply up to */
	char *q = db_quote(&pc->replica, *pos);
	int rc = db_execf(&pc->replica, &pc->err, "%s UNTIL master_gtid_pos = %s",
			  fl->start_replica, q);
	free(q);
	rc = rc ? -1 : wait_frozen(pc, *pos);
	failpoint("drill-frozen");
	return rc;
}

static void thaw(struct pair_conns *pc)
{
	char *e = NULL;
	if (pc->primary.my && db_exec(&pc->primary, "COMMIT", &e)) {
		free(e);
		e = NULL;
	}
	/* The SQL thread stopped at the UNTIL point; the IO thread runs. */
	if (pc->replica.my && db_exec(&pc->replica, pc->replica.flavor->stop_replica, &e) == 0 &&
	    db_exec(&pc->replica, pc->replica.flavor->start_replica, &e) == 0) {
		unlink(pc->frozen_mark);
		return;
	}
	if (e) {
		log_warn("drill: could not restart replication on the replica (%s): run START "
			 "SLAVE there",
			 e);
		free(e);
	}
}

static bool compare_lists(struct db_row *a, size_t na, struct db_row *b, size_t nb, char **detail)
{
	for (size_t i = 0; i < na || i < nb; i++) {
		const char *as = i < na ? db_row_get(&a[i], "s") : "-",
			   *at = i < na ? db_row_get(&a[i], "t") : "-";
		const char *bs = i < nb ? db_row_get(&b[i], "s") : "-",
			   *bt = i < nb ? db_row_get(&b[i], "t") : "-";
		if (strcmp(as, bs) != 0 || strcmp(at, bt) != 0) {
			*detail = xasprintf("the tables differ: %s.%s on the primary, %s.%s on the "
					    "replica",
					    as, at, bs, bt);
			return false;
		}
	}
	return true;
}

static bool compare_all(struct pair_conns *pc, struct strv *sums, char **detail)
{
	struct db_row *pt = NULL, *rt = NULL;
	size_t np = 0, nr = 0;
	bool ok = false;
	if (list_tables(&pc->primary, &pt, &np, &pc->err) ||
	    list_tables(&pc->replica, &rt, &nr, &pc->err)) {
		*detail = xasprintf("cannot list the tables: %s", pc->err);
	} else if (compare_lists(pt, np, rt, nr, detail)) {
		char *pos = NULL;
		/* Ctrl-C or a stop while the replica is held waits for the thaw. */
		sigset_t stop, old;
		sigemptyset(&stop);
		sigaddset(&stop, SIGINT);
		sigaddset(&stop, SIGTERM);
		sigaddset(&stop, SIGHUP);
		sigprocmask(SIG_BLOCK, &stop, &old);
		int frozen = freeze_at_snapshot(pc, &pos);
		ok = frozen == 0;
		if (!ok)
			*detail = xasprintf("cannot compare at a consistent point: %s",
					    pc->err ? pc->err : "?");
		for (size_t i = 0; ok && i < np; i++) {
			char *name = ident(db_row_get(&pt[i], "s"), db_row_get(&pt[i], "t"));
			char *one = NULL;
			ok = compare_table(pc, name, &one);
			if (!ok)
				*detail = one;
			else if (sums)
				strv_pushf(sums, "%s\t%s", name, one);
			if (ok)
				free(one);
			free(name);
		}
		if (ok)
			*detail = xasprintf("%zu table(s): row counts and checksums equal on the "
					    "primary %s and its replica %s at GTID %s",
					    np, where(&pc->primary), where(&pc->replica),
					    pos && *pos ? pos : "-");
		if (frozen != -2)
			thaw(pc);
		sigprocmask(SIG_SETMASK, &old, NULL);
		free(pos);
	}
	db_rows_free(pt, np);
	db_rows_free(rt, nr);
	return ok;
}

static char *frozen_mark_path(const struct config *cfg)
{
	return xasprintf("%s/drill-frozen", cfg->state_dir);
}

/* Which of the pair is writable now: that one is the primary. */
static int connect_roles(struct db_pair *p, struct pair_conns *pc)
{
	struct db_conn a = {0}, b = {0};
	long long ro_a = 1, ro_b = 1;
	if (db_pair_connect(p, &p->primary, &a, &pc->err) ||
	    db_pair_connect(p, &p->standby, &b, &pc->err) ||
	    db_long(&a, "SELECT @@read_only", &ro_a, &pc->err) ||
	    db_long(&b, "SELECT @@read_only", &ro_b, &pc->err)) {
		db_close(&a);
		db_close(&b);
		return -1;
	}
	if (ro_a == ro_b) {
		pc->err = xasprintf("%s on both servers: which is the primary?",
				    ro_a ? "read_only=ON" : "read_only=OFF");
		db_close(&a);
		db_close(&b);
		return -1;
	}
	pc->primary = ro_a ? b : a;
	pc->replica = ro_a ? a : b;
	return 0;
}

bool drill_verify_db(const struct config *cfg, struct strv *sums, char **detail)
{
	struct db_pair p;
	memset(&p, 0, sizeof(p));
	struct pair_conns pc;
	memset(&pc, 0, sizeof(pc));
	bool ok = false;
	pc.frozen_mark = frozen_mark_path(cfg);
	if (db_pair_init(&p, cfg, false, &pc.err) || connect_roles(&p, &pc))
		*detail = xstrdup(pc.err ? pc.err : "cannot connect");
	else
		ok = compare_all(&pc, sums, detail);
	db_close(&pc.primary);
	db_close(&pc.replica);
	db_pair_free(&p);
	free(pc.err);
	free(pc.frozen_mark);
	return ok;
}

/* A drill killed while it held the replica at its snapshot (the mark says
 * which server) left its SQL thread stopped: start it, unless it stopped
 * on an error (that is for a person, and status says so). */
void drill_thaw_leftover(const struct config *cfg)
{
	char *mark = frozen_mark_path(cfg);
	char *held = read_file(mark, NULL);
	struct db_pair p;
	memset(&p, 0, sizeof(p));
	struct pair_conns pc;
	memset(&pc, 0, sizeof(pc));
	struct db_facts f;
	if (!held) {
		free(mark);
		return;
	}
	if (db_pair_init(&p, cfg, false, &pc.err) || connect_roles(&p, &pc) ||
	    db_facts_read(&pc.replica, &f, &pc.err)) {
		log_warn("drill: an interrupted drill held replication on %s (%s): %s; run START "
			 "SLAVE there if it is still stopped",
			 held, mark, pc.err ? pc.err : "?");
	} else {
		bool stopped = f.replica && strcmp(f.sql_running, "Yes") != 0 && !f.sql_errno;
		if (stopped && db_exec(&pc.replica, pc.replica.flavor->start_replica, &pc.err) == 0)
			log_warn("drill: an interrupted drill had stopped replication on %s: "
				 "started again",
				 where(&pc.replica));
		else if (pc.err)
			log_warn("drill: cannot restart replication on %s: %s", where(&pc.replica),
				 pc.err);
		db_facts_free(&f);
		if (!pc.err)
			unlink(mark);
	}
	db_close(&pc.primary);
	db_close(&pc.replica);
	db_pair_free(&p);
	free(pc.err);
	free(held);
	free(mark);
}

/* The writable server of the pair, the other one possibly dead. */
static int connect_writable(struct db_pair *p, struct db_conn *c, char **err)
{
	struct db_server *s[] = {&p->standby, &p->primary};
	for (int i = 0; i < 2; i++) {
		long long ro = 1;
		char *e = NULL;
		s[i]->connect_timeout = 2;
		if (!db_pair_connect(p, s[i], c, &e) && !db_long(c, "SELECT @@read_only", &ro, &e) &&
		    ro == 0)
			return 0;
		db_close(c);
		memset(c, 0, sizeof(*c));
		free(e);
	}
	*err = xstrdup("no writable server in the [database] pair");
	return -1;
}

/* NULL: every table of the snapshot has its figures on c. */
static char *snapshot_difference(struct db_conn *c, const struct strv *sums, char **err)
{
	for (size_t i = 0; i < sums->len; i++) {
		const char *tab = strchr(sums->items[i], '\t');
		char *name = xstrndup(sums->items[i], (size_t)(tab - sums->items[i]));
		char *now = table_sum(c, name, err);
		char *diff = NULL;
		if (!now)
			diff = xasprintf("%s: %s", name, *err);
		else if (strcmp(now, tab + 1) != 0)
			diff = xasprintf("%s differs: %s before, %s on %s now", name, tab + 1, now,
					 where(c));
		free(now);
		free(name);
		if (diff)
			return diff;
	}
	return NULL;
}

bool drill_verify_db_snapshot(const struct config *cfg, const struct strv *sums, char **detail)
{
	struct db_pair p;
	memset(&p, 0, sizeof(p));
	struct db_conn c;
	memset(&c, 0, sizeof(c));
	char *err = NULL;
	bool ok = false;
	if (db_pair_init(&p, cfg, false, &err) || connect_writable(&p, &c, &err)) {
		*detail = xstrdup(err ? err : "cannot connect");
	} else {
		*detail = snapshot_difference(&c, sums, &err);
		ok = !*detail;
		if (ok)
			*detail = xasprintf("%s is writable; %zu table(s): row counts and checksums "
					    "as on the primary before the crash",
					    where(&c), sums->len);
	}
	db_close(&c);
	db_pair_free(&p);
	free(err);
	return ok;
}

/* ------------------------------------------------------------ files */

static void push_ssh(const struct peer_ssh *ps, struct strv *v)
{
	static const char *const opts[] = {"ConnectTimeout=10", NULL};
	struct strv w;
	strv_init(&w);
	peer_ssh_words(ps, opts, &w);
	strv_push(v, "-e");
	peer_rsync_e(&w, v);
	strv_free(&w);
}

/* rsync -ani --delete from the source to the target, seen from this node:
 * the target here (NODE:PATH naming this node) means the source is on the
 * other node. */
static void dry_run_argv(const struct config *cfg, const struct sync_conf *s, struct strv *v)
{
	strv_push_split(v, "rsync -ani --delete --omit-dir-times");
	strv_push(v, "--filter=- /.lifeboat-history/"); /* the target's own history */
	for (size_t i = 0; i < s->excludes.len; i++)
		strv_pushf(v, "--exclude=%s", s->excludes.items[i]);
	if (s->exclude_from)
		strv_pushf(v, "--exclude-from=%s", s->exclude_from);
	struct peer_ssh ps;
	bool here = !s->target_host;
	bool src_remote = here && s->target_node && peer_ssh_of(peer_node(cfg), &ps);
	if (!src_remote)
		ps = (struct peer_ssh){.dest = s->target_host,
				       .port = s->ssh_port,
				       .identity = s->ssh_identity,
				       .options = s->ssh_options};
	if (s->target_host || src_remote)
		push_ssh(&ps, v);
	strv_push(v, "--");
	char *remote = NULL;
	if (src_remote)
		remote = config_rsync_remote(ps.dest, s->source);
	else if (s->target_host)
		remote = config_rsync_remote(s->target_host, s->target_path);
	if (src_remote)
		strv_push(v, remote);
	else
		strv_pushf(v, "%s/", s->source);
	if (s->target_host)
		strv_push(v, remote);
	else
		strv_pushf(v, "%s/", s->target_path);
	free(remote);
}

/* NULL: equal; else what differs (or why rsync could not tell). */
static char *tree_difference(const struct config *cfg, const struct sync_conf *s)
{
	struct strv v;
	strv_init(&v);
	dry_run_argv(cfg, s, &v);
	struct run_result r;
	int rc = child_run(v.items, NULL, 0, RSYNC_TIMEOUT_MS, &r);
	char *out = NULL;
	if (rc != 0) {
		out = xasprintf("[sync %s]: rsync dry run failed (exit %d): %s", s->name, rc,
				r.err_tail);
	} else if (r.out.len) {
		size_t n = 0;
		for (size_t i = 0; i < r.out.len; i++)
			n += r.out.data[i] == '\n';
		char *first = xstrndup(r.out.data, strcspn(r.out.data, "\n"));
		out = xasprintf("[sync %s]: %zu difference(s) between %s and its target, first: %s",
				s->name, n, s->source, first);
		free(first);
	}
	run_result_free(&r);
	strv_free(&v);
	return out;
}

static char *all_differences(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		char *d = tree_difference(cfg, &cfg->syncs[i]);
		if (d)
			return d;
	}
	return NULL;
}

/* The flush barrier here (when this node pushes) and on the peer: every
 * change made before is on its target. NULL, or what is not. */
static char *flush_both(const struct config *cfg, const struct strv *peer_argv, bool here)
{
	char *why = NULL;
	if (here && ctl_flush(cfg, NULL, FILES_WAIT_S, &why) < 0) {
		char *m = xasprintf("here: %s", why);
		free(why);
		return m;
	}
	if (ctl_flush_peer(peer_argv, FILES_WAIT_S, &why) < 0)
		return why;
	return NULL;
}

bool drill_verify_files(const struct config *cfg, const struct strv *peer_argv, bool count_here,
			char **detail)
{
	if (!cfg->n_syncs) {
		*detail = xstrdup("no [sync] configured");
		return true;
	}
	/* A difference after a flush was written after it (or lost): the
	 * application may still be writing, so flush and look again. */
	for (int attempt = 1;; attempt++) {
		char *not_flushed = flush_both(cfg, peer_argv, count_here);
		if (not_flushed) {
			*detail = xasprintf("changes not on their target after %d s: %s",
					    FILES_WAIT_S, not_flushed);
			free(not_flushed);
			return false;
		}
		char *diff = all_differences(cfg);
		if (!diff)
			break;
		if (attempt == 3) {
			*detail = diff;
			return false;
		}
		free(diff);
	}
	*detail = xasprintf("%zu sync(s): flushed here%s and on the peer, trees equal (rsync dry "
			    "run)",
			    cfg->n_syncs, count_here ? "" : " (receiving)");
	return true;
}

/* ------------------------------------------------------------ gtid */

