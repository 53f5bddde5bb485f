/* The placement engine's decisions: request checks, the per-instance qualification of sched.h
 * step 2, ranking by strategies, the indexed and the scanning search, dynamic host ports, and
 * the "closest matching instance" reported for what cannot be placed. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "sched/sched-int.h"

#define EPHEMERAL_PORTS (SCHED_EPHEMERAL_MAX - SCHED_EPHEMERAL_MIN + 1)

const char *sched_reason_text(enum sched_reason r)
{
	switch (r) {
	case SCHED_OK: return "OK";
	case SCHED_FAIL_AGENT: return "AGENT";
	case SCHED_FAIL_ATTRIBUTE: return "ATTRIBUTE";
	case SCHED_FAIL_CPU: return "RESOURCE:CPU";
	case SCHED_FAIL_MEMORY: return "RESOURCE:MEMORY";
	case SCHED_FAIL_PORTS: return "RESOURCE:PORTS";
	case SCHED_FAIL_PORTS_UDP: return "RESOURCE:PORTS_UDP";
	case SCHED_FAIL_MEMBER_OF: return "MemberOf placement constraint unsatisfied.";
	case SCHED_FAIL_DISTINCT: return "DistinctInstance placement constraint unsatisfied.";
	case SCHED_FAIL_MISSING: return "MISSING";
	case SCHED_FAIL_INACTIVE: return "INACTIVE";
	}
	return "UNKNOWN";
}

int sched_strategy_parse(const char *type, const char *field, struct sched_strategy *out, struct err **err)
{
	memset(out, 0, sizeof(*out));
	if (!type)
		return err_set(err, ERR_INVALID_PARAM,
			       "A placement strategy type is required: binpack, random or spread.");
	if (!strcasecmp(type, "random")) {
		out->kind = SCHED_RANDOM;
		return 0;
	}
	if (!strcasecmp(type, "binpack")) {
		if (field && !strcasecmp(field, "memory")) {
			out->kind = SCHED_BINPACK_MEMORY;
			return 0;
		}
		if (field && !strcasecmp(field, "cpu")) {
			out->kind = SCHED_BINPACK_CPU;
			return 0;
		}
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid placement strategy field '%s' for binpack: it must be cpu or memory.",
			       field ? field : "");
	}
	if (!strcasecmp(type, "spread")) {
		if (field && (!strcasecmp(field, "instanceId") || !strcasecmp(field, "host"))) {
			out->kind = SCHED_SPREAD_INSTANCE;
			return 0;
		}
		if (field && !strncmp(field, "attribute:", 10) && field[10] &&
		    strlen(field + 10) <= SCHED_STRING_MAX) {
			out->kind = SCHED_SPREAD_ATTRIBUTE;
			out->attribute = field + 10;
			return 0;
		}
		return err_set(
			err, ERR_INVALID_PARAM,
			"Invalid placement strategy field '%s' for spread: it must be instanceId, host or "
			"attribute:NAME.",
			field ? field : "");
	}
	return err_set(err, ERR_INVALID_PARAM,
		       "Invalid placement strategy type '%s': it must be binpack, random or spread.", type);
}

static bool string_ok(const char *s)
{
	return s && *s && strlen(s) <= SCHED_STRING_MAX;
}

static int validate(const struct sched_request *req, struct err **err)
{
	if (!string_ok(req->group))
		return err_set(err, ERR_INVALID_PARAM, "The task group must be 1-%d bytes.",
			       SCHED_STRING_MAX);
	if (req->cpu < 0 || req->memory < 0)
		return err_set(err, ERR_INVALID_PARAM, "Task CPU and memory must not be negative.");
	if (req->launch != SCHED_LAUNCH_EC2 && req->launch != SCHED_LAUNCH_EXTERNAL)
		return err_set(err, ERR_INVALID_PARAM,
			       "Tasks are placed for the EC2 or EXTERNAL launch type only.");
	if (req->nports > SCHED_PORTS_MAX || req->ndynamic > SCHED_PORTS_MAX - req->nports)
		return err_set(err, ERR_INVALID_PARAM, "A task may use at most %d host ports.",
			       SCHED_PORTS_MAX);
	for (size_t i = 0; i < req->nports; i++) {
		const struct sched_port *p = &req->ports[i];
		if (p->port == 0 || p->proto > SCHED_UDP)
			return err_set(err, ERR_INVALID_PARAM, "Invalid host port %u.", p->port);
		for (size_t j = 0; j < i; j++)
			if (req->ports[j].port == p->port && req->ports[j].proto == p->proto)
				return err_set(err, ERR_INVALID_PARAM,
					       "Host port %u/%s is used more than once.", p->port,
					       p->proto == SCHED_TCP ? "tcp" : "udp");
	}
	for (size_t i = 0; i < req->ndynamic; i++)
		if (req->dynamic[i] > SCHED_UDP)
			return err_set(err, ERR_INVALID_PARAM, "Invalid dynamic host port protocol.");
	if (req->nattrs > SCHED_ATTRS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "A task may require at most %d attributes.",
			       SCHED_ATTRS_MAX);
	for (size_t i = 0; i < req->nattrs; i++)
		if (!string_ok(req->attrs[i].name))
			return err_set(err, ERR_INVALID_PARAM, "A required attribute has no name.");
	if (req->nconstraints > SCHED_CONSTRAINTS_MAX)
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid 'placementConstraints' setting. At most %d placement constraints can "
			       "be used.",
			       SCHED_CONSTRAINTS_MAX);
	for (size_t i = 0; i < req->nconstraints; i++) {
		const struct sched_constraint *c = &req->constraints[i];
		if (c->kind != SCHED_DISTINCT_INSTANCE && (c->kind != SCHED_MEMBER_OF || !c->expr))
			return err_set(err, ERR_INVALID_PARAM, "Invalid placement constraint.");
	}
	if (req->nstrategies > SCHED_STRATEGIES_MAX)
		return err_set(err, ERR_INVALID_PARAM, "At most %d placement strategies can be used.",
			       SCHED_STRATEGIES_MAX);
	for (size_t i = 0; i < req->nstrategies; i++) {
		const struct sched_strategy *s = &req->strategies[i];
		if ((unsigned)s->kind > SCHED_RANDOM ||
		    (s->kind == SCHED_SPREAD_ATTRIBUTE && !string_ok(s->attribute)))
			return err_set(err, ERR_INVALID_PARAM, "Invalid placement strategy.");
	}
	return 0;
}

static void prep_init(struct sched_cluster *cl, const struct sched_request *req, struct sched__prep *p,
		      bool rank)
{
	memset(p, 0, sizeof(*p));
	p->req = req;
	p->first_tick = ++cl->tick;
	p->group = sched__str_get(&cl->groups, 0, req->group, NULL);
	for (size_t i = 0; i < req->nattrs; i++)
		p->attr_name[i] = sched__str_find(&cl->names, 0, req->attrs[i].name);
	for (size_t i = 0; i < req->nstrategies; i++) {
		p->strat_attr[i] = -1;
		if (rank && req->strategies[i].kind == SCHED_SPREAD_ATTRIBUTE) {
			p->strat_attr[i] = sched__str_get(&cl->names, 0, req->strategies[i].attribute, NULL);
			p->strat_tr[i] = sched__tracker_get(cl, p->group, p->strat_attr[i], p->first_tick);
			if (!p->strat_tr[i])
				abort(); /* cannot happen: at most SCHED_STRATEGIES_MAX trackers are protected
					  */
		}
	}
	for (size_t i = 0; i < req->nconstraints; i++)
		p->distinct |= req->constraints[i].kind == SCHED_DISTINCT_INSTANCE;
	for (size_t i = 0; i < req->nports; i++) {
		p->nstatic[req->ports[i].proto]++;
		p->nstatic_eph[req->ports[i].proto] += req->ports[i].port >= SCHED_EPHEMERAL_MIN;
	}
	for (size_t i = 0; i < req->ndynamic; i++)
		p->ndyn[req->dynamic[i]]++;
}

