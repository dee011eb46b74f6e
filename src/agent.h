/* agent: `lifeboat agent`, the per-node daemon of an automatic-failover
 * cluster ([cluster]). One loop, one tick every ttl/5 (at most 1 s; half
 * that on a standby, whose tick notices the lease gone):
 *
 *   renew     its own etcd lease (members/NODE and, on the primary, leader
 *             live on it); the time the renewal was sent is what counts
 *   publish   members/NODE, and learn leader, epoch and paused, in one
 *             transaction whose compare says whether leader is this node
 *   decide    from that transaction's result only:
 *             - leader is this node: it is the primary; the watchdog is fed;
 *             - leader is another node: this node must not take writes
 *               (fenced now if it does);
 *             - no leader: the writable primary takes it back at its own
 *               epoch; a standby that may be promoted, has applied all it
 *               received, was within max_lag_on_failover and has the most
 *               applied of the live members takes it by compare-and-swap
 *               with a new epoch and runs `lifeboat failover --yes --force`
 *               as a child process; automatic failover is then paused;
 *   fence     a node acting as primary that has not renewed by (last
 *             renewal sent + ttl - margin) makes its database read-only,
 *             ends the sessions, lets the address go and stops pushing
 *             files, before etcd can expire its key; unless etcd is
 *             unreachable from every other node too and they said so
 *             (failsafe: `lifeboat agent --failsafe-probe` run on each peer
 *             over peer_command), which extends the deadline by ttl from
 *             the probe.
 *
 * STATE_DIR/agent.json: the last decision and the health answers (GET
 * /primary, /standby on metrics_listen). Owns the lease, the loop timers,
 * the failover child and the watchdog fd. */
#ifndef LIFEBOAT_AGENT_H
#define LIFEBOAT_AGENT_H

#include <stdbool.h>

#include "config.h"
#include "result.h"

struct agent_opts {
	const char *config_path;
	int verbosity;
};

/* Run until SIGTERM/SIGINT. LB_OK, LB_FAILED or LB_USAGE (result.h). */
int agent_run(const struct config *cfg, const struct agent_opts *o);
/* `agent --resume`: arm automatic failover again (removes paused). */
int agent_resume(const struct config *cfg);
/* `agent --pause`: automatic failover off (maintenance: an agent stopped
 * on the primary for longer than ttl would otherwise let the standby take
 * over while the primary's database, with no agent to fence it, lives on). */
int agent_pause(const struct config *cfg);
/* `agent --failsafe-probe NODE`: what a primary that cannot reach etcd asks
 * this node: prints "etcd=unreachable promoting=no" (and promises not to take
 * the leader key for ttl) or "etcd=reachable ...". A result (result.h). */
int agent_failsafe_probe(const struct config *cfg, const char *asking);

/* How long etcd may go without a leader (an election) while a primary
 * with this ttl still renews before its fence deadline, in ms; `check`
 * compares it with etcd's election timeout. */
int64_t agent_leaderless_budget_ms(long ttl);

/* The health answer for path ("/primary" or "/standby") from this node's
 * STATE_DIR/agent.json: 200 or 503; 0 when path is not a health path. */
int agent_health(const struct config *cfg, const char *path);

/* For the metrics, from this node's STATE_DIR/agent.json: the seconds the
 * lease this node holds as primary has left (0 once past: an agent that
 * stopped renewing runs out) and the replication lag the agent last measured
 * here as a standby (only while the file is fresh). NAN when not known. */
void agent_figures(const struct config *cfg, double *lease_left, double *lag);

#endif
