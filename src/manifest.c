#include "manifest.h"
#include "beneath.h"
#include "exclude.h"
#include "history.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Paths may be longer than PATH_MAX (the walk uses openat); a stream's
 * strings are bounded all the same. */
#define MAX_STRING (64 * 1024)
#define MAX_NAMES 65536

/* ---- order ---- */

static bool component_end(unsigned char c)
{
	return c == '\0' || c == '/';
}

int manifest_pathcmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	for (;; x++, y++) {
		bool ex = component_end(*x), ey = component_end(*y);
		if (ex && ey) {
			if (*x != *y)
				return *x == '\0' ? -1 : 1; /* x is y's directory */
			if (!*x)
				return 0;
			continue;
		}
		if (ex)
			return -1; /* x's name is a prefix of y's */
		if (ey)
			return 1;
		if (*x != *y)
			return *x < *y ? -1 : 1;
	}
}

bool manifest_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!n)
		return path[0] != '\0';
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* ---- the walk ---- */

/* One open directory: its entries' names, sorted. */
struct level {
	int fd;
	char *names;      /* NUL-separated */
	size_t *offsets;
	size_t n, next;
	size_t path_len;  /* of the directory's own path in w->path */
};

/* Hard-linked files seen: their inode and first path. */
struct link_slot {
	dev_t dev;
	ino_t ino;
	char *path;
};

/* A small uid or gid to name cache. */
struct name_cache {
	uint32_t *ids;
	char **names;
	size_t n;
};

struct manifest_walk {
	const struct exclude_set *x;
	struct level *levels;
	size_t depth, cap;
	struct buf path;
	char *link; /* the last symlink's target */
	size_t link_cap;
	bool started;
	bool descend; /* the last entry was a directory: open it next */
	char *last_name;
	struct link_slot *links;
	size_t n_links, cap_links;
	bool names;
	struct name_cache users, groups;
};

static void pop(struct manifest_walk *w)
{
	struct level *l = &w->levels[--w->depth];
	close(l->fd);
	free(l->names);
	free(l->offsets);
}

static int by_name(const void *a, const void *b, void *names)
{
	return strcmp((const char *)names + *(const size_t *)a, (const char *)names + *(const size_t *)b);
}

/* Push fd (owned from here) as the next level: its names read (getdents64
 * straight into the name buffer: no DIR stream, no extra fds) and sorted. */
static int push(struct manifest_walk *w, int fd, char **err)
{
	struct buf names;
	buf_init(&names);
	size_t *offsets = NULL, n = 0, cap = 0;
	char dents[32768] __attribute__((aligned(8)));
	ssize_t got;
	while ((got = getdents64(fd, dents, sizeof(dents))) > 0) {
		for (ssize_t at = 0; at < got;) {
			const struct dirent64 *e = (const struct dirent64 *)(dents + at);
			at += e->d_reclen;
			const char *name = e->d_name;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				offsets = xrealloc(offsets, cap * sizeof(*offsets));
			}
			offsets[n++] = names.len;
			buf_add(&names, name, strlen(name) + 1);
		}
	}
	if (got < 0) {
		*err = xasprintf("%s: %s", w->path.len ? w->path.data : ".", strerror(errno));
		buf_free(&names);
		free(offsets);
		close(fd);
		return -1;
	}
	if (n > 1)
		qsort_r(offsets, n, sizeof(*offsets), by_name, names.data);
	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->levels = xrealloc(w->levels, w->cap * sizeof(*w->levels));
	}
	w->levels[w->depth++] = (struct level){fd, buf_steal(&names), offsets, n, 0, w->path.len};
	return 0;
}

struct manifest_walk *manifest_walk_open(const char *root, const struct exclude_set *x,
					 char **err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot open %s: %s", root, strerror(errno));
		return NULL;
	}
	struct manifest_walk *w = xcalloc(1, sizeof(*w));
	w->x = x;
	buf_init(&w->path);
	buf_add(&w->path, "", 0);
	if (push(w, fd, err) < 0) {
		manifest_walk_free(w);
		return NULL;
	}
	return w;
}

static void free_cache(struct name_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->ids);
	free(c->names);
}

