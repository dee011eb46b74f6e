#include "syncer.h"
#include "history.h"
#include "links.h"
#include "exclude.h"
#include "changes.h"
#include "epoch.h"
#include "log.h"
#include "peer.h"
#include "placing.h"
#include "role.h"
#include "loop.h"
#include "manifest_pass.h"
#include "transport.h"
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A file open for writing ships once closed, or once it has been quiet this
 * long, and at least this often while it keeps growing (an open log). */
#define QUIET_MS 1000
#define MAX_HOLD_MS 5000
/* How often a sync to a [node] re-reads that node's role epoch. */
#define PEER_CHECK_MS 10000
#define BACKOFF_MIN_MS 500
#define SOURCE_CHECK_MS 2000
#define BACKOFF_MAX_MS 60000

enum stage {
	STAGE_NONE,
	STAGE_PEER,
	STAGE_RENAMES,
	STAGE_FULL_DIFF, /* rsync's dry run: what differs (no comparison possible) */
	STAGE_FULL_COPY, /* the whole tree by a checked rsync -r */
	STAGE_FULL_HELD, /* what changed while it read them, through the stage */
	STAGE_FULL_PRUNE, /* then what the source lacks deleted, the top's attributes */
	STAGE_MANIFEST,
	STAGE_STREAM,
	STAGE_TREES,
	STAGE_TREE_COPY, /* trees too big to list: a checked rsync -r */
	STAGE_PATHS,
	STAGE_LINKED, /* hard-linked files with all their names: a checked run */
	STAGE_ROOT,
	STAGE_VERIFY,
	STAGE_SYNC, /* a local target: the batch's one syncfs, last */
};

struct syncer {
	struct loop *loop;
	const struct config *cfg;
	const struct sync_conf *sc; /* the configured one, or reversed_conf */
	struct sync_conf reversed_conf; /* borrows strings except those below */
	char *reversed_target, *reversed_host;
	enum sync_direction direction;
	const char *from_node;      /* receiving: the node files come from */
	const char *receive_dir;    /* receiving: where they land here */
	struct watch *receive_watch; /* receiving: notes when they land */
	int64_t last_received_ms;   /* 0: nothing seen since start */
	bool check_peer;      /* the target is a [node]: mind its epoch */
	int64_t next_peer_check;
	uint64_t peer_epoch;
	bool backup_next_full; /* the next full pass keeps what it replaces */
	bool keeping_all;      /* that pass, to a target without history: transport_keep_all */
	struct manifest_pass *mpass; /* a full pass's comparison, while it runs */
	bool manifest_tried;   /* this batch compared manifests already */
	const char *full_why;  /* why the queued full pass runs (static; NULL: unsaid) */
	const char *pass_why;  /* why this batch's does */
	bool full_resync;      /* the queued full pass follows a failure */
	bool pass_resync;      /* this batch's does: the target syncs at its end */
	bool remote_sync_due;  /* that sync, for a remote target, not yet asked for */
	int64_t manifest_start_ms;
	bool full_counted;
	bool once;
	struct syncer_hooks hooks;
	struct watch *watch;
	struct change_queue *q;
	struct transport *t;
	struct strv filters;  /* rsync filter rules from exclude + exclude_from */
	struct exclude_set *excludes; /* what of them we evaluate ourselves */
	bool stream_tried;            /* this batch: the tar stream declined it */
	bool trees_listed; /* cur.trees' entries are among its paths: the trees only prune */
	bool root_changed;    /* the source directory's own attributes */
	/* The new trees the last tar stream created on the target, for a
	 * while after it: a file the stream caught while it was being
	 * written (it lists a tree's files as they are) is closed a moment
	 * later, and the target has only the stream's copy; it goes with the
	 * next stream as a new file rather than alone through rsync. */
	struct strv streamed;
	int64_t streamed_until_ms;

	enum sync_state state;
	bool busy;
	bool stopped;
	bool source_gone;
	enum stage stage;
	struct batch cur;
	/* A local target: the batch shipped before cur, counted (flush, RPO)
	 * only once its sync, running beside the loop, is done. */
	struct batch unacked;
	bool unacked_on;
	/* Batches shipped while that sync ran (the oldest change among them):
	 * the next sync, started between two batches, covers them. */
	bool waiting_on;
	int64_t waiting_oldest_ms;
	bool *rename_failed;
	uint64_t batch_bytes, batch_files;
	bool startup_done;
	bool in_startup_pass;
	int64_t hurry_mark;   /* a flush waits for changes seen up to here */

	uint64_t timer;       /* next batch */
	uint64_t retry_timer; /* backoff */
	uint64_t rescan_timer;
	uint64_t source_timer; /* waiting for a vanished source to return */
	uint64_t source_fs;       /* the source's file system at start (fs_id_of_path) */
	bool source_had_entries;  /* the source was seen with something in it */
	bool source_suspect;      /* the guard holds transfers (source_guard) */
	uint64_t guard_timer;     /* the guard's look at an idle source */
	int backoff_ms;
	int consecutive_failures;
	int sync_backoff_ms; /* after a failed syncfs of the target */
	int sync_failures;   /* in a row */

	struct sync_stats stats;
	char *last_error;
};

static void schedule(struct syncer *s);
static void hold(struct syncer *s, enum sync_state st, const char *why);
static void run_stage(struct syncer *s);
static void rsync_whole_tree(struct syncer *s, enum rsync_mode mode, bool allow_delete);
static void on_transfer_done(void *arg, const struct transfer_result *r);
static void on_full_diff(struct syncer *s, const struct manifest_diff *d);
static void move_all(struct strv *from, struct strv *to);
static bool pass_delete(const struct syncer *s);

const char *sync_direction_name(enum sync_direction d)
{
	static const char *const names[] = {"push", "reversed", "receiving"};
	return names[d];
}

const char *sync_state_name(enum sync_state st)
{
	static const char *const names[] = {"startup", "idle", "syncing", "retrying", "error"};
	return names[st];
}

static bool live_delete(const struct sync_conf *sc)
{
	return sc->delete_mode == DELETE_YES || sc->delete_mode == DELETE_RUNNING;
}

static bool startup_delete(const struct sync_conf *sc)
{
	return sc->delete_mode == DELETE_YES || sc->delete_mode == DELETE_STARTUP;
}

/* A full pass is due, and why (a static string, for its log line).
 * After a failure, what earlier batches wrote may not be on the target's
 * disk: that pass ends with the target's sync even where the comparison
 * finds nothing to ship (rsync's pass ended with one every time). */
static void full_pass_due(struct syncer *s, const char *why, bool after_failure, int64_t since)
{
	s->full_why = why;
	s->full_resync = s->full_resync || after_failure;
	changes_full(s->q, since);
}

/* The batch goes back to the queue: its full pass keeps its reason. */
static void keep_full_why(struct syncer *s)
{
	if (s->cur.full && !s->full_why)
		s->full_why = s->pass_why;
	s->full_resync = s->full_resync || (s->cur.full && s->pass_resync);
}

static void notify(struct syncer *s)
{
	if (s->hooks.changed)
		s->hooks.changed(s->hooks.arg, s);
}

static void set_state(struct syncer *s, enum sync_state st)
{
	if (s->state == st)
		return;
	log_debug("[sync %s] %s -> %s", s->sc->name, sync_state_name(s->state), sync_state_name(st));
	s->state = st;
	notify(s);
}

static void set_error(struct syncer *s, const char *msg)
{
	free(s->last_error);
	s->last_error = xstrdup(msg);
	s->stats.last_error_time = now_wall();
}

/* ---- events from the watcher ---- */

static void on_watch_event(void *arg, enum watch_event ev, const char *path, const char *path2,
			   bool is_dir);

/* (Re)create the watcher on the source; 0 or -1 with errno. */
static int open_watch(struct syncer *s)
{
	watch_free(s->watch);
	struct watch_handler h = {on_watch_event, s};
	s->watch = watch_new(s->loop, s->sc->source, s->excludes, h);
	return watch_start(s->watch);
}

static bool dir_has_entries(const char *path, const char *skip)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	bool any = false;
	while (!any && (e = readdir(d)))
		any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		      (!skip || strcmp(e->d_name, skip));
	closedir(d);
	return any;
}

/* The source guard: NULL when the source looks like itself, else why
 * nothing may be shipped (a --delete would empty the target): it is gone,
 * on another file system than at start (an unmounted disk shows the empty
 * mount point), or empty while the target is not. */
