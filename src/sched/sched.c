/* The placement engine's cluster view: interned strings, container instances with their
 * attributes, ports and per-group task counts, and the reservations tasks make on them. Every
 * change is passed on to the orderings in sched_index.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "sched/sched-int.h"

const uint16_t sched_default_reserved_tcp[5] = {22, 2375, 2376, 51678, 51679};

/* ---- interned strings ---- */

static uint32_t str_hash(int tag, const char *s)
{
	uint32_t h = 2166136261u ^ (uint32_t)tag;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int sched__str_find(const struct sched__strtab *t, int tag, const char *s)
{
	if (!t->nbucket)
		return -1;
	uint32_t h = str_hash(tag, s);
	for (int i = t->bucket[h & (t->nbucket - 1)]; i >= 0; i = t->e[i].next)
		if (t->e[i].hash == h && t->e[i].tag == tag && !strcmp(t->e[i].s, s))
			return i;
	return -1;
}

static void str_rehash(struct sched__strtab *t, uint32_t nbucket)
{
	free(t->bucket);
	t->nbucket = nbucket;
	t->bucket = xmalloc(nbucket * sizeof(*t->bucket));
	for (uint32_t b = 0; b < nbucket; b++)
		t->bucket[b] = -1;
	for (int i = 0; i < t->n; i++) {
		if (!t->e[i].refs)
			continue;
		uint32_t b = t->e[i].hash & (nbucket - 1);
		t->e[i].next = t->bucket[b];
		t->bucket[b] = i;
	}
}

int sched__str_get(struct sched__strtab *t, int tag, const char *s, bool *created)
{
	int id = sched__str_find(t, tag, s);
	if (created)
		*created = id < 0;
	if (id >= 0) {
		t->e[id].refs++;
		return id;
	}
	if ((uint32_t)(t->live + 1) * 2 > t->nbucket)
		str_rehash(t, t->nbucket ? t->nbucket * 2 : 16);
	if (t->free >= 0) {
		id = t->free;
		t->free = t->e[id].next;
	} else {
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->e = xrealloc(t->e, (size_t)t->cap * sizeof(*t->e));
		}
		id = t->n++;
	}
	struct sched__str *e = &t->e[id];
	e->s = xstrdup(s);
	e->hash = str_hash(tag, s);
	e->tag = tag;
	e->refs = 1;
	e->val = 0;
	uint32_t b = e->hash & (t->nbucket - 1);
	e->next = t->bucket[b];
	t->bucket[b] = id;
	t->live++;
	return id;
}

void sched__str_ref(struct sched__strtab *t, int id)
{
	t->e[id].refs++;
}

bool sched__str_unref(struct sched__strtab *t, int id)
{
	struct sched__str *e = &t->e[id];
	if (--e->refs > 0)
		return false;
	int *pp = &t->bucket[e->hash & (t->nbucket - 1)];
	while (*pp != id)
		pp = &t->e[*pp].next;
	*pp = e->next;
	free(e->s);
	e->s = NULL;
	e->next = t->free;
	t->free = id;
	t->live--;
	return true;
}

static void strtab_release(struct sched__strtab *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->e[i].refs)
			free(t->e[i].s);
	free(t->e);
	free(t->bucket);
	memset(t, 0, sizeof(*t));
	t->free = -1;
}

/* ---- small sorted sets ---- */

