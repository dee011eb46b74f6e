#include "db.h"
#include "result.h"
#include "privileges.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const struct db_flavor db_flavor_mariadb = {
	.name = "mariadb",
	.show_replica_status = "SHOW SLAVE STATUS",
	.start_replica = "START SLAVE",
	.stop_replica = "STOP SLAVE",
	.stop_io_thread = "STOP SLAVE IO_THREAD",
	.reset_replica_all = "RESET SLAVE ALL",
	.change_source = "CHANGE MASTER TO",
	.col_io_running = "Slave_IO_Running",
	.col_sql_running = "Slave_SQL_Running",
	.col_io_errno = "Last_IO_Errno",
	.col_io_error = "Last_IO_Error",
	.col_sql_errno = "Last_SQL_Errno",
	.col_sql_error = "Last_SQL_Error",
	.col_seconds_behind = "Seconds_Behind_Master",
	.col_source_host = "Master_Host",
	.col_source_port = "Master_Port",
	.gtid_domain_style = true,
};

/* MySQL 8.0.22+: same steps, other words. GTID sets are UUID:ranges there,
 * which the errant check does not parse yet, so rejoin refuses on MySQL. */
const struct db_flavor db_flavor_mysql8 = {
	.name = "mysql",
	.show_replica_status = "SHOW REPLICA STATUS",
	.start_replica = "START REPLICA",
	.stop_replica = "STOP REPLICA",
	.stop_io_thread = "STOP REPLICA IO_THREAD",
	.reset_replica_all = "RESET REPLICA ALL",
	.change_source = "CHANGE REPLICATION SOURCE TO",
	.col_io_running = "Replica_IO_Running",
	.col_sql_running = "Replica_SQL_Running",
	.col_io_errno = "Last_IO_Errno",
	.col_io_error = "Last_IO_Error",
	.col_sql_errno = "Last_SQL_Errno",
	.col_sql_error = "Last_SQL_Error",
	.col_seconds_behind = "Seconds_Behind_Source",
	.col_source_host = "Source_Host",
	.col_source_port = "Source_Port",
	.gtid_domain_style = false,
};

int db_server_resolve(const struct config *cfg, const char *role, const char *value,
		      struct db_server *out, char **err)
{
	memset(out, 0, sizeof(*out));
	out->role = xstrdup(role);
	out->config_key_where = xasprintf("%s:%d", cfg->path, cfg->db.line);
	if (!value || !*value) {
		*err = xasprintf("%s: [database] needs '%s = NODE, HOST or HOST:PORT'",
				 out->config_key_where, role);
		return LB_USAGE;
	}
	const char *addr = value;
	const struct node_conf *node = config_find_node(cfg, value);
	if (node) {
		out->node = xstrdup(node->name);
		if (!node->address) {
			*err = xasprintf("%s:%d: [node %s] needs an address (it is the database %s)",
					 cfg->path, node->line, node->name, role);
			return LB_USAGE;
		}
		addr = node->address;
	}
	long port = cfg->db.port;
	const char *colon = strrchr(addr, ':');
	if (colon && addr[0] != '[' && strchr(addr, ':') != colon)
		colon = NULL; /* a bare IPv6 address */
	if (colon) {
		if (!parse_long(colon + 1, 1, 65535, &port)) {
			*err = xasprintf("%s: [database] %s: bad port in '%s'", out->config_key_where,
					 role, addr);
			return LB_USAGE;
		}
		out->host = xstrndup(addr, (size_t)(colon - addr));
	} else {
		out->host = xstrdup(addr);
	}
	if (out->host[0] == '[') { /* [v6]:port */
		size_t l = strlen(out->host);
		char *h = xstrndup(out->host + 1, l > 2 ? l - 2 : 0);
		free(out->host);
		out->host = h;
	}
	out->port = (unsigned)port;
	if (strcmp(out->host, "localhost") == 0 && cfg->db.socket)
		out->socket = xstrdup(cfg->db.socket);
	return LB_OK;
}

void db_server_free(struct db_server *s)
{
	free(s->role);
	free(s->node);
	free(s->host);
	free(s->socket);
	free(s->config_key_where);
	memset(s, 0, sizeof(*s));
}

