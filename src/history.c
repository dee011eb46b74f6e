#include "history.h"
#include "beneath.h"
#include "log.h"
#include "placing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* ---- parsing ---- */

bool history_parse_duration(const char *s, double *seconds)
{
	if (!s || !*s)
		return false;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || v != v)
		return false;
	double unit = 1;
	switch (*end) {
	case '\0':
		break;
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return false;
	}
	if (*end && end[1])
		return false;
	*seconds = v * unit;
	return *seconds < 100.0 * 365 * 86400;
}

double history_keep_seconds(const char *keep)
{
	double v;
	return keep && history_parse_duration(keep, &v) ? v : HISTORY_DEFAULT_KEEP;
}

bool history_parse_size(const char *s, uint64_t fs_bytes, uint64_t *bytes)
{
	if (!s || !*s)
		return false;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || v != v)
		return false;
	double unit = 1;
	switch (*end) {
	case '\0':
		break;
	case 'K':
		unit = 1024.0;
		break;
	case 'M':
		unit = 1024.0 * 1024;
		break;
	case 'G':
		unit = 1024.0 * 1024 * 1024;
		break;
	case 'T':
		unit = 1024.0 * 1024 * 1024 * 1024;
		break;
	case '%':
		if (v > 100)
			return false;
		unit = (double)fs_bytes / 100.0;
		break;
	default:
		return false;
	}
	if (*end && end[1])
		return false;
	*bytes = (uint64_t)(v * unit);
	return true;
}

bool history_parse_time(const char *s, time_t now, time_t *out)
{
	if (!s || !*s)
		return false;
	if (s[0] == '-') {
		double ago;
		if (!history_parse_duration(s + 1, &ago))
			return false;
		*out = now - (time_t)ago;
		return true;
	}
	static const char *const forms[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					    "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"};
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *rest = strptime(s, forms[i], &tm);
		if (!rest)
			continue;
		if (*rest == 'Z' && !rest[1]) {
			*out = timegm(&tm);
			return true;
		}
		if ((*rest == '+' || *rest == '-') && strlen(rest) >= 3) {
			int hh = 0, mm = 0;
			if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) < 1 &&
			    sscanf(rest + 1, "%2d%2d", &hh, &mm) < 1)
				continue;
			long off = (hh * 3600L + mm * 60L) * (*rest == '+' ? 1 : -1);
			*out = timegm(&tm) - off;
			return true;
		}
		if (*rest)
			continue;
		tm.tm_isdst = -1;
		*out = mktime(&tm);
		return true;
	}
	return false;
}

/* ---- keeping ---- */

char *history_run_dir(const char *root)
{
	static unsigned counter;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	return xasprintf("%s%s%s/%s-%ld-%u", root, *root ? "/" : "", HISTORY_DIR, stamp,
			 (long)getpid(), counter++);
}

static void split_rel(const char *rel, char **parent, const char **base)
{
	const char *slash = strrchr(rel, '/');
	*parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	*base = slash ? slash + 1 : rel;
}

/* A kept tree's entries get the moment of keeping as their ctime (a chmod
 * to the mode they have), so each one's replacement time is its own. */
static void stamp_tree(int dir_fd)
{
	DIR *d = fdopendir(dup(dir_fd));
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if (fchownat(dir_fd, e->d_name, (uid_t)-1, (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
		} else if (fchmodat(dir_fd, e->d_name, st.st_mode & 07777, 0) < 0) {
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dir_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				stamp_tree(sub);
				close(sub);
			}
		}
	}
	closedir(d);
}

int history_keep(int root_fd, const char *rel, const char *run_rel, char **err)
{
	char *parent;
	const char *base;
	split_rel(rel, &parent, &base);
	int rc = 0;
	int from = beneath_open_dir(root_fd, parent, false, err);
	if (from < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? 0 : -1;
		if (rc == 0) {
			free(*err);
			*err = NULL;
		}
		free(parent);
		return rc;
	}
	struct stat st;
	if (fstatat(from, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		close(from);
		free(parent);
		return 0;
	}
	char *dest = *parent ? xasprintf("%s/%s", run_rel, parent) : xstrdup(run_rel);
	int to = beneath_open_dir(root_fd, dest, true, err);
	if (to < 0) {
		rc = -1;
	} else if (renameat(from, base, to, base) < 0) {
		*err = xasprintf("cannot keep %s in the history: %s", rel, strerror(errno));
		rc = -1;
	} else {
		/* The rename changed the ctime of what moved; a tree's entries need it too. */
		if (S_ISLNK(st.st_mode))
			fchownat(to, base, (uid_t)-1, (gid_t)-1, AT_SYMLINK_NOFOLLOW);
		else
			fchmodat(to, base, st.st_mode & 07777, 0);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(to, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				stamp_tree(sub);
				close(sub);
			}
		}
	}
	if (to >= 0)
		close(to);
	close(from);
	free(dest);
	free(parent);
	return rc;
}

