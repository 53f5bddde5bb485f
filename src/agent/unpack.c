/* Extracts one image layer into an overlayfs lower directory with libarchive, creating every entry
 * with *at() calls below directories opened one O_NOFOLLOW component at a time, so that nothing in
 * the layer can make us write outside the destination; hashes the uncompressed stream on the way. */
#include "agent/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/enc.h"
#include "common/log.h"
#include "common/xalloc.h"

#define READ_BLOCK	65536 /* bytes libarchive reads from the layer file at a time */
#define SHOW_MAX	200   /* bytes of an entry name quoted in a message */
#define WH_PREFIX	".wh."
#define WH_META		".wh..wh."
#define WH_OPAQUE	".wh..wh..opq"
#define XATTR_OPAQUE	"trusted.overlay.opaque"
#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define ID_MAX		0xfffffffeLL /* (uid_t)-1 means "leave unchanged" to chown, so it is refused */
#define IMPLICIT_MODE	0755	     /* a parent directory the layer does not list (docker's choice) */
#define LIST_FIRST_SIZE 16

/* ---- the uncompressed stream: decompressed by one archive, hashed, read by the tar reader ---- */

struct src {
	struct archive *a; /* the raw format over the compression filters */
	int fd;		   /* the layer file, or -1 */
	bool eof;	   /* the stream has ended */
	EVP_MD_CTX *md;
	uint64_t n, max; /* bytes hashed so far, and the most there may be */
	char *failure;	 /* why reading failed (then failure_kind), or NULL */
	enum err_kind failure_kind;
};

static void src_fail(struct src *s, enum err_kind kind, char *msg)
{
	if (s->failure) {
		free(msg);
		return;
	}
	s->failure = msg;
	s->failure_kind = kind;
}

/* Opens the layer file and the decompressor. Returns 0, or -1 with *err. */
static int src_open(struct src *s, const char *path, uint64_t max, struct err **err)
{
	struct archive_entry *ae;
	struct stat st;

	s->max = max;
	s->md = EVP_MD_CTX_new();
	if (!s->md || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL))
		return err_set(err, ERR_INTERNAL, "SHA-256 is not available");
	s->a = archive_read_new();
	if (!s->a)
		return err_set(err, ERR_INTERNAL, "libarchive: out of memory");
	/* The compressions docker and containerd take, detected by content. Not
	 * archive_read_support_filter_all(): that adds lzop, lrzip and grzip, which libarchive runs as
	 * external programs when it lacks the library (a fork per layer, on untrusted bytes), and uu
	 * and rpm, which no layer is. */
	archive_read_support_filter_gzip(s->a);
	archive_read_support_filter_zstd(s->a);
	archive_read_support_filter_xz(s->a);
	archive_read_support_filter_bzip2(s->a);
	/* The raw format hands over the decompressed bytes as they are: exactly the stream the
	 * diff_id is defined over. */
	archive_read_support_format_raw(s->a);
	/* Opened here rather than by libarchive, for a plain errno when the file is missing. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0)
		return err_sys(err, errno, "open layer %s", path);
	if (fstat(s->fd, &st) < 0)
		return err_sys(err, errno, "stat layer %s", path);
	/* An empty file is an empty stream, and an empty layer; libarchive recognises no format in it. */
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		s->eof = true;
		return 0;
	}
	if (archive_read_open_fd(s->a, s->fd, READ_BLOCK) != ARCHIVE_OK) {
		const char *why = archive_error_string(s->a);
		return err_set(err, ERR_INVALID_PARAM, "decompressing layer: %s", why ? why : "failed");
	}
	/* Filters stack (gzip inside gzip reads fine); a layer is compressed once at most. The count
	 * includes the bottom "none" filter. */
	if (archive_filter_count(s->a) > 2)
		return err_set(err, ERR_UNSUPPORTED, "layer is compressed more than once (%s over %s)",
			       archive_filter_name(s->a, 0), archive_filter_name(s->a, 1));
	int r = archive_read_next_header(s->a, &ae);
	if (r == ARCHIVE_EOF) {
		s->eof = true;
		return 0;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		const char *why = archive_error_string(s->a);
		return err_set(err, ERR_INVALID_PARAM, "decompressing layer: %s", why ? why : "failed");
	}
	return 0;
}

/* The next piece of the uncompressed stream, hashed. Returns its length, 0 at the end, or -1
 * (s->failure says why). */
static ssize_t src_next(struct src *s, const void **buf)
{
	size_t len = 0;
	la_int64_t off;

	if (s->failure)
		return -1;
	if (s->eof)
		return 0;
	do {
		int r = archive_read_data_block(s->a, buf, &len, &off);
		if (r == ARCHIVE_EOF) {
			s->eof = true;
			return 0;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			const char *why = archive_error_string(s->a);
			src_fail(s, ERR_INVALID_PARAM,
				 xasprintf("decompressing layer: %s", why ? why : "failed"));
			return -1;
		}
	} while (len == 0);
	if (len > s->max - s->n) {
		src_fail(s, ERR_TOO_LARGE,
			 xasprintf("the uncompressed layer is more than %llu bytes",
				   (unsigned long long)s->max));
		return -1;
	}
	s->n += len;
	EVP_DigestUpdate(s->md, *buf, len);
	return (ssize_t)len;
}

