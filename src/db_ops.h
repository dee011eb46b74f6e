/* db_ops: the database operations behind `lifeboat db` (and, later, failover):
 * reading a server's replication facts, the lifeboat schema (heartbeat and
 * role epoch), clone, promote, fence and rejoin. Each lives in its own
 * module (db_facts.c, db_meta.c, db_clone.c, db_promote.c, db_rejoin.c);
 * this header is their one interface. Operations return a result (result.h) and
 * on failure set *err to one line saying what happened, in what state things
 * were left, and what to do. */
#ifndef LIFEBOAT_DB_OPS_H
#define LIFEBOAT_DB_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "util.h"

/* What one server says about itself. Strings are owned (db_facts_free). */
struct db_facts {
	bool reachable;
	char *error; /* why not reachable */
	int error_rc;
	char *version;
	long long server_id;
	bool read_only;
	char *gtid_binlog_pos, *gtid_slave_pos, *gtid_current_pos;
	bool replica; /* replication configured (SHOW SLAVE STATUS has a row) */
	char *io_running, *sql_running; /* "Yes" / "No" / "Connecting" */
	long long io_errno, sql_errno;
	char *io_error, *sql_error;
	long long seconds_behind; /* -1: NULL */
	char *source_host;
	long long source_port;
	char *gtid_io_pos;
	bool semi_master_enabled, semi_master_on, semi_slave_enabled, semi_slave_on;
	bool has_heartbeat;
	double heartbeat_age; /* seconds between the heartbeat row and now */
	long long heartbeat_server_id;
	bool has_epoch;
	uint64_t epoch;
	char *fork_gtid; /* fork point recorded with the highest epoch */
};

int db_facts_read(struct db_conn *c, struct db_facts *f, char **err);
void db_facts_free(struct db_facts *f);
/* Replica threads are stopped with an error, or not running: message. */
char *db_facts_replication_problem(const struct db_facts *f);
/* Both threads started, no error, the IO thread still connecting
 * ("Connecting", "Preparing"): it runs in a moment. */
bool db_facts_replication_starting(const struct db_facts *f);

/* lifeboat schema on a writable server (replicates to the standby). */
int db_meta_ensure(struct db_conn *c, char **err);
/* sql is the heartbeat write or one of db_meta_ensure's statements (IF NOT
 * EXISTS: a no-op where the schema is already there), as a statement-format
 * binlog holds them; rejoin may discard these when errant. */
bool db_meta_is_own_statement(const char *sql);
/* Highest epoch recorded on the server (0 when none). */
int db_meta_epoch(struct db_conn *c, uint64_t *epoch, char **fork_gtid, bool *found, char **err);
int db_meta_record_epoch(struct db_conn *c, uint64_t epoch, const char *node,
			 const char *fork_gtid, char **err);

/* Heartbeat writer: the sync daemon calls db_heartbeat_tick() from its loop
 * timer every second; `lifeboat db heartbeat` does so in the foreground. It
 * writes only on a server with read_only=OFF (checked in the same
 * statement), so it never writes through a fence. */
struct db_heartbeat;
struct db_heartbeat *db_heartbeat_new(const struct config *cfg, char **err, int *rc);
/* One write; reconnects as needed. Returns 0 written, 1 skipped (no writable
 * server), -1 error (logged once per change of state). */
int db_heartbeat_tick(struct db_heartbeat *hb);
void db_heartbeat_free(struct db_heartbeat *hb);

/* Application accounts of a server as statements (db_accounts.c): what a
 * dump clone copies. System accounts (root, mariadb.sys, PUBLIC, the
 * installer's mysql@localhost, anonymous ones, lifeboat's own) are left out:
 * the target keeps its own. */
struct db_accounts {
	struct strv drops, creates, grants;
	struct strv skipped; /* "'u'@'h' (why)" for the log */
	size_t count;
};
bool db_account_is_system(const char *user, const char *host, const char *own_user);
int db_accounts_read(struct db_conn *src, const char *own_user, struct db_accounts *a, char **err);
int db_accounts_apply(struct db_conn *tgt, const struct db_accounts *a, char **err);
void db_accounts_free(struct db_accounts *a);

