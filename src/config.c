#include "config.h"
#include "ini.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keys are described by tables so that adding a key is one line and every
 * value gets the same strict checking. */
enum key_type { K_STRING, K_PATH, K_BOOL, K_SECONDS, K_LONG, K_LIST, K_DELETE };

struct key_spec {
	const char *name;
	enum key_type type;
	size_t offset;
	long min, max; /* K_LONG range; K_SECONDS uses max */
};

#define KEY(st, n, t, field) {n, t, offsetof(struct st, field), 0, 0}
#define KEY_RANGE(st, n, t, field, lo, hi) {n, t, offsetof(struct st, field), lo, hi}

static const struct key_spec lifeboat_keys[] = {
	KEY(config, "node", K_STRING, node),
	KEY(config, "state_dir", K_PATH, state_dir),
	KEY(config, "log", K_STRING, log),
	KEY_RANGE(config, "status_interval", K_SECONDS, status_interval, 0, 86400),
	KEY(config, "metrics_listen", K_STRING, metrics_listen),
	KEY(config, "drill_allow_crash", K_BOOL, drill_allow_crash),
};

static const struct key_spec node_keys[] = {
	KEY(node_conf, "address", K_STRING, address),
	KEY(node_conf, "ssh", K_STRING, ssh),
	KEY(node_conf, "role", K_STRING, role),
};

static const struct key_spec sync_keys[] = {
	KEY(sync_conf, "source", K_PATH, source),
	KEY(sync_conf, "target", K_STRING, target),
	KEY_RANGE(sync_conf, "delay", K_SECONDS, delay, 0, 86400),
	KEY(sync_conf, "exclude", K_LIST, excludes),
	KEY(sync_conf, "exclude_from", K_PATH, exclude_from),
	KEY(sync_conf, "delete", K_DELETE, delete_mode),
	KEY(sync_conf, "compress", K_BOOL, compress),
	KEY_RANGE(sync_conf, "bwlimit", K_LONG, bwlimit, 0, 1000000000L),
	KEY_RANGE(sync_conf, "ssh_port", K_LONG, ssh_port, 1, 65535),
	KEY(sync_conf, "ssh_identity", K_PATH, ssh_identity),
	KEY(sync_conf, "ssh_options", K_STRING, ssh_options),
	KEY(sync_conf, "rsync_args", K_STRING, rsync_args),
};

static const struct key_spec database_keys[] = {
	KEY(database_conf, "primary", K_STRING, primary),
	KEY(database_conf, "standby", K_STRING, standby),
	KEY_RANGE(database_conf, "port", K_LONG, port, 1, 65535),
	KEY(database_conf, "user", K_STRING, user),
	KEY(database_conf, "password_file", K_PATH, password_file),
	KEY(database_conf, "replication_user", K_STRING, replication_user),
	KEY(database_conf, "replication_password_file", K_PATH, replication_password_file),
	KEY(database_conf, "socket", K_PATH, socket),
	KEY(database_conf, "heartbeat", K_BOOL, heartbeat),
	KEY(database_conf, "semi_sync", K_BOOL, semi_sync),
	KEY_RANGE(database_conf, "promote_timeout", K_SECONDS, promote_timeout, 0, 86400),
	KEY_RANGE(database_conf, "max_lag", K_SECONDS, max_lag, 0, 86400),
};

static const struct key_spec failover_keys[] = {
	KEY(failover_conf, "vip", K_STRING, vip),
	KEY(failover_conf, "vip_dev", K_STRING, vip_dev),
	KEY(failover_conf, "dns_hook", K_PATH, dns_hook),
	KEY(failover_conf, "pre_hook", K_LIST, pre_hooks),
	KEY(failover_conf, "post_hook", K_LIST, post_hooks),
	KEY(failover_conf, "fence", K_STRING, fence),
};

