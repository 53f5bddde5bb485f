/* Builds the OCI runtime spec (config.json) of one container of a task for crun, and the /etc/hosts
 * and /etc/resolv.conf texts that go with it. ocispec.h says what each setting becomes and why. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/ocispec.h"
#include "common/buf.h"
#include "common/jv.h"
#include "common/xalloc.h"

#define WARNING_MAX	    1024	  /* bytes of one warning */
#define SEARCH_DOMAIN_MAX   253		  /* a DNS name */
#define ID_MAX		    4294967294ULL /* uid/gid: (uid_t)-1 means "no change" to the kernel */
#define DEV_SIZE_OPT	    "size=65536k" /* /dev's tmpfs holds device nodes and symlinks only */
#define DEFAULT_NAMESERVER  "8.8.8.8"	  /* docker's fallback when the host has no usable one */
#define DEFAULT_NAMESERVER2 "8.8.4.4"

/* Capability names by number (linux/capability.h), without the CAP_ prefix. */
static const char *const cap_names[] = {
	"CHOWN",
	"DAC_OVERRIDE",
	"DAC_READ_SEARCH",
	"FOWNER",
	"FSETID",
	"KILL",
	"SETGID",
	"SETUID",
	"SETPCAP",
	"LINUX_IMMUTABLE",
	"NET_BIND_SERVICE",
	"NET_BROADCAST",
	"NET_ADMIN",
	"NET_RAW",
	"IPC_LOCK",
	"IPC_OWNER",
	"SYS_MODULE",
	"SYS_RAWIO",
	"SYS_CHROOT",
	"SYS_PTRACE",
	"SYS_PACCT",
	"SYS_ADMIN",
	"SYS_BOOT",
	"SYS_NICE",
	"SYS_RESOURCE",
	"SYS_TIME",
	"SYS_TTY_CONFIG",
	"MKNOD",
	"LEASE",
	"AUDIT_WRITE",
	"AUDIT_CONTROL",
	"SETFCAP",
	"MAC_OVERRIDE",
	"MAC_ADMIN",
	"SYSLOG",
	"WAKE_ALARM",
	"BLOCK_SUSPEND",
	"AUDIT_READ",
	"PERFMON",
	"BPF",
	"CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof cap_names / sizeof cap_names[0]))

enum {
	C_DAC_READ_SEARCH = 2,
	C_SYS_MODULE = 16,
	C_SYS_RAWIO = 17,
	C_SYS_PTRACE = 19,
	C_SYS_PACCT = 20,
	C_SYS_ADMIN = 21,
	C_SYS_BOOT = 22,
	C_SYS_TIME = 25,
	C_SYS_TTY_CONFIG = 26,
	C_SYSLOG = 34,
	C_PERFMON = 38,
	C_BPF = 39,
};
#define CAPB(n) (1ULL << (n))

/* The seccomp deny list (see ocispec.h): system calls refused with EPERM unless the container has
 * one of the capabilities in `unless` (0 = always). Names a kernel or architecture lacks are
 * ignored by crun. */
static const struct {
	const char *names;
	uint64_t unless;
} seccomp_deny[] = {
	/* The keyring is not namespaced: keys would be shared with the host and other containers. */
	{"add_key keyctl request_key", 0},
	/* Obsolete interfaces with a history of holes. */
	{"uselib nfsservctl _sysctl create_module get_kernel_syms query_module vm86 vm86old", 0},
	{"kexec_load kexec_file_load reboot", CAPB(C_SYS_BOOT)},
	{"init_module finit_module delete_module", CAPB(C_SYS_MODULE)},
	{"mount umount umount2 pivot_root swapon swapoff quotactl quotactl_fd fsopen fsconfig fsmount "
	 "fspick move_mount open_tree mount_setattr unshare setns fanotify_init lookup_dcookie",
	 CAPB(C_SYS_ADMIN)},
	{"bpf", CAPB(C_SYS_ADMIN) | CAPB(C_BPF)},
	{"perf_event_open", CAPB(C_SYS_ADMIN) | CAPB(C_PERFMON)},
	{"ptrace process_vm_readv process_vm_writev kcmp userfaultfd", CAPB(C_SYS_PTRACE)},
	{"open_by_handle_at", CAPB(C_DAC_READ_SEARCH)},
	{"settimeofday stime clock_settime clock_adjtime", CAPB(C_SYS_TIME)},
	{"acct", CAPB(C_SYS_PACCT)},
	{"iopl ioperm", CAPB(C_SYS_RAWIO)},
	{"syslog", CAPB(C_SYS_ADMIN) | CAPB(C_SYSLOG)},
	{"vhangup", CAPB(C_SYS_TTY_CONFIG)},
};

/* clone()'s namespace flags, each refused without CAP_SYS_ADMIN (one rule per flag: seccomp can
 * test "flag set" but not "any of these set"). */
static const unsigned long clone_ns_flags[] = {0x00020000, 0x02000000, 0x04000000, 0x08000000,
					       0x10000000, 0x20000000, 0x40000000};

/* podman's masked and read-only paths (containers/common). */
static const char *const masked_paths[] = {
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/interrupts",
	"/sys/dev/block",
	"/sys/devices/virtual/powercap",
	"/sys/firmware",
	"/sys/fs/selinux",
	NULL,
};
static const char *const readonly_paths[] = {
	"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* docker's default device cgroup: mknod of anything, and these character devices. */
static const struct {
	int major, minor; /* -1 = any */
} default_devices[] = {
	{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}, {10, 200},
};

/* ECS ulimit names. */
static const struct {
	const char *ecs, *oci;
	int resource;
} ulimit_names[] = {
	{"core", "RLIMIT_CORE", RLIMIT_CORE},
	{"cpu", "RLIMIT_CPU", RLIMIT_CPU},
	{"data", "RLIMIT_DATA", RLIMIT_DATA},
	{"fsize", "RLIMIT_FSIZE", RLIMIT_FSIZE},
	{"locks", "RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"memlock", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
	{"msgqueue", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"nice", "RLIMIT_NICE", RLIMIT_NICE},
	{"nofile", "RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"nproc", "RLIMIT_NPROC", RLIMIT_NPROC},
	{"rss", "RLIMIT_RSS", RLIMIT_RSS},
	{"rtprio", "RLIMIT_RTPRIO", RLIMIT_RTPRIO},
	{"rttime", "RLIMIT_RTTIME", RLIMIT_RTTIME},
	{"sigpending", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
	{"stack", "RLIMIT_STACK", RLIMIT_STACK},
};
#define NULIMITS (sizeof ulimit_names / sizeof ulimit_names[0])

struct ctx {
	const struct ocispec_in *in;
	json_t *def;
	json_t *icfg; /* the image's "config" object, or NULL */
	const char *name;
	const char *hostname;
	json_t *warnings;
	bool privileged, readonly_root, init;
	uint64_t caps;
	char *home; /* the user's home directory (for HOME) */
};

static void warn(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct ctx *c, const char *fmt, ...)
{
	char msg[WARNING_MAX];
	va_list ap;
	int n = snprintf(msg, sizeof msg, "container '%s': ", c->name);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof msg)
		vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	json_array_append_new(c->warnings, jv_str_lossy(msg));
}

static void append_str(json_t *arr, const char *s)
{
	json_array_append_new(arr, jv_str_lossy(s));
}

/* Cleans an absolute path inside the container: collapses "//" and "/./" and drops a trailing "/".
 * Returns a new string, or NULL with *err for a relative path or one that climbs with "..". */
static char *clean_path(const char *what, const char *p, struct err **err)
{
	struct buf b = BUF_INIT;
	if (!p || p[0] != '/') {
		err_set(err, ERR_CLIENT, "%s: '%s' is not an absolute path", what, p ? p : "");
		return NULL;
	}
	for (const char *s = p; *s;) {
		while (*s == '/')
			s++;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			buf_release(&b);
			err_set(err, ERR_CLIENT, "%s: '%s' may not contain '..'", what, p);
			return NULL;
		}
		if (n > 0 && !(n == 1 && s[0] == '.')) {
			buf_addc(&b, '/');
			buf_add(&b, s, n);
		}
		s = e;
	}
	if (b.len == 0)
		buf_addc(&b, '/');
	return buf_detach(&b, NULL);
}

/* The number of components of a cleaned path other than "/". */
static size_t path_depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

/* A uid or gid in decimal. */
static bool parse_id(const char *s, size_t n, unsigned *out)
{
	unsigned long long v = 0;
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > ID_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool host_name_ok(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && !strchr(".-_", s[n]))
			return false;
	return n >= 1 && n <= max;
}

static bool ip_ok(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* ---- files of the image ---- */

/* Opens rel (no leading "/") inside the directory root, resolving every link as if root were "/",
 * so that an image whose etc/passwd links to /etc/shadow reads its own, not the host's. Kernels
 * without openat2 (before 5.6) get a walk that refuses links instead. Returns the descriptor; -1 with
 * errno when rel cannot be opened; -2 with *err when root cannot. */
static int open_in_root(const char *root, const char *rel, struct err **err)
{
	int dfd = -1, fd = -1;
	dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err_sys(err, errno, "open the root filesystem %s", root);
		return -2;
	}
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
	if (fd < 0 && errno == ENOSYS) {
		int cur = dfd;
		for (const char *s = rel; *s && cur >= 0;) {
			const char *e = strchr(s, '/');
			char *part = xstrndup(s, e ? (size_t)(e - s) : strlen(s));
			int flags = (e ? O_PATH | O_DIRECTORY : O_RDONLY | O_NOCTTY | O_NONBLOCK) |
				    O_NOFOLLOW | O_CLOEXEC;
			int next = openat(cur, part, flags), saved = errno;
			free(part);
			if (cur != dfd)
				close(cur);
			cur = next;
			errno = saved;
			s = e ? e + 1 : s + strlen(s);
		}
		fd = cur == dfd ? -1 : cur;
	}
	if (fd < 0) {
		int e = errno;
		close(dfd);
		errno = e;
		return -1; /* the caller tells ENOENT from other failures */
	}
	close(dfd);
	return fd;
}

/* Reads root/rel into *text (NUL-terminated, the caller frees). Returns 1 when read, 0 when the file
 * does not exist (*text NULL), -1 with *err otherwise. */
static int read_root_file(const char *root, const char *rel, char **text, struct err **err)
{
	struct buf b = BUF_INIT;
	struct stat st;
	int rc = -1, fd;
	*text = NULL;
	fd = open_in_root(root, rel, err);
	if (fd == -2)
		return -1;
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_sys(err, errno, "open /%s in the image", rel);
	}
	if (fstat(fd, &st) < 0) {
		err_sys(err, errno, "stat /%s in the image", rel);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, ERR_CLIENT, "/%s in the image is not a regular file", rel);
		goto out;
	}
	if (st.st_size > OCISPEC_ETC_FILE_MAX) {
		err_set(err, ERR_CLIENT, "/%s in the image is larger than %d bytes", rel,
			OCISPEC_ETC_FILE_MAX);
		goto out;
	}
	buf_init(&b, OCISPEC_ETC_FILE_MAX);
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(err, errno, "read /%s in the image", rel);
			goto out;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			err_set(err, ERR_CLIENT, "/%s in the image is larger than %d bytes", rel,
				OCISPEC_ETC_FILE_MAX);
			goto out;
		}
	}
	*text = buf_detach(&b, NULL);
	rc = 1;
