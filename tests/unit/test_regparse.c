/* Unit tests for the registry's parsers of untrusted input: repository names, tags, digests and
 * image references (registry/ref.h), and manifests, indexes and image configs
 * (registry/manifest.h): every grammar rule both ways, each of the four manifest kinds, the
 * schema checks with the member each message names, and the size and count caps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/manifest.h"
#include "registry/ref.h"

#define HEX16 "0123456789abcdef"
#define HEX64 HEX16 HEX16 HEX16 HEX16
#define SHA_A "sha256:" HEX64
#define SHA_B     \
	"sha256:" \
	"b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
#define SHA_C     \
	"sha256:" \
	"9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"
#define SHA512 "sha512:" HEX64 HEX64

/* ---- helpers ---- */

/* Checks that *ep is an error of the given kind whose message contains want, frees it and empties *ep. */
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

/* Fails with the message when *ep is set. */
static void expect_ok(struct err **ep, const char *what)
{
	struct err *e = *ep;
	*ep = NULL;
	if (e) {
		print_error("%s: unexpected error: %s\n", what, e->msg);
		err_free(e);
		fail();
	}
}

static void name_ok(const char *s)
{
	struct err *e = NULL;
	assert_int_equal(reg_name_check(s, &e), e ? -1 : 0);
	expect_ok(&e, s);
}

static void name_bad(const char *s, const char *want)
{
	struct err *e = NULL;
	assert_int_equal(reg_name_check(s, &e), -1);
	expect_err(&e, ERR_INVALID_PARAM, want);
}

static void tag_ok(const char *s)
{
	struct err *e = NULL;
	assert_int_equal(reg_tag_check(s, &e), e ? -1 : 0);
	expect_ok(&e, s);
}

static void tag_bad(const char *s, const char *want)
{
	struct err *e = NULL;
	assert_int_equal(reg_tag_check(s, &e), -1);
	expect_err(&e, ERR_INVALID_PARAM, want);
}

static void digest_ok(const char *s)
{
	struct err *e = NULL;
	assert_int_equal(reg_digest_check(s, &e), e ? -1 : 0);
	expect_ok(&e, s);
}

static void digest_bad(const char *s, enum err_kind kind, const char *want)
{
	struct err *e = NULL;
	assert_int_equal(reg_digest_check(s, &e), -1);
	expect_err(&e, kind, want);
}

static void ref_ok(const char *s, const char *registry, const char *repository, const char *tag,
		   const char *digest)
{
	struct reg_image_ref r;
	struct err *e = NULL;
	int rc = reg_image_ref_parse(s, &r, &e);
	expect_ok(&e, s);
	assert_int_equal(rc, 0);
	assert_string_equal(r.registry, registry);
	assert_string_equal(r.repository, repository);
	if (tag)
		assert_string_equal(r.tag, tag);
	else
		assert_null(r.tag);
	if (digest)
		assert_string_equal(r.digest, digest);
	else
		assert_null(r.digest);
	reg_image_ref_release(&r);
	assert_null(r.registry);
}

static void ref_bad_kind(const char *s, enum err_kind kind, const char *want)
{
	struct reg_image_ref r;
	struct err *e = NULL;
	memset(&r, 0x5a, sizeof(r)); /* the parser must empty it */
	assert_int_equal(reg_image_ref_parse(s, &r, &e), -1);
	assert_null(r.registry);
	assert_null(r.repository);
	assert_null(r.tag);
	assert_null(r.digest);
	expect_err(&e, kind, want);
}

static void ref_bad(const char *s, const char *want)
{
	ref_bad_kind(s, ERR_INVALID_PARAM, want);
}

/* A string of n copies of c followed by tail. The caller frees it. */
static char *repeat(char c, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	char *s = malloc(n + t + 1);
	assert_non_null(s);
	memset(s, c, n);
	memcpy(s + n, tail, t + 1);
	return s;
}

/* ---- names, tags, digests ---- */

static void test_names(void **state)
{
	(void)state;
	name_ok("ab");
	name_ok("a/b");
	name_ok("library/busybox");
	name_ok("a.b");
	name_ok("a_b");
	name_ok("a__b");
	name_ok("a-b");
	name_ok("a---b");
	name_ok("0a/b-c/d.e__f/9");
	name_ok("my-org/team.app/web_server");

	name_bad("Foo",
		 "repository name \"Foo\": character 1 'F' is not allowed: repository names are lowercase");
	name_bad("abC", "character 3 'C' is not allowed");
	name_bad("a b", "repository name \"a b\": character 2 ' ' is not allowed (lowercase letters, digits");
	name_bad("a:b", "character 2 ':' is not allowed");
	name_bad("a@b", "character 2 '@' is not allowed");
	name_bad("a\x01z", "repository name \"a\\x01z\": character 2 (byte 0x01) is not allowed");
	name_bad("-ab", "repository name \"-ab\": character 1 '-' cannot start a path component");
	name_bad("_ab", "character 1 '_' cannot start a path component");
	name_bad(".ab", "character 1 '.' cannot start a path component");
	name_bad("/ab", "character 1 '/' cannot start a path component");
	name_bad("ab-", "repository name \"ab-\": character 3 '-' ends the name");
	name_bad("ab.", "character 3 '.' ends the name");
	name_bad("ab__", "character 4 '_' ends the name");
	name_bad("ab/", "character 3 '/' ends the name");
	name_bad("a..b",
		 "repository name \"a..b\": character 3 '.' cannot follow the separator at character 2");
	name_bad("a___b", "character 4 '_' cannot follow the separator at character 2");
	name_bad("a_-b", "character 3 '-' cannot follow the separator at character 2");
	name_bad("a-.b", "character 3 '.' cannot follow the separator at character 2");
	name_bad("a./b", "character 3 '/' cannot follow the separator");
	name_bad("a//b", "repository name \"a//b\": character 3 '/' makes an empty path component");
	name_bad("a/-b", "character 3 '-' cannot start a path component");
	name_bad("a", "repository name \"a\" is too short: it must be 2 to 256 characters");
	name_bad("", "repository name is empty");
	name_bad(NULL, "repository name is empty");

	char *s = repeat('a', REG_NAME_MAX, "");
	name_ok(s);
	free(s);
	s = repeat('a', REG_NAME_MAX + 1, "");
	name_bad(s, "is too long: it must be 2 to 256 characters");
	/* long names are shortened in messages */
	struct err *e = NULL;
	assert_int_equal(reg_name_check(s, &e), -1);
	assert_non_null(e);
	assert_non_null(strstr(e->msg, "aaaa\"... is too long"));
	assert_true(strlen(e->msg) < 300);
	err_free(e);
	free(s);
	/* a NULL err is allowed */
	assert_int_equal(reg_name_check("A", NULL), -1);
}

static void test_tags(void **state)
{
	(void)state;
	tag_ok("latest");
	tag_ok("1.0");
	tag_ok("v1.2.3-rc.1_build");
	tag_ok("_x");
	tag_ok("A");
	tag_ok("9");
	tag_ok("UPPER-case.Tag_1");

	tag_bad("", "tag is empty");
	tag_bad(NULL, "tag is empty");
	tag_bad(".x",
		"tag \".x\": character 1 '.' cannot start a tag; a tag starts with a letter, digit or '_'");
	tag_bad("-x", "character 1 '-' cannot start a tag");
	tag_bad("a:b", "tag \"a:b\": character 2 ':' is not allowed (letters, digits, '_', '.' and '-')");
	tag_bad("a/b", "character 2 '/' is not allowed");
	tag_bad("a+b", "character 2 '+' is not allowed");
	tag_bad("a b", "character 2 ' ' is not allowed");
	tag_bad("caf\xc3\xa9", "tag \"caf\\xc3\\xa9\": character 4 (byte 0xc3) is not allowed");

	char *s = repeat('t', REG_TAG_MAX, "");
	tag_ok(s);
	free(s);
	s = repeat('t', REG_TAG_MAX + 1, "");
	tag_bad(s, "is more than 128 characters long");
	free(s);
}

