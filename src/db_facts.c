/* db_facts: read one server's role and replication state (for status,
 * promote, rejoin). Reading only; nothing here changes a server. */
#include "result.h"
#include "db_ops.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static long long to_ll(const char *s, long long dflt)
{
	if (!s || !*s)
		return dflt;
	char *end;
	long long v = strtoll(s, &end, 10);
	return end == s ? dflt : v;
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static int read_globals(struct db_conn *c, struct db_facts *f, char **err)
{
	struct db_row row;
	bool found;
	int rc = db_row(c,
			"SELECT @@server_id AS sid, @@global.read_only AS ro, VERSION() AS v, "
			"@@global.gtid_binlog_pos AS bp, @@global.gtid_slave_pos AS sp, "
			"@@global.gtid_current_pos AS cp",
			&row, &found, err);
	if (rc)
		return rc;
	if (found) {
		f->server_id = to_ll(db_row_get(&row, "sid"), 0);
		f->read_only = to_ll(db_row_get(&row, "ro"), 0) != 0;
		f->version = dup_or_empty(db_row_get(&row, "v"));
		f->gtid_binlog_pos = dup_or_empty(db_row_get(&row, "bp"));
		f->gtid_slave_pos = dup_or_empty(db_row_get(&row, "sp"));
		f->gtid_current_pos = dup_or_empty(db_row_get(&row, "cp"));
	}
	db_row_free(&row);
	return LB_OK;
}

static int read_replica(struct db_conn *c, struct db_facts *f, char **err)
{
	const struct db_flavor *fl = c->flavor;
	struct db_row row;
	bool found;
	int rc = db_row(c, fl->show_replica_status, &row, &found, err);
	if (rc || !found)
		return rc;
	f->replica = true;
	f->io_running = dup_or_empty(db_row_get(&row, fl->col_io_running));
	f->sql_running = dup_or_empty(db_row_get(&row, fl->col_sql_running));
	f->io_errno = to_ll(db_row_get(&row, fl->col_io_errno), 0);
	f->sql_errno = to_ll(db_row_get(&row, fl->col_sql_errno), 0);
	f->io_error = dup_or_empty(db_row_get(&row, fl->col_io_error));
	f->sql_error = dup_or_empty(db_row_get(&row, fl->col_sql_error));
	f->seconds_behind = to_ll(db_row_get(&row, fl->col_seconds_behind), -1);
	f->source_host = dup_or_empty(db_row_get(&row, fl->col_source_host));
	f->source_port = to_ll(db_row_get(&row, fl->col_source_port), 0);
	f->gtid_io_pos = dup_or_empty(db_row_get(&row, "Gtid_IO_Pos"));
	db_row_free(&row);
	return LB_OK;
}

/* Semi-sync variables and status; absent plugin means all off. */
static void read_semi_sync(struct db_conn *c, struct db_facts *f)
{
	struct db_row *rows;
	size_t n;
	char *err = NULL;
	if (db_rows(c,
		    "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES "
		    "WHERE VARIABLE_NAME IN ('RPL_SEMI_SYNC_MASTER_ENABLED','RPL_SEMI_SYNC_SLAVE_"
		    "ENABLED') UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM "
		    "information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN "
		    "('RPL_SEMI_SYNC_MASTER_STATUS','RPL_SEMI_SYNC_SLAVE_STATUS')",
		    &rows, &n, &err)) {
		free(err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = rows[i].values[0], *v = rows[i].values[1];
		bool on = v && strcasecmp(v, "ON") == 0;
		if (!k)
			continue;
		if (strcasecmp(k, "RPL_SEMI_SYNC_MASTER_ENABLED") == 0)
			f->semi_master_enabled = on;
		else if (strcasecmp(k, "RPL_SEMI_SYNC_SLAVE_ENABLED") == 0)
			f->semi_slave_enabled = on;
		else if (strcasecmp(k, "RPL_SEMI_SYNC_MASTER_STATUS") == 0)
			f->semi_master_on = on;
		else if (strcasecmp(k, "RPL_SEMI_SYNC_SLAVE_STATUS") == 0)
			f->semi_slave_on = on;
	}
	db_rows_free(rows, n);
}

/* The lifeboat schema may not exist yet: missing tables are not errors. */
static void read_meta(struct db_conn *c, struct db_facts *f)
{
	struct db_row row;
	bool found;
	char *err = NULL;
	if (db_row(c,
		   "SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) / 1e6, server_id FROM "
		   "lifeboat.heartbeat WHERE id = 1",
		   &row, &found, &err) == 0) {
		if (found && row.values[0]) {
			f->has_heartbeat = true;
			f->heartbeat_age = strtod(row.values[0], NULL);
			f->heartbeat_server_id = to_ll(row.values[1], 0);
		}
		db_row_free(&row);
	}
	free(err);
	err = NULL;
	bool has = false;
	if (db_meta_epoch(c, &f->epoch, &f->fork_gtid, &has, &err) == 0)
		f->has_epoch = has;
	free(err);
}

/* Every string field is a string, "" when the server gave NULL or nothing
 * (no replication configured, replication reset, an older server): callers
 * compare and print them without a NULL check. */
static void fill_absent(struct db_facts *f)
{
	char **fields[] = {&f->version,	    &f->gtid_binlog_pos, &f->gtid_slave_pos,
			   &f->gtid_current_pos, &f->io_running,	 &f->sql_running,
			   &f->io_error,	    &f->sql_error,	 &f->source_host,
			   &f->gtid_io_pos};
	for (size_t i = 0; i < ARRAY_LEN(fields); i++)
		if (!*fields[i])
			*fields[i] = xstrdup("");
}

int db_facts_read(struct db_conn *c, struct db_facts *f, char **err)
{
	memset(f, 0, sizeof(*f));
	f->seconds_behind = -1;
	int rc = read_globals(c, f, err);
	if (!rc)
		rc = read_replica(c, f, err);
	if (rc) {
		/* What was read before the failure is not the caller's to free. */
		db_facts_free(f);
		f->seconds_behind = -1;
		return rc;
	}
	fill_absent(f);
	f->reachable = true;
	read_semi_sync(c, f);
	read_meta(c, f);
	return LB_OK;
}

void db_facts_free(struct db_facts *f)
{
	free(f->error);
	free(f->version);
	free(f->gtid_binlog_pos);
	free(f->gtid_slave_pos);
	free(f->gtid_current_pos);
	free(f->io_running);
	free(f->sql_running);
	free(f->io_error);
	free(f->sql_error);
	free(f->source_host);
	free(f->gtid_io_pos);
	free(f->fork_gtid);
	memset(f, 0, sizeof(*f));
}

char *db_facts_replication_problem(const struct db_facts *f)
{
	if (!f->replica)
		return NULL;
	if (f->sql_errno)
		return xasprintf("SQL thread stopped with error %lld (%s): fix the cause (a "
				 "duplicate or missing row means the standby diverged) and "
				 "START SLAVE, or re-seed with 'lifeboat db clone --force'",
				 f->sql_errno, f->sql_error);
	if (f->io_errno)
		return xasprintf("IO thread error %lld (%s): check that the primary is up and "
				 "the replication user and password are right",
				 f->io_errno, f->io_error);
	if (strcmp(f->sql_running, "Yes") != 0 || strcmp(f->io_running, "Yes") != 0)
		return xasprintf("replication threads are not running (IO %s, SQL %s): run "
				 "START SLAVE or 'lifeboat db clone'",
				 f->io_running, f->sql_running);
	return NULL;
}

bool db_facts_replication_starting(const struct db_facts *f)
{
	return f->replica && !f->sql_errno && !f->io_errno && f->sql_running && f->io_running &&
	       strcmp(f->sql_running, "Yes") == 0 &&
	       (strcmp(f->io_running, "Connecting") == 0 || strcmp(f->io_running, "Preparing") == 0);
}
