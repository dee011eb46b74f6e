/* Unit tests for what lifeboat decides itself before rsync runs: which
 * exclude rules it can evaluate exactly (exclude.c), the tar stream's
 * member list and the verdict on its two exit codes (tarstream.c). The
 * list is read from a small tree made in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exclude.h"
#include "tarstream.h"

static struct exclude_set *set_of(const char *const *rules)
{
	struct strv v;
	strv_init(&v);
	for (size_t i = 0; rules[i]; i++)
		strv_push(&v, rules[i]);
	struct exclude_set *x = exclude_new(&v);
	strv_free(&v);
	return x;
}

static void test_exclude_base_names(void **state)
{
	(void)state;
	const char *rules[] = {"- *.tmp", "- cache/", NULL};
	struct exclude_set *x = set_of(rules);
	assert_true(exclude_exact(x));
	assert_true(exclude_match(x, "a.tmp", false));
	assert_true(exclude_match(x, ".b.tmp", false));
	assert_false(exclude_match(x, "a.tmpx", false));
	assert_true(exclude_match(x, "cache", true));
	assert_false(exclude_match(x, "cache", false)); /* "cache/": directories only */
	exclude_free(x);
}

static void test_exclude_not_exact(void **state)
{
	(void)state;
	const char *nested[] = {"- *.log", "- var/tmp", NULL};
	struct exclude_set *x = set_of(nested);
	assert_false(exclude_exact(x)); /* rsync's own: matched on the whole path */
	assert_true(exclude_match(x, "x.log", false));
	assert_false(exclude_match(x, "tmp", true));
	exclude_free(x);

	/* An include may bring back what a later exclude names: only the
	 * excludes before it count. */
	const char *include[] = {"- *.o", "+ keep.log", "- *.log", NULL};
	x = set_of(include);
	assert_false(exclude_exact(x));
	assert_true(exclude_match(x, "a.o", false));
	assert_false(exclude_match(x, "keep.log", false));
	assert_false(exclude_match(x, "other.log", false));
	exclude_free(x);

	const char *globstar[] = {"- **/x", NULL};
	x = set_of(globstar);
	assert_false(exclude_exact(x));
	assert_false(exclude_match(x, "x", false));
	exclude_free(x);
}

