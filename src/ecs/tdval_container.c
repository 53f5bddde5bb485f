/* The rules ECS applies to one container definition of a task definition, and what a container
 * needs from the hosts it runs on (requiresAttributes) or keeps it from running on Fargate. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "ecs/tdval-int.h"

#define IMAGE_NAME_MAX	       255 /* characters before the @ of a digest reference */
#define LINK_ALIAS_MAX	       255
#define PORT_NAME_MAX	       64
#define PORT_MAX	       65535
#define HEALTH_INTERVAL_MIN    5
#define HEALTH_INTERVAL_MAX    300
#define HEALTH_TIMEOUT_MIN     2
#define HEALTH_TIMEOUT_MAX     60
#define HEALTH_RETRIES_MIN     1
#define HEALTH_RETRIES_MAX     10
#define HEALTH_START_MAX       300
#define RESTART_EXIT_CODES_MAX 50
#define RESTART_PERIOD_MIN     60
#define RESTART_PERIOD_MAX     1800
#define CREDENTIAL_SPECS_MAX   1
#define SWAPPINESS_MAX	       100

/* Docker's capability names, as the KernelCapabilities documentation lists them; words between
 * spaces, for word_in(). */
static const char capabilities[] =
	" ALL AUDIT_CONTROL AUDIT_WRITE BLOCK_SUSPEND CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER "
	"FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD "
	"NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW SETFCAP SETGID SETPCAP SETUID SYS_ADMIN "
	"SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE "
	"SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM ";

/* The tmpfs mount options the Tmpfs documentation lists (words between spaces). */
static const char tmpfs_options[] =
	" defaults ro rw suid nosuid dev nodev exec noexec sync async dirsync remount mand nomand "
	"atime noatime diratime nodiratime bind rbind unbindable runbindable private rprivate "
	"shared rshared slave rslave relatime norelatime strictatime nostrictatime mode uid gid "
	"nr_inodes nr_blocks mpol ";

/* The IPC-namespaced sysctls of the SystemControl documentation (plus fs.mqueue.*). */
static const char *const ipc_sysctls[] = {"kernel.msgmax", "kernel.msgmnb",	     "kernel.msgmni",
					  "kernel.sem",	   "kernel.shmall",	     "kernel.shmmax",
					  "kernel.shmmni", "kernel.shm_rmid_forced", NULL};

/* Log drivers a Fargate task can use. */
static const char *const fargate_log_drivers[] = {"awslogs", "splunk", "awsfirelens", NULL};

/* True when s is one of the space-separated words (the list starts and ends with a space). */
static bool word_in(const char *words, const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || strchr(s, ' '))
		return false;
	for (const char *p = strstr(words, s); p; p = strstr(p + 1, s))
		if (p[-1] == ' ' && p[n] == ' ')
			return true;
	return false;
}

/* The options that take a value (docker's tmpfs syntax: "mode=1777", "uid=1000", "size" aside). */
static const char tmpfs_valued[] = " mode uid gid nr_inodes nr_blocks mpol ";

/* A documented option word, or one of those with "=value". */
static bool tmpfs_option_ok(const char *opt)
{
	const char *eq = opt ? strchr(opt, '=') : NULL;
	if (!eq)
		return word_in(tmpfs_options, opt);
	if (eq == opt || !eq[1] || eq - opt > 16)
		return false;
	char key[17];
	memcpy(key, opt, (size_t)(eq - opt));
	key[eq - opt] = '\0';
	return word_in(tmpfs_valued, key);
}

const char *tdval__str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

long long tdval__int(json_t *obj, const char *key, long long fallback)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : fallback;
}

bool tdval__bool(json_t *obj, const char *key, bool fallback)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : fallback;
}

