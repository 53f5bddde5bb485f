/* AWS JSON 1.1 client: SigV4-signed POSTs through hcli. */
#include "api/awsc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/sigv4.h"
#include "common/jv.h"
#include "common/xalloc.h"

struct awsc {
	struct hcli *http;
	char *endpoint;
	char *host; /* the authority of the endpoint, as the Host header carries it */
	char *access_key;
	char *secret;
	char *region;
};

struct awsc_pending {
	awsc_done_fn done;
	void *arg;
};

struct awsc *awsc_new(struct hcli *http, const char *endpoint, const char *access_key, const char *secret,
		      const char *region, struct err **err)
{
	const char *p = NULL;
	if (strncmp(endpoint, "http://", 7) == 0)
		p = endpoint + 7;
	else if (strncmp(endpoint, "https://", 8) == 0)
		p = endpoint + 8;
	if (!p || !*p) {
		err_set(err, ERR_INVALID_PARAM, "endpoint '%s' is not an http:// or https:// URL", endpoint);
		return NULL;
	}
	struct awsc *c = xcalloc(1, sizeof(*c));
	c->http = http;
	size_t n = strcspn(p, "/");
	c->host = xstrndup(p, n);
	/* Calls go to "/" of the endpoint's authority. */
	c->endpoint = xasprintf("%.*s/", (int)(p - endpoint + (long)n), endpoint);
	c->access_key = xstrdup(access_key);
	c->secret = xstrdup(secret);
	c->region = xstrdup(region);
	return c;
}

void awsc_free(struct awsc *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->host);
	free(c->access_key);
	free(c->secret);
	free(c->region);
	free(c);
}

static void on_done(void *arg, unsigned status, const char *body, size_t len, const struct err *err)
{
	struct awsc_pending *pd = arg;
	struct awsc_result r = {.status = status};
	json_t *j = NULL;
	if (err) {
		r.message = err->msg;
	} else {
		j = json_loadb(body, len, 0, NULL);
		if (status == 200 && json_is_object(j)) {
			r.out = j;
		} else if (json_is_object(j)) {
			r.error_type = json_string_value(json_object_get(j, "__type"));
			r.message = json_string_value(json_object_get(j, "message"));
			if (!r.message)
				r.message = json_string_value(json_object_get(j, "Message"));
		}
		if (!r.out && !r.message)
			r.message = status == 200 ? "the answer is not a JSON object"
						  : "error answer without a message";
	}
	pd->done(pd->arg, &r);
	json_decref(j);
	free(pd);
}

struct hcli_req *awsc_call(struct awsc *c, const char *target, const char *service, json_t *in,
			   long timeout_ms, awsc_done_fn done, void *arg)
{
	char *body = jv_dump(in);
	char amz_date[17];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
	struct hsrv_header h[5] = {
		{"Host", c->host},	  {"Content-Type", "application/x-amz-json-1.1"},
		{"X-Amz-Date", amz_date}, {"X-Amz-Target", target},
		{"Authorization", NULL},
	};
	struct sigv4_header sh[4];
	for (int i = 0; i < 4; i++) {
		sh[i].name = h[i].name;
		sh[i].value = h[i].value;
	}
	struct sigv4_request sr = {"POST", "/", "", sh, 4, body, strlen(body)};
	char *auth = sigv4_authorization(&sr, c->access_key, c->secret, amz_date, c->region, service,
					 "content-type;host;x-amz-date;x-amz-target", NULL);
	h[4].value = auth ? auth : "";
	struct awsc_pending *pd = xcalloc(1, sizeof(*pd));
	pd->done = done;
	pd->arg = arg;
	struct hcli_req *r =
		hcli_request(c->http, "POST", c->endpoint, h, 5, body, strlen(body), timeout_ms, on_done, pd);
	free(auth);
	free(body);
	return r;
}
