#include "status.h"
#include "agent.h"
#include "config.h"
#include "ctl.h"
#include "drill.h"
#include "epoch.h"
#include "json.h"
#include "role.h"
#include "syncer.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* One sync's live figures, as the control socket and the status file give
 * them. */
json_object *status_sync_json(struct syncer *s, bool running)
{
	struct sync_stats st;
	syncer_stats(s, &st);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int64((int64_t)getpid()));
	json_object_object_add(o, "running", json_object_new_boolean(running));
	json_object_object_add(o, "state", json_object_new_string(sync_state_name(st.state)));
	json_object_object_add(o, "source", json_string_or_null(st.source));
	json_object_object_add(o, "target", json_string_or_null(st.target));
	json_object_object_add(o, "direction",
			       json_object_new_string(sync_direction_name(st.direction)));
	if (st.direction == DIR_RECEIVING) {
		json_object_object_add(o, "from", json_string_or_null(st.from_node));
		json_object_object_add(o, "target_path", json_string_or_null(st.receive_dir));
		json_object_object_add(o, "last_received_unix", json_seconds_new(st.last_received));
	}
	json_object_object_add(o, "peer_epoch", json_object_new_uint64(st.peer_epoch));
	json_object_object_add(o, "pending", json_object_new_uint64(st.pending));
	json_object_object_add(o, "in_flight", json_object_new_uint64(st.in_flight));
	json_object_object_add(o, "held", json_object_new_uint64(st.held));
	json_object_object_add(o, "held_path", json_string_or_null(st.held_path));
	json_object_object_add(o, "held_age", json_seconds_new(st.held_age));
	json_object_object_add(o, "oldest_pending_age", json_seconds_new(st.oldest_pending_age));
	json_object_object_add(o, "last_success", json_time_new(st.last_success));
	json_object_object_add(o, "last_success_unix", json_seconds_new(st.last_success));
	json_object_object_add(o, "last_error", json_string_or_null(st.last_error));
	json_object_object_add(o, "last_error_time", json_time_new(st.last_error_time));
	json_object_object_add(o, "bytes_shipped", json_object_new_uint64(st.bytes_shipped));
	json_object_object_add(o, "files_shipped", json_object_new_uint64(st.files_shipped));
	json_object_object_add(o, "batches", json_object_new_uint64(st.batches));
	json_object_object_add(o, "full_passes", json_object_new_uint64(st.full_passes));
	json_object_object_add(o, "failures", json_object_new_uint64(st.failures));
	json_object_object_add(o, "watches", json_object_new_uint64(st.watches));
	json_object_object_add(o, "watches_missed", json_object_new_uint64(st.watches_missed));
	json_object_object_add(o, "queue_collapses", json_object_new_uint64(st.collapses));
	return o;
}

static const char *entry_socket(json_object *entry)
{
	json_object *x;
	return json_object_object_get_ex(entry, "socket", &x) ? json_object_get_string(x) : NULL;
}

static bool ours(const char *name, struct syncer *const *syncers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(syncer_conf(syncers[i])->name, name) == 0)
			return true;
	return false;
}

/* Entries other daemons wrote (lifeboat-sync@ instances share the file):
 * kept while their section exists, marked not running once nobody answers
 * on their control socket (a pid in the file proves nothing). Sets
 * *other_pid to one of them still running, if any. */
static void add_others(json_object *syncs, json_object *old, const struct config *cfg,
		       struct syncer *const *syncers, size_t n, const char *our_socket,
		       long *other_pid)
{
	json_object *old_syncs;
	if (!old || !json_object_object_get_ex(old, "syncs", &old_syncs) ||
	    !json_object_is_type(old_syncs, json_type_object))
		return;
	json_object_object_foreach(old_syncs, name, entry)
	{
		if (!json_object_is_type(entry, json_type_object) || ours(name, syncers, n) ||
		    !config_find_sync(cfg, name))
			continue;
		const char *sock = entry_socket(entry);
		if (!sock || (our_socket && strcmp(sock, our_socket) == 0))
			continue;
		json_object *pid;
		if (!ctl_alive(sock))
			json_object_object_add(entry, "running", json_object_new_boolean(0));
		else if (!*other_pid && json_object_object_get_ex(entry, "pid", &pid))
			*other_pid = (long)json_object_get_int64(pid);
		json_object_object_add(syncs, name, json_object_get(entry));
	}
}

