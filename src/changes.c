#include "changes.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	char *path;
	enum change_kind kind;
	bool writing;
	int64_t first_ms;    /* first seen: the file RPO starts here */
	int64_t last_mod_ms; /* last write seen, for the quiet period */
	struct entry *hnext; /* hash chain */
	struct entry *prev, *next; /* age order, oldest first */
};

struct change_queue {
	struct entry **buckets;
	size_t n_buckets;
	size_t count;
	size_t max_entries;
	struct entry *oldest, *newest;
	struct rename_op *renames;
	int64_t *rename_ms;
	size_t n_renames, cap_renames;
	bool full;
	int64_t full_ms;
	uint64_t collapses;
};

static uint64_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct change_queue *changes_new(size_t max_entries)
{
	struct change_queue *q = xcalloc(1, sizeof(*q));
	q->n_buckets = 1024;
	q->buckets = xcalloc(q->n_buckets, sizeof(*q->buckets));
	q->max_entries = max_entries < 16 ? 16 : max_entries;
	return q;
}

static void rename_ops_clear(struct change_queue *q)
{
	for (size_t i = 0; i < q->n_renames; i++) {
		free(q->renames[i].from);
		free(q->renames[i].to);
	}
	q->n_renames = 0;
}

static void entries_clear(struct change_queue *q)
{
	for (struct entry *e = q->oldest, *next; e; e = next) {
		next = e->next;
		free(e->path);
		free(e);
	}
	memset(q->buckets, 0, q->n_buckets * sizeof(*q->buckets));
	q->oldest = q->newest = NULL;
	q->count = 0;
}

void changes_free(struct change_queue *q)
{
	if (!q)
		return;
	entries_clear(q);
	rename_ops_clear(q);
	free(q->renames);
	free(q->rename_ms);
	free(q->buckets);
	free(q);
}

