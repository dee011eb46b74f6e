#include "transport.h"
#include "beneath.h"
#include "child.h"
#include "exclude.h"
#include "history.h"
#include "stage.h"
#include "tarstream.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "placing.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything on a remote target goes through `lifeboat serve` there (the
 * only command a restricted key may run): rsync's server side, renames,
 * directory times, epoch reads and the tar stream. Names travel on stdin,
 * NUL-separated, never on a command line; the request words are constant. */
#define SERVE_CMD "lifeboat serve"

static const char *const helper_names[] = {"rsync", "rename helper", "directory-times helper",
					   "epoch read", "merge of a checked run"};

struct run;
struct path_plan;

struct transport {
	struct loop *loop;
	const struct sync_conf *sc;
	const struct strv *filters;
	bool remote;
	bool live_delete;
	char *runtime_dir;
	char *control_path;
	struct proc *master;
	uint64_t master_timer;
	int master_backoff_ms;
	struct run *primed[2]; /* RSYNC_PATHS, RSYNC_TREES */
	uint64_t prime_timer;
	struct run *active;
	struct run *lingering; /* delivered early, still exiting */
	void (*late_failure)(void *arg, const char *msg);
	void *late_arg;
	bool keep_all; /* transport_keep_all */
	struct stage *stage; /* whole copies of a path batch's files (stage.h) */
	uint64_t source_fs;  /* the source's file system when the transport started */
	bool stopping;
	/* Bursts of new trees and files go as one tar stream when our exclude
	 * answer is rsync's and no rsync option shapes the copy; else, or when
	 * the stream declines a batch, through rsync. */
	const struct exclude_set *excludes;
	bool stream_on;
	int stream_failures; /* receiving end failures in a row: 3 turn it off */
	struct tarstream *stream;
	struct tarstream *primed_stream; /* remote: serve tar-x up, waiting for a batch */
	transfer_cb active_cb; /* the stream's caller */
	void *active_arg;
	transfer_cb root_cb;   /* root times wait for lingering runs to exit */
	void *root_arg;
	/* A local target: the batch's stages wrote something that is not on
	 * disk yet; transport_sync puts it there beside the loop: the files
	 * and directories settle collected (fsynced one by one), or, when
	 * there were too many or a stage wrote more (a stream, a full pass),
	 * one syncfs. */
	bool sync_owed;
	struct settle_set *settle; /* NULL: nothing collected */
	struct bg_sync *bg; /* that sync, running beside the loop */
	/* A remote target: streams whose trees serve placed and now syncs
	 * (newest first); transport_sync claims them and waits for their
	 * exits. */
	struct placed *placed;
	transfer_cb placed_cb;
	void *placed_arg;
	struct path_plan *plan; /* the path batch in flight (its runs in turn) */
	uint64_t plan_timer;    /* its checked run waits for a file's ctime to age */
};

struct placed {
	struct tarstream *ts; /* NULL once its serve exited */
	bool claimed;         /* the sync transport_sync waits for */
	char *err;            /* its serve exited: NULL when on disk */
	struct placed *next;
};

static void bg_sync_end(struct transport *t);
static void settle_free(struct settle_set *s);

/* One rsync or rename child and what to do when it ends. */
struct run {
	struct transport *t;
	struct proc *p;
	enum rsync_mode mode;
	enum helper_kind kind;
	bool claimed;
	bool delivered; /* its result went out before the process exited */
	struct run *next_lingering; /* a transfer is waiting for it (primed ones are not yet) */
	bool reads_stage; /* its source is the stage, emptied once it is done */
	bool pinned;      /* reads the source through pin_fd (the source guard) */
	int pin_fd;
	struct strv held; /* paths the stage held back from this run */
	struct strv touched; /* a local path or tree batch's list: what settle syncs */
	/* A checked run (transport.h): its transfer's name on the target, when
	 * rsync started, a local target's staging (below the target), and
	 * rsync's figures for the merge helper's result. */
	bool checked;
	bool unprobed; /* a writer could not be probed for: a longer margin */
	char tag[33];
	struct timespec started;
	char *staging_rel;
	struct manifest_diff diff; /* RSYNC_DIFF's result */
	uint64_t bytes, files;
	bool *failed;
	size_t n_ops;
	transfer_cb cb;
	void *arg;
};

static void start_master(struct transport *t);
static void master_timer_cb(struct loop *loop, void *arg);
static void prime(struct transport *t);
static void prime_stream(struct transport *t);

bool transport_remote(const struct transport *t)
{
	return t->remote;
}

/* The target's ssh (peer.c builds it): fail fast and notice a dead link,
 * as a hung transfer is a silent gap. */
static void ssh_words(const struct sync_conf *sc, const char *control_path, struct strv *v)
{
	struct peer_ssh ps = {.dest = sc->target_host,
			      .port = sc->ssh_port,
			      .identity = sc->ssh_identity,
			      .options = sc->ssh_options};
	char *control = control_path ? xasprintf("ControlPath=%s", control_path) : NULL;
	const char *opts[] = {"ConnectTimeout=10", "ServerAliveInterval=5",
			      "ServerAliveCountMax=3", control, NULL};
	peer_ssh_words(&ps, opts, v);
	free(control);
}

void transport_ssh_argv(const struct sync_conf *sc, struct strv *argv)
{
	ssh_words(sc, NULL, argv);
	strv_push(argv, "--");
	strv_push(argv, sc->target_host);
}

static bool checked_mode(enum rsync_mode mode)
{
	return mode == RSYNC_TREES || mode == RSYNC_CHECKED;
}

/* staged_request: a checked run's serve request (remote targets),
 * "rsync-staged TAG" or "rsync-linked TAG". */
static void build_options(const struct sync_conf *sc, const struct strv *filters,
			  const char *control_path, enum rsync_mode mode, bool allow_delete,
			  const char *staged_request, struct strv *argv)
{
	strv_push(argv, "rsync");
	strv_push(argv, "-aH"); /* archive (owners when root) and hard links */
	strv_push(argv, "--modify-window=-1"); /* compare nanoseconds too */
	switch (mode) {
	case RSYNC_VERIFY:
		strv_push(argv, "--dry-run");
		strv_push(argv, "--itemize-changes");
		if (allow_delete)
			strv_push(argv, "--delete");
		break;
	case RSYNC_DIFF:
		/* The whole list first: a new tree's entries then follow it. */
		strv_push(argv, "--dry-run");
		strv_push(argv, "--out-format=%i %n");
		strv_push(argv, "--no-inc-recursive");
		if (allow_delete)
			strv_push(argv, "--delete");
		if (sc->target_host)
			strv_push(argv, "--mkpath");
		break;
	case RSYNC_PATHS:
	case RSYNC_TREES:
	case RSYNC_PRUNE:
	case RSYNC_CHECKED:
		strv_push(argv, "--stats");
		strv_push(argv, "--files-from=-");
		strv_push(argv, "--from0");
		if (mode == RSYNC_PRUNE) {
			/* Neither creates nor updates: only --delete acts. */
			strv_push(argv, "--existing");
			strv_push(argv, "--ignore-existing");
		}
		if (mode == RSYNC_TREES || mode == RSYNC_PRUNE) {
			strv_push(argv, "-r");
			if (allow_delete && mode != RSYNC_TREES)
				strv_push(argv, "--delete");
		} else {
			/* We know these changed: never trust size+mtime, a same-size
			 * rewrite within one clock tick must still arrive. */
			strv_push(argv, "--ignore-times");
		}
		if (mode == RSYNC_PATHS && sc->power_safe) {
			/* rsync renames these into place itself: with --fsync each
			 * file's data is on disk first, so a power cut never leaves
			 * one short under its final name (merges log what they place
			 * instead: placing.h). A flush per file before it is visible,
			 * hence a choice. */
			strv_push(argv, "--fsync");
		}
		if (checked_mode(mode)) {
			/* Into a staging directory: deletions are RSYNC_PRUNE's and
			 * the path batch's; each file sent is named for the check. */
			strv_push(argv, "--ignore-missing-args");
			strv_push(argv, "--out-format=%i %l %n");
		} else if (allow_delete) {
			strv_push(argv, "--delete-missing-args");
			strv_push(argv, "--force");
		} else {
			strv_push(argv, "--ignore-missing-args");
		}
		break;
	}
	/* The target's history is never shipped, compared or deleted (and a
	 * node that was a target keeps its history out of what it pushes). */
	strv_push(argv, "--filter=- /" HISTORY_DIR "/");
	/* Filters go on the command line: --from0 would make rsync read an
	 * --exclude-from file as NUL-separated. */
	for (size_t i = 0; filters && i < filters->len; i++)
		strv_pushf(argv, "--filter=%s", filters->items[i]);
	/* rsync 3.5.0 with -H, --compare-dest and incremental recursion was
	 * seen to hang: a checked run sends its whole file list first. */
	if (checked_mode(mode))
		strv_push(argv, "--no-inc-recursive");
	if (sc->compress)
		strv_push(argv, "-z");
	if (sc->bwlimit > 0)
		strv_pushf(argv, "--bwlimit=%ld", sc->bwlimit);
	if (sc->target_host) {
		struct strv words;
		strv_init(&words);
		ssh_words(sc, control_path, &words);
		if (control_path) {
			strv_push(&words, "-o");
			strv_push(&words, "ControlMaster=no");
		}
		strv_push(argv, "-e");
		peer_rsync_e(&words, argv);
		if (checked_mode(mode))
			strv_pushf(argv, "--rsync-path=" SERVE_CMD " %s", staged_request);
		else
			strv_push(argv, "--rsync-path=" SERVE_CMD " rsync");
		strv_free(&words);
	}
	if (sc->rsync_args)
		strv_push_split(argv, sc->rsync_args);
}

