/* lifeboat agent [--resume | --failsafe-probe NODE]: the command line of
 * agent.h; the work is in agent.c. */
#include "agent.h"
#include "commands.h"
#include "log.h"
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_agent(const struct cli *cli, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("agent", argc, argv, &a);
	if (rc)
		return rc;
	rc = usage_no_words(&a);
	bool resume = usage_has(&a, "--resume"), pause = usage_has(&a, "--pause");
	const char *probe = usage_value(&a, "--failsafe-probe");
	usage_args_free(&a);
	if (rc)
		return rc;
	if ((resume != 0) + (pause != 0) + (probe != NULL) > 1) {
		log_error("agent: --pause, --resume and --failsafe-probe are separate things: use one");
		return EXIT_USAGE;
	}
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	if (resume) {
		rc = cli_exit_status(agent_resume(&cfg));
	} else if (pause) {
		rc = cli_exit_status(agent_pause(&cfg));
	} else if (probe) {
		rc = cli_exit_status(agent_failsafe_probe(&cfg, probe));
	} else {
		if (strcmp(cfg.log, "stderr") != 0 && log_open(cfg.log) < 0)
			log_warn("cannot open log %s; logging to stderr", cfg.log);
		struct agent_opts o = {.config_path = cli->config_path, .verbosity = cli->verbosity};
		rc = cli_exit_status(agent_run(&cfg, &o));
	}
	config_free(&cfg);
	return rc;
}
