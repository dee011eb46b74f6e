/* lifeboat reload [NAME...]: ask the running sync daemons (those running
 * the named syncs, or all) to reload their configuration, role and epoch
 * and reopen their log, over their control sockets (ctl.h). What systemd's
 * ExecReload and logrotate run: it waits for the answer, and signals no
 * pid read from a file. */
#include "commands.h"
#include "ctl.h"
#include "log.h"
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELOAD_TIMEOUT_MS 30000

/* Does the daemon behind this status reply run one of names (none: any)? */
static bool runs_any(json_object *reply, const struct strv *names)
{
	json_object *syncs = json_object_object_get(reply, "syncs");
	if (!names->len)
		return true;
	for (size_t i = 0; i < names->len; i++)
		if (json_object_object_get_ex(syncs, names->items[i], NULL))
			return true;
	return false;
}

/* One daemon: asked only if it runs a named sync. 1 reloaded, 0 not
 * concerned (or gone), -1 failed. */
static int reload_one(const char *path, const struct strv *names)
{
	char *err = NULL;
	json_object *req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("status"));
	json_object *st = ctl_call(path, req, RELOAD_TIMEOUT_MS, &err);
	json_object_put(req);
	if (!st) {
		int gone = ctl_not_running(errno);
		if (!gone)
			log_error("reload: %s", err);
		free(err);
		return gone ? 0 : -1;
	}
	bool concerned = runs_any(st, names);
	json_object_put(st);
	if (!concerned)
		return 0;
	req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("reload"));
	json_object *r = ctl_call(path, req, RELOAD_TIMEOUT_MS, &err);
	json_object_put(req);
	json_object *ok = r ? json_object_object_get(r, "ok") : NULL;
	int rc = ok && json_object_get_boolean(ok) ? 1 : -1;
	if (!r)
		log_error("reload: %s", err);
	else if (rc < 0)
		log_error("reload: %s: %s", path,
			  json_object_get_string(json_object_object_get(r, "error")));
	free(err);
	if (r)
		json_object_put(r);
	return rc;
}

int cmd_reload(const struct cli *cli, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("reload", argc, argv, &a);
	if (rc)
		return rc;
	struct strv names;
	strv_init(&names);
	for (int i = 0; i < a.n_words; i++)
		strv_push(&names, a.words[i]);
	usage_args_free(&a);
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc) {
		strv_free(&names);
		return rc;
	}
	struct strv paths;
	strv_init(&paths);
	ctl_sockets(cfg.state_dir, &paths);
	int reloaded = 0;
	bool failed = false;
	for (size_t i = 0; i < paths.len; i++) {
		int r = reload_one(paths.items[i], &names);
		reloaded += r > 0;
		failed = failed || r < 0;
	}
	if (!failed && !reloaded) {
		log_error("reload: no running sync daemon%s answers on %s/sync*.sock",
			  names.len ? " of these syncs" : "", cfg.state_dir);
		failed = true;
	} else if (!failed) {
		log_info("reload: %d sync daemon(s) reloaded", reloaded);
	}
	strv_free(&paths);
	strv_free(&names);
	config_free(&cfg);
	return failed ? EXIT_FAILED : EXIT_OK;
}
