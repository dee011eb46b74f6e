/* vip: see vip.h. The address is compared without its prefix length: the
 * question is whether this host answers for it, not how it was added. */
#include "vip.h"
#include "child.h"

#include <stdlib.h>
#include <string.h>

#define VIP_TIMEOUT_MS 10000
#define ARP_WAIT_MS 250

static char *addr_only(const char *cidr)
{
	const char *slash = strchr(cidr, '/');
	return slash ? xstrndup(cidr, (size_t)(slash - cidr)) : xstrdup(cidr);
}

void vip_add_argv(struct strv *v, const char *cidr, const char *dev)
{
	strv_push(v, "ip");
	strv_push(v, "addr");
	strv_push(v, "add");
	strv_push(v, cidr);
	strv_push(v, "dev");
	strv_push(v, dev);
}

void vip_del_argv(struct strv *v, const char *cidr, const char *dev)
{
	vip_add_argv(v, cidr, dev);
	free(v->items[2]);
	v->items[2] = xstrdup("del");
}

void vip_arp_argv(struct strv *v, const char *cidr, const char *dev)
{
	char *a = addr_only(cidr);
	strv_push_split(v, "arping -q -U -c 1 -I");
	strv_push(v, dev);
	strv_push(v, a);
	free(a);
}

/* Run argv; 0 or -1 with *err naming the command and its stderr. */
static int run(struct strv *v, char **err)
{
	struct run_result r;
	int code = child_run(v->items, NULL, 0, VIP_TIMEOUT_MS, &r);
	int rc = 0;
	if (code != 0) {
		*err = xasprintf("'%s %s %s' failed (exit %d): %s", v->items[0], v->items[1],
				 v->items[2], code, r.err_tail[0] ? r.err_tail : "no message");
		rc = -1;
	}
	run_result_free(&r);
	return rc;
}

int vip_held(const char *cidr, const char *dev, char **err)
{
	char *argv[] = {"ip", "-o", "addr", "show", "dev", (char *)dev, NULL};
	struct run_result r;
	int code = child_run(argv, NULL, 0, VIP_TIMEOUT_MS, &r);
	int held = -1;
	if (code != 0) {
		*err = xasprintf("'ip addr show dev %s' failed (exit %d): %s; check vip_dev", dev,
				 code, r.err_tail[0] ? r.err_tail : "no message");
	} else {
		char *a = addr_only(cidr);
		char *needle = xasprintf(" %s/", a);
		held = strstr(r.out.data ? r.out.data : "", needle) != NULL;
		free(needle);
		free(a);
	}
	run_result_free(&r);
	return held;
}

int vip_take(const char *cidr, const char *dev, char **note, char **err)
{
	int held = vip_held(cidr, dev, err);
	if (held < 0)
		return -1;
	struct strv v;
	strv_init(&v);
	if (!held) {
		vip_add_argv(&v, cidr, dev);
		int rc = run(&v, err);
		strv_free(&v);
		if (rc < 0)
			return -1;
		strv_init(&v);
	}
	/* The announcement is what moves the traffic; a failure leaves the
	 * address working once caches expire, so it is a note, not an error. */
	vip_arp_argv(&v, cidr, dev);
	char *e = NULL;
	/* arping sends at once, then waits a second for replies an unsolicited
	 * ARP never gets: stop waiting after ARP_WAIT_MS. */
	struct run_result r;
	int code = child_run(v.items, NULL, 0, ARP_WAIT_MS, &r);
	int arp = code != 0 && !r.timed_out;
	if (arp)
		e = xasprintf("gratuitous ARP failed (exit %d): %s", code, r.err_tail);
	run_result_free(&r);
	strv_free(&v);
	*note = xasprintf("%s %s on %s; %s", held ? "already held" : "added", cidr, dev,
			  arp ? e : "gratuitous ARP sent");
	free(e);
	return 0;
}

int vip_release(const char *cidr, const char *dev, char **note, char **err)
{
	int held = vip_held(cidr, dev, err);
	if (held <= 0) {
		if (held == 0)
			*note = xasprintf("%s not held on %s", cidr, dev);
		return held;
	}
	struct strv v;
	strv_init(&v);
	vip_del_argv(&v, cidr, dev);
	int rc = run(&v, err);
	strv_free(&v);
	if (!rc)
		*note = xasprintf("removed %s from %s", cidr, dev);
	return rc;
}
