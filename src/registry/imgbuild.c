/* The image builder: collects a root filesystem's entries (walking a directory, or reading a tar
 * file with its data spooled to a temporary file), writes them sorted and normalized as a pax tar
 * whose bytes libarchive also gzips, hashing both streams, then the config and the manifest. */
#include "registry/imgbuild.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/enc.h"
#include "common/fsx.h"
#include "common/hmap.h"
#include "common/jv.h"
#include "common/xalloc.h"
#include "registry/manifest.h"
#include "registry/ref.h"

#define COPY_CHUNK (256u * 1024)
#define EPOCH_MAX  253402300799LL /* 9999-12-31T23:59:59Z: "created" keeps four year digits */
#define REF_NAME   "org.opencontainers.image.ref.name"

/* One entry of the layer. */
struct ent {
	char *path;	/* relative, without "./", a leading or trailing '/' */
	mode_t mode;	/* type and permission bits */
	long long size; /* regular files */
	char *symlink;	/* symlinks: the target */
	dev_t rdev;	/* devices */
	uid_t uid;
	gid_t gid;
	long long link; /* entries with the same link id (>= 0) are hard links of one file */
	long long off;	/* tar sources: where the data starts in the spool */
};

/* The entries of a source. */
struct tree {
	struct ent *v;
	size_t n, cap;
	long long data;	      /* bytes of file data, bounded by IMGBUILD_LAYER_MAX */
	long long next_link;  /* the next hard-link id */
	const char *root;     /* a directory source */
	struct hmap *inodes;  /* directory sources: "dev:ino" -> link id + 1 */
	struct hmap *byname;  /* tar sources: path -> index + 1 */
	int spool;	      /* tar sources: the file data, else -1 */
	long long spool_size; /* bytes in the spool */
};

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].path);
		free(t->v[i].symlink);
	}
	free(t->v);
	hmap_free(t->inodes);
	hmap_free(t->byname);
	if (t->spool >= 0)
		close(t->spool);
}

/* Takes e (its strings) into the tree; data is the bytes of file data it adds to the layer (0 for
 * a second path of a hard-linked file). */
static int tree_add(struct tree *t, struct ent *e, long long data, struct err **err)
{
	if ((t->data += data) > IMGBUILD_LAYER_MAX) {
		free(e->path);
		free(e->symlink);
		return err_set(err, ERR_TOO_LARGE, "more than %lld bytes of file data", IMGBUILD_LAYER_MAX);
	}
	if (t->n == IMGBUILD_ENTRIES_MAX) {
		free(e->path);
		free(e->symlink);
		return err_set(err, ERR_TOO_LARGE, "more than %d entries", IMGBUILD_ENTRIES_MAX);
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = *e;
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->path, ((const struct ent *)b)->path);
}

/* ---- directory sources ---- */

