/* ocispec: the OCI runtime spec built for one container (args, env, user lookup in a fake rootfs,
 * cgroup resources, capabilities, security defaults, mounts, namespaces, rlimits) and the /etc
 * texts and stop signal that go with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/ocispec.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/jv.h"
#include "common/xalloc.h"

static char tmpdir[] = "/tmp/test_ocispec.XXXXXX";
static char *rootfs;   /* etc/passwd and etc/group */
static char *bare;     /* no etc at all */
static char *linked;   /* etc/passwd is an absolute link that resolves inside the rootfs */
static char *climbing; /* etc/passwd is a link that climbs above the rootfs */

static void write_file(const char *dir, const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static char *make_dir(const char *parent, const char *name)
{
	char *p = xasprintf("%s/%s", parent, name);
	assert_int_equal(mkdir(p, 0755), 0);
	char *etc = xasprintf("%s/etc", p);
	if (strcmp(name, "bare") != 0)
		assert_int_equal(mkdir(etc, 0755), 0);
	free(etc);
	return p;
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	rootfs = make_dir(tmpdir, "rootfs");
	write_file(rootfs, "etc/passwd",
		   "# comment\n"
		   "root:x:0:0:root:/root:/bin/sh\n"
		   "app:x:1000:1000:App:/home/app:/bin/sh\n"
		   "nohome:x:1001:1001\n"
		   "broken:x:notanumber:1\n");
	write_file(rootfs, "etc/group",
		   "root:x:0:\n"
		   "wheel:x:10:root,app\n"
		   "audio:x:20:other,app\n"
		   "staff:x:50:\n"
		   "app:x:1000:\n");
	bare = make_dir(tmpdir, "bare");
	linked = make_dir(tmpdir, "linked");
	write_file(linked, "etc/passwd-real", "inside:x:4242:4243::/in:/bin/sh\n");
	char *l = xasprintf("%s/etc/passwd", linked);
	assert_int_equal(symlink("/etc/passwd-real", l), 0);
	free(l);
	climbing = make_dir(tmpdir, "climbing");
	write_file(climbing, "etc/realpw", "climber:x:777:777::/c:/bin/sh\n");
	l = xasprintf("%s/etc/passwd", climbing);
	assert_int_equal(symlink("../../../../../../../../etc/realpw", l), 0);
	free(l);
	return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int group_teardown(void **state)
{
	(void)state;
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(rootfs);
	free(bare);
	free(linked);
	free(climbing);
	return 0;
}

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return j;
}

static struct ocispec_in base_in(json_t *def)
{
	struct ocispec_in in = {.def = def, .rootfs = rootfs, .cgroups_path = "/gantry/t1/app"};
	return in;
}

/* Builds or fails the test; *warnings (may be NULL) gets the warnings. */
static json_t *build_ok(struct ocispec_in *in, json_t **warnings)
{
	struct err *e = NULL;
	json_t *w = NULL;
	json_t *spec = ocispec_build(in, &w, &e);
	if (!spec)
		fail_msg("ocispec_build failed: %s", e->msg);
	assert_non_null(w);
	if (warnings)
		*warnings = w;
	else
		json_decref(w);
	return spec;
}

/* Fails the build and returns the message (the caller frees). */
static char *build_err(struct ocispec_in *in)
{
	struct err *e = NULL;
	json_t *w = (json_t *)1;
	json_t *spec = ocispec_build(in, &w, &e);
	assert_null(spec);
	assert_null(w);
	assert_non_null(e);
	char *msg = xstrdup(e->msg);
	err_free(e);
	return msg;
}

static void assert_contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("'%s' does not contain '%s'", s, part);
}

/* A member by dotted path ("linux.resources.cpu.shares"); NULL when any part is missing. */
static json_t *jp(json_t *j, const char *path)
{
	char *copy = xstrdup(path), *s = copy;
	while (j && s) {
		char *dot = strchr(s, '.');
		if (dot)
			*dot = '\0';
		j = json_object_get(j, s);
		s = dot ? dot + 1 : NULL;
	}
	free(copy);
	return j;
}

static long long jpi(json_t *j, const char *path)
{
	json_t *v = jp(j, path);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

/* The strings of an array joined with sep (a new string). */
static char *joined(json_t *arr, const char *sep)
{
	struct buf b = BUF_INIT;
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		if (i)
			buf_adds(&b, sep);
		buf_adds(&b, json_string_value(v));
	}
	return buf_detach(&b, NULL);
}

static void assert_array(json_t *arr, const char *expect)
{
	char *s = joined(arr, " ");
	assert_string_equal(s, expect);
	free(s);
}

static json_t *find_mount(json_t *spec, const char *dest, size_t *index)
{
	size_t i;
	json_t *m;
	json_array_foreach (json_object_get(spec, "mounts"), i, m) {
		if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0) {
			if (index)
				*index = i;
			return m;
		}
	}
	return NULL;
}

static size_t count_mounts(json_t *spec, const char *dest)
{
	size_t i, n = 0;
	json_t *m;
	json_array_foreach (json_object_get(spec, "mounts"), i, m)
		n += strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0;
	return n;
}

static const char *env_get(json_t *spec, const char *name)
{
	size_t i, n = strlen(name);
	json_t *v;
	json_array_foreach (jp(spec, "process.env"), i, v) {
		const char *s = json_string_value(v);
		if (strncmp(s, name, n) == 0 && s[n] == '=')
			return s + n + 1;
	}
	return NULL;
}

static bool has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool seccomp_blocks(json_t *spec, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach (jp(spec, "linux.seccomp.syscalls"), i, r) {
		if (has_string(json_object_get(r, "names"), name) && !json_object_get(r, "args"))
			return true;
	}
	return false;
}

static void test_minimal_spec(void **state)
{
	(void)state;
	json_t *def = J("{\"name\":\"app\",\"image\":\"busybox\",\"command\":[\"sleep\",\"1\"]}");
	struct ocispec_in in = base_in(def);
	json_t *w;
	json_t *spec = build_ok(&in, &w);
	assert_string_equal(json_string_value(jp(spec, "ociVersion")), "1.0.2");
	assert_string_equal(json_string_value(jp(spec, "root.path")), rootfs);
	assert_true(json_is_false(jp(spec, "root.readonly")));
	assert_true(json_is_false(jp(spec, "process.terminal")));
	assert_string_equal(json_string_value(jp(spec, "linux.cgroupsPath")), "/gantry/t1/app");
	assert_string_equal(json_string_value(jp(spec, "hostname")), "app");
	assert_string_equal(json_string_value(jp(spec, "process.cwd")), "/");
	assert_true(json_is_true(jp(spec, "process.noNewPrivileges")));
	assert_int_equal(json_array_size(w), 0);
	json_decref(w);
	json_decref(spec);
	json_decref(def);
}

