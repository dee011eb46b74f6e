/* db_clone: seeding a replica from a source server, physically
 * (mariadb-backup --stream into mbstream, prepare, start) or logically
 * (mariadb-dump --single-transaction --gtid into the mariadb client), then
 * starting GTID replication. The stream passes through this process (a
 * pump) so progress can be shown and no shell pipeline is needed. */
#include "child.h"
#include "result.h"
#include "db_ops.h"
#include "privileges.h"
#include "log.h"
#include "residency.h"
#include "peer.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SYSTEM_SCHEMAS "'mysql','information_schema','performance_schema','sys','lifeboat'"

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Spawn argv with stdin/stdout on the given fds (-1: /dev/null) and stderr
 * appended to log_path. Returns the pid or -1. */
static pid_t spawn_io(char *const *argv, int in_fd, int out_fd, const char *log_path)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		errno = e;
		return -1;
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Last non-empty line of a log file, for the error message. */
static char *last_line(const char *path)
{
	size_t len;
	char *text = read_file(path, &len);
	if (!text)
		return xstrdup("(no output)");
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	char *nl = strrchr(text, '\n');
	char *line = xstrdup(nl ? nl + 1 : text);
	free(text);
	return line;
}

static void show_progress(uint64_t bytes, uint64_t estimate, double secs, bool final)
{
	double mib = (double)bytes / 1048576.0;
	double rate = secs > 0 ? mib / secs : 0;
	if (estimate > bytes && rate > 0) {
		double eta = ((double)(estimate - bytes) / 1048576.0) / rate;
		fprintf(stderr, "\rlifeboat: clone: %.1f MiB of ~%.1f MiB, %.1f MiB/s, ETA %d:%02d   ",
			mib, (double)estimate / 1048576.0, rate, (int)eta / 60, (int)eta % 60);
	} else {
		fprintf(stderr, "\rlifeboat: clone: %.1f MiB, %.1f MiB/s   ", mib, rate);
	}
	if (final)
		fputc('\n', stderr);
}

/* A stream that moves no byte for this long is stalled (a hung ssh link, a
 * tool waiting on a lock): the pump gives up instead of waiting for ever.
 * LIFEBOAT_CLONE_STALL_S (seconds) shortens it for tests, as
 * LIFEBOAT_FAILPOINT is for tests only. */
#define PUMP_STALL_MS_DEFAULT 300000

static int pump_stall_ms(void)
{
	const char *v = getenv("LIFEBOAT_CLONE_STALL_S");
	char *end = NULL;
	long s = v ? strtol(v, &end, 10) : 0;
	if (!v || end == v || *end || s <= 0 || s > 86400)
		return PUMP_STALL_MS_DEFAULT;
	return (int)s * 1000;
}

/* read(2) that waits at most pump_stall_ms() for data; *stalled = "read". */
static ssize_t read_bounded(int fd, void *buf, size_t cap, const char **stalled)
{
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int r = poll(&pf, 1, pump_stall_ms());
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			*stalled = "read";
			return -1;
		}
		ssize_t n = read(fd, buf, cap);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n;
	}
}

/* write_all on a non-blocking fd, waiting at most pump_stall_ms() for room. */
static int write_bounded(int fd, const char *data, size_t len, const char **stalled)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		int r = poll(&pf, 1, pump_stall_ms());
		if (r == 0) {
			*stalled = "write";
			return -1;
		}
	}
	return 0;
}

struct pump {
	char *const *producer, *const *consumer;
	const char *producer_input; /* small text on the producer's stdin, or NULL */
	const char *prefix; /* written to the consumer before the stream */
	const char *log_path;
	bool progress;
	uint64_t estimate;
	uint64_t bytes;
	double secs;
};

