/* history: durations, sizes and times; which version was on the target at
 * a time; serve's request words and rsync argument checks. */
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
#include "config.h"
#include "history.h"
#include "history_client.h"
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

/* A name renamed away and a new file under it, replaced before the
 * renamed one: at a time before the rename, the renamed one is picked. */
static void test_pick_name_reused(void **state)
{
	(void)state;
	struct version v[] = {ver("a", 300, 400), ver("a", 100, 0)};
	struct version_list l = {.v = v, .len = 2, .cap = 2};
	const struct version **out;
	assert_int_equal(history_pick(&l, 150, &out), 1);
	assert_ptr_equal(out[0], &v[1]);
	free(out);
}

/* A rename log's bytes: "SECONDS.NANOSECONDS\0FROM\0TO\0" each. */
static void log_rename(struct buf *b, time_t t, long ns, const char *from, const char *to)
{
	buf_addf(b, "%lld.%09ld", (long long)t, ns);
	buf_add(b, "", 1);
	buf_add(b, from, strlen(from) + 1);
	buf_add(b, to, strlen(to) + 1);
}

/* A version where the target keeps it now: rel, arrived, replaced (0: live). */
static struct version kept(const char *path, const char *rel, time_t born, time_t replaced)
{
	return (struct version){.path = (char *)path, .rel = (char *)rel, .born = born,
				.replaced = replaced};
}

/* The row of out under name, renamed to `to` (NULL: not renamed). */
static const struct version *row(const struct version_list *out, const char *name,
				 const char *to, time_t since)
{
	for (size_t i = 0; i < out->len; i++) {
		const struct version *v = &out->v[i];
		if (!strcmp(v->rel, name) && v->since == since &&
		    (to ? v->renamed_to && !strcmp(v->renamed_to, to) : !v->renamed_to))
			return v;
	}
	return NULL;
}

struct versions_fixture {
	struct buf log;
	struct version v[12];
	struct version_list all;
};

/* report.pdf overwritten at 200, renamed to old/r.pdf at 300; docs (a
 * overwritten at 150) renamed to arch/d at 310; c1 overwritten at 160,
 * renamed to c2 at 320 and to c3 at 330; x renamed to y at 340 and a new
 * x made at 350; q renamed to q2 in the second it arrived; z untouched. */
static void versions_fixture(struct versions_fixture *f)
{
	buf_init(&f->log);
	log_rename(&f->log, 300, 0, "report.pdf", "old/r.pdf");
	log_rename(&f->log, 310, 0, "docs", "arch/d");
	log_rename(&f->log, 320, 0, "c1", "c2");
	log_rename(&f->log, 330, 0, "c2", "c3");
	log_rename(&f->log, 340, 0, "x", "y");
	log_rename(&f->log, 400, 500000000, "q", "q2");
	struct version v[] = {
		kept("H1/report.pdf", "report.pdf", 100, 200), kept("old/r.pdf", "old/r.pdf", 200, 0),
		kept("H2/docs/a", "docs/a", 100, 150),	   kept("arch/d/a", "arch/d/a", 150, 0),
		kept("arch/d/b", "arch/d/b", 100, 0),	   kept("H3/c1", "c1", 100, 160),
		kept("c3", "c3", 160, 0),		   kept("y", "y", 100, 0),
		kept("x", "x", 350, 0),			   kept("q2", "q2", 400, 0),
		kept("z", "z", 100, 0),
	};
	memcpy(f->v, v, sizeof(v));
	f->all = (struct version_list){.v = f->v, .len = sizeof(v) / sizeof(*v)};
}

/* Rows (and moves) of versions for one path of the fixture. */
static void rows_for(struct versions_fixture *f, const char *rel, struct version_list *out)
{
	history_versions_rows(f->log.data, f->log.len, rel, &f->all, out);
}

