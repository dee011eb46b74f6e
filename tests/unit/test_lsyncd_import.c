/* lsyncd_import: how lsyncd's settings and sync{} options become lifeboat
 * keys, one lsyncd file per case, run by the real Lua interpreter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "lsyncd_import.h"
#include "util.h"

/* Unit tests link every object but main.o, which defines this. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static char dir[] = "/tmp/lifeboat-unit-lsyncd.XXXXXX";

static int make_dir(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char *f = xasprintf("%s/x.lua", dir);
	unlink(f);
	free(f);
	return rmdir(dir);
}

/* Import the Lua text; returns the output (caller frees) or NULL with *err. */
static char *import_text(const char *lua, char **err)
{
	char *path = xasprintf("%s/x.lua", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(lua, f);
	fclose(f);
	char *out = NULL;
	*err = NULL;
	if (lsyncd_import(path, &out, err) < 0)
		out = NULL;
	free(path);
	return out;
}

/* Every line of want (separated by '\n') is a whole line of the output. */
static void expect_lines(const char *lua, const char *want)
{
	char *err;
	char *out = import_text(lua, &err);
	if (!out)
		fail_msg("import failed: %s", err);
	char *copy = xstrdup(want);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *needle = xasprintf("\n%s\n", line);
		if (!strstr(out, needle))
			fail_msg("no line '%s' in:\n%s", line, out);
		free(needle);
	}
	free(copy);
	free(out);
}

static void expect_error(const char *lua, const char *fragment)
{
	char *err;
	char *out = import_text(lua, &err);
	if (out)
		fail_msg("imported, expected an error with '%s':\n%s", fragment, out);
	if (!strstr(err, fragment))
		fail_msg("error '%s' lacks '%s'", err, fragment);
	assert_null(strchr(err, '\n'));
	free(err);
}

static void test_rsyncssh_host_and_targetdir(void **state)
{
	(void)state;
	expect_lines("sync{default.rsyncssh, source='/var/www/', host='dr@10.0.0.5',\n"
		     "  targetdir='/srv/www/', delay=2}\n",
		     "[sync www]\nsource = /var/www\ntarget = dr@10.0.0.5:/srv/www\ndelay = 2");
	expect_lines("sync{default.rsyncssh, source='/a', host='u@fd00::2', targetdir='/b'}",
		     "target = u@[fd00::2]:/b");
	expect_lines("sync{default.rsyncssh, source='/a', host='h', targetdir='rel'}",
		     "; NOT IMPORTED: its target directory 'rel' is relative to the login's home "
		     "on h; lifeboat needs an absolute path: target = h:/ABSOLUTE/PATH");
}

static void test_rsync_options(void **state)
{
	(void)state;
	expect_lines("sync{default.rsync, source='/a', target='/b', rsync={archive=true,\n"
		     "  xattrs=true, acls=true, checksum=true, compress=true, bwlimit='2m',\n"
		     "  timeout=30, binary='/usr/local/bin/rsync'}}\n",
		     "compress = yes\nbwlimit = 2048\nrsync_args = --acls --checksum --timeout=30 "
		     "--xattrs\n"
		     "; line 1: rsync.binary = '/usr/local/bin/rsync': lifeboat runs the rsync found "
		     "in PATH");
	expect_lines("sync{default.rsync, source='/a', target='/b', rsync={_extra={'-z',\n"
		     "  '--bwlimit=700', '--delete-after', '-e', 'ssh -p 2200 -i /k -o A=b -4'}}}\n",
		     "compress = yes\nbwlimit = 700\nrsync_args = --delete-after\nssh_port = 2200\n"
		     "ssh_identity = /k\nssh_options = -o A=b -4");
	expect_lines("sync{default.rsync, source='/a', target='/b', rsync={perms=false}}",
		     "; line 1: rsync.perms = false: lifeboat always copies with rsync -aH (links, "
		     "permissions, times, group, owner, devices, hard links)");
}

