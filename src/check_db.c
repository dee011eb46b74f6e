/* check_db: the [database] rules of `lifeboat check`: what the origin
 * article asks of a primary/standby pair (server_id, log_bin, sync_binlog,
 * innodb_flush_log_at_trx_commit, read_only on the standby, replication
 * running with GTID, lag) and what a careful DBA adds (binlog format, GTID
 * strict mode, the replication user's and lifeboat's own privileges, clocks,
 * the I/O scheduler under the datadir, room for a clone). Only SELECT and
 * SHOW statements: check never changes a server. */
#include "check.h"
#include "check_sys.h"
#include "db_ops.h"
#include "privileges.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct srv {
	const char *role; /* the role it plays now: "primary" / "standby" */
	const struct db_server *conf;
	struct db_conn conn;
	struct db_facts f;
	bool up;
};

struct dbx {
	const struct config *cfg;
	struct check_report *r;
	struct db_pair pair;
	struct srv s[2]; /* [0] primary, [1] standby, as they are now */
};

/* "db.primary.sync_binlog" */
static char *rule(const struct srv *s, const char *what)
{
	return xasprintf("db.%s.%s", s->role, what);
}

static void add_srv(struct dbx *x, const struct srv *s, const char *what, enum check_level lvl,
		    const char *fix, const char *msg)
{
	char *name = rule(s, what);
	check_add(x->r, name, lvl, fix, "%s: %s", s->conn.name, msg);
	free(name);
}

/* @@global.NAME as a string; NULL with *err when the server has no such
 * variable or the query fails. */
static char *global_var(struct srv *s, const char *name, char **err)
{
	char *sql = xasprintf("SELECT @@global.%s", name);
	char *v = NULL;
	if (db_value(&s->conn, sql, &v, err) == 0 && !v)
		v = xstrdup("");
	free(sql);
	return v;
}

/* A variable that must have one value; lvl when it has another. */
static void expect_var(struct dbx *x, struct srv *s, const char *var, const char *want,
		       enum check_level lvl, const char *fix)
{
	if (!s->up)
		return;
	char *err = NULL;
	char *v = global_var(s, var, &err);
	char *msg;
	if (!v) {
		msg = xasprintf("cannot read @@%s: %s", var, err);
		lvl = CHECK_WARN;
	} else if (strcasecmp(v, want) == 0) {
		msg = xasprintf("%s = %s", var, v);
		lvl = CHECK_PASS;
	} else {
		msg = xasprintf("%s = %s, not %s", var, v, want);
	}
	add_srv(x, s, var, lvl, fix, msg);
	free(msg);
	free(v);
	free(err);
}

/* ---- connection and roles ---- */

static void connect_one(struct dbx *x, struct srv *s)
{
	char *err = NULL;
	int rc = db_pair_connect(&x->pair, s->conf, &s->conn, &err);
	if (!rc)
		rc = db_facts_read(&s->conn, &s->f, &err);
	s->up = rc == 0;
	char *name = xasprintf("db.%s.connect", s->conf->role);
	if (s->up)
		check_add(x->r, name, CHECK_PASS, NULL, "%s: %s, server_id %lld", s->conn.name,
			  s->f.version, s->f.server_id);
	else
		check_add(x->r, name, CHECK_FAIL,
			  "start the server, or fix [database] and the lifeboat account",
			  "%s", err);
	free(name);
	free(err);
}

/* After a failover the configuration still names the original roles
 * (docs/db.md): when the configured standby is the writable one and the
 * configured primary replicates, check them as they are. */
static void settle_roles(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	if (!(p->up && s->up && p->f.replica && !s->f.replica && !s->f.read_only))
		return;
	struct srv tmp = *p;
	*p = *s;
	*s = tmp;
	p->role = "primary";
	s->role = "standby";
	check_add(x->r, "db.roles", CHECK_PASS, NULL,
		  "%s is the primary now and %s replicates from it (after a failover or "
		  "switchover); rules apply to the roles as they are",
		  p->conn.name, s->conn.name);
}

