/* config: every key type and section kind, the exact file:line of every
 * refusal, target resolution, and the checks `sync` runs on the file system. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "peer.h"
#include "util.h"

/* Unit tests link every object but main.o, which defines this; a weak
 * stand-in lets them link, and yields to the real one wherever it moves. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

/* ---- helpers ---------------------------------------------------------- */

static void load_ok(const char *text, struct config *cfg)
{
	char *err = NULL;
	if (config_load_text("t.conf", text, strlen(text), cfg, &err) != 0)
		fail_msg("unexpected error: %s", err);
	assert_null(err);
}

/* The text is refused with exactly this message, and leaves nothing behind. */
static void expect_err(const char *text, const char *want)
{
	struct config cfg;
	char *err = NULL;
	assert_int_equal(config_load_text("t.conf", text, strlen(text), &cfg, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
	assert_null(cfg.path);
	assert_int_equal(cfg.n_syncs, 0);
	free(err);
}

/* "[sync s]" with a source and target, then one more line (line 4). */
static char *sync_with(const char *line)
{
	return xasprintf("[sync s]\nsource = /src\ntarget = /dst\n%s\n", line);
}

static void expect_sync_line_err(const char *line, const char *want)
{
	char *text = sync_with(line);
	expect_err(text, want);
	free(text);
}

static void load_sync_line(const char *line, struct config *cfg)
{
	char *text = sync_with(line);
	load_ok(text, cfg);
	free(text);
}

/* ---- the SPEC's example and the defaults -------------------------------- */

static const char spec_example[] =
	"[lifeboat]\n"
	"node = oslo-1                  ; which [node] this machine is\n"
	"state_dir = /var/lib/lifeboat  ; status file\n"
	"log = /var/log/lifeboat/lifeboat.log   ; or: stderr, syslog\n"
	"status_interval = 20           ; seconds\n"
	"\n"
	"[node oslo-1]\n"
	"address = 10.0.0.4\n"
	"ssh = root@10.0.0.4\n"
	"role = primary\n"
	"\n"
	"[node oslo-dr]\n"
	"address = 10.0.0.5\n"
	"ssh = dr-user@10.0.0.5\n"
	"role = standby\n"
	"\n"
	"[sync www]\n"
	"source = /var/www/vhosts/mysite/\n"
	"target = oslo-dr:/var/www/vhosts/mysite/   ; NODE:PATH\n"
	"delay = 0.2\n"
	"exclude = *.tmp                ; list\n"
	"exclude = cache/\n"
	"exclude_from = /etc/lifeboat/www.exclude\n"
	"delete = yes\n"
	"compress = no\n"
	"bwlimit = 5000\n"
	"ssh_port = 22\n"
	"ssh_identity = /etc/lifeboat/id_ed25519\n"
	"ssh_options = -o StrictHostKeyChecking=yes  ; split on spaces\n"
	"rsync_args = --acls --xattrs\n"
	"\n"
	"[database]\n"
	"primary = oslo-1\n"
	"standby = oslo-dr\n"
	"port = 3306\n"
	"user = lifeboat\n"
	"password_file = /etc/lifeboat/db.pass\n"
	"replication_user = repl\n"
	"replication_password_file = /etc/lifeboat/repl.pass\n"
	"heartbeat = yes\n"
	"semi_sync = no\n"
	"\n"
	"[failover]\n"
	"vip = 10.0.0.100/24\n"
	"vip_dev = eth0\n"
	"dns_hook = /etc/lifeboat/hooks/dns\n"
	"pre_hook = /etc/lifeboat/hooks/pre1\n"
	"pre_hook = /etc/lifeboat/hooks/pre2\n"
	"post_hook = /etc/lifeboat/hooks/post\n"
	"fence = read_only\n";

static void test_spec_example_lifeboat_and_nodes(void **state)
{
	(void)state;
	struct config cfg;
	load_ok(spec_example, &cfg);
	assert_string_equal(cfg.path, "t.conf");
	assert_true(cfg.has_lifeboat_section);
	assert_string_equal(cfg.node, "oslo-1");
	assert_string_equal(cfg.state_dir, "/var/lib/lifeboat");
	assert_string_equal(cfg.log, "/var/log/lifeboat/lifeboat.log");
	assert_true(cfg.status_interval == 20);
	assert_int_equal(cfg.n_nodes, 2);
	const struct node_conf *n = config_find_node(&cfg, "oslo-dr");
	assert_non_null(n);
	assert_string_equal(n->address, "10.0.0.5");
	assert_string_equal(n->ssh, "dr-user@10.0.0.5");
	assert_string_equal(n->role, "standby");
	assert_int_equal(n->line, 12);
	assert_null(config_find_node(&cfg, "nowhere"));
	config_free(&cfg);
}

static void test_spec_example_sync(void **state)
{
	(void)state;
	struct config cfg;
	load_ok(spec_example, &cfg);
	assert_int_equal(cfg.n_syncs, 1);
	const struct sync_conf *s = config_find_sync(&cfg, "www");
	assert_non_null(s);
	assert_int_equal(s->line, 17);
	assert_string_equal(s->source, "/var/www/vhosts/mysite");
	assert_int_equal(s->source_line, 18);
	assert_string_equal(s->target, "oslo-dr:/var/www/vhosts/mysite/");
	assert_int_equal(s->target_line, 19);
	assert_string_equal(s->target_node, "oslo-dr");
	assert_string_equal(s->target_host, "dr-user@10.0.0.5");
	assert_string_equal(s->target_path, "/var/www/vhosts/mysite");
	assert_true(s->delay == 0.2);
	assert_int_equal(s->excludes.len, 2);
	assert_string_equal(s->excludes.items[0], "*.tmp");
	assert_string_equal(s->excludes.items[1], "cache/");
	assert_null(s->excludes.items[2]);
	assert_string_equal(s->exclude_from, "/etc/lifeboat/www.exclude");
	assert_int_equal(s->delete_mode, DELETE_YES);
	assert_false(s->compress);
	assert_int_equal(s->bwlimit, 5000);
	assert_int_equal(s->ssh_port, 22);
	assert_string_equal(s->ssh_identity, "/etc/lifeboat/id_ed25519");
	assert_string_equal(s->ssh_options, "-o StrictHostKeyChecking=yes");
	assert_string_equal(s->rsync_args, "--acls --xattrs");
	assert_null(config_find_sync(&cfg, "nope"));
	config_free(&cfg);
}

static void test_spec_example_database_failover(void **state)
{
	(void)state;
	struct config cfg;
	load_ok(spec_example, &cfg);
	assert_true(cfg.db.present);
	assert_int_equal(cfg.db.line, 32);
	assert_string_equal(cfg.db.primary, "oslo-1");
	assert_string_equal(cfg.db.standby, "oslo-dr");
	assert_int_equal(cfg.db.port, 3306);
	assert_string_equal(cfg.db.user, "lifeboat");
	assert_string_equal(cfg.db.password_file, "/etc/lifeboat/db.pass");
	assert_string_equal(cfg.db.replication_user, "repl");
	assert_string_equal(cfg.db.replication_password_file, "/etc/lifeboat/repl.pass");
	assert_true(cfg.db.heartbeat);
	assert_false(cfg.db.semi_sync);
	assert_true(cfg.failover.present);
	assert_int_equal(cfg.failover.line, 43);
	assert_string_equal(cfg.failover.vip, "10.0.0.100/24");
	assert_string_equal(cfg.failover.vip_dev, "eth0");
	assert_string_equal(cfg.failover.dns_hook, "/etc/lifeboat/hooks/dns");
	assert_int_equal(cfg.failover.pre_hooks.len, 2);
	assert_string_equal(cfg.failover.pre_hooks.items[1], "/etc/lifeboat/hooks/pre2");
	assert_int_equal(cfg.failover.post_hooks.len, 1);
	assert_string_equal(cfg.failover.fence, "read_only");
	config_free(&cfg);
}

static void test_defaults(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("[sync]\nsource = /src\ntarget = /dst\n", &cfg);
	assert_false(cfg.has_lifeboat_section);
	assert_null(cfg.node);
	assert_string_equal(cfg.state_dir, "/var/lib/lifeboat");
	assert_string_equal(cfg.log, "stderr");
	assert_true(cfg.status_interval == 20);
	const struct sync_conf *s = &cfg.syncs[0];
	assert_string_equal(s->name, "default"); /* [sync] without a name */
	assert_true(s->delay == 0.2);
	assert_int_equal(s->delete_mode, DELETE_YES);
	assert_false(s->compress);
	assert_int_equal(s->bwlimit, 0);
	assert_int_equal(s->ssh_port, 0);
	assert_int_equal(s->excludes.len, 0);
	assert_non_null(s->excludes.items);
	assert_null(s->exclude_from);
	assert_null(s->target_host);
	assert_null(s->target_node);
	assert_false(cfg.db.present);
	assert_int_equal(cfg.db.port, 3306);
	assert_true(cfg.db.heartbeat);
	assert_true(cfg.db.promote_timeout == 30);
	assert_true(cfg.db.max_lag == 10);
	assert_string_equal(cfg.db.replication_user, "repl");
	assert_false(cfg.failover.present);
	assert_int_equal(cfg.failover.pre_hooks.len, 0);
	config_free(&cfg);
}

static void test_empty_file_is_valid(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("", &cfg);
	assert_int_equal(cfg.n_syncs, 0);
	char *err = NULL;
	assert_int_equal(config_check_sync(&cfg, &err), -1);
	assert_string_equal(err, "t.conf: no [sync NAME] section: nothing to replicate");
	free(err);
	config_free(&cfg);
}

/* ---- sections ------------------------------------------------------------ */

static void test_section_kinds(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("[lifeboat]\n[database]\n[failover]\n[node a]\n[sync\tb]\nsource = /s\ntarget = /b\n[sync  c]\n"
		"source = /s\ntarget = /t\n[sync b.1_x-y]\nsource = /s\ntarget = /u\n",
		&cfg);
	assert_true(cfg.has_lifeboat_section && cfg.db.present && cfg.failover.present);
	assert_int_equal(cfg.db.line, 2);
	assert_int_equal(cfg.failover.line, 3);
	assert_int_equal(cfg.n_nodes, 1);
	assert_string_equal(cfg.nodes[0].name, "a");
	assert_int_equal(cfg.n_syncs, 3);
	assert_non_null(config_find_sync(&cfg, "b"));
	assert_non_null(config_find_sync(&cfg, "c"));
	assert_non_null(config_find_sync(&cfg, "b.1_x-y"));
	config_free(&cfg);
}

static void test_section_errors(void **state)
{
	(void)state;
	expect_err("[lifeboat]\n\n[lifeboat]\n", "t.conf:3: section [lifeboat] appears twice");
	expect_err("[database]\n[database]\n", "t.conf:2: section [database] appears twice");
	expect_err("[failover]\n[failover]\n", "t.conf:2: section [failover] appears twice");
	expect_err("[lifeboat main]\n", "t.conf:1: section [lifeboat] takes no name");
	expect_err("[database x]\n", "t.conf:1: section [database] takes no name");
	expect_err("[failover x]\n", "t.conf:1: section [failover] takes no name");
	expect_err("[node]\n", "t.conf:1: section [node] needs a name: [node NAME]");
	expect_err("[node a]\n[node a]\n", "t.conf:2: [node a] appears twice");
	expect_err("[sync a]\nsource = /s\ntarget = /t\n[sync a]\n", "t.conf:4: [sync a] appears twice");
	expect_err("[sync]\nsource = /s\ntarget = /t\n[sync default]\n",
		   "t.conf:4: [sync default] appears twice");
	expect_err("[sync]\n[sync]\n", "t.conf:2: [sync default] appears twice");
}

static void test_section_names(void **state)
{
	(void)state;
	const char *why = "(a letter or digit, then letters, digits, '-', '_', '.')";
	const char *bad[][2] = {
		{"[sync -x]\n", "sync name '-x'"},   {"[sync ..]\n", "sync name '..'"},
		{"[node .]\n", "node name '.'"},     {"[sync a/b]\n", "sync name 'a/b'"},
		{"[sync a b]\n", "sync name 'a b'"}, {"[node _a]\n", "node name '_a'"},
		{"[sync a;b]\n", "sync name 'a;b'"}, {"[node \xC3\xA9]\n", "node name '\xC3\xA9'"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *want = xasprintf("t.conf:1: bad %s %s", bad[i][1], why);
		expect_err(bad[i][0], want);
		free(want);
	}
}

static void test_unknown_sections(void **state)
{
	(void)state;
	expect_err("[lifeboat]\n\n[syncs www]\n",
		   "t.conf:3: unknown section [syncs www] (expected lifeboat, node, sync, "
		   "database, failover or cluster)");
	expect_err("[Sync]\n", "t.conf:1: unknown section [Sync] (expected lifeboat, node, sync, "
			       "database, failover or cluster)");
	expect_err("[global]\n", "t.conf:1: unknown section [global] (expected lifeboat, node, "
				 "sync, database, failover or cluster)");
}

/* ---- keys ---------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_err("[sync www]\nsource = /s\nsorce = /s\n",
		   "t.conf:3: unknown key 'sorce' in [sync www]");
	expect_err("[lifeboat]\n; c\nnodes = a\n", "t.conf:3: unknown key 'nodes' in [lifeboat]");
	expect_err("[node a]\nport = 22\n", "t.conf:2: unknown key 'port' in [node a]");
	expect_err("[database]\nSource = /x\n", "t.conf:2: unknown key 'Source' in [database]");
	expect_err("[failover]\nvip dev = eth0\n", "t.conf:2: unknown key 'vip dev' in [failover]");
	/* a key valid in another section is still unknown here */
	expect_err("[lifeboat]\nsource = /x\n", "t.conf:2: unknown key 'source' in [lifeboat]");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_sync_line_err("source = /other", "t.conf:4: 'source' is set twice in [sync s]");
	expect_err("[lifeboat]\nnode = a\nlog = stderr\nnode = b\n",
		   "t.conf:4: 'node' is set twice in [lifeboat]");
	expect_err("[node a]\nssh = h\n[node b]\nssh = h\nssh = i\n",
		   "t.conf:5: 'ssh' is set twice in [node b]");
	expect_err("[database]\nport = 1\nport = 1\n", "t.conf:3: 'port' is set twice in [database]");
	/* Lists repeat; the same key in two sections is no repeat. */
	struct config cfg;
	load_ok("[failover]\npre_hook = /a\npre_hook = /b\npost_hook = /c\npost_hook = /d\n"
		"[sync a]\nsource = /s\ntarget = /t\n[sync b]\nsource = /s\ntarget = /u\n",
		&cfg);
	assert_int_equal(cfg.failover.pre_hooks.len, 2);
	assert_int_equal(cfg.failover.post_hooks.len, 2);
	assert_int_equal(cfg.n_syncs, 2);
	config_free(&cfg);
}

static void test_empty_values(void **state)
{
	(void)state;
	expect_err("[node a]\naddress =\n", "t.conf:2: 'address' needs a value");
	expect_err("[lifeboat]\nstate_dir =   ; nothing\n", "t.conf:2: 'state_dir' needs a value");
	expect_sync_line_err("exclude =", "t.conf:4: 'exclude' needs a value");
	expect_sync_line_err("compress =", "t.conf:4: 'compress' must be yes or no, got ''");
	expect_sync_line_err("delay =",
			     "t.conf:4: 'delay' must be a number of seconds between 0 and 86400, "
			     "got ''");
	expect_sync_line_err("bwlimit =",
			     "t.conf:4: 'bwlimit' must be a whole number between 0 and 1000000000, "
			     "got ''");
	expect_sync_line_err("delete =",
			     "t.conf:4: 'delete' must be yes, no, startup or running, got ''");
}

static void test_paths(void **state)
{
	(void)state;
	expect_err("[lifeboat]\nstate_dir = var/lib\n",
		   "t.conf:2: 'state_dir' must be an absolute path, got 'var/lib'");
	expect_sync_line_err("exclude_from = ./x",
			     "t.conf:4: 'exclude_from' must be an absolute path, got './x'");
	expect_err("[sync s]\nsource = ~/www\n",
		   "t.conf:2: 'source' must be an absolute path, got '~/www'");
	struct config cfg;
	load_ok("[sync s]\nsource = //srv//www/./a/.//\ntarget = /dst/./x//\n"
		"[database]\nsocket = /run/./mysqld/\n[lifeboat]\nstate_dir = /\n",
		&cfg);
	assert_string_equal(cfg.syncs[0].source, "/srv/www/a");
	assert_string_equal(cfg.syncs[0].target_path, "/dst/x");
	assert_string_equal(cfg.db.socket, "/run/mysqld");
	assert_string_equal(cfg.state_dir, "/");
	config_free(&cfg);
}

static void test_long_value(void **state)
{
	(void)state;
	size_t n = 5000;
	char *path = xmalloc(n + 1);
	memset(path, 'p', n);
	path[0] = '/';
	path[n] = '\0';
	char *text = xasprintf("[sync s]\nsource = %s\ntarget = /dst\nrsync_args = %s\n", path,
			       path + 1);
	struct config cfg;
	load_ok(text, &cfg);
	assert_int_equal(strlen(cfg.syncs[0].source), n);
	assert_string_equal(cfg.syncs[0].rsync_args, path + 1);
	config_free(&cfg);
	free(text);
	/* A refusal of a long value stays one bounded line naming file:line. */
	text = xasprintf("[sync s]\n\ndelay = %s\n", path + 1);
	struct config bad;
	char *err = NULL;
	assert_int_equal(config_load_text("t.conf", text, strlen(text), &bad, &err), -1);
	assert_true(strncmp(err, "t.conf:3: 'delay' must be", 25) == 0);
	assert_null(strchr(err, '\n'));
	free(err);
	free(text);
	free(path);
}

static void test_bools(void **state)
{
	(void)state;
	struct config cfg;
	load_sync_line("compress = yes", &cfg);
	assert_true(cfg.syncs[0].compress);
	config_free(&cfg);
	load_ok("[lifeboat]\ndrill_allow_crash = on\n[database]\nheartbeat = off\nsemi_sync = true\n",
		&cfg);
	assert_true(cfg.drill_allow_crash);
	assert_false(cfg.db.heartbeat);
	assert_true(cfg.db.semi_sync);
	config_free(&cfg);
	expect_sync_line_err("compress = maybe", "t.conf:4: 'compress' must be yes or no, got 'maybe'");
	expect_err("[database]\nheartbeat = y\n", "t.conf:2: 'heartbeat' must be yes or no, got 'y'");
}

static void test_delete_modes(void **state)
{
	(void)state;
	const char *names[] = {"yes", "no", "startup", "running"};
	const enum delete_mode modes[] = {DELETE_YES, DELETE_NO, DELETE_STARTUP, DELETE_RUNNING};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *line = xasprintf("delete = %s", names[i]);
		struct config cfg;
		load_sync_line(line, &cfg);
		assert_int_equal(cfg.syncs[0].delete_mode, modes[i]);
		assert_string_equal(delete_mode_name(modes[i]), names[i]);
		config_free(&cfg);
		free(line);
	}
	expect_sync_line_err("delete = true",
			     "t.conf:4: 'delete' must be yes, no, startup or running, got 'true'");
	expect_sync_line_err("delete = YES",
			     "t.conf:4: 'delete' must be yes, no, startup or running, got 'YES'");
}

/* ---- numbers --------------------------------------------------------------- */

static void test_seconds(void **state)
{
	(void)state;
	struct config cfg;
	load_sync_line("delay = 1.5", &cfg);
	assert_true(cfg.syncs[0].delay == 1.5);
	config_free(&cfg);
	load_sync_line("delay = 0", &cfg);
	assert_true(cfg.syncs[0].delay == 0);
	config_free(&cfg);
	load_ok("[lifeboat]\nstatus_interval = 86400\n[database]\npromote_timeout = 0.5\n"
		"max_lag = 2\n",
		&cfg);
	assert_true(cfg.status_interval == 86400);
	assert_true(cfg.db.promote_timeout == 0.5);
	assert_true(cfg.db.max_lag == 2);
	config_free(&cfg);
	const char *bad[] = {"1e3", "-1", "0x10", "nan", "inf", "86401", "+1", "1,5", "0.2s",
			     "1 2", "999999999999999999999999999999999999999999999999999999"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *line = xasprintf("delay = %s", bad[i]);
		char *want = xasprintf("t.conf:4: 'delay' must be a number of seconds between 0 "
				       "and 86400, got '%s'",
				       bad[i]);
		expect_sync_line_err(line, want);
		free(line);
		free(want);
	}
	/* a key's lower bound holds for seconds too */
	load_sync_line("rescan_interval = 1", &cfg);
	assert_true(cfg.syncs[0].rescan_interval == 1);
	config_free(&cfg);
	expect_sync_line_err("rescan_interval = 0.5", "t.conf:4: 'rescan_interval' must be a number "
						      "of seconds between 1 and 86400, got '0.5'");
	expect_err("[lifeboat]\nstatus_interval = 1e3\n",
		   "t.conf:2: 'status_interval' must be a number of seconds between 0 and 86400, "
		   "got '1e3'");
}

static void test_whole_numbers(void **state)
{
	(void)state;
	struct config cfg;
	load_sync_line("bwlimit = 1000000000", &cfg);
	assert_int_equal(cfg.syncs[0].bwlimit, 1000000000);
	config_free(&cfg);
	load_sync_line("ssh_port = 65535", &cfg);
	assert_int_equal(cfg.syncs[0].ssh_port, 65535);
	config_free(&cfg);
	const char *bad[] = {"-1",  "0x10", "1e3", "nan", "inf", "1.5", "+5", "1000000001",
			     "99999999999999999999", "5 KiB", "1_000"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *line = xasprintf("bwlimit = %s", bad[i]);
		char *want = xasprintf("t.conf:4: 'bwlimit' must be a whole number between 0 and "
				       "1000000000, got '%s'",
				       bad[i]);
		expect_sync_line_err(line, want);
		free(line);
		free(want);
	}
	expect_sync_line_err("ssh_port = 0",
			     "t.conf:4: 'ssh_port' must be a whole number between 1 and 65535, got '0'");
	expect_sync_line_err("ssh_port = 65536", "t.conf:4: 'ssh_port' must be a whole number "
						 "between 1 and 65535, got '65536'");
	expect_err("[database]\n\nport = 3306x\n",
		   "t.conf:3: 'port' must be a whole number between 1 and 65535, got '3306x'");
}

/* ---- values with a fixed vocabulary ---------------------------------------- */

static void test_role_fence_log(void **state)
{
	(void)state;
	expect_err("[node a]\naddress = h\nrole = master\n",
		   "t.conf:3: 'role' must be primary or standby, got 'master'");
	expect_err("[failover]\nvip = 10.0.0.1/24\nfence = stonith\n",
		   "t.conf:3: 'fence' must be read_only or hook:/PATH, got 'stonith'");
	expect_err("[failover]\nfence = hook:relative\n",
		   "t.conf:2: 'fence' must be read_only or hook:/PATH, got 'hook:relative'");
	expect_err("[lifeboat]\nlog = lifeboat.log\n",
		   "t.conf:2: 'log' must be stderr, syslog or an absolute path, got 'lifeboat.log'");
	struct config cfg;
	load_ok("[lifeboat]\nlog = syslog\n[failover]\nfence = hook:/usr/bin/stonith\n", &cfg);
	assert_string_equal(cfg.log, "syslog");
	assert_string_equal(cfg.failover.fence, "hook:/usr/bin/stonith");
	config_free(&cfg);
}

static void test_node_hosts(void **state)
{
	(void)state;
	expect_err("[node a]\nssh = -oProxyCommand=x\n",
		   "t.conf:2: 'ssh' must be [USER@]HOST, got '-oProxyCommand=x'");
	expect_err("[node a]\nssh = root@\n", "t.conf:2: 'ssh' must be [USER@]HOST, got 'root@'");
	expect_err("[node a]\naddress = 10.0.0.1 10.0.0.2\n",
		   "t.conf:2: 'address' must be [USER@]HOST, got '10.0.0.1 10.0.0.2'");
}

static void test_this_node_must_exist(void **state)
{
	(void)state;
	expect_err("[lifeboat]\nstate_dir = /x\nnode = oslo-9\n[node oslo-1]\naddress = h\n",
		   "t.conf:3: [lifeboat] node = oslo-9, but there is no [node oslo-9] section");
	/* Without any [node] (a sync-only file), node names this machine only. */
	struct config cfg;
	load_ok("[lifeboat]\nnode = oslo-9\n", &cfg);
	assert_string_equal(cfg.node, "oslo-9");
	config_free(&cfg);
}

/* Without `node`, this machine is the [node] whose address it has: 127.0.0.1
 * is on every machine's loopback, 192.0.2.1 (TEST-NET-1) on none. */
static void test_this_node_found_by_address(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("[node far]\naddress = 192.0.2.1\n[node here]\naddress = 127.0.0.1\n", &cfg);
	assert_non_null(cfg.node);
	assert_string_equal(cfg.node, "here");
	assert_true(cfg.node_found);
	config_free(&cfg);
	/* Both here (one host): unknown, as none is. */
	load_ok("[node a]\naddress = 127.0.0.1\n[node b]\naddress = 127.0.0.1\n", &cfg);
	assert_null(cfg.node);
	config_free(&cfg);
	/* A name is never looked up. */
	load_ok("[node a]\naddress = localhost\n[node b]\naddress = 192.0.2.1\n", &cfg);
	assert_null(cfg.node);
	config_free(&cfg);
}

/* One ssh setting per node: a [sync] to a node gives its settings to both
 * nodes, a [node] setting wins where the sync sets none, and [database]
 * ssh_options is the same setting; two values for one node are refused. */
static void test_one_ssh_setting_per_node(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("[lifeboat]\nnode = a\n[node a]\nssh = root@h1\n[node b]\nssh = root@h2\n"
		"ssh_port = 2222\n[sync s]\nsource = /s\ntarget = b:/s\nssh_identity = /k\n"
		"ssh_options = -o X=1\n",
		&cfg);
	const struct node_conf *a = config_find_node(&cfg, "a"), *b = config_find_node(&cfg, "b");
	assert_string_equal(a->ssh_identity, "/k");
	assert_string_equal(b->ssh_identity, "/k");
	assert_string_equal(a->ssh_options, "-o X=1");
	assert_int_equal(b->ssh_port, 2222);
	assert_int_equal(a->ssh_port, 0);
	assert_int_equal(cfg.syncs[0].ssh_port, 2222); /* the sync to b uses b's */
	config_free(&cfg);
	expect_err("[node a]\nssh = h1\nssh_identity = /k1\n[sync s]\nsource = /s\ntarget = a:/s\n"
		   "ssh_identity = /k2\n",
		   "t.conf:4: [sync s] ssh_identity '/k2' differs from '/k1' used for [node a]: one "
		   "ssh setting per node (set it once, in [node a])");
	expect_err("[node a]\nssh = h1\nssh_options = -4\n[database]\nprimary = a\n"
		   "ssh_options = -6\n",
		   "t.conf:4: [database] ssh_options '-6' differs from '-4' used for [node a]: one "
		   "ssh setting per node (set it once, in [node a])");
	load_ok("[node a]\nssh = h1\n[database]\nprimary = a\nssh_options = -6\n", &cfg);
	assert_string_equal(cfg.nodes[0].ssh_options, "-6");
	config_free(&cfg);
}

/* peer.c: the other node, its ssh argv, the quoting, lifeboat there. */
static void test_peer(void **state)
{
	(void)state;
	struct config cfg;
	load_ok("[lifeboat]\nnode = a\nstate_dir = /var/lib/lifeboat\n[node a]\naddress = 10.0.0.1\n"
		"[node b]\naddress = 10.0.0.2\nssh = u@10.0.0.2\nssh_port = 2222\n"
		"ssh_identity = /etc/lifeboat/k\nssh_options = -o StrictHostKeyChecking=yes\n",
		&cfg);
	free(cfg.path);
	cfg.path = xstrdup("/etc/lifeboat/it's.conf");
	assert_string_equal(peer_name(&cfg), "b");
	struct strv v;
	strv_init(&v);
	assert_true(peer_lifeboat_argv(&cfg, peer_node(&cfg), &v));
	struct buf all;
	buf_init(&all);
	for (size_t i = 0; i < v.len; i++)
		buf_addf(&all, "%s%s", i ? "|" : "", v.items[i]);
	assert_string_equal(all.data,
			    "ssh|-p|2222|-i|/etc/lifeboat/k|-o|BatchMode=yes|-o|ConnectTimeout=3|-o|"
			    "ControlMaster=auto|-o|ControlPersist=30|-o|"
			    "ControlPath=/var/lib/lifeboat/peer-ssh.sock|-o|StrictHostKeyChecking=yes|--|"
			    "u@10.0.0.2|'lifeboat' '-c' '/etc/lifeboat/it'\\''s.conf'");
	buf_free(&all);
	strv_free(&v);
	/* A connection of its own: no ControlMaster at all. */
	strv_init(&v);
	assert_true(peer_lifeboat_argv_fresh(&cfg, peer_node(&cfg), &v));
	for (size_t i = 0; i < v.len; i++)
		assert_null(strstr(v.items[i], "Control"));
	strv_free(&v);
	/* peer_command overrides, and shares the connection when it is ssh. */
	cfg.failover.peer_command = xstrdup("ssh -i /k root@b lifeboat");
	strv_init(&v);
	assert_true(peer_lifeboat_argv(&cfg, NULL, &v));
	assert_string_equal(v.items[1], "-o");
	assert_string_equal(v.items[2], "ControlMaster=auto");
	assert_string_equal(v.items[v.len - 1], "lifeboat");
	strv_free(&v);
	char *q = peer_quoted("a b'c");
	assert_string_equal(q, "'a b'\\''c'");
	free(q);
	config_free(&cfg);
}

static void test_sync_needs_source_and_target(void **state)
{
	(void)state;
	expect_err("[lifeboat]\n[sync www]\nsource = /s\n",
		   "t.conf:2: [sync www] needs both 'source' and 'target'");
	expect_err("[sync]\ntarget = /t\n", "t.conf:1: [sync default] needs both 'source' and 'target'");
}

/* ---- targets -------------------------------------------------------------- */

static const char nodes[] = "[lifeboat]\nnode = here\n"
			    "[node here]\nssh = root@10.0.0.4\n"
			    "[node dr]\naddress = 10.0.0.5\nssh = dr-user@10.0.0.5\n"
			    "[node addr-only]\naddress = 10.0.0.6\n"
			    "[node bare]\nrole = standby\n"
			    "[sync s]\nsource = /src\n"; /* line 13: source; 14: target */

static void load_target(const char *target, struct config *cfg)
{
	char *text = xasprintf("%starget = %s\n", nodes, target);
	load_ok(text, cfg);
	free(text);
}

static void expect_target(const char *target, const char *host, const char *path,
			  const char *node)
{
	struct config cfg;
	load_target(target, &cfg);
	const struct sync_conf *s = &cfg.syncs[0];
	if (host)
		assert_string_equal(s->target_host, host);
	else
		assert_null(s->target_host);
	assert_string_equal(s->target_path, path);
	if (node)
		assert_string_equal(s->target_node, node);
	else
		assert_null(s->target_node);
	assert_string_equal(s->target, target);
	assert_int_equal(s->target_line, 14);
	config_free(&cfg);
}

static void expect_target_err(const char *target, const char *why)
{
	char *text = xasprintf("%starget = %s\n", nodes, target);
	char *want = xasprintf("t.conf:14: target '%s' %s", target, why);
	expect_err(text, want);
	free(want);
	free(text);
}

static void test_target_forms(void **state)
{
	(void)state;
	expect_target("dr:/var/www/", "dr-user@10.0.0.5", "/var/www", "dr");
	expect_target("addr-only:/x", "10.0.0.6", "/x", "addr-only");
	expect_target("here:/backup/www", NULL, "/backup/www", "here"); /* this machine */
	expect_target("backup@192.0.2.7:/srv/www", "backup@192.0.2.7", "/srv/www", NULL);
	expect_target("host.example:/", "host.example", "/", NULL);
	expect_target("/local/path/", NULL, "/local/path", NULL);
	expect_target("/with:colon", NULL, "/with:colon", NULL);
	expect_target("h:/a:b//c", "h", "/a:b/c", NULL);
	/* IPv6: the brackets keep the address's colons apart; ssh gets the
	 * bare address, rsync the bracketed one. */
	expect_target("[2001:db8::1]:/x", "2001:db8::1", "/x", NULL);
	expect_target("root@[::1]:/srv/a:b", "root@::1", "/srv/a:b", NULL);
	char *r = config_rsync_remote("root@::1", "/srv");
	assert_string_equal(r, "root@[::1]:/srv/");
	free(r);
	r = config_rsync_remote("2001:db8::1", "/x");
	assert_string_equal(r, "[2001:db8::1]:/x/");
	free(r);
	r = config_rsync_remote("backup@192.0.2.7", "/srv/www");
	assert_string_equal(r, "backup@192.0.2.7:/srv/www/");
	free(r);
}

static void test_target_errors(void **state)
{
	(void)state;
	const char *forms = "must be NODE:/PATH, [USER@]HOST:/PATH ([USER@][IPV6]:/PATH) or /PATH";
	expect_target_err("relative/path", forms);
	expect_target_err("backup", forms);
	expect_target_err("host:relative", forms);
	expect_target_err("host:", forms);
	expect_target_err(":/x", forms);
	expect_target_err("dr:relative", forms);
	expect_target_err("[2001:db8::1/x", forms);
	expect_target_err("[2001:db8::1]/x", forms);
	expect_target_err("[2001:db8::1]:x", forms);
	expect_target_err("[host]:/x", forms); /* brackets are for IPv6 addresses */
	expect_target_err("[]:/x", forms);
	expect_target_err("bare:/x", "names a node with neither 'ssh' nor 'address'");
	expect_target_err("-oProxyCommand=evil:/x", "has a bad host: must be [USER@]HOST");
	expect_target_err("user@:/x", "has a bad host: must be [USER@]HOST");
	expect_target_err("@host:/x", "has a bad host: must be [USER@]HOST");
}

/* ---- config_check_sync ------------------------------------------------- */

struct tmp {
	char dir[64];
};

/* NAME under the temp dir: a directory (mkdir -p), or a symlink to TO. */
static int tmp_make(const struct tmp *t, const char *name, const char *to)
{
	char *path = xasprintf("%s/%s", t->dir, name);
	char *target = to ? xasprintf("%s/%s", t->dir, to) : NULL;
	int rc = target ? symlink(target, path) : mkdir_p(path, 0755);
	free(target);
	free(path);
	return rc;
}

/* ~/src/sub/, ~/other/, ~/file, ~/link -> src, ~/filelink -> file */
static int tmp_setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	*state = t;
	strcpy(t->dir, "/tmp/lifeboat-test-config.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	char *file = xasprintf("%s/file", t->dir);
	int rc = write_file_atomic(file, "x\n", 2);
	free(file);
	rc |= tmp_make(t, "src/sub", NULL);
	rc |= tmp_make(t, "other", NULL);
	rc |= tmp_make(t, "link", "src");
	rc |= tmp_make(t, "filelink", "file");
	return rc;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	int rc = system(cmd);
	free(cmd);
	free(t);
	return rc;
}

/* Replace every "~" in the template with the temp dir. */
static char *in_tmp(const struct tmp *t, const char *tmpl)
{
	struct buf b;
	buf_init(&b);
	for (const char *p = tmpl; *p; p++) {
		if (*p == '~')
			buf_adds(&b, t->dir);
		else
			buf_addc(&b, *p);
	}
	return buf_steal(&b);
}

/* Load the text (after in_tmp) and run config_check_sync: NULL if it passes,
 * else the message with the temp dir written back as "~". */
static char *check_sync(const struct tmp *t, const char *tmpl)
{
	char *text = in_tmp(t, tmpl);
	struct config cfg;
	load_ok(text, &cfg);
	free(text);
	char *err = NULL;
	int rc = config_check_sync(&cfg, &err);
	config_free(&cfg);
	if (rc == 0) {
		assert_null(err);
		return NULL;
	}
	assert_non_null(err);
	assert_null(strchr(err, '\n'));
	struct buf b;
	buf_init(&b);
	size_t n = strlen(t->dir);
	for (const char *p = err; *p;) {
		if (strncmp(p, t->dir, n) == 0) {
			buf_addc(&b, '~');
			p += n;
		} else {
			buf_addc(&b, *p++);
		}
	}
	free(err);
	return buf_steal(&b);
}

static void expect_sync_check(const struct tmp *t, const char *tmpl, const char *want)
{
	char *got = check_sync(t, tmpl);
	if (!want && got)
		fail_msg("unexpected error: %s", got);
	if (want && !got)
		fail_msg("passed, expected: %s", want);
	if (want)
		assert_string_equal(got, want);
	free(got);
}

static void test_check_sync_passes(void **state)
{
	const struct tmp *t = *state;
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/dst\n", NULL);
	expect_sync_check(t, "[sync a]\nsource = ~/src/\ntarget = ~/src2\n", NULL); /* prefix, not parent */
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = host:~/src\n", NULL); /* remote */
	expect_sync_check(t,
		     "[sync a]\nsource = ~/src\ntarget = h1:/t\n"
		     "[sync b]\nsource = ~/src\ntarget = h2:/t\n"
		     "[sync c]\nsource = ~/src\ntarget = h1:/t2\n",
		     NULL);
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/dst\nexclude_from = ~/file\n", NULL);
}

static void test_check_sync_source(void **state)
{
	const struct tmp *t = *state;
	expect_sync_check(t, "[sync a]\ntarget = ~/dst\n\nsource = ~/missing\n",
		     "t.conf:4: [sync a] source '~/missing': No such file or directory");
	expect_sync_check(t, "[sync a]\nsource = ~/file\ntarget = ~/dst\n",
		     "t.conf:2: [sync a] source '~/file' is not a directory");
	expect_sync_check(t, "[sync a]\nsource = ~/file/x\ntarget = ~/dst\n",
		     "t.conf:2: [sync a] source '~/file/x': Not a directory");
	expect_sync_check(t, "[sync ok]\nsource = ~/src\ntarget = ~/d1\n[sync b]\nsource = ~/nope\ntarget = ~/d2\n",
		     "t.conf:5: [sync b] source '~/nope': No such file or directory");
}

static void test_check_sync_overlap(void **state)
{
	const struct tmp *t = *state;
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/src/sub/copy\n",
		     "t.conf:3: [sync a] target '~/src/sub/copy' overlaps its source '~/src'");
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/src\n",
		     "t.conf:3: [sync a] target '~/src' overlaps its source '~/src'");
	expect_sync_check(t, "[sync a]\nsource = ~/src/sub\ntarget = ~\n",
		     "t.conf:3: [sync a] target '~' overlaps its source '~/src/sub'");
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = /\n",
		     "t.conf:3: [sync a] target '/' overlaps its source '~/src'");
	/* this machine's node is a local target */
	expect_sync_check(t, "[lifeboat]\nnode = me\n[node me]\nssh = root@h\n"
			"[sync a]\nsource = ~/src\ntarget = me:~/src/x\n",
		     "t.conf:7: [sync a] target '~/src/x' overlaps its source '~/src'");
	/* ...and so is this machine reached over ssh by its address */
	expect_sync_check(t, "[lifeboat]\nnode = me\n[node me]\naddress = 10.0.0.4\n"
			     "[sync a]\nsource = ~/src\ntarget = root@10.0.0.4:~/src/x\n",
			  "t.conf:7: [sync a] target '~/src/x' overlaps its source '~/src'");
	/* One file on two nodes: on the target's node the target path is its own
	 * tree (the source path is the other node's), whether or not the two
	 * paths are the same, and whether or not the source exists here. */
	expect_sync_check(t, "[lifeboat]\nnode = dr\n[node oslo]\nssh = root@a\n[node dr]\n"
			     "ssh = root@b\n[sync a]\nsource = ~/src\ntarget = dr:~/src\n",
			  NULL);
	expect_sync_check(t, "[lifeboat]\nnode = dr\n[node oslo]\nssh = root@a\n[node dr]\n"
			     "ssh = root@b\n[sync a]\nsource = ~/missing\ntarget = dr:~/not-yet\n",
			  NULL);
	expect_sync_check(t, "[lifeboat]\nnode = dr\n[node oslo]\nssh = root@a\n[node dr]\n"
			     "ssh = root@b\n[sync a]\nsource = ~/src\ntarget = dr:~/file\n",
			  "t.conf:9: [sync a] target '~/file' is this node's copy, but it is not a "
			  "directory");
	/* a source reached through a symlink to a file is no directory */
	expect_sync_check(t, "[sync a]\nsource = ~/filelink\ntarget = ~/dst\n",
			  "t.conf:2: [sync a] source '~/filelink' is not a directory");
}

