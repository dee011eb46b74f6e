/* drill_html: the drill report as one self-contained HTML page for people
 * who do not read JSON: headline figures (RTO, RPO, write block), PASS/FAIL
 * of every verification, and an inline SVG timeline with one horizontal bar
 * per step on a time axis, the write-blocked windows shaded. A pure
 * function of the report model; every text is escaped. */
#include "drill.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SVG_W 1000
#define LABEL_W 190
#define CHART_W 700
#define ROW_H 26
#define TOP 24

static void esc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': buf_adds(b, "&amp;"); break;
		case '<': buf_adds(b, "&lt;"); break;
		case '>': buf_adds(b, "&gt;"); break;
		case '"': buf_adds(b, "&quot;"); break;
		case '\'': buf_adds(b, "&#39;"); break;
		default: buf_addc(b, *s);
		}
	}
}

static void figure(struct buf *b, const char *label, double v, const char *fmt, const char *unit)
{
	buf_adds(b, "<div class=\"fig\"><div class=\"lbl\">");
	esc(b, label);
	buf_adds(b, "</div><div class=\"val\">");
	if (v < 0)
		buf_adds(b, "unknown");
	else
		buf_addf(b, fmt, v);
	esc(b, unit);
	buf_adds(b, "</div></div>\n");
}

static double step_end(const struct drill_step *s)
{
	return s->started + (s->seconds > 0 ? s->seconds : 0);
}

/* The time span the timeline covers. */
static void span(const struct drill_report *r, double *t0, double *len)
{
	double end = r->finished;
	*t0 = r->started;
	for (size_t i = 0; i < r->n_steps; i++) {
		if (r->steps[i].started < *t0)
			*t0 = r->steps[i].started;
		if (step_end(&r->steps[i]) > end)
			end = step_end(&r->steps[i]);
	}
	*len = end - *t0 > 0.001 ? end - *t0 : 0.001;
}

static double nice_tick(double len)
{
	double raw = len / 8, p = pow(10, floor(log10(raw)));
	static const double m[] = {1, 2, 5, 10};
	for (size_t i = 0; i < 4; i++)
		if (raw <= m[i] * p)
			return m[i] * p;
	return 10 * p;
}

static void axis(struct buf *b, double len, int height)
{
	double tick = nice_tick(len);
	for (double t = 0; t <= len + tick * 0.001; t += tick) {
		double x = LABEL_W + t / len * CHART_W;
		buf_addf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
			    "<text class=\"tick\" x=\"%.1f\" y=\"%d\">%g s</text>"
			    "<text class=\"tick\" x=\"%.1f\" y=\"%d\">%g s</text>\n",
			 x, TOP - 6, x, height - 20, x, TOP - 10, t, x, height - 6, t);
	}
}

/* Writes are blocked from a switchover's fence to the end of its promote. */
static void write_blocks(struct buf *b, const struct drill_report *r, double t0, double len,
			 int height)
{
	for (size_t i = 0; i < r->n_steps; i++) {
		if (strcmp(r->steps[i].name, "fence") != 0)
			continue;
		for (size_t k = i + 1; k < r->n_steps && r->steps[k].depth > 0; k++) {
			if (strcmp(r->steps[k].name, "promote") != 0)
				continue;
			double x = LABEL_W + (r->steps[i].started - t0) / len * CHART_W;
			double w = (step_end(&r->steps[k]) - r->steps[i].started) / len * CHART_W;
			buf_addf(b, "<rect class=\"block\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
				    "height=\"%d\"><title>writes blocked %.3f s</title></rect>\n",
				 x, TOP - 6, w < 1 ? 1 : w, height - TOP - 14,
				 step_end(&r->steps[k]) - r->steps[i].started);
			break;
		}
	}
}

static void bar(struct buf *b, const struct drill_step *s, int row, double t0, double len)
{
	int y = TOP + row * ROW_H;
	double x = LABEL_W + (s->started - t0) / len * CHART_W;
	double w = (s->seconds > 0 ? s->seconds : 0) / len * CHART_W;
	const char *state = s->seconds < 0 ? "unfinished" : (s->ok ? "ok" : "fail");
	buf_addf(b, "<text class=\"name d%d\" x=\"%d\" y=\"%d\">", s->depth,
		 LABEL_W - 8, y + 16);
	esc(b, s->name);
	buf_addf(b, "</text><rect class=\"bar %s d%d\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		    "height=\"%d\"><title>",
		 state, s->depth, x, y + (s->depth ? 6 : 3), w < 2 ? 2 : w, s->depth ? 14 : 20);
	esc(b, s->name);
	buf_adds(b, ": ");
	esc(b, s->note);
	buf_adds(b, "</title></rect>");
	double lx = x + (w < 2 ? 2 : w) + 4;
	bool inside = lx > LABEL_W + CHART_W - 60;
	buf_addf(b, "<text class=\"dur%s\" x=\"%.1f\" y=\"%d\">", inside ? " in" : "",
		 inside ? x + w - 4 : lx, y + 16);
	if (s->seconds < 0)
		buf_adds(b, "unfinished");
	else
		buf_addf(b, "%.3f s", s->seconds);
	buf_adds(b, "</text>\n");
}

