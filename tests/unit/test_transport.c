/* Unit tests for the rsync command lines the transport builds, how rsync
 * exit codes are classified, and how --stats output is read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "transport.h"

static bool argv_has(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

static const char *argv_after(const struct strv *v, const char *s)
{
	for (size_t i = 0; i + 1 < v->len; i++)
		if (strcmp(v->items[i], s) == 0)
			return v->items[i + 1];
	return NULL;
}

static struct sync_conf base_conf(void)
{
	struct sync_conf sc;
	memset(&sc, 0, sizeof(sc));
	sc.name = "www";
	sc.source = "/srv/src";
	sc.target_path = "/srv/dst";
	strv_init(&sc.excludes);
	return sc;
}

static void test_paths_mode_local(void **state)
{
	(void)state;
	struct sync_conf sc = base_conf();
	struct strv filters, argv;
	strv_init(&filters);
	strv_push(&filters, "- *.tmp");
	strv_init(&argv);
	transport_build_argv(&sc, &filters, NULL, RSYNC_PATHS, true, &argv);
	assert_string_equal(argv.items[0], "rsync");
	assert_true(argv_has(&argv, "-aH"));
	assert_true(argv_has(&argv, "--files-from=-"));
	assert_true(argv_has(&argv, "--from0"));
	assert_true(argv_has(&argv, "--ignore-times"));
	assert_true(argv_has(&argv, "--delete-missing-args"));
	assert_false(argv_has(&argv, "--fsync")); /* power_safe = no */
	assert_false(argv_has(&argv, "-r"));
	assert_false(argv_has(&argv, "-e"));
	assert_true(argv_has(&argv, "--filter=- *.tmp"));
	/* Paths come last, after "--", each with a trailing slash. */
	assert_string_equal(argv.items[argv.len - 3], "--");
	assert_string_equal(argv.items[argv.len - 2], "/srv/src/");
	assert_string_equal(argv.items[argv.len - 1], "/srv/dst/");
	strv_free(&argv);
	/* power_safe: rsync renames a path batch's files into place itself,
	 * each fsynced first; a checked run's merge logs them instead. */
	sc.power_safe = true;
	strv_init(&argv);
	transport_build_argv(&sc, &filters, NULL, RSYNC_PATHS, true, &argv);
	assert_true(argv_has(&argv, "--fsync"));
	strv_free(&argv);
	strv_init(&argv);
	transport_build_argv(&sc, &filters, NULL, RSYNC_CHECKED, true, &argv);
	assert_false(argv_has(&argv, "--fsync"));
	strv_free(&argv);
	strv_free(&filters);
	strv_free(&sc.excludes);
}

static void test_delete_modes(void **state)
{
	(void)state;
	struct sync_conf sc = base_conf();
	struct strv argv;
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_PATHS, false, &argv);
	assert_true(argv_has(&argv, "--ignore-missing-args"));
	assert_false(argv_has(&argv, "--delete-missing-args"));
	strv_free(&argv);
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_TREES, true, &argv);
	assert_true(argv_has(&argv, "-r"));
	/* A checked run writes into a staging directory: RSYNC_PRUNE deletes. */
	assert_false(argv_has(&argv, "--delete"));
	assert_false(argv_has(&argv, "--delete-missing-args"));
	assert_true(argv_has(&argv, "--out-format=%i %l %n"));
	assert_false(argv_has(&argv, "--ignore-times")); /* trees use the quick check */
	/* rsync 3.5.0 hung with -H, --compare-dest and incremental recursion. */
	assert_true(argv_has(&argv, "-aH"));
	assert_true(argv_has(&argv, "--no-inc-recursive"));
	strv_free(&argv);
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_PRUNE, true, &argv);
	assert_true(argv_has(&argv, "--delete"));
	assert_true(argv_has(&argv, "--existing"));
	strv_free(&argv);
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_CHECKED, true, &argv);
	assert_true(argv_has(&argv, "--no-inc-recursive"));
	assert_true(argv_has(&argv, "--ignore-times"));
	assert_true(argv_has(&argv, "--ignore-missing-args"));
	assert_false(argv_has(&argv, "-r"));
	strv_free(&argv);
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_DIFF, false, &argv);
	assert_false(argv_has(&argv, "--delete"));
	strv_free(&argv);
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_VERIFY, true, &argv);
	assert_true(argv_has(&argv, "--dry-run"));
	assert_true(argv_has(&argv, "--itemize-changes"));
	assert_true(argv_has(&argv, "--delete"));
	strv_free(&argv);
	strv_free(&sc.excludes);
}

