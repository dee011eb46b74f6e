/* transport: how changes reach the target. Owns the rsync child processes,
 * the ssh master connection they all share (one login, reused for every
 * batch), the runtime directory holding its socket, and the tar stream
 * that carries bursts of new files (tarstream.h) over the same master.
 *
 * Latency trick: an rsync started with --files-from=- connects (forks its
 * receiver, or logs in over the ssh master) before it reads the file list,
 * so the transport keeps one such rsync "primed" for each live mode. A
 * change then costs one pipe write instead of a process start and a login. */
#ifndef LIFEBOAT_TRANSPORT_H
#define LIFEBOAT_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "changes.h"
#include "config.h"
#include "manifest_diff.h"

struct loop;
struct transport;

/* A checked run (RSYNC_TREES, RSYNC_CHECKED) reads the source in place but
 * never leaves a torn copy: rsync writes into a staging directory in the
 * target's history area (--compare-dest=the target: an unchanged file is
 * not sent, a changed one has the target's copy as its delta basis; where
 * a file read has several names, --link-dest: rsync -H with --compare-dest
 * leaves out a new name whose twin the target has). Just
 * before, its files are probed for writers (a read lease is refused while
 * one has the file open): those are not merged. Once rsync exited, each
 * regular file it sent (its --out-format lines) is looked at again on the
 * source: one whose ctime is not older than the run's
 * start (less the kernel's coarse clock tick) or whose size is not the one
 * sent changed while it was read, is dropped from the staging and reported
 * held (queued again, shipped once it holds still). The rest is merged into
 * place (history_merge: what it replaces kept). Over ssh the receive is
 * `serve rsync-staged TAG` and the merge `serve merge TAG` (docs/serve.md). */
enum rsync_mode {
	RSYNC_PATHS,  /* listed paths only, content always re-checked (-I):
		       * staged files, deletions, the rest a checked run */
	RSYNC_TREES,  /* listed directories ("": the whole source, a full
		       * pass), recursive, checked (never deletes: RSYNC_PRUNE
		       * does) */
	RSYNC_VERIFY, /* dry run of a full pass: does the target match? */
	RSYNC_DIFF,   /* dry run of a full pass: what differs (result's diff) */
	RSYNC_PRUNE,  /* listed directories, recursive: only deletes what the
		       * source lacks, copies nothing (their files go staged) */
	RSYNC_CHECKED, /* listed paths, content always re-checked, checked: the
			* files of a path batch the stage does not copy */
};

enum transfer_outcome {
	T_OK,          /* done (rsync 0, or 24: files vanished meanwhile) */
	T_UNREACHABLE, /* the target could not be reached: retry later */
	T_FAILED,      /* rsync ran and failed */
	T_DECLINED,    /* transport_stream: not shipped, rsync them */
};

struct transfer_result {
	enum transfer_outcome outcome;
	int exit_code;
	uint64_t bytes;  /* bytes sent */
	uint64_t files;  /* regular files transferred */
	bool differs;    /* RSYNC_VERIFY: the target differs */
	size_t n_renames_failed;
	/* RSYNC_PATHS, RSYNC_TREES: files that changed every time they were
	 * copied, or while a checked run read them, not shipped (never torn):
	 * queue them again. Borrowed for the callback. */
	const struct strv *held;
	/* RSYNC_DIFF: what a full pass would change. Borrowed for the callback. */
	const struct manifest_diff *diff;
	char text[128];  /* transport_read_peer_file: the file's start, or "none" */
	char message[600];
};

typedef void (*transfer_cb)(void *arg, const struct transfer_result *r);

/* filters: rsync filter rules ("- PATTERN", "+ PATTERN") from the sync's
 * exclude and exclude_from, and excludes the same compiled; both borrowed,
 * they must outlive the transport. */
struct exclude_set;
struct transport *transport_new(struct loop *loop, const struct sync_conf *sc,
				const struct strv *filters, const struct exclude_set *excludes,
				bool live_delete);
void transport_free(struct transport *t);
/* Start the ssh master (remote targets) and the primed rsyncs. */
void transport_start(struct transport *t);
bool transport_remote(const struct transport *t);
/* Run one rsync. list holds relative paths ("" is the source itself) for
 * PATHS and TREES. One transfer at a time per transport. */
void transport_rsync(struct transport *t, enum rsync_mode mode, const struct strv *list,
		     bool allow_delete, transfer_cb cb, void *arg);
