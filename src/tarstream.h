/* tarstream: ships directory trees the target does not have yet as one tar
 * stream, `tar -c` here piped into `tar -x` at the target (a local child,
 * or over the ssh master into `lifeboat serve tar-x`). For a burst of
 * small files that is about twice as fast as rsync, which handles them file
 * by file through three processes and renames each into place.
 *
 * The archive is unpacked into a staging directory in the target's history
 * directory and moved into place once whole (history_merge): a file never
 * has its final name before all of it is there, also after a crash, and
 * what the stream replaces is kept in the history.
 *
 * Only for new trees: serve refuses (exit 3) when a tree already exists
 * at the target, and any other trouble is reported as "use rsync", which
 * compares, deletes and reports properly. Owns the file list walk, the two
 * tar children and the pipe between them. */
#ifndef LIFEBOAT_TARSTREAM_H
#define LIFEBOAT_TARSTREAM_H

#include <stdint.h>

#include "util.h"

struct loop;
struct exclude_set;
struct tarstream;

enum tarstream_outcome {
	TS_OK,          /* every tree is on the target */
	TS_USE_RSYNC,   /* not shipped, or not completely: rsync them */
	TS_UNREACHABLE, /* ssh could not reach the target */
};

struct tarstream_result {
	enum tarstream_outcome outcome;
	uint64_t files; /* regular files in the stream */
	uint64_t bytes; /* bytes of the stream */
	bool exists;    /* TS_USE_RSYNC because a tree exists at the target */
	bool receiver_failed; /* the receiving end failed (not: a source file vanished) */
	/* Over ssh, TS_OK comes once the target moved everything into place
	 * (sync_pending): its sync is still running and the stream is the
	 * caller's to keep (not to free) until cb comes once more, synced set,
	 * with TS_OK once that sync is done, else TS_USE_RSYNC. */
	bool sync_pending;
	bool synced;
	struct tarstream *stream;
	char message[600];
};

typedef void (*tarstream_cb)(void *arg, const struct tarstream_result *r);

struct tarstream_target {
	const char *source;      /* the source directory */
	const char *target_path; /* the target directory (on the target host) */
	/* Remote targets: "ssh OPTIONS... HOST" without the command; NULL when
	 * the target is local. Borrowed for the call only. */
	char *const *ssh_argv;
	const struct exclude_set *excludes; /* borrowed, may be NULL */
	bool keep_history; /* a local target keeps what the stream replaces */
	bool sync_later; /* a local target: the caller syncs what the moves put in place */
};

/* Start shipping trees (recursive) and flat entries (new files, and
 * directories for their own attributes), paths relative to the source.
 * Flat entries the stream must not carry (gone: rsync deletes them; hard
 * links; special files) are moved from flat to rest at once.
 *
 * Returns NULL without calling cb when the batch is rsync's (*why says why,
 * malloc'd; every flat entry is then in rest): fewer than min_members
 * entries (a warm rsync is quicker), a tree missing or existing at a local
 * target, a socket, an unreadable directory, too many trees for the guard.
 * Otherwise cb runs once from the loop when both children ended (twice
 * over ssh when the target says it placed the trees first: see
 * sync_pending). */
struct tarstream *tarstream_start(struct loop *loop, const struct tarstream_target *tt,
				  const struct strv *trees, struct strv *flat, struct strv *rest,
				  size_t min_members, struct tarstream **primed, tarstream_cb cb,
				  void *arg, char **why);
/* Over ssh: `serve tar-x` started ahead of its batch (its login and start
 * cost nothing when the batch comes), waiting for its header. Pass it to
 * tarstream_start as *primed: taken (*primed set to NULL) whether still
 * usable or not; a stream needing none leaves it. tarstream_free ends it
 * (serve sees EOF before a header and ends quietly). NULL with *why. */
struct tarstream *tarstream_prime(struct loop *loop, char *const *ssh_argv, char **why);
/* Ends both children if still running; cb is not called. */
void tarstream_free(struct tarstream *ts);

/* Over ssh the sender vouches for the archive: once `tar -c` exited 0 (no
 * file changed while it was read, nothing missing), the daemon writes this
 * trailer behind the archive on the same stdin. The receiving end moves
 * nothing into place without it, so neither a torn file nor the prefix of
 * a file still being written, nor what a killed sender left, gets a final
 * name. */
#define TARSTREAM_TRAILER "\nlifeboat tar-x: archive whole\n"
#define TARSTREAM_TRAILER_LEN (sizeof(TARSTREAM_TRAILER) - 1)

/* serve tar-x says this on stdout once everything is moved into place,
 * then syncs and exits (0 once it is on disk). */
#define TARSTREAM_PLACED "placed\n"

/* serve tar-x's side: unpack what follows on in_fd (an archive, then the
 * trailer) into dir with `tar -x`, holding the last TARSTREAM_TRAILER_LEN
 * bytes back from tar. 0: tar unpacked it and the trailer is there;
 * 1: tar unpacked it but the sender did not vouch for it (*err says so);
 * -1: tar failed (*err). */
int tarstream_receive(int in_fd, const char *dir, char **err);

/* Exposed for unit tests. The member list for tar, NUL-separated: each
 * tree's parent directories, the tree, and everything under it not excluded
 * (a directory before its contents); then the flat entries with their
 * parents. Flat entries for rsync move to rest. Returns 0, or -1 with *why
 * (flat and rest then as they were). */
int tarstream_list(const char *source, const struct strv *trees, struct strv *flat,
		   struct strv *rest, const struct exclude_set *x, struct buf *list,
		   uint64_t *files, char **why);
/* Outcome of a run from the two exit codes (0-255, 128+signal). */
/* tar -c's exit code as the stream counts it: 1 (a member changed as it
 * was read) is 0 when every member its stderr tail (one line per message,
 * joined by ';') names is a directory under source (one that gained an
 * entry while listed: its entries are members of their own, or queued);
 * a name tar quoted (a backslash) or with ';' in it is not judged. */
int tarstream_sender_verdict(const char *source, int code, const char *tail);
enum tarstream_outcome tarstream_classify(int sender_code, int receiver_code, bool remote);

#endif
