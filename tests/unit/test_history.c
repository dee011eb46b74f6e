/* history: durations, sizes and times; which version was on the target at
 * a time; serve's request words and rsync argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "beneath.h"
#include "config.h"
#include "history.h"
#include "serve.h"

static void test_durations(void **state)
{
	(void)state;
	double v;
	assert_true(history_parse_duration("7d", &v));
	assert_true(v == 7 * 86400.0);
	assert_true(history_parse_duration("12h", &v) && v == 43200.0);
	assert_true(history_parse_duration("90", &v) && v == 90.0);
	assert_true(history_parse_duration("0", &v) && v == 0.0);
	assert_false(history_parse_duration("7days", &v));
	assert_false(history_parse_duration("-1d", &v));
	assert_false(history_parse_duration("", &v));
	uint64_t b;
	assert_true(history_parse_size("20G", 0, &b) && b == 20ULL << 30);
	assert_true(history_parse_size("10%", 1000, &b) && b == 100);
	assert_false(history_parse_size("110%", 1000, &b));
	assert_false(history_parse_size("5X", 0, &b));
	time_t t;
	assert_true(history_parse_time("-15m", 10000, &t) && t == 10000 - 900);
	assert_true(history_parse_time("2026-12-06T18:00:00Z", 0, &t) && t == 1796580000);
	assert_true(history_parse_time("2026-12-06T19:00:00+01:00", 0, &t) && t == 1796580000);
	assert_false(history_parse_time("yesterday", 0, &t));
}

static struct version ver(const char *rel, time_t born, time_t replaced)
{
	return (struct version){.rel = (char *)rel, .path = (char *)rel, .born = born,
				.replaced = replaced};
}

static void test_pick(void **state)
{
	(void)state;
	/* sorted by rel, then replacement (live last) */
	struct version v[] = {
		ver("a", 100, 200), ver("a", 200, 300), ver("a", 300, 0), /* rewritten twice */
		ver("b", 100, 150),                                       /* deleted at 150 */
		ver("c", 250, 0),                                         /* made at 250 */
	};
	struct version_list l = {.v = v, .len = 5, .cap = 5};
	const struct version **out;
	size_t n = history_pick(&l, 120, &out);
	assert_int_equal(n, 2);
	assert_ptr_equal(out[0], &v[0]);
	assert_ptr_equal(out[1], &v[3]);
	free(out);
	n = history_pick(&l, 260, &out);
	assert_int_equal(n, 2); /* b was gone, c there */
	assert_ptr_equal(out[0], &v[1]);
	assert_ptr_equal(out[1], &v[4]);
	free(out);
	n = history_pick(&l, 99, &out);
	assert_int_equal(n, 0);
	free(out);
}

static void test_rel_paths(void **state)
{
	(void)state;
	assert_true(beneath_rel_ok(""));
	assert_true(beneath_rel_ok("a/b c/-d"));
	assert_false(beneath_rel_ok("/etc"));
	assert_false(beneath_rel_ok("a/../../etc"));
	assert_false(beneath_rel_ok("a//b"));
	assert_false(beneath_rel_ok("./a"));
	assert_true(history_name(".lifeboat-history"));
	assert_true(history_name(".lifeboat-history/x"));
	assert_false(history_name(".lifeboat-historyx"));
}

static void test_split(void **state)
{
	(void)state;
	struct strv w;
	char *err = NULL;
	strv_init(&w);
	assert_int_equal(serve_split("rsync --server -logDtpre.iLsfxCIvu . /srv/my\\ site/", &w,
				     &err), 0);
	assert_int_equal(w.len, 5);
	assert_string_equal(w.items[4], "/srv/my site/");
	strv_free(&w);
	strv_init(&w);
	assert_int_equal(serve_split("touch /tmp/x; echo", &w, &err), -1);
	free(err);
	strv_free(&w);
	strv_init(&w);
	assert_int_equal(serve_split("cat $(id)", &w, &err), -1);
	free(err);
	strv_free(&w);
}

static int check(const char *cmd, bool *sender, const char **dest, char **err)
{
	struct strv w;
	strv_init(&w);
	char *e = NULL;
	serve_split(cmd, &w, &e);
	free(e);
	bool backup;
	int rc = serve_check_rsync(&w, 1, sender, dest, &backup, err);
	static char keep[256];
	if (rc == 0) {
		snprintf(keep, sizeof(keep), "%s", *dest);
		*dest = keep;
	}
	strv_free(&w);
	return rc;
}

