/* lifeboat failover [--dry-run] [--yes] [--force] [--json]: the command line
 * of failover.h; the work is in failover.c. */
#include "commands.h"
#include "failover.h"
#include "log.h"
#include "usage.h"


int cmd_failover(const struct cli *cli, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("failover", argc, argv, &a);
	if (rc)
		return rc;
	rc = usage_no_words(&a);
	struct failover_opts o = {.dry_run = usage_has(&a, "--dry-run"),
				  .yes = usage_has(&a, "--yes"),
				  .force = usage_has(&a, "--force"),
				  .json = usage_has(&a, "--json")};
	usage_args_free(&a);
	if (rc)
		return rc;
	if (o.dry_run && o.json) {
		/* stdout carries JSON only under --json; the plan is for people. */
		log_error("failover: --dry-run prints a plan for people, --json the report: use one");
		return EXIT_USAGE;
	}
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	rc = cli_exit_status(failover_run(&cfg, &o));
	config_free(&cfg);
	return rc;
}
