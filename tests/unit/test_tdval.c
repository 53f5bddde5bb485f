/* Unit tests for the RegisterTaskDefinition validator (ecs/tdval.h): every rule accepts what ECS
 * accepts and refuses what it refuses with the exception kind and a message that names the member
 * and container; task sizes parse like the API's ("1 vCPU", "2 GB"); the Fargate task size table;
 * the document has ECS's defaults, compatibilities and requiresAttributes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/jv.h"
#include "common/xalloc.h"
#include "ecs/tdval.h"

/* ---- helpers ---- */

/* JSON written with single quotes, to keep the cases readable. */
static json_t *parse(const char *text)
{
	char *s = xstrdup(text);
	json_error_t je;
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_t *j = json_loads(s, 0, &je);
	if (!j)
		fail_msg("test JSON does not parse: %s: %s", je.text, s);
	free(s);
	return j;
}

/* Registers req (taking the reference) and expects success; the request must not change. */
static json_t *ok_json(json_t *req)
{
	struct err *e = NULL;
	char *before = jv_dump(req);
	json_t *td = tdval_register(req, &e);
	if (!td)
		fail_msg("unexpected %s: %s", err_kind_name(e->kind), e->msg);
	assert_null(e);
	char *after = jv_dump(req);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(req);
	return td;
}

static json_t *ok(const char *text)
{
	return ok_json(parse(text));
}

/* Expects req (reference taken) to fail with kind and a message containing each needle. */
static void bad_json(json_t *req, enum err_kind kind, const char *n1, const char *n2)
{
	struct err *e = NULL;
	json_t *td = tdval_register(req, &e);
	if (td) {
		char *s = jv_dump(td);
		fail_msg("unexpected success: %s", s);
	}
	assert_non_null(e);
	if (e->kind != kind)
		fail_msg("expected %s, got %s: %s", err_kind_name(kind), err_kind_name(e->kind), e->msg);
	if (n1 && !strstr(e->msg, n1))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, n1);
	if (n2 && !strstr(e->msg, n2))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, n2);
	err_free(e);
	json_decref(req);
}

static void bad(const char *text, enum err_kind kind, const char *n1, const char *n2)
{
	bad_json(parse(text), kind, n1, n2);
}

/* The member at a path like "containerDefinitions[0].portMappings[1].hostPort" (borrowed). */
static json_t *at(json_t *j, const char *path)
{
	const char *p = path;
	while (*p && j) {
		size_t n = strcspn(p, ".[");
		if (n) {
			char *key = xstrndup(p, n);
			j = json_object_get(j, key);
			free(key);
			p += n;
		}
		while (*p == '[' && j) {
			char *end;
			j = json_array_get(j, strtoul(p + 1, &end, 10));
			p = end + 1;
		}
		if (*p == '.')
			p++;
	}
	return j;
}

