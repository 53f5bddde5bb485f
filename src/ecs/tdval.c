/* RegisterTaskDefinition validation: the task-level rules (family, network mode, task size and the
 * Fargate table, volumes, constraints, tags...), the rules that span containers (names, essential
 * containers, links and dependency cycles, host ports, resource sums) and the returned document. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/jv.h"
#include "common/xalloc.h"
#include "ecs/tdval-int.h"

#define AMOUNT_DIGITS_MAX	12	     /* digits before the point in "0.25 vCPU" */
#define FRACTION_DIGITS_MAX	6	     /* digits after it */
#define AMOUNT_MAX		2147483647LL /* the API's integers are 32-bit */
#define EPHEMERAL_MIN_GIB	21
#define EPHEMERAL_MAX_GIB	200
#define CONSTRAINT_EXPR_MAX	2000 /* characters of a cluster query language expression */
#define WINDOWS_FARGATE_CPU_MIN 1024
#define PORT_MAX		65535

/* Units a task size may be written in, case-insensitively; "" is the base unit. */
struct unit {
	const char *name;
	long long factor;
};
static const struct unit cpu_units[] = {{"", 1}, {"vcpu", 1024}, {NULL, 0}};
static const struct unit mem_units[] = {{"", 1},       {"mib", 1},   {"mb", 1},
					{"gib", 1024}, {"gb", 1024}, {NULL, 0}};

/* Parses "<number>[ ]<unit>" into a positive whole number of base units. A bare number must be an
 * integer; with a unit it may have a fraction as long as the result is whole ("0.25 vCPU"). */
static int parse_amount(const char *s, const char *member, const struct unit *units, long long *out,
			struct err **err)
{
	const char *p = s;
	long long whole = 0, frac = 0, scale = 1;
	size_t nwhole = 0, nfrac = 0, ulen;
	const struct unit *u;

	if (!s)
		goto bad;
	while (isspace((unsigned char)*p))
		p++;
	for (; isdigit((unsigned char)*p); p++, nwhole++) {
		if (nwhole >= AMOUNT_DIGITS_MAX)
			goto bad;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, nfrac++) {
			if (nfrac >= FRACTION_DIGITS_MAX)
				goto bad;
			frac = frac * 10 + (*p - '0');
			scale *= 10;
		}
		if (nfrac == 0)
			goto bad;
	}
	if (nwhole + nfrac == 0)
		goto bad;
	while (isspace((unsigned char)*p))
		p++;
	for (ulen = 0; isalpha((unsigned char)p[ulen]); ulen++)
		;
	for (u = units; u->name; u++)
		if (strlen(u->name) == ulen && strncasecmp(p, u->name, ulen) == 0)
			break;
	if (!u->name)
		goto bad;
	p += ulen;
	while (isspace((unsigned char)*p))
		p++;
	if (*p || (ulen == 0 && nfrac > 0))
		goto bad;
	/* whole <= 2^31, scale <= 10^6 and factor <= 1024 keep the product inside 63 bits. */
	if (whole > AMOUNT_MAX)
		goto bad;
	long long scaled = (whole * scale + frac) * u->factor;
	if (scaled % scale != 0 || scaled / scale <= 0 || scaled / scale > AMOUNT_MAX)
		goto bad;
	*out = scaled / scale;
	return 0;
bad:
	return err_set(err, ERR_INVALID_PARAM, "Invalid '%s' setting for task.", member);
}

int tdval_parse_cpu(const char *s, const char *member, long long *out, struct err **err)
{
	return parse_amount(s, member, cpu_units, out, err);
}

int tdval_parse_memory(const char *s, const char *member, long long *out, struct err **err)
{
	return parse_amount(s, member, mem_units, out, err);
}

/* The Fargate task sizes: for each cpu, the memory range and step (all MiB). */
static const struct {
	long long cpu, mem_min, mem_max, step;
} fargate_sizes[] = {
	{256, 512, 512, 512}, /* 512, 1024, 2048 (below) */
	{512, 1024, 4096, 1024},   {1024, 2048, 8192, 1024},   {2048, 4096, 16384, 1024},
	{4096, 8192, 30720, 1024}, {8192, 16384, 61440, 4096}, {16384, 32768, 122880, 8192},
};

bool tdval_fargate_size_ok(long long cpu, long long memory)
{
	if (cpu == 256)
		return memory == 512 || memory == 1024 || memory == 2048;
	for (size_t i = 1; i < sizeof(fargate_sizes) / sizeof(fargate_sizes[0]); i++) {
		if (fargate_sizes[i].cpu == cpu)
			return memory >= fargate_sizes[i].mem_min && memory <= fargate_sizes[i].mem_max &&
			       (memory - fargate_sizes[i].mem_min) % fargate_sizes[i].step == 0;
	}
	return false;
}