/* image Entrypoint/Cmd x entryPoint/command x override command, as docker merges them. */
static void test_args_matrix(void **state)
{
	(void)state;
	static const struct {
		const char *image, *def, *override, *expect; /* expect NULL = an error */
	} cases[] = {
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", "", NULL, "/ep a"},
		{"\"Cmd\":[\"sh\"]", ",\"command\":[\"x\",\"y\"]", NULL, "x y"},
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", ",\"command\":[\"b\"]", NULL, "/ep b"},
		/* an entryPoint in the definition drops the image's Cmd */
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", ",\"entryPoint\":[\"/e2\"]", NULL, "/e2"},
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", ",\"entryPoint\":[\"/e2\"],\"command\":[\"c\"]",
		 NULL, "/e2 c"},
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", ",\"command\":[\"c\"]", "{\"command\":[\"o\"]}",
		 "/ep o"},
		{"\"Cmd\":[\"a\"]", ",\"entryPoint\":[\"/e2\"],\"command\":[\"c\"]",
		 "{\"command\":[\"o\",\"p\"]}", "/e2 o p"},
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", "", "{\"command\":[\"o\"]}", "/ep o"},
		/* an empty entryPoint clears the image's, keeping its Cmd */
		{"\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]", ",\"entryPoint\":[]", NULL, "a"},
		{"\"Entrypoint\":null,\"Cmd\":[\"sh\"]", "", NULL, "sh"},
		{"\"Cmd\":[]", ",\"command\":[]", NULL, NULL},
		{"", "", NULL, NULL},
		{"\"Entrypoint\":\"/bin/sh\"", "", NULL, NULL}, /* not a list */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *dtext = xasprintf("{\"name\":\"app\"%s}", cases[i].def);
		char *itext = xasprintf("{\"config\":{%s}}", cases[i].image);
		json_t *def = J(dtext), *img = J(itext),
		       *ovr = cases[i].override ? J(cases[i].override) : NULL;
		struct ocispec_in in = base_in(def);
		in.image_config = img;
		in.override = ovr;
		if (cases[i].expect) {
			json_t *spec = build_ok(&in, NULL);
			char *args = joined(jp(spec, "process.args"), " ");
			if (strcmp(args, cases[i].expect) != 0)
				fail_msg("case %zu: args '%s', expected '%s'", i, args, cases[i].expect);
			free(args);
			json_decref(spec);
		} else {
			char *msg = build_err(&in);
			assert_contains(msg, "container 'app'");
			free(msg);
		}
		json_decref(def);
		json_decref(img);
		json_decref(ovr);
		free(dtext);
		free(itext);
	}
}

static void test_init_process(void **state)
{
	(void)state;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"sleep\",\"9\"],"
			"\"linuxParameters\":{\"initProcessEnabled\":true}}");
	struct ocispec_in in = base_in(def);
	char *msg = build_err(&in); /* no init binary */
	assert_contains(msg, "initProcessEnabled");
	free(msg);
	in.init_path = "/usr/bin/tini-static";
	json_t *spec = build_ok(&in, NULL);
	assert_array(jp(spec, "process.args"), "/dev/init -- sleep 9");
	size_t at, dev;
	json_t *m = find_mount(spec, "/dev/init", &at);
	assert_non_null(m);
	assert_non_null(find_mount(spec, "/dev", &dev));
	assert_true(at > dev);
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/usr/bin/tini-static");
	assert_true(has_string(json_object_get(m, "options"), "ro"));
	json_decref(spec);
	json_decref(def);
}

static void test_env_precedence(void **state)
{
	(void)state;
	json_t *img = J("{\"config\":{\"Env\":[\"PATH=/img/bin\",\"A=img\",\"B=img\",\"NOEQUALS\"]}}");
	json_t *def =
		J("{\"name\":\"app\",\"command\":[\"x\"],\"environment\":[{\"name\":\"A\",\"value\":\"def\"},"
		  "{\"name\":\"C\",\"value\":\"def\"},{\"name\":\"E\"}]}");
	json_t *ovr = J(
		"{\"environment\":[{\"name\":\"B\",\"value\":\"ovr\"},{\"name\":\"C\",\"value\":\"ovr\"}]}");
	const char *inject[] = {"C=agent", "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/x"};
	struct ocispec_in in = base_in(def);
	in.image_config = img;
	in.override = ovr;
	in.env = inject;
	in.nenv = 2;
	in.hostname = "h1";
	json_t *spec = build_ok(&in, NULL);
	assert_array(jp(spec, "process.env"),
		     "PATH=/img/bin HOSTNAME=h1 A=def B=ovr C=agent E= "
		     "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/x HOME=/root");
	json_decref(spec);

	/* Without an image PATH, docker's default; HOME set by the task stays. */
	json_t *def2 = J("{\"name\":\"app\",\"command\":[\"x\"],\"environment\":[{\"name\":\"HOME\","
			 "\"value\":\"/h\"}]}");
	struct ocispec_in in2 = base_in(def2);
	spec = build_ok(&in2, NULL);
	assert_string_equal(env_get(spec, "PATH"), OCISPEC_DEFAULT_PATH);
	assert_string_equal(env_get(spec, "HOME"), "/h");
	assert_string_equal(env_get(spec, "HOSTNAME"), "app");
	json_decref(spec);

	json_t *bad = J("{\"name\":\"app\",\"command\":[\"x\"],\"environment\":[{\"name\":\"A=B\",\"value\":"
			"\"v\"}]}");
	struct ocispec_in in3 = base_in(bad);
	char *msg = build_err(&in3);
	assert_contains(msg, "container 'app': environment[0]");
	free(msg);

	const char *broken[] = {"NOVALUE"};
	in2.env = broken;
	in2.nenv = 1;
	msg = build_err(&in2);
	assert_contains(msg, "NOVALUE");
	free(msg);
	json_decref(bad);
	json_decref(def2);
	json_decref(def);
	json_decref(img);
	json_decref(ovr);
}

static json_t *user_spec(const char *root, const char *def_user, const char *image_user, char **err_msg)
{
	char *dtext = def_user ? xasprintf("{\"name\":\"app\",\"command\":[\"x\"],\"user\":\"%s\"}", def_user)
			       : xstrdup("{\"name\":\"app\",\"command\":[\"x\"]}");
	char *itext = xasprintf("{\"config\":{\"User\":\"%s\"}}", image_user ? image_user : "");
	json_t *def = J(dtext), *img = J(itext), *spec = NULL;
	struct ocispec_in in = base_in(def);
	in.rootfs = root;
	in.image_config = img;
	struct err *e = NULL;
	spec = ocispec_build(&in, NULL, &e);
	if (err_msg)
		*err_msg = e ? xstrdup(e->msg) : NULL;
	else if (!spec)
		fail_msg("user '%s': %s", def_user ? def_user : "", e->msg);
	err_free(e);
	json_decref(def);
	json_decref(img);
	free(dtext);
	free(itext);
	return spec;
}

