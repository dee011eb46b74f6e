/* lifeboat serve: what a peer's ssh key runs on this node. The request is
 * ssh's original command when the key forces `lifeboat serve`, else this
 * command's own arguments; the configuration is always this node's. */
#include "commands.h"
#include "log.h"
#include "serve.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: lifeboat serve [REQUEST...]\n"
	"  What a peer's key runs here: in ~/.ssh/authorized_keys,\n"
	"    restrict,command=\"lifeboat serve\" ssh-ed25519 AAAA... lifeboat@PEER\n"
	"  It answers the peer's syncs (rsync, the tar stream, renames, directory\n"
	"  times), epoch reads, step-down, status, versions and restore reads, writes\n"
	"  only inside the trees this node's configuration gives the peer, and\n"
	"  refuses everything else.\n";

static char *self_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return xstrdup("lifeboat");
	buf[n] = '\0';
	return xstrdup(buf);
}

int cmd_serve(const struct cli *cli, int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	struct strv words;
	strv_init(&words);
	const char *forced = getenv("SSH_ORIGINAL_COMMAND");
	if (forced) {
		char *err = NULL;
		if (serve_split(forced, &words, &err) < 0) {
			log_error("serve: %s", err);
			free(err);
			strv_free(&words);
			return SERVE_REFUSED;
		}
	} else {
		for (int i = 1; i < argc; i++)
			strv_push(&words, argv[i]);
	}
	struct config cfg;
	int rc = cli_load_config(cli, &cfg);
	if (rc != EXIT_OK) {
		strv_free(&words);
		return rc;
	}
	char *self = self_path();
	rc = serve_run(&cfg, self, &words);
	free(self);
	config_free(&cfg);
	strv_free(&words);
	return rc;
}
