/* Container networking through CNI plugins: the configuration list, running plugins per the CNI
 * spec 1.0.0, their results and errors, persistent network namespaces, and dynamic host ports. */
#include "agent/cni.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

#define IP_FORWARD_PATH	 "/proc/sys/net/ipv4/ip_forward"
#define PORT_RANGE_PATH	 "/proc/sys/net/ipv4/ip_local_port_range"
#define ERR_QUOTE_MAX	 1024 /* bytes of a plugin's message quoted in an error */
#define SMALL_FILE_MAX	 256  /* bytes read of a /proc/sys file */
#define PLUGIN_ARGV_MAX	 2
#define PLUGIN_ENVP_SIZE 8

struct cni_net {
	char *plugin_dir;
	char *network;
	char *bridge;
	char *subnet;
	char *ipam_dir;
	char *exec_path;
	unsigned timeout_ms;
	json_t *conflist;
};

/* ---- names and addresses ---- */

/* CNI spec: a network name (and, by the same rule, a container id) starts with a letter or digit,
 * followed by letters, digits, '_', '.' or '-'. */
static bool valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > CNI_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

/* A Linux interface name: 1..15 bytes, no '/', ':' or blanks, not "." or "..". */
static bool valid_ifname(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > CNI_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == ':' || isspace(c) || !isprint(c))
			return false;
	}
	return true;
}

/* Parses "address/prefix" (IPv4 or IPv6). Returns 0 or -1. */
static int parse_cidr(const char *s, int *family, unsigned char addr[16], unsigned *prefix)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char host[INET6_ADDRSTRLEN];
	if (!slash || (size_t)(slash - s) >= sizeof(host) || slash == s)
		return -1;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	const char *p = slash + 1;
	if (!*p || strlen(p) > 3)
		return -1;
	unsigned v = 0;
	for (; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (inet_pton(AF_INET, host, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	if (v > (*family == AF_INET ? 32u : 128u))
		return -1;
	*prefix = v;
	return 0;
}

static int parse_addr(const char *s, int *family)
{
	unsigned char buf[16];
	if (s && inet_pton(AF_INET, s, buf) == 1)
		*family = AF_INET;
	else if (s && inet_pton(AF_INET6, s, buf) == 1)
		*family = AF_INET6;
	else
		return -1;
	return 0;
}

/* An IPv4 subnet for host-local: canonical (no host bits) and with room for the network address,
 * the gateway, at least one container and the broadcast address. */
static int check_subnet(const char *s, struct err **err)
{
	int family;
	unsigned char a[16];
	unsigned prefix;
	if (parse_cidr(s, &family, a, &prefix) < 0 || family != AF_INET)
		return err_set(err, ERR_INVALID_PARAM, "subnet '%s' is not an IPv4 CIDR such as %s", s,
			       CNI_DEFAULT_SUBNET);
	if (prefix < 8 || prefix > 30)
		return err_set(err, ERR_INVALID_PARAM, "subnet '%s': the prefix must be between /8 and /30",
			       s);
	uint32_t v = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
	uint32_t host_mask = prefix == 32 ? 0 : (UINT32_MAX >> prefix);
	if (v & host_mask)
		return err_set(err, ERR_INVALID_PARAM, "subnet '%s' has host bits set", s);
	return 0;
}

/* ---- the configuration list ---- */

static json_t *must(json_t *j)
{
	if (!j) {
		/* json_pack fails only on a format bug or out of memory. */
		fprintf(stderr, "gantry: cni: cannot build JSON\n");
		abort();
	}
	return j;
}

static json_t *build_conflist(const struct cni_net *n, bool firewall)
{
	json_t *ipam =
		must(json_pack("{s:s, s:[[{s:s}]], s:[{s:s}], s:s}", "type", "host-local", "ranges", "subnet",
			       n->subnet, "routes", "dst", "0.0.0.0/0", "dataDir", n->ipam_dir));
	json_t *plugins = must(json_array());
	/* ipMasq off: the bridge plugin would make a chain and two rules per container (9 iptables
	 * runs); one rule for the whole subnet (bridge_rules) masquerades the same traffic. */
	json_array_append_new(plugins, must(json_pack("{s:s, s:s, s:b, s:b, s:b, s:o}", "type", "bridge",
						      "bridge", n->bridge, "isGateway", 1, "ipMasq", 0,
						      "hairpinMode", 1, "ipam", ipam)));
	/* portmap's snat (its default, spelled out) adds the rules that make 127.0.0.1:hostPort work:
	 * it marks connections from localhost for masquerading and sets route_localnet on the bridge. */
	json_array_append_new(plugins, must(json_pack("{s:s, s:{s:b}, s:b}", "type", "portmap",
						      "capabilities", "portMappings", 1, "snat", 1)));
	if (firewall)
		json_array_append_new(
			plugins, must(json_pack("{s:s, s:s}", "type", "firewall", "backend", "iptables")));
	return must(json_pack("{s:s, s:s, s:o}", "cniVersion", CNI_VERSION, "name", n->network, "plugins",
			      plugins));
}

struct cni_net *cni_net_new(const struct cni_conf *conf, struct err **err)
{
	struct cni_conf c = conf ? *conf : (struct cni_conf){0};
	struct cni_net *n = NULL;
	if (!c.plugin_dir)
		c.plugin_dir = CNI_DEFAULT_PLUGIN_DIR;
	if (!c.network)
		c.network = CNI_DEFAULT_NETWORK;
	if (!c.bridge)
		c.bridge = CNI_DEFAULT_BRIDGE;
	if (!c.subnet)
		c.subnet = CNI_DEFAULT_SUBNET;
	if (!c.exec_path)
		c.exec_path = CNI_DEFAULT_EXEC_PATH;
	if (!*c.plugin_dir) {
		err_set(err, ERR_INVALID_PARAM, "the CNI plugin directory is empty");
		goto out;
	}
	if (!valid_name(c.network)) {
		err_set(err, ERR_INVALID_PARAM,
			"network name '%s' must be letters, digits, '_', '.' or '-', starting with a letter "
			"or digit",
			c.network);
		goto out;
	}
	if (!valid_ifname(c.bridge)) {
		err_set(err, ERR_INVALID_PARAM,
			"bridge name '%s' is not an interface name (1 to %d characters)", c.bridge,
			CNI_IFNAME_MAX);
		goto out;
	}
	if (check_subnet(c.subnet, err) < 0)
		goto out;
	if (!c.ipam_dir || c.ipam_dir[0] != '/') {
		err_set(err, ERR_INVALID_PARAM, "the IPAM data directory must be an absolute path");
		goto out;
	}
	/* It goes into the configuration JSON, which holds UTF-8 only. */
	json_t *probe = json_string(c.ipam_dir);
	if (!probe) {
		err_set(err, ERR_INVALID_PARAM, "the IPAM data directory's path is not UTF-8");
		goto out;
	}
	json_decref(probe);
	n = xcalloc(1, sizeof(*n));
	n->plugin_dir = xstrdup(c.plugin_dir);
	n->network = xstrdup(c.network);
	n->bridge = xstrdup(c.bridge);
	n->subnet = xstrdup(c.subnet);
	n->ipam_dir = xstrdup(c.ipam_dir);
	n->exec_path = xstrdup(c.exec_path);
	n->timeout_ms = c.timeout_ms ? c.timeout_ms : CNI_TIMEOUT_MS_DEFAULT;
	n->conflist = build_conflist(n, c.firewall);
out:
	return n;
}

void cni_net_free(struct cni_net *net)
{
	if (!net)
		return;
	free(net->plugin_dir);
	free(net->network);
	free(net->bridge);
	free(net->subnet);
	free(net->ipam_dir);
	free(net->exec_path);
	json_decref(net->conflist);
	free(net);
}

json_t *cni_net_conflist(const struct cni_net *net)
{
	return net->conflist;
}

/* ---- finding executables ---- */

/* The first dir/name that is an executable file in the ':'-separated list dirs, or NULL. */
static char *find_exec(const char *dirs, const char *name)
{
	const char *p = dirs;
	while (p) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (len > 0) {
			char *path = xasprintf("%.*s/%s", (int)len, p, name);
			struct stat st;
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
				return path;
			free(path);
		}
		p = colon ? colon + 1 : NULL;
	}
	return NULL;
}

/* ---- host prerequisites ---- */

static int bridge_rules_install(const struct cni_net *n, struct err **err);
static void bridge_rules_remove(const struct cni_net *n);

/* Reads a small file into buf (NUL-terminated). Returns its length, or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got + 1 < size) {
		ssize_t r = read(fd, buf + got, size - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return (ssize_t)got;
}

static int ensure_ip_forward(struct err **err)
{
	char buf[SMALL_FILE_MAX];
	int fd = -1;
	if (read_small(IP_FORWARD_PATH, buf, sizeof(buf)) < 0)
		return err_sys(err, errno, "read %s", IP_FORWARD_PATH);
	if (buf[0] != '0')
		return 0;
	/* Without forwarding the host drops what containers send beyond the bridge and what
	 * portmap forwards to them from other hosts. */
	fd = open(IP_FORWARD_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return err_sys(err, e, "enable net.ipv4.ip_forward (write 1 to %s)", IP_FORWARD_PATH);
	}
	close(fd);
	log_info("cni: net.ipv4.ip_forward was 0; set it to 1 so that containers on bridge networks reach "
		 "other networks and port mappings reach containers");
	return 0;
}

