/* residency: the code table, the groups, policy validation and the refusals
 * of sync targets, database copies and failovers, from configuration text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "residency.h"

/* Unit tests link every object but main.o, which defines this. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static void test_codes(void **state)
{
	(void)state;
	assert_true(residency_code_is_country("NO"));
	assert_true(residency_code_is_country("no"));
	assert_true(residency_code_is_country("ZW"));
	assert_true(residency_code_is_country("AD"));
	assert_false(residency_code_is_country("UK")); /* GB */
	assert_false(residency_code_is_country("EU"));
	assert_false(residency_code_is_country("N"));
	assert_false(residency_code_is_country("NOR"));
	assert_false(residency_code_is_country("O A"));
	assert_true(residency_code_is_group("EEA"));
	assert_true(residency_code_is_group("eu"));
	assert_false(residency_code_is_group("NO"));
}

static void test_policy_validation(void **state)
{
	(void)state;
	assert_null(residency_policy_error("NO EEA"));
	assert_null(residency_policy_error("  de  fr\tEU "));
	char *e = residency_policy_error("NO XX");
	assert_non_null(e);
	assert_non_null(strstr(e, "'XX'"));
	free(e);
	e = residency_policy_error("UK");
	assert_non_null(strstr(e, "GB"));
	free(e);
	e = residency_policy_error("   ");
	assert_non_null(e);
	free(e);
	e = residency_country_error("EEA"); /* a node is in one country */
	assert_non_null(strstr(e, "not a group"));
	free(e);
	assert_null(residency_country_error("NO"));
}

static void test_policy_allows(void **state)
{
	(void)state;
	assert_true(residency_policy_allows("NO EEA", "NO"));
	assert_true(residency_policy_allows("NO EEA", "DE"));
	assert_true(residency_policy_allows("NO EEA", "is")); /* EEA, not EU */
	assert_false(residency_policy_allows("EU", "NO"));
	assert_false(residency_policy_allows("NO EEA", "US"));
	assert_false(residency_policy_allows("NO EEA", "CH")); /* neither EU nor EEA */
	assert_false(residency_policy_allows("NO EEA", "GB"));
	assert_true(residency_policy_allows("EU", "GR"));
	assert_false(residency_policy_allows("EU", "EL"));
	assert_true(residency_policy_allows("EEA", "LI"));
	/* Whole words only: EE (Estonia) is an EEA member, not a prefix of it. */
	assert_true(residency_policy_allows("EEA", "EE"));
	assert_false(residency_policy_allows("EE", "EEA"));
	assert_false(residency_policy_allows("NO", "N"));
}

static const char base[] = "[lifeboat]\n"
			   "node = oslo\n"
			   "jurisdictions = NO EEA\n" /* line 3 */
			   "[node oslo]\n"
			   "address = 10.0.0.4\n"
			   "jurisdiction = NO\n"
			   "[node dr]\n" /* line 7 */
			   "address = 10.0.0.5\n"
			   "ssh = root@10.0.0.5\n"
			   "jurisdiction = %s\n" /* line 10 */
			   "[sync www]\n"
			   "source = /srv/www\n"
			   "target = %s\n"; /* line 13 */

static int load(struct config *cfg, const char *dr, const char *target, const char *extra)
{
	char *text = NULL;
	if (asprintf(&text, base, dr, target) < 0)
		return -1;
	char *all = NULL;
	if (asprintf(&all, "%s%s", text, extra ? extra : "") < 0)
		return -1;
	free(text);
	char *err = NULL;
	int rc = config_load_text("t.conf", all, strlen(all), cfg, &err);
	if (rc < 0)
		print_error("%s\n", err);
	free(err);
	free(all);
	return rc;
}

static void test_config_lines(void **state)
{
	(void)state;
	struct config cfg;
	assert_int_equal(load(&cfg, "US", "dr:/srv/www", NULL), 0);
	assert_string_equal(cfg.jurisdictions, "NO EEA");
	assert_int_equal(cfg.jurisdictions_line, 3);
	assert_int_equal(cfg.nodes[1].jurisdiction_line, 10);
	config_free(&cfg);
	/* An unknown code is refused at load, naming its line. */
	char *err = NULL;
	const char *bad = "[node a]\naddress = x\njurisdiction = XY\n";
	assert_int_equal(config_load_text("b.conf", bad, strlen(bad), &cfg, &err), -1);
	assert_non_null(strstr(err, "b.conf:3:"));
	assert_non_null(strstr(err, "'XY'"));
	free(err);
	bad = "[lifeboat]\njurisdictions = NO EES\n";
	assert_int_equal(config_load_text("b.conf", bad, strlen(bad), &cfg, &err), -1);
	assert_non_null(strstr(err, "b.conf:2:"));
	free(err);
}

