/* Container networking for the agent: persistent named network namespaces (what `ip netns add`
 * makes), the CNI plugins that put a namespace on the gantry bridge (bridge + host-local + portmap,
 * and firewall on request, run per the CNI spec 1.0.0 with a configuration list generated here),
 * dynamic host ports from the ephemeral range, and the host settings all of that needs.
 *
 * The functions that run plugins, make namespaces or test ports block (a plugin runs for tens of
 * milliseconds, iptables takes a lock): the agent calls them on the libuv thread pool. None of them
 * changes the calling thread's namespaces, its signal mask or the working directory, and a struct
 * cni_net is read-only once made, so they may run on several threads at once (a cni_portset is the
 * caller's to guard).
 *
 * What a bridge-mode task gets: a network namespace of its own (cni_netns_create), `lo` up inside it,
 * a veth pair whose host end is on the bridge (CNI_DEFAULT_BRIDGE) and whose other end is CNI_IFNAME
 * in the namespace, an address leased by host-local from the subnet (leases kept under the agent's
 * own state directory), the bridge's address as the default gateway, and for each port mapping
 * DNAT rules that make hostPort reach containerPort
 * from other hosts, from the host's own addresses and from 127.0.0.1 (portmap's "snat" sets
 * route_localnet on the bridge and masquerades connections from localhost, so `curl
 * 127.0.0.1:PORT` on the host works). DEL, given the same attachment and the ADD's result, removes
 * all of it: the veth, the lease and the port-forwarding chains. cni_netns_delete() then removes
 * the namespace. What is the network's, not a task's, is made once by cni_host_prepare(): a chain
 * GANTRY-<bridge> in the filter table (jumped to from FORWARD: accepts what the containers send,
 * the answers and port-mapped connections to them) and one in the nat table (from POSTROUTING:
 * masquerades what leaves the subnet by another interface) -- what the bridge plugin's ipMasq and
 * the firewall plugin would add per container, at a fraction of the iptables runs. It stays with
 * the bridge, portmap's shared chains (CNI-HOSTPORT-*) and host-local's lock and last-reserved
 * files until cni_host_release().
 *
 * Order that keeps nothing behind: cni_netns_create, cni_add, (containers run), cni_del,
 * cni_netns_delete. DEL must run while the namespace still exists: the bridge plugin of
 * containernetworking-plugins 1.1.1 finds the addresses whose masquerade rules it removes by looking
 * at the interface inside the namespace.
 *
 * Runtime needs (Debian packages): containernetworking-plugins (the plugins), iptables (called by
 * the plugins and for the network's own chains; iptables-nft on Debian 12). br_netfilter is not needed. */
#ifndef GANTRY_CNI_H
#define GANTRY_CNI_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CNI_VERSION	       "1.0.0"		 /* the spec version of the configurations we write */
#define CNI_DEFAULT_PLUGIN_DIR "/usr/lib/cni"	 /* where Debian installs the plugins */
#define CNI_DEFAULT_NETWORK    "gantry"		 /* the network's name (host-local's lease directory) */
#define CNI_DEFAULT_BRIDGE     "gantry0"	 /* the host bridge */
#define CNI_DEFAULT_SUBNET     "172.31.200.0/22" /* clear of podman (10.88/16) and docker (172.17/16) */
#define CNI_DEFAULT_IFNAME     "eth0"		 /* the interface in the container's namespace */
/* PATH for the plugins, which run iptables; the agent's own PATH may lack the sbin directories. */
#define CNI_DEFAULT_EXEC_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CNI_TIMEOUT_MS_DEFAULT 60000	  /* one plugin run; then it is killed */
#define CNI_OUTPUT_MAX	       (1 << 20)  /* bytes of a plugin's stdout read (its result or error) */
#define CNI_STDERR_MAX	       (16 << 10) /* bytes of its stderr kept for an error message */
#define CNI_NAME_MAX	       128	  /* a network name, container id or namespace name */
#define CNI_IFNAME_MAX	       15	  /* IFNAMSIZ - 1 */
#define CNI_PORTS_MAX	       1000	  /* port mappings of one attachment */

