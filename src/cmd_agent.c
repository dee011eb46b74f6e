/* lifeboat agent [--resume | --failsafe-probe NODE]: the command line of
 * agent.h; the work is in agent.c. */
#include "agent.h"
#include "commands.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_USAGE "usage: lifeboat agent [--pause | --resume | --failsafe-probe NODE]"

int cmd_agent(const struct cli *cli, int argc, char **argv)
{
	bool resume = false, pause = false;
	const char *probe = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--resume") == 0) {
			resume = true;
		} else if (strcmp(argv[i], "--pause") == 0) {
			pause = true;
		} else if (strcmp(argv[i], "--failsafe-probe") == 0 && i + 1 < argc) {
			probe = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("%s\n  (no option)        run the agent until SIGTERM\n"
			       "  --pause            automatic failover off (maintenance)\n"
			       "  --resume           arm automatic failover again after one\n"
			       "  --failsafe-probe NODE  what a primary without etcd asks this node\n",
			       AGENT_USAGE);
			return EXIT_OK;
		} else {
			log_error("agent: unknown argument '%s' (" AGENT_USAGE ")", argv[i]);
			return EXIT_USAGE;
		}
	}
	if ((resume != 0) + (pause != 0) + (probe != NULL) > 1) {
		log_error("agent: --pause, --resume and --failsafe-probe are separate things: use one");
		return EXIT_USAGE;
	}
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
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