static void append_paths(const struct sync_conf *sc, const char *source, struct strv *argv)
{
	/* "--": a source or target starting with '-' is still a path. */
	strv_push(argv, "--");
	strv_pushf(argv, "%s/", source ? source : sc->source);
	if (sc->target_host) {
		char *remote = config_rsync_remote(sc->target_host, sc->target_path);
		strv_push(argv, remote);
		free(remote);
	}
	else
		strv_pushf(argv, "%s/", sc->target_path);
}

void transport_build_argv(const struct sync_conf *sc, const struct strv *filters,
			  const char *control_path, enum rsync_mode mode, bool allow_delete,
			  struct strv *argv)
{
	build_options(sc, filters, control_path, mode, allow_delete,
		      "rsync-staged 0123456789abcdef", argv);
	append_paths(sc, NULL, argv);
}

enum transfer_outcome transport_classify(int exit_code, bool remote)
{
	switch (exit_code) {
	case 0:
	case 24: /* some files vanished before they could be sent: normal here */
		return T_OK;
	case 5:   /* error starting client-server protocol */
	case 10:  /* socket I/O */
	case 12:  /* protocol data stream */
	case 14:  /* IPC */
	case 30:  /* timeout */
	case 35:  /* daemon connection timeout */
	case 255: /* ssh could not connect */
		return remote ? T_UNREACHABLE : T_FAILED;
	default:
		return T_FAILED;
	}
}

static uint64_t number_after(const char *out, const char *label)
{
	const char *p = strstr(out, label);
	if (!p)
		return 0;
	p += strlen(label);
	uint64_t v = 0;
	for (; *p && *p != '\n'; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p - '0');
		else if (*p != ',' && *p != '.' && *p != ' ')
			break;
	}
	return v;
}

void transport_parse_stats(const char *out, uint64_t *bytes, uint64_t *files)
{
	*bytes = number_after(out, "Total bytes sent:");
	*files = number_after(out, "Number of regular files transferred:");
}

struct transport *transport_new(struct loop *loop, const struct sync_conf *sc,
				const struct strv *filters, const struct exclude_set *excludes,
				bool live_delete)
{
	struct transport *t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	t->sc = sc;
	t->filters = filters;
	t->excludes = excludes;
	t->stream_on = excludes && exclude_exact(excludes) && !sc->rsync_args &&
			  sc->bwlimit <= 0 && !sc->compress;
	t->remote = sc->target_host != NULL;
	t->live_delete = live_delete;
	/* A broken read lease (the writer probe, the stage) is signalled with
	 * SIGIO, whose default ends the process. */
	signal(SIGIO, SIG_IGN);
	char *serr = NULL;
	t->stage = stage_new(sc->name, &serr);
	if (!t->stage) {
		log_warn("[sync %s] %s: files are read in place (a file rewritten while it is read "
			 "may arrive torn)",
			 sc->name, serr);
		free(serr);
	}
	t->master_backoff_ms = 1000;
	if (t->remote) {
		char tmpl[] = "/tmp/lifeboat.XXXXXX";
		if (mkdtemp(tmpl)) {
			t->runtime_dir = xstrdup(tmpl);
			t->control_path = xasprintf("%s/%s.ssh", tmpl, sc->name);
		} else {
			log_warn("[sync %s] cannot create a runtime directory (%s): every transfer "
				 "will log in to ssh anew",
				 sc->name, strerror(errno));
		}
	}
	return t;
}

static void remove_local_staging(struct transport *t, struct run *r)
{
	if (!r->staging_rel)
		return;
	int root = open(t->sc->target_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0) {
		history_staging_remove(root, r->staging_rel);
		close(root);
	}
	free(r->staging_rel);
	r->staging_rel = NULL;
}

static void plan_free(struct path_plan *p);

static void free_run(struct run *r)
{
	if (!r)
		return;
	proc_free(r->p); /* a checked run's rsync is gone before its staging */
	remove_local_staging(r->t, r);
	strv_free(&r->held);
	strv_free(&r->touched);
	manifest_diff_free(&r->diff);
	if (r->pinned)
		close(r->pin_fd);
	free(r);
}

void transport_stop(struct transport *t)
{
	t->stopping = true;
	t->root_cb = NULL;
	if (t->bg)
		bg_sync_end(t); /* waits for the syncfs; its cb is dropped */
	settle_free(t->settle);
	t->settle = NULL;
	tarstream_free(t->primed_stream);
	t->primed_stream = NULL;
	t->placed_cb = NULL;
	while (t->placed) {
		struct placed *pl = t->placed;
		t->placed = pl->next;
		tarstream_free(pl->ts);
		free(pl->err);
		free(pl);
	}
	loop_cancel_timer(t->loop, t->master_timer);
	loop_cancel_timer(t->loop, t->prime_timer);
	t->master_timer = t->prime_timer = 0;
	for (int i = 0; i < 2; i++) {
		free_run(t->primed[i]);
		t->primed[i] = NULL;
	}
	free_run(t->active);
	t->active = NULL;
	plan_free(t->plan);
	t->plan = NULL;
	loop_cancel_timer(t->loop, t->plan_timer);
	t->plan_timer = 0;
	if (t->stage)
		stage_clear(t->stage);
	tarstream_free(t->stream);
	t->stream = NULL;
	while (t->lingering) {
		struct run *r = t->lingering;
		t->lingering = r->next_lingering;
		free_run(r);
	}
	if (t->master) {
		proc_kill(t->master, SIGTERM);
		proc_free(t->master);
		t->master = NULL;
	}
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	transport_stop(t);
	if (t->control_path)
		unlink(t->control_path);
	if (t->runtime_dir)
		rmdir(t->runtime_dir);
	free(t->control_path);
	free(t->runtime_dir);
	stage_free(t->stage);
	free(t);
}

static void on_master_exit(struct proc *p, void *arg)
{
	struct transport *t = arg;
	(void)p;
	if (t->stopping)
		return;
	log_debug("[sync %s] ssh master connection ended (%s); reconnecting in %d ms", t->sc->name,
		  proc_stderr_tail(t->master), t->master_backoff_ms);
	proc_free(t->master);
	t->master = NULL;
	t->master_timer = loop_add_timer(t->loop, t->master_backoff_ms, master_timer_cb, t);
	if (t->master_backoff_ms < 30000)
		t->master_backoff_ms *= 2;
}

static void master_timer_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct transport *t = arg;
	t->master_timer = 0;
	start_master(t);
}

static void start_master(struct transport *t)
{
	if (!t->remote || !t->control_path || t->stopping || t->master)
		return;
	struct strv argv;
	strv_init(&argv);
	ssh_words(t->sc, t->control_path, &argv);
	strv_push(&argv, "-o");
	strv_push(&argv, "ControlMaster=yes");
	strv_push(&argv, "-o");
	strv_push(&argv, "ControlPersist=no");
	strv_push(&argv, "--");
	strv_push(&argv, t->sc->target_host);
	/* The master's own session is `serve hold` reading a pipe that only
	 * we hold: if we die, even by SIGKILL, it reads EOF, the session ends
	 * and the master goes with it instead of lingering connected. */
	strv_push(&argv, SERVE_CMD " hold");
	struct proc_opts o = {.argv = argv.items, .stdin_pipe = true};
	char *err = NULL;
	t->master = proc_start(t->loop, &o, on_master_exit, t, &err);
	if (!t->master) {
		log_error("[sync %s] %s", t->sc->name, err);
		free(err);
	}
	strv_free(&argv);
}

static bool master_ready(const struct transport *t)
{
	struct stat st;
	return t->control_path && stat(t->control_path, &st) == 0;
}

/* The run read what it needed: the stage is free for the next batch. */
static void done_reading(struct run *r, struct transfer_result *res)
{
	if (r->reads_stage && r->t->stage)
		stage_clear(r->t->stage);
	r->reads_stage = false;
	res->held = r->held.len ? &r->held : NULL;
}

/* ---- what a local batch wrote, on disk ---- */

/* A small batch syncs what it touched, not the whole file system: syncfs
 * also waits for every other writer's dirty data there (the source itself
 * when it shares the file system, a database on the DR node). */
#define SETTLE_MAX_FDS 256

struct settle_set {
	int fds[SETTLE_MAX_FDS];
	size_t n;
	bool over; /* more than SETTLE_MAX_FDS, or a stage wrote more: syncfs instead */
};

static void settle_close(struct settle_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		close(s->fds[i]);
	s->n = 0;
}

static void settle_free(struct settle_set *s)
{
	if (!s)
		return;
	settle_close(s);
	free(s);
}

/* The batch needs a syncfs after all: its fds are no use any more. */
static void settle_over(struct settle_set *s)
{
	s->over = true;
	settle_close(s);
}

