/* The ECS cluster query language: the expressions of memberOf placement constraints and of the
 * ListContainerInstances `filter`. Text is parsed once into an AST (cql_parse) and then evaluated
 * against any number of container instances (cql_eval), each described by a struct cql_instance.
 *
 * Syntax (ECS Developer Guide, "Cluster query language"):
 *
 *     expr       := term { ("or" | "||") term }
 *     term       := factor { ("and" | "&&") factor }
 *     factor     := ("not" | "!") factor | "(" expr ")" | comparison
 *     comparison := SUBJECT OPERATOR [argument]
 *     argument   := value | "[" value { "," value } "]"        (the list only for in / not_in)
 *
 * Subjects: agentConnected, agentVersion, attribute:NAME, ec2InstanceId, registeredAt,
 * runningTasksCount, task:group. Operators: == equals, != not_equals, > greater_than,
 * >= greater_than_equal, < less_than, <= less_than_equal, exists, !exists not_exists, in,
 * !in not_in, =~ matches, !~ not_matches. Each subject takes the operators the guide lists for it;
 * attribute:NAME takes all of them; task:group (for which the guide lists none) takes ==, !=, in,
 * not_in, =~, !~, exists and not_exists. Keywords are lowercase and case-sensitive.
 *
 * Values are bare words (any bytes but white space and ( ) [ ] , ! = < > ~ & | ' ") or quoted with
 * '...' or "..." (no escapes inside; a value cannot contain its own quote character). The argument
 * of =~ / !~ is read up to white space or a ')' that closes an outer parenthesis, so that regular
 * expressions such as t2.(small|medium) need no quotes.
 *
 * Semantics (where the guide is silent, the choice is written here):
 * - A subject that an instance lacks (an attribute it does not have, no agentVersion, no
 *   ec2InstanceId) makes every operator false except !exists. In particular
 *   `attribute:stack != prod` selects instances that have `stack` with another value, as the guide's
 *   "Exclude an attribute value" example says.
 * - ==, != and in compare strings exactly; agentConnected compares "true"/"false" ignoring case.
 * - agentVersion orders versions component by component (1.9.0 < 1.14.5; missing components are 0).
 * - attribute ordering (> >= < <=) compares numerically when both sides are decimal numbers, by
 *   version when both are dotted numbers, else bytewise.
 * - registeredAt takes 2018-06-18T22:28:28+00:00 (any ±HH:MM offset), 2018-06-18T22:28:28Z,
 *   2018-06-18T22:28:28 (UTC) and 2018-06-18 (midnight UTC); it compares the registration time,
 *   truncated to whole seconds, with that instant.
 * - runningTasksCount takes an integer.
 * - task:group looks at the set of task groups on the instance: == G and in [...] hold when the
 *   instance hosts a task of (one of) the groups, =~ when it hosts a task whose group matches;
 *   !=, not_in and !~ are their negations (hosts none); exists holds when it hosts any task.
 * - =~ / !~ take the java.util.regex syntax the guide names, minus what needs backtracking, run by
 *   gantry's own linear-time engine (common/rx.h lists what it takes and refuses). Like Java's
 *   String.matches, the whole value must match (g2.* matches g2.2xlarge; t2 does not match
 *   t2.small).
 *
 * Thread safety: a parsed expression is immutable; cql_eval may run on it from several threads. */
#ifndef GANTRY_CQL_H
#define GANTRY_CQL_H

#include <stdbool.h>

#include "common/err.h"

#define CQL_TEXT_MAX  2000 /* ECS: an expression is at most 2000 characters */
#define CQL_DEPTH_MAX 32   /* nested parentheses and not's */

struct cql_expr;

/* What an expression is evaluated against: one container instance. The callbacks get ctx. */
struct cql_instance {
	const void *ctx;
	bool agent_connected;
	const char *agent_version;   /* NULL when unknown */
	const char *ec2_instance_id; /* NULL when the instance has none */
	double registered_at;	     /* seconds since the epoch */
	long running_tasks;	     /* runningTasksCount */
	/* The value of attribute `name`: "" for an attribute without a value, NULL when absent. */
	const char *(*attribute)(const void *ctx, const char *name);
	/* How many tasks of `group` the instance hosts. */
	long (*group_tasks)(const void *ctx, const char *group);
	/* Calls fn(arg, group) for each group with at least one task on the instance until fn returns
	 * true; returns whether one did. */
	bool (*any_group)(const void *ctx, bool (*fn)(void *arg, const char *group), void *arg);
};

/* Parses text (NUL-terminated, at most CQL_TEXT_MAX bytes). Returns a new expression that the
 * caller frees with cql_free, or NULL with *err (ERR_INVALID_PARAM) whose message points at the
 * offending token by its 1-based byte position, e.g.
 * "Invalid expression at position 20 ('=='): expected a value". Messages may quote input bytes. */
struct cql_expr *cql_parse(const char *text, struct err **err);
/* Frees an expression; accepts NULL. */
void cql_free(struct cql_expr *e);
/* Whether instance `in` satisfies the expression. */
bool cql_eval(const struct cql_expr *e, const struct cql_instance *in);
/* Whether the expression's value can change when tasks are placed or stopped (it mentions
 * task:group or runningTasksCount). */
bool cql_uses_tasks(const struct cql_expr *e);
/* The expression in canonical form: symbolic operators, every and/or group and every not
 * parenthesized, values quoted where needed. Parsing the result gives the same expression.
 * The caller frees the string. */
char *cql_format(const struct cql_expr *e);

#endif
