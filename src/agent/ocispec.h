/* The OCI runtime spec (config.json) that crun runs one container of a task with, built from the
 * container definition, the task's override for it, the image's config and what the agent has
 * prepared (rootfs, cgroup, namespaces, volumes, /etc files). Building it is a pure function of its
 * inputs but for two reads the inputs cannot carry: the image's etc/passwd and etc/group (to resolve
 * `user`), read inside the rootfs without following links out of it, and stat() of the host devices
 * that linuxParameters.devices names. Nothing is written: the /etc/hosts and /etc/resolv.conf texts
 * come from ocispec_hosts_file() and ocispec_resolv_conf(); the agent writes them to files of its own
 * and passes their paths in, and ocispec_build() bind-mounts them.
 *
 * What a container definition becomes (docker's behaviour, which ECS users know, unless noted):
 * - args: entryPoint (absent: the image's Entrypoint) followed by command (the override's, else the
 *   definition's; when neither and no entryPoint is given, the image's Cmd). An entryPoint in the
 *   definition drops the image's Cmd, as `docker run --entrypoint` does. No args at all is an error.
 *   With linuxParameters.initProcessEnabled the agent's init binary (tini, catatonit: anything that
 *   takes `init -- prog args`) is bind-mounted read-only at OCISPEC_INIT_DEST and runs as PID 1.
 * - env: PATH (docker's default), HOSTNAME, then the image's Env, the definition's environment, the
 *   override's environment and the agent's injected variables; a later value replaces an earlier one
 *   in its first position. HOME comes from the user's passwd entry (or "/") when nothing set it.
 * - user: "", "uid", "uid:gid", "name", "name:group", "uid:group", "name:gid"; names are looked up in
 *   the image's etc/passwd and etc/group. Without an explicit group the gid is the passwd entry's
 *   (0 for a uid the file does not know) and the user's supplementary groups come from etc/group.
 * - cwd: workingDirectory, else the image's WorkingDir, else "/"; it must be absolute.
 * - cpu units are cpu shares, raised to 2 and capped at 262144 (what the ECS agent passes docker:
 *   an absent, 0 or 1 cpu gets 2 shares); memory / memoryReservation (MiB) are the cgroup limit and
 *   reservation; linuxParameters.maxSwap adds swap on top of a hard limit (ignored with a warning
 *   without one) and swappiness (default 60) applies with it, on cgroup v1 only.
 * - ulimits become rlimits (-1 = unlimited); RLIMIT_NOFILE defaults to OCISPEC_NOFILE_DEFAULT (what
 *   Fargate gives). A limit above the agent's own hard limit (the agent lacks CAP_SYS_RESOURCE) is
 *   lowered to it with a warning rather than failing the task.
 * - capabilities: podman's default set (OCISPEC_DEFAULT_CAPS), then linuxParameters.capabilities
 *   drop and add as docker applies them: "ALL" in add starts from every capability minus drop, "ALL"
 *   in drop keeps only add; names with or without "CAP_", any case.
 * - security, unless privileged: noNewPrivileges (unlike docker, where it is opt-in: a setuid
 *   program such as su or sudo gains nothing; dockerSecurityOptions "no-new-privileges:false" turns
 *   it off for a container), podman's masked and read-only /proc and /sys paths, a seccomp profile, and a
 *   device cgroup that allows docker's default devices plus linuxParameters.devices. The seccomp
 *   profile is a deny list (default action allow): it refuses with EPERM the system calls that reach
 *   kernel state no namespace isolates or that only an administrator needs (module loading, kexec,
 *   reboot, the keyring, mounting, new namespaces, bpf, perf, ptrace, ...), each group only while the
 *   container lacks the capability that would make it legitimate, and makes clone3 fail with ENOSYS
 *   so that the C library falls back to clone, whose namespace flags are checked. A deny list is
 *   shorter than docker's allow list of ~350 calls and keeps new harmless calls working; the price is
 *   that a call added to the kernel later is allowed until it is listed here.
 * - privileged: every capability the agent has (cap_bounding), no seccomp, no masked paths, every
 *   device allowed, /sys and the cgroup tree writable, new privileges allowed. The host's devices are not
 *   copied into /dev (unlike docker): linuxParameters.devices still names those the container gets.
 * - mounts, in this order: /proc, /dev (tmpfs), /dev/pts, /dev/shm (sharedMemorySize MiB, default
 *   OCISPEC_SHM_DEFAULT_MIB), /dev/mqueue, /sys, /sys/fs/cgroup, the init binary; then, sorted by the
 *   depth of their destination so that a parent is mounted before what is mounted inside it (stable
 *   otherwise), linuxParameters.tmpfs, the agent's volume mounts and /etc/resolv.conf, /etc/hosts,
 *   /etc/hostname (read-only when the root is). A volume or tmpfs on one of those destinations
 *   replaces the default one; two on the same destination are an error.
 * - namespaces: pid, ipc, uts, mount, network and cgroup, each new unless the agent passes a path to
 *   join (a task's shared network namespace) or OCISPEC_NS_HOST to stay in the host's;
 *   disableNetworking always gets a new, empty network namespace.
 * - also: hostname, readonlyRootFilesystem (root.readonly), dockerLabels (annotations),
 *   systemControls (linux.sysctl; net.* refused in the host's network namespace), and in a network
 *   namespace of its own net.ipv4.ping_group_range "0 2147483647" as docker sets it, so that ping
 *   works without CAP_NET_RAW.
 * Not here: what the agent does around the process (stopTimeout, essential, dependsOn, healthCheck,
 * logConfiguration, portMappings, secrets) and the volumes behind mountPoints and volumesFrom, which
 * it resolves into struct ocispec_mount. */
