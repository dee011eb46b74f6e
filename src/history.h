/* history: the versions a sync's target keeps of what it deleted or
 * overwrote. Owns TARGET/.lifeboat-history: one directory per transfer
 * run (RUN), holding the replaced entries under their relative paths.
 * Keeping is a rename on the same file system, never a copy; the moment a
 * version was replaced is its ctime (set by that rename, by the target's
 * own kernel: a source cannot forge it). Staging directories for incoming
 * tar streams and checked rsync runs live in the staging area
 * TARGET/.lifeboat-history/.staging: .incoming-PID[-TAG] (and .received-TAG
 * between a checked receive and its merge); they never hold a name the
 * sync uses, so a half-received or unchecked file is never visible. The
 * staging area is its own directory so that finding a dead receiver's
 * leftovers (every batch) reads a few entries, not the whole history (one
 * run directory per batch for `keep`: hundreds of thousands). Listing,
 * versions and pruning skip it, as every dot entry of the history.
 *
 * Nothing here deletes history on anyone's request: history_prune() runs
 * by the target's own `keep` and `keep_size`. */
#ifndef LIFEBOAT_HISTORY_H
#define LIFEBOAT_HISTORY_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

#define HISTORY_DIR ".lifeboat-history"
#define HISTORY_DEFAULT_KEEP (7 * 86400.0)
/* The staging area, below the sync's root (same file system: what is
 * staged goes into place by rename). */
#define HISTORY_STAGING HISTORY_DIR "/.staging"

/* "7d", "12h", "15m", "30s", "2w", a bare number of seconds; "0" (off).
 * Returns false on junk. */
bool history_parse_duration(const char *s, double *seconds);
/* The keep of a sync: its `keep` value, else the default. */
double history_keep_seconds(const char *keep);
/* keep_size: "20G", "500M", "1T", bytes, or "10%" of fs_bytes; 0 = no cap. */
bool history_parse_size(const char *s, uint64_t fs_bytes, uint64_t *bytes);
/* A TIME for restore: ISO 8601 (2026-12-06T18:00:00Z, local time without a
 * zone, a date alone) or relative to now ("-15m", "-2h", "-1d"). */
bool history_parse_time(const char *s, time_t now, time_t *out);

/* The run directory a new transfer keeps into: ROOT/.lifeboat-history/
 * YYYYmmddTHHMMSSZ-PID-N (not created). Caller frees. */
char *history_run_dir(const char *root);

/* The history directory, made (if missing) without changing the times of
 * root itself (they are the source's). */
void history_ensure_dir(const char *root);
/* Where rsync writes files before they get their final name (--temp-dir):
 * ROOT/HISTORY_STAGING/.incoming-PID[-TAG], made; a crash leaves its
 * partial files there, never under a name the sync uses, and
 * history_clean_staging removes them once PID is gone. NULL on error
 * (errno kept; a staging area that is a symlink is refused). */
char *history_temp_dir(const char *root, const char *tag);
/* The same below root_fd, never through a symlink: HISTORY_STAGING/
 * .incoming-PID[-TAG] made (or there already), its path below root
 * returned (caller frees). NULL with *err. */
char *history_staging_make(int root_fd, const char *tag, char **err);

/* Keep ROOT/REL (any type; a directory with its tree) in RUN/REL: a rename.
 * A REL that does not exist is no error. 0, or -1 with *err. */
int history_keep(int root_fd, const char *rel, const char *run_rel, char **err);

/* Is rel one of the history's own names (HISTORY_DIR or below)? */
bool history_name(const char *rel);
/* rename(2) of FROM to TO below root, keeping what TO was in RUN first (run_rel
 * NULL: history off). Neither path may leave the tree or name the history.
 * 0, or -1 with *err. */
int history_rename(int root_fd, const char *from, const char *to, const char *run_rel,
		   char **err);

