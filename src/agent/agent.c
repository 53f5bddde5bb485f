/* The agent's instances: identity kept in the state directory, registration (and re-registration
 * with the stored ARN), the long-poll for desired state that doubles as the heartbeat, and the
 * `gantry agent` process around them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/agent-int.h"
#include "common/dirlock.h"
#include "common/fsx.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

#define ECS_PREFIX	 "AmazonEC2ContainerServiceV20141113."
#define POLL_TARGET	 "GantryAgent_20261122.Poll"
#define POLL_SLACK_MS	 15000 /* a held poll may take this much longer than waitSeconds */
#define STATE_FILE_MAX	 65536 /* an instance's state file is a few hundred bytes */
#define AZ_ATTR		 "ecs.availability-zone"
#define TYPE_ATTR	 "ecs.instance-type"
#define DOCKER_API_FIRST 17 /* com.amazonaws.ecs.capability.docker-remote-api.1.17 ... */
#define DOCKER_API_LAST	 44 /* ... 1.44, as a current ECS agent on a current Docker claims */

/* The capabilities an ECS agent on Linux registers that gantry's agent provides (or, for the fake
 * runtime, pretends to): whatever a task definition lists in requiresAttributes among these can be
 * placed here. Left out on purpose: EFS, FSx, Firelens, App Mesh, Elastic Inference, S3 env files
 * (services gantry does not have), and ecs.capability.external (that marks ECS Anywhere hosts). */
static const char *const capabilities[] = {
	"com.amazonaws.ecs.capability.privileged-container",
	"com.amazonaws.ecs.capability.logging-driver.json-file",
	"com.amazonaws.ecs.capability.logging-driver.awslogs",
	"com.amazonaws.ecs.capability.logging-driver.none",
	"com.amazonaws.ecs.capability.ecr-auth",
	"com.amazonaws.ecs.capability.task-iam-role",
	"com.amazonaws.ecs.capability.task-iam-role-network-host",
	"ecs.capability.docker-plugin.local",
	"ecs.capability.task-eni",
	"ecs.capability.execution-role-ecr-pull",
	"ecs.capability.execution-role-awslogs",
	"ecs.capability.container-health-check",
	"ecs.capability.private-registry-authentication.secretsmanager",
	"ecs.capability.secrets.ssm.environment-variables",
	"ecs.capability.secrets.asm.environment-variables",
	"ecs.capability.secrets.ssm.bootstrap.log-driver",
	"ecs.capability.secrets.asm.bootstrap.log-driver",
	"ecs.capability.pid-ipc-namespace-sharing",
	"ecs.capability.container-ordering",
	"ecs.capability.container-port-range",
	"ecs.capability.container-restart-policy",
	"ecs.capability.task-cpu-mem-limit",
};

/* The ports an ECS agent reserves by default (ECS_RESERVED_PORTS): SSH, Docker, the agent's own. */
static const char *const reserved_ports[] = {"22", "2375", "2376", "51678", "51679"};

static void poll_send(struct agent__inst *in);
static void register_send(struct agent__inst *in);

/* Host facts */

long long agent_host_cpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return 1024LL * (n > 0 ? n : 1);
}

long long agent_host_memory_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	char line[256];
	long long kib = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kib) == 1)
			break;
	fclose(f);
	long long mib = kib / 1024;
	/* A tiny host keeps all it has rather than nothing. */
	return mib > 2 * AGENT_MEMORY_RESERVE_MIB ? mib - AGENT_MEMORY_RESERVE_MIB : mib;
}

/* ECS's names for the architecture: x86_64 and arm64 (uname says aarch64). */
static const char *cpu_arch(char *buf, size_t n)
{
	struct utsname u;
	if (uname(&u) != 0)
		return "x86_64";
	if (strcmp(u.machine, "aarch64") == 0 || strcmp(u.machine, "arm64") == 0)
		return "arm64";
	snprintf(buf, n, "%s", u.machine);
	return buf;
}

