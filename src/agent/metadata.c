/* The task metadata endpoint v4: ECS-shaped container, task and stats documents built from what the
 * runtime knows, and the HTTP listeners (host, CNI gateway, inside a namespace) that serve them. */
#include "agent/metadata.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/hsrv.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

#define METADATA_BODY_MAX   4096		   /* request bodies: the endpoint takes none */
#define METADATA_LISTEN_MAX 128			   /* backlog of a listener */
#define METADATA_ZERO_TIME  "0001-01-01T00:00:00Z" /* Go's zero time: docker's preread at first */

/* ---- small helpers ---- */

/* The whole of a small file (up to METADATA_FILE_MAX bytes), or NULL. */
static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *p = xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= METADATA_FILE_MAX)
				break;
			cap *= 2;
			p = xrealloc(p, cap + 1);
		}
		ssize_t n = read(fd, p + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0) {
				free(p);
				p = NULL;
			}
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (p)
		p[len] = '\0';
	return p;
}

static char *slurp_in(const char *dir, const char *name)
{
	if (!dir)
		return NULL;
	char *path = xasprintf("%s/%s", dir, name);
	char *text = slurp(path);
	free(path);
	return text;
}

/* A JSON integer for an unsigned counter (clamped: JSON integers here are signed 64-bit). */
static json_t *u64(unsigned long long v)
{
	return json_integer(v > (unsigned long long)LLONG_MAX ? LLONG_MAX : (json_int_t)v);
}

/* The first unsigned number of a file ("123\n"), with *ok false when there is none. "max" is
 * *is_max. */
static unsigned long long file_u64(const char *dir, const char *name, bool *ok, bool *is_max)
{
	char *t = slurp_in(dir, name);
	unsigned long long v = 0;
	if (ok)
		*ok = false;
	if (is_max)
		*is_max = false;
	if (t) {
		const char *p = t;
		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, "max", 3) == 0) {
			if (is_max)
				*is_max = true;
			if (ok)
				*ok = true;
		} else if (isdigit((unsigned char)*p)) {
			v = strtoull(p, NULL, 10);
			if (ok)
				*ok = true;
		}
	}
	free(t);
	return v;
}

/* The value of "key N" in a flat-keyed file (cpu.stat, cpuacct.stat, memory.stat), or 0. */
static unsigned long long keyed(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l;) {
		if (strncmp(l, key, kl) == 0 && (l[kl] == ' ' || l[kl] == '\t'))
			return strtoull(l + kl + 1, NULL, 10);
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return 0;
}