/* libarchive read callback of the tar reader. Without a skip callback libarchive reads through
 * everything it skips, so every byte of the stream passes src_next() and the hash. */
static la_ssize_t src_read(struct archive *tar, void *arg, const void **buf)
{
	struct src *s = arg;
	ssize_t n = src_next(s, buf);
	if (n < 0)
		archive_set_error(tar, EINVAL, "%s", s->failure);
	return n;
}

/* Reads (and hashes) the rest of the stream: padding after the tar's end-of-archive blocks is part
 * of the diff_id too. Returns 0, or -1 with *err. */
static int src_drain(struct src *s, struct err **err)
{
	const void *buf;
	ssize_t n;
	while ((n = src_next(s, &buf)) > 0)
		;
	if (n < 0)
		return err_set(err, s->failure_kind, "%s", s->failure);
	return 0;
}

static void src_digest(struct src *s, char out[UNPACK_DIGEST_SIZE])
{
	unsigned char h[32];
	unsigned hn = 0;
	EVP_DigestFinal_ex(s->md, h, &hn);
	memcpy(out, "sha256:", 7);
	enc_hex(h, 32, out + 7);
	out[71] = '\0';
}

static void src_release(struct src *s)
{
	if (s->a)
		archive_read_free(s->a);
	if (s->fd >= 0)
		close(s->fd);
	EVP_MD_CTX_free(s->md);
	free(s->failure);
}

/* ---- removing trees without following symlinks, with a fixed number of descriptors ---- */

/* One directory on the way down: the names of its subdirectories still to remove. */
struct level {
	char **subdirs;
	size_t n, cap, next;
	const char *name; /* its name in its parent (borrowed from the parent's list) */
	dev_t pdev;	  /* its parent, checked when we come back up through ".." */
	ino_t pino;
};

static void level_release(struct level *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->subdirs[i]);
	free(l->subdirs);
	memset(l, 0, sizeof(*l));
}

/* Removes every non-directory in the directory fd and lists its subdirectories into l. */
static int level_scan(int fd, struct level *l, struct err **err)
{
	int rc = -1;
	DIR *d = NULL;
	struct dirent *de;
	int dfd = -1;

	/* Without privileges a directory we made read-only would keep its entries. */
	if (geteuid() != 0)
		(void)fchmod(fd, S_IRWXU);
	dfd = dup(fd);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		err_sys(err, errno, "read directory");
		goto out;
	}
	dfd = -1;
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno) {
				err_sys(err, errno, "read directory");
				goto out;
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) {
			if (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT)
				continue;
			if (errno != EISDIR) {
				err_sys(err, errno, "remove '%s'", de->d_name);
				goto out;
			}
		} else if (de->d_type == DT_UNKNOWN && unlinkat(fd, de->d_name, 0) == 0) {
			continue;
		}
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : LIST_FIRST_SIZE;
			l->subdirs = xrealloc(l->subdirs, l->cap * sizeof(*l->subdirs));
		}
		l->subdirs[l->n++] = xstrdup(de->d_name);
	}
	rc = 0;
out:
	if (d)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Removes the entry name of the directory dirfd and, when it is a directory, everything below it.
 * Goes down one directory at a time and comes back up through "..", checking that it arrives where
 * it came from, so it holds two descriptors at most however deep the tree. */
