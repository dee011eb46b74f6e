#include "serve.h"
#include "beneath.h"
#include "child.h"
#include "exclude.h"
#include "history.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "placing.h"
#include "role.h"
#include "tarstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the request's words ---- */

int serve_split(const char *c, struct strv *words, char **err)
{
	struct buf w;
	buf_init(&w);
	bool in_word = false;
	int rc = 0;
	for (; *c && rc == 0; c++) {
		if (*c == ' ' || *c == '\t' || *c == '\n') {
			if (in_word)
				strv_push(words, w.data ? w.data : "");
			buf_reset(&w);
			in_word = false;
		} else if (*c == '\\' && c[1]) {
			buf_addc(&w, *++c);
			in_word = true;
		} else if (*c == '\'') {
			const char *end = strchr(c + 1, '\'');
			if (!end) {
				rc = -1;
				break;
			}
			buf_add(&w, c + 1, (size_t)(end - c - 1));
			c = end;
			in_word = true;
		} else if (*c == '"') {
			for (c++; *c && *c != '"'; c++) {
				if (*c == '\\' && strchr("\\\"$`", c[1]))
					c++;
				else if (*c == '$' || *c == '`')
					rc = -1;
				buf_addc(&w, *c);
			}
			if (!*c)
				rc = -1;
			in_word = true;
		} else if (strchr(";|&$`<>(){}*?[]~#!", *c)) {
			rc = -1;
		} else {
			buf_addc(&w, *c);
			in_word = true;
		}
	}
	if (rc == 0 && in_word)
		strv_push(words, w.data ? w.data : "");
	buf_free(&w);
	if (rc < 0)
		*err = xasprintf("refused: shell syntax in the request");
	return rc;
}

/* ---- which trees the peer may write ---- */

static char *resolve_partial(const char *path);

struct tree {
	char *root; /* real path */
	const struct sync_conf *sc;
};

struct trees {
	struct tree *t;
	size_t n;
};

static bool addr_is_local(const struct sockaddr *sa, const struct ifaddrs *ifs)
{
	char want[INET6_ADDRSTRLEN], have[INET6_ADDRSTRLEN];
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, want, sizeof(want), NULL, 0, NI_NUMERICHOST) != 0)
		return false;
	if (!strncmp(want, "127.", 4) || !strcmp(want, "::1"))
		return true;
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
			continue;
		socklen_t l = i->ifa_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								 : sizeof(struct sockaddr_in);
		if (getnameinfo(i->ifa_addr, l, have, sizeof(have), NULL, 0, NI_NUMERICHOST) == 0 &&
		    !strcmp(want, have))
			return true;
	}
	return false;
}

/* serve run by this node's own versions, restore or check for a local
 * target (they set LIFEBOAT_SERVE_LOCAL), never by a forced ssh command. */
static bool local_caller(void)
{
	return getenv("LIFEBOAT_SERVE_LOCAL") && !getenv("SSH_ORIGINAL_COMMAND");
}

/* A [USER@]HOST that names this machine (one of its addresses). */
static bool host_is_here(const char *user_host)
{
	const char *at = strrchr(user_host, '@');
	const char *host = at ? at + 1 : user_host;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	struct ifaddrs *ifs = NULL;
	getifaddrs(&ifs);
	bool here = false;
	for (struct addrinfo *a = res; a && !here; a = a->ai_next)
		here = addr_is_local(a->ai_addr, ifs);
	if (ifs)
		freeifaddrs(ifs);
	freeaddrinfo(res);
	return here;
}

/* The trees a peer may write here: a [sync]'s target on this node, and a
 * [sync]'s source on this node while this node is the standby (the peer,
 * failed over to, pushes back). A local target's tree counts only when
 * serve runs for this node itself (local_caller). */
static void trees_load(const struct config *cfg, struct trees *tr)
{
	memset(tr, 0, sizeof(*tr));
	tr->t = xcalloc(cfg->n_syncs * 2 + 1, sizeof(*tr->t));
	bool standby = role_current(cfg) == ROLE_STANDBY;
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		const char *path = NULL;
		if (s->target_node && !s->target_host)
			path = s->target_path;
		else if (s->target_host && !s->target_node && host_is_here(s->target_host))
			path = s->target_path;
		else if (s->target_node && s->target_host && standby)
			path = s->source;
		else if (!s->target_host && !s->target_node && local_caller())
			path = s->target_path; /* run here by versions and restore, not by a peer */
		char *real = path ? resolve_partial(path) : NULL;
		if (real)
			tr->t[tr->n++] = (struct tree){real, s};
	}
}

static void trees_free(struct trees *tr)
{
	for (size_t i = 0; i < tr->n; i++)
		free(tr->t[i].root);
	free(tr->t);
}

/* A real path for path, whose last components may not exist yet (a
 * target made by the first pass): the longest existing prefix resolved,
 * the rest appended. NULL when nothing of it resolves. */
static char *resolve_partial(const char *path)
{
	char *norm = path_normalise(path);
	char *real = realpath(norm, NULL);
	size_t cut = strlen(norm);
	while (!real && cut > 1) {
		char *slash = memrchr(norm, '/', cut);
		if (!slash)
			break;
		cut = (size_t)(slash - norm);
		char *head = xstrndup(norm, cut ? cut : 1);
		char *rp = realpath(head, NULL);
		free(head);
		if (rp) {
			real = xasprintf("%s%s", strcmp(rp, "/") ? rp : "", norm + cut);
			free(rp);
		}
	}
	free(norm);
	return real;
}

/* What a merge that died in the tree left is recovered before a request
 * reads or writes there: never a file a power cut left short (placing.h). */
static void recover_placed(const struct tree *t)
{
	int fd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *err = NULL;
	if (fd >= 0 && placing_recover(fd, &err) < 0)
		log_warn("serve: %s: %s", t->root, err);
	free(err);
	if (fd >= 0)
		close(fd);
}

/* The tree path is in (exactly its root with want_root), after resolving
 * symlinks in what exists of it, recovered; NULL when none. Every request
 * finds its tree here. */
