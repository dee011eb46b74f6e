/* history's staging for checked runs: transfer tags, the received staging
 * a merge claims (once, never after it expired), drops that stay inside
 * the staging; the staging area (.lifeboat-history/.staging): what the
 * cleanup removes there, the old layout's leftovers removed once, a
 * symlinked staging area refused, history listing, versions and pruning
 * blind to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "history.h"

static void sh(const char *fmt, const char *root)
{
	char *cmd = NULL;
	assert_true(asprintf(&cmd, fmt, root, root, root, root) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static bool exists(const char *root, const char *rel)
{
	char *p = NULL;
	struct stat st;
	assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
	bool there = lstat(p, &st) == 0;
	free(p);
	return there;
}

static void test_tags(void **state)
{
	(void)state;
	assert_true(history_tag_ok("0123456789abcdef"));
	assert_true(history_tag_ok("0123456789abcdef0123456789abcdef"));
	assert_false(history_tag_ok("0123456789abcde"));   /* too short */
	assert_false(history_tag_ok("0123456789ABCDEF"));  /* not ours */
	assert_false(history_tag_ok("0123456789abcdef/x"));
	assert_false(history_tag_ok("../0123456789abcdef"));
	assert_false(history_tag_ok(""));
}

static void test_claim_and_drop(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-staging-XXXXXX";
	assert_non_null(mkdtemp(root));
	sh("mkdir -p %s/.lifeboat-history/.staging/.incoming-1-verified/d %s/outside && "
	   "echo new >%s/.lifeboat-history/.staging/.incoming-1-verified/d/f && "
	   "echo keep >%s/outside/f",
	   root);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	char *err = NULL;
	const char *tag = "00112233445566778899aabbccddeeff";
	/* Only a directory of the staging area is marked received. */
	assert_int_equal(history_mark_received(fd, "outside", tag, &err), -1);
	free(err);
	assert_int_equal(history_mark_received(fd, HISTORY_STAGING "/../../outside", tag, &err),
			 -1);
	free(err);
	err = NULL;
	assert_true(exists(root, "outside/f"));
	assert_int_equal(history_mark_received(fd, HISTORY_STAGING "/.incoming-1-verified", tag,
					       &err), 0);
	assert_true(exists(root, HISTORY_STAGING "/.received-00112233445566778899aabbccddeeff"));
	/* A merge claims it once; a second claim finds nothing. */
	char *staging = history_claim_received(fd, tag, &err);
	assert_non_null(staging);
	assert_true(!strncmp(staging, HISTORY_STAGING "/.incoming-", strlen(HISTORY_STAGING) + 11));
	assert_null(history_claim_received(fd, tag, &err));
	assert_non_null(err);
	free(err);
	err = NULL;
	/* Drops never leave the staging, nor remove a directory. */
	history_staging_drop(fd, staging, "../../outside/f");
	history_staging_drop(fd, staging, "/etc/passwd");
	history_staging_drop(fd, staging, "d");
	assert_true(exists(root, "outside/f"));
	char *f = NULL;
	assert_true(asprintf(&f, "%s/d/f", staging) > 0);
	assert_true(exists(root, f));
	history_staging_drop(fd, staging, "d/f");
	assert_false(exists(root, f));
	free(f);
	history_staging_remove(fd, staging);
	assert_false(exists(root, staging));
	free(staging);
	close(fd);
	sh("rm -rf %s", root);
}

static void test_expired(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-staging-XXXXXX";
	assert_non_null(mkdtemp(root));
	/* Two received stagings: one left by a sender that died long ago. */
	sh("mkdir -p %s/.lifeboat-history/.staging/.received-aaaaaaaaaaaaaaaa "
	   "%s/.lifeboat-history/.staging/.received-bbbbbbbbbbbbbbbb && "
	   "touch -d '-1 hour' %s/.lifeboat-history/.staging/.received-aaaaaaaaaaaaaaaa",
	   root);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *err = NULL;
	/* Too old to be claimed: removed, never merged. */
	assert_null(history_claim_received(fd, "aaaaaaaaaaaaaaaa", &err));
	assert_non_null(strstr(err, "waited too long"));
	free(err);
	assert_false(exists(root, HISTORY_STAGING "/.received-aaaaaaaaaaaaaaaa"));
	/* And the cleanup removes an old one, keeps a fresh one. */
	sh("mkdir -p %s/.lifeboat-history/.staging/.received-cccccccccccccccc && "
	   "touch -d '-1 hour' %s/.lifeboat-history/.staging/.received-cccccccccccccccc",
	   root);
	history_clean_staging(root);
	assert_false(exists(root, HISTORY_STAGING "/.received-cccccccccccccccc"));
	assert_true(exists(root, HISTORY_STAGING "/.received-bbbbbbbbbbbbbbbb"));
	close(fd);
	sh("rm -rf %s", root);
}

