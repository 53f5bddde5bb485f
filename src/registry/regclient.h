/* A client for a registry's OCI distribution API (/v2/) on hcli, so on the libuv loop: the
 * authentication docker and podman do (anonymous, Basic, or a Bearer token fetched from the realm
 * a 401 challenge names, per repository scope, renewed once when a request is refused), blob
 * pushes (HEAD to skip one the registry has, then POST + monolithic PUT streamed from a file),
 * manifest pushes by tag or digest, manifest pulls, and blob pulls (redirects followed, the bytes
 * hashed and bounded as they arrive). One client per registry; loop thread only. `gantry image
 * import` pushes with it; the agent's image store (agent/image.h) pulls with it. */
#ifndef GANTRY_REGCLIENT_H
#define GANTRY_REGCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/hcli.h"

#define REGCLIENT_TIMEOUT_MS	  (60L * 1000)	 /* one request without a blob in its body */
#define REGCLIENT_BLOB_TIMEOUT_MS (3600L * 1000) /* one blob upload */
#define REGCLIENT_CHALLENGE_MAX	  4096		 /* a WWW-Authenticate header we parse */
#define REGCLIENT_REDIRECTS_MAX	  5		 /* redirects followed by one blob pull */

struct regclient;

/* What an operation ended with; valid only during the callback. */
struct regclient_result {
	const struct err *err;	/* NULL on success, else why it failed (see the kinds below) */
	bool existed;		/* blob push: the registry had the blob already: nothing was sent */
	const char *digest;	/* manifest put / get: the manifest's digest */
	const char *media_type; /* manifest get: its Content-Type */
	const char *body;	/* manifest get, blob get into memory: its bytes (NUL-terminated) */
	size_t len;
};

/* Called once per operation on the loop thread. Error kinds: ERR_ACCESS_DENIED (the registry
 * refused the credentials), ERR_REPO_NOT_FOUND (NAME_UNKNOWN), ERR_IMAGE_NOT_FOUND (MANIFEST_UNKNOWN),
 * ERR_LAYERS_NOT_FOUND (BLOB_UNKNOWN, MANIFEST_BLOB_UNKNOWN), ERR_UNAVAILABLE (a 5xx, a transport
 * failure, or cancelled by regclient_free), ERR_CLIENT (any other refusal; the message carries the
 * registry's error code and message), ERR_INVALID_PARAM (blob get: the bytes do not match the
 * digest, or there are more or fewer than the size), ERR_SYS (blob get: the file cannot be
 * written). */
typedef void (*regclient_done_fn)(void *arg, const struct regclient_result *r);

/* A client for the registry at base ("http://HOST:PORT" or https; a trailing '/' is ignored) that
 * logs in as user / password when the registry asks (both may be NULL: anonymous). http is
 * borrowed and must outlive it. Returns NULL with *err (ERR_INVALID_PARAM) for a bad base URL. */
struct regclient *regclient_new(struct hcli *http, const char *base, const char *user, const char *password,
				struct err **err);
/* Cancels the operations still running (their callbacks run now, with ERR_UNAVAILABLE
 * "cancelled") and frees the client. Accepts NULL. */
void regclient_free(struct regclient *c);

/* Replaces the credentials the client logs in with (both NULL: anonymous) and forgets the tokens
 * got with the old ones (an ECR password about to expire is replaced this way). Operations running
 * keep the Authorization they have. Copies both. */
void regclient_set_credentials(struct regclient *c, const char *user, const char *password);

/* Called with the Authorization header value for a scope (NULL when the registry needs none), or
 * with err set. Both borrowed for the call. */
typedef void (*regclient_auth_fn)(void *arg, const char *authorization, const struct err *err);
/* Gets the Authorization value for scope (e.g. "repository:app/web:pull,push"): from the cache, or
 * by probing GET /v2/ and, for a Bearer challenge, asking its realm for a token (with Basic
 * credentials when the client has them). refresh drops the cached value first (after a 401). done
 * runs before this returns when the value is cached. The operations below do this themselves; it
 * is public for other requests to the same registry. */
void regclient_auth(struct regclient *c, const char *scope, bool refresh, regclient_auth_fn done, void *arg);

/* Pushes the file at path as blob digest ("sha256:<hex>") of repository repo. Returns 0 (done is
 * called later, once) or -1 with *err (ERR_INVALID_PARAM for a bad name or digest, ERR_SYS when
 * the file cannot be opened; done is not called). */
int regclient_blob_push(struct regclient *c, const char *repo, const char *digest, const char *path,
			regclient_done_fn done, void *arg, struct err **err);
/* Pushes manifest bytes (copied) as ref (a tag or a digest) of repo with Content-Type media_type.
 * The result's digest is the registry's Docker-Content-Digest, which must be the bytes' digest.
 * Returns 0 or -1 with *err (ERR_INVALID_PARAM) as regclient_blob_push. */
int regclient_manifest_put(struct regclient *c, const char *repo, const char *ref, const char *media_type,
			   const char *bytes, size_t len, regclient_done_fn done, void *arg,
			   struct err **err);
/* Gets manifest ref (tag or digest) of repo, accepting the OCI and Docker manifest and index
 * types. Returns 0 or -1 with *err (ERR_INVALID_PARAM) as regclient_blob_push. */
int regclient_manifest_get(struct regclient *c, const char *repo, const char *ref, regclient_done_fn done,
			   void *arg, struct err **err);

/* Pulls blob digest ("sha256:<hex>" or "sha512:<hex>") of repository repo, which the caller's
 * descriptor says is size bytes (>= 0). GET /v2/<repo>/blobs/<digest>, following up to
 * REGCLIENT_REDIRECTS_MAX redirects (301, 302, 303, 307, 308; a relative Location is resolved
 * against the request's URL) as docker does: the Authorization goes along while the target is the
 * registry itself (same scheme, host and port) and is dropped for any other host, such as a
 * storage service's pre-signed URL. The body of the final 2xx answer is hashed as it arrives and
 * refused as soon as it runs past size bytes.
 * - dest non-NULL: the bytes are written to a new temporary file beside dest (dest.XXXXXX, created
 *   now) and renamed to dest only once their digest and size are right; on any failure the
 *   temporary file is removed and dest is not touched. The file is not fsynced: a caller that
 *   needs it to survive a power loss syncs it (or, like the agent, checks it again after a
 *   restart).
 * - dest NULL: the bytes are kept in memory and handed to done as the result's body / len (for
 *   small blobs: image configs).
 * Returns 0 (done is called later, once) or -1 with *err (ERR_INVALID_PARAM for a bad name, digest
 * or size, ERR_SYS when the temporary file cannot be created; done is not called). */
int regclient_blob_get(struct regclient *c, const char *repo, const char *digest, long long size,
		       const char *dest, regclient_done_fn done, void *arg, struct err **err);

/* Parses a WWW-Authenticate challenge `Scheme k="v", k2=v2` (RFC 7235; at most
 * REGCLIENT_CHALLENGE_MAX bytes, quoted values with backslash escapes) into new strings: its
 * scheme and its realm and service parameters (NULL when absent). Returns 0, or -1 (nothing to
 * free) when it cannot be read. Exposed for tests and the fuzz target: the text is the registry's. */
int regclient_parse_challenge(const char *h, char **scheme, char **realm, char **service);

#endif
