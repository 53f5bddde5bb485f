/* The ECR API (JSON 1.1, AmazonEC2ContainerRegistry_V20150921) over the registry's repositories:
 * authorization tokens for the /v2/ registry, repositories, images, tag mutability, tags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/enc.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/ref.h"
#include "registry/reg-int.h"

#define ECR_TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921"
#define ECR_SIGNING_NAME  "ecr"
#define ECR_TAGS_MAX	  50  /* ECR: at most 50 tags per resource */
#define ECR_IMAGE_IDS_MAX 100 /* BatchGetImage / BatchDeleteImage / DescribeImages imageIds */
#define ECR_LAYERS_MAX	  100 /* BatchCheckLayerAvailability layerDigests */

static struct reg *reg_of(struct api_call *call)
{
	return call->service_arg;
}

static struct reg_scope *scope_of(struct api_call *call)
{
	return reg__scope(reg_of(call), call->account, call->region);
}

/* registryId, when given, must be the caller's own account (other accounts' registries are not
 * visible). */
static int check_registry(struct api_call *call, json_t *in, struct err **err)
{
	const char *id = NULL;
	if (jv_str(in, "registryId", false, &id, err) < 0)
		return -1;
	if (id && strcmp(id, call->account) != 0)
		return err_set(err, ERR_REPO_NOT_FOUND,
			       "The registry with id '%s' is not accessible to this account", id);
	return 0;
}

static int get_repo(struct api_call *call, json_t *in, struct reg_repo **out, struct err **err)
{
	const char *name;
	if (check_registry(call, in, err) < 0 || jv_str(in, "repositoryName", true, &name, err) < 0)
		return -1;
	*out = reg__repo(reg_of(call), call->account, call->region, name);
	if (!*out)
		return err_set(err, ERR_REPO_NOT_FOUND,
			       "The repository with name '%s' does not exist in the registry with id '%s'",
			       name, call->account);
	return 0;
}

static int check_tags(json_t *tags, struct err **err)
{
	if (!json_is_array(tags))
		return err_set(err, ERR_INVALID_PARAM, "tags must be a list of {Key, Value}");
	if (json_array_size(tags) > ECR_TAGS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "at most %d tags per resource", ECR_TAGS_MAX);
	size_t i;
	json_t *t;
	json_array_foreach (tags, i, t) {
		const char *k = json_string_value(json_object_get(t, "Key"));
		json_t *v = json_object_get(t, "Value");
		if (!k || !*k || strlen(k) > 128 || (v && !json_is_string(v)) ||
		    (v && json_string_length(v) > 256))
			return err_set(
				err, ERR_INVALID_PARAM,
				"tags[%zu]: Key must be 1-128 characters and Value a string of at most 256",
				i);
	}
	return 0;
}

/* Sets or replaces tags in have (an array of {Key, Value}). */
static void merge_tags(json_t *have, json_t *add)
{
	size_t i, j;
	json_t *t, *h;
	json_array_foreach (add, i, t) {
		const char *k = json_string_value(json_object_get(t, "Key"));
		bool found = false;
		json_array_foreach (have, j, h) {
			if (strcmp(json_string_value(json_object_get(h, "Key")), k) == 0) {
				json_array_set(have, j, t);
				found = true;
				break;
			}
		}
		if (!found)
			json_array_append(have, t);
	}
}

static const char *registry_host(struct api_call *call)
{
	return call->host && *call->host ? call->host : "127.0.0.1:7700";
}

/* GetAuthorizationToken */

static int ecr_get_authorization_token(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	json_t *ids = NULL;
	if (jv_str_array(in, "registryIds", false, &ids, err) < 0)
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach (ids, i, v) {
		if (strcmp(json_string_value(v), call->account) != 0)
			return err_set(err, ERR_INVALID_PARAM,
				       "registryIds[%zu]: '%s' is not this account's registry", i,
				       json_string_value(v));
	}
	double expires = clock_now() + REG_TOKEN_TTL_S;
	char *pw = reg__token_make(reg_of(call), call->access_key, call->region, expires);
	char *userpw = xasprintf("AWS:%s", pw);
	char *b64 = enc_b64(userpw, strlen(userpw));
	char *endpoint = xasprintf("http://%s", registry_host(call));
	json_t *ad = json_object();
	jv_set_str(ad, "authorizationToken", b64);
	json_object_set_new(ad, "expiresAt", jv_time(expires));
	jv_set_str(ad, "proxyEndpoint", endpoint);
	*out = json_pack("{s:[o]}", "authorizationData", ad);
	free(endpoint);
	free(b64);
	free(userpw);
	free(pw);
	return 0;
}

