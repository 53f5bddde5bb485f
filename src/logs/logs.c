/* The CloudWatch Logs API (Logs_20140328) over the log store: groups, streams, PutLogEvents,
 * GetLogEvents, FilterLogEvents, retention, tags. Limits and error texts follow the CloudWatch Logs
 * API reference. */
#include "logs/logs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/clock.h"
#include "common/hmap.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "logs/filter.h"
#include "logs/logstore.h"
#include "store/store.h"

#define LOGS_TARGET_PREFIX "Logs_20140328"
#define LOGS_SIGNING_NAME  "logs"
#define KIND_GROUP	   "loggroup"
#define KIND_STREAM	   "logstream"

/* PutLogEvents, as the API reference states them (the size limits are in logs.h). */
#define PUT_SPAN_MS   (24LL * 3600 * 1000)
#define PUT_PAST_MS   (14LL * 24 * 3600 * 1000)
#define PUT_FUTURE_MS (2LL * 3600 * 1000)
/* GetLogEvents / FilterLogEvents: at most 10,000 events or 1 MB per answer. */
#define READ_EVENTS_MAX 10000
#define READ_BYTES_MAX	(1024 * 1024)
/* FilterLogEvents examines at most this many events, for at most this long, per call, then answers
 * with what it found and a nextToken (CloudWatch too may answer a page with few or no events and a
 * token), so that one call never holds the loop for long. The clock is read every
 * FILTER_CLOCK_EVERY events, or sooner once the work since the last reading (message bytes times
 * filter_cost) reaches FILTER_CLOCK_WORK; each call examines at least one event. */
#define FILTER_SCAN_MAX	   200000
#define FILTER_TIME_MAX_MS 50
#define FILTER_CLOCK_EVERY 1024
#define FILTER_CLOCK_WORK  (4 * 1024 * 1024)
#define FILTER_STREAMS_MAX 100 /* logStreamNames */
#define DESCRIBE_MAX	   50
#define NAME_MAX_LEN	   512
#define TAGS_MAX	   50
#define DAY_MS		   (24LL * 3600 * 1000)

static const int retention_days[] = {1,	  3,   5,   7,	 14,   30,   60,   90,	 120,  150,  180,
				     365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

struct lgroup;

struct lstream {
	struct lgroup *g;
	char *name;
	int64_t created;
	struct logstore_stream *st; /* NULL until it has data */
};

struct lgroup {
	char *key; /* ACCOUNT/REGION/NAME */
	char *account, *region, *name;
	int64_t created;
	int retention; /* days; 0 = never expire */
	json_t *tags;  /* object */
	struct hmap *streams;
};

struct logs {
	uv_loop_t *loop;
	struct store *store;
	struct logstore *ls;
	struct hmap *groups;
	uv_timer_t *timer; /* heap: freed in its close callback, which may run after logs_free */
	uint64_t interval_ms;
};

static int64_t now_ms(void)
{
	return (int64_t)(clock_now() * 1000.0);
}

static struct logs *logs_of(struct api_call *call)
{
	return call->service_arg;
}

/* --- groups and streams in memory and in the store --- */

static char *group_key(const char *account, const char *region, const char *name)
{
	return xasprintf("%s/%s/%s", account, region, name);
}

static void stream_free(struct lstream *s)
{
	if (!s)
		return;
	free(s->name);
	free(s);
}

static void group_free(struct lgroup *g)
{
	if (!g)
		return;
	size_t it = 0;
	const char *k;
	void *v;
	while (hmap_next(g->streams, &it, &k, &v))
		stream_free(v);
	hmap_free(g->streams);
	json_decref(g->tags);
	free(g->key);
	free(g->account);
	free(g->region);
	free(g->name);
	free(g);
}

static struct lgroup *group_add(struct logs *l, const char *account, const char *region, const char *name,
				int64_t created)
{
	struct lgroup *g = xcalloc(1, sizeof(*g));
	g->key = group_key(account, region, name);
	g->account = xstrdup(account);
	g->region = xstrdup(region);
	g->name = xstrdup(name);
	g->created = created;
	g->tags = json_object();
	g->streams = hmap_new();
	hmap_put(l->groups, g->key, g);
	return g;
}

static struct lstream *stream_add(struct lgroup *g, const char *name, int64_t created)
{
	struct lstream *s = xcalloc(1, sizeof(*s));
	s->g = g;
	s->name = xstrdup(name);
	s->created = created;
	hmap_put(g->streams, s->name, s);
	return s;
}

static void group_save(struct logs *l, const struct lgroup *g)
{
	json_t *j =
		json_pack("{s:s, s:s, s:s, s:I, s:O}", "account", g->account, "region", g->region,
			  "logGroupName", g->name, "creationTime", (json_int_t)g->created, "tags", g->tags);
	if (g->retention)
		json_object_set_new(j, "retentionInDays", json_integer(g->retention));
	char *doc = jv_dump(j);
	store_put(l->store, KIND_GROUP, g->key, doc, strlen(doc));
	free(doc);
	json_decref(j);
}

static char *stream_store_key(const struct lgroup *g, const char *name)
{
	/* A group name cannot hold ':', so the key is unique. */
	return xasprintf("%s:%s", g->key, name);
}

static void stream_save(struct logs *l, const struct lstream *s)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "account", s->g->account, "region", s->g->region,
			      "logGroupName", s->g->name, "logStreamName", s->name, "creationTime",
			      (json_int_t)s->created);
	char *doc = jv_dump(j), *key = stream_store_key(s->g, s->name);
	store_put(l->store, KIND_STREAM, key, doc, strlen(doc));
	free(doc);
	free(key);
	json_decref(j);
}

static void stream_delete(struct logs *l, struct lstream *s)
{
	char *key = stream_store_key(s->g, s->name);
	store_del(l->store, KIND_STREAM, key);
	free(key);
	if (s->st)
		logstore_drop_stream(l->ls, s->st);
	hmap_del(s->g->streams, s->name);
	stream_free(s);
}

