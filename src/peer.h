/* peer: the other node of a two-node configuration. Owns who it is (the
 * [node] that is not this one), how to reach it (one ssh argv builder with
 * the per-node ssh settings and the ControlMaster options, and one quoting
 * function for the command line ssh hands to the remote shell) and running
 * lifeboat there ([failover] peer_command, else ssh to the node and the
 * `lifeboat` on its PATH with this configuration's path, which is the same
 * on every node). Every module that talks to the other node goes through
 * here; none builds an ssh command line of its own. */
#ifndef LIFEBOAT_PEER_H
#define LIFEBOAT_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util.h"

/* How to reach one machine over ssh. The strings are borrowed. */
struct peer_ssh {
	const char *dest;     /* [user@]host */
	long port;            /* 0: ssh's default */
	const char *identity; /* NULL: ssh's default keys */
	const char *options;  /* extra ssh words, split on blanks; may be NULL */
};

/* The other [node] of a configuration (the first one that is not this
 * node), or NULL (no [node] sections, or this node unknown and only one). */
const struct node_conf *peer_node(const struct config *cfg);
/* Its name, else the [database] server that is not this node, else NULL. */
const char *peer_name(const struct config *cfg);

/* How to reach node n: its `ssh` (else its address) with its ssh_port,
 * ssh_identity and ssh_options (config.c fills these from the [sync] and
 * [database] settings that name the node). False when n has neither. */
bool peer_ssh_of(const struct node_conf *n, struct peer_ssh *out);

/* Append "ssh [-p PORT] [-i ID] -o BatchMode=yes -o OPT... OPTIONS" to v:
 * opts is a NULL-terminated list of ssh -o values that win over the node's
 * ssh_options (ssh takes an option's first value). No destination. */
void peer_ssh_words(const struct peer_ssh *s, const char *const *opts, struct strv *v);
/* Append "-- DEST" and, when words is not NULL, the remote command line:
 * words quoted one by one for the remote shell and joined (ssh hands the
 * remote shell one string). */
void peer_ssh_dest(const struct peer_ssh *s, const char *const *words, size_t n,
		   struct strv *v);

/* Append ssh_words (from peer_ssh_words) as one rsync -e value: rsync
 * splits it on spaces and honours quotes, but not backslashes. */
void peer_rsync_e(const struct strv *ssh_words, struct strv *v);

/* 'word' for a POSIX shell: a literal argument whatever bytes it holds. */
void peer_quote(struct buf *b, const char *word);
/* Caller frees. */
char *peer_quoted(const char *word);

/* The ssh connection shared by one command's calls to the peer:
 * STATE_DIR/peer-ssh.sock, or NULL when that path is too long for a unix
 * socket. Caller frees. */
char *peer_control_path(const struct config *cfg);
/* End that shared connection, if any (else it lingers ControlPersist s). */
void peer_control_close(const struct config *cfg);

/* argv prefix that runs lifeboat on node n: [failover] peer_command (split
 * on blanks), else ssh to n (its ssh settings, BatchMode, ConnectTimeout=3,
 * the shared connection) running `lifeboat -c CONFIG` there. Callers append
 * plain words (subcommand, options, numbers: nothing a shell would
 * interpret). False when there is no way to reach n. */
bool peer_lifeboat_argv(const struct config *cfg, const struct node_conf *n, struct strv *v);
/* The same with a connection of its own: for a question asked while the
 * network may be cut, where a shared connection could be a dead one. */
bool peer_lifeboat_argv_fresh(const struct config *cfg, const struct node_conf *n,
			      struct strv *v);

#endif
