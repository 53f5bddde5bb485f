/* Containers under conmon + crun: the layer below the agent's crun runtime. One container is a
 * bundle directory the caller prepared (config.json from ocispec_build(), the rootfs it names) and an
 * id; this module creates it under a conmon that daemonizes (so the container outlives the agent),
 * starts, signals, execs into, lists and deletes it, reads its exit code and whether the OOM killer
 * struck, and watches the directory where conmon leaves exit codes. It also prepares the host's
 * cgroups once for crun (see crunrt_host_prepare()).
 *
 * State the agent owns, under crunrt_opts.state_dir (all 0700):
 *   crun/       crun's --root: one directory per container crun knows
 *   exits/      conmon's --exit-dir: a file named by the container id holding its exit code
 *   sockets/    conmon's --socket-dir-path (stays empty: --full-attach puts the socket in the bundle)
 *   exec/       process specs and pid files of `crun exec` runs (health checks), removed after each
 * and in each bundle, next to config.json: pidfile (the container's pid), conmon.pid, exit and oom
 * (conmon's --persist-dir is the bundle), attach, ctl, winsz (conmon's attach socket and fifos).
 * The container's stdout and stderr go to a log file in conmon's k8s-file format, one line per
 * line written: "2024-05-01T12:00:00.123456789+00:00 stdout F text" ("P" instead of "F" marks a
 * partial line that the next one continues), truncated when it reaches log_size_max.
 *
 * Threads: crunrt_watch_exits() and crunrt_watch_close() run on the loop. Every other function
 * that takes a struct crunrt or touches the host blocks: it runs crun or conmon and waits for them
 * (crunrt_create() up to CRUNRT_CREATE_TIMEOUT_MS, crunrt_exec() up to its timeout, the others up
 * to CRUNRT_CMD_TIMEOUT_MS, in practice milliseconds), so the agent calls them from uv_queue_work().
 * A struct crunrt is read-only after crunrt_new(), so several of those calls may run at once.
 * The crunrt_parse_* and crunrt_*_argv functions are pure (for tests and tools).
 *
 * Host requirements: root, crun (>= 1.8) at CRUNRT_CRUN_PATH, conmon (>= 2.1, --full-attach and
 * --persist-dir) at CRUNRT_CONMON_PATH, cgroups v1, v2 or hybrid (made usable by
 * crunrt_host_prepare()). */
#ifndef GANTRY_CRUN_H
#define GANTRY_CRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#include "common/err.h"

#define CRUNRT_CRUN_PATH	 "/usr/bin/crun"
#define CRUNRT_CONMON_PATH	 "/usr/bin/conmon"
#define CRUNRT_CGROUP_ROOT	 "/sys/fs/cgroup"
#define CRUNRT_ID_MAX		 128	      /* bytes of a container id */
#define CRUNRT_LOG_SIZE_MAX_DEF	 (64LL << 20) /* bytes of a container's log before conmon truncates it */
#define CRUNRT_CREATE_TIMEOUT_MS 60000	      /* conmon + `crun create` reporting the container's pid */
#define CRUNRT_CMD_TIMEOUT_MS	 30000	      /* any other crun command */
#define CRUNRT_OUTPUT_MAX	 (1 << 20)    /* bytes kept of a command's stdout (crun list, exec) */
#define CRUNRT_FILE_MAX		 (4 << 20)    /* bytes read of config.json, mountinfo, a cgroup file */
#define CRUNRT_SYNC_MAX		 (64 << 10)   /* bytes of conmon's sync pipe message */
#define CRUNRT_STOP_WAIT_MS	 10000	      /* crunrt_remove(): conmon's exit after a SIGKILL */
/* The stoppedReason ECS gives a container the OOM killer struck (with exit code 137). */
#define CRUNRT_OOM_REASON "OutOfMemoryError: Container killed due to memory usage"

/* ---- cgroups ---- */