/* What the agent configures; everything is copied by cni_net_new(). */
struct cni_conf {
	const char *plugin_dir; /* CNI_PATH: ':'-separated directories; NULL = CNI_DEFAULT_PLUGIN_DIR */
	const char *network;	/* NULL = CNI_DEFAULT_NETWORK */
	const char *bridge;	/* NULL = CNI_DEFAULT_BRIDGE */
	const char *subnet;	/* an IPv4 CIDR with at least 4 addresses; NULL = CNI_DEFAULT_SUBNET */
	const char *ipam_dir;	/* host-local's dataDir, e.g. <state dir>/cni/ipam (required) */
	const char *exec_path;	/* PATH the plugins run with; NULL = CNI_DEFAULT_EXEC_PATH */
	unsigned timeout_ms;	/* per plugin run; 0 = CNI_TIMEOUT_MS_DEFAULT */
	bool firewall;		/* add the firewall plugin (per-container FORWARD rules); off by default:
				 * the network's own rules (cni_host_prepare) accept the same traffic */
};

/* A configured network: the configuration list and how to run its plugins. Immutable. */
struct cni_net;

/* Validates conf and generates the configuration list. Returns a new network (cni_net_free() it),
 * or NULL with *err (ERR_INVALID_PARAM naming the bad member). Touches nothing on the host. */
struct cni_net *cni_net_new(const struct cni_conf *conf, struct err **err);
/* Frees a network; accepts NULL. */
void cni_net_free(struct cni_net *net);
/* The generated configuration list ({"cniVersion","name","plugins":[...]}). Borrowed. */
json_t *cni_net_conflist(const struct cni_net *net);

/* Checks and fixes what the host needs before the first cni_add(): every plugin of the list is an
 * executable in the plugin directory and iptables is on the exec path (else ERR_UNSUPPORTED naming
 * the Debian package to install), and net.ipv4.ip_forward is 1 (set, with a log line, when it was
 * 0; ERR_SYS when it cannot be), and makes (or makes again) the network's own iptables chains (see
 * the top of this file; ERR_INTERNAL with iptables' message when it refuses). Returns 0 or -1. */
int cni_host_prepare(const struct cni_net *net, struct err **err);
/* Removes the network's own chains and the jumps to them; what is already gone is fine. For when
 * no container of the network is left (masquerading and forwarding stop with them). */
void cni_host_release(const struct cni_net *net);
/* The bridge's address, which host-local gives containers as their gateway: the subnet's first
 * address ("172.31.200.1"); known before any ADD. Returns 0, or -1 (not an IPv4 subnet). */
int cni_net_gateway(const struct cni_net *net, char out[INET_ADDRSTRLEN]);

/* One port mapping (ECS portMappings with the host port already chosen). */
struct cni_port {
	unsigned host_port;	 /* 1..65535 */
	unsigned container_port; /* 1..65535 */
	const char *protocol;	 /* "tcp" or "udp"; NULL = "tcp" */
	const char *host_ip;	 /* only connections to this host address are forwarded; NULL = any */
};

/* A namespace's attachment to the network. Borrowed for the call. */
struct cni_attach {
	const char *container_id; /* CNI_CONTAINERID: letters, digits, '_', '.', '-', starting with a
				   * letter or digit (a task id) */
	const char *netns;	  /* CNI_NETNS: absolute path of the namespace file */
	const char *ifname;	  /* CNI_IFNAME; NULL = CNI_DEFAULT_IFNAME */
	const struct cni_port *ports;
	size_t nports;
};

/* ADD: runs the plugins in order, each with the previous one's result, and returns the last result
 * (a new reference; validated as by cni_result_parse). The agent keeps it (and the attachment) to
 * pass to cni_del() and cni_check(). When a plugin fails, DEL runs for every plugin (per the spec,
 * with the last result obtained) so that a failed ADD leaves nothing behind, and NULL is returned
 * with *err naming the plugin and carrying its CNI error (see cni_exec_error). */
json_t *cni_add(const struct cni_net *net, const struct cni_attach *a, struct err **err);
/* DEL: runs the plugins in reverse order with prev_result (the ADD's result; NULL when the agent
 * has none, e.g. it stopped between ADD and saving the result) and the same port mappings.
 * Deleting what is already gone succeeds, so DEL may be repeated. Stops at the first failing plugin,
 * as the spec asks, and returns -1 with *err; else 0. */
int cni_del(const struct cni_net *net, const struct cni_attach *a, json_t *prev_result, struct err **err);
/* CHECK: asks the plugins whether the attachment is still as ADD left it (bridge: the veth and the
 * address; host-local: the lease; firewall: its rules). portmap is left out: the 1.1.1 that Debian
 * 12 ships looks for its chain in ip6tables too and fails every IPv4-only container. 0, or -1 with
 * *err from the first plugin that says no. */
int cni_check(const struct cni_net *net, const struct cni_attach *a, json_t *prev_result, struct err **err);