bool history_name(const char *rel)
{
	size_t n = strlen(HISTORY_DIR);
	return strncmp(rel, HISTORY_DIR, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

static int open_parent(int root_fd, const char *rel, const char **base, char **err)
{
	char *parent;
	split_rel(rel, &parent, base);
	int fd = beneath_open_dir(root_fd, parent, false, err);
	free(parent);
	return fd;
}

#define RENAMES_LOG ".renames"

/* The history directory below root_fd, made if missing without changing
 * root's own times (they are the source's). -1 when it cannot be. */
static int open_history_dir(int root_fd)
{
	int fd = openat(root_fd, HISTORY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat rst;
	if (fd < 0 && errno == ENOENT && fstat(root_fd, &rst) == 0 &&
	    mkdirat(root_fd, HISTORY_DIR, 0700) == 0) {
		struct timespec times[2] = {rst.st_atim, rst.st_mtim};
		futimens(root_fd, times);
		fd = openat(root_fd, HISTORY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd;
}

/* One record, one write (O_APPEND): concurrent serves never interleave.
 * The time is the kernel's coarse clock, the one ctime is taken from: a
 * version kept by this very rename has a ctime no later than it. */
static void log_rename(int root_fd, const char *from, const char *to)
{
	int hfd = open_history_dir(root_fd);
	int fd = hfd < 0 ? -1
			 : openat(hfd, RENAMES_LOG, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
							    O_CLOEXEC, 0600);
	if (hfd >= 0)
		close(hfd);
	if (fd < 0) {
		log_warn("history: cannot log the rename of %s to %s: %s", from, to, strerror(errno));
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	struct buf b;
	buf_init(&b);
	buf_addf(&b, "%lld.%09ld", (long long)now.tv_sec, now.tv_nsec);
	buf_add(&b, "", 1);
	buf_add(&b, from, strlen(from) + 1);
	buf_add(&b, to, strlen(to) + 1);
	if (write_all(fd, b.data, b.len) < 0)
		log_warn("history: cannot log the rename of %s to %s: %s", from, to, strerror(errno));
	buf_free(&b);
	close(fd);
}

int history_rename(int root_fd, const char *from, const char *to, const char *run_rel,
		   char **err)
{
	if (!*from || !*to || !beneath_rel_ok(from) || !beneath_rel_ok(to) || history_name(from) ||
	    history_name(to)) {
		*err = xasprintf("not a path of the synced tree");
		return -1;
	}
	const char *fbase, *tbase;
	int ffd = open_parent(root_fd, from, &fbase, err);
	if (ffd < 0)
		return -1;
	int tfd = open_parent(root_fd, to, &tbase, err);
	if (tfd < 0) {
		close(ffd);
		return -1;
	}
	struct stat st;
	int rc = 0;
	if (run_rel && fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(ffd, fbase, &st, AT_SYMLINK_NOFOLLOW) == 0)
		rc = history_keep(root_fd, to, run_rel, err);
	if (rc == 0 && renameat(ffd, fbase, tfd, tbase) < 0) {
		*err = xasprintf("%s", strerror(errno));
		rc = -1;
	} else if (rc == 0 && run_rel) {
		log_rename(root_fd, from, to); /* restore puts the old name back */
	}
	close(ffd);
	close(tfd);
	return rc;
}

/* ---- merging a staged tar stream ---- */

static void copy_dir_attrs(int fd, const struct stat *st)
{
	if (fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM)
		log_debug("history: chown of a merged directory: %s", strerror(errno));
	fchmod(fd, st->st_mode & 07777);
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	futimens(fd, times);
}

static int merge_dir(int stage_fd, int target_fd, int root_fd, struct buf *rel,
		     const char *run_rel, char **err);

DIR *history_staged_open(int dir_fd, char **err)
{
	DIR *d = fdopendir(dup(dir_fd));
	if (!d) {
		*err = xasprintf("cannot read the staging directory: %s", strerror(errno));
		return NULL;
	}
	rewinddir(d); /* the dup shares dir_fd's offset: from the top, whoever read it before */
	return d;
}

const char *history_staged_next(DIR *d, bool top)
{
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (top && !strcmp(e->d_name, HISTORY_DIR))
			continue; /* never a name the sync ships */
		return e->d_name;
	}
	return NULL;
}

static int merge_entry(int stage_fd, int target_fd, int root_fd, struct buf *rel,
		       const char *run_rel, const char *name, char **err)
{
	struct stat ss, ts;
	if (fstatat(stage_fd, name, &ss, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	bool exists = fstatat(target_fd, name, &ts, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !S_ISDIR(ss.st_mode) && ss.st_dev == ts.st_dev && ss.st_ino == ts.st_ino)
		return 0; /* rsync's --link-dest linked the target's own file: unchanged */
	if (exists && S_ISDIR(ss.st_mode) && S_ISDIR(ts.st_mode)) {
		int s = openat(stage_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int t = openat(target_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int rc = -1;
		if (s >= 0 && t >= 0) {
			rc = merge_dir(s, t, root_fd, rel, run_rel, err);
			if (rc == 0)
				copy_dir_attrs(t, &ss);
		} else {
			*err = xasprintf("cannot open %s: %s", rel->data, strerror(errno));
		}
		if (s >= 0)
			close(s);
		if (t >= 0)
			close(t);
		return rc;
	}
	if (exists && run_rel && history_keep(root_fd, rel->data, run_rel, err) < 0)
		return -1;
	if (exists && !run_rel && S_ISDIR(ts.st_mode))
		beneath_remove_tree(target_fd, name); /* history off: nothing to keep */
	if (renameat(stage_fd, name, target_fd, name) < 0) {
		*err = xasprintf("cannot move %s into place: %s", rel->data, strerror(errno));
		return -1;
	}
	return 0;
}

static int merge_dir(int stage_fd, int target_fd, int root_fd, struct buf *rel,
		     const char *run_rel, char **err)
{
	DIR *d = history_staged_open(stage_fd, err);
	if (!d)
		return -1;
	size_t len = rel->len;
	int rc = 0;
	const char *name;
	while (rc == 0 && (name = history_staged_next(d, len == 0))) {
		rel->len = len;
		rel->data[len] = '\0';
		if (len)
			buf_addc(rel, '/');
		buf_adds(rel, name);
		rc = merge_entry(stage_fd, target_fd, root_fd, rel, run_rel, name, err);
	}
	closedir(d);
	rel->len = len;
	if (rel->data)
		rel->data[len] = '\0';
	return rc;
}

int history_merge(int root_fd, const char *staging_rel, const char *run_rel, char **err)
{
	return history_merge_then(root_fd, staging_rel, run_rel, true, err);
}

int history_merge_then(int root_fd, const char *staging_rel, const char *run_rel, bool sync,
		       char **err)
{
	int stage = beneath_open_dir(root_fd, staging_rel, false, err);
	if (stage < 0)
		return -1;
	if (placing_log(root_fd, stage, run_rel, err) < 0) {
		close(stage);
		return -1;
	}
	struct buf rel;
	buf_init(&rel);
	buf_adds(&rel, "");
	int rc = merge_dir(stage, root_fd, root_fd, &rel, run_rel, err);
	buf_free(&rel);
	failpoint("merge-placed"); /* a crash before the sync: what placing recovers */
	/* The files and their renames are on disk before the sender hears
	 * "done". One syncfs after the renames, not one before them too: a
	 * killed receiver never gets here (staging keeps the partial files),
	 * and what a power cut leaves short under a final name the placing
	 * log rolls back (placing.h). */
	if (rc == 0 && sync) {
		uint64_t mark = placing_mark();
		rc = history_sync(stage, "the merged files", err);
		if (rc == 0)
			placing_synced(mark);
	}
	close(stage);
	return rc;
}

int history_sync(int dir_fd, const char *what, char **err)
{
	if (syncfs(dir_fd) == 0)
		return 0;
	*err = xasprintf("cannot write %s to disk (syncfs): %s", what, strerror(errno));
	return -1;
}

/* ---- reading it back ---- */

void version_list_free(struct version_list *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->v[i].path);
		free(l->v[i].rel);
		free(l->v[i].as);
		free(l->v[i].renamed_to);
	}
	free(l->v);
	for (size_t i = 0; i < l->n_moves; i++) {
		free(l->moves[i].from);
		free(l->moves[i].to);
	}
	free(l->moves);
	memset(l, 0, sizeof(*l));
}

static struct timespec born_of(const char *path, const struct stat *st)
{
	struct statx sx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) == 0 &&
	    (sx.stx_mask & STATX_BTIME))
		return (struct timespec){(time_t)sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec};
	return st->st_mtim;
}

static void add_version(struct version_list *l, const char *path, const char *rel,
			const struct stat *st, bool live)
{
	if (l->len == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct version *v = &l->v[l->len++];
	memset(v, 0, sizeof(*v));
	v->path = xstrdup(path);
	v->rel = xstrdup(rel);
	v->mtime = st->st_mtime;
	v->replaced = live ? 0 : st->st_ctime;
	v->replaced_ns = live ? 0 : st->st_ctim.tv_nsec;
	v->as = NULL;
	struct timespec born = born_of(path, st);
	v->born = born.tv_sec;
	v->born_ns = born.tv_nsec;
	v->size = (uint64_t)st->st_size;
	v->is_dir = S_ISDIR(st->st_mode);
}

/* Every non-directory at path (a file, or below a directory), as versions of
 * rel. At the sync's root (rel "") the history itself is left out. */
static void collect(struct version_list *l, struct buf *path, struct buf *rel, bool live)
{
	struct stat st;
	if (lstat(path->data, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_version(l, path->data, rel->data, &st, live);
		return;
	}
	DIR *d = opendir(path->data);
	if (!d)
		return;
	size_t plen = path->len, rlen = rel->len;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (rlen == 0 && !strcmp(e->d_name, HISTORY_DIR))
			continue;
		path->len = plen;
		path->data[plen] = '\0';
		rel->len = rlen;
		if (rel->data)
			rel->data[rlen] = '\0';
		buf_addc(path, '/');
		buf_adds(path, e->d_name);
		if (rlen)
			buf_addc(rel, '/');
		buf_adds(rel, e->d_name);
		collect(l, path, rel, live);
	}
	closedir(d);
	path->len = plen;
	path->data[plen] = '\0';
	rel->len = rlen;
	if (rel->data)
		rel->data[rlen] = '\0';
}

static void collect_from(struct version_list *l, const char *base, const char *rel, bool live)
{
	struct buf p, r;
	buf_init(&p);
	buf_init(&r);
	buf_adds(&p, base);
	if (*rel) {
		buf_addc(&p, '/');
		buf_adds(&p, rel);
	}
	buf_adds(&r, rel);
	collect(l, &p, &r, live);
	buf_free(&p);
	buf_free(&r);
}

/* Versions of one path in time order: older replacement first, the live
 * one (replaced 0) last. */
static int replaced_order(const struct version *a, const struct version *b)
{
	time_t ra = a->replaced ? a->replaced : (time_t)1 << 62;
	time_t rb = b->replaced ? b->replaced : (time_t)1 << 62;
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->replaced_ns != b->replaced_ns)
		return a->replaced_ns < b->replaced_ns ? -1 : 1;
	/* Replaced within one tick: the one that arrived first went first. */
	if (a->born != b->born)
		return a->born < b->born ? -1 : 1;
	return a->mtime < b->mtime ? -1 : a->mtime > b->mtime;
}

/* The live tree's and every history run's entries under rel. */
static void collect_everywhere(struct version_list *l, const char *root, const char *rel)
{
	collect_from(l, root, rel, true);
	char *hist = xasprintf("%s/%s", root, HISTORY_DIR);
	DIR *d = opendir(hist);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue; /* ., .., .renames, .pruned and .staging */
			char *run = xasprintf("%s/%s", hist, e->d_name);
			collect_from(l, run, rel, false);
			free(run);
		}
		closedir(d);
	}
	free(hist);
}

static int check_rel(const char *rel, char **err)
{
	for (const char *p = rel; (p = strstr(p, "..")); p += 2)
		if ((p == rel || p[-1] == '/') && (!p[2] || p[2] == '/')) {
			*err = xasprintf("'%s': '..' is not allowed", rel);
			return -1;
		}
	return 0;
}

/* Was v on the target at `at` (whole seconds: what happened during that
 * second counts as before it)? The first such version of a name is the
 * one restore picks. (Not the first one not yet replaced: a file renamed
 * away, and a new one under its old name replaced before it, are both
 * "not yet replaced", and only the first had arrived.) */
static bool there_at(const struct version *v, time_t at)
{
	return v->born <= at && (v->replaced == 0 || v->replaced > at);
}

size_t history_pick(const struct version_list *l, time_t at, const struct version ***out)
{
	*out = xcalloc(l->len + 1, sizeof(**out));
	size_t n = 0;
	for (size_t i = 0; i < l->len;) {
		size_t j = i;
		const struct version *pick = NULL;
		for (; j < l->len && !strcmp(l->v[j].rel, l->v[i].rel); j++)
			if (!pick && there_at(&l->v[j], at))
				pick = &l->v[j];
		if (pick)
			(*out)[n++] = pick;
		i = j;
	}
	return n;
}

/* ---- the tree as it was: renames undone ---- */

struct rename_rec {
	struct timespec t;
	const char *from, *to; /* into the log's text */
};

/* The renames by one of their names, then by their place in the log. */
struct name_index {
	const char *name;
	size_t i;
};

struct rename_log {
	char *text;
	struct rename_rec *r; /* oldest first */
	size_t n;
	struct name_index *by_to;   /* (to, i) sorted: the renames that made a name */
	struct name_index *by_from; /* (from, i) sorted: the renames of a name away */
};

static int by_name_then_index(const void *pa, const void *pb)
{
	const struct name_index *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);
	return c ? c : (a->i < b->i ? -1 : a->i > b->i);
}

static struct name_index *index_by(const struct rename_log *rl, bool by_to)
{
	struct name_index *idx = xcalloc(rl->n + 1, sizeof(*idx));
	for (size_t i = 0; i < rl->n; i++)
		idx[i] = (struct name_index){by_to ? rl->r[i].to : rl->r[i].from, i};
	if (rl->n)
		qsort(idx, rl->n, sizeof(*idx), by_name_then_index);
	return idx;
}

/* path is dir or below it ("" holds everything). */
static bool rel_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return n == 0 || (strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/'));
}

/* The renames logged after `at` (a whole second: what happened during the
 * second `at` counts as before it, as for versions). A torn last record (a
 * crash mid-append) is left out. */
static void parse_renames(char *text, size_t len, time_t at, struct rename_log *rl)
{
	memset(rl, 0, sizeof(*rl));
	rl->text = text;
	size_t cap = 0;
	for (size_t at_off = 0; rl->text && at_off < len;) {
		const char *f[3];
		size_t off = at_off;
		int k = 0;
		for (; k < 3 && off < len; k++) {
			f[k] = rl->text + off;
			const char *nul = memchr(f[k], '\0', len - off);
			if (!nul)
				break;
			off = (size_t)(nul - rl->text) + 1;
		}
		if (k < 3)
			break;
		at_off = off;
		long long sec = 0;
		long nsec = 0;
		if (sscanf(f[0], "%lld.%ld", &sec, &nsec) < 1 || sec <= (long long)at)
			continue;
		if (rl->n == cap) {
			cap = cap ? cap * 2 : 16;
			rl->r = xrealloc(rl->r, cap * sizeof(*rl->r));
		}
		rl->r[rl->n++] = (struct rename_rec){{(time_t)sec, nsec}, f[1], f[2]};
	}
	rl->by_to = index_by(rl, true);
	rl->by_from = index_by(rl, false);
}

static void read_renames(const char *root, time_t at, struct rename_log *rl)
{
	char *path = xasprintf("%s/%s/%s", root, HISTORY_DIR, RENAMES_LOG);
	size_t len = 0;
	char *text = read_file(path, &len);
	free(path);
	parse_renames(text, len, at, rl);
}

static void rename_log_free(struct rename_log *rl)
{
	free(rl->by_to);
	free(rl->by_from);
	free(rl->r);
	free(rl->text);
}

static bool ts_before(const struct timespec *a, time_t sec, long nsec)
{
	return a->tv_sec < sec || (a->tv_sec == sec && a->tv_nsec < nsec);
}

/* An index entry's name against q's first len bytes (strcmp's sign). */
static int name_cmp(const char *name, const char *q, size_t len)
{
	int c = strncmp(name, q, len);
	return c == 0 && name[len] ? 1 : c;
}

/* The first place in idx at or after (q's first len bytes, i). */
static size_t index_lower(const struct name_index *idx, size_t n, const char *q, size_t len,
			  size_t i)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = name_cmp(idx[mid].name, q, len);
		if (c < 0 || (c == 0 && idx[mid].i < i))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The latest rename below index limit named q (len bytes) in idx, or limit
 * when none. */
static size_t last_named(const struct name_index *idx, size_t n, const char *q, size_t len,
			 size_t limit)
{
	size_t p = index_lower(idx, n, q, len, limit);
	if (p == 0)
		return limit;
	const struct name_index *e = &idx[p - 1];
	return name_cmp(e->name, q, len) == 0 && e->i < limit ? e->i : limit;
}

/* The earliest rename at or after index from named q in idx, or n. */
static size_t first_named(const struct name_index *idx, size_t n, const char *q, size_t len,
			  size_t from)
{
	size_t p = index_lower(idx, n, q, len, from);
	return p < n && name_cmp(idx[p].name, q, len) == 0 ? idx[p].i : n;
}

/* The latest rename below limit named (in idx) name or one of its parents,
 * or limit when none. */
static size_t last_on_path(const struct name_index *idx, size_t n, const char *name,
			   size_t limit)
{
	size_t best = limit;
	for (size_t k = 1; *name; k++) {
		if (name[k] == '/' || name[k] == '\0') {
			size_t i = last_named(idx, n, name, k, limit);
			if (i < limit && (best == limit || i > best))
				best = i;
		}
		if (!name[k])
			break;
	}
	return best;
}

/* The earliest rename at or after from named (in idx) name or one of its
 * parents, or n when none. */
static size_t first_on_path(const struct name_index *idx, size_t n, const char *name,
			    size_t from)
{
	size_t best = n;
	for (size_t k = 1; *name; k++) {
		if (name[k] == '/' || name[k] == '\0') {
			size_t i = first_named(idx, n, name, k, from);
			if (i < best)
				best = i;
		}
		if (!name[k])
			break;
	}
	return best;
}

/* The renames logged before a version left the tree (until_sec 0: it has
 * not): those below the index returned. */
static size_t renames_before(const struct rename_log *rl, time_t until_sec, long until_ns)
{
	size_t limit = rl->n;
	while (until_sec && limit > 0 && !ts_before(&rl->r[limit - 1].t, until_sec, until_ns))
		limit--;
	return limit;
}

/* One step back in a name's past: the latest rename below index limit
 * that made the name or one of its parents, or limit when none. */
static size_t made_by(const struct rename_log *rl, const char *name, size_t limit)
{
	return last_on_path(rl->by_to, rl->n, name, limit);
}

/* The name a step back gives: the rename's source, and what of name is
 * below the renamed path. */
static char *name_before(const struct rename_rec *r, const char *name)
{
	return xasprintf("%s%s", r->from, name + strlen(r->to));
}

/* The name rel had at the log's start: each rename after it and before
 * the version left the tree (until_sec 0: it has not) undone, newest
 * first. A rename applies when it made the name or one of its parents. */
static char *name_at(const struct rename_log *rl, const char *rel, time_t until_sec,
		     long until_ns)
{
	char *name = xstrdup(rel);
	size_t limit = renames_before(rl, until_sec, until_ns);
	for (size_t i; (i = made_by(rl, name, limit)) < limit; limit = i) {
		char *old = name_before(&rl->r[i], name);
		free(name);
		name = old;
	}
	return name;
}

/* ---- the names a tree had: trails through the rename log ---- */

/* Before and after every time the log or a version holds. */
static const struct timespec TS_FIRST = {-((time_t)1 << 62), 0};
static const struct timespec TS_LAST = {(time_t)1 << 62, 0};

static bool ts_less(const struct timespec *a, const struct timespec *b)
{
	return ts_before(a, b->tv_sec, b->tv_nsec);
}

/* A name the asked path's content had for a while: [from, until). */
struct window {
	char *name;
	struct timespec from, until;
};

struct windows {
	struct window *w;
	size_t len, cap;
};

static void window_add(struct windows *ws, const char *name, struct timespec from,
		       struct timespec until)
{
	if (ws->len == ws->cap) {
		ws->cap = ws->cap ? ws->cap * 2 : 8;
		ws->w = xrealloc(ws->w, ws->cap * sizeof(*ws->w));
	}
	ws->w[ws->len++] = (struct window){xstrdup(name), from, until};
}

static void windows_free(struct windows *ws)
{
	for (size_t i = 0; i < ws->len; i++)
		free(ws->w[i].name);
	free(ws->w);
}

/* The names rel's content had, followed through the log: rel itself is
 * rel's at every time (lineage()'s first window); a trail is another name
 * some of it had, from the rename at index `at` on (forward: the renames
 * after it; backward: those before it), and since or until when (t). A
 * trail that is rel's own name moved (main) reports its renames, one that
 * is a part split off does not. A trail ends where its name held another
 * file's content. Each trail looks its renames up in the log's indexes:
 * many files renamed into or out of rel cost a lookup each, not a pass
 * over the log each. */
struct trail {
	char *name;
	size_t at;
	struct timespec t;
	bool main;
};

struct trails {
	struct trail *t;
	size_t len, cap;
};

static void trail_push(struct trails *tr, char *name, size_t at, struct timespec t, bool main)
{
	if (tr->len == tr->cap) {
		tr->cap = tr->cap ? tr->cap * 2 : 8;
		tr->t = xrealloc(tr->t, tr->cap * sizeof(*tr->t));
	}
	tr->t[tr->len++] = (struct trail){name, at, t, main};
}

static void move_add(struct version_list *l, const char *from, const char *to, time_t when)
{
	l->moves = xrealloc(l->moves, (l->n_moves + 1) * sizeof(*l->moves));
	l->moves[l->n_moves++] = (struct path_rename){xstrdup(from), xstrdup(to), when};
}

/* The renames with index in [lo, hi) whose name in idx is below name
 * (name/...), those of names that are not also below it on their other
 * side (other: the other index's end of a rename) started as trails of
 * their own. */
static void split_trails(const struct rename_log *rl, const struct name_index *idx,
			 bool other_is_to, const char *name, size_t lo, size_t hi,
			 struct trails *tr)
{
	char *below = xasprintf("%s/", name);
	size_t len = strlen(below);
	for (size_t p = index_lower(idx, rl->n, below, len, 0);
	     p < rl->n && !strncmp(idx[p].name, below, len); p++) {
		const struct rename_rec *r = &rl->r[idx[p].i];
		const char *other = other_is_to ? r->to : r->from;
		if (idx[p].i >= lo && idx[p].i < hi && !rel_within(other, name))
			trail_push(tr, xstrdup(other), idx[p].i, r->t, false);
	}
	free(below);
}

/* Forward: the trail's name (or a parent) renamed moves it; a part renamed
 * out of it starts a trail; a rename over it ends it. */
static void follow_forward(const struct rename_log *rl, struct trails *tr, size_t j,
			   struct windows *ws, struct version_list *out)
{
	struct trail t = tr->t[j];
	for (;;) {
		size_t moved = first_on_path(rl->by_from, rl->n, t.name, t.at + 1);
		size_t over = first_on_path(rl->by_to, rl->n, t.name, t.at + 1);
		size_t stop = moved < over ? moved : over;
		split_trails(rl, rl->by_from, true, t.name, t.at + 1, stop, tr);
		if (stop == rl->n) {
			window_add(ws, t.name, t.t, TS_LAST);
			break;
		}
		const struct rename_rec *r = &rl->r[stop];
		window_add(ws, t.name, t.t, r->t);
		if (stop == over)
			break;
		char *to = xasprintf("%s%s", r->to, t.name + strlen(r->from));
		if (t.main)
			move_add(out, t.name, to, r->t.tv_sec);
		free(t.name);
		t = (struct trail){to, stop, r->t, t.main};
	}
	free(t.name);
}

/* Backward: a rename that made the trail's name (or a parent) moves it to
 * the old name; a tree renamed into it starts a trail; a rename of its
 * name away ends it (what the name held before went elsewhere). */
static void follow_backward(const struct rename_log *rl, struct trails *tr, size_t j,
			    struct windows *ws, struct version_list *out)
{
	struct trail t = tr->t[j];
	for (;;) {
		size_t made = last_on_path(rl->by_to, rl->n, t.name, t.at);
		size_t away = last_on_path(rl->by_from, rl->n, t.name, t.at);
		size_t stop = made == t.at ? away : away == t.at || made > away ? made : away;
		split_trails(rl, rl->by_to, false, t.name, stop == t.at ? 0 : stop + 1, t.at, tr);
		if (stop == t.at) {
			window_add(ws, t.name, TS_FIRST, t.t);
			break;
		}
		const struct rename_rec *r = &rl->r[stop];
		window_add(ws, t.name, r->t, t.t);
		if (stop == away)
			break;
		char *from = name_before(r, t.name);
		if (t.main)
			move_add(out, from, t.name, r->t.tv_sec);
		free(t.name);
		t = (struct trail){from, stop, r->t, t.main};
	}
	free(t.name);
}

/* The trails that start at rel itself: each rename of rel or a parent
 * away (forward) or onto it (backward), as rel's own name moved; each
 * part renamed out of it (forward) or tree into it (backward). */
static void start_trails(const struct rename_log *rl, const char *rel, bool forward,
			 struct trails *tr, struct version_list *out)
{
	const struct name_index *idx = forward ? rl->by_from : rl->by_to;
	for (size_t k = 1; *rel; k++) {
		if (rel[k] == '/' || rel[k] == '\0') {
			for (size_t p = index_lower(idx, rl->n, rel, k, 0);
			     p < rl->n && name_cmp(idx[p].name, rel, k) == 0; p++) {
				const struct rename_rec *r = &rl->r[idx[p].i];
				char *other = xasprintf("%s%s", forward ? r->to : r->from, rel + k);
				if (forward)
					move_add(out, rel, other, r->t.tv_sec);
				else
					move_add(out, other, rel, r->t.tv_sec);
				trail_push(tr, other, idx[p].i, r->t, true);
			}
		}
		if (!rel[k])
			break;
	}
	split_trails(rl, idx, forward, rel, 0, rl->n, tr);
}

/* Where what was called rel went: windows of each name and time, and
 * rel's own renames (out->moves). history_plan's places to look in. */
static void trace_forward(const struct rename_log *rl, const char *rel, struct windows *ws,
			  struct version_list *out)
{
	struct trails fw = {0};
	start_trails(rl, rel, true, &fw, out);
	for (size_t j = 0; j < fw.len; j++)
		follow_forward(rl, &fw, j, ws, out);
	free(fw.t);
}

/* Where what was called rel went and what it was called before: windows
 * of each name and time, and rel's own renames. */
static void trace(const struct rename_log *rl, const char *rel, struct windows *ws,
		  struct version_list *out)
{
	trace_forward(rl, rel, ws, out);
	struct trails bw = {0};
	start_trails(rl, rel, false, &bw, out);
	for (size_t j = 0; j < bw.len; j++)
		follow_backward(rl, &bw, j, ws, out);
	free(bw.t);
}

/* Bytes, with '/' before every other: a directory's names come right
 * after it ("a", "a/b", "a-b"). */
static int path_order(const void *pa, const void *pb)
{
	const unsigned char *a = *(const unsigned char *const *)pa;
	const unsigned char *b = *(const unsigned char *const *)pb;
	for (;; a++, b++) {
		unsigned ca = *a == '/' ? 1 : *a, cb = *b == '/' ? 1 : *b;
		if (ca != cb || !ca)
			return ca < cb ? -1 : ca > cb;
	}
}

/* Past this many places to look in, the whole tree and history are read
 * once instead (each place is a look into every history run). */
#define VERSIONS_MAX_ROOTS 256

/* Every version kept under one of the windows' names. */
static void collect_windows(const char *root, const struct windows *ws, struct version_list *all)
{
	const char **names = xcalloc(ws->len + 1, sizeof(*names));
	for (size_t i = 0; i < ws->len; i++)
		names[i] = ws->w[i].name;
	qsort(names, ws->len, sizeof(*names), path_order);
	size_t kept = 0; /* names not below another: the places to look in */
	for (size_t i = 0; i < ws->len; i++)
		if (!kept || !rel_within(names[i], names[kept - 1]))
			names[kept++] = names[i];
	if (kept > VERSIONS_MAX_ROOTS)
		collect_everywhere(all, root, "");
	else
		for (size_t i = 0; i < kept; i++)
			collect_everywhere(all, root, names[i]);
	free(names);
}

static int by_as_then_replaced(const void *pa, const void *pb)
{
	const struct version *a = *(const struct version *const *)pa;
	const struct version *b = *(const struct version *const *)pb;
	int c = strcmp(a->as, b->as);
	return c ? c : replaced_order(a, b);
}

static int by_string(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* Is name, or anything below it, among the sorted names? */
static bool holds(char *const *names, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* the first >= name */
		size_t mid = (lo + hi) / 2;
		if (strcmp(names[mid], name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < n; i++) {
		if (rel_within(names[i], name))
			return true;
		if (strncmp(names[i], name, strlen(name)) != 0)
			break; /* past every name that starts with it */
	}
	return false;
}

/* The live directories under rel (not rel itself), every depth. */
static void live_dirs(const char *root, struct buf *rel, struct version_list *out)
{
	char *path = *rel->data ? xasprintf("%s/%s", root, rel->data) : xstrdup(root);
	DIR *d = opendir(path);
	free(path);
	if (!d)
		return;
	size_t len = rel->len;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (len == 0 && !strcmp(e->d_name, HISTORY_DIR)))
			continue;
		rel->len = len;
		rel->data[len] = '\0';
		if (len)
			buf_addc(rel, '/');
		buf_adds(rel, e->d_name);
		char *full = xasprintf("%s/%s", root, rel->data);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			add_version(out, full, rel->data, &st, true);
			live_dirs(root, rel, out);
		}
		free(full);
	}
	closedir(d);
	rel->len = len;
	rel->data[len] = '\0';
}

static int deepest_first(const void *pa, const void *pb)
{
	const struct version *a = pa, *b = pb;
	size_t la = strlen(a->rel), lb = strlen(b->rel);
	return la != lb ? (la > lb ? -1 : 1) : strcmp(a->rel, b->rel);
}

/* What is under rel now and was not at `at`: live files whose name is
 * not one of the picked names, and directories made (or renamed) since
 * with no picked name below them. */
static void plan_gone(const char *root, const char *rel, time_t at, const struct rename_log *rl,
		      struct restore_plan *p)
{
	char **names = xcalloc(p->n_pick + 1, sizeof(*names));
	for (size_t i = 0; i < p->n_pick; i++)
		names[i] = p->pick[i]->as; /* sorted already */
	p->gone = xcalloc(p->all.len + 1, sizeof(*p->gone));
	for (size_t i = 0; i < p->all.len; i++) {
		const struct version *v = &p->all.v[i];
		if (v->replaced == 0 && rel_within(v->rel, rel) &&
		    !bsearch(&v->rel, names, p->n_pick, sizeof(*names), by_string))
			p->gone[p->n_gone++] = v;
	}
	struct buf b;
	buf_init(&b);
	buf_adds(&b, rel);
	struct version_list dirs = {0};
	live_dirs(root, &b, &dirs);
	buf_free(&b);
	for (size_t i = 0; i < dirs.len; i++) {
		struct version *d = &dirs.v[i];
		char *then = name_at(rl, d->rel, 0, 0);
		bool new_name = d->born > at || strcmp(then, d->rel) != 0;
		free(then);
		if (!new_name || holds(names, p->n_pick, d->rel))
			continue;
		struct version_list *g = &p->gone_dirs;
		if (g->len == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 16;
			g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
		}
		g->v[g->len++] = *d;
		memset(d, 0, sizeof(*d));
	}
	version_list_free(&dirs);
	if (p->gone_dirs.len)
		qsort(p->gone_dirs.v, p->gone_dirs.len, sizeof(*p->gone_dirs.v), deepest_first);
	free(names);
}

int history_plan(const char *root, const char *rel, time_t at, struct restore_plan *p,
		 char **err)
{
	memset(p, 0, sizeof(*p));
	if (check_rel(rel, err) < 0)
		return -1;
	struct rename_log rl;
	read_renames(root, at, &rl);
	/* Where what was under rel at `at` may be now: rel, and the names the
	 * renames since gave it (or parts of it). */
	struct windows ws = {0};
	struct version_list moves = {0};
	window_add(&ws, rel, TS_FIRST, TS_LAST);
	trace_forward(&rl, rel, &ws, &moves);
	collect_windows(root, &ws, &p->all);
	windows_free(&ws);
	version_list_free(&moves);
	/* Each version by the name it had at `at`; those under rel are candidates. */
	const struct version **cand = xcalloc(p->all.len + 1, sizeof(*cand));
	size_t n = 0;
	for (size_t i = 0; i < p->all.len; i++) {
		struct version *v = &p->all.v[i];
		v->as = name_at(&rl, v->rel, v->replaced, v->replaced_ns);
		if (rel_within(v->as, rel))
			cand[n++] = v;
	}
	if (n)
		qsort(cand, n, sizeof(*cand), by_as_then_replaced);
	/* Per name: the first version there at `at`. */
	p->pick = xcalloc(n + 1, sizeof(*p->pick));
	for (size_t i = 0; i < n;) {
		size_t j = i;
		const struct version *pick = NULL;
		for (; j < n && !strcmp(cand[j]->as, cand[i]->as); j++)
			if (!pick && there_at(cand[j], at))
				pick = cand[j];
		if (pick)
			p->pick[p->n_pick++] = pick;
		i = j;
	}
	free(cand);
	if (p->n_pick)
		plan_gone(root, rel, at, &rl, p);
	rename_log_free(&rl);
	return 0;
}

void restore_plan_free(struct restore_plan *p)
{
	version_list_free(&p->all);
	version_list_free(&p->gone_dirs);
	free(p->pick);
	free(p->gone);
	memset(p, 0, sizeof(*p));
}

/* ---- versions across renames ---- */

static int move_order(const void *pa, const void *pb)
{
	const struct path_rename *a = pa, *b = pb;
	int c;
	if (a->when != b->when)
		return a->when < b->when ? -1 : 1;
	if ((c = strcmp(a->from, b->from)) != 0)
		return c;
	return strcmp(a->to, b->to);
}

/* Oldest first, each once (a name renamed and renamed back is seen by
 * both traces). */
static void moves_sort(struct version_list *l)
{
	if (!l->n_moves)
		return;
	qsort(l->moves, l->n_moves, sizeof(*l->moves), move_order);
	size_t k = 1;
	for (size_t i = 1; i < l->n_moves; i++) {
		if (move_order(&l->moves[i], &l->moves[k - 1]) == 0) {
			free(l->moves[i].from);
			free(l->moves[i].to);
		} else {
			l->moves[k++] = l->moves[i];
		}
	}
	l->n_moves = k;
}

/* A version's names over its life, newest first: the renames that made
 * its name (history_plan's steps back, name_at), from when it left the
 * tree (or now) back to its arrival. */
struct named {
	char *name;
	struct timespec from, until;
};

static size_t names_of(const struct rename_log *rl, const struct version *v, struct named **out)
{
	size_t n = 0, cap = 4;
	struct named *s = xcalloc(cap, sizeof(*s));
	char *name = xstrdup(v->rel);
	struct timespec until = v->replaced ? (struct timespec){v->replaced, v->replaced_ns}
					    : TS_LAST;
	size_t limit = renames_before(rl, v->replaced, v->replaced_ns), i;
	for (;;) {
		if (n == cap)
			s = xrealloc(s, (cap *= 2) * sizeof(*s));
		i = made_by(rl, name, limit);
		/* Renames before it arrived were another file's. (One in the
		 * second it arrived gives its name before no row: restore counts
		 * what happened during a second as before it.) */
		if (i == limit || ts_before(&rl->r[i].t, v->born, v->born_ns)) {
			s[n++] = (struct named){name, {v->born, v->born_ns}, until};
			break;
		}
		s[n++] = (struct named){name, rl->r[i].t, until};
		until = rl->r[i].t;
		name = name_before(&rl->r[i], name);
		limit = i;
	}
	*out = s;
	return n;
}

static int window_order(const void *pa, const void *pb)
{
	const struct window *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

/* Had the name s (or a directory above it, len bytes of it) while a
 * window of that name was open? ws sorted by name. */
static bool in_window(const struct windows *ws, const struct named *s, size_t len)
{
	size_t lo = 0, hi = ws->len;
	while (lo < hi) { /* the first window named s's first len bytes, or after */
		size_t mid = (lo + hi) / 2;
		if (name_cmp(ws->w[mid].name, s->name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ws->len && name_cmp(ws->w[lo].name, s->name, len) == 0; lo++)
		if (ts_less(&s->from, &ws->w[lo].until) && ts_less(&ws->w[lo].from, &s->until))
			return true;
	return false;
}

/* Did one of the names of a version fall in the lineage's windows? */
static bool in_windows(const struct windows *ws, const struct named *s, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const char *name = s[k].name;
		for (size_t len = 0;; len++) {
			if ((len == 0 || name[len] == '/' || name[len] == '\0') &&
			    in_window(ws, &s[k], len))
				return true;
			if (!name[len])
				break;
		}
	}
	return false;
}

/* One row per name of v that `restore --at` can reach (a whole second
 * under it), newest first. */
static void add_rows(struct version_list *out, const struct version *v, const struct named *s,
		     size_t n)
{
	for (size_t k = 0; k < n; k++) {
		time_t since = s[k].from.tv_sec, until = k ? s[k].until.tv_sec : v->replaced;
		if (until && since >= until)
			continue;
		if (out->len == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 16;
			out->v = xrealloc(out->v, out->cap * sizeof(*out->v));
		}
		struct version *row = &out->v[out->len++];
		*row = *v;
		row->path = xstrdup(v->path);
		row->rel = xstrdup(s[k].name);
		row->as = NULL;
		row->since = since;
		row->until = until;
		row->renamed_to = k ? xstrdup(s[k - 1].name) : NULL;
	}
}

/* The names rel's content had, and when (ws), and the renames of rel
 * itself (out->moves). */
static void lineage(const struct rename_log *rl, const char *rel, struct windows *ws,
		    struct version_list *out)
{
	window_add(ws, rel, TS_FIRST, TS_LAST); /* whatever was ever called so */
	trace(rl, rel, ws, out);
	moves_sort(out);
	if (ws->len)
		qsort(ws->w, ws->len, sizeof(*ws->w), window_order);
}

/* The rows of the versions in all that had one of the lineage's names
 * while it had it. */
static void rows_of(const struct rename_log *rl, const struct windows *ws,
		    const struct version_list *all, struct version_list *out)
{
	for (size_t i = 0; i < all->len; i++) {
		struct named *s;
		size_t n = names_of(rl, &all->v[i], &s);
		if (in_windows(ws, s, n))
			add_rows(out, &all->v[i], s, n);
		for (size_t k = 0; k < n; k++)
			free(s[k].name);
		free(s);
	}
}

int history_versions(const char *root, const char *rel, struct version_list *out, char **err)
{
	memset(out, 0, sizeof(*out));
	if (check_rel(rel, err) < 0)
		return -1;
	struct rename_log rl;
	read_renames(root, 0, &rl);
	struct windows ws = {0};
	lineage(&rl, rel, &ws, out);
	struct version_list all = {0};
	collect_windows(root, &ws, &all);
	rows_of(&rl, &ws, &all, out);
	version_list_free(&all);
	windows_free(&ws);
	rename_log_free(&rl);
	return 0;
}

void history_versions_rows(const char *log, size_t log_len, const char *rel,
			   const struct version_list *all, struct version_list *out)
{
	memset(out, 0, sizeof(*out));
	char *text = xmalloc(log_len + 1);
	memcpy(text, log, log_len);
	struct rename_log rl;
	parse_renames(text, log_len, 0, &rl);
	struct windows ws = {0};
	lineage(&rl, rel, &ws, out);
	rows_of(&rl, &ws, all, out);
	windows_free(&ws);
	rename_log_free(&rl);
}

/* ---- retention ---- */

struct aged {
	char *path;
	time_t replaced;
	uint64_t size;
};

struct aged_list {
	struct aged *a;
	size_t len, cap;
	uint64_t total;
};

static void walk_aged(struct aged_list *l, struct buf *path)
{
	DIR *d = opendir(path->data);
	if (!d)
		return;
	size_t plen = path->len;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		path->len = plen;
		path->data[plen] = '\0';
		buf_addc(path, '/');
		buf_adds(path, e->d_name);
		struct stat st;
		if (lstat(path->data, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk_aged(l, path);
			continue;
		}
		if (l->len == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 64;
			l->a = xrealloc(l->a, l->cap * sizeof(*l->a));
		}
		uint64_t sz = (uint64_t)st.st_blocks * 512;
		l->a[l->len++] = (struct aged){xstrdup(path->data), st.st_ctime, sz};
		l->total += sz;
	}
	closedir(d);
	path->len = plen;
	path->data[plen] = '\0';
}

static void gather(const char *root, struct aged_list *l)
{
	memset(l, 0, sizeof(*l));
	char *hist = xasprintf("%s/%s", root, HISTORY_DIR);
	DIR *d = opendir(hist);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			struct buf p;
			buf_init(&p);
			buf_addf(&p, "%s/%s", hist, e->d_name);
			walk_aged(l, &p);
			buf_free(&p);
		}
		closedir(d);
	}
	free(hist);
}

static void aged_free(struct aged_list *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->a[i].path);
	free(l->a);
}

