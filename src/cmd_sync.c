/* lifeboat sync [NAME...] [--once]: live replication of every [sync NAME]
 * section (or the named ones) until SIGTERM/SIGINT. SIGHUP reloads the
 * configuration and reopens the log, SIGUSR1 asks for a full pass now. */
#include "agent.h"
#include "child.h"
#include "commands.h"
#include "ctl.h"
#include "db_ops.h"
#include "log.h"
#include "usage.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "json.h"
#include "residency.h"
#include "role.h"
#include "status.h"
#include "syncer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATUS_COALESCE_MS 200
/* How often a waiting flush looks again (besides every state change). */
#define FLUSH_POLL_MS 100

/* A `lifeboat flush` waiting on its control connection: per sync, the mark
 * everything before which must be on the target. */
struct flush_wait {
	struct ctl_conn *conn;
	int64_t deadline_ms;
	struct strv names;
	int64_t *marks;
	struct flush_wait *next;
};

struct sync_daemon {
	const struct cli *cli;
	struct loop *loop;
	struct config cfg;
	struct strv names; /* the syncs asked for; empty: all */
	bool once;
	struct syncer **syncers;
	size_t n_syncers;
	size_t n_finished;
	int exit_code;
	uint64_t status_timer;
	uint64_t periodic_timer;
	uint64_t watchdog_timer;
	bool ready_sent;
	struct metrics *metrics;
	char *metrics_listen; /* the address it listens on */
	struct proc *heartbeat;   /* `lifeboat db heartbeat`, supervised */
	/* `lifeboat db writable` at start and reload, never on a timer: between
	 * a switchover's fence and the promotion on the other node this node
	 * still holds the primary role, and a periodic run would undo the
	 * fence. */
	struct proc *writable;
	char *writable_msg;       /* what it said last */
	uint64_t heartbeat_timer; /* restart after it ended */
	char *config_text; /* as loaded: SIGHUP with the same text only reopens the log */
	char *role_text;   /* STATE_DIR/role and epoch as loaded: failover changes them */
	char *ctl_path;
	struct ctl_server *ctl;
	struct flush_wait *flushes;
	uint64_t flush_timer;
};

static void check_flushes(struct sync_daemon *d);

static void write_status(struct sync_daemon *d)
{
	if (d->once)
		return;
	if (status_write(&d->cfg, d->syncers, d->n_syncers, !loop_stopping(d->loop), d->ctl_path) <
	    0)
		log_warn("cannot write %s/status.json: %s", d->cfg.state_dir, strerror(errno));
}

static void on_status_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct sync_daemon *d = arg;
	d->status_timer = 0;
	write_status(d);
}

static void on_periodic(struct loop *loop, void *arg)
{
	struct sync_daemon *d = arg;
	write_status(d);
	int64_t ms = (int64_t)(d->cfg.status_interval * 1000);
	d->periodic_timer = loop_add_timer(loop, ms > 0 ? ms : 20000, on_periodic, d);
}

/* systemd: ready only once every sync finished its startup pass. */
static void maybe_ready(struct sync_daemon *d)
{
	if (d->ready_sent || d->once)
		return;
	for (size_t i = 0; i < d->n_syncers; i++) {
		struct sync_stats st;
		syncer_stats(d->syncers[i], &st);
		if (!st.startup_done)
			return;
	}
	d->ready_sent = true;
	log_info("every sync is live");
	notify_send("READY=1\nSTATUS=live: watching and replicating");
}

static void on_watchdog(struct loop *loop, void *arg)
{
	struct sync_daemon *d = arg;
	notify_send("WATCHDOG=1");
	d->watchdog_timer = loop_add_timer(loop, notify_watchdog_ms() / 2, on_watchdog, d);
}

static void on_syncer_changed(void *arg, struct syncer *s)
{
	(void)s;
	struct sync_daemon *d = arg;
	maybe_ready(d);
	check_flushes(d);
	if (!d->status_timer)
		d->status_timer = loop_add_timer(d->loop, STATUS_COALESCE_MS, on_status_timer, d);
}

static char *render_metrics(void *arg)
{
	struct sync_daemon *d = arg;
	return status_render_metrics(&d->cfg, d->syncers, d->n_syncers);
}

