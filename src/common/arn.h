/* Amazon Resource Names: arn:aws:<service>:<region>:<account>:<resource>. */
#ifndef GANTRY_ARN_H
#define GANTRY_ARN_H

#include <stdbool.h>

#include "common/err.h"

struct arn {
	char *service;
	char *region;
	char *account;
	char *resource; /* everything after the fifth ':' (e.g. "cluster/web") */
};

/* Returns a new "arn:aws:service:region:account:resource" string. */
char *arn_build(const char *service, const char *region, const char *account, const char *resource);
/* Splits an ARN. Returns 0, or -1 with an InvalidParameterException naming `member`. */
int arn_parse(const char *s, const char *member, struct arn *out, struct err **err);
void arn_release(struct arn *a);
/* True when s looks like an ARN at all ("arn:" prefix). */
bool arn_is(const char *s);

#endif
