/* The log spool (logspool.h): keeping the unshipped logs of removed task directories, and shipping
 * them from there. */
#include "agent/logspool.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsx.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

/* the files of a spool entry */
static const char *const entry_files[] = {LOGSPOOL_LOG, LOGSPOOL_OFFSET, LOGSPOOL_TARGET};

/* One entry being shipped. */
struct drain {
	struct logspool *ls;
	struct drain *next;
	char *id, *dir;
	struct logship_stream *ship;
	bool done;
};

struct logspool {
	uv_loop_t *loop;
	struct awsc *aws;
	char *dir;
	struct drain *drains;
};

int logspool_write_target(const char *dir, const struct logship_target *t, struct err **err)
{
	json_t *j = json_pack("{s:s, s:s, s:b, s:b, s:I}", "group", t->group, "stream", t->stream,
			      "createGroup", t->create_group, "nonBlocking", t->non_blocking, "maxBuffer",
			      (json_int_t)t->max_buffer);
	char *text = jv_dump(j), *path = xasprintf("%s/" LOGSPOOL_TARGET, dir);
	int rc = fsx_write_file(path, text, strlen(text), 0600, false, err);
	free(path);
	free(text);
	json_decref(j);
	return rc;
}

bool logspool_keep(const char *spool, const char *cdir, const char *id)
{
	char *log = xasprintf("%s/" LOGSPOOL_LOG, cdir), *off = xasprintf("%s/" LOGSPOOL_OFFSET, cdir),
	     *target = xasprintf("%s/" LOGSPOOL_TARGET, cdir), *to = xasprintf("%s/%s", spool, id),
	     *tmp = xasprintf("%s/.%s.tmp", spool, id);
	bool kept = false;
	if (access(target, F_OK) != 0 || !logship_unshipped(log, off))
		goto out;
	/* Built under a dot name (which drains skip) and renamed whole: a drain never sees a part. */
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		log_warn("logs: keep the unshipped log of %s: create '%s': %s", id, tmp, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < sizeof(entry_files) / sizeof(entry_files[0]); i++) {
		char *from = xasprintf("%s/%s", cdir, entry_files[i]),
		     *dst = xasprintf("%s/%s", tmp, entry_files[i]);
		int rc = rename(from, dst);
		if (rc != 0 && errno != ENOENT)
			log_warn("logs: keep the unshipped log of %s: move '%s': %s", id, from,
				 strerror(errno));
		free(from);
		free(dst);
	}
	if (rename(tmp, to) != 0) {
		log_warn("logs: keep the unshipped log of %s: rename '%s': %s", id, tmp, strerror(errno));
		goto out;
	}
	log_info("logs: %s: part of its log is not shipped yet: kept in the log spool", id);
	kept = true;
out:
	free(log), free(off), free(target), free(to), free(tmp);
	return kept;
}

/* Removes a spool entry (or what there is of it). */
static void entry_remove(const char *dir)
{
	for (size_t i = 0; i < sizeof(entry_files) / sizeof(entry_files[0]); i++) {
		char *p = xasprintf("%s/%s", dir, entry_files[i]);
		unlink(p);
		free(p);
	}
	if (rmdir(dir) != 0 && errno != ENOENT)
		log_warn("logs: remove '%s': %s", dir, strerror(errno));
}

/* An entry an agent was building when it stopped (.ID.tmp): finished when its log and target made
 * it there, else removed (what did not move is still in the task directory, kept again by the next
 * cleanup). */
static void finish_partial(const char *dir, const char *name)
{
	char *tmp = xasprintf("%s/%s", dir, name);
	char *log = xasprintf("%s/" LOGSPOOL_LOG, tmp), *target = xasprintf("%s/" LOGSPOOL_TARGET, tmp);
	size_t n = strlen(name);
	char *to = xasprintf("%s/%.*s", dir, (int)(n - 5), name + 1); /* without . and .tmp */
	if (access(log, F_OK) == 0 && access(target, F_OK) == 0 && rename(tmp, to) == 0) {
		log_info("logs: spool entry %s finished", to);
	} else {
		entry_remove(tmp);
	}
	free(tmp), free(log), free(target), free(to);
}