struct parse_state {
	struct config *cfg;
	void *target; /* struct the current section fills */
	const struct key_spec *keys;
	size_t n_keys;
	unsigned char seen[32]; /* keys already set in this section */
	char msg[512];
};

static const char *delete_names[] = {"yes", "no", "startup", "running"};

const char *delete_mode_name(enum delete_mode m)
{
	return delete_names[m];
}

const char *config_path_choose(const char *from_option)
{
	if (from_option)
		return from_option;
	const char *env = getenv("LIFEBOAT_CONFIG");
	if (env && *env)
		return env;
	return DEFAULT_CONFIG_PATH;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static void sync_defaults(struct sync_conf *s)
{
	s->delay = 0.2;
	strv_init(&s->excludes);
	s->delete_mode = DELETE_YES;
	s->ssh_port = 0; /* ssh's own default */
}

static const char *begin_section(struct parse_state *st, int line, const char *section)
{
	struct config *cfg = st->cfg;
	const char *space = strchr(section, ' ');
	char *kind = space ? xstrndup(section, (size_t)(space - section)) : xstrdup(section);
	const char *name = space ? space + 1 : NULL;
	while (name && *name == ' ')
		name++;
	const char *err = NULL;
	memset(st->seen, 0, sizeof(st->seen));

	if (strcmp(kind, "lifeboat") == 0 || strcmp(kind, "database") == 0 ||
	    strcmp(kind, "failover") == 0) {
		if (name) {
			snprintf(st->msg, sizeof(st->msg), "section [%s] takes no name", kind);
			err = st->msg;
		} else if (strcmp(kind, "lifeboat") == 0) {
			if (cfg->has_lifeboat_section)
				err = "section [lifeboat] appears twice";
			cfg->has_lifeboat_section = true;
			st->target = cfg, st->keys = lifeboat_keys, st->n_keys = ARRAY_LEN(lifeboat_keys);
		} else if (strcmp(kind, "database") == 0) {
			if (cfg->db.present)
				err = "section [database] appears twice";
			cfg->db.present = true;
			cfg->db.line = line;
			st->target = &cfg->db, st->keys = database_keys, st->n_keys = ARRAY_LEN(database_keys);
		} else {
			if (cfg->failover.present)
				err = "section [failover] appears twice";
			cfg->failover.present = true;
			cfg->failover.line = line;
			st->target = &cfg->failover, st->keys = failover_keys,
			st->n_keys = ARRAY_LEN(failover_keys);
		}
	} else if (strcmp(kind, "node") == 0 || strcmp(kind, "sync") == 0) {
		bool is_sync = kind[0] == 's';
		if (!is_sync && !name) {
			err = "section [node] needs a name: [node NAME]";
		} else if (name && !valid_name(name)) {
			snprintf(st->msg, sizeof(st->msg),
				 "bad %s name '%s' (letters, digits, '-', '_', '.')", kind, name);
			err = st->msg;
		} else if (is_sync) {
			const char *sync_name = name ? name : "default";
			if (config_find_sync(cfg, sync_name)) {
				snprintf(st->msg, sizeof(st->msg), "[sync %s] appears twice", sync_name);
				err = st->msg;
			} else {
				cfg->syncs = xrealloc(cfg->syncs, (cfg->n_syncs + 1) * sizeof(*cfg->syncs));
				struct sync_conf *s = &cfg->syncs[cfg->n_syncs++];
				memset(s, 0, sizeof(*s));
				sync_defaults(s);
				s->name = xstrdup(sync_name);
				s->line = line;
				st->target = s, st->keys = sync_keys, st->n_keys = ARRAY_LEN(sync_keys);
			}
		} else {
			if (config_find_node(cfg, name)) {
				snprintf(st->msg, sizeof(st->msg), "[node %s] appears twice", name);
				err = st->msg;
			} else {
				cfg->nodes = xrealloc(cfg->nodes, (cfg->n_nodes + 1) * sizeof(*cfg->nodes));
				struct node_conf *n = &cfg->nodes[cfg->n_nodes++];
				memset(n, 0, sizeof(*n));
				n->name = xstrdup(name);
				n->line = line;
				st->target = n, st->keys = node_keys, st->n_keys = ARRAY_LEN(node_keys);
			}
		}
	} else {
		snprintf(st->msg, sizeof(st->msg),
			 "unknown section [%s] (expected lifeboat, node, sync, database or failover)",
			 section);
		err = st->msg;
	}
	free(kind);
	return err;
}

static const char *set_value(struct parse_state *st, const struct key_spec *k, const char *value)
{
	char *field = (char *)st->target + k->offset;
	switch (k->type) {
	case K_STRING:
	case K_PATH:
		if (!*value) {
			snprintf(st->msg, sizeof(st->msg), "'%s' needs a value", k->name);
			return st->msg;
		}
		if (k->type == K_PATH && value[0] != '/') {
			snprintf(st->msg, sizeof(st->msg), "'%s' must be an absolute path, got '%s'",
				 k->name, value);
			return st->msg;
		}
		free(*(char **)field);
		*(char **)field = k->type == K_PATH ? path_normalise(value) : xstrdup(value);
		return NULL;
	case K_LIST:
		if (!*value) {
			snprintf(st->msg, sizeof(st->msg), "'%s' needs a value", k->name);
			return st->msg;
		}
		if (!((struct strv *)field)->items)
			strv_init((struct strv *)field);
		strv_push((struct strv *)field, value);
		return NULL;
	case K_BOOL:
		if (!parse_bool(value, (bool *)field)) {
			snprintf(st->msg, sizeof(st->msg), "'%s' must be yes or no, got '%s'", k->name,
				 value);
			return st->msg;
		}
		return NULL;
	case K_SECONDS:
		if (!parse_seconds(value, (double)k->max, (double *)field)) {
			snprintf(st->msg, sizeof(st->msg),
				 "'%s' must be a number of seconds between 0 and %ld, got '%s'", k->name,
				 k->max, value);
			return st->msg;
		}
		return NULL;
	case K_LONG:
		if (!parse_long(value, k->min, k->max, (long *)field)) {
			snprintf(st->msg, sizeof(st->msg),
				 "'%s' must be a whole number between %ld and %ld, got '%s'", k->name,
				 k->min, k->max, value);
			return st->msg;
		}
		return NULL;
	case K_DELETE:
		for (size_t i = 0; i < ARRAY_LEN(delete_names); i++) {
			if (strcmp(value, delete_names[i]) == 0) {
				*(enum delete_mode *)field = (enum delete_mode)i;
				return NULL;
			}
		}
		snprintf(st->msg, sizeof(st->msg),
			 "'delete' must be yes, no, startup or running, got '%s'", value);
		return st->msg;
	}
	return "internal error: unknown key type";
}

static const char *handle(void *ctx, int line, const char *section, const char *key,
			  const char *value)
{
	struct parse_state *st = ctx;
	if (!key)
		return begin_section(st, line, section);
	if (!st->target)
		return "key in a section that was rejected";
	for (size_t i = 0; i < st->n_keys; i++) {
		const struct key_spec *k = &st->keys[i];
		if (strcmp(k->name, key) != 0)
			continue;
		if (k->type != K_LIST && st->seen[i]) {
			snprintf(st->msg, sizeof(st->msg), "'%s' is set twice in [%s]", key, section);
			return st->msg;
		}
		st->seen[i] = 1;
		if (st->keys == sync_keys) {
			struct sync_conf *s = st->target;
			if (strcmp(key, "source") == 0)
				s->source_line = line;
			else if (strcmp(key, "target") == 0)
				s->target_line = line;
		}
		return set_value(st, k, value);
	}
	snprintf(st->msg, sizeof(st->msg), "unknown key '%s' in [%s]", key, section);
	return st->msg;
}

/* NODE:PATH, [USER@]HOST:PATH or an absolute local path. */
static int resolve_target(struct config *cfg, struct sync_conf *s, char **err)
{
	const char *t = s->target;
	const char *colon = strchr(t, ':');
	const char *slash = strchr(t, '/');
	if (colon && (!slash || colon < slash)) {
		char *host = xstrndup(t, (size_t)(colon - t));
		const char *path = colon + 1;
		if (!*host || path[0] != '/') {
			*err = xasprintf("%s:%d: target '%s' must be NODE:/PATH, [USER@]HOST:/PATH or "
					 "/PATH",
					 cfg->path, s->target_line, t);
			free(host);
			return -1;
		}
		const struct node_conf *node = config_find_node(cfg, host);
		s->target_path = path_normalise(path);
		if (node) {
			s->target_node = xstrdup(node->name);
			if (cfg->node && strcmp(cfg->node, node->name) == 0) {
				s->target_host = NULL; /* the node is this machine */
			} else if (node->ssh) {
				s->target_host = xstrdup(node->ssh);
			} else if (node->address) {
				s->target_host = xstrdup(node->address);
			} else {
				*err = xasprintf("%s:%d: target node '%s' has neither ssh nor address",
						 cfg->path, s->target_line, node->name);
				free(host);
				return -1;
			}
			free(host);
		} else {
			s->target_host = host;
		}
		return 0;
	}
	if (t[0] != '/') {
		*err = xasprintf("%s:%d: target '%s' must be NODE:/PATH, [USER@]HOST:/PATH or /PATH",
				 cfg->path, s->target_line, t);
		return -1;
	}
	s->target_path = path_normalise(t);
	return 0;
}

static int check_after_parse(struct config *cfg, char **err)
{
	if (cfg->node && !config_find_node(cfg, cfg->node) && cfg->n_nodes > 0) {
		*err = xasprintf("%s: [lifeboat] node = %s, but there is no [node %s] section", cfg->path,
				 cfg->node, cfg->node);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct node_conf *n = &cfg->nodes[i];
		if (n->role && strcmp(n->role, "primary") != 0 && strcmp(n->role, "standby") != 0) {
			*err = xasprintf("%s:%d: [node %s] role must be primary or standby, got '%s'",
					 cfg->path, n->line, n->name, n->role);
			return -1;
		}
	}
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		struct sync_conf *s = &cfg->syncs[i];
		if (!s->source || !s->target) {
			*err = xasprintf("%s:%d: [sync %s] needs both 'source' and 'target'", cfg->path,
					 s->line, s->name);
			return -1;
		}
		if (resolve_target(cfg, s, err) < 0)
			return -1;
	}
	if (cfg->failover.present && cfg->failover.fence) {
		const char *f = cfg->failover.fence;
		if (strcmp(f, "read_only") != 0 && !(strncmp(f, "hook:/", 6) == 0)) {
			*err = xasprintf("%s:%d: [failover] fence must be read_only or hook:/PATH, got '%s'",
					 cfg->path, cfg->failover.line, f);
			return -1;
		}
	}
	return 0;
}

