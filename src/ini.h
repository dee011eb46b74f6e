/* ini: a strict INI tokenizer. It owns no configuration meaning; it hands
 * each [section] and key = value to a callback with its line number.
 *
 * Why not inih: Debian's libinih is built with a 200-byte line limit (longer
 * lines are silently split), treats indented lines as continuations, and does
 * not pass line numbers to the handler; the SPEC needs all three right. */
#ifndef LIFEBOAT_INI_H
#define LIFEBOAT_INI_H

#include <stddef.h>

/* Called for "[section]" with key == NULL, and for every key = value.
 * Return NULL to go on, or an error message (static or owned by the callee
 * until the parse returns) to stop; the parser prefixes it with file:line. */
typedef const char *(*ini_handler)(void *ctx, int line, const char *section,
				   const char *key, const char *value);

/* Parse text of the given length. Returns 0, or -1 with *err set to a
 * malloc'd "NAME:LINE: message" string (caller frees). */
int ini_parse(const char *name, const char *text, size_t len, ini_handler handler, void *ctx,
	      char **err);

#endif
