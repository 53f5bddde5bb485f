/* Container instances, tasks and the agent protocol through the in-process harness: placement as
 * RunTask does it, the lifecycle driven by polls and state reports, resources going down and back
 * up exactly, failures, draining, attributes, and everything surviving a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/jv.h"
#include "harness.h"

static int setup(void **state)
{
	struct harness *h = xcalloc(1, sizeof(*h));
	if (harness_open(h) < 0)
		return -1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	harness_free(h);
	free(h);
	return 0;
}

/* Calls op and returns the parsed answer (new reference); fails the test on a non-200. */
static json_t *call_ok(struct harness *h, const char *op, const char *fmt, ...)
{
	char body[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	unsigned st = harness_ecs(h, op, body);
	if (st != 200)
		fprintf(stderr, "%s %s -> %u %s\n", op, body, st, h->body ? h->body : "");
	assert_int_equal(st, 200);
	json_t *j = harness_json(h);
	assert_non_null(j);
	return j;
}

static char *register_instance(struct harness *h, int cpu, int mem, const char *az)
{
	json_t *j =
		call_ok(h, "RegisterContainerInstance",
			"{\"cluster\":\"c\",\"totalResources\":[{\"name\":\"CPU\",\"type\":\"INTEGER\","
			"\"integerValue\":%d},"
			"{\"name\":\"MEMORY\",\"type\":\"INTEGER\",\"integerValue\":%d},"
			"{\"name\":\"PORTS\",\"type\":\"STRINGSET\",\"stringSetValue\":[\"22\",\"8000\"]}],"
			"\"attributes\":[{\"name\":\"ecs.availability-zone\",\"value\":\"%s\"},"
			"{\"name\":\"ecs.capability.container-ordering\"}],"
			"\"versionInfo\":{\"agentVersion\":\"0.1.0\"}}",
			cpu, mem, az);
	char *arn = xstrdup(json_string_value(
		json_object_get(json_object_get(j, "containerInstance"), "containerInstanceArn")));
	json_decref(j);
	return arn;
}

static long long remaining(struct harness *h, const char *arn, const char *what)
{
	json_t *j = call_ok(h, "DescribeContainerInstances",
			    "{\"cluster\":\"c\",\"containerInstances\":[\"%s\"]}", arn);
	json_t *ci = json_array_get(json_object_get(j, "containerInstances"), 0);
	long long v = -1;
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(ci, "remainingResources"), i, r) {
		if (strcmp(json_string_value(json_object_get(r, "name")), what) == 0)
			v = json_integer_value(json_object_get(r, "integerValue"));
	}
	json_decref(j);
	return v;
}

static void register_web(struct harness *h)
{
	json_decref(call_ok(h, "CreateCluster", "{\"clusterName\":\"c\"}"));
	json_decref(call_ok(h, "RegisterTaskDefinition",
			    "{\"family\":\"web\",\"containerDefinitions\":[{\"name\":\"app\",\"image\":"
			    "\"busybox\",\"cpu\":256,"
			    "\"memory\":512,\"portMappings\":[{\"containerPort\":80},{\"containerPort\":81,"
			    "\"hostPort\":8081}]}]}"));
}

