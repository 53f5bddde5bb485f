/* crun: cgroup mode detection and the hybrid-host plan over a fake mountinfo and sysfs, cgroup
 * pruning, conmon's and crun's argv, the exit-file, sync-pipe, oom counter and crun list parsers,
 * the exit-directory watch; and, as root with crun, conmon and a static busybox, real containers:
 * exit codes, k8s-file logs, SIGTERM and SIGKILL, OOM, exec, a spec crun refuses, re-adoption by a
 * new handle, and that nothing is left behind (processes, crun state, cgroups, mounts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "agent/crun.h"
#include "agent/ocispec.h"
#include "common/err.h"
#include "common/xalloc.h"

#define BUSYBOX	     "/bin/busybox"
#define TINI_STATIC  "/usr/bin/tini-static"
#define EXIT_WAIT_MS 20000 /* a container's exit, as seen through the watch */
#define MAX_CONMONS  32

/* ---- shared helpers ---- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = xmalloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void mkdirs(const char *base, const char *rel)
{
	char *p = xasprintf("%s/%s", base, rel);
	for (char *s = p + strlen(base) + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
				fail_msg("mkdir %s: %s", p, strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void assert_contains(const char *s, const char *part)
{
	if (!s || !strstr(s, part))
		fail_msg("'%s' does not contain '%s'", s ? s : "(null)", part);
}

static size_t strv_len(char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

/* Asserts that argv has `a` immediately followed by `b`. */
static void assert_pair(char **argv, const char *a, const char *b)
{
	for (size_t i = 0; argv[i]; i++) {
		if (strcmp(argv[i], a) == 0 && argv[i + 1] && strcmp(argv[i + 1], b) == 0)
			return;
	}
	fail_msg("argv lacks '%s' '%s'", a, b);
}

static bool has_arg(char **argv, const char *a)
{
	for (size_t i = 0; argv[i]; i++) {
		if (strcmp(argv[i], a) == 0)
			return true;
	}
	return false;
}

/* Prints a multi-line text as TAP comments. */
static void note_block(const char *title, const char *text)
{
	fprintf(stderr, "# %s:\n", title);
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		int len = nl ? (int)(nl - l) : (int)strlen(l);
		fprintf(stderr, "#   %.*s\n", len, l);
		l = nl ? nl + 1 : NULL;
	}
}

/* ---- cgroups over a fake mountinfo and sysfs ---- */

static char fake[] = "/tmp/test_crun_cg.XXXXXX";

static int cg_setup(void **state)
{
	(void)state;
	return mkdtemp(fake) ? 0 : -1;
}

static int cg_teardown(void **state)
{
	(void)state;
	rm_rf(fake);
	return 0;
}

/* A hybrid host as this one is: a tmpfs root, v1 hierarchies, cgroup2 at unified, and a v1
 * hierarchy mounted elsewhere (outside the root: ignored). */
static char *hybrid_mountinfo(void)
{
	return xasprintf("23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
			 "31 23 0:28 / %s rw,relatime - tmpfs tmpfs rw,mode=755\n"
			 "32 31 0:29 / %s/cpu rw,relatime - cgroup cgroup rw,cpu\n"
			 "35 31 0:32 / %s/memory rw,relatime shared:7 master:2 - cgroup cgroup rw,memory\n"
			 "40 31 0:37 / %s/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
			 "41 31 0:38 / %s/unified rw,relatime - cgroup2 cgroup2 rw\n"
			 "44 27 0:39 / /tmp/pm/hugetlb rw,relatime - cgroup cgroup rw,hugetlb\n",
			 fake, fake, fake, fake, fake);
}

static void test_cgroups_hybrid(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	struct err *e = NULL;
	char *mi = hybrid_mountinfo();
	assert_int_equal(crunrt_cgroups_parse(mi, fake, &cg, &e), 0);
	assert_int_equal(cg.mode, CRUNRT_CGROUP_HYBRID);
	assert_false(crunrt_cgroups_v2(&cg));
	char *unified = xasprintf("%s/unified", fake);
	char *memory = xasprintf("%s/memory", fake);
	assert_string_equal(cg.unified, unified);
	assert_string_equal(cg.memory, memory);
	assert_int_equal(cg.nh, 4);
	assert_string_equal(cg.h[2].opts, "rw,name=systemd");
	assert_true(cg.h[3].v2);

	/* The decision: every controller the v2 mount lists is to move; none when it lists none. */
	mkdirs(fake, "unified");
	char *ctl = xasprintf("%s/cgroup.controllers", unified);
	char **plan = NULL;
	write_file(ctl, "hugetlb misc\n");
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), 2);
	assert_string_equal(plan[0], "hugetlb");
	assert_string_equal(plan[1], "misc");
	assert_null(plan[2]);
	crunrt_strv_free(plan);
	write_file(ctl, "\n");
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), 0);
	assert_null(plan[0]);
	crunrt_strv_free(plan);
	write_file(ctl, "");
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), 0);
	crunrt_strv_free(plan);
	write_file(ctl, "cpu ../../etc\n");
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), -1);
	assert_contains(e->msg, "is not a cgroup controller");
	err_free(e);
	e = NULL;
	unlink(ctl);
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), -1);
	assert_int_equal(e->sys_errno, ENOENT);
	err_free(e);
	e = NULL;

	free(ctl);
	free(unified);
	free(memory);
	free(mi);
	crunrt_cgroups_release(&cg);
	crunrt_cgroups_release(NULL);
}

/* The preparation itself over the fake: nothing to do when v2 lists nothing; a clear error, and
 * nothing mounted, when the controller's mount point is taken or the mount fails. */