out:
	buf_release(&b);
	close(fd);
	return rc;
}

/* Splits one line of a colon-separated file into at most max fields; returns how many. */
static size_t split_fields(const char *line, size_t len, struct str *f, size_t max)
{
	size_t n = 0;
	const char *s = line, *end = line + len;
	while (n < max) {
		const char *c = memchr(s, ':', (size_t)(end - s));
		f[n].p = s;
		f[n].n = c ? (size_t)(c - s) : (size_t)(end - s);
		n++;
		if (!c)
			break;
		s = c + 1;
	}
	return n;
}

/* Calls fn for each non-comment line of text with its fields; stops when fn returns true. */
static bool each_entry(const char *text, size_t nfields, bool (*fn)(struct str *f, size_t n, void *arg),
		       void *arg)
{
	struct str f[8];
	for (const char *s = text; s && *s;) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (len > 0 && s[0] != '#') {
			size_t n = split_fields(s, len, f, nfields);
			if (fn(f, n, arg))
				return true;
		}
		s = nl ? nl + 1 : NULL;
	}
	return false;
}

struct pw_query {
	const char *name; /* match by name, or ... */
	unsigned uid;	  /* ... by uid when name is NULL */
	bool found;
	unsigned out_uid, out_gid;
	struct str out_name, out_home;
};

static bool pw_match(struct str *f, size_t n, void *arg)
{
	struct pw_query *q = arg;
	unsigned uid, gid;
	if (n < 4 || !parse_id(f[2].p, f[2].n, &uid) || !parse_id(f[3].p, f[3].n, &gid))
		return false;
	if (q->name ? !str_eq(f[0], q->name) : uid != q->uid)
		return false;
	q->found = true;
	q->out_uid = uid;
	q->out_gid = gid;
	q->out_name = f[0];
	q->out_home = n >= 6 ? f[5] : (struct str){"", 0};
	return true;
}

struct gr_query {
	const char *name;  /* a group by name (explicit group), or ... */
	struct str member; /* ... every group listing this user (supplementary groups) */
	bool found;
	unsigned gid;
	json_t *gids;
};

static bool gr_match(struct str *f, size_t n, void *arg)
{
	struct gr_query *q = arg;
	unsigned gid;
	if (n < 3 || !parse_id(f[2].p, f[2].n, &gid))
		return false;
	if (q->name) {
		if (!str_eq(f[0], q->name))
			return false;
		q->found = true;
		q->gid = gid;
		return true;
	}
	if (n < 4)
		return false;
	for (const char *s = f[3].p, *end = f[3].p + f[3].n; s < end;) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t len = c ? (size_t)(c - s) : (size_t)(end - s);
		if (len == q->member.n && memcmp(s, q->member.p, len) == 0) {
			size_t i;
			json_t *v;
			json_array_foreach (q->gids, i, v) {
				if ((unsigned)json_integer_value(v) == gid)
					return false;
			}
			json_array_append_new(q->gids, json_integer(gid));
			return false;
		}
		s = c ? c + 1 : end;
	}
	return false;
}

/* process.user from `user` (the definition's, else the image's), resolving names in the image's
 * etc/passwd and etc/group as docker does. Sets c->home. */