/* A process id nobody has any more: a child's, reaped. */
static long dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return (long)pid;
}

static void mkdirs(const char *root, const char *rel)
{
	char *cmd = NULL;
	assert_true(asprintf(&cmd, "mkdir -p '%s/%s' && echo x >'%s/%s/f'", root, rel, root,
			     rel) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* Every staging directory is made in the staging area; the cleanup removes
 * a dead receiver's, keeps a live one's and everything else. */
static void test_staging_area(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-staging-XXXXXX";
	assert_non_null(mkdtemp(root));
	char *tmp = history_temp_dir(root, "rsync");
	assert_non_null(tmp);
	char *want = NULL;
	assert_true(asprintf(&want, "%s/%s/.incoming-%ld-rsync", root, HISTORY_STAGING,
			     (long)getpid()) > 0);
	assert_string_equal(tmp, want);
	free(want);
	free(tmp);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *err = NULL;
	char *rel = history_staging_make(fd, "7", &err);
	assert_non_null(rel);
	assert_true(exists(root, rel));
	char *dead = NULL, *dead_tagged = NULL;
	long pid = dead_pid();
	assert_true(asprintf(&dead, HISTORY_STAGING "/.incoming-%ld", pid) > 0);
	assert_true(asprintf(&dead_tagged, HISTORY_STAGING "/.incoming-%ld-verified", pid) > 0);
	mkdirs(root, dead);
	mkdirs(root, dead_tagged);
	mkdirs(root, HISTORY_STAGING "/.incoming-1-merge"); /* init: alive */
	mkdirs(root, HISTORY_STAGING "/.incomingx");
	history_clean_staging(root);
	assert_false(exists(root, dead));
	assert_false(exists(root, dead_tagged));
	assert_true(exists(root, rel));
	assert_true(exists(root, HISTORY_STAGING "/.incoming-1-merge"));
	assert_true(exists(root, HISTORY_STAGING "/.incomingx"));
	history_staging_remove(fd, rel);
	assert_false(exists(root, rel));
	free(rel);
	free(dead);
	free(dead_tagged);
	close(fd);
	sh("rm -rf %s", root);
}

/* A target an older lifeboat used: its staging directories sit directly in
 * the history. The call that makes the staging area removes them (a dead
 * receiver's, any received one: no merge looks there any more); later
 * calls read the staging area only, never the whole history again. */
static void test_old_layout(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-staging-XXXXXX";
	assert_non_null(mkdtemp(root));
	char *dead = NULL, *later = NULL;
	assert_true(asprintf(&dead, HISTORY_DIR "/.incoming-%ld-verified", dead_pid()) > 0);
	assert_true(asprintf(&later, HISTORY_DIR "/.incoming-%ld", dead_pid()) > 0);
	mkdirs(root, dead);
	mkdirs(root, HISTORY_DIR "/.received-dddddddddddddddd");
	mkdirs(root, HISTORY_DIR "/.incoming-1"); /* init: alive, kept */
	mkdirs(root, HISTORY_DIR "/20261207T000000Z-1-0/kept");
	history_clean_staging(root);
	assert_true(exists(root, HISTORY_STAGING));
	assert_false(exists(root, dead));
	assert_false(exists(root, HISTORY_DIR "/.received-dddddddddddddddd"));
	assert_true(exists(root, HISTORY_DIR "/.incoming-1"));
	assert_true(exists(root, HISTORY_DIR "/20261207T000000Z-1-0/kept/f"));
	/* Once: what appears in the history afterwards is not looked at. */
	mkdirs(root, later);
	history_clean_staging(root);
	char *tmp = history_temp_dir(root, NULL);
	assert_non_null(tmp);
	free(tmp);
	assert_true(exists(root, later));
	free(dead);
	free(later);
	sh("rm -rf %s", root);
}

/* A staging area that is a symlink is never followed: nothing is made or
 * removed through it, and every staging operation refuses it. */
static void test_staging_symlink(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-staging-XXXXXX";
	assert_non_null(mkdtemp(root));
	char *victim = NULL;
	assert_true(asprintf(&victim, "outside/.incoming-%ld", dead_pid()) > 0);
	mkdirs(root, victim);
	mkdirs(root, "outside/.received-eeeeeeeeeeeeeeee");
	sh("mkdir -p %s/.lifeboat-history && touch -d '-1 hour' "
	   "%s/outside/.received-eeeeeeeeeeeeeeee && ln -s ../outside %s/.lifeboat-history/.staging",
	   root);
	history_clean_staging(root);
	assert_true(exists(root, victim));
	assert_null(history_temp_dir(root, "verified"));
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *err = NULL;
	assert_null(history_staging_make(fd, NULL, &err));
	assert_non_null(strstr(err, "symlink"));
	free(err);
	err = NULL;
	assert_null(history_claim_received(fd, "eeeeeeeeeeeeeeee", &err));
	free(err);
	err = NULL;
	assert_true(exists(root, "outside/.received-eeeeeeeeeeeeeeee/f"));
	assert_int_equal(history_mark_received(fd, HISTORY_STAGING "/.received-eeeeeeeeeeeeeeee",
					       "ffffffffffffffff", &err), -1);
	free(err);
	assert_true(exists(root, "outside/.received-eeeeeeeeeeeeeeee/f"));
	free(victim);
	close(fd);
	sh("rm -rf %s", root);
}

/* What sits in the staging area is no version: versions, the history's
 * size and pruning (even down to a 1-byte cap) never see or remove it. */
static void test_staging_not_history(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-staging-XXXXXX";
	assert_non_null(mkdtemp(root));
	sh("echo live >%s/a && mkdir -p %s/.lifeboat-history/20261207T000000Z-1-0 && "
	   "echo old >%s/.lifeboat-history/20261207T000000Z-1-0/a",
	   root);
	uint64_t kept = history_bytes(root);
	assert_true(kept > 0);
	struct version_list out;
	char *err = NULL;
	assert_int_equal(history_versions(root, "", &out, &err), 0);
	size_t rows = out.len;
	assert_true(rows >= 1);
	version_list_free(&out);
	mkdirs(root, HISTORY_STAGING "/.incoming-1-verified");
	mkdirs(root, HISTORY_STAGING "/.received-aaaaaaaaaaaaaaaa");
	sh("head -c 65536 /dev/zero >%s/.lifeboat-history/.staging/.incoming-1-verified/a && "
	   "cp %s/.lifeboat-history/.staging/.incoming-1-verified/a "
	   "%s/.lifeboat-history/.staging/.received-aaaaaaaaaaaaaaaa/a",
	   root);
	assert_int_equal(history_bytes(root), kept);
	assert_int_equal(history_versions(root, "", &out, &err), 0);
	assert_int_equal(out.len, rows);
	for (size_t i = 0; i < out.len; i++) {
		assert_null(strstr(out.v[i].path, "/.staging/"));
		assert_null(strstr(out.v[i].rel, ".incoming-"));
	}
	version_list_free(&out);
	assert_int_equal(history_prune(root, 1e9, 1), 0);
	assert_false(exists(root, HISTORY_DIR "/20261207T000000Z-1-0"));
	assert_true(exists(root, HISTORY_STAGING "/.incoming-1-verified/a"));
	assert_true(exists(root, HISTORY_STAGING "/.received-aaaaaaaaaaaaaaaa/a"));
	history_prune(root, 1e9, 1);
	assert_true(exists(root, HISTORY_STAGING));
	sh("rm -rf %s", root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_claim_and_drop),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_staging_area),
		cmocka_unit_test(test_old_layout),
		cmocka_unit_test(test_staging_symlink),
		cmocka_unit_test(test_staging_not_history),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
