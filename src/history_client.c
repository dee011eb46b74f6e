#include "history_client.h"
#include "beneath.h"
#include "child.h"
#include "log.h"
#include "loop.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An absolute, normalised path without resolving its last components
 * (a deleted tree no longer exists): the longest existing prefix is
 * resolved, the rest appended. */
static char *absolute(const char *path)
{
	char *abs;
	if (path[0] == '/') {
		abs = path_normalise(path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		char *joined = xasprintf("%s/%s", cwd, path);
		abs = path_normalise(joined);
		free(joined);
	}
	char *real = realpath(abs, NULL);
	if (real) {
		free(abs);
		return real;
	}
	return abs;
}

int history_locate(const struct config *cfg, const char *path, const struct sync_conf **sc,
		   char **rel, char **err)
{
	char *abs = absolute(path);
	if (!abs) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		char *src = realpath(s->source, NULL);
		const char *root = src ? src : s->source;
		bool in = path_is_within(abs, root);
		if (in) {
			const char *r = abs + strlen(root);
			*rel = xstrdup(*r == '/' ? r + 1 : r);
			*sc = s;
		}
		free(src);
		if (in) {
			free(abs);
			return 0;
		}
	}
	*err = xasprintf("%s is not under the source of any [sync] in %s", abs, cfg->path);
	free(abs);
	return -1;
}

static char *self_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return xstrdup("lifeboat");
	buf[n] = '\0';
	return xstrdup(buf);
}

/* `lifeboat serve REQUEST [ARG]` where sc's target is: over ssh, or this
 * program run here for a local target. */
static void serve_argv(const struct config *cfg, const struct sync_conf *sc, const char *request,
		       const char *arg, struct strv *argv)
{
	if (sc->target_host) {
		transport_ssh_argv(sc, argv);
		strv_pushf(argv, "lifeboat serve %s%s%s", request, arg ? " " : "", arg ? arg : "");
		return;
	}
	/* serve answers for a local target only when asked from here. */
	setenv("LIFEBOAT_SERVE_LOCAL", "1", 1);
	char *self = self_path();
	strv_push(argv, self);
	free(self);
	strv_push(argv, "-c");
	strv_push(argv, cfg->path);
	strv_push(argv, "serve");
	strv_push(argv, request);
	if (arg)
		strv_push(argv, arg);
}

static void request_input(const struct sync_conf *sc, const char *rel, struct buf *in)
{
	buf_init(in);
	buf_add(in, sc->target_path, strlen(sc->target_path) + 1);
	buf_add(in, rel, strlen(rel) + 1);
}