/* Open a regular file or directory and start its data's write-back, so
 * that one journal commit carries them all. Anything else (gone: a
 * deletion; a symlink, a device) is carried by its directory's sync, and a
 * device is never opened. */
static int settle_open(struct settle_set *s, int dir_fd, const char *name)
{
	struct stat st;
	if (s->over || fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return -1;
	if (s->n == SETTLE_MAX_FDS) {
		settle_over(s);
		return -1;
	}
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1; /* replaced meanwhile: the next batch syncs it */
	if (S_ISREG(st.st_mode))
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	s->fds[s->n++] = fd;
	return fd;
}

static void settle_walk(struct settle_set *s, int dir_fd)
{
	DIR *d = fdopendir(dup(dir_fd));
	struct dirent *e;
	while (d && !s->over && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int fd = settle_open(s, dir_fd, e->d_name);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			settle_walk(s, fd);
	}
	if (d)
		closedir(d);
}

/* Each listed path, a tree's entries and each path's directory. */
static void settle_collect(struct settle_set *s, int root, const struct strv *paths, bool trees)
{
	settle_open(s, root, ".");
	char *last_parent = NULL;
	for (size_t i = 0; i < paths->len && !s->over; i++) {
		const char *rel = paths->items[i];
		if (!*rel || !beneath_rel_ok(rel) || history_name(rel)) {
			settle_over(s); /* the root, or a name we do not judge here */
			break;
		}
		const char *slash = strrchr(rel, '/');
		char *parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : NULL;
		char *err = NULL;
		int pfd = parent ? beneath_open_dir(root, parent, false, &err) : dup(root);
		if (pfd >= 0) {
			if (parent && (!last_parent || strcmp(parent, last_parent) != 0))
				settle_open(s, pfd, ".");
			int fd = settle_open(s, pfd, slash ? slash + 1 : rel);
			if (fd >= 0 && trees)
				settle_walk(s, fd);
			close(pfd);
		}
		free(err);
		free(last_parent);
		last_parent = parent;
	}
	free(last_parent);
}

/* 0: every fd synced; -1 with *err. */
static int settle_fsync(struct settle_set *s, char **err)
{
	int rc = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		if (fsync(s->fds[i]) < 0 && errno != EINVAL) {
			*err = xasprintf("cannot write what was shipped to disk (fsync): %s",
					 strerror(errno));
			rc = -1;
		}
	}
	settle_close(s);
	return rc;
}

/* The batch owes a sync; what settle collected so far, if anything, is
 * kept (whole: a syncfs after all). */
static struct settle_set *settle_owed(struct transport *t, bool whole)
{
	if (!t->settle)
		t->settle = xcalloc(1, sizeof(*t->settle));
	t->sync_owed = true;
	if (whole && !t->settle->over)
		settle_over(t->settle);
	return t->settle;
}

/* A local target: what the rsync run wrote is on disk before the batch
 * counts as done: transport_sync, once every stage of the batch ran,
 * fsyncs a small batch's files and directories (write-back started for
 * all of them here, one journal commit for the lot), else runs one syncfs;
 * either in a thread, so the loop ships the next batch meanwhile (rsync's
 * --fsync costs a journal commit per file, one after the other, and an
 * fsync here would block the loop: on a file system with other writers,
 * the source's generator among them, its journal commit waits for theirs).
 * rsync prints its statistics after its receiver exited, so this comes
 * after every write. A remote target's serve syncs before it exits. */
static void settle(struct run *r, struct transfer_result *res)
{
	struct transport *t = r->t;
	if (t->remote || r->kind != HELPER_NONE || r->mode == RSYNC_VERIFY || r->checked ||
	    res->outcome != T_OK)
		return; /* a checked run's merge owes the batch's sync (merge_local) */
	struct settle_set *s = settle_owed(t, false);
	if (s->over)
		return;
	int fd = open(t->sc->target_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		settle_over(s); /* the syncfs will say what is wrong */
		return;
	}
	settle_collect(s, fd, &r->touched, r->mode == RSYNC_TREES || r->mode == RSYNC_PRUNE);
	close(fd);
}

static void deliver(struct run *r, struct transfer_result *res)
{
	struct transport *t = r->t;
	if (t->active == r)
		t->active = NULL;
	transfer_cb cb = r->cb;
	void *arg = r->arg;
	done_reading(r, res);
	settle(r, res);
	if (cb)
		cb(arg, res);
	free_run(r);
}

/* One line per rename: "ok" or "fail REASON"; a missing answer means the
 * rename did not happen (the caller ships the paths instead). */
static void read_rename_answers(bool *failed, size_t n_ops, const char *text,
				struct transfer_result *res)
{
	size_t i = 0;
	for (const char *line = text; *line && i < n_ops; i++) {
		if (strncmp(line, "ok", 2) != 0) {
			failed[i] = true;
			res->n_renames_failed++;
		}
		const char *nl = strchr(line, '\n');
		if (!nl) {
			i++;
			break;
		}
		line = nl + 1;
	}
	for (; i < n_ops; i++)
		if (!failed[i])
			failed[i] = true, res->n_renames_failed++;
}

/* serve on the target said no (a refusal, or no room for history): the
 * target is reachable, the request is wrong or the target needs a person. */
static bool serve_said_no(const char *err_tail)
{
	return strstr(err_tail, "serve: refused") || strstr(err_tail, "serve: no room");
}

void transport_helper_result(enum helper_kind kind, int exit_code, bool remote, const char *out,
			     const char *err_tail, bool *failed, size_t n_ops,
			     struct transfer_result *res)
{
	memset(res, 0, sizeof(*res));
	res->exit_code = exit_code;
	res->outcome = exit_code == 0 ? T_OK : transport_classify(exit_code, remote);
	if (res->outcome == T_UNREACHABLE && serve_said_no(err_tail))
		res->outcome = T_FAILED;
	switch (kind) {
	case HELPER_READ:
		snprintf(res->text, sizeof(res->text), "%s", out);
		if (res->outcome == T_FAILED && !serve_said_no(err_tail))
			res->outcome = T_UNREACHABLE;
		break;
	case HELPER_RENAME:
		read_rename_answers(failed, n_ops, out, res);
		/* Every pair falls back to a copy; no pairs: the request was the
		 * target's sync alone, whose failure stands. */
		if (res->outcome == T_FAILED && n_ops && res->n_renames_failed == n_ops)
			res->outcome = T_OK;
		break;
	case HELPER_UTIME:
	case HELPER_MERGE:
	case HELPER_NONE:
		break; /* the exit code says it all */
	}
	if (exit_code != 0)
		snprintf(res->message, sizeof(res->message), "%s exit %d: %s", helper_names[kind],
			 exit_code, err_tail);
}

static void fill_result(struct run *r, struct transfer_result *res)
{
	const struct buf *out = proc_stdout(r->p);
	const char *text = out->data ? out->data : "";
	transport_helper_result(r->kind, proc_exit_code(r->p), r->t->remote, text,
				proc_stderr_tail(r->p), r->failed, r->n_ops, res);
	if (r->kind == HELPER_MERGE) {
		res->bytes = r->bytes; /* what the checked run sent */
		res->files = r->files;
	}
	if (r->kind != HELPER_NONE)
		return;
	if (r->mode == RSYNC_VERIFY) {
		res->differs = out->len > 0;
	} else if (r->mode == RSYNC_DIFF) {
		manifest_diff_free(&r->diff);
		manifest_diff_init(&r->diff);
		transport_parse_itemized(text, &r->diff);
		res->diff = &r->diff;
	} else
		transport_parse_stats(text, &res->bytes, &res->files);
}

static void unlinger(struct transport *t, struct run *r)
{
	for (struct run **pp = &t->lingering; *pp; pp = &(*pp)->next_lingering) {
		if (*pp == r) {
			*pp = r->next_lingering;
			return;
		}
	}
}

static void checked_run_done(struct run *r);

static void on_run_exit(struct proc *p, void *arg)
{
	struct run *r = arg;
	struct transport *t = r->t;
	if (r->delivered) {
		/* Reported done from its final statistics; the exit code is the
		 * last word. An error now means a full pass, never a silent gap. */
		unlinger(t, r);
		if (!t->lingering && t->root_cb) {
			/* The receiver has renamed its last file into place. */
			transfer_cb cb = t->root_cb;
			t->root_cb = NULL;
			transport_copy_root_times(t, cb, t->root_arg);
		}
		int code = proc_exit_code(p);
		if (transport_classify(code, t->remote) != T_OK && t->late_failure) {
			char msg[600];
			snprintf(msg, sizeof(msg), "rsync exit %d after its statistics: %s", code,
				 proc_stderr_tail(p));
			t->late_failure(t->late_arg, msg);
		}
		free_run(r);
		return;
	}
	if (!r->claimed) {
		/* A primed rsync died before it was used: the link dropped, or the
		 * target went away. Prime again later; the next transfer tells. */
		for (int i = 0; i < 2; i++)
			if (t->primed[i] == r)
				t->primed[i] = NULL;
		log_debug("[sync %s] idle rsync ended (exit %d: %s)", t->sc->name, proc_exit_code(p),
			  proc_stderr_tail(p));
		free_run(r);
		return;
	}
	if (r->checked) {
		checked_run_done(r);
		return;
	}
	struct transfer_result res;
	fill_result(r, &res);
	deliver(r, &res);
}

