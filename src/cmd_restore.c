#include "commands.h"
#include "log.h"
int cmd_restore(const struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	log_error("restore: not yet");
	return EXIT_FAILED;
}
