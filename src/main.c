/* lifeboat: entry point. Parses the global options, picks the command and
 * hands over; every command lives in its own cmd_*.c. */
#include "commands.h"
#include "log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(const struct cli *cli, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"sync", cmd_sync, "run live file replication (--once: one pass)"},
	{"db", cmd_db, "database: status, clone, promote, fence, rejoin, heartbeat"},
	{"failover", cmd_failover, "the panic button: promote this node now (--dry-run, --yes)"},
	{"switchover", cmd_switchover, "planned role swap with zero data loss"},
	{"status", cmd_status, "state of the syncs, the database pair and the last failover"},
	{"check", cmd_check, "readiness doctor: every rule PASS/WARN/FAIL with its fix (--json)"},
	{"drill", cmd_drill, "rehearse a switchover to DR and back: RTO, RPO, verification (--json, --report FILE)"},
	{"serve", cmd_serve, "what a peer's ssh key runs here (restrict,command=\"lifeboat serve\")"},
	{"versions", cmd_versions, "the versions of a path the target's history keeps (--json)"},
	{"restore", cmd_restore, "bring a path back from the target's history (--at TIME, --to DIR)"},
	{"version", cmd_version, "print the version"},
	{"help", cmd_help, "help on a command"},
};

void usage_short(void)
{
	fprintf(stderr, "usage: lifeboat [-c FILE] [-v|-q] COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int cmd_help(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc > 1) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (strcmp(commands[i].name, argv[1]) == 0) {
				printf("lifeboat %s: %s\n(see lifeboat(8) for the options)\n",
				       commands[i].name, commands[i].summary);
				return EXIT_OK;
			}
		}
		log_error("no command '%s'; 'lifeboat help' lists them", argv[1]);
		return EXIT_USAGE;
	}
	usage_short();
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cli cli = {0};
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/* Writes to a vanished rsync or ssh must fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	int c;
	/* '+': stop at the first non-option so command options stay theirs. */
	while ((c = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_option = optarg;
			break;
		case 'v':
			cli.verbosity = 1;
			break;
		case 'q':
			cli.verbosity = -1;
			break;
		case 'h':
			usage_short();
			return EXIT_OK;
		case 'V':
			return cmd_version(&cli, 0, NULL);
		default:
			usage_short();
			return EXIT_USAGE;
		}
	}
	log_set_level(cli.verbosity > 0 ? LOG_LVL_DEBUG
					: (cli.verbosity < 0 ? LOG_LVL_ERROR : LOG_LVL_INFO));
	cli.config_path = config_path_choose(cli.config_option);
	if (optind >= argc) {
		usage_short();
		return EXIT_USAGE;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			optind++; /* commands parse their own argv from index 1 */
			int sub_argc = argc - optind + 1;
			char **sub_argv = argv + optind - 1;
			optind = 1;
			int rc = commands[i].run(&cli, sub_argc, sub_argv);
			log_close();
			return rc;
		}
	}
	log_error("unknown command '%s'; 'lifeboat help' lists the commands", name);
	return EXIT_USAGE;
}
