/* vip: the floating service address ([failover] vip, vip_dev) on this
 * machine: added with ip(8) and announced with a gratuitous ARP (arping -U)
 * so neighbours update their caches at once, or removed. Idempotent: an
 * address already there is not added twice. Owns nothing. */
#ifndef LIFEBOAT_VIP_H
#define LIFEBOAT_VIP_H

#include <stdbool.h>

#include "util.h"

/* argv of each command (for --dry-run and for running). */
void vip_add_argv(struct strv *v, const char *cidr, const char *dev);
void vip_del_argv(struct strv *v, const char *cidr, const char *dev);
void vip_arp_argv(struct strv *v, const char *cidr, const char *dev);

/* 1 held on dev, 0 not, -1 error (*err). */
int vip_held(const char *cidr, const char *dev, char **err);
/* Add (unless held) and announce. 0 or -1 with *err; *note says what was done. */
int vip_take(const char *cidr, const char *dev, char **note, char **err);
/* Remove when held. 0 or -1 with *err. */
int vip_release(const char *cidr, const char *dev, char **note, char **err);

#endif
