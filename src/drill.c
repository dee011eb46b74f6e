/* drill: see drill.h. A run is: lock STATE_DIR/drill.lock, verify both
 * sides hold the same data, switch over to this node (a child `lifeboat
 * switchover`), verify on the new primary, switch back (the same command on
 * the peer over peer_command), verify again; each step timed. A failed
 * verification after the first switchover still switches back, so the drill
 * leaves the roles as it found them. */
#include "drill.h"
#include "child.h"
#include "result.h"
#include "gtid.h"
#include "log.h"
#include "peer.h"
#include "role.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SWITCHOVER_TIMEOUT_MS 600000

struct drill {
	const struct config *cfg;
	const struct drill_opts *o;
	struct drill_report r;
	struct strv self;  /* argv prefix: lifeboat here */
	struct strv peer;  /* argv prefix: lifeboat on the peer */
	int lock_fd;
	struct strv sums;  /* the tables' figures before the crash */
	double killed;     /* when the primary's database was killed (--crash) */
	double service_end, writable; /* ends of the last service step and of promote */
	char *crash_gtid;  /* the primary's position just before the kill */
	char *applied_gtid; /* what the failover applied */
};

/* ------------------------------------------------------------ setup */


static int self_argv(const struct config *cfg, struct strv *v, char **err)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		*err = xasprintf("cannot find this program (/proc/self/exe): %s", strerror(errno));
		return LB_FAILED;
	}
	exe[n] = '\0';
	strv_push(v, exe);
	strv_push(v, "-c");
	strv_push(v, cfg->path);
	return LB_OK;
}

static int take_lock(struct drill *d, char **err)
{
	if (mkdir_p(d->cfg->state_dir, 0755) < 0) {
		*err = xasprintf("cannot create state_dir %s: %s", d->cfg->state_dir,
				 strerror(errno));
		return LB_FAILED;
	}
	char *path = xasprintf("%s/drill.lock", d->cfg->state_dir);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int rc = LB_OK;
	if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		*err = xasprintf("%s: %s", path,
				 d->lock_fd < 0 ? strerror(errno) : "another drill is running");
		rc = LB_FAILED;
	}
	free(path);
	return rc;
}

static int setup(struct drill *d, char **err)
{
	const struct config *cfg = d->cfg;
	if (!cfg->db.present) {
		*err = xasprintf("%s: drill needs a [database] section", cfg->path);
		return LB_USAGE;
	}
	if (!peer_lifeboat_argv(cfg, peer_node(cfg), &d->peer)) {
		*err = xasprintf("%s: drill switches back on the peer: set [failover] peer_command "
				 "or the peer [node]'s ssh",
				 cfg->path);
		return LB_USAGE;
	}
	if (role_current(cfg) == ROLE_PRIMARY) {
		*err = xasprintf("this node (%s) is the primary: the drill runs on the DR node, "
				 "the standby (%s); nothing changed",
				 cfg->node ? cfg->node : "?", peer_name(cfg) ? peer_name(cfg) : "?");
		return LB_FAILED;
	}
	int rc = self_argv(cfg, &d->self, err);
	if (!rc)
		rc = take_lock(d, err);
	if (!rc)
		drill_thaw_leftover(cfg);
	d->r.node = xstrdup(cfg->node ? cfg->node : "this node");
	d->r.peer = xstrdup(peer_name(cfg) ? peer_name(cfg) : "?");
	return rc;
}

/* ------------------------------------------------------------ steps */

static void step_end(struct drill *d, size_t i, bool ok, char *note)
{
	struct drill_step *s = &d->r.steps[i];
	s->seconds = now_wall() - s->started;
	s->ok = ok;
	s->note = note;
	log_info("drill: %s: %s (%.3f s)%s%s", s->name, ok ? "ok" : "FAILED", s->seconds,
		 note ? ": " : "", note ? note : "");
}

static bool verify(struct drill *d, const char *phase, const char *step)
{
	size_t i = d->r.n_steps;
	drill_step_add(&d->r, step, 0, now_wall());
	char *db = NULL, *files = NULL;
	bool db_ok = drill_verify_db(d->cfg, &d->sums, &db);
	drill_check_add(&d->r, phase, "database", db_ok, db);
	bool files_ok = drill_verify_files(d->cfg, &d->peer, true, &files);
	drill_check_add(&d->r, phase, "files", files_ok, files);
	if (!db_ok)
		drill_fail(&d->r, "verification %s: database: %s", phase, db);
	if (!files_ok)
		drill_fail(&d->r, "verification %s: files: %s", phase, files);
	step_end(d, i, db_ok && files_ok,
		 xstrdup(db_ok && files_ok ? "database and files equal" : "differences found"));
	free(db);
	free(files);
	return db_ok && files_ok;
}

static double num_at(json_object *o, const char *a, const char *b, const char *c)
{
	const char *path[] = {a, b, c};
	for (int i = 0; i < 3 && path[i]; i++)
		if (!o || !json_object_object_get_ex(o, path[i], &o))
			return -1;
	return o && !json_object_is_type(o, json_type_null) ? json_object_get_double(o) : -1;
}

