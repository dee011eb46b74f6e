/* agent: see agent.h. */
#include "agent.h"
#include "child.h"
#include "cluster.h"
#include "ctl.h"
#include "result.h"
#include "db_ops.h"
#include "epoch.h"
#include "failover.h"
#include "gtid.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "notify.h"
#include "peer.h"
#include "role.h"
#include "status.h"
#include "util.h"
#include "vip.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/watchdog.h>
#include <mysql.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 4000
#define FAILSAFE_RESERVE_MS 2000
/* A primary whose renewal failed tries again this soon, not a tick later:
 * an etcd election is over in one or two election timeouts. */
#define RENEW_RETRY_MS 250
/* A renewal's bound while the failsafe's answers are awaited. */
#define PROBE_WAIT_MS 500
#define FAILOVER_GRACE_MS 120000
#define FAILOVER_ATTEMPTS 5
#define FAILOVER_RETRY_MS 2000

struct agent;

/* One failsafe question in flight: `agent --failsafe-probe` on a node. */
struct probe {
	struct agent *a;
	struct proc *p;
	char *node;
};

struct agent {
	const struct config *cfg;
	const struct agent_opts *o;
	struct loop *loop;
	struct cluster cl;
	struct db_pair pair;
	bool have_pair;
	struct db_server *self_db;
	int64_t tick_ms, margin_ms, ttl_ms;

	int64_t lease;
	int64_t renewed_ms;     /* when the last successful renewal was sent */
	int64_t lease_ttl_ms;   /* the ttl etcd confirmed at that renewal */
	int64_t failsafe_tried_for; /* the fence deadline the failsafe was last asked for */
	struct probe *probes;   /* its questions, asked side by side with renewals */
	size_t n_probes, probes_left;
	int64_t probe_sent;
	bool probe_no;          /* a node did not confirm */
	int64_t failsafe_ms;    /* when the last probe every peer confirmed was sent */
	bool etcd_ok;
	bool leader;            /* the last transaction said leader is this node */
	char *leader_name;      /* who holds it (NULL: nobody) */
	uint64_t etcd_epoch;
	bool paused;
	bool fenced_self;       /* this agent fenced its node (lost or could not renew) */

	struct db_facts facts;
	bool facts_ok;
	double lag_alive;       /* replication lag when the primary was last seen alive */
	bool lag_known;
	struct etcd_kvs members; /* members/ as the last transaction read them */
	int64_t leader_member_rev; /* the primary's members/ key at the last tick */

	struct proc *failover;
	int64_t failover_started;
	int failover_attempts;   /* of the automatic failover this agent owes */
	int64_t failover_retry_at;
	int64_t leader_lost_ms; /* when this standby saw the leader key gone */
	int64_t takeover_lost_ms; /* that moment, for the running failover's report */
	int64_t watch_woke_ms;  /* when a watch on the leader key last saw it change */

	int wd_fd;
	bool wd_missing_logged;
	char *decision;
	uint64_t tick_timer, fence_timer;
	struct metrics *health; /* metrics_listen, when no sync daemon serves it */
};

/* ------------------------------------------------------------ decisions */

