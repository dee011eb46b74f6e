/* ini: the tokenizer under the configuration, checked event by event with
 * the line numbers it reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ini.h"
#include "util.h"

/* Unit tests link every object but main.o, which defines this; a weak
 * stand-in lets them link, and yields to the real one wherever it moves. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

/* Every event as one text line: "LINE [SECTION]" or "LINE SECTION: KEY=VALUE".
 * A key named "refuse" makes the handler return an error. */
static const char *record(void *ctx, int line, const char *section, const char *key,
			  const char *value)
{
	struct buf *b = ctx;
	if (!key)
		buf_addf(b, "%d [%s]\n", line, section);
	else
		buf_addf(b, "%d %s: %s=%s\n", line, section, key, value);
	return key && strcmp(key, "refuse") == 0 ? "refused by handler" : NULL;
}

struct parsed {
	int rc;
	char *events;
	char *err;
};

static struct parsed parse_n(const char *text, size_t len)
{
	struct buf b;
	buf_init(&b);
	struct parsed p;
	p.rc = ini_parse("t.conf", text, len, record, &b, &p.err);
	p.events = buf_steal(&b);
	return p;
}

static struct parsed parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void parsed_free(struct parsed *p)
{
	free(p->events);
	free(p->err);
}

/* The text parses and yields exactly these events. */
static void expect_events(const char *text, const char *events)
{
	struct parsed p = parse(text);
	if (p.rc != 0)
		fail_msg("unexpected error: %s", p.err);
	assert_null(p.err);
	assert_string_equal(p.events, events);
	parsed_free(&p);
}

/* The text is refused with exactly this message. */
static void expect_error_n(const char *text, size_t len, const char *err)
{
	struct parsed p = parse_n(text, len);
	assert_int_equal(p.rc, -1);
	assert_non_null(p.err);
	assert_string_equal(p.err, err);
	parsed_free(&p);
}

static void expect_error(const char *text, const char *err)
{
	expect_error_n(text, strlen(text), err);
}

static void test_sections_and_keys_with_lines(void **state)
{
	(void)state;
	expect_events("[a]\nk = v\n\n[b c]\n  x=1\ny\t=\t2  \n",
		      "1 [a]\n2 a: k=v\n4 [b c]\n5 b c: x=1\n6 b c: y=2\n");
	expect_events("", "");
	expect_events("\n\n\n", "");
	expect_events("[a]\nlast = no newline", "1 [a]\n2 a: last=no newline\n");
	expect_events("[ spaced  name ]\n", "1 [spaced  name]\n");
}

static void test_values(void **state)
{
	(void)state;
	expect_events("[s]\nempty =\nalso_empty =   \neq = a=b=c\nsp = a b  c\n",
		      "1 [s]\n2 s: empty=\n3 s: also_empty=\n4 s: eq=a=b=c\n5 s: sp=a b  c\n");
}

static void test_full_line_comments(void **state)
{
	(void)state;
	expect_events("; one\n# two\n[s]\n  ; indented\n\t# tab\nk = v\n", "3 [s]\n6 s: k=v\n");
}

static void test_inline_comments_need_a_blank(void **state)
{
	(void)state;
	expect_events("[s]\n"
		      "a = x ; comment\n"
		      "b = x\t# comment\n"
		      "c = x;y\n"
		      "d = x#y\n"
		      "e = *.tmp   ; list\n"
		      "f = ; only a comment\n"
		      "g = x ;a ;b\n",
		      "1 [s]\n2 s: a=x\n3 s: b=x\n4 s: c=x;y\n5 s: d=x#y\n6 s: e=*.tmp\n7 s: f=\n"
		      "8 s: g=x\n");
	expect_events("[s] ; header comment\n[t] # too\n", "1 [s]\n2 [t]\n");
}

