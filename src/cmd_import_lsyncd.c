/* lifeboat import-lsyncd FILE: print the lifeboat configuration that does
 * what an lsyncd configuration does (lsyncd_import). Needs no lifeboat
 * configuration of its own. */
#include "commands.h"
#include "log.h"
#include "lsyncd_import.h"
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --help never reaches here: main.c answers it from the command table. */
int cmd_import_lsyncd(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1])
			return usage_refuse("import-lsyncd", argv[i]);
	if (argc != 2) {
		log_error("import-lsyncd: %s (usage: lifeboat import-lsyncd FILE)",
			  argc < 2 ? "which file?" : "one file at a time");
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
