/* lifeboat: entry point. Parses the global options, picks the command and
 * hands over; every command lives in its own cmd_*.c. */
#include "child.h"
#include "commands.h"
#include "log.h"
#include "usage.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	/* Ctrl-C on a one-shot command reaches its children too. */
	child_forward_signals();

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
			usage_print_list(stdout);
			return EXIT_OK;
		case 'V':
			return cmd_version(&cli, 0, NULL);
		default:
			usage_print_list(stderr);
			return EXIT_USAGE;
		}
	}
	log_set_level(cli.verbosity > 0 ? LOG_LVL_DEBUG
					: (cli.verbosity < 0 ? LOG_LVL_ERROR : LOG_LVL_INFO));
	cli.config_path = config_path_choose(cli.config_option);
	if (optind >= argc) {
		usage_print_list(stderr);
		return EXIT_USAGE;
	}
	const struct usage_command *cmd = usage_find_command(argv[optind]);
	if (!cmd) {
		log_error("unknown command '%s'; 'lifeboat help' lists the commands", argv[optind]);
		return EXIT_USAGE;
	}
	/* Commands parse their own argv from index 1. */
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 1;
	/* --help anywhere before "--" is answered from the table, as git does,
	 * before the command looks at its arguments or the configuration. */
	if (usage_wants_help(cmd, sub_argc, sub_argv)) {
		usage_print_command(stdout, usage_most_specific(cmd, sub_argc, sub_argv));
		return EXIT_OK;
	}
	int rc = cmd->run(&cli, sub_argc, sub_argv);
	log_close();
	return rc;
}
