/* The agent against a scripted server (an hsrv on the test's loop that answers the protocol's calls
 * from canned state): registration and re-registration, the poll loop, reconciliation, reports and
 * their retries, back-off, deregistration, hollow agents; and the fake runtime on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/runtime.h"
#include "common/clock.h"
#include "common/hsrv.h"
#include "common/jv.h"
#include "common/xalloc.h"

#define KEY	 "GKIATESTACCOUNTAAAAA"
#define SECRET	 "secretA/0123456789abcdefghijklmnopqrstuv"
#define ARN_PFX	 "arn:aws:ecs:us-east-1:111111111111:container-instance/default/"
#define TASK_A	 "arn:aws:ecs:us-east-1:111111111111:task/default/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TASK_B	 "arn:aws:ecs:us-east-1:111111111111:task/default/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HELD_MAX 64

struct held {
	struct hreq *req;
	char arn[160];
};

/* The scripted server. Each instance's desired state is {"version", "status", "tasks"}. */
struct fake {
	uv_loop_t *loop;
	struct hsrv *srv;
	int port;
	char url[64];
	json_t *calls;	  /* [{"op", "body", "ms"}] in arrival order */
	json_t *insts;	  /* arn -> desired state */
	int next_inst;	  /* for ARNs */
	bool no_cluster;  /* RegisterContainerInstance: ClusterNotFoundException until CreateCluster */
	const char *deny; /* RegisterContainerInstance answers 400 with this __type */
	int fail_polls;	  /* the next polls answered 503 */
	int fail_reports; /* the next SubmitTaskStateChange answered 503 */
	const char *refuse_reports; /* SubmitTaskStateChange answered 400 with this __type */
	bool strip_specs;	    /* answers to polls with a version other than 0 carry no specs */
	struct held held[HELD_MAX];
	size_t nheld;
};

static void respond_json(struct hreq *req, unsigned status, json_t *j)
{
	char *s = jv_dump(j);
	json_decref(j);
	hreq_respond(req, status, "application/x-amz-json-1.1", s, strlen(s));
}

static void respond_error(struct hreq *req, unsigned status, const char *type, const char *msg)
{
	respond_json(req, status, json_pack("{s:s,s:s}", "__type", type, "message", msg));
}

static json_t *inst_state(struct fake *f, const char *arn)
{
	return json_object_get(f->insts, arn);
}

/* strip: leave out each task's spec (a server that believes the agent has them). */
static json_t *poll_answer(json_t *st, bool strip)
{
	json_t *tasks = json_deep_copy(json_object_get(st, "tasks"));
	size_t i;
	json_t *e;
	json_array_foreach (tasks, i, e) {
		if (strip) {
			json_object_del(e, "task");
			json_object_del(e, "taskDefinition");
		}
	}
	return json_pack("{s:O,s:O,s:i,s:o}", "version", json_object_get(st, "version"), "status",
			 json_object_get(st, "status"), "heartbeatTimeoutSeconds", 60, "tasks", tasks);
}

static void fake_handle(void *arg, struct hreq *req)
{
	struct fake *f = arg;
	const char *target = hreq_header(req, "X-Amz-Target");
	const char *auth = hreq_header(req, "Authorization");
	const struct buf *b = hreq_body(req);
	json_t *in = json_loadb(b->p, b->len, 0, NULL);
	const char *op = target && strchr(target, '.') ? strchr(target, '.') + 1 : "";
	json_array_append_new(f->calls, json_pack("{s:s,s:o,s:I}", "op", op, "body", in ? in : json_object(),
						  "ms", (json_int_t)clock_mono_ms()));
	if (!auth || strncmp(auth, "AWS4-HMAC-SHA256 Credential=" KEY "/", 37) != 0) {
		respond_error(req, 403, "MissingAuthenticationTokenException", "unsigned");
		return;
	}
	if (strcmp(op, "CreateCluster") == 0) {
		f->no_cluster = false;
		respond_json(req, 200, json_pack("{s:{s:s}}", "cluster", "clusterName", "default"));
	} else if (strcmp(op, "RegisterContainerInstance") == 0) {
		const char *reuse = json_string_value(json_object_get(in, "containerInstanceArn"));
		if (f->deny) {
			respond_error(req, 400, f->deny, "denied");
		} else if (f->no_cluster) {
			respond_error(req, 400, "ClusterNotFoundException", "Cluster not found.");
		} else if (reuse && !inst_state(f, reuse)) {
			respond_error(req, 400, "InvalidParameterException",
				      "not a registered container instance");
		} else {
			char *arn = reuse ? xstrdup(reuse) : xasprintf(ARN_PFX "%032d", ++f->next_inst);
			if (!reuse)
				json_object_set_new(f->insts, arn,
						    json_pack("{s:i,s:s,s:[]}", "version", 1, "status",
							      "ACTIVE", "tasks"));
			respond_json(req, 200,
				     json_pack("{s:{s:s,s:s}}", "containerInstance", "containerInstanceArn",
					       arn, "status", "ACTIVE"));
			free(arn);
		}
	} else if (strcmp(op, "Poll") == 0) {
		const char *arn = json_string_value(json_object_get(in, "containerInstance"));
		json_t *st = arn ? inst_state(f, arn) : NULL;
		if (f->fail_polls > 0) {
			f->fail_polls--;
			respond_error(req, 503, "ServiceUnavailableException", "busy");
		} else if (!st) {
			respond_error(req, 400, "InvalidParameterException", "container instance not found");
		} else if (json_integer_value(json_object_get(in, "version")) !=
				   json_integer_value(json_object_get(st, "version")) ||
			   f->nheld == HELD_MAX) {
			respond_json(req, 200,
				     poll_answer(st, f->strip_specs && json_integer_value(json_object_get(
									       in, "version")) != 0));
		} else {
			f->held[f->nheld].req = req;
			snprintf(f->held[f->nheld].arn, sizeof(f->held[0].arn), "%s", arn);
			f->nheld++;
		}
	} else if (strcmp(op, "SubmitTaskStateChange") == 0 ||
		   strcmp(op, "SubmitContainerStateChange") == 0) {
		if (f->fail_reports > 0) {
			f->fail_reports--;
			respond_error(req, 503, "ServiceUnavailableException", "busy");
		} else if (f->refuse_reports) {
			respond_error(req, 400, f->refuse_reports, "The referenced task was not found.");
		} else {
			respond_json(req, 200, json_pack("{s:s}", "acknowledgment", "true"));
		}
	} else {
		respond_error(req, 400, "UnknownOperationException", op);
	}
}

