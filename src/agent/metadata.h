/* The task metadata endpoint, version 4: what ECS_CONTAINER_METADATA_URI_V4 points at inside every
 * container. GET on the URI answers the container's metadata, URI/task the task's (with every
 * container), URI/stats the container's docker-shaped stats and URI/task/stats those of every
 * container of the task, keyed by DockerId; the field names and types are ECS's (see the builders).
 *
 * The URI is http://HOST:PORT/v4/TOKEN. TOKEN is random (128 bits), one per container, and is the
 * only thing that tells containers apart: an unknown token is a 404. HOST is an address the
 * container reaches the agent at (metadata_uri_host()):
 *   bridge, awsvpc  the CNI bridge's address (the containers' gateway): metadata_listen_addr()
 *   host            127.0.0.1 in the host's network namespace: metadata_listen_addr()
 *   none            127.0.0.1 inside the container's own namespace: a listening socket made in that
 *                   namespace (metadata_netns_socket()) and served by the agent like any other,
 *                   metadata_listen_netns()
 * Every listener answers every token; a container learns nothing from reaching another listener.
 * Other paths under the token are 404s, other methods than GET and HEAD 405s; errors are JSON
 * strings, as ECS sends them. URI/taskWithTags is answered as URI/task (gantry keeps no tags
 * there). A container without a cgroup (not started yet, or gone) has no stats: URI/stats answers
 * {} and URI/task/stats null for it.
 *
 * Threads: the server runs on the agent's loop; its functions are called there, except
 * metadata_netns_socket() and the pure builders, which any thread may call. Stats are read on the
 * libuv thread pool (cgroup and proc files), everything else is answered on the loop from what the
 * runtime's provider fills in at the time of the request. */
#ifndef GANTRY_METADATA_H
#define GANTRY_METADATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/crun.h"
#include "common/err.h"

#define METADATA_PORT_DEFAULT 51678 /* the URIs' default port (ECS itself answers on 169.254.170.2:80) */
#define METADATA_ENV	      "ECS_CONTAINER_METADATA_URI_V4" /* the variable holding the URI */
#define METADATA_TOKEN_LEN    32			      /* hex characters of a token */
#define METADATA_FILE_MAX     (1 << 20) /* bytes read of one cgroup or proc file (memory.stat, net/dev) */
#define METADATA_NETNS_MAX    4096	/* bytes of a network namespace path */

/* ---- what the runtime knows (borrowed by the builders) ---- */

/* One of a container's port mappings. */
struct metadata_port {
	unsigned container_port;
	unsigned host_port;   /* awsvpc: the container port */
	const char *protocol; /* "tcp" or "udp"; NULL = "tcp" */
	const char *host_ip;  /* "0.0.0.0"; NULL = left out */
};

/* One container of a task. Strings may be NULL where noted (then the member is left out). */
struct metadata_container {
	const char *id;		 /* DockerId: the runtime's id ("<task id>-<index>") (required) */
	const char *name;	 /* Name: the definition's name (required) */
	const char *docker_name; /* DockerName; NULL = id */
	const char *image;	 /* Image: as the definition names it */
	const char *image_id;	 /* ImageID: the image's digest ("sha256:...") */
	json_t *labels;		 /* the definition's dockerLabels (object of strings), or NULL; the ECS
				  * labels (com.amazonaws.ecs.cluster, ...) are added to them */
	const char *desired_status, *known_status; /* "RUNNING", "STOPPED", ...; NULL = "NONE" */
	bool has_exit_code;			   /* ExitCode is shown once the container exited */
	int exit_code;
	double cpu;			   /* Limits.CPU: cpu units (0 when the definition gives none) */
	long long memory;		   /* Limits.Memory: MiB (the hard limit, else the reservation); 0
					    * when none is given (ECS always shows both limits) */
	double created_at, started_at;	   /* epoch seconds; 0 = not yet (left out) */
	double finished_at;		   /* epoch seconds; 0 = still running (left out) */
	const char *type;		   /* Type; NULL = "NORMAL" */
	const char *container_arn;	   /* ContainerARN; NULL = the task document's, by name */
	const char *log_driver;		   /* LogDriver (logConfiguration.logDriver), or NULL */
	json_t *log_options;		   /* LogOptions (logConfiguration.options, object), or NULL */
	const char *network_mode;	   /* Networks[0].NetworkMode: "bridge", "host", "awsvpc", "none";
					    * NULL = no Networks */
	const char *ipv4;		   /* its address ("172.31.200.5"), or NULL */
	const char *ipv4_subnet;	   /* awsvpc: IPv4SubnetCIDRBlock ("172.31.200.0/22"), or NULL */
	const char *gateway;		   /* awsvpc: SubnetGatewayIpv4Address ("172.31.200.1/22"), or NULL */
	const char *mac;		   /* awsvpc: MACAddress, or NULL */
	const struct metadata_port *ports; /* Ports */
	size_t nports;
	/* For stats: the host's cgroup layout and the container's cgroup (linux.cgroupsPath,
	 * "/gantry/<task id>/<id>"); NULL = no stats (null in /task/stats). */
	const struct crunrt_cgroups *cgroups;
	const char *cgroups_path;
	/* For stats: the network namespace file whose interfaces are the container's networks
	 * (its own or its task's); NULL = none shown (host mode, as docker shows none). */
	const char *netns;
};