static int by_age(const void *pa, const void *pb)
{
	const struct aged *a = pa, *b = pb;
	return a->replaced < b->replaced ? -1 : a->replaced > b->replaced;
}

/* Empty directories left in the history go (run directories included). */
static bool remove_empty_dirs(const char *path, bool keep_self)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool empty = true;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (keep_self && e->d_name[0] == '.') {
			empty = false;
			continue;
		}
		char *sub = xasprintf("%s/%s", path, e->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode) && remove_empty_dirs(sub, false))
			rmdir(sub);
		else
			empty = false;
		free(sub);
	}
	closedir(d);
	return empty && !keep_self;
}

/* Renames older than keep can no longer be undone by a restore (the
 * versions of that time are gone): their records go. */
static void prune_renames(const char *root, time_t cutoff)
{
	char *path = xasprintf("%s/%s/%s", root, HISTORY_DIR, RENAMES_LOG);
	size_t len = 0;
	char *text = read_file(path, &len);
	size_t from = 0;
	while (text && from < len) { /* records are in time order */
		long long sec = strtoll(text + from, NULL, 10);
		if (sec >= (long long)cutoff)
			break;
		size_t off = from;
		for (int k = 0; k < 3 && off < len; k++) {
			const char *nul = memchr(text + off, '\0', len - off);
			off = nul ? (size_t)(nul - text) + 1 : len;
		}
		from = off;
	}
	if (text && from > 0 && write_file_atomic(path, text + from, len - from) < 0)
		log_warn("history: cannot prune %s: %s", path, strerror(errno));
	free(text);
	free(path);
}

