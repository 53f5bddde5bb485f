/* Unit tests for the placement engine (sched/sched.h), one rule at a time: the cluster view and
 * what DescribeContainerInstances shows (remaining resources and ports go down and back up
 * exactly), binpack, spread on instanceId and on attributes, random, strategy chaining, memberOf
 * and distinctInstance, groups, draining and disconnected instances, launch types, required
 * attributes, static and dynamic host ports, ECS's failure reasons with the closest instance,
 * StartTask-style placement, the ListContainerInstances filter, and request validation. Every test
 * runs twice: with the engine's indexes and with its plain scan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sched/cql.h"
#include "sched/sched.h"

static bool indexing = true;
static struct sched_cluster *cl;

static int setup(void **state)
{
	(void)state;
	cl = sched_cluster_new(42);
	sched_cluster_set_indexing(cl, indexing);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sched_cluster_free(cl);
	cl = NULL;
	return 0;
}

/* ok(call(..., &e), &e): e is read after the call. */
static void ok(int rc, struct err **e)
{
	if (rc < 0)
		fail_msg("unexpected error: %s", *e ? (*e)->msg : "(none)");
}

/* Adds an instance with attributes written "name=value,name2,name3=value3" (name2 has no value). */
static void add_full(const char *id, int cpu, int mem, const char *attrs, enum sched_status st,
		     bool connected)
{
	struct sched_attr a[16];
	char buf[512];
	size_t n = 0;
	snprintf(buf, sizeof(buf), "%s", attrs ? attrs : "");
	for (char *tok = buf; *tok && n < 16;) {
		char *comma = strchr(tok, ','), *eq = strchr(tok, '=');
		if (comma)
			*comma = '\0';
		if (eq && (!comma || eq < comma))
			*eq = '\0';
		else
			eq = NULL;
		a[n].name = tok;
		a[n++].value = eq ? eq + 1 : NULL;
		tok = comma ? comma + 1 : tok + strlen(tok);
	}
	char ec2[64];
	snprintf(ec2, sizeof(ec2), "i-%s", id);
	struct sched_instance_spec spec = {
		.id = id,
		.ec2_instance_id = ec2,
		.agent_version = "1.70.0",
		.registered_at = 1700000000,
		.cpu = cpu,
		.memory = mem,
		.attrs = a,
		.nattrs = n,
		.status = st,
		.agent_connected = connected,
	};
	struct err *e = NULL;
	ok(sched_instance_add(cl, &spec, &e), &e);
}

static void add(const char *id, int cpu, int mem, const char *attrs)
{
	add_full(id, cpu, mem, attrs, SCHED_ACTIVE, true);
}

static struct sched_request task(int cpu, int mem)
{
	struct sched_request r = {.cpu = cpu, .memory = mem, .group = "family:web"};
	return r;
}

/* Places count copies; writes "i1,i2,..." of placed copies into out. Returns the failures. */
static int place(const struct sched_request *r, int count, char *out, size_t outlen, struct sched_failure *f)
{
	struct sched_alloc *a = calloc((size_t)count + 1, sizeof(*a));
	struct sched_failure *fl = calloc((size_t)count + 1, sizeof(*fl));
	int np = -1, nf = -1;
	struct err *e = NULL;
	ok(sched_place(cl, r, count, a, &np, fl, &nf, &e), &e);
	assert_int_equal(np + nf, count);
	out[0] = '\0';
	for (int i = 0; i < np; i++) {
		size_t len = strlen(out);
		snprintf(out + len, outlen - len, "%s%s", i ? "," : "", a[i].instance);
	}
	for (int i = 1; i < nf; i++) {
		assert_int_equal(fl[i].reason, fl[0].reason);
		assert_ptr_equal(fl[i].instance, fl[0].instance);
	}
	if (f && nf)
		*f = fl[0];
	free(a);
	free(fl);
	return nf;
}

static void expect_places(const struct sched_request *r, int count, const char *expect)
{
	char got[1024];
	int nf = place(r, count, got, sizeof(got), NULL);
	if (strcmp(got, expect) || nf)
		fail_msg("placed [%s] with %d failures, expected [%s]", got, nf, expect);
}

static void expect_failure(const struct sched_request *r, int count, const char *placed, int nfailed,
			   enum sched_reason why, const char *example)
{
	char got[1024];
	struct sched_failure f = {0};
	int nf = place(r, count, got, sizeof(got), &f);
	if (strcmp(got, placed))
		fail_msg("placed [%s], expected [%s]", got, placed);
	assert_int_equal(nf, nfailed);
	if (f.reason != why)
		fail_msg("reason %s, expected %s", sched_reason_text(f.reason), sched_reason_text(why));
	if (example)
		assert_string_equal(f.instance, example);
	else
		assert_null(f.instance);
}

