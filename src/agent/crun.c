/* Container lifecycle under conmon + crun (create, start, kill, exec, delete, list, exit codes and
 * OOM), the exit-directory watch, and the host's cgroup preparation for crun. See crun.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/crun.h"
#include "common/buf.h"
#include "common/fsx.h"
#include "common/log.h"
#include "common/xalloc.h"

#define ERR_TEXT_MAX	 (64 << 10) /* bytes kept of a command's stderr */
#define CTRL_NAME_MAX	 64	    /* a cgroup controller's name */
#define PRUNE_DEPTH_MAX	 32	    /* cgroup levels crunrt_cgroup_prune() descends */
#define SPAWN_FD_FLOOR	 16	    /* spawn(): sources are moved at or above this before the dup2s */
#define SPAWN_FDS_MAX	 8	    /* spawn(): descriptors handed to a child */
#define DRAIN_GRACE_MS	 200	    /* output still read after a command exited */
#define STOP_POLL_MS	 20	    /* crunrt_remove(): conmon exit checks without a pidfd */
#define SPAWN_ENV_PATH	 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONMON_SYNC_FD	 3
#define CONMON_START_FD	 4
#define CONMON_PIDFILE	 "conmon.pid"
#define CTR_PIDFILE	 "pidfile"
#define DEFAULT_LOG_NAME "ctr.log"

/* What conmon and crun leave in a bundle (crunrt_remove() and a new crunrt_create() clear them). */
static const char *const bundle_files[] = {CTR_PIDFILE, CONMON_PIDFILE, "exit", "oom",
					   "attach",	"ctl",		"winsz"};

struct crunrt {
	char *state_dir, *crun_root, *exit_dir, *sock_dir, *exec_dir;
	char *crun, *conmon;
	long long log_size_max;
	struct crunrt_cgroups cg;
};

/* ---- small helpers ---- */

/* Writes pid into dir/cgroup.procs. Returns 0, or -1 with errno. */
static int join_cgroup(const char *dir, pid_t pid)
{
	char *procs = xasprintf("%s/cgroup.procs", dir);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	free(procs);
	if (fd < 0)
		return -1;
	char num[24];
	int n = snprintf(num, sizeof(num), "%d\n", (int)pid);
	int rc = write(fd, num, (size_t)n) == n ? 0 : -1;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Moves a conmon into CRUNRT_CONMON_CGROUP on every hierarchy, out of the agent's cgroup: a
 * service manager that stops or restarts the agent kills what is in its cgroup (systemd's
 * KillMode=control-group), and a conmon killed with it takes its container's exit code along.
 * The cgroup is made by the first container that needs it. Best effort: a hierarchy that refuses
 * (a read-only cgroupfs, say) leaves it where it is. */
static void conmon_to_cgroup(const struct crunrt *rt, pid_t pid)
{
	for (size_t i = 0; i < rt->cg.nh; i++) {
		const char *base = rt->cg.h[i].path;
		char *dir = xasprintf("%s%s", base, CRUNRT_CONMON_CGROUP);
		int rc = join_cgroup(dir, pid);
		if (rc < 0 && errno == ENOENT) {
			/* the parents first: "/gantry", then "/gantry/conmon" */
			for (char *p = dir + strlen(base) + 1; (p = strchr(p, '/')); p++) {
				*p = '\0';
				mkdir(dir, 0755);
				*p = '/';
			}
			mkdir(dir, 0755);
			rc = join_cgroup(dir, pid);
		}
		if (rc < 0)
			log_debug("conmon %d stays in the agent's cgroup on %s: %s", (int)pid, base,
				  strerror(errno));
		free(dir);
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Reads a whole file of at most max bytes into a new NUL-terminated string. Returns 0, or an errno
 * value (EFBIG when it is longer). */
static int slurp(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct buf b;
	buf_init(&b, max);
	char chunk[4096];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errno;
			break;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			rc = EFBIG;
			break;
		}
	}
	close(fd);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	size_t n = b.len;
	*out = buf_detach(&b, NULL);
	if (len)
		*len = n;
	return 0;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Parses a decimal integer in [lo, hi], surrounding blanks allowed. */
static int parse_ll(const char *s, size_t len, long long lo, long long hi, long long *out)
{
	char tmp[32];
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof tmp)
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(tmp, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Reads a pid file: 0 when missing or not a pid. */
static pid_t read_pidfile(const char *path)
{
	char *text = NULL;
	size_t len;
	long long v;
	if (slurp(path, 64, &text, &len) != 0)
		return 0;
	pid_t pid = parse_ll(text, len, 1, INT_MAX, &v) == 0 ? (pid_t)v : 0;
	free(text);
	return pid;
}

/* Trims trailing blanks of a buffer's text in place and returns it. */
static const char *trimmed(struct buf *b)
{
	while (b->len && isspace((unsigned char)b->p[b->len - 1]))
		b->p[--b->len] = '\0';
	return b->p;
}

/* A growable NULL-terminated array of strings. */
struct strv {
	char **v;
	size_t n, cap;
};

static void strv_add(struct strv *s, const char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(str);
	s->v[s->n] = NULL;
}

static void strv_addn(struct strv *s, char *owned)
{
	strv_add(s, owned);
	free(owned);
}

void crunrt_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

bool crunrt_id_valid(const char *id)
{
	if (!id || !isalnum((unsigned char)id[0]))
		return false;
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	}
	return n <= CRUNRT_ID_MAX;
}

/* ---- processes ---- */

struct fdmap {
	int src, dst;
};

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Starts argv[0] (a path) with argv and envp, working directory cwd (NULL = ours), descriptor
 * maps[i].src as maps[i].dst and every other descriptor closed, default signal dispositions and an
 * empty signal mask. Returns 0 with *pid, or -1 with *err. */
static int spawn(char *const *argv, char *const *envp, const char *cwd, const struct fdmap *maps,
		 size_t nmaps, pid_t *pid, struct err **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int hi[SPAWN_FDS_MAX];
	int maxdst = 2, rc = 0;
	size_t moved = 0;

	if (nmaps > SPAWN_FDS_MAX)
		return err_set(err, ERR_INTERNAL, "spawn %s: too many descriptors", argv[0]);
	/* Every source goes above every target first, so that no dup2 overwrites a source still to
	 * be placed (a pipe the agent got as descriptor 3 must not be clobbered by the one for 3). */
	for (; moved < nmaps; moved++) {
		hi[moved] = fcntl(maps[moved].src, F_DUPFD_CLOEXEC, SPAWN_FD_FLOOR);
		if (hi[moved] < 0) {
			rc = errno;
			goto out_fds;
		}
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	for (size_t i = 0; i < nmaps; i++) {
		/* dup2 clears the copy's close-on-exec flag in the child */
		posix_spawn_file_actions_adddup2(&fa, hi[i], maps[i].dst);
		if (maps[i].dst > maxdst)
			maxdst = maps[i].dst;
	}
	posix_spawn_file_actions_addclosefrom_np(&fa, maxdst + 1);
	if (cwd)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	sigset_t mask, def;
	sigemptyset(&mask);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	posix_spawnattr_setsigmask(&at, &mask);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
out_fds:
	for (size_t i = 0; i < moved; i++)
		close(hi[i]);
	if (rc)
		return err_sys(err, rc, "run %s", argv[0]);
	return 0;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static void reap(pid_t pid, int *status)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
}

/* Waits up to timeout_ms for our child pid to exit; SIGKILLs it when it does not. Returns its wait
 * status, and sets *timed_out. */
static int wait_child(pid_t pid, long long timeout_ms, bool *timed_out)
{
	int st = 0;
	*timed_out = false;
	int pfd = pidfd_open_(pid);
	if (pfd >= 0) {
		struct pollfd p = {pfd, POLLIN, 0};
		long long deadline = now_ms() + timeout_ms;
		for (;;) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				*timed_out = true;
				break;
			}
			int r = poll(&p, 1, (int)(left > INT_MAX ? INT_MAX : left));
			if (r > 0 || (r < 0 && errno != EINTR))
				break;
		}
		close(pfd);
	}
	if (*timed_out)
		kill(pid, SIGKILL);
	reap(pid, &st);
	return st;
}

/* The outcome of run_cmd(). */
struct run {
	int code;	/* exit code, 128 + n for signal n */
	bool timed_out; /* killed at the deadline */
	struct buf out; /* stdout (capped) */
	struct buf err; /* stderr (capped) */
};

static void run_release(struct run *r)
{
	buf_release(&r->out);
	buf_release(&r->err);
}

/* Reads what fd has into b (dropping what the cap refuses). Returns false at EOF or on error. */
static bool pump(int fd, struct buf *b)
{
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	if (buf_add(b, chunk, (size_t)n) < 0 && b->max > b->len)
		buf_add(b, chunk, b->max - b->len); /* keep what fits */
	return true;
}

/* Runs argv to completion with stdin on /dev/null and stdout and stderr captured, for up to
 * timeout_ms; at the deadline it and the process named by kill_pidfile (when not NULL and
 * written) are SIGKILLed. Output stops being read DRAIN_GRACE_MS after the command exits, so a
 * background process holding the pipes open does not hold us. Returns 0 with *r (release with
 * run_release()), or -1 with *err when it cannot be started. */
static int run_cmd(char *const *argv, unsigned timeout_ms, const char *kill_pidfile, struct run *r,
		   struct err **err)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, devnull = -1, pfd = -1, ret = -1;
	pid_t pid = -1;

	memset(r, 0, sizeof *r);
	buf_init(&r->out, CRUNRT_OUTPUT_MAX);
	buf_init(&r->err, ERR_TEXT_MAX);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(outp, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pipe2(errp, O_CLOEXEC | O_NONBLOCK) != 0) {
		err_sys(err, errno, "run %s: pipes", argv[0]);
		goto out;
	}
	struct fdmap maps[] = {{devnull, 0}, {outp[1], 1}, {errp[1], 2}};
	char *const envp[] = {(char *)SPAWN_ENV_PATH, NULL};
	if (spawn(argv, envp, NULL, maps, 3, &pid, err) < 0)
		goto out;
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	pfd = pidfd_open_(pid);

	long long deadline = now_ms() + (timeout_ms ? timeout_ms : CRUNRT_CMD_TIMEOUT_MS);
	long long drain_until = 0;
	bool exited = false;
	for (;;) {
		/* until both pipes end and the command exits (its pidfd), or the deadline */
		if (outp[0] < 0 && errp[0] < 0 && (exited || pfd < 0))
			break;
		struct pollfd p[3];
		int np = 0, io = -1, ie = -1, ip = -1;
		if (outp[0] >= 0) {
			io = np;
			p[np++] = (struct pollfd){outp[0], POLLIN, 0};
		}
		if (errp[0] >= 0) {
			ie = np;
			p[np++] = (struct pollfd){errp[0], POLLIN, 0};
		}
		if (pfd >= 0 && !exited) {
			ip = np;
			p[np++] = (struct pollfd){pfd, POLLIN, 0};
		}
		long long t = now_ms();
		long long until = exited ? drain_until : deadline;
		if (t >= until) {
			if (!exited)
				r->timed_out = true;
			break;
		}
		int n = poll(p, (nfds_t)np, (int)(until - t));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (io >= 0 && p[io].revents && !pump(outp[0], &r->out))
			close_fd(&outp[0]);
		if (ie >= 0 && p[ie].revents && !pump(errp[0], &r->err))
			close_fd(&errp[0]);
		if (ip >= 0 && p[ip].revents) {
			exited = true;
			drain_until = now_ms() + DRAIN_GRACE_MS;
		}
	}
	if (r->timed_out) {
		kill(pid, SIGKILL);
		if (kill_pidfile) {
			pid_t victim = read_pidfile(kill_pidfile);
			if (victim > 0)
				kill(victim, SIGKILL);
		}
	}
	int st;
	reap(pid, &st);
	r->code = decode_status(st);
	ret = 0;
out:
	close_fd(&devnull);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&pfd);
	if (ret < 0)
		run_release(r);
	return ret;
}

