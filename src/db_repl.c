/* db_repl: replication plumbing shared by clone, promote and rejoin:
 * the replication account, CHANGE MASTER + START SLAVE with GTID, bounded
 * waits on replica health, semi-sync, server_id sanity. */
#include "result.h"
#include "db_ops.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int db_check_server_ids(struct db_conn *a, struct db_conn *b, char **err)
{
	long long ia = 0, ib = 0;
	int rc = db_long(a, "SELECT @@server_id", &ia, err);
	if (!rc)
		rc = db_long(b, "SELECT @@server_id", &ib, err);
	if (rc)
		return rc;
	if (ia == ib) {
		*err = xasprintf("%s and %s both have server_id %lld: give each server a unique "
				 "server_id in its my.cnf and restart it",
				 a->name, b->name, ia);
		return LB_FAILED;
	}
	return LB_OK;
}

int db_ensure_repl_user(struct db_pair *p, struct db_conn *source, char **err)
{
	const char *user = p->cfg->db.replication_user;
	char *quser = db_quote(source, user);
	long long n = 0;
	char *sql = xasprintf("SELECT COUNT(*) FROM mysql.user WHERE User = %s", quser);
	int rc = db_long(source, sql, &n, err);
	free(sql);
	if (!rc && n == 0) {
		char *qpass = db_quote(source, p->repl_password);
		rc = db_execf(source, err, "CREATE USER %s@'%%' IDENTIFIED BY %s", quser, qpass);
		if (!rc)
			rc = db_execf(source, err, "GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", quser);
		free(qpass);
		if (!rc)
			log_info("created replication user '%s'@'%%' on %s", user, source->name);
	}
	free(quser);
	return rc;
}

int db_start_replication(struct db_pair *p, struct db_conn *replica, const struct db_server *source,
			 bool demote, char **err)
{
	const struct db_flavor *fl = replica->flavor;
	char *qhost = db_quote(replica, source->host);
	char *quser = db_quote(replica, p->cfg->db.replication_user);
	char *qpass = db_quote(replica, p->repl_password);
	/* MASTER_DEMOTE_TO_SLAVE folds an ex-primary's own binlog position into
	 * gtid_slave_pos; without it the old primary asks for the new one's
	 * history from the start (anchors pitfall 10). */
	int rc = db_execf(replica, err,
			  "%s MASTER_HOST=%s, MASTER_PORT=%u, MASTER_USER=%s, MASTER_PASSWORD=%s, "
			  "MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1, "
			  "MASTER_USE_GTID=slave_pos%s",
			  fl->change_source, qhost, source->port, quser, qpass,
			  demote ? ", MASTER_DEMOTE_TO_SLAVE=1" : "");
	free(qhost);
	free(quser);
	free(qpass);
	if (!rc)
		rc = db_exec(replica, fl->start_replica, err);
	return rc;
}

static double mono(void)
{
	return (double)now_ms() / 1000.0;
}

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int db_wait_replica(struct db_conn *replica, const char *gtid, double timeout, char **err)
{
	double deadline = mono() + timeout;
	for (;;) {
		struct db_facts f;
		int rc = db_facts_read(replica, &f, err);
		if (rc)
			return rc;
		char *problem = db_facts_replication_problem(&f);
		bool running = f.replica && !problem;
		/* IO "Connecting" with no error yet: keep waiting. */
		bool hard = f.replica && (f.sql_errno || f.io_errno);
		db_facts_free(&f);
		if (running)
			break;
		if (hard || mono() > deadline) {
			*err = xasprintf("replication on %s does not run: %s", replica->name,
					 problem ? problem : "not configured");
			free(problem);
			return LB_FAILED;
		}
		free(problem);
		nap(50);
	}
	if (!gtid || !*gtid)
		return LB_OK;
	/* Caught up: MASTER_GTID_WAIT in slices, rechecking thread health
	 * between them (it is not a divergence check by itself, pitfall 7). */
	char *q = db_quote(replica, gtid);
	int rc = LB_OK;
	for (;;) {
		long long r = -1;
		double left = deadline - mono();
		double slice = left < 0.5 ? (left > 0 ? left : 0) : 0.5;
		char *sql = xasprintf("SELECT MASTER_GTID_WAIT(%s, %.3f)", q, slice);
		rc = db_long(replica, sql, &r, err);
		free(sql);
		if (rc || r == 0)
			break;
		struct db_facts f;
		rc = db_facts_read(replica, &f, err);
		if (rc)
			break;
		char *problem = db_facts_replication_problem(&f);
		db_facts_free(&f);
		if (problem || mono() > deadline) {
			*err = xasprintf("%s did not reach GTID %s within %.0f s%s%s", replica->name,
					 gtid, timeout, problem ? ": " : "", problem ? problem : "");
			free(problem);
			rc = LB_FAILED;
			break;
		}
	}
	free(q);
	return rc;
}

int db_semi_sync_setup(struct db_pair *p, struct db_conn *primary, struct db_conn *replica,
		       char **err)
{
	if (!p->cfg->db.semi_sync)
		return LB_OK;
	/* AFTER_SYNC: a commit is visible only once the replica has it, so a
	 * crash cannot lose an acknowledged transaction. */
	int rc = db_exec(primary, "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC", err);
	if (!rc)
		rc = db_exec(primary, "SET GLOBAL rpl_semi_sync_master_enabled = ON", err);
	if (!rc)
		rc = db_exec(replica, "SET GLOBAL rpl_semi_sync_slave_enabled = ON", err);
	/* The IO thread reads the slave setting only when it (re)connects. */
	if (!rc)
		rc = db_exec(replica, replica->flavor->stop_io_thread, err);
	if (!rc)
		rc = db_exec(replica, replica->flavor->start_replica, err);
	return rc;
}
