/* The fake runtime: runs no processes, but goes through the motions a real runtime reports, so that
 * hollow agents look like real hosts to the server (kubemark's hollow nodes are the model).
 *
 * A task's containers start after start_delay_ms (one PULLED event, then each container RUNNING with
 * the host ports the server reserved), run until stopped (exit code RUNTIME_FAKE_STOP_EXIT_CODE) or
 * exit on their own after exit_after_ms with exit_code. A container's environment can override both
 * for that container alone: GANTRY_FAKE_EXIT_AFTER (seconds, may be fractional; 0 = never) and
 * GANTRY_FAKE_EXIT_CODE, so that a test can let one non-essential container exit. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/runtime.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/xalloc.h"

#define FAKE_EXIT_AFTER_MAX_S 31536000.0 /* one year: longer is "never" in practice */

enum fake_state { FC_PENDING, FC_RUNNING, FC_STOPPED };

struct fake_cont {
	json_t *bindings;	/* reported when it "starts"; released then */
	uint64_t exit_at;	/* uv_now() when it exits on its own, 0 = never */
	unsigned exit_after_ms; /* 0 = never */
	int exit_code;
	unsigned char state;
};

struct fake_task {
	struct runtime_task base;
	uv_timer_t timer;
	double created_at; /* when start was asked: pullStartedAt */
	bool started, stop_requested, released, dispatching;
	size_t n;
	struct fake_cont c[];
};

struct fake_rt {
	struct runtime base;
	struct runtime_fake_opts o;
};

/* Reads a per-container override from the definition's environment. Returns true when present. */
static bool env_value(json_t *def, const char *name, const char **out)
{
	size_t i;
	json_t *kv;
	json_array_foreach (json_object_get(def, "environment"), i, kv) {
		const char *k = json_string_value(json_object_get(kv, "name"));
		const char *v = json_string_value(json_object_get(kv, "value"));
		if (k && v && strcmp(k, name) == 0) {
			*out = v;
			return true;
		}
	}
	return false;
}

static void container_plan(struct fake_cont *fc, const struct runtime_container *c,
			   const struct runtime_fake_opts *o)
{
	fc->exit_after_ms = o->exit_after_ms;
	fc->exit_code = o->exit_code;
	const char *v;
	if (env_value(c->def, "GANTRY_FAKE_EXIT_AFTER", &v)) {
		char *end;
		errno = 0;
		double s = strtod(v, &end);
		if (errno == 0 && end != v && *end == '\0' && s >= 0 && s <= FAKE_EXIT_AFTER_MAX_S)
			fc->exit_after_ms = s > 0 && s < 0.001 ? 1 : (unsigned)(s * 1000.0);
	}
	if (env_value(c->def, "GANTRY_FAKE_EXIT_CODE", &v)) {
		char *end;
		errno = 0;
		long code = strtol(v, &end, 10);
		if (errno == 0 && end != v && *end == '\0' && code >= 0 && code <= 255)
			fc->exit_code = (int)code;
	}
	if (c->bindings)
		fc->bindings = json_incref(c->bindings);
}

static void emit(struct fake_task *t, const struct runtime_event *ev)
{
	if (!t->released)
		t->base.fn(t->base.arg, ev);
}

static void on_closed(uv_handle_t *h)
{
	struct fake_task *t = h->data;
	for (size_t i = 0; i < t->n; i++)
		json_decref(t->c[i].bindings);
	free(t);
}

static void stop_rest(struct fake_task *t)
{
	for (size_t i = 0; i < t->n && !t->released; i++) {
		struct fake_cont *c = &t->c[i];
		if (c->state == FC_STOPPED)
			continue;
		struct runtime_event ev = {.kind = RUNTIME_CONTAINER_STOPPED, .index = i};
		if (c->state == FC_RUNNING) {
			ev.has_exit_code = true;
			ev.exit_code = RUNTIME_FAKE_STOP_EXIT_CODE;
		}
		c->state = FC_STOPPED;
		emit(t, &ev);
	}
}

