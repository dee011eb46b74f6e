/* usage: the command table (see usage.h) and the help printed from it. */
#include "usage.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A NULL-terminated option list, written inline in its command's entry. */
#define OPTIONS(...) ((const struct usage_option[]){__VA_ARGS__, {NULL, NULL, NULL, NULL}})
#define JSON_OPTION(what) {"--json", NULL, NULL, what " as JSON on standard output"}

const struct usage_option usage_global_options[] = {
	{"--config", "-c", "FILE",
	 "read the configuration from FILE (default: $LIFEBOAT_CONFIG, else "
	 "/etc/lifeboat/lifeboat.conf)"},
	{"--verbose", "-v", NULL, "also print debug messages"},
	{"--quiet", "-q", NULL, "print errors only"},
	{"--help", "-h", NULL, "print the list of commands (after a command: its options)"},
	{"--version", "-V", NULL, "print the version"},
	{NULL, NULL, NULL, NULL},
};

const struct usage_command usage_commands[] = {
	{.name = "sync",
	 .run = cmd_sync,
	 .synopsis = "[NAME...] [--once]",
	 .summary = "run live file replication of every [sync NAME] (or the NAMEs given), in the "
		    "foreground",
	 .options = OPTIONS({"--once", NULL, NULL,
			     "one full pass and a verification of each sync, then exit: 0 if every "
			     "target matches its source, 1 if not"})},
	{.name = "status",
	 .run = cmd_status,
	 .synopsis = "[--json]",
	 .summary = "state of the syncs, the database pair and the last failover",
	 .options = OPTIONS(JSON_OPTION("the status file itself"))},
	{.name = "db",
	 .run = cmd_db,
	 .synopsis = "SUBCOMMAND [OPTIONS]",
	 .summary = "database operations: status, clone, promote, fence, rejoin, heartbeat, "
		    "writable, privileges"},
	{.name = "db status",
	 .synopsis = "[--json]",
	 .summary = "roles, replication threads, GTID positions and lag of the primary and the "
		    "standby",
	 .options = OPTIONS(JSON_OPTION("the same"))},
	{.name = "db clone",
	 .synopsis = "[--method backup|dump] [--force]",
	 .summary = "seed the standby from the primary and start GTID replication",
	 .options = OPTIONS({"--method", NULL, "backup|dump",
			     "backup: a physical copy with mariadb-backup, run on the standby's "
			     "machine (the default); dump: a logical copy with mariadb-dump"},
			    {"--force", NULL, NULL,
			     "overwrite a standby that already holds databases"})},
	{.name = "db promote",
	 .synopsis = "[--force]",
	 .summary = "make the standby a writable primary, without a server restart",
	 .options = OPTIONS({"--force", NULL, NULL,
			     "promote even though the primary is still writable (two primaries "
			     "until it is fenced), or its SQL thread stopped on an error (what "
			     "was received after it is lost)"})},
	{.name = "db fence",
	 .synopsis = "[--server primary|standby]",
	 .summary = "make a server read-only, take READ_ONLY ADMIN from the accounts that "
		    "write through it and end their sessions",
	 .options = OPTIONS({"--server", NULL, "primary|standby",
			     "the server to fence (default: the primary)"})},
	{.name = "db rejoin",
	 .synopsis = "[--force]",
	 .summary = "make the old primary a replica of the new primary, detecting errant "
		    "transactions",
	 .options = OPTIONS({"--force", NULL, NULL,
			     "re-seed an old primary that has errant transactions (they stay in a "
			     "file in STATE_DIR)"})},
	{.name = "db writable",
	 .synopsis = "",
	 .summary = "turn writes on here, only on the primary-role node with the highest epoch "
		    "whose peer is read-only"},
	{.name = "db privileges",
	 .synopsis = "[--markdown] [USER [REPL_USER]]",
	 .summary = "print the GRANTs the lifeboat and replication accounts need (no "
		    "configuration read)",
	 .options = OPTIONS({"--markdown", NULL, NULL,
			     "the table of what each command needs, as docs/db.md shows it"})},
	{.name = "db heartbeat",
	 .synopsis = "",
	 .summary = "write the lifeboat.heartbeat row on the primary every second, in the "
		    "foreground"},
	{.name = "failover",
	 .run = cmd_failover,
	 .synopsis = "[--dry-run] [--yes] [--force] [--json]",
	 .summary = "the panic button: promote this node now",
	 .options = OPTIONS({"--dry-run", NULL, NULL,
			     "print every step with the SQL and commands it would run and the "
			     "expected loss; change nothing"},
			    {"--yes", NULL, NULL, "do not ask for confirmation"},
			    {"--force", NULL, NULL,
			     "go on past a check that would stop it: a live primary (it is "
			     "fenced), a failing pre_hook"},
			    JSON_OPTION("the report"))},
	{.name = "switchover",
	 .run = cmd_switchover,
	 .synopsis = "[--dry-run] [--yes] [--json] | --step-down [--epoch N]",
	 .summary = "planned role swap with zero data loss",
	 .options = OPTIONS({"--dry-run", NULL, NULL, "print every step it would run; change nothing"},
			    {"--yes", NULL, NULL, "do not ask for confirmation"},
			    JSON_OPTION("the report"),
			    {"--step-down", NULL, NULL,
			     "the old primary's side (run over peer_command): release the address, "
			     "become a standby"},
			    {"--epoch", NULL, "N",
			     "with --step-down: adopt the new primary's role epoch N"})},
	{.name = "check",
	 .run = cmd_check,
	 .synopsis = "[--json] | --disk-probe PATH [--json]",
	 .summary = "readiness doctor: every rule PASS/WARN/FAIL with its fix; exit 3 on a FAIL",
	 .options = OPTIONS(JSON_OPTION("the rules (or the disk probe's figures)"),
			    {"--disk-probe", NULL, "PATH",
			     "only measure the file system holding PATH (random reads, writes), no "
			     "configuration needed: what check runs on a remote DR node"})},
	{.name = "drill",
	 .run = cmd_drill,
	 .synopsis = "[--json] [--report FILE] [--crash] | --kill-local-database",
	 .summary = "rehearse a switchover to DR and back: RTO, RPO, verification",
	 .options = OPTIONS(JSON_OPTION("the report"),
			    {"--report", NULL, "FILE",
			     "also write the report as a self-contained HTML page"},
			    {"--crash", NULL, NULL,
			     "kill the primary's database and fail over instead (lab setups: needs "
			     "drill_allow_crash = yes)"},
			    {"--kill-local-database", NULL, NULL,
			     "what --crash runs on the primary's node over peer_command: kill its "
			     "mariadbd"})},
	{.name = "flush",
	 .run = cmd_flush,
	 .synopsis = "[NAME...] [--timeout SECONDS]",
	 .summary = "return once every change made on the source before the call is on the "
		    "target; 1 on timeout, naming what is pending",
	 .options = OPTIONS({"--timeout", NULL, "SECONDS",
			     "give up after this long (default 60)"})},
	{.name = "reload",
	 .run = cmd_reload,
	 .synopsis = "[NAME...]",
	 .summary = "make the running sync daemons (of the NAMEs given, or all) reload their "
		    "configuration, role and epoch and reopen the log"},
	{.name = "agent",
	 .run = cmd_agent,
	 .synopsis = "[--pause | --resume | --failsafe-probe NODE]",
	 .summary = "automatic failover on etcd ([cluster]): hold or watch the leader lease, fence "
		    "this node when it cannot renew, fail over when the primary's lease expired",
	 .options = OPTIONS({"--pause", NULL, NULL,
			     "automatic failover off, for maintenance (until --resume)"},
			    {"--resume", NULL, NULL,
			     "arm automatic failover again (it stays off after an automatic one)"},
			    {"--failsafe-probe", NULL, "NODE",
			     "what a primary that cannot reach etcd asks this node over "
			     "peer_command: it answers whether it can reach etcd, and if not "
			     "promises not to promote for ttl seconds"})},
	{.name = "import-lsyncd",
	 .run = cmd_import_lsyncd,
	 .synopsis = "FILE",
	 .summary = "print the lifeboat configuration equivalent to an lsyncd configuration"},
	{.name = "serve",
	 .run = cmd_serve,
	 .synopsis = "[REQUEST...]",
	 .summary = "what a peer's ssh key runs on this node (restrict,command=\"lifeboat serve\" "
		    "in authorized_keys): answers its syncs, refuses everything else",
	 .raw_args = true},
	{.name = "versions",
	 .run = cmd_versions,
	 .synopsis = "PATH [--json]",
	 .summary = "the versions of PATH that the target's history keeps, across renames, newest first",
	 .options = OPTIONS(JSON_OPTION("the versions"))},
	{.name = "restore",
	 .run = cmd_restore,
	 .synopsis = "[--at TIME] [--to DIR] PATH...",
	 .summary = "bring PATH back from the target's history as it was at TIME",
	 .options = OPTIONS({"--at", NULL, "TIME",
			     "ISO 8601 (2026-12-06T09:30:00Z), or -15m, -2h, -1d; default now"},
			    {"--to", NULL, "DIR",
			     "restore into DIR/NAME and leave the source alone"})},
	{.name = "version", .run = cmd_version, .synopsis = "", .summary = "print the version"},
	{.name = "help",
	 .run = cmd_help,
	 .synopsis = "[COMMAND [SUBCOMMAND]] | --dump-usage",
	 .summary = "list the commands, or show one command's usage and options",
	 .options = OPTIONS({"--dump-usage", NULL, NULL,
			     "print this table of commands and options as tab-separated lines (for "
			     "tests and scripts)"})},
};

