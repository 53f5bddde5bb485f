/* cni: the generated configuration list, plugin results and errors, the exec protocol (through fake
 * plugins that log what they were given), host ports; and, as root with Debian's
 * containernetworking-plugins, a real namespace on a test bridge reached through a port mapping from
 * 127.0.0.1, the host's address and the container's own, then 100 ADD/DEL cycles, each checked for
 * leftovers (veths, leases, iptables rules, namespaces). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cni.h"
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

static char tmpdir[] = "/tmp/test_cni.XXXXXX";
static char *fakedir; /* fake plugins that log their input */
static char *logdir;  /* where they log */

/* ---- helpers ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, NULL);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Runs argv (searched in PATH), returns its stdout (the caller frees) and its exit status. */
static char *run(char *const argv[], int *status)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	struct buf b;
	buf_init(&b, 0);
	char chunk[8192];
	ssize_t n;
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(p[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
	return buf_detach(&b, NULL);
}

static struct cni_net *net_new(const struct cni_conf *c)
{
	struct err *e = NULL;
	struct cni_net *n = cni_net_new(c, &e);
	if (!n)
		fail_msg("cni_net_new: %s", e->msg);
	return n;
}

static void expect_conf_error(const struct cni_conf *c, const char *needle)
{
	struct err *e = NULL;
	struct cni_net *n = cni_net_new(c, &e);
	assert_null(n);
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	if (!strstr(e->msg, needle))
		fail_msg("'%s' does not mention '%s'", e->msg, needle);
	err_free(e);
}

/* ---- fake plugins ---- */

/* A fake plugin logs its command, stdin and CNI environment, then acts on marker files in its
 * directory: fail-<command>-<type> (answer a CNI error), sleep-<type> (hang), flood-<type> (answer 2 MB),
 * garbage-<type> (exit 1 printing text that is not JSON). ADD answers a result naming the plugin. */
static const char fake_script[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\"); t=$(basename \"$0\"); L=$d/log\n"
	"echo \"$CNI_COMMAND $t\" >> $L/order\n"
	"cat > $L/$CNI_COMMAND-$t.in\n"
	"env | grep -E '^(CNI_|PATH=)' | sort > $L/$CNI_COMMAND-$t.env\n"
	"if [ -e $d/fail-$CNI_COMMAND-$t ]; then\n"
	"  printf '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad config\",\"details\":\"no %s\"}' $t\n"
	"  exit 1\n"
	"fi\n"
	"[ -e $d/sleep-$t ] && exec sleep 30\n"
	"[ -e $d/flood-$t ] && exec head -c 2000000 /dev/zero\n"
	"if [ -e $d/garbage-$t ]; then echo 'panic: runtime error' >&2; echo 'not json'; exit 2; fi\n"
	"[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
	"printf '{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"gantry0\"},{\"name\":\"veth%s\"},"
	"{\"name\":\"%s\",\"sandbox\":\"%s\"}],\"ips\":[{\"address\":\"172.31.200.7/22\","
	"\"gateway\":\"172.31.200.1\",\"interface\":2}],\"dns\":{\"search\":[\"%s\"]}}' $t $CNI_IFNAME "
	"$CNI_NETNS $t\n";

static void marker(const char *name, bool on)
{
	char *p = xasprintf("%s/%s", fakedir, name);
	if (on)
		write_file(p, "", 0644);
	else
		unlink(p);
	free(p);
}

static void clear_log(void)
{
	DIR *d = opendir(logdir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", logdir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
}

static char *log_read(const char *name)
{
	char *p = xasprintf("%s/%s", logdir, name);
	char *t = read_file(p);
	free(p);
	return t;
}

static json_t *log_json(const char *name)
{
	char *t = log_read(name);
	assert_non_null(t);
	json_t *j = json_loads(t, 0, NULL);
	if (!j)
		fail_msg("%s is not JSON: %s", name, t);
	free(t);
	return j;
}

static struct cni_net *fake_net(unsigned timeout_ms)
{
	struct cni_conf c = {0};
	char *ipam = xasprintf("%s/ipam", tmpdir);
	c.plugin_dir = fakedir;
	c.ipam_dir = ipam;
	c.timeout_ms = timeout_ms;
	c.firewall = true; /* three plugins: the order of ADD, DEL and CHECK shows */
	struct cni_net *n = net_new(&c);
	free(ipam);
	return n;
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	fakedir = xasprintf("%s/plugins", tmpdir);
	logdir = xasprintf("%s/plugins/log", tmpdir);
	if (mkdir(fakedir, 0755) < 0 || mkdir(logdir, 0755) < 0)
		return -1;
	const char *types[] = {"bridge", "host-local", "portmap", "firewall"};
	for (size_t i = 0; i < 4; i++) {
		char *p = xasprintf("%s/%s", fakedir, types[i]);
		write_file(p, fake_script, 0755);
		free(p);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (geteuid() == 0) {
		/* What test_netns made, should it have failed half-way. */
		const char *left[] = {"nsdir/one", "nsdir/two"};
		for (size_t i = 0; i < 2; i++) {
			char *p = xasprintf("%s/%s", tmpdir, left[i]);
			struct err *e = NULL;
			cni_netns_delete(p, &e);
			err_free(e);
			free(p);
		}
		char *d = xasprintf("%s/nsdir", tmpdir);
		umount2(d, MNT_DETACH);
		free(d);
	}
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(fakedir);
	free(logdir);
	return 0;
}

/* ---- the configuration list ---- */

static void test_conflist_defaults(void **state)
{
	(void)state;
	struct cni_conf c = {.ipam_dir = "/var/lib/gantry/cni/ipam"};
	struct cni_net *n = net_new(&c);
	json_t *l = cni_net_conflist(n);
	assert_string_equal(json_string_value(json_object_get(l, "cniVersion")), "1.0.0");
	assert_string_equal(json_string_value(json_object_get(l, "name")), CNI_DEFAULT_NETWORK);
	json_t *plugins = json_object_get(l, "plugins");
	assert_int_equal(json_array_size(plugins), 2);
	json_t *br = json_array_get(plugins, 0), *pm = json_array_get(plugins, 1), *fw;
	assert_string_equal(json_string_value(json_object_get(br, "type")), "bridge");
	assert_string_equal(json_string_value(json_object_get(br, "bridge")), "gantry0");
	assert_true(json_is_true(json_object_get(br, "isGateway")));
	assert_true(json_is_false(json_object_get(br, "ipMasq"))); /* the network's own rule does it */
	assert_true(json_is_true(json_object_get(br, "hairpinMode")));
	json_t *ipam = json_object_get(br, "ipam");
	assert_string_equal(json_string_value(json_object_get(ipam, "type")), "host-local");
	assert_string_equal(json_string_value(json_object_get(ipam, "dataDir")), "/var/lib/gantry/cni/ipam");
	json_t *range = json_array_get(json_array_get(json_object_get(ipam, "ranges"), 0), 0);
	assert_string_equal(json_string_value(json_object_get(range, "subnet")), "172.31.200.0/22");
	json_t *route = json_array_get(json_object_get(ipam, "routes"), 0);
	assert_string_equal(json_string_value(json_object_get(route, "dst")), "0.0.0.0/0");
	assert_string_equal(json_string_value(json_object_get(pm, "type")), "portmap");
	assert_true(json_is_true(json_object_get(json_object_get(pm, "capabilities"), "portMappings")));
	assert_true(json_is_true(json_object_get(pm, "snat")));
	cni_net_free(n);

	c = (struct cni_conf){.ipam_dir = "/s/ipam",
			      .network = "blue.net-1",
			      .bridge = "blue0",
			      .subnet = "10.200.0.0/16",
			      .firewall = true};
	n = net_new(&c);
	l = cni_net_conflist(n);
	assert_string_equal(json_string_value(json_object_get(l, "name")), "blue.net-1");
	plugins = json_object_get(l, "plugins");
	assert_int_equal(json_array_size(plugins), 3);
	fw = json_array_get(plugins, 2);
	assert_string_equal(json_string_value(json_object_get(fw, "type")), "firewall");
	assert_string_equal(json_string_value(json_object_get(fw, "backend")), "iptables");
	char gw[INET_ADDRSTRLEN];
	assert_int_equal(cni_net_gateway(n, gw), 0);
	assert_string_equal(gw, "10.200.0.1");
	br = json_array_get(plugins, 0);
	assert_string_equal(json_string_value(json_object_get(br, "bridge")), "blue0");
	range = json_array_get(json_array_get(json_object_get(json_object_get(br, "ipam"), "ranges"), 0), 0);
	assert_string_equal(json_string_value(json_object_get(range, "subnet")), "10.200.0.0/16");
	cni_net_free(n);
	cni_net_free(NULL);
}

static void test_conf_errors(void **state)
{
	(void)state;
	struct cni_conf c = {.ipam_dir = "/s/ipam"};
	c.network = "-bad";
	expect_conf_error(&c, "network name");
	c.network = "has space";
	expect_conf_error(&c, "network name");
	c.network = NULL;
	c.bridge = "abcdefghijklmnop"; /* 16 bytes */
	expect_conf_error(&c, "bridge name");
	c.bridge = "a/b";
	expect_conf_error(&c, "bridge name");
	c.bridge = NULL;
	const char *bad_subnets[] = {"10.0.0.0",  "10.0.0.0/33", "10.0.0.0/31", "10.0.0.1/24",
				     "fd00::/64", "10.0.0/24",	 "10.0.0.0/x",	"10.0.0.0/"};
	for (size_t i = 0; i < sizeof(bad_subnets) / sizeof(bad_subnets[0]); i++) {
		c.subnet = bad_subnets[i];
		expect_conf_error(&c, "subnet");
	}
	c.subnet = NULL;
	c.ipam_dir = "relative/ipam";
	expect_conf_error(&c, "IPAM");
	c.ipam_dir = NULL;
	expect_conf_error(&c, "IPAM");
	c.ipam_dir = "/s/\xff\xfe";
	expect_conf_error(&c, "UTF-8");
	c.ipam_dir = "/s";
	c.plugin_dir = "";
	expect_conf_error(&c, "plugin directory");
}

/* ---- results ---- */

static const char bridge_result[] =
	"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cniexp0\",\"mac\":\"42:d3:79:4c:04:73\"},"
	"{\"name\":\"veth90301c14\",\"mac\":\"8e:b2:97:51:1a:70\"},{\"name\":\"eth0\",\"mac\":\"3e:5f:68:8f:"
	"5b:98\","
	"\"sandbox\":\"/var/run/netns/cniexp1\"}],\"ips\":[{\"interface\":2,\"address\":\"172.31.251.2/24\","
	"\"gateway\":\"172.31.251.1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{}}";

static void test_result_parse_and_ip(void **state)
{
	(void)state;
	struct err *e = NULL;
	json_t *r = cni_result_parse(bridge_result, strlen(bridge_result), &e);
	assert_null(e);
	assert_non_null(r);
	struct cni_ip ip;
	assert_int_equal(cni_result_ip(r, "eth0", AF_INET, &ip, &e), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_string_equal(ip.addr, "172.31.251.2");
	assert_int_equal(ip.prefix, 24);
	assert_string_equal(ip.gateway, "172.31.251.1");
	assert_int_equal(cni_result_ip(r, NULL, AF_UNSPEC, &ip, &e), 0);
	assert_string_equal(ip.addr, "172.31.251.2");
	/* The address is on eth0 in the sandbox, not on eth1 ... */
	assert_int_equal(cni_result_ip(r, "eth1", AF_INET, &ip, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	assert_non_null(strstr(e->msg, "eth1"));
	err_free(e);
	e = NULL;
	/* ... and there is no IPv6 address. */
	assert_int_equal(cni_result_ip(r, "eth0", AF_INET6, &ip, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
	e = NULL;
	json_decref(r);

	/* Dual stack, addresses without an interface index, no gateway. */
	const char *dual =
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\"},"
		"{\"address\":\"10.1.2.3/16\"}]}";
	r = cni_result_parse(dual, strlen(dual), &e);
	assert_non_null(r);
	assert_int_equal(cni_result_ip(r, "eth0", AF_INET, &ip, &e), 0);
	assert_string_equal(ip.addr, "10.1.2.3");
	assert_string_equal(ip.gateway, "");
	assert_int_equal(cni_result_ip(r, "eth0", AF_UNSPEC, &ip, &e), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_string_equal(ip.addr, "fd00::5");
	assert_int_equal(ip.prefix, 64);
	assert_string_equal(ip.gateway, "fd00::1");
	json_decref(r);

	/* A result without ips parses (the spec makes it optional) but has no address. */
	r = cni_result_parse("{\"cniVersion\":\"1.0.0\"}", 22, &e);
	assert_non_null(r);
	assert_int_equal(cni_result_ip(r, NULL, AF_UNSPEC, &ip, &e), -1);
	err_free(e);
	e = NULL;
	json_decref(r);

	const char *bad[] = {
		"",
		"not json",
		"[1]",
		"{\"ips\":[]}",
		"{\"cniVersion\":1}",
		"{\"cniVersion\":\"1.0.0\",\"ips\":{}}",
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/40\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"bogus/24\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"fd00::1\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.2/24\",\"interface\":0}]}",
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"a\"}],\"ips\":[{\"address\":\"10.0.0."
		"2/24\","
		"\"interface\":-1}]}",
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"mac\":\"x\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"a\",\"sandbox\":3}]}",
		"{\"cniVersion\":\"1.0.0\",\"routes\":{}}",
		"{\"cniVersion\":\"1.0.0\",\"dns\":[]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = cni_result_parse(bad[i], strlen(bad[i]), &e);
		if (r)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(e);
		assert_int_equal(e->kind, ERR_INTERNAL);
		assert_non_null(strstr(e->msg, "CNI result"));
		err_free(e);
		e = NULL;
	}
	/* Bounded: more than CNI_OUTPUT_MAX bytes is refused before parsing. */
	char *big = xmalloc(CNI_OUTPUT_MAX + 2);
	memset(big, ' ', CNI_OUTPUT_MAX + 1);
	big[CNI_OUTPUT_MAX + 1] = '\0';
	assert_null(cni_result_parse(big, CNI_OUTPUT_MAX + 1, &e));
	assert_non_null(strstr(e->msg, "more than"));
	err_free(e);
	free(big);
}

static void test_exec_error(void **state)
{
	(void)state;
	struct err *e = NULL;
	const char *out =
		"{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid config\",\"details\":\"no bridge\"}";
	assert_int_equal(cni_exec_error("bridge", "ADD", 1 << 8, out, strlen(out), "ignored", &e), -1);
	assert_int_equal(e->kind, ERR_INTERNAL);
	assert_string_equal(
		e->msg, "CNI plugin bridge ADD: invalid config: no bridge (code 7: invalid network config)");
	err_free(e);
	e = NULL;

	out = "{\"code\":11,\"msg\":\"busy\"}";
	cni_exec_error("host-local", "DEL", 1 << 8, out, strlen(out), NULL, &e);
	assert_int_equal(e->kind, ERR_UNAVAILABLE);
	assert_string_equal(e->msg, "CNI plugin host-local DEL: busy (code 11: try again later)");
	err_free(e);
	e = NULL;

	out = "{\"code\":123,\"msg\":\"\"}";
	cni_exec_error("x", "CHECK", 1 << 8, out, strlen(out), NULL, &e);
	assert_string_equal(e->msg, "CNI plugin x CHECK: failed (code 123: plugin-specific error)");
	err_free(e);
	e = NULL;

	/* Not the error JSON: quote stdout (one line), then the exit status. */
	out = "panic: oops\n\tgoroutine 1\n";
	cni_exec_error("portmap", "ADD", 2 << 8, out, strlen(out), NULL, &e);
	assert_string_equal(e->msg, "CNI plugin portmap ADD: panic: oops  goroutine 1 (exit status 2)");
	err_free(e);
	e = NULL;

	/* Nothing on stdout: stderr then. */
	cni_exec_error("portmap", "ADD", 1 << 8, "", 0, "iptables: not found\n", &e);
	assert_string_equal(e->msg, "CNI plugin portmap ADD: iptables: not found (exit status 1)");
	err_free(e);
	e = NULL;

	cni_exec_error("bridge", "DEL", SIGSEGV, NULL, 0, NULL, &e);
	assert_string_equal(e->msg, "CNI plugin bridge DEL: killed by signal 11");
	err_free(e);
	e = NULL;

	cni_exec_error("bridge", "DEL", -1, NULL, 0, "", &e);
	assert_string_equal(e->msg, "CNI plugin bridge DEL: killed after the timeout");
	err_free(e);
	e = NULL;

	/* A long message is cut. */
	char *longmsg = xmalloc(5001);
	memset(longmsg, 'm', 5000);
	longmsg[5000] = '\0';
	char *j = xasprintf("{\"code\":5,\"msg\":\"%s\"}", longmsg);
	cni_exec_error("bridge", "ADD", 1 << 8, j, strlen(j), NULL, &e);
	assert_true(strlen(e->msg) < 1200);
	assert_non_null(strstr(e->msg, "mmm... (code 5: I/O failure)"));
	err_free(e);
	free(j);
	free(longmsg);
}

/* ---- the exec protocol, through fake plugins ---- */

static void test_exec_protocol(void **state)
{
	(void)state;
	struct cni_net *n = fake_net(0);
	struct err *e = NULL;
	clear_log();
	struct cni_port ports[] = {
		{.host_port = 45000, .container_port = 80},
		{.host_port = 45001, .container_port = 53, .protocol = "udp", .host_ip = "127.0.0.1"}};
	struct cni_attach a = {.container_id = "task-0123abc",
			       .netns = "/run/gantry/netns/task-0123abc",
			       .ports = ports,
			       .nports = 2};
	json_t *res = cni_add(n, &a, &e);
	if (!res)
		fail_msg("cni_add: %s", e->msg);
	/* The result is the last plugin's. */
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_object_get(res, "dns"), "search"), 0)),
		"firewall");
	char *order = log_read("order");
	assert_string_equal(order, "ADD bridge\nADD portmap\nADD firewall\n");
	free(order);

	/* Per plugin: the list's name and version, prevResult from the one before, runtimeConfig only
	 * for the plugin that declares the capability. */
	json_t *in = log_json("ADD-bridge.in");
	assert_string_equal(json_string_value(json_object_get(in, "name")), "gantry");
	assert_string_equal(json_string_value(json_object_get(in, "cniVersion")), "1.0.0");
	assert_null(json_object_get(in, "prevResult"));
	assert_null(json_object_get(in, "runtimeConfig"));
	json_decref(in);
	in = log_json("ADD-portmap.in");
	json_t *prev = json_object_get(in, "prevResult");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_object_get(prev, "dns"), "search"), 0)),
		"bridge");
	json_t *pm = json_object_get(json_object_get(in, "runtimeConfig"), "portMappings");
	assert_int_equal(json_array_size(pm), 2);
	char *pms = jv_dump(pm);
	assert_string_equal(pms, "[{\"hostPort\":45000,\"containerPort\":80,\"protocol\":\"tcp\"},"
				 "{\"hostPort\":45001,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":"
				 "\"127.0.0.1\"}]");
	free(pms);
	json_decref(in);
	in = log_json("ADD-firewall.in");
	assert_null(json_object_get(in, "runtimeConfig"));
	prev = json_object_get(in, "prevResult");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_object_get(prev, "dns"), "search"), 0)),
		"portmap");
	json_decref(in);

	/* The environment: the CNI variables and PATH, nothing else of ours. */
	char *env = log_read("ADD-portmap.env");
	char *want = xasprintf("CNI_ARGS=\nCNI_COMMAND=ADD\nCNI_CONTAINERID=task-0123abc\nCNI_IFNAME=eth0\n"
			       "CNI_NETNS=/run/gantry/netns/task-0123abc\nCNI_PATH=%s\nPATH=%s\n",
			       fakedir, CNI_DEFAULT_EXEC_PATH);
	assert_string_equal(env, want);
	free(env);
	free(want);

	/* CHECK in order and DEL in reverse, each with the ADD's result. */
	clear_log();
	assert_int_equal(cni_check(n, &a, res, &e), 0);
	assert_int_equal(cni_del(n, &a, res, &e), 0);
	assert_null(e);
	order = log_read("order");
	assert_string_equal(order, "CHECK bridge\nCHECK firewall\n"
				   "DEL firewall\nDEL portmap\nDEL bridge\n");
	free(order);
	in = log_json("DEL-bridge.in");
	prev = json_object_get(in, "prevResult");
	assert_true(json_equal(prev, res));
	json_decref(in);
	in = log_json("DEL-portmap.in");
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(in, "runtimeConfig"), "portMappings")), 2);
	json_decref(in);

	/* DEL without a result: no prevResult. */
	clear_log();
	a.ifname = "net1";
	assert_int_equal(cni_del(n, &a, NULL, &e), 0);
	in = log_json("DEL-bridge.in");
	assert_null(json_object_get(in, "prevResult"));
	json_decref(in);
	env = log_read("DEL-bridge.env");
	assert_non_null(strstr(env, "CNI_IFNAME=net1\n"));
	free(env);

	/* CHECK needs a result. */
	assert_int_equal(cni_check(n, &a, NULL, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;
	json_decref(res);
	cni_net_free(n);
}

static void test_exec_failures(void **state)
{
	(void)state;
	struct cni_net *n = fake_net(0);
	struct err *e = NULL;
	struct cni_attach a = {.container_id = "c1", .netns = "/x/c1"};

	/* A plugin fails: its CNI error comes back, and every plugin gets DEL (the spec's clean-up),
	 * the later ones with the result obtained so far. */
	clear_log();
	marker("fail-ADD-firewall", true);
	assert_null(cni_add(n, &a, &e));
	assert_non_null(e);
	assert_string_equal(e->msg, "container c1: CNI plugin firewall ADD: bad config: no firewall "
				    "(code 7: invalid network config)");
	err_free(e);
	e = NULL;
	char *order = log_read("order");
	assert_string_equal(order,
			    "ADD bridge\nADD portmap\nADD firewall\nDEL firewall\nDEL portmap\nDEL bridge\n");
	free(order);
	json_t *in = log_json("DEL-firewall.in");
	json_t *prev = json_object_get(in, "prevResult");
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_object_get(prev, "dns"), "search"), 0)),
		"portmap");
	json_decref(in);

	marker("fail-ADD-firewall", false);

	/* DEL stops at the first failure, as the spec asks. */
	marker("fail-DEL-firewall", true);
	clear_log();
	assert_int_equal(cni_del(n, &a, NULL, &e), -1);
	assert_non_null(strstr(e->msg, "CNI plugin firewall DEL: bad config"));
	err_free(e);
	e = NULL;
	order = log_read("order");
	assert_string_equal(order, "DEL firewall\n");
	free(order);
	marker("fail-DEL-firewall", false);

	/* Output that is neither a result nor an error. */
	marker("garbage-bridge", true);
	assert_null(cni_add(n, &a, &e));
	assert_string_equal(e->msg, "container c1: CNI plugin bridge ADD: not json (exit status 2)");
	err_free(e);
	e = NULL;
	marker("garbage-bridge", false);

	/* Bounded output. */
	marker("flood-portmap", true);
	assert_null(cni_add(n, &a, &e));
	assert_non_null(strstr(e->msg, "CNI plugin portmap ADD: its output exceeds"));
	err_free(e);
	e = NULL;
	marker("flood-portmap", false);
	cni_net_free(n);

	/* A plugin that hangs is killed after the timeout. */
	n = fake_net(300);
	marker("sleep-bridge", true);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(cni_add(n, &a, &e));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(e->msg, "CNI plugin bridge ADD: killed after 300 ms"));
	assert_true(t1.tv_sec - t0.tv_sec < 10);
	err_free(e);
	e = NULL;
	marker("sleep-bridge", false);
	cni_net_free(n);

	/* Bad attachments never reach a plugin. */
	n = fake_net(0);
	clear_log();
	struct cni_attach bad[] = {
		{.container_id = "", .netns = "/x"},
		{.container_id = "a b", .netns = "/x"},
		{.container_id = "ok", .netns = "relative"},
		{.container_id = "ok", .netns = "/x", .ifname = "much-too-long-ifname"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(cni_add(n, &bad[i], &e));
		assert_int_equal(e->kind, ERR_INVALID_PARAM);
		err_free(e);
		e = NULL;
	}
	struct cni_port p0[] = {{.host_port = 0, .container_port = 80}};
	struct cni_port p1[] = {{.host_port = 80, .container_port = 70000}};
	struct cni_port p2[] = {{.host_port = 80, .container_port = 80, .protocol = "sctp"}};
	struct cni_port p3[] = {{.host_port = 80, .container_port = 80, .host_ip = "localhost"}};
	const struct cni_port *ps[] = {p0, p1, p2, p3};
	for (size_t i = 0; i < 4; i++) {
		a.ports = ps[i];
		a.nports = 1;
		assert_null(cni_add(n, &a, &e));
		assert_int_equal(e->kind, ERR_INVALID_PARAM);
		assert_non_null(strstr(e->msg, "port mapping"));
		err_free(e);
		e = NULL;
		assert_int_equal(cni_del(n, &a, NULL, &e), -1);
		err_free(e);
		e = NULL;
	}
	assert_null(log_read("order"));
	cni_net_free(n);

	/* A missing plugin. */
	struct cni_conf c = {.plugin_dir = "/nonexistent/cni", .ipam_dir = "/x"};
	n = net_new(&c);
	a.ports = NULL;
	a.nports = 0;
	assert_null(cni_add(n, &a, &e));
	assert_int_equal(e->kind, ERR_UNSUPPORTED);
	assert_non_null(strstr(e->msg, "containernetworking-plugins"));
	err_free(e);
	e = NULL;
	assert_int_equal(cni_host_prepare(n, &e), -1);
	assert_int_equal(e->kind, ERR_UNSUPPORTED);
	assert_non_null(strstr(e->msg, "'bridge'"));
	err_free(e);
	e = NULL;
	cni_net_free(n);
}

