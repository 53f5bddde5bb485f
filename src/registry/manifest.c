/* Parsing and schema checks of manifests, image indexes (OCI image spec v1.1, Docker manifest v2
 * schema 2 and manifest lists) and image configs. The input is untrusted: sizes are capped, every
 * member read is type-checked, and messages name the member ("layers[2].digest: ..."). */
#include "registry/manifest.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "registry/ref.h"

/* How much of an untrusted string an error message quotes. */
#define QUOTE_MAX 160
/* The longest member path we build ("manifests[9999].platform.os.features[12]" and the like). */
#define MPATH_MAX 96
/* RFC 6838 section 4.2: type and subtype names are at most 127 characters each. */
#define MEDIA_NAME_MAX 127

/* Docker image manifest v2 schema 1, which gantry does not take. */
#define MT_DOCKER_SCHEMA1     "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_JWS "application/vnd.docker.distribution.manifest.v1+prettyjws"

struct kind_info {
	enum reg_manifest_kind kind;
	const char *media_type;
	bool index; /* lists manifests rather than config and layers */
	bool oci;   /* OCI image spec rather than Docker */
};

static const struct kind_info kinds[] = {
	{REG_KIND_OCI_MANIFEST, REG_MT_OCI_MANIFEST, false, true},
	{REG_KIND_OCI_INDEX, REG_MT_OCI_INDEX, true, true},
	{REG_KIND_DOCKER_MANIFEST, REG_MT_DOCKER_MANIFEST, false, false},
	{REG_KIND_DOCKER_LIST, REG_MT_DOCKER_LIST, true, false},
};

/* ---- messages ---- */

/* Appends s to b with printable ASCII as is and everything else as \xNN, at most QUOTE_MAX bytes
 * of it (then "..."). */
