/* placing: a merge that died before its sync leaves its log; files the
 * log names that a power cut left short go back to the version the merge
 * kept (or go, if new), whole ones stay; a live merge's log is not
 * touched; a log that is junk is dropped. The power cut is simulated the
 * way it leaves a file: same inode, fewer bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "beneath.h"
#include "history.h"
#include "placing.h"

static char root[] = "/tmp/lb-test-placing-XXXXXX";

static void put(const char *dir, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

/* The file's content, "" when absent. Caller frees. */
static void put_n(const char *dir, const char *rel, const char *data, size_t len)
{
	char *path = xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	free(path);
}

static char *content(const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	size_t len = 0;
	char *s = read_file(path, &len);
	free(path);
	return s ? s : xstrdup("");
}

static void cut(const char *rel, off_t len)
{
	char *path = xasprintf("%s/%s", root, rel);
	assert_int_equal(truncate(path, len), 0);
	free(path);
}

static size_t logs_left(void)
{
	char *path = xasprintf("%s/%s/.placing", root, HISTORY_DIR);
	DIR *d = opendir(path);
	free(path);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Stage what the batch brings, merge it without the sync; in a child that
 * then dies (its lock goes with it) when dies. */
static void merge(int fd, const char *run, bool dies)
{
	char *staging = history_temp_dir(root, "t");
	assert_non_null(staging);
	char *d = xasprintf("%s/d", staging);
	mkdir(d, 0755);
	put(staging, "a", "the new version, longer\n");
	put(staging, "d/b", "bbbb\n");
	put(staging, "c", "ccc\n");
	const char *rel = staging + strlen(root) + 1;
	if (dies) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char *err = NULL;
			_exit(history_merge_then(fd, rel, run, false, &err) == 0 ? 0 : 1);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(status, 0);
	} else {
		char *err = NULL;
		assert_int_equal(history_merge_then(fd, rel, run, false, &err), 0);
		free(err);
	}
	history_staging_remove(fd, rel);
	free(d);
	free(staging);
}

static void reset(void)
{
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
	beneath_remove_tree(tmp, root + strlen("/tmp/"));
	close(tmp);
	assert_int_equal(mkdir(root, 0700), 0);
	put(root, "a", "old\n");
}

static void test_short_files_rolled_back(void **state)
{
	(void)state;
	reset();
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *run = history_run_dir("");
	merge(fd, run, true);
	assert_int_equal(logs_left(), 1);
	cut("a", 5);	/* the replacement: short */
	cut("d/b", 0);  /* a new file: empty */
	char *err = NULL;
	assert_int_equal(placing_recover(fd, &err), 2);
	char *a = content("a"), *b = content("d/b"), *c = content("c");
	assert_string_equal(a, "old\n"); /* the version it replaced, back */
	assert_string_equal(b, "");      /* gone */
	assert_string_equal(c, "ccc\n"); /* whole: stays */
	assert_int_equal(logs_left(), 0);
	assert_int_equal(placing_recover(fd, &err), 0);
	free(a);
	free(b);
	free(c);
	free(run);
	close(fd);
}

static void test_whole_files_stay(void **state)
{
	(void)state;
	reset();
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	merge(fd, NULL, true); /* history off */
	char *err = NULL;
	assert_int_equal(placing_recover(fd, &err), 0);
	char *a = content("a");
	assert_string_equal(a, "the new version, longer\n");
	assert_int_equal(logs_left(), 0);
	free(a);
	close(fd);
}

/* A later write to the file (a new inode: the sync always replaces) is not
 * the placed file: left alone. */
static void test_replaced_since_stays(void **state)
{
	(void)state;
	reset();
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *run = history_run_dir("");
	merge(fd, run, true);
	char *path = xasprintf("%s/a", root), *tmp = xasprintf("%s/a.new", root);
	put(root, "a.new", "x\n");
	assert_int_equal(rename(tmp, path), 0);
	char *err = NULL;
	assert_int_equal(placing_recover(fd, &err), 0);
	char *a = content("a");
	assert_string_equal(a, "x\n");
	free(a);
	free(path);
	free(tmp);
	free(run);
	close(fd);
}

static void test_live_log_untouched(void **state)
{
	(void)state;
	reset();
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *run = history_run_dir("");
	merge(fd, run, false); /* this process's: held until its sync */
	cut("c", 1);
	char *err = NULL;
	assert_int_equal(placing_recover(fd, &err), 0);
	assert_int_equal(logs_left(), 1);
	placing_synced(placing_mark());
	assert_int_equal(logs_left(), 0);
	free(run);
	close(fd);
}

static void test_junk_log_dropped(void **state)
{
	(void)state;
	reset();
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *dir = xasprintf("%s/%s/.placing", root, HISTORY_DIR);
	char *hist = xasprintf("%s/%s", root, HISTORY_DIR);
	assert_int_equal(mkdir(hist, 0700), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	static const char bad_size[] = "lifeboat placing 1\nrun -\n12 x a";
	static const char outside[] = "lifeboat placing 1\nrun ..\n1 2 ../../etc/passwd\0"
				      "1 2 .lifeboat-history/x\0"
				      "1 2 a";
	put_n(dir, "1-1", bad_size, sizeof(bad_size));
	put(dir, "1-2", "junk");
	put_n(dir, "1-3", outside, sizeof(outside));
	char *err = NULL;
	assert_int_equal(placing_recover(fd, &err), 0);
	assert_int_equal(logs_left(), 0);
	char *a = content("a");
	assert_string_equal(a, "old\n");
	free(a);
	free(dir);
	free(hist);
	close(fd);
}

static int teardown(void **state)
{
	(void)state;
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
	beneath_remove_tree(tmp, root + strlen("/tmp/"));
	close(tmp);
	return 0;
}

int main(void)
{
	assert_non_null(mkdtemp(root));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_files_rolled_back),
		cmocka_unit_test(test_whole_files_stay),
		cmocka_unit_test(test_replaced_since_stays),
		cmocka_unit_test(test_live_log_untouched),
		cmocka_unit_test(test_junk_log_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
