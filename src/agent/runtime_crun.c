/* The crun runtime: runs a task's containers for real. Images come from the image store (image.c),
 * each container's root is an overlay of its image's layers (rootfs.c), its config.json comes from
 * ocispec.c, and conmon + crun run it (crun.c) so that it outlives the agent; networks are CNI
 * attachments in network namespaces of their own (cni.c).
 *
 * One task's life, all decided on the loop in advance() and done by jobs on the thread pool:
 *   pull every image (PULLED) -> the network namespaces (task.json records them) -> CNI ADD
 *   (task.json records the results), while the containers that their dependencies let start are
 *   created (CREATED) -> started once the network is ready (RUNNING; containers that start later
 *   are created and started in one job) -> conmon's exit files (STOPPED with the exit code; OOM
 *   reason) -> on a stop, each running container gets its stop signal once the containers that
 *   depend on it have stopped, then SIGKILL after its stopTimeout -> once every container has
 *   stopped: remove them, their mounts, the network and the task's directory.
 *
 * State under STATE/crun-runtime: tasks/<task id>/ (task.json, per container <index>/ with
 * config.json, rootfs, upper, work, hosts, resolv.conf, hostname, ctr.log with log.offset and
 * log.target for awslogs; volumes/<name>), netns/ (the namespaces), cni/ (host-local's leases),
 * crun/ (crun.c's state), log-spool/ (logspool.h: unshipped logs of removed task directories). A
 * restarted agent finds a task's directory and adopts it: containers that run are watched again,
 * those that exited meanwhile are reported with the code conmon wrote; the directories of tasks the
 * server no longer wants are removed, their unshipped logs kept in the spool and shipped. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cni.h"
#include "agent/crun.h"
#include "agent/image.h"
#include "agent/logship.h"
#include "agent/logspool.h"
#include "agent/metadata.h"
#include "agent/ocispec.h"
#include "agent/rootfs.h"
#include "agent/runtime.h"
#include "agent/unpack.h"
#include "api/awsc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/fsx.h"
#include "common/hcli.h"
#include "common/hmap.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

#define CRT_STOP_TIMEOUT_S   30	 /* ECS_CONTAINER_STOP_TIMEOUT's default */
#define CRT_STOP_TIMEOUT_MAX 120 /* ECS caps a container's stopTimeout at 120 s */
#define CRT_CGROUP_PARENT    "/gantry"
#define CRT_PIDS_LIMIT	     4096 /* per container: a fork bomb stays inside */
#define CRT_INIT_PATH	     "/usr/bin/tini-static"
#define CRT_RESOLV_MAX	     (64 << 10)

enum cstate {
	CS_WAITING,  /* not created yet */
	CS_STARTING, /* a create (or start) job runs */
	CS_CREATED,  /* created, waiting for the network before it starts */
	CS_RUNNING,  /* reported RUNNING */
	CS_STOPPING, /* its stop signal was sent */
	CS_STOPPED,  /* reported STOPPED */
};

struct crt_cont {
	struct crt_task *t;
	size_t idx;
	char *name;
	json_t *def;	  /* the definition with the task's overrides */
	json_t *bindings; /* the host ports the server reserved (array), or NULL */
	char id[CRUNRT_ID_MAX + 1];
	char *dir; /* the bundle */
	const struct image *img;
	struct image_pull *pull;
	char *netns; /* bridge and none: its own namespace */
	json_t *cni; /* bridge: the CNI ADD result */
	char ip[48]; /* its address, "" when it has none of its own */
	enum cstate state;
	int stop_signal;
	unsigned stop_timeout_s;
	uv_timer_t kill_timer;
	bool timer_init, killed, exit_seen, adopted;
	/* healthCheck */
	json_t *hc; /* borrowed from def, or NULL */
	enum runtime_health health;
	unsigned hc_failures;
	double hc_since; /* when it started running: startPeriod counts from here */
	uv_timer_t hc_timer;
	bool hc_timer_init, hc_running;
	char *meta_uri; /* its ECS_CONTAINER_METADATA_URI_V4 */
	/* awslogs: its output shipped to CloudWatch Logs */
	struct logship_stream *ship;
	int logs;	   /* 0: no awslogs / not set up yet, 1: setting up, 2: ready, -1: failed */
	bool logs_pending; /* stopped, its last lines are being shipped */
	char *cg_path;	   /* its cgroups path */
	double started_at, finished_at;
	bool has_exit_code;
	int exit_code;
	char *reason;
};

struct crt_task {
	struct runtime_task base;
	struct crt *rt;
	struct crt_task *prev, *next;
	char *id, *dir, *mode;
	json_t *taskdef;
	char *netns;	  /* awsvpc: the task's namespace */
	char gateway[48]; /* bridge and awsvpc: the bridge's address (where the metadata server is) */
	json_t *doc;	  /* the Task document the agent started it with */
	json_t *cni;	  /* awsvpc: its CNI result */
	size_t n;
	struct crt_cont *c;
	uv_timer_t tick;
	double pull_started, pull_stopped;
	unsigned pulls_left;
	int jobs;
	char *fail; /* why no container can start (a pull or the network failed) */
	bool adopt; /* task.json was there: an earlier agent ran it */
	bool pulled, ns_done, ns_job, net_done, net_job, stop_requested, released, cleaned, cleaning, closed;
	unsigned open_handles; /* while closing */
};

struct crt {
	struct runtime base;
	char *dir, *tasks_dir, *netns_dir, *spool_dir;
	struct logspool *spool; /* unshipped logs of removed task directories (with aws only) */
	bool ships_logs;	/* aws: set at start, read by cleanup jobs on the thread pool */
	struct hcli *http;
	struct awsc *aws;
	struct image_store *images;
	struct crunrt *crun;
	struct crunrt_watch *watch;
	struct crunrt_cgroups cg;
	struct cni_net *net;
	struct hmap *by_id; /* container id -> struct crt_cont */
	unsigned long long rlimit_max[RLIM_NLIMITS];
	unsigned long long caps;
	char *host_resolv;
	struct crt_task *tasks;
	struct metadata_srv *meta;
	bool closing;
	bool sweeping; /* a sweep job runs */
};

/* ---- jobs on the thread pool ---- */

struct job {
	uv_work_t w;
	struct crt_task *t;
	struct crt_cont *c; /* or NULL for a task job */
	void (*work)(struct job *j);
	void (*done)(struct job *j);
	struct err *err;
	int sig;
	bool start;   /* create job: start the container too (its network is ready) */
	bool spooled; /* cleanup job: a log went to the spool */
	struct crunrt_info info;
	bool have_info;
	int rc, code; /* health check: crunrt_exec's answer and the command's exit code */
};

static void advance(struct crt_task *t);
static void close_store(struct crt *rt);
static void meta_register(struct crt_cont *c, const char *token);
static bool wants_awslogs(struct crt_cont *c);
static void logs_start(struct crt_cont *c);
static void on_logs_flushed(void *arg);
static void kick(struct crt_task *t);

static void job_work(uv_work_t *w)
{
	struct job *j = w->data;
	j->work(j);
}

static void job_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct crt_task *t = j->t;
	if (status != 0 && !j->err)
		err_set(&j->err, ERR_UNAVAILABLE, "cancelled");
	t->jobs--;
	if (j->done)
		j->done(j);
	err_free(j->err);
	if (j->have_info)
		crunrt_info_release(&j->info);
	free(j);
	kick(t);
}

/* A job to set up before job_queue() runs it. */
static struct job *job_new(struct crt_task *t, struct crt_cont *c, void (*work)(struct job *),
			   void (*done)(struct job *))
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->w.data = j;
	j->t = t;
	j->c = c;
	j->work = work;
	j->done = done;
	return j;
}

static void job_queue(struct job *j)
{
	j->t->jobs++;
	uv_queue_work(j->t->rt->base.loop, &j->w, job_work, job_after);
}

static void job_run_sig(struct crt_task *t, struct crt_cont *c, void (*work)(struct job *),
			void (*done)(struct job *), int sig)
{
	struct job *j = job_new(t, c, work, done);
	j->sig = sig;
	job_queue(j);
}

static void job_run(struct crt_task *t, struct crt_cont *c, void (*work)(struct job *),
		    void (*done)(struct job *))
{
	job_run_sig(t, c, work, done, 0);
}

/* ---- events ---- */

static void emit(struct crt_task *t, const struct runtime_event *ev)
{
	if (!t->released)
		t->base.fn(t->base.arg, ev);
}

static void hc_start(struct crt_cont *c);
static bool is_mode(const struct crt_task *t, const char *mode);

static void report_running(struct crt_cont *c)
{
	c->state = CS_RUNNING;
	hc_start(c);
	struct runtime_event ev = {.kind = RUNTIME_CONTAINER_RUNNING,
				   .index = c->idx,
				   .runtime_id = c->id,
				   .bindings = c->bindings,
				   .ip = is_mode(c->t, "awsvpc") && c->ip[0] ? c->ip : NULL};
	emit(c->t, &ev);
}

