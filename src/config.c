#include "config.h"
#include "history.h"
#include "ini.h"
#include "residency.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keys are described by tables so that adding a key is one line and every
 * value gets the same strict checking. */
enum key_type { K_STRING, K_PATH, K_BOOL, K_SECONDS, K_LONG, K_LIST, K_DELETE };

struct parse_state;

struct key_spec {
	const char *name;
	enum key_type type;
	size_t offset;
	long min, max; /* K_LONG and K_SECONDS range */
	/* Extra check of a string value: NULL or the error message. */
	const char *(*check)(struct parse_state *st, const char *value);
};

#define KEY(st, n, t, field) {n, t, offsetof(struct st, field), 0, 0, NULL}
#define KEY_RANGE(st, n, t, field, lo, hi) {n, t, offsetof(struct st, field), lo, hi, NULL}
#define KEY_CHECK(st, n, t, field, fn) {n, t, offsetof(struct st, field), 0, 0, fn}

static const char *check_log(struct parse_state *st, const char *value);
static const char *check_host(struct parse_state *st, const char *value);
static const char *check_role(struct parse_state *st, const char *value);
static const char *check_fence(struct parse_state *st, const char *value);
static const char *check_keep(struct parse_state *st, const char *value);
static const char *check_keep_size(struct parse_state *st, const char *value);
static const char *check_watchdog(struct parse_state *st, const char *value);
static const char *check_scope(struct parse_state *st, const char *value);
static const char *check_jurisdictions(struct parse_state *st, const char *value);
static const char *check_jurisdiction(struct parse_state *st, const char *value);

static const struct key_spec lifeboat_keys[] = {
	KEY(config, "node", K_STRING, node),
	KEY(config, "state_dir", K_PATH, state_dir),
	KEY_CHECK(config, "log", K_STRING, log, check_log),
	KEY_RANGE(config, "status_interval", K_SECONDS, status_interval, 0, 86400),
	KEY(config, "metrics_listen", K_STRING, metrics_listen),
	KEY(config, "drill_allow_crash", K_BOOL, drill_allow_crash),
	KEY_CHECK(config, "jurisdictions", K_STRING, jurisdictions, check_jurisdictions),
};

static const struct key_spec node_keys[] = {
	KEY_CHECK(node_conf, "address", K_STRING, address, check_host),
	KEY_CHECK(node_conf, "ssh", K_STRING, ssh, check_host),
	KEY_CHECK(node_conf, "role", K_STRING, role, check_role),
	KEY(node_conf, "state_dir", K_PATH, state_dir),
	KEY(node_conf, "nofailover", K_BOOL, nofailover),
	KEY_CHECK(node_conf, "jurisdiction", K_STRING, jurisdiction, check_jurisdiction),
	KEY_RANGE(node_conf, "ssh_port", K_LONG, ssh_port, 1, 65535),
	KEY(node_conf, "ssh_identity", K_PATH, ssh_identity),
	KEY(node_conf, "ssh_options", K_STRING, ssh_options),
};

static const struct key_spec sync_keys[] = {
	KEY(sync_conf, "source", K_PATH, source),
	KEY(sync_conf, "target", K_STRING, target),
	KEY_RANGE(sync_conf, "delay", K_SECONDS, delay, 0, 86400),
	KEY(sync_conf, "exclude", K_LIST, excludes),
	KEY(sync_conf, "exclude_from", K_PATH, exclude_from),
	KEY(sync_conf, "delete", K_DELETE, delete_mode),
	KEY(sync_conf, "compress", K_BOOL, compress),
	KEY(sync_conf, "power_safe", K_BOOL, power_safe),
	KEY_RANGE(sync_conf, "bwlimit", K_LONG, bwlimit, 0, 1000000000L),
	KEY_RANGE(sync_conf, "ssh_port", K_LONG, ssh_port, 1, 65535),
	KEY(sync_conf, "ssh_identity", K_PATH, ssh_identity),
	KEY(sync_conf, "ssh_options", K_STRING, ssh_options),
	KEY(sync_conf, "rsync_args", K_STRING, rsync_args),
	KEY_RANGE(sync_conf, "max_pending", K_LONG, max_pending, 16, 100000000L),
	KEY_RANGE(sync_conf, "rescan_interval", K_SECONDS, rescan_interval, 1, 86400),
	KEY_CHECK(sync_conf, "keep", K_STRING, keep, check_keep),
	KEY_CHECK(sync_conf, "keep_size", K_STRING, keep_size, check_keep_size),
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
	KEY(database_conf, "datadir", K_PATH, datadir),
	KEY(database_conf, "start_command", K_STRING, start_command),
	KEY(database_conf, "read_only_cnf", K_PATH, read_only_cnf),
	KEY(database_conf, "ssh_options", K_STRING, ssh_options),
};

