/* The gantry server process: one libuv loop that owns all state, the store, the AWS front with
 * every service registered, and the HTTP listener. `gantry server` and `gantry dev` run it. */
#ifndef GANTRY_SERVER_H
#define GANTRY_SERVER_H

#include "common/err.h"

struct server_opts {
	const char *listen;	 /* "ADDR:PORT"; port 0 picks a free one */
	const char *data_dir;	 /* state directory */
	const char *credentials; /* credentials file; NULL = <data_dir>/credentials */
	const char *region;	 /* the server's home region */
	double agent_timeout_s;	 /* agents silent this long are disconnected (0 = default, 60 s) */
	const char *ready_file;	 /* when set, "http://ADDR:PORT\n" is written there once serving */
	/* When set, called once the listener is bound, with the URL clients use (e.g. for
	 * `gantry dev` to print the environment with the real port). */
	void (*on_ready)(void *arg, const char *url);
	void *on_ready_arg;
};

#define SERVER_DEFAULT_LISTEN "127.0.0.1:7700"
#define SERVER_DEFAULT_REGION "us-east-1"

/* Runs the server until SIGINT or SIGTERM, then shuts down cleanly (answers what is waiting,
 * flushes the store). Returns 0 after a clean shutdown, -1 with *err when it cannot start. */
int server_run(const struct server_opts *opts, struct err **err);

#endif