static void attr_set(json_t *attrs, const char *name, const char *value)
{
	size_t i;
	json_t *at;
	json_array_foreach (attrs, i, at) {
		if (strcmp(json_string_value(json_object_get(at, "name")), name) == 0) {
			if (value)
				json_object_set_new(at, "value", json_string(value));
			else
				json_object_del(at, "value");
			return;
		}
	}
	at = json_object();
	jv_set_str(at, "name", name);
	jv_set_str(at, "value", value);
	json_array_append_new(attrs, at);
}

static json_t *build_attrs(const struct agent_opts *o)
{
	json_t *attrs = json_array();
	char arch[80];
	attr_set(attrs, "ecs.os-type", "linux");
	attr_set(attrs, "ecs.os-family", "LINUX");
	attr_set(attrs, "ecs.cpu-architecture", cpu_arch(arch, sizeof(arch)));
	for (int v = DOCKER_API_FIRST; v <= DOCKER_API_LAST; v++) {
		char name[80];
		snprintf(name, sizeof(name), "com.amazonaws.ecs.capability.docker-remote-api.1.%d", v);
		attr_set(attrs, name, NULL);
	}
	for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++)
		attr_set(attrs, capabilities[i], NULL);
	for (size_t i = 0; i < o->nattrs; i++) {
		const char *n = o->attrs[i].name;
		if (strcmp(n, AZ_ATTR) != 0 && strcmp(n, TYPE_ATTR) != 0)
			attr_set(attrs, n, o->attrs[i].value);
	}
	return attrs;
}

static json_t *build_resources(long long cpu, long long mem)
{
	json_t *ports = json_array();
	for (size_t i = 0; i < sizeof(reserved_ports) / sizeof(reserved_ports[0]); i++)
		json_array_append_new(ports, json_string(reserved_ports[i]));
	return json_pack("[{s:s,s:s,s:I},{s:s,s:s,s:I},{s:s,s:s,s:o},{s:s,s:s,s:[]}]", "name", "CPU", "type",
			 "INTEGER", "integerValue", (json_int_t)cpu, "name", "MEMORY", "type", "INTEGER",
			 "integerValue", (json_int_t)mem, "name", "PORTS", "type", "STRINGSET",
			 "stringSetValue", ports, "name", "PORTS_UDP", "type", "STRINGSET", "stringSetValue");
}

/* Identity: <state>/instance.json for a single agent, <state>/hollow-N.json for hollow ones. */

static bool valid_instance_id(const char *s)
{
	if (strncmp(s, "i-", 2) != 0 || strlen(s) < 3 || strlen(s) > 19)
		return false;
	return strspn(s + 2, "0123456789abcdef") == strlen(s + 2);
}

