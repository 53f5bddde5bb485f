/* The placement engine's orderings (see sched-int.h): treap indexes over instances keyed
 * (partition, key, seq) with subtree maxima of remaining memory and CPU, and per (group, attribute)
 * trackers of task counts by attribute value, all updated incrementally on every change. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "sched/sched-int.h"

static uint32_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x;
}

/* ---- index treaps ---- */

static bool node_less(const struct sched_cluster *cl, const struct sched__index *ix, int32_t a, int32_t b)
{
	const struct sched__tnode *x = &ix->n[a], *y = &ix->n[b];
	if (x->part != y->part)
		return x->part < y->part;
	if (x->key != y->key)
		return x->key < y->key;
	return cl->seq[a] < cl->seq[b];
}

static inline int32_t max32(int32_t a, int32_t b)
{
	return a > b ? a : b;
}

static void pull(const struct sched_cluster *cl, struct sched__index *ix, int32_t t)
{
	struct sched__tnode *n = &ix->n[t];
	const struct sched__tnode *l = n->l >= 0 ? &ix->n[n->l] : NULL, *r = n->r >= 0 ? &ix->n[n->r] : NULL;
	int32_t m = cl->fmem[t], c = cl->fcpu[t];
	n->acpu = max32(c, max32(l ? l->acpu : INT32_MIN, r ? r->acpu : INT32_MIN));
	for (int k = 0; k < ix->levels; k++) {
		int32_t v = c >= SCHED__CPU_LEVEL(k) ? m : INT32_MIN;
		v = max32(v, l ? l->amem[k] : INT32_MIN);
		n->amem[k] = max32(v, r ? r->amem[k] : INT32_MIN);
	}
}

/* Splits t into the nodes ordered before x (*l) and the rest (*r). */
static void split(const struct sched_cluster *cl, struct sched__index *ix, int32_t t, int32_t x, int32_t *l,
		  int32_t *r)
{
	if (t < 0) {
		*l = *r = -1;
		return;
	}
	if (node_less(cl, ix, t, x)) {
		split(cl, ix, ix->n[t].r, x, &ix->n[t].r, r);
		*l = t;
	} else {
		split(cl, ix, ix->n[t].l, x, l, &ix->n[t].l);
		*r = t;
	}
	pull(cl, ix, t);
}

static int32_t merge(const struct sched_cluster *cl, struct sched__index *ix, int32_t a, int32_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	if (mix(cl->seq[a]) > mix(cl->seq[b])) {
		ix->n[a].r = merge(cl, ix, ix->n[a].r, b);
		pull(cl, ix, a);
		return a;
	}
	ix->n[b].l = merge(cl, ix, a, ix->n[b].l);
	pull(cl, ix, b);
	return b;
}

static void ix_insert(const struct sched_cluster *cl, struct sched__index *ix, int32_t x)
{
	int32_t l, r;
	ix->n[x].l = ix->n[x].r = -1;
	pull(cl, ix, x);
	split(cl, ix, ix->root, x, &l, &r);
	ix->root = merge(cl, ix, merge(cl, ix, l, x), r);
}

static int32_t erase_rec(const struct sched_cluster *cl, struct sched__index *ix, int32_t t, int32_t x)
{
	if (t == x)
		return merge(cl, ix, ix->n[t].l, ix->n[t].r);
	if (node_less(cl, ix, x, t))
		ix->n[t].l = erase_rec(cl, ix, ix->n[t].l, x);
	else
		ix->n[t].r = erase_rec(cl, ix, ix->n[t].r, x);
	pull(cl, ix, t);
	return t;
}

/* Recomputes the maxima on the path to x after its remaining resources changed. */
static void touch_rec(const struct sched_cluster *cl, struct sched__index *ix, int32_t t, int32_t x)
{
	if (t != x) {
		if (node_less(cl, ix, x, t))
			touch_rec(cl, ix, ix->n[t].l, x);
		else
			touch_rec(cl, ix, ix->n[t].r, x);
	}
	pull(cl, ix, t);
}