static int need_plugin(const struct cni_net *n, const char *type, struct err **err)
{
	char *path = find_exec(n->plugin_dir, type);
	if (!path)
		return err_set(err, ERR_UNSUPPORTED,
			       "CNI plugin '%s' is not an executable in %s (install the Debian package "
			       "containernetworking-plugins)",
			       type, n->plugin_dir);
	free(path);
	return 0;
}

int cni_host_prepare(const struct cni_net *net, struct err **err)
{
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(net->conflist, "plugins"), i, p) {
		if (need_plugin(net, json_string_value(json_object_get(p, "type")), err) < 0)
			return -1;
		json_t *ipam = json_object_get(p, "ipam");
		if (ipam && need_plugin(net, json_string_value(json_object_get(ipam, "type")), err) < 0)
			return -1;
	}
	char *ipt = find_exec(net->exec_path, "iptables");
	if (!ipt)
		return err_set(
			err, ERR_UNSUPPORTED,
			"iptables is not on the plugins' PATH %s (install the Debian package iptables)",
			net->exec_path);
	free(ipt);
	if (ensure_ip_forward(err) < 0)
		return -1;
	return bridge_rules_install(net, err);
}

void cni_host_release(const struct cni_net *net)
{
	bridge_rules_remove(net);
}

int cni_net_gateway(const struct cni_net *net, char out[INET_ADDRSTRLEN])
{
	int family;
	unsigned char a[16];
	unsigned prefix;
	if (parse_cidr(net->subnet, &family, a, &prefix) < 0 || family != AF_INET)
		return -1;
	/* host-local's default gateway: the first address after the network's */
	a[3]++;
	return inet_ntop(AF_INET, a, out, INET_ADDRSTRLEN) ? 0 : -1;
}

/* ---- results and errors ---- */

