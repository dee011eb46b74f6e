#include "tarstream.h"
#include "child.h"
#include "beneath.h"
#include "exclude.h"
#include "history.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"

/* The remote end: `lifeboat serve tar-x` reads a header (10 digits: its
 * length, then the target directory and the tree names, NUL-separated)
 * without consuming a byte of the archive behind it, refuses when a tree
 * exists (exit 3), and unpacks the rest through a staging directory. Names
 * arrive on stdin, never on a command line. */
static const char serve_tar_cmd[] = "lifeboat serve tar-x";

/* The header must fit the empty pipe in one write (64 KiB on Linux) so
 * writing it never blocks the loop. */
#define MAX_HEADER 60000

#define GUARD_EXISTS 3

struct tarstream {
	struct proc *sender;
	struct proc *receiver;
	bool remote;
	int root_fd;   /* a local target: where the staging is merged */
	char *staging; /* ... relative to it, NULL when remote */
	bool keep_history;
	bool sync_later; /* the caller syncs after the moves */
	struct loop *loop;
	int trailer_fd;      /* remote: our end of the stream, for the trailer */
	bool trailer_watched; /* ...in the loop, waiting for room in the pipe */
	int ended; /* exit callbacks seen: the result waits for both */
	bool sender_done;
	bool placed_told; /* remote: TS_OK went out when serve placed the trees */
	/* tarstream_prime: the receiver runs and waits for its header on
	 * primed_fd (our end of its stdin); dead: it ended before its batch. */
	int primed_fd;
	bool primed_dead;
	uint64_t files;
	char *source;
	tarstream_cb cb;
	void *arg;
};

/* ---- the member list ---- */

struct walk {
	const struct exclude_set *x;
	struct buf *list;
	struct buf path; /* source/relative, the relative part after rel_at */
	size_t rel_at;
	uint64_t files;
	char *why;
	bool any;       /* a member is listed */
	size_t last_at; /* where the last member starts in list */
};

static unsigned char type_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return DT_UNKNOWN;
	if (S_ISDIR(st.st_mode))
		return DT_DIR;
	if (S_ISREG(st.st_mode))
		return DT_REG;
	if (S_ISSOCK(st.st_mode))
		return DT_SOCK;
	return DT_LNK; /* symlinks, devices, fifos: tar keeps them as they are */
}

static void path_cut(struct buf *b, size_t len)
{
	b->len = len;
	b->data[len] = '\0';
}

static void list_name(struct walk *w, const char *name, size_t len)
{
	w->any = true;
	w->last_at = w->list->len;
	buf_add(w->list, name, len + 1);
}

static void add_member(struct walk *w)
{
	list_name(w, w->path.data + w->rel_at, w->path.len - w->rel_at);
}

static int walk_dir(struct walk *w)
{
	DIR *d = opendir(w->path.data);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* gone meanwhile: tar says so, and rsync takes over */
		w->why = xasprintf("cannot read %s: %s", w->path.data, strerror(errno));
		return -1;
	}
	size_t len = w->path.len;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		const char *n = e->d_name;
		if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
			continue;
		path_cut(&w->path, len);
		buf_addc(&w->path, '/');
		buf_adds(&w->path, n);
		unsigned char type = e->d_type == DT_UNKNOWN ? type_of(w->path.data) : e->d_type;
		if (type == DT_SOCK) {
			/* tar skips sockets; rsync -a copies them. */
			w->why = xasprintf("%s is a socket", w->path.data);
			rc = -1;
			break;
		}
		if (exclude_match(w->x, n, type == DT_DIR))
			continue;
		add_member(w);
		if (type == DT_REG)
			w->files++;
		else if (type == DT_DIR)
			rc = walk_dir(w);
	}
	closedir(d);
	path_cut(&w->path, len);
	return rc;
}

static bool within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* tar -x sets a directory's times when it meets the first member outside
 * it, and a file added to the directory later changes them again. So a
 * directory is listed (again) unless the last member is it or inside it:
 * then its times are still to be set, after whatever follows inside. */
static void add_named(struct walk *w, const char *name)
{
	if (w->any && within(w->list->data + w->last_at, name))
		return;
	list_name(w, name, strlen(name));
}

