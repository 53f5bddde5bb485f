/* Unit tests for the image builder (registry/imgbuild.h): the same tree gives the same digests
 * whatever its times, a tar of it gives the same layer as the directory, the layer's bytes (order,
 * owners, times, links, the gzip header), the config and manifest as the registry parses them, the
 * OCI layout's index, --cmd parsing, and the refusals of bad options and sources. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/enc.h"
#include "common/xalloc.h"
#include "registry/imgbuild.h"
#include "registry/manifest.h"

struct fx {
	char dir[64]; /* scratch: root/ is the tree, the layouts go beside it */
	char *root;
};

static void put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static char *at(struct fx *f, const char *rel)
{
	return xasprintf("%s/%s", f->dir, rel);
}

/* root/: bin/ (tool 0755, sh -> tool, tool2 a hard link of tool), etc/motd, empty/, a fifo. */
static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/gantry-imgbuild.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->root = at(f, "root");
	char *p[] = {at(f, "root"), at(f, "root/bin"), at(f, "root/etc"), at(f, "root/empty")};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(mkdir(p[i], 0755), 0);
		free(p[i]);
	}
	char *tool = at(f, "root/bin/tool"), *tool2 = at(f, "root/bin/tool2"), *sh = at(f, "root/bin/sh");
	char *motd = at(f, "root/etc/motd"), *fifo = at(f, "root/etc/fifo");
	put_file(tool, "#!/bin/sh\necho tool\n", 0755);
	assert_int_equal(link(tool, tool2), 0);
	assert_int_equal(symlink("tool", sh), 0);
	put_file(motd, "hello\n", 0644);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	free(tool);
	free(tool2);
	free(sh);
	free(motd);
	free(fifo);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->root);
	free(f);
	return 0;
}

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

static struct imgbuild_image *build_ok(const struct imgbuild_opts *o, const char *out)
{
	struct err *e = NULL;
	struct imgbuild_image *img = imgbuild_build(o, out, &e);
	if (!img) {
		print_error("build: %s\n", e->msg);
		err_free(e);
		fail();
	}
	return img;
}

/* sha256 of a file, or of its gunzipped content. */
static void file_digest(const char *path, bool gunzip, char out[72])
{
	struct archive *a = archive_read_new();
	archive_read_support_format_raw(a);
	if (gunzip)
		archive_read_support_filter_gzip(a);
	else
		archive_read_support_filter_none(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	struct archive_entry *ae;
	assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_OK);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	char chunk[65536];
	la_ssize_t n;
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
	assert_int_equal(n, 0);
	unsigned char h[32];
	EVP_DigestFinal_ex(ctx, h, NULL);
	EVP_MD_CTX_free(ctx);
	archive_read_free(a);
	memcpy(out, "sha256:", 7);
	enc_hex(h, 32, out + 7);
}

static void set_times(const char *path, time_t t)
{
	struct timeval tv[2] = {{t, 0}, {t, 0}};
	assert_int_equal(lutimes(path, tv), 0);
}

/* ---- tests ---- */

static void test_reproducible(void **state)
{
	struct fx *f = *state;
	struct imgbuild_opts o = {.source = f->root};
	char *out1 = at(f, "out1"), *out2 = at(f, "out2"), *out3 = at(f, "out3");
	struct imgbuild_image *a = build_ok(&o, out1);
	/* New times on everything, and the same build again elsewhere. */
	const char *rel[] = {"root/bin/tool", "root/bin/sh", "root/etc/motd",
			     "root/etc",      "root/empty",  "root"};
	for (size_t i = 0; i < sizeof(rel) / sizeof(*rel); i++) {
		char *p = at(f, rel[i]);
		set_times(p, 1234567890 + (time_t)i);
		free(p);
	}
	struct imgbuild_image *b = build_ok(&o, out2);
	assert_string_equal(a->manifest.digest, b->manifest.digest);
	assert_string_equal(a->layer.digest, b->layer.digest);
	assert_string_equal(a->config.digest, b->config.digest);
	assert_string_equal(a->manifest_json, b->manifest_json);
	assert_int_equal(a->nentries, 8); /* bin bin/sh bin/tool bin/tool2 empty etc etc/fifo etc/motd */
	/* Another epoch is another image. */
	o.epoch = 1700000000;
	struct imgbuild_image *c = build_ok(&o, out3);
	assert_string_not_equal(a->layer.digest, c->layer.digest);
	assert_non_null(strstr(c->config_json, "\"created\":\"2023-11-14T22:13:20Z\""));
	imgbuild_image_free(a);
	imgbuild_image_free(b);
	imgbuild_image_free(c);
	free(out1);
	free(out2);
	free(out3);
}

