/* tests/unit/test_query.c: the cluster query language: every operator, numbers and strings,
 * wildcards, quoting, precedence and parentheses, missing attributes, the subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/query.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

/* The instance every expression below is matched against (id "i-42"). */
static const struct query_attr inst[] = {
	{"zone", "eu-1a"}, {"type", "t2.micro"}, {"cpu", "4"},
	{"ver", "1.10"},   {"gpu", NULL},        {"name", "hello world"},
	{"word", "and"},   {"os", "linux"},      {"zone", "second-ignored"},
	{"quote", "it's"}, {"neg", "-2.5e1"},    {"star", "a*b"},
};
#define NINST (sizeof(inst) / sizeof(inst[0]))

struct want {
	const char *expr;
	bool match;
};

static void check_table(const struct want *w, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct query *q = NULL;
		char err[256];
		int rv = query_compile(w[i].expr, &q, err, sizeof(err));
		if (rv != 0) {
			print_error("compile \"%s\": %s\n", w[i].expr, err);
			bad++;
			continue;
		}
		assert_string_equal(query_text(q), w[i].expr);
		bool got = query_match(q, "i-42", inst, NINST);
		if (got != w[i].match) {
			print_error("\"%s\": got %d, want %d\n", w[i].expr, got, w[i].match);
			bad++;
		}
		query_free(q);
	}
	assert_int_equal(bad, 0);
}
#define CHECK(table) check_table(table, sizeof(table) / sizeof(table[0]))

static void test_query_equality(void **state)
{
	(void)state;
	static const struct want t[] = {
		{"attribute:zone == eu-1a", true},     {"attribute:zone == eu-1b", false},
		{"attribute:zone != eu-1b", true},     {"attribute:zone != eu-1a", false},
		{"attribute:zone equals eu-1a", true}, {"attribute:zone not_equals eu-1a", false},
		{"attribute:zone==eu-1a", true},       {"attribute:zone!=eu-1a", false},
		{"attribute:cpu == 4.0", true},        {"attribute:cpu == '04'", true},
		{"attribute:cpu != 4e0", false},       {"attribute:ver == 1.1", true},
		{"attribute:ver == '1.10'", true},     {"attribute:zone == EU-1A", false},
		{"attribute:gpu == ''", true},         {"attribute:neg == -25", true},
	};
	CHECK(t);
}

static void test_query_order(void **state)
{
	(void)state;
	static const struct want t[] = {
		/* numbers on both sides compare as numbers */
		{"attribute:cpu > 10", false},
		{"attribute:cpu < 10", true},
		{"attribute:cpu >= 4", true},
		{"attribute:cpu <= 4", true},
		{"attribute:cpu > 4", false},
		{"attribute:cpu < 4", false},
		{"attribute:cpu > 3.99", true},
		{"attribute:cpu greater_than 3", true},
		{"attribute:cpu greater_than_equal 5", false},
		{"attribute:cpu less_than 5", true},
		{"attribute:cpu less_than_equal 3", false},
		{"attribute:ver > 1.9", false},
		{"attribute:neg < -20", true},
		{"attribute:cpu > +3", true},
		{"attribute:cpu > .5", true},
		/* else byte-wise string order */
		{"attribute:cpu > '10'", false}, /* quotes do not make a number a string */
		{"attribute:type > t1", true},
		{"attribute:type < t3", true},
		{"attribute:type >= t2.micro", true},
		{"attribute:type > t2.micro", false},
		{"attribute:cpu > abc", false},
		{"attribute:zone < 5", false},
		{"attribute:cpu > 1e999", true}, /* not finite: a string */
		{"attribute:gpu < a", true},
	};
	CHECK(t);
}

static void test_query_exists_in(void **state)
{
	(void)state;
	static const struct want t[] = {
		{"attribute:gpu exists", true},
		{"attribute:fpga exists", false},
		{"attribute:gpu !exists", false},
		{"attribute:fpga !exists", true},
		{"attribute:fpga not exists", true},
		{"attribute:gpu not_exists", false},
		{"attribute:fpga ! exists", true},
		{"attribute:zone EXISTS", true},
		{"attribute:zone in (eu-1b, eu-1a)", true},
		{"attribute:zone in [eu-1b, eu-1a]", true},
		{"attribute:zone in(eu-1a)", true},
		{"attribute:zone in (eu-1b, eu-1c)", false},
		{"attribute:zone not in (eu-1b, eu-1c)", true},
		{"attribute:zone !in (eu-1a)", false},
		{"attribute:zone not_in [eu-1a]", false},
		{"attribute:cpu in (1, 4.0, 8)", true},
		{"attribute:zone in ('eu-1a', \"x\")", true},
		{"attribute:zone NOT IN (x)", true},
	};
	CHECK(t);
}

static void test_query_wildcards(void **state)
{
	(void)state;
	static const struct want t[] = {
		{"attribute:type =~ t2.*", true},
		{"attribute:type =~ t3.*", false},
		{"attribute:type =~ t2.micr?", true},
		{"attribute:type =~ t2.micr", false},
		{"attribute:type =~ *micro", true},
		{"attribute:type =~ *", true},
		{"attribute:type =~ t*.m*o", true},
		{"attribute:type =~ '[st]2.*'", true},
		{"attribute:type =~ '[!t]2.*'", false},
		{"attribute:type =~ '[^a-s]2*'", true},
		{"attribute:type =~ '[a-c]2*'", false},
		{"attribute:type !~ t2.*", false},
		{"attribute:type not_matches t3*", true},
		{"attribute:type matches T2.*", false},
		{"attribute:star =~ 'a\\\\*b'", true},
		{"attribute:name =~ 'a\\\\*b'", false},
		{"attribute:star =~ '[*]*'", false},
		{"attribute:star =~ 'a[*]b'", true},
		{"attribute:star =~ 'a[b'", false},
		{"attribute:fpga =~ *", false},
		{"attribute:fpga !~ *", true},
		{"attribute:gpu =~ ''", true},
	};
	CHECK(t);
}