static int walk(struct tree *t, const char *rel, int depth, struct err **err)
{
	char *dir = *rel ? xasprintf("%s/%s", t->root, rel) : xstrdup(t->root);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;
	DIR *d = opendir(dir);
	if (!d) {
		err_sys(err, errno, "open directory '%s'", dir);
		goto out;
	}
	struct dirent *de;
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
		if (n > IMGBUILD_ENTRIES_MAX) {
			err_set(err, ERR_TOO_LARGE, "'%s': more than %d entries", dir, IMGBUILD_ENTRIES_MAX);
			goto out;
		}
	}
	if (errno) {
		err_sys(err, errno, "read directory '%s'", dir);
		goto out;
	}
	/* Closed before going down, so that deep trees do not hold a descriptor per level. */
	closedir(d);
	d = NULL;
	for (size_t i = 0; i < n; i++) {
		struct ent e = {.link = -1};
		long long data = 0;
		e.path = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		if (strlen(e.path) > IMGBUILD_PATH_MAX) {
			err_set(err, ERR_TOO_LARGE, "'%s/%s': the path is longer than %d bytes", dir,
				names[i], IMGBUILD_PATH_MAX);
			free(e.path);
			goto out;
		}
		char *full = xasprintf("%s/%s", t->root, e.path);
		struct stat st;
		if (lstat(full, &st) < 0) {
			err_sys(err, errno, "'%s'", full);
			free(full);
			free(e.path);
			goto out;
		}
		e.mode = st.st_mode;
		e.uid = st.st_uid;
		e.gid = st.st_gid;
		if (S_ISSOCK(st.st_mode)) { /* tar has no sockets: they are made by the program anyway */
			free(full);
			free(e.path);
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[IMGBUILD_PATH_MAX + 1];
			ssize_t len = readlink(full, target, sizeof(target));
			if (len < 0 || len > IMGBUILD_PATH_MAX) {
				if (len < 0)
					err_sys(err, errno, "read link '%s'", full);
				else
					err_set(err, ERR_TOO_LARGE,
						"link '%s': the target is longer than %d bytes", full,
						IMGBUILD_PATH_MAX);
				free(full);
				free(e.path);
				goto out;
			}
			e.symlink = xstrndup(target, (size_t)len);
		} else if (S_ISREG(st.st_mode)) {
			e.size = data = st.st_size;
			if (st.st_nlink > 1) {
				char key[64];
				snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)st.st_dev,
					 (unsigned long long)st.st_ino);
				uintptr_t id = (uintptr_t)hmap_get(t->inodes, key);
				if (id)
					data = 0; /* the layer holds a hard link's data once */
				else
					hmap_put(t->inodes, key, (void *)(id = (uintptr_t)++t->next_link));
				e.link = (long long)id - 1;
			}
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			e.rdev = st.st_rdev;
		}
		free(full);
		bool is_dir = S_ISDIR(st.st_mode);
		if (tree_add(t, &e, data, err) < 0)
			goto out;
		if (is_dir) {
			if (depth + 1 > IMGBUILD_DEPTH_MAX) {
				err_set(err, ERR_TOO_LARGE, "'%s/%s': directories nested more than %d deep",
					dir, names[i], IMGBUILD_DEPTH_MAX);
				goto out;
			}
			if (walk(t, t->v[t->n - 1].path, depth + 1, err) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	return rc;
}

/* ---- tar sources ---- */

/* A tar path made relative: "./a//b/" -> "a/b", "/" -> "" (the root). NULL with *err for one that
 * climbs out with "..". */
static char *norm_path(const char *p, const char *what, struct err **err)
{
	struct buf b = BUF_INIT;
	const char *s = p;
	while (*s) {
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			buf_release(&b);
			err_set(err, ERR_INVALID_PARAM, "%s '%s' has a '..' component", what, p);
			return NULL;
		}
		if (n && !(n == 1 && s[0] == '.')) {
			if (b.len)
				buf_addc(&b, '/');
			buf_add(&b, s, n);
		}
		s += n;
		while (*s == '/')
			s++;
	}
	if (b.len > IMGBUILD_PATH_MAX) {
		buf_release(&b);
		err_set(err, ERR_TOO_LARGE, "%s '%.64s...' is longer than %d bytes", what, p,
			IMGBUILD_PATH_MAX);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* Copies the data of the current entry into the spool. */
static int spool_data(struct tree *t, struct archive *a, struct ent *e, char *chunk, struct err **err)
{
	e->off = t->spool_size;
	e->size = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(a, chunk, COPY_CHUNK);
		if (n == 0)
			return 0;
		if (n < 0)
			return err_set(err, ERR_INVALID_PARAM, "'%s': %s", e->path, archive_error_string(a));
		if (t->data + e->size + n > IMGBUILD_LAYER_MAX)
			return err_set(err, ERR_TOO_LARGE, "more than %lld bytes of file data",
				       IMGBUILD_LAYER_MAX);
		for (la_ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(t->spool, chunk + done, (size_t)(n - done), t->spool_size);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return err_sys(err, errno, "write the spool file");
			done += w;
			t->spool_size += w;
		}
		e->size += n;
	}
}

/* Reads every entry of a tar file into t (data into t->spool). */
static int read_tar(struct tree *t, const char *source, struct err **err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char *chunk = xmalloc(COPY_CHUNK);
	int rc = -1;
	/* Only the compressions with a library behind them: the others would run external programs. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, source, COPY_CHUNK) != ARCHIVE_OK) {
		err_set(err, ERR_INVALID_PARAM, "not a readable tar file: %s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			err_set(err, ERR_INVALID_PARAM, "not a readable tar file: %s",
				archive_error_string(a));
			goto out;
		}
		const char *name = archive_entry_pathname(ae);
		if (!name) {
			err_set(err, ERR_INVALID_PARAM, "an entry without a path");
			goto out;
		}
		struct ent e = {.link = -1};
		long long data = 0;
		if (!(e.path = norm_path(name, "entry", err)))
			goto out;
		if (!*e.path) { /* the root directory itself: the layer does not carry it */
			free(e.path);
			continue;
		}
		e.uid = (uid_t)archive_entry_uid(ae);
		e.gid = (gid_t)archive_entry_gid(ae);
		const char *hard = archive_entry_hardlink(ae);
		if (hard) {
			char *target = norm_path(hard, "hard link target", err);
			uintptr_t at = target ? (uintptr_t)hmap_get(t->byname, target) : 0;
			if (!at && target)
				err_set(err, ERR_INVALID_PARAM,
					"'%s' is a hard link to '%s', which comes nowhere before it", e.path,
					hard);
			free(target);
			if (!at || !S_ISREG(t->v[at - 1].mode)) {
				if (at)
					err_set(err, ERR_INVALID_PARAM,
						"'%s' is a hard link to '%s', which is not a file", e.path,
						hard);
				free(e.path);
				goto out;
			}
			struct ent *to = &t->v[at - 1];
			if (to->link < 0)
				to->link = t->next_link++;
			e.mode = to->mode;
			e.size = to->size;
			e.off = to->off;
			e.link = to->link;
			e.uid = to->uid;
			e.gid = to->gid;
		} else {
			e.mode = (archive_entry_filetype(ae) & AE_IFMT) | (archive_entry_perm(ae) & 07777);
			switch (archive_entry_filetype(ae)) {
			case AE_IFREG:
				if (spool_data(t, a, &e, chunk, err) < 0) {
					free(e.path);
					goto out;
				}
				data = e.size;
				break;
			case AE_IFDIR:
			case AE_IFIFO: break;
			case AE_IFLNK: {
				const char *target = archive_entry_symlink(ae);
				if (!target || strlen(target) > IMGBUILD_PATH_MAX) {
					err_set(err, ERR_INVALID_PARAM,
						"symlink '%s': no target, or one longer than %d bytes",
						e.path, IMGBUILD_PATH_MAX);
					free(e.path);
					goto out;
				}
				e.symlink = xstrdup(target);
				break;
			}
			case AE_IFCHR:
			case AE_IFBLK: e.rdev = archive_entry_rdev(ae); break;
			case AE_IFSOCK: free(e.path); continue;
			default:
				err_set(err, ERR_INVALID_PARAM,
					"'%s': an entry of a type a layer cannot carry", e.path);
				free(e.path);
				goto out;
			}
		}
		/* Listed twice: extraction would leave the last one. */
		uintptr_t had = (uintptr_t)hmap_get(t->byname, e.path);
		if (had) {
			struct ent *old = &t->v[had - 1];
			if (S_ISREG(old->mode) && old->link < 0)
				t->data -= old->size;
			free(old->path);
			free(old->symlink);
			*old = e;
			if ((t->data += data) > IMGBUILD_LAYER_MAX) {
				err_set(err, ERR_TOO_LARGE, "more than %lld bytes of file data",
					IMGBUILD_LAYER_MAX);
				goto out;
			}
			continue;
		}
		if (tree_add(t, &e, data, err) < 0)
			goto out;
		hmap_put(t->byname, t->v[t->n - 1].path, (void *)(uintptr_t)t->n);
	}
	rc = 0;