json_t *tdval__container_named(struct tdval__task *t, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (t->containers, i, c) {
		const char *n = tdval__str(c, "name");
		if (n && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

bool tdval__name_ok(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '_')
			return false;
	return n >= 1 && n <= max;
}

bool tdval__is_ecr_image(const char *image)
{
	/* <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>... */
	const char *slash = strchr(image, '/');
	if (!slash)
		return false;
	size_t n = (size_t)(slash - image);
	char *host = xstrndup(image, n);
	const char *dkr = strstr(host, ".dkr.ecr.");
	bool ok = dkr && dkr > host &&
		  ((n > 14 && strcmp(host + n - 14, ".amazonaws.com") == 0) ||
		   (n > 17 && strcmp(host + n - 17, ".amazonaws.com.cn") == 0));
	free(host);
	return ok;
}

void tdval__attr(struct tdval__task *t, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach (t->attrs, i, a) {
		if (strcmp(tdval__str(a, "name"), name) == 0)
			return;
	}
	json_array_append_new(t->attrs, json_pack("{s:s}", "name", name));
}

static bool has_items(json_t *c, const char *key)
{
	json_t *v = json_object_get(c, key);
	return (json_is_array(v) && json_array_size(v) > 0) || (json_is_object(v) && json_object_size(v) > 0);
}

/* Image references: "For images using tags, up to 255 characters total are allowed, including
 * letters, numbers, hyphens, underscores, colons, periods, forward slashes, and number signs. For
 * images using digests, the 255 character limit applies only to [what comes before the @]. The
 * only supported hash function is sha256, and the hash value after sha256: must be exactly 64
 * characters (only letters A-F, a-f, and numbers 0-9)." */
static int check_image(const char *cname, const char *image, struct err **err)
{
	const char *at = strchr(image, '@');
	size_t n = at ? (size_t)(at - image) : strlen(image);
	if (n < 1 || n > IMAGE_NAME_MAX)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'image' setting for container '%s'. The image name must be 1 to %d "
			       "characters "
			       "long.",
			       cname, IMAGE_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)image[i];
		if (!isalnum(ch) && !strchr("-_:./#", ch))
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'image' setting for container '%s'. The image name may contain only "
				"letters, numbers, hyphens, underscores, colons, periods, forward slashes "
				"and "
				"number signs.",
				cname);
	}
	if (at) {
		const char *d = at + 1;
		bool ok = strncmp(d, "sha256:", 7) == 0 && strlen(d + 7) == 64;
		for (size_t i = 0; ok && i < 64; i++)
			ok = isxdigit((unsigned char)d[7 + i]) != 0;
		if (!ok)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'image' setting for container '%s'. The digest must be "
				       "sha256: followed "
				       "by 64 hexadecimal characters.",
				       cname);
	}
	return 0;
}

static int check_memory(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *mem = json_object_get(c, "memory"), *res = json_object_get(c, "memoryReservation");
	if (mem && json_integer_value(mem) < TDVAL_MIN_CONTAINER_MEM)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'memory' setting for container '%s'. The value must be at least %d MiB.",
			cname, TDVAL_MIN_CONTAINER_MEM);
	if (res && json_integer_value(res) < TDVAL_MIN_CONTAINER_MEM)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'memoryReservation' setting for container '%s'. The value must be at "
			       "least %d "
			       "MiB.",
			       cname, TDVAL_MIN_CONTAINER_MEM);
	/* "If you specify both, memory must be greater than or equal to memoryReservation." */
	if (mem && res && json_integer_value(mem) < json_integer_value(res))
		return err_set(err, ERR_CLIENT,
			       "Invalid 'memoryReservation' setting for container '%s'. The value must be "
			       "less than or "
			       "equal to 'memory' (%lld MiB).",
			       cname, (long long)json_integer_value(mem));
	if (!mem && !res && !t->has_mem)
		return err_set(
			err, ERR_CLIENT,
			"Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' "
			"must be specified.",
			cname);
	if (res)
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.21");
	return 0;
}

static int check_links(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *links = json_object_get(c, "links"), *l;
	size_t i;
	if (!links || json_array_size(links) == 0)
		return 0;
	/* "This parameter is only supported if the network mode of a task definition is bridge." */
	if (strcmp(t->net, "bridge") != 0)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'links' setting for container '%s'. Links are not supported when "
			       "networkMode=%s.",
			       cname, t->net);
	json_array_foreach (links, i, l) {
		const char *s = json_string_value(l), *colon = strchr(s, ':');
		char *target = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
		int rc = 0;
		if (colon && !tdval__name_ok(colon + 1, LINK_ALIAS_MAX))
			rc = err_set(err, ERR_CLIENT,
				     "Invalid 'links' setting for container '%s'. The alias in link '%s' may "
				     "contain "
				     "up to %d letters, numbers, hyphens and underscores.",
				     cname, s, LINK_ALIAS_MAX);
		else if (strcmp(target, cname) == 0)
			rc = err_set(err, ERR_CLIENT,
				     "Invalid 'links' setting for container '%s'. A container cannot link to "
				     "itself.",
				     cname);
		else if (!tdval__container_named(t, target))
			rc = err_set(err, ERR_CLIENT,
				     "Invalid 'links' setting for container '%s'. Linked container '%s' is "
				     "not defined "
				     "in the task definition.",
				     cname, target);
		free(target);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Parses "first-last" with 1 <= first < last <= 65535. */
static bool parse_range(const char *s, long long *lo, long long *hi)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false;
	*lo = strtoll(s, &end, 10);
	if (*end != '-' || !isdigit((unsigned char)end[1]))
		return false;
	*hi = strtoll(end + 1, &end, 10);
	return *end == '\0' && *lo >= 1 && *hi <= PORT_MAX && *lo < *hi;
}

static bool port_name_ok(const char *s)
{
	size_t n = 0;
	if (*s == '-')
		return false;
	for (; s[n]; n++)
		if (!islower((unsigned char)s[n]) && !isdigit((unsigned char)s[n]) && s[n] != '-' &&
		    s[n] != '_')
			return false;
	return n >= 1 && n <= PORT_NAME_MAX;
}

/* Port ranges of a mapping on the container side: [lo, hi]. */
static void mapping_ports(json_t *pm, long long *lo, long long *hi)
{
	const char *range = tdval__str(pm, "containerPortRange");
	if (!range || !parse_range(range, lo, hi))
		*lo = *hi = tdval__int(pm, "containerPort", 0);
}

