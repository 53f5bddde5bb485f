/* AWS Signature Version 4: parses the Authorization header, rebuilds the canonical request the
 * client signed, and compares signatures in constant time. Also signs, for gantry's own clients;
 * both directions share the canonicalization so they cannot drift apart. */
#include "api/sigv4.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/enc.h"
#include "common/xalloc.h"

#define ALGORITHM	 "AWS4-HMAC-SHA256"
#define TERMINATOR	 "aws4_request"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define MSG_MISSING	 "Missing Authentication Token"
#define MSG_UNKNOWN_KEY	 "The security token included in the request is invalid."
/* AWS's words for a signature that does not match. */
static const char msg_mismatch[] =
	"The request signature we calculated does not match the signature you provided. "
	"Check your AWS Secret Access Key and signing method. Consult the service "
	"documentation for details.";
/* The most request bytes quoted in one error message. */
#define QUOTE_MAX 64
/* Longest region and service names in a scope (they land in sigv4_identity's 64-byte fields). */
#define SCOPE_NAME_MAX 63
#define AMZ_DATE_LEN   16
#define HEX_SHA256_LEN 64

/* The parts of an Authorization header; slices into the header value. */
struct auth {
	struct str credential, signed_headers, signature;
	struct str key, date, region, service, terminator; /* credential's five '/'-separated parts */
};

/* The names of SignedHeaders, slices into the list. */
struct names {
	struct str v[SIGV4_MAX_SIGNED_HEADERS];
	size_t n;
};

struct qparam {
	char *name, *value; /* encoded */
};

/* Copies at most QUOTE_MAX bytes of p into out as printable ASCII ('?' for anything else, "..."
 * when cut), so that error messages stay short and are always valid UTF-8 for the JSON edge. */