/* Numbers shown as Go's float64 shows them: integers without a fraction. */
static json_t *num(double v)
{
	if (v == (double)(long long)v && v > -9e15 && v < 9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

void metadata_time(double epoch, char out[40])
{
	long long us = (long long)(epoch * 1e6 + (epoch >= 0 ? 0.5 : -0.5));
	time_t secs = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac) {
		char f[8];
		snprintf(f, sizeof(f), "%06ld", frac);
		size_t fl = 6;
		while (fl > 0 && f[fl - 1] == '0')
			fl--;
		f[fl] = '\0';
		snprintf(out + n, 40 - n, ".%sZ", f);
	} else {
		snprintf(out + n, 40 - n, "Z");
	}
}

static void set_time(json_t *o, const char *key, double epoch)
{
	if (epoch <= 0)
		return;
	char text[40];
	metadata_time(epoch, text);
	json_object_set_new(o, key, json_string(text));
}

static const char *doc_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

/* ---- container and task documents ---- */

/* Task-level values: the explicit ones, else the document's. */
struct task_vals {
	const char *cluster, *task_arn, *desired, *known, *az, *launch;
	char family[256], revision[32], cluster_name[256];
};

static void task_vals(const struct metadata_task *t, struct task_vals *v)
{
	memset(v, 0, sizeof(*v));
	v->cluster = t->cluster ? t->cluster : doc_str(t->doc, "clusterArn");
	v->task_arn = t->task_arn ? t->task_arn : doc_str(t->doc, "taskArn");
	v->desired = t->desired_status ? t->desired_status : doc_str(t->doc, "desiredStatus");
	v->known = t->known_status ? t->known_status : doc_str(t->doc, "lastStatus");
	v->az = t->availability_zone ? t->availability_zone : doc_str(t->doc, "availabilityZone");
	v->launch = t->launch_type ? t->launch_type : doc_str(t->doc, "launchType");
	if (!v->launch)
		v->launch = "EC2";
	/* arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION */
	const char *td = doc_str(t->doc, "taskDefinitionArn");
	const char *slash = td ? strrchr(td, '/') : NULL;
	const char *colon = slash ? strrchr(slash, ':') : NULL;
	if (slash && colon) {
		snprintf(v->family, sizeof(v->family), "%.*s", (int)(colon - slash - 1), slash + 1);
		snprintf(v->revision, sizeof(v->revision), "%s", colon + 1);
	}
	if (t->family)
		snprintf(v->family, sizeof(v->family), "%s", t->family);
	if (t->revision)
		snprintf(v->revision, sizeof(v->revision), "%s", t->revision);
	/* The ECS label carries the cluster's name, the document its ARN. */
	const char *cs = v->cluster ? strrchr(v->cluster, '/') : NULL;
	snprintf(v->cluster_name, sizeof(v->cluster_name), "%s", cs ? cs + 1 : v->cluster ? v->cluster : "");
}

static json_t *networks_json(const struct metadata_container *c)
{
	json_t *n = json_object();
	json_object_set_new(n, "NetworkMode", json_string(c->network_mode));
	if (c->ipv4 && *c->ipv4)
		json_object_set_new(n, "IPv4Addresses", json_pack("[s]", c->ipv4));
	if (strcmp(c->network_mode, "awsvpc") == 0) {
		json_object_set_new(n, "AttachmentIndex", json_integer(0));
		if (c->mac && *c->mac)
			json_object_set_new(n, "MACAddress", json_string(c->mac));
		if (c->ipv4_subnet && *c->ipv4_subnet)
			json_object_set_new(n, "IPv4SubnetCIDRBlock", json_string(c->ipv4_subnet));
		if (c->gateway && *c->gateway)
			json_object_set_new(n, "SubnetGatewayIpv4Address", json_string(c->gateway));
	}
	return json_pack("[o]", n);
}

static json_t *container_json(const struct metadata_task *t, const struct task_vals *v,
			      const struct metadata_container *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "DockerId", json_string(c->id ? c->id : ""));
	json_object_set_new(o, "Name", json_string(c->name ? c->name : ""));
	json_object_set_new(o, "DockerName",
			    json_string(c->docker_name ? c->docker_name
					: c->id	       ? c->id
						       : ""));
	json_object_set_new(o, "Image", json_string(c->image ? c->image : ""));
	json_object_set_new(o, "ImageID", json_string(c->image_id ? c->image_id : ""));
	if (c->nports) {
		json_t *ports = json_array();
		for (size_t i = 0; i < c->nports; i++) {
			const struct metadata_port *p = &c->ports[i];
			json_t *pj = json_object();
			json_object_set_new(pj, "ContainerPort", json_integer(p->container_port));
			json_object_set_new(pj, "Protocol", json_string(p->protocol ? p->protocol : "tcp"));
			if (p->host_port)
				json_object_set_new(pj, "HostPort", json_integer(p->host_port));
			if (p->host_ip)
				json_object_set_new(pj, "HostIp", json_string(p->host_ip));
			json_array_append_new(ports, pj);
		}
		json_object_set_new(o, "Ports", ports);
	}
	/* The definition's dockerLabels, then the labels the ECS agent puts on every container
	 * (which win, as they do on a docker container the ECS agent creates). */
	json_t *labels = json_object();
	const char *k;
	json_t *lv;
	json_object_foreach (c->labels, k, lv)
		if (json_is_string(lv))
			json_object_set(labels, k, lv);
	jv_set_str(labels, "com.amazonaws.ecs.cluster", v->cluster_name);
	jv_set_str(labels, "com.amazonaws.ecs.container-name", c->name);
	jv_set_str(labels, "com.amazonaws.ecs.task-arn", v->task_arn);
	jv_set_str(labels, "com.amazonaws.ecs.task-definition-family", v->family);
	jv_set_str(labels, "com.amazonaws.ecs.task-definition-version", v->revision);
	json_object_set_new(o, "Labels", labels);
	json_object_set_new(o, "DesiredStatus", json_string(c->desired_status ? c->desired_status : "NONE"));
	json_object_set_new(o, "KnownStatus", json_string(c->known_status ? c->known_status : "NONE"));
	if (c->has_exit_code)
		json_object_set_new(o, "ExitCode", json_integer(c->exit_code));
	json_object_set_new(o, "Limits",
			    json_pack("{s:o,s:I}", "CPU", num(c->cpu), "Memory", (json_int_t)c->memory));
	set_time(o, "CreatedAt", c->created_at);
	set_time(o, "StartedAt", c->started_at);
	set_time(o, "FinishedAt", c->finished_at);
	json_object_set_new(o, "Type", json_string(c->type ? c->type : "NORMAL"));
	if (c->log_driver && *c->log_driver) {
		json_object_set_new(o, "LogDriver", json_string(c->log_driver));
		if (json_is_object(c->log_options))
			json_object_set(o, "LogOptions", c->log_options);
	}
	const char *arn = c->container_arn;
	if (!arn) {
		size_t i;
		json_t *dc;
		json_array_foreach (json_object_get(t->doc, "containers"), i, dc) {
			const char *n = doc_str(dc, "name");
			if (n && c->name && strcmp(n, c->name) == 0)
				arn = doc_str(dc, "containerArn");
		}
	}
	jv_set_str(o, "ContainerARN", arn);
	if (c->network_mode && *c->network_mode)
		json_object_set_new(o, "Networks", networks_json(c));
	return o;
}

json_t *metadata_container_json(const struct metadata_task *t, size_t i)
{
	struct task_vals v;
	task_vals(t, &v);
	return container_json(t, &v, &t->containers[i]);
}

/* A task size as the Task document gives it: "256" (cpu units or MiB), "1 vCPU", "2 GB". */
static double task_size(const char *s, bool cpu)
{
	if (!s)
		return 0;
	char *end;
	double v = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (cpu)
		return strncasecmp(end, "vcpu", 4) == 0 ? v : v / 1024;
	return strncasecmp(end, "gb", 2) == 0 ? v * 1024 : v;
}