/* Puts a port mapping's members in ECS's order (containerPort, hostPort, protocol, ...) after a
 * hostPort was added at the end. Invalidates pointers into pm's old members. */
static void order_mapping(json_t *pm)
{
	json_t *old = json_deep_copy(pm);
	json_object_clear(pm);
	json_object_set(pm, "containerPort", json_object_get(old, "containerPort"));
	json_object_set(pm, "hostPort", json_object_get(old, "hostPort"));
	json_object_update_missing(pm, old);
	json_decref(old);
}

static int check_port_mappings(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *pms = json_object_get(c, "portMappings"), *pm;
	size_t i;
	bool static_host = strcmp(t->net, "awsvpc") == 0 || strcmp(t->net, "host") == 0;

	if (json_array_size(pms) == 0)
		return 0;
	/* "If the network mode of a task definition is set to none, then you can't specify port
	 * mappings." */
	if (strcmp(t->net, "none") == 0)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'portMappings' setting for container '%s'. Port mappings are not supported "
			"when networkMode=none.",
			cname);
	json_array_foreach (pms, i, pm) {
		json_t *cp = json_object_get(pm, "containerPort"), *hp = json_object_get(pm, "hostPort");
		const char *range = tdval__str(pm, "containerPortRange"), *name;
		long long lo, hi;
		if (range) {
			/* "You must use either the bridge network mode or the awsvpc network mode ... You do
			 * not specify a hostPortRange." */
			if (strcmp(t->net, "bridge") != 0 && strcmp(t->net, "awsvpc") != 0)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'containerPortRange' setting for container '%s'. "
					       "Port ranges "
					       "are supported only when networkMode is bridge or awsvpc.",
					       cname);
			if (!parse_range(range, &lo, &hi))
				return err_set(err, ERR_CLIENT,
					       "Invalid 'containerPortRange' setting for container '%s'. "
					       "'%s' must be "
					       "first-last with 1 <= first < last <= %d.",
					       cname, range, PORT_MAX);
			if (cp || hp)
				return err_set(
					err, ERR_CLIENT,
					"Invalid 'portMappings' setting for container '%s'. A port mapping "
					"with a containerPortRange cannot also set containerPort or "
					"hostPort.",
					cname);
			tdval__attr(t, "ecs.capability.container-port-range");
		} else {
			if (!cp || json_integer_value(cp) < 1 || json_integer_value(cp) > PORT_MAX)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'containerPort' setting for container '%s'.", cname);
			if (hp && (json_integer_value(hp) < 0 || json_integer_value(hp) > PORT_MAX))
				return err_set(err, ERR_CLIENT,
					       "Invalid 'hostPort' setting for container '%s'.", cname);
			long long port = json_integer_value(cp);
			bool had_host = hp != NULL;
			/* awsvpc and host: "the hostPort can either be left blank or set to the same value
			 * as the containerPort"; ECS then returns it equal to containerPort. bridge: an
			 * omitted hostPort is 0, a dynamic port. */
			if (static_host) {
				if (hp && json_integer_value(hp) != 0 && json_integer_value(hp) != port)
					return err_set(
						err, ERR_CLIENT,
						"When networkMode=%s, the host ports and container ports in "
						"port mappings must match.",
						t->net);
				json_object_set_new(pm, "hostPort", json_integer(port));
			} else if (!hp) {
				json_object_set_new(pm, "hostPort", json_integer(0));
			}
			if (!had_host)
				order_mapping(pm);
		}
		name = tdval__str(pm, "name");
		if (name && !port_name_ok(name))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'portMappings' setting for container '%s'. The port mapping "
				       "name '%s' "
				       "may contain up to %d lowercase letters, numbers, underscores and "
				       "hyphens, and "
				       "cannot start with a hyphen.",
				       cname, name, PORT_NAME_MAX);
		/* "A port can only be included in one port mapping per container." */
		mapping_ports(pm, &lo, &hi);
		for (size_t j = 0; j < i; j++) {
			json_t *other = json_array_get(pms, j);
			long long olo, ohi;
			mapping_ports(other, &olo, &ohi);
			if (strcmp(tdval__str(pm, "protocol"), tdval__str(other, "protocol")) == 0 &&
			    lo <= ohi && olo <= hi)
				return err_set(
					err, ERR_CLIENT,
					"Invalid 'portMappings' setting for container '%s'. Container port "
					"%lld/%s appears in more than one port mapping.",
					cname, lo > olo ? lo : olo, tdval__str(pm, "protocol"));
		}
	}
	return 0;
}