/* The parents of an entry, so tar gives them the source's times and modes
 * as rsync does for implied directories. Their names must not be excluded:
 * an excluded parent is rsync's to judge. */
static int add_parents(struct walk *w, const char *rel)
{
	for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *parent = xstrndup(rel, (size_t)(slash - rel));
		const char *base = strrchr(parent, '/');
		base = base ? base + 1 : parent;
		int rc = 0;
		if (exclude_match(w->x, base, true)) {
			w->why = xasprintf("%s is excluded", parent);
			rc = -1;
		} else {
			add_named(w, parent);
		}
		free(parent);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static void set_rel(struct walk *w, const char *rel)
{
	path_cut(&w->path, w->rel_at);
	buf_adds(&w->path, rel);
}

static int add_tree(struct walk *w, const char *tree)
{
	const char *base = strrchr(tree, '/');
	base = base ? base + 1 : tree;
	if (!tree[0] || exclude_match(w->x, base, true)) {
		w->why = xasprintf("'%s' is not a tree for the stream", tree);
		return -1;
	}
	if (add_parents(w, tree) < 0)
		return -1;
	set_rel(w, tree);
	if (type_of(w->path.data) != DT_DIR) {
		w->why = xasprintf("%s is not a directory (any more)", w->path.data);
		return -1;
	}
	add_member(w);
	return walk_dir(w);
}

/* A single entry: a new file, or a directory whose own attributes changed.
 * Returns 1 when it is rsync's (gone: rsync deletes it at the target; a
 * hard link: rsync keeps links; anything else but a plain file, directory
 * or symlink). */
static int add_flat(struct walk *w, const char *rel)
{
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	set_rel(w, rel);
	struct stat st;
	if (!rel[0] || lstat(w->path.data, &st) < 0)
		return 1;
	bool dir = S_ISDIR(st.st_mode);
	if (!(S_ISREG(st.st_mode) || dir || S_ISLNK(st.st_mode)) ||
	    (S_ISREG(st.st_mode) && st.st_nlink > 1) || exclude_match(w->x, base, dir))
		return 1;
	if (add_parents(w, rel) < 0)
		return -1;
	if (dir) {
		add_named(w, rel);
	} else {
		list_name(w, rel, strlen(rel));
		if (S_ISREG(st.st_mode))
			w->files++;
	}
	return 0;
}

/* Path order with '/' below every other byte: a directory's entries come
 * right after it ("a", "a/x", "a-b"), so few directories are listed twice. */
static int component_cmp(const void *pa, const void *pb)
{
	const unsigned char *a = *(const unsigned char *const *)pa;
	const unsigned char *b = *(const unsigned char *const *)pb;
	for (;; a++, b++) {
		int ca = *a == '/' ? 1 : *a ? *a + 1 : 0;
		int cb = *b == '/' ? 1 : *b ? *b + 1 : 0;
		if (ca != cb || !ca)
			return ca - cb;
	}
}

int tarstream_list(const char *source, const struct strv *trees, struct strv *flat,
		   struct strv *rest, const struct exclude_set *x, struct buf *list,
		   uint64_t *files, char **why)
{
	struct walk w = {.x = x, .list = list};
	buf_init(&w.path);
	buf_adds(&w.path, source);
	buf_addc(&w.path, '/');
	w.rel_at = w.path.len;
	struct strv kept;
	strv_init(&kept);
	size_t rest_len = rest->len;
	if (flat)
		qsort(flat->items, flat->len, sizeof(*flat->items), component_cmp);
	int rc = 0;
	char **order = xcalloc(trees->len + 1, sizeof(*order));
	memcpy(order, trees->items, trees->len * sizeof(*order));
	qsort(order, trees->len, sizeof(*order), component_cmp);
	for (size_t i = 0; rc == 0 && i < trees->len; i++)
		rc = add_tree(&w, order[i]);
	free(order);
	for (size_t i = 0; rc == 0 && flat && i < flat->len; i++) {
		rc = add_flat(&w, flat->items[i]);
		if (rc == 1) {
			strv_push(rest, flat->items[i]);
			rc = 0;
		} else if (rc == 0) {
			strv_push(&kept, flat->items[i]);
		}
	}
	if (rc == 0 && flat) {
		strv_free(flat);
		*flat = kept;
	} else {
		strv_free(&kept);
		while (rest->len > rest_len) /* all of flat stays with the caller */
			free(rest->items[--rest->len]);
		rest->items[rest->len] = NULL;
	}
	buf_free(&w.path);
	*files = w.files;
	if (rc < 0)
		*why = w.why;
	else
		free(w.why);
	return rc;
}

/* ---- the two children ---- */

enum tarstream_outcome tarstream_classify(int sender_code, int receiver_code, bool remote)
{
	if (remote && receiver_code == 255)
		return TS_UNREACHABLE;
	if (receiver_code != 0)
		return TS_USE_RSYNC;
	/* The receiver read a whole archive. The sender may have been told "file
	 * changed as we read it" (1: its close comes as a change of its own), or
	 * got SIGPIPE writing padding after the end; 2 means something could not
	 * be read and is missing. */
	if (sender_code == 0 || sender_code == 1 || sender_code == 128 + SIGPIPE)
		return TS_OK;
	return TS_USE_RSYNC;
}

static uint64_t bytes_written(const char *tail)
{
	const char *p = strstr(tail, "Total bytes written: ");
	return p ? strtoull(p + 21, NULL, 10) : 0;
}

/* A local target: everything unpacked goes into place, and the staging
 * directory goes. */
static int local_merge(struct tarstream *ts, char **err)
{
	char *run = ts->keep_history ? history_run_dir("") : NULL;
	int rc = history_merge_then(ts->root_fd, ts->staging, run, !ts->sync_later, err);
	free(run);
	return rc;
}

static void remove_staging(struct tarstream *ts)
{
	if (ts->staging)
		history_staging_remove(ts->root_fd, ts->staging);
}

/* A local target's staging directory, made fresh: .lifeboat-history/
 * .staging/.incoming-PID-N (a crashed run's leftovers are removed by the
 * next). */
static int make_staging(struct tarstream *ts, const char *target, char **why)
{
	static unsigned counter;
	ts->root_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ts->root_fd < 0) {
		*why = xasprintf("cannot open %s: %s", target, strerror(errno));
		return -1;
	}
	history_clean_staging(target);
	char *n = xasprintf("%u", counter++);
	ts->staging = history_staging_make(ts->root_fd, n, why);
	free(n);
	return ts->staging ? 0 : -1;
}