int db_read_password(const char *path, const char *key, char **out, char **err)
{
	*out = NULL;
	if (!path) {
		*err = xasprintf("[database] needs '%s' (a file holding the password, mode 0600)", key);
		return LB_USAGE;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = xasprintf("cannot read %s = %s: %s", key, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return LB_USAGE;
	}
	close(fd);
	if (st.st_mode & 077) {
		*err = xasprintf("password file %s is readable by other users (mode %04o): run "
				 "'chmod 600 %s'",
				 path, (unsigned)(st.st_mode & 07777), path);
		return LB_USAGE;
	}
	size_t len;
	char *text = read_file(path, &len);
	if (!text) {
		*err = xasprintf("cannot read %s = %s: %s", key, path, strerror(errno));
		return LB_USAGE;
	}
	text[strcspn(text, "\r\n")] = '\0';
	if (!*text) {
		*err = xasprintf("password file %s is empty", path);
		free(text);
		return LB_USAGE;
	}
	*out = text;
	return LB_OK;
}

static char *server_name(const struct db_server *s)
{
	if (s->node)
		return xasprintf("%s %s (%s:%u)", s->role, s->node, s->host, s->port);
	return xasprintf("%s %s:%u", s->role, s->host, s->port);
}

int db_connect(struct db_conn *c, const struct db_server *s, const char *user,
	       const char *password, char **err)
{
	memset(c, 0, sizeof(*c));
	c->server = s;
	c->name = server_name(s);
	c->user = xstrdup(user);
	c->my = mysql_init(NULL);
	if (!c->my) {
		*err = xstrdup("out of memory in mysql_init");
		return LB_FAILED;
	}
	unsigned timeout = s->connect_timeout ? s->connect_timeout : 5;
	mysql_optionsv(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (s->connect_timeout) {
		/* A caller in a hurry (heartbeat in an event loop, the promote
		 * guard) must not hang on a server that accepts and then stalls. */
		unsigned io = s->connect_timeout * 2;
		mysql_optionsv(c->my, MYSQL_OPT_READ_TIMEOUT, &io);
		mysql_optionsv(c->my, MYSQL_OPT_WRITE_TIMEOUT, &io);
	}
	if (!s->socket) {
		enum mysql_protocol_type tcp = MYSQL_PROTOCOL_TCP;
		mysql_optionsv(c->my, MYSQL_OPT_PROTOCOL, &tcp);
	}
	if (!mysql_real_connect(c->my, s->socket ? NULL : s->host, user, password, NULL, s->port,
				s->socket, 0)) {
		unsigned e = mysql_errno(c->my);
		if (e == ER_ACCESS_DENIED_ERROR || e == ER_DBACCESS_DENIED_ERROR) {
			*err = xasprintf("%s: access denied for user '%s' (%s): check the password "
					 "file and the account",
					 c->name, user, mysql_error(c->my));
			return LB_USAGE;
		}
		if (e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
		    e == CR_SERVER_LOST || e == CR_UNKNOWN_HOST || e == CR_SERVER_GONE_ERROR)
			*err = xasprintf("%s is not reachable (%s): start the server or fix "
					 "[database] %s in %s",
					 c->name, mysql_error(c->my), s->role, s->config_key_where);
		else
			*err = xasprintf("%s: cannot connect: %s", c->name, mysql_error(c->my));
		return LB_FAILED;
	}
	const char *info = mysql_get_server_info(c->my);
	c->flavor = (info && strstr(info, "MariaDB")) ? &db_flavor_mariadb : &db_flavor_mysql8;
	return LB_OK;
}

void db_close(struct db_conn *c)
{
	if (c->my)
		mysql_close(c->my);
	free(c->name);
	free(c->user);
	memset(c, 0, sizeof(*c));
}

unsigned db_errno(const struct db_conn *c)
{
	return c->my ? mysql_errno(c->my) : 0;
}

/* One message per failure kind, each saying what to do. */
static int fail(struct db_conn *c, const char *sql, char **err)
{
	unsigned e = mysql_errno(c->my);
	const char *msg = mysql_error(c->my);
	switch (e) {
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_ACCESS_DENIED_ERROR:
	case ER_KILL_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR: {
		char *fix = priv_grant_sql(c->command, false, c->user ? c->user : "lifeboat");
		*err = xasprintf("%s: missing privilege for '%.60s' (%s): run %s", c->name, sql, msg,
				 fix);
		free(fix);
		return LB_FAILED;
	}
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
		*err = xasprintf("%s: connection lost during '%.60s' (%s): is the server "
				 "running? nothing after this step was done",
				 c->name, sql, msg);
		return LB_FAILED;
	default:
		*err = xasprintf("%s: '%.80s' failed: %s (error %u)", c->name, sql, msg, e);
		return LB_FAILED;
	}
}

int db_exec(struct db_conn *c, const char *sql, char **err)
{
	if (mysql_real_query(c->my, sql, strlen(sql)) != 0)
		return fail(c, sql, err);
	/* Drain a result a statement may return so the connection stays usable. */
	MYSQL_RES *res = mysql_store_result(c->my);
	if (res)
		mysql_free_result(res);
	else if (mysql_field_count(c->my) != 0)
		return fail(c, sql, err);
	return LB_OK;
}

int db_execf(struct db_conn *c, char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = NULL;
	if (vasprintf(&sql, fmt, ap) < 0) {
		va_end(ap);
		*err = xstrdup("out of memory");
		return LB_FAILED;
	}
	va_end(ap);
	int rc = db_exec(c, sql, err);
	free(sql);
	return rc;
}

static void row_fill(struct db_row *row, MYSQL_RES *res, MYSQL_ROW r)
{
	unsigned n = mysql_num_fields(res);
	MYSQL_FIELD *f = mysql_fetch_fields(res);
	unsigned long *lens = mysql_fetch_lengths(res);
	row->n = n;
	row->names = xcalloc(n + 1, sizeof(char *));
	row->values = xcalloc(n + 1, sizeof(char *));
	for (unsigned i = 0; i < n; i++) {
		row->names[i] = xstrdup(f[i].name);
		row->values[i] = r[i] ? xstrndup(r[i], lens[i]) : NULL;
	}
}

int db_rows(struct db_conn *c, const char *sql, struct db_row **rows, size_t *n, char **err)
{
	*rows = NULL;
	*n = 0;
	if (mysql_real_query(c->my, sql, strlen(sql)) != 0)
		return fail(c, sql, err);
	MYSQL_RES *res = mysql_store_result(c->my);
	if (!res) {
		if (mysql_field_count(c->my) != 0)
			return fail(c, sql, err);
		return LB_OK;
	}
	MYSQL_ROW r;
	while ((r = mysql_fetch_row(res))) {
		*rows = xrealloc(*rows, (*n + 1) * sizeof(**rows));
		row_fill(&(*rows)[*n], res, r);
		(*n)++;
	}
	mysql_free_result(res);
	return LB_OK;
}

int db_row(struct db_conn *c, const char *sql, struct db_row *row, bool *found, char **err)
{
	memset(row, 0, sizeof(*row));
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c, sql, &rows, &n, err);
	*found = false;
	if (rc)
		return rc;
	if (n > 0) {
		*row = rows[0];
		*found = true;
		for (size_t i = 1; i < n; i++)
			db_row_free(&rows[i]);
	}
	free(rows);
	return LB_OK;
}

int db_value(struct db_conn *c, const char *sql, char **out, char **err)
{
	*out = NULL;
	struct db_row row;
	bool found;
	int rc = db_row(c, sql, &row, &found, err);
	if (rc || !found)
		return rc;
	if (row.n > 0 && row.values[0])
		*out = xstrdup(row.values[0]);
	db_row_free(&row);
	return LB_OK;
}

int db_long(struct db_conn *c, const char *sql, long long *out, char **err)
{
	char *v;
	int rc = db_value(c, sql, &v, err);
	if (rc)
		return rc;
	char *end = NULL;
	*out = v ? strtoll(v, &end, 10) : 0;
	if (!v || end == v) {
		*err = xasprintf("%s: '%s' returned %s, expected a number", c->name, sql,
				 v ? v : "nothing");
		free(v);
		return LB_FAILED;
	}
	free(v);
	return LB_OK;
}

const char *db_row_get(const struct db_row *row, const char *name)
{
	for (unsigned i = 0; i < row->n; i++)
		if (strcasecmp(row->names[i], name) == 0)
			return row->values[i];
	return NULL;
}

void db_row_free(struct db_row *row)
{
	for (unsigned i = 0; i < row->n; i++) {
		free(row->names[i]);
		free(row->values[i]);
	}
	free(row->names);
	free(row->values);
	memset(row, 0, sizeof(*row));
}

void db_rows_free(struct db_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		db_row_free(&rows[i]);
	free(rows);
}

char *db_quote(struct db_conn *c, const char *s)
{
	size_t len = strlen(s);
	char *out = xmalloc(len * 2 + 3);
	out[0] = '\'';
	unsigned long n = mysql_real_escape_string(c->my, out + 1, s, (unsigned long)len);
	out[n + 1] = '\'';
	out[n + 2] = '\0';
	return out;
}

char *db_quote_ident(const char *s)
{
	struct buf b;
	buf_init(&b);
	buf_addc(&b, '`');
	for (const char *p = s; *p; p++) {
		if (*p == '`')
			buf_addc(&b, '`');
		buf_addc(&b, *p);
	}
	buf_addc(&b, '`');
	return buf_steal(&b);
}

char *db_quote_account(struct db_conn *c, const char *user, const char *host)
{
	char *u = db_quote(c, user), *h = db_quote(c, host);
	char *out = xasprintf("%s@%s", u, h);
	free(u);
	free(h);
	return out;
}

int db_pair_init(struct db_pair *p, const struct config *cfg, bool need_repl, char **err)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	if (!cfg->db.present) {
		*err = xasprintf("%s: no [database] section; the db commands need one", cfg->path);
		return LB_USAGE;
	}
	if (!cfg->db.user) {
		*err = xasprintf("%s:%d: [database] needs 'user'", cfg->path, cfg->db.line);
		return LB_USAGE;
	}
	int rc = db_server_resolve(cfg, "primary", cfg->db.primary, &p->primary, err);
	if (!rc)
		rc = db_server_resolve(cfg, "standby", cfg->db.standby, &p->standby, err);
	if (!rc)
		rc = db_read_password(cfg->db.password_file, "password_file", &p->password, err);
	if (!rc && need_repl)
		rc = db_read_password(cfg->db.replication_password_file,
				      "replication_password_file", &p->repl_password, err);
	if (!rc && strcmp(p->primary.host, p->standby.host) == 0 &&
	    p->primary.port == p->standby.port) {
		*err = xasprintf("%s:%d: [database] primary and standby are the same server %s:%u",
				 cfg->path, cfg->db.line, p->primary.host, p->primary.port);
		rc = LB_USAGE;
	}
	return rc;
}

