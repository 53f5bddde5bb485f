/* The ECR API (JSON 1.1, AmazonEC2ContainerRegistry_V20150921) over the registry's repositories:
 * authorization tokens for the /v2/ registry, repositories, images, tag mutability, tags,
 * lifecycle and repository policies, layer uploads and layer download URLs. */
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

#define ECR_POLICY_MAX	10240 /* RepositoryPolicyText */
#define ECR_PREVIEW_MAX 100   /* GetLifecyclePolicyPreview maxResults */
#define ECR_URL_TTL_S	3600  /* how long a GetDownloadUrlForLayer URL works */
/* The partSize InitiateLayerUpload suggests. ECR says 10 MiB; gantry's API front reads JSON bodies
 * of at most API_BODY_MAX (1 MiB), and a part travels base64-encoded (4/3) inside one. */
#define ECR_PART_SIZE (512 * 1024)

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
	reg__lifecycle_apply(reg_of(call), r, clock_now());
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

/* Lifecycle policies */

/* {registryId, repositoryName} of r, new. */
static json_t *repo_ids(struct api_call *call, struct reg_repo *r)
{
	return json_pack("{s:s,s:s}", "registryId", call->account, "repositoryName", r->name);
}

static int no_lifecycle(struct api_call *call, struct reg_repo *r, struct err **err)
{
	return err_set(
		err, ERR_LIFECYCLE_NOT_FOUND,
		"Lifecycle policy does not exist for the repository with name '%s' in the registry with "
		"id '%s'",
		r->name, call->account);
}

/* The policy text member (required when req), checked; *text and *len borrowed from in. */
static int lifecycle_text(json_t *in, bool req, const char **text, size_t *len, struct err **err)
{
	*text = NULL;
	if (jv_str(in, "lifecyclePolicyText", req, text, err) < 0)
		return -1;
	if (!*text)
		return 0;
	*len = json_string_length(json_object_get(in, "lifecyclePolicyText"));
	struct reg_lc_policy *p = reg__lifecycle_parse(*text, *len, err);
	reg__lifecycle_free(p);
	return p ? 0 : -1;
}

static int ecr_put_lifecycle_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *text;
	size_t len;
	if (get_repo(call, in, &r, err) < 0 || lifecycle_text(in, true, &text, &len, err) < 0)
		return -1;
	json_decref(r->lifecycle);
	r->lifecycle = json_stringn(text, len);
	reg__repo_save(reg_of(call), r);
	*out = repo_ids(call, r);
	json_object_set(*out, "lifecyclePolicyText", r->lifecycle);
	/* ECR applies a new policy within 24 hours; gantry at once (and then on its timer). */
	reg__lifecycle_apply(reg_of(call), r, clock_now());
	return 0;
}

static json_t *lifecycle_answer(struct api_call *call, struct reg_repo *r)
{
	json_t *o = repo_ids(call, r);
	json_object_set(o, "lifecyclePolicyText", r->lifecycle);
	if (r->lifecycle_at > 0)
		json_object_set_new(o, "lastEvaluatedAt", jv_time(r->lifecycle_at));
	return o;
}

static int ecr_get_lifecycle_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	if (get_repo(call, in, &r, err) < 0)
		return -1;
	if (!r->lifecycle)
		return no_lifecycle(call, r, err);
	*out = lifecycle_answer(call, r);
	return 0;
}

static int ecr_delete_lifecycle_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	if (get_repo(call, in, &r, err) < 0)
		return -1;
	if (!r->lifecycle)
		return no_lifecycle(call, r, err);
	*out = lifecycle_answer(call, r);
	json_decref(r->lifecycle);
	r->lifecycle = NULL;
	r->lifecycle_at = 0;
	reg__repo_save(reg_of(call), r);
	return 0;
}

/* A preview is computed when it is started (there is no background work to wait for), kept in
 * memory with the repository and served by GetLifecyclePolicyPreview until the next one. */