json_t *metadata_task_json(const struct metadata_task *t)
{
	struct task_vals v;
	task_vals(t, &v);
	json_t *o = json_object();
	json_object_set_new(o, "Cluster", json_string(v.cluster ? v.cluster : ""));
	json_object_set_new(o, "TaskARN", json_string(v.task_arn ? v.task_arn : ""));
	json_object_set_new(o, "Family", json_string(v.family));
	json_object_set_new(o, "Revision", json_string(v.revision));
	jv_set_str(o, "DesiredStatus", v.desired);
	json_object_set_new(o, "KnownStatus", json_string(v.known ? v.known : "NONE"));
	double cpu = task_size(doc_str(t->doc, "cpu"), true);
	double mem = task_size(doc_str(t->doc, "memory"), false);
	if (cpu > 0 || mem > 0) {
		json_t *l = json_object();
		if (cpu > 0)
			json_object_set_new(l, "CPU", num(cpu));
		if (mem > 0)
			json_object_set_new(l, "Memory", json_integer((json_int_t)mem));
		json_object_set_new(o, "Limits", l);
	}
	double ps = t->pull_started_at ? t->pull_started_at
				       : json_number_value(json_object_get(t->doc, "pullStartedAt"));
	double pe = t->pull_stopped_at ? t->pull_stopped_at
				       : json_number_value(json_object_get(t->doc, "pullStoppedAt"));
	set_time(o, "PullStartedAt", ps);
	set_time(o, "PullStoppedAt", pe);
	jv_set_str(o, "AvailabilityZone", v.az);
	json_object_set_new(o, "LaunchType", json_string(v.launch));
	json_t *cs = json_array();
	for (size_t i = 0; i < t->ncontainers; i++)
		json_array_append_new(cs, container_json(t, &v, &t->containers[i]));
	json_object_set_new(o, "Containers", cs);
	const char *group = doc_str(t->doc, "group");
	if (group && strncmp(group, "service:", 8) == 0 && group[8])
		json_object_set_new(o, "ServiceName", json_string(group + 8));
	return o;
}

/* ---- cgroups ---- */

static char *v1_dir(const struct crunrt_cgroups *cg, const char *ctrl, const char *path)
{
	for (size_t i = 0; i < cg->nh; i++)
		if (!cg->h[i].v2 && crunrt_opts_has(cg->h[i].opts, ctrl))
			return xasprintf("%s%s", cg->h[i].path, path);
	return NULL;
}

void metadata_cgroup_dirs(const struct crunrt_cgroups *cg, const char *cgroups_path,
			  struct metadata_cgroup_dirs *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = cgroups_path ? cgroups_path : "";
	if (crunrt_cgroups_v2(cg)) {
		out->unified = xasprintf("%s%s", cg->unified, p);
		return;
	}
	out->cpuacct = v1_dir(cg, "cpuacct", p);
	out->cpu = v1_dir(cg, "cpu", p);
	out->memory = v1_dir(cg, "memory", p);
	out->blkio = v1_dir(cg, "blkio", p);
	out->pids = v1_dir(cg, "pids", p);
}

void metadata_cgroup_dirs_release(struct metadata_cgroup_dirs *d)
{
	if (!d)
		return;
	free(d->cpuacct), free(d->cpu), free(d->memory), free(d->blkio), free(d->pids), free(d->unified);
	memset(d, 0, sizeof(*d));
}

static bool dir_exists(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- stats ---- */

/* An object of every "key value" line of a memory.stat text. */
static json_t *flat_keyed(const char *text)
{
	json_t *o = json_object();
	for (const char *l = text; l && *l;) {
		const char *sp = strchr(l, ' ');
		const char *nl = strchr(l, '\n');
		if (sp && (!nl || sp < nl) && sp > l && isdigit((unsigned char)sp[1])) {
			char key[128];
			snprintf(key, sizeof(key), "%.*s", (int)(sp - l), l);
			json_object_set_new(o, key, u64(strtoull(sp + 1, NULL, 10)));
		}
		l = nl ? nl + 1 : NULL;
	}
	return o;
}

/* v1 blkio.throttle.* lines, "8:0 Read 4096", as docker's [{major, minor, op, value}]. */
static json_t *blkio_v1(const char *text)
{
	json_t *a = json_array();
	for (const char *l = text; l && *l;) {
		unsigned long long maj, min, val;
		char op[32];
		if (sscanf(l, "%llu:%llu %31s %llu", &maj, &min, op, &val) == 4)
			json_array_append_new(a, json_pack("{s:o,s:o,s:s,s:o}", "major", u64(maj), "minor",
							   u64(min), "op", op, "value", u64(val)));
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return a;
}

/* v2 io.stat lines, "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...": rkey and wkey as docker's "read"
 * and "write" entries. */
static json_t *blkio_v2(const char *text, const char *rkey, const char *wkey)
{
	json_t *a = json_array();
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		char *line = nl ? xstrndup(l, (size_t)(nl - l)) : xstrdup(l);
		unsigned long long maj, min;
		if (sscanf(line, "%llu:%llu", &maj, &min) == 2) {
			const char *keys[2] = {rkey, wkey}, *ops[2] = {"read", "write"};
			for (int k = 0; k < 2; k++) {
				char pat[32];
				snprintf(pat, sizeof(pat), " %s=", keys[k]);
				const char *at = strstr(line, pat);
				unsigned long long v = at ? strtoull(at + strlen(pat), NULL, 10) : 0;
				json_array_append_new(a, json_pack("{s:o,s:o,s:s,s:o}", "major", u64(maj),
								   "minor", u64(min), "op", ops[k], "value",
								   u64(v)));
			}
		}
		free(line);
		l = nl ? nl + 1 : NULL;
	}
	return a;
}

json_t *metadata_net_dev_parse(const char *text)
{
	json_t *o = json_object();
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		char *line = nl ? xstrndup(l, (size_t)(nl - l)) : xstrdup(l);
		l = nl ? nl + 1 : NULL;
		char *colon = strchr(line, ':');
		if (!colon) {
			free(line);
			continue;
		}
		*colon = '\0';
		char *name = line;
		while (*name == ' ')
			name++;
		unsigned long long f[16];
		int n = sscanf(
			colon + 1,
			"%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			&f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11],
			&f[12], &f[13], &f[14], &f[15]);
		/* The header lines have '|', not ':'; "face |bytes" never parses. */
		if (n == 16 && *name && strcmp(name, "lo") != 0)
			json_object_set_new(o, name,
					    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "rx_bytes",
						      u64(f[0]), "rx_packets", u64(f[1]), "rx_errors",
						      u64(f[2]), "rx_dropped", u64(f[3]), "tx_bytes",
						      u64(f[8]), "tx_packets", u64(f[9]), "tx_errors",
						      u64(f[10]), "tx_dropped", u64(f[11])));
		free(line);
	}
	return o;
}