static int build_user(struct ctx *c, json_t *process, struct err **err)
{
	const char *spec = NULL;
	char *passwd = NULL, *group = NULL, *uname = NULL, *gname = NULL;
	json_t *user = NULL, *sgids = NULL;
	unsigned uid = 0, gid = 0;
	bool numeric_uid, have_group;
	int rc = -1;

	if (jv_str(c->def, "user", false, &spec, err) < 0)
		return -1;
	if (!spec || !*spec)
		spec = json_string_value(json_object_get(c->icfg, "User"));
	if (!spec)
		spec = "";
	const char *colon = strchr(spec, ':');
	uname = xstrndup(spec, colon ? (size_t)(colon - spec) : strlen(spec));
	gname = colon ? xstrdup(colon + 1) : NULL;
	have_group = gname && *gname;
	if (colon && (!*uname || !have_group)) {
		err_set(err, ERR_CLIENT, "user '%s': expected user, user:group, uid or uid:gid", spec);
		goto out;
	}
	numeric_uid = !*uname || parse_id(uname, strlen(uname), &uid);
	if (!numeric_uid && (strlen(uname) > 256 || strpbrk(uname, " \t\n"))) {
		err_set(err, ERR_CLIENT, "user '%s': not a user name or uid", spec);
		goto out;
	}
	if (read_root_file(c->in->rootfs, "etc/passwd", &passwd, err) < 0 ||
	    read_root_file(c->in->rootfs, "etc/group", &group, err) < 0)
		goto out;

	struct pw_query pq = {.name = numeric_uid ? NULL : uname, .uid = uid};
	if (passwd)
		each_entry(passwd, 7, pw_match, &pq);
	if (!pq.found && !numeric_uid) {
		err_set(err, ERR_CLIENT, "user '%s': no user '%s' in the image's /etc/passwd", spec, uname);
		goto out;
	}
	if (pq.found) {
		uid = pq.out_uid;
		gid = pq.out_gid;
		c->home = pq.out_home.n ? xstrndup(pq.out_home.p, pq.out_home.n) : xstrdup("/");
	} else {
		c->home = xstrdup("/");
	}

	if (have_group) {
		if (!parse_id(gname, strlen(gname), &gid)) {
			struct gr_query gq = {.name = gname};
			if (group)
				each_entry(group, 4, gr_match, &gq);
			if (!gq.found) {
				err_set(err, ERR_CLIENT, "user '%s': no group '%s' in the image's /etc/group",
					spec, gname);
				goto out;
			}
			gid = gq.gid;
		}
	} else if (pq.found && group) {
		/* Supplementary groups only in the implicit form, as runc's GetExecUser does. */
		struct gr_query gq = {.member = pq.out_name, .gids = json_array()};
		each_entry(group, 4, gr_match, &gq);
		sgids = gq.gids;
	}
	user = json_pack("{s:I,s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid);
	if (json_array_size(sgids) > 0)
		json_object_set(user, "additionalGids", sgids);
	json_object_set(process, "user", user);
	rc = 0;
out:
	json_decref(user);
	json_decref(sgids);
	free(passwd);
	free(group);
	free(uname);
	free(gname);
	return rc;
}

/* ---- process ---- */

/* The image config's string list member key: *out borrowed, NULL when absent or null. */
static int image_list(struct ctx *c, const char *key, json_t **out, struct err **err)
{
	json_t *v = json_object_get(c->icfg, key), *s;
	size_t i;
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return err_set(err, ERR_CLIENT, "image config: %s is not a list", key);
	json_array_foreach (v, i, s) {
		if (!json_is_string(s))
			return err_set(err, ERR_CLIENT, "image config: %s[%zu] is not a string", key, i);
	}
	*out = v;
	return 0;
}

/* docker's merge of the container's and the image's Entrypoint and Cmd (daemon/create.go). */
static int build_args(struct ctx *c, json_t *process, struct err **err)
{
	json_t *ep = NULL, *cmd = NULL, *ocmd = NULL, *iep, *icmd, *args, *v;
	size_t i;
	if (jv_str_array(c->def, "entryPoint", false, &ep, err) < 0 ||
	    jv_str_array(c->def, "command", false, &cmd, err) < 0)
		return -1;
	if (jv_str_array(c->in->override, "command", false, &ocmd, err) < 0)
		return err_prefix(err, "containerOverrides");
	if (ocmd)
		cmd = ocmd;
	if (image_list(c, "Entrypoint", &iep, err) < 0 || image_list(c, "Cmd", &icmd, err) < 0)
		return -1;
	if (json_array_size(ep) == 0) {
		if (json_array_size(cmd) == 0)
			cmd = icmd;
		if (!ep)
			ep = iep;
	}
	args = json_array();
	if (c->init) {
		append_str(args, OCISPEC_INIT_DEST);
		append_str(args, "--");
	}
	size_t base = json_array_size(args);
	json_array_foreach (ep, i, v)
		json_array_append(args, v);
	json_array_foreach (cmd, i, v)
		json_array_append(args, v);
	if (json_array_size(args) == base) {
		json_decref(args);
		return err_set(err, ERR_CLIENT,
			       "no command to run: neither the task definition (entryPoint, command) nor the "
			       "image (Entrypoint, Cmd) names one");
	}
	json_object_set_new(process, "args", args);
	return 0;
}

/* Sets env[name] (n bytes of name); a later value replaces an earlier one in its first position. */
static void env_put(json_t *env, const char *name, size_t n, const char *value)
{
	char *k = xstrndup(name, n);
	json_object_set_new(env, k, jv_str_lossy(value));
	free(k);
}

/* environment [{name, value}] of the definition or the override. */
static int env_from_pairs(json_t *env, json_t *obj, struct err **err)
{
	json_t *list = NULL, *kv;
	size_t i;
	if (jv_array(obj, "environment", false, &list, err) < 0)
		return -1;
	json_array_foreach (list, i, kv) {
		const char *k = NULL, *v = NULL;
		if (jv_str(kv, "name", false, &k, err) < 0 || jv_str(kv, "value", false, &v, err) < 0)
			return err_prefix(err, "environment[%zu]", i);
		if (!k || !*k || strchr(k, '='))
			return err_set(err, ERR_CLIENT, "environment[%zu]: '%s' is not a variable name", i,
				       k ? k : "");
		env_put(env, k, strlen(k), v ? v : "");
	}
	return 0;
}

static int build_env(struct ctx *c, json_t *process, struct err **err)
{
	json_t *env = json_object(), *ienv, *v, *out = NULL;
	const char *k;
	size_t i;
	int rc = -1;
	env_put(env, "PATH", 4, OCISPEC_DEFAULT_PATH);
	env_put(env, "HOSTNAME", 8, c->hostname);
	if (image_list(c, "Env", &ienv, err) < 0)
		goto out;
	json_array_foreach (ienv, i, v) {
		const char *s = json_string_value(v), *eq = strchr(s, '=');
		if (eq && eq > s)
			env_put(env, s, (size_t)(eq - s), eq + 1);
	}
	if (env_from_pairs(env, c->def, err) < 0)
		goto out;
	if (env_from_pairs(env, c->in->override, err) < 0) {
		err_prefix(err, "containerOverrides");
		goto out;
	}
	for (i = 0; i < c->in->nenv; i++) {
		const char *s = c->in->env[i], *eq = s ? strchr(s, '=') : NULL;
		if (!eq || eq == s) {
			err_set(err, ERR_INTERNAL, "injected environment variable '%s' is not NAME=value",
				s ? s : "");
			goto out;
		}
		env_put(env, s, (size_t)(eq - s), eq + 1);
	}
	if (!json_object_get(env, "HOME"))
		env_put(env, "HOME", 4, c->home ? c->home : "/");
	out = json_array();
	json_object_foreach (env, k, v) {
		char *kv = xasprintf("%s=%s", k, json_string_value(v));
		append_str(out, kv);
		free(kv);
	}
	json_object_set_new(process, "env", out);
	rc = 0;
out:
	json_decref(env);
	return rc;
}

static int build_cwd(struct ctx *c, json_t *process, struct err **err)
{
	const char *wd = NULL;
	char *clean;
	if (jv_str(c->def, "workingDirectory", false, &wd, err) < 0)
		return -1;
	if (!wd || !*wd)
		wd = json_string_value(json_object_get(c->icfg, "WorkingDir"));
	if (!wd || !*wd)
		wd = "/";
	clean = clean_path("workingDirectory", wd, err);
	if (!clean)
		return -1;
	json_object_set_new(process, "cwd", json_string(clean));
	free(clean);
	return 0;
}

/* A capability's number from "NET_ADMIN", "cap_net_admin", ...; -1 when there is none such. */
static int cap_number(const char *s)
{
	if (strncasecmp(s, "CAP_", 4) == 0)
		s += 4;
	for (int i = 0; i < NCAPS; i++)
		if (strcasecmp(s, cap_names[i]) == 0)
			return i;
	return -1;
}

static int cap_list(json_t *caps, const char *which, uint64_t *mask, bool *all, struct err **err)
{
	json_t *list = NULL, *v;
	size_t i;
	*mask = 0;
	*all = false;
	if (jv_str_array(caps, which, false, &list, err) < 0)
		return err_prefix(err, "linuxParameters.capabilities");
	json_array_foreach (list, i, v) {
		const char *s = json_string_value(v);
		int n = cap_number(s);
		if (strcasecmp(s, "ALL") == 0)
			*all = true;
		else if (n < 0)
			return err_set(err, ERR_CLIENT,
				       "linuxParameters.capabilities.%s: '%s' is not a capability", which, s);
		else
			*mask |= CAPB(n);
	}
	return 0;
}

/* c->caps: docker's TweakCapabilities over OCISPEC_DEFAULT_CAPS, or everything when privileged. */
static int resolve_caps(struct ctx *c, struct err **err)
{
	uint64_t all = CAPB(NCAPS) - 1, dflt = 0, add, drop;
	uint64_t known = c->in->cap_bounding ? c->in->cap_bounding & all : all;
	bool add_all, drop_all;
	json_t *lp = json_object_get(c->def, "linuxParameters"), *caps = NULL;
	if (jv_object(lp, "capabilities", false, &caps, err) < 0)
		return err_prefix(err, "linuxParameters");
	if (cap_list(caps, "add", &add, &add_all, err) < 0 ||
	    cap_list(caps, "drop", &drop, &drop_all, err) < 0)
		return -1;
	if (c->privileged) {
		c->caps = known;
		return 0;
	}
	for (const char *s = OCISPEC_DEFAULT_CAPS; *s;) {
		const char *e = strchr(s, ' ');
		char *w = xstrndup(s, e ? (size_t)(e - s) : strlen(s));
		dflt |= CAPB(cap_number(w));
		free(w);
		s = e ? e + 1 : s + strlen(s);
	}
	if (add_all)
		c->caps = known & ~drop;
	else if (drop_all)
		c->caps = add;
	else
		c->caps = (dflt & ~drop) | add;
	for (int i = 0; i < NCAPS; i++) {
		if ((c->caps & CAPB(i)) && !(known & CAPB(i)))
			warn(c, "capability CAP_%s left out: the agent itself does not have it",
			     cap_names[i]);
	}
	c->caps &= known;
	return 0;
}

static void build_caps(struct ctx *c, json_t *process)
{
	json_t *list = json_array();
	for (int i = 0; i < NCAPS; i++) {
		if (c->caps & CAPB(i)) {
			char *n = xasprintf("CAP_%s", cap_names[i]);
			append_str(list, n);
			free(n);
		}
	}
	/* No inheritable or ambient set: a non-root user's programs start without capabilities, as
	 * with docker and podman since CVE-2022-24769. */
	json_object_set_new(
		process, "capabilities",
		json_pack("{s:O,s:O,s:O}", "bounding", list, "effective", list, "permitted", list));
	json_decref(list);
}

/* An rlimit value: crun reads the fields as uint64 with strtoull, so -1 is RLIM_INFINITY. */
static json_t *rlim_json(unsigned long long v)
{
	return json_integer(v == OCISPEC_RLIM_UNLIMITED ? -1 : (json_int_t)v);
}

static void add_rlimit(struct ctx *c, json_t *list, size_t u, unsigned long long soft,
		       unsigned long long hard, bool quiet)
{
	unsigned long long max = OCISPEC_RLIM_UNLIMITED;
	unsigned long long osoft = soft, ohard = hard;
	if (c->in->rlimit_max)
		max = c->in->rlimit_max[ulimit_names[u].resource];
	if (hard > max)
		hard = max;
	if (soft > hard)
		soft = hard;
	if (!quiet && (soft != osoft || hard != ohard)) {
		char a[24], b[24], d[24], e[24];
#define FMT_LIM(buf, v) snprintf(buf, sizeof buf, (v) == OCISPEC_RLIM_UNLIMITED ? "unlimited" : "%llu", (v))
		FMT_LIM(a, osoft);
		FMT_LIM(b, ohard);
		FMT_LIM(d, soft);
		FMT_LIM(e, hard);
#undef FMT_LIM
		warn(c, "ulimit %s %s:%s lowered to %s:%s, the agent's own hard limit", ulimit_names[u].ecs,
		     a, b, d, e);
	}
	json_array_append_new(list, json_pack("{s:s,s:o,s:o}", "type", ulimit_names[u].oci, "hard",
					      rlim_json(hard), "soft", rlim_json(soft)));
}

static int build_rlimits(struct ctx *c, json_t *process, struct err **err)
{
	json_t *list = NULL, *u, *out;
	size_t i;
	bool seen[NULIMITS] = {false};
	if (jv_array(c->def, "ulimits", false, &list, err) < 0)
		return -1;
	out = json_array();
	json_array_foreach (list, i, u) {
		const char *n = NULL;
		long long soft = 0, hard = 0;
		size_t k;
		if (jv_str(u, "name", true, &n, err) < 0 ||
		    jv_int(u, "softLimit", true, &soft, NULL, err) < 0 ||
		    jv_int(u, "hardLimit", true, &hard, NULL, err) < 0) {
			err_prefix(err, "ulimits[%zu]", i);
			goto fail;
		}
		for (k = 0; k < NULIMITS && strcmp(ulimit_names[k].ecs, n) != 0; k++)
			;
		if (k == NULIMITS) {
			err_set(err, ERR_CLIENT, "ulimits[%zu]: '%s' is not a ulimit", i, n);
			goto fail;
		}
		if (seen[k]) {
			err_set(err, ERR_CLIENT, "ulimits: '%s' is given twice", n);
			goto fail;
		}
		seen[k] = true;
		unsigned long long s = soft == -1 ? OCISPEC_RLIM_UNLIMITED : (unsigned long long)soft;
		unsigned long long h = hard == -1 ? OCISPEC_RLIM_UNLIMITED : (unsigned long long)hard;
		if (soft < -1 || hard < -1 || s > h) {
			err_set(err, ERR_CLIENT,
				"ulimits: '%s' needs 0 <= softLimit <= hardLimit (-1 = unlimited), got "
				"%lld:%lld",
				n, soft, hard);
			goto fail;
		}
		add_rlimit(c, out, k, s, h, false);
	}
	for (i = 0; i < NULIMITS; i++) {
		if (ulimit_names[i].resource == RLIMIT_NOFILE && !seen[i])
			add_rlimit(c, out, i, OCISPEC_NOFILE_DEFAULT, OCISPEC_NOFILE_DEFAULT, true);
	}
	json_object_set_new(process, "rlimits", out);
	return 0;
fail:
	json_decref(out);
	return -1;
}

/* dockerSecurityOptions: no-new-privileges[:true|false]; the rest (apparmor:, label:,
 * credentialspec:) has no meaning here. */
static int security_options(struct ctx *c, bool *nnp, struct err **err)
{
	json_t *list = NULL, *v;
	size_t i;
	if (jv_str_array(c->def, "dockerSecurityOptions", false, &list, err) < 0)
		return -1;
	json_array_foreach (list, i, v) {
		const char *s = json_string_value(v);
		if (strcmp(s, "no-new-privileges") == 0 || strcmp(s, "no-new-privileges:true") == 0)
			*nnp = true;
		else if (strcmp(s, "no-new-privileges:false") == 0)
			*nnp = false;
		else
			warn(c, "dockerSecurityOptions '%s' ignored: gantry supports no-new-privileges only",
			     s);
	}
	return 0;
}

static int build_process(struct ctx *c, json_t *spec, struct err **err)
{
	json_t *process = json_object();
	bool nnp = !c->privileged;
	json_object_set_new(spec, "process", process);
	json_object_set_new(process, "terminal", json_false());
	if (build_user(c, process, err) < 0 || build_args(c, process, err) < 0 ||
	    build_env(c, process, err) < 0 || build_cwd(c, process, err) < 0 ||
	    build_rlimits(c, process, err) < 0)
		return -1;
	build_caps(c, process);
	if (security_options(c, &nnp, err) < 0)
		return -1;
	json_object_set_new(process, "noNewPrivileges", json_boolean(nnp));
	bool tty = false, interactive = false;
	if (jv_bool(c->def, "pseudoTerminal", false, &tty, NULL, err) < 0 ||
	    jv_bool(c->def, "interactive", false, &interactive, NULL, err) < 0)
		return -1;
	if (tty || interactive)
		warn(c, "pseudoTerminal and interactive ignored: the container runs without a terminal");
	return 0;
}

/* ---- mounts ---- */

static json_t *mount_json(const char *dest, const char *type, const char *source, const char *opts)
{
	json_t *m = json_object(), *o = json_array();
	json_object_set_new(m, "destination", jv_str_lossy(dest));
	json_object_set_new(m, "type", jv_str_lossy(type));
	json_object_set_new(m, "source", jv_str_lossy(source));
	for (const char *s = opts; s && *s;) {
		const char *e = strchr(s, ',');
		char *w = xstrndup(s, e ? (size_t)(e - s) : strlen(s));
		append_str(o, w);
		free(w);
		s = e ? e + 1 : s + strlen(s);
	}
	json_object_set_new(m, "options", o);
	return m;
}

/* A mount after the standard ones; sorted by depth, then by seq. */
struct umnt {
	char *dest;
	json_t *m;
	size_t depth, seq;
};

struct umnts {
	struct umnt *v;
	size_t n, cap;
};

static void umnts_add(struct umnts *l, char *dest, json_t *m)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n] = (struct umnt){dest, m, path_depth(dest), l->n};
	l->n++;
}