static void new_instance_id(char out[20])
{
	unsigned char r[9];
	char hex[19];
	ids_random(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(out, 20, "i-%.17s", hex);
}

/* Writes the instance's identity: a new file renamed over the old one, so that a crash leaves one
 * or the other, and fsynced, so that a host that loses power keeps its identity. */
static int state_save(struct agent__inst *in, struct err **err)
{
	if (!in->state_path)
		return 0;
	json_t *j = json_object();
	jv_set_str(j, "instanceId", in->id);
	jv_set_str(j, "cluster", in->a->cluster);
	jv_set_str(j, "containerInstanceArn", in->arn);
	char *text = jv_dump(j);
	json_decref(j);
	int rc = fsx_write_file(in->state_path, text, strlen(text), 0600, true, err);
	free(text);
	return rc;
}

static void state_save_logged(struct agent__inst *in)
{
	struct err *e = NULL;
	if (state_save(in, &e) < 0) {
		log_warn(AGENT__LOG_FMT "cannot keep the identity: %s", AGENT__LOG(in), e->msg);
		err_free(e);
	}
}

/* Reads the instance's identity, or makes a new one. The stored ARN is used only for the cluster
 * it was registered in. */
static int state_load(struct agent__inst *in, struct err **err)
{
	struct agent *a = in->a;
	if (!in->state_path) {
		new_instance_id(in->id);
		return 0;
	}
	int rc = -1;
	json_t *j = NULL;
	char *text = NULL;
	FILE *f = fopen(in->state_path, "r");
	if (!f && errno == ENOENT) {
		new_instance_id(in->id);
		return state_save(in, err);
	}
	if (!f)
		return err_sys(err, errno, "read %s", in->state_path);
	text = xmalloc(STATE_FILE_MAX + 1);
	size_t n = fread(text, 1, STATE_FILE_MAX + 1, f);
	if (ferror(f) || n > STATE_FILE_MAX) {
		err_set(err, ERR_INVALID_PARAM, "read %s: unreadable or larger than %d bytes", in->state_path,
			STATE_FILE_MAX);
		goto out;
	}
	j = jv_parse(text, n, err);
	const char *id = NULL, *cluster = NULL, *arn = NULL;
	if (!j || jv_str(j, "instanceId", true, &id, err) < 0 ||
	    jv_str(j, "cluster", false, &cluster, err) < 0 ||
	    jv_str(j, "containerInstanceArn", false, &arn, err) < 0)
		goto bad;
	if (!valid_instance_id(id)) {
		err_set(err, ERR_INVALID_PARAM, "instanceId '%s' is not an instance id", id);
		goto bad;
	}
	snprintf(in->id, sizeof(in->id), "%s", id);
	if (arn && cluster && strcmp(cluster, a->cluster) == 0)
		in->arn = xstrdup(arn);
	rc = 0;
	goto out;
bad:
	err_prefix(err, "%s (remove it to register as a new instance)", in->state_path);
out:
	json_decref(j);
	free(text);
	fclose(f);
	return rc;
}

/* Instance life */

static void on_exit_timer(uv_timer_t *h)
{
	struct agent *a = h->data;
	if (a->on_exit)
		a->on_exit(a->on_exit_arg, a->exit_status);
}

static void inst_done(struct agent__inst *in, int status)
{
	struct agent *a = in->a;
	if (in->phase == AP_DONE)
		return;
	in->phase = AP_DONE;
	uv_timer_stop(&in->timer);
	if (status > a->exit_status)
		a->exit_status = status;
	if (--a->live == 0)
		uv_timer_start(&a->exit_timer, on_exit_timer, 0, 0);
}

void agent__inst_tasks_gone(struct agent__inst *in)
{
	if (in->phase == AP_EXITING) {
		log_info(AGENT__LOG_FMT "deregistered: every task is stopped, exiting", AGENT__LOG(in));
		inst_done(in, 0);
	}
}

static void on_retry_timer(uv_timer_t *h)
{
	struct agent__inst *in = h->data;
	if (in->phase == AP_REGISTERING)
		register_send(in);
	else if (in->phase == AP_POLLING)
		poll_send(in);
}

static void retry_later(struct agent__inst *in)
{
	uv_timer_start(&in->timer, on_retry_timer, agent__backoff(in->a, &in->backoff_ms), 0);
}

/* Registration */

static void on_cluster_created(void *arg, const struct awsc_result *r)
{
	struct agent__inst *in = arg;
	in->req = NULL;
	if (in->a->closing)
		return;
	if (!r->out && agent__retryable(r)) {
		retry_later(in);
		return;
	}
	/* Every hollow agent that met the missing cluster asks (CreateCluster is idempotent); one
	 * line says it. */
	if (r->out && !in->a->cluster_created) {
		in->a->cluster_created = true;
		log_info("created cluster %s", in->a->cluster);
	}
	register_send(in);
}

static void on_registered(void *arg, const struct awsc_result *r)
{
	struct agent__inst *in = arg;
	struct agent *a = in->a;
	in->req = NULL;
	if (a->closing)
		return;
	const char *arn = json_string_value(
		json_object_get(json_object_get(r->out, "containerInstance"), "containerInstanceArn"));
	if (r->out && arn) {
		bool changed = !in->arn || strcmp(in->arn, arn) != 0;
		free(in->arn);
		in->arn = xstrdup(arn);
		if (changed)
			state_save_logged(in);
		/* Hollow agents by the thousand log one line for all. */
		if (a->count == 1)
			log_info(AGENT__LOG_FMT "registered in cluster %s as %s", AGENT__LOG(in), a->cluster,
				 arn);
		else
			log_debug(AGENT__LOG_FMT "registered in cluster %s as %s", AGENT__LOG(in), a->cluster,
				  arn);
		if (!in->was_registered) {
			in->was_registered = true;
			if (++a->registered == a->count && a->count > 1)
				log_info("all %u instances registered in cluster %s", a->count, a->cluster);
		}
		in->backoff_ms = 0;
		in->unreachable = false;
		in->phase = AP_POLLING;
		in->version = 0; /* the first poll is answered at once, with the whole desired state */
		poll_send(in);
		return;
	}
	const char *type = r->error_type ? r->error_type : "";
	const char *msg = r->message ? r->message : "the answer names no containerInstanceArn";
	if (r->out || agent__retryable(r)) {
		if (!in->unreachable)
			log_warn(AGENT__LOG_FMT "cannot register yet, retrying with back-off: %s%s%s",
				 AGENT__LOG(in), type, *type ? ": " : "", msg);
		in->unreachable = true;
		retry_later(in);
		return;
	}
	/* What a newcomer's first start meets: like the ECS agent, create the default cluster. */
	if (strcmp(type, "ClusterNotFoundException") == 0 && strcmp(a->cluster, AGENT_DEFAULT_CLUSTER) == 0 &&
	    !in->created_cluster) {
		in->created_cluster = true;
		json_t *body = json_pack("{s:s}", "clusterName", a->cluster);
		in->req = awsc_call(a->aws, ECS_PREFIX "CreateCluster", "ecs", body, AGENT_CALL_TIMEOUT_MS,
				    on_cluster_created, in);
		json_decref(body);
		return;
	}
	/* The stored ARN is refused (the instance was deregistered, or the server's state is new):
	 * the server cannot give its tasks back, so register as a new instance with the same id. */
	if (in->arn &&
	    (strcmp(type, "InvalidParameterException") == 0 || strcmp(type, "ClientException") == 0)) {
		log_warn(AGENT__LOG_FMT
			 "re-registration as %s refused (%s%s%s); registering as a new instance",
			 AGENT__LOG(in), in->arn, type, *type ? ": " : "", msg);
		free(in->arn);
		in->arn = NULL;
		state_save_logged(in);
		register_send(in);
		return;
	}
	log_error(AGENT__LOG_FMT "registration refused: %s%s%s", AGENT__LOG(in), type, *type ? ": " : "",
		  msg);
	inst_done(in, 1);
}

static void register_send(struct agent__inst *in)
{
	struct agent *a = in->a;
	in->phase = AP_REGISTERING;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "instanceId", in->id, "availabilityZone", a->az,
				"region", a->region, "instanceType", a->instance_type);
	char *doc_text = jv_dump(doc);
	json_decref(doc);
	json_t *body = json_pack("{s:s,s:s,s:O,s:{s:s,s:s,s:s},s:O}", "cluster", a->cluster,
				 "instanceIdentityDocument", doc_text, "totalResources", a->resources,
				 "versionInfo", "agentVersion", AGENT_VERSION, "agentHash", "gantry",
				 "dockerVersion", runtime_name(a->rt), "attributes", a->attrs);
	free(doc_text);
	jv_set_str(body, "containerInstanceArn", in->arn);
	in->req = awsc_call(a->aws, ECS_PREFIX "RegisterContainerInstance", "ecs", body,
			    AGENT_CALL_TIMEOUT_MS, on_registered, in);
	json_decref(body);
}