static const struct key_spec failover_keys[] = {
	KEY(failover_conf, "vip", K_STRING, vip),
	KEY(failover_conf, "vip_dev", K_STRING, vip_dev),
	KEY(failover_conf, "dns_hook", K_PATH, dns_hook),
	KEY(failover_conf, "pre_hook", K_LIST, pre_hooks),
	KEY(failover_conf, "post_hook", K_LIST, post_hooks),
	KEY_CHECK(failover_conf, "fence", K_STRING, fence, check_fence),
	KEY(failover_conf, "peer_command", K_STRING, peer_command),
};

static const struct key_spec cluster_keys[] = {
	KEY(cluster_conf, "etcd", K_LIST, etcd),
	KEY_CHECK(cluster_conf, "scope", K_STRING, scope, check_scope),
	KEY_RANGE(cluster_conf, "ttl", K_LONG, ttl, 2, 3600),
	KEY(cluster_conf, "auto_failover", K_BOOL, auto_failover),
	KEY_RANGE(cluster_conf, "max_lag_on_failover", K_SECONDS, max_lag_on_failover, 0, 86400),
	KEY_CHECK(cluster_conf, "watchdog", K_STRING, watchdog, check_watchdog),
	KEY(cluster_conf, "etcd_ca", K_PATH, etcd_ca),
	KEY(cluster_conf, "etcd_cert", K_PATH, etcd_cert),
	KEY(cluster_conf, "etcd_key", K_PATH, etcd_key),
};

struct parse_state {
	struct config *cfg;
	void *target; /* struct the current section fills */
	const struct key_spec *keys;
	size_t n_keys;
	unsigned char seen[32]; /* keys already set in this section */
	const char *key;        /* key being set, for messages */
	int node_line;          /* line of [lifeboat] node = */
	char msg[512];
};

#define FITS_SEEN(keys) (ARRAY_LEN(keys) <= sizeof(((struct parse_state *)0)->seen))
_Static_assert(FITS_SEEN(lifeboat_keys) && FITS_SEEN(node_keys) && FITS_SEEN(sync_keys) &&
		       FITS_SEEN(database_keys) && FITS_SEEN(failover_keys) &&
		       FITS_SEEN(cluster_keys),
	       "a key table outgrew parse_state.seen");

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

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Section names start with a letter or digit: they are typed on the command
 * line (`lifeboat sync NAME`) where "-x" would read as an option, and may name
 * files, where "." or ".." would not be a name. */
