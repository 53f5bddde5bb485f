/* metadata: the v4 documents (ECS's field names and types, compared with the documented examples),
 * docker-shaped stats from fake cgroup v1 and v2 trees, /proc/stat and net/dev texts, the token
 * routing over HTTP (404s, 405, unregister), and as root the listener inside a network namespace and
 * the one on a real CNI bridge's gateway, each reached from a process inside the namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "agent/cni.h"
#include "agent/crun.h"
#include "agent/metadata.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jv.h"
#include "common/xalloc.h"

/* tests/run.sh counts cmocka's "not ok N # SKIP" as a failure: a test that cannot run here says so
 * on a TAP comment line and passes. */
#define SKIP(why)                                                       \
	do {                                                            \
		fprintf(stderr, "# %s skipped: %s\n", __func__, (why)); \
		return;                                                 \
	} while (0)

#define TASK_ARN "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c"
#define TD_ARN	 "arn:aws:ecs:us-west-2:111122223333:task-definition/curltest:26"
#define CLUSTER	 "arn:aws:ecs:us-west-2:111122223333:cluster/default"
#define CG_PATH	 "/gantry/158d1c8083dd49d6b527399fd6414f5c/158d1c8083dd49d6b527399fd6414f5c-0"
#define T0	 1601599386.662841 /* 2020-10-02T00:43:06.662841Z */

static char tmpdir[] = "/tmp/test_metadata.XXXXXX";

/* ---- helpers ---- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void mkdirs(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
	free(p);
}

static void put(const char *dir, const char *name, const char *text)
{
	mkdirs(dir);
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
	if (!j)
		fail_msg("not JSON (%s): %s", je.text, text);
	return j;
}

static void assert_json_eq(json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
		char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
		fprintf(stderr, "# got:\n%s\n# want:\n%s\n", g, w);
		free(g);
		free(w);
		fail_msg("JSON differs");
	}
	json_decref(want);
}

static long long jint(json_t *o, const char *path)
{
	/* "a.b.c" */
	char *p = xstrdup(path);
	json_t *cur = o;
	for (char *s = p, *dot; s; s = dot ? dot + 1 : NULL) {
		dot = strchr(s, '.');
		if (dot)
			*dot = '\0';
		cur = json_object_get(cur, s);
	}
	free(p);
	if (!json_is_integer(cur))
		fail_msg("%s is not an integer", path);
	return json_integer_value(cur);
}

/* The hybrid layout of the hosts gantry runs on (separate cpu and cpuacct hierarchies), or cgroup v2,
 * under root. */
static void fake_cgroups(const char *root, bool v2, struct crunrt_cgroups *cg)
{
	struct buf b = BUF_INIT;
	if (v2) {
		buf_addf(&b, "30 23 0:27 / %s rw,nosuid - cgroup2 cgroup2 rw\n", root);
	} else {
		const char *ctrls[] = {"cpu", "cpuacct", "memory", "blkio", "pids", "devices"};
		buf_addf(&b, "30 23 0:28 / %s rw,relatime - tmpfs tmpfs rw,mode=755\n", root);
		for (int i = 0; i < 6; i++)
			buf_addf(&b, "%d 30 0:%d / %s/%s rw,relatime - cgroup cgroup rw,%s\n", 31 + i, 29 + i,
				 root, ctrls[i], ctrls[i]);
		buf_addf(&b, "40 30 0:40 / %s/unified rw,relatime - cgroup2 cgroup2 rw\n", root);
	}
	struct err *e = NULL;
	if (crunrt_cgroups_parse(b.p, root, cg, &e) < 0)
		fail_msg("%s", e->msg);
	buf_release(&b);
}

static const char proc_stat_text[] = "cpu  100 20 50 1000 10 3 5 7 0 0\n"
				     "cpu0 50 10 25 500 5 1 2 3 0 0\n"
				     "cpu1 50 10 25 500 5 2 3 4 0 0\n"
				     "intr 12345 0 0\n"
				     "ctxt 999\n";

static const char net_dev_text[] =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
	"colls "
	"carrier compressed\n"
	"    lo:     500       5    0    0    0     0          0         0      500       5    0    0    0   "
	"  0 "
	"      0          0\n"
	"  eth0:  100000     800    1    2    0     0          0         0    40000     300    3    4    0   "
	"  0 "
	"      0          0\n";

static unsigned long long ns_per_tick(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	return 1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100);
}

/* Writes a cgroup v1 container's files under root (fake_cgroups() layout) at CG_PATH. */
static void fake_v1_files(const char *root)
{
	char *d = xasprintf("%s/cpuacct%s", root, CG_PATH);
	put(d, "cpuacct.usage", "123456789\n");
	put(d, "cpuacct.usage_percpu", "100000000 23456789 \n");
	put(d, "cpuacct.stat", "user 7\nsystem 3\n");
	free(d);
	d = xasprintf("%s/cpu%s", root, CG_PATH);
	put(d, "cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n");
	free(d);
	d = xasprintf("%s/memory%s", root, CG_PATH);
	put(d, "memory.usage_in_bytes", "3444736\n");
	put(d, "memory.max_usage_in_bytes", "11509760\n");
	put(d, "memory.limit_in_bytes", "134217728\n");
	put(d, "memory.failcnt", "0\n");
	put(d, "memory.stat", "cache 65536\nrss 1048576\nmapped_file 0\ntotal_rss 1048576\n");
	free(d);
	d = xasprintf("%s/blkio%s", root, CG_PATH);
	put(d, "blkio.throttle.io_service_bytes",
	    "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n");
	put(d, "blkio.throttle.io_serviced", "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n");
	free(d);
	d = xasprintf("%s/pids%s", root, CG_PATH);
	put(d, "pids.current", "3\n");
	put(d, "pids.max", "4096\n");
	free(d);
}

/* ---- a fake task: the sample inputs of the documented examples ---- */

static json_t *labels_in, *logopts_in;
static struct crunrt_cgroups fake_cg; /* under tmpdir/cg (v1), for the server tests */

static json_t *task_doc(void)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}",
			 "clusterArn", CLUSTER, "taskArn", TASK_ARN, "taskDefinitionArn", TD_ARN,
			 "desiredStatus", "RUNNING", "lastStatus", "PENDING", "cpu", "256", "memory", "512",
			 "pullStartedAt", 1601599386.2026, "pullStoppedAt", 1601599391.5, "availabilityZone",
			 "us-west-2a", "launchType", "EC2", "group", "service:MyService", "containers",
			 "name", "curl", "containerArn",
			 "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9",
			 "name", "side", "containerArn", "arn:aws:ecs:us-west-2:111122223333:container/side");
}

