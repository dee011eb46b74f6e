/* privileges: see privileges.h. Measured on MariaDB 10.11 one privilege at
 * a time (anchors pitfall 4, plus: SET GLOBAL innodb_flush_log_at_trx_commit
 * needs SUPER, SET sql_log_bin needs BINLOG ADMIN, REVOKE/GRANT READ_ONLY
 * ADMIN needs it WITH GRANT OPTION). */
#include "privileges.h"
#include "db.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct priv_need priv_table[] = {
	{"status", false, PRIV_BOTH, "SLAVE MONITOR, BINLOG MONITOR", "*.*", false,
	 "SHOW SLAVE STATUS, binlog positions"},
	{"status", false, PRIV_BOTH, "SELECT", "lifeboat.*", false, "heartbeat row, epochs"},
	{"heartbeat", false, PRIV_BOTH, "SELECT, INSERT, UPDATE, CREATE", "lifeboat.*", false,
	 "the lifeboat schema and its heartbeat row"},
	{"promote", false, PRIV_TARGET,
	 "READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, SLAVE MONITOR, RELOAD, BINLOG ADMIN", "*.*",
	 true,
	 "STOP/START SLAVE, RESET SLAVE ALL, read_only=OFF, the epoch row through read_only, "
	 "giving back READ_ONLY ADMIN a fence took (GRANT OPTION); SUPER as well lets the drain "
	 "relax innodb_flush_log_at_trx_commit"},
	{"promote", false, PRIV_TARGET, "SELECT, INSERT, UPDATE, DELETE, CREATE", "lifeboat.*",
	 false, "the epoch row, the fence's record"},
	{"fence", false, PRIV_BOTH, "READ_ONLY ADMIN, CONNECTION ADMIN, PROCESS, BINLOG ADMIN, SELECT",
	 "*.*", true,
	 "read_only=ON, KILL of other users' sessions, REVOKE READ_ONLY ADMIN from the accounts "
	 "that write through read_only (GRANT OPTION, not binlogged), reading mysql.global_priv"},
	{"fence", false, PRIV_BOTH, "SELECT, INSERT, DELETE, CREATE", "lifeboat.*", false,
	 "the record of what the fence revoked"},
	{"rejoin", false, PRIV_BOTH,
	 "REPLICATION SLAVE ADMIN, SLAVE MONITOR, BINLOG MONITOR, READ_ONLY ADMIN, REPLICATION "
	 "SLAVE, RELOAD, BINLOG ADMIN",
	 "*.*", false,
	 "CHANGE MASTER ... MASTER_DEMOTE_TO_SLAVE, START SLAVE, the errant-transaction extract "
	 "(mariadb-binlog --read-from-remote-server, SHOW BINLOG EVENTS), RESET MASTER and "
	 "gtid_binlog_state when only lifeboat's heartbeat is errant"},
	{"semi_sync", false, PRIV_BOTH, "REPLICATION MASTER ADMIN", "*.*", false,
	 "rpl_semi_sync_* (only with semi_sync = on)"},
	{"drill", false, PRIV_BOTH, "SELECT", "*.*", false,
	 "row counts and CHECKSUM TABLE of every application table"},
	{"clone-dump", false, PRIV_SOURCE,
	 "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, CREATE USER, "
	 "REPLICATION SLAVE",
	 "*.*", true,
	 "mariadb-dump --single-transaction --master-data --routines --events, reading accounts "
	 "and grants, creating the replication account"},
	{"clone-dump", false, PRIV_TARGET, "ALL PRIVILEGES", "*.*", true,
	 "re-creating every application account with its grants (GRANT needs what it gives)"},
	{"clone-backup", false, PRIV_SOURCE,
	 "RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, CREATE USER, REPLICATION "
	 "SLAVE",
	 "*.*", true, "mariadb-backup --backup, creating the replication account"},
	{"clone-backup", false, PRIV_TARGET,
	 "SHUTDOWN, RELOAD, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, SLAVE MONITOR", "*.*", false,
	 "SHUTDOWN of the standby, RESET MASTER, gtid_slave_pos, CHANGE MASTER"},
	{"replication", true, PRIV_SOURCE, "REPLICATION SLAVE", "*.*", false,
	 "the standby's IO thread reads the primary's binlog (created by 'db clone' on the primary, "
	 "so the standby has it too for after a failover)"},
};
const unsigned priv_table_len = ARRAY_LEN(priv_table);