static void test_sync_refusals(void **state)
{
	(void)state;
	struct config cfg;
	char *err = NULL;
	assert_int_equal(load(&cfg, "SE", "dr:/srv/www", NULL), 0);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), 0);
	assert_int_equal(residency_node_verdict(&cfg, &cfg.nodes[1]), RESIDENCY_INSIDE);
	config_free(&cfg);

	assert_int_equal(load(&cfg, "US", "dr:/srv/www", NULL), 0);
	assert_int_equal(residency_node_verdict(&cfg, &cfg.nodes[1]), RESIDENCY_OUTSIDE);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), -1);
	/* The target's line, the node's jurisdiction line, the policy's line. */
	assert_non_null(strstr(err, "t.conf:13:"));
	assert_non_null(strstr(err, "t.conf:10"));
	assert_non_null(strstr(err, "t.conf:3"));
	assert_non_null(strstr(err, "US"));
	free(err);
	config_free(&cfg);

	/* A host that is no [node] has no jurisdiction. */
	assert_int_equal(load(&cfg, "NO", "backup@192.0.2.9:/srv/www", NULL), 0);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), -1);
	assert_non_null(strstr(err, "no [node]"));
	free(err);
	config_free(&cfg);

	/* The article's target: dr's host written as HOST:PATH. Still no node,
	 * but the message names the node to write. */
	assert_int_equal(load(&cfg, "NO", "dr-user@10.0.0.5:/srv/www", NULL), 0);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), -1);
	assert_non_null(strstr(err, "write the target as dr:/srv/www"));
	free(err);
	config_free(&cfg);

	/* A local target is this node: NO is inside. */
	assert_int_equal(load(&cfg, "NO", "/backup/www", NULL), 0);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), 0);
	config_free(&cfg);
}

/* On the DR node the target is this node: after a failover the files flow
 * back to the other node, whose jurisdiction then counts. */
static void test_sync_reverse_direction(void **state)
{
	(void)state;
	struct config cfg;
	char *err = NULL;
	const char *text = "[lifeboat]\nnode = dr\njurisdictions = EEA\n"
			   "[node oslo]\naddress = 10.0.0.4\njurisdiction = US\n"
			   "[node dr]\naddress = 10.0.0.5\njurisdiction = NO\n"
			   "[sync www]\nsource = /srv/www\ntarget = dr:/srv/www\n";
	assert_int_equal(config_load_text("r.conf", text, strlen(text), &cfg, &err), 0);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), -1);
	assert_non_null(strstr(err, "[node oslo]"));
	assert_non_null(strstr(err, "after a failover"));
	free(err);
	config_free(&cfg);
}

static void test_db_and_failover(void **state)
{
	(void)state;
	struct config cfg;
	char *err = NULL;
	assert_int_equal(load(&cfg, "US", "/backup/www", "[database]\nprimary = oslo\nstandby = dr\n"),
			 0);
	struct db_server to = {.node = "dr", .host = "10.0.0.5", .port = 3306};
	assert_int_equal(residency_check_db_copy(&cfg, &to, &err), -1);
	assert_non_null(strstr(err, "t.conf:7:")); /* [node dr] */
	assert_non_null(strstr(err, "t.conf:10")); /* its jurisdiction */
	assert_non_null(strstr(err, "t.conf:3"));  /* the policy */
	free(err);
	/* A copy to oslo (NO): allowed. */
	struct db_server old = {.node = "oslo", .host = "10.0.0.4", .port = 3306};
	assert_int_equal(residency_check_db_copy(&cfg, &old, &err), 0);
	/* A server that is no [node]. */
	struct db_server bare = {.host = "192.0.2.7", .port = 3306};
	assert_int_equal(residency_check_db_copy(&cfg, &bare, &err), -1);
	assert_non_null(strstr(err, "t.conf:14:")); /* [database] */
	free(err);
	config_free(&cfg);
	/* A failover to oslo: dr (US) would receive its copies. */
	assert_int_equal(load(&cfg, "US", "/backup/www", NULL), 0);
	assert_int_equal(residency_check_failover(&cfg, &to, &err), -1);
	free(err);
	config_free(&cfg);
	/* Both nodes inside: the failover goes ahead. */
	assert_int_equal(load(&cfg, "SE", "/backup/www", NULL), 0);
	assert_int_equal(residency_check_failover(&cfg, &to, &err), 0);
	config_free(&cfg);
}

static void test_no_policy(void **state)
{
	(void)state;
	struct config cfg;
	char *err = NULL;
	const char *text = "[node a]\naddress = x\njurisdiction = US\n"
			   "[sync s]\nsource = /a\ntarget = h:/b\n";
	assert_int_equal(config_load_text("n.conf", text, strlen(text), &cfg, &err), 0);
	assert_int_equal(residency_check_sync(&cfg, &cfg.syncs[0], &err), 0);
	assert_int_equal(residency_node_verdict(&cfg, &cfg.nodes[0]), RESIDENCY_NO_POLICY);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_policy_validation),
		cmocka_unit_test(test_policy_allows),
		cmocka_unit_test(test_config_lines),
		cmocka_unit_test(test_sync_refusals),
		cmocka_unit_test(test_sync_reverse_direction),
		cmocka_unit_test(test_db_and_failover),
		cmocka_unit_test(test_no_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
