/* The ECS cluster query language (memberOf constraints, the ListContainerInstances filter): a
 * lexer and recursive-descent parser into an AST, its evaluation against one container instance,
 * and a canonical printer. The language and its semantics are described in cql.h. */
#include "sched/cql.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "common/rx.h"

#define ATTR_NAME_MAX	128 /* ECS: attribute names are 1-128 characters */
#define TOKEN_QUOTE_MAX 40  /* bytes of a token quoted in an error message */

enum subj { S_CONNECTED, S_VERSION, S_ATTRIBUTE, S_EC2, S_REGISTERED, S_RUNNING, S_GROUP };

enum op {
	O_EQ,
	O_NE,
	O_GT,
	O_GE,
	O_LT,
	O_LE,
	O_EXISTS,
	O_NOT_EXISTS,
	O_IN,
	O_NOT_IN,
	O_MATCHES,
	O_NOT_MATCHES,
	O_COUNT
};

static const struct {
	const char *sym, *word;
} op_names[O_COUNT] = {
	[O_EQ] = {"==", "equals"},
	[O_NE] = {"!=", "not_equals"},
	[O_GT] = {">", "greater_than"},
	[O_GE] = {">=", "greater_than_equal"},
	[O_LT] = {"<", "less_than"},
	[O_LE] = {"<=", "less_than_equal"},
	[O_EXISTS] = {"exists", "exists"},
	[O_NOT_EXISTS] = {"!exists", "not_exists"},
	[O_IN] = {"in", "in"},
	[O_NOT_IN] = {"!in", "not_in"},
	[O_MATCHES] = {"=~", "matches"},
	[O_NOT_MATCHES] = {"!~", "not_matches"},
};

#define M(o)	   (1u << (o))
#define M_EQUALITY (M(O_EQ) | M(O_NE))
#define M_ORDER	   (M_EQUALITY | M(O_GT) | M(O_GE) | M(O_LT) | M(O_LE))
#define M_SET	   (M_EQUALITY | M(O_IN) | M(O_NOT_IN) | M(O_MATCHES) | M(O_NOT_MATCHES))

/* The operators the guide lists per subject; attribute:NAME is not restricted there. */
static const struct {
	const char *name;
	unsigned ops;
} subjects[] = {
	[S_CONNECTED] = {"agentConnected", M_SET},
	[S_VERSION] = {"agentVersion", M_ORDER},
	[S_ATTRIBUTE] = {"attribute:", (1u << O_COUNT) - 1},
	[S_EC2] = {"ec2InstanceId", M_SET},
	[S_REGISTERED] = {"registeredAt", M_ORDER},
	[S_RUNNING] = {"runningTasksCount", M_ORDER},
	[S_GROUP] = {"task:group", M_SET | M(O_EXISTS) | M(O_NOT_EXISTS)},
};

enum kind { N_AND, N_OR, N_NOT, N_CMP };

struct node {
	enum kind kind;
	struct node **kids; /* N_AND, N_OR: nkids >= 2; N_NOT: one */
	size_t nkids;
	/* N_CMP */
	enum subj subj;
	enum op op;
	char *name; /* attribute name */
	char **vals;
	size_t nvals;
	long long num;	/* runningTasksCount argument */
	long long when; /* registeredAt argument, epoch seconds */
	struct rx *re;	/* =~, !~ */
};

struct cql_expr {
	struct node *root;
	bool uses_tasks;
};

/* ---- lexer ---- */

enum tk {
	TK_END,
	TK_WORD,
	TK_QUOTED,
	TK_LPAREN,
	TK_RPAREN,
	TK_LBRACK,
	TK_RBRACK,
	TK_COMMA,
	TK_AND,
	TK_OR,
	TK_NOT,
	TK_OP,
	TK_BAD
};

struct tok {
	enum tk kind;
	enum op op;
	size_t pos, len;   /* the token in the text */
	size_t vpos, vlen; /* its value: the word, or what is between the quotes */
	const char *bad;   /* TK_BAD: why */
};

