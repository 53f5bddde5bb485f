/* The agent's image store: images pulled by reference from gantry's registry or any OCI
 * distribution registry, kept under a directory as verified blobs and unpacked layer trees that
 * overlayfs can stack, reused across tasks and agent restarts, and removed once no task has used
 * them for a while. Loop thread only; downloads run on hcli, unpacking and removal on the libuv
 * thread pool.
 *
 * On disk (DIR is the store's directory, e.g. STATE/images):
 *   DIR/blobs/sha256/<hex>        manifests and image configs, each verified against its digest
 *                                 (layer blobs pass through here while they download and are
 *                                 removed once unpacked: the unpacked tree is what is kept)
 *   DIR/layers/sha256/<hex>/fs    a layer's tree, keyed by the digest of its (compressed) blob
 *   DIR/layers/sha256/<hex>/layer.json   {"digest", "diffId"}: what unpacking it computed
 *   DIR/images/<hex>.json         an image (its manifest's digest): config and layer digests
 *   DIR/refs.json                 references pulled by tag -> the manifest digest they resolved to
 *   DIR/tmp/, DIR/trash/          layers being unpacked, trees being removed
 * Every file and tree appears by an atomic rename once complete, so a crash leaves either nothing
 * or the whole thing; what a crash leaves half done (and anything no image record refers to) is
 * removed when a store opens the directory again.
 *
 * Pulling a reference ("127.0.0.1:7700/app:v1", "busybox" = docker.io/library/busybox:latest,
 * "host/app@sha256:..."): the manifest is got with the four manifest and index media types in
 * Accept (OCI and Docker schema 2); an index picks the manifest for linux and the store's
 * architecture (variant ignored); the config and every layer are pulled with their digest checked
 * as the bytes arrive and bounded by their descriptor's size; each layer is unpacked once per
 * digest with unpack_layer() (libarchive: whiteouts, opaque directories, nothing written outside
 * the layer) into a temporary directory renamed into place, and its diff_id must be the one the
 * config's rootfs.diff_ids gives. Concurrent pulls share work: one resolution per reference, one
 * pull per manifest, one download and unpack per layer. A failed pull leaves nothing behind.
 *
 * Credentials: for gantry's own registry (the same HOST:PORT as the agent's server endpoint) the
 * store gets a registry password with ECR GetAuthorizationToken, signed with the agent's
 * credentials, and keeps it until shortly before it expires. Other registries are used anonymously
 * (with the Bearer token flow when they ask for it); docker's config.json credentials and ECS
 * repositoryCredentials are not supported.
 *
 * Errors say what ECS says after "CannotPullContainerError: " (see IMAGE_PULL_ERROR), e.g. "pull
 * image manifest has been retried 1 time(s): failed to resolve ref 127.0.0.1:7700/nope:latest:
 * 127.0.0.1:7700/nope:latest: not found". */
#ifndef GANTRY_IMAGE_H
#define GANTRY_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/unpack.h"
#include "api/awsc.h"
#include "common/err.h"
#include "common/hcli.h"
#include "registry/manifest.h"

/* What the runtime puts before a pull error's message in a container's stopped reason. */
#define IMAGE_PULL_ERROR "CannotPullContainerError"

#define IMAGE_UNUSED_FOR_S_DEFAULT  3600.0 /* ECS_IMAGE_MINIMUM_CLEANUP_AGE: 1 hour */
#define IMAGE_GC_INTERVAL_S_DEFAULT 1800.0 /* ECS_IMAGE_CLEANUP_INTERVAL: 30 minutes */
#define IMAGE_DOWNLOADS_DEFAULT	    3	   /* layers downloading at once (docker's default) */
#define IMAGE_RETRIES_DEFAULT	    2	   /* manifest requests retried after a transport error or 5xx */
#define IMAGE_RETRY_DELAY_MS	    1000   /* before the first retry; doubles */
#define IMAGE_LAYER_MAX		    (52000LL * 1024 * 1024) /* a layer blob: ECR's limit */
#define IMAGE_RECORD_MAX	    (1u << 20)	/* bytes of an image record or layer.json read back */
#define IMAGE_REFS_MAX		    (16u << 20) /* bytes of refs.json read back */
#define IMAGE_TOKEN_MARGIN_S	    900.0	/* an ECR password is replaced this long before it expires */

