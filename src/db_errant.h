/* db_errant: what an old primary's errant transactions wrote, read from its
 * binlog (SHOW BINLOG EVENTS). Rejoin discards them only when every one
 * writes nothing but lifeboat's heartbeat. */
#ifndef LIFEBOAT_DB_ERRANT_H
#define LIFEBOAT_DB_ERRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "gtid.h"

/* Errant transactions (gtid_find_errant's ranges, none diverged) read from
 * the old primary's binlog: *own when every one only writes lifeboat's
 * heartbeat row (or its IF NOT EXISTS schema); else *why says what else or
 * why it cannot tell (caller frees). -1 with *err when the binlog cannot be
 * read. */
int db_errant_only_own(struct db_conn *old, const struct gtid_errant *e, size_t n, bool *own,
		       char **why, char **err);

/* The classification, one binlog event at a time (pure: unit-tested). */
struct db_errant_scan {
	const struct gtid_errant *e;
	size_t n;
	uint64_t seen; /* errant transactions met */
	bool in_errant; /* the current transaction is errant */
	char *foreign; /* first errant write that is not lifeboat's own (owned) */
};
/* type and info are SHOW BINLOG EVENTS' Event_type and Info. */
void db_errant_scan_event(struct db_errant_scan *s, const char *type, const char *info);

#endif
