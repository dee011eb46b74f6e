/* cli: what every command shares on the way in (configuration loading and
 * its one-line error). */
#include "commands.h"
#include "log.h"

#include <stdlib.h>

int cli_load_config(const struct cli *cli, struct config *cfg)
{
	char *err = NULL;
	if (config_load(cli->config_path, cfg, &err) < 0) {
		log_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}
