/* status: one sync's live figures as JSON (what the control socket answers,
 * see ctl.h) and the status file STATE_DIR/status.json kept for monitoring
 * scripts; lifeboat itself never decides from the file. Owns its format;
 * written atomically (temp file and rename) so a reader never sees half a
 * file. Every sync daemon of the node shares it (lifeboat-sync@ instances):
 * a write keeps the entries of the other daemons, under
 * STATE_DIR/status.lock, and each entry names the pid and the control
 * socket of the daemon that wrote it. */
#ifndef LIFEBOAT_STATUS_H
#define LIFEBOAT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include <sys/types.h>

struct syncer;
struct config;

/* One sync's figures (caller owns the object). */
json_object *status_sync_json(struct syncer *s, bool running);

/* Render and write the status of these syncers; "running" is false in the
 * last write of a daemon that is stopping; socket is the daemon's control
 * socket. 0, or -1 with errno. */
int status_write(const struct config *cfg, struct syncer *const *syncers, size_t n,
		 bool running, const char *socket);

/* The same figures in the Prometheus text format (caller frees). */
char *status_render_metrics(const struct config *cfg, struct syncer *const *syncers, size_t n);

#endif
