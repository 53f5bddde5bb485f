/* gantry server: argument parsing for the control plane. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/server.h"
#include "cmd/cmd.h"
#include "common/err.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: gantry server [options]\n"
		   "  --listen ADDR:PORT    address to serve on (default " SERVER_DEFAULT_LISTEN ")\n"
		   "  --data DIR            state directory (default ./gantry-data)\n"
		   "  --credentials FILE    credentials, one 'ACCESS_KEY_ID SECRET ACCOUNT_ID' per line\n"
		   "                        (default DIR/credentials)\n"
		   "  --region REGION       the server's region (default " SERVER_DEFAULT_REGION ")\n"
		   "  --ready-file FILE     write the serving URL to FILE once listening\n"
		   "  --agent-timeout SECS  an agent that has not polled for this long is disconnected\n"
		   "                        (default 60)\n"
		   "  --log-level LEVEL     debug, info, warn or error (default info)\n");
}

int cmd_server(int argc, char **argv)
{
	struct server_opts o = {
		.listen = SERVER_DEFAULT_LISTEN,
		.data_dir = "gantry-data",
		.region = SERVER_DEFAULT_REGION,
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"data", required_argument, NULL, 'd'},
		{"credentials", required_argument, NULL, 'c'},
		{"region", required_argument, NULL, 'r'},
		{"ready-file", required_argument, NULL, 'R'},
		{"log-level", required_argument, NULL, 'L'},
		{"agent-timeout", required_argument, NULL, 'A'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	enum log_level lvl;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'd': o.data_dir = optarg; break;
		case 'c': o.credentials = optarg; break;
		case 'r': o.region = optarg; break;
		case 'R': o.ready_file = optarg; break;
		case 'A': {
			char *end;
			o.agent_timeout_s = strtod(optarg, &end);
			if (*end || o.agent_timeout_s <= 0 || o.agent_timeout_s > 86400) {
				fprintf(stderr, "gantry server: bad --agent-timeout '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'L':
			if (log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "gantry server: bad --log-level '%s'\n", optarg);
				return 2;
			}
			log_set_level(lvl);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	struct err *e = NULL;
	if (server_run(&o, &e) < 0) {
		fprintf(stderr, "gantry server: %s\n", e->msg);
		err_free(e);
		return 1;
	}
	return 0;
}