static int ecr_start_lifecycle_policy_preview(struct api_call *call, json_t *in, json_t **out,
					      struct err **err)
{
	struct reg_repo *r;
	const char *text;
	size_t len = 0;
	if (get_repo(call, in, &r, err) < 0 || lifecycle_text(in, false, &text, &len, err) < 0)
		return -1;
	if (!text && !r->lifecycle)
		return no_lifecycle(call, r, err);
	json_t *plan = reg__lifecycle_plan(r, text, len, clock_now(), err);
	if (!plan)
		return -1;
	json_t *t = text ? json_stringn(text, len) : json_incref(r->lifecycle);
	json_decref(r->preview);
	r->preview = json_pack("{s:o,s:o}", "text", t, "plan", plan);
	*out = repo_ids(call, r);
	json_object_set(*out, "lifecyclePolicyText", t);
	jv_set_str(*out, "status", "COMPLETE");
	return 0;
}

/* Does plan entry e pass the preview's imageIds (resolved digests) and tagStatus filter? */
static bool preview_wanted(json_t *e, json_t *digests, const char *st)
{
	const char *d = json_string_value(json_object_get(e, "imageDigest"));
	if (digests && !json_object_get(digests, d))
		return false;
	bool tagged = json_array_size(json_object_get(e, "imageTags")) > 0;
	return !((tagged && strcmp(st, "UNTAGGED") == 0) || (!tagged && strcmp(st, "TAGGED") == 0));
}

static int cmp_plan_digest(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "imageDigest")),
		      json_string_value(json_object_get(*(json_t *const *)b, "imageDigest")));
}

static int ecr_get_lifecycle_policy_preview(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *st;
	long long max;
	char *after = NULL;
	json_t *ids = NULL, *digests = NULL;
	if (get_repo(call, in, &r, err) < 0 || tag_status(in, &st, err) < 0 ||
	    jv_array(in, "imageIds", false, &ids, err) < 0 ||
	    page_max_results(in, ECR_PREVIEW_MAX, ECR_PREVIEW_MAX, &max, err) < 0 ||
	    page_after(in, &after, err) < 0)
		return -1;
	int rc = -1;
	if (ids && (after || json_object_get(in, "maxResults"))) {
		err_set(err, ERR_INVALID_PARAM, "maxResults and nextToken cannot be used with imageIds");
		goto out;
	}
	if (!r->preview) {
		err_set(err, ERR_PREVIEW_NOT_FOUND,
			"There is no lifecycle policy preview for the repository with name '%s' in the "
			"registry "
			"with id '%s'; start one with StartLifecyclePolicyPreview",
			r->name, call->account);
		goto out;
	}
	if (ids) {
		if (image_ids(in, &ids, err) < 0)
			goto out;
		digests = json_object();
		size_t i;
		json_t *id;
		json_array_foreach (ids, i, id) {
			const char *code;
			char reason[256];
			const char *d = resolve_id(r, id, &code, reason);
			if (!d)
				d = json_string_value(json_object_get(id, "imageDigest"));
			if (d)
				json_object_set_new(digests, d, json_true());
		}
	}
	json_t *plan = json_object_get(r->preview, "plan");
	size_t n = json_array_size(plan), expiring = 0;
	json_t **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = json_array_get(plan, i);
	qsort(sorted, n, sizeof(*sorted), cmp_plan_digest);
	json_t *results = json_array();
	const char *last = NULL;
	bool more = false;
	for (size_t i = 0; i < n; i++) {
		json_t *e = sorted[i];
		const char *d = json_string_value(json_object_get(e, "imageDigest"));
		if (!json_integer_value(json_object_get(e, "rule")) || !preview_wanted(e, digests, st))
			continue;
		expiring++;
		if ((after && strcmp(d, after) <= 0) || more)
			continue;
		if ((long long)json_array_size(results) >= max) {
			more = true;
			continue;
		}
		json_t *res = json_pack("{s:s,s:O,s:{s:s},s:O}", "imageDigest", d, "imagePushedAt",
					json_object_get(e, "imagePushedAt"), "action", "type", "EXPIRE",
					"appliedRulePriority", json_object_get(e, "rule"));
		json_t *tags = json_object_get(e, "imageTags");
		if (json_array_size(tags))
			json_object_set(res, "imageTags", tags);
		json_array_append_new(results, res);
		last = d;
	}
	*out = repo_ids(call, r);
	json_object_set(*out, "lifecyclePolicyText", json_object_get(r->preview, "text"));
	jv_set_str(*out, "status", "COMPLETE");
	json_object_set_new(*out, "previewResults", results);
	json_object_set_new(*out, "summary",
			    json_pack("{s:I}", "expiringImageTotalCount", (json_int_t)expiring));
	if (more && last)
		page_set_token(*out, last);
	free(sorted);
	rc = 0;
out:
	json_decref(digests);
	free(after);
	return rc;
}

