/* Unit tests for the cluster query language (sched/cql.h): every example of the ECS Developer
 * Guide ("Cluster query language", "Task placement constraints") selects the instances it says it
 * does; every subject and operator (symbol and word forms), the boolean operators and their
 * precedence, quoting, dates, versions and regular expressions; which operators each subject takes;
 * error messages that point at the offending token; and the canonical form reading back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sched/cql.h"

/* ---- a fake instance ---- */

struct fake {
	const char *attrs[8][2]; /* name, value ("" = an attribute without a value) */
	const char *groups[4];
	long counts[4];
	struct cql_instance in;
};

static const char *f_attribute(const void *ctx, const char *name)
{
	const struct fake *f = ctx;
	for (int i = 0; i < 8 && f->attrs[i][0]; i++)
		if (!strcmp(f->attrs[i][0], name))
			return f->attrs[i][1];
	return NULL;
}

static long f_group_tasks(const void *ctx, const char *group)
{
	const struct fake *f = ctx;
	for (int i = 0; i < 4 && f->groups[i]; i++)
		if (!strcmp(f->groups[i], group))
			return f->counts[i];
	return 0;
}

static bool f_any_group(const void *ctx, bool (*fn)(void *arg, const char *group), void *arg)
{
	const struct fake *f = ctx;
	for (int i = 0; i < 4 && f->groups[i]; i++)
		if (f->counts[i] > 0 && fn(arg, f->groups[i]))
			return true;
	return false;
}

/* 2018-02-12T10:00:00Z and 2018-02-13T00:00:00Z */
#define FEB12_10H 1518429600.25
#define FEB13	  1518480000.0

/* t2: a t2.small in us-east-1a, stack=prod, one task of service:production. */
static struct fake t2 = {
	.attrs = {{"ecs.instance-type", "t2.small"},
		  {"ecs.availability-zone", "us-east-1a"},
		  {"ecs.os-type", "linux"},
		  {"ecs.cpu-architecture", "x86_64"},
		  {"ecs.ami-id", "ami-1234abcd"},
		  {"stack", "prod"},
		  {"cores", "4"}},
	.groups = {"service:production"},
	.counts = {1},
	.in = {.agent_connected = true,
	       .agent_version = "1.14.4",
	       .ec2_instance_id = "i-abcd1234",
	       .registered_at = FEB12_10H,
	       .running_tasks = 1},
};

/* g2d: a g2.2xlarge in us-east-1d, stack=dev, two database tasks, agent disconnected. */
static struct fake g2d = {
	.attrs = {{"ecs.instance-type", "g2.2xlarge"},
		  {"ecs.availability-zone", "us-east-1d"},
		  {"ecs.os-type", "linux"},
		  {"stack", "dev"},
		  {"cores", "16"},
		  {"gpu", ""}},
	.groups = {"database", "service:production"},
	.counts = {2, 0},
	.in = {.agent_connected = false,
	       .agent_version = "1.14.5",
	       .ec2_instance_id = "i-wxyx7890",
	       .registered_at = FEB13,
	       .running_tasks = 2},
};

/* g2a: a g2.8xlarge in us-east-1b without `stack`, no tasks, no agent version or EC2 id. */
static struct fake g2a = {
	.attrs = {{"ecs.instance-type", "g2.8xlarge"},
		  {"ecs.availability-zone", "us-east-1b"},
		  {"cores", "9"}},
	.in = {.agent_connected = true, .registered_at = FEB13 + 86400 * 30, .running_tasks = 0},
};

static int setup(void **state)
{
	struct fake *all[] = {&t2, &g2d, &g2a};
	for (int i = 0; i < 3; i++) {
		all[i]->in.ctx = all[i];
		all[i]->in.attribute = f_attribute;
		all[i]->in.group_tasks = f_group_tasks;
		all[i]->in.any_group = f_any_group;
	}
	(void)state;
	return 0;
}

static struct cql_expr *parse_ok(const char *text)
{
	struct err *e = NULL;
	struct cql_expr *x = cql_parse(text, &e);
	if (!x)
		fail_msg("\"%s\" does not parse: %s", text, e->msg);
	assert_null(e);
	return x;
}

