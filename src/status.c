#include "status.h"
#include "config.h"
#include "epoch.h"
#include "json.h"
#include "role.h"
#include "syncer.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void render_sync(struct buf *b, struct syncer *s, bool running)
{
	struct sync_stats st;
	syncer_stats(s, &st);
	bool first = true;
	buf_addc(b, '{');
	json_key(b, "pid", &first);
	buf_addf(b, "%ld", (long)getpid());
	json_key(b, "running", &first);
	buf_adds(b, running ? "true" : "false");
	json_key(b, "state", &first);
	json_str(b, sync_state_name(st.state));
	json_key(b, "source", &first);
	json_str(b, st.source);
	json_key(b, "target", &first);
	json_str(b, st.target);
	json_key(b, "direction", &first);
	json_str(b, sync_direction_name(st.direction));
	if (st.direction == DIR_RECEIVING) {
		json_key(b, "from", &first);
		json_str(b, st.from_node);
		json_key(b, "target_path", &first);
		json_str(b, st.receive_dir);
		json_key(b, "last_received_unix", &first);
		buf_addf(b, "%.3f", st.last_received);
	}
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

static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static long entry_pid(json_object *entry)
{
	json_object *x;
	return json_object_object_get_ex(entry, "pid", &x) ? (long)json_object_get_int64(x) : 0;
}

static bool ours(const char *name, struct syncer *const *syncers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(syncer_conf(syncers[i])->name, name) == 0)
			return true;
	return false;
}

/* Entries other daemons wrote (lifeboat-sync@ instances share the file):
 * kept while their section exists, marked not running once their daemon is
 * gone. Sets *other_pid to one of them still running, if any. */
static void render_others(struct buf *b, bool *first, json_object *old, const struct config *cfg,
			  struct syncer *const *syncers, size_t n, long *other_pid)
{
	json_object *syncs;
	if (!old || !json_object_object_get_ex(old, "syncs", &syncs) ||
	    !json_object_is_type(syncs, json_type_object))
		return;
	json_object_object_foreach(syncs, name, entry)
	{
		long pid = entry_pid(entry);
		if (ours(name, syncers, n) || !config_find_sync(cfg, name) || pid == (long)getpid() ||
		    !json_object_is_type(entry, json_type_object))
			continue;
		bool alive = pid_alive(pid);
		if (!alive)
			json_object_object_add(entry, "running", json_object_new_boolean(0));
		else if (!*other_pid)
			*other_pid = pid;
		json_key(b, name, first);
		buf_adds(b, json_object_to_json_string_ext(entry, JSON_C_TO_STRING_PLAIN));
	}
}

static char *render(const struct config *cfg, struct syncer *const *syncers, size_t n,
		    bool running, json_object *old)
{
	struct buf syncs;
	buf_init(&syncs);
	bool first_sync = true;
	for (size_t i = 0; i < n; i++) {
		json_key(&syncs, syncer_conf(syncers[i])->name, &first_sync);
		render_sync(&syncs, syncers[i], running);
	}
	long other_pid = 0;
	render_others(&syncs, &first_sync, old, cfg, syncers, n, &other_pid);

	struct buf b;
	buf_init(&b);
	bool first = true;
	buf_addc(&b, '{');
	json_key(&b, "version", &first);
	buf_adds(&b, "1");
	/* The top-level pid and running are a running daemon's, ours first:
	 * readers that know of one daemon (and older ones) stay right. */
	json_key(&b, "pid", &first);
	buf_addf(&b, "%ld", running || !other_pid ? (long)getpid() : other_pid);
	json_key(&b, "running", &first);
	buf_adds(&b, running || other_pid ? "true" : "false");
	json_key(&b, "node", &first);
	json_str(&b, cfg->node);
	json_key(&b, "updated", &first);
	double now = now_wall();
	json_time(&b, now);
	json_key(&b, "updated_unix", &first);
	buf_addf(&b, "%.3f", now);
	json_key(&b, "syncs", &first);
	buf_addc(&b, '{');
	buf_adds(&b, syncs.data ? syncs.data : "");
	buf_adds(&b, "}}\n");
	buf_free(&syncs);
	return buf_steal(&b);
}

int status_write(const struct config *cfg, struct syncer *const *syncers, size_t n,
		 bool running)
{
	/* One writer at a time: each rewrites the whole file from the last. */
	char *lock_path = xasprintf("%s/status.lock", cfg->state_dir);
	int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lock_path);
	if (lock >= 0)
		flock(lock, LOCK_EX);
	char *path = xasprintf("%s/status.json", cfg->state_dir);
	json_object *old = json_object_from_file(path);
	char *text = render(cfg, syncers, n, running, old);
	int rc = write_file_atomic(path, text, strlen(text));
	int e = errno;
	if (old)
		json_object_put(old);
	free(path);
	free(text);
	if (lock >= 0)
		close(lock);
	errno = e;
	return rc;
}

size_t status_daemons(const char *state_dir, pid_t *pids, size_t max)
{
	char *path = xasprintf("%s/status.json", state_dir);
	json_object *root = json_object_from_file(path), *syncs;
	free(path);
	size_t n = 0;
	long candidates[64];
	size_t nc = 0;
	if (root)
		candidates[nc++] = entry_pid(root);
	if (root && json_object_object_get_ex(root, "syncs", &syncs) &&
	    json_object_is_type(syncs, json_type_object)) {
		json_object_object_foreach(syncs, name, entry)
		{
			(void)name;
			if (nc < 64 && json_object_is_type(entry, json_type_object))
				candidates[nc++] = entry_pid(entry);
		}
	}
	for (size_t i = 0; i < nc && n < max; i++) {
		bool seen = false;
		for (size_t j = 0; j < n; j++)
			seen = seen || pids[j] == (pid_t)candidates[i];
		if (!seen && pid_alive(candidates[i]))
			pids[n++] = (pid_t)candidates[i];
	}
	if (root)
		json_object_put(root);
	return n;
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
