/* rootfs: overlay mounts of unpacked layers (root only: mounting needs CAP_SYS_ADMIN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/rootfs.h"
#include "agent/unpack.h"
#include "common/xalloc.h"

static char base[] = "/tmp/gantry-rootfs.XXXXXX";

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *path)
{
	static char text[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	assert_non_null(mkdtemp(base));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	struct err *e = NULL;
	if (geteuid() == 0 && unpack_remove_tree(base, &e) < 0) {
		fprintf(stderr, "# cleanup: %s\n", e->msg);
		err_free(e);
	}
	return 0;
}

/* Two layers: the upper one changes a file, deletes one (whiteout) and adds one; the container's
 * writes land in its upper directory and leave the layers as they were. */
static void test_overlay_stack(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char *l1 = xasprintf("%s/l1", base), *l2 = xasprintf("%s/l2", base);
	char *up = xasprintf("%s/c/upper", base), *work = xasprintf("%s/c/work", base);
	char *root = xasprintf("%s/c/root", base), *c = xasprintf("%s/c", base);
	assert_int_equal(mkdir(l1, 0755), 0);
	assert_int_equal(mkdir(l2, 0755), 0);
	assert_int_equal(mkdir(c, 0755), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	char *p;
	put(p = xasprintf("%s/a", l1), "a1\n"), free(p);
	put(p = xasprintf("%s/gone", l1), "x\n"), free(p);
	put(p = xasprintf("%s/a", l2), "a2\n"), free(p);
	put(p = xasprintf("%s/b", l2), "b2\n"), free(p);
	assert_int_equal(mknod(p = xasprintf("%s/gone", l2), S_IFCHR | 0, makedev(0, 0)), 0), free(p);
	const char *layers[] = {l1, l2};
	struct err *e = NULL;
	assert_int_equal(rootfs_mount(layers, 2, up, work, root, &e), 0);
	assert_string_equal(get(p = xasprintf("%s/a", root)), "a2\n"), free(p);
	assert_string_equal(get(p = xasprintf("%s/b", root)), "b2\n"), free(p);
	assert_null(get(p = xasprintf("%s/gone", root))), free(p);
	put(p = xasprintf("%s/new", root), "written\n"), free(p);
	assert_string_equal(get(p = xasprintf("%s/new", up)), "written\n"), free(p);
	assert_null(get(p = xasprintf("%s/new", l2))), free(p);
	assert_int_equal(rootfs_umount(root, &e), 0);
	assert_null(get(p = xasprintf("%s/a", root))), free(p);
	assert_int_equal(rootfs_umount(root, &e), 0); /* not mounted: fine */
	free(l1), free(l2), free(up), free(work), free(root), free(c);
}

/* More layers than fit in one page of mount options by their full paths, and an image without
 * layers. */
static void test_many_layers_and_none(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	enum { N = 120 };
	char *names[N];
	const char *layers[N];
	char *dir = xasprintf("%s/layers-with-a-rather-long-directory-name-to-overflow-the-page", base);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("%s/sha256-%060d", dir, i);
		layers[i] = names[i];
		assert_int_equal(mkdir(names[i], 0755), 0);
		char *f = xasprintf("%s/top", names[i]);
		char text[16];
		snprintf(text, sizeof(text), "%d\n", i);
		put(f, text);
		free(f);
	}
	char *c = xasprintf("%s/many", base), *up = xasprintf("%s/many/upper", base),
	     *work = xasprintf("%s/many/work", base), *root = xasprintf("%s/many/root", base);
	assert_int_equal(mkdir(c, 0755), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	struct err *e = NULL;
	assert_true(N * strlen(names[0]) > 4096);
	assert_int_equal(rootfs_mount(layers, N, up, work, root, &e), 0);
	char *p;
	assert_string_equal(get(p = xasprintf("%s/top", root)), "119\n"), free(p); /* the last is on top */
	assert_int_equal(rootfs_umount(root, &e), 0);

	/* Older kernels: one option string; too long by full paths, the relative names still fit
	 * for 50 layers (under the common parent), and 120 such names do not. */
	rootfs_set_legacy_mount(true);
	assert_true(50 * strlen(names[0]) > 4096);
	assert_int_equal(rootfs_mount(layers + N - 50, 50, up, work, root, &e), 0);
	assert_string_equal(get(p = xasprintf("%s/top", root)), "119\n"), free(p);
	assert_int_equal(rootfs_umount(root, &e), 0);
	assert_int_equal(rootfs_mount(layers, N, up, work, root, &e), -1);
	assert_int_equal(e->kind, ERR_TOO_LARGE);
	err_free(e);
	e = NULL;
	rootfs_set_legacy_mount(false);

	char *root0 = xasprintf("%s/many/root0", base), *up0 = xasprintf("%s/many/upper0", base),
	     *work0 = xasprintf("%s/many/work0", base);
	assert_int_equal(mkdir(root0, 0755), 0);
	assert_int_equal(rootfs_mount(NULL, 0, up0, work0, root0, &e), 0);
	put(p = xasprintf("%s/f", root0), "x\n"), free(p);
	assert_int_equal(rootfs_umount(root0, &e), 0);

	const char *bad[] = {"relative/layer"};
	assert_int_equal(rootfs_mount(bad, 1, up0, work0, root0, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	e = NULL;
	for (int i = 0; i < N; i++)
		free(names[i]);
	free(dir), free(c), free(up), free(work), free(root), free(root0), free(up0), free(work0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlay_stack),
		cmocka_unit_test(test_many_layers_and_none),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