static void close_trailer(struct tarstream *ts)
{
	if (ts->trailer_fd < 0)
		return;
	if (ts->trailer_watched)
		loop_del_fd(ts->loop, ts->trailer_fd);
	close(ts->trailer_fd);
	ts->trailer_fd = -1;
	ts->trailer_watched = false;
}

static void on_trailer_room(struct loop *loop, int fd, uint32_t events, void *arg);

/* One write (shorter than PIPE_BUF: all or nothing); a full pipe is
 * waited for in the loop, never blocked on. */
static void write_trailer(struct tarstream *ts)
{
	ssize_t w = write(ts->trailer_fd, TARSTREAM_TRAILER, TARSTREAM_TRAILER_LEN);
	if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (!ts->trailer_watched &&
		    loop_add_fd(ts->loop, ts->trailer_fd, EPOLLOUT, on_trailer_room, ts) == 0) {
			ts->trailer_watched = true;
			return;
		}
		if (ts->trailer_watched)
			return;
	}
	if (w != (ssize_t)TARSTREAM_TRAILER_LEN)
		log_debug("tar stream: no trailer (the receiving end is gone): %s",
			  w < 0 ? strerror(errno) : "short write");
	close_trailer(ts); /* the receiver's EOF */
}

static void on_trailer_room(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	write_trailer(arg);
}

#define CHANGED_SUFFIX ": file changed as we read it"

/* One line of tar -c's stderr that does not make the archive less whole:
 * its totals, or a directory that gained or lost an entry while it was
 * listed (a new tree being filled: tar -c checks a directory's ctime after
 * writing its header, and the entries themselves are members, or queued
 * by their own events). A quoted name (a backslash) is not judged. */