static const char *quote(char out[QUOTE_MAX + 4], const char *p, size_t n)
{
	size_t k = n < QUOTE_MAX ? n : QUOTE_MAX;
	for (size_t i = 0; i < k; i++)
		out[i] = (p[i] >= ' ' && p[i] <= '~') ? p[i] : '?';
	if (k < n) {
		memcpy(out + k, "...", 4);
	} else {
		out[k] = '\0';
	}
	return out;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* HTTP's and Python's str.split()'s ASCII whitespace: what trimall removes and collapses. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static struct str trim(struct str s)
{
	while (s.n && is_space(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Compares two slices as bytes, a shorter prefix first (strcmp's order). */
static int str_cmp(struct str a, struct str b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = memcmp(a.p, b.p, n);
	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

static bool all_chars(struct str s, bool (*ok)(char))
{
	for (size_t i = 0; i < s.n; i++) {
		if (!ok(s.p[i]))
			return false;
	}
	return true;
}

static bool digit_char(char c)
{
	return c >= '0' && c <= '9';
}

static bool lower_hex_char(char c)
{
	return digit_char(c) || (c >= 'a' && c <= 'f');
}

/* botocore's region pattern: letters, digits and '-'. */
static bool region_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit_char(c) || c == '-';
}

static bool service_char(char c)
{
	return region_char(c) || c == '.' || c == '_';
}

/* RFC 9110 tchar, lowercase letters only: what a SignedHeaders name may hold. */
static bool header_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || digit_char(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool key_char(char c)
{
	return c > ' ' && c <= '~' && c != '/' && c != ',' && c != ';' && c != '=';
}

/* Matches a header name as received (any case) against a lowercase name. */
static bool name_is(const char *name, struct str lname)
{
	return strlen(name) == lname.n && strncasecmp(name, lname.p, lname.n) == 0;
}

/* Counts the request's headers named lname (lowercase); *first gets the first one's index. */
static size_t find_header(const struct sigv4_request *req, const char *lname, size_t *first)
{
	size_t count = 0;
	struct str want = str_c(lname);
	for (size_t i = 0; i < req->nheaders; i++) {
		if (req->headers[i].name && name_is(req->headers[i].name, want)) {
			if (count++ == 0)
				*first = i;
		}
	}
	return count;
}

static const char *header_value(const struct sigv4_request *req, size_t i)
{
	return req->headers[i].value ? req->headers[i].value : "";
}

static void sha256_hex(const void *data, size_t n, char out[HEX_SHA256_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data, n, md);
	enc_hex(md, sizeof(md), out);
}

static int hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
		       unsigned char out[SHA256_DIGEST_LENGTH], struct err **err)
{
	unsigned int len = SHA256_DIGEST_LENGTH;
	if (!HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) || len != SHA256_DIGEST_LENGTH)
		return err_set(err, ERR_INTERNAL, "HMAC-SHA256 failed");
	return 0;
}

/* Parses SignedHeaders: ';'-separated, lowercase, strictly increasing. */
static int parse_signed_headers(struct str list, struct names *names, enum err_kind kind, struct err **err)
{
	char q[QUOTE_MAX + 4];
	names->n = 0;
	if (list.n == 0)
		return err_set(err, kind, "SignedHeaders is empty");
	const char *p = list.p, *end = list.p + list.n;
	while (p <= end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *stop = semi ? semi : end;
		struct str name = {p, (size_t)(stop - p)};
		if (name.n == 0)
			return err_set(err, kind, "SignedHeaders has an empty name: '%s'",
				       quote(q, list.p, list.n));
		if (name.n > SIGV4_MAX_HEADER_NAME || !all_chars(name, header_name_char))
			return err_set(err, kind, "SignedHeaders must list lowercase header names, not '%s'",
				       quote(q, name.p, name.n));
		if (names->n == SIGV4_MAX_SIGNED_HEADERS)
			return err_set(err, kind, "SignedHeaders names more than %d headers",
				       SIGV4_MAX_SIGNED_HEADERS);
		if (names->n > 0 && str_cmp(names->v[names->n - 1], name) >= 0)
			return err_set(err, kind, "SignedHeaders must be sorted and without repeats: '%s'",
				       quote(q, list.p, list.n));
		if (str_eq(name, "authorization"))
			return err_set(err, kind, "SignedHeaders cannot include authorization");
		names->v[names->n++] = name;
		if (!semi)
			break;
		p = semi + 1;
	}
	return 0;
}

static bool names_have(const struct names *names, const char *name)
{
	for (size_t i = 0; i < names->n; i++) {
		if (str_eq(names->v[i], name))
			return true;
	}
	return false;
}

/* The canonical URI of a non-S3 service: RFC 3986 dot-segment removal plus AWS's removal of empty
 * segments, over the path as sent, then every segment URI-encoded (again). Mirrors botocore's
 * normalize_url_path + quote(safe='/~'). */
static int canonical_uri(struct buf *out, const char *path)
{
	size_t n = strlen(path);
	if (n == 0)
		return buf_addc(out, '/');
	size_t maxseg = 1;
	for (size_t i = 0; i < n; i++)
		maxseg += path[i] == '/';
	struct str *seg = xmalloc(maxseg * sizeof(*seg));
	size_t nseg = 0;
	const char *p = path, *end = path + n;
	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash ? slash : end;
		struct str s = {p, (size_t)(stop - p)};
		if (str_eq(s, "..")) {
			if (nseg)
				nseg--;
		} else if (s.n && !str_eq(s, ".")) {
			seg[nseg++] = s;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	int rc = 0;
	if (path[0] == '/')
		rc |= buf_addc(out, '/');
	for (size_t i = 0; i < nseg; i++) {
		if (i)
			rc |= buf_addc(out, '/');
		rc |= enc_uri(out, seg[i].p, seg[i].n, false);
	}
	if (path[n - 1] == '/' && nseg)
		rc |= buf_addc(out, '/');
	free(seg);
	return rc ? -1 : 0;
}

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

/* The canonical query string: every name and value decoded and re-encoded with SigV4's unreserved
 * set, sorted by name, then value. '+' is a literal plus: SigV4 clients send a space as %20. */
static int canonical_query(struct buf *out, const char *query, enum err_kind kind, struct err **err)
{
	int rc = -1;
	struct qparam *params = NULL;
	size_t nparams = 0, cap = 0;
	struct buf enc = BUF_INIT;
	char q[QUOTE_MAX + 4];

	const char *p = query, *end = query + strlen(query);
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		if (stop > p) {
			if (nparams == SIGV4_MAX_QUERY_PARAMS) {
				err_set(err, kind, "The query string has more than %d parameters",
					SIGV4_MAX_QUERY_PARAMS);
				goto out;
			}
			const char *eq = memchr(p, '=', (size_t)(stop - p));
			const char *name_end = eq ? eq : stop;
			char *name = enc_pct_decode(p, (size_t)(name_end - p), false);
			char *value =
				eq ? enc_pct_decode(eq + 1, (size_t)(stop - eq - 1), false) : xstrdup("");
			if (!name || !value) {
				free(name);
				free(value);
				err_set(err, kind, "The query string is not valid percent-encoding: '%s'",
					quote(q, p, (size_t)(stop - p)));
				goto out;
			}
			if (nparams == cap) {
				cap = cap ? cap * 2 : 8;
				params = xrealloc(params, cap * sizeof(*params));
			}
			/* Decoding never lengthens, and the inputs are bounded, so enc never hits a cap. */
			buf_reset(&enc);
			enc_uri(&enc, name, strlen(name), false);
			params[nparams].name = xstrdup(enc.p);
			buf_reset(&enc);
			enc_uri(&enc, value, strlen(value), false);
			params[nparams].value = xstrdup(enc.p);
			nparams++;
			free(name);
			free(value);
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	if (nparams)
		qsort(params, nparams, sizeof(*params), qparam_cmp);
	int brc = 0;
	for (size_t i = 0; i < nparams; i++) {
		if (i)
			brc |= buf_addc(out, '&');
		brc |= buf_adds(out, params[i].name);
		brc |= buf_addc(out, '=');
		brc |= buf_adds(out, params[i].value);
	}
	if (brc) {
		err_set(err, kind, "The query string is too long to sign");
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nparams; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
	buf_release(&enc);
	return rc;
}

/* Appends a header value trimmed, with inner whitespace runs collapsed to one space (Trimall). */
static int add_trimall(struct buf *out, const char *v)
{
	int rc = 0;
	bool pending = false, any = false;
	for (; *v; v++) {
		if (is_space(*v)) {
			pending = any;
			continue;
		}
		if (pending)
			rc |= buf_addc(out, ' ');
		rc |= buf_addc(out, *v);
		pending = false;
		any = true;
	}
	return rc ? -1 : 0;
}

/* Builds the canonical request into cr (see sigv4.h for the rules). */
static int canonical_request(const struct sigv4_request *req, const struct names *names,
			     struct str signed_list, const char *payload_hash, struct buf *cr,
			     enum err_kind kind, struct err **err)
{
	char q[QUOTE_MAX + 4];
	int rc = 0;
	rc |= buf_adds(cr, req->method);
	rc |= buf_addc(cr, '\n');
	rc |= canonical_uri(cr, req->path);
	rc |= buf_addc(cr, '\n');
	if (rc)
		goto too_long;
	if (canonical_query(cr, req->query ? req->query : "", kind, err) < 0)
		return -1;
	rc |= buf_addc(cr, '\n');
	for (size_t i = 0; i < names->n; i++) {
		struct str name = names->v[i];
		rc |= buf_add(cr, name.p, name.n);
		rc |= buf_addc(cr, ':');
		size_t found = 0;
		for (size_t h = 0; h < req->nheaders; h++) {
			if (!req->headers[h].name || !name_is(req->headers[h].name, name))
				continue;
			if (found++)
				rc |= buf_addc(cr, ',');
			rc |= add_trimall(cr, header_value(req, h));
		}
		if (!found)
			return err_set(err, kind,
				       "SignedHeaders names '%s', which the request does not carry",
				       quote(q, name.p, name.n));
		rc |= buf_addc(cr, '\n');
	}
	rc |= buf_addc(cr, '\n');
	rc |= buf_add(cr, signed_list.p, signed_list.n);
	rc |= buf_addc(cr, '\n');
	rc |= buf_adds(cr, payload_hash);
	if (rc)
		goto too_long;
	return 0;
too_long:
	return err_set(err, kind, "The request is too large to sign (canonical request over %u bytes)",
		       SIGV4_MAX_CANONICAL);
}

/* Derives kSigning: "AWS4"+secret -> date -> region -> service -> "aws4_request". */
static int derive_key(struct str secret, const char *date, struct str region, struct str service,
		      unsigned char out[SHA256_DIGEST_LENGTH], struct err **err)
{
	int rc = -1;
	struct buf ksecret;
	unsigned char k[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH];

	buf_init(&ksecret, 0);
	buf_adds(&ksecret, "AWS4");
	buf_add(&ksecret, secret.p, secret.n);
	/* Alternating buffers: OpenSSL does not promise that HMAC's key and output may overlap. */
	if (hmac_sha256(ksecret.p, ksecret.len, date, 8, k, err) < 0 ||
	    hmac_sha256(k, sizeof(k), region.p, region.n, k2, err) < 0 ||
	    hmac_sha256(k2, sizeof(k2), service.p, service.n, k, err) < 0 ||
	    hmac_sha256(k, sizeof(k), TERMINATOR, strlen(TERMINATOR), out, err) < 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
	if (ksecret.cap)
		OPENSSL_cleanse(ksecret.p, ksecret.len);
	buf_release(&ksecret);
	return rc;
}

/* The signing key only changes with the secret, the day, the region and the service, yet deriving
 * it takes four HMACs, and each one-shot HMAC() looks the algorithm up again. So the process keeps
 * a few derived keys, each as an HMAC context already keyed with it: a request then costs one
 * HMAC, reusing the context's precomputed pads. The cache is bounded (least recently used slot
 * evicted), shared by all threads under one lock, and wiped when a slot is evicted and at exit. */
#define KEY_CACHE_SLOTS 16 /* (secret, day, region, service) combinations kept */

struct key_slot {
	EVP_MAC_CTX *mac; /* HMAC-SHA256 keyed with kSigning; NULL: the slot is free */
	uint64_t used;	  /* key_cache.tick at the last use */
	size_t secret_len, region_len, service_len;
	char date[8];
	char secret[CREDS_SECRET_MAX];
	char region[SCOPE_NAME_MAX];
	char service[SCOPE_NAME_MAX];
};

static struct {
	pthread_mutex_t lock;
	EVP_MAC *hmac; /* fetched once */
	bool closed;   /* wiped at exit: compute without the cache from then on */
	uint64_t tick;
	struct key_slot slots[KEY_CACHE_SLOTS];
} key_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void slot_wipe(struct key_slot *slot)
{
	EVP_MAC_CTX_free(slot->mac);
	OPENSSL_cleanse(slot, sizeof(*slot));
	slot->mac = NULL;
}

static void key_cache_wipe(void)
{
	pthread_mutex_lock(&key_cache.lock);
	for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
		slot_wipe(&key_cache.slots[i]);
	EVP_MAC_free(key_cache.hmac);
	key_cache.hmac = NULL;
	key_cache.closed = true;
	pthread_mutex_unlock(&key_cache.lock);
}

static bool slot_is(const struct key_slot *slot, struct str secret, const char *date, struct str region,
		    struct str service)
{
	return slot->mac && slot->secret_len == secret.n && slot->region_len == region.n &&
	       slot->service_len == service.n && memcmp(slot->date, date, 8) == 0 &&
	       memcmp(slot->region, region.p, region.n) == 0 &&
	       memcmp(slot->service, service.p, service.n) == 0 &&
	       CRYPTO_memcmp(slot->secret, secret.p, secret.n) == 0;
}

/* Fills a free or the least recently used slot with a context keyed for the scope. Called with the
 * lock held. Returns the slot, or NULL with *err. */
static struct key_slot *slot_fill(struct str secret, const char *date, struct str region, struct str service,
				  struct err **err)
{
	struct key_slot *slot = &key_cache.slots[0];
	unsigned char key[SHA256_DIGEST_LENGTH];
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	for (size_t i = 1; i < KEY_CACHE_SLOTS && slot->mac; i++)
		if (!key_cache.slots[i].mac || key_cache.slots[i].used < slot->used)
			slot = &key_cache.slots[i];
	slot_wipe(slot);
	if (!key_cache.hmac && !(key_cache.hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL))) {
		err_set(err, ERR_INTERNAL, "HMAC-SHA256 is not available");
		return NULL;
	}
	if (derive_key(secret, date, region, service, key, err) < 0)
		return NULL;
	slot->mac = EVP_MAC_CTX_new(key_cache.hmac);
	if (!slot->mac || !EVP_MAC_init(slot->mac, key, sizeof(key), params)) {
		OPENSSL_cleanse(key, sizeof(key));
		slot_wipe(slot);
		err_set(err, ERR_INTERNAL, "HMAC-SHA256 failed");
		return NULL;
	}
	OPENSSL_cleanse(key, sizeof(key));
	memcpy(slot->secret, secret.p, secret.n);
	slot->secret_len = secret.n;
	memcpy(slot->date, date, 8);
	memcpy(slot->region, region.p, region.n);
	slot->region_len = region.n;
	memcpy(slot->service, service.p, service.n);
	slot->service_len = service.n;
	return slot;
}

static void key_cache_at_exit(void)
{
	atexit(key_cache_wipe);
}

/* sign_sts without the cache. */
static int sign_sts_uncached(struct str secret, const char *date, struct str region, struct str service,
			     const struct buf *sts, unsigned char sig[SHA256_DIGEST_LENGTH], struct err **err)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	int rc = derive_key(secret, date, region, service, key, err);
	if (rc == 0)
		rc = hmac_sha256(key, sizeof(key), sts->p, sts->len, sig, err);
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* HMAC-SHA256 of the string to sign with the scope's signing key. */
static int sign_sts(struct str secret, const char *date, struct str region, struct str service,
		    const struct buf *sts, unsigned char sig[SHA256_DIGEST_LENGTH], struct err **err)
{
	static pthread_once_t at_exit = PTHREAD_ONCE_INIT;
	struct key_slot *slot = NULL;
	size_t len = 0;
	int rc = -1;

	if (secret.n > CREDS_SECRET_MAX || region.n > SCOPE_NAME_MAX || service.n > SCOPE_NAME_MAX)
		return sign_sts_uncached(secret, date, region, service, sts, sig, err);
	pthread_once(&at_exit, key_cache_at_exit);
	pthread_mutex_lock(&key_cache.lock);
	if (key_cache.closed) {
		pthread_mutex_unlock(&key_cache.lock);
		return sign_sts_uncached(secret, date, region, service, sts, sig, err);
	}
	for (size_t i = 0; i < KEY_CACHE_SLOTS && !slot; i++)
		if (slot_is(&key_cache.slots[i], secret, date, region, service))
			slot = &key_cache.slots[i];
	/* A cached context has been finalized; HMAC's init without a key starts over with the same
	 * key. A new one is freshly initialized. */
	if (slot && !EVP_MAC_init(slot->mac, NULL, 0, NULL)) {
		slot_wipe(slot);
		slot = NULL;
	}
	if (!slot && !(slot = slot_fill(secret, date, region, service, err)))
		goto out;
	slot->used = ++key_cache.tick;
	if (!EVP_MAC_update(slot->mac, (const unsigned char *)sts->p, sts->len) ||
	    !EVP_MAC_final(slot->mac, sig, &len, SHA256_DIGEST_LENGTH) || len != SHA256_DIGEST_LENGTH) {
		slot_wipe(slot);
		err_set(err, ERR_INTERNAL, "HMAC-SHA256 failed");
		goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&key_cache.lock);
	return rc;
}

/* Computes the hex signature: canonical request, string to sign, key chain, HMAC. */
static int compute_signature(const struct sigv4_request *req, struct str secret, const char *amz_date,
			     struct str region, struct str service, const struct names *names,
			     struct str signed_list, const char *payload_hash, char out[HEX_SHA256_LEN + 1],
			     enum err_kind kind, struct err **err)
{
	int rc = -1;
	struct buf cr, sts;
	buf_init(&cr, SIGV4_MAX_CANONICAL);
	buf_init(&sts, 0);
	unsigned char sig[SHA256_DIGEST_LENGTH];
	char cr_hex[HEX_SHA256_LEN + 1];

	if (canonical_request(req, names, signed_list, payload_hash, &cr, kind, err) < 0)
		goto out;
	sha256_hex(cr.p, cr.len, cr_hex);
	/* The scope's date is always the day of the timestamp that is signed. */
	buf_adds(&sts, ALGORITHM "\n");
	buf_adds(&sts, amz_date);
	buf_addc(&sts, '\n');
	buf_add(&sts, amz_date, 8);
	buf_addc(&sts, '/');
	buf_add(&sts, region.p, region.n);
	buf_addc(&sts, '/');
	buf_add(&sts, service.p, service.n);
	buf_adds(&sts, "/" TERMINATOR "\n");
	buf_adds(&sts, cr_hex);

	if (sign_sts(secret, amz_date, region, service, &sts, sig, err) < 0)
		goto out;
	enc_hex(sig, sizeof(sig), out);
	rc = 0;
out:
	buf_release(&cr);
	buf_release(&sts);
	return rc;
}

/* Splits "KEY/YYYYMMDD/region/service/aws4_request" into a's scope fields. */
static int parse_scope(struct auth *a, struct err **err)
{
	char q[QUOTE_MAX + 4];
	struct str part[5];
	size_t nparts = 0;
	const char *p = a->credential.p, *end = p + a->credential.n;
	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *stop = slash ? slash : end;
		if (nparts == 5)
			goto bad;
		part[nparts].p = p;
		part[nparts].n = (size_t)(stop - p);
		nparts++;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (nparts != 5)
		goto bad;
	a->key = part[0];
	a->date = part[1];
	a->region = part[2];
	a->service = part[3];
	a->terminator = part[4];
	if (a->key.n == 0 || a->key.n > CREDS_KEY_MAX || !all_chars(a->key, key_char))
		goto bad;
	if (a->date.n != 8 || !all_chars(a->date, digit_char))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Credential should be scoped to a valid date (YYYYMMDD), not '%s'.",
			       quote(q, a->date.p, a->date.n));
	if (a->region.n == 0 || a->region.n > SCOPE_NAME_MAX || !all_chars(a->region, region_char))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Credential should be scoped to a valid region, not '%s'.",
			       quote(q, a->region.p, a->region.n));
	if (a->service.n == 0 || a->service.n > SCOPE_NAME_MAX || !all_chars(a->service, service_char))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Credential should be scoped to a valid service, not '%s'.",
			       quote(q, a->service.p, a->service.n));
	if (!str_eq(a->terminator, TERMINATOR))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Credential should be scoped with a valid terminator: '" TERMINATOR
			       "', not '%s'.",
			       quote(q, a->terminator.p, a->terminator.n));
	return 0;
bad:
	return err_set(err, ERR_BAD_SIGNATURE,
		       "Credential should be of the form ACCESS_KEY_ID/YYYYMMDD/region/service/" TERMINATOR
		       ", not '%s'.",
		       quote(q, a->credential.p, a->credential.n));
}

/* Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." (the separators may be
 * "," or ", "). */
static int parse_auth(const char *v, size_t n, struct auth *a, struct err **err)
{
	char q[QUOTE_MAX + 4];
	struct str s = trim((struct str){v, n});
	memset(a, 0, sizeof(*a));

	size_t alg = 0;
	while (alg < s.n && !is_blank(s.p[alg]))
		alg++;
	if (!(alg == strlen(ALGORITHM) && memcmp(s.p, ALGORITHM, alg) == 0)) {
		if (str_starts(s, "AWS4-"))
			return err_set(err, ERR_BAD_SIGNATURE, "Unsupported AWS 'algorithm': '%s'",
				       quote(q, s.p, alg));
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Authorization header must use the " ALGORITHM " scheme, not '%s'",
			       quote(q, s.p, alg));
	}
	const char *p = s.p + alg, *end = s.p + s.n;
	if (s.p[s.n - 1] == ',')
		return err_set(err, ERR_BAD_SIGNATURE, "Authorization header has an empty parameter");
	bool any = false;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end;
		struct str piece = trim((struct str){p, (size_t)(stop - p)});
		p = comma ? comma + 1 : end;
		if (piece.n == 0) {
			if (!any && !comma)
				break; /* nothing after the algorithm; reported as missing parameters below */
			return err_set(err, ERR_BAD_SIGNATURE, "Authorization header has an empty parameter");
		}
		any = true;
		const char *eq = memchr(piece.p, '=', piece.n);
		if (!eq)
			return err_set(err, ERR_BAD_SIGNATURE,
				       "'%s' not a valid key=value pair (missing equal-sign) in "
				       "Authorization header",
				       quote(q, piece.p, piece.n));
		struct str key = {piece.p, (size_t)(eq - piece.p)};
		struct str val = {eq + 1, piece.n - key.n - 1};
		struct str *slot = NULL;
		if (str_eq(key, "Credential"))
			slot = &a->credential;
		else if (str_eq(key, "SignedHeaders"))
			slot = &a->signed_headers;
		else if (str_eq(key, "Signature"))
			slot = &a->signature;
		else
			return err_set(err, ERR_BAD_SIGNATURE,
				       "Authorization header has an unknown parameter '%s'",
				       quote(q, key.p, key.n));
		if (slot->p)
			return err_set(err, ERR_BAD_SIGNATURE,
				       "Authorization header has more than one '%s' parameter",
				       quote(q, key.p, key.n));
		for (size_t i = 0; i < val.n; i++) {
			if (is_space(val.p[i]))
				return err_set(err, ERR_BAD_SIGNATURE,
					       "'%s' not a valid key=value pair in Authorization header",
					       quote(q, piece.p, piece.n));
		}
		*slot = val;
	}
	if (!a->credential.p || !a->signed_headers.p || !a->signature.p) {
		/* AWS names every missing parameter, one sentence each. */
		const char *missing[3];
		size_t nmissing = 0;
		if (!a->credential.p)
			missing[nmissing++] = "Credential";
		if (!a->signature.p)
			missing[nmissing++] = "Signature";
		if (!a->signed_headers.p)
			missing[nmissing++] = "SignedHeaders";
		struct buf msg = BUF_INIT;
		for (size_t i = 0; i < nmissing; i++)
			buf_addf(&msg, "%sAuthorization header requires '%s' parameter.", i ? " " : "",
				 missing[i]);
		err_set(err, ERR_BAD_SIGNATURE, "%s", msg.p);
		buf_release(&msg);
		return -1;
	}
	if (a->signature.n != HEX_SHA256_LEN || !all_chars(a->signature, lower_hex_char))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Signature must be %d lowercase hexadecimal characters", HEX_SHA256_LEN);
	return parse_scope(a, err);
}

static int read_digits(const char **p, const char *end, size_t min, size_t max, int *out)
{
	int v = 0;
	size_t k = 0;
	while (*p < end && k < max && digit_char(**p)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		k++;
	}
	*out = v;
	return k >= min ? 0 : -1;
}

static int expect(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

/* Parses an HTTP Date header, "Sun, 30 Aug 2015 12:36:00 GMT" (botocore writes "-0000" for the
 * zone), into the X-Amz-Date form. Returns 0 or -1. */
static int http_date_to_amz(struct str s, char out[AMZ_DATE_LEN + 1])
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = s.p, *end = s.p + s.n;
	int day, year, hh, mm, ss, mon = -1;
	/* The weekday is redundant; skip it when present. */
	if (end - p >= 5 && p[3] == ',' && p[4] == ' ')
		p += 5;
	if (read_digits(&p, end, 1, 2, &day) < 0 || expect(&p, end, " ") < 0 || end - p < 4)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (memcmp(p, months + 3 * i, 3) == 0)
			mon = i + 1;
	}
	p += 3;
	if (mon < 0 || expect(&p, end, " ") < 0 || read_digits(&p, end, 4, 4, &year) < 0 ||
	    expect(&p, end, " ") < 0 || read_digits(&p, end, 2, 2, &hh) < 0 || expect(&p, end, ":") < 0 ||
	    read_digits(&p, end, 2, 2, &mm) < 0 || expect(&p, end, ":") < 0 ||
	    read_digits(&p, end, 2, 2, &ss) < 0 || expect(&p, end, " ") < 0)
		return -1;
	struct str zone = {p, (size_t)(end - p)};
	if (!str_eq(zone, "GMT") && !str_eq(zone, "UTC") && !str_eq(zone, "+0000") && !str_eq(zone, "-0000"))
		return -1;
	/* read_digits bounds every field, so this is exactly AMZ_DATE_LEN characters. */
	char tmp[64];
	int len = snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ", year, mon, day, hh, mm, ss);
	if (len != AMZ_DATE_LEN)
		return -1;
	memcpy(out, tmp, AMZ_DATE_LEN + 1);
	time_t t;
	return clock_parse_amz(out, &t);
}

