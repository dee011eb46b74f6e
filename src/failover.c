/* failover: see failover.h. A run is: lock, probe both nodes (facts that
 * decide whether to go on and what it will cost), refuse what would be a
 * split brain, show the plan (--dry-run stops there), confirm, then the
 * steps, each journaled start/done and written so that running it twice is
 * harmless. The report is built from the journal alone, so a failover
 * resumed after a crash reports its whole history. */
#include "failover.h"
#include "failover_int.h"
#include "ctl.h"
#include "child.h"
#include "cluster.h"
#include "result.h"
#include "db_ops.h"
#include "epoch.h"
#include "gtid.h"
#include "hooks.h"
#include "journal.h"
#include "log.h"
#include "residency.h"
#include "peer.h"
#include "util.h"
#include "vip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_TIMEOUT_MS 15000
#define PROBE_TIMEOUT_MS 1000
/* The old primary's lease is known gone (old_lease_gone): a host that
 * answers at all, on a LAN or a WAN, answers a connect within this. */
#define PROBE_LEASE_GONE_MS 300
#define PROBE_ETCD_MS 500

/* ------------------------------------------------------------ helpers */

static void test_kill(const char *step, const char *when)
{
	const char *at = getenv("LIFEBOAT_TEST_KILL_AT");
	if (!at)
		return;
	char *want = xasprintf("%s:%s", step, when);
	bool hit = strcmp(at, want) == 0;
	free(want);
	if (hit)
		raise(SIGKILL);
}

static void swap_servers(struct db_pair *p)
{
	struct db_server t = p->primary;
	p->primary = p->standby;
	p->standby = t;
	char *r = p->primary.role;
	p->primary.role = p->standby.role;
	p->standby.role = r;
}

static const char *fo_peer_address(const struct fo *f)
{
	return f->peer ? f->peer->address : f->pair.primary.host;
}

static const char *fo_self_address(const struct fo *f)
{
	return f->self ? f->self->address : f->pair.standby.host;
}

/* argv to run lifeboat on the old primary's node (peer.c). */
static bool fo_peer_argv(const struct fo *f, struct strv *v)
{
	return peer_lifeboat_argv(f->cfg, f->peer, v);
}

/* ---- plans: what --dry-run prints under each step (see the step tables) */

static void print_argv(const char *prefix, const struct strv *v)
{
	printf("%s", prefix);
	for (size_t i = 0; i < v->len; i++) {
		const char *a = v->items[i];
		bool plain = *a && strcspn(a, " \t\n'\"\\$`;&|<>()*?[]{}~#!") == strlen(a);
		printf(plain ? " %s" : " '%s'", a);
	}
	putchar('\n');
}

/* The statements of the server's flavour (MariaDB when it was not reached). */
static const struct db_flavor *flavor_of(const struct db_flavor *fl)
{
	return fl ? fl : &db_flavor_mariadb;
}

static void plan_hooks(const struct fo *f, const struct strv *hooks, const char *phase)
{
	for (size_t i = 0; i < hooks->len; i++) {
		struct strv v;
		strv_init(&v);
		hook_argv(&v, hooks->items[i], phase, f->cfg->node, fo_self_address(f));
		print_argv("    run:", &v);
		strv_free(&v);
	}
}

/* A TCP connect to the old primary, started before the other probes and
 * finished after them (tcp_probe_end), bounded: a dead host costs
 * PROBE_TIMEOUT_MS here instead of the client library's 5 s. */
struct tcp_probe {
	int fd;     /* the connect in flight, or -1 */
	int result; /* 1 port answers, 0 refused, -1 silent or no address */
	int64_t started;
};

static void tcp_probe_start(struct tcp_probe *t, const char *host, unsigned port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%u", port);
	t->fd = -1;
	t->result = -1;
	t->started = now_ms();
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
		return;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			t->result = 1;
		} else if (errno == EINPROGRESS) {
			t->fd = fd;
			fd = -1;
		} else if (errno == ECONNREFUSED) {
			t->result = 0;
		}
		if (fd >= 0)
			close(fd);
	}
	freeaddrinfo(ai);
}

/* The answer, waiting until budget_ms after the start at most. */
static int tcp_probe_end(struct tcp_probe *t, int64_t budget_ms)
{
	if (t->fd < 0)
		return t->result;
	int64_t left = t->started + budget_ms - now_ms();
	struct pollfd pfd = {.fd = t->fd, .events = POLLOUT};
	if (poll(&pfd, 1, left > 0 ? (int)left : 0) == 1) {
		int e = 0;
		socklen_t l = sizeof(e);
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		t->result = e == 0 ? 1 : (e == ECONNREFUSED ? 0 : -1);
	}
	close(t->fd);
	t->fd = -1;
	return t->result;
}

/* [cluster]: etcd (a linearizable read) says the leader key is this
 * node's, so the old primary's lease is gone: its agent, if it runs,
 * fenced it before the lease could run out (read-only, sessions ended,
 * address released). The probe then looks only briefly for what it can
 * still fence (a primary whose agent was stopped answers at once on a LAN
 * or a WAN). */
static bool old_lease_gone(const struct fo *f)
{
	const struct config *cfg = f->cfg;
	if (!cfg->cluster.present || !cfg->node || f->switchover)
		return false;
	struct cluster c;
	cluster_open(&c, cfg);
	char *kl = cluster_key(&c, "leader"), *err = NULL;
	struct etcd_kvs kvs;
	bool mine = false;
	if (etcd_range(c.etcd, kl, false, PROBE_ETCD_MS, &kvs, &err) == 0) {
		mine = kvs.len == 1 && strcmp(kvs.items[0].value, cfg->node) == 0;
		etcd_kvs_free(&kvs);
	} else {
		log_debug("failover: %s", err);
		free(err);
	}
	free(kl);
	cluster_close(&c);
	return mine;
}

/* ------------------------------------------------------------ lock */

