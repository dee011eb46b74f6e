/* failover: `lifeboat failover` (promote this node, the primary presumed
 * dead) and `lifeboat switchover` (planned swap, both up). Owns the step
 * lists, the lock STATE_DIR/failover.lock (one failover or switchover at a
 * time), the journal's use (journal.h), the talk to the old primary's
 * lifeboat over [failover] peer_command, and the RTO/RPO report.
 *
 * Contract with the sync daemon (syncer.c): STATE_DIR/role holds
 * "primary\n" or "standby\n" (written atomically here) and STATE_DIR/epoch
 * the role epoch (db_promote bumps it); after changing them this module sends
 * SIGHUP to every running daemon named by STATE_DIR/status.json, which
 * reloads and pushes only when primary, towards a peer whose epoch is not
 * lower.
 *
 * Test hook: LIFEBOAT_TEST_KILL_AT=STEP:start|STEP:done makes the process
 * SIGKILL itself right after journaling that record (tests re-run it). */
#ifndef LIFEBOAT_FAILOVER_H
#define LIFEBOAT_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "result.h"

struct failover_opts {
	bool dry_run;
	bool yes;
	bool force;
	bool json;
};

/* These return LB_OK, LB_FAILED or LB_USAGE (result.h). */
int failover_run(const struct config *cfg, const struct failover_opts *o);
int switchover_run(const struct config *cfg, const struct failover_opts *o);
/* This node stops acting as primary: releases the VIP if held here, writes
 * role "standby" (and epoch when non-zero: it follows that primary now),
 * signals the sync daemon. What failover/switchover run on the old primary
 * over peer_command (`lifeboat switchover --step-down [--epoch N]`). */
int failover_step_down(const struct config *cfg, uint64_t epoch);
/* After `db rejoin`: the old primary's node (old_node, a [node] name, may be
 * NULL) steps down with the new primary's epoch, here or over
 * peer_command, so its sync daemon receives and the new primary's pushes. */
int failover_old_primary_follows(const struct config *cfg, const char *old_node, uint64_t epoch,
				  char **err);

#endif