static void format_amz(time_t t, char out[AMZ_DATE_LEN + 1])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != AMZ_DATE_LEN)
		memcpy(out, "?", 2);
}

/* Finds the request's timestamp: X-Amz-Date, else Date. *signed_name gets the header's name. */
static int request_date(const struct sigv4_request *req, char amz[AMZ_DATE_LEN + 1], time_t *t,
			const char **signed_name, struct err **err)
{
	char q[QUOTE_MAX + 4];
	size_t i = 0;
	size_t n = find_header(req, "x-amz-date", &i);
	if (n > 1)
		return err_set(err, ERR_BAD_SIGNATURE, "The request has more than one X-Amz-Date header");
	if (n == 1) {
		struct str v = trim(str_c(header_value(req, i)));
		if (v.n != AMZ_DATE_LEN)
			goto bad_amz;
		memcpy(amz, v.p, AMZ_DATE_LEN);
		amz[AMZ_DATE_LEN] = '\0';
		if (clock_parse_amz(amz, t) < 0)
			goto bad_amz;
		*signed_name = "x-amz-date";
		return 0;
	bad_amz:
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Date must be in ISO-8601 'basic format'. Got '%s'. See "
			       "http://en.wikipedia.org/wiki/ISO_8601",
			       quote(q, v.p, v.n));
	}
	n = find_header(req, "date", &i);
	if (n > 1)
		return err_set(err, ERR_BAD_SIGNATURE, "The request has more than one Date header");
	if (n == 1) {
		struct str v = trim(str_c(header_value(req, i)));
		if (http_date_to_amz(v, amz) < 0 || clock_parse_amz(amz, t) < 0)
			return err_set(err, ERR_BAD_SIGNATURE, "The Date header is not an HTTP date: '%s'",
				       quote(q, v.p, v.n));
		*signed_name = "date";
		return 0;
	}
	return err_set(
		err, ERR_BAD_SIGNATURE,
		"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
}

