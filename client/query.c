/* client/query.c: the cluster query language: lexer, recursive-descent compiler, matcher.
 *
 * The compiled form is a tree in one array: and/or nodes list their children through the
 * children's `next` index, so a chain of a thousand `and`s is one node with a thousand
 * children, and recursion while matching is bounded by QUERY_MAX_DEPTH, not by length. */
#include "client/query.h"
#include "client/query_int.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- lexer ---- */

enum tkind {
	T_END,
	T_WORD,
	T_STRING,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_EQ,
	T_NE,
	T_GT,
	T_GE,
	T_LT,
	T_LE,
	T_MATCH,
	T_NMATCH,
	T_BANG,
	T_AND,
	T_OR,
};

struct tok {
	enum tkind kind;
	size_t at;  /* offset of its first byte */
	size_t len; /* bytes in the source, quotes included */
};

struct parser {
	const char *text;
	size_t len;
	size_t pos;   /* where the next token starts looking */
	struct tok t; /* the current token */
	unsigned depth;
	struct query *q;
	size_t nnodes, cap_nodes, nvals, cap_vals;
	char *str_end; /* next free byte in q->strings */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int fail(struct parser *p, int code, size_t at,
						      const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errlen > 0)
		snprintf(p->err, p->errlen, "column %zu: %s", at + 1, msg);
	return code;
}

/* Characters that end a bare word. */
static bool word_char(unsigned char c)
{
	return c > ' ' && c != 0x7f && strchr("()[],'\"=!<>&|", c) == NULL;
}

static int lex_quoted(struct parser *p, size_t at)
{
	char quote = p->text[at];
	size_t i = at + 1;
	for (;;) {
		if (i >= p->len)
			return fail(p, BERTH_EBADREQ, at, "unterminated quoted value");
		char c = p->text[i];
		if (c == quote)
			break;
		if (c == '\\') {
			char e = i + 1 < p->len ? p->text[i + 1] : '\0';
			if (e != '\\' && e != '\'' && e != '"')
				return fail(
					p, BERTH_EBADREQ, i,
					"unknown escape in a quoted value (only \\\\, \\' and \\\")");
			i++;
		} else if ((unsigned char)c < ' ' || c == 0x7f) {
			return fail(p, BERTH_EBADREQ, i,
				    "control character 0x%02x in a quoted value",
				    (unsigned)(unsigned char)c);
		}
		i++;
	}
	p->t = (struct tok){T_STRING, at, i + 1 - at};
	return 0;
}

/* Reads the next token into p->t. */
static int lex(struct parser *p)
{
	static const struct {
		const char *s;
		enum tkind kind;
	} ops[] = {
		{"==", T_EQ},    {"!=", T_NE},     {">=", T_GE},    {"<=", T_LE},
		{"=~", T_MATCH}, {"!~", T_NMATCH}, {"&&", T_AND},   {"||", T_OR},
		{">", T_GT},     {"<", T_LT},      {"!", T_BANG},   {"(", T_LPAREN},
		{")", T_RPAREN}, {"[", T_LBRACK},  {"]", T_RBRACK}, {",", T_COMMA},
	};
	while (p->pos < p->len && strchr(" \t\r\n", p->text[p->pos]) != NULL)
		p->pos++;
	size_t at = p->pos;
	if (at >= p->len) {
		p->t = (struct tok){T_END, at, 0};
		return 0;
	}
	unsigned char c = (unsigned char)p->text[at];
	if (c == '\'' || c == '"') {
		int rv = lex_quoted(p, at);
		if (rv == 0)
			p->pos = at + p->t.len;
		return rv;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].s);
		if (strncmp(p->text + at, ops[i].s, n) == 0) {
			p->t = (struct tok){ops[i].kind, at, n};
			p->pos = at + n;
			return 0;
		}
	}
	if (!word_char(c)) {
		if (c < ' ' || c == 0x7f)
			return fail(p, BERTH_EBADREQ, at, "unexpected control character 0x%02x",
				    (unsigned)c);
		return fail(p, BERTH_EBADREQ, at, "unexpected '%c'", c);
	}
	size_t end = at;
	while (end < p->len && word_char((unsigned char)p->text[end]))
		end++;
	p->t = (struct tok){T_WORD, at, end - at};
	p->pos = end;
	return 0;
}

static bool is_word(const struct parser *p, const char *w)
{
	return p->t.kind == T_WORD && p->t.len == strlen(w) &&
	       strncasecmp(p->text + p->t.at, w, p->t.len) == 0;
}