/* [cluster]: GET /primary and /standby answer from the agent's state file. */
static int health(const char *path, void *arg)
{
	struct sync_daemon *d = arg;
	return agent_health(&d->cfg, path);
}

/* The endpoint follows the configuration (also after a reload); a port that
 * cannot be taken is an error, not a reason to stop replicating. */
static void start_metrics(struct sync_daemon *d)
{
	/* The same address: the listener stays (a load balancer's health
	 * check must not see a gap because a failover made us reload). */
	bool same = d->metrics && d->metrics_listen && d->cfg.metrics_listen &&
		    strcmp(d->metrics_listen, d->cfg.metrics_listen) == 0;
	if (same) {
		if (d->cfg.cluster.present)
			metrics_set_health(d->metrics, health, d);
		return;
	}
	metrics_free(d->metrics);
	d->metrics = NULL;
	free(d->metrics_listen);
	d->metrics_listen = d->cfg.metrics_listen ? xstrdup(d->cfg.metrics_listen) : NULL;
	if (d->once || !d->cfg.metrics_listen)
		return;
	char *err = NULL;
	d->metrics = metrics_new(d->loop, d->cfg.metrics_listen, render_metrics, d, &err);
	if (!d->metrics) {
		log_error("%s: metrics endpoint off", err);
		free(err);
	} else if (d->cfg.cluster.present) {
		metrics_set_health(d->metrics, health, d);
	}
}

/* The database heartbeat runs in a child process: its connects and writes
 * block, and the loop that ships files must not wait for a database. It
 * writes only where read_only is OFF, so it is safe on either node. */
static void start_heartbeat(struct sync_daemon *d);

static void on_heartbeat_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct sync_daemon *d = arg;
	d->heartbeat_timer = 0;
	start_heartbeat(d);
}

static void on_heartbeat_exit(struct proc *p, void *arg)
{
	struct sync_daemon *d = arg;
	if (loop_stopping(d->loop))
		return;
	log_warn("database heartbeat writer ended (exit %d: %s); restarting in 5 s",
		 proc_exit_code(p), proc_stderr_tail(p));
	proc_free(p);
	d->heartbeat = NULL;
	d->heartbeat_timer = loop_add_timer(d->loop, 5000, on_heartbeat_timer, d);
}

static void start_heartbeat(struct sync_daemon *d)
{
	if (d->once || !d->cfg.db.present || !d->cfg.db.heartbeat || d->heartbeat)
		return;
	char *argv[] = {"/proc/self/exe", "-q", "-c", (char *)d->cli->config_path, "db",
			"heartbeat", NULL};
	/* The child ends when it is re-parented: we may die by SIGKILL. */
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LIFEBOAT_SUPERVISOR_PID", pid, 1);
	struct proc_opts o = {.argv = argv};
	char *err = NULL;
	d->heartbeat = proc_start(d->loop, &o, on_heartbeat_exit, d, &err);
	if (!d->heartbeat) {
		log_error("database heartbeat writer: %s", err);
		free(err);
	}
}

static void stop_heartbeat(struct sync_daemon *d)
{
	loop_cancel_timer(d->loop, d->heartbeat_timer);
	d->heartbeat_timer = 0;
	if (d->heartbeat) {
		proc_kill(d->heartbeat, SIGTERM);
		proc_free(d->heartbeat); /* reaps it (KILL if still there) */
		d->heartbeat = NULL;
	}
}

/* read_only = ON in every my.cnf: the primary's daemon turns writes on
 * where this node holds the primary role and the highest epoch (`db
 * writable`, in a child: it connects to both servers, which may block). */
/* A child's line without its own "lifeboat: LEVEL: ": ours says it again. */
static const char *without_log_prefix(const char *line)
{
	if (strncmp(line, "lifeboat: ", 10) != 0)
		return line;
	const char *colon = strchr(line + 10, ':');
	if (!colon)
		return line;
	return colon[1] == ' ' ? colon + 2 : colon + 1;
}