/* Log a decision when it differs from the last one; status shows it. */
static void decide(struct agent *a, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void decide(struct agent *a, enum log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		text = xstrdup("?");
	va_end(ap);
	if (!a->decision || strcmp(a->decision, text) != 0)
		log_msg(lvl, "agent: %s", text);
	free(a->decision);
	a->decision = text;
}

static bool acting_primary(const struct agent *a)
{
	if (a->facts_ok && !a->facts.read_only)
		return true;
	return role_current(a->cfg) == ROLE_PRIMARY;
}

/* ------------------------------------------------------------ watchdog */

static const char *wd_path(void)
{
	const char *p = getenv("LIFEBOAT_WATCHDOG_DEVICE");
	return p && *p ? p : "/dev/watchdog";
}

static void wd_feed(struct agent *a)
{
	if (strcmp(a->cfg->cluster.watchdog, "off") == 0)
		return;
	if (a->wd_fd < 0) {
		a->wd_fd = open(wd_path(), O_WRONLY | O_CLOEXEC);
		if (a->wd_fd < 0) {
			if (!a->wd_missing_logged)
				log_warn("agent: watchdog %s: %s: a hung agent would not reboot this "
					 "node",
					 wd_path(), strerror(errno));
			a->wd_missing_logged = true;
			return;
		}
		int secs = (int)a->cfg->cluster.ttl;
		if (ioctl(a->wd_fd, WDIOC_SETTIMEOUT, &secs) < 0)
			log_debug("agent: watchdog timeout: %s", strerror(errno));
		log_info("agent: watchdog %s armed (%ld s): fed only after a lease renewal",
			 wd_path(), a->cfg->cluster.ttl);
	}
	if (write(a->wd_fd, "1", 1) != 1)
		log_warn("agent: watchdog feed: %s", strerror(errno));
}

/* Not the primary any more: a magic close disarms it. */
static void wd_disarm(struct agent *a)
{
	if (a->wd_fd < 0)
		return;
	if (write(a->wd_fd, "V", 1) != 1)
		log_debug("agent: watchdog close: %s", strerror(errno));
	close(a->wd_fd);
	a->wd_fd = -1;
	log_info("agent: watchdog disarmed (not the primary)");
}

/* ------------------------------------------------------------ local facts */

static void read_facts(struct agent *a)
{
	db_facts_free(&a->facts);
	memset(&a->facts, 0, sizeof(a->facts));
	a->facts_ok = false;
	if (!a->self_db)
		return;
	struct db_conn c;
	char *err = NULL;
	int rc = db_pair_connect(&a->pair, a->self_db, &c, &err);
	if (!rc)
		rc = db_facts_read(&c, &a->facts, &err);
	db_close(&c);
	a->facts_ok = rc == 0;
	if (rc) {
		log_debug("agent: local database: %s", err);
		free(err);
	}
}

static double current_lag(const struct agent *a)
{
	if (a->facts.has_heartbeat)
		return a->facts.heartbeat_age;
	return a->facts.seconds_behind < 0 ? 1e9 : (double)a->facts.seconds_behind;
}

static bool replicating(const struct agent *a)
{
	return a->facts_ok && a->facts.replica && a->facts.read_only && a->facts.io_running &&
	       strcmp(a->facts.io_running, "Yes") == 0 && a->facts.sql_running &&
	       strcmp(a->facts.sql_running, "Yes") == 0;
}

static bool applied_all(const struct agent *a)
{
	const char *io = a->facts.gtid_io_pos, *applied = a->facts.gtid_slave_pos;
	if (!io || !*io)
		return true;
	return gtid_transactions_behind(io, applied ? applied : "") <= 0;
}

static uint64_t local_epoch(const struct agent *a)
{
	uint64_t file = 0;
	char *err = NULL;
	if (epoch_read(a->cfg->state_dir, &file, &err) < 0) {
		free(err);
		file = 0;
	}
	uint64_t db = a->facts_ok && a->facts.has_epoch ? a->facts.epoch : 0;
	return file > db ? file : db;
}

/* ------------------------------------------------------------ fence */

/* Client sessions other than ours (and replication, the server's threads). */
#define OTHER_CLIENTS                                                                              \
	"SELECT ID FROM information_schema.PROCESSLIST WHERE ID NOT IN (CONNECTION_ID(), %lu) "    \
	"AND USER NOT IN ('system user', 'event_scheduler') AND COMMAND NOT IN ('Binlog Dump', "   \
	"'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')"

/* End every client session but connection keep. */
static unsigned kill_clients(struct db_conn *c, unsigned long keep)
{
	char *sql = xasprintf(OTHER_CLIENTS, keep), *err = NULL;
	struct db_row *rows = NULL;
	size_t n = 0;
	unsigned killed = 0;
	if (db_rows(c, sql, &rows, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *e = NULL;
			if (rows[i].values[0] &&
			    db_execf(c, &e, "KILL CONNECTION %s", rows[i].values[0]) == 0)
				killed++;
			free(e);
		}
		db_rows_free(rows, n);
	} else {
		log_warn("agent: %s", err);
		free(err);
	}
	free(sql);
	return killed;
}

/* read_only on the local server, with no acknowledged write after it.
 * A commit waiting for a semi-sync acknowledgement that cannot come (the
 * standby is cut off) holds read_only back for rpl_semi_sync_master_timeout
 * and is then acknowledged: so connection A asks for read_only first (from
 * then on no new statement writes), B ends every client session (no
 * acknowledgement reaches anyone), then turns the master side of semi-sync
 * off (the waits end), and A's read_only completes. */
static int fence_local_db(struct agent *a, unsigned *killed, char **err)
{
	struct db_conn ca, cb;
	a->self_db->connect_timeout = 5; /* read_only may wait for a commit */
	int rc = db_pair_connect(&a->pair, a->self_db, &ca, err);
	if (!rc && (rc = db_pair_connect(&a->pair, a->self_db, &cb, err)) != 0)
		db_close(&ca);
	a->self_db->connect_timeout = 2;
	if (rc)
		return rc;
	static const char ro[] = "SET GLOBAL read_only = ON";
	rc = db_exec(&ca, "SET SESSION lock_wait_timeout = 10", err);
	if (!rc && mysql_send_query(ca.my, ro, sizeof(ro) - 1) != 0) {
		*err = xasprintf("%s: %s", ca.name, mysql_error(ca.my));
		rc = LB_FAILED;
	}
	if (!rc) {
		*killed = kill_clients(&cb, mysql_thread_id(ca.my));
		char *semi = NULL, *e = NULL;
		if (db_value(&cb, "SELECT @@global.rpl_semi_sync_master_enabled", &semi, &e) == 0 &&
		    semi && strcmp(semi, "1") == 0 &&
		    db_exec(&cb, "SET GLOBAL rpl_semi_sync_master_enabled = OFF", &e) == 0)
			log_info("agent: semi-sync master side off (nothing waits for the standby now)");
		free(semi);
		free(e);
		if (mysql_read_query_result(ca.my) != 0) {
			*err = xasprintf("%s: %s", ca.name, mysql_error(ca.my));
			rc = LB_FAILED;
		}
	}
	db_close(&ca);
	/* Verified, and whoever connected meanwhile ended (db_fence_conn). */
	unsigned more = 0;
	if (!rc)
		rc = db_fence_conn(&cb, &more, err);
	*killed += more;
	db_close(&cb);
	return rc;
}

/* Writes off here: read_only and sessions killed, the address released,
 * role standby (the sync daemon stops pushing). The epoch stays: this node
 * is stale until it is rejoined. */
static void fence_self(struct agent *a, const char *why)
{
	log_warn("agent: fencing this node: %s", why);
	char *err = NULL;
	if (a->self_db) {
		unsigned killed = 0;
		if (fence_local_db(a, &killed, &err) != 0) {
			log_warn("agent: fence of the local database: %s (a database that does not "
				 "answer takes no writes either)",
				 err);
			free(err);
			err = NULL;
		} else {
			log_info("agent: database read-only, %u session(s) ended", killed);
		}
		if (db_persist_read_only(a->cfg, a->self_db, true, 0, &err) != 0) {
			log_warn("agent: %s", err);
			free(err);
			err = NULL;
		}
	}
	failover_step_down(a->cfg, 0);
	a->fenced_self = true;
	a->leader = false;
	wd_disarm(a);
	decide(a, LOG_LVL_WARN, "fenced: %s", why);
}

/* The lease lives at least until the last renewal was sent plus the ttl
 * etcd confirmed (a new leader extends leases, never shortens them); the
 * failsafe's promises last ttl from the probe. */
static int64_t fence_deadline(const struct agent *a)
{
	int64_t ttl = a->lease_ttl_ms > 0 ? a->lease_ttl_ms : a->ttl_ms;
	int64_t by_lease = a->renewed_ms + ttl, by_failsafe = a->failsafe_ms + a->ttl_ms;
	return (by_lease > by_failsafe ? by_lease : by_failsafe) - a->margin_ms;
}

static void check_deadline(struct agent *a)
{
	if (a->failover || !acting_primary(a) || a->fenced_self)
		return;
	if (now_ms() >= fence_deadline(a))
		fence_self(a, a->etcd_ok ? "the leader lease was not renewed in time"
					 : "etcd unreachable and not every other node confirmed "
					   "it cannot reach etcd either");
}

static void on_fence_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct agent *a = arg;
	a->fence_timer = 0;
	check_deadline(a);
}

static void arm_fence_timer(struct agent *a)
{
	if (a->fence_timer)
		loop_cancel_timer(a->loop, a->fence_timer);
	int64_t in = fence_deadline(a) - now_ms();
	a->fence_timer = loop_add_timer(a->loop, in > 0 ? in : 0, on_fence_timer, a);
}

/* A primary's request may take until just before its fence deadline (an
 * etcd election stalls requests for a second or two); it must end before,
 * and before the failsafe's turn when that has not been asked yet. */
static int64_t request_timeout(const struct agent *a)
{
	if (!acting_primary(a) || a->fenced_self)
		return CLUSTER_TIMEOUT_MS;
	int64_t now = now_ms(), deadline = fence_deadline(a);
	/* No lease yet (the agent starts on a writable primary): one short try. */
	if (deadline <= now)
		return 300;
	int64_t left = deadline - now - (a->failsafe_tried_for == deadline ? 50 : FAILSAFE_RESERVE_MS);
	if (left < 200)
		left = 200;
	/* Back in the loop soon while the failsafe's answers are awaited. */
	if (a->probes_left && left > PROBE_WAIT_MS)
		left = PROBE_WAIT_MS;
	/* Never past the deadline: the fence runs in this loop. */
	if (left > deadline - now - 50)
		left = deadline - now - 50;
	return left > 1 ? left : 1;
}