out:
	free(chunk);
	archive_read_free(a);
	return rc;
}

/* ---- writing the layer ---- */

/* The two streams: the tar (hashed for the diff_id, then fed to gz) and its gzip (hashed for the
 * layer digest and written to fd). */
struct out {
	EVP_MD_CTX *tar_sha, *gz_sha;
	struct archive *gz;
	int fd;
	long long gz_size;
};

static la_ssize_t on_tar_bytes(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;
	EVP_DigestUpdate(o->tar_sha, p, n);
	if (archive_write_data(o->gz, p, n) < 0) {
		archive_set_error(a, archive_errno(o->gz), "%s", archive_error_string(o->gz));
		return -1;
	}
	return (la_ssize_t)n;
}

static la_ssize_t on_gz_bytes(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;
	EVP_DigestUpdate(o->gz_sha, p, n);
	for (size_t done = 0; done < n;) {
		ssize_t w = write(o->fd, (const char *)p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			archive_set_error(a, errno, "write the layer: %s", strerror(errno));
			return -1;
		}
		done += (size_t)w;
	}
	o->gz_size += (long long)n;
	return (la_ssize_t)n;
}

/* Writes the data of e (size bytes) from its file or the spool. */
static int copy_data(struct tree *t, struct archive *tar, const struct ent *e, char *chunk, struct err **err)
{
	int fd = t->spool;
	char *full = NULL;
	int rc = -1;
	if (fd < 0) {
		full = xasprintf("%s/%s", t->root, e->path);
		fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err_sys(err, errno, "open '%s'", full);
			goto out;
		}
	}
	for (long long done = 0; done < e->size;) {
		size_t want = e->size - done < COPY_CHUNK ? (size_t)(e->size - done) : COPY_CHUNK;
		ssize_t n = t->spool >= 0 ? pread(fd, chunk, want, e->off + done) : read(fd, chunk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				err_sys(err, errno, "read '%s'", full ? full : "the spool file");
			else
				err_set(err, ERR_SYS, "'%s' shrank while it was read", full ? full : e->path);
			goto out;
		}
		if (archive_write_data(tar, chunk, (size_t)n) < 0) {
			err_set(err, ERR_SYS, "%s", archive_error_string(tar));
			goto out;
		}
		done += n;
	}
	rc = 0;