json_t *cni_result_parse(const char *text, size_t len, struct err **err)
{
	json_error_t jerr;
	json_t *r = NULL, *ifs, *ips, *v;
	size_t i, nifs = 0;
	if (len > CNI_OUTPUT_MAX) {
		err_set(err, ERR_INTERNAL, "CNI result: %zu bytes is more than %d", len, CNI_OUTPUT_MAX);
		goto fail;
	}
	r = json_loadb(text, len, 0, &jerr);
	if (!r) {
		err_set(err, ERR_INTERNAL, "CNI result is not JSON: %s", jerr.text);
		goto fail;
	}
	if (!json_is_object(r) || !json_is_string(json_object_get(r, "cniVersion"))) {
		err_set(err, ERR_INTERNAL, "CNI result is not an object with a cniVersion");
		goto fail;
	}
	ifs = json_object_get(r, "interfaces");
	if (ifs && !json_is_array(ifs)) {
		err_set(err, ERR_INTERNAL, "CNI result: interfaces is not a list");
		goto fail;
	}
	json_array_foreach (ifs, i, v) {
		json_t *sb = json_object_get(v, "sandbox"), *mac = json_object_get(v, "mac");
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "name")) ||
		    (sb && !json_is_string(sb)) || (mac && !json_is_string(mac))) {
			err_set(err, ERR_INTERNAL, "CNI result: interfaces[%zu] is not {name, mac, sandbox}",
				i);
			goto fail;
		}
	}
	nifs = ifs ? json_array_size(ifs) : 0;
	ips = json_object_get(r, "ips");
	if (ips && !json_is_array(ips)) {
		err_set(err, ERR_INTERNAL, "CNI result: ips is not a list");
		goto fail;
	}
	json_array_foreach (ips, i, v) {
		int fam, gfam;
		unsigned char a[16];
		unsigned prefix;
		json_t *gw = json_object_get(v, "gateway"), *idx = json_object_get(v, "interface");
		if (!json_is_object(v) ||
		    parse_cidr(json_string_value(json_object_get(v, "address")), &fam, a, &prefix) < 0) {
			err_set(err, ERR_INTERNAL, "CNI result: ips[%zu].address is not an address/prefix",
				i);
			goto fail;
		}
		if (gw && (parse_addr(json_string_value(gw), &gfam) < 0 || gfam != fam)) {
			err_set(err, ERR_INTERNAL,
				"CNI result: ips[%zu].gateway is not an address of its family", i);
			goto fail;
		}
		if (idx && (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
			    (size_t)json_integer_value(idx) >= nifs)) {
			err_set(err, ERR_INTERNAL,
				"CNI result: ips[%zu].interface is not an index into interfaces", i);
			goto fail;
		}
	}
	v = json_object_get(r, "routes");
	if (v && !json_is_array(v)) {
		err_set(err, ERR_INTERNAL, "CNI result: routes is not a list");
		goto fail;
	}
	v = json_object_get(r, "dns");
	if (v && !json_is_object(v)) {
		err_set(err, ERR_INTERNAL, "CNI result: dns is not an object");
		goto fail;
	}
	return r;
fail:
	json_decref(r);
	return NULL;
}

int cni_result_ip(json_t *result, const char *ifname, int family, struct cni_ip *out, struct err **err)
{
	json_t *ifs = json_object_get(result, "interfaces"), *v;
	size_t i;
	json_array_foreach (json_object_get(result, "ips"), i, v) {
		int fam, gfam;
		unsigned char a[16];
		unsigned prefix;
		if (parse_cidr(json_string_value(json_object_get(v, "address")), &fam, a, &prefix) < 0)
			continue;
		if (family != AF_UNSPEC && fam != family)
			continue;
		json_t *idx = json_object_get(v, "interface");
		if (ifname && json_is_integer(idx)) {
			json_t *itf = json_array_get(ifs, (size_t)json_integer_value(idx));
			const char *name = json_string_value(json_object_get(itf, "name"));
			const char *sandbox = json_string_value(json_object_get(itf, "sandbox"));
			if (!name || strcmp(name, ifname) != 0 || !sandbox || !*sandbox)
				continue;
		}
		memset(out, 0, sizeof(*out));
		out->family = fam;
		out->prefix = prefix;
		inet_ntop(fam, a, out->addr, sizeof(out->addr));
		const char *gw = json_string_value(json_object_get(v, "gateway"));
		if (gw && parse_addr(gw, &gfam) == 0 && gfam == fam) {
			unsigned char g[16];
			inet_pton(fam, gw, g);
			inet_ntop(fam, g, out->gateway, sizeof(out->gateway));
		}
		return 0;
	}
	return err_set(err, ERR_NOT_FOUND, "the CNI result has no %s address%s%s",
		       family == AF_INET    ? "IPv4"
		       : family == AF_INET6 ? "IPv6"
					    : "IP",
		       ifname ? " on " : "", ifname ? ifname : "");
}

/* CNI spec, "Well-known error codes". */
static const char *code_name(long long code)
{
	switch (code) {
	case 1: return "incompatible CNI version";
	case 2: return "unsupported field in network configuration";
	case 3: return "container unknown or does not exist";
	case 4: return "invalid necessary environment variables";
	case 5: return "I/O failure";
	case 6: return "failed to decode content";
	case 7: return "invalid network config";
	case 11: return "try again later";
	}
	return code >= 100 ? "plugin-specific error" : "unknown error";
}

/* A bounded, single-line copy of text for a message: control bytes become spaces, trailing blanks
 * go, and what is longer than ERR_QUOTE_MAX is cut with "...". */
static char *quote(const char *text, size_t len)
{
	struct buf b;
	buf_init(&b, 0);
	size_t n = len > ERR_QUOTE_MAX ? ERR_QUOTE_MAX : len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		buf_addc(&b, (char)(c < 0x20 || c == 0x7f ? ' ' : c));
	}
	while (b.len > 0 && b.p[b.len - 1] == ' ')
		b.p[--b.len] = '\0';
	if (len > n)
		buf_adds(&b, "...");
	return buf_detach(&b, NULL);
}

