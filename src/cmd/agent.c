/* gantry agent: argument parsing for the host agent (and for hollow agents with --count). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/image.h"
#include "cmd/cmd.h"
#include "common/err.h"
#include "common/log.h"
#include "common/xalloc.h"

#define FAKE_SECONDS_MAX 31536000.0 /* one year, for the --fake-* durations */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gantry agent [options]\n"
		"  --server URL            the gantry server (default $AWS_ENDPOINT_URL, "
		"else " AGENT_DEFAULT_SERVER ")\n"
		"  --cluster NAME          the cluster to join (default \"" AGENT_DEFAULT_CLUSTER
		"\"; as with ECS, only the default\n"
		"                          cluster is created when missing)\n"
		"  --cpu UNITS             CPU units to offer (default 1024 per core: %lld here)\n"
		"  --memory MIB            memory to offer (default MemTotal minus %d MiB: %lld here)\n"
		"  --attribute KEY[=VALUE] an attribute of the instance (repeatable); ecs.availability-zone\n"
		"                          (default REGIONa) and ecs.instance-type "
		"(default " AGENT_DEFAULT_INSTANCE ")\n"
		"                          set the instance identity document\n"
		"  --runtime NAME          what runs containers: crun (the default: real containers under\n"
		"                          conmon + crun; needs root) or fake (starts no processes: hollow\n"
		"                          hosts; the default with --count)\n"
		"  --count N               run N hollow agents in this process, each its own instance\n"
		"                          (default 1)\n"
		"  --state DIR             keeps the instance id and ARN across restarts (default "
		"./" AGENT_DEFAULT_STATE ")\n"
		"  --bridge NAME           crun runtime: the host bridge of bridge-mode tasks (default "
		"gantry0)\n"
		"  --subnet CIDR           crun runtime: their addresses (default 172.31.200.0/22)\n"
		"  --metadata-port N       crun runtime: the task metadata endpoint's port (default 51678)\n"
		"  --image-pull-behavior B crun runtime: default (ask the registry, use the stored image\n"
		"                          if that fails), always (fail then), once or prefer-cached (ask\n"
		"                          only for an image not stored yet); default "
		"$ECS_IMAGE_PULL_BEHAVIOR\n"
		"  --fake-start-delay S    fake runtime: seconds from PENDING to RUNNING (default 0)\n"
		"  --fake-exit-after S     fake runtime: containers exit on their own after S seconds\n"
		"                          (default: they run until stopped, then exit with 143)\n"
		"  --fake-exit-code N      fake runtime: the exit code for --fake-exit-after (default 0)\n"
		"  --log-level LEVEL       debug, info, warn or error (default info)\n"
		"credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; region: AWS_REGION or\n"
		"AWS_DEFAULT_REGION (default " AGENT_DEFAULT_REGION ")\n",
		agent_host_cpu(), AGENT_MEMORY_RESERVE_MIB, agent_host_memory_mib());
}