static int load_group_cb(void *arg, const char *key, const char *doc, size_t len)
{
	struct logs *l = arg;
	json_t *j = json_loadb(doc, len, 0, NULL);
	const char *a = json_string_value(json_object_get(j, "account"));
	const char *r = json_string_value(json_object_get(j, "region"));
	const char *n = json_string_value(json_object_get(j, "logGroupName"));
	if (!a || !r || !n) {
		log_warn("logs: ignoring an unreadable log group record %s", key);
		json_decref(j);
		return 0;
	}
	struct lgroup *g = group_add(l, a, r, n, json_integer_value(json_object_get(j, "creationTime")));
	g->retention = (int)json_integer_value(json_object_get(j, "retentionInDays"));
	json_t *tags = json_object_get(j, "tags");
	if (json_is_object(tags))
		json_object_update(g->tags, tags);
	json_decref(j);
	return 0;
}

static int load_stream_cb(void *arg, const char *key, const char *doc, size_t len)
{
	struct logs *l = arg;
	json_t *j = json_loadb(doc, len, 0, NULL);
	const char *a = json_string_value(json_object_get(j, "account"));
	const char *r = json_string_value(json_object_get(j, "region"));
	const char *gn = json_string_value(json_object_get(j, "logGroupName"));
	const char *sn = json_string_value(json_object_get(j, "logStreamName"));
	struct lgroup *g = NULL;
	if (a && r && gn && sn) {
		char *gk = group_key(a, r, gn);
		g = hmap_get(l->groups, gk);
		free(gk);
	}
	if (!g) {
		log_warn("logs: ignoring a log stream record without its group: %s", key);
		json_decref(j);
		return 0;
	}
	struct lstream *s = stream_add(g, sn, json_integer_value(json_object_get(j, "creationTime")));
	s->st = logstore_stream(l->ls, g->key, s->name, false);
	json_decref(j);
	return 0;
}

/* Data in the log store whose stream the metadata does not know (its deletion was acknowledged, but
 * the crash came before the log store's rename was durable): drop it, or a group or stream created
 * again under that name would show the old events. */
static void reconcile_cb(void *arg, const char *gkey, const char *name, struct logstore_stream *st)
{
	struct logs *l = arg;
	struct lgroup *g = hmap_get(l->groups, gkey);
	if (!g || !hmap_get(g->streams, name)) {
		log_info("logs: removing the events of deleted log stream %s %s", gkey, name);
		logstore_drop_stream(l->ls, st);
	}
}

/* --- request helpers --- */

static int check_group_name(const char *name, struct err **err)
{
	size_t n = strlen(name);
	if (n < 1 || n > NAME_MAX_LEN)
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value at 'logGroupName' failed to satisfy constraint: "
			"Member must have length between 1 and 512");
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._-/#", c)))
			return err_set(
				err, ERR_INVALID_PARAM,
				"1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy "
				"constraint: Member must satisfy regular expression pattern: "
				"[\\.\\-_/#A-Za-z0-9]+",
				name);
	}
	return 0;
}

static int check_stream_name(const char *name, struct err **err)
{
	size_t n = strlen(name);
	if (n < 1 || n > NAME_MAX_LEN)
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value at 'logStreamName' failed to satisfy constraint: "
			"Member must have length between 1 and 512");
	if (strpbrk(name, ":*"))
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value at 'logStreamName' failed to satisfy constraint: "
			"Member must satisfy regular expression pattern: [^:*]*");
	return 0;
}

static struct lgroup *find_group(struct api_call *call, const char *name)
{
	char *k = group_key(call->account, call->region, name);
	struct lgroup *g = hmap_get(logs_of(call)->groups, k);
	free(k);
	return g;
}

static int not_found_group(struct err **err)
{
	return err_set(err, ERR_NOT_FOUND, "The specified log group does not exist.");
}

/* The group a call names with logGroupName (required unless logGroupIdentifier may be used: a
 * name or an ARN of the caller's account and region). */
static int get_group(struct api_call *call, json_t *in, bool allow_identifier, struct lgroup **out,
		     struct err **err)
{
	const char *name = NULL, *ident = NULL;
	if (jv_str(in, "logGroupName", !allow_identifier, &name, err) < 0)
		return -1;
	if (allow_identifier && jv_str(in, "logGroupIdentifier", false, &ident, err) < 0)
		return -1;
	if (name && ident)
		return err_set(err, ERR_INVALID_PARAM,
			       "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
	if (!name && !ident)
		return err_set(err, ERR_INVALID_PARAM,
			       "Either logGroupName or logGroupIdentifier is required");
	char *owned = NULL;
	if (ident && strncmp(ident, "arn:", 4) == 0) {
		/* arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] */
		char pre[160];
		snprintf(pre, sizeof(pre), "arn:aws:logs:%s:%s:log-group:", call->region, call->account);
		if (strncmp(ident, pre, strlen(pre)) != 0)
			return not_found_group(err);
		owned = xstrdup(ident + strlen(pre));
		size_t n = strlen(owned);
		if (n >= 2 && strcmp(owned + n - 2, ":*") == 0)
			owned[n - 2] = 0;
		name = owned;
	} else if (ident) {
		name = ident;
	}
	*out = find_group(call, name);
	free(owned);
	if (!*out)
		return not_found_group(err);
	return 0;
}

static int get_stream(struct lgroup *g, json_t *in, struct lstream **out, struct err **err)
{
	const char *name;
	if (jv_str(in, "logStreamName", true, &name, err) < 0)
		return -1;
	*out = hmap_get(g->streams, name);
	if (!*out)
		return err_set(err, ERR_NOT_FOUND, "The specified log stream does not exist.");
	return 0;
}

static char *group_arn(const struct lgroup *g)
{
	return xasprintf("arn:aws:logs:%s:%s:log-group:%s", g->region, g->account, g->name);
}

static int64_t retention_cutoff(const struct lgroup *g, int64_t now)
{
	return g->retention ? now - g->retention * DAY_MS : INT64_MIN;
}

static int read_limit(json_t *in, long long def, long long max, long long *out, struct err **err)
{
	bool present;
	long long v = def;
	if (jv_int(in, "limit", false, &v, &present, err) < 0)
		return -1;
	if (present && (v < 1 || v > max))
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value '%lld' at 'limit' failed to satisfy constraint: "
			"Member must have value between 1 and %lld",
			v, max);
	*out = v;
	return 0;
}