/* ------------------------------------------------------------ etcd */

/* Renew the lease (a new one when it is gone). 0 or -1 (etcd unreachable
 * or an error). A primary's failed renewal is tried again within
 * RENEW_RETRY_MS (schedule_tick), every member in turn (etcd.c). */
static int renew(struct agent *a)
{
	int64_t sent = now_ms();
	char *err = NULL;
	long ttl = 0;
	if (a->lease &&
	    etcd_lease_keepalive(a->cl.etcd, a->lease, request_timeout(a), &ttl, &err) < 0)
		goto fail;
	if (a->lease && ttl > 0) {
		a->renewed_ms = sent;
		a->lease_ttl_ms = (int64_t)ttl * 1000;
		return 0;
	}
	if (a->lease) {
		log_warn("agent: lease %" PRId64 " expired in etcd", a->lease);
		if (a->leader && acting_primary(a) && !a->failover)
			fence_self(a, "its leader lease expired");
		a->lease = 0;
	}
	sent = now_ms();
	if (etcd_lease_grant(a->cl.etcd, a->cfg->cluster.ttl, request_timeout(a), &a->lease, &err) < 0)
		goto fail;
	/* A new lease holds no leader key: nothing to extend for a primary. */
	if (!a->leader) {
		a->renewed_ms = sent;
		a->lease_ttl_ms = a->ttl_ms; /* etcd grants at least what was asked */
	}
	return 0;
fail:
	decide(a, LOG_LVL_WARN, "etcd unreachable (%.1f s after the last renewal): %s",
	       (double)(now_ms() - a->renewed_ms) / 1000.0, err);
	free(err);
	return -1;
}

/* Files RPO from this node's sync daemons (STATE_DIR/status.json): the
 * oldest change not yet shipped, and how many wait. */
static void add_files_rpo(const struct agent *a, struct json_object *o)
{
	char *p = xasprintf("%s/status.json", a->cfg->state_dir);
	struct json_object *root = json_object_from_file(p), *syncs, *x;
	free(p);
	double age = 0;
	int64_t pending = 0;
	bool known = root && json_object_object_get_ex(root, "syncs", &syncs);
	if (known) {
		json_object_object_foreach(syncs, name, one)
		{
			(void)name;
			if (json_object_object_get_ex(one, "oldest_pending_age", &x) &&
			    json_object_get_double(x) > age)
				age = json_object_get_double(x);
			if (json_object_object_get_ex(one, "pending", &x))
				pending += json_object_get_int64(x);
		}
	}
	json_object_put(root);
	json_object_object_add(o, "files_rpo", known ? json_object_new_double(age) : NULL);
	json_object_object_add(o, "files_pending", known ? json_object_new_int64(pending) : NULL);
}

static char *member_json(const struct agent *a, bool may_promote)
{
	struct json_object *o = json_object_new_object();
	const struct db_facts *f = &a->facts;
	const char *role = !a->facts_ok    ? "down"
			   : !f->read_only ? "primary"
			   : f->replica    ? "standby"
					   : "fenced";
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "writable", json_object_new_boolean(a->facts_ok && !f->read_only));
	json_object_object_add(o, "gtid_received",
			       json_object_new_string(f->gtid_io_pos ? f->gtid_io_pos : ""));
	json_object_object_add(o, "gtid_applied",
			       json_object_new_string(!a->facts_ok ? ""
						      : !f->read_only ? f->gtid_binlog_pos
						      : f->gtid_slave_pos ? f->gtid_slave_pos : ""));
	json_object_object_add(o, "gtid_binlog",
			       json_object_new_string(f->gtid_binlog_pos ? f->gtid_binlog_pos : ""));
	json_object_object_add(o, "lag", a->facts_ok && f->replica
						 ? json_object_new_double(current_lag(a))
						 : NULL);
	json_object_object_add(o, "epoch", json_object_new_int64((int64_t)local_epoch(a)));
	add_files_rpo(a, o);
	json_object_object_add(o, "may_promote", json_object_new_boolean(may_promote));
	json_object_object_add(o, "decision",
			       json_object_new_string(a->decision ? a->decision : "starting"));
	json_object_object_add(o, "at", json_object_new_double(now_wall()));
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* The leader key is this node's but on another lease (a manual failover
 * or `db writable` put it on the command's own): move it to the agent's,
 * which the agent renews. */
static void adopt(struct agent *a, const struct etcd_kv *l)
{
	struct etcd_txn *t = etcd_txn_new();
	etcd_txn_mod_revision(t, l->key, ETCD_EQ, l->mod_revision);
	etcd_txn_put(t, true, l->key, a->cfg->node, a->lease);
	bool ok = false;
	char *err = NULL;
	if (etcd_txn_run(a->cl.etcd, t, request_timeout(a), &ok, NULL, &err) < 0) {
		log_warn("agent: %s", err);
		free(err);
	} else if (ok) {
		log_info("agent: the leader key now lives on this agent's lease");
	}
	etcd_txn_free(t);
}

/* Publish members/NODE and learn leader, epoch, paused: one transaction,
 * whose compare (leader == this node) is the leadership decision. */
static int publish(struct agent *a, bool may_promote)
{
	const char *me = a->cfg->node;
	char *kl = cluster_key(&a->cl, "leader"), *ke = cluster_key(&a->cl, "epoch");
	char *kp = cluster_key(&a->cl, "paused");
	char *km = xasprintf("%smembers/%s", a->cl.prefix, me);
	char *mj = member_json(a, may_promote);
	struct etcd_txn *t = etcd_txn_new();
	etcd_txn_value(t, kl, ETCD_EQ, me);
	char *kms = cluster_key(&a->cl, "members/");
	for (int branch = 0; branch < 2; branch++) {
		etcd_txn_put(t, branch == 0, km, mj, a->lease);
		etcd_txn_get(t, branch == 0, kl);
		etcd_txn_get(t, branch == 0, ke);
		etcd_txn_get(t, branch == 0, kp);
		etcd_txn_get_prefix(t, branch == 0, kms);
	}
	free(kms);
	bool mine = false;
	struct etcd_kvs got;
	char *err = NULL;
	int rc = etcd_txn_run(a->cl.etcd, t, request_timeout(a), &mine, &got, &err);
	if (rc == 0) {
		const struct etcd_kv *l = etcd_kvs_find(&got, kl), *e = etcd_kvs_find(&got, ke);
		free(a->leader_name);
		a->leader_name = l ? xstrdup(l->value) : NULL;
		a->etcd_epoch = e ? strtoull(e->value, NULL, 10) : 0;
		a->paused = etcd_kvs_find(&got, kp) != NULL;
		a->leader = mine;
		if (mine && l && l->lease != a->lease)
			adopt(a, l);
		etcd_kvs_free(&a->members);
		a->members = got;
	} else {
		decide(a, LOG_LVL_WARN, "etcd unreachable: %s", err);
		free(err);
	}
	etcd_txn_free(t);
	free(kl);
	free(ke);
	free(kp);
	free(km);
	free(mj);
	return rc;
}

