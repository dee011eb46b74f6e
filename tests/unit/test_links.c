/* links: every name of the hard-linked files asked for, wherever in the
 * tree, excluded names and the history left out; the linked files below
 * some directories. */
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

#include "beneath.h"
#include "exclude.h"
#include "links.h"

static char root[] = "/tmp/lb-test-links-XXXXXX";

static void put(const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(rel, f);
	fclose(f);
	free(path);
}

static void twin(const char *rel, const char *other)
{
	char *a = xasprintf("%s/%s", root, rel), *b = xasprintf("%s/%s", root, other);
	assert_int_equal(link(a, b), 0);
	free(a);
	free(b);
}

static void dir(const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
}

static void test_names(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(root));
	dir("a");
	dir("b");
	dir("b/deep");
	dir("cache");
	dir(".lifeboat-history");
	put("a/one");
	twin("a/one", "b/deep/one-again");
	twin("a/one", "cache/one-cached"); /* excluded */
	twin("a/one", ".lifeboat-history/kept");
	put("a/single");
	put("b/two");
	twin("b/two", "a/two-again");

	struct strv filters, want, out;
	strv_init(&filters);
	strv_push(&filters, "- cache/");
	struct exclude_set *x = exclude_new(&filters);
	strv_init(&want);
	strv_push(&want, "a/one");
	strv_push(&want, "a/single");
	strv_init(&out);
	char *err = NULL;
	assert_int_equal(links_names(root, &want, x, &out, &err), 0);
	assert_int_equal(out.len, 2);
	assert_true(strv_contains(&out, "a/one") && strv_contains(&out, "b/deep/one-again"));
	assert_true(links_has_twins(root, "b/two"));
	assert_false(links_has_twins(root, "a/single"));

	struct strv dirs, below;
	strv_init(&dirs);
	strv_push(&dirs, "b");
	strv_init(&below);
	links_below(root, &dirs, x, &below);
	assert_int_equal(below.len, 2);
	assert_true(strv_contains(&below, "b/deep/one-again") && strv_contains(&below, "b/two"));

	strv_free(&out);
	strv_init(&out);
	strv_push(&want, "nowhere");
	assert_int_equal(links_names("/nonexistent-lb", &want, x, &out, &err), -1);
	assert_non_null(err);
	free(err);

	strv_free(&filters);
	strv_free(&want);
	strv_free(&out);
	strv_free(&dirs);
	strv_free(&below);
	exclude_free(x);
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
	beneath_remove_tree(tmp, root + strlen("/tmp/"));
	close(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_names)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
