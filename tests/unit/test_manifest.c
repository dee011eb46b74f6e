/* Unit tests for the startup comparison: the walk's order, the merge of two
 * manifests (manifest_diff.c) on hand-made entry lists, and the wire
 * format read back, malformed streams included (a one-line error, never a
 * crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h"
#include "manifest_diff.h"

/* A side made of a fixed list of entries. */
struct list_side {
	const struct manifest_entry *e;
	size_t n, i;
};

static int next_listed(void *arg, struct manifest_entry *e, char **err)
{
	(void)err;
	struct list_side *l = arg;
	if (l->i == l->n)
		return 0;
	*e = l->e[l->i++];
	return 1;
}

#define F(p, sz, t) {.path = p, .type = 'f', .mode = 0644, .size = sz, .sec = t, .nlink = 1}
#define D(p, t) {.path = p, .type = 'd', .mode = 0755, .sec = t}
#define L(p, to) {.path = p, .type = 'l', .mode = 0777, .target = to}

static void diff_of(const struct manifest_entry *s, size_t ns, const struct manifest_entry *t,
		    size_t nt, bool deletes, struct manifest_diff *d)
{
	struct list_side ls = {s, ns, 0}, lt = {t, nt, 0};
	struct manifest_side src = {next_listed, &ls}, tgt = {next_listed, &lt};
	struct manifest_diff_opts o = {.owners = true, .deletes = deletes};
	char *err = NULL;
	manifest_diff_init(d);
	assert_int_equal(manifest_diff_run(&src, &tgt, &o, d, &err), 0);
	assert_null(err);
}

static void assert_list(const struct strv *v, const char *const *want)
{
	size_t n = 0;
	for (; want[n]; n++) {
		assert_true(n < v->len);
		assert_string_equal(v->items[n], want[n]);
	}
	assert_int_equal(v->len, n);
}

static void test_order(void **state)
{
	(void)state;
	assert_true(manifest_pathcmp("", "a") < 0);
	assert_true(manifest_pathcmp("a", "a/b") < 0);
	assert_true(manifest_pathcmp("a/z", "a b") < 0); /* a's contents before "a b" */
	assert_true(manifest_pathcmp("a b", "a/z") > 0);
	assert_true(manifest_pathcmp("a/b", "a/b") == 0);
	assert_true(manifest_pathcmp("\x01", "a") < 0);
	assert_true(manifest_pathcmp("a\xff", "a/x") > 0);
	assert_true(manifest_under("a/b", "a"));
	assert_false(manifest_under("ab", "a"));
	assert_false(manifest_under("a", "a"));
	assert_true(manifest_under("x", ""));
}

static void test_in_sync(void **state)
{
	(void)state;
	struct manifest_entry s[] = {D("", 5), D("a", 5), F("a/x", 3, 7), L("l", "a/x")};
	struct manifest_diff d;
	diff_of(s, 4, s, 4, true, &d);
	assert_false(d.full);
	assert_false(d.root_times);
	assert_int_equal(d.trees.len + d.new_files.len + d.paths.len, 0);
	assert_int_equal(d.source_entries, 4);
	assert_int_equal(d.target_entries, 4);
	manifest_diff_free(&d);
}