static void test_host_prepare_fake(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	struct err *e = NULL;
	char *mi = hybrid_mountinfo();
	char *mip = xasprintf("%s/mountinfo", fake);
	write_file(mip, mi);
	mkdirs(fake, "unified");
	char *ctl = xasprintf("%s/unified/cgroup.controllers", fake);
	write_file(ctl, "");
	assert_int_equal(crunrt_host_prepare_at(mip, fake, &cg, &e), 0);
	assert_int_equal(cg.mode, CRUNRT_CGROUP_HYBRID);
	crunrt_cgroups_release(&cg);
	assert_int_equal(crunrt_host_prepare_at(mip, fake, NULL, &e), 0); /* again */

	/* the controller's place is a file: mount(2) refuses (ENOTDIR as root, EPERM otherwise) */
	write_file(ctl, "hugetlb\n");
	char *target = xasprintf("%s/hugetlb", fake);
	write_file(target, "not a directory");
	assert_int_equal(crunrt_host_prepare_at(mip, fake, &cg, &e), -1);
	assert_contains(e->msg, "mount the hugetlb cgroup controller as a v1 hierarchy at");
	assert_true(e->sys_errno == ENOTDIR || e->sys_errno == EPERM);
	err_free(e);
	e = NULL;
	assert_true(exists(target));
	unlink(target);
	char *own = read_text("/proc/self/mountinfo");
	assert_null(strstr(own, fake));
	free(own);

	/* the controller's place is already a cgroup mount */
	char *mi2 = xasprintf("%s45 31 0:40 / %s/hugetlb rw - cgroup cgroup rw,pids\n", mi, fake);
	write_file(mip, mi2);
	assert_int_equal(crunrt_host_prepare_at(mip, fake, &cg, &e), -1);
	assert_contains(e->msg, "already a cgroup mount");
	err_free(e);
	unlink(ctl);
	unlink(mip);
	free(mi2);
	free(target);
	free(ctl);
	free(mip);
	free(mi);
}

static void test_cgroups_v2_and_v1(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	struct err *e = NULL;
	char **plan = NULL;

	/* unified: cgroup2 at the root, nothing to move even though it lists controllers */
	char *mi = xasprintf("31 23 0:28 / %s rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", fake);
	assert_int_equal(crunrt_cgroups_parse(mi, fake, &cg, &e), 0);
	assert_int_equal(cg.mode, CRUNRT_CGROUP_V2);
	assert_true(crunrt_cgroups_v2(&cg));
	assert_string_equal(cg.unified, fake);
	assert_null(cg.memory);
	char *ctl = xasprintf("%s/cgroup.controllers", fake);
	write_file(ctl, "cpuset cpu io memory pids\n");
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), 0);
	assert_null(plan[0]);
	crunrt_strv_free(plan);
	unlink(ctl);
	free(ctl);
	crunrt_cgroups_release(&cg);
	free(mi);

	/* legacy: v1 only (a root given with a trailing slash), memory co-mounted */
	mi = xasprintf("31 23 0:28 / %s rw - tmpfs tmpfs rw\n"
		       "32 31 0:29 / %s/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
		       "35 31 0:32 / %s/memory rw - cgroup cgroup rw,memory,hugetlb\n",
		       fake, fake, fake);
	char *root = xasprintf("%s/", fake);
	assert_int_equal(crunrt_cgroups_parse(mi, root, &cg, &e), 0);
	assert_int_equal(cg.mode, CRUNRT_CGROUP_V1);
	assert_null(cg.unified);
	assert_non_null(cg.memory);
	assert_string_equal(cg.root, fake);
	assert_int_equal(crunrt_hybrid_plan(&cg, &plan, &e), 0);
	crunrt_strv_free(plan);
	crunrt_cgroups_release(&cg);
	free(root);
	free(mi);

	/* a mount point with an escaped blank; and a tmpfs mounted over the root later hides all */
	mi = xasprintf("31 23 0:28 / %s rw - tmpfs tmpfs rw\n"
		       "32 31 0:29 / %s/with\\040blank rw - cgroup cgroup rw,pids\n",
		       fake, fake);
	assert_int_equal(crunrt_cgroups_parse(mi, fake, &cg, &e), 0);
	char *blank = xasprintf("%s/with blank", fake);
	assert_string_equal(cg.h[0].path, blank);
	free(blank);
	crunrt_cgroups_release(&cg);
	char *mi2 = xasprintf("%s99 31 0:50 / %s rw - tmpfs tmpfs rw\n", mi, fake);
	assert_int_equal(crunrt_cgroups_parse(mi2, fake, &cg, &e), -1);
	assert_contains(e->msg, "no cgroup hierarchy");
	err_free(e);
	e = NULL;
	free(mi2);
	free(mi);

	/* garbage lines are skipped */
	assert_int_equal(crunrt_cgroups_parse("nonsense\n\n1 2 3\n", fake, &cg, &e), -1);
	err_free(e);
}

static void test_cgroup_prune(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	struct err *e = NULL;
	char *mi = hybrid_mountinfo();
	assert_int_equal(crunrt_cgroups_parse(mi, fake, &cg, &e), 0);
	mkdirs(fake, "cpu/gt/a/b");
	mkdirs(fake, "memory/gt/a");
	mkdirs(fake, "unified/gt");
	mkdirs(fake, "cpu/other");
	assert_int_equal(crunrt_cgroup_prune(&cg, "/gt", &e), 0);
	char *p = xasprintf("%s/cpu/gt", fake);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/unified/gt", fake);
	assert_false(exists(p));
	free(p);
	p = xasprintf("%s/cpu/other", fake);
	assert_true(exists(p));
	free(p);
	/* again: nothing there is fine */
	assert_int_equal(crunrt_cgroup_prune(&cg, "/gt", &e), 0);
	const char *bad[] = {"gt", "/", "/gt/../..", "//x", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(crunrt_cgroup_prune(&cg, bad[i], &e), -1);
		assert_int_equal(e->kind, ERR_INVALID_PARAM);
		err_free(e);
		e = NULL;
	}
	free(mi);
	crunrt_cgroups_release(&cg);
}

/* ---- argv and parsers ---- */