/* ---- the pair ---- */

static void rule_server_id(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	const char *fix = "give each server a unique, non-zero server_id in its my.cnf and "
			  "restart it";
	for (int i = 0; i < 2; i++) {
		if (x->s[i].up && x->s[i].f.server_id == 0) {
			check_add(x->r, "db.server_id", CHECK_FAIL, fix,
				  "%s has server_id 0 (unset): it cannot replicate",
				  x->s[i].conn.name);
			return;
		}
	}
	if (!p->up || !s->up)
		return;
	if (p->f.server_id == s->f.server_id)
		check_add(x->r, "db.server_id", CHECK_FAIL, fix, "%s and %s both have server_id %lld",
			  p->conn.name, s->conn.name, p->f.server_id);
	else
		check_add(x->r, "db.server_id", CHECK_PASS, NULL, "unique: %lld and %lld",
			  p->f.server_id, s->f.server_id);
}

static void rule_read_only(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	if (s->up) {
		if (s->f.read_only)
			add_srv(x, s, "read_only", CHECK_PASS, NULL, "read_only = ON");
		else
			add_srv(x, s, "read_only", CHECK_FAIL,
				"SET GLOBAL read_only=ON on the standby, and read_only = ON in its "
				"my.cnf so a restart keeps it",
				"read_only = OFF: applications (or a stray client) can write on the "
				"standby and break replication");
	}
	if (p->up && p->f.read_only)
		add_srv(x, p, "read_only", CHECK_WARN,
			"if it is not fenced on purpose: run 'lifeboat db writable' on its node "
			"(the sync daemon does it there when it starts: writes go on only on the "
			"node with the primary role and the highest epoch)",
			"read_only = ON: applications cannot write");
}

static void rule_replication(struct dbx *x)
{
	struct srv *s = &x->s[1];
	if (!s->up)
		return;
	const struct db_facts *f = &s->f;
	char *msg = NULL;
	const char *fix = NULL;
	if (!f->replica) {
		msg = xstrdup("does not replicate (SHOW SLAVE STATUS is empty)");
		fix = "seed it and start replication: lifeboat db clone";
	} else if (f->sql_errno) {
		msg = xasprintf("SQL thread stopped with error %lld: %s", f->sql_errno, f->sql_error);
		fix = "fix the cause and START SLAVE, or re-seed: lifeboat db clone --force";
	} else if (f->io_errno) {
		msg = xasprintf("IO thread error %lld: %s", f->io_errno, f->io_error);
		fix = "check that the primary is up and the replication user and password";
	} else if (strcmp(f->io_running, "Yes") != 0 || strcmp(f->sql_running, "Yes") != 0) {
		msg = xasprintf("replication threads not running (IO %s, SQL %s)", f->io_running,
				f->sql_running);
		fix = "START SLAVE on the standby (or lifeboat db clone)";
	}
	if (msg) {
		add_srv(x, s, "replication", CHECK_FAIL, fix, msg);
		free(msg);
		return;
	}
	const struct srv *p = &x->s[0];
	msg = xasprintf("IO and SQL threads running, from %s:%lld", f->source_host, f->source_port);
	bool same = (long long)p->conf->port == f->source_port &&
		    strcmp(p->conf->host, f->source_host) == 0;
	add_srv(x, s, "replication", same ? CHECK_PASS : CHECK_WARN,
		"CHANGE MASTER TO the configured primary, or fix [database] primary",
		same ? msg : "replicates from another server than the configured primary");
	free(msg);
}

static bool replicating(const struct srv *s)
{
	return s->up && s->f.replica && !s->f.sql_errno && !s->f.io_errno &&
	       strcmp(s->f.io_running, "Yes") == 0 && strcmp(s->f.sql_running, "Yes") == 0;
}

