/* drill_report: the drill's report model (drill.h): adding steps and
 * checks, the first failure, and the text and JSON forms. */
#include "drill.h"
#include "json.h"

#include <dirent.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct drill_step *drill_step_add(struct drill_report *r, const char *name, int depth,
				  double started)
{
	r->steps = xrealloc(r->steps, (r->n_steps + 1) * sizeof(*r->steps));
	struct drill_step *s = &r->steps[r->n_steps++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->depth = depth;
	s->started = started;
	s->seconds = -1;
	return s;
}

void drill_check_add(struct drill_report *r, const char *phase, const char *what, bool ok,
		     const char *detail)
{
	r->checks = xrealloc(r->checks, (r->n_checks + 1) * sizeof(*r->checks));
	struct drill_check *c = &r->checks[r->n_checks++];
	c->phase = xstrdup(phase);
	c->what = xstrdup(what);
	c->ok = ok;
	c->detail = xstrdup(detail ? detail : "");
}

void drill_fail(struct drill_report *r, const char *fmt, ...)
{
	r->ok = false;
	if (r->failure)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&r->failure, fmt, ap) < 0)
		r->failure = NULL;
	va_end(ap);
}

void drill_report_free(struct drill_report *r)
{
	for (size_t i = 0; i < r->n_steps; i++) {
		free(r->steps[i].name);
		free(r->steps[i].note);
	}
	for (size_t i = 0; i < r->n_checks; i++) {
		free(r->checks[i].phase);
		free(r->checks[i].what);
		free(r->checks[i].detail);
	}
	free(r->steps);
	free(r->checks);
	free(r->node);
	free(r->peer);
	free(r->failure);
	memset(r, 0, sizeof(*r));
}

static void num_or_null(struct buf *b, double v, const char *fmt)
{
	if (v < 0)
		buf_adds(b, "null");
	else
		buf_addf(b, fmt, v);
}

static void json_steps(const struct drill_report *r, struct buf *b)
{
	buf_addc(b, '[');
	for (size_t i = 0; i < r->n_steps; i++) {
		const struct drill_step *s = &r->steps[i];
		bool first = true;
		buf_adds(b, i ? ",{" : "{");
		json_key(b, "name", &first);
		json_str(b, s->name);
		json_key(b, "depth", &first);
		buf_addf(b, "%d", s->depth);
		json_key(b, "started", &first);
		json_time(b, s->started);
		json_key(b, "started_unix", &first);
		buf_addf(b, "%.3f", s->started);
		json_key(b, "seconds", &first);
		num_or_null(b, s->seconds, "%.3f");
		json_key(b, "ok", &first);
		buf_adds(b, s->ok ? "true" : "false");
		json_key(b, "note", &first);
		json_str(b, s->note);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');
}

static void json_checks(const struct drill_report *r, struct buf *b)
{
	buf_addc(b, '[');
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct drill_check *c = &r->checks[i];
		bool first = true;
		buf_adds(b, i ? ",{" : "{");
		json_key(b, "phase", &first);
		json_str(b, c->phase);
		json_key(b, "what", &first);
		json_str(b, c->what);
		json_key(b, "ok", &first);
		buf_adds(b, c->ok ? "true" : "false");
		json_key(b, "detail", &first);
		json_str(b, c->detail);
		buf_addc(b, '}');
	}
	buf_addc(b, ']');
}

