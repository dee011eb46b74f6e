/* db_errant: what an old primary's errant transactions wrote, read from its
 * binlog with SHOW BINLOG EVENTS. When its cable is cut before its processes
 * die, the heartbeat it writes every second (lifeboat.heartbeat) no longer
 * reaches the standby and becomes errant; rejoin may discard those, never a
 * transaction that touches anything else. */
#include "db_errant.h"
#include "db_ops.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 1000
/* More errant transactions than this are not inspected (refused as before):
 * a heartbeat a second for more than a day. */
#define MAX_ERRANT 100000

static bool is_errant(const struct db_errant_scan *s, const struct gtid *g)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].domain == g->domain && g->seq >= s->e[i].first && g->seq <= s->e[i].last)
			return true;
	return false;
}

/* "BEGIN GTID 0-1-5", "GTID 0-1-5 cid=9", "BEGIN GTID 0-1-5 XID 3". */
static bool parse_gtid_info(const char *info, struct gtid *g)
{
	const char *p = strstr(info, "GTID ");
	unsigned d, sv;
	unsigned long long seq;
	if (!p || sscanf(p + 5, "%u-%u-%llu", &d, &sv, &seq) != 3)
		return false;
	*g = (struct gtid){.domain = d, .server = sv, .seq = seq};
	return true;
}

/* A statement event of an errant transaction: the transaction's frame, or
 * lifeboat's own heartbeat write or IF NOT EXISTS DDL, byte for byte.
 * "use `db`; " prefixes the text. */
static bool own_query(const char *info)
{
	if (strncmp(info, "use `", 5) == 0) {
		const char *semi = strstr(info, "`; ");
		if (semi)
			info = semi + 3;
	}
	return strcmp(info, "BEGIN") == 0 || strncmp(info, "COMMIT", 6) == 0 ||
	       strcmp(info, "ROLLBACK") == 0 || db_meta_is_own_statement(info);
}

static bool own_event(const char *type, const char *info)
{
	if (strcmp(type, "Table_map") == 0) {
		/* "table_id: 33 (lifeboat.heartbeat)", the whole of it: a table
		 * may be named "x (lifeboat.heartbeat)". */
		int at = -1;
		sscanf(info, "table_id: %*u (%n", &at);
		return at > 0 && strcmp(info + at, "lifeboat.heartbeat)") == 0;
	}
	if (strcmp(type, "Query") == 0)
		return own_query(info);
	/* Row events apply to the tables mapped before them; the rest frame
	 * the transaction. */
	return strstr(type, "_rows") != NULL || strcmp(type, "Xid") == 0;
}

static bool is_between(const char *type)
{
	static const char *const between[] = {"Format_desc", "Gtid_list", "Binlog_checkpoint",
					       "Rotate", "Stop", "Start_encryption"};
	for (size_t i = 0; i < ARRAY_LEN(between); i++)
		if (strcmp(type, between[i]) == 0)
			return true;
	return false;
}

void db_errant_scan_event(struct db_errant_scan *s, const char *type, const char *info)
{
	if (strcmp(type, "Gtid") == 0) {
		struct gtid g;
		s->in_errant = parse_gtid_info(info, &g) && is_errant(s, &g);
		if (s->in_errant)
			s->seen++;
		return;
	}
	/* Events between transactions (a binlog file's header, its rotation)
	 * end the one before. */
	if (is_between(type)) {
		s->in_errant = false;
		return;
	}
	if (!s->in_errant || s->foreign || own_event(type, info))
		return;
	s->foreign = xasprintf("%s event '%.160s'", type, info);
}

/* Every event of one binlog file from its start, a page at a time. */
static int scan_file(struct db_conn *c, const char *file, struct db_errant_scan *s, char **err)
{
	char *qfile = db_quote(c, file);
	unsigned long long from = 4;
	int rc = 0;
	s->in_errant = false;
	for (;;) {
		char *sql = xasprintf("SHOW BINLOG EVENTS IN %s FROM %llu LIMIT %d", qfile, from, PAGE);
		struct db_row *rows = NULL;
		size_t n = 0;
		rc = db_rows(c, sql, &rows, &n, err);
		free(sql);
		if (rc)
			break;
		for (size_t i = 0; i < n; i++) {
			const char *type = db_row_get(&rows[i], "Event_type");
			const char *info = db_row_get(&rows[i], "Info");
			db_errant_scan_event(s, type ? type : "", info ? info : "");
		}
		const char *end = n ? db_row_get(&rows[n - 1], "End_log_pos") : NULL;
		unsigned long long next = end ? strtoull(end, NULL, 10) : 0;
		db_rows_free(rows, n);
		if (n < PAGE || next <= from)
			break;
		from = next;
	}
	free(qfile);
	return rc;
}

/* The file's Gtid_list (the binlog state when it was opened) is before
 * every errant transaction: scanning can start there. */
static bool starts_before_errant(struct db_conn *c, const char *file,
				 const struct db_errant_scan *s)
{
	char *qfile = db_quote(c, file);
	char *sql = xasprintf("SHOW BINLOG EVENTS IN %s LIMIT 4", qfile);
	free(qfile);
	struct db_row *rows = NULL;
	size_t n = 0;
	char *err = NULL;
	bool before = false;
	if (db_rows(c, sql, &rows, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *type = db_row_get(&rows[i], "Event_type");
			const char *info = db_row_get(&rows[i], "Info");
			if (!type || !info || strcmp(type, "Gtid_list") != 0)
				continue;
			char *list = xstrdup(info + (*info == '['));
			char *close = strchr(list, ']');
			if (close)
				*close = '\0';
			struct gtid_pos pos;
			if (gtid_pos_parse(list, &pos) == 0) {
				before = true;
				for (size_t k = 0; k < s->n; k++) {
					const struct gtid *g = gtid_pos_find(&pos, s->e[k].domain);
					if (g && g->seq >= s->e[k].first)
						before = false;
				}
				gtid_pos_free(&pos);
			}
			free(list);
		}
		db_rows_free(rows, n);
	}
	free(err);
	free(sql);
	return before;
}

int db_errant_only_own(struct db_conn *old, const struct gtid_errant *e, size_t n, bool *own,
		       char **why, char **err)
{
	*own = false;
	*why = NULL;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].diverged) {
			*why = xstrdup("a domain's history differs (same sequence number, other server)");
			return 0;
		}
		total += e[i].last - e[i].first + 1;
	}
	if (total > MAX_ERRANT) {
		*why = xasprintf("%" PRIu64 " errant transactions are more than are inspected", total);
		return 0;
	}
	struct db_row *files = NULL;
	size_t nf = 0;
	if (db_rows(old, "SHOW BINARY LOGS", &files, &nf, err))
		return -1;
	size_t start = 0;
	struct db_errant_scan s = {.e = e, .n = n};
	for (size_t i = nf; i-- > 0;)
		if (files[i].values[0] && starts_before_errant(old, files[i].values[0], &s)) {
			start = i;
			break;
		}
	int rc = 0;
	for (size_t i = start; i < nf && !rc && !s.foreign; i++)
		if (files[i].values[0])
			rc = scan_file(old, files[i].values[0], &s, err);
	db_rows_free(files, nf);
	if (rc) {
		free(s.foreign);
		return -1;
	}
	if (s.foreign)
		*why = xasprintf("an errant transaction writes more than lifeboat.heartbeat: %s",
				 s.foreign);
	else if (s.seen != total)
		*why = xasprintf("only %" PRIu64 " of the %" PRIu64
				 " errant transactions are in the binlog",
				 s.seen, total);
	else
		*own = true;
	free(s.foreign);
	return 0;
}
