/* CloudWatch Logs filter patterns: a hand-written recursive-descent parser for the term and JSON
 * pattern forms, and a matcher (JSON messages are parsed with jansson). */
#include "logs/filter.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/rx.h"
#include "common/xalloc.h"

enum term_kind { TERM_ALL, TERM_ANY, TERM_NOT };

struct term {
	enum term_kind kind;
	char *s;
	size_t n;
};

enum node_kind { N_AND, N_OR, N_CMP };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_NULL, OP_TRUE, OP_FALSE, OP_NOT_EXISTS };

/* One step of a selector: a member name, or an array index when key is NULL. */
struct step {
	char *key;
	size_t index;
};

struct node {
	enum node_kind kind;
	struct node *l, *r;
	/* N_CMP */
	struct step *steps;
	size_t nsteps;
	enum cmp_op op;
	bool is_num;
	double num;
	char *str;
	struct rx *re; /* = %regex% / != %regex% */
	/* space-delimited patterns: the field compared, by name until resolved to its index */
	char *fname;
	size_t field;
};

/* A field of a space-delimited pattern: a name, or NULL for the ellipsis. */
struct sfield {
	char *name;
};

struct filter {
	bool json;
	bool delimited;
	struct sfield *fields;
	size_t nfields;
	size_t ellipsis; /* index of the ... field, or SIZE_MAX */
	struct term *terms;
	size_t nterms;
	bool any_optional;
	struct node *root;
	struct rx *re; /* a standalone %regex% pattern */
};

static void node_free(struct node *n)
{
	if (!n)
		return;
	node_free(n->l);
	node_free(n->r);
	for (size_t i = 0; i < n->nsteps; i++)
		free(n->steps[i].key);
	free(n->steps);
	free(n->str);
	rx_free(n->re);
	free(n->fname);
	free(n);
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nterms; i++)
		free(f->terms[i].s);
	free(f->terms);
	node_free(f->root);
	rx_free(f->re);
	for (size_t i = 0; i < f->nfields; i++)
		free(f->fields[i].name);
	free(f->fields);
	free(f);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* --- regular expressions --- */

/* CloudWatch: the characters a %regex% may hold besides letters and digits (its symbols and
 * operators; no parentheses, no blanks, ASCII only). After a backslash any printable character. */
static bool regex_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(":_#=@/;,-^$?[]{}|\\*+.", c));
}

/* Reads %regex% starting at *p (on the opening '%'), compiles it (common/rx.h) and leaves *p past
 * the closing '%'. *count: regular expressions read so far in this pattern (CloudWatch allows
 * FILTER_REGEX_MAX). */
static int read_regex(const char **p, struct rx **out, int *count, struct err **err)
{
	const char *s = *p + 1, *why = NULL;
	struct buf body = BUF_INIT;
	int ret = -1;
	if (++*count > FILTER_REGEX_MAX) {
		err_set(err, ERR_INVALID_PARAM,
			"Invalid filter pattern: at most %d regular expressions per pattern",
			FILTER_REGEX_MAX);
		goto out;
	}
	for (; *s && *s != '%'; s++) {
		if (*s == '\\' && s[1] > ' ' && s[1] < 0x7f) {
			buf_add(&body, s, 2);
			s++;
			continue;
		}
		if (!regex_char_ok(*s)) {
			err_set(err, ERR_INVALID_PARAM,
				"Invalid filter pattern: a %%regular expression%% may hold letters, digits, "
				"the symbols : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + . "
				"(found '%c')",
				(unsigned char)*s >= ' ' && (unsigned char)*s < 0x7f ? *s : '?');
			goto out;
		}
		buf_addc(&body, *s);
	}
	if (*s != '%') {
		err_set(err, ERR_INVALID_PARAM,
			"Invalid filter pattern: a %%regular expression%% has no closing '%%'");
		goto out;
	}
	if (body.len == 0) {
		err_set(err, ERR_INVALID_PARAM, "Invalid filter pattern: empty %%regular expression%%");
		goto out;
	}
	*out = rx_compile(body.p, &why);
	if (!*out) {
		err_set(err, ERR_INVALID_PARAM, "Invalid filter pattern: invalid regular expression: %s",
			why);
		goto out;
	}
	if (rx_size(*out) > FILTER_REGEX_SIZE_MAX) {
		/* matching costs the program's size per byte of every message scanned */
		err_set(err, ERR_INVALID_PARAM,
			"Invalid filter pattern: a %%regular expression%% may compile to at most %d "
			"instructions (its repetitions make %zu)",
			FILTER_REGEX_SIZE_MAX, rx_size(*out));
		rx_free(*out);
		*out = NULL;
		goto out;
	}
	*p = s + 1;
	ret = 0;
out:
	buf_release(&body);
	return ret;
}

