/* Validation and normalization of ECS RegisterTaskDefinition requests: the rules ECS applies to a
 * task definition (names, sizes, network modes, ports, links, dependencies, health checks, Fargate
 * task sizes...) and the taskDefinition document ECS returns for a request that passes them. */
#ifndef GANTRY_TDVAL_H
#define GANTRY_TDVAL_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"

/* ECS bounds. */
#define TDVAL_SIZE_MAX		  65536 /* bytes of the serialized request */
#define TDVAL_CONTAINERS_MAX	  10	/* container definitions per task definition */
#define TDVAL_NAME_MAX		  255	/* family, container, volume names */
#define TDVAL_TAGS_MAX		  50
#define TDVAL_TAG_KEY_MAX	  128	 /* characters */
#define TDVAL_TAG_VALUE_MAX	  256	 /* characters */
#define TDVAL_CONSTRAINTS_MAX	  10	 /* placementConstraints */
#define TDVAL_ENV_FILES_MAX	  10	 /* environmentFiles per container */
#define TDVAL_MIN_CONTAINER_MEM	  6	 /* MiB: the least Docker 20.10+ gives a container */
#define TDVAL_EC2_TASK_CPU_MIN	  128	 /* CPU units (0.125 vCPU) */
#define TDVAL_EC2_TASK_CPU_MAX	  196608 /* CPU units (192 vCPU) */
#define TDVAL_FARGATE_TIMEOUT_MAX 120	 /* seconds: startTimeout / stopTimeout on Fargate */

/* Validates a RegisterTaskDefinition request body (the JSON object the client sent) and builds the
 * taskDefinition document ECS would return for it, in DescribeTaskDefinition's shape: known members
 * only (unknown ones are ignored, as the AWS JSON protocol does), the defaults ECS fills in
 * (container cpu 0, essential true, empty environment / mountPoints / volumesFrom / portMappings /
 * systemControls, port protocol tcp, hostPort per network mode, health check interval / timeout /
 * retries, networkMode bridge), task cpu and memory as plain numbers ("1 vCPU" -> "1024"),
 * compatibilities and requiresAttributes.
 *
 * Left for the caller to assign: taskDefinitionArn, revision, status, registeredAt, registeredBy,
 * deregisteredAt. `tags` is validated (count, key and value lengths and characters, duplicates,
 * the reserved aws: prefix) but not copied into the result; the caller keeps tags separately.
 *
 * request is borrowed and not modified. Returns a new reference, or NULL with *err: ClientException
 * (ERR_CLIENT) for rules ECS reports that way, InvalidParameterException (ERR_INVALID_PARAM) for
 * members of the wrong type or malformed values. Messages name the member and the container. */
json_t *tdval_register(json_t *request, struct err **err);

/* Parses a task cpu value as the API accepts it: CPU units ("256") or vCPUs ("1 vCPU", "0.25 vcpu",
 * ".5vCPU"), into CPU units (1 vCPU = 1024). Returns 0, or -1 with *err (InvalidParameterException
 * "Invalid '<member>' setting for task.") when s is not a positive whole number of CPU units. */
int tdval_parse_cpu(const char *s, const char *member, long long *out, struct err **err);
/* Parses a task memory value: MiB ("512", "512 MiB", "512 MB") or GiB ("2 GB", "0.5GB", "1 GiB"),
 * into MiB (1 GB = 1024). Returns 0, or -1 with *err naming `member` like tdval_parse_cpu. */
int tdval_parse_memory(const char *s, const char *member, long long *out, struct err **err);
/* True when cpu units and memory MiB form a task size Fargate offers (the ECS "task size" table). */
bool tdval_fargate_size_ok(long long cpu, long long memory);

#endif