static const struct tree *tree_of(const struct trees *tr, const char *path, bool want_root)
{
	char *real = resolve_partial(path);
	const struct tree *found = NULL;
	for (size_t i = 0; real && i < tr->n && !found; i++) {
		const char *root = tr->t[i].root;
		if (want_root ? !strcmp(real, root) : path_is_within(real, root)) {
			const char *rel = real + strlen(root);
			rel += *rel == '/';
			if (!history_name(rel))
				found = &tr->t[i];
		}
	}
	free(real);
	if (found)
		recover_placed(found);
	return found;
}

static int refuse(const char *fmt, const char *what)
{
	log_error("serve: refused: %s%s", fmt, what ? what : "");
	return SERVE_REFUSED;
}

/* The same, naming the request refused. */
static int refuse_request(const char *req, const char *why, const char *what)
{
	log_error("serve: refused: %s: %s%s", req, why, what ? what : "");
	return SERVE_REFUSED;
}

/* ---- stdin helpers ---- */

static int read_exact(int fd, char *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* All of stdin (small requests: names), at most limit bytes. */
static char *read_stdin(size_t limit, size_t *len)
{
	struct buf b;
	buf_init(&b);
	char chunk[65536];
	ssize_t r;
	while ((r = read(0, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || b.len + (size_t)r > limit) {
			buf_free(&b);
			return NULL;
		}
		buf_add(&b, chunk, (size_t)r);
	}
	buf_add(&b, "", 1);
	*len = b.len - 1;
	return buf_steal(&b);
}

/* The next NUL-terminated name in [*p, end), or NULL. */
static const char *next_name(const char **p, const char *end)
{
	if (*p >= end)
		return NULL;
	const char *s = *p;
	const char *nul = memchr(s, '\0', (size_t)(end - s));
	if (!nul)
		return NULL;
	*p = nul + 1;
	return s;
}

static int open_root(const struct tree *t)
{
	return open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static double keep_of(const struct tree *t)
{
	return history_keep_seconds(t->sc->keep);
}

/* ---- retention and room ---- */

static int room_for(const struct tree *t)
{
	char *why = NULL;
	if (history_room(t->root, keep_of(t), t->sc->keep_size, &why) == 0)
		return SERVE_OK;
	log_error("serve: no room: %s", why);
	free(why);
	return SERVE_NO_ROOM;
}

/* ---- rsync's server side ---- */

/* Short options a receiving or sending rsync server may get (before the
 * 'e' that starts the capability letters). Not here: K (follows symlinks
 * on the receiver), L and k (follow them on the sender), T, and anything
 * unknown. */
static const char short_ok[] = "lHogDtprIRnxcvuzWSAXOJUdEim@sbf.0123456789-";

static const char *const long_ok[] = {
	"--delete", "--delete-missing-args", "--ignore-missing-args", "--force", "--mkpath",
	"--stats", "--delete-after", "--delete-during", "--delete-delay", "--delete-before",
	"--numeric-ids", "--safe-links", "--no-implied-dirs", "--omit-dir-times", "--size-only",
	"--ignore-existing", "--existing", "--super", "--fsync", "--from0", "--checksum",
	"--new-compress", "--old-compress", "--no-whole-file", "--whole-file", "--backup",
	"--trust-sender", NULL,
};

static const char *const long_prefix_ok[] = {
	"--modify-window=", "--log-format=", "--out-format=", "--timeout=", "--max-delete=",
	"--compress-level=", "--compress-choice=", "--zc=", "--zl=", "--checksum-choice=",
	"--cc=", "--max-size=", "--min-size=", "--chmod=", "--usermap=", "--groupmap=",
	"--chown=", "--bwlimit=", "--checksum-seed=", "--block-size=", NULL,
};

static bool in_list(const char *const *list, const char *a, bool prefix)
{
	for (size_t i = 0; list[i]; i++)
		if (prefix ? !strncmp(a, list[i], strlen(list[i])) : !strcmp(a, list[i]))
			return true;
	return false;
}

/* b (a client's --backup, as rsync passes it on) sets *backup: kept in
 * the history's run, never beside the file with rsync's ~ suffix. */
static bool short_flags_ok(const char *a, bool *backup)
{
	for (const char *p = a + 1; *p; p++) {
		if (*p == 'e')
			return true; /* capability letters follow */
		if (!strchr(short_ok, *p))
			return false;
		if (*p == 'b')
			*backup = true;
	}
	return true;
}

int serve_check_rsync(const struct strv *args, size_t from, bool *sender, const char **dest,
		      bool *wants_backup, char **err)
{
	*sender = false;
	*dest = NULL;
	*wants_backup = false;
	bool server = false, dot = false;
	for (size_t i = from; i < args->len; i++) {
		const char *a = args->items[i];
		if (!strcmp(a, "--server")) {
			server = true;
		} else if (!strcmp(a, "--sender")) {
			*sender = true;
		} else if (!strcmp(a, "--backup")) {
			*wants_backup = true;
		} else if (a[0] == '-' && a[1] != '-' && a[1]) {
			if (!short_flags_ok(a, wants_backup)) {
				*err = xasprintf("rsync option '%s' is not allowed", a);
				return -1;
			}
		} else if (a[0] == '-' && a[1] == '-' && a[2]) {
			if (!in_list(long_ok, a, false) && !in_list(long_prefix_ok, a, true)) {
				*err = xasprintf("rsync option '%s' is not allowed", a);
				return -1;
			}
		} else if (!dot && !strcmp(a, ".")) {
			dot = true;
		} else if (dot && !*dest) {
			*dest = a;
		} else {
			*err = xasprintf("rsync: one path only, got '%s'", a);
			return -1;
		}
	}
	if (!server || !*dest) {
		*err = xasprintf("not an rsync server invocation");
		return -1;
	}
	return 0;
}

static void on_receiver_exit(struct proc *p, void *arg)
{
	(void)p;
	loop_stop(arg);
}

/* The receiving rsync as our child on our stdin and stdout, then one
 * syncfs of the tree's file system before we exit: the peer's rsync prints
 * its statistics (which its side takes as "done") only once this ssh
 * session ended, so what it sent is on disk by then. rsync's own --fsync
 * would fsync each file in turn, a journal commit each. Returns rsync's
 * exit code, or SERVE_FAILED when the sync failed after a transfer the
 * peer would count as done. */
static int receive_settled(const struct tree *t, struct strv *argv, bool settle)
{
	int in = fcntl(0, F_DUPFD_CLOEXEC, 3), out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	struct loop *loop = loop_new();
	struct proc_opts o = {.argv = argv->items, .stdin_from = in, .stdout_to = out};
	char *err = NULL;
	struct proc *p = in >= 0 && out >= 0 ? proc_start(loop, &o, on_receiver_exit, loop, &err)
					    : NULL;
	bool ran = p != NULL;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	int code = SERVE_FAILED;
	if (p) {
		loop_run(loop);
		code = proc_exit_code(p);
		const char *tail = proc_stderr_tail(p);
		if (*tail)
			fprintf(stderr, "%s\n", tail);
		proc_free(p);
	} else {
		log_error("serve: cannot run rsync: %s", err ? err : strerror(errno));
		free(err);
	}
	loop_free(loop);
	if (!ran || !settle)
		return code;
	/* Whatever rsync wrote, also when some files vanished meanwhile (24:
	 * the peer counts that batch as done) or it failed part way. */
	int fd = open_root(t);
	if (fd < 0 || history_sync(fd, t->root, &err) < 0) {
		log_error("serve: %s", err ? err : "cannot open the tree to sync it");
		free(err);
		if (code == 0 || code == 24)
			code = SERVE_FAILED;
	}
	if (fd >= 0)
		close(fd);
	return code;
}

static int serve_rsync(const struct trees *tr, const struct strv *w, size_t from)
{
	bool sender, backup;
	const char *dest;
	char *err = NULL;
	if (serve_check_rsync(w, from, &sender, &dest, &backup, &err) < 0) {
		int rc = refuse(err, NULL);
		free(err);
		return rc;
	}
	const struct tree *t = tree_of(tr, dest, false);
	if (!t)
		return refuse("rsync outside the synced trees: ", dest);
	if (sender && strstr(dest, "/" HISTORY_DIR))
		return refuse("rsync: the history is read through restore: ", dest);
	struct strv argv;
	strv_init(&argv);
	strv_push(&argv, "rsync");
	if (!sender) {
		int rc = room_for(t);
		if (rc != SERVE_OK) {
			strv_free(&argv);
			return rc;
		}
		/* Whatever the peer asks: history is never a name it can touch,
		 * what it replaces is kept, and it is on disk before rsync says done
		 * (receive_settled). */
		strv_push(&argv, "--filter=P /" HISTORY_DIR "/");
		/* Files are written in the history's staging area and renamed into
		 * place whole: a killed transfer leaves nothing under a final name. */
		mkdir_p(t->root, 0755);
		history_clean_staging(t->root);
		char *tmp = history_temp_dir(t->root, NULL);
		if (!tmp) {
			log_error("serve: cannot make a staging directory in %s/%s: %s", t->root,
				  HISTORY_STAGING, strerror(errno));
			strv_free(&argv);
			return SERVE_FAILED;
		}
		strv_pushf(&argv, "--temp-dir=%s", tmp);
		free(tmp);
		if (keep_of(t) > 0 || backup) {
			char *run = history_run_dir(t->root);
			strv_push(&argv, "--backup");
			strv_pushf(&argv, "--backup-dir=%s", run);
			free(run);
		}
	}
	for (size_t i = from; i < w->len; i++)
		if (strcmp(w->items[i], "--backup") != 0)
			strv_push(&argv, w->items[i]);
	fflush(NULL);
	if (!sender) {
		int rc = receive_settled(t, &argv, true);
		strv_free(&argv);
		return rc;
	}
	execvp("rsync", argv.items);
	log_error("serve: cannot run rsync: %s", strerror(errno));
	strv_free(&argv);
	return SERVE_FAILED;
}

/* ---- lifeboat's own requests ---- */

/* The ssh master's session: held open until the peer goes. */
static int serve_hold(void)
{
	char b[4096];
	while (read(0, b, sizeof(b)) > 0)
		;
	return SERVE_OK;
}

static const struct tree *root_from_stdin(const struct trees *tr, const char **p,
					  const char *end)
{
	const char *root = next_name(p, end);
	const struct tree *t = root ? tree_of(tr, root, true) : NULL;
	if (!t)
		refuse("not a synced tree: ", root ? root : "(none)");
	return t;
}

/* A request on stdin (up to limit bytes) that starts with a synced tree's
 * root: the tree, *in (the caller frees it) and *p, *end at what follows.
 * NULL: refused, and said so. */
static const struct tree *request_tree(const struct trees *tr, size_t limit, char **in,
				       const char **p, const char **end)
{
	size_t len;
	*in = read_stdin(limit, &len);
	*p = *in;
	*end = *in ? *in + len : NULL;
	if (!*in) {
		refuse("unreadable request", NULL);
		return NULL;
	}
	return root_from_stdin(tr, p, *end);
}

/* rsync-staged TAG --server ... . ROOT: the receive of a checked
 * rsync run (transport.h). rsync writes into a staging directory that serve
 * picks in the tree's history area, comparing with the tree itself
 * (--compare-dest: an unchanged file is not sent, a changed one has the
 * tree's copy as its delta basis): nothing gets a final name here.
 * rsync-linked TAG: the same with --link-dest (hard links: an unchanged
 * file is linked into the staging, a new name of it too). Once
 * rsync ended well the staging waits as .staging/.received-TAG for the sender's
 * `merge TAG`, which merges only what held still while it was read;
 * otherwise it goes at once. The merge syncs: no sync here. */
static int serve_rsync_staged(const struct trees *tr, const struct strv *w, size_t from,
			      bool linked)
{
	const char *req = linked ? "rsync-linked" : "rsync-staged";
	const char *tag = from < w->len ? w->items[from] : "";
	if (!history_tag_ok(tag))
		return refuse_request(req, "not a transfer tag: ", tag);
	bool sender, backup;
	const char *dest;
	char *err = NULL;
	if (serve_check_rsync(w, from + 1, &sender, &dest, &backup, &err) < 0) {
		int rc = refuse(err, NULL);
		free(err);
		return rc;
	}
	if (sender)
		return refuse_request(req, "receives only, never sends: ", dest);
	const struct tree *t = tree_of(tr, dest, true);
	if (!t)
		return refuse_request(req, "receives into a synced tree's root only: ", dest);
	int rc = room_for(t);
	if (rc != SERVE_OK)
		return rc;
	mkdir_p(t->root, 0755);
	history_clean_staging(t->root);
	int fd = open_root(t);
	char *staging_rel = fd < 0 ? NULL : history_staging_make(fd, "verified", &err);
	if (!staging_rel) {
		log_error("serve: cannot make a staging directory in %s: %s", t->root,
			  err ? err : strerror(errno));
		free(err);
		if (fd >= 0)
			close(fd);
		return SERVE_FAILED;
	}
	char *staging = xasprintf("%s/%s", t->root, staging_rel);
	struct strv argv;
	strv_init(&argv);
	strv_push(&argv, "rsync");
	bool dot = false;
	for (size_t i = from + 1; i < w->len; i++) {
		const char *a = w->items[i];
		if (!dot && !strcmp(a, ".")) {
			strv_pushf(&argv, "--%s=%s", linked ? "link-dest" : "compare-dest", t->root);
			dot = true;
		}
		if (a == dest)
			strv_push(&argv, staging);
		else if (strcmp(a, "--backup") != 0)
			strv_push(&argv, a);
	}
	fflush(NULL);
	rc = receive_settled(t, &argv, false);
	strv_free(&argv);
	if ((rc == 0 || rc == 24) && history_mark_received(fd, staging_rel, tag, &err) < 0) {
		log_error("serve: %s", err);
		free(err);
		rc = SERVE_FAILED;
	}
	if (rc != 0 && rc != 24)
		history_staging_remove(fd, staging_rel);
	close(fd);
	free(staging);
	free(staging_rel);
	return rc;
}

/* merge TAG; stdin: ROOT, then the names (relative to the tree) of files
 * that changed while they were read: those are dropped, and the rest of
 * what `rsync-staged TAG` received goes into place, what it replaces kept
 * in the history, on disk before serve exits. */
static int serve_merge(const struct trees *tr, const struct strv *w, size_t at)
{
	/* "keep": the rejoin pass to a node without history keeps what it
	 * replaces all the same (adds history, never removes any). */
	bool keep = w->len == at + 2 && !strcmp(w->items[at + 1], "keep");
	if ((w->len != at + 1 && !keep) || !history_tag_ok(w->items[at]))
		return refuse("merge: expected a transfer tag (and 'keep')", NULL);
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, 64 << 20, &in, &p, &end);
	int fd = t ? open_root(t) : -1;
	if (fd < 0) {
		free(in);
		return SERVE_REFUSED;
	}
	char *err = NULL;
	char *staging = history_claim_received(fd, w->items[at], &err);
	int rc = SERVE_FAILED;
	if (staging) {
		for (const char *rel; (rel = next_name(&p, end));)
			history_staging_drop(fd, staging, rel);
		char *run = keep || keep_of(t) > 0 ? history_run_dir("") : NULL;
		if (history_merge(fd, staging, run, &err) == 0)
			rc = SERVE_OK;
		free(run);
		history_staging_remove(fd, staging);
		free(staging);
	}
	if (err)
		log_error("serve: %s", err);
	free(err);
	close(fd);
	free(in);
	return rc;
}

/* stdin: ROOT, then FROM TO pairs; one line out per pair: "ok" or "fail WHY". */
static int serve_rename(const struct trees *tr)
{
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, 64 << 20, &in, &p, &end);
	int fd = t ? open_root(t) : -1;
	if (fd < 0) {
		free(in);
		return SERVE_REFUSED;
	}
	char *run = keep_of(t) > 0 ? history_run_dir("") : NULL;
	int rc = SERVE_OK;
	const char *from, *to;
	while ((from = next_name(&p, end)) && (to = next_name(&p, end))) {
		char *err = NULL;
		if (history_rename(fd, from, to, run, &err) == 0)
			printf("ok\n");
		else
			printf("fail %s\n", err);
		free(err);
	}
	fflush(stdout);
	char *err = NULL;
	if (history_sync(fd, t->root, &err) < 0) { /* on disk before they count */
		log_error("serve: %s", err);
		free(err);
		rc = SERVE_FAILED;
	}
	free(run);
	close(fd);
	free(in);
	return rc;
}

static bool parse_time_arg(const char *s, struct timespec *ts)
{
	char *end;
	errno = 0;
	long long sec = strtoll(s, &end, 10);
	long nsec = 0;
	if (errno || end == s)
		return false;
	if (*end == '.') {
		char *e2;
		nsec = strtol(end + 1, &e2, 10);
		if (e2 - (end + 1) != 9 || *e2)
			return false;
	} else if (*end) {
		return false;
	}
	ts->tv_sec = (time_t)sec;
	ts->tv_nsec = nsec;
	return true;
}

/* utime ATIME MTIME; stdin: ROOT. The tree's top directory gets those times. */
static int serve_utime(const struct trees *tr, const struct strv *w, size_t at)
{
	struct timespec times[2];
	if (w->len != at + 2 || !parse_time_arg(w->items[at], &times[0]) ||
	    !parse_time_arg(w->items[at + 1], &times[1]))
		return refuse("utime: expected ATIME MTIME (seconds.nanoseconds)", NULL);
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, PATH_MAX + 1, &in, &p, &end);
	free(in);
	if (!t)
		return SERVE_REFUSED;
	if (utimensat(AT_FDCWD, t->root, times, 0) < 0) {
		log_error("serve: utime %s: %s", t->root, strerror(errno));
		return SERVE_FAILED;
	}
	return SERVE_OK;
}