/* --- term patterns --- */

/* Reads a quoted string starting at *p (on the opening quote); \" and \\ are escapes. */
static int read_quoted(const char **p, char **out, size_t *outn, struct err **err)
{
	const char *s = *p + 1;
	size_t cap = strlen(s) + 1, n = 0;
	char *o = xmalloc(cap);
	while (*s && *s != '"') {
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		o[n++] = *s++;
	}
	if (*s != '"') {
		free(o);
		return err_set(err, ERR_INVALID_PARAM, "Invalid filter pattern: unterminated quoted string");
	}
	o[n] = 0;
	*p = s + 1;
	*out = o;
	*outn = n;
	return 0;
}

static int parse_terms(struct filter *f, const char *p, struct err **err)
{
	size_t cap = 0;
	while (*p) {
		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		struct term t = {.kind = TERM_ALL};
		if ((*p == '?' || *p == '-') && p[1] && !is_blank(p[1])) {
			t.kind = *p == '?' ? TERM_ANY : TERM_NOT;
			p++;
		}
		if (*p == '"') {
			if (read_quoted(&p, &t.s, &t.n, err) < 0)
				return -1;
			if (*p && !is_blank(*p)) {
				free(t.s);
				return err_set(
					err, ERR_INVALID_PARAM,
					"Invalid filter pattern: a quoted term must be followed by a blank");
			}
		} else {
			const char *b = p;
			while (*p && !is_blank(*p))
				p++;
			t.n = (size_t)(p - b);
			t.s = xstrndup(b, t.n);
		}
		if (f->nterms == cap) {
			cap = cap ? 2 * cap : 4;
			f->terms = xrealloc(f->terms, cap * sizeof(*f->terms));
		}
		f->terms[f->nterms++] = t;
		if (t.kind == TERM_ANY)
			f->any_optional = true;
	}
	return 0;
}

/* --- JSON patterns --- */

struct parser {
	const char *p;
	int depth;
	int nregex;
	struct err **err;
};

static void skip(struct parser *ps)
{
	while (is_blank(*ps->p))
		ps->p++;
}

static int perr(struct parser *ps, const char *what)
{
	return err_set(ps->err, ERR_INVALID_PARAM, "Invalid filter pattern: %s", what);
}

static bool word_end(char c)
{
	return !c || is_blank(c) || strchr("=!<>&|(){}", c) != NULL;
}

static bool match_kw(struct parser *ps, const char *kw)
{
	size_t n = strlen(kw);
	if (strncmp(ps->p, kw, n) == 0 && word_end(ps->p[n])) {
		ps->p += n;
		return true;
	}
	return false;
}

