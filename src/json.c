#include "json.h"

#include <time.h>

void json_str(struct buf *b, const char *s)
{
	if (!s) {
		buf_adds(b, "null");
		return;
	}
	buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)*p);
		} else if (*p == '\n') {
			buf_adds(b, "\\n");
		} else if (*p == '\t') {
			buf_adds(b, "\\t");
		} else if (*p < 0x20 || *p >= 0x7f) {
			buf_addf(b, "\\u%04x", *p);
		} else {
			buf_addc(b, (char)*p);
		}
	}
	buf_addc(b, '"');
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
	if (unix_time <= 0) {
		buf_adds(b, "null");
		return;
	}
	time_t t = (time_t)unix_time;
	struct tm tm;
	gmtime_r(&t, &tm);
	char s[40];
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_str(b, s);
}