static void report_stopped(struct crt_cont *c)
{
	if (c->state == CS_STOPPED)
		return;
	c->state = CS_STOPPED;
	c->finished_at = clock_now();
	if (c->ship && c->logs == 2) {
		c->logs_pending = true;
		logship_finish(c->ship, on_logs_flushed, c);
	}
	metadata_unregister(c->t->rt->meta, c->id);
	if (is_mode(c->t, "none") && c->netns)
		metadata_unlisten_netns(c->t->rt->meta, c->netns);
	if (c->timer_init)
		uv_timer_stop(&c->kill_timer);
	if (c->hc_timer_init)
		uv_timer_stop(&c->hc_timer);
	struct runtime_event ev = {.kind = RUNTIME_CONTAINER_STOPPED,
				   .index = c->idx,
				   .has_exit_code = c->has_exit_code,
				   .exit_code = c->exit_code,
				   .reason = c->reason};
	emit(c->t, &ev);
}

static void set_reason(struct crt_cont *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(struct crt_cont *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *r = NULL;
	if (vasprintf(&r, fmt, ap) < 0)
		abort();
	va_end(ap);
	free(c->reason);
	c->reason = r;
}

/* ---- small helpers ---- */

static const char *def_str(json_t *def, const char *key)
{
	return json_string_value(json_object_get(def, key));
}

static struct crt_cont *cont_named(struct crt_task *t, const char *name)
{
	for (size_t i = 0; name && i < t->n; i++)
		if (strcmp(t->c[i].name, name) == 0)
			return &t->c[i];
	return NULL;
}

static bool is_mode(const struct crt_task *t, const char *mode)
{
	return strcmp(t->mode, mode) == 0;
}

/* The port mappings to set up for c: the server's bindings (host port chosen) for its portMappings,
 * one per host port and protocol (the server reports 0.0.0.0 and :: separately). */
static size_t port_maps(struct crt_cont *c, struct cni_port *out, size_t max)
{
	size_t n = 0, i;
	json_t *b;
	json_array_foreach (c->bindings, i, b) {
		json_int_t hp = json_integer_value(json_object_get(b, "hostPort"));
		json_int_t cp = json_integer_value(json_object_get(b, "containerPort"));
		const char *proto = json_string_value(json_object_get(b, "protocol"));
		if (hp <= 0 || hp > 65535 || cp <= 0 || cp > 65535)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = out[k].host_port == (unsigned)hp &&
			      strcmp(out[k].protocol, proto && strcmp(proto, "udp") == 0 ? "udp" : "tcp") ==
				      0;
		if (dup || n == max)
			continue;
		out[n].host_port = (unsigned)hp;
		out[n].container_port = (unsigned)cp;
		out[n].protocol = proto && strcmp(proto, "udp") == 0 ? "udp" : "tcp";
		out[n].host_ip = NULL;
		n++;
	}
	return n;
}

/* ---- network (task jobs) ----
 *
 * Two jobs, so that containers are created while CNI runs: the namespaces job (task directory,
 * volumes, task cgroup, the network namespaces) and then, for bridge and awsvpc, the CNI job (ADD
 * for each namespace). A container only needs its namespace to be created; it starts once the
 * CNI job is done (its /etc/hosts then gets the addresses). */

static bool needs_cni(const struct crt_task *t)
{
	return is_mode(t, "bridge") || is_mode(t, "awsvpc");
}

/* disableNetworking: the container gets a namespace of its own with loopback only (ocispec.c),
 * made by crun; the agent makes it no namespace, attachment or port mapping. */
static bool no_network(const struct crt_cont *c)
{
	return json_is_true(json_object_get(c->def, "disableNetworking"));
}

static int attach(struct crt *rt, const char *cid, struct crt_cont *ports_of, const char *netns,
		  json_t **cni_out, char ip_out[48], struct err **err)
{
	struct cni_port ports[64];
	struct cni_attach a = {.container_id = cid, .netns = netns};
	if (ports_of) {
		a.ports = ports;
		a.nports = port_maps(ports_of, ports, 64);
	}
	*cni_out = cni_add(rt->net, &a, err);
	if (!*cni_out)
		return -1;
	struct cni_ip ip;
	if (cni_result_ip(*cni_out, NULL, AF_INET, &ip, NULL) == 0)
		snprintf(ip_out, 48, "%s", ip.addr);
	return 0;
}

static json_t *task_record(struct crt_task *t)
{
	json_t *cs = json_array();
	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(cs,
				      json_pack("{s:s?,s:O?,s:s,s:O?}", "netns", t->c[i].netns, "cni",
						t->c[i].cni, "ip", t->c[i].ip, "bindings", t->c[i].bindings));
	return json_pack("{s:s,s:s?,s:O?,s:o}", "mode", t->mode, "netns", t->netns, "cni", t->cni,
			 "containers", cs);
}

static int write_cgroup_file(const char *dir, const char *file, long long value, struct err **err)
{
	char *p = xasprintf("%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	int rc = f && fprintf(f, "%lld\n", value) > 0 ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		err_sys(err, errno, "write %lld to %s", value, p);
	free(p);
	return rc;
}

/* ECS: a task-level cpu and memory bound the task's containers together. They go on the task's
 * cgroup (CRT_CGROUP_PARENT/<task>), which crun then puts each container's cgroup under. */
static int task_cgroup(struct crt_task *t, struct err **err)
{
	long long cpu = atoll(def_str(t->doc, "cpu") ? def_str(t->doc, "cpu") : "0");
	long long mem = atoll(def_str(t->doc, "memory") ? def_str(t->doc, "memory") : "0");
	if (cpu <= 0 && mem <= 0)
		return 0;
	const struct crunrt_cgroups *cg = &t->rt->cg;
	for (size_t i = 0; i < cg->nh; i++) {
		const struct crunrt_hier *h = &cg->h[i];
		bool v2 = h->v2 && cg->mode == CRUNRT_CGROUP_V2;
		bool want_mem = mem > 0 && (v2 || crunrt_opts_has(h->opts, "memory"));
		bool want_cpu = cpu > 0 && (v2 || crunrt_opts_has(h->opts, "cpu"));
		if (!want_mem && !want_cpu)
			continue;
		char *dir = xasprintf("%s" CRT_CGROUP_PARENT, h->path);
		mkdir(dir, 0755);
		if (v2) {
			/* cgroup v2: the controllers must be enabled on the way down (best effort: crun
			 * reports what is still missing) */
			char *ctl = xasprintf("%s/cgroup.subtree_control", h->path);
			char *ctl2 = xasprintf("%s/cgroup.subtree_control", dir);
			for (int k = 0; k < 2; k++) {
				FILE *f = fopen(k ? ctl2 : ctl, "w");
				if (f) {
					fputs("+cpu +memory +pids", f);
					fclose(f);
				}
			}
			free(ctl), free(ctl2);
		}
		free(dir);
		dir = xasprintf("%s" CRT_CGROUP_PARENT "/%s", h->path, t->id);
		int rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : err_sys(err, errno, "create %s", dir);
		if (rc == 0 && want_mem)
			rc = write_cgroup_file(dir, v2 ? "memory.max" : "memory.limit_in_bytes", mem << 20,
					       err);
		if (rc == 0 && want_cpu) {
			long long shares = cpu < 2 ? 2 : cpu > 262144 ? 262144 : cpu;
			/* cgroup v2 takes a weight (1..10000) where v1 took shares (2..262144) */
			rc = v2 ? write_cgroup_file(dir, "cpu.weight", 1 + ((shares - 2) * 9999) / 262142,
						    err)
				: write_cgroup_file(dir, "cpu.shares", shares, err);
		}
		free(dir);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* task.json: atomic, so that a restarted agent reads a whole record, but not fsynced: what it
 * describes (namespaces, veths, containers) does not outlive the host either, and a sync costs
 * milliseconds on every start. */
static void write_record(struct crt_task *t, struct err **err)
{
	json_t *rec = task_record(t);
	char *text = jv_dump(rec);
	char *path = xasprintf("%s/task.json", t->dir);
	fsx_write_file(path, text, strlen(text), 0600, false, err);
	free(path);
	free(text);
	json_decref(rec);
}

static void ns_work(struct job *j)
{
	struct crt_task *t = j->t;
	struct crt *rt = t->rt;
	if (mkdir(t->dir, 0700) != 0 && errno != EEXIST) {
		err_sys(&j->err, errno, "create '%s'", t->dir);
		return;
	}
	/* Task-scoped volumes: one directory per volume without a host path, shared by the task's
	 * containers. */
	size_t i;
	json_t *v;
	char *vols = xasprintf("%s/volumes", t->dir);
	mkdir(vols, 0755);
	json_array_foreach (json_object_get(t->taskdef, "volumes"), i, v) {
		const char *name = def_str(v, "name");
		if (!name || json_object_get(json_object_get(v, "host"), "sourcePath") || strchr(name, '/'))
			continue;
		char *p = xasprintf("%s/%s", vols, name);
		mkdir(p, 0755);
		free(p);
	}
	free(vols);
	if (task_cgroup(t, &j->err) < 0)
		return;
	if (is_mode(t, "awsvpc")) {
		if (cni_netns_create(rt->netns_dir, t->id, &t->netns, &j->err) < 0)
			return;
	} else if (is_mode(t, "bridge") || is_mode(t, "none")) {
		for (size_t k = 0; k < t->n; k++)
			if (!no_network(&t->c[k]) &&
			    cni_netns_create(rt->netns_dir, t->c[k].id, &t->c[k].netns, &j->err) < 0)
				return;
	}
	write_record(t, &j->err);
}

static void cni_work(struct job *j)
{
	struct crt_task *t = j->t;
	struct crt *rt = t->rt;
	char ip[48] = "";
	if (is_mode(t, "awsvpc")) {
		if (attach(rt, t->id, NULL, t->netns, &t->cni, ip, &j->err) < 0)
			return;
		for (size_t k = 0; k < t->n; k++)
			snprintf(t->c[k].ip, sizeof(t->c[k].ip), "%s", ip);
	} else {
		for (size_t k = 0; k < t->n; k++) {
			struct crt_cont *c = &t->c[k];
			if (c->netns && attach(rt, c->id, c, c->netns, &c->cni, c->ip, &j->err) < 0)
				return;
		}
	}
	write_record(t, &j->err);
}

/* Where the task's containers reach the metadata server: the bridge's address for bridge and
 * awsvpc (it listens there), a listener inside each namespace for none, 127.0.0.1 for host. */
static void meta_listen(struct crt_task *t)
{
	struct crt *rt = t->rt;
	struct err *e = NULL;
	json_t *res = t->cni;
	for (size_t i = 0; !res && i < t->n; i++)
		res = t->c[i].cni;
	struct cni_ip ip;
	if (res && cni_result_ip(res, NULL, AF_INET, &ip, NULL) == 0 && ip.gateway[0]) {
		snprintf(t->gateway, sizeof(t->gateway), "%s", ip.gateway);
		if (metadata_listen_addr(rt->meta, t->gateway, 0, &e) < 0) {
			log_warn("task %s: metadata endpoint on %s: %s", t->id, t->gateway, e->msg);
			err_free(e), e = NULL;
		}
	}
	if (is_mode(t, "none"))
		for (size_t i = 0; i < t->n; i++)
			if (t->c[i].netns && metadata_listen_netns(rt->meta, t->c[i].netns, -1, &e) < 0) {
				log_warn("task %s: metadata endpoint in %s: %s", t->id, t->c[i].netns,
					 e->msg);
				err_free(e), e = NULL;
			}
}

static void ns_done(struct job *j)
{
	struct crt_task *t = j->t;
	t->ns_job = false;
	t->ns_done = true;
	if (j->err && !t->fail)
		t->fail = xasprintf("TaskFailedToStart: network: %s", j->err->msg);
	/* The metadata URI the containers get names the bridge's address, known before CNI runs. */
	char gw[INET_ADDRSTRLEN];
	if (needs_cni(t) && cni_net_gateway(t->rt->net, gw) == 0)
		snprintf(t->gateway, sizeof(t->gateway), "%s", gw);
	if (!needs_cni(t)) {
		t->net_done = true;
		if (!t->fail)
			meta_listen(t);
	}
}

static void cni_done(struct job *j)
{
	struct crt_task *t = j->t;
	t->net_job = false;
	t->net_done = true;
	if (j->err && !t->fail)
		t->fail = xasprintf("TaskFailedToStart: network: %s", j->err->msg);
	if (!t->fail)
		meta_listen(t);
}

/* Reads what an earlier agent recorded about the task's network. */
static int load_record(struct crt_task *t, struct err **err)
{
	char *path = xasprintf("%s/task.json", t->dir);
	json_error_t je;
	json_t *rec = json_load_file(path, 0, &je);
	free(path);
	if (!rec)
		return err_set(err, ERR_SYS, "task %s: task.json: %s", t->id, je.text);
	t->netns = xstrdup(def_str(rec, "netns"));
	t->cni = json_incref(json_object_get(rec, "cni"));
	json_t *cs = json_object_get(rec, "containers");
	for (size_t i = 0; i < t->n; i++) {
		json_t *c = json_array_get(cs, i);
		t->c[i].netns = xstrdup(def_str(c, "netns"));
		t->c[i].cni = json_incref(json_object_get(c, "cni"));
		snprintf(t->c[i].ip, sizeof(t->c[i].ip), "%s", def_str(c, "ip") ? def_str(c, "ip") : "");
		/* (the server gives them again to an agent that adopts the task; an orphan's DEL needs
		 * them: portmap removes only the mappings it is given) */
		if (!t->c[i].bindings)
			t->c[i].bindings = json_incref(json_object_get(c, "bindings"));
	}
	json_decref(rec);
	return 0;
}

/* ---- a container's bundle and start (a container job) ---- */

static char *read_small(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *text = xmalloc(CRT_RESOLV_MAX + 1);
	size_t n = fread(text, 1, CRT_RESOLV_MAX, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static int write_text(const char *dir, const char *name, const char *text, char **path_out, struct err **err)
{
	*path_out = xasprintf("%s/%s", dir, name);
	return fsx_write_file(*path_out, text, strlen(text), 0644, false, err);
}

/* The bind mounts of c's mountPoints and volumesFrom. */
static size_t resolve_mounts(struct crt_cont *c, struct ocispec_mount *out, char **owned, size_t max)
{
	struct crt_task *t = c->t;
	size_t n = 0, i, k;
	json_t *mp, *vf, *v;
	json_t *defs[16];
	bool ro_from[16];
	size_t nd = 0;
	defs[nd] = c->def;
	ro_from[nd++] = false;
	json_array_foreach (json_object_get(c->def, "volumesFrom"), i, vf) {
		struct crt_cont *src = cont_named(t, def_str(vf, "sourceContainer"));
		if (src && nd < 16) {
			defs[nd] = src->def;
			ro_from[nd++] = json_is_true(json_object_get(vf, "readOnly"));
		}
	}
	for (size_t d = 0; d < nd; d++) {
		json_array_foreach (json_object_get(defs[d], "mountPoints"), i, mp) {
			const char *vol = def_str(mp, "sourceVolume"), *dest = def_str(mp, "containerPath");
			if (!vol || !dest || n == max)
				continue;
			const char *src = NULL;
			json_array_foreach (json_object_get(t->taskdef, "volumes"), k, v) {
				if (strcmp(def_str(v, "name") ? def_str(v, "name") : "", vol) != 0)
					continue;
				src = def_str(json_object_get(v, "host"), "sourcePath");
				if (!src) {
					owned[n] = xasprintf("%s/volumes/%s", t->dir, vol);
					src = owned[n];
				}
			}
			if (!src)
				continue;
			out[n].source = src;
			out[n].destination = dest;
			out[n].read_only = ro_from[d] || json_is_true(json_object_get(mp, "readOnly"));
			n++;
		}
	}
	return n;
}

/* /etc/hosts lines for c's links ("name:alias"), to the linked containers' addresses. */
static char *hosts_with_links(struct crt_cont *c, const char *hosts)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, hosts);
	size_t i;
	json_t *l;
	json_array_foreach (json_object_get(c->def, "links"), i, l) {
		const char *s = json_string_value(l);
		if (!s)
			continue;
		const char *colon = strchr(s, ':');
		char *name = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
		struct crt_cont *o = cont_named(c->t, name);
		if (o && o->ip[0])
			buf_addf(&b, "%s\t%s%s%s\n", o->ip, name, colon ? " " : "", colon ? colon + 1 : "");
		free(name);
	}
	return buf_detach(&b, NULL);
}

static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;

static void create_work(struct job *j)
{
	struct crt_cont *c = j->c;
	struct crt_task *t = c->t;
	struct crt *rt = t->rt;
	char *root = xasprintf("%s/rootfs", c->dir), *upper = xasprintf("%s/upper", c->dir),
	     *work = xasprintf("%s/work", c->dir), *cgpath = xstrdup(c->cg_path);
	char *hosts = NULL, *hosts_links = NULL, *resolv = NULL, *hosts_path = NULL, *resolv_path = NULL,
	     *hostname_path = NULL, *hostname_text = NULL, *text = NULL, *cfg = NULL, *host_hosts = NULL;
	char *owned[32] = {0};
	json_t *spec = NULL, *warnings = NULL;
	bool mounted = false;
	if ((mkdir(c->dir, 0700) != 0 && errno != EEXIST) || (mkdir(root, 0755) != 0 && errno != EEXIST)) {
		err_sys(&j->err, errno, "create '%s'", root);
		goto out;
	}
	bool host_net = is_mode(t, "host");
	const char *hostname = ocispec_hostname(c->def, host_net ? NULL : c->name);
	char hn[256] = "";
	if (host_net && gethostname(hn, sizeof(hn) - 1) == 0 && !def_str(c->def, "hostname"))
		hostname = hn;
	if (host_net)
		host_hosts = read_small("/etc/hosts");
	/* Before the network is ready (see start_work) the addresses are not known yet, and the CNI
	 * job may be writing them: they are left out and added at the start. */
	if (!(hosts = ocispec_hosts_file(c->def, host_hosts, hostname, j->start && c->ip[0] ? c->ip : NULL,
					 &j->err)))
		goto out;
	hosts_links = j->start ? hosts_with_links(c, hosts) : xstrdup(hosts);
	if (!(resolv = ocispec_resolv_conf(c->def, rt->host_resolv, host_net, &j->err)))
		goto out;
	hostname_text = xasprintf("%s\n", hostname ? hostname : c->name);
	if (write_text(c->dir, "hosts", hosts_links, &hosts_path, &j->err) < 0 ||
	    write_text(c->dir, "resolv.conf", resolv, &resolv_path, &j->err) < 0 ||
	    write_text(c->dir, "hostname", hostname_text, &hostname_path, &j->err) < 0)
		goto out;
	if (rootfs_mount(c->img->layers, c->img->nlayers, upper, work, root, &j->err) < 0)
		goto out;
	mounted = true;
	struct ocispec_mount mounts[32];
	size_t nm = resolve_mounts(c, mounts, owned, 32);
	const char *netns = NULL;
	if (host_net)
		netns = OCISPEC_NS_HOST;
	else if (t->netns)
		netns = t->netns;
	else if (c->netns)
		netns = c->netns;
	char *meta_env = c->meta_uri ? xasprintf(METADATA_ENV "=%s", c->meta_uri) : NULL;
	const char *env[1] = {meta_env};
	struct ocispec_in in = {
		.env = env,
		.nenv = meta_env ? 1 : 0,
		.def = c->def,
		.image_config = c->img->config->doc,
		.rootfs = root,
		.cgroups_path = cgpath,
		.hostname = hostname,
		.netns = netns,
		.mounts = mounts,
		.nmounts = nm,
		.resolv_conf = resolv_path,
		.hosts = hosts_path,
		.hostname_file = hostname_path,
		.init_path = access(CRT_INIT_PATH, X_OK) == 0 ? CRT_INIT_PATH : NULL,
		.rlimit_max = rt->rlimit_max,
		.pids_limit = CRT_PIDS_LIMIT,
		.cap_bounding = rt->caps,
		.cgroup_v2 = crunrt_cgroups_v2(&rt->cg),
	};
	spec = ocispec_build(&in, &warnings, &j->err);
	free(meta_env);
	if (!spec)
		goto out;
	if (c->meta_uri) {
		/* kept, so that a restarted agent serves the same URI to the container */
		char *p = xasprintf("%s/metadata-uri", c->dir);
		fsx_write_file(p, c->meta_uri, strlen(c->meta_uri), 0600, false, NULL);
		free(p);
	}
	size_t i;
	json_t *w;
	json_array_foreach (warnings, i, w)
		log_warn("task %s: %s", t->id, json_string_value(w)); /* (the warning names the container) */
	text = jv_dump(spec);
	cfg = xasprintf("%s/config.json", c->dir);
	if (fsx_write_file(cfg, text, strlen(text), 0600, false, &j->err) < 0)
		goto out;
	/* The host may have changed since the agent started (a cgroup controller can come back to the
	 * v2 hierarchy when its v1 one goes away): crun refuses to run in hybrid mode while one is
	 * there, so the preparation is checked again, one thread at a time. */
	pthread_mutex_lock(&host_lock);
	int prepared = crunrt_host_prepare(NULL, &j->err);
	pthread_mutex_unlock(&host_lock);
	if (prepared < 0)
		goto out;
	struct crunrt_create cc = {.id = c->id, .name = c->name, .bundle = c->dir};
	struct crunrt_started st;
	if (crunrt_create(rt->crun, &cc, &st, &j->err) < 0)
		goto out;
	mounted = false; /* the container is on it now: removed with the task */
	if (j->start && crunrt_start(rt->crun, c->id, &j->err) < 0)
		crunrt_remove(rt->crun, c->id, c->dir, NULL);
out:
	if (mounted)
		rootfs_umount(root, NULL);
	for (size_t k = 0; k < 32; k++)
		free(owned[k]);
	json_decref(spec);
	json_decref(warnings);
	free(root), free(upper), free(work), free(cgpath), free(hosts), free(hosts_links), free(resolv);
	free(hosts_path), free(resolv_path), free(hostname_path), free(hostname_text), free(text), free(cfg);
	free(host_hosts);
}

/* Starts a container created before its network was ready: its /etc/hosts (bind-mounted, so
 * rewritten in place) gets its address and its links', then `crun start`. */
static void start_work(struct job *j)
{
	struct crt_cont *c = j->c;
	struct crt *rt = c->t->rt;
	const char *hostname = ocispec_hostname(c->def, c->name);
	char *hosts = ocispec_hosts_file(c->def, NULL, hostname, c->ip[0] ? c->ip : NULL, &j->err);
	if (!hosts)
		return;
	char *text = hosts_with_links(c, hosts);
	char *path = xasprintf("%s/hosts", c->dir);
	if (fsx_rewrite_file(path, text, strlen(text), 0644, &j->err) == 0 &&
	    crunrt_start(rt->crun, c->id, &j->err) < 0)
		crunrt_remove(rt->crun, c->id, c->dir, NULL);
	free(path);
	free(text);
	free(hosts);
}

static void create_done(struct job *j)
{
	struct crt_cont *c = j->c;
	if (!j->err && !j->start) {
		c->state = CS_CREATED;
		return;
	}
	if (j->err) {
		c->has_exit_code = false;
		set_reason(c, "CannotStartContainerError: %s", j->err->msg);
		report_stopped(c);
		return;
	}
	c->started_at = clock_now();
	report_running(c);
	if (c->exit_seen) /* it exited before the create job came back */
		kick(c->t);
}

/* ---- exits, stops ---- */

static void status_work(struct job *j)
{
	if (crunrt_status(j->t->rt->crun, j->c->id, &j->info, &j->err) == 0)
		j->have_info = true;
}

static void status_done(struct job *j)
{
	struct crt_cont *c = j->c;
	if (!j->have_info || c->state == CS_STOPPED)
		return;
	if (c->adopted && c->state == CS_WAITING) {
		/* An earlier agent's container: running, or over with its code. */
		if (j->info.state == CRUNRT_RUNNING && j->info.conmon_alive && !j->info.exited) {
			/* the same URI as before: the container has it in its environment */
			char *p = xasprintf("%s/metadata-uri", c->dir);
			char *uri = read_small(p);
			free(p);
			meta_register(c, uri ? metadata_uri_token(uri) : NULL);
			free(uri);
			c->started_at = clock_now();
			if (wants_awslogs(c))
				logs_start(c);
			report_running(c);
			return;
		}
		if (j->info.state == CRUNRT_CREATED && !j->info.exited) {
			/* created while its network was being made, never started: the task did not
			 * start (the cleanup removes it) */
			c->has_exit_code = false;
			set_reason(c, "%s",
				   "TaskFailedToStart: the agent restarted before the container started");
			report_stopped(c);
			return;
		}
		if (wants_awslogs(c))
			logs_start(c); /* what it printed before it exited is shipped too */
		report_running(c);
	}
	if (!j->info.exited && j->info.conmon_alive)
		return; /* not over yet: the watch will say when */
	c->has_exit_code = j->info.exited;
	c->exit_code = j->info.exit_code;
	if (j->info.oom) {
		free(c->reason);
		c->reason = xstrdup(CRUNRT_OOM_REASON);
	} else if (!j->info.exited) {
		set_reason(c, "%s", "the container's monitor (conmon) is gone: its exit code is lost");
	}
	report_stopped(c);
}

static void on_exit_file(void *arg, const char *id)
{
	struct crt *rt = arg;
	struct crt_cont *c = hmap_get(rt->by_id, id);
	if (!c || c->state == CS_STOPPED || c->t->cleaning)
		return;
	if (c->state == CS_STARTING || c->state == CS_CREATED) {
		c->exit_seen = true; /* looked at once the create job is back */
		return;
	}
	job_run(c->t, c, status_work, status_done);
}

static void kill_work(struct job *j)
{
	crunrt_kill(j->t->rt->crun, j->c->id, j->sig, &j->err);
}

static void kill_done(struct job *j)
{
	if (j->err && j->err->kind != ERR_NOT_FOUND)
		log_warn("task %s: container %s: %s", j->t->id, j->c->name, j->err->msg);
}

static void send_signal(struct crt_cont *c, int sig)
{
	job_run_sig(c->t, c, kill_work, kill_done, sig);
}

static void on_kill_timer(uv_timer_t *h)
{
	struct crt_cont *c = h->data;
	if (c->state == CS_STOPPING && !c->killed) {
		c->killed = true;
		log_info("task %s: container %s did not stop within %us: SIGKILL", c->t->id, c->name,
			 c->stop_timeout_s);
		send_signal(c, SIGKILL);
	}
}

/* ---- health checks ---- */

/* healthCheck's numbers, with ECS's defaults. */
static unsigned hc_num(struct crt_cont *c, const char *key, unsigned dflt)
{
	json_t *v = json_object_get(c->hc, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (unsigned)json_integer_value(v) : dflt;
}

static void hc_work(struct job *j)
{
	struct crt_cont *c = j->c;
	json_t *cmd = json_object_get(c->hc, "command");
	size_t n = json_array_size(cmd), k = 0;
	const char **argv = xcalloc(n + 3, sizeof(*argv));
	const char *kind = json_string_value(json_array_get(cmd, 0));
	if (kind && strcmp(kind, "CMD-SHELL") == 0) {
		argv[k++] = "/bin/sh";
		argv[k++] = "-c";
		argv[k++] = json_string_value(json_array_get(cmd, 1));
	} else {
		/* "CMD" and then the program, or (as docker takes it) the program itself */
		for (size_t i = kind && strcmp(kind, "CMD") == 0 ? 1 : 0; i < n; i++)
			argv[k++] = json_string_value(json_array_get(cmd, i));
	}
	argv[k] = NULL;
	j->code = -1;
	if (!argv[0] || (k == 3 && !argv[2]))
		err_set(&j->err, ERR_INVALID_PARAM, "healthCheck.command is empty");
	else
		j->rc = crunrt_exec(j->t->rt->crun, c->id, argv, hc_num(c, "timeout", 5) * 1000, &j->code,
				    NULL, &j->err);
	free(argv);
}

static void hc_done(struct job *j)
{
	struct crt_cont *c = j->c;
	c->hc_running = false;
	if (c->state != CS_RUNNING)
		return;
	bool ok = !j->err && j->rc == 0 && j->code == 0;
	enum runtime_health h = c->health;
	if (ok) {
		c->hc_failures = 0;
		h = RUNTIME_HEALTH_HEALTHY;
	} else if (clock_now() - c->hc_since >= hc_num(c, "startPeriod", 0)) {
		/* failures in the start period do not count (a success there ends it) */
		if (++c->hc_failures >= hc_num(c, "retries", 3))
			h = RUNTIME_HEALTH_UNHEALTHY;
	}
	if (h != c->health) {
		c->health = h;
		struct runtime_event ev = {.kind = RUNTIME_CONTAINER_HEALTH, .index = c->idx, .health = h};
		emit(c->t, &ev);
	}
}

static void on_hc_timer(uv_timer_t *h)
{
	struct crt_cont *c = h->data;
	if (c->state == CS_RUNNING && !c->hc_running && !c->t->released) {
		c->hc_running = true;
		job_run(c->t, c, hc_work, hc_done);
	}
}

/* Starts c's health checks: the first after one interval, as docker does. */
static void hc_start(struct crt_cont *c)
{
	if (!c->hc || c->hc_timer_init)
		return;
	uint64_t every = (uint64_t)hc_num(c, "interval", 30) * 1000;
	uv_timer_init(c->t->rt->base.loop, &c->hc_timer);
	c->hc_timer_init = true;
	c->hc_timer.data = c;
	c->hc_since = clock_now();
	uv_timer_start(&c->hc_timer, on_hc_timer, every ? every : 1000, every ? every : 1000);
}

/* ---- dependsOn ---- */

/* 1: c may start now; 0: not yet; -1: never (the reason is set). */
static int deps_ready(struct crt_cont *c)
{
	size_t i;
	json_t *d;
	json_array_foreach (json_object_get(c->def, "dependsOn"), i, d) {
		struct crt_cont *o = cont_named(c->t, def_str(d, "containerName"));
		const char *cond = def_str(d, "condition");
		if (!o || !cond)
			continue;
		if (strcmp(cond, "START") == 0) {
			if (o->state == CS_STOPPED && !o->has_exit_code) {
				set_reason(c, "DependencyConditionNotMet: container %s did not start",
					   o->name);
				return -1;
			}
			if (o->state < CS_RUNNING)
				return 0;
		} else if (strcmp(cond, "HEALTHY") == 0) {
			if (o->state == CS_STOPPED) {
				set_reason(c,
					   "DependencyConditionNotMet: container %s stopped before it was "
					   "healthy",
					   o->name);
				return -1;
			}
			if (o->health != RUNTIME_HEALTH_HEALTHY)
				return 0;
		} else { /* COMPLETE, SUCCESS */
			if (o->state != CS_STOPPED)
				return 0;
			if (!o->has_exit_code || (strcmp(cond, "SUCCESS") == 0 && o->exit_code != 0)) {
				set_reason(
					c,
					"DependencyConditionNotMet: container %s did not exit successfully",
					o->name);
				return -1;
			}
		}
	}
	/* links: the linked container starts first */
	json_array_foreach (json_object_get(c->def, "links"), i, d) {
		const char *s = json_string_value(d);
		const char *colon = s ? strchr(s, ':') : NULL;
		char *name = s ? (colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s)) : NULL;
		struct crt_cont *o = cont_named(c->t, name);
		free(name);
		if (o && o->state < CS_RUNNING)
			return 0;
	}
	return 1;
}

/* True when no container that depends on c (dependsOn or links) is still alive: stops go in the
 * reverse order of starts. */
static bool dependents_stopped(struct crt_cont *c)
{
	struct crt_task *t = c->t;
	for (size_t k = 0; k < t->n; k++) {
		struct crt_cont *o = &t->c[k];
		if (o == c || o->state == CS_STOPPED || o->state == CS_WAITING)
			continue;
		size_t i;
		json_t *d;
		json_array_foreach (json_object_get(o->def, "dependsOn"), i, d)
			if (strcmp(def_str(d, "containerName") ? def_str(d, "containerName") : "", c->name) ==
			    0)
				return false;
		json_array_foreach (json_object_get(o->def, "links"), i, d) {
			const char *s = json_string_value(d);
			if (s && strncmp(s, c->name, strlen(c->name)) == 0 &&
			    (s[strlen(c->name)] == '\0' || s[strlen(c->name)] == ':'))
				return false;
		}
	}
	return true;
}

/* ---- cleanup ---- */

static void cleanup_work(struct job *j)
{
	struct crt_task *t = j->t;
	struct crt *rt = t->rt;
	struct err *e = NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct crt_cont *c = &t->c[i];
		if (crunrt_remove(rt->crun, c->id, c->dir, &e) < 0) {
			log_warn("task %s: %s", t->id, e->msg);
			err_free(e), e = NULL;
		}
		char *root = xasprintf("%s/rootfs", c->dir);
		if (rootfs_umount(root, &e) < 0) {
			log_warn("task %s: %s", t->id, e->msg);
			err_free(e), e = NULL;
		}
		free(root);
		if (c->netns) {
			struct cni_port ports[64];
			struct cni_attach a = {.container_id = c->id, .netns = c->netns, .ports = ports};
			a.nports = port_maps(c, ports, 64);
			if (c->cni && cni_del(rt->net, &a, c->cni, &e) < 0) {
				log_warn("task %s: %s", t->id, e->msg);
				err_free(e), e = NULL;
			}
			cni_netns_delete(c->netns, NULL);
		}
	}
	if (t->netns) {
		struct cni_attach a = {.container_id = t->id, .netns = t->netns};
		if (t->cni && cni_del(rt->net, &a, t->cni, &e) < 0) {
			log_warn("task %s: %s", t->id, e->msg);
			err_free(e), e = NULL;
		}
		cni_netns_delete(t->netns, NULL);
	}
	char *cg = xasprintf(CRT_CGROUP_PARENT "/%s", t->id);
	if (crunrt_cgroup_prune(&rt->cg, cg, &e) < 0) {
		log_warn("task %s: %s", t->id, e->msg);
		err_free(e), e = NULL;
	}
	free(cg);
	/* what a container printed and is not shipped yet outlives its directory */
	for (size_t i = 0; rt->ships_logs && i < t->n; i++)
		j->spooled |= logspool_keep(rt->spool_dir, t->c[i].dir, t->c[i].id);
	if (unpack_remove_tree(t->dir, &e) < 0) {
		log_warn("task %s: %s", t->id, e->msg);
		err_free(e), e = NULL;
	}
}

static void cleanup_done(struct job *j)
{
	j->t->cleaned = true;
	if (j->spooled && !j->t->rt->closing)
		logspool_drain(j->t->rt->spool);
}

/* ---- orphans: what an earlier agent left of tasks nobody claims ---- */

/* A task record of the earlier agent's: its containers are the numbered directories (their ids
 * task-N), its network what task.json says (when the agent got that far). Enough for
 * cleanup_work(). */
static struct crt_task *orphan_new(struct crt *rt, const char *id)
{
	struct crt_task *t = xcalloc(1, sizeof(*t));
	t->rt = rt;
	t->id = xstrdup(id);
	t->dir = xasprintf("%s/%s", rt->tasks_dir, id);
	DIR *d = opendir(t->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		unsigned long i = strtoul(de->d_name, &end, 10);
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && !*end && i < 1024 && i + 1 > t->n)
			t->n = i + 1;
	}
	if (d)
		closedir(d);
	t->c = xcalloc(t->n ? t->n : 1, sizeof(*t->c));
	for (size_t i = 0; i < t->n; i++) {
		t->c[i].t = t;
		snprintf(t->c[i].id, sizeof(t->c[i].id), "%s-%zu", id, i);
		t->c[i].dir = xasprintf("%s/%zu", t->dir, i);
	}
	char *rec = xasprintf("%s/task.json", t->dir);
	struct err *e = NULL;
	if (access(rec, F_OK) == 0 && load_record(t, &e) < 0) {
		log_warn("task %s (left by an earlier agent): %s", id, e->msg);
		err_free(e);
	}
	free(rec);
	return t;
}

static void orphan_free(struct crt_task *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->c[i].dir);
		free(t->c[i].netns);
		json_decref(t->c[i].cni);
		json_decref(t->c[i].bindings);
	}
	free(t->c);
	free(t->netns);
	json_decref(t->cni);
	free(t->id);
	free(t->dir);
	free(t);
}