static int check_restart_policy(json_t *c, const char *cname, struct err **err)
{
	json_t *rp = json_object_get(c, "restartPolicy");
	if (!rp)
		return 0;
	if (json_array_size(json_object_get(rp, "ignoredExitCodes")) > RESTART_EXIT_CODES_MAX)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'restartPolicy' setting for container '%s'. At most %d ignoredExitCodes can "
			"be specified.",
			cname, RESTART_EXIT_CODES_MAX);
	long long period = tdval__int(rp, "restartAttemptPeriod", RESTART_PERIOD_MIN);
	if (period < RESTART_PERIOD_MIN || period > RESTART_PERIOD_MAX)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'restartPolicy' setting for container '%s'. restartAttemptPeriod must be "
			"between %d and %d seconds.",
			cname, RESTART_PERIOD_MIN, RESTART_PERIOD_MAX);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int check_environment(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *list = json_object_get(c, "environment"), *e;
	size_t i;
	json_array_foreach (list, i, e) {
		const char *n = tdval__str(e, "name");
		if (!n || !*n || strchr(n, '='))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'environment' setting for container '%s'. Environment "
				       "variable names "
				       "must be non-empty and cannot contain '='.",
				       cname);
	}
	list = json_object_get(c, "environmentFiles");
	if (json_array_size(list) > TDVAL_ENV_FILES_MAX)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'environmentFiles' setting for container '%s'. At most %d environment files "
			"can be specified.",
			cname, TDVAL_ENV_FILES_MAX);
	json_array_foreach (list, i, e) {
		/* "The file must have a .env file extension." */
		if (!ends_with(tdval__str(e, "value"), ".env"))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'environmentFiles' setting for container '%s'. '%s' must "
				       "have a .env "
				       "file extension.",
				       cname, tdval__str(e, "value"));
		tdval__attr(t, "ecs.capability.env-files.s3");
	}
	return 0;
}

/* Secrets come from Secrets Manager (an ARN with :secretsmanager:) or SSM Parameter Store. */
static int check_secrets(struct tdval__task *t, json_t *list, const char *cname, const char *member,
			 const char *what, struct err **err)
{
	json_t *s;
	size_t i;
	json_array_foreach (list, i, s) {
		const char *n = tdval__str(s, "name"), *from = tdval__str(s, "valueFrom");
		if (!*n || !*from)
			return err_set(
				err, ERR_CLIENT,
				"Invalid '%s' setting for container '%s'. Each secret needs a name and a "
				"valueFrom.",
				member, cname);
		char *attr = xasprintf("ecs.capability.secrets.%s.%s",
				       strstr(from, ":secretsmanager:") ? "asm" : "ssm", what);
		tdval__attr(t, attr);
		free(attr);
	}
	return 0;
}

static int check_mounts(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *list = json_object_get(c, "mountPoints"), *m;
	size_t i;
	json_array_foreach (list, i, m) {
		const char *vol = tdval__str(m, "sourceVolume"), *path = tdval__str(m, "containerPath");
		bool found = false;
		size_t j;
		json_t *v;
		if (!vol || !*vol)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'mountPoints' setting for container '%s'. sourceVolume "
				       "should not be "
				       "null or empty.",
				       cname);
		if (!path || !*path)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'mountPoints' setting for container '%s'. containerPath "
				       "should not be "
				       "null or empty.",
				       cname);
		json_array_foreach (t->volumes, j, v) {
			const char *n = tdval__str(v, "name");
			if (n && strcmp(n, vol) == 0)
				found = true;
		}
		if (!found)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'mountPoints' setting for container '%s'. The source volume "
				       "'%s' is not "
				       "defined in the task definition's volumes.",
				       cname, vol);
	}
	list = json_object_get(c, "volumesFrom");
	json_array_foreach (list, i, m) {
		const char *src = tdval__str(m, "sourceContainer");
		if (!src || !*src)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'volumesFrom' setting for container '%s'. sourceContainer "
				       "should not be "
				       "null or empty.",
				       cname);
		if (strcmp(src, cname) == 0)
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'volumesFrom' setting for container '%s'. A container cannot mount "
				"volumes from itself.",
				cname);
		if (!tdval__container_named(t, src))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'volumesFrom' setting for container '%s'. The source "
				       "container '%s' is "
				       "not defined in the task definition.",
				       cname, src);
	}
	return 0;
}

static int check_capability_list(json_t *caps, const char *which, const char *cname, struct err **err)
{
	json_t *v;
	size_t i;
	json_array_foreach (caps, i, v) {
		if (!word_in(capabilities, json_string_value(v)))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'linuxParameters.capabilities.%s' setting for container "
				       "'%s'. '%s' is "
				       "not a valid capability.",
				       which, cname, json_string_value(v));
	}
	return 0;
}