static void timeline(struct buf *b, const struct drill_report *r)
{
	double t0, len;
	span(r, &t0, &len);
	int height = TOP + (int)r->n_steps * ROW_H + 30;
	buf_addf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"%d\" "
		    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"drill timeline\">\n",
		 SVG_W, height, SVG_W, height);
	axis(b, len, height);
	write_blocks(b, r, t0, len, height);
	for (size_t i = 0; i < r->n_steps; i++)
		bar(b, &r->steps[i], (int)i, t0, len);
	buf_adds(b, "</svg>\n");
}

static void checks(struct buf *b, const struct drill_report *r)
{
	buf_adds(b, "<h2>Verifications</h2>\n<table><tr><th>when</th><th>what</th><th>result</th>"
		    "<th>detail</th></tr>\n");
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct drill_check *c = &r->checks[i];
		buf_adds(b, "<tr><td>");
		esc(b, c->phase);
		buf_adds(b, "</td><td>");
		esc(b, c->what);
		buf_addf(b, "</td><td class=\"%s\">%s</td><td>", c->ok ? "pass" : "fail",
			 c->ok ? "PASS" : "FAIL");
		esc(b, c->detail);
		buf_adds(b, "</td></tr>\n");
	}
	buf_adds(b, "</table>\n");
}

static void steps_table(struct buf *b, const struct drill_report *r)
{
	buf_adds(b, "<h2>Steps</h2>\n<table><tr><th>step</th><th>start</th><th>duration</th>"
		    "<th>note</th></tr>\n");
	for (size_t i = 0; i < r->n_steps; i++) {
		const struct drill_step *s = &r->steps[i];
		buf_addf(b, "<tr class=\"d%d\"><td>", s->depth);
		esc(b, s->name);
		buf_addf(b, "</td><td>+%.3f s</td><td>", s->started - r->started);
		if (s->seconds < 0)
			buf_adds(b, "unfinished");
		else
			buf_addf(b, "%.3f s", s->seconds);
		buf_adds(b, "</td><td>");
		esc(b, s->note);
		buf_adds(b, "</td></tr>\n");
	}
	buf_adds(b, "</table>\n");
}

static const char CSS[] =
	"body{font-family:sans-serif;margin:2em;color:#222}"
	"h1 .pass,td.pass{color:#1a7f37}h1 .fail,td.fail{color:#c0262d}"
	".figs{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}"
	".fig{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:9em}"
	".fig .lbl{font-size:.85em;color:#555}.fig .val{font-size:1.6em;font-weight:bold}"
	"table{border-collapse:collapse;margin-bottom:1.5em}"
	"td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}"
	"tr.d1 td:first-child{padding-left:1.6em;color:#555}"
	"svg text{font-size:12px}svg .name{text-anchor:end}svg .name.d1{fill:#555}"
	"svg .tick{text-anchor:middle;fill:#666}svg .grid{stroke:#e3e3e3}"
	"svg .bar.ok{fill:#2f6fbd}svg .bar.ok.d1{fill:#8fb4e3}svg .bar.fail{fill:#c0262d}"
	"svg .bar.unfinished{fill:#999}svg .block{fill:#f4b400;opacity:.35}"
	"svg .dur.in{text-anchor:end;fill:#fff}\n";

static void utc(char *out, size_t n, double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void drill_report_html(const struct drill_report *r, struct buf *b)
{
	char when[64];
	utc(when, sizeof(when), r->started);
	buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>lifeboat drill ");
	esc(b, when);
	buf_addf(b, "</title><style>%s</style></head><body>\n<h1>Disaster-recovery drill: "
		    "<span class=\"%s\">%s</span></h1>\n<p>",
		 CSS, r->ok ? "pass" : "fail", r->ok ? "PASS" : "FAIL");
	buf_adds(b, r->crash ? "Crash drill" : "Switchover to ");
	buf_adds(b, r->crash ? " on " : "");
	esc(b, r->node);
	buf_adds(b, r->crash ? "" : " and back");
	buf_adds(b, " (primary ");
	esc(b, r->peer);
	buf_adds(b, "), started ");
	esc(b, when);
	buf_adds(b, ".</p>\n");
	if (r->failure) {
		buf_adds(b, "<p class=\"fail\"><b>Failed:</b> ");
		esc(b, r->failure);
		buf_adds(b, "</p>\n");
	}
	buf_adds(b, "<div class=\"figs\">\n");
	figure(b, "RTO (service on DR)", r->rto_s, "%.2f", " s");
	figure(b, "RPO: transactions lost", r->tx_lost, "%.0f", "");
	figure(b, "RPO: files pending", r->files_pending, "%.0f", "");
	figure(b, "writes blocked (to DR)", r->write_block_s, "%.2f", " s");
	figure(b, "writes blocked (back)", r->write_block_back_s, "%.2f", " s");
	buf_adds(b, "</div>\n<h2>Timeline</h2>\n");
	timeline(b, r);
	buf_adds(b, "<p>Bars: steps (lighter: the switchover's own steps); shaded: writes "
		    "blocked.</p>\n");
	checks(b, r);
	steps_table(b, r);
	buf_adds(b, "</body></html>\n");
}