static int take_lock(struct fo *f, char **err)
{
	if (mkdir_p(f->cfg->state_dir, 0755) < 0) {
		*err = xasprintf("cannot create state_dir %s: %s", f->cfg->state_dir,
				 strerror(errno));
		return LB_FAILED;
	}
	char *path = xasprintf("%s/failover.lock", f->cfg->state_dir);
	f->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int rc = LB_OK;
	if (f->lock_fd < 0) {
		*err = xasprintf("cannot open %s: %s", path, strerror(errno));
		rc = LB_FAILED;
	} else if (flock(f->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[32] = "";
		ssize_t n = pread(f->lock_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		*err = xasprintf("another failover or switchover (pid %s) holds %s: wait for it "
				 "to finish, then run this again to see its report",
				 *buf ? buf : "?", path);
		rc = LB_FAILED;
	} else {
		char pid[32];
		int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(f->lock_fd, 0) == 0)
			(void)!pwrite(f->lock_fd, pid, (size_t)len, 0);
	}
	free(path);
	return rc;
}

/* ------------------------------------------------------------ probe */

static void probe_files(struct fo *f)
{
	struct probe *p = &f->pr;
	struct strv v;
	strv_init(&v);
	if (p->peer_net < 0 || !fo_peer_argv(f, &v)) {
		p->files_note = xstrdup(p->peer_net < 0 ? "old primary unreachable: its unsent "
							  "file changes are unknown"
							: "no way to reach the old primary (no ssh)");
		strv_free(&v);
		return;
	}
	strv_push(&v, "status");
	strv_push(&v, "--json");
	struct run_result r;
	child_run(v.items, NULL, 0, PEER_TIMEOUT_MS, &r);
	json_object *root = r.out.data ? json_tokener_parse(r.out.data) : NULL, *syncs, *s, *x;
	/* Its live daemons' figures: a stopped daemon's syncs are unknown. */
	json_object *running = root ? json_object_object_get(root, "running") : NULL;
	if (root && running && json_object_get_boolean(running) &&
	    json_object_object_get_ex(root, "syncs", &syncs)) {
		p->files_known = true;
		json_object_object_foreach(syncs, name, one)
		{
			(void)name;
			s = one;
			if (json_object_object_get_ex(s, "oldest_pending_age", &x) &&
			    json_object_get_double(x) > p->files_age)
				p->files_age = json_object_get_double(x);
			if (json_object_object_get_ex(s, "pending", &x))
				p->files_pending += json_object_get_int64(x);
		}
	} else {
		p->files_note = xstrdup("the old primary's 'lifeboat status --json' gave no sync "
					"status (is 'lifeboat sync' running there?)");
	}
	if (root)
		json_object_put(root);
	run_result_free(&r);
	strv_free(&v);
}

static void probe(struct fo *f)
{
	struct probe *p = &f->pr;
	struct tcp_probe t;
	tcp_probe_start(&t, f->pair.primary.host, f->pair.primary.port);
	struct db_conn c;
	memset(&c, 0, sizeof(c));
	if (!db_pair_connect(&f->pair, &f->pair.standby, &c, &p->local_err) &&
	    !db_facts_read(&c, &p->lf, &p->local_err))
		p->local_ok = true;
	p->local_flavor = c.flavor;
	db_close(&c);
	bool gone = t.fd >= 0 && old_lease_gone(f);
	p->peer_net = tcp_probe_end(&t, gone ? PROBE_LEASE_GONE_MS : PROBE_TIMEOUT_MS);
	if (gone && p->peer_net < 0)
		log_info("failover: the old primary does not answer within %d ms and etcd says its "
			 "lease is gone (its agent fences it before the lease can run out)",
			 PROBE_LEASE_GONE_MS);
	if (p->peer_net == 1) {
		memset(&c, 0, sizeof(c));
		if (!db_pair_connect(&f->pair, &f->pair.primary, &c, &p->peer_err) &&
		    !db_facts_read(&c, &p->pf, &p->peer_err))
			p->peer_ok = true;
		p->peer_flavor = c.flavor;
		db_close(&c);
	} else {
		p->peer_err = xasprintf("%s:%u %s", f->pair.primary.host, f->pair.primary.port,
					p->peer_net == 0 ? "refuses connections (database down)"
							 : "does not answer (host or link down)");
	}
	probe_files(f);
}

static void probe_free(struct probe *p)
{
	if (p->local_ok)
		db_facts_free(&p->lf);
	if (p->peer_ok)
		db_facts_free(&p->pf);
	free(p->local_err);
	free(p->peer_err);
	free(p->files_note);
}

/* A planned swap fences the primary first: everything it needs afterwards
 * must be known good before, or the fence is all it would do. */
static char *switchover_refusal(struct fo *f)
{
	struct probe *p = &f->pr;
	if (!p->peer_ok)
		return xasprintf("switchover needs both nodes up, but the primary is not "
				 "reachable: %s; use 'lifeboat failover'",
				 p->peer_err);
	if (p->pf.read_only)
		return xasprintf("the primary %s is read-only (fenced?): nothing to switch over "
				 "from; 'lifeboat db status' shows the roles",
				 f->pair.primary.host);
	if (!p->lf.replica)
		return xstrdup("this node does not replicate from the primary: run 'lifeboat db "
			       "clone' first");
	char *problem = db_facts_replication_problem(&p->lf);
	if (problem) {
		char *m = xasprintf("replication on this node is not healthy: %s; fix it before a "
				    "switchover",
				    problem);
		free(problem);
		return m;
	}
	return NULL;
}

/* Why this must not go on (NULL: go). Split brain is refused even with
 * --force; a live primary only without it. */
static char *refusal(struct fo *f)
{
	struct probe *p = &f->pr;
	bool resumed = f->j.begun > 0;
	if (!p->local_ok)
		return xasprintf("the local database is not reachable: %s", p->local_err);
	/* Read-only or not: promoting here would reuse an epoch the peer
	 * already holds, and two primaries with one epoch cannot be told apart. */
	if (p->peer_ok && p->pf.epoch > p->lf.epoch)
		return xasprintf("%s holds role epoch %llu, higher than this node's %llu: it is "
				 "the newer primary, this node is the stale one (split brain "
				 "refused; rejoin this node with 'lifeboat db rejoin')",
				 f->pair.primary.host, (unsigned long long)p->pf.epoch,
				 (unsigned long long)p->lf.epoch);
	if (!resumed && !p->lf.replica && !p->lf.read_only)
		return xasprintf("this node's database is already a writable primary that "
				 "replicates from nobody: nothing to %s (to move the primary role "
				 "to %s, run 'lifeboat %s' there)",
				 f->switchover ? "switch over" : "fail over",
				 f->peer ? f->peer->name : f->pair.primary.host,
				 f->switchover ? "switchover" : "failover");
	if (f->switchover)
		return resumed ? NULL : switchover_refusal(f);
	if (!resumed && p->peer_ok && !p->pf.read_only && !f->o->force)
		return xasprintf("the primary %s is alive and writable: use 'lifeboat switchover' "
				 "for a planned move, or --force to fence it and fail over anyway",
				 f->pair.primary.host);
	return NULL;
}

/* Facts the report needs, recorded once: the first run's view counts. */
static int record_facts(struct fo *f, char **err)
{
	struct probe *p = &f->pr;
	struct {
		const char *key;
		char *value;
	} kv[] = {
		{"received_gtid", xstrdup(p->lf.gtid_io_pos ? p->lf.gtid_io_pos : "")},
		{"applied_gtid_before", xstrdup(p->lf.gtid_current_pos ? p->lf.gtid_current_pos : "")},
		{"heartbeat_age", p->lf.has_heartbeat ? xasprintf("%.3f", p->lf.heartbeat_age)
						      : xstrdup("")},
		{"seconds_behind", xasprintf("%lld", p->lf.seconds_behind)},
		{"primary_gtid", xstrdup(p->peer_ok && p->pf.gtid_binlog_pos ? p->pf.gtid_binlog_pos : "")},
		{"primary_state", xstrdup(p->peer_ok ? (p->pf.read_only ? "read-only" : "writable")
						     : p->peer_err)},
		{"files_age", p->files_known ? xasprintf("%.3f", p->files_age) : xstrdup("")},
		{"files_pending", p->files_known ? xasprintf("%ld", p->files_pending) : xstrdup("")},
		{"files_note", xstrdup(p->files_note ? p->files_note : "")},
		{"node", xstrdup(f->cfg->node ? f->cfg->node : f->pair.standby.host)},
		{"invoked", xasprintf("%.3f", f->invoked)},
		{"old_primary", xstrdup(f->peer ? f->peer->name : f->pair.primary.host)},
	};
	int rc = 0;
	for (size_t i = 0; i < ARRAY_LEN(kv); i++) {
		if (!rc && !journal_get(&f->j, kv[i].key))
			rc = journal_fact(&f->j, kv[i].key, kv[i].value, err);
		free(kv[i].value);
	}
	return rc ? LB_FAILED : LB_OK;
}

/* ------------------------------------------------------------ steps */

static int step_hooks(struct fo *f, const struct strv *hooks, const char *phase, bool fatal,
		      char **note, char **err)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < hooks->len; i++) {
		char *e = NULL;
		if (hook_run(hooks->items[i], phase, f->cfg->node, fo_self_address(f), &e) == 0) {
			buf_addf(&b, "%s%s ok", b.len ? "; " : "", hooks->items[i]);
			continue;
		}
		if (fatal && !f->o->force) {
			*err = xasprintf("%s; nothing changed yet (--force runs the failover anyway)",
					 e);
			free(e);
			buf_free(&b);
			return LB_FAILED;
		}
		log_warn("%s", e);
		buf_addf(&b, "%s%s", b.len ? "; " : "", e);
		free(e);
	}
	*note = b.len ? buf_steal(&b) : xstrdup("none configured");
	buf_free(&b);
	return LB_OK;
}