/* Checks the request against the SIGV4_MAX_* bounds before any of it is read further. */
static int check_bounds(const struct sigv4_request *req, enum err_kind kind, struct err **err)
{
	if (!req->method || !req->path || (req->nheaders && !req->headers) || (req->body_len && !req->body))
		return err_set(err, ERR_INTERNAL, "sigv4: incomplete request");
	if (req->method[0] == '\0' || strchr(req->method, '\n'))
		return err_set(err, kind, "The request method is not valid");
	if (strnlen(req->path, SIGV4_MAX_PATH + 1) > SIGV4_MAX_PATH)
		return err_set(err, kind, "The request path is longer than %d bytes", SIGV4_MAX_PATH);
	if (req->query && strnlen(req->query, SIGV4_MAX_QUERY + 1) > SIGV4_MAX_QUERY)
		return err_set(err, kind, "The query string is longer than %d bytes", SIGV4_MAX_QUERY);
	if (req->nheaders > SIGV4_MAX_HEADERS)
		return err_set(err, kind, "The request has more than %d headers", SIGV4_MAX_HEADERS);
	for (size_t i = 0; i < req->nheaders; i++) {
		const struct sigv4_header *h = &req->headers[i];
		if (h->name && strnlen(h->name, SIGV4_MAX_HEADER_NAME + 1) > SIGV4_MAX_HEADER_NAME)
			return err_set(err, kind, "A header name is longer than %d bytes",
				       SIGV4_MAX_HEADER_NAME);
		if (h->value && strnlen(h->value, SIGV4_MAX_HEADER_VALUE + 1) > SIGV4_MAX_HEADER_VALUE)
			return err_set(err, kind, "A header value is longer than %d bytes",
				       SIGV4_MAX_HEADER_VALUE);
	}
	return 0;
}

