/* The one error type. Fallible functions return 0 / -1 (or a pointer / NULL) and fill *err;
 * success leaves *err untouched. Callers add context with err_prefix(); only a request handler
 * or main() prints or serializes an error. The API edge maps the kind to an AWS error __type. */
#ifndef GANTRY_ERR_H
#define GANTRY_ERR_H

enum err_kind {
	ERR_INTERNAL = 0,	   /* a bug or an unexpected failure: ServerException, 500 */
	ERR_SYS,		   /* a system call failed; sys_errno says why */
	ERR_INVALID_PARAM,	   /* a member's value is wrong: InvalidParameterException */
	ERR_CLIENT,		   /* the request cannot be served as asked: ClientException */
	ERR_SERIALIZATION,	   /* the body is not the JSON the operation takes */
	ERR_UNKNOWN_OP,		   /* X-Amz-Target names no operation we serve */
	ERR_MISSING_AUTH,	   /* no or unparseable Authorization: MissingAuthenticationTokenException */
	ERR_UNKNOWN_KEY,	   /* access key not in the credential store: UnrecognizedClientException */
	ERR_BAD_SIGNATURE,	   /* signature or date check failed: InvalidSignatureException */
	ERR_TOO_LARGE,		   /* the body exceeds the limit: 413 */
	ERR_NOT_FOUND,		   /* generic: ResourceNotFoundException */
	ERR_CLUSTER_NOT_FOUND,	   /* ClusterNotFoundException */
	ERR_CLUSTER_HAS_INSTANCES, /* ClusterContainsContainerInstancesException */
	ERR_CLUSTER_HAS_SERVICES,  /* ClusterContainsServicesException */
	ERR_CLUSTER_HAS_TASKS,	   /* ClusterContainsTasksException */
	ERR_LIMIT_EXCEEDED,	   /* LimitExceededException */
	ERR_ACCESS_DENIED,	   /* AccessDeniedException */
	ERR_UNAVAILABLE,	   /* the server is shutting down: ServiceUnavailableException, 503 */
	ERR_TARGET_NOT_FOUND,	   /* TargetNotFoundException (attributes) */
	ERR_ATTRIBUTE_LIMIT,	   /* AttributeLimitExceededException */
	ERR_UNSUPPORTED,	   /* well-formed but not supported: UnsupportedFeatureException */
	ERR_REPO_NOT_FOUND,	   /* RepositoryNotFoundException (ECR) */
	ERR_REPO_EXISTS,	   /* RepositoryAlreadyExistsException */
	ERR_REPO_NOT_EMPTY,	   /* RepositoryNotEmptyException */
	ERR_IMAGE_NOT_FOUND,	   /* ImageNotFoundException */
	ERR_TAG_EXISTS,		   /* ImageTagAlreadyExistsException (an IMMUTABLE tag) */
	ERR_LAYERS_NOT_FOUND,	   /* LayersNotFoundException: a referenced blob is missing */
	ERR_IMAGE_EXISTS,	   /* ImageAlreadyExistsException */
	ERR_LIFECYCLE_NOT_FOUND,   /* LifecyclePolicyNotFoundException */
	ERR_PREVIEW_NOT_FOUND,	   /* LifecyclePolicyPreviewNotFoundException */
	ERR_REPO_POLICY_NOT_FOUND, /* RepositoryPolicyNotFoundException */
	ERR_UPLOAD_NOT_FOUND,	   /* UploadNotFoundException: no such layer upload in the repository */
	ERR_INVALID_LAYER_PART,	   /* InvalidLayerPartException: a part that does not continue the upload */
	ERR_INVALID_LAYER,	   /* InvalidLayerException: the layer's bytes do not hash to its digest */
	ERR_LAYER_EXISTS,	   /* LayerAlreadyExistsException */
	ERR_EMPTY_UPLOAD,	   /* EmptyUploadException: a layer upload completed without any part */
	ERR_LAYER_INACCESSIBLE,	   /* LayerInaccessibleException: a layer no image refers to */
	ERR_RESOURCE_EXISTS,	   /* ResourceAlreadyExistsException (CloudWatch Logs) */
	ERR_KIND_COUNT
};

struct err {
	enum err_kind kind;
	int sys_errno; /* errno for ERR_SYS, else 0 */
	char *msg;     /* human-readable, never NULL */
	char *fields;  /* JSON object text of the members an AWS error shape has beside its message
			* (InvalidLayerPartException's lastValidByteReceived, ...), or NULL */
};

/* Fills *err (when err is non-NULL and *err is NULL) with a new error. Always returns -1 so that
 * callers can write `return err_set(err, ...);`. A second error does not replace the first. */
int err_set(struct err **err, enum err_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like err_set with ERR_SYS; the message gets ": strerror(errnum)" appended. */
int err_sys(struct err **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepends "context: " to the message of *err, if there is one. Returns -1. */
int err_prefix(struct err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Attaches fields (JSON object text, taken) to *err, if there is one: the API edge adds its members
 * to the error body beside __type and message. Replaces earlier fields. */
void err_set_fields(struct err **err, char *fields);
/* Frees an error; accepts NULL. */
void err_free(struct err *e);
/* A short name for a kind, for logs. */
const char *err_kind_name(enum err_kind kind);

#endif