static void test_rsync_args(void **state)
{
	(void)state;
	bool sender;
	const char *dest;
	char *err = NULL;
	assert_int_equal(check("rsync --server -lHogDtprIRe.iLsfxCIvu --delete --force --stats "
			       "--delete-missing-args -@-1 --mkpath . /srv/www/",
			       &sender, &dest, &err), 0);
	assert_false(sender);
	assert_string_equal(dest, "/srv/www/");
	assert_int_equal(check("rsync --server --sender -lHogDtpre.iLsfxCIvu . /srv/www/a", &sender,
			       &dest, &err), 0);
	assert_true(sender);
	static const char *const bad[] = {
		"rsync --server -lHogDtpre.iLsfxCIvu --inplace . /srv/www/",
		"rsync --server -lHogDtpre.iLsfxCIvu --backup-dir=/tmp . /srv/www/",
		"rsync --server -KlHogDtpre.iLsfxCIvu . /srv/www/",
		"rsync --server --sender -Llogtpre.iLsfxCIvu . /srv/www/",
		"rsync --server -logtpre.iLsfxCIvu --log-file=/etc/x . /srv/www/",
		"rsync --server -logtpre.iLsfxCIvu --link-dest=/etc . /srv/www/",
		"rsync --server -logtpre.iLsfxCIvu . /srv/www/ /etc/",
		"rsync --daemon",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(check(bad[i], &sender, &dest, &err), -1);
		free(err);
		err = NULL;
	}
}

static void test_config_keys(void **state)
{
	(void)state;
	static const char good[] = "[sync www]\nsource = /srv/www\ntarget = /backup/www\n"
				   "keep = 14d\nkeep_size = 10%\n";
	struct config cfg;
	char *err = NULL;
	assert_int_equal(config_load_text("t.conf", good, sizeof(good) - 1, &cfg, &err), 0);
	assert_string_equal(cfg.syncs[0].keep, "14d");
	assert_true(history_keep_seconds(cfg.syncs[0].keep) == 14 * 86400.0);
	config_free(&cfg);
	static const char bad[] = "[sync www]\nsource = /srv/www\ntarget = /backup/www\n"
				  "keep = a week\n";
	assert_int_equal(config_load_text("t.conf", bad, sizeof(bad) - 1, &cfg, &err), -1);
	assert_non_null(strstr(err, "t.conf:4"));
	assert_non_null(strstr(err, "keep"));
	free(err);
	assert_true(history_keep_seconds(NULL) == HISTORY_DEFAULT_KEEP);
}

/* restore's plan: renames the target logged after `at` are undone (a file
 * and a directory come back under their old names, found under their new
 * ones), and the new names are what a restore removes from the source. */
static void test_plan_renames(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-plan-XXXXXX";
	assert_non_null(mkdtemp(root));
	char *p = NULL;
	assert_true(asprintf(&p, "mkdir -p %s/c %s/.lifeboat-history && echo b >%s/b && "
				 "echo x >%s/c/x", root, root, root, root) > 0);
	assert_int_equal(system(p), 0);
	free(p);
	time_t at = time(NULL) + 2;
	char rec[256];
	int n = snprintf(rec, sizeof(rec), "%lld.000000000", (long long)at + 5);
	size_t len = (size_t)n + 1;
	memcpy(rec + len, "a\0b\0", 4);
	len += 4;
	n = snprintf(rec + len, sizeof(rec) - len, "%lld.000000000", (long long)at + 6);
	len += (size_t)n + 1;
	memcpy(rec + len, "d\0c\0", 4);
	len += 4;
	assert_true(asprintf(&p, "%s/.lifeboat-history/.renames", root) > 0);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(rec, 1, len, f), len);
	fclose(f);
	free(p);

	struct restore_plan plan;
	char *err = NULL;
	assert_int_equal(history_plan(root, "", at, &plan, &err), 0);
	assert_int_equal(plan.n_pick, 2);
	assert_string_equal(plan.pick[0]->as, "a");
	assert_string_equal(plan.pick[0]->rel, "b");
	assert_string_equal(plan.pick[1]->as, "d/x");
	assert_string_equal(plan.pick[1]->rel, "c/x");
	assert_int_equal(plan.n_gone, 2); /* b and c/x: new names */
	assert_int_equal(plan.gone_dirs.len, 1);
	assert_string_equal(plan.gone_dirs.v[0].rel, "c");
	restore_plan_free(&plan);

	/* The old name of the directory alone: found under its new one. */
	assert_int_equal(history_plan(root, "d", at, &plan, &err), 0);
	assert_int_equal(plan.n_pick, 1);
	assert_string_equal(plan.pick[0]->as, "d/x");
	assert_int_equal(plan.n_gone, 0);
	restore_plan_free(&plan);

	/* Before anything arrived: nothing to pick, nothing named gone. */
	assert_int_equal(history_plan(root, "", at - 3600, &plan, &err), 0);
	assert_int_equal(plan.n_pick, 0);
	assert_int_equal(plan.n_gone, 0);
	restore_plan_free(&plan);
	assert_true(asprintf(&p, "rm -rf %s", root) > 0);
	assert_int_equal(system(p), 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations), cmocka_unit_test(test_pick),
		cmocka_unit_test(test_plan_renames),
		cmocka_unit_test(test_rel_paths), cmocka_unit_test(test_split),
		cmocka_unit_test(test_rsync_args), cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