/* Characters (UTF-8 code points) in s. */
static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* The tag character class: letters, numbers, spaces and + - = . _ : / @. Non-ASCII characters are
 * let through as letters of other scripts. */
static bool tag_chars_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x80 && !isalnum(*p) && !strchr(" +-=._:/@", *p))
			return false;
	return true;
}

static int check_tags(struct tdval__task *t, struct err **err)
{
	json_t *tags = json_object_get(t->req, "tags"), *tag;
	size_t i;
	if (json_array_size(tags) > TDVAL_TAGS_MAX)
		return err_set(err, ERR_INVALID_PARAM,
			       "Invalid 'tags' setting. A resource can have at most %d tags.",
			       TDVAL_TAGS_MAX);
	json_array_foreach (tags, i, tag) {
		const char *k = tdval__str(tag, "key"), *v = tdval__str(tag, "value");
		size_t kn = k ? utf8_len(k) : 0;
		if (kn < 1 || kn > TDVAL_TAG_KEY_MAX)
			return err_set(
				err, ERR_INVALID_PARAM,
				"Invalid 'tags' setting. Tag keys must be between 1 and %d characters long: "
				"tags[%zu].",
				TDVAL_TAG_KEY_MAX, i);
		if (v && utf8_len(v) > TDVAL_TAG_VALUE_MAX)
			return err_set(
				err, ERR_INVALID_PARAM,
				"Invalid 'tags' setting. The value of tag '%s' must be at most %d characters "
				"long.",
				k, TDVAL_TAG_VALUE_MAX);
		if (!tag_chars_ok(k) || (v && !tag_chars_ok(v)))
			return err_set(err, ERR_INVALID_PARAM,
				       "Invalid 'tags' setting. Tag '%s' may contain only letters, numbers, "
				       "spaces and "
				       "+ - = . _ : / @.",
				       k);
		if (strncasecmp(k, "aws:", 4) == 0)
			return err_set(
				err, ERR_INVALID_PARAM,
				"Invalid 'tags' setting. The aws: prefix is reserved for AWS use: tag '%s'.",
				k);
		for (size_t j = 0; j < i; j++) {
			const char *other = tdval__str(json_array_get(tags, j), "key");
			if (other && strcmp(other, k) == 0)
				return err_set(
					err, ERR_INVALID_PARAM,
					"Invalid 'tags' setting. Tag key '%s' is specified more than once.",
					k);
		}
	}
	return 0;
}

static int check_family(struct tdval__task *t, struct err **err)
{
	const char *family = tdval__str(t->req, "family");
	if (!family || !*family)
		return err_set(err, ERR_CLIENT, "Family should not be null or empty.");
	if (!tdval__name_ok(family, TDVAL_NAME_MAX))
		return err_set(err, ERR_CLIENT,
			       "Invalid family '%s'. Up to %d letters (uppercase and lowercase), numbers, "
			       "underscores, "
			       "and hyphens are allowed.",
			       family, TDVAL_NAME_MAX);
	return 0;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* networkMode, requiresCompatibilities, runtimePlatform, roles. */
static int check_platform(struct tdval__task *t, struct err **err)
{
	json_t *rc = json_object_get(t->req, "requiresCompatibilities"), *v;
	size_t i;
	json_array_foreach (rc, i, v) {
		const char *c = json_string_value(v);
		t->req_ec2 |= strcmp(c, "EC2") == 0;
		t->req_fargate |= strcmp(c, "FARGATE") == 0;
		t->req_external |= strcmp(c, "EXTERNAL") == 0;
		t->req_managed |= strcmp(c, "MANAGED_INSTANCES") == 0;
	}
	/* "If no network mode is specified, the default is bridge." Fargate then refuses it below. */
	t->net = tdval__str(t->req, "networkMode");
	if (!t->net)
		t->net = "bridge";
	/* ECS Anywhere (external instances) runs bridge, host and none tasks only. */
	if (t->req_external && strcmp(t->net, "awsvpc") == 0)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'networkMode' setting. The EXTERNAL compatibility does not support network "
			"mode 'awsvpc'.");
	const char *os = tdval__str(json_object_get(t->req, "runtimePlatform"), "operatingSystemFamily");
	t->windows = os && strncmp(os, "WINDOWS_", 8) == 0;
	t->task_role = nonempty(tdval__str(t->req, "taskRoleArn"));
	t->exec_role = nonempty(tdval__str(t->req, "executionRoleArn"));
	if (strcmp(t->net, "awsvpc") == 0)
		tdval__attr(t, "ecs.capability.task-eni");
	if (t->task_role) {
		tdval__attr(t, "com.amazonaws.ecs.capability.task-iam-role");
		if (strcmp(t->net, "host") == 0)
			tdval__attr(t, "com.amazonaws.ecs.capability.task-iam-role-network-host");
	}
	return 0;
}