/* A task and its containers. */
struct metadata_task {
	/* The Task document as the server sent it (DescribeTasks' shape), or NULL. What is not given
	 * below comes from it: Cluster (clusterArn), TaskARN (taskArn), Family and Revision (from
	 * taskDefinitionArn), DesiredStatus, KnownStatus (lastStatus), Limits (cpu units shown as
	 * vCPU, memory MiB), PullStartedAt, PullStoppedAt, AvailabilityZone, LaunchType, ServiceName
	 * (group "service:NAME"), and each container's ContainerARN (matched by name). */
	json_t *doc;
	const char *cluster, *task_arn, *family, *revision;
	const char *desired_status, *known_status; /* the agent's view, fresher than doc's */
	double pull_started_at, pull_stopped_at;   /* epoch seconds; 0 = doc's, else left out */
	const char *availability_zone;		   /* NULL = doc's, else left out */
	const char *launch_type;		   /* NULL = doc's, else "EC2" */
	const struct metadata_container *containers;
	size_t ncontainers;
};

/* ---- builders (pure, any thread) ---- */

/* The container metadata document (GET ${ECS_CONTAINER_METADATA_URI_V4}) of t->containers[i]:
 * DockerId, Name, DockerName, Image, ImageID, Ports, Labels, DesiredStatus, KnownStatus, ExitCode,
 * Limits {CPU, Memory}, CreatedAt, StartedAt, FinishedAt (RFC 3339 UTC with up to nanosecond
 * digits, as Go prints them), Type, LogDriver, LogOptions, ContainerARN, Networks
 * [{NetworkMode, IPv4Addresses, and for awsvpc AttachmentIndex, MACAddress, IPv4SubnetCIDRBlock,
 * SubnetGatewayIpv4Address}]. Members without a value are left out, as ECS leaves them out. Returns
 * a new reference (never NULL; i must be < t->ncontainers). */
json_t *metadata_container_json(const struct metadata_task *t, size_t i);

/* The task metadata document (GET .../task): Cluster, TaskARN, Family, Revision, DesiredStatus,
 * KnownStatus, Limits, PullStartedAt, PullStoppedAt, AvailabilityZone, LaunchType, ServiceName,
 * Containers (metadata_container_json() of each). Returns a new reference (never NULL). */
json_t *metadata_task_json(const struct metadata_task *t);

/* Formats epoch seconds as Go's RFC3339Nano does in UTC ("2020-10-02T00:15:07.620912Z": fraction
 * without trailing zeros, none when whole), to microseconds. out must hold 40 bytes. */
void metadata_time(double epoch, char out[40]);

/* A container's cgroup directories, per controller. */
struct metadata_cgroup_dirs {
	char *cpuacct, *cpu, *memory, *blkio, *pids; /* cgroup v1 (NULL: the controller is not mounted) */
	char *unified; /* cgroup v2 (V2 mode only): when set, the v1 members are NULL */
};

