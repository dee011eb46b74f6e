/* json: just enough JSON writing for status files and --json output.
 * Strings are bytes (file names need not be UTF-8): bytes that are not
 * printable ASCII are written as \u00XX so the output is always valid JSON. */
#ifndef LIFEBOAT_JSON_H
#define LIFEBOAT_JSON_H

#include "util.h"

void json_str(struct buf *b, const char *s);
/* "key": with a comma before it unless first. */
void json_key(struct buf *b, const char *key, bool *first);
/* An ISO 8601 UTC time, or null for 0. */
void json_time(struct buf *b, double unix_time);

#endif