int cni_exec_error(const char *plugin, const char *command, int status, const char *out, size_t outlen,
		   const char *errtext, struct err **err)
{
	json_t *j = NULL;
	char *msg = NULL, *details = NULL, *why = NULL;
	enum err_kind kind = ERR_INTERNAL;
	if (out && outlen > 0 && outlen <= CNI_OUTPUT_MAX)
		j = json_loadb(out, outlen, 0, NULL);
	json_t *code = json_object_get(j, "code");
	json_t *m = json_object_get(j, "msg");
	if (json_is_integer(code)) {
		long long c = json_integer_value(code);
		const char *ms = json_string_value(m), *ds = json_string_value(json_object_get(j, "details"));
		msg = ms && *ms ? quote(ms, strlen(ms)) : xstrdup("failed");
		if (ds && *ds)
			details = quote(ds, strlen(ds));
		why = xasprintf("%s%s%s (code %lld: %s)", msg, details ? ": " : "", details ? details : "", c,
				code_name(c));
		if (c == 11)
			kind = ERR_UNAVAILABLE;
	} else {
		const char *text = out && outlen > 0 ? out : errtext;
		size_t tlen = out && outlen > 0 ? outlen : errtext ? strlen(errtext) : 0;
		char *q = text ? quote(text, tlen) : NULL;
		char how[64] = "";
		if (status == -1)
			snprintf(how, sizeof(how), "killed after the timeout");
		else if (WIFEXITED(status))
			snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
		why = q && *q ? xasprintf("%s (%s)", q, how) : xstrdup(how);
		free(q);
	}
	err_set(err, kind, "CNI plugin %s %s: %s", plugin, command, why);
	json_decref(j);
	free(msg);
	free(details);
	free(why);
	return -1;
}

/* ---- running a plugin ---- */

/* Moves fd above the standard descriptors (a process started with one of them closed would
 * otherwise get a pipe there, which the child's dup2 onto 0..2 could clobber). Close-on-exec. */
static int fd_high(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return n;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct run {
	struct buf out, errt;
	bool out_overflow;
	int status; /* wait status, or -1 when killed after the timeout */
};

/* Reads what fd has into b (capped; past the cap it is dropped and *overflow set). Returns 1 at
 * end of file or error, else 0. */
static int drain(int fd, struct buf *b, bool *overflow)
{
	char chunk[16384];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN ? 0 : 1;
		if (r == 0)
			return 1;
		if (buf_add(b, chunk, (size_t)r) < 0 && overflow)
			*overflow = true;
	}
}

/* Runs path with argv and envp, feeding input to its stdin (a socket, so that a plugin that exits
 * without reading cannot raise SIGPIPE in the agent) and capturing its stdout and stderr, in a
 * process group of its own so that a timeout kills what it started too (iptables). Fills r.
 * Returns 0 once the process has been reaped, or -1 with *err when it could not be run. */
static int spawn_capture(const char *path, char *const argv[], char *const envp[], const char *input,
			 unsigned timeout_ms, struct run *r, struct err **err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	int rc = -1, e;
	pid_t pid = -1;
	bool fa_ok = false, attr_ok = false, failed = false;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	size_t inlen = strlen(input), sent = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(er, O_CLOEXEC) < 0) {
		err_sys(err, errno, "run %s: pipe", path);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		in[i] = fd_high(in[i]);
		out[i] = fd_high(out[i]);
		er[i] = fd_high(er[i]);
		if (in[i] < 0 || out[i] < 0 || er[i] < 0) {
			err_sys(err, errno, "run %s: fcntl", path);
			goto out;
		}
	}
	if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
		err_sys(err, e, "run %s", path);
		goto out;
	}
	fa_ok = true;
	if ((e = posix_spawn_file_actions_adddup2(&fa, in[1], 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, er[1], 2)) != 0 ||
	    (e = posix_spawnattr_init(&attr)) != 0) {
		err_sys(err, e, "run %s", path);
		goto out;
	}
	attr_ok = true;
	/* The plugin starts with no signal blocked (libuv's pool threads may block some) and the
	 * default action for those the agent handles or ignores. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&dfl, sigs[i]);
	if ((e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &dfl)) != 0 ||
	    (e = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
							 POSIX_SPAWN_SETPGROUP)) != 0) {
		err_sys(err, e, "run %s", path);
		goto out;
	}
	if ((e = posix_spawn(&pid, path, &fa, &attr, argv, envp)) != 0) {
		pid = -1;
		err_sys(err, e, "run %s", path);
		goto out;
	}
	close_fd(&in[1]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	fcntl(in[0], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(er[0], F_SETFL, O_NONBLOCK);
	if (inlen == 0)
		close_fd(&in[0]);

	long long deadline = now_ms() + timeout_ms;
	r->status = 0;
	while (out[0] >= 0 || er[0] >= 0) {
		struct pollfd pf[3];
		int np = 0, iin = -1, iout = -1, ierr = -1;
		if (in[0] >= 0) {
			iin = np;
			pf[np++] = (struct pollfd){.fd = in[0], .events = POLLOUT};
		}
		if (out[0] >= 0) {
			iout = np;
			pf[np++] = (struct pollfd){.fd = out[0], .events = POLLIN};
		}
		if (er[0] >= 0) {
			ierr = np;
			pf[np++] = (struct pollfd){.fd = er[0], .events = POLLIN};
		}
		long long left = deadline - now_ms();
		if (left <= 0) {
			/* The plugin leads its group (setpgroup 0): kill what it started with it. */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			r->status = -1;
			break;
		}
		int n = poll(pf, (nfds_t)np, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(err, errno, "run %s: poll", path);
			failed = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			r->status = -1;
			break;
		}
		if (iin >= 0 && pf[iin].revents) {
			ssize_t w = send(in[0], input + sent, inlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
			/* A plugin may exit without reading all of its input; that is its business. */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == inlen)
				close_fd(&in[0]);
		}
		if (iout >= 0 && pf[iout].revents && drain(out[0], &r->out, &r->out_overflow))
			close_fd(&out[0]);
		if (ierr >= 0 && pf[ierr].revents && drain(er[0], &r->errt, NULL))
			close_fd(&er[0]);
	}
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_sys(err, errno, "run %s: waitpid", path);
			goto out;
		}
		if (r->status != -1)
			r->status = st;
		break;
	}
	rc = failed ? -1 : 0;
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&er[i]);
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	return rc;
}