/* Where the cgroup cgroups_path ("/gantry/<task>/<container>") lives in each hierarchy of cg: in V2
 * mode unified + path; otherwise (V1 and HYBRID, where crun puts the limits on the v1 hierarchies)
 * the mount of each v1 controller + path. Fills *out (release with metadata_cgroup_dirs_release()).
 * Nothing is checked on disk. */
void metadata_cgroup_dirs(const struct crunrt_cgroups *cg, const char *cgroups_path,
			  struct metadata_cgroup_dirs *out);
/* Frees the contents of d; accepts NULL. */
void metadata_cgroup_dirs_release(struct metadata_cgroup_dirs *d);

/* What a stats sample reads. All borrowed. */
struct metadata_stats_in {
	const char *id, *name;			 /* the stats' "id" and "name" ("/" + name) */
	const struct metadata_cgroup_dirs *dirs; /* required */
	const char *netns;			 /* networks: read net/dev inside this namespace */
	const char *net_dev;			 /* or this file (a test's); both NULL = no networks */
	const char *proc_stat;			 /* NULL = /proc/stat (system_cpu_usage, online_cpus) */
	const char *meminfo;			 /* NULL = /proc/meminfo (the limit when there is none) */
	double now;				 /* the sample's time ("read"); 0 = now */
};

/* One docker-shaped stats sample (docker's ContainerStats, as ECS returns it): read, preread,
 * num_procs, pids_stats {current, limit}, blkio_stats {io_service_bytes_recursive,
 * io_serviced_recursive: [{major, minor, op, value}], the others empty}, cpu_stats and precpu_stats
 * {cpu_usage {total_usage, percpu_usage (v1), usage_in_kernelmode, usage_in_usermode},
 * system_cpu_usage, online_cpus, throttling_data {periods, throttled_periods, throttled_time}}
 * (nanoseconds), memory_stats {usage, max_usage, stats {memory.stat}, failcnt, limit} (bytes),
 * storage_stats, name, id, networks {IFNAME: {rx_bytes, rx_packets, rx_errors, rx_dropped, tx_...}}
 * (loopback left out) and, with a previous sample, network_rate_stats {rx_bytes_per_sec,
 * tx_bytes_per_sec}.
 * Sources: cgroup v1 cpuacct.usage, cpuacct.usage_percpu, cpuacct.stat (USER_HZ ticks), cpu.stat,
 * memory.usage_in_bytes, memory.max_usage_in_bytes, memory.limit_in_bytes, memory.failcnt,
 * memory.stat, blkio.throttle.io_service_bytes(_recursive), blkio.throttle.io_serviced(_recursive),
 * pids.current, pids.max; cgroup v2 cpu.stat, memory.current, memory.peak, memory.max (no limit:
 * MemTotal), memory.stat, io.stat, pids.current, pids.max; /proc/stat's cpu line (the first seven
 * fields, in nanoseconds) and its cpuN lines. A file that cannot be read counts as zero.
 * prev (borrowed, may be NULL) is the container's previous sample: its read and cpu_stats become
 * preread and precpu_stats (docker's zero time and zeros without one). Returns a new reference, or
 * NULL when the container has no cgroup (any more): none of its directories exists. Blocks (file
 * reads; with netns, a short-lived thread that enters the namespace). */
json_t *metadata_stats_json(const struct metadata_stats_in *in, json_t *prev);

/* Parses the text of a net/dev file into docker's "networks" object (loopback left out). Returns a
 * new reference (an empty object when nothing parses). */
json_t *metadata_net_dev_parse(const char *text);

/* ---- the server (on the loop) ---- */

struct metadata_srv;

