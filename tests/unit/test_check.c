/* check: the pure parts of `lifeboat check`: scheduler lists, df output,
 * clock offset bounds, GRANT lines, and the report's text and JSON. */
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

#include "check.h"
#include "check_sys.h"
#include "commands.h"

/* Unit tests link every object but main.o, which defines this. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static void test_scheduler_active_one(void **state)
{
	(void)state;
	char s[32];
	assert_true(check_parse_scheduler("[mq-deadline] none\n", s, sizeof(s)));
	assert_string_equal(s, "mq-deadline");
	assert_true(check_parse_scheduler("none [mq-deadline] kyber bfq", s, sizeof(s)));
	assert_string_equal(s, "mq-deadline");
	assert_true(check_parse_scheduler("noop deadline [cfq]", s, sizeof(s)));
	assert_string_equal(s, "cfq");
	/* A queue with one scheduler prints it bare. */
	assert_true(check_parse_scheduler("none\n", s, sizeof(s)));
	assert_string_equal(s, "none");
	assert_false(check_parse_scheduler("none mq-deadline", s, sizeof(s)));
	assert_false(check_parse_scheduler("[broken", s, sizeof(s)));
	assert_false(check_parse_scheduler("", s, sizeof(s)));
	assert_false(check_parse_scheduler("[mq-deadline]", s, 4)); /* does not fit */
}

static void test_scheduler_verdict(void **state)
{
	(void)state;
	assert_true(check_scheduler_ok("none"));
	assert_true(check_scheduler_ok("noop"));
	assert_true(check_scheduler_ok("mq-deadline"));
	assert_true(check_scheduler_ok("deadline"));
	assert_false(check_scheduler_ok("cfq"));
	assert_false(check_scheduler_ok("bfq"));
	assert_false(check_scheduler_ok("kyber"));
}

static void test_df_first_existing_line(void **state)
{
	(void)state;
	unsigned long long total = 0, avail = 0;
	int lines = 0;
	const char *out = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n"
			  "/dev/vda         264212084 18821528  81515660      19% /\n"
			  "/dev/vda         264212084 18821528  81515660      19% /\n";
	assert_true(check_parse_df(out, &total, &avail, &lines));
	assert_int_equal(total, 264212084ULL);
	assert_int_equal(avail, 81515660ULL);
	assert_int_equal(lines, 2);
	/* A file system name with blanks, a mount point with blanks. */
	const char *odd = "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
			  "my nas:/export 1000 600 400 60% /mnt/my share\n";
	assert_true(check_parse_df(odd, &total, &avail, &lines));
	assert_int_equal(total, 1000ULL);
	assert_int_equal(avail, 400ULL);
	assert_int_equal(lines, 1);
	assert_false(check_parse_df("df: /x: No such file or directory\n", &total, &avail, &lines));
	assert_int_equal(lines, 0);
	assert_false(check_parse_df(NULL, &total, &avail, NULL));
}

static void test_clock_bounds(void **state)
{
	(void)state;
	double est;
	/* Same clock, 0.4 s ssh login: the offset lies in [-0.4, 0]. */
	assert_int_equal(check_clock_verdict(100.0, 100.3, 100.4, 1.0, &est), CHECK_PASS);
	assert_true(est > -0.3 && est < 0.1);
	/* 5 s ahead, whatever the round trip. */
	assert_int_equal(check_clock_verdict(100.0, 105.2, 100.4, 1.0, &est), CHECK_FAIL);
	assert_true(est > 4.5 && est < 5.5);
	/* 3 s behind. */
	assert_int_equal(check_clock_verdict(100.0, 97.1, 100.1, 1.0, NULL), CHECK_FAIL);
	/* A 3 s round trip cannot tell 0.5 s from 2 s. */
	assert_int_equal(check_clock_verdict(100.0, 101.5, 103.0, 1.0, NULL), CHECK_WARN);
	/* Exactly at the limit still passes. */
	assert_int_equal(check_clock_verdict(100.0, 101.0, 100.0, 1.0, NULL), CHECK_PASS);
}

