/* privileges: the GRANTs made from the one table are valid (ALL PRIVILEGES
 * alone, no privilege twice, one statement per ON clause) and every row of
 * the table is sane. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "privileges.h"

/* Unit tests link every object but main.o, which defines this. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static void test_day_to_day_grant(void **state)
{
	(void)state;
	char *g = priv_grant_sql(NULL, false, "lb");
	assert_non_null(strstr(g, "READ_ONLY ADMIN"));
	assert_non_null(strstr(g, " ON *.* TO 'lb'@'%' WITH GRANT OPTION;"));
	assert_non_null(strstr(g, " ON lifeboat.* TO 'lb'@'%';"));
	assert_null(strstr(g, "ALL PRIVILEGES"));
	/* No privilege twice in the *.* statement. */
	const char *end = strstr(g, " ON *.*");
	assert_non_null(end);
	const char *first = strstr(g, "BINLOG MONITOR");
	assert_true(first && first < end);
	const char *again = strstr(first + 1, "BINLOG MONITOR");
	assert_true(!again || again > end);
	free(g);
}

static void test_clone_dump_grant_is_all_alone(void **state)
{
	(void)state;
	char *g = priv_grant_sql("clone-dump", false, "lb");
	assert_string_equal(g, "GRANT ALL PRIVILEGES ON *.* TO 'lb'@'%' WITH GRANT OPTION;");
	free(g);
}

static void test_replication_grant(void **state)
{
	(void)state;
	char *g = priv_grant_sql("replication", true, "repl");
	assert_string_equal(g, "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';");
	free(g);
}

static void test_table_rows(void **state)
{
	(void)state;
	for (unsigned i = 0; i < priv_table_len; i++) {
		const struct priv_need *n = &priv_table[i];
		assert_true(n->side >= PRIV_SOURCE && n->side <= PRIV_BOTH);
		assert_true(strcmp(n->on, "*.*") == 0 || strcmp(n->on, "lifeboat.*") == 0);
		assert_true(n->privileges[0] && n->why[0]);
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	priv_markdown(f);
	fclose(f);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, priv_table_len + 2);
	free(buf);
}

static void test_grants(void **state)
{
	(void)state;
	static const char *const want[] = {"READ_ONLY ADMIN", "RELOAD", "SLAVE MONITOR"};
	char *all[] = {"GRANT ALL PRIVILEGES ON *.* TO `lifeboat`@`%` WITH GRANT OPTION"};
	assert_null(priv_lines_missing(all, 1, want, 3));
	char *some[] = {"GRANT RELOAD, SLAVE MONITOR ON *.* TO `lb`@`%`",
			"GRANT SELECT ON `mysql`.* TO `lb`@`%`"};
	char *m = priv_lines_missing(some, 2, want, 3);
	assert_string_equal(m, "READ_ONLY ADMIN");
	free(m);
	/* A grant on one database is not a global one. */
	char *db_only[] = {"GRANT ALL PRIVILEGES ON `app`.* TO `lb`@`%`"};
	m = priv_lines_missing(db_only, 1, want, 3);
	assert_string_equal(m, "READ_ONLY ADMIN, RELOAD, SLAVE MONITOR");
	free(m);
	/* REPLICATION SLAVE ADMIN is not REPLICATION SLAVE. */
	static const char *const repl[] = {"REPLICATION SLAVE"};
	char *admin[] = {"GRANT REPLICATION SLAVE ADMIN ON *.* TO `repl`@`%`"};
	m = priv_lines_missing(admin, 1, repl, 1);
	assert_string_equal(m, "REPLICATION SLAVE");
	free(m);
	char *ok[] = {"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%` IDENTIFIED BY PASSWORD '*X'"};
	assert_null(priv_lines_missing(ok, 1, repl, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_day_to_day_grant),
		cmocka_unit_test(test_clone_dump_grant_is_all_alone),
		cmocka_unit_test(test_replication_grant),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_grants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