static void test_host_prepare(void **state)
{
	(void)state;
	struct err *e = NULL;
	/* iptables must be on the plugins' PATH. */
	struct cni_conf c = {.plugin_dir = fakedir, .ipam_dir = "/x", .exec_path = "/nonexistent"};
	struct cni_net *n = net_new(&c);
	assert_int_equal(cni_host_prepare(n, &e), -1);
	assert_int_equal(e->kind, ERR_UNSUPPORTED);
	assert_non_null(strstr(e->msg, "Debian package iptables"));
	err_free(e);
	e = NULL;
	cni_net_free(n);
	/* With the plugins (fake here) and iptables present, ip_forward ends up 1 (as root it is set
	 * when it was 0). */
	char *ipt = NULL;
	const char *dirs[] = {"/usr/sbin", "/sbin", "/usr/bin"};
	for (size_t i = 0; i < 3 && !ipt; i++) {
		char *p = xasprintf("%s/iptables", dirs[i]);
		if (access(p, X_OK) == 0)
			ipt = p;
		else
			free(p);
	}
	if (!ipt)
		SKIP("iptables is not installed");
	free(ipt);
	char *fwd = read_file("/proc/sys/net/ipv4/ip_forward");
	bool can = geteuid() == 0 || (fwd && fwd[0] == '1');
	free(fwd);
	if (!can)
		SKIP("ip_forward is 0 and only root may set it");
	c.exec_path = NULL;
	char bridge[16];
	snprintf(bridge, sizeof(bridge), "gtp%d", (int)getpid() % 1000000);
	c.bridge = bridge; /* the network's own iptables chains are named after it */
	n = net_new(&c);
	if (cni_host_prepare(n, &e) < 0)
		fail_msg("cni_host_prepare: %s", e->msg);
	cni_host_release(n);
	fwd = read_file("/proc/sys/net/ipv4/ip_forward");
	assert_int_equal(fwd[0], '1');
	free(fwd);
	cni_net_free(n);
}

