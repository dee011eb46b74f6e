/* The per-batch cost of finding stale staging directories on a sync target:
 * history_clean_staging() (what every tar stream batch, serve receive and
 * checked run calls first) timed on a target whose history holds RUNS run
 * directories. Built against a given lifeboat source tree by
 * bench/staging.sh, once for each layout.
 *
 *   staging_clean TARGET RUNS CALLS
 *
 * Makes TARGET/.lifeboat-history/YYYYmmddTHHMMSSZ-PID-N (RUNS of them, one
 * file each) unless they are there, one call to warm up (the first one on a
 * target may make the staging area and sweep the old layout), then CALLS
 * calls: prints "RUNS CALLS MEAN_US" (microseconds per call). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "history.h"

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int make_runs(const char *target, long runs)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", target, HISTORY_DIR);
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		return -1;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	for (long i = 0; i < runs; i++) {
		/* One batch a few seconds apart over the week keep holds. */
		time_t t = 1796083200 + (time_t)(i * 3);
		struct tm tm;
		gmtime_r(&t, &tm);
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(path, sizeof(path), "%s/%s/%s-4242-%ld", target, HISTORY_DIR, stamp, i);
		if (mkdir(path, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/kept");
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: staging_clean TARGET RUNS CALLS\n");
		return 2;
	}
	const char *target = argv[1];
	long runs = atol(argv[2]), calls = atol(argv[3]);
	if (runs < 0 || calls <= 0 || make_runs(target, runs) < 0) {
		perror(target);
		return 1;
	}
	history_clean_staging(target);
	double t0 = now_us();
	for (long i = 0; i < calls; i++)
		history_clean_staging(target);
	double t1 = now_us();
	printf("%ld %ld %.0f\n", runs, calls, (t1 - t0) / (double)calls);
	return 0;
}
