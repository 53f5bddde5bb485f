/* The agent's tasks: reconciling what runs with the desired state from the poll, the task state
 * machine over the runtime's container events, and reports that are retried until acknowledged. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent-int.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"

#define ESSENTIAL_EXITED "Essential container in task exited" /* ECS's stoppedReason */

static const char *status_name(unsigned char s)
{
	switch (s) {
	case AS_PENDING: return "PENDING";
	case AS_RUNNING: return "RUNNING";
	case AS_STOPPED: return "STOPPED";
	default: return "NONE";
	}
}

unsigned agent__backoff(struct agent *a, unsigned *cur)
{
	if (*cur < a->backoff_min_ms)
		*cur = a->backoff_min_ms;
	unsigned d = *cur;
	/* Up to a fifth less, so that a thousand hollow agents cut off together do not come back in
	 * one burst. */
	unsigned r;
	ids_random(&r, sizeof(r));
	d -= d / 5 ? r % (d / 5) : 0;
	*cur = *cur > a->backoff_max_ms / 2 ? a->backoff_max_ms : *cur * 2;
	return d;
}

bool agent__retryable(const struct awsc_result *r)
{
	if (r->status == 0 || r->status >= 500 || r->status == 429)
		return true;
	const char *t = r->error_type;
	return t && (strcmp(t, "ThrottlingException") == 0 || strcmp(t, "ServerException") == 0 ||
		     strcmp(t, "ServiceUnavailableException") == 0 || strcmp(t, "RequestLimitExceeded") == 0);
}

/* Task records */

static void task_unlink(struct agent__task *t)
{
	struct agent__inst *in = t->in;
	if (t->prev)
		t->prev->next = t->next;
	else
		in->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	in->ntasks--;
}

static void task_free(struct agent__task *t)
{
	runtime_release(t->rt);
	for (size_t i = 0; i < t->nc; i++) {
		free(t->c[i].name);
		free(t->c[i].runtime_id);
		free(t->c[i].reason);
		free(t->c[i].bindings);
		free(t->c[i].ip);
	}
	free(t->c);
	free(t->arn);
	free(t->reason);
	free(t);
}

static struct agent__task *task_new(struct agent__inst *in, const char *arn, json_t *defs)
{
	struct agent__task *t = xcalloc(1, sizeof(*t));
	t->in = in;
	t->arn = xstrdup(arn);
	size_t n = json_array_size(defs);
	t->c = xcalloc(n ? n : 1, sizeof(*t->c));
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_array_get(defs, i);
		const char *name = json_string_value(json_object_get(d, "name"));
		t->c[t->nc].name = xstrdup(name ? name : "");
		json_t *ess = json_object_get(d, "essential");
		t->c[t->nc].essential = !json_is_false(ess);
		t->nc++;
	}
	t->next = in->tasks;
	if (in->tasks)
		in->tasks->prev = t;
	in->tasks = t;
	in->ntasks++;
	return t;
}

/* A task can go once it is stopped, the server has the stop, and it no longer lists the task. */
static void task_maybe_forget(struct agent__task *t)
{
	if (t->listed || t->status != AS_STOPPED || t->acked != AS_STOPPED || t->report || t->retry ||
	    t->queued)
		return;
	struct agent__inst *in = t->in;
	log_debug(AGENT__LOG_FMT "forgetting task %s", AGENT__LOG(in), t->arn);
	task_unlink(t);
	task_free(t);
	if (in->phase == AP_EXITING && !in->tasks)
		agent__inst_tasks_gone(in);
}

/* Reports */

static json_t *cont_json(const struct agent__task *t, const struct agent__cont *c, bool with_task)
{
	json_t *j = json_object();
	if (with_task) {
		jv_set_str(j, "cluster", t->in->a->cluster);
		jv_set_str(j, "task", t->arn);
	}
	jv_set_str(j, "containerName", c->name);
	jv_set_str(j, "status", status_name(c->status));
	if (c->has_exit_code)
		json_object_set_new(j, "exitCode", json_integer(c->exit_code));
	jv_set_str(j, "reason", c->reason);
	json_t *nb = c->bindings ? json_loads(c->bindings, 0, NULL) : NULL;
	if (nb)
		json_object_set_new(j, "networkBindings", nb);
	jv_set_str(j, "runtimeId", c->runtime_id);
	if (c->ip)
		json_object_set_new(j, "networkInterfaces",
				    json_pack("[{s:s}]", "privateIpv4Address", c->ip));
	if (c->health)
		jv_set_str(j, "healthStatus", c->health == RUNTIME_HEALTH_HEALTHY ? "HEALTHY" : "UNHEALTHY");
	return j;
}

