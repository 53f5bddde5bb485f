/* The RegisterTaskDefinition request shapes, from the ECS API model (service-2.json), and the copy
 * that checks a request's JSON types against them while keeping only the members ECS knows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "common/jv.h"
#include "ecs/tdval-int.h"

#define END                  \
	{                    \
		.name = NULL \
	}

/* Enumerations of the API model. */
static const char *const net_modes[] = {"bridge", "host", "awsvpc", "none", NULL};
static const char *const compats[] = {"EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES", NULL};
static const char *const pid_modes[] = {"host", "task", NULL};
static const char *const ipc_modes[] = {"host", "task", "none", NULL};
static const char *const protocols[] = {"tcp", "udp", NULL};
static const char *const app_protocols[] = {"http", "http2", "grpc", NULL};
static const char *const conditions[] = {"START", "COMPLETE", "SUCCESS", "HEALTHY", NULL};
static const char *const ulimit_names[] = {"core",     "cpu",	     "data",   "fsize", "locks", "memlock",
					   "msgqueue", "nice",	     "nofile", "nproc", "rss",	 "rtprio",
					   "rttime",   "sigpending", "stack",  NULL};
static const char *const log_drivers[] = {"json-file", "syslog", "journald",	"gelf", "fluentd",
					  "awslogs",   "splunk", "awsfirelens", NULL};
static const char *const env_file_types[] = {"s3", NULL};
static const char *const device_perms[] = {"read", "write", "mknod", NULL};
static const char *const scopes[] = {"task", "shared", NULL};
static const char *const enabled_disabled[] = {"ENABLED", "DISABLED", NULL};
static const char *const constraint_types[] = {"memberOf", NULL};
static const char *const proxy_types[] = {"APPMESH", NULL};
static const char *const resource_types[] = {"GPU", "InferenceAccelerator", NULL};
static const char *const firelens_types[] = {"fluentd", "fluentbit", NULL};
static const char *const version_consistency[] = {"enabled", "disabled", NULL};
static const char *const cpu_archs[] = {"X86_64", "ARM64", NULL};
static const char *const os_families[] = {"WINDOWS_SERVER_2019_FULL",
					  "WINDOWS_SERVER_2019_CORE",
					  "WINDOWS_SERVER_2016_FULL",
					  "WINDOWS_SERVER_2004_CORE",
					  "WINDOWS_SERVER_2022_CORE",
					  "WINDOWS_SERVER_2022_FULL",
					  "WINDOWS_SERVER_2025_CORE",
					  "WINDOWS_SERVER_2025_FULL",
					  "WINDOWS_SERVER_20H2_CORE",
					  "LINUX",
					  NULL};