/* Repositories */

static int ecr_create_repository(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name, *mut = "MUTABLE";
	json_t *tags = NULL, *scan = NULL, *enc = NULL;
	if (check_registry(call, in, err) < 0 || jv_str(in, "repositoryName", true, &name, err) < 0 ||
	    jv_str(in, "imageTagMutability", false, &mut, err) < 0 ||
	    jv_array(in, "tags", false, &tags, err) < 0 ||
	    jv_object(in, "imageScanningConfiguration", false, &scan, err) < 0 ||
	    jv_object(in, "encryptionConfiguration", false, &enc, err) < 0)
		return -1;
	if (!mut)
		mut = "MUTABLE";
	struct err *e = NULL;
	if (reg_name_check(name, &e) < 0) {
		err_set(err, ERR_INVALID_PARAM,
			"Invalid parameter at 'repositoryName' failed to satisfy constraint: %s", e->msg);
		err_free(e);
		return -1;
	}
	if (strcmp(mut, "MUTABLE") != 0 && strcmp(mut, "IMMUTABLE") != 0)
		return err_set(err, ERR_INVALID_PARAM,
			       "imageTagMutability must be MUTABLE or IMMUTABLE, not '%s'", mut);
	if (tags && check_tags(tags, err) < 0)
		return -1;
	const char *etype = "AES256";
	if (enc && jv_str(enc, "encryptionType", true, &etype, err) < 0)
		return -1;
	if (strcmp(etype, "AES256") != 0 && strcmp(etype, "KMS") != 0)
		return err_set(err, ERR_INVALID_PARAM,
			       "encryptionConfiguration.encryptionType must be AES256 or KMS");
	struct reg_scope *sc = scope_of(call);
	if (hmap_get(sc->repos, name))
		return err_set(err, ERR_REPO_EXISTS,
			       "The repository with name '%s' already exists in the registry with id '%s'",
			       name, call->account);
	json_t *doc = json_object();
	char *arn = reg__repo_arn(sc, name);
	char *uri = xasprintf("%s/%s", registry_host(call), name);
	jv_set_str(doc, "repositoryArn", arn);
	jv_set_str(doc, "registryId", call->account);
	jv_set_str(doc, "repositoryName", name);
	jv_set_str(doc, "repositoryUri", uri);
	json_object_set_new(doc, "createdAt", jv_time(clock_now()));
	jv_set_str(doc, "imageTagMutability", mut);
	bool scan_on_push = json_is_true(json_object_get(scan, "scanOnPush"));
	json_object_set_new(doc, "imageScanningConfiguration",
			    json_pack("{s:b}", "scanOnPush", scan_on_push));
	json_t *encd = json_pack("{s:s}", "encryptionType", etype);
	const char *kms = json_string_value(json_object_get(enc, "kmsKey"));
	if (kms)
		jv_set_str(encd, "kmsKey", kms);
	json_object_set_new(doc, "encryptionConfiguration", encd);
	free(arn);
	free(uri);
	reg__repo_create(reg_of(call), sc, name, doc, tags);
	*out = json_pack("{s:O}", "repository", doc);
	json_decref(doc);
	return 0;
}