static json_t *task_report_json(struct agent__task *t)
{
	json_t *j = json_object();
	jv_set_str(j, "cluster", t->in->a->cluster);
	jv_set_str(j, "task", t->arn);
	jv_set_str(j, "status", status_name(t->status));
	if (t->status == AS_STOPPED)
		jv_set_str(j, "reason", t->reason);
	json_t *cs = json_array();
	for (size_t i = 0; i < t->nc; i++)
		if (t->c[i].status >= AS_RUNNING)
			json_array_append_new(cs, cont_json(t, &t->c[i], false));
	json_object_set_new(j, "containers", cs);
	if (t->pull_started_at > 0) {
		json_object_set_new(j, "pullStartedAt", jv_time(t->pull_started_at));
		json_object_set_new(j, "pullStoppedAt", jv_time(t->pull_stopped_at));
	}
	if (t->status == AS_STOPPED)
		json_object_set_new(j, "executionStoppedAt", jv_time(t->stopped_at));
	return j;
}

static void kick_report(struct agent__task *t);

/* Hands free report slots to the tasks waiting for one, in the order they came. */
static void report_queue_run(struct agent__inst *in)
{
	while (in->queue_head && in->reports < AGENT__REPORTS_MAX) {
		struct agent__task *t = in->queue_head;
		in->queue_head = t->queue_next;
		if (!in->queue_head)
			in->queue_tail = NULL;
		t->queue_next = NULL;
		t->queued = false;
		kick_report(t);
		task_maybe_forget(t);
	}
}

/* The report timer fired: sends again the reports that failed. */
static void on_report_timer(uv_timer_t *h)
{
	struct agent__inst *in = h->data;
	for (struct agent__task *t = in->tasks, *next; t; t = next) {
		next = t->next;
		if (!t->retry)
			continue;
		t->retry = false;
		t->sent = AS_NONE;
		for (size_t i = 0; i < t->nc; i++)
			t->c[i].sent = AS_NONE;
		kick_report(t);
	}
}

static void on_reported(void *arg, const struct awsc_result *r)
{
	struct agent__task *t = arg;
	struct agent__inst *in = t->in;
	struct agent *a = in->a;
	t->report = NULL;
	if (a->closing)
		return; /* cancelled by agent_free, which frees the task */
	in->reports--;
	bool ok = r->out != NULL;
	if (!ok && agent__retryable(r) && in->phase != AP_EXITING) {
		log_debug(AGENT__LOG_FMT "report for task %s failed, will retry: %s", AGENT__LOG(in), t->arn,
			  r->message ? r->message : "");
		t->retry = true;
		if (!uv_is_active((uv_handle_t *)&in->report_timer))
			uv_timer_start(&in->report_timer, on_report_timer,
				       agent__backoff(a, &in->report_backoff_ms), 0);
		report_queue_run(in);
		return;
	}
	if (ok) {
		in->report_backoff_ms = 0;
		log_debug(AGENT__LOG_FMT "task %s: %s acknowledged", AGENT__LOG(in), t->arn,
			  status_name(t->sent));
	} else {
		/* The server refused the report itself (the task is gone, or the instance is): sending it
		 * again would be refused again. The server's own state stands. */
		log_warn(AGENT__LOG_FMT "task %s: report of %s%s refused: %s%s%s", AGENT__LOG(in), t->arn,
			 t->sent ? "" : "container ",
			 t->sent ? status_name(t->sent) : t->c[t->report_cont].name,
			 r->error_type ? r->error_type : "", r->error_type ? ": " : "",
			 r->message ? r->message : "");
	}
	if (t->sent)
		t->acked = t->sent;
	for (size_t i = 0; i < t->nc; i++)
		if (t->c[i].sent) {
			t->c[i].acked = t->c[i].sent;
			t->c[i].health_acked = t->c[i].health_sent;
		}
	t->sent = AS_NONE;
	for (size_t i = 0; i < t->nc; i++)
		t->c[i].sent = AS_NONE;
	/* The waiting tasks go first; this task's next change, if any, queues behind them. */
	report_queue_run(in);
	kick_report(t);
	task_maybe_forget(t);
}