static void check_user(const char *root, const char *user, long long uid, long long gid, const char *groups,
		       const char *home)
{
	json_t *spec = user_spec(root, user, NULL, NULL);
	if (jpi(spec, "process.user.uid") != uid || jpi(spec, "process.user.gid") != gid)
		fail_msg("user '%s': %lld:%lld, expected %lld:%lld", user, jpi(spec, "process.user.uid"),
			 jpi(spec, "process.user.gid"), uid, gid);
	json_t *g = jp(spec, "process.user.additionalGids");
	char got[64] = "";
	size_t i;
	json_t *v;
	json_array_foreach (g, i, v)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
			 (long long)json_integer_value(v));
	if (strcmp(got, groups) != 0)
		fail_msg("user '%s': groups '%s', expected '%s'", user, got, groups);
	assert_string_equal(env_get(spec, "HOME"), home);
	json_decref(spec);
}

static void check_user_err(const char *root, const char *user, const char *part)
{
	char *msg = NULL;
	json_t *spec = user_spec(root, user, NULL, &msg);
	if (spec)
		fail_msg("user '%s' was accepted", user);
	assert_contains(msg, "container 'app'");
	assert_contains(msg, part);
	free(msg);
}

static void test_user(void **state)
{
	(void)state;
	check_user(rootfs, "", 0, 0, "10", "/root");
	check_user(rootfs, "0", 0, 0, "10", "/root");
	check_user(rootfs, "1000", 1000, 1000, "10,20", "/home/app");
	check_user(rootfs, "app", 1000, 1000, "10,20", "/home/app");
	check_user(rootfs, "1000:50", 1000, 50, "", "/home/app");
	check_user(rootfs, "app:staff", 1000, 50, "", "/home/app");
	check_user(rootfs, "0:wheel", 0, 10, "", "/root");
	check_user(rootfs, "12345", 12345, 0, "", "/");
	check_user(rootfs, "1001", 1001, 1001, "", "/");
	check_user(bare, "", 0, 0, "", "/");
	check_user(bare, "4000:4001", 4000, 4001, "", "/");
	check_user_err(rootfs, "ghost", "no user 'ghost'");
	check_user_err(rootfs, "broken", "no user 'broken'");
	check_user_err(rootfs, "app:nogroup", "no group 'nogroup'");
	check_user_err(rootfs, "app:", "user 'app:'");
	check_user_err(rootfs, ":10", "user ':10'");
	check_user_err(rootfs, "4294967295", "no user '4294967295'");
	check_user_err(bare, "app", "no user 'app'");

	/* The image's User when the definition has none; the definition's wins. */
	json_t *spec = user_spec(rootfs, NULL, "app", NULL);
	assert_int_equal(jpi(spec, "process.user.uid"), 1000);
	json_decref(spec);
	spec = user_spec(rootfs, "0", "app", NULL);
	assert_int_equal(jpi(spec, "process.user.uid"), 0);
	json_decref(spec);

	/* Links in the image resolve inside its root, never on the host. */
	check_user(linked, "inside", 4242, 4243, "", "/in");
	check_user(climbing, "climber", 777, 777, "", "/c");

	char *missing = xasprintf("%s/nonexistent", tmpdir);
	check_user_err(missing, "", "root filesystem");
	free(missing);
}

static void test_cwd_hostname_labels(void **state)
{
	(void)state;
	json_t *img = J("{\"config\":{\"WorkingDir\":\"/srv//app/\"}}");
	json_t *def = J(
		"{\"name\":\"app\",\"command\":[\"x\"],\"dockerLabels\":{\"team\":\"a\",\"tier\":\"web\"}}");
	struct ocispec_in in = base_in(def);
	in.image_config = img;
	in.hostname = "ip-10-0-0-5";
	json_t *spec = build_ok(&in, NULL);
	assert_string_equal(json_string_value(jp(spec, "process.cwd")), "/srv/app");
	assert_string_equal(json_string_value(jp(spec, "hostname")), "ip-10-0-0-5");
	assert_string_equal(json_string_value(jp(spec, "annotations.team")), "a");
	assert_string_equal(json_string_value(jp(spec, "annotations.tier")), "web");
	json_decref(spec);
	json_decref(def);

	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"workingDirectory\":\"/w\",\"hostname\":\"web-1\"}");
	in = base_in(def);
	in.image_config = img;
	in.hostname = "ignored";
	spec = build_ok(&in, NULL);
	assert_string_equal(json_string_value(jp(spec, "process.cwd")), "/w");
	assert_string_equal(json_string_value(jp(spec, "hostname")), "web-1");
	assert_string_equal(ocispec_hostname(def, "x"), "web-1");
	json_decref(spec);
	json_decref(def);

	static const char *const bad[] = {
		"\"workingDirectory\":\"rel/dir\"",
		"\"workingDirectory\":\"/a/../b\"",
		"\"hostname\":\"bad host\"",
		"\"hostname\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = xasprintf("{\"name\":\"app\",\"command\":[\"x\"],%s}", bad[i]);
		def = J(t);
		in = base_in(def);
		char *msg = build_err(&in);
		assert_contains(msg, "container 'app'");
		free(msg);
		json_decref(def);
		free(t);
	}
	json_decref(img);
}

static json_t *res_spec(const char *members, const char *override, bool v2, json_t **warnings)
{
	char *t = xasprintf("{\"name\":\"app\",\"command\":[\"x\"]%s}", members);
	json_t *def = J(t), *ovr = override ? J(override) : NULL;
	struct ocispec_in in = base_in(def);
	in.override = ovr;
	in.cgroup_v2 = v2;
	in.pids_limit = 100;
	json_t *spec = build_ok(&in, warnings);
	json_decref(def);
	json_decref(ovr);
	free(t);
	return spec;
}

static char *res_err(const char *members, const char *override)
{
	char *t = xasprintf("{\"name\":\"app\",\"command\":[\"x\"]%s}", members);
	json_t *def = J(t), *ovr = override ? J(override) : NULL;
	struct ocispec_in in = base_in(def);
	in.override = ovr;
	char *msg = build_err(&in);
	json_decref(def);
	json_decref(ovr);
	free(t);
	return msg;
}