/* The standby's age: the heartbeat row (true lag) when it is written, else
 * Seconds_Behind_Master. A stale heartbeat with identical GTID positions
 * means the writer is not running, not that the standby is behind. */
static void rule_lag(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	if (!replicating(s))
		return;
	double max = x->cfg->db.max_lag;
	const char *fix = "find what slows the standby (disk, long transactions, network; "
			  "lifeboat db status), or raise [database] max_lag";
	bool caught_up = p->up && strcmp(p->f.gtid_binlog_pos, s->f.gtid_slave_pos) == 0;
	char *msg;
	enum check_level lvl;
	if (s->f.has_heartbeat && (s->f.heartbeat_age <= max || !caught_up)) {
		lvl = max > 0 && s->f.heartbeat_age > max ? CHECK_FAIL : CHECK_PASS;
		msg = xasprintf("lag %.1f s by the heartbeat (max_lag %.0f s)", s->f.heartbeat_age,
				max);
	} else if (s->f.seconds_behind < 0) {
		lvl = CHECK_WARN;
		msg = xstrdup("Seconds_Behind_Master is NULL: lag unknown");
	} else {
		lvl = max > 0 && s->f.seconds_behind > max ? CHECK_FAIL : CHECK_PASS;
		msg = xasprintf("lag %lld s by Seconds_Behind_Master (max_lag %.0f s)%s",
				s->f.seconds_behind, max,
				s->f.has_heartbeat ? "; the heartbeat row is stale but the GTID "
						     "positions match: is the heartbeat writer "
						     "('lifeboat sync' or 'lifeboat db heartbeat') "
						     "running?"
						   : "; no heartbeat row, so idle lag is not measured");
	}
	add_srv(x, s, "lag", lvl, fix, msg);
	free(msg);
}

static void rule_gtid(struct dbx *x)
{
	struct srv *s = &x->s[1];
	if (!replicating(s))
		return;
	struct db_row row;
	bool found = false;
	char *err = NULL;
	if (db_row(&s->conn, s->conn.flavor->show_replica_status, &row, &found, &err) || !found) {
		add_srv(x, s, "gtid", CHECK_WARN, "check SHOW SLAVE STATUS by hand",
			err ? err : "SHOW SLAVE STATUS returned no row");
		free(err);
		return;
	}
	const char *using = db_row_get(&row, "Using_Gtid");
	if (!using)
		using = db_row_get(&row, "Auto_Position"); /* MySQL: 1 with GTID */
	bool on = using && strcasecmp(using, "No") != 0 && strcmp(using, "0") != 0;
	char *msg = xasprintf("Using_Gtid = %s", using ? using : "(unknown)");
	add_srv(x, s, "gtid", on ? CHECK_PASS : CHECK_FAIL,
		"STOP SLAVE; CHANGE MASTER TO MASTER_USE_GTID=slave_pos; START SLAVE (failover "
		"and rejoin need GTID positions)",
		msg);
	free(msg);
	db_row_free(&row);
}

/* [database] semi_sync = yes promises that an acknowledged commit is on the
 * standby: the primary must have it enabled and active, the standby enabled. */
static void rule_semi_sync(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	if (!x->cfg->db.semi_sync)
		return;
	const char *fix = "SET GLOBAL rpl_semi_sync_master_enabled=ON on the primary and "
			  "rpl_semi_sync_slave_enabled=ON on the standby (then STOP/START SLAVE "
			  "IO_THREAD), and both in my.cnf; 'lifeboat db clone' sets it up";
	if (p->up) {
		if (!p->f.semi_master_enabled)
			add_srv(x, p, "semi_sync", CHECK_FAIL, fix,
				"semi_sync = yes but rpl_semi_sync_master_enabled is OFF: commits "
				"do not wait for the standby");
		else if (!p->f.semi_master_on)
			add_srv(x, p, "semi_sync", CHECK_WARN,
				"check the standby's IO thread and rpl_semi_sync_slave_enabled",
				"semi-sync enabled but fell back to async (no standby acknowledges)");
		else
			add_srv(x, p, "semi_sync", CHECK_PASS, NULL, "semi-sync active");
	}
	if (s->up)
		add_srv(x, s, "semi_sync", s->f.semi_slave_enabled ? CHECK_PASS : CHECK_FAIL, fix,
			s->f.semi_slave_enabled ? "rpl_semi_sync_slave_enabled = ON"
						: "rpl_semi_sync_slave_enabled is OFF");
}