/* rsync prints its statistics once every file is in place and then spends
 * 40 ms or more in exit handshakes (20 ms sleeps while it reaps its
 * helpers). The next batch need not wait for that: a clean run (no message
 * on stderr) is reported done at its last statistics line. */
static void on_run_output(struct proc *p, void *arg)
{
	struct run *r = arg;
	struct transport *t = r->t;
	if (!r->claimed || r->delivered || t->active != r)
		return;
	const struct buf *out = proc_stdout(p);
	const char *last = out->data ? strstr(out->data, "\ntotal size is ") : NULL;
	if (!last || !strchr(last + 1, '\n') || proc_stderr_tail(p)[0])
		return;
	struct transfer_result res;
	memset(&res, 0, sizeof(res));
	res.outcome = T_OK;
	transport_parse_stats(out->data, &res.bytes, &res.files);
	r->delivered = true;
	t->active = NULL;
	r->next_lingering = t->lingering;
	t->lingering = r;
	transfer_cb cb = r->cb;
	r->cb = NULL;
	done_reading(r, &res);
	settle(r, &res);
	cb(r->arg, &res);
}

/* source: where rsync reads (NULL: the sync's source; the stage for
 * path batches). */
/* The source guard, in the transport: is the source still the directory,
 * on the file system, it was when the transport started? */
static bool source_is_itself(const struct transport *t)
{
	return !t->source_fs || fs_id_of_path(t->sc->source) == t->source_fs;
}

/* An rsync that reads the source itself gets it as /proc/OURPID/fd/N, a
 * directory we opened and looked at: whatever happens to the path
 * afterwards (a disk unmounted, lazily or not, a directory moved away), it
 * reads the tree the guard saw (or fails), never the empty mount point
 * left behind, which --delete would mirror. Held until rsync exits; such
 * rsyncs are started per transfer, never primed ahead (a held directory
 * would keep the disk from being unmounted). -1 with *err: not shipped. */
static int pin_source(const struct transport *t, char **path, char **err)
{
	int fd = open(t->sc->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat fs, ps;
	if (fd >= 0 && fstat(fd, &fs) == 0 && stat(t->sc->source, &ps) == 0 &&
	    fs.st_dev == ps.st_dev && fs.st_ino == ps.st_ino &&
	    (!t->source_fs || fs_id_of_fd(fd) == t->source_fs)) {
		*path = xasprintf("/proc/%ld/fd/%d", (long)getpid(), fd);
		return fd;
	}
	if (fd >= 0)
		close(fd);
	*err = xasprintf("the source %s is gone or on another file system: not shipped",
			 t->sc->source);
	return -1;
}

void transport_keep_all(struct transport *t, bool on)
{
	if (t->keep_all == on)
		return;
	t->keep_all = on;
	for (int i = 0; i < 2; i++) { /* primed with the other rule */
		free_run(t->primed[i]);
		t->primed[i] = NULL;
	}
	prime(t);
}

/* Whether what this target's transfers replace is kept: its keep, or
 * the rejoin pass's keep_all. */
static bool keeps(const struct transport *t)
{
	return t->keep_all || history_keep_seconds(t->sc->keep) > 0;
}

static struct run *spawn_run(struct transport *t, enum rsync_mode mode, bool allow_delete,
			     const char *source, char **err)
{
	char *pinned_path = NULL;
	int pin_fd = source ? -1 : pin_source(t, &pinned_path, err);
	if (!source && pin_fd < 0)
		return NULL;
	struct strv argv;
	strv_init(&argv);
	build_options(t->sc, t->filters, master_ready(t) ? t->control_path : NULL, mode,
		      allow_delete, NULL, &argv);
	if (t->remote && t->keep_all) {
		/* serve keeps what the run replaces in its history, whatever its keep. */
		strv_push(&argv, "--backup");
	} else if (mode != RSYNC_VERIFY && !t->remote) {
		/* A local target: what rsync replaces is kept (history); what it
		 * wrote is put on disk once it is done (settle). */
		char *tmp = history_temp_dir(t->sc->target_path, "rsync");
		if (tmp)
			strv_pushf(&argv, "--temp-dir=%s", tmp);
		free(tmp);
		if (keeps(t)) {
			char *run = history_run_dir(t->sc->target_path);
			strv_push(&argv, "--backup");
			strv_pushf(&argv, "--backup-dir=%s", run);
			free(run);
		}
	}
	append_paths(t->sc, source ? source : pinned_path, &argv);
	free(pinned_path);

	struct run *r = xcalloc(1, sizeof(*r));
	r->t = t;
	r->mode = mode;
	r->reads_stage = source != NULL;
	r->pinned = pin_fd >= 0;
	r->pin_fd = pin_fd;
	struct proc_opts o = {
		.argv = argv.items,
		.stdin_pipe = mode == RSYNC_PATHS || mode == RSYNC_TREES || mode == RSYNC_PRUNE,
		.capture_stdout = true,
	};
	r->p = proc_start(t->loop, &o, on_run_exit, r, err);
	strv_free(&argv);
	if (!r->p) {
		free_run(r);
		return NULL;
	}
	if (mode != RSYNC_VERIFY)
		proc_on_output(r->p, on_run_output);
	return r;
}

void transport_on_late_failure(struct transport *t, void (*cb)(void *arg, const char *msg),
			       void *arg)
{
	t->late_failure = cb;
	t->late_arg = arg;
}

static void prime_timer_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct transport *t = arg;
	t->prime_timer = 0;
	prime(t);
}

static void prime(struct transport *t)
{
	if (t->stopping)
		return;
	if (t->remote && t->control_path && !master_ready(t)) {
		/* Wait for the master so the primed rsyncs ride on it. */
		if (!t->prime_timer)
			t->prime_timer = loop_add_timer(t->loop, 20, prime_timer_cb, t);
		return;
	}
	for (int i = 0; i < 2; i++) {
		/* Only an rsync that reads the stage waits primed: one that reads
		 * the source pins it (pin_source) for as long as it lives. */
		if (t->primed[i] || i == 1 || !t->stage)
			continue;
		char *err = NULL;
		const char *src = i == 0 && t->stage ? stage_dir(t->stage) : NULL;
		t->primed[i] = spawn_run(t, i == 0 ? RSYNC_PATHS : RSYNC_TREES, t->live_delete, src,
					 &err);
		if (!t->primed[i]) {
			log_error("[sync %s] %s", t->sc->name, err);
			free(err);
		}
	}
	prime_stream(t);
}

void transport_start(struct transport *t)
{
	t->stopping = false;
	t->source_fs = fs_id_of_path(t->sc->source);
	if (!t->remote)
		history_clean_staging(t->sc->target_path); /* a crashed run's partial files */
	if (t->remote)
		start_master(t);
	prime(t);
}

static void fail_now(struct transport *t, transfer_cb cb, void *arg, const char *msg)
{
	(void)t;
	struct transfer_result res = {.outcome = T_FAILED, .exit_code = -1};
	snprintf(res.message, sizeof(res.message), "%s", msg);
	cb(arg, &res);
}

/* A local target short of room for its history: the transfer waits (an
 * error until room is made) instead of pushing history out. Remote
 * targets: serve there decides. */
static bool local_no_room(struct transport *t, transfer_cb cb, void *arg)
{
	char *why = NULL;
	if (t->remote ||
	    history_room(t->sc->target_path, history_keep_seconds(t->sc->keep), t->sc->keep_size,
			 &why) == 0)
		return false;
	char *msg = xasprintf("no room for history: %s", why);
	fail_now(t, cb, arg, msg);
	free(msg);
	free(why);
	return true;
}

static void send_list(struct run *r, const struct strv *list)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; list && i < list->len; i++) {
		buf_adds(&b, list->items[i][0] ? list->items[i] : ".");
		buf_addc(&b, '\0');
	}
	proc_write_stdin(r->p, b.data ? b.data : "", b.len);
	proc_close_stdin(r->p);
	buf_free(&b);
}

/* Fewer members go through rsync, which is already started (primed), where
 * the stream starts two processes. Not for a new tree: rsync would copy
 * its entries and then run again to delete in it what the source lacks (a
 * tree may exist on the target), where the stream only unpacks a tree the
 * target does not have. */
#define STREAM_MIN_MEMBERS 64

bool transport_can_stream(const struct transport *t)
{
	return t->stream_on && !t->keep_all;
}

static void placed_check(struct transport *t);

/* serve placed a stream's trees and syncs: the stream stays here until
 * its exit says the sync is done. */
static void keep_placed(struct transport *t, struct tarstream *ts)
{
	struct placed *pl = xcalloc(1, sizeof(*pl));
	pl->ts = ts;
	pl->next = t->placed;
	t->placed = pl;
}

static void placed_synced(struct transport *t, const struct tarstream_result *r)
{
	for (struct placed *pl = t->placed; pl; pl = pl->next) {
		if (pl->ts != r->stream)
			continue;
		if (r->outcome != TS_OK)
			pl->err = xasprintf("the target did not confirm what it received is on "
					    "disk: %s",
					    r->message);
		tarstream_free(pl->ts);
		pl->ts = NULL;
		break;
	}
	placed_check(t);
}

