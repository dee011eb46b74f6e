/* stage: whole versions of changed files, for rsync to read. rsync reads a
 * file while the application may be rewriting it in place, and ships what
 * it read (half one version, half the next: a torn copy on the target).
 * Instead, each regular file of a path batch is copied here first and the
 * copy kept only when the file did not change while it was copied (same
 * size, mtime and ctime before and after); a file that never holds still
 * is held back, to be shipped once it does. rsync then reads the stage,
 * laid out like the source (directories and symlinks with the source's
 * attributes). What the stage cannot copy is sorted out for the transport
 * (stage_fill). Owns one private directory. */
#ifndef LIFEBOAT_STAGE_H
#define LIFEBOAT_STAGE_H

#include <stdint.h>

#include "util.h"

/* Files above this size are not copied: a checked rsync run reads them
 * (transport.h). */
#define STAGE_MAX_FILE (64ULL << 20)
/* A file open for writing elsewhere (a log) is copied only when it was
 * not written to for this long. */
#define STAGE_QUIET_MS 50
/* Copies tried before a file that keeps changing is held back. */
#define STAGE_TRIES 8

struct stage;

/* A private directory under $TMPDIR (else /var/tmp). NULL with *err. */
struct stage *stage_new(const char *name, char **err);
void stage_free(struct stage *st);
const char *stage_dir(const struct stage *st);

/* Lay out list (paths relative to source, "" the source itself) in the
 * stage; st NULL (no stage): only sort the list. Afterwards list holds
 * what was staged, and the rest was moved: into held the files that would
 * not hold still, into gone the paths that do not exist (nothing to read:
 * rsync ships them from the source, as deletions), into unstaged what the
 * stage does not copy (a regular file over STAGE_MAX_FILE or hard-linked,
 * a device or fifo, a path it could not lay out): a checked rsync run
 * reads those (transport.h). */
void stage_fill(struct stage *st, const char *source, struct strv *list, struct strv *held,
		struct strv *gone, struct strv *unstaged);
/* Empty the stage (after rsync read it). */
void stage_clear(struct stage *st);

#endif
