/* Unit tests for layer unpacking (agent/unpack.h): layers are written here with libarchive's
 * writer into a temporary directory, unpacked, and the resulting tree is checked with lstat, read
 * and getxattr: contents and metadata, links, whiteouts and opaque directories, the refusals
 * (climbing out, writing through symlinks, escaping hard links), limits, compressions, the
 * diff_id, replacement of earlier entries, and tree removal. Runs as root, like the agent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agent/unpack.h"
#include "common/enc.h"
#include "common/xalloc.h"

#define MTIME 1600000000 /* 2020-09-13T12:26:40Z */

/* security.capability, struct vfs_cap_data revision 2 (little-endian): effective, CAP_NET_RAW
 * (13) permitted. */
#define CAP_NET_RAW_V2     \
	"\x01\x00\x00\x02" \
	"\x00\x20\x00\x00" \
	"\x00\x00\x00\x00" \
	"\x00\x00\x00\x00" \
	"\x00\x00\x00\x00"

/* Layers are tables of struct ent whose rows name only what they need. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- building layers ---- */

/* One entry of a layer to write. type: 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c' and
 * 'b' devices, 'p' fifo. data is a file's contents or a link's target. */
struct ent {
	char type;
	const char *name;
	const char *data;
	int mode; /* 0: 0644 for files, 0755 for directories */
	int uid, gid;
	const char *xattr, *xattr_value; /* one xattr, or NULL */
	size_t xattr_size;		 /* of the value; 0: strlen */
	unsigned major, minor;
};

/* A fresh directory with an empty root/ to unpack into and layer files beside it. */
struct fx {
	char dir[64];
	char *root, *layer, *outside;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/gantry-unpack.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->root = xasprintf("%s/root", f->dir);
	f->layer = xasprintf("%s/layer.tar", f->dir);
	f->outside = xasprintf("%s/outside", f->dir);
	if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct err *e = NULL;
	int rc = unpack_remove_tree(f->dir, &e);
	if (rc < 0) {
		fprintf(stderr, "teardown: %s\n", e->msg);
		err_free(e);
	}
	free(f->root);
	free(f->layer);
	free(f->outside);
	free(f);
	return rc;
}

/* Writes ents as a pax tar to path through the given libarchive filter (ARCHIVE_FILTER_NONE, _GZIP,
 * _ZSTD ...). */
static void write_layer(const char *path, int filter, const struct ent *ents, size_t n)
{
	/* The pax writer turns names into UTF-8 from the thread's locale. */
	locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	assert_non_null(loc);
	locale_t old = uselocale(loc);
	struct archive *a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		const struct ent *e = &ents[i];
		struct archive_entry *ae = archive_entry_new();
		size_t len = 0;
		archive_entry_set_pathname(ae, e->name);
		archive_entry_set_uid(ae, e->uid);
		archive_entry_set_gid(ae, e->gid);
		archive_entry_set_mtime(ae, MTIME + (time_t)i, 0);
		switch (e->type) {
		case 'f':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
			len = e->data ? strlen(e->data) : 0;
			archive_entry_set_size(ae, (la_int64_t)len);
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
			break;
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, e->data);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, 0644);
			archive_entry_set_hardlink(ae, e->data);
			break;
		case 'c':
		case 'b':
		case 'p':
			archive_entry_set_filetype(ae, e->type == 'c'	? AE_IFCHR
						       : e->type == 'b' ? AE_IFBLK
									: AE_IFIFO);
			archive_entry_set_perm(ae, e->mode ? e->mode : 0600);
			archive_entry_set_rdevmajor(ae, e->major);
			archive_entry_set_rdevminor(ae, e->minor);
			break;
		default: fail();
		}
		if (e->xattr)
			archive_entry_xattr_add_entry(ae, e->xattr, e->xattr_value,
						      e->xattr_size ? e->xattr_size : strlen(e->xattr_value));
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, e->data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	uselocale(old);
	freelocale(loc);
}

/* Writes the bytes of the file in to out through filter, with nothing around them (the "raw"
 * format): a compressed copy of exactly those bytes. */