static void test_argv(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	struct err *e = NULL;
	char *mi = hybrid_mountinfo();
	assert_int_equal(crunrt_cgroups_parse(mi, fake, &cg, &e), 0);
	char *st = xasprintf("%s/state", fake);
	struct crunrt_opts o = {
		.state_dir = st, .crun_path = "/bin/true", .conmon_path = "/bin/true", .cgroups = &cg};
	struct crunrt *rt = crunrt_new(&o, &e);
	assert_non_null(rt);
	crunrt_cgroups_release(&cg); /* copied */
	assert_int_equal(crunrt_cgroups(rt)->mode, CRUNRT_CGROUP_HYBRID);
	char *exits = xasprintf("%s/exits", st), *root = xasprintf("%s/crun", st);
	assert_string_equal(crunrt_exit_dir(rt), exits);
	assert_true(exists(exits));
	assert_true(exists(root));

	struct crunrt_create c = {.id = "task1-app", .bundle = "/b/task1-app", .log_path = "/logs/app.log"};
	char **a = crunrt_conmon_argv(rt, &c);
	assert_string_equal(a[0], "/bin/true");
	assert_pair(a, "--api-version", "1");
	assert_pair(a, "-c", "task1-app");
	assert_pair(a, "-u", "task1-app");
	assert_pair(a, "-n", "task1-app");
	assert_pair(a, "-r", "/bin/true");
	assert_pair(a, "-b", "/b/task1-app");
	assert_pair(a, "-p", "/b/task1-app/pidfile");
	assert_pair(a, "-P", "/b/task1-app/conmon.pid");
	assert_pair(a, "--persist-dir", "/b/task1-app");
	assert_pair(a, "--exit-dir", exits);
	assert_pair(a, "-l", "k8s-file:/logs/app.log");
	assert_pair(a, "--log-size-max", "67108864");
	assert_pair(a, "--runtime-arg", "--root");
	assert_pair(a, "--runtime-arg", root);
	assert_true(has_arg(a, "--full-attach"));
	assert_false(has_arg(a, "--sync"));
	assert_false(has_arg(a, "--syslog"));
	crunrt_strv_free(a);
	c.log_path = NULL;
	c.name = "app";
	a = crunrt_conmon_argv(rt, &c);
	assert_pair(a, "-l", "k8s-file:/b/task1-app/ctr.log");
	assert_pair(a, "-n", "app");
	crunrt_strv_free(a);

	const char *args[] = {"kill", "task1-app", "15", NULL};
	a = crunrt_crun_argv(rt, args);
	assert_int_equal(strv_len(a), 6);
	assert_string_equal(a[0], "/bin/true");
	assert_pair(a, "--root", root);
	assert_string_equal(a[3], "kill");
	assert_string_equal(a[5], "15");
	crunrt_strv_free(a);
	crunrt_strv_free(NULL);

	/* a missing runtime binary is named */
	o.crun_path = "/nonexistent/crun";
	assert_null(crunrt_new(&o, &e));
	assert_contains(e->msg, "/nonexistent/crun");
	err_free(e);
	e = NULL;
	o.state_dir = "relative";
	assert_null(crunrt_new(&o, &e));
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);

	crunrt_free(rt);
	crunrt_free(NULL);
	free(exits);
	free(root);
	free(st);
	free(mi);
}