static char root[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int setup_tree(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/lifeboat-unit.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	dir("top");
	dir("top/new");
	dir("top/new/sub");
	dir("top/new/cache");
	put("top/new/a", "a");
	put("top/new/-dash", "d");
	put("top/new/x.tmp", "t");
	put("top/new/sub/b", "b");
	put("top/new/cache/c", "c");
	put("top/file1", "1");
	put("top/linked", "l");
	char a[256], b[256];
	snprintf(a, sizeof(a), "%s/top/linked", root);
	snprintf(b, sizeof(b), "%s/top/linked2", root);
	return link(a, b);
}

static int teardown_tree(void **state)
{
	(void)state;
	char *argv[] = {"rm", "-rf", root, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return 0;
}

/* The NUL-separated list as one string with '|' between names. */
static char *joined(const struct buf *list)
{
	char *s = malloc(list->len + 1);
	for (size_t i = 0; i < list->len; i++)
		s[i] = list->data[i] ? list->data[i] : '|';
	s[list->len] = '\0';
	return s;
}

/* tarstream_list must succeed; the list joined with '|'. */
static char *list_of(const struct strv *trees, struct strv *flat, struct strv *rest,
		     const struct exclude_set *x, uint64_t *files)
{
	struct buf list;
	buf_init(&list);
	char *why = NULL;
	assert_int_equal(tarstream_list(root, trees, flat, rest, x, &list, files, &why), 0);
	char *s = joined(&list);
	buf_free(&list);
	return s;
}

static void test_list_tree_and_flat(void **state)
{
	(void)state;
	const char *rules[] = {"- *.tmp", "- cache/", NULL};
	struct exclude_set *x = set_of(rules);
	struct strv trees, flat, rest;
	strv_init(&trees);
	strv_init(&flat);
	strv_init(&rest);
	strv_push(&trees, "top/new");
	strv_push(&flat, "top/file1");
	strv_push(&flat, "top/linked"); /* a hard link: rsync's */
	strv_push(&flat, "top/gone");   /* vanished: rsync deletes it */
	uint64_t files = 0;
	char *s = list_of(&trees, &flat, &rest, x, &files);
	/* The parent once, the tree before its contents, nothing excluded. */
	assert_non_null(strstr(s, "top|top/new|"));
	assert_non_null(strstr(s, "top/new/a|"));
	assert_non_null(strstr(s, "top/new/-dash|"));
	assert_non_null(strstr(s, "top/new/sub|"));
	assert_non_null(strstr(s, "top/new/sub/b|"));
	assert_true(strstr(s, "top/new/sub|") < strstr(s, "top/new/sub/b|"));
	assert_null(strstr(s, "x.tmp"));
	assert_null(strstr(s, "cache"));
	assert_non_null(strstr(s, "|top/file1|"));
	assert_null(strstr(s, "linked"));
	assert_null(strstr(strstr(s, "top|") + 4, "|top|")); /* parent listed once */
	assert_int_equal(files, 4); /* a, -dash, sub/b, file1 */
	assert_int_equal(flat.len, 1);
	assert_int_equal(rest.len, 2);
	free(s);
	strv_free(&trees);
	strv_free(&flat);
	strv_free(&rest);
	exclude_free(x);
}

/* tar sets a directory's times when it leaves it: each directory's new
 * files must follow it without a gap, or it is listed again. */
static void test_list_keeps_directories_together(void **state)
{
	(void)state;
	dir("ord");
	dir("ord/old");
	dir("ord/old-2");
	put("ord/old/n1", "1");
	put("ord/old/n2", "2");
	put("ord/old-2/x", "x");
	struct strv trees, flat, rest;
	strv_init(&trees);
	strv_init(&flat);
	strv_init(&rest);
	strv_push(&flat, "ord/old-2/x");
	strv_push(&flat, "ord/old/n2");
	strv_push(&flat, "ord/old-2");
	strv_push(&flat, "ord/old/n1");
	uint64_t files = 0;
	char *s = list_of(&trees, &flat, &rest, NULL, &files);
	assert_string_equal(s, "ord|ord/old|ord/old/n1|ord/old/n2|ord/old-2|ord/old-2/x|");
	free(s);

	/* Unsorted trees and files in one directory: listed again when left. */
	strv_free(&flat);
	strv_init(&flat);
	dir("ord/old/t");
	put("ord/old/t/in", "i");
	strv_push(&trees, "ord/old/t");
	strv_push(&trees, "ord/old-2");
	strv_push(&flat, "ord/old/n1");
	s = list_of(&trees, &flat, &rest, NULL, &files);
	assert_string_equal(s, "ord|ord/old|ord/old/t|ord/old/t/in|ord/old-2|ord/old-2/x|"
			       "ord/old|ord/old/n1|");
	free(s);
	strv_free(&trees);
	strv_free(&flat);
	strv_free(&rest);
}

static void test_list_refuses_sockets(void **state)
{
	(void)state;
	dir("sock");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock/s", root);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct strv trees, rest;
	strv_init(&trees);
	strv_init(&rest);
	strv_push(&trees, "sock");
	struct buf list;
	buf_init(&list);
	uint64_t files = 0;
	char *why = NULL;
	assert_int_equal(tarstream_list(root, &trees, NULL, &rest, NULL, &list, &files, &why), -1);
	assert_non_null(strstr(why, "socket"));
	free(why);
	close(fd);
	buf_free(&list);
	strv_free(&trees);
	strv_free(&rest);
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(tarstream_classify(0, 0, false), TS_OK);
	assert_int_equal(tarstream_classify(1, 0, true), TS_OK); /* changed as read */
	assert_int_equal(tarstream_classify(128 + SIGPIPE, 0, true), TS_OK);
	assert_int_equal(tarstream_classify(2, 0, false), TS_USE_RSYNC); /* unreadable */
	assert_int_equal(tarstream_classify(128 + SIGPIPE, 3, true), TS_USE_RSYNC); /* exists */
	assert_int_equal(tarstream_classify(0, 2, false), TS_USE_RSYNC);
	assert_int_equal(tarstream_classify(0, 255, true), TS_UNREACHABLE);
	assert_int_equal(tarstream_classify(0, 255, false), TS_USE_RSYNC);
}

/* A directory that changed as tar -c listed it does not make the archive
 * less whole; anything else tar complains of does. */
static void test_sender_verdict(void **state)
{
	(void)state;
	const char *totals = "Total bytes written: 10240 (10KiB, 39MiB/s)";
	char tail[512];
	assert_int_equal(tarstream_sender_verdict(root, 0, totals), 0);
	snprintf(tail, sizeof(tail), "tar: top/new: file changed as we read it;%s", totals);
	assert_int_equal(tarstream_sender_verdict(root, 1, tail), 0);
	snprintf(tail, sizeof(tail),
		 "tar: top/new: file changed as we read it;tar: top/new/sub: file changed as "
		 "we read it;%s",
		 totals);
	assert_int_equal(tarstream_sender_verdict(root, 1, tail), 0);
	/* a file, a name that is gone, a quoted name, a name split at ';' */
	snprintf(tail, sizeof(tail), "tar: top/new/a: file changed as we read it;%s", totals);
	assert_int_equal(tarstream_sender_verdict(root, 1, tail), 1);
	snprintf(tail, sizeof(tail),
		 "tar: top/new: file changed as we read it;tar: top/gone: file changed as we "
		 "read it");
	assert_int_equal(tarstream_sender_verdict(root, 1, tail), 1);
	assert_int_equal(tarstream_sender_verdict(root, 1, "tar: top\\:new: file changed as we read it"),
			 1);
	assert_int_equal(tarstream_sender_verdict(root, 1, "tar: top;new: file changed as we read it"),
			 1);
	/* other complaints and codes stand */
	assert_int_equal(tarstream_sender_verdict(root, 1, "tar: top/new/a: file shrank by 1 byte"), 1);
	assert_int_equal(tarstream_sender_verdict(root, 2, "tar: top/new: Cannot open"), 2);
	assert_int_equal(tarstream_sender_verdict(root, 1, ""), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclude_base_names),
		cmocka_unit_test(test_exclude_not_exact),
		cmocka_unit_test(test_list_tree_and_flat),
		cmocka_unit_test(test_list_keeps_directories_together),
		cmocka_unit_test(test_list_refuses_sockets),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_sender_verdict),
	};
	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