static void fake_listen(struct fake *f, int port)
{
	struct err *e = NULL;
	struct sockaddr_storage addr;
	char where[32];
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	assert_int_equal(hsrv_parse_addr(where, &addr, &e), 0);
	f->srv = hsrv_start(f->loop, &addr, 1 << 20, fake_handle, f, &e);
	assert_non_null(f->srv);
	f->port = hsrv_port(f->srv);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
}

static void fake_open(struct fake *f, uv_loop_t *loop)
{
	memset(f, 0, sizeof(*f));
	f->loop = loop;
	f->calls = json_array();
	f->insts = json_object();
	fake_listen(f, 0);
}

/* Stops listening; held polls are answered 503 by hsrv_stop. */
static void fake_stop(struct fake *f)
{
	f->nheld = 0;
	hsrv_stop(f->srv);
	f->srv = NULL;
}

static void fake_close(struct fake *f)
{
	fake_stop(f);
	json_decref(f->calls);
	json_decref(f->insts);
}

/* Sets an instance's desired state (a new version) and answers its held polls. tasks is stolen. */
static void fake_publish(struct fake *f, const char *arn, const char *status, json_t *tasks)
{
	json_t *st = inst_state(f, arn);
	assert_non_null(st);
	json_object_set_new(st, "version",
			    json_integer(json_integer_value(json_object_get(st, "version")) + 1));
	json_object_set_new(st, "status", json_string(status));
	json_object_set_new(st, "tasks", tasks);
	for (size_t i = 0; i < f->nheld;) {
		if (strcmp(f->held[i].arn, arn) == 0) {
			respond_json(f->held[i].req, 200, poll_answer(st, f->strip_specs));
			f->held[i] = f->held[--f->nheld];
		} else {
			i++;
		}
	}
}

/* Calls of operation op so far. */
static size_t count_calls(struct fake *f, const char *op)
{
	size_t n = 0, i;
	json_t *c;
	json_array_foreach (f->calls, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "op")), op) == 0)
			n++;
	}
	return n;
}

/* The body of the k-th (0-based) call of op (borrowed), or NULL. */
static json_t *nth_call(struct fake *f, const char *op, size_t k)
{
	size_t i;
	json_t *c;
	json_array_foreach (f->calls, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "op")), op) == 0 && k-- == 0)
			return json_object_get(c, "body");
	}
	return NULL;
}

static long long nth_call_ms(struct fake *f, const char *op, size_t k)
{
	size_t i;
	json_t *c;
	json_array_foreach (f->calls, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "op")), op) == 0 && k-- == 0)
			return json_integer_value(json_object_get(c, "ms"));
	}
	return -1;
}

static json_t *last_call(struct fake *f, const char *op)
{
	size_t n = count_calls(f, op);
	return n ? nth_call(f, op, n - 1) : NULL;
}

/* The test's world: a loop, the scripted server, an agent with a fake runtime. */
struct world {
	uv_loop_t loop;
	struct fake f;
	struct runtime *rt;
	struct agent *a;
	char dir[64];
	int exits, exit_status;
};

static void on_exit_cb(void *arg, int status)
{
	struct world *w = arg;
	w->exits++;
	w->exit_status = status;
}

static void world_open(struct world *w, const struct runtime_fake_opts *fo)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(uv_loop_init(&w->loop), 0);
	fake_open(&w->f, &w->loop);
	struct runtime_fake_opts none = {0};
	w->rt = runtime_fake_new(&w->loop, fo ? fo : &none);
	snprintf(w->dir, sizeof(w->dir), "/tmp/gantry-agent.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
}

static struct agent_opts world_opts(struct world *w)
{
	struct agent_opts o = {
		.server = w->f.url,
		.access_key = KEY,
		.secret = SECRET,
		.cpu = 4096,
		.memory_mib = 8000,
		.state_dir = w->dir,
		.poll_wait_s = 20,
		.backoff_min_ms = 50,
		.backoff_max_ms = 200,
		.on_exit = on_exit_cb,
		.on_exit_arg = w,
	};
	return o;
}