static long long at_int(json_t *j, const char *path)
{
	json_t *v = at(j, path);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

static const char *at_str(json_t *j, const char *path)
{
	json_t *v = at(j, path);
	if (!json_is_string(v))
		fail_msg("%s is not a string", path);
	return json_string_value(v);
}

static bool has_attr(json_t *td, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach (json_object_get(td, "requiresAttributes"), i, a) {
		if (strcmp(json_string_value(json_object_get(a, "name")), name) == 0)
			return true;
	}
	return false;
}

static void assert_json(json_t *v, const char *expect)
{
	json_t *want = parse(expect);
	if (!json_equal(v, want)) {
		char *got = v ? jv_dump(v) : xstrdup("(absent)");
		fail_msg("got %s, want %s", got, expect);
	}
	json_decref(want);
}

/* Building blocks. C(x): a container "app" with memory; TD(x): a task with family "f". */
#define C(extra)	       "{'name':'app','image':'nginx','memory':128" extra "}"
#define CN(name, extra)	       "{'name':'" name "','image':'nginx','memory':128" extra "}"
#define TD(containers)	       "{'family':'f','containerDefinitions':[" containers "]}"
#define TDX(extra, containers) "{'family':'f'" extra ",'containerDefinitions':[" containers "]}"
#define AWSVPC(containers)     TDX(",'networkMode':'awsvpc'", containers)
#define FG_TASK		       ",'requiresCompatibilities':['FARGATE'],'networkMode':'awsvpc','cpu':'256','memory':'512'"
#define FG(extra, containers)  TDX(FG_TASK extra, containers)

/* ---- task sizes ---- */

static void expect_cpu(const char *s, long long want)
{
	long long got = -1;
	struct err *e = NULL;
	if (tdval_parse_cpu(s, "cpu", &got, &e) < 0)
		fail_msg("'%s': %s", s, e->msg);
	assert_int_equal(got, want);
}

static void expect_mem(const char *s, long long want)
{
	long long got = -1;
	struct err *e = NULL;
	if (tdval_parse_memory(s, "memory", &got, &e) < 0)
		fail_msg("'%s': %s", s, e->msg);
	assert_int_equal(got, want);
}

static void expect_bad_size(bool cpu, const char *s)
{
	long long got = -1;
	struct err *e = NULL;
	int rc = cpu ? tdval_parse_cpu(s, "cpu", &got, &e) : tdval_parse_memory(s, "memory", &got, &e);
	if (rc == 0)
		fail_msg("'%s' parsed as %lld", s ? s : "(null)", got);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	assert_string_equal(e->msg,
			    cpu ? "Invalid 'cpu' setting for task." : "Invalid 'memory' setting for task.");
	assert_int_equal(got, -1);
	err_free(e);
}

static void test_parse_cpu(void **state)
{
	(void)state;
	expect_cpu("256", 256);
	expect_cpu(" 1024 ", 1024);
	expect_cpu("1 vCPU", 1024);
	expect_cpu("1 vcpu", 1024);
	expect_cpu("1vcpu", 1024);
	expect_cpu("2 VCPU", 2048);
	expect_cpu("0.25 vcpu", 256);
	expect_cpu(".5 vCPU", 512);
	expect_cpu("0.125 vCPU", 128);
	expect_cpu("192 vCPU", 196608);
	expect_cpu("16.0 vCPU", 16384);
	static const char *const bad_values[] = {"",
						 " ",
						 "abc",
						 "0",
						 "-1",
						 "1.5",
						 "0.1 vCPU",
						 "1 GB",
						 "1 vCPU x",
						 "vCPU",
						 "1..5 vCPU",
						 "1. vCPU",
						 "99999999999999999999",
						 "1e3",
						 "0x100",
						 "2147483648",
						 "1 cpu",
						 NULL};
	for (size_t i = 0; bad_values[i]; i++)
		expect_bad_size(true, bad_values[i]);
	expect_bad_size(true, NULL);
}

static void test_parse_memory(void **state)
{
	(void)state;
	expect_mem("512", 512);
	expect_mem("2 GB", 2048);
	expect_mem("2GB", 2048);
	expect_mem("2 gb", 2048);
	expect_mem("0.5 GB", 512);
	expect_mem("1.5gb", 1536);
	expect_mem("512 MiB", 512);
	expect_mem("512 MB", 512);
	expect_mem("1 GiB", 1024);
	expect_mem("120 GB", 122880);
	static const char *const bad_values[] = {"",	  "GB",	   "2 TB", "1.5",	 "0.0001 GB",
						 "-2 GB", "2 G B", "0 GB", "3000000 GB", NULL};
	for (size_t i = 0; bad_values[i]; i++)
		expect_bad_size(false, bad_values[i]);
}

static void test_fargate_table(void **state)
{
	(void)state;
	static const long long good[][2] = {
		{256, 512},	{256, 1024},	{256, 2048},	 {512, 1024},	{512, 2048},   {512, 3072},
		{512, 4096},	{1024, 2048},	{1024, 5120},	 {1024, 8192},	{2048, 4096},  {2048, 9216},
		{2048, 16384},	{4096, 8192},	{4096, 30720},	 {8192, 16384}, {8192, 20480}, {8192, 61440},
		{16384, 32768}, {16384, 40960}, {16384, 122880},
	};
	static const long long badsz[][2] = {
		{256, 256},	 {256, 3072},  {256, 4096},   {512, 512},     {512, 5120},
		{1024, 1024},	 {1024, 9216}, {1024, 2560},  {2048, 3072},   {2048, 17408},
		{4096, 31744},	 {4096, 7168}, {8192, 18432}, {8192, 65536},  {16384, 36864},
		{16384, 131072}, {128, 512},   {3072, 8192},  {32768, 65536}, {0, 0},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!tdval_fargate_size_ok(good[i][0], good[i][1]))
			fail_msg("%lld CPU / %lld MiB should be a Fargate size", good[i][0], good[i][1]);
	for (size_t i = 0; i < sizeof(badsz) / sizeof(badsz[0]); i++)
		if (tdval_fargate_size_ok(badsz[i][0], badsz[i][1]))
			fail_msg("%lld CPU / %lld MiB should not be a Fargate size", badsz[i][0],
				 badsz[i][1]);
	/* Every size of the table registers for Fargate, written in vCPU and GB. */
	static const char *const sizes[][2] = {
		{"0.25 vCPU", "0.5 GB"}, {".5 vcpu", "4GB"},  {"1 vCPU", "8 GB"},    {"2 vCPU", "16 GB"},
		{"4 vCPU", "30 GB"},	 {"8 vCPU", "60 GB"}, {"16 vCPU", "120 GB"},
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		json_t *req =
			parse(TDX(",'requiresCompatibilities':['FARGATE'],'networkMode':'awsvpc'", C("")));
		json_object_set_new(req, "cpu", json_string(sizes[i][0]));
		json_object_set_new(req, "memory", json_string(sizes[i][1]));
		json_decref(ok_json(req));
	}
	bad(TDX(",'requiresCompatibilities':['FARGATE'],'networkMode':'awsvpc','cpu':'256','memory':'4096'",
		C("")),
	    ERR_CLIENT,
	    "No Fargate configuration exists for given values: 256 CPU, 4096 memory. See the Amazon ECS "
	    "documentation "
	    "for the valid values.",
	    NULL);
	bad(TDX(",'requiresCompatibilities':['FARGATE'],'networkMode':'awsvpc','cpu':'1 vCPU','memory':'1 "
		"GB'",
		C("")),
	    ERR_CLIENT, "1024 CPU, 1024 memory", NULL);
}

/* ---- the document ---- */

static void test_defaults(void **state)
{
	(void)state;
	json_t *td = ok("{'family':'web','bogus':1,'containerDefinitions':[{'name':'app','image':'nginx',"
			"'memory':128,'unknownMember':{'x':1}}],'tags':[{'key':'team','value':'a'}]}");
	assert_string_equal(at_str(td, "family"), "web");
	assert_string_equal(at_str(td, "networkMode"), "bridge");
	assert_json(at(td, "volumes"), "[]");
	assert_json(at(td, "placementConstraints"), "[]");
	assert_json(at(td, "compatibilities"), "['EXTERNAL','EC2']");
	assert_json(at(td, "containerDefinitions[0]"),
		    "{'name':'app','image':'nginx','cpu':0,'memory':128,'portMappings':[],'essential':true,"
		    "'environment':[],'mountPoints':[],'volumesFrom':[],'systemControls':[]}");
	/* ECS's member order: name, image, cpu, memory, portMappings, essential, ... */
	const char *keys[] = {"name", "image", "cpu", "memory", "portMappings", "essential"};
	void *it = json_object_iter(at(td, "containerDefinitions[0]"));
	for (size_t i = 0; i < 6; i++, it = json_object_iter_next(at(td, "containerDefinitions[0]"), it))
		assert_string_equal(json_object_iter_key(it), keys[i]);
	static const char *const absent[] = {"bogus",
					     "tags",
					     "taskDefinitionArn",
					     "revision",
					     "status",
					     "registeredAt",
					     "registeredBy",
					     "requiresAttributes",
					     "requiresCompatibilities",
					     "cpu",
					     "memory",
					     "taskRoleArn",
					     NULL};
	for (size_t i = 0; absent[i]; i++)
		if (json_object_get(td, absent[i]))
			fail_msg("%s should be absent", absent[i]);
	json_decref(td);
	/* essential false and cpu given are kept; whole reals become integers. */
	td = ok(TD(CN("a", ",'cpu':256.0") "," CN("b", ",'essential':false")));
	assert_int_equal(at_int(td, "containerDefinitions[0].cpu"), 256);
	assert_true(json_is_false(at(td, "containerDefinitions[1].essential")));
	json_decref(td);
}

static void test_fargate_document(void **state)
{
	(void)state;
	json_t *td = ok(
		"{'family':'api','networkMode':'awsvpc','requiresCompatibilities':['FARGATE'],'cpu':'1 vCPU',"
		"'memory':'2 GB','executionRoleArn':'arn:aws:iam::123456789012:role/exec',"
		"'taskRoleArn':'arn:aws:iam::123456789012:role/task',"
		"'runtimePlatform':{'cpuArchitecture':'ARM64','operatingSystemFamily':'LINUX'},"
		"'containerDefinitions':[{'name':'web',"
		"'image':'123456789012.dkr.ecr.us-east-1.amazonaws.com/"
		"web:1','portMappings':[{'containerPort':80}],"
		"'logConfiguration':{'logDriver':'awslogs','options':{'awslogs-group':'/ecs/api',"
		"'awslogs-region':'us-east-1','awslogs-stream-prefix':'api'}},"
		"'healthCheck':{'command':['CMD-SHELL','curl -f http://localhost/ || exit 1']}}]}");
	assert_string_equal(at_str(td, "cpu"), "1024");
	assert_string_equal(at_str(td, "memory"), "2048");
	assert_json(at(td, "compatibilities"), "['EC2','FARGATE']");
	assert_json(at(td, "requiresCompatibilities"), "['FARGATE']");
	assert_json(at(td, "containerDefinitions[0].portMappings"),
		    "[{'containerPort':80,'hostPort':80,'protocol':'tcp'}]");
	assert_json(
		at(td, "containerDefinitions[0].healthCheck"),
		"{'command':['CMD-SHELL','curl -f http://localhost/ || exit 1'],'interval':30,'timeout':5,"
		"'retries':3}");
	assert_json(at(td, "containerDefinitions[0].logConfiguration.secretOptions"), "[]");
	assert_json(at(td, "runtimePlatform"), "{'cpuArchitecture':'ARM64','operatingSystemFamily':'LINUX'}");
	assert_string_equal(at_str(td, "executionRoleArn"), "arn:aws:iam::123456789012:role/exec");
	static const char *const attrs[] = {"ecs.capability.task-eni",
					    "com.amazonaws.ecs.capability.task-iam-role",
					    "com.amazonaws.ecs.capability.logging-driver.awslogs",
					    "ecs.capability.execution-role-awslogs",
					    "com.amazonaws.ecs.capability.ecr-auth",
					    "ecs.capability.execution-role-ecr-pull",
					    "ecs.capability.container-health-check",
					    "com.amazonaws.ecs.capability.docker-remote-api.1.18",
					    "com.amazonaws.ecs.capability.docker-remote-api.1.19",
					    "com.amazonaws.ecs.capability.docker-remote-api.1.24",
					    NULL};
	for (size_t i = 0; attrs[i]; i++)
		if (!has_attr(td, attrs[i]))
			fail_msg("requiresAttributes lacks %s", attrs[i]);
	assert_false(has_attr(td, "com.amazonaws.ecs.capability.docker-remote-api.1.29"));
	/* No duplicates. */
	json_t *names = json_object();
	size_t i;
	json_t *a;
	json_array_foreach (json_object_get(td, "requiresAttributes"), i, a) {
		const char *n = json_string_value(json_object_get(a, "name"));
		assert_null(json_object_get(names, n));
		json_object_set_new(names, n, json_true());
	}
	json_decref(names);
	json_decref(td);
}

static void test_compatibilities(void **state)
{
	(void)state;
	/* awsvpc with a Fargate size is Fargate-compatible even when only EC2 is required. */
	json_t *td = ok(
		TDX(",'networkMode':'awsvpc','cpu':'512','memory':'1024','requiresCompatibilities':['EC2']",
		    C("")));
	assert_json(at(td, "compatibilities"), "['EC2','FARGATE']");
	json_decref(td);
	/* Without a task size (or with one Fargate lacks) it is not. */
	td = ok(AWSVPC(C("")));
	assert_json(at(td, "compatibilities"), "['EC2']");
	json_decref(td);
	td = ok(TDX(",'networkMode':'awsvpc','cpu':'384','memory':'1024'", C("")));
	assert_json(at(td, "compatibilities"), "['EC2']");
	assert_string_equal(at_str(td, "cpu"), "384");
	json_decref(td);
	/* Nor when a container uses what Fargate does not offer. */
	td = ok(TDX(",'networkMode':'awsvpc','cpu':'512','memory':'1024'", C(",'privileged':true")));
	assert_json(at(td, "compatibilities"), "['EC2']");
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.privileged-container"));
	json_decref(td);
	/* host and none run on external instances too. */
	td = ok(TDX(",'networkMode':'host','requiresCompatibilities':['EXTERNAL','EC2']", C("")));
	assert_json(at(td, "compatibilities"), "['EXTERNAL','EC2']");
	json_decref(td);
	bad(TDX(",'networkMode':'awsvpc','requiresCompatibilities':['EXTERNAL']", C("")), ERR_CLIENT,
	    "'networkMode'", "awsvpc");
	bad(TDX(",'requiresCompatibilities':['LAMBDA']", C("")), ERR_INVALID_PARAM,
	    "requiresCompatibilities[0]", "EC2, FARGATE, EXTERNAL");
}

/* The WordPress + MySQL bridge example of the ECS docs (aws ecs register-task-definition). */
static void test_docs_links_example(void **state)
{
	(void)state;
	json_t *td = ok("{'family':'hello_world','containerDefinitions':["
			"{'name':'wordpress','links':['mysql'],'image':'wordpress','essential':true,"
			"'portMappings':[{'containerPort':80,'hostPort':80}],'memory':500,'cpu':10},"
			"{'environment':[{'name':'MYSQL_ROOT_PASSWORD','value':'password'}],'name':'mysql',"
			"'image':'mysql','cpu':10,'memory':500,'essential':true}]}");
	assert_json(at(td, "containerDefinitions[0].links"), "['mysql']");
	assert_json(at(td, "containerDefinitions[0].portMappings"),
		    "[{'containerPort':80,'hostPort':80,'protocol':'tcp'}]");
	assert_json(at(td, "containerDefinitions[1].portMappings"), "[]");
	assert_json(at(td, "containerDefinitions[1].environment"),
		    "[{'name':'MYSQL_ROOT_PASSWORD','value':'password'}]");
	assert_json(at(td, "compatibilities"), "['EXTERNAL','EC2']");
	assert_string_equal(at_str(td, "networkMode"), "bridge");
	json_decref(td);
}

/* An nginx front linked to an app container, bridge mode, as in the ECS task definition examples:
 * nginx publishes 80, the app gets a dynamic host port, nginx reaches it through the link. */
static void test_nginx_app_links(void **state)
{
	(void)state;
	json_t *td = ok(
		"{'family':'nginx-app','networkMode':'bridge','containerDefinitions':["
		"{'name':'nginx','image':'nginx:1.25','memory':256,'cpu':256,'essential':true,"
		"'links':['app:backend'],'portMappings':[{'containerPort':80,'hostPort':80,'protocol':'tcp'}]"
		","
		"'dependsOn':[{'containerName':'app','condition':'START'}]},"
		"{'name':'app','image':'example/"
		"app:latest','memoryReservation':256,'cpu':512,'essential':true,"
		"'portMappings':[{'containerPort':8080}],'environment':[{'name':'PORT','value':'8080'}]}]}");
	assert_json(at(td, "containerDefinitions[0].links"), "['app:backend']");
	assert_json(at(td, "containerDefinitions[1].portMappings"),
		    "[{'containerPort':8080,'hostPort':0,'protocol':'tcp'}]");
	assert_true(has_attr(td, "ecs.capability.container-ordering"));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.docker-remote-api.1.21"));
	assert_false(has_attr(td, "ecs.capability.task-eni"));
	json_decref(td);
}

/* ---- task-level rules ---- */

static void test_family(void **state)
{
	(void)state;
	char name[300];
	bad("{'containerDefinitions':[" C("") "]}", ERR_CLIENT, "Family should not be null or empty.", NULL);
	bad("{'family':'','containerDefinitions':[" C("") "]}", ERR_CLIENT, "Family", NULL);
	bad("{'family':'my family','containerDefinitions':[" C("") "]}", ERR_CLIENT, "family 'my family'",
	    "letters");
	bad("{'family':'a.b','containerDefinitions':[" C("") "]}", ERR_CLIENT, "family 'a.b'", NULL);
	bad("{'family':5,'containerDefinitions':[" C("") "]}", ERR_INVALID_PARAM, "'family'",
	    "expected string");
	memset(name, 'a', 255);
	name[255] = '\0';
	json_t *req = parse(TD(C("")));
	json_object_set_new(req, "family", json_string(name));
	json_decref(ok_json(req));
	req = parse(TD(C("")));
	name[255] = 'a';
	name[256] = '\0';
	json_object_set_new(req, "family", json_string(name));
	bad_json(req, ERR_CLIENT, "Up to 255 letters", NULL);
	json_decref(ok("{'family':'Web_app-2','containerDefinitions':[" C("") "]}"));
}

static void test_request_types(void **state)
{
	(void)state;
	bad_json(json_array(), ERR_INVALID_PARAM, "JSON object", NULL);
	bad_json(json_null(), ERR_INVALID_PARAM, NULL, NULL);
	bad(TD(C(",'cpu':'abc'")), ERR_INVALID_PARAM, "'containerDefinitions[0].cpu'", "expected integer");
	bad(TD(C(",'cpu':1.5")), ERR_INVALID_PARAM, "'containerDefinitions[0].cpu'", NULL);
	bad(TD(C(",'cpu':1099511627776")), ERR_INVALID_PARAM, "'containerDefinitions[0].cpu'",
	    "out of range");
	bad(TD(C(",'essential':'yes'")), ERR_INVALID_PARAM, "containerDefinitions[0].essential", "boolean");
	bad(TD(C(",'portMappings':{}")), ERR_INVALID_PARAM, "containerDefinitions[0].portMappings", "list");
	bad(TD(C(",'portMappings':[80]")), ERR_INVALID_PARAM, "containerDefinitions[0].portMappings[0]",
	    "structure");
	bad(TD(C(",'command':['sh',1]")), ERR_INVALID_PARAM, "containerDefinitions[0].command[1]", NULL);
	bad(TD(C(",'dockerLabels':{'a':1}")), ERR_INVALID_PARAM, "containerDefinitions[0].dockerLabels.a",
	    NULL);
	bad(TD(C("") ",'nginx'"), ERR_INVALID_PARAM, "containerDefinitions[1]", "structure");
	bad(TDX(",'networkMode':'overlay'", C("")), ERR_INVALID_PARAM, "'networkMode'",
	    "Valid values are: bridge, host, awsvpc, none.");
	bad(TDX(",'cpu':256", C("")), ERR_INVALID_PARAM, "'cpu'", "expected string");
	bad(TD(C(",'ulimits':[{'name':'nofile','softLimit':1}]")), ERR_INVALID_PARAM,
	    "containerDefinitions[0].ulimits[0].hardLimit", "Missing");
	json_t *req = parse(TD(C("")));
	json_object_set_new(json_array_get(json_object_get(req, "containerDefinitions"), 0), "user",
			    json_stringn("ro\0ot", 5));
	bad_json(req, ERR_INVALID_PARAM, "containerDefinitions[0].user", "NUL");
	/* null is absent, as in the AWS JSON protocol. */
	json_decref(ok(TDX(",'networkMode':null,'volumes':null", C(",'cpu':null"))));
}

static void test_size_limit(void **state)
{
	(void)state;
	json_t *req = parse(TD(C(",'environment':[{'name':'BIG','value':''}]")));
	json_t *env = at(req, "containerDefinitions[0].environment[0]");
	char *big = xmalloc(70001);
	memset(big, 'x', 70000);
	big[70000] = '\0';
	json_object_set_new(env, "value", json_string(big));
	bad_json(req, ERR_CLIENT, "Actual length: '", "Max allowed length is '65536' bytes.");
	/* Just under the limit passes. */
	req = parse(TD(C(",'environment':[{'name':'BIG','value':''}]")));
	big[60000] = '\0';
	json_object_set_new(at(req, "containerDefinitions[0].environment[0]"), "value", json_string(big));
	json_decref(ok_json(req));
	free(big);
}

static void test_network_and_task_size(void **state)
{
	(void)state;
	json_t *td = ok(TDX(",'cpu':'0.5 vCPU','memory':'1GB'", C("")));
	assert_string_equal(at_str(td, "cpu"), "512");
	assert_string_equal(at_str(td, "memory"), "1024");
	json_decref(td);
	bad(TDX(",'cpu':'abc'", C("")), ERR_INVALID_PARAM, "Invalid 'cpu' setting for task.", NULL);
	bad(TDX(",'cpu':''", C("")), ERR_INVALID_PARAM, "Invalid 'cpu' setting for task.", NULL);
	bad(TDX(",'memory':'lots'", C("")), ERR_INVALID_PARAM, "Invalid 'memory' setting for task.", NULL);
	bad(TDX(",'cpu':'64'", C("")), ERR_CLIENT, "'cpu'", "128");
	bad(TDX(",'cpu':'200 vCPU'", C("")), ERR_CLIENT, "'cpu'", "196608");
	bad(TDX(",'memory':'4'", C("")), ERR_CLIENT, "'memory'", "6 MiB");
	/* Fargate. */
	bad(TDX(",'requiresCompatibilities':['FARGATE'],'cpu':'256','memory':'512'", C("")), ERR_CLIENT,
	    "Fargate only supports network mode 'awsvpc'.", NULL);
	bad(TDX(",'requiresCompatibilities':['FARGATE'],'networkMode':'bridge','cpu':'256','memory':'512'",
		C("")),
	    ERR_CLIENT, "Fargate only supports network mode 'awsvpc'.", NULL);
	bad(TDX(",'requiresCompatibilities':['FARGATE'],'networkMode':'awsvpc','memory':'512'", C("")),
	    ERR_CLIENT, "Fargate requires that 'cpu' be defined at the task level.", NULL);
	bad(TDX(",'requiresCompatibilities':['FARGATE'],'networkMode':'awsvpc','cpu':'256'", C("")),
	    ERR_CLIENT, "Fargate requires that 'memory' be defined at the task level.", NULL);
	bad(FG(",'pidMode':'host'", C("")), ERR_CLIENT, "'pidMode'", NULL);
	json_decref(ok(FG(",'pidMode':'task'", C(""))));
	bad(FG(",'ipcMode':'task'", C("")), ERR_CLIENT, "'ipcMode'", NULL);
	bad(FG(",'placementConstraints':[{'type':'memberOf','expression':'attribute:ecs.os-type == linux'}]",
	       C("")),
	    ERR_CLIENT, "'placementConstraints'", NULL);
	bad(FG(",'runtimePlatform':{'operatingSystemFamily':'WINDOWS_SERVER_2022_CORE'}", C("")), ERR_CLIENT,
	    "1 vCPU", NULL);
	bad(TDX(",'pidMode':'process'", C("")), ERR_INVALID_PARAM, "'pidMode'", "host, task");
	bad(TDX(",'ipcMode':'shareable'", C("")), ERR_INVALID_PARAM, "'ipcMode'", "host, task, none");
	td = ok(TDX(",'pidMode':'host','ipcMode':'none'", C("")));
	assert_true(has_attr(td, "ecs.capability.pid-ipc-namespace-sharing"));
	json_decref(td);
	/* Task-level memory lets containers go without. */
	json_decref(ok(TDX(",'memory':'512'", "{'name':'app','image':'nginx'}")));
	json_decref(ok(FG("", "{'name':'app','image':'nginx'}")));
}

static void test_fargate_containers(void **state)
{
	(void)state;
	bad(FG("", C(",'privileged':true")), ERR_CLIENT, "'privileged'", "container 'app'");
	bad(FG("", C(",'logConfiguration':{'logDriver':'awslogs','options':{'awslogs-group':'g'}}")),
	    ERR_CLIENT,
	    "Fargate requires task definition to have execution role ARN to support log driver awslogs.",
	    NULL);
	json_decref(ok(FG(",'executionRoleArn':'arn:aws:iam::1:role/x'",
			  C(",'logConfiguration':{'logDriver':'awslogs','options':{'awslogs-group':'g'}}"))));
	bad(FG("", "{'name':'app','image':'123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1'}"),
	    ERR_CLIENT, "Fargate requires task definition to have execution role ARN to support ECR images.",
	    NULL);
	bad(FG(",'executionRoleArn':'r'", C(",'logConfiguration':{'logDriver':'json-file'}")), ERR_CLIENT,
	    "'logConfiguration'", "json-file");
	bad(FG("", C(",'linuxParameters':{'devices':[{'hostPath':'/dev/fuse'}]}")), ERR_CLIENT,
	    "'linuxParameters.devices'", "container 'app'");
	bad(FG("", C(",'linuxParameters':{'capabilities':{'add':['NET_ADMIN']}}")), ERR_CLIENT, "SYS_PTRACE",
	    "container 'app'");
	json_decref(
		ok(FG("", C(",'linuxParameters':{'capabilities':{'add':['SYS_PTRACE'],'drop':['ALL']}}"))));
	bad(FG("", C(",'stopTimeout':121")), ERR_CLIENT, "'stopTimeout'", "container 'app'");
	bad(FG("", C(",'startTimeout':1")), ERR_CLIENT, "'startTimeout'", "container 'app'");
	json_decref(ok(FG("", C(",'stopTimeout':120,'startTimeout':2"))));
	json_decref(ok(TD(C(",'stopTimeout':600"))));
	bad(TD(C(",'stopTimeout':-1")), ERR_CLIENT, "'stopTimeout'", "container 'app'");
	bad(FG("", C(",'dockerSecurityOptions':['no-new-privileges']")), ERR_CLIENT,
	    "'dockerSecurityOptions'", NULL);
	bad(FG("", C(",'resourceRequirements':[{'type':'GPU','value':'1'}]")), ERR_CLIENT,
	    "'resourceRequirements'", "GPU");
	bad(FG(",'volumes':[{'name':'v','host':{'sourcePath':'/data'}}]", C("")), ERR_CLIENT, "volume 'v'",
	    "sourcePath");
	bad(FG(",'volumes':[{'name':'v','dockerVolumeConfiguration':{'scope':'task'}}]", C("")), ERR_CLIENT,
	    "volume 'v'", "Docker volumes");
	json_decref(ok(FG(",'volumes':[{'name':'scratch'}]", C(",'mountPoints':[{'sourceVolume':'scratch',"
							       "'containerPath':'/scratch'}]"))));
}

static void test_volumes(void **state)
{
	(void)state;
	json_t *td = ok(TDX(
		",'volumes':[{'name':'data','host':{'sourcePath':'/srv/data'}},{'name':'scratch'},"
		"{'name':'shared','dockerVolumeConfiguration':{'scope':'shared','autoprovision':true,"
		"'driver':'rexray/ebs','driverOpts':{'size':'5'}}},"
		"{'name':'efs','efsVolumeConfiguration':{'fileSystemId':'fs-1','transitEncryption':'ENABLED',"
		"'authorizationConfig':{'accessPointId':'fsap-1','iam':'ENABLED'}}}]",
		C(",'mountPoints':[{'sourceVolume':'data','containerPath':'/data','readOnly':true}]")));
	assert_json(at(td, "volumes[1]"), "{'name':'scratch','host':{}}");
	assert_json(at(td, "volumes[0]"), "{'name':'data','host':{'sourcePath':'/srv/data'}}");
	assert_json(at(td, "containerDefinitions[0].mountPoints"),
		    "[{'sourceVolume':'data','containerPath':'/data','readOnly':true}]");
	assert_true(has_attr(td, "ecs.capability.efs"));
	assert_true(has_attr(td, "ecs.capability.efsAuth"));
	assert_true(has_attr(td, "ecs.capability.docker-plugin.rexray/ebs"));
	json_decref(td);
	bad(TD(C(",'mountPoints':[{'sourceVolume':'nope','containerPath':'/x'}]")), ERR_CLIENT,
	    "'mountPoints'", "'nope'");
	bad(TDX(",'volumes':[{'name':'v'}]", C(",'mountPoints':[{'sourceVolume':'v'}]")), ERR_CLIENT,
	    "containerPath", "container 'app'");
	bad(TDX(",'volumes':[{'name':'v'},{'name':'v'}]", C("")), ERR_CLIENT, "'v'", "more than once");
	bad(TDX(",'volumes':[{'host':{}}]", C("")), ERR_CLIENT, "Volume name", NULL);
	bad(TDX(",'volumes':[{'name':'bad name'}]", C("")), ERR_CLIENT, "'bad name'", NULL);
	bad(TDX(",'volumes':[{'name':'v','host':{},'dockerVolumeConfiguration':{}}]", C("")), ERR_CLIENT,
	    "volume 'v'", "only one");
	bad(TDX(",'volumes':[{'name':'v','dockerVolumeConfiguration':{'scope':'task','autoprovision':true}}]",
		C("")),
	    ERR_CLIENT, "volume 'v'", "autoprovision");
	bad(TDX(",'volumes':[{'name':'v','dockerVolumeConfiguration':{'scope':'global'}}]", C("")),
	    ERR_INVALID_PARAM, "volumes[0].dockerVolumeConfiguration.scope", "task, shared");
	bad(TDX(",'volumes':[{'name':'e','efsVolumeConfiguration':{'fileSystemId':'fs-1',"
		"'authorizationConfig':{'accessPointId':'fsap-1'}}}]",
		C("")),
	    ERR_CLIENT, "volume 'e'", "transitEncryption");
	bad(TDX(",'volumes':[{'name':'e','efsVolumeConfiguration':{}}]", C("")), ERR_INVALID_PARAM,
	    "volumes[0].efsVolumeConfiguration.fileSystemId", NULL);
	bad(TDX(",'volumes':[{'name':'a','configuredAtLaunch':true},{'name':'b','configuredAtLaunch':true}]",
		C("")),
	    ERR_CLIENT, "volume 'b'", "configured at launch");
	/* volumesFrom */
	json_decref(
		ok(TD(CN("a", "") "," CN("b", ",'volumesFrom':[{'sourceContainer':'a','readOnly':true}]"))));
	bad(TD(C(",'volumesFrom':[{'sourceContainer':'ghost'}]")), ERR_CLIENT, "'volumesFrom'", "'ghost'");
	bad(TD(C(",'volumesFrom':[{'sourceContainer':'app'}]")), ERR_CLIENT, "'volumesFrom'",
	    "container 'app'");
	bad(TD(CN("a", ",'volumesFrom':[{'sourceContainer':'b'}]") "," CN(
		    "b", ",'volumesFrom':[{'sourceContainer':'a'}]")),
	    ERR_CLIENT, "volumesFrom should not have a cycle", "a -> b -> a");
}

static void test_placement_constraints(void **state)
{
	(void)state;
	json_t *td = ok(
		TDX(",'placementConstraints':[{'type':'memberOf','expression':'attribute:ecs.instance-type "
		    "=~ t2.*'}]",
		    C("")));
	assert_json(at(td, "placementConstraints"),
		    "[{'type':'memberOf','expression':'attribute:ecs.instance-type =~ t2.*'}]");
	json_decref(td);
	bad(TDX(",'placementConstraints':[{'type':'memberOf'}]", C("")), ERR_CLIENT, "'placementConstraints'",
	    "expression");
	bad(TDX(",'placementConstraints':[{'expression':'x'}]", C("")), ERR_CLIENT, "'placementConstraints'",
	    "type");
	bad(TDX(",'placementConstraints':[{'type':'distinctInstance'}]", C("")), ERR_INVALID_PARAM,
	    "placementConstraints[0].type", "memberOf");
	json_t *req = parse(TD(C("")));
	json_t *list = json_array();
	for (int i = 0; i < 11; i++)
		json_array_append_new(list, json_pack("{s:s,s:s}", "type", "memberOf", "expression",
						      "agentConnected==true"));
	json_object_set_new(req, "placementConstraints", list);
	bad_json(req, ERR_CLIENT, "'placementConstraints'", "10");
}

static void test_task_misc(void **state)
{
	(void)state;
	json_t *td = ok(FG(",'ephemeralStorage':{'sizeInGiB':21},'enableFaultInjection':true", C("")));
	assert_json(at(td, "ephemeralStorage"), "{'sizeInGiB':21}");
	assert_true(json_is_true(at(td, "enableFaultInjection")));
	json_decref(td);
	json_decref(ok(FG(",'ephemeralStorage':{'sizeInGiB':200}", C(""))));
	bad(FG(",'ephemeralStorage':{'sizeInGiB':20}", C("")), ERR_CLIENT, "'ephemeralStorage.sizeInGiB'",
	    "21");
	bad(FG(",'ephemeralStorage':{'sizeInGiB':201}", C("")), ERR_CLIENT, "'ephemeralStorage.sizeInGiB'",
	    "200");
	/* App Mesh proxy. */
	td = ok(AWSVPC(C("") "," CN("envoy", ",'user':'1337'")));
	json_decref(td);
	td = ok(TDX(",'networkMode':'awsvpc','proxyConfiguration':{'containerName':'envoy','properties':"
		    "[{'name':'IgnoredUID','value':'1337'}]}",
		    C("") "," CN("envoy", "")));
	assert_json(at(td, "proxyConfiguration"), "{'type':'APPMESH','containerName':'envoy','properties':[{'"
						  "name':'IgnoredUID','value':'1337'}]}");
	assert_true(has_attr(td, "ecs.capability.aws-appmesh"));
	json_decref(td);
	bad(TDX(",'networkMode':'awsvpc','proxyConfiguration':{'containerName':'ghost'}", C("")), ERR_CLIENT,
	    "'proxyConfiguration'", "'ghost'");
	bad(TDX(",'proxyConfiguration':{'containerName':'app'}", C("")), ERR_CLIENT, "'proxyConfiguration'",
	    "awsvpc");
	/* Inference accelerators. */
	td = ok(TDX(",'inferenceAccelerators':[{'deviceName':'d1','deviceType':'eia2.medium'}]",
		    C(",'resourceRequirements':[{'type':'InferenceAccelerator','value':'d1'}]")));
	assert_true(has_attr(td, "ecs.capability.task-eia"));
	json_decref(td);
	bad(TD(C(",'resourceRequirements':[{'type':'InferenceAccelerator','value':'d1'}]")), ERR_CLIENT,
	    "'resourceRequirements'", "'d1'");
	bad(TDX(",'inferenceAccelerators':[{'deviceName':'d1','deviceType':'a'},{'deviceName':'d1','"
		"deviceType':'b'}]",
		C("")),
	    ERR_CLIENT, "'inferenceAccelerators'", "'d1'");
	/* Roles. */
	td = ok(TDX(",'networkMode':'host','taskRoleArn':'arn:aws:iam::1:role/t'", C("")));
	assert_string_equal(at_str(td, "taskRoleArn"), "arn:aws:iam::1:role/t");
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.task-iam-role"));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.task-iam-role-network-host"));
	json_decref(td);
}

