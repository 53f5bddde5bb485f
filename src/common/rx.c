/* Linear-time regular expressions: a parser into a small tree, a compiler into a Thompson NFA
 * program (counted repetitions copied out, size checked before anything is emitted) and a one-pass
 * simulation of that program. The syntax is in rx.h. */
#include "common/rx.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define CP_MAX	     0x1100ffu /* code points, then 0x110000 + b for a byte b that is not UTF-8 */
#define RE_SIZE_OVER (RX_SIZE_MAX + 1L)
#define STR_(x)	     #x
#define STR(x)	     STR_(x)

enum rkind { R_CHAR, R_CLASS, R_BOL, R_EOL, R_CAT, R_ALT, R_REP };

/* A tree node. R_CAT and R_ALT list their children through kid / next; R_REP repeats kid
 * min..max times (max -1: no bound); an R_CAT without children matches the empty string. size: instructions
 * it compiles to, saturated at RE_SIZE_OVER. */
struct rnode {
	enum rkind kind;
	uint32_t cp; /* R_CHAR */
	int cls;     /* R_CLASS: index into the program's classes */
	int min, max;
	int kid, next;
	long size;
};

struct range {
	uint32_t lo, hi;
};

struct cls {
	struct range *r; /* sorted, disjoint, not adjacent */
	size_t n;
};

enum iop { I_CHAR, I_CLASS, I_SPLIT, I_JMP, I_BOL, I_EOL, I_MATCH };

struct inst {
	enum iop op;
	uint32_t x; /* I_CHAR: code point; I_CLASS: class index; I_SPLIT, I_JMP: target */
	uint32_t y; /* I_SPLIT: the second target */
};

struct rx {
	struct inst *prog;
	size_t n, cap;
	struct cls *cls;
	size_t ncls;
};

struct parser {
	const char *s;
	size_t i;
	struct rnode *nodes;
	size_t nnodes, cap;
	struct cls *cls;
	size_t ncls;
	const char *why;
};

/* Decodes the character at s[*i] (s holds n bytes, or is NUL-terminated when n is SIZE_MAX) and
 * advances past it. A byte that does not start a valid, shortest UTF-8 sequence of a scalar value
 * stands for itself, as 0x110000 + byte. */
static uint32_t next_cp_n(const char *str, size_t n, size_t *i)
{
	const unsigned char *s = (const unsigned char *)str + *i;
	size_t avail = n - *i;
	uint32_t c = s[0], cp;
	size_t len;
	if (c < 0x80) {
		*i += 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		*i += 1;
		return 0x110000u + c;
	}
	for (size_t k = 1; k < len; k++) {
		/* a NUL (the end of a NUL-terminated string) is no continuation byte */
		if (k >= avail || (s[k] & 0xc0) != 0x80) {
			*i += 1;
			return 0x110000u + c;
		}
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
		*i += 1;
		return 0x110000u + c;
	}
	*i += len;
	return cp;
}

static uint32_t next_cp(const char *s, size_t *i)
{
	return next_cp_n(s, SIZE_MAX, i);
}

static int new_node(struct parser *p, enum rkind kind, long size)
{
	if (p->nnodes == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->nodes = xrealloc(p->nodes, p->cap * sizeof(*p->nodes));
	}
	p->nodes[p->nnodes] = (struct rnode){.kind = kind, .kid = -1, .next = -1, .size = size};
	return (int)p->nnodes++;
}

static long size_add(long a, long b)
{
	return a + b > RE_SIZE_OVER ? RE_SIZE_OVER : a + b;
}

static long size_mul(long a, long k)
{
	return k != 0 && a > RE_SIZE_OVER / k ? RE_SIZE_OVER : a * k;
}

/* ---- character classes ---- */