static int parse_selector(struct parser *ps, struct node *n)
{
	if (*ps->p != '$')
		return perr(ps, "a JSON comparison must start with a selector such as $.field");
	ps->p++;
	size_t cap = 0;
	for (;;) {
		struct step st = {0};
		if (*ps->p == '.') {
			const char *b = ++ps->p;
			while (*ps->p && !word_end(*ps->p) && *ps->p != '.' && *ps->p != '[')
				ps->p++;
			if (ps->p == b)
				return perr(ps, "empty member name in a selector");
			st.key = xstrndup(b, (size_t)(ps->p - b));
		} else if (*ps->p == '[') {
			ps->p++;
			char *end;
			if (*ps->p < '0' || *ps->p > '9')
				return perr(ps, "an array index in a selector must be a number");
			unsigned long long v = strtoull(ps->p, &end, 10);
			if (*end != ']' || v > 1000000)
				return perr(ps, "bad array index in a selector");
			st.index = (size_t)v;
			ps->p = end + 1;
		} else {
			break;
		}
		if (n->nsteps == cap) {
			cap = cap ? 2 * cap : 4;
			n->steps = xrealloc(n->steps, cap * sizeof(*n->steps));
		}
		n->steps[n->nsteps++] = st;
	}
	if (n->nsteps == 0)
		return perr(ps, "a selector must name a member ($.field)");
	return 0;
}

/* The value of a comparison whose operator is in n->op: "quoted", %regex% (= and != only), or a
 * bare word up to a blank or, in a JSON pattern, one of = ! < > & | ( ) { }; in a space-delimited
 * one (delimited), one of , ] & |. A bare number compares as a number; < > <= >= take only those. */
static int parse_value(struct parser *ps, struct node *n, bool delimited)
{
	skip(ps);
	if (*ps->p == '%') {
		if (n->op != OP_EQ && n->op != OP_NE)
			return perr(ps, "a %regular expression% compares with = or != only");
		return read_regex(&ps->p, &n->re, &ps->nregex, ps->err);
	}
	if (*ps->p == '"') {
		size_t len;
		if (read_quoted(&ps->p, &n->str, &len, ps->err) < 0)
			return -1;
	} else {
		const char *b = ps->p;
		while (*ps->p &&
		       !(delimited ? is_blank(*ps->p) || strchr(",]&|", *ps->p) != NULL : word_end(*ps->p)))
			ps->p++;
		if (ps->p == b)
			return perr(ps, "a comparison needs a value");
		n->str = xstrndup(b, (size_t)(ps->p - b));
		char *end;
		double d = strtod(n->str, &end);
		if (*end == 0 && isfinite(d) &&
		    (n->str[0] == '-' || (n->str[0] >= '0' && n->str[0] <= '9'))) {
			n->is_num = true;
			n->num = d;
		}
	}
	if (n->op != OP_EQ && n->op != OP_NE && !n->is_num)
		return perr(ps, "<, >, <= and >= compare numbers only");
	return 0;
}

/* A comparison operator at ps->p: = (or ==), !=, <, >, <=, >=. */
static int parse_op(struct parser *ps, enum cmp_op *op)
{
	const char *p = ps->p;
	if (p[0] == '!' && p[1] == '=')
		*op = OP_NE, ps->p += 2;
	else if (p[0] == '<' && p[1] == '=')
		*op = OP_LE, ps->p += 2;
	else if (p[0] == '>' && p[1] == '=')
		*op = OP_GE, ps->p += 2;
	else if (p[0] == '=')
		*op = OP_EQ, ps->p += 1 + (p[1] == '=');
	else if (p[0] == '<')
		*op = OP_LT, ps->p++;
	else if (p[0] == '>')
		*op = OP_GT, ps->p++;
	else
		return perr(ps, "expected a comparison operator (=, !=, <, >, <=, >=)");
	return 0;
}

static struct node *parse_or(struct parser *ps);