static void agent_up(struct world *w, const struct agent_opts *o)
{
	struct err *e = NULL;
	w->a = agent_new(&w->loop, o, w->rt, &e);
	if (!w->a)
		fail_msg("agent_new: %s", e->msg);
	agent_start(w->a);
}

static void agent_down(struct world *w)
{
	agent_free(w->a);
	w->a = NULL;
	uv_run(&w->loop, UV_RUN_NOWAIT);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void world_close(struct world *w)
{
	agent_free(w->a);
	fake_close(&w->f);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	runtime_free(w->rt);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	rm_dir(w->dir);
}

static void on_guard(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop until cond(w) holds; fails the test after ms. */
static void run_until_(struct world *w, bool (*cond)(struct world *, const void *), const void *arg,
		       unsigned ms, const char *what)
{
	bool expired = false;
	uv_timer_t guard;
	uv_timer_init(&w->loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, on_guard, ms, 0);
	while (!cond(w, arg) && !expired)
		uv_run(&w->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&w->loop, UV_RUN_NOWAIT);
	if (expired && !cond(w, arg))
		fail_msg("timed out waiting for %s", what);
}

static bool has_calls(struct world *w, const void *arg)
{
	const char *spec = arg; /* "Op:N" */
	const char *colon = strchr(spec, ':');
	char op[64];
	snprintf(op, sizeof(op), "%.*s", (int)(colon - spec), spec);
	return count_calls(&w->f, op) >= (size_t)strtoul(colon + 1, NULL, 10);
}
#define run_until_calls(w, spec) run_until_(w, has_calls, spec, 5000, spec)

/* Runs the loop for ms, whatever happens. */
static void run_for(struct world *w, unsigned ms)
{
	bool expired = false;
	uv_timer_t guard;
	uv_timer_init(&w->loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, on_guard, ms, 0);
	while (!expired)
		uv_run(&w->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&w->loop, UV_RUN_NOWAIT);
}

static bool tasks_are(struct world *w, const void *arg)
{
	return agent_task_count(w->a, 0) == *(const size_t *)arg;
}

static bool exited(struct world *w, const void *arg)
{
	(void)arg;
	return w->exits > 0;
}

/* A desired-state entry: a task of two containers, "app" (essential, a port the server bound to
 * 49153) and "side" (not essential); env (may be NULL) is side's environment. */
static json_t *entry(const char *arn, const char *desired, json_t *env)
{
	json_t *side = json_pack("{s:s,s:b}", "name", "side", "essential", 0);
	if (env)
		json_object_set_new(side, "environment", env);
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:[{s:s,s:[{s:s,s:i,s:i,s:s}]},{s:s}],s:{s:[{s:s,s:[s]}]}},"
			 "s:{s:s,s:[{s:s,s:b,s:[{s:i,s:i}]},o]}}",
			 "taskArn", arn, "desiredStatus", desired, "lastStatus", "PENDING", "task", "taskArn",
			 arn, "lastStatus", "PENDING", "containers", "name", "app", "networkBindings",
			 "bindIP", "0.0.0.0", "containerPort", 80, "hostPort", 49153, "protocol", "tcp",
			 "name", "side", "overrides", "containerOverrides", "name", "app", "command", "sleep",
			 "taskDefinition", "family", "web", "containerDefinitions", "name", "app",
			 "essential", 1, "portMappings", "containerPort", 80, "hostPort", 0, side);
}

static json_t *find_container(json_t *report, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (json_object_get(report, "containers"), i, c) {
		if (strcmp(json_string_value(json_object_get(c, "containerName")), name) == 0)
			return c;
	}
	return NULL;
}

static bool has_attr(json_t *attrs, const char *name, const char *value)
{
	size_t i;
	json_t *a;
	json_array_foreach (attrs, i, a) {
		if (strcmp(json_string_value(json_object_get(a, "name")), name) != 0)
			continue;
		const char *v = json_string_value(json_object_get(a, "value"));
		return value ? v && strcmp(v, value) == 0 : v == NULL;
	}
	return false;
}