void manifest_walk_free(struct manifest_walk *w)
{
	if (!w)
		return;
	while (w->depth)
		pop(w);
	free(w->levels);
	buf_free(&w->path);
	free(w->link);
	free(w->last_name);
	for (size_t i = 0; i < w->cap_links; i++)
		free(w->links[i].path);
	free(w->links);
	free_cache(&w->users);
	free_cache(&w->groups);
	free(w);
}

static void set_path_len(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

static size_t link_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static void links_grow(struct manifest_walk *w)
{
	size_t old_cap = w->cap_links;
	struct link_slot *old = w->links;
	w->cap_links = old_cap ? old_cap * 2 : 64;
	w->links = xcalloc(w->cap_links, sizeof(*w->links));
	w->n_links = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].path)
			continue;
		size_t j = link_hash(old[i].dev, old[i].ino, w->cap_links);
		while (w->links[j].path)
			j = (j + 1) & (w->cap_links - 1);
		w->links[j] = old[i];
		w->n_links++;
	}
	free(old);
}

/* The first path this hard-linked inode was seen at, or NULL when this is
 * it (then remembered). */
static const char *link_leader(struct manifest_walk *w, const struct stat *st, const char *path)
{
	if (w->n_links * 2 >= w->cap_links)
		links_grow(w);
	size_t j = link_hash(st->st_dev, st->st_ino, w->cap_links);
	for (; w->links[j].path; j = (j + 1) & (w->cap_links - 1))
		if (w->links[j].dev == st->st_dev && w->links[j].ino == st->st_ino)
			return w->links[j].path;
	w->links[j] = (struct link_slot){st->st_dev, st->st_ino, xstrdup(path)};
	w->n_links++;
	return NULL;
}

static const char *cached_name(struct name_cache *c, uint32_t id, bool user)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->ids[i] == id)
			return c->names[i];
	char buf[4096];
	char *name = NULL;
	if (user) {
		struct passwd pw, *res = NULL;
		if (getpwuid_r(id, &pw, buf, sizeof(buf), &res) == 0 && res)
			name = xstrdup(res->pw_name);
	} else {
		struct group gr, *res = NULL;
		if (getgrgid_r(id, &gr, buf, sizeof(buf), &res) == 0 && res)
			name = xstrdup(res->gr_name);
	}
	c->ids = xrealloc(c->ids, (c->n + 1) * sizeof(*c->ids));
	c->names = xrealloc(c->names, (c->n + 1) * sizeof(*c->names));
	c->ids[c->n] = id;
	c->names[c->n++] = name;
	return name;
}

static char type_of(mode_t m)
{
	if (S_ISREG(m))
		return 'f';
	if (S_ISDIR(m))
		return 'd';
	if (S_ISLNK(m))
		return 'l';
	if (S_ISCHR(m))
		return 'c';
	if (S_ISBLK(m))
		return 'b';
	if (S_ISFIFO(m))
		return 'p';
	return 's';
}

static void fill(struct manifest_walk *w, int dir_fd, const char *name, const struct stat *st,
		 struct manifest_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->path = w->path.data;
	e->type = type_of(st->st_mode);
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = e->type == 'f' ? (uint64_t)st->st_size
		  : (e->type == 'c' || e->type == 'b') ? (uint64_t)st->st_rdev : 0;
	e->sec = st->st_mtim.tv_sec;
	e->nsec = st->st_mtim.tv_nsec;
	e->nlink = (uint32_t)st->st_nlink;
	if (e->type == 'f' && st->st_nlink > 1)
		e->leader = link_leader(w, st, w->path.data);
	if (e->type == 'l') {
		size_t want = st->st_size > 0 ? (size_t)st->st_size + 1 : 4096;
		if (w->link_cap < want) {
			w->link = xrealloc(w->link, want);
			w->link_cap = want;
		}
		ssize_t n = readlinkat(dir_fd, name, w->link, want - 1);
		w->link[n > 0 ? (size_t)n : 0] = '\0';
		e->target = w->link;
	}
	if (w->names) {
		e->user = cached_name(&w->users, e->uid, true);
		e->group = cached_name(&w->groups, e->gid, false);
	}
}

/* Open the directory just returned and make it the current level. */
static int descend(struct manifest_walk *w, char **err)
{
	struct level *l = &w->levels[w->depth - 1];
	int fd = openat(l->fd, w->last_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return 0; /* gone meanwhile: the watch saw it */
		*err = xasprintf("%s: %s", w->path.data, strerror(errno));
		return -1;
	}
	return push(w, fd, err);
}

