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
	json_str(&b, s);
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

static void test_null_and_keys(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	bool first = true;
	buf_addc(&b, '{');
	json_key(&b, "name", &first);
	json_str(&b, NULL);
	json_key(&b, "when", &first);
	json_time(&b, 0);
	json_key(&b, "at", &first);
	json_time(&b, 86400);
	buf_addc(&b, '}');
	assert_string_equal(b.data, "{\"name\":null,\"when\":null,\"at\":\"1970-01-02T00:00:00Z\"}");
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
		cmocka_unit_test(test_null_and_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