static const char *str_at(json_object *o, const char *key)
{
	json_object *x;
	return json_object_object_get_ex(o, key, &x) ? json_object_get_string(x) : NULL;
}

/* The switchover's own steps become depth-1 steps; returns the write block
 * (fence start to promote end), -1 unknown. */
static double inner_steps(struct drill *d, json_object *rep)
{
	json_object *steps;
	double fence = -1, block = -1;
	if (!json_object_object_get_ex(rep, "steps", &steps))
		return -1;
	for (size_t i = 0; i < json_object_array_length(steps); i++) {
		json_object *s = json_object_array_get_idx(steps, i);
		const char *name = str_at(s, "name");
		double started = num_at(s, "started_unix", NULL, NULL);
		double secs = num_at(s, "seconds", NULL, NULL);
		struct drill_step *st = drill_step_add(&d->r, name ? name : "?", 1, started);
		st->seconds = secs;
		st->ok = secs >= 0;
		const char *note = str_at(s, "note");
		st->note = note ? xstrdup(note) : NULL;
		if (name && strcmp(name, "fence") == 0)
			fence = started;
		if (name && strcmp(name, "promote") == 0 && fence > 0 && secs >= 0)
			block = started + secs - fence;
		if (name && strcmp(name, "promote") == 0 && secs >= 0)
			d->writable = started + secs;
		if (name && secs >= 0 && started + secs > d->service_end &&
		    (!strcmp(name, "promote") || !strcmp(name, "vip") || !strcmp(name, "dns")))
			d->service_end = started + secs;
	}
	return block;
}

static void add_into(double *acc, double v)
{
	if (v < 0)
		return;
	*acc = *acc < 0 ? v : *acc + v;
}

/* Take the figures of one switchover's JSON report. */
static bool take_report(struct drill *d, const char *json, bool back)
{
	json_object *rep = json ? json_tokener_parse(json) : NULL, *x;
	if (!rep)
		return false;
	bool complete = json_object_object_get_ex(rep, "complete", &x) && json_object_get_boolean(x);
	double block = inner_steps(d, rep);
	double rto = num_at(rep, "rto", "from_command_s", NULL);
	*(back ? &d->r.write_block_back_s : &d->r.write_block_s) = block;
	*(back ? &d->r.rto_back_s : &d->r.rto_s) = rto;
	add_into(&d->r.tx_lost, num_at(rep, "rpo", "database", "transactions_lost"));
	add_into(&d->r.files_pending, num_at(rep, "rpo", "files", "pending"));
	json_object *db;
	if (json_object_object_get_ex(rep, "rpo", &db) &&
	    json_object_object_get_ex(db, "database", &db) && str_at(db, "applied_gtid")) {
		free(d->applied_gtid);
		d->applied_gtid = xstrdup(str_at(db, "applied_gtid"));
	}
	json_object_put(rep);
	return complete;
}

/* lifeboat OPERATION --yes --json (switchover or failover) run with
 * prefix: here, or on the peer. */
static bool run_op(struct drill *d, const char *step, const struct strv *prefix, const char *op,
		   bool back)
{
	size_t i = d->r.n_steps;
	drill_step_add(&d->r, step, 0, now_wall());
	struct strv v;
	strv_init(&v);
	for (size_t k = 0; k < prefix->len; k++)
		strv_push(&v, prefix->items[k]);
	strv_push(&v, op);
	strv_push_split(&v, "--yes --json");
	struct run_result res;
	int rc = child_run(v.items, NULL, 0, SWITCHOVER_TIMEOUT_MS, &res);
	strv_free(&v);
	bool ok = take_report(d, res.out.data, back) && rc == 0;
	char *note = ok ? xasprintf("%s is the primary", back ? d->r.peer : d->r.node)
			: xasprintf("lifeboat %s%s exited %d: %s; its journal (STATE_DIR/failover.journal "
				    "on %s) says how far it got: run 'lifeboat %s' there again to "
				    "finish it",
				    op, back ? " (on the peer)" : "", rc,
				    res.err_tail[0] ? res.err_tail : "no message",
				    back ? d->r.peer : d->r.node, op);
	if (!ok)
		drill_fail(&d->r, "%s: %s", step, note);
	step_end(d, i, ok, note);
	run_result_free(&res);
	return ok;
}

static void planned(struct drill *d)
{
	if (!verify(d, "before", "verify_before"))
		return;
	if (!run_op(d, "switchover", &d->self, "switchover", false))
		return;
	verify(d, "on_dr", "verify_on_dr");
	if (!run_op(d, "switchback", &d->peer, "switchover", true))
		return;
	verify(d, "after", "verify_after");
}

/* The peer kills its own database server: `lifeboat drill
 * --kill-local-database` over peer_command (drill_kill_local_db there). */