/* Runs one plugin of the list for command with conf on stdin. On success returns 0 with its stdout
 * in *out (a heap string the caller frees) and its length in *outlen; else -1 with *err. */
static int plugin_run(const struct cni_net *n, const char *type, const char *command,
		      const struct cni_attach *a, const char *ifname, json_t *conf, char **out,
		      size_t *outlen, struct err **err)
{
	struct run r = {.status = 0};
	char *path = NULL, *input = NULL;
	char *envp[PLUGIN_ENVP_SIZE] = {0};
	int rc = -1;
	buf_init(&r.out, CNI_OUTPUT_MAX);
	buf_init(&r.errt, CNI_STDERR_MAX);
	path = find_exec(n->plugin_dir, type);
	if (!path) {
		err_set(err, ERR_UNSUPPORTED,
			"CNI plugin '%s' is not an executable in %s (install the Debian package "
			"containernetworking-plugins)",
			type, n->plugin_dir);
		goto out;
	}
	input = jv_dump(conf);
	/* CNI spec, "Parameters": the protocol is the environment and stdin; argv is just the path. */
	envp[0] = xasprintf("CNI_COMMAND=%s", command);
	envp[1] = xasprintf("CNI_CONTAINERID=%s", a->container_id);
	envp[2] = xasprintf("CNI_NETNS=%s", a->netns);
	envp[3] = xasprintf("CNI_IFNAME=%s", ifname);
	envp[4] = xasprintf("CNI_ARGS=");
	envp[5] = xasprintf("CNI_PATH=%s", n->plugin_dir);
	envp[6] = xasprintf("PATH=%s", n->exec_path);
	char *argv[PLUGIN_ARGV_MAX] = {path, NULL};
	if (spawn_capture(path, argv, envp, input, n->timeout_ms, &r, err) < 0) {
		err_prefix(err, "CNI plugin %s %s", type, command);
		goto out;
	}
	if (r.status == -1 || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
		if (r.status == -1)
			err_set(err, ERR_INTERNAL, "CNI plugin %s %s: killed after %u ms", type, command,
				n->timeout_ms);
		else
			cni_exec_error(type, command, r.status, r.out.p, r.out.len, r.errt.p, err);
		goto out;
	}
	if (r.out_overflow) {
		err_set(err, ERR_INTERNAL, "CNI plugin %s %s: its output exceeds %d bytes", type, command,
			CNI_OUTPUT_MAX);
		goto out;
	}
	*outlen = r.out.len;
	*out = buf_detach(&r.out, NULL);
	rc = 0;
out:
	for (size_t i = 0; i < PLUGIN_ENVP_SIZE; i++)
		free(envp[i]);
	free(path);
	free(input);
	buf_release(&r.out);
	buf_release(&r.errt);
	return rc;
}

/* ---- the network's own rules ---- */

/* What the bridge plugin's ipMasq and the firewall plugin would add for every container, added
 * once for the whole network instead (each plugin run costs several iptables runs, 1-2 ms each on
 * a quiet host and tens of ms while something else changes the ruleset): in the filter table,
 * accept what the containers send and what comes back to them or was forwarded to them by a port
 * mapping (DNAT), which matters where FORWARD's policy is DROP (as docker sets it); in the nat
 * table, masquerade what leaves the subnet through another interface. Both live in a chain named
 * after the bridge (GANTRY-<bridge>, in each table) that FORWARD and POSTROUTING jump to, so that
 * making them again replaces them and removing them is exact. */

#define RULES_CHAIN_FMT "GANTRY-%s"

/* Runs the iptables program name (iptables, iptables-restore) on the plugins' PATH with argv[1..]
 * = args and input on stdin. Returns its exit code (0 = success), or -1 with *err when it could
 * not be run. */
static int iptables_run(const struct cni_net *n, const char *name, const char *const *args, const char *input,
			struct err **err)
{
	char *path = find_exec(n->exec_path, name);
	if (!path)
		return err_set(err, ERR_UNSUPPORTED,
			       "%s is not on the PATH %s (install the Debian package "
			       "iptables)",
			       name, n->exec_path);
	char *argv[16] = {path};
	size_t k = 1;
	for (; args[k - 1] && k < 15; k++)
		argv[k] = (char *)args[k - 1];
	argv[k] = NULL;
	char *envp[] = {xasprintf("PATH=%s", n->exec_path), NULL};
	struct run r = {.status = 0};
	buf_init(&r.out, CNI_STDERR_MAX);
	buf_init(&r.errt, CNI_STDERR_MAX);
	int rc = spawn_capture(path, argv, envp, input ? input : "", n->timeout_ms, &r, err);
	if (rc == 0) {
		rc = r.status != -1 && WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 1;
		if (rc != 0)
			err_set(err, ERR_INTERNAL, "%s %s: %.*s", name, args[0] ? args[0] : "",
				(int)(r.errt.len < ERR_QUOTE_MAX ? r.errt.len : ERR_QUOTE_MAX),
				r.errt.p ? r.errt.p : "");
	}
	buf_release(&r.out);
	buf_release(&r.errt);
	free(envp[0]);
	free(path);
	return rc;
}

/* Makes sure table's builtin chain from jumps to chain (inserted first, once). */
static int ensure_jump(const struct cni_net *n, const char *table, const char *from, const char *chain,
		       struct err **err)
{
	const char *check[] = {"-w", "-t", table, "-C", from, "-j", chain, NULL};
	struct err *ignored = NULL;
	int rc = iptables_run(n, "iptables", check, NULL, &ignored);
	err_free(ignored);
	if (rc == 0)
		return 0;
	const char *insert[] = {"-w", "-t", table, "-I", from, "1", "-j", chain, NULL};
	return iptables_run(n, "iptables", insert, NULL, err) == 0 ? 0 : -1;
}