/* Evaluates text against t2, g2d and g2a and compares with the expected "tgx" mask, e.g. "t-x"
 * means t2 and g2a match and g2d does not. */
static void sel(const char *text, const char *expect)
{
	struct cql_expr *x = parse_ok(text);
	const struct fake *all[] = {&t2, &g2d, &g2a};
	char got[4] = "---";
	for (int i = 0; i < 3; i++)
		if (cql_eval(x, &all[i]->in))
			got[i] = "tgx"[i];
	if (strcmp(got, expect))
		fail_msg("\"%s\": selected %s, expected %s", text, got, expect);
	/* The canonical form selects the same. */
	char *canon = cql_format(x);
	struct cql_expr *y = parse_ok(canon);
	for (int i = 0; i < 3; i++)
		if (cql_eval(x, &all[i]->in) != cql_eval(y, &all[i]->in))
			fail_msg("\"%s\" and its canonical form \"%s\" differ", text, canon);
	free(canon);
	cql_free(y);
	cql_free(x);
}

/* Expects a parse error whose message contains needle. */
static void bad(const char *text, const char *needle)
{
	struct err *e = NULL;
	struct cql_expr *x = cql_parse(text, &e);
	if (x) {
		char *s = cql_format(x);
		fail_msg("\"%s\" parsed as \"%s\"; expected an error with \"%s\"", text, s, needle);
	}
	assert_non_null(e);
	assert_int_equal(e->kind, ERR_INVALID_PARAM);
	if (!strstr(e->msg, needle))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, e->msg, needle);
	err_free(e);
}

static void canon(const char *text, const char *expect)
{
	struct cql_expr *x = parse_ok(text);
	char *s = cql_format(x);
	if (strcmp(s, expect))
		fail_msg("\"%s\": canonical \"%s\", expected \"%s\"", text, s, expect);
	struct cql_expr *y = parse_ok(s);
	char *s2 = cql_format(y);
	assert_string_equal(s, s2);
	free(s);
	free(s2);
	cql_free(x);
	cql_free(y);
}

/* ---- the guide's examples ---- */

static void test_guide_examples(void **state)
{
	(void)state;
	/* Cluster query language: Example expressions */
	sel("attribute:ecs.instance-type == t2.small", "t--");
	sel("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", "t-x");
	sel("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", "--x");
	sel("task:group == service:production", "t--");
	sel("not(task:group == database)", "t-x");
	sel("runningTasksCount == 1", "t--");
	sel("agentVersion < 1.14.5", "t--");
	sel("registeredAt < 2018-02-13", "t--");
	sel("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", "tg-");
	/* Compound expressions: the shape the guide gives for precedence */
	sel("(attribute:stack == prod or attribute:stack == dev) and attribute:ecs.os-type == linux", "tg-");
	/* Task placement constraints: Filtering by attribute using the AWS CLI */
	sel("attribute:ecs.instance-type == g2.2xlarge", "-g-");
	sel("attribute:stack == prod", "t--");
	sel("attribute:stack != prod", "-g-"); /* instances with `stack` unless it is prod */
	sel("attribute:ecs.instance-type in [t2.small, t2.medium]", "t--");
	sel("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a", "t--");
	/* Example constraints */
	sel("attribute:ecs.instance-type =~ t2.*", "t--");
	sel("task:group == databases", "---");
}

static void test_operator_words(void **state)
{
	(void)state;
	static const char *pairs[][2] = {
		{"attribute:stack == prod", "attribute:stack equals prod"},
		{"attribute:stack != prod", "attribute:stack not_equals prod"},
		{"attribute:cores > 4", "attribute:cores greater_than 4"},
		{"attribute:cores >= 9", "attribute:cores greater_than_equal 9"},
		{"attribute:cores < 9", "attribute:cores less_than 9"},
		{"attribute:cores <= 9", "attribute:cores less_than_equal 9"},
		{"attribute:stack exists", "attribute:stack exists"},
		{"attribute:stack !exists", "attribute:stack not_exists"},
		{"attribute:stack in [prod, dev]", "attribute:stack in [prod, dev]"},
		{"attribute:stack !in [prod]", "attribute:stack not_in [prod]"},
		{"attribute:stack =~ p.*", "attribute:stack matches p.*"},
		{"attribute:stack !~ p.*", "attribute:stack not_matches p.*"},
		{"attribute:stack exists && attribute:cores > 4",
		 "attribute:stack exists and attribute:cores > 4"},
		{"attribute:stack == prod || attribute:cores > 10",
		 "attribute:stack == prod or attribute:cores > 10"},
		{"!attribute:stack exists", "not attribute:stack exists"},
	};
	static const char *expect[] = {"t--", "-g-", "-gx", "-gx", "t--", "t-x", "tg-", "--x",
				       "tg-", "-g-", "t--", "-g-", "-g-", "tg-", "--x"};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		sel(pairs[i][0], expect[i]);
		sel(pairs[i][1], expect[i]);
	}
}

