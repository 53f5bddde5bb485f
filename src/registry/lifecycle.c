/* ECR lifecycle policies: the policy text checked as ECR checks it, its rules evaluated over a
 * repository's images as ECR documents the evaluation, and the expired images deleted, right after
 * PutLifecyclePolicy, after each push and on a periodic timer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/jv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/reg-int.h"

/* Errors read like ECR's: the constraint on LifecyclePolicyText, then what is wrong where. */
static int lc_fail(struct err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lc_fail(struct err **err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(err, ERR_INVALID_PARAM,
		       "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle "
		       "policy validation failure: %s'",
		       msg);
}

/* Refuses members of obj that are not in allowed (NULL-terminated): a misspelt member would
 * otherwise be silently ignored and the rule would do something else than its author meant. */
static int only_members(json_t *obj, const char *const *allowed, const char *where, struct err **err)
{
	const char *k;
	json_t *v;
	json_object_foreach (obj, k, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(allowed[i], k) == 0;
		if (!ok)
			return lc_fail(err, "%s: unknown member \"%.64s\"", where, k);
	}
	return 0;
}

/* Reads member key of sel as a list of 1..REG_LIFECYCLE_LIST_MAX non-empty strings. */
static int string_list(json_t *sel, const char *key, const char *where, const char ***out, size_t *n,
		       struct err **err)
{
	json_t *a = json_object_get(sel, key);
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > REG_LIFECYCLE_LIST_MAX)
		return lc_fail(err, "%s.%s must be a list of 1 to %d strings", where, key,
			       REG_LIFECYCLE_LIST_MAX);
	*n = json_array_size(a);
	*out = xcalloc(*n, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		json_t *s = json_array_get(a, i);
		if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 300)
			return lc_fail(err, "%s.%s[%zu] must be a string of 1 to 300 characters", where, key,
				       i);
		(*out)[i] = json_string_value(s);
	}
	return 0;
}

