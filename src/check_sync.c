/* check_sync: the [sync] and [node] rules of `lifeboat check`: the sources
 * exist and fit the inotify watch limit, every target is reachable by ssh
 * with key authentication (host key known) and has rsync, the DR side has
 * room for the tree, its clock agrees with ours, and the sync daemons (asked
 * on their control sockets) say the DR side's files are current. Read-only: the probes are
 * `rsync --version`, `date` and `df` over ssh. */
#include "check.h"
#include "history_client.h"
#include "check_sys.h"
#include "ctl.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *rule_name(const char *kind, const char *name, const char *what)
{
	return xasprintf("%s.%s.%s", kind, name, what);
}

static void add_named(struct check_report *r, const char *kind, const char *name,
		      const char *what, enum check_level lvl, const char *fix, const char *msg)
{
	char *n = rule_name(kind, name, what);
	check_add(r, n, lvl, fix, "%s", msg);
	free(n);
}

/* ---- sources and inotify ---- */

static unsigned long long max_user_watches(void)
{
	size_t len;
	char *t = read_file("/proc/sys/fs/inotify/max_user_watches", &len);
	unsigned long long v = t ? strtoull(t, NULL, 10) : 0;
	free(t);
	return v;
}

/* Walk every source; returns the directory total (one watch each). */
static unsigned long long walk_sources(const struct config *cfg, struct check_report *r,
				      struct check_tree *trees)
{
	unsigned long long dirs = 0;
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *sc = &cfg->syncs[i];
		struct stat st;
		char *why = NULL;
		/* Where the tree is on this node: the target path when the target
		 * is this node (created by the first pass when missing). */
		bool here = config_sync_target_here(cfg, sc);
		const char *tree = here ? sc->target_path : sc->source;
		if (here && stat(tree, &st) < 0)
			continue;
		if (stat(tree, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    check_walk_tree(tree, &trees[i], &why) < 0) {
			char *msg = xasprintf("%s %s is not a readable directory",
					      here ? "this node's copy" : "source", tree);
			add_named(r, "sync", sc->name, "source", CHECK_FAIL,
				  "create it or fix 'source' in the configuration", msg);
			free(msg);
			free(why);
			trees[i].complete = false;
			continue;
		}
		dirs += trees[i].dirs;
	}
	return dirs;
}

static void rule_inotify(struct check_report *r, unsigned long long dirs)
{
	unsigned long long max = max_user_watches();
	unsigned long long want = dirs * 2 < 65536 ? 65536 : dirs * 2;
	char *fix = xasprintf("echo fs.inotify.max_user_watches=%llu > /etc/sysctl.d/60-lifeboat.conf "
			      "&& sysctl --system",
			      want);
	if (!max)
		check_add(r, "sync.inotify", CHECK_WARN, fix,
			  "cannot read /proc/sys/fs/inotify/max_user_watches");
	else if (dirs > max)
		check_add(r, "sync.inotify", CHECK_FAIL, fix,
			  "%llu directories to watch but max_user_watches is %llu: changes in the "
			  "rest are only caught by periodic full passes",
			  dirs, max);
	else if (dirs > max / 4 * 3)
		check_add(r, "sync.inotify", CHECK_WARN, fix,
			  "%llu directories use most of max_user_watches %llu (other programs and "
			  "growth need room)",
			  dirs, max);
	else
		check_add(r, "sync.inotify", CHECK_PASS, NULL,
			  "%llu directories to watch, max_user_watches %llu", dirs, max);
	free(fix);
}

/* ---- targets ---- */

static struct peer_ssh sync_ssh(const struct sync_conf *sc)
{
	return (struct peer_ssh){.dest = sc->target_host,
				  .port = sc->ssh_port,
				  .identity = sc->ssh_identity,
				  .options = sc->ssh_options};
}

/* ssh with key authentication, and rsync at the other end, in one login.
 * Returns true when ssh got through. */
