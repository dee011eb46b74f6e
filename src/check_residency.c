/* check_residency: the data-residency rules of `lifeboat check`: each
 * [node]'s jurisdiction against [lifeboat] jurisdictions, and every place a
 * copy goes (each sync's target, the database standby) judged as the
 * commands judge it before they start (residency.h). Reads the
 * configuration only. */
#include "check.h"
#include "db.h"
#include "residency.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void rule_node(const struct config *cfg, const struct node_conf *n,
		      struct check_report *r)
{
	char *rule = xasprintf("node.%s.jurisdiction", n->name);
	char *fix = xasprintf("set 'jurisdiction' in [node %s] (%s:%d) to where its disks are, "
			      "or do not send it data",
			      n->name, cfg->path, n->line);
	switch (residency_node_verdict(cfg, n)) {
	case RESIDENCY_INSIDE:
		check_add(r, rule, CHECK_PASS, NULL, "%s, inside jurisdictions = %s", n->jurisdiction,
			  cfg->jurisdictions);
		break;
	case RESIDENCY_OUTSIDE:
		check_add(r, rule, CHECK_FAIL, fix,
			  "%s (%s:%d) is outside jurisdictions = %s (%s:%d): no data may go there",
			  n->jurisdiction, cfg->path, n->jurisdiction_line, cfg->jurisdictions,
			  cfg->path, cfg->jurisdictions_line);
		break;
	case RESIDENCY_UNKNOWN:
		check_add(r, rule, CHECK_FAIL, fix,
			  "no 'jurisdiction' set while jurisdictions = %s (%s:%d): no data may go "
			  "there",
			  cfg->jurisdictions, cfg->path, cfg->jurisdictions_line);
		break;
	case RESIDENCY_NO_POLICY:
		break;
	}
	free(fix);
	free(rule);
}

static void rule_sync(const struct config *cfg, const struct sync_conf *sc,
		      struct check_report *r)
{
	char *rule = xasprintf("sync.%s.residency", sc->name);
	char *err = NULL;
	if (residency_check_sync(cfg, sc, &err) == 0)
		check_add(r, rule, CHECK_PASS, NULL, "target %s is inside jurisdictions = %s",
			  sc->target, cfg->jurisdictions);
	else
		check_add(r, rule, CHECK_FAIL, "name a [node] inside the policy as the target",
			  "%s", err);
	free(err);
	free(rule);
}

static void rule_database(const struct config *cfg, struct check_report *r)
{
	struct db_server s;
	char *err = NULL;
	if (db_server_resolve(cfg, "standby", cfg->db.standby, &s, &err) == 0 &&
	    residency_check_db_copy(cfg, &s, &err) == 0)
		check_add(r, "database.residency", CHECK_PASS, NULL,
			  "standby %s is inside jurisdictions = %s", cfg->db.standby,
			  cfg->jurisdictions);
	else
		check_add(r, "database.residency", CHECK_FAIL,
			  "make the standby a [node] inside the policy", "%s", err);
	free(err);
	db_server_free(&s);
}

void check_residency(const struct config *cfg, struct check_report *r)
{
	if (!cfg->jurisdictions) {
		check_add(r, "residency", CHECK_SKIP, NULL,
			  "[lifeboat] jurisdictions is not set: data residency is not enforced");
		return;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++)
		rule_node(cfg, &cfg->nodes[i], r);
	for (size_t i = 0; i < cfg->n_syncs; i++)
		rule_sync(cfg, &cfg->syncs[i], r);
	if (cfg->db.present)
		rule_database(cfg, r);
}
