#include "exclude.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

struct pattern {
	char *glob;
	bool dirs_only;
};

struct exclude_set {
	struct pattern *patterns;
	size_t n;
	bool exact;
};

/* A pattern rsync matches against the base name only, as fnmatch() does. */
static bool name_pattern(const char *glob)
{
	return glob[0] && !strchr(glob, '/') && !strstr(glob, "**");
}

struct exclude_set *exclude_new(const struct strv *filters)
{
	struct exclude_set *x = xcalloc(1, sizeof(*x));
	x->exact = true;
	bool include_seen = false;
	for (size_t i = 0; filters && i < filters->len; i++) {
		const char *rule = filters->items[i];
		if (strncmp(rule, "- ", 2) != 0) {
			include_seen = true;
			x->exact = false;
			continue;
		}
		const char *p = rule + 2;
		size_t n = strlen(p);
		bool dirs_only = n > 1 && p[n - 1] == '/';
		char *glob = xstrndup(p, dirs_only ? n - 1 : n);
		if (include_seen || !name_pattern(glob)) {
			x->exact = false;
			free(glob);
			continue;
		}
		x->patterns = xrealloc(x->patterns, (x->n + 1) * sizeof(*x->patterns));
		x->patterns[x->n++] = (struct pattern){glob, dirs_only};
	}
	return x;
}

void exclude_free(struct exclude_set *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++)
		free(x->patterns[i].glob);
	free(x->patterns);
	free(x);
}

bool exclude_match(const struct exclude_set *x, const char *name, bool is_dir)
{
	for (size_t i = 0; x && i < x->n; i++) {
		if (x->patterns[i].dirs_only && !is_dir)
			continue;
		if (fnmatch(x->patterns[i].glob, name, 0) == 0)
			return true;
	}
	return false;
}

bool exclude_exact(const struct exclude_set *x)
{
	return x->exact;
}
