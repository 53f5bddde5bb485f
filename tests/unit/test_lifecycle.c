/* Unit tests for ECR lifecycle policies (registry/lifecycle.c): the policy text checks with the
 * member each message names, and the rule evaluation on fixed push times: priority order and an
 * image matched by an earlier rule being safe from later ones (the ECR guide's examples), image
 * counts, ages in days, tag prefixes and patterns, untagged and any, images inside an index. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "registry/reg-int.h"

#define NOW 1700000000.0
#define DAY 86400.0

/* A rule with a description (so that even one-rule policies reach ECR's 100-character minimum). */
#define RULE(prio, sel)                                                                              \
	"{\"rulePriority\":" #prio ",\"description\":\"a rule under test\",\"selection\":{" sel "}," \
	"\"action\":{\"type\":\"expire\"}}"
#define POLICY(rules) "{\"rules\":[" rules "]}"
#define COUNT(n)      "\"countType\":\"imageCountMoreThan\",\"countNumber\":" #n
#define DAYS(n)	      "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":" #n
#define ANY	      "\"tagStatus\":\"any\","
#define UNTAGGED      "\"tagStatus\":\"untagged\","
#define PREFIXES(l)   "\"tagStatus\":\"tagged\",\"tagPrefixList\":[" l "],"
#define PATTERNS(l)   "\"tagStatus\":\"tagged\",\"tagPatternList\":[" l "],"

struct img {
	const char *digest;
	double age_days; /* pushed this many days before NOW */
	const char *tags[4];
	bool in_index;
};

static struct reg_lc_policy *parse_ok(const char *text)
{
	struct err *e = NULL;
	struct reg_lc_policy *p = reg__lifecycle_parse(text, strlen(text), &e);
	if (!p) {
		print_error("policy refused: %s\n%s\n", e->msg, text);
		err_free(e);
		fail();
	}
	return p;
}

static void parse_bad(const char *text, const char *want)
{
	struct err *e = NULL;
	struct reg_lc_policy *p = reg__lifecycle_parse(text, strlen(text), &e);
	if (p) {
		reg__lifecycle_free(p);
		print_error("policy accepted, want an error containing \"%s\":\n%s\n", want, text);
		fail();
	}
	if (e->kind != ERR_INVALID_PARAM || !strstr(e->msg, want)) {
		print_error("got %s \"%s\"\nwant invalid-parameter containing \"%s\"\n",
			    err_kind_name(e->kind), e->msg, want);
		err_free(e);
		fail();
	}
	err_free(e);
}

/* Evaluates text over imgs at NOW and compares the rule that expires each image with want[]. */
static void expect_expiry(const char *text, const struct img *imgs, size_t n, const long long *want)
{
	struct reg_lc_policy *p = parse_ok(text);
	struct reg_lc_image *li = calloc(n, sizeof(*li));
	long long *got = calloc(n, sizeof(*got));
	for (size_t i = 0; i < n; i++) {
		size_t nt = 0;
		while (nt < 4 && imgs[i].tags[nt])
			nt++;
		li[i] = (struct reg_lc_image){imgs[i].digest, NOW - imgs[i].age_days * DAY, imgs[i].tags, nt,
					      imgs[i].in_index};
	}
	reg__lifecycle_eval(p, li, n, NOW, got);
	bool same = true;
	for (size_t i = 0; i < n; i++)
		same = same && got[i] == want[i];
	if (!same) {
		for (size_t i = 0; i < n; i++)
			print_error("%s (%.1f days): expired by rule %lld, want %lld\n", imgs[i].digest,
				    imgs[i].age_days, got[i], want[i]);
	}
	free(li);
	free(got);
	reg__lifecycle_free(p);
	assert_true(same);
}

/* ---- parsing ---- */

