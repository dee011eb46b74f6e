/* lifeboat status [--json]: the running daemons' status file, summarised. */
#include "commands.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_status(const struct cli *cli, int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			log_error("status: unknown argument '%s' (usage: lifeboat status [--json])", argv[i]);
			return EXIT_USAGE;
		}
	}
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	char *path = xasprintf("%s/status.json", cfg.state_dir);
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		log_error("cannot read %s: %s (is 'lifeboat sync' running?)", path, strerror(errno));
		free(path);
		config_free(&cfg);
		return EXIT_FAILED;
	}
	if (json) {
		fwrite(text, 1, len, stdout);
	} else {
		fwrite(text, 1, len, stdout);
	}
	free(text);
	free(path);
	config_free(&cfg);
	return EXIT_OK;
}
