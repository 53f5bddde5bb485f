/* AWS Signature Version 4: verification of requests authenticated by the Authorization header (what
 * the AWS CLI, boto3 and every SDK send), and signing for gantry's own clients.
 *
 * The canonical request follows AWS's rules for services other than S3:
 *   method '\n' canonical URI '\n' canonical query '\n' canonical headers '\n' signed headers '\n'
 *   payload hash
 * - canonical URI: the path as sent (still percent-encoded), with "." / ".." segments and empty
 *   segments removed ("" becomes "/"), then URI-encoded once more, keeping '/'. So a segment the
 *   client sent as "a%20b" is signed as "a%2520b": AWS's "each path segment is URI-encoded twice",
 *   which is what botocore and the other SDKs compute.
 * - canonical query: split on '&' (empty pieces dropped), each name and value percent-decoded ('+'
 *   stays a plus) and re-encoded with the SigV4 unreserved set, a piece without '=' getting an empty
 *   value, sorted by encoded name, then encoded value.
 * - canonical headers: for each name in SignedHeaders (which must be lowercase, sorted and without
 *   repeats), the values of every request header of that name in any case, in the order received,
 *   each trimmed with inner runs of blanks collapsed to one space, joined by ','.
 * - payload hash: the value of x-amz-content-sha256 when the request carries it (after checking it
 *   against the body, or UNSIGNED-PAYLOAD), else the lowercase hex SHA-256 of the body.
 * The string to sign is "AWS4-HMAC-SHA256\n" amz-date "\n" scope "\n" hex(SHA-256(canonical
 * request)), and the key HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request". */
#ifndef GANTRY_SIGV4_H
#define GANTRY_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "api/creds.h"
#include "common/err.h"

/* Bounds on what a request may bring to verification; more is refused with ERR_BAD_SIGNATURE. */
#define SIGV4_MAX_HEADERS	 128	    /* headers in a request */
#define SIGV4_MAX_HEADER_NAME	 256	    /* bytes in a header name */
#define SIGV4_MAX_HEADER_VALUE	 16384	    /* bytes in a header value */
#define SIGV4_MAX_AUTH		 8192	    /* bytes in the Authorization header */
#define SIGV4_MAX_SIGNED_HEADERS 64	    /* names in SignedHeaders */
#define SIGV4_MAX_PATH		 8192	    /* bytes in the raw path */
#define SIGV4_MAX_QUERY		 32768	    /* bytes in the raw query string */
#define SIGV4_MAX_QUERY_PARAMS	 512	    /* '&'-separated pieces of the query string */
#define SIGV4_MAX_CANONICAL	 (1u << 20) /* bytes in a canonical request */
/* How far X-Amz-Date may be from the server's clock, either way (AWS: 15 minutes). */
#define SIGV4_MAX_SKEW 900

struct sigv4_header {
	const char *name;  /* as received; any case; a name may repeat */
	const char *value; /* as received */
};

struct sigv4_request {
	const char *method;
	const char *path;  /* the raw request path as sent (still percent-encoded) */
	const char *query; /* the raw query string after '?', "" if none */
	const struct sigv4_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
};

/* Who signed a request: the access key, its account, and the region and service of the scope. */
struct sigv4_identity {
	char access_key[129];
	char account[13];
	char region[64];
	char service[64];
};

/* Verifies the Authorization header of req against the credential store at time `now` (epoch
 * seconds). On success returns 0 and fills *id; the caller still checks that id->service is the
 * service the request is for and uses id->region as the request's region. On failure returns -1
 * with *err and leaves *id untouched:
 * - ERR_MISSING_AUTH "Missing Authentication Token": no Authorization header, or an empty one.
 * - ERR_BAD_SIGNATURE: an Authorization header that does not parse (not AWS4-HMAC-SHA256; missing
 *   or repeated Credential=, SignedHeaders=, Signature=; a scope not of the form
 *   key/YYYYMMDD/region/service/aws4_request; SignedHeaders not lowercase and sorted or not naming
 *   host and the date header, or naming a header the request lacks); no X-Amz-Date nor Date; a date
 *   more than SIGV4_MAX_SKEW from now ("Signature expired: ... is now earlier than ..." / "Signature
 *   not yet current: ... is still later than ...", AWS's wording); a scope date that is not the day
 *   of X-Amz-Date; an x-amz-content-sha256 that is neither the body's hash nor UNSIGNED-PAYLOAD;
 *   a request beyond the SIGV4_MAX_* bounds; a signature that does not match ("The request
 *   signature we calculated does not match the signature you provided. ...").
 * - ERR_UNKNOWN_KEY "The security token included in the request is invalid.": the access key is
 *   not in creds.
 * Signatures are compared in constant time. Messages quote request bytes only as printable ASCII. */
int sigv4_verify(const struct sigv4_request *req, time_t now, const struct creds *creds,
		 struct sigv4_identity *id, struct err **err);

/* Computes the signature of req as a client would: 64 lowercase hex characters and a NUL into out.
 * signed_headers is the ';'-separated lowercase sorted list of the headers to sign (each must be in
 * req), amz_date the "YYYYMMDDTHHMMSSZ" timestamp the request carries (X-Amz-Date), region and
 * service the scope's. The payload hash is req's x-amz-content-sha256 header when present, else the
 * body's SHA-256. Returns 0, or -1 with *err (ERR_INVALID_PARAM for malformed arguments,
 * ERR_BAD_SIGNATURE when req cannot be canonicalized). */
int sigv4_sign(const struct sigv4_request *req, const char *secret, const char *amz_date, const char *region,
	       const char *service, const char *signed_headers, char out[65], struct err **err);

/* Builds the complete Authorization header value for req ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=..."), as sigv4_sign computes it; for gantry's own clients (the
 * agent, the bench load generator). Returns a new string the caller frees, or NULL with *err. */
char *sigv4_authorization(const struct sigv4_request *req, const char *access_key, const char *secret,
			  const char *amz_date, const char *region, const char *service,
			  const char *signed_headers, struct err **err);

#endif
