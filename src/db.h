/* db: talking to one MySQL/MariaDB server through Connector/C. Owns the
 * connection (struct db_conn), the statement dialect of each server flavor
 * (MariaDB here; MySQL 8 spells replication statements differently), the
 * reading of password files and the translation of server errors into one
 * line that says what to do. Every function returns a result (result.h:
 * LB_OK, LB_FAILED, LB_USAGE) and on failure sets *err, a malloc'd
 * message the caller reports once. */
#ifndef LIFEBOAT_DB_H
#define LIFEBOAT_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "result.h"

struct st_mysql;

/* Replication statements and SHOW ... STATUS column names per flavor. */
struct db_flavor {
	const char *name;
	const char *show_replica_status;
	const char *start_replica;
	const char *stop_replica;
	const char *stop_io_thread;
	const char *reset_replica_all;
	const char *change_source; /* "CHANGE MASTER TO" */
	const char *col_io_running, *col_sql_running;
	const char *col_io_errno, *col_io_error, *col_sql_errno, *col_sql_error;
	const char *col_seconds_behind, *col_source_host, *col_source_port;
	bool gtid_domain_style; /* MariaDB D-S-N GTIDs (MySQL uses UUID:N sets) */
};

extern const struct db_flavor db_flavor_mariadb;
extern const struct db_flavor db_flavor_mysql8;

/* Where a server is: resolved from a [database] primary/standby value. */
struct db_server {
	char *role; /* "primary" / "standby": how messages name it */
	char *node; /* the [node] name when the value was one, else NULL */
	char *host;
	unsigned port;
	char *socket; /* only for host "localhost" */
	char *config_key_where; /* "FILE:LINE" of [database], for messages */
	unsigned connect_timeout; /* seconds; 0: the default (5) */
};

struct db_conn {
	struct st_mysql *my;
	const struct db_flavor *flavor;
	const struct db_server *server;
	char *name; /* "standby 127.0.0.1:3307" */
	char *user; /* the account logged in */
	const char *command; /* privileges.h command this connection serves, or NULL */
};

/* Resolve NODE | HOST | HOST:PORT. LB_OK or LB_USAGE with *err. */
int db_server_resolve(const struct config *cfg, const char *role, const char *value,
		      struct db_server *out, char **err);
void db_server_free(struct db_server *s);

/* Read the first line of a password file; refuses files other users can
 * read (LB_USAGE). */
int db_read_password(const char *path, const char *key, char **out, char **err);

int db_connect(struct db_conn *c, const struct db_server *s, const char *user,
	       const char *password, char **err);
void db_close(struct db_conn *c);

/* Run a statement that returns no rows. */
int db_exec(struct db_conn *c, const char *sql, char **err);
int db_execf(struct db_conn *c, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* First column of the first row; *out NULL when there is no row or the value
 * is NULL. Caller frees *out. */
int db_value(struct db_conn *c, const char *sql, char **out, char **err);
int db_long(struct db_conn *c, const char *sql, long long *out, char **err);

/* A result row as column name -> value pairs (strings, NULL kept as NULL). */
struct db_row {
	unsigned n;
	char **names;
	char **values;
};
/* First row of sql; *found false when there was none. */
int db_row(struct db_conn *c, const char *sql, struct db_row *row, bool *found, char **err);
/* All rows; caller frees with db_rows_free. */
int db_rows(struct db_conn *c, const char *sql, struct db_row **rows, size_t *n, char **err);
const char *db_row_get(const struct db_row *row, const char *name);
void db_row_free(struct db_row *row);
void db_rows_free(struct db_row *rows, size_t n);

/* Quote a string literal for SQL ('...' with escapes). Caller frees. */
char *db_quote(struct db_conn *c, const char *s);

/* SQL expression: the logged-in account as information_schema spells a
 * GRANTEE ('user'@'host'). */
#define DB_CURRENT_GRANTEE                                                                         \
	"CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "                          \
	"SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')"

/* Quote an identifier (`name`, backticks doubled). Caller frees. */
char *db_quote_ident(const char *s);
/* 'user'@'host' for account statements. Caller frees. */
char *db_quote_account(struct db_conn *c, const char *user, const char *host);

/* The server's error number of the last failed call (0 if none). */
unsigned db_errno(const struct db_conn *c);

/* Credentials for the [database] pair. */
struct db_pair {
	const struct config *cfg;
	struct db_server primary, standby;
	char *password;
	char *repl_password; /* NULL unless requested */
	const char *command; /* privileges.h name for "missing privilege" advice */
};

int db_pair_init(struct db_pair *p, const struct config *cfg, bool need_repl, char **err);
void db_pair_free(struct db_pair *p);
int db_pair_connect(struct db_pair *p, const struct db_server *s, struct db_conn *c, char **err);

/* The [client] option text for s (quoted values). Caller frees. */
char *db_client_cnf_text(const struct db_server *s, const char *user, const char *password);
/* Write a client option file (mode 0600) for the mariadb tools so that no
 * password appears in a process list. group is "client" or "mariadb-backup".
 * Returns the path (caller unlinks and frees) or NULL with *err. */
char *db_write_client_cnf(const struct config *cfg, const struct db_server *s, const char *user,
			  const char *password, const char *extra, char **err);

#endif
