/* lifeboat drill [--json] [--report FILE] [--crash] | --kill-local-database:
 * the command line of drill.h. --crash is for lab setups only: refused
 * (exit 2) unless [lifeboat] drill_allow_crash = yes; --kill-local-database
 * is what a crash drill runs on the primary's node over peer_command (it
 * too needs drill_allow_crash = yes there). */
#include "commands.h"
#include "drill.h"
#include "log.h"

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
	struct drill_opts o = {0};
	bool kill_local = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o.json = true;
		} else if (strcmp(argv[i], "--crash") == 0) {
			o.crash = true;
		} else if (strcmp(argv[i], "--kill-local-database") == 0 && argc == 2) {
			kill_local = true;
		} else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc && *argv[i + 1]) {
			o.report = argv[++i];
		} else {
			log_error("drill: bad argument '%s' (" DRILL_USAGE ")", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (o.report && !report_dir_ok(o.report))
		return EXIT_USAGE;
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
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