static void test_digests(void **state)
{
	(void)state;
	digest_ok(SHA_A);
	digest_ok(SHA_B);
	digest_ok(SHA512);

	digest_bad(
		"sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", ERR_INVALID_PARAM,
		"\"sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\" is not a sha256 "
		"digest (64 lowercase hex digits)");
	digest_bad("sha256:" HEX16 HEX16 HEX16 "0123456789abcde", ERR_INVALID_PARAM,
		   "is not a sha256 digest (64 lowercase hex digits)");
	digest_bad(SHA_A "0", ERR_INVALID_PARAM, "is not a sha256 digest (64 lowercase hex digits)");
	digest_bad("sha256:xyz", ERR_INVALID_PARAM,
		   "\"sha256:xyz\" is not a sha256 digest (64 lowercase hex digits)");
	digest_bad("sha512:" HEX64, ERR_INVALID_PARAM, "is not a sha512 digest (128 lowercase hex digits)");
	/* well-formed, but an algorithm gantry does not take */
	digest_bad("sha384:" HEX64 HEX16 HEX16, ERR_UNSUPPORTED,
		   "uses the algorithm \"sha384\"; only sha256 and sha512 are supported");
	digest_bad("blake3:" HEX64, ERR_UNSUPPORTED, "uses the algorithm \"blake3\"");
	digest_bad("md5:d41d8cd98f00b204e9800998ecf8427e", ERR_UNSUPPORTED, "\"md5\"");
	digest_bad("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", ERR_UNSUPPORTED,
		   "\"sha256+b64u\"");
	digest_bad("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", ERR_UNSUPPORTED,
		   "\"multihash+base58\"");
	digest_bad("a.b_c-d:x=y", ERR_UNSUPPORTED, "\"a.b_c-d\"");
	/* malformed */
	digest_bad("SHA256:" HEX64, ERR_INVALID_PARAM,
		   "character 1 'S' is not allowed there in the algorithm");
	digest_bad("sha256" HEX64, ERR_INVALID_PARAM,
		   "has no ':' between the algorithm and the encoded hash");
	digest_bad(":" HEX64, ERR_INVALID_PARAM, "has no algorithm before ':'");
	digest_bad("sha256:", ERR_INVALID_PARAM, "\"sha256:\" has nothing after ':'");
	digest_bad("sha__256:abc", ERR_INVALID_PARAM,
		   "character 5 '_' is not allowed there in the algorithm");
	digest_bad("sha256-:abc", ERR_INVALID_PARAM, "character 8 ':' is not allowed there in the algorithm");
	digest_bad("-sha:abc", ERR_INVALID_PARAM, "character 1 '-'");
	digest_bad("sha256:abc!", ERR_INVALID_PARAM,
		   "character 11 '!' is not allowed in the encoded hash (letters, digits, '=', '_' and '-')");
	digest_bad("sha256:" HEX16 ":" HEX16, ERR_INVALID_PARAM,
		   "character 24 ':' is not allowed in the encoded");
	digest_bad("", ERR_INVALID_PARAM, "digest is empty");
	digest_bad(NULL, ERR_INVALID_PARAM, "digest is empty");
	char *s = repeat('a', 2000, ":b");
	digest_bad(s, ERR_INVALID_PARAM, "is more than 1024 characters long");
	free(s);

	assert_true(reg_ref_is_digest(SHA_A));
	assert_true(reg_ref_is_digest("x:y"));
	assert_false(reg_ref_is_digest("latest"));
	assert_false(reg_ref_is_digest(""));
	assert_false(reg_ref_is_digest(NULL));
}

/* ---- image references ---- */

static void test_image_refs(void **state)
{
	(void)state;
	ref_ok("busybox", "docker.io", "library/busybox", "latest", NULL);
	ref_ok("busybox:1.36", "docker.io", "library/busybox", "1.36", NULL);
	ref_ok("library/busybox", "docker.io", "library/busybox", "latest", NULL);
	ref_ok("docker.io/busybox", "docker.io", "library/busybox", "latest", NULL);
	ref_ok("docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", NULL);
	ref_ok("index.docker.io/busybox", "docker.io", "library/busybox", "latest", NULL);
	ref_ok("user/app:v1", "docker.io", "user/app", "v1", NULL);
	ref_ok("localhost:5000/a/b:1@" SHA_A, "localhost:5000", "a/b", "1", SHA_A);
	ref_ok("127.0.0.1:7700/app", "127.0.0.1:7700", "app", "latest", NULL);
	ref_ok("127.0.0.1:7700/app:1.0", "127.0.0.1:7700", "app", "1.0", NULL);
	ref_ok("localhost/ab", "localhost", "ab", "latest", NULL);
	ref_ok("ghcr.io/owner/repo@" SHA512, "ghcr.io", "owner/repo", NULL, SHA512);
	ref_ok("busybox@" SHA_B, "docker.io", "library/busybox", NULL, SHA_B);
	ref_ok("Registry.Example.COM/team/app", "Registry.Example.COM", "team/app", "latest", NULL);
	ref_ok("[::1]:5000/app:x", "[::1]:5000", "app", "x", NULL);
	ref_ok("my-host.example:443/a/b/c", "my-host.example:443", "a/b/c", "latest", NULL);
	/* "localhost" alone and "host:port" alone are Docker Hub repositories, as docker reads them */
	ref_ok("localhost", "docker.io", "library/localhost", "latest", NULL);
	ref_ok("host:5000", "docker.io", "library/host", "5000", NULL);

	ref_bad("", "image reference is empty");
	ref_bad(NULL, "image reference is empty");
	ref_bad("Busybox",
		"image reference \"Busybox\": repository name \"library/Busybox\": character 9 'B' is "
		"not allowed");
	ref_bad("busybox:", "image reference \"busybox:\": tag is empty");
	ref_bad("busybox:a:b", "repository name \"library/busybox:a\": character 16 ':' is not allowed");
	ref_bad("busybox:-x", "tag \"-x\": character 1 '-' cannot start a tag");
	ref_bad("busybox@", "image reference \"busybox@\": digest is empty");
	ref_bad("busybox@sha256:xyz", "\"sha256:xyz\" is not a sha256 digest");
	ref_bad("busybox@" SHA_A "@" SHA_A, "is not allowed in the encoded hash");
	ref_bad_kind("busybox@sha384:" HEX64 HEX16 HEX16, ERR_UNSUPPORTED, "only sha256 and sha512");
	ref_bad("localhost:99999/app",
		"registry \"localhost:99999\" has a port that is not a number from 1 to 65535");
	ref_bad("localhost:0/app", "has a port that is not a number");
	ref_bad("localhost:/app", "has a port that is not a number");
	ref_bad("local_host.x/app", "registry \"local_host.x\" is not a host name or address");
	ref_bad("-bad.example/app", "has a host name label that starts or ends with '-'");
	ref_bad("a..b/app", "has an empty host name label");
	ref_bad("[zz]:5000/app", "is not a bracketed IPv6 address");
	ref_bad("example.com/", "repository name is empty");
	ref_bad("example.com/app//x", "makes an empty path component");
	ref_bad(":tag", "image reference \":tag\": repository name is empty");
	ref_bad("@" SHA_A, "repository name");
	ref_bad("127.0.0.1:7700/a", "repository name \"a\" is too short");
	char *s = repeat('a', REG_REF_MAX + 1, "");
	ref_bad(s, "is more than 1024 characters long");
	free(s);
	/* releasing twice or NULL is harmless */
	reg_image_ref_release(NULL);
}