/* versions across renames: a file, a directory, a chain, a name reused,
 * a rename in the second the file arrived; rows are [since, until) under
 * one name each, the name's renames are reported. */
static void test_versions_renames(void **state)
{
	(void)state;
	struct versions_fixture f;
	versions_fixture(&f);
	struct version_list out;

	/* From the new name: the version kept under the old one, the old
	 * name until the rename, the new name since. */
	rows_for(&f, "old/r.pdf", &out);
	assert_int_equal(out.len, 3);
	const struct version *r = row(&out, "report.pdf", NULL, 100);
	assert_non_null(r);
	assert_int_equal(r->until, 200);
	assert_string_equal(r->path, "H1/report.pdf");
	assert_non_null(r = row(&out, "report.pdf", "old/r.pdf", 200));
	assert_int_equal(r->until, 300);
	assert_string_equal(r->path, "old/r.pdf");
	assert_non_null(r = row(&out, "old/r.pdf", NULL, 300));
	assert_int_equal(r->until, 0);
	assert_int_equal(out.n_moves, 1);
	assert_string_equal(out.moves[0].from, "report.pdf");
	assert_string_equal(out.moves[0].to, "old/r.pdf");
	assert_int_equal(out.moves[0].when, 300);
	version_list_free(&out);

	/* From the old name: the same, and where it went. */
	rows_for(&f, "report.pdf", &out);
	assert_int_equal(out.len, 3);
	assert_non_null(row(&out, "old/r.pdf", NULL, 300));
	assert_int_equal(out.n_moves, 1);
	assert_string_equal(out.moves[0].to, "old/r.pdf");
	version_list_free(&out);

	/* A directory renamed: each file under its names. */
	const char *dirs[] = {"arch/d", "docs", "arch", "arch/d/a"};
	for (size_t i = 0; i < 4; i++) {
		rows_for(&f, dirs[i], &out);
		assert_int_equal(out.len, i == 3 ? 3 : 5);
		assert_non_null(row(&out, "docs/a", NULL, 100));
		assert_non_null(row(&out, "docs/a", "arch/d/a", 150));
		assert_non_null(row(&out, "arch/d/a", NULL, 310));
		if (i < 3) {
			assert_non_null(row(&out, "docs/b", "arch/d/b", 100));
			assert_non_null(row(&out, "arch/d/b", NULL, 310));
		}
		assert_int_equal(out.n_moves, i == 2 ? 0 : 1);
		version_list_free(&out);
	}

	/* A chain of two renames, from either end or the middle. */
	const char *chain[] = {"c3", "c1", "c2"};
	for (size_t i = 0; i < 3; i++) {
		rows_for(&f, chain[i], &out);
		assert_int_equal(out.len, 4);
		assert_non_null(r = row(&out, "c1", NULL, 100));
		assert_int_equal(r->until, 160);
		assert_non_null(r = row(&out, "c1", "c2", 160));
		assert_int_equal(r->until, 320);
		assert_non_null(r = row(&out, "c2", "c3", 320));
		assert_int_equal(r->until, 330);
		assert_non_null(row(&out, "c3", NULL, 330));
		assert_int_equal(out.n_moves, 2);
		assert_int_equal(out.moves[0].when, 320);
		assert_int_equal(out.moves[1].when, 330);
		version_list_free(&out);
	}

	/* A name reused: x's old content went to y; the new x is x's, not y's. */
	rows_for(&f, "x", &out);
	assert_int_equal(out.len, 3);
	assert_non_null(row(&out, "x", "y", 100));
	assert_non_null(row(&out, "y", NULL, 340));
	assert_non_null(row(&out, "x", NULL, 350));
	version_list_free(&out);
	rows_for(&f, "y", &out);
	assert_int_equal(out.len, 2);
	assert_null(row(&out, "x", NULL, 350));
	version_list_free(&out);

	/* Renamed in the second it arrived: no second under the old name to
	 * restore from, so no row there; the old name still finds it. */
	rows_for(&f, "q", &out);
	assert_int_equal(out.len, 1);
	assert_non_null(row(&out, "q2", NULL, 400));
	assert_int_equal(out.n_moves, 1);
	version_list_free(&out);

	/* Untouched, and the whole tree. */
	rows_for(&f, "z", &out);
	assert_int_equal(out.len, 1);
	assert_int_equal(out.n_moves, 0);
	version_list_free(&out);
	rows_for(&f, "", &out);
	assert_int_equal(out.len, 3 + 5 + 4 + 3 + 1 + 1);
	version_list_free(&out);
	buf_free(&f.log);
}