static void test_run_poll_report_stop(void **state)
{
	struct harness *h = *state;
	register_web(h);
	char *a = register_instance(h, 1024, 2048, "us-east-1a");
	json_t *j =
		call_ok(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"web\",\"startedBy\":\"me\"}");
	json_t *task = json_array_get(json_object_get(j, "tasks"), 0);
	assert_non_null(task);
	assert_int_equal(json_array_size(json_object_get(j, "failures")), 0);
	assert_string_equal(json_string_value(json_object_get(task, "lastStatus")), "PROVISIONING");
	assert_string_equal(json_string_value(json_object_get(task, "group")), "family:web");
	assert_null(json_object_get(task, "_usage")); /* internal members never shown */
	json_t *bindings =
		json_object_get(json_array_get(json_object_get(task, "containers"), 0), "networkBindings");
	assert_int_equal(json_array_size(bindings), 2);
	int dyn = (int)json_integer_value(json_object_get(json_array_get(bindings, 0), "hostPort"));
	assert_true(dyn >= 49153 && dyn <= 65535);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(bindings, 1), "hostPort")), 8081);
	char *task_arn = xstrdup(json_string_value(json_object_get(task, "taskArn")));
	json_decref(j);
	assert_int_equal(remaining(h, a, "CPU"), 1024 - 256);
	assert_int_equal(remaining(h, a, "MEMORY"), 2048 - 512);

	/* The agent's poll delivers it: PENDING, with the task definition. */
	assert_int_equal(harness_agent(h, "Poll", "{\"cluster\":\"c\",\"containerInstance\":\"X\"}"), 400);
	char body[1024];
	snprintf(body, sizeof(body), "{\"cluster\":\"c\",\"containerInstance\":\"%s\",\"version\":0}", a);
	assert_int_equal(harness_agent(h, "Poll", body), 200);
	j = harness_json(h);
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 1);
	json_t *d = json_array_get(json_object_get(j, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "desiredStatus")), "RUNNING");
	assert_string_equal(json_string_value(json_object_get(d, "lastStatus")), "PENDING");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(d, "taskDefinition"), "family")), "web");
	json_decref(j);

	/* RUNNING reported. */
	json_decref(call_ok(
		h, "SubmitTaskStateChange",
		"{\"cluster\":\"c\",\"task\":\"%s\",\"status\":\"RUNNING\",\"pullStartedAt\":1700000000,"
		"\"containers\":[{\"containerName\":\"app\",\"status\":\"RUNNING\",\"runtimeId\":\"r1\"}]}",
		task_arn));
	j = call_ok(h, "DescribeTasks", "{\"cluster\":\"c\",\"tasks\":[\"%s\",\"nope\"]}", task_arn);
	task = json_array_get(json_object_get(j, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(task, "lastStatus")), "RUNNING");
	assert_non_null(json_object_get(task, "startedAt"));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "failures"), 0), "reason")),
			    "MISSING");
	json_decref(j);
	j = call_ok(h, "ListTasks", "{\"cluster\":\"c\",\"family\":\"web\"}");
	assert_int_equal(json_array_size(json_object_get(j, "taskArns")), 1);
	json_decref(j);
	j = call_ok(h, "DescribeClusters", "{\"clusters\":[\"c\"]}");
	json_t *cdoc = json_array_get(json_object_get(j, "clusters"), 0);
	assert_int_equal(json_integer_value(json_object_get(cdoc, "runningTasksCount")), 1);
	assert_int_equal(json_integer_value(json_object_get(cdoc, "registeredContainerInstancesCount")), 1);
	json_decref(j);
	/* A cluster with a task cannot be deleted. */
	assert_int_equal(harness_ecs(h, "DeleteCluster", "{\"cluster\":\"c\"}"), 400);
	assert_string_equal(h->error_type, "ClusterContainsContainerInstancesException");

	/* StopTask: desired STOPPED; the next poll shows it STOPPING; the agent reports STOPPED. */
	j = call_ok(h, "StopTask", "{\"cluster\":\"c\",\"task\":\"%s\",\"reason\":\"done\"}", task_arn);
	task = json_object_get(j, "task");
	assert_string_equal(json_string_value(json_object_get(task, "desiredStatus")), "STOPPED");
	assert_string_equal(json_string_value(json_object_get(task, "stopCode")), "UserInitiated");
	assert_string_equal(json_string_value(json_object_get(task, "stoppedReason")), "done");
	json_decref(j);
	assert_int_equal(harness_agent(h, "Poll", body), 200); /* version 0 is stale: answers at once */
	j = harness_json(h);
	d = json_array_get(json_object_get(j, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "desiredStatus")), "STOPPED");
	assert_string_equal(json_string_value(json_object_get(d, "lastStatus")), "STOPPING");
	json_decref(j);
	json_decref(call_ok(h, "SubmitTaskStateChange",
			    "{\"cluster\":\"c\",\"task\":\"%s\",\"status\":\"STOPPED\",\"containers\":"
			    "[{\"containerName\":\"app\",\"status\":\"STOPPED\",\"exitCode\":143}]}",
			    task_arn));
	j = call_ok(h, "DescribeTasks", "{\"cluster\":\"c\",\"tasks\":[\"%s\"]}", task_arn);
	task = json_array_get(json_object_get(j, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(task, "lastStatus")), "STOPPED");
	assert_string_equal(json_string_value(json_object_get(task, "stopCode")), "UserInitiated");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(task, "containers"), 0), "exitCode")),
			 143);
	json_decref(j);
	/* Resources come back exactly. */
	assert_int_equal(remaining(h, a, "CPU"), 1024);
	assert_int_equal(remaining(h, a, "MEMORY"), 2048);
	j = call_ok(h, "ListTasks", "{\"cluster\":\"c\",\"desiredStatus\":\"STOPPED\"}");
	assert_int_equal(json_array_size(json_object_get(j, "taskArns")), 1);
	json_decref(j);
	free(task_arn);
	free(a);
}

