#include "manifest_diff.h"

#include <stdlib.h>
#include <string.h>

void manifest_diff_init(struct manifest_diff *d)
{
	memset(d, 0, sizeof(*d));
	strv_init(&d->trees);
	strv_init(&d->new_files);
	strv_init(&d->paths);
}

void manifest_diff_free(struct manifest_diff *d)
{
	strv_free(&d->trees);
	strv_free(&d->new_files);
	strv_free(&d->paths);
	free(d->why);
	d->why = NULL;
}

/* One side of the merge: its current entry. */
struct cursor {
	const struct manifest_side *side;
	struct manifest_entry e;
	bool have;
	uint64_t *count;
};

struct merge {
	struct cursor s, t;
	const struct manifest_diff_opts *o;
	struct manifest_diff *d;
	char **err;
	int failed;
};

static void advance(struct merge *m, struct cursor *c)
{
	if (m->failed || !c->have)
		return;
	int rc = c->side->next(c->side->arg, &c->e, m->err);
	c->have = rc == 1;
	if (rc < 0)
		m->failed = -1;
	else if (rc == 1)
		(*c->count)++;
}

static void go_full(struct merge *m, const char *why, const char *path)
{
	if (m->d->full)
		return;
	m->d->full = true;
	m->d->why = xasprintf("%s%s%s", why, path ? ": " : "", path ? path : "");
}

/* rsync keeps a hard link only between names it sends in one transfer:
 * any hard-linked file to ship makes the whole pass rsync's. */
static void note_links(struct merge *m, const struct manifest_entry *e)
{
	if (e->type == 'f' && (e->nlink > 1 || e->leader))
		go_full(m, "a hard-linked file differs", e->path);
}

/* Past the current entry and everything under it. */
static void skip_tree(struct merge *m, struct cursor *c, bool source)
{
	char *dir = xstrdup(c->e.path);
	if (source)
		note_links(m, &c->e);
	advance(m, c);
	while (c->have && !m->failed && manifest_under(c->e.path, dir)) {
		if (source)
			note_links(m, &c->e);
		advance(m, c);
	}
	free(dir);
}

static bool same_owner(uint32_t s_id, uint32_t t_id, const char *s_name, const char *t_name,
		       bool by_name)
{
	if (!by_name || s_id == 0)
		return s_id == t_id;
	if (s_name && t_name && !strcmp(s_name, t_name))
		return true;
	/* A name the target lacks keeps its number (rsync's mapping). */
	return s_id == t_id && (!s_name || !t_name);
}

bool manifest_entry_differs(const struct manifest_entry *s, const struct manifest_entry *t,
			    const struct manifest_diff_opts *o)
{
	if (s->type != t->type || s->mode != t->mode || s->sec != t->sec || s->nsec != t->nsec)
		return true;
	if (o->owners && (!same_owner(s->uid, t->uid, s->user, t->user, o->by_name) ||
			  !same_owner(s->gid, t->gid, s->group, t->group, o->by_name)))
		return true;
	switch (s->type) {
	case 'f':
	case 'c':
	case 'b':
		return s->size != t->size;
	case 'l':
		return strcmp(s->target, t->target) != 0;
	default:
		return false;
	}
}

static bool same_leader(const struct manifest_entry *s, const struct manifest_entry *t)
{
	if (!s->leader || !t->leader)
		return !s->leader && !t->leader;
	return strcmp(s->leader, t->leader) == 0;
}

static void add(struct merge *m, struct strv *list, const char *path)
{
	strv_push(list, path);
	size_t n = m->d->trees.len + m->d->new_files.len + m->d->paths.len;
	if (m->o->max_paths && n > m->o->max_paths)
		go_full(m, "more differences than a path list is worth", NULL);
}

/* Only the source has it. */
static void source_only(struct merge *m)
{
	struct manifest_entry *e = &m->s.e;
	if (e->type == 'd') {
		add(m, &m->d->trees, e->path);
		skip_tree(m, &m->s, true);
		return;
	}
	note_links(m, e);
	add(m, e->type == 'f' ? &m->d->new_files : &m->d->paths, e->path);
	advance(m, &m->s);
}

/* Only the target has it: deleted (with what is under it) when allowed. */
static void target_only(struct merge *m)
{
	if (m->o->deletes)
		add(m, &m->d->paths, m->t.e.path);
	if (m->t.e.type == 'd')
		skip_tree(m, &m->t, false);
	else
		advance(m, &m->t);
}

static void both(struct merge *m)
{
	const struct manifest_entry *s = &m->s.e, *t = &m->t.e;
	if (s->type != t->type) {
		if (s->type == 'd') {
			add(m, &m->d->trees, s->path);
			skip_tree(m, &m->s, true);
			advance(m, &m->t);
		} else {
			note_links(m, s);
			add(m, &m->d->paths, s->path);
			advance(m, &m->s);
			if (t->type == 'd')
				skip_tree(m, &m->t, false);
			else
				advance(m, &m->t);
		}
		return;
	}
	if (s->type == 'f' && !same_leader(s, t))
		go_full(m, "hard links differ", s->path);
	if (manifest_entry_differs(s, t, m->o)) {
		note_links(m, s);
		add(m, &m->d->paths, s->path);
	}
	advance(m, &m->s);
	advance(m, &m->t);
}

/* The top directories: their times are the syncer's to copy; a different
 * mode or owner only a full pass sets. */
static void tops(struct merge *m)
{
	const struct manifest_entry *s = &m->s.e, *t = &m->t.e;
	if (!m->s.have || !m->t.have || s->path[0] || t->path[0] || s->type != 'd' || t->type != 'd') {
		go_full(m, "no top directory to compare", NULL);
		return;
	}
	struct manifest_entry times_only = *t;
	times_only.sec = s->sec;
	times_only.nsec = s->nsec;
	if (manifest_entry_differs(s, &times_only, m->o))
		go_full(m, "the top directory's mode or owner differ", NULL);
	else if (s->sec != t->sec || s->nsec != t->nsec)
		m->d->root_times = true;
	advance(m, &m->s);
	advance(m, &m->t);
}

int manifest_diff_run(const struct manifest_side *src, const struct manifest_side *tgt,
		      const struct manifest_diff_opts *o, struct manifest_diff *d, char **err)
{
	struct merge m = {.s = {.side = src, .have = true, .count = &d->source_entries},
			  .t = {.side = tgt, .have = true, .count = &d->target_entries},
			  .o = o, .d = d, .err = err};
	advance(&m, &m.s);
	advance(&m, &m.t);
	if (!m.failed)
		tops(&m);
	while (!m.failed && !d->full && (m.s.have || m.t.have)) {
		if (o->cancel && *o->cancel) {
			*err = xstrdup("cancelled");
			return -1;
		}
		int c = !m.t.have ? -1 : !m.s.have ? 1 : manifest_pathcmp(m.s.e.path, m.t.e.path);
		if (c < 0)
			source_only(&m);
		else if (c > 0)
			target_only(&m);
		else
			both(&m);
	}
	return m.failed;
}