static long long resource(json_t *reg, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(reg, "totalResources"), i, r) {
		if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			return json_integer_value(json_object_get(r, "integerValue"));
	}
	return -1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *s = xcalloc(1, 4096);
	size_t n = fread(s, 1, 4095, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* Registration */

static void test_register_then_reregister_with_stored_arn(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_attr attrs[] = {{"stack", "prod"},
				     {"gpu", NULL},
				     {"ecs.availability-zone", "us-east-1c"},
				     {"ecs.os-type", "linux"}};
	struct agent_opts o = world_opts(&w);
	o.attrs = attrs;
	o.nattrs = 4;
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:1");

	json_t *reg = nth_call(&w.f, "RegisterContainerInstance", 0);
	assert_string_equal(json_string_value(json_object_get(reg, "cluster")), "default");
	assert_null(json_object_get(reg, "containerInstanceArn"));
	assert_int_equal(resource(reg, "CPU"), 4096);
	assert_int_equal(resource(reg, "MEMORY"), 8000);
	char *ports = jv_dump(json_object_get(reg, "totalResources"));
	assert_non_null(strstr(ports, "\"stringSetValue\":[\"22\",\"2375\",\"2376\",\"51678\",\"51679\"]"));
	free(ports);
	json_t *al = json_object_get(reg, "attributes");
	assert_true(has_attr(al, "ecs.os-type", "linux"));
	assert_true(has_attr(al, "stack", "prod"));
	assert_true(has_attr(al, "gpu", NULL));
	assert_true(has_attr(al, "com.amazonaws.ecs.capability.docker-remote-api.1.17", NULL));
	assert_true(has_attr(al, "com.amazonaws.ecs.capability.docker-remote-api.1.44", NULL));
	assert_true(has_attr(al, "ecs.capability.task-eni", NULL));
	assert_true(has_attr(al, "com.amazonaws.ecs.capability.logging-driver.awslogs", NULL));
	assert_true(has_attr(al, "ecs.capability.container-ordering", NULL));
	assert_false(has_attr(al, "ecs.capability.external", NULL));
	/* The zone travels in the identity document, where the server reads it. */
	assert_false(has_attr(al, "ecs.availability-zone", "us-east-1c"));
	size_t os_types = 0, i;
	json_t *a;
	json_array_foreach (al, i, a) {
		os_types += strcmp(json_string_value(json_object_get(a, "name")), "ecs.os-type") == 0;
	}
	assert_int_equal(os_types, 1);
	json_t *doc =
		json_loads(json_string_value(json_object_get(reg, "instanceIdentityDocument")), 0, NULL);
	assert_non_null(doc);
	const char *id = json_string_value(json_object_get(doc, "instanceId"));
	assert_string_equal(id, agent_instance_id(w.a, 0));
	assert_int_equal(strlen(id), 19);
	assert_memory_equal(id, "i-", 2);
	assert_string_equal(json_string_value(json_object_get(doc, "availabilityZone")), "us-east-1c");
	assert_string_equal(json_string_value(json_object_get(doc, "region")), "us-east-1");
	assert_string_equal(json_string_value(json_object_get(doc, "instanceType")), "gantry.host");
	char *first_id = xstrdup(id);
	json_decref(doc);

	/* The first poll asks for version 0 of the instance it registered as. */
	json_t *poll = nth_call(&w.f, "Poll", 0);
	char *arn = xstrdup(agent_instance_arn(w.a, 0));
	assert_string_equal(json_string_value(json_object_get(poll, "containerInstance")), arn);
	assert_int_equal(json_integer_value(json_object_get(poll, "version")), 0);
	assert_int_equal(json_integer_value(json_object_get(poll, "waitSeconds")), 20);
	/* ... and, answered with version 1, holds the next with that version. */
	run_until_calls(&w, "Poll:2");
	assert_int_equal(json_integer_value(json_object_get(nth_call(&w.f, "Poll", 1), "version")), 1);

	/* A second agent on the same state is refused while the first runs. */
	struct err *e = NULL;
	assert_null(agent_new(&w.loop, &o, w.rt, &e));
	assert_non_null(strstr(e->msg, "in use by another gantry agent"));
	err_free(e);

	/* A restart keeps the identity: the same instance id, re-registered with the stored ARN. */
	agent_down(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "RegisterContainerInstance:2");
	reg = nth_call(&w.f, "RegisterContainerInstance", 1);
	assert_string_equal(json_string_value(json_object_get(reg, "containerInstanceArn")), arn);
	doc = json_loads(json_string_value(json_object_get(reg, "instanceIdentityDocument")), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(doc, "instanceId")), first_id);
	json_decref(doc);
	run_until_calls(&w, "Poll:3");
	assert_string_equal(agent_instance_arn(w.a, 0), arn);
	free(first_id);
	free(arn);
	world_close(&w);
}

static void test_refused_arn_registers_as_new_instance(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	char *path = xasprintf("%s/instance.json", w.dir);
	FILE *fp = fopen(path, "w");
	fprintf(fp, "{\"instanceId\":\"i-0123456789abcdef0\",\"cluster\":\"default\","
		    "\"containerInstanceArn\":\"" ARN_PFX "gone\"}");
	fclose(fp);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:1");
	assert_int_equal(count_calls(&w.f, "RegisterContainerInstance"), 2);
	assert_string_equal(json_string_value(json_object_get(nth_call(&w.f, "RegisterContainerInstance", 0),
							      "containerInstanceArn")),
			    ARN_PFX "gone");
	assert_null(json_object_get(nth_call(&w.f, "RegisterContainerInstance", 1), "containerInstanceArn"));
	/* The id stays; the new ARN is kept. */
	assert_string_equal(agent_instance_id(w.a, 0), "i-0123456789abcdef0");
	char *text = read_file(path);
	assert_non_null(strstr(text, "\"instanceId\":\"i-0123456789abcdef0\""));
	assert_non_null(strstr(text, agent_instance_arn(w.a, 0)));
	free(text);
	/* A state file that is not the agent's is an error, not a silent new identity. */
	agent_down(&w);
	fp = fopen(path, "w");
	fprintf(fp, "{\"instanceId\":\"not-an-id\"}");
	fclose(fp);
	struct err *e = NULL;
	assert_null(agent_new(&w.loop, &o, w.rt, &e));
	assert_non_null(strstr(e->msg, "instance.json"));
	err_free(e);
	free(path);
	world_close(&w);
}