static int parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, unsigned *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= FAKE_SECONDS_MAX))
		return -1;
	*ms = (unsigned)(v * 1000.0 + 0.5);
	return 0;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_opts o = {
		.server = AGENT_DEFAULT_SERVER,
		.cluster = AGENT_DEFAULT_CLUSTER,
		.state_dir = AGENT_DEFAULT_STATE,
		.count = 1,
	};
	/* The environment `gantry dev` prints for the AWS CLI points the agent at the server too. */
	if (env_nonempty("AWS_ENDPOINT_URL"))
		o.server = env_nonempty("AWS_ENDPOINT_URL");
	struct runtime_fake_opts fo = {0};
	const char *runtime = NULL; /* crun, or fake for hollow agents (--count) */
	struct agent_attr *attrs = xcalloc(AGENT_ATTRS_MAX, sizeof(*attrs));
	char *attr_text[AGENT_ATTRS_MAX];
	size_t nattrs = 0;
	int rc = 2;
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"cluster", required_argument, NULL, 'c'},
		{"cpu", required_argument, NULL, 'C'},
		{"memory", required_argument, NULL, 'm'},
		{"attribute", required_argument, NULL, 'a'},
		{"runtime", required_argument, NULL, 'r'},
		{"count", required_argument, NULL, 'n'},
		{"state", required_argument, NULL, 'S'},
		{"bridge", required_argument, NULL, 'B'},
		{"subnet", required_argument, NULL, 'N'},
		{"metadata-port", required_argument, NULL, 'M'},
		{"image-pull-behavior", required_argument, NULL, 'I'},
		{"fake-start-delay", required_argument, NULL, 'D'},
		{"fake-exit-after", required_argument, NULL, 'E'},
		{"fake-exit-code", required_argument, NULL, 'X'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	long long v;
	enum log_level lvl;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 'c': o.cluster = optarg; break;
		case 'C':
			if (parse_ll(optarg, 1, 1LL << 40, &o.cpu) < 0) {
				fprintf(stderr, "gantry agent: bad --cpu '%s'\n", optarg);
				goto out;
			}
			break;
		case 'm':
			if (parse_ll(optarg, 1, 1LL << 40, &o.memory_mib) < 0) {
				fprintf(stderr, "gantry agent: bad --memory '%s'\n", optarg);
				goto out;
			}
			break;
		case 'a': {
			if (nattrs == AGENT_ATTRS_MAX) {
				fprintf(stderr, "gantry agent: more than %d --attribute\n", AGENT_ATTRS_MAX);
				goto out;
			}
			char *t = xstrdup(optarg);
			attr_text[nattrs] = t;
			char *eq = strchr(t, '=');
			if (eq)
				*eq = '\0';
			attrs[nattrs].name = t;
			attrs[nattrs].value = eq ? eq + 1 : NULL;
			nattrs++;
			if (!*t) {
				fprintf(stderr, "gantry agent: --attribute '%s' has no name\n", optarg);
				goto out;
			}
			break;
		}
		case 'r': runtime = optarg; break;
		case 'n':
			if (parse_ll(optarg, 1, AGENT_COUNT_MAX, &v) < 0) {
				fprintf(stderr, "gantry agent: --count must be 1..%d\n", AGENT_COUNT_MAX);
				goto out;
			}
			o.count = (unsigned)v;
			break;
		case 'S': o.state_dir = optarg; break;
		case 'B': o.bridge = optarg; break;
		case 'N': o.subnet = optarg; break;
		case 'M':
			if (parse_ll(optarg, 1, 65535, &v) < 0) {
				fprintf(stderr, "gantry agent: --metadata-port must be 1..65535\n");
				goto out;
			}
			o.metadata_port = (unsigned)v;
			break;
		case 'I': o.pull_behavior = optarg; break;
		case 'D':
		case 'E':
			if (parse_seconds(optarg, c == 'D' ? &fo.start_delay_ms : &fo.exit_after_ms) < 0) {
				fprintf(stderr, "gantry agent: bad number of seconds '%s'\n", optarg);
				goto out;
			}
			break;
		case 'X':
			if (parse_ll(optarg, 0, 255, &v) < 0) {
				fprintf(stderr, "gantry agent: --fake-exit-code must be 0..255\n");
				goto out;
			}
			fo.exit_code = (int)v;
			break;
		case 'L':
			if (log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "gantry agent: bad --log-level '%s'\n", optarg);
				goto out;
			}
			log_set_level(lvl);
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		goto out;
	}
	if (!o.pull_behavior)
		o.pull_behavior = env_nonempty("ECS_IMAGE_PULL_BEHAVIOR");
	if (o.pull_behavior) {
		enum image_pull_policy pp;
		struct err *pe = NULL;
		if (image_pull_policy_parse(o.pull_behavior, &pp, &pe) < 0) {
			fprintf(stderr, "gantry agent: %s\n", pe->msg);
			err_free(pe);
			goto out;
		}
	}
	o.access_key = env_nonempty("AWS_ACCESS_KEY_ID");
	o.secret = env_nonempty("AWS_SECRET_ACCESS_KEY");
	o.region = env_nonempty("AWS_REGION");
	if (!o.region)
		o.region = env_nonempty("AWS_DEFAULT_REGION");
	o.attrs = attrs;
	o.nattrs = nattrs;
	if (!runtime)
		runtime = o.count > 1 ? "fake" : "crun";
	if (strcmp(runtime, "crun") == 0 && o.count > 1) {
		fprintf(stderr, "gantry agent: the crun runtime runs one instance per host; --count is for "
				"hollow agents (--runtime fake)\n");
		goto out;
	}
	struct err *e = NULL;
	if (agent_run(&o, runtime, &fo, &e) < 0) {
		fprintf(stderr, "gantry agent: %s\n", e->msg);
		err_free(e);
		rc = 1;
	} else {
		rc = 0;
	}
out:
	for (size_t i = 0; i < nattrs; i++)
		free(attr_text[i]);
	free(attrs);
	return rc;
}
