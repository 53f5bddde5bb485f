/* libFuzzer target for layer unpacking: the input is a layer file (tar, or compressed tar; ustar
 * header checksums are fixed up first so that mutations get past them), unpacked with
 * unpack_layer into a fresh directory and removed again with unpack_remove_tree. It runs as root,
 * so it works inside its own temporary directory (its working directory while an input runs, with
 * every path relative) beside a canary directory `outside` that seeds point symlinks at
 * ("../outside"). Besides crashes, leaks and undefined behaviour it checks: a refusal is one error
 * of an expected kind with a message and no diff_id; a success has a diff_id equal to what
 * unpack_diff_id computes alone; nothing is ever written to `outside` or next to the destination;
 * the tree is always removable. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/unpack.h"
#include "common/err.h"
#include "common/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                             \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "fuzz_unpack: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                \
		}                                                                               \
	} while (0)

/* Small bounds, so that an input cannot make one run slow. */
static const struct unpack_limits limits = {
	.max_entries = 2000,
	.max_path = 4096,
	.max_bytes = 16 << 20,
};

/* How many names in the directory dir are neither . nor .. nor in the NULL-terminated list allowed
 * (which may be NULL); each is reported. */
static size_t entries_besides(const char *dir, const char *const *allowed)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	CHECK(d != NULL);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		bool ok = false;
		for (size_t i = 0; allowed && allowed[i]; i++)
			ok = ok || !strcmp(de->d_name, allowed[i]);
		if (!ok) {
			fprintf(stderr, "fuzz_unpack: unexpected %s/%s\n", dir, de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

static char scratch[] = "/tmp/gantry-fuzz-unpack.XXXXXX";
static int scratch_fd = -1, home_fd = -1;

static void remove_scratch_dir(void)
{
	unpack_remove_tree(scratch, NULL);
}

/* Makes the scratch directory, and points libFuzzer's crash files at the directory it was started
 * in (they would land in the scratch directory otherwise, since a crash happens in there). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cwd[4096];
	bool has_prefix = false;

	log_set_level(LOG_ERROR);
	CHECK(mkdtemp(scratch) != NULL);
	atexit(remove_scratch_dir);
	scratch_fd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(scratch_fd >= 0 && home_fd >= 0);
	CHECK(mkdirat(scratch_fd, "outside", 0755) == 0);
	for (int i = 1; i < *argc; i++)
		has_prefix = has_prefix || !strncmp((*argv)[i], "-artifact_prefix=", 17);
	if (!has_prefix && getcwd(cwd, sizeof(cwd))) {
		char **v = calloc((size_t)*argc + 2, sizeof(*v));
		CHECK(v != NULL);
		memcpy(v, *argv, (size_t)*argc * sizeof(*v));
		size_t n = strlen(cwd) + 20;
		v[*argc] = malloc(n);
		CHECK(v[*argc] != NULL);
		snprintf(v[*argc], n, "-artifact_prefix=%s/", cwd);
		(*argc)++;
		*argv = v; /* kept for the life of the process */
	}
	return 0;
}

/* Gives every 512-byte block that looks like a ustar header (the magic at 257) a correct
 * checksum, so that mutations of a plain tar reach the entries instead of stopping at libarchive's
 * "Damaged tar archive". */
static void fix_checksums(uint8_t *p, size_t n)
{
	for (size_t off = 0; off + 512 <= n; off += 512) {
		uint8_t *h = p + off;
		unsigned sum = 0;
		if (memcmp(h + 257, "ustar", 5) != 0)
			continue;
		memset(h + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += h[i];
		char field[8];
		snprintf(field, sizeof(field), "%06o", sum & 0777777);
		memcpy(h + 148, field, 7); /* six digits, NUL; the space stays */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const cwd_names[] = {"outside", "layer", "root", NULL};
	char id[UNPACK_DIGEST_SIZE], again[UNPACK_DIGEST_SIZE];
	struct err *e = NULL;
	FILE *f;

	/* Everything below happens in the scratch directory, with relative paths: a bug cannot name a
	 * path outside by accident. Back home afterwards, where libFuzzer keeps its corpus. */
	CHECK(fchdir(scratch_fd) == 0);
	uint8_t *copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	fix_checksums(copy, size);
	f = fopen("layer", "wb");
	CHECK(f != NULL);
	CHECK(fwrite(copy, 1, size, f) == size);
	free(copy);
	CHECK(fclose(f) == 0);
	CHECK(mkdir("root", 0755) == 0);

	int rc = unpack_layer("layer", "root", &limits, id, &e);
	if (rc == 0) {
		CHECK(e == NULL);
		CHECK(strlen(id) == 71 && !strncmp(id, "sha256:", 7));
		CHECK(unpack_diff_id("layer", &limits, again, &e) == 0);
		CHECK(!strcmp(id, again));
	} else {
		CHECK(rc == -1 && e != NULL);
		CHECK(e->kind == ERR_INVALID_PARAM || e->kind == ERR_TOO_LARGE ||
		      e->kind == ERR_UNSUPPORTED || e->kind == ERR_SYS);
		CHECK(e->msg && e->msg[0]);
		CHECK(id[0] == '\0');
	}
	err_free(e);
	e = NULL;

	CHECK(entries_besides("outside", NULL) == 0);
	CHECK(entries_besides(".", cwd_names) == 0);
	if (unpack_remove_tree("root", &e) != 0) {
		fprintf(stderr, "fuzz_unpack: remove: %s\n", e->msg);
		abort();
	}
	struct stat st;
	CHECK(lstat("root", &st) != 0);
	CHECK(unlink("layer") == 0);
	CHECK(fchdir(home_fd) == 0);
	return 0;
}
