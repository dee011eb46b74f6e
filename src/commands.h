/* commands: one function per subcommand, one file per command (cmd_*.c),
 * git-style. main.c parses the global options and dispatches here. */
#ifndef LIFEBOAT_COMMANDS_H
#define LIFEBOAT_COMMANDS_H

#include "config.h"

/* Exit statuses of the SPEC. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_CHECK_FAILED = 3,
};

struct cli {
	const char *config_option; /* -c value or NULL */
	const char *config_path;   /* resolved path */
	int verbosity;             /* -1 quiet, 0 normal, 1 verbose */
};

/* Load the configuration for a command; on error logs the one-line message
 * and returns EXIT_USAGE. */
int cli_load_config(const struct cli *cli, struct config *cfg);
/* The exit status for a library result (result.h): LB_OK 0, LB_USAGE 2,
 * any other failure 1. The one place results become exit statuses. */
int cli_exit_status(int result);
/* For commands whose only option is --json: sets *json, or logs the bad
 * argument with the usage and returns EXIT_USAGE. */
int cli_parse_json_only(const char *command, int argc, char **argv, bool *json);

int cmd_sync(const struct cli *cli, int argc, char **argv);
int cmd_db(const struct cli *cli, int argc, char **argv);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_check(const struct cli *cli, int argc, char **argv);
int cmd_failover(const struct cli *cli, int argc, char **argv);
int cmd_switchover(const struct cli *cli, int argc, char **argv);
int cmd_drill(const struct cli *cli, int argc, char **argv);
int cmd_flush(const struct cli *cli, int argc, char **argv);
int cmd_reload(const struct cli *cli, int argc, char **argv);
int cmd_agent(const struct cli *cli, int argc, char **argv);
int cmd_import_lsyncd(const struct cli *cli, int argc, char **argv);
int cmd_version(const struct cli *cli, int argc, char **argv);
int cmd_help(const struct cli *cli, int argc, char **argv);
int cmd_serve(const struct cli *cli, int argc, char **argv);
int cmd_versions(const struct cli *cli, int argc, char **argv);
int cmd_restore(const struct cli *cli, int argc, char **argv);

#endif