int manifest_walk_next(struct manifest_walk *w, struct manifest_entry *e, char **err)
{
	if (!w->started) {
		w->started = true;
		struct stat st;
		if (fstat(w->levels[0].fd, &st) < 0) {
			*err = xasprintf("top directory: %s", strerror(errno));
			return -1;
		}
		fill(w, w->levels[0].fd, ".", &st, e);
		return 1;
	}
	if (w->descend) {
		w->descend = false;
		if (descend(w, err) < 0)
			return -1;
	}
	while (w->depth) {
		struct level *l = &w->levels[w->depth - 1];
		if (l->next == l->n) {
			pop(w);
			continue;
		}
		const char *name = l->names + l->offsets[l->next++];
		struct stat st;
		if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			*err = xasprintf("%s/%s: %s", w->path.data, name, strerror(errno));
			return -1;
		}
		bool dir = S_ISDIR(st.st_mode);
		if (dir && w->depth == 1 && !strcmp(name, HISTORY_DIR))
			continue; /* the target's history is not part of the mirror */
		if (exclude_match(w->x, name, dir))
			continue;
		set_path_len(&w->path, l->path_len);
		if (l->path_len)
			buf_addc(&w->path, '/');
		buf_adds(&w->path, name);
		fill(w, l->fd, name, &st, e);
		if (dir) {
			free(w->last_name);
			w->last_name = xstrdup(name);
			w->descend = true;
		}
		return 1;
	}
	return 0;
}

void manifest_walk_names(struct manifest_walk *w, bool names)
{
	w->names = names;
}

/* ---- writing ---- */

struct out {
	int fd;
	struct buf b;
	int err;
};

static void out_flush(struct out *o, size_t above)
{
	if (o->b.len <= above || o->err)
		return;
	if (write_all(o->fd, o->b.data, o->b.len) < 0)
		o->err = errno ? errno : EIO;
	buf_reset(&o->b);
}

static void announce(struct out *o, char kind, uint32_t id, const char *name, uint32_t **seen,
		     size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		if ((*seen)[i] == id)
			return;
	*seen = xrealloc(*seen, (*n + 1) * sizeof(**seen));
	(*seen)[(*n)++] = id;
	if (!name)
		return;
	buf_addf(&o->b, "%c %u\n", kind, id);
	buf_add(&o->b, name, strlen(name) + 1);
}

/* v in base 8 or 10, then sep: printf's cost shows at 200,000 entries. */
static char *put_num(char *p, uint64_t v, unsigned base, char sep)
{
	char tmp[24];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % base);
	while ((v /= base));
	while (n)
		*p++ = tmp[--n];
	*p++ = sep;
	return p;
}

static void add_header(struct buf *b, const struct manifest_entry *e)
{
	char line[160], *p = line;
	*p++ = e->type;
	*p++ = ' ';
	p = put_num(p, e->mode, 8, ' ');
	p = put_num(p, e->uid, 10, ' ');
	p = put_num(p, e->gid, 10, ' ');
	p = put_num(p, e->size, 10, ' ');
	if (e->sec < 0)
		*p++ = '-'; /* before 1970 */
	p = put_num(p, e->sec < 0 ? -(uint64_t)e->sec : (uint64_t)e->sec, 10, ' ');
	p = put_num(p, (uint64_t)e->nsec, 10, ' ');
	p = put_num(p, e->leader != NULL, 10, '\n');
	buf_add(b, line, (size_t)(p - line));
}

