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
	struct usage_args a;
	int rc = usage_parse("import-lsyncd", argc, argv, &a);
	if (rc)
		return rc;
	int n = a.n_words;
	const char *file = n ? a.words[0] : NULL;
	usage_args_free(&a);
	if (n != 1) {
		log_error("import-lsyncd: %s (usage: lifeboat import-lsyncd FILE)",
			  n < 1 ? "which file?" : "one file at a time");
		return EXIT_USAGE;
	}
	char *out = NULL, *err = NULL;
	if (lsyncd_import(file, &out, &err) < 0) {
		log_error("%s", err);
		bool internal = strstr(err, "(a bug)") != NULL;
		free(err);
		return internal ? EXIT_FAILED : EXIT_USAGE;
	}
	rc = fputs(out, stdout) < 0 || fflush(stdout) != 0 ? EXIT_FAILED : EXIT_OK;
	if (rc != EXIT_OK)
		log_error("import-lsyncd: cannot write the configuration to standard output");
	free(out);
	return rc;
}
