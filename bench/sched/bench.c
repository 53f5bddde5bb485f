/* bench/sched: in-process placement throughput of the ECS placement engine (src/sched). Registers
 * N container instances (three instance sizes, three Availability Zones) and places M tasks one
 * RunTask decision at a time (count 1; each call is timed, so p99 is the time of one decision
 * including its reservation), first with binpack on memory, then in a fresh cluster with spread on
 * attribute:ecs.availability-zone then instanceId. Every task has a memberOf constraint
 * (attribute:ecs.os-type == linux), tasks of G services alternate, and one in four asks for a
 * dynamic host port. Optionally repeats a sample with the engine's plain scan for comparison.
 *
 * Usage: sched-bench [--instances N] [--tasks M] [--groups G] [--count C] [--scan-sample K]
 *                    [--scenario binpack|spread|all] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/err.h"
#include "sched/cql.h"
#include "sched/sched.h"

struct opts {
	long instances, tasks, groups, count, scan_sample;
	const char *scenario;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static struct sched_cluster *make_cluster(long n)
{
	static const char *azs[] = {"us-east-1a", "us-east-1b", "us-east-1c"};
	static const struct {
		const char *type;
		int cpu, mem;
	} sizes[] = {{"m5.large", 2048, 7680}, {"m5.xlarge", 4096, 15616}, {"m5.2xlarge", 8192, 31616}};
	struct sched_cluster *cl = sched_cluster_new(12345);
	for (long i = 0; i < n; i++) {
		char id[64], ec2[64];
		snprintf(id, sizeof(id), "%08lx-0000-4000-8000-%012lx", (unsigned long)i, (unsigned long)i);
		snprintf(ec2, sizeof(ec2), "i-%017lx", (unsigned long)i);
		int s = (int)(i % 3);
		struct sched_attr attrs[] = {
			{"ecs.availability-zone", azs[(i / 3) % 3]},
			{"ecs.instance-type", sizes[s].type},
			{"ecs.os-type", "linux"},
			{"ecs.cpu-architecture", "x86_64"},
			{"ecs.ami-id", "ami-0123456789abcdef0"},
		};
		struct sched_instance_spec spec = {
			.id = id,
			.ec2_instance_id = ec2,
			.agent_version = "1.70.0",
			.registered_at = 1700000000 + (double)i,
			.cpu = sizes[s].cpu,
			.memory = sizes[s].mem,
			.attrs = attrs,
			.nattrs = sizeof(attrs) / sizeof(attrs[0]),
			.status = SCHED_ACTIVE,
			.agent_connected = true,
		};
		struct err *e = NULL;
		if (sched_instance_add(cl, &spec, &e) < 0) {
			fprintf(stderr, "sched-bench: %s\n", e->msg);
			exit(1);
		}
	}
	return cl;
}

static long rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

/* Places `tasks` tasks `count` at a time; prints the figures. Returns the number not placed. */
static long run(const char *name, const struct opts *o, const struct sched_strategy *strat, size_t nstrat,
		bool indexing, long tasks)
{
	static const int cpus[] = {16, 32, 32, 64}, mems[] = {64, 128, 128, 256};
	struct err *e = NULL;
	struct cql_expr *linux_only = cql_parse("attribute:ecs.os-type == linux", &e);
	struct sched_constraint cons = {SCHED_MEMBER_OF, linux_only};
	uint8_t dyn[] = {SCHED_TCP};
	char(*groups)[32] = calloc((size_t)o->groups, sizeof(*groups));
	long calls = (tasks + o->count - 1) / o->count, failed = 0, placed = 0;
	uint32_t *lat = calloc((size_t)calls, sizeof(*lat));
	struct sched_alloc *alloc = calloc((size_t)o->count, sizeof(*alloc));
	struct sched_failure *fail = calloc((size_t)o->count, sizeof(*fail));
	for (long g = 0; g < o->groups; g++)
		snprintf(groups[g], sizeof(groups[g]), "service:svc-%ld", g);

	double t0 = now();
	struct sched_cluster *cl = make_cluster(o->instances);
	sched_cluster_set_indexing(cl, indexing);
	double t1 = now();
	for (long c = 0; c < calls; c++) {
		long k = c * o->count;
		int count = (int)(tasks - k < o->count ? tasks - k : o->count);
		struct sched_request req = {
			.cpu = cpus[c % 4],
			.memory = mems[(c / 4) % 4],
			.group = groups[c % o->groups],
			.dynamic = dyn,
			.ndynamic = c % 4 == 0,
			.constraints = &cons,
			.nconstraints = 1,
			.strategies = strat,
			.nstrategies = nstrat,
		};
		int np, nf;
		double a = now();
		if (sched_place(cl, &req, count, alloc, &np, fail, &nf, &e) < 0) {
			fprintf(stderr, "sched-bench: %s\n", e->msg);
			exit(1);
		}
		double b = now();
		lat[c] = (uint32_t)((b - a) * 1e9 / count + 0.5);
		placed += np;
		failed += nf;
	}
	double t2 = now();
	qsort(lat, (size_t)calls, sizeof(*lat), cmp_u32);
	double secs = t2 - t1;
	printf("%-34s %9ld placed %6ld failed  %6.2f s  %9.0f placements/s  p50 %6.2f us  p99 %6.2f us  max "
	       "%8.2f "
	       "us  (setup %.2f s, max RSS %ld MiB)\n",
	       name, placed, failed, secs, (double)placed / secs, lat[calls / 2] / 1e3,
	       lat[(size_t)((double)calls * 0.99)] / 1e3, lat[calls - 1] / 1e3, t1 - t0, rss_mib());
	sched_cluster_free(cl);
	cql_free(linux_only);
	free(lat);
	free(alloc);
	free(fail);
	free(groups);
	return failed;
}