const size_t usage_commands_count = sizeof(usage_commands) / sizeof(usage_commands[0]);

const struct usage_command *usage_find(const char *name)
{
	for (size_t i = 0; i < usage_commands_count; i++)
		if (strcmp(usage_commands[i].name, name) == 0)
			return &usage_commands[i];
	return NULL;
}

const struct usage_command *usage_find_command(const char *name)
{
	const struct usage_command *c = usage_find(name);
	return c && c->run ? c : NULL;
}

/* Whether C is a subcommand of PARENT ("db clone" of "db"). */
static bool is_sub_of(const struct usage_command *c, const struct usage_command *parent)
{
	size_t n = strlen(parent->name);
	return strncmp(c->name, parent->name, n) == 0 && c->name[n] == ' ';
}

const struct usage_command *usage_most_specific(const struct usage_command *cmd, int argc,
						char **argv)
{
	if (argc < 2)
		return cmd;
	for (size_t i = 0; i < usage_commands_count; i++) {
		const struct usage_command *c = &usage_commands[i];
		if (is_sub_of(c, cmd) && strcmp(c->name + strlen(cmd->name) + 1, argv[1]) == 0)
			return c;
	}
	return cmd;
}

bool usage_wants_help(const struct usage_command *cmd, int argc, char **argv)
{
	int last = cmd->raw_args && argc > 2 ? 2 : argc;
	for (int i = 1; i < last; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int usage_refuse(const char *name, const char *arg)
{
	const struct usage_command *c = usage_find(name);
	log_error("%s: unknown argument '%s' (usage: lifeboat %s%s%s; 'lifeboat %s --help' lists "
		  "the options)",
		  name, arg, name, c && *c->synopsis ? " " : "", c ? c->synopsis : "", name);
	return EXIT_USAGE;
}

static int option_index(const struct usage_command *c, const char *arg, size_t len)
{
	for (int i = 0; c->options && c->options[i].name; i++) {
		const struct usage_option *o = &c->options[i];
		if ((strlen(o->name) == len && !strncmp(o->name, arg, len)) ||
		    (o->alias && strlen(o->alias) == len && !strncmp(o->alias, arg, len)))
			return i;
	}
	return -1;
}

/* Is v one of "a|b|c"? An ARG without '|' takes anything but "". */
static bool value_allowed(const char *choices, const char *v)
{
	if (!strchr(choices, '|'))
		return *v != '\0';
	size_t n = strlen(v);
	for (const char *p = choices; p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && !strncmp(p, v, n))
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* One option at argv[*i]: 0, or EXIT_USAGE. */
static int take_option(struct usage_args *a, const char *name, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
	int k = option_index(a->cmd, arg, eq ? (size_t)(eq - arg) : strlen(arg));
	if (k < 0)
		return usage_refuse(name, arg);
	const struct usage_option *o = &a->cmd->options[k];
	if (a->value[k]) {
		log_error("%s: %s given twice", name, o->name);
		return EXIT_USAGE;
	}
	if (!o->arg) {
		if (eq)
			return usage_refuse(name, arg);
		a->value[k] = "";
		return 0;
	}
	const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
	if (!v || !value_allowed(o->arg, v)) {
		log_error("%s: %s needs %s%s%s%s", name, o->name, o->arg, v ? ", not '" : "",
			  v ? v : "", v ? "'" : "");
		return EXIT_USAGE;
	}
	a->value[k] = v;
	return 0;
}

int usage_parse(const char *name, int argc, char **argv, struct usage_args *a)
{
	memset(a, 0, sizeof(*a));
	a->cmd = usage_find(name);
	a->words = xcalloc((size_t)argc + 1, sizeof(*a->words));
	bool options = true;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (options && !strcmp(arg, "--")) {
			options = false;
		} else if (options && arg[0] == '-' && arg[1]) {
			if (!a->cmd || take_option(a, name, argc, argv, &i) != 0) {
				if (!a->cmd)
					usage_refuse(name, arg);
				usage_args_free(a);
				return EXIT_USAGE;
			}
		} else {
			a->words[a->n_words++] = arg;
		}
	}
	return EXIT_OK;
}

void usage_args_free(struct usage_args *a)
{
	free(a->words);
	a->words = NULL;
	a->n_words = 0;
}

static int known_index(const struct usage_args *a, const char *opt)
{
	int k = a->cmd ? option_index(a->cmd, opt, strlen(opt)) : -1;
	if (k < 0)
		log_error("internal: %s has no option %s in the usage table",
			  a->cmd ? a->cmd->name : "?", opt);
	return k;
}

bool usage_has(const struct usage_args *a, const char *opt)
{
	int k = known_index(a, opt);
	return k >= 0 && a->value[k];
}

const char *usage_value(const struct usage_args *a, const char *opt)
{
	int k = known_index(a, opt);
	return k >= 0 && a->value[k] && *a->value[k] ? a->value[k] : NULL;
}

int usage_no_words(const struct usage_args *a)
{
	return a->n_words ? usage_refuse(a->cmd ? a->cmd->name : "lifeboat", a->words[0])
			  : EXIT_OK;
}

/* "-c, --config FILE": the left column of an option's line. */
static void option_label(const struct usage_option *o, char *label, size_t size)
{
	snprintf(label, size, "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "",
		 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void print_options(FILE *out, const struct usage_option *opts)
{
	char label[128];
	int width = 0;
	for (const struct usage_option *o = opts; o->name; o++) {
		option_label(o, label, sizeof(label));
		if ((int)strlen(label) > width)
			width = (int)strlen(label);
	}
	for (const struct usage_option *o = opts; o->name; o++) {
		option_label(o, label, sizeof(label));
		fprintf(out, "  %-*s  %s\n", width, label, o->help);
	}
}

/* Whether C is listed under PARENT: a subcommand of it, or (PARENT NULL)
 * a top-level command. */
static bool listed_under(const struct usage_command *c, const struct usage_command *parent)
{
	return parent ? is_sub_of(c, parent) : c->run != NULL;
}

/* The commands under PARENT (NULL: the top-level ones), one line each, the
 * summaries aligned; how many there are. */
static int print_commands(FILE *out, const struct usage_command *parent, const char *title)
{
	size_t skip = parent ? strlen(parent->name) + 1 : 0;
	int width = 0, count = 0;
	for (size_t i = 0; i < usage_commands_count; i++)
		if (listed_under(&usage_commands[i], parent) &&
		    (int)strlen(usage_commands[i].name + skip) > width)
			width = (int)strlen(usage_commands[i].name + skip);
	for (size_t i = 0; i < usage_commands_count; i++) {
		if (!listed_under(&usage_commands[i], parent))
			continue;
		if (count++ == 0)
			fprintf(out, "%s:\n", title);
		fprintf(out, "  %-*s  %s\n", width, usage_commands[i].name + skip,
			usage_commands[i].summary);
	}
	return count;
}

void usage_print_command(FILE *out, const struct usage_command *c)
{
	fprintf(out, "usage: lifeboat %s%s%s\n\n%c%s.\n", c->name, *c->synopsis ? " " : "",
		c->synopsis, toupper((unsigned char)c->summary[0]), c->summary + 1);
	if (c->options) {
		fputs("\noptions:\n", out);
		print_options(out, c->options);
	}
	fputc('\n', out);
	if (print_commands(out, c, "subcommands") > 0)
		fprintf(out, "\n'lifeboat %s SUBCOMMAND --help' shows a subcommand's options.\n\n",
			c->name);
	fputs("Global options (-c FILE, -v, -q) go before the command; see 'lifeboat help' "
	      "and lifeboat(8).\n",
	      out);
}

void usage_print_list(FILE *out)
{
	fputs("usage: lifeboat [-c FILE] [-v|-q] COMMAND [ARGS...]\n\n", out);
	print_commands(out, NULL, "commands");
	fputs("\nglobal options:\n", out);
	print_options(out, usage_global_options);
	fputs("\n'lifeboat COMMAND --help' or 'lifeboat help COMMAND' shows a command's options; "
	      "lifeboat(8) has the details.\n",
	      out);
}

static void dump_options(FILE *out, const char *name, const struct usage_option *opts)
{
	for (const struct usage_option *o = opts; o && o->name; o++) {
		fprintf(out, "option\t%s\t%s\t%s\n", name, o->name, o->arg ? o->arg : "");
		if (o->alias)
			fprintf(out, "option\t%s\t%s\t%s\n", name, o->alias, o->arg ? o->arg : "");
	}
}

void usage_dump(FILE *out)
{
	dump_options(out, "", usage_global_options);
	for (size_t i = 0; i < usage_commands_count; i++) {
		const struct usage_command *c = &usage_commands[i];
		fprintf(out, "command\t%s\t%s\t%s\n", c->name, c->synopsis, c->raw_args ? "raw_args" : "");
		dump_options(out, c->name, c->options);
	}
}
