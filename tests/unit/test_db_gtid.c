/* Unit tests for GTID positions and errant detection (gtid.c), the STATE_DIR
 * epoch file (epoch.c) and [database] server resolution (db.c). Pure logic
 * plus temporary files; no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "epoch.h"
#include "gtid.h"
#include "util.h"

static void test_parse_and_format(void **state)
{
	(void)state;
	struct gtid_pos p;
	assert_int_equal(gtid_pos_parse("1-2-7, 0-1-105", &p), 0);
	assert_int_equal(p.len, 2);
	assert_int_equal(gtid_pos_find(&p, 0)->seq, 105);
	assert_int_equal(gtid_pos_find(&p, 1)->server, 2);
	char *s = gtid_pos_format(&p);
	assert_string_equal(s, "0-1-105,1-2-7");
	free(s);
	gtid_pos_free(&p);
	assert_int_equal(gtid_pos_parse("", &p), 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(gtid_pos_parse("18446744073709551615-1-1", &p), -1);
	assert_int_equal(gtid_pos_parse("0-1-18446744073709551615", &p), 0);
	gtid_pos_free(&p);
}

static void test_parse_rejects_junk(void **state)
{
	(void)state;
	static const char *const bad[] = {"0-1", "0-1-", "a-1-2", "0-1-2,", "0-1-2,0-3-4",
					  "0-1-2 x", "-1-2-3", "0--1-2"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct gtid_pos p;
		assert_int_equal(gtid_pos_parse(bad[i], &p), -1);
		assert_int_equal(p.len, 0);
	}
}

static size_t errant(const char *old, const char *fork, struct gtid_errant **e)
{
	struct gtid_pos o, f;
	assert_int_equal(gtid_pos_parse(old, &o), 0);
	assert_int_equal(gtid_pos_parse(fork, &f), 0);
	size_t n = gtid_find_errant(&o, &f, e);
	gtid_pos_free(&o);
	gtid_pos_free(&f);
	return n;
}

static void test_errant(void **state)
{
	(void)state;
	struct gtid_errant *e;
	/* Old primary at the fork point or behind: it can follow. */
	assert_int_equal(errant("0-1-104", "0-1-104", &e), 0);
	free(e);
	assert_int_equal(errant("0-1-100", "0-1-104", &e), 0);
	free(e);
	assert_int_equal(errant("", "0-1-104", &e), 0);
	free(e);
	/* Two commits after the fork. */
	assert_int_equal(errant("0-1-106", "0-1-104", &e), 1);
	assert_int_equal(e[0].first, 105);
	assert_int_equal(e[0].last, 106);
	assert_false(e[0].diverged);
	free(e);
	/* A domain the new primary never saw is errant as a whole. */
	assert_int_equal(errant("0-1-104,5-1-3", "0-1-104", &e), 1);
	assert_int_equal(e[0].domain, 5);
	assert_int_equal(e[0].first, 1);
	assert_int_equal(e[0].last, 3);
	free(e);
	/* Same seq, other server: diverged history (pitfall 7). */
	assert_int_equal(errant("0-1-105", "0-2-105", &e), 1);
	assert_true(e[0].diverged);
	free(e);
}

static void test_epoch_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/lifeboat-epoch-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *sub = xasprintf("%s/state", dir);
	uint64_t v = 99;
	char *err = NULL;
	assert_int_equal(epoch_read(sub, &v, &err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(epoch_write(sub, 41, &err), 0);
	assert_int_equal(epoch_read(sub, &v, &err), 0);
	assert_int_equal(v, 41);
	assert_int_equal(epoch_write(sub, 18446744073709551615ULL, &err), 0);
	assert_int_equal(epoch_read(sub, &v, &err), 0);
	assert_true(v == 18446744073709551615ULL);
	char *path = xasprintf("%s/epoch", sub);
	assert_int_equal(write_file_atomic(path, "12x\n", 4), 0);
	assert_int_equal(epoch_read(sub, &v, &err), -1);
	assert_non_null(strstr(err, "does not hold an epoch"));
	free(err);
	assert_true(epoch_parse("7\n", &v) && v == 7);
	assert_false(epoch_parse("", &v));
	assert_false(epoch_parse("-1", &v));
	assert_false(epoch_parse("18446744073709551616", &v));
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	free(path);
	free(sub);
}

static void test_server_resolve(void **state)
{
	(void)state;
	static const char conf[] = "[lifeboat]\nnode = dr\n[node oslo]\naddress = 10.0.0.4\n"
				   "[node dr]\naddress = 10.0.0.5:3307\n[database]\nprimary = oslo\n"
				   "standby = dr\nport = 3310\n";
	struct config cfg;
	char *err = NULL;
	assert_int_equal(config_load_text("t.conf", conf, strlen(conf), &cfg, &err), 0);
	struct db_server s;
	assert_int_equal(db_server_resolve(&cfg, "primary", "oslo", &s, &err), 0);
	assert_string_equal(s.host, "10.0.0.4");
	assert_int_equal(s.port, 3310);
	assert_string_equal(s.node, "oslo");
	db_server_free(&s);
	assert_int_equal(db_server_resolve(&cfg, "standby", "dr", &s, &err), 0);
	assert_int_equal(s.port, 3307);
	db_server_free(&s);
	assert_int_equal(db_server_resolve(&cfg, "standby", "db.example:3999", &s, &err), 0);
	assert_string_equal(s.host, "db.example");
	assert_int_equal(s.port, 3999);
	db_server_free(&s);
	assert_int_equal(db_server_resolve(&cfg, "standby", "[::1]:3311", &s, &err), 0);
	assert_string_equal(s.host, "::1");
	assert_int_equal(s.port, 3311);
	db_server_free(&s);
	assert_int_equal(db_server_resolve(&cfg, "standby", "h:99999", &s, &err), LB_USAGE);
	assert_non_null(strstr(err, "bad port"));
	free(err);
	db_server_free(&s);
	config_free(&cfg);
}

static void test_password_file_mode(void **state)
{
	(void)state;
	char path[] = "/tmp/lifeboat-pass-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\nignored\n", 15), 15);
	close(fd);
	char *pw = NULL, *err = NULL;
	chmod(path, 0600);
	assert_int_equal(db_read_password(path, "password_file", &pw, &err), 0);
	assert_string_equal(pw, "s3cret");
	free(pw);
	chmod(path, 0640);
	assert_int_equal(db_read_password(path, "password_file", &pw, &err), LB_USAGE);
	assert_non_null(strstr(err, "chmod 600"));
	free(err);
	unlink(path);
}

static void test_transactions_behind(void **state)
{
	(void)state;
	assert_true(gtid_transactions_behind("0-1-100,1-2-50", "0-1-90,1-2-50") == 10);
	assert_true(gtid_transactions_behind("0-1-100,1-2-50", "0-1-100") == 50); /* domain 1 missing */
	assert_true(gtid_transactions_behind("0-1-90", "0-1-100") == 0);      /* behind is ahead */
	assert_true(gtid_transactions_behind("", "") == 0);
	assert_true(gtid_transactions_behind("junk", "0-1-1") == -1);
	assert_true(gtid_transactions_behind(NULL, "0-1-1") == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format), cmocka_unit_test(test_parse_rejects_junk),
		cmocka_unit_test(test_transactions_behind),
		cmocka_unit_test(test_errant),		 cmocka_unit_test(test_epoch_file),
		cmocka_unit_test(test_server_resolve),	 cmocka_unit_test(test_password_file_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