/* Repository policies: stored and returned, not enforced (every caller of the account may do
 * everything in its repositories). */

static int policy_fail(struct err **err, const char *why)
{
	return err_set(
		err, ERR_INVALID_PARAM,
		"Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy "
		"provided: %s'",
		why);
}

/* A string, or a non-empty list of strings. */
static bool str_or_list(json_t *v)
{
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	size_t i;
	json_t *s;
	json_array_foreach (v, i, s) {
		if (!json_is_string(s) || json_string_length(s) == 0)
			return false;
	}
	return true;
}

/* IAM policy grammar for a resource policy: Version, Statement (one or a list), each with Effect,
 * Principal or NotPrincipal, Action or NotAction. */
static int check_statement(json_t *st, struct err **err)
{
	static const char *const members[] = {"Sid",	   "Effect",	"Principal", "NotPrincipal",
					      "Action",	   "NotAction", "Resource",  "NotResource",
					      "Condition", NULL};
	if (!json_is_object(st))
		return policy_fail(err, "each Statement must be an object");
	const char *k;
	json_t *v;
	json_object_foreach (st, k, v) {
		bool ok = false;
		for (size_t i = 0; members[i] && !ok; i++)
			ok = strcmp(members[i], k) == 0;
		if (!ok)
			return policy_fail(err, "a Statement has an unknown element");
	}
	json_t *sid = json_object_get(st, "Sid");
	if (sid && !json_is_string(sid))
		return policy_fail(err, "Sid must be a string");
	const char *eff = json_string_value(json_object_get(st, "Effect"));
	if (!eff || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0))
		return policy_fail(err, "each Statement needs an Effect of Allow or Deny");
	json_t *pr = json_object_get(st, "Principal"), *npr = json_object_get(st, "NotPrincipal");
	if (!pr == !npr)
		return policy_fail(err, "each Statement needs a Principal or a NotPrincipal");
	pr = pr ? pr : npr;
	if (json_is_string(pr)) {
		if (strcmp(json_string_value(pr), "*") != 0)
			return policy_fail(err, "a Principal string must be \"*\"");
	} else if (json_is_object(pr) && json_object_size(pr) > 0) {
		json_object_foreach (pr, k, v) {
			if ((strcmp(k, "AWS") != 0 && strcmp(k, "Service") != 0 &&
			     strcmp(k, "Federated") != 0 && strcmp(k, "CanonicalUser") != 0) ||
			    !str_or_list(v))
				return policy_fail(
					err, "a Principal maps AWS, Service, Federated or CanonicalUser to "
					     "names");
		}
	} else {
		return policy_fail(err, "a Principal must be \"*\" or an object");
	}
	json_t *ac = json_object_get(st, "Action"), *nac = json_object_get(st, "NotAction");
	if (!ac == !nac)
		return policy_fail(err, "each Statement needs an Action or a NotAction");
	ac = ac ? ac : nac;
	if (!str_or_list(ac))
		return policy_fail(err, "Action must be an action name or a list of them");
	size_t n = json_is_array(ac) ? json_array_size(ac) : 1;
	for (size_t i = 0; i < n; i++) {
		const char *a = json_string_value(json_is_array(ac) ? json_array_get(ac, i) : ac);
		if (strcmp(a, "*") != 0 && !strchr(a, ':'))
			return policy_fail(
				err, "actions are \"service:Action\" (e.g. ecr:BatchGetImage) or \"*\"");
	}
	json_t *res = json_object_get(st, "Resource"), *nres = json_object_get(st, "NotResource");
	if ((res && !str_or_list(res)) || (nres && !str_or_list(nres)))
		return policy_fail(err, "Resource must be an ARN or a list of them");
	json_t *cond = json_object_get(st, "Condition");
	if (cond && !json_is_object(cond))
		return policy_fail(err, "Condition must be an object");
	return 0;
}