static void test_parse_valid(void **state)
{
	(void)state;
	struct reg_lc_policy *p =
		parse_ok(POLICY(RULE(10, ANY DAYS(30)) "," RULE(1, PREFIXES("\"prod\"") COUNT(5)) "," RULE(
			3, PATTERNS("\"rc-*\",\"*-amd64\"") COUNT(1)) "," RULE(2, UNTAGGED DAYS(1))));
	assert_int_equal(p->nrules, 4);
	/* sorted by rulePriority */
	assert_int_equal(p->rules[0].priority, 1);
	assert_int_equal(p->rules[0].status, REG_LC_TAGGED);
	assert_int_equal(p->rules[0].nprefixes, 1);
	assert_string_equal(p->rules[0].prefixes[0], "prod");
	assert_false(p->rules[0].by_days);
	assert_int_equal(p->rules[0].count, 5);
	assert_int_equal(p->rules[1].priority, 2);
	assert_int_equal(p->rules[1].status, REG_LC_UNTAGGED);
	assert_true(p->rules[1].by_days);
	assert_int_equal(p->rules[2].priority, 3);
	assert_int_equal(p->rules[2].npatterns, 2);
	assert_string_equal(p->rules[2].patterns[1], "*-amd64");
	assert_int_equal(p->rules[3].priority, 10);
	assert_int_equal(p->rules[3].status, REG_LC_ANY);
	assert_int_equal(p->rules[3].count, 30);
	reg__lifecycle_free(p);
	/* The example of the ECR guide, as users paste it. */
	p = parse_ok("{\n  \"rules\": [\n    {\n      \"rulePriority\": 1,\n      \"description\": \"Expire "
		     "images "
		     "older than 14 days\",\n      \"selection\": {\n        \"tagStatus\": \"untagged\",\n  "
		     "      "
		     "\"countType\": \"sinceImagePushed\",\n        \"countUnit\": \"days\",\n        "
		     "\"countNumber\": 14\n      },\n      \"action\": {\n        \"type\": \"expire\"\n     "
		     " }\n    "
		     "}\n  ]\n}");
	reg__lifecycle_free(p);
	/* storageClass "standard" is what ECR assumes anyway */
	p = parse_ok(POLICY(RULE(1, ANY COUNT(3) ",\"storageClass\":\"standard\"")));
	reg__lifecycle_free(p);
}