static void test_cgroup_resources(void **state)
{
	(void)state;
	json_t *w, *spec = res_spec("", NULL, false, &w);
	assert_int_equal(jpi(spec, "linux.resources.cpu.shares"), 2);
	assert_null(jp(spec, "linux.resources.memory"));
	assert_int_equal(jpi(spec, "linux.resources.pids.limit"), 100);
	json_decref(spec);
	json_decref(w);

	static const struct {
		const char *members;
		long long shares;
	} cpus[] = {{",\"cpu\":0", 2}, {",\"cpu\":1", 2}, {",\"cpu\":512", 512}, {",\"cpu\":300000", 262144}};
	for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
		spec = res_spec(cpus[i].members, NULL, false, NULL);
		assert_int_equal(jpi(spec, "linux.resources.cpu.shares"), cpus[i].shares);
		json_decref(spec);
	}

	spec = res_spec(",\"cpu\":256,\"memory\":512,\"memoryReservation\":128",
			"{\"cpu\":1024,\"memory\":1024}", false, NULL);
	assert_int_equal(jpi(spec, "linux.resources.cpu.shares"), 1024);
	assert_int_equal(jpi(spec, "linux.resources.memory.limit"), 1024LL << 20);
	assert_int_equal(jpi(spec, "linux.resources.memory.reservation"), 128LL << 20);
	assert_null(jp(spec, "linux.resources.memory.swap"));
	json_decref(spec);

	spec = res_spec(",\"memoryReservation\":64", NULL, false, NULL);
	assert_null(jp(spec, "linux.resources.memory.limit"));
	assert_int_equal(jpi(spec, "linux.resources.memory.reservation"), 64LL << 20);
	json_decref(spec);

	/* maxSwap adds to the hard limit; swappiness defaults to 60 with it. */
	spec = res_spec(",\"memory\":256,\"linuxParameters\":{\"maxSwap\":512}", NULL, false, &w);
	assert_int_equal(jpi(spec, "linux.resources.memory.swap"), 768LL << 20);
	assert_int_equal(jpi(spec, "linux.resources.memory.swappiness"), 60);
	assert_int_equal(json_array_size(w), 0);
	json_decref(spec);
	json_decref(w);
	spec = res_spec(",\"memory\":256,\"linuxParameters\":{\"maxSwap\":0,\"swappiness\":10}", NULL, false,
			NULL);
	assert_int_equal(jpi(spec, "linux.resources.memory.swap"), 256LL << 20);
	assert_int_equal(jpi(spec, "linux.resources.memory.swappiness"), 10);
	json_decref(spec);
	spec = res_spec(",\"memory\":256,\"linuxParameters\":{\"maxSwap\":0,\"swappiness\":10}", NULL, true,
			&w);
	assert_int_equal(jpi(spec, "linux.resources.memory.swap"), 256LL << 20);
	assert_null(jp(spec, "linux.resources.memory.swappiness"));
	assert_int_equal(json_array_size(w), 1);
	assert_contains(json_string_value(json_array_get(w, 0)), "swappiness ignored");
	json_decref(spec);
	json_decref(w);
	spec = res_spec(",\"memoryReservation\":256,\"linuxParameters\":{\"maxSwap\":128}", NULL, false, &w);
	assert_null(jp(spec, "linux.resources.memory.swap"));
	assert_contains(json_string_value(json_array_get(w, 0)),
			"container 'app': linuxParameters.maxSwap ignored");
	json_decref(spec);
	json_decref(w);

	static const struct {
		const char *members, *override, *part;
	} bad[] = {
		{",\"memory\":-5", NULL, "memory: -5 MiB"},
		{",\"memory\":0", NULL, "memory: 0 MiB"},
		{",\"memory\":64", "{\"memoryReservation\":128}", "exceeds memory"},
		{",\"memory\":64", "{\"memory\":-1}", "memory: -1 MiB"},
		{",\"cpu\":-1", NULL, "cpu: -1"},
		{",\"memory\":\"lots\"", NULL, "'memory'"},
		{",\"memory\":64,\"linuxParameters\":{\"maxSwap\":-1}", NULL, "maxSwap"},
		{",\"memory\":64,\"linuxParameters\":{\"maxSwap\":1,\"swappiness\":101}", NULL, "swappiness"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *msg = res_err(bad[i].members, bad[i].override);
		assert_contains(msg, "container 'app'");
		assert_contains(msg, bad[i].part);
		free(msg);
	}
}

static json_t *caps_spec(const char *lp, unsigned long long bounding, json_t **warnings)
{
	char *t = xasprintf(
		"{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"capabilities\":%s}}", lp);
	json_t *def = J(t);
	struct ocispec_in in = base_in(def);
	in.cap_bounding = bounding;
	json_t *spec = build_ok(&in, warnings);
	json_decref(def);
	free(t);
	return spec;
}

static void assert_caps(json_t *spec, const char *expect)
{
	assert_array(jp(spec, "process.capabilities.bounding"), expect);
	assert_array(jp(spec, "process.capabilities.effective"), expect);
	assert_array(jp(spec, "process.capabilities.permitted"), expect);
	assert_null(jp(spec, "process.capabilities.inheritable"));
	assert_null(jp(spec, "process.capabilities.ambient"));
}

#define DEFAULT_CAPS                                                                                   \
	"CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP " \
	"CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_SETFCAP"

static void test_capabilities(void **state)
{
	(void)state;
	json_t *w, *spec = caps_spec("{}", 0, NULL);
	assert_caps(spec, DEFAULT_CAPS);
	assert_true(seccomp_blocks(spec, "mount"));
	assert_true(seccomp_blocks(spec, "ptrace"));
	assert_true(seccomp_blocks(spec, "clone3"));
	json_decref(spec);

	spec = caps_spec("{\"add\":[\"NET_ADMIN\",\"cap_sys_ptrace\"],\"drop\":[\"CHOWN\",\"CAP_KILL\"]}", 0,
			 NULL);
	assert_caps(spec, "CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_SETGID CAP_SETUID CAP_SETPCAP "
			  "CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SETFCAP");
	assert_false(seccomp_blocks(spec, "ptrace"));
	assert_true(seccomp_blocks(spec, "mount"));
	json_decref(spec);

	/* docker: a capability both added and dropped is added. */
	spec = caps_spec("{\"add\":[\"MKNOD\"],\"drop\":[\"MKNOD\",\"SETFCAP\"]}", 0, NULL);
	assert_true(has_string(jp(spec, "process.capabilities.bounding"), "CAP_MKNOD"));
	assert_false(has_string(jp(spec, "process.capabilities.bounding"), "CAP_SETFCAP"));
	json_decref(spec);

	spec = caps_spec("{\"drop\":[\"ALL\"],\"add\":[\"CHOWN\",\"NET_BIND_SERVICE\"]}", 0, NULL);
	assert_caps(spec, "CAP_CHOWN CAP_NET_BIND_SERVICE");
	json_decref(spec);
	spec = caps_spec("{\"drop\":[\"ALL\"]}", 0, NULL);
	assert_caps(spec, "");
	json_decref(spec);

	/* ALL within what the agent has: here everything but SYS_RESOURCE (24) and SYS_ADMIN (21). */
	unsigned long long bounding = ((1ULL << 41) - 1) & ~(1ULL << 24) & ~(1ULL << 21);
	spec = caps_spec("{\"add\":[\"ALL\"],\"drop\":[\"NET_ADMIN\"]}", bounding, &w);
	json_t *b = jp(spec, "process.capabilities.bounding");
	assert_int_equal(json_array_size(b), 38);
	assert_false(has_string(b, "CAP_NET_ADMIN"));
	assert_false(has_string(b, "CAP_SYS_RESOURCE"));
	assert_true(has_string(b, "CAP_CHECKPOINT_RESTORE"));
	assert_true(seccomp_blocks(spec, "mount"));
	assert_false(seccomp_blocks(spec, "reboot"));
	assert_int_equal(json_array_size(w), 0);
	json_decref(spec);
	json_decref(w);

	spec = caps_spec("{\"add\":[\"SYS_RESOURCE\",\"SYS_ADMIN\"]}", (1ULL << 41) - 1 - (1ULL << 24), &w);
	assert_false(has_string(jp(spec, "process.capabilities.bounding"), "CAP_SYS_RESOURCE"));
	assert_true(has_string(jp(spec, "process.capabilities.bounding"), "CAP_SYS_ADMIN"));
	assert_false(seccomp_blocks(spec, "mount"));
	assert_false(seccomp_blocks(spec, "clone3"));
	assert_int_equal(json_array_size(w), 1);
	assert_contains(json_string_value(json_array_get(w, 0)), "CAP_SYS_RESOURCE left out");
	json_decref(spec);
	json_decref(w);

	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"capabilities\":{"
			"\"add\":[\"FOO\"]}}}");
	struct ocispec_in in = base_in(def);
	char *msg = build_err(&in);
	assert_string_equal(msg,
			    "container 'app': linuxParameters.capabilities.add: 'FOO' is not a capability");
	free(msg);
	json_decref(def);
	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"capabilities\":{\"drop\":"
		"\"CHOWN\"}}}");
	in = base_in(def);
	msg = build_err(&in);
	assert_contains(msg, "container 'app': linuxParameters.capabilities");
	free(msg);
	json_decref(def);
}