struct parser {
	const char *s;
	size_t n, off;
	struct tok t;
	int depth;
	struct err **err;
	bool failed;
};

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A byte that may appear in a bare (unquoted) word. */
static bool is_bare(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !strchr("()[],!=<>~&|'\"", c);
}

static bool word_is(const char *p, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(p, w, n) == 0;
}

static void lex_quoted(struct parser *ps, struct tok *t)
{
	char q = ps->s[ps->off];
	const char *end = memchr(ps->s + ps->off + 1, q, ps->n - ps->off - 1);
	if (!end) {
		t->kind = TK_BAD;
		t->len = ps->n - ps->off;
		t->bad = "unterminated quoted string";
		return;
	}
	t->kind = TK_QUOTED;
	t->vpos = ps->off + 1;
	t->vlen = (size_t)(end - (ps->s + t->vpos));
	t->len = t->vlen + 2;
}

/* The argument of =~ / !~ read bare: up to white space or a ')' that closes an outer parenthesis.
 * Bracket expressions are skipped whole so that [)] or [[:space:]] stay inside the pattern. */
static size_t regex_len(const char *s, size_t n)
{
	size_t i = 0;
	int depth = 0;
	while (i < n && !is_space((unsigned char)s[i])) {
		char c = s[i];
		if (c == '\\') {
			i += i + 1 < n ? 2 : 1;
			continue;
		}
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (depth == 0)
				break;
			depth--;
		} else if (c == '[') {
			/* A bracket expression, read as rx reads it: ']' right after '[' or '[^' is
			 * literal, a backslash escapes, [:name:] nests. White space ends the token even
			 * here (quote such patterns). */
			size_t j = i + 1;
			if (j < n && s[j] == '^')
				j++;
			if (j < n && s[j] == ']')
				j++;
			while (j < n && s[j] != ']' && !is_space((unsigned char)s[j])) {
				if (s[j] == '\\') {
					j += j + 1 < n ? 2 : 1;
					continue;
				}
				if (s[j] == '[' && j + 1 < n && s[j + 1] == ':') {
					size_t k = j + 2;
					while (k + 1 < n && !is_space((unsigned char)s[k]) &&
					       !(s[k] == ':' && s[k + 1] == ']'))
						k++;
					if (k + 1 < n && s[k] == ':' && s[k + 1] == ']') {
						j = k + 2;
						continue;
					}
					j = k;
					break;
				}
				j++;
			}
			if (j >= n || s[j] != ']')
				return j; /* unterminated: rx refuses what there is */
			i = j + 1;
			continue;
		}
		i++;
	}
	return i;
}