static bool harmless_line(const char *source, const char *line, size_t len)
{
	static const char totals[] = "Total bytes written: ";
	static const char prefix[] = "tar: ";
	size_t plen = sizeof(prefix) - 1, slen = sizeof(CHANGED_SUFFIX) - 1;
	if (len >= sizeof(totals) - 1 && !memcmp(line, totals, sizeof(totals) - 1))
		return true;
	if (len <= plen + slen || memcmp(line, prefix, plen) ||
	    memcmp(line + len - slen, CHANGED_SUFFIX, slen))
		return false;
	const char *name = line + plen;
	size_t nlen = len - plen - slen;
	if (memchr(name, '\\', nlen))
		return false;
	char *path = xasprintf("%s/%.*s", source, (int)nlen, name);
	struct stat st;
	bool dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	return dir;
}

int tarstream_sender_verdict(const char *source, int code, const char *tail)
{
	size_t len = strlen(tail);
	if (code != 1 || !strstr(tail, CHANGED_SUFFIX) || len + 1 >= PROC_STDERR_TAIL / 2)
		return code;
	for (const char *line = tail; *line;) {
		const char *end = strchr(line, ';');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		if (!harmless_line(source, line, n))
			return code;
		line += n + (end ? 1 : 0);
	}
	return 0;
}

static int sender_verdict(struct tarstream *ts, struct proc *p)
{
	return tarstream_sender_verdict(ts->source, proc_exit_code(p), proc_stderr_tail(p));
}

/* The sender is done: vouch for the archive only when tar read every
 * member whole (exit 0); else the receiver sees EOF without a trailer and
 * moves nothing into place. */
static void after_sender(struct tarstream *ts, int sender_code)
{
	if (ts->trailer_fd < 0)
		return;
	if (sender_code != 0) {
		close_trailer(ts);
		return;
	}
	fcntl(ts->trailer_fd, F_SETFL, fcntl(ts->trailer_fd, F_GETFL) | O_NONBLOCK);
	write_trailer(ts);
}

/* Over ssh: serve moved everything into place (it does so only behind our
 * trailer) and syncs now; the caller may ship on and waits for its exit to
 * count the batch. */
static void on_receiver_output(struct proc *p, void *arg)
{
	struct tarstream *ts = arg;
	const struct buf *out = proc_stdout(p);
	if (ts->placed_told || !ts->sender_done || !out->data ||
	    !strstr(out->data, TARSTREAM_PLACED))
		return;
	ts->placed_told = true;
	struct tarstream_result r = {.outcome = TS_OK, .files = ts->files, .sync_pending = true,
				     .stream = ts};
	r.bytes = bytes_written(proc_stderr_tail(ts->sender));
	ts->cb(ts->arg, &r);
}

/* ... and its exit says whether that sync is done. */
static void report_synced(struct tarstream *ts)
{
	int rc = proc_exit_code(ts->receiver);
	struct tarstream_result r = {.outcome = rc == 0 ? TS_OK : TS_USE_RSYNC, .files = ts->files,
				     .synced = true, .stream = ts};
	if (rc != 0)
		snprintf(r.message, sizeof(r.message), "ssh/serve tar-x exit %d after the moves: %s",
			 rc, proc_stderr_tail(ts->receiver));
	ts->cb(ts->arg, &r); /* may free ts */
}

