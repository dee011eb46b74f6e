/* child: starting other programs (rsync, ssh, mariadb tools, hooks). Always an
 * argv array through posix_spawnp, never a shell; each child in its own
 * process group so a timeout or shutdown can end it and whatever it started.
 * A struct proc owns its pipes and captured output until proc_free(). */
#ifndef LIFEBOAT_CHILD_H
#define LIFEBOAT_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct loop;
struct proc;

#define PROC_STDERR_TAIL 4096

typedef void (*proc_exit_cb)(struct proc *p, void *arg);

struct proc_opts {
	char *const *argv;
	bool stdin_pipe;     /* else /dev/null; feed with proc_write_stdin() */
	bool capture_stdout; /* else /dev/null */
	int64_t timeout_ms;  /* 0: none; on expiry TERM, then KILL the group */
	/* Instead of a pipe or /dev/null: an fd the caller owns (above 2, and
	 * close-on-exec), e.g. one end of a pipe between two children. */
	int stdin_from;
	int stdout_to;
};

/* Start argv[0] (searched in PATH). On failure returns NULL with *err a
 * malloc'd message. cb runs once, from the loop, after the child exited and
 * its output was read; the proc stays valid until proc_free(). */
struct proc *proc_start(struct loop *loop, const struct proc_opts *opts, proc_exit_cb cb,
			void *arg, char **err);
/* Be told (with the proc_start arg) each time stdout grows, before exit:
 * for a child whose output says it is done before it has exited. */
typedef void (*proc_output_cb)(struct proc *p, void *arg);
void proc_on_output(struct proc *p, proc_output_cb cb);
/* Queue bytes for the child's stdin (written as the pipe drains). */
void proc_write_stdin(struct proc *p, const void *data, size_t len);
/* No more input: stdin is closed once the queue is written. */
void proc_close_stdin(struct proc *p);
pid_t proc_pid(const struct proc *p);
bool proc_running(const struct proc *p);
int proc_status(const struct proc *p);   /* wait status, valid after exit */
int proc_exit_code(const struct proc *p); /* 0-255, or 128+signal */
bool proc_timed_out(const struct proc *p);
const struct buf *proc_stdout(const struct proc *p);
/* Last PROC_STDERR_TAIL bytes of stderr, one line per message, trimmed. */
const char *proc_stderr_tail(struct proc *p);
/* Signal the child's whole process group. */
void proc_kill(struct proc *p, int sig);
/* Free; a still-running child is killed (group) and reaped first. */
void proc_free(struct proc *p);

/* One-shot commands: SIGINT, SIGTERM and SIGHUP (Ctrl-C, a closed
 * terminal) are passed on to the process group of every child_run() child
 * still running, then end this process as they would have: children in
 * their own process groups never see the terminal's signal otherwise, and
 * would run on. A daemon's loop takes these signals itself (signalfd). */
void child_forward_signals(void);

/* Blocking run for one-shot commands (no loop needed). */
struct run_result {
	int exit_code; /* 0-255, 128+signal, or -1 if it could not start */
	bool timed_out;
	struct buf out;
	char err_tail[PROC_STDERR_TAIL];
};

/* input may be NULL. Returns exit_code; result (may be NULL) gets output;
 * free with run_result_free(). */
int child_run(char *const *argv, const char *input, size_t input_len, int64_t timeout_ms,
	      struct run_result *result);
void run_result_free(struct run_result *r);

#endif