/* Runs crun with args after its --root. */
static int run_crun(const struct crunrt *rt, const char *const *args, unsigned timeout_ms,
		    const char *kill_pidfile, struct run *r, struct err **err)
{
	char **argv = crunrt_crun_argv(rt, args);
	int rc = run_cmd(argv, timeout_ms, kill_pidfile, r, err);
	crunrt_strv_free(argv);
	return rc;
}

/* ---- cgroups ---- */

/* Splits s in place at single spaces into at most max fields. Returns the count. */
static size_t split_fields(char *s, char **f, size_t max)
{
	size_t n = 0;
	while (*s && n < max) {
		f[n++] = s;
		char *sp = strchr(s, ' ');
		if (!sp)
			break;
		*sp = '\0';
		s = sp + 1;
	}
	return n;
}

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (const char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

bool crunrt_opts_has(const char *opts, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* True when path is root or below it. */
static bool path_under(const char *path, const char *root)
{
	size_t n = strlen(root);
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void hier_release(struct crunrt_hier *h)
{
	free(h->path);
	free(h->opts);
}

void crunrt_cgroups_release(struct crunrt_cgroups *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->nh; i++)
		hier_release(&cg->h[i]);
	free(cg->h);
	free(cg->root);
	free(cg->unified);
	free(cg->memory);
	memset(cg, 0, sizeof *cg);
}

static void cgroups_copy(struct crunrt_cgroups *dst, const struct crunrt_cgroups *src)
{
	memset(dst, 0, sizeof *dst);
	dst->mode = src->mode;
	dst->root = xstrdup(src->root);
	dst->unified = xstrdup(src->unified);
	dst->memory = xstrdup(src->memory);
	dst->nh = src->nh;
	dst->h = xcalloc(src->nh ? src->nh : 1, sizeof(*dst->h));
	for (size_t i = 0; i < src->nh; i++) {
		dst->h[i] = src->h[i];
		dst->h[i].path = xstrdup(src->h[i].path);
		dst->h[i].opts = xstrdup(src->h[i].opts);
	}
}

int crunrt_cgroups_parse(const char *mountinfo, const char *root_in, struct crunrt_cgroups *out,
			 struct err **err)
{
	struct crunrt_cgroups cg = {0};
	char *root = xstrdup(root_in);
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		root[--rl] = '\0';
	char *text = xstrdup(mountinfo);
	size_t cap = 0;

	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *f[64];
		size_t n = split_fields(line, f, 64);
		line = nl ? nl + 1 : NULL;
		size_t sep = 6;
		while (sep < n && strcmp(f[sep], "-") != 0)
			sep++;
		if (n < 7 || sep + 1 >= n)
			continue;
		char *mp = f[4];
		unescape_octal(mp);
		const char *fstype = f[sep + 1];
		const char *super = sep + 3 < n ? f[sep + 3] : "";
		if (!path_under(mp, root))
			continue;
		/* A later mount on the same mount point (or on one above it) hides what was there. */
		for (size_t i = 0; i < cg.nh;) {
			if (path_under(cg.h[i].path, mp)) {
				hier_release(&cg.h[i]);
				memmove(&cg.h[i], &cg.h[i + 1], (cg.nh - i - 1) * sizeof(cg.h[0]));
				cg.nh--;
			} else {
				i++;
			}
		}
		bool v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		if (cg.nh == cap) {
			cap = cap ? 2 * cap : 16;
			cg.h = xrealloc(cg.h, cap * sizeof(*cg.h));
		}
		struct crunrt_hier *h = &cg.h[cg.nh++];
		h->path = xstrdup(mp);
		h->opts = xstrdup(v2 ? "" : super);
		h->v2 = v2;
		h->memory = !v2 && crunrt_opts_has(super, "memory");
	}
	free(text);

	char *unified_path = xasprintf("%s/unified", root);
	for (size_t i = 0; i < cg.nh; i++) {
		if (cg.h[i].v2 && strcmp(cg.h[i].path, root) == 0) {
			cg.mode = CRUNRT_CGROUP_V2;
			free(cg.unified);
			cg.unified = xstrdup(root);
		} else if (cg.h[i].v2 && strcmp(cg.h[i].path, unified_path) == 0 &&
			   cg.mode != CRUNRT_CGROUP_V2) {
			cg.mode = CRUNRT_CGROUP_HYBRID;
			free(cg.unified);
			cg.unified = xstrdup(unified_path);
		}
	}
	free(unified_path);
	if (!cg.mode) {
		for (size_t i = 0; i < cg.nh; i++) {
			if (!cg.h[i].v2)
				cg.mode = CRUNRT_CGROUP_V1;
		}
	}
	if (cg.mode != CRUNRT_CGROUP_V2) {
		for (size_t i = 0; i < cg.nh; i++) {
			if (cg.h[i].memory) {
				free(cg.memory);
				cg.memory = xstrdup(cg.h[i].path);
			}
		}
	}
	if (!cg.mode) {
		err_set(err, ERR_SYS, "no cgroup hierarchy is mounted at %s", root);
		free(root);
		crunrt_cgroups_release(&cg);
		return -1;
	}
	cg.root = root;
	*out = cg;
	return 0;
}

static int cgroups_detect_at(const char *mountinfo_path, const char *root, struct crunrt_cgroups *out,
			     struct err **err)
{
	char *text = NULL;
	int rc = slurp(mountinfo_path, CRUNRT_FILE_MAX, &text, NULL);
	if (rc)
		return err_sys(err, rc, "read %s", mountinfo_path);
	rc = crunrt_cgroups_parse(text, root, out, err);
	free(text);
	return rc;
}

int crunrt_cgroups_detect(struct crunrt_cgroups *out, struct err **err)
{
	return cgroups_detect_at("/proc/self/mountinfo", CRUNRT_CGROUP_ROOT, out, err);
}

bool crunrt_cgroups_v2(const struct crunrt_cgroups *cg)
{
	return cg && cg->mode == CRUNRT_CGROUP_V2;
}

int crunrt_hybrid_plan(const struct crunrt_cgroups *cg, char ***ctrls, struct err **err)
{
	struct strv s = {xcalloc(1, sizeof(char *)), 0, 1};
	if (cg->mode != CRUNRT_CGROUP_HYBRID || !cg->unified) {
		*ctrls = s.v;
		return 0;
	}
	char *path = xasprintf("%s/cgroup.controllers", cg->unified);
	char *text = NULL;
	int rc = slurp(path, CRUNRT_FILE_MAX, &text, NULL);
	if (rc) {
		err_sys(err, rc, "read %s", path);
		goto fail;
	}
	for (char *p = text; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		char *start = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		size_t len = (size_t)(p - start);
		bool ok = len <= CTRL_NAME_MAX;
		for (size_t i = 0; ok && i < len; i++)
			ok = islower((unsigned char)start[i]) || isdigit((unsigned char)start[i]) ||
			     start[i] == '_';
		if (!ok) {
			err_set(err, ERR_SYS, "%s: '%.*s' is not a cgroup controller", path,
				(int)(len > 64 ? 64 : len), start);
			goto fail;
		}
		strv_addn(&s, xstrndup(start, len));
	}
	free(text);
	free(path);
	*ctrls = s.v;
	return (int)s.n;
fail:
	free(text);
	free(path);
	crunrt_strv_free(s.v);
	return -1;
}

int crunrt_host_prepare_at(const char *mountinfo_path, const char *root, struct crunrt_cgroups *cg_out,
			   struct err **err)
{
	struct crunrt_cgroups cg = {0};
	char **ctrls = NULL;
	int ret = -1;

	if (cgroups_detect_at(mountinfo_path, root, &cg, err) < 0)
		goto out;
	int n = crunrt_hybrid_plan(&cg, &ctrls, err);
	if (n < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		char *target = xasprintf("%s/%s", cg.root, ctrls[i]);
		for (size_t j = 0; j < cg.nh; j++) {
			if (strcmp(cg.h[j].path, target) == 0) {
				err_set(err, ERR_SYS,
					"cgroup controller %s is on cgroup v2 but %s is already a cgroup "
					"mount (%s)",
					ctrls[i], target, cg.h[j].opts);
				free(target);
				goto out;
			}
		}
		bool made = mkdir(target, 0755) == 0;
		if (!made && errno != EEXIST) {
			int e = errno;
			err_sys(err, e, "create %s for the %s cgroup controller%s", target, ctrls[i],
				e == EROFS ? " (the cgroup root is read-only: remount it read-write)" : "");
			free(target);
			goto out;
		}
		/* Mounting a v1 hierarchy with the controller moves it off the unified one; the kernel
		 * refuses (EBUSY) while a v2 cgroup has it in cgroup.subtree_control. */
		if (mount("cgroup", target, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
			  ctrls[i]) != 0) {
			int e = errno;
			if (made)
				rmdir(target);
			err_sys(err, e, "mount the %s cgroup controller as a v1 hierarchy at %s%s", ctrls[i],
				target,
				e == EBUSY
					? " (it is enabled in a cgroup v2 subtree_control: disable it there)"
					: "");
			free(target);
			goto out;
		}
		log_info("cgroups: hybrid host: moved the %s controller from cgroup v2 to a v1 hierarchy at "
			 "%s "
			 "(crun refuses hybrid mode while cgroup v2 has controllers)",
			 ctrls[i], target);
		free(target);
	}
	if (n > 0) {
		crunrt_strv_free(ctrls);
		ctrls = NULL;
		crunrt_cgroups_release(&cg);
		if (cgroups_detect_at(mountinfo_path, root, &cg, err) < 0)
			goto out;
		int left = crunrt_hybrid_plan(&cg, &ctrls, err);
		if (left < 0)
			goto out;
		if (left > 0) {
			err_set(err, ERR_SYS,
				"%s/cgroup.controllers still lists %s after moving it to cgroup v1",
				cg.unified, ctrls[0]);
			goto out;
		}
	}
	if (cg_out) {
		*cg_out = cg;
		memset(&cg, 0, sizeof cg);
	}
	ret = 0;
out:
	crunrt_strv_free(ctrls);
	crunrt_cgroups_release(&cg);
	return ret;
}

int crunrt_host_prepare(struct crunrt_cgroups *cg_out, struct err **err)
{
	if (crunrt_host_prepare_at("/proc/self/mountinfo", CRUNRT_CGROUP_ROOT, cg_out, err) < 0)
		return err_prefix(err, "prepare cgroups for crun");
	return 0;
}

/* rmdir()s dir and the directories below it, deepest first. ENOENT is fine. */
static int rmdir_tree(const char *dir, int depth, struct err **err)
{
	int ret = 0;
	if (depth > PRUNE_DEPTH_MAX)
		return err_set(err, ERR_SYS, "%s: cgroups nested deeper than %d", dir, PRUNE_DEPTH_MAX);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : err_sys(err, errno, "open %s", dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *sub = xasprintf("%s/%s", dir, de->d_name);
		if (rmdir_tree(sub, depth + 1, err) < 0)
			ret = -1;
		free(sub);
	}
	closedir(d);
	if (rmdir(dir) != 0 && errno != ENOENT)
		ret = err_sys(err, errno, "remove cgroup %s", dir);
	return ret;
}

int crunrt_cgroup_prune(const struct crunrt_cgroups *cg, const char *path, struct err **err)
{
	if (!path || path[0] != '/' || strcmp(path, "/") == 0 || strstr(path, "/..") || strstr(path, "//"))
		return err_set(err, ERR_INVALID_PARAM,
			       "cgroup path '%s' must be absolute, below /, without '..'", path ? path : "");
	int ret = 0;
	for (size_t i = 0; i < cg->nh; i++) {
		char *full = xasprintf("%s%s", cg->h[i].path, path);
		if (rmdir_tree(full, 0, err) < 0)
			ret = -1;
		free(full);
	}
	return ret;
}

/* ---- the runtime handle ---- */

static int mkdir_p(const char *path, struct err **err)
{
	char *p = xstrdup(path);
	int ret = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			ret = err_sys(err, errno, "create %s", p);
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return ret;
}

void crunrt_free(struct crunrt *rt)
{
	if (!rt)
		return;
	free(rt->state_dir);
	free(rt->crun_root);
	free(rt->exit_dir);
	free(rt->sock_dir);
	free(rt->exec_dir);
	free(rt->crun);
	free(rt->conmon);
	crunrt_cgroups_release(&rt->cg);
	free(rt);
}

struct crunrt *crunrt_new(const struct crunrt_opts *o, struct err **err)
{
	if (!o->state_dir || o->state_dir[0] != '/') {
		err_set(err, ERR_INVALID_PARAM, "crun state directory must be an absolute path");
		return NULL;
	}
	struct crunrt *rt = xcalloc(1, sizeof *rt);
	rt->state_dir = xstrdup(o->state_dir);
	rt->crun_root = xasprintf("%s/crun", o->state_dir);
	rt->exit_dir = xasprintf("%s/exits", o->state_dir);
	rt->sock_dir = xasprintf("%s/sockets", o->state_dir);
	rt->exec_dir = xasprintf("%s/exec", o->state_dir);
	rt->crun = xstrdup(o->crun_path ? o->crun_path : CRUNRT_CRUN_PATH);
	rt->conmon = xstrdup(o->conmon_path ? o->conmon_path : CRUNRT_CONMON_PATH);
	rt->log_size_max = o->log_size_max > 0 ? o->log_size_max : CRUNRT_LOG_SIZE_MAX_DEF;
	const char *dirs[] = {rt->crun_root, rt->exit_dir, rt->sock_dir, rt->exec_dir};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (mkdir_p(dirs[i], err) < 0)
			goto fail;
	}
	const char *bins[] = {rt->crun, rt->conmon};
	for (size_t i = 0; i < 2; i++) {
		if (access(bins[i], X_OK) != 0) {
			err_sys(err, errno, "%s is not an executable (install the %s package)", bins[i],
				i == 0 ? "crun" : "conmon");
			goto fail;
		}
	}
	if (o->cgroups)
		cgroups_copy(&rt->cg, o->cgroups);
	else if (crunrt_cgroups_detect(&rt->cg, err) < 0)
		goto fail;
	return rt;
fail:
	crunrt_free(rt);
	return NULL;
}

