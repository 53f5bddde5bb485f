/* Property test for the placement engine: a brute-force reference placer over its own model of the
 * cluster, written from the rules in sched.h and sharing no code with the engine but the query
 * language, is driven through thousands of random operations (instances coming, going, draining,
 * disconnecting and changing attributes; placements with random resources, ports, required
 * attributes, constraints, strategy lists and counts; releases; StartTask-style placements). After
 * every placed copy the engine's instance must be one the reference considers best (exactly the
 * reference's choice unless a random strategy leaves ties, then one of the tied), its dynamic
 * ports the lowest free ones, and every failure the reference's reason and closest instance. The
 * model's remaining resources, ports and task counts are compared with the engine's throughout.
 * Runs with the engine's indexes, with an index budget small enough to force evictions and scans,
 * and with the plain scan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sched/cql.h"
#include "sched/sched.h"

#define NI    48   /* instances at most */
#define NG    3	   /* groups */
#define NA    5	   /* attribute names */
#define NT    4000 /* tasks at most */
#define STEPS 6000

static const char *groups[NG] = {"family:a", "family:b", "service:c"};
static const char *anames[NA] = {"ecs.availability-zone", "ecs.instance-type", "stack", "rack",
				 "ecs.capability.external"};

struct rinst {
	bool live;
	char id[16];
	uint64_t order;
	int cpu, mem, cpu_used, mem_used, tasks;
	enum sched_status status;
	bool connected;
	bool has[NA];
	const char *val[NA]; /* "" for an attribute without a value */
	int gcount[NG];
	uint8_t used[2][8192]; /* bitmaps of ports reserved or held */
	uint8_t resv[2][8192];
};

struct rtask {
	int inst;
	int cpu, mem, group;
	struct sched_port ports[SCHED_PORTS_MAX];
	size_t nports;
};