/* Fills a request's inputs from the runtime's state, on the loop, at the time of the request. */
struct metadata_provider {
	/* Fills *out (zeroed) with the task of container `id` (out->containers must include it). Everything
	 * it points to stays valid until release() (or, without one, until the loop's current
	 * callback returns: the server copies what it keeps). Returns 0, or -1 when the container
	 * is gone (the request gets a 404). */
	int (*fill)(void *arg, const char *id, struct metadata_task *out);
	/* Releases what a fill() that returned 0 made for *t; may be NULL. */
	void (*release)(void *arg, struct metadata_task *t);
};

/* A server whose URIs name port (0 = METADATA_PORT_DEFAULT). It listens nowhere yet. Never NULL. */
struct metadata_srv *metadata_srv_new(uv_loop_t *loop, unsigned port);
/* Stops every listener and forgets every container; the server is freed once the stats reads in
 * flight are back (the loop must run). Requests not answered yet get a 503. Accepts NULL. */
void metadata_srv_close(struct metadata_srv *srv);
/* The port in the URIs. */
unsigned metadata_port(const struct metadata_srv *srv);

/* The address a container in network mode `mode` reaches the server at: gateway (the CNI
 * result's gateway, "172.31.200.1") for bridge and awsvpc, "127.0.0.1" for host and none (and for
 * bridge or awsvpc without a gateway). Borrowed from the arguments or static. */
const char *metadata_uri_host(const char *mode, const char *gateway);

/* Listens on addr:port (port 0 = the server's) in the agent's network namespace, unless a listener
 * for that address and port exists already (then 0 at once). The socket is bound with IP_FREEBIND,
 * so the CNI bridge's gateway address may be taken before the first container brings the bridge
 * up. Returns 0, or -1 with *err (ERR_SYS: the port is taken). */
int metadata_listen_addr(struct metadata_srv *srv, const char *addr, unsigned port, struct err **err);

/* Makes a socket listening on 127.0.0.1:port inside the network namespace of the file netns (a
 * namespace file as cni_netns_create() makes, or /proc/PID/ns/net): a short-lived thread enters the
 * namespace, creates, binds and listens, and exits; the socket stays in that namespace. The calling
 * thread's namespace never changes. Returns the socket (O_NONBLOCK, O_CLOEXEC), or -1 with *err.
 * Blocks briefly; any thread. Needs CAP_SYS_ADMIN. */
int metadata_netns_socket(const char *netns, unsigned port, struct err **err);

/* Serves inside the network namespace netns on 127.0.0.1:<the server's port>, with fd (a socket
 * from metadata_netns_socket(), taken) or, when fd is -1, a socket made now. A second call for the
 * same netns adds a reference (and closes fd). Note that a listening socket keeps its namespace
 * alive: metadata_unlisten_netns() once the container is gone. Returns 0, or -1 with *err. */
int metadata_listen_netns(struct metadata_srv *srv, const char *netns, int fd, struct err **err);
/* Drops a reference taken by metadata_listen_netns(); the last one stops the listener (requests
 * it has not answered get a 503). Unknown paths, and a NULL srv (closed), are ignored. */
void metadata_unlisten_netns(struct metadata_srv *srv, const char *netns);

/* Registers container id (the runtime's id; at most CRUNRT_ID_MAX bytes), replacing an earlier
 * registration of the same id. token is NULL for a new random one, or the token of a URI this
 * returned in an earlier life of the agent (metadata_uri_token()), so that a re-adopted container's
 * METADATA_ENV keeps working; one that is not METADATA_TOKEN_LEN hex digits gets a new one. host
 * (required) goes into the URI. provider (borrowed: static) and arg serve its requests. Returns its
 * URI, "http://HOST:PORT/v4/TOKEN" (host: metadata_uri_host()), a new string the caller frees: the
 * value of METADATA_ENV. */
char *metadata_register(struct metadata_srv *srv, const char *id, const char *token, const char *host,
			const struct metadata_provider *provider, void *arg);
/* The token of a URI metadata_register() returned (borrowed from uri), or NULL when uri has none. */
const char *metadata_uri_token(const char *uri);
/* Forgets container id: its token answers 404 from now on, and its previous stats sample goes.
 * Unknown ids, and a NULL srv (closed), are ignored. */
void metadata_unregister(struct metadata_srv *srv, const char *id);

#endif
