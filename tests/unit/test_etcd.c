/* etcd: the pure parts of the v3 JSON gateway client (base64, request
 * bodies, answers as etcd 3.4 writes them) and [cluster] in the config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "agent.h"
#include "etcd.h"
#include "util.h"

__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static void roundtrip(const char *s)
{
	char *b = etcd_b64_encode(s, strlen(s));
	size_t n = 0;
	char *d = etcd_b64_decode(b, &n);
	assert_non_null(d);
	assert_int_equal(n, strlen(s));
	assert_string_equal(d, s);
	free(b);
	free(d);
}

/* What etcd 3.4's gateway answers while it has no leader: a unary call
 * with HTTP 503, the keepalive stream with HTTP 200 and the error inside. */
static void test_retryable(void **state)
{
	(void)state;
	assert_true(etcd_answer_retryable(503, "{\"error\":\"etcdserver: no leader\",\"message\":"
					       "\"etcdserver: no leader\",\"code\":14}"));
	assert_true(etcd_answer_retryable(200, "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
					       "\"message\":\"etcdserver: no leader\","
					       "\"http_status\":\"Service Unavailable\"}}"));
	assert_true(etcd_answer_retryable(200, "{\"error\":{\"grpc_code\":4,\"message\":"
					       "\"context deadline exceeded\"}}"));
	assert_false(etcd_answer_retryable(200, "{\"result\":{\"ID\":\"7\",\"TTL\":\"5\"}}"));
	/* A real refusal is an answer: asking another member changes nothing. */
	assert_false(etcd_answer_retryable(400, "{\"error\":\"etcdserver: requested lease not "
					       "found\",\"code\":5}"));
	assert_false(etcd_answer_retryable(200, "not json"));
}

static void test_b64(void **state)
{
	(void)state;
	char *b = etcd_b64_encode("/lifeboat/shop/leader", 21);
	assert_string_equal(b, "L2xpZmVib2F0L3Nob3AvbGVhZGVy");
	free(b);
	b = etcd_b64_encode("ab", 2);
	assert_string_equal(b, "YWI=");
	free(b);
	roundtrip("");
	roundtrip("a");
	roundtrip("ab");
	roundtrip("abc");
	roundtrip("{\"role\":\"primary\"}");
	assert_null(etcd_b64_decode("YWI", NULL));   /* not a multiple of 4 */
	assert_null(etcd_b64_decode("Y=I=", NULL));  /* padding inside */
	assert_null(etcd_b64_decode("YW!=", NULL));  /* not the alphabet */
	assert_null(etcd_b64_decode("YQ==YQ==", NULL));
}

static void test_prefix_end(void **state)
{
	(void)state;
	char *e = etcd_prefix_end("/lifeboat/shop/members/");
	assert_string_equal(e, "/lifeboat/shop/members0");
	free(e);
	char *body = etcd_range_body("/a/", true);
	/* "/a/" = L2Ev, "/a0" = L2Ew */
	assert_non_null(strstr(body, "\"key\":\"L2Ev\""));
	assert_non_null(strstr(body, "\"range_end\":\"L2Ew\""));
	free(body);
}

static void test_txn_body(void **state)
{
	(void)state;
	struct etcd_txn *t = etcd_txn_new();
	etcd_txn_absent(t, "a");
	etcd_txn_value(t, "b", ETCD_EQ, "x");
	etcd_txn_mod_revision(t, "c", ETCD_LT, 7);
	etcd_txn_put(t, true, "a", "b", 4111120484978713093LL);
	etcd_txn_del(t, true, "c");
	etcd_txn_get(t, false, "a");
	char *body = etcd_txn_body(t);
	struct json_object *o = json_tokener_parse(body), *cmp, *succ, *fail, *v;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "compare", &cmp));
	assert_int_equal(json_object_array_length(cmp), 3);
	struct json_object *c0 = json_object_array_get_idx(cmp, 0);
	assert_true(json_object_object_get_ex(c0, "target", &v));
	assert_string_equal(json_object_get_string(v), "CREATE");
	assert_true(json_object_object_get_ex(c0, "create_revision", &v));
	assert_string_equal(json_object_get_string(v), "0"); /* int64 as a string */
	struct json_object *c2 = json_object_array_get_idx(cmp, 2);
	assert_true(json_object_object_get_ex(c2, "result", &v));
	assert_string_equal(json_object_get_string(v), "LESS");
	assert_true(json_object_object_get_ex(o, "success", &succ));
	assert_int_equal(json_object_array_length(succ), 2);
	struct json_object *put;
	assert_true(json_object_object_get_ex(json_object_array_get_idx(succ, 0), "request_put",
					      &put));
	assert_true(json_object_object_get_ex(put, "lease", &v));
	assert_string_equal(json_object_get_string(v), "4111120484978713093");
	assert_true(json_object_object_get_ex(o, "failure", &fail));
	assert_int_equal(json_object_array_length(fail), 1);
	json_object_put(o);
	free(body);
	etcd_txn_free(t);
}

