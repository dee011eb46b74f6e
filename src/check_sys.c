/* check_sys: the machine facts `lifeboat check` needs (see check_sys.h).
 * Reads sysfs, statvfs and the output of ssh probes; changes nothing. */
#include "check_sys.h"
#include "check.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fts.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- ssh ---- */

int check_ssh_run(const struct peer_ssh *s, const char *const *words, size_t n,
		  struct run_result *res, double *t0, double *t1)
{
	struct strv argv;
	strv_init(&argv);
	/* Read-only and honest: ssh takes the first value of an option, so these
	 * win over ssh_options. An unknown host key is a finding, not something
	 * to accept-new into known_hosts; no master socket is left behind. */
	char *timeout = xasprintf("ConnectTimeout=%d", CHECK_SSH_TIMEOUT);
	const char *opts[] = {timeout, "StrictHostKeyChecking=yes", "UpdateHostKeys=no",
			      "ControlMaster=no", NULL};
	peer_ssh_words(s, opts, &argv);
	free(timeout);
	peer_ssh_dest(s, words, n, &argv);
	*t0 = now_wall();
	int rc = child_run(argv.items, NULL, 0, (CHECK_SSH_TIMEOUT + 5) * 1000, res);
	*t1 = now_wall();
	strv_free(&argv);
	return rc;
}

static char *port_arg(const struct peer_ssh *s)
{
	return s->port ? xasprintf("-p %ld ", s->port) : xstrdup("");
}

static char *host_of(const char *dest)
{
	const char *at = strrchr(dest, '@');
	return xstrdup(at ? at + 1 : dest);
}

/* ssh ends its lines with CRLF, which the captured tail turns into ";;":
 * one "; " between messages reads better. */
static char *tidy_message(const char *tail)
{
	struct buf b;
	buf_init(&b);
	for (const char *p = tail; *p; p++) {
		if (*p != ';')
			buf_addc(&b, *p);
		else if (b.len && b.data[b.len - 1] != ' ')
			buf_adds(&b, "; ");
	}
	return buf_steal(&b);
}

void check_ssh_diagnose(const struct peer_ssh *s, const struct run_result *res, char **what,
			char **fix)
{
	char *e = tidy_message(res->err_tail);
	char *port = port_arg(s), *host = host_of(s->dest);
	if (res->timed_out) {
		*what = xasprintf("ssh %s did not finish within %d s", s->dest,
				  CHECK_SSH_TIMEOUT + 5);
		*fix = xasprintf("check the network path and sshd on %s", host);
	} else if (strstr(e, "Host key verification failed") || strstr(e, "host key is known") ||
		   strstr(e, "IDENTIFICATION HAS CHANGED")) {
		*what = xasprintf("the ssh host key of %s is not known (or changed): %s", host, e);
		*fix = xasprintf("verify the fingerprint, then as the user lifeboat runs as: "
				 "ssh-keyscan %s%s >> ~/.ssh/known_hosts",
				 port, host);
	} else if (strstr(e, "Permission denied")) {
		*what = xasprintf("ssh %s refused key authentication: %s", s->dest, e);
		*fix = xasprintf("install the key: ssh-copy-id %s%s%s%s", port,
				 s->identity ? "-i " : "", s->identity ? s->identity : "",
				 s->identity ? ".pub " : "");
		char *full = xasprintf("%s%s", *fix, s->dest);
		free(*fix);
		*fix = full;
	} else {
		*what = xasprintf("ssh %s failed (exit %d): %s", s->dest, res->exit_code,
				  *e ? e : "no message");
		*fix = xasprintf("start sshd on %s, or fix the host/port in the configuration and "
				 "any firewall in between",
				 host);
	}
	free(port);
	free(host);
	free(e);
}

/* ---- block device and scheduler ---- */

static char *read_trimmed(const char *path)
{
	size_t len;
	char *t = read_file(path, &len);
	if (t)
		t[strcspn(t, "\n")] = '\0';
	return t;
}