static void on_child_exit(struct proc *p, void *arg)
{
	struct tarstream *ts = arg;
	if (!ts->cb) {
		ts->primed_dead = true; /* a primed receiver, gone before its batch */
		return;
	}
	if (p == ts->sender) {
		ts->sender_done = true;
		after_sender(ts, sender_verdict(ts, p));
	}
	if (++ts->ended < 2)
		return;
	close_trailer(ts);
	if (ts->placed_told) {
		report_synced(ts);
		return;
	}
	struct tarstream_result r = {.files = ts->files};
	int sc = sender_verdict(ts, ts->sender), rc = proc_exit_code(ts->receiver);
	r.outcome = tarstream_classify(sc, rc, ts->remote);
	char *merge_err = NULL;
	if (ts->staging && r.outcome == TS_OK && sc == 1) {
		/* A file changed while tar read it: what was unpacked may be torn.
		 * Nothing of it gets a final name; rsync ships whole copies. */
		r.outcome = TS_USE_RSYNC;
		merge_err = xstrdup("a file changed while it was read");
	} else if (ts->staging && r.outcome == TS_OK && local_merge(ts, &merge_err) < 0) {
		r.outcome = TS_USE_RSYNC;
		rc = -1;
	}
	if (ts->remote && sc != 0 && r.outcome != TS_UNREACHABLE && rc != GUARD_EXISTS) {
		/* Our sender failed, so we did not vouch: serve moved nothing into
		 * place, on our word. Not the receiving end's failure. */
		r.outcome = TS_USE_RSYNC;
		rc = 0;
		merge_err = xstrdup(sc == 1 ? "a file changed while it was read: nothing of it "
					     "was moved into place"
					   : "the archive was not whole: nothing of it was moved "
					     "into place");
	}
	r.exists = ts->remote && rc == GUARD_EXISTS;
	r.receiver_failed = rc != 0 && !r.exists;
	const char *stail = proc_stderr_tail(ts->sender);
	r.bytes = bytes_written(stail);
	if (r.outcome != TS_OK)
		snprintf(r.message, sizeof(r.message), "tar exit %d: %s; %s exit %d: %s", sc, stail,
			 ts->remote ? "ssh/serve tar-x" : "tar -x", rc,
			 merge_err ? merge_err : proc_stderr_tail(ts->receiver));
	free(merge_err);
	ts->cb(ts->arg, &r); /* may free ts */
}

/* A local target: refuse here what the guard refuses remotely. */
static int local_trees_absent(const char *target, const struct strv *trees, char **why)
{
	for (size_t i = 0; i < trees->len; i++) {
		char *p = xasprintf("%s/%s", target, trees->items[i]);
		struct stat st;
		bool exists = lstat(p, &st) == 0;
		if (exists)
			*why = xasprintf("%s exists on the target", p);
		free(p);
		if (exists)
			return -1;
	}
	return 0;
}

static int write_header(int fd, const char *target, const struct strv *trees, char **why)
{
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "0000000000");
	buf_add(&b, target, strlen(target) + 1);
	for (size_t i = 0; i < trees->len; i++)
		buf_add(&b, trees->items[i], strlen(trees->items[i]) + 1);
	int rc = -1;
	if (b.len > MAX_HEADER) {
		*why = xasprintf("%zu trees: too many names for one stream", trees->len);
	} else {
		char digits[11];
		snprintf(digits, sizeof(digits), "%010zu", b.len - 10);
		memcpy(b.data, digits, 10);
		ssize_t w = write(fd, b.data, b.len);
		if (w == (ssize_t)b.len)
			rc = 0;
		else
			*why = xasprintf("cannot write the stream header: %s",
					 w < 0 ? strerror(errno) : "short write");
	}
	buf_free(&b);
	return rc;
}

static void sender_argv(const char *source, struct strv *argv)
{
	strv_push(argv, "tar");
	strv_push(argv, "-c");
	strv_push(argv, "-f");
	strv_push(argv, "-");
	/* pax: nanosecond times and names of any length and bytes. */
	strv_push(argv, "--format=posix");
	strv_push(argv, "--pax-option=delete=atime,delete=ctime");
	strv_push(argv, "--null");
	strv_push(argv, "--verbatim-files-from"); /* a name starting with '-' is a name */
	strv_push(argv, "--no-recursion");        /* the list is complete */
	strv_push(argv, "--totals");
	strv_push(argv, "-C");
	strv_push(argv, source);
	strv_push(argv, "-T");
	strv_push(argv, "-");
}

static void receiver_argv(const struct tarstream_target *tt, const char *staging,
			  struct strv *argv)
{
	if (tt->ssh_argv) {
		for (size_t i = 0; tt->ssh_argv[i]; i++)
			strv_push(argv, tt->ssh_argv[i]);
		strv_push(argv, serve_tar_cmd);
		return;
	}
	strv_push(argv, "tar");
	strv_push(argv, "-x");
	strv_push(argv, "-p");
	strv_push(argv, "-f");
	strv_push(argv, "-");
	strv_push(argv, "-C");
	strv_pushf(argv, "%s/%s", tt->target_path, staging);
}