static struct entry *lookup(const struct change_queue *q, const char *path)
{
	for (struct entry *e = q->buckets[hash_path(path) % q->n_buckets]; e; e = e->hnext)
		if (strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

static void rehash(struct change_queue *q, size_t n)
{
	struct entry **b = xcalloc(n, sizeof(*b));
	for (struct entry *e = q->oldest; e; e = e->next) {
		size_t i = hash_path(e->path) % n;
		e->hnext = b[i];
		b[i] = e;
	}
	free(q->buckets);
	q->buckets = b;
	q->n_buckets = n;
}

static void unlink_entry(struct change_queue *q, struct entry *e)
{
	struct entry **pp = &q->buckets[hash_path(e->path) % q->n_buckets];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		q->oldest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		q->newest = e->prev;
	q->count--;
}

static void remove_entry(struct change_queue *q, struct entry *e)
{
	unlink_entry(q, e);
	free(e->path);
	free(e);
}

/* Insert keeping age order by first_ms (usually at the end). */
static struct entry *insert(struct change_queue *q, char *owned_path, enum change_kind kind,
			    int64_t first_ms)
{
	if (q->count + 1 > q->n_buckets)
		rehash(q, q->n_buckets * 2);
	struct entry *e = xcalloc(1, sizeof(*e));
	e->path = owned_path;
	e->kind = kind;
	e->first_ms = e->last_mod_ms = first_ms;
	size_t i = hash_path(e->path) % q->n_buckets;
	e->hnext = q->buckets[i];
	q->buckets[i] = e;
	struct entry *after = q->newest;
	while (after && after->first_ms > first_ms)
		after = after->prev;
	e->prev = after;
	e->next = after ? after->next : q->oldest;
	if (e->next)
		e->next->prev = e;
	else
		q->newest = e;
	if (after)
		after->next = e;
	else
		q->oldest = e;
	q->count++;
	return e;
}

/* Is path, or one of its ancestors, already pending as a whole tree? */
static bool covered_by_tree(const struct change_queue *q, const char *path)
{
	if (q->full)
		return true;
	char *tmp = xstrdup(path);
	bool covered = false;
	for (;;) {
		struct entry *e = lookup(q, tmp);
		if (e && e->kind == CH_TREE) {
			covered = true;
			break;
		}
		char *slash = strrchr(tmp, '/');
		if (!tmp[0])
			break;
		if (slash)
			*slash = '\0';
		else
			tmp[0] = '\0';
	}
	free(tmp);
	return covered;
}

static bool is_below(const char *path, const char *dir)
{
	if (!dir[0])
		return path[0] != '\0';
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static void drop_descendants(struct change_queue *q, const char *dir, int64_t *first_ms)
{
	for (struct entry *e = q->oldest, *next; e; e = next) {
		next = e->next;
		if (is_below(e->path, dir)) {
			if (e->first_ms < *first_ms)
				*first_ms = e->first_ms;
			remove_entry(q, e);
		}
	}
}

static void collapse(struct change_queue *q);

static void add_entry(struct change_queue *q, const char *path, enum change_kind kind,
		      bool writing, int64_t first_ms, int64_t now)
{
	if (covered_by_tree(q, path))
		return;
	struct entry *e = lookup(q, path);
	if (kind == CH_TREE)
		drop_descendants(q, path, &first_ms);
	if (!e)
		e = insert(q, xstrdup(path), kind, first_ms);
	else if (kind == CH_TREE)
		e->kind = CH_TREE;
	/* else: a new file stays new through its writes; an earlier change
	 * (a deletion not yet shipped) keeps it a plain path. */
	if (first_ms < e->first_ms)
		e->first_ms = first_ms; /* keeps age order approximately; RPO stays honest */
	if (writing) {
		e->writing = true;
		e->last_mod_ms = now;
	} else if (kind == CH_TREE) {
		e->writing = false;
	}
	if (q->count > q->max_entries)
		collapse(q);
}

void changes_add(struct change_queue *q, const char *path, enum change_kind kind, bool writing,
		 int64_t now)
{
	add_entry(q, path, kind, writing, now, now);
}

void changes_closed(struct change_queue *q, const char *path, int64_t now)
{
	struct entry *e = lookup(q, path);
	if (e) {
		e->writing = false;
		return;
	}
	add_entry(q, path, CH_PATH, false, now, now);
}

void changes_release(struct change_queue *q, const char *path)
{
	struct entry *e = lookup(q, path);
	if (e)
		e->writing = false;
}

static char *rewrite_prefix(const char *path, const char *from, const char *to)
{
	if (strcmp(path, from) == 0)
		return xstrdup(to);
	if (is_below(path, from))
		return xasprintf("%s%s", to, path + strlen(from));
	return NULL;
}

/* Entries under "from" now live under "to". */
static void move_entries(struct change_queue *q, const char *from, const char *to)
{
	struct entry *moved = NULL;
	for (struct entry *e = q->oldest, *next; e; e = next) {
		next = e->next;
		char *np = rewrite_prefix(e->path, from, to);
		if (!np)
			continue;
		unlink_entry(q, e);
		free(e->path);
		e->path = np;
		e->hnext = moved; /* park them; reinserted below */
		moved = e;
	}
	while (moved) {
		struct entry *e = moved;
		moved = e->hnext;
		int64_t now = e->last_mod_ms;
		add_entry(q, e->path, e->kind, e->writing, e->first_ms, now);
		free(e->path);
		free(e);
	}
}

static void push_rename(struct change_queue *q, const char *from, const char *to, bool is_dir,
			int64_t when)
{
	if (q->n_renames == q->cap_renames) {
		q->cap_renames = q->cap_renames ? q->cap_renames * 2 : 16;
		q->renames = xrealloc(q->renames, q->cap_renames * sizeof(*q->renames));
		q->rename_ms = xrealloc(q->rename_ms, q->cap_renames * sizeof(*q->rename_ms));
	}
	q->renames[q->n_renames] = (struct rename_op){xstrdup(from), xstrdup(to), is_dir};
	q->rename_ms[q->n_renames] = when;
	q->n_renames++;
}

void changes_rename(struct change_queue *q, const char *from, const char *to, bool is_dir,
		    int64_t now)
{
	move_entries(q, from, to);
	push_rename(q, from, to, is_dir, now);
	if (q->n_renames > q->max_entries) {
		/* Too many to replay one by one: a full pass is cheaper. */
		rename_ops_clear(q);
		changes_full(q, now);
	}
}

void changes_renamed_in_flight(struct change_queue *q, const struct batch *b, const char *from,
			       const char *to, int64_t now)
{
	const struct strv *lists[] = {&b->trees, &b->paths, &b->new_files};
	for (size_t l = 0; l < 3; l++) {
		for (size_t i = 0; i < lists[l]->len; i++) {
			char *np = rewrite_prefix(lists[l]->items[i], from, to);
			if (!np)
				continue;
			add_entry(q, np, l == 0 ? CH_TREE : CH_PATH, false, now, now);
			free(np);
		}
	}
}

void changes_full(struct change_queue *q, int64_t now)
{
	int64_t first = now;
	if (q->oldest && q->oldest->first_ms < first)
		first = q->oldest->first_ms;
	entries_clear(q);
	if (!q->full || first < q->full_ms)
		q->full_ms = first;
	q->full = true;
}

/* Replace entries by their parent directories as whole trees until the queue
 * is back under half its limit. Never loses a change: a tree covers it. */
static void collapse(struct change_queue *q)
{
	q->collapses++;
	while (q->count > q->max_entries / 2) {
		struct entry *list = q->oldest;
		q->oldest = q->newest = NULL;
		memset(q->buckets, 0, q->n_buckets * sizeof(*q->buckets));
		q->count = 0;
		bool only_root = true;
		for (struct entry *e = list, *next; e; e = next) {
			next = e->next;
			char *slash = strrchr(e->path, '/');
			char *parent = slash ? xstrndup(e->path, (size_t)(slash - e->path)) : xstrdup("");
			if (parent[0])
				only_root = false;
			struct entry *p = lookup(q, parent);
			if (!p) {
				if (!covered_by_tree(q, parent)) {
					drop_descendants(q, parent, &e->first_ms);
					insert(q, parent, CH_TREE, e->first_ms);
				} else {
					free(parent);
				}
			} else {
				p->kind = CH_TREE;
				if (e->first_ms < p->first_ms)
					p->first_ms = e->first_ms;
				free(parent);
			}
			free(e->path);
			free(e);
		}
		if (only_root && q->count > q->max_entries / 2) {
			changes_full(q, q->oldest ? q->oldest->first_ms : 0);
			return;
		}
	}
}

size_t changes_count(const struct change_queue *q)
{
	return q->count + q->n_renames + (q->full ? 1 : 0);
}

size_t changes_held(const struct change_queue *q)
{
	size_t n = 0;
	for (const struct entry *e = q->oldest; e; e = e->next)
		n += e->writing;
	return n;
}

const char *changes_held_oldest(const struct change_queue *q, int64_t *first_ms)
{
	for (const struct entry *e = q->oldest; e; e = e->next)
		if (e->writing) {
			*first_ms = e->first_ms;
			return e->path;
		}
	return NULL;
}

bool changes_empty(const struct change_queue *q)
{
	return changes_count(q) == 0;
}

int64_t changes_oldest_age(const struct change_queue *q, int64_t now)
{
	int64_t oldest = now;
	if (q->oldest && q->oldest->first_ms < oldest)
		oldest = q->oldest->first_ms;
	if (q->n_renames && q->rename_ms[0] < oldest)
		oldest = q->rename_ms[0];
	if (q->full && q->full_ms < oldest)
		oldest = q->full_ms;
	return now - oldest;
}

uint64_t changes_collapses(const struct change_queue *q)
{
	return q->collapses;
}

static bool ready(const struct entry *e, int64_t now, int64_t quiet_ms, int64_t max_hold_ms)
{
	return !e->writing || now - e->last_mod_ms >= quiet_ms || now - e->first_ms >= max_hold_ms;
}

int64_t changes_next_ready_ms(const struct change_queue *q, int64_t quiet_ms, int64_t max_hold_ms)
{
	int64_t best = -1;
	for (const struct entry *e = q->oldest; e; e = e->next) {
		int64_t t = e->writing ? e->last_mod_ms + quiet_ms : e->first_ms;
		if (e->writing && e->first_ms + max_hold_ms < t)
			t = e->first_ms + max_hold_ms;
		if (best < 0 || t < best)
			best = t;
	}
	if (q->n_renames && (best < 0 || q->rename_ms[0] < best))
		best = q->rename_ms[0];
	if (q->full && (best < 0 || q->full_ms < best))
		best = q->full_ms;
	return best;
}

bool changes_take(struct change_queue *q, struct batch *b, int64_t now, int64_t quiet_ms,
		  int64_t max_hold_ms)
{
	memset(b, 0, sizeof(*b));
	strv_init(&b->trees);
	strv_init(&b->paths);
	strv_init(&b->new_files);
	b->oldest_ms = now;
	bool any = false;
	if (q->full) {
		b->full = true;
		b->oldest_ms = q->full_ms;
		q->full = false;
		any = true;
	}
	if (q->n_renames) {
		b->renames = xcalloc(q->n_renames, sizeof(*b->renames));
		memcpy(b->renames, q->renames, q->n_renames * sizeof(*b->renames));
		b->n_renames = q->n_renames;
		if (q->rename_ms[0] < b->oldest_ms)
			b->oldest_ms = q->rename_ms[0];
		q->n_renames = 0;
		any = true;
	}
	for (struct entry *e = q->oldest, *next; e; e = next) {
		next = e->next;
		if (!ready(e, now, quiet_ms, max_hold_ms))
			continue;
		strv_push(e->kind == CH_TREE ? &b->trees
			  : e->kind == CH_NEW_FILE ? &b->new_files
						   : &b->paths,
			  e->path);
		if (e->first_ms < b->oldest_ms)
			b->oldest_ms = e->first_ms;
		remove_entry(q, e);
		any = true;
	}
	return any;
}

void changes_requeue(struct change_queue *q, struct batch *b)
{
	/* Renames that happened after this batch was taken apply to its paths
	 * too: rewrite them, or an update could land under a stale name. */
	for (size_t r = 0; r < q->n_renames; r++) {
		struct strv *lists[] = {&b->trees, &b->paths, &b->new_files};
		for (size_t l = 0; l < 3; l++) {
			for (size_t i = 0; i < lists[l]->len; i++) {
				char *np = rewrite_prefix(lists[l]->items[i], q->renames[r].from,
							  q->renames[r].to);
				if (np) {
					free(lists[l]->items[i]);
					lists[l]->items[i] = np;
				}
			}
		}
	}
	if (b->n_renames) {
		/* The batch's renames happened first: put them in front. */
		size_t n = q->n_renames + b->n_renames;
		struct rename_op *ops = xcalloc(n, sizeof(*ops));
		int64_t *ms = xcalloc(n, sizeof(*ms));
		memcpy(ops, b->renames, b->n_renames * sizeof(*ops));
		memcpy(ops + b->n_renames, q->renames, q->n_renames * sizeof(*ops));
		for (size_t i = 0; i < b->n_renames; i++)
			ms[i] = b->oldest_ms;
		if (q->n_renames)
			memcpy(ms + b->n_renames, q->rename_ms, q->n_renames * sizeof(*ms));
		free(q->renames);
		free(q->rename_ms);
		q->renames = ops;
		q->rename_ms = ms;
		q->n_renames = q->cap_renames = n;
		free(b->renames);
		b->renames = NULL;
		b->n_renames = 0;
	}
	if (b->full)
		changes_full(q, b->oldest_ms);
	for (size_t i = 0; i < b->trees.len; i++)
		add_entry(q, b->trees.items[i], CH_TREE, false, b->oldest_ms, b->oldest_ms);
	/* A failed transfer may have left anything at the target: what it
	 * carried goes through rsync next time, new files included. */
	struct strv *lists[] = {&b->paths, &b->new_files};
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l]->len; i++) {
			const char *path = lists[l]->items[i];
			add_entry(q, path, CH_PATH, false, b->oldest_ms, b->oldest_ms);
			struct entry *e = lookup(q, path);
			if (e && e->kind == CH_NEW_FILE)
				e->kind = CH_PATH;
		}
	}
	batch_free(b);
}

void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n_renames; i++) {
		free(b->renames[i].from);
		free(b->renames[i].to);
	}
	free(b->renames);
	b->renames = NULL;
	b->n_renames = 0;
	strv_free(&b->trees);
	strv_free(&b->paths);
	strv_free(&b->new_files);
}