out:
	if (full && fd >= 0)
		close(fd);
	free(full);
	return rc;
}

/* Writes the sorted entries as a tar through o. */
static int write_entries(struct tree *t, const struct imgbuild_opts *opts, struct archive *tar,
			 struct err **err)
{
	struct archive_entry *ae = archive_entry_new();
	struct hmap *first = hmap_new(); /* link id -> the path that holds the data */
	char *chunk = xmalloc(COPY_CHUNK);
	int rc = -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct ent *e = &t->v[i];
		const char *hard = NULL;
		char key[32];
		if (e->link >= 0) {
			snprintf(key, sizeof(key), "%lld", e->link);
			hard = hmap_get(first, key);
			if (!hard)
				hmap_put(first, key, e->path);
		}
		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, e->path);
		archive_entry_set_mode(ae, e->mode);
		archive_entry_set_uid(ae, opts->keep_owner ? e->uid : 0);
		archive_entry_set_gid(ae, opts->keep_owner ? e->gid : 0);
		archive_entry_set_mtime(ae, (time_t)opts->epoch, 0);
		if (hard) {
			archive_entry_set_hardlink(ae, hard);
			archive_entry_set_size(ae, 0);
		} else if (S_ISREG(e->mode)) {
			archive_entry_set_size(ae, e->size);
		} else if (S_ISLNK(e->mode)) {
			archive_entry_set_symlink(ae, e->symlink);
		} else if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
			archive_entry_set_rdev(ae, e->rdev);
		}
		if (archive_write_header(tar, ae) < ARCHIVE_WARN) {
			err_set(err, ERR_SYS, "'%s': %s", e->path, archive_error_string(tar));
			goto out;
		}
		if (!hard && S_ISREG(e->mode) && copy_data(t, tar, e, chunk, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(chunk);
	hmap_free(first);
	archive_entry_free(ae);
	return rc;
}

static void digest_final(EVP_MD_CTX *ctx, char out[72])
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_DigestFinal_ex(ctx, h, &hn);
	memcpy(out, "sha256:", 7);
	enc_hex(h, 32, out + 7);
}

