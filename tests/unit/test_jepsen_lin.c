/* tests/unit/test_jepsen_lin.c: the register checker on hand-written histories, linearizable
 * and not: every bad one flagged, with the operation that could not be placed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jepsen/check.h"
#include "jepsen/lin.h"
#include "tests/unit/jhist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* check_register on spec; returns the result (caller decrefs), asserting it is not NULL. */
static json_t *run(const char *spec, uint64_t max_states)
{
	struct history h = {0};
	char err[256];
	jhist_parse(&h, spec);
	json_t *r = check_register(&h, max_states, err, sizeof(err));
	if (r == NULL)
		fail_msg("check_register: %s", err);
	hist_free(&h);
	return r;
}

static void expect(const char *spec, enum check_verdict want)
{
	json_t *r = run(spec, 0);
	enum check_verdict got = check_verdict_of(r);
	if (got != want) {
		char *s = json_dumps(r, JSON_INDENT(1));
		fail_msg("verdict %d, want %d for \"%s\":\n%s", got, want, spec, s);
	}
	json_decref(r);
}

/* The failure's operation: its f and invocation index. */
static void expect_bad_op(const char *spec, const char *f, int invoke_index)
{
	json_t *r = run(spec, 0);
	assert_int_equal(check_verdict_of(r), CHECK_INVALID);
	json_t *op = json_object_get(json_array_get(json_object_get(r, "failures"), 0), "op");
	assert_string_equal(json_string_value(json_object_get(op, "f")), f);
	assert_int_equal(json_integer_value(json_object_get(op, "invoke_index")), invoke_index);
	json_decref(r);
}

static void test_jepsen_lin_sequential(void **state)
{
	(void)state;
	expect("", CHECK_VALID);
	expect("0 invoke read; 0 ok read null", CHECK_VALID);
	expect("0 invoke write 1; 0 ok write 1; 0 invoke read; 0 ok read 1", CHECK_VALID);
	expect("0 invoke write 1; 0 ok write 1; 1 invoke cas [1,2]; 1 ok cas [1,2];"
	       "0 invoke read; 0 ok read 2",
	       CHECK_VALID);
	expect("0 invoke cas [null,1]; 0 ok cas [null,1]; 0 invoke read; 0 ok read 1", CHECK_VALID);
}

static void test_jepsen_lin_stale_read(void **state)
{
	(void)state;
	const char *h = "0 invoke write 1; 0 ok write 1; 0 invoke write 2; 0 ok write 2;"
			"1 invoke read; 1 ok read 1";
	expect_bad_op(h, "read", 4);
	json_t *r = run(h, 0);
	json_t *f = json_array_get(json_object_get(r, "failures"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "key")), "x");
	assert_int_equal(json_integer_value(json_object_get(f, "state")), 2);
	assert_int_equal(json_integer_value(json_object_get(f, "concurrent_total")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "keys")), 1);
	json_decref(r);
}

static void test_jepsen_lin_never_written(void **state)
{
	(void)state;
	const char *h = "0 invoke write 1; 1 invoke read; 0 ok write 1; 1 ok read 7";
	expect_bad_op(h, "read", 1);
	json_t *r = run(h, 0);
	json_t *f = json_array_get(json_object_get(r, "failures"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "why")),
			    "reads a value never written");
	assert_int_equal(json_integer_value(json_object_get(f, "concurrent_total")), 1);
	json_decref(r);
	/* A cas's expected value is not written by the cas. */
	expect("0 invoke cas [5,6]; 0 fail cas [5,6]; 1 invoke read; 1 ok read 5", CHECK_INVALID);
}

static void test_jepsen_lin_lost_write(void **state)
{
	(void)state;
	expect_bad_op("0 invoke write 1; 0 ok write 1; 1 invoke read; 1 ok read null", "read", 2);
	/* A later reader sees the write, then another sees it gone. */
	expect("0 invoke write 1; 0 ok write 1; 1 invoke read; 1 ok read 1;"
	       "2 invoke read; 2 ok read null",
	       CHECK_INVALID);
}

static void test_jepsen_lin_double_cas(void **state)
{
	(void)state;
	expect("0 invoke write 1; 0 ok write 1; 1 invoke cas [1,2]; 2 invoke cas [1,3];"
	       "1 ok cas [1,2]; 2 ok cas [1,3]",
	       CHECK_INVALID);
	/* One of them failed: fine. */
	expect("0 invoke write 1; 0 ok write 1; 1 invoke cas [1,2]; 2 invoke cas [1,3];"
	       "1 ok cas [1,2]; 2 fail cas [1,3]",
	       CHECK_VALID);
	/* One of them is unknown: it cannot have taken effect, and need not have. */
	expect("0 invoke write 1; 0 ok write 1; 1 invoke cas [1,2]; 2 invoke cas [1,3];"
	       "1 ok cas [1,2]; 2 info cas [1,3]; 3 invoke read; 3 ok read 2",
	       CHECK_VALID);
	/* Two creations of an absent key. */
	expect("0 invoke cas [null,1]; 1 invoke cas [null,2]; 0 ok cas [null,1]; 1 ok cas [null,2]",
	       CHECK_INVALID);
}