/* The poll */

static void on_polled(void *arg, const struct awsc_result *r)
{
	struct agent__inst *in = arg;
	struct agent *a = in->a;
	in->req = NULL;
	if (a->closing || in->phase != AP_POLLING)
		return;
	json_t *version = json_object_get(r->out, "version");
	if (!r->out || !json_is_integer(version)) {
		/* Log the first failure of a streak only: a thousand hollow agents would otherwise
		 * repeat it every few seconds each. */
		if (!in->unreachable)
			log_warn(AGENT__LOG_FMT "poll failed, retrying with back-off: %s%s%s", AGENT__LOG(in),
				 r->error_type ? r->error_type : "", r->error_type ? ": " : "",
				 r->message ? r->message : "the answer has no version");
		in->unreachable = true;
		/* The server does not know the instance (its state is new, or the instance was purged):
		 * register again, with the stored ARN first. */
		if (!r->out && !agent__retryable(r) && r->error_type &&
		    (strcmp(r->error_type, "InvalidParameterException") == 0 ||
		     strcmp(r->error_type, "ClientException") == 0 ||
		     strcmp(r->error_type, "ClusterNotFoundException") == 0))
			in->phase = AP_REGISTERING;
		retry_later(in);
		return;
	}
	if (in->unreachable)
		log_info(AGENT__LOG_FMT "poll answered again", AGENT__LOG(in));
	in->unreachable = false;
	in->backoff_ms = 0;
	in->version = (long long)json_integer_value(version);
	/* A held poll must end well within the server's heartbeat timeout, so that the poll after
	 * it proves the agent alive in time. */
	json_int_t hb = json_integer_value(json_object_get(r->out, "heartbeatTimeoutSeconds"));
	unsigned wait = a->poll_wait_max_s;
	if (hb > 0 && (json_int_t)wait > hb / 2)
		wait = hb >= 2 ? (unsigned)(hb / 2) : 1;
	a->poll_wait_s = wait;
	const char *status = json_string_value(json_object_get(r->out, "status"));
	if (status && strcmp(status, "INACTIVE") == 0) {
		log_info(AGENT__LOG_FMT "the instance was deregistered: stopping %zu task(s)", AGENT__LOG(in),
			 in->ntasks);
		in->phase = AP_EXITING;
		/* The ARN is dead: a later start registers a new instance (keeping the instance id). */
		free(in->arn);
		in->arn = NULL;
		state_save_logged(in);
		agent__stop_all(in);
		if (!in->tasks)
			agent__inst_tasks_gone(in);
		return;
	}
	json_t *tasks = json_object_get(r->out, "tasks");
	bool full = in->polled_version == 0;
	if (agent__reconcile(in, json_is_array(tasks) ? tasks : NULL, full))
		in->version = 0;
	else if (full && !a->swept) {
		a->swept = true;
		runtime_sweep(a->rt); /* every task the server wants here is claimed now */
	}
	if (in->phase == AP_POLLING && !a->closing)
		poll_send(in);
}

