#include "commands.h"
#include "log.h"
int cmd_versions(const struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	log_error("versions: not yet");
	return EXIT_FAILED;
}
