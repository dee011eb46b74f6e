/* loop: the event loop, in the spirit of redis' ae.c. One epoll set, a short
 * list of timers, signals delivered through signalfd, and child exits
 * (SIGCHLD) dispatched to whoever started the child. Owns the registrations,
 * not the fds or the callback arguments. Single-threaded. */
#ifndef LIFEBOAT_LOOP_H
#define LIFEBOAT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;

typedef void (*loop_fd_cb)(struct loop *loop, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_cb)(struct loop *loop, void *arg);
typedef void (*loop_signal_cb)(struct loop *loop, int signo, void *arg);
typedef void (*loop_child_cb)(struct loop *loop, pid_t pid, int status, void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* events: EPOLLIN / EPOLLOUT. Returns 0 or -1 (errno). */
int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *loop, int fd, uint32_t events);
void loop_del_fd(struct loop *loop, int fd);

/* One-shot timer after delay_ms; returns an id > 0 for loop_cancel_timer. */
uint64_t loop_add_timer(struct loop *loop, int64_t delay_ms, loop_timer_cb cb, void *arg);
void loop_cancel_timer(struct loop *loop, uint64_t id);

/* Handle a signal in the loop (it is blocked for normal delivery). */
int loop_on_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg);

/* Be told when a child exits (the loop reaps it). Call right after spawning. */
void loop_watch_child(struct loop *loop, pid_t pid, loop_child_cb cb, void *arg);
void loop_unwatch_child(struct loop *loop, pid_t pid);

/* Run until loop_stop(); returns 0, or -1 if epoll itself failed. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);
bool loop_stopping(const struct loop *loop);

#endif
