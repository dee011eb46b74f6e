/* lifeboat check [--json]: the readiness doctor. Runs every rule (check.h)
 * against the configuration, the database pair, the sync targets and this
 * machine; prints PASS / WARN / FAIL / SKIP with a one-line fix, or a JSON
 * array on stdout. Exit 3 on any FAIL. Reads only: changes nothing (the
 * disk probe's small temporary file never outlives it). */
#include "check.h"
#include "check_disk.h"
#include "commands.h"
#include "log.h"
#include "usage.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* `check --disk-probe PATH [--json]`: measure one file system here and
 * print the figures; what check_disk runs on a remote DR node. Needs no
 * configuration. */
static int disk_probe_only(const char *path, bool json)
{
	struct disk_probe p;
	char *why = NULL;
	int rc = disk_probe_run(path, &p, &why);
	if (rc == 0) {
		char *out = json ? disk_probe_json(&p)
				 : xasprintf("%s (%s%s): %.0f random 4 KiB reads/s, %.1f MB/s "
					     "sequential writes (%llu MiB file, %.2f s)\n",
					     p.path, p.fs_type, p.direct ? ", O_DIRECT" : ", buffered",
					     p.read_iops, p.write_mb_s, p.file_bytes >> 20, p.seconds);
		fputs(out, stdout);
		free(out);
	} else {
		log_error("disk probe: %s", why);
	}
	free(why);
	disk_probe_free(&p);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

int cmd_check(const struct cli *cli, int argc, char **argv)
{
	struct usage_args a;
	int rc = usage_parse("check", argc, argv, &a);
	if (rc)
		return rc;
	rc = usage_no_words(&a);
	bool json = usage_has(&a, "--json");
	const char *probe = usage_value(&a, "--disk-probe");
	usage_args_free(&a);
	if (rc)
		return rc;
	if (probe)
		return disk_probe_only(probe, json);
	struct config cfg;
	rc = cli_load_config(cli, &cfg);
	if (rc)
		return rc;
	struct check_report r;
	check_report_init(&r);
	check_db(&cfg, &r);
	check_sync(&cfg, &r);
	check_cluster(&cfg, &r);
	check_residency(&cfg, &r);
	check_disk(&cfg, &r);
	char *out = json ? check_render_json(&r)
			 : check_render_text(&r, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	fputs(out, stdout);
	fflush(stdout);
	free(out);
	rc = check_failed(&r) ? EXIT_CHECK_FAILED : EXIT_OK;
	check_report_free(&r);
	config_free(&cfg);
	return rc;
}