struct sweep {
	uv_work_t w;
	struct crt *rt;
	char **ids;
	size_t n;
	bool spooled; /* a log went to the spool */
};

static void sweep_work(uv_work_t *w)
{
	struct sweep *sw = w->data;
	for (size_t i = 0; i < sw->n; i++) {
		struct crt_task *t = orphan_new(sw->rt, sw->ids[i]);
		struct job j = {.t = t};
		log_info("task %s: left by an earlier agent and no longer wanted here: removing its %zu "
			 "container(s), network and directory",
			 t->id, t->n);
		cleanup_work(&j);
		sw->spooled |= j.spooled;
		orphan_free(t);
	}
}

static void sweep_done(uv_work_t *w, int status)
{
	(void)status;
	struct sweep *sw = w->data;
	sw->rt->sweeping = false;
	if (sw->spooled && !sw->rt->closing)
		logspool_drain(sw->rt->spool);
	for (size_t i = 0; i < sw->n; i++)
		free(sw->ids[i]);
	free(sw->ids);
	free(sw);
}

static void crt_sweep(struct runtime *base)
{
	struct crt *rt = (struct crt *)base;
	if (rt->closing || rt->sweeping)
		return;
	DIR *d = opendir(rt->tasks_dir);
	if (!d)
		return;
	struct sweep *sw = xcalloc(1, sizeof(*sw));
	sw->w.data = sw;
	sw->rt = rt;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !crunrt_id_valid(de->d_name))
			continue;
		bool claimed = false;
		for (struct crt_task *t = rt->tasks; t && !claimed; t = t->next)
			claimed = strcmp(t->id, de->d_name) == 0;
		if (claimed)
			continue;
		if (sw->n == cap) {
			cap = cap ? cap * 2 : 8;
			sw->ids = xrealloc(sw->ids, cap * sizeof(*sw->ids));
		}
		sw->ids[sw->n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (sw->n == 0) {
		free(sw);
		return;
	}
	rt->sweeping = true;
	uv_queue_work(rt->base.loop, &sw->w, sweep_work, sweep_done);
}

