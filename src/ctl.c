#include "ctl.h"
#include "child.h"
#include "config.h"
#include "log.h"
#include "loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_REQUEST 65536

struct ctl_conn {
	struct ctl_server *srv;
	int fd;
	struct buf in;
	bool answered_later; /* the handler kept it: no longer read */
	struct ctl_conn *next;
};

struct ctl_server {
	struct loop *loop;
	int fd;
	char *path;
	ctl_request_cb cb;
	void *arg;
	struct ctl_conn *conns;
};

char *ctl_socket_path(const char *state_dir, const struct strv *names)
{
	if (!names || names->len == 0)
		return xasprintf("%s/sync.sock", state_dir);
	struct buf b;
	buf_init(&b);
	buf_addf(&b, "%s/sync-", state_dir);
	for (size_t i = 0; i < names->len; i++)
		buf_addf(&b, "%s%s", i ? "," : "", names->items[i]);
	buf_adds(&b, ".sock");
	return buf_steal(&b);
}

/* sun_path holds 108 bytes; a deeper STATE_DIR is reached through its
 * directory fd (/proc/self/fd/N/NAME), which bind and connect follow. */
static int fill_addr(struct sockaddr_un *a, const char *path, int *dirfd)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof(a->sun_path)) {
		memcpy(a->sun_path, path, strlen(path));
		return 0;
	}
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (*dirfd < 0)
		return -1;
	int n = snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", *dirfd,
			 slash ? slash + 1 : path);
	if (n < 0 || (size_t)n >= sizeof(a->sun_path)) {
		close(*dirfd);
		*dirfd = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a;
	int dirfd;
	if (fill_addr(&a, path, &dirfd) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

bool ctl_not_running(int err_no)
{
	return err_no == ECONNREFUSED || err_no == ENOENT;
}

bool ctl_alive(const char *path)
{
	int fd = connect_to(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- server ---- */

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;
	for (struct ctl_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (!c->answered_later)
		loop_del_fd(s->loop, c->fd);
	close(c->fd);
	buf_free(&c->in);
	free(c);
}

static void on_conn(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct ctl_conn *c = arg;
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&c->in, chunk, (size_t)n);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_free(c);
		return;
	}
	char *nl = c->in.data ? memchr(c->in.data, '\n', c->in.len) : NULL;
	if (!nl && n != 0 && c->in.len < CTL_MAX_REQUEST)
		return; /* more to come */
	if (!nl && c->in.len == 0) {
		conn_free(c); /* a connect just to see we are alive */
		return;
	}
	if (nl)
		*nl = '\0';
	/* The reply is all that happens on this connection from now on. */
	loop_del_fd(loop, fd);
	c->answered_later = true;
	json_object *req = json_tokener_parse(c->in.data);
	if (!req || !json_object_is_type(req, json_type_object)) {
		ctl_reply_error(c, "the request is not one JSON object on one line");
	} else {
		c->srv->cb(c, req, c->srv->arg);
	}
	if (req)
		json_object_put(req);
}

static bool peer_is_owner(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == getuid();
}

static void on_accept(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct ctl_server *s = arg;
	int cfd;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!peer_is_owner(cfd)) {
			close(cfd);
			continue;
		}
		struct ctl_conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = cfd;
		buf_init(&c->in);
		if (loop_add_fd(loop, cfd, EPOLLIN, on_conn, c) < 0) {
			close(cfd);
			buf_free(&c->in);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
	}
}

struct ctl_server *ctl_server_new(struct loop *loop, const char *path, ctl_request_cb cb,
				  void *arg, char **err)
{
	if (ctl_alive(path)) {
		*err = xasprintf("%s: another 'lifeboat sync' already serves these syncs", path);
		return NULL;
	}
	unlink(path); /* left by a daemon that is gone */
	struct sockaddr_un a;
	int dirfd;
	if (fill_addr(&a, path, &dirfd) < 0) {
		*err = xasprintf("control socket %s: %s", path, strerror(errno));
		return NULL;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177); /* 0600, owner only, from the first moment */
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc == 0)
		rc = listen(fd, 16);
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	if (rc < 0) {
		*err = xasprintf("control socket %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct ctl_server *s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->fd = fd;
	s->path = xstrdup(path);
	s->cb = cb;
	s->arg = arg;
	if (loop_add_fd(loop, fd, EPOLLIN, on_accept, s) < 0) {
		*err = xasprintf("control socket %s: %s", path, strerror(errno));
		ctl_server_free(s);
		return NULL;
	}
	return s;
}

void ctl_server_free(struct ctl_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_free(s->conns);
	loop_del_fd(s->loop, s->fd);
	close(s->fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

void ctl_reply(struct ctl_conn *c, json_object *reply)
{
	const char *text = json_object_to_json_string_ext(
		reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	/* A small reply into an idle socket: blocking with a bound is simplest. */
	int flags = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write_all(c->fd, text, strlen(text)) < 0 || write_all(c->fd, "\n", 1) < 0)
		log_debug("control socket: the client left before its reply");
	json_object_put(reply);
	conn_free(c);
}

void ctl_reply_error(struct ctl_conn *c, const char *why)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "ok", json_object_new_boolean(0));
	json_object_object_add(r, "error", json_object_new_string(why));
	ctl_reply(c, r);
}

/* ---- client ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ctl_sockets(const char *state_dir, struct strv *paths)
{
	DIR *d = opendir(state_dir);
	if (!d)
		return;
	size_t first = paths->len;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "sync", 4) == 0 && n >= 9 &&
		    strcmp(de->d_name + n - 5, ".sock") == 0)
			strv_pushf(paths, "%s/%s", state_dir, de->d_name);
	}
	closedir(d);
	qsort(paths->items + first, paths->len - first, sizeof(char *), cmp_str);
}

static int read_reply(int fd, struct buf *in, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		if (in->data && memchr(in->data, '\n', in->len))
			return 0;
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ECONNRESET; /* the daemon stopped before answering */
			return -1;
		}
		buf_add(in, chunk, (size_t)n);
	}
}