/* producer | consumer through us. 0 or -1 with *err. */
static int pump_run(struct pump *pm, char **err)
{
	int a[2], b[2];
	if (pipe2(a, O_CLOEXEC) < 0)
		goto sys;
	if (pipe2(b, O_CLOEXEC) < 0) {
		close(a[0]), close(a[1]);
		goto sys;
	}
	int in_fd = -1;
	if (pm->producer_input) {
		/* Small enough for the pipe buffer: written and closed at once. */
		int c[2];
		if (pipe2(c, O_CLOEXEC) < 0) {
			close(a[0]), close(a[1]), close(b[0]), close(b[1]);
			goto sys;
		}
		write_all(c[1], pm->producer_input, strlen(pm->producer_input));
		close(c[1]);
		in_fd = c[0];
	}
	pid_t prod = spawn_io(pm->producer, in_fd, a[1], pm->log_path);
	if (in_fd >= 0)
		close(in_fd);
	pid_t cons = prod < 0 ? -1 : spawn_io(pm->consumer, b[0], -1, pm->log_path);
	close(a[1]), close(b[0]);
	if (prod < 0 || cons < 0) {
		*err = xasprintf("cannot run %s: %s", prod < 0 ? pm->producer[0] : pm->consumer[0],
				 strerror(errno));
		close(a[0]), close(b[1]);
		if (prod > 0) {
			kill(prod, SIGTERM);
			wait_exit(prod);
		}
		return -1;
	}
	int64_t t0 = now_ms(), last = t0;
	fcntl(b[1], F_SETFL, fcntl(b[1], F_GETFL) | O_NONBLOCK);
	const char *stalled = NULL;
	bool write_failed = false;
	if (pm->prefix)
		write_failed = write_bounded(b[1], pm->prefix, strlen(pm->prefix), &stalled) < 0;
	size_t cap = 1 << 20;
	char *chunk = xmalloc(cap);
	while (!write_failed && !stalled) {
		ssize_t n = read_bounded(a[0], chunk, cap, &stalled);
		if (n <= 0)
			break;
		if (write_bounded(b[1], chunk, (size_t)n, &stalled) < 0) {
			write_failed = true; /* consumer died or stalled: see below */
			break;
		}
		pm->bytes += (uint64_t)n;
		if (pm->progress && now_ms() - last >= 1000) {
			last = now_ms();
			show_progress(pm->bytes, pm->estimate, (double)(last - t0) / 1000.0, false);
		}
	}
	free(chunk);
	if (stalled) {
		/* A stalled ssh or tool would keep us here for ever. */
		kill(prod, SIGKILL);
		kill(cons, SIGKILL);
	}
	close(a[0]); /* a producer still writing gets EPIPE */
	close(b[1]);
	int rp = wait_exit(prod), rcons = wait_exit(cons);
	pm->secs = (double)(now_ms() - t0) / 1000.0;
	if (pm->progress)
		show_progress(pm->bytes, pm->estimate, pm->secs, true);
	if (stalled) {
		*err = xasprintf("no progress for %d s: %s stalled (both killed; log: %s)",
				 pump_stall_ms() / 1000,
				 strcmp(stalled, "read") == 0 ? pm->producer[0] : pm->consumer[0],
				 pm->log_path);
		return -1;
	}
	if (rp != 0 || rcons != 0) {
		char *line = last_line(pm->log_path);
		*err = xasprintf("%s exited %d: %s (full log: %s)",
				 rp != 0 ? pm->producer[0] : pm->consumer[0], rp != 0 ? rp : rcons,
				 line, pm->log_path);
		free(line);
		return -1;
	}
	return 0;
sys:
	*err = xasprintf("pipe: %s", strerror(errno));
	return -1;
}

/* Non-system databases on a server, comma-free list for argv. */
static int user_schemas(struct db_conn *c, struct strv *out, char **err)
{
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c,
			 "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT "
			 "IN (" SYSTEM_SCHEMAS ") ORDER BY 1",
			 &rows, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (rows[i].values[0])
			strv_push(out, rows[i].values[0]);
	db_rows_free(rows, n);
	return LB_OK;
}

static uint64_t estimate_bytes(struct db_conn *c)
{
	char *v = NULL, *err = NULL;
	db_value(c,
		 "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE "
		 "TABLE_SCHEMA NOT IN ('information_schema','performance_schema')",
		 &v, &err);
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	free(err);
	return n;
}

/* Schemas holding something: an empty schema (the `test` a distribution's
 * installer creates) is not data. */
#define SCHEMAS_WITH_OBJECTS                                                                       \
	"SELECT s.SCHEMA_NAME FROM information_schema.SCHEMATA s WHERE s.SCHEMA_NAME NOT IN "      \
	"(" SYSTEM_SCHEMAS ") AND (EXISTS (SELECT 1 FROM information_schema.TABLES t WHERE "       \
	"t.TABLE_SCHEMA = s.SCHEMA_NAME) OR EXISTS (SELECT 1 FROM information_schema.ROUTINES r "  \
	"WHERE r.ROUTINE_SCHEMA = s.SCHEMA_NAME) OR EXISTS (SELECT 1 FROM "                        \
	"information_schema.EVENTS e WHERE e.EVENT_SCHEMA = s.SCHEMA_NAME)) ORDER BY 1"

static int refuse_if_data(struct db_conn *target, bool force, char **err)
{
	struct db_row *rows;
	size_t n;
	int rc = db_rows(target, SCHEMAS_WITH_OBJECTS, &rows, &n, err);
	if (!rc && n > 0 && !force) {
		*err = xasprintf("%s holds data (database '%s'%s): nothing changed; run 'lifeboat db "
				 "clone --force' to overwrite it",
				 target->name, rows[0].values[0] ? rows[0].values[0] : "?",
				 n > 1 ? " and more" : "");
		rc = LB_FAILED;
	}
	db_rows_free(rows, n);
	return rc;
}

/* Replication off, local binlog history gone: a fresh standby whose binlog
 * holds local transactions (an admin user created there) would otherwise
 * reject the source's GTIDs (anchors pitfalls 5 and 6). */
static int reset_target(struct db_conn *t, bool drop_data, char **err)
{
	const struct db_flavor *fl = t->flavor;
	int rc = db_exec(t, "SET GLOBAL read_only = ON", err);
	/* A fenced old primary being re-seeded: its system accounts (not
	 * copied) get back what the fence took before the record is dropped
	 * with the lifeboat schema. */
	unsigned given = 0;
	if (!rc)
		rc = db_fence_give_back(t, &given, err);
	if (!rc)
		rc = db_exec(t, fl->stop_replica, err);
	if (!rc)
		rc = db_exec(t, fl->reset_replica_all, err);
	if (!rc)
		rc = db_exec(t, "SET SESSION sql_log_bin = 0", err);
	struct strv dbs;
	strv_init(&dbs);
	if (!rc && drop_data)
		rc = user_schemas(t, &dbs, err);
	for (size_t i = 0; !rc && i < dbs.len; i++) {
		char *name = db_quote_ident(dbs.items[i]);
		rc = db_execf(t, err, "DROP DATABASE %s", name);
		free(name);
	}
	strv_free(&dbs);
	if (!rc)
		rc = db_exec(t, "DROP DATABASE IF EXISTS lifeboat", err);
	if (!rc)
		rc = db_exec(t, "RESET MASTER", err);
	if (!rc)
		rc = db_exec(t, "SET GLOBAL gtid_slave_pos = ''", err);
	return rc;
}