static int check_policy_text(const char *text, size_t len, struct err **err)
{
	if (len > ECR_POLICY_MAX)
		return err_set(
			err, ERR_INVALID_PARAM,
			"Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Member must have "
			"length less than or equal to %d'",
			ECR_POLICY_MAX);
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	int rc = -1;
	if (!json_is_object(doc)) {
		policy_fail(err, "the policy must be a JSON object");
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach (doc, k, v) {
		if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0) {
			policy_fail(err, "unknown top-level element (Version, Id and Statement are allowed)");
			goto out;
		}
	}
	const char *ver = json_string_value(json_object_get(doc, "Version"));
	if (!ver || (strcmp(ver, "2012-10-17") != 0 && strcmp(ver, "2008-10-17") != 0)) {
		policy_fail(err, "Version must be \"2012-10-17\" or \"2008-10-17\"");
		goto out;
	}
	json_t *sts = json_object_get(doc, "Statement");
	if (json_is_object(sts)) {
		if (check_statement(sts, err) < 0)
			goto out;
	} else if (json_is_array(sts) && json_array_size(sts) > 0) {
		size_t i;
		json_array_foreach (sts, i, v) {
			if (check_statement(v, err) < 0)
				goto out;
		}
	} else {
		policy_fail(err, "Statement must be a statement or a non-empty list of statements");
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

static int no_policy(struct api_call *call, struct reg_repo *r, struct err **err)
{
	return err_set(
		err, ERR_REPO_POLICY_NOT_FOUND,
		"Repository policy does not exist for the repository with name '%s' in the registry with "
		"id '%s'",
		r->name, call->account);
}

static int ecr_set_repository_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *text;
	bool force = false;
	if (get_repo(call, in, &r, err) < 0 || jv_str(in, "policyText", true, &text, err) < 0 ||
	    jv_bool(in, "force", false, &force, NULL, err) < 0)
		return -1;
	size_t len = json_string_length(json_object_get(in, "policyText"));
	if (check_policy_text(text, len, err) < 0)
		return -1;
	/* force only matters where a policy could lock its author out; gantry does not enforce. */
	json_decref(r->policy);
	r->policy = json_stringn(text, len);
	reg__repo_save(reg_of(call), r);
	*out = repo_ids(call, r);
	json_object_set(*out, "policyText", r->policy);
	return 0;
}

static int ecr_get_repository_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	if (get_repo(call, in, &r, err) < 0)
		return -1;
	if (!r->policy)
		return no_policy(call, r, err);
	*out = repo_ids(call, r);
	json_object_set(*out, "policyText", r->policy);
	return 0;
}

static int ecr_delete_repository_policy(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	if (get_repo(call, in, &r, err) < 0)
		return -1;
	if (!r->policy)
		return no_policy(call, r, err);
	*out = repo_ids(call, r);
	json_object_set(*out, "policyText", r->policy);
	json_decref(r->policy);
	r->policy = NULL;
	reg__repo_save(reg_of(call), r);
	return 0;
}

/* Layer uploads: the same upload sessions as the /v2/ API's (one owner key per repository), so an
 * upload started here could be finished there and the other way round. */

static char *upload_owner(struct api_call *call, struct reg_repo *r)
{
	return xasprintf("%s/%s/%s", call->account, call->region, r->name);
}

static int get_upload(struct api_call *call, json_t *in, struct reg_repo *r, struct blobs_upload **u,
		      struct err **err)
{
	const char *id;
	if (jv_str(in, "uploadId", true, &id, err) < 0)
		return -1;
	char *owner = upload_owner(call, r);
	*u = blobs_upload_find(reg_of(call)->blobs, owner, id);
	free(owner);
	if (!*u)
		return err_set(
			err, ERR_UPLOAD_NOT_FOUND,
			"The upload with id '%s' does not exist in the repository with name '%s' in the "
			"registry with id '%s' (finished, expired after %d s idle, or never started)",
			id, r->name, call->account, BLOBS_UPLOAD_IDLE_S);
	return 0;
}

