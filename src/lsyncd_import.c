#include "lsyncd_import.h"
#include "config.h"
#include "lsyncd_sandbox.h"
#include "util.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VALUE_MAX 4096
#define SHOW_MAX 60
#define NOTE_MAX 400
/* A configuration has a handful of syncs; a loop that makes thousands is a
 * mistake, and the output would be unreadable. */
#define MAX_SYNCS 1000
#define MAX_NOTES 200

/* One [sync] section while it is built. */
struct sync_out {
	struct buf keys;  /* "key = value" lines */
	struct buf notes; /* "; ..." lines */
	struct strv rsync_args;
	struct strv ssh_options;
	char *ssh_port;
	char *ssh_identity;
	char *bwlimit;
	char *exclude_from;
	bool compress;
	char *reason; /* set: the section is printed commented out, with this */
};

struct import {
	const char *path;
	char *chunkname; /* "@" + path: how Lua names the file */
	char *cwd;
	struct buf out;
	struct strv names; /* [sync NAME]s given so far */
	struct sync_out cur;
	char where[256]; /* "line N" of the sync{} being rendered */
};

/* ---- reading what the prelude recorded ---- */

static const char *field_str(lua_State *L, int t, const char *key)
{
	lua_pushstring(L, key);
	lua_rawget(L, t);
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1); /* the table keeps the string alive */
	return s;
}

static long field_int(lua_State *L, int t, const char *key)
{
	lua_pushstring(L, key);
	lua_rawget(L, t);
	long v = lua_type(L, -1) == LUA_TNUMBER ? (long)lua_tointeger(L, -1) : 0;
	lua_pop(L, 1);
	return v;
}

/* A string or a number as text (numbers as Lua prints them); NULL else. */
static const char *scalar_text(lua_State *L, int idx, char *num, size_t n)
{
	if (lua_type(L, idx) == LUA_TSTRING)
		return lua_tostring(L, idx);
	if (lua_type(L, idx) != LUA_TNUMBER)
		return NULL;
	if (lua_isinteger(L, idx))
		snprintf(num, n, "%lld", (long long)lua_tointeger(L, idx));
	else
		snprintf(num, n, "%.14g", (double)lua_tonumber(L, idx));
	return num;
}

/* Seconds as lifeboat reads them: plain decimals (no exponent), 0-86400. */
static bool seconds_text(lua_State *L, int idx, char *out, size_t n)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return false;
	double v = (double)lua_tonumber(L, idx);
	if (!(v >= 0 && v <= 86400))
		return false;
	snprintf(out, n, "%.6f", v);
	char *end = out + strlen(out);
	while (end[-1] == '0')
		*--end = '\0';
	if (end[-1] == '.')
		*--end = '\0';
	return true;
}

/* A value as a comment shows it: strings quoted, cut, control bytes escaped. */
static void show_value(lua_State *L, int idx, struct buf *b)
{
	char num[64];
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		buf_addc(b, '\'');
		for (size_t i = 0; i < len && i < SHOW_MAX; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\n')
				buf_adds(b, "\\n");
			else if (c == '\t')
				buf_adds(b, "\\t");
			else if (c < 0x20 || c == 0x7f)
				buf_addf(b, "\\x%02x", c);
			else
				buf_addc(b, (char)c);
		}
		buf_adds(b, len > SHOW_MAX ? "...'" : "'");
		break;
	}
	case LUA_TNUMBER:
		buf_adds(b, scalar_text(L, idx, num, sizeof(num)));
		break;
	case LUA_TBOOLEAN:
		buf_adds(b, lua_toboolean(L, idx) ? "true" : "false");
		break;
	case LUA_TTABLE:
		buf_adds(b, "{...}");
		break;
	case LUA_TFUNCTION:
		buf_adds(b, "a Lua function");
		break;
	default:
		buf_adds(b, lua_typename(L, lua_type(L, idx)));
	}
}

/* The string keys of the table at t, sorted: output does not depend on the
 * order of Lua's hash. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_keys(lua_State *L, int t, struct strv *keys)
{
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING)
			strv_push(keys, lua_tostring(L, -1));
	}
	if (keys->len)
		qsort(keys->items, keys->len, sizeof(char *), cmp_str);
}

/* ---- writing ---- */

/* Can the value stand after "key = " in lifeboat's INI file and be read back
 * as it is? The reader trims blanks and starts a comment at ';' or '#' after
 * a blank. */
static bool ini_value_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > VALUE_MAX || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
	    v[n - 1] == '\t' || v[0] == ';' || v[0] == '#')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
		if ((c == ';' || c == '#') && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			return false;
	}
	return true;
}

static bool has_blank(const char *s)
{
	return strpbrk(s, " \t") != NULL;
}