static void on_stream_done(void *arg, const struct tarstream_result *r)
{
	struct transport *t = arg;
	if (r->synced) {
		placed_synced(t, r);
		return;
	}
	if (r->sync_pending)
		keep_placed(t, t->stream);
	else
		tarstream_free(t->stream);
	t->stream = NULL;
	struct transfer_result res = {.bytes = r->bytes, .files = r->files};
	switch (r->outcome) {
	case TS_OK:
		log_debug("[sync %s] tar stream: %llu files, %llu bytes", t->sc->name,
			  (unsigned long long)r->files, (unsigned long long)r->bytes);
		if (!t->remote)
			settle_owed(t, true); /* the moves are done, not yet on disk */
		t->stream_failures = 0;
		res.outcome = T_OK;
		break;
	case TS_UNREACHABLE:
		res.outcome = T_UNREACHABLE;
		break;
	case TS_USE_RSYNC:
		log_debug("[sync %s] tar stream declined: %s; rsync instead", t->sc->name, r->message);
		if (r->receiver_failed && ++t->stream_failures == 3) {
			log_warn("[sync %s] new trees go through rsync from now on: the tar stream "
				 "failed 3 times in a row (%s)",
				 t->sc->name, r->message);
			t->stream_on = false;
		}
		res.outcome = T_DECLINED;
		break;
	}
	if (r->outcome != TS_OK)
		snprintf(res.message, sizeof(res.message), "%s", r->message);
	t->active_cb(t->active_arg, &res);
}

static void stream_ssh(const struct transport *t, struct strv *ssh)
{
	ssh_words(t->sc, master_ready(t) ? t->control_path : NULL, ssh);
	strv_push(ssh, "-o");
	strv_push(ssh, "ControlMaster=no");
	strv_push(ssh, "--");
	strv_push(ssh, t->sc->target_host);
}

/* A remote target: the next stream's serve tar-x logs in and starts now,
 * over the master, while nothing waits for it (a burst's batches each
 * paid that before their first byte). */
static void prime_stream(struct transport *t)
{
	if (!t->remote || !t->stream_on || t->primed_stream || t->stopping || !master_ready(t))
		return;
	struct strv ssh;
	strv_init(&ssh);
	stream_ssh(t, &ssh);
	char *why = NULL;
	t->primed_stream = tarstream_prime(t->loop, ssh.items, &why);
	if (!t->primed_stream) {
		log_debug("[sync %s] no tar stream started ahead: %s", t->sc->name, why);
		free(why);
	}
	strv_free(&ssh);
}

void transport_stream(struct transport *t, const struct strv *trees, struct strv *flat,
		      struct strv *rest, transfer_cb cb, void *arg)
{
	struct strv ssh;
	strv_init(&ssh);
	if (t->remote)
		stream_ssh(t, &ssh);
	struct tarstream_target tt = {
		.source = t->sc->source,
		.target_path = t->sc->target_path,
		.ssh_argv = t->remote ? ssh.items : NULL,
		.excludes = t->excludes,
		.keep_history = history_keep_seconds(t->sc->keep) > 0,
		.sync_later = !t->remote,
	};
	t->active_cb = cb;
	t->active_arg = arg;
	char *why = NULL;
	t->stream = tarstream_start(t->loop, &tt, trees, flat, rest,
				    trees->len ? 1 : STREAM_MIN_MEMBERS, &t->primed_stream,
				    on_stream_done, t, &why);
	strv_free(&ssh);
	prime_stream(t); /* for the next batch, while this one ships */
	if (!t->stream) {
		log_debug("[sync %s] tar stream declined: %s; rsync instead", t->sc->name, why);
		struct transfer_result res = {.outcome = T_DECLINED};
		snprintf(res.message, sizeof(res.message), "%s", why);
		free(why);
		cb(arg, &res);
	}
}

/* ---- checked runs (transport.h) ---- */

/* The kernel stamps ctime from a clock that lags the real one by up to a
 * tick (4 ms at HZ=250, 10 ms at HZ=100): a change made after a run
 * started is stamped no earlier than this before it. */
#define CHECK_MARGIN_NS 20000000LL

static struct run *start_helper(struct transport *t, enum helper_kind kind, const char *request,
				char *const *args, const void *input, size_t input_len,
				transfer_cb cb, void *arg);

static void new_tag(char tag[33])
{
	unsigned char raw[16];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		/* no entropy yet: the pid and the clock still make it unique here */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t a = (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec, b = (uint64_t)ts.tv_sec;
		memcpy(raw, &a, 8);
		memcpy(raw + 8, &b, 8);
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(tag + 2 * i, 3, "%02x", raw[i]);
}

/* A run into a staging directory (a local one made here; serve makes its
 * own). It reads the pinned source; started per transfer, never primed. */
static struct run *spawn_checked(struct transport *t, enum rsync_mode mode,
				  const struct timespec *started, bool linked, char **err)
{
	char *pinned_path = NULL;
	int pin_fd = pin_source(t, &pinned_path, err);
	if (pin_fd < 0)
		return NULL;
	struct run *r = xcalloc(1, sizeof(*r));
	r->t = t;
	r->mode = mode;
	r->checked = true;
	r->pinned = true;
	r->pin_fd = pin_fd;
	new_tag(r->tag);
	struct strv argv;
	strv_init(&argv);
	char *request = xasprintf("%s %s", linked ? "rsync-linked" : "rsync-staged", r->tag);
	build_options(t->sc, t->filters, master_ready(t) ? t->control_path : NULL, mode, false,
		      request, &argv);
	free(request);
	char *staging = NULL;
	if (!t->remote) {
		/* A full pass to a target not made yet (serve makes a remote one). */
		mkdir_p(t->sc->target_path, 0755);
		staging = history_temp_dir(t->sc->target_path, "verified");
		if (!staging) {
			*err = xasprintf("cannot make a staging directory in %s/%s: %s",
					 t->sc->target_path, HISTORY_DIR, strerror(errno));
			strv_free(&argv);
			free(pinned_path);
			free_run(r);
			return NULL;
		}
		r->staging_rel = xstrdup(staging + strlen(t->sc->target_path) + 1);
		strv_pushf(&argv, "--%s=%s", linked ? "link-dest" : "compare-dest",
			   t->sc->target_path);
	}
	strv_push(&argv, "--");
	strv_pushf(&argv, "%s/", pinned_path);
	if (t->remote) {
		char *remote = config_rsync_remote(t->sc->target_host, t->sc->target_path);
		strv_push(&argv, remote);
		free(remote);
	} else {
		strv_pushf(&argv, "%s/", staging);
	}
	free(staging);
	free(pinned_path);
	struct proc_opts o = {.argv = argv.items, .stdin_pipe = true, .capture_stdout = true};
	r->started = *started;
	r->p = proc_start(t->loop, &o, on_run_exit, r, err);
	strv_free(&argv);
	if (!r->p) {
		free_run(r);
		return NULL;
	}
	return r;
}

/* Without a lease to probe writers with (not root, not the owner): a file
 * counts only when it was quiet this long before the run, as a write call
 * in flight at the start (its ctime set when it began) could go on. */
#define CHECK_UNPROBED_NS 1000000000LL

/* Did the file at rel (below the pinned source) hold still while the run
 * read it: its ctime, which no one can set, older than the run's start,
 * and the size rsync sent? A file gone or replaced says no. A write in
 * flight when the run started had its file open for writing, which the
 * probe before the run (probe_writers) caught. */
static bool held_still(const struct run *r, const char *rel, uint64_t size)
{
	struct stat st;
	if (fstatat(r->pin_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != size)
		return false;
	long long changed = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	long long start = (long long)r->started.tv_sec * 1000000000LL + r->started.tv_nsec;
	return changed < start - (r->unprobed ? CHECK_UNPROBED_NS : CHECK_MARGIN_NS);
}

/* Is the file open for writing anywhere (a read lease is refused then)?
 * 1 yes, 0 no (or gone), -1 cannot tell (no right to a lease). The lease
 * is given back at once: no writer waits for it. */
static int open_for_writing(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int rc = 0;
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	else
		rc = errno == EAGAIN ? 1 : -1;
	close(fd);
	return rc;
}

struct probe {
	const struct exclude_set *x;
	struct strv *busy; /* open for writing */
	bool unprobed;
	bool links; /* a file with more than one name */
};

static void probe_one(struct probe *p, int dir_fd, const char *name, const char *rel)
{
	int w = open_for_writing(dir_fd, name);
	if (w > 0)
		strv_push(p->busy, rel);
	else if (w < 0)
		p->unprobed = true;
}

static void probe_tree(struct probe *p, int dir_fd, struct buf *rel, int depth)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return;
	}
	size_t len = rel->len;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		struct stat st;
		if ((n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]))) ||
		    fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (p->x && exclude_match(p->x, n, S_ISDIR(st.st_mode))))
			continue;
		if (!len && !strcmp(n, HISTORY_DIR))
			continue; /* never shipped */
		rel->len = len;
		if (len)
			buf_addc(rel, '/');
		buf_adds(rel, n);
		if (S_ISREG(st.st_mode)) {
			p->links = p->links || st.st_nlink > 1;
			probe_one(p, dirfd(d), n, rel->data);
		} else if (S_ISDIR(st.st_mode) && depth < 64) {
			int fd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				probe_tree(p, fd, rel, depth + 1);
		}
	}
	rel->len = len;
	rel->data[len] = '\0';
	closedir(d);
}

