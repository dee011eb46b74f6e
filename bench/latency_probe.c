/*
 * latency_probe: how long until a new file written on the source is on the
 * target, byte for byte.
 *
 *   latency_probe SRC_DIR DST_DIR [SAMPLES [INTERVAL_MS [SIZE [TIMEOUT_MS]]]]
 *
 * For each sample: write a new file SRC_DIR/probe-PID-N (open, write SIZE
 * bytes unique to the sample, close); t0 = just after close().  Watch DST_DIR
 * with inotify (and poll every 10 ms as a fallback) until DST_DIR/probe-PID-N
 * has exactly those bytes: t1.  Samples are INTERVAL_MS apart.
 *
 * Prints one line per sample ("sample N MS") and a summary line:
 *   "p50 MS p90 MS min MS max MS n N lost L"
 * Exit 0 if every sample arrived, 1 if any timed out (then they count as
 * TIMEOUT_MS), 2 on usage or setup errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 1 if PATH holds exactly WANT (LEN bytes). */
static int has_content(const char *path, const char *want, size_t len, char *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, len + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > len)
			break;
	}
	close(fd);
	return got == len && memcmp(buf, want, len) == 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double pct(const double *sorted, int n, double p)
{
	int k = (int)(p / 100.0 * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s SRC_DIR DST_DIR [SAMPLES [INTERVAL_MS [SIZE [TIMEOUT_MS]]]]\n", argv[0]);
		return 2;
	}
	const char *src = argv[1], *dst = argv[2];
	int samples = argc > 3 ? atoi(argv[3]) : 25;
	double interval = argc > 4 ? atof(argv[4]) : 1500;
	size_t size = argc > 5 ? (size_t)atol(argv[5]) : 100;
	double timeout = argc > 6 ? atof(argv[6]) : 30000;
	if (samples < 1 || size < 1) {
		fprintf(stderr, "latency_probe: bad SAMPLES or SIZE\n");
		return 2;
	}

	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in < 0 || inotify_add_watch(in, dst, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE |
				IN_MODIFY | IN_ATTRIB) < 0) {
		perror("latency_probe: inotify on DST_DIR");
		return 2;
	}
	char *want = malloc(size), *buf = malloc(size + 1);
	double *ms = calloc((size_t)samples, sizeof *ms);
	if (!want || !buf || !ms)
		return 2;
	char evbuf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
	int lost = 0;

	for (int i = 0; i < samples; i++) {
		char name[64], spath[PATH_MAX], dpath[PATH_MAX];
		snprintf(name, sizeof name, "probe-%d-%d", (int)getpid(), i);
		snprintf(spath, sizeof spath, "%s/%s", src, name);
		snprintf(dpath, sizeof dpath, "%s/%s", dst, name);
		int hl = snprintf(want, size, "%s %.3f ", name, now_ms());
		for (size_t j = (size_t)(hl > 0 ? hl : 0); j < size; j++)
			want[j] = (char)('a' + (j * 7 + (size_t)i) % 26);
		while (read(in, evbuf, sizeof evbuf) > 0) /* drain old events */
			;

		int fd = open(spath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			perror(spath);
			return 2;
		}
		size_t off = 0;
		while (off < size) {
			ssize_t n = write(fd, want + off, size - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				perror("write");
				return 2;
			}
			off += (size_t)n;
		}
		if (close(fd) < 0) {
			perror("close");
			return 2;
		}
		double t0 = now_ms(), t1;
		for (;;) {
			if (has_content(dpath, want, size, buf)) {
				t1 = now_ms();
				break;
			}
			if (now_ms() - t0 > timeout) {
				t1 = t0 + timeout;
				lost++;
				break;
			}
			struct pollfd p = { .fd = in, .events = POLLIN };
			if (poll(&p, 1, 10) > 0)
				while (read(in, evbuf, sizeof evbuf) > 0)
					;
		}
		ms[i] = t1 - t0;
		printf("sample %d %.1f%s\n", i, ms[i], t1 - t0 >= timeout ? " TIMEOUT" : "");
		fflush(stdout);
		if (i + 1 < samples)
			sleep_ms(interval);
	}
	qsort(ms, (size_t)samples, sizeof *ms, cmp_double);
	printf("p50 %.1f p90 %.1f min %.1f max %.1f n %d lost %d\n", pct(ms, samples, 50),
	       pct(ms, samples, 90), ms[0], ms[samples - 1], samples, lost);
	return lost ? 1 : 0;
}
