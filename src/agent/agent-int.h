/* Internals shared by agent.c (instances: identity, registration, the poll) and agent_task.c
 * (tasks: reconciling with the desired state, runtime events, reports). */
#ifndef GANTRY_AGENT_INT_H
#define GANTRY_AGENT_INT_H

#include <jansson.h>

#include "agent/agent.h"
#include "api/awsc.h"
#include "common/hcli.h"

/* Task and container statuses, in the order they only move forward. */
enum agent__status { AS_NONE = 0, AS_PENDING, AS_RUNNING, AS_STOPPED };

struct agent__cont {
	char *name;
	char *runtime_id; /* from the runtime, once RUNNING */
	char *reason;	  /* why it stopped, when not a plain exit */
	char *bindings;	  /* the host ports it got, as JSON text (a tenth of jansson's size), or NULL */
	char *ip;	  /* awsvpc: the task's address, reported as its network interface */
	int exit_code;
	unsigned char status, sent,
		acked; /* enum agent__status: now / in the report in flight / acknowledged */
	unsigned char health, health_sent, health_acked; /* enum runtime_health, likewise */
	bool essential, has_exit_code;
};

struct agent__task {
	struct agent__inst *in;
	struct agent__task *next, *prev;
	char *arn;
	char *reason; /* the stop reason to report, or NULL */
	struct runtime_task *rt;
	struct hcli_req *report; /* the report in flight */
	double pull_started_at, pull_stopped_at, stopped_at;
	struct agent__cont *c;
	size_t nc;
	size_t report_cont; /* the container a SubmitContainerStateChange in flight is about */
	unsigned char status, sent, acked;
	bool stopping; /* the runtime was told to stop it */
	bool listed;   /* in the last desired state the server sent */
	bool retry;    /* its report failed: sent again when the instance's report timer fires */
	bool queued;   /* waits in the instance's report queue for a free slot */
	struct agent__task *queue_next;
};

enum agent__phase {
	AP_IDLE,	/* not started */
	AP_REGISTERING, /* RegisterContainerInstance (or CreateCluster) in flight or waiting to retry */
	AP_POLLING,	/* the poll loop */
	AP_EXITING,	/* deregistered: stopping its tasks, then done */
	AP_DONE,
};

struct agent__inst {
	struct agent *a;
	unsigned index;
	char id[20]; /* the EC2-style instance id: "i-" and 17 hex digits */
	char *arn;   /* the container instance ARN, once registered */
	char *state_path;
	long long version;	  /* of the desired state last received */
	long long polled_version; /* sent with the poll in flight */
	enum agent__phase phase;
	struct hcli_req *req;	 /* the registration or poll in flight */
	uv_timer_t timer;	 /* retry of registration or poll */
	uv_timer_t report_timer; /* retry of failed reports (agent_task.c; data = the instance) */
	unsigned backoff_ms, report_backoff_ms; /* the next delay after a failure; 0 = none yet */
	bool unreachable;     /* the last registration or poll failed (logged once per streak) */
	bool created_cluster; /* CreateCluster was tried for a missing "default" */
	bool was_registered;
	struct agent__task *tasks;
	size_t ntasks;
	/* Reports in flight are bounded per instance (AGENT__REPORTS_MAX): a host that starts a hundred
	 * tasks at once sends their reports a few at a time over a few kept-alive connections instead of
	 * opening a connection for each. Tasks with something to say wait here, first come first sent. */
	unsigned reports;
	struct agent__task *queue_head, *queue_tail;
};

struct agent {
	uv_loop_t *loop;
	struct runtime *rt;
	struct hcli *http;
	struct awsc *aws;
	char *cluster;
	char *region;
	char *state_dir;
	char *az, *instance_type;
	json_t *attrs;		  /* the registration's attributes */
	json_t *resources;	  /* the registration's totalResources */
	unsigned poll_wait_max_s; /* waitSeconds asked for ... */
	unsigned poll_wait_s;	  /* ... at most half the server's heartbeatTimeoutSeconds */
	unsigned backoff_min_ms, backoff_max_ms;
	void (*on_exit)(void *arg, int status);
	void *on_exit_arg;
	uv_timer_t exit_timer; /* calls on_exit on a fresh loop turn */
	struct agent__inst *insts;
	unsigned count;
	unsigned live;	     /* instances not AP_DONE */
	unsigned registered; /* instances registered at least once (for the log) */
	unsigned handles;    /* loop handles still open (freed when 0 after agent_free) */
	int exit_status;
	int lock_fd;
	bool cluster_created; /* logged */
	bool closing;
	bool swept; /* runtime_sweep ran: an earlier life's leftovers are only looked for once */
};

/* Reports in flight per instance (see agent__inst.reports). */
#define AGENT__REPORTS_MAX 4

/* The name an instance goes by in logs. */
#define AGENT__LOG_FMT "agent %s: "
#define AGENT__LOG(in) ((in)->id)

/* agent_task.c */
/* Applies a poll answer's `tasks` (an array, or NULL for none): starts the new ones, stops those
 * the server wants stopped or no longer lists, forgets what is stopped, reported and unlisted.
 * full: the answer is to a poll with version 0. Returns true when a task new to the agent came
 * without its `task` spec in an answer that was not full: the next poll should ask for all. */
bool agent__reconcile(struct agent__inst *in, json_t *tasks, bool full);
/* Stops every task and lists none (the instance is deregistered). */
void agent__stop_all(struct agent__inst *in);
/* Frees every task at shutdown: cancels reports, releases runtime tasks without stopping them. */
void agent__free_tasks(struct agent__inst *in);
/* The next back-off delay from *cur (doubling from min to max, with jitter). */
unsigned agent__backoff(struct agent *a, unsigned *cur);
/* Whether a failed call is worth retrying: no answer, a 5xx, throttling. */
bool agent__retryable(const struct awsc_result *r);

/* agent.c */
/* Called when an exiting instance holds no more tasks. */
void agent__inst_tasks_gone(struct agent__inst *in);

#endif