/* Reads net/dev inside a network namespace, from a thread of our own (setns changes only the
 * calling thread's namespace, and that thread ends right after). */
struct ns_call {
	int nsfd;
	int (*fn)(struct ns_call *c);
	unsigned port;	 /* socket: the port */
	int fd;		 /* socket: the result */
	char *text;	 /* net/dev: the result */
	int err;	 /* errno of the failure */
	const char *why; /* what failed */
};

static void *ns_thread(void *arg)
{
	struct ns_call *c = arg;
	if (setns(c->nsfd, CLONE_NEWNET) != 0) {
		c->err = errno;
		c->why = "enter the network namespace";
		return NULL;
	}
	c->fn(c);
	return NULL;
}

static int in_netns(const char *netns, struct ns_call *c, struct err **err)
{
	c->nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (c->nsfd < 0)
		return err_sys(err, errno, "open network namespace '%s'", netns);
	pthread_t th;
	int rc = pthread_create(&th, NULL, ns_thread, c);
	if (rc != 0) {
		close(c->nsfd);
		return err_sys(err, rc, "start a thread for network namespace '%s'", netns);
	}
	pthread_join(th, NULL);
	close(c->nsfd);
	if (c->why)
		return err_sys(err, c->err, "network namespace '%s': %s", netns, c->why);
	return 0;
}

static int read_net_dev(struct ns_call *c)
{
	c->text = slurp("/proc/thread-self/net/dev");
	if (!c->text) {
		c->err = errno;
		c->why = "read /proc/thread-self/net/dev";
		return -1;
	}
	return 0;
}