static int check_linux_parameters(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *lp = json_object_get(c, "linuxParameters"), *caps, *v;
	size_t i;
	if (!lp)
		return 0;
	caps = json_object_get(lp, "capabilities");
	if (check_capability_list(json_object_get(caps, "add"), "add", cname, err) < 0 ||
	    check_capability_list(json_object_get(caps, "drop"), "drop", cname, err) < 0)
		return -1;
	json_array_foreach (json_object_get(lp, "devices"), i, v) {
		if (!*tdval__str(v, "hostPath"))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'linuxParameters.devices' setting for container '%s'. "
				       "hostPath should "
				       "not be null or empty.",
				       cname);
	}
	json_array_foreach (json_object_get(lp, "tmpfs"), i, v) {
		json_t *o;
		size_t j;
		if (!*tdval__str(v, "containerPath"))
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'linuxParameters.tmpfs' setting for container '%s'. containerPath "
				"should not be null or empty.",
				cname);
		if (tdval__int(v, "size", 0) <= 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'linuxParameters.tmpfs' setting for container '%s'. The size "
				       "must be a "
				       "positive number of MiB.",
				       cname);
		json_array_foreach (json_object_get(v, "mountOptions"), j, o) {
			if (!tmpfs_option_ok(json_string_value(o)))
				return err_set(err, ERR_CLIENT,
					       "Invalid 'linuxParameters.tmpfs' setting for container '%s'. "
					       "'%s' is not "
					       "a valid tmpfs mount option.",
					       cname, json_string_value(o));
		}
	}
	if (json_object_get(lp, "sharedMemorySize") && tdval__int(lp, "sharedMemorySize", 0) <= 0)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'linuxParameters.sharedMemorySize' setting for container '%s'. The "
			       "value must "
			       "be a positive number of MiB.",
			       cname);
	if (tdval__int(lp, "maxSwap", 0) < 0)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'linuxParameters.maxSwap' setting for container '%s'. The value must "
			       "be 0 or a "
			       "positive integer.",
			       cname);
	long long sw = tdval__int(lp, "swappiness", 0);
	if (sw < 0 || sw > SWAPPINESS_MAX)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'linuxParameters.swappiness' setting for container '%s'. The value must be "
			"between 0 and %d.",
			cname, SWAPPINESS_MAX);
	if (tdval__bool(lp, "initProcessEnabled", false))
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.25");
	if (json_object_get(lp, "sharedMemorySize") || has_items(lp, "tmpfs"))
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.22");
	return 0;
}

static int check_depends_on(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *deps = json_object_get(c, "dependsOn"), *d;
	size_t i;
	json_array_foreach (deps, i, d) {
		const char *target = tdval__str(d, "containerName"), *cond = tdval__str(d, "condition");
		json_t *tc = tdval__container_named(t, target);
		if (strcmp(target, cname) == 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'dependsOn' setting for container '%s'. A container cannot "
				       "depend on "
				       "itself.",
				       cname);
		if (!tc)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'dependsOn' setting for container '%s'. Cannot depend on "
				       "container '%s' "
				       "because it does not exist.",
				       cname, target);
		/* "COMPLETE ... This condition can't be set on an essential container." */
		if ((strcmp(cond, "COMPLETE") == 0 || strcmp(cond, "SUCCESS") == 0) &&
		    tdval__bool(tc, "essential", true))
			return err_set(err, ERR_CLIENT,
				       "A dependency container with SUCCESS or COMPLETE condition cannot be "
				       "an essential "
				       "container. Container '%s' depends on essential container '%s' with "
				       "condition "
				       "%s.",
				       cname, target, cond);
		/* "HEALTHY ... This requires that the dependent container has health checks configured." */
		if (strcmp(cond, "HEALTHY") == 0 && !json_object_get(tc, "healthCheck"))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'dependsOn' setting for container '%s'. The HEALTHY "
				       "condition requires "
				       "container '%s' to have a healthCheck.",
				       cname, target);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tdval__str(json_array_get(deps, j), "containerName"), target) == 0)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'dependsOn' setting for container '%s'. Container "
					       "'%s' is listed "
					       "more than once.",
					       cname, target);
		}
	}
	return 0;
}

static int check_timeouts(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	static const char *const keys[] = {"startTimeout", "stopTimeout"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(c, keys[i]);
		if (v && json_integer_value(v) < 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid '%s' setting for container '%s'. The value must be a "
				       "non-negative number "
				       "of seconds.",
				       keys[i], cname);
	}
	if (has_items(c, "dependsOn") || json_object_get(c, "startTimeout") ||
	    json_object_get(c, "stopTimeout"))
		tdval__attr(t, "ecs.capability.container-ordering");
	return 0;
}

static int check_hosts(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *list = json_object_get(c, "extraHosts"), *h;
	size_t i;
	bool awsvpc = strcmp(t->net, "awsvpc") == 0;
	/* hostname and extraHosts: "not supported if you're using the awsvpc network mode". */
	if (awsvpc && json_object_get(c, "hostname"))
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'hostname' setting for container '%s'. hostname is not supported when "
			"networkMode=awsvpc.",
			cname);
	if (awsvpc && json_array_size(list) > 0)
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'extraHosts' setting for container '%s'. extraHosts is not supported when "
			"networkMode=awsvpc.",
			cname);
	json_array_foreach (list, i, h) {
		if (!*tdval__str(h, "hostname") || !*tdval__str(h, "ipAddress"))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'extraHosts' setting for container '%s'. Each entry needs a "
				       "hostname "
				       "and an ipAddress.",
				       cname);
	}
	return 0;
}

