#include "history_client.h"
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

static void parse_versions(const struct sync_conf *sc, const struct buf *out,
			   struct version_list *l)
{
	memset(l, 0, sizeof(*l));
	for (size_t at = 0; at < out->len;) {
		const char *rec = out->data + at;
		size_t n = strnlen(rec, out->len - at);
		at += n + 1;
		long long replaced, born, mtime;
		unsigned long long size;
		const char *tab = memchr(rec, '\t', n);
		if (!tab || sscanf(rec, "%lld %lld %lld %llu", &replaced, &born, &mtime, &size) != 4)
			continue;
		if (l->len == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 16;
			l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		}
		struct version *v = &l->v[l->len++];
		memset(v, 0, sizeof(*v));
		v->rel = xstrndup(tab + 1, n - (size_t)(tab + 1 - rec));
		v->path = xasprintf("%s/%s", sc->target_path, v->rel);
		v->replaced = (time_t)replaced;
		v->born = (time_t)born;
		v->mtime = (time_t)mtime;
		v->size = size;
	}
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
	parse_versions(sc, &res.out, out);
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

/* The header line "FILES BYTES\n", then the archive, copied to out. */
static int pump_archive(int in, int out, bool progress, struct restore_stats *st, char **err)
{
	char buf[1 << 16];
	char line[64];
	size_t ll = 0;
	bool header = true;
	uint64_t total = 0, done = 0, shown = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t off = 0;
		while (header && off < (size_t)n) {
			char c = buf[off++];
			if (c == '\n') {
				line[ll] = '\0';
				unsigned long long f = 0, b = 0;
				sscanf(line, "%llu %llu", &f, &b);
				st->files = f;
				total = b;
				header = false;
			} else if (ll < sizeof(line) - 1) {
				line[ll++] = c;
			}
		}
		if (off < (size_t)n && write_all(out, buf + off, (size_t)n - off) < 0) {
			*err = xasprintf("tar -x stopped reading: %s", strerror(errno));
			return -1;
		}
		done += (uint64_t)n - off;
		if (progress && done - shown > (1 << 20)) {
			show_progress(done, total, st->files);
			shown = done;
		}
	}
	st->bytes = done;
	if (progress) {
		show_progress(done, total ? total : done, st->files);
		fputc('\n', stderr);
	}
	if (header) {
		*err = xasprintf("serve sent no archive");
		return -1;
	}
	return 0;
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
		    time_t at, const char *dest, int strip, bool progress,
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
	if (unpacker) {
		rc = pump_archive(arch[0], untar[1], progress, st, err);
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
	} else {
		close(untar[1]);
		close(arch[0]);
	}
	proc_free(producer);
	proc_free(unpacker);
	loop_free(pm.loop);
	strv_free(&pa);
	strv_free(&ta);
	return rc;
}