static int bridge_rules_install(const struct cni_net *n, struct err **err)
{
	char *chain = xasprintf(RULES_CHAIN_FMT, n->bridge);
	/* Declaring a chain in a --noflush restore creates it or empties it: one transaction. */
	char *rules = xasprintf("*filter\n"
				":%1$s - [0:0]\n"
				"-A %1$s -i %2$s -j ACCEPT\n"
				"-A %1$s -o %2$s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
				"-A %1$s -o %2$s -m conntrack --ctstate DNAT -j ACCEPT\n"
				"COMMIT\n"
				"*nat\n"
				":%1$s - [0:0]\n"
				"-A %1$s -s %3$s ! -o %2$s -j MASQUERADE\n"
				"COMMIT\n",
				chain, n->bridge, n->subnet);
	const char *restore[] = {"-w", "--noflush", NULL};
	int rc = -1;
	if (iptables_run(n, "iptables-restore", restore, rules, err) != 0) {
		err_prefix(err, "network %s: its iptables rules", n->network);
		goto out;
	}
	if (ensure_jump(n, "filter", "FORWARD", chain, err) < 0 ||
	    ensure_jump(n, "nat", "POSTROUTING", chain, err) < 0) {
		err_prefix(err, "network %s: its iptables rules", n->network);
		goto out;
	}
	rc = 0;
out:
	free(rules);
	free(chain);
	return rc;
}

static void bridge_rules_remove(const struct cni_net *n)
{
	char *chain = xasprintf(RULES_CHAIN_FMT, n->bridge);
	const char *tables[][2] = {{"filter", "FORWARD"}, {"nat", "POSTROUTING"}};
	for (size_t i = 0; i < 2; i++) {
		const char *del[] = {"-w", "-t", tables[i][0], "-D", tables[i][1], "-j", chain, NULL};
		const char *flush[] = {"-w", "-t", tables[i][0], "-F", chain, NULL};
		const char *drop[] = {"-w", "-t", tables[i][0], "-X", chain, NULL};
		const char *const *steps[] = {del, flush, drop};
		for (size_t k = 0; k < 3; k++) {
			struct err *e = NULL;
			iptables_run(n, "iptables", steps[k], NULL, &e); /* what is not there is fine */
			err_free(e);
		}
	}
	free(chain);
}

/* ---- ADD, DEL, CHECK ---- */

static json_t *port_mappings(const struct cni_attach *a, struct err **err)
{
	json_t *arr = must(json_array());
	if (a->nports > CNI_PORTS_MAX) {
		err_set(err, ERR_INVALID_PARAM, "%zu port mappings is more than %d", a->nports,
			CNI_PORTS_MAX);
		goto fail;
	}
	for (size_t i = 0; i < a->nports; i++) {
		const struct cni_port *p = &a->ports[i];
		const char *proto = p->protocol ? p->protocol : "tcp";
		int fam;
		if (p->host_port < 1 || p->host_port > 65535 || p->container_port < 1 ||
		    p->container_port > 65535) {
			err_set(err, ERR_INVALID_PARAM, "port mapping %u:%u: ports are 1 to 65535",
				p->host_port, p->container_port);
			goto fail;
		}
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) {
			err_set(err, ERR_INVALID_PARAM, "port mapping %u:%u: protocol '%s' is not tcp or udp",
				p->host_port, p->container_port, proto);
			goto fail;
		}
		json_t *m = must(json_pack("{s:i, s:i, s:s}", "hostPort", (int)p->host_port, "containerPort",
					   (int)p->container_port, "protocol", proto));
		if (p->host_ip && *p->host_ip) {
			if (parse_addr(p->host_ip, &fam) < 0) {
				json_decref(m);
				err_set(err, ERR_INVALID_PARAM,
					"port mapping %u:%u: host address '%s' is not an IP", p->host_port,
					p->container_port, p->host_ip);
				goto fail;
			}
			jv_set_str(m, "hostIP", p->host_ip);
		}
		json_array_append_new(arr, m);
	}
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

static int check_attach(const struct cni_attach *a, struct err **err)
{
	if (!valid_name(a->container_id))
		return err_set(
			err, ERR_INVALID_PARAM,
			"CNI container id '%s' must be letters, digits, '_', '.' or '-', starting with a "
			"letter or digit",
			a->container_id ? a->container_id : "");
	if (!a->netns || a->netns[0] != '/')
		return err_set(err, ERR_INVALID_PARAM,
			       "container %s: the network namespace must be an absolute path",
			       a->container_id);
	if (a->ifname && !valid_ifname(a->ifname))
		return err_set(err, ERR_INVALID_PARAM, "container %s: '%s' is not an interface name",
			       a->container_id, a->ifname);
	return 0;
}

/* One plugin's configuration per the spec's "Network configuration lists": the list's name and
 * cniVersion, prevResult when there is one, and runtimeConfig with the capabilities the plugin
 * declares that we have values for. New reference. */
static json_t *plugin_conf(const struct cni_net *n, json_t *plugin, json_t *prev, json_t *ports)
{
	json_t *c = must(json_deep_copy(plugin));
	json_object_set_new(c, "cniVersion", json_string(CNI_VERSION));
	json_object_set_new(c, "name", json_string(n->network));
	if (prev)
		json_object_set(c, "prevResult", prev);
	json_t *caps = json_object_get(plugin, "capabilities");
	if (json_is_true(json_object_get(caps, "portMappings")) && json_array_size(ports) > 0)
		json_object_set_new(c, "runtimeConfig", must(json_pack("{s:O}", "portMappings", ports)));
	return c;
}

/* DEL over the whole list in reverse; stops at the first failure (spec: "the runtime MUST stop
 * execution of the list"). */