/* How the current token reads in a message: "found 'x'" or "found the end". */
static const char *found(const struct parser *p, char *buf, size_t n)
{
	if (p->t.kind == T_END)
		snprintf(buf, n, "found the end");
	else
		snprintf(buf, n, "found '%.*s%s'", (int)(p->t.len > 32 ? 32 : p->t.len),
			 p->text + p->t.at, p->t.len > 32 ? "..." : "");
	return buf;
}

/* ---- compiled form ---- */

/* arr with room for one more element (n in use, *cap allocated, size bytes each):
 * arr itself, a larger copy, or NULL when out of memory (arr is then unchanged). */
static void *grow(void *arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	size_t want = *cap ? *cap * 2 : 16;
	void *more = realloc(arr, want * size);
	if (more != NULL)
		*cap = want;
	return more;
}

static int new_node(struct parser *p, enum qkind kind, uint32_t *out)
{
	struct qnode *nodes = grow(p->q->nodes, p->nnodes, &p->cap_nodes, sizeof(*nodes));
	if (nodes == NULL)
		return BERTH_ENOMEM;
	p->q->nodes = nodes;
	*out = (uint32_t)p->nnodes;
	p->q->nodes[p->nnodes++] =
		(struct qnode){.kind = (uint8_t)kind, .first = QNONE, .next = QNONE};
	return 0;
}

/* Copies the token's text into strings, unquoting a quoted value. */
static const char *save_tok(struct parser *p, const struct tok *t)
{
	char *out = p->str_end, *o = out;
	if (t->kind == T_STRING) {
		for (size_t i = t->at + 1; i + 1 < t->at + t->len; i++) {
			if (p->text[i] == '\\')
				i++;
			*o++ = p->text[i];
		}
	} else {
		memcpy(o, p->text + t->at, t->len);
		o += t->len;
	}
	*o++ = '\0';
	p->str_end = o;
	return out;
}

static int add_value(struct parser *p, const char *after)
{
	char f[64];
	if (p->t.kind != T_WORD && p->t.kind != T_STRING)
		return fail(p, BERTH_EBADREQ, p->t.at, "expected a value after '%s'%s%s", after,
			    p->t.kind == T_END ? "" : ", ",
			    p->t.kind == T_END ? "" : found(p, f, sizeof(f)));
	if (is_word(p, "and") || is_word(p, "or"))
		return fail(p, BERTH_EBADREQ, p->t.at,
			    "expected a value after '%s', %s (quote it to mean the word)", after,
			    found(p, f, sizeof(f)));
	struct qval *vals = grow(p->q->vals, p->nvals, &p->cap_vals, sizeof(*vals));
	if (vals == NULL)
		return BERTH_ENOMEM;
	p->q->vals = vals;
	struct qval *v = &p->q->vals[p->nvals++];
	v->s = save_tok(p, &p->t);
	v->is_num = query_number(v->s, &v->num);
	return lex(p);
}

/* ---- parser ---- */

static int parse_or(struct parser *p, uint32_t *out);

static int parse_subject(struct parser *p, struct qnode *n)
{
	char f[64];
	static const char prefix[] = "attribute:";
	size_t plen = sizeof(prefix) - 1;
	const char *w = p->text + p->t.at;
	if (p->t.kind == T_WORD && p->t.len >= plen && strncmp(w, prefix, plen) == 0) {
		size_t nlen = p->t.len - plen;
		if (nlen == 0)
			return fail(p, BERTH_EBADREQ, p->t.at + plen,
				    "expected an attribute name after 'attribute:'");
		for (size_t i = 0; i < nlen; i++) {
			unsigned char c = (unsigned char)w[plen + i];
			if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
			    !(c >= '0' && c <= '9') && strchr("-_./\\", c) == NULL)
				return fail(p, BERTH_EBADREQ, p->t.at + plen + i,
					    "attribute names are letters, digits and - _ . / \\");
		}
		if (nlen > QUERY_MAX_NAME)
			return fail(p, BERTH_ETOOLARGE, p->t.at + plen,
				    "attribute name of %zu bytes; the limit is %d", nlen,
				    QUERY_MAX_NAME);
		struct tok name = {T_WORD, p->t.at + plen, nlen};
		n->name = save_tok(p, &name);
		return 0;
	}
	if ((p->t.len == 13 && strncmp(w, "ec2InstanceId", 13) == 0) ||
	    (p->t.len == 10 && strncmp(w, "instanceId", 10) == 0)) {
		n->by_id = true;
		return 0;
	}
	if (p->t.kind == T_WORD && !is_word(p, "and") && !is_word(p, "or"))
		return fail(p, BERTH_EBADREQ, p->t.at,
			    "unknown subject '%.*s': expected attribute:NAME, ec2InstanceId or "
			    "instanceId",
			    (int)(p->t.len > 32 ? 32 : p->t.len), w);
	return fail(p, BERTH_EBADREQ, p->t.at,
		    "expected a subject (attribute:NAME, ec2InstanceId or instanceId), %s",
		    found(p, f, sizeof(f)));
}