static void prep_release(struct sched_cluster *cl, struct sched__prep *p)
{
	for (size_t i = 0; i < p->req->nstrategies; i++)
		if (p->strat_attr[i] >= 0)
			sched__str_unref(&cl->names, p->strat_attr[i]);
	sched__str_unref(&cl->groups, p->group);
}

/* ---- qualification ---- */

struct envctx {
	const struct sched_cluster *cl;
	const struct sched__inst *in;
};

static const char *env_attribute(const void *ctx, const char *name)
{
	const struct envctx *e = ctx;
	int nid = sched__str_find(&e->cl->names, 0, name);
	int v = nid >= 0 ? sched__vidx(e->in, nid) : 0;
	return v ? sched__vstr(e->cl, v) : NULL;
}

static long env_group_tasks(const void *ctx, const char *group)
{
	const struct envctx *e = ctx;
	int g = sched__str_find(&e->cl->groups, 0, group);
	return g >= 0 ? sched__group_count(e->in, g) : 0;
}

static bool env_any_group(const void *ctx, bool (*fn)(void *arg, const char *group), void *arg)
{
	const struct envctx *e = ctx;
	for (int i = 0; i < e->in->ngroups; i++)
		if (fn(arg, e->cl->groups.e[e->in->groups[i].group].s))
			return true;
	return false;
}