static char *log_path_for(const struct config *cfg, const char *what)
{
	return xasprintf("%s/clone-%s.log", cfg->state_dir, what);
}

static int clone_dump(struct db_pair *p, struct db_conn *src, struct db_conn *tgt,
		      const struct db_accounts *accounts, bool overwrite,
		      const struct db_clone_opts *o, char **err)
{
	int rc = reset_target(tgt, overwrite, err);
	/* Accounts first: views, routines and triggers name their definers. */
	if (!rc)
		rc = db_accounts_apply(tgt, accounts, err);
	if (!rc)
		log_info("clone: %zu application account(s) copied", accounts->count);
	if (rc)
		return rc;
	char *scnf = db_write_client_cnf(p->cfg, src->server, p->cfg->db.user, p->password, NULL, err);
	char *tcnf = scnf ? db_write_client_cnf(p->cfg, tgt->server, p->cfg->db.user, p->password,
						NULL, err)
			  : NULL;
	if (!tcnf) {
		if (scnf)
			unlink(scnf);
		free(scnf);
		return LB_FAILED;
	}
	struct strv prod, cons;
	strv_init(&prod);
	strv_init(&cons);
	strv_push(&prod, "mariadb-dump");
	strv_pushf(&prod, "--defaults-file=%s", scnf);
	/* --gtid --master-data=1: the dump ends with SET GLOBAL gtid_slave_pos
	 * of its snapshot. Accounts are not in it (db_accounts.c). The fence's
	 * record of revoked privileges belongs to the source alone. */
	strv_push_split(&prod, "--single-transaction --gtid --master-data=1 --routines --events "
			       "--triggers --hex-blob --max-allowed-packet=1G "
			       "--ignore-table=lifeboat.fence_revoked --databases");
	strv_push(&prod, "lifeboat");
	rc = user_schemas(src, &prod, err);
	strv_push(&cons, "mariadb");
	strv_pushf(&cons, "--defaults-file=%s", tcnf);
	strv_push_split(&cons, "--binary-mode --batch --max-allowed-packet=1G");
	char *logp = log_path_for(p->cfg, "dump");
	unlink(logp);
	struct pump pm = {.producer = prod.items,
			  .consumer = cons.items,
			  .prefix = "SET SESSION sql_log_bin = 0;\n",
			  .log_path = logp,
			  .progress = o->progress,
			  .estimate = estimate_bytes(src)};
	if (!rc && pump_run(&pm, err) < 0)
		rc = LB_FAILED;
	if (!rc)
		log_info("clone: dumped %.1f MiB in %.1f s (%.1f MiB/s)", (double)pm.bytes / 1048576.0,
			 pm.secs, pm.secs > 0 ? (double)pm.bytes / 1048576.0 / pm.secs : 0);
	unlink(scnf);
	unlink(tcnf);
	free(scnf);
	free(tcnf);
	free(logp);
	strv_free(&prod);
	strv_free(&cons);
	return rc;
}

/* ---- physical ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0;
	return remove(path) < 0 ? -1 : 0;
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

static bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	/* A zombie is dead (anchors pitfall 2). */
	return rp && rp[1] == ' ' && rp[2] != 'Z';
}

/* The target's pid (from its pid file, which must be on this machine). */
static int target_pid(struct db_conn *t, long *pid, char **err)
{
	char *pidfile = NULL;
	int rc = db_value(t, "SELECT @@global.pid_file", &pidfile, err);
	if (rc)
		return rc;
	size_t len;
	char *text = pidfile ? read_file(pidfile, &len) : NULL;
	*pid = text ? strtol(text, NULL, 10) : 0;
	free(text);
	if (*pid <= 0) {
		*err = xasprintf("cannot read the pid file %s of %s: a physical clone must run on "
				 "the standby's machine (or use --method dump)",
				 pidfile ? pidfile : "(none)", t->name);
		rc = LB_FAILED;
	}
	free(pidfile);
	return rc;
}

static int wait_gone(const char *name, long pid, char **err)
{
	int64_t deadline = now_ms() + 120000;
	while (pid_alive((pid_t)pid)) {
		if (now_ms() > deadline) {
			*err = xasprintf("%s (pid %ld) did not stop within 120 s after SHUTDOWN", name,
					 pid);
			return LB_FAILED;
		}
		nap(20);
	}
	return LB_OK;
}

/* Shut the target down through SQL and wait until its process is gone. */
static int stop_target(struct db_conn *t, char **err)
{
	long pid;
	int rc = target_pid(t, &pid, err);
	if (!rc)
		rc = db_exec(t, "SHUTDOWN", err);
	if (!rc)
		rc = wait_gone(t->name, pid, err);
	return rc;
}

