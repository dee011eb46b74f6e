/* history_client: the source node's side of `versions` and `restore`.
 * Finds the sync a path belongs to and asks the target's `lifeboat serve`
 * (over the sync's ssh, or run here for a local target) for the versions
 * its history keeps, or for an archive of a path as it was at a time,
 * which it unpacks into the source or another directory. */
#ifndef LIFEBOAT_HISTORY_CLIENT_H
#define LIFEBOAT_HISTORY_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "history.h"

/* The sync whose source holds path (absolute, or relative to the working
 * directory; it need not exist any more) and path relative to that
 * source ("" for the source itself). 0, or -1 with *err. */
int history_locate(const struct config *cfg, const char *path, const struct sync_conf **sc,
		   char **rel, char **err);

/* The versions of rel on sc's target (paths in the list are the target's). */
int history_fetch_versions(const struct config *cfg, const struct sync_conf *sc,
			   const char *rel, struct version_list *out, char **err);

/* serve's answer to versions (serve_versions): a row "UNTIL SINCE MTIME
 * SIZE REPLACED BORN\tNAME" (a serve from before renames were followed
 * sends the first four: REPLACED BORN MTIME SIZE, the same for a row that
 * is a version under its one name), "to\tNAME" for the record before it
 * (the name a rename gave it), "renamed WHEN\tFROM" (a rename of the
 * asked path, its "to" next); each NUL-terminated. Paths: under
 * target_path. */
void history_parse_versions(const char *target_path, const char *data, size_t len,
			    struct version_list *out);

/* What sc's target history holds: bytes, and the oldest version's time. */
int history_fetch_usage(const struct config *cfg, const struct sync_conf *sc, uint64_t *bytes,
			time_t *oldest, char **err);

struct restore_stats {
	uint64_t files;
	uint64_t bytes;   /* of the archive */
	uint64_t removed; /* names that were not there at `at`, removed */
	uint64_t left;    /* ...left in place: changed since the target got them */
};

/* Unpack rel as it was at `at`, under the names it had then, into dest (a
 * directory), dropping the first strip components of each name. With
 * remove_new (dest is the sync's source), what the target holds under rel
 * that was not there at `at` is removed from dest afterwards: files
 * created since, the new names of renamed ones, directories made since
 * (only when empty). The sync then replicates the removal, and the target
 * keeps those files in its history. progress: a line on stderr that
 * updates. */
int history_restore(const struct config *cfg, const struct sync_conf *sc, const char *rel,
		    time_t at, const char *dest, int strip, bool remove_new, bool progress,
		    struct restore_stats *st, char **err);

#endif