/* ---- manifests ---- */

static json_t *desc(const char *media_type, const char *digest, long long size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size",
			 (json_int_t)size);
}

static json_t *oci_manifest(void)
{
	return json_pack("{s:i, s:s, s:o, s:[o,o], s:{s:s}}", "schemaVersion", 2, "mediaType",
			 REG_MT_OCI_MANIFEST, "config", desc(REG_MT_OCI_CONFIG, SHA_A, 7023), "layers",
			 desc(REG_MT_OCI_LAYER_GZIP, SHA_B, 32654), desc(REG_MT_OCI_LAYER_ZSTD, SHA_C, 16724),
			 "annotations", "org.opencontainers.image.created", "2024-01-01T00:00:00Z");
}

static json_t *platform_desc(const char *media_type, const char *digest, long long size, const char *os,
			     const char *arch, const char *variant)
{
	json_t *d = desc(media_type, digest, size);
	json_t *p = json_pack("{s:s, s:s}", "os", os, "architecture", arch);
	if (variant)
		json_object_set_new(p, "variant", json_string(variant));
	json_object_set_new(d, "platform", p);
	return d;
}

static json_t *oci_index(void)
{
	return json_pack("{s:i, s:s, s:[o,o,o]}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX,
			 "manifests", platform_desc(REG_MT_OCI_MANIFEST, SHA_A, 7143, "linux", "amd64", NULL),
			 platform_desc(REG_MT_OCI_MANIFEST, SHA_B, 7682, "linux", "arm64", "v8"),
			 desc(REG_MT_OCI_INDEX, SHA512, 100));
}

static json_t *docker_manifest(void)
{
	return json_pack("{s:i, s:s, s:o, s:[o]}", "schemaVersion", 2, "mediaType", REG_MT_DOCKER_MANIFEST,
			 "config", desc(REG_MT_DOCKER_CONFIG, SHA_A, 1469), "layers",
			 desc(REG_MT_DOCKER_LAYER, SHA_B, 2479));
}

static json_t *docker_list(void)
{
	return json_pack("{s:i, s:s, s:[o,o]}", "schemaVersion", 2, "mediaType", REG_MT_DOCKER_LIST,
			 "manifests",
			 platform_desc(REG_MT_DOCKER_MANIFEST, SHA_A, 528, "linux", "amd64", NULL),
			 platform_desc(REG_MT_DOCKER_MANIFEST, SHA_C, 527, "linux", "arm", "v7"));
}

/* Serializes doc (and drops the reference) and parses it with content type ct. */
static struct reg_manifest *parse_doc(json_t *doc, const char *ct, struct err **e)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	assert_non_null(text);
	json_decref(doc);
	struct reg_manifest *m = reg_manifest_parse(text, strlen(text), ct, e);
	free(text);
	return m;
}

static struct reg_manifest *doc_ok(json_t *doc, const char *ct)
{
	struct err *e = NULL;
	struct reg_manifest *m = parse_doc(doc, ct, &e);
	expect_ok(&e, "manifest");
	assert_non_null(m);
	return m;
}

static void doc_bad_kind(json_t *doc, const char *ct, enum err_kind kind, const char *want)
{
	struct err *e = NULL;
	struct reg_manifest *m = parse_doc(doc, ct, &e);
	assert_null(m);
	expect_err(&e, kind, want);
}

static void doc_bad(json_t *doc, const char *ct, const char *want)
{
	doc_bad_kind(doc, ct, ERR_INVALID_PARAM, want);
}

static void text_bad(const char *text, const char *ct, enum err_kind kind, const char *want)
{
	struct err *e = NULL;
	assert_null(reg_manifest_parse(text, strlen(text), ct, &e));
	expect_err(&e, kind, want);
}

static json_t *layer(json_t *doc, size_t i)
{
	return json_array_get(json_object_get(doc, "layers"), i);
}

static json_t *entry(json_t *doc, size_t i)
{
	return json_array_get(json_object_get(doc, "manifests"), i);
}

static void test_manifest_oci(void **state)
{
	(void)state;
	const char *cts[] = {NULL, "", REG_MT_OCI_MANIFEST, REG_MT_OCI_MANIFEST "; charset=utf-8",
			     " APPLICATION/vnd.oci.image.manifest.v1+JSON "};
	for (size_t i = 0; i < sizeof(cts) / sizeof(cts[0]); i++) {
		struct reg_manifest *m = doc_ok(oci_manifest(), cts[i]);
		assert_int_equal(m->kind, REG_KIND_OCI_MANIFEST);
		assert_string_equal(m->media_type, REG_MT_OCI_MANIFEST);
		assert_true(m->has_config);
		assert_string_equal(m->config.media_type, REG_MT_OCI_CONFIG);
		assert_string_equal(m->config.digest, SHA_A);
		assert_int_equal(m->config.size, 7023);
		assert_int_equal(m->nitems, 2);
		assert_string_equal(m->items[0].media_type, REG_MT_OCI_LAYER_GZIP);
		assert_string_equal(m->items[0].digest, SHA_B);
		assert_int_equal(m->items[0].size, 32654);
		assert_string_equal(m->items[1].media_type, REG_MT_OCI_LAYER_ZSTD);
		assert_string_equal(m->items[1].digest, SHA_C);
		assert_int_equal(m->items[1].size, 16724);
		assert_null(m->items[0].os);
		assert_string_equal(m->artifact_type, REG_MT_OCI_CONFIG); /* the referrers rule */
		assert_false(m->has_subject);
		assert_non_null(m->annotations);
		assert_string_equal(json_string_value(json_object_get(m->annotations,
								      "org.opencontainers.image.created")),
				    "2024-01-01T00:00:00Z");
		assert_non_null(m->doc);
		reg_manifest_free(m);
	}

	/* mediaType is only a SHOULD in an OCI manifest: the Content-Type or the shape decides */
	json_t *d = oci_manifest();
	json_object_del(d, "mediaType");
	struct reg_manifest *m = doc_ok(d, REG_MT_OCI_MANIFEST);
	assert_int_equal(m->kind, REG_KIND_OCI_MANIFEST);
	reg_manifest_free(m);
	d = oci_manifest();
	json_object_del(d, "mediaType");
	m = doc_ok(d, NULL);
	assert_int_equal(m->kind, REG_KIND_OCI_MANIFEST);
	assert_string_equal(m->media_type, REG_MT_OCI_MANIFEST);
	reg_manifest_free(m);

	/* no layers at all is allowed (OCI 1.1 artifacts); so are urls, data, annotations on layers */
	d = oci_manifest();
	json_object_set_new(d, "layers", json_array());
	m = doc_ok(d, NULL);
	assert_int_equal(m->nitems, 0);
	reg_manifest_free(m);
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "urls", json_pack("[s]", "https://example.com/layer"));
	json_object_set_new(layer(d, 0), "annotations", json_pack("{s:s}", "k", "v"));
	json_object_set_new(layer(d, 1), "data", json_string("e30="));
	json_object_set_new(layer(d, 1), "size", json_integer(0));
	json_object_set_new(d, "annotations", json_null());
	json_object_set_new(d, "unknownMember", json_pack("[i]", 1));
	m = doc_ok(d, NULL);
	assert_int_equal(m->items[1].size, 0);
	assert_null(m->annotations);
	reg_manifest_free(m);
	/* a sha512 layer */
	d = oci_manifest();
	json_object_set_new(layer(d, 1), "digest", json_string(SHA512));
	m = doc_ok(d, NULL);
	assert_string_equal(m->items[1].digest, SHA512);
	reg_manifest_free(m);
	reg_manifest_free(NULL);
}