static bool umnts_has(const struct umnts *l, const char *dest)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].dest, dest) == 0)
			return true;
	return false;
}

static void umnts_release(struct umnts *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].dest);
		json_decref(l->v[i].m);
	}
	free(l->v);
}

static int umnt_cmp(const void *a, const void *b)
{
	const struct umnt *x = a, *y = b;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The key under which a tmpfs option overrides an earlier one: "noexec" and "exec" share "exec",
 * "ro" and "rw" share "rw", "size=1m" is "size". */
static char *tmpfs_opt_key(const char *o)
{
	static const char *const negatable[] = {"noexec",	 "nosuid",     "nodev",
						"noatime",	 "nodiratime", "norelatime",
						"nostrictatime", "nomand",     NULL};
	const char *eq = strchr(o, '=');
	if (eq)
		return xstrndup(o, (size_t)(eq - o));
	if (strcmp(o, "ro") == 0)
		return xstrdup("rw");
	for (size_t i = 0; negatable[i]; i++)
		if (strcmp(o, negatable[i]) == 0)
			return xstrdup(o + 2);
	return xstrdup(o);
}

static void tmpfs_opt_put(json_t *opts, const char *o)
{
	char *key = tmpfs_opt_key(o);
	for (size_t i = 0; i < json_array_size(opts);) {
		char *k = tmpfs_opt_key(json_string_value(json_array_get(opts, i)));
		bool same = strcmp(k, key) == 0;
		free(k);
		if (same)
			json_array_remove(opts, i);
		else
			i++;
	}
	append_str(opts, o);
	free(key);
}

/* linuxParameters.tmpfs: docker's defaults noexec,nosuid,nodev, then the task's options (a later one
 * wins), then the size. */
static int add_tmpfs(struct ctx *c, json_t *lp, struct umnts *l, struct err **err)
{
	json_t *list = NULL, *t;
	size_t i;
	if (jv_array(lp, "tmpfs", false, &list, err) < 0)
		return err_prefix(err, "linuxParameters");
	json_array_foreach (list, i, t) {
		const char *path = NULL;
		long long size = 0;
		json_t *o = NULL, *opts, *v;
		size_t j;
		if (jv_str(t, "containerPath", true, &path, err) < 0 ||
		    jv_int(t, "size", true, &size, NULL, err) < 0 ||
		    jv_str_array(t, "mountOptions", false, &o, err) < 0)
			return err_prefix(err, "linuxParameters.tmpfs[%zu]", i);
		if (size <= 0 || size > (LLONG_MAX >> 20))
			return err_set(err, ERR_CLIENT,
				       "linuxParameters.tmpfs[%zu]: size %lld MiB is out of range", i, size);
		char *dest = clean_path("linuxParameters.tmpfs.containerPath", path, err);
		if (!dest)
			return -1;
		if (strcmp(dest, "/") == 0 || umnts_has(l, dest)) {
			err_set(err, ERR_CLIENT, "linuxParameters.tmpfs: '%s' is %s", dest,
				strcmp(dest, "/") == 0 ? "the root" : "mounted twice");
			free(dest);
			return -1;
		}
		opts = json_array();
		append_str(opts, "noexec");
		append_str(opts, "nosuid");
		append_str(opts, "nodev");
		json_array_foreach (o, j, v) {
			const char *s = json_string_value(v);
			if (strcmp(s, "defaults") == 0)
				continue;
			if (strcmp(s, "bind") == 0 || strcmp(s, "rbind") == 0 || strcmp(s, "remount") == 0) {
				warn(c, "linuxParameters.tmpfs '%s': mount option '%s' ignored", dest, s);
				continue;
			}
			tmpfs_opt_put(opts, s);
		}
		char *sz = xasprintf("size=%lldm", size);
		tmpfs_opt_put(opts, sz);
		free(sz);
		json_t *m = mount_json(dest, "tmpfs", "tmpfs", NULL);
		json_object_set_new(m, "options", opts);
		umnts_add(l, dest, m);
	}
	return 0;
}

static int add_volumes(struct ctx *c, struct umnts *l, struct err **err)
{
	for (size_t i = 0; i < c->in->nmounts; i++) {
		const struct ocispec_mount *vm = &c->in->mounts[i];
		if (!vm->source || vm->source[0] != '/')
			return err_set(err, ERR_INTERNAL,
				       "mount %zu: the source must be an absolute host path", i);
		char *dest = clean_path("mountPoints.containerPath", vm->destination, err);
		if (!dest)
			return -1;
		if (strcmp(dest, "/") == 0 || umnts_has(l, dest)) {
			err_set(err, ERR_CLIENT, "mountPoints: '%s' is %s", dest,
				strcmp(dest, "/") == 0 ? "the root" : "mounted twice");
			free(dest);
			return -1;
		}
		umnts_add(l, dest,
			  mount_json(dest, "bind", vm->source,
				     vm->read_only ? "rbind,rprivate,ro" : "rbind,rprivate"));
	}
	return 0;
}

static void add_etc_file(struct ctx *c, struct umnts *l, const char *dest, const char *source)
{
	if (!source || umnts_has(l, dest))
		return;
	umnts_add(l, xstrdup(dest),
		  mount_json(dest, "bind", source, c->readonly_root ? "bind,rprivate,ro" : "bind,rprivate"));
}

static int build_mounts(struct ctx *c, json_t *spec, struct err **err)
{
	struct umnts l = {0};
	json_t *lp = json_object_get(c->def, "linuxParameters"), *mounts = json_array();
	long long shm = OCISPEC_SHM_DEFAULT_MIB;
	bool have_shm = false;
	int rc = -1;
	json_object_set_new(spec, "mounts", mounts);
	if (jv_int(lp, "sharedMemorySize", false, &shm, &have_shm, err) < 0) {
		err_prefix(err, "linuxParameters");
		goto out;
	}
	if (shm <= 0 || shm > (LLONG_MAX >> 20)) {
		err_set(err, ERR_CLIENT, "linuxParameters.sharedMemorySize: %lld MiB is out of range", shm);
		goto out;
	}
	if (add_tmpfs(c, lp, &l, err) < 0 || add_volumes(c, &l, err) < 0)
		goto out;
	add_etc_file(c, &l, "/etc/resolv.conf", c->in->resolv_conf);
	add_etc_file(c, &l, "/etc/hosts", c->in->hosts);
	add_etc_file(c, &l, "/etc/hostname", c->in->hostname_file);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, umnt_cmp);

	json_array_append_new(mounts, mount_json("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(
		mounts, mount_json("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755," DEV_SIZE_OPT));
	json_array_append_new(mounts, mount_json("/dev/pts", "devpts", "devpts",
						 "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	if (!umnts_has(&l, "/dev/shm")) {
		char *o = xasprintf("nosuid,noexec,nodev,mode=1777,size=%lldm", shm);
		json_array_append_new(mounts, mount_json("/dev/shm", "tmpfs", "shm", o));
		free(o);
	} else if (have_shm) {
		warn(c, "linuxParameters.sharedMemorySize ignored: a tmpfs or volume is mounted at /dev/shm");
	}
	json_array_append_new(mounts, mount_json("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	json_array_append_new(
		mounts, mount_json("/sys", "sysfs", "sysfs",
				   c->privileged ? "nosuid,noexec,nodev,rw" : "nosuid,noexec,nodev,ro"));
	json_array_append_new(mounts, mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
						 c->privileged ? "nosuid,noexec,nodev,relatime,rw"
							       : "nosuid,noexec,nodev,relatime,ro"));
	if (c->init) {
		if (!c->in->init_path || c->in->init_path[0] != '/') {
			err_set(err, ERR_CLIENT,
				"linuxParameters.initProcessEnabled: this agent has no init binary to run");
			goto out;
		}
		json_array_append_new(mounts, mount_json(OCISPEC_INIT_DEST, "bind", c->in->init_path,
							 "bind,ro,nosuid,nodev"));
	}
	for (size_t i = 0; i < l.n; i++)
		json_array_append(mounts, l.v[i].m);
	rc = 0;
out:
	umnts_release(&l);
	return rc;
}

/* ---- lx ---- */

static void add_ns(json_t *list, const char *type, const char *path)
{
	if (path && strcmp(path, OCISPEC_NS_HOST) == 0)
		return;
	json_t *ns = json_pack("{s:s}", "type", type);
	if (path)
		json_object_set_new(ns, "path", jv_str_lossy(path));
	json_array_append_new(list, ns);
}

static json_t *dev_rule(bool allow, const char *type, long long major, long long minor, const char *access)
{
	json_t *r = json_pack("{s:b}", "allow", allow);
	if (type)
		json_object_set_new(r, "type", json_string(type));
	if (major >= 0)
		json_object_set_new(r, "major", json_integer(major));
	if (minor >= 0)
		json_object_set_new(r, "minor", json_integer(minor));
	json_object_set_new(r, "access", json_string(access));
	return r;
}

/* linuxParameters.devices: the host's device nodes, recreated in the container's /dev with the
 * device cgroup allowing them. */
static int build_devices(json_t *lp, json_t *lx, json_t *rules, struct err **err)
{
	json_t *list = NULL, *d, *devices = json_array();
	size_t i;
	json_object_set_new(lx, "devices", devices);
	if (jv_array(lp, "devices", false, &list, err) < 0)
		return err_prefix(err, "linuxParameters");
	json_array_foreach (list, i, d) {
		const char *host = NULL, *cpath = NULL;
		json_t *perms = NULL, *p;
		size_t j;
		struct stat st;
		char access[4] = "", *dest;
		if (jv_str(d, "hostPath", true, &host, err) < 0 ||
		    jv_str(d, "containerPath", false, &cpath, err) < 0 ||
		    jv_str_array(d, "permissions", false, &perms, err) < 0)
			return err_prefix(err, "linuxParameters.devices[%zu]", i);
		if (stat(host, &st) < 0)
			return err_sys(err, errno, "linuxParameters.devices: %s", host);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return err_set(err, ERR_CLIENT, "linuxParameters.devices: %s is not a device", host);
		json_array_foreach (perms, j, p) {
			const char *s = json_string_value(p);
			char ch = strcmp(s, "read") == 0    ? 'r'
				  : strcmp(s, "write") == 0 ? 'w'
				  : strcmp(s, "mknod") == 0 ? 'm'
							    : 0;
			if (!ch)
				return err_set(err, ERR_CLIENT,
					       "linuxParameters.devices: '%s' is not a permission", s);
			if (!strchr(access, ch))
				access[strlen(access)] = ch;
		}
		if (!access[0])
			memcpy(access, "rwm", 4);
		dest = clean_path("linuxParameters.devices.containerPath", cpath && *cpath ? cpath : host,
				  err);
		if (!dest)
			return -1;
		const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
		json_array_append_new(devices,
				      json_pack("{s:s,s:s,s:I,s:I,s:i,s:I,s:I}", "path", dest, "type", type,
						"major", (json_int_t)major(st.st_rdev), "minor",
						(json_int_t)minor(st.st_rdev), "fileMode",
						(int)(st.st_mode & 07777), "uid", (json_int_t)st.st_uid,
						"gid", (json_int_t)st.st_gid));
		free(dest);
		json_array_append_new(rules,
				      dev_rule(true, type, major(st.st_rdev), minor(st.st_rdev), access));
	}
	return 0;
}

/* A MiB count of the override or else the definition; *present says whether either had it. */
static int mib_member(struct ctx *c, const char *key, long long *out, bool *present, struct err **err)
{
	*present = false;
	if (jv_int(c->in->override, key, false, out, present, err) < 0)
		return err_prefix(err, "containerOverrides");
	if (!*present && jv_int(c->def, key, false, out, present, err) < 0)
		return -1;
	if (*present && (*out <= 0 || *out > (LLONG_MAX >> 20)))
		return err_set(err, ERR_CLIENT, "%s: %lld MiB is out of range (it must be positive)", key,
			       *out);
	return 0;
}

static int build_resources(struct ctx *c, json_t *lp, json_t *lx, struct err **err)
{
	json_t *res = json_object(), *rules = json_array(), *mem = json_object();
	long long cpu = 0, limit = 0, reservation = 0, max_swap = 0, swappiness = OCISPEC_SWAPPINESS_DEF;
	bool has_cpu = false, has_limit, has_res, has_swap = false, has_swappiness = false;
	int rc = -1;
	json_object_set_new(lx, "resources", res);
	json_object_set_new(res, "devices", rules);

	if (c->privileged) {
		json_array_append_new(rules, dev_rule(true, NULL, -1, -1, "rwm"));
	} else {
		json_array_append_new(rules, dev_rule(false, NULL, -1, -1, "rwm"));
		json_array_append_new(rules, dev_rule(true, "c", -1, -1, "m"));
		json_array_append_new(rules, dev_rule(true, "b", -1, -1, "m"));
		for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++)
			json_array_append_new(rules, dev_rule(true, "c", default_devices[i].major,
							      default_devices[i].minor, "rwm"));
	}
	if (build_devices(lp, lx, rules, err) < 0)
		goto out;

	if (jv_int(c->in->override, "cpu", false, &cpu, &has_cpu, err) < 0) {
		err_prefix(err, "containerOverrides");
		goto out;
	}
	if (!has_cpu && jv_int(c->def, "cpu", false, &cpu, &has_cpu, err) < 0)
		goto out;
	if (cpu < 0) {
		err_set(err, ERR_CLIENT, "cpu: %lld units is negative", cpu);
		goto out;
	}
	if (cpu < OCISPEC_CPU_SHARES_MIN)
		cpu = OCISPEC_CPU_SHARES_MIN;
	if (cpu > OCISPEC_CPU_SHARES_MAX)
		cpu = OCISPEC_CPU_SHARES_MAX;
	json_object_set_new(res, "cpu", json_pack("{s:I}", "shares", (json_int_t)cpu));

	if (mib_member(c, "memory", &limit, &has_limit, err) < 0 ||
	    mib_member(c, "memoryReservation", &reservation, &has_res, err) < 0)
		goto out;
	if (has_limit && has_res && reservation > limit) {
		err_set(err, ERR_CLIENT, "memoryReservation (%lld MiB) exceeds memory (%lld MiB)",
			reservation, limit);
		goto out;
	}
	if (has_limit)
		json_object_set_new(mem, "limit", json_integer(limit << 20));
	if (has_res)
		json_object_set_new(mem, "reservation", json_integer(reservation << 20));
	if (jv_int(lp, "maxSwap", false, &max_swap, &has_swap, err) < 0 ||
	    jv_int(lp, "swappiness", false, &swappiness, &has_swappiness, err) < 0) {
		err_prefix(err, "linuxParameters");
		goto out;
	}
	if (has_swap && (max_swap < 0 || max_swap > (LLONG_MAX >> 21))) {
		err_set(err, ERR_CLIENT, "linuxParameters.maxSwap: %lld MiB is out of range", max_swap);
		goto out;
	}
	if (has_swappiness && (swappiness < 0 || swappiness > 100)) {
		err_set(err, ERR_CLIENT, "linuxParameters.swappiness: %lld is not between 0 and 100",
			swappiness);
		goto out;
	}
	if (has_swap && !has_limit) {
		warn(c, "linuxParameters.maxSwap ignored: it needs a hard memory limit (memory)");
	} else if (has_swap) {
		/* OCI (cgroup v1 semantics): swap is the limit of memory plus swap. */
		json_object_set_new(mem, "swap", json_integer((limit + max_swap) << 20));
		if (c->in->cgroup_v2 && has_swappiness)
			warn(c, "linuxParameters.swappiness ignored: cgroup v2 has no per-cgroup swappiness");
		else if (!c->in->cgroup_v2)
			json_object_set_new(mem, "swappiness", json_integer(swappiness));
	} else if (has_swappiness) {
		warn(c, "linuxParameters.swappiness ignored: it applies only with maxSwap");
	}
	if (json_object_size(mem) > 0)
		json_object_set(res, "memory", mem);
	if (c->in->pids_limit > 0)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)c->in->pids_limit));
	rc = 0;
