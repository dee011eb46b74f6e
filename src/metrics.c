#include "metrics.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX 4096
#define CLIENT_TIMEOUT_MS 2000
#define MAX_CLIENTS 16

struct client {
	struct metrics *m;
	int fd;
	char req[REQUEST_MAX + 1];
	size_t len;
	uint64_t timer;
	struct client *next;
};

struct metrics {
	struct loop *loop;
	int fd;
	metrics_render_fn render;
	void *arg;
	metrics_health_fn health;
	void *health_arg;
	struct client *clients;
	int n_clients;
};

static void client_close(struct client *c)
{
	struct metrics *m = c->m;
	for (struct client **pp = &m->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	m->n_clients--;
	loop_cancel_timer(m->loop, c->timer);
	loop_del_fd(m->loop, c->fd);
	close(c->fd);
	free(c);
}

static void respond(struct client *c, const char *status, const char *body)
{
	struct buf b;
	buf_init(&b);
	buf_addf(&b,
		 "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		 status, strlen(body), body);
	/* Small answers fit the socket buffer; a client that does not read
	 * them is not worth blocking for. */
	if (send(c->fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("metrics: send: %s", strerror(errno));
	buf_free(&b);
	client_close(c);
}

static void handle_request(struct client *c)
{
	if (strncmp(c->req, "GET ", 4) != 0 && strncmp(c->req, "HEAD ", 5) != 0) {
		respond(c, "405 Method Not Allowed", "only GET /metrics\n");
		return;
	}
	const char *path = strchr(c->req, ' ') + 1;
	int code = c->m->health ? c->m->health(path, c->m->health_arg) : 0;
	if (code) {
		respond(c, code == 200 ? "200 OK" : "503 Service Unavailable",
			code == 200 ? "yes\n" : "no\n");
		return;
	}
	if (strncmp(path, "/metrics ", 9) != 0 && strncmp(path, "/metrics?", 9) != 0 &&
	    strncmp(path, "/ ", 2) != 0) {
		respond(c, "404 Not Found", "see /metrics\n");
		return;
	}
	char *body = c->m->render(c->m->arg);
	respond(c, "200 OK", body);
	free(body);
}

static void on_client(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)loop;
	(void)events;
	struct client *c = arg;
	ssize_t n = recv(fd, c->req + c->len, REQUEST_MAX - c->len, MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		handle_request(c);
	else if (c->len >= REQUEST_MAX)
		respond(c, "431 Request Header Fields Too Large", "too large\n");
}

static void on_client_timeout(struct loop *loop, void *arg)
{
	(void)loop;
	struct client *c = arg;
	c->timer = 0;
	client_close(c);
}

static void on_accept(struct loop *loop, int fd, uint32_t events, void *arg)
{
	(void)events;
	struct metrics *m = arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		if (m->n_clients >= MAX_CLIENTS) {
			close(cfd); /* a scraper needs one; a flood gets none */
			continue;
		}
		struct client *c = xcalloc(1, sizeof(*c));
		c->m = m;
		c->fd = cfd;
		c->next = m->clients;
		m->clients = c;
		m->n_clients++;
		loop_add_fd(loop, cfd, EPOLLIN, on_client, c);
		c->timer = loop_add_timer(loop, CLIENT_TIMEOUT_MS, on_client_timeout, c);
	}
}

static int open_listener(const char *listen_on, char **err)
{
	const char *colon = strrchr(listen_on, ':');
	if (!colon || colon == listen_on || !colon[1]) {
		*err = xasprintf("metrics_listen '%s' must be ADDR:PORT", listen_on);
		return -1;
	}
	char *host = xstrndup(listen_on, (size_t)(colon - listen_on));
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	free(host);
	if (rc != 0) {
		*err = xasprintf("metrics_listen '%s': %s", listen_on, gai_strerror(rc));
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		*err = xasprintf("metrics_listen '%s': %s", listen_on, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct metrics *metrics_new(struct loop *loop, const char *listen_on, metrics_render_fn render,
			    void *arg, char **err)
{
	int fd = open_listener(listen_on, err);
	if (fd < 0)
		return NULL;
	struct metrics *m = xcalloc(1, sizeof(*m));
	m->loop = loop;
	m->fd = fd;
	m->render = render;
	m->arg = arg;
	loop_add_fd(loop, fd, EPOLLIN, on_accept, m);
	return m;
}

void metrics_set_health(struct metrics *m, metrics_health_fn fn, void *arg)
{
	m->health = fn;
	m->health_arg = arg;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	while (m->clients)
		client_close(m->clients);
	loop_del_fd(m->loop, m->fd);
	close(m->fd);
	free(m);
}