static void test_tags(void **state)
{
	(void)state;
	char key[400];
	json_t *td = ok(
		TDX(",'tags':[{'key':'team','value':'web'},{'key':'cost center','value':'a+b=c@d/e:f.g_h-i'},"
		    "{'key':'empty'}]",
		    C("")));
	assert_null(json_object_get(td, "tags"));
	json_decref(td);
	bad(TDX(",'tags':[{'key':'aws:owner','value':'x'}]", C("")), ERR_INVALID_PARAM,
	    "aws:", "'aws:owner'");
	bad(TDX(",'tags':[{'key':'AWS:owner','value':'x'}]", C("")), ERR_INVALID_PARAM, "aws:", NULL);
	bad(TDX(",'tags':[{'key':'a','value':'1'},{'key':'a','value':'2'}]", C("")), ERR_INVALID_PARAM, "'a'",
	    "more than once");
	bad(TDX(",'tags':[{'key':'','value':'1'}]", C("")), ERR_INVALID_PARAM, "Tag keys", "128");
	bad(TDX(",'tags':[{'value':'1'}]", C("")), ERR_INVALID_PARAM, "Tag keys", NULL);
	bad(TDX(",'tags':[{'key':'a*b'}]", C("")), ERR_INVALID_PARAM, "'a*b'", NULL);
	bad(TDX(",'tags':[{'key':'a','value':5}]", C("")), ERR_INVALID_PARAM, "tags[0].value", NULL);
	/* Key length counts characters, not bytes: 128 two-byte letters pass, 129 do not. */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 128; i++)
		buf_adds(&b, "\xc3\xa9");
	json_t *req = parse(TD(C("")));
	json_object_set_new(req, "tags", json_pack("[{s:s,s:s}]", "key", b.p, "value", "v"));
	json_decref(ok_json(req));
	buf_adds(&b, "\xc3\xa9");
	req = parse(TD(C("")));
	json_object_set_new(req, "tags", json_pack("[{s:s}]", "key", b.p));
	bad_json(req, ERR_INVALID_PARAM, "Tag keys", "128");
	buf_release(&b);
	char value[300];
	memset(value, 'v', 257);
	value[257] = '\0';
	req = parse(TD(C("")));
	json_object_set_new(req, "tags", json_pack("[{s:s,s:s}]", "key", "k", "value", value));
	bad_json(req, ERR_INVALID_PARAM, "tag 'k'", "256");
	/* 50 tags pass, 51 do not. */
	req = parse(TD(C("")));
	json_t *tags = json_array();
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_array_append_new(tags, json_pack("{s:s,s:s}", "key", key, "value", "v"));
	}
	json_object_set(req, "tags", tags);
	json_decref(ok_json(req));
	req = parse(TD(C("")));
	json_array_append_new(tags, json_pack("{s:s,s:s}", "key", "k50", "value", "v"));
	json_object_set_new(req, "tags", tags);
	bad_json(req, ERR_INVALID_PARAM, "'tags'", "50");
}

