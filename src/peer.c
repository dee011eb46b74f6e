#include "peer.h"
#include "child.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest unix socket path (sun_path) ssh accepts, with room for the
 * suffix ssh adds while it creates the socket. */
#define CONTROL_PATH_MAX 100

const struct node_conf *peer_node(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (!cfg->node || strcmp(cfg->nodes[i].name, cfg->node) != 0)
			return &cfg->nodes[i];
	return NULL;
}

const char *peer_name(const struct config *cfg)
{
	const struct node_conf *n = peer_node(cfg);
	if (n)
		return n->name;
	if (cfg->db.primary && (!cfg->node || strcmp(cfg->db.primary, cfg->node) != 0))
		return cfg->db.primary;
	return cfg->db.standby;
}

bool peer_ssh_of(const struct node_conf *n, struct peer_ssh *out)
{
	memset(out, 0, sizeof(*out));
	if (!n || !(n->ssh || n->address))
		return false;
	out->dest = n->ssh ? n->ssh : n->address;
	out->port = n->ssh_port;
	out->identity = n->ssh_identity;
	out->options = n->ssh_options;
	return true;
}

void peer_ssh_words(const struct peer_ssh *s, const char *const *opts, struct strv *v)
{
	strv_push(v, "ssh");
	if (s->port) {
		strv_push(v, "-p");
		strv_pushf(v, "%ld", s->port);
	}
	if (s->identity) {
		strv_push(v, "-i");
		strv_push(v, s->identity);
	}
	/* A password or host-key prompt is a failure, never a hang. */
	strv_push(v, "-o");
	strv_push(v, "BatchMode=yes");
	for (size_t i = 0; opts && opts[i]; i++) {
		strv_push(v, "-o");
		strv_push(v, opts[i]);
	}
	if (s->options)
		strv_push_split(v, s->options);
}

/* rsync splits -e on spaces and honours quotes; quote what needs it. */
static void add_e_word(struct buf *b, const char *w)
{
	if (!strpbrk(w, " \t'\"")) {
		buf_adds(b, w);
		return;
	}
	char q = strchr(w, '\'') ? '"' : '\'';
	buf_addc(b, q);
	buf_adds(b, w);
	buf_addc(b, q);
}

void peer_rsync_e(const struct strv *ssh_words, struct strv *v)
{
	struct buf e;
	buf_init(&e);
	for (size_t i = 0; i < ssh_words->len; i++) {
		if (i)
			buf_addc(&e, ' ');
		add_e_word(&e, ssh_words->items[i]);
	}
	strv_push(v, e.data);
	buf_free(&e);
}

void peer_quote(struct buf *b, const char *word)
{
	buf_addc(b, '\'');
	for (const char *p = word; *p; p++) {
		if (*p == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *p);
	}
	buf_addc(b, '\'');
}

char *peer_quoted(const char *word)
{
	struct buf b;
	buf_init(&b);
	peer_quote(&b, word);
	return buf_steal(&b);
}

void peer_ssh_dest(const struct peer_ssh *s, const char *const *words, size_t n,
		   struct strv *v)
{
	strv_push(v, "--");
	strv_push(v, s->dest);
	if (!words)
		return;
	struct buf cmd;
	buf_init(&cmd);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addc(&cmd, ' ');
		peer_quote(&cmd, words[i]);
	}
	strv_push(v, cmd.data);
	buf_free(&cmd);
}

char *peer_control_path(const struct config *cfg)
{
	char *path = xasprintf("%s/peer-ssh.sock", cfg->state_dir);
	if (strlen(path) > CONTROL_PATH_MAX) {
		free(path);
		return NULL;
	}
	return path;
}

void peer_control_close(const struct config *cfg)
{
	char *path = peer_control_path(cfg);
	if (!path || access(path, F_OK) != 0) {
		free(path);
		return;
	}
	struct strv v;
	strv_init(&v);
	strv_push_split(&v, "ssh -O exit -o");
	strv_pushf(&v, "ControlPath=%s", path);
	strv_push(&v, "peer");
	struct run_result r;
	child_run(v.items, NULL, 0, 5000, &r);
	run_result_free(&r);
	strv_free(&v);
	free(path);
}

/* The configuration's path as the peer must read it: the same absolute
 * path (one file, the same place on every node). Caller frees. */
static char *absolute_config_path(const struct config *cfg)
{
	if (cfg->path[0] == '/')
		return xstrdup(cfg->path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup(cfg->path);
	return xasprintf("%s/%s", cwd, cfg->path);
}

/* [failover] peer_command, split on blanks; when it is an ssh command it
 * shares the connection too. */
static void override_argv(const struct config *cfg, const char *control, struct strv *v)
{
	struct strv w;
	strv_init(&w);
	strv_push_split(&w, cfg->failover.peer_command);
	const char *slash = w.len ? strrchr(w.items[0], '/') : NULL;
	bool is_ssh = w.len && strcmp(slash ? slash + 1 : w.items[0], "ssh") == 0;
	for (size_t i = 0; i < w.len; i++) {
		strv_push(v, w.items[i]);
		if (i == 0 && is_ssh && control) {
			strv_push_split(v, "-o ControlMaster=auto -o ControlPersist=30 -o");
			strv_push(v, control);
		}
	}
	strv_free(&w);
}

static bool lifeboat_argv(const struct config *cfg, const struct node_conf *n, bool share,
			  struct strv *v)
{
	/* One run's calls share one connection: the probe logs in before a
	 * fence, so the calls inside a switchover's write block cost a round
	 * trip, not a login. */
	char *path = share ? peer_control_path(cfg) : NULL;
	char *control = path ? xasprintf("ControlPath=%s", path) : NULL;
	free(path);
	if (cfg->failover.peer_command) {
		override_argv(cfg, control, v);
		free(control);
		return v->len > 0;
	}
	struct peer_ssh s;
	if (!peer_ssh_of(n, &s)) {
		free(control);
		return false;
	}
	const char *shared[] = {"ConnectTimeout=3", "ControlMaster=auto", "ControlPersist=30",
				control, NULL};
	const char *alone[] = {"ConnectTimeout=3", NULL};
	peer_ssh_words(&s, control ? shared : alone, v);
	char *conf = absolute_config_path(cfg);
	const char *words[] = {"lifeboat", "-c", conf};
	peer_ssh_dest(&s, words, ARRAY_LEN(words), v);
	free(conf);
	free(control);
	return true;
}

bool peer_lifeboat_argv(const struct config *cfg, const struct node_conf *n, struct strv *v)
{
	return lifeboat_argv(cfg, n, true, v);
}

bool peer_lifeboat_argv_fresh(const struct config *cfg, const struct node_conf *n,
			      struct strv *v)
{
	return lifeboat_argv(cfg, n, false, v);
}