uint64_t history_prune(const char *root, double keep_seconds, uint64_t keep_cap_bytes)
{
	struct aged_list l;
	gather(root, &l);
	if (l.len)
		qsort(l.a, l.len, sizeof(*l.a), by_age);
	time_t cutoff = time(NULL) - (time_t)keep_seconds;
	prune_renames(root, cutoff);
	size_t removed = 0;
	for (size_t i = 0; i < l.len; i++) {
		bool old = l.a[i].replaced < cutoff;
		bool over = keep_cap_bytes > 0 && l.total > keep_cap_bytes;
		if (!old && !over)
			break;
		if (unlink(l.a[i].path) == 0) {
			l.total -= l.a[i].size;
			removed++;
		}
	}
	uint64_t total = l.total;
	aged_free(&l);
	if (removed) {
		char *hist = xasprintf("%s/%s", root, HISTORY_DIR);
		remove_empty_dirs(hist, true);
		free(hist);
		log_debug("history of %s: %zu old versions pruned", root, removed);
	}
	return total;
}

uint64_t history_bytes(const char *root)
{
	struct aged_list l;
	gather(root, &l);
	uint64_t total = l.total;
	aged_free(&l);
	return total;
}

void history_usage(const char *root, uint64_t *bytes, time_t *oldest)
{
	struct aged_list l;
	gather(root, &l);
	*bytes = l.total;
	*oldest = 0;
	for (size_t i = 0; i < l.len; i++)
		if (!*oldest || l.a[i].replaced < *oldest)
			*oldest = l.a[i].replaced;
	aged_free(&l);
}