/* ------------------------------------------------------------ failsafe */

static void probes_free(struct agent *a)
{
	for (size_t i = 0; i < a->n_probes; i++) {
		proc_free(a->probes[i].p);
		free(a->probes[i].node);
	}
	free(a->probes);
	a->probes = NULL;
	a->n_probes = a->probes_left = 0;
}

/* One node answered (or its question timed out). When every node has,
 * and each said it cannot reach etcd either and is not promoting, the
 * deadline moves to ttl after the questions were sent. */
static void on_probe_exit(struct proc *p, void *arg)
{
	struct probe *q = arg;
	struct agent *a = q->a;
	const struct buf *out = proc_stdout(p);
	bool yes = proc_exit_code(p) == 0 && out->data &&
		   strstr(out->data, "etcd=unreachable promoting=no") != NULL;
	if (!yes) {
		log_info("agent: failsafe: %s did not confirm (exit %d after %.1f s: %s)", q->node,
			 proc_exit_code(p), (double)(now_ms() - a->probe_sent) / 1000.0,
			 out->data && *out->data ? out->data : proc_stderr_tail(p));
		a->probe_no = true;
	}
	proc_free(p);
	q->p = NULL;
	if (--a->probes_left > 0)
		return;
	bool confirmed = !a->probe_no;
	int64_t sent = a->probe_sent;
	probes_free(a);
	if (!confirmed || !acting_primary(a) || a->fenced_self)
		return;
	a->failsafe_ms = sent;
	decide(a, LOG_LVL_WARN, "etcd unreachable; failsafe: every other node confirmed it cannot "
				"reach etcd either and is not promoting: staying writable (asked in "
				"%.1f s)",
	       (double)(now_ms() - sent) / 1000.0);
	arm_fence_timer(a);
}

/* Ask every other node whether it, too, cannot reach etcd and is not
 * promoting: children of the loop, so that renewals go on meanwhile (an
 * election may end first; a node that is cut off answers only at the
 * question's timeout). */
static void start_failsafe(struct agent *a)
{
	int64_t timeout = fence_deadline(a) - now_ms() - 100;
	if (timeout > PROBE_TIMEOUT_MS)
		timeout = PROBE_TIMEOUT_MS;
	if (timeout < 100)
		return;
	a->probes = xcalloc(a->cfg->n_nodes, sizeof(*a->probes));
	a->probe_sent = now_ms();
	a->probe_no = false;
	for (size_t i = 0; i < a->cfg->n_nodes; i++) {
		const struct node_conf *n = &a->cfg->nodes[i];
		if (strcmp(n->name, a->cfg->node) == 0)
			continue;
		struct strv v;
		strv_init(&v);
		/* Asked while etcd is unreachable: perhaps the network is cut, so
		 * a connection of its own, not a shared one that may be dead. */
		if (!peer_lifeboat_argv_fresh(a->cfg, n, &v)) {
			strv_free(&v);
			log_warn("agent: failsafe: no way to ask %s (no peer_command, no ssh)", n->name);
			probes_free(a);
			return;
		}
		strv_push(&v, "agent");
		strv_push(&v, "--failsafe-probe");
		strv_push(&v, a->cfg->node);
		struct proc_opts po = {.argv = v.items,
				       .capture_stdout = true,
				       .timeout_ms = timeout,
				       .stdin_from = -1,
				       .stdout_to = -1};
		struct probe *q = &a->probes[a->n_probes++];
		q->a = a;
		q->node = xstrdup(n->name);
		char *err = NULL;
		q->p = proc_start(a->loop, &po, on_probe_exit, q, &err);
		strv_free(&v);
		if (!q->p) {
			log_warn("agent: failsafe: cannot ask %s: %s", n->name, err);
			free(err);
			probes_free(a);
			return;
		}
		a->probes_left++;
	}
	if (!a->probes_left)
		probes_free(a);
}

/* ------------------------------------------------------------ failover */

static void on_failover_exit(struct proc *p, void *arg)
{
	struct agent *a = arg;
	int code = proc_exit_code(p);
	double secs = (double)(now_ms() - a->failover_started) / 1000.0;
	if (code == 0) {
		a->failover_attempts = 0;
		decide(a, LOG_LVL_INFO,
		       "automatic failover done in %.1f s (%.1f s after the leader key was "
		       "gone): this node is the primary",
		       secs, (double)(now_ms() - a->takeover_lost_ms) / 1000.0);
	} else if (a->failover_attempts < FAILOVER_ATTEMPTS) {
		/* The journal makes a second run finish what the first began. */
		a->failover_retry_at = now_ms() + FAILOVER_RETRY_MS;
		decide(a, LOG_LVL_ERROR,
		       "automatic failover attempt %d failed (exit %d: %s): this node holds the "
		       "leader key; running it again in %d s",
		       a->failover_attempts, code, proc_stderr_tail(p), FAILOVER_RETRY_MS / 1000);
	} else {
		a->failover_attempts = 0;
		decide(a, LOG_LVL_ERROR,
		       "automatic failover failed %d times (exit %d: %s): this node holds the "
		       "leader key; 'lifeboat failover' resumes it",
		       FAILOVER_ATTEMPTS, code, proc_stderr_tail(p));
	}
	proc_free(p);
	a->failover = NULL;
}

static void start_failover(struct agent *a)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		decide(a, LOG_LVL_ERROR, "cannot find this program to run the failover: %s",
		       strerror(errno));
		return;
	}
	exe[n] = '\0';
	char *argv[] = {exe, "-c", (char *)a->o->config_path, "failover", "--yes", "--force",
			NULL};
	struct proc_opts po = {.argv = argv,
			       .capture_stdout = true,
			       .timeout_ms = FAILOVER_GRACE_MS +
					     (int64_t)(a->cfg->db.promote_timeout * 1000),
			       .stdin_from = -1,
			       .stdout_to = -1};
	char *err = NULL;
	a->failover_started = now_ms();
	a->failover_attempts++;
	a->failover = proc_start(a->loop, &po, on_failover_exit, a, &err);
	if (!a->failover) {
		decide(a, LOG_LVL_ERROR, "could not start the failover: %s", err);
		free(err);
	}
}

