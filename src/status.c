#include "status.h"
#include "config.h"
#include "epoch.h"
#include "json.h"
#include "role.h"
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

static void metric_help(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct sync_metric {
	const char *name, *type, *help;
};

static double sync_value(const struct sync_stats *st, size_t i)
{
	switch (i) {
	case 0: return (double)st->pending;
	case 1: return st->oldest_pending_age;
	case 2: return st->last_success;
	case 3: return (double)st->bytes_shipped;
	case 4: return (double)st->files_shipped;
	case 5: return (double)st->failures;
	case 6: return (double)st->full_passes;
	case 7: return (double)st->watches;
	default: return (double)st->watches_missed;
	}
}

char *status_render_metrics(const struct config *cfg, struct syncer *const *syncers, size_t n)
{
	static const struct sync_metric metrics[] = {
		{"lifeboat_sync_pending", "gauge", "Changes seen on the source, not yet on the target."},
		{"lifeboat_sync_rpo_seconds", "gauge", "Age of the oldest change not yet on the target."},
		{"lifeboat_sync_last_success_timestamp_seconds", "gauge", "End of the last good transfer."},
		{"lifeboat_sync_bytes_shipped_total", "counter", "Bytes sent by rsync."},
		{"lifeboat_sync_files_shipped_total", "counter", "Regular files transferred."},
		{"lifeboat_sync_failures_total", "counter", "Transfers that failed and were retried."},
		{"lifeboat_sync_full_passes_total", "counter", "Full passes over the source."},
		{"lifeboat_sync_watches", "gauge", "Directories watched with inotify."},
		{"lifeboat_sync_watches_missed", "gauge", "Directories not watched (inotify limit)."},
	};
	struct buf b;
	buf_init(&b);
	metric_help(&b, "lifeboat_up", "gauge", "The sync daemon is running.");
	buf_adds(&b, "lifeboat_up 1\n");
	uint64_t epoch = 0;
	char *err = NULL;
	if (epoch_read(cfg->state_dir, &epoch, &err) < 0)
		free(err);
	metric_help(&b, "lifeboat_epoch", "gauge", "Role epoch of this node.");
	buf_addf(&b, "lifeboat_epoch %llu\n", (unsigned long long)epoch);
	metric_help(&b, "lifeboat_primary", "gauge", "1 when this node holds the primary role.");
	buf_addf(&b, "lifeboat_primary{node=\"%s\"} %d\n", cfg->node ? cfg->node : "",
		 role_current(cfg) == ROLE_PRIMARY);
	metric_help(&b, "lifeboat_sync_state", "gauge", "1 for the state each sync is in.");
	static const enum sync_state states[] = {SYNC_STARTUP, SYNC_IDLE, SYNC_SYNCING,
						 SYNC_RETRYING, SYNC_ERROR};
	for (size_t i = 0; i < n; i++) {
		struct sync_stats st;
		syncer_stats(syncers[i], &st);
		for (size_t k = 0; k < ARRAY_LEN(states); k++)
			buf_addf(&b, "lifeboat_sync_state{sync=\"%s\",state=\"%s\"} %d\n",
				 syncer_conf(syncers[i])->name, sync_state_name(states[k]),
				 st.state == states[k]);
	}
	for (size_t m = 0; m < ARRAY_LEN(metrics); m++) {
		metric_help(&b, metrics[m].name, metrics[m].type, metrics[m].help);
		for (size_t i = 0; i < n; i++) {
			struct sync_stats st;
			syncer_stats(syncers[i], &st);
			buf_addf(&b, "%s{sync=\"%s\"} %.17g\n", metrics[m].name,
				 syncer_conf(syncers[i])->name, sync_value(&st, m));
		}
	}
	return buf_steal(&b);
}