const char *crunrt_exit_dir(const struct crunrt *rt)
{
	return rt->exit_dir;
}

const struct crunrt_cgroups *crunrt_cgroups(const struct crunrt *rt)
{
	return &rt->cg;
}

/* ---- pure helpers ---- */

char **crunrt_conmon_argv(const struct crunrt *rt, const struct crunrt_create *c)
{
	struct strv s = {0};
	strv_add(&s, rt->conmon);
	strv_add(&s, "--api-version");
	strv_add(&s, "1");
	strv_add(&s, "-c");
	strv_add(&s, c->id);
	strv_add(&s, "-u");
	strv_add(&s, c->id);
	strv_add(&s, "-n");
	strv_add(&s, c->name ? c->name : c->id);
	strv_add(&s, "-r");
	strv_add(&s, rt->crun);
	strv_add(&s, "-b");
	strv_add(&s, c->bundle);
	strv_add(&s, "-p");
	strv_addn(&s, xasprintf("%s/" CTR_PIDFILE, c->bundle));
	strv_add(&s, "-P");
	strv_addn(&s, xasprintf("%s/" CONMON_PIDFILE, c->bundle));
	strv_add(&s, "--persist-dir");
	strv_add(&s, c->bundle);
	strv_add(&s, "--exit-dir");
	strv_add(&s, rt->exit_dir);
	strv_add(&s, "-l");
	if (c->log_path)
		strv_addn(&s, xasprintf("k8s-file:%s", c->log_path));
	else
		strv_addn(&s, xasprintf("k8s-file:%s/" DEFAULT_LOG_NAME, c->bundle));
	strv_add(&s, "--log-size-max");
	strv_addn(&s, xasprintf("%lld", rt->log_size_max));
	strv_add(&s, "--socket-dir-path");
	strv_add(&s, rt->sock_dir);
	/* The attach socket in the bundle itself, rather than a symlink per container under
	 * --socket-dir-path that conmon never removes. */
	strv_add(&s, "--full-attach");
	strv_add(&s, "--runtime-arg");
	strv_add(&s, "--root");
	strv_add(&s, "--runtime-arg");
	strv_add(&s, rt->crun_root);
	return s.v;
}