/* ---- host ports ---- */

static void test_port_range_and_set(void **state)
{
	(void)state;
	unsigned lo = 0, hi = 0;
	struct err *e = NULL;
	assert_int_equal(cni_port_range_parse("32768\t60999\n", &lo, &hi, &e), 0);
	assert_int_equal(lo, 32768);
	assert_int_equal(hi, 60999);
	assert_int_equal(cni_port_range_parse("1024 1024", &lo, &hi, &e), 0);
	assert_int_equal(lo, 1024);
	assert_int_equal(hi, 1024);
	const char *bad[] = {"", "1", "60999 32768", "0 10", "1 70000", "a b", "1 2 3", "1\n2", "-1 5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cni_port_range_parse(bad[i], &lo, &hi, &e) == 0)
			fail_msg("accepted '%s'", bad[i]);
		err_free(e);
		e = NULL;
	}
	assert_int_equal(cni_port_range(&lo, &hi, &e), 0);
	assert_true(lo >= 1 && lo <= hi && hi <= 65535);

	struct cni_portset *s = xcalloc(1, sizeof(*s));
	assert_false(cni_portset_has(s, 0));
	cni_portset_add(s, 0);
	cni_portset_add(s, 63);
	cni_portset_add(s, 64);
	cni_portset_add(s, 65535);
	cni_portset_add(s, 65536); /* ignored */
	assert_true(cni_portset_has(s, 0) && cni_portset_has(s, 63) && cni_portset_has(s, 64));
	assert_true(cni_portset_has(s, 65535));
	assert_false(cni_portset_has(s, 65) || cni_portset_has(s, 65536) || cni_portset_has(s, 1));
	cni_portset_del(s, 63);
	assert_false(cni_portset_has(s, 63));
	assert_true(cni_portset_has(s, 64));
	free(s);
}

