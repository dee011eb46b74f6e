/* notify: the systemd service protocol (sd_notify) without libsystemd:
 * READY=1 once the startup pass is done, WATCHDOG=1 pings, STATUS= lines.
 * Does nothing when not started by systemd ($NOTIFY_SOCKET unset). */
#ifndef LIFEBOAT_NOTIFY_H
#define LIFEBOAT_NOTIFY_H

#include <stdint.h>

/* Send one message ("READY=1", ...). Returns 0, or -1 when not under
 * systemd or the send failed. */
int notify_send(const char *msg);
/* Watchdog interval asked for by systemd (WATCHDOG_USEC), in ms; 0: none. */
int64_t notify_watchdog_ms(void);

#endif
