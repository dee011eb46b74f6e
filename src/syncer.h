/* syncer: one [sync NAME] section come alive. Owns its watcher, change
 * queue and transport, and the state machine that joins them:
 *
 *   startup (full pass) -> idle <-> syncing -> retrying/error -> ...
 *
 * Kernel events go into the change queue; after `delay` seconds the ready
 * changes become a batch: renames on the target first, then new trees,
 * then single paths. A batch that fails goes back into the queue, nothing
 * is dropped, and the next try waits with capped exponential backoff. */
#ifndef LIFEBOAT_SYNCER_H
#define LIFEBOAT_SYNCER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

struct loop;
struct syncer;

enum sync_state { SYNC_STARTUP, SYNC_IDLE, SYNC_SYNCING, SYNC_RETRYING, SYNC_ERROR };

/* Which way files flow for this node, from its role (see role.h):
 * the primary pushes; if the sync's target is this node and this node is now
 * the primary (after a failover), it pushes back to the other node; a
 * standby only receives. */
enum sync_direction { DIR_PUSH, DIR_REVERSED, DIR_RECEIVING };

struct sync_stats {
	enum sync_state state;
	size_t pending;        /* queued + in flight */
	size_t in_flight;      /* in the batch on its way (tar stream members too) */
	size_t held;           /* queued, held back while still open for writing */
	const char *held_path; /* the one held longest (owned by the syncer), or NULL */
	double held_age;       /* seconds since its first change */
	double oldest_pending_age; /* seconds: the files' RPO */
	double last_success;       /* unix time, 0: never */
	double last_error_time;
	const char *last_error;    /* owned by the syncer; NULL: none */
	uint64_t bytes_shipped;
	uint64_t files_shipped;
	uint64_t batches;
	uint64_t full_passes;
	uint64_t failures;
	uint64_t watches;
	uint64_t watches_missed;
	uint64_t collapses;
	bool startup_done;
	enum sync_direction direction;
	const char *source;   /* where files come from now (may be reversed) */
	const char *target;   /* where files go now */
	uint64_t peer_epoch;  /* last seen on the target node; 0: unknown */
	const char *from_node; /* receiving: the node the files come from, or NULL */
	const char *receive_dir; /* receiving: where they land here */
	double last_received_age; /* receiving: seconds since a change landed; -1: none yet */
	double last_received;     /* receiving: unix time of that change; 0: none yet */
};

struct syncer_hooks {
	void (*changed)(void *arg, struct syncer *s);  /* status worth writing */
	void (*finished)(void *arg, struct syncer *s, int exit_code); /* --once */
	void *arg;
};

/* once: one full pass, verify, report through hooks.finished. cfg and sc
 * must outlive the syncer. */
struct syncer *syncer_new(struct loop *loop, const struct config *cfg,
			  const struct sync_conf *sc, bool once, struct syncer_hooks hooks);
int syncer_start(struct syncer *s);
/* A full pass now (SIGUSR1, a late failure, unwatched directories): the
 * two trees' manifests compared, only what differs shipped. why: a static
 * string, said in the pass's log line. */
void syncer_full_pass(struct syncer *s, const char *why);
void syncer_stop(struct syncer *s);
void syncer_free(struct syncer *s);

/* The flush barrier. A mark taken now covers every change made on the
 * source before the call: the kernel's queued events are read first, and
 * the changes it covers ship without waiting for `delay`. */
int64_t syncer_mark(struct syncer *s);
/* Every change the mark covers is on the target (files held back while
 * open included); a standby's receiving sync has nothing to ship. */
bool syncer_reached(const struct syncer *s, int64_t mark);

const struct sync_conf *syncer_conf(const struct syncer *s);
void syncer_stats(const struct syncer *s, struct sync_stats *out);
const char *sync_state_name(enum sync_state st);
const char *sync_direction_name(enum sync_direction d);

#endif
