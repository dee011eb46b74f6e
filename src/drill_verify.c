/* drill_verify: the drill's proofs that both sides hold the same data.
 * Database: every application table (all schemas but the server's own and
 * lifeboat's) has the same row count and CHECKSUM TABLE on the primary and
 * on its replica once the replica applied the primary's position; a table
 * that changed on the primary while it was compared is compared again.
 * Files: the sync daemons of both nodes have nothing pending and an
 * `rsync -ani --delete` dry run between source and target lists nothing. */
#include "drill.h"
#include "child.h"
#include "commands.h"
#include "db.h"
#include "db_ops.h"
#include "gtid.h"
#include "peer.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CATCH_UP_S 30
#define TABLE_TRIES 5
#define FILES_WAIT_S 30
#define RSYNC_TIMEOUT_MS 120000
#define PEER_TIMEOUT_MS 15000

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

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
};

/* Compare one table at a consistent point: the primary's figures before and
 * after the replica's must agree, else it changed meanwhile: again. */
static bool compare_table(struct pair_conns *pc, const char *name, char **detail)
{
	for (int i = 0; i < TABLE_TRIES; i++) {
		char *gtid = NULL, *p2 = NULL, *r = NULL;
		char *p1 = table_sum(&pc->primary, name, &pc->err);
		bool done = p1 && !db_value(&pc->primary, "SELECT @@gtid_binlog_pos", &gtid, &pc->err) &&
			    !db_wait_replica(&pc->replica, gtid, CATCH_UP_S, &pc->err) &&
			    (r = table_sum(&pc->replica, name, &pc->err)) &&
			    (p2 = table_sum(&pc->primary, name, &pc->err));
		bool stable = done && strcmp(p1, p2) == 0;
		bool same = stable && strcmp(p1, r) == 0;
		if (stable && !same)
			*detail = xasprintf("%s differs: %s on the primary %s, %s on its replica %s",
					    name, p1, where(&pc->primary), r, where(&pc->replica));
		else if (same)
			*detail = xstrdup(p1);
		free(gtid);
		free(p1);
		free(p2);
		free(r);
		if (!done) {
			*detail = xasprintf("%s: %s", name, pc->err ? pc->err : "?");
			return false;
		}
		if (stable)
			return same;
		pause_ms(200 * (i + 1));
	}
	*detail = xasprintf("%s kept changing on the primary while it was compared (%d tries)",
			    name, TABLE_TRIES);
	return false;
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
		ok = true;
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
					    "primary %s and its replica %s",
					    np, where(&pc->primary), where(&pc->replica));
	}
	db_rows_free(pt, np);
	db_rows_free(rt, nr);
	return ok;
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
	if (db_pair_init(&p, cfg, false, &pc.err) || connect_roles(&p, &pc))
		*detail = xstrdup(pc.err ? pc.err : "cannot connect");
	else
		ok = compare_all(&pc, sums, detail);
	db_close(&pc.primary);
	db_close(&pc.replica);
	db_pair_free(&p);
	free(pc.err);
	return ok;
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

static long pending_of(const char *text)
{
	json_object *root = text ? json_tokener_parse(text) : NULL, *syncs, *x;
	long n = -1;
	if (root && json_object_object_get_ex(root, "syncs", &syncs)) {
		n = 0;
		json_object_object_foreach(syncs, name, one)
		{
			(void)name;
			if (json_object_object_get_ex(one, "pending", &x))
				n += (long)json_object_get_int64(x);
		}
	}
	if (root)
		json_object_put(root);
	return n;
}

static long local_pending(const struct config *cfg)
{
	char *path = xasprintf("%s/status.json", cfg->state_dir);
	char *text = read_file(path, NULL);
	long n = pending_of(text);
	free(text);
	free(path);
	return n;
}

static long peer_pending(const struct strv *peer_argv)
{
	if (!peer_argv || !peer_argv->len)
		return -1;
	struct strv v;
	strv_init(&v);
	for (size_t i = 0; i < peer_argv->len; i++)
		strv_push(&v, peer_argv->items[i]);
	strv_push(&v, "status");
	strv_push(&v, "--json");
	struct run_result r;
	child_run(v.items, NULL, 0, PEER_TIMEOUT_MS, &r);
	long n = r.exit_code == 0 ? pending_of(r.out.data) : -1;
	run_result_free(&r);
	strv_free(&v);
	return n;
}

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

/* -2: not counted; -1: unknown (no daemon status). */
static void count_word(long n, char *out, size_t len)
{
	if (n < 0)
		snprintf(out, len, "%s", n == -2 ? "not counted" : "unknown");
	else
		snprintf(out, len, "%ld", n);
}

static char *files_verdict(const struct config *cfg, long here, long there, char *diff, bool ok)
{
	char h[24], p[24], *m;
	count_word(here, h, sizeof(h));
	count_word(there, p, sizeof(p));
	if (ok)
		m = xasprintf("%zu sync(s): trees equal (rsync dry run); changes pending here: %s, "
			      "on the peer: %s",
			      cfg->n_syncs, h, p);
	else if (diff)
		m = xasprintf("%s; changes pending here: %s, on the peer: %s", diff, h, p);
	else
		m = xasprintf("trees equal, but changes still pending after %d s: here %s, on the "
			      "peer %s",
			      FILES_WAIT_S, h, p);
	free(diff);
	return m;
}

bool drill_verify_files(const struct config *cfg, const struct strv *peer_argv, bool count_here,
			char **detail)
{
	if (!cfg->n_syncs) {
		*detail = xstrdup("no [sync] configured");
		return true;
	}
	time_t deadline = time(NULL) + FILES_WAIT_S;
	for (;;) {
		long here = count_here ? local_pending(cfg) : -2, there = peer_pending(peer_argv);
		char *diff = all_differences(cfg);
		bool ok = here <= 0 && there <= 0 && !diff;
		if (ok || time(NULL) >= deadline) {
			*detail = files_verdict(cfg, here, there, diff, ok);
			return ok;
		}
		free(diff);
		pause_ms(500);
	}
}

/* ------------------------------------------------------------ gtid */