/* Members whose state says they have applied more than this node. */
static const char *better_member(struct agent *a)
{
	const struct etcd_kvs *members = &a->members;
	char *prefix = cluster_key(&a->cl, "members/");
	size_t plen = strlen(prefix);
	free(prefix);
	const char *mine = a->facts.gtid_slave_pos ? a->facts.gtid_slave_pos : "";
	for (size_t i = 0; i < members->len; i++) {
		const char *name = members->items[i].key + plen;
		if (strlen(members->items[i].key) < plen || strcmp(name, a->cfg->node) == 0)
			continue;
		struct json_object *o = json_tokener_parse(members->items[i].value), *v;
		bool may = o && json_object_object_get_ex(o, "may_promote", &v) &&
			   json_object_get_boolean(v);
		const char *theirs = may && json_object_object_get_ex(o, "gtid_applied", &v)
					     ? json_object_get_string(v)
					     : NULL;
		double ahead = theirs ? gtid_transactions_behind(theirs, mine) : 0;
		/* Equal: the lower name goes; the compare-and-swap decides anyway. */
		bool better = ahead > 0 || (ahead == 0 && theirs && strcmp(name, a->cfg->node) < 0);
		json_object_put(o);
		if (better)
			return name;
	}
	return NULL;
}

/* Why this node may not be promoted automatically now (NULL: it may). */
static char *not_promotable(struct agent *a)
{
	const struct node_conf *self = config_find_node(a->cfg, a->cfg->node);
	if (self && self->nofailover)
		return xstrdup("this node is nofailover");
	if (!a->facts_ok)
		return xstrdup("its database does not answer");
	if (!a->facts.replica || !a->facts.read_only)
		return xstrdup("its database is not a read-only replica");
	if (!applied_all(a))
		return xasprintf("it has not applied all it received (%s of %s)",
				 a->facts.gtid_slave_pos, a->facts.gtid_io_pos);
	if (!a->lag_known)
		return xstrdup("it never saw the primary alive since the agent started (lag unknown)");
	if (a->lag_alive > a->cfg->cluster.max_lag_on_failover)
		return xasprintf("it was %.1f s behind when the primary was last seen, more than "
				 "max_lag_on_failover = %.1f s",
				 a->lag_alive, a->cfg->cluster.max_lag_on_failover);
	double hold = cluster_failsafe_hold_until(a->cfg);
	if (hold > now_wall())
		return xasprintf("it promised a primary without etcd not to promote for %.1f s more "
				 "(failsafe)",
				 hold - now_wall());
	return NULL;
}

static void try_takeover(struct agent *a)
{
	if (!a->leader_lost_ms)
		a->leader_lost_ms = now_ms();
	char *no = not_promotable(a);
	if (!no && !a->cfg->cluster.auto_failover)
		no = xstrdup("auto_failover = no: a person runs 'lifeboat failover'");
	if (!no && a->paused)
		no = xstrdup("automatic failover is paused after an earlier one ('lifeboat agent "
			     "--resume' arms it)");
	if (!no) {
		const char *b = better_member(a);
		if (b)
			no = xasprintf("%s has applied at least as much and goes first", b);
	}
	if (no) {
		decide(a, LOG_LVL_WARN, "no leader; not failing over: %s", no);
		free(no);
		return;
	}
	struct claim_result r;
	char *err = NULL;
	char *why = xasprintf("automatic failover to %s: %s's lease expired", a->cfg->node,
			      a->leader_name ? a->leader_name : "the primary");
	int rc = cluster_claim(&a->cl, CLAIM_AUTO, a->lease, local_epoch(a), why, &r, &err);
	free(why);
	if (rc < 0) {
		decide(a, LOG_LVL_WARN, "no leader; claim failed: %s", err);
		free(err);
	} else if (!r.taken) {
		decide(a, LOG_LVL_INFO, "no leader; not failing over: %s", r.why);
	} else {
		a->leader = true;
		a->takeover_lost_ms = a->leader_lost_ms;
		decide(a, LOG_LVL_WARN,
		       "no leader for %.1f s: took the leader key (epoch %" PRIu64
		       "), failing over to this node; automatic failover paused",
		       (double)(now_ms() - a->leader_lost_ms) / 1000.0, r.epoch);
		start_failover(a);
	}
	claim_result_free(&r);
}

/* No leader and this node is the writable primary: it takes the key back
 * at its own epoch (bootstrap, or its key lapsed while etcd was away). */
static void retake(struct agent *a)
{
	struct claim_result r;
	char *err = NULL;
	int rc = cluster_claim(&a->cl, CLAIM_KEEP, a->lease, local_epoch(a), NULL, &r, &err);
	if (rc < 0) {
		decide(a, LOG_LVL_WARN, "no leader; could not take it: %s", err);
		free(err);
	} else if (r.taken) {
		a->leader = true;
		decide(a, LOG_LVL_INFO, "primary: holds the leader key (epoch %" PRIu64 ")", r.epoch);
	} else {
		fence_self(a, r.why);
	}
	claim_result_free(&r);
}

/* The key is this node's but it fenced itself: give it back, so the
 * standby can take over (this node is stale now). */
static void release(struct agent *a)
{
	char *kl = cluster_key(&a->cl, "leader"), *err = NULL;
	struct etcd_txn *t = etcd_txn_new();
	etcd_txn_value(t, kl, ETCD_EQ, a->cfg->node);
	etcd_txn_del(t, true, kl);
	bool ok = false;
	if (etcd_txn_run(a->cl.etcd, t, CLUSTER_TIMEOUT_MS, &ok, NULL, &err) < 0) {
		log_warn("agent: %s", err);
		free(err);
	} else if (ok) {
		a->leader = false;
		decide(a, LOG_LVL_WARN, "released the leader key: this node fenced itself earlier");
	}
	etcd_txn_free(t);
	free(kl);
}

/* The key is still this node's and etcd's epoch is this node's: nobody was
 * promoted while it was fenced (its lease outlived the outage). Writes go
 * back on here rather than leaving the pair without a primary. The etcd
 * transaction is the evidence: `db writable`'s look at the other server
 * is not needed (and fails while that server is cut off). */
