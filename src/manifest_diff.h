/* manifest_diff: what a full rsync pass (-aH --delete) would change on the
 * target, decided by merging the source's and the target's manifests
 * (manifest.h), both in the walk's order, with memory for the two current
 * entries. Owns that decision and nothing else: the lists it returns go
 * through the sync's usual stages (tar stream, rsync of trees and paths).
 * Where a difference cannot be shipped exactly by those stages (hard
 * links, the top directory's mode or owner, too many differences) it says
 * "full pass" instead. */
#ifndef LIFEBOAT_MANIFEST_DIFF_H
#define LIFEBOAT_MANIFEST_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "util.h"

/* One side's entries in order: next() returns 1, 0 at the end, -1 with *err. */
struct manifest_side {
	int (*next)(void *arg, struct manifest_entry *e, char **err);
	void *arg;
};

struct manifest_diff_opts {
	bool owners;   /* compare owner and group (the target side can set them) */
	bool by_name;  /* owners as rsync maps them over ssh: by name, 0 never */
	bool deletes;  /* what only the target has is deleted */
	size_t max_paths; /* more differences than this: a full pass (0: no bound) */
	const volatile int *cancel;
};

struct manifest_diff {
	struct strv trees;     /* directories the target lacks (or has as non-directories) */
	struct strv new_files; /* files the target lacks */
	struct strv paths;     /* entries that differ, or that only the target has */
	bool root_times;       /* the top directory's times differ */
	bool full;             /* the difference needs a full pass (why says which) */
	char *why;
	uint64_t source_entries, target_entries;
};

void manifest_diff_init(struct manifest_diff *d);
void manifest_diff_free(struct manifest_diff *d);
/* 0 with d filled, -1 with *err (a side failed, or the run was cancelled). */
int manifest_diff_run(const struct manifest_side *src, const struct manifest_side *tgt,
		      const struct manifest_diff_opts *o, struct manifest_diff *d, char **err);
/* Does a matched pair differ in anything a full pass would change? */
bool manifest_entry_differs(const struct manifest_entry *s, const struct manifest_entry *t,
			    const struct manifest_diff_opts *o);

#endif
