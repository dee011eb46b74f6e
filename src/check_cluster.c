/* check_cluster: the [cluster] rules of `lifeboat check`: every etcd member
 * answers, there are three of them on three hosts (no two on one node, so
 * one site's loss leaves a majority), the agents' clocks agree with this
 * one, and ttl lets the primary renew through an etcd election. Reads
 * only. */
#include "agent.h"
#include "check.h"
#include "cluster.h"
#include "etcd.h"
#include "util.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* The host part of http[s]://HOST:PORT; caller frees. */
static char *url_host(const char *url)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	size_t n = h[0] == '[' ? strcspn(h, "]") + 1 : strcspn(h, ":/");
	return xstrndup(h, n);
}

static void check_members(const struct config *cfg, struct check_report *r)
{
	const struct cluster_conf *cc = &cfg->cluster;
	struct etcd_tls tls = {cc->etcd_ca, cc->etcd_cert, cc->etcd_key};
	size_t up = 0;
	struct buf down;
	buf_init(&down);
	for (size_t i = 0; i < cc->etcd.len; i++) {
		struct strv one;
		strv_init(&one);
		strv_push(&one, cc->etcd.items[i]);
		struct etcd *e = etcd_new(&one, &tls);
		struct etcd_kvs kvs;
		char *err = NULL;
		if (etcd_range(e, "/lifeboat/", true, 2000, &kvs, &err) == 0) {
			up++;
			etcd_kvs_free(&kvs);
		} else {
			buf_addf(&down, "%s%s", down.len ? "; " : "", err);
			free(err);
		}
		etcd_free(e);
		strv_free(&one);
	}
	if (up == cc->etcd.len && up >= 3)
		check_add(r, "cluster etcd members", CHECK_PASS, NULL, "%zu of %zu answer", up,
			  cc->etcd.len);
	else if (up * 2 > cc->etcd.len)
		check_add(r, "cluster etcd members", CHECK_WARN,
			  cc->etcd.len < 3 ? "list three members in [cluster] etcd, the third on a "
					     "third site (a small witness)"
					   : "bring the member back: one more loss and nothing fails over",
			  "%zu of %zu answer%s%s", up, cc->etcd.len, down.len ? ": " : "",
			  down.len ? down.data : "");
	else
		check_add(r, "cluster etcd members", CHECK_FAIL,
			  "without a majority of etcd members nothing fails over and the primary "
			  "lives on the failsafe: bring them back",
			  "%zu of %zu answer%s%s", up, cc->etcd.len, down.len ? ": " : "",
			  down.len ? down.data : "");
	buf_free(&down);
}

/* Three hosts, no two members on one [node]: one site's loss must leave a
 * majority. */
static void check_sites(const struct config *cfg, struct check_report *r)
{
	const struct strv *ep = &cfg->cluster.etcd;
	struct strv hosts;
	strv_init(&hosts);
	char *twice = NULL;
	for (size_t i = 0; i < ep->len && !twice; i++) {
		char *h = url_host(ep->items[i]);
		for (size_t j = 0; j < hosts.len; j++)
			if (strcmp(hosts.items[j], h) == 0)
				twice = xstrdup(h);
		strv_push(&hosts, h);
		free(h);
	}
	if (twice)
		check_add(r, "cluster etcd sites", CHECK_FAIL,
			  "one etcd member per host: two on one host fall together",
			  "two members on %s", twice);
	else if (hosts.len < 3)
		check_add(r, "cluster etcd sites", CHECK_FAIL,
			  "three members: one per data site and a witness on a third site",
			  "%zu member(s): losing one site loses the majority", hosts.len);
	else
		check_add(r, "cluster etcd sites", CHECK_PASS, NULL, "%zu members on %zu hosts",
			  ep->len, hosts.len);
	free(twice);
	strv_free(&hosts);
}