static void test_default_cluster_is_created(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	w.f.no_cluster = true;
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:1");
	assert_int_equal(count_calls(&w.f, "CreateCluster"), 1);
	assert_string_equal(
		json_string_value(json_object_get(nth_call(&w.f, "CreateCluster", 0), "clusterName")),
		"default");
	assert_int_equal(count_calls(&w.f, "RegisterContainerInstance"), 2);
	world_close(&w);
}

static void test_refused_registration_ends_the_agent(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	w.f.deny = "UnrecognizedClientException";
	struct agent_opts o = world_opts(&w);
	o.state_dir = NULL;
	agent_up(&w, &o);
	run_until_(&w, exited, NULL, 5000, "on_exit");
	assert_int_equal(w.exit_status, 1);
	assert_int_equal(count_calls(&w.f, "RegisterContainerInstance"), 1);
	assert_int_equal(count_calls(&w.f, "Poll"), 0);
	world_close(&w);
}

/* Tasks */

static void test_runs_and_stops_desired_tasks(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	const char *arn = agent_instance_arn(w.a, 0);
	double before = clock_now();
	fake_publish(&w.f, arn, "ACTIVE", json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:1");
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 0);
	assert_string_equal(json_string_value(json_object_get(rep, "task")), TASK_A);
	assert_string_equal(json_string_value(json_object_get(rep, "cluster")), "default");
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "RUNNING");
	assert_true(json_number_value(json_object_get(rep, "pullStartedAt")) >= before - 0.01);
	assert_true(json_number_value(json_object_get(rep, "pullStoppedAt")) >=
		    json_number_value(json_object_get(rep, "pullStartedAt")));
	assert_null(json_object_get(rep, "executionStoppedAt"));
	json_t *app = find_container(rep, "app");
	assert_string_equal(json_string_value(json_object_get(app, "status")), "RUNNING");
	assert_int_equal(strlen(json_string_value(json_object_get(app, "runtimeId"))), 64);
	char *nb = jv_dump(json_object_get(app, "networkBindings"));
	assert_string_equal(
		nb,
		"[{\"bindIP\":\"0.0.0.0\",\"containerPort\":80,\"hostPort\":49153,\"protocol\":\"tcp\"}]");
	free(nb);
	assert_null(json_object_get(app, "exitCode"));
	assert_string_equal(json_string_value(json_object_get(find_container(rep, "side"), "status")),
			    "RUNNING");
	/* The poll after the answer carries its version. */
	run_until_calls(&w, "Poll:3");
	assert_int_equal(json_integer_value(json_object_get(nth_call(&w.f, "Poll", 2), "version")), 2);

	/* The server stops it: every container is stopped (143, SIGTERM's) and the task reported. */
	fake_publish(&w.f, arn, "ACTIVE", json_pack("[o]", entry(TASK_A, "STOPPED", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:2");
	rep = nth_call(&w.f, "SubmitTaskStateChange", 1);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "STOPPED");
	assert_null(json_object_get(rep, "reason"));
	assert_true(json_number_value(json_object_get(rep, "executionStoppedAt")) >= before);
	assert_int_equal(json_integer_value(json_object_get(find_container(rep, "app"), "exitCode")), 143);
	assert_int_equal(json_integer_value(json_object_get(find_container(rep, "side"), "exitCode")), 143);
	assert_string_equal(json_string_value(json_object_get(find_container(rep, "app"), "status")),
			    "STOPPED");
	/* Still listed, it is kept; once the server lists it no more, it is forgotten. */
	run_for(&w, 50);
	assert_int_equal(agent_task_count(w.a, 0), 1);
	fake_publish(&w.f, arn, "ACTIVE", json_array());
	size_t zero = 0;
	run_until_(&w, tasks_are, &zero, 5000, "the task forgotten");
	/* A STOPPED task is never reported twice nor started again. */
	assert_int_equal(count_calls(&w.f, "SubmitTaskStateChange"), 2);
	assert_int_equal(count_calls(&w.f, "SubmitContainerStateChange"), 0);
	world_close(&w);
}

static void test_unlisted_task_is_stopped(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	const char *arn = agent_instance_arn(w.a, 0);
	fake_publish(&w.f, arn, "ACTIVE",
		     json_pack("[o,o]", entry(TASK_A, "RUNNING", NULL), entry(TASK_B, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:2");
	/* B vanishes from the desired state (the server stopped it while the agent was away): the
	 * server's state wins. A keeps running. */
	fake_publish(&w.f, arn, "ACTIVE", json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:3");
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 2);
	assert_string_equal(json_string_value(json_object_get(rep, "task")), TASK_B);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "STOPPED");
	size_t one = 1;
	run_until_(&w, tasks_are, &one, 5000, "B forgotten");
	run_for(&w, 50);
	assert_int_equal(count_calls(&w.f, "SubmitTaskStateChange"), 3);
	world_close(&w);
}

static void test_unknown_task_to_stop_is_reported_stopped(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o]", entry(TASK_A, "STOPPED", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:1");
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 0);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "STOPPED");
	json_t *app = find_container(rep, "app");
	assert_string_equal(json_string_value(json_object_get(app, "status")), "STOPPED");
	assert_null(json_object_get(app, "exitCode")); /* it never ran */
	assert_null(json_object_get(rep, "pullStartedAt"));
	world_close(&w);
}