/* ---- container rules ---- */

static void test_container_list_and_names(void **state)
{
	(void)state;
	bad("{'family':'f'}", ERR_CLIENT, "Container list cannot be empty.", NULL);
	bad("{'family':'f','containerDefinitions':[]}", ERR_CLIENT, "Container list cannot be empty.", NULL);
	bad(TD("{'image':'nginx','memory':128}"), ERR_CLIENT, "Container.name should not be null or empty.",
	    NULL);
	bad(TD("{'name':'','image':'nginx','memory':128}"), ERR_CLIENT,
	    "Container.name should not be null or empty.", NULL);
	bad(TD("{'name':'my app','image':'nginx','memory':128}"), ERR_CLIENT, "container name 'my app'",
	    NULL);
	bad(TD(C("") "," C("")), ERR_CLIENT, "Duplicate container name 'app'", NULL);
	bad(TD("{'name':'app','memory':128}"), ERR_CLIENT, "Container.image should not be null or empty.",
	    NULL);
	bad(TD("{'name':'app','image':'','memory':128}"), ERR_CLIENT,
	    "Container.image should not be null or empty.", NULL);
	json_t *req = parse("{'family':'f','containerDefinitions':[]}");
	json_t *list = json_object_get(req, "containerDefinitions");
	char name[16];
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		json_array_append_new(
			list, json_pack("{s:s,s:s,s:i}", "name", name, "image", "busybox", "memory", 64));
	}
	json_decref(ok_json(json_deep_copy(req)));
	json_array_append_new(list,
			      json_pack("{s:s,s:s,s:i}", "name", "c10", "image", "busybox", "memory", 64));
	bad_json(req, ERR_CLIENT, "at most 10", NULL);
	/* At least one essential container. */
	bad(TD(CN("a", ",'essential':false") "," CN("b", ",'essential':false")), ERR_CLIENT,
	    "at least one essential container", NULL);
	json_decref(ok(TD(CN("a", ",'essential':false") "," CN("b", ""))));
}

