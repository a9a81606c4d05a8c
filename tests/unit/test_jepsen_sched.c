/* tests/unit/test_jepsen_sched.c: the scheduler checker (jepsen/check.h, check_sched) on
 * hand-written streams: a valid life of a service and a RunTask; each invariant broken
 * once (over capacity, counters off, a port twice, placed twice, a placement lost, no
 * convergence, an acknowledged run unplaced while an instance has room, a stop not done, a scale never seen); unknown
 * without a final convergence or across a gap; bad shapes refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jepsen/check.h"
#include "tests/unit/jhist.h"

#include <stdio.h>
#include <string.h>

#define REC "1000000 invoke state; 1000000 ok state "
#define INST(rev, id, cpu) "[" #rev ",\"instances/" id "\",{\"cpu\":" #cpu ",\"memory\":1024}]"
#define CTR(rev, id, what, n) "[" #rev ",\"alloc/" id "/" what "\"," #n "]"
#define TASK(rev, id, st, inst, cpu, ports, group, desired, reason)                                \
	"[" #rev ",\"tasks/" id "\",{\"status\":\"" st "\",\"desired\":\"" desired                 \
	"\",\"instance\":" inst ",\"cpu\":" #cpu ",\"memory\":" #cpu ",\"ports\":" ports           \
	",\"group\":\"" group "\",\"reason\":" reason "}]"
#define SVC(rev, n) "[" #rev ",\"services/web\",{\"desired\":" #n ",\"status\":\"ACTIVE\"}]"
#define SV(rev, id, st, inst) TASK(rev, id, st, inst, 256, "[]", "service:web", "RUNNING", "null")
#define CONVERGE(rev)                                                                              \
	"0 invoke converge {\"service\":\"web\"};"                                                 \
	"0 ok converge {\"service\":\"web\",\"revision\":" #rev "}"

/* A service of two tasks on i1, a RunTask r1 placed with its host port and then stopped. */
#define LIFE_START                                                                                 \
	REC "[" INST(2, "i1", 1024) "," SVC(3, 2) "," SV(4, "s1", "PROVISIONING", "null") "," SV(  \
		4, "s2", "PROVISIONING",                                                           \
		"null") "];" REC                                                                   \
			"[" SV(5, "s1", "PENDING", "\"i1\"") "," CTR(5, "i1", "cpu", 256) "," CTR( \
				5, "i1", "mem",                                                    \
				256) "];" REC                                                      \
				     "[" SV(6, "s2", "PENDING", "\"i1\"") "," CTR(                 \
					     6, "i1", "cpu",                                       \
					     512) "," CTR(6, "i1", "mem",                          \
							  512) "];" REC                            \
							       "[" SV(7, "s1", "RUNNING",          \
								      "\"i1\"") "," SV(8, "s2",    \
										       "RUNNING",  \
										       "\"i1\"") "];"
#define R1(rev, st, desired, reason)                                                               \
	TASK(rev, "r1", st, "\"i1\"", 128, "[9000]", "family:jrun", desired, reason)
#define RUN_R1                                                                                     \
	"1 invoke run {\"tasks\":[\"r1\"]}; 1 ok run;" REC                                         \
	"[" TASK(9, "r1", "PROVISIONING", "null", 128, "[9000]", "family:jrun", "RUNNING",         \
		 "null") "];" REC                                                                  \
			 "[" R1(10, "PENDING", "RUNNING", "null") "," CTR(                         \
				 10, "i1", "cpu",                                                  \
				 640) "," CTR(10, "i1", "mem",                                     \
					      640) ",[10,\"alloc/i1/port/9000\",\"r1\"]];"
#define STOP_R1                                                                                    \
	"2 invoke stop {\"task\":\"r1\"}; 2 ok stop;" REC                                          \
	"[" R1(11, "PENDING", "STOPPED",                                                           \
	       "null") "];" REC                                                                    \
		       "[" R1(12, "STOPPED", "STOPPED", "\"stopped by request\"") "," CTR(         \
			       12, "i1", "cpu",                                                    \
			       512) "," CTR(12, "i1", "mem",                                       \
					    512) ",[12,\"alloc/i1/port/9000\",null]];"

static json_t *check(const char *spec)
{
	struct history h = {0};
	char err[256];
	jhist_parse(&h, spec);
	json_t *r = check_sched(&h, err, sizeof(err));
	if (r == NULL)
		fail_msg("refused: %s", err);
	hist_free(&h);
	return r;
}

/* The verdict on spec; with kind, that kind of error must be among those counted. */
static enum check_verdict verdict(const char *spec, const char *kind)
{
	json_t *r = check(spec);
	enum check_verdict v = check_verdict_of(r);
	if (kind != NULL &&
	    json_integer_value(json_object_get(json_object_get(r, "error_counts"), kind)) == 0) {
		char *t = json_dumps(r, JSON_COMPACT);
		fail_msg("no %s error in %s", kind, t);
	}
	json_decref(r);
	return v;
}