static const char *source_guard(struct syncer *s)
{
	struct stat st;
	if (stat(s->sc->source, &st) < 0 || !S_ISDIR(st.st_mode))
		return "is gone";
	uint64_t fs = fs_id_of_path(s->sc->source);
	if (!s->source_fs)
		s->source_fs = fs;
	if (fs != s->source_fs)
		return "is on another file system than when lifeboat started (an unmounted disk?)";
	if (dir_has_entries(s->sc->source, NULL)) {
		s->source_had_entries = true;
		return NULL;
	}
	bool target_full = s->sc->target_host ? s->source_had_entries
					      : dir_has_entries(s->sc->target_path, HISTORY_DIR);
	return target_full ? "is empty while the target is not" : NULL;
}

static char *guard_message(const struct syncer *s, const char *why)
{
	return xasprintf("source %s %s: nothing is deleted on the target; lifeboat resumes by "
			 "itself when the source is back (check it: findmnt %s); if this is meant, "
			 "restart lifeboat sync",
			 s->sc->source, why, s->sc->source);
}

/* The source is itself again: watch it anew and do a full pass (events
 * were missed meanwhile). */
static void guard_cleared(struct syncer *s)
{
	s->source_suspect = false;
	log_info("[sync %s] source '%s' is itself again: watching it anew, full pass", s->sc->name,
		 s->sc->source);
	if (!s->once && open_watch(s) < 0)
		log_error("[sync %s] cannot watch '%s': %s", s->sc->name, s->sc->source,
			  strerror(errno));
	full_pass_due(s, "the source is itself again", false, now_ms());
}

/* Before a batch: hold (state error, nothing deleted on the target) while
 * the guard says no. true: the batch may go. */
static bool guard_batch(struct syncer *s)
{
	const char *why = source_guard(s);
	if (why) {
		char *msg = guard_message(s, why);
		s->source_suspect = true;
		hold(s, SYNC_ERROR, msg);
		free(msg);
		return false;
	}
	if (s->source_suspect)
		guard_cleared(s);
	return true;
}

/* An idle source is looked at too: an unmount sends no event that says
 * so at once (a lazy one none until the file system is released). */
static void on_guard_tick(struct loop *loop, void *arg)
{
	struct syncer *s = arg;
	s->guard_timer = loop_add_timer(loop, SOURCE_CHECK_MS, on_guard_tick, s);
	if (s->busy || s->source_gone || s->stopped || s->retry_timer)
		return;
	const char *why = source_guard(s);
	if (why && !s->source_suspect) {
		char *msg = guard_message(s, why);
		s->source_suspect = true;
		log_error("[sync %s] %s", s->sc->name, msg);
		set_error(s, msg);
		set_state(s, SYNC_ERROR);
		notify(s);
		free(msg);
	} else if (!why && s->source_suspect) {
		guard_cleared(s);
		schedule(s);
	}
}

/* The source directory vanished (an unmounted volume, a careless mv): wait
 * for it, then watch it anew and do a full pass. Never ship an empty tree
 * with --delete in the meantime. */
static void on_source_check(struct loop *loop, void *arg)
{
	struct syncer *s = arg;
	s->source_timer = 0;
	const char *why = source_guard(s);
	if (why) {
		char *msg = guard_message(s, why);
		if (strcmp(why, "is gone") != 0 && (!s->last_error || strcmp(s->last_error, msg))) {
			log_error("[sync %s] %s", s->sc->name, msg);
			set_error(s, msg);
			notify(s);
		}
		free(msg);
		s->source_timer = loop_add_timer(loop, SOURCE_CHECK_MS, on_source_check, s);
		return;
	}
	if (open_watch(s) < 0) {
		s->source_timer = loop_add_timer(loop, SOURCE_CHECK_MS, on_source_check, s);
		return;
	}
	log_info("[sync %s] source '%s' is back: full pass", s->sc->name, s->sc->source);
	s->source_gone = false;
	full_pass_due(s, "the source came back", false, now_ms());
	schedule(s);
}

#define STREAMED_KEEP_MS 1000
#define STREAMED_MAX_TREES 1000

static bool below_one_of(const struct strv *trees, const char *path)
{
	for (size_t i = 0; i < trees->len && trees->len <= STREAMED_MAX_TREES; i++) {
		const char *t = trees->items[i];
		size_t n = strlen(t);
		if (strncmp(path, t, n) == 0 && path[n] == '/')
			return true;
	}
	return false;
}

/* Is path in a tree the stream is creating on the target, or the last
 * stream created, lately (streamed)? */
static bool just_streamed(const struct syncer *s, const char *path, int64_t now)
{
	if (s->stage == STAGE_STREAM && below_one_of(&s->cur.trees, path))
		return true;
	return now <= s->streamed_until_ms && below_one_of(&s->streamed, path);
}

/* A stream shipped cur's trees: they are the target's now (streamed). */
static void note_streamed(struct syncer *s)
{
	strv_free(&s->streamed);
	if (s->cur.trees.len <= STREAMED_MAX_TREES) {
		s->streamed = s->cur.trees;
		strv_init(&s->cur.trees);
	} else {
		strv_init(&s->streamed);
	}
	s->streamed_until_ms = now_ms() + STREAMED_KEEP_MS;
}

static void on_watch_event(void *arg, enum watch_event ev, const char *path, const char *path2,
			   bool is_dir)
{
	struct syncer *s = arg;
	int64_t now = now_ms();
	enum change_kind changed = just_streamed(s, path, now) ? CH_NEW_FILE : CH_PATH;
	switch (ev) {
	case WE_CHANGED:
		changes_add(s->q, path, changed, false, now);
		break;
	case WE_WRITING:
		changes_add(s->q, path, changed, true, now);
		break;
	case WE_NEW_FILE:
		changes_add(s->q, path, CH_NEW_FILE, true, now);
		break;
	case WE_CLOSED: {
		if (changed == CH_NEW_FILE)
			changes_add(s->q, path, CH_NEW_FILE, false, now); /* unless pending */
		changes_closed(s->q, path, now);
		/* Its directory waited for it (see watch.c): release it too. */
		const char *slash = strrchr(path, '/');
		char *parent = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
		changes_release(s->q, parent);
		free(parent);
		break;
	}
	case WE_NEW_TREE:
		changes_add(s->q, path, CH_TREE, false, now);
		break;
	case WE_RENAMED:
		changes_rename(s->q, path, path2, is_dir, now);
		if (s->busy)
			changes_renamed_in_flight(s->q, &s->cur, path, path2, now);
		break;
	case WE_OVERFLOW:
		log_warn("[sync %s] kernel event queue overflowed: rescanning and doing a full pass",
			 s->sc->name);
		watch_add_tree(s->watch, "");
		full_pass_due(s, "the kernel event queue overflowed", false, now);
		break;
	case WE_ROOT_GONE:
		log_error("[sync %s] source '%s' was removed or moved away: nothing is shipped until "
			  "it is back",
			  s->sc->name, s->sc->source);
		if (!s->source_gone) {
			s->source_gone = true;
			set_error(s, "source directory gone");
			set_state(s, SYNC_ERROR);
			s->source_timer = loop_add_timer(s->loop, SOURCE_CHECK_MS, on_source_check, s);
		}
		notify(s);
		return;
	}
	schedule(s);
}

/* ---- batches ---- */

static void finish_batch(struct syncer *s, bool ok)
{
	s->busy = false;
	s->stage = STAGE_NONE;
	free(s->rename_failed);
	s->rename_failed = NULL;
	if (ok) {
		s->stats.bytes_shipped += s->batch_bytes;
		s->stats.files_shipped += s->batch_files;
		s->stats.batches++;
		s->stats.last_success = now_wall();
		s->backoff_ms = BACKOFF_MIN_MS;
		s->consecutive_failures = 0;
		batch_free(&s->cur);
		if (s->keeping_all) { /* the rejoin pass is done */
			s->keeping_all = false;
			transport_keep_all(s->t, false);
		}
		if (s->in_startup_pass) {
			s->in_startup_pass = false;
			s->startup_done = true;
			log_info("[sync %s] startup pass done; watching %llu directories", s->sc->name,
				 (unsigned long long)(s->watch ? watch_count(s->watch) : 0));
		}
	}
	/* A batch that was in flight as the source went (read through the
	 * directory the guard had looked at) ends well; the guard's error
	 * stands until the source is back. */
	set_state(s, s->source_gone || s->source_suspect ? SYNC_ERROR : SYNC_IDLE);
	notify(s);
	schedule(s);
}

/* ---- acknowledgement: a batch counts once its sync is done ---- */

static void on_synced(void *arg, const struct transfer_result *r);