static void test_binpack_spread_and_failures(void **state)
{
	struct harness *h = *state;
	register_web(h);
	char *a = register_instance(h, 4096, 4096, "us-east-1a");
	char *b = register_instance(h, 4096, 4096, "us-east-1b");
	json_decref(call_ok(
		h, "RegisterTaskDefinition",
		"{\"family\":\"plain\",\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"busybox\","
		"\"cpu\":256,\"memory\":512}]}"));
	/* binpack on memory fills one instance first. */
	json_t *j = call_ok(h, "RunTask",
			    "{\"cluster\":\"c\",\"taskDefinition\":\"plain\",\"count\":4,"
			    "\"placementStrategy\":[{\"type\":\"binpack\",\"field\":\"memory\"}]}");
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 4);
	json_decref(j);
	long long ma = remaining(h, a, "MEMORY"), mb = remaining(h, b, "MEMORY");
	assert_true((ma == 4096 - 4 * 512 && mb == 4096) || (mb == 4096 - 4 * 512 && ma == 4096));
	/* memberOf picks only matching instances (a definition that still fits anywhere). */
	json_decref(call_ok(
		h, "RegisterTaskDefinition",
		"{\"family\":\"tiny\",\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"busybox\","
		"\"memory\":6}]}"));
	j = call_ok(h, "RunTask",
		    "{\"cluster\":\"c\",\"taskDefinition\":\"web\",\"placementConstraints\":[{\"type\":"
		    "\"memberOf\","
		    "\"expression\":\"attribute:ecs.availability-zone == us-east-1z\"}]}");
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "failures"), 0), "reason")),
			    "MemberOf placement constraint unsatisfied.");
	json_decref(j);
	/* Static host port 8081 fits once per instance: of three, two are placed, one fails on PORTS. */
	j = call_ok(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"web\",\"count\":3}");
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "failures")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "failures"), 0), "reason")),
			    "RESOURCE:PORTS");
	json_decref(j);
	/* Memory runs out: 4096 - 5*512 on one, 4096 - 512 on the other leave room for 3 + 7 = 10. */
	j = call_ok(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"plain\",\"count\":10}");
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 10);
	json_decref(j);
	j = call_ok(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"plain\",\"count\":2}");
	assert_int_equal(json_array_size(json_object_get(j, "tasks")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "failures")), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "failures"), 0), "reason")),
			    "RESOURCE:MEMORY");
	json_decref(j);
	/* A bad expression points at the problem. */
	assert_int_equal(
		harness_ecs(
			h, "RunTask",
			"{\"cluster\":\"c\",\"taskDefinition\":\"web\",\"placementConstraints\":[{\"type\":"
			"\"memberOf\",\"expression\":\"attribute:x ==\"}]}"),
		400);
	assert_string_equal(h->error_type, "InvalidParameterException");
	free(a);
	free(b);
}