static int read_tags(json_t *in, const char *key, bool required, json_t **out, struct err **err)
{
	if (jv_object(in, key, required, out, err) < 0)
		return -1;
	if (!*out)
		return 0;
	if (json_object_size(*out) > TAGS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "A resource can have at most %d tags", TAGS_MAX);
	const char *k;
	json_t *v;
	json_object_foreach (*out, k, v) {
		if (!*k || strlen(k) > 128 || strncmp(k, "aws:", 4) == 0)
			return err_set(err, ERR_INVALID_PARAM, "Invalid tag key '%s'", k);
		if (!json_is_string(v) || json_string_length(v) > 256)
			return err_set(err, ERR_INVALID_PARAM,
				       "Tag values must be strings of at most 256 characters");
	}
	return 0;
}

static int64_t stored_bytes(const struct lgroup *g)
{
	int64_t n = 0;
	size_t it = 0;
	const char *k;
	void *v;
	while (hmap_next(g->streams, &it, &k, &v)) {
		struct lstream *s = v;
		if (s->st) {
			struct logstore_info info;
			logstore_info(s->st, &info);
			n += (int64_t)info.bytes;
		}
	}
	return n;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --- groups --- */

static int op_create_log_group(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name;
	json_t *tags = NULL;
	if (jv_str(in, "logGroupName", true, &name, err) < 0 || check_group_name(name, err) < 0 ||
	    read_tags(in, "tags", false, &tags, err) < 0)
		return -1;
	if (find_group(call, name))
		return err_set(err, ERR_RESOURCE_EXISTS, "The specified log group already exists");
	struct lgroup *g = group_add(logs_of(call), call->account, call->region, name, now_ms());
	if (tags)
		json_object_update(g->tags, tags);
	group_save(logs_of(call), g);
	*out = json_object();
	return 0;
}

static int op_delete_log_group(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	if (get_group(call, in, false, &g, err) < 0)
		return -1;
	struct logs *l = logs_of(call);
	size_t it = 0;
	const char *k;
	void *v;
	/* Collect first: deleting a stream changes the map. */
	size_t n = hmap_size(g->streams), i = 0;
	struct lstream **all = xmalloc((n ? n : 1) * sizeof(*all));
	while (hmap_next(g->streams, &it, &k, &v) && i < n)
		all[i++] = v;
	for (size_t j = 0; j < i; j++)
		stream_delete(l, all[j]);
	free(all);
	store_del(l->store, KIND_GROUP, g->key);
	hmap_del(l->groups, g->key);
	group_free(g);
	*out = json_object();
	return 0;
}

static json_t *group_json(const struct lgroup *g, bool brief)
{
	char *arn = group_arn(g);
	char *arn_star = xasprintf("%s:*", arn);
	json_t *j = json_pack("{s:s, s:I, s:s}", "logGroupName", g->name, "creationTime",
			      (json_int_t)g->created, "arn", arn_star);
	if (!brief) {
		if (g->retention)
			json_object_set_new(j, "retentionInDays", json_integer(g->retention));
		json_object_set_new(j, "metricFilterCount", json_integer(0));
		json_object_set_new(j, "storedBytes", json_integer(stored_bytes(g)));
		json_object_set_new(j, "logGroupClass", json_string("STANDARD"));
		json_object_set_new(j, "logGroupArn", json_string(arn));
	}
	free(arn);
	free(arn_star);
	return j;
}

static int op_describe_log_groups(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *prefix = NULL, *pattern = NULL;
	long long limit = DESCRIBE_MAX;
	char *after = NULL;
	if (jv_str(in, "logGroupNamePrefix", false, &prefix, err) < 0 ||
	    jv_str(in, "logGroupNamePattern", false, &pattern, err) < 0 ||
	    read_limit(in, DESCRIBE_MAX, DESCRIBE_MAX, &limit, err) < 0)
		return -1;
	if (prefix && pattern)
		return err_set(
			err, ERR_INVALID_PARAM,
			"LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
	if (page_after(in, &after, err) < 0)
		return -1;
	struct logs *l = logs_of(call);
	size_t n = hmap_size(l->groups), m = 0, it = 0;
	char **names = xmalloc((n ? n : 1) * sizeof(*names));
	const char *k;
	void *v;
	while (hmap_next(l->groups, &it, &k, &v)) {
		struct lgroup *g = v;
		if (strcmp(g->account, call->account) != 0 || strcmp(g->region, call->region) != 0)
			continue;
		if (prefix && strncmp(g->name, prefix, strlen(prefix)) != 0)
			continue;
		if (pattern && !strstr(g->name, pattern))
			continue;
		if (after && strcmp(g->name, after) <= 0)
			continue;
		names[m++] = g->name;
	}
	qsort(names, m, sizeof(*names), cmp_str_ptr);
	json_t *arr = json_array();
	*out = json_pack("{s:o}", "logGroups", arr);
	for (size_t i = 0; i < m && i < (size_t)limit; i++)
		json_array_append_new(arr, group_json(find_group(call, names[i]), pattern != NULL));
	if (m > (size_t)limit)
		page_set_token(*out, names[limit - 1]);
	free(names);
	free(after);
	return 0;
}

static int op_put_retention_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	long long days;
	if (get_group(call, in, false, &g, err) < 0 ||
	    jv_int(in, "retentionInDays", true, &days, NULL, err) < 0)
		return -1;
	bool valid = false;
	for (size_t i = 0; i < sizeof(retention_days) / sizeof(retention_days[0]); i++)
		valid = valid || retention_days[i] == days;
	if (!valid)
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value '%lld' at 'retentionInDays' failed to satisfy "
			"constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, "
			"150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
			days);
	g->retention = (int)days;
	group_save(logs_of(call), g);
	*out = json_object();
	return 0;
}

static int op_delete_retention_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	if (get_group(call, in, false, &g, err) < 0)
		return -1;
	g->retention = 0;
	group_save(logs_of(call), g);
	*out = json_object();
	return 0;
}

