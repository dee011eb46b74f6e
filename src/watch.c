#include "watch.h"
#include "exclude.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define WATCH_MASK                                                                          \
	(IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MODIFY |  \
	 IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

struct wnode {
	int parent; /* wd of the parent directory, -1 for the root */
	char *name; /* NULL: slot unused */
};


struct watch {
	struct loop *loop;
	char *root;
	int fd;
	int root_wd;
	struct wnode *nodes;
	int n_nodes; /* slots, indexed by wd */
	uint64_t count;
	uint64_t missed;
	bool limit_logged;
	const struct exclude_set *excludes; /* borrowed */
	dev_t leaf_dev; /* the root's device, if its link counts tell leaves */
	struct watch_handler h;
	/* A MOVED_FROM waiting for its MOVED_TO. */
	bool from_pending;
	uint32_t from_cookie;
	int from_wd;
	char *from_name;
	bool from_dir;
	uint64_t from_timer;
};

static void on_inotify(struct loop *loop, int fd, uint32_t events, void *arg);

static bool excluded(const struct watch *w, const char *name, bool is_dir)
{
	return exclude_match(w->excludes, name, is_dir);
}

struct watch *watch_new(struct loop *loop, const char *root, const struct exclude_set *excludes,
			struct watch_handler handler)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	w->loop = loop;
	w->root = xstrdup(root);
	w->fd = -1;
	w->root_wd = -1;
	w->h = handler;
	w->excludes = excludes;
	return w;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		loop_del_fd(w->loop, w->fd);
		close(w->fd);
	}
	loop_cancel_timer(w->loop, w->from_timer);
	for (int i = 0; i < w->n_nodes; i++)
		free(w->nodes[i].name);
	free(w->nodes);
	free(w->from_name);
	free(w->root);
	free(w);
}

uint64_t watch_count(const struct watch *w)
{
	return w->count;
}

uint64_t watch_missed(const struct watch *w)
{
	return w->missed;
}

/* The path of a watched directory relative to the root, from its chain of
 * parents; "" for the root. Caller frees. */
static char *path_of(const struct watch *w, int wd)
{
	const char *parts[512];
	int n = 0;
	while (wd >= 0 && wd < w->n_nodes && w->nodes[wd].name && w->nodes[wd].parent >= 0 &&
	       n < (int)ARRAY_LEN(parts)) {
		parts[n++] = w->nodes[wd].name;
		wd = w->nodes[wd].parent;
	}
	struct buf b;
	buf_init(&b);
	buf_adds(&b, "");
	while (n-- > 0) {
		buf_adds(&b, parts[n]);
		if (n)
			buf_addc(&b, '/');
	}
	return buf_steal(&b);
}

static char *join(const char *dir, const char *name)
{
	return dir[0] ? xasprintf("%s/%s", dir, name) : xstrdup(name);
}

static void set_node(struct watch *w, int wd, int parent, const char *name)
{
	if (wd >= w->n_nodes) {
		int n = w->n_nodes ? w->n_nodes : 64;
		while (n <= wd)
			n *= 2;
		w->nodes = xrealloc(w->nodes, (size_t)n * sizeof(*w->nodes));
		memset(w->nodes + w->n_nodes, 0, (size_t)(n - w->n_nodes) * sizeof(*w->nodes));
		w->n_nodes = n;
	}
	if (!w->nodes[wd].name)
		w->count++;
	free(w->nodes[wd].name);
	w->nodes[wd].name = xstrdup(name);
	w->nodes[wd].parent = parent;
}

/* Watch one directory; returns its wd or -1. */
static int add_one(struct watch *w, const char *relpath, int parent, const char *name)
{
	char *full = relpath[0] ? xasprintf("%s/%s", w->root, relpath) : xstrdup(w->root);
	int wd = inotify_add_watch(w->fd, full, WATCH_MASK);
	if (wd < 0) {
		if (errno == ENOSPC) {
			w->missed++;
			if (!w->limit_logged)
				log_error("inotify watch limit reached at '%s': changes below it are "
					  "caught only by periodic full passes; raise "
					  "fs.inotify.max_user_watches (sysctl)",
					  full);
			w->limit_logged = true;
		} else if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) {
			log_warn("cannot watch '%s': %s", full, strerror(errno));
		}
		free(full);
		return -1;
	}
	free(full);
	set_node(w, wd, parent, name);
	return wd;
}

/* ext4, xfs and tmpfs count a directory's subdirectories in its link
 * count (others say 1, or a number that means nothing, as cifs may). */
static bool counts_subdirs(const char *path)
{
	struct statfs fs;
	if (statfs(path, &fs) < 0)
		return false;
	return fs.f_type == EXT4_SUPER_MAGIC || fs.f_type == XFS_SUPER_MAGIC ||
	       fs.f_type == TMPFS_MAGIC;
}

