/* Subcommands of the gantry binary. Each takes main's argc/argv shifted so that argv[0] is the
 * subcommand's name, and returns the process exit status. */
#ifndef GANTRY_CMD_H
#define GANTRY_CMD_H

int cmd_server(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_version(int argc, char **argv);

#define GANTRY_VERSION "0.1.0"

#endif