/* Start the sync that covers every batch shipped and not yet synced (the
 * waiting ones, and cur when shipped is set). Only between batches: what a
 * batch in flight wrote before the sync started would count unsynced. */
static void sync_shipped(struct syncer *s, bool shipped)
{
	int64_t oldest = shipped ? s->cur.oldest_ms : INT64_MAX;
	if (s->waiting_on && s->waiting_oldest_ms < oldest)
		oldest = s->waiting_oldest_ms;
	s->waiting_on = false;
	if (shipped) {
		s->unacked = s->cur;
		memset(&s->cur, 0, sizeof(s->cur));
		strv_init(&s->cur.trees);
		strv_init(&s->cur.paths);
		strv_init(&s->cur.new_files);
	}
	s->unacked.oldest_ms = oldest;
	s->unacked_on = true;
	transport_sync(s->t, on_synced, s);
}

static void on_retry(struct loop *loop, void *arg);

/* The target's disk refused to sync (a write-back error): what was shipped
 * may not be on it. Everything goes again, as old as the batch, after a
 * pause that grows while it keeps failing, so a failing disk is not
 * hammered with full passes; the log says it once, then at the longest. */
static void sync_failed(struct syncer *s, const char *why)
{
	s->stats.failures++;
	s->sync_failures++;
	if (s->sync_failures == 1 || s->sync_backoff_ms >= BACKOFF_MAX_MS)
		log_warn("[sync %s] %s: shipping everything again in %.1f s", s->sc->name, why,
			 s->sync_backoff_ms / 1000.0);
	else
		log_debug("[sync %s] still cannot sync: %s", s->sc->name, why);
	set_error(s, why);
	set_state(s, SYNC_ERROR);
	int64_t since = s->unacked.oldest_ms;
	changes_requeue(s->q, &s->unacked);
	full_pass_due(s, "the target could not sync what it received", true, since);
	if (!s->retry_timer)
		s->retry_timer = loop_add_timer(s->loop, s->sync_backoff_ms, on_retry, s);
	s->sync_backoff_ms = s->sync_backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								     : s->sync_backoff_ms * 2;
}

static void on_synced(void *arg, const struct transfer_result *r)
{
	struct syncer *s = arg;
	if (r->outcome != T_OK) {
		/* The batches that waited for this sync go again with it. */
		if (s->waiting_on && s->waiting_oldest_ms < s->unacked.oldest_ms)
			s->unacked.oldest_ms = s->waiting_oldest_ms;
		s->waiting_on = false;
		sync_failed(s, r->message);
	} else {
		s->sync_failures = 0;
		s->sync_backoff_ms = BACKOFF_MIN_MS;
	}
	batch_free(&s->unacked);
	s->unacked_on = false;
	if (s->waiting_on && !s->busy)
		sync_shipped(s, false);
	notify(s);
	schedule(s);
}

/* Every stage of cur ran. What it wrote to a local target is not all on
 * disk yet: its sync runs beside the loop and the next batch may start
 * meanwhile; cur counts (flush, RPO) once that sync is done. One sync at
 * a time: a batch shipped during one waits, and the next batch starts
 * (waiting for that sync here would stall the stream behind it); the sync
 * after it covers every batch that waited. */
static void batch_shipped(struct syncer *s)
{
	if (!transport_sync_owed(s->t)) {
		finish_batch(s, true);
		return;
	}
	if (transport_syncing(s->t)) {
		if (!s->waiting_on || s->cur.oldest_ms < s->waiting_oldest_ms)
			s->waiting_oldest_ms = s->cur.oldest_ms;
		s->waiting_on = true;
		finish_batch(s, true);
		return;
	}
	sync_shipped(s, true);
	finish_batch(s, true);
}

static void on_retry(struct loop *loop, void *arg)
{
	(void)loop;
	struct syncer *s = arg;
	s->retry_timer = 0;
	schedule(s);
}

static void batch_failed(struct syncer *s, const struct transfer_result *r)
{
	/* What the batch's earlier stages shipped to a local target is on disk
	 * only after its last stage's syncfs (transport_sync), and their lists
	 * are gone from the batch: a failure before that ships the whole source
	 * again, as old as the batch, so no flush counts it done unsynced. */
	bool unsynced = transport_sync_owed(s->t);
	int64_t since = s->cur.oldest_ms;
	s->stats.failures++;
	s->consecutive_failures++;
	set_error(s, r->message);
	bool unreachable = r->outcome == T_UNREACHABLE;
	if (s->consecutive_failures == 1 || s->backoff_ms >= BACKOFF_MAX_MS)
		log_warn("[sync %s] %s: %s; changes kept, retrying in %.1f s", s->sc->name,
			 unreachable ? "target unreachable" : "transfer failed", r->message,
			 s->backoff_ms / 1000.0);
	else
		log_debug("[sync %s] still failing: %s", s->sc->name, r->message);
	free(s->rename_failed);
	s->rename_failed = NULL;
	keep_full_why(s);
	changes_requeue(s->q, &s->cur);
	if (unsynced)
		full_pass_due(s, "a transfer failed before the target synced what it received",
			      true, since);
	/* A transfer that fails twice for a reason other than the network may
	 * have left the target in doubt: the next success is a full pass. */
	if (!unreachable && s->consecutive_failures == 2) {
		log_warn("[sync %s] failed twice: the next transfer is a full pass", s->sc->name);
		full_pass_due(s, "a transfer failed twice", true, now_ms());
	}
	s->busy = false;
	s->stage = STAGE_NONE;
	if (s->waiting_on && !transport_syncing(s->t))
		sync_shipped(s, false); /* the batches shipped before this one */
	set_state(s, unreachable ? SYNC_RETRYING : SYNC_ERROR);
	s->retry_timer = loop_add_timer(s->loop, s->backoff_ms, on_retry, s);
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
	notify(s);
}

static void once_verified(void *arg, const struct transfer_result *r)
{
	struct syncer *s = arg;
	s->busy = false;
	int code = 0;
	if (r->outcome != T_OK) {
		log_error("[sync %s] verification failed: %s", s->sc->name, r->message);
		code = 1;
	} else if (r->differs && !changes_empty(s->q)) {
		log_error("[sync %s] the target still differs from the source after the pass: "
			  "files changed while they were read were not shipped (never a torn "
			  "copy); run again once they are quiet",
			  s->sc->name);
		code = 1;
	} else if (r->differs) {
		log_error("[sync %s] the target still differs from the source after the pass",
			  s->sc->name);
		code = 1;
	}
	if (s->hooks.finished)
		s->hooks.finished(s->hooks.arg, s, code);
}

/* Files that changed every time they were copied: shipped once they hold
 * still (a later batch), never as a torn copy. */
static void requeue_held(struct syncer *s, const struct strv *held)
{
	int64_t now = now_ms();
	for (size_t i = 0; held && i < held->len; i++)
		changes_add(s->q, held->items[i], CH_PATH, true, now); /* waits for a close or a quiet moment */
}

/* A full pass's files that changed while rsync read them: the stage
 * copies a version that held still now rather than in a later batch. A
 * file with more than one name waits for a later batch (the stage copies
 * it alone, which would part it from its twins). false: none. */
static bool ship_held(struct syncer *s, const struct strv *held)
{
	struct strv single, linked;
	strv_init(&single);
	strv_init(&linked);
	for (size_t i = 0; held && i < held->len; i++)
		strv_push(links_has_twins(s->sc->source, held->items[i]) ? &linked : &single,
			  held->items[i]);
	requeue_held(s, &linked);
	strv_free(&linked);
	if (single.len) {
		s->stage = STAGE_FULL_HELD;
		transport_rsync(s->t, RSYNC_PATHS, &single, false, on_transfer_done, s);
	}
	bool shipping = single.len > 0;
	strv_free(&single);
	return shipping;
}