/* ---- settings of each server ---- */

static void rule_settings(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	const char *fix_bin = "log_bin = binlog and log_slave_updates = ON in my.cnf, restart";
	const char *fix_sync = "SET GLOBAL sync_binlog=1 and sync_binlog = 1 in my.cnf (else a "
			       "crash loses committed transactions from the binlog)";
	const char *fix_flush = "SET GLOBAL innodb_flush_log_at_trx_commit=1 and the same in my.cnf "
				"(else a crash loses committed transactions)";
	const char *fix_fmt = "binlog_format = ROW in my.cnf (statement replication can diverge)";
	const char *fix_strict = "gtid_strict_mode = ON in my.cnf and SET GLOBAL gtid_strict_mode=ON "
				 "(out-of-order GTIDs then stop replication instead of diverging)";
	expect_var(x, p, "log_bin", "1", CHECK_FAIL, fix_bin);
	expect_var(x, p, "sync_binlog", "1", CHECK_FAIL, fix_sync);
	expect_var(x, p, "innodb_flush_log_at_trx_commit", "1", CHECK_FAIL, fix_flush);
	expect_var(x, p, "binlog_format", "ROW", CHECK_WARN, fix_fmt);
	/* The standby becomes the primary: the same durability, a binlog the
	 * old primary can rejoin from. */
	expect_var(x, s, "log_bin", "1", CHECK_WARN, fix_bin);
	expect_var(x, s, "log_slave_updates", "1", CHECK_WARN, fix_bin);
	expect_var(x, s, "sync_binlog", "1", CHECK_WARN, fix_sync);
	expect_var(x, s, "innodb_flush_log_at_trx_commit", "1", CHECK_WARN, fix_flush);
	if (p->conn.flavor && p->conn.flavor->gtid_domain_style) {
		expect_var(x, p, "gtid_strict_mode", "1", CHECK_WARN, fix_strict);
		expect_var(x, s, "gtid_strict_mode", "1", CHECK_WARN, fix_strict);
	}
}

/* ---- privileges ---- */

