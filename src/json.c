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

json_object *json_fixed_new(double v, int decimals)
{
	if (v < 0)
		return NULL;
	char s[64];
	snprintf(s, sizeof(s), "%.*f", decimals, v);
	return json_object_new_double_s(v, s);
}

const char *json_text(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
}

void json_emit(struct buf *b, json_object *o)
{
	buf_adds(b, o ? json_text(o) : "null");
	buf_addc(b, '\n');
	json_object_put(o);
}