static void on_writable_exit(struct proc *p, void *arg)
{
	struct sync_daemon *d = arg;
	const char *tail = without_log_prefix(proc_stderr_tail(p));
	bool ok = proc_exit_code(p) == 0;
	char *msg = xstrdup(*tail ? tail : ok ? "" : "db writable failed");
	/* Said once, not every status_interval. */
	if (!d->writable_msg || strcmp(msg, d->writable_msg) != 0) {
		if (ok && *msg)
			log_info("database: %s", msg);
		else if (!ok)
			log_warn("database left read-only here: %s", msg);
	}
	free(d->writable_msg);
	d->writable_msg = msg;
	proc_free(p);
	d->writable = NULL;
}

static void start_writable(struct sync_daemon *d)
{
	if (d->once || !d->cfg.db.present)
		return;
	char *err = NULL;
	if (db_ensure_read_only_cnf(&d->cfg, &err)) {
		log_warn("%s", err);
		free(err);
		err = NULL;
	}
	if (d->writable || role_current(&d->cfg) != ROLE_PRIMARY)
		return;
	char *argv[] = {"/proc/self/exe", "-c", (char *)d->cli->config_path, "db", "writable",
			NULL};
	struct proc_opts o = {.argv = argv, .timeout_ms = 60000};
	d->writable = proc_start(d->loop, &o, on_writable_exit, d, &err);
	if (!d->writable) {
		log_error("db writable: %s", err);
		free(err);
	}
}

static void on_syncer_finished(void *arg, struct syncer *s, int code)
{
	struct sync_daemon *d = arg;
	if (code == 0)
		log_info("[sync %s] target matches the source", syncer_conf(s)->name);
	if (code > d->exit_code)
		d->exit_code = code;
	if (++d->n_finished == d->n_syncers)
		loop_stop(d->loop);
}

static bool wanted(const struct sync_daemon *d, const char *name)
{
	if (d->names.len == 0)
		return true;
	for (size_t i = 0; i < d->names.len; i++)
		if (strcmp(d->names.items[i], name) == 0)
			return true;
	return false;
}