static void test_every_difference(void **state)
{
	(void)state;
	struct manifest_entry s[] = {
		D("", 9),              /* top: other times */
		D("d", 5),
		F("d/mode", 3, 7),
		F("d/mtime", 3, 8),    /* same size, other mtime */
		F("d/same", 3, 7),
		D("new", 5),           /* a tree the target lacks */
		F("new/a", 1, 1),
		F("newfile", 1, 1),
		L("relink", "d/same"),
		D("to-dir", 5),        /* a file on the target */
		F("to-dir/x", 1, 1),
		F("to-file", 1, 1),    /* a directory on the target */
		L("to-link", "d"),     /* a file on the target */
	};
	struct manifest_entry t[] = {
		D("", 5),
		D("d", 5),
		F("d/extra", 1, 1),    /* only here */
		F("d/mode", 3, 7),
		F("d/mtime", 3, 7),
		F("d/same", 3, 7),
		D("gone", 5),          /* a tree only here */
		F("gone/g", 1, 1),
		L("relink", "d"),
		F("to-dir", 1, 1),
		D("to-file", 5),
		F("to-file/y", 1, 1),
		F("to-link", 1, 1),
	};
	t[3].mode = 0600;
	struct manifest_diff d;
	diff_of(s, sizeof(s) / sizeof(*s), t, sizeof(t) / sizeof(*t), true, &d);
	assert_false(d.full);
	assert_true(d.root_times);
	const char *trees[] = {"new", "to-dir", NULL};
	const char *files[] = {"newfile", NULL};
	const char *paths[] = {"d/extra", "d/mode", "d/mtime", "gone", "relink", "to-file",
			       "to-link", NULL};
	assert_list(&d.trees, trees);
	assert_list(&d.new_files, files);
	assert_list(&d.paths, paths);
	manifest_diff_free(&d);

	/* Without deletes, what only the target has stays. */
	diff_of(s, sizeof(s) / sizeof(*s), t, sizeof(t) / sizeof(*t), false, &d);
	const char *kept[] = {"d/mode", "d/mtime", "relink", "to-file", "to-link", NULL};
	assert_list(&d.paths, kept);
	manifest_diff_free(&d);
}

static void test_owners(void **state)
{
	(void)state;
	struct manifest_entry s[] = {D("", 1), F("f", 1, 1)}, t[] = {D("", 1), F("f", 1, 1)};
	s[1].uid = 1000;
	t[1].uid = 1001;
	struct manifest_diff_opts o = {.owners = true};
	assert_true(manifest_entry_differs(&s[1], &t[1], &o));
	o.owners = false; /* a target that cannot set owners */
	assert_false(manifest_entry_differs(&s[1], &t[1], &o));
	/* Over ssh owners map by name; a name the target lacks keeps its number. */
	o.owners = o.by_name = true;
	s[1].user = t[1].user = "www";
	assert_false(manifest_entry_differs(&s[1], &t[1], &o));
	t[1].user = NULL;
	t[1].uid = 1000;
	assert_false(manifest_entry_differs(&s[1], &t[1], &o));
	s[1].uid = t[1].uid = 0; /* root is never mapped */
	s[1].user = "root";
	t[1].user = "toor";
	assert_false(manifest_entry_differs(&s[1], &t[1], &o));
}

static void test_hard_links_are_rsyncs(void **state)
{
	(void)state;
	struct manifest_entry s[] = {D("", 1), F("a", 1, 1), F("b", 1, 1)};
	struct manifest_entry t[] = {D("", 1), F("a", 1, 1), F("b", 1, 1)};
	s[1].nlink = s[2].nlink = 2;
	s[2].leader = "a";
	struct manifest_diff d;
	diff_of(s, 3, t, 3, true, &d); /* the target lacks the link */
	assert_true(d.full);
	assert_non_null(strstr(d.why, "b"));
	manifest_diff_free(&d);
	t[2].leader = "a";
	diff_of(s, 3, t, 3, true, &d); /* linked alike: nothing to do */
	assert_false(d.full);
	assert_int_equal(d.paths.len, 0);
	manifest_diff_free(&d);
	struct manifest_entry s2[] = {D("", 1), D("n", 1), F("n/h", 1, 1)};
	s2[2].nlink = 2;
	diff_of(s2, 3, t, 1, true, &d); /* a linked file inside a new tree */
	assert_true(d.full);
	manifest_diff_free(&d);
}

static void test_top_mode_is_a_full_pass(void **state)
{
	(void)state;
	struct manifest_entry s[] = {D("", 1)}, t[] = {D("", 1)};
	t[0].mode = 0700;
	struct manifest_diff d;
	diff_of(s, 1, t, 1, true, &d);
	assert_true(d.full);
	manifest_diff_free(&d);
}