/* "; WHERE: TEXT" with any control byte made visible. */
static void add_note(struct buf *b, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_note(struct buf *b, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	buf_adds(b, "; ");
	if (where && *where)
		buf_addf(b, "%s: ", where);
	size_t n = 0;
	for (const char *p = text ? text : "?"; *p && n < NOTE_MAX; p++, n++)
		buf_addc(b, ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p);
	buf_adds(b, text && strlen(text) > NOTE_MAX ? "...\n" : "\n");
	free(text);
}

/* "line N" for the main file, "FILE:N" for one it loaded. */
static void location(const struct import *im, const char *src, long line, char *out, size_t n)
{
	if (line <= 0 || !src)
		snprintf(out, n, "%s", "");
	else if (strcmp(src, im->chunkname) == 0 || src[0] != '@')
		snprintf(out, n, "line %ld", line);
	else
		snprintf(out, n, "%s:%ld", src + 1, line);
}

static void sync_note(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sync_note(struct import *im, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	add_note(&im->cur.notes, im->where, "%s", text ? text : "?");
	free(text);
}

/* A note that shows a value: "rsync.KEY = VALUE: WHY". */
static void value_note(struct import *im, const char *what, lua_State *L, int idx, const char *why)
{
	struct buf v;
	buf_init(&v);
	show_value(L, idx, &v);
	sync_note(im, "%s = %s: %s", what, v.data, why);
	buf_free(&v);
}

static void not_imported(struct import *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void not_imported(struct import *im, const char *fmt, ...)
{
	if (im->cur.reason)
		return; /* the first reason is the one to fix first */
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&im->cur.reason, fmt, ap) < 0)
		im->cur.reason = NULL;
	va_end(ap);
}

static void set_key(struct import *im, const char *key, const char *value)
{
	buf_addf(&im->cur.keys, "%s = %s\n", key, value);
}

static void set_key_checked(struct import *im, const char *key, const char *value, const char *what)
{
	if (ini_value_ok(value)) {
		set_key(im, key, value);
		return;
	}
	if (strcmp(key, "source") == 0 || strcmp(key, "target") == 0)
		not_imported(im, "its %s cannot be written in a lifeboat configuration", key);
	sync_note(im, "%s '%s' cannot be written in a lifeboat configuration (a ';' or '#' "
			      "after a blank, a control character or an edge blank): set %s by hand",
			  what, value, key);
}

static void sync_out_reset(struct sync_out *o)
{
	buf_free(&o->keys);
	buf_free(&o->notes);
	strv_free(&o->rsync_args);
	strv_free(&o->ssh_options);
	free(o->ssh_port);
	free(o->ssh_identity);
	free(o->bwlimit);
	free(o->exclude_from);
	free(o->reason);
	memset(o, 0, sizeof(*o));
	buf_init(&o->keys);
	buf_init(&o->notes);
	strv_init(&o->rsync_args);
	strv_init(&o->ssh_options);
}

/* A path from the file made absolute the way lsyncd finds it: against the
 * working directory. Caller frees. */
static char *absolute(const struct import *im, const char *p)
{
	if (p[0] == '/')
		return path_normalise(p);
	char *joined = xasprintf("%s/%s", im->cwd, p);
	char *n = path_normalise(joined);
	free(joined);
	return n;
}

/* ---- settings -> [lifeboat] ---- */

static const struct setting_map {
	const char *key;
	const char *why; /* NULL: it has a lifeboat key */
} settings_map[] = {
	{"logfile", NULL},
	{"statusInterval", NULL},
	{"statusFile", "no equivalent: lifeboat keeps its status in STATE_DIR/status.json, shown by "
		       "`lifeboat status` (and on metrics_listen for Prometheus)"},
	{"nodaemon", "no equivalent: `lifeboat sync` always runs in the foreground; "
		     "contrib/systemd/lifeboat-sync.service makes it a service"},
	{"pidfile", "no equivalent: systemd keeps track of the daemon"},
	{"logfacility", "no equivalent: with log = syslog lifeboat logs to the daemon facility"},
	{"logident", "no equivalent: with log = syslog lifeboat logs as 'lifeboat'"},
	{"insist", "no setting needed: lifeboat always retries an unreachable target, at startup "
		   "too, with a capped backoff (state 'retrying')"},
	{"inotifyMode", "no equivalent: lifeboat watches every kind of change and ships a file once "
			"it is closed (or quiet for 1 s)"},
	{"maxProcesses", "no equivalent: each lifeboat sync runs one transfer at a time"},
	{"maxDelays", "no equivalent: lifeboat ships once `delay` has passed, whatever the number "
		      "of changes (max_pending bounds its queue)"},
};

static void setting_where(struct import *im, lua_State *L, int lines, const char *key, char *out,
			  size_t n)
{
	lua_pushstring(L, key);
	lua_rawget(L, lines);
	if (lua_type(L, -1) == LUA_TTABLE)
		location(im, field_str(L, lua_gettop(L), "src"), field_int(L, lua_gettop(L), "line"),
			 out, n);
	else
		snprintf(out, n, "%s", "");
	lua_pop(L, 1);
}

static void map_setting(struct import *im, lua_State *L, const struct setting_map *m, int v,
			const char *where)
{
	struct buf shown;
	buf_init(&shown);
	show_value(L, v, &shown);
	char num[64];
	const char *text = scalar_text(L, v, num, sizeof(num));
	if (strcmp(m->key, "logfile") == 0 && text && text[0] == '/' && ini_value_ok(text)) {
		buf_addf(&im->out, "log = %s\n", text);
	} else if (strcmp(m->key, "statusInterval") == 0 && seconds_text(L, v, num, sizeof(num))) {
		buf_addf(&im->out, "status_interval = %s\n", num);
	} else if (m->why) {
		add_note(&im->out, where, "settings.%s = %s: %s", m->key, shown.data, m->why);
	} else {
		add_note(&im->out, where, "settings.%s = %s: not a value lifeboat takes (%s)", m->key,
			 shown.data,
			 strcmp(m->key, "logfile") == 0 ? "an absolute path" : "seconds, 0-86400");
	}
	buf_free(&shown);
}

static bool known_setting(const char *key)
{
	for (size_t i = 0; i < ARRAY_LEN(settings_map); i++)
		if (strcmp(settings_map[i].key, key) == 0)
			return true;
	return false;
}

static void render_settings(struct import *im, lua_State *L, int set, int lines)
{
	buf_adds(&im->out, "\n[lifeboat]\n");
	char where[256];
	for (size_t i = 0; i < ARRAY_LEN(settings_map); i++) {
		lua_pushstring(L, settings_map[i].key);
		lua_rawget(L, set);
		if (!lua_isnil(L, -1)) {
			setting_where(im, L, lines, settings_map[i].key, where, sizeof(where));
			map_setting(im, L, &settings_map[i], lua_gettop(L), where);
		}
		lua_pop(L, 1);
	}
	struct strv keys;
	strv_init(&keys);
	sorted_keys(L, set, &keys);
	size_t unknown = 0;
	for (size_t i = 0; i < keys.len; i++) {
		if (known_setting(keys.items[i]))
			continue;
		if (++unknown > MAX_NOTES) {
			add_note(&im->out, NULL, "... and more settings lsyncd does not know");
			break;
		}
		setting_where(im, L, lines, keys.items[i], where, sizeof(where));
		add_note(&im->out, where,
			 "settings '%s' is not an lsyncd setting (lsyncd 2.2 refuses the file): ignored",
			 keys.items[i]);
	}
	strv_free(&keys);
}

/* ---- sync{} -> [sync NAME] ---- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* The last component of the source, made a valid section name, unique. */
static char *sync_name(struct import *im, const char *source)
{
	char *norm = source ? path_normalise(source) : xstrdup("");
	const char *slash = strrchr(norm, '/');
	const char *base = slash ? slash + 1 : norm;
	struct buf n;
	buf_init(&n);
	for (const char *p = base; *p && n.len < 40; p++)
		if (name_char(*p) && (n.len > 0 || (*p != '-' && *p != '_' && *p != '.')))
			buf_addc(&n, *p);
	if (n.len == 0)
		buf_adds(&n, "sync");
	free(norm);
	char *name = buf_steal(&n);
	for (int i = 2;; i++) {
		bool taken = false;
		for (size_t k = 0; k < im->names.len && !taken; k++)
			taken = strcmp(im->names.items[k], name) == 0;
		if (!taken)
			break;
		char *stem = xstrdup(name);
		char *dash = strrchr(stem, '-');
		if (i > 2 && dash)
			*dash = '\0';
		free(name);
		name = xasprintf("%s-%d", stem, i);
		free(stem);
	}
	strv_push(&im->names, name);
	return name;
}

static void map_source(struct import *im, const char *source)
{
	if (!source) {
		not_imported(im, "it has no source directory (a string)");
		return;
	}
	char *abs = absolute(im, source);
	if (source[0] != '/')
		sync_note(im, "source '%s' is relative: lsyncd resolves it against its working "
			      "directory; here against %s",
			  source, im->cwd);
	set_key_checked(im, "source", abs, "source");
	free(abs);
}

/* HOST + absolute PATH: an IPv6 address goes in brackets. */
static void remote_target(struct import *im, const char *host, const char *path)
{
	if (!*host) {
		not_imported(im, "its target has an empty host");
		return;
	}
	if (path[0] != '/') {
		not_imported(im, "its target directory '%s' is relative to the login's home on %s; "
				 "lifeboat needs an absolute path: target = %s:/ABSOLUTE/PATH",
			     path, host, host);
		return;
	}
	const char *at = strrchr(host, '@');
	const char *name = at ? at + 1 : host;
	char *norm = path_normalise(path);
	char *t = strchr(name, ':') && name[0] != '['
			  ? xasprintf("%.*s[%s]:%s", (int)(name - host), host, name, norm)
			  : xasprintf("%s:%s", host, norm);
	set_key_checked(im, "target", t, "target");
	free(t);
	free(norm);
}

/* default.rsync's target as rsync takes it: /PATH, PATH, [USER@]HOST:PATH,
 * HOST::MODULE or rsync://. */
static void map_target_string(struct import *im, const char *t)
{
	const char *slash = strchr(t, '/');
	const char *colon = NULL;
	if (t[0] == '[' || (strchr(t, '@') && strchr(t, '@')[1] == '[')) {
		const char *close = strstr(t, "]:");
		colon = close ? close + 1 : NULL;
	} else {
		colon = strchr(t, ':');
		if (colon && slash && slash < colon)
			colon = NULL;
	}
	if (strstr(t, "://") || (colon && colon[1] == ':')) {
		not_imported(im, "its target '%s' is a URL or an rsync daemon; lifeboat ships to a "
				 "directory, over ssh or here (target = [USER@]HOST:/PATH or /PATH)",
			     t);
		return;
	}
	if (colon) {
		char *host = xstrndup(t, (size_t)(colon - t));
		if (host[0] == '[' || (strchr(host, '@') && strchr(host, '@')[1] == '[')) {
			set_key_checked(im, "target", t, "target"); /* already bracketed */
		} else {
			remote_target(im, host, colon + 1);
		}
		free(host);
		return;
	}
	char *abs = absolute(im, t);
	if (t[0] != '/')
		sync_note(im, "target '%s' is relative: lsyncd hands it to rsync as it is; here it is "
			      "taken against %s",
			  t, im->cwd);
	set_key_checked(im, "target", abs, "target");
	free(abs);
}

static void map_target(struct import *im, lua_State *L, int own, const char *kind)
{
	const char *target = field_str(L, own, "target");
	const char *host = field_str(L, own, "host");
	const char *dir = field_str(L, own, "targetdir");
	if (strcmp(kind, "rsyncssh") == 0 || (!target && host && dir)) {
		if (target)
			sync_note(im, "target '%s' is ignored: default.rsyncssh uses host and targetdir",
				  target);
		if (!host || !dir)
			not_imported(im, "default.rsyncssh needs both host and targetdir (strings)");
		else
			remote_target(im, host, dir);
		return;
	}
	if (!target) {
		not_imported(im, "it has no target (a string)");
		return;
	}
	map_target_string(im, target);
}

static void map_delay(struct import *im, lua_State *L, int rec, int own, const char *kind)
{
	char num[64];
	lua_pushstring(L, "delay");
	lua_rawget(L, rec);
	const char *d = seconds_text(L, -1, num, sizeof(num)) ? num : NULL;
	if (d) {
		set_key(im, "delay", d);
		lua_pushstring(L, "delay");
		lua_rawget(L, own);
		if (lua_isnil(L, -1) && strcmp(kind, "custom") != 0)
			sync_note(im, "delay = %s is lsyncd's default for default.%s (lifeboat's own "
				      "default is 0.2 s)",
				  d, kind);
		lua_pop(L, 1);
	} else if (!lua_isnil(L, -1)) {
		value_note(im, "delay", L, lua_gettop(L), "not a number of seconds, 0-86400");
	}
	lua_pop(L, 1);
}

/* One exclude pattern, or one "+ "/"- " filter rule. */
static void add_exclude(struct import *im, const char *what, lua_State *L, int idx, bool filter)
{
	if (lua_type(L, idx) != LUA_TSTRING) {
		value_note(im, what, L, idx, "not a pattern (a string)");
		return;
	}
	const char *s = lua_tostring(L, idx);
	if (filter && !((s[0] == '+' || s[0] == '-') && s[1] == ' ')) {
		value_note(im, what, L, idx,
			   "lifeboat takes '+ PATTERN' and '- PATTERN' rules only: write it as one");
		return;
	}
	if (*s)
		set_key_checked(im, "exclude", s, what);
}

static void map_pattern_list(struct import *im, lua_State *L, int own, const char *key, bool filter)
{
	lua_pushstring(L, key);
	lua_rawget(L, own);
	int v = lua_gettop(L);
	if (lua_type(L, v) == LUA_TTABLE) {
		for (lua_Integer i = 1; lua_rawgeti(L, v, i) != LUA_TNIL; i++) {
			add_exclude(im, key, L, lua_gettop(L), filter);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	} else if (!lua_isnil(L, v)) {
		add_exclude(im, key, L, v, filter);
	}
	lua_pop(L, 1);
}

static void map_pattern_file(struct import *im, lua_State *L, int own, const char *key)
{
	lua_pushstring(L, key);
	lua_rawget(L, own);
	if (lua_type(L, -1) == LUA_TSTRING) {
		const char *p = lua_tostring(L, -1);
		if (im->cur.exclude_from) {
			sync_note(im, "%s '%s': lifeboat takes one exclude_from; merge it into %s", key, p,
				  im->cur.exclude_from);
		} else {
			im->cur.exclude_from = absolute(im, p);
			set_key_checked(im, "exclude_from", im->cur.exclude_from, key);
			if (strcmp(key, "filterFrom") == 0)
				sync_note(im, "filterFrom: lifeboat reads its '+ ' and '- ' rules; other rsync "
					      "filter rules in the file are taken as exclude patterns");
		}
	} else if (!lua_isnil(L, -1)) {
		value_note(im, key, L, lua_gettop(L), "not a file name");
	}
	lua_pop(L, 1);
}

static void map_delete(struct import *im, lua_State *L, int own)
{
	lua_pushstring(L, "delete");
	lua_rawget(L, own);
	if (lua_type(L, -1) == LUA_TBOOLEAN) {
		set_key(im, "delete", lua_toboolean(L, -1) ? "yes" : "no");
	} else if (lua_type(L, -1) == LUA_TSTRING && (strcmp(lua_tostring(L, -1), "startup") == 0 ||
						       strcmp(lua_tostring(L, -1), "running") == 0)) {
		set_key(im, "delete", lua_tostring(L, -1));
	} else if (!lua_isnil(L, -1)) {
		value_note(im, "delete", L, lua_gettop(L),
			   "lifeboat takes true, false, 'startup' or 'running' (as lsyncd)");
	}
	lua_pop(L, 1);
}

/* rsync's --bwlimit RATE: KiB/s, or with a K, M or G suffix. */
static bool parse_bwlimit(const char *s, long *kib)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return false;
	double mul = 1;
	if (*end == 'k' || *end == 'K')
		end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024 * 1024, end++;
	if (*end || v * mul > 1e9)
		return false;
	*kib = (long)(v * mul + 0.5);
	return true;
}

static void set_bwlimit(struct import *im, const char *what, const char *value)
{
	long kib;
	if (!parse_bwlimit(value, &kib)) {
		sync_note(im, "%s '%s': not a rate lifeboat takes (KiB/s); set bwlimit by hand", what,
			  value);
		return;
	}
	if (im->cur.bwlimit) {
		sync_note(im, "%s '%s': a second bandwidth limit, ignored (bwlimit = %s)", what, value,
			  im->cur.bwlimit);
		return;
	}
	im->cur.bwlimit = xasprintf("%ld", kib);
}

static void set_ssh_once(struct import *im, char **field, const char *key, const char *value,
			 const char *what)
{
	if (*field) {
		sync_note(im, "%s '%s': %s is already %s, ignored", what, value, key, *field);
		return;
	}
	if (strcmp(key, "ssh_identity") == 0 && value[0] != '/') {
		sync_note(im, "%s '%s': lifeboat needs an absolute path for ssh_identity", what, value);
		return;
	}
	*field = xstrdup(value);
}

static void add_ssh_option(struct import *im, const char *what, const char *opt)
{
	if (has_blank(opt) || !ini_value_ok(opt))
		sync_note(im, "%s '%s': has a blank or a character lifeboat's ssh_options cannot carry",
			  what, opt);
	else
		strv_push(&im->cur.ssh_options, opt);
}

/* rsync's --rsh "ssh -p 2222 -i KEY -o X=Y": ssh_port, ssh_identity and
 * ssh_options, when it is a plain ssh command line. */
static void map_rsh(struct import *im, const char *rsh)
{
	if (strpbrk(rsh, "'\"\\$`;|&<>")) {
		sync_note(im, "rsync.rsh '%s' uses shell syntax: set ssh_port, ssh_identity and "
			      "ssh_options by hand",
			  rsh);
		return;
	}
	struct strv w;
	strv_init(&w);
	strv_push_split(&w, rsh);
	const char *prog = w.len ? strrchr(w.items[0], '/') : NULL;
	prog = prog ? prog + 1 : (w.len ? w.items[0] : "");
	if (strcmp(prog, "ssh") != 0) {
		sync_note(im, "rsync.rsh '%s' is not ssh: lifeboat ships over ssh only", rsh);
		strv_free(&w);
		return;
	}
	for (size_t i = 1; i < w.len; i++) {
		const char *a = w.items[i];
		const char *next = i + 1 < w.len ? w.items[i + 1] : NULL;
		bool takes_arg = a[0] == '-' && a[1] && !a[2] && strchr("BbcDEeFIiJLlmOoPpRSWw", a[1]);
		const char *arg = takes_arg ? next : (a[0] == '-' && a[1] && a[2] ? a + 2 : NULL);
		if (takes_arg)
			i++;
		if (a[0] == '-' && a[1] == 'p' && arg)
			set_ssh_once(im, &im->cur.ssh_port, "ssh_port", arg, "rsync.rsh -p");
		else if (a[0] == '-' && a[1] == 'i' && arg)
			set_ssh_once(im, &im->cur.ssh_identity, "ssh_identity", arg, "rsync.rsh -i");
		else if (a[0] == '-' && a[1] == 'l' && arg)
			sync_note(im, "rsync.rsh -l %s: put the user in the target instead (USER@HOST)",
				  arg);
		else if (takes_arg && arg) {
			add_ssh_option(im, "rsync.rsh", a);
			add_ssh_option(im, "rsync.rsh", arg);
		} else
			add_ssh_option(im, "rsync.rsh", a);
	}
	strv_free(&w);
}

static void add_rsync_arg(struct import *im, const char *what, const char *arg)
{
	if (has_blank(arg) || !ini_value_ok(arg))
		sync_note(im, "%s '%s': has a blank or a character lifeboat's rsync_args cannot carry",
			  what, arg);
	else
		strv_push(&im->cur.rsync_args, arg);
}

/* rsync._extra: arguments lifeboat has a key for become that key. */
static void map_extra(struct import *im, lua_State *L, int t)
{
	if (lua_type(L, t) != LUA_TTABLE) {
		value_note(im, "rsync._extra", L, t, "not a list of arguments");
		return;
	}
	for (lua_Integer i = 1; lua_rawgeti(L, t, i) != LUA_TNIL; i++) {
		const char *a = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		if (!a) {
			value_note(im, "rsync._extra", L, lua_gettop(L), "not an argument (a string)");
		} else if (strncmp(a, "--bwlimit=", 10) == 0) {
			set_bwlimit(im, "rsync._extra --bwlimit", a + 10);
		} else if (strcmp(a, "-z") == 0 || strcmp(a, "--compress") == 0) {
			im->cur.compress = true;
		} else if (strncmp(a, "--rsh=", 6) == 0) {
			map_rsh(im, a + 6);
		} else if (strcmp(a, "-e") == 0 || strcmp(a, "--rsh") == 0 ||
			   strcmp(a, "--bwlimit") == 0) {
			lua_pop(L, 1);
			i++;
			if (lua_rawgeti(L, t, i) == LUA_TSTRING) {
				if (strcmp(a, "--bwlimit") == 0)
					set_bwlimit(im, "rsync._extra --bwlimit", lua_tostring(L, -1));
				else
					map_rsh(im, lua_tostring(L, -1));
			} else {
				sync_note(im, "rsync._extra '%s' without its value", a);
			}
		} else {
			add_rsync_arg(im, "rsync._extra", a);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1); /* the nil that ended the list */
}

enum rsync_how { R_ALWAYS, R_FLAG, R_VALUE, R_COMPRESS, R_BWLIMIT, R_RSH, R_EXTRA, R_NOTE };

static const struct rsync_key {
	const char *key;
	enum rsync_how how;
	const char *arg; /* rsync's argument, or for R_NOTE why there is none */
} rsync_keys[] = {
	{"acls", R_FLAG, "--acls"},
	{"append", R_FLAG, "--append"},
	{"append_verify", R_FLAG, "--append-verify"},
	{"archive", R_ALWAYS, NULL},
	{"backup", R_FLAG, "--backup"},
	{"backup_dir", R_VALUE, "--backup-dir="},
	{"binary", R_NOTE, "lifeboat runs the rsync found in PATH"},
	{"bwlimit", R_BWLIMIT, NULL},
	{"checksum", R_FLAG, "--checksum"},
	{"chmod", R_VALUE, "--chmod="},
	{"chown", R_VALUE, "--chown="},
	{"compress", R_COMPRESS, NULL},
	{"copy_dirlinks", R_FLAG, "--copy-dirlinks"},
	{"copy_links", R_FLAG, "--copy-links"},
	{"copy_unsafe_links", R_FLAG, "--copy-unsafe-links"},
	{"cvs_exclude", R_FLAG, "--cvs-exclude"},
	{"devices", R_ALWAYS, NULL},
	{"dry_run", R_NOTE, "lsyncd was told not to change the target; lifeboat changes it"},
	{"executability", R_FLAG, "--executability"},
	{"existing", R_FLAG, "--existing"},
	{"group", R_ALWAYS, NULL},
	{"groupmap", R_VALUE, "--groupmap="},
	{"hard_links", R_ALWAYS, NULL},
	{"ignore_times", R_FLAG, "--ignore-times"},
	{"inplace", R_FLAG, "--inplace"},
	{"ipv4", R_FLAG, "--ipv4"},
	{"ipv6", R_FLAG, "--ipv6"},
	{"keep_dirlinks", R_FLAG, "--keep-dirlinks"},
	{"links", R_ALWAYS, NULL},
	{"one_file_system", R_FLAG, "--one-file-system"},
	{"omit_dir_times", R_FLAG, "--omit-dir-times"},
	{"omit_link_times", R_FLAG, "--omit-link-times"},
	{"owner", R_ALWAYS, NULL},
	{"password_file", R_NOTE, "a password for an rsync daemon; lifeboat ships over ssh"},
	{"perms", R_ALWAYS, NULL},
	{"protect_args", R_ALWAYS, NULL},
	{"prune_empty_dirs", R_FLAG, "--prune-empty-dirs"},
	{"quiet", R_NOTE, "lifeboat logs one line per problem; -q keeps errors only"},
	{"recursive", R_ALWAYS, NULL},
	{"rsh", R_RSH, NULL},
	{"rsync_path", R_VALUE, "--rsync-path="},
	{"sparse", R_FLAG, "--sparse"},
	{"specials", R_ALWAYS, NULL},
	{"suffix", R_VALUE, "--suffix="},
	{"temp_dir", R_VALUE, "--temp-dir="},
	{"timeout", R_VALUE, "--timeout="},
	{"times", R_ALWAYS, NULL},
	{"update", R_FLAG, "--update"},
	{"usermap", R_VALUE, "--usermap="},
	{"verbose", R_NOTE, "`lifeboat -v sync` logs each transfer"},
	{"whole_file", R_FLAG, "--whole-file"},
	{"xattrs", R_FLAG, "--xattrs"},
	{"_extra", R_EXTRA, NULL},
};

static void map_rsync_key(struct import *im, lua_State *L, const struct rsync_key *k, int v)
{
	char what[64], num[64];
	snprintf(what, sizeof(what), "rsync.%s", k->key);
	const char *text = scalar_text(L, v, num, sizeof(num));
	bool on = lua_toboolean(L, v);
	switch (k->how) {
	case R_ALWAYS:
		if (!on)
			value_note(im, what, L, v,
				   "lifeboat always copies with rsync -aH (links, permissions, times, "
				   "group, owner, devices, hard links)");
		break;
	case R_FLAG:
		if (on && lua_type(L, v) == LUA_TBOOLEAN)
			add_rsync_arg(im, what, k->arg);
		else if (lua_type(L, v) != LUA_TBOOLEAN)
			value_note(im, what, L, v, "not true or false");
		break;
	case R_VALUE:
		if (text) {
			char *arg = xasprintf("%s%s", k->arg, text);
			add_rsync_arg(im, what, arg);
			free(arg);
		} else if (on) {
			value_note(im, what, L, v, "not a value rsync takes");
		}
		break;
	case R_COMPRESS:
		im->cur.compress = on;
		break;
	case R_BWLIMIT:
		if (text)
			set_bwlimit(im, what, text);
		else
			value_note(im, what, L, v, "not a rate");
		break;
	case R_RSH:
		if (text)
			map_rsh(im, text);
		else
			value_note(im, what, L, v, "not a command");
		break;
	case R_EXTRA:
		map_extra(im, L, v);
		break;
	case R_NOTE:
		value_note(im, what, L, v, k->arg);
		break;
	}
}

static const struct rsync_key *find_rsync_key(const char *key)
{
	for (size_t i = 0; i < ARRAY_LEN(rsync_keys); i++)
		if (strcmp(rsync_keys[i].key, key) == 0)
			return &rsync_keys[i];
	return NULL;
}

static void map_rsync(struct import *im, lua_State *L, int own)
{
	lua_pushstring(L, "rsync");
	lua_rawget(L, own);
	int t = lua_gettop(L);
	if (lua_type(L, t) == LUA_TTABLE) {
		struct strv keys;
		strv_init(&keys);
		sorted_keys(L, t, &keys);
		for (size_t i = 0; i < keys.len; i++) {
			lua_pushstring(L, keys.items[i]);
			lua_rawget(L, t);
			const struct rsync_key *k = find_rsync_key(keys.items[i]);
			if (k)
				map_rsync_key(im, L, k, lua_gettop(L));
			else
				sync_note(im, "rsync.%s: not an rsync option lsyncd knows; ignored",
					  keys.items[i]);
			lua_pop(L, 1);
		}
		strv_free(&keys);
	}
	bool archive = false;
	if (lua_type(L, t) == LUA_TTABLE) {
		lua_pushstring(L, "archive");
		lua_rawget(L, t);
		archive = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (!archive)
		sync_note(im, "lsyncd's rsync copied links and times (archive not set); lifeboat "
			      "copies with -aH: permissions, owners, groups and hard links too");
	lua_pop(L, 1);
}

static void map_ssh_options(struct import *im, lua_State *L, int t)
{
	struct strv keys;
	strv_init(&keys);
	sorted_keys(L, t, &keys);
	char num[64];
	for (size_t i = 0; i < keys.len; i++) {
		lua_pushstring(L, keys.items[i]);
		lua_rawget(L, t);
		const char *v = scalar_text(L, -1, num, sizeof(num));
		if (v) {
			char *o = xasprintf("%s=%s", keys.items[i], v);
			add_ssh_option(im, "ssh.options", "-o");
			add_ssh_option(im, "ssh.options", o);
			free(o);
		} else {
			value_note(im, "ssh.options", L, lua_gettop(L), "not an ssh option value");
		}
		lua_pop(L, 1);
	}
	strv_free(&keys);
}

static void map_ssh_key(struct import *im, lua_State *L, const char *key, int v)
{
	char num[64];
	const char *text = scalar_text(L, v, num, sizeof(num));
	if (strcmp(key, "port") == 0 && text) {
		set_ssh_once(im, &im->cur.ssh_port, "ssh_port", text, "ssh.port");
	} else if (strcmp(key, "identityFile") == 0 && text) {
		set_ssh_once(im, &im->cur.ssh_identity, "ssh_identity", text, "ssh.identityFile");
	} else if (strcmp(key, "options") == 0 && lua_type(L, v) == LUA_TTABLE) {
		map_ssh_options(im, L, v);
	} else if (strcmp(key, "_extra") == 0 && lua_type(L, v) == LUA_TTABLE) {
		for (lua_Integer i = 1; lua_rawgeti(L, v, i) != LUA_TNIL; i++) {
			if (lua_type(L, -1) == LUA_TSTRING)
				add_ssh_option(im, "ssh._extra", lua_tostring(L, -1));
			else
				value_note(im, "ssh._extra", L, lua_gettop(L), "not an argument");
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	} else if (strcmp(key, "binary") == 0) {
		value_note(im, "ssh.binary", L, v, "lifeboat runs the ssh found in PATH");
	} else {
		char what[128];
		snprintf(what, sizeof(what), "ssh.%s", key);
		value_note(im, what, L, v, "not an ssh setting lsyncd knows; ignored");
	}
}

static void map_ssh(struct import *im, lua_State *L, int own)
{
	lua_pushstring(L, "ssh");
	lua_rawget(L, own);
	int t = lua_gettop(L);
	if (lua_type(L, t) == LUA_TTABLE) {
		struct strv keys;
		strv_init(&keys);
		sorted_keys(L, t, &keys);
		for (size_t i = 0; i < keys.len; i++) {
			lua_pushstring(L, keys.items[i]);
			lua_rawget(L, t);
			map_ssh_key(im, L, keys.items[i], lua_gettop(L));
			lua_pop(L, 1);
		}
		strv_free(&keys);
	} else if (!lua_isnil(L, t)) {
		value_note(im, "ssh", L, t, "not a table");
	}
	lua_pop(L, 1);
}

/* Keys the mapping above took care of. */
static bool handled_key(const char *k)
{
	static const char *const keys[] = {"source", "target", "host", "targetdir", "delay",
					   "exclude", "excludeFrom", "filter", "filterFrom",
					   "delete", "rsync", "ssh", "checkgauge"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i], k) == 0)
			return true;
	return false;
}

static bool action_key(const char *k)
{
	static const char *const keys[] = {"action", "init", "collect", "prepare", "onStartup",
					   "onCreate", "onModify", "onDelete", "onAttrib", "onMove"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i], k) == 0)
			return true;
	return false;
}