static bool valid_name(const char *s)
{
	if (!is_alnum(*s))
		return false;
	for (; *s; s++)
		if (!(is_alnum(*s) || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static void sync_defaults(struct sync_conf *s)
{
	s->delay = 0.2;
	strv_init(&s->excludes);
	s->delete_mode = DELETE_YES;
	s->ssh_port = 0; /* ssh's own default */
	s->max_pending = 100000;
	s->rescan_interval = 60;
}

static void use_keys(struct parse_state *st, void *target, const struct key_spec *keys,
		     size_t n_keys)
{
	st->target = target;
	st->keys = keys;
	st->n_keys = n_keys;
}

/* [lifeboat], [database], [failover]: once each, no name. */
static const char *begin_single(struct parse_state *st, int line, const char *kind)
{
	struct config *cfg = st->cfg;
	bool *present;
	if (strcmp(kind, "lifeboat") == 0) {
		present = &cfg->has_lifeboat_section;
		use_keys(st, cfg, lifeboat_keys, ARRAY_LEN(lifeboat_keys));
	} else if (strcmp(kind, "database") == 0) {
		present = &cfg->db.present;
		cfg->db.line = line;
		use_keys(st, &cfg->db, database_keys, ARRAY_LEN(database_keys));
	} else if (strcmp(kind, "cluster") == 0) {
		present = &cfg->cluster.present;
		cfg->cluster.line = line;
		use_keys(st, &cfg->cluster, cluster_keys, ARRAY_LEN(cluster_keys));
	} else {
		present = &cfg->failover.present;
		cfg->failover.line = line;
		use_keys(st, &cfg->failover, failover_keys, ARRAY_LEN(failover_keys));
	}
	if (*present) {
		snprintf(st->msg, sizeof(st->msg), "section [%s] appears twice", kind);
		return st->msg;
	}
	*present = true;
	return NULL;
}

static const char *begin_sync(struct parse_state *st, int line, const char *name)
{
	struct config *cfg = st->cfg;
	if (config_find_sync(cfg, name)) {
		snprintf(st->msg, sizeof(st->msg), "[sync %s] appears twice", name);
		return st->msg;
	}
	cfg->syncs = xrealloc(cfg->syncs, (cfg->n_syncs + 1) * sizeof(*cfg->syncs));
	struct sync_conf *s = &cfg->syncs[cfg->n_syncs++];
	memset(s, 0, sizeof(*s));
	sync_defaults(s);
	s->name = xstrdup(name);
	s->line = line;
	use_keys(st, s, sync_keys, ARRAY_LEN(sync_keys));
	return NULL;
}

static const char *begin_node(struct parse_state *st, int line, const char *name)
{
	struct config *cfg = st->cfg;
	if (config_find_node(cfg, name)) {
		snprintf(st->msg, sizeof(st->msg), "[node %s] appears twice", name);
		return st->msg;
	}
	cfg->nodes = xrealloc(cfg->nodes, (cfg->n_nodes + 1) * sizeof(*cfg->nodes));
	struct node_conf *n = &cfg->nodes[cfg->n_nodes++];
	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	n->line = line;
	use_keys(st, n, node_keys, ARRAY_LEN(node_keys));
	return NULL;
}

static const char *begin_kind(struct parse_state *st, int line, const char *section,
			      const char *kind, const char *name)
{
	bool single = strcmp(kind, "lifeboat") == 0 || strcmp(kind, "database") == 0 ||
		      strcmp(kind, "failover") == 0 || strcmp(kind, "cluster") == 0;
	bool is_sync = strcmp(kind, "sync") == 0, is_node = strcmp(kind, "node") == 0;
	if (!single && !is_sync && !is_node) {
		snprintf(st->msg, sizeof(st->msg),
			 "unknown section [%s] (expected lifeboat, node, sync, database, failover or "
			 "cluster)",
			 section);
		return st->msg;
	}
	if (single && name) {
		snprintf(st->msg, sizeof(st->msg), "section [%s] takes no name", kind);
		return st->msg;
	}
	if (single)
		return begin_single(st, line, kind);
	if (is_node && !name)
		return "section [node] needs a name: [node NAME]";
	if (name && !valid_name(name)) {
		snprintf(st->msg, sizeof(st->msg),
			 "bad %s name '%s' (a letter or digit, then letters, digits, '-', '_', '.')",
			 kind, name);
		return st->msg;
	}
	return is_sync ? begin_sync(st, line, name ? name : "default") : begin_node(st, line, name);
}

/* "[KIND]" or "[KIND NAME]", KIND and NAME separated by blanks. */
static const char *begin_section(struct parse_state *st, int line, const char *section)
{
	size_t kind_len = strcspn(section, " \t");
	char *kind = xstrndup(section, kind_len);
	const char *name = NULL;
	if (section[kind_len])
		name = section + kind_len + strspn(section + kind_len, " \t");
	memset(st->seen, 0, sizeof(st->seen));
	st->target = NULL;
	const char *err = begin_kind(st, line, section, kind, name);
	free(kind);
	return err;
}

/* An absolute path without "//", "/./" or a trailing slash; ".." stays, as
 * only the file system knows where it leads. */
static char *clean_path(const char *path)
{
	char *out = xstrdup(path);
	char *w = out;
	for (const char *r = path; *r;) {
		if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || !r[2])))) {
			r += r[1] == '/' ? 1 : 2; /* drop a "/" or a "/." */
			continue;
		}
		*w++ = *r++;
	}
	if (w == out)
		*w++ = '/';
	*w = '\0';
	char *clean = path_normalise(out);
	free(out);
	return clean;
}

static const char *check_log(struct parse_state *st, const char *value)
{
	if (strcmp(value, "stderr") == 0 || strcmp(value, "syslog") == 0 || value[0] == '/')
		return NULL;
	snprintf(st->msg, sizeof(st->msg), "'log' must be stderr, syslog or an absolute path, got '%s'",
		 value);
	return st->msg;
}

