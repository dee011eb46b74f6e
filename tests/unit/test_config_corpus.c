/* Replays the fuzzer's seed corpus and every crash it ever found
 * (tests/fuzz/corpus/, tests/fuzz/crashes/) through the fuzz target itself,
 * so `make check` holds the parser to what the fuzzer checks (load or refuse
 * with one "FILE:LINE" line; no crash, leak or UB under ASan/UBSan) without
 * needing clang. Each file is also replayed cut after every line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "util.h"

#include "../fuzz/fuzz_config.c"

/* Unit tests link every object but main.o, which defines this; a weak
 * stand-in lets them link, and yields to the real one wherever it moves. */
__attribute__((weak)) int cli_load_config(const struct cli *cli, struct config *cfg)
{
	(void)cli;
	(void)cfg;
	return EXIT_USAGE;
}

static void replay(const char *path)
{
	size_t len;
	char *data = read_file(path, &len);
	if (!data)
		fail_msg("cannot read %s", path);
	fprintf(stderr, "replay %s\n", path);
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n')
			LLVMFuzzerTestOneInput((const uint8_t *)data, i);
	free(data);
}

/* Replays every file of DIR (under the source tree); returns how many. */
static int replay_dir(const char *dir)
{
	const char *root = getenv("LIFEBOAT_ROOT");
	char *full = xasprintf("%s/tests/fuzz/%s", root && *root ? root : ".", dir);
	struct dirent **names;
	int n = scandir(full, &names, NULL, alphasort);
	if (n < 0)
		fail_msg("cannot list %s", full);
	int replayed = 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (name[0] != '.' && strncmp(name, "README", 6) != 0) {
			char *path = xasprintf("%s/%s", full, name);
			replay(path);
			free(path);
			replayed++;
		}
		free(names[i]);
	}
	free(names);
	free(full);
	return replayed;
}

static void test_seed_corpus(void **state)
{
	(void)state;
	assert_true(replay_dir("corpus") >= 5);
}

static void test_crash_reproducers(void **state)
{
	(void)state;
	assert_true(replay_dir("crashes") >= 0);
}

/* The corpus is valid configurations: they must load (a corpus of refused
 * files would fuzz only the first lines of the parser). */
static void test_seeds_load(void **state)
{
	(void)state;
	const char *root = getenv("LIFEBOAT_ROOT");
	const char *seeds[] = {"spec-full.conf", "sync-only.conf", "two-syncs-nodes.conf",
			       "bom-crlf-unnamed.conf", "db-failover.conf"};
	for (size_t i = 0; i < ARRAY_LEN(seeds); i++) {
		char *path = xasprintf("%s/tests/fuzz/corpus/%s", root && *root ? root : ".",
				       seeds[i]);
		struct config cfg;
		char *err = NULL;
		if (config_load(path, &cfg, &err) != 0)
			fail_msg("seed refused: %s", err);
		config_free(&cfg);
		free(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_corpus),
		cmocka_unit_test(test_crash_reproducers),
		cmocka_unit_test(test_seeds_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
