/* libFuzzer target for the configuration parser: any byte string must either
 * load or be refused with one line naming the file, never crash, leak or
 * hang. A loaded file also goes through config_check_sync(), which only
 * stat()s and access()es the paths it names. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal is one line that starts with the file name. */
static void check_message(const char *err)
{
	if (!err || strncmp(err, NAME ":", strlen(NAME ":")) != 0 || strchr(err, '\n')) {
		fprintf(stderr, "bad error message: %s\n", err ? err : "(null)");
		abort();
	}
}

/* What config_load_text() promises about a configuration it accepted. */
static void check_loaded(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_syncs; i++) {
		const struct sync_conf *s = &cfg->syncs[i];
		if (!s->name || !s->source || s->source[0] != '/' || !s->target ||
		    !s->target_path || s->target_path[0] != '/' || s->source_line <= 0 ||
		    s->target_line <= 0 || (s->target_host && !s->target_host[0]))
			abort();
		if ((int)s->delete_mode < DELETE_YES || (int)s->delete_mode > DELETE_RUNNING)
			abort();
	}
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (!cfg->nodes[i].name || cfg->nodes[i].line <= 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *err = NULL;
	if (config_load_text(NAME, (const char *)data, size, &cfg, &err) < 0) {
		check_message(err);
		free(err);
		return 0;
	}
	if (err)
		abort(); /* success must not leave a message behind */
	check_loaded(&cfg);
	if (config_check_sync(&cfg, &err) < 0) {
		check_message(err);
		free(err);
	}
	config_free(&cfg);
	return 0;
}