static struct metadata_port curl_ports[] = {{.container_port = 80, .host_port = 32768, .host_ip = "0.0.0.0"}};

static void sample_task(struct metadata_task *t, struct metadata_container c[2], json_t *doc)
{
	memset(t, 0, sizeof(*t));
	memset(c, 0, 2 * sizeof(*c));
	c[0] = (struct metadata_container){
		.id = "158d1c8083dd49d6b527399fd6414f5c-0",
		.name = "curl",
		.docker_name = "ecs-curltest-26-curl-c2e5f6e0cf91b0bead01",
		.image = "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
		.image_id = "sha256:25f3695bedfb454a50f12d127839a68ad3caf91e451c1da073db34c542c4d2cb",
		.labels = labels_in,
		.desired_status = "RUNNING",
		.known_status = "RUNNING",
		.cpu = 10,
		.memory = 128,
		.created_at = T0,
		.started_at = T0 + 0.5,
		.log_driver = "awslogs",
		.log_options = logopts_in,
		.network_mode = "awsvpc",
		.ipv4 = "10.0.2.106",
		.ipv4_subnet = "10.0.2.0/24",
		.gateway = "10.0.2.1/24",
		.mac = "12:ff:2f:d9:67:f5",
		.cgroups = &fake_cg,
		.cgroups_path = CG_PATH,
	};
	c[1] = (struct metadata_container){
		.id = "158d1c8083dd49d6b527399fd6414f5c-1",
		.name = "side",
		.image = "busybox",
		.desired_status = "STOPPED",
		.known_status = "STOPPED",
		.has_exit_code = true,
		.exit_code = 0,
		.created_at = T0,
		.started_at = T0,
		.finished_at = T0 + 60,
		.network_mode = "bridge",
		.ipv4 = "172.31.200.7",
		.ports = curl_ports,
		.nports = 1,
		.container_arn = "arn:explicit",
	};
	t->doc = doc;
	t->known_status = "RUNNING";
	t->containers = c;
	t->ncontainers = 2;
}

/* ---- documents ---- */

static void test_time(void **state)
{
	(void)state;
	char out[40];
	metadata_time(T0, out);
	assert_string_equal(out, "2020-10-02T00:43:06.662841Z");
	metadata_time(1601599386.5, out);
	assert_string_equal(out, "2020-10-02T00:43:06.5Z");
	metadata_time(1601599386, out);
	assert_string_equal(out, "2020-10-02T00:43:06Z");
	metadata_time(1601599386.0000001, out); /* below a microsecond */
	assert_string_equal(out, "2020-10-02T00:43:06Z");
}

static void test_container_json(void **state)
{
	(void)state;
	json_t *doc = task_doc();
	struct metadata_task t;
	struct metadata_container c[2];
	sample_task(&t, c, doc);
	/* The documented container response for an awsvpc task, less what gantry has no source for
	 * (DomainNameServers, PrivateDNSName). */
	json_t *j = metadata_container_json(&t, 0);
	assert_json_eq(
		j,
		"{"
		"\"DockerId\": \"158d1c8083dd49d6b527399fd6414f5c-0\","
		"\"Name\": \"curl\","
		"\"DockerName\": \"ecs-curltest-26-curl-c2e5f6e0cf91b0bead01\","
		"\"Image\": \"111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest\","
		"\"ImageID\": "
		"\"sha256:25f3695bedfb454a50f12d127839a68ad3caf91e451c1da073db34c542c4d2cb\","
		"\"Labels\": {"
		"  \"com.amazonaws.ecs.cluster\": \"default\","
		"  \"com.amazonaws.ecs.container-name\": \"curl\","
		"  \"com.amazonaws.ecs.task-arn\": \"" TASK_ARN "\","
		"  \"com.amazonaws.ecs.task-definition-family\": \"curltest\","
		"  \"com.amazonaws.ecs.task-definition-version\": \"26\","
		"  \"team\": \"blue\"},"
		"\"DesiredStatus\": \"RUNNING\","
		"\"KnownStatus\": \"RUNNING\","
		"\"Limits\": {\"CPU\": 10, \"Memory\": 128},"
		"\"CreatedAt\": \"2020-10-02T00:43:06.662841Z\","
		"\"StartedAt\": \"2020-10-02T00:43:07.162841Z\","
		"\"Type\": \"NORMAL\","
		"\"LogDriver\": \"awslogs\","
		"\"LogOptions\": {\"awslogs-create-group\": \"true\", \"awslogs-group\": \"/ecs/metadata\","
		"  \"awslogs-region\": \"us-west-2\", \"awslogs-stream\": \"ecs/curl/158d1c80\"},"
		"\"ContainerARN\": "
		"\"arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9\","
		"\"Networks\": [{\"NetworkMode\": \"awsvpc\", \"IPv4Addresses\": [\"10.0.2.106\"],"
		"  \"AttachmentIndex\": 0, \"MACAddress\": \"12:ff:2f:d9:67:f5\","
		"  \"IPv4SubnetCIDRBlock\": \"10.0.2.0/24\", \"SubnetGatewayIpv4Address\": \"10.0.2.1/24\"}]"
		"}");
	/* CPU is a JSON integer when whole, as Go prints a float64 10. */
	assert_true(json_is_integer(json_object_get(json_object_get(j, "Limits"), "CPU")));
	json_decref(j);

	/* A stopped bridge container: ExitCode, FinishedAt, Ports; no LogDriver; the explicit ARN. */
	j = metadata_container_json(&t, 1);
	assert_json_eq(j,
		       "{"
		       "\"DockerId\": \"158d1c8083dd49d6b527399fd6414f5c-1\","
		       "\"Name\": \"side\","
		       "\"DockerName\": \"158d1c8083dd49d6b527399fd6414f5c-1\","
		       "\"Image\": \"busybox\","
		       "\"ImageID\": \"\","
		       "\"Ports\": [{\"ContainerPort\": 80, \"Protocol\": \"tcp\", \"HostPort\": 32768,"
		       "  \"HostIp\": \"0.0.0.0\"}],"
		       "\"Labels\": {"
		       "  \"com.amazonaws.ecs.cluster\": \"default\","
		       "  \"com.amazonaws.ecs.container-name\": \"side\","
		       "  \"com.amazonaws.ecs.task-arn\": \"" TASK_ARN "\","
		       "  \"com.amazonaws.ecs.task-definition-family\": \"curltest\","
		       "  \"com.amazonaws.ecs.task-definition-version\": \"26\"},"
		       "\"DesiredStatus\": \"STOPPED\","
		       "\"KnownStatus\": \"STOPPED\","
		       "\"ExitCode\": 0,"
		       "\"Limits\": {\"CPU\": 0, \"Memory\": 0},"
		       "\"CreatedAt\": \"2020-10-02T00:43:06.662841Z\","
		       "\"StartedAt\": \"2020-10-02T00:43:06.662841Z\","
		       "\"FinishedAt\": \"2020-10-02T00:44:06.662841Z\","
		       "\"Type\": \"NORMAL\","
		       "\"ContainerARN\": \"arn:explicit\","
		       "\"Networks\": [{\"NetworkMode\": \"bridge\", \"IPv4Addresses\": [\"172.31.200.7\"]}]"
		       "}");
	json_decref(j);

	/* Host mode without an address: NetworkMode only. A fractional cpu stays a real. */
	c[1].network_mode = "host";
	c[1].ipv4 = NULL;
	c[1].cpu = 0.5;
	j = metadata_container_json(&t, 1);
	assert_json_eq(json_object_get(j, "Networks"), "[{\"NetworkMode\": \"host\"}]");
	assert_true(json_is_real(json_object_get(json_object_get(j, "Limits"), "CPU")));
	json_decref(j);
	json_decref(doc);
}