static void test_missing_spec_asks_for_the_whole_state(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	/* A new task arrives without its spec: the agent does not guess, it polls with version 0
	 * and starts the task from the whole state. */
	w.f.strip_specs = true;
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:1");
	assert_int_equal(json_integer_value(json_object_get(nth_call(&w.f, "Poll", 2), "version")), 0);
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 0);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "RUNNING");
	/* Known tasks need no spec: later answers without them change nothing. */
	run_until_calls(&w, "Poll:4");
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "Poll:5");
	assert_int_equal(json_integer_value(json_object_get(nth_call(&w.f, "Poll", 4), "version")), 3);
	assert_int_equal(count_calls(&w.f, "SubmitTaskStateChange"), 1);
	world_close(&w);
}

static void test_stop_before_start_delay(void **state)
{
	(void)state;
	struct world w;
	struct runtime_fake_opts fo = {.start_delay_ms = 300};
	world_open(&w, &fo);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	const char *arn = agent_instance_arn(w.a, 0);
	uint64_t t0 = clock_mono_ms();
	fake_publish(&w.f, arn, "ACTIVE",
		     json_pack("[o,o]", entry(TASK_A, "RUNNING", NULL), entry(TASK_B, "RUNNING", NULL)));
	run_until_calls(&w, "Poll:3");
	fake_publish(&w.f, arn, "ACTIVE",
		     json_pack("[o,o]", entry(TASK_A, "RUNNING", NULL), entry(TASK_B, "STOPPED", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:1");
	/* B was stopped while pending: STOPPED at once, never RUNNING, no exit codes. */
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 0);
	assert_string_equal(json_string_value(json_object_get(rep, "task")), TASK_B);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "STOPPED");
	assert_null(json_object_get(find_container(rep, "app"), "exitCode"));
	assert_true(clock_mono_ms() - t0 < 300);
	/* A runs once the start delay has passed. */
	run_until_calls(&w, "SubmitTaskStateChange:2");
	rep = nth_call(&w.f, "SubmitTaskStateChange", 1);
	assert_string_equal(json_string_value(json_object_get(rep, "task")), TASK_A);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "RUNNING");
	assert_true(nth_call_ms(&w.f, "SubmitTaskStateChange", 1) - (long long)t0 >= 290);
	world_close(&w);
}

static void test_essential_exit_stops_the_task(void **state)
{
	(void)state;
	struct world w;
	struct runtime_fake_opts fo = {.exit_after_ms = 150, .exit_code = 3};
	world_open(&w, &fo);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	/* side exits early (its own override) with 1: a container change, the task keeps running. */
	json_t *env = json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "GANTRY_FAKE_EXIT_AFTER", "value", "0.01",
				"name", "GANTRY_FAKE_EXIT_CODE", "value", "1");
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o]", entry(TASK_A, "RUNNING", env)));
	run_until_calls(&w, "SubmitContainerStateChange:1");
	json_t *cc = nth_call(&w.f, "SubmitContainerStateChange", 0);
	assert_string_equal(json_string_value(json_object_get(cc, "task")), TASK_A);
	assert_string_equal(json_string_value(json_object_get(cc, "containerName")), "side");
	assert_string_equal(json_string_value(json_object_get(cc, "status")), "STOPPED");
	assert_int_equal(json_integer_value(json_object_get(cc, "exitCode")), 1);
	assert_string_equal(
		json_string_value(json_object_get(nth_call(&w.f, "SubmitTaskStateChange", 0), "status")),
		"RUNNING");
	/* app (essential) exits with 3 after 150 ms: the task stops for that reason. */
	run_until_calls(&w, "SubmitTaskStateChange:2");
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 1);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "STOPPED");
	assert_string_equal(json_string_value(json_object_get(rep, "reason")),
			    "Essential container in task exited");
	assert_int_equal(json_integer_value(json_object_get(find_container(rep, "app"), "exitCode")), 3);
	assert_int_equal(json_integer_value(json_object_get(find_container(rep, "side"), "exitCode")), 1);
	world_close(&w);
}

static void test_reports_retried_until_acknowledged(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	w.f.fail_reports = 2;
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:3");
	for (size_t k = 0; k < 3; k++)
		assert_string_equal(json_string_value(json_object_get(
					    nth_call(&w.f, "SubmitTaskStateChange", k), "status")),
				    "RUNNING");
	run_for(&w, 400);
	assert_int_equal(count_calls(&w.f, "SubmitTaskStateChange"), 3);

	/* A report the server refuses outright (the task is unknown to it) is not repeated. */
	w.f.refuse_reports = "InvalidParameterException";
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o,o]", entry(TASK_A, "RUNNING", NULL), entry(TASK_B, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:4");
	run_for(&w, 400);
	assert_int_equal(count_calls(&w.f, "SubmitTaskStateChange"), 4);
	world_close(&w);
}

