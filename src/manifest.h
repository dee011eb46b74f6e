/* manifest: a tree's entries, one record each, in one deterministic order
 * (depth first, the entries of each directory sorted by their name's
 * bytes, a directory before what it holds), so that two trees can be
 * compared by merging their two streams with memory for one directory
 * level at a time (manifest_diff.h). Owns the walk (never follows a
 * symlink, skips what the sync excludes and the target's history) and the
 * wire format `lifeboat serve manifest` answers with:
 *
 *   "lifeboat-manifest 1 ROOT\n"            ROOT: 1 when the walker is root
 *   "u UID\n" NAME "\0", "g GID\n" NAME "\0"  (with names) before first use
 *   "T MODE UID GID SIZE SEC NSEC L\n" PATH "\0" [TARGET "\0"] [LEADER "\0"]
 *   "end COUNT\n"
 *
 * T is f d l c b p s; MODE octal permission bits; SIZE the size of a file,
 * the device number of c and b; TARGET follows for l; L is 1 when LEADER
 * follows: a hard-linked file names the first path of its inode. */
#ifndef LIFEBOAT_MANIFEST_H
#define LIFEBOAT_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct exclude_set;

struct manifest_entry {
	const char *path; /* relative, "" for the top directory */
	char type;        /* f d l c b p s */
	unsigned mode;    /* permission bits (07777) */
	uint32_t uid, gid;
	uint64_t size;    /* f: bytes; c, b: device number */
	int64_t sec;      /* mtime */
	long nsec;
	uint32_t nlink;   /* f: links (the walk's side only; 0 from a stream) */
	const char *target; /* l: where it points */
	const char *leader; /* f: the first path of its inode (hard links), else NULL */
	const char *user, *group; /* from a stream with names, else NULL */
};

/* ---- the walk ---- */

struct manifest_walk;
/* root: a directory; x (borrowed, may be NULL): what the sync excludes.
 * NULL with *err when root cannot be opened. */
struct manifest_walk *manifest_walk_open(const char *root, const struct exclude_set *x,
					 char **err);
/* The next entry (valid until the next call): 1, 0 at the end, -1 with
 * *err (an unreadable directory). */
int manifest_walk_next(struct manifest_walk *w, struct manifest_entry *e, char **err);
/* Fill in user and group names (for a peer that maps owners by name). */
void manifest_walk_names(struct manifest_walk *w, bool names);
void manifest_walk_free(struct manifest_walk *w);

/* The whole walk written to fd in the wire format (names: with user and
 * group names, for a peer that maps owners by name as rsync does).
 * cancel (may be NULL) stops it early. 0, or -1 with *err. */
int manifest_write(struct manifest_walk *w, int fd, bool names, const volatile int *cancel,
		   char **err);

/* ---- a stream read back ---- */

struct manifest_reader;
/* fd is borrowed. */
struct manifest_reader *manifest_reader_new(int fd);
void manifest_reader_free(struct manifest_reader *r);
/* 1 with an entry (valid until the next call), 0 at a well-formed end, -1
 * with *err one line naming the record (a truncated or malformed stream,
 * paths out of order or not plain relative names). */
int manifest_read(struct manifest_reader *r, struct manifest_entry *e, char **err);
/* Read the stream's first line: 0, or -1 with *err. */
int manifest_reader_start(struct manifest_reader *r, char **err);
/* The header said the other side runs as root (it can set owners). */
bool manifest_reader_root(const struct manifest_reader *r);

/* The walk's order: <0, 0, >0 as path a comes before, is, or comes after
 * b (component by component, a directory before its contents). */
int manifest_pathcmp(const char *a, const char *b);
/* Is path inside dir (a proper descendant)? "" holds everything else. */
bool manifest_under(const char *path, const char *dir);

#endif
