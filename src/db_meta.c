/* db_meta: the lifeboat schema: heartbeat row (true lag) and the role epoch
 * history (each promotion, with the GTID position it forked at, which is
 * what rejoin compares an old primary against). Also the heartbeat writer
 * and the my.cnf drop-in that keeps read_only across restarts. */
#include "result.h"
#include "db_ops.h"
#include "epoch.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const meta_ddl[] = {
	"CREATE DATABASE IF NOT EXISTS lifeboat",
	"CREATE TABLE IF NOT EXISTS lifeboat.heartbeat (id TINYINT UNSIGNED PRIMARY KEY, "
	"server_id INT UNSIGNED NOT NULL, ts DATETIME(6) NOT NULL) ENGINE=InnoDB",
	"CREATE TABLE IF NOT EXISTS lifeboat.epoch (epoch BIGINT UNSIGNED PRIMARY KEY, "
	"server_id INT UNSIGNED NOT NULL, node VARCHAR(255), fork_gtid TEXT, "
	"promoted_at DATETIME(6) NOT NULL) ENGINE=InnoDB",
};

/* The heartbeat write; the read_only test is repeated inside the statement:
 * a fence that lands between the check and the write must win. */
static const char heartbeat_sql[] =
	"INSERT INTO lifeboat.heartbeat (id, server_id, ts) SELECT 1, @@server_id, "
	"NOW(6) FROM DUAL WHERE @@global.read_only = 0 ON DUPLICATE KEY UPDATE "
	"server_id = VALUES(server_id), ts = VALUES(ts)";

bool db_meta_is_own_statement(const char *sql)
{
	for (size_t i = 0; i < ARRAY_LEN(meta_ddl); i++)
		if (strcmp(sql, meta_ddl[i]) == 0)
			return true;
	return strcmp(sql, heartbeat_sql) == 0;
}

int db_meta_ensure(struct db_conn *c, char **err)
{
	for (size_t i = 0; i < ARRAY_LEN(meta_ddl); i++) {
		int rc = db_exec(c, meta_ddl[i], err);
		if (rc)
			return rc;
	}
	return LB_OK;
}

int db_meta_epoch(struct db_conn *c, uint64_t *epoch, char **fork_gtid, bool *found, char **err)
{
	*epoch = 0;
	*found = false;
	if (fork_gtid)
		*fork_gtid = NULL;
	struct db_row row;
	bool have;
	int rc = db_row(c, "SELECT epoch, fork_gtid FROM lifeboat.epoch ORDER BY epoch DESC LIMIT 1",
			&row, &have, err);
	if (rc) {
		if (db_errno(c) == 1146 || db_errno(c) == 1049) { /* no table / schema yet */
			free(*err);
			*err = NULL;
			return LB_OK;
		}
		return rc;
	}
	if (have) {
		*found = true;
		*epoch = strtoull(row.values[0] ? row.values[0] : "0", NULL, 10);
		if (fork_gtid && row.values[1])
			*fork_gtid = xstrdup(row.values[1]);
		db_row_free(&row);
	}
	return LB_OK;
}

int db_meta_record_epoch(struct db_conn *c, uint64_t epoch, const char *node,
			 const char *fork_gtid, char **err)
{
	char *qnode = db_quote(c, node ? node : "");
	char *qfork = db_quote(c, fork_gtid ? fork_gtid : "");
	int rc = db_execf(c, err,
			  "INSERT INTO lifeboat.epoch (epoch, server_id, node, fork_gtid, "
			  "promoted_at) VALUES (%llu, @@server_id, %s, %s, NOW(6))",
			  (unsigned long long)epoch, qnode, qfork);
	free(qnode);
	free(qfork);
	return rc;
}

static bool server_is_here(const struct config *cfg, const struct db_server *s)
{
	if (s->node)
		return cfg->node && strcmp(cfg->node, s->node) == 0;
	return strcmp(s->role, "standby") == 0;
}

int db_persist_read_only(const struct config *cfg, const struct db_server *s, bool on,
			 uint64_t epoch, char **err)
{
	if (!cfg->db.read_only_cnf || !server_is_here(cfg, s))
		return LB_OK;
	/* Always ON: a server that restarts must not take writes before
	 * lifeboat has seen that this node still holds the highest epoch (a
	 * primary failed over while it was down would otherwise come back
	 * writable next to the new one). `db writable`, which the sync
	 * daemon runs, turns writes on again on the primary. */
	char *text = xasprintf("# written by lifeboat (role epoch %llu, %s then); a restart "
			       "comes back read-only:\n# 'lifeboat db writable' (run by 'lifeboat "
			       "sync') turns writes on only on the node\n# holding the primary role "
			       "and the highest epoch\n[mariadbd]\nread_only = ON\n",
			       (unsigned long long)epoch, on ? "read-only" : "writable");
	int rc = write_file_atomic(cfg->db.read_only_cnf, text, strlen(text));
	free(text);
	if (rc < 0) {
		*err = xasprintf("cannot write read_only_cnf %s: %s (read_only is set on the "
				 "running server but will not survive a restart)",
				 cfg->db.read_only_cnf, strerror(errno));
		return LB_FAILED;
	}
	return LB_OK;
}

