/* status: the status file STATE_DIR/status.json that `lifeboat status`,
 * monitoring and tests read. Owns its format; written atomically (temp file
 * and rename) so a reader never sees half a file. */
#ifndef LIFEBOAT_STATUS_H
#define LIFEBOAT_STATUS_H

#include <stdbool.h>
#include <stddef.h>

struct syncer;
struct config;

/* Render and write the status of these syncers; "running" is false in the
 * last write of a daemon that is stopping. 0, or -1 with errno. */
int status_write(const struct config *cfg, struct syncer *const *syncers, size_t n,
		 bool running);
/* The JSON text alone (caller frees). */
char *status_render(const struct config *cfg, struct syncer *const *syncers, size_t n,
		    bool running);

/* The same figures in the Prometheus text format (caller frees). */
char *status_render_metrics(const struct config *cfg, struct syncer *const *syncers, size_t n);

#endif
