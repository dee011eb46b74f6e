#include "manifest_pass.h"
#include "child.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct manifest_pass {
	struct loop *loop;
	manifest_pass_cb cb;
	void *arg;
	struct manifest_pass_opts o;
	bool remote;
	volatile int cancel;
	int done_fd;       /* eventfd: the merge thread finished */
	int pipe_r;        /* the target's manifest, read by the merge thread */
	int pipe_w;        /* local: written by the target walk thread */
	pthread_t merge_thread, target_thread;
	bool merge_started, target_started;
	struct proc *serve; /* remote: ssh ... lifeboat serve manifest */
	bool serve_exited;
	bool merge_done;
	bool done_registered;
	/* the merge thread's result, read by the loop after the join */
	struct manifest_diff diff;
	char *err;
	char *target_err;
};

/* ---- the threads (they touch only their pass's fields above) ---- */

static void *target_walk(void *arg)
{
	struct manifest_pass *p = arg;
	char *err = NULL;
	struct manifest_walk *w = manifest_walk_open(p->o.target_path, p->o.excludes, &err);
	if (w)
		manifest_write(w, p->pipe_w, false, &p->cancel, &err);
	manifest_walk_free(w);
	p->target_err = err;
	close(p->pipe_w); /* the merge reads the end (or a truncated stream) */
	p->pipe_w = -1;
	return NULL;
}

static int next_walked(void *arg, struct manifest_entry *e, char **err)
{
	return manifest_walk_next(arg, e, err);
}

static int next_read(void *arg, struct manifest_entry *e, char **err)
{
	return manifest_read(arg, e, err);
}

static void *merge(void *arg)
{
	struct manifest_pass *p = arg;
	char *err = NULL;
	struct manifest_walk *w = manifest_walk_open(p->o.source, p->o.excludes, &err);
	struct manifest_reader *r = manifest_reader_new(p->pipe_r);
	if (w && manifest_reader_start(r, &err) == 0) {
		manifest_walk_names(w, p->remote);
		struct manifest_side src = {next_walked, w}, tgt = {next_read, r};
		/* rsync sets owners only where it runs as root. */
		struct manifest_diff_opts o = {.owners = manifest_reader_root(r),
					       .by_name = p->remote, .deletes = p->o.deletes,
					       .max_paths = p->o.max_paths, .cancel = &p->cancel};
		manifest_diff_run(&src, &tgt, &o, &p->diff, &err);
	}
	manifest_reader_free(r);
	manifest_walk_free(w);
	close(p->pipe_r); /* a target walk still writing stops (EPIPE) */
	p->pipe_r = -1;
	p->err = err;
	uint64_t one = 1;
	if (write(p->done_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot fail with a counter this small */
	}
	return NULL;
}

/* ---- the loop's side ---- */

static void deliver_if_done(struct manifest_pass *p)
{
	if (!p->merge_done || (p->serve && !p->serve_exited))
		return;
	const char *err = p->err ? p->err : p->target_err;
	char *msg = NULL;
	if (err && p->serve && proc_exit_code(p->serve) != 0)
		msg = xasprintf("%s (lifeboat serve manifest: exit %d: %s)", err,
				proc_exit_code(p->serve), proc_stderr_tail(p->serve));
	manifest_pass_cb cb = p->cb;
	p->cb = NULL;
	if (cb)
		cb(p->arg, err ? NULL : &p->diff, msg ? msg : err);
	free(msg);
}

static void join_threads(struct manifest_pass *p)
{
	if (p->merge_started)
		pthread_join(p->merge_thread, NULL);
	if (p->target_started)
		pthread_join(p->target_thread, NULL);
	p->merge_started = p->target_started = false;
}

static void on_done(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct manifest_pass *p = arg;
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	loop_del_fd(loop, fd);
	p->done_registered = false;
	join_threads(p);
	p->merge_done = true;
	deliver_if_done(p);
}

static void on_serve_exit(struct proc *proc, void *arg)
{
	(void)proc;
	struct manifest_pass *p = arg;
	p->serve_exited = true;
	deliver_if_done(p);
}

/* The request's stdin: the tree, then the sync's filter rules. */
static void serve_input(const struct manifest_pass_opts *o, struct buf *in)
{
	buf_init(in);
	buf_add(in, o->target_path, strlen(o->target_path) + 1);
	for (size_t i = 0; o->filters && i < o->filters->len; i++)
		buf_add(in, o->filters->items[i], strlen(o->filters->items[i]) + 1);
}

static int start_serve(struct manifest_pass *p, char **err)
{
	struct proc_opts po = {.argv = p->o.serve_argv, .stdin_pipe = true,
			       .stdout_to = p->pipe_w, .timeout_ms = 3600 * 1000};
	p->serve = proc_start(p->loop, &po, on_serve_exit, p, err);
	close(p->pipe_w);
	p->pipe_w = -1;
	if (!p->serve)
		return -1;
	struct buf in;
	serve_input(&p->o, &in);
	proc_write_stdin(p->serve, in.data, in.len);
	proc_close_stdin(p->serve);
	buf_free(&in);
	return 0;
}

struct manifest_pass *manifest_pass_start(struct loop *loop, const struct manifest_pass_opts *o,
					  manifest_pass_cb cb, void *arg, char **err)
{
	struct manifest_pass *p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->cb = cb;
	p->arg = arg;
	p->o = *o;
	p->remote = o->serve_argv != NULL;
	p->pipe_r = p->pipe_w = -1;
	manifest_diff_init(&p->diff);
	int fds[2];
	p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->done_fd < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		*err = xasprintf("manifest: %s", strerror(errno));
		manifest_pass_free(p);
		return NULL;
	}
	p->pipe_r = fds[0];
	p->pipe_w = fds[1];
	loop_add_fd(loop, p->done_fd, EPOLLIN, on_done, p);
	p->done_registered = true;
	if (p->remote ? start_serve(p, err) < 0
		      : (errno = pthread_create(&p->target_thread, NULL, target_walk, p)) != 0) {
		if (!p->remote)
			*err = xasprintf("manifest: no thread: %s", strerror(errno));
		manifest_pass_free(p);
		return NULL;
	}
	p->target_started = !p->remote;
	return p;
}

int manifest_pass_go(struct manifest_pass *p, char **err)
{
	if ((errno = pthread_create(&p->merge_thread, NULL, merge, p)) != 0) {
		*err = xasprintf("manifest: no thread: %s", strerror(errno));
		return -1;
	}
	p->merge_started = true;
	return 0;
}

void manifest_pass_free(struct manifest_pass *p)
{
	if (!p)
		return;
	p->cb = NULL;
	p->cancel = 1;
	if (p->serve && !p->serve_exited)
		proc_kill(p->serve, SIGTERM); /* the merge thread reads EOF */
	if (p->merge_started) {
		pthread_join(p->merge_thread, NULL);
		p->merge_started = false;
	} else if (p->pipe_r >= 0) {
		close(p->pipe_r); /* a target walk still writing stops */
		p->pipe_r = -1;
	}
	join_threads(p);
	proc_free(p->serve);
	if (p->done_registered)
		loop_del_fd(p->loop, p->done_fd);
	if (p->done_fd >= 0)
		close(p->done_fd);
	if (p->pipe_w >= 0)
		close(p->pipe_w);
	manifest_diff_free(&p->diff);
	free(p->err);
	free(p->target_err);
	free(p);
}
