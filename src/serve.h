/* serve: what a peer may ask of this node over ssh, and nothing more.
 * A peer's key runs `lifeboat serve` (authorized_keys: restrict,
 * command="lifeboat serve"); the request is ssh's original command (or,
 * without a forced command, serve's own arguments). Owns the request
 * grammar, the list of trees the peer may write here (from this node's own
 * configuration), the checks of rsync's server arguments, and the requests
 * lifeboat's transport makes: renames, directory times, epoch reads, the
 * tar stream receive, history listing and restore reads.
 *
 * Every request either runs inside one allowed tree or is refused with a
 * one-line error on stderr and SERVE_REFUSED. History is never deleted on
 * request: it is pruned here by this node's own `keep` only. */
#ifndef LIFEBOAT_SERVE_H
#define LIFEBOAT_SERVE_H

#include <stdbool.h>

#include "config.h"
#include "util.h"

/* Exit codes the requesting side reads. */
enum {
	SERVE_OK = 0,
	SERVE_FAILED = 1,
	SERVE_REFUSED = 2,
	SERVE_EXISTS = 3,  /* tar-x: a tree exists on the target */
	SERVE_NO_ROOM = 4, /* the target's file system is short of room for history */
};

/* The words of a request, split as a POSIX shell would split plain words
 * and quotes, refusing any other shell syntax (; | & $ ` < > ( ) and
 * globs). Returns 0, or -1 with *err. */
int serve_split(const char *command, struct strv *words, char **err);

/* Carry out one request (words: "rsync --server ...", "lifeboat serve
 * REQUEST ...", or "REQUEST ..."). Returns a SERVE_* code (a receiving
 * rsync: its exit code, once what it wrote is on disk), or, for a sending
 * rsync, does not return (exec). self is this program (for forwarded commands). */
int serve_run(const struct config *cfg, const char *self, const struct strv *words);

/* Exposed for tests: is this rsync server argv acceptable (words after
 * "rsync")? *dest gets the path operand, *sender whether the peer reads. */
int serve_check_rsync(const struct strv *args, size_t from, bool *sender, const char **dest,
		      bool *wants_backup, char **err);

#endif
