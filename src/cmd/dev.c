/* gantry dev: a server on this machine with state in ./gantry-data and a generated credential,
 * printing the environment that points the AWS CLI at it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/creds.h"
#include "api/server.h"
#include "cmd/cmd.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#define DEV_ACCOUNT "000000000000"

static int first_credential(const char *path, struct cred *out, struct err **err)
{
	struct creds *c = creds_load(path, err);
	if (!c)
		return -1;
	/* The file is ours: its first line is the dev credential. Read it back through the parser. */
	FILE *f = fopen(path, "r");
	char line[512];
	int rc = -1;
	while (f && fgets(line, sizeof(line), f)) {
		char key[200], secret[200], account[32];
		if (line[0] == '#' || sscanf(line, "%199s %199s %31s", key, secret, account) != 3)
			continue;
		const struct cred *cr = creds_find(c, key);
		if (cr) {
			out->access_key = xstrdup(cr->access_key);
			out->secret = xstrdup(cr->secret);
			out->account = xstrdup(cr->account);
			rc = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	if (rc < 0)
		err_set(err, ERR_INVALID_PARAM, "%s holds no credential", path);
	creds_free(c);
	return rc;
}

struct dev_env {
	const struct cred *cr;
	const char *region;
};

/* Printed once the server listens, so that the URL carries the real port. */
static void print_env(void *arg, const char *url)
{
	const struct dev_env *env = arg;
	printf("# gantry dev: paste these into your shell to point the AWS CLI and SDKs at gantry\n"
	       "export AWS_ACCESS_KEY_ID=%s\n"
	       "export AWS_SECRET_ACCESS_KEY=%s\n"
	       "export AWS_DEFAULT_REGION=%s\n"
	       "export AWS_ENDPOINT_URL=%s\n",
	       env->cr->access_key, env->cr->secret, env->region, url);
	fflush(stdout);
}

int cmd_dev(int argc, char **argv)
{
	struct server_opts o = {
		.listen = SERVER_DEFAULT_LISTEN,
		.data_dir = "gantry-data",
		.region = SERVER_DEFAULT_REGION,
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'}, {"data", required_argument, NULL, 'd'},
		{"region", required_argument, NULL, 'r'}, {"ready-file", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'd': o.data_dir = optarg; break;
		case 'r': o.region = optarg; break;
		case 'R': o.ready_file = optarg; break;
		case 'h':
			printf("usage: gantry dev [--listen ADDR:PORT] [--data DIR] [--region REGION]\n");
			return 0;
		default: return 2;
		}
	}
	struct err *e = NULL;
	struct cred cr = {0};
	char *path = xasprintf("%s/credentials", o.data_dir);
	int rc = 1;
	if (mkdir(o.data_dir, 0700) != 0 && errno != EEXIST) {
		err_sys(&e, errno, "create %s", o.data_dir);
		goto out;
	}
	if (access(path, F_OK) != 0) {
		if (creds_create_file(path, DEV_ACCOUNT, &e) < 0)
			goto out;
		log_info("created a credential for account %s in %s", DEV_ACCOUNT, path);
	}
	if (first_credential(path, &cr, &e) < 0)
		goto out;
	struct dev_env env = {&cr, o.region};
	o.on_ready = print_env;
	o.on_ready_arg = &env;
	o.credentials = path;
	if (server_run(&o, &e) < 0)
		goto out;
	rc = 0;
out:
	if (e) {
		fprintf(stderr, "gantry dev: %s\n", e->msg);
		err_free(e);
	}
	free(cr.access_key);
	free(cr.secret);
	free(cr.account);
	free(path);
	return rc;
}