static void test_check_sync_overlap_through_links(void **state)
{
	const struct tmp *t = *state;
	/* ~/link is a symlink to ~/src: the file system decides, not the text */
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/link/new\n",
		     "t.conf:3: [sync a] target '~/link/new' overlaps its source '~/src'");
	expect_sync_check(t, "[sync a]\nsource = ~/link\ntarget = ~/src/sub\n",
		     "t.conf:3: [sync a] target '~/src/sub' overlaps its source '~/link'");
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/other/../src/x\n",
		     "t.conf:3: [sync a] target '~/other/../src/x' overlaps its source '~/src'");
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/src/sub/../../dst\n", NULL);
}

static void test_check_sync_same_target(void **state)
{
	const struct tmp *t = *state;
	expect_sync_check(t,
		     "[sync a]\nsource = ~/src\ntarget = ~/dst\n"
		     "[sync b]\nsource = ~/src/sub\ntarget = ~/dst/\n",
		     "t.conf:6: [sync b] has the same target as [sync a] (line 3)");
	expect_sync_check(t,
		     "[sync a]\nsource = ~/src\ntarget = ~/dst\n"
		     "[sync b]\nsource = ~/src/sub\ntarget = ~/dst/inner\n",
		     "t.conf:6: [sync b] has the same target as [sync a] (line 3)");
	expect_sync_check(t,
		     "[sync a]\nsource = ~/src\ntarget = h:/t\n"
		     "[sync b]\nsource = ~/src/sub\ntarget = h:/t\n",
		     "t.conf:6: [sync b] has the same target as [sync a] (line 3)");
}