/* Decides the payload hash line: x-amz-content-sha256 when sent (verified against the body when
 * verify is set), else the body's SHA-256. */
static int payload_hash(const struct sigv4_request *req, bool verify, char out[HEX_SHA256_LEN + 1],
			enum err_kind kind, struct err **err)
{
	size_t i = 0;
	size_t n = find_header(req, "x-amz-content-sha256", &i);
	if (n > 1)
		return err_set(err, kind, "The request has more than one x-amz-content-sha256 header");
	if (n == 0) {
		sha256_hex(req->body, req->body_len, out);
		return 0;
	}
	struct str v = trim(str_c(header_value(req, i)));
	if (str_eq(v, UNSIGNED_PAYLOAD)) {
		memcpy(out, UNSIGNED_PAYLOAD, sizeof(UNSIGNED_PAYLOAD));
		return 0;
	}
	if (verify) {
		sha256_hex(req->body, req->body_len, out);
		if (!str_eq(v, out))
			return err_set(err, kind,
				       "The provided 'x-amz-content-sha256' header does not match what was "
				       "computed.");
		return 0;
	}
	if (v.n > HEX_SHA256_LEN)
		return err_set(err, kind, "x-amz-content-sha256 is longer than %d characters",
			       HEX_SHA256_LEN);
	memcpy(out, v.p, v.n);
	out[v.n] = '\0';
	return 0;
}