/* Is every string of a[] in b[]? */
static bool subset(const char **a, size_t na, const char **b, size_t nb)
{
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		for (size_t j = 0; j < nb && !found; j++)
			found = strcmp(a[i], b[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

static bool same_set(const char **a, size_t na, const char **b, size_t nb)
{
	return subset(a, na, b, nb) && subset(b, nb, a, na);
}

static int parse_selection(json_t *sel, const char *where, struct reg_lc_rule *rule, struct err **err)
{
	static const char *const members[] = {"tagStatus", "tagPrefixList", "tagPatternList", "countType",
					      "countUnit", "countNumber",   "storageClass",   NULL};
	if (only_members(sel, members, where, err) < 0)
		return -1;
	const char *st = json_string_value(json_object_get(sel, "tagStatus"));
	if (!st)
		return lc_fail(err, "%s.tagStatus is required: tagged, untagged or any", where);
	if (strcmp(st, "tagged") == 0)
		rule->status = REG_LC_TAGGED;
	else if (strcmp(st, "untagged") == 0)
		rule->status = REG_LC_UNTAGGED;
	else if (strcmp(st, "any") == 0)
		rule->status = REG_LC_ANY;
	else
		return lc_fail(err, "%s.tagStatus must be tagged, untagged or any, not \"%.64s\"", where, st);
	if (string_list(sel, "tagPrefixList", where, &rule->prefixes, &rule->nprefixes, err) < 0 ||
	    string_list(sel, "tagPatternList", where, &rule->patterns, &rule->npatterns, err) < 0)
		return -1;
	if (rule->status == REG_LC_TAGGED) {
		if (!rule->prefixes && !rule->patterns)
			return lc_fail(err,
				       "%s: tagStatus tagged requires a tagPrefixList or a tagPatternList",
				       where);
		if (rule->prefixes && rule->patterns)
			return lc_fail(err, "%s: give a tagPrefixList or a tagPatternList, not both", where);
	} else if (rule->prefixes || rule->patterns) {
		return lc_fail(err,
			       "%s: tagPrefixList and tagPatternList are only allowed with tagStatus tagged",
			       where);
	}
	for (size_t i = 0; i < rule->npatterns; i++) {
		int stars = 0;
		for (const char *c = rule->patterns[i]; *c; c++)
			stars += *c == '*';
		if (stars > REG_LIFECYCLE_WILDCARDS)
			return lc_fail(err,
				       "%s.tagPatternList[%zu] has %d wildcards (*); at most %d are allowed",
				       where, i, stars, REG_LIFECYCLE_WILDCARDS);
	}
	const char *sc = json_string_value(json_object_get(sel, "storageClass"));
	if (json_object_get(sel, "storageClass") && (!sc || strcmp(sc, "standard") != 0))
		return lc_fail(err,
			       "%s.storageClass: only \"standard\" is supported (gantry has no archive "
			       "storage class)",
			       where);
	const char *ct = json_string_value(json_object_get(sel, "countType"));
	if (!ct)
		return lc_fail(err, "%s.countType is required: imageCountMoreThan or sinceImagePushed",
			       where);
	if (strcmp(ct, "sinceImagePushed") == 0)
		rule->by_days = true;
	else if (strcmp(ct, "sinceImagePulled") == 0 || strcmp(ct, "sinceImageTransitioned") == 0)
		return lc_fail(err,
			       "%s.countType %s is not supported by gantry (only imageCountMoreThan and "
			       "sinceImagePushed)",
			       where, ct);
	else if (strcmp(ct, "imageCountMoreThan") != 0)
		return lc_fail(err,
			       "%s.countType must be imageCountMoreThan or sinceImagePushed, not \"%.64s\"",
			       where, ct);
	json_t *unit = json_object_get(sel, "countUnit");
	if (rule->by_days) {
		if (!json_is_string(unit) || strcmp(json_string_value(unit), "days") != 0)
			return lc_fail(err, "%s.countUnit must be \"days\" with countType sinceImagePushed",
				       where);
	} else if (unit) {
		return lc_fail(err, "%s.countUnit is not allowed with countType imageCountMoreThan", where);
	}
	json_t *num = json_object_get(sel, "countNumber");
	if (!json_is_integer(num) || json_integer_value(num) < 1)
		return lc_fail(err, "%s.countNumber is required and must be an integer greater than 0",
			       where);
	rule->count = json_integer_value(num);
	return 0;
}

static int parse_rule(json_t *r, size_t i, struct reg_lc_rule *rule, struct err **err)
{
	static const char *const members[] = {"rulePriority", "description", "selection", "action", NULL};
	char where[32];
	snprintf(where, sizeof(where), "rules[%zu]", i);
	if (!json_is_object(r))
		return lc_fail(err, "%s must be an object", where);
	if (only_members(r, members, where, err) < 0)
		return -1;
	json_t *prio = json_object_get(r, "rulePriority");
	if (!json_is_integer(prio) || json_integer_value(prio) < 1)
		return lc_fail(err, "%s.rulePriority is required and must be an integer greater than 0",
			       where);
	rule->priority = json_integer_value(prio);
	json_t *desc = json_object_get(r, "description");
	if (desc && !json_is_string(desc))
		return lc_fail(err, "%s.description must be a string", where);
	json_t *sel = json_object_get(r, "selection");
	if (!json_is_object(sel))
		return lc_fail(err, "%s.selection is required", where);
	char swhere[48];
	snprintf(swhere, sizeof(swhere), "%s.selection", where);
	if (parse_selection(sel, swhere, rule, err) < 0)
		return -1;
	static const char *const amembers[] = {"type", "targetStorageClass", NULL};
	json_t *action = json_object_get(r, "action");
	char awhere[48];
	snprintf(awhere, sizeof(awhere), "%s.action", where);
	if (!json_is_object(action))
		return lc_fail(err, "%s.action is required: {\"type\": \"expire\"}", where);
	if (only_members(action, amembers, awhere, err) < 0)
		return -1;
	const char *type = json_string_value(json_object_get(action, "type"));
	if (!type)
		return lc_fail(err, "%s.type is required: expire", awhere);
	if (strcmp(type, "transition") == 0 || json_object_get(action, "targetStorageClass"))
		return lc_fail(err, "%s: transition is not supported by gantry (only expire)", awhere);
	if (strcmp(type, "expire") != 0)
		return lc_fail(err, "%s.type must be expire, not \"%.64s\"", awhere, type);
	return 0;
}

static int cmp_rule(const void *a, const void *b)
{
	long long x = ((const struct reg_lc_rule *)a)->priority,
		  y = ((const struct reg_lc_rule *)b)->priority;
	return x < y ? -1 : x > y;
}

void reg__lifecycle_free(struct reg_lc_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nrules; i++) {
		free(p->rules[i].prefixes);
		free(p->rules[i].patterns);
	}
	free(p->rules);
	json_decref(p->doc);
	free(p);
}

struct reg_lc_policy *reg__lifecycle_parse(const char *text, size_t len, struct err **err)
{
	if (len < REG_LIFECYCLE_TEXT_MIN || len > REG_LIFECYCLE_TEXT_MAX) {
		err_set(err, ERR_INVALID_PARAM,
			"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member "
			"must "
			"have length between %d and %d' (it has %zu)",
			REG_LIFECYCLE_TEXT_MIN, REG_LIFECYCLE_TEXT_MAX, len);
		return NULL;
	}
	struct reg_lc_policy *p = xcalloc(1, sizeof(*p));
	json_error_t je;
	p->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!p->doc) {
		lc_fail(err, "the text is not JSON (%s at line %d)", je.text, je.line);
		goto fail;
	}
	static const char *const members[] = {"rules", NULL};
	if (!json_is_object(p->doc)) {
		lc_fail(err, "the policy must be a JSON object {\"rules\": [...]}");
		goto fail;
	}
	if (only_members(p->doc, members, "policy", err) < 0)
		goto fail;
	json_t *rules = json_object_get(p->doc, "rules");
	if (!json_is_array(rules) || json_array_size(rules) == 0 ||
	    json_array_size(rules) > REG_LIFECYCLE_RULES_MAX) {
		lc_fail(err, "rules must be a list of 1 to %d rules", REG_LIFECYCLE_RULES_MAX);
		goto fail;
	}
	p->nrules = json_array_size(rules);
	p->rules = xcalloc(p->nrules, sizeof(*p->rules));
	for (size_t i = 0; i < p->nrules; i++)
		if (parse_rule(json_array_get(rules, i), i, &p->rules[i], err) < 0)
			goto fail;
	/* Checks across rules, in the text's order so that messages name rules as written. */
	long long max_prio = 0;
	size_t untagged = 0;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct reg_lc_rule *a = &p->rules[i];
		if (a->priority > max_prio)
			max_prio = a->priority;
		untagged += a->status == REG_LC_UNTAGGED;
		for (size_t j = 0; j < i; j++) {
			const struct reg_lc_rule *b = &p->rules[j];
			if (a->priority == b->priority) {
				lc_fail(err,
					"rules[%zu] and rules[%zu] have the same rulePriority %lld; each "
					"rule needs "
					"its own",
					j, i, a->priority);
				goto fail;
			}
			if (a->prefixes && b->prefixes &&
			    same_set(a->prefixes, a->nprefixes, b->prefixes, b->nprefixes)) {
				lc_fail(err,
					"rules[%zu] and rules[%zu] have the same tagPrefixList; the rules "
					"must have "
					"unique sets of tag prefixes",
					j, i);
				goto fail;
			}
		}
	}
	if (untagged > 1) {
		lc_fail(err, "only one rule may select untagged images");
		goto fail;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].status == REG_LC_ANY && p->rules[i].priority != max_prio) {
			lc_fail(err,
				"rules[%zu] has tagStatus any: it must have the highest rulePriority (%lld "
				"is "
				"not the highest)",
				i, p->rules[i].priority);
			goto fail;
		}
	}
	qsort(p->rules, p->nrules, sizeof(*p->rules), cmp_rule);
	return p;
