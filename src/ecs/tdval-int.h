/* Internals shared by the files of the task definition validator: tdval_shape.c (the API shapes and
 * the type-checking copy), tdval.c (task-level rules and the result), tdval_container.c (the rules
 * for one container definition). Not an interface for other modules. */
#ifndef GANTRY_TDVAL_INT_H
#define GANTRY_TDVAL_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/buf.h"
#include "common/err.h"
#include "ecs/tdval.h"

/* The JSON kinds a member of an API shape can have. */
enum tdval__kind {
	TDVAL__STR,	/* string; optionally one of `enums` */
	TDVAL__INT,	/* a 32-bit integer (the API's Integer / BoxedInteger) */
	TDVAL__BOOL,	/* boolean */
	TDVAL__STRLIST, /* list of strings */
	TDVAL__INTLIST, /* list of 32-bit integers */
	TDVAL__STRMAP,	/* object whose values are strings */
	TDVAL__STRUCT,	/* object with the members in `sub` */
	TDVAL__LIST,	/* list of objects with the members in `sub` */
};

#define TDVAL__REQUIRED 0x1u /* absent or null: InvalidParameterException naming the member */
#define TDVAL__DEFAULT	0x2u /* absent: set `dint` / `dstr` / false / [] / {} by kind, as ECS returns it */

/* One member of an API shape. A shape is an array of members ended by one with name NULL, in the
 * order ECS returns them. */
struct tdval__member {
	const char *name;
	enum tdval__kind kind;
	unsigned flags;
	const struct tdval__member *sub; /* TDVAL__STRUCT, TDVAL__LIST */
	const char *const *enums;	 /* TDVAL__STR: allowed values, NULL-terminated; NULL = any */
	long long dint;			 /* TDVAL__DEFAULT of a TDVAL__INT (or TDVAL__BOOL: nonzero = true) */
	const char *dstr;		 /* TDVAL__DEFAULT of a TDVAL__STR */
};

/* The shapes of RegisterTaskDefinitionRequest and ContainerDefinition (from the ECS API model). */
extern const struct tdval__member tdval__request_shape[];
extern const struct tdval__member tdval__container_shape[];

/* Where tdval__copy is in the request, for error messages. A frame is a member name (borrowed from
 * the shape or the request) or, when key is NULL, a list index. The text
 * ("containerDefinitions[0].portMappings[1]") is formatted only when an error names it. */
#define TDVAL__PATH_DEPTH 16   /* frames; the shapes nest at most 7 deep */
#define TDVAL__PATH_MAX	  1024 /* bytes of a formatted path; segments past it are left out */
struct tdval__path {
	size_t n;
	struct {
		const char *key;
		size_t index;
	} f[TDVAL__PATH_DEPTH];
};

/* Copies object `in` by `shape` into a new object *out: known members only, in shape order, each
 * checked for its JSON type (and enum values), defaults set. `path` is where `in` is (n = 0 at the
 * top); it is restored before returning. Returns 0, or -1 with *err (InvalidParameterException)
 * and *out NULL. */
int tdval__copy(json_t *in, const struct tdval__member *shape, struct tdval__path *path, json_t **out,
		struct err **err);
/* The length of jv_dump(j), counted without serializing: exact up to `limit`; past it, some number
 * greater than limit (the count stops early). For values that jv_dump can serialize (strings of
 * valid UTF-8, no cycles), which is every value jansson parsed. */
size_t tdval__json_size(const json_t *j, size_t limit);
/* True when s is one of the NULL-terminated values. */
bool tdval__one_of(const char *s, const char *const *values);
/* Appends ", "-separated values to b ("bridge, host, awsvpc, none"). */
void tdval__list_values(struct buf *b, const char *const *values);

/* A task definition while it is validated. Everything points into `req`, the normalized copy of
 * the request made by tdval__copy, so members have their API types from then on. */
struct tdval__task {
	json_t *req;	    /* owned */
	json_t *containers; /* req.containerDefinitions (borrowed), 1..TDVAL_CONTAINERS_MAX objects */
	json_t *volumes;    /* req.volumes or NULL */
	const char *net;    /* networkMode, defaulted */
	bool req_ec2, req_fargate, req_external, req_managed; /* requiresCompatibilities */
	bool has_cpu, has_mem;
	long long cpu, mem;		   /* task cpu units / memory MiB when has_cpu / has_mem */
	const char *task_role, *exec_role; /* NULL when absent or empty */
	bool windows;			   /* runtimePlatform.operatingSystemFamily is a Windows one */
	json_t *attrs;			   /* requiresAttributes being collected (owned) */
};

/* Member helpers over normalized objects: the value, or the fallback when absent. */
const char *tdval__str(json_t *obj, const char *key);
long long tdval__int(json_t *obj, const char *key, long long fallback);
bool tdval__bool(json_t *obj, const char *key, bool fallback);
/* The container named `name`, or NULL. */
json_t *tdval__container_named(struct tdval__task *t, const char *name);
/* 1..max letters, digits, hyphens and underscores (family, container and volume names). */
bool tdval__name_ok(const char *s, size_t max);
/* True for an image in an Amazon ECR repository ("<account>.dkr.ecr.<region>.amazonaws.com/..."). */
bool tdval__is_ecr_image(const char *image);
/* Adds {"name": name} to t->attrs unless already there. */
void tdval__attr(struct tdval__task *t, const char *name);

/* Checks container c (normalized, with a valid unique name) against the rules for one container
 * and fills in what depends on the task (hostPort by network mode). Collects requiresAttributes.
 * Returns 0 or -1 with *err. */
int tdval__container(struct tdval__task *t, json_t *c, struct err **err);
/* The first reason the container keeps the task from running on Fargate, as a new string, or
 * NULL when there is none. */
char *tdval__container_fargate_problem(struct tdval__task *t, json_t *c);

#endif