/* read; stdin: a path. Only this node's epoch and role files. */
static int serve_read(const struct config *cfg)
{
	size_t len;
	char *in = read_stdin(PATH_MAX + 1, &len);
	if (!in)
		return refuse("read: unreadable request", NULL);
	char *dir = xstrdup(in);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : "";
	if (slash)
		*slash = '\0';
	char *real_dir = realpath(dir, NULL);
	char *real_state = realpath(cfg->state_dir, NULL);
	bool ok = (!strcmp(base, "epoch") || !strcmp(base, "role")) && real_dir &&
		  real_state && !strcmp(real_dir, real_state);
	/* A state dir that does not exist yet: nothing recorded, "none". */
	char *norm = path_normalise(dir);
	bool unborn = !real_dir && !real_state && !strcmp(base, "epoch") &&
		      !strcmp(norm, cfg->state_dir);
	free(norm);
	int rc = SERVE_OK;
	if (ok) {
		char *text = read_file(in, NULL);
		fputs(text ? text : "none\n", stdout);
		free(text);
	} else if (unborn) {
		fputs("none\n", stdout);
	} else {
		rc = refuse("read: not this node's epoch or role file: ", in);
	}
	free(real_dir);
	free(real_state);
	free(dir);
	free(in);
	return rc;
}