/* A host as ssh and rsync take it: "[USER@]HOST", never an option. */
static bool valid_host(const char *s)
{
	const char *at = strrchr(s, '@');
	const char *host = at ? at + 1 : s;
	if (!*host || s[0] == '-' || host[0] == '-' || s[0] == '@')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '/')
			return false;
	return true;
}

static const char *check_host(struct parse_state *st, const char *value)
{
	if (valid_host(value))
		return NULL;
	snprintf(st->msg, sizeof(st->msg), "'%s' must be [USER@]HOST, got '%s'", st->key, value);
	return st->msg;
}

static const char *check_role(struct parse_state *st, const char *value)
{
	if (strcmp(value, "primary") == 0 || strcmp(value, "standby") == 0)
		return NULL;
	snprintf(st->msg, sizeof(st->msg), "'role' must be primary or standby, got '%s'", value);
	return st->msg;
}

static const char *check_fence(struct parse_state *st, const char *value)
{
	if (strcmp(value, "read_only") == 0 || strncmp(value, "hook:/", 6) == 0)
		return NULL;
	snprintf(st->msg, sizeof(st->msg), "'fence' must be read_only or hook:/PATH, got '%s'",
		 value);
	return st->msg;
}

static const char *check_keep(struct parse_state *st, const char *value)
{
	double v;
	if (history_parse_duration(value, &v))
		return NULL;
	snprintf(st->msg, sizeof(st->msg),
		 "'keep' must be a duration (7d, 12h, 90m, 0 for off), got '%s'", value);
	return st->msg;
}

static const char *check_keep_size(struct parse_state *st, const char *value)
{
	uint64_t v;
	if (history_parse_size(value, 100, &v))
		return NULL;
	snprintf(st->msg, sizeof(st->msg),
		 "'keep_size' must be a size (20G, 500M, 10%%, 0 for no cap), got '%s'", value);
	return st->msg;
}

static const char *check_watchdog(struct parse_state *st, const char *value)
{
	if (strcmp(value, "off") == 0 || strcmp(value, "auto") == 0 ||
	    strcmp(value, "required") == 0)
		return NULL;
	snprintf(st->msg, sizeof(st->msg), "'watchdog' must be off, auto or required, got '%s'",
		 value);
	return st->msg;
}

/* The scope becomes an etcd key prefix: no '/' (another cluster's keys). */
static const char *check_scope(struct parse_state *st, const char *value)
{
	if (valid_name(value))
		return NULL;
	snprintf(st->msg, sizeof(st->msg),
		 "'scope' must be a letter or digit, then letters, digits, '-', '_', '.', got '%s'",
		 value);
	return st->msg;
}

/* Codes are validated here so a typo is refused at load, naming its line. */
static const char *jurisdiction_msg(struct parse_state *st, char *why)
{
	if (!why)
		return NULL;
	snprintf(st->msg, sizeof(st->msg), "%s", why);
	free(why);
	return st->msg;
}

static const char *check_jurisdictions(struct parse_state *st, const char *value)
{
	return jurisdiction_msg(st, residency_policy_error(value));
}