static char *read_backup_gtid(const char *datadir, char **err)
{
	static const char *const names[] = {"mariadb_backup_binlog_info", "xtrabackup_binlog_info"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *path = xasprintf("%s/%s", datadir, names[i]);
		size_t len;
		char *text = read_file(path, &len);
		free(path);
		if (!text)
			continue;
		/* "FILE\tPOS\tGTID" */
		char *f1 = strchr(text, '\t');
		char *f2 = f1 ? strchr(f1 + 1, '\t') : NULL;
		char *gtid = f2 ? xstrdup(f2 + 1) : NULL;
		free(text);
		if (gtid) {
			gtid[strcspn(gtid, "\r\n")] = '\0';
			return gtid;
		}
	}
	*err = xasprintf("the backup in %s has no binlog GTID position: is log_bin on on the "
			 "primary?",
			 datadir);
	return NULL;
}

static int run_start_command(const struct config *cfg, const char *who, char **err)
{
	if (!cfg->db.start_command) {
		*err = xasprintf("%s:%d: a physical clone stops and starts the standby: set "
				 "[database] start_command (e.g. 'systemctl start mariadb')",
				 cfg->path, cfg->db.line);
		return LB_USAGE;
	}
	struct strv argv;
	strv_init(&argv);
	strv_push_split(&argv, cfg->db.start_command);
	struct run_result r;
	int code = child_run(argv.items, NULL, 0, 180000, &r);
	int rc = LB_OK;
	if (code != 0) {
		*err = xasprintf("start_command '%s' failed (exit %d%s): %s; %s holds the restored "
				 "copy but is not running",
				 cfg->db.start_command, code, r.timed_out ? ", timed out" : "",
				 r.err_tail[0] ? r.err_tail : "no output", who);
		rc = LB_FAILED;
	}
	run_result_free(&r);
	strv_free(&argv);
	return rc;
}

static int connect_retry(struct db_pair *p, const struct db_server *s, struct db_conn *c,
			 double secs, char **err)
{
	int64_t deadline = now_ms() + (int64_t)(secs * 1000);
	for (;;) {
		int rc = db_pair_connect(p, s, c, err);
		if (!rc || rc == LB_USAGE || now_ms() > deadline)
			return rc;
		db_close(c);
		free(*err);
		*err = NULL;
		nap(100);
	}
}

/* The connection failed because nothing answers (not a login problem). */
static bool mysql_errno_is_down(const struct db_conn *c)
{
	unsigned e = db_errno(c);
	return e == 2002 || e == 2003 || e == 2013 || e == 2006; /* CR_CONN* / lost */
}

/* The standby's datadir, checked to be a local directory, and the standby
 * stopped (unless it is down already). *datadir, *st filled. */
static int backup_stop_target(struct db_pair *p, struct db_conn *tgt, char **datadir,
			      struct stat *st, char **err)
{
	bool down = tgt->my == NULL; /* db_clone checked datadir is set and idle */
	int rc = LB_OK;
	if (down)
		*datadir = xstrdup(p->cfg->db.datadir);
	else
		rc = db_value(tgt, "SELECT @@global.datadir", datadir, err);
	if (!rc && (!*datadir || stat(*datadir, st) < 0 || !S_ISDIR(st->st_mode))) {
		*err = xasprintf("%s: datadir %s is not a directory here: a physical clone runs on "
				 "the standby's machine (or use --method dump)",
				 tgt->name, *datadir ? *datadir : "(unknown)");
		rc = LB_FAILED;
	}
	if (!rc && !p->cfg->db.start_command)
		rc = run_start_command(p->cfg, tgt->name, err); /* reports the missing key */
	if (!rc && !down)
		rc = stop_target(tgt, err);
	db_close(tgt);
	if (rc)
		return rc;
	log_info("clone: standby %s; replacing %s", down ? "was down" : "stopped", *datadir);
	if (nftw(*datadir, rm_entry, 64, FTW_DEPTH | FTW_PHYS) < 0) {
		*err = xasprintf("cannot empty %s: %s; the standby is stopped", *datadir,
				 strerror(errno));
		return LB_FAILED;
	}
	return LB_OK;
}

/* mariadb-backup's argv: local, or on the source's node under ssh. For the
 * remote case *input gets the option text to feed its stdin. */
static void backup_producer(struct db_pair *p, struct db_conn *src, const char *src_datadir,
			    const char *cnf, const char *tmpdir, struct strv *prod, char **input)
{
	const struct node_conf *snode = src->server->node ? config_find_node(p->cfg, src->server->node)
							  : NULL;
	*input = NULL;
	if (!snode || !snode->ssh || (p->cfg->node && strcmp(p->cfg->node, snode->name) == 0)) {
		strv_push(prod, "mariadb-backup");
		strv_pushf(prod, "--defaults-file=%s", cnf);
		strv_push_split(prod, "--backup --stream=xbstream --parallel=2");
		strv_pushf(prod, "--datadir=%s", src_datadir);
		strv_pushf(prod, "--target-dir=%s", tmpdir);
		return;
	}
	/* Credentials come through ssh's stdin into a 0600 temp file, never a
	 * command line; mariadb-backup reads its option file twice, so a pipe
	 * will not do. ssh hands the remote shell one string: the script is
	 * constant, the datadir single-quoted. */
	*input = db_client_cnf_text(src->server, p->cfg->db.user, p->password);
	struct peer_ssh ps;
	peer_ssh_of(snode, &ps);
	peer_ssh_words(&ps, NULL, prod);
	peer_ssh_dest(&ps, NULL, 0, prod);
	char *q = peer_quoted(src_datadir);
	strv_pushf(prod,
		   "umask 077 && f=$(mktemp) && trap 'rm -f \"$f\"' EXIT && cat >\"$f\" && "
		   "mariadb-backup --defaults-file=\"$f\" --backup --stream=xbstream "
		   "--parallel=2 --target-dir=/tmp --datadir=%s",
		   q);
	free(q);
}