static void lex(struct parser *ps, bool regex)
{
	struct tok *t = &ps->t;
	const char *s = ps->s;
	size_t n = ps->n;

	ps->off += t->len;
	while (ps->off < n && is_space((unsigned char)s[ps->off]))
		ps->off++;
	memset(t, 0, sizeof(*t));
	t->pos = ps->off;
	if (ps->off >= n) {
		t->kind = TK_END;
		return;
	}
	char c = s[ps->off], d = ps->off + 1 < n ? s[ps->off + 1] : '\0';
	if (c == '\'' || c == '"') {
		lex_quoted(ps, t);
		return;
	}
	if (regex && c != ')') {
		t->kind = TK_WORD;
		t->vpos = ps->off;
		t->len = t->vlen = regex_len(s + ps->off, n - ps->off);
		return;
	}
	t->len = 1;
	switch (c) {
	case '(': t->kind = TK_LPAREN; return;
	case ')': t->kind = TK_RPAREN; return;
	case '[': t->kind = TK_LBRACK; return;
	case ']': t->kind = TK_RBRACK; return;
	case ',': t->kind = TK_COMMA; return;
	case '&':
	case '|':
		if (d == c) {
			t->kind = c == '&' ? TK_AND : TK_OR;
			t->len = 2;
			return;
		}
		break;
	case '=':
		if (d == '=' || d == '~') {
			t->kind = TK_OP;
			t->op = d == '=' ? O_EQ : O_MATCHES;
			t->len = 2;
			return;
		}
		break;
	case '>':
	case '<':
		t->kind = TK_OP;
		t->op = c == '>' ? (d == '=' ? O_GE : O_GT) : (d == '=' ? O_LE : O_LT);
		t->len = d == '=' ? 2 : 1;
		return;
	case '!': {
		t->kind = TK_OP;
		t->len = 2;
		if (d == '=') {
			t->op = O_NE;
			return;
		}
		if (d == '~') {
			t->op = O_NOT_MATCHES;
			return;
		}
		size_t w = 0;
		while (ps->off + 1 + w < n && is_bare((unsigned char)s[ps->off + 1 + w]))
			w++;
		if (word_is(s + ps->off + 1, w, "exists") || word_is(s + ps->off + 1, w, "in")) {
			t->op = w == 2 ? O_NOT_IN : O_NOT_EXISTS;
			t->len = 1 + w;
			return;
		}
		t->kind = TK_NOT;
		t->len = 1;
		return;
	}
	default:
		if (is_bare((unsigned char)c)) {
			size_t w = 0;
			while (ps->off + w < n && is_bare((unsigned char)s[ps->off + w]))
				w++;
			t->len = t->vlen = w;
			t->vpos = ps->off;
			t->kind = TK_WORD;
			const char *p = s + ps->off;
			if (word_is(p, w, "and")) {
				t->kind = TK_AND;
			} else if (word_is(p, w, "or")) {
				t->kind = TK_OR;
			} else if (word_is(p, w, "not")) {
				t->kind = TK_NOT;
			} else {
				for (int o = 0; o < O_COUNT; o++) {
					if (word_is(p, w, op_names[o].word)) {
						t->kind = TK_OP;
						t->op = (enum op)o;
						break;
					}
				}
			}
			return;
		}
		break;
	}
	t->kind = TK_BAD;
	t->len = 1;
	t->bad = "unexpected character";
}

/* ---- parser ---- */

static void *fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *fail(struct parser *ps, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	if (ps->failed)
		return NULL;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	const struct tok *t = &ps->t;
	if (t->kind == TK_BAD) /* the lexical problem says more than what the parser expected */
		snprintf(why, sizeof(why), "%s", t->bad);
	if (t->kind == TK_END) {
		err_set(ps->err, ERR_INVALID_PARAM, "Invalid expression at position %zu (end of input): %s",
			t->pos + 1, why);
	} else {
		size_t len = t->len > TOKEN_QUOTE_MAX ? TOKEN_QUOTE_MAX : t->len;
		err_set(ps->err, ERR_INVALID_PARAM, "Invalid expression at position %zu ('%.*s%s'): %s",
			t->pos + 1, (int)len, ps->s + t->pos, len < t->len ? "..." : "", why);
	}
	return NULL;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	for (size_t i = 0; i < n->nvals; i++)
		free(n->vals[i]);
	free(n->vals);
	free(n->name);
	rx_free(n->re);
	free(n);
}

static void add_kid(struct node *n, struct node *k)
{
	n->kids = xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
	n->kids[n->nkids++] = k;
}

static bool is_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int parse_int(const char *s, long long *out)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (!is_digits(p, strlen(p)) || strlen(p) > 18)
		return -1;
	*out = strtoll(s, NULL, 10);
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int num2(const char *s, unsigned *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*out = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	return 0;
}

/* registeredAt arguments: 2018-06-18[T22:28:28[.fff][Z|±HH:MM]], UTC when no offset is given. */
static int parse_date(const char *s, long long *out)
{
	size_t n = strlen(s);
	unsigned mo, d, h = 0, mi = 0, sec = 0;
	long long off = 0;
	if (n < 10 || !is_digits(s, 4) || s[4] != '-' || num2(s + 5, &mo) || s[7] != '-' || num2(s + 8, &d))
		return -1;
	long long y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return -1;
	const char *p = s + 10;
	if (*p) {
		if (*p != 'T' || strlen(p) < 9 || num2(p + 1, &h) || p[3] != ':' || num2(p + 4, &mi) ||
		    p[6] != ':' || num2(p + 7, &sec) || h > 23 || mi > 59 || sec > 60)
			return -1;
		p += 9;
		if (*p == '.') {
			p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			unsigned oh, om;
			if (strlen(p) != 6 || num2(p + 1, &oh) || p[3] != ':' || num2(p + 4, &om) ||
			    oh > 23 || om > 59)
				return -1;
			off = (*p == '-' ? -1 : 1) * (long long)(oh * 3600 + om * 60);
			p += 6;
		}
		if (*p)
			return -1;
	}
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	return 0;
}

