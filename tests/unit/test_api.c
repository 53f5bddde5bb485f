/* The API front and the ECS operations through the in-process harness: routing, auth refusals,
 * error shapes, isolation between accounts, and state surviving a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

static const char *type_of(struct harness *h)
{
	return h->error_type;
}

static void test_unknown_operation(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_ecs(h, "FlyToTheMoon", "{}"), 400);
	assert_string_equal(type_of(h), "UnknownOperationException");
	assert_int_equal(harness_call_as(h, H_KEY_A, H_SECRET_A, "NoSuchService_2020.CreateCluster", "{}"),
			 400);
	assert_string_equal(type_of(h), "UnknownOperationException");
}

static void test_malformed_json(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_ecs(h, "CreateCluster", "{\"clusterName\": "), 400);
	assert_string_equal(type_of(h), "SerializationException");
	assert_int_equal(harness_ecs(h, "CreateCluster", "[1]"), 400);
	assert_string_equal(type_of(h), "SerializationException");
}

static void test_wrong_member_type_names_member(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_ecs(h, "CreateCluster", "{\"clusterName\": 5}"), 400);
	assert_string_equal(type_of(h), "InvalidParameterException");
	assert_non_null(strstr(h->body, "clusterName"));
}

static void test_missing_auth(void **state)
{
	struct harness *h = *state;
	const char *hdrs[] = {"Host",	      "gantry.test",
			      "X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters",
			      NULL,	      NULL};
	assert_int_equal(harness_raw(h, hdrs, "{}", 2), 403);
	assert_string_equal(type_of(h), "MissingAuthenticationTokenException");
}

static void test_unknown_key(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_call_as(h, "GKIANOSUCHKEY0000000", H_SECRET_A,
					 "AmazonEC2ContainerServiceV20141113.ListClusters", "{}"),
			 403);
	assert_string_equal(type_of(h), "UnrecognizedClientException");
}

static void test_bad_signature(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_call_as(h, H_KEY_A, "not-the-secret",
					 "AmazonEC2ContainerServiceV20141113.ListClusters", "{}"),
			 403);
	assert_string_equal(type_of(h), "InvalidSignatureException");
}

static void test_too_large(void **state)
{
	struct harness *h = *state;
	struct api_request r = {.method = "POST",
				.path = "/",
				.query = "",
				.too_large = true,
				.respond = harness__respond,
				.ctx = h};
	api_serve(h->api, &r);
	assert_int_equal(h->status, 413);
}

static void test_body_max_per_operation(void **state)
{
	struct harness *h = *state;
	const char *list = "AmazonEC2ContainerServiceV20141113.ListClusters";
	assert_int_equal(api_body_max(h->api, list), API_BODY_MAX);
	api_set_body_max(h->api, list, 3 * API_BODY_MAX);
	assert_int_equal(api_body_max(h->api, list), 3 * API_BODY_MAX);
	/* That operation only; API_BODY_MAX for the others, without a target, or for one no service has. */
	assert_int_equal(api_body_max(h->api, "AmazonEC2ContainerServiceV20141113.CreateCluster"),
			 API_BODY_MAX);
	assert_int_equal(api_body_max(h->api, NULL), API_BODY_MAX);
	assert_int_equal(api_body_max(h->api, "AmazonEC2ContainerServiceV20141113.Nope"), API_BODY_MAX);
	assert_int_equal(api_body_max(h->api, "Nope_2020.ListClusters"), API_BODY_MAX);
	/* A refusal names the bound that applied to the request. */
	struct hsrv_header hdr[] = {{"X-Amz-Target", list}};
	struct api_request r = {.method = "POST",
				.path = "/",
				.query = "",
				.headers = hdr,
				.nheaders = 1,
				.too_large = true,
				.respond = harness__respond,
				.ctx = h};
	api_serve(h->api, &r);
	assert_int_equal(h->status, 413);
	assert_string_equal(type_of(h), "RequestEntityTooLargeException");
	assert_non_null(strstr(h->body, "exceeds the limit of 3145728 bytes"));
	hdr[0].value = "AmazonEC2ContainerServiceV20141113.CreateCluster";
	api_serve(h->api, &r);
	assert_non_null(strstr(h->body, "exceeds the limit of 1048576 bytes"));
}