static int32_t key_of(const struct sched__index *ix, const struct sched__inst *in)
{
	switch (ix->key) {
	case SCHED__K_SEQ: return 0;
	case SCHED__K_MEM: return in->mem - in->mem_used;
	case SCHED__K_CPU: return in->cpu - in->cpu_used;
	case SCHED__K_GROUP: return sched__group_count(in, ix->group);
	}
	return 0;
}

static int32_t part_of(const struct sched__index *ix, const struct sched__inst *in)
{
	return ix->attr >= 0 ? sched__vidx(in, ix->attr) : 0;
}

static void ix_add_inst(const struct sched_cluster *cl, struct sched__index *ix, const struct sched__inst *in)
{
	ix->n[in->slot].part = part_of(ix, in);
	ix->n[in->slot].key = key_of(ix, in);
	ix_insert(cl, ix, in->slot);
}

static void index_free(struct sched_cluster *cl, struct sched__index *ix, bool unref)
{
	if (unref && ix->group >= 0)
		sched__str_unref(&cl->groups, ix->group);
	if (unref && ix->attr >= 0)
		sched__str_unref(&cl->names, ix->attr);
	free(ix->n);
	free(ix);
}

struct sched__index *sched__index_get(struct sched_cluster *cl, enum sched__key key, int group, int attr,
				      uint64_t protect)
{
	if (key != SCHED__K_GROUP)
		group = -1;
	for (int i = 0; i < cl->nix; i++) {
		struct sched__index *ix = cl->ix[i];
		if (ix->key == key && ix->group == group && ix->attr == attr) {
			ix->used = cl->tick;
			return ix;
		}
	}
	size_t per = (size_t)(cl->capslots ? cl->capslots : 1) * sizeof(struct sched__tnode);
	size_t fit = cl->index_budget / per;
	int max = fit > INT32_MAX ? INT32_MAX : (int)fit;
	if (max < SCHED__INDEX_MIN)
		max = SCHED__INDEX_MIN;
	if (cl->nix >= max) {
		int victim = -1;
		for (int i = 0; i < cl->nix; i++)
			if (cl->ix[i]->used < protect &&
			    (victim < 0 || cl->ix[i]->used < cl->ix[victim]->used))
				victim = i;
		if (victim < 0 || cl->tick - cl->ix[victim]->used < SCHED__INDEX_IDLE)
			return NULL;
		index_free(cl, cl->ix[victim], true);
		cl->ix[victim] = cl->ix[--cl->nix];
	}
	struct sched__index *ix = xcalloc(1, sizeof(*ix));
	ix->key = key;
	ix->levels = key == SCHED__K_MEM ? 1 : SCHED__LEVELS;
	ix->group = group;
	ix->attr = attr;
	ix->root = -1;
	ix->used = cl->tick;
	ix->n = xcalloc((size_t)(cl->capslots ? cl->capslots : 1), sizeof(*ix->n));
	if (group >= 0)
		sched__str_ref(&cl->groups, group);
	if (attr >= 0)
		sched__str_ref(&cl->names, attr);
	for (int s = 0; s < cl->nslots; s++)
		if (cl->inst[s])
			ix_add_inst(cl, ix, cl->inst[s]);
	cl->ix = xrealloc(cl->ix, (size_t)(cl->nix + 1) * sizeof(*cl->ix));
	cl->ix[cl->nix++] = ix;
	return ix;
}

struct walk {
	const struct sched_cluster *cl;
	struct sched__index *ix;
	int32_t part, lo_key, need_mem, need_cpu;
	int level; /* the highest CPU level not above need_cpu */
	bool (*fn)(void *arg, int slot, int32_t key);
	void *arg;
};

