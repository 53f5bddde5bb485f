/* Small file-system helpers: atomic file replacement. */
#include "common/fsx.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

static void fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int fsx_write_all(int fd, const void *p, size_t n)
{
	const char *at = p;
	for (size_t done = 0; done < n;) {
		ssize_t w = write(fd, at + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

int fsx_write_file(const char *path, const void *p, size_t n, mode_t mode, bool durable, struct err **err)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	int rc = -1;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err_sys(err, errno, "create '%s'", tmp);
		free(tmp);
		return -1;
	}
	if (fsx_write_all(fd, p, n) < 0) {
		err_sys(err, errno, "write '%s'", tmp);
		goto out;
	}
	if (fchmod(fd, mode) != 0 || (durable && fsync(fd) != 0)) {
		err_sys(err, errno, "write '%s'", tmp);
		goto out;
	}
	int c = close(fd);
	fd = -1;
	if (c != 0) {
		err_sys(err, errno, "write '%s'", tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		err_sys(err, errno, "rename '%s' to '%s'", tmp, path);
		goto out;
	}
	if (durable)
		fsync_parent(path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int fsx_rewrite_file(const char *path, const void *p, size_t n, mode_t mode, struct err **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return err_sys(err, errno, "open '%s'", path);
	if (fsx_write_all(fd, p, n) < 0) {
		int e = errno;
		close(fd);
		return err_sys(err, e, "write '%s'", path);
	}
	if (close(fd) != 0)
		return err_sys(err, errno, "close '%s'", path);
	return 0;
}