static void test_digests_and_files(void **state)
{
	struct fx *f = *state;
	struct imgbuild_opts o = {.source = f->root};
	char *out = at(f, "out");
	struct imgbuild_image *img = build_ok(&o, out);
	char d[72];
	struct stat st;
	/* Every blob is a file named by its digest, of its size. */
	const struct imgbuild_blob *blobs[] = {&img->layer, &img->config, &img->manifest};
	for (int i = 0; i < 3; i++) {
		char *want = xasprintf("%s/blobs/sha256/%s", out, blobs[i]->digest + 7);
		assert_string_equal(blobs[i]->path, want);
		free(want);
		file_digest(blobs[i]->path, false, d);
		assert_string_equal(d, blobs[i]->digest);
		assert_int_equal(stat(blobs[i]->path, &st), 0);
		assert_int_equal(st.st_size, blobs[i]->size);
		assert_int_equal(st.st_mode & 0777, 0644);
	}
	/* diff_id: the uncompressed tar's digest, not the gzip's. */
	file_digest(img->layer.path, true, d);
	assert_string_equal(d, img->diff_id);
	assert_string_not_equal(img->diff_id, img->layer.digest);
	assert_string_equal(img->layer.media_type, REG_MT_OCI_LAYER_GZIP);
	char *layout = xasprintf("%s/oci-layout", out);
	assert_int_equal(stat(layout, &st), 0);
	free(layout);
	/* gzip header: no FNAME (flags 0) and MTIME 0, so the bytes do not depend on when. */
	unsigned char hdr[10];
	int fd = open(img->layer.path, O_RDONLY);
	assert_int_equal(read(fd, hdr, 10), 10);
	close(fd);
	assert_int_equal(hdr[0], 0x1f);
	assert_int_equal(hdr[1], 0x8b);
	assert_int_equal(hdr[3], 0);
	assert_int_equal(hdr[4] | hdr[5] | hdr[6] | hdr[7], 0);
	imgbuild_image_free(img);
	free(out);
}

static void test_layer_entries(void **state)
{
	struct fx *f = *state;
	struct imgbuild_opts o = {.source = f->root, .epoch = 86400};
	char *out = at(f, "out");
	struct imgbuild_image *img = build_ok(&o, out);
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, img->layer.path, 65536), ARCHIVE_OK);
	struct archive_entry *ae;
	const char *want[] = {"bin/",	"bin/sh", "bin/tool", "bin/tool2",
			      "empty/", "etc/",	  "etc/fifo", "etc/motd"};
	size_t i = 0;
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		assert_true(i < sizeof(want) / sizeof(*want));
		const char *p = archive_entry_pathname(ae);
		assert_string_equal(p, want[i]);
		assert_int_equal(archive_entry_mtime(ae), 86400);
		assert_int_equal(archive_entry_uid(ae), 0);
		assert_int_equal(archive_entry_gid(ae), 0);
		assert_true(!archive_entry_uname(ae) || !*archive_entry_uname(ae));
		assert_true(!archive_entry_gname(ae) || !*archive_entry_gname(ae));
		assert_false(archive_entry_atime_is_set(ae));
		assert_false(archive_entry_ctime_is_set(ae));
		if (strcmp(p, "bin/sh") == 0) {
			assert_int_equal(archive_entry_filetype(ae), AE_IFLNK);
			assert_string_equal(archive_entry_symlink(ae), "tool");
		} else if (strcmp(p, "bin/tool") == 0) {
			assert_int_equal(archive_entry_perm(ae), 0755);
			assert_int_equal(archive_entry_size(ae), 20);
		} else if (strcmp(p, "bin/tool2") == 0) {
			/* The second path of a hard-linked file links to the first. */
			assert_string_equal(archive_entry_hardlink(ae), "bin/tool");
		} else if (strcmp(p, "etc/fifo") == 0) {
			assert_int_equal(archive_entry_filetype(ae), AE_IFIFO);
			assert_int_equal(archive_entry_perm(ae), 0600);
		} else if (strcmp(p, "etc/motd") == 0) {
			char text[16] = "";
			assert_int_equal(archive_read_data(a, text, sizeof(text)), 6);
			assert_string_equal(text, "hello\n");
		}
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(*want));
	archive_read_free(a);
	imgbuild_image_free(img);
	free(out);
}

