/* usage: the command table, the one place that says what lifeboat accepts.
 * Each entry is a command (or a subcommand, "db clone") with its handler,
 * synopsis, one-line summary and every option with a one-line help.
 * main.c dispatches through it and answers `COMMAND --help` from it;
 * `lifeboat help` prints from it; `lifeboat help --dump-usage` prints it for
 * the tests that hold the man page, the bash completion and the commands'
 * own argument parsers to it (tests/integration/help_table.sh).
 *
 * A new command adds one entry to usage_commands[] in usage.c (a
 * subcommand: an entry named "COMMAND SUB" with no handler, after its
 * command), with designated initializers: .name, .run, .synopsis,
 * .summary, .options (OPTIONS({"--opt", NULL, "ARG" or NULL, "help"}, ...)). */
#ifndef LIFEBOAT_USAGE_H
#define LIFEBOAT_USAGE_H

#include "commands.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct usage_option {
	const char *name;  /* "--json" */
	const char *alias; /* a short form ("-c"), or NULL */
	const char *arg;   /* what follows it: "FILE", "N", "backup|dump" (the
			    * values it takes); NULL: a flag */
	const char *help;  /* one line */
};

struct usage_command {
	const char *name; /* "sync"; a subcommand: "db clone" */
	/* NULL for a subcommand: its command's handler runs it. */
	int (*run)(const struct cli *cli, int argc, char **argv);
	const char *synopsis; /* what follows "lifeboat NAME", "" if nothing */
	const char *summary;  /* one line, for the list of commands */
	const struct usage_option *options; /* ends with a NULL name; NULL: none */
	/* Its arguments are words for another program (serve's request): only
	 * a --help or -h right after the command asks for help. */
	bool raw_args;
};

extern const struct usage_command usage_commands[];
extern const size_t usage_commands_count;
/* The options main.c takes before the command. */
extern const struct usage_option usage_global_options[];

/* The entry named NAME ("db", "db clone"), or NULL. */
const struct usage_command *usage_find(const char *name);
/* The top-level command NAME that has a handler, or NULL. */
const struct usage_command *usage_find_command(const char *name);
/* For a command's argv (argv[0] the command): the subcommand's entry when
 * argv[1] names one, else the command's own. */
const struct usage_command *usage_most_specific(const struct usage_command *cmd, int argc,
						char **argv);
/* Whether the argv of command CMD asks for help: "--help" or "-h" among
 * argv[1..] before any "--" (only argv[1] for raw_args). */
bool usage_wants_help(const struct usage_command *cmd, int argc, char **argv);

/* A command line read by the table: the options of its entry that were
 * given and the words that are not options. The one option parser of the
 * commands, so what a command accepts is what `--help` says. */
#define USAGE_MAX_OPTIONS 16
struct usage_args {
	const struct usage_command *cmd;
	const char *value[USAGE_MAX_OPTIONS]; /* as cmd->options: NULL not given,
					       * "" a flag given, else its ARG */
	const char **words;		      /* borrowed from argv, in order */
	int n_words;
};
/* Read argv[1..] by the entry NAME ("restore", "db clone"): "--opt ARG",
 * "--opt=ARG", an alias; "--" ends the options. An ARG written "a|b" must
 * be one of those values. Unknown, repeated or incomplete options are
 * refused with one line naming them: EXIT_USAGE. EXIT_OK, with a filled
 * (free it with usage_args_free). */
int usage_parse(const char *name, int argc, char **argv, struct usage_args *a);
void usage_args_free(struct usage_args *a);
/* Whether OPT (as named in the table) was given; its ARG, or NULL. */
bool usage_has(const struct usage_args *a, const char *opt);
const char *usage_value(const struct usage_args *a, const char *opt);
/* Refuse words when the command takes none (EXIT_USAGE), else EXIT_OK. */
int usage_no_words(const struct usage_args *a);

/* A parser's refusal of ARG, from the table: logs "NAME: unknown argument
 * 'ARG' (usage: lifeboat NAME SYNOPSIS; ...)" and returns EXIT_USAGE. */
int usage_refuse(const char *name, const char *arg);

/* `lifeboat COMMAND --help`: the synopsis, the summary, one line per option
 * (or per subcommand). */
void usage_print_command(FILE *out, const struct usage_command *c);
/* `lifeboat help`: the global synopsis, the commands and global options. */
void usage_print_list(FILE *out);
/* `lifeboat help --dump-usage`: the whole table, tab-separated:
 *   command NAME SYNOPSIS FLAGS  (FLAGS: raw_args or empty)
 *   option  NAME OPTION ARG   (NAME empty for a global option)      */
void usage_dump(FILE *out);

#endif
