/* failover_report: what failover and switchover print besides the plan
 * (each step carries its own, in failover.c): the expected loss (also shown
 * by the confirmation question), and the report built from the journal
 * alone, so a resumed run reports the whole history. */
#include "failover_int.h"
#include "gtid.h"
#include "json.h"

#include <string.h>

/* The expected loss, for --dry-run and the confirmation question. */
void fo_print_expected_loss(FILE *out, const struct fo *f)
{
	const struct probe *p = &f->pr;
	double unapplied = gtid_transactions_behind(p->lf.gtid_io_pos, p->lf.gtid_current_pos);
	fprintf(out, "standby lag: %s%.3f s by heartbeat, Seconds_Behind_Master %lld; %.0f "
		     "received transaction(s) not yet applied (promote applies them)\n",
		p->lf.has_heartbeat ? "" : "unknown (no heartbeat row) ",
		p->lf.has_heartbeat ? p->lf.heartbeat_age : 0.0, p->lf.seconds_behind,
		unapplied < 0 ? 0 : unapplied);
	if (f->switchover)
		fprintf(out, "expected loss: none (the primary is fenced and the standby waits "
			     "for its last transaction and file)\n");
	else if (p->peer_ok)
		fprintf(out, "expected database loss: %.0f transaction(s) the primary has and "
			     "this node never received\n",
			gtid_transactions_behind(p->pf.gtid_binlog_pos, p->lf.gtid_io_pos));
	else if (p->lf.has_heartbeat)
		fprintf(out, "expected database loss: unknown, the primary is unreachable; what it "
			     "committed in the last %.1f s before it stopped may be missing\n",
			p->lf.heartbeat_age);
	else
		fprintf(out, "expected database loss: unknown, the primary is unreachable and "
			     "there is no heartbeat to bound it\n");
	if (p->files_known)
		fprintf(out, "expected file loss: %ld change(s) pending, oldest %.3f s old\n",
			p->files_pending, p->files_age);
	else
		fprintf(out, "expected file loss: unknown (%s)\n", p->files_note);
}

/* ------------------------------------------------------------ report */

/* RTO counts from the command, which probed before the journal began. */
static double rto_start(const struct journal *j)
{
	return journal_get_num(j, "invoked", j->begun);
}

static double rto_end(const struct journal *j)
{
	static const char *const service[] = {"promote", "vip", "dns"};
	double end = 0;
	for (size_t i = 0; i < ARRAY_LEN(service); i++) {
		const struct journal_step *s = journal_step(j, service[i]);
		if (s && s->ended > end)
			end = s->ended;
	}
	return end;
}

struct rpo {
	double tx_lost; /* -1 unknown */
	double heartbeat_age; /* -1 unknown */
	double files_age, files_pending; /* -1 unknown */
};

static void rpo_compute(const struct journal *j, struct rpo *r)
{
	const char *prim = journal_get(j, "primary_gtid");
	const char *applied = journal_get(j, "applied_gtid");
	if (!applied || !*applied)
		applied = journal_get(j, "received_gtid");
	r->tx_lost = prim && *prim ? gtid_transactions_behind(prim, applied) : -1;
	r->heartbeat_age = journal_get_num(j, "heartbeat_age", -1);
	r->files_age = journal_get_num(j, "files_age", -1);
	r->files_pending = journal_get_num(j, "files_pending", -1);
}

#define add(o, k, v) json_object_object_add((o), (k), (v))

static json_object *json_steps(const struct journal *j)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < j->n_steps; i++) {
		const struct journal_step *s = &j->steps[i];
		json_object *o = json_object_new_object();
		add(o, "name", json_string_or_null(s->name));
		add(o, "started", json_time_new(s->started));
		add(o, "ended", json_time_new(s->ended));
		add(o, "started_unix", json_seconds_new(s->started));
		add(o, "ended_unix", json_fixed_new(s->ended > 0 ? s->ended : -1, 3));
		add(o, "seconds", json_fixed_new(s->ended > 0 ? s->ended - s->started : -1, 3));
		add(o, "note", json_string_or_null(s->note));
		json_object_array_add(a, o);
	}
	return a;
}