static int ports_lower(const struct sched__ports *p, uint16_t port)
{
	int lo = 0, hi = p->n;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (p->p[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool sched__ports_has(const struct sched__ports *p, uint16_t port)
{
	int i = ports_lower(p, port);
	return i < p->n && p->p[i] == port;
}

static bool ports_add(struct sched__ports *p, uint16_t port)
{
	int i = ports_lower(p, port);
	if (i < p->n && p->p[i] == port)
		return false;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->p = xrealloc(p->p, (size_t)p->cap * sizeof(*p->p));
	}
	memmove(p->p + i + 1, p->p + i, (size_t)(p->n - i) * sizeof(*p->p));
	p->p[i] = port;
	p->n++;
	return true;
}

static void ports_del(struct sched__ports *p, uint16_t port)
{
	int i = ports_lower(p, port);
	if (i < p->n && p->p[i] == port) {
		memmove(p->p + i, p->p + i + 1, (size_t)(p->n - i - 1) * sizeof(*p->p));
		p->n--;
	}
}

static bool ephemeral(uint16_t port)
{
	return port >= SCHED_EPHEMERAL_MIN;
}

static int gc_lower(const struct sched__inst *in, int group)
{
	int lo = 0, hi = in->ngroups;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (in->groups[mid].group < group)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sched__group_count(const struct sched__inst *in, int group)
{
	int i = gc_lower(in, group);
	return i < in->ngroups && in->groups[i].group == group ? in->groups[i].count : 0;
}

static void gc_add(struct sched__inst *in, int group, int delta)
{
	int i = gc_lower(in, group);
	if (i < in->ngroups && in->groups[i].group == group) {
		in->groups[i].count += delta;
		if (in->groups[i].count == 0) {
			memmove(in->groups + i, in->groups + i + 1,
				(size_t)(in->ngroups - i - 1) * sizeof(*in->groups));
			in->ngroups--;
		}
		return;
	}
	if (in->ngroups == in->capgroups) {
		in->capgroups = in->capgroups ? in->capgroups * 2 : 4;
		in->groups = xrealloc(in->groups, (size_t)in->capgroups * sizeof(*in->groups));
	}
	memmove(in->groups + i + 1, in->groups + i, (size_t)(in->ngroups - i) * sizeof(*in->groups));
	in->groups[i].group = group;
	in->groups[i].count = delta;
	in->ngroups++;
}

static int attr_lower(const struct sched__inst *in, int name)
{
	int lo = 0, hi = in->nattrs;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (in->attrs[mid].name < name)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sched__vidx(const struct sched__inst *in, int attr)
{
	int i = attr_lower(in, attr);
	return i < in->nattrs && in->attrs[i].name == attr ? in->attrs[i].value + 1 : 0;
}

const char *sched__vstr(const struct sched_cluster *cl, int vidx)
{
	return vidx ? cl->values.e[vidx - 1].s : "";
}

/* splitmix64 */
uint64_t sched__rand(struct sched_cluster *cl)
{
	uint64_t z = (cl->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- the cluster ---- */

struct sched_cluster *sched_cluster_new(uint64_t seed)
{
	struct sched_cluster *cl = xcalloc(1, sizeof(*cl));
	cl->ids.free = cl->names.free = cl->values.free = cl->groups.free = -1;
	cl->rng = seed;
	cl->indexing = true;
	cl->index_budget = SCHED_INDEX_BYTES;
	return cl;
}

static void inst_free(struct sched__inst *in)
{
	if (!in)
		return;
	free(in->id);
	free(in->ec2_id);
	free(in->agent_version);
	free(in->attrs);
	free(in->groups);
	for (int p = 0; p < 2; p++) {
		free(in->resv[p].p);
		free(in->inuse[p].p);
	}
	free(in);
}

void sched_cluster_free(struct sched_cluster *cl)
{
	if (!cl)
		return;
	sched__ix_free_all(cl);
	for (int s = 0; s < cl->nslots; s++)
		inst_free(cl->inst[s]);
	free(cl->inst);
	free(cl->seq);
	free(cl->fmem);
	free(cl->fcpu);
	free(cl->freeslots);
	strtab_release(&cl->ids);
	strtab_release(&cl->names);
	strtab_release(&cl->values);
	strtab_release(&cl->groups);
	free(cl);
}

size_t sched_cluster_size(const struct sched_cluster *cl)
{
	return cl->ninst;
}

void sched_cluster_set_indexing(struct sched_cluster *cl, bool on)
{
	cl->indexing = on;
}

void sched_cluster_set_index_budget(struct sched_cluster *cl, size_t bytes)
{
	cl->index_budget = bytes;
}

struct sched__inst *sched__lookup(const struct sched_cluster *cl, const char *id)
{
	int i = id ? sched__str_find(&cl->ids, 0, id) : -1;
	return i >= 0 ? cl->inst[cl->ids.e[i].val] : NULL;
}

static struct sched__inst *find(const struct sched_cluster *cl, const char *id, struct err **err)
{
	struct sched__inst *in = sched__lookup(cl, id);
	if (!in)
		err_set(err, ERR_NOT_FOUND, "container instance %s is not in the cluster",
			id ? id : "(null)");
	return in;
}

static bool string_ok(const char *s)
{
	return s && *s && strlen(s) <= SCHED_STRING_MAX;
}

/* The "closed" launch-type bookkeeping: ACTIVE instances counted by the launch type they serve. */
static void count_active(struct sched_cluster *cl, const struct sched__inst *in, int delta)
{
	if (in->status == SCHED_ACTIVE)
		cl->active[in->external ? SCHED_LAUNCH_EXTERNAL : SCHED_LAUNCH_EC2] += delta;
}

static void own_update(struct sched_cluster *cl, const struct sched__inst *in)
{
	bool ok = in->status == SCHED_ACTIVE && in->connected;
	cl->fmem[in->slot] = ok ? in->mem - in->mem_used : INT32_MIN;
	cl->fcpu[in->slot] = ok ? in->cpu - in->cpu_used : INT32_MIN;
}

static void changed(struct sched_cluster *cl, struct sched__inst *in, int group, int delta)
{
	int32_t mem = cl->fmem[in->slot], cpu = cl->fcpu[in->slot];
	own_update(cl, in);
	sched__ix_update(cl, in, group, delta, cl->fmem[in->slot] > mem || cl->fcpu[in->slot] > cpu);
}

/* Drops an instance's reference to a value; the orderings forget the value before its string goes. */
static void value_unref(struct sched_cluster *cl, int vid)
{
	if (cl->values.e[vid].refs == 1)
		sched__ix_value_removed(cl, vid);
	sched__str_unref(&cl->values, vid);
}

/* Sets (present) or removes attribute `name` of in, keeping the trackers' counts; the caller
 * updates the indexes. value NULL: an attribute without a value. */
static void attr_set(struct sched_cluster *cl, struct sched__inst *in, const char *name, const char *value,
		     bool present)
{
	int nid = sched__str_find(&cl->names, 0, name);
	int i = nid >= 0 ? attr_lower(in, nid) : 0;
	bool had = nid >= 0 && i < in->nattrs && in->attrs[i].name == nid;
	int oldv = had ? in->attrs[i].value + 1 : 0, newv = 0;
	if (!had && !present)
		return;
	if (present) {
		if (!had) {
			nid = sched__str_get(&cl->names, 0, name, NULL); /* the attribute's reference */
			i = attr_lower(in, nid);
			in->attrs = xrealloc(in->attrs, (size_t)(in->nattrs + 1) * sizeof(*in->attrs));
			memmove(in->attrs + i + 1, in->attrs + i,
				(size_t)(in->nattrs - i) * sizeof(*in->attrs));
			in->attrs[i].name = nid;
			in->nattrs++;
		}
		bool created;
		int vid = sched__str_get(&cl->values, nid, value ? value : "", &created);
		if (created)
			sched__ix_value_added(cl, vid);
		in->attrs[i].value = vid;
		newv = vid + 1;
	} else {
		memmove(in->attrs + i, in->attrs + i + 1, (size_t)(in->nattrs - i - 1) * sizeof(*in->attrs));
		in->nattrs--;
	}
	if (oldv != newv)
		sched__ix_attr_moved(cl, in, nid, oldv, newv);
	if (oldv)
		value_unref(cl, oldv - 1);
	if (!present)
		sched__str_unref(&cl->names, nid);
	if (!strcmp(name, SCHED__EXTERNAL_ATTR)) {
		count_active(cl, in, -1);
		in->external = present;
		count_active(cl, in, 1);
	}
}

static int check_ports(const uint16_t *p, size_t n, const char *what, struct err **err)
{
	if (n > SCHED_RESERVED_MAX)
		return err_set(err, ERR_INVALID_PARAM, "more than %d reserved %s ports", SCHED_RESERVED_MAX,
			       what);
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0)
			return err_set(err, ERR_INVALID_PARAM, "reserved %s port 0", what);
	return 0;
}

int sched_instance_add(struct sched_cluster *cl, const struct sched_instance_spec *spec, struct err **err)
{
	if (!string_ok(spec->id))
		return err_set(err, ERR_INVALID_PARAM, "container instance id must be 1-%d bytes",
			       SCHED_STRING_MAX);
	if (sched__lookup(cl, spec->id))
		return err_set(err, ERR_CLIENT, "container instance %s is already in the cluster", spec->id);
	if (spec->cpu < 0 || spec->memory < 0)
		return err_set(err, ERR_INVALID_PARAM, "container instance %s: negative CPU or memory",
			       spec->id);
	if ((spec->ec2_instance_id && strlen(spec->ec2_instance_id) > SCHED_STRING_MAX) ||
	    (spec->agent_version && strlen(spec->agent_version) > SCHED_STRING_MAX))
		return err_set(err, ERR_INVALID_PARAM, "container instance %s: string too long", spec->id);
	if (check_ports(spec->reserved_tcp, spec->nreserved_tcp, "TCP", err) < 0 ||
	    check_ports(spec->reserved_udp, spec->nreserved_udp, "UDP", err) < 0)
		return err_prefix(err, "container instance %s", spec->id);
	if (spec->nattrs > SCHED_ATTRS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "container instance %s: more than %d attributes",
			       spec->id, SCHED_ATTRS_MAX);
	for (size_t i = 0; i < spec->nattrs; i++)
		if (!string_ok(spec->attrs[i].name) ||
		    (spec->attrs[i].value && strlen(spec->attrs[i].value) > SCHED_STRING_MAX))
			return err_set(err, ERR_INVALID_PARAM, "container instance %s: bad attribute",
				       spec->id);

	int slot;
	if (cl->nfree) {
		slot = cl->freeslots[--cl->nfree];
	} else {
		if (cl->nslots == cl->capslots) {
			int old = cl->capslots;
			cl->capslots = old ? old * 2 : 64;
			cl->inst = xrealloc(cl->inst, (size_t)cl->capslots * sizeof(*cl->inst));
			cl->seq = xrealloc(cl->seq, (size_t)cl->capslots * sizeof(*cl->seq));
			cl->fmem = xrealloc(cl->fmem, (size_t)cl->capslots * sizeof(*cl->fmem));
			cl->fcpu = xrealloc(cl->fcpu, (size_t)cl->capslots * sizeof(*cl->fcpu));
			cl->freeslots =
				xrealloc(cl->freeslots, (size_t)cl->capslots * sizeof(*cl->freeslots));
			sched__ix_grow(cl, old);
		}
		slot = cl->nslots++;
	}
	struct sched__inst *in = xcalloc(1, sizeof(*in));
	in->id = xstrdup(spec->id);
	in->ec2_id = xstrdup(spec->ec2_instance_id);
	in->agent_version = xstrdup(spec->agent_version);
	in->registered_at = spec->registered_at;
	in->seq = cl->next_seq++;
	in->slot = slot;
	in->cpu = spec->cpu;
	in->mem = spec->memory;
	in->status = spec->status;
	in->connected = spec->agent_connected;
	for (size_t i = 0; i < sizeof(sched_default_reserved_tcp) / sizeof(sched_default_reserved_tcp[0]);
	     i++)
		ports_add(&in->resv[SCHED_TCP], sched_default_reserved_tcp[i]);
	for (size_t i = 0; i < spec->nreserved_tcp; i++)
		ports_add(&in->resv[SCHED_TCP], spec->reserved_tcp[i]);
	for (size_t i = 0; i < spec->nreserved_udp; i++)
		ports_add(&in->resv[SCHED_UDP], spec->reserved_udp[i]);
	for (int p = 0; p < 2; p++) {
		for (int i = 0; i < in->resv[p].n; i++) {
			ports_add(&in->inuse[p], in->resv[p].p[i]);
			in->eph[p] += ephemeral(in->resv[p].p[i]);
		}
	}
	cl->inst[slot] = in;
	cl->seq[slot] = in->seq;
	int id = sched__str_get(&cl->ids, 0, in->id, NULL);
	cl->ids.e[id].val = slot;
	cl->ninst++;
	count_active(cl, in, 1);
	for (size_t i = 0; i < spec->nattrs; i++)
		attr_set(cl, in, spec->attrs[i].name, spec->attrs[i].value, true);
	own_update(cl, in);
	sched__ix_insert_inst(cl, in);
	return 0;
}

int sched_instance_remove(struct sched_cluster *cl, const char *id, struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	count_active(cl, in, -1);
	sched__ix_remove_inst(cl, in);
	for (int i = 0; i < in->nattrs; i++) {
		value_unref(cl, in->attrs[i].value);
		sched__str_unref(&cl->names, in->attrs[i].name);
	}
	for (int i = 0; i < in->ngroups; i++)
		for (int k = 0; k < in->groups[i].count; k++)
			sched__str_unref(&cl->groups, in->groups[i].group);
	sched__str_unref(&cl->ids, sched__str_find(&cl->ids, 0, in->id));
	cl->inst[in->slot] = NULL;
	cl->freeslots[cl->nfree++] = in->slot;
	cl->ninst--;
	inst_free(in);
	return 0;
}

int sched_instance_set_status(struct sched_cluster *cl, const char *id, enum sched_status st,
			      struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (st != SCHED_ACTIVE && st != SCHED_DRAINING && st != SCHED_INACTIVE)
		return err_set(err, ERR_INVALID_PARAM, "bad container instance status %d", (int)st);
	count_active(cl, in, -1);
	in->status = st;
	count_active(cl, in, 1);
	changed(cl, in, -1, 0);
	return 0;
}

int sched_instance_set_connected(struct sched_cluster *cl, const char *id, bool connected, struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	in->connected = connected;
	changed(cl, in, -1, 0);
	return 0;
}

int sched_instance_set_agent_version(struct sched_cluster *cl, const char *id, const char *version,
				     struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (version && strlen(version) > SCHED_STRING_MAX)
		return err_set(err, ERR_INVALID_PARAM, "agent version too long");
	free(in->agent_version);
	in->agent_version = xstrdup(version);
	return 0;
}

int sched_instance_set_resources(struct sched_cluster *cl, const char *id, int cpu, int memory,
				 struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (cpu < 0 || memory < 0)
		return err_set(err, ERR_INVALID_PARAM, "negative CPU or memory");
	in->cpu = cpu;
	in->mem = memory;
	changed(cl, in, -1, 0);
	return 0;
}

int sched_instance_set_attribute(struct sched_cluster *cl, const char *id, const char *name,
				 const char *value, struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (!string_ok(name) || (value && strlen(value) > SCHED_STRING_MAX))
		return err_set(err, ERR_INVALID_PARAM, "attribute name must be 1-%d bytes", SCHED_STRING_MAX);
	if (in->nattrs >= SCHED_ATTRS_MAX && !sched__vidx(in, sched__str_find(&cl->names, 0, name)))
		return err_set(err, ERR_LIMIT_EXCEEDED, "container instance %s has %d attributes", id,
			       SCHED_ATTRS_MAX);
	attr_set(cl, in, name, value, true);
	changed(cl, in, -1, 0);
	return 0;
}

int sched_instance_del_attribute(struct sched_cluster *cl, const char *id, const char *name, struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (!name)
		return err_set(err, ERR_INVALID_PARAM, "attribute name missing");
	attr_set(cl, in, name, NULL, false);
	changed(cl, in, -1, 0);
	return 0;
}

int sched_instance_get(const struct sched_cluster *cl, const char *id, struct sched_instance_info *out,
		       struct err **err)
{
	const struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	out->id = in->id;
	out->ec2_instance_id = in->ec2_id;
	out->agent_version = in->agent_version;
	out->registered_at = in->registered_at;
	out->cpu = in->cpu;
	out->memory = in->mem;
	out->remaining_cpu = in->cpu - in->cpu_used;
	out->remaining_memory = in->mem - in->mem_used;
	out->running_tasks = in->tasks;
	out->status = in->status;
	out->agent_connected = in->connected;
	return 0;
}

long sched_instance_ports(const struct sched_cluster *cl, const char *id, enum sched_proto proto,
			  const uint16_t **ports, struct err **err)
{
	const struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (proto != SCHED_TCP && proto != SCHED_UDP)
		return err_set(err, ERR_INVALID_PARAM, "bad protocol %d", (int)proto);
	*ports = in->inuse[proto].p;
	return in->inuse[proto].n;
}

long sched_instance_group_tasks(const struct sched_cluster *cl, const char *id, const char *group)
{
	const struct sched__inst *in = sched__lookup(cl, id);
	int g = in && group ? sched__str_find(&cl->groups, 0, group) : -1;
	return g >= 0 ? sched__group_count(in, g) : 0;
}

/* ---- reservations ---- */

static int check_usage_ports(const struct sched_port *ports, size_t n, struct err **err)
{
	if (n > SCHED_PORTS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "a task holds at most %d host ports", SCHED_PORTS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (ports[i].port == 0 || ports[i].proto > SCHED_UDP)
			return err_set(err, ERR_INVALID_PARAM, "bad host port %u/%u", ports[i].port,
				       ports[i].proto);
		for (size_t j = 0; j < i; j++)
			if (ports[j].port == ports[i].port && ports[j].proto == ports[i].proto)
				return err_set(err, ERR_INVALID_PARAM, "host port %u/%s listed twice",
					       ports[i].port, ports[i].proto == SCHED_TCP ? "tcp" : "udp");
	}
	return 0;
}

void sched__apply(struct sched_cluster *cl, struct sched__inst *in, int cpu, int mem, int group,
		  const struct sched_port *ports, size_t nports, int sign)
{
	for (size_t i = 0; i < nports; i++) {
		struct sched__ports *set = &in->inuse[ports[i].proto];
		if (sign > 0)
			ports_add(set, ports[i].port);
		else
			ports_del(set, ports[i].port);
		in->eph[ports[i].proto] += ephemeral(ports[i].port) ? sign : 0;
	}
	in->cpu_used += sign * cpu;
	in->mem_used += sign * mem;
	in->tasks += sign;
	gc_add(in, group, sign);
	if (sign > 0)
		sched__str_ref(&cl->groups, group);
	changed(cl, in, group, sign);
	if (sign < 0)
		sched__str_unref(&cl->groups, group);
}

int sched_reserve(struct sched_cluster *cl, const char *id, const struct sched_usage *u, struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (!string_ok(u->group))
		return err_set(err, ERR_INVALID_PARAM, "task group must be 1-%d bytes", SCHED_STRING_MAX);
	if (u->cpu < 0 || u->memory < 0)
		return err_set(err, ERR_INVALID_PARAM, "negative CPU or memory");
	if (check_usage_ports(u->ports, u->nports, err) < 0)
		return -1;
	for (size_t i = 0; i < u->nports; i++)
		if (sched__ports_has(&in->inuse[u->ports[i].proto], u->ports[i].port))
			return err_set(
				err, ERR_CLIENT, "host port %u/%s is already in use on container instance %s",
				u->ports[i].port, u->ports[i].proto == SCHED_TCP ? "tcp" : "udp", in->id);
	if ((long long)in->cpu_used + u->cpu > INT_MAX || (long long)in->mem_used + u->memory > INT_MAX)
		return err_set(err, ERR_INVALID_PARAM, "CPU or memory out of range");
	int g = sched__str_get(&cl->groups, 0, u->group, NULL);
	sched__apply(cl, in, u->cpu, u->memory, g, u->ports, u->nports, 1);
	sched__str_unref(&cl->groups, g);
	return 0;
}

int sched_release(struct sched_cluster *cl, const char *id, const struct sched_usage *u, struct err **err)
{
	struct sched__inst *in = find(cl, id, err);
	if (!in)
		return -1;
	if (!u->group || check_usage_ports(u->ports, u->nports, err) < 0)
		return err_set(err, ERR_INVALID_PARAM, "bad task usage");
	int g = sched__str_find(&cl->groups, 0, u->group);
	if (g < 0 || sched__group_count(in, g) == 0)
		return err_set(err, ERR_INTERNAL, "container instance %s holds no task of group %s", in->id,
			       u->group);
	if (u->cpu < 0 || u->memory < 0 || in->cpu_used < u->cpu || in->mem_used < u->memory)
		return err_set(err, ERR_INTERNAL,
			       "container instance %s holds less CPU or memory than released", in->id);
	for (size_t i = 0; i < u->nports; i++) {
		const struct sched_port *p = &u->ports[i];
		if (!sched__ports_has(&in->inuse[p->proto], p->port) ||
		    sched__ports_has(&in->resv[p->proto], p->port))
			return err_set(err, ERR_INTERNAL,
				       "no task holds host port %u/%s on container instance %s", p->port,
				       p->proto == SCHED_TCP ? "tcp" : "udp", in->id);
	}
	sched__apply(cl, in, u->cpu, u->memory, g, u->ports, u->nports, -1);
	return 0;
}
