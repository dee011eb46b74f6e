/* changes: the queue of what changed on the source and is not yet on the
 * target. Owns every path in it. Paths are relative to the sync's source
 * ("" is the source itself), bytes, never interpreted.
 *
 * An entry is a path to ship (CH_PATH: the path itself, created, changed or
 * gone) or a subtree to ship whole (CH_TREE). Renames are kept as ordered
 * operations so the target can rename instead of receiving the content
 * again. Memory is bounded: past max_entries the queue collapses entries
 * into directory-level CH_TREE marks. */
#ifndef LIFEBOAT_CHANGES_H
#define LIFEBOAT_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* CH_NEW_FILE: a regular file created on the source while nothing else was
 * pending for its name, so the target most likely does not have it: it may
 * go in a bulk stream instead of rsync (a guess, never trusted for deletion:
 * see tarstream.h). Any earlier pending change for the name keeps CH_PATH. */
enum change_kind { CH_PATH = 1, CH_TREE = 2, CH_NEW_FILE = 3 };

struct change_queue;

struct rename_op {
	char *from;
	char *to;
	bool is_dir;
};

/* What one batch ships; owned by the caller after changes_take(). */
struct batch {
	struct rename_op *renames;
	size_t n_renames;
	struct strv trees; /* CH_TREE paths */
	struct strv paths; /* CH_PATH paths */
	struct strv new_files; /* CH_NEW_FILE paths */
	int64_t oldest_ms; /* when the oldest change in the batch was seen */
	bool full;         /* the whole source: a full pass */
};

struct change_queue *changes_new(size_t max_entries);
void changes_free(struct change_queue *q);

/* Record a change seen at now_ms. "writing" marks a file that is open for
 * writing (IN_MODIFY without close): it is held until closed or quiet. */
void changes_add(struct change_queue *q, const char *path, enum change_kind kind, bool writing,
		 int64_t now_ms);
/* The file was closed after writing: ready to ship. */
void changes_closed(struct change_queue *q, const char *path, int64_t now_ms);
/* If path is pending and held as writing, it is ready now; else nothing. */
void changes_release(struct change_queue *q, const char *path);
/* A rename inside the source. Pending entries under from move to to. */
void changes_rename(struct change_queue *q, const char *from, const char *to, bool is_dir,
		    int64_t now_ms);
/* A rename while batch b is on its way: b's paths under from may vanish
 * before rsync gets to them (rsync calls that normal), and the target's
 * rename would then move a directory without them. Queue them again under
 * their new names. */
void changes_renamed_in_flight(struct change_queue *q, const struct batch *b, const char *from,
			       const char *to, int64_t now);
/* Forget everything and ship the whole source next. */
void changes_full(struct change_queue *q, int64_t now_ms);

size_t changes_count(const struct change_queue *q);
bool changes_empty(const struct change_queue *q);
/* Age of the oldest pending change, in ms (0 when empty). */
int64_t changes_oldest_age(const struct change_queue *q, int64_t now_ms);
/* Entries held back because their file is still open for writing. */
size_t changes_held(const struct change_queue *q);
/* The longest held entry's path (owned by the queue, valid until it
 * changes) and when it was first seen; NULL when none is held. */
const char *changes_held_oldest(const struct change_queue *q, int64_t *first_ms);
/* Number of times the queue collapsed to stay under max_entries. */
uint64_t changes_collapses(const struct change_queue *q);

/* When the next held (still-writing) entry becomes ready, or -1. */
int64_t changes_next_ready_ms(const struct change_queue *q, int64_t quiet_ms, int64_t max_hold_ms);
/* Move everything ready at now_ms into b (initialised by this call).
 * Returns false when nothing was ready. */
bool changes_take(struct change_queue *q, struct batch *b, int64_t now_ms, int64_t quiet_ms,
		  int64_t max_hold_ms);
/* Put a batch that could not be shipped back in front of newer changes. */
void changes_requeue(struct change_queue *q, struct batch *b);
void batch_free(struct batch *b);

#endif
