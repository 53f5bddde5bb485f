/* Overlay root filesystems for containers. */
#include "agent/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* mount(2) takes at most a page of options. */
#define ROOTFS_OPTIONS_MAX 4000

static int mkdir_if_missing(const char *path, struct err **err)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	err_sys(err, errno, "create '%s'", path);
	return -1;
}

/* The directory part of path (a new string), or NULL when it has none. */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash != path ? xstrndup(path, (size_t)(slash - path)) : NULL;
}

/* The options naming the lower directories top first, each as prefix_skip characters dropped from
 * its path (0: absolute paths). Characters overlayfs treats specially in a path (',' and ':') are
 * refused by the caller. */
static void build_options(struct buf *o, const char *const *layers, size_t n, size_t skip, const char *upper,
			  const char *work)
{
	buf_adds(o, "lowerdir=");
	for (size_t i = n; i-- > 0;) {
		buf_adds(o, layers[i] + skip);
		if (i)
			buf_adds(o, ":");
	}
	buf_addf(o, ",upperdir=%s,workdir=%s", upper, work);
}

static bool legacy_only; /* rootfs_set_legacy_mount */

void rootfs_set_legacy_mount(bool on)
{
	legacy_only = on;
}

/* The new mount API (Linux 6.8 and later) takes the lower directories one at a time ("lowerdir+"),
 * so no list is too long. Returns 0, 1 when the kernel does not know "lowerdir+" (the caller falls
 * back to one option string), or -1 with *err. */
static int mount_fsconfig(const char *const *layers, size_t n, const char *upper, const char *work,
			  const char *target, struct err **err)
{
	int fs = fsopen("overlay", FSOPEN_CLOEXEC), mnt = -1, rc = -1;
	if (fs < 0) {
		if (errno == ENOSYS)
			return 1;
		err_sys(err, errno, "open an overlay file system");
		return -1;
	}
	/* Top first, as in lowerdir=. */
	for (size_t i = n; i-- > 0;)
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i], 0) != 0) {
			if (errno == EINVAL && i == n - 1) {
				rc = 1;
				goto out;
			}
			err_sys(err, errno, "overlay: lower directory '%s'", layers[i]);
			goto out;
		}
	if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) != 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) != 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
		err_sys(err, errno, "overlay for '%s' (upper '%s', work '%s')", target, upper, work);
		goto out;
	}
	if ((mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0)) < 0 ||
	    move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
		err_sys(err, errno, "mount the overlay at '%s'", target);
		goto out;
	}
	rc = 0;
out:
	if (mnt >= 0)
		close(mnt);
	close(fs);
	return rc;
}

int rootfs_mount(const char *const *layers, size_t n, const char *upper, const char *work, const char *target,
		 struct err **err)
{
	const char *empty_layer[1];
	char *empty = NULL, *common = NULL;
	struct buf o = BUF_INIT;
	int rc = -1;
	if (n > ROOTFS_LAYERS_MAX) {
		err_set(err, ERR_TOO_LARGE, "the image has %zu layers; at most %d can be stacked", n,
			ROOTFS_LAYERS_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (layers[i][0] != '/' || strpbrk(layers[i], ",:")) {
			err_set(err, ERR_INVALID_PARAM,
				"layer directory '%s': not an absolute path free of ',' and ':'", layers[i]);
			goto out;
		}
	if (strpbrk(upper, ",:") || strpbrk(work, ",:")) {
		err_set(err, ERR_INVALID_PARAM, "'%s' or '%s' contains ',' or ':'", upper, work);
		goto out;
	}
	if (mkdir_if_missing(upper, err) < 0 || mkdir_if_missing(work, err) < 0)
		goto out;
	if (n == 0) {
		/* overlayfs needs a lower directory: an image without layers gets an empty one. */
		char *wp = parent_of(work);
		empty = xasprintf("%s/empty", wp ? wp : ".");
		free(wp);
		if (mkdir_if_missing(empty, err) < 0)
			goto out;
		empty_layer[0] = empty;
		layers = empty_layer;
		n = 1;
	}
	if (!legacy_only) {
		int r = mount_fsconfig(layers, n, upper, work, target, err);
		if (r <= 0) {
			rc = r;
			goto out;
		}
	}
	build_options(&o, layers, n, 0, upper, work);
	if (o.len <= ROOTFS_OPTIONS_MAX) {
		if (mount("overlay", target, "overlay", 0, o.p) != 0) {
			err_sys(err, errno, "mount the overlay at '%s'", target);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* Too long: name the layers relative to the deepest directory they all lie under, from a
	 * child that changes into it (a thread may not change the directory of the whole process). */
	size_t cl = strlen(layers[0]);
	for (size_t i = 1; i < n; i++) {
		size_t k = 0;
		while (k < cl && layers[i][k] == layers[0][k])
			k++;
		cl = k;
	}
	while (cl > 0 && !(layers[0][cl] == '/' && cl < strlen(layers[0])))
		cl--; /* back to a '/' that every layer has there, so a whole directory is shared */
	for (size_t i = 0; cl && i < n; i++)
		if (layers[i][cl] != '/')
			cl = 0;
	if (cl == 0) {
		err_set(err, ERR_TOO_LARGE,
			"the overlay options for '%s' are too long and its layers share no directory",
			target);
		goto out;
	}
	common = xstrndup(layers[0], cl);
	buf_reset(&o);
	build_options(&o, layers, n, cl + 1, upper, work);
	if (o.len > ROOTFS_OPTIONS_MAX) {
		err_set(err, ERR_TOO_LARGE, "the overlay options for '%s' are too long (%zu bytes)", target,
			o.len);
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		err_sys(err, errno, "fork");
		goto out;
	}
	if (pid == 0)
		_exit(chdir(common) == 0 && mount("overlay", target, "overlay", 0, o.p) == 0 ? 0 : errno);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		err_sys(err, WIFEXITED(status) ? WEXITSTATUS(status) : EIO, "mount the overlay at '%s'",
			target);
		goto out;
	}
	rc = 0;
out:
	buf_release(&o);
	free(empty);
	free(common);
	return rc;
}

int rootfs_umount(const char *target, struct err **err)
{
	if (umount2(target, MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT)
		return 0;
	err_sys(err, errno, "unmount '%s'", target);
	return -1;
}