static int check_task_size(struct tdval__task *t, struct err **err)
{
	const char *cpu = tdval__str(t->req, "cpu"), *mem = tdval__str(t->req, "memory");
	if (cpu) {
		if (tdval_parse_cpu(cpu, "cpu", &t->cpu, err) < 0)
			return -1;
		/* "Supported values are between 128 CPU units (0.125 vCPUs) and 196608 CPU units (192
		 * vCPUs)." */
		if (t->cpu < TDVAL_EC2_TASK_CPU_MIN || t->cpu > TDVAL_EC2_TASK_CPU_MAX)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'cpu' setting for task. The value must be between %d and %d "
				       "CPU units.",
				       TDVAL_EC2_TASK_CPU_MIN, TDVAL_EC2_TASK_CPU_MAX);
		t->has_cpu = true;
	}
	if (mem) {
		if (tdval_parse_memory(mem, "memory", &t->mem, err) < 0)
			return -1;
		if (t->mem < TDVAL_MIN_CONTAINER_MEM)
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'memory' setting for task. The value must be at least %d MiB.",
				TDVAL_MIN_CONTAINER_MEM);
		t->has_mem = true;
	}
	return 0;
}

static int check_volumes(struct tdval__task *t, struct err **err)
{
	static const char *const types[] = {"host",
					    "dockerVolumeConfiguration",
					    "efsVolumeConfiguration",
					    "s3filesVolumeConfiguration",
					    "fsxWindowsFileServerVolumeConfiguration",
					    NULL};
	json_t *v;
	size_t i, at_launch = 0;
	json_array_foreach (t->volumes, i, v) {
		const char *name = tdval__str(v, "name"), *type = NULL;
		size_t ntypes = 0;
		if (!name || !*name)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'volumes' setting. Volume name should not be null or "
				       "empty.");
		if (!tdval__name_ok(name, TDVAL_NAME_MAX))
			return err_set(err, ERR_CLIENT,
				       "Invalid volume name '%s'. Up to %d letters (uppercase and "
				       "lowercase), numbers, "
				       "underscores, and hyphens are allowed.",
				       name, TDVAL_NAME_MAX);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tdval__str(json_array_get(t->volumes, j), "name"), name) == 0)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'volumes' setting. The volume name '%s' is used more "
					       "than once.",
					       name);
		}
		for (size_t j = 0; types[j]; j++) {
			if (json_object_get(v, types[j])) {
				type = types[j];
				ntypes++;
			}
		}
		if (ntypes > 1)
			return err_set(
				err, ERR_CLIENT,
				"Invalid volume '%s'. Specify only one of host, dockerVolumeConfiguration, "
				"efsVolumeConfiguration, s3filesVolumeConfiguration and "
				"fsxWindowsFileServerVolumeConfiguration.",
				name);
		if (tdval__bool(v, "configuredAtLaunch", false)) {
			/* "Each task definition revision may only have one volume configured at launch." */
			if (++at_launch > 1)
				return err_set(
					err, ERR_CLIENT,
					"Invalid volume '%s'. A task definition can have only one volume "
					"configured at launch.",
					name);
			if (type)
				return err_set(err, ERR_CLIENT,
					       "Invalid volume '%s'. A volume configured at launch cannot "
					       "also have a %s.",
					       name, type);
		} else if (!type) {
			/* A volume with nothing else is a Docker-managed host volume: ECS returns host {}. */
			json_object_set_new(v, "host", json_object());
		}
		json_t *dv = json_object_get(v, "dockerVolumeConfiguration");
		if (dv) {
			const char *scope = tdval__str(dv, "scope"), *driver = tdval__str(dv, "driver");
			/* autoprovision: "This field is only used if the scope is shared." */
			if (tdval__bool(dv, "autoprovision", false) &&
			    (!scope || strcmp(scope, "shared") != 0))
				return err_set(
					err, ERR_CLIENT,
					"Invalid volume '%s'. autoprovision is supported only when scope is "
					"shared.",
					name);
			if (driver && *driver && strcmp(driver, "local") != 0) {
				char *attr = xasprintf("ecs.capability.docker-plugin.%s", driver);
				tdval__attr(t, attr);
				free(attr);
			}
		}
		json_t *efs = json_object_get(v, "efsVolumeConfiguration");
		if (efs) {
			json_t *auth = json_object_get(efs, "authorizationConfig");
			const char *te = tdval__str(efs, "transitEncryption"),
				   *root = tdval__str(efs, "rootDirectory");
			const char *iam = tdval__str(auth, "iam"),
				   *ap = nonempty(tdval__str(auth, "accessPointId"));
			bool encrypted = te && strcmp(te, "ENABLED") == 0;
			long long port = tdval__int(efs, "transitEncryptionPort", 0);
			if (!*tdval__str(efs, "fileSystemId"))
				return err_set(
					err, ERR_CLIENT,
					"Invalid volume '%s'. fileSystemId should not be null or empty.",
					name);
			/* "If enabled, transit encryption must be enabled"; "If an access point is used,
			 * transit encryption must be on ... the root directory must either be omitted or set
			 * to /". */
			if (((iam && strcmp(iam, "ENABLED") == 0) || ap) && !encrypted)
				return err_set(
					err, ERR_CLIENT,
					"Invalid volume '%s'. transitEncryption must be ENABLED when IAM "
					"authorization or an access point is used.",
					name);
			if (ap && root && strcmp(root, "/") != 0)
				return err_set(err, ERR_CLIENT,
					       "Invalid volume '%s'. rootDirectory must be omitted or '/' "
					       "when an access "
					       "point is used.",
					       name);
			if (port < 0 || port > PORT_MAX)
				return err_set(err, ERR_CLIENT,
					       "Invalid volume '%s'. transitEncryptionPort must be between 0 "
					       "and %d.",
					       name, PORT_MAX);
			tdval__attr(t, "ecs.capability.efs");
			if (auth)
				tdval__attr(t, "ecs.capability.efsAuth");
		}
		if (json_object_get(v, "fsxWindowsFileServerVolumeConfiguration"))
			tdval__attr(t, "ecs.capability.fsxWindowsFileServer");
	}
	return 0;
}