static void poll_send(struct agent__inst *in)
{
	struct agent *a = in->a;
	in->polled_version = in->version;
	json_t *body = json_pack("{s:s,s:s,s:I,s:i}", "cluster", a->cluster, "containerInstance", in->arn,
				 "version", (json_int_t)in->version, "waitSeconds", (int)a->poll_wait_s);
	in->req = awsc_call(a->aws, POLL_TARGET, "ecs", body, (long)a->poll_wait_s * 1000 + POLL_SLACK_MS,
			    on_polled, in);
	json_decref(body);
}

/* The agent */

static char *dup_or(const char *s, const char *dflt)
{
	return xstrdup(s && *s ? s : dflt);
}

struct agent *agent_new(uv_loop_t *loop, const struct agent_opts *o, struct runtime *rt, struct err **err)
{
	if (!o->access_key || !*o->access_key || !o->secret || !*o->secret) {
		err_set(err, ERR_INVALID_PARAM,
			"no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		return NULL;
	}
	unsigned count = o->count ? o->count : 1;
	if (count > AGENT_COUNT_MAX) {
		err_set(err, ERR_INVALID_PARAM, "count %u exceeds %d", count, AGENT_COUNT_MAX);
		return NULL;
	}
	if (o->nattrs > AGENT_ATTRS_MAX) {
		err_set(err, ERR_INVALID_PARAM, "more than %d attributes", AGENT_ATTRS_MAX);
		return NULL;
	}
	for (size_t i = 0; i < o->nattrs; i++) {
		if (!o->attrs[i].name || !*o->attrs[i].name) {
			err_set(err, ERR_INVALID_PARAM, "an attribute needs a name");
			return NULL;
		}
	}
	long long cpu = o->cpu ? o->cpu : agent_host_cpu();
	long long mem = o->memory_mib ? o->memory_mib : agent_host_memory_mib();
	if (cpu <= 0 || mem <= 0) {
		err_set(err, ERR_INVALID_PARAM, "%s must be positive",
			cpu <= 0 ? "CPU units" : "memory (cannot read /proc/meminfo: pass --memory)");
		return NULL;
	}
	struct agent *a = xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->rt = rt;
	a->lock_fd = -1;
	a->cluster = dup_or(o->cluster, AGENT_DEFAULT_CLUSTER);
	a->region = dup_or(o->region, AGENT_DEFAULT_REGION);
	a->state_dir = xstrdup(o->state_dir);
	for (size_t i = 0; i < o->nattrs; i++) {
		if (strcmp(o->attrs[i].name, AZ_ATTR) == 0 && o->attrs[i].value) {
			free(a->az);
			a->az = xstrdup(o->attrs[i].value);
		} else if (strcmp(o->attrs[i].name, TYPE_ATTR) == 0 && o->attrs[i].value) {
			free(a->instance_type);
			a->instance_type = xstrdup(o->attrs[i].value);
		}
	}
	if (!a->az)
		a->az = xasprintf("%sa", a->region);
	if (!a->instance_type)
		a->instance_type = xstrdup(AGENT_DEFAULT_INSTANCE);
	a->attrs = build_attrs(o);
	a->resources = build_resources(cpu, mem);
	a->poll_wait_max_s = o->poll_wait_s ? o->poll_wait_s : AGENT_POLL_WAIT_S;
	a->poll_wait_s = a->poll_wait_max_s;
	a->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : AGENT_BACKOFF_MIN_MS;
	a->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : AGENT_BACKOFF_MAX_MS;
	if (a->backoff_max_ms < a->backoff_min_ms)
		a->backoff_max_ms = a->backoff_min_ms;
	a->on_exit = o->on_exit;
	a->on_exit_arg = o->on_exit_arg;
	a->count = count;
	a->insts = xcalloc(count, sizeof(*a->insts));
	uv_timer_init(loop, &a->exit_timer);
	a->exit_timer.data = a;
	a->handles = 1;
	for (unsigned i = 0; i < count; i++) {
		struct agent__inst *in = &a->insts[i];
		in->a = a;
		in->index = i;
		uv_timer_init(loop, &in->timer);
		uv_timer_init(loop, &in->report_timer);
		in->timer.data = in->report_timer.data = in;
		a->handles += 2;
	}
	a->http = hcli_new(loop);
	a->aws = awsc_new(a->http, o->server ? o->server : AGENT_DEFAULT_SERVER, o->access_key, o->secret,
			  a->region, err);
	if (!a->aws)
		goto fail;
	if (a->state_dir && dirlock_take(a->state_dir, "gantry agent", &a->lock_fd, err) < 0)
		goto fail;
	for (unsigned i = 0; i < count; i++) {
		struct agent__inst *in = &a->insts[i];
		if (a->state_dir)
			in->state_path = count == 1 ? xasprintf("%s/instance.json", a->state_dir)
						    : xasprintf("%s/hollow-%u.json", a->state_dir, i + 1);
		if (state_load(in, err) < 0)
			goto fail;
	}
	return a;
fail:
	agent_free(a);
	return NULL;
}

void agent_start(struct agent *a)
{
	a->live = a->count;
	for (unsigned i = 0; i < a->count; i++)
		register_send(&a->insts[i]);
}

/* The agent's memory goes with its last loop handle. */
static void handle_gone(struct agent *a)
{
	if (--a->handles > 0)
		return;
	for (unsigned i = 0; i < a->count; i++) {
		free(a->insts[i].arn);
		free(a->insts[i].state_path);
	}
	free(a->insts);
	free(a);
}

static void on_inst_timer_closed(uv_handle_t *h)
{
	handle_gone(((struct agent__inst *)h->data)->a);
}

static void on_exit_timer_closed(uv_handle_t *h)
{
	handle_gone(h->data);
}

void agent_free(struct agent *a)
{
	if (!a || a->closing)
		return;
	a->closing = true;
	for (unsigned i = 0; i < a->count; i++) {
		struct agent__inst *in = &a->insts[i];
		hcli_cancel(in->req);
		agent__free_tasks(in);
		uv_close((uv_handle_t *)&in->timer, on_inst_timer_closed);
		uv_close((uv_handle_t *)&in->report_timer, on_inst_timer_closed);
	}
	awsc_free(a->aws);
	hcli_free(a->http);
	json_decref(a->attrs);
	json_decref(a->resources);
	free(a->cluster);
	free(a->region);
	free(a->state_dir);
	free(a->az);
	free(a->instance_type);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	uv_close((uv_handle_t *)&a->exit_timer, on_exit_timer_closed);
}

const char *agent_instance_arn(const struct agent *a, unsigned i)
{
	return i < a->count ? a->insts[i].arn : NULL;
}

const char *agent_instance_id(const struct agent *a, unsigned i)
{
	return i < a->count ? a->insts[i].id : NULL;
}

size_t agent_task_count(const struct agent *a, unsigned i)
{
	return i < a->count ? a->insts[i].ntasks : 0;
}

/* The process */

struct agent_proc {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct agent *agent;
	struct runtime *rt;
	int status;
	bool stopped;
};

static void proc_stop(struct agent_proc *p)
{
	if (p->stopped)
		return;
	p->stopped = true;
	uv_close((uv_handle_t *)&p->sigint, NULL);
	uv_close((uv_handle_t *)&p->sigterm, NULL);
	agent_free(p->agent);
	p->agent = NULL;
	runtime_close(p->rt); /* after the agent released its tasks */
}

/* A stopping agent leaves its containers as they are; a real one re-adopts them when it comes back. */
static void on_signal(uv_signal_t *h, int signum)
{
	struct agent_proc *p = h->data;
	log_info("received signal %d, stopping (tasks are left as they are)", signum);
	proc_stop(p);
}

static void on_all_exited(void *arg, int status)
{
	struct agent_proc *p = arg;
	p->status = status;
	proc_stop(p);
}

/* One long-poll per hollow agent is one descriptor each: lift the soft limit to the hard one. */
static void raise_nofile(unsigned count)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open-file limit: %s", strerror(errno));
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)count * 2 + 64)
		log_warn("the open-file limit (%" PRIu64 ") is low for %u agents", (uint64_t)rl.rlim_cur,
			 count);
}

