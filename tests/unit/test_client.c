/* The HTTP client (hcli) and the AWS JSON client (awsc) against a real in-process server (hsrv +
 * api + ecs + store on one loop): signed calls succeed, forged ones are refused, answers that wait
 * for the store arrive, cancellation releases everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/awsc.h"
#include "common/jv.h"
#include "common/hcli.h"
#include "harness.h"

struct world {
	uv_loop_t loop;
	struct harness h; /* creds, store, ecs, api (store in loop mode here) */
	struct hsrv *srv;
	struct hcli *http;
	char url[64];
	int answers;
	char last_type[128];
	char last_body[4096];
};

static void open_world(struct world *w)
{
	struct err *e = NULL;
	assert_int_equal(uv_loop_init(&w->loop), 0);
	snprintf(w->h.dir, sizeof(w->h.dir), "/tmp/gantry-client.XXXXXX");
	assert_non_null(mkdtemp(w->h.dir));
	w->h.creds = creds_new();
	creds_add(w->h.creds, H_KEY_A, H_SECRET_A, H_ACCT_A, NULL);
	w->h.store = store_open(&w->loop, w->h.dir, &e);
	assert_non_null(w->h.store);
	w->h.ecs = ecs_new(w->h.store);
	assert_int_equal(ecs_load(w->h.ecs, &e), 0);
	w->h.api = api_new(w->h.creds, w->h.store, NULL);
	ecs_add_to_api(w->h.ecs, w->h.api);
	struct sockaddr_storage addr;
	assert_int_equal(hsrv_parse_addr("127.0.0.1:0", &addr, &e), 0);
	w->srv = hsrv_start(&w->loop, &addr, API_BODY_MAX, api_handle, w->h.api, &e);
	assert_non_null(w->srv);
	snprintf(w->url, sizeof(w->url), "http://127.0.0.1:%d", hsrv_port(w->srv));
	w->http = hcli_new(&w->loop);
}

static void close_world(struct world *w)
{
	hcli_free(w->http);
	hsrv_stop(w->srv);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	harness_free(&w->h);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&w->loop), 0);
}

static void on_answer(void *arg, const struct awsc_result *r)
{
	struct world *w = arg;
	w->answers++;
	snprintf(w->last_type, sizeof(w->last_type), "%s", r->error_type ? r->error_type : "");
	char *s = r->out ? jv_dump(r->out) : xstrdup(r->message ? r->message : "");
	snprintf(w->last_body, sizeof(w->last_body), "%s", s);
	free(s);
	if (w->answers >= 1)
		uv_stop(&w->loop);
}

static void run_until_answer(struct world *w, int want)
{
	while (w->answers < want)
		uv_run(&w->loop, UV_RUN_ONCE);
}

static void test_signed_calls_round_trip(void **state)
{
	(void)state;
	struct world w;
	memset(&w, 0, sizeof(w));
	open_world(&w);
	struct err *e = NULL;
	struct awsc *c = awsc_new(w.http, w.url, H_KEY_A, H_SECRET_A, "us-east-1", &e);
	assert_non_null(c);
	json_t *in = json_pack("{s:s}", "clusterName", "web");
	awsc_call(c, "AmazonEC2ContainerServiceV20141113.CreateCluster", "ecs", in, 5000, on_answer, &w);
	json_decref(in);
	run_until_answer(&w, 1);
	assert_string_equal(w.last_type, "");
	assert_non_null(strstr(w.last_body, "arn:aws:ecs:us-east-1:111111111111:cluster/web"));
	/* The write was durable before the answer: it is in the store's file already. */
	assert_true(store_durable_seq(w.h.store) >= 1);
	in = json_object();
	awsc_call(c, "AmazonEC2ContainerServiceV20141113.ListClusters", "ecs", in, 5000, on_answer, &w);
	json_decref(in);
	run_until_answer(&w, 2);
	assert_string_equal(w.last_body,
			    "{\"clusterArns\":[\"arn:aws:ecs:us-east-1:111111111111:cluster/web\"]}");
	awsc_free(c);
	/* A wrong secret is refused by the server's SigV4 check. */
	c = awsc_new(w.http, w.url, H_KEY_A, "wrong", "us-east-1", &e);
	in = json_object();
	awsc_call(c, "AmazonEC2ContainerServiceV20141113.ListClusters", "ecs", in, 5000, on_answer, &w);
	json_decref(in);
	run_until_answer(&w, 3);
	assert_string_equal(w.last_type, "InvalidSignatureException");
	awsc_free(c);
	close_world(&w);
}

static void test_cancel_and_refused_connection(void **state)
{
	(void)state;
	struct world w;
	memset(&w, 0, sizeof(w));
	open_world(&w);
	struct err *e = NULL;
	struct awsc *c = awsc_new(w.http, w.url, H_KEY_A, H_SECRET_A, "us-east-1", &e);
	json_t *in = json_object();
	struct hcli_req *r = awsc_call(c, "AmazonEC2ContainerServiceV20141113.ListClusters", "ecs", in, 5000,
				       on_answer, &w);
	hcli_cancel(r);
	assert_int_equal(w.answers, 1);
	assert_string_equal(w.last_body, "cancelled");
	awsc_free(c);
	assert_null(awsc_new(w.http, "ftp://x", H_KEY_A, H_SECRET_A, "us-east-1", &e));
	err_free(e);
	e = NULL;
	/* Nothing listens on port 1: the transport error arrives as a message, status 0. */
	c = awsc_new(w.http, "http://127.0.0.1:1", H_KEY_A, H_SECRET_A, "us-east-1", &e);
	awsc_call(c, "AmazonEC2ContainerServiceV20141113.ListClusters", "ecs", in, 5000, on_answer, &w);
	json_decref(in);
	run_until_answer(&w, 2);
	assert_string_equal(w.last_type, "");
	assert_non_null(strstr(w.last_body, "127.0.0.1"));
	awsc_free(c);
	close_world(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signed_calls_round_trip),
		cmocka_unit_test(test_cancel_and_refused_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