fail:
	reg__lifecycle_free(p);
	return NULL;
}

/* Glob match with '*' (any run of characters, also none); every other character stands for itself. */
static bool glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

bool reg__lifecycle_selects(const struct reg_lc_rule *rule, const char *const *tags, size_t ntags)
{
	if (rule->status == REG_LC_ANY)
		return true;
	if (rule->status == REG_LC_UNTAGGED)
		return ntags == 0;
	if (ntags == 0)
		return false;
	/* ECR: an image is selected when every entry of the list matches one of its tags. */
	for (size_t i = 0; i < rule->nprefixes; i++) {
		size_t pn = strlen(rule->prefixes[i]);
		bool found = false;
		for (size_t t = 0; t < ntags && !found; t++)
			found = strncmp(tags[t], rule->prefixes[i], pn) == 0;
		if (!found)
			return false;
	}
	for (size_t i = 0; i < rule->npatterns; i++) {
		bool found = false;
		for (size_t t = 0; t < ntags && !found; t++)
			found = glob_match(rule->patterns[i], tags[t]);
		if (!found)
			return false;
	}
	return true;
}

struct by_age {
	size_t i;
	double pushed_at;
	const char *digest;
};

/* Newest first; equal push times in digest order, so that the outcome does not depend on the
 * order the images are stored in. */
