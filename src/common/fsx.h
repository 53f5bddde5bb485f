/* Small file-system helpers shared by the server, the agent and the tools. */
#ifndef GANTRY_FSX_H
#define GANTRY_FSX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* Replaces the file at path with n bytes from p, atomically: they go to a new temporary file in the
 * same directory (mode `mode`), which is then renamed over path, so a reader sees the old file or
 * the new one, never a part. With durable, the bytes and the rename are fsynced first (the file and
 * its directory), so the new content survives a crash once this returns. Returns 0, or -1 with
 * *err (the temporary file is removed). */
int fsx_write_file(const char *path, const void *p, size_t n, mode_t mode, bool durable, struct err **err);
/* Replaces the content of the file at path with n bytes from p in place, creating it (mode `mode`)
 * when it does not exist: the same inode, so what has it bind-mounted (a container's /etc/hosts)
 * sees the new content; a reader may see it half-written. Returns 0, or -1 with *err. */
int fsx_rewrite_file(const char *path, const void *p, size_t n, mode_t mode, struct err **err);
/* Writes all n bytes from p to fd (retrying short writes and EINTR). Returns 0, or -1 with errno. */
int fsx_write_all(int fd, const void *p, size_t n);

#endif
