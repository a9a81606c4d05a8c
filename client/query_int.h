/* client/query_int.h: the compiled form of a cluster query, shared by its compiler
 * (query.c) and its matcher (query_match.c); nothing outside those two reads it. */
#ifndef BERTH_CLIENT_QUERY_INT_H
#define BERTH_CLIENT_QUERY_INT_H

#include <stdbool.h>
#include <stdint.h>

#define QNONE UINT32_MAX

enum qkind { QN_AND, QN_OR, QN_NOT, QN_CMP };
/* Comparison operators; a negative one is its positive with `neg` set. */
enum qop { QOP_EQ, QOP_GT, QOP_GE, QOP_LT, QOP_LE, QOP_EXISTS, QOP_IN, QOP_MATCH };

struct qnode {
	uint8_t kind;     /* enum qkind */
	uint8_t op;       /* enum qop, QN_CMP only */
	bool neg;         /* QN_CMP: the negation of op */
	bool by_id;       /* QN_CMP: the subject is the instance id */
	uint32_t first;   /* QN_AND/OR/NOT: first child; QN_CMP: first value in vals */
	uint32_t nvals;   /* QN_CMP: values at vals[first..first+nvals) */
	uint32_t next;    /* the next sibling under an and/or node, or QNONE */
	const char *name; /* QN_CMP by attribute: the name, in strings */
};

struct qval {
	const char *s; /* in strings */
	double num;
	bool is_num;
};

struct query {
	char *text;          /* owned: the source */
	char *strings;       /* owned: names and unquoted values, NUL-terminated */
	struct qnode *nodes; /* owned */
	struct qval *vals;   /* owned */
	uint32_t root;
};

/* Whether s is a decimal number, whole: [+-]digits[.digits][e[+-]digits] (or .digits),
 * finite; its value in *out when so. */
bool query_number(const char *s, double *out);

#endif