static bool kill_peer(struct drill *d)
{
	size_t i = d->r.n_steps;
	drill_step_add(&d->r, "crash", 0, now_wall());
	struct strv v;
	strv_init(&v);
	for (size_t k = 0; k < d->peer.len; k++)
		strv_push(&v, d->peer.items[k]);
	strv_push_split(&v, "drill --kill-local-database");
	struct run_result res;
	int rc = child_run(v.items, NULL, 0, 30000, &res);
	strv_free(&v);
	d->killed = now_wall();
	const char *at = res.out.data ? strstr(res.out.data, " at gtid ") : NULL;
	if (rc == 0 && at)
		d->crash_gtid = xstrndup(at + 9, strcspn(at + 9, "\n"));
	char *out = xstrndup(res.out.data ? res.out.data : "", strcspn(res.out.data ? res.out.data : "", "\n"));
	char *note = rc == 0 ? xasprintf("on %s: %s", d->r.peer, out)
			     : xasprintf("killing the database on %s failed (exit %d): %s", d->r.peer,
					 rc, res.err_tail[0] ? res.err_tail : "no message");
	free(out);
	if (rc)
		drill_fail(&d->r, "crash: %s", note);
	step_end(d, i, rc == 0, note);
	run_result_free(&res);
	return rc == 0;
}

/* After the crash: the promoted side holds the tables as they were, the
 * files are as on the old primary's host. */
static void verify_crash(struct drill *d)
{
	size_t i = d->r.n_steps;
	drill_step_add(&d->r, "verify_on_dr", 0, now_wall());
	char *db = NULL, *files = NULL;
	bool db_ok = drill_verify_db_snapshot(d->cfg, &d->sums, &db);
	drill_check_add(&d->r, "on_dr", "database", db_ok, db);
	bool files_ok = drill_verify_files(d->cfg, &d->peer, false, &files);
	drill_check_add(&d->r, "on_dr", "files", files_ok, files);
	if (!db_ok)
		drill_fail(&d->r, "verification on_dr: database: %s", db);
	if (!files_ok)
		drill_fail(&d->r, "verification on_dr: files: %s", files);
	step_end(d, i, db_ok && files_ok,
		 xasprintf("%s; the old primary's database stays down: start it, then "
			   "'lifeboat db rejoin' there",
			   db_ok && files_ok ? "nothing lost" : "differences found"));
	free(db);
	free(files);
}

static void crash(struct drill *d)
{
	if (!verify(d, "before", "verify_before") || !kill_peer(d))
		return;
	bool ok = run_op(d, "failover", &d->self, "failover", false);
	/* From the kill, not from the command: the outage began there. */
	if (d->service_end > 0)
		d->r.rto_s = d->service_end - d->killed;
	d->r.write_block_s = d->writable > 0 ? d->writable - d->killed : -1;
	if (d->r.tx_lost < 0 && d->crash_gtid && d->applied_gtid)
		d->r.tx_lost = gtid_transactions_behind(d->crash_gtid, d->applied_gtid);
	if (ok)
		verify_crash(d);
}

/* ------------------------------------------------------------ output */

static void record(struct drill *d)
{
	struct buf b;
	buf_init(&b);
	drill_report_json(&d->r, &b);
	char stamp[32];
	time_t t = (time_t)d->r.started;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	char *path = xasprintf("%s/drill-%s.json", d->cfg->state_dir, stamp);
	if (write_file_atomic(path, b.data, b.len) < 0)
		log_warn("drill: cannot record the report in %s: %s", path, strerror(errno));
	else
		log_info("drill: report recorded in %s", path);
	free(path);
	if (d->o->json)
		fwrite(b.data, 1, b.len, stdout);
	else
		drill_report_text(&d->r, stdout);
	buf_free(&b);
}

static int write_html(struct drill *d)
{
	struct buf b;
	buf_init(&b);
	drill_report_html(&d->r, &b);
	int rc = write_file_atomic(d->o->report, b.data, b.len);
	if (rc < 0)
		log_error("drill: cannot write %s: %s", d->o->report, strerror(errno));
	buf_free(&b);
	return rc < 0 ? LB_FAILED : LB_OK;
}

int drill_run(const struct config *cfg, const struct drill_opts *o)
{
	struct drill d;
	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.o = o;
	d.lock_fd = -1;
	d.r.ok = true;
	d.r.crash = o->crash;
	d.r.rto_s = d.r.rto_back_s = d.r.tx_lost = d.r.files_pending = -1;
	d.r.write_block_s = d.r.write_block_back_s = -1;
	strv_init(&d.self);
	strv_init(&d.peer);
	strv_init(&d.sums);
	char *err = NULL;
	int rc = setup(&d, &err);
	if (!rc) {
		d.r.started = now_wall();
		if (o->crash)
			crash(&d);
		else
			planned(&d);
		d.r.finished = now_wall();
		record(&d);
		if (o->report)
			rc = write_html(&d);
		if (!d.r.ok) {
			log_error("drill failed: %s", d.r.failure);
			rc = LB_FAILED;
		}
	} else {
		log_error("drill: %s", err);
	}
	free(err);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	strv_free(&d.self);
	strv_free(&d.peer);
	peer_control_close(cfg);
	strv_free(&d.sums);
	free(d.crash_gtid);
	free(d.applied_gtid);
	drill_report_free(&d.r);
	return rc;
}