/* The stream's text fed to a reader; returns its verdict on each record. */
static int read_all(const char *data, size_t len, char **err, size_t *records)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, len), (ssize_t)len);
	close(fds[1]);
	struct manifest_reader *r = manifest_reader_new(fds[0]);
	struct manifest_entry e;
	int rc;
	*records = 0;
	while ((rc = manifest_read(r, &e, err)) == 1)
		(*records)++;
	manifest_reader_free(r);
	close(fds[0]);
	return rc;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_stream_read(void **state)
{
	(void)state;
	char *err = NULL;
	size_t n;
	assert_int_equal(read_all(S("lifeboat-manifest 1 1\n"
				    "d 755 0 0 0 1 2 0\n\0"
				    "u 33\nwww-data\0"
				    "f 644 33 33 5 10 999999999 0\na\nb\0"
				    "l 777 0 0 0 1 0 0\nln\0a\nb\0"
				    "f 644 0 0 5 10 0 1\nz\0a\nb\0"
				    "end 4\n"),
				  &err, &n),
			 0);
	assert_int_equal(n, 4);
	assert_null(err);
}

static void test_stream_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *data;
		size_t len;
		const char *why;
	} bad[] = {
		{S("garbage\n"), "record 1: not a lifeboat manifest"},
		{S("lifeboat-manifest 1 1\n"), "record 1: the stream ended early"},
		{S("lifeboat-manifest 1 1\nf 644 0 0 0 1 2 0\n\0"), "record 1: the first entry"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0f 999 x\n"), "record 2: malformed"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0f 644 0 0 1 1 1000000000 0\na\0"),
		 "record 2: malformed"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0f 644 0 0 1 1 1 0\n../x\0"),
		 "record 2: not a plain relative path"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0f 644 0 0 1 1 1 0\nb\0"
		   "f 644 0 0 1 1 1 0\na\0"),
		 "record 3: path out of order"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0f 644 0 0 1 1 1 0\nb"),
		 "record 2: truncated path"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0x 1\n"), "record 2: unknown entry"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0end 7\n"), "bad end record"},
		{S("lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0d 755 0 0 0 1 2 1\na\0b\0"),
		 "bad hard link leader"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *err = NULL;
		size_t n;
		assert_int_equal(read_all(bad[i].data, bad[i].len, &err, &n), -1);
		assert_non_null(err);
		if (!strstr(err, bad[i].why))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].why);
		assert_null(strchr(err, '\n'));
		free(err);
	}
}

/* A tree written and read back: the walk's order, the history skipped. */
static void test_walk_round_trip(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_manifest.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p a/b 'a b' .lifeboat-history/r && touch a/b/f 'a b/g' z "
		 ".lifeboat-history/r/h && ln -s z l && ln z hard",
		 dir);
	assert_int_equal(system(cmd), 0);
	char *err = NULL;
	struct manifest_walk *w = manifest_walk_open(dir, NULL, &err);
	assert_non_null(w);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(manifest_write(w, fds[1], false, NULL, &err), 0);
	close(fds[1]);
	manifest_walk_free(w);
	struct manifest_reader *r = manifest_reader_new(fds[0]);
	const char *want[] = {"", "a", "a/b", "a/b/f", "a b", "a b/g", "hard", "l", "z", NULL};
	struct manifest_entry e;
	size_t i = 0;
	while (manifest_read(r, &e, &err) == 1) {
		assert_non_null(want[i]);
		assert_string_equal(e.path, want[i]);
		if (!strcmp(e.path, "l"))
			assert_string_equal(e.target, "z");
		if (!strcmp(e.path, "z"))
			assert_string_equal(e.leader, "hard");
		i++;
	}
	assert_null(err);
	assert_null(want[i]);
	manifest_reader_free(r);
	close(fds[0]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_in_sync),
		cmocka_unit_test(test_every_difference),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_hard_links_are_rsyncs),
		cmocka_unit_test(test_top_mode_is_a_full_pass),
		cmocka_unit_test(test_stream_read),
		cmocka_unit_test(test_stream_malformed),
		cmocka_unit_test(test_walk_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
