/* gantry dev: a server on this machine with state in ./gantry-data and a generated credential,
 * printing the environment that points the AWS CLI at it, and an agent that runs the tasks placed
 * on this machine (crun: real containers; it needs root and crun) in a child process. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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
	const char *data_dir;
	const char *agent; /* the agent's runtime, or NULL for none */
	pid_t agent_pid;
};

/* Starts `gantry agent` for this server in a child that dies with gantry dev (PR_SET_PDEATHSIG). */
static void start_agent(struct dev_env *env, const char *url)
{
	char *state = xasprintf("%s/agent", env->data_dir);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* Nothing of the server's (its listening socket, database, state lock) goes along. */
		close_range(3, ~0U, 0);
		setenv("AWS_ACCESS_KEY_ID", env->cr->access_key, 1);
		setenv("AWS_SECRET_ACCESS_KEY", env->cr->secret, 1);
		setenv("AWS_DEFAULT_REGION", env->region, 1);
		char *argv[] = {"gantry",	    "agent",   "--server", (char *)url, "--runtime",
				(char *)env->agent, "--state", state,	   NULL};
		execv("/proc/self/exe", argv);
		fprintf(stderr, "gantry dev: cannot start the agent: %s\n", strerror(errno));
		_exit(127);
	}
	free(state);
	if (pid < 0)
		log_warn("cannot start the agent: %s", strerror(errno));
	else
		env->agent_pid = pid;
}

/* The runtime the agent gets: crun when this process may run containers, else none (with why). */
static const char *pick_agent(const char *asked)
{
	if (asked)
		return strcmp(asked, "none") == 0 ? NULL : asked;
	if (geteuid() != 0) {
		log_warn("not root: no agent is started, so tasks cannot run here (run gantry dev as root, "
			 "or start `gantry agent` yourself)");
		return NULL;
	}
	if (access("/usr/bin/crun", X_OK) != 0 || access("/usr/bin/conmon", X_OK) != 0) {
		log_warn("crun or conmon is missing (apt-get install crun conmon): no agent is started");
		return NULL;
	}
	return "crun";
}

/* Printed once the server listens, so that the URL carries the real port. */
static void print_env(void *arg, const char *url)
{
	struct dev_env *env = arg;
	printf("# gantry dev: paste these into your shell to point the AWS CLI and SDKs at gantry\n"
	       "export AWS_ACCESS_KEY_ID=%s\n"
	       "export AWS_SECRET_ACCESS_KEY=%s\n"
	       "export AWS_DEFAULT_REGION=%s\n"
	       "export AWS_ENDPOINT_URL=%s\n",
	       env->cr->access_key, env->cr->secret, env->region, url);
	fflush(stdout);
	if (env->agent)
		start_agent((struct dev_env *)env, url);
}

int cmd_dev(int argc, char **argv)
{
	struct server_opts o = {
		.listen = SERVER_DEFAULT_LISTEN,
		.data_dir = "gantry-data",
		.region = SERVER_DEFAULT_REGION,
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"data", required_argument, NULL, 'd'},
		{"region", required_argument, NULL, 'r'},
		{"ready-file", required_argument, NULL, 'R'},
		{"agent", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *agent = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'd': o.data_dir = optarg; break;
		case 'r': o.region = optarg; break;
		case 'R': o.ready_file = optarg; break;
		case 'a': agent = optarg; break;
		case 'h':
			printf("usage: gantry dev [--listen ADDR:PORT] [--data DIR] [--region REGION] "
			       "[--agent crun|fake|none]\n"
			       "  --agent RUNTIME  the agent started beside the server (default crun when "
			       "root and crun are\n"
			       "                   there, else none); its state goes to DIR/agent\n");
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
	if (agent && strcmp(agent, "crun") && strcmp(agent, "fake") && strcmp(agent, "none")) {
		fprintf(stderr, "gantry dev: --agent takes crun, fake or none\n");
		free(path);
		return 2;
	}
	struct dev_env env = {
		.cr = &cr, .region = o.region, .data_dir = o.data_dir, .agent = pick_agent(agent)};
	o.on_ready = print_env;
	o.on_ready_arg = &env;
	o.credentials = path;
	int srv = server_run(&o, &e);
	if (env.agent_pid > 0) {
		/* The agent stops with the server; its containers keep running and are adopted again
		 * by the next gantry dev. */
		kill(env.agent_pid, SIGTERM);
		while (waitpid(env.agent_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (srv < 0)
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
