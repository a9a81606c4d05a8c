/* tests/integ/test_cluster_compaction.c: automatic compaction on real processes
 * (store/compactor.h): the leader compacts once history passes --compact-keep plus a
 * tenth; reads below the compaction point answer BERTH_ECOMPACTED on every member, the
 * kept revisions stay readable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CP_KEEP 20
#define CP_WRITES 60

static uint64_t cp_compacted(struct berth *b)
{
	struct berth_result r = {0};
	assert_int_equal(berth_status(b, NULL, &r), 0);
	assert_true(r.has_resp && r.resp.has_status);
	uint64_t c = r.resp.status.compacted;
	berth_result_free(&r);
	return c;
}

/* A read of key at revision rev: the call's code (0 or the state machine's error). */
static int cp_read_at(struct berth *b, uint64_t rev, bool serializable)
{
	struct berth_result r = {0};
	int rv = berth_get(b, "cp/key", 6, rev, serializable, &r);
	berth_result_free(&r);
	return rv;
}

static void test_cluster_compaction_automatic(void **state)
{
	struct integ *f = *state;
	static const char *const args[] = {"--compact-keep", "20", NULL};
	unsigned leader;
	char v[32];
	integ_start(f, 3, args, &leader);
	struct berth *b = cluster_client(&f->c, leader, 5000);
	assert_non_null(b);
	uint64_t last = 0;
	for (int i = 1; i <= CP_WRITES; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		last = integ_put(b, "cp/key", v);
	}
	assert_int_equal(last, CP_WRITES);
	/* The leader looks once a second (maybe once mid-way through the writes, compacting
	 * less): wait, bounded, for the compaction that follows the last write. */
	uint64_t c = 0;
	for (int k = 0; k < 60 && (c = cp_compacted(b)) != CP_WRITES - CP_KEEP; k++) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("compacted at revision %llu of %llu (keep %d)\n", (unsigned long long)c,
	       (unsigned long long)last, CP_KEEP);
	/* rev - keep once rev - keep >= slack (2): by the time it looked, all 60 were in. */
	assert_int_equal(c, CP_WRITES - CP_KEEP);
	assert_int_equal(cp_read_at(b, c - 1, false), BERTH_ECOMPACTED);
	assert_int_equal(cp_read_at(b, c, false), 0);
	assert_int_equal(cp_read_at(b, last, false), 0);
	/* Every member applied the same compaction. */
	for (unsigned i = 0; i < 3; i++) {
		struct berth *one = cluster_client_only(&f->c, i, 3000);
		assert_non_null(one);
		for (int k = 0; k < 50 && cp_read_at(one, c - 1, true) != BERTH_ECOMPACTED; k++) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		assert_int_equal(cp_read_at(one, c - 1, true), BERTH_ECOMPACTED);
		assert_int_equal(cp_read_at(one, c, true), 0);
		berth_close(one);
	}
	/* Below the threshold (keep plus a tenth) nothing more happens. */
	integ_put(b, "cp/key", "one-more");
	struct timespec wait = {1, 500 * 1000 * 1000};
	nanosleep(&wait, NULL);
	assert_int_equal(cp_compacted(b), c);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_compaction_automatic, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
