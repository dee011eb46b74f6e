/* status: the status file STATE_DIR/status.json that `lifeboat status`,
 * monitoring and tests read. Owns its format; written atomically (temp file
 * and rename) so a reader never sees half a file. Every sync daemon of the
 * node shares it (lifeboat-sync@ instances): a write keeps the entries of
 * the other daemons, under STATE_DIR/status.lock, and each entry names the
 * pid that wrote it. */
#ifndef LIFEBOAT_STATUS_H
#define LIFEBOAT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct syncer;
struct config;

/* Render and write the status of these syncers; "running" is false in the
 * last write of a daemon that is stopping. 0, or -1 with errno. */
int status_write(const struct config *cfg, struct syncer *const *syncers, size_t n,
		 bool running);

/* The distinct running sync daemons named in the status file (up to max),
 * to tell them of a role change. Returns how many. */
size_t status_daemons(const char *state_dir, pid_t *pids, size_t max);

/* The same figures in the Prometheus text format (caller frees). */
char *status_render_metrics(const struct config *cfg, struct syncer *const *syncers, size_t n);

#endif