static const char *check_jurisdiction(struct parse_state *st, const char *value)
{
	return jurisdiction_msg(st, residency_country_error(value));
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
		if (k->check) {
			const char *msg = k->check(st, value);
			if (msg)
				return msg;
		}
		free(*(char **)field);
		*(char **)field = k->type == K_PATH ? clean_path(value) : xstrdup(value);
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
	case K_SECONDS: {
		double v;
		if (!parse_seconds(value, (double)k->max, &v) || v < (double)k->min) {
			snprintf(st->msg, sizeof(st->msg),
				 "'%s' must be a number of seconds between %ld and %ld, got '%s'",
				 k->name, k->min, k->max, value);
			return st->msg;
		}
		*(double *)field = v;
		return NULL;
	}
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
		st->key = k->name;
		if (st->keys == lifeboat_keys && strcmp(key, "node") == 0)
			st->node_line = line;
		if (st->keys == lifeboat_keys && strcmp(key, "jurisdictions") == 0)
			st->cfg->jurisdictions_line = line;
		if (st->keys == node_keys && strcmp(key, "jurisdiction") == 0)
			((struct node_conf *)st->target)->jurisdiction_line = line;
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

static int bad_target(const struct config *cfg, const struct sync_conf *s, const char *why,
		      char **err)
{
	*err = xasprintf("%s:%d: target '%s' %s", cfg->path, s->target_line, s->target, why);
	return -1;
}

/* NODE:PATH: over the node's ssh (else its address), or local when the node is
 * this machine. */
static int resolve_node_target(const struct config *cfg, struct sync_conf *s,
			       const struct node_conf *node, char **err)
{
	s->target_node = xstrdup(node->name);
	if (cfg->node && strcmp(cfg->node, node->name) == 0)
		return 0;
	const char *via = node->ssh ? node->ssh : node->address;
	if (!via)
		return bad_target(cfg, s, "names a node with neither 'ssh' nor 'address'", err);
	s->target_host = xstrdup(via);
	return 0;
}

/* Where the host part of a remote target ends: "HOST:", "USER@HOST:", or
 * an IPv6 address in brackets, "[::1]:" / "USER@[fd00::2]:" (its colons
 * are the address's). NULL when t has no host part. The host goes into
 * *host without brackets: ssh takes it so; rsync gets them back
 * (config_rsync_remote). */
static const char *split_host(const char *t, char **host)
{
	const char *open = strchr(t, '[');
	const char *colon = strchr(t, ':');
	if (open && colon && open < colon && !memchr(t, '/', (size_t)(open - t))) {
		const char *close = strchr(open, ']');
		if (!close || close[1] != ':' || !memchr(open, ':', (size_t)(close - open)))
			return NULL;
		*host = xasprintf("%.*s%.*s", (int)(open - t), t, (int)(close - open - 1), open + 1);
		return close + 1;
	}
	const char *slash = strchr(t, '/');
	if (!colon || (slash && slash < colon))
		return NULL;
	*host = xstrndup(t, (size_t)(colon - t));
	return colon;
}

/* NODE:PATH, [USER@]HOST:PATH or an absolute local path. */
static int resolve_target(const struct config *cfg, struct sync_conf *s, char **err)
{
	static const char forms[] = "must be NODE:/PATH, [USER@]HOST:/PATH "
				    "([USER@][IPV6]:/PATH) or /PATH";
	const char *t = s->target;
	char *host = NULL;
	const char *colon = split_host(t, &host);
	if (!colon) {
		if (t[0] != '/')
			return bad_target(cfg, s, forms, err);
		s->target_path = clean_path(t);
		return 0;
	}
	const char *path = colon + 1;
	const struct node_conf *node = config_find_node(cfg, host);
	int rc = 0;
	if (path[0] != '/' || !*host)
		rc = bad_target(cfg, s, forms, err);
	else if (node)
		rc = resolve_node_target(cfg, s, node, err);
	else if (!valid_host(host))
		rc = bad_target(cfg, s, "has a bad host: must be [USER@]HOST", err);
	else
		s->target_host = xstrdup(host);
	free(host);
	if (rc == 0)
		s->target_path = clean_path(path);
	return rc;
}

char *config_rsync_remote(const char *host, const char *path)
{
	const char *at = strrchr(host, '@');
	const char *name = at ? at + 1 : host;
	if (strchr(name, ':'))
		return xasprintf("%.*s[%s]:%s/", (int)(name - host), host, name, path);
	return xasprintf("%s:%s/", host, path);
}

/* [cluster]: the etcd list split into one endpoint per item, each a URL. */
static int check_cluster(struct config *cfg, char **err)
{
	struct cluster_conf *c = &cfg->cluster;
	if (!c->present)
		return 0;
	struct strv flat;
	strv_init(&flat);
	for (size_t i = 0; i < c->etcd.len; i++)
		strv_push_split(&flat, c->etcd.items[i]);
	strv_free(&c->etcd);
	c->etcd = flat;
	if (c->etcd.len == 0) {
		*err = xasprintf("%s:%d: [cluster] needs 'etcd' (the members' client URLs)",
				 cfg->path, c->line);
		return -1;
	}
	for (size_t i = 0; i < c->etcd.len; i++) {
		const char *u = c->etcd.items[i];
		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			*err = xasprintf("%s:%d: [cluster] etcd '%s' must be http://HOST:PORT or "
					 "https://HOST:PORT",
					 cfg->path, c->line, u);
			return -1;
		}
	}
	if ((c->etcd_cert != NULL) != (c->etcd_key != NULL)) {
		*err = xasprintf("%s:%d: [cluster] etcd_cert and etcd_key go together", cfg->path,
				 c->line);
		return -1;
	}
	return 0;
}