/* ---- the task metadata endpoint ---- */

static int meta_fill(void *arg, const char *id, struct metadata_task *out)
{
	struct crt_task *t = arg;
	(void)id;
	struct metadata_container *mc = xcalloc(t->n, sizeof(*mc));
	for (size_t i = 0; i < t->n; i++) {
		struct crt_cont *c = &t->c[i];
		struct metadata_container *m = &mc[i];
		static const char *const status[] = {"PENDING", "PENDING", "CREATED",
						     "RUNNING", "RUNNING", "STOPPED"};
		m->id = c->id;
		m->name = c->name;
		m->image = def_str(c->def, "image");
		m->image_id = c->img ? c->img->digest : NULL;
		m->labels = json_object_get(c->def, "dockerLabels");
		m->desired_status = t->stop_requested ? "STOPPED" : "RUNNING";
		m->known_status = status[c->state];
		m->has_exit_code = c->state == CS_STOPPED && c->has_exit_code;
		m->exit_code = c->exit_code;
		m->cpu = (double)json_integer_value(json_object_get(c->def, "cpu"));
		json_int_t mem = json_integer_value(json_object_get(c->def, "memory"));
		m->memory = mem ? mem : json_integer_value(json_object_get(c->def, "memoryReservation"));
		m->created_at = m->started_at = c->started_at;
		m->finished_at = c->state == CS_STOPPED ? c->finished_at : 0;
		json_t *lc = json_object_get(c->def, "logConfiguration");
		m->log_driver = def_str(lc, "logDriver");
		m->log_options = json_object_get(lc, "options");
		m->network_mode = t->mode;
		m->ipv4 = c->ip[0] ? c->ip : NULL;
		m->cgroups = &t->rt->cg;
		m->netns = is_mode(t, "host") ? NULL : t->netns ? t->netns : c->netns;
		/* the cgroups path is what create_work gave crun */
		m->cgroups_path = c->cg_path;
	}
	out->doc = t->doc;
	out->desired_status = t->stop_requested ? "STOPPED" : "RUNNING";
	out->pull_started_at = t->pull_started;
	out->pull_stopped_at = t->pull_stopped;
	out->containers = mc;
	out->ncontainers = t->n;
	return 0;
}

