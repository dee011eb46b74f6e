/* ctl: what lifeboat's processes on one node tell each other. Each sync
 * daemon serves a unix stream socket in STATE_DIR (mode 0600, its owner
 * only): STATE_DIR/sync.sock for the daemon of every sync, or
 * STATE_DIR/sync-NAME[,NAME...].sock for one started with names
 * (lifeboat-sync@ instances). One request, one JSON object on one line;
 * one reply, the same, then the connection closes:
 *
 *   {"request":"status"}                  -> {"ok":true,"syncs":{NAME:{...}}}
 *   {"request":"flush","syncs":[NAME...],"timeout":S}
 *                                         -> {"ok":true|false,"syncs":{NAME:{"flushed":B,...}}}
 *   {"request":"reload"}                  -> {"ok":true|false,"error":"..."}
 *
 * A socket nobody answers on is a daemon that is not running: no pid from
 * a file is ever signalled, and no decision is taken from a file a daemon
 * may have left behind. Owns the sockets and connections, not the meaning
 * of the requests (cmd_sync.c answers them). */
#ifndef LIFEBOAT_CTL_H
#define LIFEBOAT_CTL_H

#include <json-c/json.h>
#include <stdbool.h>

#include "util.h"

struct loop;
struct ctl_server;
struct ctl_conn;

/* The request, owned by the server (valid during the call). The handler
 * answers now or later with ctl_reply(). */
typedef void (*ctl_request_cb)(struct ctl_conn *c, json_object *req, void *arg);

/* The socket path of the daemon that runs these syncs (none: all of them).
 * Caller frees. */
char *ctl_socket_path(const char *state_dir, const struct strv *names);

/* Serve path in the loop. Refuses (NULL, *err) when a live daemon already
 * answers there; a socket left by a dead one is replaced. */
struct ctl_server *ctl_server_new(struct loop *loop, const char *path, ctl_request_cb cb,
				  void *arg, char **err);
/* Closes every connection still waiting for its reply, removes the socket. */
void ctl_server_free(struct ctl_server *s);

/* Answer and close; takes the reply. */
void ctl_reply(struct ctl_conn *c, json_object *reply);
/* {"ok":false,"error":why} */
void ctl_reply_error(struct ctl_conn *c, const char *why);

/* The sockets in state_dir (sorted), into paths. */
void ctl_sockets(const char *state_dir, struct strv *paths);

/* Send one request and wait up to timeout_ms for the reply. NULL with *err
 * on failure; errno is ECONNREFUSED or ENOENT when no daemon serves path. */
json_object *ctl_call(const char *path, json_object *req, int timeout_ms, char **err);
bool ctl_not_running(int err_no);
/* Send req to every daemon of the node, one after the other, within
 * timeout_ms in all. Returns {"ok":B,"daemons":N,"syncs":{...}}: the
 * replies' syncs merged, ok when every daemon that answered said ok;
 * sockets nobody answers on are skipped (their daemon is gone). A daemon
 * that fails to answer makes ok false and adds its reason to "errors". */
json_object *ctl_call_all(const char *state_dir, json_object *req, int timeout_ms);
/* How many daemons answered a ctl_call_all(). */
int ctl_daemons(json_object *all);

/* The flush barrier (lifeboat flush): every change made on the source of
 * the named syncs (none: every [sync] of cfg) before the call is on the
 * target. 0, or -1 with *why naming what is still pending, or that no
 * daemon runs a sync (caller frees). */
struct config;
int ctl_flush(const struct config *cfg, const struct strv *names, double timeout_s, char **why);
/* The same barrier on the peer: `lifeboat flush --timeout S` run there
 * through peer_argv (how to run lifeboat on the peer). 0, or -1 with *why.
 * The one place that asks the peer for it (moves to the peer module). */
int ctl_flush_peer(const struct strv *peer_argv, double timeout_s, char **why);
/* A daemon answers on path. */
bool ctl_alive(const char *path);

#endif
