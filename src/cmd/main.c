/* gantry: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: gantry <command> [options]\n"
		   "\n"
		   "commands:\n"
		   "  server    run the control plane (ECS API) on --listen with state in --data\n"
		   "  agent     run the host agent (or --count N hollow agents) against a server\n"
		   "  dev       run a server on 127.0.0.1:7700 with state in ./gantry-data; prints the\n"
		   "            environment for the aws CLI\n"
		   "  image     image import: build an OCI image from a root filesystem directory or\n"
		   "            tar file and push it to the registry\n"
		   "  version   print the version\n"
		   "\n"
		   "run `gantry <command> --help` for a command's options\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "server") == 0)
		return cmd_server(argc - 1, argv + 1);
	if (strcmp(cmd, "agent") == 0)
		return cmd_agent(argc - 1, argv + 1);
	if (strcmp(cmd, "image") == 0)
		return cmd_image(argc - 1, argv + 1);
	if (strcmp(cmd, "dev") == 0)
		return cmd_dev(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "gantry: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
