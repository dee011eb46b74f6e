/* check_disk: the DR disk's fitness, measured. Owns the probe (a small
 * temporary file on the file system under test, written sequentially and
 * read at random with O_DIRECT, bounded in size and time so it is safe on a
 * live server), the restore and clone time model fitted to the origin
 * article's storage table, and the thresholds:
 *
 *   article: HDD VPS          ~120 random-read IOPS, 10 GB restore 45 min
 *            SSD RAID-10   ~15,000 random-read IOPS, 10 GB restore  4 min
 *
 *   FAIL  below 1,000 IOPS: the HDD class (within an order of magnitude of
 *         the article's ~120; a small RAID of spinning disks stays below)
 *   WARN  below 15,000 IOPS: under the article's SSD RAID-10 class
 *   PASS  from 15,000 IOPS
 *
 * The reads run DISK_PROBE_READERS at a time (queue depth 8, as InnoDB's
 * I/O threads and a restore keep several requests in flight), 4 KiB each.
 * Remote targets are probed there: `lifeboat check --disk-probe PATH --json`
 * run over the peer command path. */
#ifndef LIFEBOAT_CHECK_DISK_H
#define LIFEBOAT_CHECK_DISK_H

#include <stdbool.h>
#include <stddef.h>

#include "check.h"

#define DISK_PROBE_FILE_BYTES (64ULL << 20) /* at most: the temporary file */
#define DISK_PROBE_WRITE_SECONDS 1.0	    /* sequential write phase bound */
#define DISK_PROBE_READ_SECONDS 1.0	    /* random read phase bound */
#define DISK_PROBE_READERS 8
#define DISK_PROBE_BLOCK 4096

/* The article's two rows. */
#define DISK_HDD_IOPS 120.0
#define DISK_HDD_RESTORE_10GB (45 * 60.0)
#define DISK_SSD_IOPS 15000.0
#define DISK_SSD_RESTORE_10GB (4 * 60.0)
/* The thresholds (see above). */
#define DISK_FAIL_IOPS 1000.0
#define DISK_WARN_IOPS DISK_SSD_IOPS

struct disk_probe {
	char *path;    /* the directory measured (the deepest existing one) */
	char *fs_type; /* "ext4", "tmpfs", ... */
	bool direct;   /* O_DIRECT: false when the file system refused it */
	double read_iops;
	double write_mb_s; /* 10^6 bytes per second, fdatasync included */
	unsigned long long file_bytes;
	double seconds; /* the whole probe */
};

/* Measure the file system holding dir (or its deepest existing ancestor).
 * 0, or -1 with *why (caller frees). out is filled; free with
 * disk_probe_free. Writes one temporary file (never linked when the file
 * system has O_TMPFILE, else unlinked right after it is opened). */
int disk_probe_run(const char *dir, struct disk_probe *out, char **why);
void disk_probe_free(struct disk_probe *p);
/* The probe as one JSON object, newline-terminated. Caller frees. */
char *disk_probe_json(const struct disk_probe *p);
/* Parse what disk_probe_json printed (a remote probe). 0 or -1. */
int disk_probe_parse(const char *json, struct disk_probe *out, char **why);

/* ---- pure (unit-tested) ---- */

/* A logical restore (dump into the server) of bytes on a disk with this
 * many random-read IOPS and this sequential write rate (bytes/s; 0:
 * unknown): seconds per GB = a + b / iops, the line through the article's
 * two rows, never faster than writing the bytes once. */
double disk_restore_seconds(double bytes, double iops, double write_bytes_s);
/* A physical clone (mariadb-backup stream): the bytes written sequentially.
 * The network and the primary's reads may make it slower: a lower bound. */
double disk_clone_seconds(double bytes, double write_bytes_s);
/* The article's row scaled to bytes. */
double disk_article_restore_seconds(double bytes, bool ssd);
enum check_level disk_classify(double iops);
/* "4 min", "1.2 h", "35 s" */
void disk_human_duration(double seconds, char *out, size_t n);

#endif