/* Writes the layer of t into dir/blobs/sha256 and fills img's layer and diff_id. */
static int write_layer(struct tree *t, const struct imgbuild_opts *opts, const char *blobdir,
		       struct imgbuild_image *img, struct err **err)
{
	struct out o = {EVP_MD_CTX_new(), EVP_MD_CTX_new(), archive_write_new(), -1, 0};
	struct archive *tar = archive_write_new();
	struct archive_entry *raw = archive_entry_new();
	char *tmp = xasprintf("%s/.layer-XXXXXX", blobdir);
	int rc = -1;
	bool opened = false;
	if (!o.tar_sha || !o.gz_sha || !o.gz || !tar) {
		err_set(err, ERR_INTERNAL, "out of memory");
		goto out;
	}
	EVP_DigestInit_ex(o.tar_sha, EVP_sha256(), NULL);
	EVP_DigestInit_ex(o.gz_sha, EVP_sha256(), NULL);
	if ((o.fd = mkstemp(tmp)) < 0) {
		err_sys(err, errno, "create '%s'", tmp);
		goto out;
	}
	opened = true;
	/* The gzip stream: the "raw" format passes the tar's bytes through to the filter. No time in
	 * the gzip header (libarchive writes no name), and no padding after it: block padding past
	 * the end of a gzip stream is trailing garbage to its readers. */
	if (archive_write_set_format_raw(o.gz) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(o.gz) != ARCHIVE_OK ||
	    archive_write_set_filter_option(o.gz, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(o.gz, 1) != ARCHIVE_OK ||
	    archive_write_open(o.gz, &o, NULL, on_gz_bytes, NULL) != ARCHIVE_OK) {
		err_set(err, ERR_INTERNAL, "gzip: %s", archive_error_string(o.gz));
		goto out;
	}
	archive_entry_set_pathname(raw, "layer.tar");
	archive_entry_set_filetype(raw, AE_IFREG);
	archive_entry_set_perm(raw, 0644);
	if (archive_write_header(o.gz, raw) != ARCHIVE_OK) {
		err_set(err, ERR_INTERNAL, "gzip: %s", archive_error_string(o.gz));
		goto out;
	}
	/* pax_restricted: ustar headers, with pax extended headers only for what ustar cannot say
	 * (long paths, large sizes and ids), so the bytes depend on the entries alone. */
	if (archive_write_set_format_pax_restricted(tar) != ARCHIVE_OK ||
	    archive_write_add_filter_none(tar) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(tar, 1) != ARCHIVE_OK ||
	    archive_write_open(tar, &o, NULL, on_tar_bytes, NULL) != ARCHIVE_OK) {
		err_set(err, ERR_INTERNAL, "tar: %s", archive_error_string(tar));
		goto out;
	}
	if (write_entries(t, opts, tar, err) < 0)
		goto out;
	if (archive_write_close(tar) != ARCHIVE_OK) {
		err_set(err, ERR_SYS, "%s", archive_error_string(tar));
		goto out;
	}
	if (archive_write_close(o.gz) != ARCHIVE_OK) {
		err_set(err, ERR_SYS, "%s", archive_error_string(o.gz));
		goto out;
	}
	digest_final(o.tar_sha, img->diff_id);
	digest_final(o.gz_sha, img->layer.digest);
	img->layer.size = o.gz_size;
	img->layer.media_type = REG_MT_OCI_LAYER_GZIP;
	img->layer.path = xasprintf("%s/%s", blobdir, img->layer.digest + 7);
	if (fchmod(o.fd, 0644) < 0 || close(o.fd) < 0) {
		o.fd = -1;
		err_sys(err, errno, "write '%s'", tmp);
		goto out;
	}
	o.fd = -1;
	if (rename(tmp, img->layer.path) < 0) {
		err_sys(err, errno, "rename '%s' to '%s'", tmp, img->layer.path);
		goto out;
	}
	opened = false;
	rc = 0;
out:
	/* Freed before the fd is closed: after an error, freeing flushes into the file. */
	archive_write_free(tar);
	archive_write_free(o.gz);
	if (o.fd >= 0)
		close(o.fd);
	if (opened)
		unlink(tmp);
	free(tmp);
	archive_entry_free(raw);
	EVP_MD_CTX_free(o.tar_sha);
	EVP_MD_CTX_free(o.gz_sha);
	return rc;
}

/* ---- config and manifest ---- */

/* Writes bytes as a blob of dir (blobdir = dir/blobs/sha256) and fills b. */
static int write_blob(const char *blobdir, const char *bytes, size_t len, const char *media_type,
		      struct imgbuild_blob *b, struct err **err)
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_Digest(bytes, len, h, &hn, EVP_sha256(), NULL);
	memcpy(b->digest, "sha256:", 7);
	enc_hex(h, 32, b->digest + 7);
	b->size = (long long)len;
	b->media_type = media_type;
	b->path = xasprintf("%s/%s", blobdir, b->digest + 7);
	return fsx_write_file(b->path, bytes, len, 0644, false, err);
}

/* A JSON string for an option's value; NULL with *err when it is too long or not UTF-8. */
static json_t *opt_str(const char *what, const char *s, struct err **err)
{
	json_t *j = strlen(s) <= IMGBUILD_ARG_MAX ? json_string(s) : NULL;
	if (!j)
		err_set(err, ERR_INVALID_PARAM, "%s '%.64s': longer than %u bytes or not UTF-8", what, s,
			IMGBUILD_ARG_MAX);
	return j;
}

static json_t *opt_array(const char *what, const char *const *v, size_t n, struct err **err)
{
	if (n > IMGBUILD_ARGS_MAX) {
		err_set(err, ERR_INVALID_PARAM, "%s: more than %d elements", what, IMGBUILD_ARGS_MAX);
		return NULL;
	}
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *s = opt_str(what, v[i], err);
		if (!s) {
			json_decref(a);
			return NULL;
		}
		json_array_append_new(a, s);
	}
	return a;
}