static int ecr_initiate_layer_upload(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	if (get_repo(call, in, &r, err) < 0)
		return -1;
	char *owner = upload_owner(call, r);
	struct blobs_upload *u = blobs_upload_new(reg_of(call)->blobs, owner, err);
	free(owner);
	if (!u)
		return -1;
	*out = json_pack("{s:s,s:I}", "uploadId", blobs_upload_id(u), "partSize", (json_int_t)ECR_PART_SIZE);
	return 0;
}

/* InvalidLayerPartException with the members ECR's shape carries. */
static int bad_part(struct api_call *call, struct reg_repo *r, struct blobs_upload *u, struct err **err,
		    const char *why)
{
	long long have = blobs_upload_size(u);
	err_set(err, ERR_INVALID_LAYER_PART,
		"%s; the upload has %lld bytes, so the next part starts at byte %lld", why, have, have);
	json_t *f = json_pack("{s:s,s:s,s:s}", "registryId", call->account, "repositoryName", r->name,
			      "uploadId", blobs_upload_id(u));
	if (have > 0)
		json_object_set_new(f, "lastValidByteReceived", json_integer(have - 1));
	err_set_fields(err, jv_dump(f));
	json_decref(f);
	return -1;
}

static int ecr_upload_layer_part(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	struct blobs_upload *u;
	long long first, last;
	const char *b64;
	if (get_repo(call, in, &r, err) < 0 || jv_int(in, "partFirstByte", true, &first, NULL, err) < 0 ||
	    jv_int(in, "partLastByte", true, &last, NULL, err) < 0 ||
	    jv_str(in, "layerPartBlob", true, &b64, err) < 0 || get_upload(call, in, r, &u, err) < 0)
		return -1;
	if (first < 0 || last < 0)
		return err_set(err, ERR_INVALID_PARAM, "partFirstByte and partLastByte must be >= 0");
	size_t n = 0;
	char *part = enc_b64_decode(b64, json_string_length(json_object_get(in, "layerPartBlob")), &n);
	if (!part)
		return err_set(err, ERR_INVALID_PARAM, "layerPartBlob is not base64");
	char why[160];
	int rc = -1;
	if (blobs_upload_writer(u)) {
		bad_part(call, r, u, err, "the upload is being written by a registry (/v2/) request");
		goto out;
	}
	if (first != blobs_upload_size(u)) {
		snprintf(why, sizeof(why), "partFirstByte %lld does not continue the upload", first);
		bad_part(call, r, u, err, why);
		goto out;
	}
	if (n == 0 || last < first || (unsigned long long)(last - first) + 1 != n) {
		snprintf(why, sizeof(why),
			 "the part has %zu bytes, but partFirstByte %lld and partLastByte %lld "
			 "say %lld",
			 n, first, last, last >= first ? last - first + 1 : 0);
		bad_part(call, r, u, err, why);
		goto out;
	}
	struct err *e = NULL;
	if (blobs_upload_write(u, part, n, &e) < 0) {
		if (e->kind == ERR_TOO_LARGE)
			err_set(err, ERR_LIMIT_EXCEEDED, "%s", e->msg);
		else
			err_set(err, e->kind, "%s", e->msg);
		err_free(e);
		goto out;
	}
	*out = repo_ids(call, r);
	jv_set_str(*out, "uploadId", blobs_upload_id(u));
	json_object_set_new(*out, "lastByteReceived", json_integer(last));
	rc = 0;
out:
	free(part);
	return rc;
}

/* A CompleteLayerUpload waiting for its blob's commit (fsync and rename on the thread pool). */
struct reg_commit {
	struct reg *reg;
	struct api_call *call; /* NULL once answered (the server stopped meanwhile) */
	char *account, *region, *name, *upload_id;
	char digest[72];
	struct reg_commit *next, **pprev; /* in reg->commits */
};