static int compile_regex(struct parser *ps, struct node *n, const char *pat)
{
	const char *why = NULL;
	n->re = rx_compile(pat, &why);
	if (!n->re) {
		fail(ps, "invalid regular expression: %s", why);
		return -1;
	}
	return 0;
}

static bool is_value(const struct tok *t)
{
	return t->kind == TK_WORD || t->kind == TK_QUOTED;
}

static void add_value(struct parser *ps, struct node *n)
{
	n->vals = xrealloc(n->vals, (n->nvals + 1) * sizeof(*n->vals));
	n->vals[n->nvals++] = xstrndup(ps->s + ps->t.vpos, ps->t.vlen);
}

static bool attr_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > ATTR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-_/\\.", c)))
			return false;
	}
	return true;
}

static struct node *parse_cmp(struct parser *ps)
{
	struct tok *t = &ps->t;
	struct node *n = NULL;
	int subj = -1;

	if (t->kind != TK_WORD)
		return fail(ps, "expected a subject (agentConnected, agentVersion, attribute:NAME, "
				"ec2InstanceId, registeredAt, runningTasksCount or task:group)");
	const char *w = ps->s + t->vpos;
	for (int i = 0; i < (int)(sizeof(subjects) / sizeof(subjects[0])); i++) {
		if (i == S_ATTRIBUTE ? t->vlen >= 10 && strncmp(w, "attribute:", 10) == 0
				     : word_is(w, t->vlen, subjects[i].name)) {
			subj = i;
			break;
		}
	}
	if (subj < 0)
		return fail(ps, "unknown subject; expected agentConnected, agentVersion, attribute:NAME, "
				"ec2InstanceId, registeredAt, runningTasksCount or task:group");
	if (subj == S_ATTRIBUTE && !attr_name_ok(w + 10, t->vlen - 10))
		return fail(ps, "an attribute name is 1-128 letters, digits, hyphens, underscores, slashes, "
				"back slashes or periods");
	n = xcalloc(1, sizeof(*n));
	n->kind = N_CMP;
	n->subj = (enum subj)subj;
	if (subj == S_ATTRIBUTE)
		n->name = xstrndup(w + 10, t->vlen - 10);

	lex(ps, false);
	if (t->kind != TK_OP) {
		fail(ps, "expected an operator after %s",
		     subj == S_ATTRIBUTE ? "attribute:NAME" : subjects[subj].name);
		goto bad;
	}
	n->op = t->op;
	if (!(subjects[subj].ops & M(n->op))) {
		fail(ps, "operator %s cannot be used with %s", op_names[n->op].word,
		     subj == S_ATTRIBUTE ? "attribute:NAME" : subjects[subj].name);
		goto bad;
	}
	switch (n->op) {
	case O_EXISTS:
	case O_NOT_EXISTS: lex(ps, false); return n;
	case O_IN:
	case O_NOT_IN:
		lex(ps, false);
		if (t->kind != TK_LBRACK) {
			fail(ps, "expected '[' to start the argument list of %s", op_names[n->op].word);
			goto bad;
		}
		for (;;) {
			lex(ps, false);
			if (!is_value(t)) {
				fail(ps, "expected a value");
				goto bad;
			}
			add_value(ps, n);
			lex(ps, false);
			if (t->kind == TK_RBRACK)
				break;
			if (t->kind != TK_COMMA) {
				fail(ps, "expected ',' or ']'");
				goto bad;
			}
		}
		lex(ps, false);
		return n;
	default: break;
	}
	bool regex = n->op == O_MATCHES || n->op == O_NOT_MATCHES;
	lex(ps, regex);
	if (!is_value(t)) {
		fail(ps, "%s", regex ? "expected a regular expression" : "expected a value");
		goto bad;
	}
	add_value(ps, n);
	if (regex) {
		if (compile_regex(ps, n, n->vals[0]) < 0)
			goto bad;
	} else if (subj == S_RUNNING) {
		if (parse_int(n->vals[0], &n->num) < 0) {
			fail(ps, "runningTasksCount takes an integer");
			goto bad;
		}
	} else if (subj == S_REGISTERED) {
		if (parse_date(n->vals[0], &n->when) < 0) {
			fail(ps, "expected a date: 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, "
				 "2018-06-18T22:28:28 or 2018-06-18");
			goto bad;
		}
	}
	lex(ps, false);
	return n;
bad:
	node_free(n);
	return NULL;
}

