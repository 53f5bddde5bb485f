/* Unit tests for SigV4 (sigv4.h): signatures from AWS's published Signature Version 4 test suite
 * (the cases that apply to services other than S3), requests shaped and signed by botocore exactly
 * as the AWS CLI sends them, and every refusal sigv4_verify makes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/creds.h"
#include "api/sigv4.h"
#include "common/err.h"
#include "common/xalloc.h"

/* The test suite's credentials and time: AKIDEXAMPLE, us-east-1, service "service",
 * 2015-08-30T12:36:00Z. */
#define SUITE_KEY     "AKIDEXAMPLE"
#define SUITE_SECRET  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE    "20150830T123600Z"
#define SUITE_NOW     ((time_t)1440938160)
#define SUITE_HOST    "example.amazonaws.com"
#define SUITE_ACCOUNT "123456789012"
#define UNRESERVED    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define STS_TOKEN                                                                             \
	"AQoDYXdzEPT//////////"                                                               \
	"wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflf" \
	"KD8YUuwthAx7mSEI/qkPpKPi/"                                                           \
	"kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlR"      \
	"d8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"                      \
	"scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx"                                           \
	"3iSIlTJabIQwj2ICCR/oLxBA=="

#define MAX_TEST_HEADERS 12

struct vec {
	const char *name;
	const char *method, *path, *query;
	/* host and the date header are added from the fields below unless no_defaults is set */
	struct sigv4_header h[MAX_TEST_HEADERS];
	const char *body;
	const char *signed_headers;
	const char *region, *service, *host, *amz_date;
	bool no_defaults;
	const char *sig;
};

/* AWS's aws-sig-v4-test-suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html,
 * also in awslabs/aws-c-auth tests/aws-signing-test-suite/v4). Paths are as the request line
 * carries them; get-utf8 and get-space have raw bytes there. Every expected signature was also
 * reproduced with botocore's SigV4Auth. */
