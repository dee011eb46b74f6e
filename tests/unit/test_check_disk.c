/* check_disk: the restore and clone time model against the article's two
 * rows, the WARN/FAIL thresholds, the probe's JSON both ways, and the
 * figures in `check --json`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_disk.h"
#include "commands.h"

/* Unit tests link every object but main.o, which defines this. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static void assert_near(double got, double want, double tolerance)
{
	if (fabs(got - want) > tolerance)
		fail_msg("%f is not within %f of %f", got, tolerance, want);
}

static void test_restore_model_hits_the_article(void **state)
{
	(void)state;
	/* The model is the line through the article's two rows. */
	assert_near(disk_restore_seconds(10e9, 120, 0), 45 * 60, 0.5);
	assert_near(disk_restore_seconds(10e9, 15000, 0), 4 * 60, 0.5);
	/* Linear in size. */
	assert_near(disk_restore_seconds(20e9, 120, 0), 90 * 60, 1);
	/* Faster disks restore faster, but never below the fixed cost. */
	double mid = disk_restore_seconds(10e9, 1000, 0);
	assert_true(mid < 45 * 60 && mid > 4 * 60);
	assert_true(disk_restore_seconds(10e9, 1e7, 0) > 200);
	/* Never faster than writing the bytes once. */
	assert_near(disk_restore_seconds(10e9, 1e6, 10e6), 1000, 0.5);
	/* A zero IOPS figure does not divide by zero. */
	assert_true(isfinite(disk_restore_seconds(1e9, 0, 0)));
}

static void test_clone_and_reference_rows(void **state)
{
	(void)state;
	assert_near(disk_clone_seconds(10e9, 100e6), 100, 0.01);
	assert_near(disk_clone_seconds(10e9, 0), 0, 0);
	assert_near(disk_article_restore_seconds(10e9, false), 2700, 0.01);
	assert_near(disk_article_restore_seconds(10e9, true), 240, 0.01);
	assert_near(disk_article_restore_seconds(2.5e9, true), 60, 0.01);
}

static void test_thresholds(void **state)
{
	(void)state;
	assert_int_equal(disk_classify(120), CHECK_FAIL); /* the article's HDD */
	assert_int_equal(disk_classify(999), CHECK_FAIL);
	assert_int_equal(disk_classify(1000), CHECK_WARN);
	assert_int_equal(disk_classify(14999), CHECK_WARN);
	assert_int_equal(disk_classify(15000), CHECK_PASS); /* the article's SSD RAID-10 */
	assert_int_equal(disk_classify(200000), CHECK_PASS);
}

static void test_durations(void **state)
{
	(void)state;
	char s[32];
	disk_human_duration(0.42, s, sizeof(s));
	assert_string_equal(s, "0.4 s");
	disk_human_duration(35, s, sizeof(s));
	assert_string_equal(s, "35 s");
	disk_human_duration(240, s, sizeof(s));
	assert_string_equal(s, "4 min");
	disk_human_duration(2700, s, sizeof(s));
	assert_string_equal(s, "45 min");
	disk_human_duration(3 * 3600, s, sizeof(s));
	assert_string_equal(s, "3.0 h");
}

static void test_probe_json_round_trip(void **state)
{
	(void)state;
	struct disk_probe p = {.path = "/var/lib/my \"sql\"",
			       .fs_type = "xfs",
			       .direct = true,
			       .read_iops = 14321,
			       .write_mb_s = 412.5,
			       .file_bytes = 64 << 20,
			       .seconds = 2.04};
	char *json = disk_probe_json(&p);
	struct disk_probe q;
	char *why = NULL;
	assert_int_equal(disk_probe_parse(json, &q, &why), 0);
	assert_string_equal(q.path, p.path);
	assert_string_equal(q.fs_type, "xfs");
	assert_true(q.direct);
	assert_near(q.read_iops, 14321, 0.5);
	assert_near(q.write_mb_s, 412.5, 0.05);
	assert_true(q.file_bytes == 64 << 20);
	assert_near(q.seconds, 2.04, 0.005);
	disk_probe_free(&q);
	free(json);
	/* What a remote shell prints instead is refused with a reason. */
	assert_int_equal(disk_probe_parse("lifeboat: command not found", &q, &why), -1);
	assert_non_null(why);
	free(why);
	why = NULL;
	assert_int_equal(disk_probe_parse(NULL, &q, &why), -1);
	free(why);
}

static void test_check_json_carries_data(void **state)
{
	(void)state;
	struct check_report r;
	check_report_init(&r);
	check_add(&r, "a", CHECK_PASS, NULL, "no figures");
	check_add(&r, "sync.www.disk_fitness", CHECK_WARN, "fix it", "slow");
	check_set_data(&r, strdup("{\"read_iops\":5000}"));
	char *out = check_render_json(&r);
	assert_non_null(strstr(out, "\"fix\":null}"));
	assert_non_null(strstr(out, "\"fix\":\"fix it\",\"data\":{\"read_iops\":5000}}"));
	free(out);
	check_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_model_hits_the_article),
		cmocka_unit_test(test_clone_and_reference_rows),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_probe_json_round_trip),
		cmocka_unit_test(test_check_json_carries_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