/* Sends what the server has not acknowledged yet, one report per task at a time (and at most
 * AGENT__REPORTS_MAX per instance; the others queue): a task change (with all its containers) when
 * the task's status moved, else a container change of a RUNNING task (a non-essential container
 * that exited). Changes before the task is RUNNING, or while it is stopping, travel with the task's
 * RUNNING or STOPPED report. */
static void kick_report(struct agent__task *t)
{
	struct agent__inst *in = t->in;
	struct agent *a = in->a;
	if (t->report || t->retry || t->queued || a->closing)
		return;
	bool task_due = t->status >= AS_RUNNING && t->status > t->acked;
	size_t cont = t->nc;
	if (!task_due && t->status == AS_RUNNING && t->acked == AS_RUNNING && !t->stopping)
		for (cont = 0; cont < t->nc; cont++)
			if (t->c[cont].status >= AS_RUNNING && (t->c[cont].status > t->c[cont].acked ||
								t->c[cont].health != t->c[cont].health_acked))
				break;
	if (!task_due && cont == t->nc)
		return;
	if (in->reports >= AGENT__REPORTS_MAX) {
		t->queued = true;
		if (in->queue_tail)
			in->queue_tail->queue_next = t;
		else
			in->queue_head = t;
		in->queue_tail = t;
		return;
	}
	json_t *body;
	const char *op;
	if (task_due) {
		body = task_report_json(t);
		op = "AmazonEC2ContainerServiceV20141113.SubmitTaskStateChange";
		t->sent = t->status;
		for (size_t i = 0; i < t->nc; i++)
			if (t->c[i].status >= AS_RUNNING) {
				t->c[i].sent = t->c[i].status;
				t->c[i].health_sent = t->c[i].health;
			}
	} else {
		body = cont_json(t, &t->c[cont], true);
		op = "AmazonEC2ContainerServiceV20141113.SubmitContainerStateChange";
		t->c[cont].sent = t->c[cont].status;
		t->c[cont].health_sent = t->c[cont].health;
		t->report_cont = cont;
	}
	log_debug(AGENT__LOG_FMT "task %s: reporting %s", AGENT__LOG(in), t->arn,
		  t->sent ? status_name(t->sent) : "a container change");
	in->reports++;
	t->report = awsc_call(a->aws, op, "ecs", body, AGENT_CALL_TIMEOUT_MS, on_reported, t);
	json_decref(body);
}

/* The task state machine */

static void task_stop(struct agent__task *t)
{
	if (t->stopping || t->status == AS_STOPPED)
		return;
	t->stopping = true;
	log_debug(AGENT__LOG_FMT "stopping task %s", AGENT__LOG(t->in), t->arn);
	if (t->rt)
		runtime_stop(t->rt);
}

/* Derives the task's status from its containers: RUNNING once each has started (or already
 * ended), STOPPED once each has stopped. */
static void task_update(struct agent__task *t)
{
	if (t->status == AS_STOPPED) {
		kick_report(t);
		return;
	}
	bool all_stopped = true, all_started = true;
	for (size_t i = 0; i < t->nc; i++) {
		if (t->c[i].status != AS_STOPPED)
			all_stopped = false;
		if (t->c[i].status < AS_RUNNING)
			all_started = false;
	}
	if (all_stopped) {
		t->status = AS_STOPPED;
		t->stopped_at = clock_now();
		log_debug(AGENT__LOG_FMT "task %s stopped%s%s", AGENT__LOG(t->in), t->arn,
			  t->reason ? ": " : "", t->reason ? t->reason : "");
	} else if (all_started && !t->stopping && t->status < AS_RUNNING) {
		t->status = AS_RUNNING;
		log_debug(AGENT__LOG_FMT "task %s running", AGENT__LOG(t->in), t->arn);
	}
	kick_report(t);
}