void drill_report_json(const struct drill_report *r, struct buf *b)
{
	bool first = true;
	buf_addc(b, '{');
	json_key(b, "operation", &first);
	json_str(b, r->crash ? "drill-crash" : "drill");
	json_key(b, "node", &first);
	json_str(b, r->node);
	json_key(b, "peer", &first);
	json_str(b, r->peer);
	json_key(b, "ok", &first);
	buf_adds(b, r->ok ? "true" : "false");
	json_key(b, "failure", &first);
	json_str(b, r->failure);
	json_key(b, "started", &first);
	json_time(b, r->started);
	json_key(b, "finished", &first);
	json_time(b, r->finished);
	json_key(b, "seconds", &first);
	num_or_null(b, r->finished > 0 ? r->finished - r->started : -1, "%.3f");
	buf_adds(b, ",\"rto_s\":");
	num_or_null(b, r->rto_s, "%.3f");
	buf_adds(b, ",\"rto_back_s\":");
	num_or_null(b, r->rto_back_s, "%.3f");
	buf_adds(b, ",\"rpo\":{\"transactions_lost\":");
	num_or_null(b, r->tx_lost, "%.0f");
	buf_adds(b, ",\"files_pending\":");
	num_or_null(b, r->files_pending, "%.0f");
	buf_adds(b, "},\"write_block_s\":");
	num_or_null(b, r->write_block_s, "%.3f");
	buf_adds(b, ",\"write_block_back_s\":");
	num_or_null(b, r->write_block_back_s, "%.3f");
	buf_adds(b, ",\"steps\":");
	json_steps(r, b);
	buf_adds(b, ",\"checks\":");
	json_checks(r, b);
	buf_adds(b, "}\n");
}

static void text_num(FILE *out, const char *label, double v, const char *unit)
{
	if (v < 0)
		fprintf(out, "%-22s unknown\n", label);
	else
		fprintf(out, "%-22s %.3f%s\n", label, v, unit);
}

void drill_report_text(const struct drill_report *r, FILE *out)
{
	fprintf(out, "drill on %s (peer %s): %s\n", r->node ? r->node : "?",
		r->peer ? r->peer : "?", r->ok ? "PASS" : "FAIL");
	if (r->failure)
		fprintf(out, "failed: %s\n", r->failure);
	for (size_t i = 0; i < r->n_steps; i++) {
		const struct drill_step *s = &r->steps[i];
		fprintf(out, "  %s%-*s +%7.3f s  ", s->depth ? "  " : "", s->depth ? 13 : 15, s->name,
			s->started - r->started);
		if (s->seconds >= 0)
			fprintf(out, "%7.3f s  %s", s->seconds, s->ok ? "ok" : "FAILED");
		else
			fprintf(out, "unfinished");
		fprintf(out, "%s%s\n", s->note ? "  " : "", s->note ? s->note : "");
	}
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct drill_check *c = &r->checks[i];
		fprintf(out, "  verify %-6s %-8s %s  %s\n", c->phase, c->what, c->ok ? "PASS" : "FAIL",
			c->detail);
	}
	text_num(out, "RTO (to DR):", r->rto_s, " s");
	text_num(out, "RTO (back):", r->rto_back_s, " s");
	text_num(out, "write block (to DR):", r->write_block_s, " s");
	text_num(out, "write block (back):", r->write_block_back_s, " s");
	if (r->tx_lost < 0)
		fprintf(out, "%-22s unknown\n", "RPO transactions lost:");
	else
		fprintf(out, "%-22s %.0f\n", "RPO transactions lost:", r->tx_lost);
	if (r->files_pending < 0)
		fprintf(out, "%-22s unknown\n", "RPO files pending:");
	else
		fprintf(out, "%-22s %.0f\n", "RPO files pending:", r->files_pending);
}

/* drill-YYYYmmddTHHMMSSZ.json: the start time in the name; 0 for any other
 * name. */
static time_t record_time(const char *name)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strncmp(name, "drill-", 6) == 0 ? strptime(name + 6, "%Y%m%dT%H%M%SZ", &tm)
							  : NULL;
	return end && strcmp(end, ".json") == 0 ? timegm(&tm) : 0;
}

static bool record_passed(const char *state_dir, const char *name)
{
	char *path = xasprintf("%s/%s", state_dir, name);
	char *text = read_file(path, NULL);
	json_object *o = text ? json_tokener_parse(text) : NULL;
	json_object *ok = NULL;
	bool passed = o && json_object_object_get_ex(o, "ok", &ok) &&
		      json_object_is_type(ok, json_type_boolean) && json_object_get_boolean(ok);
	json_object_put(o);
	free(text);
	free(path);
	return passed;
}

double drill_last_success(const char *state_dir)
{
	DIR *d = opendir(state_dir);
	if (!d)
		return 0;
	time_t best = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		time_t t = record_time(de->d_name);
		if (t > best && record_passed(state_dir, de->d_name))
			best = t;
	}
	closedir(d);
	return (double)best;
}