/* Stream the source's backup into the (empty) datadir. */
static int backup_stream(struct db_pair *p, struct db_conn *src, const char *datadir,
			 const struct db_clone_opts *o, char **err)
{
	char *src_datadir = NULL;
	int rc = db_value(src, "SELECT @@global.datadir", &src_datadir, err);
	if (rc)
		return rc;
	char *cnf = db_write_client_cnf(p->cfg, src->server, p->cfg->db.user, p->password, NULL, err);
	if (!cnf) {
		free(src_datadir);
		return LB_FAILED;
	}
	char *tmpdir = xasprintf("%s/clone-tmp", p->cfg->state_dir);
	mkdir_p(tmpdir, 0700);
	struct strv prod, cons;
	strv_init(&prod);
	strv_init(&cons);
	char *input;
	backup_producer(p, src, src_datadir ? src_datadir : "", cnf, tmpdir, &prod, &input);
	strv_push(&cons, "mbstream");
	strv_push(&cons, "-x");
	strv_push(&cons, "-C");
	strv_push(&cons, datadir);
	char *logp = log_path_for(p->cfg, "backup");
	unlink(logp);
	struct pump pm = {.producer = prod.items,
			  .consumer = cons.items,
			  .producer_input = input,
			  .log_path = logp,
			  .progress = o->progress,
			  .estimate = estimate_bytes(src)};
	if (pump_run(&pm, err) < 0)
		rc = LB_FAILED;
	else
		log_info("clone: streamed %.1f MiB in %.1f s (%.1f MiB/s); preparing",
			 (double)pm.bytes / 1048576.0, pm.secs,
			 pm.secs > 0 ? (double)pm.bytes / 1048576.0 / pm.secs : 0);
	unlink(cnf);
	free(cnf);
	free(input);
	free(logp);
	free(tmpdir);
	free(src_datadir);
	strv_free(&prod);
	strv_free(&cons);
	return rc;
}

/* Prepare the copy and give it to the datadir's owner. */
static int backup_prepare(const char *datadir, const struct stat *st, char **err)
{
	char *argv[] = {"mariadb-backup", "--no-defaults", "--prepare",
			xasprintf("--target-dir=%s", datadir), NULL};
	struct run_result r;
	int code = child_run(argv, NULL, 0, 3600000, &r);
	int rc = LB_OK;
	if (code != 0) {
		*err = xasprintf("mariadb-backup --prepare failed (exit %d): %s; the standby is "
				 "stopped with an unprepared copy in %s",
				 code, r.err_tail, datadir);
		rc = LB_FAILED;
	}
	run_result_free(&r);
	free(argv[3]);
	chown_uid = st->st_uid;
	chown_gid = st->st_gid;
	if (!rc && nftw(datadir, chown_entry, 64, FTW_PHYS) < 0) {
		*err = xasprintf("cannot chown %s: %s", datadir, strerror(errno));
		rc = LB_FAILED;
	}
	return rc;
}

/* Start the restored standby and point its GTID state at the backup's. */
static int backup_start(struct db_pair *p, const struct db_server *target, struct db_conn *tgt,
			const char *datadir, char **err)
{
	char *gtid = read_backup_gtid(datadir, err);
	if (!gtid)
		return LB_FAILED;
	int rc = run_start_command(p->cfg, target->role, err);
	if (!rc)
		rc = connect_retry(p, target, tgt, 60, err);
	/* A binlog kept outside the datadir would still hold the old history. */
	if (!rc)
		rc = db_exec(tgt, "SET GLOBAL read_only = ON", err);
	if (!rc)
		rc = db_exec(tgt, "RESET MASTER", err);
	if (!rc) {
		char *q = db_quote(tgt, gtid);
		rc = db_execf(tgt, err, "SET GLOBAL gtid_slave_pos = %s", q);
		free(q);
	}
	free(gtid);
	return rc;
}

/* rm -r of a directory tree (the directory itself too); missing is fine. */
static int remove_tree(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (nftw(dir, rm_entry, 64, FTW_DEPTH | FTW_PHYS) < 0)
		return -1;
	return rmdir(dir);
}

#define STAGE_NAME ".lifeboat-clone"

/* "<datadir>/.lifeboat-clone" when the datadir's file system has room for
 * a second copy, else NULL (the copy goes into the emptied datadir). Inside
 * the datadir, not beside it: a datadir is often a mount point of its own,
 * which can be neither renamed nor reached by rename(2) from outside. */
static char *staging_dir(struct db_conn *src, const char *datadir)
{
	struct statvfs vs;
	uint64_t need = estimate_bytes(src);
	need += need / 10 + (64u << 20);
	if (statvfs(datadir, &vs) < 0 || (uint64_t)vs.f_bavail * vs.f_frsize < need)
		return NULL;
	char *base = path_normalise(datadir);
	char *out = xasprintf("%s/" STAGE_NAME, base);
	free(base);
	return out;
}

