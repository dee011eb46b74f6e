/* hooks: the administrator's programs run around a failover ([failover]
 * pre_hook, post_hook, dns_hook, fence = hook:PATH). A hook value is a path
 * and optional arguments split on blanks; lifeboat appends the phase, the
 * node name and the address the hook is about (new primary for pre/post/dns,
 * the old primary for a fence hook). Run as argv, never through a shell,
 * with a timeout. Owns nothing. */
#ifndef LIFEBOAT_HOOKS_H
#define LIFEBOAT_HOOKS_H

#include "util.h"

#define HOOK_TIMEOUT_MS 60000

/* The argv hook_run would use (for --dry-run). */
void hook_argv(struct strv *v, const char *hook, const char *phase, const char *node,
	       const char *address);
/* 0 when the hook exited 0, else -1 with *err (exit code, stderr tail). */
int hook_run(const char *hook, const char *phase, const char *node, const char *address,
	     char **err);

#endif
