/* State directory locks (flock on DIR/lock). */
#include "common/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"

int dirlock_take(const char *dir, const char *who, int *fd_out, struct err **err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_sys(err, errno, "create %s", dir);
	char *path = xasprintf("%s/lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(err, errno, "open %s", path);
		free(path);
		return -1;
	}
	free(path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return err_set(err, ERR_SYS, "%s is in use by another %s", dir, who);
	}
	*fd_out = fd;
	return 0;
}