static void map_other(struct import *im, lua_State *L, int own, bool custom)
{
	struct strv keys;
	strv_init(&keys);
	sorted_keys(L, own, &keys);
	for (size_t i = 0; i < keys.len; i++) {
		const char *k = keys.items[i];
		if (handled_key(k))
			continue;
		lua_pushstring(L, k);
		lua_rawget(L, own);
		int v = lua_gettop(L);
		if (strcmp(k, "init") == 0 && lua_type(L, v) == LUA_TBOOLEAN && !lua_toboolean(L, v))
			value_note(im, k, L, v,
				   "lsyncd skipped the startup sync; lifeboat always makes the target "
				   "match the source at startup (delete = running spares what only the "
				   "target has)");
		else if (action_key(k))
			value_note(im, k, L, v,
				   custom ? "a custom Lua action, no lifeboat equivalent"
					  : "a custom Lua action, no lifeboat equivalent: lifeboat ships "
					    "every change with rsync and runs nothing else");
		else if (strcmp(k, "maxProcesses") == 0 || strcmp(k, "maxDelays") == 0)
			value_note(im, k, L, v, "no equivalent: one transfer at a time, after `delay`");
		else if (strstr(k, "xitCodes") || strcmp(k, "exitcodes") == 0)
			value_note(im, k, L, v,
				   "no equivalent: lifeboat judges rsync's and ssh's exit codes itself "
				   "(network codes retry)");
		else
			value_note(im, k, L, v, "no lifeboat equivalent; ignored");
		lua_pop(L, 1);
	}
	strv_free(&keys);
}