static void meta_release(void *arg, struct metadata_task *mt)
{
	(void)arg;
	free((void *)mt->containers);
}

static const struct metadata_provider meta_provider = {meta_fill, meta_release};

/* Gives c its metadata URI (token: an earlier agent's, for an adopted container). */
static void meta_register(struct crt_cont *c, const char *token)
{
	struct crt_task *t = c->t;
	free(c->meta_uri);
	c->meta_uri = metadata_register(t->rt->meta, c->id, token,
					metadata_uri_host(t->mode, t->gateway[0] ? t->gateway : NULL),
					&meta_provider, t);
}

/* ---- the awslogs driver ---- */

static bool wants_awslogs(struct crt_cont *c)
{
	const char *d = def_str(json_object_get(c->def, "logConfiguration"), "logDriver");
	return d && strcmp(d, "awslogs") == 0;
}

static void on_logs_ready(void *arg, const struct err *e)
{
	struct crt_cont *c = arg;
	c->logs = e ? -1 : 2;
	if (e)
		set_reason(c, "CannotStartContainerError: %s", e->msg);
	kick(c->t);
}

/* Starts shipping c's log (ECS names the stream prefix/container/task-id, or the container's id
 * without a prefix). */
static void logs_start(struct crt_cont *c)
{
	struct crt_task *t = c->t;
	json_t *opts = json_object_get(json_object_get(c->def, "logConfiguration"), "options");
	const char *group = def_str(opts, "awslogs-group"), *prefix = def_str(opts, "awslogs-stream-prefix");
	const char *create = def_str(opts, "awslogs-create-group");
	if (!group || !t->rt->aws) {
		c->logs = -1;
		set_reason(c, "CannotStartContainerError: %s",
			   group ? "the agent has no credentials for CloudWatch Logs"
				 : "awslogs: the awslogs-group option is required");
		return;
	}
	char *stream = prefix ? xasprintf("%s/%s/%s", prefix, c->name, t->id) : xstrdup(c->id);
	char *log = xasprintf("%s/" LOGSPOOL_LOG, c->dir), *off = xasprintf("%s/" LOGSPOOL_OFFSET, c->dir);
	mkdir(t->dir, 0700);
	mkdir(c->dir, 0700);
	const char *mode = def_str(opts, "mode"), *mbs = def_str(opts, "max-buffer-size");
	struct logship_target lt = {.group = group,
				    .stream = stream,
				    .create_group = create && strcasecmp(create, "true") == 0,
				    .non_blocking = mode && strcmp(mode, "non-blocking") == 0,
				    .max_buffer = mbs ? logship_parse_size(mbs) : 0};
	if (mbs && lt.max_buffer < 0) {
		c->logs = -1;
		set_reason(c, "CannotStartContainerError: awslogs: max-buffer-size '%s' is not a size", mbs);
		free(stream), free(log), free(off);
		return;
	}
	c->logs = 1;
	struct err *e = NULL;
	if (logspool_write_target(c->dir, &lt, &e) < 0) {
		/* only a cleanup before all is shipped needs it */
		log_warn("task %s: %s", t->id, e->msg);
		err_free(e);
	}
	c->ship = logship_start(t->rt->base.loop, t->rt->aws, log, off, &lt, on_logs_ready, c);
	free(stream), free(log), free(off);
}

