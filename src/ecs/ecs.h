/* ECS resources: clusters, task definitions, tags and account settings, kept in memory as the
 * JSON documents the API returns and written through to the store. */
#ifndef GANTRY_ECS_H
#define GANTRY_ECS_H

#include <uv.h>

#include "common/err.h"

struct api;
struct ecs;
struct store;

/* The JSON 1.1 target prefix and SigV4 signing name of the ECS API. */
#define ECS_TARGET_PREFIX "AmazonEC2ContainerServiceV20141113"
#define ECS_SIGNING_NAME  "ecs"

/* Creates the ECS state over store (borrowed; must outlive it). */
struct ecs *ecs_new(struct store *store);
/* Rebuilds memory from the store. Call once, before serving. Returns 0 or -1 with *err. */
int ecs_load(struct ecs *ecs, struct err **err);
/* The JSON 1.1 target prefix of the agent protocol (docs/agent-protocol.md). */
#define ECS_AGENT_TARGET_PREFIX "GantryAgent_20261122"

struct ecs_options {
	double agent_timeout_s; /* an agent silent this long is disconnected (default 60) */
	double stopped_ttl_s;	/* stopped tasks stay visible this long (default 3600) */
};

/* Starts the timers (agent liveness, purge of stopped tasks) and allows long-polls, on loop.
 * Without it (tests that drive the API synchronously) polls answer at once. opts may be NULL. */
void ecs_start(struct ecs *ecs, uv_loop_t *loop, const struct ecs_options *opts);
/* Answers every held poll and stops the timers, so that the server can shut down. */
void ecs_stop(struct ecs *ecs);
/* Adds the ECS operations to the API front. */
void ecs_add_to_api(struct ecs *ecs, struct api *api);
/* Frees the state; accepts NULL. */
void ecs_free(struct ecs *ecs);

#endif