char **crunrt_crun_argv(const struct crunrt *rt, const char *const *args)
{
	struct strv s = {0};
	strv_add(&s, rt->crun);
	strv_add(&s, "--root");
	strv_add(&s, rt->crun_root);
	for (size_t i = 0; args && args[i]; i++)
		strv_add(&s, args[i]);
	return s.v;
}

int crunrt_parse_exit(const char *text, size_t len, int *code)
{
	long long v;
	if (parse_ll(text, len, -1, 255, &v) < 0)
		return -1;
	*code = (int)v;
	return 0;
}

int crunrt_parse_sync(const char *text, size_t len, int *data, char **message, struct err **err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	if (!j)
		return err_set(err, ERR_SYS, "conmon's sync message is not JSON: %s", je.text);
	json_t *d = json_object_get(j, "data");
	json_t *m = json_object_get(j, "message");
	if (!json_is_integer(d) || json_integer_value(d) < INT_MIN || json_integer_value(d) > INT_MAX ||
	    (m && !json_is_string(m))) {
		json_decref(j);
		return err_set(err, ERR_SYS, "conmon's sync message has no integer \"data\"");
	}
	*data = (int)json_integer_value(d);
	*message = NULL;
	if (m) {
		struct buf b = BUF_INIT;
		buf_adds(&b, json_string_value(m));
		trimmed(&b);
		*message = buf_detach(&b, NULL);
	}
	json_decref(j);
	return 0;
}