static void test_ssh_table(void **state)
{
	(void)state;
	expect_lines("sync{default.rsyncssh, source='/a', host='h', targetdir='/b',\n"
		     "  ssh={port=2222, identityFile='/root/.ssh/dr', _extra={'-4'},\n"
		     "       options={StrictHostKeyChecking='yes', Compression='no'}}}\n",
		     "ssh_port = 2222\nssh_identity = /root/.ssh/dr\n"
		     "ssh_options = -4 -o Compression=no -o StrictHostKeyChecking=yes");
}

static void test_excludes_filters_delete(void **state)
{
	(void)state;
	expect_lines("sync{default.rsync, source='/a', target='/b', exclude='*.tmp'}",
		     "exclude = *.tmp");
	expect_lines("sync{default.rsync, source='/a', target='/b',\n"
		     "  filter={'+ *.php', '- *', 'P keep'}, delete='startup'}\n",
		     "exclude = + *.php\nexclude = - *\ndelete = startup\n"
		     "; line 1: filter = 'P keep': lifeboat takes '+ PATTERN' and '- PATTERN' rules "
		     "only: write it as one");
	expect_lines("sync{default.rsync, source='/a', target='/b', delete=42}",
		     "; line 1: delete = 42: lifeboat takes true, false, 'startup' or 'running' (as "
		     "lsyncd)");
	expect_lines("sync{default.rsync, source='/a', target='/b', excludeFrom='/etc/ex'}",
		     "exclude_from = /etc/ex");
}

static void test_targets_lifeboat_cannot_reach(void **state)
{
	(void)state;
	expect_lines("sync{default.rsync, source='/a', target='h::module/x'}",
		     "; [sync a]");
	expect_lines("sync{default.rsync, source='/a', target='rsync://h/m'}", "; [sync a]");
	expect_lines("sync{default.direct, source='/a', target='/b'}",
		     "[sync a]\ndelay = 1\n"
		     "; line 1: delay = 1 is lsyncd's default for default.direct (lifeboat's own "
		     "default is 0.2 s)");
}

static void test_settings_forms(void **state)
{
	(void)state;
	expect_lines("settings{logfile='/l.log', 'insist'}\nsettings.statusInterval = 7\n",
		     "[lifeboat]\nlog = /l.log\nstatus_interval = 7");
	expect_lines("settings = { logfile = '/old.log' }\n", "log = /old.log");
	expect_lines("settings{logfile='/l.log'}\n"
		     "sync{default.rsync, source='/a', target=settings('logfile') .. '.d'}\n",
		     "target = /l.log.d");
	expect_lines("settings{logfile='relative.log'}",
		     "; line 1: settings.logfile = 'relative.log': not a value lifeboat takes (an "
		     "absolute path)");
}

static void test_names_are_unique(void **state)
{
	(void)state;
	expect_lines("for _, d in ipairs{'/x/www', '/y/www', '/z/www'} do\n"
		     "  sync{default.rsync, source=d, target=d .. '-dr'}\n"
		     "end\n",
		     "[sync www]\n[sync www-2]\n[sync www-3]\n; line 2: sync{default.rsync}");
}

static void test_errors_are_one_line(void **state)
{
	(void)state;
	expect_error("sync{ default.rsync,\n source = }", "x.lua:2:");
	expect_error("error('a\\nb')", "x.lua:1: a b");
	expect_error("local t = {} t[1] = t sync{t, source='/a', target='/b'}", "nest deeper");
	expect_error("while true do end", "still running after");
	expect_error("for i = 1, 1001 do sync{default.rsync, source='/a' .. i, target='/b' .. i} end",
		     "1001 sync{} calls; an import takes at most 1000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsyncssh_host_and_targetdir),
		cmocka_unit_test(test_rsync_options),
		cmocka_unit_test(test_ssh_table),
		cmocka_unit_test(test_excludes_filters_delete),
		cmocka_unit_test(test_targets_lifeboat_cannot_reach),
		cmocka_unit_test(test_settings_forms),
		cmocka_unit_test(test_names_are_unique),
		cmocka_unit_test(test_errors_are_one_line),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
