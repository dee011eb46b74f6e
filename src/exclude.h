/* exclude: the part of the rsync filter rules lifeboat evaluates itself.
 * rsync applies every rule on every transfer; two places need an answer
 * before rsync runs: the watcher (excluded churn must not wake a sync) and
 * the tree stream (it lists the files itself). Kept are the "- PATTERN"
 * rules matched on a base name (no '/' inside, a trailing '/' for
 * directories only, no "**") that come before any include rule, since an
 * include could bring a later match back. exclude_exact() says whether
 * those are all the rules there are, i.e. whether our answer is rsync's. */
#ifndef LIFEBOAT_EXCLUDE_H
#define LIFEBOAT_EXCLUDE_H

#include <stdbool.h>

#include "util.h"

struct exclude_set;

/* filters: rsync filter rules, "- PATTERN" or "+ PATTERN". */
struct exclude_set *exclude_new(const struct strv *filters);
void exclude_free(struct exclude_set *x);
/* name: one path component. */
bool exclude_match(const struct exclude_set *x, const char *name, bool is_dir);
bool exclude_exact(const struct exclude_set *x);

#endif