/* Day-to-day commands: what the minimal lifeboat account is made of. */
static const char *const day_to_day[] = {"status", "heartbeat", "promote", "fence",
					 "rejoin", "semi_sync", "drill"};

/* MariaDB 10.11's global privileges: what ALL PRIVILEGES expands to. */
static const char *const all_privileges[] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "RELOAD", "SHUTDOWN", "PROCESS",
	"FILE", "REFERENCES", "INDEX", "ALTER", "SHOW DATABASES", "SUPER",
	"CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE", "REPLICATION SLAVE",
	"BINLOG MONITOR", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE",
	"CREATE USER", "EVENT", "TRIGGER", "CREATE TABLESPACE", "DELETE HISTORY", "SET USER",
	"FEDERATED ADMIN", "CONNECTION ADMIN", "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN",
	"REPLICATION MASTER ADMIN", "BINLOG ADMIN", "BINLOG REPLAY", "SLAVE MONITOR"};

static bool in_day_to_day(const char *command)
{
	for (size_t i = 0; i < ARRAY_LEN(day_to_day); i++)
		if (strcmp(command, day_to_day[i]) == 0)
			return true;
	return false;
}

static bool need_matches(const struct priv_need *n, const char *command, bool repl)
{
	if (n->replication_account != repl)
		return false;
	return command ? strcmp(n->command, command) == 0 : in_day_to_day(n->command);
}

/* "A, B, C" into items of out, skipping ones already there. */
static void add_split(struct strv *out, const char *list)
{
	const char *p = list;
	while (*p) {
		size_t len = strcspn(p, ",");
		char *item = xstrndup(p, len);
		bool dup = false;
		for (size_t i = 0; i < out->len; i++)
			dup = dup || strcmp(out->items[i], item) == 0;
		if (!dup)
			strv_push(out, item);
		free(item);
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
}

static char *join(const struct strv *v)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < v->len; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", v->items[i]);
	return buf_steal(&b);
}

static bool has_item(const struct strv *v, const char *p)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], p) == 0)
			return true;
	return false;
}

/* The GRANTs for the needs selected, one per ON clause. */
static char *grants_for(const char *command, bool repl, enum priv_side side, const char *who)
{
	static const char *const scopes[] = {"*.*", "lifeboat.*"};
	struct buf b;
	buf_init(&b);
	for (size_t s = 0; s < ARRAY_LEN(scopes); s++) {
		struct strv privs;
		strv_init(&privs);
		bool gopt = false;
		for (unsigned i = 0; i < priv_table_len; i++) {
			const struct priv_need *n = &priv_table[i];
			if (!need_matches(n, command, repl) || !(n->side & side) ||
			    strcmp(n->on, scopes[s]) != 0)
				continue;
			add_split(&privs, n->privileges);
			gopt = gopt || n->grant_option;
		}
		if (privs.len) {
			/* ALL PRIVILEGES cannot be listed with others, and has them. */
			char *list = has_item(&privs, "ALL PRIVILEGES") ? xstrdup("ALL PRIVILEGES")
								      : join(&privs);
			buf_addf(&b, "%sGRANT %s ON %s TO %s%s;", b.len ? " " : "", list, scopes[s],
				 who, gopt ? " WITH GRANT OPTION" : "");
			free(list);
		}
		strv_free(&privs);
	}
	return buf_steal(&b);
}

char *priv_grant_sql(const char *command, bool replication_account, const char *user)
{
	char *who = xasprintf("'%s'@'%%'", user);
	char *s = grants_for(command, replication_account, PRIV_BOTH, who);
	free(who);
	return s;
}

/* The privilege list of one "GRANT a, b, c ON scope TO ..." line (scope
 * as SHOW GRANTS spells it: "*.*", "`lifeboat`.*"), or NULL. */
static char *scope_privileges(const char *line, const char *scope)
{
	if (strncasecmp(line, "GRANT ", 6) != 0)
		return NULL;
	char *on = xasprintf(" ON %s TO ", scope);
	const char *at = strstr(line, on);
	free(on);
	return at ? xstrndup(line + 6, (size_t)(at - line - 6)) : NULL;
}

static char *global_privileges(const char *line)
{
	return scope_privileges(line, "*.*");
}

