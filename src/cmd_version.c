/* lifeboat version */
#include "commands.h"
#include "version.h"

#include <stdio.h>

int cmd_version(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	printf("lifeboat %s\n", LIFEBOAT_VERSION);
	return EXIT_OK;
}
