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
/* A number written with `decimals` decimals; null when negative (unknown). */
json_object *json_fixed_new(double v, int decimals);
/* A boolean. */
static inline json_object *json_bool_new(bool b)
{
	return json_object_new_boolean(b);
}
/* The text of o without pretty-printing or escaped slashes (owned by o). */
const char *json_text(json_object *o);
/* Append the text of o and a newline to b, then release o. */
void json_emit(struct buf *b, json_object *o);

#endif
