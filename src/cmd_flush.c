/* lifeboat flush [NAME...] [--timeout SECONDS]: returns 0 once every change
 * made on the source before the call is on the target (the running
 * daemons' barrier, see ctl.h); 1 on timeout, naming what is pending. A
 * deploy script calls it, then knows DR has its files. */
#include "commands.h"
#include "ctl.h"
#include "log.h"
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_DEFAULT_TIMEOUT 60

static int parse_args(int argc, char **argv, struct strv *names, double *timeout)
{
	struct usage_args a;
	int rc = usage_parse("flush", argc, argv, &a);
	if (rc)
		return rc;
	const char *t = usage_value(&a, "--timeout");
	for (int i = 0; i < a.n_words; i++)
		strv_push(names, a.words[i]);
	usage_args_free(&a);
	if (t && (!parse_seconds(t, 86400, timeout) || *timeout <= 0)) {
		log_error("flush: --timeout '%s' is not a number of seconds (1 to 86400)", t);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int flush(const struct config *cfg, const struct strv *names, double timeout)
{
	for (size_t i = 0; i < names->len; i++) {
		if (!config_find_sync(cfg, names->items[i])) {
			log_error("flush: %s: no [sync %s] section", cfg->path, names->items[i]);
			return EXIT_USAGE;
		}
	}
	char *why = NULL;
	if (ctl_flush(cfg, names, timeout, &why) < 0) {
		log_error("flush: not everything is on the target: %s", why);
		free(why);
		return EXIT_FAILED;
	}
	log_info("flush: every change made before the call is on the target");
	return EXIT_OK;
}

int cmd_flush(const struct cli *cli, int argc, char **argv)
{
	struct strv names;
	strv_init(&names);
	double timeout = FLUSH_DEFAULT_TIMEOUT;
	int rc = parse_args(argc, argv, &names, &timeout);
	if (rc == EXIT_OK) {
		struct config cfg;
		rc = cli_load_config(cli, &cfg);
		if (rc == EXIT_OK) {
			rc = flush(&cfg, &names, timeout);
			config_free(&cfg);
		}
	}
	strv_free(&names);
	return rc;
}
