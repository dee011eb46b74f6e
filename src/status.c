#include "status.h"
#include "config.h"
#include "json.h"
#include "syncer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void render_sync(struct buf *b, struct syncer *s)
{
	struct sync_stats st;
	syncer_stats(s, &st);
	bool first = true;
	buf_addc(b, '{');
	json_key(b, "state", &first);
	json_str(b, sync_state_name(st.state));
	json_key(b, "source", &first);
	json_str(b, st.source);
	json_key(b, "target", &first);
	json_str(b, st.target);
	json_key(b, "direction", &first);
	json_str(b, sync_direction_name(st.direction));
	json_key(b, "peer_epoch", &first);
	buf_addf(b, "%llu", (unsigned long long)st.peer_epoch);
	json_key(b, "pending", &first);
	buf_addf(b, "%zu", st.pending);
	json_key(b, "oldest_pending_age", &first);
	buf_addf(b, "%.3f", st.oldest_pending_age);
	json_key(b, "last_success", &first);
	json_time(b, st.last_success);
	json_key(b, "last_success_unix", &first);
	buf_addf(b, "%.3f", st.last_success);
	json_key(b, "last_error", &first);
	json_str(b, st.last_error);
	json_key(b, "last_error_time", &first);
	json_time(b, st.last_error_time);
	json_key(b, "bytes_shipped", &first);
	buf_addf(b, "%llu", (unsigned long long)st.bytes_shipped);
	json_key(b, "files_shipped", &first);
	buf_addf(b, "%llu", (unsigned long long)st.files_shipped);
	json_key(b, "batches", &first);
	buf_addf(b, "%llu", (unsigned long long)st.batches);
	json_key(b, "full_passes", &first);
	buf_addf(b, "%llu", (unsigned long long)st.full_passes);
	json_key(b, "failures", &first);
	buf_addf(b, "%llu", (unsigned long long)st.failures);
	json_key(b, "watches", &first);
	buf_addf(b, "%llu", (unsigned long long)st.watches);
	json_key(b, "watches_missed", &first);
	buf_addf(b, "%llu", (unsigned long long)st.watches_missed);
	json_key(b, "queue_collapses", &first);
	buf_addf(b, "%llu", (unsigned long long)st.collapses);
	buf_addc(b, '}');
}

char *status_render(const struct config *cfg, struct syncer *const *syncers, size_t n,
		    bool running)
{
	struct buf b;
	buf_init(&b);
	bool first = true;
	buf_addc(&b, '{');
	json_key(&b, "version", &first);
	buf_adds(&b, "1");
	json_key(&b, "pid", &first);
	buf_addf(&b, "%ld", (long)getpid());
	json_key(&b, "running", &first);
	buf_adds(&b, running ? "true" : "false");
	json_key(&b, "node", &first);
	json_str(&b, cfg->node);
	json_key(&b, "updated", &first);
	double now = now_wall();
	json_time(&b, now);
	json_key(&b, "updated_unix", &first);
	buf_addf(&b, "%.3f", now);
	json_key(&b, "syncs", &first);
	buf_addc(&b, '{');
	bool first_sync = true;
	for (size_t i = 0; i < n; i++) {
		json_key(&b, syncer_conf(syncers[i])->name, &first_sync);
		render_sync(&b, syncers[i]);
	}
	buf_adds(&b, "}}\n");
	return buf_steal(&b);
}

int status_write(const struct config *cfg, struct syncer *const *syncers, size_t n,
		 bool running)
{
	char *text = status_render(cfg, syncers, n, running);
	char *path = xasprintf("%s/status.json", cfg->state_dir);
	int rc = write_file_atomic(path, text, strlen(text));
	free(path);
	free(text);
	return rc;
}