static int check_absent(int fd, const char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!beneath_rel_ok(names[i]) || !*names[i] || history_name(names[i]))
			return refuse("tar-x: not a tree name: ", names[i]);
		struct stat st;
		const char *slash = strrchr(names[i], '/');
		char *parent = slash ? xstrndup(names[i], (size_t)(slash - names[i])) : xstrdup("");
		char *err = NULL;
		int pfd = beneath_open_dir(fd, parent, false, &err);
		bool exists = pfd >= 0 && fstatat(pfd, slash ? slash + 1 : names[i], &st,
						  AT_SYMLINK_NOFOLLOW) == 0;
		if (pfd >= 0)
			close(pfd);
		free(parent);
		free(err);
		if (exists) {
			log_error("serve: exists on the target: %s", names[i]);
			return SERVE_EXISTS;
		}
	}
	return SERVE_OK;
}

/* tar-x; stdin: 10 digits (header length), ROOT and tree names
 * NUL-separated, then a tar archive. The archive is unpacked into a
 * staging directory and moved into place once whole: a file never has its
 * final name before all of it is on disk. */
static int serve_tar(const struct trees *tr)
{
	char digits[11] = {0};
	long hlen;
	ssize_t first;
	while ((first = read(0, digits, 1)) < 0 && errno == EINTR)
		;
	if (first == 0)
		return SERVE_OK; /* started ahead of a batch that never came */
	if (first < 0 || read_exact(0, digits + 1, 9) < 0 || !parse_long(digits, 1, 1 << 20, &hlen))
		return refuse("tar-x: bad header", NULL);
	char *hdr = xmalloc((size_t)hlen + 1);
	if (read_exact(0, hdr, (size_t)hlen) < 0) {
		free(hdr);
		return refuse("tar-x: short header", NULL);
	}
	hdr[hlen] = '\0';
	const char *p = hdr, *end = hdr + hlen;
	const struct tree *t = root_from_stdin(tr, &p, end);
	int fd = t ? open_root(t) : -1;
	const char **names = xcalloc((size_t)hlen + 1, sizeof(*names));
	size_t n = 0;
	for (const char *nm; (nm = next_name(&p, end));)
		names[n++] = nm;
	int rc = fd < 0 ? SERVE_REFUSED : check_absent(fd, names, n);
	if (rc == SERVE_OK)
		rc = room_for(t);
	char *staging = NULL;
	char *err = NULL;
	if (rc == SERVE_OK) {
		history_clean_staging(t->root);
		staging = history_staging_make(fd, NULL, &err);
		if (!staging)
			rc = SERVE_FAILED;
	}
	if (rc == SERVE_OK) {
		/* Nothing is merged unless the sender vouched for the archive. */
		char *abs = xasprintf("%s/%s", t->root, staging);
		if (tarstream_receive(0, abs, &err) != 0)
			rc = SERVE_FAILED;
		free(abs);
	}
	if (rc == SERVE_OK) {
		char *run = keep_of(t) > 0 ? history_run_dir("") : NULL;
		if (history_merge_then(fd, staging, run, false, &err) < 0)
			rc = SERVE_FAILED;
		free(run);
	}
	if (rc == SERVE_OK) {
		/* In place: the sender may ship its next batch meanwhile, and
		 * counts this one (flush, RPO) only once we exit 0, after the
		 * sync. */
		fputs(TARSTREAM_PLACED, stdout);
		fflush(stdout);
		uint64_t mark = placing_mark();
		if (history_sync(fd, "the merged files", &err) < 0)
			rc = SERVE_FAILED;
		else
			placing_synced(mark);
	}
	if (err)
		log_error("serve: %s", err);
	free(err);
	if (staging)
		history_staging_remove(fd, staging);
	free(staging);
	free(names);
	free(hdr);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* usage; stdin: ROOT. "BYTES OLDEST\n": what the history holds (check). */
static int serve_usage(const struct trees *tr)
{
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, PATH_MAX + 1, &in, &p, &end);
	free(in);
	if (!t)
		return SERVE_REFUSED;
	uint64_t bytes;
	time_t oldest;
	history_usage(t->root, &bytes, &oldest);
	printf("%llu %lld\n", (unsigned long long)bytes, (long long)oldest);
	return SERVE_OK;
}