static void on_transfer_done(void *arg, const struct transfer_result *r)
{
	struct syncer *s = arg;
	if (s->stopped)
		return;
	if (r->outcome == T_DECLINED && s->stage == STAGE_STREAM) {
		/* The stream did not carry them: rsync does, as always. */
		move_all(&s->cur.new_files, &s->cur.paths);
		s->stream_tried = true;
		run_stage(s);
		return;
	}
	if (r->outcome != T_OK) {
		if (s->once) {
			s->busy = false;
			log_error("[sync %s] %s", s->sc->name, r->message);
			if (s->hooks.finished)
				s->hooks.finished(s->hooks.arg, s, 1);
			return;
		}
		batch_failed(s, r);
		return;
	}
	if (r->exit_code == 24)
		log_debug("[sync %s] some files vanished during the transfer", s->sc->name);
	s->batch_bytes += r->bytes;
	s->batch_files += r->files;
	if (s->stage == STAGE_RENAMES) {
		/* What could not be renamed on the target is shipped instead. */
		for (size_t i = 0; i < s->cur.n_renames; i++) {
			if (!s->rename_failed[i])
				continue;
			const struct rename_op *op = &s->cur.renames[i];
			strv_push(op->is_dir ? &s->cur.trees : &s->cur.paths, op->to);
			strv_push(&s->cur.paths, op->from);
		}
		if (r->n_renames_failed)
			log_debug("[sync %s] %zu renames not possible on the target; copying instead",
				  s->sc->name, r->n_renames_failed);
		for (size_t i = 0; i < s->cur.n_renames; i++) {
			free(s->cur.renames[i].from);
			free(s->cur.renames[i].to);
		}
		free(s->cur.renames);
		s->cur.renames = NULL;
		s->cur.n_renames = 0;
	}
	if (s->stage == STAGE_FULL_DIFF) {
		on_full_diff(s, r->diff);
		return;
	}
	if (s->stage == STAGE_FULL_COPY && ship_held(s, r->held))
		return;
	if (s->stage == STAGE_FULL_COPY || s->stage == STAGE_FULL_HELD) {
		requeue_held(s, r->held);
		s->stage = STAGE_FULL_PRUNE;
		rsync_whole_tree(s, RSYNC_PRUNE, pass_delete(s));
		return;
	}
	if (s->stage == STAGE_FULL_PRUNE) {
		s->cur.full = false;
		/* The full pass covered every path queued with it. */
		strv_free(&s->cur.trees);
		strv_free(&s->cur.paths);
		strv_init(&s->cur.trees);
		strv_init(&s->cur.paths);
	} else if (s->stage == STAGE_STREAM) {
		note_streamed(s);
		strv_free(&s->cur.trees);
		strv_init(&s->cur.trees);
		strv_free(&s->cur.new_files);
		strv_init(&s->cur.new_files);
	} else if (s->stage == STAGE_TREE_COPY) {
		/* Copied; what the source lacks is pruned next, as for listed trees. */
		if (!pass_delete(s)) {
			strv_free(&s->cur.trees);
			strv_init(&s->cur.trees);
		}
		requeue_held(s, r->held);
	} else if (s->stage == STAGE_TREES) {
		strv_free(&s->cur.trees);
		strv_init(&s->cur.trees);
		s->trees_listed = false;
	} else if (s->stage == STAGE_PATHS) {
		strv_free(&s->cur.paths);
		strv_init(&s->cur.paths);
		requeue_held(s, r->held);
	} else if (s->stage == STAGE_LINKED) {
		requeue_held(s, r->held);
	}
	run_stage(s);
}

/* rsync keeps hard links only between names in one transfer, and a path
 * list holds one name of a pair: the batch's files with more than one
 * name go, with all their other names, in a checked run of their own
 * (rsync -H, --link-dest). false: none (or their names cannot be found:
 * then they go as the other paths do). */
static bool ship_linked(struct syncer *s, struct batch *b)
{
	struct strv linked, names;
	strv_init(&linked);
	strv_init(&names);
	for (size_t i = 0; i < b->paths.len; i++)
		if (links_has_twins(s->sc->source, b->paths.items[i]))
			strv_push(&linked, b->paths.items[i]);
	char *err = NULL;
	bool found = linked.len && links_names(s->sc->source, &linked, s->excludes, &names, &err) == 0;
	if (err)
		log_debug("[sync %s] hard-linked files: %s", s->sc->name, err);
	free(err);
	if (found) {
		struct strv rest;
		strv_init(&rest);
		for (size_t i = 0; i < b->paths.len; i++)
			if (!strv_contains(&names, b->paths.items[i]))
				strv_push(&rest, b->paths.items[i]);
		strv_free(&b->paths);
		b->paths = rest;
		log_debug("[sync %s] %zu hard-linked files changed: %zu names in one checked run",
			  s->sc->name, linked.len, names.len);
		s->stage = STAGE_LINKED;
		transport_rsync(s->t, RSYNC_CHECKED, &names, false, on_transfer_done, s);
	}
	strv_free(&linked);
	strv_free(&names);
	return found;
}

/* "." in a path list makes rsync copy the whole top directory's files, so
 * the source directory itself is left out and its times copied after the
 * batch. Returns whether paths remain. */
static bool drop_root(struct syncer *s, struct strv *paths)
{
	size_t out = 0;
	for (size_t i = 0; i < paths->len; i++) {
		if (paths->items[i][0] == '\0') {
			s->root_changed = true;
			free(paths->items[i]);
			continue;
		}
		paths->items[out++] = paths->items[i];
	}
	paths->len = out;
	paths->items[out] = NULL;
	return out > 0;
}

static bool at_top(const char *path)
{
	return !strchr(path, '/');
}

/* Did this batch add or remove names in the top directory? Then rsync or
 * the renames changed the target directory's times. */
static void note_top_changes(struct syncer *s, const struct batch *b)
{
	for (size_t i = 0; i < b->n_renames && !s->root_changed; i++)
		s->root_changed = at_top(b->renames[i].from) || at_top(b->renames[i].to);
	for (size_t i = 0; i < b->trees.len && !s->root_changed; i++)
		s->root_changed = at_top(b->trees.items[i]);
	for (size_t i = 0; i < b->paths.len && !s->root_changed; i++)
		s->root_changed = at_top(b->paths.items[i]);
	for (size_t i = 0; i < b->new_files.len && !s->root_changed; i++)
		s->root_changed = at_top(b->new_files.items[i]);
}

static void move_all(struct strv *from, struct strv *to)
{
	for (size_t i = 0; i < from->len; i++)
		strv_push(to, from->items[i]);
	strv_free(from);
	strv_init(from);
}

/* Directories among the paths changed their own attributes (an entry came
 * or went): the stream carries those too, sparing a separate rsync. */
static void stream_directories_too(struct syncer *s, struct batch *b)
{
	struct strv keep;
	strv_init(&keep);
	for (size_t i = 0; i < b->paths.len; i++) {
		const char *rel = b->paths.items[i];
		char *full = xasprintf("%s/%s", s->sc->source, rel);
		struct stat st;
		bool dir = rel[0] && lstat(full, &st) == 0 && S_ISDIR(st.st_mode);
		free(full);
		strv_push(dir ? &b->new_files : &keep, rel);
	}
	strv_free(&b->paths);
	b->paths = keep;
}

/* Whether this batch may delete on the target: the startup pass as
 * delete says for startup, every later one as it says for running. */
static bool pass_delete(const struct syncer *s)
{
	return s->in_startup_pass ? startup_delete(s->sc) : live_delete(s->sc);
}

/* Every full pass (the startup's and every later one: an overflow, a
 * failure, SIGUSR1, a source back) compares manifests instead of running
 * rsync over the whole tree, where that comparison is exactly rsync's:
 * lifeboat judges every exclude rule itself, no rsync_args shape the copy,
 * and it is not the rejoin pass (that one keeps what it replaces aside).
 * Its differences then go through the staged stages: rsync's full pass
 * reads files in place and can ship one being rewritten torn. --once too,
 * then rsync's dry run verifies. */
static bool manifest_fits(const struct syncer *s)
{
	return !s->manifest_tried && !s->sc->rsync_args &&
	       exclude_exact(s->excludes);
}

/* How a full pass's log line begins: the startup's as it always was,
 * a later one with its reason. */
static const char *pass_reason(const struct syncer *s)
{
	return s->pass_why ? s->pass_why : "the change queue outgrew max_pending";
}

static char *pass_label(const struct syncer *s)
{
	if (s->in_startup_pass)
		return xasprintf("[sync %s] startup comparison", s->sc->name);
	return xasprintf("[sync %s] full pass (%s) by comparison", s->sc->name, pass_reason(s));
}

/* More differences than this: the checked copy of the whole tree is the
 * better tool (and the lists stay small). */
#define MANIFEST_MAX_PATHS 50000