static void test_task_json(void **state)
{
	(void)state;
	json_t *doc = task_doc();
	struct metadata_task t;
	struct metadata_container c[2];
	sample_task(&t, c, doc);
	json_t *j = metadata_task_json(&t);
	json_t *cs = json_object_get(j, "Containers");
	assert_int_equal(json_array_size(cs), 2);
	json_t *c0 = metadata_container_json(&t, 0);
	assert_true(json_equal(json_array_get(cs, 0), c0));
	json_decref(c0);
	json_object_del(j, "Containers");
	/* The documented task response's members; KnownStatus is the agent's (the document's
	 * lastStatus is older), cpu "256" is a quarter vCPU. */
	assert_json_eq(j, "{"
			  "\"Cluster\": \"" CLUSTER "\","
			  "\"TaskARN\": \"" TASK_ARN "\","
			  "\"Family\": \"curltest\","
			  "\"Revision\": \"26\","
			  "\"DesiredStatus\": \"RUNNING\","
			  "\"KnownStatus\": \"RUNNING\","
			  "\"Limits\": {\"CPU\": 0.25, \"Memory\": 512},"
			  "\"PullStartedAt\": \"2020-10-02T00:43:06.2026Z\","
			  "\"PullStoppedAt\": \"2020-10-02T00:43:11.5Z\","
			  "\"AvailabilityZone\": \"us-west-2a\","
			  "\"LaunchType\": \"EC2\","
			  "\"ServiceName\": \"MyService\""
			  "}");
	json_decref(j);

	/* Sizes with units; explicit values over the document's; no limits, no AZ. */
	json_object_set_new(doc, "cpu", json_string("1 vCPU"));
	json_object_set_new(doc, "memory", json_string("2 GB"));
	t.cluster = "other";
	t.family = "fam";
	t.revision = "3";
	t.pull_started_at = 1601599386;
	j = metadata_task_json(&t);
	assert_json_eq(json_object_get(j, "Limits"), "{\"CPU\": 1, \"Memory\": 2048}");
	assert_string_equal(json_string_value(json_object_get(j, "Cluster")), "other");
	assert_string_equal(json_string_value(json_object_get(j, "PullStartedAt")), "2020-10-02T00:43:06Z");
	json_decref(j);
	c0 = metadata_container_json(&t, 0);
	assert_json_eq(
		json_object_get(json_object_get(c0, "Labels"), "com.amazonaws.ecs.task-definition-family"),
		"\"fam\"");
	json_decref(c0);
	json_object_del(doc, "cpu");
	json_object_del(doc, "memory");
	json_object_del(doc, "availabilityZone");
	json_object_del(doc, "group");
	j = metadata_task_json(&t);
	assert_null(json_object_get(j, "Limits"));
	assert_null(json_object_get(j, "AvailabilityZone"));
	assert_null(json_object_get(j, "ServiceName"));
	json_decref(j);

	/* Without a document: empty strings where ECS always has a member, EC2 as the launch type. */
	struct metadata_task bare = {.containers = c, .ncontainers = 1};
	j = metadata_task_json(&bare);
	assert_string_equal(json_string_value(json_object_get(j, "TaskARN")), "");
	assert_string_equal(json_string_value(json_object_get(j, "KnownStatus")), "NONE");
	assert_string_equal(json_string_value(json_object_get(j, "LaunchType")), "EC2");
	json_decref(j);
	json_decref(doc);
}

/* ---- cgroups and stats ---- */

static void test_cgroup_dirs(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	fake_cgroups("/sys/fs/cgroup", false, &cg);
	assert_int_equal(cg.mode, CRUNRT_CGROUP_HYBRID);
	struct metadata_cgroup_dirs d;
	metadata_cgroup_dirs(&cg, "/gantry/t/t-0", &d);
	assert_string_equal(d.cpuacct, "/sys/fs/cgroup/cpuacct/gantry/t/t-0");
	assert_string_equal(d.cpu, "/sys/fs/cgroup/cpu/gantry/t/t-0");
	assert_string_equal(d.memory, "/sys/fs/cgroup/memory/gantry/t/t-0");
	assert_string_equal(d.blkio, "/sys/fs/cgroup/blkio/gantry/t/t-0");
	assert_string_equal(d.pids, "/sys/fs/cgroup/pids/gantry/t/t-0");
	assert_null(d.unified);
	metadata_cgroup_dirs_release(&d);
	crunrt_cgroups_release(&cg);

	fake_cgroups("/sys/fs/cgroup", true, &cg);
	metadata_cgroup_dirs(&cg, "/gantry/t/t-0", &d);
	assert_string_equal(d.unified, "/sys/fs/cgroup/gantry/t/t-0");
	assert_null(d.cpuacct);
	assert_null(d.memory);
	metadata_cgroup_dirs_release(&d);
	metadata_cgroup_dirs_release(NULL);
	crunrt_cgroups_release(&cg);
}

static void test_net_dev_parse(void **state)
{
	(void)state;
	json_t *n = metadata_net_dev_parse(net_dev_text);
	assert_json_eq(n, "{\"eth0\": {\"rx_bytes\": 100000, \"rx_packets\": 800, \"rx_errors\": 1,"
			  " \"rx_dropped\": 2, \"tx_bytes\": 40000, \"tx_packets\": 300, \"tx_errors\": 3,"
			  " \"tx_dropped\": 4}}");
	json_decref(n);
	n = metadata_net_dev_parse("garbage\n:\n eth1: 1 2 3\n\n");
	assert_int_equal(json_object_size(n), 0);
	json_decref(n);
	n = metadata_net_dev_parse("");
	assert_int_equal(json_object_size(n), 0);
	json_decref(n);
}