static int del_list(const struct cni_net *n, const struct cni_attach *a, const char *ifname, json_t *prev,
		    json_t *ports, struct err **err)
{
	json_t *plugins = json_object_get(n->conflist, "plugins");
	for (size_t i = json_array_size(plugins); i-- > 0;) {
		json_t *p = json_array_get(plugins, i);
		json_t *conf = plugin_conf(n, p, prev, ports);
		char *out = NULL;
		size_t outlen = 0;
		int rc = plugin_run(n, json_string_value(json_object_get(p, "type")), "DEL", a, ifname, conf,
				    &out, &outlen, err);
		json_decref(conf);
		free(out);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Spec: after a failed ADD, DEL every plugin of the list, even those not called. The last result we
 * have (prev, may be NULL) names the addresses whose rules the later plugins may have set up. */
static void undo_add(const struct cni_net *net, const struct cni_attach *a, const char *ifname, json_t *prev,
		     json_t *ports)
{
	struct err *e = NULL;
	if (del_list(net, a, ifname, prev, ports, &e) < 0)
		log_warn("cni: container %s: cleaning up after a failed ADD: %s", a->container_id, e->msg);
	err_free(e);
}

json_t *cni_add(const struct cni_net *net, const struct cni_attach *a, struct err **err)
{
	json_t *ports = NULL, *prev = NULL, *p;
	const char *ifname = a->ifname ? a->ifname : CNI_DEFAULT_IFNAME;
	struct cni_ip ip;
	size_t i;
	if (check_attach(a, err) < 0 || !(ports = port_mappings(a, err)))
		goto fail;
	json_array_foreach (json_object_get(net->conflist, "plugins"), i, p) {
		const char *type = json_string_value(json_object_get(p, "type"));
		json_t *conf = plugin_conf(net, p, prev, ports);
		char *out = NULL;
		size_t outlen = 0;
		int rc = plugin_run(net, type, "ADD", a, ifname, conf, &out, &outlen, err);
		json_decref(conf);
		json_t *res = rc == 0 ? cni_result_parse(out, outlen, err) : NULL;
		free(out);
		if (!res) {
			if (rc == 0)
				err_prefix(err, "CNI plugin %s ADD", type);
			goto undo;
		}
		json_decref(prev);
		prev = res;
	}
	if (cni_result_ip(prev, ifname, AF_UNSPEC, &ip, err) < 0) {
		err_prefix(err, "CNI ADD");
		goto undo;
	}
	json_decref(ports);
	return prev;
undo:
	undo_add(net, a, ifname, prev, ports);
fail:
	json_decref(prev);
	json_decref(ports);
	err_prefix(err, "container %s", a->container_id ? a->container_id : "");
	return NULL;
}

int cni_del(const struct cni_net *net, const struct cni_attach *a, json_t *prev_result, struct err **err)
{
	json_t *ports = NULL;
	int rc = -1;
	if (check_attach(a, err) < 0 || !(ports = port_mappings(a, err)))
		goto out;
	rc = del_list(net, a, a->ifname ? a->ifname : CNI_DEFAULT_IFNAME, prev_result, ports, err);
out:
	json_decref(ports);
	if (rc < 0)
		err_prefix(err, "container %s", a->container_id ? a->container_id : "");
	return rc;
}

int cni_check(const struct cni_net *net, const struct cni_attach *a, json_t *prev_result, struct err **err)
{
	json_t *ports = NULL;
	int rc = -1;
	if (!prev_result) {
		err_set(err, ERR_INVALID_PARAM, "CNI CHECK needs the result of ADD");
		goto out;
	}
	if (check_attach(a, err) < 0 || !(ports = port_mappings(a, err)))
		goto out;
	json_t *p;
	size_t i;
	json_array_foreach (json_object_get(net->conflist, "plugins"), i, p) {
		const char *type = json_string_value(json_object_get(p, "type"));
		/* portmap 1.1.1 (Debian 12) checks its chain in ip6tables too, even for a container
		 * without an IPv6 address, and so always fails a CHECK with port mappings. */
		if (strcmp(type, "portmap") == 0)
			continue;
		json_t *conf = plugin_conf(net, p, prev_result, ports);
		char *o = NULL;
		size_t olen = 0;
		int r = plugin_run(net, type, "CHECK", a, a->ifname ? a->ifname : CNI_DEFAULT_IFNAME, conf,
				   &o, &olen, err);
		json_decref(conf);
		free(o);
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(ports);
	if (rc < 0)
		err_prefix(err, "container %s", a->container_id ? a->container_id : "");
	return rc;
}

/* ---- network namespaces ---- */

/* Serializes the mount-point set-up of namespace directories: two threads that both found the
 * directory unmounted would stack two bind mounts. */
static pthread_mutex_t netns_dir_lock = PTHREAD_MUTEX_INITIALIZER;

static int mkdir_p(const char *dir, struct err **err)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = err_sys(err, errno, "mkdir %s", p);
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

/* iproute2's netns_add: make dir a shared mount point, so that namespace mounts made in it
 * propagate between mount namespaces and unmounting one in any of them frees the namespace. */
static int netns_dir_prepare(const char *dir, struct err **err)
{
	int rc = 0;
	bool made = false;
	if (mkdir_p(dir, err) < 0)
		return -1;
	pthread_mutex_lock(&netns_dir_lock);
	while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
		/* EINVAL: dir is not a mount point yet; bind-mount it onto itself, once. */
		if (errno != EINVAL || made) {
			rc = err_sys(err, errno, "make %s a shared mount point", dir);
			break;
		}
		if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0) {
			rc = err_sys(err, errno, "bind-mount %s onto itself", dir);
			break;
		}
		made = true;
	}
	pthread_mutex_unlock(&netns_dir_lock);
	return rc;
}

struct netns_job {
	const char *path;
	int errnum;
	const char *step;
};

static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Runs on a thread of its own, which exits afterwards: unshare(CLONE_NEWNET) changes only the
 * calling thread's namespace, so nothing else in the agent ever sees the new one. */
static void *netns_thread(void *arg)
{
	struct netns_job *j = arg;
	if (unshare(CLONE_NEWNET) < 0) {
		j->errnum = errno;
		j->step = "unshare(CLONE_NEWNET)";
		return NULL;
	}
	/* The bridge plugin configures only the container's interface; crun does not touch a
	 * namespace it joins. Without lo, 127.0.0.1 inside the task would not answer. */
	if (lo_up() < 0) {
		j->errnum = errno;
		j->step = "bring up lo";
		return NULL;
	}
	/* /proc/self would name the thread group leader's namespace, not this thread's. */
	if (mount("/proc/thread-self/ns/net", j->path, "none", MS_BIND, NULL) < 0) {
		j->errnum = errno;
		j->step = "bind-mount /proc/thread-self/ns/net";
	}
	return NULL;
}

int cni_netns_create(const char *dir, const char *name, char **path_out, struct err **err)
{
	char *path = NULL;
	int fd, e;
	pthread_t t;
	struct netns_job job = {0};
	if (!dir || dir[0] != '/')
		return err_set(err, ERR_INVALID_PARAM,
			       "the network namespace directory must be an absolute path");
	if (!valid_name(name))
		return err_set(err, ERR_INVALID_PARAM,
			       "network namespace name '%s' must be letters, digits, '_', '.' or '-'",
			       name ? name : "");
	if (netns_dir_prepare(dir, err) < 0)
		return -1;
	path = xasprintf("%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		err_sys(err, errno, "create network namespace file %s", path);
		goto fail_nofile;
	}
	close(fd);
	job.path = path;
	if ((e = pthread_create(&t, NULL, netns_thread, &job)) != 0) {
		err_sys(err, e, "network namespace %s: start a thread", path);
		goto fail;
	}
	pthread_join(t, NULL);
	if (job.errnum) {
		err_sys(err, job.errnum, "network namespace %s: %s", path, job.step);
		goto fail;
	}
	if (path_out)
		*path_out = path;
	else
		free(path);
	return 0;
fail:
	unlink(path);
fail_nofile:
	free(path);
	return -1;
}

int cni_netns_delete(const char *path, struct err **err)
{
	if (!path || path[0] != '/')
		return err_set(err, ERR_INVALID_PARAM, "the network namespace path must be absolute");
	/* EINVAL: not a mount point (already unmounted, or the bind never happened). */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return err_sys(err, errno, "unmount network namespace %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_sys(err, errno, "remove network namespace file %s", path);
	return 0;
}

/* ---- host ports ---- */

void cni_portset_add(struct cni_portset *s, unsigned port)
{
	if (port < 65536)
		s->bits[port / 64] |= (uint64_t)1 << (port % 64);
}

void cni_portset_del(struct cni_portset *s, unsigned port)
{
	if (port < 65536)
		s->bits[port / 64] &= ~((uint64_t)1 << (port % 64));
}

bool cni_portset_has(const struct cni_portset *s, unsigned port)
{
	return port < 65536 && (s->bits[port / 64] >> (port % 64)) & 1;
}

static int parse_uint(const char **p, unsigned *out)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long v = 0;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -1;
		s++;
	}
	*out = (unsigned)v;
	*p = s;
	return 0;
}