/* When the registry is asked about a reference already in the store (ECS_IMAGE_PULL_BEHAVIOR). A
 * reference by digest is never asked again once its image is stored. */
enum image_pull_policy {
	IMAGE_PULL_DEFAULT,	  /* ask; if that fails, use the stored image the reference last gave */
	IMAGE_PULL_ALWAYS,	  /* ask; if that fails, the pull fails */
	IMAGE_PULL_PREFER_CACHED, /* use the stored image when the reference has one, else ask */
};

/* ECS_IMAGE_PULL_BEHAVIOR's values: "default", "always", "once" and "prefer-cached" ("once" is
 * prefer-cached here: the store only holds what the agent pulled). Returns 0, or -1 with *err
 * (ERR_INVALID_PARAM naming the values). */
int image_pull_policy_parse(const char *s, enum image_pull_policy *out, struct err **err);

struct image_store_opts {
	/* The agent's server endpoint ("http://127.0.0.1:7700"): its HOST:PORT is gantry's own
	 * registry, reached with the endpoint's scheme. NULL: no registry is gantry's. */
	const char *server;
	/* Signs GetAuthorizationToken for gantry's registry (borrowed; must outlive the store). NULL:
	 * gantry's registry is tried anonymously like any other. */
	struct awsc *aws;
	/* Registries ("HOST[:PORT]") reached over http; every other one over https, except
	 * localhost, 127.0.0.0/8 and [::1] (docker's rule) and the server's. Borrowed for the call. */
	const char *const *insecure;
	size_t ninsecure;
	const char *arch; /* the platform picked from an index: "amd64", "arm64"; NULL: this host's */
	enum image_pull_policy policy;
	double unused_for_s;	     /* the periodic collection's age; 0: IMAGE_UNUSED_FOR_S_DEFAULT */
	double gc_interval_s;	     /* between collections; 0: IMAGE_GC_INTERVAL_S_DEFAULT; < 0: none */
	unsigned downloads;	     /* 0: IMAGE_DOWNLOADS_DEFAULT */
	int retries;		     /* manifest retries; 0: IMAGE_RETRIES_DEFAULT; < 0: none */
	unsigned retry_delay_ms;     /* 0: IMAGE_RETRY_DELAY_MS */
	struct unpack_limits limits; /* per layer; zero fields take unpack.h's defaults */
};

/* A stored image. Everything is owned by the store and stays valid while the caller holds a
 * reference (see image_pull and image_use). */
struct image {
	const char *digest; /* the manifest's ("sha256:<hex>"); for an index, the platform's manifest */
	const char *config_digest;
	/* The image config: config->doc is the whole document ({"config": {"Env", "Entrypoint",
	 * "Cmd", "WorkingDir", "User", "StopSignal", ...}, "rootfs": ...}), what ocispec_in.image_config
	 * takes; the other members are its parsed parts. */
	const struct reg_config *config;
	/* The layers' trees, lowest first: overlayfs wants them the other way round, topmost first,
	 * in lowerdir=. A layer that occurs twice in the manifest occurs twice here. The paths are
	 * long (DIR/layers/sha256/<64 hex>/fs): a mount of many layers may have to use paths relative
	 * to DIR/layers to stay under the page-sized limit of mount options, as containerd does. */
	const char *const *layers;
	const char *const *layer_digests; /* the blobs' digests, in the same order */
	size_t nlayers;
};