static void test_subjects(void **state)
{
	(void)state;
	/* agentConnected: "true" / "false", case ignored */
	sel("agentConnected == true", "t-x");
	sel("agentConnected == false", "-g-");
	sel("agentConnected != true", "-g-");
	sel("agentConnected in [FALSE]", "-g-");
	sel("agentConnected not_in [true]", "-g-");
	sel("agentConnected =~ t.*", "t-x");
	sel("agentConnected !~ t.*", "-g-");
	/* agentVersion: versions compare component by component; no version matches nothing */
	sel("agentVersion == 1.14.5", "-g-");
	sel("agentVersion == 1.14.5.0", "-g-");
	sel("agentVersion != 1.14.5", "t--");
	sel("agentVersion > 1.9", "tg-");
	sel("agentVersion >= 1.14.5", "-g-");
	sel("agentVersion <= 1.14.5", "tg-");
	sel("agentVersion < 1.2", "---");
	/* ec2InstanceId */
	sel("ec2InstanceId == i-abcd1234", "t--");
	sel("ec2InstanceId != i-abcd1234", "-g-");
	sel("ec2InstanceId not_in [i-abcd1234]", "-g-");
	sel("ec2InstanceId =~ i-[a-d]+1234", "t--");
	sel("ec2InstanceId !~ i-a.*", "-g-");
	/* registeredAt: the four documented formats, offsets, whole seconds */
	sel("registeredAt < 2018-02-13", "t--");
	sel("registeredAt == 2018-02-13", "-g-");
	sel("registeredAt == 2018-02-13T00:00:00Z", "-g-");
	sel("registeredAt == 2018-02-13T00:00:00+00:00", "-g-");
	sel("registeredAt == 2018-02-13T00:00:00", "-g-");
	sel("registeredAt == 2018-02-13T01:00:00+01:00", "-g-");
	sel("registeredAt == 2018-02-12T19:00:00-05:00", "-g-");
	sel("registeredAt == 2018-02-12T10:00:00Z", "t--"); /* 10:00:00.25 counts as 10:00:00 */
	sel("registeredAt > 2018-02-12T10:00:00.000Z", "-gx");
	sel("registeredAt >= 2018-02-13", "-gx");
	sel("registeredAt <= 2018-02-13", "tg-");
	sel("registeredAt != 2018-02-13", "t-x");
	sel("registeredAt > 2018-03-01", "--x");
	/* runningTasksCount */
	sel("runningTasksCount == 0", "--x");
	sel("runningTasksCount != 1", "-gx");
	sel("runningTasksCount > 1", "-g-");
	sel("runningTasksCount >= 1", "tg-");
	sel("runningTasksCount < 2", "t-x");
	sel("runningTasksCount <= 2", "tgx");
	/* attribute: built-in and custom, no-value attributes */
	sel("attribute:ecs.os-type == linux", "tg-");
	sel("attribute:ecs.cpu-architecture == x86_64", "t--");
	sel("attribute:ecs.ami-id == ami-1234abcd", "t--");
	sel("attribute:gpu exists", "-g-");
	sel("attribute:gpu == ''", "-g-");
	sel("attribute:gpu !exists", "t-x");
	sel("attribute:nothing not_exists", "tgx");
	sel("attribute:nothing == x", "---");
	sel("attribute:nothing != x", "---");
	sel("attribute:nothing not_in [x]", "---");
	sel("attribute:nothing !~ x", "---");
	sel("attribute:nothing < x", "---");
}