static int step_pre_hooks(struct fo *f, char **note, char **err)
{
	return step_hooks(f, &f->cfg->failover.pre_hooks, "pre", true, note, err);
}

static int step_post_hooks(struct fo *f, char **note, char **err)
{
	return step_hooks(f, &f->cfg->failover.post_hooks, "post", false, note, err);
}

static void plan_pre_hooks(const struct fo *f)
{
	plan_hooks(f, &f->cfg->failover.pre_hooks, "pre");
}

static void plan_post_hooks(const struct fo *f)
{
	plan_hooks(f, &f->cfg->failover.post_hooks, "post");
}

static int step_precheck(struct fo *f, char **note, char **err)
{
	*note = xasprintf("standby received %s, applied %s; primary %s",
			  f->pr.lf.gtid_io_pos && *f->pr.lf.gtid_io_pos ? f->pr.lf.gtid_io_pos : "-",
			  f->pr.lf.gtid_current_pos && *f->pr.lf.gtid_current_pos
				  ? f->pr.lf.gtid_current_pos
				  : "-",
			  f->pr.peer_ok ? (f->pr.pf.read_only ? "up, read-only" : "up, writable")
					: f->pr.peer_err);
	return record_facts(f, err);
}

/* What the fenced primary has: nothing can commit there any more, so this
 * is what the RPO is measured against (the probe's reading is older). */
static void note_fenced_position(struct fo *f, struct db_conn *c)
{
	char *pos = NULL, *e = NULL;
	if (db_value(c, "SELECT @@global.gtid_binlog_pos", &pos, &e) == 0 && pos &&
	    journal_fact(&f->j, "primary_gtid", pos, &e) == 0) {
		free(pos);
		return;
	}
	log_warn("cannot record the fenced primary's position: %s", e ? e : "no value");
	free(e);
	free(pos);
}

/* Fence the old primary when it can be reached. Unreachable is not an
 * error for a failover: a stopped server takes no writes, and it comes back
 * read-only (read_only=ON in its my.cnf) with a lower epoch. */