/* Shapes, leaves first. */
static const struct tdval__member key_value[] = {
	{.name = "name", .kind = TDVAL__STR},
	{.name = "value", .kind = TDVAL__STR},
	END,
};
static const struct tdval__member secret[] = {
	{.name = "name", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "valueFrom", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	END,
};
static const struct tdval__member repository_credentials[] = {
	{.name = "credentialsParameter", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	END,
};
static const struct tdval__member port_mapping[] = {
	{.name = "containerPort", .kind = TDVAL__INT},
	{.name = "hostPort", .kind = TDVAL__INT},
	{.name = "protocol", .kind = TDVAL__STR, .flags = TDVAL__DEFAULT, .enums = protocols, .dstr = "tcp"},
	{.name = "name", .kind = TDVAL__STR},
	{.name = "appProtocol", .kind = TDVAL__STR, .enums = app_protocols},
	{.name = "containerPortRange", .kind = TDVAL__STR},
	END,
};
static const struct tdval__member restart_policy[] = {
	{.name = "enabled", .kind = TDVAL__BOOL, .flags = TDVAL__REQUIRED},
	{.name = "ignoredExitCodes", .kind = TDVAL__INTLIST},
	{.name = "restartAttemptPeriod", .kind = TDVAL__INT},
	END,
};
static const struct tdval__member environment_file[] = {
	{.name = "value", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "type", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED, .enums = env_file_types},
	END,
};
static const struct tdval__member mount_point[] = {
	{.name = "sourceVolume", .kind = TDVAL__STR},
	{.name = "containerPath", .kind = TDVAL__STR},
	{.name = "readOnly", .kind = TDVAL__BOOL},
	END,
};
static const struct tdval__member volume_from[] = {
	{.name = "sourceContainer", .kind = TDVAL__STR},
	{.name = "readOnly", .kind = TDVAL__BOOL},
	END,
};
static const struct tdval__member kernel_capabilities[] = {
	{.name = "add", .kind = TDVAL__STRLIST},
	{.name = "drop", .kind = TDVAL__STRLIST},
	END,
};
static const struct tdval__member device[] = {
	{.name = "hostPath", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "containerPath", .kind = TDVAL__STR},
	{.name = "permissions", .kind = TDVAL__STRLIST, .enums = device_perms},
	END,
};
static const struct tdval__member tmpfs[] = {
	{.name = "containerPath", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "size", .kind = TDVAL__INT, .flags = TDVAL__REQUIRED},
	{.name = "mountOptions", .kind = TDVAL__STRLIST},
	END,
};
static const struct tdval__member linux_parameters[] = {
	{.name = "capabilities", .kind = TDVAL__STRUCT, .sub = kernel_capabilities},
	{.name = "devices", .kind = TDVAL__LIST, .sub = device},
	{.name = "initProcessEnabled", .kind = TDVAL__BOOL},
	{.name = "sharedMemorySize", .kind = TDVAL__INT},
	{.name = "tmpfs", .kind = TDVAL__LIST, .sub = tmpfs},
	{.name = "maxSwap", .kind = TDVAL__INT},
	{.name = "swappiness", .kind = TDVAL__INT},
	END,
};
static const struct tdval__member container_dependency[] = {
	{.name = "containerName", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "condition", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED, .enums = conditions},
	END,
};
static const struct tdval__member host_entry[] = {
	{.name = "hostname", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "ipAddress", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	END,
};
static const struct tdval__member ulimit[] = {
	{.name = "name", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED, .enums = ulimit_names},
	{.name = "softLimit", .kind = TDVAL__INT, .flags = TDVAL__REQUIRED},
	{.name = "hardLimit", .kind = TDVAL__INT, .flags = TDVAL__REQUIRED},
	END,
};
/* ECS returns an empty secretOptions list with every log configuration. */
static const struct tdval__member log_configuration[] = {
	{.name = "logDriver", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED, .enums = log_drivers},
	{.name = "options", .kind = TDVAL__STRMAP},
	{.name = "secretOptions", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = secret},
	END,
};
/* Defaults per the HealthCheck shape: interval 30, timeout 5, retries 3. startPeriod is "off" by
 * default and ECS leaves it out of the document when it was not given. */
static const struct tdval__member health_check[] = {
	{.name = "command", .kind = TDVAL__STRLIST, .flags = TDVAL__REQUIRED},
	{.name = "interval", .kind = TDVAL__INT, .flags = TDVAL__DEFAULT, .dint = 30},
	{.name = "timeout", .kind = TDVAL__INT, .flags = TDVAL__DEFAULT, .dint = 5},
	{.name = "retries", .kind = TDVAL__INT, .flags = TDVAL__DEFAULT, .dint = 3},
	{.name = "startPeriod", .kind = TDVAL__INT},
	END,
};
static const struct tdval__member system_control[] = {
	{.name = "namespace", .kind = TDVAL__STR},
	{.name = "value", .kind = TDVAL__STR},
	END,
};
static const struct tdval__member resource_requirement[] = {
	{.name = "value", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "type", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED, .enums = resource_types},
	END,
};
static const struct tdval__member firelens_configuration[] = {
	{.name = "type", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED, .enums = firelens_types},
	{.name = "options", .kind = TDVAL__STRMAP},
	END,
};

/* ContainerDefinition, with the defaults ECS fills in: cpu 0, essential true, empty portMappings,
 * environment, mountPoints, volumesFrom and systemControls. */
const struct tdval__member tdval__container_shape[] = {
	{.name = "name", .kind = TDVAL__STR},
	{.name = "image", .kind = TDVAL__STR},
	{.name = "repositoryCredentials", .kind = TDVAL__STRUCT, .sub = repository_credentials},
	{.name = "cpu", .kind = TDVAL__INT, .flags = TDVAL__DEFAULT},
	{.name = "memory", .kind = TDVAL__INT},
	{.name = "memoryReservation", .kind = TDVAL__INT},
	{.name = "links", .kind = TDVAL__STRLIST},
	{.name = "portMappings", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = port_mapping},
	{.name = "essential", .kind = TDVAL__BOOL, .flags = TDVAL__DEFAULT, .dint = 1},
	{.name = "restartPolicy", .kind = TDVAL__STRUCT, .sub = restart_policy},
	{.name = "entryPoint", .kind = TDVAL__STRLIST},
	{.name = "command", .kind = TDVAL__STRLIST},
	{.name = "environment", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = key_value},
	{.name = "environmentFiles", .kind = TDVAL__LIST, .sub = environment_file},
	{.name = "mountPoints", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = mount_point},
	{.name = "volumesFrom", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = volume_from},
	{.name = "linuxParameters", .kind = TDVAL__STRUCT, .sub = linux_parameters},
	{.name = "secrets", .kind = TDVAL__LIST, .sub = secret},
	{.name = "dependsOn", .kind = TDVAL__LIST, .sub = container_dependency},
	{.name = "startTimeout", .kind = TDVAL__INT},
	{.name = "stopTimeout", .kind = TDVAL__INT},
	{.name = "versionConsistency", .kind = TDVAL__STR, .enums = version_consistency},
	{.name = "hostname", .kind = TDVAL__STR},
	{.name = "user", .kind = TDVAL__STR},
	{.name = "workingDirectory", .kind = TDVAL__STR},
	{.name = "disableNetworking", .kind = TDVAL__BOOL},
	{.name = "privileged", .kind = TDVAL__BOOL},
	{.name = "readonlyRootFilesystem", .kind = TDVAL__BOOL},
	{.name = "dnsServers", .kind = TDVAL__STRLIST},
	{.name = "dnsSearchDomains", .kind = TDVAL__STRLIST},
	{.name = "extraHosts", .kind = TDVAL__LIST, .sub = host_entry},
	{.name = "dockerSecurityOptions", .kind = TDVAL__STRLIST},
	{.name = "interactive", .kind = TDVAL__BOOL},
	{.name = "pseudoTerminal", .kind = TDVAL__BOOL},
	{.name = "dockerLabels", .kind = TDVAL__STRMAP},
	{.name = "ulimits", .kind = TDVAL__LIST, .sub = ulimit},
	{.name = "logConfiguration", .kind = TDVAL__STRUCT, .sub = log_configuration},
	{.name = "healthCheck", .kind = TDVAL__STRUCT, .sub = health_check},
	{.name = "systemControls", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = system_control},
	{.name = "resourceRequirements", .kind = TDVAL__LIST, .sub = resource_requirement},
	{.name = "firelensConfiguration", .kind = TDVAL__STRUCT, .sub = firelens_configuration},
	{.name = "credentialSpecs", .kind = TDVAL__STRLIST},
	END,
};

static const struct tdval__member host_volume[] = {
	{.name = "sourcePath", .kind = TDVAL__STR},
	END,
};
static const struct tdval__member docker_volume[] = {
	{.name = "scope", .kind = TDVAL__STR, .enums = scopes},
	{.name = "autoprovision", .kind = TDVAL__BOOL},
	{.name = "driver", .kind = TDVAL__STR},
	{.name = "driverOpts", .kind = TDVAL__STRMAP},
	{.name = "labels", .kind = TDVAL__STRMAP},
	END,
};
static const struct tdval__member efs_authorization[] = {
	{.name = "accessPointId", .kind = TDVAL__STR},
	{.name = "iam", .kind = TDVAL__STR, .enums = enabled_disabled},
	END,
};
static const struct tdval__member efs_volume[] = {
	{.name = "fileSystemId", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "rootDirectory", .kind = TDVAL__STR},
	{.name = "transitEncryption", .kind = TDVAL__STR, .enums = enabled_disabled},
	{.name = "transitEncryptionPort", .kind = TDVAL__INT},
	{.name = "authorizationConfig", .kind = TDVAL__STRUCT, .sub = efs_authorization},
	END,
};
static const struct tdval__member s3files_volume[] = {
	{.name = "fileSystemArn", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "rootDirectory", .kind = TDVAL__STR},
	{.name = "transitEncryptionPort", .kind = TDVAL__INT},
	{.name = "accessPointArn", .kind = TDVAL__STR},
	END,
};
static const struct tdval__member fsx_authorization[] = {
	{.name = "credentialsParameter", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "domain", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	END,
};
static const struct tdval__member fsx_volume[] = {
	{.name = "fileSystemId", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "rootDirectory", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "authorizationConfig",
	 .kind = TDVAL__STRUCT,
	 .flags = TDVAL__REQUIRED,
	 .sub = fsx_authorization},
	END,
};
static const struct tdval__member volume[] = {
	{.name = "name", .kind = TDVAL__STR},
	{.name = "host", .kind = TDVAL__STRUCT, .sub = host_volume},
	{.name = "dockerVolumeConfiguration", .kind = TDVAL__STRUCT, .sub = docker_volume},
	{.name = "efsVolumeConfiguration", .kind = TDVAL__STRUCT, .sub = efs_volume},
	{.name = "s3filesVolumeConfiguration", .kind = TDVAL__STRUCT, .sub = s3files_volume},
	{.name = "fsxWindowsFileServerVolumeConfiguration", .kind = TDVAL__STRUCT, .sub = fsx_volume},
	{.name = "configuredAtLaunch", .kind = TDVAL__BOOL},
	END,
};
static const struct tdval__member placement_constraint[] = {
	{.name = "type", .kind = TDVAL__STR, .enums = constraint_types},
	{.name = "expression", .kind = TDVAL__STR},
	END,
};
static const struct tdval__member tag[] = {
	{.name = "key", .kind = TDVAL__STR},
	{.name = "value", .kind = TDVAL__STR},
	END,
};
/* ECS returns the proxy type, APPMESH (the only one), even when it was not given. */
static const struct tdval__member proxy_configuration[] = {
	{.name = "type",
	 .kind = TDVAL__STR,
	 .flags = TDVAL__DEFAULT,
	 .enums = proxy_types,
	 .dstr = "APPMESH"},
	{.name = "containerName", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "properties", .kind = TDVAL__LIST, .sub = key_value},
	END,
};
static const struct tdval__member inference_accelerator[] = {
	{.name = "deviceName", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	{.name = "deviceType", .kind = TDVAL__STR, .flags = TDVAL__REQUIRED},
	END,
};
static const struct tdval__member ephemeral_storage[] = {
	{.name = "sizeInGiB", .kind = TDVAL__INT, .flags = TDVAL__REQUIRED},
	END,
};
static const struct tdval__member runtime_platform[] = {
	{.name = "cpuArchitecture", .kind = TDVAL__STR, .enums = cpu_archs},
	{.name = "operatingSystemFamily", .kind = TDVAL__STR, .enums = os_families},
	END,
};

/* RegisterTaskDefinitionRequest. family and containerDefinitions are required, but ECS reports
 * their absence with its own ClientException messages, so tdval.c checks them. */
const struct tdval__member tdval__request_shape[] = {
	{.name = "family", .kind = TDVAL__STR},
	{.name = "taskRoleArn", .kind = TDVAL__STR},
	{.name = "executionRoleArn", .kind = TDVAL__STR},
	{.name = "networkMode", .kind = TDVAL__STR, .enums = net_modes},
	{.name = "containerDefinitions", .kind = TDVAL__LIST, .sub = tdval__container_shape},
	{.name = "volumes", .kind = TDVAL__LIST, .flags = TDVAL__DEFAULT, .sub = volume},
	{.name = "placementConstraints",
	 .kind = TDVAL__LIST,
	 .flags = TDVAL__DEFAULT,
	 .sub = placement_constraint},
	{.name = "requiresCompatibilities", .kind = TDVAL__STRLIST, .enums = compats},
	{.name = "cpu", .kind = TDVAL__STR},
	{.name = "memory", .kind = TDVAL__STR},
	{.name = "tags", .kind = TDVAL__LIST, .sub = tag},
	{.name = "pidMode", .kind = TDVAL__STR, .enums = pid_modes},
	{.name = "ipcMode", .kind = TDVAL__STR, .enums = ipc_modes},
	{.name = "proxyConfiguration", .kind = TDVAL__STRUCT, .sub = proxy_configuration},
	{.name = "inferenceAccelerators", .kind = TDVAL__LIST, .sub = inference_accelerator},
	{.name = "ephemeralStorage", .kind = TDVAL__STRUCT, .sub = ephemeral_storage},
	{.name = "runtimePlatform", .kind = TDVAL__STRUCT, .sub = runtime_platform},
	{.name = "enableFaultInjection", .kind = TDVAL__BOOL},
	END,
};

bool tdval__one_of(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(s, *values) == 0)
			return true;
	return false;
}

void tdval__list_values(struct buf *b, const char *const *values)
{
	for (size_t i = 0; values[i]; i++)
		buf_addf(b, "%s%s", i ? ", " : "", values[i]);
}

/* Path helpers. The path only decorates errors, so pushing a member or an index records a frame and
 * the text is formatted only when an error is raised. */
static void path_key(struct tdval__path *path, const char *key)
{
	if (path->n >= TDVAL__PATH_DEPTH)
		abort(); /* a shape nested deeper than TDVAL__PATH_DEPTH: a bug in the shapes */
	path->f[path->n].key = key;
	path->f[path->n].index = 0;
	path->n++;
}

static void path_index(struct tdval__path *path, size_t i)
{
	if (path->n >= TDVAL__PATH_DEPTH)
		abort(); /* a shape nested deeper than TDVAL__PATH_DEPTH: a bug in the shapes */
	path->f[path->n].key = NULL;
	path->f[path->n].index = i;
	path->n++;
}

static void path_pop(struct tdval__path *path)
{
	path->n--;
}

/* Formats the path into b ("containerDefinitions[0].portMappings[1]"), a buffer capped at
 * TDVAL__PATH_MAX: a segment past the cap is left out, as when the path was built eagerly.
 * Returns b->p. */
static const char *path_text(const struct tdval__path *path, struct buf *b)
{
	buf_init(b, TDVAL__PATH_MAX);
	for (size_t i = 0; i < path->n; i++) {
		if (path->f[i].key)
			buf_addf(b, "%s%s", b->len ? "." : "", path->f[i].key);
		else
			buf_addf(b, "[%zu]", path->f[i].index);
	}
	return b->p;
}

static int wrong_type(struct tdval__path *path, json_t *v, const char *want, struct err **err)
{
	struct buf b;
	err_set(err, ERR_INVALID_PARAM, "Invalid type for parameter '%s': expected %s, got %s",
		path_text(path, &b), want, jv_type_name(v));
	buf_release(&b);
	return -1;
}

static json_t *copy_string(json_t *v, const struct tdval__member *m, struct tdval__path *path,
			   struct err **err)
{
	if (!json_is_string(v)) {
		wrong_type(path, v, "string", err);
		return NULL;
	}
	const char *s = json_string_value(v);
	/* A NUL inside would be cut off by every C consumer downstream; refuse it here. */
	if (strlen(s) != json_string_length(v)) {
		struct buf b;
		err_set(err, ERR_INVALID_PARAM, "Invalid value for parameter '%s': contains a NUL character",
			path_text(path, &b));
		buf_release(&b);
		return NULL;
	}
	if (m && m->enums && !tdval__one_of(s, m->enums)) {
		struct buf vals = BUF_INIT, b;
		tdval__list_values(&vals, m->enums);
		err_set(err, ERR_INVALID_PARAM,
			"Invalid value '%s' for parameter '%s'. Valid values are: %s.", s,
			path_text(path, &b), vals.p);
		buf_release(&vals);
		buf_release(&b);
		return NULL;
	}
	return json_string(s);
}

/* The API's integers are Java Integers; SDKs may send whole numbers as 5.0. */
static json_t *copy_int(json_t *v, struct tdval__path *path, struct err **err)
{
	long long n;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_real(v) && json_real_value(v) >= (double)INT32_MIN &&
		   json_real_value(v) <= (double)INT32_MAX &&
		   json_real_value(v) == (double)(long long)json_real_value(v)) {
		n = (long long)json_real_value(v);
	} else {
		wrong_type(path, v, "integer", err);
		return NULL;
	}
	if (n < INT32_MIN || n > INT32_MAX) {
		struct buf b;
		err_set(err, ERR_INVALID_PARAM,
			"Invalid value for parameter '%s': %lld is out of range for an integer",
			path_text(path, &b), n);
		buf_release(&b);
		return NULL;
	}
	return json_integer(n);
}

static json_t *copy_value(json_t *v, const struct tdval__member *m, struct tdval__path *path,
			  struct err **err)
{
	json_t *out = NULL, *e, *c;
	size_t i;
	const char *k;

	switch (m->kind) {
	case TDVAL__STR: return copy_string(v, m, path, err);
	case TDVAL__INT: return copy_int(v, path, err);
	case TDVAL__BOOL:
		if (!json_is_boolean(v)) {
			wrong_type(path, v, "boolean", err);
			return NULL;
		}
		return json_boolean(json_is_true(v));
	case TDVAL__STRLIST:
	case TDVAL__INTLIST:
		if (!json_is_array(v)) {
			wrong_type(path, v, "list", err);
			return NULL;
		}
		out = json_array();
		json_array_foreach (v, i, e) {
			path_index(path, i);
			c = m->kind == TDVAL__STRLIST ? copy_string(e, m, path, err) : copy_int(e, path, err);
			path_pop(path);
			if (!c)
				goto fail;
			json_array_append_new(out, c);
		}
		return out;
	case TDVAL__STRMAP:
		if (!json_is_object(v)) {
			wrong_type(path, v, "map", err);
			return NULL;
		}
		out = json_object();
		json_object_foreach (v, k, e) {
			path_key(path, k);
			c = copy_string(e, NULL, path, err);
			path_pop(path);
			if (!c)
				goto fail;
			json_object_set_new(out, k, c);
		}
		return out;
	case TDVAL__STRUCT:
		if (!json_is_object(v)) {
			wrong_type(path, v, "structure", err);
			return NULL;
		}
		if (tdval__copy(v, m->sub, path, &out, err) < 0)
			return NULL;
		return out;
	case TDVAL__LIST:
		if (!json_is_array(v)) {
			wrong_type(path, v, "list", err);
			return NULL;
		}
		out = json_array();
		json_array_foreach (v, i, e) {
			path_index(path, i);
			if (!json_is_object(e)) {
				wrong_type(path, e, "structure", err);
				path_pop(path);
				goto fail;
			}
			int rc = tdval__copy(e, m->sub, path, &c, err);
			path_pop(path);
			if (rc < 0)
				goto fail;
			json_array_append_new(out, c);
		}
		return out;
	}
	struct buf b;
	err_set(err, ERR_INTERNAL, "unknown member kind for '%s'", path_text(path, &b));
	buf_release(&b);
	return NULL;
fail:
	json_decref(out);
	return NULL;
}

static json_t *default_value(const struct tdval__member *m)
{
	switch (m->kind) {
	case TDVAL__STR: return m->dstr ? json_string(m->dstr) : NULL;
	case TDVAL__INT: return json_integer(m->dint);
	case TDVAL__BOOL: return json_boolean(m->dint != 0);
	case TDVAL__STRLIST:
	case TDVAL__INTLIST:
	case TDVAL__LIST: return json_array();
	case TDVAL__STRMAP:
	case TDVAL__STRUCT: return json_object();
	}
	return NULL;
}

int tdval__copy(json_t *in, const struct tdval__member *shape, struct tdval__path *path, json_t **out,
		struct err **err)
{
	json_t *o = json_object();
	*out = NULL;
	for (const struct tdval__member *m = shape; m->name; m++) {
		json_t *v = json_object_get(in, m->name), *c;
		path_key(path, m->name);
		if (!v || json_is_null(v)) {
			if (m->flags & TDVAL__REQUIRED) {
				struct buf b;
				err_set(err, ERR_INVALID_PARAM, "Missing required parameter '%s'",
					path_text(path, &b));
				buf_release(&b);
				path_pop(path);
				goto fail;
			}
			c = (m->flags & TDVAL__DEFAULT) ? default_value(m) : NULL;
		} else {
			c = copy_value(v, m, path, err);
			if (!c) {
				path_pop(path);
				goto fail;
			}
		}
		path_pop(path);
		if (c)
			json_object_set_new(o, m->name, c);
	}
	*out = o;
	return 0;
fail:
	json_decref(o);
	return -1;
}