static void test_attribute_ordering(void **state)
{
	(void)state;
	/* numbers compare as numbers (4 < 9 < 16), not bytewise */
	sel("attribute:cores > 5", "-gx");
	sel("attribute:cores < 10", "t-x");
	sel("attribute:cores > 4.5", "-gx");
	sel("attribute:cores >= -1", "tgx");
	/* dotted numbers compare as versions; other strings bytewise */
	sel("attribute:ecs.instance-type > g2.4xlarge", "t-x");
	sel("attribute:ecs.instance-type < h", "-gx");
	sel("attribute:stack > dev", "t--");
}

static void test_task_group(void **state)
{
	(void)state;
	sel("task:group == database", "-g-");
	sel("task:group != database", "t-x");
	sel("task:group == service:production", "t--"); /* a count of 0 is not hosting */
	sel("task:group in [database, service:production]", "tg-");
	sel("task:group not_in [database, service:production]", "--x");
	sel("task:group =~ service:.*", "t--");
	sel("task:group !~ data.*", "t-x");
	sel("task:group exists", "tg-");
	sel("task:group !exists", "--x");
	sel("task:group == 'service:production' and not task:group == database", "t--");
}

static void test_boolean(void **state)
{
	(void)state;
	/* and binds tighter than or */
	sel("attribute:stack == prod or attribute:stack == dev and agentConnected == true", "t--");
	sel("(attribute:stack == prod or attribute:stack == dev) and agentConnected == true", "t--");
	sel("attribute:stack == dev and agentConnected == false or runningTasksCount == 0", "-gx");
	sel("attribute:stack == dev and (agentConnected == true or runningTasksCount == 2)", "-g-");
	/* not binds tighter than and; nests */
	sel("not attribute:stack exists and runningTasksCount == 0", "--x");
	sel("not (attribute:stack exists and runningTasksCount == 1)", "-gx");
	sel("not not attribute:stack == prod", "t--");
	sel("!!attribute:stack == prod", "t--");
	sel("!(attribute:stack == prod)", "-gx");
	sel("((((attribute:stack == prod))))", "t--");
	sel("attribute:stack == prod&&runningTasksCount==1", "t--");
	sel("runningTasksCount==0||runningTasksCount==1", "t-x");
	sel("attribute:cores > 4 and attribute:cores < 16 and attribute:ecs.os-type !exists", "--x");
	sel("  \tattribute:stack\n==\tprod  ", "t--");
}

static void test_values_and_quotes(void **state)
{
	(void)state;
	sel("attribute:stack == 'prod'", "t--");
	sel("attribute:stack == \"prod\"", "t--");
	sel("attribute:stack in ['prod',\"dev\"]", "tg-");
	sel("attribute:stack in [prod]", "t--");
	sel("attribute:stack == 'and'", "---"); /* keywords need quotes */
	sel("task:group == 'service:production'", "t--");
	canon("attribute:x == 'a b'", "attribute:x == 'a b'");
	canon("attribute:x == \"it's\"", "attribute:x == \"it's\"");
	canon("attribute:x == 'in'", "attribute:x == 'in'");
	canon("attribute:x == ''", "attribute:x == ''");
	canon("attribute:x == 'a(b)'", "attribute:x == 'a(b)'");
}