int crunrt_parse_oom_kill(const char *text, unsigned long long *count)
{
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 9 && strncmp(line, "oom_kill ", 9) == 0) {
			long long v;
			if (parse_ll(line + 9, len - 9, 0, LLONG_MAX, &v) < 0)
				return -1;
			*count = (unsigned long long)v;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -1;
}

static enum crunrt_state state_from(const char *s)
{
	if (!s)
		return CRUNRT_UNKNOWN;
	if (strcmp(s, "created") == 0)
		return CRUNRT_CREATED;
	if (strcmp(s, "running") == 0)
		return CRUNRT_RUNNING;
	if (strcmp(s, "paused") == 0)
		return CRUNRT_PAUSED;
	if (strcmp(s, "stopped") == 0)
		return CRUNRT_STOPPED;
	return CRUNRT_UNKNOWN;
}

/* Fills i from one entry of `crun list --format json` or `crun state`. */
static int info_from_json(json_t *e, struct crunrt_info *i, struct err **err)
{
	const char *id = json_string_value(json_object_get(e, "id"));
	const char *status = json_string_value(json_object_get(e, "status"));
	const char *bundle = json_string_value(json_object_get(e, "bundle"));
	json_t *pid = json_object_get(e, "pid");
	if (!id || !status || !bundle || (pid && !json_is_integer(pid)))
		return err_set(err, ERR_SYS, "crun's container entry lacks id, status or bundle");
	memset(i, 0, sizeof *i);
	i->id = xstrdup(id);
	i->bundle = xstrdup(bundle);
	i->state = state_from(status);
	long long p = pid ? json_integer_value(pid) : 0;
	i->pid = p > 0 && p <= INT_MAX && i->state != CRUNRT_STOPPED ? (pid_t)p : 0;
	return 0;
}

void crunrt_info_release(struct crunrt_info *i)
{
	if (!i)
		return;
	free(i->id);
	free(i->bundle);
	memset(i, 0, sizeof *i);
}

void crunrt_infos_free(struct crunrt_info *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		crunrt_info_release(&v[i]);
	free(v);
}