static void test_cluster_lifecycle_and_isolation(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_ecs(h, "CreateCluster", "{\"clusterName\":\"web\"}"), 200);
	json_t *j = harness_json(h);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "cluster"), "clusterArn")),
			    "arn:aws:ecs:us-east-1:111111111111:cluster/web");
	json_decref(j);
	/* Account B sees nothing of A's. */
	assert_int_equal(harness_call_as(h, H_KEY_B, H_SECRET_B,
					 "AmazonEC2ContainerServiceV20141113.ListClusters", "{}"),
			 200);
	assert_string_equal(h->body, "{\"clusterArns\":[]}");
	assert_int_equal(
		harness_call_as(h, H_KEY_B, H_SECRET_B, "AmazonEC2ContainerServiceV20141113.DescribeClusters",
				"{\"clusters\":[\"arn:aws:ecs:us-east-1:111111111111:cluster/web\"]}"),
		200);
	j = harness_json(h);
	assert_int_equal(json_array_size(json_object_get(j, "clusters")), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "failures"), 0), "reason")),
			    "MISSING");
	json_decref(j);
	assert_int_equal(harness_call_as(h, H_KEY_B, H_SECRET_B,
					 "AmazonEC2ContainerServiceV20141113.DeleteCluster",
					 "{\"cluster\":\"arn:aws:ecs:us-east-1:111111111111:cluster/web\"}"),
			 400);
	assert_string_equal(type_of(h), "ClusterNotFoundException");
	/* Delete makes it INACTIVE: still describable, no longer listed. */
	assert_int_equal(harness_ecs(h, "DeleteCluster", "{\"cluster\":\"web\"}"), 200);
	assert_int_equal(harness_ecs(h, "DescribeClusters", "{\"clusters\":[\"web\"]}"), 200);
	assert_non_null(strstr(h->body, "\"INACTIVE\""));
	assert_int_equal(harness_ecs(h, "ListClusters", "{}"), 200);
	assert_string_equal(h->body, "{\"clusterArns\":[]}");
}

static void test_state_survives_reopen(void **state)
{
	struct harness *h = *state;
	assert_int_equal(harness_ecs(h, "CreateCluster",
				     "{\"clusterName\":\"keep\",\"tags\":[{\"key\":\"k\",\"value\":\"v\"}]}"),
			 200);
	assert_int_equal(harness_ecs(h, "RegisterTaskDefinition",
				     "{\"family\":\"fam\",\"containerDefinitions\":[{\"name\":\"c\","
				     "\"image\":\"i\",\"memory\":64}]}"),
			 200);
	assert_int_equal(harness_ecs(h, "RegisterTaskDefinition",
				     "{\"family\":\"fam\",\"containerDefinitions\":[{\"name\":\"c\","
				     "\"image\":\"i2\",\"memory\":64}]}"),
			 200);
	assert_int_equal(
		harness_ecs(h, "PutAccountSetting", "{\"name\":\"containerInsights\",\"value\":\"enabled\"}"),
		200);
	assert_int_equal(harness_ecs(h, "DescribeClusters",
				     "{\"clusters\":[\"keep\"],\"include\":[\"TAGS\",\"SETTINGS\"]}"),
			 200);
	char *before_c = xstrdup(h->body);
	assert_int_equal(harness_ecs(h, "DescribeTaskDefinition", "{\"taskDefinition\":\"fam\"}"), 200);
	char *before_td = xstrdup(h->body);
	harness_close(h);
	assert_int_equal(harness_open(h), 0);
	assert_int_equal(harness_ecs(h, "DescribeClusters",
				     "{\"clusters\":[\"keep\"],\"include\":[\"TAGS\",\"SETTINGS\"]}"),
			 200);
	assert_string_equal(h->body, before_c);
	assert_int_equal(harness_ecs(h, "DescribeTaskDefinition", "{\"taskDefinition\":\"fam\"}"), 200);
	assert_string_equal(h->body, before_td);
	assert_non_null(strstr(h->body, "\"revision\":2"));
	assert_int_equal(harness_ecs(h, "ListAccountSettings", "{\"name\":\"containerInsights\"}"), 200);
	assert_non_null(strstr(h->body, "\"enabled\""));
	/* The next revision continues the numbering. */
	assert_int_equal(harness_ecs(h, "RegisterTaskDefinition",
				     "{\"family\":\"fam\",\"containerDefinitions\":[{\"name\":\"c\","
				     "\"image\":\"i3\",\"memory\":64}]}"),
			 200);
	assert_non_null(strstr(h->body, "\"revision\":3"));
	free(before_c);
	free(before_td);
}

static void test_pagination(void **state)
{
	struct harness *h = *state;
	char body[128];
	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"clusterName\":\"c%d\"}", i);
		assert_int_equal(harness_ecs(h, "CreateCluster", body), 200);
	}
	json_t *seen = json_array();
	char *token = NULL;
	do {
		if (token)
			snprintf(body, sizeof(body), "{\"maxResults\":2,\"nextToken\":\"%s\"}", token);
		else
			snprintf(body, sizeof(body), "{\"maxResults\":2}");
		free(token);
		token = NULL;
		assert_int_equal(harness_ecs(h, "ListClusters", body), 200);
		json_t *j = harness_json(h);
		assert_true(json_array_size(json_object_get(j, "clusterArns")) <= 2);
		json_array_extend(seen, json_object_get(j, "clusterArns"));
		const char *t = json_string_value(json_object_get(j, "nextToken"));
		token = t ? xstrdup(t) : NULL;
		json_decref(j);
	} while (token);
	assert_int_equal(json_array_size(seen), 5);
	assert_string_equal(json_string_value(json_array_get(seen, 4)),
			    "arn:aws:ecs:us-east-1:111111111111:cluster/c4");
	json_decref(seen);
	assert_int_equal(harness_ecs(h, "ListClusters", "{\"nextToken\":\"garbage\"}"), 400);
	assert_string_equal(type_of(h), "InvalidParameterException");
	assert_int_equal(harness_ecs(h, "ListClusters", "{\"maxResults\":0}"), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_operation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_member_type_names_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_max_per_operation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_lifecycle_and_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pagination, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
