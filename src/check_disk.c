/* check_disk: the DR disk's fitness (see check_disk.h): the probe, the
 * restore-time model, and the rules of `lifeboat check` for the DR
 * database's datadir and every sync target's file system. */
#include "check_disk.h"
#include "check_sys.h"
#include "child.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "peer.h"
#include "role.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* A remote probe: ssh login plus the probe, with room for a slow disk. */
#define DISK_REMOTE_TIMEOUT_MS 60000

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the pure model ---- */

/* Seconds per GB of a logical restore: a + b / iops through the article's
 * rows (270 s/GB at 120 IOPS, 24 s/GB at 15,000). */
static void restore_line(double *a, double *b)
{
	double hdd = DISK_HDD_RESTORE_10GB / 10, ssd = DISK_SSD_RESTORE_10GB / 10;
	*b = (hdd - ssd) / (1 / DISK_HDD_IOPS - 1 / DISK_SSD_IOPS);
	*a = ssd - *b / DISK_SSD_IOPS;
}

double disk_restore_seconds(double bytes, double iops, double write_bytes_s)
{
	double a, b;
	restore_line(&a, &b);
	if (iops < 1)
		iops = 1;
	double t = bytes / 1e9 * (a + b / iops);
	if (write_bytes_s > 0 && bytes / write_bytes_s > t)
		t = bytes / write_bytes_s;
	return t;
}

double disk_clone_seconds(double bytes, double write_bytes_s)
{
	return write_bytes_s > 0 ? bytes / write_bytes_s : 0;
}

double disk_article_restore_seconds(double bytes, bool ssd)
{
	return bytes / 10e9 * (ssd ? DISK_SSD_RESTORE_10GB : DISK_HDD_RESTORE_10GB);
}

enum check_level disk_classify(double iops)
{
	if (iops < DISK_FAIL_IOPS)
		return CHECK_FAIL;
	if (iops < DISK_WARN_IOPS)
		return CHECK_WARN;
	return CHECK_PASS;
}

void disk_human_duration(double s, char *out, size_t n)
{
	if (s < 10)
		snprintf(out, n, "%.1f s", s);
	else if (s < 90)
		snprintf(out, n, "%.0f s", s);
	else if (s < 90 * 60)
		snprintf(out, n, "%.0f min", s / 60);
	else
		snprintf(out, n, "%.1f h", s / 3600);
}

/* ---- the probe ---- */

static const char *fs_name(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC: /* ext2/3/4 share it */
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case TMPFS_MAGIC:
		return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	case NFS_SUPER_MAGIC:
		return "nfs";
	default:
		return "other";
	}
}

/* The deepest existing directory of path. Caller frees. */
static char *existing_dir(const char *path)
{
	char *p = xstrdup(path);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/') /* "@@datadir" ends in one */
		p[--len] = '\0';
	struct stat st;
	while (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p) {
			free(p);
			return xstrdup("/");
		}
		*slash = '\0';
	}
	return p;
}

/* The temporary file: O_TMPFILE (never has a name), else a name unlinked
 * at once; O_DIRECT unless the file system refuses it. */
static int open_probe_file(const char *dir, bool *direct, char **why)
{
	for (int pass = 0; pass < 2; pass++) {
		int flags = O_RDWR | O_CLOEXEC | (pass == 0 ? O_DIRECT : 0);
		int fd = open(dir, flags | O_TMPFILE, 0600);
		if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == ENOENT)) {
			char *name = xasprintf("%s/.lifeboat-disk-probe.XXXXXX", dir);
			int tmp = mkostemp(name, O_CLOEXEC);
			if (tmp >= 0) {
				fd = open(name, flags);
				int e = errno;
				unlink(name);
				close(tmp);
				errno = e;
			}
			free(name);
		}
		if (fd >= 0) {
			*direct = pass == 0;
			return fd;
		}
		if (errno != EINVAL) /* EINVAL: O_DIRECT refused; try without */
			break;
	}
	*why = xasprintf("cannot create a file in %s: %s", dir, strerror(errno));
	return -1;
}