int crunrt_parse_list(const char *text, size_t len, struct crunrt_info **out, size_t *n, struct err **err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	if (!j)
		return err_set(err, ERR_SYS, "crun list: not JSON: %s", je.text);
	if (!json_is_array(j)) {
		json_decref(j);
		return err_set(err, ERR_SYS, "crun list: not a JSON array");
	}
	size_t cnt = json_array_size(j);
	struct crunrt_info *v = xcalloc(cnt ? cnt : 1, sizeof *v);
	for (size_t i = 0; i < cnt; i++) {
		if (info_from_json(json_array_get(j, i), &v[i], err) < 0) {
			crunrt_infos_free(v, i);
			json_decref(j);
			return err_prefix(err, "crun list");
		}
	}
	json_decref(j);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- container files ---- */

static char *exit_path(const struct crunrt *rt, const char *id)
{
	return xasprintf("%s/%s", rt->exit_dir, id);
}

static void unlink_bundle_files(const char *bundle)
{
	for (size_t i = 0; i < sizeof bundle_files / sizeof bundle_files[0]; i++) {
		char *p = xasprintf("%s/%s", bundle, bundle_files[i]);
		unlink(p);
		free(p);
	}
}

/* True when crun keeps state for id in its --root. */
static bool crun_knows(const struct crunrt *rt, const char *id)
{
	char *p = xasprintf("%s/%s", rt->crun_root, id);
	bool r = file_exists(p);
	free(p);
	return r;
}

/* True when pid is a live (not zombie) conmon watching container id: a pid reused by another
 * process after conmon exited is not it. */
static bool conmon_alive(pid_t pid, const char *id)
{
	char path[64], *text = NULL;
	size_t len;
	if (pid <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (slurp(path, 4096, &text, &len) != 0)
		return false;
	const char *rp = strrchr(text, ')');
	bool alive = rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
	free(text);
	if (!alive)
		return false;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if (slurp(path, 256 << 10, &text, &len) != 0)
		return false;
	const char *args[512];
	size_t na = 0;
	for (size_t off = 0; off < len && na < 512; off += strlen(text + off) + 1)
		args[na++] = text + off;
	const char *base = na ? strrchr(args[0], '/') : NULL;
	base = base ? base + 1 : (na ? args[0] : "");
	bool match = false;
	if (strcmp(base, "conmon") == 0) {
		for (size_t i = 1; i < na && !match; i++) {
			if ((strcmp(args[i], "-c") == 0 || strcmp(args[i], "--cid") == 0) && i + 1 < na)
				match = strcmp(args[i + 1], id) == 0;
			else if (strncmp(args[i], "--cid=", 6) == 0)
				match = strcmp(args[i] + 6, id) == 0;
		}
	}
	free(text);
	return match;
}

/* Reads the exit file of id: 1 with *code when there is one, 0 when not (yet). */
static int read_exit(const struct crunrt *rt, const char *id, int *code)
{
	char *p = exit_path(rt, id), *text = NULL;
	size_t len;
	int rc = slurp(p, 64, &text, &len);
	free(p);
	if (rc)
		return 0;
	rc = crunrt_parse_exit(text, len, code) == 0 ? 1 : 0;
	free(text);
	return rc;
}

/* Whether the OOM killer struck in the container's cgroup: conmon's oom file in the bundle, or
 * the memory cgroup's oom_kill counter (linux.cgroupsPath of config.json) while it exists. */
static bool read_oom(const struct crunrt *rt, const char *bundle)
{
	char *p = xasprintf("%s/oom", bundle), *text = NULL;
	bool oom = file_exists(p);
	free(p);
	if (oom)
		return true;
	const char *base = rt->cg.mode == CRUNRT_CGROUP_V2 ? rt->cg.unified : rt->cg.memory;
	if (!base)
		return false;
	p = xasprintf("%s/config.json", bundle);
	size_t len;
	int rc = slurp(p, CRUNRT_FILE_MAX, &text, &len);
	free(p);
	if (rc)
		return false;
	json_t *cfg = json_loadb(text, len, 0, NULL);
	free(text);
	text = NULL;
	const char *cgp = json_string_value(json_object_get(json_object_get(cfg, "linux"), "cgroupsPath"));
	/* Relative and systemd-style ("slice:prefix:name") paths are not followed. */
	if (cgp && cgp[0] == '/' && !strstr(cgp, "..")) {
		p = xasprintf("%s%s/%s", base, cgp,
			      rt->cg.mode == CRUNRT_CGROUP_V2 ? "memory.events" : "memory.oom_control");
		unsigned long long n = 0;
		if (slurp(p, 64 << 10, &text, NULL) == 0 && crunrt_parse_oom_kill(text, &n) == 0 && n > 0)
			oom = true;
		free(p);
		free(text);
	}
	json_decref(cfg);
	return oom;
}

/* Adds what conmon left to i: its pid and liveness, the exit code, the OOM flag. */
static void info_extra(const struct crunrt *rt, struct crunrt_info *i)
{
	if (i->bundle) {
		char *p = xasprintf("%s/" CONMON_PIDFILE, i->bundle);
		i->conmon_pid = read_pidfile(p);
		free(p);
		i->conmon_alive = conmon_alive(i->conmon_pid, i->id);
		i->oom = read_oom(rt, i->bundle);
	}
	i->exited = read_exit(rt, i->id, &i->exit_code) == 1;
}

/* `crun state ID`: 0 with *i, or -1 with *err (ERR_NOT_FOUND when crun knows no such container). */
static int crun_state(struct crunrt *rt, const char *id, struct crunrt_info *i, struct err **err)
{
	struct run r;
	const char *args[] = {"state", id, NULL};
	if (run_crun(rt, args, 0, NULL, &r, err) < 0)
		return -1;
	int ret = -1;
	if (r.code != 0) {
		if (!crun_knows(rt, id))
			err_set(err, ERR_NOT_FOUND, "container %s does not exist", id);
		else
			err_set(err, ERR_SYS, "crun state %s: %s", id,
				r.timed_out ? "timed out" : trimmed(&r.err));
		goto out;
	}
	json_error_t je;
	json_t *j = json_loadb(r.out.p, r.out.len, 0, &je);
	if (!j) {
		err_set(err, ERR_SYS, "crun state %s: not JSON: %s", id, je.text);
		goto out;
	}
	ret = info_from_json(j, i, err);
	json_decref(j);
out:
	run_release(&r);
	return ret;
}

/* ---- lifecycle ---- */

/* Reads one message (up to a newline or EOF) from conmon's sync pipe before deadline. Returns 1
 * with the text in *b, 0 at EOF without one, -2 at the deadline, -1 on a read error. */
static int read_sync(int fd, long long deadline, struct buf *b)
{
	for (;;) {
		if (memchr(b->p, '\n', b->len))
			return 1;
		long long left = deadline - now_ms();
		if (left <= 0)
			return -2;
		struct pollfd p = {fd, POLLIN, 0};
		int n = poll(&p, 1, (int)(left > INT_MAX ? INT_MAX : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			continue;
		char chunk[4096];
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return b->len ? 1 : 0;
		if (buf_add(b, chunk, (size_t)r) < 0)
			return 1; /* over CRUNRT_SYNC_MAX: parse what came (and fail) */
	}
}

/* Undoes a failed create: conmon (when still there) and whatever crun kept. */
static void create_undo(struct crunrt *rt, const struct crunrt_create *c, pid_t conmon_pid)
{
	if (conmon_pid > 0 && conmon_alive(conmon_pid, c->id))
		kill(conmon_pid, SIGKILL);
	if (crun_knows(rt, c->id)) {
		struct run r;
		const char *args[] = {"delete", "--force", c->id, NULL};
		if (run_crun(rt, args, 0, NULL, &r, NULL) == 0)
			run_release(&r);
	}
	char *p = exit_path(rt, c->id);
	unlink(p);
	free(p);
	unlink_bundle_files(c->bundle);
}

int crunrt_create(struct crunrt *rt, const struct crunrt_create *c, struct crunrt_started *out,
		  struct err **err)
{
	int syncp[2] = {-1, -1}, startp[2] = {-1, -1}, errp[2] = {-1, -1}, devnull = -1;
	char **argv = NULL, *cfg = NULL, *env_sync = NULL, *env_start = NULL, *pidfile = NULL, *msg = NULL;
	struct buf sync = BUF_INIT, errtext = BUF_INIT;
	pid_t pid = -1, conmon_pid = 0;
	int ret = -1;

	if (!crunrt_id_valid(c->id))
		return err_set(err, ERR_INVALID_PARAM, "container id '%.*s' is not 1 to %d of [A-Za-z0-9_-]",
			       CRUNRT_ID_MAX, c->id ? c->id : "", CRUNRT_ID_MAX);
	if (!c->bundle || c->bundle[0] != '/')
		return err_set(err, ERR_INVALID_PARAM,
			       "create container %s: the bundle must be an absolute path", c->id);
	if (c->log_path && c->log_path[0] != '/')
		return err_set(err, ERR_INVALID_PARAM,
			       "create container %s: the log must be an absolute path", c->id);
	cfg = xasprintf("%s/config.json", c->bundle);
	if (!file_exists(cfg)) {
		err_sys(err, errno, "create container %s: %s", c->id, cfg);
		goto out;
	}
	if (crun_knows(rt, c->id)) {
		err_set(err, ERR_CLIENT, "create container %s: crun already has a container by that id",
			c->id);
		goto out;
	}
	/* Leftovers of an earlier container by this id or in this bundle would be read as this one's. */
	char *ep = exit_path(rt, c->id);
	unlink(ep);
	free(ep);
	unlink_bundle_files(c->bundle);

	buf_init(&sync, CRUNRT_SYNC_MAX);
	buf_init(&errtext, ERR_TEXT_MAX);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* The start pipe is a socket so that writing to a conmon that died fails with EPIPE instead
	 * of raising SIGPIPE in the agent; conmon only read()s it. */
	if (devnull < 0 || pipe2(syncp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, startp) != 0) {
		err_sys(err, errno, "create container %s: pipes", c->id);
		goto out;
	}
	argv = crunrt_conmon_argv(rt, c);
	env_sync = xasprintf("_OCI_SYNCPIPE=%d", CONMON_SYNC_FD);
	env_start = xasprintf("_OCI_STARTPIPE=%d", CONMON_START_FD);
	char *const envp[] = {(char *)SPAWN_ENV_PATH, env_sync, env_start, NULL};
	struct fdmap maps[] = {
		{devnull, 0},
		{devnull, 1},
		{errp[1], 2},
		{syncp[1], CONMON_SYNC_FD},
		{startp[1], CONMON_START_FD},
	};
	if (spawn(argv, envp, c->bundle, maps, 5, &pid, err) < 0) {
		err_prefix(err, "create container %s", c->id);
		goto out;
	}
	close_fd(&syncp[1]);
	close_fd(&startp[1]);
	close_fd(&errp[1]);

	/* conmon waits on the start pipe before it forks, so that a caller can first move it into a
	 * cgroup of its own; this one keeps it in the agent's. */
	if (send(startp[0], "0", 1, MSG_NOSIGNAL) != 1)
		log_debug("crun: container %s: conmon did not take the start pipe: %s", c->id,
			  strerror(errno));
	close_fd(&startp[0]);

	/* The first conmon forks the monitor and exits; the monitor is not our child, so it keeps
	 * running when the agent exits. */
	bool timed_out;
	int st = wait_child(pid, CRUNRT_CREATE_TIMEOUT_MS, &timed_out);
	pid = -1;
	pidfile = xasprintf("%s/" CONMON_PIDFILE, c->bundle);
	conmon_pid = read_pidfile(pidfile);
	if (timed_out || decode_status(st) != 0) {
		pump(errp[0], &errtext);
		err_set(err, ERR_SYS, "create container %s: conmon %s%s%s", c->id,
			timed_out ? "did not fork in time" : "failed", errtext.len ? ": " : "",
			trimmed(&errtext));
		goto undo;
	}
	if (conmon_pid <= 0) {
		err_set(err, ERR_SYS, "create container %s: conmon wrote no pid to %s", c->id, pidfile);
		goto undo;
	}
	conmon_to_cgroup(rt, conmon_pid);

	int rs = read_sync(syncp[0], now_ms() + CRUNRT_CREATE_TIMEOUT_MS, &sync);
	if (rs == -2) {
		err_set(err, ERR_SYS, "create container %s: no answer from conmon within %d ms", c->id,
			CRUNRT_CREATE_TIMEOUT_MS);
		goto undo;
	}
	if (rs <= 0) {
		err_set(err, ERR_SYS,
			"create container %s: conmon exited without reporting the container's pid", c->id);
		goto undo;
	}
	int data;
	if (crunrt_parse_sync(sync.p, sync.len, &data, &msg, err) < 0) {
		err_prefix(err, "create container %s", c->id);
		goto undo;
	}
	if (data <= 0) {
		/* conmon passes on what the runtime printed: crun's reason for refusing the spec */
		err_set(err, ERR_CLIENT, "create container %s: %s", c->id,
			msg && *msg ? msg : "the runtime failed without saying why");
		goto undo;
	}
	out->conmon_pid = conmon_pid;
	out->pid = data;
	ret = 0;
	goto out;
undo:
	create_undo(rt, c, conmon_pid);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		reap(pid, NULL);
	}
	close_fd(&syncp[0]);
	close_fd(&syncp[1]);
	close_fd(&startp[0]);
	close_fd(&startp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&devnull);
	crunrt_strv_free(argv);
	buf_release(&sync);
	buf_release(&errtext);
	free(cfg);
	free(env_sync);
	free(env_start);
	free(pidfile);
	free(msg);
	return ret;
}

int crunrt_start(struct crunrt *rt, const char *id, struct err **err)
{
	if (!crunrt_id_valid(id))
		return err_set(err, ERR_INVALID_PARAM, "start container: bad id");
	struct run r;
	const char *args[] = {"start", id, NULL};
	if (run_crun(rt, args, 0, NULL, &r, err) < 0)
		return err_prefix(err, "start container %s", id);
	int ret = 0;
	if (r.code != 0)
		ret = err_set(err, crun_knows(rt, id) ? ERR_CLIENT : ERR_NOT_FOUND, "start container %s: %s",
			      id, r.timed_out ? "crun start timed out" : trimmed(&r.err));
	run_release(&r);
	return ret;
}

int crunrt_kill(struct crunrt *rt, const char *id, int sig, struct err **err)
{
	if (!crunrt_id_valid(id))
		return err_set(err, ERR_INVALID_PARAM, "kill container: bad id");
	if (sig <= 0 || sig >= NSIG)
		return err_set(err, ERR_INVALID_PARAM, "kill container %s: %d is not a signal", id, sig);
	char signum[16];
	snprintf(signum, sizeof signum, "%d", sig);
	struct run r;
	const char *args[] = {"kill", id, signum, NULL};
	if (run_crun(rt, args, 0, NULL, &r, err) < 0)
		return err_prefix(err, "kill container %s", id);
	int ret = 0;
	if (r.code != 0) {
		/* Stopping one that has just stopped on its own is the common race, not a failure. */
		struct crunrt_info i;
		struct err *e2 = NULL;
		if (crun_state(rt, id, &i, &e2) == 0) {
			if (i.state != CRUNRT_STOPPED)
				ret = err_set(err, ERR_SYS, "kill container %s: %s", id,
					      r.timed_out ? "crun kill timed out" : trimmed(&r.err));
			crunrt_info_release(&i);
		} else {
			ret = err_set(err, e2->kind, "kill container %s: %s", id, e2->msg);
			err_free(e2);
		}
	}
	run_release(&r);
	return ret;
}

/* Waits up to timeout_ms for conmon pid (watching id) to exit. */
static void wait_conmon(pid_t pid, const char *id, long long timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int pfd = pidfd_open_(pid);
	while (conmon_alive(pid, id) && now_ms() < deadline) {
		if (pfd >= 0) {
			struct pollfd p = {pfd, POLLIN, 0};
			long long left = deadline - now_ms();
			if (left > 0 && poll(&p, 1, (int)left) > 0)
				break;
		} else {
			sleep_ms(STOP_POLL_MS);
		}
	}
	close_fd(&pfd);
}

int crunrt_remove(struct crunrt *rt, const char *id, const char *bundle_in, struct err **err)
{
	if (!crunrt_id_valid(id))
		return err_set(err, ERR_INVALID_PARAM, "remove container: bad id");
	char *bundle = xstrdup(bundle_in);
	int ret = 0;
	if (crun_knows(rt, id)) {
		struct crunrt_info i;
		struct err *e2 = NULL;
		if (crun_state(rt, id, &i, &e2) == 0) {
			if (!bundle)
				bundle = xstrdup(i.bundle);
			if (i.state != CRUNRT_STOPPED) {
				/* Killed and reaped before the delete, so that conmon's exit file does
				 * not reappear after we remove it. */
				struct run r;
				const char *args[] = {"kill", id, "9", NULL};
				if (run_crun(rt, args, 0, NULL, &r, NULL) == 0)
					run_release(&r);
			}
			char *p = xasprintf("%s/" CONMON_PIDFILE, i.bundle);
			pid_t cp = read_pidfile(p);
			free(p);
			if (cp > 0)
				wait_conmon(cp, id, CRUNRT_STOP_WAIT_MS);
			crunrt_info_release(&i);
		}
		err_free(e2);
		struct run r;
		const char *args[] = {"delete", "--force", id, NULL};
		if (run_crun(rt, args, 0, NULL, &r, err) < 0) {
			ret = -1;
		} else {
			if (r.code != 0 && crun_knows(rt, id))
				ret = err_set(err, ERR_SYS, "crun delete: %s",
					      r.timed_out ? "timed out" : trimmed(&r.err));
			run_release(&r);
		}
	}
	char *ep = exit_path(rt, id);
	if (unlink(ep) != 0 && errno != ENOENT && ret == 0)
		ret = err_sys(err, errno, "remove %s", ep);
	free(ep);
	char *sock = xasprintf("%s/%s", rt->sock_dir, id);
	unlink(sock);
	free(sock);
	if (bundle)
		unlink_bundle_files(bundle);
	free(bundle);
	if (ret < 0)
		err_prefix(err, "remove container %s", id);
	return ret;
}

static atomic_uint exec_seq;

int crunrt_exec(struct crunrt *rt, const char *id, const char *const *argv, unsigned timeout_ms,
		int *exit_code, char **output, struct err **err)
{
	struct crunrt_info i = {0};
	char *text = NULL, *spec_path = NULL, *pid_path = NULL, *proc_text = NULL;
	json_t *cfg = NULL, *proc = NULL;
	struct run r = {0};
	bool ran = false;
	int ret = -1;

	if (!crunrt_id_valid(id))
		return err_set(err, ERR_INVALID_PARAM, "exec in container: bad id");
	if (!argv || !argv[0])
		return err_set(err, ERR_INVALID_PARAM, "exec in container %s: no command", id);
	if (crun_state(rt, id, &i, err) < 0)
		goto out;
	if (i.state != CRUNRT_RUNNING) {
		err_set(err, ERR_CLIENT, "container %s is not running", id);
		goto out;
	}
	/* The command runs as the container's own process does (user, environment, working
	 * directory, capabilities, limits, no_new_privileges): its process spec with other args. */
	char *cfg_path = xasprintf("%s/config.json", i.bundle);
	size_t len;
	int rc = slurp(cfg_path, CRUNRT_FILE_MAX, &text, &len);
	if (rc) {
		err_sys(err, rc, "read %s", cfg_path);
		free(cfg_path);
		goto out;
	}
	free(cfg_path);
	cfg = json_loadb(text, len, 0, NULL);
	proc = json_is_object(json_object_get(cfg, "process"))
		       ? json_deep_copy(json_object_get(cfg, "process"))
		       : json_object();
	json_t *args = json_array();
	for (size_t k = 0; argv[k]; k++)
		json_array_append_new(args, json_string(argv[k]));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_false());
	json_object_del(proc, "consoleSize");
	unsigned seq = atomic_fetch_add(&exec_seq, 1);
	spec_path = xasprintf("%s/%s-%d-%u.json", rt->exec_dir, id, (int)getpid(), seq);
	pid_path = xasprintf("%s/%s-%d-%u.pid", rt->exec_dir, id, (int)getpid(), seq);
	proc_text = json_dumps(proc, JSON_COMPACT);
	if (!proc_text || fsx_rewrite_file(spec_path, proc_text, strlen(proc_text), 0600, err) < 0)
		goto out;
	const char *cargs[] = {"exec", "--process", spec_path, "--pid-file", pid_path, id, NULL};
	if (run_crun(rt, cargs, timeout_ms ? timeout_ms : CRUNRT_CMD_TIMEOUT_MS, pid_path, &r, err) < 0)
		goto out;
	ran = true;
	if (r.timed_out) {
		*exit_code = -1;
		ret = 1;
	} else {
		*exit_code = r.code;
		ret = 0;
	}
	if (output) {
		struct buf b;
		buf_init(&b, CRUNRT_OUTPUT_MAX);
		buf_add(&b, r.out.p, r.out.len);
		if (buf_add(&b, r.err.p, r.err.len) < 0 && b.max > b.len)
			buf_add(&b, r.err.p, b.max - b.len);
		*output = buf_detach(&b, NULL);
	}
out:
	if (ret < 0)
		err_prefix(err, "exec in container %s", id);
	if (spec_path)
		unlink(spec_path);
	if (pid_path)
		unlink(pid_path);
	if (ran)
		run_release(&r);
	crunrt_info_release(&i);
	json_decref(cfg);
	json_decref(proc);
	free(text);
	free(proc_text);
	free(spec_path);
	free(pid_path);
	return ret;
}

/* ---- status and re-adoption ---- */

int crunrt_status(struct crunrt *rt, const char *id, struct crunrt_info *out, struct err **err)
{
	if (!crunrt_id_valid(id))
		return err_set(err, ERR_INVALID_PARAM, "container status: bad id");
	struct err *e2 = NULL;
	if (crun_state(rt, id, out, &e2) < 0) {
		if (e2->kind != ERR_NOT_FOUND) {
			err_set(err, e2->kind, "%s", e2->msg);
			err_free(e2);
			return -1;
		}
		err_free(e2);
		/* crun forgot it (deleted) but its exit file is still there */
		int code;
		if (read_exit(rt, id, &code) != 1)
			return err_set(err, ERR_NOT_FOUND, "container %s does not exist", id);
		memset(out, 0, sizeof *out);
		out->id = xstrdup(id);
		out->state = CRUNRT_UNKNOWN;
		out->exited = true;
		out->exit_code = code;
		return 0;
	}
	info_extra(rt, out);
	return 0;
}

static int info_cmp(const void *a, const void *b)
{
	return strcmp(((const struct crunrt_info *)a)->id, ((const struct crunrt_info *)b)->id);
}

int crunrt_list(struct crunrt *rt, struct crunrt_info **out, size_t *n, struct err **err)
{
	struct run r;
	struct crunrt_info *v = NULL;
	size_t cnt = 0;
	const char *args[] = {"list", "--format", "json", NULL};
	if (run_crun(rt, args, 0, NULL, &r, err) < 0)
		return err_prefix(err, "list containers");
	if (r.code != 0) {
		err_set(err, ERR_SYS, "list containers: crun list: %s",
			r.timed_out ? "timed out" : trimmed(&r.err));
		run_release(&r);
		return -1;
	}
	/* crun prints nothing at all when it has no container */
	if (trimmed(&r.out)[0] == '\0') {
		v = xcalloc(1, sizeof *v);
	} else if (crunrt_parse_list(r.out.p, r.out.len, &v, &cnt, err) < 0) {
		run_release(&r);
		return err_prefix(err, "list containers");
	}
	run_release(&r);
	for (size_t i = 0; i < cnt; i++)
		info_extra(rt, &v[i]);

	/* Exit files crun knows nothing of: the agent stopped between `crun delete` and the unlink. */
	DIR *d = opendir(rt->exit_dir);
	if (!d) {
		crunrt_infos_free(v, cnt);
		return err_sys(err, errno, "list containers: open %s", rt->exit_dir);
	}
	size_t known = cnt;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!crunrt_id_valid(de->d_name))
			continue;
		bool seen = false;
		for (size_t i = 0; i < known && !seen; i++)
			seen = strcmp(v[i].id, de->d_name) == 0;
		int code;
		if (seen || read_exit(rt, de->d_name, &code) != 1)
			continue;
		v = xrealloc(v, (cnt + 1) * sizeof *v);
		memset(&v[cnt], 0, sizeof v[cnt]);
		v[cnt].id = xstrdup(de->d_name);
		v[cnt].state = CRUNRT_UNKNOWN;
		v[cnt].exited = true;
		v[cnt].exit_code = code;
		cnt++;
	}
	closedir(d);
	qsort(v, cnt, sizeof *v, info_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- exit watch ---- */

struct crunrt_watch {
	uv_fs_event_t ev;
	char *dir;
	crunrt_exit_fn fn;
	void *arg;
};

static void watch_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct crunrt_watch *w = h->data;
	(void)events;
	if (status < 0) {
		log_warn("crun: watching %s: %s", w->dir, uv_strerror(status));
		return;
	}
	/* conmon writes ID.XXXXXX and renames it to ID: only the final name, once it has content */
	if (!filename || !crunrt_id_valid(filename))
		return;
	char *p = xasprintf("%s/%s", w->dir, filename);
	struct stat st;
	bool ready = stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	free(p);
	if (ready)
		w->fn(w->arg, filename);
}

struct crunrt_watch *crunrt_watch_exits(uv_loop_t *loop, const char *exit_dir, crunrt_exit_fn fn, void *arg,
					struct err **err)
{
	struct crunrt_watch *w = xcalloc(1, sizeof *w);
	w->dir = xstrdup(exit_dir);
	w->fn = fn;
	w->arg = arg;
	int rc = uv_fs_event_init(loop, &w->ev);
	if (rc == 0) {
		w->ev.data = w;
		rc = uv_fs_event_start(&w->ev, watch_event, exit_dir, 0);
		if (rc != 0) {
			/* initialized: it must be closed before the memory goes */
			crunrt_watch_close(w);
			err_set(err, ERR_SYS, "watch %s: %s", exit_dir, uv_strerror(rc));
			return NULL;
		}
		return w;
	}
	err_set(err, ERR_SYS, "watch %s: %s", exit_dir, uv_strerror(rc));
	free(w->dir);
	free(w);
	return NULL;
}

static void watch_closed(uv_handle_t *h)
{
	struct crunrt_watch *w = h->data;
	free(w->dir);
	free(w);
}

void crunrt_watch_close(struct crunrt_watch *w)
{
	if (!w)
		return;
	uv_fs_event_stop(&w->ev);
	uv_close((uv_handle_t *)&w->ev, watch_closed);
}