static int step_fence(struct fo *f, char **note, char **err)
{
	const char *fence = f->cfg->failover.fence;
	if (fence && strncmp(fence, "hook:", 5) == 0) {
		const char *name = f->peer ? f->peer->name : f->pair.primary.host;
		if (hook_run(fence + 5, "fence", name, fo_peer_address(f), err) < 0)
			return LB_FAILED;
		*note = xasprintf("fence hook %s ok", fence + 5);
		return LB_OK;
	}
	if (f->pr.peer_net != 1) {
		*note = xasprintf("old primary unreachable (%s): not fenced; it must come back "
				  "read-only (read_only=ON in its my.cnf)",
				  f->pr.peer_err ? f->pr.peer_err : "no answer");
		return LB_OK;
	}
	struct db_conn c;
	int rc = db_pair_connect(&f->pair, &f->pair.primary, &c, err);
	unsigned killed = 0;
	if (!rc)
		rc = db_fence_conn(&c, &killed, err);
	if (!rc)
		note_fenced_position(f, &c);
	db_close(&c);
	if (rc && !f->switchover) {
		/* It answered a moment ago; if it died meanwhile that is fine. */
		log_warn("fence of the old primary failed: %s", *err);
		*note = xasprintf("fence failed (%s); continuing: the old primary is presumed dead",
				  *err);
		free(*err);
		*err = NULL;
		return LB_OK;
	}
	if (!rc)
		*note = xasprintf("read_only=ON on %s, %u client session(s) killed",
				  f->pair.primary.host, killed);
	return rc;
}

static void plan_fence(const struct fo *f)
{
	const char *fence = f->cfg->failover.fence;
	if (fence && strncmp(fence, "hook:", 5) == 0) {
		struct strv v;
		strv_init(&v);
		hook_argv(&v, fence + 5, "fence", f->peer ? f->peer->name : "", fo_peer_address(f));
		print_argv("    run:", &v);
		strv_free(&v);
	} else if (!f->pr.peer_ok) {
		printf("    skipped: old primary unreachable (%s)\n", f->pr.peer_err);
	} else {
		printf("    SQL on %s:%u: SET SESSION lock_wait_timeout = 10; SET GLOBAL "
		       "read_only = ON; SET SESSION sql_log_bin = 0; REVOKE READ_ONLY ADMIN "
		       "ON *.* FROM <every other holder> (recorded in lifeboat.fence_revoked); "
		       "KILL CONNECTION <id> for every client session; then verify "
		       "read_only, that they are gone and that no other account holds "
		       "READ_ONLY ADMIN\n",
		       f->pair.primary.host, f->pair.primary.port);
	}
}

static int step_promote(struct fo *f, char **note, char **err)
{
	struct db_conn c;
	int rc = db_pair_connect(&f->pair, &f->pair.standby, &c, err);
	struct db_facts lf;
	bool done = false;
	if (!rc && !(rc = db_facts_read(&c, &lf, err))) {
		done = !lf.replica && !lf.read_only; /* an earlier run got there */
		if (done)
			*note = xasprintf("already writable (epoch %llu): promoted by an earlier run",
					  (unsigned long long)lf.epoch);
		db_facts_free(&lf);
	}
	db_close(&c);
	if (rc || done)
		return rc;
	struct db_promote_result r;
	rc = db_promote(&f->pair, f->o->force, &r, err);
	if (!rc) {
		*note = xasprintf("writable after %.0f ms, epoch %llu, forked at %s",
				  r.ms_to_writable, (unsigned long long)r.epoch,
				  r.fork_gtid ? r.fork_gtid : "-");
		char *e = NULL;
		if (r.fork_gtid && journal_fact(&f->j, "applied_gtid", r.fork_gtid, &e) < 0) {
			log_warn("%s", e);
			free(e);
		}
	}
	free(r.fork_gtid);
	return rc;
}

static void plan_promote(const struct fo *f)
{
	const struct probe *p = &f->pr;
	const struct db_flavor *fl = flavor_of(p->local_flavor);
	printf("    SQL on %s:%u: %s; SELECT MASTER_GTID_WAIT('%s', ...) within promote_timeout "
	       "%.0f s; %s; %s; INSERT INTO lifeboat.epoch (epoch %llu or higher); SET GLOBAL "
	       "read_only = OFF\n",
	       f->pair.standby.host, f->pair.standby.port, fl->stop_io_thread,
	       p->lf.gtid_io_pos ? p->lf.gtid_io_pos : "", f->cfg->db.promote_timeout,
	       fl->stop_replica, fl->reset_replica_all, (unsigned long long)(p->lf.epoch + 1));
}

/* STATE_DIR/epoch at least the epoch recorded in the database: db_promote
 * writes it, but a promote killed between the two leaves it behind. */
static int step_epoch(struct fo *f, char **note, char **err)
{
	struct db_conn c;
	uint64_t db_epoch = 0, file_epoch = 0;
	bool found = false;
	char *fork = NULL;
	int rc = db_pair_connect(&f->pair, &f->pair.standby, &c, err);
	if (!rc)
		rc = db_meta_epoch(&c, &db_epoch, &fork, &found, err);
	db_close(&c);
	if (!rc && epoch_read(f->cfg->state_dir, &file_epoch, err) < 0)
		rc = LB_FAILED;
	if (!rc && !found) {
		*err = xstrdup("the promoted database has no lifeboat.epoch row: run 'lifeboat "
			       "db promote' by hand, then this again");
		rc = LB_FAILED;
	}
	if (!rc && db_epoch > file_epoch && epoch_write(f->cfg->state_dir, db_epoch, err) < 0)
		rc = LB_FAILED;
	if (!rc) {
		*note = xasprintf("epoch %llu", (unsigned long long)(db_epoch > file_epoch ? db_epoch
											   : file_epoch));
		char *e = NULL, *v = xasprintf("%llu", (unsigned long long)db_epoch);
		if (journal_fact(&f->j, "epoch", v, &e) < 0) {
			log_warn("%s", e);
			free(e);
		}
		if (fork && !journal_get(&f->j, "applied_gtid") &&
		    journal_fact(&f->j, "applied_gtid", fork, &e) < 0) {
			log_warn("%s", e);
			free(e);
		}
		free(v);
	}
	free(fork);
	return rc;
}