static void on_layer_committed(void *arg, struct err *e)
{
	struct reg_commit *c = arg;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	json_t *out = NULL;
	struct err *fe = NULL;
	if (!c->call) {
		fe = e;
	} else if (e && (e->kind == ERR_INVALID_PARAM || e->kind == ERR_UNSUPPORTED)) {
		/* the bytes do not hash to the digest the client named */
		err_set(&fe, ERR_INVALID_LAYER, "%s", e->msg);
		err_free(e);
	} else if (e) {
		fe = e;
	} else {
		struct reg_repo *r = reg__repo(c->reg, c->account, c->region, c->name);
		if (!r) {
			err_set(&fe, ERR_REPO_NOT_FOUND,
				"The repository with name '%s' was deleted during the upload", c->name);
		} else if (json_object_get(r->blobs, c->digest)) {
			err_set(&fe, ERR_LAYER_EXISTS,
				"The layer %s already exists in the repository with name '%s' in the "
				"registry with "
				"id '%s'",
				c->digest, r->name, c->account);
		} else {
			reg__blob_link(r, c->digest, blobs_size(c->reg->blobs, c->digest));
			reg__repo_save(c->reg, r);
			out = json_pack("{s:s,s:s,s:s,s:s}", "registryId", c->account, "repositoryName",
					r->name, "uploadId", c->upload_id, "layerDigest", c->digest);
		}
	}
	if (c->call)
		api_call_finish(c->call, out, fe); /* the answer waits for the store */
	else
		err_free(fe);
	free(c->account);
	free(c->region);
	free(c->name);
	free(c->upload_id);
	free(c);
}

static int ecr_complete_layer_upload(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	struct blobs_upload *u;
	json_t *digests;
	(void)out;
	if (get_repo(call, in, &r, err) < 0 || jv_str_array(in, "layerDigests", true, &digests, err) < 0)
		return -1;
	if (json_array_size(digests) < 1 || json_array_size(digests) > ECR_LAYERS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "layerDigests must hold 1 to %d digests",
			       ECR_LAYERS_MAX);
	const char *digest = json_string_value(json_array_get(digests, 0));
	size_t i;
	json_t *v;
	json_array_foreach (digests, i, v) {
		const char *d = json_string_value(v);
		if (reg_digest_check(d, NULL) < 0 || strncmp(d, "sha256:", 7) != 0)
			return err_set(
				err, ERR_INVALID_PARAM,
				"layerDigests[%zu]: '%.80s' is not a sha256 digest (sha256:<64 hex digits>)",
				i, d);
		if (strcmp(d, digest) != 0)
			return err_set(err, ERR_INVALID_LAYER,
				       "layerDigests name different digests (%.80s, %.80s); a layer has one",
				       digest, d);
	}
	if (get_upload(call, in, r, &u, err) < 0)
		return -1;
	if (blobs_upload_writer(u))
		return err_set(err, ERR_INVALID_PARAM,
			       "upload %s is being written by a registry (/v2/) request", blobs_upload_id(u));
	if (blobs_upload_size(u) == 0)
		return err_set(
			err, ERR_EMPTY_UPLOAD,
			"The upload with id '%s' does not contain any layer parts (UploadLayerPart first)",
			blobs_upload_id(u));
	struct reg *reg = reg_of(call);
	struct reg_commit *c = xcalloc(1, sizeof(*c));
	c->reg = reg;
	c->call = call;
	c->account = xstrdup(call->account);
	c->region = xstrdup(call->region);
	c->name = xstrdup(r->name);
	c->upload_id = xstrdup(blobs_upload_id(u));
	snprintf(c->digest, sizeof(c->digest), "%s", digest);
	c->next = reg->commits;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &reg->commits;
	reg->commits = c;
	/* The callback may run (and answer) before this returns; c is not touched after. */
	blobs_upload_commit(u, c->digest, on_layer_committed, c);
	return API_LATER;
}

void reg__ecr_stop(struct reg *reg)
{
	for (struct reg_commit *c = reg->commits; c; c = c->next) {
		if (!c->call)
			continue;
		struct err *e = NULL;
		err_set(&e, ERR_UNAVAILABLE,
			"the server is shutting down; the upload's outcome is unknown: check with "
			"BatchCheckLayerAvailability and upload again if the layer is missing");
		api_call_finish(c->call, NULL, e);
		c->call = NULL;
	}
}

/* Download URLs */