static bool rule_ssh_rsync(struct check_report *r, const char *kind, const char *name,
			   const struct peer_ssh *ssh)
{
	static const char *const words[] = {"rsync", "--version"};
	struct run_result res;
	double t0, t1;
	int rc = check_ssh_run(ssh, words, ARRAY_LEN(words), &res, &t0, &t1);
	bool ok = rc != 255 && rc >= 0 && !res.timed_out;
	char *msg;
	if (!ok) {
		char *fix;
		check_ssh_diagnose(ssh, &res, &msg, &fix);
		add_named(r, kind, name, "ssh", CHECK_FAIL, fix, msg);
		free(fix);
	} else {
		msg = xasprintf("ssh %s: key authentication works, host key known (%.2f s)",
				ssh->dest, t1 - t0);
		add_named(r, kind, name, "ssh", CHECK_PASS, NULL, msg);
		free(msg);
		char *host_fix = xasprintf("install rsync on %s (apt-get install rsync)", ssh->dest);
		const char *out = res.out.data ? res.out.data : "";
		if (rc == 0)
			msg = xasprintf("%s: %.*s", ssh->dest, (int)strcspn(out, "\n"), out);
		else
			msg = xasprintf("rsync does not run on %s (exit %d): %s", ssh->dest, rc,
					res.err_tail);
		add_named(r, kind, name, "rsync", rc == 0 ? CHECK_PASS : CHECK_FAIL, host_fix, msg);
		free(host_fix);
	}
	free(msg);
	run_result_free(&res);
	return ok;
}

/* The key this node uses on the peer should only run `lifeboat serve`
 * (restrict,command= in authorized_keys): a shell command that answers
 * means a compromised node owns the peer, history included. */
static void rule_key_restricted(struct check_report *r, const char *kind, const char *name,
				const struct peer_ssh *ssh)
{
	static const char *const words[] = {"echo", "lifeboat-unrestricted-key"};
	struct run_result res;
	double t0, t1;
	int rc = check_ssh_run(ssh, words, ARRAY_LEN(words), &res, &t0, &t1);
	bool shell = rc == 0 && res.out.data && strstr(res.out.data, "lifeboat-unrestricted-key");
	char *msg, *fix = NULL;
	if (shell) {
		msg = xasprintf("the key for %s runs any command there: a compromised node could "
				"delete the other's copy and its history",
				ssh->dest);
		fix = xasprintf("on %s, put restrict,command=\"lifeboat serve\" in front of this "
				"node's key in authorized_keys (docs/serve.md)",
				ssh->dest);
	} else {
		msg = xasprintf("the key for %s only runs lifeboat serve", ssh->dest);
	}
	add_named(r, kind, name, "key", shell ? CHECK_WARN : CHECK_PASS, fix, msg);
	free(msg);
	free(fix);
	run_result_free(&res);
}

static void rule_remote_clock(struct check_report *r, const char *kind, const char *name,
			      const struct peer_ssh *ssh)
{
	static const char *const words[] = {"date", "+%s.%N"};
	struct run_result res;
	double t0, t1;
	int rc = check_ssh_run(ssh, words, ARRAY_LEN(words), &res, &t0, &t1);
	char *end = NULL;
	double remote = rc == 0 && res.out.data ? strtod(res.out.data, &end) : 0;
	const char *fix = "run NTP on both machines (systemd-timesyncd or chrony)";
	if (rc != 0 || !end || end == res.out.data) {
		char *msg = xasprintf("cannot read the clock of %s (exit %d): %s", ssh->dest, rc,
				      res.err_tail);
		add_named(r, kind, name, "clock", CHECK_WARN, "compare the clocks by hand", msg);
		free(msg);
	} else {
		/* date ran somewhere inside the login's round trip: report the
		 * bounds, not a midpoint the login time would skew. */
		enum check_level lvl =
			check_clock_verdict(t0, remote, t1, CHECK_MAX_CLOCK_SKEW, NULL);
		char *msg = xasprintf("%s clock offset between %+.2f and %+.2f s (ssh round trip "
				      "%.2f s, limit %.0f s)",
				      ssh->dest, remote - t1, remote - t0, t1 - t0,
				      CHECK_MAX_CLOCK_SKEW);
		add_named(r, kind, name, "clock", lvl, fix, msg);
		free(msg);
	}
	run_result_free(&res);
}

/* Room on the DR side: a first copy needs the whole tree; after that rsync
 * still writes a temporary copy of the biggest changed file. */
static void rule_history(struct check_report *r, const struct config *cfg,
			 const struct sync_conf *sc, const struct check_space *sp);