static bool resume_writes(struct agent *a)
{
	uint64_t mine = local_epoch(a);
	if (!a->self_db || !a->facts_ok || a->facts.replica || mine != a->etcd_epoch)
		return false;
	char *err = NULL, *note = NULL;
	struct db_conn c;
	int rc = db_pair_connect(&a->pair, a->self_db, &c, &err);
	/* What fence_self took (READ_ONLY ADMIN, semi-sync's master side)
	 * comes back first, as `db writable` does it. */
	if (!rc)
		rc = db_unfence(a->cfg, &c, &err);
	if (!rc)
		rc = db_exec(&c, "SET GLOBAL read_only = OFF", &err);
	db_close(&c);
	if (!rc)
		rc = db_persist_read_only(a->cfg, a->self_db, false, mine, &err);
	if (!rc && role_write(a->cfg->state_dir, ROLE_PRIMARY, &err) < 0)
		rc = LB_FAILED;
	const struct failover_conf *fc = &a->cfg->failover;
	if (!rc && fc->vip && fc->vip_dev && vip_take(fc->vip, fc->vip_dev, &note, &err) < 0)
		rc = LB_FAILED;
	free(note);
	if (rc) {
		log_warn("agent: writes could not go back on: %s", err);
		free(err);
		return false;
	}
	/* The sync daemons reload: this node pushes again. */
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("reload"));
	json_object_put(ctl_call_all(a->cfg->state_dir, req, 5000));
	json_object_put(req);
	a->fenced_self = false;
	decide(a, LOG_LVL_WARN,
	       "primary again: the leader key and epoch %" PRIu64 " are still this node's "
	       "(its lease outlived the outage)",
	       mine);
	return true;
}

/* ------------------------------------------------------------ state file */

static void write_state(struct agent *a)
{
	struct json_object *o = json_object_new_object();
	int64_t left = fence_deadline(a) - now_ms();
	bool primary = a->leader && a->facts_ok && !a->facts.read_only && !a->fenced_self;
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "at", json_object_new_double(now_wall()));
	json_object_object_add(o, "node", json_object_new_string(a->cfg->node));
	json_object_object_add(o, "etcd", json_object_new_string(a->etcd_ok ? "ok" : "unreachable"));
	json_object_object_add(o, "leader", a->leader_name ? json_object_new_string(a->leader_name)
							    : NULL);
	json_object_object_add(o, "holds_lease", json_object_new_boolean(a->leader));
	json_object_object_add(o, "primary_until",
			       json_object_new_double(primary && left > 0
							      ? now_wall() + (double)left / 1000.0
							      : 0));
	bool standby = replicating(a) && current_lag(a) <= a->cfg->cluster.max_lag_on_failover;
	json_object_object_add(o, "standby_ok", json_object_new_boolean(standby));
	json_object_object_add(o, "lag", a->facts_ok && a->facts.replica
						 ? json_object_new_double(current_lag(a))
						 : NULL);
	json_object_object_add(o, "fenced_self", json_object_new_boolean(a->fenced_self));
	json_object_object_add(o, "auto_failover",
			       json_object_new_boolean(a->cfg->cluster.auto_failover && !a->paused));
	json_object_object_add(o, "decision",
			       json_object_new_string(a->decision ? a->decision : "starting"));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	char *path = xasprintf("%s/agent.json", a->cfg->state_dir);
	if (write_file_atomic(path, s, strlen(s)) < 0)
		log_debug("agent: %s: %s", path, strerror(errno));
	free(path);
	json_object_put(o);
}

/* ------------------------------------------------------------ tick */

static void leader_elsewhere(struct agent *a)
{
	a->leader_lost_ms = 0;
	if (acting_primary(a) && !a->failover) {
		char *why = xasprintf("%s holds the leader key (epoch %" PRIu64 ")", a->leader_name,
				      a->etcd_epoch);
		fence_self(a, why);
		free(why);
		return;
	}
	/* What a later failover is judged by: the lag while the primary lived,
	 * that is while its members/ key still changed from tick to tick. */
	char *k = xasprintf("%smembers/%s", a->cl.prefix, a->leader_name);
	const struct etcd_kv *m = etcd_kvs_find(&a->members, k);
	free(k);
	bool alive = m && a->leader_member_rev && m->mod_revision != a->leader_member_rev;
	log_debug("agent: %s's members key revision %" PRId64 " (was %" PRId64 "), replicating %d, "
		  "lag %.1f",
		  a->leader_name, m ? m->mod_revision : 0, a->leader_member_rev, replicating(a),
		  a->facts_ok ? current_lag(a) : -1.0);
	a->leader_member_rev = m ? m->mod_revision : 0;
	if (alive && replicating(a)) {
		a->lag_alive = current_lag(a);
		a->lag_known = true;
	}
	decide(a, LOG_LVL_INFO, "standby: %s is the primary%s", a->leader_name,
	       a->fenced_self ? " (this node fenced itself: stale until 'lifeboat db rejoin')" : "");
}

static void leader_here(struct agent *a)
{
	a->leader_lost_ms = 0;
	if (a->failover) {
		decide(a, LOG_LVL_INFO, "holds the leader key; failover running");
		return;
	}
	if (a->fenced_self) {
		if (!resume_writes(a))
			release(a);
		return;
	}
	if (a->failover_attempts && now_ms() >= a->failover_retry_at) {
		start_failover(a);
		return;
	}
	wd_feed(a);
	if (a->facts_ok && !a->facts.read_only)
		decide(a, LOG_LVL_INFO, "primary: holds the leader key (epoch %" PRIu64 ")",
		       a->etcd_epoch);
	else
		decide(a, LOG_LVL_WARN, "holds the leader key but its database is %s: 'lifeboat "
			"failover' finishes an interrupted failover",
		       a->facts_ok ? "read-only" : "not answering");
}

static void no_leader(struct agent *a)
{
	if (a->failover)
		return;
	if (acting_primary(a) && !a->fenced_self && a->facts_ok && !a->facts.read_only)
		retake(a);
	else
		try_takeover(a);
}

/* Renewals come first (an election is over in a second or two, and a
 * renewal is the better answer); the other nodes are asked once per
 * deadline, when only FAILSAFE_RESERVE_MS is left before it, while the
 * renewals go on. */
static void etcd_down(struct agent *a)
{
	if (!acting_primary(a) || a->fenced_self || a->failover || a->probes_left)
		return;
	int64_t deadline = fence_deadline(a);
	if (a->failsafe_tried_for == deadline || now_ms() < deadline - FAILSAFE_RESERVE_MS)
		return;
	a->failsafe_tried_for = deadline;
	start_failsafe(a);
}

static void schedule_tick(struct agent *a);

/* SIGTERM waits in the signalfd until the loop reads it: a tick that is
 * slow because etcd is down must not make a shutdown wait. */
static bool stop_pending(void)
{
	sigset_t set;
	return sigpending(&set) == 0 && (sigismember(&set, SIGTERM) || sigismember(&set, SIGINT));
}

static void tick(struct agent *a)
{
	read_facts(a);
	/* A node replicating again was rejoined: it may be primary again later. */
	if (a->fenced_self && a->facts_ok && a->facts.replica)
		a->fenced_self = false;
	bool was_leader = a->leader;
	a->etcd_ok = renew(a) == 0;
	char *no = a->etcd_ok ? not_promotable(a) : NULL;
	if (a->etcd_ok)
		a->etcd_ok = publish(a, a->etcd_ok && !no) == 0;
	free(no);
	if (stop_pending())
		return;
	if (!a->etcd_ok) {
		etcd_down(a);
	} else if (a->leader) {
		leader_here(a);
	} else {
		if (was_leader && acting_primary(a) && !a->failover && !a->fenced_self)
			fence_self(a, "the leader key is no longer this node's");
		if (a->leader_name)
			leader_elsewhere(a);
		else
			no_leader(a);
	}
	if (!a->leader && a->wd_fd >= 0)
		wd_disarm(a);
	check_deadline(a);
	if (acting_primary(a) && !a->fenced_self)
		arm_fence_timer(a);
	write_state(a);
	notify_send("WATCHDOG=1");
}

