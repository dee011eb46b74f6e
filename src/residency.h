/* residency: the data-residency policy. Owns the table of ISO 3166-1
 * alpha-2 country codes and of the groups a policy may name (EU, EEA), the
 * validation of [lifeboat] jurisdictions and [node] jurisdiction, and the
 * judgement of every place a copy of the data goes: a sync target (and,
 * when the target is this node, the peer the files flow back to after a
 * failover), a database copy (clone, replication, rejoin) and the flows a
 * failover or switchover turns around. Pure: it reads the configuration
 * only, so the refusals happen before any connection and are unit-tested.
 * Refusals name the line of the destination and the line of the policy. */
#ifndef LIFEBOAT_RESIDENCY_H
#define LIFEBOAT_RESIDENCY_H

#include <stdbool.h>

#include "config.h"
#include "db.h"

/* A country code (NO, de: case does not matter) or a group (EU, EEA). */
bool residency_code_is_country(const char *code);
bool residency_code_is_group(const char *code);
/* NULL when every blank-separated word of a jurisdictions value is a country
 * or a group, else a malloc'd "unknown jurisdiction 'XX' (...)". */
char *residency_policy_error(const char *policy);
/* NULL when code is one country, else the malloc'd reason. */
char *residency_country_error(const char *code);
/* Does the policy (as validated above) take this country? */
bool residency_policy_allows(const char *policy, const char *country);

/* Where one node stands against the configuration's policy. */
enum residency_verdict {
	RESIDENCY_NO_POLICY, /* [lifeboat] jurisdictions unset: everything goes */
	RESIDENCY_INSIDE,
	RESIDENCY_OUTSIDE,
	RESIDENCY_UNKNOWN, /* the node sets no jurisdiction */
};
enum residency_verdict residency_node_verdict(const struct config *cfg,
					      const struct node_conf *node);

/* One line for `status`: "jurisdictions = NO EEA: oslo NO (inside), dr US
 * (OUTSIDE)"; NULL when neither the policy nor any node's jurisdiction is
 * set. Caller frees. */
char *residency_describe(const struct config *cfg);

/* The refusals. Each returns 0, or -1 with *err one malloc'd line
 * "FILE:LINE: ... (policy FILE:LINE)". */

/* Files of sc go to its target; a target that is this node also sends them
 * back to the other node once this node is primary (after a failover). */
int residency_check_sync(const struct config *cfg, const struct sync_conf *sc, char **err);
/* A copy of the database (clone, replication) goes to the server `to`. */
int residency_check_db_copy(const struct config *cfg, const struct db_server *to, char **err);
/* A failover or switchover to this node: afterwards the database replicates
 * to the old primary and every sync pushes from here. */
int residency_check_failover(const struct config *cfg, const struct db_server *old_primary,
			     char **err);

#endif
