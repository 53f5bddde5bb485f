/* Prints the config.json that ocispec_build() makes of a container definition, for ocispec-smoke.sh
 * to hand to crun; the warnings go to stderr. Built by that script against build/libgantry.a.
 * Usage: ocispec-gen DEF.json ROOTFS CGROUPS_PATH [--netns P] [--init P] [--hosts P] [--resolv P] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ocispec.h"
#include "common/err.h"

int main(int argc, char **argv)
{
	struct ocispec_in in = {0};
	unsigned long long max[RLIM_NLIMITS];
	const char *env[] = {"ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/smoke"};
	json_error_t je;
	struct err *e = NULL;
	json_t *def, *spec, *warnings = NULL;

	if (argc < 4) {
		fprintf(stderr,
			"usage: %s DEF.json ROOTFS CGROUPS_PATH [--netns|--init|--hosts|--resolv P]...\n",
			argv[0]);
		return 2;
	}
	def = json_load_file(argv[1], 0, &je);
	if (!def) {
		fprintf(stderr, "%s: %s\n", argv[1], je.text);
		return 1;
	}
	ocispec_rlimit_max(max);
	in.def = def;
	in.rootfs = argv[2];
	in.cgroups_path = argv[3];
	in.rlimit_max = max;
	in.cap_bounding = ocispec_cap_bounding();
	in.pids_limit = 512;
	in.env = env;
	in.nenv = 1;
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--netns") == 0)
			in.netns = argv[i + 1];
		else if (strcmp(argv[i], "--init") == 0)
			in.init_path = argv[i + 1];
		else if (strcmp(argv[i], "--hosts") == 0)
			in.hosts = argv[i + 1];
		else if (strcmp(argv[i], "--resolv") == 0)
			in.resolv_conf = argv[i + 1];
	}
	spec = ocispec_build(&in, &warnings, &e);
	if (!spec) {
		fprintf(stderr, "error: %s\n", e->msg);
		err_free(e);
		json_decref(def);
		return 1;
	}
	json_dumpf(spec, stdout, JSON_INDENT(2));
	putchar('\n');
	for (size_t i = 0; i < json_array_size(warnings); i++)
		fprintf(stderr, "warning: %s\n", json_string_value(json_array_get(warnings, i)));
	json_decref(warnings);
	json_decref(spec);
	json_decref(def);
	return 0;
}
