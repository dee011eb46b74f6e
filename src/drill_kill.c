/* drill_kill: the lab-only half of `lifeboat drill --crash` that runs on the
 * primary's node (`lifeboat drill --kill-local-database`, what the drill
 * runs there over [failover] peer_command): SIGKILL to this node's
 * database server, as a power cut would leave it. The server is the
 * [database] primary or standby whose [node] is this node; its pid comes
 * from its own @@pid_file and must name a running mariadbd or mysqld. Refused
 * unless this node's configuration also says drill_allow_crash = yes. A
 * supervisor that restarts the server (systemd Restart=) is the lab's
 * business: the drill measures the failover either way. */
#include "drill.h"
#include "result.h"
#include "db.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEATH_WAIT_MS 10000

static const struct db_server *local_server(const struct db_pair *p, const struct config *cfg)
{
	if (!cfg->node)
		return NULL;
	if (p->primary.node && strcmp(p->primary.node, cfg->node) == 0)
		return &p->primary;
	if (p->standby.node && strcmp(p->standby.node, cfg->node) == 0)
		return &p->standby;
	return NULL;
}

/* The server's pid from its pid file (relative paths are in its datadir). */
static int server_pid(struct db_conn *c, long *pid, char **err)
{
	char *file = NULL, *dir = NULL;
	int rc = db_value(c, "SELECT @@pid_file", &file, err);
	if (!rc && file && file[0] != '/')
		rc = db_value(c, "SELECT @@datadir", &dir, err);
	if (!rc && !file) {
		*err = xstrdup("the server has no pid_file");
		rc = LB_FAILED;
	}
	if (!rc) {
		char *path = dir ? xasprintf("%s/%s", dir, file) : xstrdup(file);
		char *text = read_file(path, NULL);
		if (!text || !parse_long(strtok(text, " \n"), 2, 0x7fffffff, pid)) {
			*err = xasprintf("%s: no pid in it", path);
			rc = LB_FAILED;
		}
		free(text);
		free(path);
	}
	free(file);
	free(dir);
	return rc;
}

/* "mariadbd" / "mysqld" when pid is one, else NULL. */
static char *server_comm(long pid)
{
	char *path = xasprintf("/proc/%ld/comm", pid);
	char *comm = read_file(path, NULL);
	free(path);
	if (comm)
		comm[strcspn(comm, "\n")] = '\0';
	if (comm && strcmp(comm, "mariadbd") != 0 && strcmp(comm, "mysqld") != 0) {
		free(comm);
		comm = NULL;
	}
	return comm;
}

/* Gone, or a zombie its parent has not reaped yet. */
static bool dead(long pid)
{
	char *path = xasprintf("/proc/%ld/stat", pid);
	char *stat = read_file(path, NULL);
	free(path);
	const char *end = stat ? strrchr(stat, ')') : NULL;
	bool gone = !end || (end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'));
	free(stat);
	return gone;
}

static int kill_pid(long pid, const char *gtid, char **err)
{
	char *comm = server_comm(pid);
	if (!comm) {
		*err = xasprintf("pid %ld is not a running mariadbd or mysqld: not killed", pid);
		return LB_FAILED;
	}
	if (kill((pid_t)pid, SIGKILL) < 0) {
		*err = xasprintf("kill -9 %ld (%s): %s", pid, comm, strerror(errno));
		free(comm);
		return LB_FAILED;
	}
	struct timespec ts = {0, 20 * 1000000L};
	for (int waited = 0; !dead(pid); waited += 20) {
		if (waited >= DEATH_WAIT_MS) {
			*err = xasprintf("%s pid %ld still alive %d ms after SIGKILL", comm, pid,
					 DEATH_WAIT_MS);
			free(comm);
			return LB_FAILED;
		}
		nanosleep(&ts, NULL);
	}
	printf("killed %s pid %ld with SIGKILL at gtid %s\n", comm, pid, gtid ? gtid : "");
	free(comm);
	return LB_OK;
}

int drill_kill_local_db(const struct config *cfg)
{
	if (!cfg->drill_allow_crash) {
		log_error("drill: %s has no '[lifeboat] drill_allow_crash = yes': this node's "
			  "database is not killed",
			  cfg->path);
		return LB_USAGE;
	}
	struct db_pair p;
	memset(&p, 0, sizeof(p));
	struct db_conn c;
	memset(&c, 0, sizeof(c));
	char *err = NULL;
	long pid = 0;
	int rc = db_pair_init(&p, cfg, false, &err);
	const struct db_server *s = rc ? NULL : local_server(&p, cfg);
	if (!rc && !s) {
		err = xasprintf("%s: no [database] server is on this node ('%s')", cfg->path,
				cfg->node ? cfg->node : "[lifeboat] node unset");
		rc = LB_USAGE;
	}
	if (!rc)
		rc = db_pair_connect(&p, s, &c, &err);
	/* The position just before the kill: what the promoted side must have. */
	char *gtid = NULL;
	if (!rc)
		rc = server_pid(&c, &pid, &err);
	if (!rc)
		rc = db_value(&c, "SELECT @@gtid_binlog_pos", &gtid, &err);
	if (!rc)
		rc = kill_pid(pid, gtid, &err);
	db_close(&c);
	free(gtid);
	if (rc)
		log_error("drill: %s", err);
	free(err);
	db_pair_free(&p);
	return rc;
}