static void add_escaped(struct buf *b, const char *s, bool quoted)
{
	size_t i;

	if (quoted)
		buf_addc(b, '"');
	for (i = 0; s[i] && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (quoted && (c == '"' || c == '\\'))
			buf_addf(b, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			buf_addc(b, (char)c);
		else
			buf_addf(b, "\\x%02x", c);
	}
	if (quoted)
		buf_addc(b, '"');
	if (s[i])
		buf_adds(b, "...");
}

/* A double-quoted, escaped, shortened copy of s for messages. The caller frees it. */
static char *quote(const char *s)
{
	struct buf b = BUF_INIT;
	add_escaped(&b, s, true);
	return buf_detach(&b, NULL);
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "a number";
	case JSON_REAL: return "a decimal number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Sets an error "PATH.KEY: MESSAGE" (or "KEY: ..." at the top level, "PATH: ..." without a key). */
static int merr(struct err **err, enum err_kind kind, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int merr(struct err **err, enum err_kind kind, const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	msg = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	err_set(err, kind, "%s%s%s: %s", path, *path && key ? "." : "", key ? key : "", msg);
	free(msg);
	return -1;
}

/* ---- typed members ---- */

/* obj[key], with JSON null counting as absent (Go encoders write null for empty maps and slices). */
static json_t *get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

static int missing(const char *path, const char *key, struct err **err)
{
	return merr(err, ERR_INVALID_PARAM, path, key, "missing");
}

/* A string member. *out is borrowed, NULL when absent and optional. */
static int get_str(json_t *obj, const char *path, const char *key, bool required, const char **out,
		   struct err **err)
{
	json_t *v = get(obj, key);

	*out = NULL;
	if (!v)
		return required ? missing(path, key, err) : 0;
	if (!json_is_string(v))
		return merr(err, ERR_INVALID_PARAM, path, key, "must be a string, not %s", json_kind(v));
	*out = json_string_value(v);
	return 0;
}

/* A required, non-empty string member. */
static int get_word(json_t *obj, const char *path, const char *key, const char **out, struct err **err)
{
	if (get_str(obj, path, key, true, out, err) < 0)
		return -1;
	if (!**out)
		return merr(err, ERR_INVALID_PARAM, path, key, "must not be empty");
	return 0;
}

/* An object member. *out is borrowed, NULL when absent and optional. */
static int get_object(json_t *obj, const char *path, const char *key, bool required, json_t **out,
		      struct err **err)
{
	json_t *v = get(obj, key);

	*out = NULL;
	if (!v)
		return required ? missing(path, key, err) : 0;
	if (!json_is_object(v))
		return merr(err, ERR_INVALID_PARAM, path, key, "must be an object, not %s", json_kind(v));
	*out = v;
	return 0;
}

/* An array member of at most max elements. *out is borrowed, NULL when absent and optional. */
static int get_array(json_t *obj, const char *path, const char *key, bool required, size_t max, json_t **out,
		     struct err **err)
{
	json_t *v = get(obj, key);

	*out = NULL;
	if (!v)
		return required ? missing(path, key, err) : 0;
	if (!json_is_array(v))
		return merr(err, ERR_INVALID_PARAM, path, key, "must be an array, not %s", json_kind(v));
	if (json_array_size(v) > max)
		return merr(err, ERR_INVALID_PARAM, path, key, "has %zu elements, more than %zu",
			    json_array_size(v), max);
	*out = v;
	return 0;
}

/* An optional array of strings, copied into a new array of borrowed pointers (*out NULL when absent
 * or empty). */
static int get_str_array(json_t *obj, const char *path, const char *key, size_t max, const char ***out,
			 size_t *nout, struct err **err)
{
	char p[MPATH_MAX];
	json_t *a, *e;
	size_t i;

	*out = NULL;
	*nout = 0;
	if (get_array(obj, path, key, false, max, &a, err) < 0)
		return -1;
	if (!a || !json_array_size(a))
		return 0;
	json_array_foreach (a, i, e) {
		if (!json_is_string(e)) {
			snprintf(p, sizeof(p), "%s[%zu]", key, i);
			return merr(err, ERR_INVALID_PARAM, path, p, "must be a string, not %s",
				    json_kind(e));
		}
	}
	*out = xcalloc(json_array_size(a), sizeof(**out));
	json_array_foreach (a, i, e)
		(*out)[i] = json_string_value(e);
	*nout = json_array_size(a);
	return 0;
}

/* A string-to-string map ("annotations", "Labels"). *out is borrowed, NULL when absent. */
static int get_string_map(json_t *obj, const char *path, const char *key, json_t **out, struct err **err)
{
	const char *k;
	json_t *v;

	if (get_object(obj, path, key, false, out, err) < 0)
		return -1;
	if (!*out)
		return 0;
	json_object_foreach (*out, k, v) {
		if (!json_is_string(v)) {
			char *q = quote(k);
			merr(err, ERR_INVALID_PARAM, path, key, "the value of %s must be a string, not %s", q,
			     json_kind(v));
			free(q);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

/* ---- media types and descriptors ---- */

/* One restricted-name of RFC 6838 section 4.2: an alphanumeric, then up to 126 of
 * alphanumerics and ! # $ & - ^ _ . + ; returns its length, 0 when there is none. */
static size_t restricted_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i] && i <= MEDIA_NAME_MAX; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&-^_.+", c))
			continue;
		break;
	}
	return i > MEDIA_NAME_MAX ? 0 : i;
}

/* True when s (n bytes) is type "/" subtype in RFC 6838's grammar, without parameters: the OCI
 * image spec's pattern for descriptor media types. */
static bool media_type_ok(const char *s, size_t n)
{
	size_t a, b;

	if (n > 2 * MEDIA_NAME_MAX + 1 || strnlen(s, n) != n)
		return false;
	a = restricted_name(s);
	if (!a || a >= n || s[a] != '/')
		return false;
	b = restricted_name(s + a + 1);
	return b && a + 1 + b == n;
}

/* A media type member (a descriptor's mediaType or artifactType). */
static int get_media_type(json_t *obj, const char *path, const char *key, bool required, const char **out,
			  struct err **err)
{
	if (get_str(obj, path, key, required, out, err) < 0)
		return -1;
	if (*out && !media_type_ok(*out, strlen(*out))) {
		char *q = quote(*out);
		merr(err, ERR_INVALID_PARAM, path, key, "%s is not a media type (type/subtype, RFC 6838)", q);
		free(q);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* The platform of an index entry: OCI image spec, architecture and os are required when it is
 * there. */
static int parse_platform(json_t *d, const char *path, struct reg_descriptor *out, struct err **err)
{
	char p[MPATH_MAX];
	const char *s;
	const char **feat = NULL;
	size_t nfeat;
	json_t *pl;

	if (get_object(d, path, "platform", false, &pl, err) < 0)
		return -1;
	if (!pl)
		return 0;
	snprintf(p, sizeof(p), "%s.platform", path);
	if (get_word(pl, p, "architecture", &out->architecture, err) < 0 ||
	    get_word(pl, p, "os", &out->os, err) < 0 ||
	    get_str(pl, p, "variant", false, &out->variant, err) < 0 ||
	    get_str(pl, p, "os.version", false, &s, err) < 0 ||
	    get_str_array(pl, p, "os.features", REG_DESCRIPTORS_MAX, &feat, &nfeat, err) < 0)
		return -1;
	free(feat);
	if (get_str_array(pl, p, "features", REG_DESCRIPTORS_MAX, &feat, &nfeat, err) < 0)
		return -1;
	free(feat);
	return 0;
}

/* Reads the descriptor d (at member path `path`) into *out; index entries (with_platform) may
 * carry a platform. OCI image spec, descriptor: mediaType, digest and size are required; urls,
 * data, annotations and artifactType are optional and type-checked. */
static int parse_descriptor(json_t *d, const char *path, bool with_platform, struct reg_descriptor *out,
			    struct err **err)
{
	const char *data;
	const char **urls = NULL;
	size_t nurls;
	json_t *v, *ann;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(d))
		return merr(err, ERR_INVALID_PARAM, path, NULL, "must be a descriptor object, not %s",
			    json_kind(d));
	if (get_media_type(d, path, "mediaType", true, &out->media_type, err) < 0 ||
	    get_str(d, path, "digest", true, &out->digest, err) < 0)
		return -1;
	if (reg_digest_check(out->digest, err) < 0)
		return err_prefix(err, "%s.digest", path);
	v = get(d, "size");
	if (!v)
		return missing(path, "size", err);
	if (!json_is_integer(v))
		return merr(err, ERR_INVALID_PARAM, path, "size", "must be an integer, not %s", json_kind(v));
	out->size = json_integer_value(v);
	if (out->size < 0)
		return merr(err, ERR_INVALID_PARAM, path, "size", "%lld is negative", out->size);
	if (get_media_type(d, path, "artifactType", false, &out->artifact_type, err) < 0 ||
	    get_str(d, path, "data", false, &data, err) < 0 ||
	    get_str_array(d, path, "urls", REG_DESCRIPTORS_MAX, &urls, &nurls, err) < 0 ||
	    get_string_map(d, path, "annotations", &ann, err) < 0)
		return -1;
	free(urls);
	if (with_platform && parse_platform(d, path, out, err) < 0)
		return -1;
	return 0;
}

/* Reads the array member `key` of descriptors into m->items. */
static int parse_items(struct reg_manifest *m, const char *key, bool with_platform, struct err **err)
{
	char p[MPATH_MAX];
	json_t *a, *e;
	size_t i;

	if (get_array(m->doc, "", key, true, REG_DESCRIPTORS_MAX, &a, err) < 0)
		return -1;
	if (!json_array_size(a))
		return 0;
	m->items = xcalloc(json_array_size(a), sizeof(*m->items));
	json_array_foreach (a, i, e) {
		snprintf(p, sizeof(p), "%s[%zu]", key, i);
		if (parse_descriptor(e, p, with_platform, &m->items[i], err) < 0)
			return -1;
		m->nitems = i + 1;
	}
	return 0;
}

/* ---- manifests ---- */

/* Parses n bytes of JSON that must be an object. `what` names the document in messages. */
static json_t *load_object(const char *bytes, size_t n, const char *what, struct err **err)
{
	json_error_t je;
	json_t *doc;

	if (!bytes || !n) {
		err_set(err, ERR_INVALID_PARAM, "%s is empty", what);
		return NULL;
	}
	/* Duplicate members would let two readers see two different documents. */
	doc = json_loadb(bytes, n, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		struct buf b = BUF_INIT;
		add_escaped(&b, je.text, false);
		err_set(err, ERR_INVALID_PARAM, "%s is not valid JSON: line %d column %d: %s", what, je.line,
			je.column, b.p);
		buf_release(&b);
		return NULL;
	}
	if (!json_is_object(doc)) {
		err_set(err, ERR_INVALID_PARAM, "%s must be a JSON object, not %s", what, json_kind(doc));
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static bool is_schema1(const char *s, size_t n)
{
	return (n == strlen(MT_DOCKER_SCHEMA1) && !strncasecmp(s, MT_DOCKER_SCHEMA1, n)) ||
	       (n == strlen(MT_DOCKER_SCHEMA1_JWS) && !strncasecmp(s, MT_DOCKER_SCHEMA1_JWS, n));
}

/* The kind for a media type (media types compare case-insensitively, RFC 6838), or NULL. */
static const struct kind_info *kind_of(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (n == strlen(kinds[i].media_type) && !strncasecmp(s, kinds[i].media_type, n))
			return &kinds[i];
	return NULL;
}

static const char *const manifest_types =
	REG_MT_OCI_MANIFEST ", " REG_MT_OCI_INDEX ", " REG_MT_DOCKER_MANIFEST " or " REG_MT_DOCKER_LIST;

/* The kind a Content-Type header names. Parameters (";charset=...") and surrounding blanks are
 * ignored. */
static const struct kind_info *kind_of_content_type(const char *ct, struct err **err)
{
	const struct kind_info *k;
	const char *end = ct + strcspn(ct, ";");
	char *q;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	while (end > ct && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	k = kind_of(ct, (size_t)(end - ct));
	if (k)
		return k;
	q = quote(ct);
	if (is_schema1(ct, (size_t)(end - ct)))
		err_set(err, ERR_UNSUPPORTED,
			"Content-Type %s: Docker image manifest v2 schema 1 is not supported; push the image "
			"as Docker schema 2 or OCI",
			q);
	else if (media_type_ok(ct, (size_t)(end - ct)))
		err_set(err, ERR_UNSUPPORTED,
			"Content-Type %s is not a manifest media type gantry takes (%s)", q, manifest_types);
	else
		err_set(err, ERR_INVALID_PARAM, "Content-Type %s is not a media type", q);
	free(q);
	return NULL;
}

/* schemaVersion: OCI image spec and Docker schema 2 both say 2; 1 is Docker's schema 1. */
static int check_schema_version(json_t *doc, struct err **err)
{
	json_t *v = get(doc, "schemaVersion");

	if (!v)
		return merr(err, ERR_INVALID_PARAM, "", "schemaVersion", "missing (must be 2)");
	if (!json_is_integer(v))
		return merr(err, ERR_INVALID_PARAM, "", "schemaVersion", "must be the number 2, not %s",
			    json_kind(v));
	if (json_integer_value(v) == 1)
		return merr(err, ERR_UNSUPPORTED, "", "schemaVersion",
			    "1: Docker image manifest v2 schema 1 is not supported; push the image as Docker "
			    "schema 2 or OCI");
	if (json_integer_value(v) != 2)
		return merr(err, ERR_INVALID_PARAM, "", "schemaVersion", "must be 2, not %lld",
			    (long long)json_integer_value(v));
	return 0;
}

/* Decides the kind from the Content-Type (ct_kind, or NULL when none was given) and the document's
 * own mediaType, which must agree when both are there. */
static const struct kind_info *decide_kind(json_t *doc, const struct kind_info *ct_kind, struct err **err)
{
	const struct kind_info *k = NULL;
	const char *mt;
	char *q = NULL;
	bool bad = true;

	if (get_str(doc, "", "mediaType", false, &mt, err) < 0)
		return NULL;
	if (mt) {
		k = kind_of(mt, strlen(mt));
		q = quote(mt);
		if (!k && is_schema1(mt, strlen(mt)))
			merr(err, ERR_UNSUPPORTED, "", "mediaType",
			     "%s: Docker image manifest v2 schema 1 is not supported; push the image as "
			     "Docker "
			     "schema 2 or OCI",
			     q);
		else if (ct_kind && k != ct_kind)
			merr(err, ERR_INVALID_PARAM, "", "mediaType", "%s does not match the Content-Type %s",
			     q, ct_kind->media_type);
		else if (!k && media_type_ok(mt, strlen(mt)))
			merr(err, ERR_UNSUPPORTED, "", "mediaType",
			     "%s is not a manifest media type gantry takes (%s)", q, manifest_types);
		else if (!k)
			merr(err, ERR_INVALID_PARAM, "", "mediaType", "%s is not a media type", q);
		else
			bad = false;
		free(q);
		return bad ? NULL : k;
	}
	if (ct_kind)
		k = ct_kind;
	else if (get(doc, "manifests"))
		k = &kinds[REG_KIND_OCI_INDEX]; /* OCI image spec: an index's mediaType is only a SHOULD */
	else
		k = &kinds[REG_KIND_OCI_MANIFEST];
	/* Docker schema 2 and manifest lists always name their media type. */
	if (!k->oci) {
		merr(err, ERR_INVALID_PARAM, "", "mediaType", "missing (a %s document must have it)",
		     k->media_type);
		return NULL;
	}
	return k;
}

struct reg_manifest *reg_manifest_parse(const char *bytes, size_t n, const char *content_type,
					struct err **err)
{
	const struct kind_info *ct_kind = NULL, *k = NULL;
	struct reg_manifest *m = NULL;
	json_t *doc = NULL, *v;
	int rc = -1;

	if (n > REG_MANIFEST_MAX) {
		err_set(err, ERR_INVALID_PARAM, "manifest is %zu bytes, more than the %u a registry takes", n,
			REG_MANIFEST_MAX);
		goto out;
	}
	if (content_type && *content_type && !(ct_kind = kind_of_content_type(content_type, err)))
		goto out;
	doc = load_object(bytes, n, "manifest", err);
	if (!doc || check_schema_version(doc, err) < 0 || !(k = decide_kind(doc, ct_kind, err)))
		goto out;
	/* A document that reads as both a manifest and an index could be served as either: refuse it
	 * (the ambiguity behind CVE-2021-41190). */
	if (k->index && ((v = get(doc, "config")) || get(doc, "layers"))) {
		merr(err, ERR_INVALID_PARAM, "", v ? "config" : "layers",
		     "not a member of an image index (%s); is the document a manifest?", k->media_type);
		goto out;
	}
	if (!k->index && get(doc, "manifests")) {
		merr(err, ERR_INVALID_PARAM, "", "manifests",
		     "not a member of an image manifest (%s); is the document an index?", k->media_type);
		goto out;
	}

	m = xcalloc(1, sizeof(*m));
	m->kind = k->kind;
	m->media_type = k->media_type;
	m->doc = doc;
	doc = NULL;
	if (k->index) {
		if (parse_items(m, "manifests", true, err) < 0)
			goto out;
	} else {
		if (!(v = get(m->doc, "config"))) {
			missing("", "config", err);
			goto out;
		}
		if (parse_descriptor(v, "config", false, &m->config, err) < 0)
			goto out;
		m->has_config = true;
		if (parse_items(m, "layers", false, err) < 0)
			goto out;
	}
	/* artifactType, subject and annotations are OCI's; Docker's formats do not have them. */
	if (k->oci) {
		if (get_media_type(m->doc, "", "artifactType", false, &m->artifact_type, err) < 0 ||
		    get_string_map(m->doc, "", "annotations", &m->annotations, err) < 0)
			goto out;
		if ((v = get(m->doc, "subject"))) {
			if (parse_descriptor(v, "subject", false, &m->subject, err) < 0)
				goto out;
			m->has_subject = true;
		}
	}
	/* OCI distribution spec, listing referrers: "If the artifactType is empty or missing in the
	 * image manifest, the value of artifactType MUST be set to the config descriptor mediaType
	 * value" (and ECR's artifactMediaType is the config's media type for images too). */
	if (!m->artifact_type && m->has_config)
		m->artifact_type = m->config.media_type;
	rc = 0;
out:
	json_decref(doc);
	if (rc < 0) {
		reg_manifest_free(m);
		m = NULL;
	}
	return m;
}

void reg_manifest_free(struct reg_manifest *m)
{
	if (!m)
		return;
	free(m->items);
	json_decref(m->doc);
	free(m);
}

/* ---- image configs ---- */

/* An exposed port as docker writes it: "PORT" or "PORT/tcp", "/udp", "/sctp", PORT 1-65535
 * without leading zeros. */
static bool port_ok(const char *s)
{
	unsigned long port = 0;
	size_t i;

	if (s[0] == '0')
		return false;
	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
		port = port * 10 + (unsigned long)(s[i] - '0');
	if (!i || port == 0 || port > 65535)
		return false;
	return !s[i] || !strcmp(s + i, "/tcp") || !strcmp(s + i, "/udp") || !strcmp(s + i, "/sctp");
}

/* config.ExposedPorts: {"80/tcp": {}, ...}. */
static int parse_ports(json_t *cfg, struct reg_config *c, struct err **err)
{
	const char *k;
	json_t *ports, *v;
	char *q;

	if (get_object(cfg, "config", "ExposedPorts", false, &ports, err) < 0)
		return -1;
	if (!ports || !json_object_size(ports))
		return 0;
	c->exposed_ports = xcalloc(json_object_size(ports), sizeof(*c->exposed_ports));
	json_object_foreach (ports, k, v) {
		if (port_ok(k) && json_is_object(v)) {
			c->exposed_ports[c->nexposed++] = k;
			continue;
		}
		q = quote(k);
		if (!port_ok(k))
			merr(err, ERR_INVALID_PARAM, "config", "ExposedPorts",
			     "%s is not a port (1-65535, optionally followed by /tcp, /udp or /sctp)", q);
		else
			merr(err, ERR_INVALID_PARAM, "config", "ExposedPorts",
			     "the value of %s must be an object ({}), not %s", q, json_kind(v));
		free(q);
		return -1;
	}
	return 0;
}

struct reg_config *reg_config_parse(const char *bytes, size_t n, struct err **err)
{
	struct reg_config *c = NULL;
	json_t *doc, *cfg, *rootfs;
	const char *type;
	char p[MPATH_MAX];
	int rc = -1;
	size_t i;

	if (n > REG_CONFIG_MAX) {
		err_set(err, ERR_INVALID_PARAM, "image config is %zu bytes, more than %u", n, REG_CONFIG_MAX);
		return NULL;
	}
	if (!(doc = load_object(bytes, n, "image config", err)))
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->doc = doc;
	/* OCI image spec, config: architecture, os and rootfs are required. */
	if (get_word(doc, "", "architecture", &c->architecture, err) < 0 ||
	    get_word(doc, "", "os", &c->os, err) < 0 ||
	    get_str(doc, "", "variant", false, &c->variant, err) < 0 ||
	    get_object(doc, "", "config", false, &cfg, err) < 0)
		goto out;
	if (cfg) {
		if (get_str(cfg, "config", "User", false, &c->user, err) < 0 ||
		    get_str(cfg, "config", "WorkingDir", false, &c->working_dir, err) < 0 ||
		    get_str(cfg, "config", "StopSignal", false, &c->stop_signal, err) < 0 ||
		    get_str_array(cfg, "config", "Env", SIZE_MAX, &c->env, &c->nenv, err) < 0 ||
		    get_str_array(cfg, "config", "Entrypoint", SIZE_MAX, &c->entrypoint, &c->nentrypoint,
				  err) < 0 ||
		    get_str_array(cfg, "config", "Cmd", SIZE_MAX, &c->cmd, &c->ncmd, err) < 0 ||
		    parse_ports(cfg, c, err) < 0 ||
		    get_string_map(cfg, "config", "Labels", &c->labels, err) < 0)
			goto out;
		/* OCI image spec: Env entries are VARNAME=VARVALUE. */
		for (i = 0; i < c->nenv; i++) {
			const char *eq = strchr(c->env[i], '=');
			if (!eq || eq == c->env[i]) {
				char *q = quote(c->env[i]);
				snprintf(p, sizeof(p), "Env[%zu]", i);
				merr(err, ERR_INVALID_PARAM, "config", p, "%s is not NAME=VALUE", q);
				free(q);
				goto out;
			}
		}
	}
	if (get_object(doc, "", "rootfs", true, &rootfs, err) < 0 ||
	    get_str(rootfs, "rootfs", "type", true, &type, err) < 0)
		goto out;
	if (strcmp(type, "layers")) {
		char *q = quote(type);
		merr(err, ERR_INVALID_PARAM, "rootfs", "type", "must be \"layers\", not %s", q);
		free(q);
		goto out;
	}
	if (!get(rootfs, "diff_ids")) {
		missing("rootfs", "diff_ids", err);
		goto out;
	}
	if (get_str_array(rootfs, "rootfs", "diff_ids", REG_DESCRIPTORS_MAX, &c->diff_ids, &c->ndiff_ids,
			  err) < 0)
		goto out;
	for (i = 0; i < c->ndiff_ids; i++) {
		if (reg_digest_check(c->diff_ids[i], err) < 0) {
			err_prefix(err, "rootfs.diff_ids[%zu]", i);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0) {
		reg_config_free(c);
		c = NULL;
	}
	return c;
}

void reg_config_free(struct reg_config *c)
{
	if (!c)
		return;
	free(c->env);
	free(c->entrypoint);
	free(c->cmd);
	free(c->exposed_ports);
	free(c->diff_ids);
	json_decref(c->doc);
	free(c);
}