static struct node *parse_or(struct parser *ps);

static struct node *parse_factor(struct parser *ps)
{
	struct tok *t = &ps->t;
	if (t->kind == TK_NOT || t->kind == TK_LPAREN) {
		bool paren = t->kind == TK_LPAREN;
		if (++ps->depth > CQL_DEPTH_MAX)
			return fail(ps, "expression nests deeper than %d", CQL_DEPTH_MAX);
		lex(ps, false);
		struct node *k = paren ? parse_or(ps) : parse_factor(ps);
		ps->depth--;
		if (!k)
			return NULL;
		if (paren) {
			if (t->kind != TK_RPAREN) {
				node_free(k);
				return fail(ps, "expected ')'");
			}
			lex(ps, false);
			return k;
		}
		struct node *n = xcalloc(1, sizeof(*n));
		n->kind = N_NOT;
		add_kid(n, k);
		return n;
	}
	return parse_cmp(ps);
}

static struct node *parse_list(struct parser *ps, enum kind kind)
{
	enum tk sep = kind == N_OR ? TK_OR : TK_AND;
	struct node *first = kind == N_OR ? parse_list(ps, N_AND) : parse_factor(ps);
	if (!first || ps->t.kind != sep)
		return first;
	struct node *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	add_kid(n, first);
	while (ps->t.kind == sep) {
		lex(ps, false);
		struct node *k = kind == N_OR ? parse_list(ps, N_AND) : parse_factor(ps);
		if (!k) {
			node_free(n);
			return NULL;
		}
		add_kid(n, k);
	}
	return n;
}

static struct node *parse_or(struct parser *ps)
{
	return parse_list(ps, N_OR);
}

static bool node_uses_tasks(const struct node *n)
{
	if (n->kind == N_CMP)
		return n->subj == S_GROUP || n->subj == S_RUNNING;
	for (size_t i = 0; i < n->nkids; i++)
		if (node_uses_tasks(n->kids[i]))
			return true;
	return false;
}

struct cql_expr *cql_parse(const char *text, struct err **err)
{
	struct parser ps = {.s = text, .n = strlen(text), .err = err};
	if (ps.n > CQL_TEXT_MAX) {
		err_set(err, ERR_INVALID_PARAM, "Invalid expression: longer than %d characters",
			CQL_TEXT_MAX);
		return NULL;
	}
	lex(&ps, false);
	struct node *root = parse_or(&ps);
	if (root && ps.t.kind != TK_END) {
		fail(&ps, "expected 'and', 'or' or the end of the expression");
		node_free(root);
		root = NULL;
	}
	if (!root)
		return NULL;
	struct cql_expr *e = xcalloc(1, sizeof(*e));
	e->root = root;
	e->uses_tasks = node_uses_tasks(root);
	return e;
}

void cql_free(struct cql_expr *e)
{
	if (!e)
		return;
	node_free(e->root);
	free(e);
}

bool cql_uses_tasks(const struct cql_expr *e)
{
	return e->uses_tasks;
}

/* ---- evaluation ---- */

/* Compares the dot-separated components of two versions: numerically when both are digits,
 * else bytewise; a missing component counts as 0. */