/* A standby following a live primary spends the time until its next tick
 * in a watch on the leader key, from the revision its transaction read:
 * when the key goes (the primary's lease ran out) or changes hands, the
 * next tick comes at once instead of up to half a tick later. true: the
 * wait is over (changed, or the whole interval passed): tick now. false:
 * no watch (etcd did not take one): the timer paces the ticks as before.
 * The tick decides, from its own transaction. */
static bool await_leader_change(struct agent *a)
{
	if (!a->etcd_ok || a->leader || !a->leader_name || a->failover || acting_primary(a) ||
	    a->members.revision <= 0 || loop_stopping(a->loop) || stop_pending())
		return false;
	char *kl = cluster_key(&a->cl, "leader"), *err = NULL;
	int64_t wait = a->tick_ms / 2, began = now_ms();
	int rc = etcd_watch_wait(a->cl.etcd, kl, a->members.revision, wait, &err);
	free(kl);
	if (rc < 0) {
		log_debug("agent: no watch on the leader key (%s): polling", err);
		free(err);
		/* A member that never answered used up the interval already. */
		return now_ms() - began >= wait;
	}
	if (rc > 0) {
		/* Changes in a row (a key that flaps): the timer paces the ticks. */
		int64_t now = now_ms(), last = a->watch_woke_ms;
		a->watch_woke_ms = now;
		if (now - last < a->tick_ms / 2)
			return false;
		log_debug("agent: the leader key changed: ticking now");
	}
	return true;
}

static void on_tick(struct loop *loop, void *arg)
{
	(void)loop;
	struct agent *a = arg;
	a->tick_timer = 0;
	tick(a);
	if (await_leader_change(a) && !loop_stopping(a->loop))
		a->tick_timer = loop_add_timer(a->loop, 0, on_tick, a);
	else
		schedule_tick(a);
}

/* Every half tick: on a standby the moment the primary's lease is gone
 * counts towards the RTO; on the primary each renewal moves its fence
 * deadline on, and an etcd election (a member lost, or one rejoining
 * without pre-vote) must end before that deadline, or it fences itself. */
static void schedule_tick(struct agent *a)
{
	int64_t ms = a->tick_ms / 2;
	if (!a->etcd_ok && acting_primary(a) && !a->fenced_self && ms > RENEW_RETRY_MS)
		ms = RENEW_RETRY_MS;
	if (!loop_stopping(a->loop))
		a->tick_timer = loop_add_timer(a->loop, ms, on_tick, a);
}

static void on_stop(struct loop *loop, int signo, void *arg)
{
	(void)arg;
	log_info("agent: signal %d: stopping", signo);
	loop_stop(loop);
}

static char *render_metrics(void *arg)
{
	struct agent *a = arg;
	return status_render_metrics(a->cfg, NULL, 0);
}

static int health_answer(const char *path, void *arg)
{
	struct agent *a = arg;
	return agent_health(a->cfg, path);
}

/* metrics_listen is the sync daemon's; without a [sync] section no sync
 * daemon runs on this node (a database-only pair), and the load
 * balancer's health checks (/primary, /standby) are answered here. */
static void start_health(struct agent *a)
{
	if (a->cfg->n_syncs > 0 || !a->cfg->metrics_listen)
		return;
	char *err = NULL;
	a->health = metrics_new(a->loop, a->cfg->metrics_listen, render_metrics, a, &err);
	if (!a->health) {
		log_error("agent: %s: no health endpoint", err);
		free(err);
		return;
	}
	metrics_set_health(a->health, health_answer, a);
	log_info("agent: /primary, /standby and /metrics on %s (no [sync] section: no sync "
		 "daemon serves them)",
		 a->cfg->metrics_listen);
}

/* One tick every ttl/5, at most 1 s; the fence margin 1 s or ttl/4. */
static int64_t tick_of(int64_t ttl_ms)
{
	return ttl_ms / 5 < 1000 ? ttl_ms / 5 : 1000;
}

static int64_t margin_of(int64_t ttl_ms)
{
	return ttl_ms / 4 > 1000 ? ttl_ms / 4 : 1000;
}

/* The worst case: etcd's leader lost just after a renewal, found out at
 * the next tick (half a tick later); from then on a renewal is tried every
 * RENEW_RETRY_MS until the fence deadline. */
int64_t agent_leaderless_budget_ms(long ttl)
{
	int64_t ttl_ms = (int64_t)ttl * 1000;
	return ttl_ms - margin_of(ttl_ms) - tick_of(ttl_ms) / 2 - RENEW_RETRY_MS;
}

static int setup(struct agent *a, char **err)
{
	const struct config *cfg = a->cfg;
	if (!cfg->cluster.present) {
		*err = xasprintf("%s: no [cluster] section: the agent needs etcd (see "
				 "lifeboat.conf(5))",
				 cfg->path);
		return LB_USAGE;
	}
	if (!cfg->node) {
		*err = xasprintf("%s: [cluster] needs [lifeboat] node (which [node] this is)",
				 cfg->path);
		return LB_USAGE;
	}
	if (strcmp(cfg->cluster.watchdog, "required") == 0 && access(wd_path(), W_OK) != 0) {
		*err = xasprintf("watchdog = required but %s: %s (modprobe softdog)", wd_path(),
				 strerror(errno));
		return LB_FAILED;
	}
	if (cfg->db.present) {
		int rc = db_pair_init(&a->pair, cfg, false, err);
		if (rc)
			return rc;
		a->have_pair = true;
		if (a->pair.primary.node && strcmp(a->pair.primary.node, cfg->node) == 0)
			a->self_db = &a->pair.primary;
		else if (a->pair.standby.node && strcmp(a->pair.standby.node, cfg->node) == 0)
			a->self_db = &a->pair.standby;
		if (a->self_db)
			a->self_db->connect_timeout = 2;
	}
	a->ttl_ms = cfg->cluster.ttl * 1000;
	a->tick_ms = tick_of(a->ttl_ms);
	a->margin_ms = margin_of(a->ttl_ms);
	cluster_open(&a->cl, cfg);
	return LB_OK;
}

