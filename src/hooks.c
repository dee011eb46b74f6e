/* hooks: see hooks.h. */
#include "hooks.h"
#include "child.h"

#include <stdlib.h>
#include <string.h>

void hook_argv(struct strv *v, const char *hook, const char *phase, const char *node,
	       const char *address)
{
	strv_push_split(v, hook);
	/* dns_hook's contract (SPEC): node name and address only. */
	if (strcmp(phase, "dns") != 0)
		strv_push(v, phase);
	strv_push(v, node ? node : "");
	strv_push(v, address ? address : "");
}

int hook_run(const char *hook, const char *phase, const char *node, const char *address,
	     char **err)
{
	struct strv v;
	strv_init(&v);
	hook_argv(&v, hook, phase, node, address);
	struct run_result r;
	int code = child_run(v.items, NULL, 0, HOOK_TIMEOUT_MS, &r);
	int rc = 0;
	if (code != 0) {
		*err = xasprintf("%s hook %s %s (exit %d)%s%s", phase, v.items[0],
				 r.timed_out ? "timed out after 60 s" : "failed", code,
				 r.err_tail[0] ? ": " : "", r.err_tail);
		rc = -1;
	}
	run_result_free(&r);
	strv_free(&v);
	return rc;
}