static int step_vip(struct fo *f, char **note, char **err)
{
	const struct failover_conf *fc = &f->cfg->failover;
	if (!fc->vip) {
		*note = xstrdup("no vip configured");
		return LB_OK;
	}
	if (!fc->vip_dev) {
		*err = xasprintf("%s: [failover] vip needs vip_dev", f->cfg->path);
		return LB_FAILED;
	}
	return vip_take(fc->vip, fc->vip_dev, note, err) < 0 ? LB_FAILED : LB_OK;
}

static void plan_vip(const struct fo *f)
{
	const struct failover_conf *fc = &f->cfg->failover;
	if (!fc->vip || !fc->vip_dev)
		return;
	struct strv v;
	strv_init(&v);
	vip_add_argv(&v, fc->vip, fc->vip_dev);
	print_argv("    run (unless held):", &v);
	strv_free(&v);
	strv_init(&v);
	vip_arp_argv(&v, fc->vip, fc->vip_dev);
	print_argv("    run:", &v);
	strv_free(&v);
}

static int step_dns(struct fo *f, char **note, char **err)
{
	const char *hook = f->cfg->failover.dns_hook;
	if (!hook) {
		*note = xstrdup("no dns_hook configured");
		return LB_OK;
	}
	if (hook_run(hook, "dns", f->cfg->node, fo_self_address(f), err) < 0)
		return LB_FAILED;
	*note = xasprintf("%s %s %s ok", hook, f->cfg->node ? f->cfg->node : "", fo_self_address(f));
	return LB_OK;
}

static void plan_dns(const struct fo *f)
{
	if (!f->cfg->failover.dns_hook)
		return;
	struct strv v;
	strv_init(&v);
	hook_argv(&v, f->cfg->failover.dns_hook, "dns", f->cfg->node, fo_self_address(f));
	print_argv("    run:", &v);
	strv_free(&v);
}

/* Write STATE_DIR/role and ask the sync daemons to reload (their control
 * sockets: no pid from a file is signalled). */
static int set_role(const struct config *cfg, const char *role, char **note, char **err)
{
	char *path = xasprintf("%s/role", cfg->state_dir);
	char *text = xasprintf("%s\n", role);
	int rc = write_file_atomic(path, text, strlen(text));
	if (rc < 0)
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
	free(text);
	free(path);
	if (rc < 0)
		return LB_FAILED;
	json_object *req = json_object_new_object();
	json_object_object_add(req, "request", json_object_new_string("reload"));
	json_object *all = ctl_call_all(cfg->state_dir, req, PEER_TIMEOUT_MS);
	json_object_put(req);
	int n = ctl_daemons(all);
	json_object *ok = json_object_object_get(all, "ok");
	if (n && json_object_get_boolean(ok))
		*note = xasprintf("role %s; %d sync daemon(s) reloaded", role, n);
	else if (n)
		*note = xasprintf("role %s; a sync daemon did not reload: %s", role,
				  json_object_to_json_string(json_object_object_get(all, "errors")));
	else
		*note = xasprintf("role %s; no sync daemon running here: 'lifeboat sync' will "
				  "read it when started",
				  role);
	json_object_put(all);
	return LB_OK;
}

static int step_reverse_sync(struct fo *f, char **note, char **err)
{
	return set_role(f->cfg, "primary", note, err);
}

static void plan_reverse_sync(const struct fo *f)
{
	printf("    write %s/role = primary; ask each sync daemon to reload (its control "
	       "socket %s/sync*.sock)\n",
	       f->cfg->state_dir, f->cfg->state_dir);
}

/* Tell the old primary's lifeboat to step down (VIP, role, sync). Best
 * effort in a failover: it is presumed dead. */
static int step_old_primary(struct fo *f, char **note, char **err)
{
	struct strv v;
	strv_init(&v);
	if (!fo_peer_argv(f, &v)) {
		strv_free(&v);
		*note = xstrdup("no [failover] peer_command and no ssh for the old primary's node: "
				"when it is back, 'lifeboat db rejoin' there steps it down");
		return LB_OK;
	}
	strv_push(&v, "switchover");
	strv_push(&v, "--step-down");
	if (f->switchover) {
		strv_push(&v, "--epoch");
		strv_push(&v, journal_get(&f->j, "epoch") ? journal_get(&f->j, "epoch") : "0");
	}
	struct run_result r;
	int code = child_run(v.items, NULL, 0, PEER_TIMEOUT_MS, &r);
	int rc = LB_OK;
	if (code == 0) {
		*note = xstrdup("stepped down (address released, role standby)");
	} else if (f->switchover) {
		*err = xasprintf("the old primary's step-down failed (exit %d): %s", code,
				 r.err_tail);
		rc = LB_FAILED;
	} else {
		*note = xasprintf("old primary not reached (exit %d%s%s): when it is back, 'lifeboat "
				  "db rejoin' steps it down",
				  code, r.err_tail[0] ? ": " : "", r.err_tail);
	}
	run_result_free(&r);
	strv_free(&v);
	return rc;
}

static void plan_old_primary(const struct fo *f)
{
	struct strv v;
	strv_init(&v);
	if (fo_peer_argv(f, &v)) {
		strv_push(&v, "switchover");
		strv_push(&v, "--step-down");
		if (f->switchover)
			strv_push(&v, "--epoch <new epoch>");
		print_argv("    run:", &v);
	}
	strv_free(&v);
}

/* Switchover: the standby has applied everything the fenced primary has. */
static int step_catch_up(struct fo *f, char **note, char **err)
{
	struct db_conn pc, lc;
	char *pos = NULL;
	int rc = db_pair_connect(&f->pair, &f->pair.primary, &pc, err);
	if (!rc)
		rc = db_value(&pc, "SELECT @@global.gtid_binlog_pos", &pos, err);
	db_close(&pc);
	if (rc) {
		free(pos);
		return rc;
	}
	rc = db_pair_connect(&f->pair, &f->pair.standby, &lc, err);
	struct db_facts lf;
	bool promoted = false;
	if (!rc && !db_facts_read(&lc, &lf, err)) {
		promoted = !lf.replica && !lf.read_only;
		db_facts_free(&lf);
	}
	if (!rc && !promoted)
		rc = db_wait_replica(&lc, pos, f->cfg->db.promote_timeout, err);
	db_close(&lc);
	if (!rc) {
		*note = xasprintf("standby has applied %s", pos && *pos ? pos : "everything");
		char *e = NULL;
		if (journal_fact(&f->j, "primary_gtid", pos ? pos : "", &e) < 0) {
			log_warn("%s", e);
			free(e);
		}
	}
	free(pos);
	return rc;
}

