/* lifeboat help [COMMAND [SUBCOMMAND]] | --dump-usage: everything it prints
 * comes from the command table (usage.h). */
#include "commands.h"
#include "log.h"
#include "usage.h"

#include <stdio.h>
#include <string.h>

int cmd_help(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc == 1) {
		usage_print_list(stdout);
		return EXIT_OK;
	}
	if (argc == 2 && strcmp(argv[1], "--dump-usage") == 0) {
		usage_dump(stdout);
		return EXIT_OK;
	}
	const struct usage_command *cmd = usage_find_command(argv[1]);
	if (!cmd) {
		log_error("help: no command '%s'; 'lifeboat help' lists them", argv[1]);
		return EXIT_USAGE;
	}
	/* argv + 1: the command's own argv, so "help db clone" is "db clone". */
	const struct usage_command *c = usage_most_specific(cmd, argc - 1, argv + 1);
	if (argc > 3 || (argc == 3 && c == cmd)) {
		log_error("help: '%s' has no subcommand '%s'; 'lifeboat help %s' lists what it has",
			  argv[1], argv[2], argv[1]);
		return EXIT_USAGE;
	}
	usage_print_command(stdout, c);
	return EXIT_OK;
}