/* Move every entry of STAGING (a directory below root, same file system)
 * into ROOT, keeping what it replaces in RUN: new names are renamed in
 * whole (a tree in one step), a directory that exists on both sides is
 * merged and then given the staged directory's mode, owner and times.
 * Before the first rename, what it places is logged on disk (placing.h). What was staged and the renames are
 * on disk when it returns (one syncfs, after the renames). 0, or -1 with
 * *err. */
int history_merge(int root_fd, const char *staging_rel, const char *run_rel, char **err);
/* A staging directory's entries, for a merge and for what it logs first:
 * history_staged_next gives the next name a merge moves (not . or .., nor
 * at the top the history's own name), NULL at the end; closedir when
 * done. NULL with *err. */
DIR *history_staged_open(int dir_fd, char **err);
const char *history_staged_next(DIR *d, bool top);
/* The same, the syncfs left to the caller when !sync (a local sync daemon
 * syncs once at the end of its batch, before the batch counts as done):
 * placing_mark() before that sync, placing_synced(mark) after it. */
int history_merge_then(int root_fd, const char *staging_rel, const char *run_rel, bool sync,
		       char **err);

/* What a transfer wrote on the file system of dir_fd is on disk: one
 * syncfs for a whole batch, where an fsync per file (rsync --fsync) costs
 * a journal commit each, one after the other. It also writes out other
 * dirty data of that file system. 0, or -1 with *err (a write-back error:
 * the batch must not count as done). */
int history_sync(int dir_fd, const char *what, char **err);

/* One version of a path. */
struct version {
	char *path;       /* absolute: in the history, or the live file */
	char *rel;        /* relative to the sync's root */
	time_t born;      /* when it arrived on the target (birth time, else mtime) */
	long born_ns;     /* ...its nanoseconds (orders it against renames) */
	time_t replaced;  /* when it was replaced (ctime in history); 0: live */
	long replaced_ns; /* ...its nanoseconds (orders it against renames) */
	char *as;         /* history_plan: its name at the plan's time (owned) */
	time_t mtime;
	uint64_t size;
	bool is_dir;
	/* history_versions: one row is a version under one of its names, rel,
	 * from since until until (seconds; until 0: on the target now under
	 * rel); renamed_to (owned, NULL when it was replaced or is live) is the
	 * name a rename gave it at until. `restore --at since rel` (or any
	 * second before until) brings back these bytes under rel. */
	time_t since, until;
	char *renamed_to;
};

/* A rename of the asked path itself (or of a directory above it). */
struct path_rename {
	char *from, *to;
	time_t when;
};

struct version_list {
	struct version *v;
	size_t len, cap;
	struct path_rename *moves; /* history_versions: oldest first */
	size_t n_moves;
};

void version_list_free(struct version_list *l);
/* Every version of REL (file: that file; directory: every file below it)
 * across renames: what is or was under REL, and, through the renames the
 * target logged, what its content was called before (earlier versions
 * kept under an old name) and where it went (the versions under the new
 * name). One row per version and name (struct version's since, until,
 * renamed_to: the times `restore --at` brings that version back under
 * that name); out->moves: the renames of REL itself (or of a directory
 * above it), so a name renamed away says where to. Rows in no order. */
int history_versions(const char *root, const char *rel, struct version_list *out, char **err);
/* The same on versions already collected (all: path, rel, born, replaced,
 * replaced_ns) and a rename log's bytes (the .renames format, below). */
void history_versions_rows(const char *log, size_t log_len, const char *rel,
			   const struct version_list *all, struct version_list *out);
/* The version of each file that was on the target at time at: one entry
 * per rel (the one replaced first after at, else the live one), only those
 * that had arrived by then. Borrowed pointers into l, caller frees out's
 * array only. */
size_t history_pick(const struct version_list *l, time_t at, const struct version ***out);