static void test_parse_invalid(void **state)
{
	(void)state;
	parse_bad("{\"rules\":[]}", "Member must have length between 100 and 30720");
	parse_bad(POLICY(RULE(1, ANY COUNT(3))) "  and then some words that are not JSON at all", "not JSON");
	parse_bad("[" RULE(1, ANY COUNT(3)) "]", "must be a JSON object");
	parse_bad("{\"rules\":[],\"description\":\"an empty list of rules is no policy at all, is it not? "
		  "Here is more text to reach a hundred\"}",
		  "unknown member \"description\"");
	parse_bad("{\"rules\":{\"a\":1},\"x\":"
		  "\"0123456789012345678901234567890123456789012345678901234567890123456789"
		  "01234567890123456789\"}",
		  "unknown member \"x\"");
	parse_bad("{\"rules\":\"none\"}                                                                      "
		  "          "
		  "       ",
		  "Lifecycle policy validation failure: rules must be a list of 1 to 50 rules");
	parse_bad(POLICY(RULE(0, ANY COUNT(3))),
		  "rules[0].rulePriority is required and must be an integer greater than 0");
	parse_bad(POLICY(RULE(-4, ANY COUNT(3))), "rules[0].rulePriority");
	parse_bad(POLICY(RULE(1.5, ANY COUNT(3))), "rules[0].rulePriority");
	parse_bad(POLICY(RULE(1, PREFIXES("\"a\"") COUNT(3)) "," RULE(1, PREFIXES("\"b\"") COUNT(3))),
		  "rules[0] and rules[1] have the same rulePriority 1");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"tagged\"," COUNT(3))),
		  "rules[0].selection: tagStatus tagged requires a tagPrefixList or a tagPatternList");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[]," COUNT(3))),
		  "rules[0].selection.tagPrefixList must be a list of 1 to 100 strings");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"\"]," COUNT(3))),
		  "rules[0].selection.tagPrefixList[0] must be a string");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"a\"],\"tagPatternList\":[\"b*"
				 "\"]," COUNT(3))),
		  "not both");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"untagged\",\"tagPrefixList\":[\"a\"]," COUNT(3))),
		  "only allowed with tagStatus tagged");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"any\",\"tagPatternList\":[\"a*\"]," COUNT(3))),
		  "only allowed with tagStatus tagged");
	parse_bad(POLICY(RULE(1, "\"tagStatus\":\"TAGGED\",\"tagPrefixList\":[\"a\"]," COUNT(3))),
		  "rules[0].selection.tagStatus must be tagged, untagged or any, not \"TAGGED\"");
	parse_bad(POLICY(RULE(1, COUNT(3))), "rules[0].selection.tagStatus is required");
	parse_bad(POLICY(RULE(1, PATTERNS("\"a*b*c*d*e*\"") COUNT(3))),
		  "rules[0].selection.tagPatternList[0] has 5 wildcards (*); at most 4 are allowed");
	parse_bad(
		POLICY(RULE(1, ANY
			    "\"countType\":\"imageCountMoreThan\",\"countUnit\":\"days\",\"countNumber\":3")),
		"rules[0].selection.countUnit is not allowed with countType imageCountMoreThan");
	parse_bad(POLICY(RULE(1, ANY "\"countType\":\"sinceImagePushed\",\"countNumber\":3")),
		  "rules[0].selection.countUnit must be \"days\" with countType sinceImagePushed");
	parse_bad(
		POLICY(RULE(1, ANY
			    "\"countType\":\"sinceImagePushed\",\"countUnit\":\"hours\",\"countNumber\":3")),
		"countUnit must be \"days\"");
	parse_bad(POLICY(RULE(1, ANY COUNT(0))),
		  "rules[0].selection.countNumber is required and must be an integer greater than 0");
	parse_bad(POLICY(RULE(1, ANY "\"countType\":\"imageCountMoreThan\",\"countNumber\":\"3\"")),
		  "countNumber is required");
	parse_bad(POLICY(RULE(1, ANY "\"countNumber\":3")), "rules[0].selection.countType is required");
	parse_bad(POLICY(RULE(1, ANY "\"countType\":\"imageCountLessThan\",\"countNumber\":3")),
		  "countType must be imageCountMoreThan or sinceImagePushed");
	parse_bad(POLICY(RULE(1, ANY
			      "\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":3")),
		  "countType sinceImagePulled is not supported");
	parse_bad(POLICY(RULE(1, ANY COUNT(3) ",\"storageClass\":\"archive\"")), "only \"standard\"");
	parse_bad(POLICY(RULE(1, ANY COUNT(3) ",\"tagPrefixes\":[\"a\"]")),
		  "rules[0].selection: unknown member \"tagPrefixes\"");
	parse_bad(POLICY("{\"rulePriority\":1,\"selection\":{" ANY COUNT(
			  3) "},\"action\":{\"type\":\"delete\"}}"),
		  "rules[0].action.type must be expire, not \"delete\"");
	parse_bad(POLICY("{\"rulePriority\":1,\"selection\":{" ANY COUNT(
			  3) "},\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}"),
		  "transition is not supported");
	parse_bad(POLICY("{\"rulePriority\":1,\"description\":\"no action given\",\"selection\":{" ANY COUNT(
			  3) "}}"),
		  "rules[0].action is required");
	parse_bad(POLICY("{\"rulePriority\":1,\"description\":\"no selection is given in this "
			 "rule\",\"action\":{\"type\":"
			 "\"expire\"}}"),
		  "rules[0].selection is required");
	parse_bad(POLICY("{\"rulePriority\":1,\"description\":7,\"selection\":{" ANY COUNT(
			  3) "},\"action\":{\"type\":\"expire\"}}"),
		  "rules[0].description must be a string");
	parse_bad(POLICY(RULE(1, ANY COUNT(3)) "," RULE(2, PREFIXES("\"a\"") COUNT(3))),
		  "rules[0] has tagStatus any: it must have the highest rulePriority");
	parse_bad(POLICY(RULE(1, UNTAGGED COUNT(3)) "," RULE(2, UNTAGGED DAYS(3))),
		  "only one rule may select untagged images");
	parse_bad(POLICY(RULE(1, PREFIXES("\"a\",\"b\"") COUNT(3)) "," RULE(2,
									    PREFIXES("\"b\",\"a\"") DAYS(3))),
		  "rules[0] and rules[1] have the same tagPrefixList");
	parse_bad(POLICY(RULE(1, ANY COUNT(3)) ",[]"), "rules[1] must be an object");
	parse_bad("{\"rules\":[" RULE(1, ANY COUNT(3)) "],\"rules\":[" RULE(2, ANY COUNT(3)) "]}",
		  "not JSON");
}

static void test_parse_rules_max(void **state)
{
	(void)state;
	char text[REG_LIFECYCLE_TEXT_MAX + 1];
	size_t n = 0;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"rules\":[");
	for (int i = 1; i <= REG_LIFECYCLE_RULES_MAX + 1; i++)
		n += (size_t)snprintf(
			text + n, sizeof(text) - n,
			"%s{\"rulePriority\":%d,\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":"
			"[\"p%d\"]," COUNT(3) "},\"action\":{\"type\":\"expire\"}}",
			i > 1 ? "," : "", i, i);
	snprintf(text + n, sizeof(text) - n, "]}");
	parse_bad(text, "rules must be a list of 1 to 50 rules");
}

