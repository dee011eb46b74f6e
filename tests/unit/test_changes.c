/* Unit tests for the change queue: aggregation, renames, trees, collapse,
 * requeue after a failed transfer. Pure logic, no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "changes.h"

static bool has(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

static void test_aggregates_duplicates(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "a", CH_PATH, false, 10);
	changes_add(q, "a", CH_PATH, false, 20);
	changes_add(q, "b", CH_PATH, false, 30);
	assert_int_equal(changes_count(q), 2);
	assert_int_equal(changes_oldest_age(q, 100), 90);
	struct batch b;
	assert_true(changes_take(q, &b, 100, 1000, 5000));
	assert_int_equal(b.paths.len, 2);
	assert_int_equal(b.oldest_ms, 10);
	assert_true(changes_empty(q));
	batch_free(&b);
	changes_free(q);
}

/* A created file is CH_NEW_FILE through its writes; a creation on top of a
 * pending change (a deletion not shipped yet) stays a plain path; after a
 * failed transfer new files come back as plain paths (rsync's). */
static void test_new_files(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "new", CH_NEW_FILE, true, 10);
	changes_add(q, "new", CH_PATH, true, 11);
	changes_closed(q, "new", 12);
	changes_add(q, "gone-then-back", CH_PATH, false, 10);
	changes_add(q, "gone-then-back", CH_NEW_FILE, true, 11);
	changes_closed(q, "gone-then-back", 12);
	struct batch b;
	assert_true(changes_take(q, &b, 100, 1000, 5000));
	assert_int_equal(b.new_files.len, 1);
	assert_true(has(&b.new_files, "new"));
	assert_int_equal(b.paths.len, 1);
	assert_true(has(&b.paths, "gone-then-back"));
	changes_add(q, "new", CH_NEW_FILE, false, 200); /* again while b is in flight */
	changes_requeue(q, &b);
	assert_true(changes_take(q, &b, 300, 1000, 5000));
	assert_int_equal(b.new_files.len, 0);
	assert_int_equal(b.paths.len, 2);
	assert_true(has(&b.paths, "new"));
	batch_free(&b);
	changes_free(q);
}

/* A rename while a batch is in flight: the batch's paths under the old name
 * may vanish before they are sent; they are queued under the new one. */
static void test_rename_during_flight(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "old/two", CH_NEW_FILE, false, 10);
	changes_add(q, "old/sub", CH_TREE, false, 10);
	changes_add(q, "other", CH_PATH, false, 10);
	struct batch b;
	assert_true(changes_take(q, &b, 100, 1000, 5000));
	changes_rename(q, "old", "renamed", true, 110);
	changes_renamed_in_flight(q, &b, "old", "renamed", 110);
	batch_free(&b);
	assert_true(changes_take(q, &b, 200, 1000, 5000));
	assert_int_equal(b.n_renames, 1);
	assert_true(has(&b.paths, "renamed/two"));
	assert_true(has(&b.trees, "renamed/sub"));
	assert_false(has(&b.paths, "other"));
	batch_free(&b);
	changes_free(q);
}

static void test_tree_absorbs_descendants(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "d/x", CH_PATH, false, 1);
	changes_add(q, "d/sub/y", CH_PATH, false, 2);
	changes_add(q, "dd/z", CH_PATH, false, 3); /* not below "d" */
	changes_add(q, "d", CH_TREE, false, 4);
	changes_add(q, "d/later", CH_PATH, false, 5); /* covered */
	assert_int_equal(changes_count(q), 2);
	struct batch b;
	assert_true(changes_take(q, &b, 10, 1000, 5000));
	assert_int_equal(b.trees.len, 1);
	assert_string_equal(b.trees.items[0], "d");
	assert_true(has(&b.paths, "dd/z"));
	assert_int_equal(b.oldest_ms, 1); /* the absorbed change keeps its age */
	batch_free(&b);
	changes_free(q);
}

static void test_writing_held_until_closed_or_quiet(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "log", CH_PATH, true, 100);
	struct batch b;
	assert_false(changes_take(q, &b, 200, 1000, 5000));
	batch_free(&b);
	assert_int_equal(changes_next_ready_ms(q, 1000, 5000), 1100);
	changes_closed(q, "log", 300);
	assert_true(changes_take(q, &b, 300, 1000, 5000));
	assert_true(has(&b.paths, "log"));
	batch_free(&b);
	/* Still open but quiet: shipped after the quiet time. */
	changes_add(q, "log2", CH_PATH, true, 1000);
	assert_false(changes_take(q, &b, 1500, 1000, 5000));
	batch_free(&b);
	assert_true(changes_take(q, &b, 2000, 1000, 5000));
	batch_free(&b);
	/* Written continuously: shipped at the hold limit anyway. */
	for (int64_t t = 10000; t <= 15000; t += 500)
		changes_add(q, "busy", CH_PATH, true, t);
	assert_true(changes_take(q, &b, 15000, 1000, 5000));
	assert_true(has(&b.paths, "busy"));
	batch_free(&b);
	changes_free(q);
}