static int check_constraints(struct tdval__task *t, struct err **err)
{
	json_t *list = json_object_get(t->req, "placementConstraints"), *pc;
	size_t i;
	/* "You can specify a maximum of 10 constraints for each task." */
	if (json_array_size(list) > TDVAL_CONSTRAINTS_MAX)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'placementConstraints' setting. At most %d placement constraints can be "
			"specified.",
			TDVAL_CONSTRAINTS_MAX);
	json_array_foreach (list, i, pc) {
		const char *type = tdval__str(pc, "type"), *expr = tdval__str(pc, "expression");
		if (!type)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'placementConstraints' setting. The constraint type should "
				       "not be null "
				       "or empty.");
		if (!expr || !*expr)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'placementConstraints' setting. An expression is required "
				       "for the %s "
				       "constraint.",
				       type);
		if (strlen(expr) > CONSTRAINT_EXPR_MAX)
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'placementConstraints' setting. The expression must be at most %d "
				"characters long.",
				CONSTRAINT_EXPR_MAX);
	}
	return 0;
}

/* pidMode, ipcMode, ephemeralStorage, inferenceAccelerators, proxyConfiguration. */
static int check_task_misc(struct tdval__task *t, struct err **err)
{
	json_t *es = json_object_get(t->req, "ephemeralStorage"), *list, *v;
	json_t *proxy = json_object_get(t->req, "proxyConfiguration");
	size_t i;
	if (es) {
		long long gib = tdval__int(es, "sizeInGiB", 0);
		if (gib < EPHEMERAL_MIN_GIB || gib > EPHEMERAL_MAX_GIB)
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'ephemeralStorage.sizeInGiB' setting for task. The value must be "
				"between %d and %d GiB.",
				EPHEMERAL_MIN_GIB, EPHEMERAL_MAX_GIB);
	}
	list = json_object_get(t->req, "inferenceAccelerators");
	json_array_foreach (list, i, v) {
		const char *dn = tdval__str(v, "deviceName");
		if (!*dn || !*tdval__str(v, "deviceType"))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'inferenceAccelerators' setting. deviceName and deviceType "
				       "should not "
				       "be null or empty.");
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tdval__str(json_array_get(list, j), "deviceName"), dn) == 0)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'inferenceAccelerators' setting. The device name "
					       "'%s' is used "
					       "more than once.",
					       dn);
		}
		tdval__attr(t, "ecs.capability.task-eia");
	}
	if (proxy) {
		const char *cn = tdval__str(proxy, "containerName");
		if (!tdval__container_named(t, cn))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'proxyConfiguration' setting. The proxy container '%s' is "
				       "not defined "
				       "in the task definition.",
				       cn);
		/* The App Mesh proxy redirects the task's traffic inside its own network namespace. */
		if (strcmp(t->net, "awsvpc") != 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'proxyConfiguration' setting. A proxy configuration requires "
				       "networkMode=awsvpc.");
		json_array_foreach (json_object_get(proxy, "properties"), i, v) {
			const char *n = tdval__str(v, "name");
			if (!n || !*n)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'proxyConfiguration' setting. Property names should "
					       "not be null "
					       "or empty.");
		}
		tdval__attr(t, "ecs.capability.aws-appmesh");
	}
	if (json_object_get(t->req, "pidMode") || json_object_get(t->req, "ipcMode"))
		tdval__attr(t, "ecs.capability.pid-ipc-namespace-sharing");
	return 0;
}