int manifest_write(struct manifest_walk *w, int fd, bool names, const volatile int *cancel,
		   char **err)
{
	struct out o = {.fd = fd};
	buf_init(&o.b);
	manifest_walk_names(w, names);
	buf_addf(&o.b, "lifeboat-manifest 1 %d\n", geteuid() == 0);
	uint32_t *users = NULL, *groups = NULL;
	size_t n_users = 0, n_groups = 0;
	uint64_t count = 0;
	struct manifest_entry e;
	int rc;
	while ((rc = manifest_walk_next(w, &e, err)) == 1 && !o.err && !(cancel && *cancel)) {
		if (names) {
			announce(&o, 'u', e.uid, e.user, &users, &n_users);
			announce(&o, 'g', e.gid, e.group, &groups, &n_groups);
		}
		add_header(&o.b, &e);
		buf_add(&o.b, e.path, strlen(e.path) + 1);
		if (e.type == 'l')
			buf_add(&o.b, e.target, strlen(e.target) + 1);
		if (e.leader)
			buf_add(&o.b, e.leader, strlen(e.leader) + 1);
		count++;
		out_flush(&o, 60000);
	}
	if (rc == 0 && !o.err)
		buf_addf(&o.b, "end %llu\n", (unsigned long long)count);
	out_flush(&o, 0);
	free(users);
	free(groups);
	buf_free(&o.b);
	if (rc == 0 && o.err) {
		*err = xasprintf("writing the manifest: %s", strerror(o.err));
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

/* ---- reading ---- */

struct id_name {
	uint32_t id;
	char *name;
};

struct manifest_reader {
	int fd;
	char buf[65536];
	size_t start, end;
	bool eof;
	bool root;
	bool header_read;
	bool ended;
	uint64_t records;
	struct buf path, target, leader, prev;
	struct id_name *users, *groups;
	size_t n_users, n_groups;
};

struct manifest_reader *manifest_reader_new(int fd)
{
	struct manifest_reader *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	buf_init(&r->path);
	buf_init(&r->target);
	buf_init(&r->leader);
	buf_init(&r->prev);
	return r;
}

void manifest_reader_free(struct manifest_reader *r)
{
	if (!r)
		return;
	buf_free(&r->path);
	buf_free(&r->target);
	buf_free(&r->leader);
	buf_free(&r->prev);
	for (size_t i = 0; i < r->n_users; i++)
		free(r->users[i].name);
	for (size_t i = 0; i < r->n_groups; i++)
		free(r->groups[i].name);
	free(r->users);
	free(r->groups);
	free(r);
}

bool manifest_reader_root(const struct manifest_reader *r)
{
	return r->root;
}

/* Bytes up to the delimiter (dropped) into b; -1 at EOF, or when longer
 * than max. */
static int read_until(struct manifest_reader *r, char delim, size_t max, struct buf *b)
{
	buf_reset(b);
	buf_add(b, "", 0);
	for (;;) {
		if (r->start == r->end) {
			if (r->eof)
				return -1;
			ssize_t n;
			do
				n = read(r->fd, r->buf, sizeof(r->buf));
			while (n < 0 && errno == EINTR);
			if (n <= 0) {
				r->eof = true;
				return -1;
			}
			r->start = 0;
			r->end = (size_t)n;
		}
		char *p = memchr(r->buf + r->start, delim, r->end - r->start);
		size_t take = p ? (size_t)(p - (r->buf + r->start)) : r->end - r->start;
		if (b->len + take > max)
			return -1;
		buf_add(b, r->buf + r->start, take);
		r->start += take;
		if (p) {
			r->start++;
			return 0;
		}
	}
}

static int bad(struct manifest_reader *r, char **err, const char *what)
{
	*err = xasprintf("manifest record %llu: %s", (unsigned long long)r->records + 1, what);
	return -1;
}

/* Space-separated unsigned decimal (or octal) fields, each fully consumed. */
static bool field(char **p, int base, unsigned long long max, unsigned long long *out)
{
	char *s = *p, *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || v > max || (*end != ' ' && *end != '\0'))
		return false;
	*out = v;
	*p = *end ? end + 1 : end;
	return true;
}

static const char *name_of(const struct id_name *l, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].id == id)
			return l[i].name;
	return NULL;
}

static int read_name_record(struct manifest_reader *r, char kind, char *rest, char **err)
{
	unsigned long long id;
	if (!field(&rest, 10, UINT32_MAX, &id) || *rest)
		return bad(r, err, "bad owner name record");
	struct buf name;
	buf_init(&name);
	if (read_until(r, '\0', 256, &name) < 0) {
		buf_free(&name);
		return bad(r, err, "truncated owner name");
	}
	struct id_name **l = kind == 'u' ? &r->users : &r->groups;
	size_t *n = kind == 'u' ? &r->n_users : &r->n_groups;
	if (*n >= MAX_NAMES) {
		buf_free(&name);
		return bad(r, err, "too many owner names");
	}
	*l = xrealloc(*l, (*n + 1) * sizeof(**l));
	(*l)[(*n)++] = (struct id_name){(uint32_t)id, buf_steal(&name)};
	return 0;
}

