/* cli: what every command shares on the way in (configuration loading and
 * its one-line error) and out (a library result as an exit status). It is
 * command-side code: it implements part of commands.h. */
#include "commands.h"
#include "log.h"
#include "result.h"
#include "usage.h"

#include <stdlib.h>
#include <string.h>

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

int cli_exit_status(int result)
{
	if (result == LB_OK)
		return EXIT_OK;
	return result == LB_USAGE ? EXIT_USAGE : EXIT_FAILED;
}

int cli_parse_json_only(const char *command, int argc, char **argv, bool *json)
{
	struct usage_args a;
	int rc = usage_parse(command, argc, argv, &a);
	if (rc)
		return rc;
	rc = usage_no_words(&a);
	*json = usage_has(&a, "--json");
	usage_args_free(&a);
	return rc;
}