static int listen_on(int type, unsigned port)
{
	int fd = socket(AF_INET, type, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static void test_port_pick(void **state)
{
	(void)state;
	unsigned lo, hi, p, q;
	struct err *e = NULL;
	assert_int_equal(cni_port_range(&lo, &hi, &e), 0);
	struct cni_portset *reserved = xcalloc(1, sizeof(*reserved));

	/* Picks differ as they get reserved, and stay in the range. */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(cni_port_pick(lo, hi, CNI_PROTO_TCP | CNI_PROTO_UDP, reserved, &p, &e), 0);
		assert_true(p >= lo && p <= hi);
		assert_false(cni_portset_has(reserved, p));
		cni_portset_add(reserved, p);
	}
	memset(reserved, 0, sizeof(*reserved));

	/* A range of three with two reserved gives the third. */
	assert_int_equal(cni_port_pick(lo, hi - 2, CNI_PROTO_TCP, NULL, &p, &e), 0);
	cni_portset_add(reserved, p);
	cni_portset_add(reserved, p + 2);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(cni_port_pick(p, p + 2, CNI_PROTO_TCP, reserved, &q, &e), 0);
		assert_int_equal(q, p + 1);
	}
	/* A port someone listens on is not free. */
	int fd = listen_on(SOCK_STREAM, p + 1);
	if (fd < 0)
		SKIP("the port was taken meanwhile");
	assert_int_equal(cni_port_pick(p, p + 2, CNI_PROTO_TCP, reserved, &q, &e), -1);
	assert_int_equal(e->kind, ERR_LIMIT_EXCEEDED);
	assert_non_null(strstr(e->msg, "no free host port"));
	err_free(e);
	e = NULL;
	close(fd);
	/* A UDP socket blocks the port for UDP, not for TCP only. */
	fd = listen_on(SOCK_DGRAM, p + 1);
	assert_true(fd >= 0);
	assert_int_equal(cni_port_pick(p, p + 2, CNI_PROTO_TCP, reserved, &q, &e), 0);
	assert_int_equal(q, p + 1);
	assert_int_equal(cni_port_pick(p, p + 2, CNI_PROTO_TCP | CNI_PROTO_UDP, reserved, &q, &e), -1);
	err_free(e);
	e = NULL;
	close(fd);

	assert_int_equal(cni_port_pick(0, 10, CNI_PROTO_TCP, NULL, &q, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;
	assert_int_equal(cni_port_pick(20, 10, CNI_PROTO_TCP, NULL, &q, &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(cni_port_pick(10, 70000, CNI_PROTO_TCP, NULL, &q, &e), -1);
	err_free(e);
	e = NULL;
	assert_int_equal(cni_port_pick(lo, hi, 0, NULL, &q, &e), -1);
	err_free(e);
	free(reserved);
}

/* ---- namespaces (root) ---- */

static bool is_root(void)
{
	return geteuid() == 0;
}

static ino_t my_netns(void)
{
	struct stat st;
	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static bool mounted(const char *path)
{
	char *mi = read_file("/proc/self/mountinfo");
	char *needle = xasprintf(" %s ", path);
	bool r = mi && strstr(mi, needle);
	free(needle);
	free(mi);
	return r;
}

static void test_netns(void **state)
{
	(void)state;
	if (!is_root())
		SKIP("needs root");
	struct err *e = NULL;
	char *dir = xasprintf("%s/nsdir", tmpdir);
	char *path = NULL;
	ino_t before = my_netns();
	if (cni_netns_create(dir, "one", &path, &e) < 0)
		fail_msg("cni_netns_create: %s", e->msg);
	assert_int_equal(my_netns(), before);
	assert_true(mounted(dir));
	assert_true(mounted(path));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_ino != before);
	/* It is a network namespace with lo up. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (setns(fd, CLONE_NEWNET) < 0)
			_exit(2);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			_exit(3);
		_exit(ifr.ifr_flags & IFF_UP ? 0 : 4);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd);

	/* A second one with the same name is refused; a second directory use is fine. */
	assert_int_equal(cni_netns_create(dir, "one", NULL, &e), -1);
	assert_int_equal(e->sys_errno, EEXIST);
	err_free(e);
	e = NULL;
	char *path2 = NULL;
	assert_int_equal(cni_netns_create(dir, "two", &path2, &e), 0);
	assert_int_equal(cni_netns_delete(path2, &e), 0);
	assert_false(exists(path2));
	free(path2);
	assert_int_equal(cni_netns_create(dir, "bad/name", NULL, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;

	assert_int_equal(cni_netns_delete(path, &e), 0);
	assert_false(exists(path));
	assert_false(mounted(path));
	/* Deleting again is harmless. */
	assert_int_equal(cni_netns_delete(path, &e), 0);
	assert_null(e);
	assert_int_equal(umount2(dir, MNT_DETACH), 0);
	assert_false(mounted(dir));
	free(path);
	free(dir);
}

/* ---- the real plugins (root) ---- */

#define IT_SUBNET	 "172.31.250.0/24"
#define IT_SUBNET_PREFIX "172.31.250."
#define IT_CPORT	 8080
#define IT_CYCLES	 100

struct it {
	char *dir, *nsdir, *ipam;
	char name[32]; /* network and bridge name */
	struct cni_net *net;
	/* what is live, for the teardown on failure */
	char *cid, *netns;
	struct cni_port port;
	json_t *result;
	pid_t server;
};

static struct it it;

static bool have_real_plugins(void)
{
	const char *need[] = {"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap",
			      "/usr/lib/cni/firewall"};
	for (size_t i = 0; i < 4; i++)
		if (access(need[i], X_OK) != 0)
			return false;
	return true;
}

static void it_del_live(void)
{
	struct err *e = NULL;
	if (it.server > 0) {
		kill(it.server, SIGKILL);
		waitpid(it.server, NULL, 0);
		it.server = 0;
	}
	if (it.cid) {
		struct cni_attach a = {
			.container_id = it.cid, .netns = it.netns, .ports = &it.port, .nports = 1};
		if (cni_del(it.net, &a, it.result, &e) < 0)
			fprintf(stderr, "# teardown: %s\n", e->msg);
		err_free(e);
		e = NULL;
	}
	if (it.netns && cni_netns_delete(it.netns, &e) < 0) {
		fprintf(stderr, "# teardown: %s\n", e->msg);
		err_free(e);
	}
	json_decref(it.result);
	free(it.cid);
	free(it.netns);
	it.result = NULL;
	it.cid = it.netns = NULL;
}

static int it_setup(void **state)
{
	(void)state;
	if (!is_root() || !have_real_plugins())
		return 0;
	it.dir = xasprintf("%s/it", tmpdir);
	it.nsdir = xasprintf("%s/netns", it.dir);
	it.ipam = xasprintf("%s/ipam", it.dir);
	snprintf(it.name, sizeof(it.name), "gtest%d", (int)getpid() % 10000000);
	struct cni_conf c = {.network = it.name, .bridge = it.name, .subnet = IT_SUBNET, .ipam_dir = it.ipam};
	struct err *e = NULL;
	it.net = cni_net_new(&c, &e);
	if (!it.net) {
		fprintf(stderr, "# %s\n", e->msg);
		err_free(e);
		return -1;
	}
	return 0;
}

static int it_teardown(void **state)
{
	(void)state;
	if (!it.net)
		return 0;
	it_del_live();
	cni_host_release(it.net);
	char *argv[] = {"ip", "link", "del", it.name, NULL};
	free(run(argv, NULL));
	umount2(it.nsdir, MNT_DETACH);
	nftw(it.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	cni_net_free(it.net);
	free(it.dir);
	free(it.nsdir);
	free(it.ipam);
	memset(&it, 0, sizeof(it));
	return 0;
}

/* An echo server in the namespace at path: answers each connection with "echo:" and what it read.
 * Reports through a pipe once it listens; returns its pid. */
static pid_t start_server(const char *path)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		int fd = open(path, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(2);
		int s = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(IT_CPORT)};
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0)
			_exit(3);
		if (write(p[1], "R", 1) != 1)
			_exit(4);
		close(p[1]);
		for (;;) {
			int c = accept(s, NULL, NULL);
			if (c < 0)
				continue;
			char in[256], out[300];
			ssize_t n = read(c, in, sizeof(in) - 1);
			if (n > 0) {
				in[n] = '\0';
				int m = snprintf(out, sizeof(out), "echo:%s", in);
				if (write(c, out, (size_t)m) < 0)
					_exit(5);
			}
			close(c);
		}
	}
	close(p[1]);
	char r = 0;
	assert_int_equal(read(p[0], &r, 1), 1);
	assert_int_equal(r, 'R');
	close(p[0]);
	return pid;
}

/* Connects to addr:port, sends msg, returns what comes back (the caller frees), or NULL. */
static char *exchange(const char *addr, unsigned port, const char *msg)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	char *res = NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto out;
	struct pollfd pf = {.fd = fd, .events = POLLOUT};
	if (poll(&pf, 1, 5000) != 1)
		goto out;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr)
		goto out;
	if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg))
		goto out;
	struct buf b;
	buf_init(&b, 4096);
	for (;;) {
		pf = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 5000) != 1)
			break;
		char chunk[256];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		buf_add(&b, chunk, (size_t)n);
	}
	res = buf_detach(&b, NULL);