static int make_socket(struct ns_call *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->err = errno;
		c->why = "socket";
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, METADATA_LISTEN_MAX) != 0) {
		c->err = errno;
		c->why = "listen on 127.0.0.1";
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

int metadata_netns_socket(const char *netns, unsigned port, struct err **err)
{
	struct ns_call c = {.fn = make_socket, .port = port, .fd = -1};
	if (in_netns(netns, &c, err) < 0)
		return -1;
	return c.fd;
}

/* The first line of /proc/stat ("cpu  user nice system idle iowait irq softirq steal ..."): docker's
 * system_cpu_usage sums the first seven fields, in nanoseconds; online_cpus counts the cpuN lines. */
static void proc_stat(const char *path, unsigned long long *system_ns, unsigned *online)
{
	*system_ns = 0;
	*online = 0;
	char *t = slurp(path ? path : "/proc/stat");
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	for (const char *l = t; l && *l;) {
		if (strncmp(l, "cpu ", 4) == 0) {
			unsigned long long f[7] = {0}, sum = 0;
			sscanf(l + 4, "%llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4],
			       &f[5], &f[6]);
			for (int i = 0; i < 7; i++)
				sum += f[i];
			*system_ns = sum * (1000000000ULL / (unsigned long long)hz);
		} else if (strncmp(l, "cpu", 3) == 0 && isdigit((unsigned char)l[3])) {
			(*online)++;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	free(t);
}

static unsigned long long mem_total(const char *path)
{
	char *t = slurp(path ? path : "/proc/meminfo");
	unsigned long long kb = keyed(t, "MemTotal:"); /* "MemTotal:       16384 kB" */
	free(t);
	return kb * 1024;
}

static json_t *cpu_stats(const struct metadata_stats_in *in)
{
	const struct metadata_cgroup_dirs *d = in->dirs;
	unsigned long long total = 0, user = 0, sys = 0, periods = 0, throttled = 0, throttled_ns = 0;
	json_t *percpu = NULL;
	if (d->unified) {
		char *st = slurp_in(d->unified, "cpu.stat");
		total = keyed(st, "usage_usec") * 1000;
		user = keyed(st, "user_usec") * 1000;
		sys = keyed(st, "system_usec") * 1000;
		periods = keyed(st, "nr_periods");
		throttled = keyed(st, "nr_throttled");
		throttled_ns = keyed(st, "throttled_usec") * 1000;
		free(st);
	} else {
		total = file_u64(d->cpuacct, "cpuacct.usage", NULL, NULL);
		char *pc = slurp_in(d->cpuacct, "cpuacct.usage_percpu");
		if (pc) {
			percpu = json_array();
			char *p = pc, *end;
			for (;;) {
				unsigned long long v = strtoull(p, &end, 10);
				if (end == p)
					break;
				json_array_append_new(percpu, u64(v));
				p = end;
			}
			free(pc);
		}
		/* cpuacct.stat counts USER_HZ ticks */
		char *st = slurp_in(d->cpuacct, "cpuacct.stat");
		long hz = sysconf(_SC_CLK_TCK);
		unsigned long long ns_per_tick = 1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100);
		user = keyed(st, "user") * ns_per_tick;
		sys = keyed(st, "system") * ns_per_tick;
		free(st);
		char *cs = slurp_in(d->cpu, "cpu.stat");
		periods = keyed(cs, "nr_periods");
		throttled = keyed(cs, "nr_throttled");
		throttled_ns = keyed(cs, "throttled_time");
		free(cs);
	}
	unsigned long long system_ns;
	unsigned online;
	proc_stat(in->proc_stat, &system_ns, &online);
	json_t *usage = json_object();
	json_object_set_new(usage, "total_usage", u64(total));
	if (percpu)
		json_object_set_new(usage, "percpu_usage", percpu);
	json_object_set_new(usage, "usage_in_kernelmode", u64(sys));
	json_object_set_new(usage, "usage_in_usermode", u64(user));
	return json_pack("{s:o,s:o,s:i,s:{s:o,s:o,s:o}}", "cpu_usage", usage, "system_cpu_usage",
			 u64(system_ns), "online_cpus", (int)online, "throttling_data", "periods",
			 u64(periods), "throttled_periods", u64(throttled), "throttled_time",
			 u64(throttled_ns));
}

static json_t *memory_stats(const struct metadata_stats_in *in)
{
	const struct metadata_cgroup_dirs *d = in->dirs;
	json_t *m = json_object();
	char *st;
	unsigned long long limit, failcnt = 0;
	if (d->unified) {
		bool peak_ok, is_max;
		json_object_set_new(m, "usage", u64(file_u64(d->unified, "memory.current", NULL, NULL)));
		unsigned long long peak = file_u64(d->unified, "memory.peak", &peak_ok, NULL);
		if (peak_ok)
			json_object_set_new(m, "max_usage", u64(peak));
		st = slurp_in(d->unified, "memory.stat");
		limit = file_u64(d->unified, "memory.max", NULL, &is_max);
		/* docker: no limit reads as the host's memory */
		if (is_max || !limit)
			limit = mem_total(in->meminfo);
	} else {
		json_object_set_new(m, "usage",
				    u64(file_u64(d->memory, "memory.usage_in_bytes", NULL, NULL)));
		json_object_set_new(m, "max_usage",
				    u64(file_u64(d->memory, "memory.max_usage_in_bytes", NULL, NULL)));
		st = slurp_in(d->memory, "memory.stat");
		limit = file_u64(d->memory, "memory.limit_in_bytes", NULL, NULL);
		failcnt = file_u64(d->memory, "memory.failcnt", NULL, NULL);
	}
	json_object_set_new(m, "stats", flat_keyed(st));
	free(st);
	if (failcnt) /* docker leaves a zero failcnt out */
		json_object_set_new(m, "failcnt", u64(failcnt));
	json_object_set_new(m, "limit", u64(limit));
	return m;
}

static json_t *blkio_stats(const struct metadata_stats_in *in)
{
	const struct metadata_cgroup_dirs *d = in->dirs;
	json_t *bytes, *ios;
	if (d->unified) {
		char *st = slurp_in(d->unified, "io.stat");
		bytes = blkio_v2(st, "rbytes", "wbytes");
		ios = blkio_v2(st, "rios", "wios");
		free(st);
	} else {
		/* The recursive files count the cgroups below too; older kernels have only the flat
		 * ones. */
		char *b = slurp_in(d->blkio, "blkio.throttle.io_service_bytes_recursive");
		if (!b)
			b = slurp_in(d->blkio, "blkio.throttle.io_service_bytes");
		char *s = slurp_in(d->blkio, "blkio.throttle.io_serviced_recursive");
		if (!s)
			s = slurp_in(d->blkio, "blkio.throttle.io_serviced");
		bytes = blkio_v1(b);
		ios = blkio_v1(s);
		free(b);
		free(s);
	}
	return json_pack("{s:o,s:o,s:[],s:[],s:[],s:[],s:[],s:[]}", "io_service_bytes_recursive", bytes,
			 "io_serviced_recursive", ios, "io_queue_recursive", "io_service_time_recursive",
			 "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
			 "sectors_recursive");
}

static json_t *pids_stats(const struct metadata_stats_in *in)
{
	const char *dir = in->dirs->unified ? in->dirs->unified : in->dirs->pids;
	json_t *p = json_object();
	json_object_set_new(p, "current", u64(file_u64(dir, "pids.current", NULL, NULL)));
	bool ok, is_max;
	unsigned long long lim = file_u64(dir, "pids.max", &ok, &is_max);
	if (ok && !is_max)
		json_object_set_new(p, "limit", u64(lim));
	return p;
}

static json_t *zero_cpu_stats(void)
{
	return json_pack("{s:{s:i,s:i,s:i},s:{s:i,s:i,s:i}}", "cpu_usage", "total_usage", 0,
			 "usage_in_kernelmode", 0, "usage_in_usermode", 0, "throttling_data", "periods", 0,
			 "throttled_periods", 0, "throttled_time", 0);
}

static void net_sums(json_t *nets, unsigned long long *rx, unsigned long long *tx)
{
	*rx = *tx = 0;
	const char *k;
	json_t *v;
	json_object_foreach (nets, k, v) {
		*rx += (unsigned long long)json_integer_value(json_object_get(v, "rx_bytes"));
		*tx += (unsigned long long)json_integer_value(json_object_get(v, "tx_bytes"));
	}
}

/* Parses what metadata_time() writes, back to epoch seconds; 0 when it cannot. */
static double parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest)
		return 0;
	double frac = 0;
	if (*rest == '.')
		frac = strtod(rest, NULL);
	time_t t = timegm(&tm);
	return t <= 0 ? 0 : (double)t + frac;
}

