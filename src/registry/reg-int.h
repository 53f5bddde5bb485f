/* Internals shared by registry.c (state, persistence, auth tokens), dist.c (the /v2/ HTTP API) and
 * ecr.c (the ECR JSON API). */
#ifndef GANTRY_REG_INT_H
#define GANTRY_REG_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/hmap.h"
#include "registry/blobs.h"
#include "registry/registry.h"

#define REG_TOKEN_TTL_S (12 * 3600) /* ECR: an authorization token is valid for 12 hours */
/* How often lifecycle policies are applied to every repository that has one (ECR: within 24 hours;
 * gantry also applies them right after PutLifecyclePolicy and after each push). The environment
 * variable GANTRY_LIFECYCLE_INTERVAL_MS overrides it (tests), within the bounds below. */
#define REG_LIFECYCLE_INTERVAL_MS     60000
#define REG_LIFECYCLE_INTERVAL_MIN_MS 10
#define REG_LIFECYCLE_INTERVAL_MAX_MS (24ull * 3600 * 1000)

struct reg_commit;

struct reg {
	uv_loop_t *loop;
	struct store *store;
	struct creds *creds;
	struct blobs *blobs;
	struct hmap *scopes; /* "account/region" -> struct reg_scope */
	unsigned char token_key[32];
	bool stopping;
	bool key_unsaved; /* token_key is new: reg__save_key writes it */
	double started;	  /* when this process loaded the registry */
	uv_timer_t gc_timer;
	bool gc_timer_on, gc_running;
	double gc_grace_s;
	uv_timer_t lifecycle_timer; /* applies lifecycle policies periodically (lifecycle.c) */
	bool lifecycle_timer_on;    /* initialized and not closed yet */
	struct reg_commit *commits; /* CompleteLayerUpload calls waiting for their blob commit (ecr.c) */
};

struct reg_scope {
	char *account, *region;
	struct hmap *repos; /* name -> struct reg_repo */
};

struct reg_repo {
	struct reg_scope *sc;
	char *name;
	json_t *doc;	   /* the ECR Repository object */
	json_t *tags;	   /* resource tags [{Key, Value}] */
	json_t *tagmap;	   /* image tag -> manifest digest */
	json_t *blobs;	   /* digest -> size: the blobs this repository may serve */
	json_t *linked;	   /* digest -> when this process linked it (memory only; see gc.c) */
	json_t *images;	   /* manifest digest -> image record (see reg__image_new) */
	json_t *policy;	   /* repository policy text, or NULL */
	json_t *lifecycle; /* lifecycle policy text, or NULL */

	double lifecycle_at; /* when the lifecycle policy was last applied (not persisted), or 0 */
	json_t *preview;     /* the last lifecycle policy preview {text, plan} (not persisted), or NULL */
};

/* registry.c */
struct reg_scope *reg__scope(struct reg *reg, const char *account, const char *region);
struct reg_repo *reg__repo(struct reg *reg, const char *account, const char *region, const char *name);
/* Creates a repository (doc filled by the caller's options). Returns it (new, persisted). */
struct reg_repo *reg__repo_create(struct reg *reg, struct reg_scope *sc, const char *name, json_t *doc,
				  json_t *tags);
/* Calls fn for every repository of every account and region; fn must not add or remove any. */
void reg__each_repo(struct reg *reg, void (*fn)(void *arg, struct reg_repo *r), void *arg);
/* Removes a repository and its images (persisted). */
void reg__repo_delete(struct reg *reg, struct reg_repo *r);
/* Queues the repository's record in the store. Returns the write's sequence number. */
uint64_t reg__repo_save(struct reg *reg, struct reg_repo *r);
/* Queues an image record (NULL rec deletes). Returns the sequence number. */
uint64_t reg__image_save(struct reg *reg, struct reg_repo *r, const char *digest, json_t *rec);
/* A new image record for a manifest pushed as media_type. */
json_t *reg__image_new(const char *digest, const char *manifest, size_t len, const char *media_type,
		       long long size, const char *artifact_type, const char *subject);
/* The tags pointing at digest in r, as a new sorted array. */
json_t *reg__image_tags(struct reg_repo *r, const char *digest);
/* Deletes an image (and its tags) from r. */
void reg__image_delete(struct reg *reg, struct reg_repo *r, const char *digest);
/* Puts manifest bytes into r under their digest and, when tag is non-NULL, tag -> digest. Checks
 * the manifest (schema: ERR_INVALID_PARAM / ERR_UNSUPPORTED; blobs and manifests it refers to present
 * in r: ERR_LAYERS_NOT_FOUND; an IMMUTABLE tag already on another digest: ERR_TAG_EXISTS). Returns
 * the sequence number of its writes and the digest in digest_out, or 0 with *err. */
uint64_t reg__manifest_put(struct reg *reg, struct reg_repo *r, const char *tag, const char *bytes,
			   size_t len, const char *content_type, char digest_out[72], struct err **err);
/* Makes a registry password ("gantry1.<payload>.<mac>") for an access key and region, valid until
 * expires (epoch seconds). */
char *reg__token_make(struct reg *reg, const char *access_key, const char *region, double expires);
/* Checks a password; fills account/region (borrowed from the credential store / static) and
 * returns 0, or -1 when it is not valid now. */
int reg__token_check(struct reg *reg, const char *password, const char **account, char region[32]);

/* A download-URL credential ("gantryurl1.<payload>.<mac>") for the caller's access key and region,
 * valid until expires for scope only (e.g. "<repository>@<digest>"); it is not a registry password.
 * Returns a new string. */
char *reg__url_token_make(struct reg *reg, const char *access_key, const char *region, double expires,
			  const char *scope);
/* Checks a download-URL credential against scope; fills account and region like reg__token_check.
 * Returns 0, or -1 when it is not valid now for scope. */