/* The renames of the asked path: "renamed WHEN\tFROM\0to\tTO\0". */
static void send_moves(const struct version_list *l)
{
	for (size_t i = 0; i < l->n_moves; i++) {
		printf("renamed %lld\t%s", (long long)l->moves[i].when, l->moves[i].from);
		putchar('\0');
		printf("to\t%s", l->moves[i].to);
		putchar('\0');
	}
}

/* versions; stdin: ROOT, REL. One record per version and name (history_
 * versions' rows): "UNTIL SINCE MTIME SIZE REPLACED BORN\tNAME\0" (UNTIL
 * 0: on the target now under NAME), then "to\tNEW\0" when a rename ended
 * it; then the renames of REL (send_moves). A reader that knows only the
 * first four numbers (lifeboat before renames were followed: REPLACED BORN
 * MTIME SIZE) skips the records that do not start with them. */
static int serve_versions(const struct trees *tr)
{
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, 2 * PATH_MAX + 2, &in, &p, &end);
	const char *rel = t ? next_name(&p, end) : NULL;
	int rc = SERVE_REFUSED;
	if (rel && beneath_rel_ok(rel) && !history_name(rel)) {
		struct version_list l;
		char *err = NULL;
		if (history_versions(t->root, rel, &l, &err) == 0) {
			for (size_t i = 0; i < l.len; i++) {
				const struct version *v = &l.v[i];
				printf("%lld %lld %lld %llu %lld %lld\t%s", (long long)v->until,
				       (long long)v->since, (long long)v->mtime,
				       (unsigned long long)v->size, (long long)v->replaced,
				       (long long)v->born, v->rel);
				putchar('\0');
				if (v->renamed_to) {
					printf("to\t%s", v->renamed_to);
					putchar('\0');
				}
			}
			send_moves(&l);
			rc = SERVE_OK;
		} else {
			log_error("serve: %s", err);
			free(err);
		}
		version_list_free(&l);
	} else if (t) {
		refuse("versions: not a path of the tree: ", rel ? rel : "(none)");
	}
	fflush(stdout);
	free(in);
	return rc;
}