static int ecr_describe_repositories(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	json_t *names = NULL;
	long long max;
	char *after = NULL;
	if (check_registry(call, in, err) < 0 ||
	    jv_str_array(in, "repositoryNames", false, &names, err) < 0 ||
	    page_max_results(in, 1000, 1000, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	struct reg_scope *sc = scope_of(call);
	json_t *list = json_array();
	int rc = -1;
	if (names) {
		if (after || json_object_get(in, "maxResults")) {
			err_set(err, ERR_INVALID_PARAM,
				"maxResults and nextToken cannot be used with repositoryNames");
			goto out;
		}
		size_t i;
		json_t *v;
		json_array_foreach (names, i, v) {
			struct reg_repo *r = hmap_get(sc->repos, json_string_value(v));
			if (!r) {
				err_set(err, ERR_REPO_NOT_FOUND,
					"The repository with name '%s' does not exist in the registry with "
					"id '%s'",
					json_string_value(v), call->account);
				goto out;
			}
			json_array_append(list, r->doc);
		}
		*out = json_pack("{s:O}", "repositories", list);
		rc = 0;
		goto out;
	}
	size_t n = hmap_size(sc->repos), k = 0;
	const char **all = xcalloc(n ? n : 1, sizeof(*all));
	const char *key;
	void *val;
	for (size_t it = 0; hmap_next(sc->repos, &it, &key, &val);)
		all[k++] = key;
	qsort(all, n, sizeof(*all), str_cmp_ptr);
	const char *last = NULL;
	bool more = false;
	for (size_t i = 0; i < n; i++) {
		if (after && strcmp(all[i], after) <= 0)
			continue;
		if ((long long)json_array_size(list) >= max) {
			more = true;
			break;
		}
		json_array_append(list, ((struct reg_repo *)hmap_get(sc->repos, all[i]))->doc);
		last = all[i];
	}
	*out = json_pack("{s:O}", "repositories", list);
	if (more && last)
		page_set_token(*out, last);
	free(all);
	rc = 0;
out:
	json_decref(list);
	free(after);
	return rc;
}

static int ecr_delete_repository(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	bool force = false;
	if (get_repo(call, in, &r, err) < 0 || jv_bool(in, "force", false, &force, NULL, err) < 0)
		return -1;
	if (json_object_size(r->images) && !force)
		return err_set(
			err, ERR_REPO_NOT_EMPTY,
			"The repository with name '%s' in registry with id '%s' cannot be deleted because it "
			"still contains images",
			r->name, call->account);
	*out = json_pack("{s:O}", "repository", r->doc);
	reg__repo_delete(reg_of(call), r);
	return 0;
}

static int ecr_put_image_tag_mutability(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *mut;
	if (get_repo(call, in, &r, err) < 0 || jv_str(in, "imageTagMutability", true, &mut, err) < 0)
		return -1;
	if (strcmp(mut, "MUTABLE") != 0 && strcmp(mut, "IMMUTABLE") != 0)
		return err_set(err, ERR_INVALID_PARAM,
			       "imageTagMutability must be MUTABLE or IMMUTABLE, not '%s'", mut);
	jv_set_str(r->doc, "imageTagMutability", mut);
	reg__repo_save(reg_of(call), r);
	*out = json_pack("{s:s,s:s,s:s}", "registryId", call->account, "repositoryName", r->name,
			 "imageTagMutability", mut);
	return 0;
}

/* Images */

/* tagStatus of a filter: "TAGGED", "UNTAGGED" or "ANY" (NULL = ANY). */
static int tag_status(json_t *in, const char **st, struct err **err)
{
	json_t *filter = NULL;
	*st = "ANY";
	if (jv_object(in, "filter", false, &filter, err) < 0)
		return -1;
	if (filter && jv_str(filter, "tagStatus", false, st, err) < 0)
		return -1;
	if (!*st)
		*st = "ANY";
	if (strcmp(*st, "ANY") != 0 && strcmp(*st, "TAGGED") != 0 && strcmp(*st, "UNTAGGED") != 0)
		return err_set(err, ERR_INVALID_PARAM, "filter.tagStatus must be TAGGED, UNTAGGED or ANY");
	return 0;
}

/* The image digests of r, sorted. */
static const char **sorted_digests(struct reg_repo *r, size_t *n)
{
	*n = json_object_size(r->images);
	const char **all = xcalloc(*n ? *n : 1, sizeof(*all));
	size_t k = 0;
	const char *d;
	json_t *v;
	json_object_foreach (r->images, d, v) {
		all[k++] = d;
	}
	qsort(all, *n, sizeof(*all), str_cmp_ptr);
	return all;
}

static int ecr_list_images(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *st;
	long long max;
	char *after = NULL;
	if (get_repo(call, in, &r, err) < 0 || tag_status(in, &st, err) < 0 ||
	    page_max_results(in, 1000, 1000, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	/* One entry per tag (and one for each untagged image), keyed "digest|tag" for paging. */
	size_t n;
	const char **all = sorted_digests(r, &n);
	json_t *ids = json_array();
	char *last = NULL;
	bool more = false;
	for (size_t i = 0; i < n && !more; i++) {
		json_t *tags = reg__image_tags(r, all[i]);
		size_t nt = json_array_size(tags);
		for (size_t j = 0; j < (nt ? nt : 1); j++) {
			const char *tag = nt ? json_string_value(json_array_get(tags, j)) : NULL;
			if ((tag && strcmp(st, "UNTAGGED") == 0) || (!tag && strcmp(st, "TAGGED") == 0))
				continue;
			char *key = xasprintf("%s|%s", all[i], tag ? tag : "");
			if (after && strcmp(key, after) <= 0) {
				free(key);
				continue;
			}
			if ((long long)json_array_size(ids) >= max) {
				more = true;
				free(key);
				break;
			}
			json_t *id = json_pack("{s:s}", "imageDigest", all[i]);
			if (tag)
				jv_set_str(id, "imageTag", tag);
			json_array_append_new(ids, id);
			free(last);
			last = key;
		}
		json_decref(tags);
	}
	*out = json_pack("{s:o}", "imageIds", ids);
	if (more && last)
		page_set_token(*out, last);
	free(last);
	free(all);
	free(after);
	return 0;
}

/* Resolves an imageId {imageDigest?, imageTag?} in r: the digest, or NULL with a failure code and
 * reason (as BatchGetImage reports them). */
static const char *resolve_id(struct reg_repo *r, json_t *id, const char **code, char reason[256])
{
	const char *digest = json_string_value(json_object_get(id, "imageDigest"));
	const char *tag = json_string_value(json_object_get(id, "imageTag"));
	if (!digest && !tag) {
		*code = "MissingDigestAndTag";
		snprintf(reason, 256, "Invalid request parameters: both tag and digest cannot be null");
		return NULL;
	}
	if (digest && reg_digest_check(digest, NULL) < 0) {
		*code = "InvalidImageDigest";
		snprintf(reason, 256,
			 "Invalid request parameters: image digest should satisfy the regex "
			 "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
		return NULL;
	}
	if (tag) {
		const char *have = json_string_value(json_object_get(r->tagmap, tag));
		if (!have) {
			*code = "ImageNotFound";
			snprintf(reason, 256, "Requested image not found");
			return NULL;
		}
		if (digest && strcmp(digest, have) != 0) {
			*code = "ImageTagDoesNotMatchDigest";
			snprintf(reason, 256,
				 "Invalid request parameters: given tag and digest do not match");
			return NULL;
		}
		return have;
	}
	if (!json_object_get(r->images, digest)) {
		*code = "ImageNotFound";
		snprintf(reason, 256, "Requested image not found");
		return NULL;
	}
	return json_object_iter_key(json_object_iter_at(r->images, digest));
}

static int image_ids(json_t *in, json_t **ids, struct err **err)
{
	if (jv_array(in, "imageIds", true, ids, err) < 0)
		return -1;
	if (json_array_size(*ids) < 1 || json_array_size(*ids) > ECR_IMAGE_IDS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "imageIds must hold 1 to %d image ids",
			       ECR_IMAGE_IDS_MAX);
	size_t i;
	json_t *v;
	json_array_foreach (*ids, i, v) {
		if (!json_is_object(v))
			return err_set(err, ERR_INVALID_PARAM,
				       "imageIds[%zu] must be {imageDigest, imageTag}", i);
	}
	return 0;
}

static json_t *image_detail(struct api_call *call, struct reg_repo *r, const char *digest)
{
	json_t *rec = json_object_get(r->images, digest);
	json_t *d = json_object();
	jv_set_str(d, "registryId", call->account);
	jv_set_str(d, "repositoryName", r->name);
	jv_set_str(d, "imageDigest", digest);
	json_t *tags = reg__image_tags(r, digest);
	if (json_array_size(tags))
		json_object_set(d, "imageTags", tags);
	json_decref(tags);
	json_object_set(d, "imageSizeInBytes", json_object_get(rec, "imageSizeInBytes"));
	json_object_set(d, "imagePushedAt", json_object_get(rec, "imagePushedAt"));
	json_object_set(d, "imageManifestMediaType", json_object_get(rec, "imageManifestMediaType"));
	json_t *at = json_object_get(rec, "artifactMediaType");
	if (at)
		json_object_set(d, "artifactMediaType", at);
	return d;
}

static int ecr_describe_images(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *st;
	long long max;
	char *after = NULL;
	json_t *ids = NULL;
	if (get_repo(call, in, &r, err) < 0 || tag_status(in, &st, err) < 0 ||
	    jv_array(in, "imageIds", false, &ids, err) < 0 ||
	    page_max_results(in, 100, 1000, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	json_t *details = json_array();
	if (ids) {
		if (image_ids(in, &ids, err) < 0)
			goto fail;
		size_t i;
		json_t *id;
		json_array_foreach (ids, i, id) {
			const char *code;
			char reason[256];
			const char *digest = resolve_id(r, id, &code, reason);
			if (!digest) {
				err_set(err, ERR_IMAGE_NOT_FOUND,
					"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not "
					"exist within "
					"the repository with name '%s' in the registry with id '%s'",
					json_string_value(json_object_get(id, "imageDigest")) ?: "null",
					json_string_value(json_object_get(id, "imageTag")) ?: "null", r->name,
					call->account);
				goto fail;
			}
			json_array_append_new(details, image_detail(call, r, digest));
		}
		*out = json_pack("{s:o}", "imageDetails", details);
		free(after);
		return 0;
	}
	size_t n;
	const char **all = sorted_digests(r, &n);
	const char *last = NULL;
	bool more = false;
	for (size_t i = 0; i < n; i++) {
		if (after && strcmp(all[i], after) <= 0)
			continue;
		json_t *tags = reg__image_tags(r, all[i]);
		bool tagged = json_array_size(tags) > 0;
		json_decref(tags);
		if ((tagged && strcmp(st, "UNTAGGED") == 0) || (!tagged && strcmp(st, "TAGGED") == 0))
			continue;
		if ((long long)json_array_size(details) >= max) {
			more = true;
			break;
		}
		json_array_append_new(details, image_detail(call, r, all[i]));
		last = all[i];
	}
	*out = json_pack("{s:o}", "imageDetails", details);
	if (more && last)
		page_set_token(*out, last);
	free(all);
	free(after);
	return 0;
fail:
	json_decref(details);
	free(after);
	return -1;
}

/* The ECR Image object of a stored manifest: registry, repository, imageId (with tag when given),
 * the manifest bytes and their media type. */
static json_t *image_json(struct api_call *call, struct reg_repo *r, const char *digest, const char *tag)
{
	json_t *rec = json_object_get(r->images, digest);
	json_t *img = json_object();
	jv_set_str(img, "registryId", call->account);
	jv_set_str(img, "repositoryName", r->name);
	json_t *iid = json_pack("{s:s}", "imageDigest", digest);
	if (tag)
		jv_set_str(iid, "imageTag", tag);
	json_object_set_new(img, "imageId", iid);
	json_object_set(img, "imageManifest", json_object_get(rec, "imageManifest"));
	json_object_set(img, "imageManifestMediaType", json_object_get(rec, "imageManifestMediaType"));
	return img;
}

static json_t *failure(json_t *id, const char *code, const char *reason)
{
	return json_pack("{s:O,s:s,s:s}", "imageId", id, "failureCode", code, "failureReason", reason);
}

static int ecr_batch_get_image(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	json_t *ids, *accepted = NULL;
	if (get_repo(call, in, &r, err) < 0 || image_ids(in, &ids, err) < 0 ||
	    jv_str_array(in, "acceptedMediaTypes", false, &accepted, err) < 0)
		return -1;
	json_t *images = json_array(), *failures = json_array();
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		const char *code;
		char reason[256];
		const char *digest = resolve_id(r, id, &code, reason);
		if (!digest) {
			json_array_append_new(failures, failure(id, code, reason));
			continue;
		}
		json_t *rec = json_object_get(r->images, digest);
		const char *mt = json_string_value(json_object_get(rec, "imageManifestMediaType"));
		if (accepted) {
			bool ok = false;
			size_t j;
			json_t *a;
			json_array_foreach (accepted, j, a) {
				ok = ok || strcmp(json_string_value(a), mt) == 0;
			}
			if (!ok) {
				json_array_append_new(
					failures,
					failure(id, "UnsupportedImageType",
						"The image's media type is not among acceptedMediaTypes"));
				continue;
			}
		}
		json_array_append_new(images, image_json(call, r, digest,
							 json_string_value(json_object_get(id, "imageTag"))));
	}
	*out = json_pack("{s:o,s:o}", "images", images, "failures", failures);
	return 0;
}

static int ecr_batch_delete_image(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	json_t *ids;
	if (get_repo(call, in, &r, err) < 0 || image_ids(in, &ids, err) < 0)
		return -1;
	struct reg *reg = reg_of(call);
	json_t *deleted = json_array(), *failures = json_array();
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		const char *code;
		char reason[256];
		const char *d = resolve_id(r, id, &code, reason);
		if (!d) {
			json_array_append_new(failures, failure(id, code, reason));
			continue;
		}
		char *digest = xstrdup(d);
		const char *tag = json_string_value(json_object_get(id, "imageTag"));
		json_t *did = json_pack("{s:s}", "imageDigest", digest);
		if (tag) {
			/* ECR: removing an image's last tag deletes the image. */
			jv_set_str(did, "imageTag", tag);
			json_object_del(r->tagmap, tag);
			json_t *left = reg__image_tags(r, digest);
			if (json_array_size(left) == 0)
				reg__image_delete(reg, r, digest);
			else
				reg__repo_save(reg, r);
			json_decref(left);
		} else {
			reg__image_delete(reg, r, digest);
		}
		json_array_append_new(deleted, did);
		free(digest);
	}
	*out = json_pack("{s:o,s:o}", "imageIds", deleted, "failures", failures);
	return 0;
}

static int ecr_put_image(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *manifest, *mt = NULL, *tag = NULL, *want = NULL;
	if (get_repo(call, in, &r, err) < 0 || jv_str(in, "imageManifest", true, &manifest, err) < 0 ||
	    jv_str(in, "imageManifestMediaType", false, &mt, err) < 0 ||
	    jv_str(in, "imageTag", false, &tag, err) < 0 || jv_str(in, "imageDigest", false, &want, err) < 0)
		return -1;
	size_t len = json_string_length(json_object_get(in, "imageManifest"));
	char digest[72];
	reg__sha256_digest(manifest, len, digest);
	const char *prev = tag ? json_string_value(json_object_get(r->tagmap, tag)) : NULL;
	if (prev && strcmp(prev, digest) == 0)
		return err_set(
			err, ERR_IMAGE_EXISTS,
			"Image with digest '%s' and tag '%s' already exists in the repository with name '%s' "
			"in registry with id '%s'",
			digest, tag, r->name, call->account);
	if (!reg__manifest_put(reg_of(call), r, tag, manifest, len, mt, digest, err))
		return -1;
	if (want && strcmp(want, digest) != 0)
		return err_set(err, ERR_INVALID_PARAM,
			       "imageDigest %s does not match the manifest's digest %s", want, digest);
	*out = json_pack("{s:o}", "image", image_json(call, r, digest, tag));
	return 0;
}

static int ecr_batch_check_layer_availability(struct api_call *call, json_t *in, json_t **out,
					      struct err **err)
{
	struct reg_repo *r;
	json_t *digests;
	if (get_repo(call, in, &r, err) < 0 || jv_str_array(in, "layerDigests", true, &digests, err) < 0)
		return -1;
	if (json_array_size(digests) < 1 || json_array_size(digests) > ECR_LAYERS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "layerDigests must hold 1 to %d digests",
			       ECR_LAYERS_MAX);
	json_t *layers = json_array(), *failures = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (digests, i, v) {
		const char *d = json_string_value(v);
		if (reg_digest_check(d, NULL) < 0) {
			json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "layerDigest", d,
								  "failureCode", "InvalidLayerDigest",
								  "failureReason", "Invalid layer digest"));
			continue;
		}
		json_t *size = json_object_get(r->blobs, d);
		json_t *l = json_pack("{s:s,s:s}", "layerDigest", d, "layerAvailability",
				      size ? "AVAILABLE" : "UNAVAILABLE");
		if (size)
			json_object_set(l, "layerSize", size);
		json_array_append_new(layers, l);
	}
	*out = json_pack("{s:o,s:o}", "layers", layers, "failures", failures);
	return 0;
}

/* Tags on repositories */

static int repo_by_arn(struct api_call *call, json_t *in, struct reg_repo **out, struct err **err)
{
	const char *arn;
	if (jv_str(in, "resourceArn", true, &arn, err) < 0)
		return -1;
	char *prefix = reg__repo_arn(scope_of(call), "");
	size_t pn = strlen(prefix);
	*out = strncmp(arn, prefix, pn) == 0 ? hmap_get(scope_of(call)->repos, arn + pn) : NULL;
	free(prefix);
	if (!*out)
		return err_set(err, ERR_REPO_NOT_FOUND, "The repository with ARN '%s' does not exist", arn);
	return 0;
}

static int ecr_tag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	json_t *tags;
	if (repo_by_arn(call, in, &r, err) < 0 || jv_array(in, "tags", true, &tags, err) < 0 ||
	    check_tags(tags, err) < 0)
		return -1;
	json_t *merged = json_deep_copy(r->tags);
	merge_tags(merged, tags);
	if (json_array_size(merged) > ECR_TAGS_MAX) {
		json_decref(merged);
		return err_set(err, ERR_INVALID_PARAM, "a repository has at most %d tags", ECR_TAGS_MAX);
	}
	json_decref(r->tags);
	r->tags = merged;
	reg__repo_save(reg_of(call), r);
	*out = json_object();
	return 0;
}

static int ecr_untag_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	json_t *keys;
	if (repo_by_arn(call, in, &r, err) < 0 || jv_str_array(in, "tagKeys", true, &keys, err) < 0)
		return -1;
	json_t *kept = json_array();
	size_t i, j;
	json_t *t, *k;
	json_array_foreach (r->tags, i, t) {
		bool drop = false;
		json_array_foreach (keys, j, k) {
			drop = drop || strcmp(json_string_value(k),
					      json_string_value(json_object_get(t, "Key"))) == 0;
		}
		if (!drop)
			json_array_append(kept, t);
	}
	json_decref(r->tags);
	r->tags = kept;
	reg__repo_save(reg_of(call), r);
	*out = json_object();
	return 0;
}

static int ecr_list_tags_for_resource(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	if (repo_by_arn(call, in, &r, err) < 0)
		return -1;
	*out = json_pack("{s:O}", "tags", r->tags);
	return 0;
}

static const struct api_op ecr_ops[] = {
	{"BatchCheckLayerAvailability", ecr_batch_check_layer_availability},
	{"BatchDeleteImage", ecr_batch_delete_image},
	{"BatchGetImage", ecr_batch_get_image},
	{"CreateRepository", ecr_create_repository},
	{"DeleteRepository", ecr_delete_repository},
	{"DescribeImages", ecr_describe_images},
	{"DescribeRepositories", ecr_describe_repositories},
	{"GetAuthorizationToken", ecr_get_authorization_token},
	{"ListImages", ecr_list_images},
	{"ListTagsForResource", ecr_list_tags_for_resource},
	{"PutImage", ecr_put_image},
	{"PutImageTagMutability", ecr_put_image_tag_mutability},
	{"TagResource", ecr_tag_resource},
	{"UntagResource", ecr_untag_resource},
};

void reg_add_to_api(struct reg *reg, struct api *api)
{
	reg__save_key(reg);
	reg__gc_start(reg);
	api_add_service(api, ECR_TARGET_PREFIX, ECR_SIGNING_NAME, ecr_ops,
			sizeof(ecr_ops) / sizeof(ecr_ops[0]), reg);
}
