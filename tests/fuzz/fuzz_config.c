/* libFuzzer target for the configuration parser: any byte string must either
 * load or be refused with one line naming the file, never crash, leak or
 * hang. A loaded file also goes through config_check_sync(), which only
 * stat()s and access()es the paths it names. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bad_message(const char *err)
{
	fprintf(stderr, "bad error message: %s\n", err ? err : "(null)");
	abort();
}

/* A refusal is one line "fuzz.conf:LINE: ..." with LINE in the input, or,
 * for the one whole-file complaint, "fuzz.conf: no [sync NAME] section...". */
static void check_message(const char *err, const uint8_t *data, size_t size)
{
	const size_t prefix = strlen(NAME ":");
	if (!err || strncmp(err, NAME ":", prefix) != 0 || strchr(err, '\n'))
		bad_message(err);
	const char *p = err + prefix;
	if (strncmp(p, " no [sync NAME] section", 23) == 0)
		return;
	char *end;
	long line = strtol(p, &end, 10);
	long lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (end == p || strncmp(end, ": ", 2) != 0 || line < 1 || line > lines)
		bad_message(err);
}

/* An absolute path as the config hands it out: no "//", no trailing '/'. */
static bool clean_absolute(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	return n > 0 && p[0] == '/' && !strstr(p, "//") && (n == 1 || p[n - 1] != '/');
}

/* What config_load_text() promises about a configuration it accepted. */
static void check_loaded(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		if (!s->name || !clean_absolute(s->source) || !s->target ||
		    !clean_absolute(s->target_path) || s->source_line <= 0 || s->target_line <= 0)
			abort();
		if (s->target_host && (!s->target_host[0] || s->target_host[0] == '-'))
			abort(); /* would be read as an rsync/ssh option */
		if ((int)s->delete_mode < DELETE_YES || (int)s->delete_mode > DELETE_RUNNING)
			abort();
	}
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (!cfg->nodes[i].name || cfg->nodes[i].line <= 0 || cfg->nodes[i].name[0] == '-')
			abort();
	if (!clean_absolute(cfg->state_dir))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *err = NULL;
	if (config_load_text(NAME, (const char *)data, size, &cfg, &err) < 0) {
		check_message(err, data, size);
		free(err);
		return 0;
	}
	if (err)
		abort(); /* success must not leave a message behind */
	check_loaded(&cfg);
	if (config_check_sync(&cfg, &err) < 0) {
		check_message(err, data, size);
		free(err);
	}
	config_free(&cfg);
	return 0;
}