static void test_manifest_oci_index(void **state)
{
	(void)state;
	const char *cts[] = {NULL, REG_MT_OCI_INDEX};
	for (size_t i = 0; i < 2; i++) {
		struct reg_manifest *m = doc_ok(oci_index(), cts[i]);
		assert_int_equal(m->kind, REG_KIND_OCI_INDEX);
		assert_string_equal(m->media_type, REG_MT_OCI_INDEX);
		assert_false(m->has_config);
		assert_int_equal(m->nitems, 3);
		assert_string_equal(m->items[0].os, "linux");
		assert_string_equal(m->items[0].architecture, "amd64");
		assert_null(m->items[0].variant);
		assert_string_equal(m->items[1].architecture, "arm64");
		assert_string_equal(m->items[1].variant, "v8");
		assert_string_equal(m->items[1].digest, SHA_B);
		assert_int_equal(m->items[1].size, 7682);
		assert_null(m->items[2].os); /* a nested index without a platform */
		assert_string_equal(m->items[2].media_type, REG_MT_OCI_INDEX);
		assert_null(m->artifact_type); /* an index has no config to fall back on */
		assert_false(m->has_subject);
		reg_manifest_free(m);
	}
	/* without mediaType, "manifests" makes it an index */
	json_t *d = oci_index();
	json_object_del(d, "mediaType");
	struct reg_manifest *m = doc_ok(d, NULL);
	assert_int_equal(m->kind, REG_KIND_OCI_INDEX);
	reg_manifest_free(m);
	/* entries may be of media types we do not know (OCI: they MUST be ignored, not refused);
	 * platform extras are type-checked */
	d = oci_index();
	json_object_set_new(entry(d, 0), "mediaType", json_string("application/vnd.example.thing+json"));
	json_object_set_new(json_object_get(entry(d, 1), "platform"), "os.features",
			    json_pack("[s]", "win32k"));
	json_object_set_new(json_object_get(entry(d, 1), "platform"), "os.version", json_string("10.0"));
	json_object_set_new(entry(d, 2), "artifactType", json_string("application/vnd.example.sig"));
	m = doc_ok(d, NULL);
	assert_string_equal(m->items[2].artifact_type, "application/vnd.example.sig");
	reg_manifest_free(m);
	d = oci_index();
	json_object_set_new(d, "manifests", json_array());
	m = doc_ok(d, NULL);
	assert_int_equal(m->nitems, 0);
	assert_null(m->items);
	reg_manifest_free(m);
}

static void test_manifest_docker(void **state)
{
	(void)state;
	struct reg_manifest *m = doc_ok(docker_manifest(), REG_MT_DOCKER_MANIFEST);
	assert_int_equal(m->kind, REG_KIND_DOCKER_MANIFEST);
	assert_string_equal(m->media_type, REG_MT_DOCKER_MANIFEST);
	assert_true(m->has_config);
	assert_string_equal(m->config.media_type, REG_MT_DOCKER_CONFIG);
	assert_int_equal(m->nitems, 1);
	assert_string_equal(m->items[0].media_type, REG_MT_DOCKER_LAYER);
	assert_int_equal(m->items[0].size, 2479);
	assert_string_equal(m->artifact_type, REG_MT_DOCKER_CONFIG);
	assert_null(m->annotations);
	reg_manifest_free(m);
	m = doc_ok(docker_manifest(), NULL);
	assert_int_equal(m->kind, REG_KIND_DOCKER_MANIFEST);
	reg_manifest_free(m);

	/* Docker's formats must name their media type */
	json_t *d = docker_manifest();
	json_object_del(d, "mediaType");
	doc_bad(d, REG_MT_DOCKER_MANIFEST,
		"mediaType: missing (a " REG_MT_DOCKER_MANIFEST " document must have it)");
	/* subject is OCI's: a Docker manifest's is not read */
	d = docker_manifest();
	json_object_set_new(d, "subject", json_string("not even a descriptor"));
	m = doc_ok(d, NULL);
	assert_false(m->has_subject);
	reg_manifest_free(m);
	/* foreign layers with urls */
	d = docker_manifest();
	json_object_set_new(layer(d, 0), "mediaType",
			    json_string("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"));
	json_object_set_new(layer(d, 0), "urls", json_pack("[s]", "https://example.com/l.tgz"));
	m = doc_ok(d, NULL);
	reg_manifest_free(m);
}

static void test_manifest_docker_list(void **state)
{
	(void)state;
	struct reg_manifest *m = doc_ok(docker_list(), REG_MT_DOCKER_LIST);
	assert_int_equal(m->kind, REG_KIND_DOCKER_LIST);
	assert_string_equal(m->media_type, REG_MT_DOCKER_LIST);
	assert_false(m->has_config);
	assert_int_equal(m->nitems, 2);
	assert_string_equal(m->items[1].architecture, "arm");
	assert_string_equal(m->items[1].variant, "v7");
	assert_string_equal(m->items[1].media_type, REG_MT_DOCKER_MANIFEST);
	reg_manifest_free(m);
	m = doc_ok(docker_list(), "");
	assert_int_equal(m->kind, REG_KIND_DOCKER_LIST);
	reg_manifest_free(m);

	json_t *d = docker_list();
	json_object_del(d, "mediaType");
	doc_bad(d, REG_MT_DOCKER_LIST, "mediaType: missing");
	d = docker_list();
	json_object_del(json_object_get(entry(d, 1), "platform"), "os");
	doc_bad(d, NULL, "manifests[1].platform.os: missing");
	d = docker_list();
	json_object_set_new(json_object_get(entry(d, 0), "platform"), "architecture", json_string(""));
	doc_bad(d, NULL, "manifests[0].platform.architecture: must not be empty");
	d = docker_list();
	json_object_set_new(entry(d, 0), "platform", json_string("linux/amd64"));
	doc_bad(d, NULL, "manifests[0].platform: must be an object, not a string");
	d = docker_list();
	json_object_set_new(json_object_get(entry(d, 0), "platform"), "features", json_pack("[i]", 1));
	doc_bad(d, NULL, "manifests[0].platform.features[0]: must be a string, not a number");
}