static struct node *parse_primary(struct parser *ps)
{
	skip(ps);
	if (*ps->p == '(') {
		if (++ps->depth > FILTER_DEPTH_MAX) {
			perr(ps, "too many nested parentheses");
			return NULL;
		}
		ps->p++;
		struct node *n = parse_or(ps);
		if (!n)
			return NULL;
		skip(ps);
		if (*ps->p != ')') {
			node_free(n);
			perr(ps, "missing ')'");
			return NULL;
		}
		ps->p++;
		ps->depth--;
		return n;
	}
	struct node *n = xcalloc(1, sizeof(*n));
	n->kind = N_CMP;
	if (parse_selector(ps, n) < 0)
		goto fail;
	skip(ps);
	if (match_kw(ps, "IS")) {
		skip(ps);
		if (match_kw(ps, "NULL"))
			n->op = OP_NULL;
		else if (match_kw(ps, "TRUE"))
			n->op = OP_TRUE;
		else if (match_kw(ps, "FALSE"))
			n->op = OP_FALSE;
		else {
			perr(ps, "IS must be followed by NULL, TRUE or FALSE");
			goto fail;
		}
		return n;
	}
	if (match_kw(ps, "NOT")) {
		skip(ps);
		if (!match_kw(ps, "EXISTS")) {
			perr(ps, "NOT must be followed by EXISTS");
			goto fail;
		}
		n->op = OP_NOT_EXISTS;
		return n;
	}
	if (parse_op(ps, &n->op) < 0 || parse_value(ps, n, false) < 0)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

static struct node *join(enum node_kind kind, struct node *l, struct node *r)
{
	struct node *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->l = l;
	n->r = r;
	return n;
}

/* An operand of && / ||: implicit is the field a space-delimited condition starts with (its first
 * comparison does not name it), NULL otherwise. */
typedef struct node *(*operand_fn)(struct parser *ps, const char *implicit);

/* operand { op operand }, left-associative, as `kind` nodes (op: "&&" or "||"). */
static struct node *binary(struct parser *ps, const char *implicit, const char *op, enum node_kind kind,
			   operand_fn operand)
{
	struct node *l = operand(ps, implicit);
	while (l) {
		skip(ps);
		if (strncmp(ps->p, op, 2) != 0)
			break;
		ps->p += 2;
		struct node *r = operand(ps, NULL);
		if (!r) {
			node_free(l);
			return NULL;
		}
		l = join(kind, l, r);
	}
	return l;
}

static struct node *json_primary(struct parser *ps, const char *implicit)
{
	(void)implicit;
	return parse_primary(ps);
}

static struct node *json_and(struct parser *ps, const char *implicit)
{
	return binary(ps, implicit, "&&", N_AND, json_primary);
}

static struct node *parse_or(struct parser *ps)
{
	return binary(ps, NULL, "||", N_OR, json_and);
}

/* --- space-delimited patterns --- */

static bool sd_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '.';
}

