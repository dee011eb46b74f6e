/* lifeboat db status|clone|promote|fence|rejoin|heartbeat|writable: the command line
 * of the database operations (db_ops.h). Parses arguments, reports the one
 * error message, prints status as text or JSON. */
#include "commands.h"
#include "failover.h"
#include "db_ops.h"
#include "epoch.h"
#include "json.h"
#include "privileges.h"
#include "log.h"
#include "usage.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define add(o, k, v) json_object_object_add((o), (k), (v))

/* A missing value is written as "" here (the JSON has always said so). */
static json_object *str_or_empty(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static void add_replica(json_object *o, const struct db_facts *f)
{
	add(o, "io_running", str_or_empty(f->io_running));
	add(o, "sql_running", str_or_empty(f->sql_running));
	add(o, "last_io_errno", json_object_new_int64(f->io_errno));
	add(o, "last_io_error", str_or_empty(f->io_error));
	add(o, "last_sql_errno", json_object_new_int64(f->sql_errno));
	add(o, "last_sql_error", str_or_empty(f->sql_error));
	add(o, "seconds_behind_master",
	    f->seconds_behind >= 0 ? json_object_new_int64(f->seconds_behind) : NULL);
	add(o, "gtid_io_pos", str_or_empty(f->gtid_io_pos));
	add(o, "source", str_or_empty(f->source_host));
	add(o, "source_port", json_object_new_int64(f->source_port));
}

static json_object *json_facts(const struct db_server *s, const struct db_facts *f)
{
	json_object *o = json_object_new_object();
	add(o, "role", str_or_empty(s->role));
	add(o, "host", str_or_empty(s->host));
	add(o, "port", json_object_new_int64(s->port));
	add(o, "reachable", json_bool_new(f->reachable));
	if (!f->reachable) {
		add(o, "error", str_or_empty(f->error));
		return o;
	}
	add(o, "version", str_or_empty(f->version));
	add(o, "server_id", json_object_new_int64(f->server_id));
	add(o, "read_only", json_bool_new(f->read_only));
	add(o, "gtid_binlog_pos", str_or_empty(f->gtid_binlog_pos));
	add(o, "gtid_slave_pos", str_or_empty(f->gtid_slave_pos));
	add(o, "gtid_current_pos", str_or_empty(f->gtid_current_pos));
	add(o, "replica", json_bool_new(f->replica));
	if (f->replica)
		add_replica(o, f);
	if (f->has_heartbeat) {
		add(o, "heartbeat_age", json_seconds_new(f->heartbeat_age));
		add(o, "heartbeat_server_id", json_object_new_int64(f->heartbeat_server_id));
	} else {
		add(o, "heartbeat_age", NULL);
	}
	json_object *semi = json_object_new_object();
	add(semi, "master_enabled", json_bool_new(f->semi_master_enabled));
	add(semi, "master_active", json_bool_new(f->semi_master_on));
	add(semi, "slave_enabled", json_bool_new(f->semi_slave_enabled));
	add(semi, "slave_active", json_bool_new(f->semi_slave_on));
	add(o, "semi_sync", semi);
	add(o, "epoch", json_object_new_uint64(f->epoch));
	return o;
}

/* none_writable: no heartbeat row is then expected (the writer writes only
 * where read_only is OFF), and not a sign that the writer is missing. */
static void print_facts(const struct db_conn *c, const struct db_facts *f, bool none_writable)
{
	if (!f->reachable) {
		printf("%s: unreachable: %s\n", c->name, f->error);
		return;
	}
	printf("%s: %s, server_id %lld, read_only %s, epoch %llu\n", c->name,
	       f->replica ? "replica" : (f->read_only ? "read-only, not replicating" : "writable"),
	       f->server_id, f->read_only ? "ON" : "OFF", (unsigned long long)f->epoch);
	printf("  gtid binlog %s, slave %s, current %s\n", *f->gtid_binlog_pos ? f->gtid_binlog_pos : "-",
	       *f->gtid_slave_pos ? f->gtid_slave_pos : "-",
	       *f->gtid_current_pos ? f->gtid_current_pos : "-");
	if (f->replica) {
		printf("  from %s:%lld, IO %s, SQL %s, received %s\n", f->source_host,
		       f->source_port, f->io_running, f->sql_running,
		       *f->gtid_io_pos ? f->gtid_io_pos : "-");
		if (f->seconds_behind >= 0)
			printf("  Seconds_Behind_Master %lld", f->seconds_behind);
		else
			printf("  Seconds_Behind_Master NULL");
		if (f->has_heartbeat)
			printf(", heartbeat lag %.3f s\n", f->heartbeat_age);
		else if (none_writable)
			printf(", no heartbeat row (no server takes writes, so none is written)\n");
		else
			printf(", no heartbeat row (is 'lifeboat sync' or 'lifeboat db heartbeat' running?)\n");
		if (f->io_errno)
			printf("  last IO error %lld: %s\n", f->io_errno, f->io_error);
		if (f->sql_errno)
			printf("  last SQL error %lld: %s\n", f->sql_errno, f->sql_error);
	}
	if (f->semi_master_enabled || f->semi_slave_enabled)
		printf("  semi-sync: master %s%s, slave %s%s\n",
		       f->semi_master_enabled ? "enabled" : "off",
		       f->semi_master_enabled ? (f->semi_master_on ? " (active)" : " (FELL BACK TO ASYNC)")
					      : "",
		       f->semi_slave_enabled ? "enabled" : "off",
		       f->semi_slave_enabled ? (f->semi_slave_on ? " (active)" : " (inactive)") : "");
}

/* Problems across the pair, one error or warning line each; returns the
 * exit status they call for. */
static int report_problems(const struct db_pair *p, struct db_conn conns[2],
			   const struct db_facts facts[2])
{
	int rc = EXIT_OK;
	if (facts[0].reachable && facts[1].reachable && facts[0].server_id == facts[1].server_id) {
		log_error("%s and %s both have server_id %lld: give each a unique server_id in its "
			  "my.cnf",
			  conns[0].name, conns[1].name, facts[0].server_id);
		rc = EXIT_FAILED;
	}
	for (int i = 0; i < 2; i++) {
		const struct db_facts *f = &facts[i];
		if (!f->reachable)
			continue;
		char *problem = db_facts_replication_problem(f);
		if (problem) {
			log_error("replication on %s is broken: %s", conns[i].name, problem);
			free(problem);
			rc = EXIT_FAILED;
		} else if (!f->replica && f->read_only) {
			/* Neither primary nor standby: nothing keeps it current. */
			log_error("%s is read-only and replicates from nobody: seed it with 'lifeboat "
				  "db clone' (a standby) or 'lifeboat db rejoin' (an old primary)",
				  conns[i].name);
			rc = EXIT_FAILED;
		}
		if (f->semi_master_enabled && !f->semi_master_on && !f->read_only)
			log_warn("semi-sync on %s has fallen back to async: commits are not "
				 "confirmed by the standby; check the standby's IO thread",
				 conns[i].name);
		if (f->replica && p->cfg->db.max_lag > 0 && f->has_heartbeat &&
		    f->heartbeat_age > p->cfg->db.max_lag)
			log_warn("%s lags %.1f s behind by the heartbeat (max_lag %.0f s; or the "
				 "heartbeat writer is not running)",
				 conns[i].name, f->heartbeat_age, p->cfg->db.max_lag);
	}
	return rc;
}

static const char *server_label(const struct db_server *s)
{
	return s->node ? s->node : s->host;
}

/* The pair as a whole: one server takes writes, the other follows it. */
static int report_pair(struct db_conn conns[2], const struct db_server *servers[2],
		       const struct db_facts facts[2])
{
	if (!facts[0].reachable || !facts[1].reachable)
		return EXIT_OK;
	if (facts[0].read_only && facts[1].read_only) {
		int newer = facts[1].epoch > facts[0].epoch ? 1 : 0;
		log_error("no server takes writes (read_only = ON on both): run 'lifeboat db "
			  "writable' on the node holding the primary role (%s by the epochs; "
			  "'lifeboat sync' does it when it starts there)",
			  server_label(servers[newer]));
		return EXIT_FAILED;
	}
	for (int i = 0; i < 2; i++) {
		const struct db_facts *f = &facts[i], *other = &facts[1 - i];
		if (f->read_only && !f->replica && !other->read_only) {
			log_error("%s is read-only and does not replicate from %s (epoch %llu): no "
				  "copy of the new writes; run 'lifeboat db rejoin' to make it follow (or 'lifeboat "
				  "db clone' for a standby never seeded)",
				  conns[i].name, server_label(servers[1 - i]),
				  (unsigned long long)other->epoch);
			return EXIT_FAILED;
		}
	}
	return EXIT_OK;
}

static void print_json(const struct db_pair *p, const struct db_server *servers[2],
		       const struct db_facts facts[2], int rc)
{
	json_object *o = json_object_new_object();
	json_object *list = json_object_new_array();
	for (int i = 0; i < 2; i++)
		json_object_array_add(list, json_facts(servers[i], &facts[i]));
	add(o, "servers", list);
	uint64_t e = 0;
	char *err = NULL;
	if (epoch_read(p->cfg->state_dir, &e, &err) < 0)
		free(err);
	add(o, "state_dir_epoch", json_object_new_uint64(e));
	add(o, "ok", json_bool_new(rc == 0));
	struct buf b;
	buf_init(&b);
	json_emit(&b, o);
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

/* Read both servers, report problems, print; exit 1 if anything is wrong. */
static int db_status(struct db_pair *p, bool json)
{
	const struct db_server *servers[2] = {&p->primary, &p->standby};
	struct db_conn conns[2];
	struct db_facts facts[2];
	int rc = EXIT_OK;
	for (int i = 0; i < 2; i++) {
		char *err = NULL;
		memset(&facts[i], 0, sizeof(facts[i]));
		int r = db_pair_connect(p, servers[i], &conns[i], &err);
		if (!r)
			r = db_facts_read(&conns[i], &facts[i], &err);
		if (r) {
			facts[i].reachable = false;
			facts[i].error = err;
			log_error("%s", err);
			r = cli_exit_status(r);
			rc = r > rc ? r : rc;
		}
	}
	int problems = report_problems(p, conns, facts);
	rc = problems > rc ? problems : rc;
	problems = report_pair(conns, servers, facts);
	rc = problems > rc ? problems : rc;
	bool none_writable = facts[0].reachable && facts[1].reachable && facts[0].read_only &&
			     facts[1].read_only;
	if (json) {
		print_json(p, servers, facts, rc);
	} else {
		for (int i = 0; i < 2; i++)
			print_facts(&conns[i], &facts[i], none_writable);
	}
	for (int i = 0; i < 2; i++) {
		db_facts_free(&facts[i]);
		db_close(&conns[i]);
	}
	return rc;
}

static volatile sig_atomic_t stop_heartbeat;

static void on_stop(int sig)
{
	(void)sig;
	stop_heartbeat = 1;
}

static int db_heartbeat_foreground(const struct config *cfg)
{
	char *err = NULL;
	int rc;
	struct db_heartbeat *hb = db_heartbeat_new(cfg, &err, &rc);
	if (!hb) {
		log_error("%s", err);
		free(err);
		return cli_exit_status(rc);
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	log_info("heartbeat: writing lifeboat.heartbeat every second until SIGTERM");
	/* Started by a sync daemon: end with it, even if it was SIGKILLed and
	 * could not stop us (we would be re-parented). */
	const char *sup = getenv("LIFEBOAT_SUPERVISOR_PID");
	long supervisor = sup ? atol(sup) : 0;
	while (!stop_heartbeat) {
		if (supervisor > 0 && getppid() != (pid_t)supervisor)
			break;
		int64_t next = now_ms() + 1000;
		db_heartbeat_tick(hb);
		int64_t left;
		while (!stop_heartbeat && (left = next - now_ms()) > 0) {
			struct timespec ts = {left / 1000, (left % 1000) * 1000000L};
			nanosleep(&ts, NULL); /* EINTR on SIGTERM ends the wait */
		}
	}
	db_heartbeat_free(hb);
	return EXIT_OK;
}

/* A library result: its reason once, then the exit status it calls for. */
static int report(int rc, char *err)
{
	if (rc && err)
		log_error("%s", err);
	free(err);
	return cli_exit_status(rc);
}

static int run_clone(struct db_pair *p, const struct usage_args *a)
{
	struct db_clone_opts o = {.method = DB_CLONE_BACKUP, .progress = isatty(2)};
	o.force = usage_has(a, "--force");
	const char *m = usage_value(a, "--method"); /* backup|dump: the table checked it */
	if (m && !strcmp(m, "dump"))
		o.method = DB_CLONE_DUMP;
	char *err = NULL;
	p->command = o.method == DB_CLONE_DUMP ? "clone-dump" : "clone-backup";
	int rc = db_clone(p, &p->primary, &p->standby, &o, &err);
	if (!rc)
		log_info("clone done: %s replicates from %s:%u with GTID", p->standby.host,
			 p->primary.host, p->primary.port);
	return report(rc, err);
}

static int run_writable(struct db_pair *p)
{
	char *err = NULL;
	bool changed;
	int rc = db_make_writable(p, &changed, &err);
	return report(rc, err);
}

static int run_simple(struct db_pair *p, const char *sub, const struct usage_args *a)
{
	char *err = NULL;
	int rc;
	if (strcmp(sub, "promote") == 0) {
		struct db_promote_result r;
		rc = db_promote_guarded(p, usage_has(a, "--force"), &r, &err);
		if (!rc)
			log_info("promoted %s:%u: writable after %.0f ms, epoch %llu, forked at %s",
				 p->standby.host, p->standby.port, r.ms_to_writable,
				 (unsigned long long)r.epoch, r.fork_gtid ? r.fork_gtid : "-");
		free(r.fork_gtid);
	} else if (strcmp(sub, "fence") == 0) {
		const char *server = usage_value(a, "--server"); /* primary|standby */
		bool standby = server && !strcmp(server, "standby");
		rc = db_fence(p, standby ? &p->standby : &p->primary, &err);
	} else {
		uint64_t epoch = 0;
		rc = db_rejoin(p, usage_has(a, "--force"), &epoch, &err);
		/* The old primary's files follow the database: role and epoch. */
		if (!rc)
			rc = failover_old_primary_follows(p->cfg, p->primary.node, epoch, &err);
	}
	return report(rc, err);
}

/* The GRANTs of the minimal accounts (from the one table in privileges.c),
 * or that table as docs/db.md shows it. No configuration needed. */
static int run_privileges(const struct usage_args *a)
{
	if (a->n_words > 2)
		return usage_refuse("db privileges", a->words[2]);
	bool markdown = usage_has(a, "--markdown");
	const char *user = a->n_words > 0 ? a->words[0] : "lifeboat";
	const char *repl = a->n_words > 1 ? a->words[1] : "repl";
	if (markdown) {
		priv_markdown(stdout);
		return EXIT_OK;
	}
	char *day = priv_grant_sql(NULL, false, user);
	char *dump = priv_grant_sql("clone-dump", false, user);
	char *r = priv_grant_sql("replication", true, repl);
	printf("-- the lifeboat account, day to day (status, heartbeat, fence, promote, rejoin, "
	       "failover, switchover, drill), on both servers:\n%s\n"
	       "-- for 'db clone --method dump' (the target re-creates every account):\n%s\n"
	       "-- the replication account ('db clone' creates it on the primary):\n%s\n",
	       day, dump, r);
	free(day);
	free(dump);
	free(r);
	return EXIT_OK;
}

/* The subcommand's options by the table, before anything is connected. */
static int parse_sub(int argc, char **argv, const char **sub, struct usage_args *a)
{
	const struct usage_command *db = usage_find_command("db");
	const struct usage_command *sc = argc >= 2 ? usage_most_specific(db, argc, argv) : db;
	if (sc == db) {
		log_error("db: %s%s%s (usage: lifeboat db SUBCOMMAND [OPTIONS]; 'lifeboat db --help' "
			  "lists them)",
			  argc < 2 ? "which subcommand?" : "unknown subcommand '",
			  argc < 2 ? "" : argv[1], argc < 2 ? "" : "'");
		return EXIT_USAGE;
	}
	*sub = argv[1];
	int rc = usage_parse(sc->name, argc - 1, argv + 1, a);
	if (rc == EXIT_OK && strcmp(*sub, "privileges") != 0 && (rc = usage_no_words(a)))
		usage_args_free(a);
	return rc;
}

static int run_sub(const struct cli *cli, const char *sub, const struct usage_args *a)
{
	if (strcmp(sub, "privileges") == 0)
		return run_privileges(a);
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	if (strcmp(sub, "heartbeat") == 0) {
		rc = db_heartbeat_foreground(&cfg);
		config_free(&cfg);
		return rc;
	}
	bool need_repl = strcmp(sub, "clone") == 0 || strcmp(sub, "rejoin") == 0;
	struct db_pair p;
	char *err = NULL;
	rc = db_pair_init(&p, &cfg, need_repl, &err);
	p.command = sub; /* privileges.h names the commands as we do */
	if (rc)
		rc = report(rc, err);
	else if (strcmp(sub, "status") == 0)
		rc = db_status(&p, usage_has(a, "--json"));
	else if (strcmp(sub, "clone") == 0)
		rc = run_clone(&p, a);
	else if (strcmp(sub, "writable") == 0)
		rc = run_writable(&p);
	else
		rc = run_simple(&p, sub, a);
	db_pair_free(&p);
	config_free(&cfg);
	return rc;
}

int cmd_db(const struct cli *cli, int argc, char **argv)
{
	const char *sub = NULL;
	struct usage_args a;
	int rc = parse_sub(argc, argv, &sub, &a);
	if (rc)
		return rc;
	rc = run_sub(cli, sub, &a);
	usage_args_free(&a);
	return rc;
}