static void rule_disk(struct check_report *r, const struct config *cfg,
		      const struct sync_conf *sc, const struct check_tree *t)
{
	struct check_space sp;
	char *why = NULL;
	struct peer_ssh ssh = sync_ssh(sc);
	int rc = sc->target_host ? check_remote_space(&ssh, sc->target_path, &sp, &why)
				 : check_local_space(sc->target_path, &sp, &why);
	if (rc < 0) {
		char *msg = xasprintf("cannot measure free space at %s: %s", sc->target, why);
		add_named(r, "sync", sc->name, "disk", CHECK_WARN, "run df on the target by hand",
			  msg);
		free(msg);
		free(why);
		return;
	}
	unsigned long long need = (sp.exists ? t->largest : t->bytes) + t->bytes / 10;
	unsigned long long avail = sp.avail_kib * 1024;
	char a[32], n[32];
	check_human_bytes((double)avail, a, sizeof(a));
	check_human_bytes((double)need, n, sizeof(n));
	char *msg = xasprintf("%s free at %s, %s needed (%s)", a, sc->target, n,
			      sp.exists ? "largest file + 10% growth" : "first copy + 10%");
	enum check_level lvl = CHECK_PASS;
	if (avail < need)
		lvl = CHECK_FAIL;
	else if (sp.avail_kib < sp.total_kib / 10)
		lvl = CHECK_WARN;
	add_named(r, "sync", sc->name, "disk", lvl,
		  "free space on the target's file system, or grow it", msg);
	free(msg);
	if (sp.exists)
		rule_history(r, cfg, sc, &sp);
}

/* History: the room a week of it needs at the rate versions were kept so
 * far, against the free space (a full target holds the sync, by design). */
static void rule_history(struct check_report *r, const struct config *cfg,
			 const struct sync_conf *sc, const struct check_space *sp)
{
	double keep = history_keep_seconds(sc->keep);
	if (keep <= 0) {
		add_named(r, "sync", sc->name, "history", CHECK_WARN,
			  "set keep = 7d: a deleted or overwritten file can then be restored",
			  "keep = 0: the target keeps no history (rm -rf on the source is final)");
		return;
	}
	uint64_t bytes;
	time_t oldest;
	char *err = NULL;
	if (history_fetch_usage(cfg, sc, &bytes, &oldest, &err) < 0) {
		char *msg = xasprintf("cannot measure the history: %s", err);
		add_named(r, "sync", sc->name, "history", CHECK_WARN, "run lifeboat versions by hand",
			  msg);
		free(msg);
		free(err);
		return;
	}
	double age = oldest ? difftime(time(NULL), oldest) : 0;
	if (age < 3600)
		age = 3600; /* an hour at least: a young history says little */
	double week = (double)bytes * (7 * 86400.0) / age;
	char held[32], need[32], avail[32];
	check_human_bytes((double)bytes, held, sizeof(held));
	check_human_bytes(week, need, sizeof(need));
	check_human_bytes((double)sp->avail_kib * 1024, avail, sizeof(avail));
	char *msg = xasprintf("history holds %s; at the rate seen, a week of it needs %s, %s free",
			      held, need, avail);
	enum check_level lvl = week > (double)sp->avail_kib * 1024 ? CHECK_WARN : CHECK_PASS;
	add_named(r, "sync", sc->name, "history", lvl,
		  "grow the target's file system, or set keep_size (history is never pruned for "
		  "room otherwise: the sync holds)",
		  msg);
	free(msg);
}

static void rule_local_rsync(struct check_report *r)
{
	char *const argv[] = {"rsync", "--version", NULL};
	struct run_result res;
	int rc = child_run(argv, NULL, 0, 10000, &res);
	const char *out = res.out.data ? res.out.data : "";
	if (rc == 0)
		check_add(r, "sync.rsync", CHECK_PASS, NULL, "%.*s", (int)strcspn(out, "\n"), out);
	else
		check_add(r, "sync.rsync", CHECK_FAIL, "apt-get install rsync",
			  "rsync does not run here (exit %d)", rc);
	run_result_free(&res);
}

/* ---- the daemon's status file ---- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static double num(json_object *o, const char *key)
{
	json_object *v = get(o, key);
	return v ? json_object_get_double(v) : 0;
}

/* The sync daemons answer on their control sockets; returns their live
 * status ({"syncs":{...}}) or NULL when none runs. A file a daemon left
 * behind proves nothing and is not read. */
static json_object *rule_daemon(const struct config *cfg, struct check_report *r)
{
	const char *fix = "start it: systemctl start lifeboat-sync (or run 'lifeboat sync')";
	json_object *req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("status"));
	json_object *live = ctl_call_all(cfg->state_dir, req, 5000);
	json_object_put(req);
	int n = ctl_daemons(live);
	json_object *ok = get(live, "ok");
	if (!n) {
		check_add(r, "sync.daemon", CHECK_WARN, fix,
			  "no sync daemon answers on %s/sync*.sock: 'lifeboat sync' is not running, "
			  "so nothing replicates",
			  cfg->state_dir);
		json_object_put(live);
		return NULL;
	}
	if (!ok || !json_object_get_boolean(ok))
		check_add(r, "sync.daemon", CHECK_WARN,
			  "look at its log; restart it: systemctl restart lifeboat-sync",
			  "a sync daemon does not answer its control socket: hung? (%s)",
			  json_object_to_json_string(get(live, "errors")));
	else
		check_add(r, "sync.daemon", CHECK_PASS, NULL, "'lifeboat sync' runs (%d daemon%s)", n,
			  n == 1 ? "" : "s");
	return live;
}

