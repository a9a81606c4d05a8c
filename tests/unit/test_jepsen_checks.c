/* tests/unit/test_jepsen_checks.c: the set, bank and watch checkers on hand-written
 * histories, valid and invalid, and the histories they refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jepsen/check.h"
#include "tests/unit/jhist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum which { SET, BANK, BANK_NEG_OK, WATCH };

static json_t *run(enum which w, const char *spec, char *err, size_t errlen)
{
	struct history h = {0};
	jhist_parse(&h, spec);
	json_t *r = w == SET           ? check_set(&h, err, errlen)
		    : w == BANK        ? check_bank(&h, 100, false, err, errlen)
		    : w == BANK_NEG_OK ? check_bank(&h, 100, true, err, errlen)
				       : check_watch(&h, err, errlen);
	hist_free(&h);
	return r;
}

/* The verdict, and the integer at path "a" or "a.b" when given. */
static void expect(enum which w, const char *spec, enum check_verdict want, const char *field,
		   int64_t value)
{
	char err[256];
	json_t *r = run(w, spec, err, sizeof(err));
	if (r == NULL)
		fail_msg("\"%s\": %s", spec, err);
	char *s = json_dumps(r, JSON_INDENT(1));
	if (check_verdict_of(r) != want)
		fail_msg("verdict %d, want %d, for \"%s\":\n%s", check_verdict_of(r), want, spec,
			 s);
	if (field != NULL) {
		char name[64];
		snprintf(name, sizeof(name), "%s", field);
		char *dot = strchr(name, '.');
		json_t *v = r;
		if (dot != NULL) {
			*dot = '\0';
			v = json_object_get(v, name);
			v = json_object_get(v, dot + 1);
		} else {
			v = json_object_get(v, name);
		}
		if (json_integer_value(v) != value)
			fail_msg("%s is not %lld in:\n%s", field, (long long)value, s);
	}
	free(s);
	json_decref(r);
}

static void expect_refused(enum which w, const char *spec, const char *msg)
{
	char err[256] = "";
	json_t *r = run(w, spec, err, sizeof(err));
	if (r != NULL || strstr(err, msg) == NULL)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", spec, err, msg);
}

#define ADDS                                                                                       \
	"0 invoke add 1; 0 ok add 1; 1 invoke add 2; 1 info add 2; 2 invoke add 3; 2 fail add 3;"

static void test_jepsen_checks_set(void **state)
{
	(void)state;
	expect(SET, ADDS "3 invoke read; 3 ok read [1]", CHECK_VALID, "lost", 0);
	expect(SET, ADDS "3 invoke read; 3 ok read [1,2]", CHECK_VALID, "recovered", 1);
	expect(SET, ADDS "3 invoke read; 3 ok read []", CHECK_INVALID, "lost", 1);
	expect(SET, ADDS "3 invoke read; 3 ok read [1,3]", CHECK_INVALID, "failed_present", 1);
	expect(SET, ADDS "3 invoke read; 3 ok read [1,9]", CHECK_INVALID, "unexpected", 1);
	expect(SET, ADDS "3 invoke read; 3 ok read [1,1]", CHECK_INVALID, "duplicated", 1);
	/* The last ok read decides; without one, unknown. */
	expect(SET, ADDS "3 invoke read; 3 ok read []; 3 invoke read; 3 ok read [1]", CHECK_VALID,
	       "read", 1);
	expect(SET, ADDS "3 invoke read; 3 info read", CHECK_UNKNOWN, "acknowledged", 1);
	char err[256];
	json_t *r = run(SET, ADDS "3 invoke read; 3 ok read [2]", err, sizeof(err));
	assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "lost_examples"), 0)),
			 1);
	assert_non_null(strstr(json_string_value(json_object_get(r, "summary")), "1 lost"));
	json_decref(r);
	expect_refused(SET, "0 invoke add \"a\"; 0 ok add",
		       "index 0: add value must be an integer");
	expect_refused(SET, "0 invoke read; 0 ok read 5", "index 1: read value must be an array");
	expect_refused(SET, "0 invoke read; 0 ok read [\"a\"]", "index 1: read value must be");
	expect_refused(SET, "0 invoke del 1", "index 0: f \"del\" is not add or read");
}

#define T(p, from, to, n)                                                                          \
#p " invoke transfer {\"from\":\"" #from "\",\"to\":\"" #to "\",\"amount\":" #n "};"

static void test_jepsen_checks_bank(void **state)
{
	(void)state;
	const char *ok = T(0, a, b, 10) "0 ok transfer;" T(
		1, b, a,
		5) "1 info transfer;"
		   "2 invoke read; 2 ok read {\"a\":45,\"b\":55}; 3 invoke read; 3 fail read 7";
	expect(BANK, ok, CHECK_VALID, "transfers.info", 1);
	expect(BANK, ok, CHECK_VALID, "reads", 1);
	expect(BANK, "2 invoke read; 2 ok read {\"a\":45,\"b\":50}", CHECK_INVALID, "bad_reads", 1);
	expect(BANK, "2 invoke read; 2 ok read {\"a\":-5,\"b\":105}", CHECK_INVALID, "bad_reads",
	       1);
	expect(BANK_NEG_OK, "2 invoke read; 2 ok read {\"a\":-5,\"b\":105}", CHECK_VALID, NULL, 0);
	expect(BANK, "2 invoke read; 2 ok read {\"a\":9223372036854775807,\"b\":1}", CHECK_INVALID,
	       "bad_reads", 1);
	expect(BANK, T(0, a, b, 10) "0 ok transfer", CHECK_UNKNOWN, "transfers.ok", 1);
	char err[256];
	json_t *r = run(BANK, "2 invoke read; 2 ok read {\"a\":-5,\"b\":90}", err, sizeof(err));
	json_t *e = json_array_get(json_object_get(r, "errors"), 0);
	assert_int_equal(json_integer_value(json_object_get(e, "index")), 1);
	assert_int_equal(json_integer_value(json_object_get(e, "sum")), 85);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "negative"), 0)),
			    "a");
	json_decref(r);
	expect_refused(BANK, "0 invoke transfer {\"from\":\"a\"}",
		       "index 0: transfer value must be");
	expect_refused(BANK, "0 invoke read; 0 ok read [1]",
		       "index 1: read value must be an object");
	expect_refused(BANK, "0 invoke read; 0 ok read {\"a\":1.5}", "index 1: read value must be");
	expect_refused(BANK, "0 invoke audit", "index 0: f \"audit\" is not transfer or read");
}