static void compress_file(const char *in, const char *out, int filter)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	char buf[4096];
	ssize_t n;
	int fd = open(in, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
	archive_entry_set_filetype(ae, AE_IFREG);
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		assert_int_equal(archive_write_data(a, buf, (size_t)n), n);
	close(fd);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* "sha256:<hex>" of the file's bytes. */
static void file_digest(const char *path, char out[UNPACK_DIGEST_SIZE])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct stat st;
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	char *p = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	SHA256((unsigned char *)p, (size_t)st.st_size, md);
	free(p);
	memcpy(out, "sha256:", 7);
	enc_hex(md, sizeof(md), out + 7);
	out[71] = '\0';
}

/* ---- checking outcomes ---- */

/* Checks that *ep is an error of the given kind whose message contains want, frees it. */
static void expect_err(struct err **ep, enum err_kind kind, const char *want)
{
	struct err *e = *ep;
	*ep = NULL;
	if (!e) {
		print_error("no error, want %s containing \"%s\"\n", err_kind_name(kind), want);
		fail();
	}
	if (e->kind != kind || !strstr(e->msg, want)) {
		print_error("got %s \"%s\"\nwant %s containing \"%s\"\n", err_kind_name(e->kind), e->msg,
			    err_kind_name(kind), want);
		err_free(e);
		fail();
	}
	err_free(e);
}

/* Unpacks f->layer into f->root and expects success; returns the diff_id in out (may be NULL). */
static void unpack_ok(struct fx *f, const struct unpack_limits *lim, char *out)
{
	char id[UNPACK_DIGEST_SIZE];
	struct err *e = NULL;
	int rc = unpack_layer(f->layer, f->root, lim, id, &e);
	if (rc != 0) {
		print_error("unpack_layer: %s\n", e ? e->msg : "(no error)");
		err_free(e);
		fail();
	}
	assert_null(e);
	assert_int_equal(strlen(id), 71);
	if (out)
		memcpy(out, id, UNPACK_DIGEST_SIZE);
}

/* Unpacks and expects an error of kind containing want; the diff_id must be empty. */
static void unpack_bad(struct fx *f, const struct unpack_limits *lim, enum err_kind kind, const char *want)
{
	char id[UNPACK_DIGEST_SIZE] = "x";
	struct err *e = NULL;
	assert_int_equal(unpack_layer(f->layer, f->root, lim, id, &e), -1);
	assert_string_equal(id, "");
	expect_err(&e, kind, want);
}

/* Writes ents as a plain tar layer, with the fixture's root emptied first. */
static void layer(struct fx *f, const struct ent *ents, size_t n)
{
	struct err *e = NULL;
	assert_int_equal(unpack_remove_tree(f->root, &e), 0);
	assert_int_equal(mkdir(f->root, 0755), 0);
	write_layer(f->layer, ARCHIVE_FILTER_NONE, ents, n);
}

#define LAYER(f, ...)                                            \
	do {                                                     \
		const struct ent ents_[] = {__VA_ARGS__};        \
		layer(f, ents_, sizeof(ents_) / sizeof(*ents_)); \
	} while (0)

static char *at(struct fx *f, const char *rel)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", f->root, rel);
	return p[i];
}

static struct stat lst(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		print_error("lstat %s: %s\n", path, strerror(errno));
		fail();
	}
	return st;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void expect_contents(const char *path, const char *want)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void expect_link(const char *path, const char *want)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static bool is_whiteout(const char *path)
{
	struct stat st = lst(path);
	return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *path)
{
	char v[8];
	ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

/* The names in dir, sorted, joined by ' '. */
static char *listing(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	assert_true(n >= 0);
	char *s = xstrdup("");
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
			char *t = xasprintf("%s%s%s", s, *s ? " " : "", names[i]->d_name);
			free(s);
			s = t;
		}
		free(names[i]);
	}
	free(names);
	return s;
}

static void expect_listing(const char *dir, const char *want)
{
	char *got = listing(dir);
	assert_string_equal(got, want);
	free(got);
}