static int remove_at(int dirfd, const char *name, struct err **err)
{
	struct level *lv = NULL;
	size_t depth = 0, cap = 0;
	struct stat st;
	int fd = -1, rc = -1;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return err_sys(err, errno, "remove '%s'", name);
	fd = openat(dirfd, name, DIR_FLAGS);
	if (fd < 0) {
		err_sys(err, errno, "open '%s'", name);
		goto out;
	}
	cap = LIST_FIRST_SIZE;
	lv = xcalloc(cap, sizeof(*lv));
	lv[0].name = name;
	depth = 1;
	if (level_scan(fd, &lv[0], err) < 0)
		goto out;
	while (depth > 0) {
		struct level *l = &lv[depth - 1];
		if (l->next < l->n) {
			const char *sub = l->subdirs[l->next++];
			int cfd = openat(fd, sub, DIR_FLAGS);
			if (cfd < 0) {
				if (errno == ENOENT)
					continue;
				if ((errno == ENOTDIR || errno == ELOOP) && unlinkat(fd, sub, 0) == 0)
					continue;
				err_sys(err, errno, "open '%s'", sub);
				goto out;
			}
			if (fstat(fd, &st) < 0) {
				err_sys(err, errno, "stat directory");
				close(cfd);
				goto out;
			}
			if (depth == cap) {
				lv = xrealloc(lv, 2 * cap * sizeof(*lv));
				memset(lv + cap, 0, cap * sizeof(*lv));
				cap *= 2;
			}
			l = &lv[depth++];
			l->name = sub;
			l->pdev = st.st_dev;
			l->pino = st.st_ino;
			close(fd);
			fd = cfd;
			if (level_scan(fd, l, err) < 0)
				goto out;
			continue;
		}
		/* Everything below l is gone: remove l itself from its parent. */
		if (depth == 1) {
			close(fd);
			fd = -1;
			if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
				err_sys(err, errno, "remove directory '%s'", name);
				goto out;
			}
			level_release(l);
			depth = 0;
			break;
		}
		int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0 || fstat(pfd, &st) < 0) {
			err_sys(err, errno, "open '..'");
			if (pfd >= 0)
				close(pfd);
			goto out;
		}
		close(fd);
		fd = pfd;
		if (st.st_dev != l->pdev || st.st_ino != l->pino) {
			err_set(err, ERR_INTERNAL, "'%s' was moved while it was being removed", l->name);
			goto out;
		}
		if (unlinkat(fd, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			err_sys(err, errno, "remove directory '%s'", l->name);
			goto out;
		}
		level_release(l);
		depth--;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	while (depth > 0)
		level_release(&lv[--depth]);
	free(lv);
	return rc;
}

int unpack_remove_tree(const char *dir, struct err **err)
{
	size_t n = strlen(dir);
	char *p = NULL;
	int rc = -1;

	/* A trailing slash would make the kernel follow a final symlink. */
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || (n == 1 && dir[0] == '/'))
		return err_set(err, ERR_INVALID_PARAM, "refusing to remove '%s'", dir);
	p = xstrndup(dir, n);
	rc = remove_at(AT_FDCWD, p, err);
	if (rc < 0)
		err_prefix(err, "remove %s", p);
	free(p);
	return rc;
}

/* ---- extraction ---- */

/* A directory whose mode and times are set once everything is extracted, since creating entries
 * in it changes its mtime (and a read-only mode would stop us from creating them without root). */
struct dirfix {
	char *path;
	mode_t perm;
	struct timespec ts[2];
};

struct ctx {
	struct unpack_limits lim;
	int root; /* the destination */
	struct archive *tar;
	struct src src;
	bool privileged;      /* running as root: owners are kept */
	uint64_t entries;     /* seen so far */
	uint64_t file_bytes;  /* regular files' sizes so far */
	char *cache_path;     /* the directory open_dir() returned last ... */
	int cache_fd;	      /* ... and its descriptor, or -1 */
	struct dirfix *fixes; /* in entry order, so that a later entry for a directory wins */
	size_t nfixes, capfixes;
	unsigned skipped_devices, skipped_xattrs;
};

/* The metadata of one entry, checked. */
struct meta {
	uid_t uid;
	gid_t gid;
	mode_t perm;
	struct timespec ts[2]; /* atime, mtime */
};

/* A heap copy of s fit for a message: printable ASCII as is, other bytes and quotes as \xHH, cut
 * after SHOW_MAX bytes. */
static char *show(const char *s)
{
	struct buf b = BUF_INIT;
	size_t i;
	for (i = 0; s[i] && i < SHOW_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\')
			buf_addc(&b, (char)ch);
		else
			buf_addf(&b, "\\x%02x", ch);
	}
	if (s[i])
		buf_adds(&b, "...");
	return buf_detach(&b, NULL);
}

/* Normalises a name from the layer (see unpack.h) into a new string in *out: components joined by
 * single slashes, "" for the root. Returns 0, or -1 with *err. */