static void test_poll_backs_off_and_reconnects(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	/* Five polls answered 503: the retries come after 50, 100, 200, 200, 200 ms (a fifth less at
	 * most), then polling goes on at once. */
	w.f.fail_polls = 5;
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE", json_array());
	run_until_calls(&w, "Poll:8");
	long long t[6];
	for (int k = 0; k < 6; k++)
		t[k] = nth_call_ms(&w.f, "Poll", 2 + (size_t)k);
	assert_true(t[1] - t[0] >= 40);
	assert_true(t[2] - t[1] >= 80);
	assert_true(t[3] - t[2] >= 160);
	assert_true(t[4] - t[3] >= 160 && t[4] - t[3] < 2000);
	assert_true(t[5] - t[4] >= 160 && t[5] - t[4] < 2000);

	/* The server goes away (connections refused) and comes back on the same port. */
	int port = w.f.port;
	fake_stop(&w.f);
	run_for(&w, 500);
	size_t polls = count_calls(&w.f, "Poll");
	fake_listen(&w.f, port);
	char want[32];
	snprintf(want, sizeof(want), "Poll:%zu", polls + 1);
	run_until_calls(&w, want);
	/* The poll that failed is retried as it was: same instance, no new registration. */
	assert_int_equal(count_calls(&w.f, "RegisterContainerInstance"), 1);
	world_close(&w);
}

static void test_unknown_instance_registers_again(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	char *old = xstrdup(agent_instance_arn(w.a, 0));
	/* The server forgets the instance (its state is new) and refuses the poll: the agent tries
	 * its stored ARN, is refused again, and registers as a new instance, which it then polls. */
	json_object_del(w.f.insts, old);
	assert_int_equal(w.f.nheld, 1);
	w.f.nheld = 0;
	respond_error(w.f.held[0].req, 400, "InvalidParameterException", "container instance not found");
	run_until_calls(&w, "RegisterContainerInstance:3");
	assert_string_equal(json_string_value(json_object_get(nth_call(&w.f, "RegisterContainerInstance", 1),
							      "containerInstanceArn")),
			    old);
	assert_null(json_object_get(nth_call(&w.f, "RegisterContainerInstance", 2), "containerInstanceArn"));
	run_until_calls(&w, "Poll:4");
	assert_string_not_equal(agent_instance_arn(w.a, 0), old);
	assert_string_equal(json_string_value(json_object_get(last_call(&w.f, "Poll"), "containerInstance")),
			    agent_instance_arn(w.a, 0));
	assert_int_equal(json_integer_value(json_object_get(nth_call(&w.f, "Poll", 2), "version")), 0);
	free(old);
	world_close(&w);
}

static void test_deregistered_instance_stops_and_exits(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "Poll:2");
	const char *arn = agent_instance_arn(w.a, 0);
	fake_publish(&w.f, arn, "ACTIVE", json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:1");
	fake_publish(&w.f, arn, "INACTIVE", json_array());
	run_until_(&w, exited, NULL, 5000, "on_exit");
	assert_int_equal(w.exit_status, 0);
	json_t *rep = nth_call(&w.f, "SubmitTaskStateChange", 1);
	assert_string_equal(json_string_value(json_object_get(rep, "status")), "STOPPED");
	size_t polls = count_calls(&w.f, "Poll");
	run_for(&w, 200);
	assert_int_equal(count_calls(&w.f, "Poll"), polls);
	/* The dead ARN is forgotten, the instance id kept. */
	char *path = xasprintf("%s/instance.json", w.dir);
	char *text = read_file(path);
	assert_null(strstr(text, "containerInstanceArn"));
	assert_non_null(strstr(text, agent_instance_id(w.a, 0)));
	free(text);
	free(path);
	world_close(&w);
}

static bool all_polling(struct world *w, const void *arg)
{
	return w->f.nheld >= *(const size_t *)arg;
}

static void test_hollow_agents_each_their_own_instance(void **state)
{
	(void)state;
	struct world w;
	world_open(&w, NULL);
	struct agent_opts o = world_opts(&w);
	o.count = 3;
	agent_up(&w, &o);
	size_t three = 3;
	run_until_(&w, all_polling, &three, 5000, "three held polls");
	assert_int_equal(count_calls(&w.f, "RegisterContainerInstance"), 3);
	char *ids[3];
	for (unsigned i = 0; i < 3; i++) {
		ids[i] = xstrdup(agent_instance_id(w.a, i));
		assert_non_null(agent_instance_arn(w.a, i));
		for (unsigned k = 0; k < i; k++) {
			assert_string_not_equal(ids[k], ids[i]);
			assert_string_not_equal(agent_instance_arn(w.a, k), agent_instance_arn(w.a, i));
		}
		char *p = xasprintf("%s/hollow-%u.json", w.dir, i + 1);
		char *text = read_file(p);
		assert_non_null(text);
		assert_non_null(strstr(text, ids[i]));
		free(text);
		free(p);
	}
	/* Each has its own desired state: a task for the second goes to the second only. */
	fake_publish(&w.f, agent_instance_arn(w.a, 1), "ACTIVE",
		     json_pack("[o]", entry(TASK_A, "RUNNING", NULL)));
	run_until_calls(&w, "SubmitTaskStateChange:1");
	assert_int_equal(agent_task_count(w.a, 0), 0);
	assert_int_equal(agent_task_count(w.a, 1), 1);
	assert_int_equal(agent_task_count(w.a, 2), 0);
	/* A restart brings back the same three identities. */
	agent_down(&w);
	agent_up(&w, &o);
	run_until_calls(&w, "RegisterContainerInstance:6");
	for (unsigned i = 0; i < 3; i++) {
		assert_string_equal(agent_instance_id(w.a, i), ids[i]);
		free(ids[i]);
	}
	world_close(&w);
}