static void test_security_defaults(void **state)
{
	(void)state;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"]}");
	struct ocispec_in in = base_in(def);
	json_t *spec = build_ok(&in, NULL);
	json_t *masked = jp(spec, "linux.maskedPaths"), *ro = jp(spec, "linux.readonlyPaths");
	assert_true(has_string(masked, "/proc/kcore"));
	assert_true(has_string(masked, "/sys/firmware"));
	assert_true(has_string(ro, "/proc/sys"));
	assert_true(has_string(ro, "/proc/sysrq-trigger"));
	assert_string_equal(json_string_value(jp(spec, "linux.seccomp.defaultAction")), "SCMP_ACT_ALLOW");
	assert_true(seccomp_blocks(spec, "keyctl"));
	assert_true(seccomp_blocks(spec, "kexec_load"));
	assert_true(seccomp_blocks(spec, "init_module"));
	assert_true(seccomp_blocks(spec, "bpf"));
	assert_true(seccomp_blocks(spec, "unshare"));
	/* clone with CLONE_NEWUSER is refused through a masked compare on its flags */
	size_t i, newuser = 0;
	json_t *r;
	json_array_foreach (jp(spec, "linux.seccomp.syscalls"), i, r) {
		json_t *a = json_array_get(json_object_get(r, "args"), 0);
		if (a && json_integer_value(json_object_get(a, "value")) == 0x10000000 &&
		    json_integer_value(json_object_get(a, "valueTwo")) == 0x10000000)
			newuser++;
	}
	assert_int_equal(newuser, 1);
	/* the device cgroup denies all, then allows docker's defaults */
	json_t *rules = jp(spec, "linux.resources.devices"), *first = json_array_get(rules, 0);
	assert_true(json_is_false(json_object_get(first, "allow")));
	assert_string_equal(json_string_value(json_object_get(first, "access")), "rwm");
	assert_int_equal(json_array_size(rules), 13);
	assert_true(has_string(json_object_get(find_mount(spec, "/sys", NULL), "options"), "ro"));
	assert_true(json_is_true(jp(spec, "process.noNewPrivileges")));
	json_decref(spec);
	json_decref(def);

	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"dockerSecurityOptions\":[\"no-new-privileges:"
		"false\","
		"\"apparmor:docker-default\"]}");
	in = base_in(def);
	json_t *w;
	spec = build_ok(&in, &w);
	assert_true(json_is_false(jp(spec, "process.noNewPrivileges")));
	assert_int_equal(json_array_size(w), 1);
	assert_contains(json_string_value(json_array_get(w, 0)), "apparmor:docker-default");
	json_decref(spec);
	json_decref(w);
	json_decref(def);
}

static void test_privileged(void **state)
{
	(void)state;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"],\"privileged\":true,"
			"\"linuxParameters\":{\"capabilities\":{\"drop\":[\"ALL\"]}}}");
	struct ocispec_in in = base_in(def);
	in.cap_bounding = ((1ULL << 41) - 1) & ~(1ULL << 24);
	json_t *spec = build_ok(&in, NULL);
	json_t *b = jp(spec, "process.capabilities.bounding");
	assert_int_equal(json_array_size(b), 40);
	assert_false(has_string(b, "CAP_SYS_RESOURCE"));
	assert_true(has_string(b, "CAP_SYS_ADMIN"));
	assert_null(jp(spec, "linux.seccomp"));
	assert_null(jp(spec, "linux.maskedPaths"));
	assert_null(jp(spec, "linux.readonlyPaths"));
	assert_true(json_is_false(jp(spec, "process.noNewPrivileges")));
	json_t *rules = jp(spec, "linux.resources.devices");
	assert_int_equal(json_array_size(rules), 1);
	assert_true(json_is_true(json_object_get(json_array_get(rules, 0), "allow")));
	assert_false(has_string(json_object_get(find_mount(spec, "/sys", NULL), "options"), "ro"));
	assert_true(has_string(json_object_get(find_mount(spec, "/sys/fs/cgroup", NULL), "options"), "rw"));
	json_decref(spec);
	json_decref(def);
}

static void test_readonly_root_and_etc_files(void **state)
{
	(void)state;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"],\"readonlyRootFilesystem\":true}");
	struct ocispec_in in = base_in(def);
	in.hosts = "/run/gantry/t1/hosts";
	in.resolv_conf = "/run/gantry/t1/resolv.conf";
	in.hostname_file = "/run/gantry/t1/hostname";
	json_t *spec = build_ok(&in, NULL);
	assert_true(json_is_true(jp(spec, "root.readonly")));
	json_t *m = find_mount(spec, "/etc/hosts", NULL);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "type")), "bind");
	assert_string_equal(json_string_value(json_object_get(m, "source")), "/run/gantry/t1/hosts");
	assert_true(has_string(json_object_get(m, "options"), "ro"));
	assert_non_null(find_mount(spec, "/etc/resolv.conf", NULL));
	assert_non_null(find_mount(spec, "/etc/hostname", NULL));
	json_decref(spec);
	json_decref(def);

	def = J("{\"name\":\"app\",\"command\":[\"x\"]}");
	in = base_in(def);
	in.hosts = "/run/gantry/t1/hosts";
	spec = build_ok(&in, NULL);
	assert_true(json_is_false(jp(spec, "root.readonly")));
	assert_false(has_string(json_object_get(find_mount(spec, "/etc/hosts", NULL), "options"), "ro"));
	assert_null(find_mount(spec, "/etc/resolv.conf", NULL));
	json_decref(spec);
	json_decref(def);
}