static json_object *json_rpo(const struct journal *j, const struct rpo *r)
{
	json_object *db = json_object_new_object();
	add(db, "primary_gtid", json_string_or_null(journal_get(j, "primary_gtid")));
	add(db, "received_gtid", json_string_or_null(journal_get(j, "received_gtid")));
	add(db, "applied_gtid", json_string_or_null(journal_get(j, "applied_gtid")));
	add(db, "transactions_lost", json_fixed_new(r->tx_lost, 0));
	add(db, "primary_last_heartbeat_age_s", json_fixed_new(r->heartbeat_age, 3));
	json_object *files = json_object_new_object();
	add(files, "oldest_pending_age_s", json_fixed_new(r->files_age, 3));
	add(files, "pending", json_fixed_new(r->files_pending, 0));
	add(files, "note", json_string_or_null(journal_get(j, "files_note")));
	json_object *rpo = json_object_new_object();
	add(rpo, "database", db);
	add(rpo, "files", files);
	return rpo;
}

static void report_json(const struct fo *f)
{
	const struct journal *j = &f->j;
	struct rpo r;
	rpo_compute(j, &r);
	double end = rto_end(j);
	json_object *o = json_object_new_object();
	add(o, "operation", json_object_new_string(f->switchover ? "switchover" : "failover"));
	add(o, "node", json_string_or_null(journal_get(j, "node")));
	add(o, "old_primary", json_string_or_null(journal_get(j, "old_primary")));
	add(o, "complete", json_bool_new(j->finished > 0));
	add(o, "started", json_time_new(j->begun));
	add(o, "finished", json_time_new(j->finished));
	add(o, "epoch", json_fixed_new(journal_get_num(j, "epoch", -1), 0));
	add(o, "steps", json_steps(j));
	json_object *rto = json_object_new_object();
	add(rto, "from_command_s", json_fixed_new(end > 0 ? end - rto_start(j) : -1, 3));
	add(rto, "from_last_heartbeat_s",
	    json_fixed_new(end > 0 && r.heartbeat_age >= 0 ? end - rto_start(j) + r.heartbeat_age
							    : -1,
			   3));
	add(o, "rto", rto);
	add(o, "rpo", json_rpo(j, &r));
	struct buf b;
	buf_init(&b);
	json_emit(&b, o);
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

static void report_text(const struct fo *f)
{
	const struct journal *j = &f->j;
	struct rpo r;
	rpo_compute(j, &r);
	printf("%s to %s (old primary %s): %s\n", f->switchover ? "switchover" : "failover",
	       journal_get(j, "node"), journal_get(j, "old_primary"),
	       j->finished > 0 ? "complete" : "NOT complete: run it again to finish");
	for (size_t i = 0; i < j->n_steps; i++) {
		const struct journal_step *s = &j->steps[i];
		if (s->ended > 0)
			printf("  %-12s +%7.3f s  %6.3f s  %s\n", s->name, s->started - j->begun,
			       s->ended - s->started, s->note);
		else
			printf("  %-12s +%7.3f s  unfinished\n", s->name, s->started - j->begun);
	}
	double end = rto_end(j);
	if (end > 0 && r.heartbeat_age >= 0)
		printf("RTO: %.3f s from the command, %.3f s from the primary's last heartbeat\n",
		       end - rto_start(j), end - rto_start(j) + r.heartbeat_age);
	else if (end > 0)
		printf("RTO: %.3f s from the command (no heartbeat seen)\n", end - rto_start(j));
	if (r.tx_lost >= 0)
		printf("RPO database: %.0f transaction(s) lost (primary had %s, applied %s)\n",
		       r.tx_lost, journal_get(j, "primary_gtid"), journal_get(j, "applied_gtid"));
	else
		printf("RPO database: primary unreachable; applied everything received (%s); its "
		       "last heartbeat was %s s before the failover\n",
		       journal_get(j, "applied_gtid") ? journal_get(j, "applied_gtid") : "-",
		       r.heartbeat_age >= 0 ? journal_get(j, "heartbeat_age") : "?");
	if (r.files_age >= 0)
		printf("RPO files: %.0f change(s) not replicated, oldest %.3f s old\n",
		       r.files_pending, r.files_age);
	else
		printf("RPO files: unknown (%s)\n", journal_get(j, "files_note"));
}

void fo_report(const struct fo *f)
{
	if (f->o->json)
		report_json(f);
	else
		report_text(f);
}

