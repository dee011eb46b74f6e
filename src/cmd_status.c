/* lifeboat status [--json]: the state of every sync, asked of the running
 * sync daemons on their control sockets (ctl.h), never read from a file a
 * daemon may have left behind, as one screen a sysadmin can read at 3 a.m. */
#include "cluster.h"
#include "commands.h"
#include "ctl.h"
#include "json.h"
#include "db_ops.h"
#include "epoch.h"
#include "journal.h"
#include "log.h"
#include "residency.h"
#include "role.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A daemon answers status from its loop at once; a stuck one is reported. */
#define STATUS_TIMEOUT_MS 5000

struct style {
	const char *bold, *red, *yellow, *green, *off;
};

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static double get_num(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

static void human_bytes(double b, char *out, size_t n)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (b >= 1024 && u < 4)
		b /= 1024, u++;
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static void human_age(double secs, char *out, size_t n)
{
	if (secs < 0)
		secs = 0;
	if (secs < 1)
		snprintf(out, n, "%.0f ms", secs * 1000);
	else if (secs < 120)
		snprintf(out, n, "%.1f s", secs);
	else if (secs < 7200)
		snprintf(out, n, "%.0f min", secs / 60);
	else
		snprintf(out, n, "%.1f h", secs / 3600);
}

static const char *state_colour(const struct style *st, const char *state)
{
	if (!state)
		return st->red;
	if (strcmp(state, "idle") == 0 || strcmp(state, "syncing") == 0)
		return st->green;
	if (strcmp(state, "startup") == 0 || strcmp(state, "retrying") == 0)
		return st->yellow;
	return st->red;
}

/* A standby's sync: which node the files come from, and how fresh they are. */
static void print_receiving(const struct style *st, const char *name, json_object *s,
			    bool stopped)
{
	const char *from = get_str(s, "from");
	const char *dir = get_str(s, "target_path") ? get_str(s, "target_path") : NULL;
	double at = get_num(s, "last_received_unix");
	double age = at > 0 ? now_wall() - at : -1;
	char ago[32];
	if (age >= 0)
		human_age(age, ago, sizeof(ago));
	printf("  %s%-12s%s %s%-9s%s from %s%s%s%s%s\n", st->bold, name, st->off,
	       stopped ? st->red : st->green, "receiving", st->off, from ? from : "the primary",
	       dir ? " into " : "", dir ? dir : "", stopped ? "  (its daemon is not running)" : "",
	       st->off);
	if (age >= 0)
		printf("               last change received %s ago\n", ago);
	else
		printf("               no change received since the daemon started\n");
}

static void print_sync(const struct style *st, const char *name, json_object *s, double now)
{
	if (!s) {
		printf("  %s%-12s%s %s(its daemon is not running)%s\n", st->bold, name, st->off,
		       st->red, st->off);
		return;
	}
	const char *state = get_str(s, "state");
	char rpo[32], ago[32], bytes[32];
	human_age(get_num(s, "oldest_pending_age"), rpo, sizeof(rpo));
	double last = get_num(s, "last_success_unix");
	if (last > 0)
		human_age(now - last, ago, sizeof(ago));
	else
		snprintf(ago, sizeof(ago), "never");
	human_bytes(get_num(s, "bytes_shipped"), bytes, sizeof(bytes));
	const char *direction = get_str(s, "direction");
	if (direction && strcmp(direction, "receiving") == 0) {
		print_receiving(st, name, s, false);
		return;
	}
	printf("  %s%-12s%s %s%-8s%s %s -> %s\n", st->bold, name, st->off, state_colour(st, state),
	       state ? state : "?", st->off, get_str(s, "source") ? get_str(s, "source") : "?",
	       get_str(s, "target") ? get_str(s, "target") : "?");
	printf("               pending %.0f (%.0f in flight, %.0f held open; file RPO %s), last "
	       "success %s%s, shipped %s in %.0f files\n",
	       get_num(s, "pending"), get_num(s, "in_flight"), get_num(s, "held"), rpo, ago,
	       last > 0 ? " ago" : "", bytes, get_num(s, "files_shipped"));
	if (get_str(s, "held_path"))
		printf("               waiting for %s to hold still (changing for %.0f s; never "
		       "shipped torn)\n",
		       get_str(s, "held_path"), get_num(s, "held_age"));
	if (get_num(s, "watches_missed") > 0)
		printf("               %s%.0f directories not watched (inotify limit): periodic full "
		       "passes%s\n",
		       st->yellow, get_num(s, "watches_missed"), st->off);
	const char *err = get_str(s, "last_error");
	if (err && strcmp(state ? state : "", "idle") != 0)
		printf("               %slast error: %s%s\n", st->red, err, st->off);
}

static void print_node(const struct style *st, const struct config *cfg);
static void print_database(const struct style *st, const struct config *cfg);
static void print_last_drill(const struct config *cfg);

static int show(const struct config *cfg, json_object *live, bool colour)
{
	struct style st = {"", "", "", "", ""};
	if (colour)
		st = (struct style){"\033[1m", "\033[31m", "\033[33m", "\033[32m", "\033[0m"};
	print_node(&st, cfg);
	print_last_drill(cfg);
	print_database(&st, cfg);
	int daemons = ctl_daemons(live);
	if (daemons)
		printf("%slifeboat sync%s: %srunning%s (%d daemon%s)\n", st.bold, st.off, st.green,
		       st.off, daemons, daemons == 1 ? "" : "s");
	else
		printf("%slifeboat sync%s: %sNOT RUNNING%s (no daemon answers on %s/sync*.sock)\n",
		       st.bold, st.off, st.red, st.off, cfg->state_dir);
	/* A daemon that did not answer (hung, or its socket not ours to use). */
	json_object *errors = json_object_object_get(live, "errors");
	for (size_t i = 0; errors && i < json_object_array_length(errors); i++)
		printf("  %s%s%s\n", st.red,
		       json_object_get_string(json_object_array_get_idx(errors, i)), st.off);
	json_object *syncs = json_object_object_get(live, "syncs"), *one;
	double now = now_wall();
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const char *name = cfg->syncs[i].name;
		print_sync(&st, name, json_object_object_get_ex(syncs, name, &one) ? one : NULL, now);
	}
	return daemons && json_object_get_boolean(json_object_object_get(live, "ok")) ? EXIT_OK
										 : EXIT_FAILED;
}