/* Before a checked run: the files in list (trees: below them) that someone
 * is writing now go into busy; those are not merged whatever rsync reads.
 * *links: one of them has more than one name. */
static bool probe_writers(const struct transport *t, enum rsync_mode mode,
			  const struct strv *list, struct strv *busy, bool *links)
{
	struct probe p = {.x = t->excludes, .busy = busy};
	int src = open(t->sc->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; src >= 0 && i < list->len; i++) {
		const char *rel = list->items[i];
		struct stat st;
		bool whole = !*rel && mode == RSYNC_TREES; /* a full pass: the whole source */
		if (!whole && (!*rel || fstatat(src, rel, &st, AT_SYMLINK_NOFOLLOW) < 0))
			continue;
		if (!whole && S_ISREG(st.st_mode)) {
			p.links = p.links || st.st_nlink > 1;
			probe_one(&p, src, rel, rel);
		} else if (whole || (S_ISDIR(st.st_mode) && mode == RSYNC_TREES)) {
			int fd = openat(src, whole ? "." : rel,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			struct buf b;
			buf_init(&b);
			buf_adds(&b, rel);
			if (fd >= 0)
				probe_tree(&p, fd, &b, 0);
			buf_free(&b);
		}
	}
	if (src >= 0)
		close(src);
	*links = p.links;
	return p.unprobed;
}

/* rsync's --out-format writes a name's unprintable bytes (and a backslash
 * that would look like such an escape) as \#ooo. */
static char *unescape_name(const char *s, size_t len)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 4 < len && s[i + 1] == '#' && s[i + 2] >= '0' &&
		    s[i + 2] <= '3' && s[i + 3] >= '0' && s[i + 3] <= '7' && s[i + 4] >= '0' &&
		    s[i + 4] <= '7') {
			buf_addc(&b, (char)((s[i + 2] - '0') * 64 + (s[i + 3] - '0') * 8 + (s[i + 4] - '0')));
			i += 4;
		} else {
			buf_addc(&b, s[i]);
		}
	}
	buf_addc(&b, '\0');
	return buf_steal(&b);
}

/* One "%i %n" line of a dry run into d; tree: the new tree whose entries
 * are skipped (they follow it: the dry run lists the whole tree first). */
static void itemized_line(const char *line, size_t len, struct manifest_diff *d, char **tree)
{
	if (len < 13 || line[11] != ' ')
		return; /* not an item ("created directory", a message) */
	char *rel = unescape_name(line + 12, len - 12);
	size_t n = strlen(rel);
	bool dir = n && rel[n - 1] == '/';
	if (dir)
		rel[--n] = '\0';
	bool is_new = !strncmp(line + 2, "+++++++++", 9);
	if (*tree && !strncmp(rel, *tree, strlen(*tree)) && rel[strlen(*tree)] == '/') {
		free(rel); /* inside a new tree: the tree carries it */
		return;
	}
	if (!strncmp(line, "*deleting", 9)) {
		strv_push(&d->paths, rel);
	} else if (!strchr("<>ch.", line[0]) || !strchr("fdLDS", line[1])) {
		/* not an item */
	} else if (line[0] == 'h') {
		if (!d->full) {
			d->full = true;
			d->why = xstrdup("hard links differ");
		}
	} else if (!strcmp(rel, ".")) {
		/* the top directory: its times are copied after every batch */
		d->root_times = true;
		if (is_new && !d->full) {
			d->full = true;
			d->why = xstrdup("no top directory to compare");
		} else if ((line[5] == 'p' || line[6] == 'o' || line[7] == 'g') && !d->full) {
			d->full = true;
			d->why = xstrdup("the top directory's mode or owner differ");
		}
	} else if (dir && is_new) {
		strv_push(&d->trees, rel);
		free(*tree);
		*tree = xstrdup(rel);
	} else {
		strv_push(is_new ? &d->new_files : &d->paths, rel);
	}
	free(rel);
}

void transport_parse_itemized(const char *out, struct manifest_diff *d)
{
	char *tree = NULL;
	for (const char *line = out; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		itemized_line(line, len, d, &tree);
		line = nl ? nl + 1 : NULL;
	}
	free(tree);
}

/* The regular files the run sent ("%i %l %n" lines, up to the statistics'
 * blank line) that did not hold still: into r->held. */
static void collect_changed(struct run *r, const char *text)
{
	for (const char *line = text; line && *line && *line != '\n';) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *sp = memchr(line, ' ', len);
		char *end = NULL;
		unsigned long long size = 0;
		if (sp && sp - line == 11 && line[1] == 'f' && strchr("<>ch.", line[0])) {
			errno = 0;
			size = strtoull(sp + 1, &end, 10);
		}
		if (end && *end == ' ' && !errno && end < line + len) {
			char *rel = unescape_name(end + 1, (size_t)(line + len - end - 1));
			if (!strv_contains(&r->held, rel) && !held_still(r, rel, size)) {
				log_info("[sync %s] %s changed while it was read: it waits for a quiet "
					 "moment (never a torn copy)",
					 r->t->sc->name, rel);
				strv_push(&r->held, rel);
			}
			free(rel);
		}
		line = nl ? nl + 1 : NULL;
	}
}

/* A local target: what held still goes into place, what it replaces into
 * the history; the batch's syncfs puts it on disk (sync_owed). */
static void merge_local(struct run *r, struct transfer_result *res)
{
	struct transport *t = r->t;
	char *err = NULL;
	int root = open(t->sc->target_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		err = xasprintf("cannot open %s: %s", t->sc->target_path, strerror(errno));
	for (size_t i = 0; root >= 0 && i < r->held.len; i++)
		history_staging_drop(root, r->staging_rel, r->held.items[i]);
	char *run = keeps(t) ? history_run_dir("") : NULL;
	if (root >= 0 && history_merge_then(root, r->staging_rel, run, false, &err) == 0)
		log_debug("[sync %s] checked run merged (%zu files held back)", t->sc->name,
			  r->held.len);
	settle_owed(t, true); /* one syncfs, also for what a failed merge moved */
	if (err) {
		res->outcome = T_FAILED;
		snprintf(res->message, sizeof(res->message), "%s", err);
	}
	free(err);
	free(run);
	if (root >= 0)
		close(root);
	remove_local_staging(t, r);
}

/* rsync exited: check what it sent, then merge (here, or serve's merge
 * request over ssh, which delivers the result in its turn). */
static void checked_run_done(struct run *r)
{
	struct transport *t = r->t;
	struct transfer_result res;
	fill_result(r, &res);
	if (res.outcome == T_OK) {
		const struct buf *out = proc_stdout(r->p);
		collect_changed(r, out->data ? out->data : "");
	}
	if (res.outcome != T_OK || !t->remote) {
		if (res.outcome == T_OK)
			merge_local(r, &res);
		deliver(r, &res);
		return;
	}
	struct buf b;
	buf_init(&b);
	buf_add(&b, t->sc->target_path, strlen(t->sc->target_path) + 1);
	for (size_t i = 0; i < r->held.len; i++)
		buf_add(&b, r->held.items[i], strlen(r->held.items[i]) + 1);
	char *args[] = {r->tag, t->keep_all ? "keep" : NULL, NULL};
	if (t->active == r)
		t->active = NULL;
	struct run *m = start_helper(t, HELPER_MERGE, "merge", args, b.data, b.len, r->cb, r->arg);
	if (m) {
		m->held = r->held;
		strv_init(&r->held);
		m->bytes = res.bytes;
		m->files = res.files;
	}
	buf_free(&b);
	free_run(r);
}

static void start_checked(struct transport *t, enum rsync_mode mode, const struct strv *list,
			  transfer_cb cb, void *arg)
{
	/* The start first, then the probe: a writer that opens after the
	 * probe writes after the start, and its ctime says so. */
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	struct strv busy, send;
	strv_init(&busy);
	strv_init(&send);
	bool links = false;
	bool unprobed = probe_writers(t, mode, list, &busy, &links);
	for (size_t i = 0; i < busy.len; i++)
		log_info("[sync %s] %s is open for writing: it waits for a quiet moment (never a "
			 "torn copy)",
			 t->sc->name, busy.items[i]);
	for (size_t i = 0; i < list->len; i++)
		if (mode != RSYNC_CHECKED || !strv_contains(&busy, list->items[i]))
			strv_push(&send, list->items[i]);
	if (!send.len) {
		/* Every file is being written: nothing to read yet. */
		struct transfer_result res = {.outcome = T_OK, .held = &busy};
		cb(arg, &res);
		strv_free(&busy);
		strv_free(&send);
		return;
	}
	char *err = NULL;
	/* rsync -H with --compare-dest leaves out a new name whose twin the
	 * target has; --link-dest links it there (unchanged files too, which
	 * the merge leaves where they are). */
	struct run *r = spawn_checked(t, mode, &started, links, &err);
	if (!r) {
		strv_free(&busy);
		strv_free(&send);
		fail_now(t, cb, arg, err);
		free(err);
		return;
	}
	r->held = busy;
	r->unprobed = unprobed;
	r->claimed = true;
	r->cb = cb;
	r->arg = arg;
	t->active = r;
	send_list(r, &send);
	strv_free(&send);
}

/* One rsync over a list: the primed one when it fits (it reads the stage),
 * else a new one (reading the stage, or the pinned source). */
static void start_run(struct transport *t, enum rsync_mode mode, const struct strv *list,
		      bool allow_delete, bool staged, transfer_cb cb, void *arg)
{
	struct run *r = NULL;
	int slot = mode == RSYNC_PATHS ? 0 : -1;
	bool primed_fits = slot != 0 || staged == (t->stage != NULL);
	if (slot >= 0 && allow_delete == t->live_delete && t->primed[slot] && primed_fits) {
		r = t->primed[slot];
		t->primed[slot] = NULL;
	} else {
		char *err = NULL;
		r = spawn_run(t, mode, allow_delete, staged ? stage_dir(t->stage) : NULL, &err);
		if (!r) {
			if (staged)
				stage_clear(t->stage);
			fail_now(t, cb, arg, err);
			free(err);
			return;
		}
	}
	r->claimed = true;
	r->cb = cb;
	r->arg = arg;
	t->active = r;
	if (list) {
		send_list(r, list);
		for (size_t i = 0; i < list->len; i++)
			strv_push(&r->touched, list->items[i]); /* settle syncs what was sent */
	}
	if (slot >= 0)
		prime(t); /* the next change finds a warm rsync too */
}

/* ---- a path batch: up to three runs, one result ---- */

struct path_plan {
	struct strv gone;     /* deleted: rsync from the source deletes them */
	struct strv unstaged; /* not for the stage: a checked run */
	struct strv held;     /* did not hold still: queued again */
	bool allow_delete;
	bool waited; /* for the checked run's files to age, once */
	struct transfer_result sum;
	transfer_cb cb;
	void *arg;
};

static void plan_free(struct path_plan *p)
{
	if (!p)
		return;
	strv_free(&p->gone);
	strv_free(&p->unstaged);
	strv_free(&p->held);
	free(p);
}

static void plan_finish(struct transport *t, const struct transfer_result *r)
{
	struct path_plan *p = t->plan;
	t->plan = NULL;
	struct transfer_result res = *r;
	if (res.outcome == T_OK) {
		res.bytes = p->sum.bytes;
		res.files = p->sum.files;
		res.exit_code = p->sum.exit_code;
	}
	res.held = p->held.len ? &p->held : NULL;
	p->cb(p->arg, &res);
	plan_free(p);
}

static void plan_step_done(void *arg, const struct transfer_result *r);
static void plan_next(struct transport *t);

static void plan_timer_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct transport *t = arg;
	t->plan_timer = 0;
	plan_next(t);
}