static void test_jepsen_lin_info(void **state)
{
	(void)state;
	/* An info write seen later: it took effect. */
	expect("0 invoke write 1; 0 info write 1; 1 invoke read; 1 ok read 1", CHECK_VALID);
	/* Never seen: it never took effect. */
	expect("0 invoke write 1; 0 info write 1; 1 invoke read; 1 ok read null", CHECK_VALID);
	/* Seen, then not seen, then seen again: it cannot take effect twice. */
	expect("0 invoke write 1; 0 ok write 1; 1 invoke write 2; 1 info write 2;"
	       "2 invoke read; 2 ok read 2; 2 invoke read; 2 ok read 1; 2 invoke read; 2 ok read 2",
	       CHECK_INVALID);
	/* Taking effect long after its invocation, after later writes. */
	expect("0 invoke write 1; 0 info write 1; 1 invoke write 2; 1 ok write 2;"
	       "1 invoke read; 1 ok read 2; 1 invoke read; 1 ok read 1",
	       CHECK_VALID);
	/* Never completed at all: the same as info. */
	expect("0 invoke write 1; 1 invoke read; 1 ok read 1", CHECK_VALID);
	/* But never before its invocation. */
	expect("1 invoke read; 1 ok read 1; 0 invoke write 1; 0 info write 1", CHECK_INVALID);
	/* Reads that fail or are unknown tell nothing. */
	expect("0 invoke read; 0 info read; 1 invoke read; 1 fail read", CHECK_VALID);
}

static void test_jepsen_lin_failed_visible(void **state)
{
	(void)state;
	expect_bad_op("0 invoke write 1; 0 fail write 1; 1 invoke read; 1 ok read 1", "read", 2);
	expect("0 invoke write 1; 0 ok write 1; 0 invoke cas [1,2]; 0 fail cas [1,2];"
	       "1 invoke read; 1 ok read 2",
	       CHECK_INVALID);
}

/* A write w of 1 and a read r, their four events in every order; the read sees null or 1.
 * Linearizable exactly when the read overlaps the write, or precedes it and sees null, or
 * follows it and sees 1. */
static void test_jepsen_lin_overlaps(void **state)
{
	/* Orders of the events as "wWrR" (w/r invoke, W/R complete), invoke before complete. */
	static const char *const orders[] = {"wWrR", "wrWR", "wrRW", "rwWR", "rwRW", "rRwW"};
	(void)state;
	for (size_t i = 0; i < 6; i++) {
		for (int sees = 0; sees < 2; sees++) {
			char spec[256] = "";
			for (const char *c = orders[i]; *c; c++) {
				const char *ev = *c == 'w'   ? "0 invoke write 1;"
						 : *c == 'W' ? "0 ok write 1;"
						 : *c == 'r' ? "1 invoke read;"
						 : sees      ? "1 ok read 1;"
							     : "1 ok read null;";
				strcat(spec, ev);
			}
			bool w_first = strcmp(orders[i], "wWrR") == 0;
			bool r_first = strcmp(orders[i], "rRwW") == 0;
			bool ok = sees ? !r_first : !w_first;
			expect(spec, ok ? CHECK_VALID : CHECK_INVALID);
		}
	}
}

/* Jepsen's and Knossos's teaching examples. */
static void test_jepsen_lin_classics(void **state)
{
	(void)state;
	/* New-old inversion: one read sees the new value, a later read the old one, while
	 * the write is still in flight (a regular register, not an atomic one). */
	expect("0 invoke write 1; 0 ok write 1; 1 invoke write 2; 2 invoke read; 2 ok read 2;"
	       "3 invoke read; 3 ok read 1; 1 ok write 2",
	       CHECK_INVALID);
	/* The same reads overlapping each other: fine. */
	expect("0 invoke write 1; 0 ok write 1; 1 invoke write 2; 2 invoke read; 3 invoke read;"
	       "2 ok read 2; 3 ok read 1; 1 ok write 2",
	       CHECK_VALID);
	/* Three concurrent writes and reads that pin their order: 3, 1, 2. */
	expect("0 invoke write 1; 1 invoke write 2; 2 invoke write 3; 3 invoke read; 3 ok read 3;"
	       "3 invoke read; 3 ok read 1; 3 invoke read; 3 ok read 2; 0 ok write 1;"
	       "1 ok write 2; 2 ok write 3; 3 invoke read; 3 ok read 2",
	       CHECK_VALID);
	/* ... and then one that contradicts the order. */
	expect("0 invoke write 1; 1 invoke write 2; 2 invoke write 3; 3 invoke read; 3 ok read 3;"
	       "3 invoke read; 3 ok read 1; 3 invoke read; 3 ok read 2; 0 ok write 1;"
	       "1 ok write 2; 2 ok write 3; 3 invoke read; 3 ok read 3",
	       CHECK_INVALID);
	/* Knossos's cas register: a cas chain with a concurrent read of the middle value. */
	expect("0 invoke write 0; 0 ok write 0; 1 invoke cas [0,1]; 2 invoke read; 1 ok cas [0,1];"
	       "1 invoke cas [1,2]; 2 ok read 1; 1 ok cas [1,2]; 2 invoke read; 2 ok read 2",
	       CHECK_VALID);
	/* The etcd-style stale read from a deposed leader, between two keys. */
	expect("0 invoke write@a 1; 0 ok write@a 1; 1 invoke write@b 2; 1 ok write@b 2;"
	       "2 invoke read@a; 2 ok read@a 1; 2 invoke read@b; 2 ok read@b null",
	       CHECK_INVALID);
}