static void test_tmpfs_and_shm(void **state)
{
	(void)state;
	json_t *def =
		J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"sharedMemorySize\":128,"
		  "\"tmpfs\":[{\"containerPath\":\"/run/\",\"size\":16,\"mountOptions\":[\"exec\",\"ro\","
		  "\"mode=1777\",\"defaults\"]},{\"containerPath\":\"/scratch\",\"size\":1}]}}");
	struct ocispec_in in = base_in(def);
	json_t *spec = build_ok(&in, NULL);
	json_t *shm = find_mount(spec, "/dev/shm", NULL);
	assert_string_equal(json_string_value(json_object_get(shm, "type")), "tmpfs");
	assert_true(has_string(json_object_get(shm, "options"), "size=128m"));
	json_t *run = find_mount(spec, "/run", NULL);
	assert_non_null(run);
	assert_string_equal(json_string_value(json_object_get(run, "type")), "tmpfs");
	assert_array(json_object_get(run, "options"), "nosuid nodev exec ro mode=1777 size=16m");
	assert_array(json_object_get(find_mount(spec, "/scratch", NULL), "options"),
		     "noexec nosuid nodev size=1m");
	json_decref(spec);
	json_decref(def);

	/* The default /dev/shm is 64 MiB; a tmpfs at /dev/shm replaces it. */
	def = J("{\"name\":\"app\",\"command\":[\"x\"]}");
	in = base_in(def);
	spec = build_ok(&in, NULL);
	assert_true(has_string(json_object_get(find_mount(spec, "/dev/shm", NULL), "options"), "size=64m"));
	json_decref(spec);
	json_decref(def);
	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"sharedMemorySize\":8,"
		"\"tmpfs\":[{\"containerPath\":\"/dev/shm\",\"size\":256}]}}");
	in = base_in(def);
	json_t *w;
	spec = build_ok(&in, &w);
	assert_int_equal(count_mounts(spec, "/dev/shm"), 1);
	assert_true(has_string(json_object_get(find_mount(spec, "/dev/shm", NULL), "options"), "size=256m"));
	assert_int_equal(json_array_size(w), 1);
	json_decref(w);
	json_decref(spec);
	json_decref(def);

	static const char *const bad[] = {
		"{\"tmpfs\":[{\"containerPath\":\"/a\",\"size\":0}]}",
		"{\"tmpfs\":[{\"containerPath\":\"/a\",\"size\":1},{\"containerPath\":\"/a/\",\"size\":2}]}",
		"{\"tmpfs\":[{\"containerPath\":\"/a/../etc\",\"size\":1}]}",
		"{\"tmpfs\":[{\"containerPath\":\"a\",\"size\":1}]}",
		"{\"tmpfs\":[{\"containerPath\":\"/\",\"size\":1}]}",
		"{\"tmpfs\":[{\"size\":1}]}",
		"{\"sharedMemorySize\":0}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = xasprintf("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":%s}", bad[i]);
		def = J(t);
		in = base_in(def);
		char *msg = build_err(&in);
		assert_contains(msg, "container 'app': linuxParameters");
		free(msg);
		json_decref(def);
		free(t);
	}
}

static void test_ulimits(void **state)
{
	(void)state;
	unsigned long long max[RLIM_NLIMITS];
	for (int i = 0; i < RLIM_NLIMITS; i++)
		max[i] = OCISPEC_RLIM_UNLIMITED;
	max[RLIMIT_NOFILE] = 1024;
	max[RLIMIT_NPROC] = 5000;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"],\"ulimits\":["
			"{\"name\":\"nofile\",\"softLimit\":4096,\"hardLimit\":8192},"
			"{\"name\":\"core\",\"softLimit\":-1,\"hardLimit\":-1},"
			"{\"name\":\"nproc\",\"softLimit\":100,\"hardLimit\":-1},"
			"{\"name\":\"stack\",\"softLimit\":8388608,\"hardLimit\":8388608}]}");
	struct ocispec_in in = base_in(def);
	in.rlimit_max = max;
	json_t *w, *spec = build_ok(&in, &w);
	char *s = jv_dump(jp(spec, "process.rlimits"));
	assert_string_equal(s, "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024},"
			       "{\"type\":\"RLIMIT_CORE\",\"hard\":-1,\"soft\":-1},"
			       "{\"type\":\"RLIMIT_NPROC\",\"hard\":5000,\"soft\":100},"
			       "{\"type\":\"RLIMIT_STACK\",\"hard\":8388608,\"soft\":8388608}]");
	free(s);
	assert_int_equal(json_array_size(w), 2);
	assert_string_equal(
		json_string_value(json_array_get(w, 0)),
		"container 'app': ulimit nofile 4096:8192 lowered to 1024:1024, the agent's own hard limit");
	assert_string_equal(
		json_string_value(json_array_get(w, 1)),
		"container 'app': ulimit nproc 100:unlimited lowered to 100:5000, the agent's own hard "
		"limit");
	json_decref(w);
	json_decref(spec);
	json_decref(def);

	/* The default nofile is clamped without a warning; without rlimit_max it stays. */
	def = J("{\"name\":\"app\",\"command\":[\"x\"]}");
	in = base_in(def);
	in.rlimit_max = max;
	spec = build_ok(&in, &w);
	s = jv_dump(jp(spec, "process.rlimits"));
	assert_string_equal(s, "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}]");
	free(s);
	assert_int_equal(json_array_size(w), 0);
	json_decref(w);
	json_decref(spec);
	in.rlimit_max = NULL;
	spec = build_ok(&in, NULL);
	assert_int_equal(jpi(json_array_get(jp(spec, "process.rlimits"), 0), "soft"), 65535);
	json_decref(spec);
	json_decref(def);

	static const char *const bad[] = {
		"{\"name\":\"bogus\",\"softLimit\":1,\"hardLimit\":1}",
		"{\"name\":\"nofile\",\"softLimit\":10,\"hardLimit\":5}",
		"{\"name\":\"nofile\",\"softLimit\":-1,\"hardLimit\":5}",
		"{\"name\":\"nofile\",\"softLimit\":-2,\"hardLimit\":5}",
		"{\"name\":\"nofile\",\"softLimit\":1}",
		"{\"name\":\"core\",\"softLimit\":1,\"hardLimit\":1},{\"name\":\"core\",\"softLimit\":1,"
		"\"hardLimit\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = xasprintf("{\"name\":\"app\",\"command\":[\"x\"],\"ulimits\":[%s]}", bad[i]);
		def = J(t);
		in = base_in(def);
		char *msg = build_err(&in);
		assert_contains(msg, "container 'app': ulimits");
		free(msg);
		json_decref(def);
		free(t);
	}
}

static const char *ns_path(json_t *spec, const char *type, bool *present)
{
	size_t i;
	json_t *n;
	*present = false;
	json_array_foreach (jp(spec, "linux.namespaces"), i, n) {
		if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0) {
			*present = true;
			return json_string_value(json_object_get(n, "path"));
		}
	}
	return NULL;
}