/* Sequential writes of 1 MiB until size or the time bound; fdatasync every
 * 8 MiB so even a buffered fallback never leaves much to flush. */
static int write_phase(int fd, unsigned long long size, struct disk_probe *p, char **why)
{
	const size_t chunk = 1 << 20;
	void *buf = NULL;
	if (posix_memalign(&buf, DISK_PROBE_BLOCK, chunk) != 0) {
		*why = xstrdup("out of memory");
		return -1;
	}
	for (size_t i = 0; i < chunk; i++)
		((unsigned char *)buf)[i] = (unsigned char)(i * 131 + 7); /* not all zeros */
	double t0 = mono();
	unsigned long long done = 0;
	int rc = 0;
	while (done < size && mono() - t0 < DISK_PROBE_WRITE_SECONDS) {
		ssize_t w = pwrite(fd, buf, chunk, (off_t)done);
		if (w != (ssize_t)chunk) {
			*why = xasprintf("write to %s: %s", p->path, w < 0 ? strerror(errno) : "short");
			rc = -1;
			break;
		}
		done += chunk;
		if (done % (8 << 20) == 0 && fdatasync(fd) < 0)
			break;
	}
	if (rc == 0 && fdatasync(fd) < 0) {
		*why = xasprintf("fdatasync on %s: %s", p->path, strerror(errno));
		rc = -1;
	}
	double t = mono() - t0;
	p->file_bytes = done;
	p->write_mb_s = t > 0 ? (double)done / t / 1e6 : 0;
	free(buf);
	return rc;
}

