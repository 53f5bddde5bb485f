/* The credential store: access key id -> (secret, account). SigV4 verification looks keys up here;
 * the account a key belongs to is the account every request signed with it acts in.
 *
 * The credentials file holds one credential per line:
 *
 *     # ACCESS_KEY_ID SECRET ACCOUNT_ID
 *     GKIAEXAMPLE0000000 wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY 123456789012
 *
 * Fields are separated by spaces or tabs; blank lines and lines whose first non-blank character is
 * '#' are ignored. An access key is 1..CREDS_KEY_MAX characters of [A-Za-z0-9_] (AWS's \w, and
 * nothing SigV4's Credential= syntax treats as a separator); a secret is 1..CREDS_SECRET_MAX
 * printable ASCII characters without blanks; an account id is exactly 12 digits. */
#ifndef GANTRY_CREDS_H
#define GANTRY_CREDS_H

#include <stddef.h>

#include "common/err.h"

/* Longest access key id, secret and credentials file we accept. */
#define CREDS_KEY_MAX	  128
#define CREDS_SECRET_MAX  128
#define CREDS_ACCOUNT_LEN 12
#define CREDS_FILE_MAX	  (4u << 20)
/* Longest line of a credentials file. */
#define CREDS_LINE_MAX 1024

struct cred {
	char *access_key;
	char *secret;
	char *account; /* 12 digits */
};

struct creds;

/* Reads the credentials file at path (format above). Returns a new store the caller frees with
 * creds_free, or NULL with *err: ERR_SYS when the file cannot be read, ERR_INVALID_PARAM naming the
 * path and line number for a malformed line, a bad field or an access key that appears twice.
 * Error messages never contain a secret. */
struct creds *creds_load(const char *path, struct err **err);

/* An empty store (for tests and `gantry dev`). Never NULL; free with creds_free. */
struct creds *creds_new(void);

/* Adds a credential, copying the strings. Returns 0, or -1 with *err (ERR_INVALID_PARAM) when a
 * field is malformed or access_key is already in the store; the store is unchanged then. */
int creds_add(struct creds *c, const char *access_key, const char *secret, const char *account,
	      struct err **err);

/* Looks up an access key (case-sensitive). Returns a credential borrowed from the store (valid
 * until creds_free), or NULL when the key is unknown or c / access_key is NULL. */
const struct cred *creds_find(const struct creds *c, const char *access_key);

/* The number of credentials in the store. */
size_t creds_count(const struct creds *c);

/* Frees the store and every credential in it; accepts NULL. */
void creds_free(struct creds *c);

/* Creates the credentials file at path (mode 0600; O_EXCL, so an existing file is never
 * overwritten) holding a comment line and one new random credential for `account` (12 digits): an
 * access key "GKIA" + 16 characters of [A-Z0-9] and a 40-character secret, both from the CSPRNG
 * (ids_token). Returns 0, or -1 with *err (ERR_INVALID_PARAM for a bad account id, ERR_SYS when
 * the file exists or cannot be written; a partly written file is removed). */
int creds_create_file(const char *path, const char *account, struct err **err);

#endif