enum crunrt_cgroup_mode {
	CRUNRT_CGROUP_V1 = 1, /* legacy: one hierarchy per controller under /sys/fs/cgroup */
	CRUNRT_CGROUP_V2,     /* unified: cgroup2 mounted at /sys/fs/cgroup */
	CRUNRT_CGROUP_HYBRID, /* v1 controllers plus cgroup2 at /sys/fs/cgroup/unified */
};

/* One cgroup hierarchy mounted under the cgroup root. */
struct crunrt_hier {
	char *path;  /* its mount point */
	char *opts;  /* cgroup v1: the superblock options naming its controllers ("rw,cpu,cpuacct",
		      * "rw,name=systemd"); cgroup2: "" */
	bool v2;     /* a cgroup2 mount */
	bool memory; /* a v1 hierarchy with the memory controller */
};

/* How cgroups are mounted on this host. */
struct crunrt_cgroups {
	enum crunrt_cgroup_mode mode;
	char *root;	       /* the cgroup root: CRUNRT_CGROUP_ROOT, or a test's directory */
	char *unified;	       /* the cgroup2 mount (root, or root/unified in hybrid mode), or NULL */
	char *memory;	       /* the v1 memory controller's mount, or NULL (v2, or not mounted) */
	struct crunrt_hier *h; /* every cgroup and cgroup2 mount at or under root, in mount order */
	size_t nh;
};

/* Reads how cgroups are mounted at root from mountinfo (the text of /proc/self/mountinfo; a later
 * mount on the same mount point hides an earlier one). The mode: cgroup2 at root is V2; otherwise
 * cgroup2 at root/unified is HYBRID, and any cgroup v1 hierarchy at or under root is V1. Fills *out
 * (release with crunrt_cgroups_release()) and returns 0, or -1 with *err (ERR_SYS) when no cgroup
 * hierarchy is mounted there. */
int crunrt_cgroups_parse(const char *mountinfo, const char *root, struct crunrt_cgroups *out,
			 struct err **err);
/* crunrt_cgroups_parse() of this process's /proc/self/mountinfo at CRUNRT_CGROUP_ROOT. */
int crunrt_cgroups_detect(struct crunrt_cgroups *out, struct err **err);
/* Frees the contents of cg (not cg itself); accepts NULL. */
void crunrt_cgroups_release(struct crunrt_cgroups *cg);
/* Whether a comma-separated list of mount options ("rw,cpu,cpuacct") holds name exactly. */
bool crunrt_opts_has(const char *opts, const char *name);
/* Whether a container's cgroup is on the unified hierarchy (struct ocispec_in.cgroup_v2): true in
 * V2 mode only (in hybrid mode crun puts the controllers' limits on the v1 hierarchies). */
bool crunrt_cgroups_v2(const struct crunrt_cgroups *cg);

/* What crunrt_host_prepare() has to do in hybrid mode: crun refuses to start containers while the
 * cgroup2 mount's cgroup.controllers lists any controller ("cgroups in hybrid mode not supported,
 * drop all controllers from cgroupv2"), and mounting a controller as a v1 hierarchy takes it off
 * the v2 one. Sets *ctrls to a new NULL-terminated array of the controllers listed (free with
 * crunrt_strv_free(); empty when there is nothing to do, or when cg is not HYBRID) and returns
 * their count, or -1 with *err when the file cannot be read or names something that is not a
 * controller. Each would be mounted at cg->root/<controller>. */
int crunrt_hybrid_plan(const struct crunrt_cgroups *cg, char ***ctrls, struct err **err);

/* Prepares the host for crun, once at agent start; repeating it is harmless. Detects the cgroup
 * mode and, in hybrid mode, mounts each controller crunrt_hybrid_plan() finds as a v1 hierarchy at
 * CRUNRT_CGROUP_ROOT/<controller> (creating the directory), logging each; then checks that
 * cgroup.controllers is empty. When cg_out is not NULL it receives the cgroup layout afterwards
 * (release it with crunrt_cgroups_release()). Returns 0, or -1 with *err (ERR_SYS; a controller
 * enabled in some v2 cgroup's subtree_control cannot move: EBUSY). Blocks (file reads, mount). */