/* dockerSecurityOptions: "no-new-privileges" | "apparmor:PROFILE" | "label:value" |
 * "credentialspec:CredentialSpecFilePath". */
static int check_security_options(json_t *c, const char *cname, struct err **err)
{
	static const char *const prefixes[] = {"apparmor:", "label:", "credentialspec:", NULL};
	json_t *v;
	size_t i;
	json_array_foreach (json_object_get(c, "dockerSecurityOptions"), i, v) {
		const char *s = json_string_value(v);
		bool ok = strcmp(s, "no-new-privileges") == 0;
		for (size_t j = 0; !ok && prefixes[j]; j++)
			ok = strncmp(s, prefixes[j], strlen(prefixes[j])) == 0 && s[strlen(prefixes[j])];
		if (!ok)
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'dockerSecurityOptions' setting for container '%s'. '%s' is not "
				"no-new-privileges, apparmor:PROFILE, label:value or credentialspec:PATH.",
				cname, s);
	}
	return 0;
}

/* Docker uses -1 for an unlimited ulimit. */
static int check_ulimits(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *list = json_object_get(c, "ulimits"), *u;
	size_t i;
	json_array_foreach (list, i, u) {
		const char *n = tdval__str(u, "name");
		long long soft = tdval__int(u, "softLimit", 0), hard = tdval__int(u, "hardLimit", 0);
		if (soft < -1 || hard < -1)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'ulimits' setting for container '%s'. The limits for '%s' "
				       "must be -1 "
				       "(unlimited) or non-negative.",
				       cname, n);
		if (hard != -1 && (soft == -1 || soft > hard))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'ulimits' setting for container '%s'. The soft limit for "
				       "'%s' must be "
				       "less than or equal to the hard limit.",
				       cname, n);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tdval__str(json_array_get(list, j), "name"), n) == 0)
				return err_set(
					err, ERR_CLIENT,
					"Invalid 'ulimits' setting for container '%s'. The ulimit '%s' is "
					"specified more than once.",
					cname, n);
		}
	}
	if (json_array_size(list) > 0)
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.18");
	return 0;
}

static bool task_has_firelens(struct tdval__task *t)
{
	size_t i;
	json_t *c;
	json_array_foreach (t->containers, i, c) {
		if (json_object_get(c, "firelensConfiguration"))
			return true;
	}
	return false;
}

static int check_logging(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *lc = json_object_get(c, "logConfiguration");
	const char *driver;
	if (!lc)
		return 0;
	driver = tdval__str(lc, "logDriver");
	if (strcmp(driver, "awsfirelens") == 0 && !task_has_firelens(t))
		return err_set(
			err, ERR_CLIENT,
			"Invalid 'logConfiguration' setting for container '%s'. The awsfirelens log driver "
			"requires a container with a firelensConfiguration in the task definition.",
			cname);
	if (check_secrets(t, json_object_get(lc, "secretOptions"), cname, "logConfiguration.secretOptions",
			  "bootstrap.log-driver", err) < 0)
		return -1;
	/* The Docker Remote API versions the ContainerDefinition documentation names. */
	tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.18");
	if (has_items(lc, "options"))
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.19");
	char *attr = xasprintf("com.amazonaws.ecs.capability.logging-driver.%s", driver);
	tdval__attr(t, attr);
	free(attr);
	if (strcmp(driver, "awslogs") == 0 && t->exec_role)
		tdval__attr(t, "ecs.capability.execution-role-awslogs");
	return 0;
}

static int check_health(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *hc = json_object_get(c, "healthCheck");
	if (!hc)
		return 0;
	json_t *cmd = json_object_get(hc, "command");
	const char *first = json_string_value(json_array_get(cmd, 0));
	/* "The string array must start with CMD to run the command arguments directly, or CMD-SHELL to
	 * run the command with the container's default shell." */
	if (!first || (strcmp(first, "CMD") != 0 && strcmp(first, "CMD-SHELL") != 0) ||
	    json_array_size(cmd) < 2)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'healthCheck' setting for container '%s'. The command must start "
			       "with CMD or "
			       "CMD-SHELL followed by the command to run.",
			       cname);
	static const struct {
		const char *key;
		long long min, max;
	} ranges[] = {
		{"interval", HEALTH_INTERVAL_MIN, HEALTH_INTERVAL_MAX},
		{"timeout", HEALTH_TIMEOUT_MIN, HEALTH_TIMEOUT_MAX},
		{"retries", HEALTH_RETRIES_MIN, HEALTH_RETRIES_MAX},
		{"startPeriod", 0, HEALTH_START_MAX},
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		long long v = tdval__int(hc, ranges[i].key, ranges[i].min);
		if (v < ranges[i].min || v > ranges[i].max)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'healthCheck.%s' setting for container '%s'. The value must "
				       "be between "
				       "%lld and %lld.",
				       ranges[i].key, cname, ranges[i].min, ranges[i].max);
	}
	tdval__attr(t, "ecs.capability.container-health-check");
	/* Docker health checks came with Remote API 1.24, their start period with 1.29. */
	tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.24");
	if (json_object_get(hc, "startPeriod"))
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.29");
	return 0;
}

