/* lifeboat failover [--dry-run] [--yes] [--force] [--json]: the command line
 * of failover.h; the work is in failover.c. */
#include "commands.h"
#include "failover.h"
#include "log.h"

#include <string.h>

#define FAILOVER_USAGE "usage: lifeboat failover [--dry-run] [--yes] [--force] [--json]"

int cmd_failover(const struct cli *cli, int argc, char **argv)
{
	struct failover_opts o = {0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			o.dry_run = true;
		else if (strcmp(argv[i], "--yes") == 0)
			o.yes = true;
		else if (strcmp(argv[i], "--force") == 0)
			o.force = true;
		else if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else {
			log_error("failover: unknown argument '%s' (" FAILOVER_USAGE ")", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (o.dry_run && o.json) {
		/* stdout carries JSON only under --json; the plan is for people. */
		log_error("failover: --dry-run prints a plan for people, --json the report: use one");
		return EXIT_USAGE;
	}
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	rc = cli_exit_status(failover_run(&cfg, &o));
	config_free(&cfg);
	return rc;
}