/* Reads the operator into n; *takes says whether a value (1) or a list (2) follows. */
static int parse_op(struct parser *p, struct qnode *n, const struct tok *subj, int *takes)
{
	static const struct {
		const char *word;
		enum tkind sym;
		enum qop op;
		bool neg;
		int takes;
	} ops[] = {
		{"equals", T_EQ, QOP_EQ, false, 1},
		{"not_equals", T_NE, QOP_EQ, true, 1},
		{"greater_than", T_GT, QOP_GT, false, 1},
		{"greater_than_equal", T_GE, QOP_GE, false, 1},
		{"less_than", T_LT, QOP_LT, false, 1},
		{"less_than_equal", T_LE, QOP_LE, false, 1},
		{"matches", T_MATCH, QOP_MATCH, false, 1},
		{"not_matches", T_NMATCH, QOP_MATCH, true, 1},
		{"exists", T_END, QOP_EXISTS, false, 0},
		{"not_exists", T_END, QOP_EXISTS, true, 0},
		{"in", T_END, QOP_IN, false, 2},
		{"not_in", T_END, QOP_IN, true, 2},
	};
	char f[64];
	bool neg = false;
	if (p->t.kind == T_BANG || is_word(p, "not")) {
		struct tok not = p->t;
		int rv = lex(p);
		if (rv != 0)
			return rv;
		if (!is_word(p, "in") && !is_word(p, "exists"))
			return fail(p, BERTH_EBADREQ, p->t.at,
				    "expected 'in' or 'exists' after '%.*s', %s", (int)not .len,
				    p->text + not .at, found(p, f, sizeof(f)));
		neg = true;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if ((ops[i].sym != T_END && p->t.kind == ops[i].sym) || is_word(p, ops[i].word)) {
			n->op = (uint8_t)ops[i].op;
			n->neg = ops[i].neg != neg;
			*takes = ops[i].takes;
			return 0;
		}
	}
	return fail(p, BERTH_EBADREQ, p->t.at, "expected an operator after '%.*s', %s",
		    (int)(subj->len > 32 ? 32 : subj->len), p->text + subj->at,
		    found(p, f, sizeof(f)));
}

static int parse_list(struct parser *p, struct qnode *n, const char *opname)
{
	char f[64];
	if (p->t.kind != T_LPAREN && p->t.kind != T_LBRACK)
		return fail(p, BERTH_EBADREQ, p->t.at, "expected '(' or '[' after '%s', %s", opname,
			    found(p, f, sizeof(f)));
	enum tkind close = p->t.kind == T_LPAREN ? T_RPAREN : T_RBRACK;
	char open[2] = {p->text[p->t.at], '\0'};
	int rv = lex(p);
	if (rv != 0)
		return rv;
	n->first = (uint32_t)p->nvals;
	for (;;) {
		if (n->nvals == QUERY_MAX_LIST)
			return fail(p, BERTH_ETOOLARGE, p->t.at, "a list holds at most %d values",
				    QUERY_MAX_LIST);
		if ((rv = add_value(p, n->nvals == 0 ? open : ",")) != 0)
			return rv;
		n->nvals++;
		if (p->t.kind == close)
			return lex(p);
		if (p->t.kind != T_COMMA)
			return fail(p, BERTH_EBADREQ, p->t.at,
				    "expected ',' or '%c' in the list, %s",
				    close == T_RPAREN ? ')' : ']', found(p, f, sizeof(f)));
		if ((rv = lex(p)) != 0)
			return rv;
	}
}

static int parse_cmp(struct parser *p, uint32_t *out)
{
	struct qnode n = {.kind = QN_CMP, .first = QNONE, .next = QNONE};
	struct tok subj = p->t;
	int takes = 0, rv = parse_subject(p, &n);
	if (rv != 0 || (rv = lex(p)) != 0)
		return rv;
	if ((rv = parse_op(p, &n, &subj, &takes)) != 0)
		return rv;
	char opname[32];
	snprintf(opname, sizeof(opname), "%.*s", (int)p->t.len, p->text + p->t.at);
	if ((rv = lex(p)) != 0)
		return rv;
	if (takes == 1) {
		n.first = (uint32_t)p->nvals;
		n.nvals = 1;
		rv = add_value(p, opname);
	} else if (takes == 2) {
		rv = parse_list(p, &n, opname);
	}
	if (rv != 0 || (rv = new_node(p, QN_CMP, out)) != 0)
		return rv;
	p->q->nodes[*out] = n;
	return 0;
}