static struct version *new_row(struct version_list *l)
{
	if (l->len == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct version *v = &l->v[l->len++];
	memset(v, 0, sizeof(*v));
	return v;
}

void history_parse_versions(const char *target_path, const char *data, size_t len,
			    struct version_list *l)
{
	memset(l, 0, sizeof(*l));
	char **last_to = NULL; /* where a "to" record goes */
	for (size_t at = 0; at < len;) {
		const char *rec = data + at;
		size_t n = strnlen(rec, len - at);
		at += n + 1;
		char **prev_to = last_to; /* "to" belongs to the record just before it */
		last_to = NULL;
		const char *tab = memchr(rec, '\t', n);
		char head[160]; /* the numbers before the name, never the name's */
		if (!tab || (size_t)(tab - rec) >= sizeof(head))
			continue;
		memcpy(head, rec, (size_t)(tab - rec));
		head[tab - rec] = '\0';
		char *name = xstrndup(tab + 1, n - (size_t)(tab + 1 - rec));
		long long until, since, mtime, replaced, born;
		unsigned long long size;
		int got;
		if (!strcmp(head, "to")) {
			if (prev_to && !*prev_to)
				*prev_to = name, name = NULL;
		} else if (sscanf(head, "renamed %lld", &since) == 1) {
			l->moves = xrealloc(l->moves, (l->n_moves + 1) * sizeof(*l->moves));
			l->moves[l->n_moves] = (struct path_rename){name, NULL, (time_t)since};
			last_to = &l->moves[l->n_moves++].to;
			name = NULL;
		} else if ((got = sscanf(head, "%lld %lld %lld %llu %lld %lld", &until, &since, &mtime,
					 &size, &replaced, &born)) >= 4) {
			struct version *v = new_row(l);
			v->rel = name;
			name = NULL;
			v->path = xasprintf("%s/%s", target_path, v->rel);
			v->until = (time_t)until;
			v->since = (time_t)since;
			v->mtime = (time_t)mtime;
			v->size = size;
			v->replaced = got == 6 ? (time_t)replaced : (time_t)until;
			v->born = got == 6 ? (time_t)born : (time_t)since;
			last_to = &v->renamed_to;
		}
		free(name);
	}
	/* A rename record cut short of its "to": no rename to report. */
	size_t k = 0;
	for (size_t i = 0; i < l->n_moves; i++) {
		if (l->moves[i].to)
			l->moves[k++] = l->moves[i];
		else
			free(l->moves[i].from);
	}
	l->n_moves = k;
}

int history_fetch_versions(const struct config *cfg, const struct sync_conf *sc,
			   const char *rel, struct version_list *out, char **err)
{
	struct strv argv;
	strv_init(&argv);
	serve_argv(cfg, sc, "versions", NULL, &argv);
	struct buf in;
	request_input(sc, rel, &in);
	struct run_result res;
	int rc = child_run(argv.items, in.data, in.len, 600000, &res);
	strv_free(&argv);
	buf_free(&in);
	if (rc != 0) {
		*err = xasprintf("versions from %s: exit %d: %s",
				 sc->target_host ? sc->target_host : sc->target_path, rc, res.err_tail);
		run_result_free(&res);
		return -1;
	}
	history_parse_versions(sc->target_path, res.out.data, res.out.len, out);
	run_result_free(&res);
	return 0;
}

int history_fetch_usage(const struct config *cfg, const struct sync_conf *sc, uint64_t *bytes,
			time_t *oldest, char **err)
{
	struct strv argv;
	strv_init(&argv);
	serve_argv(cfg, sc, "usage", NULL, &argv);
	struct run_result res;
	int rc = child_run(argv.items, sc->target_path, strlen(sc->target_path) + 1, 30000, &res);
	strv_free(&argv);
	unsigned long long b = 0;
	long long o = 0;
	if (rc != 0 || !res.out.data || sscanf(res.out.data, "%llu %lld", &b, &o) != 2) {
		*err = xasprintf("history usage of %s: exit %d: %s", sc->target, rc, res.err_tail);
		run_result_free(&res);
		return -1;
	}
	*bytes = b;
	*oldest = (time_t)o;
	run_result_free(&res);
	return 0;
}

/* ---- restore: serve's archive piped through us into tar -x ---- */

struct pump {
	int ended;
	struct loop *loop;
};

static void on_exit_cb(struct proc *p, void *arg)
{
	(void)p;
	struct pump *pm = arg;
	if (++pm->ended == 2)
		loop_stop(pm->loop);
}

static void show_progress(uint64_t done, uint64_t total, uint64_t files)
{
	if (total)
		fprintf(stderr, "\rrestore: %llu files, %llu of %llu MiB (%d%%)   ",
			(unsigned long long)files, (unsigned long long)(done >> 20),
			(unsigned long long)(total >> 20),
			(int)(done * 100 / (total + 1)));
	else
		fprintf(stderr, "\rrestore: %llu MiB   ", (unsigned long long)(done >> 20));
}

/* What precedes the archive: the header line "FILES BYTES GONE\n" and
 * GONE NUL-terminated names to remove (serve's send_gone). */
struct preamble {
	char line[96];
	size_t ll;
	bool have_line;
	uint64_t gone_left;
	struct buf gone;
};

/* Takes what of buf[0..n) is preamble; returns where the archive starts. */
static size_t take_preamble(struct preamble *pr, const char *buf, size_t n,
			    struct restore_stats *st, uint64_t *total)
{
	size_t off = 0;
	while (!pr->have_line && off < n) {
		char c = buf[off++];
		if (c == '\n') {
			pr->line[pr->ll] = '\0';
			unsigned long long f = 0, b = 0, g = 0;
			sscanf(pr->line, "%llu %llu %llu", &f, &b, &g);
			st->files = f;
			*total = b;
			pr->gone_left = g;
			pr->have_line = true;
		} else if (pr->ll < sizeof(pr->line) - 1) {
			pr->line[pr->ll++] = c;
		}
	}
	while (pr->have_line && pr->gone_left && off < n) {
		const char *nul = memchr(buf + off, '\0', n - off);
		size_t take = nul ? (size_t)(nul - (buf + off)) + 1 : n - off;
		buf_add(&pr->gone, buf + off, take);
		off += take;
		if (nul)
			pr->gone_left--;
	}
	return off;
}

/* The preamble, then the archive, copied to out. */
static int pump_archive(int in, int out, bool progress, struct restore_stats *st,
			struct buf *gone, char **err)
{
	char buf[1 << 16];
	struct preamble pr = {0};
	buf_init(&pr.gone);
	uint64_t total = 0, done = 0, shown = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t off = pr.gone_left || !pr.have_line
				     ? take_preamble(&pr, buf, (size_t)n, st, &total) : 0;
		if (off < (size_t)n && write_all(out, buf + off, (size_t)n - off) < 0) {
			*err = xasprintf("tar -x stopped reading: %s", strerror(errno));
			rc = -1;
			break;
		}
		done += (uint64_t)n - off;
		if (progress && done - shown > (1 << 20)) {
			show_progress(done, total, st->files);
			shown = done;
		}
	}
	st->bytes = done;
	if (progress && rc == 0) {
		show_progress(done, total ? total : done, st->files);
		fputc('\n', stderr);
	}
	if (rc == 0 && (!pr.have_line || pr.gone_left)) {
		*err = xasprintf("serve sent no archive");
		rc = -1;
	}
	*gone = pr.gone;
	return rc;
}

/* One name of the target's that was not there at the restore's time,
 * removed from the source when the source still holds what the target
 * has (a file changed since it was shipped is left, and counted). */