static int norm_path(const char *name, size_t max, char **out, struct err **err)
{
	size_t n = strlen(name), len = 0;
	const char *p = name;
	char *o;

	*out = NULL;
	if (n > max)
		return err_set(err, ERR_TOO_LARGE, "name is %zu bytes, more than %zu", n, max);
	o = xmalloc(n + 1);
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t k = (size_t)(end - p);
		if (k == 1 && p[0] == '.') {
			/* "." names the directory it is in */
		} else if (k == 2 && p[0] == '.' && p[1] == '.') {
			if (len == 0) {
				free(o);
				return err_set(err, ERR_INVALID_PARAM,
					       "path climbs out of the layer with '..'");
			}
			while (len > 0 && o[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else {
			if (k > NAME_MAX) {
				free(o);
				return err_set(err, ERR_INVALID_PARAM,
					       "a path component is %zu bytes, more than %d", k, NAME_MAX);
			}
			if (len)
				o[len++] = '/';
			memcpy(o + len, p, k);
			len += k;
		}
		p = end;
	}
	o[len] = '\0';
	*out = o;
	return 0;
}

/* Splits a normalised path in place into its parent directory (returned, "" for the root's
 * entries) and its last component (*base). */
static const char *split_path(char *path, const char **base)
{
	char *slash = strrchr(path, '/');
	if (!slash) {
		*base = path;
		return "";
	}
	*slash = '\0';
	*base = slash + 1;
	return path;
}

static void cache_drop(struct ctx *c)
{
	if (c->cache_fd >= 0)
		close(c->cache_fd);
	c->cache_fd = -1;
	free(c->cache_path);
	c->cache_path = NULL;
}

/* Explains why opening the component comp of dir (whose first len bytes lead to it) failed with
 * errno e. Returns -1. */
static int walk_error(int cur, const char *comp, const char *dir, size_t len, int e, struct err **err)
{
	struct stat st;
	char *where = xstrndup(dir, len);
	char *shown = show(where);
	int rc;

	if ((e == ELOOP || e == ENOTDIR) && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			rc = err_set(err, ERR_INVALID_PARAM, "path goes through symlink '%s'", shown);
		else
			rc = err_set(err, ERR_INVALID_PARAM, "'%s' is not a directory", shown);
	} else if (e == ENOENT) {
		rc = err_set(err, ERR_NOT_FOUND, "'%s' does not exist", shown);
	} else {
		rc = err_sys(err, e, "open directory '%s'", shown);
	}
	free(shown);
	free(where);
	return rc;
}

/* Opens the directory dir (a normalised path, "" for the root) below the destination, one
 * component at a time and never through a symlink, creating missing components when create is
 * set. Returns a descriptor that stays valid until the next call (entries of one directory come
 * together in a tar, so the last one is kept), or -1 with *err.
 *
 * The kept directory cannot go stale: every removal happens in the directory this returned last,
 * and removes one of its entries, never the directory itself or one of its ancestors.
 *
 * Not openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): missing parents have to be created one
 * component at a time anyway, the walk has to name the symlink it met in the error, and this
 * works on every kernel the same way (O_NOFOLLOW on a single component refuses a symlink with
 * ELOOP, O_DIRECTORY anything else that is not a directory). */
static int open_dir(struct ctx *c, const char *dir, bool create, struct err **err)
{
	char comp[NAME_MAX + 1];
	const char *p = dir;
	int cur = c->root;

	if (!*dir)
		return c->root;
	if (c->cache_fd >= 0 && strcmp(c->cache_path, dir) == 0)
		return c->cache_fd;
	cache_drop(c);
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t k = (size_t)(end - p);
		bool made = false;
		memcpy(comp, p, k); /* k <= NAME_MAX: norm_path checked */
		comp[k] = '\0';
		int fd = openat(cur, comp, DIR_FLAGS);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, IMPLICIT_MODE) < 0 && errno != EEXIST) {
				int e = errno;
				char *where = xstrndup(dir, (size_t)(end - dir)), *shown = show(where);
				err_sys(err, e, "create directory '%s'", shown);
				free(shown);
				free(where);
				goto fail;
			}
			made = true;
			fd = openat(cur, comp, DIR_FLAGS);
		}
		if (fd < 0) {
			walk_error(cur, comp, dir, (size_t)(end - dir), errno, err);
			goto fail;
		}
		if (made)
			(void)fchmod(fd, IMPLICIT_MODE); /* whatever the umask */
		if (cur != c->root)
			close(cur);
		cur = fd;
		p = *end ? end + 1 : end;
	}
	c->cache_fd = cur;
	c->cache_path = xstrdup(dir);
	return cur;
fail:
	if (cur != c->root)
		close(cur);
	return -1;
}

/* Makes room for a new entry base in the directory dfd: removes what is there (a directory with
 * everything in it), unless it is a directory and keep_dir is set, which sets *kept. */
static int make_room(int dfd, const char *base, bool keep_dir, bool *kept, struct err **err)
{
	struct stat st;

	if (kept)
		*kept = false;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(err, errno, "stat");
	}
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*kept = true;
			return 0;
		}
		return remove_at(dfd, base, err);
	}
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
		return err_sys(err, errno, "remove the earlier entry");
	return 0;
}

static int get_meta(struct archive_entry *ae, struct meta *m, struct err **err)
{
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);

	if (uid < 0 || uid > ID_MAX)
		return err_set(err, ERR_INVALID_PARAM, "uid %lld is out of range", (long long)uid);
	if (gid < 0 || gid > ID_MAX)
		return err_set(err, ERR_INVALID_PARAM, "gid %lld is out of range", (long long)gid);
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	m->perm = archive_entry_perm(ae) & 07777;
	m->ts[1].tv_sec = archive_entry_mtime_is_set(ae) ? archive_entry_mtime(ae) : 0;
	m->ts[1].tv_nsec = archive_entry_mtime_is_set(ae) ? archive_entry_mtime_nsec(ae) : 0;
	if (archive_entry_atime_is_set(ae)) {
		m->ts[0].tv_sec = archive_entry_atime(ae);
		m->ts[0].tv_nsec = archive_entry_atime_nsec(ae);
	} else {
		m->ts[0] = m->ts[1];
	}
	for (int i = 0; i < 2; i++)
		if (m->ts[i].tv_nsec < 0 || m->ts[i].tv_nsec >= 1000000000L)
			m->ts[i].tv_nsec = 0;
	return 0;
}

