/* history's staging for checked runs: transfer tags, the received staging
 * a merge claims (once, never after it expired), drops that stay inside
 * the staging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
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
	sh("mkdir -p %s/.lifeboat-history/.incoming-1-verified/d %s/outside && "
	   "echo new >%s/.lifeboat-history/.incoming-1-verified/d/f && echo keep >%s/outside/f",
	   root);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	char *err = NULL;
	const char *tag = "00112233445566778899aabbccddeeff";
	assert_int_equal(history_mark_received(fd, ".lifeboat-history/.incoming-1-verified", tag,
					       &err), 0);
	/* A merge claims it once; a second claim finds nothing. */
	char *staging = history_claim_received(fd, tag, &err);
	assert_non_null(staging);
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
	sh("mkdir -p %s/.lifeboat-history/.received-aaaaaaaaaaaaaaaa "
	   "%s/.lifeboat-history/.received-bbbbbbbbbbbbbbbb && "
	   "touch -d '-1 hour' %s/.lifeboat-history/.received-aaaaaaaaaaaaaaaa",
	   root);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *err = NULL;
	/* Too old to be claimed: removed, never merged. */
	assert_null(history_claim_received(fd, "aaaaaaaaaaaaaaaa", &err));
	assert_non_null(strstr(err, "waited too long"));
	free(err);
	assert_false(exists(root, ".lifeboat-history/.received-aaaaaaaaaaaaaaaa"));
	/* And the cleanup removes an old one, keeps a fresh one. */
	sh("mkdir -p %s/.lifeboat-history/.received-cccccccccccccccc && "
	   "touch -d '-1 hour' %s/.lifeboat-history/.received-cccccccccccccccc",
	   root);
	history_clean_staging(root);
	assert_false(exists(root, ".lifeboat-history/.received-cccccccccccccccc"));
	assert_true(exists(root, ".lifeboat-history/.received-bbbbbbbbbbbbbbbb"));
	close(fd);
	sh("rm -rf %s", root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_claim_and_drop),
		cmocka_unit_test(test_expired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
