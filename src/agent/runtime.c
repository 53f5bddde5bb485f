/* The runtime interface's dispatch: picks an implementation by name and forwards to its ops. */
#include "agent/runtime.h"

#include <string.h>

struct runtime *runtime_new(uv_loop_t *loop, const char *name, const struct runtime_opts *o, struct err **err)
{
	if (strcmp(name, "fake") == 0) {
		struct runtime_fake_opts none = {0};
		return runtime_fake_new(loop, o && o->fake ? o->fake : &none);
	}
	if (strcmp(name, "crun") == 0) {
		if (!o || !o->crun || !o->crun->state_dir) {
			err_set(err, ERR_INVALID_PARAM, "the crun runtime needs a state directory");
			return NULL;
		}
		return runtime_crun_new(loop, o->crun, err);
	}
	err_set(err, ERR_INVALID_PARAM, "unknown runtime '%s' (available: crun, fake)", name);
	return NULL;
}

const char *runtime_name(const struct runtime *rt)
{
	return rt->ops->name;
}

void runtime_close(struct runtime *rt)
{
	if (rt && rt->ops->close)
		rt->ops->close(rt);
}

void runtime_sweep(struct runtime *rt)
{
	if (rt && rt->ops->sweep)
		rt->ops->sweep(rt);
}

void runtime_free(struct runtime *rt)
{
	if (rt)
		rt->ops->free(rt);
}

struct runtime_task *runtime_start(struct runtime *rt, const struct runtime_spec *spec, runtime_event_fn fn,
				   void *arg, struct err **err)
{
	struct runtime_task *t = rt->ops->start(rt, spec, err);
	if (!t)
		return NULL;
	/* Events never come from inside start, so the receiver can be set afterwards. */
	t->rt = rt;
	t->fn = fn;
	t->arg = arg;
	return t;
}

void runtime_stop(struct runtime_task *t)
{
	t->rt->ops->stop(t);
}

void runtime_release(struct runtime_task *t)
{
	if (t)
		t->rt->ops->release(t);
}
