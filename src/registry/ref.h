/* The names of the OCI distribution spec (repository names, tags, digests) and image references as
 * users write them ("127.0.0.1:7700/app:1.0", "busybox", "repo@sha256:..."). Pure functions over
 * untrusted text: every check bounds its input and says what is wrong and where. */
#ifndef GANTRY_REG_REF_H
#define GANTRY_REG_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define REG_NAME_MAX   256  /* ECR: repository names are 2 to 256 characters */
#define REG_TAG_MAX    128  /* OCI distribution spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
#define REG_DIGEST_MAX 135  /* "sha512:" and 128 hex digits */
#define REG_REF_MAX    1024 /* a whole image reference */

/* Checks a repository name against the OCI distribution spec's grammar
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* and ECR's length bounds
 * (2..REG_NAME_MAX). Returns 0, or -1 with *err (ERR_INVALID_PARAM; the message quotes the name and
 * names the offending character's position). */
int reg_name_check(const char *name, struct err **err);

/* Checks a tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. Returns 0 or -1 with *err (ERR_INVALID_PARAM). */
int reg_tag_check(const char *tag, struct err **err);

/* Checks a digest "algorithm:encoded". Accepted: sha256 (64 lowercase hex digits) and sha512 (128).
 * A well-formed digest of another algorithm ([a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+) is
 * refused with ERR_UNSUPPORTED; anything else with ERR_INVALID_PARAM. Returns 0 or -1 with *err. */
int reg_digest_check(const char *digest, struct err **err);

/* True when s looks like a digest (contains ':'), i.e. a manifest reference by digest rather than
 * by tag; it still has to pass reg_digest_check. */
bool reg_ref_is_digest(const char *s);

/* An image reference split into its parts (all owned, NULL when absent). */
struct reg_image_ref {
	char *registry;	  /* "127.0.0.1:7700", "docker.io", ... */
	char *repository; /* "app", "library/busybox", ... */
	char *tag;	  /* "1.0"; "latest" when neither tag nor digest is given */
	char *digest;	  /* "sha256:..." when given with '@' */
};

/* Parses an image reference as docker and podman read it: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].
 * The first component is a registry when it contains '.' or ':' or is "localhost"; otherwise the
 * registry is "docker.io" (and a one-component repository there gets "library/"; "index.docker.io"
 * is read as "docker.io"). Both tag and digest may be given. Every part is checked (the registry
 * as HOST[:PORT] or [IPv6][:PORT], reg_name_check, reg_tag_check, reg_digest_check). Returns 0 and
 * fills *out, or -1 with *err (ERR_INVALID_PARAM, or ERR_UNSUPPORTED from reg_digest_check) leaving
 * *out empty. */
int reg_image_ref_parse(const char *s, struct reg_image_ref *out, struct err **err);
/* Frees the parts of r (not r itself). Accepts NULL. */
void reg_image_ref_release(struct reg_image_ref *r);

#endif