/* How old the DR side's copy of one sync is. */
static void rule_freshness(struct check_report *r, const struct sync_conf *sc, json_object *root)
{
	json_object *s = get(get(root, "syncs"), sc->name);
	json_object *state_o = get(s, "state");
	const char *state = state_o ? json_object_get_string(state_o) : NULL;
	double pending_age = num(s, "oldest_pending_age");
	double last = num(s, "last_success_unix");
	json_object *err_o = get(s, "last_error");
	const char *err = err_o ? json_object_get_string(err_o) : NULL;
	char *msg;
	enum check_level lvl = CHECK_PASS;
	const char *fix = "see 'lifeboat status' and the sync log for the cause";
	if (!state) {
		msg = xstrdup("no running sync daemon syncs it (reload it: systemctl reload "
			      "lifeboat-sync)");
		lvl = CHECK_WARN;
	} else if (strcmp(state, "error") == 0) {
		msg = xasprintf("state error: %s", err ? err : "?");
		lvl = CHECK_FAIL;
	} else if (pending_age > CHECK_FILE_MAX_AGE || strcmp(state, "retrying") == 0 ||
		   strcmp(state, "startup") == 0 || last <= 0) {
		msg = xasprintf("state %s, oldest pending change %.0f s old%s%s", state, pending_age,
				err ? ": " : "", err ? err : "");
		lvl = CHECK_WARN;
	} else {
		msg = xasprintf("state %s, %.0f pending, oldest %.1f s (threshold %.0f s)", state,
				num(s, "pending"), pending_age, CHECK_FILE_MAX_AGE);
	}
	add_named(r, "sync", sc->name, "freshness", lvl, fix, msg);
	free(msg);
}

/* ---- nodes ---- */

static void check_nodes(const struct config *cfg, struct check_report *r)
{
	if (!cfg->n_nodes)
		return;
	if (!cfg->node) {
		check_add(r, "node", CHECK_WARN,
			  "give this machine's [node] its numeric address here, or set [lifeboat] node",
			  "cannot tell which node is this one: no [node] address is one of this "
			  "machine's (or two are); set [lifeboat] node");
		return;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct node_conf *n = &cfg->nodes[i];
		if (strcmp(n->name, cfg->node) == 0 || !n->ssh)
			continue;
		/* The peer command, a remote clone, fencing and the syncs log in
		 * alike: the node's one ssh setting (peer.c). */
		struct peer_ssh ssh;
		peer_ssh_of(n, &ssh);
		if (rule_ssh_rsync(r, "node", n->name, &ssh))
			rule_remote_clock(r, "node", n->name, &ssh);
	}
}

/* What `lifeboat sync` itself checks before it starts, on this node. */
static void rule_sync_runs(const struct config *cfg, struct check_report *r)
{
	char *err = NULL;
	if (config_check_sync(cfg, &err) < 0)
		check_add(r, "sync.start", CHECK_FAIL, "fix the configuration",
			  "'lifeboat sync' refuses to start on this node: %s", err);
	else
		check_add(r, "sync.start", CHECK_PASS, NULL, "'lifeboat sync' can start on this node");
	free(err);
}

void check_sync(const struct config *cfg, struct check_report *r)
{
	check_nodes(cfg, r);
	if (!cfg->n_syncs) {
		check_add(r, "sync", CHECK_SKIP, NULL, "no [sync] section: file rules skipped");
		return;
	}
	struct check_tree *trees = xcalloc(cfg->n_syncs, sizeof(*trees));
	rule_sync_runs(cfg, r);
	rule_inotify(r, walk_sources(cfg, r, trees));
	rule_local_rsync(r);
	json_object *status = rule_daemon(cfg, r);
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *sc = &cfg->syncs[i];
		struct peer_ssh ssh = sync_ssh(sc);
		bool reachable = !sc->target_host || rule_ssh_rsync(r, "sync", sc->name, &ssh);
		if (sc->target_host && reachable) {
			rule_remote_clock(r, "sync", sc->name, &ssh);
			rule_key_restricted(r, "sync", sc->name, &ssh);
		}
		if (reachable)
			rule_disk(r, cfg, sc, &trees[i]);
		if (status)
			rule_freshness(r, sc, status);
	}
	if (status)
		json_object_put(status);
	free(trees);
}