static int parse_unary(struct parser *p, uint32_t *out)
{
	char f[64];
	int rv;
	bool is_not = p->t.kind == T_BANG || is_word(p, "not");
	if (!is_not && p->t.kind != T_LPAREN)
		return parse_cmp(p, out);
	if (++p->depth > QUERY_MAX_DEPTH)
		return fail(p, BERTH_ETOOLARGE, p->t.at, "expression nests deeper than %d levels",
			    QUERY_MAX_DEPTH);
	struct tok open = p->t;
	if ((rv = lex(p)) != 0)
		return rv;
	if (is_not) {
		uint32_t child;
		if ((rv = parse_unary(p, &child)) != 0 || (rv = new_node(p, QN_NOT, out)) != 0)
			return rv;
		p->q->nodes[*out].first = child;
	} else {
		if ((rv = parse_or(p, out)) != 0)
			return rv;
		if (p->t.kind != T_RPAREN)
			return fail(p, BERTH_EBADREQ, p->t.at,
				    "expected ')' for the '(' at column %zu, %s", open.at + 1,
				    found(p, f, sizeof(f)));
		if ((rv = lex(p)) != 0)
			return rv;
	}
	p->depth--;
	return 0;
}

/* One level of the precedence ladder: operands joined by `word` / `sym`. */
static int parse_chain(struct parser *p, uint32_t *out, enum qkind kind, const char *word,
		       enum tkind sym)
{
	uint32_t first, last, node;
	int rv = kind == QN_OR ? parse_chain(p, &first, QN_AND, "and", T_AND)
			       : parse_unary(p, &first);
	if (rv != 0)
		return rv;
	if (p->t.kind != sym && !is_word(p, word)) {
		*out = first;
		return 0;
	}
	if ((rv = new_node(p, kind, &node)) != 0)
		return rv;
	p->q->nodes[node].first = last = first;
	while (p->t.kind == sym || is_word(p, word)) {
		uint32_t next;
		if ((rv = lex(p)) != 0)
			return rv;
		rv = kind == QN_OR ? parse_chain(p, &next, QN_AND, "and", T_AND)
				   : parse_unary(p, &next);
		if (rv != 0)
			return rv;
		p->q->nodes[last].next = next;
		last = next;
	}
	*out = node;
	return 0;
}

static int parse_or(struct parser *p, uint32_t *out)
{
	return parse_chain(p, out, QN_OR, "or", T_OR);
}

int query_compile(const char *text, struct query **out, char *err, size_t errlen)
{
	struct parser p = {.text = text, .err = err, .errlen = errlen};
	char f[64];
	int rv;
	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	p.len = strlen(text);
	if (p.len > QUERY_MAX_BYTES) {
		if (errlen > 0)
			snprintf(err, errlen, "expression of %zu bytes; the limit is %d", p.len,
				 QUERY_MAX_BYTES);
		return BERTH_ETOOLARGE;
	}
	p.q = calloc(1, sizeof(*p.q));
	if (p.q == NULL)
		return BERTH_ENOMEM;
	/* Every name and value is at most its token's bytes plus a NUL. */
	p.q->text = strdup(text);
	p.q->strings = malloc(2 * p.len + 2);
	if (p.q->text == NULL || p.q->strings == NULL) {
		rv = BERTH_ENOMEM;
		goto err_after_alloc;
	}
	p.str_end = p.q->strings;
	if ((rv = lex(&p)) != 0)
		goto err_after_alloc;
	if (p.t.kind == T_END) {
		if (errlen > 0)
			snprintf(err, errlen, "empty expression");
		rv = BERTH_EBADREQ;
		goto err_after_alloc;
	}
	if ((rv = parse_or(&p, &p.q->root)) != 0)
		goto err_after_alloc;
	if (p.t.kind != T_END) {
		rv = fail(&p, BERTH_EBADREQ, p.t.at, "expected 'and', 'or' or the end, %s",
			  found(&p, f, sizeof(f)));
		goto err_after_alloc;
	}
	*out = p.q;
	return 0;

err_after_alloc:
	if (rv == BERTH_ENOMEM && errlen > 0)
		snprintf(err, errlen, "%s", err_text(rv));
	query_free(p.q);
	return rv;
}

void query_free(struct query *q)
{
	if (q == NULL)
		return;
	free(q->text);
	free(q->strings);
	free(q->nodes);
	free(q->vals);
	free(q);
}

const char *query_text(const struct query *q)
{
	return q->text;
}