out:
	json_decref(mem);
	return rc;
}

static json_t *seccomp_rule(const char *names, unsigned errno_ret)
{
	json_t *r = json_object(), *list = json_array();
	for (const char *s = names; *s;) {
		const char *e = strchr(s, ' ');
		char *w = xstrndup(s, e ? (size_t)(e - s) : strlen(s));
		append_str(list, w);
		free(w);
		s = e ? e + 1 : s + strlen(s);
	}
	json_object_set_new(r, "names", list);
	json_object_set_new(r, "action", json_string("SCMP_ACT_ERRNO"));
	json_object_set_new(r, "errnoRet", json_integer(errno_ret));
	return r;
}

static json_t *build_seccomp(struct ctx *c)
{
	json_t *sc = json_object(), *rules = json_array(), *arches = json_array();
	json_object_set_new(sc, "defaultAction", json_string("SCMP_ACT_ALLOW"));
	/* Every ABI the CPU runs, so that 32-bit calls meet the same rules (and 32-bit programs are
	 * not killed for a "wrong" architecture). */
#if defined(__x86_64__)
	append_str(arches, "SCMP_ARCH_X86_64");
	append_str(arches, "SCMP_ARCH_X86");
	append_str(arches, "SCMP_ARCH_X32");
#elif defined(__aarch64__)
	append_str(arches, "SCMP_ARCH_AARCH64");
	append_str(arches, "SCMP_ARCH_ARM");
#endif
	if (json_array_size(arches) > 0)
		json_object_set_new(sc, "architectures", arches);
	else
		json_decref(arches);
	for (size_t i = 0; i < sizeof seccomp_deny / sizeof seccomp_deny[0]; i++) {
		if (!(c->caps & seccomp_deny[i].unless))
			json_array_append_new(rules, seccomp_rule(seccomp_deny[i].names, EPERM));
	}
	if (!(c->caps & CAPB(C_SYS_ADMIN))) {
		/* clone3 passes its flags in memory seccomp cannot read: make the C library fall back to
		 * clone, whose flags it can. */
		json_array_append_new(rules, seccomp_rule("clone3", ENOSYS));
		for (size_t i = 0; i < sizeof clone_ns_flags / sizeof clone_ns_flags[0]; i++) {
			json_t *r = seccomp_rule("clone", EPERM);
			json_object_set_new(r, "args",
					    json_pack("[{s:i,s:I,s:I,s:s}]", "index", 0, "value",
						      (json_int_t)clone_ns_flags[i], "valueTwo",
						      (json_int_t)clone_ns_flags[i], "op",
						      "SCMP_CMP_MASKED_EQ"));
			json_array_append_new(rules, r);
		}
	}
	json_object_set_new(sc, "syscalls", rules);
	return sc;
}

