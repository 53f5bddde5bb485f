/* The server process: wiring of loop, store, services and listener; signals; shutdown. */
#include "api/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "api/creds.h"
#include "common/dirlock.h"
#include "common/hsrv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "ecs/ecs.h"
#include "logs/logs.h"
#include "registry/registry.h"
#include "store/store.h"

struct server {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct store *store;
	struct creds *creds;
	struct ecs *ecs;
	struct reg *reg;
	struct logs *logs; /* CloudWatch Logs: events in DATA/logs, metadata in the store */
	struct api *api;
	struct hsrv *http;
	int lock_fd;
};

/* The last step of a shutdown: every answer that waited for the store has been sent. */
static void finish_stop(void *arg)
{
	struct server *s = arg;
	hsrv_stop(s->http);
	s->http = NULL;
}

/* Logs: PutLogEvents answers wait for the log store's own fdatasync, not the store's; once those
 * are out, wait for the store as before. */
static void logs_durable(void *arg)
{
	struct server *s = arg;
	store_when_durable(s->store, store_last_seq(s->store), finish_stop, s);
}

/* Shutdown order matters: stop taking connections and calls first, then let the answers that wait
 * for the store go out once it is durable, and only then close the listener (which would otherwise
 * answer those requests itself and free them under the store's callbacks). */
static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;
	log_info("received signal %d, shutting down", signum);
	uv_signal_stop(&s->sigint);
	uv_signal_stop(&s->sigterm);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	api_set_stopping(s->api);
	reg_set_stopping(s->reg);
	hsrv_quiesce(s->http);
	ecs_stop(s->ecs);
	logs_stop(s->logs, logs_durable, s);
}

/* Many clients and long-polls need many descriptors: lift the soft limit to the hard one (raising
 * the hard limit would need CAP_SYS_RESOURCE, which gantry does not assume). */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open-file limit: %s", strerror(errno));
	}
}

/* The URL clients use for the bound listener: a wildcard address is reached on loopback. */
static char *server_url(const char *listen, int port)
{
	const char *colon = strrchr(listen, ':');
	size_t hn = colon ? (size_t)(colon - listen) : 0;
	if (hn == 0 || (hn == 7 && strncmp(listen, "0.0.0.0", 7) == 0))
		return xasprintf("http://127.0.0.1:%d", port);
	if (hn == 4 && strncmp(listen, "[::]", 4) == 0)
		return xasprintf("http://[::1]:%d", port);
	return xasprintf("http://%.*s:%d", (int)hn, listen, port);
}

static int write_ready(const char *path, const char *url, struct err **err)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		err_sys(err, errno, "write %s", tmp);
		free(tmp);
		return -1;
	}
	fprintf(f, "%s\n", url);
	int rc = fclose(f);
	if (rc == 0)
		rc = rename(tmp, path);
	if (rc != 0)
		err_sys(err, errno, "write %s", path);
	free(tmp);
	return rc ? -1 : 0;
}

int server_run(const struct server_opts *opts, struct err **err)
{
	struct server s;
	memset(&s, 0, sizeof(s));
	s.lock_fd = -1;
	int rc = -1;
	char *creds_path = NULL, *url = NULL;
	struct sockaddr_storage addr;
	bool loop_ok = false;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (hsrv_parse_addr(opts->listen, &addr, err) < 0 ||
	    dirlock_take(opts->data_dir, "gantry server", &s.lock_fd, err) < 0)
		goto out;
	if (uv_loop_init(&s.loop) != 0) {
		err_set(err, ERR_SYS, "cannot create the event loop");
		goto out;
	}
	loop_ok = true;
	s.store = store_open(&s.loop, opts->data_dir, err);
	if (!s.store)
		goto out;
	creds_path =
		opts->credentials ? xstrdup(opts->credentials) : xasprintf("%s/credentials", opts->data_dir);
	s.creds = creds_load(creds_path, err);
	if (!s.creds)
		goto out;
	/* The registry loads its records first: store_load must run before anything writes. */
	s.reg = reg_new(&s.loop, s.store, s.creds, opts->data_dir, err);
	if (!s.reg)
		goto out;
	s.ecs = ecs_new(s.store);
	if (ecs_load(s.ecs, err) < 0)
		goto out;
	/* Logs: loads its group/stream metadata (before any write) and opens DATA/logs. */
	s.logs = logs_new(&s.loop, s.store, opts->data_dir, err);
	if (!s.logs)
		goto out;
	struct ecs_options eo = {.agent_timeout_s = opts->agent_timeout_s};
	ecs_start(s.ecs, &s.loop, &eo);
	s.api = api_new(s.creds, s.store, NULL);
	ecs_add_to_api(s.ecs, s.api);
	reg_add_to_api(s.reg, s.api);
	logs_add_to_api(s.logs, s.api);
	s.http = hsrv_start(&s.loop, &addr, API_BODY_MAX, api_handle, s.api, err);
	if (!s.http)
		goto out;
	hsrv_set_stream_handler(s.http, reg_http, s.reg);
	/* API_BODY_MAX for every call but those given a bound of their own (PutLogEvents). */
	hsrv_set_body_limit(s.http, api_body_limit, s.api);
	uv_signal_init(&s.loop, &s.sigint);
	uv_signal_init(&s.loop, &s.sigterm);
	s.sigint.data = s.sigterm.data = &s;
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);

	url = server_url(opts->listen, hsrv_port(s.http));
	log_info("gantry server listening on %s (data in %s, region %s)", url, opts->data_dir, opts->region);
	if (opts->on_ready)
		opts->on_ready(opts->on_ready_arg, url);
	if (opts->ready_file && write_ready(opts->ready_file, url, err) < 0)
		goto out;
	uv_run(&s.loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	if (s.ecs)
		ecs_stop(s.ecs);
	reg_set_stopping(s.reg);
	hsrv_stop(s.http);
	logs_free(s.logs); /* makes the last events durable; its handles close in the run below */
	if (s.store && store_flush(s.store, rc == 0 ? err : NULL) < 0)
		rc = -1;
	store_close(s.store);
	if (loop_ok) {
		uv_run(&s.loop, UV_RUN_DEFAULT); /* let closing handles finish */
		if (uv_loop_close(&s.loop) != 0)
			log_warn("event loop closed with handles still open");
	}
	api_free(s.api);
	ecs_free(s.ecs);
	reg_free(s.reg);
	creds_free(s.creds);
	free(creds_path);
	free(url);
	if (s.lock_fd >= 0)
		close(s.lock_fd);
	return rc;
}
