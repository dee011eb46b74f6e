/* Unit tests for the drill report's forms (drill_html.c, drill_report.c):
 * the HTML page is self-contained, escapes every text, draws one bar per
 * step and shades the write block; the JSON is valid and carries the
 * figures; unknown figures say so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void add(struct drill_report *r, const char *name, int depth, double at, double secs,
		bool ok, const char *note)
{
	struct drill_step *s = drill_step_add(r, name, depth, at);
	s->seconds = secs;
	s->ok = ok;
	s->note = note ? strdup(note) : NULL;
}

static void model(struct drill_report *r)
{
	memset(r, 0, sizeof(*r));
	r->ok = true;
	r->node = strdup("dr<1>");
	r->peer = strdup("oslo & \"co\"");
	r->started = 1700000000.0;
	r->finished = 1700000006.5;
	r->rto_s = 0.652;
	r->rto_back_s = 0.7;
	r->tx_lost = 0;
	r->files_pending = 0;
	r->write_block_s = 0.081;
	r->write_block_back_s = -1;
	add(r, "verify_before", 0, 1700000000.0, 0.7, true, "equal");
	add(r, "switchover", 0, 1700000000.7, 0.9, true, "dr is the primary");
	add(r, "fence", 1, 1700000001.0, 0.03, true, "read_only=ON");
	add(r, "promote", 1, 1700000001.05, 0.05, true, "<script>alert('x')</script>");
	add(r, "verify_after", 0, 1700000002.0, 4.5, false, NULL);
	drill_check_add(r, "before", "database", true, "2 table(s) equal");
	drill_check_add(r, "after", "files", false, "[sync www]: f<1> & 'x'");
}

static void test_html(void **state)
{
	(void)state;
	struct drill_report r;
	model(&r);
	struct buf b;
	buf_init(&b);
	drill_report_html(&r, &b);
	const char *h = b.data;
	assert_non_null(strstr(h, "<!DOCTYPE html>"));
	assert_non_null(strstr(h, "<style>"));
	assert_null(strstr(h, "<script>"));
	assert_null(strstr(h, "<link"));
	assert_non_null(strstr(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
	assert_non_null(strstr(h, "dr&lt;1&gt;"));
	assert_non_null(strstr(h, "oslo &amp; &quot;co&quot;"));
	assert_non_null(strstr(h, "f&lt;1&gt; &amp; &#39;x&#39;"));
	assert_int_equal(count(h, "<svg "), 1);
	assert_int_equal(count(h, "<rect class=\"bar "), 5);
	assert_int_equal(count(h, "<rect class=\"bar fail"), 1);
	assert_int_equal(count(h, "<rect class=\"block\""), 1);
	assert_non_null(strstr(h, "writes blocked 0.100 s"));
	assert_non_null(strstr(h, "0.65 s"));  /* RTO */
	assert_non_null(strstr(h, "unknown")); /* write block back */
	assert_int_equal(count(h, "<td class=\"pass\">PASS</td>"), 1);
	assert_int_equal(count(h, "<td class=\"fail\">FAIL</td>"), 1);
	/* Every bar inside the chart. */
	for (const char *p = h; (p = strstr(p, "<rect class=\"bar ")); p++) {
		double x = -1, w = -1;
		assert_int_equal(sscanf(strstr(p, "x=\""), "x=\"%lf\"", &x), 1);
		assert_int_equal(sscanf(strstr(p, "width=\""), "width=\"%lf\"", &w), 1);
		assert_true(x >= 190 && x + w <= 890 + 0.5);
	}
	buf_free(&b);
	drill_report_free(&r);
}

static void test_html_empty(void **state)
{
	(void)state;
	struct drill_report r;
	memset(&r, 0, sizeof(r));
	r.started = r.finished = 1700000000.0;
	r.rto_s = r.rto_back_s = r.tx_lost = r.files_pending = -1;
	r.write_block_s = r.write_block_back_s = -1;
	drill_fail(&r, "verification %s: %s", "before", "x < y");
	struct buf b;
	buf_init(&b);
	drill_report_html(&r, &b);
	assert_non_null(strstr(b.data, "x &lt; y"));
	assert_int_equal(count(b.data, "<rect class=\"bar"), 0);
	assert_non_null(strstr(b.data, "</svg>"));
	buf_free(&b);
	drill_report_free(&r);
}

static void test_json(void **state)
{
	(void)state;
	struct drill_report r;
	model(&r);
	drill_fail(&r, "first");
	drill_fail(&r, "second");
	struct buf b;
	buf_init(&b);
	drill_report_json(&r, &b);
	json_object *o = json_tokener_parse(b.data), *x, *y;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "ok", &x) && !json_object_get_boolean(x));
	assert_true(json_object_object_get_ex(o, "failure", &x));
	assert_string_equal(json_object_get_string(x), "first");
	assert_true(json_object_object_get_ex(o, "steps", &x));
	assert_int_equal(json_object_array_length(x), 5);
	assert_true(json_object_object_get_ex(o, "write_block_back_s", &x) && x == NULL);
	assert_true(json_object_object_get_ex(o, "rpo", &x) &&
		    json_object_object_get_ex(x, "transactions_lost", &y));
	assert_int_equal(json_object_get_int(y), 0);
	json_object_put(o);
	buf_free(&b);
	drill_report_free(&r);
}

static void test_text(void **state)
{
	(void)state;
	struct drill_report r;
	model(&r);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	drill_report_text(&r, f);
	fclose(f);
	assert_non_null(strstr(text, "drill on dr<1> (peer oslo & \"co\"): PASS\n"));
	assert_non_null(strstr(text, "  verify_before   +  0.000 s    0.700 s  ok  equal\n"));
	assert_non_null(strstr(text, "    fence         +  1.000 s    0.030 s  ok  read_only=ON\n"));
	assert_non_null(strstr(text, "verify after  files    FAIL"));
	assert_non_null(strstr(text, "RTO (to DR):           0.652 s\n"));
	assert_non_null(strstr(text, "write block (back):    unknown\n"));
	assert_non_null(strstr(text, "RPO transactions lost: 0\n"));
	free(text);
	drill_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_html_empty),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
