/* check: the rule engine behind `lifeboat check`. Owns the report (one item
 * per rule: name, result, what was found, the fix in one line), its text and
 * JSON rendering, and the pure parsing and arithmetic the rules share
 * (scheduler lists, df output, clock offsets, GRANT lines), kept here so they
 * are unit-tested without servers. The rules themselves live in check_db.c
 * (the [database] pair), check_sync.c (the [sync] targets and [node]s),
 * check_residency.c (jurisdictions against the policy) and
 * check_sys.c (what they ask the machine: sysfs, statvfs, ssh). Every rule
 * only reads: no SET, no write, no file changed. */
#ifndef LIFEBOAT_CHECK_H
#define LIFEBOAT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* SKIP: the rule does not apply (its section is absent); never a failure. */
enum check_level { CHECK_PASS, CHECK_SKIP, CHECK_WARN, CHECK_FAIL };

/* The DR side's files count as stale when a change has waited this long. */
#define CHECK_FILE_MAX_AGE 60.0
/* Clocks must agree within this many seconds. */
#define CHECK_MAX_CLOCK_SKEW 1.0
/* ssh probes give up after this many seconds (connect, then the command). */
#define CHECK_SSH_TIMEOUT 10

struct check_item {
	char *rule;
	enum check_level level;
	char *message; /* what was found */
	char *fix;     /* what to do; NULL on PASS / SKIP */
	char *data;    /* figures as a JSON object, or NULL (check_set_data) */
};

struct check_report {
	struct check_item *items;
	size_t n, cap;
};

void check_report_init(struct check_report *r);
void check_report_free(struct check_report *r);
/* Add one result; fix may be NULL. */
void check_add(struct check_report *r, const char *rule, enum check_level level, const char *fix,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Attach figures (a JSON object's text, owned from now on) to the item
 * added last: `check --json` prints them as its "data". */
void check_set_data(struct check_report *r, char *json_object);
bool check_failed(const struct check_report *r);
size_t check_count(const struct check_report *r, enum check_level level);
const char *check_level_name(enum check_level level);

/* "PASS  rule  message" lines with the fix below, aligned; colour codes
 * only when colour is set (a terminal). Caller frees. */
char *check_render_text(const struct check_report *r, bool colour);
/* A JSON array of {"rule","result","message","fix"} (and "data" when an
 * item has figures), newline-terminated. */
char *check_render_json(const struct check_report *r);

/* The rules, by section. Each adds its items to r. */
void check_db(const struct config *cfg, struct check_report *r);
void check_sync(const struct config *cfg, struct check_report *r);
void check_cluster(const struct config *cfg, struct check_report *r);
void check_residency(const struct config *cfg, struct check_report *r);
void check_disk(const struct config *cfg, struct check_report *r);

/* ---- pure helpers (unit-tested) ---- */

/* The active scheduler of a /sys/block/X/queue/scheduler text ("noop
 * [deadline] cfq", "[mq-deadline] none", or a lone "none"). */
bool check_parse_scheduler(const char *text, char *out, size_t n);
/* none, noop, mq-deadline and deadline suit a database on SSD. */
bool check_scheduler_ok(const char *name);

/* First data line of `df -P -k` output: sizes in KiB. *lines gets the number
 * of data lines (df prints one per path that exists). */
bool check_parse_df(const char *text, unsigned long long *total_kib,
		    unsigned long long *avail_kib, int *lines);

/* A remote clock read at some instant between local t0 and t1: the offset
 * lies in [remote - t1, remote - t0]. Returns PASS when all of that interval
 * is within max_skew, FAIL when none of it is, WARN when the round trip is
 * too long to tell; *estimate is the midpoint. */
enum check_level check_clock_verdict(double t0, double remote, double t1, double max_skew,
				     double *estimate);

/* A boolean server option in my_print_defaults-style text ("--read_only=ON",
 * "--read-only", "--skip-read-only", "--loose-read_only=0", one a line); the
 * last one wins. 1 on, 0 off, -1 not set. */
int check_option_bool(const char *text, const char *name);

#endif
