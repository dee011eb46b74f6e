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

#define add(o, k, v) json_object_object_add((o), (k), (v))

static json_object *json_steps(const struct drill_report *r)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < r->n_steps; i++) {
		const struct drill_step *s = &r->steps[i];
		json_object *o = json_object_new_object();
		add(o, "name", json_string_or_null(s->name));
		add(o, "depth", json_object_new_int(s->depth));
		add(o, "started", json_time_new(s->started));
		add(o, "started_unix", json_seconds_new(s->started));
		add(o, "seconds", json_fixed_new(s->seconds, 3));
		add(o, "ok", json_bool_new(s->ok));
		add(o, "note", json_string_or_null(s->note));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *json_checks(const struct drill_report *r)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct drill_check *c = &r->checks[i];
		json_object *o = json_object_new_object();
		add(o, "phase", json_string_or_null(c->phase));
		add(o, "what", json_string_or_null(c->what));
		add(o, "ok", json_bool_new(c->ok));
		add(o, "detail", json_string_or_null(c->detail));
		json_object_array_add(a, o);
	}
	return a;
}

void drill_report_json(const struct drill_report *r, struct buf *b)
{
	json_object *o = json_object_new_object();
	add(o, "operation", json_object_new_string(r->crash ? "drill-crash" : "drill"));
	add(o, "node", json_string_or_null(r->node));
	add(o, "peer", json_string_or_null(r->peer));
	add(o, "ok", json_bool_new(r->ok));
	add(o, "failure", json_string_or_null(r->failure));
	add(o, "started", json_time_new(r->started));
	add(o, "finished", json_time_new(r->finished));
	add(o, "seconds", json_fixed_new(r->finished > 0 ? r->finished - r->started : -1, 3));
	add(o, "rto_s", json_fixed_new(r->rto_s, 3));
	add(o, "rto_back_s", json_fixed_new(r->rto_back_s, 3));
	json_object *rpo = json_object_new_object();
	add(rpo, "transactions_lost", json_fixed_new(r->tx_lost, 0));
	add(rpo, "files_pending", json_fixed_new(r->files_pending, 0));
	add(o, "rpo", rpo);
	add(o, "write_block_s", json_fixed_new(r->write_block_s, 3));
	add(o, "write_block_back_s", json_fixed_new(r->write_block_back_s, 3));
	add(o, "steps", json_steps(r));
	add(o, "checks", json_checks(r));
	json_emit(b, o);
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