int agent_run(const struct agent_opts *o, const char *runtime_name, const struct runtime_fake_opts *fake_opts,
	      struct err **err)
{
	struct agent_proc p;
	memset(&p, 0, sizeof(p));
	struct runtime *rt = NULL;
	int rc = -1;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(o->count ? o->count : 1);
	if (uv_loop_init(&p.loop) != 0)
		return err_set(err, ERR_SYS, "cannot create the event loop");
	/* Signals first: reading (or creating) a thousand identities can take a while, and a signal
	 * meanwhile must not be lost. It is handled once the loop runs. */
	uv_signal_init(&p.loop, &p.sigint);
	uv_signal_init(&p.loop, &p.sigterm);
	p.sigint.data = p.sigterm.data = &p;
	uv_signal_start(&p.sigint, on_signal, SIGINT);
	uv_signal_start(&p.sigterm, on_signal, SIGTERM);
	struct runtime_crun_opts co = {
		.state_dir = o->state_dir,
		.server = o->server ? o->server : AGENT_DEFAULT_SERVER,
		.access_key = o->access_key,
		.secret = o->secret,
		.region = o->region,
		.bridge = o->bridge,
		.subnet = o->subnet,
		.metadata_port = o->metadata_port,
		.pull_behavior = o->pull_behavior,
	};
	struct runtime_opts ro = {.fake = fake_opts, .crun = &co};
	rt = runtime_new(&p.loop, runtime_name, &ro, err);
	p.rt = rt;
	struct agent_opts ao = *o;
	ao.on_exit = on_all_exited;
	ao.on_exit_arg = &p;
	if (rt)
		p.agent = agent_new(&p.loop, &ao, rt, err);
	if (!p.agent) {
		proc_stop(&p);
		goto out;
	}
	log_info("gantry agent %s: %u instance(s) in cluster %s, runtime %s", AGENT_VERSION, p.agent->count,
		 p.agent->cluster, runtime_name);
	agent_start(p.agent);
	uv_run(&p.loop, UV_RUN_DEFAULT);
	rc = 0;
	if (p.status != 0)
		rc = err_set(err, ERR_CLIENT, "the server refused to register the agent");
out:
	uv_run(&p.loop, UV_RUN_DEFAULT); /* let closing handles finish */
	runtime_free(rt);
	if (uv_loop_close(&p.loop) != 0)
		log_warn("event loop closed with handles still open");
	return rc;
}
