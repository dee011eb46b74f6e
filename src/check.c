/* check: the report of `lifeboat check` and the pure helpers its rules share
 * (see check.h). Nothing here touches a server or the machine. */
#include "check.h"
#include "json.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void check_report_init(struct check_report *r)
{
	memset(r, 0, sizeof(*r));
}

void check_report_free(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].rule);
		free(r->items[i].message);
		free(r->items[i].fix);
		free(r->items[i].data);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

void check_add(struct check_report *r, const char *rule, enum check_level level, const char *fix,
	       const char *fmt, ...)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->items = xrealloc(r->items, r->cap * sizeof(*r->items));
	}
	struct check_item *it = &r->items[r->n++];
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("(out of memory)");
	va_end(ap);
	it->rule = xstrdup(rule);
	it->level = level;
	it->message = msg;
	it->fix = fix && level != CHECK_PASS && level != CHECK_SKIP ? xstrdup(fix) : NULL;
	it->data = NULL;
}

void check_set_data(struct check_report *r, char *json_object)
{
	if (!r->n) {
		free(json_object);
		return;
	}
	free(r->items[r->n - 1].data);
	r->items[r->n - 1].data = json_object;
}

bool check_failed(const struct check_report *r)
{
	return check_count(r, CHECK_FAIL) > 0;
}

size_t check_count(const struct check_report *r, enum check_level level)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->items[i].level == level;
	return n;
}

const char *check_level_name(enum check_level level)
{
	switch (level) {
	case CHECK_PASS:
		return "PASS";
	case CHECK_SKIP:
		return "SKIP";
	case CHECK_WARN:
		return "WARN";
	case CHECK_FAIL:
		return "FAIL";
	}
	return "?";
}

static const char *level_colour(enum check_level level)
{
	switch (level) {
	case CHECK_PASS:
		return "\033[32m";
	case CHECK_WARN:
		return "\033[33m";
	case CHECK_FAIL:
		return "\033[1;31m";
	default:
		return "\033[2m";
	}
}

char *check_render_text(const struct check_report *r, bool colour)
{
	size_t width = 0;
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->items[i].rule) > width)
			width = strlen(r->items[i].rule);
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];
		buf_addf(&b, "%s%s%s  %-*s  %s\n", colour ? level_colour(it->level) : "",
			 check_level_name(it->level), colour ? "\033[0m" : "", (int)width, it->rule,
			 it->message);
		if (it->fix)
			buf_addf(&b, "      %*s  fix: %s\n", (int)width, "", it->fix);
	}
	buf_addf(&b, "%zu passed, %zu warnings, %zu failed, %zu skipped\n",
		 check_count(r, CHECK_PASS), check_count(r, CHECK_WARN), check_count(r, CHECK_FAIL),
		 check_count(r, CHECK_SKIP));
	return buf_steal(&b);
}

/* One item a line, so that a reader can grep it too. */
char *check_render_json(const struct check_report *r)
{
	struct buf b;
	buf_init(&b);
	buf_addc(&b, '[');
	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "rule", json_string_or_null(it->rule));
		json_object_object_add(o, "result", json_object_new_string(check_level_name(it->level)));
		json_object_object_add(o, "message", json_string_or_null(it->message));
		/* null when there is nothing to fix */
		json_object_object_add(o, "fix", json_string_or_null(it->fix));
		if (it->data)
			json_object_object_add(o, "data", json_tokener_parse(it->data));
		buf_adds(&b, i ? ",\n" : "\n");
		buf_adds(&b, json_text(o));
		json_object_put(o);
	}
	buf_adds(&b, "\n]\n");
	return buf_steal(&b);
}

/* ---- pure helpers ---- */

bool check_parse_scheduler(const char *text, char *out, size_t n)
{
	if (!text || n == 0)
		return false;
	const char *open = strchr(text, '[');
	const char *start, *end;
	if (open) {
		start = open + 1;
		end = strchr(start, ']');
		if (!end)
			return false;
	} else {
		/* Only one scheduler available: the kernel prints it bare. */
		start = text;
		while (isspace((unsigned char)*start))
			start++;
		end = start;
		while (*end && !isspace((unsigned char)*end))
			end++;
		const char *rest = end;
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest)
			return false; /* several and none marked: not a scheduler list */
	}
	size_t len = (size_t)(end - start);
	if (len == 0 || len >= n)
		return false;
	memcpy(out, start, len);
	out[len] = '\0';
	return true;
}