static void finish_keys(struct import *im)
{
	struct sync_out *o = &im->cur;
	if (o->compress)
		set_key(im, "compress", "yes");
	if (o->bwlimit)
		set_key(im, "bwlimit", o->bwlimit);
	if (o->ssh_port)
		set_key_checked(im, "ssh_port", o->ssh_port, "ssh port");
	if (o->ssh_identity)
		set_key_checked(im, "ssh_identity", o->ssh_identity, "ssh identity");
	struct buf j;
	buf_init(&j);
	for (size_t i = 0; i < o->ssh_options.len; i++)
		buf_addf(&j, "%s%s", i ? " " : "", o->ssh_options.items[i]);
	if (j.len)
		set_key(im, "ssh_options", j.data);
	buf_reset(&j);
	for (size_t i = 0; i < o->rsync_args.len; i++)
		buf_addf(&j, "%s%s", i ? " " : "", o->rsync_args.items[i]);
	if (j.len)
		set_key(im, "rsync_args", j.data);
	buf_free(&j);
}

/* lifeboat's own loader judges the section; what it refuses is printed
 * commented out with its reason. */
static void check_section(struct import *im, const char *name)
{
	if (im->cur.reason)
		return;
	char *text = xasprintf("[sync %s]\n%s", name, im->cur.keys.data ? im->cur.keys.data : "");
	struct config cfg;
	char *err = NULL;
	if (config_load_text("import", text, strlen(text), &cfg, &err) == 0) {
		config_free(&cfg);
	} else {
		const char *why = err;
		if (strncmp(why, "import:", 7) == 0) {
			why = strchr(why + 7, ':');
			why = why ? why + 1 + (why[1] == ' ') : err;
		}
		not_imported(im, "lifeboat refuses it: %s", why);
	}
	free(err);
	free(text);
}

