/* The agent side of the ECS module (docs/agent-protocol.md): the Poll long-poll that hands each
 * agent its desired task set and doubles as its heartbeat, and the liveness check that marks
 * silent agents disconnected. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"

#define ECS_POLL_WAIT_DEFAULT 20
#define ECS_POLL_WAIT_MAX     60

struct ecs_poll {
	struct api_call *call;
	struct ecs_instance *in;
	uint64_t since; /* the version the agent has */
	uv_timer_t timer;
	struct ecs_poll *next;
};

/* The answer of a poll: the instance's whole desired set, with the full task and definition only
 * for the tasks that changed after version `since` (all of them when the agent has nothing, or a
 * version from before a server restart): an instance with many tasks costs work in proportion to
 * what changed, not to what it runs. Delivering a task moves it on: a PROVISIONING task is now
 * PENDING, a DEACTIVATING one STOPPING. */
static json_t *desired_state(struct ecs_instance *in, uint64_t since)
{
	bool all = since == 0 || since > in->desired_version;
	struct ecs_cluster *cl = in->cl;
	json_t *tasks = json_array();
	const char *id;
	json_t *t;
	json_object_foreach (in->tasks, id, t) {
		if (ecs__task_stopped(t))
			continue;
		const char *last = ecs__str(t, "lastStatus");
		const char *next = strcmp(last, "PROVISIONING") == 0   ? "PENDING"
				   : strcmp(last, "DEACTIVATING") == 0 ? "STOPPING"
								       : NULL;
		if (next) {
			ecs__task_set_last(cl, t, next);
			json_int_t v = json_integer_value(json_object_get(t, "version"));
			json_object_set_new(t, "version", json_integer(v + 1));
			ecs__task_save(cl, t);
		}
		json_t *d = json_pack("{s:O, s:O, s:O}", "taskArn", json_object_get(t, "taskArn"),
				      "desiredStatus", json_object_get(t, "desiredStatus"), "lastStatus",
				      json_object_get(t, "lastStatus"));
		if (all || (uint64_t)json_integer_value(json_object_get(t, "_changed")) > since) {
			json_t *rec = ecs__taskdef_record_any(cl->sc, ecs__str(t, "taskDefinitionArn"));
			json_object_set_new(d, "task", ecs__task_view(t, false));
			json_object_set(d, "taskDefinition", json_object_get(rec, "taskDefinition"));
		}
		json_array_append_new(tasks, d);
	}
	return json_pack("{s:I, s:O, s:I, s:o}", "version", (json_int_t)in->desired_version, "status",
			 json_object_get(in->doc, "status"), "heartbeatTimeoutSeconds",
			 (json_int_t)cl->sc->ecs->agent_timeout_s, "tasks", tasks);
}

static void on_poll_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Takes p out of its instance's list and answers it (or just drops it when answer is false). */
static void end_poll(struct ecs_poll *p, bool answer)
{
	struct ecs_instance *in = p->in;
	for (struct ecs_poll **pp = &in->polls; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (answer)
		api_call_finish(p->call, desired_state(in, p->since), NULL);
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, on_poll_closed);
}

static void on_poll_timeout(uv_timer_t *t)
{
	end_poll(t->data, true);
}

void ecs__polls_answer(struct ecs_instance *in)
{
	while (in->polls)
		end_poll(in->polls, true);
}

void ecs__polls_drop(struct ecs_instance *in)
{
	/* Only at exit, after ecs_stop answered everything; kept for safety. */
	while (in->polls)
		end_poll(in->polls, false);
}

static void set_connected(struct ecs_instance *in, bool connected)
{
	if (in->connected == connected)
		return;
	in->connected = connected;
	sched_instance_set_connected(in->cl->sched, in->id, connected, NULL);
	log_info("container instance %s (cluster %s): agent %s", in->id, in->cl->name,
		 connected ? "connected" : "disconnected");
}

int ecs__agent_poll(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *cref, *iref;
	long long version = 0, wait = ECS_POLL_WAIT_DEFAULT;
	bool has_wait;
	if (jv_str(in, "cluster", false, &cref, err) < 0 ||
	    jv_str(in, "containerInstance", true, &iref, err) < 0 ||
	    jv_int(in, "version", false, &version, NULL, err) < 0 ||
	    jv_int(in, "waitSeconds", false, &wait, &has_wait, err) < 0)
		return -1;
	if (wait < 0 || wait > ECS_POLL_WAIT_MAX)
		return err_set(err, ERR_INVALID_PARAM, "waitSeconds must be between 0 and %d",
			       ECS_POLL_WAIT_MAX);
	struct ecs_cluster *cl = ecs__cluster_find(call, cref, err);
	if (!cl)
		return -1;
	struct ecs_instance *inst = ecs__instance_find(cl, iref);
	if (!inst)
		return err_set(err, ERR_INVALID_PARAM, "The referenced container instance %s was not found.",
			       iref);
	struct ecs *ecs = cl->sc->ecs;
	inst->last_seen_ms = clock_mono_ms();
	bool inactive = strcmp(ecs__str(inst->doc, "status"), "INACTIVE") == 0;
	if (!inactive)
		set_connected(inst, true);
	if (inactive || (uint64_t)version != inst->desired_version || !ecs->loop || ecs->stopping ||
	    wait == 0) {
		*out = desired_state(inst, (uint64_t)version);
		return 0;
	}
	/* A poll is held at most half the agent timeout: the server cannot see an agent that died
	 * with a poll open, so liveness counts poll arrivals, and a live agent's arrive in time. */
	long long cap = (long long)(ecs->agent_timeout_s / 2);
	if (wait > cap)
		wait = cap > 0 ? cap : 1;
	struct ecs_poll *p = xcalloc(1, sizeof(*p));
	p->call = call;
	p->in = inst;
	p->since = (uint64_t)version;
	p->next = inst->polls;
	inst->polls = p;
	uv_timer_init(ecs->loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, on_poll_timeout, (uint64_t)wait * 1000, 0);
	return API_LATER;
}

void ecs__check_agents(struct ecs *ecs)
{
	uint64_t now = clock_mono_ms();
	uint64_t limit = (uint64_t)(ecs->agent_timeout_s * 1000);
	for (size_t s = 0; s < ecs->nscopes; s++) {
		size_t it = 0;
		void *v;
		while (hmap_next(ecs->scopes[s]->runtime, &it, NULL, &v)) {
			struct ecs_cluster *cl = v;
			size_t jt = 0;
			void *iv;
			while (hmap_next(cl->instances, &jt, NULL, &iv)) {
				struct ecs_instance *in = iv;
				if (in->connected && now - in->last_seen_ms > limit &&
				    strcmp(ecs__str(in->doc, "status"), "INACTIVE") != 0)
					set_connected(in, false);
			}
		}
	}
}
