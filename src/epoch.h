/* epoch: the role epoch kept in STATE_DIR/epoch. Every promotion bumps it;
 * sync, failover and db refuse a peer whose epoch is lower than theirs (a
 * stale primary). Owns only that file; the copy on the database lives in the
 * lifeboat schema (db_meta). The file holds one decimal number and a newline
 * and is replaced atomically, so a reader never sees a half-written value. */
#ifndef LIFEBOAT_EPOCH_H
#define LIFEBOAT_EPOCH_H

#include <stdbool.h>
#include <stdint.h>

/* *out = the epoch in STATE_DIR/epoch, 0 when the file does not exist yet.
 * Returns 0, or -1 with *err a malloc'd one-line message (unreadable or junk). */
int epoch_read(const char *state_dir, uint64_t *out, char **err);
/* Replace STATE_DIR/epoch with value (creates STATE_DIR). 0 or -1 and *err. */
int epoch_write(const char *state_dir, uint64_t value, char **err);
/* Parse the file's text; false on junk. Exposed for unit tests. */
bool epoch_parse(const char *text, uint64_t *out);

#endif