static void test_config_and_manifest(void **state)
{
	struct fx *f = *state;
	const char *cmd[] = {"httpd", "-f", "-p", "8080"}, *ep[] = {"/bin/tool"};
	const char *env[] = {"PATH=/bin", "GREETING=a=b"}, *ports[] = {"8080", "53/udp"};
	const char *labels[] = {"org.example.team=web", "empty="};
	struct imgbuild_opts o = {
		.source = f->root,
		.cmd = cmd,
		.ncmd = 4,
		.entrypoint = ep,
		.nentrypoint = 1,
		.env = env,
		.nenv = 2,
		.workdir = "/srv",
		.expose = ports,
		.nexpose = 2,
		.labels = labels,
		.nlabels = 2,
		.arch = "arm64",
	};
	char *out = at(f, "out");
	struct imgbuild_image *img = build_ok(&o, out);
	struct err *e = NULL;
	struct reg_config *c = reg_config_parse(img->config_json, strlen(img->config_json), &e);
	assert_non_null(c);
	assert_string_equal(c->architecture, "arm64");
	assert_string_equal(c->os, "linux");
	assert_string_equal(c->working_dir, "/srv");
	assert_int_equal(c->ncmd, 4);
	assert_string_equal(c->cmd[3], "8080");
	assert_int_equal(c->nentrypoint, 1);
	assert_string_equal(c->entrypoint[0], "/bin/tool");
	assert_int_equal(c->nenv, 2);
	assert_string_equal(c->env[1], "GREETING=a=b");
	assert_int_equal(c->nexposed, 2);
	assert_string_equal(c->exposed_ports[0], "8080/tcp");
	assert_string_equal(c->exposed_ports[1], "53/udp");
	assert_string_equal(json_string_value(json_object_get(c->labels, "org.example.team")), "web");
	assert_string_equal(json_string_value(json_object_get(c->labels, "empty")), "");
	assert_int_equal(c->ndiff_ids, 1);
	assert_string_equal(c->diff_ids[0], img->diff_id);
	assert_non_null(strstr(img->config_json, "\"created_by\":\"gantry image import\""));
	reg_config_free(c);
	struct reg_manifest *m = reg_manifest_parse(img->manifest_json, strlen(img->manifest_json), NULL, &e);
	assert_non_null(m);
	assert_int_equal(m->kind, REG_KIND_OCI_MANIFEST);
	assert_string_equal(m->config.media_type, REG_MT_OCI_CONFIG);
	assert_string_equal(m->config.digest, img->config.digest);
	assert_int_equal(m->config.size, img->config.size);
	assert_int_equal(m->nitems, 1);
	assert_string_equal(m->items[0].media_type, REG_MT_OCI_LAYER_GZIP);
	assert_string_equal(m->items[0].digest, img->layer.digest);
	assert_int_equal(m->items[0].size, img->layer.size);
	reg_manifest_free(m);
	/* Without options: no config.Cmd and the like at all. */
	struct imgbuild_opts bare = {.source = f->root};
	struct imgbuild_image *b = build_ok(&bare, out);
	assert_null(strstr(b->config_json, "Cmd"));
	assert_null(strstr(b->config_json, "Env"));
	assert_non_null(strstr(b->config_json, "\"architecture\":\"amd64\""));
	/* An empty array is kept: "Cmd": []. */
	const char *none[] = {NULL};
	bare.cmd = none;
	imgbuild_image_free(b);
	b = build_ok(&bare, out);
	assert_non_null(strstr(b->config_json, "\"Cmd\":[]"));
	imgbuild_image_free(b);
	imgbuild_image_free(img);
	free(out);
}

