#include "links.h"
#include "exclude.h"
#include "history.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINKS_MAX_DEPTH 64

bool links_has_twins(const char *root, const char *rel)
{
	char *full = xasprintf("%s/%s", root, rel);
	struct stat st;
	bool multi = lstat(full, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1;
	free(full);
	return multi;
}

/* Calls found for each regular file of more than one name below dir_fd
 * (rel its path, extended in place), excludes as the watcher judges them,
 * never through a symlink, the history left out at the top; stops when
 * found returns false. dir_fd is consumed. false: stopped. */
typedef bool (*found_fn)(void *arg, const char *rel, const struct stat *st);

static bool walk(const struct exclude_set *x, int dir_fd, struct buf *rel, int depth,
		 found_fn found, void *arg)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return true;
	}
	size_t len = rel->len;
	bool go_on = true;
	struct dirent *e;
	while (go_on && (e = readdir(d))) {
		const char *n = e->d_name;
		struct stat st;
		if ((n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]))) || (!len && history_name(n)) ||
		    fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (x && exclude_match(x, n, S_ISDIR(st.st_mode))))
			continue;
		rel->len = len;
		if (len)
			buf_addc(rel, '/');
		buf_adds(rel, n);
		if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			go_on = found(arg, rel->data, &st);
		} else if (S_ISDIR(st.st_mode) && depth < LINKS_MAX_DEPTH) {
			int fd = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				go_on = walk(x, fd, rel, depth + 1, found, arg);
		}
	}
	rel->len = len;
	rel->data[len] = '\0';
	closedir(d);
	return go_on;
}

/* One file whose names are sought. */
struct wanted {
	dev_t dev;
	ino_t ino;
	nlink_t nlink, found;
};

struct search {
	struct wanted *w;
	size_t n, done; /* done: how many have all their names */
	struct strv *out;
};

static struct wanted *wanted_of(struct search *s, const struct stat *st)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->w[i].dev == st->st_dev && s->w[i].ino == st->st_ino)
			return &s->w[i];
	return NULL;
}

static bool found_name(void *arg, const char *rel, const struct stat *st)
{
	struct search *s = arg;
	struct wanted *w = wanted_of(s, st);
	if (w && w->found < w->nlink) {
		strv_push(s->out, rel);
		if (++w->found == w->nlink)
			s->done++;
	}
	return s->done < s->n;
}

int links_names(const char *root, const struct strv *rels, const struct exclude_set *x,
		struct strv *out, char **err)
{
	struct search s = {.out = out};
	s.w = xcalloc(rels->len ? rels->len : 1, sizeof(*s.w));
	for (size_t i = 0; i < rels->len; i++) {
		char *full = xasprintf("%s/%s", root, rels->items[i]);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1 &&
		    !wanted_of(&s, &st))
			s.w[s.n++] = (struct wanted){st.st_dev, st.st_ino, st.st_nlink, 0};
		free(full);
	}
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot read %s: %s", root, strerror(errno));
		free(s.w);
		return -1;
	}
	struct buf rel;
	buf_init(&rel);
	buf_adds(&rel, "");
	if (s.n)
		walk(x, fd, &rel, 0, found_name, &s);
	else
		close(fd);
	buf_free(&rel);
	free(s.w);
	return 0;
}

static bool found_any(void *arg, const char *rel, const struct stat *st)
{
	(void)st;
	strv_push(arg, rel);
	return true;
}

void links_below(const char *root, const struct strv *dirs, const struct exclude_set *x,
		 struct strv *out)
{
	int top = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; top >= 0 && i < dirs->len; i++) {
		const char *dir = dirs->items[i];
		int fd = *dir ? openat(top, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		struct buf rel;
		buf_init(&rel);
		buf_adds(&rel, dir);
		if (fd >= 0)
			walk(x, fd, &rel, 0, found_any, out);
		buf_free(&rel);
	}
	if (top >= 0)
		close(top);
}
