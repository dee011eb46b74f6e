/* etcd: a small client of etcd's v3 JSON gateway (etcd 3.4, POST /v3/...),
 * over HTTP or HTTPS with libcurl, JSON with json-c. Keys and values travel
 * base64-encoded, 64-bit integers as strings. Several endpoints are tried in
 * turn; the one that answered is tried first next time. Every call is
 * bounded by the caller's timeout, so a daemon can keep its deadlines.
 *
 * Owns the curl handle, the endpoint list and the TLS file names. Results
 * (struct etcd_kv arrays) belong to the caller (etcd_kvs_free). Calls return
 * 0, or -1 with *err a malloc'd one-line reason; ETCD_UNREACHABLE tells
 * "no member answered" from an answer that was an error.
 *
 * The request building and response parsing are pure functions, exposed
 * for the unit tests. */
#ifndef LIFEBOAT_ETCD_H
#define LIFEBOAT_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct json_object;

#define ETCD_UNREACHABLE (-2)

struct etcd;

struct etcd_tls {
	const char *ca, *cert, *key; /* NULL: none */
};

struct etcd *etcd_new(const struct strv *endpoints, const struct etcd_tls *tls);
void etcd_free(struct etcd *e);
/* Ask the endpoint on host (this node's own member) first: a fresh client
 * otherwise starts with the first one listed, which may be the member of
 * the site that just went dark (a connect timeout lost per process). */
void etcd_prefer_host(struct etcd *e, const char *host);
/* The endpoint that answered last (for messages). */
const char *etcd_endpoint(const struct etcd *e);

struct etcd_kv {
	char *key;
	char *value; /* NUL-terminated (values are text here) */
	int64_t create_revision, mod_revision, version, lease;
};

struct etcd_kvs {
	struct etcd_kv *items;
	size_t len;
	int64_t revision; /* the store's revision at the read */
};

void etcd_kvs_free(struct etcd_kvs *kvs);
const struct etcd_kv *etcd_kvs_find(const struct etcd_kvs *kvs, const char *key);

/* Read key, or with prefix every key starting with it. */
int etcd_range(struct etcd *e, const char *key, bool prefix, int64_t timeout_ms,
	       struct etcd_kvs *out, char **err);
int etcd_delete(struct etcd *e, const char *key, int64_t timeout_ms, char **err);
/* A lease of ttl seconds; *id its id. */
int etcd_lease_grant(struct etcd *e, long ttl, int64_t timeout_ms, int64_t *id, char **err);
/* Renew: *ttl the seconds it now has, 0 when the lease is gone (expired). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t timeout_ms, long *ttl, char **err);
int etcd_lease_revoke(struct etcd *e, int64_t id, int64_t timeout_ms, char **err);
/* Seconds left, -1 when the lease is gone. */
int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t timeout_ms, long *left, char **err);

/* Wait, at most timeout_ms, for key to change after revision rev (a watch
 * on one member, the one that answered last: POST /v3/watch, streamed).
 * 1: it changed (or etcd cancelled the watch: look again), 0: no change
 * within timeout_ms, -1 with *err: no watch (the caller polls instead). A
 * wake-up only: decisions still come from a transaction. */
int etcd_watch_wait(struct etcd *e, const char *key, int64_t rev, int64_t timeout_ms, char **err);
/* The watch request's body (start_revision rev + 1); caller frees. */
char *etcd_watch_body(const char *key, int64_t rev);
/* Feed one message of the watch stream: 1 an event (or the watch was
 * cancelled), 0 nothing yet (*created set once etcd made the watch), -1
 * an error message (*err). */
int etcd_parse_watch(const char *body, bool *created, char **err);

/* A transaction: if every compare holds, the success operations run, else
 * the failure ones; all at one revision. Build it, run it, free it. */
struct etcd_txn;
enum etcd_cmp_op { ETCD_EQ, ETCD_NE, ETCD_GT, ETCD_LT };

struct etcd_txn *etcd_txn_new(void);
void etcd_txn_free(struct etcd_txn *t);
/* The key does not exist (create_revision 0). */
void etcd_txn_absent(struct etcd_txn *t, const char *key);
void etcd_txn_value(struct etcd_txn *t, const char *key, enum etcd_cmp_op op, const char *value);
void etcd_txn_mod_revision(struct etcd_txn *t, const char *key, enum etcd_cmp_op op, int64_t rev);
/* Operations; on_success false: in the failure branch. lease 0: none. */
void etcd_txn_put(struct etcd_txn *t, bool on_success, const char *key, const char *value,
		  int64_t lease);
void etcd_txn_del(struct etcd_txn *t, bool on_success, const char *key);
void etcd_txn_get(struct etcd_txn *t, bool on_success, const char *key);
void etcd_txn_get_prefix(struct etcd_txn *t, bool on_success, const char *prefix);
/* The request body (JSON text); caller frees. */
char *etcd_txn_body(const struct etcd_txn *t);
/* Run: *succeeded whether the compares held; got (may be NULL) receives the
 * keys the executed branch's get operations read. */
int etcd_txn_run(struct etcd *e, const struct etcd_txn *t, int64_t timeout_ms, bool *succeeded,
		 struct etcd_kvs *got, char **err);

/* ---- pure parts (unit tests) ---- */
char *etcd_b64_encode(const void *data, size_t len);
/* NULL on junk; *len the decoded length (a NUL follows the bytes). */
char *etcd_b64_decode(const char *text, size_t *len);
/* The range_end that makes key a prefix ("/a/" -> "/a0"); caller frees. */
char *etcd_prefix_end(const char *key);
char *etcd_range_body(const char *key, bool prefix);
/* Parse an answer body. An {"error": ...} object gives -1 and *err. */
int etcd_parse_range(const char *body, struct etcd_kvs *out, char **err);
int etcd_parse_txn(const char *body, bool *succeeded, struct etcd_kvs *got, char **err);
int etcd_parse_lease_grant(const char *body, int64_t *id, char **err);
int etcd_parse_keepalive(const char *body, long *ttl, char **err);
int etcd_parse_timetolive(const char *body, long *left, char **err);
/* Whether an answer means "not now, ask another member or again": no
 * leader, leader changed, request timed out (gRPC Unavailable or
 * DeadlineExceeded, as a unary call or a stream such as keepalive says it). */
bool etcd_answer_retryable(long status, const char *body);

#endif
