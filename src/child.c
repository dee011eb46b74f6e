#include "child.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct proc {
	struct loop *loop;
	pid_t pid;
	int in_fd, out_fd, err_fd;
	struct buf in_queue;
	size_t in_off;
	bool in_close_requested;
	struct buf out;
	char err_tail[PROC_STDERR_TAIL];
	size_t err_len;
	bool exited;
	bool timed_out;
	int status;
	uint64_t timer;
	proc_exit_cb cb;
	void *arg;
	proc_output_cb on_out; /* stdout grew (optional) */
};

struct spawn_fds {
	int in[2], out[2], err[2];
};

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* The spawn itself, shared by the async and the blocking API. Returns the pid
 * or -1 with errno. Parent ends of the pipes are left in fds. */
static pid_t spawn(char *const *argv, bool want_in, bool want_out, int in_from, int out_to,
		   struct spawn_fds *fds)
{
	fds->in[0] = fds->in[1] = fds->out[0] = fds->out[1] = fds->err[0] = fds->err[1] = -1;
	if ((want_in && pipe2(fds->in, O_CLOEXEC) < 0) ||
	    (want_out && pipe2(fds->out, O_CLOEXEC) < 0) || pipe2(fds->err, O_CLOEXEC) < 0) {
		int e = errno;
		close_pair(fds->in), close_pair(fds->out), close_pair(fds->err);
		errno = e;
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (want_in)
		posix_spawn_file_actions_adddup2(&fa, fds->in[0], 0);
	else if (in_from > 2)
		posix_spawn_file_actions_adddup2(&fa, in_from, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (want_out)
		posix_spawn_file_actions_adddup2(&fa, fds->out[1], 1);
	else if (out_to > 2)
		posix_spawn_file_actions_adddup2(&fa, out_to, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds->err[1], 2);

	/* Our signals are blocked for signalfd and SIGPIPE is ignored; the
	 * child must start with neither. */
	sigset_t empty, defaults;
	sigemptyset(&empty);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGUSR1);
	sigaddset(&defaults, SIGCHLD);
	sigaddset(&defaults, SIGIO); /* ignored by the stage (stage.c) */
	posix_spawnattr_setsigmask(&attr, &empty);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);

	/* Close the child's ends in the parent. */
	if (fds->in[0] >= 0)
		close(fds->in[0]), fds->in[0] = -1;
	if (fds->out[1] >= 0)
		close(fds->out[1]), fds->out[1] = -1;
	close(fds->err[1]), fds->err[1] = -1;
	if (rc != 0) {
		close_pair(fds->in), close_pair(fds->out), close_pair(fds->err);
		errno = rc;
		return -1;
	}
	return pid;
}

static void tail_append(char *tail, size_t *len, const char *data, size_t n)
{
	if (n >= PROC_STDERR_TAIL - 1) {
		data += n - (PROC_STDERR_TAIL - 1);
		n = PROC_STDERR_TAIL - 1;
	}
	if (*len + n > PROC_STDERR_TAIL - 1) {
		size_t drop = *len + n - (PROC_STDERR_TAIL - 1);
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, data, n);
	*len += n;
	tail[*len] = '\0';
}

static void tidy_tail(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ';';
}

static void close_fd(struct proc *p, int *fd)
{
	if (*fd < 0)
		return;
	loop_del_fd(p->loop, *fd);
	close(*fd);
	*fd = -1;
}