/* Writes a tar of the fixture's tree as `tar -C root -cf - .` might, but in another order, with
 * other times and owners, a duplicate entry and "./" prefixes. filter: "gzip" or NULL. */
static void write_tar(const char *path, const char *filter)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_gnutar(a);
	if (filter)
		archive_write_add_filter_by_name(a, filter);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	struct archive_entry *ae = archive_entry_new();
	struct {
		const char *name;
		int type;
		int perm;
		const char *data, *link, *hard;
	} ents[] = {
		{"./", AE_IFDIR, 0755, NULL, NULL, NULL},
		{"./etc/motd", AE_IFREG, 0644, "stale\n", NULL, NULL}, /* replaced below */
		{"./etc/", AE_IFDIR, 0755, NULL, NULL, NULL},
		{"./etc/fifo", AE_IFIFO, 0600, NULL, NULL, NULL},
		{"./bin/", AE_IFDIR, 0755, NULL, NULL, NULL},
		{"./bin/tool2", AE_IFREG, 0755, "#!/bin/sh\necho tool\n", NULL, NULL},
		{"./bin/tool", AE_IFREG, 0755, NULL, NULL, "./bin/tool2"},
		{"/bin/sh", AE_IFLNK, 0777, NULL, "tool", NULL},
		{"empty", AE_IFDIR, 0755, NULL, NULL, NULL},
		{"./etc/motd", AE_IFREG, 0644, "hello\n", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(ents) / sizeof(*ents); i++) {
		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, ents[i].name);
		archive_entry_set_mtime(ae, 1600000000 + (time_t)i, 0);
		archive_entry_set_uid(ae, 1000);
		archive_entry_set_gid(ae, 1000);
		archive_entry_set_uname(ae, "someone");
		if (ents[i].hard) {
			archive_entry_set_hardlink(ae, ents[i].hard);
		} else {
			archive_entry_set_filetype(ae, (unsigned)ents[i].type);
			archive_entry_set_perm(ae, (mode_t)ents[i].perm);
		}
		if (ents[i].link)
			archive_entry_set_symlink(ae, ents[i].link);
		if (ents[i].data)
			archive_entry_set_size(ae, (la_int64_t)strlen(ents[i].data));
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (ents[i].data)
			archive_write_data(a, ents[i].data, strlen(ents[i].data));
	}
	archive_entry_free(ae);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void test_tar_source_matches_directory(void **state)
{
	struct fx *f = *state;
	struct imgbuild_opts o = {.source = f->root};
	char *out = at(f, "out"), *tgz = at(f, "root.tar.gz"), *tar = at(f, "root.tar");
	struct imgbuild_image *dir = build_ok(&o, out);
	write_tar(tgz, "gzip");
	write_tar(tar, NULL);
	o.source = tgz;
	struct imgbuild_image *t1 = build_ok(&o, out);
	o.source = tar;
	struct imgbuild_image *t2 = build_ok(&o, out);
	/* Same entries after normalization: same layer, though tool/tool2 swapped roles. */
	assert_int_equal(t1->nentries, dir->nentries);
	assert_string_equal(t1->diff_id, dir->diff_id);
	assert_string_equal(t1->layer.digest, dir->layer.digest);
	assert_string_equal(t2->manifest.digest, dir->manifest.digest);
	/* --keep-owner keeps the tar's 1000:1000: another layer. */
	o.keep_owner = true;
	struct imgbuild_image *t3 = build_ok(&o, out);
	assert_string_not_equal(t3->diff_id, dir->diff_id);
	imgbuild_image_free(dir);
	imgbuild_image_free(t1);
	imgbuild_image_free(t2);
	imgbuild_image_free(t3);
	free(out);
	free(tgz);
	free(tar);
}

