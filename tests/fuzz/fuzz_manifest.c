/* libFuzzer target for the registry's parsers of untrusted input. The first byte picks the
 * Content-Type ('0' + k: none, OCI manifest, OCI index, Docker manifest, Docker list, modulo 5);
 * the rest is fed to reg_manifest_parse and reg_config_parse as bytes, and, NUL-terminated, to the
 * name, tag, digest and image reference checks. Besides crashes, leaks and undefined behaviour it
 * checks: a refusal is exactly one error of an expected kind with a message; a parsed manifest is
 * of the kind its Content-Type names, every descriptor in it passes reg_digest_check with a size
 * >= 0, and it parses again (to the same thing) under its own media type; a parsed config's
 * diff_ids are digests and its Env entries NAME=VALUE; an accepted name, tag or digest has the
 * shape its grammar allows; a parsed image reference has parts that each pass their checks and
 * reads back to the same parts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/manifest.h"
#include "registry/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	NULL, REG_MT_OCI_MANIFEST, REG_MT_OCI_INDEX, REG_MT_DOCKER_MANIFEST, REG_MT_DOCKER_LIST,
};

#define CHECK(cond)                                                                               \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "fuzz_manifest: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                  \
		}                                                                                 \
	} while (0)

/* A refusal: exactly one outcome, a known kind, a message. */
static void check_refusal(int rc, struct err *e, bool may_be_unsupported)
{
	if (rc == 0) {
		CHECK(e == NULL);
		return;
	}
	CHECK(e != NULL);
	CHECK(e->kind == ERR_INVALID_PARAM || (may_be_unsupported && e->kind == ERR_UNSUPPORTED));
	CHECK(e->msg && e->msg[0]);
}

static void check_descriptor(const struct reg_descriptor *d)
{
	CHECK(d->media_type && d->media_type[0] && strchr(d->media_type, '/'));
	CHECK(reg_digest_check(d->digest, NULL) == 0);
	CHECK(d->size >= 0);
	CHECK(!d->os == !d->architecture);
}

static bool same_descriptor(const struct reg_descriptor *a, const struct reg_descriptor *b)
{
	return !strcmp(a->media_type, b->media_type) && !strcmp(a->digest, b->digest) && a->size == b->size;
}

static void fuzz_manifest(const char *bytes, size_t n, const char *ct)
{
	struct err *e = NULL, *e2 = NULL;
	struct reg_manifest *m, *m2 = NULL;
	size_t i;

	m = reg_manifest_parse(bytes, n, ct, &e);
	check_refusal(m ? 0 : -1, e, true);
	if (!m)
		goto out;
	CHECK(n <= REG_MANIFEST_MAX);
	CHECK(m->kind <= REG_KIND_DOCKER_LIST);
	CHECK(!strcmp(m->media_type, content_types[m->kind + 1]));
	if (ct)
		CHECK(!strcmp(m->media_type, ct));
	bool index = m->kind == REG_KIND_OCI_INDEX || m->kind == REG_KIND_DOCKER_LIST;
	CHECK(m->has_config == !index);
	if (m->has_config) {
		check_descriptor(&m->config);
		CHECK(m->artifact_type != NULL); /* the config's media type when nothing else */
	}
	CHECK(m->nitems <= REG_DESCRIPTORS_MAX);
	CHECK(!m->nitems == !m->items);
	for (i = 0; i < m->nitems; i++)
		check_descriptor(&m->items[i]);
	if (m->has_subject)
		check_descriptor(&m->subject);
	CHECK(m->doc && json_is_object(m->doc));
	CHECK(!m->annotations || json_is_object(m->annotations));

	/* The same bytes under the media type the parser settled on read the same. */
	m2 = reg_manifest_parse(bytes, n, m->media_type, &e2);
	CHECK(m2 && !e2);
	CHECK(m2->kind == m->kind && m2->nitems == m->nitems && m2->has_subject == m->has_subject);
	CHECK(!m->artifact_type == !m2->artifact_type);
	CHECK(!m->artifact_type || !strcmp(m->artifact_type, m2->artifact_type));
	if (m->has_config)
		CHECK(same_descriptor(&m->config, &m2->config));
	for (i = 0; i < m->nitems; i++)
		CHECK(same_descriptor(&m->items[i], &m2->items[i]));
out:
	reg_manifest_free(m2);
	reg_manifest_free(m);
	err_free(e2);
	err_free(e);
}