static char *tmp_file(const char *name, const char *text)
{
	put(tmpdir, name, text);
	return xasprintf("%s/%s", tmpdir, name);
}

static void test_stats_v1(void **state)
{
	(void)state;
	char *root = xasprintf("%s/v1", tmpdir);
	struct crunrt_cgroups cg;
	fake_cgroups(root, false, &cg);
	fake_v1_files(root);
	struct metadata_cgroup_dirs d;
	metadata_cgroup_dirs(&cg, CG_PATH, &d);
	char *ps = tmp_file("proc_stat", proc_stat_text);
	char *nd = tmp_file("net_dev", net_dev_text);
	struct metadata_stats_in in = {
		.id = "t-0", .name = "curl", .dirs = &d, .net_dev = nd, .proc_stat = ps, .now = T0};
	json_t *s = metadata_stats_json(&in, NULL);
	assert_non_null(s);
	unsigned long long tick = ns_per_tick();
	assert_string_equal(json_string_value(json_object_get(s, "read")), "2020-10-02T00:43:06.662841Z");
	assert_string_equal(json_string_value(json_object_get(s, "preread")), "0001-01-01T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(s, "name")), "/curl");
	assert_string_equal(json_string_value(json_object_get(s, "id")), "t-0");
	assert_int_equal(jint(s, "num_procs"), 0);
	assert_true(json_is_object(json_object_get(s, "storage_stats")));
	/* cpu */
	assert_int_equal(jint(s, "cpu_stats.cpu_usage.total_usage"), 123456789);
	assert_json_eq(json_object_get(json_object_get(json_object_get(s, "cpu_stats"), "cpu_usage"),
				       "percpu_usage"),
		       "[100000000, 23456789]");
	assert_int_equal(jint(s, "cpu_stats.cpu_usage.usage_in_usermode"), (long long)(7 * tick));
	assert_int_equal(jint(s, "cpu_stats.cpu_usage.usage_in_kernelmode"), (long long)(3 * tick));
	assert_int_equal(jint(s, "cpu_stats.system_cpu_usage"),
			 (long long)((100 + 20 + 50 + 1000 + 10 + 3 + 5) * tick));
	assert_int_equal(jint(s, "cpu_stats.online_cpus"), 2);
	assert_int_equal(jint(s, "cpu_stats.throttling_data.periods"), 10);
	assert_int_equal(jint(s, "cpu_stats.throttling_data.throttled_periods"), 2);
	assert_int_equal(jint(s, "cpu_stats.throttling_data.throttled_time"), 5000);
	assert_int_equal(jint(s, "precpu_stats.cpu_usage.total_usage"), 0);
	/* memory */
	assert_int_equal(jint(s, "memory_stats.usage"), 3444736);
	assert_int_equal(jint(s, "memory_stats.max_usage"), 11509760);
	assert_int_equal(jint(s, "memory_stats.limit"), 134217728);
	assert_json_eq(json_object_get(json_object_get(s, "memory_stats"), "stats"),
		       "{\"cache\": 65536, \"rss\": 1048576, \"mapped_file\": 0, \"total_rss\": 1048576}");
	assert_null(json_object_get(json_object_get(s, "memory_stats"), "failcnt"));
	/* blkio: the per-device lines, not the trailing total */
	json_t *blk = json_object_get(s, "blkio_stats");
	assert_json_eq(json_object_get(blk, "io_service_bytes_recursive"),
		       "[{\"major\": 8, \"minor\": 0, \"op\": \"Read\", \"value\": 4096},"
		       " {\"major\": 8, \"minor\": 0, \"op\": \"Write\", \"value\": 8192},"
		       " {\"major\": 8, \"minor\": 0, \"op\": \"Total\", \"value\": 12288}]");
	assert_int_equal(json_array_size(json_object_get(blk, "io_serviced_recursive")), 3);
	assert_true(json_is_array(json_object_get(blk, "sectors_recursive")));
	/* pids, networks */
	assert_json_eq(json_object_get(s, "pids_stats"), "{\"current\": 3, \"limit\": 4096}");
	assert_int_equal(jint(s, "networks.eth0.rx_bytes"), 100000);
	assert_null(json_object_get(json_object_get(s, "networks"), "lo"));
	assert_null(json_object_get(s, "network_rate_stats"));

	/* A second sample two seconds later: the first one is its "pre", and rates appear. */
	char *d2 = xasprintf("%s/cpuacct%s", root, CG_PATH);
	put(d2, "cpuacct.usage", "223456789\n");
	free(d2);
	free(nd);
	nd = tmp_file(
		"net_dev",
		"  eth0:  104000     800    1    2    0     0          0         0    41000     300    3    4"
		"    0     0       0          0\n");
	in.net_dev = nd;
	in.now = T0 + 2;
	json_t *s2 = metadata_stats_json(&in, s);
	assert_string_equal(json_string_value(json_object_get(s2, "preread")), "2020-10-02T00:43:06.662841Z");
	assert_true(json_equal(json_object_get(s2, "precpu_stats"), json_object_get(s, "cpu_stats")));
	assert_int_equal(jint(s2, "cpu_stats.cpu_usage.total_usage"), 223456789);
	json_t *rate = json_object_get(s2, "network_rate_stats");
	assert_non_null(rate);
	assert_true(json_number_value(json_object_get(rate, "rx_bytes_per_sec")) > 1999.0 &&
		    json_number_value(json_object_get(rate, "rx_bytes_per_sec")) < 2001.0);
	assert_true(json_number_value(json_object_get(rate, "tx_bytes_per_sec")) > 499.0 &&
		    json_number_value(json_object_get(rate, "tx_bytes_per_sec")) < 501.0);
	json_decref(s2);
	json_decref(s);

	/* Without networks (host mode); a container whose cgroup is gone has no stats. */
	in.net_dev = NULL;
	s = metadata_stats_json(&in, NULL);
	assert_null(json_object_get(s, "networks"));
	json_decref(s);
	metadata_cgroup_dirs_release(&d);
	metadata_cgroup_dirs(&cg, "/gantry/gone/gone-0", &d);
	assert_null(metadata_stats_json(&in, NULL));
	metadata_cgroup_dirs_release(&d);
	crunrt_cgroups_release(&cg);
	free(ps);
	free(nd);
	free(root);
}

static void test_stats_v2(void **state)
{
	(void)state;
	char *root = xasprintf("%s/v2", tmpdir);
	struct crunrt_cgroups cg;
	fake_cgroups(root, true, &cg);
	char *dir = xasprintf("%s%s", root, CG_PATH);
	put(dir, "cpu.stat",
	    "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 4\nnr_throttled 1\nthrottled_usec "
	    "7\n");
	put(dir, "memory.current", "2097152\n");
	put(dir, "memory.peak", "4194304\n");
	put(dir, "memory.max", "max\n");
	put(dir, "memory.stat", "anon 1048576\nfile 65536\n");
	put(dir, "io.stat", "8:0 rbytes=4096 wbytes=512 rios=1 wios=2 dbytes=0 dios=0\n");
	put(dir, "pids.current", "5\n");
	put(dir, "pids.max", "max\n");
	char *mi = tmp_file("meminfo", "MemTotal:       16384 kB\nMemFree:        1024 kB\n");
	char *ps = tmp_file("proc_stat", proc_stat_text);
	struct metadata_cgroup_dirs d;
	metadata_cgroup_dirs(&cg, CG_PATH, &d);
	struct metadata_stats_in in = {
		.id = "t-0", .name = "app", .dirs = &d, .proc_stat = ps, .meminfo = mi, .now = T0};
	json_t *s = metadata_stats_json(&in, NULL);
	assert_non_null(s);
	assert_int_equal(jint(s, "cpu_stats.cpu_usage.total_usage"), 5000000);
	assert_int_equal(jint(s, "cpu_stats.cpu_usage.usage_in_usermode"), 3000000);
	assert_int_equal(jint(s, "cpu_stats.cpu_usage.usage_in_kernelmode"), 2000000);
	assert_null(json_object_get(json_object_get(json_object_get(s, "cpu_stats"), "cpu_usage"),
				    "percpu_usage"));
	assert_int_equal(jint(s, "cpu_stats.throttling_data.throttled_time"), 7000);
	assert_int_equal(jint(s, "memory_stats.usage"), 2097152);
	assert_int_equal(jint(s, "memory_stats.max_usage"), 4194304);
	assert_int_equal(jint(s, "memory_stats.limit"), 16384 * 1024);
	assert_int_equal(jint(s, "memory_stats.stats.anon"), 1048576);
	assert_json_eq(json_object_get(json_object_get(s, "blkio_stats"), "io_service_bytes_recursive"),
		       "[{\"major\": 8, \"minor\": 0, \"op\": \"read\", \"value\": 4096},"
		       " {\"major\": 8, \"minor\": 0, \"op\": \"write\", \"value\": 512}]");
	assert_json_eq(json_object_get(json_object_get(s, "blkio_stats"), "io_serviced_recursive"),
		       "[{\"major\": 8, \"minor\": 0, \"op\": \"read\", \"value\": 1},"
		       " {\"major\": 8, \"minor\": 0, \"op\": \"write\", \"value\": 2}]");
	assert_json_eq(json_object_get(s, "pids_stats"), "{\"current\": 5}");
	json_decref(s);
	/* A set limit is shown as it is. */
	put(dir, "memory.max", "268435456\n");
	s = metadata_stats_json(&in, NULL);
	assert_int_equal(jint(s, "memory_stats.limit"), 268435456);
	json_decref(s);
	metadata_cgroup_dirs_release(&d);
	crunrt_cgroups_release(&cg);
	free(mi);
	free(ps);
	free(dir);
	free(root);
}

/* ---- the server ---- */

struct fake {
	json_t *doc;
	struct metadata_task t;
	struct metadata_container c[2];
	bool gone;
	int fills, releases;
};

static int fake_fill(void *arg, const char *id, struct metadata_task *out)
{
	struct fake *f = arg;
	(void)id;
	f->fills++;
	if (f->gone)
		return -1;
	*out = f->t;
	return 0;
}

static void fake_release(void *arg, struct metadata_task *t)
{
	struct fake *f = arg;
	(void)t;
	f->releases++;
}

static const struct metadata_provider fake_provider = {.fill = fake_fill, .release = fake_release};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->doc = task_doc();
	sample_task(&f->t, f->c, f->doc);
}