static void on_runtime_event(void *arg, const struct runtime_event *ev)
{
	struct agent__task *t = arg;
	if (ev->kind == RUNTIME_PULLED) {
		t->pull_started_at = ev->pull_started_at;
		t->pull_stopped_at = ev->pull_stopped_at;
		return;
	}
	if (ev->index >= t->nc)
		return;
	struct agent__cont *c = &t->c[ev->index];
	if (ev->kind == RUNTIME_CONTAINER_HEALTH) {
		c->health = (unsigned char)ev->health;
		kick_report(t);
		return;
	}
	if (ev->kind == RUNTIME_CONTAINER_RUNNING) {
		if (c->status >= AS_RUNNING)
			return;
		c->status = AS_RUNNING;
		free(c->runtime_id);
		c->runtime_id = xstrdup(ev->runtime_id);
		free(c->bindings);
		c->bindings = ev->bindings ? jv_dump(ev->bindings) : NULL;
		free(c->ip);
		c->ip = ev->ip ? xstrdup(ev->ip) : NULL;
	} else {
		if (c->status == AS_STOPPED)
			return;
		c->status = AS_STOPPED;
		c->has_exit_code = ev->has_exit_code;
		c->exit_code = ev->exit_code;
		free(c->reason);
		c->reason = xstrdup(ev->reason);
		if (c->essential && !t->stopping) {
			/* A container that could not start says why; one that ran and exited is ECS's
			 * "Essential container in task exited". */
			if (!t->reason)
				t->reason = xstrdup(!ev->has_exit_code && ev->reason ? ev->reason
										     : ESSENTIAL_EXITED);
			task_stop(t);
		}
	}
	task_update(t);
}

/* A task that could not be given to the runtime at all: every container stopped, never ran. */
static void task_fail(struct agent__task *t, const char *why)
{
	log_warn(AGENT__LOG_FMT "task %s cannot start: %s", AGENT__LOG(t->in), t->arn, why);
	free(t->reason);
	t->reason = xstrdup(why);
	for (size_t i = 0; i < t->nc; i++) {
		t->c[i].status = AS_STOPPED;
		free(t->c[i].reason);
		t->c[i].reason = xstrdup(why);
	}
	t->status = AS_STOPPED;
	t->stopped_at = clock_now();
	kick_report(t);
}

/* The container definition as the task runs it: ECS's containerOverrides replace command, cpu,
 * memory, memoryReservation, resourceRequirements and environmentFiles, and add to or replace
 * environment variables by name. New reference. */
static json_t *apply_override(json_t *def, json_t *ov)
{
	json_t *d = json_copy(def);
	if (!ov)
		return d;
	static const char *const replaced[] = {
		"command", "cpu", "memory", "memoryReservation", "resourceRequirements", "environmentFiles"};
	for (size_t i = 0; i < sizeof(replaced) / sizeof(replaced[0]); i++) {
		json_t *v = json_object_get(ov, replaced[i]);
		if (v && !json_is_null(v))
			json_object_set(d, replaced[i], v);
	}
	json_t *env = json_object_get(ov, "environment");
	if (json_is_array(env)) {
		json_t *merged = json_array();
		size_t i, k;
		json_t *kv, *okv;
		json_array_foreach (json_object_get(def, "environment"), i, kv) {
			const char *name = json_string_value(json_object_get(kv, "name"));
			bool replaced_here = false;
			json_array_foreach (env, k, okv) {
				const char *on = json_string_value(json_object_get(okv, "name"));
				if (name && on && strcmp(name, on) == 0)
					replaced_here = true;
			}
			if (!replaced_here)
				json_array_append(merged, kv);
		}
		json_array_extend(merged, env);
		json_object_set_new(d, "environment", merged);
	}
	return d;
}