/* Check the configuration for this command; logs and returns EXIT_USAGE. */
static int check_config(struct sync_daemon *d, struct config *cfg)
{
	char *err = NULL;
	if (config_check_sync(cfg, &err) < 0) {
		log_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < d->names.len; i++) {
		if (!config_find_sync(cfg, d->names.items[i])) {
			log_error("%s: no [sync %s] section", cfg->path, d->names.items[i]);
			return EXIT_USAGE;
		}
	}
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *sc = &cfg->syncs[i];
		if (wanted(d, sc->name) && residency_check_sync(cfg, sc, &err) < 0) {
			log_error("%s", err);
			free(err);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static int start_syncers(struct sync_daemon *d)
{
	struct syncer_hooks hooks = {on_syncer_changed, on_syncer_finished, d};
	d->syncers = xcalloc(d->cfg.n_syncs, sizeof(*d->syncers));
	d->n_syncers = 0;
	d->n_finished = 0;
	/* Every syncer exists before any starts: a receiving one reports
	 * --once finished at once, and the count must already be whole. */
	for (size_t i = 0; i < d->cfg.n_syncs; i++) {
		const struct sync_conf *sc = &d->cfg.syncs[i];
		if (wanted(d, sc->name))
			d->syncers[d->n_syncers++] = syncer_new(d->loop, &d->cfg, sc, d->once, hooks);
	}
	for (size_t i = 0; i < d->n_syncers; i++)
		if (syncer_start(d->syncers[i]) < 0)
			return EXIT_FAILED;
	return EXIT_OK;
}

static void stop_syncers(struct sync_daemon *d)
{
	/* Out of the list first: nothing (a waiting flush) may find one that
	 * is half freed. */
	struct syncer **all = d->syncers;
	size_t n = d->n_syncers;
	d->syncers = NULL;
	d->n_syncers = 0;
	for (size_t i = 0; i < n; i++)
		syncer_free(all[i]);
	free(all);
}

static void on_stop(struct loop *loop, int signo, void *arg)
{
	(void)arg;
	log_info("%s: stopping", strsignal(signo));
	loop_stop(loop);
}

static void on_full_pass(struct loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	struct sync_daemon *d = arg;
	for (size_t i = 0; i < d->n_syncers; i++)
		syncer_full_pass(d->syncers[i], "SIGUSR1");
}

/* What a SIGHUP also reloads: the role and epoch files failover and
 * switchover rewrite before signalling the daemon. */
static char *role_state(const struct config *cfg)
{
	char *rp = xasprintf("%s/role", cfg->state_dir), *ep = xasprintf("%s/epoch", cfg->state_dir);
	char *r = read_file(rp, NULL), *e = read_file(ep, NULL);
	char *s = xasprintf("%s|%s", r ? r : "", e ? e : "");
	free(rp);
	free(ep);
	free(r);
	free(e);
	return s;
}

static void remark_flushes(struct sync_daemon *d);

/* Reload the configuration, the role and the epoch (SIGHUP, or a reload
 * request on the control socket). 0, or -1 with *why (caller frees). */
static int reload(struct sync_daemon *d, char **why)
{
	if (log_reopen() < 0)
		log_error("cannot reopen the log: %s", strerror(errno));
	struct stat st;
	char *text = stat(d->cli->config_path, &st) == 0 && S_ISREG(st.st_mode)
			     ? read_file(d->cli->config_path, NULL)
			     : NULL;
	char *state = role_state(&d->cfg);
	bool same_role = d->role_text && strcmp(state, d->role_text) == 0;
	free(state);
	if (same_role && text && d->config_text && strcmp(text, d->config_text) == 0) {
		/* logrotate's weekly SIGHUP must not cost a full pass. */
		log_info("reload: log reopened; %s unchanged", d->cli->config_path);
		free(text);
		return 0;
	}
	struct config fresh;
	char *err = NULL;
	if (config_load(d->cli->config_path, &fresh, &err) < 0) {
		log_error("reload refused, keeping the running configuration: %s", err);
		*why = err;
		free(text);
		return -1;
	}
	if (check_config(d, &fresh) != EXIT_OK) {
		log_error("reload refused, keeping the running configuration");
		*why = xasprintf("%s: refused (see the daemon's log)", fresh.path);
		config_free(&fresh);
		free(text);
		return -1;
	}
	free(d->config_text);
	d->config_text = text;
	free(d->role_text);
	d->role_text = role_state(&fresh);
	log_info("configuration reloaded from %s; restarting the syncs with a full pass",
		 fresh.path);
	notify_send("RELOADING=1");
	stop_syncers(d);
	config_free(&d->cfg);
	d->cfg = fresh;
	d->ready_sent = false; /* READY=1 again once the new startup passes are done */
	if (start_syncers(d) != EXIT_OK)
		log_error("some syncs could not start after the reload; see above");
	remark_flushes(d);
	start_metrics(d);
	stop_heartbeat(d);
	start_heartbeat(d);
	start_writable(d);
	write_status(d);
	return 0;
}

static void on_reload(struct loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	char *why = NULL;
	reload(arg, &why);
	free(why);
}

/* ---- the control socket (ctl.h) ---- */

static struct syncer *find_syncer(struct sync_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_syncers; i++)
		if (strcmp(syncer_conf(d->syncers[i])->name, name) == 0)
			return d->syncers[i];
	return NULL;
}

static void flush_wait_free(struct flush_wait *w)
{
	strv_free(&w->names);
	free(w->marks);
	free(w);
}

/* The answer to a flush: each sync, flushed or what it still has. */
static void reply_flush(struct sync_daemon *d, struct flush_wait *w, bool done, const char *why)
{
	json_object *r = json_object_new_object(), *syncs = json_object_new_object();
	bool ok = done;
	for (size_t i = 0; i < w->names.len; i++) {
		struct syncer *s = find_syncer(d, w->names.items[i]);
		json_object *e = s ? status_sync_json(s, true) : json_object_new_object();
		bool reached = s && syncer_reached(s, w->marks[i]);
		ok = ok && reached;
		json_object_object_add(e, "flushed", json_object_new_boolean(reached));
		json_object_object_add(syncs, w->names.items[i], e);
	}
	json_object_object_add(r, "ok", json_object_new_boolean(ok));
	if (why)
		json_object_object_add(r, "error", json_object_new_string(why));
	json_object_object_add(r, "syncs", syncs);
	ctl_reply(w->conn, r);
}

static bool flush_reached(struct sync_daemon *d, const struct flush_wait *w)
{
	for (size_t i = 0; i < w->names.len; i++) {
		struct syncer *s = find_syncer(d, w->names.items[i]);
		if (!s || !syncer_reached(s, w->marks[i]))
			return false;
	}
	return true;
}

static void on_flush_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct sync_daemon *d = arg;
	d->flush_timer = 0;
	check_flushes(d);
}

