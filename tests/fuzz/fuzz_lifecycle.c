/* libFuzzer target for ECR lifecycle policy texts (registry/lifecycle.c), which PutLifecyclePolicy
 * and StartLifecyclePolicyPreview take from any caller. The input is the policy text. Besides
 * crashes, leaks and undefined behaviour it checks: a refusal is one InvalidParameterException with
 * a message; an accepted policy has 1 to REG_LIFECYCLE_RULES_MAX rules sorted by unique priorities
 * >= 1, an "any" rule only last, at most one untagged rule, tag lists exactly on tagged rules, counts
 * >= 1; evaluated over a fixed set of images, every image is expired by no rule or by one of the
 * policy's rules, which selects it, and no image is expired by a rule after one that selected it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/reg-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_lifecycle: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define NOW 1700000000.0

static const char *const t_prod[] = {"prod-1", "latest"};
static const char *const t_dev[] = {"dev-7"};
static const char *const t_rc[] = {"v1-rc1-amd64", "prod-2"};
static const struct reg_lc_image images[] = {
	{"sha256:a", NOW - 40 * 86400.0, t_prod, 2, false}, {"sha256:b", NOW - 30 * 86400.0, NULL, 0, false},
	{"sha256:c", NOW - 9 * 86400.0, t_dev, 1, false},   {"sha256:d", NOW - 9 * 86400.0, NULL, 0, true},
	{"sha256:e", NOW - 2 * 86400.0, t_rc, 2, false},    {"sha256:f", NOW - 60.0, NULL, 0, false},
};
#define NIMAGES (sizeof(images) / sizeof(images[0]))

static void check_policy(const struct reg_lc_policy *p)
{
	size_t untagged = 0;
	CHECK(p->nrules >= 1 && p->nrules <= REG_LIFECYCLE_RULES_MAX);
	for (size_t i = 0; i < p->nrules; i++) {
		const struct reg_lc_rule *r = &p->rules[i];
		CHECK(r->priority >= 1);
		CHECK(i == 0 || p->rules[i - 1].priority < r->priority);
		CHECK(r->status != REG_LC_ANY || i == p->nrules - 1);
		untagged += r->status == REG_LC_UNTAGGED;
		CHECK((r->status == REG_LC_TAGGED) == (r->prefixes || r->patterns));
		CHECK(!(r->prefixes && r->patterns));
		CHECK(!r->nprefixes == !r->prefixes && !r->npatterns == !r->patterns);
		for (size_t j = 0; j < r->nprefixes; j++)
			CHECK(r->prefixes[j][0]);
		for (size_t j = 0; j < r->npatterns; j++)
			CHECK(r->patterns[j][0]);
		CHECK(r->count >= 1);
	}
	CHECK(untagged <= 1);
}

static void check_eval(const struct reg_lc_policy *p)
{
	long long by[NIMAGES];
	reg__lifecycle_eval(p, images, NIMAGES, NOW, by);
	for (size_t i = 0; i < NIMAGES; i++) {
		if (!by[i])
			continue;
		CHECK(!images[i].in_index);
		bool found = false;
		for (size_t r = 0; r < p->nrules && !found; r++) {
			const struct reg_lc_rule *rule = &p->rules[r];
			bool sel = reg__lifecycle_selects(rule, images[i].tags, images[i].ntags);
			if (rule->priority == by[i]) {
				CHECK(sel);
				found = true;
			} else {
				CHECK(!sel); /* an earlier rule selected it: it was safe from this one */
			}
		}
		CHECK(found);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err *e = NULL;
	struct reg_lc_policy *p = reg__lifecycle_parse((const char *)data, size, &e);
	if (!p) {
		CHECK(e && e->kind == ERR_INVALID_PARAM && e->msg[0]);
		err_free(e);
		return 0;
	}
	CHECK(!e);
	CHECK(size >= REG_LIFECYCLE_TEXT_MIN && size <= REG_LIFECYCLE_TEXT_MAX);
	check_policy(p);
	check_eval(p);
	reg__lifecycle_free(p);
	return 0;
}
