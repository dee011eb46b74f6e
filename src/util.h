/* util: allocation that never returns NULL, growable strings, small helpers
 * shared by every module. Owns nothing itself. */
#ifndef LIFEBOAT_UTIL_H
#define LIFEBOAT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; always NUL-terminated, may hold NULs inside. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *buf_steal(struct buf *b);

/* A growable NULL-terminated array of owned strings (argv builder). */
struct strv {
	char **items;
	size_t len;
	size_t cap;
};

void strv_init(struct strv *v);
/* Is s one of v's items (a linear search)? */
bool strv_contains(const struct strv *v, const char *s);
void strv_free(struct strv *v);
void strv_push(struct strv *v, const char *s);
void strv_pushf(struct strv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_push_split(struct strv *v, const char *words); /* split on blanks */

/* Monotonic and wall clocks in milliseconds / seconds. */
int64_t now_ms(void);
double now_wall(void);

/* Parse helpers: return false on any junk, overflow or out-of-range value. */
bool parse_long(const char *s, long min, long max, long *out);
bool parse_seconds(const char *s, double max, double *out);
bool parse_bool(const char *s, bool *out);

/* write(2)/read(2) until done or error. */
int write_all(int fd, const void *data, size_t len);
/* mkdir -p; returns 0 or -1 with errno set. */
int mkdir_p(const char *path, unsigned mode);
/* Write a file atomically (temp file + rename). 0 or -1 with errno. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole small file; NULL with errno on error. Caller frees. */
char *read_file(const char *path, size_t *len);
/* Is "inner" equal to or below "outer" (both absolute, normalised)? */
bool path_is_within(const char *inner, const char *outer);
/* Strip trailing slashes except for "/" itself; returns a new string. */
char *path_normalise(const char *path);
/* Which file system holds path (or fd): the same disk mounted again gives
 * the same value, another one (an empty mount point) another; 0 on error. */
uint64_t fs_id_of_path(const char *path);
uint64_t fs_id_of_fd(int fd);

/* Test-only: LIFEBOAT_FAILPOINT=NAME makes lifeboat kill itself (SIGKILL,
 * nothing cleaned up) at the point NAME, so tests can check that a re-run
 * finishes what a killed command left. */
void failpoint(const char *name);

#endif