/* NAME op VALUE, where NAME is implicit (the field being declared) for the first comparison. */
static struct node *sd_primary(struct parser *ps, const char *implicit)
{
	struct node *n = xcalloc(1, sizeof(*n));
	n->kind = N_CMP;
	skip(ps);
	if (implicit) {
		n->fname = xstrdup(implicit);
	} else {
		const char *b = ps->p;
		while (sd_name_char(*ps->p))
			ps->p++;
		if (ps->p == b) {
			perr(ps, "expected a field name after && or ||");
			goto fail;
		}
		n->fname = xstrndup(b, (size_t)(ps->p - b));
		skip(ps);
	}
	if (parse_op(ps, &n->op) < 0 || parse_value(ps, n, true) < 0)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

static struct node *sd_and(struct parser *ps, const char *implicit)
{
	return binary(ps, implicit, "&&", N_AND, sd_primary);
}

static struct node *sd_or(struct parser *ps, const char *implicit)
{
	return binary(ps, implicit, "||", N_OR, sd_and);
}

/* Points every comparison at the index of the field it names. */
static int sd_resolve(struct parser *ps, const struct filter *f, struct node *n)
{
	if (!n)
		return 0;
	if (n->kind != N_CMP)
		return sd_resolve(ps, f, n->l) < 0 ? -1 : sd_resolve(ps, f, n->r);
	for (size_t i = 0; i < f->nfields; i++) {
		if (f->fields[i].name && !strcmp(f->fields[i].name, n->fname)) {
			n->field = i;
			return 0;
		}
	}
	return err_set(ps->err, ERR_INVALID_PARAM,
		       "Invalid filter pattern: a condition names `%s`, which is not a field of the pattern",
		       n->fname);
}

/* [field, field=value, ..., field>=1&&field<=9, ...]; p is just past the '['. */
static int parse_delimited(struct filter *f, const char *p, struct err **err)
{
	struct parser ps = {.p = p, .err = err};
	size_t cap = 0;
	f->delimited = true;
	f->ellipsis = SIZE_MAX;
	for (;;) {
		struct sfield fd = {0};
		skip(&ps);
		if (!strncmp(ps.p, "...", 3)) {
			if (f->ellipsis != SIZE_MAX)
				return perr(&ps, "a space-delimited pattern may hold one ... only");
			ps.p += 3;
			f->ellipsis = f->nfields;
		} else {
			const char *b = ps.p;
			while (sd_name_char(*ps.p))
				ps.p++;
			if (ps.p == b)
				return perr(&ps, "expected a field name or ... in a space-delimited pattern");
			fd.name = xstrndup(b, (size_t)(ps.p - b));
			for (size_t i = 0; i < f->nfields; i++) {
				if (f->fields[i].name && !strcmp(f->fields[i].name, fd.name)) {
					free(fd.name);
					return perr(
						&ps,
						"a field name appears twice in a space-delimited pattern");
				}
			}
		}
		if (f->nfields == cap) {
			cap = cap ? 2 * cap : 8;
			f->fields = xrealloc(f->fields, cap * sizeof(*f->fields));
		}
		f->fields[f->nfields++] = fd;
		skip(&ps);
		if (fd.name && *ps.p && strchr("=!<>", *ps.p)) {
			struct node *c = sd_or(&ps, fd.name);
			if (!c)
				return -1;
			f->root = f->root ? join(N_AND, f->root, c) : c;
			skip(&ps);
		}
		if (*ps.p == ',') {
			ps.p++;
			continue;
		}
		if (*ps.p == ']')
			break;
		return perr(&ps, "expected ',' or ']' after a field of a space-delimited pattern");
	}
	ps.p++;
	skip(&ps);
	if (*ps.p)
		return perr(&ps, "unexpected text after ']'");
	return sd_resolve(&ps, f, f->root);
}

struct filter *filter_parse(const char *pattern, struct err **err)
{
	struct filter *f = xcalloc(1, sizeof(*f));
	if (strlen(pattern) > FILTER_PATTERN_MAX) {
		err_set(err, ERR_INVALID_PARAM, "filterPattern must be at most %d characters",
			FILTER_PATTERN_MAX);
		goto fail;
	}
	const char *p = pattern;
	while (is_blank(*p))
		p++;
	if (*p == '[') {
		if (parse_delimited(f, p + 1, err) < 0)
			goto fail;
		return f;
	}
	if (*p == '%') {
		int nregex = 0;
		if (read_regex(&p, &f->re, &nregex, err) < 0)
			goto fail;
		while (is_blank(*p))
			p++;
		if (*p) {
			err_set(err, ERR_INVALID_PARAM,
				"Invalid filter pattern: unexpected text after a %%regular expression%%");
			goto fail;
		}
		return f;
	}
	if (*p != '{') {
		if (parse_terms(f, p, err) < 0)
			goto fail;
		return f;
	}
	f->json = true;
	struct parser ps = {.p = p + 1, .err = err};
	f->root = parse_or(&ps);
	if (!f->root)
		goto fail;
	skip(&ps);
	if (*ps.p != '}') {
		perr(&ps, "expected '}' (or && / ||) after a comparison");
		goto fail;
	}
	ps.p++;
	skip(&ps);
	if (*ps.p) {
		perr(&ps, "unexpected text after '}'");
		goto fail;
	}
	return f;
fail:
	filter_free(f);
	return NULL;
}

/* --- matching --- */

static bool contains(const char *h, size_t hn, const char *n, size_t nn)
{
	if (nn == 0)
		return true;
	return memmem(h, hn, n, nn) != NULL;
}

/* Glob match where '*' matches any run of characters. */
static bool glob(const char *pat, const char *s, size_t sn)
{
	const char *star = NULL, *sp = NULL;
	size_t i = 0;
	while (i < sn) {
		if (*pat == '*') {
			star = pat++;
			sp = s + i;
		} else if (*pat && *pat == s[i]) {
			pat++;
			i++;
		} else if (star) {
			pat = star + 1;
			i = (size_t)(++sp - s);
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == 0;
}

static json_t *select_value(json_t *doc, const struct node *n)
{
	json_t *v = doc;
	for (size_t i = 0; v && i < n->nsteps; i++) {
		if (n->steps[i].key)
			v = json_is_object(v) ? json_object_get(v, n->steps[i].key) : NULL;
		else
			v = json_is_array(v) ? json_array_get(v, n->steps[i].index) : NULL;
	}
	return v;
}

static bool eval_cmp(const struct node *n, json_t *doc)
{
	json_t *v = select_value(doc, n);
	if (n->op == OP_NOT_EXISTS)
		return v == NULL;
	if (!v)
		return false;
	switch (n->op) {
	case OP_NULL: return json_is_null(v);
	case OP_TRUE: return json_is_true(v);
	case OP_FALSE: return json_is_false(v);
	default: break;
	}
	bool eq;
	if (n->is_num && json_is_number(v)) {
		double d = json_number_value(v);
		switch (n->op) {
		case OP_LT: return d < n->num;
		case OP_GT: return d > n->num;
		case OP_LE: return d <= n->num;
		case OP_GE: return d >= n->num;
		default: eq = d == n->num; break;
		}
	} else if (json_is_string(v) && n->re) {
		eq = rx_search(n->re, json_string_value(v), json_string_length(v));
	} else if (json_is_string(v) && (n->op == OP_EQ || n->op == OP_NE) && n->str) {
		eq = glob(n->str, json_string_value(v), json_string_length(v));
	} else if (json_is_boolean(v) && (n->op == OP_EQ || n->op == OP_NE) && n->str) {
		eq = strcmp(n->str, json_is_true(v) ? "true" : "false") == 0;
	} else {
		/* Different types never compare equal; ordering needs two numbers. */
		return n->op == OP_NE;
	}
	return n->op == OP_NE ? !eq : eq;
}

static bool eval(const struct node *n, json_t *doc)
{
	switch (n->kind) {
	case N_AND: return eval(n->l, doc) && eval(n->r, doc);
	case N_OR: return eval(n->l, doc) || eval(n->r, doc);
	default: return eval_cmp(n, doc);
	}
}

/* A field of a message: a run of non-blanks, or what is between "..." or [...] (without them). */
struct slice {
	const char *p;
	size_t n;
};

static size_t split_fields(const char *msg, size_t len, struct slice **out)
{
	size_t n = 0, cap = 0, i = 0;
	*out = NULL;
	for (;;) {
		while (i < len && (msg[i] == ' ' || msg[i] == '\t'))
			i++;
		if (i == len)
			break;
		struct slice sl;
		char close = msg[i] == '"' ? '"' : msg[i] == '[' ? ']' : 0;
		if (close) {
			const char *e = memchr(msg + i + 1, close, len - i - 1);
			size_t end = e ? (size_t)(e - msg) : len;
			sl = (struct slice){msg + i + 1, end - i - 1};
			i = e ? end + 1 : len;
		} else {
			size_t b = i;
			while (i < len && msg[i] != ' ' && msg[i] != '\t')
				i++;
			sl = (struct slice){msg + b, i - b};
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n++] = sl;
	}
	return n;
}

static bool slice_number(struct slice s, double *d)
{
	char tmp[64], *end;
	if (s.n == 0 || s.n >= sizeof(tmp) || !(s.p[0] == '-' || (s.p[0] >= '0' && s.p[0] <= '9')))
		return false;
	memcpy(tmp, s.p, s.n);
	tmp[s.n] = 0;
	*d = strtod(tmp, &end);
	return *end == 0 && isfinite(*d);
}

static bool eval_field(const struct node *n, const struct slice *fields)
{
	switch (n->kind) {
	case N_AND: return eval_field(n->l, fields) && eval_field(n->r, fields);
	case N_OR: return eval_field(n->l, fields) || eval_field(n->r, fields);
	default: break;
	}
	struct slice v = fields[n->field];
	bool eq;
	double d;
	if (n->re) {
		eq = rx_search(n->re, v.p, v.n);
	} else if (n->is_num && slice_number(v, &d)) {
		switch (n->op) {
		case OP_LT: return d < n->num;
		case OP_GT: return d > n->num;
		case OP_LE: return d <= n->num;
		case OP_GE: return d >= n->num;
		default: eq = d == n->num; break;
		}
	} else if (n->op == OP_EQ || n->op == OP_NE) {
		eq = glob(n->str, v.p, v.n);
	} else {
		return false; /* ordering needs a number */
	}
	return n->op == OP_NE ? !eq : eq;
}

static bool match_delimited(const struct filter *f, const char *msg, size_t len)
{
	struct slice *tok, *fields = NULL;
	size_t ntok = split_fields(msg, len, &tok);
	bool ok = false;
	if (f->ellipsis == SIZE_MAX ? ntok != f->nfields : ntok < f->nfields - 1)
		goto out;
	if (!f->root) {
		ok = true;
		goto out;
	}
	/* fields before the ellipsis from the start, those after it from the end */
	fields = xmalloc(f->nfields * sizeof(*fields));
	for (size_t i = 0; i < f->nfields; i++) {
		if (i == f->ellipsis)
			fields[i] = (struct slice){"", 0};
		else if (f->ellipsis == SIZE_MAX || i < f->ellipsis)
			fields[i] = tok[i];
		else
			fields[i] = tok[ntok - (f->nfields - i)];
	}
	ok = eval_field(f->root, fields);
out:
	free(fields);
	free(tok);
	return ok;
}

static size_t node_cost(const struct node *n)
{
	if (!n)
		return 0;
	return (n->re ? rx_size(n->re) : 0) + node_cost(n->l) + node_cost(n->r);
}

size_t filter_cost(const struct filter *f)
{
	return 1 + (f->re ? rx_size(f->re) : 0) + node_cost(f->root);
}

bool filter_match(const struct filter *f, const char *msg, size_t len)
{
	if (f->delimited)
		return match_delimited(f, msg, len);
	if (f->re)
		return rx_search(f->re, msg, len);
	if (f->json) {
		/* Only messages that are JSON objects can match a JSON pattern. */
		size_t i = 0;
		while (i < len && is_blank(msg[i]))
			i++;
		if (i == len || msg[i] != '{')
			return false;
		json_t *doc = json_loadb(msg, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
		if (!doc)
			return false;
		bool r = eval(f->root, doc);
		json_decref(doc);
		return r;
	}
	bool any = false;
	for (size_t i = 0; i < f->nterms; i++) {
		const struct term *t = &f->terms[i];
		bool has = contains(msg, len, t->s, t->n);
		if (t->kind == TERM_ALL && !has)
			return false;
		if (t->kind == TERM_NOT && has)
			return false;
		if (t->kind == TERM_ANY && has)
			any = true;
	}
	return !f->any_optional || any;
}