/* The stopped standby's datadir becomes the prepared copy: every entry but
 * the stage goes, then each entry of the stage is renamed into place (one
 * file system). 0 or -1 with errno. */
static int swap_in(const char *live, const char *stage)
{
	DIR *d = opendir(live);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, STAGE_NAME) == 0)
			continue;
		char *path = xasprintf("%s/%s", live, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0)
			rc = S_ISDIR(st.st_mode) ? remove_tree(path) : unlink(path);
		free(path);
	}
	closedir(d);
	d = rc == 0 ? opendir(stage) : NULL;
	if (!d)
		return -1;
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *from = xasprintf("%s/%s", stage, e->d_name);
		char *to = xasprintf("%s/%s", live, e->d_name);
		rc = rename(from, to);
		free(from);
		free(to);
	}
	closedir(d);
	return rc == 0 ? rmdir(stage) : -1;
}

/* The physical clone of a running standby with room for a second copy:
 * SHUTDOWN is sent and the stream starts at once into a stage directory in
 * the datadir, so the standby's shutdown overlaps the stream; prepared and
 * chowned there, the copy replaces the old data once the standby is gone.
 * A failure before that leaves the old data as it was (the stage goes). */
/* The copy failed before it replaced anything: the standby, shut down for
 * the stream, is started again on its own data, as the clone found it. */
static void restart_untouched(struct db_pair *p, const char *name, long pid, const char *live,
			      char **err)
{
	char *e2 = NULL;
	int rc = wait_gone(name, pid, &e2);
	if (!rc)
		rc = run_start_command(p->cfg, name, &e2);
	char *m = rc ? xasprintf("%s; the standby's data in %s is as it was, but it is stopped "
				 "(%s): start it again, or run the clone again",
				 *err, live, e2)
		     : xasprintf("%s; the standby's data in %s is as it was and the standby is "
				 "running again (start_command): nothing changed",
				 *err, live);
	free(e2);
	free(*err);
	*err = m;
}

static int clone_backup_staged(struct db_pair *p, struct db_conn *src, struct db_conn *tgt,
			       const struct db_server *target, const char *datadir,
			       const struct stat *st, const char *stage,
			       const struct db_clone_opts *o, bool *untouched, char **err)
{
	char *live = path_normalise(datadir);
	long pid = 0;
	int rc = target_pid(tgt, &pid, err);
	if (!rc)
		rc = db_exec(tgt, "SHUTDOWN", err);
	bool shut = !rc, gone_failed = false;
	char *name = xstrdup(tgt->name);
	db_close(tgt);
	if (!rc && (remove_tree(stage) < 0 || mkdir(stage, 0700) < 0)) {
		*err = xasprintf("cannot make %s: %s", stage, strerror(errno));
		rc = LB_FAILED;
	}
	if (!rc)
		log_info("clone: standby shutting down; streaming into %s meanwhile", stage);
	if (!rc)
		rc = backup_stream(p, src, stage, o, err);
	if (!rc)
		rc = backup_prepare(stage, st, err);
	if (!rc) {
		rc = wait_gone(name, pid, err);
		gone_failed = rc != 0;
	}
	if (rc) {
		remove_tree(stage);
		if (shut && !gone_failed)
			restart_untouched(p, name, pid, live, err);
		*untouched = true;
	} else if (swap_in(live, stage) < 0) {
		*err = xasprintf("cannot move the prepared copy from %s into %s: %s; the standby "
				 "is stopped",
				 stage, live, strerror(errno));
		rc = LB_FAILED;
	}
	if (!rc)
		rc = backup_start(p, target, tgt, live, err);
	free(name);
	free(live);
	return rc;
}

static int clone_backup(struct db_pair *p, struct db_conn *src, struct db_conn *tgt,
			const struct db_server *target, const struct db_clone_opts *o, bool *untouched,
			char **err)
{
	char *datadir = NULL;
	struct stat st;
	int rc = LB_OK;
	if (tgt->my) {
		rc = db_value(tgt, "SELECT @@global.datadir", &datadir, err);
		if (!rc && !p->cfg->db.start_command)
			rc = run_start_command(p->cfg, tgt->name, err); /* reports the missing key */
		char *stage = !rc && datadir && stat(datadir, &st) == 0 && S_ISDIR(st.st_mode)
				      ? staging_dir(src, datadir)
				      : NULL;
		if (stage) {
			rc = clone_backup_staged(p, src, tgt, target, datadir, &st, stage, o,
						 untouched, err);
			free(stage);
			free(datadir);
			return rc;
		}
		free(datadir);
		datadir = NULL;
		if (rc)
			return rc;
	}
	rc = backup_stop_target(p, tgt, &datadir, &st, err);
	if (!rc)
		rc = backup_stream(p, src, datadir, o, err);
	if (!rc)
		rc = backup_prepare(datadir, &st, err);
	if (!rc)
		rc = backup_start(p, target, tgt, datadir, err);
	free(datadir);
	return rc;
}

/* A standby that is down: its datadir (from [database] datadir) must not be
 * in use (InnoDB keeps ibdata1 locked while mariadbd runs) and, unless
 * force, must hold no user database directory. */