static struct proc *spawn(struct loop *loop, struct strv *argv, int in_from, int out_to,
			  bool stdin_pipe, struct tarstream *ts, char **why)
{
	/* serve's word that it placed the trees comes on its stdout. */
	struct proc_opts o = {.argv = argv->items, .stdin_pipe = stdin_pipe,
			      .capture_stdout = ts->remote && in_from >= 0,
			      .stdin_from = in_from, .stdout_to = out_to};
	struct proc *p = proc_start(loop, &o, on_child_exit, ts, why);
	strv_free(argv);
	strv_init(argv);
	return p;
}

static size_t count_names(const struct buf *list)
{
	size_t n = 0;
	for (size_t i = 0; i < list->len; i++)
		n += list->data[i] == '\0';
	return n;
}

/* Not this time: every flat entry goes back to the caller's rsync list. */
static struct tarstream *decline(struct buf *list, struct strv *flat, struct strv *rest)
{
	buf_free(list);
	for (size_t i = 0; flat && i < flat->len; i++)
		strv_push(rest, flat->items[i]);
	if (flat) {
		strv_free(flat);
		strv_init(flat);
	}
	return NULL;
}

static struct tarstream *stream_new(struct loop *loop, bool remote)
{
	struct tarstream *ts = xcalloc(1, sizeof(*ts));
	ts->root_fd = -1;
	ts->trailer_fd = -1;
	ts->primed_fd = -1;
	ts->loop = loop;
	ts->remote = remote;
	return ts;
}

static void spawn_receiver(struct tarstream *ts, const struct tarstream_target *tt, int in_from,
			   char **why)
{
	struct strv argv;
	strv_init(&argv);
	receiver_argv(tt, ts->staging, &argv);
	ts->receiver = spawn(ts->loop, &argv, in_from, -1, false, ts, why);
	if (ts->receiver && ts->remote)
		proc_on_output(ts->receiver, on_receiver_output);
	strv_free(&argv);
}

struct tarstream *tarstream_prime(struct loop *loop, char *const *ssh_argv, char **why)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*why = xasprintf("pipe: %s", strerror(errno));
		return NULL;
	}
	struct tarstream *ts = stream_new(loop, true);
	struct tarstream_target tt = {.ssh_argv = ssh_argv};
	spawn_receiver(ts, &tt, pipefd[0], why);
	close(pipefd[0]);
	ts->primed_fd = pipefd[1];
	if (!ts->receiver) {
		tarstream_free(ts);
		return NULL;
	}
	return ts;
}

/* The primed receiver, when it is still there to take this batch. */
static struct tarstream *take_primed(struct tarstream **primed, bool remote)
{
	struct tarstream *ts = primed ? *primed : NULL;
	if (!ts)
		return NULL;
	*primed = NULL;
	if (remote && !ts->primed_dead && proc_running(ts->receiver))
		return ts;
	tarstream_free(ts);
	return NULL;
}

struct tarstream *tarstream_start(struct loop *loop, const struct tarstream_target *tt,
				  const struct strv *trees, struct strv *flat, struct strv *rest,
				  size_t min_members, struct tarstream **primed, tarstream_cb cb,
				  void *arg, char **why)
{
	bool remote = tt->ssh_argv != NULL;
	struct buf list;
	buf_init(&list);
	uint64_t files = 0;
	if ((!remote && local_trees_absent(tt->target_path, trees, why) < 0) ||
	    tarstream_list(tt->source, trees, flat, rest, tt->excludes, &list, &files, why) < 0)
		return decline(&list, flat, rest);
	size_t members = count_names(&list);
	if (members == 0 || members < min_members) {
		*why = xasprintf("%zu entries: rsync is quicker for a few", members);
		return decline(&list, flat, rest);
	}
	/* The pipe from tar -c to the receiver: the primed receiver's stdin,
	 * else a new one. */
	int pipefd[2] = {-1, -1};
	struct tarstream *ts = take_primed(primed, remote);
	if (ts) {
		pipefd[1] = ts->primed_fd;
		ts->primed_fd = -1;
	} else if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*why = xasprintf("pipe: %s", strerror(errno));
		return decline(&list, flat, rest);
	} else {
		ts = stream_new(loop, remote);
	}
	ts->keep_history = tt->keep_history;
	ts->sync_later = tt->sync_later;
	if (!remote && make_staging(ts, tt->target_path, why) < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		tarstream_free(ts);
		return decline(&list, flat, rest);
	}
	ts->files = files;
	ts->source = xstrdup(tt->source);
	ts->cb = cb;
	ts->arg = arg;
	if (!remote || write_header(pipefd[1], tt->target_path, trees, why) == 0) {
		if (!ts->receiver)
			spawn_receiver(ts, tt, pipefd[0], why);
	} else if (ts->receiver) {
		proc_free(ts->receiver); /* a primed one: it got no header */
		ts->receiver = NULL;
	}
	struct strv argv;
	strv_init(&argv);
	if (ts->receiver) {
		sender_argv(tt->source, &argv);
		ts->sender = spawn(loop, &argv, -1, pipefd[1], true, ts, why);
	}
	/* The children hold the pipe now; the receiver sees EOF when the
	 * sender is done (and, over ssh, once the trailer is behind it). */
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (remote && ts->sender)
		ts->trailer_fd = pipefd[1];
	else
		close(pipefd[1]);
	strv_free(&argv);
	if (!ts->sender) {
		tarstream_free(ts);
		return decline(&list, flat, rest);
	}
	proc_write_stdin(ts->sender, list.data ? list.data : "", list.len);
	proc_close_stdin(ts->sender);
	buf_free(&list);
	return ts;
}