static void on_logs_flushed(void *arg)
{
	struct crt_cont *c = arg;
	c->logs_pending = false;
	kick(c->t);
}

/* ---- the state machine ---- */

static void on_pulled(void *arg, const struct image *img, const struct err *e)
{
	struct crt_cont *c = arg;
	struct crt_task *t = c->t;
	c->pull = NULL;
	t->pulls_left--;
	if (img)
		c->img = img;
	else if (!t->fail && !t->stop_requested)
		t->fail = xasprintf(IMAGE_PULL_ERROR ": %s", e->msg);
	kick(t);
}

static void start_pulls(struct crt_task *t)
{
	t->pull_started = clock_now();
	t->pulls_left = (unsigned)t->n;
	for (size_t i = 0; i < t->n; i++) {
		struct crt_cont *c = &t->c[i];
		const char *image = def_str(c->def, "image");
		struct err *e = NULL;
		c->pull = image ? image_pull(t->rt->images, image, on_pulled, c, &e) : NULL;
		if (!c->pull) {
			t->pulls_left--;
			if (!t->fail)
				t->fail = xasprintf(IMAGE_PULL_ERROR ": %s",
						    e ? e->msg : "the container has no image");
			err_free(e);
		}
	}
}

static void task_free(struct crt_task *t)
{
	struct crt *rt = t->rt;
	if (t->prev)
		t->prev->next = t->next;
	else
		rt->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	for (size_t i = 0; i < t->n; i++) {
		struct crt_cont *c = &t->c[i];
		if (hmap_get(rt->by_id, c->id) == c)
			hmap_del(rt->by_id, c->id);
		image_unuse(rt->images, c->img);
		metadata_unregister(rt->meta, c->id);
		logship_stop(c->ship);
		free(c->name), free(c->dir), free(c->netns), free(c->reason), free(c->meta_uri),
			free(c->cg_path);
		json_decref(c->def), json_decref(c->bindings), json_decref(c->cni);
	}
	free(t->c);
	free(t->id), free(t->dir), free(t->mode), free(t->netns), free(t->fail);
	json_decref(t->taskdef), json_decref(t->cni), json_decref(t->doc);
	free(t);
	if (rt->closing && !rt->tasks)
		close_store(rt);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct crt_task *t = h->data;
	if (--t->open_handles == 0)
		task_free(t);
}