/* ---- evaluation ---- */

static void test_count_keeps_newest(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 5, {"v1"}, false}, {"sha256:b", 4, {"v2"}, false},
		{"sha256:c", 3, {"v3"}, false}, {"sha256:d", 2, {NULL}, false},
		{"sha256:e", 1, {"v5"}, false},
	};
	const long long want[] = {1, 1, 1, 0, 0};
	expect_expiry(POLICY(RULE(1, ANY COUNT(2))), imgs, 5, want);
	const long long none[] = {0, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, ANY COUNT(5))), imgs, 5, none);
	const long long all_but_one[] = {7, 7, 7, 7, 0};
	expect_expiry(POLICY(RULE(7, ANY COUNT(1))), imgs, 5, all_but_one);
}

static void test_count_ties_by_digest(void **state)
{
	(void)state;
	/* The same push time: the order of storage must not decide, the digest does. */
	const struct img imgs[] = {
		{"sha256:c", 1, {NULL}, false},
		{"sha256:a", 1, {NULL}, false},
		{"sha256:b", 1, {NULL}, false},
	};
	const long long want[] = {1, 0, 1};
	expect_expiry(POLICY(RULE(1, UNTAGGED COUNT(1))), imgs, 3, want);
}

static void test_days(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 30, {"old"}, false}, {"sha256:b", 7.01, {NULL}, false},
		{"sha256:c", 7, {NULL}, false},	  {"sha256:d", 6.99, {"x"}, false},
		{"sha256:e", 0, {"new"}, false},
	};
	/* "more than 7 days": exactly 7 days is kept */
	const long long want[] = {1, 1, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, ANY DAYS(7))), imgs, 5, want);
	const long long untagged[] = {0, 1, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, UNTAGGED DAYS(7))), imgs, 5, untagged);
	const long long fresh[] = {0, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, ANY DAYS(31))), imgs, 5, fresh);
}

static void test_untagged_leaves_tagged(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 9, {NULL}, false}, {"sha256:b", 8, {"keep"}, false},
		{"sha256:c", 7, {NULL}, false}, {"sha256:d", 6, {"keep2"}, false},
		{"sha256:e", 5, {NULL}, false},
	};
	const long long want[] = {1, 0, 1, 0, 0};
	expect_expiry(POLICY(RULE(1, UNTAGGED COUNT(1))), imgs, 5, want);
	/* a tagged-only rule never touches untagged images */
	const long long tagged[] = {0, 2, 0, 0, 0};
	expect_expiry(POLICY(RULE(2, PATTERNS("\"*\"") COUNT(1))), imgs, 5, tagged);
}