/* ---- the staging area ---- */

#define STAGING_NAME ".staging"
#define INCOMING_PREFIX ".incoming-"
#define RECEIVED_PREFIX ".received-"

/* A received staging left unclaimed too long (its mtime is when it was
 * received). */
static bool received_expired(int dir_fd, const char *name)
{
	struct stat st;
	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_mtime < time(NULL) - HISTORY_RECEIVED_MAX_AGE;
}

/* The receiver PID of a staging directory's name .incoming-PID[-TAG], else 0. */
static long incoming_pid(const char *name)
{
	if (strncmp(name, INCOMING_PREFIX, strlen(INCOMING_PREFIX)) != 0)
		return 0;
	char *end = NULL;
	long pid = strtol(name + strlen(INCOMING_PREFIX), &end, 10);
	return pid > 0 && end && (!*end || *end == '-') ? pid : 0;
}

/* In dir_fd, remove the staging directories of dead receivers and the
 * received stagings left unclaimed too long (all of them with
 * any_received: the old layout's, which no merge looks for any more). */
static void remove_dead_staging(int dir_fd, bool any_received)
{
	DIR *d = fdopendir(dup(dir_fd));
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strncmp(e->d_name, RECEIVED_PREFIX, strlen(RECEIVED_PREFIX))) {
			if (any_received || received_expired(dir_fd, e->d_name))
				beneath_remove_tree(dir_fd, e->d_name);
			continue;
		}
		long pid = incoming_pid(e->d_name);
		if (pid <= 0 || pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		beneath_remove_tree(dir_fd, e->d_name);
	}
	if (d)
		closedir(d);
}

