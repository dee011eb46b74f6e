/* links: the names a tree gives one file (hard links). rsync keeps hard
 * links only between names in one transfer, so a transfer of some of a
 * file's names must list all of them, wherever in the tree they are. */
#ifndef LIFEBOAT_LINKS_H
#define LIFEBOAT_LINKS_H

#include "util.h"

struct exclude_set;

/* Is rel (below root) a regular file with more than one name? */
bool links_has_twins(const char *root, const char *rel);
/* Every name below root of the regular files at rels that have more than
 * one name, rels' own included, each once: excludes as the watcher judges
 * them (x may be NULL), never through a symlink, the top directory's
 * history left out. The walk stops once every name of each is found.
 * 0, or -1 with *err (root unreadable). */
int links_names(const char *root, const struct strv *rels, const struct exclude_set *x,
		struct strv *out, char **err);
/* The regular files with more than one name below the directories dirs. */
void links_below(const char *root, const struct strv *dirs, const struct exclude_set *x,
		 struct strv *out);

#endif