static int read_entry(struct manifest_reader *r, char *line, struct manifest_entry *e, char **err)
{
	memset(e, 0, sizeof(*e));
	if (!strchr("fdlcbps", line[0]) || line[1] != ' ')
		return bad(r, err, "unknown entry type");
	e->type = line[0];
	char *p = line + 2;
	unsigned long long mode, uid, gid, size, sec, nsec, leader;
	bool before_1970 = false;
	if (!field(&p, 8, 07777, &mode) || !field(&p, 10, UINT32_MAX, &uid) ||
	    !field(&p, 10, UINT32_MAX, &gid) || !field(&p, 10, UINT64_MAX, &size) ||
	    !((before_1970 = *p == '-') ? (p++, true) : true) ||
	    !field(&p, 10, INT64_MAX, &sec) || !field(&p, 10, 999999999, &nsec) ||
	    !field(&p, 10, 1, &leader) || *p)
		return bad(r, err, "malformed entry header");
	if (read_until(r, '\0', MAX_STRING, &r->path) < 0)
		return bad(r, err, "truncated path");
	bool first = r->records == 0;
	if (first ? (r->path.len != 0 || e->type != 'd') : !r->path.len || !beneath_rel_ok(r->path.data))
		return bad(r, err, first ? "the first entry is not the top directory"
					 : "not a plain relative path");
	if (!first && manifest_pathcmp(r->prev.data, r->path.data) >= 0)
		return bad(r, err, "path out of order");
	if (e->type == 'l' && read_until(r, '\0', MAX_STRING, &r->target) < 0)
		return bad(r, err, "truncated symlink target");
	if (leader && (e->type != 'f' || read_until(r, '\0', MAX_STRING, &r->leader) < 0))
		return bad(r, err, "bad hard link leader");
	buf_reset(&r->prev);
	buf_add(&r->prev, r->path.data, r->path.len);
	e->path = r->path.data;
	e->mode = (unsigned)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->size = size;
	e->sec = before_1970 ? -(int64_t)sec : (int64_t)sec;
	e->nsec = (long)nsec;
	e->target = e->type == 'l' ? r->target.data : NULL;
	e->leader = leader ? r->leader.data : NULL;
	e->user = name_of(r->users, r->n_users, e->uid);
	e->group = name_of(r->groups, r->n_groups, e->gid);
	r->records++;
	return 1;
}

int manifest_reader_start(struct manifest_reader *r, char **err)
{
	if (r->header_read)
		return 0;
	struct buf line;
	buf_init(&line);
	int rc = 0;
	if (read_until(r, '\n', 200, &line) < 0 || (strcmp(line.data, "lifeboat-manifest 1 0") &&
						    strcmp(line.data, "lifeboat-manifest 1 1")))
		rc = bad(r, err, "not a lifeboat manifest (version 1)");
	else
		r->root = line.data[line.len - 1] == '1';
	r->header_read = rc == 0;
	buf_free(&line);
	return rc;
}

int manifest_read(struct manifest_reader *r, struct manifest_entry *e, char **err)
{
	struct buf line;
	buf_init(&line);
	int rc = -1;
	if (r->ended)
		return 0;
	if (manifest_reader_start(r, err) < 0)
		goto out;
	for (;;) {
		if (read_until(r, '\n', 200, &line) < 0) {
			rc = bad(r, err, "the stream ended early");
			break;
		}
		if (!strncmp(line.data, "end ", 4)) {
			char *p = line.data + 4;
			unsigned long long count;
			rc = field(&p, 10, UINT64_MAX, &count) && !*p && count == r->records
				     ? 0 : bad(r, err, "bad end record");
			r->ended = rc == 0;
			break;
		}
		if ((line.data[0] == 'u' || line.data[0] == 'g') && line.data[1] == ' ') {
			if (read_name_record(r, line.data[0], line.data + 2, err) < 0)
				break;
			continue;
		}
		rc = read_entry(r, line.data, e, err);
		break;
	}
out:
	buf_free(&line);
	return rc;
}
