/* client/query_match.c: matching a compiled cluster query against one instance, without
 * allocating: comparisons, numbers, and the wildcard patterns of =~. */
#include "client/query.h"
#include "client/query_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longer strings are never numbers, which also keeps strtod off the heap. */
#define QUERY_MAX_NUMBER 64

bool query_number(const char *s, double *out)
{
	const char *c = s;
	size_t digits = 0;
	if (*c == '+' || *c == '-')
		c++;
	for (; *c >= '0' && *c <= '9'; c++)
		digits++;
	if (*c == '.')
		for (c++; *c >= '0' && *c <= '9'; c++)
			digits++;
	if (digits == 0)
		return false;
	if (*c == 'e' || *c == 'E') {
		c++;
		if (*c == '+' || *c == '-')
			c++;
		if (*c < '0' || *c > '9')
			return false;
		while (*c >= '0' && *c <= '9')
			c++;
	}
	if (*c != '\0' || c - s > QUERY_MAX_NUMBER)
		return false;
	double v = strtod(s, NULL);
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

/* Whether the pattern element at p (not '*', not the end) matches byte c; *next is
 * set past the element. A '[' without its ']' is a literal '[', as in fnmatch(3). */
static bool one_match(const char *p, unsigned char c, const char **next)
{
	if (*p == '?') {
		*next = p + 1;
		return true;
	}
	if (*p == '\\' && p[1] != '\0') {
		*next = p + 2;
		return (unsigned char)p[1] == c;
	}
	if (*p == '[') {
		const char *q = p + 1;
		bool neg = *q == '!' || *q == '^', hit = false;
		if (neg)
			q++;
		const char *set = q;
		while (*q != '\0' && (*q != ']' || q == set)) {
			unsigned char lo = (unsigned char)*q, hi = lo;
			if (q[1] == '-' && q[2] != '\0' && q[2] != ']') {
				hi = (unsigned char)q[2];
				q += 2;
			}
			if (c >= lo && c <= hi)
				hit = true;
			q++;
		}
		if (*q == ']') {
			*next = q + 1;
			return hit != neg;
		}
	}
	*next = p + 1;
	return (unsigned char)*p == c;
}

/* fnmatch(3) without flags: '*' any run of bytes, '?' one byte, [set] with ranges and
 * ! or ^ to negate, '\' quotes the next byte. Backtracks only to the last '*', so the
 * cost is at most pattern length times string length. */
static bool wild_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL, *next;
	while (*s != '\0') {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
		} else if (*p != '\0' && one_match(p, (unsigned char)*s, &next)) {
			p = next;
			s++;
		} else if (star_p != NULL) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* <0, 0, >0: as numbers when both are, else byte-wise. */
static int compare(const char *a, const struct qval *v)
{
	double x;
	if (v->is_num && query_number(a, &x))
		return x < v->num ? -1 : x > v->num ? 1 : 0;
	return strcmp(a, v->s);
}

static bool cmp_match(const struct query *q, const struct qnode *n, const char *id,
		      const struct query_attr *attrs, size_t nattrs)
{
	const char *value = NULL;
	bool present = false;
	if (n->by_id) {
		value = id;
		present = id != NULL;
	} else {
		for (size_t i = 0; i < nattrs && !present; i++) {
			if (attrs[i].name != NULL && strcmp(attrs[i].name, n->name) == 0) {
				present = true;
				value = attrs[i].value != NULL ? attrs[i].value : "";
			}
		}
	}
	bool r = false;
	const struct qval *v = q->vals + (n->nvals > 0 ? n->first : 0);
	if (present) {
		switch ((enum qop)n->op) {
		case QOP_EQ:
			r = compare(value, v) == 0;
			break;
		case QOP_GT:
			r = compare(value, v) > 0;
			break;
		case QOP_GE:
			r = compare(value, v) >= 0;
			break;
		case QOP_LT:
			r = compare(value, v) < 0;
			break;
		case QOP_LE:
			r = compare(value, v) <= 0;
			break;
		case QOP_EXISTS:
			r = true;
			break;
		case QOP_IN:
			for (uint32_t i = 0; i < n->nvals && !r; i++)
				r = compare(value, &v[i]) == 0;
			break;
		case QOP_MATCH:
			r = wild_match(v->s, value);
			break;
		}
	}
	return r != n->neg;
}

static bool node_match(const struct query *q, uint32_t i, const char *id,
		       const struct query_attr *attrs, size_t nattrs)
{
	const struct qnode *n = &q->nodes[i];
	switch ((enum qkind)n->kind) {
	case QN_AND:
		for (uint32_t c = n->first; c != QNONE; c = q->nodes[c].next)
			if (!node_match(q, c, id, attrs, nattrs))
				return false;
		return true;
	case QN_OR:
		for (uint32_t c = n->first; c != QNONE; c = q->nodes[c].next)
			if (node_match(q, c, id, attrs, nattrs))
				return true;
		return false;
	case QN_NOT:
		return !node_match(q, n->first, id, attrs, nattrs);
	case QN_CMP:
		break;
	}
	return cmp_match(q, n, id, attrs, nattrs);
}

bool query_match(const struct query *q, const char *id, const struct query_attr *attrs,
		 size_t nattrs)
{
	return node_match(q, q->root, id, attrs, nattrs);
}