static void on_manifest(void *arg, struct manifest_diff *d, const char *err)
{
	struct syncer *s = arg;
	struct batch *b = &s->cur;
	int64_t took = now_ms() - s->manifest_start_ms;
	if (d && !d->full && !guard_batch(s)) {
		/* The source went (an unmount?) while it was walked: what the walk
		 * missed must not become deletions. The batch waits (full). */
		struct manifest_pass *p = s->mpass;
		s->mpass = NULL;
		manifest_pass_free(p);
		return;
	}
	char *label = pass_label(s);
	if (!d) {
		log_warn("%s failed (%s): full pass instead", label, err);
	} else if (d->full) {
		log_info("%s: %s: full pass", label, d->why);
	} else {
		log_info("%s: %llu source and %llu target entries in %lld "
			 "ms; %zu new trees, %zu new files, %zu other paths to ship",
			 label, (unsigned long long)d->source_entries,
			 (unsigned long long)d->target_entries, (long long)took, d->trees.len,
			 d->new_files.len, d->paths.len);
		b->full = false;
		s->full_counted = false;
		move_all(&d->trees, &b->trees);
		move_all(&d->new_files, &b->new_files);
		move_all(&d->paths, &b->paths);
		/* Entries the batch adds or removes at the top change the target
		 * directory's times again, even where they were equal before. */
		s->root_changed = s->root_changed || d->root_times;
		note_top_changes(s, b);
		if (s->pass_resync) {
			transport_owe_sync(s->t);
			s->remote_sync_due = transport_remote(s->t);
		}
	}
	free(label);
	/* The pass is freed from here: its threads are joined already. */
	struct manifest_pass *p = s->mpass;
	s->mpass = NULL;
	s->stage = STAGE_NONE;
	run_stage(s);
	manifest_pass_free(p);
}

/* The target's side of the comparison. A remote one is started before
 * the source's watches are set (the target needs none): its ssh login then
 * overlaps the watch walk. A local walk would only fill its pipe and take
 * CPU from the watch walk: it starts with the source's. */
static struct manifest_pass *prepare_manifest(struct syncer *s, bool deletes, char **err)
{
	struct strv argv;
	strv_init(&argv);
	if (transport_remote(s->t))
		transport_serve_argv(s->t, "manifest", &argv);
	struct manifest_pass_opts o = {
		.source = s->sc->source,
		.target_path = s->sc->target_path,
		.serve_argv = transport_remote(s->t) ? argv.items : NULL,
		.filters = &s->filters,
		.excludes = s->excludes,
		.deletes = deletes,
		.max_paths = MANIFEST_MAX_PATHS,
	};
	struct manifest_pass *p = manifest_pass_start(s->loop, &o, on_manifest, s, err);
	strv_free(&argv);
	return p;
}

static void start_manifest(struct syncer *s)
{
	s->manifest_tried = true;
	s->stage = STAGE_MANIFEST;
	s->stats.full_passes++; /* the whole trees compared: a full pass */
	s->full_counted = true; /* not twice if rsync's takes over */
	char *err = NULL;
	s->manifest_start_ms = now_ms();
	if (!s->mpass)
		s->mpass = prepare_manifest(s, pass_delete(s), &err);
	if (s->mpass && manifest_pass_go(s->mpass, &err) < 0) {
		manifest_pass_free(s->mpass);
		s->mpass = NULL;
	}
	if (!s->mpass) {
		char *label = pass_label(s);
		log_warn("%s: %s: full pass instead", label, err);
		free(label);
		free(err);
		run_stage(s);
	}
}

/* Trees listed for the stage stay small: past these, rsync -r reads them in
 * place as before (the stage copies every file of a path batch). */
#define EXPAND_MAX_ENTRIES 10000
#define EXPAND_MAX_BYTES (256ULL << 20)
#define EXPAND_MAX_DEPTH 64

struct expansion {
	const struct exclude_set *x;
	size_t max_entries;
	struct strv *out;
	size_t entries;
	uint64_t bytes;
	bool hard_links; /* found one: the trees are rsync -r's, in place */
};

/* Lists what is below dir_fd (rel, relative to the source; dir_fd is
 * consumed), never through a symlink, excludes as the watcher judges them.
 * false: the tree is rsync -r's after all (too big or deep, a hard link:
 * rsync keeps links only within one transfer, unreadable). */
static bool expand_dir(struct expansion *e, int dir_fd, const char *rel, int depth)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return false;
	}
	bool ok = depth < EXPAND_MAX_DEPTH;
	struct dirent *de;
	while (ok && (de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ok = errno == ENOENT; /* gone meanwhile: nothing to list */
			continue;
		}
		bool is_dir = S_ISDIR(st.st_mode);
		if (exclude_match(e->x, n, is_dir))
			continue;
		if (S_ISREG(st.st_mode))
			e->bytes += (uint64_t)st.st_size;
		e->hard_links = S_ISREG(st.st_mode) && st.st_nlink > 1;
		if (++e->entries > e->max_entries || e->bytes > EXPAND_MAX_BYTES || e->hard_links) {
			ok = false;
			break;
		}
		char *path = xasprintf("%s/%s", rel, n);
		strv_push(e->out, path);
		if (is_dir) {
			int fd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			ok = fd >= 0 ? expand_dir(e, fd, path, depth + 1) : errno == ENOENT;
		}
		free(path);
	}
	closedir(d);
	return ok;
}

/* rsync -r reads a tree's files in place and can ship one being rewritten
 * torn, or a prefix, under its final name. Instead the trees' entries join
 * the path batch, which the stage copies whole version by version; the
 * trees stay for an rsync that only deletes (a tree may exist on the
 * target: a directory re-created, a rename the target could not do, a
 * queue collapsed to directories). false: trees and paths as they were. */
static bool expand_trees(struct syncer *s, struct batch *b, bool *hard_links)
{
	struct strv found;
	strv_init(&found);
	/* Entries in flight count as pending: max_pending bounds them too. */
	size_t max = s->sc->max_pending > 0 && (size_t)s->sc->max_pending < EXPAND_MAX_ENTRIES
			     ? (size_t)s->sc->max_pending
			     : EXPAND_MAX_ENTRIES;
	struct expansion e = {.x = s->excludes, .max_entries = max, .out = &found};
	bool ok = true;
	for (size_t i = 0; ok && i < b->trees.len; i++) {
		const char *tree = b->trees.items[i];
		char *full = xasprintf("%s/%s", s->sc->source, tree);
		int fd = tree[0] ? open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		free(full);
		ok = fd >= 0; /* gone or not a directory: rsync -r says so on the target */
		if (ok) {
			strv_push(&found, tree);
			ok = expand_dir(&e, fd, tree, 0);
		}
	}
	*hard_links = e.hard_links;
	if (ok)
		move_all(&found, &b->paths);
	else
		log_debug("[sync %s] %zu new trees shipped by rsync -r from the source (%s)",
			  s->sc->name, b->trees.len,
			  e.hard_links ? "hard links: in place" : "too big or unreadable for the stage");
	strv_free(&found);
	return ok;
}

/* The other names, outside the trees, of their files with more than one
 * name: into list. */
static void add_outside_twins(struct syncer *s, const struct strv *trees, struct strv *list)
{
	struct strv linked, names;
	strv_init(&linked);
	strv_init(&names);
	links_below(s->sc->source, trees, s->excludes, &linked);
	char *err = NULL;
	if (links_names(s->sc->source, &linked, s->excludes, &names, &err) < 0)
		log_debug("[sync %s] hard-linked files: %s", s->sc->name, err);
	free(err);
	for (size_t i = 0; i < names.len; i++)
		if (!strv_contains(&linked, names.items[i]))
			strv_push(list, names.items[i]);
	strv_free(&linked);
	strv_free(&names);
}

/* A tree listed goes staged with the paths, and its rsync -r comes after
 * them and only deletes (prune_trees); a tree not listed is copied by a
 * checked rsync -r (transport.h: never a torn copy) and then pruned the
 * same way. */
static void ship_trees(struct syncer *s, struct batch *b)
{
	s->trees_listed = true;
	bool hard_links = false;
	bool listed = expand_trees(s, b, &hard_links);
	if (!listed) {
		/* rsync keeps hard links only within one transfer: a link's twins
		 * outside the trees go with them. */
		struct strv list;
		strv_init(&list);
		for (size_t i = 0; i < b->trees.len; i++)
			strv_push(&list, b->trees.items[i]);
		if (hard_links)
			add_outside_twins(s, &b->trees, &list);
		s->stage = STAGE_TREE_COPY;
		transport_rsync(s->t, RSYNC_TREES, &list, false, on_transfer_done, s);
		strv_free(&list);
		return;
	}
	if (!pass_delete(s)) {
		strv_free(&b->trees);
		strv_init(&b->trees);
	}
	run_stage(s);
}

/* Deletes in the listed trees what the source lacks: a tree may exist on
 * the target (a directory re-created, a rename the target could not do, a
 * queue collapsed to directories). After the paths, so the target already
 * has the trees' own types (a file there that is a directory here). */
