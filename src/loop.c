#include "loop.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

struct fd_entry {
	int fd;
	loop_fd_cb cb;
	void *arg;
	struct fd_entry *next;
};

struct timer {
	uint64_t id;
	int64_t when_ms;
	loop_timer_cb cb;
	void *arg;
	struct timer *next; /* sorted by when_ms */
};

struct signal_entry {
	int signo;
	loop_signal_cb cb;
	void *arg;
};

struct child_entry {
	pid_t pid;
	loop_child_cb cb;
	void *arg;
	struct child_entry *next;
};

struct loop {
	int epfd;
	int sigfd;
	sigset_t sigmask;
	struct fd_entry *fds;
	struct timer *timers;
	uint64_t next_timer_id;
	struct signal_entry signals[8];
	int n_signals;
	struct child_entry *children;
	bool stop;
};

static void on_signalfd(struct loop *loop, int fd, uint32_t events, void *arg);

struct loop *loop_new(void)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	sigemptyset(&loop->sigmask);
	/* SIGCHLD always goes through the loop so children are reaped in one place. */
	sigaddset(&loop->sigmask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &loop->sigmask, NULL);
	loop->sigfd = signalfd(-1, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0 || loop_add_fd(loop, loop->sigfd, EPOLLIN, on_signalfd, NULL) < 0) {
		if (loop->sigfd >= 0)
			close(loop->sigfd);
		close(loop->epfd);
		free(loop);
		return NULL;
	}
	loop->next_timer_id = 1;
	return loop;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	while (loop->fds) {
		struct fd_entry *e = loop->fds;
		loop->fds = e->next;
		free(e);
	}
	while (loop->timers) {
		struct timer *t = loop->timers;
		loop->timers = t->next;
		free(t);
	}
	while (loop->children) {
		struct child_entry *c = loop->children;
		loop->children = c->next;
		free(c);
	}
	close(loop->sigfd);
	close(loop->epfd);
	sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
	free(loop);
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct fd_entry *e = xcalloc(1, sizeof(*e));
	e->fd = fd;
	e->cb = cb;
	e->arg = arg;
	struct epoll_event ev = {.events = events, .data.ptr = e};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(e);
		return -1;
	}
	e->next = loop->fds;
	loop->fds = e;
	return 0;
}

static struct fd_entry *find_fd(struct loop *loop, int fd)
{
	for (struct fd_entry *e = loop->fds; e; e = e->next)
		if (e->fd == fd)
			return e;
	return NULL;
}

int loop_mod_fd(struct loop *loop, int fd, uint32_t events)
{
	struct fd_entry *e = find_fd(loop, fd);
	if (!e) {
		errno = ENOENT;
		return -1;
	}
	struct epoll_event ev = {.events = events, .data.ptr = e};
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del_fd(struct loop *loop, int fd)
{
	for (struct fd_entry **pp = &loop->fds; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			struct fd_entry *e = *pp;
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
			/* Mark dead rather than free: an epoll batch may still point at it. */
			e->cb = NULL;
			e->fd = -1;
			return;
		}
	}
}

static void purge_dead_fds(struct loop *loop)
{
	for (struct fd_entry **pp = &loop->fds; *pp;) {
		if ((*pp)->fd < 0) {
			struct fd_entry *e = *pp;
			*pp = e->next;
			free(e);
		} else {
			pp = &(*pp)->next;
		}
	}
}

uint64_t loop_add_timer(struct loop *loop, int64_t delay_ms, loop_timer_cb cb, void *arg)
{
	struct timer *t = xcalloc(1, sizeof(*t));
	t->id = loop->next_timer_id++;
	t->when_ms = now_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->cb = cb;
	t->arg = arg;
	struct timer **pp = &loop->timers;
	while (*pp && (*pp)->when_ms <= t->when_ms)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	return t->id;
}

void loop_cancel_timer(struct loop *loop, uint64_t id)
{
	if (!id)
		return;
	for (struct timer **pp = &loop->timers; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct timer *t = *pp;
			*pp = t->next;
			free(t);
			return;
		}
	}
}

int loop_on_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg)
{
	if (loop->n_signals >= (int)ARRAY_LEN(loop->signals)) {
		errno = ENOSPC;
		return -1;
	}
	loop->signals[loop->n_signals++] = (struct signal_entry){signo, cb, arg};
	sigaddset(&loop->sigmask, signo);
	sigprocmask(SIG_BLOCK, &loop->sigmask, NULL);
	return signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC) < 0 ? -1 : 0;
}

void loop_watch_child(struct loop *loop, pid_t pid, loop_child_cb cb, void *arg)
{
	struct child_entry *c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	c->next = loop->children;
	loop->children = c;
}

void loop_unwatch_child(struct loop *loop, pid_t pid)
{
	for (struct child_entry **pp = &loop->children; *pp; pp = &(*pp)->next) {
		if ((*pp)->pid == pid) {
			struct child_entry *c = *pp;
			*pp = c->next;
			free(c);
			return;
		}
	}
}

/* Reap only the children we were asked to watch, so a blocking helper that
 * waits for its own child elsewhere is never robbed of its exit status. */
static void reap_children(struct loop *loop)
{
	bool again = true;
	while (again) {
		again = false;
		for (struct child_entry *c = loop->children; c; c = c->next) {
			int status;
			pid_t r = waitpid(c->pid, &status, WNOHANG);
			if (r == c->pid) {
				loop_child_cb cb = c->cb;
				void *arg = c->arg;
				pid_t pid = c->pid;
				loop_unwatch_child(loop, pid);
				cb(loop, pid, status, arg);
				again = true; /* list changed under us */
				break;
			}
		}
	}
}

static void on_signalfd(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	struct signalfd_siginfo si;
	bool child = false;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if ((int)si.ssi_signo == SIGCHLD) {
			child = true;
			continue;
		}
		for (int i = 0; i < loop->n_signals; i++)
			if (loop->signals[i].signo == (int)si.ssi_signo)
				loop->signals[i].cb(loop, (int)si.ssi_signo, loop->signals[i].arg);
	}
	if (child)
		reap_children(loop);
}

static void run_due_timers(struct loop *loop)
{
	int64_t now = now_ms();
	while (loop->timers && loop->timers->when_ms <= now && !loop->stop) {
		struct timer *t = loop->timers;
		loop->timers = t->next;
		loop_timer_cb cb = t->cb;
		void *arg = t->arg;
		free(t);
		cb(loop, arg);
	}
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[64];
	/* A child may have exited before its watcher was registered. */
	reap_children(loop);
	while (!loop->stop) {
		int timeout = -1;
		if (loop->timers) {
			int64_t d = loop->timers->when_ms - now_ms();
			timeout = d < 0 ? 0 : (d > 60000 ? 60000 : (int)d);
		}
		int n = epoll_wait(loop->epfd, events, (int)ARRAY_LEN(events), timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("event loop: epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct fd_entry *e = events[i].data.ptr;
			if (e->cb)
				e->cb(loop, e->fd, events[i].events, e->arg);
		}
		purge_dead_fds(loop);
		run_due_timers(loop);
	}
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}

bool loop_stopping(const struct loop *loop)
{
	return loop->stop;
}