static void test_rename_moves_pending_entries(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "dir/file", CH_PATH, false, 1);
	changes_add(q, "dirx/file", CH_PATH, false, 2);
	changes_rename(q, "dir", "new", true, 3);
	struct batch b;
	assert_true(changes_take(q, &b, 10, 1000, 5000));
	assert_int_equal(b.n_renames, 1);
	assert_string_equal(b.renames[0].from, "dir");
	assert_string_equal(b.renames[0].to, "new");
	assert_true(b.renames[0].is_dir);
	assert_true(has(&b.paths, "new/file"));
	assert_true(has(&b.paths, "dirx/file")); /* a prefix is not a parent */
	assert_false(has(&b.paths, "dir/file"));
	batch_free(&b);
	changes_free(q);
}

static void test_requeue_applies_later_renames(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "a", CH_PATH, false, 1);
	struct batch b;
	assert_true(changes_take(q, &b, 5, 1000, 5000));
	/* While "a" was in flight it was renamed; then the transfer failed. */
	changes_rename(q, "a", "b", false, 6);
	changes_requeue(q, &b);
	struct batch c;
	assert_true(changes_take(q, &c, 10, 1000, 5000));
	assert_int_equal(c.n_renames, 1);
	assert_true(has(&c.paths, "b")); /* the update follows the new name */
	assert_false(has(&c.paths, "a"));
	assert_int_equal(c.oldest_ms, 1);
	batch_free(&c);
	changes_free(q);
}

static void test_requeue_keeps_rename_order(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_rename(q, "x", "y", false, 1);
	struct batch b;
	assert_true(changes_take(q, &b, 2, 1000, 5000));
	changes_rename(q, "y", "z", false, 3);
	changes_requeue(q, &b);
	struct batch c;
	assert_true(changes_take(q, &c, 4, 1000, 5000));
	assert_int_equal(c.n_renames, 2);
	assert_string_equal(c.renames[0].from, "x");
	assert_string_equal(c.renames[1].from, "y");
	batch_free(&c);
	changes_free(q);
}

static void test_collapse_stays_bounded_and_loses_nothing(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(100);
	char path[64];
	for (int d = 0; d < 20; d++)
		for (int f = 0; f < 50; f++) {
			snprintf(path, sizeof(path), "top/d%02d/f%02d", d, f);
			changes_add(q, path, CH_PATH, false, d * 100 + f);
		}
	assert_true(changes_count(q) <= 100);
	assert_true(changes_collapses(q) >= 1);
	struct batch b;
	assert_true(changes_take(q, &b, 100000, 1000, 5000));
	/* Every original path is covered by a tree (or a full pass). */
	for (int d = 0; d < 20; d++) {
		snprintf(path, sizeof(path), "top/d%02d", d);
		assert_true(b.full || has(&b.trees, path) || has(&b.trees, "top") ||
			    has(&b.trees, ""));
	}
	assert_int_equal(b.oldest_ms, 0);
	batch_free(&b);
	changes_free(q);
}

static void test_full_pass_absorbs_everything(void **state)
{
	(void)state;
	struct change_queue *q = changes_new(1000);
	changes_add(q, "a", CH_PATH, false, 5);
	changes_full(q, 7);
	changes_add(q, "b", CH_PATH, false, 9);
	assert_int_equal(changes_count(q), 1);
	struct batch b;
	assert_true(changes_take(q, &b, 10, 1000, 5000));
	assert_true(b.full);
	assert_int_equal(b.oldest_ms, 5);
	assert_int_equal(b.paths.len, 0);
	batch_free(&b);
	changes_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aggregates_duplicates),
		cmocka_unit_test(test_new_files),
		cmocka_unit_test(test_rename_during_flight),
		cmocka_unit_test(test_tree_absorbs_descendants),
		cmocka_unit_test(test_writing_held_until_closed_or_quiet),
		cmocka_unit_test(test_rename_moves_pending_entries),
		cmocka_unit_test(test_requeue_applies_later_renames),
		cmocka_unit_test(test_requeue_keeps_rename_order),
		cmocka_unit_test(test_collapse_stays_bounded_and_loses_nothing),
		cmocka_unit_test(test_full_pass_absorbs_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