/* The staging area below root_fd, never through a symlink. With create it
 * is made when missing, the history too (root's times kept), and then,
 * once per target, the old layout's leftovers are removed: staging
 * directories an older lifeboat left directly in the history, found by
 * the one read of the whole history this costs. -1 with *err. */
static int open_staging(int root_fd, bool create, char **err)
{
	if (!create)
		return beneath_open_dir(root_fd, HISTORY_STAGING, false, err);
	int hfd = open_history_dir(root_fd);
	int sfd = hfd < 0 ? -1
			  : openat(hfd, STAGING_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 && hfd >= 0 && errno == ENOENT) {
		/* EEXIST: another receiver made it a moment ago (and sweeps). */
		int made = mkdirat(hfd, STAGING_NAME, 0700);
		if (made == 0)
			remove_dead_staging(hfd, true);
		if (made == 0 || errno == EEXIST)
			sfd = openat(hfd, STAGING_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	int saved = errno;
	if (sfd < 0)
		*err = xasprintf("cannot open %s: %s", hfd < 0 ? HISTORY_DIR : HISTORY_STAGING,
				 saved == ELOOP || saved == ENOTDIR
					 ? "not a directory (or a symlink): refused"
					 : strerror(saved));
	if (hfd >= 0)
		close(hfd);
	errno = saved;
	return sfd;
}

char *history_staging_make(int root_fd, const char *tag, char **err)
{
	int sfd = open_staging(root_fd, true, err);
	if (sfd < 0)
		return NULL;
	char *name = xasprintf(INCOMING_PREFIX "%ld%s%s", (long)getpid(), tag ? "-" : "",
			       tag ? tag : "");
	int fd = -1;
	if (mkdirat(sfd, name, 0700) == 0 || errno == EEXIST)
		fd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int saved = errno;
	char *rel = NULL;
	if (fd < 0)
		*err = xasprintf("cannot make %s/%s: %s", HISTORY_STAGING, name, strerror(saved));
	else
		rel = xasprintf("%s/%s", HISTORY_STAGING, name);
	if (fd >= 0)
		close(fd);
	close(sfd);
	free(name);
	errno = saved;
	return rel;
}

char *history_temp_dir(const char *root, const char *tag)
{
	int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return NULL;
	char *err = NULL;
	char *rel = history_staging_make(root_fd, tag, &err);
	int saved = errno;
	close(root_fd);
	char *dir = NULL;
	if (rel)
		dir = xasprintf("%s/%s", root, rel);
	else
		log_debug("history: %s: %s", root, err);
	free(err);
	free(rel);
	errno = saved;
	return dir;
}

void history_clean_staging(const char *root)
{
	int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return;
	char *err = NULL;
	int sfd = open_staging(root_fd, true, &err);
	if (sfd >= 0) {
		remove_dead_staging(sfd, false);
		close(sfd);
	} else {
		log_warn("history: %s: %s", root, err);
	}
	free(err);
	close(root_fd);
}

/* The history directory, made before the first transfer that may keep
 * something, without changing the times of the tree's top directory (they
 * are the source's; rsync set them already). */
void history_ensure_dir(const char *root)
{
	char *dir = xasprintf("%s/%s", root, HISTORY_DIR);
	struct stat st, rst;
	if (lstat(dir, &st) < 0 && errno == ENOENT && stat(root, &rst) == 0 &&
	    mkdir(dir, 0700) == 0) {
		struct timespec times[2] = {rst.st_atim, rst.st_mtim};
		utimensat(AT_FDCWD, root, times, 0);
	}
	free(dir);
}

/* Prune by keep at most every 10 minutes (a mark file's time). */
static uint64_t prune_if_due(const char *root, double keep, uint64_t cap)
{
	char *mark = xasprintf("%s/%s/.pruned", root, HISTORY_DIR);
	struct stat st;
	uint64_t held = 0;
	history_ensure_dir(root);
	if (stat(mark, &st) < 0 || st.st_mtime < time(NULL) - 600) {
		held = history_prune(root, keep, cap);
		write_file_atomic(mark, "", 0);
	}
	free(mark);
	return held;
}

int history_room(const char *root, double keep, const char *keep_size, char **why)
{
	struct statvfs vfs;
	if (keep <= 0 || statvfs(root, &vfs) < 0)
		return 0;
	uint64_t size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	uint64_t cap = 0;
	if (keep_size)
		history_parse_size(keep_size, size, &cap);
	uint64_t held = prune_if_due(root, keep, cap);
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	uint64_t reserve = size / HISTORY_RESERVE_DIVISOR;
	if (avail >= reserve)
		return 0;
	if (cap > 0) {
		held = history_prune(root, keep, cap);
		if (statvfs(root, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize >= reserve)
			return 0;
	}
	if (!held)
		held = history_bytes(root);
	*why = xasprintf("%s has %llu MiB free (under %llu MiB); its history younger than keep "
			 "holds %llu MiB and is not pruned for room: free %llu MiB there, or set "
			 "keep_size",
			 root, (unsigned long long)(avail >> 20),
			 (unsigned long long)(reserve >> 20), (unsigned long long)(held >> 20),
			 (unsigned long long)((reserve - avail) >> 20) + 1);
	return -1;
}

bool history_tag_ok(const char *tag)
{
	size_t n = strspn(tag, "0123456789abcdef");
	return n >= 16 && n <= 64 && !tag[n];
}

/* The name of a staging directory directly in the staging area, from its
 * path below root; NULL for any other path. */
static const char *staging_name(const char *staging_rel)
{
	size_t n = strlen(HISTORY_STAGING);
	if (strncmp(staging_rel, HISTORY_STAGING, n) != 0 || staging_rel[n] != '/')
		return NULL;
	const char *name = staging_rel + n + 1;
	return *name && !strchr(name, '/') && beneath_rel_ok(name) ? name : NULL;
}

int history_mark_received(int root_fd, const char *staging_rel, const char *tag, char **err)
{
	const char *name = staging_name(staging_rel);
	if (!name || !history_tag_ok(tag)) {
		*err = xasprintf("'%s' is not a staging directory, or '%s' not a transfer tag",
				 staging_rel, tag);
		return -1;
	}
	int sfd = open_staging(root_fd, false, err);
	if (sfd < 0)
		return -1;
	char *to = xasprintf(RECEIVED_PREFIX "%s", tag);
	int rc = 0;
	if (renameat(sfd, name, sfd, to) < 0 || utimensat(sfd, to, NULL, AT_SYMLINK_NOFOLLOW) < 0) {
		*err = xasprintf("cannot keep the received files for their check: %s",
				 strerror(errno));
		rc = -1;
	}
	free(to);
	close(sfd);
	return rc;
}

char *history_claim_received(int root_fd, const char *tag, char **err)
{
	if (!history_tag_ok(tag)) {
		*err = xasprintf("not a transfer tag: %s", tag);
		return NULL;
	}
	int sfd = open_staging(root_fd, false, err);
	if (sfd < 0)
		return NULL;
	char *name = xasprintf(RECEIVED_PREFIX "%s", tag);
	char *mine = xasprintf(INCOMING_PREFIX "%ld-merge", (long)getpid());
	char *rel = NULL;
	if (received_expired(sfd, name)) {
		beneath_remove_tree(sfd, name);
		*err = xasprintf("the received files of %s waited too long for their check: "
				 "not merged",
				 tag);
	} else if (renameat(sfd, name, sfd, mine) < 0) {
		*err = xasprintf("no received files to merge for %s: %s", tag, strerror(errno));
	} else {
		rel = xasprintf("%s/%s", HISTORY_STAGING, mine);
	}
	free(name);
	free(mine);
	close(sfd);
	return rel;
}

void history_staging_drop(int root_fd, const char *staging_rel, const char *rel)
{
	if (!*rel || !beneath_rel_ok(rel))
		return;
	char *path = xasprintf("%s/%s", staging_rel, rel);
	char *parent;
	const char *base;
	split_rel(path, &parent, &base);
	char *err = NULL;
	int pfd = beneath_open_dir(root_fd, parent, false, &err);
	if (pfd >= 0) {
		struct stat st;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
			unlinkat(pfd, base, 0);
		close(pfd);
	}
	free(err);
	free(parent);
	free(path);
}

void history_staging_remove(int root_fd, const char *staging_rel)
{
	char *parent;
	const char *base;
	split_rel(staging_rel, &parent, &base);
	char *err = NULL;
	int pfd = beneath_open_dir(root_fd, parent, false, &err);
	if (pfd >= 0) {
		beneath_remove_tree(pfd, base);
		close(pfd);
	}
	free(err);
	free(parent);
}