out:
	close(fd);
	return res;
}

static void expect_echo(const char *addr, unsigned port)
{
	char *got = exchange(addr, port, "ping");
	if (!got || strcmp(got, "echo:ping") != 0)
		fail_msg("%s:%u answered '%s', not 'echo:ping'", addr, port, got ? got : "(no connection)");
	free(got);
}

/* A non-loopback IPv4 address of this host outside the test subnet, or "" when there is none. */
static void host_addr(char out[INET_ADDRSTRLEN])
{
	struct ifaddrs *ifa = NULL, *i;
	out[0] = '\0';
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, INET_ADDRSTRLEN);
		if (strncmp(out, IT_SUBNET_PREFIX, strlen(IT_SUBNET_PREFIX)) != 0)
			break;
		out[0] = '\0';
	}
	freeifaddrs(ifa);
}

/* The iptables chain names the plugins derive from the network name and the container id:
 * "CNI-" + the first 24 hex digits of SHA-512(name + id) (bridge's ipMasq), "CNI-DN-" + 21 (portmap). */
static void chain_names(const char *name, const char *cid, char masq[32], char dnat[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *in = xasprintf("%s%s", name, cid);
	assert_int_equal(EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha512(), NULL), 1);
	free(in);
	char hex[129];
	for (unsigned i = 0; i < mdlen && i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(masq, 32, "CNI-%.24s", hex);
	snprintf(dnat, 32, "CNI-DN-%.21s", hex);
}

static char *iptables_save_all(void)
{
	char *argv[] = {"iptables-save", NULL};
	int st;
	char *out = run(argv, &st);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return out;
}

/* The ruleset without the network's own chains (GANTRY-<bridge>, made once by cni_host_prepare
 * and kept until cni_host_release), which name the bridge and the subnet: what is left is what
 * the attachments made. */
static char *iptables_save(void)
{
	char *all = iptables_save_all();
	char *own = xasprintf("GANTRY-%s", it.name);
	struct buf b = BUF_INIT;
	for (char *line = all; *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
		char *one = xstrndup(line, len);
		if (!strstr(one, own))
			buf_add(&b, one, len);
		free(one);
		line += len;
	}
	free(own);
	free(all);
	return buf_detach(&b, NULL);
}

/* How many lines of the ruleset contain needle. */
static int count_lines(const char *rules, const char *needle)
{
	int n = 0;
	for (const char *p = rules; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The network's own chains: each jumped to once, with the subnet's masquerade and the bridge's
 * forward rules (present = true), or none of it (false). */
static void expect_network_rules(bool present)
{
	char *rules = iptables_save_all();
	char *fwd = xasprintf("-A FORWARD -j GANTRY-%s\n", it.name),
	     *post = xasprintf("-A POSTROUTING -j GANTRY-%s\n", it.name),
	     *masq = xasprintf("-A GANTRY-%s -s %s ! -o %s -j MASQUERADE", it.name, IT_SUBNET, it.name),
	     *in = xasprintf("-A GANTRY-%s -i %s -j ACCEPT", it.name, it.name),
	     *dnat = xasprintf("-A GANTRY-%s -o %s -m conntrack --ctstate DNAT -j ACCEPT", it.name, it.name);
	const char *needles[] = {fwd, post, masq, in, dnat};
	for (size_t i = 0; i < 5; i++)
		if (count_lines(rules, needles[i]) != (present ? 1 : 0))
			fail_msg("iptables has %s %d times", needles[i], count_lines(rules, needles[i]));
	free(fwd), free(post), free(masq), free(in), free(dnat);
	free(rules);
}

/* Nothing of the attachment (container id cid, address ip, veth) is left on the host. */
static void expect_gone(const char *rules, const char *cid, const char *ip, const char *veth)
{
	char masq[32], dnat[32];
	chain_names(it.name, cid, masq, dnat);
	char *ip32 = xasprintf("%s/32", ip);
	char *ipport = xasprintf("%s:", ip);
	const char *needles[] = {cid, ip32, ipport, masq, dnat};
	for (size_t i = 0; i < 5; i++)
		if (strstr(rules, needles[i]))
			fail_msg("iptables still mentions %s (container %s)", needles[i], cid);
	free(ip32);
	free(ipport);
	if (veth) {
		char *p = xasprintf("/sys/class/net/%s", veth);
		if (exists(p))
			fail_msg("veth %s is still there", veth);
		free(p);
	}
}

/* host-local keeps one file per leased address (named by the address) beside "lock" and
 * "last_reserved_ip.0"; the bridge has no ports left; no namespace file or mount remains. */
static void expect_clean_host(void)
{
	char *d = xasprintf("%s/%s", it.ipam, it.name);
	DIR *dh = opendir(d);
	assert_non_null(dh);
	struct dirent *de;
	while ((de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "lock") ||
		    !strncmp(de->d_name, "last_reserved_ip", 16))
			continue;
		fail_msg("lease file %s/%s is left", d, de->d_name);
	}
	closedir(dh);
	free(d);
	d = xasprintf("/sys/class/net/%s/brif", it.name);
	dh = opendir(d);
	assert_non_null(dh);
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			fail_msg("bridge %s still has port %s", it.name, de->d_name);
	closedir(dh);
	free(d);
	dh = opendir(it.nsdir);
	assert_non_null(dh);
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.')
			fail_msg("namespace file %s/%s is left", it.nsdir, de->d_name);
	closedir(dh);
	char *mi = read_file("/proc/self/mountinfo");
	char *needle = xasprintf("%s/", it.nsdir);
	if (strstr(mi, needle))
		fail_msg("a namespace is still mounted under %s", it.nsdir);
	free(needle);
	free(mi);
	/* The network's name is in the comment of every per-container rule. */
	char *rules = iptables_save();
	char *quoted = xasprintf("\\\"%s\\\"", it.name);
	if (strstr(rules, quoted))
		fail_msg("iptables still has rules of network %s", it.name);
	if (strstr(rules, IT_SUBNET_PREFIX))
		fail_msg("iptables still mentions the test subnet %s", IT_SUBNET);
	free(quoted);
	free(rules);
}

static void it_attach(const char *cid, unsigned host_port)
{
	struct err *e = NULL;
	it.cid = xstrdup(cid);
	if (cni_netns_create(it.nsdir, cid, &it.netns, &e) < 0)
		fail_msg("cni_netns_create: %s", e->msg);
	it.port = (struct cni_port){.host_port = host_port, .container_port = IT_CPORT, .protocol = "tcp"};
	struct cni_attach a = {.container_id = cid, .netns = it.netns, .ports = &it.port, .nports = 1};
	it.result = cni_add(it.net, &a, &e);
	if (!it.result)
		fail_msg("cni_add: %s", e->msg);
}

/* DEL and namespace removal; returns the veth's name and the address (the caller frees). */
static void it_detach(char **veth, char **ip)
{
	struct err *e = NULL;
	struct cni_ip cip;
	assert_int_equal(cni_result_ip(it.result, "eth0", AF_INET, &cip, &e), 0);
	*ip = xstrdup(cip.addr);
	*veth = xstrdup(json_string_value(
		json_object_get(json_array_get(json_object_get(it.result, "interfaces"), 1), "name")));
	struct cni_attach a = {.container_id = it.cid, .netns = it.netns, .ports = &it.port, .nports = 1};
	if (cni_del(it.net, &a, it.result, &e) < 0)
		fail_msg("cni_del: %s", e->msg);
	if (cni_netns_delete(it.netns, &e) < 0)
		fail_msg("cni_netns_delete: %s", e->msg);
	json_decref(it.result);
	free(it.cid);
	free(it.netns);
	it.result = NULL;
	it.cid = it.netns = NULL;
}

static void test_real_bridge(void **state)
{
	(void)state;
	if (!it.net)
		SKIP("needs root and containernetworking-plugins in /usr/lib/cni");
	struct err *e = NULL;
	/* Twice: the second makes the network's rules again without doubling them. */
	for (int i = 0; i < 2; i++)
		if (cni_host_prepare(it.net, &e) < 0)
			fail_msg("cni_host_prepare: %s", e->msg);
	expect_network_rules(true);
	unsigned lo, hi, hport;
	struct cni_portset *reserved = xcalloc(1, sizeof(*reserved));
	assert_int_equal(cni_port_range(&lo, &hi, &e), 0);
	assert_int_equal(cni_port_pick(lo, hi, CNI_PROTO_TCP, reserved, &hport, &e), 0);

	char cid[64];
	snprintf(cid, sizeof(cid), "%s-main", it.name);
	it_attach(cid, hport);
	struct cni_ip ip;
	assert_int_equal(cni_result_ip(it.result, "eth0", AF_INET, &ip, &e), 0);
	assert_int_equal(strncmp(ip.addr, IT_SUBNET_PREFIX, strlen(IT_SUBNET_PREFIX)), 0);
	assert_int_equal(ip.prefix, 24);
	assert_string_equal(ip.gateway, IT_SUBNET_PREFIX "1");
	struct cni_attach a = {.container_id = cid, .netns = it.netns, .ports = &it.port, .nports = 1};
	if (cni_check(it.net, &a, it.result, &e) < 0)
		fail_msg("cni_check: %s", e->msg);
	/* The lease is the agent's own, under its directory. */
	char *lease = xasprintf("%s/%s/%s", it.ipam, it.name, ip.addr);
	char *owner = read_file(lease);
	assert_non_null(owner);
	assert_non_null(strstr(owner, cid));
	free(owner);

	it.server = start_server(it.netns);
	/* What users do: curl 127.0.0.1:hostPort; and the host's own address, and the container's. */
	expect_echo("127.0.0.1", hport);
	char haddr[INET_ADDRSTRLEN];
	host_addr(haddr);
	if (haddr[0]) {
		fprintf(stderr, "# host address %s\n", haddr);
		expect_echo(haddr, hport);
	} else
		fprintf(stderr, "# no non-loopback IPv4 address: skipped the host-address check\n");
	expect_echo(ip.addr, IT_CPORT);
	kill(it.server, SIGKILL);
	waitpid(it.server, NULL, 0);
	it.server = 0;

	/* Before DEL, everything the leftover checks look for is there (so that they can fail). */
	char masq[32], dnat[32];
	chain_names(it.name, cid, masq, dnat);
	char *rules = iptables_save();
	char *ipport = xasprintf("%s:%d", ip.addr, IT_CPORT);
	const char *present[] = {cid, dnat, ipport};
	for (size_t i = 0; i < 3; i++)
		if (!strstr(rules, present[i]))
			fail_msg("iptables does not mention %s after ADD", present[i]);
	free(ipport);
	free(rules);
	const char *veth_name = json_string_value(
		json_object_get(json_array_get(json_object_get(it.result, "interfaces"), 1), "name"));
	char *veth_path = xasprintf("/sys/class/net/%s/brport", veth_name);
	assert_true(exists(veth_path)); /* a port of the bridge */
	free(veth_path);
	char *veth, *addr;
	it_detach(&veth, &addr);
	assert_false(exists(lease));
	rules = iptables_save();
	expect_gone(rules, cid, addr, veth);
	free(rules);
	expect_clean_host();
	/* The port forward is gone too: nothing answers there now. */
	char *got = exchange("127.0.0.1", hport, "ping");
	assert_true(got == NULL || strcmp(got, "echo:ping") != 0);
	free(got);

	/* DEL again, with the namespace gone: nothing to do, and no error. */
	char *gone_ns = xasprintf("%s/%s", it.nsdir, cid);
	struct cni_attach again = {.container_id = cid, .netns = gone_ns, .ports = &it.port, .nports = 1};
	if (cni_del(it.net, &again, NULL, &e) < 0)
		fail_msg("repeated cni_del: %s", e->msg);
	free(gone_ns);
	free(veth);
	free(addr);
	free(lease);
	free(reserved);
	cni_host_release(it.net);
	expect_network_rules(false);
	cni_host_release(it.net); /* again: nothing to remove, nothing fails */
}

static void test_real_cycles(void **state)
{
	(void)state;
	if (!it.net)
		SKIP("needs root and containernetworking-plugins in /usr/lib/cni");
	struct err *e = NULL;
	unsigned lo, hi;
	struct cni_portset *reserved = xcalloc(1, sizeof(*reserved));
	assert_int_equal(cni_port_range(&lo, &hi, &e), 0);
	char **cids = xcalloc(IT_CYCLES, sizeof(char *)), **ips = xcalloc(IT_CYCLES, sizeof(char *));
	char **veths = xcalloc(IT_CYCLES, sizeof(char *));
	for (int i = 0; i < IT_CYCLES; i++) {
		unsigned hport;
		assert_int_equal(cni_port_pick(lo, hi, CNI_PROTO_TCP, reserved, &hport, &e), 0);
		cni_portset_add(reserved, hport);
		char cid[64];
		snprintf(cid, sizeof(cid), "%s-c%d", it.name, i);
		cids[i] = xstrdup(cid);
		it_attach(cid, hport);
		it_detach(&veths[i], &ips[i]);
		cni_portset_del(reserved, hport);
	}
	char *rules = iptables_save();
	for (int i = 0; i < IT_CYCLES; i++) {
		expect_gone(rules, cids[i], ips[i], veths[i]);
		free(cids[i]);
		free(ips[i]);
		free(veths[i]);
	}
	free(rules);
	expect_clean_host();
	free(cids);
	free(ips);
	free(veths);
	free(reserved);
}

/* The agent runs these on the libuv thread pool: several tasks' ADDs and DELs at once must not
 * trip over each other (host-local's lock, the shared portmap chains, iptables). */
#define PAR_THREADS 4
#define PAR_CYCLES  10

struct par {
	int idx;
	char *cids[PAR_CYCLES];
	char *failure;
};

static pthread_mutex_t par_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cni_portset par_reserved;

static void *par_worker(void *arg)
{
	struct par *w = arg;
	struct err *e = NULL;
	unsigned lo, hi;
	if (cni_port_range(&lo, &hi, &e) < 0)
		goto fail;
	for (int i = 0; i < PAR_CYCLES; i++) {
		unsigned hport;
		char *ns = NULL;
		pthread_mutex_lock(&par_lock);
		int rc = cni_port_pick(lo, hi, CNI_PROTO_TCP, &par_reserved, &hport, &e);
		if (rc == 0)
			cni_portset_add(&par_reserved, hport);
		pthread_mutex_unlock(&par_lock);
		if (rc < 0)
			goto fail;
		w->cids[i] = xasprintf("%s-p%d-%d", it.name, w->idx, i);
		if (cni_netns_create(it.nsdir, w->cids[i], &ns, &e) < 0)
			goto fail;
		struct cni_port port = {.host_port = hport, .container_port = IT_CPORT};
		struct cni_attach a = {.container_id = w->cids[i], .netns = ns, .ports = &port, .nports = 1};
		json_t *res = cni_add(it.net, &a, &e);
		rc = res && cni_del(it.net, &a, res, &e) == 0 ? 0 : -1;
		json_decref(res);
		if (rc < 0) {
			struct err *e2 = NULL;
			cni_del(it.net, &a, NULL, &e2);
			err_free(e2);
		}
		struct err *e3 = NULL;
		if (cni_netns_delete(ns, rc < 0 ? &e3 : &e) < 0 && rc == 0)
			rc = -1;
		err_free(e3);
		free(ns);
		pthread_mutex_lock(&par_lock);
		cni_portset_del(&par_reserved, hport);
		pthread_mutex_unlock(&par_lock);
		if (rc < 0)
			goto fail;
	}
	return NULL;
fail:
	w->failure = xstrdup(e ? e->msg : "failed");
	err_free(e);
	return NULL;
}

static void test_real_parallel(void **state)
{
	(void)state;
	if (!it.net)
		SKIP("needs root and containernetworking-plugins in /usr/lib/cni");
	struct par *w = xcalloc(PAR_THREADS, sizeof(*w));
	pthread_t t[PAR_THREADS];
	memset(&par_reserved, 0, sizeof(par_reserved));
	for (int i = 0; i < PAR_THREADS; i++) {
		w[i].idx = i;
		assert_int_equal(pthread_create(&t[i], NULL, par_worker, &w[i]), 0);
	}
	for (int i = 0; i < PAR_THREADS; i++)
		pthread_join(t[i], NULL);
	char *rules = iptables_save();
	char *failure = NULL;
	for (int i = 0; i < PAR_THREADS; i++) {
		if (w[i].failure && !failure)
			failure = xasprintf("worker %d: %s", i, w[i].failure);
		free(w[i].failure);
		for (int c = 0; c < PAR_CYCLES && w[i].cids[c]; c++) {
			char masq[32], dnat[32];
			chain_names(it.name, w[i].cids[c], masq, dnat);
			if (!failure &&
			    (strstr(rules, w[i].cids[c]) || strstr(rules, masq) || strstr(rules, dnat)))
				failure = xasprintf("iptables still mentions container %s", w[i].cids[c]);
			free(w[i].cids[c]);
		}
	}
	free(rules);
	free(w);
	if (failure)
		fail_msg("%s", failure);
	expect_clean_host();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conflist_defaults),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_result_parse_and_ip),
		cmocka_unit_test(test_exec_error),
		cmocka_unit_test(test_exec_protocol),
		cmocka_unit_test(test_exec_failures),
		cmocka_unit_test(test_host_prepare),
		cmocka_unit_test(test_port_range_and_set),
		cmocka_unit_test(test_port_pick),
		cmocka_unit_test(test_netns),
		cmocka_unit_test_setup_teardown(test_real_bridge, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_real_cycles, it_setup, it_teardown),
		cmocka_unit_test_setup_teardown(test_real_parallel, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