static void remove_one(int root_fd, char kind, uint64_t size, time_t mtime, const char *rel,
		       struct restore_stats *st)
{
	if (!*rel || !beneath_rel_ok(rel) || history_name(rel))
		return;
	const char *slash = strrchr(rel, '/');
	char *parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	const char *base = slash ? slash + 1 : rel;
	char *err = NULL;
	int pfd = beneath_open_dir(root_fd, parent, false, &err);
	struct stat s;
	if (pfd >= 0 && fstatat(pfd, base, &s, AT_SYMLINK_NOFOLLOW) == 0) {
		if (kind == 'd' && S_ISDIR(s.st_mode)) {
			if (unlinkat(pfd, base, AT_REMOVEDIR) == 0)
				st->removed++; /* not empty: it holds what the sync does not carry */
		} else if (kind == 'f' && !S_ISDIR(s.st_mode) && (uint64_t)s.st_size == size &&
			   (S_ISLNK(s.st_mode) || s.st_mtime == mtime)) {
			if (unlinkat(pfd, base, 0) == 0)
				st->removed++;
		} else if (kind == 'f') {
			if (st->left++ < 5)
				log_warn("restore: %s is new since then but changed after it reached "
					 "the target: left in place", rel);
		}
	}
	if (pfd >= 0)
		close(pfd);
	free(err);
	free(parent);
}

static void remove_gone(const char *root, const struct buf *gone, struct restore_stats *st)
{
	int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return;
	for (size_t at = 0; at < gone->len;) {
		const char *rec = gone->data + at;
		size_t n = strnlen(rec, gone->len - at);
		at += n + 1;
		char kind = 0;
		unsigned long long size = 0;
		long long mtime = 0;
		const char *tab = memchr(rec, '\t', n);
		if (tab && sscanf(rec, "%c %llu %lld", &kind, &size, &mtime) == 3)
			remove_one(root_fd, kind, size, (time_t)mtime, tab + 1, st);
	}
	syncfs(root_fd);
	close(root_fd);
}

static void tar_x_argv(const char *dest, int strip, struct strv *argv)
{
	strv_push(argv, "tar");
	strv_push(argv, "-x");
	strv_push(argv, "-p");
	strv_push(argv, "-i"); /* one archive per place versions were kept in */
	strv_push(argv, "-f");
	strv_push(argv, "-");
	if (strip > 0)
		strv_pushf(argv, "--strip-components=%d", strip);
	strv_push(argv, "-C");
	strv_push(argv, dest);
}

int history_restore(const struct config *cfg, const struct sync_conf *sc, const char *rel,
		    time_t at, const char *dest, int strip, bool remove_new, bool progress,
		    struct restore_stats *st, char **err)
{
	memset(st, 0, sizeof(*st));
	int req[2], arch[2], untar[2];
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(arch, O_CLOEXEC) < 0 || pipe2(untar, O_CLOEXEC) < 0) {
		*err = xasprintf("pipe: %s", strerror(errno));
		return -1;
	}
	struct buf in;
	request_input(sc, rel, &in);
	write_all(req[1], in.data, in.len); /* two names: fits the pipe */
	close(req[1]);
	buf_free(&in);
	char when[32];
	snprintf(when, sizeof(when), "%lld", (long long)at);
	struct strv pa, ta;
	strv_init(&pa);
	strv_init(&ta);
	serve_argv(cfg, sc, "restore", when, &pa);
	tar_x_argv(dest, strip, &ta);
	struct pump pm = {.loop = loop_new()};
	struct proc_opts po = {.argv = pa.items, .stdin_from = req[0], .stdout_to = arch[1]};
	struct proc_opts to = {.argv = ta.items, .stdin_from = untar[0], .stdout_to = -1};
	struct proc *producer = proc_start(pm.loop, &po, on_exit_cb, &pm, err);
	struct proc *unpacker = producer ? proc_start(pm.loop, &to, on_exit_cb, &pm, err) : NULL;
	close(req[0]);
	close(arch[1]);
	close(untar[0]);
	int rc = -1;
	struct buf gone;
	buf_init(&gone);
	if (unpacker) {
		rc = pump_archive(arch[0], untar[1], progress, st, &gone, err);
		close(untar[1]);
		close(arch[0]);
		loop_run(pm.loop);
		int pc = proc_exit_code(producer), tc = proc_exit_code(unpacker);
		if (rc == 0 && (pc != 0 || tc != 0)) {
			char *why = *err;
			*err = xasprintf("serve exit %d: %s; tar -x exit %d: %s", pc,
					 proc_stderr_tail(producer), tc, proc_stderr_tail(unpacker));
			free(why);
			rc = -1;
		}
		/* Only once everything of then is back: a renamed file is never
		 * missing under both names. */
		if (rc == 0 && remove_new)
			remove_gone(dest, &gone, st);
	} else {
		close(untar[1]);
		close(arch[0]);
	}
	buf_free(&gone);
	proc_free(producer);
	proc_free(unpacker);
	loop_free(pm.loop);
	strv_free(&pa);
	strv_free(&ta);
	return rc;
}