static int check_system_controls(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *v;
	size_t i;
	const char *ipc = tdval__str(t->req, "ipcMode");
	json_array_foreach (json_object_get(c, "systemControls"), i, v) {
		const char *ns = tdval__str(v, "namespace");
		if (!ns || !*ns)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'systemControls' setting for container '%s'. namespace "
				       "should not be "
				       "null or empty.",
				       cname);
		bool ipc_ns = tdval__one_of(ns, ipc_sysctls) || strncmp(ns, "fs.mqueue.", 10) == 0;
		/* "For tasks that use the host IPC mode, IPC namespace related systemControls are not
		 * supported." The same goes for network ones in the host network mode. */
		if (ipc_ns && ipc && strcmp(ipc, "host") == 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'systemControls' setting for container '%s'. IPC namespace "
				       "sysctl '%s' "
				       "is not supported when ipcMode=host.",
				       cname, ns);
		if (strncmp(ns, "net.", 4) == 0 && strcmp(t->net, "host") == 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'systemControls' setting for container '%s'. Network "
				       "namespace sysctl "
				       "'%s' is not supported when networkMode=host.",
				       cname, ns);
		if (!ipc_ns && strncmp(ns, "net.", 4) != 0)
			return err_set(err, ERR_CLIENT,
				       "Invalid 'systemControls' setting for container '%s'. '%s' is not a "
				       "namespaced "
				       "kernel parameter (IPC or net.*).",
				       cname, ns);
	}
	return 0;
}

static bool positive_int_string(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isdigit((unsigned char)s[n]))
			return false;
	return n >= 1 && n <= 9 && strtol(s, NULL, 10) > 0;
}

static int check_resources(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *list = json_object_get(c, "resourceRequirements"), *r;
	size_t i;
	json_array_foreach (list, i, r) {
		const char *type = tdval__str(r, "type"), *value = tdval__str(r, "value");
		if (strcmp(type, "GPU") == 0 && !positive_int_string(value))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'resourceRequirements' setting for container '%s'. The GPU "
				       "value '%s' "
				       "must be a positive whole number.",
				       cname, value);
		if (strcmp(type, "InferenceAccelerator") == 0) {
			bool found = false;
			size_t j;
			json_t *a;
			json_array_foreach (json_object_get(t->req, "inferenceAccelerators"), j, a) {
				if (strcmp(tdval__str(a, "deviceName"), value) == 0)
					found = true;
			}
			if (!found)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'resourceRequirements' setting for container '%s'. "
					       "Inference "
					       "accelerator '%s' is not defined in the task definition.",
					       cname, value);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(tdval__str(json_array_get(list, j), "type"), type) == 0)
				return err_set(err, ERR_CLIENT,
					       "Invalid 'resourceRequirements' setting for container '%s'. "
					       "The resource "
					       "type %s is specified more than once.",
					       cname, type);
		}
	}
	return 0;
}

static int check_misc(struct tdval__task *t, json_t *c, const char *cname, struct err **err)
{
	json_t *specs = json_object_get(c, "credentialSpecs"), *v, *fl;
	size_t i;
	json_t *rc = json_object_get(c, "repositoryCredentials");
	if (rc) {
		if (!*tdval__str(rc, "credentialsParameter"))
			return err_set(err, ERR_CLIENT,
				       "Invalid 'repositoryCredentials' setting for container '%s'. "
				       "credentialsParameter should not be null or empty.",
				       cname);
		tdval__attr(t, "ecs.capability.private-registry-authentication.secretsmanager");
	}
	if (json_array_size(specs) > CREDENTIAL_SPECS_MAX)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'credentialSpecs' setting for container '%s'. At most %d credential "
			       "spec can "
			       "be specified.",
			       cname, CREDENTIAL_SPECS_MAX);
	json_array_foreach (specs, i, v) {
		const char *s = json_string_value(v);
		if (strncmp(s, "credentialspec:", 15) != 0 &&
		    strncmp(s, "credentialspecdomainless:", 25) != 0)
			return err_set(
				err, ERR_CLIENT,
				"Invalid 'credentialSpecs' setting for container '%s'. '%s' must start with "
				"credentialspec: or credentialspecdomainless:.",
				cname, s);
	}
	fl = json_object_get(c, "firelensConfiguration");
	if (fl) {
		char *attr = xasprintf("ecs.capability.firelens.%s", tdval__str(fl, "type"));
		tdval__attr(t, attr);
		free(attr);
	}
	if (has_items(c, "dockerLabels"))
		tdval__attr(t, "com.amazonaws.ecs.capability.docker-remote-api.1.18");
	if (tdval__bool(c, "privileged", false))
		tdval__attr(t, "com.amazonaws.ecs.capability.privileged-container");
	if (json_object_get(c, "restartPolicy"))
		tdval__attr(t, "ecs.capability.container-restart-policy");
	return 0;
}