static void test_parse_answers(void **state)
{
	(void)state;
	char *err = NULL;
	struct etcd_kvs kvs;
	const char *range =
		"{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":\"2\","
		"\"mod_revision\":\"8\",\"version\":\"3\",\"value\":\"Yg==\",\"lease\":\"77\"}],"
		"\"count\":\"1\"}";
	assert_int_equal(etcd_parse_range(range, &kvs, &err), 0);
	assert_int_equal(kvs.len, 1);
	assert_int_equal(kvs.revision, 9);
	const struct etcd_kv *kv = etcd_kvs_find(&kvs, "a");
	assert_non_null(kv);
	assert_string_equal(kv->value, "b");
	assert_int_equal(kv->mod_revision, 8);
	assert_int_equal(kv->lease, 77);
	etcd_kvs_free(&kvs);

	/* A failed compare: "succeeded" is left out (proto3), the failure
	 * branch's range is there. */
	const char *txn = "{\"header\":{\"revision\":\"2\"},\"responses\":[{\"response_range\":"
			  "{\"kvs\":[{\"key\":\"YQ==\",\"create_revision\":\"2\",\"value\":"
			  "\"Yg==\"}],\"count\":\"1\"}}]}";
	bool ok = true;
	assert_int_equal(etcd_parse_txn(txn, &ok, &kvs, &err), 0);
	assert_false(ok);
	assert_int_equal(kvs.len, 1);
	etcd_kvs_free(&kvs);
	assert_int_equal(etcd_parse_txn("{\"succeeded\":true,\"responses\":[{\"response_put\":{}}]}",
					&ok, NULL, &err),
			 0);
	assert_true(ok);

	int64_t id = 0;
	assert_int_equal(etcd_parse_lease_grant("{\"ID\":\"4111120484978713093\",\"TTL\":\"5\"}", &id,
						&err),
			 0);
	assert_int_equal(id, 4111120484978713093LL);
	long ttl = 9;
	assert_int_equal(etcd_parse_keepalive("{\"result\":{\"ID\":\"1\",\"TTL\":\"5\"}}", &ttl, &err),
			 0);
	assert_int_equal(ttl, 5);
	assert_int_equal(etcd_parse_keepalive("{\"result\":{\"ID\":\"1\"}}", &ttl, &err), 0);
	assert_int_equal(ttl, 0); /* expired */
	long left = 0;
	assert_int_equal(etcd_parse_timetolive("{\"ID\":\"1\",\"TTL\":\"-1\"}", &left, &err), 0);
	assert_int_equal(left, -1);

	assert_int_equal(etcd_parse_range("{\"error\":\"etcdserver: requested lease not found\","
					  "\"code\":5}",
					  &kvs, &err),
			 -1);
	assert_non_null(strstr(err, "lease not found"));
	free(err);
	err = NULL;
	assert_int_equal(etcd_parse_range("<html>", &kvs, &err), -1);
	free(err);
}

/* The watch stream as etcd 3.4's gateway writes it: created, then events
 * (a DELETE carries "type"; a PUT, type 0, leaves it out), or cancelled. */
static void test_watch(void **state)
{
	(void)state;
	char *body = etcd_watch_body("/lifeboat/s/leader", 41), *err = NULL;
	struct json_object *o = json_tokener_parse(body), *c, *v;
	assert_true(json_object_object_get_ex(o, "create_request", &c));
	assert_true(json_object_object_get_ex(c, "start_revision", &v));
	assert_string_equal(json_object_get_string(v), "42");
	assert_true(json_object_object_get_ex(c, "key", &v));
	assert_string_equal(json_object_get_string(v), "L2xpZmVib2F0L3MvbGVhZGVy");
	assert_false(json_object_object_get_ex(c, "range_end", &v));
	json_object_put(o);
	free(body);

	bool created = false;
	assert_int_equal(etcd_parse_watch("{\"result\":{\"header\":{\"revision\":\"41\"},"
					  "\"created\":true}}",
					  &created, &err),
			 0);
	assert_true(created);
	assert_int_equal(etcd_parse_watch("{\"result\":{\"header\":{\"revision\":\"43\"},"
					  "\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":"
					  "\"YQ==\",\"mod_revision\":\"43\"}}]}}",
					  &created, &err),
			 1);
	assert_int_equal(etcd_parse_watch("{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\"}}]}}",
					  &created, &err),
			 1);
	assert_int_equal(etcd_parse_watch("{\"result\":{\"canceled\":true,\"compact_revision\":"
					  "\"50\"}}",
					  &created, &err),
			 1);
	assert_int_equal(etcd_parse_watch("{\"error\":{\"grpc_code\":14,\"message\":\"no leader\"}}",
					  &created, &err),
			 -1);
	assert_non_null(strstr(err, "no leader"));
	free(err);
}

