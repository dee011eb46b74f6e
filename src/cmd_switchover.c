/* lifeboat switchover [--dry-run] [--yes] [--json] | --step-down [--epoch N]:
 * the command line of failover.h. --step-down is what the new primary runs
 * on the old one over [failover] peer_command; an administrator may run it
 * by hand on an old primary that was rejoined with 'lifeboat db rejoin'. */
#include "commands.h"
#include "failover.h"
#include "log.h"
#include "util.h"

#include <inttypes.h>
#include <string.h>

#define SWITCHOVER_USAGE                                                                           \
	"usage: lifeboat switchover [--dry-run] [--yes] [--json] | --step-down [--epoch N]"

int cmd_switchover(const struct cli *cli, int argc, char **argv)
{
	struct failover_opts o = {0};
	bool step_down = false;
	long epoch = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			o.dry_run = true;
		} else if (strcmp(argv[i], "--yes") == 0) {
			o.yes = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			o.json = true;
		} else if (strcmp(argv[i], "--step-down") == 0) {
			step_down = true;
		} else if (strcmp(argv[i], "--epoch") == 0 && i + 1 < argc &&
			   parse_long(argv[i + 1], 0, INT64_MAX, &epoch)) {
			i++;
		} else {
			log_error("switchover: bad argument '%s' (" SWITCHOVER_USAGE ")", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (o.dry_run && o.json) {
		/* stdout carries JSON only under --json; the plan is for people. */
		log_error("switchover: --dry-run prints a plan for people, --json the report: use one");
		return EXIT_USAGE;
	}
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	rc = step_down ? failover_step_down(&cfg, (uint64_t)epoch) : switchover_run(&cfg, &o);
	rc = cli_exit_status(rc);
	config_free(&cfg);
	return rc;
}