/* Called once the directory's own watch exists, so a subdirectory made
 * from now on is an event. Most directories are leaves: on the source's
 * own file system a link count of 2 says so, and a stat is cheaper than
 * reading the directory. */
static bool is_leaf(const struct watch *w, const char *full)
{
	struct stat st;
	return w->leaf_dev && lstat(full, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_dev == w->leaf_dev && st.st_nlink == 2;
}

static void add_subtree(struct watch *w, const char *relpath, int wd)
{
	char *full = relpath[0] ? xasprintf("%s/%s", w->root, relpath) : xstrdup(w->root);
	if (is_leaf(w, full)) {
		free(full);
		return;
	}
	DIR *d = opendir(full);
	if (!d) {
		free(full);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				 S_ISDIR(st.st_mode);
		}
		if (!is_dir || excluded(w, name, true))
			continue;
		char *child = join(relpath, name);
		int cwd = add_one(w, child, wd, name);
		if (cwd >= 0)
			add_subtree(w, child, cwd);
		free(child);
	}
	closedir(d);
	free(full);
}

int watch_start(struct watch *w)
{
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return -1;
	w->root_wd = add_one(w, "", -1, "");
	if (w->root_wd < 0)
		return -1;
	struct stat st;
	if (counts_subdirs(w->root) && stat(w->root, &st) == 0)
		w->leaf_dev = st.st_dev;
	add_subtree(w, "", w->root_wd);
	if (loop_add_fd(w->loop, w->fd, EPOLLIN, on_inotify, w) < 0)
		return -1;
	return 0;
}

static int find_child(const struct watch *w, int parent, const char *name)
{
	for (int i = 0; i < w->n_nodes; i++)
		if (w->nodes[i].name && w->nodes[i].parent == parent &&
		    strcmp(w->nodes[i].name, name) == 0)
			return i;
	return -1;
}

void watch_add_tree(struct watch *w, const char *relpath)
{
	if (!relpath[0]) {
		add_subtree(w, "", w->root_wd);
		return;
	}
	/* Find the parent's wd by walking the components. */
	char *copy = xstrdup(relpath);
	int wd = w->root_wd;
	char *save = NULL;
	char *name = strtok_r(copy, "/", &save);
	char *next;
	while (name && (next = strtok_r(NULL, "/", &save))) {
		wd = find_child(w, wd, name);
		if (wd < 0)
			break;
		name = next;
	}
	if (wd >= 0 && name) {
		int cwd = add_one(w, relpath, wd, name);
		if (cwd >= 0)
			add_subtree(w, relpath, cwd);
	}
	free(copy);
}

static bool is_ancestor(const struct watch *w, int anc, int wd)
{
	for (int guard = 0; wd >= 0 && wd < w->n_nodes && guard < 4096; guard++) {
		if (wd == anc)
			return true;
		wd = w->nodes[wd].parent;
	}
	return false;
}

/* A directory left the tree: its watches would keep reporting under its old
 * name, so drop them. */
static void remove_subtree(struct watch *w, int top)
{
	for (int i = 0; i < w->n_nodes; i++) {
		if (i != top && w->nodes[i].name && is_ancestor(w, top, i)) {
			inotify_rm_watch(w->fd, i);
		}
	}
	inotify_rm_watch(w->fd, top);
}

static void emit(struct watch *w, enum watch_event ev, const char *path, const char *path2,
		 bool is_dir)
{
	w->h.event(w->h.arg, ev, path, path2, is_dir);
}

static void flush_moved_from(struct watch *w)
{
	if (!w->from_pending)
		return;
	w->from_pending = false;
	loop_cancel_timer(w->loop, w->from_timer);
	w->from_timer = 0;
	char *dir = path_of(w, w->from_wd);
	char *path = join(dir, w->from_name);
	if (w->from_dir) {
		int wd = find_child(w, w->from_wd, w->from_name);
		if (wd >= 0)
			remove_subtree(w, wd);
	}
	emit(w, WE_CHANGED, path, NULL, w->from_dir); /* moved out: gone */
	free(path);
	free(dir);
	free(w->from_name);
	w->from_name = NULL;
}

static void on_from_timeout(struct loop *loop, void *arg)
{
	(void)loop;
	struct watch *w = arg;
	w->from_timer = 0;
	flush_moved_from(w);
}

