#include "commands.h"
int cmd_sync(const struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	return 1;
}