static bool matches(const struct sched_cluster *cl, const struct sched__inst *in, const struct cql_expr *expr)
{
	struct envctx e = {cl, in};
	struct cql_instance ci = {
		.ctx = &e,
		.agent_connected = in->connected,
		.agent_version = in->agent_version,
		.ec2_instance_id = in->ec2_id,
		.registered_at = in->registered_at,
		.running_tasks = in->tasks,
		.attribute = env_attribute,
		.group_tasks = env_group_tasks,
		.any_group = env_any_group,
	};
	return cql_eval(expr, &ci);
}

bool sched_instance_matches(const struct sched_cluster *cl, const char *id, const struct cql_expr *expr)
{
	const struct sched__inst *in = sched__lookup(cl, id);
	return in && expr && matches(cl, in, expr);
}

/* Whether placement considers the instance at all (sched.h step 1). */
static bool visible(const struct sched__inst *in, const struct sched_request *req)
{
	return in->status == SCHED_ACTIVE && in->external == (req->launch == SCHED_LAUNCH_EXTERNAL);
}

static enum sched_reason check(const struct sched_cluster *cl, const struct sched__inst *in,
			       const struct sched__prep *p)
{
	const struct sched_request *req = p->req;
	if (!in->connected)
		return SCHED_FAIL_AGENT;
	for (size_t i = 0; i < req->nattrs; i++) {
		int v = p->attr_name[i] >= 0 ? sched__vidx(in, p->attr_name[i]) : 0;
		if (!v || (req->attrs[i].value && strcmp(sched__vstr(cl, v), req->attrs[i].value)))
			return SCHED_FAIL_ATTRIBUTE;
	}
	if (in->cpu - in->cpu_used < req->cpu)
		return SCHED_FAIL_CPU;
	if (in->mem - in->mem_used < req->memory)
		return SCHED_FAIL_MEMORY;
	for (int proto = SCHED_TCP; proto <= SCHED_UDP; proto++) {
		enum sched_reason fail = proto == SCHED_TCP ? SCHED_FAIL_PORTS : SCHED_FAIL_PORTS_UDP;
		if (p->nstatic[proto])
			for (size_t i = 0; i < req->nports; i++)
				if (req->ports[i].proto == proto &&
				    sched__ports_has(&in->inuse[proto], req->ports[i].port))
					return fail;
		if (p->ndyn[proto] &&
		    EPHEMERAL_PORTS - in->eph[proto] - p->nstatic_eph[proto] < p->ndyn[proto])
			return fail;
	}
	for (size_t i = 0; i < req->nconstraints; i++)
		if (req->constraints[i].kind == SCHED_MEMBER_OF && !matches(cl, in, req->constraints[i].expr))
			return SCHED_FAIL_MEMBER_OF;
	if (p->distinct && sched__group_count(in, p->group) > 0)
		return SCHED_FAIL_DISTINCT;
	return SCHED_OK;
}

/* ---- ranking ---- */

/* Compares a and b by the strategies from `from` on, then by sequence: < 0 when a is better.
 * Reaching a random strategy, they tie and *random is set. */
