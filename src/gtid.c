#include "gtid.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool parse_u64(const char **p, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

static bool parse_one(const char **p, struct gtid *g)
{
	uint64_t d, s, n;
	if (!parse_u64(p, UINT32_MAX, &d) || **p != '-')
		return false;
	(*p)++;
	if (!parse_u64(p, UINT32_MAX, &s) || **p != '-')
		return false;
	(*p)++;
	if (!parse_u64(p, UINT64_MAX, &n))
		return false;
	g->domain = (uint32_t)d, g->server = (uint32_t)s, g->seq = n;
	return true;
}

static void skip_blanks(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

int gtid_pos_parse(const char *text, struct gtid_pos *pos)
{
	pos->items = NULL;
	pos->len = 0;
	const char *p = text ? text : "";
	skip_blanks(&p);
	while (*p) {
		struct gtid g;
		if (!parse_one(&p, &g) || gtid_pos_find(pos, g.domain))
			goto junk;
		pos->items = xrealloc(pos->items, (pos->len + 1) * sizeof(*pos->items));
		pos->items[pos->len++] = g;
		skip_blanks(&p);
		if (*p == ',') {
			p++;
			skip_blanks(&p);
			if (!*p)
				goto junk;
		} else if (*p) {
			goto junk;
		}
	}
	return 0;
junk:
	gtid_pos_free(pos);
	return -1;
}

void gtid_pos_free(struct gtid_pos *pos)
{
	free(pos->items);
	pos->items = NULL;
	pos->len = 0;
}

const struct gtid *gtid_pos_find(const struct gtid_pos *pos, uint32_t domain)
{
	for (size_t i = 0; i < pos->len; i++)
		if (pos->items[i].domain == domain)
			return &pos->items[i];
	return NULL;
}

static int cmp_domain(const void *a, const void *b)
{
	const struct gtid *x = a, *y = b;
	return x->domain < y->domain ? -1 : x->domain > y->domain;
}

char *gtid_pos_format(const struct gtid_pos *pos)
{
	struct gtid *sorted = xcalloc(pos->len + 1, sizeof(*sorted));
	if (pos->len)
		memcpy(sorted, pos->items, pos->len * sizeof(*sorted));
	qsort(sorted, pos->len, sizeof(*sorted), cmp_domain);
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < pos->len; i++)
		buf_addf(&b, "%s%u-%u-%llu", i ? "," : "", sorted[i].domain, sorted[i].server,
			 (unsigned long long)sorted[i].seq);
	free(sorted);
	return buf_steal(&b);
}

size_t gtid_find_errant(const struct gtid_pos *old_binlog, const struct gtid_pos *fork,
			struct gtid_errant **out)
{
	size_t n = 0;
	*out = NULL;
	for (size_t i = 0; i < old_binlog->len; i++) {
		const struct gtid *o = &old_binlog->items[i];
		const struct gtid *f = gtid_pos_find(fork, o->domain);
		struct gtid_errant e = {.domain = o->domain, .last = o->seq, .old_last = *o};
		if (!f) {
			e.first = 1; /* the new primary never saw this domain */
		} else if (o->seq > f->seq) {
			e.first = f->seq + 1;
		} else if (o->seq == f->seq && o->server != f->server) {
			/* Same number, other origin: the old primary's last
			 * transaction is not the one the new primary applied. */
			e.first = o->seq;
			e.diverged = true;
		} else {
			continue; /* old primary is at or behind the fork: can follow */
		}
		*out = xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = e;
	}
	return n;
}

double gtid_transactions_behind(const char *ahead, const char *behind)
{
	struct gtid_pos a, b;
	if (!ahead || !behind || gtid_pos_parse(ahead, &a) < 0)
		return -1;
	if (gtid_pos_parse(behind, &b) < 0) {
		gtid_pos_free(&a);
		return -1;
	}
	double n = 0;
	for (size_t i = 0; i < a.len; i++) {
		const struct gtid *g = gtid_pos_find(&b, a.items[i].domain);
		uint64_t have = g ? g->seq : 0;
		if (a.items[i].seq > have)
			n += (double)(a.items[i].seq - have);
	}
	gtid_pos_free(&a);
	gtid_pos_free(&b);
	return n;
}