int cni_port_range_parse(const char *text, unsigned *lo, unsigned *hi, struct err **err)
{
	const char *p = text ? text : "";
	unsigned a, b;
	if (parse_uint(&p, &a) < 0 || (*p != ' ' && *p != '\t') || parse_uint(&p, &b) < 0)
		goto bad;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p || a < 1 || a > b)
		goto bad;
	*lo = a;
	*hi = b;
	return 0;
bad:
	return err_set(err, ERR_INTERNAL, "%s: '%.40s' is not 'low high'", PORT_RANGE_PATH, text ? text : "");
}

int cni_port_range(unsigned *lo, unsigned *hi, struct err **err)
{
	char buf[SMALL_FILE_MAX];
	if (read_small(PORT_RANGE_PATH, buf, sizeof(buf)) < 0)
		return err_sys(err, errno, "read %s", PORT_RANGE_PATH);
	return cni_port_range_parse(buf, lo, hi, err);
}

/* 1 when a socket of family and type can bind port on the any-address right now, else 0. An
 * IPv6 socket is v6-only, so that it tests what an IPv4 one does not; a host without IPv6 counts
 * as free there. */
static int bindable(int family, int type, unsigned port)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return family == AF_INET6 ? 1 : 0;
	int rc;
	if (family == AF_INET) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		rc = rc == 0;
	} else {
		int one = 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
		sa.sin6_addr = in6addr_any;
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		rc = rc == 0 || errno != EADDRINUSE;
	}
	close(fd);
	return rc;
}

static bool port_free(unsigned port, unsigned protos)
{
	if ((protos & CNI_PROTO_TCP) &&
	    (!bindable(AF_INET, SOCK_STREAM, port) || !bindable(AF_INET6, SOCK_STREAM, port)))
		return false;
	if ((protos & CNI_PROTO_UDP) &&
	    (!bindable(AF_INET, SOCK_DGRAM, port) || !bindable(AF_INET6, SOCK_DGRAM, port)))
		return false;
	return true;
}

int cni_port_pick(unsigned lo, unsigned hi, unsigned protos, const struct cni_portset *reserved,
		  unsigned *port, struct err **err)
{
	if (lo < 1 || hi > 65535 || lo > hi)
		return err_set(err, ERR_INVALID_PARAM, "host port range %u-%u is not within 1-65535", lo, hi);
	if (!protos || (protos & ~(CNI_PROTO_TCP | CNI_PROTO_UDP)))
		return err_set(err, ERR_INVALID_PARAM, "no protocol to pick a host port for");
	unsigned n = hi - lo + 1, start;
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != (ssize_t)sizeof(start))
		start = (unsigned)now_ms();
	start %= n;
	for (unsigned k = 0; k < n; k++) {
		unsigned p = lo + (start + k) % n;
		if (reserved && cni_portset_has(reserved, p))
			continue;
		if (port_free(p, protos)) {
			*port = p;
			return 0;
		}
	}
	return err_set(err, ERR_LIMIT_EXCEEDED, "no free host port in %u-%u", lo, hi);
}