/* A fresh client asks this node's own member first. */
static void test_prefer_host(void **state)
{
	(void)state;
	struct strv eps;
	strv_init(&eps);
	strv_push(&eps, "http://10.0.0.1:2379");
	strv_push(&eps, "https://10.0.0.12:2379");
	strv_push(&eps, "http://10.0.0.2:2379/");
	strv_push(&eps, "http://[fd00::2]:2379");
	struct etcd *e = etcd_new(&eps, NULL);
	etcd_prefer_host(e, "10.0.0.5");
	assert_string_equal(etcd_endpoint(e), "http://10.0.0.1:2379");
	etcd_prefer_host(e, "10.0.0.2");
	assert_string_equal(etcd_endpoint(e), "http://10.0.0.2:2379");
	etcd_prefer_host(e, "fd00::2");
	assert_string_equal(etcd_endpoint(e), "http://[fd00::2]:2379");
	etcd_prefer_host(e, "10.0.0.12");
	assert_string_equal(etcd_endpoint(e), "https://10.0.0.12:2379");
	etcd_free(e);
	strv_free(&eps);
}

static void test_cluster_config(void **state)
{
	(void)state;
	struct config cfg;
	char *err = NULL;
	const char *ok = "[cluster]\netcd = http://10.0.0.4:2379 http://10.0.0.5:2379\n"
			 "etcd = https://10.0.0.9:2379\nscope = shop\nttl = 4\n"
			 "max_lag_on_failover = 2.5\nwatchdog = auto\n";
	assert_int_equal(config_load_text("t.conf", ok, strlen(ok), &cfg, &err), 0);
	assert_true(cfg.cluster.present);
	assert_int_equal(cfg.cluster.etcd.len, 3);
	assert_string_equal(cfg.cluster.etcd.items[2], "https://10.0.0.9:2379");
	assert_int_equal(cfg.cluster.ttl, 4);
	assert_true(cfg.cluster.auto_failover);
	config_free(&cfg);

	const char *none = "[lifeboat]\nnode = a\n[node a]\naddress = 1.2.3.4\nnofailover = yes\n";
	assert_int_equal(config_load_text("t.conf", none, strlen(none), &cfg, &err), 0);
	assert_false(cfg.cluster.present);
	assert_true(cfg.nodes[0].nofailover);
	config_free(&cfg);

	const char *bad[] = {
		"[cluster]\nscope = x\n",                         /* no etcd */
		"[cluster]\netcd = 10.0.0.4:2379\n",              /* no scheme */
		"[cluster]\netcd = http://a:1\nttl = 1\n",         /* ttl too short */
		"[cluster]\netcd = http://a:1\nwatchdog = maybe\n",
		"[cluster]\netcd = http://a:1\nscope = a/b\n",
		"[cluster]\netcd = http://a:1\netcd_cert = /c.pem\n", /* without the key */
		"[cluster]\netcd = http://a:1\nbogus = 1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(config_load_text("t.conf", bad[i], strlen(bad[i]), &cfg, &err), -1);
		assert_non_null(strstr(err, "t.conf:"));
		free(err);
	}
}

/* The health answers come from the agent's state file: fresh and within
 * the lease for /primary, replicating within the lag for /standby. */
static void test_health(void **state)
{
	(void)state;
	char dir[] = "/tmp/lifeboat-unit-h13-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = dir;
	cfg.cluster.present = true;
	cfg.cluster.ttl = 5;
	char *path = xasprintf("%s/agent.json", dir);
	assert_int_equal(agent_health(&cfg, "/metrics HTTP/1.1"), 0);
	assert_int_equal(agent_health(&cfg, "/primary HTTP/1.1"), 503); /* no file */
	double now = now_wall();
	char *text = xasprintf("{\"at\": %.3f, \"primary_until\": %.3f, \"standby_ok\": false}", now,
			       now + 3);
	assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
	free(text);
	assert_int_equal(agent_health(&cfg, "/primary HTTP/1.1"), 200);
	assert_int_equal(agent_health(&cfg, "/primary?x HTTP/1.1"), 200);
	assert_int_equal(agent_health(&cfg, "/standby HTTP/1.1"), 503);
	assert_int_equal(agent_health(&cfg, "/primaryx HTTP/1.1"), 0);
	text = xasprintf("{\"at\": %.3f, \"primary_until\": %.3f, \"standby_ok\": true}", now,
			 now - 1); /* the lease deadline passed */
	assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
	free(text);
	assert_int_equal(agent_health(&cfg, "/primary HTTP/1.1"), 503);
	assert_int_equal(agent_health(&cfg, "/standby HTTP/1.1"), 200);
	text = xasprintf("{\"at\": %.3f, \"primary_until\": %.3f, \"standby_ok\": true}", now - 60,
			 now + 3); /* an agent that stopped writing says nothing */
	assert_int_equal(write_file_atomic(path, text, strlen(text)), 0);
	free(text);
	assert_int_equal(agent_health(&cfg, "/primary HTTP/1.1"), 503);
	assert_int_equal(agent_health(&cfg, "/standby HTTP/1.1"), 503);
	unlink(path);
	rmdir(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_txn_body),
		cmocka_unit_test(test_parse_answers),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_prefer_host),
		cmocka_unit_test(test_retryable),
		cmocka_unit_test(test_cluster_config),
		cmocka_unit_test(test_health),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
