/* lifeboat switchover [--dry-run] [--yes] [--json] | --step-down [--epoch N]:
 * the command line of failover.h. --step-down is what the new primary runs
 * on the old one over [failover] peer_command; an administrator may run it
 * by hand on an old primary that was rejoined with 'lifeboat db rejoin'. */
#include "commands.h"
#include "failover.h"
#include "log.h"
#include "usage.h"
#include "util.h"

#include <inttypes.h>

int cmd_switchover(const struct cli *cli, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("switchover", argc, argv, &a);
	if (rc)
		return rc;
	rc = usage_no_words(&a);
	struct failover_opts o = {.dry_run = usage_has(&a, "--dry-run"),
				  .yes = usage_has(&a, "--yes"),
				  .json = usage_has(&a, "--json")};
	bool step_down = usage_has(&a, "--step-down");
	const char *epoch_arg = usage_value(&a, "--epoch");
	usage_args_free(&a);
	if (rc)
		return rc;
	long epoch = 0;
	if (epoch_arg && !parse_long(epoch_arg, 0, INT64_MAX, &epoch)) {
		log_error("switchover: --epoch '%s' is not a role epoch (a whole number)", epoch_arg);
		return EXIT_USAGE;
	}
	if (o.dry_run && o.json) {
		/* stdout carries JSON only under --json; the plan is for people. */
		log_error("switchover: --dry-run prints a plan for people, --json the report: use one");
		return EXIT_USAGE;
	}
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	rc = step_down ? failover_step_down(&cfg, (uint64_t)epoch) : switchover_run(&cfg, &o);
	rc = cli_exit_status(rc);
	config_free(&cfg);
	return rc;
}