static void prune_trees(struct syncer *s, struct batch *b)
{
	s->stage = STAGE_TREES;
	transport_rsync(s->t, RSYNC_PRUNE, &b->trees, true, on_transfer_done, s);
}

/* One rsync over the whole tree: its list names the source itself. */
static void rsync_whole_tree(struct syncer *s, enum rsync_mode mode, bool allow_delete)
{
	struct strv whole;
	strv_init(&whole);
	strv_push(&whole, "");
	transport_rsync(s->t, mode, &whole, allow_delete, on_transfer_done, s);
	strv_free(&whole);
}

/* Why the manifest comparison does not run for this full pass. */
static const char *why_not_compared(const struct syncer *s)
{
	return s->sc->rsync_args ? "rsync_args are set" : "exclude rules lifeboat does not evaluate";
}

/* The whole tree by a checked rsync -r into the target's staging (only
 * what differs is sent and merged; a file that changed while it was read
 * is not merged but copied whole by the stage after), then a run that
 * deletes what the source lacks and gives the top directory its
 * attributes. */
static void start_full_copy(struct syncer *s)
{
	if (s->pass_resync) {
		transport_owe_sync(s->t);
		s->remote_sync_due = transport_remote(s->t);
	}
	s->stage = STAGE_FULL_COPY;
	rsync_whole_tree(s, RSYNC_TREES, false);
}

/* A full pass the manifest comparison cannot do: rsync's dry run (which
 * judges its own exclude rules and rsync_args) says what differs, and that
 * goes through the usual stages, as the comparison's lists do; where it
 * compared already and found hard links or too much, the checked copy of
 * the whole tree. rsync's pass in place is left for the rejoin pass
 * without history (its --backup-dir keeps what it replaces). */
static void start_full(struct syncer *s)
{
	manifest_pass_free(s->mpass); /* prepared, but rsync's pass it is */
	s->mpass = NULL;
	if (!s->full_counted)
		s->stats.full_passes++;
	s->full_counted = false;
	if (!s->manifest_tried) {
		s->manifest_start_ms = now_ms();
		s->stage = STAGE_FULL_DIFF;
		transport_rsync(s->t, RSYNC_DIFF, NULL, pass_delete(s), on_transfer_done, s);
	} else {
		start_full_copy(s);
	}
}

/* rsync's dry run said what differs: into the batch, as the comparison's
 * lists; hard links, the top directory's mode or owner, or too many
 * differences: the checked copy of the whole tree. One log line. */
static void on_full_diff(struct syncer *s, const struct manifest_diff *d)
{
	struct batch *b = &s->cur;
	char *label = s->in_startup_pass
			      ? xasprintf("[sync %s] startup pass by rsync's dry run", s->sc->name)
			      : xasprintf("[sync %s] full pass (%s) by rsync's dry run", s->sc->name,
					  pass_reason(s));
	size_t n = d->trees.len + d->new_files.len + d->paths.len;
	if (d->full || n > MANIFEST_MAX_PATHS) {
		log_info("%s (%s): %s: a checked rsync over the whole tree", label,
			 why_not_compared(s),
			 d->full ? d->why : "more differences than a path list is worth");
		free(label);
		start_full_copy(s);
		return;
	}
	log_info("%s (%s) in %lld ms: %zu new trees, %zu new files, %zu other paths to ship",
		 label, why_not_compared(s), (long long)(now_ms() - s->manifest_start_ms),
		 d->trees.len, d->new_files.len, d->paths.len);
	free(label);
	b->full = false;
	s->manifest_tried = true; /* a hard link among the paths: the copy, no second dry run */
	for (size_t i = 0; i < d->trees.len; i++)
		strv_push(&b->trees, d->trees.items[i]);
	for (size_t i = 0; i < d->new_files.len; i++)
		strv_push(&b->new_files, d->new_files.items[i]);
	for (size_t i = 0; i < d->paths.len; i++)
		strv_push(&b->paths, d->paths.items[i]);
	s->root_changed = s->root_changed || d->root_times;
	note_top_changes(s, b);
	if (s->pass_resync) {
		transport_owe_sync(s->t);
		s->remote_sync_due = transport_remote(s->t);
	}
	s->stage = STAGE_NONE;
	run_stage(s);
}

/* Advance the batch to its next non-empty stage. */
static void run_stage(struct syncer *s)
{
	struct batch *b = &s->cur;
	if (b->n_renames) {
		s->stage = STAGE_RENAMES;
		s->rename_failed = xcalloc(b->n_renames, sizeof(bool));
		transport_renames(s->t, b->renames, b->n_renames, s->rename_failed, on_transfer_done, s);
	} else if (b->full && manifest_fits(s)) {
		start_manifest(s);
	} else if (b->full) {
		start_full(s);
	} else if (b->paths.len && ship_linked(s, b)) {
		/* STAGE_LINKED */
	} else if ((b->trees.len || b->new_files.len) && !s->stream_tried &&
		   transport_can_stream(s->t)) {
		s->stage = STAGE_STREAM;
		stream_directories_too(s, b);
		transport_stream(s->t, &b->trees, &b->new_files, &b->paths, on_transfer_done, s);
	} else if (b->new_files.len) {
		move_all(&b->new_files, &b->paths);
		run_stage(s);
	} else if (b->trees.len && !s->trees_listed) {
		ship_trees(s, b);
	} else if (b->paths.len && drop_root(s, &b->paths)) {
		s->stage = STAGE_PATHS;
		transport_rsync(s->t, RSYNC_PATHS, &b->paths, pass_delete(s), on_transfer_done, s);
	} else if (b->trees.len) {
		prune_trees(s, b);
	} else if (s->remote_sync_due) {
		/* serve's rename request syncs the tree before it answers: with
		 * no renames, that sync alone. */
		s->remote_sync_due = false;
		s->stage = STAGE_RENAMES;
		transport_renames(s->t, NULL, 0, NULL, on_transfer_done, s);
	} else if (s->root_changed) {
		s->stage = STAGE_ROOT;
		s->root_changed = false;
		transport_copy_root_times(s->t, on_transfer_done, s);
	} else if (s->once && transport_sync_owed(s->t) && !transport_syncing(s->t)) {
		s->stage = STAGE_SYNC;
		transport_sync(s->t, on_transfer_done, s);
	} else if (s->once) {
		s->stage = STAGE_VERIFY;
		batch_free(b);
		transport_rsync(s->t, RSYNC_VERIFY, NULL, startup_delete(s->sc), once_verified, s);
	} else {
		batch_shipped(s);
	}
}

/* The target node keeps its state where its [node] says, else where ours is
 * (one configuration file deployed on both nodes). */
static const char *peer_state_dir(const struct syncer *s)
{
	const struct node_conf *n = config_find_node(s->cfg, s->sc->target_node);
	return n && n->state_dir ? n->state_dir : s->cfg->state_dir;
}

/* Not now: the batch goes back, and the epochs are read again later. */
static void hold(struct syncer *s, enum sync_state st, const char *why)
{
	if (!s->last_error || strcmp(s->last_error, why) != 0)
		log_error("[sync %s] %s", s->sc->name, why);
	set_error(s, why);
	keep_full_why(s);
	changes_requeue(s->q, &s->cur);
	s->busy = false;
	s->stage = STAGE_NONE;
	set_state(s, st);
	s->retry_timer = loop_add_timer(s->loop, PEER_CHECK_MS, on_retry, s);
	notify(s);
}

/* A node never pushes to a peer holding a higher role epoch (it would
 * overwrite the new primary), nor to one with a lower epoch (an old primary
 * not yet rejoined: it may hold files only it has). */
