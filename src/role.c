#include "role.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *role_name(enum node_role r)
{
	return r == ROLE_PRIMARY ? "primary" : "standby";
}

enum node_role role_current(const struct config *cfg)
{
	char *path = xasprintf("%s/role", cfg->state_dir);
	char *text = read_file(path, NULL);
	free(path);
	if (text) {
		bool standby = strncmp(text, "standby", 7) == 0;
		bool primary = strncmp(text, "primary", 7) == 0;
		free(text);
		if (standby || primary)
			return standby ? ROLE_STANDBY : ROLE_PRIMARY;
		log_warn("%s/role holds neither 'primary' nor 'standby'; using the configured role",
			 cfg->state_dir);
	}
	const struct node_conf *me = cfg->node ? config_find_node(cfg, cfg->node) : NULL;
	if (me && me->role && strcmp(me->role, "standby") == 0)
		return ROLE_STANDBY;
	return ROLE_PRIMARY;
}

int role_write(const char *state_dir, enum node_role r, char **err)
{
	if (mkdir_p(state_dir, 0755) < 0) {
		*err = xasprintf("cannot create %s: %s", state_dir, strerror(errno));
		return -1;
	}
	char *path = xasprintf("%s/role", state_dir);
	char *text = xasprintf("%s\n", role_name(r));
	int rc = write_file_atomic(path, text, strlen(text));
	if (rc < 0)
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
	free(text);
	free(path);
	return rc;
}