/* A reply read by a child process. */
struct reply {
	int status; /* HTTP status; -1: could not connect */
	char *body;
};

/* GET (or method) path from 127.0.0.1:port / ip:port, in a child process that first enters netns
 * (when not NULL), while this process runs the loop until the child is done. */
static struct reply request_in(uv_loop_t *loop, const char *netns, const char *ip, unsigned port,
			       const char *method, const char *path)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	int nsfd = netns ? open(netns, O_RDONLY | O_CLOEXEC) : -1;
	if (netns)
		assert_true(nsfd >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0)
			_exit(2);
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		inet_pton(AF_INET, ip, &a.sin_addr);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
			_exit(3);
		char req[512];
		int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
				 method, path, ip);
		if (write(s, req, (size_t)n) != n)
			_exit(4);
		char b[4096];
		ssize_t r;
		while ((r = read(s, b, sizeof(b))) > 0)
			if (write(pfd[1], b, (size_t)r) != r)
				_exit(5);
		_exit(0);
	}
	if (nsfd >= 0)
		close(nsfd);
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	struct buf out = BUF_INIT;
	bool eof = false;
	for (int spins = 0; spins < 2000 && !eof; spins++) {
		uv_run(loop, UV_RUN_NOWAIT);
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		poll(&p, 1, 5);
		char b[4096];
		ssize_t r;
		while ((r = read(pfd[0], b, sizeof(b))) > 0)
			buf_add(&out, b, (size_t)r);
		eof = r == 0;
	}
	close(pfd[0]);
	int status = 0;
	if (!eof) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("the request %s %s did not finish", method, path);
	}
	/* The pipe's end comes with the child's exit. */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	struct reply rep = {.status = -1};
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		buf_release(&out);
		return rep;
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (sscanf(out.p, "HTTP/1.%*d %d", &rep.status) != 1)
		fail_msg("not an HTTP answer: %s", out.p);
	const char *body = strstr(out.p, "\r\n\r\n");
	rep.body = xstrdup(body ? body + 4 : "");
	buf_release(&out);
	return rep;
}

static struct reply get(uv_loop_t *loop, unsigned port, const char *path)
{
	return request_in(loop, NULL, "127.0.0.1", port, "GET", path);
}

/* A port free on 127.0.0.1 right now. */
static unsigned free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &len);
	close(s);
	return ntohs(a.sin_port);
}