static void plan_catch_up(const struct fo *f)
{
	printf("    SQL on %s:%u: SELECT MASTER_GTID_WAIT('%s', %.0f) (the primary's "
	       "gtid_binlog_pos, read after the fence)\n",
	       f->pair.standby.host, f->pair.standby.port,
	       f->pr.peer_ok && f->pr.pf.gtid_binlog_pos ? f->pr.pf.gtid_binlog_pos : "?",
	       f->cfg->db.promote_timeout);
}

/* Run `lifeboat flush` on the peer: its sync daemons answer once every
 * change made there before the call is on its target. 0, or -1 with *err. */
static int peer_flush(const struct fo *f, double timeout_s, char **err)
{
	struct strv v;
	strv_init(&v);
	fo_peer_argv(f, &v);
	int rc = ctl_flush_peer(&v, timeout_s, err);
	strv_free(&v);
	return rc;
}

/* Switchover: every file change made on the old primary before it was
 * fenced is on this node (its daemons' flush barrier) before the
 * direction flips. */
static int step_files_flush(struct fo *f, char **note, char **err)
{
	if (!f->cfg->n_syncs) {
		*note = xstrdup("no [sync] configured: no files to wait for");
		return LB_OK;
	}
	if (peer_flush(f, f->cfg->db.promote_timeout, err) < 0)
		return LB_FAILED;
	*note = xstrdup("every file change of the old primary is here (lifeboat flush there)");
	return LB_OK;
}

static void plan_files(const struct fo *f)
{
	struct strv v;
	strv_init(&v);
	if (fo_peer_argv(f, &v)) {
		strv_push(&v, "flush");
		strv_push(&v, "--timeout");
		strv_pushf(&v, "%.0f", f->cfg->db.promote_timeout);
		print_argv("    run:", &v);
	}
	strv_free(&v);
}

static int step_rejoin(struct fo *f, char **note, char **err)
{
	uint64_t epoch = 0;
	int rc = db_rejoin(&f->pair, false, &epoch, err);
	if (!rc)
		*note = xasprintf("%s replicates from %s", f->pair.primary.host,
				  f->pair.standby.host);
	return rc;
}

static void plan_rejoin(const struct fo *f)
{
	const struct db_flavor *fl = flavor_of(f->pr.peer_flavor);
	printf("    SQL on %s:%u: %s; %s; %s MASTER_HOST='%s', MASTER_PORT=%u, "
	       "MASTER_USE_GTID=slave_pos, MASTER_DEMOTE_TO_SLAVE=1; %s (after the errant "
	       "transaction check)\n",
	       f->pair.primary.host, f->pair.primary.port, fl->stop_replica, fl->reset_replica_all,
	       fl->change_source, f->pair.standby.host, f->pair.standby.port, fl->start_replica);
}

/* Each step: its name (journal and report), what it does when run, what
 * --dry-run prints under it (NULL: the line says it all), and that line. */
struct step {
	const char *name;
	int (*run)(struct fo *f, char **note, char **err);
	void (*plan)(const struct fo *f);
	const char *what;
};

static const struct step failover_steps[] = {
	{"precheck", step_precheck, NULL, "read both databases: lag, positions, epochs"},
	{"pre_hook", step_pre_hooks, plan_pre_hooks,
	 "run each pre_hook (non-zero aborts unless --force)"},
	{"fence", step_fence, plan_fence, "fence the old primary when reachable"},
	{"promote", step_promote, plan_promote, "promote this node's database"},
	{"epoch", step_epoch, NULL, "STATE_DIR/epoch = the epoch recorded in the database"},
	{"vip", step_vip, plan_vip, "take the service address"},
	{"dns", step_dns, plan_dns, "run dns_hook"},
	{"reverse_sync", step_reverse_sync, plan_reverse_sync,
	 "role primary: file sync now pushes from here"},
	{"old_primary", step_old_primary, plan_old_primary, "old primary steps down when reachable"},
	{"post_hook", step_post_hooks, plan_post_hooks, "run each post_hook"},
};

static const struct step switchover_steps[] = {
	{"precheck", step_precheck, NULL, "read both databases: lag, positions, epochs"},
	{"pre_hook", step_pre_hooks, plan_pre_hooks,
	 "run each pre_hook (non-zero aborts unless --force)"},
	{"fence", step_fence, plan_fence, "fence the primary (write block starts)"},
	{"catch_up", step_catch_up, plan_catch_up,
	 "wait until this node applied the primary's last GTID"},
	{"files", step_files_flush, plan_files,
	 "lifeboat flush on the primary: its file changes are here"},
	{"promote", step_promote, plan_promote, "promote this node's database (write block ends)"},
	{"epoch", step_epoch, NULL, "STATE_DIR/epoch = the epoch recorded in the database"},
	/* The address is taken before the old primary lets it go: clients
	 * follow the gratuitous ARP at once, and a packet that still reaches
	 * the fenced old primary gets an error, not the 1 s SYN retransmit a
	 * moment without any holder would cost. */
	{"vip", step_vip, plan_vip, "take the service address"},
	{"dns", step_dns, plan_dns, "run dns_hook"},
	{"old_primary", step_old_primary, plan_old_primary,
	 "old primary steps down (address, role, epoch)"},
	{"rejoin", step_rejoin, plan_rejoin, "the old primary replicates from this node"},
	{"reverse_sync", step_reverse_sync, plan_reverse_sync,
	 "role primary: file sync now pushes from here"},
	{"post_hook", step_post_hooks, plan_post_hooks, "run each post_hook"},
};