static struct rinst in[NI];
static struct rtask tasks[NT];
static int ntasks;
static uint64_t next_order;
static struct sched_cluster *cl;
static uint64_t rng;
static struct cql_expr *exprs[8];
static long n_copies, n_failed, n_tied, n_calls;
static const char *expr_text[8] = {
	"attribute:ecs.availability-zone != c",
	"attribute:ecs.instance-type =~ t2.*",
	"task:group == family:a",
	"not task:group == service:c",
	"runningTasksCount < 4",
	"attribute:stack exists or attribute:rack in [r1, r2]",
	"agentVersion >= 1.2 and registeredAt > 2020-01-01",
	"ec2InstanceId =~ i-i[0-9]*[02468]",
};

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int pick(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static bool bit(const uint8_t *b, unsigned p)
{
	return b[p >> 3] & (1u << (p & 7));
}

static void setbit(uint8_t *b, unsigned p, bool on)
{
	if (on)
		b[p >> 3] |= (uint8_t)(1u << (p & 7));
	else
		b[p >> 3] &= (uint8_t) ~(1u << (p & 7));
}

/* ---- the reference's view of an instance for the query language ---- */

static const char *r_attribute(const void *ctx, const char *name)
{
	const struct rinst *r = ctx;
	for (int a = 0; a < NA; a++)
		if (!strcmp(anames[a], name))
			return r->has[a] ? r->val[a] : NULL;
	return NULL;
}

static long r_group_tasks(const void *ctx, const char *group)
{
	const struct rinst *r = ctx;
	for (int g = 0; g < NG; g++)
		if (!strcmp(groups[g], group))
			return r->gcount[g];
	return 0;
}

static bool r_any_group(const void *ctx, bool (*fn)(void *arg, const char *group), void *arg)
{
	const struct rinst *r = ctx;
	for (int g = 0; g < NG; g++)
		if (r->gcount[g] > 0 && fn(arg, groups[g]))
			return true;
	return false;
}

static bool r_matches(const struct rinst *r, const struct cql_expr *x)
{
	char ec2[24];
	snprintf(ec2, sizeof(ec2), "i-%s", r->id);
	struct cql_instance ci = {
		.ctx = r,
		.agent_connected = r->connected,
		.agent_version = "1.70.0",
		.ec2_instance_id = ec2,
		.registered_at = 1700000000,
		.running_tasks = r->tasks,
		.attribute = r_attribute,
		.group_tasks = r_group_tasks,
		.any_group = r_any_group,
	};
	return cql_eval(x, &ci);
}

/* ---- the reference placer ---- */

static int group_of(const char *g)
{
	for (int i = 0; i < NG; i++)
		if (!strcmp(groups[i], g))
			return i;
	abort();
}

static int attr_of(const char *name)
{
	for (int a = 0; a < NA; a++)
		if (!strcmp(anames[a], name))
			return a;
	return -1;
}

static bool r_visible(const struct rinst *r, const struct sched_request *q)
{
	return r->live && r->status == SCHED_ACTIVE && r->has[4] == (q->launch == SCHED_LAUNCH_EXTERNAL);
}

static enum sched_reason r_check(const struct rinst *r, const struct sched_request *q)
{
	if (!r->connected)
		return SCHED_FAIL_AGENT;
	for (size_t i = 0; i < q->nattrs; i++) {
		int a = attr_of(q->attrs[i].name);
		if (a < 0 || !r->has[a] || (q->attrs[i].value && strcmp(r->val[a], q->attrs[i].value)))
			return SCHED_FAIL_ATTRIBUTE;
	}
	if (r->cpu - r->cpu_used < q->cpu)
		return SCHED_FAIL_CPU;
	if (r->mem - r->mem_used < q->memory)
		return SCHED_FAIL_MEMORY;
	for (int proto = 0; proto < 2; proto++) {
		enum sched_reason f = proto ? SCHED_FAIL_PORTS_UDP : SCHED_FAIL_PORTS;
		int need = 0, used = 0;
		for (size_t i = 0; i < q->nports; i++) {
			if (q->ports[i].proto != proto)
				continue;
			if (bit(r->used[proto], q->ports[i].port))
				return f;
			used += q->ports[i].port >= SCHED_EPHEMERAL_MIN;
		}
		for (size_t i = 0; i < q->ndynamic; i++)
			need += q->dynamic[i] == proto;
		if (!need)
			continue;
		for (unsigned p = SCHED_EPHEMERAL_MIN; p < 49160; p++)
			used += bit(r->used[proto], p);
		for (unsigned byte = 49160 / 8; byte < 8192; byte++)
			used += __builtin_popcount(r->used[proto][byte]);
		if (SCHED_EPHEMERAL_MAX - SCHED_EPHEMERAL_MIN + 1 - used < need)
			return f;
	}
	for (size_t i = 0; i < q->nconstraints; i++)
		if (q->constraints[i].kind == SCHED_MEMBER_OF && !r_matches(r, q->constraints[i].expr))
			return SCHED_FAIL_MEMBER_OF;
	for (size_t i = 0; i < q->nconstraints; i++)
		if (q->constraints[i].kind == SCHED_DISTINCT_INSTANCE && r->gcount[group_of(q->group)] > 0)
			return SCHED_FAIL_DISTINCT;
	return SCHED_OK;
}

/* Tasks of group g on all instances sharing r's value of attribute a (absent is a value). */
static long r_value_tasks(const struct rinst *r, int a, int g)
{
	long n = 0;
	for (int i = 0; i < NI; i++) {
		const struct rinst *o = &in[i];
		if (!o->live || o->has[a] != r->has[a] || (r->has[a] && strcmp(o->val[a], r->val[a])))
			continue;
		n += o->gcount[g];
	}
	return n;
}

/* Compares by the tuple of sched.h: < 0 when x is better. *random: tied up to a random strategy. */
static int r_cmp(const struct rinst *x, const struct rinst *y, const struct sched_request *q, bool *random)
{
	int g = group_of(q->group);
	for (size_t s = 0; s < q->nstrategies; s++) {
		long a = 0, b = 0;
		const struct sched_strategy *st = &q->strategies[s];
		switch (st->kind) {
		case SCHED_BINPACK_MEMORY:
			a = x->mem - x->mem_used;
			b = y->mem - y->mem_used;
			break;
		case SCHED_BINPACK_CPU:
			a = x->cpu - x->cpu_used;
			b = y->cpu - y->cpu_used;
			break;
		case SCHED_SPREAD_INSTANCE:
			a = x->gcount[g];
			b = y->gcount[g];
			break;
		case SCHED_SPREAD_ATTRIBUTE: {
			int at = attr_of(st->attribute);
			if (at < 0)
				continue; /* nobody has it: one value */
			a = r_value_tasks(x, at, g);
			b = r_value_tasks(y, at, g);
			if (a == b && x->has[at] != y->has[at])
				return x->has[at] ? 1 : -1;
			if (a == b && x->has[at]) {
				int c = strcmp(x->val[at], y->val[at]);
				if (c)
					return c;
			}
			break;
		}
		case SCHED_RANDOM: *random = true; return 0;
		}
		if (a != b)
			return a < b ? -1 : 1;
	}
	return x->order < y->order ? -1 : 1;
}

/* The instances the reference considers best (all of them tied when random decides). */
static int r_best(const struct sched_request *q, int *set)
{
	int n = 0;
	for (int i = 0; i < NI; i++) {
		if (!r_visible(&in[i], q) || r_check(&in[i], q) != SCHED_OK)
			continue;
		if (!n) {
			set[n++] = i;
			continue;
		}
		bool random = false;
		int c = r_cmp(&in[i], &in[set[0]], q, &random);
		if (c < 0)
			n = 0;
		if (c < 0 || (c == 0 && random))
			set[n++] = i;
	}
	return n;
}

static void r_failure(const struct sched_request *q, enum sched_reason *why, const char **example)
{
	int best = -1;
	*why = SCHED_OK;
	for (int i = 0; i < NI; i++) {
		if (!r_visible(&in[i], q))
			continue;
		enum sched_reason r = r_check(&in[i], q);
		if (best < 0 || r > *why || (r == *why && in[i].order < in[best].order)) {
			best = i;
			*why = r;
		}
	}
	*example = best >= 0 ? in[best].id : NULL;
}

static int find(const char *id)
{
	for (int i = 0; i < NI; i++)
		if (in[i].live && !strcmp(in[i].id, id))
			return i;
	fail_msg("the engine named an instance %s the model does not have", id);
	return -1;
}

static void r_hold(int i, int cpu, int mem, int g, const struct sched_port *p, size_t n, int sign)
{
	struct rinst *r = &in[i];
	r->cpu_used += sign * cpu;
	r->mem_used += sign * mem;
	r->tasks += sign;
	r->gcount[g] += sign;
	for (size_t k = 0; k < n; k++)
		setbit(r->used[p[k].proto], p[k].port, sign > 0);
}

/* ---- comparing state ---- */

static void compare_instance(int i)
{
	struct sched_instance_info info;
	struct err *e = NULL;
	const struct rinst *r = &in[i];
	if (sched_instance_get(cl, r->id, &info, &e) < 0)
		fail_msg("%s: %s", r->id, e->msg);
	assert_int_equal(info.remaining_cpu, r->cpu - r->cpu_used);
	assert_int_equal(info.remaining_memory, r->mem - r->mem_used);
	assert_int_equal(info.running_tasks, r->tasks);
	for (int g = 0; g < NG; g++)
		assert_int_equal(sched_instance_group_tasks(cl, r->id, groups[g]), r->gcount[g]);
	for (int proto = 0; proto < 2; proto++) {
		const uint16_t *p;
		long n = sched_instance_ports(cl, r->id, (enum sched_proto)proto, &p, &e);
		long k = 0;
		for (unsigned port = 1; port < 65536; port++) {
			if (!r->used[proto][port >> 3]) {
				port |= 7;
				continue;
			}
			if (!bit(r->used[proto], port))
				continue;
			if (k >= n || p[k] != port)
				fail_msg("%s: port %u/%d in the model, not in the engine", r->id, port,
					 proto);
			k++;
		}
		assert_int_equal(k, n);
	}
}

/* ---- random operations ---- */

static const char *azs[] = {"a", "b", "c"};
static const char *types[] = {"t2.small", "t2.medium", "m5.large"};
static const char *stacks[] = {"prod", "dev", ""};
static const char *racks[] = {"r1", "r2", "r3", "r4", "r5"};

static const char *random_value(int a)
{
	switch (a) {
	case 0: return azs[pick(3)];
	case 1: return types[pick(3)];
	case 2: return stacks[pick(3)];
	case 3: return racks[pick(5)];
	default: return "";
	}
}

static void op_add(void)
{
	int i = 0;
	while (i < NI && in[i].live)
		i++;
	if (i == NI)
		return;
	struct rinst *r = &in[i];
	static int serial;
	memset(r, 0, sizeof(*r));
	r->live = true;
	snprintf(r->id, sizeof(r->id), "i%d", serial++);
	r->order = next_order++;
	static const int cpus[] = {1024, 2048, 4096}, mems[] = {1024, 2048, 4096, 8192};
	r->cpu = cpus[pick(3)];
	r->mem = mems[pick(4)];
	int st = pick(20);
	r->status = st < 17 ? SCHED_ACTIVE : st < 19 ? SCHED_DRAINING : SCHED_INACTIVE;
	r->connected = pick(10) != 0;
	struct sched_attr attrs[NA];
	size_t na = 0;
	for (int a = 0; a < NA; a++) {
		r->has[a] = a == 4 ? pick(10) == 0 : pick(4) != 0;
		if (!r->has[a])
			continue;
		r->val[a] = random_value(a);
		attrs[na].name = anames[a];
		attrs[na++].value = *r->val[a] ? r->val[a] : NULL;
	}
	uint16_t tcp[2] = {8080, 49154}, udp[1] = {53};
	size_t ntcp = (size_t)pick(3), nudp = (size_t)pick(2);
	for (size_t k = 0; k < 5; k++)
		setbit(r->used[0], sched_default_reserved_tcp[k], true);
	for (size_t k = 0; k < ntcp; k++)
		setbit(r->used[0], tcp[k], true);
	for (size_t k = 0; k < nudp; k++)
		setbit(r->used[1], udp[k], true);
	memcpy(r->resv, r->used, sizeof(r->resv));
	char ec2[24];
	snprintf(ec2, sizeof(ec2), "i-%s", r->id);
	struct sched_instance_spec spec = {
		.id = r->id,
		.ec2_instance_id = ec2,
		.agent_version = "1.70.0",
		.registered_at = 1700000000,
		.cpu = r->cpu,
		.memory = r->mem,
		.reserved_tcp = tcp,
		.nreserved_tcp = ntcp,
		.reserved_udp = udp,
		.nreserved_udp = nudp,
		.attrs = attrs,
		.nattrs = na,
		.status = r->status,
		.agent_connected = r->connected,
	};
	struct err *e = NULL;
	if (sched_instance_add(cl, &spec, &e) < 0)
		fail_msg("%s", e->msg);
}

static int random_live(void)
{
	int live[NI], n = 0;
	for (int i = 0; i < NI; i++)
		if (in[i].live)
			live[n++] = i;
	return n ? live[pick(n)] : -1;
}

static void drop_tasks_of(int i)
{
	for (int t = 0; t < ntasks;)
		if (tasks[t].inst == i)
			tasks[t] = tasks[--ntasks];
		else
			t++;
}

static void op_remove(void)
{
	int i = random_live();
	if (i < 0)
		return;
	struct err *e = NULL;
	if (sched_instance_remove(cl, in[i].id, &e) < 0)
		fail_msg("%s", e->msg);
	drop_tasks_of(i);
	in[i].live = false;
}

static void op_update(void)
{
	int i = random_live();
	if (i < 0)
		return;
	struct rinst *r = &in[i];
	struct err *e = NULL;
	int rc = 0;
	switch (pick(4)) {
	case 0: {
		int st = pick(4);
		r->status = st < 2 ? SCHED_ACTIVE : st < 3 ? SCHED_DRAINING : SCHED_INACTIVE;
		rc = sched_instance_set_status(cl, r->id, r->status, &e);
		break;
	}
	case 1:
		r->connected = !r->connected;
		rc = sched_instance_set_connected(cl, r->id, r->connected, &e);
		break;
	case 2: {
		int a = pick(NA);
		if (pick(3) == 0) {
			r->has[a] = false;
			rc = sched_instance_del_attribute(cl, r->id, anames[a], &e);
		} else {
			r->has[a] = true;
			r->val[a] = random_value(a);
			rc = sched_instance_set_attribute(cl, r->id, anames[a], *r->val[a] ? r->val[a] : NULL,
							  &e);
		}
		break;
	}
	case 3:
		r->cpu += pick(3) * 512 - 512;
		r->mem += pick(3) * 1024 - 1024;
		r->cpu = r->cpu < 0 ? 0 : r->cpu;
		r->mem = r->mem < 0 ? 0 : r->mem;
		rc = sched_instance_set_resources(cl, r->id, r->cpu, r->mem, &e);
		break;
	}
	if (rc < 0)
		fail_msg("%s", e->msg);
}

static void op_release(void)
{
	if (!ntasks)
		return;
	int t = pick(ntasks);
	struct rtask *k = &tasks[t];
	struct sched_usage u = {k->cpu, k->mem, groups[k->group], k->ports, k->nports};
	struct err *e = NULL;
	if (sched_release(cl, in[k->inst].id, &u, &e) < 0)
		fail_msg("%s", e->msg);
	r_hold(k->inst, k->cpu, k->mem, k->group, k->ports, k->nports, -1);
	tasks[t] = tasks[--ntasks];
}

struct reqbuf {
	struct sched_request q;
	struct sched_port ports[3];
	uint8_t dyn[3];
	struct sched_attr attrs[2];
	struct sched_constraint cons[3];
	struct sched_strategy strat[4];
};

static void random_request(struct reqbuf *b)
{
	static const int cpus[] = {0, 64, 128, 256, 512, 1024}, mems[] = {0, 64, 128, 512, 1024, 3000};
	static const char *spread_attrs[] = {"ecs.availability-zone", "ecs.instance-type", "rack", "stack",
					     "nope"};
	memset(b, 0, sizeof(*b));
	struct sched_request *q = &b->q;
	q->cpu = cpus[pick(6)];
	q->memory = mems[pick(6)];
	q->group = groups[pick(NG)];
	q->launch = pick(10) == 0 ? SCHED_LAUNCH_EXTERNAL : SCHED_LAUNCH_EC2;
	if (pick(5) == 0)
		b->ports[q->nports++] = (struct sched_port){80, SCHED_TCP};
	if (pick(10) == 0)
		b->ports[q->nports++] = (struct sched_port){53, SCHED_UDP};
	if (pick(20) == 0)
		b->ports[q->nports++] = (struct sched_port){49155, SCHED_TCP};
	q->ports = b->ports;
	q->ndynamic = (size_t)pick(3);
	for (size_t i = 0; i < q->ndynamic; i++)
		b->dyn[i] = (uint8_t)(pick(3) == 0);
	q->dynamic = b->dyn;
	if (pick(10) == 0)
		b->attrs[q->nattrs++] = (struct sched_attr){"stack", NULL};
	if (pick(10) == 0)
		b->attrs[q->nattrs++] = (struct sched_attr){"ecs.instance-type", "t2.small"};
	q->attrs = b->attrs;
	int nc = pick(4) - 1;
	for (int i = 0; i < nc; i++)
		b->cons[q->nconstraints++] = (struct sched_constraint){SCHED_MEMBER_OF, exprs[pick(8)]};
	if (pick(7) == 0)
		b->cons[q->nconstraints++] = (struct sched_constraint){SCHED_DISTINCT_INSTANCE, NULL};
	q->constraints = b->cons;
	int ns = pick(4);
	for (int i = 0; i < ns; i++) {
		struct sched_strategy *s = &b->strat[q->nstrategies++];
		int k = pick(14);
		s->kind = k < 3	   ? SCHED_BINPACK_MEMORY
			  : k < 5  ? SCHED_BINPACK_CPU
			  : k < 8  ? SCHED_SPREAD_INSTANCE
			  : k < 13 ? SCHED_SPREAD_ATTRIBUTE
				   : SCHED_RANDOM;
		if (s->kind == SCHED_SPREAD_ATTRIBUTE)
			s->attribute = spread_attrs[pick(5)];
	}
	q->strategies = b->strat;
}

/* Checks one placed copy against the reference and records it in the model. */
static void verify_copy(const struct sched_request *q, const struct sched_alloc *a)
{
	int set[NI];
	int n = r_best(q, set);
	int i = find(a->instance);
	bool member = false;
	for (int k = 0; k < n; k++)
		member |= set[k] == i;
	n_copies++;
	n_tied += n > 1;
	if (!member)
		fail_msg("engine chose %s; the reference chose %s (%d tied)", a->instance,
			 n ? in[set[0]].id : "nothing", n);
	/* static ports as requested, then the lowest free ephemeral ports in request order */
	assert_int_equal(a->nports, q->nports + q->ndynamic);
	unsigned next[2] = {SCHED_EPHEMERAL_MIN, SCHED_EPHEMERAL_MIN};
	for (size_t k = 0; k < q->nports; k++) {
		assert_int_equal(a->ports[k].port, q->ports[k].port);
		assert_int_equal(a->ports[k].proto, q->ports[k].proto);
	}
	for (size_t k = 0; k < q->ndynamic; k++) {
		int proto = q->dynamic[k];
		unsigned p = next[proto];
		for (;; p++) {
			bool mine = false;
			for (size_t s = 0; s < q->nports; s++)
				mine |= q->ports[s].proto == proto && q->ports[s].port == p;
			if (!bit(in[i].used[proto], p) && !mine)
				break;
		}
		assert_int_equal(a->ports[q->nports + k].port, p);
		assert_int_equal(a->ports[q->nports + k].proto, proto);
		next[proto] = p + 1;
	}
	int g = group_of(q->group);
	r_hold(i, q->cpu, q->memory, g, a->ports, a->nports, 1);
	if (ntasks < NT) {
		struct rtask *t = &tasks[ntasks++];
		t->inst = i;
		t->cpu = q->cpu;
		t->mem = q->memory;
		t->group = g;
		memcpy(t->ports, a->ports, a->nports * sizeof(a->ports[0]));
		t->nports = a->nports;
	}
}

static void op_place(void)
{
	struct reqbuf b;
	random_request(&b);
	int count = 1 + pick(5);
	struct sched_alloc a[5];
	struct sched_failure f[5];
	int np = -1, nf = -1;
	struct err *e = NULL;
	bool any = false;
	for (int i = 0; i < NI; i++)
		any |= r_visible(&in[i], &b.q);
	int rc = sched_place(cl, &b.q, count, a, &np, f, &nf, &e);
	if (!any) {
		assert_int_equal(rc, -1);
		assert_non_null(strstr(e->msg, "No Container Instances were found in your cluster."));
		err_free(e);
		return;
	}
	if (rc < 0)
		fail_msg("%s", e->msg);
	assert_int_equal(np + nf, count);
	for (int k = 0; k < np; k++)
		verify_copy(&b.q, &a[k]);
	n_calls++;
	if (nf) {
		n_failed++;
		int set[NI];
		assert_int_equal(r_best(&b.q, set), 0);
		enum sched_reason why;
		const char *example;
		r_failure(&b.q, &why, &example);
		if (f[0].reason != why || strcmp(f[0].instance, example))
			fail_msg("failure %s at %s; the reference says %s at %s",
				 sched_reason_text(f[0].reason), f[0].instance, sched_reason_text(why),
				 example);
	}
}

static void op_place_on(void)
{
	int i = random_live();
	if (i < 0)
		return;
	struct reqbuf b;
	random_request(&b);
	b.q.launch = in[i].has[4] ? SCHED_LAUNCH_EXTERNAL : SCHED_LAUNCH_EC2;
	struct sched_alloc a;
	enum sched_reason why;
	struct err *e = NULL;
	int rc = sched_place_on(cl, in[i].id, &b.q, &a, &why, &e);
	enum sched_reason expect =
		in[i].status == SCHED_INACTIVE ? SCHED_FAIL_INACTIVE : r_check(&in[i], &b.q);
	assert_int_equal(why, expect);
	assert_int_equal(rc, expect == SCHED_OK);
	if (rc == 1) {
		assert_string_equal(a.instance, in[i].id);
		/* verify_copy checks against the best set; a named instance needs only its ports */
		int g = group_of(b.q.group);
		r_hold(i, b.q.cpu, b.q.memory, g, a.ports, a.nports, 1);
		if (ntasks < NT) {
			struct rtask *t = &tasks[ntasks++];
			*t = (struct rtask){
				.inst = i, .cpu = b.q.cpu, .mem = b.q.memory, .group = g, .nports = a.nports};
			memcpy(t->ports, a.ports, a.nports * sizeof(a.ports[0]));
		}
	}
}

static void run(uint64_t seed, int mode)
{
	memset(in, 0, sizeof(in));
	ntasks = 0;
	next_order = 0;
	rng = seed * 2654435761u + 1;
	cl = sched_cluster_new(seed);
	sched_cluster_set_indexing(cl, mode != 2);
	if (mode == 1)
		sched_cluster_set_index_budget(cl, 0);
	for (int k = 0; k < 8; k++) {
		struct err *e = NULL;
		exprs[k] = cql_parse(expr_text[k], &e);
		if (!exprs[k])
			fail_msg("%s", e->msg);
	}
	for (int k = 0; k < 12; k++)
		op_add();
	for (int step = 0; step < STEPS; step++) {
		int op = pick(100);
		if (op < 6)
			op_add();
		else if (op < 9)
			op_remove();
		else if (op < 20)
			op_update();
		else if (op < 55)
			op_release();
		else if (op < 95)
			op_place();
		else
			op_place_on();
		if (step % 50 == 0)
			for (int i = 0; i < NI; i++)
				if (in[i].live)
					compare_instance(i);
	}
	for (int i = 0; i < NI; i++)
		if (in[i].live)
			compare_instance(i);
	for (int k = 0; k < 8; k++)
		cql_free(exprs[k]);
	sched_cluster_free(cl);
	/* what the run covered, as a TAP comment */
	printf("# seed %llu mode %d: %ld calls, %ld copies placed (%ld among random ties), %ld calls with "
	       "failures\n",
	       (unsigned long long)seed, mode, n_calls, n_copies, n_tied, n_failed);
	n_calls = n_copies = n_tied = n_failed = 0;
}

#define CASE(name, seed, mode)         \
	static void name(void **state) \
	{                              \
		(void)state;           \
		run(seed, mode);       \
	}
CASE(indexed_1, 1, 0)
CASE(indexed_2, 2, 0)
CASE(indexed_3, 3, 0)
CASE(indexed_4, 4, 0)
CASE(small_budget_1, 1, 1)
CASE(small_budget_5, 5, 1)
CASE(scan_1, 1, 2)
CASE(scan_6, 6, 2)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(indexed_1),	  cmocka_unit_test(indexed_2),
		cmocka_unit_test(indexed_3),	  cmocka_unit_test(indexed_4),
		cmocka_unit_test(small_budget_1), cmocka_unit_test(small_budget_5),
		cmocka_unit_test(scan_1),	  cmocka_unit_test(scan_6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
