/* tests/unit/test_jepsen_counter.c: the counter checker (jepsen/check.h, check_counter):
 * reads within what the adds allow are valid; a read above (an add applied twice, or a
 * failed one applied) or below (an acknowledged add lost) is flagged; bad shapes refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jepsen/check.h"
#include "tests/unit/jhist.h"

#include <string.h>

/* The checker's verdict on spec; the result in *out when out is not NULL. */
static enum check_verdict verdict(const char *spec, json_t **out)
{
	struct history h = {0};
	char err[256];
	jhist_parse(&h, spec);
	json_t *r = check_counter(&h, err, sizeof(err));
	assert_non_null(r);
	enum check_verdict v = check_verdict_of(r);
	if (out != NULL)
		*out = r;
	else
		json_decref(r);
	hist_free(&h);
	return v;
}

static void test_counter_valid(void **state)
{
	(void)state;
	/* two adds acknowledged, then a read of their sum */
	assert_int_equal(verdict("0 invoke add@c 2; 0 ok add@c 2; 1 invoke add@c 3; 1 ok add@c 3;"
				 "2 invoke read@c; 2 ok read@c 5",
				 NULL),
			 CHECK_VALID);
	/* a read concurrent with an add may see it or not */
	assert_int_equal(
		verdict("0 invoke add@c 2; 1 invoke read@c; 1 ok read@c 0; 0 ok add@c 2", NULL),
		CHECK_VALID);
	assert_int_equal(
		verdict("0 invoke add@c 2; 1 invoke read@c; 1 ok read@c 2; 0 ok add@c 2", NULL),
		CHECK_VALID);
	/* an info add may have happened (once) or not; absent reads 0 */
	assert_int_equal(
		verdict("0 invoke add@c 4; 0 info add@c 4; 1 invoke read@c; 1 ok read@c 4", NULL),
		CHECK_VALID);
	assert_int_equal(
		verdict("0 invoke add@c 4; 0 info add@c 4; 1 invoke read@c; 1 ok read@c", NULL),
		CHECK_VALID);
	/* keys are separate */
	assert_int_equal(verdict("0 invoke add@a 1; 0 ok add@a 1; 1 invoke add@b 7; 1 ok add@b 7;"
				 "2 invoke read@a; 2 ok read@a 1; 2 invoke read@b; 2 ok read@b 7",
				 NULL),
			 CHECK_VALID);
}

static void test_counter_invalid(void **state)
{
	(void)state;
	json_t *r = NULL;
	/* applied twice: 2 + 3 read as 7 */
	assert_int_equal(verdict("0 invoke add@c 2; 0 ok add@c 2; 1 invoke add@c 3; 1 ok add@c 3;"
				 "2 invoke read@c; 2 ok read@c 7",
				 &r),
			 CHECK_INVALID);
	json_t *e = json_array_get(json_object_get(r, "errors"), 0);
	assert_int_equal(json_integer_value(json_object_get(e, "lo")), 5);
	assert_int_equal(json_integer_value(json_object_get(e, "hi")), 5);
	assert_int_equal(json_integer_value(json_object_get(e, "read")), 7);
	json_decref(r);
	/* an info add applied twice */
	assert_int_equal(
		verdict("0 invoke add@c 4; 0 info add@c 4; 1 invoke read@c; 1 ok read@c 8", NULL),
		CHECK_INVALID);
	/* a failed add applied */
	assert_int_equal(
		verdict("0 invoke add@c 4; 0 fail add@c 4; 1 invoke read@c; 1 ok read@c 4", NULL),
		CHECK_INVALID);
	/* an acknowledged add lost */
	assert_int_equal(
		verdict("0 invoke add@c 4; 0 ok add@c 4; 1 invoke read@c; 1 ok read@c 0", NULL),
		CHECK_INVALID);
	/* an add read before it was invoked */
	assert_int_equal(
		verdict("1 invoke read@c; 1 ok read@c 4; 0 invoke add@c 4; 0 ok add@c 4", NULL),
		CHECK_INVALID);
}

static void test_counter_unknown_and_bad(void **state)
{
	(void)state;
	assert_int_equal(verdict("0 invoke add@c 2; 0 ok add@c 2", NULL), CHECK_UNKNOWN);
	const char *bad[] = {
		"0 invoke add@c 0; 0 ok add@c 0",         /* not > 0 */
		"0 invoke add@c \"x\"; 0 ok add@c \"x\"", /* not an integer */
		"0 invoke write@c 1; 0 ok write@c 1",     /* not add or read */
		"0 invoke read@c; 0 ok read@c [1]",       /* not an integer */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct history h = {0};
		char err[256] = "";
		jhist_parse(&h, bad[i]);
		json_t *r = check_counter(&h, err, sizeof(err));
		assert_null(r);
		assert_true(strstr(err, "index ") != NULL);
		hist_free(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_valid),
		cmocka_unit_test(test_counter_invalid),
		cmocka_unit_test(test_counter_unknown_and_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