static size_t base_len(const struct version *v)
{
	return strlen(v->path) - strlen(v->rel) - 1;
}

/* How a version's name now (rel) becomes its name then (as): the part
 * before the components they end with in common, e.g. "new/x" for "old/x"
 * is new -> old. Lengths in rel and as; 0 and 0: the same name. */
static void rename_pair(const struct version *v, size_t *cur, size_t *then)
{
	size_t i = strlen(v->rel), j = strlen(v->as);
	if (!strcmp(v->rel, v->as)) {
		*cur = *then = 0;
		return;
	}
	for (;;) {
		const char *ri = memrchr(v->rel, '/', i), *aj = memrchr(v->as, '/', j);
		if (!ri || !aj)
			break;
		size_t rl = i - (size_t)(ri - v->rel), al = j - (size_t)(aj - v->as);
		if (rl != al || memcmp(ri, aj, rl) != 0)
			break;
		i = (size_t)(ri - v->rel);
		j = (size_t)(aj - v->as);
	}
	*cur = i;
	*then = j;
}

/* By where the version is (its history run, or the live tree), then by
 * its rename, then name. */
static int by_base(const void *pa, const void *pb)
{
	const struct version *a = *(const struct version *const *)pa;
	const struct version *b = *(const struct version *const *)pb;
	size_t la = base_len(a), lb = base_len(b);
	int c = memcmp(a->path, b->path, la < lb ? la : lb);
	if (c || la != lb)
		return c ? c : (la < lb ? -1 : 1);
	size_t ac, at, bc, bt;
	rename_pair(a, &ac, &at);
	rename_pair(b, &bc, &bt);
	if (ac != bc || (c = memcmp(a->rel, b->rel, ac)) != 0)
		return ac != bc ? (ac < bc ? -1 : 1) : c;
	if (at != bt || (c = memcmp(a->as, b->as, at)) != 0)
		return at != bt ? (at < bt ? -1 : 1) : c;
	return strcmp(a->rel, b->rel);
}

static bool same_group(const struct version *a, const struct version *b)
{
	size_t ac, at, bc, bt;
	rename_pair(a, &ac, &at);
	rename_pair(b, &bc, &bt);
	return base_len(a) == base_len(b) && !memcmp(a->path, b->path, base_len(a)) && ac == bc &&
	       at == bt && !memcmp(a->rel, b->rel, ac) && !memcmp(a->as, b->as, at);
}

/* The member list of one group: each version, its directories first (from
 * the same place, so they come back with the modes that were kept); a
 * renamed group's only from the renamed directory down (what is above it
 * had another name then). */
static void group_list(const struct version *const *pick, size_t n, size_t min_len,
		       struct buf *list)
{
	const char *prev = "";
	for (size_t i = 0; i < n; i++) {
		const char *rel = pick[i]->rel;
		for (const char *sl = strchr(rel, '/'); sl; sl = strchr(sl + 1, '/')) {
			size_t plen = (size_t)(sl - rel);
			if (plen >= min_len && strncmp(prev, rel, plen + 1) != 0)
				buf_add(list, rel, plen), buf_addc(list, '\0');
		}
		buf_add(list, rel, strlen(rel) + 1);
		prev = rel;
	}
}

/* tar's --transform turning the name prefix cur into then (and what is
 * below it), no byte of either taken as regex or replacement syntax; link
 * targets untouched (S, H). NULL when the names cannot be said so (a
 * newline, every delimiter used): they come back under today's name. */
static char *transform_arg(const char *cur, size_t cur_len, const char *then, size_t then_len)
{
	static const char delims[] = "|,#%@:;~!+=";
	char d = 0;
	for (const char *c = delims; *c && !d; c++)
		if (!memchr(cur, *c, cur_len) && !memchr(then, *c, then_len))
			d = *c;
	if (!d || memchr(cur, '\n', cur_len) || memchr(then, '\n', then_len))
		return NULL;
	struct buf b;
	buf_init(&b);
	buf_addf(&b, "--transform=s%c^", d);
	for (size_t i = 0; i < cur_len; i++) {
		if (strchr(".[]*^$\\", cur[i]))
			buf_addc(&b, '\\');
		buf_addc(&b, cur[i]);
	}
	buf_addf(&b, "\\(/.*\\)\\{0,1\\}$%c", d);
	for (size_t i = 0; i < then_len; i++) {
		if (then[i] == '\\' || then[i] == '&')
			buf_addc(&b, '\\');
		buf_addc(&b, then[i]);
	}
	buf_addf(&b, "\\1%cSH", d);
	return buf_steal(&b);
}

