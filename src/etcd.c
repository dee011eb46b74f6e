/* etcd: see etcd.h. */
#include "etcd.h"
#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A member that answers at all accepts a connection within this (a LAN or
 * a WAN link); more is a dead link or host. */
#define CONNECT_TIMEOUT_MS 500
#define MIN_TRY_MS 300
/* One try's bound, and the pause before another round of every member. */
#define TRY_CAP_MS 1000
/* A lease renewal touches no disk: it answers in milliseconds or waits
 * for a leader. A member that has none looks again only every election
 * timeout (etcd 3.4's waitLeader), so a renewal that came while there was
 * none is answered up to a second after the election: a new one, sent
 * after it, is answered at once. */
#define RENEW_TRY_MS 400
#define ROUND_PAUSE_MS 100
/* gRPC codes meaning "this member cannot serve now": another may. */
#define GRPC_DEADLINE_EXCEEDED 4
#define GRPC_UNAVAILABLE 14

struct etcd {
	CURL *curl;
	struct strv endpoints;
	size_t cur; /* the endpoint that answered last */
	char *ca, *cert, *key;
};

/* ------------------------------------------------------------ base64 */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

char *etcd_b64_decode(const char *text, size_t *len)
{
	size_t n = strlen(text);
	if (n % 4)
		return NULL;
	char *out = xmalloc(n / 4 * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			bool pad = text[i + k] == '=' && i + 4 == n && k >= 2;
			v[k] = pad ? -2 : b64_value(text[i + k]);
			if (v[k] == -1 || (k == 3 && v[2] == -2 && v[3] != -2)) {
				free(out);
				return NULL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 | (uint32_t)(v[3] < 0 ? 0 : v[3]);
		out[o++] = (char)(w >> 16);
		if (v[2] >= 0)
			out[o++] = (char)(w >> 8);
		if (v[3] >= 0)
			out[o++] = (char)w;
	}
	out[o] = '\0';
	if (len)
		*len = o;
	return out;
}

/* ------------------------------------------------------------ requests */

char *etcd_prefix_end(const char *key)
{
	char *end = xstrdup(key);
	size_t n = strlen(end);
	/* The last byte that can be incremented is; everything after it goes. */
	while (n > 0) {
		unsigned char c = (unsigned char)end[n - 1];
		if (c < 0xff) {
			end[n - 1] = (char)(c + 1);
			end[n] = '\0';
			return end;
		}
		n--;
	}
	end[0] = '\0'; /* all 0xff: to the end of the key space ("\0") */
	return end;
}

static void add_b64(struct json_object *o, const char *name, const char *s)
{
	char *b = etcd_b64_encode(s, strlen(s));
	json_object_object_add(o, name, json_object_new_string(b));
	free(b);
}

static void add_i64(struct json_object *o, const char *name, int64_t v)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRId64, v);
	json_object_object_add(o, name, json_object_new_string(s));
}

static struct json_object *range_request(const char *key, bool prefix)
{
	struct json_object *o = json_object_new_object();
	add_b64(o, "key", key);
	if (prefix) {
		char *end = etcd_prefix_end(key);
		if (*end)
			add_b64(o, "range_end", end);
		else
			json_object_object_add(o, "range_end", json_object_new_string("AA=="));
		free(end);
	}
	return o;
}

