/* lifeboat drill [--json] [--report FILE] [--crash] | --kill-local-database:
 * the command line of drill.h. --crash is for lab setups only: refused
 * (exit 2) unless [lifeboat] drill_allow_crash = yes; --kill-local-database
 * is what a crash drill runs on the primary's node over peer_command (it
 * too needs drill_allow_crash = yes there). */
#include "commands.h"
#include "drill.h"
#include "log.h"
#include "usage.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRILL_USAGE "usage: lifeboat drill [--json] [--report FILE] [--crash]"

/* A drill takes a while: find out first that its page can be written. */
static bool report_dir_ok(const char *path)
{
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	bool ok = access(dir, W_OK) == 0;
	if (!ok)
		log_error("drill: --report %s: cannot write in %s: %s", path, dir, strerror(errno));
	free(copy);
	return ok;
}

int cmd_drill(const struct cli *cli, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("drill", argc, argv, &a);
	if (rc)
		return rc;
	rc = usage_no_words(&a);
	struct drill_opts o = {.json = usage_has(&a, "--json"),
			       .crash = usage_has(&a, "--crash"),
			       .report = usage_value(&a, "--report")};
	bool kill_local = usage_has(&a, "--kill-local-database");
	usage_args_free(&a);
	if (rc)
		return rc;
	if (kill_local && argc != 2) {
		log_error("drill: --kill-local-database takes no other option (usage: lifeboat drill "
			  "%s)", usage_find("drill")->synopsis);
		return EXIT_USAGE;
	}
	if (o.report && !report_dir_ok(o.report))
		return EXIT_USAGE;
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	if (kill_local) {
		rc = cli_exit_status(drill_kill_local_db(&cfg));
	} else if (o.crash && !cfg.drill_allow_crash) {
		log_error("drill --crash kills the primary's database: %s has no '[lifeboat] "
			  "drill_allow_crash = yes' (set it only on a lab setup); nothing changed",
			  cfg.path);
		rc = EXIT_USAGE;
	} else {
		rc = cli_exit_status(drill_run(&cfg, &o));
	}
	config_free(&cfg);
	return rc;
}
