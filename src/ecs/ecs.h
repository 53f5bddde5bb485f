/* ECS resources: clusters, task definitions, tags and account settings, kept in memory as the
 * JSON documents the API returns and written through to the store. */
#ifndef GANTRY_ECS_H
#define GANTRY_ECS_H

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
/* Adds the ECS operations to the API front. */
void ecs_add_to_api(struct ecs *ecs, struct api *api);
/* Frees the state; accepts NULL. */
void ecs_free(struct ecs *ecs);

#endif
