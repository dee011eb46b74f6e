/* lifeboat check [--json]: the readiness doctor. Runs every rule (check.h)
 * against the configuration, the database pair, the sync targets and this
 * machine; prints PASS / WARN / FAIL / SKIP with a one-line fix, or a JSON
 * array on stdout. Exit 3 on any FAIL. Reads only: changes nothing. */
#include "check.h"
#include "commands.h"
#include "log.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_check(const struct cli *cli, int argc, char **argv)
{
	bool json;
	if (cli_parse_json_only("check", argc, argv, &json) != EXIT_OK)
		return EXIT_USAGE;
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	struct check_report r;
	check_report_init(&r);
	check_db(&cfg, &r);
	check_sync(&cfg, &r);
	check_cluster(&cfg, &r);
	char *out = json ? check_render_json(&r)
			 : check_render_text(&r, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	fputs(out, stdout);
	fflush(stdout);
	free(out);
	rc = check_failed(&r) ? EXIT_CHECK_FAILED : EXIT_OK;
	check_report_free(&r);
	config_free(&cfg);
	return rc;
}
