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

static void json_num_or_null(struct buf *b, double v, const char *fmt)
{
	if (v < 0)
		buf_adds(b, "null");
	else
		buf_addf(b, fmt, v);
}

static void report_json(const struct fo *f)
{
	const struct journal *j = &f->j;
	struct rpo r;
	rpo_compute(j, &r);
	double end = rto_end(j);
	struct buf b;
	buf_init(&b);
	bool first = true;
	buf_addc(&b, '{');
	json_key(&b, "operation", &first);
	json_str(&b, f->switchover ? "switchover" : "failover");
	json_key(&b, "node", &first);
	json_str(&b, journal_get(j, "node"));
	json_key(&b, "old_primary", &first);
	json_str(&b, journal_get(j, "old_primary"));
	json_key(&b, "complete", &first);
	buf_adds(&b, j->finished > 0 ? "true" : "false");
	json_key(&b, "started", &first);
	json_time(&b, j->begun);
	json_key(&b, "finished", &first);
	json_time(&b, j->finished);
	json_key(&b, "epoch", &first);
	json_num_or_null(&b, journal_get_num(j, "epoch", -1), "%.0f");
	json_key(&b, "steps", &first);
	buf_addc(&b, '[');
	for (size_t i = 0; i < j->n_steps; i++) {
		const struct journal_step *s = &j->steps[i];
		bool f2 = true;
		buf_adds(&b, i ? ",{" : "{");
		json_key(&b, "name", &f2);
		json_str(&b, s->name);
		json_key(&b, "started", &f2);
		json_time(&b, s->started);
		json_key(&b, "ended", &f2);
		json_time(&b, s->ended);
		json_key(&b, "started_unix", &f2);
		buf_addf(&b, "%.3f", s->started);
		json_key(&b, "ended_unix", &f2);
		json_num_or_null(&b, s->ended > 0 ? s->ended : -1, "%.3f");
		json_key(&b, "seconds", &f2);
		json_num_or_null(&b, s->ended > 0 ? s->ended - s->started : -1, "%.3f");
		json_key(&b, "note", &f2);
		json_str(&b, s->note);
		buf_addc(&b, '}');
	}
	buf_adds(&b, "],\"rto\":{\"from_command_s\":");
	json_num_or_null(&b, end > 0 ? end - rto_start(j) : -1, "%.3f");
	buf_adds(&b, ",\"from_last_heartbeat_s\":");
	json_num_or_null(&b,
			 end > 0 && r.heartbeat_age >= 0 ? end - rto_start(j) + r.heartbeat_age : -1,
			 "%.3f");
	buf_adds(&b, "},\"rpo\":{\"database\":{\"primary_gtid\":");
	json_str(&b, journal_get(j, "primary_gtid"));
	buf_adds(&b, ",\"received_gtid\":");
	json_str(&b, journal_get(j, "received_gtid"));
	buf_adds(&b, ",\"applied_gtid\":");
	json_str(&b, journal_get(j, "applied_gtid"));
	buf_adds(&b, ",\"transactions_lost\":");
	json_num_or_null(&b, r.tx_lost, "%.0f");
	buf_adds(&b, ",\"primary_last_heartbeat_age_s\":");
	json_num_or_null(&b, r.heartbeat_age, "%.3f");
	buf_adds(&b, "},\"files\":{\"oldest_pending_age_s\":");
	json_num_or_null(&b, r.files_age, "%.3f");
	buf_adds(&b, ",\"pending\":");
	json_num_or_null(&b, r.files_pending, "%.0f");
	buf_adds(&b, ",\"note\":");
	json_str(&b, journal_get(j, "files_note"));
	buf_adds(&b, "}}}\n");
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

