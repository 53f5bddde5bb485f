/* Internals shared by the placement engine's files: sched.c (the cluster view: instances,
 * interned strings, reservations), sched_index.c (the orderings that make decisions fast) and
 * sched_place.c (checks, decisions, failures).
 *
 * The orderings. A decision is the argmin over qualifying instances of a tuple (one score per
 * strategy, then the instance's sequence number); see sched.h. Scanning every instance for every
 * copy costs O(instances) per decision, so the engine keeps, lazily and incrementally:
 * - indexes: treaps over all instances keyed (partition, key, seq), where key is the remaining
 *   memory (binpack memory), the remaining CPU (binpack cpu), the tasks of one group on the
 *   instance (spread instanceId) or nothing (first fit), and partition is the instance's value of a
 *   spread attribute, or 0. Every node also carries the largest remaining memory and CPU of its
 *   subtree (of ACTIVE, connected instances only) so that walks skip subtrees where nothing fits.
 * - trackers: per (group, attribute), the tasks of the group on instances with each value of the
 *   attribute, kept in a treap ordered (count, value), so spread on an attribute visits values
 *   from the emptiest.
 * A decision walks an index in key order from the first key that can fit (for binpack, remaining
 * >= need) and takes the first instance that passes every check; strategies the index does not
 * cover compare the instances tied on the covered ones. With spread on an attribute first it
 * walks the tracker's values in order and, for each, the index restricted to that partition.
 * Every reservation, release, attribute or status change updates the live indexes and trackers
 * (O(log n) each). Indexes are bounded by a memory budget (SCHED_INDEX_BYTES); when none can be built the
 * decision falls back to the scan, which is also the reference the tests compare against. */
#ifndef GANTRY_SCHED_INT_H
#define GANTRY_SCHED_INT_H

#include <stdint.h>

#include "sched/sched.h"

#define SCHED__INDEX_MIN     8	  /* indexes allowed whatever their size */
#define SCHED__INDEX_IDLE    1024 /* decisions an index must have gone unused to be evicted */
#define SCHED__TRACKERS_MAX  256
#define SCHED__RANDOM_TRIES  32 /* random picks tried before random scans */
#define SCHED__EXTERNAL_ATTR "ecs.capability.external"

/* Interned strings with dense ids, reused once the last reference is gone. `tag` is part of the
 * key (the attribute name id for values). */
struct sched__str {
	char *s;
	uint32_t hash;
	int tag;
	int refs; /* 0: a free entry */
	int next; /* hash chain, or the free list */
	int val;  /* the payload (instance slot for the id table) */
};

struct sched__strtab {
	struct sched__str *e;
	int n, cap; /* entries used (high water), allocated */
	int free;   /* free list head, -1 */
	int *bucket;
	uint32_t nbucket;
	int live;
};

int sched__str_find(const struct sched__strtab *t, int tag, const char *s);
/* The id of (tag, s), created when new; takes a reference. *created says whether it was new. */
int sched__str_get(struct sched__strtab *t, int tag, const char *s, bool *created);
void sched__str_ref(struct sched__strtab *t, int id);
/* Drops a reference; returns true when that freed the entry. */
bool sched__str_unref(struct sched__strtab *t, int id);

struct sched__attrv {
	int name;  /* id in cl->names */
	int value; /* id in cl->values */
};

struct sched__gc {
	int group; /* id in cl->groups */
	int count;
};

struct sched__ports {
	uint16_t *p; /* ascending, unique */
	int n, cap;
};

struct sched__inst {
	char *id, *ec2_id, *agent_version;
	double registered_at;
	uint64_t seq;
	int slot;
	int cpu, mem;		/* registered */
	int cpu_used, mem_used; /* held by tasks */
	int tasks;
	enum sched_status status;
	bool connected, external;
	struct sched__attrv *attrs; /* ascending by name id */
	int nattrs;
	struct sched__gc *groups; /* ascending by group id; counts > 0 */
	int ngroups, capgroups;
	struct sched__ports resv[2];  /* reserved, by protocol */
	struct sched__ports inuse[2]; /* reserved or held by tasks */
	int eph[2];		      /* ports of inuse in the ephemeral range */
};

enum sched__key { SCHED__K_SEQ, SCHED__K_MEM, SCHED__K_CPU, SCHED__K_GROUP };

/* The CPU thresholds of sched__tnode.amem: amem[k] is the largest remaining memory in the subtree
 * among instances with at least SCHED__CPU_LEVEL(k) CPU units left (0, 16, 32, ... 1024). One
 * maximum per dimension would let an instance with memory but no CPU and one with CPU but no memory
 * keep a subtree open although neither fits; nearly full instances look like that. */
#define SCHED__LEVELS	    8
#define SCHED__CPU_LEVEL(k) ((k) ? 8 << (k) : 0)

struct sched__tnode {
	int32_t l, r;
	int32_t part, key;
	int32_t acpu;		     /* subtree maximum of cl->fcpu */
	int32_t amem[SCHED__LEVELS]; /* see SCHED__CPU_LEVEL */
};