static void test_manifest_kind_checks(void **state)
{
	(void)state;
	/* the document's mediaType against the Content-Type */
	doc_bad(oci_manifest(), REG_MT_OCI_INDEX,
		"mediaType: \"" REG_MT_OCI_MANIFEST "\" does not match the Content-Type " REG_MT_OCI_INDEX);
	doc_bad(docker_manifest(), REG_MT_OCI_MANIFEST, "does not match the Content-Type");
	doc_bad(docker_list(), REG_MT_DOCKER_MANIFEST, "does not match the Content-Type");
	doc_bad(oci_index(), REG_MT_DOCKER_LIST, "does not match the Content-Type");
	json_t *d = oci_manifest();
	json_object_set_new(d, "mediaType", json_string("application/vnd.example+json"));
	doc_bad(d, REG_MT_OCI_MANIFEST, "mediaType: \"application/vnd.example+json\" does not match");
	d = oci_manifest();
	json_object_set_new(d, "mediaType", json_string("application/vnd.example+json"));
	doc_bad_kind(d, NULL, ERR_UNSUPPORTED, "is not a manifest media type gantry takes");
	d = oci_manifest();
	json_object_set_new(d, "mediaType", json_string("manifest"));
	doc_bad(d, NULL, "mediaType: \"manifest\" is not a media type");
	d = oci_manifest();
	json_object_set_new(d, "mediaType", json_integer(2));
	doc_bad(d, NULL, "mediaType: must be a string, not a number");
	/* Content-Types that are not manifests */
	doc_bad_kind(oci_manifest(), "application/json", ERR_UNSUPPORTED,
		     "Content-Type \"application/json\" is not a manifest media type gantry takes");
	doc_bad_kind(oci_manifest(), "application/vnd.oci.artifact.manifest.v1+json", ERR_UNSUPPORTED,
		     "not a manifest media type");
	doc_bad(oci_manifest(), "json", "Content-Type \"json\" is not a media type");
	/* a document that could be read as both a manifest and an index */
	d = oci_manifest();
	json_object_set_new(d, "manifests", json_array());
	doc_bad(d, NULL, "manifests: not a member of an image manifest");
	d = oci_index();
	json_object_set_new(d, "layers", json_array());
	doc_bad(d, NULL, "layers: not a member of an image index");
	d = oci_index();
	json_object_set_new(d, "config", desc(REG_MT_OCI_CONFIG, SHA_A, 2));
	doc_bad(d, NULL, "config: not a member of an image index");
	d = oci_manifest();
	json_object_del(d, "mediaType");
	json_object_set_new(d, "manifests", json_array());
	doc_bad(d, NULL, "config: not a member of an image index"); /* guessed an index from "manifests" */
	/* duplicate members */
	text_bad("{\"schemaVersion\":2,\"schemaVersion\":2}", NULL, ERR_INVALID_PARAM,
		 "duplicate object key");
}

static void test_manifest_schema1(void **state)
{
	(void)state;
	const char *s1 = "{\"schemaVersion\":1,\"name\":\"library/busybox\",\"tag\":\"latest\","
			 "\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":\"" SHA_A "\"}],"
			 "\"history\":[{\"v1Compatibility\":\"{}\"}]}";
	text_bad(s1, NULL, ERR_UNSUPPORTED,
		 "schemaVersion: 1: Docker image manifest v2 schema 1 is not supported");
	text_bad(s1, REG_MT_DOCKER_MANIFEST, ERR_UNSUPPORTED, "schema 1 is not supported");
	text_bad(s1, "application/vnd.docker.distribution.manifest.v1+prettyjws", ERR_UNSUPPORTED,
		 "Content-Type \"application/vnd.docker.distribution.manifest.v1+prettyjws\": Docker image "
		 "manifest v2 schema 1 is not supported");
	text_bad(s1, "application/vnd.docker.distribution.manifest.v1+json", ERR_UNSUPPORTED, "schema 1");
	json_t *d = docker_manifest();
	json_object_set_new(d, "mediaType",
			    json_string("application/vnd.docker.distribution.manifest.v1+json"));
	doc_bad_kind(d, NULL, ERR_UNSUPPORTED,
		     "mediaType: \"application/vnd.docker.distribution.manifest.v1+json\": "
		     "Docker image manifest v2 schema 1 is not supported");

	d = oci_manifest();
	json_object_set_new(d, "schemaVersion", json_integer(3));
	doc_bad(d, NULL, "schemaVersion: must be 2, not 3");
	d = oci_manifest();
	json_object_set_new(d, "schemaVersion", json_string("2"));
	doc_bad(d, NULL, "schemaVersion: must be the number 2, not a string");
	d = oci_manifest();
	json_object_set_new(d, "schemaVersion", json_real(2.0));
	doc_bad(d, NULL, "schemaVersion: must be the number 2, not a decimal number");
	d = oci_manifest();
	json_object_del(d, "schemaVersion");
	doc_bad(d, NULL, "schemaVersion: missing (must be 2)");
}

static void test_manifest_members(void **state)
{
	(void)state;
	json_t *d = oci_manifest();
	json_object_del(d, "config");
	doc_bad(d, NULL, "config: missing");
	d = docker_manifest();
	json_object_set_new(d, "config", json_null());
	doc_bad(d, NULL, "config: missing");
	d = oci_manifest();
	json_object_set_new(d, "config", json_array());
	doc_bad(d, NULL, "config: must be a descriptor object, not an array");
	d = oci_manifest();
	json_object_del(json_object_get(d, "config"), "mediaType");
	doc_bad(d, NULL, "config.mediaType: missing");
	d = oci_manifest();
	json_object_set_new(json_object_get(d, "config"), "digest", json_string("sha384:" HEX64 HEX16 HEX16));
	doc_bad_kind(d, NULL, ERR_UNSUPPORTED, "config.digest: digest \"sha384:");
	d = oci_manifest();
	json_object_del(d, "layers");
	doc_bad(d, NULL, "layers: missing");
	d = oci_manifest();
	json_object_set_new(d, "layers", json_object());
	doc_bad(d, NULL, "layers: must be an array, not an object");
	d = oci_manifest();
	json_array_append_new(json_object_get(d, "layers"), json_string(SHA_A));
	doc_bad(d, NULL, "layers[2]: must be a descriptor object, not a string");

	/* the brief's example: a bad layer digest, named by its position */
	d = oci_manifest();
	json_array_append_new(json_object_get(d, "layers"), desc(REG_MT_OCI_LAYER_GZIP, "sha256:xyz", 1));
	doc_bad(d, NULL, "layers[2].digest: \"sha256:xyz\" is not a sha256 digest (64 lowercase hex digits)");
	d = oci_manifest();
	json_object_set_new(layer(d, 1), "digest",
			    json_string("sha256:" HEX16 HEX16 HEX16 "0123456789ABCDEF"));
	doc_bad(d, NULL, "layers[1].digest: \"sha256:");
	d = docker_manifest();
	json_object_del(layer(d, 0), "digest");
	doc_bad(d, NULL, "layers[0].digest: missing");
	d = docker_manifest();
	json_object_set_new(layer(d, 0), "digest", json_integer(5));
	doc_bad(d, NULL, "layers[0].digest: must be a string, not a number");

	/* sizes */
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "size", json_integer(-1));
	doc_bad(d, NULL, "layers[0].size: -1 is negative");
	d = oci_manifest();
	json_object_set_new(json_object_get(d, "config"), "size", json_integer(-7023));
	doc_bad(d, NULL, "config.size: -7023 is negative");
	d = oci_manifest();
	json_object_set_new(layer(d, 1), "size", json_string("16724"));
	doc_bad(d, NULL, "layers[1].size: must be an integer, not a string");
	d = oci_manifest();
	json_object_set_new(layer(d, 1), "size", json_real(1.5));
	doc_bad(d, NULL, "layers[1].size: must be an integer, not a decimal number");
	d = oci_manifest();
	json_object_del(layer(d, 1), "size");
	doc_bad(d, NULL, "layers[1].size: missing");
	text_bad("{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST
		 "\",\"config\":{\"mediaType\":\"" REG_MT_OCI_CONFIG "\",\"digest\":\"" SHA_A
		 "\",\"size\":99999999999999999999999},\"layers\":[]}",
		 NULL, ERR_INVALID_PARAM, "manifest is not valid JSON");

	/* media types */
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "mediaType", json_string("tar"));
	doc_bad(d, NULL, "layers[0].mediaType: \"tar\" is not a media type (type/subtype, RFC 6838)");
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "mediaType", json_string("application/x; a=b"));
	doc_bad(d, NULL, "layers[0].mediaType: \"application/x; a=b\" is not a media type");
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "mediaType", json_string("application/-x"));
	doc_bad(d, NULL, "is not a media type");
	d = oci_manifest();
	json_object_del(layer(d, 0), "mediaType");
	doc_bad(d, NULL, "layers[0].mediaType: missing");

	/* optional descriptor members are type-checked */
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "urls", json_pack("[s,i]", "https://x", 3));
	doc_bad(d, NULL, "layers[0].urls[1]: must be a string, not a number");
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "urls", json_string("https://x"));
	doc_bad(d, NULL, "layers[0].urls: must be an array, not a string");
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "annotations", json_pack("{s:i}", "k", 1));
	doc_bad(d, NULL, "layers[0].annotations: the value of \"k\" must be a string, not a number");
	d = oci_manifest();
	json_object_set_new(layer(d, 0), "data", json_true());
	doc_bad(d, NULL, "layers[0].data: must be a string, not a boolean");
	d = oci_manifest();
	json_object_set_new(d, "annotations", json_pack("[s]", "x"));
	doc_bad(d, NULL, "annotations: must be an object, not an array");
	d = oci_manifest();
	json_object_set_new(d, "annotations", json_pack("{s:s, s:b}", "a", "b", "c", 1));
	doc_bad(d, NULL, "annotations: the value of \"c\" must be a string, not a boolean");

	/* indexes */
	d = oci_index();
	json_object_del(d, "manifests");
	doc_bad(d, NULL, "manifests: missing");
	d = oci_index();
	json_object_set_new(entry(d, 2), "size", json_integer(-5));
	doc_bad(d, NULL, "manifests[2].size: -5 is negative");
	d = oci_index();
	json_object_set_new(entry(d, 0), "digest", json_string("sha256:" HEX16));
	doc_bad(d, REG_MT_OCI_INDEX, "manifests[0].digest: \"sha256:" HEX16 "\" is not a sha256 digest");
	d = oci_index();
	json_object_set_new(json_object_get(entry(d, 0), "platform"), "os", json_integer(1));
	doc_bad(d, NULL, "manifests[0].platform.os: must be a string, not a number");
	d = oci_index();
	json_object_set_new(json_object_get(entry(d, 0), "platform"), "os.version", json_integer(1));
	doc_bad(d, NULL, "manifests[0].platform.os.version: must be a string");
}