struct reader {
	int fd;
	unsigned long long blocks;
	double deadline;
	uint64_t seed;
	unsigned long long reads;
	int error;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *read_loop(void *arg)
{
	struct reader *rd = arg;
	void *buf = NULL;
	if (posix_memalign(&buf, DISK_PROBE_BLOCK, DISK_PROBE_BLOCK) != 0) {
		rd->error = ENOMEM;
		return NULL;
	}
	while (mono() < rd->deadline) {
		off_t off = (off_t)(xorshift(&rd->seed) % rd->blocks) * DISK_PROBE_BLOCK;
		if (pread(rd->fd, buf, DISK_PROBE_BLOCK, off) != DISK_PROBE_BLOCK) {
			rd->error = errno ? errno : EIO;
			break;
		}
		rd->reads++;
	}
	free(buf);
	return NULL;
}

/* Random 4 KiB reads over what was written, DISK_PROBE_READERS at a time. */
static int read_phase(int fd, struct disk_probe *p, char **why)
{
	struct reader rd[DISK_PROBE_READERS];
	pthread_t th[DISK_PROBE_READERS];
	double t0 = mono();
	size_t started = 0;
	for (size_t i = 0; i < DISK_PROBE_READERS; i++) {
		rd[i] = (struct reader){.fd = fd,
					.blocks = p->file_bytes / DISK_PROBE_BLOCK,
					.deadline = t0 + DISK_PROBE_READ_SECONDS,
					.seed = 0x9e3779b97f4a7c15ULL * (i + 1) ^ (uint64_t)getpid()};
		if (pthread_create(&th[i], NULL, read_loop, &rd[i]) != 0)
			break;
		started++;
	}
	unsigned long long reads = 0;
	int error = started ? 0 : EAGAIN;
	for (size_t i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		reads += rd[i].reads;
		if (rd[i].error)
			error = rd[i].error;
	}
	double t = mono() - t0;
	p->read_iops = t > 0 ? (double)reads / t : 0;
	if (error) {
		*why = xasprintf("read from %s: %s", p->path, strerror(error));
		return -1;
	}
	return 0;
}

int disk_probe_run(const char *dir, struct disk_probe *out, char **why)
{
	memset(out, 0, sizeof(*out));
	double t0 = mono();
	out->path = existing_dir(dir);
	struct statfs sf;
	struct statvfs sv;
	if (statfs(out->path, &sf) < 0 || statvfs(out->path, &sv) < 0) {
		*why = xasprintf("%s: %s", out->path, strerror(errno));
		return -1;
	}
	out->fs_type = xstrdup(fs_name((long)sf.f_type));
	/* Never more than a tenth of the free space. */
	unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	unsigned long long size = DISK_PROBE_FILE_BYTES;
	if (size > avail / 10)
		size = avail / 10 & ~((1ULL << 20) - 1);
	if (size < (4ULL << 20)) {
		*why = xasprintf("%s: too little free space to probe safely (%llu MiB free)",
				 out->path, avail >> 20);
		return -1;
	}
	int fd = open_probe_file(out->path, &out->direct, why);
	if (fd < 0)
		return -1;
	int rc = write_phase(fd, size, out, why);
	/* Buffered fallback: drop the cache so reads go to the device if any. */
	if (rc == 0 && !out->direct)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (rc == 0)
		rc = read_phase(fd, out, why);
	close(fd);
	out->seconds = mono() - t0;
	return rc;
}

void disk_probe_free(struct disk_probe *p)
{
	free(p->path);
	free(p->fs_type);
	memset(p, 0, sizeof(*p));
}

char *disk_probe_json(const struct disk_probe *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "path", json_string_or_null(p->path));
	json_object_object_add(o, "fs_type", json_string_or_null(p->fs_type));
	json_object_object_add(o, "direct", json_bool_new(p->direct));
	json_object_object_add(o, "read_iops", json_fixed_new(p->read_iops, 0));
	json_object_object_add(o, "write_mb_s", json_fixed_new(p->write_mb_s, 1));
	json_object_object_add(o, "file_bytes", json_object_new_uint64(p->file_bytes));
	json_object_object_add(o, "seconds", json_fixed_new(p->seconds, 2));
	struct buf b;
	buf_init(&b);
	json_emit(&b, o);
	return buf_steal(&b);
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int disk_probe_parse(const char *text, struct disk_probe *out, char **why)
{
	memset(out, 0, sizeof(*out));
	json_object *o = json_tokener_parse(text ? text : "");
	json_object *path = o ? member(o, "path") : NULL, *iops = o ? member(o, "read_iops") : NULL;
	if (!path || !iops) {
		*why = xasprintf("not a disk probe result: %.80s", text ? text : "");
		if (o)
			json_object_put(o);
		return -1;
	}
	out->path = xstrdup(json_object_get_string(path));
	json_object *fs = member(o, "fs_type"), *direct = member(o, "direct");
	out->fs_type = xstrdup(fs ? json_object_get_string(fs) : "?");
	out->direct = direct && json_object_get_boolean(direct);
	out->read_iops = json_object_get_double(iops);
	json_object *w = member(o, "write_mb_s"), *fb = member(o, "file_bytes"),
		    *s = member(o, "seconds");
	out->write_mb_s = w ? json_object_get_double(w) : 0;
	out->file_bytes = fb ? (unsigned long long)json_object_get_int64(fb) : 0;
	out->seconds = s ? json_object_get_double(s) : 0;
	json_object_put(o);
	return 0;
}

/* ---- the rules ---- */

/* One local probe per file system: two targets on one disk cost one probe. */
struct probe_cache {
	dev_t dev[16];
	struct disk_probe probe[16];
	size_t n;
};

static int probe_local(struct probe_cache *c, const char *path, struct disk_probe *out,
		       char **why)
{
	char *dir = existing_dir(path);
	struct stat st;
	int have = stat(dir, &st);
	free(dir);
	for (size_t i = 0; have == 0 && i < c->n; i++) {
		if (c->dev[i] == st.st_dev) {
			*out = c->probe[i];
			out->path = xstrdup(c->probe[i].path);
			out->fs_type = xstrdup(c->probe[i].fs_type);
			return 0;
		}
	}
	int rc = disk_probe_run(path, out, why);
	if (rc == 0 && have == 0 && c->n < ARRAY_LEN(c->dev)) {
		c->dev[c->n] = st.st_dev;
		c->probe[c->n] = *out;
		c->probe[c->n].path = xstrdup(out->path);
		c->probe[c->n].fs_type = xstrdup(out->fs_type);
		c->n++;
	}
	return rc;
}

static void probe_cache_free(struct probe_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		disk_probe_free(&c->probe[i]);
}

/* How to reach the machine a probe runs on: [failover] peer_command (the
 * path failover's calls to the peer take), else ssh with check's own
 * read-only options (check_sys.h), running the lifeboat in its PATH. */
struct remote {
	const char *peer_command;
	struct peer_ssh ssh;
};

/* The one remote call: `lifeboat check --disk-probe PATH --json` there, its
 * JSON parsed. */
static int probe_remote(const struct remote *at, const char *path, struct disk_probe *out,
			char **why)
{
	memset(out, 0, sizeof(*out));
	struct run_result res;
	int rc;
	if (at->peer_command) {
		/* The words reach a remote shell unquoted: plain paths only. */
		if (path[strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789/._-+")]) {
			*why = xasprintf("'%s' holds characters a remote shell would interpret", path);
			return -1;
		}
		struct strv v;
		strv_init(&v);
		strv_push_split(&v, at->peer_command);
		strv_push_split(&v, "check --disk-probe");
		strv_push(&v, path);
		strv_push(&v, "--json");
		rc = child_run(v.items, NULL, 0, DISK_REMOTE_TIMEOUT_MS, &res);
		strv_free(&v);
	} else {
		const char *const words[] = {"lifeboat", "check", "--disk-probe", path, "--json"};
		double t0, t1;
		rc = check_ssh_run(&at->ssh, words, ARRAY_LEN(words), &res, &t0, &t1);
	}
	if (rc == 0)
		rc = disk_probe_parse(res.out.data, out, why);
	else
		*why = xasprintf("'lifeboat check --disk-probe' there %s (exit %d): %s",
				 res.timed_out ? "timed out" : "failed", rc, res.err_tail);
	run_result_free(&res);
	return rc == 0 ? 0 : -1;
}

/* Node n: peer_command when n is the peer, else its ssh settings (peer.c,
 * as check's node rules log in). */
static bool node_remote(const struct config *cfg, const struct node_conf *n, struct remote *at)
{
	memset(at, 0, sizeof(*at));
	if (cfg->failover.peer_command && peer_node(cfg) == n) {
		at->peer_command = cfg->failover.peer_command;
		return true;
	}
	return peer_ssh_of(n, &at->ssh);
}

/* The primary's data size and the standby's datadir, as the servers say. */
struct db_side {
	double bytes; /* 0: unknown */
	char *size_from;
	char *datadir;
	char *standby_node, *standby_host;
	bool standby_here;
};

static const char size_sql[] =
	"SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
	"WHERE table_schema NOT IN ('information_schema', 'performance_schema', 'sys')";

static void ask_size(struct db_pair *p, const struct db_server *s, struct db_side *d)
{
	struct db_conn c;
	char *err = NULL, *v = NULL;
	if (db_pair_connect(p, s, &c, &err) != 0) {
		free(err);
		db_close(&c); /* a failed connect still holds its handle */
		return;
	}
	if (d->bytes <= 0 && db_value(&c, size_sql, &v, &err) == 0 && v && atof(v) > 0) {
		d->bytes = atof(v);
		d->size_from = xasprintf("information_schema on the %s", s->role);
	}
	free(v);
	v = NULL;
	if (s == &p->standby && db_value(&c, "SELECT @@datadir", &v, &err) == 0 && v) {
		free(d->datadir);
		d->datadir = v;
	}
	free(err);
	db_close(&c);
}

static bool local_host(const char *h)
{
	return strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0;
}

static void db_side_read(const struct config *cfg, struct db_side *d)
{
	memset(d, 0, sizeof(*d));
	if (cfg->db.datadir)
		d->datadir = xstrdup(cfg->db.datadir);
	struct db_pair p;
	char *err = NULL;
	if (db_pair_init(&p, cfg, false, &err) != 0) {
		free(err);
		db_pair_free(&p);
		return;
	}
	ask_size(&p, &p.primary, d);
	ask_size(&p, &p.standby, d); /* its datadir; its size when the primary is down */
	d->standby_node = p.standby.node ? xstrdup(p.standby.node) : NULL;
	d->standby_host = xstrdup(p.standby.host);
	d->standby_here = p.standby.node ? cfg->node && strcmp(cfg->node, p.standby.node) == 0
					 : local_host(p.standby.host);
	db_pair_free(&p);
	/* Neither server answers: the standby's datadir here holds a copy. */
	struct check_tree t;
	if (d->bytes <= 0 && d->datadir && d->standby_here &&
	    check_walk_tree(d->datadir, &t, &err) == 0 && t.bytes > 0) {
		d->bytes = (double)t.bytes;
		d->size_from = xasprintf("the size of %s", d->datadir);
	}
	free(err);
}

static void db_side_free(struct db_side *d)
{
	free(d->size_from);
	free(d->datadir);
	free(d->standby_node);
	free(d->standby_host);
}

/* The figures of one probe for `check --json`. */
static char *fitness_data(const struct disk_probe *p, double bytes, double restore, double clone)
{
	char *probe = disk_probe_json(p);
	probe[strcspn(probe, "\n")] = '\0';
	char *s = xasprintf(
		"{\"probe\":%s,\"database_bytes\":%.0f,\"restore_seconds\":%.1f,"
		"\"clone_seconds\":%.1f,\"reference\":["
		"{\"class\":\"HDD\",\"read_iops\":%.0f,\"restore_seconds\":%.0f},"
		"{\"class\":\"SSD RAID-10\",\"read_iops\":%.0f,\"restore_seconds\":%.0f}],"
		"\"fail_below_iops\":%.0f,\"warn_below_iops\":%.0f}",
		probe, bytes, restore, clone, DISK_HDD_IOPS, disk_article_restore_seconds(bytes, false),
		DISK_SSD_IOPS, disk_article_restore_seconds(bytes, true), DISK_FAIL_IOPS,
		DISK_WARN_IOPS);
	free(probe);
	return s;
}

static void report_probe(struct check_report *r, const char *rule, const char *where,
			 const struct disk_probe *p, const struct db_side *d)
{
	double bytes = d->bytes > 0 ? d->bytes : 10e9;
	double restore = disk_restore_seconds(bytes, p->read_iops, p->write_mb_s * 1e6);
	double clone = disk_clone_seconds(bytes, p->write_mb_s * 1e6);
	char size[32], rt[32], ct[32], hdd[32], ssd[32];
	check_human_bytes(bytes, size, sizeof(size));
	disk_human_duration(restore, rt, sizeof(rt));
	disk_human_duration(clone, ct, sizeof(ct));
	disk_human_duration(disk_article_restore_seconds(bytes, false), hdd, sizeof(hdd));
	disk_human_duration(disk_article_restore_seconds(bytes, true), ssd, sizeof(ssd));
	/* tmpfs takes O_DIRECT since Linux 6.6, but it is memory, not a disk. */
	bool memory = strcmp(p->fs_type, "tmpfs") == 0;
	enum check_level lvl = p->direct && !memory ? disk_classify(p->read_iops) : CHECK_SKIP;
	const char *fix = lvl == CHECK_FAIL
				  ? "HDD-class storage: a restore there takes hours; put the DR copy "
				    "on SSD"
				  : "below the article's SSD RAID-10 class: a restore takes longer "
				    "than it must; consider faster storage for the DR copy";
	char *what = d->bytes > 0 ? xasprintf("the database (%s, %s)", size, d->size_from)
				  : xstrdup("10 GB (database size unknown)");
	check_add(r, rule, lvl, fix,
		  "%s%s (%s%s): %.0f random 4 KiB reads/s, %.0f MB/s writes; restore of %s ~%s, "
		  "physical clone >= %s there; article: HDD ~120 IOPS %s, SSD RAID-10 ~15,000 "
		  "IOPS %s%s",
		  where, p->path, p->fs_type, p->direct ? ", O_DIRECT" : ", buffered",
		  p->read_iops, p->write_mb_s, what, rt, ct, hdd, ssd,
		  memory      ? " (tmpfs is memory, not a disk, and empty after a reboot: not judged)"
		  : p->direct ? ""
			      : " (the file system refuses O_DIRECT: page-cache figures, not the "
				"disk's; not judged)");
	free(what);
	check_set_data(r, fitness_data(p, bytes, restore, clone));
}

static void probe_failed(struct check_report *r, const char *rule, const char *where,
			 const char *why)
{
	check_add(r, rule, CHECK_WARN, "run 'lifeboat check --disk-probe PATH' there by hand",
		  "cannot measure %s: %s", *where ? where : "here", why);
}

static void rule_database(const struct config *cfg, const struct db_side *d,
			  struct probe_cache *cache, struct check_report *r)
{
	const char *rule = "database.disk_fitness";
	if (!d->datadir) {
		check_add(r, rule, CHECK_WARN, "set [database] datadir, or start the standby",
			  "the standby's datadir is unknown (the server does not answer and "
			  "[database] datadir is not set)");
		return;
	}
	struct disk_probe p;
	char *why = NULL;
	char *where = d->standby_here ? xstrdup("")
				      : xasprintf("%s:", d->standby_host ? d->standby_host : "standby");
	const struct node_conf *n = d->standby_node ? config_find_node(cfg, d->standby_node) : NULL;
	struct remote at;
	int rc;
	if (d->standby_here)
		rc = probe_local(cache, d->datadir, &p, &why);
	else if (n && node_remote(cfg, n, &at))
		rc = probe_remote(&at, d->datadir, &p, &why);
	else {
		rc = -1;
		why = xstrdup("the standby is on another machine and no [node] 'ssh' or [failover] "
			      "peer_command reaches it");
	}
	if (rc == 0)
		report_probe(r, rule, where, &p, d);
	else
		probe_failed(r, rule, where, why);
	free(why);
	free(where);
	disk_probe_free(&p);
}

/* Did an earlier rule of this run find rule FAILing (an ssh that does not
 * log in)? Then probing there again would only wait for the same timeout. */
static bool failed_before(const struct check_report *r, const char *rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].level == CHECK_FAIL && strcmp(r->items[i].rule, rule) == 0)
			return true;
	return false;
}