static void test_image(void **state)
{
	(void)state;
	char img[300];
	json_decref(ok(TD("{'name':'app','image':'quay.io/org/app:1.2_3#x','memory':64}")));
	json_decref(ok(TD("{'name':'app','image':'localhost:5000/app@sha256:"
			  "94afd1f2e64d908bc90dbca0035a5b567aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','memory':64}")));
	bad(TD("{'name':'app','image':'repo@sha256:abc','memory':64}"), ERR_CLIENT, "'image'",
	    "container 'app'");
	bad(TD("{'name':'app','image':'repo@md5:"
	       "94afd1f2e64d908bc90dbca0035a5b567aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',"
	       "'memory':64}"),
	    ERR_CLIENT, "'image'", "sha256");
	bad(TD("{'name':'app','image':'nginx latest','memory':64}"), ERR_CLIENT, "'image'",
	    "container 'app'");
	memset(img, 'a', 255);
	img[255] = '\0';
	json_t *req = parse(TD(C("")));
	json_object_set_new(at(req, "containerDefinitions[0]"), "image", json_string(img));
	json_decref(ok_json(req));
	img[255] = 'a';
	img[256] = '\0';
	req = parse(TD(C("")));
	json_object_set_new(at(req, "containerDefinitions[0]"), "image", json_string(img));
	bad_json(req, ERR_CLIENT, "'image'", "255");
}

static void test_cpu_memory(void **state)
{
	(void)state;
	bad(TD(C(",'cpu':-1")), ERR_CLIENT, "'cpu'", "container 'app'");
	bad(TD("{'name':'app','image':'nginx','memory':4}"), ERR_CLIENT, "'memory'", "container 'app'");
	bad(TD("{'name':'app','image':'nginx','memory':0}"), ERR_CLIENT, "'memory'", "6 MiB");
	bad(TD("{'name':'app','image':'nginx','memoryReservation':5}"), ERR_CLIENT, "'memoryReservation'",
	    "container 'app'");
	json_decref(ok(TD("{'name':'app','image':'nginx','memory':6}")));
	json_decref(ok(TD("{'name':'app','image':'nginx','memoryReservation':6}")));
	json_decref(ok(TD("{'name':'app','image':'nginx','memory':256,'memoryReservation':256}")));
	json_t *td = ok(TD("{'name':'app','image':'nginx','memory':512,'memoryReservation':128}"));
	assert_int_equal(at_int(td, "containerDefinitions[0].memoryReservation"), 128);
	json_decref(td);
	bad(TD("{'name':'app','image':'nginx','memory':128,'memoryReservation':256}"), ERR_CLIENT,
	    "'memoryReservation'", "container 'app'");
	bad(TD("{'name':'app','image':'nginx'}"), ERR_CLIENT,
	    "Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be "
	    "specified.",
	    NULL);
	bad(AWSVPC("{'name':'web','image':'nginx'}"), ERR_CLIENT, "container 'web'", "'memoryReservation'");
	/* Sums against the task. */
	json_decref(ok(TDX(",'cpu':'1024','memory':'512'",
			   CN("a", ",'cpu':512,'memory':256") "," CN("b", ",'cpu':512,'memory':256"))));
	bad(TDX(",'memory':'512'", CN("a", ",'memory':300") "," CN("b", ",'memory':300")), ERR_CLIENT,
	    "'memory' setting for task", "600");
	bad(TDX(",'memory':'512'", "{'name':'a','image':'nginx','memory':1024,'memoryReservation':128}"),
	    ERR_CLIENT, "container 'a'", "1024");
	json_decref(
		ok(TDX(",'memory':'512'", "{'name':'a','image':'nginx','memory':512,'memoryReservation':200},"
					  "{'name':'b','image':'nginx','memoryReservation':200}")));
	bad(TDX(",'cpu':'256'", CN("a", ",'cpu':200") "," CN("b", ",'cpu':100")), ERR_CLIENT,
	    "'cpu' setting for task", "300");
}

