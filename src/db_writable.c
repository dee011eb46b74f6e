/* db_writable: `lifeboat db writable`, also run by the sync daemon when it
 * starts. With read_only = ON in every my.cnf (the recommended setup: a
 * rebooted server must not take writes by accident), the node that holds
 * the primary role and the highest role epoch turns writes on here, and
 * only there. Anything that leaves a doubt refuses and changes nothing: the
 * other server unreachable (it may hold a newer epoch), writable itself, or
 * newer; this server replicating or holding the standby role. */
#include "cluster.h"
#include "result.h"
#include "db_ops.h"
#include "epoch.h"
#include "log.h"
#include "role.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static int read_server(struct db_pair *p, const struct db_server *s, struct db_conn *c,
		       struct db_facts *f, char **err);

/* A server as messages name it: its [node], else its [database] role. */
static const char *server_label(const struct db_server *s)
{
	return s->node ? s->node : s->role;
}

/* Without [node]s (HOST:PORT servers) there is no "this node": the server
 * that does not replicate and holds the higher role epoch in its database
 * is the primary's; a tie or two replicas leave a doubt. */
static int pick_by_epoch(struct db_pair *p, const struct db_server **here,
			 const struct db_server **there, char **err)
{
	struct db_conn c[2];
	struct db_facts f[2];
	const struct db_server *s[2] = {&p->primary, &p->standby};
	int rc = LB_OK;
	for (int i = 0; i < 2; i++) {
		if (!rc && read_server(p, s[i], &c[i], &f[i], err))
			rc = LB_FAILED;
		else if (rc) {
			memset(&c[i], 0, sizeof(c[i]));
			memset(&f[i], 0, sizeof(f[i]));
		}
	}
	int pick = -1;
	if (!rc && !f[0].replica && (f[1].replica || f[0].epoch > f[1].epoch))
		pick = 0;
	else if (!rc && !f[1].replica && (f[0].replica || f[1].epoch > f[0].epoch))
		pick = 1;
	if (!rc && pick < 0) {
		*err = xasprintf("cannot tell which server holds the primary role (role epochs %llu "
				 "and %llu, %s): name the servers by [node] in [database]; nothing "
				 "changed",
				 (unsigned long long)f[0].epoch, (unsigned long long)f[1].epoch,
				 f[0].replica && f[1].replica ? "both replicate" : "neither replicates");
		rc = LB_FAILED;
	}
	if (!rc) {
		*here = s[pick];
		*there = s[1 - pick];
	}
	for (int i = 0; i < 2; i++) {
		db_facts_free(&f[i]);
		db_close(&c[i]);
	}
	return rc;
}

/* This node's server and the other one, by [node] name. */
static int pick_servers(struct db_pair *p, const struct db_server **here,
			const struct db_server **there, char **err)
{
	const struct config *cfg = p->cfg;
	if (!p->primary.node && !p->standby.node)
		return pick_by_epoch(p, here, there, err);
	if (!cfg->node || !p->primary.node || !p->standby.node) {
		*err = xasprintf("%s: db writable needs [database] primary and standby to name "
				 "[node]s, and to know which node this is ([lifeboat] node, or a "
				 "[node] address on this machine)",
				 cfg->path);
		return LB_USAGE;
	}
	bool first = strcmp(p->primary.node, cfg->node) == 0;
	if (!first && strcmp(p->standby.node, cfg->node) != 0) {
		*err = xasprintf("%s: this node '%s' runs neither database server", cfg->path,
				 cfg->node);
		return LB_USAGE;
	}
	*here = first ? &p->primary : &p->standby;
	*there = first ? &p->standby : &p->primary;
	return LB_OK;
}

static int read_server(struct db_pair *p, const struct db_server *s, struct db_conn *c,
		       struct db_facts *f, char **err)
{
	memset(f, 0, sizeof(*f));
	memset(c, 0, sizeof(*c));
	int rc = db_pair_connect(p, s, c, err);
	if (!rc)
		rc = db_facts_read(c, f, err);
	return rc;
}