static void on_peer_epoch(void *arg, const struct transfer_result *r)
{
	struct syncer *s = arg;
	if (s->stopped)
		return;
	if (r->outcome != T_OK) {
		batch_failed(s, r);
		return;
	}
	uint64_t ours = 0, theirs = 0;
	char *err = NULL;
	if (epoch_read(s->cfg->state_dir, &ours, &err) < 0) {
		hold(s, SYNC_ERROR, err);
		free(err);
		return;
	}
	if (strncmp(r->text, "none", 4) != 0 && !epoch_parse(r->text, &theirs)) {
		hold(s, SYNC_ERROR, "the target node's epoch file is unreadable: not pushing");
		return;
	}
	s->peer_epoch = theirs;
	char why[300];
	if (theirs > ours) {
		snprintf(why, sizeof(why),
			 "%s holds role epoch %llu, ours is %llu: this node was failed over and must "
			 "not push; run 'lifeboat db rejoin' here",
			 s->sc->target_node, (unsigned long long)theirs, (unsigned long long)ours);
		hold(s, SYNC_ERROR, why);
		return;
	}
	if (theirs < ours) {
		snprintf(why, sizeof(why),
			 "%s is at role epoch %llu, ours is %llu: holding changes until it is "
			 "rejoined ('lifeboat db rejoin' there)",
			 s->sc->target_node, (unsigned long long)theirs, (unsigned long long)ours);
		s->backup_next_full = true;
		hold(s, SYNC_RETRYING, why);
		return;
	}
	s->next_peer_check = now_ms() + PEER_CHECK_MS;
	if (s->backup_next_full) {
		/* An ordinary full pass, whole versions only; the history keeps
		 * what it replaces or deletes there, as for every pass, and so
		 * it does on a target without history (keep = 0) for this pass,
		 * until it is done: rejoin never loses a file only the old
		 * primary had. */
		bool keeps = history_keep_seconds(s->sc->keep) > 0;
		log_info("[sync %s] first pass to %s: files it replaces or deletes there are kept "
			 "in its history ('lifeboat versions')%s",
			 s->sc->name, s->sc->target_node,
			 keeps ? "" : " although its keep is 0 (nothing prunes them there: remove them by "
				      "hand once looked at)");
		s->backup_next_full = false;
		s->keeping_all = !keeps;
		transport_keep_all(s->t, s->keeping_all);
		s->pass_why = "the first pass to a rejoined node";
		s->cur.full = true;
	}
	run_stage(s);
}

static void start_batch(struct syncer *s)
{
	int64_t now = now_ms();
	if (!changes_take(s->q, &s->cur, now, QUIET_MS, MAX_HOLD_MS))
		return;
	s->busy = true;
	s->manifest_tried = false;
	s->remote_sync_due = false;
	s->pass_resync = false;
	if (s->cur.full) {
		s->pass_why = s->full_why;
		s->full_why = NULL;
		s->pass_resync = s->full_resync;
		s->full_resync = false;
	}
	if (!guard_batch(s))
		return;
	s->stream_tried = false;
	s->trees_listed = false;
	s->batch_bytes = s->batch_files = 0;
	if (!s->cur.full)
		note_top_changes(s, &s->cur);
	set_state(s, s->startup_done ? SYNC_SYNCING : SYNC_STARTUP);
	if (s->check_peer && now >= s->next_peer_check) {
		s->stage = STAGE_PEER;
		char *path = xasprintf("%s/epoch", peer_state_dir(s));
		transport_read_peer_file(s->t, path, on_peer_epoch, s);
		free(path);
		return;
	}
	run_stage(s);
}

static void on_batch_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct syncer *s = arg;
	s->timer = 0;
	if (s->busy || s->retry_timer || s->stopped || s->source_gone)
		return;
	start_batch(s);
	if (!s->busy)
		schedule(s);
}

/* When the oldest change still queued was seen (INT64_MAX: none). */
static int64_t oldest_seen_ms(const struct syncer *s)
{
	if (changes_empty(s->q))
		return INT64_MAX;
	int64_t now = now_ms();
	return now - changes_oldest_age(s->q, now);
}

static void schedule(struct syncer *s)
{
	if (s->busy || s->retry_timer || s->stopped || s->source_gone)
		return;
	if (changes_empty(s->q)) {
		if (s->state != SYNC_IDLE && s->startup_done)
			set_state(s, SYNC_IDLE);
		return;
	}
	int64_t ready = changes_next_ready_ms(s->q, QUIET_MS, MAX_HOLD_MS);
	if (ready < 0)
		return;
	int64_t delay = (int64_t)(s->sc->delay * 1000 + 0.5);
	if (!s->startup_done || oldest_seen_ms(s) <= s->hurry_mark)
		delay = 0; /* the startup pass and a flush wait for nobody */
	int64_t due = ready + delay - now_ms();
	loop_cancel_timer(s->loop, s->timer);
	s->timer = loop_add_timer(s->loop, due, on_batch_timer, s);
}

/* ---- lifecycle ---- */

static void on_late_failure(void *arg, const char *msg)
{
	struct syncer *s = arg;
	log_warn("[sync %s] %s", s->sc->name, msg);
	set_error(s, msg);
	full_pass_due(s, "a transfer failed after it reported its statistics", true, now_ms());
	schedule(s);
}

/* exclude values and exclude_from lines become rsync filter rules; a line
 * may carry its own "+ " or "- " as in rsync's exclude files. */
static void add_filter(struct syncer *s, const char *line)
{
	if ((line[0] == '+' || line[0] == '-') && line[1] == ' ')
		strv_push(&s->filters, line);
	else
		strv_pushf(&s->filters, "- %s", line);
}

static void load_filters(struct syncer *s)
{
	const struct sync_conf *sc = s->sc;
	for (size_t i = 0; i < sc->excludes.len; i++)
		add_filter(s, sc->excludes.items[i]);
	if (!sc->exclude_from)
		return;
	char *text = read_file(sc->exclude_from, NULL);
	if (!text) {
		log_error("[sync %s] cannot read exclude_from '%s': %s", sc->name, sc->exclude_from,
			  strerror(errno));
		return;
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n && line[0] != '#' && line[0] != ';')
			add_filter(s, line);
	}
	free(text);
}

/* After a failover this node may be the primary of a sync whose target is
 * itself: files then flow back to the other node, from the target path
 * here to the source path there. */
static void reverse(struct syncer *s, const struct sync_conf *sc, const struct node_conf *peer)
{
	s->reversed_conf = *sc;
	struct peer_ssh ps;
	peer_ssh_of(peer, &ps);
	s->reversed_conf.ssh_port = ps.port;
	s->reversed_conf.ssh_identity = (char *)ps.identity;
	s->reversed_conf.ssh_options = (char *)ps.options;
	s->reversed_host = xstrdup(ps.dest);
	s->reversed_target = xasprintf("%s:%s", peer->name, sc->source);
	s->reversed_conf.source = sc->target_path;
	s->reversed_conf.target_path = sc->source;
	s->reversed_conf.target_host = s->reversed_host;
	s->reversed_conf.target_node = peer->name;
	s->reversed_conf.target = s->reversed_target;
	s->sc = &s->reversed_conf;
	s->backup_next_full = true; /* the old primary may hold files we lack */
}

/* One file on every node: the node holding the primary role pushes, the
 * other receives. A sync whose target is this node holds its files at the
 * target path here (the source path is the other node's). */
static void choose_direction(struct syncer *s, const struct sync_conf *sc)
{
	const struct config *cfg = s->cfg;
	bool target_here = sc->target_node && cfg->node && strcmp(sc->target_node, cfg->node) == 0;
	const struct node_conf *peer = peer_node(cfg);
	bool peer_reachable = peer && (peer->ssh || peer->address);
	s->sc = sc;
	s->direction = DIR_PUSH;
	if (role_current(cfg) == ROLE_STANDBY)
		s->direction = DIR_RECEIVING;
	else if (target_here)
		s->direction = peer_reachable ? DIR_REVERSED : DIR_RECEIVING;
	if (s->direction == DIR_REVERSED)
		reverse(s, sc, peer);
	if (s->direction == DIR_RECEIVING) {
		s->receive_dir = target_here ? sc->target_path : sc->source;
		s->from_node = target_here && peer ? peer->name : sc->target_node;
	}
	s->check_peer = s->direction != DIR_RECEIVING && s->sc->target_node && s->sc->target_host;
}

struct syncer *syncer_new(struct loop *loop, const struct config *cfg,
			  const struct sync_conf *sc, bool once, struct syncer_hooks hooks)
{
	struct syncer *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->cfg = cfg;
	s->once = once;
	choose_direction(s, sc);
	sc = s->sc;
	s->hooks = hooks;
	s->q = changes_new((size_t)sc->max_pending);
	strv_init(&s->filters);
	strv_init(&s->streamed);
	load_filters(s);
	s->excludes = exclude_new(&s->filters);
	s->t = transport_new(loop, sc, &s->filters, s->excludes, live_delete(sc));
	transport_on_late_failure(s->t, on_late_failure, s);
	s->backoff_ms = BACKOFF_MIN_MS;
	s->sync_backoff_ms = BACKOFF_MIN_MS;
	s->state = SYNC_STARTUP;
	return s;
}

static int64_t rescan_ms(const struct syncer *s)
{
	return (int64_t)(s->sc->rescan_interval * 1000);
}

static void on_rescan(struct loop *loop, void *arg)
{
	(void)loop;
	struct syncer *s = arg;
	s->rescan_timer = 0;
	if (s->watch && watch_missed(s->watch)) {
		syncer_full_pass(s, "some directories are not watched (inotify limit)");
		s->rescan_timer = loop_add_timer(s->loop, rescan_ms(s), on_rescan, s);
	}
}