static json_t *find_named(json_t *list, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

static void task_start(struct agent__task *t, json_t *entry, json_t *defs)
{
	struct agent__inst *in = t->in;
	json_t *task = json_object_get(entry, "task");
	json_t *taskdef = json_object_get(entry, "taskDefinition");
	if (!json_is_object(taskdef) || t->nc == 0) {
		task_fail(t, "TaskFailedToStart: the server sent no task definition with containers");
		return;
	}
	json_t *overrides = json_object_get(json_object_get(task, "overrides"), "containerOverrides");
	json_t *task_conts = json_object_get(task, "containers");
	struct runtime_container *rc = xcalloc(t->nc, sizeof(*rc));
	for (size_t i = 0; i < t->nc; i++) {
		rc[i].name = t->c[i].name;
		rc[i].essential = t->c[i].essential;
		rc[i].def = apply_override(json_array_get(defs, i), find_named(overrides, t->c[i].name));
		json_t *tc = find_named(task_conts, t->c[i].name);
		json_t *nb = json_object_get(tc, "networkBindings");
		rc[i].bindings = json_is_array(nb) ? nb : NULL;
	}
	struct runtime_spec spec = {
		.task_arn = t->arn,
		.task = task,
		.taskdef = taskdef,
		.containers = rc,
		.ncontainers = t->nc,
	};
	struct err *e = NULL;
	log_debug(AGENT__LOG_FMT "starting task %s", AGENT__LOG(in), t->arn);
	t->status = AS_PENDING;
	t->rt = runtime_start(in->a->rt, &spec, on_runtime_event, t, &e);
	for (size_t i = 0; i < t->nc; i++)
		json_decref(rc[i].def);
	free(rc);
	if (!t->rt) {
		char *why = xasprintf("TaskFailedToStart: %s", e ? e->msg : "the runtime refused it");
		task_fail(t, why);
		free(why);
		err_free(e);
	}
}

/* Reconciliation */

bool agent__reconcile(struct agent__inst *in, json_t *tasks, bool full)
{
	bool need_full = false;
	size_t n = json_array_size(tasks);
	/* arn -> position, so that matching both ways stays linear in the number of tasks. */
	json_t *index = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *arn = json_string_value(json_object_get(json_array_get(tasks, i), "taskArn"));
		if (arn && !json_object_get(index, arn))
			json_object_set_new(index, arn, json_integer((json_int_t)i));
	}
	unsigned char *known = xcalloc(n ? n : 1, 1);
	for (struct agent__task *t = in->tasks; t; t = t->next) {
		json_t *pos = json_object_get(index, t->arn);
		t->listed = pos != NULL;
		if (!pos) {
			/* Not wanted here any more (stopped while the agent was away, or moved): the
			 * server's desired state wins. */
			task_stop(t);
			continue;
		}
		size_t i = (size_t)json_integer_value(pos);
		known[i] = 1;
		const char *desired =
			json_string_value(json_object_get(json_array_get(tasks, i), "desiredStatus"));
		if (desired && strcmp(desired, "STOPPED") == 0)
			task_stop(t);
	}
	for (size_t i = 0; i < n; i++) {
		json_t *entry = json_array_get(tasks, i);
		const char *arn = json_string_value(json_object_get(entry, "taskArn"));
		if (known[i] || !arn || (size_t)json_integer_value(json_object_get(index, arn)) != i)
			continue;
		if (!full && !json_is_object(json_object_get(entry, "task"))) {
			/* A task new to the agent came without its spec (a server may leave out what
			 * it believes the agent has): ask for the whole state instead of guessing. */
			need_full = true;
			continue;
		}
		json_t *defs =
			json_object_get(json_object_get(entry, "taskDefinition"), "containerDefinitions");
		if (!json_is_array(defs))
			defs = json_object_get(json_object_get(entry, "task"), "containers");
		struct agent__task *t = task_new(in, arn, defs);
		t->listed = true;
		const char *desired = json_string_value(json_object_get(entry, "desiredStatus"));
		if (desired && strcmp(desired, "RUNNING") == 0) {
			task_start(t, entry, defs);
		} else {
			/* To be stopped before it ever ran here (e.g. the answer that brought it was
			 * lost): nothing to stop, but the server waits for the agent to say so. */
			for (size_t k = 0; k < t->nc; k++)
				t->c[k].status = AS_STOPPED;
			t->status = AS_STOPPED;
			t->stopped_at = clock_now();
			kick_report(t);
		}
	}
	free(known);
	json_decref(index);
	for (struct agent__task *t = in->tasks, *next; t; t = next) {
		next = t->next;
		task_maybe_forget(t);
	}
	return need_full;
}

void agent__stop_all(struct agent__inst *in)
{
	for (struct agent__task *t = in->tasks, *next; t; t = next) {
		next = t->next;
		t->listed = false;
		task_stop(t);
		task_maybe_forget(t);
	}
}

void agent__free_tasks(struct agent__inst *in)
{
	while (in->tasks) {
		struct agent__task *t = in->tasks;
		hcli_cancel(t->report);
		task_unlink(t);
		task_free(t);
	}
}