static void test_manifest_not_json(void **state)
{
	(void)state;
	text_bad("[]", NULL, ERR_INVALID_PARAM, "manifest must be a JSON object, not an array");
	text_bad("[1,2]", REG_MT_OCI_MANIFEST, ERR_INVALID_PARAM,
		 "manifest must be a JSON object, not an array");
	text_bad("\"x\"", NULL, ERR_INVALID_PARAM, "manifest is not valid JSON");
	text_bad("{\"schemaVersion\":2,", NULL, ERR_INVALID_PARAM, "manifest is not valid JSON: line 1");
	text_bad("{\"a\":\"\\u0000\"}", NULL, ERR_INVALID_PARAM, "manifest is not valid JSON");
	text_bad("{\"a\":\"\xff\"}", NULL, ERR_INVALID_PARAM, "manifest is not valid JSON");
	text_bad("", NULL, ERR_INVALID_PARAM, "manifest is empty");
	struct err *e = NULL;
	assert_null(reg_manifest_parse(NULL, 0, NULL, &e));
	expect_err(&e, ERR_INVALID_PARAM, "manifest is empty");
	/* a NULL err is allowed */
	assert_null(reg_manifest_parse("[]", 2, NULL, NULL));
	/* n bounds the input: bytes past n are not read, a prefix is not a manifest */
	json_t *d = oci_manifest();
	char *text = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	size_t n = strlen(text);
	char *more = malloc(n + 8);
	memcpy(more, text, n);
	memcpy(more + n, "garbage", 8);
	struct reg_manifest *m = reg_manifest_parse(more, n, NULL, &e);
	expect_ok(&e, "manifest followed by other bytes");
	reg_manifest_free(m);
	assert_null(reg_manifest_parse(more, n - 1, NULL, &e));
	expect_err(&e, ERR_INVALID_PARAM, "manifest is not valid JSON");
	free(more);
	free(text);
}

/* A valid manifest padded with blanks to exactly n bytes. */
static char *padded_manifest(size_t n)
{
	json_t *d = oci_manifest();
	char *text = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	size_t len = strlen(text);
	assert_true(len < n);
	char *p = malloc(n);
	assert_non_null(p);
	memcpy(p, text, len);
	memset(p + len, ' ', n - len);
	free(text);
	return p;
}

static void test_manifest_caps(void **state)
{
	(void)state;
	struct err *e = NULL;
	char *p = padded_manifest(REG_MANIFEST_MAX + 1);
	assert_null(reg_manifest_parse(p, REG_MANIFEST_MAX + 1, NULL, &e));
	expect_err(&e, ERR_INVALID_PARAM,
		   "manifest is 4194305 bytes, more than the 4194304 a registry takes");
	struct reg_manifest *m = reg_manifest_parse(p, REG_MANIFEST_MAX, NULL, &e);
	expect_ok(&e, "a manifest of exactly REG_MANIFEST_MAX bytes");
	assert_int_equal(m->nitems, 2);
	reg_manifest_free(m);
	free(p);

	/* REG_DESCRIPTORS_MAX layers pass, one more does not */
	json_t *d = oci_manifest();
	json_t *layers = json_array();
	for (size_t i = 0; i < REG_DESCRIPTORS_MAX; i++)
		json_array_append_new(layers, desc(REG_MT_OCI_LAYER_GZIP, SHA_B, (long long)i));
	json_object_set_new(d, "layers", layers);
	m = parse_doc(json_incref(d), NULL, &e);
	expect_ok(&e, "REG_DESCRIPTORS_MAX layers");
	assert_int_equal(m->nitems, REG_DESCRIPTORS_MAX);
	assert_int_equal(m->items[REG_DESCRIPTORS_MAX - 1].size, REG_DESCRIPTORS_MAX - 1);
	reg_manifest_free(m);
	json_array_append_new(layers, desc(REG_MT_OCI_LAYER_GZIP, SHA_B, 1));
	doc_bad(d, NULL, "layers: has 10001 elements, more than 10000");

	d = oci_index();
	json_t *list = json_object_get(d, "manifests");
	while (json_array_size(list) <= REG_DESCRIPTORS_MAX)
		json_array_append_new(list, desc(REG_MT_OCI_MANIFEST, SHA_A, 1));
	doc_bad(d, NULL, "manifests: has 10001 elements, more than 10000");
}

