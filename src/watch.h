/* watch: recursive inotify watching of one source tree. Owns the inotify fd
 * and the map from watch descriptors to directories (kept as a tree of
 * (parent, name) so a directory rename re-paths its whole subtree at once).
 * It turns kernel events into calls on a watch_handler; it knows nothing
 * about rsync or queues. */
#ifndef LIFEBOAT_WATCH_H
#define LIFEBOAT_WATCH_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct watch;

enum watch_event {
	WE_CHANGED,   /* created, attributes changed, deleted: ship the path */
	WE_WRITING,   /* written to but not closed yet */
	WE_NEW_FILE,  /* a regular file was created (being written, not closed yet) */
	WE_CLOSED,    /* closed after writing */
	WE_NEW_TREE,  /* a new directory (created or moved in): ship it whole */
	WE_RENAMED,   /* path2 is the new name */
	WE_OVERFLOW,  /* events were lost: a full pass is needed */
	WE_ROOT_GONE, /* the source directory itself was removed or moved */
};

struct watch_handler {
	/* path (and path2) are relative to the root; "" is the root. */
	void (*event)(void *arg, enum watch_event ev, const char *path, const char *path2,
		      bool is_dir);
	void *arg;
};

/* excludes (borrowed, may be NULL): names it matches are not watched and
 * their churn does not wake the sync (rsync still applies every rule). */
struct exclude_set;
struct watch *watch_new(struct loop *loop, const char *root, const struct exclude_set *excludes,
			struct watch_handler handler);
void watch_free(struct watch *w);

/* Watch root and everything below it. Returns 0, or -1 when the root cannot
 * be watched (errno). Directories that could not be watched (limit reached)
 * are counted in watch_missed(). */
int watch_start(struct watch *w);
/* Add watches below an existing directory (after an overflow or a new tree). */
void watch_add_tree(struct watch *w, const char *relpath);
uint64_t watch_count(const struct watch *w);
uint64_t watch_missed(const struct watch *w);
/* Read every event the kernel has queued now (the flush barrier must see
 * each change made before it was asked). */
void watch_drain(struct watch *w);

#endif