static void test_sched_valid(void **state)
{
	(void)state;
	json_t *r = check(LIFE_START RUN_R1 STOP_R1 CONVERGE(12));
	assert_int_equal(check_verdict_of(r), CHECK_VALID);
	assert_int_equal(json_integer_value(json_object_get(r, "placements")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "tasks")), 3);
	json_decref(r);
	/* a scale acknowledged and seen; the convergence judged at its revision */
	assert_int_equal(verdict(LIFE_START "3 invoke scale {\"desired\":1}; 3 ok scale;" REC
					    "[" SVC(9, 1) "];" REC "[" SV(
						    10, "s2", "RUNNING", "\"i1\"") "];" CONVERGE(9),
				 NULL),
			 CHECK_INVALID); /* s2 not stopped at 9: two RUNNING of one */
	assert_int_equal(
		verdict(LIFE_START
			"3 invoke scale {\"desired\":1}; 3 ok scale;" REC
			"[" SVC(9, 1) "," SV(9, "s2", "RUNNING", "\"i1\"") "];" REC "[" TASK(
				10, "s2", "STOPPED", "\"i1\"", 256, "[]", "service:web", "STOPPED",
				"\"scaled\"") "," CTR(10, "i1", "cpu",
						      256) "," CTR(10, "i1", "mem",
								   256) "];" CONVERGE(10),
			NULL),
		CHECK_VALID);
	/* an info run may have created its tasks */
	assert_int_equal(verdict(LIFE_START
				 "1 invoke run {\"tasks\":[\"r1\"]}; 1 info run;" REC
				 "[" TASK(9, "r1", "PROVISIONING", "null", 128, "[9000]",
					  "family:jrun", "RUNNING", "null") "];" CONVERGE(8),
				 NULL),
			 CHECK_VALID);
}

static void test_sched_capacity(void **state)
{
	(void)state;
	/* i1 offers 384: the second service task overcommits it */
	const char *spec = REC
		"[" INST(2, "i1", 384) "," SVC(3, 2) "," SV(4, "s1", "PROVISIONING", "null") "," SV(
			4, "s2", "PROVISIONING",
			"null") "];" REC
				"[" SV(5, "s1", "RUNNING", "\"i1\"") "," CTR(5, "i1", "cpu", 256) "," CTR(
					5, "i1", "mem",
					256) "," SV(6, "s2", "RUNNING",
						    "\"i1\"") "," CTR(6, "i1", "cpu",
								      512) "," CTR(6, "i1", "mem",
										   512) "];" CONVERGE(6);
	assert_int_equal(verdict(spec, "capacity"), CHECK_INVALID);
	/* a placement without its counters */
	assert_int_equal(
		verdict(LIFE_START REC
			"[" R1(9, "PENDING", "RUNNING",
			       "null") ",[9,\"alloc/i1/port/9000\",\"r1\"]];"
				       "1 invoke run {\"tasks\":[\"r1\"]}; 1 ok run;" CONVERGE(9),
			"accounting"),
		CHECK_INVALID);
}

static void test_sched_port(void **state)
{
	(void)state;
	assert_int_equal(
		verdict(LIFE_START RUN_R1
			"4 invoke run {\"tasks\":[\"r2\"]}; 4 ok run;" REC "[" TASK(
				11, "r2", "PENDING", "\"i1\"", 128, "[9000]", "family:jrun",
				"RUNNING",
				"null") "," CTR(11, "i1", "cpu",
						768) "," CTR(11, "i1", "mem",
							     768) ",[11,\"alloc/i1/port/9000\",\"r2\"]];" CONVERGE(11),
			"port"),
		CHECK_INVALID);
}

static void test_sched_twice_and_lost(void **state)
{
	(void)state;
	/* placed again after it stopped */
	assert_int_equal(
		verdict(LIFE_START RUN_R1 STOP_R1 REC
			"[" R1(13, "PENDING", "RUNNING", "null") "," CTR(13, "i1", "cpu", 640) "," CTR(
				13, "i1", "mem",
				640) ",[13,\"alloc/i1/port/9000\",\"r1\"]];" CONVERGE(13),
			"placed-twice"),
		CHECK_INVALID);
	/* moved to another instance */
	assert_int_equal(
		verdict(LIFE_START REC
			"[" INST(9, "i2", 1024) "," SV(10, "s1", "RUNNING", "\"i2\"") "," CTR(
				10, "i1", "cpu",
				256) "," CTR(10, "i1", "mem",
					     256) "," CTR(10, "i2", "cpu",
							  256) "," CTR(10, "i2", "mem",
								       256) "];" CONVERGE(10),
			"placed-twice"),
		CHECK_INVALID);
	/* back to PROVISIONING without a stop, and deleted while held */
	assert_int_equal(
		verdict(LIFE_START REC "[" SV(9, "s1", "PROVISIONING", "null") "," CTR(
				9, "i1", "cpu", 256) "," CTR(9, "i1", "mem", 256) "];" CONVERGE(9),
			"lost"),
		CHECK_INVALID);
	assert_int_equal(verdict(LIFE_START REC
				 "[[9,\"tasks/s1\",null]," CTR(9, "i1", "cpu", 256) "," CTR(
					 9, "i1", "mem", 256) "];" CONVERGE(9),
				 "lost"),
			 CHECK_INVALID);
}

