/* ECS account settings: PutAccountSetting, PutAccountSettingDefault, ListAccountSettings,
 * DeleteAccountSetting. A setting applies to one principal (an IAM user, role or the root) or, as
 * the account default, to every principal that has none of its own. */
#include <stdlib.h>
#include <string.h>

#include "common/arn.h"
#include "common/jv.h"
#include "common/page.h"
#include "common/xalloc.h"
#include "ecs/ecs-int.h"

struct setting_def {
	const char *name;
	const char *def; /* the AWS default */
	const char *const values[4];
};

static const struct setting_def setting_defs[] = {
	{"serviceLongArnFormat", "enabled", {"enabled", "disabled"}},
	{"taskLongArnFormat", "enabled", {"enabled", "disabled"}},
	{"containerInstanceLongArnFormat", "enabled", {"enabled", "disabled"}},
	{"awsvpcTrunking", "disabled", {"enabled", "disabled"}},
	{"containerInsights", "disabled", {"enabled", "disabled", "enhanced"}},
	{"dualStackIPv6", "disabled", {"enabled", "disabled"}},
	{"fargateFIPSMode", "disabled", {"enabled", "disabled"}},
	{"tagResourceAuthorization", "on", {"on", "off"}},
	{"fargateTaskRetirementWaitPeriod", "7", {"0", "7", "14"}},
	{"guardDutyActivate", "off", {"on", "off"}},
	{"defaultLogDriverMode", "blocking", {"blocking", "non-blocking"}},
};
#define NSETTINGS (sizeof(setting_defs) / sizeof(setting_defs[0]))

static const struct setting_def *find_def(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(setting_defs[i].name, name) == 0)
			return &setting_defs[i];
	return NULL;
}

static int check_name(const char *name, const struct setting_def **def, struct err **err)
{
	*def = find_def(name);
	if (*def)
		return 0;
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < NSETTINGS; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", setting_defs[i].name);
	err_set(err, ERR_INVALID_PARAM, "Invalid setting name '%s': must be one of %s", name, b.p);
	buf_release(&b);
	return -1;
}

static int check_value(const struct setting_def *d, const char *value, struct err **err)
{
	for (int i = 0; i < 4 && d->values[i]; i++)
		if (strcmp(d->values[i], value) == 0)
			return 0;
	return err_set(err, ERR_INVALID_PARAM, "Invalid value '%s' for setting %s", value, d->name);
}

/* The account-default pseudo-principal: the root. */
static char *root_arn(struct api_call *call)
{
	return xasprintf("arn:aws:iam::%s:root", call->account);
}

static int check_principal(struct api_call *call, const char *principal, struct err **err)
{
	struct arn a;
	if (arn_parse(principal, "principalArn", &a, err) < 0)
		return -1;
	int rc = 0;
	if (strcmp(a.service, "iam") != 0 || strcmp(a.account, call->account) != 0)
		rc = err_set(
			err, ERR_INVALID_PARAM,
			"Invalid principalArn '%s': must be an IAM user, role or root ARN of your account",
			principal);
	arn_release(&a);
	return rc;
}

int ecs__load_setting(struct ecs_scope *sc, const char *rest, json_t *doc, struct err **err)
{
	if (!json_is_object(doc))
		return err_set(err, ERR_INTERNAL, "not an object");
	json_object_set(sc->settings, rest, doc);
	return 0;
}

