/* Repository names, tags and digests of the OCI distribution spec, and image references as docker
 * and podman read them. Every check is a bounded scan of untrusted text; messages quote the input
 * (escaped and shortened) and give 1-based character positions. */
#include "registry/ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* How much of an untrusted string an error message quotes. */
#define QUOTE_MAX 160

/* A double-quoted copy of s for messages: printable ASCII as is, everything else as \xNN, at most
 * QUOTE_MAX input bytes (then "..."). The caller frees it. */
static char *quote(const char *s)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_addc(&b, '"');
	for (i = 0; s[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_addf(&b, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			buf_addc(&b, (char)c);
		else
			buf_addf(&b, "\\x%02x", c);
	}
	buf_addc(&b, '"');
	if (s[i])
		buf_adds(&b, "...");
	return buf_detach(&b, NULL);
}

/* "'c'" for a printable character, "(byte 0xNN)" for anything else, into a small buffer. */
static const char *show_char(char c, char out[16])
{
	unsigned char u = (unsigned char)c;
	if (u >= 0x20 && u < 0x7f)
		snprintf(out, 16, "'%c'", c);
	else
		snprintf(out, 16, "(byte 0x%02x)", u);
	return out;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Sets a name error "repository name "NAME": character POS C: WHY". */
static int name_err(const char *name, size_t pos, const char *why, struct err **err)
{
	char *q = quote(name);
	char cb[16];
	err_set(err, ERR_INVALID_PARAM, "repository name %s: character %zu %s %s", q, pos + 1,
		show_char(name[pos], cb), why);
	free(q);
	return -1;
}

int reg_name_check(const char *name, struct err **err)
{
	size_t n, i;
	char *q = NULL;
	int rc = -1;

	if (!name || !*name)
		return err_set(err, ERR_INVALID_PARAM, "repository name is empty");
	n = strnlen(name, REG_NAME_MAX + 1);
	if (n < 2 || n > REG_NAME_MAX) {
		q = quote(name);
		err_set(err, ERR_INVALID_PARAM, "repository name %s is too %s: it must be 2 to %d characters",
			q, n < 2 ? "short" : "long", REG_NAME_MAX);
		goto out;
	}
	/* The character set first, so that "Foo" is told about its 'F' rather than about structure. */
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (is_lower_alnum(c) || c == '.' || c == '_' || c == '-' || c == '/')
			continue;
		return name_err(
			name, i,
			c >= 'A' && c <= 'Z'
				? "is not allowed: repository names are lowercase"
				: "is not allowed (lowercase letters, digits, and the separators '.', '_', "
				  "'__', '-' and '/')",
			err);
	}
	/* OCI distribution spec: components [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by '/'. */
	i = 0;
	for (;;) {
		if (!is_lower_alnum(name[i])) {
			if (name[i] == '/' && i > 0)
				return name_err(name, i, "makes an empty path component ('//')", err);
			return name_err(
				name, i,
				"cannot start a path component; each starts with a lowercase letter or digit",
				err);
		}
		while (is_lower_alnum(name[i]))
			i++;
		if (!name[i])
			break;
		if (name[i] == '/') {
			i++;
			if (!name[i])
				return name_err(name, i - 1, "ends the name (a name cannot end with '/')",
						err);
			continue;
		}
		/* A separator: '.', '_', '__' or any run of '-'. */
		size_t sep = i;
		if (name[i] == '.')
			i++;
		else if (name[i] == '_')
			i += name[i + 1] == '_' ? 2 : 1;
		else
			while (name[i] == '-')
				i++;
		if (!name[i])
			return name_err(name, i - 1,
					"ends the name (a name must end with a lowercase letter or digit)",
					err);
		if (!is_lower_alnum(name[i])) {
			char cb[16];
			q = quote(name);
			err_set(err, ERR_INVALID_PARAM,
				"repository name %s: character %zu %s cannot follow the separator at "
				"character %zu "
				"(separators are '.', '_', '__' or a run of '-', each between lowercase "
				"letters or "
				"digits)",
				q, i + 1, show_char(name[i], cb), sep + 1);
			goto out;
		}
	}
	rc = 0;
out:
	free(q);
	return rc;
}

int reg_tag_check(const char *tag, struct err **err)
{
	size_t n, i;
	char *q = NULL;
	char cb[16];

	if (!tag || !*tag)
		return err_set(err, ERR_INVALID_PARAM, "tag is empty");
	n = strnlen(tag, REG_TAG_MAX + 1);
	if (n > REG_TAG_MAX) {
		q = quote(tag);
		err_set(err, ERR_INVALID_PARAM, "tag %s is more than %d characters long", q, REG_TAG_MAX);
		goto out;
	}
	/* OCI distribution spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
	for (i = 0; i < n; i++) {
		char c = tag[i];
		if (is_alnum(c) || c == '_')
			continue;
		if (i > 0 && (c == '.' || c == '-'))
			continue;
		q = quote(tag);
		if (i == 0 && (c == '.' || c == '-'))
			err_set(err, ERR_INVALID_PARAM,
				"tag %s: character 1 %s cannot start a tag; a tag starts with a letter, "
				"digit or '_'",
				q, show_char(c, cb));
		else
			err_set(err, ERR_INVALID_PARAM,
				"tag %s: character %zu %s is not allowed (letters, digits, '_', '.' and '-')",
				q, i + 1, show_char(c, cb));
		goto out;
	}
	return 0;
out:
	free(q);
	return -1;
}

int reg_digest_check(const char *digest, struct err **err)
{
	size_t n, i, colon, want = 0;
	bool hex;
	char *q = NULL;
	char cb[16];
	int rc = -1;

	if (!digest || !*digest)
		return err_set(err, ERR_INVALID_PARAM, "digest is empty");
	/* Longer than any digest we could accept and than a reference: not worth telling apart. */
	n = strnlen(digest, REG_REF_MAX + 1);
	q = quote(digest);
	if (n > REG_REF_MAX) {
		err_set(err, ERR_INVALID_PARAM, "digest %s is more than %d characters long", q, REG_REF_MAX);
		goto out;
	}
	/* OCI image spec, descriptor digests: algorithm ":" encoded, where
	 * algorithm ::= [a-z0-9]+ ([+._-] [a-z0-9]+)*  and  encoded ::= [a-zA-Z0-9=_-]+ */
	for (i = 0;;) {
		if (!is_lower_alnum(digest[i]))
			goto bad_algorithm;
		while (is_lower_alnum(digest[i]))
			i++;
		if (digest[i] == ':')
			break;
		if (digest[i] != '+' && digest[i] != '.' && digest[i] != '_' && digest[i] != '-')
			goto bad_algorithm;
		i++;
	}
	colon = i;
	if (!digest[colon + 1]) {
		err_set(err, ERR_INVALID_PARAM, "digest %s has nothing after ':'", q);
		goto out;
	}
	for (i = colon + 1; i < n; i++) {
		char c = digest[i];
		if (is_alnum(c) || c == '=' || c == '_' || c == '-')
			continue;
		err_set(err, ERR_INVALID_PARAM,
			"digest %s: character %zu %s is not allowed in the encoded hash (letters, digits, "
			"'=', "
			"'_' and '-')",
			q, i + 1, show_char(c, cb));
		goto out;
	}
	/* OCI image spec: sha256 and sha512 are hex-encoded in lowercase, 64 and 128 digits. */
	if (colon == 6 && !memcmp(digest, "sha256", 6))
		want = 64;
	else if (colon == 6 && !memcmp(digest, "sha512", 6))
		want = 128;
	if (!want) {
		err_set(err, ERR_UNSUPPORTED,
			"digest %s uses the algorithm \"%.*s\"; only sha256 and sha512 are supported", q,
			(int)colon, digest);
		goto out;
	}
	hex = n - colon - 1 == want;
	for (i = colon + 1; hex && i < n; i++)
		hex = is_lower_hex(digest[i]);
	if (!hex) {
		err_set(err, ERR_INVALID_PARAM, "%s is not a %.6s digest (%zu lowercase hex digits)", q,
			digest, want);
		goto out;
	}
	rc = 0;
	goto out;
bad_algorithm:
	if (!digest[i])
		err_set(err, ERR_INVALID_PARAM,
			"digest %s has no ':' between the algorithm and the encoded hash", q);
	else if (digest[i] == ':' && i == 0)
		err_set(err, ERR_INVALID_PARAM, "digest %s has no algorithm before ':'", q);
	else
		err_set(err, ERR_INVALID_PARAM,
			"digest %s: character %zu %s is not allowed there in the algorithm (lowercase "
			"letters and "
			"digits, separated by single '+', '.', '_' or '-')",
			q, i + 1, show_char(digest[i], cb));
out:
	free(q);
	return rc;
}

bool reg_ref_is_digest(const char *s)
{
	return s && strchr(s, ':') != NULL;
}

/* Checks the registry part of a reference: a host name (letters, digits and '-' in dot-separated
 * labels that neither start nor end with '-'), an IPv4 address, or an IPv6 address in brackets,
 * optionally followed by ":port" (1-65535). */
static int check_registry(const char *r, struct err **err)
{
	size_t i = 0;
	const char *why = NULL;

	if (r[0] == '[') {
		for (i = 1; is_lower_hex(r[i]) || (r[i] >= 'A' && r[i] <= 'F') || r[i] == ':' || r[i] == '.';
		     i++)
			;
		if (i == 1 || r[i] != ']') {
			why = "is not a bracketed IPv6 address";
			goto bad;
		}
		i++;
	} else {
		for (;;) {
			size_t start = i;
			while (is_alnum(r[i]) || r[i] == '-')
				i++;
			if (i == start) {
				why = "has an empty host name label";
				goto bad;
			}
			if (r[start] == '-' || r[i - 1] == '-') {
				why = "has a host name label that starts or ends with '-'";
				goto bad;
			}
			if (r[i] != '.')
				break;
			i++;
		}
	}
	if (r[i] == ':') {
		unsigned long port = 0;
		size_t start = ++i;
		while (r[i] >= '0' && r[i] <= '9' && i - start < 6)
			port = port * 10 + (unsigned long)(r[i++] - '0');
		if (i == start || r[i] || port == 0 || port > 65535) {
			why = "has a port that is not a number from 1 to 65535";
			goto bad;
		}
	}
	if (r[i]) {
		why = "is not a host name or address with an optional :port";
		goto bad;
	}
	return 0;
bad:;
	char *q = quote(r);
	err_set(err, ERR_INVALID_PARAM, "registry %s %s", q, why);
	free(q);
	return -1;
}

int reg_image_ref_parse(const char *s, struct reg_image_ref *out, struct err **err)
{
	struct reg_image_ref r = {0};
	char *copy = NULL, *q = NULL, *at, *name, *slash, *colon;
	size_t n;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return err_set(err, ERR_INVALID_PARAM, "image reference is empty");
	n = strnlen(s, REG_REF_MAX + 1);
	q = quote(s);
	if (n > REG_REF_MAX) {
		err_set(err, ERR_INVALID_PARAM, "image reference %s is more than %d characters long", q,
			REG_REF_MAX);
		goto out;
	}
	copy = xstrndup(s, n);

	at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		if (reg_digest_check(at + 1, err) < 0)
			goto fail;
		r.digest = xstrdup(at + 1);
	}
	/* docker's rule: the first component names a registry when it looks like a host (has '.' or
	 * ':') or is "localhost"; "busybox" and "library/busybox" are on Docker Hub. */
	name = copy;
	slash = strchr(copy, '/');
	if (slash &&
	    (memchr(copy, '.', (size_t)(slash - copy)) || memchr(copy, ':', (size_t)(slash - copy)) ||
	     (slash - copy == 9 && !memcmp(copy, "localhost", 9)))) {
		*slash = '\0';
		if (check_registry(copy, err) < 0)
			goto fail;
		/* index.docker.io is Docker Hub's old name; docker and podman treat them as one. */
		r.registry = xstrdup(strcmp(copy, "index.docker.io") ? copy : "docker.io");
		name = slash + 1;
	} else {
		r.registry = xstrdup("docker.io");
	}
	/* A tag is after the last ':' of the repository part (the registry's port is already gone). */
	colon = strrchr(name, ':');
	if (colon && !strchr(colon, '/')) {
		*colon = '\0';
		if (reg_tag_check(colon + 1, err) < 0)
			goto fail;
		r.tag = xstrdup(colon + 1);
	}
	if (!strcmp(r.registry, "docker.io") && *name && !strchr(name, '/'))
		r.repository = xasprintf("library/%s", name);
	else
		r.repository = xstrdup(name);
	if (reg_name_check(r.repository, err) < 0)
		goto fail;
	if (!r.tag && !r.digest)
		r.tag = xstrdup("latest");
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
	goto out;
fail:
	err_prefix(err, "image reference %s", q);
out:
	reg_image_ref_release(&r);
	free(copy);
	free(q);
	return rc;
}

void reg_image_ref_release(struct reg_image_ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}