/* Depth-first search for a cycle through u. stack holds the path from the root; on a cycle, cyc
 * gets its nodes with the first one repeated at the end. */
static bool dfs(size_t u, size_t n, bool adj[][TDVAL_CONTAINERS_MAX], int *color, size_t *stack, size_t depth,
		size_t *cyc, size_t *len)
{
	color[u] = 1;
	stack[depth] = u;
	for (size_t v = 0; v < n; v++) {
		if (!adj[u][v])
			continue;
		if (color[v] == 1) {
			size_t k = 0;
			while (stack[k] != v)
				k++;
			*len = 0;
			for (size_t j = k; j <= depth; j++)
				cyc[(*len)++] = stack[j];
			cyc[(*len)++] = v;
			return true;
		}
		if (color[v] == 0 && dfs(v, n, adj, color, stack, depth + 1, cyc, len))
			return true;
	}
	color[u] = 2;
	return false;
}

/* Builds the graph "container -> the containers named by list[].key (or by the list of strings,
 * up to a ':')" and fails with `what` and the cycle when it has one. */
static int check_cycle(struct tdval__task *t, const char *list, const char *key, const char *what,
		       struct err **err)
{
	bool adj[TDVAL_CONTAINERS_MAX][TDVAL_CONTAINERS_MAX] = {{false}};
	int color[TDVAL_CONTAINERS_MAX] = {0};
	size_t stack[TDVAL_CONTAINERS_MAX], cyc[TDVAL_CONTAINERS_MAX + 1], len = 0;
	size_t n = json_array_size(t->containers), i, j, k;
	json_t *c, *e;

