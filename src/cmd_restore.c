/* lifeboat restore [--at TIME] [--to DIR] PATH...: bring each PATH back
 * from the target's history as it was at TIME (default: now), under the
 * names it had then, into the source (from where it replicates again; what
 * was not there at TIME is removed, and the target keeps it in its
 * history) or into DIR/NAME (nothing removed). docs/serve.md has the
 * rules. */
#include "commands.h"
#include "history_client.h"
#include "log.h"
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct restore_args {
	time_t at;
	const char *to;
	struct usage_args words; /* owns the list of PATHs */
};

static int parse_args(int argc, char **argv, struct restore_args *a)
{
	a->at = time(NULL);
	int rc = usage_parse("restore", argc, argv, &a->words);
	if (rc)
		return rc;
	a->to = usage_value(&a->words, "--to");
	const char *at = usage_value(&a->words, "--at");
	if (at && !history_parse_time(at, time(NULL), &a->at)) {
		log_error("restore: --at '%s' is not a time (ISO 8601 such as 2026-12-06T09:30:00Z, "
			  "or -15m, -2h, -1d)", at);
		rc = EXIT_USAGE;
	} else if (!a->words.n_words) {
		log_error("restore: which path? (usage: lifeboat restore %s)",
			  usage_find("restore")->synopsis);
		rc = EXIT_USAGE;
	}
	if (rc)
		usage_args_free(&a->words);
	return rc;
}

static int count_components(const char *rel)
{
	int n = *rel ? 1 : 0;
	for (const char *p = rel; *p; p++)
		n += *p == '/';
	return n;
}

/* Where the archive is unpacked, and how many leading components go: into
 * the source as it is; into DIR/NAME with NAME the path's last component. */
static char *destination(const struct sync_conf *sc, const char *rel, const char *to, int *strip,
			 char **err)
{
	if (!to) {
		*strip = 0;
		return xstrdup(sc->source);
	}
	const char *slash = strrchr(rel, '/');
	const char *name = *rel ? (slash ? slash + 1 : rel) : strrchr(sc->source, '/') + 1;
	*strip = *rel ? count_components(rel) - 1 : 0;
	char *dest = *rel ? xstrdup(to) : xasprintf("%s/%s", to, name);
	if (mkdir_p(dest, 0755) < 0) {
		*err = xasprintf("cannot create %s: %s", dest, strerror(errno));
		free(dest);
		return NULL;
	}
	return dest;
}

static int restore_one(const struct config *cfg, const struct restore_args *a, const char *path)
{
	const struct sync_conf *sc;
	char *rel = NULL, *err = NULL;
	if (history_locate(cfg, path, &sc, &rel, &err) < 0) {
		log_error("restore: %s", err);
		free(err);
		return EXIT_USAGE;
	}
	int strip;
	char *dest = destination(sc, rel, a->to, &strip, &err);
	struct restore_stats st;
	int rc = EXIT_FAILED;
	if (dest && history_restore(cfg, sc, rel, a->at, dest, strip, !a->to, isatty(2), &st,
				    &err) == 0) {
		char when[40];
		struct tm tm;
		localtime_r(&a->at, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
		log_info("restored %s as it was at %s: %llu files into %s%s", path, when,
			 (unsigned long long)st.files, dest, a->to ? "" : " (it replicates again)");
		if (st.removed)
			log_info("removed %llu names under %s that did not exist at %s (the target "
				 "keeps them in its history once the sync replicates this)",
				 (unsigned long long)st.removed, path, when);
		if (st.left)
			log_warn("restore: %llu files new since %s were left in place: they changed "
				 "after they reached the target", (unsigned long long)st.left, when);
		if (st.files == 0)
			log_warn("restore: the history has no version of %s from %s", path, when);
		rc = EXIT_OK;
	} else {
		log_error("restore: %s: %s", path, err ? err : "failed");
	}
	free(err);
	free(dest);
	free(rel);
	return rc;
}

int cmd_restore(const struct cli *cli, int argc, char **argv)
{
	struct restore_args a = {0};
	int rc = parse_args(argc, argv, &a);
	if (rc != EXIT_OK)
		return rc;
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc != EXIT_OK) {
		usage_args_free(&a.words);
		return rc;
	}
	for (int i = 0; i < a.words.n_words; i++) {
		int r = restore_one(&cfg, &a, a.words.words[i]);
		if (r != EXIT_OK && rc == EXIT_OK)
			rc = r;
	}
	usage_args_free(&a.words);
	config_free(&cfg);
	return rc;
}
