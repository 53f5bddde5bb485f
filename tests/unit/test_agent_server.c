/* The agent (fake runtime) against the real server in-process (hsrv + api + ecs + store on one
 * loop), driven through the ECS API as a user would: tasks placed by RunTask run and stop, their
 * containers' ports, exit codes and reasons come back; a silent agent is disconnected and
 * reconciles when it returns; deregistration ends it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>

#include "agent/agent.h"
#include "api/awsc.h"
#include "common/hcli.h"
#include "common/jv.h"
#include "harness.h"

struct world {
	uv_loop_t loop;
	struct harness h;
	struct hsrv *srv;
	struct hcli *http;
	struct awsc *cli;
	char url[64];
	char agent_dir[64];
	struct runtime *rt;
	struct agent *a;
	int exits, exit_status;
	/* the last answer */
	json_t *out;
	char type[128];
	char msg[512];
	int answers;
};

static void open_world(struct world *w, const struct runtime_fake_opts *fo)
{
	struct err *e = NULL;
	memset(w, 0, sizeof(*w));
	assert_int_equal(uv_loop_init(&w->loop), 0);
	snprintf(w->h.dir, sizeof(w->h.dir), "/tmp/gantry-agentsrv.XXXXXX");
	assert_non_null(mkdtemp(w->h.dir));
	snprintf(w->agent_dir, sizeof(w->agent_dir), "/tmp/gantry-agentst.XXXXXX");
	assert_non_null(mkdtemp(w->agent_dir));
	w->h.creds = creds_new();
	creds_add(w->h.creds, H_KEY_A, H_SECRET_A, H_ACCT_A, NULL);
	w->h.store = store_open(&w->loop, w->h.dir, &e);
	assert_non_null(w->h.store);
	w->h.ecs = ecs_new(w->h.store);
	assert_int_equal(ecs_load(w->h.ecs, &e), 0);
	struct ecs_options eo = {.agent_timeout_s = 1};
	ecs_start(w->h.ecs, &w->loop, &eo);
	w->h.api = api_new(w->h.creds, w->h.store, NULL);
	ecs_add_to_api(w->h.ecs, w->h.api);
	struct sockaddr_storage addr;
	assert_int_equal(hsrv_parse_addr("127.0.0.1:0", &addr, &e), 0);
	w->srv = hsrv_start(&w->loop, &addr, API_BODY_MAX, api_handle, w->h.api, &e);
	assert_non_null(w->srv);
	snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d", hsrv_port(w->srv));
	w->http = hcli_new(&w->loop);
	w->cli = awsc_new(w->http, w->url, H_KEY_A, H_SECRET_A, "us-east-1", &e);
	struct runtime_fake_opts none = {0};
	w->rt = runtime_fake_new(&w->loop, fo ? fo : &none);
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

static void close_world(struct world *w)
{
	agent_free(w->a);
	awsc_free(w->cli);
	hcli_free(w->http);
	ecs_stop(w->h.ecs);
	uv_run(&w->loop, UV_RUN_NOWAIT);
	store_flush(w->h.store, NULL);
	hsrv_stop(w->srv);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	runtime_free(w->rt);
	json_decref(w->out);
	harness_free(&w->h);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	rm_dir(w->agent_dir);
}

static void on_exit_cb(void *arg, int status)
{
	struct world *w = arg;
	w->exits++;
	w->exit_status = status;
}

static void start_agent(struct world *w, unsigned count)
{
	struct agent_attr attrs[] = {{"stack", "prod"}};
	struct agent_opts o = {
		.server = w->url,
		.access_key = H_KEY_A,
		.secret = H_SECRET_A,
		.cpu = 2048,
		.memory_mib = 1024,
		.attrs = attrs,
		.nattrs = 1,
		.state_dir = w->agent_dir,
		.count = count,
		.backoff_min_ms = 50,
		.backoff_max_ms = 200,
		.on_exit = on_exit_cb,
		.on_exit_arg = w,
	};
	struct err *e = NULL;
	w->a = agent_new(&w->loop, &o, w->rt, &e);
	if (!w->a)
		fail_msg("agent_new: %s", e->msg);
	agent_start(w->a);
}

static void on_answer(void *arg, const struct awsc_result *r)
{
	struct world *w = arg;
	json_decref(w->out);
	w->out = r->out ? json_incref(r->out) : NULL;
	snprintf(w->type, sizeof(w->type), "%s", r->error_type ? r->error_type : "");
	snprintf(w->msg, sizeof(w->msg), "%s", r->message ? r->message : "");
	w->answers++;
}

/* Calls an ECS operation and runs the loop until it answers; returns the answer (borrowed until
 * the next call), failing the test on an error answer. */
static json_t *ecs(struct world *w, const char *op, json_t *in)
{
	char target[128];
	snprintf(target, sizeof(target), "AmazonEC2ContainerServiceV20141113.%s", op);
	int want = w->answers + 1;
	awsc_call(w->cli, target, "ecs", in, 10000, on_answer, w);
	json_decref(in);
	while (w->answers < want)
		uv_run(&w->loop, UV_RUN_ONCE);
	if (!w->out)
		fail_msg("%s: %s: %s", op, w->type, w->msg);
	return w->out;
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop for about ms. */
static void run_for(struct world *w, unsigned ms)
{
	uint64_t end = uv_now(&w->loop) + ms;
	uv_timer_t t;
	uv_timer_init(&w->loop, &t);
	uv_timer_start(&t, on_tick, ms, 0);
	while (uv_now(&w->loop) < end)
		uv_run(&w->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&w->loop, UV_RUN_NOWAIT);
}

static const char *str_at(json_t *j, const char *path)
{
	/* "a.b.0.c": members and array positions. */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf, *dot; j && p; p = dot) {
		dot = strchr(p, '.');
		if (dot)
			*dot++ = '\0';
		j = *p >= '0' && *p <= '9' ? json_array_get(j, strtoul(p, NULL, 10)) : json_object_get(j, p);
	}
	return json_string_value(j);
}

static json_t *describe_task(struct world *w, const char *arn)
{
	json_t *out = ecs(w, "DescribeTasks", json_pack("{s:[s]}", "tasks", arn));
	return json_array_get(json_object_get(out, "tasks"), 0);
}

/* Waits (up to 5 s) until every task in arns (an array) has lastStatus `status`. */
static void wait_tasks(struct world *w, json_t *arns, const char *status)
{
	for (int i = 0; i < 250; i++) {
		json_t *out = ecs(w, "DescribeTasks", json_pack("{s:O}", "tasks", arns));
		size_t k, n = 0;
		json_t *t;
		json_array_foreach (json_object_get(out, "tasks"), k, t) {
			n += strcmp(str_at(t, "lastStatus"), status) == 0;
		}
		if (n == json_array_size(arns))
			return;
		run_for(w, 20);
	}
	fail_msg("tasks did not reach %s", status);
}

static size_t connected_instances(struct world *w)
{
	if (!json_array_size(json_object_get(ecs(w, "ListClusters", json_object()), "clusterArns")))
		return 0;
	json_t *arns = json_deep_copy(
		json_object_get(ecs(w, "ListContainerInstances", json_object()), "containerInstanceArns"));
	if (!json_array_size(arns)) {
		json_decref(arns);
		return 0;
	}
	json_t *out = ecs(w, "DescribeContainerInstances", json_pack("{s:o}", "containerInstances", arns));
	size_t k, n = 0;
	json_t *ci;
	json_array_foreach (json_object_get(out, "containerInstances"), k, ci) {
		n += json_is_true(json_object_get(ci, "agentConnected"));
	}
	return n;
}

static void wait_connected(struct world *w, size_t want)
{
	for (int i = 0; i < 250 && connected_instances(w) != want; i++)
		run_for(w, 20);
	assert_int_equal(connected_instances(w), want);
}

static void register_web(struct world *w)
{
	ecs(w, "RegisterTaskDefinition",
	    json_pack("{s:s,s:[{s:s,s:s,s:i,s:b,s:[{s:i,s:i}]},{s:s,s:s,s:i,s:b}]}", "family", "web",
		      "containerDefinitions", "name", "app", "image", "nginx", "memory", 128, "essential", 1,
		      "portMappings", "containerPort", 80, "hostPort", 0, "name", "side", "image", "busybox",
		      "memory", 64, "essential", 0));
}

static json_t *run_tasks(struct world *w, int count)
{
	json_t *out = ecs(w, "RunTask", json_pack("{s:s,s:i}", "taskDefinition", "web", "count", count));
	assert_int_equal(json_array_size(json_object_get(out, "failures")), 0);
	json_t *arns = json_array();
	size_t k;
	json_t *t;
	json_array_foreach (json_object_get(out, "tasks"), k, t) {
		json_array_append(arns, json_object_get(t, "taskArn"));
	}
	assert_int_equal(json_array_size(arns), count);
	return arns;
}

static void test_tasks_run_and_stop_through_the_api(void **state)
{
	(void)state;
	struct world w;
	open_world(&w, NULL);
	/* No cluster yet: the agents create "default", as the ECS agent does. */
	start_agent(&w, 2);
	wait_connected(&w, 2);
	json_t *out = ecs(&w, "ListAttributes",
			  json_pack("{s:s,s:s,s:s}", "targetType", "container-instance", "attributeName",
				    "stack", "attributeValue", "prod"));
	assert_int_equal(json_array_size(json_object_get(out, "attributes")), 2);
	register_web(&w);
	json_t *arns = run_tasks(&w, 4);
	wait_tasks(&w, arns, "RUNNING");
	json_t *t = describe_task(&w, json_string_value(json_array_get(arns, 0)));
	assert_non_null(json_object_get(t, "pullStartedAt"));
	assert_non_null(json_object_get(t, "startedAt"));
	json_t *app = json_array_get(json_object_get(t, "containers"), 0);
	if (strcmp(str_at(app, "name"), "app") != 0)
		app = json_array_get(json_object_get(t, "containers"), 1);
	assert_string_equal(str_at(app, "lastStatus"), "RUNNING");
	assert_int_equal(strlen(str_at(app, "runtimeId")), 64);
	json_t *nb = json_array_get(json_object_get(app, "networkBindings"), 0);
	assert_int_equal(json_integer_value(json_object_get(nb, "containerPort")), 80);
	assert_true(json_integer_value(json_object_get(nb, "hostPort")) > 0);

	/* StopTask: the agent stops the containers (143) and the task ends STOPPED, UserInitiated. */
	const char *first = json_string_value(json_array_get(arns, 0));
	ecs(&w, "StopTask", json_pack("{s:s,s:s}", "task", first, "reason", "enough"));
	json_t *one = json_pack("[s]", first);
	wait_tasks(&w, one, "STOPPED");
	json_decref(one);
	t = describe_task(&w, first);
	assert_string_equal(str_at(t, "stopCode"), "UserInitiated");
	assert_string_equal(str_at(t, "stoppedReason"), "enough");
	assert_non_null(json_object_get(t, "executionStoppedAt"));
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(t, "containers"), 0), "exitCode")),
			 143);

	/* Deregistering both instances (force) ends the agent. */
	json_t *cis = json_deep_copy(
		json_object_get(ecs(&w, "ListContainerInstances", json_object()), "containerInstanceArns"));
	size_t k;
	json_t *ci;
	json_array_foreach (cis, k, ci) {
		ecs(&w, "DeregisterContainerInstance",
		    json_pack("{s:O,s:b}", "containerInstance", ci, "force", 1));
	}
	json_decref(cis);
	for (int i = 0; i < 250 && !w.exits; i++)
		run_for(&w, 20);
	assert_int_equal(w.exits, 1);
	assert_int_equal(w.exit_status, 0);
	json_decref(arns);
	close_world(&w);
}