static long arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "sched-bench: %s needs a value\n", argv[*i]);
		exit(2);
	}
	char *end;
	long v = strtol(argv[++*i], &end, 10);
	if (*end || v < 0) {
		fprintf(stderr, "sched-bench: bad value %s\n", argv[*i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {10000, 1000000, 10, 1, 0, "all"};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--instances"))
			o.instances = arg(argc, argv, &i);
		else if (!strcmp(argv[i], "--tasks"))
			o.tasks = arg(argc, argv, &i);
		else if (!strcmp(argv[i], "--groups"))
			o.groups = arg(argc, argv, &i);
		else if (!strcmp(argv[i], "--count"))
			o.count = arg(argc, argv, &i);
		else if (!strcmp(argv[i], "--scan-sample"))
			o.scan_sample = arg(argc, argv, &i);
		else if (!strcmp(argv[i], "--scenario") && i + 1 < argc)
			o.scenario = argv[++i];
		else {
			fprintf(stderr,
				"usage: sched-bench [--instances N] [--tasks M] [--groups G] [--count C] "
				"[--scan-sample K] [--scenario binpack|spread|all]\n");
			return 2;
		}
	}
	if (o.instances < 1 || o.tasks < 1 || o.groups < 1 || o.count < 1 || o.count > 10) {
		fprintf(stderr, "sched-bench: instances, tasks, groups >= 1; count 1-10\n");
		return 2;
	}
	struct sched_strategy binpack[] = {{SCHED_BINPACK_MEMORY, NULL}};
	struct sched_strategy spread[] = {{SCHED_SPREAD_ATTRIBUTE, "ecs.availability-zone"},
					  {SCHED_SPREAD_INSTANCE, NULL}};
	printf("sched-bench: %ld instances, %ld tasks, %ld services, count %ld per RunTask; latency is per "
	       "placed copy (call time / count)\n",
	       o.instances, o.tasks, o.groups, o.count);
	long failed = 0;
	bool all = !strcmp(o.scenario, "all");
	if (all || !strcmp(o.scenario, "binpack")) {
		failed += run("binpack(memory)", &o, binpack, 1, true, o.tasks);
		if (o.scan_sample)
			run("binpack(memory), full scan", &o, binpack, 1, false, o.scan_sample);
	}
	if (all || !strcmp(o.scenario, "spread")) {
		failed += run("spread(az)+spread(instanceId)", &o, spread, 2, true, o.tasks);
		if (o.scan_sample)
			run("spread(az)+spread(instanceId), scan", &o, spread, 2, false, o.scan_sample);
	}
	return failed ? 1 : 0;
}