static int version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		size_t na = strcspn(a, "."), nb = strcspn(b, ".");
		const char *pa = na ? a : "0", *pb = nb ? b : "0";
		size_t la = na ? na : 1, lb = nb ? nb : 1;
		int c;
		if (is_digits(pa, la) && is_digits(pb, lb)) {
			while (la > 1 && *pa == '0')
				pa++, la--;
			while (lb > 1 && *pb == '0')
				pb++, lb--;
			c = la != lb ? (la < lb ? -1 : 1) : memcmp(pa, pb, la);
		} else {
			c = memcmp(pa, pb, la < lb ? la : lb);
			if (c == 0 && la != lb)
				c = la < lb ? -1 : 1;
		}
		if (c)
			return c < 0 ? -1 : 1;
		a += na + (a[na] == '.');
		b += nb + (b[nb] == '.');
	}
	return 0;
}

static bool is_decimal(const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	size_t d = strspn(p, "0123456789");
	if (d == 0)
		return false;
	p += d;
	if (*p == '.') {
		size_t f = strspn(p + 1, "0123456789");
		if (f == 0)
			return false;
		p += 1 + f;
	}
	return *p == '\0' && d < 300;
}

static bool is_dotted(const char *s)
{
	return *s && strspn(s, "0123456789.") == strlen(s);
}

