/* The log spool: where the awslogs log of a container goes when its task's directory is removed
 * before all of the log was shipped, so that nothing a container printed is lost to a cleanup.
 * That happens to a task an earlier agent left (killed, or restarted) whose containers exited
 * meanwhile: the server no longer wants the task, the sweep removes it, but the end of its output
 * may not have been shipped yet.
 *
 * Layout: SPOOL/<container id>/ holds ctr.log (conmon's k8s-file log), log.offset (logship's
 * progress) and log.target (where it goes: the stream's group, name and options, written by
 * logspool_write_target when shipping starts). An entry is put together as SPOOL/.<id>.tmp and
 * renamed whole. It is shipped with logship and removed once all of it is; an agent that stops
 * meanwhile leaves it for the next, which goes on from log.offset. */
#ifndef GANTRY_AGENT_LOGSPOOL_H
#define GANTRY_AGENT_LOGSPOOL_H

#include <stdbool.h>
#include <uv.h>

#include "agent/logship.h"
#include "api/awsc.h"
#include "common/err.h"

#define LOGSPOOL_LOG	"ctr.log"
#define LOGSPOOL_OFFSET "log.offset"
#define LOGSPOOL_TARGET "log.target"

/* Writes t into dir/log.target (beside the log it describes). */
int logspool_write_target(const char *dir, const struct logship_target *t, struct err **err);

/* Moves the log of the container whose directory is cdir into spool/<id>/ when part of it is not
 * shipped yet (a log.target is there, and log.offset is short of the log's size or holds a line's
 * unshipped rest). Returns true when it moved it. File operations only: safe on the thread pool. */
bool logspool_keep(const char *spool, const char *cdir, const char *id);

struct logspool;

/* A spool at dir (created when missing; entries an earlier agent left half made are finished or
 * removed). aws (borrowed, outlives the spool) signs the calls. */
struct logspool *logspool_new(uv_loop_t *loop, struct awsc *aws, const char *dir, struct err **err);

/* Starts shipping every entry that is not being shipped yet; each is removed once shipped, or
 * when its stream cannot be written any more (the group was deleted: logged). Loop thread. */
void logspool_drain(struct logspool *ls);

/* Stops shipping (entries stay for the next agent) and frees the spool once its streams are
 * stopped. Accepts NULL. */
void logspool_free(struct logspool *ls);

#endif