static int cmp_newest(const void *a, const void *b)
{
	const struct by_age *x = a, *y = b;
	if (x->pushed_at != y->pushed_at)
		return x->pushed_at > y->pushed_at ? -1 : 1;
	return strcmp(x->digest, y->digest);
}

void reg__lifecycle_eval(const struct reg_lc_policy *p, const struct reg_lc_image *imgs, size_t n, double now,
			 long long *expire_by)
{
	struct by_age *order = xcalloc(n ? n : 1, sizeof(*order));
	bool *seen = xcalloc(n ? n : 1, sizeof(*seen)); /* selected by an earlier rule */
	bool *hit = xcalloc(n ? n : 1, sizeof(*hit));
	for (size_t i = 0; i < n; i++) {
		order[i] = (struct by_age){i, imgs[i].pushed_at, imgs[i].digest};
		expire_by[i] = 0;
	}
	qsort(order, n, sizeof(*order), cmp_newest);
	for (size_t r = 0; r < p->nrules; r++) {
		const struct reg_lc_rule *rule = &p->rules[r];
		long long rank = 0; /* among the images this rule selects, newest first */
		memset(hit, 0, n * sizeof(*hit));
		for (size_t k = 0; k < n; k++) {
			const struct reg_lc_image *im = &imgs[order[k].i];
			if (!reg__lifecycle_selects(rule, im->tags, im->ntags))
				continue;
			hit[order[k].i] = true;
			/* ECR: a rule identifies images that earlier rules expired or kept as if they were
			 * still there (they count), but never marks them. */
			bool expire = rule->by_days ? now - im->pushed_at >
							      (double)rule->count * REG_LIFECYCLE_DAY_S
						    : rank >= rule->count;
			rank++;
			if (expire && !seen[order[k].i] && !im->in_index)
				expire_by[order[k].i] = rule->priority;
		}
		for (size_t i = 0; i < n; i++)
			seen[i] = seen[i] || hit[i];
	}
	free(order);
	free(seen);
	free(hit);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_index(json_t *rec)
{
	const char *mt = json_string_value(json_object_get(rec, "imageManifestMediaType"));
	return mt && (strcmp(mt, REG_MT_OCI_INDEX) == 0 || strcmp(mt, REG_MT_DOCKER_LIST) == 0);
}

json_t *reg__lifecycle_plan(struct reg_repo *r, const char *text, size_t len, double now, struct err **err)
{
	if (!text) {
		text = json_string_value(r->lifecycle);
		len = json_string_length(r->lifecycle);
	}
	if (!text) {
		err_set(err, ERR_LIFECYCLE_NOT_FOUND, "repository %s has no lifecycle policy", r->name);
		return NULL;
	}
	struct reg_lc_policy *p = reg__lifecycle_parse(text, len, err);
	if (!p)
		return NULL;
	size_t n = json_object_size(r->images);
	struct reg_lc_image *imgs = xcalloc(n ? n : 1, sizeof(*imgs));
	long long *by = xcalloc(n ? n : 1, sizeof(*by));
	json_t *tags_of = json_object();  /* digest -> [tag] */
	json_t *in_index = json_object(); /* digests an index of the repository refers to */
	const char *k;
	json_t *v;
	json_object_foreach (r->tagmap, k, v) {
		const char *d = json_string_value(v);
		json_t *list = json_object_get(tags_of, d);
		if (!list) {
			list = json_array();
			json_object_set_new(tags_of, d, list);
		}
		json_array_append_new(list, json_string(k));
	}
	json_object_foreach (r->images, k, v) {
		if (!is_index(v))
			continue;
		json_t *m = json_object_get(v, "imageManifest");
		struct reg_manifest *man = reg_manifest_parse(
			json_string_value(m), json_string_length(m),
			json_string_value(json_object_get(v, "imageManifestMediaType")), NULL);
		for (size_t i = 0; man && i < man->nitems; i++)
			json_object_set_new(in_index, man->items[i].digest, json_true());
		reg_manifest_free(man);
	}
	size_t i = 0;
	json_object_foreach (r->images, k, v) {
		json_t *list = json_object_get(tags_of, k);
		size_t nt = json_array_size(list);
		const char **tags = xcalloc(nt ? nt : 1, sizeof(*tags));
		for (size_t t = 0; t < nt; t++)
			tags[t] = json_string_value(json_array_get(list, t));
		qsort(tags, nt, sizeof(*tags), cmp_str);
		imgs[i] = (struct reg_lc_image){
			.digest = k,
			.pushed_at = json_number_value(json_object_get(v, "imagePushedAt")),
			.tags = tags,
			.ntags = nt,
			.in_index = json_object_get(in_index, k) != NULL,
		};
		i++;
	}
	reg__lifecycle_eval(p, imgs, n, now, by);
	json_t *out = json_array();
	for (i = 0; i < n; i++) {
		json_t *tags = json_array();
		for (size_t t = 0; t < imgs[i].ntags; t++)
			json_array_append_new(tags, json_string(imgs[i].tags[t]));
		json_array_append_new(out, json_pack("{s:s,s:o,s:o,s:I}", "imageDigest", imgs[i].digest,
						     "imageTags", tags, "imagePushedAt",
						     jv_time(imgs[i].pushed_at), "rule", (json_int_t)by[i]));
		free((void *)imgs[i].tags);
	}
	free(imgs);
	free(by);
	json_decref(tags_of);
	json_decref(in_index);
	reg__lifecycle_free(p);
	return out;
}

size_t reg__lifecycle_apply(struct reg *reg, struct reg_repo *r, double now)
{
	if (!r->lifecycle)
		return 0;
	struct err *e = NULL;
	json_t *plan = reg__lifecycle_plan(r, NULL, 0, now, &e);
	if (!plan) {
		log_warn("registry: %s/%s/%s: the lifecycle policy cannot be applied: %s", r->sc->account,
			 r->sc->region, r->name, e->msg);
		err_free(e);
		return 0;
	}
	r->lifecycle_at = now;
	size_t i, n = 0;
	json_t *v;
	json_array_foreach (plan, i, v) {
		json_int_t rule = json_integer_value(json_object_get(v, "rule"));
		if (!rule)
			continue;
		const char *d = json_string_value(json_object_get(v, "imageDigest"));
		log_info("registry: %s/%s/%s: lifecycle rule %lld expires image %s", r->sc->account,
			 r->sc->region, r->name, (long long)rule, d);
		reg__image_delete(reg, r, d);
		n++;
	}
	json_decref(plan);
	return n;
}

static void apply_now(void *arg, struct reg_repo *r)
{
	struct reg *reg = arg;
	reg__lifecycle_apply(reg, r, clock_now());
}

static void on_lifecycle_timer(uv_timer_t *t)
{
	struct reg *reg = t->data;
	if (!reg->stopping)
		reg__each_repo(reg, apply_now, reg);
}

void reg__lifecycle_start(struct reg *reg)
{
	if (reg->lifecycle_timer_on)
		return;
	unsigned long long ms = REG_LIFECYCLE_INTERVAL_MS;
	const char *env = getenv("GANTRY_LIFECYCLE_INTERVAL_MS");
	if (env && *env) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(env, &end, 10);
		if (errno || *end || v < REG_LIFECYCLE_INTERVAL_MIN_MS || v > REG_LIFECYCLE_INTERVAL_MAX_MS)
			log_warn("registry: GANTRY_LIFECYCLE_INTERVAL_MS=%s is not a number of milliseconds "
				 "in %d..%llu; using %llu",
				 env, REG_LIFECYCLE_INTERVAL_MIN_MS, REG_LIFECYCLE_INTERVAL_MAX_MS, ms);
		else
			ms = v;
	}
	uv_timer_init(reg->loop, &reg->lifecycle_timer);
	reg->lifecycle_timer.data = reg;
	uv_timer_start(&reg->lifecycle_timer, on_lifecycle_timer, ms, ms);
	/* Housekeeping: the server's loop ends when its real work does, whatever this timer says. */
	uv_unref((uv_handle_t *)&reg->lifecycle_timer);
	reg->lifecycle_timer_on = true;
}

void reg__lifecycle_stop(struct reg *reg)
{
	if (!reg || !reg->lifecycle_timer_on)
		return;
	uv_timer_stop(&reg->lifecycle_timer);
	uv_close((uv_handle_t *)&reg->lifecycle_timer, NULL);
	reg->lifecycle_timer_on = false;
}
