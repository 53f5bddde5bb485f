/* Exclusive ownership of a state directory: a flock on DIR/lock, so that two processes never
 * believe they own the same state. The kernel releases it when the process ends, however it ends. */
#ifndef GANTRY_DIRLOCK_H
#define GANTRY_DIRLOCK_H

#include "common/err.h"

/* Creates dir (mode 0700) when missing and locks it. `who` names the owner kind in the error
 * ("gantry server"). Returns 0 with *fd_out the descriptor to close on exit, or -1 with *err
 * (ERR_SYS "DIR is in use by another WHO" when it is locked). */
int dirlock_take(const char *dir, const char *who, int *fd_out, struct err **err);

#endif