#ifndef GANTRY_OCISPEC_H
#define GANTRY_OCISPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

#include "common/err.h"

#define OCISPEC_OCI_VERSION "1.0.2"
#define OCISPEC_NS_HOST	    "host" /* a namespace "path" meaning: the host's own */
/* Where the init binary is mounted: inside /dev's tmpfs, so that a read-only or foreign rootfs
 * needs no mount point for it. */
#define OCISPEC_INIT_DEST	"/dev/init"
#define OCISPEC_SHM_DEFAULT_MIB 64	  /* docker's /dev/shm */
#define OCISPEC_NOFILE_DEFAULT	65535	  /* RLIMIT_NOFILE soft and hard, as Fargate sets it */
#define OCISPEC_CPU_SHARES_MIN	2	  /* the kernel's minimum */
#define OCISPEC_CPU_SHARES_MAX	262144	  /* and maximum */
#define OCISPEC_SWAPPINESS_DEF	60	  /* ECS: swappiness when maxSwap is set and it is not */
#define OCISPEC_ETC_FILE_MAX	(4 << 20) /* bytes of the image's etc/passwd or etc/group read */
#define OCISPEC_HOSTNAME_MAX	64	  /* HOST_NAME_MAX */
#define OCISPEC_DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OCISPEC_DEFAULT_CAPS                                                                    \
	"CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID " \
	"SYS_CHROOT"
#define OCISPEC_RLIM_UNLIMITED (~0ULL) /* RLIM_INFINITY, as rlimit_max values */

/* A bind mount the agent resolved (a volume of the task, a host path). */
struct ocispec_mount {
	const char *source;	 /* host path */
	const char *destination; /* absolute path in the container */
	bool read_only;
};