static char *json_text(struct json_object *o)
{
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

char *etcd_range_body(const char *key, bool prefix)
{
	return json_text(range_request(key, prefix));
}

struct etcd_txn {
	struct json_object *compare, *success, *failure;
};

struct etcd_txn *etcd_txn_new(void)
{
	struct etcd_txn *t = xcalloc(1, sizeof(*t));
	t->compare = json_object_new_array();
	t->success = json_object_new_array();
	t->failure = json_object_new_array();
	return t;
}

void etcd_txn_free(struct etcd_txn *t)
{
	if (!t)
		return;
	json_object_put(t->compare);
	json_object_put(t->success);
	json_object_put(t->failure);
	free(t);
}

static const char *cmp_names[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};

static struct json_object *compare(const char *key, enum etcd_cmp_op op, const char *target)
{
	struct json_object *c = json_object_new_object();
	add_b64(c, "key", key);
	json_object_object_add(c, "result", json_object_new_string(cmp_names[op]));
	json_object_object_add(c, "target", json_object_new_string(target));
	return c;
}

void etcd_txn_absent(struct etcd_txn *t, const char *key)
{
	struct json_object *c = compare(key, ETCD_EQ, "CREATE");
	add_i64(c, "create_revision", 0);
	json_object_array_add(t->compare, c);
}

void etcd_txn_value(struct etcd_txn *t, const char *key, enum etcd_cmp_op op, const char *value)
{
	struct json_object *c = compare(key, op, "VALUE");
	add_b64(c, "value", value);
	json_object_array_add(t->compare, c);
}

void etcd_txn_mod_revision(struct etcd_txn *t, const char *key, enum etcd_cmp_op op, int64_t rev)
{
	struct json_object *c = compare(key, op, "MOD");
	add_i64(c, "mod_revision", rev);
	json_object_array_add(t->compare, c);
}

static void add_op(struct etcd_txn *t, bool on_success, const char *kind, struct json_object *req)
{
	struct json_object *op = json_object_new_object();
	json_object_object_add(op, kind, req);
	json_object_array_add(on_success ? t->success : t->failure, op);
}

void etcd_txn_put(struct etcd_txn *t, bool on_success, const char *key, const char *value,
		  int64_t lease)
{
	struct json_object *p = json_object_new_object();
	add_b64(p, "key", key);
	add_b64(p, "value", value);
	if (lease)
		add_i64(p, "lease", lease);
	add_op(t, on_success, "request_put", p);
}

void etcd_txn_del(struct etcd_txn *t, bool on_success, const char *key)
{
	struct json_object *d = json_object_new_object();
	add_b64(d, "key", key);
	add_op(t, on_success, "request_delete_range", d);
}

void etcd_txn_get(struct etcd_txn *t, bool on_success, const char *key)
{
	add_op(t, on_success, "request_range", range_request(key, false));
}

void etcd_txn_get_prefix(struct etcd_txn *t, bool on_success, const char *prefix)
{
	add_op(t, on_success, "request_range", range_request(prefix, true));
}

char *etcd_txn_body(const struct etcd_txn *t)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "compare", json_object_get(t->compare));
	json_object_object_add(o, "success", json_object_get(t->success));
	json_object_object_add(o, "failure", json_object_get(t->failure));
	return json_text(o);
}

/* ------------------------------------------------------------ answers */

/* int64 fields arrive as strings (proto3 JSON), absent when zero. */
static int64_t get_i64(struct json_object *o, const char *name)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return json_object_get_int64(v);
}

static char *get_b64(struct json_object *o, const char *name)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v))
		return xstrdup("");
	return etcd_b64_decode(json_object_get_string(v), NULL);
}

/* Parse body into *root; an error object or junk gives -1 and *err
 * (*code: the gRPC code, 0 when not an error object). */