/* --- tags --- */

static int group_by_arn(struct api_call *call, json_t *in, struct lgroup **g, struct err **err)
{
	const char *arn;
	if (jv_str(in, "resourceArn", true, &arn, err) < 0)
		return -1;
	json_t *q = json_pack("{s:s}", "logGroupIdentifier", arn);
	int rc = strncmp(arn, "arn:", 4) == 0
			 ? get_group(call, q, true, g, err)
			 : err_set(err, ERR_INVALID_PARAM, "Invalid resourceArn '%s'", arn);
	json_decref(q);
	return rc;
}

static int op_tag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	json_t *tags;
	if (group_by_arn(call, in, &g, err) < 0 || read_tags(in, "tags", true, &tags, err) < 0)
		return -1;
	json_t *merged = json_copy(g->tags);
	json_object_update(merged, tags);
	if (json_object_size(merged) > TAGS_MAX) {
		json_decref(merged);
		return err_set(err, ERR_INVALID_PARAM, "A resource can have at most %d tags", TAGS_MAX);
	}
	json_decref(g->tags);
	g->tags = merged;
	group_save(logs_of(call), g);
	*out = json_object();
	return 0;
}

static int untag(struct api_call *call, struct lgroup *g, json_t *keys, json_t **out)
{
	size_t i;
	json_t *k;
	json_array_foreach (keys, i, k)
		json_object_del(g->tags, json_string_value(k));
	group_save(logs_of(call), g);
	*out = json_object();
	return 0;
}

static int op_untag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	json_t *keys;
	if (group_by_arn(call, in, &g, err) < 0 || jv_str_array(in, "tagKeys", true, &keys, err) < 0)
		return -1;
	return untag(call, g, keys, out);
}

static int op_list_tags_for_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	if (group_by_arn(call, in, &g, err) < 0)
		return -1;
	*out = json_pack("{s:O}", "tags", g->tags);
	return 0;
}

static int op_tag_log_group(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	json_t *tags;
	if (get_group(call, in, false, &g, err) < 0 || read_tags(in, "tags", true, &tags, err) < 0)
		return -1;
	json_object_update(g->tags, tags);
	group_save(logs_of(call), g);
	*out = json_object();
	return 0;
}

static int op_untag_log_group(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	json_t *keys;
	if (get_group(call, in, false, &g, err) < 0 || jv_str_array(in, "tags", true, &keys, err) < 0)
		return -1;
	return untag(call, g, keys, out);
}

static int op_list_tags_log_group(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	if (get_group(call, in, false, &g, err) < 0)
		return -1;
	*out = json_pack("{s:O}", "tags", g->tags);
	return 0;
}

/* --- streams --- */

static int op_create_log_stream(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	const char *name;
	if (get_group(call, in, false, &g, err) < 0 || jv_str(in, "logStreamName", true, &name, err) < 0 ||
	    check_stream_name(name, err) < 0)
		return -1;
	if (hmap_get(g->streams, name))
		return err_set(err, ERR_RESOURCE_EXISTS, "The specified log stream already exists");
	struct lstream *s = stream_add(g, name, now_ms());
	stream_save(logs_of(call), s);
	*out = json_object();
	return 0;
}

static int op_delete_log_stream(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	struct lstream *s;
	if (get_group(call, in, false, &g, err) < 0 || get_stream(g, in, &s, err) < 0)
		return -1;
	stream_delete(logs_of(call), s);
	*out = json_object();
	return 0;
}

static char *seq_token(uint64_t seq)
{
	return xasprintf("%056" PRIu64, seq);
}

static json_t *stream_json(const struct lstream *s)
{
	char *arn = xasprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", s->g->region, s->g->account,
			      s->g->name, s->name);
	json_t *j = json_pack("{s:s, s:I, s:s}", "logStreamName", s->name, "creationTime",
			      (json_int_t)s->created, "arn", arn);
	free(arn);
	struct logstore_info info = {0};
	if (s->st)
		logstore_info(s->st, &info);
	if (info.events > 0) {
		json_object_set_new(j, "firstEventTimestamp", json_integer(info.first_ts));
		json_object_set_new(j, "lastEventTimestamp", json_integer(info.last_ts));
		json_object_set_new(j, "lastIngestionTime", json_integer(info.last_ingest));
	}
	char *tok = seq_token(info.next_seq);
	json_object_set_new(j, "uploadSequenceToken", json_string(tok));
	free(tok);
	json_object_set_new(j, "storedBytes", json_integer((json_int_t)info.bytes));
	return j;
}

struct sorted_stream {
	char *key;
	struct lstream *s;
};

static int cmp_sorted(const void *a, const void *b)
{
	return strcmp(((const struct sorted_stream *)a)->key, ((const struct sorted_stream *)b)->key);
}

