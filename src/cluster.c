/* cluster: see cluster.h. */
#include "cluster.h"
#include "result.h"
#include "epoch.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cluster_open(struct cluster *c, const struct config *cfg)
{
	const struct cluster_conf *cc = &cfg->cluster;
	struct etcd_tls tls = {cc->etcd_ca, cc->etcd_cert, cc->etcd_key};
	c->cfg = cfg;
	c->etcd = etcd_new(&cc->etcd, &tls);
	const struct node_conf *self = cfg->node ? config_find_node(cfg, cfg->node) : NULL;
	if (self)
		etcd_prefer_host(c->etcd, self->address);
	c->prefix = xasprintf("/lifeboat/%s/", cc->scope);
}

void cluster_close(struct cluster *c)
{
	etcd_free(c->etcd);
	free(c->prefix);
	memset(c, 0, sizeof(*c));
}

char *cluster_key(const struct cluster *c, const char *name)
{
	return xasprintf("%s%s", c->prefix, name);
}

void claim_result_free(struct claim_result *r)
{
	free(r->holder);
	free(r->why);
	free(r->replaced);
	memset(r, 0, sizeof(*r));
}

static const struct etcd_kv *find(const struct cluster *c, const struct etcd_kvs *kvs,
				  const char *name)
{
	char *k = cluster_key(c, name);
	const struct etcd_kv *kv = etcd_kvs_find(kvs, k);
	free(k);
	return kv;
}

static uint64_t kv_epoch(const struct etcd_kv *kv)
{
	return kv ? strtoull(kv->value, NULL, 10) : 0;
}

/* STATE_DIR/epoch one below the new epoch: db_promote records max(file,
 * database) + 1, which is then the epoch etcd holds. */
static void mirror_epoch(const struct config *cfg, uint64_t epoch)
{
	uint64_t have = 0;
	char *err = NULL;
	if (epoch_read(cfg->state_dir, &have, &err) < 0 ||
	    (have < epoch - 1 && epoch_write(cfg->state_dir, epoch - 1, &err) < 0)) {
		log_warn("cluster: %s", err);
		free(err);
	}
}

static char *pause_record(const struct config *cfg, const char *why)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "by", json_object_new_string(cfg->node ? cfg->node : "?"));
	json_object_object_add(o, "at", json_object_new_double(now_wall()));
	json_object_object_add(o, "why", json_object_new_string(why ? why : "failover"));
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Why mode may not take the key as read (NULL: try). */
static char *claim_refusal(const struct cluster *c, enum claim_mode mode,
			   const struct etcd_kv *leader, const struct etcd_kv *epoch,
			   const struct etcd_kv *paused, uint64_t local_epoch)
{
	if (leader && mode != CLAIM_REPLACE)
		return xasprintf("%s holds the leader key (its lease has not run out: its agent "
				 "renews it, or it died less than ttl = %ld s ago)",
				 leader->value, c->cfg->cluster.ttl);
	if (mode == CLAIM_AUTO && paused)
		return xasprintf("automatic failover is paused since an earlier one (%s): "
				 "'lifeboat agent --resume' arms it again",
				 paused->value);
	if (mode == CLAIM_KEEP && epoch && kv_epoch(epoch) != local_epoch)
		return xasprintf("etcd's epoch is %" PRIu64 ", this node's %" PRIu64
				 ": another node was promoted since",
				 kv_epoch(epoch), local_epoch);
	return NULL;
}

static int claim_txn(struct cluster *c, enum claim_mode mode, int64_t lease,
		     const struct etcd_kv *leader, const struct etcd_kv *epoch, uint64_t new_epoch,
		     const char *why, bool *ok, char **err)
{
	char *kl = cluster_key(c, "leader"), *ke = cluster_key(c, "epoch");
	char *kp = cluster_key(c, "paused");
	struct etcd_txn *t = etcd_txn_new();
	/* The holder's name, not its revision: its agent may re-put it. */
	if (leader)
		etcd_txn_value(t, kl, ETCD_EQ, leader->value);
	else
		etcd_txn_absent(t, kl);
	if (epoch)
		etcd_txn_mod_revision(t, ke, ETCD_EQ, epoch->mod_revision);
	else
		etcd_txn_absent(t, ke);
	if (mode == CLAIM_AUTO)
		etcd_txn_absent(t, kp);
	etcd_txn_put(t, true, kl, c->cfg->node, lease);
	char e[24];
	snprintf(e, sizeof(e), "%" PRIu64, new_epoch);
	etcd_txn_put(t, true, ke, e, 0);
	if (mode == CLAIM_AUTO) {
		char *p = pause_record(c->cfg, why);
		etcd_txn_put(t, true, kp, p, 0);
		free(p);
	}
	int rc = etcd_txn_run(c->etcd, t, CLUSTER_TIMEOUT_MS, ok, NULL, err);
	etcd_txn_free(t);
	free(kl);
	free(ke);
	free(kp);
	return rc;
}