static void on_tarc_exit(struct proc *p, void *arg)
{
	(void)p;
	loop_stop(arg);
}

/* tar -c of one group's members onto stdout, under the names they had. */
static int tar_group(const char *base, const struct version *const *pick, size_t n)
{
	size_t cur, then;
	rename_pair(pick[0], &cur, &then);
	char *transform = cur ? transform_arg(pick[0]->rel, cur, pick[0]->as, then) : NULL;
	if (cur && !transform)
		log_warn("serve: restore: %s comes back under its name of today (%s)",
			 pick[0]->as, pick[0]->rel);
	struct buf list;
	buf_init(&list);
	group_list(pick, n, transform ? cur : 0, &list);
	char *argv[] = {"tar", "-c", "-f", "-", "--format=posix", "--null", "--verbatim-files-from",
			"--no-recursion", "-C", (char *)base, "-T", "-", transform, NULL};
	struct loop *loop = loop_new();
	int out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	struct proc_opts o = {.argv = argv, .stdin_pipe = true, .stdout_to = out};
	char *err = NULL;
	struct proc *p = proc_start(loop, &o, on_tarc_exit, loop, &err);
	if (out >= 0)
		close(out);
	int code = SERVE_FAILED;
	if (p) {
		proc_write_stdin(p, list.data ? list.data : "", list.len);
		proc_close_stdin(p);
		loop_run(loop);
		code = proc_exit_code(p) == 0 ? SERVE_OK : SERVE_FAILED;
		if (code)
			log_error("serve: tar -c: %s", proc_stderr_tail(p));
		proc_free(p);
	} else {
		log_error("serve: %s", err);
		free(err);
	}
	loop_free(loop);
	buf_free(&list);
	free(transform);
	return code;
}

/* The names under REL that were not there at AT (restore removes them
 * from the source): "f SIZE MTIME\tREL\0" for a file as the target has
 * it (the source's is removed only if it is the same), "d 0 0\tREL\0" for
 * a directory (removed only if empty), deepest first. */
static void send_gone(const struct restore_plan *p)
{
	for (size_t i = 0; i < p->n_gone; i++) {
		const struct version *v = p->gone[i];
		printf("f %llu %lld\t%s", (unsigned long long)v->size, (long long)v->mtime, v->rel);
		putchar('\0');
	}
	for (size_t i = 0; i < p->gone_dirs.len; i++) {
		printf("d 0 0\t%s", p->gone_dirs.v[i].rel);
		putchar('\0');
	}
}

/* "FILES BYTES GONE\n", GONE names (send_gone), then one tar archive per
 * place the versions are kept in (and rename), one after the other (the
 * reader unpacks with --ignore-zeros). The versions are read where they
 * are: nothing is linked or touched, as a version's replacement time is
 * its ctime. Without history (keep 0) nothing is named gone: a removal
 * would replicate and lose the file. */
static int send_versions(const struct restore_plan *p, bool history_on)
{
	const struct version **pick = p->pick;
	size_t n = p->n_pick;
	/* The archive's size, near enough for a progress line: each member
	 * a pax header, a ustar header and its data in 512-byte blocks. */
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += 3 * 512 + ((pick[i]->size + 511) & ~(uint64_t)511);
	size_t gone = history_on ? p->n_gone + p->gone_dirs.len : 0;
	printf("%zu %llu %zu\n", n, (unsigned long long)bytes, gone);
	if (gone)
		send_gone(p);
	fflush(stdout);
	if (n)
		qsort(pick, n, sizeof(*pick), by_base);
	int rc = SERVE_OK;
	for (size_t i = 0; i < n && rc == SERVE_OK;) {
		size_t j = i + 1;
		while (j < n && same_group(pick[j], pick[i]))
			j++;
		char *base = xstrndup(pick[i]->path, base_len(pick[i]));
		rc = tar_group(base, (const struct version *const *)pick + i, j - i);
		free(base);
		i = j;
	}
	return rc;
}

/* restore AT; stdin: ROOT, REL. Writes the header, the names to remove
 * and the tar archives of REL as it was at AT (seconds since the epoch),
 * under the names it had then (send_versions). */
static int serve_restore(const struct trees *tr, const struct strv *w, size_t at)
{
	long long when;
	char *end_num = NULL;
	if (w->len != at + 1 || (when = strtoll(w->items[at], &end_num, 10), *end_num))
		return refuse("restore: expected a time in seconds", NULL);
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, 2 * PATH_MAX + 2, &in, &p, &end);
	const char *rel = t ? next_name(&p, end) : NULL;
	int rc = SERVE_REFUSED;
	if (rel && beneath_rel_ok(rel) && !history_name(rel)) {
		struct restore_plan plan;
		char *err = NULL;
		if (history_plan(t->root, rel, (time_t)when, &plan, &err) == 0) {
			rc = send_versions(&plan, keep_of(t) > 0);
		} else {
			log_error("serve: %s", err);
			free(err);
		}
		restore_plan_free(&plan);
	} else if (t) {
		refuse("restore: not a path of the tree: ", rel ? rel : "(none)");
	}
	free(in);
	return rc;
}

/* The lifeboat commands a peer runs here (step-down, status, flush, the
 * disk probe of check):
 * this program again, with this node's configuration. */
static int forward(const struct config *cfg, const char *self, const struct strv *w, size_t at)
{
	const char *cmd = at < w->len ? w->items[at] : "";
	const char *arg = at + 1 < w->len ? w->items[at + 1] : "";
	bool ok = !strcmp(cmd, "status") || !strcmp(cmd, "flush") || !strcmp(cmd, "version") ||
		  (!strcmp(cmd, "switchover") && !strcmp(arg, "--step-down")) ||
		  (!strcmp(cmd, "db") && !strcmp(arg, "status")) ||
		  (!strcmp(cmd, "check") && !strcmp(arg, "--disk-probe"));
	if (!ok)
		return refuse("not a request serve answers: ", cmd);
	struct strv argv;
	strv_init(&argv);
	strv_push(&argv, self);
	strv_push(&argv, "-c");
	strv_push(&argv, cfg->path);
	for (size_t i = at; i < w->len; i++)
		strv_push(&argv, w->items[i]);
	fflush(NULL);
	execv(self, argv.items);
	log_error("serve: cannot run %s: %s", self, strerror(errno));
	strv_free(&argv);
	return SERVE_FAILED;
}