int sigv4_verify(const struct sigv4_request *req, time_t now, const struct creds *creds,
		 struct sigv4_identity *id, struct err **err)
{
	struct auth a;
	struct names names;
	char amz[AMZ_DATE_LEN + 1], hash[HEX_SHA256_LEN + 1], sig[HEX_SHA256_LEN + 1];
	char keyz[CREDS_KEY_MAX + 1];
	const char *date_name = NULL;
	time_t t;

	if (check_bounds(req, ERR_BAD_SIGNATURE, err) < 0)
		return -1;
	size_t ai = 0;
	size_t nauth = find_header(req, "authorization", &ai);
	if (nauth == 0 || trim(str_c(header_value(req, ai))).n == 0)
		return err_set(err, ERR_MISSING_AUTH, MSG_MISSING);
	if (nauth > 1)
		return err_set(err, ERR_BAD_SIGNATURE, "The request has more than one Authorization header");
	const char *av = header_value(req, ai);
	size_t avn = strlen(av);
	if (avn > SIGV4_MAX_AUTH)
		return err_set(err, ERR_BAD_SIGNATURE, "The Authorization header is longer than %d bytes",
			       SIGV4_MAX_AUTH);
	if (parse_auth(av, avn, &a, err) < 0)
		return -1;
	if (parse_signed_headers(a.signed_headers, &names, ERR_BAD_SIGNATURE, err) < 0)
		return -1;
	if (!names_have(&names, "host"))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "'Host' must be a 'SignedHeader' in the AWS Authorization.");
	if (request_date(req, amz, &t, &date_name, err) < 0)
		return -1;
	if (!names_have(&names, date_name))
		return err_set(err, ERR_BAD_SIGNATURE,
			       "'%s' must be a 'SignedHeader' in the AWS Authorization.",
			       strcmp(date_name, "date") == 0 ? "Date" : "X-Amz-Date");
	if (memcmp(a.date.p, amz, 8) != 0)
		return err_set(
			err, ERR_BAD_SIGNATURE,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
			"HTTP: '%.8s' != '%.8s', from '%s'.",
			a.date.p, amz, amz);

	memcpy(keyz, a.key.p, a.key.n);
	keyz[a.key.n] = '\0';
	const struct cred *cred = creds_find(creds, keyz);
	if (!cred)
		return err_set(err, ERR_UNKNOWN_KEY, MSG_UNKNOWN_KEY);

	if (t < now - SIGV4_MAX_SKEW || t > now + SIGV4_MAX_SKEW) {
		char nows[AMZ_DATE_LEN + 1], edge[AMZ_DATE_LEN + 1];
		format_amz(now, nows);
		if (t < now - SIGV4_MAX_SKEW) {
			format_amz(now - SIGV4_MAX_SKEW, edge);
			return err_set(err, ERR_BAD_SIGNATURE,
				       "Signature expired: %s is now earlier than %s (%s - %d min.)", amz,
				       edge, nows, SIGV4_MAX_SKEW / 60);
		}
		format_amz(now + SIGV4_MAX_SKEW, edge);
		return err_set(err, ERR_BAD_SIGNATURE,
			       "Signature not yet current: %s is still later than %s (%s + %d min.)", amz,
			       edge, nows, SIGV4_MAX_SKEW / 60);
	}

	if (payload_hash(req, true, hash, ERR_BAD_SIGNATURE, err) < 0)
		return -1;
	if (compute_signature(req, str_c(cred->secret), amz, a.region, a.service, &names, a.signed_headers,
			      hash, sig, ERR_BAD_SIGNATURE, err) < 0)
		return -1;
	if (CRYPTO_memcmp(sig, a.signature.p, HEX_SHA256_LEN) != 0)
		return err_set(err, ERR_BAD_SIGNATURE, "%s", msg_mismatch);

	memset(id, 0, sizeof(*id));
	memcpy(id->access_key, keyz, a.key.n + 1);
	memcpy(id->account, cred->account, strlen(cred->account) + 1);
	memcpy(id->region, a.region.p, a.region.n);
	memcpy(id->service, a.service.p, a.service.n);
	return 0;
}