static void test_port_mappings(void **state)
{
	(void)state;
	json_t *td = ok(TD(C(",'portMappings':[{'containerPort':80},{'containerPort':443,'hostPort':8443},"
			     "{'protocol':'udp','containerPort':53},{'containerPortRange':'9000-9010'}]")));
	assert_json(at(td, "containerDefinitions[0].portMappings"),
		    "[{'containerPort':80,'hostPort':0,'protocol':'tcp'},"
		    "{'containerPort':443,'hostPort':8443,'protocol':'tcp'},"
		    "{'containerPort':53,'hostPort':0,'protocol':'udp'},"
		    "{'protocol':'tcp','containerPortRange':'9000-9010'}]");
	void *it = json_object_iter(at(td, "containerDefinitions[0].portMappings[2]"));
	assert_string_equal(json_object_iter_key(it), "containerPort");
	assert_true(has_attr(td, "ecs.capability.container-port-range"));
	json_decref(td);
	/* awsvpc and host fill in hostPort = containerPort and refuse any other. */
	td = ok(AWSVPC(C(",'portMappings':[{'containerPort':8080},{'containerPort':9090,'hostPort':9090},"
			 "{'containerPort':7070,'hostPort':0,'name':'admin','appProtocol':'http'}]")));
	assert_json(at(td, "containerDefinitions[0].portMappings"),
		    "[{'containerPort':8080,'hostPort':8080,'protocol':'tcp'},"
		    "{'containerPort':9090,'hostPort':9090,'protocol':'tcp'},"
		    "{'containerPort':7070,'hostPort':7070,'protocol':'tcp','name':'admin','appProtocol':'"
		    "http'}]");
	json_decref(td);
	td = ok(TDX(",'networkMode':'host'", C(",'portMappings':[{'containerPort':8080}]")));
	assert_int_equal(at_int(td, "containerDefinitions[0].portMappings[0].hostPort"), 8080);
	json_decref(td);
	bad(AWSVPC(C(",'portMappings':[{'containerPort':80,'hostPort':8080}]")), ERR_CLIENT,
	    "When networkMode=awsvpc, the host ports and container ports in port mappings must match.", NULL);
	bad(TDX(",'networkMode':'host'", C(",'portMappings':[{'containerPort':80,'hostPort':8080}]")),
	    ERR_CLIENT,
	    "When networkMode=host, the host ports and container ports in port mappings must match.", NULL);
	bad(TD(C(",'portMappings':[{'containerPort':0}]")), ERR_CLIENT,
	    "Invalid 'containerPort' setting for container 'app'.", NULL);
	bad(TD(C(",'portMappings':[{'hostPort':80}]")), ERR_CLIENT,
	    "Invalid 'containerPort' setting for container 'app'.", NULL);
	bad(TD(C(",'portMappings':[{'containerPort':65536}]")), ERR_CLIENT, "'containerPort'",
	    "container 'app'");
	bad(TD(C(",'portMappings':[{'containerPort':80,'hostPort':70000}]")), ERR_CLIENT, "'hostPort'",
	    "container 'app'");
	bad(TD(C(",'portMappings':[{'containerPort':80,'protocol':'sctp'}]")), ERR_INVALID_PARAM,
	    "containerDefinitions[0].portMappings[0].protocol", "tcp, udp");
	bad(TDX(",'networkMode':'none'", C(",'portMappings':[{'containerPort':80}]")), ERR_CLIENT,
	    "'portMappings'", "networkMode=none");
	json_decref(ok(TDX(",'networkMode':'none'", C(""))));
	/* One container port per mapping and protocol in a container. */
	bad(TD(C(",'portMappings':[{'containerPort':80},{'containerPort':80,'hostPort':8080}]")), ERR_CLIENT,
	    "container 'app'", "80/tcp");
	json_decref(
		ok(TD(C(",'portMappings':[{'containerPort':53},{'containerPort':53,'protocol':'udp'}]"))));
	bad(TD(C(",'portMappings':[{'containerPortRange':'8000-8100'},{'containerPort':8080}]")), ERR_CLIENT,
	    "container 'app'", "8080/tcp");
	/* One host port per protocol in a task. */
	bad(TD(CN("a", ",'portMappings':[{'containerPort':80,'hostPort':8080}]") "," CN(
		    "b", ",'portMappings':[{'containerPort':81,'hostPort':8080}]")),
	    ERR_CLIENT, "Host port 8080/tcp", "'a' and 'b'");
	bad(TD(C(",'portMappings':[{'containerPort':80,'hostPort':8080},{'containerPort':81,'hostPort':8080}"
		 "]")),
	    ERR_CLIENT, "Host port 8080/tcp", NULL);
	json_decref(ok(TD(CN("a", ",'portMappings':[{'containerPort':80}]") "," CN(
		"b", ",'portMappings':[{'containerPort':80}]"))));
	bad(AWSVPC(CN("a", ",'portMappings':[{'containerPort':80}]") "," CN(
		    "b", ",'portMappings':[{'containerPort':80}]")),
	    ERR_CLIENT, "Host port 80/tcp", "container 'b'");
	bad(AWSVPC(CN("a", ",'portMappings':[{'containerPortRange':'7000-7100'}]") "," CN(
		    "b", ",'portMappings':[{'containerPort':7050}]")),
	    ERR_CLIENT, "Host port 7050/tcp", NULL);
	/* Port ranges. */
	bad(TD(C(",'portMappings':[{'containerPortRange':'9010-9000'}]")), ERR_CLIENT, "'containerPortRange'",
	    "container 'app'");
	bad(TD(C(",'portMappings':[{'containerPortRange':'0-10'}]")), ERR_CLIENT, "'containerPortRange'",
	    NULL);
	bad(TD(C(",'portMappings':[{'containerPortRange':'80'}]")), ERR_CLIENT, "'containerPortRange'", NULL);
	bad(TD(C(",'portMappings':[{'containerPortRange':'80-90','containerPort':80}]")), ERR_CLIENT,
	    "containerPortRange", "container 'app'");
	bad(TDX(",'networkMode':'host'", C(",'portMappings':[{'containerPortRange':'80-90'}]")), ERR_CLIENT,
	    "'containerPortRange'", "bridge or awsvpc");
	/* Names. */
	bad(TD(C(",'portMappings':[{'containerPort':80,'name':'-web'}]")), ERR_CLIENT, "'-web'",
	    "container 'app'");
	bad(TD(C(",'portMappings':[{'containerPort':80,'name':'Web'}]")), ERR_CLIENT, "'Web'", NULL);
	bad(TD(CN("a", ",'portMappings':[{'containerPort':80,'name':'web'}]") "," CN(
		    "b", ",'portMappings':[{'containerPort':81,'name':'web'}]")),
	    ERR_CLIENT, "'web'", "more than once");
	bad(TD(C(",'portMappings':[{'containerPort':80,'appProtocol':'ftp'}]")), ERR_INVALID_PARAM,
	    "appProtocol", "http, http2, grpc");
}

static void test_links(void **state)
{
	(void)state;
	bad(AWSVPC(CN("a", ",'links':['b']") "," CN("b", "")), ERR_CLIENT, "'links'", "networkMode=awsvpc");
	bad(TDX(",'networkMode':'host'", CN("a", ",'links':['b']") "," CN("b", "")), ERR_CLIENT, "'links'",
	    "networkMode=host");
	json_decref(ok(AWSVPC(C(",'links':[]"))));
	bad(TD(CN("a", ",'links':['ghost']")), ERR_CLIENT, "container 'a'", "'ghost'");
	bad(TD(CN("a", ",'links':['a']")), ERR_CLIENT, "container 'a'", "itself");
	bad(TD(CN("a", ",'links':['b:bad alias']") "," CN("b", "")), ERR_CLIENT, "container 'a'", "alias");
	json_decref(ok(TD(CN("a", ",'links':['b:db']") "," CN("b", ""))));
	bad(TD(CN("a", ",'links':['b']") "," CN("b", ",'links':['a:alias']")), ERR_CLIENT,
	    "Container links should not have a cycle", "a -> b -> a");
}

static void test_depends_on(void **state)
{
	(void)state;
	json_t *td = ok(TD(CN("init", ",'essential':false") "," CN(
		"db",
		",'healthCheck':{'command':['CMD','pg_isready'],"
		"'startPeriod':10}") "," CN("app",
					    ",'dependsOn':[{'containerName':'init','condition':'SUCCESS'},"
					    "{'containerName':'db','condition':'HEALTHY'}]")));
	assert_json(at(td, "containerDefinitions[2].dependsOn"),
		    "[{'containerName':'init','condition':'SUCCESS'},{'containerName':'db','condition':'"
		    "HEALTHY'}]");
	assert_true(has_attr(td, "ecs.capability.container-ordering"));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.docker-remote-api.1.29"));
	json_decref(td);
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'ghost','condition':'START'}]")), ERR_CLIENT,
	    "Cannot depend on container 'ghost' because it does not exist", "container 'a'");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'a','condition':'START'}]")), ERR_CLIENT,
	    "container 'a'", "itself");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'b','condition':'RUNNING'}]") "," CN("b", "")),
	    ERR_INVALID_PARAM, "containerDefinitions[0].dependsOn[0].condition",
	    "START, COMPLETE, SUCCESS, HEALTHY");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'b'}]") "," CN("b", "")), ERR_INVALID_PARAM,
	    "containerDefinitions[0].dependsOn[0].condition", "Missing");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'b','condition':'HEALTHY'}]") "," CN("b", "")),
	    ERR_CLIENT, "container 'a'", "container 'b' to have a healthCheck");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'b','condition':'COMPLETE'}]") "," CN("b", "")),
	    ERR_CLIENT,
	    "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container",
	    "'b'");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'b','condition':'START'},{'containerName':'b',"
		       "'condition':'START'}]") "," CN("b", "")),
	    ERR_CLIENT, "container 'a'", "more than once");
	bad(TD(CN("a", ",'dependsOn':[{'containerName':'b','condition':'START'}]") "," CN(
		    "b", ",'dependsOn':[{'containerName':'c','condition':'START'}]") "," CN("c",
											    ",'dependsOn':[{'"
											    "containerName':'"
											    "a','condition':'"
											    "START'}]")),
	    ERR_CLIENT, "Container dependencies should not have a cycle", "a -> b -> c -> a");
	bad(TD(CN("x", "") "," CN("a", ",'dependsOn':[{'containerName':'b','condition':'START'}]") "," CN(
		    "b", ",'dependsOn':[{'containerName':'a','condition':'START'}]")),
	    ERR_CLIENT, "cycle", "a -> b -> a");
	/* A diamond is not a cycle. */
	json_decref(ok(TD(CN(
		"a",
		",'dependsOn':[{'containerName':'b','condition':'START'},{'containerName':'c',"
		"'condition':'START'}]") "," CN("b",
						",'dependsOn':[{'containerName':'d','condition':'START'}"
						"]") "," CN("c", ",'dependsOn':[{'containerName':'d','"
								 "condition':'START'}]") "," CN("d", ""))));
}

