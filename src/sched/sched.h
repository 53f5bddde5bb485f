/* The ECS placement engine: a pure, in-memory view of one cluster's container instances and of
 * the resources their tasks hold, and the decision of where new tasks go (RunTask, services).
 *
 * Ownership. The ECS module owns the ECS documents (instances, tasks) and keeps one
 * struct sched_cluster per ECS cluster up to date incrementally: it adds, updates and removes
 * instances as they register, change and deregister, and it reserves and releases the resources of
 * every task that holds them (sched_place reserves what it places; sched_reserve restores tasks
 * after a restart or records a task placed elsewhere; sched_release when a task stops). The engine
 * copies every string it is given; strings it hands out are borrowed and stay valid until the
 * instance they belong to is removed. Nothing here locks: one thread owns a cluster view.
 *
 * Placement, for each copy of a task in turn (each copy reserves before the next is decided):
 * 1. Only ACTIVE instances of the request's launch type (EC2 instances, or external ones with the
 *    attribute ecs.capability.external) are considered; DRAINING and INACTIVE ones never get tasks.
 *    When there are none, sched_place fails with ECS's "No Container Instances were found in your
 *    cluster." (InvalidParameterException).
 * 2. An instance qualifies when, in this order, its agent is connected (AGENT), it has the
 *    required attributes (ATTRIBUTE), it has the CPU (RESOURCE:CPU) and memory (RESOURCE:MEMORY),
 *    its static host ports are free and there are enough free ports in the ephemeral range
 *    49153-65535 for the dynamic ones (RESOURCE:PORTS for TCP, RESOURCE:PORTS_UDP for UDP), every
 *    memberOf expression holds (MemberOf placement constraint unsatisfied.) and, with
 *    distinctInstance, it hosts no task of the group (DistinctInstance placement constraint
 *    unsatisfied.).
 * 3. Among the qualifying instances the strategies rank in order, each breaking the ties of the
 *    one before: binpack memory|cpu prefers the least remaining memory|CPU; spread instanceId|host
 *    prefers the instance with the fewest tasks of the group; spread attribute:NAME prefers the
 *    value of NAME whose instances hold the fewest tasks of the group (instances without NAME form
 *    one more value; ties between values go to the bytewise smallest value, the missing value
 *    first), so that spread on an attribute followed by another strategy applies that strategy
 *    within one value; random picks uniformly among the instances still tied (a generator seeded
 *    per cluster view). Ties that remain go to the instance added to the cluster view first. With
 *    no strategy that is first fit. Spread counts the group's tasks on every instance in the view,
 *    DRAINING and disconnected ones included (they still run them).
 * 4. A copy that cannot be placed fails with the reason of the instance that came closest, i.e.
 *    passed the most checks of step 2 (ties: the instance added first), as ECS reports "the closest
 *    matching container-instance". Every later copy of the same call fails the same way.
 *
 * In expressions, runningTasksCount and task:group count the tasks whose resources the view holds
 * on the instance (pending and running alike).
 *
 * Speed: decisions use incrementally maintained orderings of the instances (by remaining memory,
 * remaining CPU, tasks of a group, within each value of a spread attribute) and look at few
 * instances unless the constraints reject most of them, or the orderings' memory budget is spent
 * (then a decision scans every instance); see sched-int.h. */
#ifndef GANTRY_SCHED_H
#define GANTRY_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "sched/cql.h"

#define SCHED_EPHEMERAL_MIN   49153 /* Docker's ephemeral port range, where dynamic host ports go */
#define SCHED_EPHEMERAL_MAX   65535
#define SCHED_PORTS_MAX	      100	   /* host ports (static and dynamic) one task may hold */
#define SCHED_RESERVED_MAX    200	   /* reserved ports per protocol an instance may declare */
#define SCHED_ATTRS_MAX	      256	   /* attributes per instance, and required attributes per task */
#define SCHED_STRATEGIES_MAX  5		   /* ECS: at most 5 placement strategies */
#define SCHED_CONSTRAINTS_MAX 10	   /* ECS: at most 10 constraints, the definition's and the call's */
#define SCHED_STRING_MAX      1600	   /* bytes of an id, attribute name or value, or group name */
#define SCHED_INDEX_BYTES     (256u << 20) /* default memory budget of the engine's orderings */

/* The TCP ports ECS reserves on every container instance (agent, Docker API, SSH). */
extern const uint16_t sched_default_reserved_tcp[5];

enum sched_proto { SCHED_TCP = 0, SCHED_UDP = 1 };

struct sched_port {
	uint16_t port;
	uint8_t proto; /* enum sched_proto */
};

enum sched_status { SCHED_ACTIVE = 0, SCHED_DRAINING, SCHED_INACTIVE };

enum sched_launch { SCHED_LAUNCH_EC2 = 0, SCHED_LAUNCH_EXTERNAL };

/* An instance attribute, or a required one (requiresAttributes). value NULL: an attribute without
 * a value / any value satisfies the requirement. */
struct sched_attr {
	const char *name;
	const char *value;
};