json_object *ctl_call(const char *path, json_object *req, int timeout_ms, char **err)
{
	int fd = connect_to(path);
	if (fd < 0) {
		int e = errno;
		*err = ctl_not_running(e)
			       ? xasprintf("%s: no sync daemon answers (not running)", path)
			       : xasprintf("%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	const char *text = json_object_to_json_string_ext(
		req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct buf in;
	buf_init(&in);
	json_object *reply = NULL;
	int e = 0;
	if (write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 ||
	    read_reply(fd, &in, timeout_ms) < 0) {
		e = errno;
		*err = xasprintf("%s: %s", path,
				 e == ETIMEDOUT ? "the sync daemon did not answer in time"
						: strerror(e));
	} else {
		reply = json_tokener_parse(in.data);
		if (!reply) {
			e = EPROTO;
			*err = xasprintf("%s: the sync daemon's reply is not JSON", path);
		}
	}
	close(fd);
	buf_free(&in);
	errno = e;
	return reply;
}

static void merge_syncs(json_object *into, json_object *reply)
{
	json_object *syncs;
	if (!json_object_object_get_ex(reply, "syncs", &syncs) ||
	    !json_object_is_type(syncs, json_type_object))
		return;
	json_object_object_foreach(syncs, name, entry)
		json_object_object_add(into, name, json_object_get(entry));
}

json_object *ctl_call_all(const char *state_dir, json_object *req, int timeout_ms)
{
	struct strv paths;
	strv_init(&paths);
	ctl_sockets(state_dir, &paths);
	json_object *all = json_object_new_object(), *syncs = json_object_new_object(),
		    *errors = json_object_new_array();
	int64_t deadline = now_ms() + timeout_ms;
	int daemons = 0;
	bool ok = true;
	for (size_t i = 0; i < paths.len; i++) {
		char *err = NULL;
		int64_t left = deadline - now_ms();
		json_object *r = ctl_call(paths.items[i], req, left > 0 ? (int)left : 1, &err);
		if (!r && ctl_not_running(errno)) {
			free(err);
			continue;
		}
		daemons++;
		json_object *x;
		if (!r) {
			ok = false;
			json_object_array_add(errors, json_object_new_string(err));
			free(err);
			continue;
		}
		if (!json_object_object_get_ex(r, "ok", &x) || !json_object_get_boolean(x)) {
			ok = false;
			if (json_object_object_get_ex(r, "error", &x))
				json_object_array_add(errors, json_object_get(x));
		}
		merge_syncs(syncs, r);
		json_object_put(r);
	}
	strv_free(&paths);
	json_object_object_add(all, "ok", json_object_new_boolean(ok));
	json_object_object_add(all, "daemons", json_object_new_int(daemons));
	json_object_object_add(all, "syncs", syncs);
	json_object_object_add(all, "errors", errors);
	return all;
}

int ctl_daemons(json_object *all)
{
	json_object *x;
	return json_object_object_get_ex(all, "daemons", &x) ? json_object_get_int(x) : 0;
}

static double entry_num(json_object *e, const char *key)
{
	json_object *x;
	return json_object_object_get_ex(e, key, &x) ? json_object_get_double(x) : 0;
}

/* "[sync www] 3 pending (2 in flight, 1 held open), state retrying: why" */
static void describe_pending(struct buf *b, const char *name, json_object *e)
{
	json_object *st = NULL, *err = NULL;
	json_object_object_get_ex(e, "state", &st);
	json_object_object_get_ex(e, "last_error", &err);
	buf_addf(b, "%s[sync %s] %.0f pending (%.0f in flight, %.0f held open), state %s%s%s",
		 b->len ? "; " : "", name, entry_num(e, "pending"), entry_num(e, "in_flight"),
		 entry_num(e, "held"), st ? json_object_get_string(st) : "?", err ? ": " : "",
		 err ? json_object_get_string(err) : "");
}

static void wanted_names(const struct config *cfg, const struct strv *names, struct strv *out)
{
	strv_init(out);
	if (names && names->len) {
		for (size_t i = 0; i < names->len; i++)
			strv_push(out, names->items[i]);
		return;
	}
	for (size_t i = 0; i < cfg->n_syncs; i++)
		strv_push(out, cfg->syncs[i].name);
}

int ctl_flush(const struct config *cfg, const struct strv *names, double timeout_s, char **why)
{
	struct strv want;
	wanted_names(cfg, names, &want);
	if (!want.len) {
		strv_free(&want);
		return 0; /* no [sync]: nothing to wait for */
	}
	json_object *req = json_object_new_object(), *list = json_object_new_array();
	for (size_t i = 0; i < want.len; i++)
		json_object_array_add(list, json_object_new_string(want.items[i]));
	json_object_object_add(req, "request", json_object_new_string("flush"));
	json_object_object_add(req, "syncs", list);
	json_object_object_add(req, "timeout", json_object_new_double(timeout_s));
	/* The daemons answer at their deadline; a margin for the reply itself. */
	json_object *all = ctl_call_all(cfg->state_dir, req, (int)(timeout_s * 1000) + 5000);
	json_object_put(req);
	struct buf b;
	buf_init(&b);
	json_object *syncs = NULL, *e;
	json_object_object_get_ex(all, "syncs", &syncs);
	if (ctl_daemons(all) == 0)
		buf_addf(&b, "no sync daemon is running on this node (none answers on a control "
			     "socket in %s)",
			 cfg->state_dir);
	for (size_t i = 0; i < want.len && ctl_daemons(all); i++) {
		if (!json_object_object_get_ex(syncs, want.items[i], &e))
			buf_addf(&b, "%s[sync %s] no running sync daemon syncs it", b.len ? "; " : "",
				 want.items[i]);
		else if (!json_object_get_boolean(json_object_object_get(e, "flushed")))
			describe_pending(&b, want.items[i], e);
	}
	json_object *errors = json_object_object_get(all, "errors");
	for (size_t i = 0; errors && i < json_object_array_length(errors) && !b.len; i++)
		buf_addf(&b, "%s%s", i ? "; " : "",
			 json_object_get_string(json_object_array_get_idx(errors, i)));
	json_object_put(all);
	strv_free(&want);
	if (!b.len) {
		buf_free(&b);
		return 0;
	}
	*why = buf_steal(&b);
	return -1;
}

int ctl_flush_peer(const struct strv *peer_argv, double timeout_s, char **why)
{
	if (!peer_argv || !peer_argv->len) {
		*why = xstrdup("no way to reach the peer (no ssh, no peer_command)");
		return -1;
	}
	struct strv v;
	strv_init(&v);
	for (size_t i = 0; i < peer_argv->len; i++)
		strv_push(&v, peer_argv->items[i]);
	strv_push(&v, "flush");
	strv_push(&v, "--timeout");
	strv_pushf(&v, "%.0f", timeout_s < 1 ? 1 : timeout_s);
	struct run_result r;
	/* Its own deadline is timeout_s; ssh gets a margin to connect. */
	child_run(v.items, NULL, 0, (int64_t)(timeout_s * 1000) + 15000, &r);
	int rc = r.exit_code == 0 ? 0 : -1;
	if (rc < 0)
		*why = xasprintf("'lifeboat flush' on the peer failed (exit %d): %s", r.exit_code,
				 r.err_tail);
	run_result_free(&r);
	strv_free(&v);
	return rc;
}
