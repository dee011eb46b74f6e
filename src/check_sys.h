/* check_sys: what the check rules ask the machine, read-only. Owns the ssh
 * probe (argv, BatchMode, bounded; the remote command's words quoted for the
 * remote shell, never a local one) and its one-line diagnosis, the block
 * device and I/O scheduler behind a path (sysfs), and free space, local
 * (statvfs) or remote (df -P over ssh). */
#ifndef LIFEBOAT_CHECK_SYS_H
#define LIFEBOAT_CHECK_SYS_H

#include <stdbool.h>
#include <stddef.h>

#include "child.h"
#include "peer.h"


/* Run words (the remote command) on s with BatchMode and timeouts; t0/t1 get
 * the wall clock before and after. Returns the exit code (255: ssh itself
 * failed). res is filled; free it with run_result_free. */
int check_ssh_run(const struct peer_ssh *s, const char *const *words, size_t n,
		  struct run_result *res, double *t0, double *t1);
/* Why ssh failed (exit 255 or a timeout), and the one-line fix. Caller frees. */
void check_ssh_diagnose(const struct peer_ssh *s, const struct run_result *res, char **what,
			char **fix);

/* The disk under a local path: its name (sda, nvme0n1) after resolving
 * partitions and device-mapper/md to the first underlying disk, the active
 * scheduler, and rotational (1 HDD, 0 SSD, -1 unknown). 0, or -1 with *why
 * (not a block device, no scheduler file). */
struct check_disk {
	char name[64];
	char scheduler[32];
	int rotational;
};
int check_path_disk(const char *path, struct check_disk *d, char **why);

/* Space on the file system holding path, in KiB; when path does not exist,
 * its deepest existing ancestor is measured and *exists is false. */
struct check_space {
	unsigned long long total_kib, avail_kib;
	bool exists;
};
int check_local_space(const char *path, struct check_space *sp, char **why);
int check_remote_space(const struct peer_ssh *s, const char *path, struct check_space *sp,
		       char **why);

/* Bytes and directories under a tree (no symlinks followed, one file
 * system); largest is the biggest regular file. */
struct check_tree {
	unsigned long long bytes, largest, dirs, files;
	bool complete; /* false when some directory could not be read */
};
int check_walk_tree(const char *root, struct check_tree *t, char **why);

/* The options a running local server was started with: its own "--" command
 * line arguments, then what my_print_defaults reads for it from the option
 * files its command line names (--defaults-file, --defaults-extra-file,
 * --no-defaults). One option a line. 0, or -1 with *why. */
int check_server_options(long pid, struct buf *out, char **why);

/* "1.2 GiB" */
void check_human_bytes(double b, char *out, size_t n);

#endif