int db_ensure_read_only_cnf(const struct config *cfg, char **err)
{
	if (!cfg->db.present || !cfg->db.read_only_cnf || access(cfg->db.read_only_cnf, F_OK) == 0)
		return LB_OK;
	struct db_pair p;
	int rc = db_pair_init(&p, cfg, false, err);
	const struct db_server *s[] = {&p.primary, &p.standby};
	for (int i = 0; !rc && i < 2; i++) {
		if (!s[i]->node || !server_is_here(cfg, s[i]))
			continue;
		uint64_t epoch = 0;
		if (epoch_read(cfg->state_dir, &epoch, err) < 0)
			rc = LB_FAILED;
		if (!rc)
			rc = db_persist_read_only(cfg, s[i], true, epoch, err);
		if (!rc)
			log_info("wrote %s: %s's server comes back read-only after a restart",
				 cfg->db.read_only_cnf, s[i]->node);
	}
	db_pair_free(&p);
	return rc;
}

struct db_heartbeat {
	struct db_pair pair;
	struct db_conn conn;
	bool connected;
	int which; /* 0 primary, 1 standby: the server tried last */
	bool meta_ok;
	char *last_error[2]; /* per server, logged once until it changes */
};

struct db_heartbeat *db_heartbeat_new(const struct config *cfg, char **err, int *rc)
{
	struct db_heartbeat *hb = xcalloc(1, sizeof(*hb));
	*rc = db_pair_init(&hb->pair, cfg, false, err);
	if (*rc) {
		db_pair_free(&hb->pair);
		free(hb);
		return NULL;
	}
	/* Called from the sync daemon's loop: a tick blocks at most a few
	 * seconds even when a host is blackholed or a server stalls. */
	hb->pair.primary.connect_timeout = 1;
	hb->pair.standby.connect_timeout = 1;
	return hb;
}

static void hb_note(struct db_heartbeat *hb, char *msg)
{
	char **last = &hb->last_error[hb->which];
	if (!*last || strcmp(*last, msg) != 0)
		log_warn("heartbeat: %s", msg);
	free(*last);
	*last = msg;
}

static void hb_disconnect(struct db_heartbeat *hb)
{
	if (hb->connected)
		db_close(&hb->conn);
	hb->connected = false;
	hb->meta_ok = false;
}

/* Write on the current server if it is writable. 0 written, 1 read-only. */
static int hb_write(struct db_heartbeat *hb, char **err)
{
	if (!hb->connected) {
		const struct db_server *s = hb->which ? &hb->pair.standby : &hb->pair.primary;
		if (db_pair_connect(&hb->pair, s, &hb->conn, err)) {
			db_close(&hb->conn);
			return -1;
		}
		hb->connected = true;
	}
	long long ro = 1;
	if (db_long(&hb->conn, "SELECT @@global.read_only", &ro, err))
		return -1;
	if (ro)
		return 1;
	if (!hb->meta_ok) {
		if (db_meta_ensure(&hb->conn, err))
			return -1;
		hb->meta_ok = true;
	}
	if (db_exec(&hb->conn, heartbeat_sql, err))
		return -1;
	return 0;
}

int db_heartbeat_tick(struct db_heartbeat *hb)
{
	/* Try the server that was writable last time, then the other one: after
	 * a promotion the heartbeat follows the new primary. */
	for (int attempt = 0; attempt < 2; attempt++) {
		char *err = NULL;
		int rc = hb_write(hb, &err);
		if (rc == 0) {
			if (hb->last_error[hb->which])
				log_info("heartbeat: writing on %s again", hb->conn.name);
			free(hb->last_error[hb->which]);
			hb->last_error[hb->which] = NULL;
			return 0;
		}
		if (rc < 0) {
			hb_note(hb, err);
			hb_disconnect(hb);
		} else {
			free(err);
			hb_disconnect(hb);
		}
		hb->which = !hb->which;
	}
	return hb->last_error[0] || hb->last_error[1] ? -1 : 1;
}

void db_heartbeat_free(struct db_heartbeat *hb)
{
	if (!hb)
		return;
	hb_disconnect(hb);
	db_pair_free(&hb->pair);
	free(hb->last_error[0]);
	free(hb->last_error[1]);
	free(hb);
}