struct sched__index {
	enum sched__key key;
	int levels; /* of amem kept: 1 when the key is the remaining memory, else SCHED__LEVELS */
	int group;  /* SCHED__K_GROUP: the group id, else -1 */
	int attr;   /* partition attribute name id, or -1 */
	int32_t root;
	struct sched__tnode *n; /* by slot */
	uint64_t used;		/* cl->tick of the last use */
};

struct sched__vnode {
	int32_t l, r;
	bool in;
};

struct sched__tracker {
	int group, attr;
	long *count; /* by partition value: 0 = attribute absent, value id + 1 */
	struct sched__vnode *vn;
	int cap;
	int32_t root;
	uint64_t used;
};

struct sched_cluster {
	struct sched__inst **inst; /* by slot; NULL = free */
	uint64_t *seq;		   /* by slot */
	int32_t *fmem, *fcpu;	   /* by slot: remaining, or INT32_MIN unless ACTIVE and connected */
	int nslots, capslots;
	int *freeslots, nfree;
	size_t ninst;
	uint64_t next_seq;
	int active[2]; /* ACTIVE instances by enum sched_launch */
	struct sched__strtab ids, names, values, groups;
	struct sched__index **ix;
	int nix;
	struct sched__tracker **tr;
	int ntr;
	uint64_t rng, tick;
	bool indexing;
	size_t index_budget;
};

/* A request resolved against the cluster for the duration of one call. */
struct sched__prep {
	const struct sched_request *req;
	int group;			      /* id in cl->groups, referenced for the call */
	int attr_name[SCHED_ATTRS_MAX];	      /* required attributes' name ids, -1 when no instance has it */
	int strat_attr[SCHED_STRATEGIES_MAX]; /* name ids of spread attributes (referenced), else -1 */
	struct sched__tracker *strat_tr[SCHED_STRATEGIES_MAX];
	bool distinct;
	int nstatic[2], nstatic_eph[2], ndyn[2];
	uint64_t first_tick;
};

/* sched.c */
struct sched__inst *sched__lookup(const struct sched_cluster *cl, const char *id);
int sched__group_count(const struct sched__inst *in, int group);
/* The partition value of the instance for attribute name id `attr`: value id + 1, or 0. */
int sched__vidx(const struct sched__inst *in, int attr);
/* The string of a partition value ("" for 0, which sorts first). */
const char *sched__vstr(const struct sched_cluster *cl, int vidx);
bool sched__ports_has(const struct sched__ports *p, uint16_t port);
uint64_t sched__rand(struct sched_cluster *cl);
/* Adds (sign 1) or takes away (sign -1) what a task holds; the caller has validated it. */
void sched__apply(struct sched_cluster *cl, struct sched__inst *in, int cpu, int mem, int group,
		  const struct sched_port *ports, size_t nports, int sign);

/* sched_index.c */
/* After in's resources, status, connection, attributes or the count of `group` (delta, or group -1)
 * changed: keeps every index and tracker in order. grew: its remaining memory or CPU as seen by
 * the maxima (cl->fmem / cl->fcpu) went up. */
void sched__ix_update(struct sched_cluster *cl, struct sched__inst *in, int group, int delta, bool grew);
void sched__ix_insert_inst(struct sched_cluster *cl, struct sched__inst *in);
void sched__ix_remove_inst(struct sched_cluster *cl, struct sched__inst *in);
/* Attribute `attr` of `in` moved from partition value oldv to newv (trackers' counts follow). */
void sched__ix_attr_moved(struct sched_cluster *cl, struct sched__inst *in, int attr, int oldv, int newv);
/* A value id got its first instance / lost its last one. */
void sched__ix_value_added(struct sched_cluster *cl, int value);
void sched__ix_value_removed(struct sched_cluster *cl, int value);
/* The slot arrays grew to cl->capslots. */
void sched__ix_grow(struct sched_cluster *cl, int oldcap);
void sched__ix_free_all(struct sched_cluster *cl);
/* The index for (key, group, attr), built when missing; NULL when the budget forbids one now. */
struct sched__index *sched__index_get(struct sched_cluster *cl, enum sched__key key, int group, int attr,
				      uint64_t protect);
struct sched__tracker *sched__tracker_get(struct sched_cluster *cl, int group, int attr, uint64_t protect);
/* Calls fn for the nodes of ix in key order from (part, lo_key), within partition `part`, that may
 * hold need_mem and need_cpu, until fn returns true. Returns whether it did. */
bool sched__index_walk(const struct sched_cluster *cl, struct sched__index *ix, int32_t part, int32_t lo_key,
		       int32_t need_mem, int32_t need_cpu, bool (*fn)(void *arg, int slot, int32_t key),
		       void *arg);
/* Calls fn for the tracker's values from the fewest tasks until it returns true. */
bool sched__tracker_walk(const struct sched__tracker *tr, bool (*fn)(void *arg, int vidx), void *arg);
/* Orders partition values of a tracker: fewer tasks first, then by value string. */
int sched__vcmp(const struct sched_cluster *cl, const struct sched__tracker *tr, int a, int b);

#endif
