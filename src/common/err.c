/* The error type: creation, context, release. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static char *vfmt(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return xstrdup(fmt);
	char *p = xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

static void put(struct err **err, enum err_kind kind, int errnum, char *msg)
{
	if (!err || *err) {
		free(msg);
		return;
	}
	struct err *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->sys_errno = errnum;
	e->msg = msg;
	*err = e;
}

int err_set(struct err **err, enum err_kind kind, const char *fmt, ...)
{
	if (!err || *err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *msg = vfmt(fmt, ap);
	va_end(ap);
	put(err, kind, 0, msg);
	return -1;
}

int err_sys(struct err **err, int errnum, const char *fmt, ...)
{
	if (!err || *err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *head = vfmt(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s: %s", head, strerror(errnum));
	free(head);
	put(err, ERR_SYS, errnum, msg);
	return -1;
}

int err_prefix(struct err **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *head = vfmt(fmt, ap);
	va_end(ap);
	char *msg = xasprintf("%s: %s", head, (*err)->msg);
	free(head);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

void err_set_fields(struct err **err, char *fields)
{
	if (!err || !*err) {
		free(fields);
		return;
	}
	free((*err)->fields);
	(*err)->fields = fields;
}

void err_free(struct err *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e->fields);
	free(e);
}

const char *err_kind_name(enum err_kind kind)
{
	static const char *const names[ERR_KIND_COUNT] = {
		[ERR_INTERNAL] = "internal",
		[ERR_SYS] = "system",
		[ERR_INVALID_PARAM] = "invalid-parameter",
		[ERR_CLIENT] = "client",
		[ERR_SERIALIZATION] = "serialization",
		[ERR_UNKNOWN_OP] = "unknown-operation",
		[ERR_MISSING_AUTH] = "missing-auth",
		[ERR_UNKNOWN_KEY] = "unknown-key",
		[ERR_BAD_SIGNATURE] = "bad-signature",
		[ERR_TOO_LARGE] = "too-large",
		[ERR_NOT_FOUND] = "not-found",
		[ERR_CLUSTER_NOT_FOUND] = "cluster-not-found",
		[ERR_CLUSTER_HAS_INSTANCES] = "cluster-has-instances",
		[ERR_CLUSTER_HAS_SERVICES] = "cluster-has-services",
		[ERR_CLUSTER_HAS_TASKS] = "cluster-has-tasks",
		[ERR_LIMIT_EXCEEDED] = "limit-exceeded",
		[ERR_ACCESS_DENIED] = "access-denied",
		[ERR_UNAVAILABLE] = "unavailable",
		[ERR_TARGET_NOT_FOUND] = "target-not-found",
		[ERR_ATTRIBUTE_LIMIT] = "attribute-limit",
		[ERR_UNSUPPORTED] = "unsupported",
		[ERR_REPO_NOT_FOUND] = "repository-not-found",
		[ERR_REPO_EXISTS] = "repository-exists",
		[ERR_REPO_NOT_EMPTY] = "repository-not-empty",
		[ERR_IMAGE_NOT_FOUND] = "image-not-found",
		[ERR_TAG_EXISTS] = "tag-exists",
		[ERR_LAYERS_NOT_FOUND] = "layers-not-found",
		[ERR_IMAGE_EXISTS] = "image-exists",
		[ERR_LIFECYCLE_NOT_FOUND] = "lifecycle-policy-not-found",
		[ERR_PREVIEW_NOT_FOUND] = "lifecycle-preview-not-found",
		[ERR_REPO_POLICY_NOT_FOUND] = "repository-policy-not-found",
		[ERR_UPLOAD_NOT_FOUND] = "upload-not-found",
		[ERR_INVALID_LAYER_PART] = "invalid-layer-part",
		[ERR_INVALID_LAYER] = "invalid-layer",
		[ERR_LAYER_EXISTS] = "layer-exists",
		[ERR_EMPTY_UPLOAD] = "empty-upload",
		[ERR_LAYER_INACCESSIBLE] = "layer-inaccessible",
		[ERR_RESOURCE_EXISTS] = "resource-exists",
	};
	if ((unsigned)kind >= ERR_KIND_COUNT || !names[kind])
		return "unknown";
	return names[kind];
}