static void test_namespaces(void **state)
{
	(void)state;
	bool present;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"],\"systemControls\":[{\"namespace\":"
			"\"net.core.somaxconn\",\"value\":\"1024\"}]}");
	struct ocispec_in in = base_in(def);
	json_t *spec = build_ok(&in, NULL);
	static const char *const all[] = {"pid", "network", "ipc", "uts", "mount", "cgroup"};
	for (size_t i = 0; i < 6; i++) {
		assert_null(ns_path(spec, all[i], &present));
		assert_true(present);
	}
	assert_string_equal(
		json_string_value(json_object_get(jp(spec, "linux.sysctl"), "net.core.somaxconn")), "1024");
	json_decref(spec);

	in.netns = "/run/netns/task-1";
	in.pidns = "/proc/42/ns/pid";
	in.ipcns = OCISPEC_NS_HOST;
	spec = build_ok(&in, NULL);
	assert_string_equal(ns_path(spec, "network", &present), "/run/netns/task-1");
	assert_string_equal(ns_path(spec, "pid", &present), "/proc/42/ns/pid");
	ns_path(spec, "ipc", &present);
	assert_false(present);
	assert_non_null(json_object_get(jp(spec, "linux.sysctl"), "net.ipv4.ping_group_range"));
	json_decref(spec);

	/* The host's network namespace: no network namespace, no net.* sysctl. */
	in.netns = OCISPEC_NS_HOST;
	char *msg = build_err(&in);
	assert_contains(msg, "container 'app': systemControls: 'net.core.somaxconn'");
	free(msg);
	json_decref(def);
	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"systemControls\":[{\"namespace\":"
		"\"kernel.shmmax\",\"value\":\"1\"}]}");
	in.def = def;
	spec = build_ok(&in, NULL);
	ns_path(spec, "network", &present);
	assert_false(present);
	assert_null(json_object_get(jp(spec, "linux.sysctl"), "net.ipv4.ping_group_range"));
	assert_non_null(json_object_get(jp(spec, "linux.sysctl"), "kernel.shmmax"));
	json_decref(spec);
	json_decref(def);

	/* disableNetworking: a new, empty network namespace whatever the agent passed. */
	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"disableNetworking\":true}");
	in.def = def;
	spec = build_ok(&in, NULL);
	assert_null(ns_path(spec, "network", &present));
	assert_true(present);
	json_decref(spec);
	json_decref(def);
}

static void test_mount_order(void **state)
{
	(void)state;
	json_t *def = J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"tmpfs\":["
			"{\"containerPath\":\"/data/cache\",\"size\":4}]}}");
	struct ocispec_mount vols[] = {
		{"/var/lib/gantry/v/sub", "/data/sub", false},
		{"/var/lib/gantry/v/etc", "/etc", true},
		{"/var/lib/gantry/v/data", "/data", false},
	};
	struct ocispec_in in = base_in(def);
	in.mounts = vols;
	in.nmounts = 3;
	in.hosts = "/run/h";
	in.resolv_conf = "/run/r";
	in.init_path = "/usr/bin/tini";
	json_t *spec = build_ok(&in, NULL);
	char *order = NULL;
	{
		json_t *dests = json_array(), *m;
		size_t i;
		json_array_foreach (json_object_get(spec, "mounts"), i, m)
			json_array_append(dests, json_object_get(m, "destination"));
		order = joined(dests, " ");
		json_decref(dests);
	}
	assert_string_equal(order, "/proc /dev /dev/pts /dev/shm /dev/mqueue /sys /sys/fs/cgroup "
				   "/etc /data /data/cache /data/sub /etc/resolv.conf /etc/hosts");
	free(order);
	json_t *etc = find_mount(spec, "/etc", NULL);
	assert_array(json_object_get(etc, "options"), "rbind rprivate ro");
	assert_string_equal(json_string_value(json_object_get(etc, "source")), "/var/lib/gantry/v/etc");
	assert_array(json_object_get(find_mount(spec, "/data", NULL), "options"), "rbind rprivate");
	json_decref(spec);

	/* A volume on /etc/hosts replaces the agent's hosts file; two on one path are an error. */
	struct ocispec_mount hosts_vol[] = {{"/srv/myhosts", "/etc/hosts", true}};
	in.mounts = hosts_vol;
	in.nmounts = 1;
	spec = build_ok(&in, NULL);
	assert_int_equal(count_mounts(spec, "/etc/hosts"), 1);
	assert_string_equal(
		json_string_value(json_object_get(find_mount(spec, "/etc/hosts", NULL), "source")),
		"/srv/myhosts");
	json_decref(spec);
	struct ocispec_mount dup[] = {{"/a", "/data", false}, {"/b", "/data/", false}};
	in.mounts = dup;
	in.nmounts = 2;
	char *msg = build_err(&in);
	assert_contains(msg, "container 'app': mountPoints: '/data' is mounted twice");
	free(msg);
	struct ocispec_mount clash[] = {{"/a", "/data/cache", false}};
	in.mounts = clash;
	in.nmounts = 1;
	msg = build_err(&in);
	assert_contains(msg, "mounted twice");
	free(msg);
	struct ocispec_mount rel[] = {{"relative", "/x", false}};
	in.mounts = rel;
	msg = build_err(&in);
	assert_contains(msg, "absolute host path");
	free(msg);
	json_decref(def);
}

static void test_devices(void **state)
{
	(void)state;
	json_t *def =
		J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"devices\":["
		  "{\"hostPath\":\"/dev/null\",\"containerPath\":\"/dev/mynull\",\"permissions\":[\"read\"]},"
		  "{\"hostPath\":\"/dev/zero\"}]}}");
	struct ocispec_in in = base_in(def);
	json_t *spec = build_ok(&in, NULL);
	json_t *devs = jp(spec, "linux.devices"), *d = json_array_get(devs, 0);
	assert_int_equal(json_array_size(devs), 2);
	assert_string_equal(json_string_value(json_object_get(d, "path")), "/dev/mynull");
	assert_string_equal(json_string_value(json_object_get(d, "type")), "c");
	assert_int_equal(jpi(d, "major"), 1);
	assert_int_equal(jpi(d, "minor"), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(devs, 1), "path")), "/dev/zero");
	json_t *rules = jp(spec, "linux.resources.devices");
	json_t *last = json_array_get(rules, json_array_size(rules) - 1);
	json_t *prev = json_array_get(rules, json_array_size(rules) - 2);
	assert_string_equal(json_string_value(json_object_get(prev, "access")), "r");
	assert_int_equal(jpi(prev, "minor"), 3);
	assert_string_equal(json_string_value(json_object_get(last, "access")), "rwm");
	json_decref(spec);
	json_decref(def);

	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"devices\":[{\"hostPath\":\"/"
		"etc/passwd\"}]}}");
	in = base_in(def);
	char *msg = build_err(&in);
	assert_contains(msg, "container 'app': linuxParameters.devices: /etc/passwd is not a device");
	free(msg);
	json_decref(def);
	def = J("{\"name\":\"app\",\"command\":[\"x\"],\"linuxParameters\":{\"devices\":[{\"hostPath\":\"/"
		"dev/nope-x\"}]}}");
	in = base_in(def);
	struct err *e = NULL;
	assert_null(ocispec_build(&in, NULL, &e));
	assert_int_equal(e->kind, ERR_SYS);
	assert_int_equal(e->sys_errno, ENOENT);
	err_free(e);
	json_decref(def);
}