json_t *metadata_stats_json(const struct metadata_stats_in *in, json_t *prev)
{
	const struct metadata_cgroup_dirs *d = in->dirs;
	if (!dir_exists(d->unified) && !dir_exists(d->cpuacct) && !dir_exists(d->memory) &&
	    !dir_exists(d->pids) && !dir_exists(d->blkio) && !dir_exists(d->cpu))
		return NULL;
	double now = in->now > 0 ? in->now : clock_now();
	char readt[40];
	metadata_time(now, readt);
	json_t *o = json_object();
	json_object_set_new(o, "read", json_string(readt));
	const char *preread = doc_str(prev, "read");
	json_object_set_new(o, "preread", json_string(preread ? preread : METADATA_ZERO_TIME));
	json_object_set_new(o, "pids_stats", pids_stats(in));
	json_object_set_new(o, "blkio_stats", blkio_stats(in));
	json_object_set_new(o, "num_procs", json_integer(0));
	json_object_set_new(o, "storage_stats", json_object());
	json_object_set_new(o, "cpu_stats", cpu_stats(in));
	json_t *pre = json_object_get(prev, "cpu_stats");
	json_object_set_new(o, "precpu_stats", pre ? json_deep_copy(pre) : zero_cpu_stats());
	json_object_set_new(o, "memory_stats", memory_stats(in));
	char *name = xasprintf("/%s", in->name ? in->name : "");
	json_object_set_new(o, "name", json_string(name));
	free(name);
	json_object_set_new(o, "id", json_string(in->id ? in->id : ""));
	char *text = NULL;
	if (in->netns) {
		struct ns_call c = {.fn = read_net_dev, .fd = -1};
		struct err *e = NULL;
		if (in_netns(in->netns, &c, &e) < 0) {
			log_debug("metadata: stats of %s: %s", in->id ? in->id : "?", e->msg);
			err_free(e);
		}
		text = c.text;
	} else if (in->net_dev) {
		text = slurp(in->net_dev);
	}
	if (text) {
		json_t *nets = metadata_net_dev_parse(text);
		free(text);
		json_t *pnets = json_object_get(prev, "networks");
		double dt = now - parse_time(preread);
		if (pnets && preread && dt > 0) {
			unsigned long long rx, tx, prx, ptx;
			net_sums(nets, &rx, &tx);
			net_sums(pnets, &prx, &ptx);
			json_object_set_new(o, "network_rate_stats",
					    json_pack("{s:f,s:f}", "rx_bytes_per_sec",
						      rx >= prx ? (double)(rx - prx) / dt : 0.0,
						      "tx_bytes_per_sec",
						      tx >= ptx ? (double)(tx - ptx) / dt : 0.0));
		}
		json_object_set_new(o, "networks", nets);
	}
	return o;
}

/* ---- the server ---- */

struct reg {
	char token[METADATA_TOKEN_LEN + 1];
	char *id;
	const struct metadata_provider *provider;
	void *arg;
	json_t *prev; /* the last stats sample */
};

struct listener {
	struct listener *next;
	struct metadata_srv *srv;
	char *key; /* "addr:port", or the namespace's path */
	bool netns;
	unsigned refs;
	struct hsrv *http;
};

/* One container's stats to read on the thread pool. */
struct sitem {
	char *id, *name, *netns;
	struct metadata_cgroup_dirs dirs;
	bool have_cg;
	json_t *prev; /* a reference taken on the loop, dropped there */
	json_t *out;
};

struct sjob {
	uv_work_t w;
	struct metadata_srv *srv;
	struct listener *l;
	struct hreq *req; /* NULL once its listener stopped (hsrv_stop answered it) */
	bool task;	  /* /task/stats */
	struct sitem *items;
	size_t n;
	struct sjob *next, *prev;
};

struct metadata_srv {
	uv_loop_t *loop;
	unsigned port;
	struct hmap *by_token; /* token -> struct reg */
	struct hmap *by_id;    /* container id -> struct reg */
	struct listener *listeners;
	struct sjob *jobs; /* in flight */
	bool closing;
};

struct metadata_srv *metadata_srv_new(uv_loop_t *loop, unsigned port)
{
	struct metadata_srv *srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->port = port ? port : METADATA_PORT_DEFAULT;
	srv->by_token = hmap_new();
	srv->by_id = hmap_new();
	return srv;
}

unsigned metadata_port(const struct metadata_srv *srv)
{
	return srv->port;
}

const char *metadata_uri_host(const char *mode, const char *gateway)
{
	if (mode && (strcmp(mode, "bridge") == 0 || strcmp(mode, "awsvpc") == 0) && gateway && *gateway)
		return gateway;
	return "127.0.0.1";
}

static void reg_free(struct reg *r)
{
	if (!r)
		return;
	free(r->id);
	json_decref(r->prev);
	free(r);
}