/* Whether a [node] address is one of this machine's (in a network
 * namespace: the namespace's). Numeric addresses only: a name would need
 * DNS on every start, and DNS may be what is down. */
static bool address_is_here(const struct ifaddrs *ifs, const char *address)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *ai = NULL;
	if (getaddrinfo(address, NULL, &hints, &ai) != 0 || !ai)
		return false;
	bool here = false;
	for (const struct ifaddrs *i = ifs; i && !here; i = i->ifa_next) {
		const struct sockaddr *a = i->ifa_addr;
		if (!a || a->sa_family != ai->ai_family)
			continue;
		if (a->sa_family == AF_INET)
			here = memcmp(&((const struct sockaddr_in *)a)->sin_addr,
				      &((const struct sockaddr_in *)ai->ai_addr)->sin_addr,
				      sizeof(struct in_addr)) == 0;
		else if (a->sa_family == AF_INET6)
			here = memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
				      &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
				      sizeof(struct in6_addr)) == 0;
	}
	freeaddrinfo(ai);
	return here;
}

bool config_address_is_here(const char *address)
{
	if (strcmp(address, "localhost") == 0)
		return true;
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs) < 0)
		return false;
	bool here = address_is_here(ifs, address);
	freeifaddrs(ifs);
	return here;
}

/* Without [lifeboat] node, this machine is the one [node] whose address it
 * has: one file serves every node. Two matches (both nodes on one host)
 * leave it unknown, as no match does; commands that need it say so. */
static void find_this_node(struct config *cfg)
{
	if (cfg->node || cfg->n_nodes == 0)
		return;
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs) < 0)
		return;
	const struct node_conf *found = NULL;
	size_t matches = 0;
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct node_conf *n = &cfg->nodes[i];
		if (n->address && address_is_here(ifs, n->address)) {
			found = n;
			matches++;
		}
	}
	freeifaddrs(ifs);
	if (matches == 1) {
		cfg->node = xstrdup(found->name);
		cfg->node_found = true;
	}
}

/* One ssh setting per node: what a [sync] targeting a node, or [database]
 * ssh_options, says about ssh is how either node reaches the other, unless
 * the [node] sets its own; two different values for one node are an
 * error, as the sync, the database commands and check would then log in
 * differently. */
static int merge_string(const struct config *cfg, struct node_conf *n, char **field,
			const char *value, const char *key, const char *where, int line,
			char **err)
{
	if (!value)
		return 0;
	if (!*field) {
		*field = xstrdup(value);
		return 0;
	}
	if (strcmp(*field, value) == 0)
		return 0;
	*err = xasprintf("%s:%d: %s %s '%s' differs from '%s' used for [node %s]: one ssh "
			 "setting per node (set it once, in [node %s])",
			 cfg->path, line, where, key, value, *field, n->name, n->name);
	return -1;
}

static int merge_node_ssh(struct config *cfg, struct node_conf *n, char **err)
{
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		if (!s->target_node)
			continue;
		char *where = xasprintf("[sync %s]", s->name);
		int rc = 0;
		if (s->ssh_port && n->ssh_port && s->ssh_port != n->ssh_port) {
			*err = xasprintf("%s:%d: %s ssh_port %ld differs from %ld used for [node %s]: "
					 "one ssh setting per node (set it once, in [node %s])",
					 cfg->path, s->line, where, s->ssh_port, n->ssh_port,
					 n->name, n->name);
			rc = -1;
		} else if (s->ssh_port) {
			n->ssh_port = s->ssh_port;
		}
		if (!rc)
			rc = merge_string(cfg, n, &n->ssh_identity, s->ssh_identity, "ssh_identity",
					  where, s->line, err);
		if (!rc)
			rc = merge_string(cfg, n, &n->ssh_options, s->ssh_options, "ssh_options",
					  where, s->line, err);
		free(where);
		if (rc)
			return -1;
	}
	return merge_string(cfg, n, &n->ssh_options, cfg->db.ssh_options, "ssh_options",
			    "[database]", cfg->db.line, err);
}

/* A sync to a node uses that node's settings. */
static void sync_takes_node_ssh(struct sync_conf *s, const struct node_conf *n)
{
	if (!s->ssh_port)
		s->ssh_port = n->ssh_port;
	if (!s->ssh_identity && n->ssh_identity)
		s->ssh_identity = xstrdup(n->ssh_identity);
	if (!s->ssh_options && n->ssh_options)
		s->ssh_options = xstrdup(n->ssh_options);
}