static void test_check_sync_same_target_other_spelling(void **state)
{
	const struct tmp *t = *state;
	const char *dr = "[node dr]\naddress = 10.0.0.5\nssh = dr-user@10.0.0.5\n";
	char *tmpl = xasprintf("%s[sync a]\nsource = ~/src\ntarget = dr:/t\n"
			       "[sync b]\nsource = ~/src/sub\ntarget = 10.0.0.5:/t\n",
			       dr);
	expect_sync_check(t, tmpl, "t.conf:9: [sync b] has the same target as [sync a] (line 6)");
	free(tmpl);
	tmpl = xasprintf("%s[sync a]\nsource = ~/src\ntarget = root@10.0.0.5:/t\n"
			 "[sync b]\nsource = ~/src/sub\ntarget = dr:/t\n",
			 dr);
	expect_sync_check(t, tmpl, "t.conf:9: [sync b] has the same target as [sync a] (line 6)");
	free(tmpl);
	/* a local path and this machine's node are the same place */
	expect_sync_check(t,
		     "[lifeboat]\nnode = me\n[node me]\naddress = 10.0.0.4\n"
		     "[sync a]\nsource = ~/src\ntarget = ~/dst\n"
		     "[sync b]\nsource = ~/src/sub\ntarget = me:~/dst\n",
		     "t.conf:10: [sync b] has the same target as [sync a] (line 7)");
}

