/* manifest_pass: a full pass's comparison of a sync's two trees without
 * rsync's file list. A worker thread walks the source and merges it
 * (manifest_diff.h) with the target's manifest, which a second thread
 * walks here for a local target, or `lifeboat serve manifest` streams
 * over ssh; the loop hears the result. Owns the two threads, the ssh child
 * and the pipe between them. Nothing of the syncer is touched off the
 * loop's thread. */
#ifndef LIFEBOAT_MANIFEST_PASS_H
#define LIFEBOAT_MANIFEST_PASS_H

#include <stdbool.h>

#include "manifest_diff.h"
#include "util.h"

struct loop;
struct exclude_set;
struct manifest_pass;

struct manifest_pass_opts {
	const char *source;
	const char *target_path;   /* on the target host */
	char *const *serve_argv;   /* remote: ssh ... "lifeboat serve manifest"; NULL: local */
	const struct strv *filters; /* the sync's rules, sent to serve */
	const struct exclude_set *excludes; /* the same compiled (exact), borrowed */
	bool deletes;
	size_t max_paths;
};

/* d: the result (the callee's until it returns; move what you keep), or
 * NULL with err one line (unreachable: ssh could not reach the target). */
typedef void (*manifest_pass_cb)(void *arg, struct manifest_diff *d, const char *err);

/* Start the target's side (its walk, or the ssh request: a login takes
 * a while, and the target's walk needs no watch); NULL with *err when it
 * cannot. */
struct manifest_pass *manifest_pass_start(struct loop *loop, const struct manifest_pass_opts *o,
					  manifest_pass_cb cb, void *arg, char **err);
/* Walk the source and compare: once the source's watches are set, so that
 * no change during the walk goes unseen. 0, or -1 with *err (then free). */
int manifest_pass_go(struct manifest_pass *p, char **err);
/* Stops a pass still running (its callback is never called) and frees. */
void manifest_pass_free(struct manifest_pass *p);

#endif
