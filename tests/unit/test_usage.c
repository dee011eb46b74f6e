/* Unit tests for the command table (usage.c): it is well formed (unique
 * names, every subcommand after a command that runs it, every option named
 * in its synopsis, one line of help each), a --help is found where main.c
 * looks for it, and the printed help carries every option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

static void test_table_well_formed(void **state)
{
	(void)state;
	for (size_t i = 0; i < usage_commands_count; i++) {
		const struct usage_command *c = &usage_commands[i];
		assert_non_null(c->synopsis);
		assert_non_null(c->summary);
		assert_null(strchr(c->summary, '\n'));
		assert_ptr_equal(usage_find(c->name), c); /* names are unique */
		const char *space = strchr(c->name, ' ');
		if (space) {
			/* "db clone": no handler of its own; "db" has one. */
			assert_null(c->run);
			char *parent = strndup(c->name, (size_t)(space - c->name));
			assert_non_null(usage_find_command(parent));
			free(parent);
		} else {
			assert_non_null(c->run);
		}
		for (const struct usage_option *o = c->options; o && o->name; o++) {
			assert_true(strncmp(o->name, "--", 2) == 0);
			assert_non_null(o->help);
			assert_null(strchr(o->help, '\n'));
			assert_non_null(strstr(c->synopsis, o->name));
			assert_true(o - c->options < USAGE_MAX_OPTIONS); /* usage_parse's room */
			for (const struct usage_option *p = c->options; p != o; p++)
				assert_string_not_equal(p->name, o->name);
		}
	}
}

static void test_find(void **state)
{
	(void)state;
	assert_non_null(usage_find_command("sync"));
	assert_null(usage_find_command("db clone")); /* not a command of its own */
	assert_null(usage_find_command("nosuch"));
	const struct usage_command *db = usage_find_command("db");
	assert_non_null(db);
	char *clone[] = {"db", "clone", "--force"};
	assert_string_equal(usage_most_specific(db, 3, clone)->name, "db clone");
	char *bare[] = {"db"};
	assert_ptr_equal(usage_most_specific(db, 1, bare), db);
	char *unknown[] = {"db", "nosuch"};
	assert_ptr_equal(usage_most_specific(db, 2, unknown), db);
	/* "clone" of another command is no subcommand. */
	const struct usage_command *sync = usage_find_command("sync");
	char *names[] = {"sync", "clone"};
	assert_ptr_equal(usage_most_specific(sync, 2, names), sync);
}

static void test_wants_help(void **state)
{
	(void)state;
	const struct usage_command *cmd = usage_find_command("failover");
	/* Words for another program: only right after the command. */
	const struct usage_command raw = {.name = "raw", .synopsis = "", .summary = "s",
					  .raw_args = true};
	char *a[] = {"failover", "--yes", "--help"};
	assert_true(usage_wants_help(cmd, 3, a));
	char *b[] = {"failover", "-h"};
	assert_true(usage_wants_help(cmd, 2, b));
	char *c[] = {"sync", "--", "-h"}; /* after "--": an argument */
	assert_false(usage_wants_help(cmd, 3, c));
	char *d[] = {"sync", "help", "--helpful"};
	assert_false(usage_wants_help(cmd, 3, d));
	char *e[] = {"--help"}; /* argv[0] is the command itself */
	assert_false(usage_wants_help(cmd, 1, e));
	char *f[] = {"raw", "rsync", "--help"};
	assert_false(usage_wants_help(&raw, 3, f));
	char *g[] = {"raw", "-h"};
	assert_true(usage_wants_help(&raw, 2, g));
}

/* The help of every entry names every option on a line of its own. */
static void test_print_has_every_option(void **state)
{
	(void)state;
	for (size_t i = 0; i < usage_commands_count; i++) {
		const struct usage_command *c = &usage_commands[i];
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		assert_non_null(f);
		usage_print_command(f, c);
		fclose(f);
		char *first = NULL;
		assert_true(asprintf(&first, "usage: lifeboat %s", c->name) > 0);
		assert_true(strncmp(text, first, strlen(first)) == 0);
		free(first);
		for (const struct usage_option *o = c->options; o && o->name; o++) {
			char *line = NULL;
			assert_true(asprintf(&line, "\n  %s", o->name) > 0);
			assert_non_null(strstr(text, line));
			free(line);
		}
		free(text);
	}
}

static void test_parse(void **state)
{
	(void)state;
	struct usage_args a;
	char *ok[] = {"restore", "--at", "-1h", "web", "--to=/tmp/x", "--", "--odd-name"};
	assert_int_equal(usage_parse("restore", 7, ok, &a), EXIT_OK);
	assert_string_equal(usage_value(&a, "--at"), "-1h"); /* a value may start with '-' */
	assert_string_equal(usage_value(&a, "--to"), "/tmp/x");
	assert_int_equal(a.n_words, 2);
	assert_string_equal(a.words[0], "web");
	assert_string_equal(a.words[1], "--odd-name");
	usage_args_free(&a);

	char *choice[] = {"clone", "--method", "dump", "--force"};
	assert_int_equal(usage_parse("db clone", 4, choice, &a), EXIT_OK);
	assert_true(usage_has(&a, "--force"));
	assert_string_equal(usage_value(&a, "--method"), "dump");
	assert_int_equal(usage_no_words(&a), EXIT_OK);
	usage_args_free(&a);

	char *bad_choice[] = {"clone", "--method", "tar"};
	assert_int_equal(usage_parse("db clone", 3, bad_choice, &a), EXIT_USAGE);
	char *unknown[] = {"status", "--bogus"};
	assert_int_equal(usage_parse("status", 2, unknown, &a), EXIT_USAGE);
	char *twice[] = {"status", "--json", "--json"};
	assert_int_equal(usage_parse("status", 3, twice, &a), EXIT_USAGE);
	char *missing[] = {"flush", "--timeout"};
	assert_int_equal(usage_parse("flush", 2, missing, &a), EXIT_USAGE);
	char *empty[] = {"drill", "--report", ""};
	assert_int_equal(usage_parse("drill", 3, empty, &a), EXIT_USAGE);
	char *flag_value[] = {"status", "--json=yes"};
	assert_int_equal(usage_parse("status", 2, flag_value, &a), EXIT_USAGE);
	char *word[] = {"status", "extra"};
	assert_int_equal(usage_parse("status", 2, word, &a), EXIT_OK);
	assert_int_equal(usage_no_words(&a), EXIT_USAGE);
	usage_args_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_well_formed),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_wants_help),
		cmocka_unit_test(test_print_has_every_option),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
