#include "ini.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* An inline comment starts at ';' or '#' preceded by a blank, so that
 * "exclude = a#b" keeps its '#'. */
static void strip_inline_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') && p > s && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

static int fail(char **err, const char *name, int line, const char *msg)
{
	*err = xasprintf("%s:%d: %s", name, line, msg);
	return -1;
}

static int parse_line(const char *name, int lineno, char *line, char **section,
		      ini_handler handler, void *ctx, char **err)
{
	char *s = trim(line);
	if (lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
	    (unsigned char)s[2] == 0xBF)
		s = trim(s + 3); /* UTF-8 byte order mark */
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;

	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close)
			return fail(err, name, lineno, "section header without closing ']'");
		*close = '\0';
		char *rest = trim(close + 1);
		if (*rest && *rest != ';' && *rest != '#')
			return fail(err, name, lineno, "unexpected text after section header");
		char *sec = trim(s + 1);
		if (!*sec)
			return fail(err, name, lineno, "empty section name");
		free(*section);
		*section = xstrdup(sec);
		const char *msg = handler(ctx, lineno, *section, NULL, NULL);
		return msg ? fail(err, name, lineno, msg) : 0;
	}

	char *eq = strchr(s, '=');
	if (!eq)
		return fail(err, name, lineno, "expected 'key = value' or '[section]'");
	*eq = '\0';
	char *key = trim(s);
	char *value = eq + 1;
	strip_inline_comment(value);
	value = trim(value);
	if (!*key)
		return fail(err, name, lineno, "missing key before '='");
	if (!**section)
		return fail(err, name, lineno, "key outside of any [section]");
	const char *msg = handler(ctx, lineno, *section, key, value);
	return msg ? fail(err, name, lineno, msg) : 0;
}

int ini_parse(const char *name, const char *text, size_t len, ini_handler handler, void *ctx,
	      char **err)
{
	char *section = xstrdup("");
	int lineno = 0;
	size_t pos = 0;
	int rc = 0;
	*err = NULL;
	while (pos < len && rc == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (memchr(text + pos, '\0', n)) {
			rc = fail(err, name, lineno, "NUL byte in configuration");
			break;
		}
		char *line = xstrndup(text + pos, n);
		rc = parse_line(name, lineno, line, &section, handler, ctx, err);
		free(line);
		pos += n + 1;
	}
	free(section);
	return rc;
}