/* Ship new trees and flat entries (new files, directories' own attributes)
 * as one tar stream, when there are enough of them to be worth it (see
 * tarstream.h). Flat entries the stream must not carry move to rest at
 * once. cb hears T_OK, T_UNREACHABLE, or T_DECLINED: nothing (or not all)
 * arrived, ship trees and flat entries through rsync. trees is borrowed
 * until cb. */
bool transport_can_stream(const struct transport *t);
void transport_stream(struct transport *t, const struct strv *trees, struct strv *flat,
		      struct strv *rest, transfer_cb cb, void *arg);
/* Apply renames on the target in order; failed[i] is set for each one that
 * could not be applied (the caller ships those paths instead). */
void transport_renames(struct transport *t, const struct rename_op *ops, size_t n, bool *failed,
		       transfer_cb cb, void *arg);
/* Give the target directory itself the source directory's times: rsync
 * changes them when it adds a file there but is never asked to fix them
 * (a path list cannot name the top directory alone). */
void transport_copy_root_times(struct transport *t, transfer_cb cb, void *arg);
/* What the batch's stages wrote is not all on disk yet. A local target:
 * transport_sync puts it there in a thread (the files a small batch
 * touched fsynced, else one syncfs; what is written after it starts is
 * the next sync's). A remote target: serve tar-x placed a stream's trees
 * and syncs before it exits; transport_sync waits for every such serve not
 * yet waited for. Either calls cb from the loop (T_OK or T_FAILED);
 * meanwhile the next batch may ship. One at a time: not while
 * transport_syncing(). */
bool transport_sync_owed(const struct transport *t);
/* A full pass after a failure that compared the trees instead of running
 * rsync's owes the local target the syncfs rsync's pass ended with: what
 * earlier batches wrote (a failed sync among them) is on disk before it
 * counts. */
void transport_owe_sync(struct transport *t);
bool transport_syncing(const struct transport *t);
void transport_sync(struct transport *t, transfer_cb cb, void *arg);
/* Read a small file on the target host (the peer's role epoch). */
void transport_read_peer_file(struct transport *t, const char *path, transfer_cb cb, void *arg);
/* The rejoin pass to a target without history (keep = 0): while on, what
 * the transfers replace or delete there is kept in its history all the
 * same (a run nothing prunes: keep = 0 prunes nothing), and nothing goes
 * by the tar stream (serve's tar-x keeps by the target's own keep). */
void transport_keep_all(struct transport *t, bool on);
/* A transfer reported done from its statistics may still exit with an
 * error; cb hears of it (the caller then does a full pass). */
void transport_on_late_failure(struct transport *t, void (*cb)(void *arg, const char *msg),
			       void *arg);
/* End every child (TERM to its process group); pending callbacks are dropped. */
void transport_stop(struct transport *t);

/* "ssh OPTIONS... -- HOST" to reach a sync's remote target, for one-shot
 * commands (versions, restore) that run serve there. */
void transport_ssh_argv(const struct sync_conf *sc, struct strv *argv);

/* "ssh ... lifeboat serve REQUEST" over the master (a remote target), for
 * a request another module runs itself (the startup manifest). */
void transport_serve_argv(const struct transport *t, const char *request, struct strv *argv);

/* Exposed for unit tests: the rsync argv for a mode. Caller frees. */
void transport_build_argv(const struct sync_conf *sc, const struct strv *filters,
			  const char *control_path, enum rsync_mode mode, bool allow_delete,
			  struct strv *argv);
enum transfer_outcome transport_classify(int exit_code, bool remote);
/* What a run was: rsync, or one of serve's small requests; each failure is
 * reported under its own name. */
enum helper_kind { HELPER_NONE, HELPER_RENAME, HELPER_UTIME, HELPER_READ, HELPER_MERGE };
/* The result of a finished helper (rsync's statistics aside): out is its
 * stdout, failed[n_ops] the renames' flags (HELPER_RENAME). */
void transport_helper_result(enum helper_kind kind, int exit_code, bool remote, const char *out,
			     const char *err_tail, bool *failed, size_t n_ops,
			     struct transfer_result *res);
void transport_parse_stats(const char *out, uint64_t *bytes, uint64_t *files);
/* A dry run's "%i %n" lines as the manifest comparison's lists: new trees
 * (their entries left out), new files, other paths (deletions among
 * them); hard links or the top directory's mode or owner make it full. */
void transport_parse_itemized(const char *out, struct manifest_diff *d);

#endif
