/* drill: `lifeboat drill`, the rehearsal that proves the DR side can take
 * over. Owns the drill's steps (verify, switchover to this node, verify,
 * switch back from the peer, verify), the report model below, its text and
 * JSON forms (drill_report.c), the verifications (drill_verify.c) and the
 * HTML page with the SVG timeline (drill_html.c, a pure function of the
 * model). The switchovers are the real ones: `lifeboat switchover --yes
 * --json` run here, then on the peer over [failover] peer_command; their
 * JSON reports give the inner steps, the RTO, the RPO and the write block.
 * Every drill is recorded in STATE_DIR/drill-YYYYmmddTHHMMSSZ.json. */
#ifndef LIFEBOAT_DRILL_H
#define LIFEBOAT_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "result.h"
#include "util.h"

struct drill_opts {
	bool json;
	const char *report; /* HTML file, or NULL */
	bool crash;
};

/* One timed piece of work. depth 0: a drill step; depth 1: a step of the
 * switchover run inside it (fence, promote, ...). */
struct drill_step {
	char *name;
	int depth;
	double started;  /* unix time */
	double seconds;  /* -1: did not finish */
	bool ok;
	char *note;
};

/* One verification: phase "before", "on_dr", "after"; what "database" or
 * "files". */
struct drill_check {
	char *phase;
	char *what;
	bool ok;
	char *detail;
};

struct drill_report {
	char *node, *peer;
	bool crash;
	double started, finished;
	bool ok;
	char *failure; /* the first failure, NULL when ok */
	struct drill_step *steps;
	size_t n_steps;
	struct drill_check *checks;
	size_t n_checks;
	double rto_s;          /* until this node took writes and the service; -1 unknown */
	double rto_back_s;     /* the same for the way back */
	double tx_lost;        /* transactions lost, both ways; -1 unknown */
	double files_pending;  /* changes not replicated at the switchovers; -1 unknown */
	double write_block_s;  /* fence start to promote end, to DR; -1 unknown */
	double write_block_back_s;
};

/* LB_OK when every step passed, else LB_FAILED or LB_USAGE (result.h). */
int drill_run(const struct config *cfg, const struct drill_opts *o);
/* --crash, on the primary's node (drill_kill.c): SIGKILL this node's
 * database server. Refused (LB_USAGE) without drill_allow_crash. */
int drill_kill_local_db(const struct config *cfg);

/* The model (drill_report.c). */
struct drill_step *drill_step_add(struct drill_report *r, const char *name, int depth,
				  double started);
void drill_check_add(struct drill_report *r, const char *phase, const char *what, bool ok,
		     const char *detail);
void drill_fail(struct drill_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void drill_report_free(struct drill_report *r);
void drill_report_json(const struct drill_report *r, struct buf *out);
void drill_report_text(const struct drill_report *r, FILE *out);
/* When the newest drill recorded in state_dir that passed started (unix
 * time, from its file name), 0 when there is none: for the
 * lifeboat_drill_last_success_timestamp_seconds metric. */
double drill_last_success(const char *state_dir);
/* A self-contained HTML page (inline CSS, inline SVG timeline). */
void drill_report_html(const struct drill_report *r, struct buf *out);

/* Verifications (drill_verify.c): true when they pass; *detail says what
 * was compared or what differs. */
bool drill_verify_db(const struct config *cfg, struct strv *sums, char **detail);
/* Start replication again where a killed drill left it held at its
 * snapshot (STATE_DIR/drill-frozen); logs what it did. */
void drill_thaw_leftover(const struct config *cfg);
/* sums (may be NULL) gets "TABLE\tFIGURES" of every table compared; the
 * snapshot check finds them unchanged on the writable server of the pair
 * (after a crash, the promoted one). */
bool drill_verify_db_snapshot(const struct config *cfg, const struct strv *sums, char **detail);
/* count_here: this node's pending changes count too (not after a crash:
 * a new primary holds its changes until the old one is rejoined). */
bool drill_verify_files(const struct config *cfg, const struct strv *peer_argv, bool count_here,
			char **detail);

#endif