/* Closes the task's handles; frees it once they are closed. */
static void task_close(struct crt_task *t)
{
	unsigned handles = 1;
	for (size_t i = 0; i < t->n; i++)
		handles += t->c[i].timer_init + t->c[i].hc_timer_init;
	t->closed = true;
	t->open_handles = handles;
	t->tick.data = t;
	uv_close((uv_handle_t *)&t->tick, on_handle_closed);
	for (size_t i = 0; i < t->n; i++) {
		if (t->c[i].timer_init) {
			t->c[i].kill_timer.data = t;
			uv_close((uv_handle_t *)&t->c[i].kill_timer, on_handle_closed);
		}
		if (t->c[i].hc_timer_init) {
			t->c[i].hc_timer.data = t;
			uv_close((uv_handle_t *)&t->c[i].hc_timer, on_handle_closed);
		}
	}
}

static void advance(struct crt_task *t)
{
	if (t->closed)
		return;
	if (t->released) {
		/* Forgotten by the agent. A task whose containers have all stopped still ships its last
		 * log lines and is cleaned up (unless the agent is exiting); one still running is left
		 * as it is at once (the agent exits: a new agent adopts its containers). */
		for (size_t i = 0; i < t->n; i++)
			if (t->c[i].pull) {
				struct image_pull *p = t->c[i].pull;
				t->c[i].pull = NULL;
				image_pull_cancel(p);
			}
		bool all_stopped = true;
		for (size_t i = 0; i < t->n; i++)
			all_stopped &= t->c[i].state == CS_STOPPED;
		bool finish = all_stopped && !t->cleaned && (t->cleaning || !t->rt->closing);
		if (!finish) {
			if (t->jobs == 0 && t->pulls_left == 0 && (t->cleaned || !t->cleaning))
				task_close(t);
			return;
		}
	}
	if (!t->pulled) {
		if (t->pulls_left > 0)
			return;
		t->pulled = true;
		t->pull_stopped = clock_now();
		struct runtime_event ev = {.kind = RUNTIME_PULLED,
					   .pull_started_at = t->pull_started,
					   .pull_stopped_at = t->pull_stopped};
		emit(t, &ev);
		if (t->adopt) {
			struct err *e = NULL;
			if (load_record(t, &e) < 0) {
				t->fail = xasprintf("TaskFailedToStart: %s", e->msg);
				err_free(e);
			}
			t->net_done = true;
			if (!t->fail)
				meta_listen(t);
			for (size_t i = 0; i < t->n; i++) {
				t->c[i].adopted = true;
				job_run(t, &t->c[i], status_work, status_done);
			}
			return;
		}
	}
	if (!t->fail && !t->ns_done && !t->stop_requested) {
		if (!t->ns_job) {
			t->ns_job = true;
			job_run(t, NULL, ns_work, ns_done);
		}
		return;
	}
	if (!t->fail && !t->net_done && !t->net_job && !t->stop_requested) {
		t->net_job = true;
		job_run(t, NULL, cni_work, cni_done);
	}
	if (t->jobs > 0 && t->adopt && !t->net_job) {
		/* adoption's status jobs first */
		bool pending = false;
		for (size_t i = 0; i < t->n; i++)
			pending |= t->c[i].adopted && t->c[i].state == CS_WAITING;
		if (pending)
			return;
	}
	for (size_t i = 0; i < t->n && !t->released; i++) {
		struct crt_cont *c = &t->c[i];
		if (c->state == CS_WAITING) {
			if (t->fail || t->stop_requested) {
				if (t->fail && !c->reason)
					c->reason = xstrdup(t->fail);
				report_stopped(c);
				continue;
			}
			int r = deps_ready(c);
			if (r < 0) {
				report_stopped(c);
			} else if (r > 0 && c->img && wants_awslogs(c) && c->logs <= 1) {
				if (c->logs == 0)
					logs_start(c);
				if (c->logs < 0) /* (logs_start may fail at once) */
					report_stopped(c);
			} else if (r > 0 && c->img) {
				c->state = CS_STARTING;
				meta_register(c, NULL);
				hmap_put(t->rt->by_id, c->id, c);
				struct job *j = job_new(t, c, create_work, create_done);
				j->start = t->net_done;
				job_queue(j);
			}
		} else if (c->state == CS_CREATED && (t->fail || t->stop_requested)) {
			if (t->fail && !c->reason)
				c->reason = xstrdup(t->fail);
			report_stopped(c); /* never started: the cleanup removes it */
		} else if (c->state == CS_CREATED && c->exit_seen) {
			c->exit_seen = false;
			job_run(t, c, status_work, status_done);
		} else if (c->state == CS_CREATED && t->net_done) {
			c->state = CS_STARTING;
			struct job *j = job_new(t, c, start_work, create_done);
			j->start = true;
			job_queue(j);
		} else if (c->state == CS_RUNNING && c->exit_seen) {
			c->exit_seen = false;
			job_run(t, c, status_work, status_done);
		} else if (c->state == CS_RUNNING && t->stop_requested && dependents_stopped(c)) {
			c->state = CS_STOPPING;
			if (!c->timer_init) {
				uv_timer_init(t->rt->base.loop, &c->kill_timer);
				c->timer_init = true;
			}
			c->kill_timer.data = c;
			uv_timer_start(&c->kill_timer, on_kill_timer, (uint64_t)c->stop_timeout_s * 1000, 0);
			send_signal(c, c->stop_signal);
		}
	}
	bool all_stopped = true;
	for (size_t i = 0; i < t->n; i++) {
		all_stopped &= t->c[i].state == CS_STOPPED && !t->c[i].logs_pending;
		if (t->c[i].state == CS_WAITING && t->c[i].logs < 0)
			report_stopped(&t->c[i]);
	}
	if (all_stopped && t->jobs == 0 && !t->cleaning) {
		t->cleaning = true;
		t->stop_requested = true;
		job_run(t, NULL, cleanup_work, cleanup_done);
	}
}

static void on_tick(uv_timer_t *h)
{
	advance(h->data);
}

static void kick(struct crt_task *t)
{
	if (!t->closed)
		uv_timer_start(&t->tick, on_tick, 0, 0);
}

/* ---- the runtime's operations ---- */

static const char *task_id_of(const char *arn)
{
	const char *slash = arn ? strrchr(arn, '/') : NULL;
	return slash ? slash + 1 : arn;
}