int db_unfence(const struct config *cfg, struct db_conn *c, char **err)
{
	unsigned given = 0;
	int rc = db_fence_give_back(c, &given, err);
	if (!rc && given)
		log_info("%s: READ_ONLY ADMIN given back to %u account(s) a fence took it from",
			 c->name, given);
	/* The agent's fence turns the master side of semi-sync off (a commit
	 * waiting for a cut-off standby holds read_only back); without it on
	 * again an acknowledged write could be lost at the next failover. */
	if (!rc && cfg->db.semi_sync)
		rc = db_exec(c, "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC", err);
	if (!rc && cfg->db.semi_sync)
		rc = db_exec(c, "SET GLOBAL rpl_semi_sync_master_enabled = ON", err);
	return rc;
}

/* Whether the other server leaves this one the newest: reachable, not
 * writable, no higher epoch. 0, or the refusal. */
static int other_is_behind(const struct db_server *there, const struct db_facts *fo,
			   uint64_t mine, char **err)
{
	if (fo->epoch > mine) {
		*err = xasprintf("%s (%s) holds role epoch %llu, newer than this node's %llu: this "
				 "node was failed over; run 'lifeboat db rejoin'; nothing changed",
				 server_label(there), there->role, (unsigned long long)fo->epoch,
				 (unsigned long long)mine);
		return LB_FAILED;
	}
	if (!fo->read_only) {
		*err = xasprintf("%s (%s) is writable: two writable servers would split the data; "
				 "fence it first ('lifeboat db fence'); nothing changed",
				 server_label(there), there->role);
		return LB_FAILED;
	}
	return LB_OK;
}

int db_make_writable(struct db_pair *p, bool *changed, char **err)
{
	*changed = false;
	const struct db_server *here, *there;
	int rc = pick_servers(p, &here, &there, err);
	if (rc)
		return rc;
	if (here->node && role_current(p->cfg) != ROLE_PRIMARY) {
		*err = xasprintf("this node (%s) holds the standby role: writes are turned on only "
				 "on the primary (%s); nothing changed",
				 server_label(here), server_label(there));
		return LB_FAILED;
	}
	struct db_conn c, o;
	struct db_facts f, fo;
	memset(&o, 0, sizeof(o));
	memset(&fo, 0, sizeof(fo));
	rc = read_server(p, here, &c, &f, err);
	uint64_t mine = 0;
	if (!rc && epoch_read(p->cfg->state_dir, &mine, err) < 0)
		rc = LB_FAILED;
	if (!rc && f.epoch > mine)
		mine = f.epoch;
	if (!rc && !f.read_only) {
		log_debug("%s is writable already (role epoch %llu)", c.name,
			 (unsigned long long)mine);
		/* Writes came back another way (SET GLOBAL by hand, the agent):
		 * what a fence took is given back too. */
		rc = db_unfence(p->cfg, &c, err);
		goto out;
	}
	if (!rc && f.replica) {
		*err = xasprintf("%s replicates from %s:%lld: it is a standby's server; nothing "
				 "changed",
				 c.name, f.source_host, f.source_port);
		rc = LB_FAILED;
	}
	if (!rc && read_server(p, there, &o, &fo, err)) {
		char *m = xasprintf("cannot tell whether %s holds a newer role epoch (%s): this "
				    "server stays read-only; nothing changed",
				    server_label(there), *err);
		free(*err);
		*err = m;
		rc = LB_FAILED;
	}
	if (!rc)
		rc = other_is_behind(there, &fo, mine, err);
	/* [cluster]: the leader key first, as failover does. */
	if (!rc)
		rc = cluster_claim_for_writable(p->cfg, mine, err);
	/* As promote does: what a fence of this server took comes back
	 * before writes go on (a failure leaves it read-only; a second run
	 * finishes). */
	if (!rc)
		rc = db_unfence(p->cfg, &c, err);
	if (!rc)
		rc = db_exec(&c, "SET GLOBAL read_only = OFF", err);
	if (!rc)
		rc = db_persist_read_only(p->cfg, here, false, mine, err);
	if (!rc) {
		*changed = true;
		log_info("made %s writable: this node (%s) holds the primary role and the highest "
			 "role epoch (%llu); %s stays read-only",
			 c.name, server_label(here), (unsigned long long)mine, server_label(there));
	}
out:
	db_facts_free(&f);
	db_facts_free(&fo);
	db_close(&c);
	db_close(&o);
	return rc;
}