static int build_sysctl(struct ctx *c, const char *netns, json_t *lx, struct err **err)
{
	json_t *list = NULL, *v, *sysctl = json_object();
	size_t i;
	bool host_net = netns && strcmp(netns, OCISPEC_NS_HOST) == 0;
	json_object_set_new(lx, "sysctl", sysctl);
	if (!host_net)
		json_object_set_new(sysctl, "net.ipv4.ping_group_range", json_string("0 2147483647"));
	if (jv_array(c->def, "systemControls", false, &list, err) < 0)
		return -1;
	json_array_foreach (list, i, v) {
		const char *ns = NULL, *val = NULL;
		if (jv_str(v, "namespace", true, &ns, err) < 0 || jv_str(v, "value", true, &val, err) < 0)
			return err_prefix(err, "systemControls[%zu]", i);
		if (!*ns || strchr(ns, '/') || strstr(ns, ".."))
			return err_set(err, ERR_CLIENT, "systemControls: '%s' is not a sysctl name", ns);
		if (host_net && strncmp(ns, "net.", 4) == 0)
			return err_set(err, ERR_CLIENT,
				       "systemControls: '%s' would change the host's network settings (host "
				       "network mode)",
				       ns);
		json_object_set_new(sysctl, ns, jv_str_lossy(val));
	}
	return 0;
}