static void start_all(struct fake_task *t)
{
	uint64_t now = uv_now(t->timer.loop);
	t->started = true;
	struct runtime_event ev = {
		.kind = RUNTIME_PULLED, .pull_started_at = t->created_at, .pull_stopped_at = clock_now()};
	emit(t, &ev);
	for (size_t i = 0; i < t->n && !t->released && !t->stop_requested; i++) {
		struct fake_cont *c = &t->c[i];
		char id[65];
		ids_hex32(id);
		ids_hex32(id + 32);
		c->state = FC_RUNNING;
		c->exit_at = c->exit_after_ms ? now + c->exit_after_ms : 0;
		struct runtime_event rev = {.kind = RUNTIME_CONTAINER_RUNNING,
					    .index = i,
					    .runtime_id = id,
					    .bindings = c->bindings};
		emit(t, &rev);
		json_decref(c->bindings);
		c->bindings = NULL;
	}
}

static void exit_due(struct fake_task *t)
{
	uint64_t now = uv_now(t->timer.loop);
	for (size_t i = 0; i < t->n && !t->released; i++) {
		struct fake_cont *c = &t->c[i];
		if (c->state != FC_RUNNING || !c->exit_at || c->exit_at > now)
			continue;
		c->state = FC_STOPPED;
		struct runtime_event ev = {.kind = RUNTIME_CONTAINER_STOPPED,
					   .index = i,
					   .has_exit_code = true,
					   .exit_code = c->exit_code};
		emit(t, &ev);
	}
}

/* Everything happens here, on the loop: the first tick starts the containers, later ones let them
 * exit, and a stop request arms a tick at once. Calls back into the agent may ask for a stop or a
 * release; both are looked at after the events are out. */
static void on_tick(uv_timer_t *h)
{
	struct fake_task *t = h->data;
	t->dispatching = true;
	if (t->stop_requested)
		stop_rest(t);
	else if (!t->started)
		start_all(t);
	if (!t->stop_requested)
		exit_due(t);
	t->dispatching = false;
	if (t->released) {
		uv_close((uv_handle_t *)&t->timer, on_closed);
		return;
	}
	uint64_t now = uv_now(h->loop), next = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->c[i].state == FC_STOPPED)
			continue;
		if (t->stop_requested) {
			next = now;
			break;
		}
		if (t->c[i].state == FC_RUNNING && t->c[i].exit_at && (!next || t->c[i].exit_at < next))
			next = t->c[i].exit_at;
	}
	if (next)
		uv_timer_start(&t->timer, on_tick, next > now ? next - now : 0, 0);
}

static struct runtime_task *fake_start(struct runtime *rt, const struct runtime_spec *spec, struct err **err)
{
	(void)err;
	struct fake_rt *f = (struct fake_rt *)rt;
	struct fake_task *t = xcalloc(1, sizeof(*t) + spec->ncontainers * sizeof(t->c[0]));
	t->n = spec->ncontainers;
	t->created_at = clock_now();
	for (size_t i = 0; i < t->n; i++)
		container_plan(&t->c[i], &spec->containers[i], &f->o);
	uv_timer_init(rt->loop, &t->timer);
	t->timer.data = t;
	uv_timer_start(&t->timer, on_tick, f->o.start_delay_ms, 0);
	return &t->base;
}

static void fake_stop(struct runtime_task *base)
{
	struct fake_task *t = (struct fake_task *)base;
	if (t->stop_requested || t->released)
		return;
	t->stop_requested = true;
	if (!t->dispatching)
		uv_timer_start(&t->timer, on_tick, 0, 0);
}

static void fake_release(struct runtime_task *base)
{
	struct fake_task *t = (struct fake_task *)base;
	if (t->released)
		return;
	t->released = true;
	if (!t->dispatching) {
		uv_timer_stop(&t->timer);
		uv_close((uv_handle_t *)&t->timer, on_closed);
	}
}

static void fake_free(struct runtime *rt)
{
	free(rt);
}

static const struct runtime_ops fake_ops = {
	.name = "fake",
	.start = fake_start,
	.stop = fake_stop,
	.release = fake_release,
	.free = fake_free,
};

struct runtime *runtime_fake_new(uv_loop_t *loop, const struct runtime_fake_opts *o)
{
	struct fake_rt *f = xcalloc(1, sizeof(*f));
	f->base.ops = &fake_ops;
	f->base.loop = loop;
	f->o = *o;
	return &f->base;
}