/* In-order from the lower bound. The maxima may overestimate (reservations do not lower them, see
 * sched__ix_update), which only prunes less; every node walked is pulled on the way back, so full
 * instances that a walk had to look at are pruned from then on. Returns true to stop. */
static bool walk_rec(const struct walk *w, int32_t t)
{
	if (t < 0)
		return false;
	struct sched__tnode *n = &w->ix->n[t];
	if (n->amem[w->level] < w->need_mem || n->acpu < w->need_cpu)
		return false;
	bool stop;
	if (n->part < w->part || (n->part == w->part && n->key < w->lo_key))
		stop = walk_rec(w, n->r);
	else
		stop = walk_rec(w, n->l) || n->part > w->part ||
		       (w->cl->fmem[t] >= w->need_mem && w->cl->fcpu[t] >= w->need_cpu &&
			w->fn(w->arg, t, n->key)) ||
		       walk_rec(w, n->r);
	pull(w->cl, w->ix, t);
	return stop;
}

bool sched__index_walk(const struct sched_cluster *cl, struct sched__index *ix, int32_t part, int32_t lo_key,
		       int32_t need_mem, int32_t need_cpu, bool (*fn)(void *arg, int slot, int32_t key),
		       void *arg)
{
	struct walk w = {cl, ix, part, lo_key, need_mem, need_cpu, 0, fn, arg};
	while (w.level + 1 < ix->levels && SCHED__CPU_LEVEL(w.level + 1) <= need_cpu)
		w.level++;
	return walk_rec(&w, ix->root);
}

/* ---- trackers ---- */

int sched__vcmp(const struct sched_cluster *cl, const struct sched__tracker *tr, int a, int b)
{
	if (tr->count[a] != tr->count[b])
		return tr->count[a] < tr->count[b] ? -1 : 1;
	if (a == b)
		return 0;
	if (a == 0 || b == 0)
		return a == 0 ? -1 : 1;
	int c = strcmp(sched__vstr(cl, a), sched__vstr(cl, b));
	return c ? c : (a < b ? -1 : 1);
}

static void tr_ensure(struct sched__tracker *tr, int n)
{
	if (n <= tr->cap)
		return;
	int cap = tr->cap ? tr->cap : 8;
	while (cap < n)
		cap *= 2;
	tr->count = xrealloc(tr->count, (size_t)cap * sizeof(*tr->count));
	tr->vn = xrealloc(tr->vn, (size_t)cap * sizeof(*tr->vn));
	memset(tr->count + tr->cap, 0, (size_t)(cap - tr->cap) * sizeof(*tr->count));
	memset(tr->vn + tr->cap, 0, (size_t)(cap - tr->cap) * sizeof(*tr->vn));
	tr->cap = cap;
}

static void vsplit(const struct sched_cluster *cl, struct sched__tracker *tr, int32_t t, int32_t x,
		   int32_t *l, int32_t *r)
{
	if (t < 0) {
		*l = *r = -1;
		return;
	}
	if (sched__vcmp(cl, tr, t, x) < 0) {
		vsplit(cl, tr, tr->vn[t].r, x, &tr->vn[t].r, r);
		*l = t;
	} else {
		vsplit(cl, tr, tr->vn[t].l, x, l, &tr->vn[t].l);
		*r = t;
	}
}

static int32_t vmerge(struct sched__tracker *tr, int32_t a, int32_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	if (mix((uint64_t)a * 7919 + 1) > mix((uint64_t)b * 7919 + 1)) {
		tr->vn[a].r = vmerge(tr, tr->vn[a].r, b);
		return a;
	}
	tr->vn[b].l = vmerge(tr, a, tr->vn[b].l);
	return b;
}

static void vinsert(const struct sched_cluster *cl, struct sched__tracker *tr, int32_t x)
{
	int32_t l, r;
	tr->vn[x].l = tr->vn[x].r = -1;
	tr->vn[x].in = true;
	vsplit(cl, tr, tr->root, x, &l, &r);
	tr->root = vmerge(tr, vmerge(tr, l, x), r);
}