static int rank_cmp(const struct sched_cluster *cl, const struct sched__prep *p, size_t from,
		    const struct sched__inst *a, const struct sched__inst *b, bool *random)
{
	const struct sched_request *req = p->req;
	for (size_t s = from; s < req->nstrategies; s++) {
		long x = 0, y = 0;
		switch (req->strategies[s].kind) {
		case SCHED_BINPACK_MEMORY:
			x = a->mem - a->mem_used;
			y = b->mem - b->mem_used;
			break;
		case SCHED_BINPACK_CPU:
			x = a->cpu - a->cpu_used;
			y = b->cpu - b->cpu_used;
			break;
		case SCHED_SPREAD_INSTANCE:
			x = sched__group_count(a, p->group);
			y = sched__group_count(b, p->group);
			break;
		case SCHED_SPREAD_ATTRIBUTE: {
			int va = sched__vidx(a, p->strat_attr[s]), vb = sched__vidx(b, p->strat_attr[s]);
			if (va != vb)
				return sched__vcmp(cl, p->strat_tr[s], va, vb);
			continue;
		}
		case SCHED_RANDOM: *random = true; return 0;
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return a->seq < b->seq ? -1 : 1;
}

struct choice {
	struct sched_cluster *cl;
	const struct sched__prep *p;
	size_t from; /* the first strategy that rank_cmp compares */
	struct sched__inst *best;
	long ties;
	/* index walks */
	int32_t key;	 /* the index key of best */
	bool first_only; /* the index covers every strategy: the first that qualifies wins */
};

static void consider(struct choice *c, struct sched__inst *in)
{
	bool random = false;
	int r = c->best ? rank_cmp(c->cl, c->p, c->from, in, c->best, &random) : -1;
	if (r < 0) {
		c->best = in;
		c->ties = 1;
	} else if (r == 0 && random && sched__rand(c->cl) % (uint64_t)++c->ties == 0) {
		c->best = in;
	}
}

static struct sched__inst *scan(struct sched_cluster *cl, const struct sched__prep *p)
{
	struct choice c = {.cl = cl, .p = p};
	for (int s = 0; s < cl->nslots; s++) {
		struct sched__inst *in = cl->inst[s];
		if (in && visible(in, p->req) && check(cl, in, p) == SCHED_OK)
			consider(&c, in);
	}
	return c.best;
}

static struct sched__inst *random_pick(struct sched_cluster *cl, const struct sched__prep *p)
{
	/* Rejection sampling is uniform over the qualifying instances; so is the scan after it. */
	for (int i = 0; i < SCHED__RANDOM_TRIES && cl->nslots; i++) {
		struct sched__inst *in = cl->inst[sched__rand(cl) % (uint64_t)cl->nslots];
		if (in && visible(in, p->req) && check(cl, in, p) == SCHED_OK)
			return in;
	}
	return scan(cl, p);
}

static bool on_node(void *arg, int slot, int32_t key)
{
	struct choice *c = arg;
	struct sched__inst *in = c->cl->inst[slot];
	if (c->best && key != c->key)
		return true; /* past the instances tied with the best on the index key */
	if (!visible(in, c->p->req) || check(c->cl, in, c->p) != SCHED_OK)
		return false;
	if (!c->best)
		c->key = key;
	consider(c, in);
	return c->first_only;
}

struct valwalk {
	struct choice *c;
	struct sched__index *ix;
	int32_t lo;
};

static bool on_value(void *arg, int vidx)
{
	struct valwalk *w = arg;
	const struct sched_request *req = w->c->p->req;
	sched__index_walk(w->c->cl, w->ix, vidx, w->lo, req->memory, req->cpu, on_node, w->c);
	return w->c->best != NULL;
}

static struct sched__inst *decide(struct sched_cluster *cl, const struct sched__prep *p)
{
	const struct sched_request *req = p->req;
	const struct sched_strategy *st = req->strategies;
	size_t k = req->nstrategies, pos = 0;
	struct sched__tracker *tr = NULL;
	int attr = -1;

	cl->tick++;
	if (!cl->indexing)
		return scan(cl, p);
	if (k && st[0].kind == SCHED_RANDOM)
		return random_pick(cl, p);
	if (k && st[0].kind == SCHED_SPREAD_ATTRIBUTE) {
		attr = p->strat_attr[0];
		tr = p->strat_tr[0];
		tr->used = cl->tick;
		pos = 1;
	}
	enum sched__key key = SCHED__K_SEQ;
	int32_t lo = INT32_MIN;
	if (pos < k) {
		switch (st[pos].kind) {
		case SCHED_BINPACK_MEMORY:
			key = SCHED__K_MEM;
			lo = req->memory;
			pos++;
			break;
		case SCHED_BINPACK_CPU:
			key = SCHED__K_CPU;
			lo = req->cpu;
			pos++;
			break;
		case SCHED_SPREAD_INSTANCE:
			key = SCHED__K_GROUP;
			pos++;
			break;
		default: break;
		}
	}
	struct sched__index *ix = sched__index_get(cl, key, p->group, attr, p->first_tick);
	if (!ix)
		return scan(cl, p);
	struct choice c = {.cl = cl, .p = p, .from = pos, .first_only = pos == k};
	if (!tr) {
		sched__index_walk(cl, ix, 0, lo, req->memory, req->cpu, on_node, &c);
	} else {
		struct valwalk w = {&c, ix, lo};
		sched__tracker_walk(tr, on_value, &w);
	}
	return c.best;
}

/* Why nothing qualifies: the reason of the instance that passed the most checks. */
static void diagnose(const struct sched_cluster *cl, const struct sched__prep *p, struct sched_failure *f)
{
	const struct sched__inst *best = NULL;
	enum sched_reason why = SCHED_OK;
	for (int s = 0; s < cl->nslots; s++) {
		const struct sched__inst *in = cl->inst[s];
		if (!in || !visible(in, p->req))
			continue;
		enum sched_reason r = check(cl, in, p);
		if (!best || r > why || (r == why && in->seq < best->seq)) {
			best = in;
			why = r;
		}
	}
	f->reason = why;
	f->instance = best ? best->id : NULL;
}

/* ---- reserving ---- */

/* The lowest port of the ephemeral range from `from` on that is free and not one of req's static
 * ports. check() made sure there is one. */
static uint16_t free_port(const struct sched__inst *in, const struct sched_request *req, int proto,
			  uint32_t from)
{
	const struct sched__ports *u = &in->inuse[proto];
	int i = 0;
	while (i < u->n && u->p[i] < from)
		i++;
	for (uint32_t port = from; port <= SCHED_EPHEMERAL_MAX; port++) {
		while (i < u->n && u->p[i] < port)
			i++;
		if (i < u->n && u->p[i] == port)
			continue;
		bool mine = false;
		for (size_t s = 0; s < req->nports && !mine; s++)
			mine = req->ports[s].proto == proto && req->ports[s].port == port;
		if (!mine)
			return (uint16_t)port;
	}
	abort();
}

static void reserve_copy(struct sched_cluster *cl, struct sched__inst *in, const struct sched__prep *p,
			 struct sched_alloc *a)
{
	const struct sched_request *req = p->req;
	uint32_t next[2] = {SCHED_EPHEMERAL_MIN, SCHED_EPHEMERAL_MIN};
	a->instance = in->id;
	a->nports = 0;
	for (size_t i = 0; i < req->nports; i++)
		a->ports[a->nports++] = req->ports[i];
	for (size_t i = 0; i < req->ndynamic; i++) {
		int proto = req->dynamic[i];
		uint16_t port = free_port(in, req, proto, next[proto]);
		a->ports[a->nports].port = port;
		a->ports[a->nports++].proto = (uint8_t)proto;
		next[proto] = (uint32_t)port + 1;
	}
	sched__apply(cl, in, req->cpu, req->memory, p->group, a->ports, a->nports, 1);
}

int sched_place(struct sched_cluster *cl, const struct sched_request *req, int count,
		struct sched_alloc *placed, int *nplaced, struct sched_failure *failed, int *nfailed,
		struct err **err)
{
	struct sched__prep p;
	*nplaced = *nfailed = 0;
	if (count < 0)
		return err_set(err, ERR_INVALID_PARAM, "The task count must not be negative.");
	if (validate(req, err) < 0)
		return -1;
	if (cl->active[req->launch] == 0)
		return err_set(err, ERR_INVALID_PARAM, "No Container Instances were found in your cluster.");
	prep_init(cl, req, &p, true);
	for (int i = 0; i < count; i++) {
		struct sched__inst *in = decide(cl, &p);
		if (!in) {
			diagnose(cl, &p, &failed[0]);
			for (int j = 1; j < count - i; j++)
				failed[j] = failed[0];
			*nfailed = count - i;
			break;
		}
		reserve_copy(cl, in, &p, &placed[(*nplaced)++]);
	}
	prep_release(cl, &p);
	return 0;
}

int sched_place_on(struct sched_cluster *cl, const char *id, const struct sched_request *req,
		   struct sched_alloc *placed, enum sched_reason *reason, struct err **err)
{
	struct sched__prep p;
	if (validate(req, err) < 0)
		return -1;
	struct sched__inst *in = sched__lookup(cl, id);
	if (!in || in->status == SCHED_INACTIVE) {
		*reason = in ? SCHED_FAIL_INACTIVE : SCHED_FAIL_MISSING;
		return 0;
	}
	prep_init(cl, req, &p, false);
	*reason = check(cl, in, &p);
	if (*reason == SCHED_OK)
		reserve_copy(cl, in, &p, placed);
	prep_release(cl, &p);
	return *reason == SCHED_OK;
}
