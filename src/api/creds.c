/* The credential store: a map from access key id to credential (common/hmap), the parser of the
 * credentials file, and the generator of a first credential for `gantry dev`. */
#include "api/creds.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hmap.h"
#include "common/ids.h"
#include "common/xalloc.h"

struct creds {
	struct hmap *by_key; /* access key id -> struct cred */
};

/* Overwrites a secret before its memory is freed, so that it does not linger in the heap. */
static void wipe(char *s)
{
	OPENSSL_cleanse(s, strlen(s));
}

struct creds *creds_new(void)
{
	struct creds *c = xcalloc(1, sizeof(*c));
	c->by_key = hmap_new();
	return c;
}

static void cred_free(struct cred *cr)
{
	if (!cr)
		return;
	free(cr->access_key);
	if (cr->secret) {
		wipe(cr->secret);
		free(cr->secret);
	}
	free(cr->account);
	free(cr);
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	size_t it = 0;
	void *v;
	while (hmap_next(c->by_key, &it, NULL, &v))
		cred_free(v);
	hmap_free(c->by_key);
	free(c);
}

size_t creds_count(const struct creds *c)
{
	return c ? hmap_size(c->by_key) : 0;
}

const struct cred *creds_find(const struct creds *c, const char *access_key)
{
	if (!c || !access_key)
		return NULL;
	return hmap_get(c->by_key, access_key);
}

static bool key_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Checks the three fields; the message names the field but never quotes the secret. */
static int check_fields(const char *key, const char *secret, const char *account, struct err **err)
{
	if (!key || !secret || !account)
		return err_set(err, ERR_INVALID_PARAM,
			       "a credential needs an access key, a secret and an account");
	size_t n = strlen(key);
	if (n == 0 || n > CREDS_KEY_MAX)
		return err_set(err, ERR_INVALID_PARAM, "access key id must be 1 to %d characters long",
			       CREDS_KEY_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!key_char(key[i]))
			return err_set(err, ERR_INVALID_PARAM,
				       "access key id may only contain letters, digits and '_'");
	}
	n = strlen(secret);
	if (n == 0 || n > CREDS_SECRET_MAX)
		return err_set(err, ERR_INVALID_PARAM,
			       "secret of access key `%s` must be 1 to %d characters long", key,
			       CREDS_SECRET_MAX);
	for (size_t i = 0; i < n; i++) {
		if (secret[i] <= ' ' || secret[i] > '~')
			return err_set(
				err, ERR_INVALID_PARAM,
				"secret of access key `%s` may only contain printable ASCII without blanks",
				key);
	}
	n = strlen(account);
	bool digits = n == CREDS_ACCOUNT_LEN;
	for (size_t i = 0; digits && i < n; i++)
		digits = account[i] >= '0' && account[i] <= '9';
	if (!digits)
		return err_set(err, ERR_INVALID_PARAM,
			       "account id of access key `%s` must be exactly %d digits", key,
			       CREDS_ACCOUNT_LEN);
	return 0;
}

int creds_add(struct creds *c, const char *access_key, const char *secret, const char *account,
	      struct err **err)
{
	if (check_fields(access_key, secret, account, err) < 0)
		return -1;
	if (hmap_get(c->by_key, access_key))
		return err_set(err, ERR_INVALID_PARAM, "access key `%s` appears twice", access_key);
	struct cred *cr = xcalloc(1, sizeof(*cr));
	cr->access_key = xstrdup(access_key);
	cr->secret = xstrdup(secret);
	cr->account = xstrdup(account);
	hmap_put(c->by_key, access_key, cr);
	return 0;
}

/* Parses one line (NUL-terminated, no newline) into the store. */
static int parse_line(struct creds *c, char *line, struct err **err)
{
	char *field[3];
	size_t nfields = 0;
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (nfields == 3)
			return err_set(err, ERR_INVALID_PARAM,
				       "expected ACCESS_KEY_ID SECRET ACCOUNT_ID, found more than 3 fields");
		field[nfields++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (nfields != 3)
		return err_set(err, ERR_INVALID_PARAM,
			       "expected ACCESS_KEY_ID SECRET ACCOUNT_ID, found %zu field%s", nfields,
			       nfields == 1 ? "" : "s");
	return creds_add(c, field[0], field[1], field[2], err);
}

/* Reads a whole regular file of at most CREDS_FILE_MAX bytes into a NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len, struct err **err)
{
	int fd = -1;
	char *data = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(err, errno, "open %s", path);
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		err_sys(err, errno, "stat %s", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, ERR_INVALID_PARAM, "%s: not a regular file", path);
		goto fail;
	}
	if ((uintmax_t)st.st_size > CREDS_FILE_MAX) {
		err_set(err, ERR_INVALID_PARAM, "%s: larger than %u bytes", path, CREDS_FILE_MAX);
		goto fail;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	data = xmalloc(cap);
	for (;;) {
		if (n == cap - 1) {
			/* The file grew since fstat; allow it up to the limit. */
			if (cap > CREDS_FILE_MAX) {
				err_set(err, ERR_INVALID_PARAM, "%s: larger than %u bytes", path,
					CREDS_FILE_MAX);
				goto fail;
			}
			cap *= 2;
			data = xrealloc(data, cap);
		}
		ssize_t r = read(fd, data + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_sys(err, errno, "read %s", path);
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	data[n] = '\0';
	close(fd);
	*len = n;
	return data;
fail:
	if (fd >= 0)
		close(fd);
	free(data);
	return NULL;
}

struct creds *creds_load(const char *path, struct err **err)
{
	struct creds *c = NULL;
	size_t len = 0;
	char *data = read_file(path, &len, err);
	if (!data)
		goto out;
	c = creds_new();
	size_t lineno = 0;
	char *p = data, *end = data + len;
	while (p < end) {
		lineno++;
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		if (n > CREDS_LINE_MAX) {
			err_set(err, ERR_INVALID_PARAM, "%s: line %zu: longer than %d characters", path,
				lineno, CREDS_LINE_MAX);
			goto fail;
		}
		if (memchr(p, '\0', n)) {
			err_set(err, ERR_INVALID_PARAM, "%s: line %zu: contains a NUL byte", path, lineno);
			goto fail;
		}
		*eol = '\0';
		if (n > 0 && eol[-1] == '\r')
			eol[-1] = '\0';
		if (parse_line(c, p, err) < 0) {
			err_prefix(err, "%s: line %zu", path, lineno);
			goto fail;
		}
		p = eol + 1;
	}
	goto out;
fail:
	creds_free(c);
	c = NULL;
out:
	if (data) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	return c;
}

int creds_create_file(const char *path, const char *account, struct err **err)
{
	int rc = -1, fd = -1;
	bool created = false;
	struct buf b = BUF_INIT;
	char key[4 + 16 + 1] = "GKIA";
	char secret[40 + 1];

	ids_token(key + 4, 16, 0);
	ids_token(secret, 40, 1);
	if (check_fields(key, secret, account, err) < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_sys(err, errno, "create %s", path);
		goto out;
	}
	created = true;
	buf_adds(&b, "# gantry credentials: ACCESS_KEY_ID SECRET ACCOUNT_ID, one per line\n");
	buf_addf(&b, "%s %s %s\n", key, secret, account);
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.p + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_sys(err, errno, "write %s", path);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		err_sys(err, errno, "fsync %s", path);
		goto out;
	}
	int fd2 = fd;
	fd = -1;
	if (close(fd2) < 0) {
		err_sys(err, errno, "close %s", path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(path);
	wipe(secret);
	if (b.cap)
		wipe(b.p);
	buf_release(&b);
	return rc;
}