static bool list_has(const char *list, const char *priv)
{
	size_t pl = strlen(priv);
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && p[len - 1] == ' ')
			len--;
		if ((len == pl && strncasecmp(p, priv, pl) == 0) ||
		    (len == 14 && strncasecmp(p, "ALL PRIVILEGES", 14) == 0))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

struct held {
	struct strv global, lifeboat; /* privilege names */
	bool grantable;
	char *who; /* 'user'@'host' as the server spells the grantee */
};

#define GRANTEE_EXPR DB_CURRENT_GRANTEE

/* Privileges the session's enabled roles bring (an administrator may
 * give lifeboat its rights through a default role): information_schema
 * lists an account's own grants only, so each role's SHOW GRANTS is read. */
static void held_add_lines(struct held *h, const struct db_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *line = rows[i].n ? rows[i].values[0] : NULL;
		char *g = line ? scope_privileges(line, "*.*") : NULL;
		char *l = line ? scope_privileges(line, "`lifeboat`.*") : NULL;
		if (g && strcasecmp(g, "ALL PRIVILEGES") == 0)
			for (size_t k = 0; k < ARRAY_LEN(all_privileges); k++)
				add_split(&h->global, all_privileges[k]);
		else if (g)
			add_split(&h->global, g);
		if (g && strstr(line, " WITH GRANT OPTION"))
			h->grantable = true;
		if (l)
			add_split(&h->lifeboat, l);
		free(g);
		free(l);
	}
}

static int held_add_roles(struct db_conn *c, struct held *h, char **err)
{
	if (!c->flavor || !c->flavor->gtid_domain_style) /* SHOW GRANTS FOR role: MariaDB */
		return 0;
	struct db_row *roles;
	size_t nr;
	if (db_rows(c,
		    "SELECT ROLE_NAME FROM information_schema.ENABLED_ROLES WHERE ROLE_NAME IS NOT "
		    "NULL",
		    &roles, &nr, err))
		return -1;
	int rc = 0;
	for (size_t i = 0; !rc && i < nr; i++) {
		if (!roles[i].values[0])
			continue;
		char *ident = db_quote_ident(roles[i].values[0]);
		char *sql = xasprintf("SHOW GRANTS FOR %s", ident);
		struct db_row *rows;
		size_t n;
		rc = db_rows(c, sql, &rows, &n, err);
		if (!rc) {
			held_add_lines(h, rows, n);
			db_rows_free(rows, n);
		}
		free(sql);
		free(ident);
	}
	db_rows_free(roles, nr);
	return rc;
}

static int held_read(struct db_conn *c, struct held *h, char **err)
{
	memset(h, 0, sizeof(*h));
	strv_init(&h->global);
	strv_init(&h->lifeboat);
	struct db_row *rows;
	size_t n;
	int rc = db_rows(c,
			 "SELECT '*.*', PRIVILEGE_TYPE, IS_GRANTABLE, GRANTEE FROM "
			 "information_schema.USER_PRIVILEGES WHERE GRANTEE = " GRANTEE_EXPR
			 " UNION ALL SELECT TABLE_SCHEMA, PRIVILEGE_TYPE, IS_GRANTABLE, GRANTEE FROM "
			 "information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = " GRANTEE_EXPR
			 " AND TABLE_SCHEMA = 'lifeboat'",
			 &rows, &n, err);
	if (rc)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *scope = rows[i].values[0], *p = rows[i].values[1];
		const char *g = rows[i].values[2], *who = rows[i].values[3];
		if (!scope || !p)
			continue;
		strv_push(strcmp(scope, "*.*") == 0 ? &h->global : &h->lifeboat, p);
		if (g && strcmp(g, "YES") == 0 && strcmp(scope, "*.*") == 0)
			h->grantable = true;
		if (who && !h->who)
			h->who = xstrdup(who);
	}
	db_rows_free(rows, n);
	if (held_add_roles(c, h, err) < 0)
		return -1;
	if (!h->who) {
		char *cu = NULL;
		db_value(c, "SELECT " GRANTEE_EXPR, &cu, err);
		h->who = cu ? cu : xstrdup("'lifeboat'@'%'");
		free(*err);
		*err = NULL;
	}
	return 0;
}

static void held_free(struct held *h)
{
	strv_free(&h->global);
	strv_free(&h->lifeboat);
	free(h->who);
}