int sigv4_sign(const struct sigv4_request *req, const char *secret, const char *amz_date, const char *region,
	       const char *service, const char *signed_headers, char out[65], struct err **err)
{
	struct names names;
	char hash[HEX_SHA256_LEN + 1];
	time_t t;

	if (!req || !secret || !amz_date || !region || !service || !signed_headers)
		return err_set(err, ERR_INVALID_PARAM, "sigv4_sign: missing argument");
	if (check_bounds(req, ERR_INVALID_PARAM, err) < 0)
		return -1;
	if (secret[0] == '\0' || strlen(secret) > CREDS_SECRET_MAX)
		return err_set(err, ERR_INVALID_PARAM, "the secret must be 1 to %d characters long",
			       CREDS_SECRET_MAX);
	if (strlen(amz_date) != AMZ_DATE_LEN || clock_parse_amz(amz_date, &t) < 0)
		return err_set(err, ERR_INVALID_PARAM, "the date must be YYYYMMDDTHHMMSSZ");
	struct str r = str_c(region), s = str_c(service);
	if (r.n == 0 || r.n > SCOPE_NAME_MAX || !all_chars(r, region_char))
		return err_set(err, ERR_INVALID_PARAM, "the region must be 1 to %d letters, digits or '-'",
			       SCOPE_NAME_MAX);
	if (s.n == 0 || s.n > SCOPE_NAME_MAX || !all_chars(s, service_char))
		return err_set(err, ERR_INVALID_PARAM,
			       "the service must be 1 to %d letters, digits, '-', '.' or '_'",
			       SCOPE_NAME_MAX);
	struct str list = str_c(signed_headers);
	if (parse_signed_headers(list, &names, ERR_INVALID_PARAM, err) < 0)
		return -1;
	if (payload_hash(req, false, hash, ERR_INVALID_PARAM, err) < 0)
		return -1;
	return compute_signature(req, str_c(secret), amz_date, r, s, &names, list, hash, out,
				 ERR_INVALID_PARAM, err);
}

char *sigv4_authorization(const struct sigv4_request *req, const char *access_key, const char *secret,
			  const char *amz_date, const char *region, const char *service,
			  const char *signed_headers, struct err **err)
{
	char sig[HEX_SHA256_LEN + 1];
	struct str k = str_c(access_key);
	if (!access_key || k.n == 0 || k.n > CREDS_KEY_MAX || !all_chars(k, key_char)) {
		err_set(err, ERR_INVALID_PARAM,
			"the access key id must be 1 to %d printable characters without '/'", CREDS_KEY_MAX);
		return NULL;
	}
	if (sigv4_sign(req, secret, amz_date, region, service, signed_headers, sig, err) < 0)
		return NULL;
	return xasprintf(ALGORITHM " Credential=%s/%.8s/%s/%s/" TERMINATOR ", SignedHeaders=%s, Signature=%s",
			 access_key, amz_date, region, service, signed_headers, sig);
}