static void test_option_bool(void **state)
{
	(void)state;
	assert_int_equal(check_option_bool("--server_id=3\n--read_only=ON\n", "read_only"), 1);
	assert_int_equal(check_option_bool("--read-only\n", "read_only"), 1);
	assert_int_equal(check_option_bool("--read_only=0\n", "read_only"), 0);
	/* The last one wins: a drop-in after my.cnf, the command line last. */
	assert_int_equal(check_option_bool("--read_only=ON\n--skip-read-only\n", "read_only"), 0);
	assert_int_equal(check_option_bool("--read_only=OFF\n--loose-read-only=1", "read_only"), 1);
	assert_int_equal(check_option_bool("--read_only_compressed=ON\n", "read_only"), -1);
	assert_int_equal(check_option_bool("--read_only=maybe\n", "read_only"), -1);
	assert_int_equal(check_option_bool("", "read_only"), -1);
	assert_int_equal(check_option_bool(NULL, "read_only"), -1);
}

/* The machine-facing helpers on paths every Linux has. */
static void test_sys_paths(void **state)
{
	(void)state;
	struct check_disk d;
	char *why = NULL;
	/* /proc is no block device: a reason, not a crash or a guess. */
	assert_int_equal(check_path_disk("/proc", &d, &why), -1);
	assert_non_null(strstr(why, "not a block device"));
	free(why);
	why = NULL;
	assert_int_equal(check_path_disk("/nonexistent/lifeboat", &d, &why), -1);
	assert_non_null(strstr(why, "cannot stat"));
	free(why);
	why = NULL;
	/* A missing target is measured at its deepest existing ancestor. */
	struct check_space sp;
	assert_int_equal(check_local_space("/tmp/lifeboat-no-such-dir/a/b", &sp, &why), 0);
	assert_false(sp.exists);
	assert_true(sp.total_kib > 0);
	assert_int_equal(check_local_space("/tmp", &sp, &why), 0);
	assert_true(sp.exists);

	char tmpl[] = "/tmp/lbcheck.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	char *sub = xasprintf("%s/d1/d2", tmpl), *d1 = xasprintf("%s/d1", tmpl);
	char *f = xasprintf("%s/f", sub);
	assert_int_equal(mkdir(d1, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	FILE *fp = fopen(f, "w");
	assert_non_null(fp);
	fputs("12345", fp);
	fclose(fp);
	struct check_tree t;
	assert_int_equal(check_walk_tree(tmpl, &t, &why), 0);
	assert_int_equal(t.dirs, 3);
	assert_int_equal(t.files, 1);
	assert_int_equal(t.bytes, 5);
	assert_int_equal(t.largest, 5);
	assert_true(t.complete);
	unlink(f);
	rmdir(sub);
	rmdir(d1);
	rmdir(tmpl);
	free(f);
	free(sub);
	free(d1);
	char h[32];
	check_human_bytes(1536, h, sizeof(h));
	assert_string_equal(h, "1.5 KiB");
	check_human_bytes(3, h, sizeof(h));
	assert_string_equal(h, "3 B");
}

static void test_report_render(void **state)
{
	(void)state;
	struct check_report r;
	check_report_init(&r);
	check_add(&r, "db.server_id", CHECK_PASS, "ignored on PASS", "unique: %d and %d", 1, 2);
	check_add(&r, "sync.www.ssh", CHECK_FAIL, "ssh-copy-id \"x\"", "refused: %s", "tab\there");
	check_add(&r, "sync", CHECK_SKIP, NULL, "no [sync]");
	assert_true(check_failed(&r));
	assert_int_equal(check_count(&r, CHECK_PASS), 1);
	assert_null(r.items[0].fix);
	char *text = check_render_text(&r, false);
	assert_non_null(strstr(text, "PASS  db.server_id  unique: 1 and 2\n"));
	assert_non_null(strstr(text, "FAIL  sync.www.ssh  refused: tab\there\n"));
	assert_non_null(strstr(text, "fix: ssh-copy-id \"x\"\n"));
	assert_non_null(strstr(text, "1 passed, 0 warnings, 1 failed, 1 skipped\n"));
	assert_null(strchr(text, '\033'));
	free(text);
	char *json = check_render_json(&r);
	assert_non_null(strstr(json, "\"fix\":null"));
	assert_non_null(strstr(json, "\"fix\":\"ssh-copy-id \\\"x\\\"\""));
	assert_non_null(strstr(json, "tab\\there"));
	assert_true(json[0] == '[');
	free(json);
	check_report_free(&r);
	assert_false(check_failed(&r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheduler_active_one),
		cmocka_unit_test(test_scheduler_verdict),
		cmocka_unit_test(test_df_first_existing_line),
		cmocka_unit_test(test_clock_bounds),
		cmocka_unit_test(test_option_bool),
		cmocka_unit_test(test_sys_paths),
		cmocka_unit_test(test_report_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