static int op_describe_log_streams(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	const char *prefix = NULL, *order = NULL;
	bool desc = false;
	long long limit = DESCRIBE_MAX;
	char *after = NULL;
	if (get_group(call, in, true, &g, err) < 0 ||
	    jv_str(in, "logStreamNamePrefix", false, &prefix, err) < 0 ||
	    jv_str(in, "orderBy", false, &order, err) < 0 ||
	    jv_bool(in, "descending", false, &desc, NULL, err) < 0 ||
	    read_limit(in, DESCRIBE_MAX, DESCRIBE_MAX, &limit, err) < 0)
		return -1;
	bool by_time = false;
	if (order && strcmp(order, "LastEventTime") == 0)
		by_time = true;
	else if (order && strcmp(order, "LogStreamName") != 0)
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: "
			"Member must satisfy enum value set: [LogStreamName, LastEventTime]",
			order);
	if (by_time && prefix)
		return err_set(err, ERR_INVALID_PARAM,
			       "Cannot order by LastEventTime with a logStreamNamePrefix.");
	if (page_after(in, &after, err) < 0)
		return -1;
	size_t n = hmap_size(g->streams), m = 0, it = 0;
	struct sorted_stream *all = xmalloc((n ? n : 1) * sizeof(*all));
	const char *k;
	void *v;
	while (hmap_next(g->streams, &it, &k, &v)) {
		struct lstream *s = v;
		if (prefix && strncmp(s->name, prefix, strlen(prefix)) != 0)
			continue;
		int64_t last = 0;
		if (by_time && s->st) {
			struct logstore_info info;
			logstore_info(s->st, &info);
			last = info.events ? info.last_ts : 0;
		}
		all[m].key = by_time ? xasprintf("%020" PRId64 " %s", last, s->name) : xstrdup(s->name);
		all[m++].s = s;
	}
	qsort(all, m, sizeof(*all), cmp_sorted);
	json_t *arr = json_array();
	*out = json_pack("{s:o}", "logStreams", arr);
	size_t count = 0;
	const char *last_key = NULL;
	bool more = false;
	for (size_t i = 0; i < m; i++) {
		size_t x = desc ? m - 1 - i : i;
		if (after && (desc ? strcmp(all[x].key, after) >= 0 : strcmp(all[x].key, after) <= 0))
			continue;
		if (count == (size_t)limit) {
			more = true;
			break;
		}
		json_array_append_new(arr, stream_json(all[x].s));
		last_key = all[x].key;
		count++;
	}
	if (more && last_key)
		page_set_token(*out, last_key);
	for (size_t i = 0; i < m; i++)
		free(all[i].key);
	free(all);
	free(after);
	return 0;
}

/* --- PutLogEvents --- */

struct put_wait {
	struct api_call *call;
	json_t *out;
};

static void put_durable(void *arg)
{
	struct put_wait *w = arg;
	api_call_finish(w->call, w->out, NULL);
	free(w);
}

static int op_put_log_events(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct logs *l = logs_of(call);
	struct lgroup *g;
	struct lstream *s;
	json_t *evs;
	const char *seqtok = NULL;
	struct logstore_in *batch = NULL;
	int rc = -1;
	if (get_group(call, in, false, &g, err) < 0 || get_stream(g, in, &s, err) < 0 ||
	    jv_array(in, "logEvents", true, &evs, err) < 0 ||
	    jv_str(in, "sequenceToken", false, &seqtok, err) < 0)
		return -1;
	size_t n = json_array_size(evs);
	if (n < 1 || n > LOGS_PUT_EVENTS_MAX)
		return err_set(
			err, ERR_INVALID_PARAM,
			"1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
			"Member must have length between 1 and %d",
			LOGS_PUT_EVENTS_MAX);
	batch = xcalloc(n, sizeof(*batch));
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(evs, i), *ts = json_object_get(e, "timestamp"),
		       *msg = json_object_get(e, "message");
		if (!json_is_object(e) || !json_is_integer(ts) || !json_is_string(msg)) {
			err_set(err, ERR_INVALID_PARAM,
				"logEvents[%zu] must have a timestamp (a number) and a message (a string)",
				i);
			goto out;
		}
		batch[i].timestamp = json_integer_value(ts);
		batch[i].msg = json_string_value(msg);
		batch[i].len = json_string_length(msg);
		if (batch[i].len < 1) {
			err_set(err, ERR_INVALID_PARAM,
				"1 validation error detected: Value at 'logEvents.%zu.member.message' failed "
				"to "
				"satisfy constraint: Member must have length greater than or equal to 1",
				i + 1);
			goto out;
		}
		if (batch[i].len + LOGS_PUT_EVENT_OVERHEAD > LOGS_PUT_EVENT_BYTES) {
			err_set(err, ERR_INVALID_PARAM, "Log event too large: %zu bytes exceeds limit of %d",
				batch[i].len + LOGS_PUT_EVENT_OVERHEAD, LOGS_PUT_EVENT_BYTES);
			goto out;
		}
		bytes += batch[i].len + LOGS_PUT_EVENT_OVERHEAD;
		if (i > 0 && batch[i].timestamp < batch[i - 1].timestamp) {
			err_set(err, ERR_INVALID_PARAM,
				"Log events in a single PutLogEvents request must be in chronological "
				"order.");
			goto out;
		}
	}
	if (bytes > LOGS_PUT_BATCH_BYTES) {
		err_set(err, ERR_INVALID_PARAM, "Upload too large: %zu bytes exceeds limit of %d", bytes,
			LOGS_PUT_BATCH_BYTES);
		goto out;
	}
	int64_t now = now_ms();
	/* The batch is sorted: rejected events are a prefix (too old, expired) and a suffix (too new). */
	long long too_old = -1, expired = -1, too_new = -1;
	int64_t cutoff = retention_cutoff(g, now);
	for (size_t i = 0; i < n; i++) {
		if (batch[i].timestamp < now - PUT_PAST_MS)
			too_old = (long long)i;
		if (batch[i].timestamp < cutoff)
			expired = (long long)i;
		if (batch[i].timestamp > now + PUT_FUTURE_MS && too_new < 0)
			too_new = (long long)i;
	}
	size_t first = (size_t)((too_old > expired ? too_old : expired) + 1);
	size_t end = too_new >= 0 ? (size_t)too_new : n;
	if (first < end && batch[end - 1].timestamp - batch[first].timestamp > PUT_SPAN_MS) {
		err_set(err, ERR_INVALID_PARAM,
			"The batch of log events in a single PutLogEvents request cannot span more than 24 "
			"hours.");
		goto out;
	}
	json_t *o = json_object();
	if (too_old >= 0 || expired >= 0 || too_new >= 0) {
		json_t *rej = json_object();
		if (too_new >= 0)
			json_object_set_new(rej, "tooNewLogEventStartIndex", json_integer(too_new));
		if (too_old >= 0)
			json_object_set_new(rej, "tooOldLogEventEndIndex", json_integer(too_old));
		if (expired >= 0)
			json_object_set_new(rej, "expiredLogEventEndIndex", json_integer(expired));
		json_object_set_new(o, "rejectedLogEventsInfo", rej);
	}
	if (first >= end) {
		struct logstore_info cur = {0};
		if (s->st)
			logstore_info(s->st, &cur);
		char *tok = seq_token(cur.next_seq);
		json_object_set_new(o, "nextSequenceToken", json_string(tok));
		free(tok);
		*out = o;
		rc = 0;
		goto out;
	}
	if (!s->st)
		s->st = logstore_stream(l->ls, g->key, s->name, true);
	if (logstore_append(l->ls, s->st, batch + first, end - first, now, err) < 0) {
		json_decref(o);
		goto out;
	}
	struct logstore_info info;
	logstore_info(s->st, &info);
	char *tok = seq_token(info.next_seq + (end - first));
	json_object_set_new(o, "nextSequenceToken", json_string(tok));
	free(tok);
	/* Answer only once the events are on disk (group commit on the thread pool). */
	struct put_wait *w = xmalloc(sizeof(*w));
	w->call = call;
	w->out = o;
	logstore_when_durable(l->ls, put_durable, w);
	rc = API_LATER;