static void on_received(void *arg, enum watch_event ev, const char *path, const char *path2,
			bool is_dir)
{
	(void)ev;
	(void)path;
	(void)path2;
	(void)is_dir;
	struct syncer *s = arg;
	int64_t now = now_ms();
	/* The status says so soon after the first change of a burst. */
	bool quiet_before = now - s->last_received_ms > 1000;
	s->last_received_ms = now;
	if (quiet_before && s->hooks.changed)
		s->hooks.changed(s->hooks.arg, s);
}

/* A receiving node tells how fresh its copy is: the age of the last change
 * that landed here (its own watch on the tree; nothing is shipped). A tree
 * that does not exist yet is created, as the first pass would. */
static void watch_received(struct syncer *s)
{
	if (mkdir_p(s->receive_dir, 0755) < 0) {
		log_warn("[sync %s] cannot create %s: %s", s->sc->name, s->receive_dir,
			 strerror(errno));
		return;
	}
	struct watch_handler h = {on_received, s};
	s->receive_watch = watch_new(s->loop, s->receive_dir, s->excludes, h);
	if (watch_start(s->receive_watch) < 0)
		log_warn("[sync %s] cannot watch %s: %s; the age of the last change received is "
			 "unknown",
			 s->sc->name, s->receive_dir, strerror(errno));
}

/* A tree here that was a target may hold files a merge placed just before
 * this node went down, short if their data never reached the disk: rolled
 * back before this node reads them or serves them (placing.h). */
static void recover_placed(struct syncer *s, const char *tree)
{
	int fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *err = NULL;
	int n = fd >= 0 ? placing_recover(fd, &err) : 0;
	if (n < 0)
		log_warn("[sync %s] %s: %s", s->sc->name, tree, err);
	else if (n > 0)
		log_warn("[sync %s] %d files in %s were short after an unclean stop: rolled back",
			 s->sc->name, n, tree);
	free(err);
	if (fd >= 0)
		close(fd);
}

int syncer_start(struct syncer *s)
{
	const struct sync_conf *sc = s->sc;
	if (s->direction == DIR_RECEIVING)
		recover_placed(s, s->receive_dir);
	else
		recover_placed(s, sc->source);
	if (s->direction != DIR_RECEIVING && !sc->target_host)
		recover_placed(s, sc->target_path);
	if (s->direction == DIR_RECEIVING) {
		log_info("[sync %s] this node is the standby: it receives these files in %s%s%s "
			 "and pushes nothing",
			 sc->name, s->receive_dir, s->from_node ? " from " : "",
			 s->from_node ? s->from_node : "");
		s->startup_done = true;
		s->state = SYNC_IDLE;
		if (s->once && s->hooks.finished)
			s->hooks.finished(s->hooks.arg, s, 0);
		else if (!s->once)
			watch_received(s);
		return 0;
	}
	if (s->direction == DIR_REVERSED)
		log_info("[sync %s] this node is the primary now: pushing %s to %s", sc->name,
			 sc->source, sc->target);
	if (!sc->target_host && mkdir_p(sc->target_path, 0755) < 0) {
		log_error("[sync %s] cannot create target '%s': %s", sc->name, sc->target_path,
			  strerror(errno));
		return -1;
	}
	source_guard(s); /* notes the source's file system as it is now */
	s->guard_timer = loop_add_timer(s->loop, SOURCE_CHECK_MS, on_guard_tick, s);
	s->in_startup_pass = true;
	if (manifest_fits(s) && !s->backup_next_full && transport_remote(s->t)) {
		char *err = NULL;
		s->mpass = prepare_manifest(s, startup_delete(sc), &err);
		free(err); /* start_manifest tries again and says why */
	}
	if (!s->once) {
		int64_t t0 = now_ms();
		int wrc = open_watch(s);
		log_debug("[sync %s] watches set in %lld ms", sc->name, (long long)(now_ms() - t0));
		if (wrc < 0) {
			log_error("[sync %s] cannot watch '%s': %s", sc->name, sc->source,
				  strerror(errno));
			return -1;
		}
		if (watch_missed(s->watch))
			s->rescan_timer = loop_add_timer(s->loop, rescan_ms(s), on_rescan, s);
	}
	transport_start(s->t);
	s->in_startup_pass = true;
	changes_full(s->q, now_ms());
	schedule(s);
	return 0;
}

void syncer_full_pass(struct syncer *s, const char *why)
{
	log_debug("[sync %s] full pass asked for: %s", s->sc->name, why);
	full_pass_due(s, why, false, now_ms());
	schedule(s);
}

void syncer_stop(struct syncer *s)
{
	s->stopped = true;
	loop_cancel_timer(s->loop, s->timer);
	loop_cancel_timer(s->loop, s->retry_timer);
	loop_cancel_timer(s->loop, s->rescan_timer);
	loop_cancel_timer(s->loop, s->source_timer);
	loop_cancel_timer(s->loop, s->guard_timer);
	s->timer = s->retry_timer = s->rescan_timer = s->source_timer = s->guard_timer = 0;
	manifest_pass_free(s->mpass);
	s->mpass = NULL;
	transport_stop(s->t);
}

void syncer_free(struct syncer *s)
{
	if (!s)
		return;
	syncer_stop(s);
	transport_free(s->t);
	watch_free(s->watch);
	watch_free(s->receive_watch);
	changes_free(s->q);
	batch_free(&s->cur);
	batch_free(&s->unacked);
	strv_free(&s->streamed);
	free(s->rename_failed);
	free(s->last_error);
	strv_free(&s->filters);
	exclude_free(s->excludes);
	free(s->reversed_host);
	free(s->reversed_target);
	free(s);
}

int64_t syncer_mark(struct syncer *s)
{
	watch_drain(s->watch);
	int64_t mark = now_ms();
	if (mark > s->hurry_mark)
		s->hurry_mark = mark;
	schedule(s);
	return mark;
}

bool syncer_reached(const struct syncer *s, int64_t mark)
{
	if (s->direction == DIR_RECEIVING)
		return true;
	/* Until its startup pass is done (a reload starts one) the target may
	 * lack anything. */
	if (s->stopped || s->source_gone || !s->startup_done)
		return false;
	if (oldest_seen_ms(s) <= mark)
		return false;
	if ((s->unacked_on && s->unacked.oldest_ms <= mark) ||
	    (s->waiting_on && s->waiting_oldest_ms <= mark))
		return false; /* shipped, its sync not done */
	return !s->busy || s->cur.oldest_ms > mark;
}

const struct sync_conf *syncer_conf(const struct syncer *s)
{
	return s->sc;
}

void syncer_stats(const struct syncer *s, struct sync_stats *out)
{
	*out = s->stats;
	int64_t now = now_ms();
	out->state = s->state;
	out->pending = changes_count(s->q);
	int64_t age = changes_oldest_age(s->q, now);
	if (s->busy) {
		/* What is being shipped is not on the target yet either. */
		int64_t busy_age = now - s->cur.oldest_ms;
		if (busy_age > age)
			age = busy_age;
		out->in_flight = s->cur.paths.len + s->cur.trees.len + s->cur.new_files.len +
				 s->cur.n_renames + (s->cur.full ? 1 : 0);
		out->pending += out->in_flight;
	}
	if (s->unacked_on && now - s->unacked.oldest_ms > age)
		age = now - s->unacked.oldest_ms; /* not on disk there yet */
	if (s->waiting_on && now - s->waiting_oldest_ms > age)
		age = now - s->waiting_oldest_ms;
	out->held = changes_held(s->q);
	int64_t held_ms = 0;
	out->held_path = changes_held_oldest(s->q, &held_ms);
	out->held_age = out->held_path ? (now - held_ms) / 1000.0 : 0;
	out->oldest_pending_age = age / 1000.0;
	out->last_error = s->last_error;
	out->startup_done = s->startup_done;
	out->watches = s->watch ? watch_count(s->watch) : 0;
	out->watches_missed = s->watch ? watch_missed(s->watch) : 0;
	out->collapses = changes_collapses(s->q);
	out->direction = s->direction;
	out->source = s->sc->source;
	out->target = s->sc->target;
	out->peer_epoch = s->peer_epoch;
	out->from_node = s->from_node;
	out->receive_dir = s->receive_dir;
	out->last_received_age = s->last_received_ms ? (now - s->last_received_ms) / 1000.0 : -1;
	out->last_received = s->last_received_ms ? now_wall() - out->last_received_age : 0;
}
