/* Builds an OCI image (one gzip layer, an image config and a manifest) from a root filesystem: a
 * directory or a tar file. Reproducible: the same tree and options give the same digests, whatever
 * the files' times, owners or the order a tar file lists them in. Used by `gantry image import`. */
#ifndef GANTRY_IMGBUILD_H
#define GANTRY_IMGBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define IMGBUILD_ENTRIES_MAX 1000000		/* files, directories and links in a layer */
#define IMGBUILD_PATH_MAX    4096		/* one entry's path inside the layer */
#define IMGBUILD_DEPTH_MAX   256		/* directory nesting in a source directory */
#define IMGBUILD_LAYER_MAX   (16LL << 30)	/* the bytes of file data in a layer */
#define IMGBUILD_ARGS_MAX    1024		/* elements of Cmd or Entrypoint, env vars, ports, labels */
#define IMGBUILD_ARG_MAX     (128u * 1024)	/* one of them, in bytes */
#define IMGBUILD_INDEX_MAX   (4u * 1024 * 1024) /* an existing OCI layout's index.json */

/* What to build. Arrays are borrowed for the call. */
struct imgbuild_opts {
	const char *source;	/* a directory, or a tar file (uncompressed, gzip, bzip2, xz or zstd) */
	const char *const *cmd; /* config.Cmd; NULL for none (with ncmd 0 and non-NULL: []) */
	size_t ncmd;
	const char *const *entrypoint; /* config.Entrypoint, like cmd */
	size_t nentrypoint;
	const char *const *env; /* "NAME=VALUE" */
	size_t nenv;
	const char *workdir;	   /* config.WorkingDir (absolute), or NULL */
	const char *const *expose; /* "PORT" or "PORT/tcp|udp|sctp" */
	size_t nexpose;
	const char *const *labels; /* "KEY=VALUE" */
	size_t nlabels;
	long long epoch;  /* the mtime of every entry and the config's "created" (SOURCE_DATE_EPOCH
			   * style), 0 to 253402300799 */
	bool keep_owner;  /* keep the files' uid and gid (else every entry is 0:0) */
	const char *arch; /* architecture (NULL: "amd64") */
};

/* One blob of the image, stored as DIR/blobs/sha256/<hex>. */
struct imgbuild_blob {
	char digest[72];	/* "sha256:<hex>" */
	long long size;		/* bytes */
	const char *media_type; /* static */
	char *path;		/* the file */
};

/* A built image. */
struct imgbuild_image {
	struct imgbuild_blob layer, config, manifest;
	char diff_id[72];	/* sha256 of the uncompressed layer (the config's rootfs.diff_ids[0]) */
	char *config_json;	/* the config's bytes (NUL-terminated) */
	char *manifest_json;	/* the manifest's bytes (NUL-terminated) */
	unsigned long nentries; /* entries in the layer */
};

/* Builds the image described by o into dir, which becomes (or stays) an OCI image layout: the
 * blobs go to dir/blobs/sha256/ (created as needed) and dir/oci-layout is written; index.json is
 * left to imgbuild_layout_add. The layer is a pax tar (extended headers only where ustar cannot
 * say it) compressed with gzip without a name or time in its header. Entries are sorted by path
 * (bytewise), their mtime is o->epoch, uid/gid 0 unless o->keep_owner, with no user or group
 * names, access or change times or extended attributes; permission bits, symlink targets, device
 * numbers and hard links (the first path in order holds the data) are kept. Sockets are left out.
 * A tar source's paths are made relative ("./a", "/a" -> "a"); one with a ".." component, a hard
 * link to an entry it does not hold, or a type tar cannot carry is refused; an entry listed twice
 * counts once, as its last occurrence (what extracting the tar would leave). Bounded by the
 * IMGBUILD_*_MAX constants. Returns a new image (free it with imgbuild_image_free) or NULL with
 * *err: ERR_INVALID_PARAM for a bad option (naming it) or a source that is missing, not a
 * directory or tar file, or refused as above; ERR_TOO_LARGE past a limit; ERR_SYS for I/O. */
struct imgbuild_image *imgbuild_build(const struct imgbuild_opts *o, const char *dir, struct err **err);
/* Frees an image (not its files). Accepts NULL. */
void imgbuild_image_free(struct imgbuild_image *img);

/* Adds the image's manifest to dir/index.json (created when missing) under the annotation
 * org.opencontainers.image.ref.name = ref_name (a tag, checked with reg_tag_check), replacing an
 * entry that had the same name, so that `skopeo copy oci:DIR:REF_NAME ...` finds it. Returns 0 or -1
 * with *err (ERR_INVALID_PARAM for a bad name or an index.json that is not an OCI index). */
int imgbuild_layout_add(const char *dir, const struct imgbuild_image *img, const char *ref_name,
			struct err **err);

/* Reads a --cmd / --entrypoint argument: text that starts with '[' (after blanks) is a JSON array
 * of strings (the exec form; anything else starting with '[' is refused), any other non-empty
 * text is the shell form and becomes ["/bin/sh", "-c", text], as in a Dockerfile. Returns a new
 * NULL-terminated array of new strings (free with imgbuild_argv_free) and its length in *n, or
 * NULL with *err (ERR_INVALID_PARAM). */
char **imgbuild_parse_argv(const char *text, size_t *n, struct err **err);
/* Frees an array from imgbuild_parse_argv. Accepts NULL. */
void imgbuild_argv_free(char **argv);

#endif
