/* Unit tests for json.c: JSON is written by json-c, so UTF-8 names pass
 * through unchanged (/srv/café reads back as /srv/café, not /srv/cafÃ©) and
 * what needs escaping is escaped; null stays null. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json.h"
#include "util.h"

static char *written(const char *s)
{
	struct buf b;
	buf_init(&b);
	json_emit(&b, json_string_or_null(s));
	b.data[--b.len] = '\0'; /* json_emit's newline */
	return buf_steal(&b);
}

static void test_utf8_round_trip(void **state)
{
	(void)state;
	char *text = written("/srv/café/répertoire");
	assert_string_equal(text, "\"/srv/café/répertoire\"");
	json_object *o = json_tokener_parse(text);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(o), "/srv/café/répertoire");
	json_object_put(o);
	free(text);
}

static void test_escapes(void **state)
{
	(void)state;
	char *text = written("a\"b\\c\nd\te/f\x01");
	json_object *o = json_tokener_parse(text);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(o), "a\"b\\c\nd\te/f\x01");
	assert_null(strchr(text, '\n')); /* one line */
	assert_non_null(strstr(text, "e/f")); /* slashes are not escaped */
	json_object_put(o);
	free(text);
}

static void test_null_and_numbers(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_string_or_null(NULL));
	json_object_object_add(o, "when", json_time_new(0));
	json_object_object_add(o, "at", json_time_new(86400));
	json_object_object_add(o, "unknown", json_fixed_new(-1, 3));
	json_object_object_add(o, "rate", json_fixed_new(12.345, 1));
	json_object_object_add(o, "count", json_fixed_new(7, 0));
	json_emit(&b, o);
	assert_string_equal(b.data, "{\"name\":null,\"when\":null,\"at\":\"1970-01-02T00:00:00Z\","
				    "\"unknown\":null,\"rate\":12.3,\"count\":7}\n");
	buf_free(&b);
	json_object *s = json_seconds_new(1.5);
	assert_string_equal(json_text(s), "1.500");
	json_object_put(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_round_trip),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_null_and_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