static void test_prefixes(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 9, {"prod-1", "beta-1"}, false}, {"sha256:b", 8, {"prod-2"}, false},
		{"sha256:c", 7, {"beta-3"}, false},	      {"sha256:d", 6, {"production"}, false},
		{"sha256:e", 5, {"myprod"}, false},	      {"sha256:f", 4, {NULL}, false},
	};
	/* "prod" selects a, b, d (prefix, not substring); the newest of them, d, is kept */
	const long long want[] = {1, 1, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, PREFIXES("\"prod\"") COUNT(1))), imgs, 6, want);
	/* several prefixes: an image must match all of them (with any of its tags) */
	const long long both[] = {1, 0, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, PREFIXES("\"prod\",\"beta\"") DAYS(8))), imgs, 6, both);
}

static void test_patterns(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 9, {"latest"}, false},	   {"sha256:b", 8, {"latest2"}, false},
		{"sha256:c", 7, {"v1-rc1-amd64"}, false},  {"sha256:d", 6, {"v1-amd64"}, false},
		{"sha256:e", 5, {"rc", "x-amd64"}, false}, {"sha256:f", 4, {"feature-rc2-arm64"}, false},
	};
	/* no wildcard: the tag itself */
	const long long exact[] = {1, 0, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, PATTERNS("\"latest\"") DAYS(1))), imgs, 6, exact);
	/* a wildcard anywhere, matching also nothing ("latest*" matches "latest") */
	const long long star[] = {1, 1, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, PATTERNS("\"latest*\"") DAYS(1))), imgs, 6, star);
	const long long middle[] = {0, 0, 1, 0, 0, 1};
	expect_expiry(POLICY(RULE(1, PATTERNS("\"*-rc*-*64\"") DAYS(1))), imgs, 6, middle);
	/* all patterns must match, each with any tag of the image */
	const long long all[] = {0, 0, 1, 0, 1, 0};
	expect_expiry(POLICY(RULE(1, PATTERNS("\"*rc*\",\"*amd64\"") DAYS(1))), imgs, 6, all);
}

static void test_selects(void **state)
{
	(void)state;
	const char *pats[] = {"a*b*c"};
	struct reg_lc_rule rule = {.priority = 1, .status = REG_LC_TAGGED, .patterns = pats, .npatterns = 1};
	const char *t1[] = {"abc"}, *t2[] = {"aXbYc"}, *t3[] = {"aXbYcZ"}, *t4[] = {"ab"},
		   *t5[] = {"acb", "abbc"};
	assert_true(reg__lifecycle_selects(&rule, t1, 1));
	assert_true(reg__lifecycle_selects(&rule, t2, 1));
	assert_false(reg__lifecycle_selects(&rule, t3, 1));
	assert_false(reg__lifecycle_selects(&rule, t4, 1));
	assert_true(reg__lifecycle_selects(&rule, t5, 2));
	assert_false(reg__lifecycle_selects(&rule, NULL, 0));
	rule.status = REG_LC_UNTAGGED;
	assert_true(reg__lifecycle_selects(&rule, NULL, 0));
	assert_false(reg__lifecycle_selects(&rule, t1, 1));
	rule.status = REG_LC_ANY;
	assert_true(reg__lifecycle_selects(&rule, NULL, 0));
	assert_true(reg__lifecycle_selects(&rule, t3, 1));
}

/* The ECR guide's "Example A": rule 1 keeps one prod image and expires A; rule 2 would expire A
 * and B (keeping C, the newest beta), but both match rule 1's selection and are safe from it. */