/* A one-entry tar (name, optional hard link target) for the refusals. */
static void write_bad_tar(const char *path, const char *name, const char *hard)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, name);
	if (hard) {
		archive_entry_set_hardlink(ae, hard);
	} else {
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, 1);
	}
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	if (!hard)
		archive_write_data(a, "x", 1);
	archive_entry_free(ae);
	archive_write_close(a);
	archive_write_free(a);
}

static void bad_opts(struct fx *f, struct imgbuild_opts *o, enum err_kind kind, const char *want)
{
	struct err *e = NULL;
	char *out = at(f, "bad");
	assert_null(imgbuild_build(o, out, &e));
	expect_err(&e, kind, want);
	free(out);
}

static void test_bad_inputs(void **state)
{
	struct fx *f = *state;
	char *missing = at(f, "nope"), *junk = at(f, "junk.tar"), *evil = at(f, "evil.tar"),
	     *hard = at(f, "hard.tar");
	struct imgbuild_opts o = {.source = missing};
	bad_opts(f, &o, ERR_INVALID_PARAM, "No such file");
	put_file(junk, "this is not a tar file, not even compressed, and long enough to look at....", 0644);
	o.source = junk;
	bad_opts(f, &o, ERR_INVALID_PARAM, "junk.tar");
	write_bad_tar(evil, "a/../../etc/passwd", NULL);
	o.source = evil;
	bad_opts(f, &o, ERR_INVALID_PARAM, "'..' component");
	write_bad_tar(hard, "bin/sh", "bin/busybox");
	o.source = hard;
	bad_opts(f, &o, ERR_INVALID_PARAM, "hard link to 'bin/busybox'");
	o.source = "/dev/null";
	bad_opts(f, &o, ERR_INVALID_PARAM, "neither a directory nor a tar file");

	o = (struct imgbuild_opts){.source = f->root};
	const char *env[] = {"NOVALUE"}, *env2[] = {"=x"};
	o.env = env;
	o.nenv = 1;
	bad_opts(f, &o, ERR_INVALID_PARAM, "--env 'NOVALUE' is not NAME=VALUE");
	o.env = env2;
	bad_opts(f, &o, ERR_INVALID_PARAM, "--env '=x'");
	o.nenv = 0;
	const char *lab[] = {"nolabel"};
	o.labels = lab;
	o.nlabels = 1;
	bad_opts(f, &o, ERR_INVALID_PARAM, "--label 'nolabel'");
	o.nlabels = 0;
	const char *ports[][1] = {{"http"}, {"0"}, {"70000"}, {"80/xyz"}, {"080"}, {""}};
	for (size_t i = 0; i < sizeof(ports) / sizeof(*ports); i++) {
		o.expose = ports[i];
		o.nexpose = 1;
		bad_opts(f, &o, ERR_INVALID_PARAM, "--expose");
	}
	o.nexpose = 0;
	o.workdir = "srv";
	bad_opts(f, &o, ERR_INVALID_PARAM, "--workdir 'srv' is not an absolute path");
	o.workdir = NULL;
	const char *notutf8[] = {"\xff\xfe"};
	o.cmd = notutf8;
	o.ncmd = 1;
	bad_opts(f, &o, ERR_INVALID_PARAM, "not UTF-8");
	o.cmd = NULL;
	o.ncmd = 0;
	o.epoch = -1;
	bad_opts(f, &o, ERR_INVALID_PARAM, "epoch");
	o.epoch = 0;
	o.arch = "x86 64";
	bad_opts(f, &o, ERR_INVALID_PARAM, "architecture");
	free(missing);
	free(junk);
	free(evil);
	free(hard);
}