int cluster_claim(struct cluster *c, enum claim_mode mode, int64_t lease, uint64_t local_epoch,
		  const char *why, struct claim_result *r, char **err)
{
	memset(r, 0, sizeof(*r));
	const char *me = c->cfg->node;
	if (!me) {
		*err = xasprintf("%s: [cluster] needs [lifeboat] node (or a [node] whose address "
				 "is this machine's)",
				 c->cfg->path);
		return -1;
	}
	struct etcd_kvs kvs;
	/* A read only chooses which compare-and-swap to send. */
	if (etcd_range(c->etcd, c->prefix, true, CLUSTER_TIMEOUT_MS, &kvs, err) < 0)
		return -1;
	const struct etcd_kv *leader = find(c, &kvs, "leader"), *epoch = find(c, &kvs, "epoch");
	const struct etcd_kv *paused = find(c, &kvs, "paused");
	r->epoch = kv_epoch(epoch);
	int rc = 0;
	if (leader && strcmp(leader->value, me) == 0) {
		r->taken = r->already = true;
		goto out;
	}
	r->why = claim_refusal(c, mode, leader, epoch, paused, local_epoch);
	if (r->why) {
		r->holder = leader ? xstrdup(leader->value) : NULL;
		goto out;
	}
	uint64_t top = r->epoch > local_epoch ? r->epoch : local_epoch;
	uint64_t new_epoch = mode == CLAIM_KEEP ? top : top + 1;
	if (!lease && (rc = etcd_lease_grant(c->etcd, c->cfg->cluster.ttl, CLUSTER_TIMEOUT_MS,
					     &lease, err)) < 0)
		goto out;
	bool ok = false;
	rc = claim_txn(c, mode, lease, leader, epoch, new_epoch, why, &ok, err);
	if (rc < 0)
		goto out;
	if (!ok) {
		r->why = xstrdup("another node changed the leader key or the epoch at the same "
				 "moment (compare-and-swap lost)");
		goto out;
	}
	r->taken = true;
	r->epoch = new_epoch;
	r->replaced = leader ? xstrdup(leader->value) : NULL;
	if (mode != CLAIM_KEEP)
		mirror_epoch(c->cfg, new_epoch);
out:
	etcd_kvs_free(&kvs);
	return rc;
}

/* A holder whose key was taken stops writing within one agent tick if it
 * reaches etcd, else when its own lease runs out: wait for that lease. */
static void wait_old_lease(struct cluster *c, int64_t lease)
{
	long left = 0;
	char *err = NULL;
	if (etcd_lease_ttl(c->etcd, lease, CLUSTER_TIMEOUT_MS, &left, &err) < 0) {
		free(err);
		left = c->cfg->cluster.ttl;
	}
	if (left > 0) {
		log_info("failover: waiting %ld s for the old leader's lease to run out (it stops "
			 "writing by then)",
			 left);
		sleep((unsigned)left + 1);
	}
}