int reg__url_token_check(struct reg *reg, const char *token, const char *scope, const char **account,
			 char region[32]);

/* "sha256:<hex>" of n bytes into out. */
void reg__sha256_digest(const void *p, size_t n, char out[72]);

/* Writes a newly made token key to the store (once). */
void reg__save_key(struct reg *reg);

/* gc.c: links blob digest (stored, size bytes) to r, so r may serve it; the caller saves r. */
void reg__blob_link(struct reg_repo *r, const char *digest, long long size);
/* Starts the collector's timer (GANTRY_REGISTRY_GC_INTERVAL_S, default 10 min; links and blobs
 * younger than GANTRY_REGISTRY_GC_GRACE_S, default 1 h, are kept) / stops it. */
void reg__gc_start(struct reg *reg);
void reg__gc_stop(struct reg *reg);
/* One collection pass now (nothing when one is running or the registry is stopping). */
void reg__gc_run(struct reg *reg);

/* ECR-style ARNs and URIs. */
char *reg__repo_arn(struct reg_scope *sc, const char *name);

/* ecr.c: answers the CompleteLayerUpload calls still waiting for their commit with
 * ServiceUnavailableException (the server stops: no answer may start waiting for the store now). */
void reg__ecr_stop(struct reg *reg);

/* lifecycle.c: ECR lifecycle policies. */

/* ECR's bounds on LifecyclePolicyText's length */
#define REG_LIFECYCLE_TEXT_MIN	100
#define REG_LIFECYCLE_TEXT_MAX	30720
#define REG_LIFECYCLE_RULES_MAX 50  /* ECR: rules per lifecycle policy */
#define REG_LIFECYCLE_LIST_MAX	100 /* entries in a tagPrefixList / tagPatternList */
#define REG_LIFECYCLE_WILDCARDS 4   /* ECR: '*' per tagPatternList entry */
#define REG_LIFECYCLE_DAY_S	86400.0

enum reg_lc_status { REG_LC_TAGGED, REG_LC_UNTAGGED, REG_LC_ANY };

/* One rule of a checked policy. Strings are borrowed from the policy's document. */
struct reg_lc_rule {
	long long priority; /* rulePriority, >= 1, unique */
	enum reg_lc_status status;
	const char **prefixes; /* tagPrefixList (tagged only), or NULL */
	size_t nprefixes;
	const char **patterns; /* tagPatternList (tagged only), or NULL */
	size_t npatterns;
	bool by_days;	 /* countType sinceImagePushed (countUnit days), else imageCountMoreThan */
	long long count; /* countNumber, >= 1 */
};

/* A checked lifecycle policy: rules sorted by rulePriority, lowest first. */
struct reg_lc_policy {
	struct reg_lc_rule *rules;
	size_t nrules;
	json_t *doc; /* the parsed text (owned) */
};

/* What the evaluation needs of an image. */
struct reg_lc_image {
	const char *digest;
	double pushed_at;	 /* imagePushedAt, epoch seconds */
	const char *const *tags; /* its tags */
	size_t ntags;
	bool in_index; /* an image index of the repository refers to it: never expired on its own */
};

/* Parses and checks lifecycle policy text as ECR does (rules, unique positive rulePriority,
 * selection with tagStatus tagged|untagged|any, tagPrefixList / tagPatternList exactly for tagged,
 * countType imageCountMoreThan|sinceImagePushed, countUnit days only with sinceImagePushed,
 * countNumber > 0, action expire; an "any" rule has the highest rulePriority; one untagged rule at
 * most). Returns a new policy, or NULL with *err (ERR_INVALID_PARAM, the message naming the member:
 * "rules[1].selection.countUnit: ..."). */
struct reg_lc_policy *reg__lifecycle_parse(const char *text, size_t len, struct err **err);
void reg__lifecycle_free(struct reg_lc_policy *p);
/* Does image tags[] match the rule's tag selection? */
bool reg__lifecycle_selects(const struct reg_lc_rule *rule, const char *const *tags, size_t ntags);
/* Evaluates p over n images at time now, as ECR documents it: rules in priority order; a rule
 * selects the images its tagStatus and tag lists match (counting those that earlier rules expired
 * or kept); imageCountMoreThan marks all but the newest countNumber of them (by pushed_at),
 * sinceImagePushed those pushed more than countNumber days before now; a rule only expires an
 * image that no earlier rule selected, so each image is expired by one rule at most, and an image
 * an earlier rule selected is safe from the later ones. Fills expire_by[i] with the rulePriority
 * that expires image i, or 0. */
void reg__lifecycle_eval(const struct reg_lc_policy *p, const struct reg_lc_image *imgs, size_t n, double now,
			 long long *expire_by);
/* The images of r with the rulePriority that would expire each (0: kept) under policy text (r's own
 * when text is NULL), as a new array of {imageDigest, imageTags, imagePushedAt, rule}; NULL with
 * *err when the text does not parse. */
json_t *reg__lifecycle_plan(struct reg_repo *r, const char *text, size_t len, double now, struct err **err);
/* Applies r's lifecycle policy now: deletes the images it expires (through reg__image_delete,
 * persisted) and sets r->lifecycle_at. Returns how many images were deleted. */
size_t reg__lifecycle_apply(struct reg *reg, struct reg_repo *r, double now);
/* Starts the timer that applies every repository's policy each REG_LIFECYCLE_INTERVAL_MS (or the
 * environment's GANTRY_LIFECYCLE_INTERVAL_MS). The timer does not keep the loop alive. */
void reg__lifecycle_start(struct reg *reg);
/* Stops and closes the timer (idempotent; before the loop's last run). */
void reg__lifecycle_stop(struct reg *reg);

#endif