static void test_essential_exit_and_reconnect(void **state)
{
	(void)state;
	struct world w;
	open_world(&w, NULL);
	ecs(&w, "CreateCluster", json_pack("{s:s}", "clusterName", "default"));
	start_agent(&w, 1);
	wait_connected(&w, 1);
	/* The fake's per-container override: this essential container exits after 0.3 s with 2. */
	ecs(&w, "RegisterTaskDefinition",
	    json_pack("{s:s,s:[{s:s,s:s,s:i,s:b,s:[{s:s,s:s},{s:s,s:s}]}]}", "family", "quit",
		      "containerDefinitions", "name", "app", "image", "busybox", "memory", 64, "essential", 1,
		      "environment", "name", "GANTRY_FAKE_EXIT_AFTER", "value", "0.3", "name",
		      "GANTRY_FAKE_EXIT_CODE", "value", "2"));
	json_t *out = ecs(&w, "RunTask", json_pack("{s:s}", "taskDefinition", "quit"));
	json_t *arns = json_pack(
		"[O]", json_object_get(json_array_get(json_object_get(out, "tasks"), 0), "taskArn"));
	wait_tasks(&w, arns, "RUNNING");
	wait_tasks(&w, arns, "STOPPED");
	json_t *t = describe_task(&w, json_string_value(json_array_get(arns, 0)));
	assert_string_equal(str_at(t, "stopCode"), "EssentialContainerExited");
	assert_string_equal(str_at(t, "stoppedReason"), "Essential container in task exited");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(t, "containers"), 0), "exitCode")),
			 2);
	json_decref(arns);

	/* The agent goes away: the instance is disconnected after the agent timeout (1 s here). A
	 * task stopped meanwhile waits for it; when it comes back with its stored ARN, it reconciles. */
	char *ci = xstrdup(agent_instance_arn(w.a, 0));
	register_web(&w);
	arns = run_tasks(&w, 1);
	wait_tasks(&w, arns, "RUNNING");
	agent_free(w.a);
	w.a = NULL;
	wait_connected(&w, 0);
	const char *arn = json_string_value(json_array_get(arns, 0));
	ecs(&w, "StopTask", json_pack("{s:s}", "task", arn));
	run_for(&w, 100);
	t = describe_task(&w, arn);
	assert_string_not_equal(str_at(t, "lastStatus"), "STOPPED");
	start_agent(&w, 1);
	wait_connected(&w, 1);
	assert_string_equal(agent_instance_arn(w.a, 0), ci);
	wait_tasks(&w, arns, "STOPPED");
	json_decref(arns);
	free(ci);
	close_world(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tasks_run_and_stop_through_the_api),
		cmocka_unit_test(test_essential_exit_and_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