/* ---- tests ---- */

static void test_files_and_metadata(void **state)
{
	struct fx *f = *state;
	char v[64];
	LAYER(f, {'d', "./", .mode = 0755}, {'d', "etc/", .mode = 0751, .uid = 7, .gid = 8},
	      {'f', "etc/hosts", "127.0.0.1 localhost\n", 0640, 1234, 5678}, {'f', "etc/empty", NULL, 0600},
	      {'f', "bin/su", "#!setuid\n", 04755, .xattr = "user.note", .xattr_value = "kept"},
	      {'f', "bin/sgid", "x", 02711}, {'d', "tmp/", .mode = 01777},
	      {'f', "deep/er/file", "implicit parents"},
	      {'l', "etc/localtime", "/usr/share/zoneinfo/UTC", .uid = 9, .gid = 9},
	      {'l', "rel", "../../../../etc/shadow"}, {'h', "bin/su2", "bin/su"}, {'h', "hardsym", "rel"},
	      {'p', "run/fifo", .mode = 0620}, {'c', "dev/null", .mode = 0666, .major = 1, .minor = 3},
	      {'b', "dev/loop9", .mode = 0660, .major = 7, .minor = 9},
	      {'f', "caf\xc3\xa9/\xc3\xbc.txt", "utf-8"},
	      {'f', "bin/ping", "ping", 0755, 1000, 1000, .xattr = "security.capability",
	       .xattr_value = CAP_NET_RAW_V2, .xattr_size = 20},
	      {'f', "x", "1", .xattr = "trusted.overlay.redirect", .xattr_value = "/elsewhere"},
	      {'f', "y", "1", .xattr = "user.overlay.opaque", .xattr_value = "y"},
	      {'d', "opaque-by-xattr/", .xattr = "trusted.overlay.opaque", .xattr_value = "y"}, );
	unpack_ok(f, NULL, NULL);

	struct stat st = lst(at(f, "etc/hosts"));
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mtime, MTIME + 2);
	expect_contents(at(f, "etc/hosts"), "127.0.0.1 localhost\n");
	expect_contents(at(f, "etc/empty"), "");
	/* A directory's mode and mtime are its entry's, although entries were made in it later. */
	st = lst(at(f, "etc"));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0751);
	assert_int_equal(st.st_uid, 7);
	assert_int_equal(st.st_gid, 8);
	assert_int_equal(st.st_mtime, MTIME + 1);
	assert_int_equal(lst(f->root).st_mtime, MTIME);
	/* setuid, setgid and sticky bits survive chown */
	assert_int_equal(lst(at(f, "bin/su")).st_mode & 07777, 04755);
	assert_int_equal(lst(at(f, "bin/sgid")).st_mode & 07777, 02711);
	assert_int_equal(lst(at(f, "tmp")).st_mode & 07777, 01777);
	assert_int_equal(getxattr(at(f, "bin/su"), "user.note", v, sizeof(v)), 4);
	assert_memory_equal(v, "kept", 4);
	/* parents the layer does not list */
	st = lst(at(f, "deep/er"));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	expect_contents(at(f, "deep/er/file"), "implicit parents");
	/* symlinks point where the layer says, even outside: they resolve inside the container */
	st = lst(at(f, "etc/localtime"));
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, 9);
	assert_int_equal(st.st_mtime, MTIME + 8);
	expect_link(at(f, "etc/localtime"), "/usr/share/zoneinfo/UTC");
	expect_link(at(f, "rel"), "../../../../etc/shadow");
	/* hard links share the inode; one to a symlink links the symlink */
	assert_int_equal(lst(at(f, "bin/su2")).st_ino, lst(at(f, "bin/su")).st_ino);
	assert_int_equal(lst(at(f, "bin/su")).st_nlink, 2);
	assert_int_equal(lst(at(f, "hardsym")).st_ino, lst(at(f, "rel")).st_ino);
	/* nodes */
	st = lst(at(f, "run/fifo"));
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	st = lst(at(f, "dev/null"));
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	assert_int_equal(st.st_mode & 07777, 0666);
	st = lst(at(f, "dev/loop9"));
	assert_true(S_ISBLK(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(7, 9));
	/* pax names keep their UTF-8 */
	expect_contents(at(f, "caf\xc3\xa9/\xc3\xbc.txt"), "utf-8");
	/* file capabilities survive the chown */
	assert_int_equal(getxattr(at(f, "bin/ping"), "security.capability", v, sizeof(v)), 20);
	assert_memory_equal(v, CAP_NET_RAW_V2, 20);
	assert_int_equal(lst(at(f, "bin/ping")).st_uid, 1000);
	/* xattrs that would forge overlayfs metadata are dropped */
	assert_int_equal(lgetxattr(at(f, "x"), "trusted.overlay.redirect", v, sizeof(v)), -1);
	assert_int_equal(lgetxattr(at(f, "y"), "user.overlay.opaque", v, sizeof(v)), -1);
	assert_false(is_opaque(at(f, "opaque-by-xattr")));
}

