/* The agent's container runtime interface: what the agent asks of whatever runs a task's containers
 * (start a task, stop it, forget it) and what it hears back (one event per container transition).
 * The agent owns the task state machine on top of it (when a task is RUNNING, that an essential
 * container's exit stops the task, what is reported to the server); a runtime only runs containers.
 *
 * Implementations: `fake` (runtime_fake.c: starts no processes, for hollow hosts and tests) and
 * `crun` (runtime_crun.c: images, overlay roots, CNI networks, conmon + crun).
 *
 * Contract every runtime keeps:
 * - Events are delivered on the loop, never from inside runtime_start() or runtime_stop().
 * - Per task: at most one RUNTIME_PULLED, before any RUNTIME_CONTAINER_RUNNING; per container at
 *   most one RUNTIME_CONTAINER_RUNNING and then exactly one RUNTIME_CONTAINER_STOPPED, which a
 *   container that never ran gets too (without an exit code) once the task is stopped or fails.
 *   Between the two, RUNTIME_CONTAINER_HEALTH each time its health check's verdict changes.
 * - After runtime_stop() every container still alive is stopped (a real runtime: SIGTERM, then
 *   SIGKILL after the container's stopTimeout) and reported STOPPED.
 * - After runtime_release() no event is delivered for the task and the handle is gone; the
 *   containers are left as they are (an agent that exits leaves its containers running).
 * - runtime_start() for a task the runtime still runs from an earlier life of the agent (the agent
 *   restarted) adopts those containers instead of starting new ones and reports their states. */
#ifndef GANTRY_RUNTIME_H
#define GANTRY_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/err.h"

struct runtime;
struct runtime_task;

/* One container of a task to start. */
struct runtime_container {
	const char *name;
	bool essential;
	json_t *def;	  /* its containerDefinition with the task's containerOverrides applied */
	json_t *bindings; /* the networkBindings the server reserved for it (array), or NULL */
};

/* What runtime_start() runs. Everything is borrowed for the duration of the call only: a runtime
 * copies (or increfs) what it keeps. */
struct runtime_spec {
	const char *task_arn;
	json_t *task;	 /* the Task as DescribeTasks shows it */
	json_t *taskdef; /* the TaskDefinition it runs */
	const struct runtime_container *containers;
	size_t ncontainers;
};

enum runtime_event_kind {
	RUNTIME_PULLED,		   /* every image is ready (pull_started_at / pull_stopped_at) */
	RUNTIME_CONTAINER_RUNNING, /* container `index` started (runtime_id, bindings) */
	RUNTIME_CONTAINER_STOPPED, /* container `index` exited, or will never start (exit code, reason) */
	RUNTIME_CONTAINER_HEALTH,  /* container `index`'s health check result changed (health) */
};

/* A container's health as its healthCheck finds it (ECS's healthStatus). */
enum runtime_health {
	RUNTIME_HEALTH_UNKNOWN = 0, /* no check, or none has decided yet */
	RUNTIME_HEALTH_HEALTHY,
	RUNTIME_HEALTH_UNHEALTHY,
};

struct runtime_event {
	enum runtime_event_kind kind;
	size_t index;				 /* the container: its position in the spec */
	double pull_started_at, pull_stopped_at; /* PULLED: epoch seconds */
	const char *runtime_id;			 /* RUNNING: the runtime's id of the container */
	const char *ip;	    /* RUNNING, awsvpc: the task's address (its network interface), else NULL */
	json_t *bindings;   /* RUNNING: the host ports it got (array, or NULL) */
	bool has_exit_code; /* STOPPED: false when the container never ran */
	int exit_code;	    /* STOPPED: when has_exit_code */
	const char
		*reason; /* STOPPED: why, when not a plain exit ("CannotPullContainerError: ..."), or NULL */
	enum runtime_health health; /* HEALTH: the new status */
};

/* Receives a task's events; ev and everything it points to is borrowed for the call only. The
 * callback may call runtime_stop() or runtime_release() on the task. */
typedef void (*runtime_event_fn)(void *arg, const struct runtime_event *ev);

/* Options of the fake runtime (see runtime_fake.c). */
struct runtime_fake_opts {
	unsigned start_delay_ms; /* PENDING -> RUNNING after this long (0 = on the next loop turn) */
	unsigned exit_after_ms;	 /* 0 = containers run until stopped; else they exit after this long */
	int exit_code;		 /* the exit code of containers that exit on their own */
};

