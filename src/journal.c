/* journal: see journal.h. Records are text lines so an administrator can
 * read (and, in an emergency, edit) the journal; a torn last line from a
 * crash mid-write is ignored, and cut off before the next record is
 * appended (it would otherwise glue onto it). */
#include "journal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct journal_step *find_step(const struct journal *j, const char *name)
{
	for (size_t i = 0; i < j->n_steps; i++)
		if (strcmp(j->steps[i].name, name) == 0)
			return &j->steps[i];
	return NULL;
}

static struct journal_step *get_step(struct journal *j, const char *name)
{
	struct journal_step *s = find_step(j, name);
	if (s)
		return s;
	j->steps = xrealloc(j->steps, (j->n_steps + 1) * sizeof(*j->steps));
	s = &j->steps[j->n_steps++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	return s;
}

static void set_fact(struct journal *j, const char *key, const char *value)
{
	for (size_t i = 0; i < j->n_facts; i++) {
		if (strcmp(j->facts[i].key, key) == 0) {
			free(j->facts[i].value);
			j->facts[i].value = xstrdup(value);
			return;
		}
	}
	j->facts = xrealloc(j->facts, (j->n_facts + 1) * sizeof(*j->facts));
	j->facts[j->n_facts].key = xstrdup(key);
	j->facts[j->n_facts++].value = xstrdup(value);
}

/* Split "WORD REST": returns WORD (NUL-terminated in place), *rest after it. */
static char *word(char *s, char **rest)
{
	char *sp = strchr(s, ' ');
	if (sp) {
		*sp = '\0';
		*rest = sp + 1;
	} else {
		*rest = s + strlen(s);
	}
	return s;
}

static void apply_line(struct journal *j, char *line)
{
	char *rest;
	const char *kind = word(line, &rest);
	if (strcmp(kind, "begin") == 0) {
		j->begun = strtod(rest, NULL);
	} else if (strcmp(kind, "end") == 0) {
		j->finished = strtod(rest, NULL);
	} else if (strcmp(kind, "start") == 0 || strcmp(kind, "done") == 0) {
		const char *name = word(rest, &rest);
		char *note;
		double t = strtod(word(rest, &note), NULL);
		struct journal_step *s = get_step(j, name);
		if (kind[0] == 's') {
			if (!s->started)
				s->started = t; /* a re-run keeps the first start */
		} else {
			s->ended = t;
			free(s->note);
			s->note = xstrdup(note);
		}
	} else if (strcmp(kind, "fact") == 0) {
		const char *key = word(rest, &rest);
		set_fact(j, key, rest);
	}
}

static void load(struct journal *j, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			/* torn last record: never completed, ignored */
			j->torn_at = (long long)(p - text);
			break;
		}
		char *line = xstrndup(p, (size_t)(nl - p));
		apply_line(j, line);
		free(line);
		p = nl + 1;
	}
}

int journal_open(struct journal *j, const char *state_dir, const char *name, char **err)
{
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->torn_at = -1;
	if (mkdir_p(state_dir, 0755) < 0) {
		*err = xasprintf("cannot create state_dir %s: %s", state_dir, strerror(errno));
		return -1;
	}
	j->path = xasprintf("%s/%s", state_dir, name);
	j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		*err = xasprintf("cannot open the journal %s: %s", j->path, strerror(errno));
		return -1;
	}
	size_t len = 0;
	char *text = read_file(j->path, &len);
	if (text) {
		load(j, text, len);
		free(text);
	}
	return 0;
}

static void clear(struct journal *j)
{
	for (size_t i = 0; i < j->n_steps; i++) {
		free(j->steps[i].name);
		free(j->steps[i].note);
	}
	free(j->steps);
	for (size_t i = 0; i < j->n_facts; i++) {
		free(j->facts[i].key);
		free(j->facts[i].value);
	}
	free(j->facts);
	j->steps = NULL;
	j->facts = NULL;
	j->n_steps = j->n_facts = 0;
	j->begun = j->finished = 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	clear(j);
	free(j->path);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->torn_at = -1;
}

int journal_archive(struct journal *j, char **err)
{
	char stamp[32];
	time_t t = (time_t)(j->begun ? j->begun : now_wall());
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	char *to = xasprintf("%s.%s", j->path, stamp);
	int rc = rename(j->path, to);
	if (rc < 0)
		*err = xasprintf("cannot move %s to %s: %s", j->path, to, strerror(errno));
	free(to);
	if (rc < 0)
		return -1;
	close(j->fd);
	clear(j);
	j->torn_at = -1;
	j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		*err = xasprintf("cannot open the journal %s: %s", j->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* One record, durable before the caller acts on it. Newlines in values
 * would split a record: they become blanks. */
static int append(struct journal *j, char *line, char **err)
{
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	struct buf b;
	buf_init(&b);
	buf_adds(&b, line);
	buf_addc(&b, '\n');
	/* Only a writer cuts: `status` may read the journal meanwhile. */
	int rc = j->torn_at >= 0 ? ftruncate(j->fd, (off_t)j->torn_at) : 0;
	if (rc == 0) {
		j->torn_at = -1;
		rc = write_all(j->fd, b.data, b.len);
	}
	if (rc == 0)
		rc = fsync(j->fd);
	if (rc < 0)
		*err = xasprintf("cannot write the journal %s: %s", j->path, strerror(errno));
	else
		apply_line(j, line);
	buf_free(&b);
	free(line);
	return rc < 0 ? -1 : 0;
}

int journal_begin(struct journal *j, char **err)
{
	return append(j, xasprintf("begin %.3f %ld", now_wall(), (long)getpid()), err);
}

int journal_start(struct journal *j, const char *step, char **err)
{
	return append(j, xasprintf("start %s %.3f", step, now_wall()), err);
}

int journal_done(struct journal *j, const char *step, const char *note, char **err)
{
	return append(j, xasprintf("done %s %.3f %s", step, now_wall(), note ? note : ""), err);
}

int journal_fact(struct journal *j, const char *key, const char *value, char **err)
{
	return append(j, xasprintf("fact %s %s", key, value ? value : ""), err);
}

int journal_end(struct journal *j, char **err)
{
	return append(j, xasprintf("end %.3f", now_wall()), err);
}

const struct journal_step *journal_step(const struct journal *j, const char *step)
{
	return find_step(j, step);
}

bool journal_step_done(const struct journal *j, const char *step)
{
	const struct journal_step *s = find_step(j, step);
	return s && s->ended > 0;
}

const char *journal_get(const struct journal *j, const char *key)
{
	for (size_t i = 0; i < j->n_facts; i++)
		if (strcmp(j->facts[i].key, key) == 0)
			return j->facts[i].value;
	return NULL;
}

double journal_get_num(const struct journal *j, const char *key, double dflt)
{
	const char *v = journal_get(j, key);
	char *end;
	if (!v || !*v)
		return dflt;
	double d = strtod(v, &end);
	return *end ? dflt : d;
}
