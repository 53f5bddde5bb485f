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
};

/* registry.c */
struct reg_scope *reg__scope(struct reg *reg, const char *account, const char *region);
struct reg_repo *reg__repo(struct reg *reg, const char *account, const char *region, const char *name);
/* Creates a repository (doc filled by the caller's options). Returns it (new, persisted). */
struct reg_repo *reg__repo_create(struct reg *reg, struct reg_scope *sc, const char *name, json_t *doc,
				  json_t *tags);
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

#endif