/* conmon failing before it forks, or exiting without a word: clear errors, nothing left. */
static void test_create_conmon_fails(void **state)
{
	(void)state;
	struct crunrt_cgroups cg;
	struct err *e = NULL;
	char *mi = hybrid_mountinfo();
	assert_int_equal(crunrt_cgroups_parse(mi, fake, &cg, &e), 0);
	char *st = xasprintf("%s/state-fail", fake);
	struct crunrt_opts o = {
		.state_dir = st, .crun_path = "/bin/true", .conmon_path = "/bin/false", .cgroups = &cg};
	struct crunrt *rt = crunrt_new(&o, &e);
	assert_non_null(rt);
	mkdirs(fake, "bundle-fail");
	char *bundle = xasprintf("%s/bundle-fail", fake), *cfg = xasprintf("%s/config.json", bundle);
	struct crunrt_create c = {.id = "fail-1", .bundle = bundle};
	struct crunrt_started started;
	/* no config.json */
	assert_int_equal(crunrt_create(rt, &c, &started, &e), -1);
	assert_int_equal(e->sys_errno, ENOENT);
	err_free(e);
	e = NULL;
	write_file(cfg, "{}");
	assert_int_equal(crunrt_create(rt, &c, &started, &e), -1);
	assert_int_equal(e->kind, ERR_SYS);
	assert_contains(e->msg, "create container fail-1: conmon failed");
	err_free(e);
	e = NULL;
	crunrt_free(rt);
	o.conmon_path = "/bin/true";
	rt = crunrt_new(&o, &e);
	assert_int_equal(crunrt_create(rt, &c, &started, &e), -1);
	assert_contains(e->msg, "conmon wrote no pid");
	err_free(e);
	e = NULL;
	c.log_path = "relative.log";
	assert_int_equal(crunrt_create(rt, &c, &started, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	crunrt_free(rt);
	crunrt_cgroups_release(&cg);
	free(cfg);
	free(bundle);
	free(st);
	free(mi);
}

static void test_ids(void **state)
{
	(void)state;
	assert_true(crunrt_id_valid("a"));
	assert_true(crunrt_id_valid("0123abc-def_9"));
	assert_false(crunrt_id_valid(""));
	assert_false(crunrt_id_valid(NULL));
	assert_false(crunrt_id_valid("-a"));
	assert_false(crunrt_id_valid("a.b"));
	assert_false(crunrt_id_valid("a/b"));
	assert_false(crunrt_id_valid("a b"));
	char id[CRUNRT_ID_MAX + 2];
	memset(id, 'x', sizeof id);
	id[CRUNRT_ID_MAX] = '\0';
	assert_true(crunrt_id_valid(id));
	id[CRUNRT_ID_MAX] = 'x';
	id[CRUNRT_ID_MAX + 1] = '\0';
	assert_false(crunrt_id_valid(id));
}

static void test_parse_exit(void **state)
{
	(void)state;
	int code = 99;
	assert_int_equal(crunrt_parse_exit("3", 1, &code), 0);
	assert_int_equal(code, 3);
	assert_int_equal(crunrt_parse_exit("137\n", 4, &code), 0);
	assert_int_equal(code, 137);
	assert_int_equal(crunrt_parse_exit("-1", 2, &code), 0);
	assert_int_equal(code, -1);
	assert_int_equal(crunrt_parse_exit("0", 1, &code), 0);
	assert_int_equal(code, 0);
	const char *bad[] = {"", " ", "abc", "3x", "256", "-2", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(crunrt_parse_exit(bad[i], strlen(bad[i]), &code), -1);
}

static void test_parse_sync(void **state)
{
	(void)state;
	int data = 0;
	char *msg = (char *)1;
	struct err *e = NULL;
	const char *ok = "{\"data\": 4242}\n";
	assert_int_equal(crunrt_parse_sync(ok, strlen(ok), &data, &msg, &e), 0);
	assert_int_equal(data, 4242);
	assert_null(msg);
	const char *fail =
		"{\"data\": -1, \"message\": \"executable file `/x` not found in $PATH: No such file or "
		"directory\\n\"}\n";
	assert_int_equal(crunrt_parse_sync(fail, strlen(fail), &data, &msg, &e), 0);
	assert_int_equal(data, -1);
	assert_string_equal(msg, "executable file `/x` not found in $PATH: No such file or directory");
	free(msg);
	const char *bad[] = {"garbage", "{\"pid\": 3}", "{\"data\": \"3\"}", "{\"data\": 1, \"message\": 2}",
			     "{\"data\": 99999999999}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(crunrt_parse_sync(bad[i], strlen(bad[i]), &data, &msg, &e), -1);
		assert_non_null(e);
		err_free(e);
		e = NULL;
	}
}

static void test_parse_oom(void **state)
{
	(void)state;
	unsigned long long n = 99;
	assert_int_equal(crunrt_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
		crunrt_parse_oom_kill("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(crunrt_parse_oom_kill("oom_group_kill 4\noom_kill 0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(crunrt_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n", &n), -1);
	assert_int_equal(crunrt_parse_oom_kill("oom_kill x\n", &n), -1);
	assert_int_equal(crunrt_parse_oom_kill("", &n), -1);
}

static void test_parse_list(void **state)
{
	(void)state;
	struct crunrt_info *v = NULL;
	size_t n = 0;
	struct err *e = NULL;
	const char *text = "[\n"
			   " {\"id\": \"a\", \"pid\": 25521, \"status\": \"running\", \"bundle\": \"/b/a\",\n"
			   "  \"created\": \"2026-11-30T19:38:54.823399Z\", \"owner\": \"root\"},\n"
			   " {\"id\": \"b\", \"pid\": 0, \"status\": \"stopped\", \"bundle\": \"/b/b\"},\n"
			   " {\"id\": \"c\", \"pid\": 7, \"status\": \"created\", \"bundle\": \"/b/c\"},\n"
			   " {\"id\": \"d\", \"pid\": 7, \"status\": \"paused\", \"bundle\": \"/b/d\"}\n"
			   "]\n";
	assert_int_equal(crunrt_parse_list(text, strlen(text), &v, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].id, "a");
	assert_string_equal(v[0].bundle, "/b/a");
	assert_int_equal(v[0].state, CRUNRT_RUNNING);
	assert_int_equal(v[0].pid, 25521);
	assert_int_equal(v[1].state, CRUNRT_STOPPED);
	assert_int_equal(v[1].pid, 0);
	assert_int_equal(v[2].state, CRUNRT_CREATED);
	assert_int_equal(v[3].state, CRUNRT_PAUSED);
	assert_false(v[0].exited);
	crunrt_infos_free(v, n);
	assert_int_equal(crunrt_parse_list("[\n\n]\n", 5, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	crunrt_infos_free(v, n);
	crunrt_infos_free(NULL, 0);
	const char *bad[] = {"nope", "{}", "[{\"id\": \"a\"}]",
			     "[{\"id\":\"a\",\"status\":\"running\",\"bundle\":1}]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(crunrt_parse_list(bad[i], strlen(bad[i]), &v, &n, &e), -1);
		assert_non_null(e);
		err_free(e);
		e = NULL;
	}
}

/* ---- the exit watch (no containers: conmon's way of writing an exit file, imitated) ---- */

struct seen {
	char ids[8][CRUNRT_ID_MAX + 1];
	int n;
	const char *want; /* stop the loop when this id arrives */
	uv_loop_t *loop;
	bool got;
};

static void seen_exit(void *arg, const char *id)
{
	struct seen *s = arg;
	if (s->n < 8)
		snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
	if (s->want && strcmp(id, s->want) == 0) {
		s->got = true;
		uv_stop(s->loop);
	}
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs loop until s->want arrives or ms pass. Returns whether it arrived. */
static bool run_until(uv_loop_t *loop, struct seen *s, unsigned ms)
{
	uv_timer_t t;
	uv_timer_init(loop, &t);
	uv_timer_start(&t, on_deadline, ms, 0);
	s->got = false;
	s->loop = loop;
	uv_run(loop, UV_RUN_DEFAULT);
	uv_timer_stop(&t);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return s->got;
}

static void test_watch(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct err *e = NULL;
	char *dir = xasprintf("%s/exits-watch", fake);
	mkdirs(fake, "exits-watch");
	struct seen s = {.want = "ctr-1"};
	struct crunrt_watch *w = crunrt_watch_exits(&loop, dir, seen_exit, &s, &e);
	assert_non_null(w);
	/* g_file_set_contents(): a temporary name, written, renamed into place */
	char *tmp = xasprintf("%s/ctr-1.AB12CD", dir), *fin = xasprintf("%s/ctr-1", dir);
	write_file(tmp, "143");
	assert_int_equal(rename(tmp, fin), 0);
	assert_true(run_until(&loop, &s, 5000));
	for (int i = 0; i < s.n; i++)
		assert_string_equal(s.ids[i], "ctr-1"); /* never the temporary name */
	/* removing it wakes nobody */
	s.n = 0;
	s.want = "never";
	unlink(fin);
	assert_false(run_until(&loop, &s, 200));
	assert_int_equal(s.n, 0);
	crunrt_watch_close(w);
	crunrt_watch_close(NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);

	uv_loop_init(&loop);
	assert_null(crunrt_watch_exits(&loop, "/nonexistent/exits", seen_exit, &s, &e));
	assert_non_null(e);
	err_free(e);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(tmp);
	free(fin);
	free(dir);
}

/* ---- real containers (root, crun, conmon, static busybox) ---- */

static struct it {
	bool ok; /* the environment allows them */
	const char *why;
	char dir[64]; /* the test's temporary directory */
	char *rootfs, *state, *cgparent;
	struct crunrt_cgroups cg;
	struct crunrt *rt;
	uv_loop_t loop;
	struct crunrt_watch *watch;
	struct seen seen;
	pid_t conmons[MAX_CONMONS];
	int nconmons;
	char ids[MAX_CONMONS][CRUNRT_ID_MAX + 1];
	int nids;
	char **moved; /* controllers host preparation mounted as v1 hierarchies: unmounted at the end */
} it;

static bool static_busybox(void)
{
	/* A static ELF has no PT_INTERP: the loader's path does not appear in it. */
	char *text = NULL;
	FILE *f = fopen(BUSYBOX, "rb");
	if (!f)
		return false;
	text = xmalloc(1 << 16);
	size_t n = fread(text, 1, 1 << 16, f);
	fclose(f);
	bool dyn = false;
	for (size_t i = 0; i + 8 < n && !dyn; i++)
		dyn = memcmp(text + i, "ld-linux", 8) == 0;
	free(text);
	return !dyn;
}

static void open_rt(void)
{
	struct err *e = NULL;
	struct crunrt_opts o = {.state_dir = it.state, .cgroups = &it.cg};
	it.rt = crunrt_new(&o, &e);
	if (!it.rt)
		fail_msg("crunrt_new: %s", e->msg);
	it.watch = crunrt_watch_exits(&it.loop, crunrt_exit_dir(it.rt), seen_exit, &it.seen, &e);
	if (!it.watch)
		fail_msg("watch: %s", e->msg);
}

static void close_rt(void)
{
	crunrt_watch_close(it.watch);
	it.watch = NULL;
	uv_run(&it.loop, UV_RUN_NOWAIT);
	crunrt_free(it.rt);
	it.rt = NULL;
}

static int it_setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		it.why = "needs root";
		return 0;
	}
	if (access(CRUNRT_CRUN_PATH, X_OK) != 0 || access(CRUNRT_CONMON_PATH, X_OK) != 0) {
		it.why = "needs crun and conmon";
		return 0;
	}
	if (!static_busybox()) {
		it.why = "needs a static " BUSYBOX " (busybox-static)";
		return 0;
	}
	if (access(TINI_STATIC, X_OK) != 0) {
		it.why = "needs " TINI_STATIC " (tini)";
		return 0;
	}
	snprintf(it.dir, sizeof it.dir, "/tmp/test_crun.XXXXXX");
	if (!mkdtemp(it.dir))
		return -1;
	struct err *e = NULL;
	/* What the preparation will move, so that the test can put it back: tests leave the host as
	 * they found it. */
	struct crunrt_cgroups before = {0};
	if (crunrt_cgroups_detect(&before, &e) < 0 || crunrt_hybrid_plan(&before, &it.moved, &e) < 0) {
		fprintf(stderr, "cgroups: %s\n", e->msg);
		err_free(e);
		crunrt_cgroups_release(&before);
		return -1;
	}
	crunrt_cgroups_release(&before);
	/* the real preparation: on this host a no-op unless v2 lists controllers; always idempotent */
	if (crunrt_host_prepare(&it.cg, &e) < 0) {
		fprintf(stderr, "host prepare: %s\n", e->msg);
		err_free(e);
		return -1;
	}
	it.rootfs = xasprintf("%s/rootfs", it.dir);
	it.state = xasprintf("%s/state", it.dir);
	it.cgparent = xasprintf("/gantry-test-%d", (int)getpid());
	mkdirs(it.dir, "rootfs/bin");
	mkdirs(it.dir, "rootfs/etc");
	char *bb = xasprintf("%s/bin/busybox", it.rootfs);
	FILE *in = fopen(BUSYBOX, "rb"), *out = fopen(bb, "wb");
	if (!in || !out)
		return -1;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	chmod(bb, 0755);
	free(bb);
	const char *applets[] = {"sh", "sleep", "echo", "cat", "head", "tail", "true", "env", "id", "ps"};
	for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++) {
		char *l = xasprintf("%s/bin/%s", it.rootfs, applets[i]);
		if (symlink("busybox", l) != 0)
			return -1;
		free(l);
	}
	char *pw = xasprintf("%s/etc/passwd", it.rootfs);
	write_file(pw, "root:x:0:0:root:/root:/bin/sh\n");
	free(pw);
	uv_loop_init(&it.loop);
	open_rt();
	it.ok = true;
	return 0;
}

static void skip_unless_ok(void)
{
	if (!it.ok) {
		fprintf(stderr, "# skipped: %s\n", it.why ? it.why : "setup failed");
		skip();
	}
}

/* The id of test container `name`. */
static char *ctr_id(const char *name)
{
	return xasprintf("t%d-%s", (int)getpid(), name);
}

static char *bundle_of(const char *name)
{
	return xasprintf("%s/b-%s", it.dir, name);
}

/* Creates (and unless !start, starts) container `name` from a container definition; init runs
 * tini as PID 1. Returns the id (the caller frees); *st gets the pids. */
static char *run_ctr(const char *name, const char *def_json, bool init, bool start, struct crunrt_started *st)
{
	struct err *e = NULL;
	json_t *def = json_loads(def_json, 0, NULL);
	assert_non_null(def);
	if (init)
		json_object_set_new(def, "linuxParameters", json_pack("{s:b}", "initProcessEnabled", 1));
	char *id = ctr_id(name), *bundle = bundle_of(name);
	char *cgpath = xasprintf("%s/%s", it.cgparent, id);
	unsigned long long max[RLIM_NLIMITS];
	ocispec_rlimit_max(max);
	struct ocispec_in in = {
		.def = def,
		.rootfs = it.rootfs,
		.cgroups_path = cgpath,
		.rlimit_max = max,
		.cap_bounding = ocispec_cap_bounding(),
		.cgroup_v2 = crunrt_cgroups_v2(&it.cg),
		.init_path = init ? TINI_STATIC : NULL,
	};
	json_t *spec = ocispec_build(&in, NULL, &e);
	if (!spec)
		fail_msg("ocispec_build: %s", e->msg);
	assert_int_equal(mkdir(bundle, 0700), 0);
	char *cfg = xasprintf("%s/config.json", bundle);
	assert_int_equal(json_dump_file(spec, cfg, JSON_INDENT(1)), 0);
	snprintf(it.ids[it.nids++], sizeof it.ids[0], "%s", id);
	struct crunrt_create c = {.id = id, .name = name, .bundle = bundle};
	if (crunrt_create(it.rt, &c, st, &e) < 0)
		fail_msg("create %s: %s", id, e->msg);
	assert_true(st->conmon_pid > 0);
	assert_true(st->pid > 0);
	it.conmons[it.nconmons++] = st->conmon_pid;
	if (start && crunrt_start(it.rt, id, &e) < 0)
		fail_msg("start %s: %s", id, e->msg);
	json_decref(spec);
	json_decref(def);
	free(cfg);
	free(cgpath);
	free(bundle);
	return id;
}

/* Waits (on the loop, through the watch) for id's exit file. */
static bool wait_exit(const char *id, unsigned ms)
{
	char *p = xasprintf("%s/%s", crunrt_exit_dir(it.rt), id);
	bool already = exists(p);
	free(p);
	if (already)
		return true;
	it.seen.want = id;
	it.seen.n = 0;
	return run_until(&it.loop, &it.seen, ms);
}

static struct crunrt_info status_of(const char *id)
{
	struct crunrt_info i;
	struct err *e = NULL;
	if (crunrt_status(it.rt, id, &i, &e) < 0)
		fail_msg("status %s: %s", id, e->msg);
	return i;
}

/* Removes the container and checks that crun and the exit directory forgot it. */
static void remove_ctr(const char *id, const char *name)
{
	struct err *e = NULL;
	char *bundle = bundle_of(name);
	if (crunrt_remove(it.rt, id, bundle, &e) < 0)
		fail_msg("remove %s: %s", id, e->msg);
	struct crunrt_info i;
	assert_int_equal(crunrt_status(it.rt, id, &i, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
	char *p = xasprintf("%s/conmon.pid", bundle);
	assert_false(exists(p));
	free(p);
	free(bundle);
}

static void it_exit_code(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st;
	char *id = run_ctr(
		"exit3", "{\"name\":\"exit3\",\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"exit 3\"]}",
		false, true, &st);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	struct crunrt_info i = status_of(id);
	assert_true(i.exited);
	assert_int_equal(i.exit_code, 3);
	assert_false(i.oom);
	assert_int_equal(i.conmon_pid, st.conmon_pid);
	fprintf(stderr, "# exit3: exit code %d\n", i.exit_code);
	crunrt_info_release(&i);
	/* killing one that has stopped is no error */
	struct err *e = NULL;
	assert_int_equal(crunrt_kill(it.rt, id, SIGTERM, &e), 0);
	remove_ctr(id, "exit3");
	/* nor is removing it twice; killing an unknown one is ERR_NOT_FOUND */
	assert_int_equal(crunrt_remove(it.rt, id, NULL, &e), 0);
	assert_int_equal(crunrt_kill(it.rt, id, SIGTERM, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
	free(id);
}

static void it_logs(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st;
	char *id = run_ctr("logs",
			   "{\"name\":\"logs\",\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"echo out; "
			   "echo err >&2\"]}",
			   false, true, &st);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	struct crunrt_info i = status_of(id);
	assert_int_equal(i.exit_code, 0);
	crunrt_info_release(&i);
	char *log = xasprintf("%s/b-logs/ctr.log", it.dir);
	char *text = read_text(log);
	assert_non_null(text);
	note_block("logs", text);
	assert_contains(text, " stdout F out\n");
	assert_contains(text, " stderr F err\n");
	/* each line starts with an RFC 3339 timestamp */
	assert_true(text[0] >= '2' && text[0] <= '9' && text[4] == '-' && text[10] == 'T');
	free(text);
	remove_ctr(id, "logs");
	assert_true(exists(log)); /* the log stays for the shipper */
	free(log);
	free(id);
}

static void it_sigterm(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st;
	char *id =
		run_ctr("term", "{\"name\":\"term\",\"image\":\"busybox\",\"command\":[\"sleep\",\"1000\"]}",
			true, true, &st);
	struct crunrt_info i = status_of(id);
	assert_int_equal(i.state, CRUNRT_RUNNING);
	assert_true(i.conmon_alive);
	assert_false(i.exited);
	assert_int_equal(i.pid, st.pid);
	crunrt_info_release(&i);
	struct err *e = NULL;
	assert_int_equal(crunrt_kill(it.rt, id, SIGTERM, &e), 0);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	i = status_of(id);
	assert_true(i.exited);
	assert_int_equal(i.exit_code, 143);
	fprintf(stderr, "# sleep 1000 + SIGTERM: exit code %d\n", i.exit_code);
	crunrt_info_release(&i);
	remove_ctr(id, "term");
	free(id);
}

static void it_sigkill(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st;
	char *id = run_ctr(
		"stubborn",
		"{\"name\":\"stubborn\",\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"trap '' TERM; "
		": > /stubborn.ready; sleep 1000\"]}",
		true, true, &st);
	struct err *e = NULL;
	/* SIGTERM before the trap is set would kill it: wait until the shell says it is */
	char *ready = xasprintf("%s/stubborn.ready", it.rootfs);
	for (int k = 0; k < 1000 && !exists(ready); k++)
		usleep(10000);
	assert_true(exists(ready));
	unlink(ready);
	free(ready);
	assert_int_equal(crunrt_kill(it.rt, id, SIGTERM, &e), 0);
	/* the caller's stop timeout: it ignores SIGTERM */
	assert_false(wait_exit(id, 1500));
	struct crunrt_info i = status_of(id);
	assert_int_equal(i.state, CRUNRT_RUNNING);
	crunrt_info_release(&i);
	assert_int_equal(crunrt_kill(it.rt, id, SIGKILL, &e), 0);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	i = status_of(id);
	assert_int_equal(i.exit_code, 137);
	assert_false(i.oom);
	fprintf(stderr, "# trap '' TERM + SIGTERM, then SIGKILL: exit code %d\n", i.exit_code);
	crunrt_info_release(&i);
	remove_ctr(id, "stubborn");
	free(id);
}

static void it_oom(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st;
	char *id = run_ctr("oom",
			   "{\"name\":\"oom\",\"image\":\"busybox\",\"memory\":16,"
			   "\"command\":[\"sh\",\"-c\",\"head -c 64m /dev/zero | tail\"]}",
			   false, true, &st);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	struct crunrt_info i = status_of(id);
	assert_int_equal(i.exit_code, 137);
	assert_true(i.oom);
	fprintf(stderr, "# 16 MiB, 64 MiB allocated: exit code %d, oom %d (%s)\n", i.exit_code, i.oom,
		CRUNRT_OOM_REASON);
	crunrt_info_release(&i);
	/* conmon's oom file is one witness; the memory cgroup's oom_kill counter is the other */
	char *oomf = xasprintf("%s/b-oom/oom", it.dir);
	assert_true(exists(oomf));
	assert_int_equal(unlink(oomf), 0);
	free(oomf);
	i = status_of(id);
	assert_true(i.oom);
	crunrt_info_release(&i);
	remove_ctr(id, "oom");
	free(id);
}

static void it_bad_spec(void **state)
{
	(void)state;
	skip_unless_ok();
	struct err *e = NULL;
	char *id = ctr_id("bad"), *bundle = bundle_of("bad");
	json_t *def = json_loads("{\"name\":\"bad\",\"image\":\"busybox\",\"command\":[\"/nonexistent\"]}", 0,
				 NULL);
	char *cgpath = xasprintf("%s/%s", it.cgparent, id);
	unsigned long long max[RLIM_NLIMITS];
	ocispec_rlimit_max(max);
	struct ocispec_in in = {.def = def,
				.rootfs = it.rootfs,
				.cgroups_path = cgpath,
				.rlimit_max = max,
				.cap_bounding = ocispec_cap_bounding(),
				.cgroup_v2 = crunrt_cgroups_v2(&it.cg)};
	json_t *spec = ocispec_build(&in, NULL, &e);
	assert_non_null(spec);
	assert_int_equal(mkdir(bundle, 0700), 0);
	char *cfg = xasprintf("%s/config.json", bundle);
	assert_int_equal(json_dump_file(spec, cfg, 0), 0);
	snprintf(it.ids[it.nids++], sizeof it.ids[0], "%s", id);
	struct crunrt_create c = {.id = id, .bundle = bundle};
	struct crunrt_started st;
	assert_int_equal(crunrt_create(it.rt, &c, &st, &e), -1);
	assert_int_equal(e->kind, ERR_CLIENT);
	assert_contains(e->msg, "/nonexistent");
	assert_contains(e->msg, id);
	fprintf(stderr, "# bad spec: %s\n", e->msg);
	err_free(e);
	e = NULL;
	struct crunrt_info i;
	assert_int_equal(crunrt_status(it.rt, id, &i, &e), -1);
	assert_int_equal(e->kind, ERR_NOT_FOUND);
	err_free(e);
	e = NULL;
	/* a bundle without config.json and a bad id are refused before anything runs */
	c.bundle = it.dir;
	assert_int_equal(crunrt_create(it.rt, &c, &st, &e), -1);
	err_free(e);
	e = NULL;
	c.id = "../x";
	assert_int_equal(crunrt_create(it.rt, &c, &st, &e), -1);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	err_free(e);
	json_decref(spec);
	json_decref(def);
	free(cfg);
	free(cgpath);
	free(bundle);
	free(id);
}

static void it_exec(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st;
	char *id = run_ctr("exec",
			   "{\"name\":\"exec\",\"image\":\"busybox\",\"hostname\":\"exec-host\","
			   "\"environment\":[{\"name\":\"GREETING\",\"value\":\"hello\"}],\"command\":["
			   "\"sleep\",\"1000\"]}",
			   true, true, &st);
	struct err *e = NULL;
	int code = -5;
	char *out = NULL;
	const char *a1[] = {"sh", "-c", "echo $GREETING; echo oops >&2; exit 7", NULL};
	assert_int_equal(crunrt_exec(it.rt, id, a1, 10000, &code, &out, &e), 0);
	assert_int_equal(code, 7);
	assert_string_equal(out, "hello\noops\n"); /* the container's environment */
	free(out);
	const char *a2[] = {"true", NULL};
	assert_int_equal(crunrt_exec(it.rt, id, a2, 0, &code, NULL, &e), 0);
	assert_int_equal(code, 0);
	const char *a3[] = {"sleep", "100", NULL};
	time_t t0 = time(NULL);
	assert_int_equal(crunrt_exec(it.rt, id, a3, 300, &code, NULL, &e), 1);
	assert_int_equal(code, -1);
	assert_true(time(NULL) - t0 < 5);
	/* the timed-out command was killed with crun: the container's processes no longer show it */
	const char *a4[] = {"ps", NULL};
	assert_int_equal(crunrt_exec(it.rt, id, a4, 10000, &code, &out, &e), 0);
	note_block("exec: exit 7 reported as 7, sleep 100 timed out after 300 ms; then ps", out);
	assert_non_null(strstr(out, "sleep 1000"));
	assert_null(strstr(out, "sleep 100\n"));
	free(out);
	/* no exec in a container that does not run */
	assert_int_equal(crunrt_kill(it.rt, id, SIGKILL, &e), 0);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	assert_int_equal(crunrt_exec(it.rt, id, a2, 0, &code, NULL, &e), -1);
	assert_int_equal(e->kind, ERR_CLIENT);
	err_free(e);
	remove_ctr(id, "exec");
	free(id);
}

static void it_readopt(void **state)
{
	(void)state;
	skip_unless_ok();
	struct crunrt_started st, st2;
	char *id = run_ctr("adopt",
			   "{\"name\":\"adopt\",\"image\":\"busybox\",\"command\":[\"sleep\",\"1000\"]}",
			   true, true, &st);
	/* a created but never started one, and one that exits while "the agent is down" */
	char *idc = run_ctr("created",
			    "{\"name\":\"created\",\"image\":\"busybox\",\"command\":[\"sleep\",\"1\"]}",
			    false, false, &st2);
	struct crunrt_started st3;
	char *idx = run_ctr(
		"gone", "{\"name\":\"gone\",\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"exit 42\"]}",
		false, true, &st3);

	/* the agent goes away: nothing in memory survives */
	close_rt();
	char *p = xasprintf("%s/exits/%s", it.state, idx);
	for (int k = 0; k < 500 && !exists(p); k++)
		usleep(10000);
	assert_true(exists(p));
	free(p);
	open_rt();

	struct crunrt_info *v = NULL;
	size_t n = 0;
	struct err *e = NULL;
	assert_int_equal(crunrt_list(it.rt, &v, &n, &e), 0);
	assert_int_equal(n, 3);
	bool found = false, fc = false, fx = false;
	for (size_t k = 0; k < n; k++) {
		if (strcmp(v[k].id, id) == 0) {
			found = true;
			assert_int_equal(v[k].state, CRUNRT_RUNNING);
			assert_true(v[k].conmon_alive);
			assert_false(v[k].exited);
			assert_int_equal(v[k].pid, st.pid);
			assert_int_equal(v[k].conmon_pid, st.conmon_pid);
			char *b = bundle_of("adopt");
			assert_string_equal(v[k].bundle, b);
			free(b);
		} else if (strcmp(v[k].id, idc) == 0) {
			fc = true;
			assert_int_equal(v[k].state, CRUNRT_CREATED);
			assert_true(v[k].conmon_alive);
		} else if (strcmp(v[k].id, idx) == 0) {
			fx = true;
			assert_int_equal(v[k].state, CRUNRT_STOPPED);
			assert_true(v[k].exited);
			assert_int_equal(v[k].exit_code, 42);
		}
	}
	assert_true(found && fc && fx);
	fprintf(stderr, "# re-adopted: %zu containers, %s running under conmon %d\n", n, id,
		(int)st.conmon_pid);
	crunrt_infos_free(v, n);

	assert_int_equal(crunrt_kill(it.rt, id, SIGTERM, &e), 0);
	assert_true(wait_exit(id, EXIT_WAIT_MS));
	struct crunrt_info i = status_of(id);
	assert_int_equal(i.exit_code, 143);
	fprintf(stderr, "# re-adopted sleep 1000 + SIGTERM: exit code %d from the exit file\n", i.exit_code);
	crunrt_info_release(&i);

	remove_ctr(id, "adopt");
	remove_ctr(idx, "gone");
	/* removing a created one kills it and waits for its conmon */
	remove_ctr(idc, "created");
	assert_int_equal(crunrt_list(it.rt, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	crunrt_infos_free(v, n);
	free(id);
	free(idc);
	free(idx);
}

static void it_orphan_exit_file(void **state)
{
	(void)state;
	skip_unless_ok();
	struct err *e = NULL;
	char *id = ctr_id("orphan");
	char *p = xasprintf("%s/%s", crunrt_exit_dir(it.rt), id);
	write_file(p, "9");
	struct crunrt_info *v = NULL;
	size_t n = 0;
	assert_int_equal(crunrt_list(it.rt, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, id);
	assert_int_equal(v[0].state, CRUNRT_UNKNOWN);
	assert_true(v[0].exited);
	assert_int_equal(v[0].exit_code, 9);
	assert_null(v[0].bundle);
	crunrt_infos_free(v, n);
	assert_int_equal(crunrt_remove(it.rt, id, NULL, &e), 0);
	assert_false(exists(p));
	free(p);
	free(id);
}

/* Whether any live process has "-c ID" of one of our containers in its command line (read-only:
 * the conmons of failed creates, whose pid we never learn). */
static bool conmon_of_ours_alive(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool found = false;
	while (d && (de = readdir(d)) && !found) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char *p = xasprintf("/proc/%s/cmdline", de->d_name);
		FILE *f = fopen(p, "rb");
		free(p);
		if (!f)
			continue;
		char buf[8192];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		for (size_t off = 0; off < n && !found; off += strlen(buf + off) + 1) {
			for (int k = 0; k < it.nids && !found; k++)
				found = strcmp(buf + off, it.ids[k]) == 0 && strstr(buf, "conmon");
		}
	}
	if (d)
		closedir(d);
	return found;
}

static bool pid_alive(pid_t pid)
{
	char path[64], st[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(st, 1, sizeof st - 1, f);
	fclose(f);
	st[n] = '\0';
	const char *rp = strrchr(st, ')');
	return rp && rp[2] != 'Z' && rp[2] != 'X';
}

static void it_nothing_left(void **state)
{
	(void)state;
	skip_unless_ok();
	struct err *e = NULL;
	/* no conmon we started (by pid; and none by command line for failed creates) */
	for (int k = 0; k < it.nconmons; k++) {
		bool alive = pid_alive(it.conmons[k]);
		for (int w = 0; w < 200 && alive; w++) {
			usleep(10000);
			alive = pid_alive(it.conmons[k]);
		}
		if (alive)
			fail_msg("conmon %d is still running", (int)it.conmons[k]);
	}
	assert_false(conmon_of_ours_alive());
	fprintf(stderr, "# %d conmon processes started, none left\n", it.nconmons);
	/* no crun state */
	struct crunrt_info *v = NULL;
	size_t n = 9;
	assert_int_equal(crunrt_list(it.rt, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	crunrt_infos_free(v, n);
	char *root = xasprintf("%s/crun", it.state);
	DIR *d = opendir(root);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fail_msg("crun state left: %s/%s", root, de->d_name);
	}
	closedir(d);
	free(root);
	/* crun deleted each container's cgroup; the parent it made goes with prune */
	for (size_t k = 0; k < it.cg.nh; k++) {
		for (int c = 0; c < it.nids; c++) {
			char *p = xasprintf("%s%s/%s", it.cg.h[k].path, it.cgparent, it.ids[c]);
			if (exists(p))
				fail_msg("cgroup left after delete: %s", p);
			free(p);
		}
	}
	assert_int_equal(crunrt_cgroup_prune(&it.cg, it.cgparent, &e), 0);
	for (size_t k = 0; k < it.cg.nh; k++) {
		char *p = xasprintf("%s%s", it.cg.h[k].path, it.cgparent);
		if (exists(p))
			fail_msg("cgroup left: %s", p);
		free(p);
	}
	/* no mounts under the test directory */
	char *mi = read_text("/proc/self/mountinfo");
	assert_non_null(mi);
	assert_null(strstr(mi, it.dir));
	free(mi);
	/* no exec leftovers */
	char *ex = xasprintf("%s/exec", it.state);
	d = opendir(ex);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fail_msg("exec file left: %s/%s", ex, de->d_name);
	}
	closedir(d);
	free(ex);
}

static int it_teardown(void **state)
{
	(void)state;
	if (!it.ok)
		return 0;
	/* best effort after a failed test: our containers only, by id */
	for (int k = 0; k < it.nids; k++)
		crunrt_remove(it.rt, it.ids[k], NULL, NULL);
	crunrt_cgroup_prune(&it.cg, it.cgparent, NULL);
	close_rt();
	uv_run(&it.loop, UV_RUN_DEFAULT);
	uv_loop_close(&it.loop);
	crunrt_cgroups_release(&it.cg);
	for (char **c = it.moved; c && *c; c++) {
		char *m = xasprintf("%s/%s", CRUNRT_CGROUP_ROOT, *c);
		if (umount2(m, 0) == 0)
			rmdir(m);
		else
			fprintf(stderr, "# unmount %s: %s\n", m, strerror(errno));
		free(m);
	}
	crunrt_strv_free(it.moved);
	rm_rf(it.dir);
	free(it.rootfs);
	free(it.state);
	free(it.cgparent);
	return 0;
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_cgroups_hybrid),
		cmocka_unit_test(test_host_prepare_fake),
		cmocka_unit_test(test_cgroups_v2_and_v1),
		cmocka_unit_test(test_cgroup_prune),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_create_conmon_fails),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_parse_exit),
		cmocka_unit_test(test_parse_sync),
		cmocka_unit_test(test_parse_oom),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_watch),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(it_exit_code),
		cmocka_unit_test(it_logs),
		cmocka_unit_test(it_sigterm),
		cmocka_unit_test(it_sigkill),
		cmocka_unit_test(it_oom),
		cmocka_unit_test(it_bad_spec),
		cmocka_unit_test(it_exec),
		cmocka_unit_test(it_readopt),
		cmocka_unit_test(it_orphan_exit_file),
		cmocka_unit_test(it_nothing_left),
	};
	int failed = cmocka_run_group_tests_name("crun", pure, cg_setup, cg_teardown);
	failed += cmocka_run_group_tests_name("crun-containers", real, it_setup, it_teardown);
	return failed;
}