static void test_free_with_everything_in_flight(void **state)
{
	(void)state;
	struct world w;
	struct runtime_fake_opts fo = {.start_delay_ms = 100};
	world_open(&w, &fo);
	struct agent_opts o = world_opts(&w);
	o.count = 2;
	agent_up(&w, &o);
	size_t two = 2;
	run_until_(&w, all_polling, &two, 5000, "two held polls");
	fake_publish(&w.f, agent_instance_arn(w.a, 0), "ACTIVE",
		     json_pack("[o,o]", entry(TASK_A, "RUNNING", NULL), entry(TASK_B, "RUNNING", NULL)));
	w.f.fail_reports = 1000;
	run_until_calls(&w, "SubmitTaskStateChange:2");
	/* Polls held, reports failing and waiting to be retried, a runtime task per task: all of it
	 * goes (ASan checks that nothing leaks and nothing is touched after). */
	world_close(&w);
}

/* The fake runtime on its own */

struct rt_log {
	char ev[16][48];
	int n;
	struct runtime_task *t;
	bool stop_on_first_exit;
};

static void on_rt_event(void *arg, const struct runtime_event *ev)
{
	struct rt_log *l = arg;
	const char *k = ev->kind == RUNTIME_PULLED		? "pulled"
			: ev->kind == RUNTIME_CONTAINER_RUNNING ? "running"
								: "stopped";
	if (ev->kind == RUNTIME_CONTAINER_STOPPED && ev->has_exit_code)
		snprintf(l->ev[l->n], sizeof(l->ev[0]), "%s %zu %d", k, ev->index, ev->exit_code);
	else if (ev->kind == RUNTIME_PULLED)
		snprintf(l->ev[l->n], sizeof(l->ev[0]), "%s", k);
	else
		snprintf(l->ev[l->n], sizeof(l->ev[0]), "%s %zu", k, ev->index);
	l->n++;
	if (ev->kind == RUNTIME_CONTAINER_STOPPED && l->stop_on_first_exit)
		runtime_stop(l->t);
}

static void test_fake_runtime_events(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct err *e = NULL;
	assert_null(runtime_new(&loop, "docker", NULL, &e));
	assert_non_null(strstr(e->msg, "unknown runtime 'docker'"));
	err_free(e);
	struct runtime_fake_opts fo = {.exit_after_ms = 20, .exit_code = 7};
	struct runtime_opts ro = {.fake = &fo};
	struct runtime *rt = runtime_new(&loop, "fake", &ro, &e);
	assert_string_equal(runtime_name(rt), "fake");
	json_t *def0 = json_object();
	json_t *def1 =
		json_pack("{s:[{s:s,s:s}]}", "environment", "name", "GANTRY_FAKE_EXIT_AFTER", "value", "0");
	struct runtime_container cs[2] = {{"a", true, def0, NULL}, {"b", false, def1, NULL}};
	struct runtime_spec spec = {"arn:t", NULL, NULL, cs, 2};
	/* a exits on its own with 7 and the receiver then stops the task: b (which would run for
	 * ever) is stopped with 143. Nothing is reported from inside start. */
	struct rt_log l = {.stop_on_first_exit = true};
	l.t = runtime_start(rt, &spec, on_rt_event, &l, &e);
	assert_int_equal(l.n, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.ev[0], "pulled");
	assert_string_equal(l.ev[1], "running 0");
	assert_string_equal(l.ev[2], "running 1");
	assert_string_equal(l.ev[3], "stopped 0 7");
	assert_string_equal(l.ev[4], "stopped 1 143");
	runtime_release(l.t);
	/* Stopped before it started: containers that never ran have no exit code; no PULLED. */
	struct rt_log l2 = {0};
	l2.t = runtime_start(rt, &spec, on_rt_event, &l2, &e);
	runtime_stop(l2.t);
	runtime_stop(l2.t);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(l2.n, 2);
	assert_string_equal(l2.ev[0], "stopped 0");
	assert_string_equal(l2.ev[1], "stopped 1");
	runtime_release(l2.t);
	/* Released while running: no more events, and nothing left behind. */
	struct rt_log l3 = {0};
	l3.t = runtime_start(rt, &spec, on_rt_event, &l3, &e);
	runtime_release(l3.t);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(l3.n, 0);
	runtime_free(rt);
	json_decref(def0);
	json_decref(def1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_then_reregister_with_stored_arn),
		cmocka_unit_test(test_refused_arn_registers_as_new_instance),
		cmocka_unit_test(test_default_cluster_is_created),
		cmocka_unit_test(test_refused_registration_ends_the_agent),
		cmocka_unit_test(test_runs_and_stops_desired_tasks),
		cmocka_unit_test(test_unlisted_task_is_stopped),
		cmocka_unit_test(test_unknown_task_to_stop_is_reported_stopped),
		cmocka_unit_test(test_missing_spec_asks_for_the_whole_state),
		cmocka_unit_test(test_stop_before_start_delay),
		cmocka_unit_test(test_essential_exit_stops_the_task),
		cmocka_unit_test(test_reports_retried_until_acknowledged),
		cmocka_unit_test(test_poll_backs_off_and_reconnects),
		cmocka_unit_test(test_unknown_instance_registers_again),
		cmocka_unit_test(test_deregistered_instance_stops_and_exits),
		cmocka_unit_test(test_hollow_agents_each_their_own_instance),
		cmocka_unit_test(test_free_with_everything_in_flight),
		cmocka_unit_test(test_fake_runtime_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