/* "KEY=VALUE" options (--env, --label) into arrays or objects. */
static int opt_pairs(const char *what, const char *const *v, size_t n, json_t *arr, json_t *obj,
		     struct err **err)
{
	if (n > IMGBUILD_ARGS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "%s: more than %d of them", what, IMGBUILD_ARGS_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(v[i], '=');
		if (!eq || eq == v[i])
			return err_set(err, ERR_INVALID_PARAM, "%s '%.64s' is not NAME=VALUE", what, v[i]);
		json_t *s = opt_str(what, v[i], err);
		if (!s)
			return -1;
		if (arr) {
			json_array_append_new(arr, s);
		} else {
			char *k = xstrndup(v[i], (size_t)(eq - v[i]));
			json_object_set_new(obj, k, json_string(eq + 1));
			free(k);
			json_decref(s);
		}
	}
	return 0;
}

/* --expose values into config.ExposedPorts ("80" -> "80/tcp"). */
static int opt_ports(const char *const *v, size_t n, json_t *obj, struct err **err)
{
	if (n > IMGBUILD_ARGS_MAX)
		return err_set(err, ERR_INVALID_PARAM, "--expose: more than %d of them", IMGBUILD_ARGS_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *s = v[i];
		unsigned long port = 0;
		size_t d = 0;
		while (s[d] >= '0' && s[d] <= '9' && d < 6)
			port = port * 10 + (unsigned long)(s[d++] - '0');
		const char *proto = s[d] == '/' ? s + d + 1 : s[d] ? NULL : "tcp";
		if (!d || s[0] == '0' || port > 65535 || !proto ||
		    (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")))
			return err_set(err, ERR_INVALID_PARAM,
				       "--expose '%.64s' is not PORT[/tcp|/udp|/sctp] with PORT 1-65535", s);
		char key[32];
		snprintf(key, sizeof(key), "%lu/%s", port, proto);
		json_object_set_new(obj, key, json_object());
	}
	return 0;
}

/* The config's document, or NULL with *err for a bad option. */
static json_t *make_config(const struct imgbuild_opts *o, const char *diff_id, struct err **err)
{
	json_t *cfg = json_object(), *c = json_object(), *doc = NULL, *v;
	char created[32];
	time_t when = (time_t)o->epoch;
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (o->nenv) {
		json_object_set_new(c, "Env", v = json_array());
		if (opt_pairs("--env", o->env, o->nenv, v, NULL, err) < 0)
			goto out;
	}
	if (o->entrypoint) {
		if (!(v = opt_array("--entrypoint", o->entrypoint, o->nentrypoint, err)))
			goto out;
		json_object_set_new(c, "Entrypoint", v);
	}
	if (o->cmd) {
		if (!(v = opt_array("--cmd", o->cmd, o->ncmd, err)))
			goto out;
		json_object_set_new(c, "Cmd", v);
	}
	if (o->workdir) {
		if (o->workdir[0] != '/') {
			err_set(err, ERR_INVALID_PARAM, "--workdir '%.64s' is not an absolute path",
				o->workdir);
			goto out;
		}
		if (!(v = opt_str("--workdir", o->workdir, err)))
			goto out;
		json_object_set_new(c, "WorkingDir", v);
	}
	if (o->nexpose) {
		json_object_set_new(c, "ExposedPorts", v = json_object());
		if (opt_ports(o->expose, o->nexpose, v, err) < 0)
			goto out;
	}
	if (o->nlabels) {
		json_object_set_new(c, "Labels", v = json_object());
		if (opt_pairs("--label", o->labels, o->nlabels, NULL, v, err) < 0)
			goto out;
	}
	const char *arch = o->arch && *o->arch ? o->arch : "amd64";
	if (strlen(arch) > 32 || strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(arch)) {
		err_set(err, ERR_INVALID_PARAM, "architecture '%.64s' is not a GOARCH name", arch);
		goto out;
	}
	jv_set_str(cfg, "created", created);
	jv_set_str(cfg, "architecture", arch);
	jv_set_str(cfg, "os", "linux");
	json_object_set(cfg, "config", c);
	json_object_set_new(cfg, "rootfs", json_pack("{s:s,s:[s]}", "type", "layers", "diff_ids", diff_id));
	json_object_set_new(
		cfg, "history",
		json_pack("[{s:s,s:s}]", "created", created, "created_by", "gantry image import"));
	doc = cfg;
	cfg = NULL;
out:
	json_decref(c);
	json_decref(cfg);
	return doc;
}

static int write_layout_file(const char *dir, struct err **err)
{
	static const char text[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char *path = xasprintf("%s/oci-layout", dir);
	int rc = 0;
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, sizeof(text) - 1, f) != sizeof(text) - 1)
		rc = err_sys(err, errno, "write '%s'", path);
	if (f && fclose(f) != 0 && rc == 0)
		rc = err_sys(err, errno, "write '%s'", path);
	free(path);
	return rc;
}

static int mkdir_p(const char *path, struct err **err)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = err_sys(err, errno, "create directory '%s'", p);
			break;
		}
		if (!(*s = c))
			break;
	}
	free(p);
	return rc;
}