static json_object *render(const struct config *cfg, struct syncer *const *syncers, size_t n,
			   bool running, const char *socket, json_object *old)
{
	json_object *syncs = json_object_new_object();
	for (size_t i = 0; i < n; i++) {
		json_object *e = status_sync_json(syncers[i], running);
		if (socket)
			json_object_object_add(e, "socket", json_object_new_string(socket));
		json_object_object_add(syncs, syncer_conf(syncers[i])->name, e);
	}
	long other_pid = 0;
	add_others(syncs, old, cfg, syncers, n, socket, &other_pid);

	json_object *root = json_object_new_object();
	json_object_object_add(root, "version", json_object_new_int(1));
	/* For scripts: the top-level pid and running are a running daemon's,
	 * ours first. lifeboat itself asks the daemons (ctl.h). */
	json_object_object_add(root, "pid", json_object_new_int64(running || !other_pid
									? (long)getpid()
									: other_pid));
	json_object_object_add(root, "running", json_object_new_boolean(running || other_pid));
	json_object_object_add(root, "node", json_string_or_null(cfg->node));
	double now = now_wall();
	json_object_object_add(root, "updated", json_time_new(now));
	json_object_object_add(root, "updated_unix", json_seconds_new(now));
	json_object_object_add(root, "syncs", syncs);
	return root;
}

int status_write(const struct config *cfg, struct syncer *const *syncers, size_t n,
		 bool running, const char *socket)
{
	/* One writer at a time: each rewrites the whole file from the last. */
	char *lock_path = xasprintf("%s/status.lock", cfg->state_dir);
	int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lock_path);
	if (lock >= 0)
		flock(lock, LOCK_EX);
	char *path = xasprintf("%s/status.json", cfg->state_dir);
	json_object *old = json_object_from_file(path);
	json_object *root = render(cfg, syncers, n, running, socket, old);
	struct buf text;
	buf_init(&text);
	buf_adds(&text, json_text(root));
	buf_addc(&text, '\n');
	int rc = write_file_atomic(path, text.data, text.len);
	int e = errno;
	buf_free(&text);
	json_object_put(root);
	if (old)
		json_object_put(old);
	free(path);
	if (lock >= 0)
		close(lock);
	errno = e;
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
	case 8: return (double)st->watches_missed;
	case 9: return (double)st->in_flight;
	default: return (double)st->held;
	}
}

/* [cluster]: the agent's figures, republished here (the agent serves no
 * endpoint of its own; its health answers are served here too). */
static void agent_metrics(const struct config *cfg, struct buf *b)
{
	double lease_left, lag;
	agent_figures(cfg, &lease_left, &lag);
	if (!isnan(lease_left)) {
		metric_help(b, "lifeboat_cluster_lease_remaining_seconds", "gauge",
			    "Seconds before this primary's leader lease runs out (the agent fences "
			    "itself a margin before).");
		buf_addf(b, "lifeboat_cluster_lease_remaining_seconds %.3f\n", lease_left);
		metric_help(b, "lifeboat_cluster_lease_ttl_seconds", "gauge",
			    "The leader lease's length ([cluster] ttl).");
		buf_addf(b, "lifeboat_cluster_lease_ttl_seconds %ld\n", cfg->cluster.ttl);
	}
	if (!isnan(lag)) {
		metric_help(b, "lifeboat_db_replication_lag_seconds", "gauge",
			    "How far this standby's database is behind the primary, as the agent "
			    "measured it.");
		buf_addf(b, "lifeboat_db_replication_lag_seconds %.3f\n", lag);
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
		{"lifeboat_sync_in_flight", "gauge", "Changes in the batch on its way to the target."},
		{"lifeboat_sync_held", "gauge", "Changed files held back while still open for writing."},
	};
	struct buf b;
	buf_init(&b);
	metric_help(&b, "lifeboat_up", "gauge",
		    "The process serving these metrics (the sync daemon, else the agent) is running.");
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
	if (cfg->cluster.present)
		agent_metrics(cfg, &b);
	metric_help(&b, "lifeboat_drill_last_success_timestamp_seconds", "gauge",
		    "Start of the newest drill that passed, recorded on this node (0: none).");
	buf_addf(&b, "lifeboat_drill_last_success_timestamp_seconds %.0f\n",
		 drill_last_success(cfg->state_dir));
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
