/*
 * gen_tree: create a tree of small files fast, like an unpacked archive.
 *
 *   gen_tree ROOT NDIRS NFILES [SIZE [DEPTH2]]
 *
 * Makes NDIRS directories ROOT/dNNNNN (or, with DEPTH2 = K > 0, spread over
 * K parent directories ROOT/pNNN/dNNNNN) and NFILES files of SIZE bytes
 * (default 4096) spread evenly over them: each directory is created, then
 * filled, then the next, as tar would.  Content is unique per file.  ROOT
 * must exist.  Prints nothing; exit 0 on success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s ROOT NDIRS NFILES [SIZE [PARENTS]]\n", argv[0]);
		return 2;
	}
	const char *root = argv[1];
	long ndirs = atol(argv[2]), nfiles = atol(argv[3]);
	size_t size = argc > 4 ? (size_t)atol(argv[4]) : 4096;
	long parents = argc > 5 ? atol(argv[5]) : 0;
	if (ndirs < 1 || nfiles < 0) {
		fprintf(stderr, "gen_tree: bad NDIRS/NFILES\n");
		return 2;
	}
	char *buf = malloc(size + 64);
	if (!buf)
		return 2;
	unsigned long long x = 0x9E3779B97F4A7C15ULL;
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (char)('!' + x % 90);
	}
	long f = 0;
	for (long d = 0; d < ndirs; d++) {
		char dir[PATH_MAX], path[PATH_MAX + 32];
		if (parents > 0) {
			snprintf(dir, sizeof dir, "%s/p%03ld", root, d % parents);
			if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
				perror(dir);
				return 1;
			}
			snprintf(dir, sizeof dir, "%s/p%03ld/d%05ld", root, d % parents, d);
		} else {
			snprintf(dir, sizeof dir, "%s/d%05ld", root, d);
		}
		if (mkdir(dir, 0755) < 0) {
			perror(dir);
			return 1;
		}
		long end = nfiles * (d + 1) / ndirs;
		for (; f < end; f++) {
			snprintf(path, sizeof path, "%s/f%07ld", dir, f);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0) {
				perror(path);
				return 1;
			}
			/* unique content: the index at the front */
			char tag[32];
			int n = snprintf(tag, sizeof tag, "%020ld\n", f);
			memcpy(buf, tag, (size_t)n < size ? (size_t)n : size);
			if (write_all(fd, buf, size) < 0 || close(fd) < 0) {
				perror(path);
				return 1;
			}
		}
	}
	return 0;
}
