/* failover_int: what failover.c (probe, steps with their plans, run) hands
 * to failover_report.c (the expected loss, the RTO/RPO report from the
 * journal). One way only: the report knows the facts, not the steps. Not
 * an interface for other modules: failover.h is. */
#ifndef LIFEBOAT_FAILOVER_INT_H
#define LIFEBOAT_FAILOVER_INT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "db_ops.h"
#include "failover.h"
#include "journal.h"
#include "util.h"

/* What the probe learned; refreshed on every run. */
struct probe {
	bool local_ok;
	const struct db_flavor *local_flavor, *peer_flavor; /* NULL: not reached */
	struct db_facts lf;
	char *local_err;
	int peer_net; /* 1 port answers, 0 host refuses (up, db down), -1 silent */
	bool peer_ok;
	struct db_facts pf;
	char *peer_err;
	bool files_known;
	double files_age;
	long files_pending;
	char *files_note;
};

struct fo {
	const struct config *cfg;
	const struct failover_opts *o;
	bool switchover;
	struct db_pair pair; /* standby = this node (promoted), primary = the peer */
	const struct node_conf *self, *peer;
	struct journal j;
	int lock_fd;
	struct probe pr;
	double invoked; /* when this run started (the probe comes before the journal) */
};

void fo_print_expected_loss(FILE *out, const struct fo *f);
/* The report of the journal, as text or (--json) JSON, on stdout. */
void fo_report(const struct fo *f);

#endif
