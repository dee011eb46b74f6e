/* role: which role this node holds now. Owns STATE_DIR/role, a file with
 * "primary" or "standby" and a newline, written by failover, switchover and
 * rejoin. Without the file the [node] role of the configuration counts, and
 * a configuration without nodes (sync only) is a primary. Who the other
 * node is belongs to peer.h. */
#ifndef LIFEBOAT_ROLE_H
#define LIFEBOAT_ROLE_H

#include <stdbool.h>

#include "config.h"

enum node_role { ROLE_PRIMARY, ROLE_STANDBY };

enum node_role role_current(const struct config *cfg);
const char *role_name(enum node_role r);
/* Replace STATE_DIR/role atomically. 0, or -1 with *err (caller frees). */
int role_write(const char *state_dir, enum node_role r, char **err);

#endif