static void test_required_inputs(void **state)
{
	(void)state;
	json_t *def = J("{\"command\":[\"x\"]}");
	struct ocispec_in in = base_in(def);
	char *msg = build_err(&in);
	assert_contains(msg, "'name'");
	free(msg);
	json_decref(def);
	def = J("{\"name\":\"app\",\"command\":[\"x\"]}");
	in = base_in(def);
	in.cgroups_path = NULL;
	struct err *e = NULL;
	assert_null(ocispec_build(&in, NULL, &e));
	assert_int_equal(e->kind, ERR_INTERNAL);
	err_free(e);
	json_decref(def);
}

static void test_hosts_file(void **state)
{
	(void)state;
	json_t *def =
		J("{\"name\":\"app\",\"extraHosts\":[{\"hostname\":\"db.local\",\"ipAddress\":\"10.0.0.9\"},"
		  "{\"hostname\":\"v6\",\"ipAddress\":\"fd00::1\"}]}");
	struct err *e = NULL;
	char *h = ocispec_hosts_file(def, NULL, "web-1", "172.17.0.2", &e);
	assert_non_null(h);
	assert_contains(h, "127.0.0.1\tlocalhost\n");
	assert_contains(h, "::1\tlocalhost ip6-localhost ip6-loopback\n");
	assert_contains(h, "10.0.0.9\tdb.local\nfd00::1\tv6\n172.17.0.2\tweb-1\n");
	free(h);
	h = ocispec_hosts_file(def, "127.0.0.1 localhost myhost", "myhost", NULL, &e);
	assert_string_equal(h, "127.0.0.1 localhost myhost\n10.0.0.9\tdb.local\nfd00::1\tv6\n");
	free(h);
	h = ocispec_hosts_file(NULL, NULL, "solo", NULL, &e);
	assert_contains(h, "127.0.1.1\tsolo\n");
	free(h);
	json_decref(def);
	static const char *const bad[] = {
		"[{\"hostname\":\"db\",\"ipAddress\":\"10.0.0.300\"}]",
		"[{\"hostname\":\"db evil\",\"ipAddress\":\"10.0.0.3\"}]",
		"[{\"hostname\":\"db\\nevil\",\"ipAddress\":\"10.0.0.3\"}]",
		"[{\"hostname\":\"db\"}]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *t = xasprintf("{\"extraHosts\":%s}", bad[i]);
		def = J(t);
		assert_null(ocispec_hosts_file(def, NULL, "h", NULL, &e));
		assert_non_null(e);
		assert_contains(e->msg, "extraHosts[0]");
		err_free(e);
		e = NULL;
		json_decref(def);
		free(t);
	}
}

static void test_resolv_conf(void **state)
{
	(void)state;
	const char *host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\n"
			   "search ec2.internal corp\noptions edns0 trust-ad\n";
	struct err *e = NULL;
	char *r = ocispec_resolv_conf(NULL, host, false, &e);
	assert_string_equal(r, "search ec2.internal corp\nnameserver 10.0.0.2\noptions edns0 trust-ad\n");
	free(r);
	r = ocispec_resolv_conf(NULL, host, true, &e);
	assert_string_equal(r, "search ec2.internal corp\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
			       "nameserver ::1\noptions edns0 trust-ad\n");
	free(r);
	r = ocispec_resolv_conf(NULL, "nameserver 127.0.0.53\n", false, &e);
	assert_string_equal(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	free(r);
	json_t *def =
		J("{\"dnsServers\":[\"1.1.1.1\",\"2606:4700::1111\"],\"dnsSearchDomains\":[\"a.example\","
		  "\"b.example\"]}");
	r = ocispec_resolv_conf(def, host, false, &e);
	assert_string_equal(r, "search a.example b.example\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\n"
			       "options edns0 trust-ad\n");
	free(r);
	json_decref(def);
	def = J("{\"dnsServers\":[\"dns.example\"]}");
	assert_null(ocispec_resolv_conf(def, NULL, false, &e));
	assert_contains(e->msg, "dnsServers: 'dns.example'");
	err_free(e);
	e = NULL;
	json_decref(def);
	def = J("{\"dnsSearchDomains\":[\"a b\"]}");
	assert_null(ocispec_resolv_conf(def, NULL, false, &e));
	assert_contains(e->msg, "dnsSearchDomains");
	err_free(e);
	json_decref(def);
}

static void test_stop_signal(void **state)
{
	(void)state;
	static const struct {
		const char *sig;
		int expect;
	} cases[] = {
		{NULL, SIGTERM},   {"SIGINT", SIGINT},	   {"quit", SIGQUIT}, {"9", SIGKILL},
		{"SIGRTMIN+3", 0}, {"SIGWINCH", SIGWINCH}, {"SIGBOGUS", -1},  {"0", -1},
		{"999", -1},	   {"RTMAX-100", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *img = cases[i].sig ? json_pack("{s:{s:s}}", "config", "StopSignal", cases[i].sig)
					   : json_pack("{s:{}}", "config");
		struct err *e = NULL;
		int expect = cases[i].expect == 0 ? SIGRTMIN + 3 : cases[i].expect;
		int got = ocispec_stop_signal(img, &e);
		if (got != expect)
			fail_msg("StopSignal '%s': %d, expected %d", cases[i].sig ? cases[i].sig : "", got,
				 expect);
		if (expect < 0) {
			assert_non_null(e);
			assert_contains(e->msg, "StopSignal");
		}
		err_free(e);
		json_decref(img);
	}
	assert_int_equal(ocispec_stop_signal(NULL, NULL), SIGTERM);
}

static void test_host_probes(void **state)
{
	(void)state;
	unsigned long long max[RLIM_NLIMITS];
	ocispec_rlimit_max(max);
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max == RLIM_INFINITY)
		assert_true(max[RLIMIT_NOFILE] == OCISPEC_RLIM_UNLIMITED);
	else
		assert_true(max[RLIMIT_NOFILE] == (unsigned long long)rl.rlim_max);
	unsigned long long b = ocispec_cap_bounding();
	assert_true(b != 0);
	assert_true((b >> 41) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_spec),
		cmocka_unit_test(test_args_matrix),
		cmocka_unit_test(test_init_process),
		cmocka_unit_test(test_env_precedence),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_cwd_hostname_labels),
		cmocka_unit_test(test_cgroup_resources),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_security_defaults),
		cmocka_unit_test(test_privileged),
		cmocka_unit_test(test_readonly_root_and_etc_files),
		cmocka_unit_test(test_tmpfs_and_shm),
		cmocka_unit_test(test_ulimits),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_mount_order),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_required_inputs),
		cmocka_unit_test(test_hosts_file),
		cmocka_unit_test(test_resolv_conf),
		cmocka_unit_test(test_stop_signal),
		cmocka_unit_test(test_host_probes),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