static void config_defaults(struct config *cfg, const char *name)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = xstrdup(name);
	cfg->state_dir = xstrdup("/var/lib/lifeboat");
	cfg->log = xstrdup("stderr");
	cfg->status_interval = 20;
	cfg->db.port = 3306;
	cfg->db.heartbeat = true;
	cfg->db.promote_timeout = 30;
	cfg->db.max_lag = 10;
	cfg->db.replication_user = xstrdup("repl");
	strv_init(&cfg->failover.pre_hooks);
	strv_init(&cfg->failover.post_hooks);
}

int config_load_text(const char *name, const char *text, size_t len, struct config *cfg,
		     char **err)
{
	config_defaults(cfg, name);
	struct parse_state st = {.cfg = cfg};
	if (ini_parse(name, text, len, handle, &st, err) < 0 || check_after_parse(cfg, err) < 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int config_load(const char *path, struct config *cfg, char **err)
{
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		*err = xasprintf("%s: cannot read configuration: %s", path, strerror(errno));
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	int rc = config_load_text(path, text, len, cfg, err);
	free(text);
	return rc;
}

static void sync_free(struct sync_conf *s)
{
	free(s->name);
	free(s->source);
	free(s->target);
	free(s->target_host);
	free(s->target_path);
	free(s->target_node);
	strv_free(&s->excludes);
	free(s->exclude_from);
	free(s->ssh_identity);
	free(s->ssh_options);
	free(s->rsync_args);
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->node);
	free(cfg->state_dir);
	free(cfg->log);
	free(cfg->metrics_listen);
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		free(cfg->nodes[i].name);
		free(cfg->nodes[i].address);
		free(cfg->nodes[i].ssh);
		free(cfg->nodes[i].role);
	}
	free(cfg->nodes);
	for (size_t i = 0; i < cfg->n_syncs; i++)
		sync_free(&cfg->syncs[i]);
	free(cfg->syncs);
	struct database_conf *d = &cfg->db;
	free(d->primary);
	free(d->standby);
	free(d->user);
	free(d->password_file);
	free(d->replication_user);
	free(d->replication_password_file);
	free(d->socket);
	struct failover_conf *f = &cfg->failover;
	free(f->vip);
	free(f->vip_dev);
	free(f->dns_hook);
	strv_free(&f->pre_hooks);
	strv_free(&f->post_hooks);
	free(f->fence);
	memset(cfg, 0, sizeof(*cfg));
}