static void print_plan(const struct fo *f, const struct step *steps, size_t n)
{
	printf("%s plan (dry run, nothing changed): promote %s (%s:%u), old primary %s "
	       "(%s:%u)\n",
	       f->switchover ? "switchover" : "failover", f->cfg->node ? f->cfg->node : "-",
	       f->pair.standby.host, f->pair.standby.port, f->peer ? f->peer->name : "-",
	       f->pair.primary.host, f->pair.primary.port);
	for (size_t i = 0; i < n; i++) {
		bool done = journal_step_done(&f->j, steps[i].name);
		printf("%2zu. %-12s %s%s\n", i + 1, steps[i].name, steps[i].what,
		       done ? " [done by an interrupted run]" : "");
		if (!done && steps[i].plan)
			steps[i].plan(f);
	}
	fo_print_expected_loss(stdout, f);
}

/* ------------------------------------------------------------ run */

static int run_steps(struct fo *f, const struct step *steps, size_t n)
{
	const char *cmd = f->switchover ? "switchover" : "failover";
	for (size_t i = 0; i < n; i++) {
		const char *name = steps[i].name;
		if (journal_step_done(&f->j, name))
			continue;
		char *note = NULL, *err = NULL;
		if (journal_start(&f->j, name, &err) < 0) {
			log_error("%s", err);
			free(err);
			return LB_FAILED;
		}
		test_kill(name, "start");
		int rc = steps[i].run(f, &note, &err);
		if (rc) {
			log_error("%s step %s failed: %s; %s records the progress: fix that and run "
				  "'lifeboat %s' again to resume",
				  cmd, name, err ? err : "?", f->j.path, cmd);
			free(err);
			free(note);
			return rc;
		}
		if (journal_done(&f->j, name, note, &err) < 0) {
			log_error("%s", err);
			free(err);
			free(note);
			return LB_FAILED;
		}
		log_info("%s: %s: %s", cmd, name, note ? note : "done");
		free(note);
		test_kill(name, "done");
	}
	char *err = NULL;
	if (journal_end(&f->j, &err) < 0) {
		log_error("%s", err);
		free(err);
		return LB_FAILED;
	}
	return LB_OK;
}

static int setup(struct fo *f, char **err)
{
	const struct config *cfg = f->cfg;
	int rc = db_pair_init(&f->pair, cfg, f->switchover, err);
	if (rc)
		return rc;
	/* This node is the one promoted: after a failover the configuration's
	 * "primary" may be the node that now runs the failover back. */
	if (cfg->node && f->pair.primary.node && strcmp(cfg->node, f->pair.primary.node) == 0)
		swap_servers(&f->pair);
	if (cfg->node && f->pair.standby.node && strcmp(cfg->node, f->pair.standby.node) != 0) {
		*err = xasprintf("%s: this node is '%s' but [database] names '%s' and '%s': run "
				 "this on one of them",
				 cfg->path, cfg->node, f->pair.primary.node, f->pair.standby.node);
		return LB_USAGE;
	}
	/* Afterwards this node's copies flow to the old primary and the syncs' targets. */
	if (residency_check_failover(cfg, &f->pair.primary, err) < 0)
		return LB_USAGE;
	f->self = cfg->node ? config_find_node(cfg, cfg->node) : NULL;
	f->peer = f->pair.primary.node ? config_find_node(cfg, f->pair.primary.node) : NULL;
	if (cfg->failover.vip && !cfg->failover.vip_dev) {
		*err = xasprintf("%s:%d: [failover] vip needs vip_dev", cfg->path,
				 cfg->failover.line);
		return LB_USAGE;
	}
	return LB_OK;
}

/* A finished journal: nothing to do if this node is still the primary it
 * made; otherwise it is history, moved aside for a new run. */
static int handle_finished(struct fo *f, bool *already, char **err)
{
	*already = false;
	if (!f->j.finished)
		return LB_OK;
	if (f->pr.local_ok && !f->pr.lf.replica && !f->pr.lf.read_only) {
		*already = true;
		return LB_OK;
	}
	if (f->o->dry_run) {
		journal_close(&f->j);
		memset(&f->j, 0, sizeof(f->j));
		f->j.fd = -1;
		return LB_OK;
	}
	return journal_archive(&f->j, err) < 0 ? LB_FAILED : LB_OK;
}

static int confirm(const struct fo *f)
{
	if (f->o->yes)
		return LB_OK;
	const char *cmd = f->switchover ? "switchover" : "failover";
	if (!isatty(0) || !isatty(2)) {
		log_error("%s: not on a terminal: pass --yes to confirm (see --dry-run first)", cmd);
		return LB_USAGE;
	}
	fo_print_expected_loss(stderr, f);
	fprintf(stderr, "promote %s now? type 'yes' to go on: ", f->pair.standby.host);
	char line[64] = "";
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0) {
		log_error("%s: not confirmed; nothing changed", cmd);
		return LB_FAILED;
	}
	return LB_OK;
}

static int open_journal(struct fo *f, char **err)
{
	char *path = xasprintf("%s/failover.journal", f->cfg->state_dir);
	bool exists = access(path, F_OK) == 0;
	free(path);
	f->j.fd = -1;
	/* --dry-run changes nothing, not even an empty journal file. */
	if (f->o->dry_run && !exists)
		return LB_OK;
	return journal_open(&f->j, f->cfg->state_dir, "failover.journal", err) < 0 ? LB_FAILED
										    : LB_OK;
}

static int check_operation(struct fo *f, char **err)
{
	const char *op = journal_get(&f->j, "operation");
	const char *mine = f->switchover ? "switchover" : "failover";
	if (f->j.begun && !f->j.finished && op && strcmp(op, mine) != 0) {
		*err = xasprintf("an interrupted %s is in %s: run 'lifeboat %s' to finish it first",
				 op, f->j.path, op);
		return LB_FAILED;
	}
	return LB_OK;
}

/* [cluster]: the leader key first (cluster.h), so a person and an agent
 * never race; the epoch etcd gives is the one the promotion records. */