bool check_scheduler_ok(const char *name)
{
	static const char *const good[] = {"none", "noop", "mq-deadline", "deadline"};
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		if (strcmp(name, good[i]) == 0)
			return true;
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* One df -P data line: FILESYSTEM TOTAL USED AVAIL CAPACITY% MOUNTPOINT; the
 * file system name may hold spaces, so look for the three numbers followed
 * by a percentage. */
static bool parse_df_line(char *line, unsigned long long *total, unsigned long long *avail)
{
	char *tok[64];
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && n < ARRAY_LEN(tok);
	     t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	for (size_t i = 1; i + 3 < n; i++) {
		size_t pl = strlen(tok[i + 3]);
		if (all_digits(tok[i]) && all_digits(tok[i + 1]) && all_digits(tok[i + 2]) &&
		    pl >= 2 && tok[i + 3][pl - 1] == '%') {
			*total = strtoull(tok[i], NULL, 10);
			*avail = strtoull(tok[i + 2], NULL, 10);
			return true;
		}
	}
	return false;
}

bool check_parse_df(const char *text, unsigned long long *total_kib,
		    unsigned long long *avail_kib, int *lines)
{
	char *copy = xstrdup(text ? text : "");
	bool found = false;
	int count = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "Filesystem", 10) == 0)
			continue;
		unsigned long long t, a;
		if (!parse_df_line(line, &t, &a))
			continue;
		if (!found) {
			*total_kib = t;
			*avail_kib = a;
			found = true;
		}
		count++;
	}
	free(copy);
	if (lines)
		*lines = count;
	return found;
}

enum check_level check_clock_verdict(double t0, double remote, double t1, double max_skew,
				     double *estimate)
{
	double lo = remote - t1, hi = remote - t0;
	if (estimate)
		*estimate = (lo + hi) / 2;
	if (lo > max_skew || hi < -max_skew)
		return CHECK_FAIL;
	if (lo >= -max_skew && hi <= max_skew)
		return CHECK_PASS;
	return CHECK_WARN;
}

/* "read-only" and "read_only" are one option to the server. */
static bool option_name_eq(const char *a, size_t alen, const char *b)
{
	if (alen != strlen(b))
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (tolower((unsigned char)x) != tolower((unsigned char)y))
			return false;
	}
	return true;
}

static int bool_word(const char *v, size_t len)
{
	static const char *const on[] = {"1", "ON", "TRUE", "YES"};
	static const char *const off[] = {"0", "OFF", "FALSE", "NO"};
	for (size_t i = 0; i < ARRAY_LEN(on); i++) {
		if (strlen(on[i]) == len && strncasecmp(v, on[i], len) == 0)
			return 1;
		if (strlen(off[i]) == len && strncasecmp(v, off[i], len) == 0)
			return 0;
	}
	return -1;
}

/* One "--[prefix-]NAME[=VALUE]" line: 1, 0, or -1 when it is another option. */
static int option_line(const char *line, size_t len, const char *name)
{
	if (len < 3 || line[0] != '-' || line[1] != '-')
		return -1;
	line += 2, len -= 2;
	const char *eq = memchr(line, '=', len);
	size_t nlen = eq ? (size_t)(eq - line) : len;
	int negate = 0;
	static const char *const prefixes[] = {"loose-", "loose_", "skip-", "skip_",
					       "disable-", "disable_", "enable-", "enable_"};
	for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
		size_t pl = strlen(prefixes[i]);
		if (nlen > pl && strncasecmp(line, prefixes[i], pl) == 0) {
			negate = prefixes[i][0] == 's' || prefixes[i][0] == 'd';
			line += pl, nlen -= pl, len -= pl;
			break;
		}
	}
	if (!option_name_eq(line, nlen, name))
		return -1;
	int v = eq ? bool_word(line + nlen + 1, len - nlen - 1) : 1;
	return v < 0 ? -1 : (negate ? !v : v);
}

int check_option_bool(const char *text, const char *name)
{
	int value = -1;
	for (const char *p = text ? text : ""; *p;) {
		size_t len = strcspn(p, "\n");
		int v = option_line(p, len, name);
		if (v >= 0)
			value = v;
		p += len;
		if (*p)
			p++;
	}
	return value;
}
