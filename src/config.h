/* config: the meaning of the configuration file. Owns struct config and every
 * string in it; config_free() releases all of it. Syntax errors and checks
 * that every command needs happen in config_load(); checks that only one
 * command needs (sync sources exist, database section complete) live in
 * config_check_*() so a sync-only file stays a valid file. */
#ifndef LIFEBOAT_CONFIG_H
#define LIFEBOAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define DEFAULT_CONFIG_PATH "/etc/lifeboat/lifeboat.conf"

enum delete_mode { DELETE_YES, DELETE_NO, DELETE_STARTUP, DELETE_RUNNING };

struct node_conf {
	char *name;
	char *address;
	char *ssh;  /* [user@]host the other node uses to reach this one */
	char *role; /* "primary" | "standby" */
	char *state_dir; /* that node's state_dir, when not [lifeboat]'s */
	bool nofailover; /* [cluster]: the agent never promotes this node */
	int line;
	char *jurisdiction; /* ISO 3166 alpha-2 code where its disks are (residency.h) */
	int jurisdiction_line;
	/* How the other node logs in here (peer.c): set in [node], else taken
	 * from the [sync] sections that target this node and [database]
	 * ssh_options; one value per node. */
	long ssh_port;
	char *ssh_identity;
	char *ssh_options;
};

struct sync_conf {
	char *name;
	int line;
	char *source; /* absolute, no trailing slash */
	int source_line;
	char *target; /* as written */
	int target_line;
	/* target resolved by config_load: host is NULL for a local target. */
	char *target_host; /* "[user@]host" */
	char *target_path; /* no trailing slash */
	char *target_node; /* node name when written as NODE:PATH */
	double delay;
	struct strv excludes;
	char *exclude_from;
	enum delete_mode delete_mode;
	bool compress;
	bool power_safe; /* a path batch's files on disk before their renames */
	long bwlimit;
	long ssh_port;
	char *ssh_identity;
	char *ssh_options;
	char *rsync_args;
	long max_pending; /* changes kept one by one before collapsing to directories */
	double rescan_interval; /* full passes this often while directories are unwatched */
	char *keep;      /* history on the target: "7d" (NULL: the default), "0" off */
	char *keep_size; /* history cap: "20G", "10%", NULL or "0": none */
};

struct database_conf {
	bool present;
	int line;
	char *primary; /* NODE, HOST or HOST:PORT */
	char *standby;
	long port;
	char *user;
	char *password_file;
	char *replication_user;
	char *replication_password_file;
	char *socket;  /* optional unix socket for a local server */
	bool heartbeat;
	bool semi_sync;
	double promote_timeout; /* seconds to wait for the relay log to drain */
	double max_lag;         /* seconds; check warns above it */
	char *datadir;          /* standby datadir for a physical clone when it is down */
	char *start_command;    /* starts the standby's mariadbd (physical clone), split on blanks */
	char *read_only_cnf;    /* my.cnf drop-in lifeboat rewrites so read_only survives restarts */
	char *ssh_options;      /* extra ssh arguments for a physical clone from a remote node */
};

struct failover_conf {
	bool present;
	int line;
	char *vip;
	char *vip_dev;
	char *dns_hook;
	struct strv pre_hooks;
	struct strv post_hooks;
	char *fence; /* "read_only" or "hook:/path" */
	char *peer_command; /* runs lifeboat on the other node, split on blanks */
};

/* [cluster]: automatic failover coordinated by etcd (agent.h). */
struct cluster_conf {
	bool present;
	int line;
	struct strv etcd; /* endpoints, one per item (a list line is split on blanks) */
	char *scope;      /* key prefix: /lifeboat/SCOPE/ */
	long ttl;         /* seconds the leader lease lasts without renewal */
	bool auto_failover;
	double max_lag_on_failover; /* seconds */
	char *watchdog;   /* "off" | "auto" | "required" */
	char *etcd_ca, *etcd_cert, *etcd_key;
};

struct config {
	char *path;
	char *node; /* this machine's [node] name: [lifeboat] node, else found */
	bool node_found; /* node came from this machine's addresses, not the file */
	char *state_dir;
	char *log;
	double status_interval;
	char *metrics_listen;
	bool drill_allow_crash;
	bool has_lifeboat_section;

	struct node_conf *nodes;
	size_t n_nodes;
	struct sync_conf *syncs;
	size_t n_syncs;
	struct database_conf db;
	struct failover_conf failover;
	struct cluster_conf cluster;
	char *jurisdictions; /* data-residency policy: codes, EU, EEA (residency.h) */
	int jurisdictions_line;
};

/* Which file to use: -c value, else $LIFEBOAT_CONFIG, else the default. */
const char *config_path_choose(const char *from_option);

/* Parse and check the file. Returns 0, or -1 with *err a malloc'd one-line
 * "FILE:LINE: what is wrong" (caller frees). On error *cfg is left empty. */
int config_load(const char *path, struct config *cfg, char **err);
int config_load_text(const char *name, const char *text, size_t len, struct config *cfg,
		     char **err);
void config_free(struct config *cfg);

/* Checks for `sync`: sources exist and are directories, no target inside its
 * source, no two syncs to one target, at least one sync. */
int config_check_sync(const struct config *cfg, char **err);

/* The sync's target is this node, and another [node] is its source: this
 * node holds the tree at the target path (it receives there, or pushes
 * from there as the primary after a failover). */
bool config_sync_target_here(const struct config *cfg, const struct sync_conf *s);

/* A numeric address (or "localhost") that belongs to this machine (in a
 * network namespace: to the namespace). */
bool config_address_is_here(const char *address);

const struct node_conf *config_find_node(const struct config *cfg, const char *name);
const struct sync_conf *config_find_sync(const struct config *cfg, const char *name);
/* "HOST:PATH/" as rsync wants a remote directory: an IPv6 address (a host
 * with ':' in it) in brackets. Caller frees. */
char *config_rsync_remote(const char *host, const char *path);

const char *delete_mode_name(enum delete_mode m);

#endif