static void test_whiteouts(void **state)
{
	struct fx *f = *state;
	LAYER(f, {'f', ".wh.gone"}, {'d', "etc/"}, {'f', "etc/.wh.passwd"}, {'f', "usr/lib/.wh..wh..opq"},
	      {'f', "usr/lib/new", "n"}, {'f', ".wh..wh..opq"}, {'f', "keep", "k"}, {'f', ".wh.keep"},
	      {'f', ".wh.later"}, {'f', "later", "l"}, {'d', ".wh..wh.plnk/"}, {'f', ".wh..wh.plnk/123"}, );
	unpack_ok(f, NULL, NULL);
	assert_true(is_whiteout(at(f, "gone")));
	assert_true(is_whiteout(at(f, "etc/passwd")));
	assert_false(exists(at(f, ".wh.gone")));
	assert_false(exists(at(f, "etc/.wh.passwd")));
	/* opaque directories, made when the layer does not list them, the root included */
	assert_true(is_opaque(at(f, "usr/lib")));
	assert_false(is_opaque(at(f, "usr")));
	assert_true(is_opaque(f->root));
	assert_false(exists(at(f, "usr/lib/.wh..wh..opq")));
	expect_contents(at(f, "usr/lib/new"), "n");
	/* the layer's own entry wins over its whiteout, in either order */
	expect_contents(at(f, "keep"), "k");
	expect_contents(at(f, "later"), "l");
	/* aufs metadata is ignored */
	expect_listing(f->root, "etc gone keep later usr");

	LAYER(f, {'f', "a/.wh.."});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'a/.wh..': whiteout for an invalid name");
	LAYER(f, {'f', ".wh..."});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "whiteout for an invalid name");
}