static int put(struct api_call *call, const char *name, const char *value, const char *principal,
	       json_t **out, struct err **err)
{
	const struct setting_def *d;
	if (check_name(name, &d, err) < 0 || check_value(d, value, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	char *key = xasprintf("%s|%s", principal, name);
	json_t *s = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "value", value, "principalArn", principal,
			      "type", "user");
	json_object_set(sc->settings, key, s);
	ecs__persist(ecs__of(call), sc, ECS_KIND_SETTING, key, s);
	free(key);
	*out = json_pack("{s:o}", "setting", s);
	return 0;
}

int ecs__put_account_setting(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name, *value, *principal;
	if (jv_str(in, "name", true, &name, err) < 0 || jv_str(in, "value", true, &value, err) < 0 ||
	    jv_str(in, "principalArn", false, &principal, err) < 0)
		return -1;
	if (principal && check_principal(call, principal, err) < 0)
		return -1;
	return put(call, name, value, principal ? principal : call->principal, out, err);
}

int ecs__put_account_setting_default(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name, *value;
	if (jv_str(in, "name", true, &name, err) < 0 || jv_str(in, "value", true, &value, err) < 0)
		return -1;
	char *root = root_arn(call);
	int rc = put(call, name, value, root, out, err);
	free(root);
	return rc;
}

int ecs__delete_account_setting(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name, *principal;
	const struct setting_def *d;
	if (jv_str(in, "name", true, &name, err) < 0 ||
	    jv_str(in, "principalArn", false, &principal, err) < 0 || check_name(name, &d, err) < 0)
		return -1;
	if (principal && check_principal(call, principal, err) < 0)
		return -1;
	struct ecs_scope *sc = ecs__call_scope(call);
	char *key = xasprintf("%s|%s", principal ? principal : call->principal, name);
	json_t *s = json_object_get(sc->settings, key);
	if (!s) {
		free(key);
		return err_set(err, ERR_INVALID_PARAM, "The setting %s is not set for principal %s", name,
			       principal ? principal : call->principal);
	}
	*out = json_pack("{s:O}", "setting", s);
	json_object_del(sc->settings, key);
	ecs__persist(ecs__of(call), sc, ECS_KIND_SETTING, key, NULL);
	free(key);
	return 0;
}

/* The effective value of `name` for principal: its own, else the account default, else AWS's. */
static json_t *effective(struct ecs_scope *sc, const struct setting_def *d, const char *principal,
			 const char *root)
{
	char *key = xasprintf("%s|%s", principal, d->name);
	json_t *s = json_object_get(sc->settings, key);
	free(key);
	if (!s) {
		key = xasprintf("%s|%s", root, d->name);
		s = json_object_get(sc->settings, key);
		free(key);
	}
	if (s) {
		json_t *r = json_deep_copy(s);
		json_object_set_new(r, "principalArn", json_string(principal));
		return r;
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "name", d->name, "value", d->def, "principalArn", principal,
			 "type", "aws_managed");
}

int ecs__list_account_settings(struct api_call *call, json_t *in, json_t **out, struct err **err)
{
	const char *name, *value, *principal;
	bool eff = false;
	long long max;
	char *after = NULL;
	const struct setting_def *d = NULL;
	if (jv_str(in, "name", false, &name, err) < 0 || jv_str(in, "value", false, &value, err) < 0 ||
	    jv_str(in, "principalArn", false, &principal, err) < 0 ||
	    jv_bool(in, "effectiveSettings", false, &eff, NULL, err) < 0 ||
	    page_max_results(in, 10, 10, &max, err) < 0 || page_after(in, &after, err) < 0)
		return -1;
	if ((name && check_name(name, &d, err) < 0) ||
	    (principal && check_principal(call, principal, err) < 0)) {
		free(after);
		return -1;
	}
	if (value && !name) {
		free(after);
		return err_set(err, ERR_INVALID_PARAM, "value can only be given together with name");
	}
	struct ecs_scope *sc = ecs__call_scope(call);
	char *root = root_arn(call);
	const char *who = principal ? principal : call->principal;
	json_t *all = json_array();
	if (eff) {
		for (size_t i = 0; i < NSETTINGS; i++)
			if (!d || d == &setting_defs[i])
				json_array_append_new(all, effective(sc, &setting_defs[i], who, root));
	} else {
		/* Without effectiveSettings: only what was set for the principal (or, when none is
		 * named, for the caller and the account default). */
		for (size_t i = 0; i < NSETTINGS; i++) {
			if (d && d != &setting_defs[i])
				continue;
			const char *whos[2] = {who, principal ? NULL : root};
			for (int w = 0; w < 2; w++) {
				if (!whos[w] || (w == 1 && strcmp(whos[0], whos[1]) == 0))
					continue;
				char *key = xasprintf("%s|%s", whos[w], setting_defs[i].name);
				json_t *s = json_object_get(sc->settings, key);
				free(key);
				if (s)
					json_array_append(all, s);
			}
		}
	}
	free(root);
	json_t *settings = json_array();
	size_t i, pos = 0, shown = 0;
	json_t *s;
	json_t *res = json_object();
	json_array_foreach (all, i, s) {
		if (value && strcmp(json_string_value(json_object_get(s, "value")), value) != 0)
			continue;
		pos++;
		char key[16];
		snprintf(key, sizeof(key), "%06zu", pos);
		if (after && strcmp(key, after) <= 0)
			continue;
		if (shown == (size_t)max) {
			snprintf(key, sizeof(key), "%06zu", pos - 1);
			page_set_token(res, key);
			break;
		}
		json_array_append(settings, s);
		shown++;
	}
	json_decref(all);
	free(after);
	json_object_set_new(res, "settings", settings);
	*out = res;
	return 0;
}