static int32_t verase_rec(const struct sched_cluster *cl, struct sched__tracker *tr, int32_t t, int32_t x)
{
	if (t == x)
		return vmerge(tr, tr->vn[t].l, tr->vn[t].r);
	if (sched__vcmp(cl, tr, x, t) < 0)
		tr->vn[t].l = verase_rec(cl, tr, tr->vn[t].l, x);
	else
		tr->vn[t].r = verase_rec(cl, tr, tr->vn[t].r, x);
	return t;
}

static void verase(const struct sched_cluster *cl, struct sched__tracker *tr, int32_t x)
{
	tr->root = verase_rec(cl, tr, tr->root, x);
	tr->vn[x].in = false;
}

/* Adds delta to the count of value v, keeping the value order. */
static void vadd(const struct sched_cluster *cl, struct sched__tracker *tr, int v, long delta)
{
	verase(cl, tr, v);
	tr->count[v] += delta;
	vinsert(cl, tr, v);
}

static void tracker_free(struct sched_cluster *cl, struct sched__tracker *tr, bool unref)
{
	if (unref) {
		sched__str_unref(&cl->groups, tr->group);
		sched__str_unref(&cl->names, tr->attr);
	}
	free(tr->count);
	free(tr->vn);
	free(tr);
}

struct sched__tracker *sched__tracker_get(struct sched_cluster *cl, int group, int attr, uint64_t protect)
{
	for (int i = 0; i < cl->ntr; i++) {
		struct sched__tracker *tr = cl->tr[i];
		if (tr->group == group && tr->attr == attr) {
			tr->used = cl->tick;
			return tr;
		}
	}
	if (cl->ntr >= SCHED__TRACKERS_MAX) {
		int victim = -1;
		for (int i = 0; i < cl->ntr; i++)
			if (cl->tr[i]->used < protect &&
			    (victim < 0 || cl->tr[i]->used < cl->tr[victim]->used))
				victim = i;
		if (victim < 0)
			return NULL;
		tracker_free(cl, cl->tr[victim], true);
		cl->tr[victim] = cl->tr[--cl->ntr];
	}
	struct sched__tracker *tr = xcalloc(1, sizeof(*tr));
	tr->group = group;
	tr->attr = attr;
	tr->root = -1;
	tr->used = cl->tick;
	sched__str_ref(&cl->groups, group);
	sched__str_ref(&cl->names, attr);
	tr_ensure(tr, cl->values.cap + 1);
	for (int s = 0; s < cl->nslots; s++) {
		const struct sched__inst *in = cl->inst[s];
		if (in)
			tr->count[sched__vidx(in, attr)] += sched__group_count(in, group);
	}
	vinsert(cl, tr, 0);
	for (int v = 0; v < cl->values.n; v++)
		if (cl->values.e[v].refs && cl->values.e[v].tag == attr)
			vinsert(cl, tr, v + 1);
	cl->tr = xrealloc(cl->tr, (size_t)(cl->ntr + 1) * sizeof(*cl->tr));
	cl->tr[cl->ntr++] = tr;
	return tr;
}

struct vwalk {
	const struct sched__tracker *tr;
	bool (*fn)(void *arg, int vidx);
	void *arg;
};

static bool vwalk_rec(const struct vwalk *w, int32_t t)
{
	while (t >= 0) {
		if (vwalk_rec(w, w->tr->vn[t].l))
			return true;
		if (w->fn(w->arg, t))
			return true;
		t = w->tr->vn[t].r;
	}
	return false;
}

bool sched__tracker_walk(const struct sched__tracker *tr, bool (*fn)(void *arg, int vidx), void *arg)
{
	struct vwalk w = {tr, fn, arg};
	return vwalk_rec(&w, tr->root);
}

/* ---- keeping them up to date ---- */