/* Answer every flush whose barrier is reached or whose time is up. */
static void check_flushes(struct sync_daemon *d)
{
	int64_t now = now_ms();
	for (struct flush_wait **pp = &d->flushes; *pp;) {
		struct flush_wait *w = *pp;
		bool reached = flush_reached(d, w);
		if (!reached && now < w->deadline_ms) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		reply_flush(d, w, reached, reached ? NULL : "timed out");
		flush_wait_free(w);
	}
	if (d->flushes && !d->flush_timer)
		d->flush_timer = loop_add_timer(d->loop, FLUSH_POLL_MS, on_flush_timer, d);
}

/* After a reload the syncs are new: their startup pass ships everything,
 * so a waiting flush waits for it. */
static void remark_flushes(struct sync_daemon *d)
{
	for (struct flush_wait *w = d->flushes; w; w = w->next)
		for (size_t i = 0; i < w->names.len; i++) {
			struct syncer *s = find_syncer(d, w->names.items[i]);
			if (s)
				w->marks[i] = syncer_mark(s);
		}
}

/* Stopping: every waiting flush learns it did not complete. */
static void abandon_flushes(struct sync_daemon *d)
{
	while (d->flushes) {
		struct flush_wait *w = d->flushes;
		d->flushes = w->next;
		reply_flush(d, w, false, "the sync daemon is stopping");
		flush_wait_free(w);
	}
	loop_cancel_timer(d->loop, d->flush_timer);
	d->flush_timer = 0;
}

static void ctl_serve_flush(struct sync_daemon *d, struct ctl_conn *c, json_object *req)
{
	struct flush_wait *w = xcalloc(1, sizeof(*w));
	w->conn = c;
	strv_init(&w->names);
	json_object *names, *timeout;
	if (json_object_object_get_ex(req, "syncs", &names) &&
	    json_object_is_type(names, json_type_array) && json_object_array_length(names)) {
		for (size_t i = 0; i < json_object_array_length(names); i++) {
			const char *n = json_object_get_string(json_object_array_get_idx(names, i));
			if (n && find_syncer(d, n))
				strv_push(&w->names, n);
		}
	} else {
		for (size_t i = 0; i < d->n_syncers; i++)
			strv_push(&w->names, syncer_conf(d->syncers[i])->name);
	}
	double secs = json_object_object_get_ex(req, "timeout", &timeout)
			      ? json_object_get_double(timeout)
			      : 60;
	if (!(secs >= 0 && secs <= 86400)) /* NaN too */
		secs = 60;
	w->deadline_ms = now_ms() + (int64_t)(secs * 1000);
	w->marks = xcalloc(w->names.len + 1, sizeof(*w->marks));
	for (size_t i = 0; i < w->names.len; i++)
		w->marks[i] = syncer_mark(find_syncer(d, w->names.items[i]));
	w->next = d->flushes;
	d->flushes = w;
	check_flushes(d);
}

static void ctl_serve_status(struct sync_daemon *d, struct ctl_conn *c)
{
	json_object *r = json_object_new_object(), *syncs = json_object_new_object();
	json_object_object_add(r, "ok", json_object_new_boolean(1));
	json_object_object_add(r, "pid", json_object_new_int64((int64_t)getpid()));
	json_object_object_add(r, "node", json_string_or_null(d->cfg.node));
	for (size_t i = 0; i < d->n_syncers; i++)
		json_object_object_add(syncs, syncer_conf(d->syncers[i])->name,
				       status_sync_json(d->syncers[i], true));
	json_object_object_add(r, "syncs", syncs);
	ctl_reply(c, r);
}

static void ctl_serve_reload(struct sync_daemon *d, struct ctl_conn *c)
{
	char *why = NULL;
	if (reload(d, &why) < 0) {
		ctl_reply_error(c, why);
		free(why);
		return;
	}
	json_object *r = json_object_new_object();
	json_object_object_add(r, "ok", json_object_new_boolean(1));
	ctl_reply(c, r);
}