static bool token_valid(const char *s, size_t n)
{
	if (!s || n != METADATA_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

const char *metadata_uri_token(const char *uri)
{
	const char *p = uri ? strstr(uri, "/v4/") : NULL;
	return p && token_valid(p + 4, strlen(p + 4)) ? p + 4 : NULL;
}

char *metadata_register(struct metadata_srv *srv, const char *id, const char *token, const char *host,
			const struct metadata_provider *provider, void *arg)
{
	metadata_unregister(srv, id);
	struct reg *r = xcalloc(1, sizeof(*r));
	/* A token another container holds is not taken over. */
	if (token_valid(token, token ? strlen(token) : 0) && !hmap_get(srv->by_token, token))
		snprintf(r->token, sizeof(r->token), "%s", token);
	else
		ids_hex32(r->token);
	r->id = xstrdup(id);
	r->provider = provider;
	r->arg = arg;
	hmap_put(srv->by_token, r->token, r);
	hmap_put(srv->by_id, r->id, r);
	return xasprintf("http://%s:%u/v4/%s", host, srv->port, r->token);
}

void metadata_unregister(struct metadata_srv *srv, const char *id)
{
	struct reg *r = srv ? hmap_del(srv->by_id, id) : NULL;
	if (!r)
		return;
	hmap_del(srv->by_token, r->token);
	reg_free(r);
}

static void respond_json(struct hreq *req, unsigned status, json_t *doc)
{
	char *text = jv_dump(doc);
	json_decref(doc);
	hreq_respond(req, status, "application/json", text, strlen(text));
}

/* ECS answers errors with a JSON string. */
static void respond_error(struct hreq *req, unsigned status, const char *msg)
{
	respond_json(req, status, json_string(msg));
}

static void sitem_release(struct sitem *it)
{
	free(it->id), free(it->name), free(it->netns);
	metadata_cgroup_dirs_release(&it->dirs);
	json_decref(it->prev);
	json_decref(it->out);
}

static void srv_free(struct metadata_srv *srv)
{
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(srv->by_id, &it, &k, &v);)
		reg_free(v);
	hmap_free(srv->by_id);
	hmap_free(srv->by_token);
	free(srv);
}

static void stats_work(uv_work_t *w)
{
	struct sjob *j = w->data;
	for (size_t i = 0; i < j->n; i++) {
		struct sitem *it = &j->items[i];
		if (!it->have_cg)
			continue;
		struct metadata_stats_in in = {
			.id = it->id, .name = it->name, .dirs = &it->dirs, .netns = it->netns};
		it->out = metadata_stats_json(&in, it->prev);
	}
}

static void stats_after(uv_work_t *w, int status)
{
	(void)status;
	struct sjob *j = w->data;
	struct metadata_srv *srv = j->srv;
	if (j->prev)
		j->prev->next = j->next;
	else
		srv->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	/* Each sample becomes the container's previous one, for precpu_stats next time. */
	for (size_t i = 0; i < j->n && !srv->closing; i++) {
		struct reg *r = hmap_get(srv->by_id, j->items[i].id);
		if (r && j->items[i].out) {
			json_decref(r->prev);
			r->prev = json_incref(j->items[i].out);
		}
	}
	if (j->req) {
		if (j->task) {
			json_t *o = json_object();
			for (size_t i = 0; i < j->n; i++)
				json_object_set(o, j->items[i].id,
						j->items[i].out ? j->items[i].out : json_null());
			respond_json(j->req, 200, o);
		} else {
			/* A container without a cgroup (not started, or gone) has no stats. */
			respond_json(j->req, 200,
				     j->n && j->items[0].out ? json_incref(j->items[0].out) : json_object());
		}
	}
	for (size_t i = 0; i < j->n; i++)
		sitem_release(&j->items[i]);
	free(j->items);
	free(j);
	if (srv->closing && !srv->jobs)
		srv_free(srv);
}

static void start_stats(struct listener *l, struct hreq *req, const struct metadata_task *t, size_t self,
			bool task)
{
	struct metadata_srv *srv = l->srv;
	struct sjob *j = xcalloc(1, sizeof(*j));
	j->w.data = j;
	j->srv = srv;
	j->l = l;
	j->req = req;
	j->task = task;
	size_t first = task ? 0 : self, end = task ? t->ncontainers : self + 1;
	j->items = xcalloc(end - first, sizeof(*j->items));
	for (size_t i = first; i < end; i++) {
		const struct metadata_container *c = &t->containers[i];
		struct sitem *it = &j->items[j->n++];
		it->id = xstrdup(c->id ? c->id : "");
		it->name = xstrdup(c->name);
		it->netns = xstrdup(c->netns);
		if (c->cgroups && c->cgroups_path) {
			metadata_cgroup_dirs(c->cgroups, c->cgroups_path, &it->dirs);
			it->have_cg = true;
		}
		struct reg *cr = c->id ? hmap_get(srv->by_id, c->id) : NULL;
		it->prev = cr ? json_incref(cr->prev) : NULL;
	}
	j->next = srv->jobs;
	if (srv->jobs)
		srv->jobs->prev = j;
	srv->jobs = j;
	uv_queue_work(srv->loop, &j->w, stats_work, stats_after);
}

/* Splits "/v4/TOKEN[/REST]" (an optional trailing '/'). Returns false when path is not of that
 * form. */
static bool split_path(const char *path, char token[METADATA_TOKEN_LEN + 1], char rest[32])
{
	if (strncmp(path, "/v4/", 4) != 0)
		return false;
	const char *p = path + 4;
	size_t n = strcspn(p, "/");
	if (!token_valid(p, n))
		return false;
	memcpy(token, p, n);
	token[n] = '\0';
	p += n;
	if (*p == '/')
		p++;
	size_t rl = strlen(p);
	if (rl >= 32)
		return false;
	memcpy(rest, p, rl + 1);
	if (rl && rest[rl - 1] == '/')
		rest[rl - 1] = '\0';
	return true;
}

static void handle(void *arg, struct hreq *req)
{
	struct listener *l = arg;
	struct metadata_srv *srv = l->srv;
	const char *method = hreq_method(req);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		hreq_add_header(req, "Allow", "GET");
		respond_error(req, 405, "Method not allowed");
		return;
	}
	char token[METADATA_TOKEN_LEN + 1], rest[32];
	if (!split_path(hreq_path(req), token, rest)) {
		respond_error(req, 404, "No such path: the task metadata endpoint serves /v4/TOKEN");
		return;
	}
	bool task = false, stats = false;
	if (strcmp(rest, "") == 0)
		;
	else if (strcmp(rest, "task") == 0 || strcmp(rest, "taskWithTags") == 0)
		task = true;
	else if (strcmp(rest, "stats") == 0)
		stats = true;
	else if (strcmp(rest, "task/stats") == 0)
		task = stats = true;
	else {
		respond_error(req, 404, "No such path under the task metadata endpoint");
		return;
	}
	struct reg *r = hmap_get(srv->by_token, token);
	struct metadata_task t;
	memset(&t, 0, sizeof(t));
	if (!r || r->provider->fill(r->arg, r->id, &t) < 0) {
		respond_error(req, 404, "Unknown container: its metadata token is not (or no longer) valid");
		return;
	}
	size_t self = t.ncontainers;
	for (size_t i = 0; i < t.ncontainers; i++)
		if (t.containers[i].id && strcmp(t.containers[i].id, r->id) == 0)
			self = i;
	if (self == t.ncontainers) {
		respond_error(req, 404, "Unknown container: its task no longer lists it");
	} else if (stats) {
		start_stats(l, req, &t, self, task);
	} else {
		respond_json(req, 200, task ? metadata_task_json(&t) : metadata_container_json(&t, self));
	}
	if (r->provider->release)
		r->provider->release(r->arg, &t);
}

