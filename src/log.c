#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum log_dest { DEST_STDERR, DEST_FILE, DEST_SYSLOG };

static enum log_level current_level = LOG_LVL_INFO;
static enum log_dest dest = DEST_STDERR;
static char *file_path;
static int file_fd = -1;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

/* Under systemd, stderr goes to the journal: a "<N>" prefix (sd-daemon(3))
 * gives each line its priority, so `journalctl -p err` works. */
static bool stderr_is_journal(void)
{
	static int cached = -1;
	if (cached < 0) {
		const char *js = getenv("JOURNAL_STREAM");
		unsigned long dev, ino;
		struct stat st;
		cached = js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
			 st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
	}
	return cached;
}

int log_open(const char *where)
{
	log_close();
	if (!where || strcmp(where, "stderr") == 0) {
		dest = DEST_STDERR;
		return 0;
	}
	if (strcmp(where, "syslog") == 0) {
		openlog("lifeboat", LOG_PID, LOG_DAEMON);
		dest = DEST_SYSLOG;
		return 0;
	}
	file_path = xstrdup(where);
	return log_reopen();
}

int log_reopen(void)
{
	if (!file_path)
		return 0;
	int fd = open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		int e = errno;
		dest = DEST_STDERR;
		errno = e;
		return -1;
	}
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	dest = DEST_FILE;
	return 0;
}

void log_close(void)
{
	if (dest == DEST_SYSLOG)
		closelog();
	if (file_fd >= 0)
		close(file_fd);
	file_fd = -1;
	free(file_path);
	file_path = NULL;
	dest = DEST_STDERR;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

/* Keep one message on one line: a file name with a newline must not forge
 * a second log line. */
static void flatten(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > current_level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	flatten(msg);

	if (dest == DEST_SYSLOG) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(prio[level], "%s", msg);
		return;
	}
	char line[2200];
	int n;
	if (dest == DEST_FILE) {
		char stamp[32];
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
		n = snprintf(line, sizeof(line), "%s [%ld] %s: %s\n", stamp, (long)getpid(),
			     level_names[level], msg);
	} else if (stderr_is_journal()) {
		static const int prio[] = {3, 4, 6, 7};
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", prio[level], level_names[level], msg);
	} else {
		n = snprintf(line, sizeof(line), "lifeboat: %s: %s\n", level_names[level], msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	write_all(dest == DEST_FILE ? file_fd : 2, line, (size_t)n);
}