/* serve's versions records, read by this lifeboat: rows with the name a
 * rename gave them, the path's renames, names that look like numbers or
 * records, and a serve from before renames were followed (four numbers). */
static void test_parse_versions(void **state)
{
	(void)state;
	static const char rec[] = "0 300 250 5 0 200\told/r.pdf\0"
				  "300 200 250 5 0 200\treport.pdf\0to\told/r.pdf\0"
				  "0 1 2 3 0 1\t9 9 9\tto\tx\0"
				  "renamed 300\treport.pdf\0to\told/r.pdf\0"
				  "0 100 100 5\t2026 7 x\0"
				  "junk\0to\tnowhere\0"
				  "renamed 9\tcut short\0";
	struct version_list l;
	history_parse_versions("/dr", rec, sizeof(rec) - 1, &l);
	assert_int_equal(l.len, 4);
	assert_string_equal(l.v[0].rel, "old/r.pdf");
	assert_string_equal(l.v[0].path, "/dr/old/r.pdf");
	assert_int_equal(l.v[0].until, 0);
	assert_int_equal(l.v[0].since, 300);
	assert_int_equal(l.v[0].born, 200);
	assert_null(l.v[0].renamed_to);
	assert_int_equal(l.v[1].until, 300);
	assert_string_equal(l.v[1].renamed_to, "old/r.pdf");
	assert_string_equal(l.v[2].rel, "9 9 9\tto\tx");
	assert_null(l.v[2].renamed_to);
	assert_string_equal(l.v[3].rel, "2026 7 x"); /* an old serve's row */
	assert_int_equal(l.v[3].replaced, 0);
	assert_int_equal(l.v[3].born, 100);
	assert_int_equal(l.v[3].since, 100);
	assert_null(l.v[3].renamed_to); /* the "to" after junk is no one's */
	assert_int_equal(l.n_moves, 1);
	assert_string_equal(l.moves[0].from, "report.pdf");
	assert_string_equal(l.moves[0].to, "old/r.pdf");
	assert_int_equal(l.moves[0].when, 300);
	version_list_free(&l);
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

/* A target (root, a mkdtemp template) holding b and c/x, whose log says
 * a was renamed to b at AT+5 and d to c at AT+6. Returns AT. */
static time_t renamed_tree(char *root)
{
	assert_non_null(mkdtemp(root));
	char *p = NULL;
	assert_true(asprintf(&p, "mkdir -p %s/c %s/.lifeboat-history && echo b >%s/b && "
				 "echo x >%s/c/x", root, root, root, root) > 0);
	assert_int_equal(system(p), 0);
	free(p);
	time_t at = time(NULL) + 2;
	struct buf b;
	buf_init(&b);
	log_rename(&b, at + 5, 0, "a", "b");
	log_rename(&b, at + 6, 0, "d", "c");
	assert_true(asprintf(&p, "%s/.lifeboat-history/.renames", root) > 0);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	free(p);
	buf_free(&b);
	return at;
}

/* restore's plan: renames the target logged after `at` are undone (a file
 * and a directory come back under their old names, found under their new
 * ones), and the new names are what a restore removes from the source. */
static void test_plan_renames(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-plan-XXXXXX";
	time_t at = renamed_tree(root);
	char *p = NULL;

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

/* What versions lists is what restore brings back: for each row, the plan
 * of its name at its time picks that version, under that name. */
static void test_versions_restore(void **state)
{
	(void)state;
	char root[] = "/tmp/lifeboat-versions-XXXXXX";
	time_t at = renamed_tree(root);
	char *p = NULL;

	struct version_list out;
	char *err = NULL;
	assert_int_equal(history_versions(root, "", &out, &err), 0);
	assert_int_equal(out.len, 4); /* a then b, d/x then c/x */
	for (size_t i = 0; i < out.len; i++) {
		const struct version *v = &out.v[i];
		struct restore_plan plan;
		assert_int_equal(history_plan(root, v->rel, v->since, &plan, &err), 0);
		assert_int_equal(plan.n_pick, 1);
		assert_string_equal(plan.pick[0]->path, v->path);
		assert_string_equal(plan.pick[0]->as, v->rel);
		restore_plan_free(&plan);
	}
	assert_non_null(row(&out, "a", "b", out.v[0].born));
	assert_non_null(row(&out, "c/x", NULL, at + 6));
	version_list_free(&out);
	assert_int_equal(history_versions(root, "d", &out, &err), 0);
	assert_int_equal(out.len, 2);
	assert_int_equal(out.n_moves, 1);
	assert_string_equal(out.moves[0].to, "c");
	version_list_free(&out);
	assert_true(asprintf(&p, "rm -rf %s", root) > 0);
	assert_int_equal(system(p), 0);
	free(p);
}

static void put(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static ino_t inode_of(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct stat st;
	int rc = lstat(path, &st);
	free(path);
	return rc == 0 ? st.st_ino : 0;
}

/* A staging filled by rsync --link-dest holds the target's unchanged
 * files as links: the merge leaves them where they are (nothing kept in
 * the history), moves a changed file in (the old one kept) and a new
 * name linked to the target's file in as that link. */
static void test_merge_linked(void **state)
{
	(void)state;
	char root[] = "/tmp/lb-test-merge-XXXXXX";
	assert_non_null(mkdtemp(root));
	put(root, "same", "unchanged\n");
	put(root, "changed", "old\n");
	char *staging = history_temp_dir(root, "verified");
	assert_non_null(staging);
	char *a = xasprintf("%s/same", root), *b = xasprintf("%s/same", staging),
	     *c = xasprintf("%s/twin", staging);
	assert_int_equal(link(a, b), 0);
	assert_int_equal(link(a, c), 0);
	put(staging, "changed", "new\n");
	ino_t same = inode_of(root, "same");
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	char *run = history_run_dir("");
	char *err = NULL;
	assert_int_equal(history_merge_then(fd, staging + strlen(root) + 1, run, false, &err), 0);
	assert_int_equal(inode_of(root, "same"), same);
	assert_int_equal(inode_of(root, "twin"), same);
	char *kept = xasprintf("%s/%s", root, run);
	assert_int_equal(inode_of(kept, "same"), 0); /* not kept: it was not replaced */
	assert_int_not_equal(inode_of(kept, "changed"), 0);
	history_staging_remove(fd, staging + strlen(root) + 1);
	assert_int_equal(inode_of(root, "same"), same);
	close(fd);
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
	beneath_remove_tree(tmp, root + strlen("/tmp/"));
	close(tmp);
	free(a);
	free(b);
	free(c);
	free(staging);
	free(run);
	free(kept);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations), cmocka_unit_test(test_pick),
		cmocka_unit_test(test_merge_linked),
		cmocka_unit_test(test_plan_renames), cmocka_unit_test(test_pick_name_reused),
		cmocka_unit_test(test_versions_renames), cmocka_unit_test(test_versions_restore),
		cmocka_unit_test(test_parse_versions),
		cmocka_unit_test(test_rel_paths), cmocka_unit_test(test_split),
		cmocka_unit_test(test_rsync_args), cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