static void test_manifest_artifacts(void **state)
{
	(void)state;
	/* artifactType is taken as given */
	json_t *d = oci_manifest();
	json_object_set_new(d, "artifactType", json_string("application/vnd.example.sbom.v1"));
	json_object_set_new(d, "config",
			    desc(REG_MT_OCI_EMPTY,
				 "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
				 2));
	struct reg_manifest *m = doc_ok(d, NULL);
	assert_string_equal(m->artifact_type, "application/vnd.example.sbom.v1");
	assert_string_equal(m->config.media_type, REG_MT_OCI_EMPTY);
	reg_manifest_free(m);
	/* without one, a config that is not an image config names the artifact */
	d = oci_manifest();
	json_object_set_new(d, "config", desc("application/vnd.cncf.helm.config.v1+json", SHA_A, 10));
	m = doc_ok(d, NULL);
	assert_string_equal(m->artifact_type, "application/vnd.cncf.helm.config.v1+json");
	reg_manifest_free(m);
	d = docker_manifest();
	json_object_set_new(d, "config", desc("application/vnd.example.config+json", SHA_A, 10));
	m = doc_ok(d, NULL);
	assert_string_equal(m->artifact_type, "application/vnd.example.config+json");
	reg_manifest_free(m);
	/* so does an image config: OCI distribution spec, listing referrers, "If the artifactType is
	 * empty or missing in the image manifest, the value of artifactType MUST be set to the config
	 * descriptor mediaType value" */
	d = oci_manifest();
	json_object_set_new(d, "config", desc(REG_MT_DOCKER_CONFIG, SHA_A, 10));
	m = doc_ok(d, NULL);
	assert_string_equal(m->artifact_type, REG_MT_DOCKER_CONFIG);
	reg_manifest_free(m);
	d = oci_manifest();
	json_object_set_new(d, "artifactType", json_string("not a media type"));
	doc_bad(d, NULL, "artifactType: \"not a media type\" is not a media type");
	d = oci_manifest();
	json_object_set_new(d, "artifactType", json_integer(1));
	doc_bad(d, NULL, "artifactType: must be a string, not a number");
	/* Docker's formats have no artifactType member: it is not read, the config's type counts */
	d = docker_manifest();
	json_object_set_new(d, "artifactType", json_string("application/vnd.example"));
	m = doc_ok(d, NULL);
	assert_string_equal(m->artifact_type, REG_MT_DOCKER_CONFIG);
	reg_manifest_free(m);

	/* subject */
	d = oci_manifest();
	json_object_set_new(d, "artifactType",
			    json_string("application/vnd.dev.cosign.artifact.sig.v1+json"));
	json_object_set_new(d, "subject", desc(REG_MT_OCI_MANIFEST, SHA_C, 1234));
	m = doc_ok(d, REG_MT_OCI_MANIFEST);
	assert_true(m->has_subject);
	assert_string_equal(m->subject.media_type, REG_MT_OCI_MANIFEST);
	assert_string_equal(m->subject.digest, SHA_C);
	assert_int_equal(m->subject.size, 1234);
	reg_manifest_free(m);
	d = oci_manifest();
	json_object_set_new(d, "subject", json_null());
	m = doc_ok(d, NULL);
	assert_false(m->has_subject);
	reg_manifest_free(m);
	d = oci_manifest();
	json_object_set_new(d, "subject", desc(REG_MT_OCI_MANIFEST, "sha256:abc", 1));
	doc_bad(d, NULL, "subject.digest: \"sha256:abc\" is not a sha256 digest");
	d = oci_manifest();
	json_object_set_new(d, "subject", json_string(SHA_A));
	doc_bad(d, NULL, "subject: must be a descriptor object, not a string");
	d = oci_manifest();
	json_object_set_new(d, "subject", desc(REG_MT_OCI_MANIFEST, SHA_A, -1));
	doc_bad(d, NULL, "subject.size: -1 is negative");

	/* an index with artifactType and subject */
	d = oci_index();
	json_object_set_new(d, "artifactType", json_string("application/vnd.example.bundle"));
	json_object_set_new(d, "subject", desc(REG_MT_OCI_INDEX, SHA512, 999));
	json_object_set_new(d, "annotations", json_pack("{s:s}", "org.example", "1"));
	m = doc_ok(d, NULL);
	assert_string_equal(m->artifact_type, "application/vnd.example.bundle");
	assert_true(m->has_subject);
	assert_string_equal(m->subject.digest, SHA512);
	assert_non_null(m->annotations);
	reg_manifest_free(m);
	/* Docker lists have no subject */
	d = docker_list();
	json_object_set_new(d, "subject", desc(REG_MT_OCI_INDEX, SHA512, 999));
	m = doc_ok(d, NULL);
	assert_false(m->has_subject);
	reg_manifest_free(m);
}

/* ---- image configs ---- */

#define CONFIG_OK                                                                                          \
	"{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:"  \
	"00Z\","                                                                                           \
	"\"config\":{\"User\":\"1000:1000\",\"WorkingDir\":\"/srv\",\"StopSignal\":\"SIGQUIT\","           \
	"\"Env\":[\"PATH=/usr/bin:/bin\",\"EMPTY=\",\"A=b=c\"],\"Entrypoint\":[\"/bin/app\",\"--serve\"]," \
	"\"Cmd\":[\"-v\"],\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{},\"8080\":{},\"9/sctp\":{}},"       \
	"\"Labels\":{\"org.opencontainers.image.title\":\"app\"},\"Volumes\":{\"/data\":{}}},"             \
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" SHA_A "\",\"" SHA512 "\"]},"                    \
	"\"history\":[{\"created_by\":\"COPY app /bin/app\"}]}"

static struct reg_config *config_text(const char *text, struct err **e)
{
	return reg_config_parse(text, strlen(text), e);
}

/* Parses CONFIG_OK after applying edit to it (a function of the parsed document). */
static struct reg_config *config_edit(void (*edit)(json_t *doc, const char *arg), const char *arg,
				      struct err **e)
{
	json_t *doc = json_loads(CONFIG_OK, 0, NULL);
	assert_non_null(doc);
	edit(doc, arg);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	struct reg_config *c = config_text(text, e);
	free(text);
	return c;
}

/* arg is "PATH=JSON": sets the member at a dotted PATH (objects only) to the JSON value, or
 * deletes it when JSON is empty. */
static void set_member(json_t *doc, const char *arg)
{
	char path[128];
	snprintf(path, sizeof(path), "%s", arg);
	char *eq = strchr(path, '=');
	assert_non_null(eq);
	*eq = '\0';
	const char *value = eq + 1;
	json_t *obj = doc;
	char *key = path, *dot;
	while ((dot = strchr(key, '.'))) {
		*dot = '\0';
		obj = json_object_get(obj, key);
		assert_non_null(obj);
		key = dot + 1;
	}
	if (!*value) {
		json_object_del(obj, key);
		return;
	}
	json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
	assert_non_null(v);
	json_object_set_new(obj, key, v);
}

static void config_bad(const char *edit, const char *want)
{
	struct err *e = NULL;
	assert_null(config_edit(set_member, edit, &e));
	expect_err(&e, ERR_INVALID_PARAM, want);
}

static struct reg_config *config_ok(const char *edit)
{
	struct err *e = NULL;
	struct reg_config *c = config_edit(set_member, edit, &e);
	expect_ok(&e, edit);
	assert_non_null(c);
	return c;
}