/* Why a copy was not placed, in the order of the checks (later = closer to fitting). */
enum sched_reason {
	SCHED_OK = 0,
	SCHED_FAIL_AGENT,     /* "AGENT" */
	SCHED_FAIL_ATTRIBUTE, /* "ATTRIBUTE" */
	SCHED_FAIL_CPU,	      /* "RESOURCE:CPU" */
	SCHED_FAIL_MEMORY,    /* "RESOURCE:MEMORY" */
	SCHED_FAIL_PORTS,     /* "RESOURCE:PORTS" */
	SCHED_FAIL_PORTS_UDP, /* "RESOURCE:PORTS_UDP" */
	SCHED_FAIL_MEMBER_OF, /* "MemberOf placement constraint unsatisfied." */
	SCHED_FAIL_DISTINCT,  /* "DistinctInstance placement constraint unsatisfied." */
	SCHED_FAIL_MISSING,   /* "MISSING": sched_place_on named an unknown instance */
	SCHED_FAIL_INACTIVE,  /* "INACTIVE": sched_place_on named an INACTIVE instance */
};

/* The `reason` string ECS puts in a RunTask / StartTask failure. Static. */
const char *sched_reason_text(enum sched_reason r);

enum sched_strategy_kind {
	SCHED_BINPACK_MEMORY,
	SCHED_BINPACK_CPU,
	SCHED_SPREAD_INSTANCE, /* spread instanceId, or host */
	SCHED_SPREAD_ATTRIBUTE,
	SCHED_RANDOM,
};

struct sched_strategy {
	enum sched_strategy_kind kind;
	const char *attribute; /* SCHED_SPREAD_ATTRIBUTE: the attribute name (after "attribute:") */
};

/* Reads an ECS placementStrategy {type, field}: binpack with field cpu|memory, spread with field
 * instanceId|host|attribute:NAME, random (field ignored); type and the cpu / memory / instanceId /
 * host fields ignore case. out->attribute points into `field`. Returns 0, or -1 with *err
 * (ERR_INVALID_PARAM) naming what is wrong. */
int sched_strategy_parse(const char *type, const char *field, struct sched_strategy *out, struct err **err);

enum sched_constraint_kind { SCHED_DISTINCT_INSTANCE, SCHED_MEMBER_OF };

struct sched_constraint {
	enum sched_constraint_kind kind;
	const struct cql_expr *expr; /* SCHED_MEMBER_OF: the parsed expression (borrowed) */
};

/* What one copy of a task needs. Everything is borrowed for the duration of the call. */
struct sched_request {
	int cpu;	   /* CPU units */
	int memory;	   /* MiB: memoryReservation where set, else memory, summed over containers */
	const char *group; /* the task group, e.g. "family:web" or "service:web"; required */
	enum sched_launch launch;
	const struct sched_port *ports; /* static host ports */
	size_t nports;
	const uint8_t *dynamic; /* one enum sched_proto per dynamic host port (hostPort 0 / unset) */
	size_t ndynamic;
	const struct sched_attr *attrs; /* requiresAttributes */
	size_t nattrs;
	const struct sched_constraint *constraints; /* the definition's and the call's, merged */
	size_t nconstraints;
	const struct sched_strategy *strategies; /* in order */
	size_t nstrategies;
};

/* Where a copy went. ports lists the request's static ports and then the host port chosen for
 * each dynamic one, in request order. */
struct sched_alloc {
	const char *instance; /* borrowed instance id */
	size_t nports;
	struct sched_port ports[SCHED_PORTS_MAX];
};

struct sched_failure {
	enum sched_reason reason;
	const char *instance; /* borrowed id of the instance that came closest */
};

/* What a placed task holds, for sched_reserve / sched_release. */
struct sched_usage {
	int cpu, memory;
	const char *group;
	const struct sched_port *ports; /* every host port it holds, static and dynamic */
	size_t nports;
};

/* A container instance as registered. */
struct sched_instance_spec {
	const char *id;		      /* the id part of the container instance ARN; unique */
	const char *ec2_instance_id;  /* may be NULL */
	const char *agent_version;    /* may be NULL */
	double registered_at;	      /* epoch seconds */
	int cpu, memory;	      /* registered CPU units and MiB */
	const uint16_t *reserved_tcp; /* the instance's reserved ports, besides ECS's defaults */
	size_t nreserved_tcp;
	const uint16_t *reserved_udp;
	size_t nreserved_udp;
	const struct sched_attr *attrs;
	size_t nattrs;
	enum sched_status status;
	bool agent_connected;
};

/* What DescribeContainerInstances shows. Strings are borrowed. */
struct sched_instance_info {
	const char *id, *ec2_instance_id, *agent_version;
	double registered_at;
	int cpu, memory;		     /* registered */
	int remaining_cpu, remaining_memory; /* registered minus what tasks hold */
	int running_tasks;		     /* tasks holding resources on the instance */
	enum sched_status status;
	bool agent_connected;
};

struct sched_cluster;