static struct listener *listener_find(struct metadata_srv *srv, const char *key)
{
	for (struct listener *l = srv->listeners; l; l = l->next)
		if (strcmp(l->key, key) == 0)
			return l;
	return NULL;
}

static int listener_add(struct metadata_srv *srv, const char *key, bool netns, int fd, struct err **err)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	l->srv = srv;
	l->key = xstrdup(key);
	l->netns = netns;
	l->refs = 1;
	l->http = hsrv_start_fd(srv->loop, fd, METADATA_BODY_MAX, handle, l, err);
	if (!l->http) {
		free(l->key);
		free(l);
		return -1;
	}
	l->next = srv->listeners;
	srv->listeners = l;
	return 0;
}

/* Stops l's server (after detaching the stats jobs still holding its requests) and frees l. */
static void listener_stop(struct metadata_srv *srv, struct listener *l)
{
	for (struct sjob *j = srv->jobs; j; j = j->next)
		if (j->l == l) {
			/* hsrv_stop answers it 503: the job must not touch it afterwards */
			j->req = NULL;
			j->l = NULL;
		}
	hsrv_stop(l->http);
	free(l->key);
	free(l);
}

int metadata_listen_addr(struct metadata_srv *srv, const char *addr, unsigned port, struct err **err)
{
	if (!port)
		port = srv->port;
	char *key = xasprintf("%s:%u", addr, port);
	int fd = -1, rc = -1;
	if (listener_find(srv, key)) {
		rc = 0;
		goto out;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (port > 65535 || inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		err_set(err, ERR_INVALID_PARAM,
			"metadata endpoint: '%s' port %u is not an IPv4 address and port", addr, port);
		goto out;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_sys(err, errno, "metadata endpoint: socket");
		goto out;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* The bridge gets its address with the first container's CNI ADD: bind before it exists. */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, METADATA_LISTEN_MAX) != 0) {
		err_sys(err, errno, "metadata endpoint: listen on %s port %u", addr, port);
		goto out;
	}
	rc = listener_add(srv, key, false, fd, err);
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(key);
	return rc;
}

int metadata_listen_netns(struct metadata_srv *srv, const char *netns, int fd, struct err **err)
{
	struct listener *l = listener_find(srv, netns);
	if (l && l->netns) {
		l->refs++;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (strlen(netns) >= METADATA_NETNS_MAX) {
		if (fd >= 0)
			close(fd);
		return err_set(err, ERR_INVALID_PARAM, "metadata endpoint: network namespace path too long");
	}
	if (fd < 0 && (fd = metadata_netns_socket(netns, srv->port, err)) < 0)
		return -1;
	return listener_add(srv, netns, true, fd, err);
}

void metadata_unlisten_netns(struct metadata_srv *srv, const char *netns)
{
	if (!srv)
		return;
	struct listener **pp = &srv->listeners;
	while (*pp && !((*pp)->netns && strcmp((*pp)->key, netns) == 0))
		pp = &(*pp)->next;
	struct listener *l = *pp;
	if (!l || --l->refs > 0)
		return;
	*pp = l->next;
	listener_stop(srv, l);
}

void metadata_srv_close(struct metadata_srv *srv)
{
	if (!srv || srv->closing)
		return;
	srv->closing = true;
	while (srv->listeners) {
		struct listener *l = srv->listeners;
		srv->listeners = l->next;
		listener_stop(srv, l);
	}
	if (!srv->jobs)
		srv_free(srv);
}