out:
	free(batch);
	return rc;
}

/* --- reading --- */

static json_t *event_json(const struct logstore_event *ev)
{
	json_t *msg = json_stringn(ev->msg, ev->len);
	if (!msg)
		msg = jv_str_lossy(""); /* cannot happen: messages were valid JSON strings when put */
	return json_pack("{s:I, s:o, s:I}", "timestamp", (json_int_t)ev->timestamp, "message", msg,
			 "ingestionTime", (json_int_t)ev->ingestion);
}

struct collect {
	json_t *arr;
	size_t n, limit, bytes;
	uint64_t first, last;
};

/* Adds ev unless the page is full; returns 1 when it is. */
static int collect_event(void *arg, const struct logstore_event *ev)
{
	struct collect *c = arg;
	if (c->n == c->limit || (c->n > 0 && c->bytes + ev->len + LOGS_PUT_EVENT_OVERHEAD > READ_BYTES_MAX))
		return 1;
	json_array_append_new(c->arr, event_json(ev));
	if (c->n == 0)
		c->first = ev->seq;
	c->last = ev->seq;
	c->n++;
	c->bytes += ev->len + LOGS_PUT_EVENT_OVERHEAD;
	return 0;
}

static int read_range(json_t *in, int64_t *start, int64_t *end, struct err **err)
{
	long long s = 0, e = 0;
	bool has_s = false, has_e = false;
	if (jv_int(in, "startTime", false, &s, &has_s, err) < 0 ||
	    jv_int(in, "endTime", false, &e, &has_e, err) < 0)
		return -1;
	*start = has_s ? s : INT64_MIN;
	*end = has_e ? e : INT64_MAX;
	if (has_s && has_e && s > e)
		return err_set(err, ERR_INVALID_PARAM, "startTime must be less than or equal to endTime");
	return 0;
}

static void set_seq_token(json_t *out, const char *key, char dir, uint64_t seq)
{
	char *t = xasprintf("%c/%056" PRIu64 "/s", dir, seq);
	json_object_set_new(out, key, json_string(t));
	free(t);
}

static int op_get_log_events(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	struct lstream *s;
	int64_t start, end;
	bool head = false;
	long long limit = READ_EVENTS_MAX;
	const char *tok = NULL;
	if (get_group(call, in, true, &g, err) < 0 || get_stream(g, in, &s, err) < 0 ||
	    read_range(in, &start, &end, err) < 0 ||
	    jv_bool(in, "startFromHead", false, &head, NULL, err) < 0 ||
	    read_limit(in, READ_EVENTS_MAX, READ_EVENTS_MAX, &limit, err) < 0 ||
	    jv_str(in, "nextToken", false, &tok, err) < 0)
		return -1;
	bool forward = head;
	uint64_t from = 0, before = UINT64_MAX;
	if (tok) {
		char *e = NULL;
		unsigned long long v = 0;
		if ((tok[0] == 'f' || tok[0] == 'b') && tok[1] == '/')
			v = strtoull(tok + 2, &e, 10);
		if (!e || e == tok + 2 || (*e && strcmp(e, "/s") != 0))
			return err_set(err, ERR_INVALID_PARAM, "The specified nextToken is invalid.");
		forward = tok[0] == 'f';
		if (forward)
			from = v;
		else
			before = v;
	}
	int64_t cutoff = retention_cutoff(g, now_ms());
	if (cutoff > start)
		start = cutoff;
	struct collect c = {.arr = json_array(), .limit = (size_t)limit};
	struct logstore_info info = {0};
	if (s->st)
		logstore_info(s->st, &info);
	uint64_t upto = before < info.next_seq ? before : info.next_seq;
	if (forward && s->st) {
		struct logstore_iter *it = logstore_iter_new(s->st, from, start, end);
		struct logstore_event ev;
		int r;
		while ((r = logstore_iter_next(it, &ev, NULL, err)) == 1)
			if (collect_event(&c, &ev))
				break;
		logstore_iter_free(it);
		if (r < 0) {
			json_decref(c.arr);
			return -1;
		}
	} else if (s->st) {
		if (logstore_scan_back(s->st, upto, start, end, collect_event, &c, err) < 0) {
			json_decref(c.arr);
			return -1;
		}
		/* Collected newest first; answers go oldest first. */
		json_t *rev = json_array();
		for (size_t i = json_array_size(c.arr); i-- > 0;)
			json_array_append(rev, json_array_get(c.arr, i));
		json_decref(c.arr);
		c.arr = rev;
		uint64_t t = c.first;
		c.first = c.last;
		c.last = t;
	}
	*out = json_pack("{s:o}", "events", c.arr);
	if (forward) {
		set_seq_token(*out, "nextForwardToken", 'f', c.n ? c.last + 1 : from);
		set_seq_token(*out, "nextBackwardToken", 'b', c.n ? c.first : from);
	} else {
		set_seq_token(*out, "nextForwardToken", 'f', c.n ? c.last + 1 : upto);
		set_seq_token(*out, "nextBackwardToken", 'b', c.n ? c.first : upto);
	}
	return 0;
}

/* FilterLogEvents merges the selected streams by (timestamp, stream name, sequence number); a
 * nextToken is the key of the last event examined. */