enum db_clone_method { DB_CLONE_BACKUP, DB_CLONE_DUMP };

struct db_clone_opts {
	enum db_clone_method method;
	bool force;
	bool progress; /* bytes, rate, ETA on stderr */
};

/* Seed the target from the source and start GTID replication from it. */
int db_clone(struct db_pair *p, const struct db_server *source, const struct db_server *target,
	     const struct db_clone_opts *o, char **err);

/* Replication helpers shared by clone, promote and rejoin. */
int db_ensure_repl_user(struct db_pair *p, struct db_conn *source, char **err);
int db_start_replication(struct db_pair *p, struct db_conn *replica, const struct db_server *source,
			 bool demote, char **err);
/* Wait (bounded) until the replica runs both threads without error and has
 * applied everything up to gtid (may be NULL). */
int db_wait_replica(struct db_conn *replica, const char *gtid, double timeout, char **err);
int db_semi_sync_setup(struct db_pair *p, struct db_conn *primary, struct db_conn *replica,
		       char **err);
int db_check_server_ids(struct db_conn *a, struct db_conn *b, char **err);

struct db_promote_result {
	double ms_to_writable;
	uint64_t epoch;
	char *fork_gtid;
};
/* Promote the standby (callers that fenced the primary themselves). A SQL
 * thread stopped on an error refuses (nothing changed) unless force. */
int db_promote(struct db_pair *p, bool force, struct db_promote_result *r, char **err);
/* The same, but first refuses while the primary still answers with
 * read_only=OFF (split brain), unless force. `lifeboat db promote` uses it. */
int db_promote_guarded(struct db_pair *p, bool force, struct db_promote_result *r, char **err);
/* Fence: read_only=ON, kill client sessions, verify. */
int db_fence(struct db_pair *p, const struct db_server *target, char **err);
int db_fence_conn(struct db_conn *c, unsigned *killed, char **err);
/* Accounts and roles other than lifeboat's own that write through
 * read_only (READ_ONLY ADMIN, part of ALL PRIVILEGES), as information_schema
 * spells a grantee ('user'@'host'; a role 'name'@''). */
int db_read_only_writers(struct db_conn *c, struct strv *out, char **err);
/* Give back the READ_ONLY ADMIN a fence of this server revoked (its record
 * lifeboat.fence_revoked, not binlogged); promote calls it. */
int db_fence_give_back(struct db_conn *c, unsigned *given, char **err);
/* The old primary (the configuration's "primary") replicates from the
 * promoted one; *new_epoch gets the promoted one's role epoch. */
int db_rejoin(struct db_pair *p, bool force, uint64_t *new_epoch, char **err);

/* Persist read_only in [database] read_only_cnf (if set) when s is the
 * server on this machine: its [node] is [lifeboat] node, or, for a HOST:PORT
 * value, s is the standby (lifeboat runs on the DR side). */
/* `db writable`: turn writes on here when this node holds the primary role
 * and the highest role epoch, and the other server is reachable, read-only
 * and not newer (db_writable.c). *changed: writes were off and are on now. */
int db_make_writable(struct db_pair *p, bool *changed, char **err);
/* Undo a fence of the server c is connected to, before its writes go back
 * on by any way other than a promote (`db writable`, the agent): READ_ONLY
 * ADMIN back to the accounts the fence recorded, and, with semi_sync, the
 * master side of semi-sync on again (the agent's fence turns it off). */
int db_unfence(const struct config *cfg, struct db_conn *c, char **err);

int db_persist_read_only(const struct config *cfg, const struct db_server *s, bool on,
			 uint64_t epoch, char **err);
/* This node's server's read_only_cnf, written when it is missing (a clone
 * run from the other node could not): `lifeboat sync` does it at start on
 * every node. */
int db_ensure_read_only_cnf(const struct config *cfg, char **err);

#endif