int crunrt_host_prepare(struct crunrt_cgroups *cg_out, struct err **err);
/* crunrt_host_prepare() over another mountinfo file and cgroup root (for tests). */
int crunrt_host_prepare_at(const char *mountinfo_path, const char *root, struct crunrt_cgroups *cg_out,
			   struct err **err);

/* Removes the cgroup `path` (absolute, as in linux.cgroupsPath, e.g. "/gantry/<task>") and every
 * cgroup below it from each hierarchy in cg, deepest first: crun deletes a container's own cgroup
 * but leaves the parents it created. Missing directories are fine. Returns 0, or -1 with *err
 * (ERR_SYS: EBUSY when a cgroup still has processes; ERR_INVALID_PARAM for a relative path, "/",
 * or one with "..") after trying the others. */
int crunrt_cgroup_prune(const struct crunrt_cgroups *cg, const char *path, struct err **err);

/* ---- containers ---- */

struct crunrt;

struct crunrt_opts {
	const char *state_dir;	 /* required: the agent's directory for crun and conmon state (above) */
	const char *crun_path;	 /* NULL = CRUNRT_CRUN_PATH */
	const char *conmon_path; /* NULL = CRUNRT_CONMON_PATH */
	long long log_size_max;	 /* bytes; 0 = CRUNRT_LOG_SIZE_MAX_DEF */
	/* The host's cgroup layout (copied), for OOM counters; NULL = crunrt_cgroups_detect(). */
	const struct crunrt_cgroups *cgroups;
};

/* Opens the runtime over o->state_dir, creating its directories. Returns a new handle (free with
 * crunrt_free()), or NULL with *err: ERR_SYS when a directory cannot be made or crun or conmon is
 * not an executable at its path. Nothing about containers is kept in memory: a new handle over the
 * same state_dir (an agent that restarted) sees the same containers. */
struct crunrt *crunrt_new(const struct crunrt_opts *o, struct err **err);
/* Frees the handle; containers keep running. Accepts NULL. */
void crunrt_free(struct crunrt *rt);
/* The directory conmon writes exit files to (for crunrt_watch_exits()); borrowed from rt. */
const char *crunrt_exit_dir(const struct crunrt *rt);
/* The cgroup layout rt uses; borrowed from rt. */
const struct crunrt_cgroups *crunrt_cgroups(const struct crunrt *rt);

/* True for an id this module accepts: 1 to CRUNRT_ID_MAX bytes of [A-Za-z0-9_-], the first a
 * letter or digit (no '.': conmon writes an exit file as "ID.XXXXXX" before renaming it to ID). */
bool crunrt_id_valid(const char *id);

/* A container to create. Borrowed for the call. */
/* The cgroup (on every hierarchy) that crunrt_create() moves each conmon into, out of the agent's. */
#define CRUNRT_CONMON_CGROUP "/gantry/conmon"

struct crunrt_create {
	const char *id;	      /* crunrt_id_valid() */
	const char *name;     /* conmon's --name (for its logs); NULL = id */
	const char *bundle;   /* absolute path of the bundle: config.json inside */
	const char *log_path; /* absolute path of the k8s-file log; NULL = bundle/ctr.log */
};

/* What crunrt_create() started. */
struct crunrt_started {
	pid_t conmon_pid; /* the daemonized conmon watching the container */
	pid_t pid;	  /* the container's init process (host pid namespace) */
};

/* Creates the container under conmon: spawns conmon (argv from crunrt_conmon_argv(), working
 * directory the bundle, the sync and start pipes in _OCI_SYNCPIPE / _OCI_STARTPIPE), releases it
 * through the start pipe, and waits until it reports the container's pid after `crun create`
 * (CRUNRT_CREATE_TIMEOUT_MS). The container exists but its process has not run yet: crunrt_start()
 * runs it (in between, the agent may set up what needs the pid, such as a network namespace).
 * Returns 0 with *out, or -1 with *err: ERR_CLIENT with crun's own message when the runtime refused
 * the spec ("create container ID: executable file `/x` not found in $PATH: ..."), ERR_INVALID_PARAM
 * for a bad id or a relative path, ERR_SYS otherwise (ENOENT: no config.json in the bundle; conmon
 * failing, with what it printed). On failure conmon is gone and crun knows no container
 * by that id (a container left from an earlier life with the same id is an error, untouched).
 * An exit file for the id that crun no longer knows, and conmon's files from an earlier run in the
 * bundle, are removed first: read them (crunrt_list()) before reusing an id or a bundle. Blocks. */
