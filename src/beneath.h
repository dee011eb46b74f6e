/* beneath: file operations confined to a directory tree. Every path is
 * walked one component at a time with O_NOFOLLOW, so no symlink, "..", or
 * absolute name placed in the tree can lead outside it (what serve and the
 * history rely on when the other side is not trusted). */
#ifndef LIFEBOAT_BENEATH_H
#define LIFEBOAT_BENEATH_H

#include <stdbool.h>

/* Open the directory rel (relative, "" for root itself) below root_fd;
 * with create, missing components are made (mode 0700). Returns an fd, or
 * -1 with errno kept and *err a one-line reason. */
int beneath_open_dir(int root_fd, const char *rel, bool create, char **err);
/* Is rel a plain relative path (no "..", ".", empty components, no leading
 * '/')? "" is allowed (the root). */
bool beneath_rel_ok(const char *rel);
/* rm -r of name in dir_fd, never following a symlink. */
void beneath_remove_tree(int dir_fd, const char *name);

#endif