/* Does an image of r refer to blob d (as its config or one of its layers)? */
static bool layer_in_image(struct reg_repo *r, const char *d)
{
	const char *k;
	json_t *rec;
	json_object_foreach (r->images, k, rec) {
		json_t *m = json_object_get(rec, "imageManifest");
		struct reg_manifest *man = reg_manifest_parse(
			json_string_value(m), json_string_length(m),
			json_string_value(json_object_get(rec, "imageManifestMediaType")), NULL);
		bool found = man && man->has_config && strcmp(man->config.digest, d) == 0;
		bool index = man && (man->kind == REG_KIND_OCI_INDEX || man->kind == REG_KIND_DOCKER_LIST);
		for (size_t i = 0; man && !index && !found && i < man->nitems; i++)
			found = strcmp(man->items[i].digest, d) == 0;
		reg_manifest_free(man);
		if (found)
			return true;
	}
	return false;
}

static int ecr_get_download_url_for_layer(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	struct reg_repo *r;
	const char *d;
	if (get_repo(call, in, &r, err) < 0 || jv_str(in, "layerDigest", true, &d, err) < 0)
		return -1;
	if (reg_digest_check(d, NULL) < 0)
		return err_set(
			err, ERR_INVALID_PARAM,
			"Invalid parameter at 'layerDigest' failed to satisfy constraint: 'Member must "
			"satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
	struct reg *reg = reg_of(call);
	if (!json_object_get(r->blobs, d) || blobs_size(reg->blobs, d) < 0)
		return err_set(
			err, ERR_LAYERS_NOT_FOUND,
			"The layer with digest '%s' does not exist in the repository with name '%s' in the "
			"registry with id '%s'",
			d, r->name, call->account);
	if (!layer_in_image(r, d))
		return err_set(
			err, ERR_LAYER_INACCESSIBLE,
			"The layer with digest '%s' is not referenced by any image in the repository with "
			"name '%s'",
			d, r->name);
	char *scope = xasprintf("%s@%s", r->name, d);
	char *tok =
		reg__url_token_make(reg, call->access_key, call->region, clock_now() + ECR_URL_TTL_S, scope);
	char *url = xasprintf("http://%s/v2/%s/blobs/%s?X-Gantry-Credential=%s", registry_host(call), r->name,
			      d, tok);
	*out = json_pack("{s:s,s:s}", "downloadUrl", url, "layerDigest", d);
	free(url);
	free(tok);
	free(scope);
	return 0;
}

static const struct api_op ecr_ops[] = {
	{"BatchCheckLayerAvailability", ecr_batch_check_layer_availability},
	{"BatchDeleteImage", ecr_batch_delete_image},
	{"BatchGetImage", ecr_batch_get_image},
	{"CompleteLayerUpload", ecr_complete_layer_upload},
	{"CreateRepository", ecr_create_repository},
	{"DeleteLifecyclePolicy", ecr_delete_lifecycle_policy},
	{"DeleteRepository", ecr_delete_repository},
	{"DeleteRepositoryPolicy", ecr_delete_repository_policy},
	{"DescribeImages", ecr_describe_images},
	{"DescribeRepositories", ecr_describe_repositories},
	{"GetAuthorizationToken", ecr_get_authorization_token},
	{"GetDownloadUrlForLayer", ecr_get_download_url_for_layer},
	{"GetLifecyclePolicy", ecr_get_lifecycle_policy},
	{"GetLifecyclePolicyPreview", ecr_get_lifecycle_policy_preview},
	{"GetRepositoryPolicy", ecr_get_repository_policy},
	{"InitiateLayerUpload", ecr_initiate_layer_upload},
	{"ListImages", ecr_list_images},
	{"ListTagsForResource", ecr_list_tags_for_resource},
	{"PutImage", ecr_put_image},
	{"PutImageTagMutability", ecr_put_image_tag_mutability},
	{"PutLifecyclePolicy", ecr_put_lifecycle_policy},
	{"SetRepositoryPolicy", ecr_set_repository_policy},
	{"StartLifecyclePolicyPreview", ecr_start_lifecycle_policy_preview},
	{"TagResource", ecr_tag_resource},
	{"UntagResource", ecr_untag_resource},
	{"UploadLayerPart", ecr_upload_layer_part},
};

void reg_add_to_api(struct reg *reg, struct api *api)
{
	reg__save_key(reg);
	reg__gc_start(reg);
	api_add_service(api, ECR_TARGET_PREFIX, ECR_SIGNING_NAME, ecr_ops,
			sizeof(ecr_ops) / sizeof(ecr_ops[0]), reg);
	reg__lifecycle_start(reg);
}