/* Parses a plugin's result (at most CNI_OUTPUT_MAX bytes): an object with a cniVersion string, an
 * optional interfaces array of {name, mac, sandbox}, an ips array whose address is a CIDR, gateway
 * (optional) an address of the same family and interface (optional) an index into interfaces, and
 * optional routes and dns. Returns a new reference, or NULL with *err (ERR_INTERNAL: the plugin
 * answered something that is not a result). */
json_t *cni_result_parse(const char *text, size_t len, struct err **err);

/* One address from a result. */
struct cni_ip {
	int family;			/* AF_INET or AF_INET6 */
	char addr[INET6_ADDRSTRLEN];	/* "172.31.200.5" */
	unsigned prefix;		/* 22 */
	char gateway[INET6_ADDRSTRLEN]; /* "172.31.200.1", or "" when the result gives none */
};

/* The container's address of the given family (AF_INET, AF_INET6 or AF_UNSPEC = the first) from
 * a result: the first entry of `ips` on the sandbox interface named ifname (NULL = any interface;
 * an entry without an interface index matches any name). This is what links resolve to and what
 * awsvpc reports on the task's attachment. Returns 0, or -1 with *err (ERR_NOT_FOUND when there is
 * no such address). */
int cni_result_ip(json_t *result, const char *ifname, int family, struct cni_ip *out, struct err **err);

/* Turns a failed plugin run into *err and returns -1. plugin and command name it ("portmap",
 * "ADD"); status is the wait status (or -1 when it was killed after the timeout); out/outlen is its
 * stdout, which per the spec carries {"cniVersion","code","msg","details"}; errtext (may be NULL) is
 * its stderr, used when stdout has no error. Code 11 ("try again later") is ERR_UNAVAILABLE, the
 * others ERR_INTERNAL. The message reads "CNI plugin portmap ADD: <msg>: <details> (code 7: invalid
 * network config)". */
int cni_exec_error(const char *plugin, const char *command, int status, const char *out, size_t outlen,
		   const char *errtext, struct err **err);

/* Creates the persistent network namespace dir/name as `ip netns add` does: dir is created if
 * missing and made a shared mount point (bind-mounted onto itself first when it is not one), so that
 * the namespace mounts in it propagate and unmount cleanly; the file dir/name is created and the
 * namespace of a short-lived thread that unshared CLONE_NEWNET and brought `lo` up is bind-mounted
 * onto it. The calling thread's namespace never changes. name is a single path component of
 * letters, digits, '_', '.', '-'. *path_out (may be NULL) gets the new file's path, which the
 * caller frees. Returns 0, or -1 with *err (ERR_SYS EEXIST when dir/name exists: delete it first).
 * Needs CAP_SYS_ADMIN. */
int cni_netns_create(const char *dir, const char *name, char **path_out, struct err **err);
/* Removes a namespace made by cni_netns_create: detaches its mount (the namespace itself lives on
 * while a process is in it or holds it open) and unlinks the file. A path that is not mounted or
 * does not exist is not an error. Returns 0, or -1 with *err. */
int cni_netns_delete(const char *path, struct err **err);

/* A set of host ports (bit n = port n), e.g. those the agent has given out and not yet released. */
struct cni_portset {
	uint64_t bits[65536 / 64];
};

/* Adds, removes and tests a port in a set; ports above 65535 are ignored (never members). */
void cni_portset_add(struct cni_portset *s, unsigned port);
void cni_portset_del(struct cni_portset *s, unsigned port);
bool cni_portset_has(const struct cni_portset *s, unsigned port);

#define CNI_PROTO_TCP 1u
#define CNI_PROTO_UDP 2u

/* The host's ephemeral port range, from /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999").
 * Returns 0, or -1 with *err. */
int cni_port_range(unsigned *lo, unsigned *hi, struct err **err);
/* Parses the text of ip_local_port_range. Returns 0, or -1 with *err (ERR_INTERNAL). */
int cni_port_range_parse(const char *text, unsigned *lo, unsigned *hi, struct err **err);
/* Chooses a dynamic host port in [lo, hi] that is not in reserved (may be NULL) and that can be
 * bound right now on every address, IPv4 and IPv6, for each protocol in protos (CNI_PROTO_TCP |
 * CNI_PROTO_UDP). The search starts at a random port so that a port just released is not handed
 * out again at once. The port is free only at the time of the test: the caller adds it to its
 * reserved set before picking the next one. Returns 0 with *port set, or -1 with *err
 * (ERR_LIMIT_EXCEEDED when every port is taken, ERR_INVALID_PARAM for a bad range). */
int cni_port_pick(unsigned lo, unsigned hi, unsigned protos, const struct cni_portset *reserved,
		  unsigned *port, struct err **err);

#endif
