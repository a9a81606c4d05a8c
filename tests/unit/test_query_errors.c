/* tests/unit/test_query_errors.c: bad cluster queries, each with its code, column and
 * message; every limit at its edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/query.h"
#include "common/err.h"
#include "tests/unit/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJ "expected a subject (attribute:NAME, ec2InstanceId or instanceId), "

static const struct bad {
	const char *expr;
	int code;
	const char *msg;
} bad[] = {
	{"", BERTH_EBADREQ, "empty expression"},
	{" \t\n", BERTH_EBADREQ, "empty expression"},
	{"attribute:zone ==", BERTH_EBADREQ, "column 18: expected a value after '=='"},
	{"attribute:zone == )", BERTH_EBADREQ, "column 19: expected a value after '==', found ')'"},
	{"attribute:zone equals", BERTH_EBADREQ, "column 22: expected a value after 'equals'"},
	{"attribute:zone == and", BERTH_EBADREQ,
	 "column 19: expected a value after '==', found 'and' (quote it to mean the word)"},
	{"attribute: == a", BERTH_EBADREQ,
	 "column 11: expected an attribute name after 'attribute:'"},
	{"attribute:zo+ne == a", BERTH_EBADREQ,
	 "column 13: attribute names are letters, digits and - _ . / \\"},
	{"zone == a", BERTH_EBADREQ,
	 "column 1: unknown subject 'zone': expected attribute:NAME, ec2InstanceId or instanceId"},
	{"task:group == service:web", BERTH_EBADREQ,
	 "column 1: unknown subject 'task:group': expected attribute:NAME, ec2InstanceId or "
	 "instanceId"},
	{"EC2InstanceId == i-1", BERTH_EBADREQ,
	 "column 1: unknown subject 'EC2InstanceId': expected attribute:NAME, ec2InstanceId or "
	 "instanceId"},
	{"== a", BERTH_EBADREQ, "column 1: " SUBJ "found '=='"},
	{"'attribute:zone' exists", BERTH_EBADREQ, "column 1: " SUBJ "found ''attribute:zone''"},
	{"not", BERTH_EBADREQ, "column 4: " SUBJ "found the end"},
	{"attribute:a exists and", BERTH_EBADREQ, "column 23: " SUBJ "found the end"},
	{"attribute:a exists or or", BERTH_EBADREQ, "column 23: " SUBJ "found 'or'"},
	{"()", BERTH_EBADREQ, "column 2: " SUBJ "found ')'"},
	{"attribute:zone foo", BERTH_EBADREQ,
	 "column 16: expected an operator after 'attribute:zone', found 'foo'"},
	{"attribute:zone", BERTH_EBADREQ,
	 "column 15: expected an operator after 'attribute:zone', found the end"},
	{"attribute:zone ! a", BERTH_EBADREQ,
	 "column 18: expected 'in' or 'exists' after '!', found 'a'"},
	{"attribute:zone not equals a", BERTH_EBADREQ,
	 "column 20: expected 'in' or 'exists' after 'not', found 'equals'"},
	{"attribute:zone = a", BERTH_EBADREQ, "column 16: unexpected '='"},
	{"attribute:a exists & attribute:b exists", BERTH_EBADREQ, "column 20: unexpected '&'"},
	{"attribute:zone in a", BERTH_EBADREQ,
	 "column 19: expected '(' or '[' after 'in', found 'a'"},
	{"attribute:zone not in", BERTH_EBADREQ,
	 "column 22: expected '(' or '[' after 'in', found the end"},
	{"attribute:zone in (a b)", BERTH_EBADREQ,
	 "column 22: expected ',' or ')' in the list, found 'b'"},
	{"attribute:zone in (a, b]", BERTH_EBADREQ,
	 "column 24: expected ',' or ')' in the list, found ']'"},
	{"attribute:zone in [a", BERTH_EBADREQ,
	 "column 21: expected ',' or ']' in the list, found the end"},
	{"attribute:zone in ()", BERTH_EBADREQ, "column 20: expected a value after '(', found ')'"},
	{"attribute:zone in [a,]", BERTH_EBADREQ,
	 "column 22: expected a value after ',', found ']'"},
	{"attribute:zone == 'abc", BERTH_EBADREQ, "column 19: unterminated quoted value"},
	{"attribute:zone == \"abc'", BERTH_EBADREQ, "column 19: unterminated quoted value"},
	{"attribute:zone == 'a\\nb'", BERTH_EBADREQ,
	 "column 21: unknown escape in a quoted value (only \\\\, \\' and \\\")"},
	{"attribute:zone == 'a\\", BERTH_EBADREQ,
	 "column 21: unknown escape in a quoted value (only \\\\, \\' and \\\")"},
	{"attribute:zone == 'a\tb'", BERTH_EBADREQ,
	 "column 21: control character 0x09 in a quoted value"},
	{"attribute:zone == a\x01", BERTH_EBADREQ, "column 20: unexpected control character 0x01"},
	{"attribute:zone == a\x7f", BERTH_EBADREQ, "column 20: unexpected control character 0x7f"},
	{"(attribute:zone exists", BERTH_EBADREQ,
	 "column 23: expected ')' for the '(' at column 1, found the end"},
	{"((attribute:a exists) or attribute:b exists]", BERTH_EBADREQ,
	 "column 44: expected ')' for the '(' at column 1, found ']'"},
	{"attribute:zone exists)", BERTH_EBADREQ,
	 "column 22: expected 'and', 'or' or the end, found ')'"},
	{"attribute:a exists attribute:b exists", BERTH_EBADREQ,
	 "column 20: expected 'and', 'or' or the end, found 'attribute:b'"},
	{"attribute:a == b c", BERTH_EBADREQ,
	 "column 18: expected 'and', 'or' or the end, found 'c'"},
	{"attribute:a exists and attribute:b exists xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	 BERTH_EBADREQ,
	 "column 43: expected 'and', 'or' or the end, found "
	 "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"},
};

static void test_query_errors_table(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct query *q = (struct query *)&failed; /* must come back NULL */
		char err[256];
		int rv = query_compile(bad[i].expr, &q, err, sizeof(err));
		if (rv != bad[i].code || strcmp(err, bad[i].msg) != 0 || q != NULL) {
			print_error("\"%s\": got %s \"%s\"\n   want %s \"%s\"\n", bad[i].expr,
				    err_name(rv), err, err_name(bad[i].code), bad[i].msg);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Errors without a message buffer are still reported. */
static void test_query_errors_no_buffer(void **state)
{
	(void)state;
	struct query *q;
	assert_int_equal(query_compile("attribute:zone ==", &q, NULL, 0), BERTH_EBADREQ);
	assert_null(q);
	char tiny[8];
	assert_int_equal(query_compile("attribute:zone ==", &q, tiny, sizeof(tiny)), BERTH_EBADREQ);
	assert_string_equal(tiny, "column ");
}

/* Builds a string of n copies of piece followed by tail (caller frees). */
static char *repeat(const char *head, const char *piece, size_t n, const char *tail)
{
	size_t len = strlen(head) + strlen(piece) * n + strlen(tail);
	char *s = malloc(len + 1), *o = s;
	assert_non_null(s);
	o = stpcpy(o, head);
	for (size_t i = 0; i < n; i++)
		o = stpcpy(o, piece);
	strcpy(o, tail);
	return s;
}

static int compile_msg(const char *expr, char *err, size_t errlen)
{
	struct query *q;
	int rv = query_compile(expr, &q, err, errlen);
	if (rv == 0)
		query_free(q);
	return rv;
}

static void test_query_errors_limits(void **state)
{
	(void)state;
	char err[256], *s;

	/* Length: exactly QUERY_MAX_BYTES compiles (and the longest chain matches). */
	s = repeat("instanceId exists", " and instanceId exists", 92, "");
	size_t len = strlen(s);
	assert_true(len <= QUERY_MAX_BYTES);
	s = realloc(s, QUERY_MAX_BYTES + 2);
	memset(s + len, ' ', QUERY_MAX_BYTES - len);
	s[QUERY_MAX_BYTES] = '\0';
	struct query *q;
	assert_int_equal(query_compile(s, &q, err, sizeof(err)), 0);
	assert_true(query_match(q, "i-1", NULL, 0));
	assert_false(query_match(q, NULL, NULL, 0));
	query_free(q);
	strcat(s, " ");
	assert_int_equal(compile_msg(s, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_string_equal(err, "expression of 2049 bytes; the limit is 2048");
	free(s);

	/* Depth: QUERY_MAX_DEPTH parentheses or nots, then one more. */
	s = repeat("", "(", QUERY_MAX_DEPTH, "instanceId exists");
	char *closed = repeat(s, ")", QUERY_MAX_DEPTH, "");
	assert_int_equal(compile_msg(closed, err, sizeof(err)), 0);
	free(closed);
	free(s);
	s = repeat("", "(", QUERY_MAX_DEPTH + 1, "instanceId exists");
	assert_int_equal(compile_msg(s, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_string_equal(err, "column 33: expression nests deeper than 32 levels");
	free(s);
	s = repeat("", "not ", QUERY_MAX_DEPTH, "instanceId exists");
	assert_int_equal(query_compile(s, &q, err, sizeof(err)), 0);
	assert_true(query_match(q, "i", NULL, 0)); /* an even number of nots */
	query_free(q);
	free(s);
	s = repeat("", "!(", QUERY_MAX_DEPTH / 2, "instanceId exists");
	closed = repeat(s, ")", QUERY_MAX_DEPTH / 2, "");
	assert_int_equal(compile_msg(closed, err, sizeof(err)), 0);
	free(closed);
	free(s);
	s = repeat("instanceId exists and ", "not ", QUERY_MAX_DEPTH + 1, "instanceId exists");
	assert_int_equal(compile_msg(s, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_string_equal(err, "column 151: expression nests deeper than 32 levels");
	free(s);
	/* Depth counts nesting, not how many groups follow each other. */
	s = repeat("(instanceId exists)", " or (instanceId exists)", 80, "");
	assert_int_equal(compile_msg(s, err, sizeof(err)), 0);
	free(s);

	/* Lists: QUERY_MAX_LIST values, then one more. */
	s = repeat("instanceId in (v", ",v", QUERY_MAX_LIST - 1, ")");
	assert_int_equal(compile_msg(s, err, sizeof(err)), 0);
	free(s);
	s = repeat("instanceId in (v", ",v", QUERY_MAX_LIST, ")");
	assert_int_equal(compile_msg(s, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_string_equal(err, "column 144: a list holds at most 64 values");
	free(s);

	/* Attribute names: QUERY_MAX_NAME bytes, then one more. */
	s = repeat("attribute:", "n", QUERY_MAX_NAME, " exists");
	assert_int_equal(compile_msg(s, err, sizeof(err)), 0);
	free(s);
	s = repeat("attribute:", "n", QUERY_MAX_NAME + 1, " exists");
	assert_int_equal(compile_msg(s, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_string_equal(err, "column 11: attribute name of 129 bytes; the limit is 128");
	free(s);
}

/* A value of more than 64 bytes is a string, even when it is all digits. */
static void test_query_errors_long_numbers(void **state)
{
	(void)state;
	struct query *q;
	char err[128];
	assert_int_equal(query_compile("attribute:n > 9", &q, err, sizeof(err)), 0);
	char *n64 = repeat("1", "0", 63, ""), *n65 = repeat("1", "0", 64, "");
	struct query_attr a64 = {"n", n64}, a65 = {"n", n65};
	assert_true(query_match(q, "i", &a64, 1));  /* 1e63 > 9 */
	assert_false(query_match(q, "i", &a65, 1)); /* "1000..." < "9" */
	query_free(q);
	free(n64);
	free(n65);
}

/* Random token soup: every text either compiles or fails with a column, never crashes
 * (run under make asan too). Fixed seed, so a failure replays. */
static void test_query_errors_fuzz(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"attribute:zone",
		"instanceId",
		" ",
		"==",
		"!=",
		">",
		">=",
		"<",
		"<=",
		"=~",
		"!~",
		"!",
		"not",
		"and",
		"or",
		"&&",
		"||",
		"(",
		")",
		"[",
		"]",
		",",
		"in",
		"exists",
		"'q\\'x'",
		"\"",
		"'",
		"t2.*",
		"4",
		"-1.5e3",
		"a",
		"\\",
		"=",
		"&",
		"\x01",
	};
	static const char *const valid[] = {
		"attribute:zone in (a, 'b c') and not instanceId =~ i-1* or attribute:x >= 4",
		"!(attribute:zone != a || attribute:x exists) && instanceId not in [i-1]",
		"attribute:x !exists or (attribute:zone == \"q\\\"\" and attribute:x < -2)",
	};
	struct rng r = {0x5eed};
	const struct query_attr attrs[] = {{"zone", "a"}, {"x", "4"}};
	size_t ok = 0;
	for (int i = 0; i < 20000; i++) {
		char text[256] = "";
		if (i % 2 == 0) {
			size_t n = 1 + rng_below(&r, 12);
			for (size_t k = 0; k < n; k++) {
				size_t pick = rng_below(&r, sizeof(pieces) / sizeof(pieces[0]));
				strcat(text, pieces[pick]);
				if (rng_pct(&r, 60))
					strcat(text, " ");
			}
		} else {
			/* A valid expression with one or two bytes changed. */
			static const char bytes[] = " ()[],'\"=!<>&|~a1*.:\\\t";
			strcpy(text, valid[rng_below(&r, sizeof(valid) / sizeof(valid[0]))]);
			for (int k = 1 + (int)rng_below(&r, 2); k > 0; k--) {
				size_t at = rng_below(&r, strlen(text));
				text[at] = bytes[rng_below(&r, sizeof(bytes) - 1)];
			}
		}
		struct query *q;
		char err[256];
		int rv = query_compile(text, &q, err, sizeof(err));
		if (rv == 0) {
			(void)query_match(q, "i-1", attrs, 2);
			query_free(q);
			ok++;
		} else {
			assert_int_equal(rv, BERTH_EBADREQ);
			assert_true(strncmp(err, "column ", 7) == 0 ||
				    strcmp(err, "empty expression") == 0);
		}
	}
	assert_true(ok > 100); /* the soup does reach the matcher */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_errors_table),
		cmocka_unit_test(test_query_errors_no_buffer),
		cmocka_unit_test(test_query_errors_limits),
		cmocka_unit_test(test_query_errors_long_numbers),
		cmocka_unit_test(test_query_errors_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