int crunrt_create(struct crunrt *rt, const struct crunrt_create *c, struct crunrt_started *out,
		  struct err **err);
/* Runs the created container's process (`crun start`). -1 with *err (ERR_CLIENT with crun's
 * message) when it cannot start; the container is then left for crunrt_remove(). Blocks. */
int crunrt_start(struct crunrt *rt, const char *id, struct err **err);
/* Sends sig to the container's init process (`crun kill ID SIG`). The stop sequence is the
 * caller's: sig (its image's StopSignal, else SIGTERM), then SIGKILL when its timer (the
 * container's stopTimeout) fires first. A container that has already stopped is not an error.
 * Returns 0, or -1 with *err (ERR_NOT_FOUND when crun knows no such container). Blocks. */
int crunrt_kill(struct crunrt *rt, const char *id, int sig, struct err **err);
/* Forgets the container: SIGKILLs it if it still runs and waits for its conmon to exit (up to
 * CRUNRT_STOP_WAIT_MS, so that no exit file appears after this), `crun delete --force` (which
 * removes its cgroup), then removes its exit file and what conmon and crun left in the bundle
 * (pidfile, conmon.pid, exit, oom, attach, ctl, winsz). config.json, the rootfs and the log stay
 * for the caller. bundle may be NULL when crun no longer knows the container (only the exit file
 * goes). A container crun does not know is not an error. Returns 0 or -1 with *err. Blocks. */
int crunrt_remove(struct crunrt *rt, const char *id, const char *bundle, struct err **err);

/* Runs argv (argv[0] a path or a name on the container's PATH) in the running container with
 * `crun exec`, as the container's user with its environment, for up to timeout_ms (0 =
 * CRUNRT_CMD_TIMEOUT_MS). Returns 0 with *exit_code (the command's, 128 + n when signal n killed
 * it; crun's own code when it could not run it at all: 126/127 or 1), 1 when it timed out (the
 * command and crun are SIGKILLed; *exit_code = -1), or -1 with *err when crun could not be run.
 * When output is not NULL, *output receives the command's stdout then stderr (up to
 * CRUNRT_OUTPUT_MAX bytes; a new string the caller frees). Blocks. */
int crunrt_exec(struct crunrt *rt, const char *id, const char *const *argv, unsigned timeout_ms,
		int *exit_code, char **output, struct err **err);

/* crun's view of a container. */
enum crunrt_state {
	CRUNRT_UNKNOWN = 0, /* crun no longer knows it: only its exit file is left */
	CRUNRT_CREATED,	    /* created, not started */
	CRUNRT_RUNNING,
	CRUNRT_PAUSED,
	CRUNRT_STOPPED, /* its init process has exited */
};

/* What is known of one container. */
struct crunrt_info {
	char *id;
	char *bundle; /* NULL when CRUNRT_UNKNOWN */
	enum crunrt_state state;
	pid_t pid;	   /* the init process while it runs, else 0 */
	pid_t conmon_pid;  /* from bundle/conmon.pid, 0 when unknown */
	bool conmon_alive; /* that conmon process still runs (checked by its command line) */
	bool exited;	   /* conmon wrote its exit file: exit_code is valid */
	int exit_code;	   /* the init process's exit code, 128 + n when signal n killed it */
	bool oom;	   /* the OOM killer struck in its cgroup (conmon's oom file, or the memory
			    * cgroup's oom_kill counter while the cgroup exists): ECS then reports
			    * CRUNRT_OOM_REASON */
};

/* Fills *out for one container (release with crunrt_info_release()). A restarted agent reads the
 * cases so: RUNNING with conmon_alive is running and watched (its exit file will come); STOPPED (or
 * RUNNING) without conmon_alive and without exited lost its monitor and its exit code (kill it,
 * report it stopped without one); exited means it is over, whatever crun says (conmon writes the
 * exit file after the process is gone). Returns 0, or -1 with *err (ERR_NOT_FOUND when neither crun
 * nor the exit directory knows the id). Blocks. */