/* --json: the shape status.json has, from the live daemons; a configured
 * sync no daemon runs is listed with "running": false; with [cluster], a
 * "cluster" member (cluster.c). */
static int show_json(const struct config *cfg, json_object *live)
{
	json_object *root = json_object_new_object(), *syncs = json_object_new_object(), *one;
	json_object *live_syncs = json_object_object_get(live, "syncs");
	int daemons = ctl_daemons(live);
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const char *name = cfg->syncs[i].name;
		if (json_object_object_get_ex(live_syncs, name, &one)) {
			json_object_object_add(syncs, name, json_object_get(one));
		} else {
			one = json_object_new_object();
			json_object_object_add(one, "running", json_object_new_boolean(0));
			json_object_object_add(syncs, name, one);
		}
	}
	double now = now_wall();
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "running", json_object_new_boolean(daemons > 0));
	json_object_object_add(root, "daemons", json_object_new_int(daemons));
	json_object_object_add(root, "node", json_string_or_null(cfg->node));
	json_object_object_add(root, "updated", json_time_new(now));
	json_object_object_add(root, "updated_unix", json_seconds_new(now));
	json_object_object_add(root, "syncs", syncs);
	/* [cluster]: the agent's view too; the agent may run alone here. */
	if (cfg->cluster.present)
		json_object_object_add(root, "cluster", cluster_status_json(cfg));
	printf("%s\n", json_text(root));
	json_object_put(root);
	return daemons || cfg->cluster.present ? EXIT_OK : EXIT_FAILED;
}

/* The newest failover or switchover journal: the live one if it has
 * records, else the last archived one. Caller frees. */
static char *latest_journal(const char *state_dir)
{
	char *live = xasprintf("%s/failover.journal", state_dir);
	struct stat st;
	if (stat(live, &st) == 0 && st.st_size > 0) {
		free(live);
		return xstrdup("failover.journal");
	}
	free(live);
	DIR *d = opendir(state_dir);
	if (!d)
		return NULL;
	char *best = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		/* Archived names end in a UTC stamp, so the greatest is the newest. */
		if (strncmp(de->d_name, "failover.journal.", 17) == 0 &&
		    (!best || strcmp(de->d_name, best) > 0)) {
			free(best);
			best = xstrdup(de->d_name);
		}
	}
	closedir(d);
	return best;
}