int cluster_claim_for_failover(const struct config *cfg, bool switchover, bool force,
			       uint64_t local_epoch, char **err)
{
	if (!cfg->cluster.present)
		return LB_OK;
	const char *cmd = switchover ? "switchover" : "failover";
	struct cluster c;
	cluster_open(&c, cfg);
	/* The lease of the key it takes from a live holder, read first. */
	int64_t old_lease = 0;
	struct etcd_kvs kvs;
	char *kl = cluster_key(&c, "leader");
	if (etcd_range(c.etcd, kl, false, CLUSTER_TIMEOUT_MS, &kvs, err) == 0) {
		if (kvs.len && strcmp(kvs.items[0].value, cfg->node ? cfg->node : "") != 0)
			old_lease = kvs.items[0].lease;
		etcd_kvs_free(&kvs);
	} else {
		free(*err);
		*err = NULL;
	}
	free(kl);
	struct claim_result r;
	enum claim_mode mode = switchover || force ? CLAIM_REPLACE : CLAIM_MANUAL;
	int rc = LB_OK;
	if (cluster_claim(&c, mode, 0, local_epoch, NULL, &r, err) < 0) {
		char *e = *err;
		*err = xasprintf("%s: [cluster] is configured and the leader key could not be taken "
				 "first: %s; nothing changed (without etcd nothing fails over: bring "
				 "a majority of its members back)",
				 cmd, e);
		free(e);
		rc = LB_FAILED;
	} else if (!r.taken) {
		*err = xasprintf("%s: %s; nothing changed%s", cmd, r.why,
				 r.holder && !switchover ? " (--force takes it from the holder)" : "");
		rc = LB_FAILED;
	} else if (r.already) {
		log_info("%s: this node holds the leader key (epoch %" PRIu64 ")", cmd, r.epoch);
	} else {
		log_info("%s: took the leader key%s%s, epoch %" PRIu64 " in etcd", cmd,
			 r.replaced ? " from " : "", r.replaced ? r.replaced : "", r.epoch);
		if (r.replaced && !switchover && old_lease)
			wait_old_lease(&c, old_lease);
	}
	claim_result_free(&r);
	cluster_close(&c);
	return rc;
}

int cluster_claim_for_writable(const struct config *cfg, uint64_t local_epoch, char **err)
{
	if (!cfg->cluster.present)
		return LB_OK;
	struct cluster c;
	cluster_open(&c, cfg);
	struct claim_result r;
	int rc = LB_OK;
	if (cluster_claim(&c, CLAIM_KEEP, 0, local_epoch, NULL, &r, err) < 0) {
		char *e = *err;
		*err = xasprintf("[cluster]: the leader key could not be checked (%s): the server "
				 "stays read-only; nothing changed",
				 e);
		free(e);
		rc = LB_FAILED;
	} else if (!r.taken) {
		*err = xasprintf("[cluster]: %s: the server stays read-only; nothing changed", r.why);
		rc = LB_FAILED;
	}
	claim_result_free(&r);
	cluster_close(&c);
	return rc;
}

/* ------------------------------------------------------------ failsafe */

static char *hold_path(const struct config *cfg)
{
	return xasprintf("%s/failsafe-hold", cfg->state_dir);
}

double cluster_failsafe_hold_until(const struct config *cfg)
{
	char *p = hold_path(cfg);
	char *text = read_file(p, NULL);
	free(p);
	double until = text ? strtod(text, NULL) : 0;
	free(text);
	return until;
}

int cluster_failsafe_hold(const struct config *cfg, double until, char **err)
{
	char *p = hold_path(cfg);
	char *text = xasprintf("%.3f\n", until);
	int rc = 0;
	if (mkdir_p(cfg->state_dir, 0755) < 0 || write_file_atomic(p, text, strlen(text)) < 0) {
		*err = xasprintf("%s: %s", p, strerror(errno));
		rc = -1;
	}
	free(text);
	free(p);
	return rc;
}

/* ------------------------------------------------------------ status */

static struct json_object *parse_or_string(const char *v)
{
	struct json_object *o = json_tokener_parse(v);
	return o ? o : json_object_new_string(v);
}