static void test_regex(void **state)
{
	(void)state;
	/* The whole value must match, like Java's String.matches. */
	sel("attribute:ecs.instance-type =~ t2", "---");
	sel("attribute:ecs.instance-type =~ t2.small", "t--");
	sel("attribute:ecs.instance-type =~ .*xlarge", "-gx");
	/* Unquoted patterns keep their parentheses and classes, also inside parentheses. */
	sel("attribute:ecs.instance-type =~ (t2|g2).(small|2xlarge)", "tg-");
	sel("(attribute:ecs.instance-type =~ g2.[28]xlarge)", "-gx");
	sel("(attribute:ecs.instance-type =~ (g2).*) and agentConnected == true", "--x");
	sel("attribute:ecs.instance-type =~ [[:alpha:]][[:digit:]]\\.small", "t--");
	sel("attribute:ecs.instance-type =~ [)a-z0-9.]+", "tgx");
	sel("attribute:ecs.instance-type =~ 'g2 .*' or attribute:cores =~ 1\\d", "-g-");
	sel("attribute:cores =~ \\d", "t-x");
	sel("attribute:cores =~ \\D", "---");
	sel("attribute:cores =~ '[0-9]{1,2}'", "tgx");
	sel("attribute:stack =~ 'and'", "---");
	bad("attribute:x =~ (", "invalid regular expression");
	bad("attribute:x =~ a)(b", "expected 'and', 'or'");
	bad("attribute:x =~ 'a)(b'", "invalid regular expression");
	bad("attribute:x =~ (a)\\1", "back-references are not supported");
	bad("attribute:x =~ '(a{100}){100}'", "repetitions multiply past 4096 instructions");
	bad("attribute:x =~ ((a{20}){20}){20}", "repetitions multiply past 4096 instructions");
	bad("attribute:x =~ '(a{60}b{60}){60}'", "repetitions multiply past 4096 instructions");
	bad("attribute:x =~ ((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)",
	    "repetitions multiply past 4096 instructions");
	bad("attribute:x =~ (a?){2100}", "repetitions multiply past 4096 instructions");
	bad("attribute:x =~ a{4097}", "a repetition count is larger than 4096");
	/* Patterns that took glibc's regcomp seconds or its whole stack (found by fuzz_cql) are
	 * linear here: nested repetitions of what can match nothing, long chains of optional parts. */
	sel("attribute:cores =~ ((((()+)+)+)+)16", "-g-");
	sel("attribute:cores =~ (((((1?)+)6){1}c?)*d?)+", "-g-");
	sel("attribute:cores =~ (){4000}1(6|){1000}", "-g-");
	sel("attribute:cores =~ (1?){1000}6?", "-g-");
	sel("attribute:cores =~ (1*)*(6*)*", "-g-");
	sel("attribute:cores =~ ((((1?)+)6){1}c?)*", "-g-");
	sel("attribute:cores =~ (((1)+)?(6)*)+", "-g-");
	sel("attribute:cores =~ ((((((((((1))))))))))6", "-g-");
	sel("attribute:cores =~ '[0-9]{1,2000}'", "tgx");
	/* Java syntax beyond POSIX: (?:), \w \s \x \u, escapes and classes inside brackets */
	sel("attribute:ecs.instance-type =~ (?:t2|g2)\\.\\w+", "tgx");
	sel("attribute:ecs.instance-type =~ \\x74\\u0032[.]small", "t--");
	sel("attribute:ecs.instance-type =~ [\\w.]+", "tgx");
	sel("attribute:ecs.instance-type =~ [^\\s]*[\\]l]", "t--");
	sel("attribute:cores =~ [\\D1]6?", "-g-");
	sel("attribute:cores =~ ^16$", "-g-");
	bad("attribute:x =~ (?=a)", "lookaround, named groups and inline flags");
	bad("attribute:x =~ (?i)a", "lookaround, named groups and inline flags");
	bad("attribute:x =~ \\ba", "only the escapes");
	bad("attribute:x =~ [[.a.]]", "collating elements");
	bad("attribute:x =~ [[:word:]]", "unknown POSIX class");
	bad("attribute:x =~ [z-a]", "a range's end comes before its start");
	bad("attribute:x =~ [a-\\d]", "a range cannot end in a class");
	bad("attribute:x =~ [abc", "a bracket expression is not closed");
	bad("attribute:x =~ a{3,2}", "n greater than m");
	bad("attribute:x =~ a{3,x}", "a {n,m} repetition is malformed");
	bad("attribute:x =~ *a", "nothing to repeat");
	bad("attribute:x =~ '\\x4'", "\\x takes two hexadecimal digits");
	sel("attribute:cores =~ (1+)+6", "-g-");
	/* Java's lazy quantifiers match the same whole values; stacked ones are refused */
	sel("attribute:ecs.instance-type =~ t2.*?", "t--");
	sel("attribute:ecs.instance-type =~ g2.+?xlarge", "-gx");
	sel("attribute:cores =~ '1{1,2}?6'", "-g-");
	bad("attribute:x =~ a**", "a repetition operator cannot follow another");
	bad("attribute:x =~ a*+", "a repetition operator cannot follow another");
	bad("attribute:x =~ 'a??*'", "a repetition operator cannot follow another");
	bad("attribute:x =~ a{2}{3}", "a repetition operator cannot follow another");
	bad("attribute:x =~ '((((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))'",
	    "its parentheses nest deeper than 32");
	bad("attribute:x =~", "expected a regular expression");
}