struct cursor {
	struct lstream *s;
	size_t idx; /* position in name order */
	struct logstore_iter *it;
	struct logstore_event ev;
};

static bool cur_less(const struct cursor *a, const struct cursor *b)
{
	if (a->ev.timestamp != b->ev.timestamp)
		return a->ev.timestamp < b->ev.timestamp;
	if (a->idx != b->idx)
		return a->idx < b->idx;
	return a->ev.seq < b->ev.seq;
}

static void heap_down(struct cursor **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && cur_less(h[l], h[m]))
			m = l;
		if (r < n && cur_less(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		struct cursor *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int cmp_lstream(const void *a, const void *b)
{
	return strcmp((*(struct lstream *const *)a)->name, (*(struct lstream *const *)b)->name);
}

/* Whether event (ts, name, seq) comes after the token key. */
static bool after_token(int64_t ts, const char *name, uint64_t seq, int64_t tts, const char *tname,
			uint64_t tseq)
{
	if (ts != tts)
		return ts > tts;
	int c = strcmp(name, tname);
	if (c != 0)
		return c > 0;
	return seq > tseq;
}

static int op_filter_log_events(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct lgroup *g;
	json_t *names = NULL;
	const char *prefix = NULL, *pattern = NULL;
	int64_t start, end;
	long long limit = READ_EVENTS_MAX;
	char *after = NULL;
	struct filter *f = NULL;
	struct lstream **sel = NULL;
	struct cursor *cur = NULL;
	struct cursor **heap = NULL;
	size_t nsel = 0, ncur = 0;
	int rc = -1;
	if (get_group(call, in, true, &g, err) < 0 ||
	    jv_str_array(in, "logStreamNames", false, &names, err) < 0 ||
	    jv_str(in, "logStreamNamePrefix", false, &prefix, err) < 0 ||
	    read_range(in, &start, &end, err) < 0 || jv_str(in, "filterPattern", false, &pattern, err) < 0 ||
	    read_limit(in, READ_EVENTS_MAX, READ_EVENTS_MAX, &limit, err) < 0)
		return -1;
	if (names && prefix)
		return err_set(err, ERR_INVALID_PARAM,
			       "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
	if (names && (json_array_size(names) < 1 || json_array_size(names) > FILTER_STREAMS_MAX))
		return err_set(err, ERR_INVALID_PARAM, "logStreamNames must have between 1 and %d members",
			       FILTER_STREAMS_MAX);
	if (page_after(in, &after, err) < 0)
		return -1;
	int64_t tts = INT64_MIN;
	uint64_t tseq = 0;
	const char *tname = "";
	if (after) {
		char *e1, *e2;
		long long t = strtoll(after, &e1, 10);
		unsigned long long q = *e1 == ' ' ? strtoull(e1 + 1, &e2, 10) : 0;
		if (*e1 != ' ' || *e2 != ' ') {
			err_set(err, ERR_INVALID_PARAM, "The specified nextToken is invalid.");
			goto out;
		}
		tts = t;
		tseq = q;
		tname = e2 + 1;
	}
	f = filter_parse(pattern ? pattern : "", err);
	if (!f)
		goto out;
	int64_t cutoff = retention_cutoff(g, now_ms());
	if (cutoff > start)
		start = cutoff;
	size_t n = hmap_size(g->streams), it = 0;
	sel = xmalloc((n ? n : 1) * sizeof(*sel));
	const char *k;
	void *v;
	while (hmap_next(g->streams, &it, &k, &v)) {
		struct lstream *s = v;
		if (prefix && strncmp(s->name, prefix, strlen(prefix)) != 0)
			continue;
		if (names) {
			bool want = false;
			size_t i;
			json_t *x;
			json_array_foreach (names, i, x)
				want = want || strcmp(json_string_value(x), s->name) == 0;
			if (!want)
				continue;
		}
		sel[nsel++] = s;
	}
	qsort(sel, nsel, sizeof(*sel), cmp_lstream);
	cur = xcalloc(nsel ? nsel : 1, sizeof(*cur));
	heap = xcalloc(nsel ? nsel : 1, sizeof(*heap));
	json_t *searched = json_array();
	int64_t from_ts = after && tts > start ? tts : start;
	for (size_t i = 0; i < nsel; i++) {
		json_array_append_new(searched, json_pack("{s:s, s:b}", "logStreamName", sel[i]->name,
							  "searchedCompletely", 1));
		if (!sel[i]->st)
			continue;
		struct cursor *c = &cur[ncur];
		c->s = sel[i];
		c->idx = i;
		c->it = logstore_iter_new(sel[i]->st, 0, from_ts, end);
		int r = logstore_iter_next(c->it, &c->ev, NULL, err);
		if (r < 0) {
			logstore_iter_free(c->it);
			json_decref(searched);
			goto out;
		}
		if (r == 0) {
			logstore_iter_free(c->it);
			continue;
		}
		heap[ncur] = c;
		ncur++;
	}
	size_t nh = ncur;
	for (size_t i = nh / 2; i-- > 0;)
		heap_down(heap, nh, i);
	json_t *events = json_array();
	*out = json_pack("{s:o, s:o}", "events", events, "searchedLogStreams", searched);
	size_t count = 0, bytes = 0, examined = 0, work = 0, cost = filter_cost(f);
	uint64_t deadline = clock_mono_ms() + FILTER_TIME_MAX_MS;
	/* the last event examined, from which the nextToken goes on */
	bool have_last = false;
	int64_t last_ts = 0;
	uint64_t last_seq = 0;
	const char *last_stream = NULL;
	while (nh > 0) {
		struct cursor *c = heap[0];
		const struct logstore_event *ev = &c->ev;
		if (!after || after_token(ev->timestamp, c->s->name, ev->seq, tts, tname, tseq)) {
			if (count == (size_t)limit ||
			    (count > 0 && bytes + ev->len + LOGS_PUT_EVENT_OVERHEAD > READ_BYTES_MAX) ||
			    examined == FILTER_SCAN_MAX)
				break;
			if (examined > 0 &&
			    (examined % FILTER_CLOCK_EVERY == 0 || work >= FILTER_CLOCK_WORK)) {
				work = 0;
				if (clock_mono_ms() >= deadline)
					break;
			}
			examined++;
			work += (ev->len + 1) * cost;
			have_last = true;
			last_ts = ev->timestamp;
			last_seq = ev->seq;
			last_stream = c->s->name;
			if (filter_match(f, ev->msg, ev->len)) {
				json_t *e = event_json(ev);
				char *id = xasprintf("%020" PRId64 "%020" PRIu64 "%04zu", ev->timestamp,
						     ev->seq, c->idx % 10000);
				json_object_set_new(e, "logStreamName", json_string(c->s->name));
				json_object_set_new(e, "eventId", json_string(id));
				free(id);
				json_array_append_new(events, e);
				count++;
				bytes += ev->len + LOGS_PUT_EVENT_OVERHEAD;
			}
		}
		int r = logstore_iter_next(c->it, &c->ev, NULL, err);
		if (r < 0) {
			json_decref(*out);
			*out = NULL;
			goto out;
		}
		if (r == 0) {
			heap[0] = heap[--nh];
			heap[nh] = c; /* keep it reachable for freeing */
		}
		heap_down(heap, nh, 0);
	}
	if (nh > 0 && have_last) {
		char *next = xasprintf("%" PRId64 " %" PRIu64 " %s", last_ts, last_seq, last_stream);
		page_set_token(*out, next);
		free(next);
	}
	rc = 0;
out:
	for (size_t i = 0; i < ncur; i++)
		logstore_iter_free(cur[i].it);
	free(heap);
	free(cur);
	free(sel);
	filter_free(f);
	free(after);
	return rc;
}

/* --- wiring --- */

static const struct api_op logs_ops[] = {
	{"CreateLogGroup", op_create_log_group},
	{"DeleteLogGroup", op_delete_log_group},
	{"DescribeLogGroups", op_describe_log_groups},
	{"PutRetentionPolicy", op_put_retention_policy},
	{"DeleteRetentionPolicy", op_delete_retention_policy},
	{"CreateLogStream", op_create_log_stream},
	{"DeleteLogStream", op_delete_log_stream},
	{"DescribeLogStreams", op_describe_log_streams},
	{"PutLogEvents", op_put_log_events},
	{"GetLogEvents", op_get_log_events},
	{"FilterLogEvents", op_filter_log_events},
	{"TagResource", op_tag_resource},
	{"UntagResource", op_untag_resource},
	{"ListTagsForResource", op_list_tags_for_resource},
	{"TagLogGroup", op_tag_log_group},
	{"UntagLogGroup", op_untag_log_group},
	{"ListTagsLogGroup", op_list_tags_log_group},
};

static void expire_all(struct logs *l)
{
	int64_t now = now_ms();
	size_t it = 0, dropped = 0;
	const char *k;
	void *v;
	while (hmap_next(l->groups, &it, &k, &v)) {
		struct lgroup *g = v;
		if (!g->retention)
			continue;
		size_t jt = 0;
		while (hmap_next(g->streams, &jt, &k, &v)) {
			struct lstream *s = v;
			if (s->st)
				dropped += logstore_expire(l->ls, s->st, retention_cutoff(g, now));
		}
	}
	if (dropped)
		log_info("logs: retention removed %zu segments", dropped);
}

static void on_timer(uv_timer_t *t)
{
	expire_all(t->data);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h);
}

static void stop_timer(struct logs *l)
{
	if (!l->timer)
		return;
	uv_timer_stop(l->timer);
	uv_close((uv_handle_t *)l->timer, on_timer_closed);
	l->timer = NULL;
}

struct logs *logs_new(uv_loop_t *loop, struct store *store, const char *data_dir, struct err **err)
{
	struct logs *l = xcalloc(1, sizeof(*l));
	char *dir = xasprintf("%s/logs", data_dir);
	l->loop = loop;
	l->store = store;
	l->groups = hmap_new();
	l->interval_ms = LOGS_RETENTION_INTERVAL_S * 1000ULL;
	const char *env = getenv("GANTRY_LOGS_RETENTION_INTERVAL");
	if (env && *env) {
		char *e;
		unsigned long long v = strtoull(env, &e, 10);
		if (*e == 0 && v > 0)
			l->interval_ms = v * 1000ULL;
	}
	l->ls = logstore_open(loop, dir, err);
	free(dir);
	if (!l->ls)
		goto fail;
	if (store_load(store, KIND_GROUP, load_group_cb, l, err) < 0 ||
	    store_load(store, KIND_STREAM, load_stream_cb, l, err) < 0) {
		err_prefix(err, "load log groups");
		goto fail;
	}
	logstore_foreach(l->ls, reconcile_cb, l);
	return l;
fail:
	logs_free(l);
	return NULL;
}

void logs_add_to_api(struct logs *l, struct api *api)
{
	api_add_service(api, LOGS_TARGET_PREFIX, LOGS_SIGNING_NAME, logs_ops,
			sizeof(logs_ops) / sizeof(logs_ops[0]), l);
	/* A legal batch's JSON can exceed the front's 1 MiB; op_put_log_events applies CloudWatch's
	 * own rule to what the body carries. */
	api_set_body_max(api, LOGS_TARGET_PREFIX ".PutLogEvents", LOGS_PUT_BODY_MAX);
	if (l->loop && !l->timer) {
		l->timer = xcalloc(1, sizeof(*l->timer));
		uv_timer_init(l->loop, l->timer);
		l->timer->data = l;
		uv_timer_start(l->timer, on_timer, l->interval_ms, l->interval_ms);
	}
}

void logs_stop(struct logs *l, void (*done)(void *arg), void *arg)
{
	stop_timer(l);
	logstore_when_durable(l->ls, done, arg);
}

void logs_free(struct logs *l)
{
	if (!l)
		return;
	stop_timer(l);
	logstore_close(l->ls);
	size_t it = 0;
	const char *k;
	void *v;
	while (hmap_next(l->groups, &it, &k, &v))
		group_free(v);
	hmap_free(l->groups);
	free(l);
}