static struct runtime_task *crt_start(struct runtime *base, const struct runtime_spec *spec, struct err **err)
{
	struct crt *rt = (struct crt *)base;
	const char *id = task_id_of(spec->task_arn);
	if (!id || !crunrt_id_valid(id) || strlen(id) > 64) {
		err_set(err, ERR_INVALID_PARAM, "task ARN '%s': no usable task id", spec->task_arn);
		return NULL;
	}
	const char *mode = json_string_value(json_object_get(spec->taskdef, "networkMode"));
	if (!mode)
		mode = "bridge";
	if (strcmp(mode, "bridge") && strcmp(mode, "host") && strcmp(mode, "none") &&
	    strcmp(mode, "awsvpc")) {
		err_set(err, ERR_UNSUPPORTED, "networkMode '%s' is not supported", mode);
		return NULL;
	}
	struct crt_task *t = xcalloc(1, sizeof(*t));
	t->rt = rt;
	t->id = xstrdup(id);
	t->dir = xasprintf("%s/%s", rt->tasks_dir, id);
	t->mode = xstrdup(mode);
	t->taskdef = json_incref(spec->taskdef);
	t->doc = json_incref(spec->task);
	t->n = spec->ncontainers;
	t->c = xcalloc(t->n ? t->n : 1, sizeof(*t->c));
	char *rec = xasprintf("%s/task.json", t->dir);
	t->adopt = access(rec, F_OK) == 0;
	free(rec);
	for (size_t i = 0; i < t->n; i++) {
		struct crt_cont *c = &t->c[i];
		const struct runtime_container *sc = &spec->containers[i];
		c->t = t;
		c->idx = i;
		c->name = xstrdup(sc->name);
		c->def = json_incref(sc->def);
		c->bindings = json_incref(sc->bindings);
		snprintf(c->id, sizeof(c->id), "%s-%zu", id, i);
		c->dir = xasprintf("%s/%zu", t->dir, i);
		c->cg_path = xasprintf(CRT_CGROUP_PARENT "/%s/%s", id, c->id);
		json_int_t to = json_integer_value(json_object_get(c->def, "stopTimeout"));
		c->stop_timeout_s = to > 0 ? (unsigned)(to < CRT_STOP_TIMEOUT_MAX ? to : CRT_STOP_TIMEOUT_MAX)
					   : CRT_STOP_TIMEOUT_S;
		c->stop_signal = SIGTERM;
		json_t *hc = json_object_get(c->def, "healthCheck");
		c->hc = json_is_array(json_object_get(hc, "command")) ? hc : NULL;
		if (t->adopt)
			hmap_put(rt->by_id, c->id, c);
	}
	uv_timer_init(base->loop, &t->tick);
	t->tick.data = t;
	t->next = rt->tasks;
	if (rt->tasks)
		rt->tasks->prev = t;
	rt->tasks = t;
	start_pulls(t);
	kick(t);
	return &t->base;
}

static void crt_stop(struct runtime_task *base)
{
	struct crt_task *t = (struct crt_task *)base;
	if (t->stop_requested)
		return;
	t->stop_requested = true;
	for (size_t i = 0; i < t->n; i++)
		if (t->c[i].pull) {
			struct image_pull *p = t->c[i].pull;
			t->c[i].pull = NULL;
			image_pull_cancel(p); /* on_pulled runs now */
		}
	kick(t);
}

static void crt_release(struct runtime_task *base)
{
	struct crt_task *t = (struct crt_task *)base;
	if (t->released)
		return;
	t->released = true;
	kick(t);
}

/* The image store and its HTTP client go once no task holds an image (a create job may still be
 * reading one's layers). */
static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT;
	struct dirent *de;
	bool empty = true;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static void close_store(struct crt *rt)
{
	image_store_free(rt->images);
	rt->images = NULL;
	awsc_free(rt->aws);
	rt->aws = NULL;
	hcli_free(rt->http);
	rt->http = NULL;
}

static void crt_close(struct runtime *base)
{
	struct crt *rt = (struct crt *)base;
	if (rt->closing)
		return;
	rt->closing = true;
	logspool_free(rt->spool); /* what it did not ship stays for the next agent */
	rt->spool = NULL;
	crunrt_watch_close(rt->watch);
	rt->watch = NULL;
	metadata_srv_close(rt->meta);
	rt->meta = NULL;
	if (!rt->tasks)
		close_store(rt);
}

static void crt_free(struct runtime *base)
{
	struct crt *rt = (struct crt *)base;
	crt_close(base);
	/* The network's own rules go with its last container: a task directory left means containers
	 * that run on (or a task to clean up) for the next agent. */
	if (rt->net && rt->tasks_dir && dir_is_empty(rt->tasks_dir))
		cni_host_release(rt->net);
	while (rt->tasks) /* released tasks whose handles the loop never closed */
		task_free(rt->tasks);
	close_store(rt);
	crunrt_free(rt->crun);
	crunrt_cgroups_release(&rt->cg);
	cni_net_free(rt->net);
	hmap_free(rt->by_id);
	free(rt->dir), free(rt->tasks_dir), free(rt->netns_dir), free(rt->spool_dir), free(rt->host_resolv);
	free(rt);
}

static const struct runtime_ops crt_ops = {
	.name = "crun",
	.start = crt_start,
	.stop = crt_stop,
	.release = crt_release,
	.close = crt_close,
	.sweep = crt_sweep,
	.free = crt_free,
};

struct runtime *runtime_crun_new(uv_loop_t *loop, const struct runtime_crun_opts *o, struct err **err)
{
	struct crt *rt = xcalloc(1, sizeof(*rt));
	rt->base.ops = &crt_ops;
	rt->base.loop = loop;
	rt->by_id = hmap_new();
	/* Absolute: crun, conmon and the mount table see these paths from other directories. */
	char cwd[4096];
	if (o->state_dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
		rt->dir = xasprintf("%s/%s/crun-runtime", cwd, o->state_dir);
	else
		rt->dir = xasprintf("%s/crun-runtime", o->state_dir);
	rt->tasks_dir = xasprintf("%s/tasks", rt->dir);
	rt->netns_dir = xasprintf("%s/netns", rt->dir);
	rt->spool_dir = xasprintf("%s/log-spool", rt->dir);
	char *crun_state = xasprintf("%s/crun", rt->dir), *ipam = xasprintf("%s/cni", rt->dir),
	     *images = xasprintf("%s/images", rt->dir);
	struct cni_conf cc = {.ipam_dir = ipam, .bridge = o->bridge, .subnet = o->subnet};
	struct crunrt_opts co = {.state_dir = crun_state};
	if ((mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(rt->dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(rt->tasks_dir, 0700) != 0 && errno != EEXIST)) {
		err_sys(err, errno, "create '%s'", rt->tasks_dir);
		goto fail;
	}
	if (crunrt_host_prepare(&rt->cg, err) < 0)
		goto fail;
	co.cgroups = &rt->cg;
	if (!(rt->crun = crunrt_new(&co, err)) || !(rt->net = cni_net_new(&cc, err)) ||
	    cni_host_prepare(rt->net, err) < 0)
		goto fail;
	if (!(rt->watch = crunrt_watch_exits(loop, crunrt_exit_dir(rt->crun), on_exit_file, rt, err)))
		goto fail;
	rt->http = hcli_new(loop);
	if (o->server && o->access_key && o->secret &&
	    !(rt->aws = awsc_new(rt->http, o->server, o->access_key, o->secret,
				 o->region ? o->region : "us-east-1", err)))
		goto fail;
	/* logs an earlier agent could not ship before their task's directory went */
	if (rt->aws && !(rt->spool = logspool_new(loop, rt->aws, rt->spool_dir, err)))
		goto fail;
	rt->ships_logs = rt->aws != NULL;
	logspool_drain(rt->spool);
	struct image_store_opts io = {.server = o->server, .aws = rt->aws};
	if (o->pull_behavior && image_pull_policy_parse(o->pull_behavior, &io.policy, err) < 0)
		goto fail;
	if (!(rt->images = image_store_new(loop, rt->http, images, &io, err)))
		goto fail;
	ocispec_rlimit_max(rt->rlimit_max);
	rt->caps = ocispec_cap_bounding();
	rt->host_resolv = read_small("/etc/resolv.conf");
	/* Host-mode containers reach the metadata endpoint on the host's loopback. Another agent on
	 * this host may hold the port: the containers here then go without one (a warning). */
	rt->meta = metadata_srv_new(loop, o->metadata_port);
	struct err *me = NULL;
	if (metadata_listen_addr(rt->meta, "127.0.0.1", 0, &me) < 0) {
		log_warn("task metadata endpoint on 127.0.0.1: %s", me->msg);
		err_free(me);
	}
	free(crun_state), free(ipam), free(images);
	return &rt->base;
fail:
	free(crun_state), free(ipam), free(images);
	crt_free(&rt->base);
	return NULL;
}