int tdval__container(struct tdval__task *t, json_t *c, struct err **err)
{
	const char *cname = tdval__str(c, "name"), *image = tdval__str(c, "image");

	if (!image || !*image)
		return err_set(err, ERR_CLIENT, "Container.image should not be null or empty.");
	if (check_image(cname, image, err) < 0)
		return -1;
	if (tdval__int(c, "cpu", 0) < 0)
		return err_set(err, ERR_CLIENT,
			       "Invalid 'cpu' setting for container '%s'. The value must be a non-negative "
			       "number of "
			       "CPU units.",
			       cname);
	if (check_memory(t, c, cname, err) < 0 || check_links(t, c, cname, err) < 0 ||
	    check_port_mappings(t, c, cname, err) < 0 || check_restart_policy(c, cname, err) < 0 ||
	    check_environment(t, c, cname, err) < 0 ||
	    check_secrets(t, json_object_get(c, "secrets"), cname, "secrets", "environment-variables", err) <
		    0 ||
	    check_mounts(t, c, cname, err) < 0 || check_linux_parameters(t, c, cname, err) < 0 ||
	    check_depends_on(t, c, cname, err) < 0 || check_timeouts(t, c, cname, err) < 0 ||
	    check_hosts(t, c, cname, err) < 0 || check_security_options(c, cname, err) < 0 ||
	    check_ulimits(t, c, cname, err) < 0 || check_logging(t, c, cname, err) < 0 ||
	    check_health(t, c, cname, err) < 0 || check_system_controls(t, c, cname, err) < 0 ||
	    check_resources(t, c, cname, err) < 0 || check_misc(t, c, cname, err) < 0)
		return -1;
	if (tdval__is_ecr_image(image)) {
		tdval__attr(t, "com.amazonaws.ecs.capability.ecr-auth");
		if (t->exec_role)
			tdval__attr(t, "ecs.capability.execution-role-ecr-pull");
	}
	return 0;
}

char *tdval__container_fargate_problem(struct tdval__task *t, json_t *c)
{
	const char *cname = tdval__str(c, "name");
	json_t *lp = json_object_get(c, "linuxParameters"), *lc = json_object_get(c, "logConfiguration"), *v;
	size_t i;

	if (tdval__bool(c, "privileged", false))
		return xasprintf("Invalid 'privileged' setting for container '%s'. Fargate does not support "
				 "privileged containers.",
				 cname);
	if (lp) {
		static const char *const unsupported[] = {"devices", "sharedMemorySize", "tmpfs",
							  "maxSwap", "swappiness",	 NULL};
		for (i = 0; unsupported[i]; i++)
			if (json_object_get(lp, unsupported[i]))
				return xasprintf("Invalid 'linuxParameters.%s' setting for container '%s'. "
						 "Fargate does "
						 "not support '%s'.",
						 unsupported[i], cname, unsupported[i]);
		/* "Tasks launched on Fargate only support adding the SYS_PTRACE kernel capability." */
		json_array_foreach (json_object_get(json_object_get(lp, "capabilities"), "add"), i, v) {
			if (strcmp(json_string_value(v), "SYS_PTRACE") != 0)
				return xasprintf(
					"Invalid 'linuxParameters.capabilities.add' setting for container "
					"'%s'. Fargate only supports adding SYS_PTRACE.",
					cname);
		}
	}
	if (lc) {
		const char *driver = tdval__str(lc, "logDriver");
		if (!tdval__one_of(driver, fargate_log_drivers))
			return xasprintf(
				"Invalid 'logConfiguration' setting for container '%s'. Fargate does not "
				"support log driver '%s'.",
				cname, driver);
		if (strcmp(driver, "awslogs") == 0 && !t->exec_role)
			return xstrdup(
				"Fargate requires task definition to have execution role ARN to support log "
				"driver awslogs.");
	}
	if (tdval__is_ecr_image(tdval__str(c, "image")) && !t->exec_role)
		return xstrdup(
			"Fargate requires task definition to have execution role ARN to support ECR images.");
	if (has_items(c, "dockerSecurityOptions"))
		return xasprintf(
			"Invalid 'dockerSecurityOptions' setting for container '%s'. Fargate does not "
			"support dockerSecurityOptions.",
			cname);
	json_array_foreach (json_object_get(c, "resourceRequirements"), i, v) {
		return xasprintf(
			"Invalid 'resourceRequirements' setting for container '%s'. Fargate does not "
			"support %s resources.",
			cname, tdval__str(v, "type"));
	}
	/* "The valid values for Fargate are 2-120 seconds." */
	static const char *const timeouts[] = {"startTimeout", "stopTimeout", NULL};
	for (i = 0; timeouts[i]; i++) {
		json_t *to = json_object_get(c, timeouts[i]);
		if (to && (json_integer_value(to) < 2 || json_integer_value(to) > TDVAL_FARGATE_TIMEOUT_MAX))
			return xasprintf(
				"Invalid '%s' setting for container '%s'. On Fargate the value must be "
				"between 2 and %d seconds.",
				timeouts[i], cname, TDVAL_FARGATE_TIMEOUT_MAX);
	}
	return NULL;
}