/* The path part of a URI "http://HOST:PORT/v4/TOKEN". */
static const char *uri_path(const char *uri)
{
	const char *p = strstr(uri, "/v4/");
	assert_non_null(p);
	return p;
}

static void drain(uv_loop_t *loop)
{
	for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
}

static void test_routing(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	unsigned port = free_port();
	struct metadata_srv *srv = metadata_srv_new(&loop, port);
	assert_int_equal(metadata_port(srv), port);
	struct err *e = NULL;
	if (metadata_listen_addr(srv, "127.0.0.1", 0, &e) < 0)
		fail_msg("%s", e->msg);
	assert_int_equal(metadata_listen_addr(srv, "127.0.0.1", port, &e), 0); /* idempotent */
	/* Another port taken by someone else is an error naming it. */
	int other = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(other, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(other, 1), 0);
	socklen_t alen = sizeof(a);
	getsockname(other, (struct sockaddr *)&a, &alen);
	assert_int_equal(metadata_listen_addr(srv, "127.0.0.1", ntohs(a.sin_port), &e), -1);
	assert_int_equal(e->kind, ERR_SYS);
	err_free(e);
	e = NULL;
	close(other);
	assert_int_equal(metadata_listen_addr(srv, "not-an-ip", 0, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;

	struct fake f;
	fake_init(&f);
	char *uri0 =
		metadata_register(srv, f.c[0].id, NULL, metadata_uri_host("host", NULL), &fake_provider, &f);
	char *uri1 = metadata_register(srv, f.c[1].id, NULL, "127.0.0.1", &fake_provider, &f);
	char want[64];
	snprintf(want, sizeof(want), "http://127.0.0.1:%u/v4/", port);
	assert_true(strncmp(uri0, want, strlen(want)) == 0);
	assert_int_equal(strlen(uri0), strlen(want) + METADATA_TOKEN_LEN);
	assert_string_not_equal(uri0, uri1);

	/* / : the container's own document. */
	struct reply r = get(&loop, port, uri_path(uri0));
	assert_int_equal(r.status, 200);
	json_t *j = parse(r.body);
	json_t *want0 = metadata_container_json(&f.t, 0);
	assert_true(json_equal(j, want0));
	json_decref(want0);
	json_decref(j);
	free(r.body);
	assert_int_equal(f.fills, f.releases);
	r = get(&loop, port, uri_path(uri1));
	j = parse(r.body);
	assert_string_equal(json_string_value(json_object_get(j, "Name")), "side");
	json_decref(j);
	free(r.body);

	/* /task, with a trailing slash too */
	char *p = xasprintf("%s/task/", uri_path(uri1));
	r = get(&loop, port, p);
	free(p);
	assert_int_equal(r.status, 200);
	j = parse(r.body);
	json_t *wt = metadata_task_json(&f.t);
	assert_true(json_equal(j, wt));
	json_decref(wt);
	json_decref(j);
	free(r.body);

	/* /stats from the fake cgroup tree; the second answer's precpu_stats is the first's
	 * cpu_stats. */
	p = xasprintf("%s/stats", uri_path(uri0));
	r = get(&loop, port, p);
	assert_int_equal(r.status, 200);
	json_t *s1 = parse(r.body);
	free(r.body);
	assert_int_equal(jint(s1, "cpu_stats.cpu_usage.total_usage"), 123456789);
	assert_string_equal(json_string_value(json_object_get(s1, "id")), f.c[0].id);
	assert_string_equal(json_string_value(json_object_get(s1, "preread")), "0001-01-01T00:00:00Z");
	r = get(&loop, port, p);
	json_t *s2 = parse(r.body);
	free(r.body);
	assert_true(json_equal(json_object_get(s2, "precpu_stats"), json_object_get(s1, "cpu_stats")));
	assert_true(json_equal(json_object_get(s2, "preread"), json_object_get(s1, "read")));
	json_decref(s1);
	json_decref(s2);
	free(p);
	/* a container without a cgroup: {} */
	p = xasprintf("%s/stats", uri_path(uri1));
	r = get(&loop, port, p);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{}");
	free(r.body);
	free(p);

	/* /task/stats: every container by DockerId, null without stats */
	p = xasprintf("%s/task/stats", uri_path(uri1));
	r = get(&loop, port, p);
	assert_int_equal(r.status, 200);
	j = parse(r.body);
	free(r.body);
	free(p);
	assert_int_equal(json_object_size(j), 2);
	assert_int_equal(jint(json_object_get(j, f.c[0].id), "memory_stats.usage"), 3444736);
	assert_true(json_is_null(json_object_get(j, f.c[1].id)));
	json_decref(j);

	/* 404s: an unknown token, malformed paths, an unknown member; 405 for other methods */
	const char *bad[] = {"/v4/0123456789abcdef0123456789abcdef", "/v4/", "/v4/short", "/", "/v3/x", NULL};
	for (size_t i = 0; bad[i]; i++) {
		r = get(&loop, port, bad[i]);
		assert_int_equal(r.status, 404);
		j = parse(r.body); /* a JSON string, as ECS answers */
		assert_true(json_is_string(j));
		json_decref(j);
		free(r.body);
	}
	p = xasprintf("%s/nope", uri_path(uri0));
	r = get(&loop, port, p);
	assert_int_equal(r.status, 404);
	free(r.body);
	free(p);
	r = request_in(&loop, NULL, "127.0.0.1", port, "POST", uri_path(uri0));
	assert_int_equal(r.status, 405);
	free(r.body);

	/* The provider says the task is gone: 404. */
	f.gone = true;
	r = get(&loop, port, uri_path(uri0));
	assert_int_equal(r.status, 404);
	free(r.body);
	f.gone = false;

	/* Unregistered: 404. Registered again: a new token, the old one stays dead. */
	metadata_unregister(srv, f.c[1].id);
	metadata_unregister(srv, "never-registered");
	r = get(&loop, port, uri_path(uri1));
	assert_int_equal(r.status, 404);
	free(r.body);
	char *uri1b = metadata_register(srv, f.c[1].id, NULL, "127.0.0.1", &fake_provider, &f);
	assert_string_not_equal(uri1b, uri1);
	r = get(&loop, port, uri_path(uri1b));
	assert_int_equal(r.status, 200);
	free(r.body);
	char *uri0b = metadata_register(srv, f.c[0].id, NULL, "127.0.0.1", &fake_provider, &f);
	r = get(&loop, port, uri_path(uri0));
	assert_int_equal(r.status, 404);
	free(r.body);

	/* A re-adopted container keeps its token (an agent restart); a token another container
	 * holds, or one that is not a token, is replaced by a new one. */
	const char *tok = metadata_uri_token(uri0b);
	assert_non_null(tok);
	assert_int_equal(strlen(tok), METADATA_TOKEN_LEN);
	assert_null(metadata_uri_token("http://127.0.0.1:1/v4/short"));
	assert_null(metadata_uri_token(NULL));
	char *keep = xstrdup(tok);
	metadata_unregister(srv, f.c[0].id);
	char *uri0c = metadata_register(srv, f.c[0].id, keep, "127.0.0.1", &fake_provider, &f);
	assert_string_equal(uri0c, uri0b);
	r = get(&loop, port, uri_path(uri0c));
	assert_int_equal(r.status, 200);
	free(r.body);
	char *stolen = metadata_register(srv, f.c[1].id, keep, "127.0.0.1", &fake_provider, &f);
	assert_string_not_equal(stolen, uri0c);
	char *fresh = metadata_register(srv, "other", "not-a-token", "127.0.0.1", &fake_provider, &f);
	assert_non_null(metadata_uri_token(fresh));
	free(keep), free(uri0c), free(stolen), free(fresh);

	/* Closed: nobody listens any more, the loop ends, nothing leaks. */
	metadata_srv_close(srv);
	metadata_srv_close(NULL);
	drain(&loop);
	r = get(&loop, port, uri_path(uri0b));
	assert_int_equal(r.status, -1); /* nobody listens any more */
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(uri0), free(uri1), free(uri1b), free(uri0b);
	json_decref(f.doc);
}

static void test_close_in_flight(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	unsigned port = free_port();
	struct metadata_srv *srv = metadata_srv_new(&loop, port);
	struct err *e = NULL;
	assert_int_equal(metadata_listen_addr(srv, "127.0.0.1", 0, &e), 0);
	struct fake f;
	fake_init(&f);
	char *uri = metadata_register(srv, f.c[0].id, NULL, "127.0.0.1", &fake_provider, &f);
	/* A client asks for stats; the server closes while the read may still be on the pool. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
	char *req = xasprintf("GET %s/task/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			      uri_path(uri));
	assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
	free(req);
	for (int i = 0; i < 200 && f.fills == 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_int_equal(f.fills, 1);
	metadata_srv_close(srv);
	drain(&loop);
	char b[256] = "";
	ssize_t n = read(s, b, sizeof(b) - 1);
	/* 503 (hsrv_stop answers what is waiting) or the answer itself if the read was quick */
	assert_true(n > 0);
	assert_true(strstr(b, " 503 ") || strstr(b, " 200 "));
	close(s);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(uri);
	json_decref(f.doc);
}

/* ---- namespaces (root) ---- */

static bool is_root(void)
{
	return geteuid() == 0;
}

static void test_netns_listener(void **state)
{
	(void)state;
	if (!is_root())
		SKIP("needs root");
	struct err *e = NULL;
	char *nsdir = xasprintf("%s/netns", tmpdir);
	char *ns = NULL;
	if (cni_netns_create(nsdir, "meta", &ns, &e) < 0)
		fail_msg("cni_netns_create: %s", e->msg);
	/* The socket helper: a bad namespace is an error, the calling thread stays where it was. */
	struct stat before, after;
	assert_int_equal(stat("/proc/thread-self/ns/net", &before), 0);
	assert_int_equal(metadata_netns_socket("/nonexistent/ns", 1, &e), -1);
	assert_int_equal(e->kind, ERR_SYS);
	err_free(e);
	e = NULL;

	uv_loop_t loop;
	uv_loop_init(&loop);
	unsigned port = free_port();
	struct metadata_srv *srv = metadata_srv_new(&loop, port);
	if (metadata_listen_netns(srv, ns, -1, &e) < 0)
		fail_msg("%s", e->msg);
	assert_int_equal(stat("/proc/thread-self/ns/net", &after), 0);
	assert_true(before.st_ino == after.st_ino);
	assert_int_equal(metadata_listen_netns(srv, ns, -1, &e), 0); /* a second reference */
	struct fake f;
	fake_init(&f);
	f.c[0].netns = ns; /* its networks: the namespace's (only lo: none shown) */
	char *uri =
		metadata_register(srv, f.c[0].id, NULL, metadata_uri_host("none", NULL), &fake_provider, &f);
	assert_true(strncmp(uri, "http://127.0.0.1:", 17) == 0);

	/* From inside the namespace: the task document. */
	char *p = xasprintf("%s/task", uri_path(uri));
	struct reply r = request_in(&loop, ns, "127.0.0.1", port, "GET", p);
	assert_int_equal(r.status, 200);
	json_t *j = parse(r.body);
	assert_string_equal(json_string_value(json_object_get(j, "TaskARN")), TASK_ARN);
	assert_int_equal(json_array_size(json_object_get(j, "Containers")), 2);
	json_decref(j);
	free(r.body);
	free(p);
	/* Stats read net/dev inside the namespace. */
	p = xasprintf("%s/stats", uri_path(uri));
	r = request_in(&loop, ns, "127.0.0.1", port, "GET", p);
	assert_int_equal(r.status, 200);
	j = parse(r.body);
	assert_true(json_is_object(json_object_get(j, "networks")));
	assert_int_equal(json_object_size(json_object_get(j, "networks")), 0);
	json_decref(j);
	free(r.body);
	free(p);
	/* The host's 127.0.0.1 has no listener. */
	r = get(&loop, port, uri_path(uri));
	assert_int_equal(r.status, -1);

	/* One reference dropped: still served; the last one: nobody listens in there. */
	metadata_unlisten_netns(srv, ns);
	r = request_in(&loop, ns, "127.0.0.1", port, "GET", uri_path(uri));
	assert_int_equal(r.status, 200);
	free(r.body);
	metadata_unlisten_netns(srv, ns);
	metadata_unlisten_netns(srv, ns); /* unknown now: ignored */
	drain(&loop);
	r = request_in(&loop, ns, "127.0.0.1", port, "GET", uri_path(uri));
	assert_int_equal(r.status, -1);

	/* A socket made beforehand (on another thread, as a create job would) is taken. */
	int fd = metadata_netns_socket(ns, port, &e);
	assert_true(fd >= 0);
	assert_int_equal(metadata_listen_netns(srv, ns, fd, &e), 0);
	r = request_in(&loop, ns, "127.0.0.1", port, "GET", uri_path(uri));
	assert_int_equal(r.status, 200);
	free(r.body);

	metadata_srv_close(srv);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(cni_netns_delete(ns, &e), 0);
	assert_int_equal(umount2(nsdir, MNT_DETACH), 0);
	rmdir(nsdir);
	free(uri);
	free(ns);
	free(nsdir);
	json_decref(f.doc);
}

#define BR_SUBNET  "172.31.251.0/24"
#define BR_GATEWAY "172.31.251.1"

static bool have_real_plugins(void)
{
	const char *need[] = {"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap",
			      "/usr/lib/cni/firewall"};
	for (size_t i = 0; i < 4; i++)
		if (access(need[i], X_OK) != 0)
			return false;
	return true;
}

static void run_argv(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* What the bridge test has made, for its teardown (also after a failure). */
static struct br {
	char name[16];
	char *dir, *nsdir, *ipam, *ns;
	char cid[32];
	struct cni_net *net;
	json_t *res;
} br;

static int br_teardown(void **state)
{
	(void)state;
	struct err *e = NULL;
	if (br.res) {
		struct cni_attach at = {.container_id = br.cid, .netns = br.ns};
		if (cni_del(br.net, &at, br.res, &e) < 0)
			fprintf(stderr, "# teardown: %s\n", e->msg);
		err_free(e);
		e = NULL;
	}
	if (br.ns && cni_netns_delete(br.ns, &e) < 0) {
		fprintf(stderr, "# teardown: %s\n", e->msg);
		err_free(e);
	}
	if (br.nsdir)
		umount2(br.nsdir, MNT_DETACH);
	if (br.net) {
		char *argv[] = {"ip", "link", "del", br.name, NULL};
		run_argv(argv);
	}
	json_decref(br.res);
	cni_net_free(br.net);
	free(br.dir), free(br.nsdir), free(br.ipam), free(br.ns);
	memset(&br, 0, sizeof(br));
	return 0;
}

/* A bridge-mode container reaches the listener on its gateway: bound (IP_FREEBIND) before the
 * bridge has the address, served once the first CNI ADD gives it. */
static void test_bridge_gateway(void **state)
{
	(void)state;
	if (!is_root())
		SKIP("needs root");
	if (!have_real_plugins())
		SKIP("no CNI plugins in /usr/lib/cni");
	snprintf(br.name, sizeof(br.name), "gmeta%d", (int)getpid() % 1000000);
	br.dir = xasprintf("%s/br", tmpdir);
	br.nsdir = xasprintf("%s/netns", br.dir);
	br.ipam = xasprintf("%s/ipam", br.dir);
	struct err *e = NULL;
	struct cni_conf conf = {
		.network = br.name, .bridge = br.name, .subnet = BR_SUBNET, .ipam_dir = br.ipam};
	br.net = cni_net_new(&conf, &e);
	assert_non_null(br.net);
	uv_loop_t loop;
	uv_loop_init(&loop);
	unsigned port = free_port();
	struct metadata_srv *srv = metadata_srv_new(&loop, port);
	if (metadata_listen_addr(srv, BR_GATEWAY, 0, &e) < 0)
		fail_msg("before the bridge exists: %s", e->msg);

	snprintf(br.cid, sizeof(br.cid), "%s-0", br.name);
	if (cni_netns_create(br.nsdir, br.cid, &br.ns, &e) < 0)
		fail_msg("%s", e->msg);
	struct cni_attach at = {.container_id = br.cid, .netns = br.ns};
	br.res = cni_add(br.net, &at, &e);
	if (!br.res)
		fail_msg("cni_add: %s", e->msg);
	struct cni_ip ip;
	assert_int_equal(cni_result_ip(br.res, NULL, AF_INET, &ip, &e), 0);
	assert_string_equal(ip.gateway, BR_GATEWAY);
	assert_int_equal(metadata_listen_addr(srv, ip.gateway, 0, &e), 0); /* idempotent */

	struct fake f;
	fake_init(&f);
	f.c[0].network_mode = "bridge";
	f.c[0].ipv4 = ip.addr;
	char *uri = metadata_register(srv, f.c[0].id, NULL, metadata_uri_host("bridge", ip.gateway),
				      &fake_provider, &f);
	char want[64];
	snprintf(want, sizeof(want), "http://%s:%u/v4/", BR_GATEWAY, port);
	assert_true(strncmp(uri, want, strlen(want)) == 0);
	struct reply r = request_in(&loop, br.ns, BR_GATEWAY, port, "GET", uri_path(uri));
	assert_int_equal(r.status, 200);
	json_t *j = parse(r.body);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "Networks"), 0), "NetworkMode")),
			    "bridge");
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(json_array_get(json_object_get(j, "Networks"), 0), "IPv4Addresses"),
			0)),
		ip.addr);
	json_decref(j);
	free(r.body);

	metadata_srv_close(srv);
	drain(&loop);
	assert_int_equal(uv_loop_close(&loop), 0);
	if (cni_del(br.net, &at, br.res, &e) < 0)
		fail_msg("cni_del: %s", e->msg);
	json_decref(br.res);
	br.res = NULL;
	free(uri);
	json_decref(f.doc);
}

