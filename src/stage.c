#include "stage.h"
#include "beneath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

struct stage {
	char *dir;
	int fd;
};

struct stage *stage_new(const char *name, char **err)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/lifeboat-%s.XXXXXX", tmp && *tmp ? tmp : "/var/tmp", name);
	for (char *p = tmpl + strlen(tmpl) - 7; p > tmpl && *p != '/'; p--)
		if (*p == ' ')
			*p = '_';
	if (!mkdtemp(tmpl)) {
		*err = xasprintf("cannot make a stage directory %s: %s", tmpl, strerror(errno));
		free(tmpl);
		return NULL;
	}
	/* A lease break is signalled with SIGIO, whose default ends the process:
	 * we only need the lease to be granted, and give it back at once. */
	signal(SIGIO, SIG_IGN);
	struct stage *st = xcalloc(1, sizeof(*st));
	st->dir = tmpl;
	st->fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return st;
}

const char *stage_dir(const struct stage *st)
{
	return st->dir;
}

void stage_clear(struct stage *st)
{
	DIR *d = fdopendir(dup(st->fd));
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			beneath_remove_tree(st->fd, e->d_name);
	closedir(d);
}

void stage_free(struct stage *st)
{
	if (!st)
		return;
	stage_clear(st);
	close(st->fd);
	rmdir(st->dir);
	free(st->dir);
	free(st);
}

static void copy_attrs(int dir_fd, const char *name, const struct stat *s)
{
	fchownat(dir_fd, name, s->st_uid, s->st_gid, AT_SYMLINK_NOFOLLOW);
	if (!S_ISLNK(s->st_mode))
		fchmodat(dir_fd, name, s->st_mode & 07777, 0);
	struct timespec times[2] = {s->st_atim, s->st_mtim};
	utimensat(dir_fd, name, times, AT_SYMLINK_NOFOLLOW);
}

static bool same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_ino == b->st_ino;
}

static int copy_fd(int in, int out, off_t size)
{
	off_t done = 0;
	while (done < size) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[1 << 16];
			n = read(in, buf, sizeof(buf));
			if (n > 0 && write_all(out, buf, (size_t)n) < 0)
				return -1;
		}
		if (n < 0)
			return -1;
		if (n == 0)
			break; /* shrank meanwhile: the stat after tells */
		done += n;
	}
	return 0;
}

/* A read lease is granted only while no process has the file open for
 * writing, and while we hold it, an open for writing waits for us: the
 * copy is a version its writer closed. 1: held; -1: the file is open for
 * writing; 0: no right to take one (not root, not the owner): the stat
 * check alone decides. */
static int take_lease(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0)
		return 1;
	return errno == EAGAIN ? -1 : 0;
}

/* Not written to for STAGE_QUIET_MS (its ctime, which no one can set). */
static bool quiet_since(const struct stat *st)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double age = (double)(now.tv_sec - st->st_ctim.tv_sec) +
		     (double)(now.tv_nsec - st->st_ctim.tv_nsec) / 1e9;
	return age * 1000 >= STAGE_QUIET_MS;
}

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* One stable copy of the regular file at src into dir_fd/name: 0, 1 when
 * it kept changing or stayed open for writing (held), -1 gone or
 * unreadable (rsync decides). */
static int copy_stable(const char *src, int dir_fd, const char *name)
{
	for (int i = 0; i < STAGE_TRIES; i++) {
		if (i)
			pause_ms(2); /* a writer mid-rewrite: let it close */
		int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0)
			return -1;
		int lease = take_lease(in);
		struct stat before, after;
		fstat(in, &before);
		unlinkat(dir_fd, name, 0);
		int out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		int rc = out < 0 ? -1 : copy_fd(in, out, before.st_size);
		fstat(in, &after);
		if (lease > 0)
			fcntl(in, F_SETLEASE, F_UNLCK);
		close(in);
		if (out >= 0)
			close(out);
		if (rc < 0)
			return -1;
		/* Open for writing elsewhere (a log its writer keeps open): a copy
		 * counts only when nothing was written for a while before it. */
		if (same_version(&before, &after) && (lease >= 0 || quiet_since(&after))) {
			copy_attrs(dir_fd, name, &after);
			return 0;
		}
	}
	unlinkat(dir_fd, name, 0);
	return 1;
}

/* The stage's directory for rel's parent, made with the source's
 * attributes for each level (rsync sends them as implied directories). */