static int grant_lines(struct srv *s, const char *sql, char ***lines, size_t *n, char **err)
{
	struct db_row *rows;
	size_t nr;
	int rc = db_rows(&s->conn, sql, &rows, &nr, err);
	if (rc)
		return rc;
	*lines = xcalloc(nr + 1, sizeof(char *));
	for (size_t i = 0; i < nr; i++)
		(*lines)[i] = xstrdup(rows[i].n && rows[i].values[0] ? rows[i].values[0] : "");
	*n = nr;
	db_rows_free(rows, nr);
	return 0;
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* The replication user exists on s with REPLICATION SLAVE (every host it
 * is defined for). *unreadable: the lifeboat account cannot read
 * mysql.user there. */
static char *repl_user_problem(struct srv *s, const char *user, bool *unreadable)
{
	char *q = db_quote(&s->conn, user);
	char *sql = xasprintf("SELECT Host FROM mysql.user WHERE User = %s", q);
	struct db_row *rows;
	size_t n;
	char *err = NULL;
	*unreadable = db_rows(&s->conn, sql, &rows, &n, &err) != 0;
	free(sql);
	free(err);
	if (*unreadable) {
		free(q);
		return NULL;
	}
	char *problem = n ? NULL : xasprintf("replication user '%s' does not exist", user);
	static const char *const want[] = {"REPLICATION SLAVE"};
	for (size_t i = 0; i < n && !problem; i++) {
		char *qh = db_quote(&s->conn, rows[i].values[0] ? rows[i].values[0] : "");
		char *show = xasprintf("SHOW GRANTS FOR %s@%s", q, qh);
		char **lines;
		size_t nl;
		err = NULL;
		if (grant_lines(s, show, &lines, &nl, &err) == 0) {
			char *missing = priv_lines_missing(lines, nl, want, 1);
			if (missing)
				problem = xasprintf("'%s'@'%s' lacks %s", user,
						    rows[i].values[0] ? rows[i].values[0] : "", missing);
			free(missing);
			free_lines(lines, nl);
		}
		free(err);
		free(show);
		free(qh);
	}
	db_rows_free(rows, n);
	free(q);
	return problem;
}

static void rule_repl_user(struct dbx *x)
{
	const char *user = x->cfg->db.replication_user;
	for (int i = 0; i < 2; i++) {
		struct srv *s = &x->s[i];
		if (!s->up)
			continue;
		if (!user) {
			add_srv(x, s, "replication_user", CHECK_WARN,
				"set [database] replication_user (clone and rejoin need it)",
				"no replication_user in [database]");
			return;
		}
		bool unreadable = false;
		char *problem = repl_user_problem(s, user, &unreadable);
		/* The standby needs it too: after a failover the old primary
		 * replicates from it. One GRANT, from the privileges table. */
		enum check_level bad = i == 0 ? CHECK_FAIL : CHECK_WARN;
		char *grant = priv_grant_sql("replication", true, user);
		char *fix = strstr(problem ? problem : "", "does not exist")
				    ? xasprintf("on the primary (it replicates): CREATE USER '%s'@'%%' "
						"IDENTIFIED BY '...'; %s",
						user, grant)
				    : xasprintf("on the primary (it replicates): %s", grant);
		if (unreadable)
			add_srv(x, s, "replication_user", CHECK_WARN,
				"GRANT SELECT ON *.* to the lifeboat account (it is in the minimal "
				"list: 'lifeboat db privileges'), or check the account by hand",
				"cannot read mysql.user to check the replication user");
		else if (problem)
			add_srv(x, s, "replication_user", bad, fix, problem);
		else
			add_srv(x, s, "replication_user", CHECK_PASS, NULL,
				"has REPLICATION SLAVE");
		free(grant);
		free(fix);
		free(problem);
	}
}

/* What lifeboat's account needs for its day-to-day commands (the table in
 * privileges.c): less fails, more (ALL PRIVILEGES) warns. */
static void rule_account(struct dbx *x)
{
	for (int i = 0; i < 2; i++) {
		struct srv *s = &x->s[i];
		if (!s->up || !s->conn.flavor->gtid_domain_style)
			continue;
		char *err = NULL;
		if (priv_check(&s->conn, NULL, PRIV_BOTH, &err) < 0) {
			char *fix = priv_grant_sql(NULL, false, x->cfg->db.user);
			add_srv(x, s, "account", CHECK_FAIL, fix, err);
			free(fix);
			free(err);
			continue;
		}
		bool all = false;
		char *extra = priv_excess(&s->conn, &all, &err);
		if (err) {
			add_srv(x, s, "account", CHECK_WARN, "check SHOW GRANTS by hand", err);
			free(err);
		} else if (extra) {
			char *fix = priv_grant_sql(NULL, false, x->cfg->db.user);
			char *msg = xasprintf(
				"the lifeboat account holds more than failover, fence, promote and "
				"rejoin need (%s): whoever reads its password file can do that too. "
				"Only 'db clone' needs ALL PRIVILEGES; give it for the clone and then "
				"keep the minimal grant",
				all ? "ALL PRIVILEGES" : extra);
			add_srv(x, s, "account", CHECK_WARN, fix, msg);
			free(fix);
			free(msg);
		} else {
			add_srv(x, s, "account", CHECK_PASS, NULL,
				"the lifeboat account has exactly what fence, promote and rejoin need");
		}
		free(extra);
	}
}

/* Accounts that write through read_only (READ_ONLY ADMIN: root and every
 * ALL PRIVILEGES account in 10.11) and what that means for a failover. */
static void rule_read_only_writers(struct dbx *x)
{
	for (int i = 0; i < 2; i++) {
		struct srv *s = &x->s[i];
		if (!s->up || !s->conn.flavor->gtid_domain_style)
			continue;
		struct strv w;
		strv_init(&w);
		char *err = NULL;
		if (db_read_only_writers(&s->conn, &w, &err)) {
			free(err);
			strv_free(&w);
			continue;
		}
		struct buf b;
		buf_init(&b);
		for (size_t k = 0; k < w.len; k++)
			buf_addf(&b, "%s%s", k ? ", " : "", w.items[k]);
		size_t n = w.len;
		strv_free(&w);
		if (!n) {
			add_srv(x, s, "read_only_writers", CHECK_PASS, NULL,
				"no account but lifeboat's writes through read_only");
		} else {
			char *msg = xasprintf(
				"%zu account(s) or role(s) write through read_only (READ_ONLY ADMIN, "
				"part of ALL PRIVILEGES): %s. A fence revokes it from them (not replicated, given "
				"back by the next promote of this server) and kills their sessions; "
				"while this server is down or unreachable nothing can, so after a "
				"failover it may take their writes when it comes back until it is "
				"fenced or rejoined",
				n, b.data);
			add_srv(x, s, "read_only_writers", CHECK_WARN,
				"run the application with an account without READ_ONLY ADMIN (GRANT "
				"... ON app.*), and set [failover] fence = hook:... (STONITH) for a dead "
				"primary",
				msg);
			free(msg);
		}
		buf_free(&b);
	}
}

/* ---- time, disks ---- */

static void rule_clock(struct dbx *x, struct srv *s)
{
	if (!s->up)
		return;
	char *v = NULL, *err = NULL;
	double t0 = now_wall();
	int rc = db_value(&s->conn, "SELECT UNIX_TIMESTAMP(NOW(6))", &v, &err);
	double t1 = now_wall();
	if (rc || !v) {
		add_srv(x, s, "clock", CHECK_WARN, "compare the clocks by hand",
			err ? err : "no time");
		free(err);
		free(v);
		return;
	}
	double skew;
	enum check_level lvl = check_clock_verdict(t0, strtod(v, NULL), t1, CHECK_MAX_CLOCK_SKEW,
						   &skew);
	free(v);
	char *msg = xasprintf("clock %+.3f s from this machine's (round trip %.3f s)", skew,
			      t1 - t0);
	add_srv(x, s, "clock", lvl,
		"run NTP on both machines (systemd-timesyncd or chrony): heartbeat lag and RPO "
		"figures depend on it",
		msg);
	free(msg);
}

/* The server runs on this machine: its datadir can be looked at. */
static bool is_local(const struct config *cfg, const struct db_server *s)
{
	if (s->socket || strcmp(s->host, "localhost") == 0 || strncmp(s->host, "127.", 4) == 0 ||
	    strcmp(s->host, "::1") == 0)
		return true;
	const struct node_conf *me = cfg->node ? config_find_node(cfg, cfg->node) : NULL;
	return (s->node && cfg->node && strcmp(s->node, cfg->node) == 0) ||
	       (me && me->address && strcmp(me->address, s->host) == 0);
}

/* The standby must come back read-only after a restart: read_only = ON in
 * its option files (SPEC; docs/db.md). Seen through the server's own command
 * line and my_print_defaults, so !include and drop-ins count. */
static void rule_read_only_cnf(struct dbx *x)
{
	struct srv *s = &x->s[1];
	if (!s->up)
		return;
	if (!is_local(x->cfg, s->conf)) {
		add_srv(x, s, "read_only_cnf", CHECK_SKIP, NULL,
			"remote server: run 'lifeboat check' on its machine to read its my.cnf");
		return;
	}
	char *pidfile = NULL, *err = NULL;
	struct buf opts;
	buf_init(&opts);
	long pid = 0;
	if (db_value(&s->conn, "SELECT @@pid_file", &pidfile, &err) == 0 && pidfile) {
		size_t len;
		char *text = read_file(pidfile, &len);
		pid = text ? strtol(text, NULL, 10) : 0;
		if (pid <= 0)
			err = xasprintf("cannot read the pid file %s", pidfile);
		free(text);
	}
	const char *fix = "read_only = ON in the standby's my.cnf [mariadbd] section (lifeboat "
			  "turns writes on only on the node it promotes)";
	if (pid > 0 && check_server_options(pid, &opts, &err) == 0) {
		int on = check_option_bool(opts.data, "read_only");
		add_srv(x, s, "read_only_cnf", on == 1 ? CHECK_PASS : CHECK_WARN, fix,
			on == 1 ? "its option files set read_only = ON: a restart comes back "
				  "read-only"
				: "its option files do not set read_only = ON: after a restart it "
				  "takes writes");
	} else {
		char *msg = xasprintf("cannot read its option files: %s",
				      err ? err : "no pid file");
		add_srv(x, s, "read_only_cnf", CHECK_WARN, fix, msg);
		free(msg);
	}
	buf_free(&opts);
	free(pidfile);
	free(err);
}

static void rule_scheduler(struct dbx *x, struct srv *s)
{
	if (!s->up)
		return;
	if (!is_local(x->cfg, s->conf)) {
		add_srv(x, s, "io_scheduler", CHECK_SKIP, NULL,
			"remote server: run 'lifeboat check' on its machine to see its disk");
		return;
	}
	char *dir = NULL, *err = NULL;
	struct check_disk d;
	if (db_value(&s->conn, "SELECT @@datadir", &dir, &err) || !dir ||
	    check_path_disk(dir, &d, &err) < 0) {
		char *msg = xasprintf("cannot tell the I/O scheduler: %s", err ? err : "no datadir");
		add_srv(x, s, "io_scheduler", CHECK_WARN,
			"on the host (not in a VM or container), check /sys/block/DISK/queue/"
			"scheduler is none or mq-deadline",
			msg);
		free(msg);
	} else {
		bool ok = check_scheduler_ok(d.scheduler);
		char *msg = xasprintf("datadir %s on %s: scheduler %s%s", dir, d.name, d.scheduler,
				      d.rotational == 1 ? " (rotating disk)" : "");
		char *fix = xasprintf("echo mq-deadline > /sys/block/%s/queue/scheduler, and a "
				      "udev rule so it survives a reboot",
				      d.name);
		add_srv(x, s, "io_scheduler", ok ? CHECK_PASS : CHECK_WARN, fix, msg);
		free(fix);
		free(msg);
	}
	free(dir);
	free(err);
}

static int data_size(struct srv *s, unsigned long long *bytes, char **err)
{
	long long v = 0;
	int rc = db_long(&s->conn,
			 "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM "
			 "information_schema.TABLES",
			 &v, err);
	*bytes = v > 0 ? (unsigned long long)v : 0;
	return rc ? 1 : 0; /* a size it cannot read: the rule is skipped */
}

/* Free space where the standby's datadir is, if this machine can see it. */
static int standby_space(struct dbx *x, struct srv *s, struct check_space *sp, char **why)
{
	char *dir = NULL;
	if (db_value(&s->conn, "SELECT @@datadir", &dir, why) || !dir)
		return -1;
	int rc = -1;
	const struct node_conf *n = s->conf->node ? config_find_node(x->cfg, s->conf->node) : NULL;
	if (is_local(x->cfg, s->conf)) {
		rc = check_local_space(dir, sp, why);
	} else if (n && n->ssh) {
		struct peer_ssh ssh;
		peer_ssh_of(n, &ssh);
		rc = check_remote_space(&ssh, dir, sp, why);
	} else {
		*why = xstrdup("the standby is remote and not a [node] with ssh");
		rc = 1;
	}
	free(dir);
	return rc;
}

/* A clone copies the primary's data into the standby's datadir; a backup
 * clone empties that datadir first, so its current data counts as free. */
static void rule_clone_space(struct dbx *x)
{
	struct srv *p = &x->s[0], *s = &x->s[1];
	if (!p->up || !s->up)
		return;
	unsigned long long need = 0, have_data = 0;
	char *err = NULL;
	struct check_space sp;
	int rc = data_size(p, &need, &err);
	if (!rc)
		rc = data_size(s, &have_data, &err);
	if (!rc)
		rc = standby_space(x, s, &sp, &err);
	if (rc) {
		add_srv(x, s, "clone_space", rc > 0 ? CHECK_SKIP : CHECK_WARN,
			"check df on the standby's datadir against the primary's data size by hand",
			err ? err : "cannot tell");
		free(err);
		return;
	}
	need += need / 10; /* growth while the copy runs, logs */
	unsigned long long avail = sp.avail_kib * 1024;
	char a[32], n[32];
	check_human_bytes((double)avail, a, sizeof(a));
	check_human_bytes((double)need, n, sizeof(n));
	char *msg = xasprintf("%s free for a clone of %s (primary data + 10%%)", a, n);
	enum check_level lvl = CHECK_PASS;
	if (avail + have_data < need)
		lvl = CHECK_FAIL;
	else if (avail < need)
		lvl = CHECK_WARN; /* only a backup clone, which empties the datadir first */
	add_srv(x, s, "clone_space", lvl,
		"free space on the standby's datadir file system (or grow it) before 'lifeboat db "
		"clone'; a dump clone keeps the old data meanwhile",
		msg);
	free(msg);
}

void check_db(const struct config *cfg, struct check_report *r)
{
	if (!cfg->db.present) {
		check_add(r, "db", CHECK_SKIP, NULL, "no [database] section: database rules skipped");
		return;
	}
	struct dbx x = {.cfg = cfg, .r = r};
	char *err = NULL;
	if (db_pair_init(&x.pair, cfg, false, &err)) {
		check_add(r, "db.config", CHECK_FAIL, "fix the [database] section", "%s", err);
		free(err);
		db_pair_free(&x.pair);
		return;
	}
	/* A server that accepts and then stalls must not hang check: bounded
	 * reads (db_connect doubles this for read and write timeouts). */
	x.pair.primary.connect_timeout = x.pair.standby.connect_timeout = 5;
	x.s[0] = (struct srv){.role = "primary", .conf = &x.pair.primary};
	x.s[1] = (struct srv){.role = "standby", .conf = &x.pair.standby};
	connect_one(&x, &x.s[0]);
	connect_one(&x, &x.s[1]);
	settle_roles(&x);
	rule_server_id(&x);
	rule_settings(&x);
	rule_read_only(&x);
	rule_read_only_cnf(&x);
	rule_replication(&x);
	rule_lag(&x);
	rule_gtid(&x);
	rule_semi_sync(&x);
	rule_repl_user(&x);
	rule_account(&x);
	rule_read_only_writers(&x);
	for (int i = 0; i < 2; i++) {
		rule_clock(&x, &x.s[i]);
		rule_scheduler(&x, &x.s[i]);
	}
	rule_clone_space(&x);
	for (int i = 0; i < 2; i++) {
		db_facts_free(&x.s[i].f);
		if (x.s[i].conn.my || x.s[i].conn.name)
			db_close(&x.s[i].conn);
	}
	db_pair_free(&x.pair);
}