	json_array_foreach (t->containers, i, c) {
		json_array_foreach (json_object_get(c, list), j, e) {
			const char *target = key ? tdval__str(e, key) : json_string_value(e);
			if (!target)
				continue;
			size_t tlen = key ? strlen(target) : strcspn(target, ":");
			for (k = 0; k < n; k++) {
				const char *name = tdval__str(json_array_get(t->containers, k), "name");
				if (strlen(name) == tlen && strncmp(name, target, tlen) == 0)
					adj[i][k] = true;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (color[i] == 0 && dfs(i, n, adj, color, stack, 0, cyc, &len)) {
			struct buf b = BUF_INIT;
			for (j = 0; j < len; j++)
				buf_addf(&b, "%s%s", j ? " -> " : "",
					 tdval__str(json_array_get(t->containers, cyc[j]), "name"));
			err_set(err, ERR_CLIENT, "%s should not have a cycle: %s", what, b.p);
			buf_release(&b);
			return -1;
		}
	}
	return 0;
}

/* Host-side port intervals of a mapping: bridge binds hostPort when it is not 0 (ranges are
 * dynamic); awsvpc and host bind the container ports themselves. Returns false when none. */
static bool host_ports(struct tdval__task *t, json_t *pm, long long *lo, long long *hi)
{
	const char *range = tdval__str(pm, "containerPortRange");
	bool bridge = strcmp(t->net, "bridge") == 0;
	if (range) {
		char *end;
		if (bridge)
			return false;
		*lo = strtoll(range, &end, 10);
		*hi = strtoll(end + 1, NULL, 10);
		return true;
	}
	*lo = *hi = tdval__int(pm, "hostPort", 0);
	return *lo > 0;
}

static int check_task_ports(struct tdval__task *t, struct err **err)
{
	size_t i, j, a, b;
	json_t *c, *pm, *c2, *pm2;
	json_array_foreach (t->containers, i, c) {
		json_array_foreach (json_object_get(c, "portMappings"), j, pm) {
			long long lo, hi, lo2, hi2;
			const char *name = tdval__str(pm, "name");
			bool binds = host_ports(t, pm, &lo, &hi);
			/* Compare with every mapping before this one in the task. */
			json_array_foreach (t->containers, a, c2) {
				if (a > i)
					break;
				json_array_foreach (json_object_get(c2, "portMappings"), b, pm2) {
					if (a == i && b >= j)
						break;
					const char *name2 = tdval__str(pm2, "name");
					if (name && name2 && strcmp(name, name2) == 0)
						return err_set(err, ERR_CLIENT,
							       "Invalid 'portMappings' setting for container "
							       "'%s'. The "
							       "port mapping name '%s' is used more than "
							       "once in the task "
							       "definition.",
							       tdval__str(c, "name"), name);
					if (binds && host_ports(t, pm2, &lo2, &hi2) &&
					    strcmp(tdval__str(pm, "protocol"), tdval__str(pm2, "protocol")) ==
						    0 &&
					    lo <= hi2 && lo2 <= hi)
						return err_set(err, ERR_CLIENT,
							       "Invalid 'portMappings' setting for container "
							       "'%s'. Host "
							       "port %lld/%s is used by more than one port "
							       "mapping in the "
							       "task definition (containers '%s' and '%s').",
							       tdval__str(c, "name"), lo > lo2 ? lo : lo2,
							       tdval__str(pm, "protocol"),
							       tdval__str(c2, "name"), tdval__str(c, "name"));
				}
			}
		}
	}
	return 0;
}

/* Container resources against the task's: "The total amount of memory reserved for all containers
 * within a task must be lower than the task memory value", and the same for cpu. */
static int check_sums(struct tdval__task *t, struct err **err)
{
	long long cpu = 0, mem = 0;
	size_t i;
	json_t *c;
	json_array_foreach (t->containers, i, c) {
		long long hard = tdval__int(c, "memory", 0), res = tdval__int(c, "memoryReservation", hard);
		cpu += tdval__int(c, "cpu", 0);
		mem += res;
		if (t->has_mem && hard > t->mem)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'memory' setting for container '%s'. The container memory "
				       "(%lld MiB) "
				       "exceeds the task memory (%lld MiB).",
				       tdval__str(c, "name"), hard, t->mem);
	}
	if (t->has_mem && mem > t->mem)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'memory' setting for task. The containers reserve %lld MiB in total, "
			       "more than "
			       "the task memory (%lld MiB).",
			       mem, t->mem);
	if (t->has_cpu && cpu > t->cpu)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'cpu' setting for task. The containers reserve %lld CPU units in "
			       "total, more "
			       "than the task cpu (%lld).",
			       cpu, t->cpu);
	return 0;
}

static int check_containers(struct tdval__task *t, struct err **err)
{
	size_t i, essential = 0, firelens = 0;
	json_t *c;

	if (!t->containers || json_array_size(t->containers) == 0)
		return err_set(err, ERR_CLIENT, "Container list cannot be empty.");
	if (json_array_size(t->containers) > TDVAL_CONTAINERS_MAX)
		return err_set(
			err, ERR_CLIENT,
			"Too many containers. A task definition can have at most %d container definitions.",
			TDVAL_CONTAINERS_MAX);
	json_array_foreach (t->containers, i, c) {
		const char *name = tdval__str(c, "name");
		if (!name || !*name)
			return err_set(err, ERR_CLIENT, "Container.name should not be null or empty.");
		if (!tdval__name_ok(name, TDVAL_NAME_MAX))
			return err_set(
				err, ERR_CLIENT,
				"Invalid container name '%s'. Up to %d letters (uppercase and lowercase), "
				"numbers, underscores, and hyphens are allowed.",
				name, TDVAL_NAME_MAX);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tdval__str(json_array_get(t->containers, j), "name"), name) == 0)
				return err_set(err, ERR_CLIENT,
					       "Duplicate container name '%s'. Container names must be "
					       "unique within a "
					       "task definition.",
					       name);
		}
	}
	json_array_foreach (t->containers, i, c) {
		if (tdval__container(t, c, err) < 0)
			return -1;
		essential += tdval__bool(c, "essential", true);
		firelens += json_object_get(c, "firelensConfiguration") != NULL;
	}
	/* "All tasks must have at least one essential container." */
	if (essential == 0)
		return err_set(err, ERR_CLIENT,
			       "A task definition must have at least one essential container.");
	if (firelens > 1)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'firelensConfiguration' setting. Only one container in a task "
			       "definition can "
			       "be the log router.");
	if (check_cycle(t, "links", NULL, "Container links", err) < 0 ||
	    check_cycle(t, "volumesFrom", "sourceContainer", "Container volumesFrom", err) < 0 ||
	    check_cycle(t, "dependsOn", "containerName", "Container dependencies", err) < 0)
		return -1;
	return check_task_ports(t, err) < 0 || check_sums(t, err) < 0 ? -1 : 0;
}