const struct node_conf *config_find_node(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return &cfg->nodes[i];
	return NULL;
}

const struct sync_conf *config_find_sync(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_syncs; i++)
		if (strcmp(cfg->syncs[i].name, name) == 0)
			return &cfg->syncs[i];
	return NULL;
}

static bool same_target(const struct sync_conf *a, const struct sync_conf *b)
{
	bool a_local = !a->target_host, b_local = !b->target_host;
	if (a_local != b_local)
		return false;
	if (!a_local && strcmp(a->target_host, b->target_host) != 0)
		return false;
	return path_is_within(a->target_path, b->target_path) ||
	       path_is_within(b->target_path, a->target_path);
}

int config_check_sync(const struct config *cfg, char **err)
{
	if (cfg->n_syncs == 0) {
		*err = xasprintf("%s: no [sync NAME] section: nothing to replicate", cfg->path);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		struct stat st;
		if (stat(s->source, &st) < 0) {
			*err = xasprintf("%s:%d: [sync %s] source '%s': %s", cfg->path, s->source_line,
					 s->name, s->source, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			*err = xasprintf("%s:%d: [sync %s] source '%s' is not a directory", cfg->path,
					 s->source_line, s->name, s->source);
			return -1;
		}
		if (!s->target_host && (path_is_within(s->target_path, s->source) ||
					path_is_within(s->source, s->target_path))) {
			*err = xasprintf("%s:%d: [sync %s] target '%s' overlaps its source '%s'",
					 cfg->path, s->target_line, s->name, s->target_path, s->source);
			return -1;
		}
		if (s->exclude_from && access(s->exclude_from, R_OK) < 0) {
			*err = xasprintf("%s:%d: [sync %s] exclude_from '%s': %s", cfg->path, s->line,
					 s->name, s->exclude_from, strerror(errno));
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (same_target(s, &cfg->syncs[j])) {
				*err = xasprintf("%s:%d: [sync %s] has the same target as [sync %s] "
						 "(line %d)",
						 cfg->path, s->target_line, s->name, cfg->syncs[j].name,
						 cfg->syncs[j].target_line);
				return -1;
			}
		}
	}
	return 0;
}
