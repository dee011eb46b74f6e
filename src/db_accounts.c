/* db_accounts: the application accounts a clone copies (users and roles,
 * with their password hashes and grants), read from the source as
 * statements and replayed on the target. mariadb-dump --system=users cannot
 * do this on real installations: it replays root's PROXY grant (refused
 * without PROXY ... WITH GRANT OPTION, which root@localhost alone holds on
 * Debian) and fails on accounts the server ignores (root@HOSTNAME under
 * skip-name-resolve, error 1133). System accounts stay as the target has
 * them, so its own administrators can still log in. */
#include "result.h"
#include "db_ops.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

bool db_account_is_system(const char *user, const char *host, const char *own_user)
{
	static const char *const names[] = {"root", "mariadb.sys", "PUBLIC", "debian-sys-maint",
					    ""};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(user, names[i]) == 0)
			return true;
	/* The installer's unix_socket account for the server's OS user. */
	if (strcmp(user, "mysql") == 0 && strcmp(host, "localhost") == 0)
		return true;
	/* Each node's administrator made lifeboat's own account; the session
	 * doing the copy runs as it. */
	return own_user && strcmp(user, own_user) == 0;
}

void db_accounts_free(struct db_accounts *a)
{
	strv_free(&a->drops);
	strv_free(&a->creates);
	strv_free(&a->grants);
	strv_free(&a->skipped);
	a->count = 0;
}

/* SHOW GRANTS lines, minus PROXY grants (they name accounts that may not
 * exist on the target and need PROXY WITH GRANT OPTION there). */
static int collect_grants(struct db_conn *src, const char *who, struct db_accounts *a, char **err)
{
	char *sql = xasprintf("SHOW GRANTS FOR %s", who);
	struct db_row *rows;
	size_t n;
	int rc = db_rows(src, sql, &rows, &n, err);
	free(sql);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *g = rows[i].n ? rows[i].values[0] : NULL;
		if (!g)
			continue;
		if (strncmp(g, "GRANT PROXY ON", 14) == 0)
			strv_pushf(&a->skipped, "%s (PROXY grant)", who);
		else
			strv_push(&a->grants, g);
	}
	db_rows_free(rows, n);
	return LB_OK;
}

static int collect_one(struct db_conn *src, const char *user, const char *host, bool role,
		       struct db_accounts *a, char **err)
{
	char *who = role ? db_quote_ident(user) : db_quote_account(src, user, host);
	char *create = NULL;
	int rc = LB_OK;
	if (role) {
		create = xasprintf("CREATE ROLE %s", who);
	} else {
		char *sql = xasprintf("SHOW CREATE USER %s", who);
		rc = db_value(src, sql, &create, err);
		free(sql);
		/* 1133: an account the server ignores (a host name under
		 * skip-name-resolve): nobody can log in with it there either. */
		if (rc && db_errno(src) == 1133) {
			log_warn("clone: %s is ignored by %s (skip-name-resolve?): not copied", who,
				 src->name);
			strv_pushf(&a->skipped, "%s (ignored by the source)", who);
			free(*err);
			*err = NULL;
			free(who);
			return LB_OK;
		}
	}
	if (!rc && create)
		rc = collect_grants(src, who, a, err);
	if (!rc && create) {
		strv_pushf(&a->drops, "DROP %s IF EXISTS %s", role ? "ROLE" : "USER", who);
		strv_push(&a->creates, create);
		a->count++;
	}
	free(create);
	free(who);
	return rc;
}

int db_accounts_read(struct db_conn *src, const char *own_user, struct db_accounts *a, char **err)
{
	memset(a, 0, sizeof(*a));
	strv_init(&a->drops);
	strv_init(&a->creates);
	strv_init(&a->grants);
	strv_init(&a->skipped);
	struct db_row *rows;
	size_t n;
	int rc = db_rows(src,
			 "SELECT User, Host, IFNULL(is_role, 'N') FROM mysql.user ORDER BY 3 DESC, "
			 "1, 2",
			 &rows, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < n; i++) {
		const char *user = rows[i].values[0], *host = rows[i].values[1];
		const char *is_role = rows[i].values[2];
		if (!user || !host || db_account_is_system(user, host, own_user))
			continue;
		rc = collect_one(src, user, host, is_role && strcmp(is_role, "Y") == 0, a, err);
	}
	db_rows_free(rows, n);
	return rc;
}

/* Not binlogged: the target is about to replicate from the source, whose
 * binlog never held these statements. */
int db_accounts_apply(struct db_conn *tgt, const struct db_accounts *a, char **err)
{
	int rc = db_exec(tgt, "SET SESSION sql_log_bin = 0", err);
	const struct strv *lists[] = {&a->drops, &a->creates, &a->grants};
	for (size_t l = 0; !rc && l < ARRAY_LEN(lists); l++)
		for (size_t i = 0; !rc && i < lists[l]->len; i++)
			rc = db_exec(tgt, lists[l]->items[i], err);
	if (!rc)
		rc = db_exec(tgt, "SET SESSION sql_log_bin = 1", err);
	return rc;
}