/* The first reason the task cannot run on Fargate (a new string), or NULL. */
static char *fargate_problem(struct tdval__task *t)
{
	json_t *v;
	size_t i;
	const char *pid = tdval__str(t->req, "pidMode");

	if (strcmp(t->net, "awsvpc") != 0)
		return xstrdup("Fargate only supports network mode 'awsvpc'.");
	if (!t->has_cpu)
		return xstrdup("Fargate requires that 'cpu' be defined at the task level.");
	if (!t->has_mem)
		return xstrdup("Fargate requires that 'memory' be defined at the task level.");
	if (!tdval_fargate_size_ok(t->cpu, t->mem))
		return xasprintf(
			"No Fargate configuration exists for given values: %lld CPU, %lld memory. See the "
			"Amazon ECS documentation for the valid values.",
			t->cpu, t->mem);
	/* "The CPU units cannot be less than 1 vCPU when you use Windows containers on Fargate." */
	if (t->windows && t->cpu < WINDOWS_FARGATE_CPU_MIN)
		return xstrdup("Invalid 'cpu' setting for task. Windows containers on Fargate need at least "
			       "1 vCPU.");
	if (pid && strcmp(pid, "host") == 0)
		return xstrdup("Invalid 'pidMode' setting. Fargate supports only pidMode 'task'.");
	if (json_object_get(t->req, "ipcMode"))
		return xstrdup("Invalid 'ipcMode' setting. Fargate does not support ipcMode.");
	if (json_array_size(json_object_get(t->req, "placementConstraints")) > 0)
		return xstrdup(
			"Invalid 'placementConstraints' setting. Fargate does not support task placement "
			"constraints.");
	if (json_array_size(json_object_get(t->req, "inferenceAccelerators")) > 0)
		return xstrdup("Invalid 'inferenceAccelerators' setting. Fargate does not support inference "
			       "accelerators.");
	json_array_foreach (t->volumes, i, v) {
		if (tdval__str(json_object_get(v, "host"), "sourcePath"))
			return xasprintf("Invalid volume '%s'. Fargate does not support the host sourcePath "
					 "parameter.",
					 tdval__str(v, "name"));
		if (json_object_get(v, "dockerVolumeConfiguration"))
			return xasprintf("Invalid volume '%s'. Fargate does not support Docker volumes.",
					 tdval__str(v, "name"));
	}
	json_array_foreach (t->containers, i, v) {
		char *why = tdval__container_fargate_problem(t, v);
		if (why)
			return why;
	}
	return NULL;
}

/* The taskDefinition document, in DescribeTaskDefinition's member order. */
static json_t *build(struct tdval__task *t, bool fargate_ok)
{
	static const char *const tail[] = {
		"inferenceAccelerators", "pidMode", "ipcMode", "proxyConfiguration", "ephemeralStorage",
		"enableFaultInjection",	 NULL};
	json_t *td = json_object(), *compat = json_array();

	json_object_set(td, "containerDefinitions", t->containers);
	json_object_set(td, "family", json_object_get(t->req, "family"));
	jv_set_str(td, "taskRoleArn", t->task_role);
	jv_set_str(td, "executionRoleArn", t->exec_role);
	json_object_set_new(td, "networkMode", json_string(t->net));
	json_object_set(td, "volumes", t->volumes);
	if (json_array_size(t->attrs) > 0)
		json_object_set(td, "requiresAttributes", t->attrs);
	json_object_set(td, "placementConstraints", json_object_get(t->req, "placementConstraints"));
	/* Every definition runs on EC2; ECS Anywhere has no awsvpc; Fargate needs what its checks ask. */
	if (strcmp(t->net, "awsvpc") != 0)
		json_array_append_new(compat, json_string("EXTERNAL"));
	json_array_append_new(compat, json_string("EC2"));
	if (fargate_ok)
		json_array_append_new(compat, json_string("FARGATE"));
	if (t->req_managed)
		json_array_append_new(compat, json_string("MANAGED_INSTANCES"));
	json_object_set_new(td, "compatibilities", compat);
	if (json_object_get(t->req, "runtimePlatform"))
		json_object_set(td, "runtimePlatform", json_object_get(t->req, "runtimePlatform"));
	if (json_object_get(t->req, "requiresCompatibilities"))
		json_object_set(td, "requiresCompatibilities",
				json_object_get(t->req, "requiresCompatibilities"));
	if (t->has_cpu)
		json_object_set_new(td, "cpu", json_sprintf("%lld", t->cpu));
	if (t->has_mem)
		json_object_set_new(td, "memory", json_sprintf("%lld", t->mem));
	for (size_t i = 0; tail[i]; i++)
		if (json_object_get(t->req, tail[i]))
			json_object_set(td, tail[i], json_object_get(t->req, tail[i]));
	return td;
}