static bool has(const struct strv *v, const char *p)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcasecmp(v->items[i], p) == 0)
			return true;
	return false;
}

static bool holds_all(const struct held *h)
{
	for (size_t i = 0; i < ARRAY_LEN(all_privileges); i++)
		if (!has(&h->global, all_privileges[i]))
			return false;
	return true;
}

static bool need_held(const struct held *h, const struct priv_need *n, const char *p)
{
	if (strcmp(p, "ALL PRIVILEGES") == 0)
		return holds_all(h);
	return has(&h->global, p) || (strcmp(n->on, "lifeboat.*") == 0 && has(&h->lifeboat, p));
}

int priv_check(struct db_conn *c, const char *command, enum priv_side side, char **err)
{
	struct held h;
	if (held_read(c, &h, err) < 0)
		return -1;
	struct strv missing;
	strv_init(&missing);
	bool gopt_missing = false;
	for (unsigned i = 0; i < priv_table_len; i++) {
		const struct priv_need *n = &priv_table[i];
		if (!need_matches(n, command, false) || !(n->side & side))
			continue;
		struct strv privs;
		strv_init(&privs);
		add_split(&privs, n->privileges);
		for (size_t k = 0; k < privs.len; k++)
			if (!need_held(&h, n, privs.items[k]))
				strv_pushf(&missing, "%s ON %s", privs.items[k], n->on);
		strv_free(&privs);
		gopt_missing = gopt_missing || (n->grant_option && !h.grantable);
	}
	int rc = 0;
	if (missing.len || gopt_missing) {
		char *list = missing.len ? join(&missing) : xstrdup("GRANT OPTION");
		char *fix = grants_for(command, false, side, h.who);
		*err = xasprintf("%s: the lifeboat account %s lacks %s%s for '%s'; nothing changed: "
				 "run %s",
				 c->name, h.who, list, missing.len && gopt_missing ? " (and GRANT OPTION)" : "",
				 command ? command : "day-to-day commands", fix);
		free(list);
		free(fix);
		rc = -1;
	}
	strv_free(&missing);
	held_free(&h);
	return rc;
}

char *priv_excess(struct db_conn *c, bool *all, char **err)
{
	struct held h;
	*all = false;
	if (held_read(c, &h, err) < 0)
		return NULL;
	struct strv needed, extra;
	strv_init(&needed);
	strv_init(&extra);
	for (unsigned i = 0; i < priv_table_len; i++)
		if (need_matches(&priv_table[i], NULL, false) && strcmp(priv_table[i].on, "*.*") == 0)
			add_split(&needed, priv_table[i].privileges);
	for (size_t i = 0; i < h.global.len; i++)
		if (!has(&needed, h.global.items[i]) &&
		    strcasecmp(h.global.items[i], "USAGE") != 0) /* no privilege at all */
			strv_push(&extra, h.global.items[i]);
	*all = holds_all(&h);
	char *out = extra.len ? join(&extra) : NULL;
	strv_free(&needed);
	strv_free(&extra);
	held_free(&h);
	return out;
}

void priv_markdown(FILE *out)
{
	fputs("| command | account | server | privileges | on | why |\n"
	      "|---|---|---|---|---|---|\n",
	      out);
	static const char *const sides[] = {"", "primary (source)", "standby (target)", "both"};
	for (unsigned i = 0; i < priv_table_len; i++) {
		const struct priv_need *n = &priv_table[i];
		fprintf(out, "| %s | %s | %s | %s%s | `%s` | %s |\n", n->command,
			n->replication_account ? "replication" : "lifeboat", sides[n->side],
			n->privileges, n->grant_option ? " WITH GRANT OPTION" : "", n->on, n->why);
	}
}

char *priv_lines_missing(char *const *lines, size_t n, const char *const *want, size_t n_want)
{
	struct buf missing;
	buf_init(&missing);
	for (size_t w = 0; w < n_want; w++) {
		bool have = false;
		for (size_t i = 0; i < n && !have; i++) {
			char *privs = lines[i] ? global_privileges(lines[i]) : NULL;
			have = privs && list_has(privs, want[w]);
			free(privs);
		}
		if (!have)
			buf_addf(&missing, "%s%s", missing.len ? ", " : "", want[w]);
	}
	if (!missing.len) {
		buf_free(&missing);
		return NULL;
	}
	return buf_steal(&missing);
}