static void test_query_quoting(void **state)
{
	(void)state;
	static const struct want t[] = {
		{"attribute:name == 'hello world'", true},
		{"attribute:name == \"hello world\"", true},
		{"attribute:quote == \"it's\"", true},
		{"attribute:quote == 'it\\'s'", true},
		{"attribute:word == 'and'", true},
		{"attribute:word == \"and\" and attribute:word == 'and'", true},
		{"attribute:star == 'a*b'", true},
		{"attribute:name in ('hello world', 'x, y')", true},
		{"attribute:zone == 'eu-1a' or attribute:zone == 'x) or (y'", true},
		{"\tattribute:zone\n==\r\neu-1a ", true},
	};
	CHECK(t);
}

static void test_query_precedence(void **state)
{
	(void)state;
	/* T: a true comparison, F: a false one. */
#define T "attribute:os == linux"
#define F "attribute:os == windows"
	static const struct want t[] = {
		{T " or " F " and " F, true}, /* T or (F and F) */
		{"(" T " or " F ") and " F, false},
		{F " and " F " or " T, true}, /* (F and F) or T */
		{F " and (" F " or " T ")", false},
		{"not " T " and " F, false}, /* (not T) and F */
		{"not " F " and " T, true},
		{"not (" T " and " F ")", true},
		{"not " T " or " T, true}, /* (not T) or T */
		{"not (" T " or " T ")", false},
		{"! " F, true},
		{"!" T, false},
		{"not not " T, true},
		{"not(" F ")", true},
		{T " && " T, true},
		{T " && " F, false},
		{F " || " T, true},
		{F " || " F, false},
		{T " AND " T " Or " F, true},
		{"NOT " T, false},
		{"((" T "))", true},
		{"((" F ") or (" T "))", true},
		{T " and " T " and " T " and " F, false},
		{F " or " F " or " F " or " T, true},
	};
#undef T
#undef F
	CHECK(t);
}

/* Missing attributes: positives are false, negatives their exact negation. */
static void test_query_missing(void **state)
{
	(void)state;
	static const struct want t[] = {
		{"attribute:fpga == x", false},   {"attribute:fpga != x", true},
		{"attribute:fpga > 0", false},    {"attribute:fpga < 0", false},
		{"attribute:fpga >= 0", false},   {"attribute:fpga <= 0", false},
		{"attribute:fpga in (x)", false}, {"attribute:fpga not in (x)", true},
		{"not attribute:fpga > 0", true}, {"attribute:Zone == eu-1a", false},
	};
	CHECK(t);
}

static void test_query_subjects(void **state)
{
	(void)state;
	static const struct want t[] = {
		{"ec2InstanceId == i-42", true},
		{"instanceId == i-42", true},
		{"instanceId in (i-1, i-42)", true},
		{"instanceId =~ i-4*", true},
		{"instanceId exists", true},
		{"instanceId != i-42", false},
		{"instanceId == i-42 and attribute:zone == eu-1a", true},
		{"attribute:instanceId exists", false},
	};
	CHECK(t);

	/* No id: the id compares as missing; no attributes at all. */
	struct query *q;
	char err[128];
	assert_int_equal(query_compile("instanceId exists", &q, err, sizeof(err)), 0);
	assert_false(query_match(q, NULL, NULL, 0));
	query_free(q);
	assert_int_equal(query_compile("instanceId != i-1", &q, err, sizeof(err)), 0);
	assert_true(query_match(q, NULL, NULL, 0));
	assert_true(query_match(q, "i-2", NULL, 0));
	assert_false(query_match(q, "i-1", NULL, 0));
	query_free(q);

	/* Attribute names: the whole ECS character set; a NULL name is skipped. */
	static const struct query_attr odd[] = {
		{NULL, "x"},
		{"com.amazonaws.ecs.capability.docker-remote-api.1_17/x\\y", "yes"},
	};
	assert_int_equal(query_compile("attribute:com.amazonaws.ecs.capability.docker-remote-"
				       "api.1_17/x\\y == yes",
				       &q, err, sizeof(err)),
			 0);
	assert_true(query_match(q, "i", odd, 2));
	assert_false(query_match(q, "i", odd, 1));
	query_free(q);
	query_free(NULL);
}

/* One compiled query, matched many times against instances that differ. */
static void test_query_reuse(void **state)
{
	(void)state;
	struct query *q;
	char err[128];
	assert_int_equal(query_compile("attribute:zone in (z0, z2) and attribute:n >= 10", &q, err,
				       sizeof(err)),
			 0);
	int hits = 0;
	for (int i = 0; i < 1000; i++) {
		char zone[8], n[8];
		snprintf(zone, sizeof(zone), "z%d", i % 4);
		snprintf(n, sizeof(n), "%d", i % 20);
		struct query_attr a[] = {{"n", n}, {"zone", zone}};
		bool want = (i % 4 == 0 || i % 4 == 2) && i % 20 >= 10;
		assert_int_equal(query_match(q, "i", a, 2), want);
		hits += want;
	}
	assert_int_equal(hits, 250);
	query_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_equality),  cmocka_unit_test(test_query_order),
		cmocka_unit_test(test_query_exists_in), cmocka_unit_test(test_query_wildcards),
		cmocka_unit_test(test_query_quoting),   cmocka_unit_test(test_query_precedence),
		cmocka_unit_test(test_query_missing),   cmocka_unit_test(test_query_subjects),
		cmocka_unit_test(test_query_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