/* Bytes of the JSON string s (n bytes of valid UTF-8) once jv_dump has quoted and escaped it:
 * jansson escapes '"', '\\' and the control characters, the usual ones in two bytes and the others
 * as \u00XX, and passes everything else through. */
static size_t string_size(const char *s, size_t n)
{
	size_t size = n + 2;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
			size += 1;
		else if (c < 0x20)
			size += 5;
	}
	return size;
}

static size_t integer_size(json_int_t v)
{
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	size_t size = v < 0 ? 2 : 1;
	while (u >= 10) {
		u /= 10;
		size++;
	}
	return size;
}

size_t tdval__json_size(const json_t *j, size_t limit)
{
	size_t size = 0, i;
	const char *k;
	json_t *v;
	char *text;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		size = json_object_size(j) ? 1 + 2 * json_object_size(j) : 2; /* braces, commas, colons */
		json_object_foreach ((json_t *)j, k, v) {
			size += string_size(k, strlen(k)) + tdval__json_size(v, limit);
			if (size > limit)
				return size;
		}
		return size;
	case JSON_ARRAY:
		size = json_array_size(j) ? 1 + json_array_size(j) : 2; /* brackets and commas */
		json_array_foreach (j, i, v) {
			size += tdval__json_size(v, limit);
			if (size > limit)
				return size;
		}
		return size;
	case JSON_STRING: return string_size(json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return integer_size(json_integer_value(j));
	case JSON_REAL:
		/* Rare in a request; let jansson print it with jv_dump's precision. */
		text = jv_dump(j);
		size = text ? strlen(text) : 0;
		free(text);
		return size;
	case JSON_TRUE: return 4;
	case JSON_FALSE: return 5;
	case JSON_NULL: return 4;
	}
	return 0;
}

json_t *tdval_register(json_t *request, struct err **err)
{
	struct tdval__task t = {0};
	struct tdval__path path = {0};
	json_t *td = NULL;
	char *text = NULL, *why = NULL;

	t.attrs = json_array();
	if (!json_is_object(request)) {
		err_set(err, ERR_INVALID_PARAM, "The request must be a JSON object.");
		goto out;
	}
	/* Counting the serialized size instead of serializing keeps the common case cheap; a request
	 * over the limit is serialized for the exact length the message quotes. */
	if (tdval__json_size(request, TDVAL_SIZE_MAX) > TDVAL_SIZE_MAX) {
		text = jv_dump(request);
		if (!text) {
			err_set(err, ERR_INVALID_PARAM, "The request cannot be serialized.");
			goto out;
		}
		err_set(err, ERR_CLIENT, "Actual length: '%zu'. Max allowed length is '%d' bytes.",
			strlen(text), TDVAL_SIZE_MAX);
		goto out;
	}
	if (tdval__copy(request, tdval__request_shape, &path, &t.req, err) < 0)
		goto out;
	t.containers = json_object_get(t.req, "containerDefinitions");
	t.volumes = json_object_get(t.req, "volumes");
	if (check_family(&t, err) < 0 || check_platform(&t, err) < 0 || check_task_size(&t, err) < 0 ||
	    check_volumes(&t, err) < 0 || check_containers(&t, err) < 0 || check_constraints(&t, err) < 0 ||
	    check_task_misc(&t, err) < 0)
		goto out;
	why = fargate_problem(&t);
	/* "A client exception is returned if the task definition doesn't validate against the
	 * compatibilities specified." */
	if (t.req_fargate && why) {
		err_set(err, ERR_CLIENT, "%s", why);
		goto out;
	}
	if (check_tags(&t, err) < 0)
		goto out;
	td = build(&t, why == NULL);
out:
	free(why);
	free(text);
	json_decref(t.attrs);
	json_decref(t.req);
	return td;
}