static void cls_add(struct cls *c, uint32_t lo, uint32_t hi)
{
	c->r = xrealloc(c->r, (c->n + 1) * sizeof(*c->r));
	c->r[c->n++] = (struct range){lo, hi};
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges the ranges; with negate, replaces them by their complement in 0..CP_MAX. */
static void cls_finish(struct cls *c, bool negate)
{
	size_t m = 0;
	if (c->n)
		qsort(c->r, c->n, sizeof(*c->r), range_cmp);
	for (size_t k = 0; k < c->n; k++) {
		if (m && c->r[k].lo <= c->r[m - 1].hi + 1) {
			if (c->r[k].hi > c->r[m - 1].hi)
				c->r[m - 1].hi = c->r[k].hi;
		} else {
			c->r[m++] = c->r[k];
		}
	}
	c->n = m;
	if (!negate)
		return;
	struct cls out = {0};
	uint32_t next = 0;
	for (size_t k = 0; k < c->n; k++) {
		if (c->r[k].lo > next)
			cls_add(&out, next, c->r[k].lo - 1);
		next = c->r[k].hi + 1;
	}
	if (next <= CP_MAX)
		cls_add(&out, next, CP_MAX);
	free(c->r);
	*c = out;
}

static bool cls_has(const struct cls *c, uint32_t cp)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < c->r[mid].lo)
			hi = mid;
		else if (cp > c->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Adds the ranges of \d \w \s (or, negated, \D \W \S) to c. */
static void cls_add_escape(struct cls *c, char e)
{
	static const struct range digit[] = {{'0', '9'}};
	static const struct range word[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
	static const struct range space[] = {{'\t', '\r'}, {' ', ' '}}; /* \t \n \x0B \f \r */
	const struct range *r;
	size_t n;
	switch (e | 0x20) {
	case 'd':
		r = digit;
		n = 1;
		break;
	case 'w':
		r = word;
		n = 4;
		break;
	default:
		r = space;
		n = 2;
		break;
	}
	struct cls tmp = {0};
	for (size_t k = 0; k < n; k++)
		cls_add(&tmp, r[k].lo, r[k].hi);
	cls_finish(&tmp, e < 'a'); /* \D \W \S: the complement */
	for (size_t k = 0; k < tmp.n; k++)
		cls_add(c, tmp.r[k].lo, tmp.r[k].hi);
	free(tmp.r);
}

/* A POSIX class name ([:alpha:] without its brackets), ASCII only. */
static bool cls_add_posix(struct cls *c, const char *name, size_t n)
{
	static const struct {
		const char *name;
		const char *ranges; /* pairs of bounds */
	} tab[] = {
		{"alpha", "AZaz"},    {"digit", "09"},
		{"alnum", "09AZaz"},  {"upper", "AZ"},
		{"lower", "az"},      {"space", "\t\r  "},
		{"blank", "\t\t  "},  {"punct", "!/:@[`{~"},
		{"xdigit", "09AFaf"}, {"cntrl", "\x01\x1f\x7f\x7f"},
		{"print", " ~"},      {"graph", "!~"},
	};
	for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++) {
		if (strlen(tab[k].name) != n || memcmp(tab[k].name, name, n))
			continue;
		for (const char *r = tab[k].ranges; *r; r += 2)
			cls_add(c, (unsigned char)r[0], (unsigned char)r[1]);
		if (!strcmp(tab[k].name, "cntrl"))
			cls_add(c, 0, 0);
		return true;
	}
	return false;
}

static int new_class(struct parser *p, struct cls c)
{
	p->cls = xrealloc(p->cls, (p->ncls + 1) * sizeof(*p->cls));
	p->cls[p->ncls] = c;
	return (int)p->ncls++;
}

static int class_node(struct parser *p, struct cls c)
{
	int k = new_node(p, R_CLASS, 1);
	p->nodes[k].cls = new_class(p, c);
	return k;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* An escape after its backslash, at p->s[p->i]. Returns 0 with *cp set for a single character,
 * 1 with *cls_escape set for \d \D \w \W \s \S, -1 (p->why set) when refused. */
static int parse_escape(struct parser *p, uint32_t *cp, char *cls_escape)
{
	char e = p->s[p->i];
	if (!e) {
		p->why = "it ends with a backslash";
		return -1;
	}
	if (strchr("dDwWsS", e)) {
		p->i++;
		*cls_escape = e;
		return 1;
	}
	if (e >= '1' && e <= '9') {
		p->why = "back-references are not supported";
		return -1;
	}
	if (e == 'x' || e == 'u') {
		int digits = e == 'x' ? 2 : 4;
		uint32_t v = 0;
		for (int k = 1; k <= digits; k++) {
			int h = hex_value(p->s[p->i + k]);
			if (h < 0) {
				p->why = e == 'x' ? "\\x takes two hexadecimal digits"
						  : "\\u takes four hexadecimal digits";
				return -1;
			}
			v = v << 4 | (uint32_t)h;
		}
		p->i += 1 + (size_t)digits;
		*cp = v;
		return 0;
	}
	static const char ctl[] = "tnrfae", val[] = "\t\n\r\f\a\x1b";
	const char *c = strchr(ctl, e);
	if (c) {
		p->i++;
		*cp = (unsigned char)val[c - ctl];
		return 0;
	}
	if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || e == '0') {
		p->why = "only the escapes \\d \\D \\w \\W \\s \\S \\t \\n \\r \\f \\a \\e \\xhh "
			 "\\uhhhh and \\ before a character that is not a letter or digit are "
			 "supported";
		return -1;
	}
	*cp = next_cp(p->s, &p->i);
	return 0;
}

/* A bracket expression; p->i is just past its '['. */
static int parse_bracket(struct parser *p)
{
	struct cls c = {0};
	bool negate = false, first = true;
	if (p->s[p->i] == '^') {
		negate = true;
		p->i++;
	}
	for (;; first = false) {
		const char *s = p->s;
		uint32_t lo, hi;
		char esc = 0;
		if (!s[p->i]) {
			p->why = "a bracket expression is not closed";
			goto bad;
		}
		if (s[p->i] == ']' && !first) {
			p->i++;
			break;
		}
		if (s[p->i] == '[' && (s[p->i + 1] == '.' || s[p->i + 1] == '=')) {
			p->why = "collating elements ([.x.], [=x=]) are not supported";
			goto bad;
		}
		/* Java reads these as a nested class and an intersection: refused rather than taken
		 * with another meaning */
		if (s[p->i] == '[' && s[p->i + 1] != ':') {
			p->why = "a '[' inside brackets (a nested class) is not supported; write \\[";
			goto bad;
		}
		if (s[p->i] == '&' && s[p->i + 1] == '&') {
			p->why = "class intersections (&&) are not supported";
			goto bad;
		}
		if (s[p->i] == '[' && s[p->i + 1] == ':') {
			const char *end = strstr(s + p->i + 2, ":]");
			if (!end || !cls_add_posix(&c, s + p->i + 2, (size_t)(end - (s + p->i + 2)))) {
				p->why = "unknown POSIX class: the classes are [:alpha:] [:digit:] "
					 "[:alnum:] [:upper:] [:lower:] [:space:] [:blank:] [:punct:] "
					 "[:xdigit:] [:cntrl:] [:print:] [:graph:]";
				goto bad;
			}
			p->i = (size_t)(end + 2 - s);
			continue;
		}
		if (s[p->i] == '\\') {
			p->i++;
			int r = parse_escape(p, &lo, &esc);
			if (r < 0)
				goto bad;
			if (r == 1) {
				cls_add_escape(&c, esc);
				continue;
			}
		} else {
			lo = next_cp(s, &p->i);
		}
		hi = lo;
		if (s[p->i] == '-' && s[p->i + 1] && s[p->i + 1] != ']') {
			p->i++;
			if (s[p->i] == '[') {
				p->why = "a range cannot end in a class";
				goto bad;
			}
			if (s[p->i] == '\\') {
				p->i++;
				int r = parse_escape(p, &hi, &esc);
				if (r < 0)
					goto bad;
				if (r == 1) {
					p->why = "a range cannot end in a class";
					goto bad;
				}
			} else {
				hi = next_cp(s, &p->i);
			}
			if (hi < lo) {
				p->why = "a range's end comes before its start";
				goto bad;
			}
		}
		cls_add(&c, lo, hi);
	}
	cls_finish(&c, negate);
	return class_node(p, c);
bad:
	free(c.r);
	return -1;
}

static bool quantifier_at(const char *s)
{
	return *s == '*' || *s == '+' || *s == '?' || (s[0] == '{' && s[1] >= '0' && s[1] <= '9');
}

static int parse_count(struct parser *p, int *out)
{
	long v = 0;
	if (p->s[p->i] < '0' || p->s[p->i] > '9')
		return -1;
	while (p->s[p->i] >= '0' && p->s[p->i] <= '9') {
		if (v <= RX_COUNT_MAX)
			v = v * 10 + (p->s[p->i] - '0');
		p->i++;
	}
	if (v > RX_COUNT_MAX) {
		p->why = "a repetition count is larger than " STR(RX_COUNT_MAX);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* The quantifier at p->s[p->i] (quantifier_at holds). Returns 0 with *min / *max (-1: none). */
static int parse_quantifier(struct parser *p, int *min, int *max)
{
	char c = p->s[p->i++];
	if (c != '{') {
		*min = c == '+';
		*max = c == '?' ? 1 : -1;
		return 0;
	}
	if (parse_count(p, min) < 0)
		goto bad;
	*max = *min;
	if (p->s[p->i] == ',') {
		p->i++;
		*max = -1;
		if (p->s[p->i] != '}' && parse_count(p, max) < 0)
			goto bad;
	}
	if (p->s[p->i] != '}')
		goto bad;
	p->i++;
	if (*max >= 0 && *max < *min) {
		p->why = "a {n,m} repetition has n greater than m";
		return -1;
	}
	return 0;
bad:
	if (!p->why)
		p->why = "a {n,m} repetition is malformed";
	return -1;
}

static int parse_alt(struct parser *p, int depth);

/* One atom and its quantifier, if any. Returns the node, or -1 (p->why set). */
static int parse_repeat(struct parser *p, int depth)
{
	const char *s = p->s;
	int atom;
	uint32_t cp;
	char esc = 0;

	if (quantifier_at(s + p->i)) {
		p->why = "a repetition operator has nothing to repeat";
		return -1;
	}
	char c = s[p->i];
	if (c == '(') {
		if (depth >= RX_DEPTH_MAX) {
			p->why = "its parentheses nest deeper than " STR(RX_DEPTH_MAX);
			return -1;
		}
		p->i++;
		if (s[p->i] == '?') {
			if (s[p->i + 1] != ':') {
				p->why = "lookaround, named groups and inline flags ((?=, (?<, (?i) ...) are "
					 "not supported";
				return -1;
			}
			p->i += 2;
		}
		atom = parse_alt(p, depth + 1);
		if (atom < 0)
			return -1;
		if (s[p->i] != ')') {
			p->why = "a '(' is not closed";
			return -1;
		}
		p->i++;
	} else if (c == '[') {
		p->i++;
		atom = parse_bracket(p);
		if (atom < 0)
			return -1;
	} else if (c == '.') {
		struct cls dot = {0};
		p->i++;
		cls_add(&dot, '\n', '\n');
		cls_add(&dot, '\r', '\r');
		cls_add(&dot, 0x85, 0x85);
		cls_add(&dot, 0x2028, 0x2029);
		cls_finish(&dot, true);
		atom = class_node(p, dot);
	} else if (c == '^' || c == '$') {
		p->i++;
		atom = new_node(p, c == '^' ? R_BOL : R_EOL, 1);
	} else if (c == '\\') {
		p->i++;
		int r = parse_escape(p, &cp, &esc);
		if (r < 0)
			return -1;
		if (r == 1) {
			struct cls e = {0};
			cls_add_escape(&e, esc);
			cls_finish(&e, false);
			atom = class_node(p, e);
		} else {
			atom = new_node(p, R_CHAR, 1);
			p->nodes[atom].cp = cp;
		}
	} else {
		cp = next_cp(s, &p->i);
		atom = new_node(p, R_CHAR, 1);
		p->nodes[atom].cp = cp;
	}
	if (!quantifier_at(s + p->i))
		return atom;
	int min, max;
	if (parse_quantifier(p, &min, &max) < 0)
		return -1;
	if (s[p->i] == '?') /* lazy: the whole value matches either way */
		p->i++;
	if (quantifier_at(s + p->i)) {
		p->why = "a repetition operator cannot follow another";
		return -1;
	}
	long body = p->nodes[atom].size, size = 0;
	if (body > 0) { /* compile_node emits nothing for a repeated empty body */
		size = size_mul(body, min);
		size = size_add(size, max < 0 ? size_add(body, 2) : size_mul(size_add(body, 1), max - min));
	}
	int rep = new_node(p, R_REP, size);
	p->nodes[rep].kid = atom;
	p->nodes[rep].min = min;
	p->nodes[rep].max = max;
	return rep;
}

/* A sequence, up to '|', ')' or the end. */
static int parse_cat(struct parser *p, int depth)
{
	int cat = new_node(p, R_CAT, 0), last = -1;
	while (p->s[p->i] && p->s[p->i] != '|' && p->s[p->i] != ')') {
		int k = parse_repeat(p, depth);
		if (k < 0)
			return -1;
		if (last < 0)
			p->nodes[cat].kid = k;
		else
			p->nodes[last].next = k;
		last = k;
		p->nodes[cat].size = size_add(p->nodes[cat].size, p->nodes[k].size);
	}
	return cat;
}

static int parse_alt(struct parser *p, int depth)
{
	int first = parse_cat(p, depth);
	if (first < 0 || p->s[p->i] != '|')
		return first;
	int alt = new_node(p, R_ALT, p->nodes[first].size), last = first;
	p->nodes[alt].kid = first;
	while (p->s[p->i] == '|') {
		p->i++;
		int k = parse_cat(p, depth);
		if (k < 0)
			return -1;
		p->nodes[last].next = k;
		last = k;
		p->nodes[alt].size = size_add(p->nodes[alt].size, size_add(p->nodes[k].size, 2));
	}
	return alt;
}

/* ---- compiler ---- */

static uint32_t emit(struct rx *re, enum iop op, uint32_t x, uint32_t y)
{
	if (re->n == re->cap)
		abort(); /* parse_* computed each node's size: the program never outgrows it */
	re->prog[re->n] = (struct inst){op, x, y};
	return (uint32_t)re->n++;
}

static void compile_node(struct rx *re, const struct rnode *nodes, int k)
{
	const struct rnode *nd = &nodes[k];
	uint32_t at, loop;
	switch (nd->kind) {
	case R_CHAR: emit(re, I_CHAR, nd->cp, 0); break;
	case R_CLASS: emit(re, I_CLASS, (uint32_t)nd->cls, 0); break;
	case R_BOL: emit(re, I_BOL, 0, 0); break;
	case R_EOL: emit(re, I_EOL, 0, 0); break;
	case R_CAT:
		for (int c = nd->kid; c >= 0; c = nodes[c].next)
			compile_node(re, nodes, c);
		break;
	case R_ALT: {
		/* SPLIT next, L2; a; JMP end; L2: SPLIT next, L3; b; JMP end; ... L: last */
		size_t first_jmp = SIZE_MAX;
		for (int c = nd->kid; c >= 0; c = nodes[c].next) {
			if (nodes[c].next < 0) {
				compile_node(re, nodes, c);
				break;
			}
			at = emit(re, I_SPLIT, (uint32_t)re->n + 1, 0);
			compile_node(re, nodes, c);
			/* the JMPs are chained through x until the end is known */
			uint32_t j =
				emit(re, I_JMP, first_jmp == SIZE_MAX ? UINT32_MAX : (uint32_t)first_jmp, 0);
			first_jmp = j;
			re->prog[at].y = (uint32_t)re->n;
		}
		while (first_jmp != SIZE_MAX) {
			uint32_t prev = re->prog[first_jmp].x;
			re->prog[first_jmp].x = (uint32_t)re->n;
			first_jmp = prev == UINT32_MAX ? SIZE_MAX : prev;
		}
		break;
	}
	case R_REP: {
		if (nodes[nd->kid].size == 0)
			break; /* a body of no instructions (()) repeated matches what it matches once */
		for (int c = 0; c < nd->min; c++)
			compile_node(re, nodes, nd->kid);
		if (nd->max < 0) {
			loop = emit(re, I_SPLIT, (uint32_t)re->n + 1, 0);
			compile_node(re, nodes, nd->kid);
			emit(re, I_JMP, loop, 0);
			re->prog[loop].y = (uint32_t)re->n;
			break;
		}
		/* each optional copy can be skipped to the end: SPLIT next, end; x; SPLIT next, end; x.
		 * Until the end is known the splits are chained through y (previous split + 1). */
		uint32_t chain = 0;
		for (int c = nd->min; c < nd->max; c++) {
			chain = emit(re, I_SPLIT, (uint32_t)re->n + 1, chain) + 1;
			compile_node(re, nodes, nd->kid);
		}
		while (chain) {
			uint32_t prev = re->prog[chain - 1].y;
			re->prog[chain - 1].y = (uint32_t)re->n;
			chain = prev;
		}
		break;
	}
	}
}

struct rx *rx_compile(const char *pat, const char **why)
{
	struct parser p = {.s = pat};
	struct rx *re = NULL;
	int root = parse_alt(&p, 0);
	if (root >= 0 && pat[p.i] == ')')
		p.why = "a ')' has no '(' to close";
	if (root >= 0 && !p.why && p.nodes[root].size + 1 > RX_SIZE_MAX)
		p.why = "its repetitions multiply past " STR(RX_SIZE_MAX) " instructions";
	if (root < 0 || p.why) {
		*why = p.why;
		for (size_t k = 0; k < p.ncls; k++)
			free(p.cls[k].r);
		free(p.cls);
		goto out;
	}
	re = xcalloc(1, sizeof(*re));
	re->cap = (size_t)p.nodes[root].size + 1;
	re->prog = xcalloc(re->cap, sizeof(*re->prog));
	re->cls = p.cls;
	re->ncls = p.ncls;
	compile_node(re, p.nodes, root);
	emit(re, I_MATCH, 0, 0);
out:
	free(p.nodes);
	return re;
}

/* ---- matcher ---- */

struct threads {
	uint32_t *pc;
	size_t n;
};

/* Adds the thread at pc and everything it reaches without reading a character to list, once each
 * (mark[pc] == gen: already there). bol / eol: whether ^ and $ hold at the position. */
static void add_thread(const struct rx *re, struct threads *list, uint32_t *mark, uint32_t gen,
		       uint32_t *stack, uint32_t pc, bool bol, bool eol)
{
	size_t top = 0;
	stack[top++] = pc;
	while (top) {
		pc = stack[--top];
		if (mark[pc] == gen)
			continue;
		mark[pc] = gen;
		const struct inst *in = &re->prog[pc];
		switch (in->op) {
		case I_JMP: stack[top++] = in->x; break;
		case I_SPLIT:
			stack[top++] = in->y;
			stack[top++] = in->x;
			break;
		case I_BOL:
			if (bol)
				stack[top++] = pc + 1;
			break;
		case I_EOL:
			if (eol)
				stack[top++] = pc + 1;
			break;
		default: list->pc[list->n++] = pc; break;
		}
	}
}

/* Whether $ holds at text[i]: at the end, or (as in Java without MULTILINE) before a line
 * terminator that ends the text: \n, \r\n, \r, U+0085, U+2028, U+2029. */
static bool at_end(const char *text, size_t n, size_t i)
{
	if (i == n)
		return true;
	size_t j = i;
	uint32_t cp = next_cp_n(text, n, &j);
	if (cp == '\r' && j < n && text[j] == '\n')
		j++;
	return j == n && (cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029);
}

/* The simulation over text[0..n). search: a thread starts at every position and any MATCH
 * reached ends it; otherwise one thread starts at 0 and MATCH counts only at the end. */
static bool run(const struct rx *re, const char *text, size_t n, bool search)
{
	/* each instruction is marked once per step and pushes at most two: the stack needs 2m + 1 */
	size_t m = re->n;
	uint32_t *mem = xcalloc(5 * m + 1, sizeof(*mem));
	uint32_t *mark = mem, *stack = mem + m;
	struct threads cur = {mem + 3 * m + 1, 0}, next = {mem + 4 * m + 1, 0};
	uint32_t gen = 1;
	size_t i = 0;
	bool matched = false;

	add_thread(re, &cur, mark, gen, stack, 0, true, at_end(text, n, 0));
	for (;;) {
		for (size_t t = 0; t < cur.n && !matched; t++)
			matched = re->prog[cur.pc[t]].op == I_MATCH && (search || i == n);
		if (matched || i == n || (!search && !cur.n))
			break;
		uint32_t cp = next_cp_n(text, n, &i);
		bool end = at_end(text, n, i);
		gen++;
		next.n = 0;
		for (size_t t = 0; t < cur.n; t++) {
			const struct inst *in = &re->prog[cur.pc[t]];
			if ((in->op == I_CHAR && in->x == cp) ||
			    (in->op == I_CLASS && cls_has(&re->cls[in->x], cp)))
				add_thread(re, &next, mark, gen, stack, cur.pc[t] + 1, false, end);
		}
		if (search)
			add_thread(re, &next, mark, gen, stack, 0, false, end);
		struct threads tmp = cur;
		cur = next;
		next = tmp;
	}
	free(mem);
	return matched;
}

bool rx_match(const struct rx *re, const char *s)
{
	return run(re, s, strlen(s), false);
}

bool rx_search(const struct rx *re, const char *text, size_t n)
{
	return run(re, text, n, true);
}

size_t rx_size(const struct rx *re)
{
	return re->n;
}

void rx_free(struct rx *re)
{
	if (!re)
		return;
	for (size_t k = 0; k < re->ncls; k++)
		free(re->cls[k].r);
	free(re->cls);
	free(re->prog);
	free(re);
}