static int claim_leadership(struct fo *f, char **err)
{
	uint64_t file = 0;
	char *e = NULL;
	if (epoch_read(f->cfg->state_dir, &file, &e) < 0) {
		free(e);
		file = 0;
	}
	uint64_t local = f->pr.local_ok && f->pr.lf.epoch > file ? f->pr.lf.epoch : file;
	return cluster_claim_for_failover(f->cfg, f->switchover, f->o->force, local, err);
}

static int go(struct fo *f, const struct step *steps, size_t n)
{
	char *err = NULL;
	f->invoked = now_wall();
	int rc = setup(f, &err);
	if (!rc && !f->o->dry_run)
		rc = take_lock(f, &err);
	if (!rc)
		rc = open_journal(f, &err);
	if (!rc)
		rc = check_operation(f, &err);
	if (rc)
		goto out;
	probe(f);
	bool already = false;
	rc = handle_finished(f, &already, &err);
	if (rc)
		goto out;
	if (already) {
		log_info("the %s recorded in %s is complete and this node is the primary: "
			 "nothing to do",
			 journal_get(&f->j, "operation"), f->j.path);
		fo_report(f);
		goto out;
	}
	char *no = refusal(f);
	if (f->o->dry_run) {
		print_plan(f, steps, n);
		if (no) {
			err = xasprintf("it would refuse: %s", no);
			rc = LB_FAILED;
		}
		free(no);
		goto out;
	}
	if (no) {
		err = xasprintf("%s; nothing changed", no);
		free(no);
		rc = LB_FAILED;
		goto out;
	}
	rc = confirm(f);
	if (!rc)
		rc = claim_leadership(f, &err);
	if (rc)
		goto out;
	if (!f->j.begun) {
		if (journal_begin(&f->j, &err) < 0 ||
		    journal_fact(&f->j, "operation", f->switchover ? "switchover" : "failover",
				 &err) < 0) {
			rc = LB_FAILED;
			goto out;
		}
	} else {
		log_info("resuming the interrupted %s recorded in %s", journal_get(&f->j, "operation"),
			 f->j.path);
	}
	rc = run_steps(f, steps, n);
	fo_report(f);
out:
	if (err)
		log_error("%s", err);
	free(err);
	peer_control_close(f->cfg);
	probe_free(&f->pr);
	if (f->j.path)
		journal_close(&f->j);
	if (f->lock_fd >= 0)
		close(f->lock_fd);
	db_pair_free(&f->pair);
	return rc;
}

int failover_run(const struct config *cfg, const struct failover_opts *o)
{
	struct fo f;
	memset(&f, 0, sizeof(f));
	f.cfg = cfg;
	f.o = o;
	f.lock_fd = -1;
	return go(&f, failover_steps, ARRAY_LEN(failover_steps));
}

int switchover_run(const struct config *cfg, const struct failover_opts *o)
{
	struct fo f;
	memset(&f, 0, sizeof(f));
	f.cfg = cfg;
	f.o = o;
	f.switchover = true;
	f.lock_fd = -1;
	return go(&f, switchover_steps, ARRAY_LEN(switchover_steps));
}

int failover_old_primary_follows(const struct config *cfg, const char *old_node, uint64_t epoch,
				  char **err)
{
	if (cfg->node && old_node && strcmp(cfg->node, old_node) == 0)
		return failover_step_down(cfg, epoch);
	struct fo f;
	memset(&f, 0, sizeof(f));
	f.cfg = cfg;
	f.lock_fd = -1;
	f.peer = old_node ? config_find_node(cfg, old_node) : NULL;
	struct strv v;
	strv_init(&v);
	if (!old_node || !fo_peer_argv(&f, &v)) {
		strv_free(&v);
		log_info("if the old primary runs 'lifeboat sync', run 'lifeboat switchover --step-down "
			 "--epoch %llu' there: its files then follow the new primary too",
			 (unsigned long long)epoch);
		return LB_OK;
	}
	strv_push(&v, "switchover");
	strv_push(&v, "--step-down");
	strv_push(&v, "--epoch");
	strv_pushf(&v, "%llu", (unsigned long long)epoch);
	struct run_result r;
	int code = child_run(v.items, NULL, 0, PEER_TIMEOUT_MS, &r);
	peer_control_close(cfg);
	int rc = LB_OK;
	if (code == 0) {
		log_info("%s stepped down: role standby, epoch %llu, its files follow the new primary",
			 old_node, (unsigned long long)epoch);
	} else {
		rc = LB_FAILED;
		*err = xasprintf("the database rejoined, but %s did not step down (exit %d%s%s): run "
				 "'lifeboat switchover --step-down --epoch %llu' there so its files "
				 "follow the new primary",
				 old_node, code, r.err_tail[0] ? ": " : "", r.err_tail,
				 (unsigned long long)epoch);
	}
	run_result_free(&r);
	strv_free(&v);
	return rc;
}

int failover_step_down(const struct config *cfg, uint64_t epoch)
{
	const struct failover_conf *fc = &cfg->failover;
	char *note = NULL, *err = NULL;
	if (fc->vip && fc->vip_dev && vip_release(fc->vip, fc->vip_dev, &note, &err) < 0) {
		log_error("step-down: %s; role unchanged", err);
		free(err);
		return LB_FAILED;
	}
	if (note)
		log_info("step-down: %s", note);
	free(note);
	note = NULL;
	uint64_t have = 0;
	if (epoch && (epoch_read(cfg->state_dir, &have, &err) < 0 ||
		      (epoch > have && epoch_write(cfg->state_dir, epoch, &err) < 0))) {
		log_error("step-down: %s", err);
		free(err);
		return LB_FAILED;
	}
	/* This node's my.cnf drop-in says read-only, at the epoch it follows. */
	struct db_server self = {.role = "standby", .node = cfg->node};
	if (cfg->db.present && cfg->node &&
	    db_persist_read_only(cfg, &self, true, epoch > have ? epoch : have, &err)) {
		log_warn("step-down: %s", err);
		free(err);
		err = NULL;
	}
	int rc = set_role(cfg, "standby", &note, &err);
	if (rc)
		log_error("step-down: %s", err);
	else
		log_info("step-down: %s%s", note, epoch ? "; following the new primary's epoch" : "");
	free(note);
	free(err);
	return rc;
}
