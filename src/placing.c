/* placing: the log of files a merge moves into place, and its recovery
 * after an unclean stop (placing.h says why). */
#include "placing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "history.h"
#include "log.h"
#include "util.h"

#define PLACING_DIR HISTORY_DIR "/.placing"
#define PLACING_MAGIC "lifeboat placing 1\n"
/* An empty log is one whose writer has not locked it yet, unless it is
 * older than this: its writer died between the two. */
#define EMPTY_LOG_GRACE_S 60

/* This process's logs not yet covered by a sync: each locked (flock) so
 * that nobody else recovers it meanwhile. */
struct held_log {
	int dir_fd;
	int fd;
	char *name;
	uint64_t seq;
	struct held_log *next;
};

static struct held_log *held;
static uint64_t next_seq = 1;

/* "INO SIZE REL\0" for each regular file below dir_fd. */
static int add_files(int dir_fd, struct buf *rel, struct buf *out, char **err)
{
	DIR *d = history_staged_open(dir_fd, err);
	if (!d)
		return -1;
	size_t len = rel->len;
	int rc = 0;
	const char *name;
	while (rc == 0 && (name = history_staged_next(d, len == 0))) {
		struct stat st;
		if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		rel->len = len;
		if (len)
			buf_addc(rel, '/');
		buf_adds(rel, name);
		if (S_ISREG(st.st_mode)) {
			buf_addf(out, "%ju %jd ", (uintmax_t)st.st_ino, (intmax_t)st.st_size);
			buf_add(out, rel->data, rel->len);
			buf_addc(out, '\0');
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				rc = add_files(sub, rel, out, err);
				close(sub);
			}
		}
	}
	closedir(d);
	rel->len = len;
	return rc;
}

static int write_log(int dir_fd, const char *name, const struct buf *content, char **err)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = xasprintf("cannot log what is put in place: %s", strerror(errno));
		return -1;
	}
	/* Locked before a byte is in it: a recovery skips an empty log. */
	if (flock(fd, LOCK_EX) < 0 || write_all(fd, content->data, content->len) < 0 ||
	    fsync(fd) < 0 || fsync(dir_fd) < 0) {
		*err = xasprintf("cannot write the log of what is put in place: %s",
				 strerror(errno));
		unlinkat(dir_fd, name, 0);
		close(fd);
		return -1;
	}
	return fd;
}

int placing_log(int root_fd, int stage_fd, const char *run_rel, char **err)
{
	struct buf content, rel;
	buf_init(&content);
	buf_init(&rel);
	buf_adds(&rel, "");
	buf_addf(&content, "%srun %s\n", PLACING_MAGIC, run_rel ? run_rel : "-");
	size_t header = content.len;
	int rc = add_files(stage_fd, &rel, &content, err);
	buf_free(&rel);
	if (rc < 0 || content.len == header) {
		buf_free(&content); /* nothing to place but directories and links */
		return rc;
	}
	int dir_fd = beneath_open_dir(root_fd, PLACING_DIR, true, err);
	if (dir_fd < 0) {
		buf_free(&content);
		return -1;
	}
	uint64_t seq = next_seq++;
	char *name = xasprintf("%ld-%" PRIu64, (long)getpid(), seq);
	int fd = write_log(dir_fd, name, &content, err);
	buf_free(&content);
	if (fd < 0) {
		close(dir_fd);
		free(name);
		return -1;
	}
	struct held_log *h = xcalloc(1, sizeof(*h));
	*h = (struct held_log){.dir_fd = dir_fd, .fd = fd, .name = name, .seq = seq, .next = held};
	held = h;
	return 0;
}

uint64_t placing_mark(void)
{
	return next_seq;
}

void placing_synced(uint64_t mark)
{
	for (struct held_log **p = &held; *p;) {
		struct held_log *h = *p;
		if (h->seq >= mark) {
			p = &h->next;
			continue;
		}
		*p = h->next;
		unlinkat(h->dir_fd, h->name, 0); /* before the unlock: never recovered twice */
		close(h->fd);
		close(h->dir_fd);
		free(h->name);
		free(h);
	}
}

/* ---- recovery ---- */

struct found_log {
	char *name;
	int fd; /* locked */
	struct timespec mtime;
};

static int newest_first(const void *a, const void *b)
{
	const struct found_log *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
	return strcmp(y->name, x->name);
}

