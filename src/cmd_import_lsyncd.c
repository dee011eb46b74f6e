/* lifeboat import-lsyncd FILE: print the lifeboat configuration that does
 * what an lsyncd configuration does (lsyncd_import). Needs no lifeboat
 * configuration of its own. */
#include "commands.h"
#include "log.h"
#include "lsyncd_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: lifeboat import-lsyncd FILE";

int cmd_import_lsyncd(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s\n\nPrint, on standard output, the lifeboat configuration equivalent to the "
		       "lsyncd\nconfiguration FILE (Lua, evaluated in a sandbox); what has no "
		       "equivalent is a\n';' comment naming its line.\n",
		       usage);
		return EXIT_OK;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
		log_error("import-lsyncd: %s (%s)", argc < 2 ? "which file?" : "one file, no options",
			  usage);
		return EXIT_USAGE;
	}
	char *out = NULL, *err = NULL;
	if (lsyncd_import(argv[1], &out, &err) < 0) {
		log_error("%s", err);
		bool internal = strstr(err, "(a bug)") != NULL;
		free(err);
		return internal ? EXIT_FAILED : EXIT_USAGE;
	}
	int rc = fputs(out, stdout) < 0 || fflush(stdout) != 0 ? EXIT_FAILED : EXIT_OK;
	if (rc != EXIT_OK)
		log_error("import-lsyncd: cannot write the configuration to standard output");
	free(out);
	return rc;
}