int crunrt_status(struct crunrt *rt, const char *id, struct crunrt_info *out, struct err **err);
/* Every container crun knows in its --root, plus exit files crun knows nothing of (as
 * CRUNRT_UNKNOWN), sorted by id: what a restarted agent re-adopts. Sets *out to a new array of *n
 * entries (free with crunrt_infos_free()). Returns 0 or -1 with *err. Blocks. */
int crunrt_list(struct crunrt *rt, struct crunrt_info **out, size_t *n, struct err **err);
/* Frees the contents of one entry; accepts NULL. */
void crunrt_info_release(struct crunrt_info *i);
/* Frees an array from crunrt_list(); accepts NULL. */
void crunrt_infos_free(struct crunrt_info *v, size_t n);

/* ---- exit notification (on the loop) ---- */

struct crunrt_watch;

/* Called on the loop with the id of a container whose exit file appeared; id is borrowed for the
 * call. It may come more than once for an id (and for an id the caller already removed): the
 * caller reads the exit with crunrt_status() and ignores what it has handled. */
typedef void (*crunrt_exit_fn)(void *arg, const char *id);

/* Watches exit_dir (crunrt_exit_dir()) with inotify through a uv_fs_event: conmon writes an exit
 * file by renaming it into place, which wakes the loop once per exit; nothing polls. Exits that
 * happened before the watch started (an agent that restarted) are found with crunrt_list().
 * Returns a new watch (end it with crunrt_watch_close()), or NULL with *err. */
struct crunrt_watch *crunrt_watch_exits(uv_loop_t *loop, const char *exit_dir, crunrt_exit_fn fn, void *arg,
					struct err **err);
/* Stops the watch: no callback after this; the memory goes once the loop has run the close.
 * Accepts NULL. */
void crunrt_watch_close(struct crunrt_watch *w);

/* ---- pure helpers ---- */

/* conmon's argv for c (NULL-terminated, new strings; free with crunrt_strv_free()): --api-version
 * 1, -c/-u/-n, -r crun, -b bundle, -p bundle/pidfile, -P bundle/conmon.pid, --persist-dir bundle,
 * --exit-dir, -l k8s-file:LOG, --log-size-max, --socket-dir-path, --full-attach and
 * --runtime-arg --root --runtime-arg STATE/crun. No --sync: conmon forks away from the agent. */
char **crunrt_conmon_argv(const struct crunrt *rt, const struct crunrt_create *c);
/* crun's argv: crun --root STATE/crun followed by args (NULL-terminated). New strings, as above. */
char **crunrt_crun_argv(const struct crunrt *rt, const char *const *args);
/* Frees a NULL-terminated array of strings; accepts NULL. */
void crunrt_strv_free(char **v);

/* Parses an exit file's text (conmon writes the decimal code, -1 when it could not tell). Returns 0
 * with *code, or -1 when it is not a number in [-1, 255]. */
int crunrt_parse_exit(const char *text, size_t len, int *code);
/* Parses one message from conmon's sync pipe ({"data": N, "message": "..."}). Returns 0 with *data
 * and *message (a new string without the trailing newline, or NULL; the caller frees), or -1 with
 * *err when it is not that shape. */
int crunrt_parse_sync(const char *text, size_t len, int *data, char **message, struct err **err);
/* The "oom_kill N" counter from a memory cgroup's memory.oom_control (v1) or memory.events (v2).
 * Returns 0 with *count, or -1 when the text has no such line. */
int crunrt_parse_oom_kill(const char *text, unsigned long long *count);
/* Parses `crun list --format json` output into *out / *n (state, id, pid, bundle only; free with
 * crunrt_infos_free()). Returns 0, or -1 with *err when it is not that shape. */
int crunrt_parse_list(const char *text, size_t len, struct crunrt_info **out, size_t *n, struct err **err);

#endif
