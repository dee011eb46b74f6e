#include "epoch.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool epoch_parse(const char *text, uint64_t *out)
{
	const char *p = text;
	uint64_t v = 0;
	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
		p++;
	if (*p)
		return false;
	*out = v;
	return true;
}

int epoch_read(const char *state_dir, uint64_t *out, char **err)
{
	char *path = xasprintf("%s/epoch", state_dir);
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		if (errno == ENOENT) {
			*out = 0; /* never promoted on this node */
			free(path);
			return 0;
		}
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	int rc = 0;
	if (strlen(text) != len || !epoch_parse(text, out)) {
		*err = xasprintf("%s does not hold an epoch number; restore it from the "
				 "database's lifeboat.epoch table",
				 path);
		rc = -1;
	}
	free(text);
	free(path);
	return rc;
}

int epoch_write(const char *state_dir, uint64_t value, char **err)
{
	if (mkdir_p(state_dir, 0700) < 0) {
		*err = xasprintf("cannot create %s: %s", state_dir, strerror(errno));
		return -1;
	}
	char *path = xasprintf("%s/epoch", state_dir);
	char text[32];
	int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)value);
	/* Own temp+fsync+rename (not write_file_atomic) because an epoch that
	 * goes back after a power cut would let a stale primary look current. */
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && write_all(fd, text, (size_t)n) == 0 && fsync(fd) == 0) {
		close(fd);
		fd = -1;
		if (rename(tmp, path) == 0) {
			rc = 0;
			int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
		}
	}
	if (rc < 0) {
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(path);
	return rc;
}
