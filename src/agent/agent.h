/* The host agent's side of the agent protocol (docs/agent-protocol.md): registers the host as a
 * container instance, holds a long-poll for its desired tasks, runs them through a runtime and
 * reports every transition until the server acknowledges it. One `struct agent` runs `count`
 * instances on one loop through one HTTP client: 1 for a real host, N for hollow hosts (each its own
 * instance with its own identity, poll and tasks). */
#ifndef GANTRY_AGENT_H
#define GANTRY_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/runtime.h"
#include "common/err.h"

#define AGENT_VERSION		 "0.1.0"
#define AGENT_DEFAULT_SERVER	 "http://127.0.0.1:7700"
#define AGENT_DEFAULT_CLUSTER	 "default"
#define AGENT_DEFAULT_REGION	 "us-east-1"
#define AGENT_DEFAULT_STATE	 "gantry-agent"
#define AGENT_DEFAULT_INSTANCE	 "gantry.host" /* ecs.instance-type when not given */
#define AGENT_COUNT_MAX		 10000	       /* hollow agents in one process */
#define AGENT_ATTRS_MAX		 100	       /* --attribute flags */
#define AGENT_MEMORY_RESERVE_MIB 256	       /* kept from MemTotal for the OS and the agent */
#define AGENT_POLL_WAIT_S	 20	       /* how long the server may hold a poll */
#define AGENT_BACKOFF_MIN_MS	 1000	       /* retry after a failed call: this, doubling ... */
#define AGENT_BACKOFF_MAX_MS	 15000	       /* ... up to this */
#define AGENT_CALL_TIMEOUT_MS	 30000	       /* registration and reports */

/* One --attribute: value NULL = an attribute without a value. */
struct agent_attr {
	const char *name;
	const char *value;
};

struct agent_opts {
	const char *server;		/* endpoint URL; NULL = AGENT_DEFAULT_SERVER */
	const char *cluster;		/* NULL = "default" */
	const char *access_key;		/* SigV4 credentials (required) */
	const char *secret;		/* (required) */
	const char *region;		/* NULL = AGENT_DEFAULT_REGION */
	long long cpu;			/* CPU units offered; 0 = 1024 per online core */
	long long memory_mib;		/* MiB offered; 0 = MemTotal minus AGENT_MEMORY_RESERVE_MIB */
	const struct agent_attr *attrs; /* extra attributes; ecs.availability-zone and ecs.instance-type
					 * go into the instance identity document instead */
	size_t nattrs;
	const char *state_dir; /* keeps each instance's id and ARN across restarts; NULL = keep nothing */
	const char *bridge, *subnet; /* the crun runtime's CNI bridge and subnet; NULL = the defaults */
	unsigned metadata_port;	     /* the crun runtime's task metadata endpoint; 0 = the default */
	const char *pull_behavior;   /* the crun runtime's ECS_IMAGE_PULL_BEHAVIOR; NULL = default */
	unsigned count;		     /* instances (hollow agents); 0 = 1 */
	/* Tuning, for tests; 0 = the AGENT_* defaults above. */
	unsigned poll_wait_s;
	unsigned backoff_min_ms, backoff_max_ms;
	/* Called once, on a fresh loop turn (so it may free the agent), when every instance has ended
	 * on its own: deregistered (status 0) or refused by the server for good (status 1). */
	void (*on_exit)(void *arg, int status);
	void *on_exit_arg;
};

struct agent;

/* Creates the instances on loop, running tasks through rt (borrowed; it must outlive the agent):
 * reads each instance's identity from state_dir (creating the directory and a new identity when
 * there is none) and locks the directory against a second agent. Nothing is sent before
 * agent_start(). Returns the agent, or NULL with *err (bad options, unusable state). */
struct agent *agent_new(uv_loop_t *loop, const struct agent_opts *o, struct runtime *rt, struct err **err);
/* Starts every instance: registration, then the poll loop. */
void agent_start(struct agent *a);
/* Stops at once: cancels every call, releases the runtime's tasks without stopping them (containers
 * keep running, as after any agent exit) and frees the agent once the loop has closed its handles.
 * Accepts NULL. Not to be called from inside the agent's own callbacks other than on_exit. */
void agent_free(struct agent *a);

/* For tests and logs: instance i's container instance ARN (NULL before registration), its
 * instance id, and how many tasks it holds. */
const char *agent_instance_arn(const struct agent *a, unsigned i);
const char *agent_instance_id(const struct agent *a, unsigned i);
size_t agent_task_count(const struct agent *a, unsigned i);

/* This host's CPU units (1024 per online core) and memory (MemTotal minus the reserve, in MiB; 0
 * when /proc/meminfo cannot be read). */
long long agent_host_cpu(void);
long long agent_host_memory_mib(void);

/* The `gantry agent` process: a loop, the runtime named runtime_name (fake_opts for "fake"), the
 * agent, SIGINT/SIGTERM handling. Returns 0 after a signal or when every instance was deregistered,
 * -1 with *err when it cannot start or an instance was refused for good. */
int agent_run(const struct agent_opts *o, const char *runtime_name, const struct runtime_fake_opts *fake_opts,
	      struct err **err);

#endif