void tarstream_free(struct tarstream *ts)
{
	if (!ts)
		return;
	close_trailer(ts);
	if (ts->primed_fd >= 0)
		close(ts->primed_fd); /* a primed serve's EOF: it ends quietly */
	proc_free(ts->sender);
	proc_free(ts->receiver);
	remove_staging(ts);
	if (ts->root_fd >= 0)
		close(ts->root_fd);
	free(ts->staging);
	free(ts->source);
	free(ts);
}

/* ---- the receiving end over ssh (serve tar-x) ---- */

/* stdin copied into tar -x, all but the last TARSTREAM_TRAILER_LEN bytes:
 * those are the sender's word that the archive is whole. GNU tar reads a
 * pipe to its end, so the trailer cannot simply follow the archive into
 * it. */
struct receive {
	struct loop *loop;
	int in, out;
	char buf[1 << 16];
	size_t len, off;                  /* bytes for tar, not yet written */
	char tail[TARSTREAM_TRAILER_LEN]; /* the last bytes read, held back */
	size_t tail_len;
	bool eof, broken, tar_done;
	/* tar stopped reading (it exits once it read the end of the archive,
	 * which may be before the trailer and our EOF arrived): stdin is read
	 * on for the trailer, nothing more goes to tar. */
	bool draining;
};

static void receive_check_done(struct receive *rv)
{
	if (rv->tar_done && (rv->eof || rv->broken))
		loop_stop(rv->loop);
}

/* What was read (n bytes in data) joins the held-back tail; all but the
 * last TARSTREAM_TRAILER_LEN bytes of the two go to tar. */
static void receive_take(struct receive *rv, const char *data, size_t n)
{
	size_t total = rv->tail_len + n, keep = TARSTREAM_TRAILER_LEN;
	if (total <= keep) {
		memcpy(rv->tail + rv->tail_len, data, n);
		rv->tail_len = total;
		return;
	}
	size_t send = total - keep, from_tail = send < rv->tail_len ? send : rv->tail_len;
	memcpy(rv->buf, rv->tail, from_tail);
	memcpy(rv->buf + from_tail, data, send - from_tail);
	rv->len = send;
	rv->off = 0;
	/* The new tail: the rest of the old one, then the rest of data. */
	char tail[TARSTREAM_TRAILER_LEN];
	size_t t = 0;
	for (size_t i = from_tail; i < rv->tail_len; i++)
		tail[t++] = rv->tail[i];
	memcpy(tail + t, data + (send - from_tail), n - (send - from_tail));
	memcpy(rv->tail, tail, keep);
	rv->tail_len = keep;
}

static void receive_pump(struct loop *loop, int fd, uint32_t events, void *arg);

/* Either read stdin or write to tar, never both: one buffer, and an fd
 * left in the set would report its hang-up over and over. */