static void rule_sync(const struct sync_conf *sc, const struct db_side *d, struct probe_cache *cache, struct check_report *r)
{
	char *rule = xasprintf("sync.%s.disk_fitness", sc->name);
	char *ssh_rule = xasprintf("sync.%s.ssh", sc->name);
	bool unreachable = failed_before(r, ssh_rule);
	free(ssh_rule);
	if (unreachable) {
		check_add(r, rule, CHECK_SKIP, NULL, "target %s unreachable (sync.%s.ssh)",
			  sc->target, sc->name);
		free(rule);
		return;
	}
	char *where = sc->target_host ? xasprintf("%s:", sc->target_host) : xstrdup("");
	struct disk_probe p;
	char *why = NULL;
	int rc;
	if (!sc->target_host) {
		rc = probe_local(cache, sc->target_path, &p, &why);
	} else {
		/* The sync's own login, as the sync itself and check_sync use it. */
		struct remote at = {.ssh = {.dest = sc->target_host,
					    .port = sc->ssh_port,
					    .identity = sc->ssh_identity,
					    .options = sc->ssh_options}};
		rc = probe_remote(&at, sc->target_path, &p, &why);
	}
	if (rc == 0)
		report_probe(r, rule, where, &p, d);
	else
		probe_failed(r, rule, where, why);
	free(why);
	free(where);
	free(rule);
	disk_probe_free(&p);
}

void check_disk(const struct config *cfg, struct check_report *r)
{
	struct db_side d;
	memset(&d, 0, sizeof(d));
	if (cfg->db.present)
		db_side_read(cfg, &d);
	struct probe_cache cache = {.n = 0};
	if (cfg->db.present)
		rule_database(cfg, &d, &cache, r);
	for (size_t i = 0; i < cfg->n_syncs; i++)
		rule_sync(&cfg->syncs[i], &d, &cache, r);
	probe_cache_free(&cache);
	db_side_free(&d);
}