static int parse_body(const char *body, struct json_object **root, int *code, char **err)
{
	if (code)
		*code = 0;
	*root = json_tokener_parse(body);
	if (!*root || !json_object_is_type(*root, json_type_object)) {
		*err = xasprintf("etcd answered something that is not JSON: %.80s", body);
		json_object_put(*root);
		*root = NULL;
		return -1;
	}
	struct json_object *e;
	if (json_object_object_get_ex(*root, "error", &e)) {
		struct json_object *m = e;
		/* 3.4: {"error": "...", "code": N}; a stream: {"error": {...}} */
		if (json_object_is_type(e, json_type_object))
			json_object_object_get_ex(e, "message", &m);
		if (code)
			*code = (int)get_i64(json_object_is_type(e, json_type_object) ? e : *root,
					     "code");
		*err = xasprintf("etcd: %s", m ? json_object_get_string(m) : "error");
		json_object_put(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

static int parse_kvs(struct json_object *o, struct etcd_kvs *out, char **err)
{
	struct json_object *kvs;
	if (!json_object_object_get_ex(o, "kvs", &kvs))
		return 0;
	size_t n = json_object_array_length(kvs);
	out->items = xrealloc(out->items, (out->len + n + 1) * sizeof(*out->items));
	for (size_t i = 0; i < n; i++) {
		struct json_object *kv = json_object_array_get_idx(kvs, i);
		struct etcd_kv *k = &out->items[out->len];
		memset(k, 0, sizeof(*k));
		k->key = get_b64(kv, "key");
		k->value = get_b64(kv, "value");
		if (!k->key || !k->value) {
			free(k->key);
			free(k->value);
			*err = xstrdup("etcd answered a key or value that is not base64");
			return -1;
		}
		k->create_revision = get_i64(kv, "create_revision");
		k->mod_revision = get_i64(kv, "mod_revision");
		k->version = get_i64(kv, "version");
		k->lease = get_i64(kv, "lease");
		out->len++;
	}
	return 0;
}

static int64_t header_revision(struct json_object *root)
{
	struct json_object *h;
	return json_object_object_get_ex(root, "header", &h) ? get_i64(h, "revision") : 0;
}

int etcd_parse_range(const char *body, struct etcd_kvs *out, char **err)
{
	memset(out, 0, sizeof(*out));
	struct json_object *root;
	if (parse_body(body, &root, NULL, err) < 0)
		return -1;
	out->revision = header_revision(root);
	int rc = parse_kvs(root, out, err);
	json_object_put(root);
	if (rc < 0)
		etcd_kvs_free(out);
	return rc;
}

int etcd_parse_txn(const char *body, bool *succeeded, struct etcd_kvs *got, char **err)
{
	struct etcd_kvs dummy;
	if (!got)
		got = &dummy;
	memset(got, 0, sizeof(*got));
	struct json_object *root, *v, *resps;
	if (parse_body(body, &root, NULL, err) < 0)
		return -1;
	/* proto3 JSON leaves false booleans out. */
	*succeeded = json_object_object_get_ex(root, "succeeded", &v) && json_object_get_boolean(v);
	got->revision = header_revision(root);
	int rc = 0;
	if (json_object_object_get_ex(root, "responses", &resps)) {
		size_t n = json_object_array_length(resps);
		for (size_t i = 0; i < n && rc == 0; i++) {
			struct json_object *r = json_object_array_get_idx(resps, i), *rr;
			if (json_object_object_get_ex(r, "response_range", &rr))
				rc = parse_kvs(rr, got, err);
		}
	}
	json_object_put(root);
	if (rc < 0 || got == &dummy)
		etcd_kvs_free(got);
	return rc;
}

int etcd_parse_lease_grant(const char *body, int64_t *id, char **err)
{
	struct json_object *root;
	if (parse_body(body, &root, NULL, err) < 0)
		return -1;
	*id = get_i64(root, "ID");
	long ttl = (long)get_i64(root, "TTL");
	json_object_put(root);
	if (*id == 0 || ttl <= 0) {
		*err = xstrdup("etcd granted no lease");
		return -1;
	}
	return 0;
}

/* The keepalive answer is one message of a stream: {"result": {...}}. A
 * lease that expired is renewed to TTL 0 (the field then absent). */
int etcd_parse_keepalive(const char *body, long *ttl, char **err)
{
	struct json_object *root, *res;
	if (parse_body(body, &root, NULL, err) < 0)
		return -1;
	if (!json_object_object_get_ex(root, "result", &res))
		res = root;
	*ttl = (long)get_i64(res, "TTL");
	json_object_put(root);
	return 0;
}

int etcd_parse_timetolive(const char *body, long *left, char **err)
{
	struct json_object *root;
	if (parse_body(body, &root, NULL, err) < 0)
		return -1;
	*left = (long)get_i64(root, "TTL");
	json_object_put(root);
	if (*left <= 0)
		*left = -1; /* -1: gone (etcd says TTL -1); 0 is not a live lease either */
	return 0;
}

void etcd_kvs_free(struct etcd_kvs *kvs)
{
	for (size_t i = 0; i < kvs->len; i++) {
		free(kvs->items[i].key);
		free(kvs->items[i].value);
	}
	free(kvs->items);
	memset(kvs, 0, sizeof(*kvs));
}

const struct etcd_kv *etcd_kvs_find(const struct etcd_kvs *kvs, const char *key)
{
	for (size_t i = 0; i < kvs->len; i++)
		if (strcmp(kvs->items[i].key, key) == 0)
			return &kvs->items[i];
	return NULL;
}

/* ------------------------------------------------------------ transport */

struct etcd *etcd_new(const struct strv *endpoints, const struct etcd_tls *tls)
{
	static bool curl_ready;
	if (!curl_ready) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = true;
	}
	struct etcd *e = xcalloc(1, sizeof(*e));
	strv_init(&e->endpoints);
	for (size_t i = 0; i < endpoints->len; i++) {
		char *u = xstrdup(endpoints->items[i]);
		size_t n = strlen(u);
		while (n > 0 && u[n - 1] == '/')
			u[--n] = '\0';
		strv_push(&e->endpoints, u);
		free(u);
	}
	if (tls) {
		e->ca = tls->ca ? xstrdup(tls->ca) : NULL;
		e->cert = tls->cert ? xstrdup(tls->cert) : NULL;
		e->key = tls->key ? xstrdup(tls->key) : NULL;
	}
	e->curl = curl_easy_init();
	return e;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	strv_free(&e->endpoints);
	free(e->ca);
	free(e->cert);
	free(e->key);
	free(e);
}

/* "http://HOST:PORT" or "https://[V6]:PORT": whether HOST is host. */
static bool endpoint_on(const char *url, const char *host)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	size_t n = strlen(host);
	if (*h == '[')
		return strncmp(h + 1, host, n) == 0 && h[1 + n] == ']';
	return strncmp(h, host, n) == 0 && (h[n] == ':' || h[n] == '/' || h[n] == '\0');
}

void etcd_prefer_host(struct etcd *e, const char *host)
{
	for (size_t i = 0; host && *host && i < e->endpoints.len; i++)
		if (endpoint_on(e->endpoints.items[i], host)) {
			e->cur = i;
			return;
		}
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->endpoints.len ? e->endpoints.items[e->cur] : "";
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	buf_add(arg, data, size * n);
	return size * n;
}

/* The easy handle set for one JSON POST (TLS as configured); the caller
 * frees the returned header list after curl_easy_perform. */
static struct curl_slist *request_setup(struct etcd *e, const char *url, const char *body,
					int64_t timeout_ms, curl_write_callback on_data, void *data)
{
	CURL *c = e->curl;
	curl_easy_reset(c);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, data);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (e->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
	if (e->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
	if (e->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
	return hdr;
}

/* One POST to one endpoint. 0 with *status and the body, or -1 when no
 * answer came (connect failure, timeout): *err says why, *refused whether
 * nothing listens there (or no route). */
static int post_one(struct etcd *e, const char *url, const char *body, int64_t timeout_ms,
		    long *status, struct buf *out, bool *refused, char **err)
{
	CURL *c = e->curl;
	struct curl_slist *hdr = request_setup(e, url, body, timeout_ms, on_body, out);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	*refused = rc == CURLE_COULDNT_CONNECT;
	if (rc != CURLE_OK) {
		*err = xasprintf("%s: %s", url, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* The gRPC code of an error answer: {"code": N} (unary calls) or, for a
 * stream such as keepalive, {"error": {"grpc_code": N}}; 0 when none. */
static int answer_code(struct json_object *root)
{
	struct json_object *c, *e;
	if (json_object_object_get_ex(root, "code", &c))
		return json_object_get_int(c);
	if (json_object_object_get_ex(root, "error", &e) &&
	    json_object_is_type(e, json_type_object) &&
	    (json_object_object_get_ex(e, "grpc_code", &c) ||
	     json_object_object_get_ex(e, "code", &c)))
		return json_object_get_int(c);
	return 0;
}

/* A member without quorum answers "no leader" or times out the request
 * (both gRPC Unavailable, HTTP 503), and one that just lost its leader
 * "leader changed": another member may serve it, or this one shortly. */
bool etcd_answer_retryable(long status, const char *body)
{
	if (status == 503 || status == 504)
		return true;
	struct json_object *root = json_tokener_parse(body);
	int code = root ? answer_code(root) : 0;
	json_object_put(root);
	return code == GRPC_UNAVAILABLE || code == GRPC_DEADLINE_EXCEEDED;
}

static void pause_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* POST path to the members in turn, round after round, until one answers
 * within timeout_ms. Each try is short (try_cap_ms): a member that took
 * the connection but waits for an election may be on the minority side of
 * a partition, and another member may already serve; an election is over
 * in a few election timeouts, so a later round finds a leader. 0 with the
 * answer's body in out (any HTTP status: the body says), or
 * ETCD_UNREACHABLE with *err (the last round's reasons); at once when no
 * member took the connection (etcd is down: waiting changes nothing, and
 * a primary's failsafe needs the time). */
static int post(struct etcd *e, const char *path, const char *body, int64_t timeout_ms,
		int64_t try_cap_ms, struct buf *out, char **err)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t n = e->endpoints.len;
	struct buf why;
	buf_init(&why);
	int rounds = 0;
	size_t refused_in_round = 0, last = e->cur > 0 ? e->cur - 1 : n - 1;
	for (size_t i = 0; n > 0; i++) {
		size_t at = (e->cur + i) % n;
		int64_t left = deadline - now_ms();
		if (left < MIN_TRY_MS / 3)
			break;
		if (i % n == 0 && i > 0) {
			if (refused_in_round == n)
				break;
			/* Every member said no: wait a little for an election. */
			int64_t nap = left / 4 < ROUND_PAUSE_MS ? left / 4 : ROUND_PAUSE_MS;
			pause_ms(nap);
			left -= nap;
			buf_reset(&why);
		}
		if (i % n == 0) {
			refused_in_round = 0;
			rounds++;
		}
		int64_t try_ms = left < try_cap_ms ? left : try_cap_ms;
		char *url = xasprintf("%s%s", e->endpoints.items[at], path);
		char *e1 = NULL;
		long status = 0;
		bool refused = false;
		buf_reset(out);
		int rc = post_one(e, url, body, try_ms, &status, out, &refused, &e1);
		free(url);
		last = at;
		if (refused)
			refused_in_round++;
		if (rc == 0 && !etcd_answer_retryable(status, out->data ? out->data : "")) {
			e->cur = at;
			buf_free(&why);
			return 0;
		}
		if (rc == 0)
			e1 = xasprintf("%s: HTTP %ld %.100s", e->endpoints.items[at], status,
				       out->data ? out->data : "");
		buf_addf(&why, "%s%s", why.len ? "; " : "", e1);
		free(e1);
	}
	/* The next call starts with the member after the last one tried: a
	 * short budget is not spent on the same stalled member every time. */
	if (n > 0)
		e->cur = (last + 1) % n;
	*err = xasprintf("no etcd member answered within %" PRId64 " ms, %d round(s) (%s)",
			 timeout_ms, rounds, why.len ? why.data : "no time left");
	buf_free(&why);
	return ETCD_UNREACHABLE;
}

int etcd_range(struct etcd *e, const char *key, bool prefix, int64_t timeout_ms,
	       struct etcd_kvs *out, char **err)
{
	memset(out, 0, sizeof(*out));
	char *body = etcd_range_body(key, prefix);
	struct buf ans;
	buf_init(&ans);
	int rc = post(e, "/v3/kv/range", body, timeout_ms, TRY_CAP_MS, &ans, err);
	if (rc == 0)
		rc = etcd_parse_range(ans.data ? ans.data : "", out, err);
	buf_free(&ans);
	free(body);
	return rc;
}

int etcd_delete(struct etcd *e, const char *key, int64_t timeout_ms, char **err)
{
	char *body = etcd_range_body(key, false);
	struct buf ans;
	buf_init(&ans);
	int rc = post(e, "/v3/kv/deleterange", body, timeout_ms, TRY_CAP_MS, &ans, err);
	if (rc == 0) {
		struct etcd_kvs dummy;
		rc = etcd_parse_range(ans.data ? ans.data : "", &dummy, err);
		if (rc == 0)
			etcd_kvs_free(&dummy);
	}
	buf_free(&ans);
	free(body);
	return rc;
}

static char *id_body(const char *name, int64_t v, const char *name2, int64_t v2)
{
	struct json_object *o = json_object_new_object();
	add_i64(o, name, v);
	if (name2)
		add_i64(o, name2, v2);
	return json_text(o);
}

int etcd_lease_grant(struct etcd *e, long ttl, int64_t timeout_ms, int64_t *id, char **err)
{
	char *body = id_body("TTL", ttl, NULL, 0);
	struct buf ans;
	buf_init(&ans);
	int rc = post(e, "/v3/lease/grant", body, timeout_ms, TRY_CAP_MS, &ans, err);
	if (rc == 0)
		rc = etcd_parse_lease_grant(ans.data ? ans.data : "", id, err);
	buf_free(&ans);
	free(body);
	return rc;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t timeout_ms, long *ttl, char **err)
{
	char *body = id_body("ID", id, NULL, 0);
	struct buf ans;
	buf_init(&ans);
	int rc = post(e, "/v3/lease/keepalive", body, timeout_ms, RENEW_TRY_MS, &ans, err);
	if (rc == 0)
		rc = etcd_parse_keepalive(ans.data ? ans.data : "", ttl, err);
	buf_free(&ans);
	free(body);
	return rc;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, int64_t timeout_ms, char **err)
{
	char *body = id_body("ID", id, NULL, 0);
	struct buf ans;
	buf_init(&ans);
	int rc = post(e, "/v3/lease/revoke", body, timeout_ms, TRY_CAP_MS, &ans, err);
	if (rc == 0) {
		struct etcd_kvs dummy;
		rc = etcd_parse_range(ans.data ? ans.data : "", &dummy, err);
		if (rc == 0)
			etcd_kvs_free(&dummy);
	}
	buf_free(&ans);
	free(body);
	return rc;
}

int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t timeout_ms, long *left, char **err)
{
	char *body = id_body("ID", id, NULL, 0);
	struct buf ans;
	buf_init(&ans);
	int rc = post(e, "/v3/lease/timetolive", body, timeout_ms, RENEW_TRY_MS, &ans, err);
	if (rc == 0)
		rc = etcd_parse_timetolive(ans.data ? ans.data : "", left, err);
	buf_free(&ans);
	free(body);
	return rc;
}

int etcd_txn_run(struct etcd *e, const struct etcd_txn *t, int64_t timeout_ms, bool *succeeded,
		 struct etcd_kvs *got, char **err)
{
	char *body = etcd_txn_body(t);
	struct buf ans;
	buf_init(&ans);
	*succeeded = false;
	int rc = post(e, "/v3/kv/txn", body, timeout_ms, TRY_CAP_MS, &ans, err);
	if (rc == 0)
		rc = etcd_parse_txn(ans.data ? ans.data : "", succeeded, got, err);
	buf_free(&ans);
	free(body);
	return rc;
}

/* ------------------------------------------------------------ watch */

char *etcd_watch_body(const char *key, int64_t rev)
{
	struct json_object *c = range_request(key, false), *o = json_object_new_object();
	add_i64(c, "start_revision", rev + 1);
	json_object_object_add(o, "create_request", c);
	return json_text(o);
}

/* One stream message: {"result": {"created": true, ...}}, then {"result":
 * {"events": [...]}} per change; {"result": {"canceled": true}} when etcd
 * ends the watch (its revision compacted away). */
int etcd_parse_watch(const char *body, bool *created, char **err)
{
	struct json_object *root, *res, *v;
	if (parse_body(body, &root, NULL, err) < 0)
		return -1;
	if (!json_object_object_get_ex(root, "result", &res))
		res = root;
	int rc = 0;
	if (json_object_object_get_ex(res, "created", &v) && json_object_get_boolean(v))
		*created = true;
	if ((json_object_object_get_ex(res, "canceled", &v) && json_object_get_boolean(v)) ||
	    (json_object_object_get_ex(res, "events", &v) && json_object_array_length(v) > 0))
		rc = 1;
	json_object_put(root);
	return rc;
}

struct watch_stream {
	struct json_tokener *tok;
	bool created;
	int outcome; /* 1 changed, -1 error, 0 still watching */
	char *err;
};

/* The stream's bytes: complete JSON messages are judged as they arrive;
 * the first that decides ends the transfer (returning 0 aborts it). */
static size_t on_watch_data(char *data, size_t size, size_t n, void *arg)
{
	struct watch_stream *w = arg;
	size_t len = size * n, off = 0;
	while (off < len && w->outcome == 0) {
		while (off < len && isspace((unsigned char)data[off]))
			off++;
		if (off == len)
			break;
		struct json_object *o = json_tokener_parse_ex(w->tok, data + off, (int)(len - off));
		if (!o && json_tokener_get_error(w->tok) == json_tokener_continue)
			break;
		off += json_tokener_get_parse_end(w->tok);
		json_tokener_reset(w->tok);
		const char *text = o ? json_object_to_json_string(o) : "";
		w->outcome = etcd_parse_watch(text, &w->created, &w->err);
		json_object_put(o);
	}
	return w->outcome == 0 ? len : 0;
}

int etcd_watch_wait(struct etcd *e, const char *key, int64_t rev, int64_t timeout_ms, char **err)
{
	if (!e->endpoints.len) {
		*err = xstrdup("no etcd endpoint");
		return -1;
	}
	char *url = xasprintf("%s/v3/watch", e->endpoints.items[e->cur]);
	char *body = etcd_watch_body(key, rev);
	struct watch_stream w = {.tok = json_tokener_new()};
	CURL *c = e->curl;
	struct curl_slist *hdr = request_setup(e, url, body, timeout_ms, on_watch_data, &w);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	int out = w.outcome;
	if (out < 0) {
		*err = w.err;
		w.err = NULL;
	} else if (out == 0 && !(rc == CURLE_OPERATION_TIMEDOUT && w.created)) {
		/* Ended without a decision: no watch was running all along. */
		*err = xasprintf("%s: %s", url,
				 rc == CURLE_OK ? "the watch stream ended" : curl_easy_strerror(rc));
		out = -1;
	}
	free(w.err);
	json_tokener_free(w.tok);
	free(body);
	free(url);
	return out;
}