/* Renames the sync carried out on the target are logged (history_rename,
 * with history on) in HISTORY_DIR/.renames, so that a tree can be put
 * back under the names it had: records "SECONDS.NANOSECONDS\0FROM\0TO\0",
 * appended, pruned by keep with the versions.
 *
 * The tree under rel as it was at `at`, by the names it had then: for
 * each such name the version that was on the target then (renames after
 * `at` undone, versions looked for under the names they were moved to),
 * and what the target holds under rel now that was not there at `at`
 * (new names: files created since, the new names of renamed ones, and
 * directories made or renamed since). Nothing at `at`: gone is left
 * empty (a restore of a name that did not exist removes nothing). */
struct restore_plan {
	struct version_list all;     /* owns every version */
	const struct version **pick; /* one per name at `at` (v->as) */
	size_t n_pick;
	const struct version **gone; /* live files (and symlinks) under new names */
	size_t n_gone;
	struct version_list gone_dirs; /* live directories under new names, deepest first */
};
int history_plan(const char *root, const char *rel, time_t at, struct restore_plan *p,
		 char **err);
void restore_plan_free(struct restore_plan *p);

/* Remove history older than keep_seconds (by replacement time), then, only
 * with keep_cap_bytes > 0, the oldest until the history fits the cap.
 * Never touches anything younger than keep otherwise. Returns the bytes the
 * history holds afterwards. */
uint64_t history_prune(const char *root, double keep_seconds, uint64_t keep_cap_bytes);
/* Keep a 1/50 of the file system free: below that a transfer waits. */
#define HISTORY_RESERVE_DIVISOR 50
/* Before a transfer into root: prune by keep (when due), and is there room
 * (a 1/50 of the file system free)? When not, and keep_size allows no
 * pruning, -1 with *why saying how much room to make. keep 0: always 0. */
int history_room(const char *root, double keep, const char *keep_size, char **why);
/* Bytes the history of root holds. */
uint64_t history_bytes(const char *root);
/* Bytes held and the replacement time of the oldest version (0: none). */
void history_usage(const char *root, uint64_t *bytes, time_t *oldest);

/* Remove staging directories left by dead receivers (a crash of either
 * side): their contents never had a final name. Also received stagings
 * (below) left unclaimed for HISTORY_RECEIVED_MAX_AGE seconds. Reads only
 * the staging area; the call that makes it (the first on a target, with
 * this layout) also removes what an older lifeboat left directly in the
 * history (.incoming-PID of a dead PID, any .received-TAG). */
void history_clean_staging(const char *root);

/* A checked rsync run (transport.h) is received into a staging directory
 * (history_temp_dir(root, "verified"): a receiver killed mid-way leaves it
 * to history_clean_staging), checked by the sender, then merged. Over ssh
 * the receive and the merge are two serve requests: once the receive
 * ended, serve renames the staging to HISTORY_STAGING/.received-TAG (TAG: the
 * sender's random name for this transfer, history_tag_ok) and the merge
 * request claims it by renaming it to .incoming-PID-merge, its own. A
 * received staging nobody claimed for HISTORY_RECEIVED_MAX_AGE (the sender
 * died between the two) is removed and can no longer be claimed: never
 * merged late. */
#define HISTORY_RECEIVED_MAX_AGE 600
bool history_tag_ok(const char *tag);
/* staging_rel (below root: a directory of the staging area, nothing else)
 * becomes HISTORY_STAGING/.received-TAG. 0, or -1 with *err. */
int history_mark_received(int root_fd, const char *staging_rel, const char *tag, char **err);
/* Claim .received-TAG: the staging's new name below root (caller frees), or
 * NULL with *err (none, or too old: removed). */
char *history_claim_received(int root_fd, const char *tag, char **err);
/* Remove REL (a file the sender found changed) from the staging: it is not
 * merged. A REL that leaves the staging or is not there is ignored. */
void history_staging_drop(int root_fd, const char *staging_rel, const char *rel);
/* Remove a staging directory (what a merge left: merged directories). */
void history_staging_remove(int root_fd, const char *staging_rel);

#endif