/* ---- main ---- */

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	/* ECS's own labels win over a definition's; labels that are not strings are left out */
	labels_in = json_pack("{s:s,s:i,s:s}", "team", "blue", "not-a-string", 1, "com.amazonaws.ecs.cluster",
			      "spoofed");
	logopts_in = json_pack("{s:s,s:s,s:s,s:s}", "awslogs-create-group", "true", "awslogs-group",
			       "/ecs/metadata", "awslogs-region", "us-west-2", "awslogs-stream",
			       "ecs/curl/158d1c80");
	char *root = xasprintf("%s/cg", tmpdir);
	fake_cgroups(root, false, &fake_cg);
	fake_v1_files(root);
	free(root);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	json_decref(labels_in);
	json_decref(logopts_in);
	crunrt_cgroups_release(&fake_cg);
	if (is_root()) {
		/* What a failed namespace test left. */
		const char *left[] = {"netns/meta", NULL};
		for (size_t i = 0; left[i]; i++) {
			char *p = xasprintf("%s/%s", tmpdir, left[i]);
			struct err *e = NULL;
			cni_netns_delete(p, &e);
			err_free(e);
			free(p);
		}
		char *d = xasprintf("%s/netns", tmpdir);
		umount2(d, MNT_DETACH);
		free(d);
	}
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_container_json),
		cmocka_unit_test(test_task_json),
		cmocka_unit_test(test_cgroup_dirs),
		cmocka_unit_test(test_net_dev_parse),
		cmocka_unit_test(test_stats_v1),
		cmocka_unit_test(test_stats_v2),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_close_in_flight),
		cmocka_unit_test(test_netns_listener),
		cmocka_unit_test_setup_teardown(test_bridge_gateway, NULL, br_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
