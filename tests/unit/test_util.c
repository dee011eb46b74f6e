/* util: the number, boolean and path helpers the configuration relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "util.h"

/* Unit tests link every object but main.o, which defines this; a weak
 * stand-in lets them link, and yields to the real one wherever it moves. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static bool long_ok(const char *s, long min, long max, long want)
{
	long v = 12345;
	return parse_long(s, min, max, &v) && v == want;
}

static bool long_bad(const char *s, long min, long max)
{
	long v = 12345;
	return !parse_long(s, min, max, &v) && v == 12345; /* untouched on error */
}

static void test_parse_long_accepts_decimal(void **state)
{
	(void)state;
	assert_true(long_ok("0", 0, 10, 0));
	assert_true(long_ok("22", 1, 65535, 22));
	assert_true(long_ok("65535", 1, 65535, 65535));
	assert_true(long_ok("010", 0, 100, 10)); /* decimal, not octal */
	assert_true(long_ok("-5", -10, 10, -5));
	assert_true(long_ok("9223372036854775807", 0, 9223372036854775807L, 9223372036854775807L));
}

static void test_parse_long_rejects_junk(void **state)
{
	(void)state;
	const char *bad[] = {"", "-", "+", "+5", " 5", "\t5", "\v5", "5 ", "5x", "0x10",
			     "1e3", "1.5", "nan", "inf", "-inf", "1 000", "--1", "- 1"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		if (!long_bad(bad[i], -100000, 100000))
			fail_msg("parse_long accepted '%s'", bad[i]);
	}
	assert_false(parse_long(NULL, 0, 1, &(long){0}));
}

static void test_parse_long_range_and_overflow(void **state)
{
	(void)state;
	assert_true(long_bad("-1", 0, 100));
	assert_true(long_bad("101", 0, 100));
	assert_true(long_bad("0", 1, 65535));
	assert_true(long_bad("65536", 1, 65535));
	assert_true(long_bad("9223372036854775808", 0, 9223372036854775807L));
	assert_true(long_bad("-9223372036854775809", -9223372036854775807L - 1, 0));
	assert_true(long_bad("99999999999999999999999999", 0, 100));
}

static bool secs_ok(const char *s, double max, double want)
{
	double v = -1;
	return parse_seconds(s, max, &v) && v == want;
}

static void test_parse_seconds_accepts_decimals(void **state)
{
	(void)state;
	assert_true(secs_ok("0", 10, 0));
	assert_true(secs_ok("0.2", 10, 0.2));
	assert_true(secs_ok(".5", 10, 0.5));
	assert_true(secs_ok("1.", 10, 1.0));
	assert_true(secs_ok("20", 86400, 20));
	assert_true(secs_ok("86400", 86400, 86400));
	assert_true(secs_ok("007", 10, 7));
}

static void test_parse_seconds_rejects_junk(void **state)
{
	(void)state;
	const char *bad[] = {"",    "-1",    "+1",   " 1",   "1 ",    "1e3",  "1E3", "0x10",
			     "nan", "NaN",   "inf",  "-inf", "infinity", ".", "1.2.3", "1,5",
			     "1s",  "86401", "86400.01",
			     "99999999999999999999999999999999999999999999999999999999999999999999"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		double v = 42;
		if (parse_seconds(bad[i], 86400, &v) || v != 42)
			fail_msg("parse_seconds accepted '%s'", bad[i]);
	}
	assert_false(parse_seconds(NULL, 1, &(double){0}));
}

static void test_parse_bool(void **state)
{
	(void)state;
	const char *yes[] = {"yes", "YES", "true", "True", "on", "1"};
	const char *no[] = {"no", "No", "false", "FALSE", "off", "0"};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		bool v = false;
		assert_true(parse_bool(yes[i], &v));
		assert_true(v);
		v = true;
		assert_true(parse_bool(no[i], &v));
		assert_false(v);
	}
	const char *bad[] = {"", "y", "n", "2", "yess", "enable", " yes", "on "};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		bool v = true;
		if (parse_bool(bad[i], &v) || !v)
			fail_msg("parse_bool accepted '%s'", bad[i]);
	}
}

static void check_normalise(const char *in, const char *want)
{
	char *got = path_normalise(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_path_normalise(void **state)
{
	(void)state;
	check_normalise("/", "/");
	check_normalise("//", "/");
	check_normalise("/var/www/", "/var/www");
	check_normalise("/var/www///", "/var/www");
	check_normalise("/var/www", "/var/www");
}

static void test_path_is_within(void **state)
{
	(void)state;
	assert_true(path_is_within("/srv/www", "/srv/www"));
	assert_true(path_is_within("/srv/www/a", "/srv/www"));
	assert_false(path_is_within("/srv/www2", "/srv/www")); /* a prefix is not a parent */
	assert_false(path_is_within("/srv", "/srv/www"));
	assert_true(path_is_within("/anything", "/"));
	assert_true(path_is_within("/", "/"));
	assert_false(path_is_within("/srv/ww", "/srv/www"));
}

static void test_strv_push_split(void **state)
{
	(void)state;
	struct strv v;
	strv_init(&v);
	strv_push_split(&v, "  -o StrictHostKeyChecking=yes\t-p  22 ");
	assert_int_equal(v.len, 4);
	assert_string_equal(v.items[0], "-o");
	assert_string_equal(v.items[1], "StrictHostKeyChecking=yes");
	assert_string_equal(v.items[2], "-p");
	assert_string_equal(v.items[3], "22");
	assert_null(v.items[4]);
	strv_push_split(&v, "   ");
	assert_int_equal(v.len, 4);
	strv_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long_accepts_decimal),
		cmocka_unit_test(test_parse_long_rejects_junk),
		cmocka_unit_test(test_parse_long_range_and_overflow),
		cmocka_unit_test(test_parse_seconds_accepts_decimals),
		cmocka_unit_test(test_parse_seconds_rejects_junk),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_path_normalise),
		cmocka_unit_test(test_path_is_within),
		cmocka_unit_test(test_strv_push_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
