#include "json.h"

#include <stdio.h>
#include <time.h>

json_object *json_string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

json_object *json_time_new(double unix_time)
{
	if (unix_time <= 0)
		return NULL;
	time_t t = (time_t)unix_time;
	struct tm tm;
	gmtime_r(&t, &tm);
	char s[40];
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(s);
}

json_object *json_seconds_new(double seconds)
{
	char s[64];
	snprintf(s, sizeof(s), "%.3f", seconds);
	return json_object_new_double_s(seconds, s);
}

const char *json_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The text form goes through json-c too, so there is one escaper. */
static void add_object(struct buf *b, json_object *o)
{
	buf_adds(b, o ? json_text(o) : "null");
	json_object_put(o);
}

void json_str(struct buf *b, const char *s)
{
	add_object(b, json_string_or_null(s));
}

void json_key(struct buf *b, const char *key, bool *first)
{
	if (!*first)
		buf_addc(b, ',');
	*first = false;
	json_str(b, key);
	buf_addc(b, ':');
}

void json_time(struct buf *b, double unix_time)
{
	add_object(b, json_time_new(unix_time));
}