static int build_linux(struct ctx *c, json_t *spec, struct err **err)
{
	json_t *lx = json_object(), *ns = json_array(), *lp = json_object_get(c->def, "linuxParameters");
	const char *netns = c->in->netns;
	bool no_net = false;
	json_object_set_new(spec, "linux", lx);
	if (jv_bool(c->def, "disableNetworking", false, &no_net, NULL, err) < 0)
		return -1;
	if (no_net)
		netns = NULL;
	add_ns(ns, "pid", c->in->pidns);
	add_ns(ns, "network", netns);
	add_ns(ns, "ipc", c->in->ipcns);
	add_ns(ns, "uts", NULL);
	add_ns(ns, "mount", NULL);
	add_ns(ns, "cgroup", NULL);
	json_object_set_new(lx, "namespaces", ns);
	json_object_set_new(lx, "cgroupsPath", jv_str_lossy(c->in->cgroups_path));
	if (build_resources(c, lp, lx, err) < 0 || build_sysctl(c, netns, lx, err) < 0)
		return -1;
	if (!c->privileged) {
		json_t *m = json_array(), *r = json_array();
		for (size_t i = 0; masked_paths[i]; i++)
			append_str(m, masked_paths[i]);
		for (size_t i = 0; readonly_paths[i]; i++)
			append_str(r, readonly_paths[i]);
		json_object_set_new(lx, "maskedPaths", m);
		json_object_set_new(lx, "readonlyPaths", r);
		json_object_set_new(lx, "seccomp", build_seccomp(c));
	}
	return 0;
}

static int build_annotations(struct ctx *c, json_t *spec, struct err **err)
{
	json_t *labels = NULL, *v, *a = json_object();
	const char *k;
	json_object_set_new(spec, "annotations", a);
	if (jv_object(c->def, "dockerLabels", false, &labels, err) < 0)
		return -1;
	json_object_foreach (labels, k, v) {
		if (!json_is_string(v))
			return err_set(err, ERR_CLIENT, "dockerLabels: the value of '%s' is not a string", k);
		json_object_set(a, k, v);
	}
	return 0;
}

/* ---- the entry points ---- */

const char *ocispec_hostname(json_t *def, const char *fallback)
{
	const char *h = json_string_value(json_object_get(def, "hostname"));
	if (h && *h)
		return h;
	if (fallback && *fallback)
		return fallback;
	return json_string_value(json_object_get(def, "name"));
}

json_t *ocispec_build(const struct ocispec_in *in, json_t **warnings_out, struct err **err)
{
	struct ctx c = {.in = in};
	json_t *spec = NULL, *lp;
	const char *name = NULL;
	bool ok = false;

	if (warnings_out)
		*warnings_out = NULL;
	if (!in || !in->def || !in->rootfs || !in->cgroups_path) {
		err_set(err, ERR_INTERNAL, "ocispec: the definition, rootfs and cgroups path are required");
		return NULL;
	}
	c.def = in->def;
	c.warnings = json_array();
	if (jv_str(in->def, "name", true, &name, err) < 0)
		goto out;
	c.name = name;
	c.icfg = json_object_get(in->image_config, "config");
	if (c.icfg && !json_is_object(c.icfg)) {
		err_set(err, ERR_CLIENT, "image config: config is not an object");
		goto out;
	}
	lp = NULL;
	if (jv_object(in->def, "linuxParameters", false, &lp, err) < 0 ||
	    jv_bool(in->def, "privileged", false, &c.privileged, NULL, err) < 0 ||
	    jv_bool(in->def, "readonlyRootFilesystem", false, &c.readonly_root, NULL, err) < 0 ||
	    jv_bool(lp, "initProcessEnabled", false, &c.init, NULL, err) < 0)
		goto out;
	c.hostname = ocispec_hostname(in->def, in->hostname);
	if (!host_name_ok(c.hostname, OCISPEC_HOSTNAME_MAX)) {
		err_set(err, ERR_CLIENT,
			"hostname '%s' is not a host name of at most %d letters, digits, '.', '-'",
			c.hostname, OCISPEC_HOSTNAME_MAX);
		goto out;
	}
	if (resolve_caps(&c, err) < 0)
		goto out;

	spec = json_object();
	json_object_set_new(spec, "ociVersion", json_string(OCISPEC_OCI_VERSION));
	json_object_set_new(
		spec, "root",
		json_pack("{s:o,s:b}", "path", jv_str_lossy(in->rootfs), "readonly", c.readonly_root));
	json_object_set_new(spec, "hostname", json_string(c.hostname));
	if (build_process(&c, spec, err) < 0 || build_mounts(&c, spec, err) < 0 ||
	    build_linux(&c, spec, err) < 0 || build_annotations(&c, spec, err) < 0)
		goto out;
	ok = true;
out:
	free(c.home);
	if (!ok) {
		json_decref(spec);
		json_decref(c.warnings);
		err_prefix(err, "container '%s'", name ? name : "?");
		return NULL;
	}
	if (warnings_out)
		*warnings_out = c.warnings;
	else
		json_decref(c.warnings);
	return spec;
}