static void on_ctl_request(struct ctl_conn *c, json_object *req, void *arg)
{
	struct sync_daemon *d = arg;
	json_object *what;
	const char *name = json_object_object_get_ex(req, "request", &what)
				   ? json_object_get_string(what)
				   : "";
	if (strcmp(name, "status") == 0)
		ctl_serve_status(d, c);
	else if (strcmp(name, "flush") == 0)
		ctl_serve_flush(d, c, req);
	else if (strcmp(name, "reload") == 0)
		ctl_serve_reload(d, c);
	else
		ctl_reply_error(c, "unknown request (status, flush, reload)");
}

static int start_ctl(struct sync_daemon *d)
{
	d->ctl_path = ctl_socket_path(d->cfg.state_dir, &d->names);
	char *err = NULL;
	d->ctl = ctl_server_new(d->loop, d->ctl_path, on_ctl_request, d, &err);
	if (!d->ctl) {
		log_error("%s", err);
		free(err);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static int parse_args(struct sync_daemon *d, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("sync", argc, argv, &a);
	if (rc)
		return rc;
	d->once = usage_has(&a, "--once");
	for (int i = 0; i < a.n_words; i++)
		strv_push(&d->names, a.words[i]);
	usage_args_free(&a);
	return EXIT_OK;
}

static int run(struct sync_daemon *d)
{
	if (!d->once && mkdir_p(d->cfg.state_dir, 0755) < 0) {
		log_error("cannot create state_dir '%s': %s", d->cfg.state_dir, strerror(errno));
		return EXIT_FAILED;
	}
	if (!d->once && strcmp(d->cfg.log, "stderr") != 0 && log_open(d->cfg.log) < 0)
		log_error("cannot open log '%s': %s; logging to stderr", d->cfg.log, strerror(errno));
	d->loop = loop_new();
	if (!d->loop) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return EXIT_FAILED;
	}
	loop_on_signal(d->loop, SIGTERM, on_stop, d);
	loop_on_signal(d->loop, SIGINT, on_stop, d);
	if (!d->once) {
		loop_on_signal(d->loop, SIGHUP, on_reload, d);
		loop_on_signal(d->loop, SIGUSR1, on_full_pass, d);
	}
	int rc = d->once ? EXIT_OK : start_ctl(d);
	if (rc == EXIT_OK)
		rc = start_syncers(d);
	if (rc == EXIT_OK) {
		start_metrics(d);
		start_heartbeat(d);
		start_writable(d);
	}
	if (rc == EXIT_OK) {
		if (!d->once)
			on_periodic(d->loop, d);
		if (!d->once && notify_watchdog_ms() > 0)
			on_watchdog(d->loop, d);
		if (loop_run(d->loop) < 0)
			rc = EXIT_FAILED;
	}
	if (d->once && rc == EXIT_OK) {
		rc = d->n_finished == d->n_syncers ? d->exit_code : EXIT_FAILED;
	}
	notify_send("STOPPING=1");
	abandon_flushes(d);
	loop_cancel_timer(d->loop, d->status_timer);
	loop_cancel_timer(d->loop, d->periodic_timer);
	loop_cancel_timer(d->loop, d->watchdog_timer);
	write_status(d);
	metrics_free(d->metrics);
	free(d->metrics_listen);
	stop_heartbeat(d);
	proc_free(d->writable);
	free(d->writable_msg);
	stop_syncers(d);
	ctl_server_free(d->ctl);
	free(d->ctl_path);
	loop_free(d->loop);
	return rc;
}

int cmd_sync(const struct cli *cli, int argc, char **argv)
{
	struct sync_daemon d = {.cli = cli};
	strv_init(&d.names);
	int rc = parse_args(&d, argc, argv);
	if (rc == EXIT_OK) {
		/* Loaded first: config_load refuses what is not a small regular
		 * file (reading /dev/zero would never end). */
		rc = cli_load_config(cli, &d.cfg);
		if (rc == EXIT_OK) {
			d.config_text = read_file(cli->config_path, NULL);
			d.role_text = role_state(&d.cfg);
		}
	}
	if (rc == EXIT_OK) {
		rc = check_config(&d, &d.cfg);
		if (rc == EXIT_OK)
			rc = run(&d);
		config_free(&d.cfg);
	}
	strv_free(&d.names);
	free(d.config_text);
	free(d.role_text);
	return rc;
}