/* Writes of 1 (key a), 2 (b), 3 (a), one after another, then 4 (b) which fails and 5 (a)
 * which is unknown. */
#define WRITES                                                                                     \
	"0 invoke write@a 1; 0 ok write@a 1; 0 invoke write@b 2; 0 ok write@b 2;"                  \
	"0 invoke write@a 3; 0 ok write@a 3; 0 invoke write@b 4; 0 fail write@b 4;"                \
	"0 invoke write@a 5; 0 info write@a 5;"
#define W(p, ...) #p " invoke watch; " #p " ok watch " #__VA_ARGS__ ";"

static void test_jepsen_checks_watch(void **state)
{
	(void)state;
	/* Two watchers, one from the start, one joining late and delivering in two parts. */
	expect(WATCH,
	       WRITES W(1, [ [ 10, "a", 1 ], [ 11, "b", 2 ], [ 12, "a", 3 ], [ 13, "a", 5 ] ])
		       W(2, [[ 11, "b", 2 ]]) W(2, [[ 12, "a", 3 ]]) "2 invoke watch; 2 info watch",
	       CHECK_VALID, "events", 6);
	/* A delete (null) is an event like any other. */
	expect(WATCH,
	       WRITES W(1, [ [ 10, "a", 1 ], [ 11, "b", 2 ], [ 12, "a", null ] ])
		       W(2, [[ 12, "a", null ]]),
	       CHECK_VALID, "watchers", 2);
	/* Order: a revision going back, and one (revision, key) twice. */
	expect(WATCH, WRITES W(1, [ [ 11, "b", 2 ], [ 10, "a", 1 ] ]), CHECK_INVALID,
	       "error_counts.order", 1);
	expect(WATCH, WRITES W(1, [ [ 10, "a", 1 ], [ 10, "a", 1 ] ]), CHECK_INVALID,
	       "error_counts.order", 1);
	/* Agreement: the same revisions, another event, or one missing in one stream. */
	expect(WATCH,
	       WRITES W(1, [ [ 10, "a", 1 ], [ 11, "b", 2 ] ])
		       W(2, [ [ 10, "a", 1 ], [ 11, "a", 3 ] ]),
	       CHECK_INVALID, "error_counts.agreement", 1);
	expect(WATCH,
	       WRITES W(1, [ [ 10, "a", 1 ], [ 11, "b", 2 ], [ 12, "a", 3 ] ])
		       W(2, [ [ 10, "a", 1 ], [ 12, "a", 3 ] ]),
	       CHECK_INVALID, "error_counts.agreement", 1);
	/* Provenance: a value never written, a failed write delivered. */
	expect(WATCH, WRITES W(1, [ [ 10, "a", 1 ], [ 11, "a", 9 ] ]), CHECK_INVALID,
	       "error_counts.provenance", 1);
	expect(WATCH, WRITES W(1, [ [ 10, "a", 1 ], [ 11, "b", 4 ] ]), CHECK_INVALID,
	       "error_counts.provenance", 1);
	/* Gap: write 2 completed after 1 did and before 3 began, so a stream holding 1 and 3
	 * must hold 2; one holding only 1 and 3's neighbours need not. */
	expect(WATCH, WRITES W(1, [ [ 10, "a", 1 ], [ 12, "a", 3 ] ]), CHECK_INVALID,
	       "error_counts.gap", 1);
	expect(WATCH, WRITES W(1, [[ 10, "a", 1 ]]), CHECK_VALID, NULL, 0);
	/* The unknown write 5 may be missing. */
	expect(WATCH, WRITES W(1, [ [ 10, "a", 1 ], [ 11, "b", 2 ], [ 12, "a", 3 ] ]), CHECK_VALID,
	       NULL, 0);
	/* No watcher. */
	expect(WATCH, WRITES, CHECK_UNKNOWN, "writes", 5);
	expect_refused(WATCH, "0 invoke watch; 0 ok watch 5",
		       "index 1: watch value must be an array of [revision, key, value or null]");
	expect_refused(WATCH, "0 invoke watch; 0 ok watch [[1,\"a\"]]", "index 1: watch value");
	expect_refused(WATCH, "0 invoke watch; 0 ok watch [[1,\"a\",\"v\"]]",
		       "index 1: watch value");
	expect_refused(WATCH, "0 invoke write@a \"v\"",
		       "index 0: write needs a key and an integer value");
	expect_refused(WATCH, "0 invoke read", "index 0: f \"read\" is not watch or write");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_checks_set),
		cmocka_unit_test(test_jepsen_checks_bank),
		cmocka_unit_test(test_jepsen_checks_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