static const struct vec suite[] = {
	{"get-vanilla",
	 "GET",
	 "/",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-vanilla-empty-path",
	 "GET",
	 "",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-vanilla-query",
	 "GET",
	 "/",
	 "Param1=value1",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
	{"get-vanilla-query-order-key-case",
	 "GET",
	 "/",
	 "Param2=value2&Param1=value1",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	{"get-vanilla-query-order-key",
	 "GET",
	 "/",
	 "Param1=value2&Param1=value1",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
	{"get-vanilla-query-order-value",
	 "GET",
	 "/",
	 "Param1=value2&Param1=Value1",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
	{"get-vanilla-query-unreserved",
	 "GET",
	 "/",
	 UNRESERVED "=" UNRESERVED,
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
	{"get-vanilla-utf8-query",
	 "GET",
	 "/",
	 "%E1%88%B4=bar",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
	{"get-unreserved",
	 "GET",
	 "/" UNRESERVED,
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
	{"get-utf8",
	 "GET",
	 "/\xe1\x88\xb4",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
	{"get-space",
	 "GET",
	 "/example space/",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
	/* normalize-path: non-S3 services remove dot segments and empty segments */
	{"get-relative",
	 "GET",
	 "/example/..",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-relative-relative",
	 "GET",
	 "/example1/example2/../..",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slash",
	 "GET",
	 "//",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slash-dot-slash",
	 "GET",
	 "/./",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slash-pointless-dot",
	 "GET",
	 "/./example",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
	{"get-slashes",
	 "GET",
	 "//example//",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
	{"get-header-value-trim",
	 "GET",
	 "/",
	 "",
	 {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
	 "",
	 "host;my-header1;my-header2;x-amz-date",
	 .sig = "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
	{"get-header-key-duplicate",
	 "GET",
	 "/",
	 "",
	 {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
	 "",
	 "host;my-header1;x-amz-date",
	 .sig = "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
	{"get-header-value-order",
	 "GET",
	 "/",
	 "",
	 {{"My-Header1", "value4"},
	  {"My-Header1", "value1"},
	  {"My-Header1", "value3"},
	  {"My-Header1", "value2"}},
	 "",
	 "host;my-header1;x-amz-date",
	 .sig = "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
	{"post-vanilla",
	 "POST",
	 "/",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-vanilla-query",
	 "POST",
	 "/",
	 "Param1=value1",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
	{"post-header-key-sort",
	 "POST",
	 "/",
	 "",
	 {{"My-Header1", "value1"}},
	 "",
	 "host;my-header1;x-amz-date",
	 .sig = "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
	{"post-header-value-case",
	 "POST",
	 "/",
	 "",
	 {{"My-Header1", "VALUE1"}},
	 "",
	 "host;my-header1;x-amz-date",
	 .sig = "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
	{"post-x-www-form-urlencoded",
	 "POST",
	 "/",
	 "",
	 {{"Content-Type", "application/x-www-form-urlencoded"}},
	 "Param1=value1",
	 "content-type;host;x-amz-date",
	 .sig = "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	{"post-x-www-form-urlencoded-parameters",
	 "POST",
	 "/",
	 "",
	 {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
	 "Param1=value1",
	 "content-type;host;x-amz-date",
	 .sig = "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
	{"post-sts-header-before",
	 "POST",
	 "/",
	 "",
	 {{"X-Amz-Security-Token", STS_TOKEN}},
	 "",
	 "host;x-amz-date;x-amz-security-token",
	 .sig = "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
};

/* Requests signed by botocore 1.43 (SigV4Auth, the signer under the AWS CLI and boto3) with the
 * suite's credentials at the suite's time, captured from the wire shape the client sends. */
static const struct vec botocore[] = {
	/* `aws ecs list-clusters --endpoint-url http://127.0.0.1:7700`, exactly as sent: User-Agent and
	 * the amz-sdk-* / Content-Length headers travel unsigned. */
	{"aws-cli-ecs-list-clusters",
	 "POST",
	 "/",
	 "",
	 {{"Host", "127.0.0.1:7700"},
	  {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters"},
	  {"Content-Type", "application/x-amz-json-1.1"},
	  {"User-Agent", "Botocore/1.43.11 ua/2.1 os/linux md/arch#x86_64 lang/python#3.11.7"},
	  {"X-Amz-Date", SUITE_DATE},
	  {"amz-sdk-invocation-id", "ce55f443-53d2-4240-b4db-55130e4a32d3"},
	  {"amz-sdk-request", "attempt=1"},
	  {"Content-Length", "2"}},
	 "{}",
	 "content-type;host;x-amz-date;x-amz-target",
	 "us-east-1",
	 "ecs",
	 .no_defaults = true,
	 .sig = "58ee254eb5fd1119413805efa1a0e19c830d4b07e599be656b927aa7c19a99f8"},
	{"ecs-create-cluster",
	 "POST",
	 "/",
	 "",
	 {{"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.CreateCluster"},
	  {"Content-Type", "application/x-amz-json-1.1"}},
	 "{\"clusterName\": \"default\"}",
	 "content-type;host;x-amz-date;x-amz-target",
	 "eu-west-1",
	 "ecs",
	 "127.0.0.1:7700",
	 .sig = "e5f753bc07718b8fbe213d50d80fd67cad62df873269a6b0f8127bb3b97bd38b"},
	/* A percent-encoded path is encoded again: "%20" is signed as "%2520". */
	{"path-encoded-twice",
	 "GET",
	 "/example%20space/a%2Fb",
	 "",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "e211059338b8dab479c52c2296f9889ab56fb210be139adb6442400ebb17ed50"},
	{"query-canonical",
	 "GET",
	 "/",
	 "b=%2F%20x&a=&c&a=z~",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "b9772c1e187fbf172c15af0eb44d14a337988e80f369a8e1b62b6b80a8b9f33c"},
	/* Dot and empty segments removed from the path as sent, then each segment encoded again. */
	{"normalized-path-and-query",
	 "GET",
	 "/a/./b/../c//%20d",
	 "b=%2F%20x&a=&c&a=z~",
	 {{0}},
	 "",
	 "host;x-amz-date",
	 .sig = "dd62decda8164ac90539368fad4bda34d5b9ced15f987b4f808e16660d1501f1"},
	/* A Date header instead of X-Amz-Date, in botocore's "-0000" form. */
	{"date-header",
	 "GET",
	 "/",
	 "",
	 {{"Host", SUITE_HOST}, {"Date", "Sun, 30 Aug 2015 12:36:00 -0000"}},
	 "",
	 "date;host",
	 .no_defaults = true,
	 .sig = "7680771e48fa28c7db272da980f990fa8ee39dee61905c4203f5da9d3d48ac86"},
	{"unsigned-payload",
	 "POST",
	 "/",
	 "",
	 {{"X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"}},
	 "hello",
	 "host;x-amz-content-sha256;x-amz-date",
	 .sig = "05e1b307416f2cbcf15dd86269efd55537182ee4416101af58762e96bba470bb"},
	{"content-sha256",
	 "PUT",
	 "/k",
	 "",
	 {{"X-Amz-Content-SHA256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}},
	 "hello",
	 "host;x-amz-content-sha256;x-amz-date",
	 .sig = "33f7e3e01d2b35965c1c2c60b09b3d55488faa169b1664a0466c0ccc3f14170f"},
	{"trim-and-repeat",
	 "GET",
	 "/a/./b/../c//d",
	 "",
	 {{"My-Header1", "  a   b\t c  "}, {"X-Amz-Meta", "one"}, {"x-amz-meta", " two "}},
	 "",
	 "host;my-header1;x-amz-date;x-amz-meta",
	 .sig = "07ef9faf4a6d8648e14c74dd46aa640a15181a5d1d855a420513cd574d983d86"},
	{"elbv2-query-protocol",
	 "POST",
	 "/",
	 "",
	 {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
	 "Action=DescribeLoadBalancers&Version=2015-12-01",
	 "content-type;host;x-amz-date",
	 "us-east-1",
	 "elasticloadbalancing",
	 "127.0.0.1:7700",
	 .sig = "de81ebf1bcb56d34cc17c44aaead2a9de0506d64a3213ebb9a6a82cde5f646cb"},
};

/* ---- request building ---- */

struct req {
	struct sigv4_request r;
	struct sigv4_header h[MAX_TEST_HEADERS + 4];
	char *auth; /* owned */
};

static const char * or (const char *a, const char *b)
{
	return a ? a : b;
}

static void build(struct req *q, const struct vec *v)
{
	memset(q, 0, sizeof(*q));
	size_t n = 0;
	if (!v->no_defaults) {
		q->h[n++] = (struct sigv4_header){"Host", or (v->host, SUITE_HOST)};
		q->h[n++] = (struct sigv4_header){"X-Amz-Date", or (v->amz_date, SUITE_DATE)};
	}
	for (size_t i = 0; i < MAX_TEST_HEADERS && v->h[i].name; i++)
		q->h[n++] = v->h[i];
	q->r.method = v->method;
	q->r.path = v->path;
	q->r.query = v->query;
	q->r.headers = q->h;
	q->r.nheaders = n;
	q->r.body = v->body;
	q->r.body_len = strlen(v->body);
}

/* Adds the Authorization header our signer builds for q (which must then verify). */
static void sign_req(struct req *q, const struct vec *v)
{
	struct err *err = NULL;
	q->auth = sigv4_authorization(&q->r, SUITE_KEY, SUITE_SECRET, or (v->amz_date, SUITE_DATE),
				      or (v->region, "us-east-1"), or (v->service, "service"),
				      v->signed_headers, &err);
	if (!q->auth)
		fail_msg("%s: %s", v->name, err->msg);
	q->h[q->r.nheaders++] = (struct sigv4_header){"Authorization", q->auth};
}

static void release(struct req *q)
{
	free(q->auth);
	q->auth = NULL;
}

static struct creds *suite_creds(void)
{
	struct creds *c = creds_new();
	struct err *err = NULL;
	assert_int_equal(creds_add(c, SUITE_KEY, SUITE_SECRET, SUITE_ACCOUNT, &err), 0);
	assert_int_equal(creds_add(c, "GKIAOTHER0000000000", "another-secret", "210987654321", &err), 0);
	assert_null(err);
	return c;
}

/* ---- the vectors ---- */

static void check_vectors(const struct vec *vs, size_t n)
{
	struct creds *c = suite_creds();
	for (size_t i = 0; i < n; i++) {
		const struct vec *v = &vs[i];
		struct req q;
		struct err *err = NULL;
		char sig[65];
		build(&q, v);
		if (sigv4_sign(&q.r, SUITE_SECRET, or (v->amz_date, SUITE_DATE), or (v->region, "us-east-1"),
			       or (v->service, "service"), v->signed_headers, sig, &err) < 0)
			fail_msg("%s: sign: %s", v->name, err->msg);
		if (strcmp(sig, v->sig) != 0)
			fail_msg("%s: signature %s, want %s", v->name, sig, v->sig);

		/* The Authorization header is AWS's own text for the case. */
		sign_req(&q, v);
		char *want = xasprintf(
			"AWS4-HMAC-SHA256 Credential=" SUITE_KEY "/20150830/%s/%s/aws4_request, "
			"SignedHeaders=%s, Signature=%s",
			or (v->region, "us-east-1"), or (v->service, "service"), v->signed_headers, v->sig);
		assert_string_equal(q.auth, want);
		free(want);

		struct sigv4_identity id;
		memset(&id, 0x5a, sizeof(id));
		if (sigv4_verify(&q.r, SUITE_NOW, c, &id, &err) < 0)
			fail_msg("%s: verify: %s", v->name, err->msg);
		assert_string_equal(id.access_key, SUITE_KEY);
		assert_string_equal(id.account, SUITE_ACCOUNT);
		assert_string_equal(id.region, or (v->region, "us-east-1"));
		assert_string_equal(id.service, or (v->service, "service"));
		release(&q);
	}
	creds_free(c);
}

static void test_aws_suite(void **state)
{
	(void)state;
	check_vectors(suite, sizeof(suite) / sizeof(suite[0]));
}

static void test_botocore_vectors(void **state)
{
	(void)state;
	check_vectors(botocore, sizeof(botocore) / sizeof(botocore[0]));
}

/* Clients differ in how they separate the parameters; all of these are the same header. */
static void test_auth_header_spellings(void **state)
{
	(void)state;
	static const char *const spellings[] = {
		"AWS4-HMAC-SHA256 "
		"Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,SignedHeaders=host;"
		"x-amz-date,Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"  AWS4-HMAC-SHA256   Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request ,  "
		"Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31 , "
		"SignedHeaders=host;"
		"x-amz-date  ",
		"AWS4-HMAC-SHA256\tCredential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=host;"
		"x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	};
	struct creds *c = suite_creds();
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		struct req q;
		struct err *err = NULL;
		struct sigv4_identity id;
		build(&q, &suite[0]);
		q.h[q.r.nheaders++] = (struct sigv4_header){"authorization", spellings[i]};
		if (sigv4_verify(&q.r, SUITE_NOW, c, &id, &err) < 0)
			fail_msg("spelling %zu: %s", i, err->msg);
	}
	creds_free(c);
}

/* ---- refusals ---- */

/* The botocore vector called name. */
static const struct vec *named(const char *name)
{
	for (size_t i = 0; i < sizeof(botocore) / sizeof(botocore[0]); i++) {
		if (strcmp(botocore[i].name, name) == 0)
			return &botocore[i];
	}
	fail_msg("no vector %s", name);
	return NULL;
}

/* The request most refusal tests start from: ECS CreateCluster as the CLI signs it. */
static const struct vec *base(void)
{
	return named("ecs-create-cluster");
}

/* Runs verify on q at now and checks that it fails with kind and a message containing want. */
static void expect_refusal(struct req *q, time_t now, const struct creds *c, enum err_kind kind,
			   const char *want)
{
	struct err *err = NULL;
	struct sigv4_identity id, before;
	memset(&id, 0x5a, sizeof(id));
	before = id;
	int rc = sigv4_verify(&q->r, now, c, &id, &err);
	if (rc == 0)
		fail_msg("verify succeeded, want %s containing \"%s\"", err_kind_name(kind), want);
	assert_int_equal(rc, -1);
	assert_non_null(err);
	if (err->kind != kind || !strstr(err->msg, want))
		fail_msg("got %s \"%s\", want %s containing \"%s\"", err_kind_name(err->kind), err->msg,
			 err_kind_name(kind), want);
	/* A refused request leaves the identity untouched. */
	assert_memory_equal(&id, &before, sizeof(id));
	err_free(err);
}

static void expect_ok(struct req *q, time_t now, const struct creds *c)
{
	struct err *err = NULL;
	struct sigv4_identity id;
	if (sigv4_verify(&q->r, now, c, &id, &err) < 0)
		fail_msg("verify: %s", err->msg);
}

static const char mismatch[] =
	"The request signature we calculated does not match the signature you provided. "
	"Check your AWS Secret Access Key and signing method. Consult the service "
	"documentation for details.";

static void test_missing_auth(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct req q;
	build(&q, base());
	expect_refusal(&q, SUITE_NOW, c, ERR_MISSING_AUTH, "Missing Authentication Token");
	q.h[q.r.nheaders++] = (struct sigv4_header){"Authorization", "   "};
	expect_refusal(&q, SUITE_NOW, c, ERR_MISSING_AUTH, "Missing Authentication Token");
	creds_free(c);
}

static void test_unknown_key(void **state)
{
	(void)state;
	struct creds *c = creds_new();
	struct err *err = NULL;
	assert_int_equal(creds_add(c, "GKIAOTHER0000000000", SUITE_SECRET, SUITE_ACCOUNT, &err), 0);
	struct req q;
	build(&q, base());
	sign_req(&q, base());
	struct sigv4_identity id;
	assert_int_equal(sigv4_verify(&q.r, SUITE_NOW, c, &id, &err), -1);
	assert_int_equal(err->kind, ERR_UNKNOWN_KEY);
	assert_string_equal(err->msg, "The security token included in the request is invalid.");
	err_free(err);
	release(&q);
	creds_free(c);
}

static void test_wrong_secret(void **state)
{
	(void)state;
	struct creds *c = creds_new();
	struct err *err = NULL;
	assert_int_equal(creds_add(c, SUITE_KEY, "not-the-secret", SUITE_ACCOUNT, &err), 0);
	struct req q;
	build(&q, base());
	sign_req(&q, base());
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	release(&q);
	creds_free(c);
}

static void test_tampering(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct req q;

	/* The body. */
	build(&q, base());
	sign_req(&q, base());
	expect_ok(&q, SUITE_NOW, c);
	q.r.body = "{\"clusterName\": \"defaulT\"}";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	q.r.body_len--;
	q.r.body = "{\"clusterName\": \"default\"}";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	release(&q);

	/* A signed header, in value and by being added again. */
	build(&q, base());
	sign_req(&q, base());
	q.h[2].value = "AmazonEC2ContainerServiceV20141113.DeleteCluster";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	q.h[2].value = "AmazonEC2ContainerServiceV20141113.CreateCluster";
	expect_ok(&q, SUITE_NOW, c);
	q.h[q.r.nheaders++] =
		(struct sigv4_header){"x-amz-target", "AmazonEC2ContainerServiceV20141113.DeleteCluster"};
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	release(&q);

	/* The host, the method, the path, the query. */
	build(&q, base());
	sign_req(&q, base());
	q.h[0].value = "127.0.0.1:7701";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	q.h[0].value = "127.0.0.1:7700";
	q.r.method = "PUT";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	q.r.method = "POST";
	q.r.path = "/x";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	q.r.path = "/";
	q.r.query = "a=1";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	q.r.query = "";
	expect_ok(&q, SUITE_NOW, c);

	/* Headers outside SignedHeaders are not covered: adding one changes nothing. */
	q.h[q.r.nheaders++] = (struct sigv4_header){"User-Agent", "aws-cli/2"};
	expect_ok(&q, SUITE_NOW, c);
	release(&q);

	/* The signature itself, one character off. */
	build(&q, base());
	sign_req(&q, base());
	char *last = q.auth + strlen(q.auth) - 1;
	*last = *last == '0' ? '1' : '0';
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	release(&q);
	creds_free(c);
}

static void test_expired(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct req q;
	build(&q, base());
	sign_req(&q, base());
	expect_refusal(&q, SUITE_NOW + 20 * 60, c, ERR_BAD_SIGNATURE,
		       "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z "
		       "(20150830T125600Z - 15 min.)");
	expect_refusal(&q, SUITE_NOW - 20 * 60, c, ERR_BAD_SIGNATURE,
		       "Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z "
		       "(20150830T121600Z + 15 min.)");
	/* Exactly 15 minutes either way is still accepted; one second more is not. */
	expect_ok(&q, SUITE_NOW + 15 * 60, c);
	expect_ok(&q, SUITE_NOW - 15 * 60, c);
	expect_refusal(&q, SUITE_NOW + 15 * 60 + 1, c, ERR_BAD_SIGNATURE, "Signature expired");
	expect_refusal(&q, SUITE_NOW - 15 * 60 - 1, c, ERR_BAD_SIGNATURE, "Signature not yet current");
	release(&q);
	creds_free(c);
}

static void test_dates(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct req q;

	/* No X-Amz-Date and no Date. */
	struct vec v = *base();
	v.no_defaults = true;
	v.h[2] = (struct sigv4_header){"Host", "127.0.0.1:7700"};
	v.signed_headers = "content-type;host;x-amz-target";
	build(&q, &v);
	sign_req(&q, &v);
	expect_refusal(
		&q, SUITE_NOW, c, ERR_BAD_SIGNATURE,
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
	release(&q);

	/* An X-Amz-Date that is not ISO 8601 basic format. */
	build(&q, base());
	sign_req(&q, base());
	q.h[1].value = "2015-08-30T12:36:00Z";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "Date must be in ISO-8601 'basic format'");
	q.h[1].value = "20150830T123601Z";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	/* Two of them. */
	q.h[1].value = SUITE_DATE;
	q.h[q.r.nheaders++] = (struct sigv4_header){"x-amz-date", SUITE_DATE};
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "more than one X-Amz-Date");
	release(&q);

	/* X-Amz-Date not among the signed headers. */
	v = *base();
	v.signed_headers = "content-type;host;x-amz-target";
	build(&q, &v);
	sign_req(&q, &v);
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "'X-Amz-Date' must be a 'SignedHeader'");
	release(&q);

	/* A scope date that is not the day of X-Amz-Date (signed consistently, so only the check
	 * catches it): the client signs a request dated the 31st with a scope of the 30th. */
	build(&q, base());
	q.h[1].value = "20150831T000500Z";
	sign_req(&q, base()); /* sigv4_authorization takes the scope day from amz_date = SUITE_DATE */
	expect_refusal(
		&q, SUITE_NOW, c, ERR_BAD_SIGNATURE,
		"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
		"'20150830' != '20150831', from '20150831T000500Z'.");
	release(&q);

	/* A malformed Date header when it is the only date. */
	struct vec dv = *named("date-header");
	dv.h[1].value = "yesterday";
	build(&q, &dv);
	q.h[q.r.nheaders++] = (struct sigv4_header){
		"Authorization",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=date;host, "
		"Signature=7680771e48fa28c7db272da980f990fa8ee39dee61905c4203f5da9d3d48ac86"};
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "The Date header is not an HTTP date");
	/* And the same request with its real Date, in RFC 7231's "GMT" form too. */
	q.h[1].value = "Sun, 30 Aug 2015 12:36:00 -0000";
	expect_ok(&q, SUITE_NOW, c);
	creds_free(c);
}

/* Verifies a request whose Authorization header is auth and expects a refusal containing want. */
static void refuse_auth(const struct creds *c, const char *auth, enum err_kind kind, const char *want)
{
	struct req q;
	build(&q, &suite[0]);
	q.h[q.r.nheaders++] = (struct sigv4_header){"Authorization", auth};
	expect_refusal(&q, SUITE_NOW, c, kind, want);
}

#define CRED "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
#define SH   "SignedHeaders=host;x-amz-date"
#define SIG  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
#define ALG  "AWS4-HMAC-SHA256 "

static void test_malformed_auth(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	/* The well-formed header, so that the cases below fail for their own reason only. */
	struct req q;
	build(&q, &suite[0]);
	q.h[q.r.nheaders++] = (struct sigv4_header){"Authorization", ALG CRED ", " SH ", " SIG};
	expect_ok(&q, SUITE_NOW, c);

	refuse_auth(c, "Bearer abc", ERR_BAD_SIGNATURE, "must use the AWS4-HMAC-SHA256 scheme, not 'Bearer'");
	refuse_auth(c, "AWS4-HMAC-SHA512 " CRED ", " SH ", " SIG, ERR_BAD_SIGNATURE,
		    "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'");
	refuse_auth(c, "AWS4-HMAC-SHA256", ERR_BAD_SIGNATURE,
		    "Authorization header requires 'Credential' parameter. Authorization header requires "
		    "'Signature' "
		    "parameter. Authorization header requires 'SignedHeaders' parameter.");
	refuse_auth(c, ALG CRED ", " SH, ERR_BAD_SIGNATURE, "requires 'Signature' parameter.");
	refuse_auth(c, ALG SH ", " SIG, ERR_BAD_SIGNATURE, "requires 'Credential' parameter.");
	refuse_auth(c, ALG CRED ", " SIG, ERR_BAD_SIGNATURE, "requires 'SignedHeaders' parameter.");
	refuse_auth(c, ALG CRED ", " CRED ", " SH ", " SIG, ERR_BAD_SIGNATURE, "more than one 'Credential'");
	refuse_auth(c, ALG CRED ", " SH ", " SIG ", Foo=bar", ERR_BAD_SIGNATURE, "unknown parameter 'Foo'");
	refuse_auth(c, ALG CRED " " SH ", " SIG, ERR_BAD_SIGNATURE, "not a valid key=value pair");
	refuse_auth(c, ALG CRED ", " SH ", " SIG ",", ERR_BAD_SIGNATURE, "empty parameter");
	refuse_auth(c, ALG CRED ", " SH ", Signature", ERR_BAD_SIGNATURE, "missing equal-sign");
	refuse_auth(c,
		    ALG CRED ", " SH
			     ", Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
		    ERR_BAD_SIGNATURE, "64 lowercase hexadecimal");
	refuse_auth(c, ALG CRED ", " SH ", Signature=5fa00f", ERR_BAD_SIGNATURE, "64 lowercase hexadecimal");
	/* The scope's shape. */
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/service, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "Credential should be of the form");
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request/x, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "Credential should be of the form");
	refuse_auth(c, ALG "Credential=/20150830/us-east-1/service/aws4_request, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "Credential should be of the form");
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "valid date");
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/20150830//service/aws4_request, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "valid region");
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/se rvice/aws4_request, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "not a valid key=value pair");
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_reque, " SH ", " SIG,
		    ERR_BAD_SIGNATURE,
		    "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reque'.");
	refuse_auth(c, ALG "Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, " SH ", " SIG,
		    ERR_BAD_SIGNATURE, "Date in Credential scope does not match");
	/* SignedHeaders. */
	refuse_auth(c, ALG CRED ", SignedHeaders=x-amz-date, " SIG, ERR_BAD_SIGNATURE,
		    "'Host' must be a 'SignedHeader'");
	refuse_auth(c, ALG CRED ", SignedHeaders=x-amz-date;host, " SIG, ERR_BAD_SIGNATURE, "must be sorted");
	refuse_auth(c, ALG CRED ", SignedHeaders=host;host;x-amz-date, " SIG, ERR_BAD_SIGNATURE,
		    "must be sorted");
	refuse_auth(c, ALG CRED ", SignedHeaders=Host;x-amz-date, " SIG, ERR_BAD_SIGNATURE, "lowercase");
	refuse_auth(c, ALG CRED ", SignedHeaders=host;;x-amz-date, " SIG, ERR_BAD_SIGNATURE, "empty name");
	refuse_auth(c, ALG CRED ", SignedHeaders=, " SIG, ERR_BAD_SIGNATURE, "SignedHeaders is empty");
	refuse_auth(c, ALG CRED ", SignedHeaders=host;my-header;x-amz-date, " SIG, ERR_BAD_SIGNATURE,
		    "SignedHeaders names 'my-header', which the request does not carry");
	refuse_auth(c, ALG CRED ", SignedHeaders=authorization;host;x-amz-date, " SIG, ERR_BAD_SIGNATURE,
		    "cannot include authorization");
	/* Unprintable bytes are never echoed back. */
	struct err *err = NULL;
	struct sigv4_identity id;
	build(&q, &suite[0]);
	q.h[q.r.nheaders++] = (struct sigv4_header){"Authorization", "\x01\xff\x80 x"};
	assert_int_equal(sigv4_verify(&q.r, SUITE_NOW, c, &id, &err), -1);
	for (const char *p = err->msg; *p; p++)
		assert_true(*p >= ' ' && *p <= '~');
	err_free(err);
	creds_free(c);
}

static void test_two_auth_headers(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct req q;
	build(&q, &suite[0]);
	q.h[q.r.nheaders++] = (struct sigv4_header){"Authorization", ALG CRED ", " SH ", " SIG};
	expect_ok(&q, SUITE_NOW, c);
	q.h[q.r.nheaders++] = (struct sigv4_header){"authorization", ALG CRED ", " SH ", " SIG};
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "more than one Authorization header");
	creds_free(c);
}

static void test_content_sha256(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct req q;

	/* The declared hash is the body's: accepted; another body: refused before the signature. */
	build(&q, named("content-sha256"));
	sign_req(&q, named("content-sha256"));
	expect_ok(&q, SUITE_NOW, c);
	q.r.body = "hellO";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE,
		       "The provided 'x-amz-content-sha256' header does not match what was computed.");
	release(&q);

	/* UNSIGNED-PAYLOAD: the client chose not to cover the body. */
	build(&q, named("unsigned-payload"));
	sign_req(&q, named("unsigned-payload"));
	q.r.body = "other";
	expect_ok(&q, SUITE_NOW, c);
	/* ...but swapping the hash header for UNSIGNED-PAYLOAD on a signed body breaks the signature. */
	release(&q);
	build(&q, named("content-sha256"));
	sign_req(&q, named("content-sha256"));
	q.h[2].value = "UNSIGNED-PAYLOAD";
	q.r.body = "tampered";
	q.r.body_len = strlen("tampered");
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	/* Any other value is refused. */
	q.h[2].value = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "x-amz-content-sha256");
	q.h[2].value = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824";
	q.r.body = "hello";
	q.r.body_len = 5;
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "x-amz-content-sha256");
	release(&q);
	creds_free(c);
}

static void test_bounds(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct sigv4_header *h = xcalloc(SIGV4_MAX_HEADERS + 1, sizeof(*h));
	struct req q;
	build(&q, &suite[0]);
	sign_req(&q, &suite[0]);
	for (size_t i = 0; i < q.r.nheaders; i++)
		h[i] = q.h[i];
	for (size_t i = q.r.nheaders; i <= SIGV4_MAX_HEADERS; i++)
		h[i] = (struct sigv4_header){"X-Filler", "x"};
	q.r.headers = h;
	q.r.nheaders = SIGV4_MAX_HEADERS;
	expect_ok(&q, SUITE_NOW, c);
	q.r.nheaders = SIGV4_MAX_HEADERS + 1;
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "more than 128 headers");

	char *big = xmalloc(SIGV4_MAX_HEADER_VALUE + 2);
	memset(big, 'a', SIGV4_MAX_HEADER_VALUE + 1);
	big[SIGV4_MAX_HEADER_VALUE + 1] = '\0';
	q.r.nheaders = 4;
	h[3].value = big;
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "header value is longer");
	h[3].value = "x";
	char *path = xmalloc(SIGV4_MAX_PATH + 2);
	memset(path, 'p', SIGV4_MAX_PATH + 1);
	path[0] = '/';
	path[SIGV4_MAX_PATH + 1] = '\0';
	q.r.path = path;
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "path is longer");
	q.r.path = "/";
	/* A malformed percent-escape in the query cannot be canonicalized. */
	q.r.query = "a=%zz";
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, "not valid percent-encoding");
	free(path);
	free(big);
	free(h);
	release(&q);
	creds_free(c);
}

/* Our own clients sign with sigv4_authorization; whatever it signs, verify accepts. */
static void test_round_trip(void **state)
{
	(void)state;
	struct creds *c = suite_creds();
	struct vec v = {
		"round-trip",
		"PUT",
		"/v1/a b/%C3%A9/./x/../y",
		"z=%20&y=a+b&x&%41=1",
		{{"Content-Type", "application/json"}, {"X-Custom", "  many   spaces  "}},
		"{\"a\":1}",
		"content-type;host;x-amz-date;x-custom",
		.region = "ap-southeast-2",
		.service = "ecs",
	};
	struct req q;
	build(&q, &v);
	sign_req(&q, &v);
	struct err *err = NULL;
	struct sigv4_identity id;
	if (sigv4_verify(&q.r, SUITE_NOW, c, &id, &err) < 0)
		fail_msg("%s", err->msg);
	assert_string_equal(id.region, "ap-southeast-2");
	assert_string_equal(id.service, "ecs");
	/* The canonical forms are order-insensitive where SigV4 says so. */
	q.r.query = "%41=1&x=&y=a+b&z=%20";
	expect_ok(&q, SUITE_NOW, c);
	q.r.query = "%41=1&x=&y=a%2Bb&z=%20"; /* '+' is a literal plus, the same as %2B */
	expect_ok(&q, SUITE_NOW, c);
	q.r.query = "%41=1&x=&y=a%20b&z=%20"; /* ...and not a space */
	expect_refusal(&q, SUITE_NOW, c, ERR_BAD_SIGNATURE, mismatch);
	release(&q);
	creds_free(c);
}

static void test_sign_arguments(void **state)
{
	(void)state;
	struct req q;
	struct err *err = NULL;
	char sig[65];
	build(&q, &suite[0]);
	static const struct {
		const char *date, *region, *service, *signed_headers, *want;
	} bad[] = {
		{"2015-08-30T12:36:00Z", "us-east-1", "service", "host;x-amz-date", "YYYYMMDDTHHMMSSZ"},
		{SUITE_DATE, "", "service", "host;x-amz-date", "region"},
		{SUITE_DATE, "us/east", "service", "host;x-amz-date", "region"},
		{SUITE_DATE, "us-east-1", "", "host;x-amz-date", "service"},
		{SUITE_DATE, "us-east-1", "service", "x-amz-date;host", "sorted"},
		{SUITE_DATE, "us-east-1", "service", "absent;host;x-amz-date", "does not carry"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sigv4_sign(&q.r, SUITE_SECRET, bad[i].date, bad[i].region, bad[i].service,
					    bad[i].signed_headers, sig, &err),
				 -1);
		assert_int_equal(err->kind, ERR_INVALID_PARAM);
		if (!strstr(err->msg, bad[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err->msg, bad[i].want);
		err_free(err);
		err = NULL;
	}
	assert_int_equal(
		sigv4_sign(&q.r, "", SUITE_DATE, "us-east-1", "service", "host;x-amz-date", sig, &err), -1);
	err_free(err);
	err = NULL;
	assert_null(sigv4_authorization(&q.r, "AK/ID", SUITE_SECRET, SUITE_DATE, "us-east-1", "service",
					"host;x-amz-date", &err));
	assert_int_equal(err->kind, ERR_INVALID_PARAM);
	err_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_suite),
		cmocka_unit_test(test_botocore_vectors),
		cmocka_unit_test(test_auth_header_spellings),
		cmocka_unit_test(test_missing_auth),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_malformed_auth),
		cmocka_unit_test(test_two_auth_headers),
		cmocka_unit_test(test_content_sha256),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sign_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