static void test_operators_per_subject(void **state)
{
	(void)state;
	bad("agentConnected > true", "operator greater_than cannot be used with agentConnected");
	bad("agentConnected exists", "operator exists cannot be used with agentConnected");
	bad("agentVersion in [1.0]", "operator in cannot be used with agentVersion");
	bad("agentVersion =~ 1.*", "operator matches cannot be used with agentVersion");
	bad("ec2InstanceId >= i-1", "operator greater_than_equal cannot be used with ec2InstanceId");
	bad("ec2InstanceId !exists", "operator not_exists cannot be used with ec2InstanceId");
	bad("registeredAt in [2018-01-01]", "operator in cannot be used with registeredAt");
	bad("registeredAt exists", "operator exists cannot be used with registeredAt");
	bad("runningTasksCount !~ 1", "operator not_matches cannot be used with runningTasksCount");
	bad("runningTasksCount not_in [1]", "operator not_in cannot be used with runningTasksCount");
	bad("task:group < a", "operator less_than cannot be used with task:group");
	/* and each one they do take parses */
	const char *ok[] = {
		"agentConnected not_matches x",		"agentVersion <= 1",
		"ec2InstanceId matches i-.*",		"registeredAt greater_than_equal 2018-06-18",
		"runningTasksCount less_than 3",	"task:group not_exists",
		"attribute:a-b_c/d\\e.f greater_than x"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cql_free(parse_ok(ok[i]));
}

static void test_errors(void **state)
{
	(void)state;
	bad("attribute:foo == ==", "Invalid expression at position 18 ('=='): expected a value");
	bad("", "Invalid expression at position 1 (end of input): expected a subject");
	bad("   ", "at position 4 (end of input): expected a subject");
	bad("foo == bar", "at position 1 ('foo'): unknown subject");
	bad("instanceType == t2", "at position 1 ('instanceType'): unknown subject");
	bad("AgentConnected == true", "at position 1 ('AgentConnected'): unknown subject");
	bad("attribute:stack == prod and", "at position 28 (end of input): expected a subject");
	bad("attribute:stack prod", "at position 17 ('prod'): expected an operator after attribute:NAME");
	bad("runningTasksCount",
	    "at position 18 (end of input): expected an operator after runningTasksCount");
	bad("(attribute:stack exists", "at position 24 (end of input): expected ')'");
	bad("attribute:stack exists)", "at position 23 (')'): expected 'and', 'or' or the end");
	bad("attribute:stack == prod dev", "at position 25 ('dev'): expected 'and', 'or'");
	bad("attribute:stack in prod",
	    "at position 20 ('prod'): expected '[' to start the argument list of in");
	bad("attribute:stack in [prod, ]", "at position 27 (']'): expected a value");
	bad("attribute:stack in []", "at position 21 (']'): expected a value");
	bad("attribute:stack in [a b]", "at position 23 ('b'): expected ',' or ']'");
	bad("attribute:stack in [a", "at position 22 (end of input): expected ',' or ']'");
	bad("attribute:stack == 'prod", "at position 20 (''prod'): unterminated quoted string");
	bad("attribute:stack = prod", "at position 17 ('='): unexpected character");
	bad("attribute:stack == prod & x", "at position 25 ('&'): unexpected character");
	bad("attribute:stack == (prod)", "at position 20 ('('): expected a value");
	bad("attribute:stack == [prod]", "at position 20 ('['): expected a value");
	bad("attribute: == x", "at position 1 ('attribute:'): an attribute name is 1-128");
	bad("attribute:a,b == x", "at position 12 (','): expected an operator");
	bad("attribute:a$b == x", "an attribute name is 1-128");
	bad("runningTasksCount > many", "at position 21 ('many'): runningTasksCount takes an integer");
	bad("runningTasksCount > 1.5", "runningTasksCount takes an integer");
	bad("registeredAt < 2018-13-01", "at position 16 ('2018-13-01'): expected a date");
	bad("registeredAt < 2019-02-29", "expected a date");
	bad("registeredAt < 2018-02-13T25:00:00Z", "expected a date");
	bad("registeredAt < 2018-02-13T10:00:00+0100", "expected a date");
	bad("registeredAt < yesterday", "expected a date");
	bad("not", "at position 4 (end of input): expected a subject");
	bad("and attribute:a exists", "at position 1 ('and'): expected a subject");
	bad("attribute:a == b or or", "at position 21 ('or'): expected a subject");
	/* long tokens are shortened in messages */
	bad("attribute:a == b xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...')");
	/* nesting and length are bounded */
	char deep[200];
	memset(deep, '(', 40);
	snprintf(deep + 40, sizeof(deep) - 40, "attribute:a exists");
	bad(deep, "nests deeper than 32");
	memset(deep, '!', 40);
	bad(deep, "nests deeper than 32");
	memset(deep, '(', 32);
	snprintf(deep + 32, sizeof(deep) - 32, "attribute:a exists))))))))))))))))))))))))))))))))");
	cql_free(parse_ok(deep));
	char *longx = malloc(CQL_TEXT_MAX + 2);
	memset(longx, ' ', CQL_TEXT_MAX + 1);
	longx[CQL_TEXT_MAX + 1] = '\0';
	memcpy(longx, "attribute:a exists", 18);
	bad(longx, "longer than 2000 characters");
	longx[CQL_TEXT_MAX] = '\0';
	cql_free(parse_ok(longx));
	free(longx);
}

static void test_canonical(void **state)
{
	(void)state;
	canon("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d",
	      "(attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d)");
	canon("not(task:group == database)", "not task:group == database");
	canon("agentVersion less_than 1.14.5", "agentVersion < 1.14.5");
	canon("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", "ec2InstanceId in [i-abcd1234, i-wxyx7890]");
	canon("attribute:x not_exists or attribute:y exists and not attribute:z == 1",
	      "(attribute:x !exists or (attribute:y exists and not attribute:z == 1))");
	canon("((attribute:x exists or attribute:y exists)) and attribute:z exists",
	      "((attribute:x exists or attribute:y exists) and attribute:z exists)");
	canon("!(attribute:x exists && attribute:y exists)",
	      "not (attribute:x exists and attribute:y exists)");
	canon("attribute:x =~ 'a b|c'", "attribute:x =~ 'a b|c'");
	canon("attribute:x =~ (a|b)", "attribute:x =~ '(a|b)'");
	canon("registeredAt >= 2018-06-18T22:28:28+00:00", "registeredAt >= 2018-06-18T22:28:28+00:00");
	canon("runningTasksCount not_equals 3", "runningTasksCount != 3");
}

static void test_uses_tasks(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool uses;
	} cases[] = {
		{"attribute:x exists", false},
		{"agentConnected == true and ec2InstanceId == i-1", false},
		{"task:group == a", true},
		{"attribute:x exists or not runningTasksCount > 3", true},
		{"registeredAt < 2018-01-01 and agentVersion > 1", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cql_expr *x = parse_ok(cases[i].text);
		assert_int_equal(cql_uses_tasks(x), cases[i].uses);
		cql_free(x);
	}
}

static void test_missing_callbacks(void **state)
{
	(void)state;
	/* An instance without callbacks has no attributes and no tasks. */
	struct cql_instance bare = {.agent_connected = true, .running_tasks = 3};
	const char *texts[] = {"attribute:x exists", "task:group == a", "task:group exists",
			       "task:group =~ a"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cql_expr *x = parse_ok(texts[i]);
		assert_false(cql_eval(x, &bare));
		cql_free(x);
	}
	struct cql_expr *x =
		parse_ok("attribute:x !exists and task:group !exists and runningTasksCount == 3");
	assert_true(cql_eval(x, &bare));
	cql_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guide_examples),
		cmocka_unit_test(test_operator_words),
		cmocka_unit_test(test_subjects),
		cmocka_unit_test(test_attribute_ordering),
		cmocka_unit_test(test_task_group),
		cmocka_unit_test(test_boolean),
		cmocka_unit_test(test_values_and_quotes),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_operators_per_subject),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_uses_tasks),
		cmocka_unit_test(test_missing_callbacks),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