char *ocispec_hosts_file(json_t *def, const char *base, const char *hostname, const char *ip,
			 struct err **err)
{
	struct buf b = BUF_INIT;
	json_t *list = NULL, *h;
	size_t i;
	if (jv_array(def, "extraHosts", false, &list, err) < 0)
		return NULL;
	if (base) {
		buf_adds(&b, base);
		if (b.len && b.p[b.len - 1] != '\n')
			buf_addc(&b, '\n');
	} else {
		buf_adds(&b, "127.0.0.1\tlocalhost\n"
			     "::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "fe00::0\tip6-localnet\n"
			     "ff00::0\tip6-mcastprefix\n"
			     "ff02::1\tip6-allnodes\n"
			     "ff02::2\tip6-allrouters\n");
	}
	json_array_foreach (list, i, h) {
		const char *n = NULL, *a = NULL;
		if (jv_str(h, "hostname", true, &n, err) < 0 || jv_str(h, "ipAddress", true, &a, err) < 0) {
			err_prefix(err, "extraHosts[%zu]", i);
			goto fail;
		}
		if (!host_name_ok(n, SEARCH_DOMAIN_MAX) || !ip_ok(a)) {
			err_set(err, ERR_CLIENT,
				"extraHosts[%zu]: '%s' '%s' is not a host name and an IP address", i, n, a);
			goto fail;
		}
		buf_addf(&b, "%s\t%s\n", a, n);
	}
	if (hostname && host_name_ok(hostname, OCISPEC_HOSTNAME_MAX)) {
		if (ip && ip_ok(ip))
			buf_addf(&b, "%s\t%s\n", ip, hostname);
		else if (!base)
			buf_addf(&b, "127.0.1.1\t%s\n", hostname);
	}
	return buf_detach(&b, NULL);
fail:
	buf_release(&b);
	return NULL;
}

static bool loopback(const char *s)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, s, a) == 1)
		return a[0] == 127;
	return inet_pton(AF_INET6, s, a) == 1 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
}

/* The first word after a keyword at the start of a resolv.conf line. */
static bool resolv_word(const char *line, size_t len, const char *kw, struct str *rest)
{
	size_t n = strlen(kw);
	if (len <= n || strncmp(line, kw, n) != 0 || (line[n] != ' ' && line[n] != '\t'))
		return false;
	rest->p = line + n;
	rest->n = len - n;
	while (rest->n && (*rest->p == ' ' || *rest->p == '\t')) {
		rest->p++;
		rest->n--;
	}
	while (rest->n && isspace((unsigned char)rest->p[rest->n - 1]))
		rest->n--;
	return true;
}

char *ocispec_resolv_conf(json_t *def, const char *host_resolv, bool host_netns, struct err **err)
{
	struct buf b = BUF_INIT, ns = BUF_INIT, search = BUF_INIT, opts = BUF_INIT;
	json_t *servers = NULL, *domains = NULL, *v;
	size_t i;
	char *out = NULL;
	if (jv_str_array(def, "dnsServers", false, &servers, err) < 0 ||
	    jv_str_array(def, "dnsSearchDomains", false, &domains, err) < 0)
		return NULL;
	json_array_foreach (servers, i, v) {
		if (!ip_ok(json_string_value(v))) {
			err_set(err, ERR_CLIENT, "dnsServers: '%s' is not an IP address",
				json_string_value(v));
			goto out;
		}
		buf_addf(&ns, "nameserver %s\n", json_string_value(v));
	}
	json_array_foreach (domains, i, v) {
		const char *d = json_string_value(v);
		bool ok = *d && strlen(d) <= SEARCH_DOMAIN_MAX;
		for (const char *p = d; ok && *p; p++)
			ok = isgraph((unsigned char)*p) != 0;
		if (!ok) {
			err_set(err, ERR_CLIENT, "dnsSearchDomains: '%s' is not a domain name", d);
			goto out;
		}
		buf_addf(&search, "%s%s", search.len ? " " : "search ", d);
	}
	if (search.len)
		buf_addc(&search, '\n');
	for (const char *s = host_resolv; s && *s;) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		struct str w;
		if (json_array_size(servers) == 0 && resolv_word(s, len, "nameserver", &w) && w.n < 64) {
			char addr[64];
			memcpy(addr, w.p, w.n);
			addr[w.n] = '\0';
			char *pct = strchr(addr, '%'); /* a link-local address with its zone */
			if (pct)
				*pct = '\0';
			bool valid = ip_ok(addr);
			if (pct)
				*pct = '%';
			if (valid && (host_netns || !loopback(addr)))
				buf_addf(&ns, "nameserver %s\n", addr);
		} else if (json_array_size(domains) == 0 &&
			   (resolv_word(s, len, "search", &w) || resolv_word(s, len, "domain", &w))) {
			buf_add(&search, s, len);
			buf_addc(&search, '\n');
		} else if (resolv_word(s, len, "options", &w)) {
			buf_add(&opts, s, len);
			buf_addc(&opts, '\n');
		}
		s = nl ? nl + 1 : NULL;
	}
	if (ns.len == 0)
		buf_adds(&ns, "nameserver " DEFAULT_NAMESERVER "\nnameserver " DEFAULT_NAMESERVER2 "\n");
	buf_adds(&b, search.p);
	buf_adds(&b, ns.p);
	buf_adds(&b, opts.p);
	out = buf_detach(&b, NULL);
out:
	buf_release(&b);
	buf_release(&ns);
	buf_release(&search);
	buf_release(&opts);
	return out;
}

int ocispec_stop_signal(json_t *image_config, struct err **err)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},	 {"ILL", SIGILL},
		{"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},	 {"BUS", SIGBUS},
		{"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},	 {"SEGV", SIGSEGV},
		{"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},	 {"TERM", SIGTERM},
		{"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},	 {"STOP", SIGSTOP},
		{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},	 {"URG", SIGURG},
		{"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
		{"WINCH", SIGWINCH},   {"IO", SIGIO},	  {"POLL", SIGPOLL},	 {"PWR", SIGPWR},
		{"SYS", SIGSYS},
	};
	const char *s =
		json_string_value(json_object_get(json_object_get(image_config, "config"), "StopSignal"));
	const char *p;
	unsigned n;
	if (!s || !*s)
		return SIGTERM;
	p = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	if (parse_id(p, strlen(p), &n) && n >= 1 && (int)n <= SIGRTMAX)
		return (int)n;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (strcasecmp(p, sigs[i].name) == 0)
			return sigs[i].sig;
	if (strncasecmp(p, "RTMIN", 5) == 0 || strncasecmp(p, "RTMAX", 5) == 0) {
		bool min = strncasecmp(p, "RTMIN", 5) == 0;
		const char *q = p + 5;
		n = 0;
		if (*q == '\0' || ((*q == (min ? '+' : '-')) && parse_id(q + 1, strlen(q + 1), &n))) {
			int sig = min ? SIGRTMIN + (int)n : SIGRTMAX - (int)n;
			if (sig >= SIGRTMIN && sig <= SIGRTMAX)
				return sig;
		}
	}
	return err_set(err, ERR_CLIENT, "image config: StopSignal '%s' is not a signal", s);
}

unsigned long long ocispec_cap_bounding(void)
{
	unsigned long long set = 0;
	for (int i = 0; i < NCAPS; i++)
		if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0UL, 0UL, 0UL) == 1)
			set |= CAPB(i);
	return set;
}

void ocispec_rlimit_max(unsigned long long out[RLIM_NLIMITS])
{
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		struct rlimit rl;
		out[i] = getrlimit((__rlimit_resource_t)i, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
				 ? (unsigned long long)rl.rlim_max
				 : OCISPEC_RLIM_UNLIMITED;
	}
}
