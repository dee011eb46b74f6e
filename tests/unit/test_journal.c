/* Unit tests for the failover journal: what a re-run reads back after a
 * crash at any point (a torn last record, a step started twice), facts kept
 * from the first run, archiving a finished journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "util.h"

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/lb-journal-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void append_raw(const char *dir, const char *text)
{
	char *path = xasprintf("%s/failover.journal", dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	free(path);
}

static void rm_dir(const char *dir)
{
	char *argv[] = {"rm", "-rf", (char *)dir, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, NULL, 0) < 0) {
	}
}

static void test_roundtrip(void **state)
{
	(void)state;
	char *dir = tmpdir(), *err = NULL;
	struct journal j;
	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	assert_true(j.begun == 0);
	assert_int_equal(journal_begin(&j, &err), 0);
	assert_int_equal(journal_fact(&j, "received_gtid", "0-1-5", &err), 0);
	assert_int_equal(journal_start(&j, "promote", &err), 0);
	assert_false(journal_step_done(&j, "promote"));
	assert_int_equal(journal_done(&j, "promote", "writable\nafter 5 ms", &err), 0);
	journal_close(&j);

	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	assert_true(j.begun > 0);
	assert_true(j.finished == 0);
	assert_true(journal_step_done(&j, "promote"));
	/* A newline in a note would split the record: it became a blank. */
	assert_string_equal(journal_step(&j, "promote")->note, "writable after 5 ms");
	assert_string_equal(journal_get(&j, "received_gtid"), "0-1-5");
	assert_null(journal_get(&j, "nothing"));
	journal_close(&j);
	rm_dir(dir);
	free(dir);
}

static void test_torn_record_and_restarts(void **state)
{
	(void)state;
	char *dir = tmpdir(), *err = NULL;
	/* Killed twice inside "vip", once mid-write of a record. */
	append_raw(dir, "begin 100.000 42\nfact heartbeat_age 1.5\nstart vip 101.000\n"
			"start vip 105.000\nfact heartbeat_age 9\ndone vip 106.0");
	struct journal j;
	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	const struct journal_step *s = journal_step(&j, "vip");
	assert_non_null(s);
	assert_true(s->started == 101.0); /* the first start counts */
	assert_false(journal_step_done(&j, "vip")); /* the torn "done" does not */
	/* The last value of a fact wins; callers record a fact once. */
	assert_true(journal_get_num(&j, "heartbeat_age", -1) == 9.0);
	assert_true(journal_get_num(&j, "missing", -1) == -1.0);
	journal_close(&j);
	rm_dir(dir);
	free(dir);
}

/* A run after a crash mid-write appends after the torn record: the new
 * record must start on its own line, not glue onto the torn one. */
static void test_append_after_torn_record(void **state)
{
	(void)state;
	char *dir = tmpdir(), *err = NULL;
	append_raw(dir, "begin 100.000 42\nstart vip 101.000\ndone vip 10");
	struct journal j;
	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	assert_false(journal_step_done(&j, "vip"));
	assert_int_equal(journal_done(&j, "vip", "again", &err), 0);
	assert_int_equal(journal_start(&j, "dns", &err), 0);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	assert_true(journal_step_done(&j, "vip"));
	assert_string_equal(journal_step(&j, "vip")->note, "again");
	assert_non_null(journal_step(&j, "dns"));
	journal_close(&j);
	char *path = xasprintf("%s/failover.journal", dir);
	char *text = read_file(path, NULL);
	assert_non_null(text);
	assert_null(strstr(text, "done vip 10done")); /* nothing glued on */
	const char *kept = "begin 100.000 42\nstart vip 101.000\ndone vip ";
	assert_int_equal(strncmp(text, kept, strlen(kept)), 0);
	free(text);
	free(path);
	rm_dir(dir);
	free(dir);
}

static void test_archive(void **state)
{
	(void)state;
	char *dir = tmpdir(), *err = NULL;
	struct journal j;
	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	assert_int_equal(journal_begin(&j, &err), 0);
	assert_int_equal(journal_end(&j, &err), 0);
	assert_true(j.finished > 0);
	assert_int_equal(journal_archive(&j, &err), 0);
	assert_true(j.begun == 0 && j.finished == 0 && j.n_steps == 0);
	assert_int_equal(journal_start(&j, "precheck", &err), 0);
	journal_close(&j);
	assert_int_equal(journal_open(&j, dir, "failover.journal", &err), 0);
	assert_true(j.begun == 0);
	assert_non_null(journal_step(&j, "precheck"));
	journal_close(&j);
	rm_dir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_torn_record_and_restarts),
		cmocka_unit_test(test_append_after_torn_record),
		cmocka_unit_test(test_archive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