/* dir_fd of rel's directory below root (its last component in *base), or -1. */
static int open_parent(int root_fd, const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	char *parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	char *err = NULL;
	int fd = beneath_open_dir(root_fd, parent, false, &err);
	free(err);
	free(parent);
	return fd;
}

/* One logged file: still the placed inode but not its size? Then its data
 * did not all reach the disk: back to the version kept, or gone. */
static int roll_back(int root_fd, const char *run_rel, uintmax_t ino, intmax_t size,
		     const char *rel)
{
	if (!*rel || !beneath_rel_ok(rel) || history_name(rel))
		return 0;
	const char *base;
	int pfd = open_parent(root_fd, rel, &base);
	struct stat st;
	if (pfd < 0)
		return 0;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    (uintmax_t)st.st_ino != ino || (intmax_t)st.st_size == size) {
		close(pfd);
		return 0;
	}
	char *kept = run_rel ? xasprintf("%s/%s", run_rel, rel) : NULL;
	const char *kbase = NULL;
	int kfd = kept ? open_parent(root_fd, kept, &kbase) : -1;
	bool back = kfd >= 0 && renameat(kfd, kbase, pfd, base) == 0;
	if (!back)
		unlinkat(pfd, base, 0);
	log_warn("%s was short after an unclean stop (%jd of %jd bytes): %s; the sync ships it "
		 "again",
		 rel, (intmax_t)st.st_size, size,
		 back ? "the version it replaced is back" : "removed (it was new)");
	if (kfd >= 0)
		close(kfd);
	free(kept);
	close(pfd);
	return 1;
}

static int recover_log(int root_fd, int fd)
{
	struct buf b;
	buf_init(&b);
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	int rolled = 0;
	size_t magic = strlen(PLACING_MAGIC);
	char *run_line = b.len > magic && !memcmp(b.data, PLACING_MAGIC, magic) ? b.data + magic
										: NULL;
	char *nl = run_line ? memchr(run_line, '\n', b.len - magic) : NULL;
	if (nl && !strncmp(run_line, "run ", 4)) {
		*nl = '\0';
		const char *run = strcmp(run_line + 4, "-") ? run_line + 4 : NULL;
		const char *end = b.data + b.len;
		for (char *p = nl + 1; p < end;) {
			char *rec_end = memchr(p, '\0', (size_t)(end - p));
			if (!rec_end)
				break; /* torn at its end: its writer died writing it */
			char *q;
			uintmax_t ino = strtoumax(p, &q, 10);
			intmax_t size = *q == ' ' ? strtoimax(q + 1, &q, 10) : -1;
			if (*q == ' ' && size >= 0)
				rolled += roll_back(root_fd, run, ino, size, q + 1);
			p = rec_end + 1;
		}
	}
	buf_free(&b);
	return rolled;
}

/* The logs below dir_fd nobody holds, locked, newest first: a file placed
 * twice goes back one version at a time. */
static size_t find_logs(int dir_fd, struct found_log **out)
{
	size_t n = 0, cap = 0;
	*out = NULL;
	DIR *d = fdopendir(dup(dir_fd));
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = openat(dir_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (st.st_size == 0 && time(NULL) - st.st_mtim.tv_sec < EMPTY_LOG_GRACE_S)) {
			close(fd);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n++] = (struct found_log){xstrdup(e->d_name), fd, st.st_mtim};
	}
	if (d)
		closedir(d);
	if (n)
		qsort(*out, n, sizeof(**out), newest_first);
	return n;
}

int placing_recover(int root_fd, char **err)
{
	char *ignored = NULL;
	int dir_fd = beneath_open_dir(root_fd, PLACING_DIR, false, &ignored);
	free(ignored);
	if (dir_fd < 0)
		return 0; /* none: nothing was ever logged here */
	struct found_log *logs;
	size_t n = find_logs(dir_fd, &logs);
	int rolled = 0;
	for (size_t i = 0; i < n; i++)
		rolled += recover_log(root_fd, logs[i].fd);
	/* The dead writers' files and the roll-backs on disk before their logs go. */
	int rc = n && syncfs(root_fd) < 0 ? -1 : rolled;
	if (rc < 0)
		*err = xasprintf("cannot write the recovered files to disk (syncfs): %s",
				 strerror(errno));
	for (size_t i = 0; i < n; i++) {
		if (rc >= 0)
			unlinkat(dir_fd, logs[i].name, 0);
		close(logs[i].fd);
		free(logs[i].name);
	}
	free(logs);
	close(dir_fd);
	return rc;
}