static void test_dotdot_refused(void **state)
{
	struct fx *f = *state;
	LAYER(f, {'f', "ok", "1"}, {'f', "../evil", "x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry '../evil': path climbs out of the layer with '..'");
	assert_false(exists(at(f, "../evil")));
	LAYER(f, {'f', "a/b/../../../evil", "x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'a/b/../../../evil': path climbs out");
	LAYER(f, {'f', "/../evil", "x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "climbs out");
	LAYER(f, {'d', "../"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "climbs out");
	assert_false(exists(at(f, "../evil")));
	/* ".." that stays inside is read lexically, as docker does */
	LAYER(f, {'f', "a/../b", "b"}, {'f', "./c/./d//e", "e"}, {'f', "x/y/../../../x/z", "z"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "climbs out");
	LAYER(f, {'f', "a/../b", "b"}, {'f', "./c/./d//e", "e"});
	unpack_ok(f, NULL, NULL);
	expect_contents(at(f, "b"), "b");
	expect_contents(at(f, "c/d/e"), "e");
	expect_listing(f->root, "b c");
}

static void test_absolute_names(void **state)
{
	struct fx *f = *state;
	/* Documented rule: absolute names are relative to the layer root. */
	LAYER(f, {'d', "/"}, {'f', "/abs/file", "a"}, {'f', "//twice", "t"}, {'h', "link", "/abs/file"});
	unpack_ok(f, NULL, NULL);
	expect_contents(at(f, "abs/file"), "a");
	expect_contents(at(f, "twice"), "t");
	assert_int_equal(lst(at(f, "link")).st_ino, lst(at(f, "abs/file")).st_ino);
	assert_false(exists("/abs/file"));
}

static void test_symlink_escape_refused(void **state)
{
	struct fx *f = *state;
	char *dotdot_outside = "../outside";
	char *outside_x = xasprintf("%s/x", f->outside);

	LAYER(f, {'l', "a", f->outside}, {'f', "a/x", "pwned"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'a/x': path goes through symlink 'a'");
	assert_false(exists(outside_x));

	/* relative targets, deeper paths, and every kind of entry */
	LAYER(f, {'d', "d/"}, {'l', "d/l", "../../outside"}, {'f', "d/l/sub/x", "pwned"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'd/l/sub/x': path goes through symlink 'd/l'");
	assert_false(exists(outside_x));
	assert_false(exists(at(f, "../outside/sub")));
	LAYER(f, {'l', "a", dotdot_outside}, {'d', "a/x/"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "path goes through symlink 'a'");
	LAYER(f, {'l', "a", dotdot_outside}, {'l', "a/x", "/etc"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "path goes through symlink 'a'");
	LAYER(f, {'f', "t", "t"}, {'l', "a", f->outside}, {'h', "a/x", "t"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "path goes through symlink 'a'");
	LAYER(f, {'l', "a", f->outside}, {'p', "a/x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "path goes through symlink 'a'");
	LAYER(f, {'l', "a", f->outside}, {'f', "a/.wh.x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'a/.wh.x': path goes through symlink 'a'");
	LAYER(f, {'l', "a", f->outside}, {'f', "a/.wh..wh..opq"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "path goes through symlink 'a'");
	assert_false(is_opaque(f->outside));
	assert_false(exists(outside_x));
	expect_listing(f->outside, "");

	/* "/etc" as the target: nothing is written to the host's /etc */
	LAYER(f, {'l', "etc", "/etc"}, {'f', "etc/gantry-unpack-test", "pwned"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM,
		   "entry 'etc/gantry-unpack-test': path goes through symlink 'etc'");
	assert_false(exists("/etc/gantry-unpack-test"));

	/* a file that is not a directory in the way */
	LAYER(f, {'f', "a", "file"}, {'f', "a/x", "x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'a/x': 'a' is not a directory");
	free(outside_x);
}

static void test_hardlink_escape_refused(void **state)
{
	struct fx *f = *state;
	char *secret = xasprintf("%s/secret", f->outside);
	write_bytes(secret, "s", 1);

	LAYER(f, {'h', "passwd", "../../etc/passwd"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM,
		   "entry 'passwd': hard link target: path climbs out of the layer");
	LAYER(f, {'h', "passwd", "/etc/passwd"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM,
		   "entry 'passwd': hard link to 'etc/passwd', which is not in the layer");
	assert_false(exists(at(f, "passwd")));
	LAYER(f, {'l', "a", f->outside}, {'h', "stolen", "a/secret"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM,
		   "entry 'stolen': hard link target 'a/secret': path goes through symlink 'a'");
	assert_false(exists(at(f, "stolen")));
	assert_int_equal(lst(secret).st_nlink, 1);
	LAYER(f, {'h', "x", "nothing"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "hard link to 'nothing', which is not in the layer");
	LAYER(f, {'d', "d/"}, {'h', "x", "d"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "hard link to directory 'd'");
	LAYER(f, {'h', "x", "./x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "hard link to itself");
	LAYER(f, {'f', ".wh.w"}, {'h', "x", "w"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "hard link to whiteout 'w'");
	LAYER(f, {'h', "x", "."});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "hard link to the layer's root");
	/* an entry refused earlier is not there to link to */
	LAYER(f, {'h', "x", "../evil"}, {'h', "y", "x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry 'x'");
	free(secret);
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	struct unpack_limits lim = {.max_entries = 3};
	char name[300];

	LAYER(f, {'f', "1"}, {'f', "2"}, {'f', "3"});
	unpack_ok(f, &lim, NULL);
	LAYER(f, {'f', "1"}, {'f', "2"}, {'f', "3"}, {'f', "4"});
	unpack_bad(f, &lim, ERR_TOO_LARGE, "the layer has more than 3 entries");

	lim = (struct unpack_limits){.max_path = 10};
	LAYER(f, {'f', "0123456789"}, {'l', "l", "0123456789"});
	unpack_ok(f, &lim, NULL);
	LAYER(f, {'f', "0123456789a"});
	unpack_bad(f, &lim, ERR_TOO_LARGE, "entry '0123456789a': name is 11 bytes, more than 10");
	LAYER(f, {'l', "l", "0123456789a"});
	unpack_bad(f, &lim, ERR_TOO_LARGE, "entry 'l': symlink target is 11 bytes, more than 10");
	memset(name, 'n', 256);
	name[256] = '\0';
	LAYER(f, {'f', name});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "a path component is 256 bytes, more than 255");

	/* the uncompressed stream, counted while it is decompressed: 300 empty files are 300 headers */
	struct ent many[300];
	char names[300][16];
	for (int i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "%d", i);
		many[i] = (struct ent){'f', names[i]};
	}
	lim = (struct unpack_limits){.max_bytes = 65536};
	layer(f, many, 300);
	unpack_bad(f, &lim, ERR_TOO_LARGE, "the uncompressed layer is more than 65536 bytes");
	layer(f, NULL, 0);
	write_layer(f->layer, ARCHIVE_FILTER_GZIP, many, 300);
	unpack_bad(f, &lim, ERR_TOO_LARGE, "the uncompressed layer is more than 65536 bytes");
	char id[UNPACK_DIGEST_SIZE];
	struct err *e = NULL;
	assert_int_equal(unpack_diff_id(f->layer, &lim, id, &e), -1);
	expect_err(&e, ERR_TOO_LARGE, "more than 65536 bytes");
	/* the files' sizes, known from the headers before their data is read */
	char *big = xmalloc(100001);
	memset(big, 'z', 100000);
	big[100000] = '\0';
	LAYER(f, {'f', "big", big});
	unpack_bad(f, &lim, ERR_TOO_LARGE, "entry 'big': the layer's files add up to more than 65536 bytes");
	lim.max_bytes = 200000;
	unpack_ok(f, &lim, NULL);
	assert_int_equal(lst(at(f, "big")).st_size, 100000);
	free(big);
}

static void test_compressions_and_diff_id(void **state)
{
	struct fx *f = *state;
	static const int filters[] = {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_XZ,
				      ARCHIVE_FILTER_BZIP2};
	char want[UNPACK_DIGEST_SIZE], got[UNPACK_DIGEST_SIZE];
	char *plain = xasprintf("%s/plain.tar", f->dir);
	struct err *e = NULL;
	const struct ent ents[] = {
		{'d', "etc/"}, {'f', "etc/os-release", "ID=gantry\n"}, {'l', "sh", "bin/busybox"}};

	write_layer(plain, ARCHIVE_FILTER_NONE, ents, 3);
	file_digest(plain, want);
	for (size_t i = 0; i < sizeof(filters) / sizeof(*filters); i++) {
		layer(f, NULL, 0); /* empties root */
		compress_file(plain, f->layer, filters[i]);
		unpack_ok(f, NULL, got);
		assert_string_equal(got, want);
		expect_contents(at(f, "etc/os-release"), "ID=gantry\n");
		expect_link(at(f, "sh"), "bin/busybox");
		assert_int_equal(unpack_diff_id(f->layer, NULL, got, &e), 0);
		assert_string_equal(got, want);
	}
	/* the plain tar: the diff_id is its own digest, with the zeros after the end of the archive */
	layer(f, ents, 3);
	int fd = open(f->layer, O_WRONLY | O_APPEND);
	char zeros[7168] = {0};
	assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
	close(fd);
	file_digest(f->layer, want);
	unpack_ok(f, NULL, got);
	assert_string_equal(got, want);
	file_digest(plain, want);

	/* compressed twice */
	char *once = xasprintf("%s/once.gz", f->dir);
	compress_file(plain, once, ARCHIVE_FILTER_GZIP);
	layer(f, NULL, 0);
	compress_file(once, f->layer, ARCHIVE_FILTER_GZIP);
	unpack_bad(f, NULL, ERR_UNSUPPORTED, "compressed more than once");

	/* not a tar, a truncated gzip, an empty file */
	write_bytes(f->layer, "hello, this is not a tar archive at all", 39);
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "reading the tar stream");
	struct stat st = lst(once);
	char *gz = xmalloc((size_t)st.st_size);
	fd = open(once, O_RDONLY);
	assert_int_equal(read(fd, gz, (size_t)st.st_size), st.st_size);
	close(fd);
	write_bytes(f->layer, gz, (size_t)st.st_size / 2);
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "decompressing layer");
	free(gz);
	write_bytes(f->layer, "", 0);
	unpack_ok(f, NULL, got);
	assert_string_equal(got, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_listing(f->root, "");
	/* a missing file */
	unlink(f->layer);
	unpack_bad(f, NULL, ERR_SYS, "open layer");
	free(once);
	free(plain);
}

static void test_replacing(void **state)
{
	struct fx *f = *state;
	char *outside_f = xasprintf("%s/f", f->outside);
	write_bytes(outside_f, "outside", 7);

	LAYER(f, {'f', "a", "file"}, {'d', "a/", .mode = 0700}, {'f', "a/in", "in"},
	      /* a directory with contents replaced by a file */
	      {'d', "b/"}, {'d', "b/c/"}, {'f', "b/c/d", "d"}, {'l', "b/l", "/"}, {'f', "b", "now a file"},
	      /* a symlink replaced by a file: the file is written, not its target */
	      {'l', "s", outside_f}, {'f', "s", "replaced"},
	      /* a file replaced by a symlink, a symlink by a directory */
	      {'f', "t", "t"}, {'l', "t", "elsewhere"}, {'l', "u", f->outside}, {'d', "u/"},
	      /* a directory over a directory keeps its entries and takes the new mode */
	      {'d', "k/", .mode = 0755}, {'f', "k/child", "c"}, {'d', "k/", .mode = 0710, .uid = 3},
	      /* a file replaced by a file */
	      {'f', "r", "first"}, {'f', "r", "second", 0600}, );
	unpack_ok(f, NULL, NULL);
	assert_true(S_ISDIR(lst(at(f, "a")).st_mode));
	assert_int_equal(lst(at(f, "a")).st_mode & 07777, 0700);
	expect_contents(at(f, "a/in"), "in");
	expect_contents(at(f, "b"), "now a file");
	expect_contents(at(f, "s"), "replaced");
	expect_contents(outside_f, "outside");
	expect_link(at(f, "t"), "elsewhere");
	assert_true(S_ISDIR(lst(at(f, "u")).st_mode));
	expect_listing(f->outside, "f");
	struct stat st = lst(at(f, "k"));
	assert_int_equal(st.st_mode & 07777, 0710);
	assert_int_equal(st.st_uid, 3);
	expect_contents(at(f, "k/child"), "c");
	expect_contents(at(f, "r"), "second");
	assert_int_equal(lst(at(f, "r")).st_mode & 07777, 0600);

	/* the root can only be a directory */
	LAYER(f, {'f', ".", "x"});
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "entry '.': the layer's root must be a directory");
	free(outside_f);
}

/* A layer of one sparse file of size bytes with data at [0, 4096) and [size / 2, size / 2 + 4096). */
static void write_sparse_layer(const char *path, const char *content, size_t size)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(ae, "sparse");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)size);
	archive_entry_sparse_add_entry(ae, 0, 4096);
	archive_entry_sparse_add_entry(ae, (la_int64_t)size / 2, 4096);
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, content, size), (la_ssize_t)size);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);
}

static void test_sparse_files(void **state)
{
	struct fx *f = *state;
	const size_t size = 4 << 20;
	char *content = xcalloc(1, size), *got = xmalloc(size);
	struct unpack_limits lim = {.max_bytes = 1 << 20};

	memset(content, 'a', 4096);
	memset(content + size / 2, 'b', 4096);
	write_sparse_layer(f->layer, content, size);
	/* The stream holds 8 KiB of data, but the file counts at its full size. */
	assert_true(lst(f->layer).st_size < 64 * 1024);
	unpack_bad(f, &lim, ERR_TOO_LARGE,
		   "entry 'sparse': the layer's files add up to more than 1048576 bytes");
	layer(f, NULL, 0);
	write_sparse_layer(f->layer, content, size);
	unpack_ok(f, NULL, NULL);
	struct stat st = lst(at(f, "sparse"));
	assert_int_equal(st.st_size, size);
	assert_true(st.st_blocks * 512 < 1 << 20); /* the holes stayed holes */
	int fd = open(at(f, "sparse"), O_RDONLY);
	assert_int_equal(read(fd, got, size), (ssize_t)size);
	close(fd);
	assert_memory_equal(got, content, size);
	free(got);
	free(content);
}

static void test_destination(void **state)
{
	struct fx *f = *state;
	char *missing = xasprintf("%s/missing", f->dir);
	char id[UNPACK_DIGEST_SIZE];
	struct err *e = NULL;

	LAYER(f, {'f', "a", "a"});
	write_bytes(at(f, "stray"), "s", 1);
	unpack_bad(f, NULL, ERR_INVALID_PARAM, "is not empty");
	assert_int_equal(unpack_layer(f->layer, missing, NULL, id, &e), -1);
	expect_err(&e, ERR_SYS, "No such file or directory");
	free(missing);
}

static void test_remove_tree(void **state)
{
	struct fx *f = *state;
	struct err *e = NULL;
	struct rlimit old, low = {32, 0};
	char *secret = xasprintf("%s/secret", f->outside);
	char *link = xasprintf("%s/link", f->dir);
	int depth = 300;

	write_bytes(secret, "s", 1);
	/* deeper than the descriptors it may hold: it holds two at most */
	int fd = open(f->root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int i = 0; i < depth; i++) {
		assert_int_equal(mkdirat(fd, "d", 0500), 0);
		assert_int_equal(symlinkat(f->outside, fd, "out"), 0);
		assert_int_equal(mkdirat(fd, "e", 0), 0);
		int nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		assert_true(nfd >= 0);
		close(fd);
		fd = nfd;
	}
	assert_int_equal(symlinkat(secret, fd, "to-secret"), 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int rc = unpack_remove_tree(f->root, &e);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (rc != 0) {
		print_error("%s\n", e->msg);
		fail();
	}
	assert_false(exists(f->root));
	expect_contents(secret, "s");
	expect_listing(f->outside, "secret");

	/* missing: fine; a symlink: only the link goes, also with a trailing slash */
	assert_int_equal(unpack_remove_tree(f->root, &e), 0);
	assert_int_equal(symlink(f->outside, link), 0);
	char *slashed = xasprintf("%s//", link);
	assert_int_equal(unpack_remove_tree(slashed, &e), 0);
	assert_false(exists(link));
	expect_listing(f->outside, "secret");
	assert_int_equal(unpack_remove_tree("/", &e), -1);
	expect_err(&e, ERR_INVALID_PARAM, "refusing to remove '/'");
	assert_int_equal(unpack_remove_tree("", &e), -1);
	expect_err(&e, ERR_INVALID_PARAM, "refusing");
	assert_int_equal(mkdir(f->root, 0755), 0); /* for teardown's sake */
	free(slashed);
	free(link);
	free(secret);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP layer unpacking needs root (devices, owners, trusted.* xattrs)\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files_and_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotdot_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_escape_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardlink_escape_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressions_and_diff_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replacing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