static void test_health_check(void **state)
{
	(void)state;
	json_t *td = ok(TD(C(",'healthCheck':{'command':['CMD','true'],'interval':5,'timeout':2,'retries':1,"
			     "'startPeriod':0}")));
	assert_json(at(td, "containerDefinitions[0].healthCheck"),
		    "{'command':['CMD','true'],'interval':5,'timeout':2,'retries':1,'startPeriod':0}");
	json_decref(td);
	json_decref(
		ok(TD(C(",'healthCheck':{'command':['CMD','true'],'interval':300,'timeout':60,'retries':10,"
			"'startPeriod':300}"))));
	bad(TD(C(",'healthCheck':{}")), ERR_INVALID_PARAM, "containerDefinitions[0].healthCheck.command",
	    "Missing");
	bad(TD(C(",'healthCheck':{'command':[]}")), ERR_CLIENT, "'healthCheck'", "container 'app'");
	bad(TD(C(",'healthCheck':{'command':['curl','-f','http://localhost']}")), ERR_CLIENT, "'healthCheck'",
	    "CMD-SHELL");
	bad(TD(C(",'healthCheck':{'command':['CMD-SHELL']}")), ERR_CLIENT, "'healthCheck'",
	    "container 'app'");
	bad(TD(C(",'healthCheck':{'command':['NONE']}")), ERR_CLIENT, "'healthCheck'", NULL);
	static const char *const cases[][2] = {
		{"'interval':4", "healthCheck.interval"},
		{"'interval':301", "healthCheck.interval"},
		{"'timeout':1", "healthCheck.timeout"},
		{"'timeout':61", "healthCheck.timeout"},
		{"'retries':0", "healthCheck.retries"},
		{"'retries':11", "healthCheck.retries"},
		{"'startPeriod':-1", "healthCheck.startPeriod"},
		{"'startPeriod':301", "healthCheck.startPeriod"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf(TD(C(",'healthCheck':{'command':['CMD','true'],%s}")), cases[i][0]);
		bad(text, ERR_CLIENT, cases[i][1], "container 'app'");
		free(text);
	}
}

static void test_environment_and_secrets(void **state)
{
	(void)state;
	json_t *td =
		ok(TD(C(",'environment':[{'name':'A','value':'1'},{'name':'B'}],"
			"'environmentFiles':[{'type':'s3','value':'arn:aws:s3:::bucket/app.env'}],"
			"'secrets':[{'name':'DB','valueFrom':'arn:aws:secretsmanager:us-east-1:1:secret:db'},"
			"{'name':'KEY','valueFrom':'/app/key'}]")));
	assert_json(at(td, "containerDefinitions[0].environment"), "[{'name':'A','value':'1'},{'name':'B'}]");
	assert_true(has_attr(td, "ecs.capability.env-files.s3"));
	assert_true(has_attr(td, "ecs.capability.secrets.asm.environment-variables"));
	assert_true(has_attr(td, "ecs.capability.secrets.ssm.environment-variables"));
	json_decref(td);
	bad(TD(C(",'environment':[{'value':'1'}]")), ERR_CLIENT, "'environment'", "container 'app'");
	bad(TD(C(",'environment':[{'name':'A=B','value':'1'}]")), ERR_CLIENT, "'environment'", NULL);
	bad(TD(C(",'environmentFiles':[{'type':'s3','value':'arn:aws:s3:::bucket/app.txt'}]")), ERR_CLIENT,
	    "'environmentFiles'", ".env");
	bad(TD(C(",'environmentFiles':[{'type':'http','value':'x.env'}]")), ERR_INVALID_PARAM,
	    "environmentFiles[0].type", "s3");
	json_t *req = parse(TD(C(",'environmentFiles':[]")));
	for (int i = 0; i < 11; i++)
		json_array_append_new(at(req, "containerDefinitions[0].environmentFiles"),
				      json_pack("{s:s,s:s}", "type", "s3", "value", "arn:aws:s3:::b/x.env"));
	bad_json(req, ERR_CLIENT, "'environmentFiles'", "10");
	bad(TD(C(",'secrets':[{'name':'A'}]")), ERR_INVALID_PARAM, "secrets[0].valueFrom", NULL);
	bad(TD(C(",'secrets':[{'name':'','valueFrom':'x'}]")), ERR_CLIENT, "'secrets'", "container 'app'");
	bad(TD(C(",'repositoryCredentials':{'credentialsParameter':''}")), ERR_CLIENT,
	    "'repositoryCredentials'", NULL);
	td = ok(TD(C(
		",'repositoryCredentials':{'credentialsParameter':'arn:aws:secretsmanager:r:1:secret:c'}")));
	assert_true(has_attr(td, "ecs.capability.private-registry-authentication.secretsmanager"));
	json_decref(td);
}

static void test_ulimits_and_logging(void **state)
{
	(void)state;
	json_t *td = ok(TD(C(",'ulimits':[{'name':'nofile','softLimit':1024,'hardLimit':4096},"
			     "{'name':'memlock','softLimit':-1,'hardLimit':-1}],'dockerLabels':{'a':'b'},"
			     "'logConfiguration':{'logDriver':'json-file','options':{'max-size':'10m'}}")));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.docker-remote-api.1.18"));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.logging-driver.json-file"));
	assert_json(at(td, "containerDefinitions[0].dockerLabels"), "{'a':'b'}");
	json_decref(td);
	bad(TD(C(",'ulimits':[{'name':'nofile','softLimit':4096,'hardLimit':1024}]")), ERR_CLIENT,
	    "'ulimits'", "'nofile'");
	bad(TD(C(",'ulimits':[{'name':'nofile','softLimit':-1,'hardLimit':1024}]")), ERR_CLIENT, "'ulimits'",
	    NULL);
	bad(TD(C(",'ulimits':[{'name':'nofile','softLimit':-2,'hardLimit':-1}]")), ERR_CLIENT, "'ulimits'",
	    NULL);
	bad(TD(C(",'ulimits':[{'name':'files','softLimit':1,'hardLimit':1}]")), ERR_INVALID_PARAM,
	    "ulimits[0].name", "nofile");
	bad(TD(C(",'ulimits':[{'name':'core','softLimit':0,'hardLimit':0},{'name':'core','softLimit':0,"
		 "'hardLimit':0}]")),
	    ERR_CLIENT, "'core'", "more than once");
	bad(TD(C(",'logConfiguration':{'logDriver':'loki'}")), ERR_INVALID_PARAM,
	    "logConfiguration.logDriver", "awslogs");
	bad(TD(C(",'logConfiguration':{'options':{}}")), ERR_INVALID_PARAM, "logConfiguration.logDriver",
	    "Missing");
	bad(TD(C(",'logConfiguration':{'logDriver':'awsfirelens'}")), ERR_CLIENT, "'logConfiguration'",
	    "firelensConfiguration");
	td = ok(TD(
		C(",'logConfiguration':{'logDriver':'awsfirelens','options':{'Name':'cloudwatch'}}") "," CN(
			"router", ",'firelensConfiguration':{'type':'fluentbit'},'essential':false")));
	assert_true(has_attr(td, "ecs.capability.firelens.fluentbit"));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.logging-driver.awsfirelens"));
	json_decref(td);
	bad(TD(CN("r1", ",'firelensConfiguration':{'type':'fluentbit'}") "," CN(
		    "r2", ",'firelensConfiguration':{'type':'fluentd'}")),
	    ERR_CLIENT, "'firelensConfiguration'", NULL);
	td = ok(TD(C(",'logConfiguration':{'logDriver':'splunk','secretOptions':[{'name':'splunk-token',"
		     "'valueFrom':'arn:aws:ssm:r:1:parameter/t'}]}")));
	assert_true(has_attr(td, "ecs.capability.secrets.ssm.bootstrap.log-driver"));
	json_decref(td);
}