/* The agents publish their wall clock each tick (at most 1 s apart). */
static void check_clocks(const struct config *cfg, struct check_report *r)
{
	struct json_object *o = cluster_status_json(cfg), *members;
	if (!json_object_object_get_ex(o, "members", &members)) {
		check_add(r, "cluster clocks", CHECK_SKIP, NULL, "etcd unreachable");
		json_object_put(o);
		return;
	}
	double now = now_wall(), worst = 0;
	const char *who = NULL;
	size_t n = 0;
	json_object_object_foreach(members, name, m)
	{
		struct json_object *at;
		if (!json_object_object_get_ex(m, "at", &at))
			continue;
		double off = json_object_get_double(at) - now;
		/* A record is up to one tick old: that much behind is no skew. */
		double skew = off > 0 ? off : (off < -1.0 ? -off - 1.0 : 0);
		if (skew >= worst) {
			worst = skew;
			who = name;
		}
		n++;
	}
	if (n == 0)
		check_add(r, "cluster clocks", CHECK_WARN, "start 'lifeboat agent' on every node",
			  "no agent has published its state");
	else if (worst > CHECK_MAX_CLOCK_SKEW)
		check_add(r, "cluster clocks", CHECK_FAIL, "run NTP (chrony) on every node",
			  "%s's clock is %.1f s off this one's", who, worst);
	else
		check_add(r, "cluster clocks", CHECK_PASS, NULL, "%zu agent(s) within %.1f s", n,
			  CHECK_MAX_CLOCK_SKEW);
	json_object_put(o);
}

/* The value of NAME=VALUE on a line of its own in an environment file
 * (quotes dropped); NULL when absent or commented out. Caller frees. */
static char *env_value(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, name, n) != 0 || l[n] != '=')
			continue;
		const char *v = l + n + 1;
		size_t len = strcspn(v, "\n");
		if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
			v++;
			len -= 2;
		}
		return xstrndup(v, len);
	}
	return NULL;
}

/* Debian's etcd reads ETCD_ELECTION_TIMEOUT from /etc/default/etcd (ms,
 * default 1000). Losing etcd's leader stalls every request until the others
 * elect one: within two election timeouts (each member waits a random one
 * to two). The primary must renew through that before its fence deadline
 * (agent_leaderless_budget_ms), or it fences itself: safe, but an outage.
 * Without pre-vote (ETCD_PRE_VOTE, off by default in 3.4) a member that
 * comes back from a partition makes the others elect again, which can take
 * several election timeouts. Only this machine's member is visible here. */
static void check_ttl(const struct config *cfg, struct check_report *r)
{
	long election = 1000;
	char *text = read_file("/etc/default/etcd", NULL);
	char *et = text ? env_value(text, "ETCD_ELECTION_TIMEOUT") : NULL;
	char *pv = text ? env_value(text, "ETCD_PRE_VOTE") : NULL;
	char *name = text ? env_value(text, "ETCD_NAME") : NULL;
	char *ic = text ? env_value(text, "ETCD_INITIAL_CLUSTER") : NULL;
	if (et && strtol(et, NULL, 10) > 0)
		election = strtol(et, NULL, 10);
	bool member_here = name || ic;
	bool pre_vote = pv && strcmp(pv, "true") == 0;
	free(text);
	free(et);
	free(pv);
	free(name);
	free(ic);
	long ttl = cfg->cluster.ttl;
	int64_t budget = agent_leaderless_budget_ms(ttl), needed = 2 * (int64_t)election;
	long enough = ttl;
	while (agent_leaderless_budget_ms(enough) < needed && enough < 3600)
		enough++;
	if (budget < needed)
		check_add(r, "cluster ttl", CHECK_WARN,
			  "raise ttl: the primary must renew through an etcd election (up to two "
			  "election timeouts), or it fences itself at every one",
			  "ttl %ld s renews through %" PRId64 " ms without an etcd leader; an "
			  "election takes up to %" PRId64 " ms (election timeout %ld ms): ttl %ld "
			  "s or more",
			  ttl, budget, needed, election, enough);
	else if (member_here && !pre_vote)
		check_add(r, "cluster ttl", CHECK_WARN,
			  "ETCD_PRE_VOTE=true in /etc/default/etcd on every etcd member (the default "
			  "from etcd 3.5): without it a member back from a partition makes the others "
			  "elect again, which can outlast the primary's fence deadline",
			  "ttl %ld s, etcd election timeout %ld ms; this machine's etcd member runs "
			  "without pre-vote",
			  ttl, election);
	else
		check_add(r, "cluster ttl", CHECK_PASS, NULL,
			  "ttl %ld s renews through %" PRId64 " ms without an etcd leader (election "
			  "timeout %ld ms: an election takes up to %" PRId64 " ms)",
			  ttl, budget, election, needed);
}

void check_cluster(const struct config *cfg, struct check_report *r)
{
	if (!cfg->cluster.present)
		return; /* manual failover: nothing to check here */
	check_members(cfg, r);
	check_sites(cfg, r);
	check_clocks(cfg, r);
	check_ttl(cfg, r);
}
