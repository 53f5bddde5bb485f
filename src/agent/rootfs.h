/* A container's root filesystem: an overlayfs mount of its image's unpacked layers (read-only
 * lower directories, see unpack.h) under a per-container upper directory that takes its writes. */
#ifndef GANTRY_ROOTFS_H
#define GANTRY_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* The most layers an image may have: overlayfs stacks at most 500 lower directories. */
#define ROOTFS_LAYERS_MAX 500

/* Mounts an overlay at target (an existing empty directory) whose lower directories are layers[0..n)
 * given lowest first (the image's order; overlayfs wants the top first), whose writes go to upper and
 * whose work directory is work (both created when missing; same file system). With n == 0 an empty
 * lower directory (work's sibling "empty") is made. On Linux 6.8 and later the layers are handed to
 * the kernel one at a time (fsconfig "lowerdir+"), so any number up to ROOTFS_LAYERS_MAX mounts;
 * older kernels take one page of mount options, and a list too long for it is mounted from a child
 * process that changes into the layers' common parent and names them relatively (short names then
 * fit: 64-hex-digit directories fit about 60 layers).
 * Blocks (mkdir, mount): run it on the thread pool. Returns 0, or -1 with *err. */
int rootfs_mount(const char *const *layers, size_t n, const char *upper, const char *work, const char *target,
		 struct err **err);
/* For tests: true makes rootfs_mount use only the one-string mount older kernels need. */
void rootfs_set_legacy_mount(bool on);
/* Unmounts target (lazily: a process still inside keeps its view until it leaves). A target that is
 * not mounted is not an error. Returns 0, or -1 with *err. */
int rootfs_umount(const char *target, struct err **err);

#endif
