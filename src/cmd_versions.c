/* lifeboat versions PATH [--json]: the versions of PATH (a file, or every
 * file below a directory) that the target's history keeps, across the
 * renames the sync carried out there: one row per version and name it had,
 * with the time it had it (what `restore --at` that time brings back under
 * that name), newest first, the copies on the target now first of all;
 * before them, the renames of PATH itself, so a name renamed away says
 * where to. */
#include "commands.h"
#include "history_client.h"
#include "log.h"
#include "usage.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

/* Newest first: on the target now, then by when it left its name, latest
 * first, then by when it got it. */
static int newest_first(const void *pa, const void *pb)
{
	const struct version *a = pa, *b = pb;
	time_t ua = a->until ? a->until : (time_t)1 << 62;
	time_t ub = b->until ? b->until : (time_t)1 << 62;
	if (ua != ub)
		return ua > ub ? -1 : 1;
	if (a->since != b->since)
		return a->since > b->since ? -1 : 1;
	return strcmp(a->rel, b->rel);
}

/* "FROM: renamed to TO at TIME" for each rename of the path itself. */
static void print_moves(const struct version_list *l, bool on_stderr)
{
	for (size_t i = 0; i < l->n_moves; i++) {
		char when[40];
		fmt_time(l->moves[i].when, when, sizeof(when));
		if (on_stderr)
			log_info("versions: %s: renamed to %s at %s", l->moves[i].from,
				 l->moves[i].to, when);
		else
			printf("%s: renamed to %s at %s\n", l->moves[i].from, l->moves[i].to, when);
	}
}

static void print_text(const struct version_list *l)
{
	print_moves(l, false);
	printf("%-24s  %-24s  %-24s  %12s  %s\n", "SINCE", "UNTIL", "MODIFIED", "SIZE", "PATH");
	for (size_t i = 0; i < l->len; i++) {
		const struct version *v = &l->v[i];
		char since[40], until[40] = "(on the target now)", mod[40];
		fmt_time(v->since, since, sizeof(since));
		if (v->until)
			fmt_time(v->until, until, sizeof(until));
		fmt_time(v->mtime, mod, sizeof(mod));
		printf("%-24s  %-24s  %-24s  %12llu  %s", since, until, mod,
		       (unsigned long long)v->size, v->rel);
		if (v->renamed_to)
			printf(" (renamed to %s)", v->renamed_to);
		putchar('\n');
	}
}

static json_object *time_or_null(time_t t)
{
	return t ? json_object_new_int64(t) : NULL;
}

/* An array of rows, as before renames were followed (the rows' names and
 * renamed_to say the renames; the path's own are said on stderr). */
static void print_json(const struct version_list *l)
{
	print_moves(l, true);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < l->len; i++) {
		const struct version *v = &l->v[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(v->rel));
		json_object_object_add(o, "live", json_object_new_boolean(v->until == 0));
		json_object_object_add(o, "since", json_object_new_int64(v->since));
		json_object_object_add(o, "until", time_or_null(v->until));
		json_object_object_add(o, "renamed_to", v->renamed_to
								? json_object_new_string(v->renamed_to)
								: NULL);
		json_object_object_add(o, "replaced", time_or_null(v->replaced));
		json_object_object_add(o, "modified", json_object_new_int64(v->mtime));
		json_object_object_add(o, "arrived", json_object_new_int64(v->born));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)v->size));
		json_object_array_add(arr, o);
	}
	puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

/* The one PATH and --json, read by the command table (usage_parse). */
static int parse_args(int argc, char **argv, const char **path, bool *json)
{
	struct usage_args a;
	int rc = usage_parse("versions", argc, argv, &a);
	if (rc)
		return rc;
	*json = usage_has(&a, "--json");
	if (a.n_words > 1) {
		rc = usage_refuse("versions", a.words[1]);
	} else if (a.n_words == 0) {
		log_error("versions: which path? (usage: lifeboat versions %s)",
			  usage_find("versions")->synopsis);
		rc = EXIT_USAGE;
	} else {
		*path = a.words[0];
	}
	usage_args_free(&a);
	return rc;
}

int cmd_versions(const struct cli *cli, int argc, char **argv)
{
	bool json = false;
	const char *path = NULL;
	int rc = parse_args(argc, argv, &path, &json);
	if (rc)
		return rc;
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc != EXIT_OK)
		return rc;
	const struct sync_conf *sc;
	char *rel = NULL, *err = NULL;
	struct version_list l = {0};
	if (history_locate(&cfg, path, &sc, &rel, &err) < 0) {
		rc = EXIT_USAGE;
	} else if (history_fetch_versions(&cfg, sc, rel, &l, &err) < 0) {
		rc = EXIT_FAILED;
	} else {
		if (l.len)
			qsort(l.v, l.len, sizeof(*l.v), newest_first);
		if (json)
			print_json(&l);
		else
			print_text(&l);
	}
	if (err)
		log_error("versions: %s", err);
	free(err);
	free(rel);
	version_list_free(&l);
	config_free(&cfg);
	return rc;
}