static void test_bom(void **state)
{
	(void)state;
	expect_events("\xEF\xBB\xBF[s]\nk = v\n", "1 [s]\n2 s: k=v\n");
	expect_events("\xEF\xBB\xBF; comment\n[s]\n", "2 [s]\n");
	expect_events("\xEF\xBB\xBF", "");
	/* Only at the very start of the file: later it is part of the key. */
	expect_events("[s]\n\xEF\xBB\xBFk = v\n", "1 [s]\n2 s: \xEF\xBB\xBFk=v\n");
}

static void test_crlf(void **state)
{
	(void)state;
	expect_events("[s]\r\nk = v\r\n\r\nx = a b ; c\r\nempty =\r\n",
		      "1 [s]\n2 s: k=v\n4 s: x=a b\n5 s: empty=\n");
	expect_events("\xEF\xBB\xBF[s]\r\n", "1 [s]\n");
	expect_error("[s]\r\nk = v\r\nbroken\r\n",
		     "t.conf:3: expected 'key = value' or '[section]'");
}

static void test_long_line(void **state)
{
	(void)state;
	size_t n = 10000;
	char *value = xmalloc(n + 1);
	memset(value, 'v', n);
	value[n] = '\0';
	char *text = xasprintf("[s]\nlong = %s\nnext = 1\n", value);
	char *want = xasprintf("1 [s]\n2 s: long=%s\n3 s: next=1\n", value);
	expect_events(text, want);
	free(text);
	free(want);
	free(value);
}

static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "[s]\nk = v\nx = a\0b\ny = 1\n";
	expect_error_n(text, sizeof(text) - 1, "t.conf:3: NUL byte in configuration");
	static const char last[] = "[s]\n\0";
	expect_error_n(last, sizeof(last) - 1, "t.conf:2: NUL byte in configuration");
}

static void test_length_is_respected(void **state)
{
	(void)state;
	/* Bytes past len are not read, and a text need not be NUL-terminated. */
	static const char text[] = "[s]\nk = v\nbroken";
	struct parsed p = parse_n(text, strlen("[s]\nk = v\n"));
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.events, "1 [s]\n2 s: k=v\n");
	parsed_free(&p);
	char raw[3] = {'[', 's', ']'};
	p = parse_n(raw, sizeof(raw));
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.events, "1 [s]\n");
	parsed_free(&p);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("[s\n", "t.conf:1: section header without closing ']'");
	expect_error("[s]\n\n[t] x\n", "t.conf:3: unexpected text after section header");
	expect_error("[s]]\n", "t.conf:1: unexpected text after section header");
	expect_error("[s]\n[ ]\n", "t.conf:2: empty section name");
	expect_error("[]\n", "t.conf:1: empty section name");
	expect_error("[s]\nk = 1\njust words\n", "t.conf:3: expected 'key = value' or '[section]'");
	expect_error("[s]\n = v\n", "t.conf:2: missing key before '='");
	expect_error("k = v\n[s]\n", "t.conf:1: key outside of any [section]");
	expect_error("; comment\n\nk = v\n", "t.conf:3: key outside of any [section]");
}

static void test_handler_error_is_prefixed(void **state)
{
	(void)state;
	struct parsed p = parse("[s]\nk = 1\nrefuse = 2\nnever = 3\n");
	assert_int_equal(p.rc, -1);
	assert_string_equal(p.err, "t.conf:3: refused by handler");
	/* Parsing stopped at the error. */
	assert_string_equal(p.events, "1 [s]\n2 s: k=1\n3 s: refuse=2\n");
	parsed_free(&p);
}

static void test_many_lines_count_right(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "[s]\n");
	for (int i = 0; i < 5000; i++)
		buf_adds(&b, i % 2 ? "; comment\n" : "\n");
	buf_adds(&b, "oops\n");
	expect_error(b.data, "t.conf:5002: expected 'key = value' or '[section]'");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_and_keys_with_lines),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_full_line_comments),
		cmocka_unit_test(test_inline_comments_need_a_blank),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_handler_error_is_prefixed),
		cmocka_unit_test(test_many_lines_count_right),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