struct json_object *cluster_status_json(const struct config *cfg)
{
	struct json_object *o = json_object_new_object();
	struct cluster c;
	cluster_open(&c, cfg);
	struct etcd_kvs kvs;
	char *err = NULL;
	json_object_object_add(o, "scope", json_object_new_string(cfg->cluster.scope));
	if (etcd_range(c.etcd, c.prefix, true, CLUSTER_TIMEOUT_MS, &kvs, &err) < 0) {
		json_object_object_add(o, "etcd", json_object_new_string("unreachable"));
		json_object_object_add(o, "error", json_object_new_string(err));
		free(err);
		cluster_close(&c);
		return o;
	}
	json_object_object_add(o, "etcd", json_object_new_string(etcd_endpoint(c.etcd)));
	const struct etcd_kv *leader = find(&c, &kvs, "leader"), *paused = find(&c, &kvs, "paused");
	json_object_object_add(o, "leader", leader ? json_object_new_string(leader->value) : NULL);
	if (leader) {
		long left = -1;
		if (etcd_lease_ttl(c.etcd, leader->lease, CLUSTER_TIMEOUT_MS, &left, &err) < 0) {
			free(err);
			err = NULL;
		}
		json_object_object_add(o, "lease_left", json_object_new_int64(left));
	}
	json_object_object_add(o, "epoch", json_object_new_int64((int64_t)kv_epoch(
						   find(&c, &kvs, "epoch"))));
	bool armed = cfg->cluster.auto_failover && !paused;
	json_object_object_add(o, "auto_failover", json_object_new_boolean(armed));
	if (paused)
		json_object_object_add(o, "paused", parse_or_string(paused->value));
	struct json_object *members = json_object_new_object();
	char *mp = cluster_key(&c, "members/");
	for (size_t i = 0; i < kvs.len; i++)
		if (strncmp(kvs.items[i].key, mp, strlen(mp)) == 0)
			json_object_object_add(members, kvs.items[i].key + strlen(mp),
					       parse_or_string(kvs.items[i].value));
	free(mp);
	json_object_object_add(o, "members", members);
	etcd_kvs_free(&kvs);
	cluster_close(&c);
	return o;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* This node's agent's last decision (STATE_DIR/agent.json): what it does
 * even when etcd cannot be asked. */
static void print_local_agent(const struct config *cfg)
{
	char *p = xasprintf("%s/agent.json", cfg->state_dir);
	struct json_object *a = json_object_from_file(p), *at;
	free(p);
	if (!a) {
		printf("  this node  no agent state (is 'lifeboat agent' running?)\n");
		return;
	}
	double age = json_object_object_get_ex(a, "at", &at) ? now_wall() - json_object_get_double(at)
							     : -1;
	printf("  this node  %s (agent, %.0f s ago)\n", jstr(a, "decision") ? jstr(a, "decision") : "?",
	       age);
	json_object_put(a);
}

void cluster_print_status(const struct config *cfg, bool colour)
{
	const char *bold = colour ? "\033[1m" : "", *off = colour ? "\033[0m" : "";
	struct json_object *o = cluster_status_json(cfg), *v;
	printf("\n%scluster%s %s (etcd %s)\n", bold, off, cfg->cluster.scope,
	       jstr(o, "etcd") ? jstr(o, "etcd") : "?");
	print_local_agent(cfg);
	if (jstr(o, "error")) {
		printf("  etcd unreachable: %s\n  nothing fails over while etcd is unreachable\n",
		       jstr(o, "error"));
		json_object_put(o);
		return;
	}
	if (jstr(o, "leader")) {
		json_object_object_get_ex(o, "lease_left", &v);
		printf("  leader     %s (lease %lld s left of %ld), epoch %s\n", jstr(o, "leader"),
		       (long long)json_object_get_int64(v), cfg->cluster.ttl, jstr(o, "epoch"));
	} else {
		printf("  leader     none (no node holds the leader lease), epoch %s\n",
		       jstr(o, "epoch"));
	}
	json_object_object_get_ex(o, "auto_failover", &v);
	struct json_object *p = NULL;
	json_object_object_get_ex(o, "paused", &p);
	printf("  automatic  %s\n", json_object_get_boolean(v) ? "armed"
			     : p ? "paused ('lifeboat agent --resume' arms it)"
				 : "off (auto_failover = no)");
	struct json_object *members;
	json_object_object_get_ex(o, "members", &members);
	json_object_object_foreach(members, name, m)
	{
		struct json_object *lag = NULL;
		char lag_s[80] = "-";
		if (json_object_object_get_ex(m, "lag", &lag) && lag)
			snprintf(lag_s, sizeof(lag_s), "%.1f s", json_object_get_double(lag));
		struct json_object *rpo = NULL;
		if (json_object_object_get_ex(m, "files_rpo", &rpo) && rpo)
			snprintf(lag_s + strlen(lag_s), sizeof(lag_s) - strlen(lag_s),
				 ", files RPO %.1f s", json_object_get_double(rpo));
		printf("  member     %-12s %s%s, applied %s, lag %s%s%s%s\n", name,
		       jstr(m, "role") ? jstr(m, "role") : "?",
		       jstr(m, "writable") && strcmp(jstr(m, "writable"), "true") == 0 ? " writable"
											: "",
		       jstr(m, "gtid_applied") ? jstr(m, "gtid_applied") : "-",
		       lag_s,
		       jstr(m, "may_promote") && strcmp(jstr(m, "may_promote"), "true") == 0
			       ? ", may be promoted"
			       : "",
		       jstr(m, "decision") ? "; " : "", jstr(m, "decision") ? jstr(m, "decision") : "");
	}
	json_object_put(o);
}