struct imgbuild_image *imgbuild_build(const struct imgbuild_opts *o, const char *dir, struct err **err)
{
	struct imgbuild_image *img = xcalloc(1, sizeof(*img));
	struct tree t = {.spool = -1, .next_link = 0};
	char *blobdir = xasprintf("%s/blobs/sha256", dir);
	json_t *cfg = NULL, *man = NULL;
	struct reg_config *check = NULL;
	struct reg_manifest *mcheck = NULL;
	int rc = -1;
	struct stat st;
	if (o->epoch < 0 || o->epoch > EPOCH_MAX) {
		err_set(err, ERR_INVALID_PARAM, "the epoch %lld is not 0 to %lld", o->epoch, EPOCH_MAX);
		goto out;
	}
	/* Options first, so that a bad one fails before any work. */
	if (!(cfg = make_config(o, "sha256:", err)))
		goto out;
	json_decref(cfg);
	cfg = NULL;
	if (stat(o->source, &st) < 0) {
		err_set(err, ERR_INVALID_PARAM, "source '%s': %s", o->source, strerror(errno));
		goto out;
	}
	if (mkdir_p(blobdir, err) < 0 || write_layout_file(dir, err) < 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		t.root = o->source;
		t.inodes = hmap_new();
		if (walk(&t, "", 0, err) < 0) {
			err_prefix(err, "source '%s'", o->source);
			goto out;
		}
	} else if (S_ISREG(st.st_mode)) {
		char *tmp = xasprintf("%s/.spool-XXXXXX", blobdir);
		t.spool = mkstemp(tmp);
		if (t.spool < 0)
			err_sys(err, errno, "create '%s'", tmp);
		else
			unlink(tmp);
		free(tmp);
		if (t.spool < 0)
			goto out;
		t.byname = hmap_new();
		if (read_tar(&t, o->source, err) < 0) {
			err_prefix(err, "source '%s'", o->source);
			goto out;
		}
	} else {
		err_set(err, ERR_INVALID_PARAM, "source '%s' is neither a directory nor a tar file",
			o->source);
		goto out;
	}
	qsort(t.v, t.n, sizeof(*t.v), ent_cmp);
	img->nentries = t.n;
	if (write_layer(&t, o, blobdir, img, err) < 0)
		goto out;
	if (!(cfg = make_config(o, img->diff_id, err)))
		goto out;
	img->config_json = jv_dump(cfg);
	if (write_blob(blobdir, img->config_json, strlen(img->config_json), REG_MT_OCI_CONFIG, &img->config,
		       err) < 0)
		goto out;
	man = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2, "mediaType",
			REG_MT_OCI_MANIFEST, "config", "mediaType", REG_MT_OCI_CONFIG, "digest",
			img->config.digest, "size", (json_int_t)img->config.size, "layers", "mediaType",
			REG_MT_OCI_LAYER_GZIP, "digest", img->layer.digest, "size",
			(json_int_t)img->layer.size);
	img->manifest_json = jv_dump(man);
	if (write_blob(blobdir, img->manifest_json, strlen(img->manifest_json), REG_MT_OCI_MANIFEST,
		       &img->manifest, err) < 0)
		goto out;
	/* What the registry and the agent will check, checked here first. */
	if (!(check = reg_config_parse(img->config_json, strlen(img->config_json), err)) ||
	    !(mcheck = reg_manifest_parse(img->manifest_json, strlen(img->manifest_json), REG_MT_OCI_MANIFEST,
					  err))) {
		err_prefix(err, "the image built is not valid");
		goto out;
	}
	rc = 0;
