/* Unpacking one OCI / Docker image layer into a directory that overlayfs can use as a lower layer.
 * A blocking, self-contained function for the libuv thread pool: it touches no agent state.
 *
 * What a layer may be: a tar archive (ustar, pax or GNU), plain or compressed once with gzip, zstd,
 * xz or bzip2, told apart by content. libarchive reads it; nothing here parses tar by hand.
 *
 * Rules, for entry names after normalisation (below):
 * - Names: a leading '/' is dropped and "." and empty components are ignored, so "/etc/x",
 *   "./etc/x" and "etc//x" all name etc/x (docker and containerd read absolute names relative to
 *   the layer root as well); ".." removes the component before it, and a ".." that would climb
 *   above the root refuses the layer ("../evil", "a/../../x", "/../x"). Hard link targets follow
 *   the same rules. Names longer than limits.max_path or with a component longer than NAME_MAX are
 *   refused.
 * - Nothing is ever written through a symlink: every directory on the way to an entry is opened
 *   one component at a time with O_NOFOLLOW, and entries are created with *at() calls relative to
 *   it. An entry whose path goes through a symlink refuses the whole layer ("entry 'a/passwd': path
 *   goes through symlink 'a'"); symlinks themselves may point anywhere, since they are resolved
 *   inside the container. Missing parent directories are created (0755, owned by the caller).
 * - Whiteouts (OCI image spec, "Representing Changes"): `.wh.<name>` becomes an overlayfs whiteout,
 *   a character device 0/0 named <name>; `.wh..wh..opq` sets trusted.overlay.opaque=y on its
 *   directory; other `.wh..wh.*` names are aufs metadata and ignored, with everything in a
 *   `.wh..wh.*` directory at the layer's root. Whiteouts are not extracted as files. Since a whiteout only
 * hides lower layers, a whiteout for a name this layer already has is ignored, and a later entry of the same
 * name replaces the whiteout.
 * - Tar semantics for repeated names: a later entry replaces an earlier one (a directory that is
 *   replaced by a non-directory goes with everything below it); a directory over a directory keeps
 *   it and takes the new mode, owner, times and xattrs.
 * - Kept: mode bits including setuid/setgid/sticky, numeric uid/gid (when running as root; names
 *   are ignored), mtimes (and atimes), symlinks, hard links to earlier entries of the layer (a hard
 *   link keeps its target's metadata), sparse regions, device nodes and fifos (a device that mknod
 *   refuses with EPERM is skipped with a warning), xattrs in the user.* namespace and
 *   security.capability. Other xattrs are dropped on purpose: trusted.* and user.overlay.* would let
 *   a layer forge overlayfs metadata, security.selinux and the like belong to the host. An xattr
 *   the filesystem refuses (ENOTSUP, EPERM) is skipped with a warning, as docker does.
 * - Refused: hard links that point to nothing extracted before, to a directory, to a whiteout or to
 *   themselves; entry types other than file, directory, symlink, hard link, device and fifo; uids
 *   and gids outside 0..2^32-2; a layer compressed more than once.
 *
 * Privileges: whiteouts need CAP_MKNOD and opaque directories CAP_SYS_ADMIN (trusted.* xattrs), so
 * the agent runs this as root; without root, owners are not kept and devices are skipped.
 *
 * Errors: ERR_INVALID_PARAM for a malformed or unsafe layer (the message names the entry, as in
 * "entry '../evil': path climbs out of the layer with '..'"), ERR_TOO_LARGE when a limit is
 * exceeded, ERR_SYS for a failed system call, ERR_UNSUPPORTED for an entry type we do not take or
 * a layer compressed twice. The caller adds the layer's digest as context and removes the
 * destination with unpack_remove_tree(); what was extracted before the error is left behind. */
#ifndef GANTRY_UNPACK_H
#define GANTRY_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Defaults for struct unpack_limits. */
#define UNPACK_MAX_ENTRIES 1000000	 /* tar entries, whiteouts included */
#define UNPACK_MAX_PATH	   4096		 /* bytes in an entry name, a link target */
#define UNPACK_MAX_BYTES   (32ULL << 30) /* the uncompressed tar stream; file sizes */

/* "sha256:" + 64 hex digits + NUL */
#define UNPACK_DIGEST_SIZE 72

/* Bounds on one layer. A field left 0 takes the default above. */
struct unpack_limits {
	uint64_t max_entries; /* entries in the tar stream */
	size_t max_path;      /* bytes in an entry's name and in a link target */
	uint64_t max_bytes;   /* bytes of the uncompressed tar stream (what the diff_id hashes), and
			       * separately the most the regular files' sizes may add up to (a sparse
			       * file counts at its full size) */
};

/* Extracts the layer in the file layer_path into dest_dir, which must be an existing, empty
 * directory, following the rules at the top of this file. lim may be NULL for the defaults. On
 * success fills diff_id_out with the layer's OCI diff_id, "sha256:<hex>" of the uncompressed tar
 * stream, for the caller to compare with the image config's rootfs.diff_ids (computed in the same
 * single pass that extracts: the decompressor's output is hashed as the tar reader consumes it,
 * so the extra cost is one SHA-256 over the uncompressed bytes). Returns 0, or -1 with *err; then
 * dest_dir holds whatever was extracted so far and diff_id_out is "". Blocks; thread-safe. */
int unpack_layer(const char *layer_path, const char *dest_dir, const struct unpack_limits *lim,
		 char diff_id_out[UNPACK_DIGEST_SIZE], struct err **err);

/* Computes only the diff_id of the layer in layer_path (decompressing it, as unpack_layer does,
 * without reading the tar inside) into diff_id_out. Only lim->max_bytes applies. Returns 0, or -1
 * with *err (diff_id_out is then ""). */
int unpack_diff_id(const char *layer_path, const struct unpack_limits *lim,
		   char diff_id_out[UNPACK_DIGEST_SIZE], struct err **err);

/* Removes dir and everything below it without following any symlink in it (a symlink is removed,
 * never what it points to); when dir itself is a symlink or a file, removes just that. A missing
 * dir is not an error. Uses a fixed number of file descriptors however deep the tree is. Returns 0,
 * or -1 with *err. */
int unpack_remove_tree(const char *dir, struct err **err);

#endif