/* dm-*, md*: the first device below it (slaves/), so the scheduler read is
 * the one of a real queue. Bounded: stacks are a few levels deep. Owns and
 * may replace *sysdir. */
static void descend_slaves(char **sysdir)
{
	for (int depth = 0; depth < 8; depth++) {
		char *slaves = xasprintf("%s/slaves", *sysdir);
		DIR *d = opendir(slaves);
		char *below = NULL;
		for (struct dirent *e = d ? readdir(d) : NULL; e && !below; e = readdir(d))
			if (e->d_name[0] != '.')
				below = xasprintf("%s/%s", slaves, e->d_name);
		if (d)
			closedir(d);
		free(slaves);
		char *real = below ? realpath(below, NULL) : NULL;
		free(below);
		if (!real)
			return;
		free(*sysdir);
		*sysdir = real;
	}
}

static char *sys_read(const char *dir, const char *file)
{
	char *path = xasprintf("%s/%s", dir, file);
	char *t = read_trimmed(path);
	free(path);
	return t;
}

int check_path_disk(const char *path, struct check_disk *d, char **why)
{
	memset(d, 0, sizeof(*d));
	d->rotational = -1;
	struct stat st;
	if (stat(path, &st) < 0) {
		*why = xasprintf("cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	char *link = xasprintf("/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	char *sysdir = realpath(link, NULL);
	free(link);
	if (!sysdir) {
		*why = xasprintf("%s is on device %u:%u, which is not a block device (overlay, "
				 "tmpfs, btrfs subvolume or a container)",
				 path, major(st.st_dev), minor(st.st_dev));
		return -1;
	}
	char *part = xasprintf("%s/partition", sysdir);
	if (access(part, F_OK) == 0) {
		char *slash = strrchr(sysdir, '/');
		if (slash)
			*slash = '\0'; /* sda1 -> sda */
	}
	free(part);
	descend_slaves(&sysdir);
	const char *base = strrchr(sysdir, '/');
	snprintf(d->name, sizeof(d->name), "%.63s", base ? base + 1 : sysdir);
	char *rot = sys_read(sysdir, "queue/rotational");
	if (rot)
		d->rotational = strcmp(rot, "1") == 0 ? 1 : 0;
	free(rot);
	char *text = sys_read(sysdir, "queue/scheduler");
	bool ok = text && check_parse_scheduler(text, d->scheduler, sizeof(d->scheduler));
	if (!ok)
		*why = xasprintf("%s is on %s, which has no I/O scheduler (%s)", path, d->name,
				 text ? text : "no queue/scheduler in sysfs");
	free(text);
	free(sysdir);
	return ok ? 0 : -1;
}

/* ---- space ---- */

int check_local_space(const char *path, struct check_space *sp, char **why)
{
	memset(sp, 0, sizeof(*sp));
	char *p = xstrdup(path);
	sp->exists = true;
	struct statvfs vfs;
	while (statvfs(p, &vfs) < 0) {
		if (errno != ENOENT || strcmp(p, "/") == 0) {
			*why = xasprintf("statvfs %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		sp->exists = false;
		char *parent = xstrdup(dirname(p));
		free(p);
		p = parent;
	}
	free(p);
	sp->total_kib = (unsigned long long)vfs.f_blocks * vfs.f_frsize / 1024;
	sp->avail_kib = (unsigned long long)vfs.f_bavail * vfs.f_frsize / 1024;
	return 0;
}

int check_remote_space(const struct peer_ssh *s, const char *path, struct check_space *sp,
		       char **why)
{
	memset(sp, 0, sizeof(*sp));
	/* df prints one line per path that exists: path and its ancestors in one
	 * call tell both the space and whether path exists. */
	struct strv words;
	strv_init(&words);
	strv_push(&words, "df");
	strv_push(&words, "-P");
	strv_push(&words, "-k");
	strv_push(&words, "--");
	char *p = xstrdup(path);
	for (int i = 0; i < 32; i++) {
		strv_push(&words, p);
		if (strcmp(p, "/") == 0 || strcmp(p, ".") == 0)
			break;
		char *parent = xstrdup(dirname(p));
		free(p);
		p = parent;
	}
	free(p);
	size_t n_paths = words.len - 4;
	struct run_result res;
	double t0, t1;
	int rc = check_ssh_run(s, (const char *const *)words.items, words.len, &res, &t0, &t1);
	strv_free(&words);
	int lines = 0;
	int ret = 0;
	if (rc == 255 || res.timed_out) {
		char *fix = NULL;
		check_ssh_diagnose(s, &res, why, &fix);
		free(fix);
		ret = -1;
	} else if (!check_parse_df(res.out.data, &sp->total_kib, &sp->avail_kib, &lines)) {
		*why = xasprintf("cannot read 'df -P' on %s (exit %d): %s", s->dest, rc,
				 res.err_tail);
		ret = -1;
	} else {
		sp->exists = (size_t)lines == n_paths;
	}
	run_result_free(&res);
	return ret;
}

/* ---- server options ---- */

int check_server_options(long pid, struct buf *out, char **why)
{
	char *path = xasprintf("/proc/%ld/cmdline", pid);
	size_t len;
	char *cmd = read_file(path, &len);
	free(path);
	if (!cmd || !len) {
		*why = xasprintf("cannot read the command line of pid %ld: %s", pid,
				 cmd ? "empty" : strerror(errno));
		free(cmd);
		return -1;
	}
	struct strv argv;
	strv_init(&argv);
	strv_push(&argv, "my_print_defaults");
	/* The option-file arguments must come first, as for the server. */
	for (size_t off = strlen(cmd) + 1; off < len; off += strlen(cmd + off) + 1) {
		const char *a = cmd + off;
		if (strncmp(a, "--defaults-file=", 16) == 0 ||
		    strncmp(a, "--defaults-extra-file=", 22) == 0 ||
		    strcmp(a, "--no-defaults") == 0 ||
		    strncmp(a, "--defaults-group-suffix=", 24) == 0)
			strv_push(&argv, a);
	}
	strv_push(&argv, "--mysqld");
	struct run_result res;
	int rc = child_run(argv.items, NULL, 0, 10000, &res);
	strv_free(&argv);
	if (rc != 0) {
		*why = xasprintf("my_print_defaults failed (exit %d): %s", rc, res.err_tail);
	} else {
		buf_add(out, res.out.data, res.out.len);
		/* Command-line options come after the files: they win. */
		for (size_t off = strlen(cmd) + 1; off < len; off += strlen(cmd + off) + 1)
			if (strncmp(cmd + off, "--", 2) == 0)
				buf_addf(out, "\n%s", cmd + off);
	}
	run_result_free(&res);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* ---- trees ---- */

int check_walk_tree(const char *root, struct check_tree *t, char **why)
{
	memset(t, 0, sizeof(*t));
	t->complete = true;
	char *const roots[] = {(char *)root, NULL};
	FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, NULL);
	if (!fts) {
		*why = xasprintf("cannot read %s: %s", root, strerror(errno));
		return -1;
	}
	for (FTSENT *e = fts_read(fts); e; e = fts_read(fts)) {
		switch (e->fts_info) {
		case FTS_D:
			t->dirs++;
			break;
		case FTS_F:
			t->files++;
			t->bytes += (unsigned long long)e->fts_statp->st_size;
			if ((unsigned long long)e->fts_statp->st_size > t->largest)
				t->largest = (unsigned long long)e->fts_statp->st_size;
			break;
		case FTS_DNR:
		case FTS_ERR:
		case FTS_NS:
			t->complete = false;
			break;
		default:
			break;
		}
	}
	fts_close(fts);
	return 0;
}

void check_human_bytes(double b, char *out, size_t n)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;
	while (b >= 1024 && u < 5)
		b /= 1024, u++;
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}
