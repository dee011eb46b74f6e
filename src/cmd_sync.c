/* lifeboat sync [NAME...] [--once]: live replication of every [sync NAME]
 * section (or the named ones) until SIGTERM/SIGINT. SIGHUP reloads the
 * configuration and reopens the log, SIGUSR1 asks for a full pass now. */
#include "child.h"
#include "commands.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
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
	struct proc *heartbeat;   /* `lifeboat db heartbeat`, supervised */
	struct proc *writable;    /* `lifeboat db writable`: start, reload, status_interval */
	char *writable_msg;       /* what it said last */
	uint64_t heartbeat_timer; /* restart after it ended */
	char *config_text; /* as loaded: SIGHUP with the same text only reopens the log */
	char *role_text;   /* STATE_DIR/role and epoch as loaded: failover changes them */
};

static void write_status(struct sync_daemon *d)
{
	if (d->once)
		return;
	if (status_write(&d->cfg, d->syncers, d->n_syncers, !loop_stopping(d->loop)) < 0)
		log_warn("cannot write %s/status.json: %s", d->cfg.state_dir, strerror(errno));
}

static void on_status_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct sync_daemon *d = arg;
	d->status_timer = 0;
	write_status(d);
}

static void start_writable(struct sync_daemon *d);

static void on_periodic(struct loop *loop, void *arg)
{
	struct sync_daemon *d = arg;
	write_status(d);
	/* The primary's server restarted (read-only by its my.cnf): on again. */
	start_writable(d);
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
	if (!d->status_timer)
		d->status_timer = loop_add_timer(d->loop, STATUS_COALESCE_MS, on_status_timer, d);
}

static char *render_metrics(void *arg)
{
	struct sync_daemon *d = arg;
	return status_render_metrics(&d->cfg, d->syncers, d->n_syncers);
}

/* The endpoint follows the configuration (also after a reload); a port that
 * cannot be taken is an error, not a reason to stop replicating. */
static void start_metrics(struct sync_daemon *d)
{
	metrics_free(d->metrics);
	d->metrics = NULL;
	if (d->once || !d->cfg.metrics_listen)
		return;
	char *err = NULL;
	d->metrics = metrics_new(d->loop, d->cfg.metrics_listen, render_metrics, d, &err);
	if (!d->metrics) {
		log_error("%s: metrics endpoint off", err);
		free(err);
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
static void on_writable_exit(struct proc *p, void *arg)
{
	struct sync_daemon *d = arg;
	const char *tail = proc_stderr_tail(p);
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
	if (d->once || !d->cfg.db.present || d->writable || role_current(&d->cfg) != ROLE_PRIMARY)
		return;
	char *argv[] = {"/proc/self/exe", "-c", (char *)d->cli->config_path, "db", "writable",
			NULL};
	struct proc_opts o = {.argv = argv, .timeout_ms = 60000};
	char *err = NULL;
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
	for (size_t i = 0; i < d->cfg.n_syncs; i++) {
		const struct sync_conf *sc = &d->cfg.syncs[i];
		if (!wanted(d, sc->name))
			continue;
		struct syncer *s = syncer_new(d->loop, &d->cfg, sc, d->once, hooks);
		d->syncers[d->n_syncers++] = s;
		if (syncer_start(s) < 0)
			return EXIT_FAILED;
	}
	return EXIT_OK;
}

static void stop_syncers(struct sync_daemon *d)
{
	for (size_t i = 0; i < d->n_syncers; i++)
		syncer_free(d->syncers[i]);
	free(d->syncers);
	d->syncers = NULL;
	d->n_syncers = 0;
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

static void on_reload(struct loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	struct sync_daemon *d = arg;
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
		log_info("SIGHUP: log reopened; %s unchanged", d->cli->config_path);
		free(text);
		return;
	}
	struct config fresh;
	char *err = NULL;
	if (config_load(d->cli->config_path, &fresh, &err) < 0) {
		log_error("reload refused, keeping the running configuration: %s", err);
		free(err);
		free(text);
		return;
	}
	if (check_config(d, &fresh) != EXIT_OK) {
		log_error("reload refused, keeping the running configuration");
		config_free(&fresh);
		free(text);
		return;
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
	start_metrics(d);
	stop_heartbeat(d);
	start_heartbeat(d);
	start_writable(d);
	write_status(d);
}

static int parse_args(struct sync_daemon *d, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0) {
			d->once = true;
		} else if (argv[i][0] == '-') {
			log_error("sync: unknown option '%s' (usage: lifeboat sync [NAME...] [--once])",
				  argv[i]);
			return EXIT_USAGE;
		} else {
			strv_push(&d->names, argv[i]);
		}
	}
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
	int rc = start_syncers(d);
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
	loop_cancel_timer(d->loop, d->status_timer);
	loop_cancel_timer(d->loop, d->periodic_timer);
	loop_cancel_timer(d->loop, d->watchdog_timer);
	write_status(d);
	metrics_free(d->metrics);
	stop_heartbeat(d);
	proc_free(d->writable);
	free(d->writable_msg);
	stop_syncers(d);
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