/* A file changed less than the check's margin ago would fail the check
 * whatever rsync read (a file just written and closed, or moved in: a
 * rename sets ctime too): ms to wait until none has, 0 now. */
static long ms_until_aged(const struct transport *t, const struct strv *list)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec, wait_ns = 0;
	for (size_t i = 0; i < list->len && i < 1000; i++) {
		char *path = xasprintf("%s/%s", t->sc->source, list->items[i]);
		struct stat st;
		if (lstat(path, &st) == 0) {
			long long age = now_ns - ((long long)st.st_ctim.tv_sec * 1000000000LL +
						  st.st_ctim.tv_nsec);
			if (CHECK_MARGIN_NS - age > wait_ns)
				wait_ns = CHECK_MARGIN_NS - age;
		}
		free(path);
	}
	return wait_ns > 0 ? (long)(wait_ns / 1000000 + 2) : 0;
}

static void plan_next(struct transport *t)
{
	struct path_plan *p = t->plan;
	struct strv list = {0};
	long wait_ms = p->gone.len || p->waited ? 0 : ms_until_aged(t, &p->unstaged);
	if (wait_ms > 0 && wait_ms <= 100) {
		p->waited = true; /* once: a file rewritten without pause fails the check anyway */
		t->plan_timer = loop_add_timer(t->loop, wait_ms, plan_timer_cb, t);
		return;
	}
	if (p->gone.len) {
		list = p->gone;
		strv_init(&p->gone);
		start_run(t, RSYNC_PATHS, &list, p->allow_delete, false, plan_step_done, t);
	} else if (p->unstaged.len) {
		list = p->unstaged;
		strv_init(&p->unstaged);
		start_checked(t, RSYNC_CHECKED, &list, plan_step_done, t);
	} else {
		plan_finish(t, &p->sum);
		return;
	}
	strv_free(&list);
}

static void plan_step_done(void *arg, const struct transfer_result *r)
{
	struct transport *t = arg;
	struct path_plan *p = t->plan;
	if (!p)
		return;
	p->sum.bytes += r->bytes;
	p->sum.files += r->files;
	if (r->exit_code == 24)
		p->sum.exit_code = 24;
	for (size_t i = 0; r->held && i < r->held->len; i++)
		strv_push(&p->held, r->held->items[i]);
	if (r->outcome != T_OK)
		plan_finish(t, r);
	else
		plan_next(t);
}

static void log_batch(struct transport *t, const struct strv *staged, const struct path_plan *p)
{
	if (log_get_level() >= LOG_LVL_DEBUG) {
		struct buf names;
		buf_init(&names);
		for (size_t i = 0; i < staged->len && i < 30; i++)
			buf_addf(&names, " %s", staged->items[i]);
		log_debug("[sync %s] path batch: %zu staged, %zu deleted, %zu checked:%s",
			  t->sc->name, staged->len, p->gone.len, p->unstaged.len,
			  names.data ? names.data : "");
		buf_free(&names);
	}
	for (size_t i = 0; i < p->held.len; i++)
		log_info("[sync %s] %s changes faster than it can be copied whole: it waits for a "
			 "quiet moment (never a torn copy)",
			 t->sc->name, p->held.items[i]);
}

/* A path batch: stable copies of its files in the stage (never a torn
 * read) read by the primed rsync; deleted paths by an rsync of the source
 * (nothing to read there); files the stage does not copy by a checked run.
 * The callback hears once, with every run's held files. */
static void paths_start(struct transport *t, const struct strv *list, bool allow_delete,
			transfer_cb cb, void *arg)
{
	struct path_plan *p = xcalloc(1, sizeof(*p));
	strv_init(&p->gone);
	strv_init(&p->unstaged);
	strv_init(&p->held);
	p->allow_delete = allow_delete;
	p->sum.outcome = T_OK;
	p->cb = cb;
	p->arg = arg;
	t->plan = p;
	struct strv staged;
	strv_init(&staged);
	for (size_t i = 0; list && i < list->len; i++)
		strv_push(&staged, list->items[i]);
	stage_fill(t->stage, t->sc->source, &staged, &p->held, &p->gone, &p->unstaged);
	log_batch(t, &staged, p);
	if (!source_is_itself(t)) {
		/* Unmounted while the stage was read: what it missed is not gone,
		 * and --delete-missing-args must not say so on the target. */
		if (t->stage)
			stage_clear(t->stage);
		struct transfer_result res = {.outcome = T_FAILED, .exit_code = -1};
		snprintf(res.message, sizeof(res.message),
			 "the source is gone or on another file system: not shipped");
		plan_finish(t, &res);
	} else if (staged.len) {
		start_run(t, RSYNC_PATHS, &staged, allow_delete, true, plan_step_done, t);
	} else {
		plan_next(t);
	}
	strv_free(&staged);
}

void transport_rsync(struct transport *t, enum rsync_mode mode, const struct strv *list,
		     bool allow_delete, transfer_cb cb, void *arg)
{
	if (mode != RSYNC_VERIFY && local_no_room(t, cb, arg))
		return;
	/* The syncer's source guard looked before the batch; a disk unmounted
	 * since then must not become a deletion either. */
	if (!source_is_itself(t)) {
		fail_now(t, cb, arg, "the source is gone or on another file system: not shipped");
		return;
	}
	if (mode == RSYNC_PATHS)
		paths_start(t, list, allow_delete, cb, arg);
	else if (checked_mode(mode))
		start_checked(t, mode, list, cb, arg);
	else
		start_run(t, mode, list, allow_delete, false, cb, arg);
}

static void local_renames(struct transport *t, const struct rename_op *ops, size_t n,
			  bool *failed, transfer_cb cb, void *arg)
{
	struct transfer_result res = {.outcome = T_OK};
	int root = open(t->sc->target_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *run = keeps(t) ? history_run_dir("") : NULL;
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		if (root < 0 || history_rename(root, ops[i].from, ops[i].to, run, &err) < 0) {
			failed[i] = true;
			res.n_renames_failed++;
		}
		free(err);
	}
	free(run);
	if (root >= 0) {
		char *err = NULL;
		if (history_sync(root, "the renames", &err) < 0) { /* on disk before they count */
			res.outcome = T_FAILED;
			snprintf(res.message, sizeof(res.message), "%s", err);
			free(err);
		}
		close(root);
	}
	cb(arg, &res);
}

/* One `lifeboat serve REQUEST [ARGS]` on the target over the ssh master.
 * ARGS are ours (digits), never a file name. */
