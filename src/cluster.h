/* cluster: the automatic-failover cluster's state in etcd ([cluster]), as
 * the agent, failover/switchover, status and check share it. Owns the key
 * layout under /lifeboat/SCOPE/:
 *
 *   leader          this primary's node name, on the lease its agent renews
 *   epoch           the role epoch (decimal), bumped in the transaction that
 *                   takes leader for a new primary
 *   members/NODE    each agent's published state (JSON), on its own lease
 *   paused          present: automatic failover is off (JSON: by, at, why);
 *                   set by an automatic failover, removed by `agent --resume`
 *
 * and the one rule for taking leadership: a compare-and-swap on leader and
 * epoch (cluster_claim), so two claimants can never both succeed. A
 * decision is taken from a transaction's result, never from a read. */
#ifndef LIFEBOAT_CLUSTER_H
#define LIFEBOAT_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "etcd.h"
#include "result.h"

struct cluster {
	const struct config *cfg;
	struct etcd *etcd;
	char *prefix; /* "/lifeboat/SCOPE/" */
};

/* Request timeouts: an answer later than this is no answer. */
#define CLUSTER_TIMEOUT_MS 2000

void cluster_open(struct cluster *c, const struct config *cfg);
void cluster_close(struct cluster *c);
/* prefix + name; caller frees. */
char *cluster_key(const struct cluster *c, const char *name);

/* What a claim may do. */
enum claim_mode {
	CLAIM_AUTO,    /* agent: leader absent, automatic failover not paused; pauses it */
	CLAIM_MANUAL,  /* failover: leader absent, or held by this node */
	CLAIM_REPLACE, /* switchover, failover --force: take it from a live holder */
	CLAIM_KEEP,    /* the primary (re)taking an absent key at its own epoch: no bump */
};

struct claim_result {
	bool taken;        /* this node holds leader now */
	bool already;      /* it held it before the call */
	char *holder;      /* when not taken: who holds it (NULL: nobody) */
	char *why;         /* when not taken: the reason, one line */
	uint64_t epoch;    /* the epoch in etcd after the call */
	char *replaced;    /* CLAIM_REPLACE: the node it was taken from */
};
void claim_result_free(struct claim_result *r);

/* Take leader for this node on lease (0: grant one of [cluster] ttl, which
 * this node's agent adopts). local_epoch: the highest epoch this node knows
 * (STATE_DIR/epoch, its database); the new epoch is above it and above
 * etcd's, and STATE_DIR/epoch is set to one below so that the promotion
 * that follows records exactly it. why: for the pause record (CLAIM_AUTO).
 * 0 (see r->taken), or -1 with *err (etcd unreachable or an error). */
int cluster_claim(struct cluster *c, enum claim_mode mode, int64_t lease, uint64_t local_epoch,
		  const char *why, struct claim_result *r, char **err);

/* For failover and switchover: when [cluster] is configured, take the
 * leader key first so that a person and an agent never race. LB_OK to go
 * on, else LB_FAILED with *err. No-op without [cluster]. */
int cluster_claim_for_failover(const struct config *cfg, bool switchover, bool force,
			       uint64_t local_epoch, char **err);

/* For `db writable` (the sync daemon runs it at start): with [cluster],
 * writes go on only on the node that holds the leader key, or takes it back
 * at its own epoch (no other node was promoted since). LB_OK, or
 * LB_FAILED with *err. No-op without [cluster]. */
int cluster_claim_for_writable(const struct config *cfg, uint64_t local_epoch, char **err);

/* `status`: the cluster as seen now (leader, lease left, members, armed). */
void cluster_print_status(const struct config *cfg, bool colour);
/* The same as a JSON object (caller puts). */
struct json_object *cluster_status_json(const struct config *cfg);

/* STATE_DIR/failsafe-hold: until this wall time the node promised a primary
 * that could not reach etcd not to take the leader key. */
double cluster_failsafe_hold_until(const struct config *cfg);
int cluster_failsafe_hold(const struct config *cfg, double until, char **err);

#endif