static void test_check_sync_exclude_from(void **state)
{
	const struct tmp *t = *state;
	expect_sync_check(t, "[sync a]\nsource = ~/src\ntarget = ~/dst\nexclude_from = ~/none\n",
		     "t.conf:1: [sync a] exclude_from '~/none': No such file or directory");
}

/* ---- files and the path choice ---------------------------------------------- */

static void test_config_load_file(void **state)
{
	const struct tmp *t = *state;
	char *path = in_tmp(t, "~/lifeboat.conf");
	static const char text[] = "\xEF\xBB\xBF; a comment\r\n[sync a]\r\nsource = /s\r\n"
				   "target = /t ; c\r\n\r\nbwlimit = 0x10\r\n";
	assert_int_equal(write_file_atomic(path, text, sizeof(text) - 1), 0);
	struct config cfg;
	char *err = NULL;
	assert_int_equal(config_load(path, &cfg, &err), -1);
	char *want = xasprintf("%s:6: 'bwlimit' must be a whole number between 0 and 1000000000, "
			       "got '0x10'",
			       path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(path);
}

static void test_config_load_unreadable(void **state)
{
	const struct tmp *t = *state;
	char *path = in_tmp(t, "~/absent.conf");
	struct config cfg;
	char *err = NULL;
	assert_int_equal(config_load(path, &cfg, &err), -1);
	char *want = xasprintf("%s: cannot read configuration: No such file or directory", path);
	assert_string_equal(err, want);
	assert_null(cfg.path);
	free(want);
	free(err);
	free(path);
	path = in_tmp(t, "~/src");
	assert_int_equal(config_load(path, &cfg, &err), -1);
	want = xasprintf("%s: not a configuration file (not a regular file)", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(path);
}

static void test_config_path_choose(void **state)
{
	(void)state;
	assert_int_equal(setenv("LIFEBOAT_CONFIG", "/from/env.conf", 1), 0);
	assert_string_equal(config_path_choose("/from/option.conf"), "/from/option.conf");
	assert_string_equal(config_path_choose(NULL), "/from/env.conf");
	assert_int_equal(setenv("LIFEBOAT_CONFIG", "", 1), 0);
	assert_string_equal(config_path_choose(NULL), DEFAULT_CONFIG_PATH);
	assert_int_equal(unsetenv("LIFEBOAT_CONFIG"), 0);
	assert_string_equal(config_path_choose(NULL), "/etc/lifeboat/lifeboat.conf");
}

static void test_syntax_errors_reach_config(void **state)
{
	(void)state;
	expect_err("source = /s\n[sync]\n", "t.conf:1: key outside of any [section]");
	static const char nul[] = "[sync a]\nsource = /s\0\n";
	struct config cfg;
	char *err = NULL;
	assert_int_equal(config_load_text("t.conf", nul, sizeof(nul) - 1, &cfg, &err), -1);
	assert_string_equal(err, "t.conf:2: NUL byte in configuration");
	free(err);
	expect_err("[sync a]\nsource /s\n", "t.conf:2: expected 'key = value' or '[section]'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example_lifeboat_and_nodes),
		cmocka_unit_test(test_spec_example_sync),
		cmocka_unit_test(test_spec_example_database_failover),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file_is_valid),
		cmocka_unit_test(test_section_kinds),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_section_names),
		cmocka_unit_test(test_unknown_sections),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_delete_modes),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_whole_numbers),
		cmocka_unit_test(test_role_fence_log),
		cmocka_unit_test(test_node_hosts),
		cmocka_unit_test(test_this_node_found_by_address),
		cmocka_unit_test(test_one_ssh_setting_per_node),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_this_node_must_exist),
		cmocka_unit_test(test_sync_needs_source_and_target),
		cmocka_unit_test(test_target_forms),
		cmocka_unit_test(test_target_errors),
		cmocka_unit_test_setup_teardown(test_check_sync_passes, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_check_sync_source, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_check_sync_overlap, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_check_sync_overlap_through_links, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_check_sync_same_target, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_check_sync_same_target_other_spelling, tmp_setup,
						tmp_teardown),
		cmocka_unit_test_setup_teardown(test_check_sync_exclude_from, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_config_load_file, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_config_load_unreadable, tmp_setup, tmp_teardown),
		cmocka_unit_test(test_config_path_choose),
		cmocka_unit_test(test_syntax_errors_reach_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