/* The exit code the fake reports for a container stopped by the agent: 128 + SIGTERM, what a
 * process that keeps SIGTERM's default action leaves behind (ECS shows 137 only after a SIGKILL). */
#define RUNTIME_FAKE_STOP_EXIT_CODE 143

/* Options of the crun runtime (see runtime_crun.c). Borrowed for runtime_crun_new(). */
struct runtime_crun_opts {
	const char *state_dir; /* the agent's state directory (required): the runtime keeps its own
				* state in state_dir/crun-runtime */
	/* The agent's server and credentials: its registry is gantry's own (ECR passwords). */
	const char *server, *access_key, *secret, *region;
	const char *bridge, *subnet; /* the CNI bridge and subnet; NULL = cni.h's defaults */
	unsigned metadata_port;	     /* the task metadata endpoint's; 0 = METADATA_PORT_DEFAULT */
	const char *pull_behavior;   /* ECS_IMAGE_PULL_BEHAVIOR (image_pull_policy_parse); NULL = default */
};

/* Both runtimes' options, for runtime_new(); either may be NULL for the defaults (crun needs its
 * state_dir). */
struct runtime_opts {
	const struct runtime_fake_opts *fake;
	const struct runtime_crun_opts *crun;
};

/* A runtime by name ("fake" or "crun"), on loop. Returns a new runtime, or NULL with *err for an
 * unknown name or a host the runtime cannot run on. */
struct runtime *runtime_new(uv_loop_t *loop, const char *name, const struct runtime_opts *o,
			    struct err **err);
/* The fake runtime (never NULL). */
struct runtime *runtime_fake_new(uv_loop_t *loop, const struct runtime_fake_opts *o);
/* The crun runtime: prepares the host (cgroups for crun, the CNI plugins' needs), opens its image
 * store and re-reads what an earlier agent left. Returns it, or NULL with *err saying what the host
 * lacks. */
struct runtime *runtime_crun_new(uv_loop_t *loop, const struct runtime_crun_opts *o, struct err **err);
/* The runtime's name ("fake"). */
const char *runtime_name(const struct runtime *rt);
/* Ends the runtime's background work (watches, timers, open requests) so that the loop can end;
 * call it once the agent has released its tasks. Accepts NULL. */
void runtime_close(struct runtime *rt);
/* Removes what an earlier life of the agent left on the host of tasks that no runtime_start() has
 * claimed since (their containers are killed): the agent calls it when it knows every task the
 * server wants here, i.e. after a full poll answer has been reconciled. Accepts NULL; a runtime
 * that keeps nothing across restarts does nothing. */
void runtime_sweep(struct runtime *rt);
/* Frees a runtime once every task has been released, runtime_close() was called and the loop has
 * run; accepts NULL. */
void runtime_free(struct runtime *rt);

/* Starts (or adopts, see above) the task in spec; events go to fn(arg, ...). Returns the task's
 * handle, or NULL with *err when it cannot even be tried (then no event follows). */
struct runtime_task *runtime_start(struct runtime *rt, const struct runtime_spec *spec, runtime_event_fn fn,
				   void *arg, struct err **err);
/* Stops the task: every container not yet STOPPED will be reported STOPPED. Repeating is harmless. */
void runtime_stop(struct runtime_task *t);
/* Ends the agent's interest in the task (see above); accepts NULL. */
void runtime_release(struct runtime_task *t);

/* For implementations only: the operations behind the functions above, and the head of every
 * runtime and task object. */
struct runtime_ops {
	const char *name;
	struct runtime_task *(*start)(struct runtime *rt, const struct runtime_spec *spec, struct err **err);
	void (*stop)(struct runtime_task *t);
	void (*release)(struct runtime_task *t);
	void (*close)(struct runtime *rt); /* may be NULL: nothing runs in the background */
	void (*sweep)(struct runtime *rt); /* may be NULL: nothing is kept across restarts */
	void (*free)(struct runtime *rt);
};

struct runtime {
	const struct runtime_ops *ops;
	uv_loop_t *loop;
};

struct runtime_task {
	struct runtime *rt;
	runtime_event_fn fn;
	void *arg;
};

#endif