/* Counters, for tests and logs. */
struct image_stats {
	unsigned long manifest_gets; /* manifest requests answered (any status) */
	unsigned long blob_gets;     /* blob downloads started (configs and layers) */
	unsigned long unpacked;	     /* layers unpacked */
	unsigned long token_gets;    /* GetAuthorizationToken calls */
	unsigned long removed_images, removed_layers;
};

struct image_store;
struct image_pull;

/* Opens (creating it, mode 0700) the store in dir on loop, with http (borrowed: must outlive the
 * store) for its requests. Reads what an earlier store left: images whose record, config and
 * layers are all there are kept (each counts as used now); everything else is removed (on the
 * thread pool). o may be NULL for the defaults. Returns a new store, or NULL with *err (ERR_SYS when
 * the directory cannot be made or read). */
struct image_store *image_store_new(uv_loop_t *loop, struct hcli *http, const char *dir,
				    const struct image_store_opts *o, struct err **err);
/* Closes the store: every pull still waiting gets its callback now with ERR_UNAVAILABLE "cancelled";
 * requests are cancelled; done(arg) runs on the loop once the work on the thread pool has finished
 * and the store's memory is gone (done may be NULL). Images the caller holds become invalid.
 * Accepts NULL (then done is not called). */
void image_store_close(struct image_store *s, void (*done)(void *arg), void *arg);
/* image_store_close without a callback. */
void image_store_free(struct image_store *s);

/* Called once per image_pull on the loop. On success img is the image with a reference held for
 * the caller (release it with image_unuse) and e is NULL; on failure img is NULL and e says why
 * (borrowed for the call): its message is what follows IMAGE_PULL_ERROR ": " in ECS's reason.
 * Kinds: ERR_IMAGE_NOT_FOUND / ERR_REPO_NOT_FOUND (no such tag, digest or repository),
 * ERR_ACCESS_DENIED, ERR_UNAVAILABLE (the registry cannot be reached, or cancelled),
 * ERR_UNSUPPORTED (no manifest for the platform, a media type not handled), ERR_INVALID_PARAM (a
 * blob that does not match its digest, a bad manifest, config or layer), ERR_SYS, ERR_TOO_LARGE. */
typedef void (*image_pull_fn)(void *arg, const struct image *img, const struct err *e);

/* Pulls ref (an image reference as docker reads it; see reg_image_ref_parse) as the store's policy
 * says. done is called later, never from inside this call. Returns a handle for image_pull_cancel,
 * valid until done is called, or NULL with *err (ERR_INVALID_PARAM "invalid reference format: ...")
 * when ref cannot be read; done is then not called. */
struct image_pull *image_pull(struct image_store *s, const char *ref, image_pull_fn done, void *arg,
			      struct err **err);
/* Gives up waiting: done is called now with ERR_UNAVAILABLE "cancelled" (whatever the caller's
 * callback owns can be released in one place). The pull itself goes on for other waiters and
 * keeps its result. Accepts NULL. */
void image_pull_cancel(struct image_pull *p);

/* Takes one more reference on img (another task uses it). Returns img. */
const struct image *image_use(struct image_store *s, const struct image *img);
/* Drops a reference; with the last one the image's unused time starts. Accepts NULL img. */
void image_unuse(struct image_store *s, const struct image *img);

/* Removes every image that no one holds a reference on and that has been unused for at least
 * unused_for_s seconds, and the layers no remaining image has: they are gone from the store (and
 * their paths from the directory) when this returns; the trees are deleted on the thread pool.
 * References that named a removed image are forgotten. Runs on its own every gc_interval_s.
 * Returns the number of images removed. */
unsigned image_gc(struct image_store *s, double unused_for_s);

/* The image a reference last resolved to in this store, without asking any registry, or NULL.
 * Borrowed: take a reference with image_use to keep it. */
const struct image *image_find(struct image_store *s, const char *ref);
/* The store's counters. */
struct image_stats image_store_stats(const struct image_store *s);

#endif
