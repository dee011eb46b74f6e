/* stage: whole versions of changed files, for rsync to read. rsync reads a
 * file while the application may be rewriting it in place, and ships what
 * it read (half one version, half the next: a torn copy on the target).
 * Instead, each regular file of a path batch is copied here first and the
 * copy kept only when the file did not change while it was copied (same
 * size, mtime and ctime before and after); a file that never holds still
 * is held back, to be shipped once it does. rsync then reads the stage,
 * laid out like the source (directories and symlinks with the source's
 * attributes). Owns one private directory. */
#ifndef LIFEBOAT_STAGE_H
#define LIFEBOAT_STAGE_H

#include <stdint.h>

#include "util.h"

/* Files above this size are not copied: the batch ships from the source. */
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
 * stage. Returns 0: staged, with the paths that would not hold still moved
 * from list into held; 1: this batch cannot be staged (a big or special
 * file, a deleted path), ship it from the source; -1: error (*err). */
int stage_fill(struct stage *st, const char *source, struct strv *list, struct strv *held,
	       char **err);
/* Empty the stage (after rsync read it). */
void stage_clear(struct stage *st);

#endif