/* Everything ocispec_build() reads; all borrowed for the call. */
struct ocispec_in {
	json_t *def;		  /* the containerDefinition, as DescribeTaskDefinition shows it (required) */
	json_t *override;	  /* its containerOverrides entry (command, environment, cpu, memory,
				   * memoryReservation), or NULL */
	json_t *image_config;	  /* the image's OCI config ({"config": {"Env", "Entrypoint", "Cmd", "User",
				   * "WorkingDir"}}), or NULL */
	const char *rootfs;	  /* host path of the container's root filesystem (required) */
	const char *cgroups_path; /* linux.cgroupsPath, e.g. "/gantry/<task-id>/<container>" (required) */
	const char *hostname;	  /* when the definition has none; NULL = the container's name */
	/* Namespaces to join: NULL = a new one, OCISPEC_NS_HOST = the host's, else a path such as
	 * /proc/<pid>/ns/net or a bind-mounted namespace file. */
	const char *netns, *pidns, *ipcns;
	const struct ocispec_mount *mounts; /* volumes, in mountPoints order */
	size_t nmounts;
	/* Host files bind-mounted at /etc/resolv.conf, /etc/hosts, /etc/hostname; NULL = none. */
	const char *resolv_conf, *hosts, *hostname_file;
	const char *const *env; /* "NAME=value" the agent injects (ECS_CONTAINER_METADATA_URI_V4, ...) */
	size_t nenv;
	const char *init_path; /* host path of the init binary for initProcessEnabled; NULL = none (then
				* initProcessEnabled is an error) */
	/* The agent's own hard limits, indexed by RLIMIT_* (RLIM_NLIMITS entries,
	 * OCISPEC_RLIM_UNLIMITED = none), see ocispec_rlimit_max(); NULL = no clamping. */
	const unsigned long long *rlimit_max;
	long long pids_limit; /* linux.resources.pids.limit; 0 = none */
	/* The capabilities the agent can hand on: its own bounding set, bit n = capability n, see
	 * ocispec_cap_bounding(); 0 = every capability this file knows. A container cannot get one
	 * outside it (crun's capset would fail): privileged gets exactly this set, and one that
	 * capabilities.add asks for beyond it is left out with a warning. */
	unsigned long long cap_bounding;
	bool cgroup_v2; /* the container's cgroup is on the unified hierarchy (no swappiness) */
};

/* Builds the config.json of in->def's container. On success returns a new reference and, when
 * warnings_out is not NULL, sets *warnings_out to a new array of strings (possibly empty) saying
 * what was adjusted (a lowered ulimit, an ignored setting). On failure returns NULL with *err naming
 * the container and the member ("container 'app': linuxParameters.capabilities.add: 'FOO' is not a
 * capability"): ERR_CLIENT for what the definition or image asks that cannot be done, ERR_SYS when
 * the image's etc/passwd, etc/group or a device cannot be read, ERR_INTERNAL for missing inputs. */
json_t *ocispec_build(const struct ocispec_in *in, json_t **warnings_out, struct err **err);

/* The container's hostname: the definition's `hostname`, else fallback, else its name. Borrowed
 * from def or fallback; NULL when def has neither a hostname nor a name and fallback is NULL. */
const char *ocispec_hostname(json_t *def, const char *fallback);

/* The text of the container's /etc/hosts: base (the host's /etc/hosts, for the host's network
 * namespace) or else docker's localhost entries, then "ip hostname" (127.0.1.1 when ip is NULL and
 * base is NULL), then the definition's extraHosts. Returns a new string the caller frees, or NULL
 * with *err for an extraHosts entry that is not an IP address and a host name. */
char *ocispec_hosts_file(json_t *def, const char *base, const char *hostname, const char *ip,
			 struct err **err);

/* The text of the container's /etc/resolv.conf, as docker makes it: nameservers from dnsServers or
 * else from host_resolv (the host's resolv.conf text, may be NULL), leaving out loopback ones unless
 * host_netns (they would not answer in another network namespace) and falling back to 8.8.8.8 and
 * 8.8.4.4 when none is left; search domains from dnsSearchDomains or else the host's; the host's
 * options. Returns a new string the caller frees, or NULL with *err for a dnsServers entry that is
 * not an IP address or a search domain with blanks. */
char *ocispec_resolv_conf(json_t *def, const char *host_resolv, bool host_netns, struct err **err);

/* The signal that asks the container to stop: the image's StopSignal ("SIGINT", "INT", "2",
 * "SIGRTMIN+3") or SIGTERM when image_config has none. -1 with *err for one that is not a signal. */
int ocispec_stop_signal(json_t *image_config, struct err **err);

/* This process's capability bounding set (bit n = capability n), for struct ocispec_in.cap_bounding. */
unsigned long long ocispec_cap_bounding(void);

/* Fills out[RLIM_NLIMITS] with this process's hard limits (OCISPEC_RLIM_UNLIMITED where there is
 * none or getrlimit fails), for struct ocispec_in.rlimit_max. */
void ocispec_rlimit_max(unsigned long long out[RLIM_NLIMITS]);

#endif
