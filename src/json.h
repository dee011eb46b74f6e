/* json: small helpers over json-c, the one JSON writer of lifeboat (status
 * file, control socket, --json output). Strings are written as json-c
 * writes them: UTF-8 passes through as it is, so `/srv/café` reads back as
 * `/srv/café`; control characters, quotes and backslashes are escaped. */
#ifndef LIFEBOAT_JSON_H
#define LIFEBOAT_JSON_H

#include <json-c/json.h>

#include "util.h"

/* A string value, or JSON null for NULL (the caller owns the object). */
json_object *json_string_or_null(const char *s);
/* An ISO 8601 UTC time string, or null for 0. */
json_object *json_time_new(double unix_time);
/* A number written with 3 decimals (times in seconds). */
json_object *json_seconds_new(double seconds);
/* The text of o without pretty-printing or escaped slashes (owned by o). */
const char *json_text(json_object *o);

/* For output built as text: append s as a JSON string (null for NULL). */
void json_str(struct buf *b, const char *s);
/* "key": with a comma before it unless first. */
void json_key(struct buf *b, const char *key, bool *first);
/* An ISO 8601 UTC time, or null for 0. */
void json_time(struct buf *b, double unix_time);

#endif