static void expect_error(const struct sched_request *r, const char *needle)
{
	struct sched_alloc a[2];
	struct sched_failure fl[2];
	int np = -1, nf = -1;
	struct err *e = NULL;
	assert_int_equal(sched_place(cl, r, 1, a, &np, fl, &nf, &e), -1);
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	if (!strstr(e->msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, needle);
	assert_int_equal(np, 0);
	assert_int_equal(nf, 0);
	err_free(e);
}

static struct sched_instance_info info(const char *id)
{
	struct sched_instance_info i;
	struct err *e = NULL;
	ok(sched_instance_get(cl, id, &i, &e), &e);
	return i;
}

static struct cql_expr *expr(const char *text)
{
	struct err *e = NULL;
	struct cql_expr *x = cql_parse(text, &e);
	if (!x)
		fail_msg("%s", e->msg);
	return x;
}

/* ---- the cluster view ---- */

static void test_instances(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 2048, 4096, "ecs.availability-zone=us-east-1a,flag");
	assert_int_equal(sched_cluster_size(cl), 1);
	struct sched_instance_info i = info("i1");
	assert_string_equal(i.id, "i1");
	assert_string_equal(i.ec2_instance_id, "i-i1");
	assert_string_equal(i.agent_version, "1.70.0");
	assert_int_equal(i.cpu, 2048);
	assert_int_equal(i.memory, 4096);
	assert_int_equal(i.remaining_cpu, 2048);
	assert_int_equal(i.remaining_memory, 4096);
	assert_int_equal(i.running_tasks, 0);
	assert_int_equal(i.status, SCHED_ACTIVE);
	assert_true(i.agent_connected);

	struct sched_instance_spec dup = {.id = "i1", .cpu = 1, .memory = 1};
	assert_int_equal(sched_instance_add(cl, &dup, &e), -1);
	assert_int_equal(e->kind, ERR_CLIENT);
	err_free(e);
	e = NULL;
	struct sched_instance_spec neg = {.id = "i9", .cpu = -1, .memory = 1};
	assert_int_equal(sched_instance_add(cl, &neg, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;
	struct sched_instance_spec noid = {.cpu = 1};
	assert_int_equal(sched_instance_add(cl, &noid, &e), -1);
	err_free(e);
	e = NULL;

	ok(sched_instance_set_status(cl, "i1", SCHED_DRAINING, &e), &e);
	ok(sched_instance_set_connected(cl, "i1", false, &e), &e);
	ok(sched_instance_set_agent_version(cl, "i1", "1.71.0", &e), &e);
	ok(sched_instance_set_resources(cl, "i1", 4096, 8192, &e), &e);
	i = info("i1");
	assert_int_equal(i.status, SCHED_DRAINING);
	assert_false(i.agent_connected);
	assert_string_equal(i.agent_version, "1.71.0");
	assert_int_equal(i.remaining_memory, 8192);

	ok(sched_instance_remove(cl, "i1", &e), &e);
	assert_int_equal(sched_cluster_size(cl), 0);
	assert_int_equal(sched_instance_get(cl, "i1", &i, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
	e = NULL;
	assert_int_equal(sched_instance_remove(cl, "i1", &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(sched_instance_set_status(cl, "nope", SCHED_ACTIVE, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
	/* ids are reusable after removal */
	add("i1", 1024, 1024, NULL);
	assert_int_equal(info("i1").memory, 1024);
}

static void test_reserved_ports(void **state)
{
	(void)state;
	uint16_t tcp[] = {8080, 22}, udp[] = {53};
	struct sched_instance_spec spec = {.id = "i1",
					   .cpu = 1024,
					   .memory = 1024,
					   .reserved_tcp = tcp,
					   .nreserved_tcp = 2,
					   .reserved_udp = udp,
					   .nreserved_udp = 1,
					   .agent_connected = true};
	struct err *e = NULL;
	ok(sched_instance_add(cl, &spec, &e), &e);
	const uint16_t *p;
	long n = sched_instance_ports(cl, "i1", SCHED_TCP, &p, &e);
	uint16_t want[] = {22, 2375, 2376, 8080, 51678, 51679};
	assert_int_equal(n, 6);
	assert_memory_equal(p, want, sizeof(want));
	n = sched_instance_ports(cl, "i1", SCHED_UDP, &p, &e);
	assert_int_equal(n, 1);
	assert_int_equal(p[0], 53);
	assert_int_equal(sched_instance_ports(cl, "nope", SCHED_UDP, &p, &e), -1);
	err_free(e);
}

static void test_reserve_release(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 2048, 4096, NULL);
	struct sched_port ports[] = {{80, SCHED_TCP}, {49160, SCHED_TCP}, {53, SCHED_UDP}};
	struct sched_usage u = {
		.cpu = 256, .memory = 512, .group = "family:web", .ports = ports, .nports = 3};
	ok(sched_reserve(cl, "i1", &u, &e), &e);
	struct sched_instance_info i = info("i1");
	assert_int_equal(i.remaining_cpu, 2048 - 256);
	assert_int_equal(i.remaining_memory, 4096 - 512);
	assert_int_equal(i.running_tasks, 1);
	assert_int_equal(sched_instance_group_tasks(cl, "i1", "family:web"), 1);
	const uint16_t *p;
	assert_int_equal(sched_instance_ports(cl, "i1", SCHED_TCP, &p, &e), 7);
	assert_int_equal(p[1], 80);
	assert_int_equal(p[4], 49160);
	assert_int_equal(sched_instance_ports(cl, "i1", SCHED_UDP, &p, &e), 1);

	/* a port in use or reserved cannot be reserved again; nothing changes */
	struct sched_port taken[] = {{22, SCHED_TCP}};
	struct sched_usage u2 = {.cpu = 1, .memory = 1, .group = "g", .ports = taken, .nports = 1};
	assert_int_equal(sched_reserve(cl, "i1", &u2, &e), -1);
	assert_int_equal(e->kind, ERR_CLIENT);
	err_free(e);
	e = NULL;
	u2.ports = ports;
	assert_int_equal(sched_reserve(cl, "i1", &u2, &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(info("i1").running_tasks, 1);

	/* a second task, then both released: everything back exactly */
	struct sched_usage u3 = {.cpu = 100, .memory = 100, .group = "family:other"};
	ok(sched_reserve(cl, "i1", &u3, &e), &e);
	ok(sched_release(cl, "i1", &u, &e), &e);
	ok(sched_release(cl, "i1", &u3, &e), &e);
	i = info("i1");
	assert_int_equal(i.remaining_cpu, 2048);
	assert_int_equal(i.remaining_memory, 4096);
	assert_int_equal(i.running_tasks, 0);
	assert_int_equal(sched_instance_ports(cl, "i1", SCHED_TCP, &p, &e), 5);
	assert_int_equal(sched_instance_ports(cl, "i1", SCHED_UDP, &p, &e), 0);
	assert_int_equal(sched_instance_group_tasks(cl, "i1", "family:web"), 0);

	/* releasing what is not held fails and changes nothing */
	assert_int_equal(sched_release(cl, "i1", &u, &e), -1);
	assert_int_equal(e->kind, ERR_INTERNAL);
	err_free(e);
	e = NULL;
	ok(sched_reserve(cl, "i1", &u3, &e), &e);
	struct sched_usage bigger = u3;
	bigger.memory = 101;
	assert_int_equal(sched_release(cl, "i1", &bigger, &e), -1);
	err_free(e);
	e = NULL;
	struct sched_usage reserved_port = u3;
	reserved_port.ports = taken;
	reserved_port.nports = 1;
	assert_int_equal(sched_release(cl, "i1", &reserved_port, &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(info("i1").remaining_memory, 4096 - 100);
	struct sched_port dup[] = {{80, SCHED_TCP}, {80, SCHED_TCP}};
	struct sched_usage dupu = {.cpu = 1, .memory = 1, .group = "g", .ports = dup, .nports = 2};
	assert_int_equal(sched_reserve(cl, "i1", &dupu, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;
	assert_int_equal(sched_reserve(cl, "nope", &u3, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
}

/* ---- strategies ---- */

static void test_binpack_memory(void **state)
{
	(void)state;
	add("i1", 4096, 4096, NULL);
	add("i2", 4096, 2048, NULL);
	add("i3", 4096, 8192, NULL);
	struct sched_strategy s = {SCHED_BINPACK_MEMORY, NULL};
	struct sched_request r = task(10, 512);
	r.strategies = &s;
	r.nstrategies = 1;
	/* the least remaining memory that fits: i2 until full, then i1 */
	expect_places(&r, 10, "i2,i2,i2,i2,i1,i1,i1,i1,i1,i1");
	assert_int_equal(info("i2").remaining_memory, 0);
	assert_int_equal(info("i1").remaining_memory, 1024);
	/* a bigger task skips instances that are too full */
	r.memory = 2048;
	expect_places(&r, 2, "i3,i3");
	/* ties go to the instance added first */
	add("i4", 4096, 4096, NULL);
	add("i5", 4096, 4096, NULL);
	expect_places(&r, 3, "i3,i3,i4");
}

static void test_binpack_cpu(void **state)
{
	(void)state;
	add("i1", 1024, 8192, NULL);
	add("i2", 512, 8192, NULL);
	add("i3", 2048, 8192, NULL);
	struct sched_strategy s = {SCHED_BINPACK_CPU, NULL};
	struct sched_request r = task(256, 10);
	r.strategies = &s;
	r.nstrategies = 1;
	expect_places(&r, 7, "i2,i2,i1,i1,i1,i1,i3");
	assert_int_equal(info("i3").remaining_cpu, 2048 - 256);
}

static void test_spread_instance(void **state)
{
	(void)state;
	add("i1", 4096, 8192, NULL);
	add("i2", 4096, 8192, NULL);
	add("i3", 4096, 8192, NULL);
	struct sched_strategy s = {SCHED_SPREAD_INSTANCE, NULL};
	struct sched_request r = task(10, 10);
	r.strategies = &s;
	r.nstrategies = 1;
	expect_places(&r, 10, "i1,i2,i3,i1,i2,i3,i1,i2,i3,i1");
	assert_int_equal(sched_instance_group_tasks(cl, "i1", "family:web"), 4);
	assert_int_equal(sched_instance_group_tasks(cl, "i2", "family:web"), 3);
	/* only the group's own tasks count */
	r.group = "family:db";
	expect_places(&r, 2, "i1,i2");
	r.group = "family:web";
	expect_places(&r, 2, "i2,i3");
	/* a host that cannot take the task is skipped */
	r.memory = 8150;
	expect_places(&r, 1, "i3");
}

static void test_spread_attribute(void **state)
{
	(void)state;
	add("i1", 4096, 8192, "ecs.availability-zone=us-east-1b");
	add("i2", 4096, 8192, "ecs.availability-zone=us-east-1a");
	add("i3", 4096, 8192, "ecs.availability-zone=us-east-1a");
	add("i4", 4096, 8192, "ecs.availability-zone=us-east-1c");
	struct sched_strategy s = {SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"};
	struct sched_request r = task(10, 10);
	r.strategies = &s;
	r.nstrategies = 1;
	/* zones in turn from the emptiest, ties to the smallest name; within a zone, first added */
	expect_places(&r, 6, "i2,i1,i4,i2,i1,i4");
	/* an instance without the attribute forms its own value, which sorts first */
	add("i5", 4096, 8192, NULL);
	expect_places(&r, 4, "i5,i5,i5,i2");
	/* spread on an attribute no instance has: all in one value, first fit */
	struct sched_strategy none = {SCHED_SPREAD_ATTRIBUTE, "rack"};
	r.strategies = &none;
	expect_places(&r, 2, "i1,i1");
}

static void test_spread_zone_then_instance(void **state)
{
	(void)state;
	add("i1", 4096, 8192, "ecs.availability-zone=a");
	add("i2", 4096, 8192, "ecs.availability-zone=a");
	add("i3", 4096, 8192, "ecs.availability-zone=b");
	struct sched_strategy s[] = {{SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"},
				     {SCHED_SPREAD_INSTANCE, NULL}};
	struct sched_request r = task(10, 10);
	r.strategies = s;
	r.nstrategies = 2;
	expect_places(&r, 6, "i1,i3,i2,i3,i1,i3");
}

static void test_spread_zone_then_binpack(void **state)
{
	(void)state;
	add("i1", 4096, 4096, "ecs.availability-zone=a");
	add("i2", 4096, 2048, "ecs.availability-zone=a");
	add("i3", 4096, 4096, "ecs.availability-zone=b");
	struct sched_strategy s[] = {{SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"},
				     {SCHED_BINPACK_MEMORY, NULL}};
	struct sched_request r = task(10, 1024);
	r.strategies = s;
	r.nstrategies = 2;
	expect_places(&r, 6, "i2,i3,i2,i3,i1,i3");
}

static void test_chained_binpack_then_spread(void **state)
{
	(void)state;
	/* binpack memory leaves i1 and i2 tied; spread instanceId breaks the tie by group tasks */
	add("i1", 4096, 4096, NULL);
	add("i2", 4096, 4096, NULL);
	add("i3", 4096, 8192, NULL);
	struct sched_usage u = {.cpu = 0, .memory = 0, .group = "family:web"};
	struct err *e = NULL;
	ok(sched_reserve(cl, "i1", &u, &e), &e);
	struct sched_strategy s[] = {{SCHED_BINPACK_MEMORY, NULL}, {SCHED_SPREAD_INSTANCE, NULL}};
	struct sched_request r = task(10, 0);
	r.strategies = s;
	r.nstrategies = 2;
	expect_places(&r, 3, "i2,i1,i2");
	/* binpack cpu then binpack memory */
	struct sched_strategy s2[] = {{SCHED_BINPACK_CPU, NULL}, {SCHED_BINPACK_MEMORY, NULL}};
	r.strategies = s2;
	r.cpu = 0;
	r.memory = 100;
	expect_places(&r, 1, "i2");
}

static void test_random(void **state)
{
	(void)state;
	add("i1", 100000, 100000, "ok");
	add("i2", 100000, 100000, "ok");
	add("i3", 100000, 100000, NULL);
	add("i4", 100000, 100000, "ok");
	struct cql_expr *x = expr("attribute:ok exists");
	struct sched_constraint c = {SCHED_MEMBER_OF, x};
	struct sched_strategy s = {SCHED_RANDOM, NULL};
	struct sched_request r = task(1, 1);
	r.strategies = &s;
	r.nstrategies = 1;
	r.constraints = &c;
	r.nconstraints = 1;
	int hits[5] = {0};
	for (int i = 0; i < 300; i++) {
		char got[16];
		assert_int_equal(place(&r, 1, got, sizeof(got), NULL), 0);
		hits[got[1] - '0']++;
	}
	assert_int_equal(hits[3], 0);
	for (int i = 1; i <= 4; i++)
		if (i != 3 && (hits[i] < 60 || hits[i] > 140))
			fail_msg("i%d got %d of 300 random placements", i, hits[i]);
	/* spread then random: random only among the emptiest */
	struct sched_strategy s2[] = {{SCHED_SPREAD_INSTANCE, NULL}, {SCHED_RANDOM, NULL}};
	r.strategies = s2;
	r.nstrategies = 2;
	r.group = "family:fresh";
	char got[64];
	assert_int_equal(place(&r, 3, got, sizeof(got), NULL), 0);
	for (int i = 1; i <= 4; i++)
		if (i != 3)
			assert_int_equal(sched_instance_group_tasks(cl, (char[]){'i', (char)('0' + i), 0},
								    "family:fresh"),
					 1);
	cql_free(x);
}

static void test_random_deterministic(void **state)
{
	(void)state;
	/* the same seed and the same operations make the same choices */
	char runs[2][256];
	for (int k = 0; k < 2; k++) {
		sched_cluster_free(cl);
		cl = sched_cluster_new(7);
		sched_cluster_set_indexing(cl, indexing);
		for (int i = 0; i < 8; i++) {
			char id[16];
			snprintf(id, sizeof(id), "i%d", i);
			add(id, 4096, 4096, NULL);
		}
		struct sched_strategy s = {SCHED_RANDOM, NULL};
		struct sched_request r = task(1, 1);
		r.strategies = &s;
		r.nstrategies = 1;
		place(&r, 10, runs[k], sizeof(runs[k]), NULL);
	}
	assert_string_equal(runs[0], runs[1]);
}

static void test_no_strategy_first_fit(void **state)
{
	(void)state;
	add("i1", 1024, 1024, NULL);
	add("i2", 4096, 4096, NULL);
	struct sched_request r = task(512, 512);
	expect_places(&r, 4, "i1,i1,i2,i2");
}

/* ---- constraints and groups ---- */

static void test_member_of(void **state)
{
	(void)state;
	add("i1", 4096, 8192, "ecs.instance-type=t2.small,ecs.availability-zone=us-east-1a");
	add("i2", 4096, 8192, "ecs.instance-type=m5.large,ecs.availability-zone=us-east-1b");
	add("i3", 4096, 8192, "ecs.instance-type=t2.medium,ecs.availability-zone=us-east-1d");
	struct cql_expr *x = expr("attribute:ecs.instance-type =~ t2.*");
	struct sched_constraint c = {SCHED_MEMBER_OF, x};
	struct sched_strategy s = {SCHED_SPREAD_INSTANCE, NULL};
	struct sched_request r = task(10, 10);
	r.constraints = &c;
	r.nconstraints = 1;
	r.strategies = &s;
	r.nstrategies = 1;
	expect_places(&r, 4, "i1,i3,i1,i3");
	/* two memberOf constraints (task definition's and the call's) must both hold */
	struct cql_expr *y = expr("attribute:ecs.availability-zone != us-east-1d");
	struct sched_constraint c2[] = {{SCHED_MEMBER_OF, x}, {SCHED_MEMBER_OF, y}};
	r.constraints = c2;
	r.nconstraints = 2;
	expect_places(&r, 2, "i1,i1");
	/* none match: the closest instance is the first added */
	struct cql_expr *z = expr("attribute:ecs.instance-type == c5.large");
	struct sched_constraint c3 = {SCHED_MEMBER_OF, z};
	r.constraints = &c3;
	r.nconstraints = 1;
	expect_failure(&r, 2, "", 2, SCHED_FAIL_MEMBER_OF, "i1");
	cql_free(x);
	cql_free(y);
	cql_free(z);
}

static void test_task_group_affinity(void **state)
{
	(void)state;
	add("i1", 4096, 8192, NULL);
	add("i2", 4096, 8192, NULL);
	add("i3", 4096, 8192, NULL);
	struct sched_usage db = {.cpu = 10, .memory = 10, .group = "database"};
	struct err *e = NULL;
	ok(sched_reserve(cl, "i2", &db, &e), &e);
	struct cql_expr *aff = expr("task:group == database");
	struct cql_expr *anti = expr("not(task:group == database)");
	struct sched_constraint c = {SCHED_MEMBER_OF, aff};
	struct sched_request r = task(10, 10);
	r.constraints = &c;
	r.nconstraints = 1;
	expect_places(&r, 2, "i2,i2");
	c.expr = anti;
	expect_places(&r, 2, "i1,i1");
	/* runningTasksCount sees the tasks placed by earlier copies of the same call */
	struct cql_expr *few = expr("runningTasksCount < 3");
	c.expr = few;
	expect_places(&r, 3, "i1,i3,i3");
	expect_places(&r, 1, "i3");
	expect_failure(&r, 1, "", 1, SCHED_FAIL_MEMBER_OF, "i1");
	/* the group's own tasks: copies of one call see each other */
	struct cql_expr *self = expr("not task:group == family:api");
	c.expr = self;
	r.group = "family:api";
	expect_failure(&r, 4, "i1,i2,i3", 1, SCHED_FAIL_MEMBER_OF, "i1");
	cql_free(aff);
	cql_free(anti);
	cql_free(few);
	cql_free(self);
}

static void test_distinct_instance(void **state)
{
	(void)state;
	add("i1", 4096, 8192, NULL);
	add("i2", 4096, 8192, NULL);
	add("i3", 4096, 8192, NULL);
	struct sched_constraint c = {SCHED_DISTINCT_INSTANCE, NULL};
	struct sched_strategy s = {SCHED_BINPACK_MEMORY, NULL};
	struct sched_request r = task(10, 10);
	r.constraints = &c;
	r.nconstraints = 1;
	r.strategies = &s;
	r.nstrategies = 1;
	/* binpack would double up; distinctInstance never does */
	expect_failure(&r, 5, "i1,i2,i3", 2, SCHED_FAIL_DISTINCT, "i1");
	/* another group is free to go anywhere */
	r.group = "family:other";
	struct err *e = NULL;
	struct sched_usage u = {.cpu = 0, .memory = 0, .group = "family:other"};
	ok(sched_reserve(cl, "i1", &u, &e), &e);
	expect_places(&r, 2, "i2,i3");
}

/* ---- which instances take tasks ---- */

static void test_draining_and_disconnected(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 4096, 8192, NULL);
	add("i2", 4096, 8192, NULL);
	add("i3", 4096, 8192, NULL);
	struct sched_strategy s = {SCHED_SPREAD_INSTANCE, NULL};
	struct sched_request r = task(10, 10);
	r.strategies = &s;
	r.nstrategies = 1;
	ok(sched_instance_set_status(cl, "i1", SCHED_DRAINING, &e), &e);
	ok(sched_instance_set_connected(cl, "i2", false, &e), &e);
	expect_places(&r, 3, "i3,i3,i3");
	/* only a disconnected instance left: AGENT */
	ok(sched_instance_set_status(cl, "i3", SCHED_INACTIVE, &e), &e);
	expect_failure(&r, 2, "", 2, SCHED_FAIL_AGENT, "i2");
	/* nothing ACTIVE: ECS's error */
	ok(sched_instance_set_status(cl, "i2", SCHED_DRAINING, &e), &e);
	expect_error(&r, "No Container Instances were found in your cluster.");
	/* back in service */
	ok(sched_instance_set_status(cl, "i1", SCHED_ACTIVE, &e), &e);
	ok(sched_instance_set_status(cl, "i2", SCHED_ACTIVE, &e), &e);
	ok(sched_instance_set_connected(cl, "i2", true, &e), &e);
	expect_places(&r, 2, "i1,i2");
}

static void test_empty_cluster(void **state)
{
	(void)state;
	struct sched_request r = task(1, 1);
	expect_error(&r, "No Container Instances were found in your cluster.");
}

static void test_launch_type(void **state)
{
	(void)state;
	add("ext", 4096, 8192, "ecs.capability.external");
	struct sched_request r = task(10, 10);
	expect_error(&r, "No Container Instances were found");
	r.launch = SCHED_LAUNCH_EXTERNAL;
	expect_places(&r, 1, "ext");
	add("ec2", 4096, 8192, NULL);
	r.launch = SCHED_LAUNCH_EC2;
	expect_places(&r, 2, "ec2,ec2");
	/* becoming external moves an instance between launch types */
	struct err *e = NULL;
	ok(sched_instance_set_attribute(cl, "ec2", "ecs.capability.external", NULL, &e), &e);
	expect_error(&r, "No Container Instances were found");
	ok(sched_instance_del_attribute(cl, "ext", "ecs.capability.external", &e), &e);
	expect_places(&r, 1, "ext");
}

static void test_required_attributes(void **state)
{
	(void)state;
	add("i1", 4096, 8192, "com.amazonaws.ecs.capability.docker-remote-api.1.19");
	add("i2", 4096, 8192,
	    "com.amazonaws.ecs.capability.docker-remote-api.1.19,ecs.os-type=linux,"
	    "ecs.capability.task-eni");
	struct sched_attr need[] = {{"com.amazonaws.ecs.capability.docker-remote-api.1.19", NULL},
				    {"ecs.os-type", "linux"}};
	struct sched_request r = task(10, 10);
	r.attrs = need;
	r.nattrs = 2;
	expect_places(&r, 2, "i2,i2");
	struct sched_attr windows[] = {{"ecs.os-type", "windows"}};
	r.attrs = windows;
	r.nattrs = 1;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_ATTRIBUTE, "i1");
	struct sched_attr unknown[] = {{"ecs.capability.never-heard-of", NULL}};
	r.attrs = unknown;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_ATTRIBUTE, "i1");
}

static void test_attribute_updates(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 4096, 8192, "stack=dev,ecs.availability-zone=a");
	add("i2", 4096, 8192, "ecs.availability-zone=b");
	struct cql_expr *x = expr("attribute:stack == prod");
	struct sched_constraint c = {SCHED_MEMBER_OF, x};
	struct sched_request r = task(10, 10);
	r.constraints = &c;
	r.nconstraints = 1;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_MEMBER_OF, "i1");
	ok(sched_instance_set_attribute(cl, "i2", "stack", "prod", &e), &e);
	expect_places(&r, 1, "i2");
	ok(sched_instance_set_attribute(cl, "i1", "stack", "prod", &e), &e);
	ok(sched_instance_del_attribute(cl, "i2", "stack", &e), &e);
	ok(sched_instance_del_attribute(cl, "i2", "never-set", &e), &e);
	expect_places(&r, 1, "i1");
	/* spread follows instances that change zones */
	struct sched_strategy s = {SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"};
	r.nconstraints = 0;
	r.strategies = &s;
	r.nstrategies = 1;
	r.group = "family:z";
	expect_places(&r, 2, "i1,i2");
	ok(sched_instance_set_attribute(cl, "i2", "ecs.availability-zone", "a", &e), &e);
	add("i3", 4096, 8192, "ecs.availability-zone=c");
	expect_places(&r, 2, "i3,i3");
	ok(sched_instance_set_attribute(cl, "i3", "ecs.availability-zone", "a", &e), &e);
	add("i4", 4096, 8192, "ecs.availability-zone=b");
	expect_places(&r, 1, "i4");
	cql_free(x);
}

/* ---- ports ---- */

static void test_static_ports(void **state)
{
	(void)state;
	add("i1", 4096, 8192, NULL);
	add("i2", 4096, 8192, NULL);
	struct sched_port p80[] = {{80, SCHED_TCP}};
	struct sched_strategy s = {SCHED_BINPACK_MEMORY, NULL};
	struct sched_request r = task(10, 10);
	r.ports = p80;
	r.nports = 1;
	r.strategies = &s;
	r.nstrategies = 1;
	/* binpack wants i1 twice but port 80 is taken there */
	expect_places(&r, 2, "i1,i2");
	expect_failure(&r, 1, "", 1, SCHED_FAIL_PORTS, "i1");
	/* reserved ports cannot be used */
	struct sched_port p22[] = {{22, SCHED_TCP}};
	r.ports = p22;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_PORTS, "i1");
	/* UDP is separate from TCP */
	struct sched_port u80[] = {{80, SCHED_UDP}, {22, SCHED_UDP}};
	r.ports = u80;
	r.nports = 2;
	expect_places(&r, 2, "i1,i2");
	expect_failure(&r, 1, "", 1, SCHED_FAIL_PORTS_UDP, "i1");
	/* released ports are free again */
	struct sched_usage u = {.cpu = 10, .memory = 10, .group = "family:web", .ports = u80, .nports = 2};
	struct err *e = NULL;
	ok(sched_release(cl, "i2", &u, &e), &e);
	expect_places(&r, 1, "i2");
}

static void test_dynamic_ports(void **state)
{
	(void)state;
	struct err *e = NULL;
	uint16_t resv[] = {49154};
	struct sched_instance_spec spec = {.id = "i1",
					   .cpu = 8192,
					   .memory = 8192,
					   .reserved_tcp = resv,
					   .nreserved_tcp = 1,
					   .agent_connected = true};
	ok(sched_instance_add(cl, &spec, &e), &e);
	uint8_t dyn[] = {SCHED_TCP, SCHED_UDP, SCHED_TCP};
	struct sched_port stat[] = {{49155, SCHED_TCP}, {8080, SCHED_TCP}};
	struct sched_request r = task(1, 1);
	r.dynamic = dyn;
	r.ndynamic = 3;
	r.ports = stat;
	r.nports = 2;
	struct sched_alloc a[2];
	struct sched_failure f[2];
	int np, nf;
	ok(sched_place(cl, &r, 1, a, &np, f, &nf, &e), &e);
	assert_int_equal(np, 1);
	/* static ports first, then the dynamic ones in request order: the lowest free ephemeral
	 * ports, skipping the reserved 49154 and the task's own 49155 */
	assert_int_equal(a[0].nports, 5);
	assert_int_equal(a[0].ports[0].port, 49155);
	assert_int_equal(a[0].ports[1].port, 8080);
	assert_int_equal(a[0].ports[2].port, 49153);
	assert_int_equal(a[0].ports[2].proto, SCHED_TCP);
	assert_int_equal(a[0].ports[3].port, 49153);
	assert_int_equal(a[0].ports[3].proto, SCHED_UDP);
	assert_int_equal(a[0].ports[4].port, 49156);
	/* a second task without static ports: the next free ones */
	r.nports = 0;
	ok(sched_place(cl, &r, 1, a + 1, &np, f, &nf, &e), &e);
	assert_int_equal(a[1].ports[0].port, 49157);
	assert_int_equal(a[1].ports[1].port, 49154);
	assert_int_equal(a[1].ports[2].port, 49158);
	/* releasing the first makes its ports the lowest free again */
	struct sched_usage u = {
		.cpu = 1, .memory = 1, .group = "family:web", .ports = a[0].ports, .nports = 5};
	ok(sched_release(cl, "i1", &u, &e), &e);
	ok(sched_place(cl, &r, 1, a, &np, f, &nf, &e), &e);
	assert_int_equal(a[0].ports[0].port, 49153);
	assert_int_equal(a[0].ports[1].port, 49153);
	assert_int_equal(a[0].ports[2].port, 49155);
	const uint16_t *p;
	assert_int_equal(sched_instance_ports(cl, "i1", SCHED_UDP, &p, &e), 2);
}

static void test_ephemeral_exhaustion(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 8192, 8192, NULL);
	/* fill the TCP ephemeral range but for one port (51678 and 51679 are reserved) */
	struct sched_port chunk[SCHED_PORTS_MAX];
	int port = SCHED_EPHEMERAL_MIN;
	while (port < SCHED_EPHEMERAL_MAX) {
		size_t n = 0;
		while (n < SCHED_PORTS_MAX && port < SCHED_EPHEMERAL_MAX) {
			if (port == 51678 || port == 51679) {
				port++;
				continue;
			}
			chunk[n].port = (uint16_t)port++;
			chunk[n++].proto = SCHED_TCP;
		}
		struct sched_usage u = {.group = "filler", .ports = chunk, .nports = n};
		ok(sched_reserve(cl, "i1", &u, &e), &e);
	}
	uint8_t two[] = {SCHED_TCP, SCHED_TCP};
	struct sched_request r = task(1, 1);
	r.dynamic = two;
	r.ndynamic = 2;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_PORTS, "i1");
	r.ndynamic = 1;
	struct sched_alloc a;
	struct sched_failure f;
	int np, nf;
	ok(sched_place(cl, &r, 1, &a, &np, &f, &nf, &e), &e);
	assert_int_equal(a.ports[0].port, SCHED_EPHEMERAL_MAX);
	expect_failure(&r, 1, "", 1, SCHED_FAIL_PORTS, "i1");
	/* UDP has its own range */
	uint8_t udp[] = {SCHED_UDP};
	r.dynamic = udp;
	expect_places(&r, 1, "i1");
	/* a static port in the range counts against the dynamic ones */
	add("i2", 8192, 8192, NULL);
	struct sched_port high[] = {{60000, SCHED_TCP}};
	r.dynamic = two;
	r.ndynamic = 2;
	r.ports = high;
	r.nports = 1;
	expect_places(&r, 1, "i2");
}

/* ---- failures ---- */

static void test_failure_reasons(void **state)
{
	(void)state;
	add("small", 512, 512, "ecs.os-type=linux");
	add("nolinux", 8192, 8192, NULL);
	add("big", 1024, 8192, "ecs.os-type=linux");
	struct sched_attr linux_only[] = {{"ecs.os-type", "linux"}};
	struct sched_request r = task(2048, 1024);
	r.attrs = linux_only;
	r.nattrs = 1;
	/* nolinux fails ATTRIBUTE, both others CPU: the first added of the closest */
	expect_failure(&r, 3, "", 3, SCHED_FAIL_CPU, "small");
	/* both fail MEMORY: the first added; then only big gets that far */
	r.cpu = 512;
	r.memory = 9000;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_MEMORY, "small");
	r.cpu = 1024;
	expect_failure(&r, 1, "", 1, SCHED_FAIL_MEMORY, "big");
	/* what fits is placed; then big is out of CPU, which is less close than small's MEMORY */
	r.cpu = 512;
	r.memory = 4096;
	expect_failure(&r, 4, "big,big", 2, SCHED_FAIL_MEMORY, "small");
	/* the reason texts ECS uses */
	assert_string_equal(sched_reason_text(SCHED_FAIL_AGENT), "AGENT");
	assert_string_equal(sched_reason_text(SCHED_FAIL_ATTRIBUTE), "ATTRIBUTE");
	assert_string_equal(sched_reason_text(SCHED_FAIL_CPU), "RESOURCE:CPU");
	assert_string_equal(sched_reason_text(SCHED_FAIL_MEMORY), "RESOURCE:MEMORY");
	assert_string_equal(sched_reason_text(SCHED_FAIL_PORTS), "RESOURCE:PORTS");
	assert_string_equal(sched_reason_text(SCHED_FAIL_PORTS_UDP), "RESOURCE:PORTS_UDP");
	assert_string_equal(sched_reason_text(SCHED_FAIL_MEMBER_OF),
			    "MemberOf placement constraint unsatisfied.");
	assert_string_equal(sched_reason_text(SCHED_FAIL_DISTINCT),
			    "DistinctInstance placement constraint unsatisfied.");
	assert_string_equal(sched_reason_text(SCHED_FAIL_MISSING), "MISSING");
	assert_string_equal(sched_reason_text(SCHED_FAIL_INACTIVE), "INACTIVE");
}

/* ---- StartTask ---- */

static void test_place_on(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 1024, 1024, NULL);
	add("i2", 1024, 1024, NULL);
	struct sched_request r = task(512, 512);
	uint8_t dyn[] = {SCHED_TCP};
	r.dynamic = dyn;
	r.ndynamic = 1;
	struct sched_alloc a;
	enum sched_reason why;
	assert_int_equal(sched_place_on(cl, "i2", &r, &a, &why, &e), 1);
	assert_string_equal(a.instance, "i2");
	assert_int_equal(a.ports[0].port, SCHED_EPHEMERAL_MIN);
	assert_int_equal(info("i2").remaining_memory, 512);
	assert_int_equal(sched_place_on(cl, "nope", &r, &a, &why, &e), 0);
	assert_int_equal(why, SCHED_FAIL_MISSING);
	r.memory = 1000;
	assert_int_equal(sched_place_on(cl, "i2", &r, &a, &why, &e), 0);
	assert_int_equal(why, SCHED_FAIL_MEMORY);
	assert_int_equal(info("i2").remaining_memory, 512);
	ok(sched_instance_set_status(cl, "i1", SCHED_DRAINING, &e), &e);
	assert_int_equal(sched_place_on(cl, "i1", &r, &a, &why, &e), 1);
	ok(sched_instance_set_status(cl, "i1", SCHED_INACTIVE, &e), &e);
	assert_int_equal(sched_place_on(cl, "i1", &r, &a, &why, &e), 0);
	assert_int_equal(why, SCHED_FAIL_INACTIVE);
	ok(sched_instance_set_status(cl, "i1", SCHED_ACTIVE, &e), &e);
	ok(sched_instance_set_connected(cl, "i1", false, &e), &e);
	assert_int_equal(sched_place_on(cl, "i1", &r, &a, &why, &e), 0);
	assert_int_equal(why, SCHED_FAIL_AGENT);
	r.group = "";
	assert_int_equal(sched_place_on(cl, "i1", &r, &a, &why, &e), -1);
	err_free(e);
}

/* ---- ListContainerInstances filter ---- */

static void test_filter(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 1024, 1024, "ecs.instance-type=g2.2xlarge,stack=prod");
	add("i2", 1024, 1024, "ecs.instance-type=t2.small,ecs.availability-zone=us-east-1a,stack=dev");
	struct {
		const char *filter;
		bool i1, i2;
	} cases[] = {
		{"attribute:ecs.instance-type == g2.2xlarge", true, false},
		{"attribute:stack == prod", true, false},
		{"attribute:stack != prod", false, true},
		{"attribute:ecs.instance-type in [t2.small, t2.medium]", false, true},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a",
		 false, true},
		{"ec2InstanceId == i-i1", true, false},
		{"agentVersion >= 1.70.0 and registeredAt > 2023-11-14", true, true},
		{"runningTasksCount == 0", true, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cql_expr *x = expr(cases[i].filter);
		assert_int_equal(sched_instance_matches(cl, "i1", x), cases[i].i1);
		assert_int_equal(sched_instance_matches(cl, "i2", x), cases[i].i2);
		assert_false(sched_instance_matches(cl, "nope", x));
		cql_free(x);
	}
	struct sched_usage u = {.cpu = 1, .memory = 1, .group = "service:web"};
	ok(sched_reserve(cl, "i2", &u, &e), &e);
	ok(sched_instance_set_connected(cl, "i1", false, &e), &e);
	struct cql_expr *x = expr("runningTasksCount == 1 and task:group == service:web");
	assert_false(sched_instance_matches(cl, "i1", x));
	assert_true(sched_instance_matches(cl, "i2", x));
	cql_free(x);
	x = expr("agentConnected == false");
	assert_true(sched_instance_matches(cl, "i1", x));
	assert_false(sched_instance_matches(cl, "i2", x));
	cql_free(x);
}

/* ---- requests ---- */

static void test_strategy_parse(void **state)
{
	(void)state;
	struct sched_strategy s;
	struct err *e = NULL;
	ok(sched_strategy_parse("binpack", "memory", &s, &e), &e);
	assert_int_equal(s.kind, SCHED_BINPACK_MEMORY);
	ok(sched_strategy_parse("BINPACK", "CPU", &s, &e), &e);
	assert_int_equal(s.kind, SCHED_BINPACK_CPU);
	ok(sched_strategy_parse("spread", "instanceId", &s, &e), &e);
	assert_int_equal(s.kind, SCHED_SPREAD_INSTANCE);
	ok(sched_strategy_parse("spread", "host", &s, &e), &e);
	assert_int_equal(s.kind, SCHED_SPREAD_INSTANCE);
	ok(sched_strategy_parse("spread", "attribute:ecs.availability-zone", &s, &e), &e);
	assert_int_equal(s.kind, SCHED_SPREAD_ATTRIBUTE);
	assert_string_equal(s.attribute, "ecs.availability-zone");
	ok(sched_strategy_parse("random", NULL, &s, &e), &e);
	assert_int_equal(s.kind, SCHED_RANDOM);
	ok(sched_strategy_parse("random", "anything", &s, &e), &e);
	static const char *bad[][3] = {
		{"binpack", "disk", "it must be cpu or memory"},
		{"binpack", NULL, "it must be cpu or memory"},
		{"spread", "attribute:", "instanceId, host or attribute:NAME"},
		{"spread", "zone", "instanceId, host or attribute:NAME"},
		{"spread", NULL, "instanceId, host or attribute:NAME"},
		{"pack", "memory", "it must be binpack, random or spread"},
		{NULL, "memory", "A placement strategy type is required"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sched_strategy_parse(bad[i][0], bad[i][1], &s, &e), -1);
		assert_int_equal(e->kind, ERR_INVALID_PARAM);
		if (!strstr(e->msg, bad[i][2]))
			fail_msg("\"%s\" lacks \"%s\"", e->msg, bad[i][2]);
		err_free(e);
		e = NULL;
	}
}

static void test_request_validation(void **state)
{
	(void)state;
	add("i1", 1024, 1024, NULL);
	struct sched_request r = task(1, 1);
	r.group = NULL;
	expect_error(&r, "task group");
	r = task(-1, 1);
	expect_error(&r, "must not be negative");
	r = task(1, 1);
	struct sched_port dup[] = {{80, SCHED_TCP}, {80, SCHED_TCP}};
	r.ports = dup;
	r.nports = 2;
	expect_error(&r, "Host port 80/tcp is used more than once");
	struct sched_port zero[] = {{0, SCHED_TCP}};
	r.ports = zero;
	r.nports = 1;
	expect_error(&r, "Invalid host port 0");
	r = task(1, 1);
	uint8_t dyn[SCHED_PORTS_MAX + 1] = {0};
	r.dynamic = dyn;
	r.ndynamic = SCHED_PORTS_MAX + 1;
	expect_error(&r, "at most 100 host ports");
	r = task(1, 1);
	struct sched_constraint many[SCHED_CONSTRAINTS_MAX + 1];
	for (int i = 0; i <= SCHED_CONSTRAINTS_MAX; i++)
		many[i] = (struct sched_constraint){SCHED_DISTINCT_INSTANCE, NULL};
	r.constraints = many;
	r.nconstraints = SCHED_CONSTRAINTS_MAX + 1;
	expect_error(&r, "At most 10 placement constraints");
	struct sched_constraint noexpr = {SCHED_MEMBER_OF, NULL};
	r.constraints = &noexpr;
	r.nconstraints = 1;
	expect_error(&r, "Invalid placement constraint");
	r = task(1, 1);
	struct sched_strategy six[6] = {{SCHED_RANDOM, NULL}};
	r.strategies = six;
	r.nstrategies = 6;
	expect_error(&r, "At most 5 placement strategies");
	struct sched_strategy noattr = {SCHED_SPREAD_ATTRIBUTE, ""};
	r.strategies = &noattr;
	r.nstrategies = 1;
	expect_error(&r, "Invalid placement strategy");
	/* count 0 places nothing */
	r = task(1, 1);
	int np = -1, nf = -1;
	struct err *e = NULL;
	ok(sched_place(cl, &r, 0, NULL, &np, NULL, &nf, &e), &e);
	assert_int_equal(np + nf, 0);
	assert_int_equal(info("i1").running_tasks, 0);
}

/* ---- removals and resizes ---- */

static void test_remove_with_tasks(void **state)
{
	(void)state;
	struct err *e = NULL;
	add("i1", 4096, 4096, "ecs.availability-zone=a");
	add("i2", 4096, 4096, "ecs.availability-zone=b");
	add("i3", 4096, 4096, "ecs.availability-zone=b");
	struct sched_strategy s[] = {{SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"},
				     {SCHED_SPREAD_INSTANCE, NULL}};
	struct sched_request r = task(10, 10);
	r.strategies = s;
	r.nstrategies = 2;
	expect_places(&r, 4, "i1,i2,i1,i3");
	/* i1 goes with its two tasks: zone a is empty again */
	ok(sched_instance_remove(cl, "i1", &e), &e);
	add("i4", 4096, 4096, "ecs.availability-zone=a");
	expect_places(&r, 4, "i4,i4,i4,i2");
	/* smaller registered memory: the tasks there keep theirs, new ones see the rest */
	ok(sched_instance_set_resources(cl, "i4", 4096, 35, &e), &e);
	assert_int_equal(info("i4").remaining_memory, 5);
	struct sched_strategy b = {SCHED_BINPACK_MEMORY, NULL};
	r.strategies = &b;
	r.nstrategies = 1;
	expect_places(&r, 1, "i2");
}

static void test_many_instances(void **state)
{
	(void)state;
	/* enough instances and slots to grow the internal arrays several times */
	for (int i = 0; i < 300; i++) {
		char id[16];
		snprintf(id, sizeof(id), "n%03d", i);
		char attrs[64];
		snprintf(attrs, sizeof(attrs), "ecs.availability-zone=z%d", i % 3);
		add(id, 1024, 1024 + i, attrs);
	}
	struct sched_strategy s = {SCHED_BINPACK_MEMORY, NULL};
	struct sched_request r = task(10, 1024);
	r.strategies = &s;
	r.nstrategies = 1;
	expect_places(&r, 3, "n000,n001,n002");
	struct sched_strategy sp[] = {{SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"},
				      {SCHED_BINPACK_MEMORY, NULL}};
	r.strategies = sp;
	r.nstrategies = 2;
	r.memory = 500;
	expect_places(&r, 4, "n003,n004,n005,n003");
	struct err *e = NULL;
	for (int i = 0; i < 300; i += 2) {
		char id[16];
		snprintf(id, sizeof(id), "n%03d", i);
		ok(sched_instance_remove(cl, id, &e), &e);
	}
	for (int i = 0; i < 10; i++) {
		char id[16];
		snprintf(id, sizeof(id), "m%03d", i);
		add(id, 1024, 1, "ecs.availability-zone=z9");
	}
	r.memory = 1;
	expect_places(&r, 1, "m000");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_instances),
		T(test_reserved_ports),
		T(test_reserve_release),
		T(test_binpack_memory),
		T(test_binpack_cpu),
		T(test_spread_instance),
		T(test_spread_attribute),
		T(test_spread_zone_then_instance),
		T(test_spread_zone_then_binpack),
		T(test_chained_binpack_then_spread),
		T(test_random),
		T(test_random_deterministic),
		T(test_no_strategy_first_fit),
		T(test_member_of),
		T(test_task_group_affinity),
		T(test_distinct_instance),
		T(test_draining_and_disconnected),
		T(test_empty_cluster),
		T(test_launch_type),
		T(test_required_attributes),
		T(test_attribute_updates),
		T(test_static_ports),
		T(test_dynamic_ports),
		T(test_ephemeral_exhaustion),
		T(test_failure_reasons),
		T(test_place_on),
		T(test_filter),
		T(test_strategy_parse),
		T(test_request_validation),
		T(test_remove_with_tasks),
		T(test_many_instances),
	};
	int failed = cmocka_run_group_tests_name("indexed", tests, NULL, NULL);
	indexing = false;
	failed += cmocka_run_group_tests_name("scan", tests, NULL, NULL);
	return failed;
}