static void test_jepsen_lin_keys(void **state)
{
	(void)state;
	json_t *r = run("0 invoke write@a 1; 0 ok write@a 1; 0 invoke read@a; 0 ok read@a 1;"
			"1 invoke write@b 2; 1 ok write@b 2; 1 invoke read@b; 1 ok read@b null;"
			"2 invoke write@c 3; 2 info write@c 3; n info kill",
			0);
	assert_int_equal(check_verdict_of(r), CHECK_INVALID);
	assert_int_equal(json_integer_value(json_object_get(r, "keys")), 3);
	json_t *bad = json_object_get(r, "invalid_keys");
	assert_int_equal(json_array_size(bad), 1);
	assert_string_equal(json_string_value(json_array_get(bad, 0)), "b");
	assert_non_null(strstr(json_string_value(json_object_get(r, "summary")), "1 invalid"));
	json_decref(r);
}

/* A search bound too small to decide: unknown, which is not valid. */
static void test_jepsen_lin_unknown(void **state)
{
	(void)state;
	const char *h = "0 invoke write 1; 1 invoke write 2; 2 invoke write 3; 0 ok write 1;"
			"1 ok write 2; 2 ok write 3; 3 invoke read; 3 ok read 1";
	json_t *r = run(h, 2);
	assert_int_equal(check_verdict_of(r), CHECK_UNKNOWN);
	json_t *u = json_array_get(json_object_get(r, "unknown_keys"), 0);
	assert_string_equal(json_string_value(json_object_get(u, "why")),
			    "the search's state bound");
	json_decref(r);
	r = run(h, 0);
	assert_int_equal(check_verdict_of(r), CHECK_VALID);
	json_decref(r);
}

/* Histories the register checker cannot read: refused with the event named. */
static void test_jepsen_lin_bad_shapes(void **state)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{"0 invoke write \"a\"; 0 ok write \"a\"",
		 "index 0: write value must be an integer"},
		{"0 invoke read; 0 ok read [1]", "index 1: read value must be an integer or null"},
		{"0 invoke cas [1]; 0 ok cas [1]", "index 0: cas value must be [expected or null"},
		{"0 invoke cas [1,null]; 0 ok cas", "index 0: cas value must be"},
		{"0 invoke delete; 0 ok delete", "index 0: f \"delete\" is not read, write or cas"},
		{"0 ok write 1", "index 0: ok of process 0 without an invocation"},
		{"0 invoke write 1; 0 invoke write 2", "index 1: process 0 invokes while"},
		{"0 invoke write 1; 0 ok read 1",
		 "index 1: completion (f \"read\") does not match"},
		{"0 invoke write@a 1; 0 ok write@b 1", "does not match"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct history h = {0};
		char err[256] = "";
		jhist_parse(&h, cases[i].spec);
		json_t *r = check_register(&h, 0, err, sizeof(err));
		if (r != NULL || strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].msg);
		hist_free(&h);
	}
	/* No key at all. */
	struct history h = {0};
	char err[256];
	jhist_add(&h, 0, HIST_INVOKE, "write", NULL, json_integer(1));
	assert_null(check_register(&h, 0, err, sizeof(err)));
	assert_string_equal(err, "index 0: write without a key");
	hist_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_lin_sequential),
		cmocka_unit_test(test_jepsen_lin_stale_read),
		cmocka_unit_test(test_jepsen_lin_never_written),
		cmocka_unit_test(test_jepsen_lin_lost_write),
		cmocka_unit_test(test_jepsen_lin_double_cas),
		cmocka_unit_test(test_jepsen_lin_info),
		cmocka_unit_test(test_jepsen_lin_failed_visible),
		cmocka_unit_test(test_jepsen_lin_overlaps),
		cmocka_unit_test(test_jepsen_lin_classics),
		cmocka_unit_test(test_jepsen_lin_keys),
		cmocka_unit_test(test_jepsen_lin_unknown),
		cmocka_unit_test(test_jepsen_lin_bad_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