/* Sets the owner of base in dfd (of dfd itself when base is ""), when running as root. */
static int set_owner(struct ctx *c, int dfd, const char *base, const struct meta *m, struct err **err)
{
	if (!c->privileged)
		return 0;
	if (fchownat(dfd, base, m->uid, m->gid, AT_SYMLINK_NOFOLLOW | (*base ? 0 : AT_EMPTY_PATH)) < 0)
		return err_sys(err, errno, "chown %u:%u", (unsigned)m->uid, (unsigned)m->gid);
	return 0;
}

static bool xattr_kept(const char *name)
{
	if (strncmp(name, "user.", 5) == 0)
		return strncmp(name, "user.overlay.", 13) != 0;
	return strcmp(name, "security.capability") == 0;
}

/* Sets the entry's xattrs that we keep (see unpack.h) on the open file or directory fd. */
static int set_xattrs(struct ctx *c, int fd, struct archive_entry *ae, struct err **err)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !xattr_kept(name))
			continue;
		if (fsetxattr(fd, name, value, size, 0) == 0)
			continue;
		if (errno == ENOTSUP || errno == EPERM) {
			c->skipped_xattrs++;
			continue;
		}
		int e = errno;
		char *shown = show(name);
		err_sys(err, e, "set xattr '%s'", shown);
		free(shown);
		return -1;
	}
	return 0;
}

static int tar_error(struct ctx *c, struct err **err)
{
	if (c->src.failure)
		return err_set(err, c->src.failure_kind, "%s", c->src.failure);
	const char *why = archive_error_string(c->tar);
	return err_set(err, ERR_INVALID_PARAM, "reading the tar stream: %s", why ? why : "failed");
}

