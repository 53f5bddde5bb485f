/* libFuzzer target for the cluster query language: input bytes (up to the first NUL) are parsed
 * with cql_parse and, when they parse, evaluated against a fixed instance both directly and through
 * a placement-engine cluster view (sched_instance_matches, as ListContainerInstances does). Besides
 * crashes, leaks and undefined behaviour it checks: a refusal is an InvalidParameter error that
 * names a position; the canonical form (when within the length limit) parses, prints the same
 * again and selects the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sched/cql.h"
#include "sched/sched.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sched_cluster *cl;

static const char *f_attribute(const void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "ecs.instance-type"))
		return "t2.small";
	if (!strcmp(name, "cores"))
		return "16";
	if (!strcmp(name, "flag"))
		return "";
	return NULL;
}

static long f_group_tasks(const void *ctx, const char *group)
{
	(void)ctx;
	return !strcmp(group, "service:web") ? 2 : 0;
}

static bool f_any_group(const void *ctx, bool (*fn)(void *arg, const char *group), void *arg)
{
	(void)ctx;
	return fn(arg, "service:web");
}

static const struct cql_instance fixed = {
	.agent_connected = true,
	.agent_version = "1.14.5",
	.ec2_instance_id = "i-abcd1234",
	.registered_at = 1518429600.5,
	.running_tasks = 2,
	.attribute = f_attribute,
	.group_tasks = f_group_tasks,
	.any_group = f_any_group,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static const struct sched_attr attrs[] = {
		{"ecs.instance-type", "t2.small"}, {"cores", "16"}, {"flag", NULL}};
	struct sched_instance_spec spec = {
		.id = "i1",
		.ec2_instance_id = "i-abcd1234",
		.agent_version = "1.14.5",
		.registered_at = 1518429600.5,
		.cpu = 2048,
		.memory = 4096,
		.attrs = attrs,
		.nattrs = 3,
		.agent_connected = true,
	};
	struct sched_usage web = {.cpu = 10, .memory = 10, .group = "service:web"};
	cl = sched_cluster_new(1);
	if (sched_instance_add(cl, &spec, NULL) < 0 || sched_reserve(cl, "i1", &web, NULL) < 0 ||
	    sched_reserve(cl, "i1", &web, NULL) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct err *e = NULL, *e2 = NULL;
	struct cql_expr *x, *y = NULL;
	char *canon = NULL, *canon2 = NULL;

	memcpy(text, data, size);
	text[size] = '\0';
	x = cql_parse(text, &e);
	if (!x == !e)
		abort();
	if (!x) {
		if (e->kind != ERR_INVALID_PARAM || strncmp(e->msg, "Invalid expression", 18))
			abort();
		goto out;
	}
	bool direct = cql_eval(x, &fixed);
	if (sched_instance_matches(cl, "i1", x) != direct)
		abort();
	canon = cql_format(x);
	if (strlen(canon) > CQL_TEXT_MAX)
		goto out; /* spaces and quotes can take it past the length limit */
	y = cql_parse(canon, &e2);
	if (!y)
		abort();
	canon2 = cql_format(y);
	if (strcmp(canon, canon2) || cql_eval(y, &fixed) != direct || cql_uses_tasks(x) != cql_uses_tasks(y))
		abort();
out:
	free(canon2);
	free(canon);
	cql_free(y);
	cql_free(x);
	err_free(e);
	err_free(e2);
	free(text);
	return 0;
}