static int merge_ssh(struct config *cfg, char **err)
{
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (merge_node_ssh(cfg, &cfg->nodes[i], err) < 0)
			return -1;
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		struct sync_conf *s = &cfg->syncs[i];
		const struct node_conf *n = s->target_node ? config_find_node(cfg, s->target_node)
							   : NULL;
		if (n)
			sync_takes_node_ssh(s, n);
	}
	return 0;
}

static int check_after_parse(const struct parse_state *st, char **err)
{
	struct config *cfg = st->cfg;
	if (check_cluster(cfg, err) < 0)
		return -1;
	if (cfg->node && cfg->n_nodes > 0 && !config_find_node(cfg, cfg->node)) {
		*err = xasprintf("%s:%d: [lifeboat] node = %s, but there is no [node %s] section",
				 cfg->path, st->node_line, cfg->node, cfg->node);
		return -1;
	}
	find_this_node(cfg);
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
	return merge_ssh(cfg, err);
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
	strv_init(&cfg->cluster.etcd);
	cfg->cluster.scope = xstrdup("lifeboat");
	cfg->cluster.ttl = 5;
	cfg->cluster.auto_failover = true;
	cfg->cluster.max_lag_on_failover = 5;
	cfg->cluster.watchdog = xstrdup("off");
}

int config_load_text(const char *name, const char *text, size_t len, struct config *cfg,
		     char **err)
{
	config_defaults(cfg, name);
	struct parse_state st = {.cfg = cfg};
	if (ini_parse(name, text, len, handle, &st, err) < 0 || check_after_parse(&st, err) < 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* A configuration is a small regular file; /dev/zero or a fifo must not
 * hang the program. */
#define CONFIG_MAX_BYTES (4 * 1024 * 1024)

int config_load(const char *path, struct config *cfg, char **err)
{
	struct stat st;
	if (stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES)) {
		*err = xasprintf("%s: not a configuration file (%s)", path,
				 S_ISREG(st.st_mode) ? "larger than 4 MiB" : "not a regular file");
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
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
	free(s->keep);
	free(s->keep_size);
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
		free(cfg->nodes[i].state_dir);
		free(cfg->nodes[i].jurisdiction);
		free(cfg->nodes[i].ssh_identity);
		free(cfg->nodes[i].ssh_options);
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
	free(d->datadir);
	free(d->start_command);
	free(d->read_only_cnf);
	free(d->ssh_options);
	struct failover_conf *f = &cfg->failover;
	free(f->vip);
	free(f->vip_dev);
	free(f->dns_hook);
	strv_free(&f->pre_hooks);
	strv_free(&f->post_hooks);
	free(f->fence);
	free(f->peer_command);
	struct cluster_conf *cl = &cfg->cluster;
	strv_free(&cl->etcd);
	free(cl->scope);
	free(cl->watchdog);
	free(cl->etcd_ca);
	free(cl->etcd_cert);
	free(cl->etcd_key);
	free(cfg->jurisdictions);
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

static char *join_path(const char *dir, const char *rest)
{
	while (*rest == '/')
		rest++;
	if (!*rest)
		return xstrdup(dir);
	return xasprintf("%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", rest);
}

/* Where a local path really is: symlinks and ".." resolved in the part that
 * exists, the rest appended as written. Caller frees. */
static char *real_local_path(const char *path)
{
	char *head = xstrdup(path);
	for (;;) {
		char *real = realpath(head, NULL);
		if (real) {
			char *full = join_path(real, path + strlen(head));
			free(real);
			free(head);
			return full;
		}
		char *cut = strrchr(head, '/');
		if (!cut || strcmp(head, "/") == 0) {
			free(head);
			return xstrdup(path);
		}
		cut[cut == head ? 1 : 0] = '\0';
	}
}

/* The machine a target is on: "" for this one, else its node's name, else
 * its host without the user, so that "oslo-dr:/x", "dr-user@10.0.0.5:/x"
 * and "10.0.0.5:/x" are one place. */
static const char *target_machine(const struct config *cfg, const struct sync_conf *s)
{
	if (!s->target_host)
		return "";
	const char *name = s->target_node;
	const char *at = strrchr(s->target_host, '@');
	const char *host = at ? at + 1 : s->target_host;
	for (size_t i = 0; i < cfg->n_nodes && !name; i++) {
		const struct node_conf *n = &cfg->nodes[i];
		const char *ssh_at = n->ssh ? strrchr(n->ssh, '@') : NULL;
		const char *ssh_host = ssh_at ? ssh_at + 1 : n->ssh;
		if ((n->address && strcmp(n->address, host) == 0) ||
		    (ssh_host && strcmp(ssh_host, host) == 0))
			name = n->name;
	}
	if (name && cfg->node && strcmp(name, cfg->node) == 0)
		return "";
	return name ? name : host;
}

/* Per sync, what the checks compare: real paths for local ones. */
struct sync_place {
	char *source;
	char *target;
	const char *machine;
};

static struct sync_place *sync_places(const struct config *cfg)
{
	struct sync_place *p = xcalloc(cfg->n_syncs, sizeof(*p));
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		p[i].machine = target_machine(cfg, s);
		p[i].source = real_local_path(s->source);
		p[i].target = *p[i].machine ? xstrdup(s->target_path)
					    : real_local_path(s->target_path);
	}
	return p;
}

static void sync_places_free(struct sync_place *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].source);
		free(p[i].target);
	}
	free(p);
}