/* What `check` asks of the target: its clock (date +%s.%N) and the free
 * space of a path and its parents (df -P -k -- PATH...): nothing is read
 * but the clock and file system sizes. */
static int serve_check_probe(const struct strv *w, size_t at)
{
	const char *req = w->items[at];
	if (!strcmp(req, "date")) {
		if (w->len != at + 2 || strcmp(w->items[at + 1], "+%s.%N") != 0)
			return refuse("date: only date +%s.%N", NULL);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		printf("%lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
		return SERVE_OK;
	}
	if (w->len < at + 5 || strcmp(w->items[at + 1], "-P") || strcmp(w->items[at + 2], "-k") ||
	    strcmp(w->items[at + 3], "--"))
		return refuse("df: only df -P -k -- PATH...", NULL);
	struct strv argv;
	strv_init(&argv);
	for (size_t i = at; i < w->len; i++)
		strv_push(&argv, w->items[i]);
	fflush(NULL);
	execvp("df", argv.items);
	strv_free(&argv);
	return SERVE_FAILED;
}

/* manifest; stdin: ROOT, then the sync's filter rules ("- PATTERN").
 * The tree's entries in the walk's order (manifest.h), for the peer's
 * full passes; only reads (a missing tree is created empty), never the
 * history, never through a symlink. */
static int serve_manifest(const struct trees *tr)
{
	char *in;
	const char *p, *end;
	const struct tree *t = request_tree(tr, 1 << 20, &in, &p, &end);
	if (!t) {
		free(in);
		return SERVE_REFUSED;
	}
	struct strv filters;
	strv_init(&filters);
	for (const char *rule; (rule = next_name(&p, end));)
		strv_push(&filters, rule);
	struct exclude_set *x = exclude_new(&filters);
	char *err = NULL;
	/* A tree not there yet is created, as the rsync request does: the
	 * peer's first pass then compares against an empty tree. */
	mkdir_p(t->root, 0755);
	struct manifest_walk *w = manifest_walk_open(t->root, x, &err);
	int rc = w && manifest_write(w, 1, true, NULL, &err) == 0 ? SERVE_OK : SERVE_FAILED;
	if (rc != SERVE_OK)
		log_error("serve: manifest: %s", err);
	free(err);
	manifest_walk_free(w);
	exclude_free(x);
	strv_free(&filters);
	free(in);
	return rc;
}

/* Skip "lifeboat [-c FILE] [-v|-q] serve": a peer cannot choose the
 * configuration; this node's own is used. */
static size_t request_start(const struct strv *w)
{
	size_t i = 0;
	const char *base = w->len ? strrchr(w->items[0], '/') : NULL;
	base = base ? base + 1 : (w->len ? w->items[0] : "");
	if (w->len && !strcmp(base, "lifeboat")) {
		for (i = 1; i < w->len && w->items[i][0] == '-'; i++)
			if (!strcmp(w->items[i], "-c") || !strcmp(w->items[i], "--config"))
				i++;
		if (i < w->len && !strcmp(w->items[i], "serve"))
			i++;
	}
	return i;
}

int serve_run(const struct config *cfg, const char *self, const struct strv *w)
{
	size_t at = request_start(w);
	if (at >= w->len)
		return refuse("empty request", NULL);
	const char *req = w->items[at];
	if (!strcmp(req, "hold"))
		return serve_hold();
	if (!strcmp(req, "read"))
		return serve_read(cfg);
	if (!strcmp(req, "date") || !strcmp(req, "df"))
		return serve_check_probe(w, at);
	if (!strcmp(req, "rsync") && w->len == at + 2 && !strcmp(w->items[at + 1], "--version")) {
		/* check asks whether rsync is there */
		char *argv[] = {"rsync", "--version", NULL};
		execvp("rsync", argv);
		return SERVE_FAILED;
	}
	const char *base = strrchr(req, '/');
	base = base ? base + 1 : req;
	bool known = !strcmp(base, "rsync") || !strcmp(req, "rename") || !strcmp(req, "utime") ||
		     !strcmp(req, "tar-x") || !strcmp(req, "versions") || !strcmp(req, "restore") ||
		     !strcmp(req, "usage") || !strcmp(req, "manifest") ||
		     !strcmp(req, "rsync-staged") || !strcmp(req, "rsync-linked") ||
		     !strcmp(req, "merge");
	if (!known)
		return forward(cfg, self, w, at);
	struct trees tr;
	trees_load(cfg, &tr);
	int rc;
	if (!strcmp(base, "rsync"))
		rc = serve_rsync(&tr, w, at + 1);
	else if (!strcmp(req, "rename"))
		rc = serve_rename(&tr);
	else if (!strcmp(req, "utime"))
		rc = serve_utime(&tr, w, at + 1);
	else if (!strcmp(req, "tar-x"))
		rc = serve_tar(&tr);
	else if (!strcmp(req, "versions"))
		rc = serve_versions(&tr);
	else if (!strcmp(req, "usage"))
		rc = serve_usage(&tr);
	else if (!strcmp(req, "manifest"))
		rc = serve_manifest(&tr);
	else if (!strcmp(req, "rsync-staged") || !strcmp(req, "rsync-linked"))
		rc = serve_rsync_staged(&tr, w, at + 1, !strcmp(req, "rsync-linked"));
	else if (!strcmp(req, "merge"))
		rc = serve_merge(&tr, w, at + 1);
	else
		rc = serve_restore(&tr, w, at + 1);
	trees_free(&tr);
	return rc;
}