/* Read what is there now; returns false at EOF or error. */
static bool drain(struct proc *p, int fd)
{
	char chunk[16384];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			if (fd == p->out_fd)
				buf_add(&p->out, chunk, (size_t)n);
			else
				tail_append(p->err_tail, &p->err_len, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

static void maybe_finish(struct proc *p)
{
	if (!p->exited)
		return;
	/* Whatever the child wrote before exiting is in the pipes now; a
	 * grandchild holding them open must not delay us. */
	if (p->out_fd >= 0)
		drain(p, p->out_fd);
	if (p->err_fd >= 0)
		drain(p, p->err_fd);
	close_fd(p, &p->out_fd);
	close_fd(p, &p->err_fd);
	close_fd(p, &p->in_fd);
	loop_cancel_timer(p->loop, p->timer);
	p->timer = 0;
	if (p->cb) {
		proc_exit_cb cb = p->cb;
		p->cb = NULL;
		cb(p, p->arg);
	}
}

static void on_output(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct proc *p = arg;
	bool is_out = fd == p->out_fd;
	if (!drain(p, fd))
		close_fd(p, is_out ? &p->out_fd : &p->err_fd);
	if (is_out && p->on_out && !p->exited)
		p->on_out(p, p->arg);
}

static void flush_stdin(struct proc *p)
{
	while (p->in_fd >= 0 && p->in_off < p->in_queue.len) {
		ssize_t n = write(p->in_fd, p->in_queue.data + p->in_off, p->in_queue.len - p->in_off);
		if (n > 0) {
			p->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			loop_mod_fd(p->loop, p->in_fd, EPOLLOUT);
			return;
		}
		close_fd(p, &p->in_fd); /* EPIPE: the child is gone or stopped reading */
		return;
	}
	buf_reset(&p->in_queue);
	p->in_off = 0;
	if (p->in_fd >= 0) {
		if (p->in_close_requested)
			close_fd(p, &p->in_fd);
		else
			loop_mod_fd(p->loop, p->in_fd, 0);
	}
}

static void on_stdin_writable(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	flush_stdin(arg);
}

static void on_exit_status(struct loop *loop, pid_t pid, int status, void *arg)
{
	(void)loop;
	(void)pid;
	struct proc *p = arg;
	p->exited = true;
	p->status = status;
	maybe_finish(p);
}

static void on_timeout(struct loop *loop, void *arg)
{
	struct proc *p = arg;
	p->timer = 0;
	if (p->exited)
		return;
	if (!p->timed_out) {
		p->timed_out = true;
		proc_kill(p, SIGTERM);
		p->timer = loop_add_timer(loop, 2000, on_timeout, p);
	} else {
		proc_kill(p, SIGKILL);
	}
}

struct proc *proc_start(struct loop *loop, const struct proc_opts *opts, proc_exit_cb cb,
			void *arg, char **err)
{
	struct spawn_fds fds;
	pid_t pid = spawn(opts->argv, opts->stdin_pipe, opts->capture_stdout, opts->stdin_from,
			  opts->stdout_to, &fds);
	if (pid < 0) {
		*err = xasprintf("cannot run %s: %s", opts->argv[0], strerror(errno));
		return NULL;
	}
	struct proc *p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->pid = pid;
	p->in_fd = fds.in[1];
	p->out_fd = fds.out[0];
	p->err_fd = fds.err[0];
	p->cb = cb;
	p->arg = arg;
	buf_init(&p->in_queue);
	buf_init(&p->out);
	if (p->in_fd >= 0) {
		fcntl(p->in_fd, F_SETFL, O_NONBLOCK);
		loop_add_fd(loop, p->in_fd, 0, on_stdin_writable, p);
	}
	if (p->out_fd >= 0) {
		fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
		loop_add_fd(loop, p->out_fd, EPOLLIN, on_output, p);
	}
	fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
	loop_add_fd(loop, p->err_fd, EPOLLIN, on_output, p);
	loop_watch_child(loop, pid, on_exit_status, p);
	if (opts->timeout_ms > 0)
		p->timer = loop_add_timer(loop, opts->timeout_ms, on_timeout, p);
	return p;
}

void proc_on_output(struct proc *p, proc_output_cb cb)
{
	p->on_out = cb;
}

void proc_write_stdin(struct proc *p, const void *data, size_t len)
{
	if (p->in_fd < 0)
		return;
	buf_add(&p->in_queue, data, len);
	flush_stdin(p);
}

void proc_close_stdin(struct proc *p)
{
	p->in_close_requested = true;
	flush_stdin(p);
}

pid_t proc_pid(const struct proc *p)
{
	return p->pid;
}

bool proc_running(const struct proc *p)
{
	return !p->exited;
}

int proc_status(const struct proc *p)
{
	return p->status;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int proc_exit_code(const struct proc *p)
{
	return exit_code_of(p->status);
}

bool proc_timed_out(const struct proc *p)
{
	return p->timed_out;
}

const struct buf *proc_stdout(const struct proc *p)
{
	return &p->out;
}

const char *proc_stderr_tail(struct proc *p)
{
	tidy_tail(p->err_tail);
	return p->err_tail;
}

void proc_kill(struct proc *p, int sig)
{
	if (!p->exited && p->pid > 0)
		kill(-p->pid, sig);
}

void proc_free(struct proc *p)
{
	if (!p)
		return;
	if (!p->exited) {
		proc_kill(p, SIGKILL);
		waitpid(p->pid, NULL, 0);
		loop_unwatch_child(p->loop, p->pid);
	}
	close_fd(p, &p->in_fd);
	close_fd(p, &p->out_fd);
	close_fd(p, &p->err_fd);
	loop_cancel_timer(p->loop, p->timer);
	buf_free(&p->in_queue);
	buf_free(&p->out);
	free(p);
}

/* ---- blocking run ---- */

/* The children child_run() waits for now (nested runs are rare; a few
 * slots are plenty). Written only with the forwarded signals blocked, read
 * by the handler. */
static volatile pid_t running_children[8];

static void forward_and_die(int sig)
{
	for (size_t i = 0; i < ARRAY_LEN(running_children); i++)
		if (running_children[i] > 0)
			kill(-running_children[i], sig);
	signal(sig, SIG_DFL);
	raise(sig); /* delivered once the handler returns: we end as asked */
}

void child_forward_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		struct sigaction sa = {.sa_handler = forward_and_die, .sa_flags = SA_RESTART};
		struct sigaction old;
		/* An ignored SIGINT (started with nohup or `cmd &`) stays ignored. */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigfillset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

static void track_child(pid_t pid, pid_t replace)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (size_t i = 0; i < ARRAY_LEN(running_children); i++) {
		if (running_children[i] == replace) {
			running_children[i] = pid;
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Reap pid (once it exited); it leaves the forwarding list first, so a
 * signal never goes to a pid that may already be someone else's. */
static pid_t reap(pid_t pid, int *status, int flags)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t r = waitpid(pid, status, flags);
	if (r == pid)
		for (size_t i = 0; i < ARRAY_LEN(running_children); i++)
			if (running_children[i] == pid)
				running_children[i] = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

int child_run(char *const *argv, const char *input, size_t input_len, int64_t timeout_ms,
	      struct run_result *result)
{
	struct run_result local;
	struct run_result *r = result ? result : &local;
	memset(r, 0, sizeof(*r));
	buf_init(&r->out);
	size_t err_len = 0;
	struct spawn_fds fds;
	pid_t pid = spawn(argv, input != NULL, true, -1, -1, &fds);
	if (pid < 0) {
		snprintf(r->err_tail, sizeof(r->err_tail), "cannot run %s: %s", argv[0],
			 strerror(errno));
		r->exit_code = -1;
		return -1;
	}
	track_child(pid, 0);
	int in_fd = fds.in[1], out_fd = fds.out[0], err_fd = fds.err[0];
	size_t in_off = 0;
	if (in_fd >= 0) {
		fcntl(in_fd, F_SETFL, O_NONBLOCK);
		if (input_len == 0)
			close(in_fd), in_fd = -1;
	}
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	bool killed = false;
	int status = 0;
	bool reaped = false;
	while (out_fd >= 0 || err_fd >= 0) {
		struct pollfd pfd[3];
		int n = 0;
		if (in_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
		if (out_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
		if (err_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
		int wait = -1;
		if (deadline) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				kill(-pid, killed ? SIGKILL : SIGTERM);
				r->timed_out = true;
				deadline = now_ms() + 2000;
				killed = true;
				left = 2000;
			}
			wait = (int)left;
		}
		/* Wake now and then to notice an exit while a grandchild (a
		 * daemonising helper) still holds our pipes open. */
		if (wait < 0 || wait > 200)
			wait = 200;
		int ready = poll(pfd, (nfds_t)n, wait);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready == 0 && reap(pid, &status, WNOHANG) == pid) {
			reaped = true;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			int fd = pfd[i].fd;
			if (fd == in_fd) {
				ssize_t w = write(in_fd, input + in_off, input_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= input_len)
					close(in_fd), in_fd = -1;
				continue;
			}
			char chunk[16384];
			ssize_t got = read(fd, chunk, sizeof(chunk));
			if (got > 0) {
				if (fd == out_fd)
					buf_add(&r->out, chunk, (size_t)got);
				else
					tail_append(r->err_tail, &err_len, chunk, (size_t)got);
			} else if (got == 0 || errno != EINTR) {
				close(fd);
				if (fd == out_fd)
					out_fd = -1;
				else
					err_fd = -1;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	for (int i = 0; i < 2; i++) {
		int fd = i ? err_fd : out_fd;
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		char chunk[16384];
		ssize_t got;
		while ((got = read(fd, chunk, sizeof(chunk))) > 0) {
			if (i == 0)
				buf_add(&r->out, chunk, (size_t)got);
			else
				tail_append(r->err_tail, &err_len, chunk, (size_t)got);
		}
		close(fd);
	}
	/* Wait with the signals open (Ctrl-C must still work), reap after. */
	siginfo_t info;
	while (!reaped && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	if (!reaped)
		reap(pid, &status, 0);
	tidy_tail(r->err_tail);
	r->exit_code = exit_code_of(status);
	if (r == &local)
		run_result_free(r);
	return exit_code_of(status);
}

void run_result_free(struct run_result *r)
{
	buf_free(&r->out);
}
