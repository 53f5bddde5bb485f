/* logspool: a container's log is kept (moved into the spool) only when part of it is not shipped,
 * and the target file says where it goes. (Shipping from the spool is tested end to end in t96.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent/logspool.h"
#include "common/fsx.h"
#include "common/xalloc.h"

struct dirs {
	char root[64];
	char *cdir, *spool;
};

static int setup(void **state)
{
	struct dirs *d = xcalloc(1, sizeof(*d));
	snprintf(d->root, sizeof(d->root), "/tmp/gantry-logspool.XXXXXX");
	if (!mkdtemp(d->root))
		return -1;
	d->cdir = xasprintf("%s/task/0", d->root);
	d->spool = xasprintf("%s/spool", d->root);
	char *task = xasprintf("%s/task", d->root);
	mkdir(task, 0700);
	mkdir(d->cdir, 0700);
	mkdir(d->spool, 0700);
	free(task);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	char *cmd[] = {"rm", "-rf", d->root, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	free(d->cdir), free(d->spool), free(d);
	return 0;
}

static void put(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	assert_int_equal(fsx_write_file(p, text, strlen(text), 0600, false, NULL), 0);
	free(p);
}

static bool exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	bool r = access(p, F_OK) == 0;
	free(p);
	return r;
}

static void test_target(void **state)
{
	struct dirs *d = *state;
	struct logship_target t = {.group = "/ecs/app",
				   .stream = "p/web/abc",
				   .create_group = true,
				   .non_blocking = true,
				   .max_buffer = 4096};
	assert_int_equal(logspool_write_target(d->cdir, &t, NULL), 0);
	char *p = xasprintf("%s/" LOGSPOOL_TARGET, d->cdir);
	json_t *j = json_load_file(p, 0, NULL);
	free(p);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "group")), "/ecs/app");
	assert_string_equal(json_string_value(json_object_get(j, "stream")), "p/web/abc");
	assert_true(json_is_true(json_object_get(j, "createGroup")));
	assert_true(json_is_true(json_object_get(j, "nonBlocking")));
	assert_int_equal(json_integer_value(json_object_get(j, "maxBuffer")), 4096);
	json_decref(j);
}

static void test_keep(void **state)
{
	struct dirs *d = *state;
	const char *log = "2024-05-01T12:00:00.000000000+00:00 stdout F hello\n";
	char *to = xasprintf("%s/t-0", d->spool);
	/* no target: not an awslogs log */
	put(d->cdir, LOGSPOOL_LOG, log);
	assert_false(logspool_keep(d->spool, d->cdir, "t-0"));
	/* all shipped */
	struct logship_target t = {.group = "g", .stream = "s"};
	assert_int_equal(logspool_write_target(d->cdir, &t, NULL), 0);
	char off[32];
	snprintf(off, sizeof(off), "%zu\n", strlen(log));
	put(d->cdir, LOGSPOOL_OFFSET, off);
	assert_false(logspool_keep(d->spool, d->cdir, "t-0"));
	assert_false(exists(to, LOGSPOOL_LOG));
	/* a part not shipped (the offset file may also hold a long line's rest) */
	put(d->cdir, LOGSPOOL_OFFSET, "10\ncarry 0 1714564800000 1 3\nabc\n");
	assert_true(logspool_keep(d->spool, d->cdir, "t-0"));
	assert_true(exists(to, LOGSPOOL_LOG) && exists(to, LOGSPOOL_OFFSET) && exists(to, LOGSPOOL_TARGET));
	assert_false(exists(d->cdir, LOGSPOOL_LOG));
	/* everything up to the end shipped but a line's rest (kept in the offset file) */
	put(d->cdir, LOGSPOOL_LOG, log);
	assert_int_equal(logspool_write_target(d->cdir, &t, NULL), 0);
	snprintf(off, sizeof(off), "%zu\ncarry 1 5 1 2\nab\n", strlen(log));
	put(d->cdir, LOGSPOOL_OFFSET, off);
	assert_true(logspool_keep(d->spool, d->cdir, "t-2"));
	/* nothing shipped at all: no offset file */
	put(d->cdir, LOGSPOOL_LOG, log);
	assert_int_equal(logspool_write_target(d->cdir, &t, NULL), 0);
	assert_true(logspool_keep(d->spool, d->cdir, "t-1"));
	free(to);
}

/* An entry an agent was putting together when it stopped is finished when whole, else removed. */
static void test_partial(void **state)
{
	struct dirs *d = *state;
	char *whole = xasprintf("%s/.w-0.tmp", d->spool), *part = xasprintf("%s/.p-0.tmp", d->spool);
	char *done = xasprintf("%s/w-0", d->spool), *gone = xasprintf("%s/p-0", d->spool);
	mkdir(whole, 0700);
	mkdir(part, 0700);
	put(whole, LOGSPOOL_LOG, "x\n");
	put(whole, LOGSPOOL_TARGET, "{}");
	put(part, LOGSPOOL_LOG, "x\n");
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct logspool *ls = logspool_new(&loop, NULL, d->spool, NULL);
	assert_non_null(ls);
	assert_true(exists(done, LOGSPOOL_LOG) && exists(done, LOGSPOOL_TARGET));
	assert_true(access(whole, F_OK) != 0 && access(part, F_OK) != 0 && access(gone, F_OK) != 0);
	logspool_free(ls);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(whole), free(part), free(done), free(gone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
