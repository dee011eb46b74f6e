/* placing: what a power cut could leave of files moved into place.
 *
 * A merge moves staged files to their final names by rename, and the
 * batch's sync puts them on disk later: on a power cut in between, the
 * renames may reach the disk before the data (a new file under its final
 * name, empty or short). So before its first rename a merge writes, and
 * fsyncs, a log of every regular file it is about to place (inode, size,
 * name) in TARGET/.lifeboat-history/.placing/; the sync that puts the
 * batch on disk removes it. A log still there when nobody holds it (its
 * writer died, or the machine went down) is recovered where the tree is
 * first used (serve's lookup of a request's tree, the sync daemon's
 * start): each file still
 * that inode but no longer that size is rolled back to the version the
 * merge kept in the history, or removed if it was new. The target then
 * holds whole versions only, and the sender's next pass ships the file
 * again (its size differs). One fsync of a small file per merge, no sync
 * of the data before the renames. */
#ifndef LIFEBOAT_PLACING_H
#define LIFEBOAT_PLACING_H

#include <stdint.h>

/* Log the regular files below the staging directory stage_fd (their names
 * below it are their names below root_fd), to be kept into run_rel (NULL:
 * history off) when they replace something. On disk when it returns 0;
 * -1 with *err (nothing may be moved then). The log stays this process's
 * until placing_synced covers it. */
int placing_log(int root_fd, int stage_fd, const char *run_rel, char **err);

/* A number that orders this process's logs: take it just before a sync
 * starts; after the sync succeeded, placing_synced(mark) removes every log
 * written before it. */
uint64_t placing_mark(void);
void placing_synced(uint64_t mark);

/* Recover the logs below root_fd nobody holds (see above), then sync the
 * file system and remove them. The number of files rolled back, or -1
 * with *err. */
int placing_recover(int root_fd, char **err);

#endif