static void moved_to(struct watch *w, int wd, const char *name, const char *path, bool is_dir,
		     uint32_t cookie)
{
	if (w->from_pending && w->from_cookie == cookie) {
		w->from_pending = false;
		loop_cancel_timer(w->loop, w->from_timer);
		w->from_timer = 0;
		char *fdir = path_of(w, w->from_wd);
		char *from = join(fdir, w->from_name);
		if (is_dir) {
			int moved = find_child(w, w->from_wd, w->from_name);
			if (moved >= 0)
				set_node(w, moved, wd, name); /* re-path: same watch */
		}
		if (excluded(w, w->from_name, is_dir)) {
			if (is_dir)
				watch_add_tree(w, path);
			emit(w, is_dir ? WE_NEW_TREE : WE_CHANGED, path, NULL, is_dir);
		} else {
			emit(w, WE_RENAMED, from, path, is_dir);
		}
		free(from);
		free(fdir);
		free(w->from_name);
		w->from_name = NULL;
		return;
	}
	flush_moved_from(w);
	if (is_dir) {
		watch_add_tree(w, path);
		emit(w, WE_NEW_TREE, path, NULL, true);
	} else {
		emit(w, WE_CHANGED, path, NULL, false);
	}
}

static bool is_regular(const struct watch *w, const char *path)
{
	char *full = xasprintf("%s/%s", w->root, path);
	struct stat st;
	bool reg = lstat(full, &st) == 0 && S_ISREG(st.st_mode);
	free(full);
	return reg;
}

static void handle_named(struct watch *w, const struct inotify_event *ev)
{
	bool is_dir = ev->mask & IN_ISDIR;
	if (ev->mask & IN_MOVED_TO) {
		if (excluded(w, ev->name, is_dir)) {
			flush_moved_from(w);
			return;
		}
	} else if (excluded(w, ev->name, is_dir)) {
		if (ev->mask & IN_MOVED_FROM)
			flush_moved_from(w);
		return;
	}
	char *dir = path_of(w, ev->wd);
	char *path = join(dir, ev->name);
	/* Adding or removing a name changes the directory's mtime too. A new
	 * regular file is still being written: its directory waits with it
	 * (WE_WRITING) instead of starting a batch of its own. */
	bool new_file = (ev->mask & IN_CREATE) && !is_dir && is_regular(w, path);
	if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
		emit(w, new_file ? WE_WRITING : WE_CHANGED, dir, NULL, true);
	if (ev->mask & IN_MOVED_FROM) {
		flush_moved_from(w);
		w->from_pending = true;
		w->from_cookie = ev->cookie;
		w->from_wd = ev->wd;
		w->from_name = xstrdup(ev->name);
		w->from_dir = is_dir;
		/* The MOVED_TO normally follows at once; if not, it left the tree. */
		w->from_timer = loop_add_timer(w->loop, 5, on_from_timeout, w);
	} else if (ev->mask & IN_MOVED_TO) {
		moved_to(w, ev->wd, ev->name, path, is_dir, ev->cookie);
	} else if (ev->mask & IN_CREATE) {
		if (is_dir) {
			int cwd = add_one(w, path, ev->wd, ev->name);
			if (cwd >= 0)
				add_subtree(w, path, cwd);
			emit(w, WE_NEW_TREE, path, NULL, true);
		} else {
			/* A new regular file will be written and closed; anything
			 * else (symlink, hard link, fifo) is complete already. */
			emit(w, new_file ? WE_NEW_FILE : WE_CHANGED, path, NULL, false);
		}
	} else if (ev->mask & IN_MODIFY) {
		emit(w, WE_WRITING, path, NULL, false);
	} else if (ev->mask & IN_CLOSE_WRITE) {
		emit(w, WE_CLOSED, path, NULL, false);
	} else if (ev->mask & (IN_ATTRIB | IN_DELETE)) {
		emit(w, WE_CHANGED, path, NULL, is_dir);
	}
	free(path);
	free(dir);
}

static void handle_event(struct watch *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		flush_moved_from(w);
		emit(w, WE_OVERFLOW, "", NULL, true);
		return;
	}
	if (ev->wd < 0 || ev->wd >= w->n_nodes || !w->nodes[ev->wd].name)
		return;
	if (ev->mask & IN_IGNORED) {
		free(w->nodes[ev->wd].name);
		w->nodes[ev->wd].name = NULL;
		w->count--;
		if (ev->wd == w->root_wd)
			emit(w, WE_ROOT_GONE, "", NULL, true);
		return;
	}
	if (ev->len && ev->name[0]) {
		handle_named(w, ev);
		return;
	}
	if (ev->wd == w->root_wd) {
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
			emit(w, WE_ROOT_GONE, "", NULL, true);
		else if (ev->mask & IN_ATTRIB)
			emit(w, WE_CHANGED, "", NULL, true);
	}
}

static void on_inotify(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct watch *w = arg;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			handle_event(w, ev);
			p += sizeof(struct inotify_event) + ev->len;
		}
	}
}

void watch_drain(struct watch *w)
{
	if (w && w->fd >= 0)
		on_inotify(w->loop, w->fd, 0, w);
}