/* A new, empty cluster view. Random choices use a generator seeded with `seed`. */
struct sched_cluster *sched_cluster_new(uint64_t seed);
/* Frees the view; accepts NULL. */
void sched_cluster_free(struct sched_cluster *cl);
/* Number of instances in the view. */
size_t sched_cluster_size(const struct sched_cluster *cl);
/* With false, every decision scans all instances instead of using the orderings (for tests and
 * benchmarks; the choices are the same). */
void sched_cluster_set_indexing(struct sched_cluster *cl, bool on);
/* Caps the memory the orderings take (default SCHED_INDEX_BYTES; a few are always allowed). A
 * decision that needs one more ordering than fits evicts one unused for a while, or else scans. */
void sched_cluster_set_index_budget(struct sched_cluster *cl, size_t bytes);

/* Adds an instance. Its reserved ports are sched_default_reserved_tcp plus its own. Returns 0, or
 * -1 with *err: ERR_CLIENT when the id exists, ERR_INVALID_PARAM for a bad spec. */
int sched_instance_add(struct sched_cluster *cl, const struct sched_instance_spec *spec, struct err **err);
/* Removes an instance and whatever its tasks hold. Returns 0, or -1 with ERR_NOT_FOUND. */
int sched_instance_remove(struct sched_cluster *cl, const char *id, struct err **err);
/* Updates. Each returns 0, or -1 with ERR_NOT_FOUND (or ERR_INVALID_PARAM for bad values). */
int sched_instance_set_status(struct sched_cluster *cl, const char *id, enum sched_status st,
			      struct err **err);
int sched_instance_set_connected(struct sched_cluster *cl, const char *id, bool connected, struct err **err);
int sched_instance_set_agent_version(struct sched_cluster *cl, const char *id, const char *version,
				     struct err **err);
/* Registered CPU and memory (re-registration); tasks already there keep what they hold. */
int sched_instance_set_resources(struct sched_cluster *cl, const char *id, int cpu, int memory,
				 struct err **err);
/* Adds or replaces attribute `name`; value NULL = an attribute without a value. */
int sched_instance_set_attribute(struct sched_cluster *cl, const char *id, const char *name,
				 const char *value, struct err **err);
/* Removes attribute `name` (no error when the instance does not have it). */
int sched_instance_del_attribute(struct sched_cluster *cl, const char *id, const char *name,
				 struct err **err);

/* Fills *out. Returns 0, or -1 with ERR_NOT_FOUND. */
int sched_instance_get(const struct sched_cluster *cl, const char *id, struct sched_instance_info *out,
		       struct err **err);
/* The ports of `proto` in use on the instance, reserved or held by tasks, ascending (the PORTS /
 * PORTS_UDP of remainingResources). *ports is borrowed until the instance next changes. Returns
 * the count, or -1 with ERR_NOT_FOUND. */
long sched_instance_ports(const struct sched_cluster *cl, const char *id, enum sched_proto proto,
			  const uint16_t **ports, struct err **err);
/* Whether the instance satisfies expr (the ListContainerInstances filter); false when unknown. */
bool sched_instance_matches(const struct sched_cluster *cl, const char *id, const struct cql_expr *expr);

/* Places `count` copies of req. Each placed copy fills placed[*nplaced] and is reserved on its
 * instance; each copy that is not fills failed[*nfailed] (placed and failed hold count entries;
 * *nplaced + *nfailed == count). Returns 0, or -1 with *err and nothing placed: ERR_INVALID_PARAM
 * for a malformed request, or "No Container Instances were found in your cluster." */
int sched_place(struct sched_cluster *cl, const struct sched_request *req, int count,
		struct sched_alloc *placed, int *nplaced, struct sched_failure *failed, int *nfailed,
		struct err **err);
/* Places one copy on the named instance (StartTask): the checks of step 2 and, when they pass, the
 * reservation. Status DRAINING is the caller's call; INACTIVE fails. Returns 1 and fills *placed, 0
 * with *reason (SCHED_FAIL_MISSING for an unknown instance), or -1 with *err for a malformed request. */
int sched_place_on(struct sched_cluster *cl, const char *id, const struct sched_request *req,
		   struct sched_alloc *placed, enum sched_reason *reason, struct err **err);
/* Records a task that holds `u` on the instance, whatever it leaves (restoring state). Returns 0,
 * or -1 with *err: ERR_NOT_FOUND, or ERR_CLIENT when one of its ports is reserved or in use. */
int sched_reserve(struct sched_cluster *cl, const char *id, const struct sched_usage *u, struct err **err);
/* Gives back what a task held (exactly what was reserved). Returns 0, or -1 with *err and nothing
 * changed: ERR_NOT_FOUND, or ERR_INTERNAL when the instance does not hold that. */
int sched_release(struct sched_cluster *cl, const char *id, const struct sched_usage *u, struct err **err);
/* How many tasks of `group` the instance hosts (0 when unknown). */
long sched_instance_group_tasks(const struct sched_cluster *cl, const char *id, const char *group);

#endif
