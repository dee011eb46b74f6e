/* metrics: the Prometheus endpoint of the sync daemon (metrics_listen =
 * ADDR:PORT). Owns the listening socket and its short-lived client
 * connections; the figures come from status_render_metrics(). Plain HTTP/1.0
 * style: one request, one answer, close. Never blocks the loop. */
#ifndef LIFEBOAT_METRICS_H
#define LIFEBOAT_METRICS_H

struct loop;
struct metrics;

/* Renders the metrics text; the caller of metrics_new supplies it. The
 * returned string is freed by the server. */
typedef char *(*metrics_render_fn)(void *arg);

/* listen: "ADDR:PORT" (IPv4 or a host name resolving to one). Returns NULL
 * with *err (caller frees) when the address is bad or taken. */
struct metrics *metrics_new(struct loop *loop, const char *listen, metrics_render_fn render,
			    void *arg, char **err);
void metrics_free(struct metrics *m);

/* Health answers for load balancers ([cluster]: GET /primary, /standby):
 * fn returns the HTTP status (200, 503) for a path, or 0 for a path it does
 * not answer. */
typedef int (*metrics_health_fn)(const char *path, void *arg);
void metrics_set_health(struct metrics *m, metrics_health_fn fn, void *arg);

#endif