void sched__ix_update(struct sched_cluster *cl, struct sched__inst *in, int group, int delta, bool grew)
{
	for (int i = 0; i < cl->nix; i++) {
		struct sched__index *ix = cl->ix[i];
		struct sched__tnode *n = &ix->n[in->slot];
		int32_t part = part_of(ix, in), key = key_of(ix, in);
		if (n->part != part || n->key != key) {
			ix->root = erase_rec(cl, ix, ix->root, in->slot);
			n->part = part;
			n->key = key;
			ix_insert(cl, ix, in->slot);
		} else if (grew) {
			/* Only growth must reach the maxima now: a stale, larger maximum only prunes
			 * less, and walks repair it. This keeps a reservation O(log n) whatever the
			 * number of indexes. */
			touch_rec(cl, ix, ix->root, in->slot);
		}
	}
	if (group < 0 || delta == 0)
		return;
	for (int i = 0; i < cl->ntr; i++) {
		struct sched__tracker *tr = cl->tr[i];
		if (tr->group == group)
			vadd(cl, tr, sched__vidx(in, tr->attr), delta);
	}
}

void sched__ix_insert_inst(struct sched_cluster *cl, struct sched__inst *in)
{
	for (int i = 0; i < cl->nix; i++)
		ix_add_inst(cl, cl->ix[i], in);
}

void sched__ix_remove_inst(struct sched_cluster *cl, struct sched__inst *in)
{
	for (int i = 0; i < cl->nix; i++)
		cl->ix[i]->root = erase_rec(cl, cl->ix[i], cl->ix[i]->root, in->slot);
	for (int i = 0; i < cl->ntr; i++) {
		struct sched__tracker *tr = cl->tr[i];
		int c = sched__group_count(in, tr->group);
		if (c)
			vadd(cl, tr, sched__vidx(in, tr->attr), -c);
	}
}

void sched__ix_attr_moved(struct sched_cluster *cl, struct sched__inst *in, int attr, int oldv, int newv)
{
	for (int i = 0; i < cl->ntr; i++) {
		struct sched__tracker *tr = cl->tr[i];
		int c = tr->attr == attr ? sched__group_count(in, tr->group) : 0;
		if (c) {
			vadd(cl, tr, oldv, -c);
			vadd(cl, tr, newv, c);
		}
	}
}

void sched__ix_value_added(struct sched_cluster *cl, int value)
{
	for (int i = 0; i < cl->ntr; i++) {
		struct sched__tracker *tr = cl->tr[i];
		if (tr->attr == cl->values.e[value].tag) {
			tr_ensure(tr, value + 2);
			tr->count[value + 1] = 0;
			vinsert(cl, tr, value + 1);
		}
	}
}

void sched__ix_value_removed(struct sched_cluster *cl, int value)
{
	for (int i = 0; i < cl->ntr; i++) {
		struct sched__tracker *tr = cl->tr[i];
		if (tr->attr == cl->values.e[value].tag && value + 1 < tr->cap && tr->vn[value + 1].in)
			verase(cl, tr, value + 1);
	}
}

void sched__ix_grow(struct sched_cluster *cl, int oldcap)
{
	for (int i = 0; i < cl->nix; i++) {
		struct sched__index *ix = cl->ix[i];
		ix->n = xrealloc(ix->n, (size_t)cl->capslots * sizeof(*ix->n));
		memset(ix->n + oldcap, 0, (size_t)(cl->capslots - oldcap) * sizeof(*ix->n));
	}
}

void sched__ix_free_all(struct sched_cluster *cl)
{
	for (int i = 0; i < cl->nix; i++)
		index_free(cl, cl->ix[i], false);
	for (int i = 0; i < cl->ntr; i++)
		tracker_free(cl, cl->tr[i], false);
	free(cl->ix);
	free(cl->tr);
	cl->ix = NULL;
	cl->tr = NULL;
	cl->nix = cl->ntr = 0;
}