static void test_remote_ssh_command(void **state)
{
	(void)state;
	struct sync_conf sc = base_conf();
	sc.target_host = "dr@10.0.0.5";
	sc.target_path = "/var/www/my site";
	sc.ssh_port = 2222;
	sc.ssh_identity = "/etc/lifeboat/id key";
	sc.ssh_options = "-o StrictHostKeyChecking=yes";
	sc.compress = true;
	sc.bwlimit = 5000;
	sc.rsync_args = "--acls --xattrs";
	struct strv argv;
	strv_init(&argv);
	transport_build_argv(&sc, NULL, "/tmp/lb.x/www.ssh", RSYNC_DIFF, true, &argv);
	const char *e = argv_after(&argv, "-e");
	assert_non_null(e);
	assert_non_null(strstr(e, "ssh -p 2222 -i '/etc/lifeboat/id key'"));
	assert_non_null(strstr(e, "-o ControlPath=/tmp/lb.x/www.ssh"));
	assert_non_null(strstr(e, "-o ControlMaster=no"));
	assert_non_null(strstr(e, "-o StrictHostKeyChecking=yes"));
	assert_true(argv_has(&argv, "-z"));
	assert_true(argv_has(&argv, "--bwlimit=5000"));
	assert_true(argv_has(&argv, "--acls"));
	assert_true(argv_has(&argv, "--xattrs"));
	assert_true(argv_has(&argv, "--mkpath"));
	assert_string_equal(argv.items[argv.len - 1], "dr@10.0.0.5:/var/www/my site/");
	strv_free(&argv);
	strv_free(&sc.excludes);
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(transport_classify(0, true), T_OK);
	assert_int_equal(transport_classify(24, false), T_OK); /* vanished files */
	assert_int_equal(transport_classify(255, true), T_UNREACHABLE);
	assert_int_equal(transport_classify(12, true), T_UNREACHABLE);
	assert_int_equal(transport_classify(30, true), T_UNREACHABLE);
	assert_int_equal(transport_classify(12, false), T_FAILED);
	assert_int_equal(transport_classify(23, true), T_FAILED);
	assert_int_equal(transport_classify(11, false), T_FAILED);
}

static void test_parse_stats(void **state)
{
	(void)state;
	const char *out = "Number of files: 3 (reg: 2, dir: 1)\n"
			  "Number of regular files transferred: 1,234\n"
			  "Total file size: 9 bytes\n"
			  "Total bytes sent: 5,244,834\n"
			  "Total bytes received: 35\n";
	uint64_t bytes, files;
	transport_parse_stats(out, &bytes, &files);
	assert_int_equal(bytes, 5244834);
	assert_int_equal(files, 1234);
	transport_parse_stats("", &bytes, &files);
	assert_int_equal(bytes, 0);
	assert_int_equal(files, 0);
}

/* Issue 11: every helper failure was reported as the rename helper's, and
 * a failing directory-times helper counted as success. */
static void test_helper_failures(void **state)
{
	(void)state;
	struct transfer_result r;
	transport_helper_result(HELPER_UTIME, 1, true, "", "utime: Operation not permitted", NULL, 0,
				&r);
	assert_int_equal(r.outcome, T_FAILED);
	assert_non_null(strstr(r.message, "directory-times helper exit 1"));
	transport_helper_result(HELPER_UTIME, 0, true, "", "", NULL, 0, &r);
	assert_int_equal(r.outcome, T_OK);
	transport_helper_result(HELPER_UTIME, 255, true, "", "ssh: connect", NULL, 0, &r);
	assert_int_equal(r.outcome, T_UNREACHABLE);

	transport_helper_result(HELPER_READ, 1, true, "", "boom", NULL, 0, &r);
	assert_int_equal(r.outcome, T_UNREACHABLE);
	assert_non_null(strstr(r.message, "epoch read exit 1"));
	assert_null(strstr(r.message, "rename"));
	transport_helper_result(HELPER_READ, 2, true, "", "lifeboat: error: serve: refused: x", NULL,
				0, &r);
	assert_int_equal(r.outcome, T_FAILED); /* reachable; the request is wrong */

	bool failed[3] = {false, false, false};
	transport_helper_result(HELPER_RENAME, 0, true, "ok\nfail ENOENT\nok", "", failed, 3, &r);
	assert_int_equal(r.outcome, T_OK);
	assert_false(failed[0]);
	assert_true(failed[1]);
	assert_false(failed[2]);
	assert_int_equal(r.n_renames_failed, 1);
	bool f2[2] = {false, false};
	transport_helper_result(HELPER_RENAME, 1, true, "", "chdir: gone", f2, 2, &r);
	assert_true(f2[0] && f2[1]);
	assert_int_equal(r.outcome, T_OK); /* both fall back to a copy */
	assert_non_null(strstr(r.message, "rename helper exit 1"));
	/* No pairs: a full pass's request for the target's sync alone. */
	transport_helper_result(HELPER_RENAME, 1, true, "", "serve: syncfs: Input/output error",
				NULL, 0, &r);
	assert_int_equal(r.outcome, T_FAILED);
	transport_helper_result(HELPER_RENAME, 0, true, "", "", NULL, 0, &r);
	assert_int_equal(r.outcome, T_OK);
}

