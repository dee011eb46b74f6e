/* privileges: the one table of what each lifeboat command needs from the
 * lifeboat account and the replication account. docs/db.md's table is made
 * from it (`lifeboat db privileges --markdown`, compared by a test), check's
 * advice and every "missing privilege" error quote its GRANTs. */
#ifndef LIFEBOAT_PRIVILEGES_H
#define LIFEBOAT_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct db_conn;

/* Which server of the pair a need applies to. */
enum priv_side {
	PRIV_SOURCE = 1, /* the primary, the clone's source */
	PRIV_TARGET = 2, /* the standby, the clone's target, the server promoted */
	PRIV_BOTH = 3,
};

struct priv_need {
	const char *command; /* "status", "promote", ..., "replication" */
	bool replication_account; /* else the lifeboat account */
	enum priv_side side;
	const char *privileges; /* as GRANT spells them, comma-separated */
	const char *on; /* "*.*" or "lifeboat.*" */
	bool grant_option;
	const char *why;
};

extern const struct priv_need priv_table[];
extern const unsigned priv_table_len;

/* The lifeboat account's needs for command on this side, checked against
 * what the connected account holds (information_schema.USER_PRIVILEGES and
 * SCHEMA_PRIVILEGES). 0, or -1 with *err naming the GRANT that fixes it. */
int priv_check(struct db_conn *c, const char *command, enum priv_side side, char **err);

/* The GRANT statements (one per ON clause) that give user what command
 * needs (command NULL: every day-to-day command, the minimal account). */
char *priv_grant_sql(const char *command, bool replication_account, const char *user);

/* Held privileges beyond the day-to-day needs ("SUPER, FILE, ..."), or
 * NULL. *all: the account holds ALL PRIVILEGES. */
char *priv_excess(struct db_conn *c, bool *all, char **err);

/* Privileges from SHOW GRANTS lines that are missing at the global level
 * (ON *.*): a comma-separated list of the names in want that no line grants
 * (ALL PRIVILEGES grants all). NULL when none is missing. Caller frees. */
char *priv_lines_missing(char *const *lines, size_t n, const char *const *want, size_t n_want);

/* docs/db.md's table. */
void priv_markdown(FILE *out);

#endif