static void test_guide_example_a(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 10, {"beta-1", "prod-1"}, false},
		{"sha256:b", 9, {"beta-2", "prod-2"}, false},
		{"sha256:c", 8, {"beta-3"}, false},
	};
	const long long want[] = {1, 0, 0};
	expect_expiry(
		POLICY(RULE(1, PREFIXES("\"prod\"") COUNT(1)) "," RULE(2, PREFIXES("\"beta\"") COUNT(1))),
		imgs, 3, want);
	/* The priorities swapped: beta first (keeps C, expires A and B), prod never gets to act. */
	const long long swapped[] = {1, 1, 0};
	expect_expiry(
		POLICY(RULE(2, PREFIXES("\"prod\"") COUNT(1)) "," RULE(1, PREFIXES("\"beta\"") COUNT(1))),
		imgs, 3, swapped);
}

/* Images that an earlier rule selected still count for a later rule's imageCountMoreThan. */
static void test_counted_but_not_marked(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 5, {"release-1"}, false},
		{"sha256:b", 4, {"dev-1"}, false},
		{"sha256:c", 3, {"release-2"}, false},
		{"sha256:d", 2, {"dev-2"}, false},
	};
	/* Rule 1 keeps every release; rule 2 (any) keeps the newest 2 of all four, which are c and
	 * d: a and b are beyond the count, a is safe (rule 1 selected it), b expires. */
	const long long want[] = {0, 2, 0, 0};
	expect_expiry(POLICY(RULE(1, PREFIXES("\"release\"") COUNT(100)) "," RULE(2, ANY COUNT(2))), imgs, 4,
		      want);
	/* A rule expiring what it selects does not free room for a later rule either. */
	const long long first[] = {1, 2, 0, 0};
	expect_expiry(POLICY(RULE(1, PREFIXES("\"release\"") COUNT(1)) "," RULE(2, ANY COUNT(2))), imgs, 4,
		      first);
}

static void test_priority_order_and_any(void **state)
{
	(void)state;
	const struct img imgs[] = {
		{"sha256:a", 40, {"prod-1"}, false}, {"sha256:b", 35, {NULL}, false},
		{"sha256:c", 31, {"test-1"}, false}, {"sha256:d", 20, {"prod-2"}, false},
		{"sha256:e", 10, {NULL}, false},     {"sha256:f", 1, {"test-2"}, false},
	};
	/* keep all prod images; untagged ones beyond the newest; anything else after 30 days */
	const long long want[] = {0, 2, 9, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, PATTERNS("\"prod*\"") COUNT(9999)) "," RULE(
			      2, UNTAGGED COUNT(1)) "," RULE(9, ANY DAYS(30))),
		      imgs, 6, want);
	/* Without the untagged rule, b falls to the any rule instead. */
	const long long by_any[] = {0, 9, 9, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, PATTERNS("\"prod*\"") COUNT(9999)) "," RULE(9, ANY DAYS(30))), imgs, 6,
		      by_any);
}

static void test_index_children_kept(void **state)
{
	(void)state;
	/* b and c are the per-platform manifests of the tagged index d: never expired on their own,
	 * though they are untagged and old; they still count towards the untagged count. */
	const struct img imgs[] = {
		{"sha256:a", 50, {NULL}, false}, {"sha256:b", 40, {NULL}, true},
		{"sha256:c", 40, {NULL}, true},	 {"sha256:d", 40, {"multi"}, false},
		{"sha256:e", 1, {NULL}, false},
	};
	const long long want[] = {1, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, UNTAGGED DAYS(10))), imgs, 5, want);
	const long long counted[] = {1, 0, 0, 0, 0};
	expect_expiry(POLICY(RULE(1, UNTAGGED COUNT(1))), imgs, 5, counted);
}

static void test_empty_repository(void **state)
{
	(void)state;
	expect_expiry(POLICY(RULE(1, ANY COUNT(1))), NULL, 0, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_rules_max),
		cmocka_unit_test(test_count_keeps_newest),
		cmocka_unit_test(test_count_ties_by_digest),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_untagged_leaves_tagged),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_selects),
		cmocka_unit_test(test_guide_example_a),
		cmocka_unit_test(test_counted_but_not_marked),
		cmocka_unit_test(test_priority_order_and_any),
		cmocka_unit_test(test_index_children_kept),
		cmocka_unit_test(test_empty_repository),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