static int natural_cmp(const char *a, const char *b)
{
	if (is_decimal(a) && is_decimal(b)) {
		double x = strtod(a, NULL), y = strtod(b, NULL);
		return x < y ? -1 : x > y;
	}
	if (is_dotted(a) && is_dotted(b))
		return version_cmp(a, b);
	int c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

static bool order_holds(enum op op, int c)
{
	switch (op) {
	case O_EQ: return c == 0;
	case O_NE: return c != 0;
	case O_GT: return c > 0;
	case O_GE: return c >= 0;
	case O_LT: return c < 0;
	case O_LE: return c <= 0;
	default: return false;
	}
}

static bool value_matches(const struct node *n, const char *v)
{
	return rx_match(n->re, v);
}

static bool eval_string(const struct node *n, const char *v)
{
	if (n->op == O_EXISTS || n->op == O_NOT_EXISTS)
		return (v != NULL) == (n->op == O_EXISTS);
	if (!v)
		return false;
	switch (n->op) {
	case O_IN:
	case O_NOT_IN:
		for (size_t i = 0; i < n->nvals; i++) {
			bool eq = n->subj == S_CONNECTED ? strcasecmp(v, n->vals[i]) == 0
							 : strcmp(v, n->vals[i]) == 0;
			if (eq)
				return n->op == O_IN;
		}
		return n->op == O_NOT_IN;
	case O_MATCHES: return value_matches(n, v);
	case O_NOT_MATCHES: return !value_matches(n, v);
	default: break;
	}
	int c;
	if (n->subj == S_VERSION)
		c = version_cmp(v, n->vals[0]);
	else if (n->subj == S_CONNECTED)
		c = strcasecmp(v, n->vals[0]);
	else if (n->op == O_EQ || n->op == O_NE)
		c = strcmp(v, n->vals[0]);
	else
		c = natural_cmp(v, n->vals[0]);
	return order_holds(n->op, c);
}

static bool group_matches(void *arg, const char *group)
{
	return value_matches(arg, group);
}

static bool group_any(void *arg, const char *group)
{
	(void)arg;
	(void)group;
	return true;
}

static long group_tasks(const struct cql_instance *in, const char *group)
{
	return in->group_tasks ? in->group_tasks(in->ctx, group) : 0;
}

static bool eval_group(const struct node *n, const struct cql_instance *in)
{
	bool any;
	switch (n->op) {
	case O_EQ:
	case O_NE: return (group_tasks(in, n->vals[0]) > 0) == (n->op == O_EQ);
	case O_IN:
	case O_NOT_IN:
		any = false;
		for (size_t i = 0; i < n->nvals && !any; i++)
			any = group_tasks(in, n->vals[i]) > 0;
		return any == (n->op == O_IN);
	case O_MATCHES:
	case O_NOT_MATCHES:
		any = in->any_group && in->any_group(in->ctx, group_matches, (void *)n);
		return any == (n->op == O_MATCHES);
	case O_EXISTS:
	case O_NOT_EXISTS:
		any = in->any_group && in->any_group(in->ctx, group_any, NULL);
		return any == (n->op == O_EXISTS);
	default: return false;
	}
}

static bool eval_cmp(const struct node *n, const struct cql_instance *in)
{
	switch (n->subj) {
	case S_CONNECTED: return eval_string(n, in->agent_connected ? "true" : "false");
	case S_VERSION: return eval_string(n, in->agent_version);
	case S_ATTRIBUTE: return eval_string(n, in->attribute ? in->attribute(in->ctx, n->name) : NULL);
	case S_EC2: return eval_string(n, in->ec2_instance_id);
	case S_REGISTERED: {
		double t = floor(in->registered_at);
		long long s = t >= (double)LLONG_MAX   ? LLONG_MAX
			      : t <= (double)LLONG_MIN ? LLONG_MIN
						       : (long long)t;
		return order_holds(n->op, s < n->when ? -1 : s > n->when);
	}
	case S_RUNNING:
		return order_holds(n->op, in->running_tasks < n->num ? -1 : in->running_tasks > n->num);
	case S_GROUP: return eval_group(n, in);
	}
	return false;
}

static bool eval(const struct node *n, const struct cql_instance *in)
{
	switch (n->kind) {
	case N_AND:
		for (size_t i = 0; i < n->nkids; i++)
			if (!eval(n->kids[i], in))
				return false;
		return true;
	case N_OR:
		for (size_t i = 0; i < n->nkids; i++)
			if (eval(n->kids[i], in))
				return true;
		return false;
	case N_NOT: return !eval(n->kids[0], in);
	case N_CMP: return eval_cmp(n, in);
	}
	return false;
}

bool cql_eval(const struct cql_expr *e, const struct cql_instance *in)
{
	return eval(e->root, in);
}

/* ---- printing ---- */

static bool is_keyword(const char *v)
{
	if (!strcmp(v, "and") || !strcmp(v, "or") || !strcmp(v, "not"))
		return true;
	for (int o = 0; o < O_COUNT; o++)
		if (!strcmp(v, op_names[o].word))
			return true;
	return false;
}

static void put_value(struct buf *b, const char *v)
{
	bool bare = *v && !is_keyword(v);
	for (const char *p = v; *p && bare; p++)
		bare = is_bare((unsigned char)*p);
	if (bare) {
		buf_adds(b, v);
		return;
	}
	if (!strchr(v, '\'')) {
		buf_addf(b, "'%s'", v);
	} else if (!strchr(v, '"')) {
		buf_addf(b, "\"%s\"", v);
	} else {
		/* Only a bare regular expression can hold both quotes; it reads back bare. */
		buf_adds(b, v);
	}
}

static void put_node(struct buf *b, const struct node *n)
{
	switch (n->kind) {
	case N_AND:
	case N_OR:
		buf_addc(b, '(');
		for (size_t i = 0; i < n->nkids; i++) {
			if (i)
				buf_adds(b, n->kind == N_AND ? " and " : " or ");
			put_node(b, n->kids[i]);
		}
		buf_addc(b, ')');
		return;
	case N_NOT:
		buf_adds(b, "not ");
		put_node(b, n->kids[0]);
		return;
	case N_CMP: break;
	}
	if (n->subj == S_ATTRIBUTE)
		buf_addf(b, "attribute:%s %s", n->name, op_names[n->op].sym);
	else
		buf_addf(b, "%s %s", subjects[n->subj].name, op_names[n->op].sym);
	if (n->op == O_IN || n->op == O_NOT_IN) {
		buf_adds(b, " [");
		for (size_t i = 0; i < n->nvals; i++) {
			if (i)
				buf_adds(b, ", ");
			put_value(b, n->vals[i]);
		}
		buf_addc(b, ']');
	} else if (n->nvals) {
		buf_addc(b, ' ');
		put_value(b, n->vals[0]);
	}
}

char *cql_format(const struct cql_expr *e)
{
	struct buf b = BUF_INIT;
	put_node(&b, e->root);
	return buf_detach(&b, NULL);
}
