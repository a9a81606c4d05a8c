/* tests/unit/test_err.c: the error table: distinct codes and names, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"

#include <string.h>

struct row {
	int code;
	const char *name;
	const char *text;
};

static const struct row rows[] = {
#define ROW_(name, num, text) {name, #name, text},
	BERTH_ERRORS(ROW_)
#undef ROW_
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void test_err_codes_distinct(void **state)
{
	(void)state;
	assert_true(NROWS >= 26);
	for (size_t i = 0; i < NROWS; i++) {
		/* In berth's own range, so never an errno, LMDB or raft code. */
		assert_true(rows[i].code > BERTH_ERR_BASE);
		assert_true(rows[i].code < BERTH_ERR_BASE + 1000);
		/* Only appended to: numbers increase down the table. */
		if (i > 0)
			assert_true(rows[i].code > rows[i - 1].code);
		for (size_t j = 0; j < i; j++) {
			assert_int_not_equal(rows[i].code, rows[j].code);
			assert_string_not_equal(err_name(rows[i].code), err_name(rows[j].code));
			assert_string_not_equal(rows[i].text, rows[j].text);
		}
	}
}

static void test_err_names_and_texts(void **state)
{
	(void)state;
	for (size_t i = 0; i < NROWS; i++) {
		assert_string_equal(err_name(rows[i].code), rows[i].name);
		assert_string_equal(err_text(rows[i].code), rows[i].text);
		assert_int_equal(strncmp(rows[i].name, "BERTH_E", 7), 0);
		assert_true(strlen(rows[i].text) > 0);
	}
	assert_string_equal(err_name(BERTH_ENOTFOUND), "BERTH_ENOTFOUND");
	assert_string_equal(err_text(BERTH_ENOTFOUND), "not found");
	assert_int_equal(BERTH_ENOMEM, 7001);
	assert_int_equal(BERTH_EBUSY, 7026);
	assert_string_equal(err_name(BERTH_OK), "BERTH_OK");
	assert_string_equal(err_text(BERTH_OK), "ok");
}

static void test_err_known(void **state)
{
	static const int unknown[] = {-1, 1, 12, BERTH_ERR_BASE, 7027, 7999, -7001, 1 << 30};

	(void)state;
	assert_true(err_known(BERTH_OK));
	for (size_t i = 0; i < NROWS; i++)
		assert_true(err_known(rows[i].code));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		/* 7027 may be appended one day; then this list moves on. */
		int c = unknown[i];
		int in_table = 0;

		for (size_t j = 0; j < NROWS; j++)
			in_table |= rows[j].code == c;
		if (in_table)
			continue;
		assert_false(err_known(c));
		assert_string_equal(err_name(c), "BERTH_E?");
		assert_string_equal(err_text(c), "unknown error");
		assert_false(err_indeterminate(c));
	}
}

/* Exactly the codes whose text says the outcome is unknown are indeterminate. */
static void test_err_indeterminate(void **state)
{
	int count = 0;

	(void)state;
	assert_true(err_indeterminate(BERTH_ETIMEOUT));
	assert_true(err_indeterminate(BERTH_EUNAVAILABLE));
	assert_false(err_indeterminate(BERTH_OK));
	assert_false(err_indeterminate(BERTH_ENOTLEADER));
	for (size_t i = 0; i < NROWS; i++) {
		int says = strstr(rows[i].text, "outcome is unknown") != NULL;

		assert_int_equal(!!err_indeterminate(rows[i].code), says);
		count += says;
	}
	assert_int_equal(count, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_codes_distinct),
		cmocka_unit_test(test_err_names_and_texts),
		cmocka_unit_test(test_err_known),
		cmocka_unit_test(test_err_indeterminate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