static void emit_section(struct import *im, const char *name, const char *kind)
{
	struct sync_out *o = &im->cur;
	bool off = o->reason != NULL;
	buf_addf(&im->out, "\n%s[sync %s]\n", off ? "; " : "", name);
	if (strcmp(kind, "custom") == 0)
		add_note(&im->out, im->where, "sync{} with its own Lua layer");
	else
		add_note(&im->out, im->where, "sync{default.%s}", kind);
	if (off)
		add_note(&im->out, NULL, "NOT IMPORTED: %s", o->reason);
	buf_add(&im->out, o->notes.data ? o->notes.data : "", o->notes.len);
	const char *p = o->keys.data ? o->keys.data : "";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_addf(&im->out, "%s%.*s\n", off ? "; " : "", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

static void render_sync(struct import *im, lua_State *L, int rec)
{
	sync_out_reset(&im->cur);
	location(im, field_str(L, rec, "src"), field_int(L, rec, "line"), im->where,
		 sizeof(im->where));
	const char *kind = field_str(L, rec, "kind");
	kind = kind ? kind : "custom";
	bool custom = strcmp(kind, "custom") == 0;
	lua_pushstring(L, "own");
	lua_rawget(L, rec);
	int own = lua_gettop(L);
	const char *source = field_str(L, own, "source");
	char *name = sync_name(im, source);
	if (custom)
		not_imported(im, "lsyncd ran its own Lua actions here, not rsync; lifeboat only "
				 "replicates a directory with rsync");
	map_source(im, source);
	map_target(im, L, own, kind);
	map_delay(im, L, rec, own, kind);
	map_pattern_list(im, L, own, "exclude", false);
	map_pattern_list(im, L, own, "filter", true);
	map_pattern_file(im, L, own, "excludeFrom");
	map_pattern_file(im, L, own, "filterFrom");
	map_delete(im, L, own);
	if (!custom) {
		map_rsync(im, L, own);
		map_ssh(im, L, own);
	}
	map_other(im, L, own, custom);
	finish_keys(im);
	check_section(im, name);
	emit_section(im, name, kind);
	free(name);
	lua_pop(L, 1);
}

static void render_notes(struct import *im, lua_State *L, int notes)
{
	char where[256];
	lua_Integer total = (lua_Integer)lua_rawlen(L, notes);
	for (lua_Integer i = 1; lua_rawgeti(L, notes, i) == LUA_TTABLE; i++) {
		if (i > MAX_NOTES) {
			add_note(&im->out, NULL, "... and %lld more like these", (long long)(total - i + 1));
			break; /* the note left on the stack goes with the end's pop */
		}
		int n = lua_gettop(L);
		location(im, field_str(L, n, "src"), field_int(L, n, "line"), where, sizeof(where));
		const char *text = field_str(L, n, "text");
		add_note(&im->out, where, "%s", text ? text : "?");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* The sandbox's reader: what the file recorded becomes the configuration. */
static void render(lua_State *L, int set, int lines, int syncs, int notes, void *arg)
{
	struct import *im = arg;
	buf_adds(&im->out, "; lifeboat configuration imported from ");
	for (const char *p = im->path; *p; p++)
		buf_addc(&im->out, (unsigned char)*p < 0x20 ? '?' : *p);
	buf_adds(&im->out,
		 " by `lifeboat import-lsyncd`.\n"
		 "; Lines starting with ';' say what lsyncd did that lifeboat does not do, or\n"
		 "; does otherwise, with the line of the lsyncd file: read them before use.\n");
	size_t n = lua_rawlen(L, syncs);
	if (n > MAX_SYNCS)
		luaL_error(L, "%s: %d sync{} calls; an import takes at most %d", im->path, (int)n,
			   MAX_SYNCS);
	render_notes(im, L, notes);
	render_settings(im, L, set, lines);
	for (size_t i = 1; i <= n; i++) {
		if (lua_rawgeti(L, syncs, (lua_Integer)i) == LUA_TTABLE)
			render_sync(im, L, lua_gettop(L));
		lua_pop(L, 1);
	}
	if (n == 0)
		buf_adds(&im->out, "\n; the file has no sync{}: there is nothing to replicate\n");
}

static void import_init(struct import *im, const char *path)
{
	memset(im, 0, sizeof(*im));
	im->path = path;
	im->chunkname = xasprintf("@%s", path);
	char *cwd = getcwd(NULL, 0);
	im->cwd = cwd ? cwd : xstrdup("/");
	buf_init(&im->out);
	strv_init(&im->names);
	sync_out_reset(&im->cur);
}

static void import_free(struct import *im)
{
	free(im->chunkname);
	free(im->cwd);
	buf_free(&im->out);
	strv_free(&im->names);
	sync_out_reset(&im->cur);
	buf_free(&im->cur.keys);
	buf_free(&im->cur.notes);
	strv_free(&im->cur.rsync_args);
	strv_free(&im->cur.ssh_options);
}

int lsyncd_import(const char *path, char **out, char **err)
{
	struct import im;
	import_init(&im, path);
	*out = NULL;
	int rc = lsyncd_sandbox_run(path, render, &im, err);
	if (rc == 0) {
		struct config cfg;
		char *cerr = NULL;
		if (config_load_text(path, im.out.data, im.out.len, &cfg, &cerr) < 0) {
			*err = xasprintf("the configuration made from %s does not load (a bug): %s",
					 path, cerr);
			free(cerr);
			rc = -1;
		} else {
			config_free(&cfg);
			*out = buf_steal(&im.out);
		}
	}
	import_free(&im);
	return rc;
}