static int write_all_at(int fd, const char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int do_file(struct ctx *c, int dfd, const char *base, struct archive_entry *ae, const struct meta *m,
		   struct err **err)
{
	la_int64_t size = archive_entry_size_is_set(ae) ? archive_entry_size(ae) : 0;
	uint64_t end = 0;
	int fd = -1, rc = -1;

	if (size < 0)
		return err_set(err, ERR_INVALID_PARAM, "size %lld is negative", (long long)size);
	if ((uint64_t)size > c->lim.max_bytes - c->file_bytes)
		return err_set(err, ERR_TOO_LARGE, "the layer's files add up to more than %llu bytes",
			       (unsigned long long)c->lim.max_bytes);
	c->file_bytes += (uint64_t)size;
	if (make_room(dfd, base, false, NULL, err) < 0)
		return -1;
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, errno, "create");
	for (;;) {
		const void *p;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(c->tar, &p, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			tar_error(c, err);
			goto out;
		}
		/* Sparse maps come from the layer: data must stay inside the size it declared. */
		if (off < 0 || (uint64_t)off > (uint64_t)size || len > (uint64_t)size - (uint64_t)off) {
			err_set(err, ERR_INVALID_PARAM, "data at offset %lld lies beyond the size %lld",
				(long long)off, (long long)size);
			goto out;
		}
		if (len && write_all_at(fd, p, len, (off_t)off) < 0) {
			err_sys(err, errno, "write");
			goto out;
		}
		if ((uint64_t)off + len > end)
			end = (uint64_t)off + len;
	}
	if (end < (uint64_t)size && ftruncate(fd, (off_t)size) < 0) {
		err_sys(err, errno, "truncate");
		goto out;
	}
	/* In this order: chown clears setuid bits and security.capability. */
	if (set_owner(c, fd, "", m, err) < 0)
		goto out;
	if (fchmod(fd, m->perm) < 0) {
		err_sys(err, errno, "chmod");
		goto out;
	}
	if (set_xattrs(c, fd, ae, err) < 0)
		goto out;
	if (futimens(fd, m->ts) < 0) {
		err_sys(err, errno, "set times");
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = err_sys(err, errno, "close");
	return rc;
}

static void fix_add(struct ctx *c, const char *parent, const char *base, const struct meta *m)
{
	if (c->nfixes == c->capfixes) {
		c->capfixes = c->capfixes ? 2 * c->capfixes : LIST_FIRST_SIZE;
		c->fixes = xrealloc(c->fixes, c->capfixes * sizeof(*c->fixes));
	}
	struct dirfix *f = &c->fixes[c->nfixes++];
	f->path = *parent ? xasprintf("%s/%s", parent, base) : xstrdup(base);
	f->perm = m->perm;
	f->ts[0] = m->ts[0];
	f->ts[1] = m->ts[1];
}

static int do_dir(struct ctx *c, int dfd, const char *parent, const char *base, struct archive_entry *ae,
		  const struct meta *m, struct err **err)
{
	bool kept = false;
	int fd = -1, rc = -1;

	if (!*base) {
		fd = c->root; /* the layer's "./": the root's own metadata */
	} else {
		if (make_room(dfd, base, true, &kept, err) < 0)
			return -1;
		if (!kept && mkdirat(dfd, base, 0700) < 0)
			return err_sys(err, errno, "mkdir");
		fd = openat(dfd, base, DIR_FLAGS);
		if (fd < 0)
			return err_sys(err, errno, "open the directory");
	}
	if (set_owner(c, fd, "", m, err) < 0 || set_xattrs(c, fd, ae, err) < 0)
		goto out;
	fix_add(c, parent, base, m);
	rc = 0;
out:
	if (fd >= 0 && fd != c->root)
		close(fd);
	return rc;
}

static int do_symlink(struct ctx *c, int dfd, const char *base, struct archive_entry *ae,
		      const struct meta *m, struct err **err)
{
	const char *target = archive_entry_symlink(ae);

	if (!target || !*target)
		return err_set(err, ERR_INVALID_PARAM, "symlink has no target");
	if (strlen(target) > c->lim.max_path)
		return err_set(err, ERR_TOO_LARGE, "symlink target is %zu bytes, more than %zu",
			       strlen(target), c->lim.max_path);
	if (make_room(dfd, base, false, NULL, err) < 0)
		return -1;
	if (symlinkat(target, dfd, base) < 0)
		return err_sys(err, errno, "symlink");
	if (set_owner(c, dfd, base, m, err) < 0)
		return -1;
	/* xattrs are left out: Linux takes no user.* xattrs on symlinks. */
	if (utimensat(dfd, base, m->ts, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "set times");
	return 0;
}

static int do_node(struct ctx *c, int dfd, const char *base, struct archive_entry *ae, const struct meta *m,
		   struct err **err)
{
	mode_t type = archive_entry_filetype(ae);
	dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae));

	if (make_room(dfd, base, false, NULL, err) < 0)
		return -1;
	if (mknodat(dfd, base,
		    (type == AE_IFCHR	? S_IFCHR
		     : type == AE_IFBLK ? S_IFBLK
					: S_IFIFO) |
			    0600,
		    dev) < 0) {
		if (errno == EPERM && type != AE_IFIFO) {
			c->skipped_devices++;
			return 0;
		}
		return err_sys(err, errno, "mknod");
	}
	if (set_owner(c, dfd, base, m, err) < 0)
		return -1;
	/* glibc does AT_SYMLINK_NOFOLLOW through O_PATH and /proc, so this cannot follow a link. */
	if (fchmodat(dfd, base, m->perm, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "chmod");
	if (utimensat(dfd, base, m->ts, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(err, errno, "set times");
	return 0;
}

/* A hard link at parent/base (path is the whole normalised name) to an earlier entry. */
static int do_hardlink(struct ctx *c, const char *path, const char *parent, const char *base,
		       struct archive_entry *ae, struct err **err)
{
	char *tpath = NULL, *shown = NULL;
	const char *tparent, *tbase;
	struct stat st;
	int tfd = -1, rc = -1, dfd;

	if (norm_path(archive_entry_hardlink(ae), c->lim.max_path, &tpath, err) < 0) {
		err_prefix(err, "hard link target");
		goto out;
	}
	shown = show(tpath);
	if (!*tpath) {
		err_set(err, ERR_INVALID_PARAM, "hard link to the layer's root");
		goto out;
	}
	if (strcmp(tpath, path) == 0) {
		err_set(err, ERR_INVALID_PARAM, "hard link to itself");
		goto out;
	}
	tparent = split_path(tpath, &tbase);
	struct err *e = NULL;
	int borrowed = open_dir(c, tparent, false, &e);
	if (borrowed < 0) {
		if (e->kind == ERR_NOT_FOUND)
			err_set(err, ERR_INVALID_PARAM, "hard link to '%s', which is not in the layer",
				shown);
		else
			err_set(err, e->kind, "hard link target '%s': %s", shown, e->msg);
		err_free(e);
		goto out;
	}
	tfd = fcntl(borrowed, F_DUPFD_CLOEXEC, 0);
	if (tfd < 0) {
		err_sys(err, errno, "dup");
		goto out;
	}
	if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			err_set(err, ERR_INVALID_PARAM, "hard link to '%s', which is not in the layer",
				shown);
		else
			err_sys(err, errno, "hard link target '%s'", shown);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err_set(err, ERR_INVALID_PARAM, "hard link to directory '%s'", shown);
		goto out;
	}
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		err_set(err, ERR_INVALID_PARAM, "hard link to whiteout '%s'", shown);
		goto out;
	}
	dfd = open_dir(c, parent, true, err);
	if (dfd < 0 || make_room(dfd, base, false, NULL, err) < 0)
		goto out;
	/* Flags 0: a link to a symlink links the symlink, never what it points to. */
	if (linkat(tfd, tbase, dfd, base, 0) < 0) {
		err_sys(err, errno, "hard link to '%s'", shown);
		goto out;
	}
	rc = 0;
out:
	if (tfd >= 0)
		close(tfd);
	free(shown);
	free(tpath);
	return rc;
}

/* `.wh.<name>` in parent: an overlayfs whiteout for name. */
static int do_whiteout(struct ctx *c, const char *parent, const char *name, struct err **err)
{
	struct stat st;
	int dfd;

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(err, ERR_INVALID_PARAM, "whiteout for an invalid name");
	dfd = open_dir(c, parent, true, err);
	if (dfd < 0)
		return -1;
	/* OCI: a whiteout hides only lower layers; what this layer has of the same name stays. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return err_sys(err, errno, "stat");
	if (mknodat(dfd, name, S_IFCHR, makedev(0, 0)) < 0) {
		if (errno == EPERM)
			return err_sys(err, errno,
				       "creating a whiteout (a 0/0 character device) needs CAP_MKNOD");
		return err_sys(err, errno, "create whiteout");
	}
	return 0;
}

/* `.wh..wh..opq` in dir: dir hides everything lower layers have in it. */
static int do_opaque(struct ctx *c, const char *dir, struct err **err)
{
	int dfd = open_dir(c, dir, true, err);
	if (dfd < 0)
		return -1;
	if (fsetxattr(dfd, XATTR_OPAQUE, "y", 1, 0) < 0) {
		int e = errno;
		if (e == EPERM || e == ENOTSUP)
			return err_sys(err, e,
				       "marking the directory opaque needs the " XATTR_OPAQUE
				       " xattr (root, and a filesystem with trusted.* xattrs)");
		return err_sys(err, e, "set " XATTR_OPAQUE);
	}
	return 0;
}

static int do_entry(struct ctx *c, struct archive_entry *ae, struct err **err)
{
	const char *name = archive_entry_pathname(ae);
	const char *parent, *base;
	char *path = NULL, *whole = NULL;
	mode_t type = archive_entry_filetype(ae);
	struct meta m;
	int rc = -1, dfd;

	if (!name)
		return err_set(err, ERR_INVALID_PARAM, "entry without a name");
	if (norm_path(name, c->lim.max_path, &path, err) < 0)
		goto out;
	whole = xstrdup(path);
	parent = split_path(path, &base);
	/* aufs keeps its bookkeeping in .wh..wh.* at the layer's root (hard link targets in
	 * .wh..wh.plnk among them; links to those are refused as links to nothing) */
	if (strncmp(whole, WH_META, strlen(WH_META)) == 0 && strcmp(whole, WH_OPAQUE) != 0) {
		rc = 0;
		goto out;
	}
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
		if (strcmp(base, WH_OPAQUE) == 0)
			rc = do_opaque(c, parent, err);
		else if (strncmp(base, WH_META, strlen(WH_META)) == 0)
			rc = 0; /* aufs bookkeeping, which overlayfs has no use for */
		else
			rc = do_whiteout(c, parent, base + strlen(WH_PREFIX), err);
		goto out;
	}
	if (!*base && (archive_entry_hardlink(ae) || type != AE_IFDIR)) {
		err_set(err, ERR_INVALID_PARAM, "the layer's root must be a directory");
		goto out;
	}
	if (archive_entry_hardlink(ae)) {
		rc = do_hardlink(c, whole, parent, base, ae, err);
		goto out;
	}
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
	    type != AE_IFBLK && type != AE_IFIFO) {
		err_set(err, ERR_UNSUPPORTED, "entry type 0%o is not supported", (unsigned)type);
		goto out;
	}
	if (get_meta(ae, &m, err) < 0)
		goto out;
	dfd = open_dir(c, parent, true, err);
	if (dfd < 0)
		goto out;
	switch (type) {
	case AE_IFREG: rc = do_file(c, dfd, base, ae, &m, err); break;
	case AE_IFDIR: rc = do_dir(c, dfd, parent, base, ae, &m, err); break;
	case AE_IFLNK: rc = do_symlink(c, dfd, base, ae, &m, err); break;
	default: rc = do_node(c, dfd, base, ae, &m, err); break;
	}
out:
	free(whole);
	free(path);
	return rc;
}