out:
	reg_config_free(check);
	reg_manifest_free(mcheck);
	json_decref(cfg);
	json_decref(man);
	tree_release(&t);
	free(blobdir);
	if (rc < 0) {
		imgbuild_image_free(img);
		img = NULL;
	}
	return img;
}

void imgbuild_image_free(struct imgbuild_image *img)
{
	if (!img)
		return;
	free(img->layer.path);
	free(img->config.path);
	free(img->manifest.path);
	free(img->config_json);
	free(img->manifest_json);
	free(img);
}

/* ---- OCI image layout ---- */

int imgbuild_layout_add(const char *dir, const struct imgbuild_image *img, const char *ref_name,
			struct err **err)
{
	char *path = xasprintf("%s/index.json", dir);
	json_t *idx = NULL, *keep = json_array(), *m;
	char *text = NULL;
	int rc = -1;
	if (reg_tag_check(ref_name, err) < 0)
		goto out;
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size > (off_t)IMGBUILD_INDEX_MAX) {
		err_set(err, ERR_TOO_LARGE, "'%s' is larger than %u bytes", path, IMGBUILD_INDEX_MAX);
		goto out;
	}
	json_error_t je;
	idx = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!idx && access(path, F_OK) == 0) {
		err_set(err, ERR_INVALID_PARAM, "'%s' is not JSON: %s", path, je.text);
		goto out;
	}
	if (!idx)
		idx = json_pack("{s:i,s:s}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX);
	json_t *ms = json_object_get(idx, "manifests");
	if (!json_is_object(idx) || (ms && !json_is_array(ms))) {
		err_set(err, ERR_INVALID_PARAM, "'%s' is not an OCI image index", path);
		goto out;
	}
	size_t i;
	json_array_foreach (ms, i, m) {
		const char *name =
			json_string_value(json_object_get(json_object_get(m, "annotations"), REF_NAME));
		if (!name || strcmp(name, ref_name) != 0)
			json_array_append(keep, m);
	}
	json_array_append_new(keep,
			      json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType", REG_MT_OCI_MANIFEST, "digest",
					img->manifest.digest, "size", (json_int_t)img->manifest.size,
					"annotations", REF_NAME, ref_name));
	json_object_set(idx, "manifests", keep);
	text = jv_dump(idx);
	if (strlen(text) > IMGBUILD_INDEX_MAX) {
		err_set(err, ERR_TOO_LARGE, "'%s' would be larger than %u bytes", path, IMGBUILD_INDEX_MAX);
		goto out;
	}
	if (fsx_write_file(path, text, strlen(text), 0644, false, err) < 0)
		goto out;
	rc = 0;
out:
	free(text);
	json_decref(idx);
	json_decref(keep);
	free(path);
	return rc;
}

/* ---- --cmd and --entrypoint ---- */

char **imgbuild_parse_argv(const char *text, size_t *n, struct err **err)
{
	const char *s = text + strspn(text, " \t\n");
	char **argv = NULL;
	if (strlen(text) > IMGBUILD_ARG_MAX) {
		err_set(err, ERR_INVALID_PARAM, "'%.64s...' is longer than %u bytes", text, IMGBUILD_ARG_MAX);
		return NULL;
	}
	if (*s != '[') {
		if (!*s) {
			err_set(err, ERR_INVALID_PARAM,
				"an empty command: give a JSON array (e.g. [] for none) or a shell command");
			return NULL;
		}
		/* Dockerfile's shell form. */
		argv = xcalloc(4, sizeof(*argv));
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(text);
		*n = 3;
		return argv;
	}
	json_error_t je;
	json_t *a = json_loads(s, JSON_REJECT_DUPLICATES, &je);
	size_t i;
	json_t *v;
	if (!json_is_array(a) || json_array_size(a) > IMGBUILD_ARGS_MAX) {
		err_set(err, ERR_INVALID_PARAM, "'%.64s' is not a JSON array of strings%s%s", text,
			a ? "" : ": ", a ? "" : je.text);
		goto out;
	}
	argv = xcalloc(json_array_size(a) + 1, sizeof(*argv));
	json_array_foreach (a, i, v) {
		if (!json_is_string(v)) { /* (jansson refuses \u0000 in strings) */
			err_set(err, ERR_INVALID_PARAM, "'%.64s': element %zu is not a string", text, i);
			imgbuild_argv_free(argv);
			argv = NULL;
			goto out;
		}
		argv[i] = xstrdup(json_string_value(v));
	}
	*n = json_array_size(a);
out:
	json_decref(a);
	return argv;
}

void imgbuild_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}