static void fuzz_config(const char *bytes, size_t n)
{
	struct err *e = NULL;
	struct reg_config *c = reg_config_parse(bytes, n, &e);
	size_t i;

	check_refusal(c ? 0 : -1, e, true);
	if (c) {
		CHECK(c->os && c->os[0] && c->architecture && c->architecture[0]);
		CHECK(c->ndiff_ids <= REG_DESCRIPTORS_MAX);
		for (i = 0; i < c->ndiff_ids; i++)
			CHECK(reg_digest_check(c->diff_ids[i], NULL) == 0);
		for (i = 0; i < c->nenv; i++)
			CHECK(strchr(c->env[i], '=') > c->env[i]);
		for (i = 0; i < c->nentrypoint; i++)
			CHECK(c->entrypoint[i] != NULL);
		for (i = 0; i < c->ncmd; i++)
			CHECK(c->cmd[i] != NULL);
		for (i = 0; i < c->nexposed; i++)
			CHECK(c->exposed_ports[i][0] >= '1' && c->exposed_ports[i][0] <= '9');
	}
	reg_config_free(c);
	err_free(e);
}

static void fuzz_words(const char *s)
{
	struct err *e = NULL;
	size_t n = strlen(s);
	int rc;

	rc = reg_name_check(s, &e);
	check_refusal(rc, e, false);
	if (rc == 0) {
		CHECK(n >= 2 && n <= REG_NAME_MAX);
		CHECK(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-/") == n);
		CHECK(!strstr(s, "//") && !strstr(s, "___") && !strstr(s, "..") && s[n - 1] != '/');
	}
	err_free(e);
	e = NULL;

	rc = reg_tag_check(s, &e);
	check_refusal(rc, e, false);
	if (rc == 0)
		CHECK(n >= 1 && n <= REG_TAG_MAX && s[0] != '.' && s[0] != '-' && !strchr(s, ':'));
	err_free(e);
	e = NULL;

	rc = reg_digest_check(s, &e);
	check_refusal(rc, e, true);
	if (rc == 0) {
		CHECK(reg_ref_is_digest(s));
		CHECK((n == 71 && !strncmp(s, "sha256:", 7)) || (n == 135 && !strncmp(s, "sha512:", 7)));
		CHECK(strspn(s + 7, "0123456789abcdef") == n - 7);
	}
	err_free(e);
}

static void fuzz_image_ref(const char *s)
{
	struct reg_image_ref r, r2;
	struct err *e = NULL;
	char *again = NULL;
	int rc;

	rc = reg_image_ref_parse(s, &r, &e);
	check_refusal(rc, e, true);
	if (rc < 0) {
		CHECK(!r.registry && !r.repository && !r.tag && !r.digest);
		goto out;
	}
	CHECK(r.registry && r.registry[0] && r.repository);
	CHECK(reg_name_check(r.repository, NULL) == 0);
	CHECK(r.tag || r.digest);
	CHECK(!r.tag || reg_tag_check(r.tag, NULL) == 0);
	CHECK(!r.digest || reg_digest_check(r.digest, NULL) == 0);
	/* The canonical form reads back to the same parts. */
	size_t len = strlen(r.registry) + strlen(r.repository) + (r.tag ? strlen(r.tag) : 0) +
		     (r.digest ? strlen(r.digest) : 0) + 4;
	again = malloc(len);
	snprintf(again, len, "%s/%s%s%s%s%s", r.registry, r.repository, r.tag ? ":" : "", r.tag ? r.tag : "",
		 r.digest ? "@" : "", r.digest ? r.digest : "");
	if (reg_image_ref_parse(again, &r2, NULL) != 0) {
		fprintf(stderr, "fuzz_manifest: %s parsed, its canonical form %s does not\n", s, again);
		abort();
	}
	CHECK(!strcmp(r.registry, r2.registry) && !strcmp(r.repository, r2.repository));
	CHECK(!r.tag == !r2.tag && (!r.tag || !strcmp(r.tag, r2.tag)));
	CHECK(!r.digest == !r2.digest && (!r.digest || !strcmp(r.digest, r2.digest)));
	reg_image_ref_release(&r2);
	reg_image_ref_release(&r);
out:
	free(again);
	err_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *ct = content_types[(uint8_t)(data[0] - '0') % 5];
	const char *bytes = (const char *)data + 1;
	size_t n = size - 1;

	fuzz_manifest(bytes, n, ct);
	fuzz_config(bytes, n);

	char *s = malloc(n + 1);
	memcpy(s, bytes, n);
	s[n] = '\0';
	fuzz_words(s);
	fuzz_image_ref(s);
	free(s);
	return 0;
}