static void print_node(const struct style *st, const struct config *cfg)
{
	uint64_t epoch = 0;
	char *err = NULL;
	if (epoch_read(cfg->state_dir, &epoch, &err) < 0) {
		printf("%snode%s: epoch unreadable: %s\n", st->bold, st->off, err);
		free(err);
	}
	enum node_role r = role_current(cfg);
	printf("%snode%s %s: %s%s%s, role epoch %llu\n", st->bold, st->off,
	       cfg->node ? cfg->node : "(unnamed)", r == ROLE_PRIMARY ? st->green : st->yellow,
	       role_name(r), st->off, (unsigned long long)epoch);
	char *residency = residency_describe(cfg);
	if (residency)
		printf("data residency: %s\n", residency);
	free(residency);
	char *name = latest_journal(cfg->state_dir);
	if (!name)
		return;
	struct journal j;
	if (journal_open(&j, cfg->state_dir, name, &err) == 0) {
		const char *op = journal_get(&j, "operation");
		double invoked = journal_get_num(&j, "invoked", j.begun);
		char when[32] = "?";
		time_t t = (time_t)j.begun;
		struct tm tm;
		if (j.begun > 0 && localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (j.finished > 0)
			printf("last %s: %s, RTO %.2f s (from the command)\n", op ? op : "failover",
			       when, j.finished - invoked);
		else
			printf("%slast %s: %s, NOT FINISHED: run it again to complete%s\n", st->red,
			       op ? op : "failover", when, st->off);
		journal_close(&j);
	} else {
		free(err);
	}
	free(name);
}

/* One line per database server: what it is now, its epoch, its lag.
 * Short timeouts: status must answer at 3 a.m. even with a server gone. */
static void print_database(const struct style *st, const struct config *cfg)
{
	if (!cfg->db.present)
		return;
	struct db_pair p;
	char *err = NULL;
	if (db_pair_init(&p, cfg, false, &err) != LB_OK) {
		printf("%sdatabase%s: %s\n", st->bold, st->off, err);
		free(err);
		return;
	}
	struct db_server *servers[] = {&p.primary, &p.standby};
	for (size_t i = 0; i < 2; i++) {
		struct db_server *s = servers[i];
		s->connect_timeout = 2;
		struct db_conn c;
		struct db_facts f;
		memset(&f, 0, sizeof(f));
		printf("%sdatabase%s %-8s %s:%u: ", st->bold, st->off, s->role, s->host, s->port);
		if (db_pair_connect(&p, s, &c, &err) != LB_OK) {
			printf("%sunreachable%s (%s)\n", st->red, st->off, err);
			free(err);
			err = NULL;
			db_close(&c);
			continue;
		}
		if (db_facts_read(&c, &f, &err) != LB_OK) {
			printf("%s%s%s\n", st->red, err, st->off);
			free(err);
			err = NULL;
		} else if (f.replica) {
			bool ok = strcmp(f.io_running, "Yes") == 0 && strcmp(f.sql_running, "Yes") == 0;
			printf("replica, epoch %llu, threads IO %s%s%s SQL %s%s%s", (unsigned long long)f.epoch,
			       ok ? st->green : st->red, f.io_running, st->off, ok ? st->green : st->red,
			       f.sql_running, st->off);
			if (f.has_heartbeat)
				printf(", lag %.2f s (heartbeat)\n", f.heartbeat_age);
			else if (f.seconds_behind >= 0)
				printf(", Seconds_Behind_Master %lld\n", f.seconds_behind);
			else
				printf(", lag unknown\n");
			if (f.sql_errno || f.io_errno)
				printf("  %slast error: %s%s\n", st->red,
				       f.sql_errno ? f.sql_error : f.io_error, st->off);
		} else {
			printf("%s, epoch %llu\n", f.read_only ? "read-only, not replicating" : "writable",
			       (unsigned long long)f.epoch);
		}
		db_facts_free(&f);
		db_close(&c);
	}
	db_pair_free(&p);
}

/* The newest drill record (STATE_DIR/drill-STAMP.json). */
static void print_last_drill(const struct config *cfg)
{
	DIR *d = opendir(cfg->state_dir);
	if (!d)
		return;
	char *best = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "drill-", 6) == 0 && n > 5 &&
		    strcmp(de->d_name + n - 5, ".json") == 0 && (!best || strcmp(de->d_name, best) > 0)) {
			free(best);
			best = xstrdup(de->d_name);
		}
	}
	closedir(d);
	if (!best)
		return;
	char *path = xasprintf("%s/%s", cfg->state_dir, best);
	char *text = read_file(path, NULL);
	json_object *o = text ? json_tokener_parse(text) : NULL;
	if (o) {
		printf("last drill: %s, %s, RTO %.2f s, write block %.2f s\n",
		       get_str(o, "started") ? get_str(o, "started") : "?",
		       json_object_get_boolean(json_object_object_get(o, "ok")) ? "PASS" : "FAIL",
		       get_num(o, "rto_s"), get_num(o, "write_block_s"));
		json_object_put(o);
	}
	free(text);
	free(path);
	free(best);
}

int cmd_status(const struct cli *cli, int argc, char **argv)
{
	bool json;
	if (cli_parse_json_only("status", argc, argv, &json) != EXIT_OK)
		return EXIT_USAGE;
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	json_object *req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("status"));
	json_object *live = ctl_call_all(cfg.state_dir, req, STATUS_TIMEOUT_MS);
	json_object_put(req);
	bool colour = isatty(1) && !getenv("NO_COLOR");
	if (json)
		rc = show_json(&cfg, live);
	else if (cfg.cluster.present && !ctl_daemons(live))
		; /* The agent alone runs here: its cluster view is the status. */
	else
		rc = show(&cfg, live, colour);
	if (cfg.cluster.present && !json)
		cluster_print_status(&cfg, colour);
	json_object_put(live);
	config_free(&cfg);
	return rc;
}