static bool overlaps(const char *a, const char *b)
{
	return path_is_within(a, b) || path_is_within(b, a);
}

static int check_source(const struct config *cfg, const struct sync_conf *s, char **err)
{
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
	return 0;
}

/* NODE:PATH naming this node, with another node to talk to: one file on
 * both nodes, and this is the side that receives (or, as the primary after
 * a failover, pushes back from the target path). Its source path is the
 * other node's. */
bool config_sync_target_here(const struct config *cfg, const struct sync_conf *s)
{
	if (!s->target_node || !cfg->node || strcmp(s->target_node, cfg->node) != 0)
		return false;
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].name, cfg->node) != 0)
			return true;
	return false;
}

/* Here the target path is the tree: a directory, or not there yet (the
 * first pass creates it). */
static int check_target_here(const struct config *cfg, const struct sync_conf *s, char **err)
{
	struct stat st;
	if (stat(s->target_path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		*err = xasprintf("%s:%d: [sync %s] target '%s' is this node's copy, but it is not a "
				 "directory",
				 cfg->path, s->target_line, s->name, s->target_path);
		return -1;
	}
	if (stat(s->target_path, &st) < 0 && errno != ENOENT) {
		*err = xasprintf("%s:%d: [sync %s] target '%s' is this node's copy: %s", cfg->path,
				 s->target_line, s->name, s->target_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int check_one_sync(const struct config *cfg, const struct sync_place *places, size_t i,
			  char **err)
{
	const struct sync_conf *s = &cfg->syncs[i];
	const struct sync_place *p = &places[i];
	if (config_sync_target_here(cfg, s))
		return check_target_here(cfg, s, err);
	if (check_source(cfg, s, err) < 0)
		return -1;
	if (!*p->machine && overlaps(p->target, p->source)) {
		*err = xasprintf("%s:%d: [sync %s] target '%s' overlaps its source '%s'", cfg->path,
				 s->target_line, s->name, s->target_path, s->source);
		return -1;
	}
	if (s->exclude_from && access(s->exclude_from, R_OK) < 0) {
		*err = xasprintf("%s:%d: [sync %s] exclude_from '%s': %s", cfg->path, s->line,
				 s->name, s->exclude_from, strerror(errno));
		return -1;
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(p->machine, places[j].machine) == 0 &&
		    overlaps(p->target, places[j].target)) {
			*err = xasprintf("%s:%d: [sync %s] has the same target as [sync %s] (line %d)",
					 cfg->path, s->target_line, s->name, cfg->syncs[j].name,
					 cfg->syncs[j].target_line);
			return -1;
		}
	}
	return 0;
}

int config_check_sync(const struct config *cfg, char **err)
{
	if (cfg->n_syncs == 0) {
		*err = xasprintf("%s: no [sync NAME] section: nothing to replicate", cfg->path);
		return -1;
	}
	struct sync_place *places = sync_places(cfg);
	int rc = 0;
	for (size_t i = 0; i < cfg->n_syncs && rc == 0; i++)
		rc = check_one_sync(cfg, places, i, err);
	sync_places_free(places, cfg->n_syncs);
	return rc;
}
