/* Unit tests for the classification of an old primary's errant transactions
 * (db_errant.c): which binlog events are lifeboat's own heartbeat, which are
 * application writes. Events as SHOW BINLOG EVENTS gives them; no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "db_errant.h"

static const struct gtid_errant errant[] = {{.domain = 0, .first = 11, .last = 12}};

#define HEARTBEAT_SQL                                                                              \
	"INSERT INTO lifeboat.heartbeat (id, server_id, ts) SELECT 1, @@server_id, NOW(6) FROM "   \
	"DUAL WHERE @@global.read_only = 0 ON DUPLICATE KEY UPDATE server_id = "                   \
	"VALUES(server_id), ts = VALUES(ts)"

static void row_tx(struct db_errant_scan *s, const char *gtid, const char *table)
{
	db_errant_scan_event(s, "Gtid", gtid);
	db_errant_scan_event(s, "Annotate_rows", HEARTBEAT_SQL);
	db_errant_scan_event(s, "Table_map", table);
	db_errant_scan_event(s, "Update_rows_v1", "table_id: 33 flags: STMT_END_F");
	db_errant_scan_event(s, "Xid", "COMMIT /* xid=40 */");
}

static void test_heartbeat_rows_are_own(void **state)
{
	(void)state;
	struct db_errant_scan s = {.e = errant, .n = 1};
	row_tx(&s, "BEGIN GTID 0-1-10", "table_id: 34 (app.t)"); /* before the fork */
	row_tx(&s, "BEGIN GTID 0-1-11", "table_id: 33 (lifeboat.heartbeat)");
	db_errant_scan_event(&s, "Rotate", "binlog.000002;pos=4");
	db_errant_scan_event(&s, "Format_desc", "Server ver: 10.11.19-MariaDB-log, Binlog ver: 4");
	db_errant_scan_event(&s, "Gtid_list", "[0-1-11]");
	row_tx(&s, "BEGIN GTID 0-1-12", "table_id: 33 (lifeboat.heartbeat)");
	assert_null(s.foreign);
	assert_int_equal(s.seen, 2);
}

static void test_application_row_is_not(void **state)
{
	(void)state;
	struct db_errant_scan s = {.e = errant, .n = 1};
	row_tx(&s, "BEGIN GTID 0-1-11", "table_id: 33 (lifeboat.heartbeat)");
	row_tx(&s, "BEGIN GTID 0-1-12", "table_id: 34 (app.t)");
	assert_non_null(s.foreign);
	assert_non_null(strstr(s.foreign, "app.t"));
	free(s.foreign);
	/* A table whose name looks like lifeboat's. */
	struct db_errant_scan t = {.e = errant, .n = 1};
	row_tx(&t, "BEGIN GTID 0-1-12", "table_id: 35 (app.x (lifeboat.heartbeat))");
	assert_non_null(t.foreign);
	free(t.foreign);
}

static void test_statements(void **state)
{
	(void)state;
	struct db_errant_scan s = {.e = errant, .n = 1};
	db_errant_scan_event(&s, "Gtid", "BEGIN GTID 0-1-11");
	db_errant_scan_event(&s, "Query", "use `lifeboat`; " HEARTBEAT_SQL);
	db_errant_scan_event(&s, "Query", "COMMIT");
	db_errant_scan_event(&s, "Gtid", "GTID 0-1-12");
	db_errant_scan_event(&s, "Query", "CREATE DATABASE IF NOT EXISTS lifeboat");
	assert_null(s.foreign);
	assert_int_equal(s.seen, 2);
	/* Anything else in statement form, even on lifeboat's tables. */
	struct db_errant_scan t = {.e = errant, .n = 1};
	db_errant_scan_event(&t, "Gtid", "BEGIN GTID 0-1-11");
	db_errant_scan_event(&t, "Query", "use `lifeboat`; DELETE FROM lifeboat.epoch");
	assert_non_null(t.foreign);
	free(t.foreign);
}

static void test_unknown_event_is_not_own(void **state)
{
	(void)state;
	struct db_errant_scan s = {.e = errant, .n = 1};
	db_errant_scan_event(&s, "Gtid", "BEGIN GTID 0-1-12");
	db_errant_scan_event(&s, "User var", "@`x`=1");
	assert_non_null(s.foreign);
	free(s.foreign);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heartbeat_rows_are_own),
		cmocka_unit_test(test_application_row_is_not),
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_unknown_event_is_not_own),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