static void test_drain_attributes_and_reopen(void **state)
{
	struct harness *h = *state;
	register_web(h);
	char *a = register_instance(h, 2048, 2048, "us-east-1a");
	json_decref(call_ok(h, "UpdateContainerInstancesState",
			    "{\"cluster\":\"c\",\"containerInstances\":[\"%s\"],\"status\":\"DRAINING\"}",
			    a));
	/* Only a draining instance: nothing can take tasks (ECS's error for no usable instance). */
	assert_int_equal(harness_ecs(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"web\"}"), 400);
	assert_non_null(strstr(h->body, "No Container Instances were found in your cluster."));
	json_t *j;
	json_decref(call_ok(h, "UpdateContainerInstancesState",
			    "{\"cluster\":\"c\",\"containerInstances\":[\"%s\"],\"status\":\"ACTIVE\"}", a));
	json_decref(call_ok(h, "PutAttributes",
			    "{\"cluster\":\"c\",\"attributes\":[{\"name\":\"stack\",\"value\":\"prod\","
			    "\"targetId\":\"%s\"}]}",
			    a));
	j = call_ok(h, "ListContainerInstances",
		    "{\"cluster\":\"c\",\"filter\":\"attribute:stack == prod\"}");
	assert_int_equal(json_array_size(json_object_get(j, "containerInstanceArns")), 1);
	json_decref(j);
	j = call_ok(h, "ListAttributes",
		    "{\"cluster\":\"c\",\"targetType\":\"container-instance\",\"attributeName\":\"stack\"}");
	assert_int_equal(json_array_size(json_object_get(j, "attributes")), 1);
	json_decref(j);
	assert_int_equal(
		harness_ecs(h, "PutAttributes",
			    "{\"cluster\":\"c\",\"attributes\":[{\"name\":\"x\",\"targetId\":\"nope\"}]}"),
		400);
	assert_string_equal(h->error_type, "TargetNotFoundException");
	j = call_ok(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"web\",\"clientToken\":\"tok1\"}");
	char *t1 = xstrdup(json_string_value(
		json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "taskArn")));
	json_decref(j);
	/* Same clientToken: the same task, not a new one. */
	j = call_ok(h, "RunTask", "{\"cluster\":\"c\",\"taskDefinition\":\"web\",\"clientToken\":\"tok1\"}");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "taskArn")),
		t1);
	json_decref(j);
	long long mem_before = remaining(h, a, "MEMORY");
	assert_int_equal(mem_before, 2048 - 512);
	harness_close(h);
	assert_int_equal(harness_open(h), 0);
	/* After a restart the task holds its resources again and the attribute is still there. */
	assert_int_equal(remaining(h, a, "MEMORY"), mem_before);
	j = call_ok(h, "ListContainerInstances",
		    "{\"cluster\":\"c\",\"filter\":\"attribute:stack == prod\"}");
	assert_int_equal(json_array_size(json_object_get(j, "containerInstanceArns")), 1);
	json_decref(j);
	/* Deregistering with a task needs force; with force the task stops. */
	assert_int_equal(harness_ecs(h, "DeregisterContainerInstance",
				     "{\"cluster\":\"c\",\"containerInstance\":\"x\"}"),
			 400);
	char body[512];
	snprintf(body, sizeof(body), "{\"cluster\":\"c\",\"containerInstance\":\"%s\"}", a);
	assert_int_equal(harness_ecs(h, "DeregisterContainerInstance", body), 400);
	snprintf(body, sizeof(body), "{\"cluster\":\"c\",\"containerInstance\":\"%s\",\"force\":true}", a);
	assert_int_equal(harness_ecs(h, "DeregisterContainerInstance", body), 200);
	j = call_ok(h, "DescribeTasks", "{\"cluster\":\"c\",\"tasks\":[\"%s\"]}", t1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "tasks"), 0),
							      "lastStatus")),
			    "STOPPED");
	json_decref(j);
	json_decref(call_ok(h, "DeleteCluster", "{\"cluster\":\"c\"}"));
	free(t1);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_run_poll_report_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binpack_spread_and_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_attributes_and_reopen, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
