#include "beneath.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool beneath_rel_ok(const char *rel)
{
	if (rel[0] == '/')
		return false;
	if (!rel[0])
		return true;
	for (const char *p = rel;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

int beneath_open_dir(int root_fd, const char *rel, bool create, char **err)
{
	if (!beneath_rel_ok(rel)) {
		*err = xasprintf("'%s' is not a plain relative path", rel);
		errno = EINVAL;
		return -1;
	}
	int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *copy = xstrdup(rel);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); fd >= 0 && c; c = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, c, 0700) == 0 || errno == EEXIST)
				next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int saved = errno;
		close(fd);
		fd = next;
		errno = saved;
	}
	if (fd < 0) {
		int saved = errno;
		*err = xasprintf("cannot open %s: %s", rel,
				 saved == ELOOP || saved == ENOTDIR ? "not a directory (or a symlink)"
								   : strerror(saved));
		errno = saved;
	}
	free(copy);
	return fd;
}

void beneath_remove_tree(int dir_fd, const char *name)
{
	if (unlinkat(dir_fd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
		return;
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			beneath_remove_tree(dirfd(d), e->d_name);
	closedir(d);
	unlinkat(dir_fd, name, AT_REMOVEDIR);
}