static void test_linux_parameters(void **state)
{
	(void)state;
	json_t *td = ok(TD(C(",'linuxParameters':{'capabilities':{'add':['NET_ADMIN'],'drop':['MKNOD']},"
			     "'devices':[{'hostPath':'/dev/"
			     "fuse','permissions':['read','write']}],'initProcessEnabled':true,"
			     "'sharedMemorySize':64,'tmpfs':[{'containerPath':'/"
			     "tmp','size':64,'mountOptions':['noexec','mode=1777','uid=1000']}],"
			     "'maxSwap':0,'swappiness':60}")));
	assert_true(has_attr(td, "com.amazonaws.ecs.capability.docker-remote-api.1.25"));
	json_decref(td);
	bad(TD(C(",'linuxParameters':{'capabilities':{'add':['CAP_NET_ADMIN']}}")), ERR_CLIENT,
	    "'linuxParameters.capabilities.add'", "'CAP_NET_ADMIN'");
	bad(TD(C(",'linuxParameters':{'capabilities':{'drop':['everything']}}")), ERR_CLIENT,
	    "'linuxParameters.capabilities.drop'", NULL);
	bad(TD(C(",'linuxParameters':{'devices':[{'hostPath':'/dev/x','permissions':['execute']}]}")),
	    ERR_INVALID_PARAM, "devices[0].permissions[0]", "read, write, mknod");
	bad(TD(C(",'linuxParameters':{'tmpfs':[{'containerPath':'/tmp','size':0}]}")), ERR_CLIENT,
	    "'linuxParameters.tmpfs'", "container 'app'");
	bad(TD(C(",'linuxParameters':{'tmpfs':[{'containerPath':'/"
		 "tmp','size':1,'mountOptions':['turbo']}]}")),
	    ERR_CLIENT, "'turbo'", NULL);
	bad(TD(C(",'linuxParameters':{'tmpfs':[{'containerPath':'/"
		 "tmp','size':1,'mountOptions':['turbo=1']}]}")),
	    ERR_CLIENT, "'turbo=1'", NULL);
	bad(TD(C(",'linuxParameters':{'tmpfs':[{'containerPath':'/"
		 "tmp','size':1,'mountOptions':['mode=']}]}")),
	    ERR_CLIENT, "'mode='", NULL);
	bad(TD(C(",'linuxParameters':{'tmpfs':[{'containerPath':'/"
		 "tmp','size':1,'mountOptions':['=1777']}]}")),
	    ERR_CLIENT, "'=1777'", NULL);
	bad(TD(C(",'linuxParameters':{'tmpfs':[{'containerPath':'/"
		 "tmp','size':1,'mountOptions':['noexec=1']}]}")),
	    ERR_CLIENT, "'noexec=1'", NULL);
	bad(TD(C(",'linuxParameters':{'swappiness':101}")), ERR_CLIENT, "'linuxParameters.swappiness'", NULL);
	bad(TD(C(",'linuxParameters':{'maxSwap':-1}")), ERR_CLIENT, "'linuxParameters.maxSwap'", NULL);
	bad(TD(C(",'linuxParameters':{'sharedMemorySize':0}")), ERR_CLIENT,
	    "'linuxParameters.sharedMemorySize'", NULL);
}

static void test_container_misc(void **state)
{
	(void)state;
	json_t *td = ok(TD(C(
		",'hostname':'web','user':'1000:1000','workingDirectory':'/app','entryPoint':['sh','-c'],"
		"'command':['echo hi'],'readonlyRootFilesystem':true,'disableNetworking':false,"
		"'dnsServers':['10.0.0.2'],'dnsSearchDomains':['example.com'],"
		"'extraHosts':[{'hostname':'db','ipAddress':'10.0.0.5'}],"
		"'dockerSecurityOptions':['no-new-privileges','label:type:svirt_t'],'interactive':true,"
		"'pseudoTerminal':true,'systemControls':[{'namespace':'net.core.somaxconn','value':'1024'}],"
		"'restartPolicy':{'enabled':true,'ignoredExitCodes':[0],'restartAttemptPeriod':60},"
		"'versionConsistency':'disabled','credentialSpecs':['credentialspec:arn:aws:s3:::b/"
		"c.json']")));
	json_t *c = at(td, "containerDefinitions[0]");
	assert_string_equal(at_str(c, "user"), "1000:1000");
	assert_json(at(c, "entryPoint"), "['sh','-c']");
	assert_json(at(c, "extraHosts"), "[{'hostname':'db','ipAddress':'10.0.0.5'}]");
	assert_json(at(c, "restartPolicy"),
		    "{'enabled':true,'ignoredExitCodes':[0],'restartAttemptPeriod':60}");
	assert_true(has_attr(td, "ecs.capability.container-restart-policy"));
	json_decref(td);
	bad(AWSVPC(C(",'hostname':'web'")), ERR_CLIENT, "'hostname'", "awsvpc");
	bad(AWSVPC(C(",'extraHosts':[{'hostname':'db','ipAddress':'10.0.0.5'}]")), ERR_CLIENT, "'extraHosts'",
	    "container 'app'");
	bad(TD(C(",'extraHosts':[{'hostname':'db'}]")), ERR_INVALID_PARAM, "extraHosts[0].ipAddress", NULL);
	bad(TD(C(",'dockerSecurityOptions':['seccomp=unconfined']")), ERR_CLIENT, "'dockerSecurityOptions'",
	    "container 'app'");
	bad(TDX(",'networkMode':'host'",
		C(",'systemControls':[{'namespace':'net.ipv4.ip_forward','value':'1'}]")),
	    ERR_CLIENT, "'systemControls'", "networkMode=host");
	bad(TDX(",'ipcMode':'host'", C(",'systemControls':[{'namespace':'kernel.shmmax','value':'1'}]")),
	    ERR_CLIENT, "'systemControls'", "ipcMode=host");
	json_decref(ok(TDX(",'ipcMode':'task'",
			   C(",'systemControls':[{'namespace':'fs.mqueue.msg_max','value':'1'}]"))));
	bad(TD(C(",'systemControls':[{'namespace':'vm.swappiness','value':'1'}]")), ERR_CLIENT,
	    "'vm.swappiness'", NULL);
	bad(TD(C(",'restartPolicy':{'enabled':true,'restartAttemptPeriod':59}")), ERR_CLIENT,
	    "'restartPolicy'", "container 'app'");
	bad(TD(C(",'restartPolicy':{'restartAttemptPeriod':60}")), ERR_INVALID_PARAM, "restartPolicy.enabled",
	    NULL);
	bad(TD(C(",'versionConsistency':'maybe'")), ERR_INVALID_PARAM, "versionConsistency", NULL);
	bad(TD(C(",'credentialSpecs':['arn:aws:s3:::b/c.json']")), ERR_CLIENT, "'credentialSpecs'", NULL);
	bad(TD(C(",'credentialSpecs':['credentialspec:a','credentialspec:b']")), ERR_CLIENT,
	    "'credentialSpecs'", NULL);
	bad(TD(C(",'resourceRequirements':[{'type':'GPU','value':'two'}]")), ERR_CLIENT,
	    "'resourceRequirements'", "'two'");
	json_decref(ok(TD(C(",'resourceRequirements':[{'type':'GPU','value':'2'}]"))));
}

/* The result is a document of its own: changing it leaves the request alone and vice versa. */
static void test_result_independent(void **state)
{
	(void)state;
	json_t *req = parse(
		TD(C(",'portMappings':[{'containerPort':80}],'environment':[{'name':'A','value':'1'}]")));
	struct err *e = NULL;
	json_t *td = tdval_register(req, &e);
	assert_non_null(td);
	char *before = jv_dump(req);
	json_object_set_new(at(td, "containerDefinitions[0].environment[0]"), "value",
			    json_string("changed"));
	json_array_clear(at(td, "containerDefinitions[0].portMappings"));
	char *after = jv_dump(req);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(td);
	json_decref(req);
}

/* A returned document registers again unchanged: `aws ecs describe-task-definition` output fed back
 * into register-task-definition (its read-only members are unknown to the request and ignored). */
static void test_round_trip(void **state)
{
	(void)state;
	static const char *const cases[] = {
		TD(C("")),
		TD(C(",'portMappings':[{'containerPort':80},{'containerPortRange':'9000-9010','protocol':'"
		     "udp'}]")),
		AWSVPC(C(",'portMappings':[{'containerPort':80}]") "," CN(
			"b", ",'portMappings':[{'containerPort':81}]")),
		FG(",'executionRoleArn':'r','volumes':[{'name':'v'}]",
		   C(",'healthCheck':{'command':['CMD','true']},'mountPoints':[{'sourceVolume':'v','"
		     "containerPath':'/v'}],"
		     "'logConfiguration':{'logDriver':'awslogs','options':{'awslogs-group':'g'}}")),
		TDX(",'cpu':'1 vCPU','memory':'1.5 GB','networkMode':'host','tags':[{'key':'a','value':'b'}]",
		    C(",'portMappings':[{'containerPort':8080}]")),
		NULL,
	};
	for (size_t i = 0; cases[i]; i++) {
		json_t *td = ok(cases[i]);
		json_t *again = ok_json(json_deep_copy(td));
		if (!json_equal(td, again)) {
			char *a = jv_dump(td), *b = jv_dump(again);
			fail_msg("case %zu changed on the second registration:\n%s\n%s", i, a, b);
		}
		json_decref(again);
		json_decref(td);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cpu),
		cmocka_unit_test(test_parse_memory),
		cmocka_unit_test(test_fargate_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fargate_document),
		cmocka_unit_test(test_compatibilities),
		cmocka_unit_test(test_docs_links_example),
		cmocka_unit_test(test_nginx_app_links),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_request_types),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_network_and_task_size),
		cmocka_unit_test(test_fargate_containers),
		cmocka_unit_test(test_volumes),
		cmocka_unit_test(test_placement_constraints),
		cmocka_unit_test(test_task_misc),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_container_list_and_names),
		cmocka_unit_test(test_image),
		cmocka_unit_test(test_cpu_memory),
		cmocka_unit_test(test_port_mappings),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_depends_on),
		cmocka_unit_test(test_health_check),
		cmocka_unit_test(test_environment_and_secrets),
		cmocka_unit_test(test_ulimits_and_logging),
		cmocka_unit_test(test_linux_parameters),
		cmocka_unit_test(test_container_misc),
		cmocka_unit_test(test_result_independent),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