static void test_config(void **state)
{
	(void)state;
	struct err *e = NULL;
	struct reg_config *c = config_text(CONFIG_OK, &e);
	expect_ok(&e, "config");
	assert_non_null(c);
	assert_string_equal(c->os, "linux");
	assert_string_equal(c->architecture, "arm64");
	assert_string_equal(c->variant, "v8");
	assert_string_equal(c->user, "1000:1000");
	assert_string_equal(c->working_dir, "/srv");
	assert_string_equal(c->stop_signal, "SIGQUIT");
	assert_int_equal(c->nenv, 3);
	assert_string_equal(c->env[0], "PATH=/usr/bin:/bin");
	assert_string_equal(c->env[1], "EMPTY=");
	assert_string_equal(c->env[2], "A=b=c");
	assert_int_equal(c->nentrypoint, 2);
	assert_string_equal(c->entrypoint[0], "/bin/app");
	assert_string_equal(c->entrypoint[1], "--serve");
	assert_int_equal(c->ncmd, 1);
	assert_string_equal(c->cmd[0], "-v");
	assert_int_equal(c->nexposed, 4);
	assert_string_equal(c->exposed_ports[0], "80/tcp");
	assert_string_equal(c->exposed_ports[1], "53/udp");
	assert_string_equal(c->exposed_ports[2], "8080");
	assert_string_equal(c->exposed_ports[3], "9/sctp");
	assert_int_equal(c->ndiff_ids, 2);
	assert_string_equal(c->diff_ids[0], SHA_A);
	assert_string_equal(c->diff_ids[1], SHA512);
	assert_non_null(c->labels);
	assert_string_equal(json_string_value(json_object_get(c->labels, "org.opencontainers.image.title")),
			    "app");
	assert_non_null(c->doc);
	reg_config_free(c);
	reg_config_free(NULL);

	/* the smallest config: no "config" at all (FROM scratch with nothing set), no layers */
	c = config_text("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
			"\"diff_ids\":[]}}",
			&e);
	expect_ok(&e, "minimal config");
	assert_null(c->user);
	assert_null(c->variant);
	assert_int_equal(c->nenv, 0);
	assert_null(c->env);
	assert_int_equal(c->ncmd, 0);
	assert_int_equal(c->nexposed, 0);
	assert_int_equal(c->ndiff_ids, 0);
	assert_null(c->labels);
	reg_config_free(c);
	/* Go writes null for empty slices and maps */
	c = config_ok("config.Cmd=null");
	assert_null(c->cmd);
	assert_int_equal(c->ncmd, 0);
	reg_config_free(c);
	c = config_ok("config={\"Entrypoint\":null,\"Env\":null,\"ExposedPorts\":null,\"Labels\":null}");
	assert_int_equal(c->nentrypoint + c->nenv + c->nexposed, 0);
	reg_config_free(c);
	c = config_ok("config=null");
	assert_null(c->working_dir);
	reg_config_free(c);

	/* required members */
	config_bad("os=", "os: missing");
	config_bad("os=\"\"", "os: must not be empty");
	config_bad("os=1", "os: must be a string, not a number");
	config_bad("architecture=", "architecture: missing");
	config_bad("variant=8", "variant: must be a string, not a number");
	config_bad("rootfs=", "rootfs: missing");
	config_bad("rootfs=[]", "rootfs: must be an object, not an array");
	config_bad("rootfs.type=", "rootfs.type: missing");
	config_bad("rootfs.type=\"tar\"", "rootfs.type: must be \"layers\", not \"tar\"");
	config_bad("rootfs.diff_ids=", "rootfs.diff_ids: missing");
	config_bad("rootfs.diff_ids={}", "rootfs.diff_ids: must be an array, not an object");
	config_bad("rootfs.diff_ids=[\"sha256:1\"]",
		   "rootfs.diff_ids[0]: \"sha256:1\" is not a sha256 digest");
	config_bad("rootfs.diff_ids=[\"" SHA_A "\",3]", "rootfs.diff_ids[1]: must be a string, not a number");
	/* types of what the platform reads */
	config_bad("config=[]", "config: must be an object, not an array");
	config_bad("config.Env=\"A=b\"", "config.Env: must be an array, not a string");
	config_bad("config.Env=[\"A=b\",1]", "config.Env[1]: must be a string, not a number");
	config_bad("config.Env=[\"A=b\",\"NOVALUE\"]", "config.Env[1]: \"NOVALUE\" is not NAME=VALUE");
	config_bad("config.Env=[\"=x\"]", "config.Env[0]: \"=x\" is not NAME=VALUE");
	config_bad("config.Cmd=\"/bin/sh -c x\"", "config.Cmd: must be an array, not a string");
	config_bad("config.Entrypoint=[[\"x\"]]", "config.Entrypoint[0]: must be a string, not an array");
	config_bad("config.User=0", "config.User: must be a string, not a number");
	config_bad("config.WorkingDir=true", "config.WorkingDir: must be a string, not a boolean");
	config_bad("config.StopSignal=15", "config.StopSignal: must be a string, not a number");
	config_bad("config.Labels={\"a\":1}",
		   "config.Labels: the value of \"a\" must be a string, not a number");
	config_bad("config.Labels=[]", "config.Labels: must be an object, not an array");
	config_bad("config.ExposedPorts=[\"80/tcp\"]",
		   "config.ExposedPorts: must be an object, not an array");
	config_bad("config.ExposedPorts={\"http\":{}}",
		   "config.ExposedPorts: \"http\" is not a port (1-65535, optionally followed by /tcp, /udp "
		   "or /sctp)");
	config_bad("config.ExposedPorts={\"0/tcp\":{}}", "\"0/tcp\" is not a port");
	config_bad("config.ExposedPorts={\"65536\":{}}", "\"65536\" is not a port");
	config_bad("config.ExposedPorts={\"080\":{}}", "\"080\" is not a port");
	config_bad("config.ExposedPorts={\"80/TCP\":{}}", "\"80/TCP\" is not a port");
	config_bad("config.ExposedPorts={\"80/tcpx\":{}}", "\"80/tcpx\" is not a port");
	config_bad("config.ExposedPorts={\"8000-8010/tcp\":{}}", "is not a port");
	config_bad("config.ExposedPorts={\"80/tcp\":true}",
		   "config.ExposedPorts: the value of \"80/tcp\" must be an object ({}), not a boolean");
	c = config_ok("config.ExposedPorts={\"65535/udp\":{},\"1\":{}}");
	assert_int_equal(c->nexposed, 2);
	reg_config_free(c);

	/* not a config at all */
	c = config_text("[]", &e);
	assert_null(c);
	expect_err(&e, ERR_INVALID_PARAM, "image config must be a JSON object, not an array");
	c = config_text("{\"os\":", &e);
	assert_null(c);
	expect_err(&e, ERR_INVALID_PARAM, "image config is not valid JSON");
	c = reg_config_parse(NULL, 0, &e);
	assert_null(c);
	expect_err(&e, ERR_INVALID_PARAM, "image config is empty");
	c = config_text("{\"os\":\"linux\",\"os\":\"windows\",\"architecture\":\"amd64\"}", &e);
	assert_null(c);
	expect_err(&e, ERR_INVALID_PARAM, "duplicate object key");
	/* the size cap */
	size_t n = REG_CONFIG_MAX + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, CONFIG_OK, strlen(CONFIG_OK));
	assert_null(reg_config_parse(big, n, &e));
	expect_err(&e, ERR_INVALID_PARAM, "image config is 8388609 bytes, more than 8388608");
	c = reg_config_parse(big, n - 1, &e);
	expect_ok(&e, "config of exactly REG_CONFIG_MAX bytes");
	reg_config_free(c);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_image_refs),
		cmocka_unit_test(test_manifest_oci),
		cmocka_unit_test(test_manifest_oci_index),
		cmocka_unit_test(test_manifest_docker),
		cmocka_unit_test(test_manifest_docker_list),
		cmocka_unit_test(test_manifest_kind_checks),
		cmocka_unit_test(test_manifest_schema1),
		cmocka_unit_test(test_manifest_members),
		cmocka_unit_test(test_manifest_not_json),
		cmocka_unit_test(test_manifest_caps),
		cmocka_unit_test(test_manifest_artifacts),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