static void test_parse_argv(void **state)
{
	(void)state;
	struct err *e = NULL;
	size_t n = 99;
	char **v = imgbuild_parse_argv("  [\"httpd\", \"-f\", \"-p\", \"80\"]", &n, &e);
	assert_non_null(v);
	assert_int_equal(n, 4);
	assert_string_equal(v[0], "httpd");
	assert_string_equal(v[3], "80");
	assert_null(v[4]);
	imgbuild_argv_free(v);
	v = imgbuild_parse_argv("echo hello; sleep 1", &n, &e);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "/bin/sh");
	assert_string_equal(v[1], "-c");
	assert_string_equal(v[2], "echo hello; sleep 1");
	imgbuild_argv_free(v);
	v = imgbuild_parse_argv("[]", &n, &e);
	assert_non_null(v);
	assert_int_equal(n, 0);
	imgbuild_argv_free(v);
	assert_null(imgbuild_parse_argv("[\"a\", 1]", &n, &e));
	expect_err(&e, ERR_INVALID_PARAM, "element 1 is not a string");
	assert_null(imgbuild_parse_argv("[\"unterminated", &n, &e));
	expect_err(&e, ERR_INVALID_PARAM, "not a JSON array of strings");
	assert_null(imgbuild_parse_argv("[\"a\\u0000b\"]", &n, &e));
	expect_err(&e, ERR_INVALID_PARAM, "not a JSON array of strings");
	assert_null(imgbuild_parse_argv(" ", &n, &e));
	expect_err(&e, ERR_INVALID_PARAM, "an empty command");
}

static void test_layout_index(void **state)
{
	struct fx *f = *state;
	struct imgbuild_opts o = {.source = f->root};
	char *out = at(f, "lay"), *idxp = at(f, "lay/index.json");
	struct err *e = NULL;
	struct imgbuild_image *a = build_ok(&o, out);
	o.epoch = 5;
	struct imgbuild_image *b = build_ok(&o, out);
	assert_int_equal(imgbuild_layout_add(out, a, "v1", &e), 0);
	assert_int_equal(imgbuild_layout_add(out, a, "v2", &e), 0);
	assert_int_equal(imgbuild_layout_add(out, b, "v1", &e), 0); /* v1 moves to b */
	json_t *idx = json_load_file(idxp, 0, NULL);
	assert_non_null(idx);
	assert_int_equal(json_integer_value(json_object_get(idx, "schemaVersion")), 2);
	json_t *ms = json_object_get(idx, "manifests");
	assert_int_equal(json_array_size(ms), 2);
	json_t *m0 = json_array_get(ms, 0), *m1 = json_array_get(ms, 1);
	const char *k = "org.opencontainers.image.ref.name";
	assert_string_equal(json_string_value(json_object_get(json_object_get(m0, "annotations"), k)), "v2");
	assert_string_equal(json_string_value(json_object_get(m0, "digest")), a->manifest.digest);
	assert_string_equal(json_string_value(json_object_get(json_object_get(m1, "annotations"), k)), "v1");
	assert_string_equal(json_string_value(json_object_get(m1, "digest")), b->manifest.digest);
	assert_int_equal(json_integer_value(json_object_get(m1, "size")), b->manifest.size);
	json_decref(idx);
	assert_int_equal(imgbuild_layout_add(out, a, "bad tag!", &e), -1);
	expect_err(&e, ERR_INVALID_PARAM, "bad tag!");
	put_file(idxp, "[1, 2]", 0644);
	assert_int_equal(imgbuild_layout_add(out, a, "v3", &e), -1);
	expect_err(&e, ERR_INVALID_PARAM, "not an OCI image index");
	imgbuild_image_free(a);
	imgbuild_image_free(b);
	free(out);
	free(idxp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reproducible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digests_and_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layer_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_and_manifest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tar_source_matches_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
		cmocka_unit_test(test_parse_argv),
		cmocka_unit_test_setup_teardown(test_layout_index, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