static struct run *start_helper(struct transport *t, enum helper_kind kind, const char *request,
				char *const *args, const void *input, size_t input_len,
				transfer_cb cb, void *arg)
{
	struct strv argv;
	strv_init(&argv);
	ssh_words(t->sc, master_ready(t) ? t->control_path : NULL, &argv);
	strv_push(&argv, "-o");
	strv_push(&argv, "ControlMaster=no");
	strv_push(&argv, "--");
	strv_push(&argv, t->sc->target_host);
	struct buf cmd;
	buf_init(&cmd);
	buf_addf(&cmd, SERVE_CMD " %s", request);
	for (size_t i = 0; args && args[i]; i++)
		buf_addf(&cmd, " %s", args[i]);
	strv_push(&argv, cmd.data);
	buf_free(&cmd);
	struct run *r = xcalloc(1, sizeof(*r));
	r->t = t;
	r->kind = kind;
	r->claimed = true;
	r->cb = cb;
	r->arg = arg;
	struct proc_opts o = {.argv = argv.items, .stdin_pipe = true, .capture_stdout = true,
			      .timeout_ms = 120000};
	char *err = NULL;
	r->p = proc_start(t->loop, &o, on_run_exit, r, &err);
	strv_free(&argv);
	if (!r->p) {
		free(r);
		fail_now(t, cb, arg, err);
		free(err);
		return NULL;
	}
	t->active = r;
	proc_write_stdin(r->p, input, input_len);
	proc_close_stdin(r->p);
	return r;
}

void transport_serve_argv(const struct transport *t, const char *request, struct strv *argv)
{
	ssh_words(t->sc, master_ready(t) ? t->control_path : NULL, argv);
	strv_push(argv, "-o");
	strv_push(argv, "ControlMaster=no");
	strv_push(argv, "--");
	strv_push(argv, t->sc->target_host);
	strv_pushf(argv, SERVE_CMD " %s", request);
}

void transport_copy_root_times(struct transport *t, transfer_cb cb, void *arg)
{
	if (t->lingering) {
		/* A run reported done from its statistics may still be moving
		 * files into the top directory on the target, which would change
		 * its times again. */
		t->root_cb = cb;
		t->root_arg = arg;
		return;
	}
	struct stat st;
	struct transfer_result res = {.outcome = T_OK};
	if (!source_is_itself(t) || stat(t->sc->source, &st) < 0) {
		/* Not the times of an empty mount point: the next full pass will tell. */
		cb(arg, &res);
		return;
	}
	if (!t->remote) {
		struct timespec times[2] = {st.st_atim, st.st_mtim};
		utimensat(AT_FDCWD, t->sc->target_path, times, 0);
		cb(arg, &res);
		return;
	}
	char at[64], mt[64];
	snprintf(at, sizeof(at), "%ld.%09ld", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	snprintf(mt, sizeof(mt), "%ld.%09ld", (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	char *args[] = {at, mt, NULL};
	start_helper(t, HELPER_UTIME, "utime", args, t->sc->target_path,
		     strlen(t->sc->target_path) + 1, cb, arg);
}

void transport_read_peer_file(struct transport *t, const char *path, transfer_cb cb, void *arg)
{
	if (!t->remote) {
		struct transfer_result res = {.outcome = T_OK};
		char *text = read_file(path, NULL);
		snprintf(res.text, sizeof(res.text), "%s", text ? text : "none\n");
		free(text);
		cb(arg, &res);
		return;
	}
	start_helper(t, HELPER_READ, "read", NULL, path, strlen(path) + 1, cb, arg);
}

void transport_renames(struct transport *t, const struct rename_op *ops, size_t n, bool *failed,
		       transfer_cb cb, void *arg)
{
	if (!t->remote) {
		local_renames(t, ops, n, failed, cb, arg);
		return;
	}
	struct buf b;
	buf_init(&b);
	buf_add(&b, t->sc->target_path, strlen(t->sc->target_path) + 1);
	for (size_t i = 0; i < n; i++) {
		buf_add(&b, ops[i].from, strlen(ops[i].from) + 1);
		buf_add(&b, ops[i].to, strlen(ops[i].to) + 1);
	}
	struct run *r = start_helper(t, HELPER_RENAME, "rename", NULL, b.data, b.len, cb, arg);
	if (r) {
		r->failed = failed;
		r->n_ops = n;
	}
	buf_free(&b);
}

bool transport_sync_owed(const struct transport *t)
{
	for (const struct placed *pl = t->placed; pl; pl = pl->next)
		if (!pl->claimed)
			return true;
	return t->sync_owed;
}

void transport_owe_sync(struct transport *t)
{
	if (!t->remote)
		settle_owed(t, true); /* the whole tree: one syncfs */
}

static bool placed_claimed(const struct transport *t)
{
	for (const struct placed *pl = t->placed; pl; pl = pl->next)
		if (pl->claimed)
			return true;
	return false;
}

/* Once every claimed serve exited, the sync they were is done (or the
 * first error says why not). */
static void placed_check(struct transport *t)
{
	if (!t->placed_cb)
		return;
	for (const struct placed *pl = t->placed; pl; pl = pl->next)
		if (pl->claimed && pl->ts)
			return;
	struct transfer_result res = {.outcome = T_OK};
	for (struct placed **pp = &t->placed; *pp;) {
		struct placed *pl = *pp;
		if (!pl->claimed) {
			pp = &pl->next;
			continue;
		}
		if (pl->err && res.outcome == T_OK) {
			res.outcome = T_FAILED;
			snprintf(res.message, sizeof(res.message), "%s", pl->err);
		}
		*pp = pl->next;
		free(pl->err);
		free(pl);
	}
	transfer_cb cb = t->placed_cb;
	t->placed_cb = NULL;
	cb(t->placed_arg, &res);
}

/* A remote target: the serves that placed streams sync on their own; this
 * sync is waiting for every one not yet waited for. */
static void placed_sync(struct transport *t, transfer_cb cb, void *arg)
{
	for (struct placed *pl = t->placed; pl; pl = pl->next)
		pl->claimed = true;
	t->placed_cb = cb;
	t->placed_arg = arg;
	placed_check(t);
}

/* The batch's sync runs in a thread: the loop collects and ships the next
 * batch meanwhile; cb (from the loop) says when this one is on disk. */
struct bg_sync {
	struct transport *t;
	pthread_t thread;
	int dir_fd;
	struct settle_set *files; /* what to fsync; NULL or over: syncfs */
	uint64_t placing_mark;    /* the merges' logs it puts on disk */
	const char *target;
	int done_fd; /* eventfd: the thread finished */
	char *err;   /* NULL: on disk */
	transfer_cb cb;
	void *arg;
};

/* The files and directories settle collected, else the file system. */
static void sync_written(struct bg_sync *b)
{
	if (b->files && !b->files->over)
		settle_fsync(b->files, &b->err);
	else
		history_sync(b->dir_fd, b->target, &b->err);
}

static void *bg_sync_run(void *arg)
{
	struct bg_sync *b = arg;
	sync_written(b);
	uint64_t one = 1;
	if (write(b->done_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot fail with a counter this small */
	}
	return NULL;
}

static void bg_sync_free(struct bg_sync *b)
{
	if (b->done_fd >= 0)
		close(b->done_fd);
	close(b->dir_fd);
	settle_free(b->files);
	free(b->err);
	free(b);
}

static void bg_sync_end(struct transport *t)
{
	struct bg_sync *b = t->bg;
	t->bg = NULL;
	loop_del_fd(t->loop, b->done_fd);
	pthread_join(b->thread, NULL);
	bg_sync_free(b);
}

/* From the loop (placing's list is the loop's). */
static void bg_sync_result(struct bg_sync *b, struct transfer_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = b->err ? T_FAILED : T_OK;
	if (b->err)
		snprintf(res->message, sizeof(res->message), "%s", b->err);
	else
		placing_synced(b->placing_mark);
}

static void on_bg_sync_done(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct transport *t = arg;
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	struct transfer_result res;
	bg_sync_result(t->bg, &res);
	transfer_cb cb = t->bg->cb;
	void *cb_arg = t->bg->arg;
	bg_sync_end(t);
	cb(cb_arg, &res);
}

bool transport_syncing(const struct transport *t)
{
	return t->bg != NULL || placed_claimed(t);
}

void transport_sync(struct transport *t, transfer_cb cb, void *arg)
{
	if (t->remote) {
		placed_sync(t, cb, arg);
		return;
	}
	struct transfer_result res = {.outcome = T_FAILED};
	int dir_fd = open(t->sc->target_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		snprintf(res.message, sizeof(res.message), "cannot open %s: %s", t->sc->target_path,
			 strerror(errno));
		cb(arg, &res);
		return;
	}
	struct bg_sync *b = xcalloc(1, sizeof(*b));
	b->t = t;
	b->cb = cb;
	b->arg = arg;
	b->dir_fd = dir_fd;
	b->placing_mark = placing_mark();
	b->target = t->sc->target_path;
	/* What is written from now on is the next sync's. */
	b->files = t->settle;
	t->settle = NULL;
	t->sync_owed = false;
	b->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->done_fd < 0 || (errno = pthread_create(&b->thread, NULL, bg_sync_run, b)) != 0) {
		/* No thread: the loop waits for this one sync itself. */
		sync_written(b);
		bg_sync_result(b, &res);
		bg_sync_free(b);
		cb(arg, &res);
		return;
	}
	t->bg = b;
	loop_add_fd(t->loop, b->done_fd, EPOLLIN, on_bg_sync_done, t);
}