static int check_idle_datadir(const struct config *cfg, bool force, char **err)
{
	const char *dir = cfg->db.datadir;
	char *ib = xasprintf("%s/ibdata1", dir);
	int fd = open(ib, O_RDWR | O_CLOEXEC);
	free(ib);
	if (fd >= 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		bool locked = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
		close(fd);
		if (locked) {
			*err = xasprintf("the standby does not answer but a mariadbd holds %s (pid "
					 "%ld): fix [database] standby or stop that server; nothing "
					 "changed",
					 dir, (long)fl.l_pid);
			return LB_FAILED;
		}
	}
	static const char *const system_dirs[] = {"mysql", "performance_schema", "sys", "lifeboat"};
	DIR *d = opendir(dir);
	if (!d) {
		*err = xasprintf("cannot read [database] datadir %s: %s", dir, strerror(errno));
		return LB_USAGE;
	}
	struct dirent *e;
	char *found = NULL;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_name[0] == '#' || e->d_type != DT_DIR)
			continue;
		bool sys = false;
		for (size_t i = 0; i < ARRAY_LEN(system_dirs); i++)
			sys = sys || strcmp(e->d_name, system_dirs[i]) == 0;
		if (!sys)
			found = xstrdup(e->d_name);
	}
	closedir(d);
	if (found && !force) {
		*err = xasprintf("the standby's datadir %s holds data (database '%s'): nothing "
				 "changed; run 'lifeboat db clone --force' to overwrite it",
				 dir, found);
		free(found);
		return LB_FAILED;
	}
	free(found);
	return LB_OK;
}

/* STATE_DIR/clone-incomplete names a target a clone started to change and
 * did not finish: what is there is that clone's partial copy, which a
 * re-run may overwrite without --force. */
static char *marker_path(const struct config *cfg)
{
	return xasprintf("%s/clone-incomplete", cfg->state_dir);
}

static bool marker_names(const struct config *cfg, const char *target)
{
	char *path = marker_path(cfg);
	size_t len;
	char *text = read_file(path, &len);
	free(path);
	size_t tl = strlen(target);
	bool same = text && strcspn(text, "\n") == tl && strncmp(text, target, tl) == 0;
	free(text);
	return same;
}

static int marker_set(const struct config *cfg, const char *target, bool on, char **err)
{
	char *path = marker_path(cfg);
	int rc = LB_OK;
	if (!on) {
		unlink(path);
	} else {
		char *text = xasprintf("%s\n", target);
		if (mkdir_p(cfg->state_dir, 0700) < 0 ||
		    write_file_atomic(path, text, strlen(text)) < 0) {
			*err = xasprintf("cannot write %s: %s; nothing changed", path,
					 strerror(errno));
			rc = LB_FAILED;
		}
		free(text);
	}
	free(path);
	return rc;
}

static bool is_loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
	       strcmp(host, "::1") == 0;
}

/* Enough room for the source's data in the target's datadir (when that is
 * a directory here): free space plus what the target's own tables occupy
 * (they are replaced) against the source's size and a margin. */
static int check_disk(struct db_conn *src, struct db_conn *tgt, const char *datadir, char **err)
{
	struct statvfs vs;
	if (!datadir || statvfs(datadir, &vs) < 0)
		return LB_OK; /* not on this machine: the copy itself will tell */
	uint64_t need = estimate_bytes(src);
	uint64_t reclaim = tgt && tgt->my ? estimate_bytes(tgt) : 0;
	uint64_t avail = (uint64_t)vs.f_bavail * vs.f_frsize + reclaim;
	need += need / 10 + (64u << 20);
	if (avail >= need)
		return LB_OK;
	*err = xasprintf("not enough disk space for the copy: %s has %.0f MiB free, the source's "
			 "data needs about %.0f MiB; nothing changed",
			 datadir, (double)avail / 1048576.0, (double)need / 1048576.0);
	return LB_FAILED;
}

/* The target's datadir when it is a directory on this machine, else NULL. */
static char *local_datadir(struct db_pair *p, struct db_conn *tgt)
{
	if (!tgt->my)
		return p->cfg->db.datadir ? xstrdup(p->cfg->db.datadir) : NULL;
	char *dir = NULL, *e = NULL;
	struct stat st;
	if (!is_loopback(tgt->server->host) || db_value(tgt, "SELECT @@global.datadir", &dir, &e) ||
	    !dir || stat(dir, &st) < 0) {
		free(e);
		free(dir);
		return NULL;
	}
	return dir;
}

/* Everything checked before the target changes: server ids, privileges on
 * both sides, data on the target, disk space. *overwrite: the target's
 * databases may be dropped (--force, or our own unfinished copy). */
static int clone_prechecks(struct db_pair *p, struct db_conn *src, struct db_conn *tgt,
			   const struct db_clone_opts *o, bool *overwrite, char **err)
{
	bool resumed = marker_names(p->cfg, tgt->name);
	*overwrite = o->force || resumed;
	if (resumed)
		log_info("clone: an earlier clone of %s did not finish: its partial copy is "
			 "replaced",
			 tgt->name);
	const char *cmd = o->method == DB_CLONE_DUMP ? "clone-dump" : "clone-backup";
	int rc = priv_check(src, cmd, PRIV_SOURCE, err) < 0 ? LB_FAILED : LB_OK;
	if (!rc && tgt->my && priv_check(tgt, cmd, PRIV_TARGET, err) < 0)
		rc = LB_FAILED;
	if (!rc && tgt->my)
		rc = db_check_server_ids(src, tgt, err);
	if (!rc && tgt->my)
		rc = refuse_if_data(tgt, *overwrite, err);
	if (!rc && !tgt->my)
		rc = check_idle_datadir(p->cfg, *overwrite, err);
	char *dir = rc ? NULL : local_datadir(p, tgt);
	if (!rc)
		rc = check_disk(src, tgt, dir, err);
	free(dir);
	return rc;
}