static int parent_fd(struct stage *st, const char *source, const char *rel, const char **base,
		     char **err)
{
	const char *slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	int fd = dup(st->fd);
	for (const char *p = rel; fd >= 0 && slash && p <= slash;) {
		const char *next = strchr(p, '/');
		char *name = xstrndup(p, (size_t)(next - p));
		char *srcdir = xasprintf("%s/%.*s", source, (int)(next - rel), rel);
		struct stat s;
		int nfd = -1;
		if (mkdirat(fd, name, 0700) == 0 || errno == EEXIST)
			nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd >= 0 && lstat(srcdir, &s) == 0 && S_ISDIR(s.st_mode))
			copy_attrs(fd, name, &s);
		close(fd);
		fd = nfd;
		free(name);
		free(srcdir);
		p = next + 1;
	}
	if (fd < 0)
		*err = xasprintf("cannot lay out %s in the stage: %s", rel, strerror(errno));
	return fd;
}

enum staged_as { STAGED, HELD, GONE, UNSTAGED };

/* Not for the stage: a big or hard-linked regular file, anything but a
 * regular file, a directory or a symlink. */
static bool not_for_stage(const struct stat *s)
{
	if (S_ISREG(s->st_mode))
		return (uint64_t)s->st_size > STAGE_MAX_FILE || s->st_nlink > 1;
	return !(S_ISDIR(s->st_mode) || S_ISLNK(s->st_mode));
}

/* One listed path. */
static enum staged_as stage_one(struct stage *st, const char *source, const char *rel)
{
	char *src = *rel ? xasprintf("%s/%s", source, rel) : xstrdup(source);
	struct stat s;
	enum staged_as as = STAGED;
	if (lstat(src, &s) < 0)
		as = GONE; /* deleted: nothing to read */
	else if (!st || (*rel && not_for_stage(&s)))
		as = UNSTAGED;
	if (as != STAGED || !*rel) {
		if (as == STAGED)
			copy_attrs(st->fd, ".", &s);
		free(src);
		return as;
	}
	const char *base;
	char *err = NULL;
	int dfd = parent_fd(st, source, rel, &base, &err);
	free(err);
	if (dfd < 0) {
		free(src);
		return UNSTAGED; /* the checked run reads it, and says what is wrong */
	}
	if (S_ISDIR(s.st_mode)) {
		if (mkdirat(dfd, base, 0700) == 0 || errno == EEXIST)
			copy_attrs(dfd, base, &s);
	} else if (S_ISLNK(s.st_mode)) {
		char target[4096];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			unlinkat(dfd, base, 0);
			if (symlinkat(target, dfd, base) == 0)
				copy_attrs(dfd, base, &s);
		}
	} else if (copy_stable(src, dfd, base) == 1) {
		as = HELD; /* vanished or unreadable (-1): as rsync would find it */
	}
	close(dfd);
	free(src);
	return as;
}

/* Directories' times last: creating entries changed them. */
static void copy_dir_times(struct stage *st, const char *source, const struct strv *list)
{
	for (size_t i = 0; i < list->len; i++) {
		const char *rel = list->items[i];
		size_t len = strlen(rel);
		for (const char *sl = strchr(rel, '/');; sl = strchr(sl + 1, '/')) {
			size_t plen = sl ? (size_t)(sl - rel) : len;
			if (!plen)
				break;
			char *part = xstrndup(rel, plen);
			char *srcdir = xasprintf("%s/%s", source, part);
			struct stat s;
			if (lstat(srcdir, &s) == 0 && S_ISDIR(s.st_mode)) {
				struct timespec times[2] = {s.st_atim, s.st_mtim};
				utimensat(st->fd, part, times, AT_SYMLINK_NOFOLLOW);
			}
			free(part);
			free(srcdir);
			if (!sl)
				break;
		}
	}
}

void stage_fill(struct stage *st, const char *source, struct strv *list, struct strv *held,
		struct strv *gone, struct strv *unstaged)
{
	/* Whatever an earlier batch left (a run stopped before it was done
	 * reading) must not be shipped as this batch's content. */
	if (st)
		stage_clear(st);
	struct strv keep;
	strv_init(&keep);
	for (size_t i = 0; i < list->len; i++) {
		struct strv *to[] = {&keep, held, gone, unstaged};
		strv_push(to[stage_one(st, source, list->items[i])], list->items[i]);
	}
	strv_free(list);
	*list = keep;
	if (!st || !list->len)
		return;
	copy_dir_times(st, source, list);
	struct stat root;
	if (stat(source, &root) == 0)
		copy_attrs(st->fd, ".", &root);
}