int agent_run(const struct config *cfg, const struct agent_opts *o)
{
	struct agent a;
	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.o = o;
	a.wd_fd = -1;
	char *err = NULL;
	int rc = setup(&a, &err);
	if (rc) {
		log_error("agent: %s", err);
		free(err);
		if (a.have_pair)
			db_pair_free(&a.pair);
		return rc;
	}
	a.loop = loop_new();
	loop_on_signal(a.loop, SIGTERM, on_stop, &a);
	loop_on_signal(a.loop, SIGINT, on_stop, &a);
	log_info("agent: node %s, scope %s, ttl %ld s (tick %" PRId64 " ms, fence margin %" PRId64
		 " ms), automatic failover %s",
		 cfg->node, cfg->cluster.scope, cfg->cluster.ttl, a.tick_ms, a.margin_ms,
		 cfg->cluster.auto_failover ? "on" : "off");
	start_health(&a);
	notify_send("READY=1");
	tick(&a);
	schedule_tick(&a);
	rc = loop_run(a.loop) < 0 ? LB_FAILED : LB_OK;
	notify_send("STOPPING=1");
	/* A stopping agent keeps the key until its lease runs out: the
	 * primary keeps writing through a restart of its agent shorter than
	 * ttl; past it, the standby takes over. */
	if (a.failover)
		proc_free(a.failover);
	probes_free(&a);
	wd_disarm(&a);
	metrics_free(a.health);
	loop_free(a.loop);
	cluster_close(&a.cl);
	db_facts_free(&a.facts);
	if (a.have_pair)
		db_pair_free(&a.pair);
	free(a.leader_name);
	etcd_kvs_free(&a.members);
	free(a.decision);
	return rc;
}

/* ------------------------------------------------------------ one-shots */

int agent_resume(const struct config *cfg)
{
	if (!cfg->cluster.present) {
		log_error("%s: no [cluster] section: nothing to resume", cfg->path);
		return LB_USAGE;
	}
	struct cluster c;
	cluster_open(&c, cfg);
	char *kp = cluster_key(&c, "paused"), *err = NULL;
	int rc = etcd_delete(c.etcd, kp, CLUSTER_TIMEOUT_MS, &err);
	free(kp);
	cluster_close(&c);
	if (rc < 0) {
		log_error("agent --resume: %s", err);
		free(err);
		return LB_FAILED;
	}
	log_info("automatic failover armed again (scope %s)", cfg->cluster.scope);
	return LB_OK;
}

int agent_pause(const struct config *cfg)
{
	if (!cfg->cluster.present) {
		log_error("%s: no [cluster] section: nothing to pause", cfg->path);
		return LB_USAGE;
	}
	struct cluster c;
	cluster_open(&c, cfg);
	char *kp = cluster_key(&c, "paused"), *err = NULL;
	char *v = xasprintf("{\"by\":\"%s\",\"at\":%.3f,\"why\":\"paused by a person (agent "
			    "--pause)\"}",
			    cfg->node ? cfg->node : "?", now_wall());
	struct etcd_txn *t = etcd_txn_new();
	etcd_txn_put(t, true, kp, v, 0);
	bool ok = false;
	int rc = etcd_txn_run(c.etcd, t, CLUSTER_TIMEOUT_MS, &ok, NULL, &err);
	etcd_txn_free(t);
	free(v);
	free(kp);
	cluster_close(&c);
	if (rc < 0) {
		log_error("agent --pause: %s", err);
		free(err);
		return LB_FAILED;
	}
	log_info("automatic failover paused (scope %s) until 'lifeboat agent --resume'",
		 cfg->cluster.scope);
	return LB_OK;
}

int agent_failsafe_probe(const struct config *cfg, const char *asking)
{
	if (!cfg->cluster.present) {
		log_error("%s: no [cluster] section", cfg->path);
		return LB_USAGE;
	}
	struct cluster c;
	cluster_open(&c, cfg);
	struct etcd_kvs kvs;
	char *kl = cluster_key(&c, "leader"), *err = NULL;
	/* Quick: the asking primary has a deadline. */
	int rc = etcd_range(c.etcd, kl, false, 600, &kvs, &err);
	free(kl);
	cluster_close(&c);
	if (rc == 0) {
		printf("etcd=reachable leader=%s\n", kvs.len ? kvs.items[0].value : "none");
		etcd_kvs_free(&kvs);
		return LB_OK;
	}
	free(err);
	/* The promise comes before the answer: from now on, ttl more without
	 * taking the key, so the primary's extended deadline ends first. */
	double until = now_wall() + (double)cfg->cluster.ttl;
	if (cluster_failsafe_hold(cfg, until, &err) < 0) {
		log_error("agent --failsafe-probe: %s", err);
		free(err);
		return LB_FAILED;
	}
	log_info("failsafe: %s cannot reach etcd; neither can this node: not promoting for %ld s",
		 asking ? asking : "the primary", cfg->cluster.ttl);
	printf("etcd=unreachable promoting=no\n");
	return LB_OK;
}

int agent_health(const struct config *cfg, const char *path)
{
	bool want_primary = strncmp(path, "/primary", 8) == 0 && strchr(" ?", path[8]);
	bool want_standby = strncmp(path, "/standby", 8) == 0 && strchr(" ?", path[8]);
	if (!want_primary && !want_standby)
		return 0;
	char *p = xasprintf("%s/agent.json", cfg->state_dir);
	struct json_object *o = json_object_from_file(p), *v;
	free(p);
	int code = 503;
	double now = now_wall();
	double ttl = cfg->cluster.present ? (double)cfg->cluster.ttl : 5;
	/* A file an agent no longer refreshes says nothing. */
	bool fresh = o && json_object_object_get_ex(o, "at", &v) &&
		     now - json_object_get_double(v) < ttl;
	if (fresh && want_primary && json_object_object_get_ex(o, "primary_until", &v) &&
	    json_object_get_double(v) > now)
		code = 200;
	if (fresh && want_standby && json_object_object_get_ex(o, "standby_ok", &v) &&
	    json_object_get_boolean(v))
		code = 200;
	json_object_put(o);
	return code;
}

void agent_figures(const struct config *cfg, double *lease_left, double *lag)
{
	*lease_left = NAN;
	*lag = NAN;
	char *p = xasprintf("%s/agent.json", cfg->state_dir);
	struct json_object *o = json_object_from_file(p), *v;
	free(p);
	if (!o)
		return;
	double now = now_wall();
	if (json_object_object_get_ex(o, "holds_lease", &v) && json_object_get_boolean(v) &&
	    json_object_object_get_ex(o, "primary_until", &v) && json_object_get_double(v) > 0)
		*lease_left = fmax(0, json_object_get_double(v) - now);
	bool fresh = json_object_object_get_ex(o, "at", &v) &&
		     now - json_object_get_double(v) < (double)cfg->cluster.ttl;
	if (fresh && json_object_object_get_ex(o, "lag", &v) && v)
		*lag = json_object_get_double(v);
	json_object_put(o);
}