static bool receive_flow(struct receive *rv, bool want_out)
{
	loop_del_fd(rv->loop, want_out ? rv->in : rv->out);
	return loop_add_fd(rv->loop, want_out ? rv->out : rv->in, want_out ? EPOLLOUT : EPOLLIN,
			   receive_pump, rv) == 0;
}

static void receive_end(struct receive *rv, bool broken)
{
	loop_del_fd(rv->loop, rv->in);
	loop_del_fd(rv->loop, rv->out);
	if (rv->out >= 0)
		close(rv->out); /* tar's EOF */
	rv->out = -1;
	rv->eof = !broken;
	rv->broken = broken;
	receive_check_done(rv);
}

static void receive_drain(struct receive *rv)
{
	if (rv->draining)
		return;
	rv->draining = true;
	if (rv->out >= 0) {
		loop_del_fd(rv->loop, rv->out);
		close(rv->out);
		rv->out = -1;
	}
	rv->len = rv->off = 0;
	loop_del_fd(rv->loop, rv->in);
	if (loop_add_fd(rv->loop, rv->in, EPOLLIN, receive_pump, rv) < 0)
		receive_end(rv, true);
}

static void receive_pump(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct receive *rv = arg;
	if (fd == rv->out) {
		while (rv->off < rv->len) {
			ssize_t w = write(rv->out, rv->buf + rv->off, rv->len - rv->off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN)
				return;
			if (w <= 0) {
				receive_drain(rv); /* tar is gone: its exit code judges */
				return;
			}
			rv->off += (size_t)w;
		}
		if (!receive_flow(rv, false))
			receive_end(rv, true);
		return;
	}
	char data[sizeof(rv->buf) - TARSTREAM_TRAILER_LEN];
	ssize_t n = read(rv->in, data, sizeof(data));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		receive_end(rv, n < 0);
		return;
	}
	receive_take(rv, data, (size_t)n);
	if (rv->draining)
		rv->len = rv->off = 0; /* past the end of the archive tar read */
	else if (rv->len && !receive_flow(rv, true))
		receive_end(rv, true);
}

static void on_receive_tar_exit(struct proc *p, void *arg)
{
	struct receive *rv = arg;
	rv->tar_done = true;
	if (!rv->eof && !rv->broken) {
		if (proc_exit_code(p) == 0)
			receive_drain(rv); /* the trailer may still be on its way */
		else
			receive_end(rv, true);
	}
	receive_check_done(rv);
}

int tarstream_receive(int in_fd, const char *dir, char **err)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		return -1;
	}
	struct receive *rv = xcalloc(1, sizeof(*rv));
	rv->loop = loop_new();
	rv->in = in_fd;
	rv->out = pfd[1];
	char *argv[] = {"tar", "-x", "-p", "-f", "-", "-C", (char *)dir, NULL};
	struct proc_opts o = {.argv = argv, .stdin_from = pfd[0], .stdout_to = -1};
	struct proc *p = proc_start(rv->loop, &o, on_receive_tar_exit, rv, err);
	close(pfd[0]);
	int rc = -1;
	fcntl(rv->out, F_SETFL, fcntl(rv->out, F_GETFL) | O_NONBLOCK);
	if (p && loop_add_fd(rv->loop, rv->in, EPOLLIN, receive_pump, rv) < 0) {
		*err = xasprintf("cannot wait for the stream: %s", strerror(errno));
		proc_kill(p, SIGKILL);
		receive_end(rv, true);
	}
	if (p) {
		loop_run(rv->loop);
		int code = proc_exit_code(p);
		bool vouched = rv->eof && rv->tail_len == TARSTREAM_TRAILER_LEN &&
			       !memcmp(rv->tail, TARSTREAM_TRAILER, TARSTREAM_TRAILER_LEN);
		if (*err) {
			rc = -1;
		} else if (code != 0) {
			*err = xasprintf("tar -x exit %d: %s", code, proc_stderr_tail(p));
		} else if (!vouched) {
			*err = xasprintf("the sender did not vouch for the archive (a file changed "
					 "as it was read, or the sender stopped): nothing was moved "
					 "into place");
			rc = 1;
		} else {
			rc = 0;
		}
		proc_free(p);
	}
	if (rv->out >= 0)
		close(rv->out);
	loop_free(rv->loop);
	free(rv);
	return rc;
}