static void test_sched_end(void **state)
{
	(void)state;
	/* not converged: the step failed, or the stream says otherwise */
	assert_int_equal(verdict(LIFE_START "0 invoke converge {\"service\":\"web\"};"
					    "0 fail converge {\"service\":\"web\",\"revision\":8}",
				 "convergence"),
			 CHECK_INVALID);
	assert_int_equal(verdict(LIFE_START CONVERGE(6), "convergence"), CHECK_INVALID);
	/* an acknowledged run whose task never got placed, or never appeared */
	assert_int_equal(verdict(LIFE_START
				 "1 invoke run {\"tasks\":[\"r1\"]}; 1 ok run;" REC
				 "[" TASK(9, "r1", "PROVISIONING", "null", 128, "[9000]",
					  "family:jrun", "RUNNING", "null") "];" CONVERGE(9),
				 "run"),
			 CHECK_INVALID);
	assert_int_equal(verdict(LIFE_START
				 "1 invoke run {\"tasks\":[\"r1\"]}; 1 ok run;" CONVERGE(8),
				 "run"),
			 CHECK_INVALID);
	/* ... but one that no instance can hold (i1's port 9000 is r1's) is not the
	 * scheduler's failure: a scheduler does not move running tasks */
	assert_int_equal(verdict(LIFE_START RUN_R1
				 "3 invoke run {\"tasks\":[\"r2\"]}; 3 ok run;" REC
				 "[" TASK(11, "r2", "PROVISIONING", "null", 128, "[9000]",
					  "family:jrun", "RUNNING", "null") "];" CONVERGE(11),
				 NULL),
			 CHECK_VALID);
	/* a failed run's task, and a task nobody ran */
	assert_int_equal(verdict(LIFE_START
				 "1 invoke run {\"tasks\":[\"r1\"]}; 1 fail run;" REC
				 "[" TASK(9, "r1", "PROVISIONING", "null", 128, "[9000]",
					  "family:jrun", "RUNNING", "null") "];" CONVERGE(9),
				 "run"),
			 CHECK_INVALID);
	assert_int_equal(verdict(LIFE_START REC
				 "[" TASK(9, "r9", "PROVISIONING", "null", 128, "[9000]",
					  "family:jrun", "STOPPED", "null") "];" CONVERGE(9),
				 "run"),
			 CHECK_INVALID);
	/* an acknowledged stop not done; a scale never applied */
	assert_int_equal(verdict(LIFE_START RUN_R1
				 "2 invoke stop {\"task\":\"r1\"}; 2 ok stop;" CONVERGE(10),
				 "stop"),
			 CHECK_INVALID);
	assert_int_equal(verdict(LIFE_START
				 "3 invoke scale {\"desired\":5}; 3 ok scale;" CONVERGE(8),
				 "scale"),
			 CHECK_INVALID);
	/* a desired count nobody asked for */
	assert_int_equal(verdict(LIFE_START REC "[" SVC(9, 0) "];" CONVERGE(9), "scale"),
			 CHECK_INVALID);
}

static void test_sched_unknown_and_refused(void **state)
{
	(void)state;
	assert_int_equal(verdict(LIFE_START, NULL), CHECK_UNKNOWN);
	assert_int_equal(verdict(LIFE_START "1000000 invoke gap; 1000000 info gap "
					    "{\"after\":8,\"compacted\":20};" CONVERGE(8),
				 NULL),
			 CHECK_UNKNOWN);
	assert_int_equal(verdict("0 invoke converge {\"service\":\"web\"};"
				 "0 ok converge {\"service\":\"web\",\"revision\":3}",
				 NULL),
			 CHECK_UNKNOWN);
	static const char *const bad[] = {
		"0 invoke write 1; 0 ok write 1",   REC "[[1,\"tasks/t\"]]",
		REC "[[1,\"secrets/t\",1]]",        REC "[[1,\"tasks/t\",{\"status\":\"GONE\"}]]",
		REC "[[1,\"alloc/i1/cpu\",\"x\"]]", REC "[[0,\"alloc/i1/cpu\",1]]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct history h = {0};
		char err[256] = "";
		jhist_parse(&h, bad[i]);
		json_t *r = check_sched(&h, err, sizeof(err));
		if (r != NULL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(strncmp(err, "index ", 6) == 0);
		hist_free(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_valid),
		cmocka_unit_test(test_sched_capacity),
		cmocka_unit_test(test_sched_port),
		cmocka_unit_test(test_sched_twice_and_lost),
		cmocka_unit_test(test_sched_end),
		cmocka_unit_test(test_sched_unknown_and_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