/* What a failed clone left behind, in words, for the error message. */
static void say_state(struct db_conn *tgt, const char *name, bool changed, char **err)
{
	if (!changed)
		return;
	char *m = xasprintf("%s; %s now holds an unfinished copy (read-only, no replication): "
			    "run 'lifeboat db clone' again, it replaces that copy",
			    *err, name);
	free(*err);
	*err = m;
	(void)tgt;
}

/* A physical clone stops the standby and replaces its data directory, so
 * it runs on the standby's machine; anywhere else it would wait on, and
 * empty, this machine's own server. Decided before anything changes. */
static int backup_runs_here(const struct config *cfg, const struct db_server *target,
			    char **err)
{
	bool here = target->node && cfg->node ? strcmp(target->node, cfg->node) == 0
					      : config_address_is_here(target->host);
	if (here)
		return LB_OK;
	*err = xasprintf("a physical clone replaces the standby's data directory on its own "
			 "machine: run 'lifeboat db clone --method backup' on %s (or use "
			 "--method dump from here); nothing changed",
			 target->node ? target->node : target->host);
	return LB_FAILED;
}

int db_clone(struct db_pair *p, const struct db_server *source, const struct db_server *target,
	     const struct db_clone_opts *o, char **err)
{
	if (!p->repl_password) {
		*err = xstrdup("internal: clone needs the replication password");
		return LB_FAILED;
	}
	if (residency_check_db_copy(p->cfg, target, err) < 0)
		return LB_USAGE; /* before any connection: nothing changed */
	if (o->method == DB_CLONE_BACKUP) {
		int here = backup_runs_here(p->cfg, target, err);
		if (here)
			return here;
	}
	struct db_conn src, tgt;
	memset(&tgt, 0, sizeof(tgt));
	int rc = db_pair_connect(p, source, &src, err);
	if (!rc) {
		rc = db_pair_connect(p, target, &tgt, err);
		/* A physical clone can seed a standby that is down. */
		if (rc == LB_FAILED && o->method == DB_CLONE_BACKUP && p->cfg->db.datadir &&
		    mysql_errno_is_down(&tgt)) {
			log_info("clone: %s; seeding [database] datadir %s", *err, p->cfg->db.datadir);
			free(*err);
			*err = NULL;
			db_close(&tgt);
			tgt.name = xasprintf("%s %s:%u", target->role, target->host, target->port);
			tgt.server = target;
			rc = LB_OK;
		}
	}
	char *tname = tgt.name ? xstrdup(tgt.name) : NULL;
	bool overwrite = false, changed = false, untouched = false;
	struct db_accounts accounts;
	memset(&accounts, 0, sizeof(accounts));
	if (!rc)
		rc = clone_prechecks(p, &src, &tgt, o, &overwrite, err);
	/* Created on the source before the copy: the copy then carries them. */
	if (!rc)
		rc = db_meta_ensure(&src, err);
	if (!rc)
		rc = db_ensure_repl_user(p, &src, err);
	if (!rc && o->method == DB_CLONE_DUMP)
		rc = db_accounts_read(&src, p->cfg->db.user, &accounts, err);
	if (!rc)
		rc = marker_set(p->cfg, tname, true, err);
	if (rc)
		goto out;
	changed = true;
	for (size_t i = 0; i < accounts.skipped.len; i++)
		log_info("clone: not copied: %s", accounts.skipped.items[i]);
	log_info("clone: %s -> %s by %s", src.name, tname,
		 o->method == DB_CLONE_DUMP ? "mariadb-dump" : "mariadb-backup");
	if (o->method == DB_CLONE_DUMP)
		rc = clone_dump(p, &src, &tgt, &accounts, overwrite, o, err);
	else
		rc = clone_backup(p, &src, &tgt, target, o, &untouched, err);
	if (rc && untouched) {
		/* Nothing replaced: no partial copy for a re-run to overwrite. */
		changed = false;
		marker_set(p->cfg, tname, false, NULL);
	}
	if (rc)
		goto out;
	rc = db_start_replication(p, &tgt, source, false, err);
	char *pos = NULL;
	if (!rc)
		rc = db_value(&src, "SELECT @@global.gtid_binlog_pos", &pos, err);
	if (!rc)
		rc = db_wait_replica(&tgt, pos, 60, err);
	free(pos);
	if (!rc)
		rc = db_semi_sync_setup(p, &src, &tgt, err);
	if (!rc)
		rc = db_persist_read_only(p->cfg, target, true, 0, err);
	if (!rc)
		marker_set(p->cfg, tname, false, err);
out:
	if (rc)
		say_state(&tgt, tname ? tname : target->role, changed, err);
	db_accounts_free(&accounts);
	free(tname);
	db_close(&src);
	db_close(&tgt);
	return rc;
}
