/* Manifests, image indexes and image configs (OCI image spec v1.1 and Docker image manifest v2
 * schema 2 / manifest lists): parsing and schema checks of untrusted bytes, for the registry (what
 * is pushed), `gantry image import` (what it builds) and the agent (what it pulls). */
#ifndef GANTRY_REG_MANIFEST_H
#define GANTRY_REG_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define REG_MANIFEST_MAX    (4u * 1024 * 1024) /* OCI distribution spec: registries SHOULD accept 4 MiB */
#define REG_CONFIG_MAX	    (8u * 1024 * 1024) /* an image config (history and env can be long) */
#define REG_DESCRIPTORS_MAX 10000	       /* layers in a manifest, or manifests in an index */

#define REG_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define REG_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define REG_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define REG_MT_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define REG_MT_OCI_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define REG_MT_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"
#define REG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REG_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define REG_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define REG_MT_DOCKER_LAYER    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define REG_MT_OCI_EMPTY       "application/vnd.oci.empty.v1+json"

enum reg_manifest_kind {
	REG_KIND_OCI_MANIFEST,
	REG_KIND_OCI_INDEX,
	REG_KIND_DOCKER_MANIFEST,
	REG_KIND_DOCKER_LIST,
};

/* A content descriptor. Strings owned by the manifest that holds it. */
struct reg_descriptor {
	const char *media_type;
	const char *digest;	       /* checked with reg_digest_check */
	long long size;		       /* >= 0 */
	const char *artifact_type;     /* or NULL */
	const char *os, *architecture; /* index entries: platform, or NULL */
	const char *variant;	       /* or NULL */
};

struct reg_manifest {
	enum reg_manifest_kind kind;
	const char *media_type;	   /* the kind's media type (what Content-Type to serve it with) */
	const char *artifact_type; /* artifactType, or for a manifest without one the config's
				    * mediaType (the referrers API's rule, which also gives ECR's
				    * artifactMediaType); NULL for an index without one */
	bool has_config;
	struct reg_descriptor config; /* manifests */
	struct reg_descriptor *items; /* manifests: layers; indexes: manifests */
	size_t nitems;
	bool has_subject;
	struct reg_descriptor subject;
	json_t *annotations; /* borrowed from doc, or NULL */
	json_t *doc;	     /* the parsed document (owned) */
};

/* Parses and schema-checks n bytes as a manifest or index. content_type is the Content-Type it
 * was pushed with (NULL or "" to go by the document's own mediaType; parameters are ignored). The
 * kind comes from the content type when given, else from mediaType, else (OCI makes mediaType a
 * SHOULD) from the shape: "manifests" makes an OCI index, anything else an OCI manifest. Docker
 * documents must carry their mediaType. A document whose mediaType disagrees with the content type
 * is refused, as is anything over REG_MANIFEST_MAX, not a JSON object, with duplicate members, with
 * schemaVersion other than 2, missing or mistyped required members, descriptors with bad digests,
 * media types or negative sizes, more than REG_DESCRIPTORS_MAX items, or members of the other
 * family (an index with config or layers, a manifest with manifests). artifactType, subject and
 * annotations are read for the OCI kinds only; unknown members are ignored. Docker schema 1
 * manifests, media types that are not one of the four kinds and well-formed digests of other
 * algorithms than sha256/sha512 are refused with ERR_UNSUPPORTED. Returns a new manifest, or NULL
 * with *err (ERR_INVALID_PARAM: the message says which member is wrong, e.g. "layers[2].digest:
 * ..."). */
struct reg_manifest *reg_manifest_parse(const char *bytes, size_t n, const char *content_type,
					struct err **err);
void reg_manifest_free(struct reg_manifest *m);

/* The parts of an image config the platform uses. Strings and arrays owned by the config. */
struct reg_config {
	const char *os, *architecture, *variant;
	const char *user, *working_dir, *stop_signal;
	const char **env; /* "K=V" */
	size_t nenv;
	const char **entrypoint;
	size_t nentrypoint;
	const char **cmd;
	size_t ncmd;
	const char **exposed_ports; /* "80/tcp" */
	size_t nexposed;
	const char **diff_ids; /* rootfs.diff_ids */
	size_t ndiff_ids;
	json_t *labels; /* borrowed from doc, or NULL */
	json_t *doc;	/* owned */
};

/* Parses an image config (OCI or Docker; both share the shape): bounded by REG_CONFIG_MAX, checks
 * the types of the members it reads (config.Env an array of "NAME=VALUE" strings, ExposedPorts keys
 * "PORT[/tcp|/udp|/sctp]", ...), requires os and architecture and rootfs.type "layers" with
 * rootfs.diff_ids (each checked with reg_digest_check). Returns a new config or NULL with *err
 * (ERR_INVALID_PARAM, or ERR_UNSUPPORTED for a diff_id of another algorithm). */
struct reg_config *reg_config_parse(const char *bytes, size_t n, struct err **err);
void reg_config_free(struct reg_config *c);

#endif