void db_pair_free(struct db_pair *p)
{
	db_server_free(&p->primary);
	db_server_free(&p->standby);
	free(p->password);
	free(p->repl_password);
	memset(p, 0, sizeof(*p));
}

int db_pair_connect(struct db_pair *p, const struct db_server *s, struct db_conn *c, char **err)
{
	int rc = db_connect(c, s, p->cfg->db.user, p->password, err);
	c->command = p->command;
	return rc;
}

/* Option files quote values; backslash and quote are the special ones. */
static void cnf_value(struct buf *b, const char *key, const char *v)
{
	buf_addf(b, "%s=\"", key);
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '"')
			buf_addc(b, '\\');
		buf_addc(b, *p);
	}
	buf_adds(b, "\"\n");
}

char *db_client_cnf_text(const struct db_server *s, const char *user, const char *password)
{
	struct buf b;
	buf_init(&b);
	/* [client] is read by mariadb, mariadb-dump, mariadb-binlog and
	 * mariadb-backup alike. */
	buf_adds(&b, "[client]\n");
	cnf_value(&b, "user", user);
	cnf_value(&b, "password", password);
	if (s->socket) {
		cnf_value(&b, "socket", s->socket);
	} else {
		cnf_value(&b, "host", s->host);
		buf_addf(&b, "port=%u\nprotocol=tcp\n", s->port);
	}
	return buf_steal(&b);
}

char *db_write_client_cnf(const struct config *cfg, const struct db_server *s, const char *user,
			  const char *password, const char *extra, char **err)
{
	if (mkdir_p(cfg->state_dir, 0700) < 0) {
		*err = xasprintf("cannot create %s: %s", cfg->state_dir, strerror(errno));
		return NULL;
	}
	char *path = xasprintf("%s/.client-XXXXXX", cfg->state_dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		*err = xasprintf("cannot create a temporary file in %s: %s", cfg->state_dir,
				 strerror(errno));
		free(path);
		return NULL;
	}
	struct buf b;
	buf_init(&b);
	char *text = db_client_cnf_text(s, user, password);
	buf_adds(&b, text);
	free(text);
	if (extra)
		buf_adds(&b, extra);
	int rc = write_all(fd, b.data, b.len);
	close(fd);
	buf_free(&b);
	if (rc < 0) {
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}