/* Gives the directories the layer lists their modes and times, last entry wins. One that a later
 * entry replaced (or put behind a symlink) is skipped. */
static int apply_fixes(struct ctx *c, struct err **err)
{
	for (size_t i = 0; i < c->nfixes; i++) {
		struct dirfix *f = &c->fixes[i];
		const char *base, *parent = split_path(f->path, &base);
		struct err *e = NULL;
		int fd, dfd = open_dir(c, parent, false, &e);
		if (dfd < 0) {
			if (e->kind != ERR_INVALID_PARAM && e->kind != ERR_NOT_FOUND) {
				err_set(err, e->kind, "%s", e->msg);
				err_free(e);
				return -1;
			}
			err_free(e);
			continue;
		}
		fd = *base ? openat(dfd, base, DIR_FLAGS) : c->root;
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			return err_sys(err, errno, "open directory");
		}
		int r = fchmod(fd, f->perm) < 0 || futimens(fd, f->ts) < 0 ? -1 : 0;
		int e2 = errno;
		if (fd != c->root)
			close(fd);
		if (r < 0) {
			char *shown = show(f->path);
			err_sys(err, e2, "directory '%s': set mode and times", shown);
			free(shown);
			return -1;
		}
	}
	return 0;
}

/* Fails unless the directory fd has no entries. */
static int check_empty(int fd, const char *dir, struct err **err)
{
	int dfd = dup(fd), rc = -1;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;

	if (!d) {
		err_sys(err, errno, "read %s", dir);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			break;
	if (de)
		err_set(err, ERR_INVALID_PARAM, "destination %s is not empty", dir);
	else
		rc = 0;
	closedir(d);
	return rc;
}

static void limits_resolve(const struct unpack_limits *in, struct unpack_limits *out)
{
	out->max_entries = in && in->max_entries ? in->max_entries : UNPACK_MAX_ENTRIES;
	out->max_path = in && in->max_path ? in->max_path : UNPACK_MAX_PATH;
	out->max_bytes = in && in->max_bytes ? in->max_bytes : UNPACK_MAX_BYTES;
}

int unpack_layer(const char *layer_path, const char *dest_dir, const struct unpack_limits *lim,
		 char diff_id_out[UNPACK_DIGEST_SIZE], struct err **err)
{
	struct ctx c = {.root = -1, .cache_fd = -1, .src.fd = -1};
	struct archive_entry *ae;
	locale_t loc = (locale_t)0, old = (locale_t)0;
	int rc = -1;

	diff_id_out[0] = '\0';
	limits_resolve(lim, &c.lim);
	c.privileged = geteuid() == 0;
	/* libarchive converts pax names (UTF-8) to the thread's locale. In the C locale it hands
	 * names over as the bytes the layer has, which is what we want whatever the process's locale. */
	loc = newlocale(LC_CTYPE_MASK, "C", (locale_t)0);
	if (loc)
		old = uselocale(loc);
	c.root = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.root < 0) {
		err_sys(err, errno, "open %s", dest_dir);
		goto out;
	}
	if (check_empty(c.root, dest_dir, err) < 0)
		goto out;
	if (src_open(&c.src, layer_path, c.lim.max_bytes, err) < 0)
		goto out;
	c.tar = archive_read_new();
	if (!c.tar) {
		err_set(err, ERR_INTERNAL, "libarchive: out of memory");
		goto out;
	}
	archive_read_support_format_tar(c.tar); /* ustar, pax, GNU */
	archive_read_support_format_empty(c.tar);
	if (archive_read_open(c.tar, &c.src, NULL, src_read, NULL) != ARCHIVE_OK) {
		tar_error(&c, err);
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(c.tar, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			tar_error(&c, err);
			goto out;
		}
		if (++c.entries > c.lim.max_entries) {
			err_set(err, ERR_TOO_LARGE, "the layer has more than %llu entries",
				(unsigned long long)c.lim.max_entries);
			goto out;
		}
		if (do_entry(&c, ae, err) < 0) {
			const char *name = archive_entry_pathname(ae);
			char *shown = show(name ? name : "");
			err_prefix(err, "entry '%s'", shown);
			free(shown);
			goto out;
		}
	}
	if (src_drain(&c.src, err) < 0 || apply_fixes(&c, err) < 0)
		goto out;
	src_digest(&c.src, diff_id_out);
	if (c.skipped_devices)
		log_warn("unpack %s: skipped %u device nodes that mknod refused", layer_path,
			 c.skipped_devices);
	if (c.skipped_xattrs)
		log_warn("unpack %s: skipped %u xattrs the filesystem refused", layer_path, c.skipped_xattrs);
	rc = 0;
out:
	if (c.tar)
		archive_read_free(c.tar);
	src_release(&c.src);
	cache_drop(&c);
	for (size_t i = 0; i < c.nfixes; i++)
		free(c.fixes[i].path);
	free(c.fixes);
	if (c.root >= 0)
		close(c.root);
	if (loc) {
		uselocale(old);
		freelocale(loc);
	}
	return rc;
}

int unpack_diff_id(const char *layer_path, const struct unpack_limits *lim,
		   char diff_id_out[UNPACK_DIGEST_SIZE], struct err **err)
{
	struct unpack_limits l;
	struct src s = {.fd = -1};
	int rc = -1;

	diff_id_out[0] = '\0';
	limits_resolve(lim, &l);
	if (src_open(&s, layer_path, l.max_bytes, err) < 0 || src_drain(&s, err) < 0)
		goto out;
	src_digest(&s, diff_id_out);
	rc = 0;
out:
	src_release(&s);
	return rc;
}