struct logspool *logspool_new(uv_loop_t *loop, struct awsc *aws, const char *dir, struct err **err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		err_sys(err, errno, "create '%s'", dir);
		return NULL;
	}
	DIR *dd = opendir(dir);
	struct dirent *de;
	while (dd && (de = readdir(dd))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' && n > 5 && !strcmp(de->d_name + n - 4, ".tmp"))
			finish_partial(dir, de->d_name);
	}
	if (dd)
		closedir(dd);
	struct logspool *ls = xcalloc(1, sizeof(*ls));
	ls->loop = loop;
	ls->aws = aws;
	ls->dir = xstrdup(dir);
	return ls;
}

/* Ends a drain: its stream stops (freed once its handles close) and the entry is forgotten. */
static void drain_end(struct drain *d, bool remove)
{
	struct logspool *ls = d->ls;
	if (remove)
		entry_remove(d->dir);
	for (struct drain **p = &ls->drains; *p; p = &(*p)->next) {
		if (*p == d) {
			*p = d->next;
			break;
		}
	}
	logship_stop(d->ship);
	free(d->id), free(d->dir);
	free(d);
}

static void on_drained(void *arg)
{
	struct drain *d = arg;
	log_info("logs: %s: the rest of its log is shipped", d->id);
	drain_end(d, true);
}

static void on_ready(void *arg, const struct err *e)
{
	struct drain *d = arg;
	if (!e)
		return; /* logship_finish was called at the start: on_drained comes when all is shipped */
	log_warn("logs: %s: the rest of its log cannot be shipped (%s): dropped", d->id, e->msg);
	drain_end(d, true);
}

static bool draining(const struct logspool *ls, const char *id)
{
	for (const struct drain *d = ls->drains; d; d = d->next)
		if (!strcmp(d->id, id))
			return true;
	return false;
}

static void drain_start(struct logspool *ls, const char *id)
{
	char *dir = xasprintf("%s/%s", ls->dir, id), *tpath = xasprintf("%s/" LOGSPOOL_TARGET, dir);
	char *log = xasprintf("%s/" LOGSPOOL_LOG, dir), *off = xasprintf("%s/" LOGSPOOL_OFFSET, dir);
	json_error_t je;
	json_t *j = json_load_file(tpath, 0, &je);
	const char *group = json_string_value(json_object_get(j, "group"));
	const char *stream = json_string_value(json_object_get(j, "stream"));
	struct drain *d = xcalloc(1, sizeof(*d));
	d->ls = ls;
	d->id = xstrdup(id);
	d->dir = dir;
	dir = NULL;
	if (!group || !stream || access(log, F_OK) != 0) {
		log_warn("logs: spool entry %s is incomplete: removed", id);
		entry_remove(d->dir);
		free(d->id), free(d->dir), free(d);
		goto out;
	}
	struct logship_target t = {
		.group = group,
		.stream = stream,
		.create_group = json_is_true(json_object_get(j, "createGroup")),
		.non_blocking = json_is_true(json_object_get(j, "nonBlocking")),
		.max_buffer = (long long)json_integer_value(json_object_get(j, "maxBuffer")),
	};
	d->next = ls->drains;
	ls->drains = d;
	d->ship = logship_start(ls->loop, ls->aws, log, off, &t, on_ready, d);
	logship_finish(d->ship, on_drained, d);
out:
	json_decref(j);
	free(dir), free(tpath), free(log), free(off);
}

void logspool_drain(struct logspool *ls)
{
	if (!ls)
		return;
	DIR *dd = opendir(ls->dir);
	if (!dd)
		return;
	struct dirent *de;
	while ((de = readdir(dd))) {
		if (de->d_name[0] == '.' || draining(ls, de->d_name))
			continue;
		drain_start(ls, de->d_name);
	}
	closedir(dd);
}

void logspool_free(struct logspool *ls)
{
	if (!ls)
		return;
	while (ls->drains)
		drain_end(ls->drains, false);
	free(ls->dir);
	free(ls);
}