static void test_history_filter(void **state)
{
	(void)state;
	struct sync_conf sc = base_conf();
	struct strv argv;
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_DIFF, true, &argv);
	assert_true(argv_has(&argv, "--filter=- /.lifeboat-history/"));
	assert_false(argv_has(&argv, "--inplace"));
	strv_free(&argv);
	sc.target_host = "dr@10.0.0.5";
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_PATHS, true, &argv);
	assert_true(argv_has(&argv, "--rsync-path=lifeboat serve rsync"));
	strv_free(&argv);
	/* A checked run's receive: serve picks the staging from the tag. */
	strv_init(&argv);
	transport_build_argv(&sc, NULL, NULL, RSYNC_TREES, true, &argv);
	assert_true(argv_has(&argv, "--rsync-path=lifeboat serve rsync-staged 0123456789abcdef"));
	strv_free(&argv);
	strv_free(&sc.excludes);
}

static bool has(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (!strcmp(v->items[i], s))
			return true;
	return false;
}

/* A dry run's itemized lines as the comparison's lists (rsync 3.2's own
 * output for a tree with every kind of difference). */
static void test_parse_itemized(void **state)
{
	(void)state;
	const char *out = "created directory /srv/dst\n"
			  "*deleting   gone/z\n"
			  "*deleting   gone/\n"
			  ".d..t...... ./\n"
			  "*deleting   k/del\n"
			  ">f.st...... k/chg\n"
			  ".f...p..... k/perm\n"
			  "cS+++++++++ k/fifo\n"
			  "cL+++++++++ k/lnk\n"
			  ">f+++++++++ k/new\\#012line\n"
			  "cd+++++++++ newd/\n"
			  "cd+++++++++ newd/sub/\n"
			  ">f+++++++++ newd/sub/f\n"
			  ">f+++++++++ newdx\n";
	struct manifest_diff d;
	manifest_diff_init(&d);
	transport_parse_itemized(out, &d);
	assert_false(d.full);
	assert_true(d.root_times);
	assert_int_equal(d.trees.len, 1);
	assert_string_equal(d.trees.items[0], "newd");
	assert_int_equal(d.new_files.len, 4);
	assert_true(has(&d.new_files, "k/fifo") && has(&d.new_files, "k/lnk") &&
		    has(&d.new_files, "k/new\nline") && has(&d.new_files, "newdx"));
	assert_int_equal(d.paths.len, 5);
	assert_true(has(&d.paths, "gone/z") && has(&d.paths, "gone") && has(&d.paths, "k/del") &&
		    has(&d.paths, "k/chg") && has(&d.paths, "k/perm"));
	manifest_diff_free(&d);

	/* Hard links, or the top directory's mode: rsync's whole-tree pass. */
	manifest_diff_init(&d);
	transport_parse_itemized("hf+++++++++ a/twin => a/one\n", &d);
	assert_true(d.full);
	assert_string_equal(d.why, "hard links differ");
	manifest_diff_free(&d);
	manifest_diff_init(&d);
	transport_parse_itemized(".d...p..... ./\n", &d);
	assert_true(d.full);
	manifest_diff_free(&d);
	manifest_diff_init(&d);
	transport_parse_itemized("cd+++++++++ ./\n>f+++++++++ a\n", &d); /* no target yet */
	assert_true(d.full);
	manifest_diff_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_mode_local),
		cmocka_unit_test(test_delete_modes),
		cmocka_unit_test(test_remote_ssh_command),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_parse_stats),
		cmocka_unit_test(test_parse_itemized),
		cmocka_unit_test(test_helper_failures),
		cmocka_unit_test(test_history_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
