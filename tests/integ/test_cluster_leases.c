/* tests/integ/test_cluster_leases.c: lease time-to-live on real processes (store/ttl.h):
 * keys of a lease nobody keeps alive go after the TTL, keepalives keep them, a revoked or
 * expired lease refuses keepalives, and a new leader gives every lease its TTL plus one
 * election timeout before expiring it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t lt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void lt_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static uint64_t lt_grant(struct berth *b, int64_t ttl_s)
{
	struct berth_result r = {0};
	assert_int_equal(berth_lease_grant(b, ttl_s, 0, &r), 0);
	assert_true(r.has_resp && r.resp.has_reply);
	uint64_t id = r.resp.reply.id;
	assert_int_equal(r.resp.reply.ttl, ttl_s);
	berth_result_free(&r);
	return id;
}

static void lt_put(struct berth *b, const char *k, uint64_t lease)
{
	struct berth_result r = {0};
	assert_int_equal(berth_put(b, k, strlen(k), "v", 1, lease, &r), 0);
	berth_result_free(&r);
}

/* Whether k exists, read linearizably. */
static bool lt_exists(struct berth *b, const char *k)
{
	struct berth_result r = {0};
	int rv = berth_get(b, k, strlen(k), 0, false, &r);
	bool there = rv == 0 && berth_result_kv(&r) != NULL;
	assert_true(rv == 0 || rv == BERTH_ENOTFOUND);
	berth_result_free(&r);
	return there;
}

/* Polls until k is gone; returns the milliseconds it took (fails past limit_ms). */
static uint64_t lt_wait_gone(struct berth *b, const char *k, uint64_t limit_ms)
{
	uint64_t t0 = lt_now_ms();
	while (lt_exists(b, k)) {
		if (lt_now_ms() - t0 > limit_ms)
			fail_msg("%s still there after %llu ms", k, (unsigned long long)limit_ms);
		lt_sleep_ms(50);
	}
	return lt_now_ms() - t0;
}

static int lt_keepalive(struct berth *b, uint64_t id)
{
	struct berth_result r = {0};
	int rv = berth_lease_keepalive(b, id, &r);
	berth_result_free(&r);
	return rv;
}

static void test_cluster_leases_expiry_and_keepalive(void **state)
{
	struct integ *f = *state;
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	struct berth *b = cluster_client(&f->c, leader, 5000);
	assert_non_null(b);

	/* Kept alive every 500 ms for 3 s, a 2 s lease keeps its keys. */
	uint64_t kept = lt_grant(b, 2);
	lt_put(b, "lease/kept", kept);
	for (int i = 0; i < 6; i++) {
		lt_sleep_ms(500);
		assert_int_equal(lt_keepalive(b, kept), 0);
	}
	assert_true(lt_exists(b, "lease/kept"));
	/* Left alone, its keys go about one TTL after the last keepalive. */
	uint64_t gone = lt_wait_gone(b, "lease/kept", 6000);
	printf("lease/kept gone %llu ms after the last keepalive (TTL 2000 ms)\n",
	       (unsigned long long)gone);
	assert_true(gone >= 1000);
	/* An expired lease refuses keepalives at once. */
	assert_int_equal(lt_keepalive(b, kept), BERTH_ENOTFOUND);

	/* A key without a lease is untouched; a revoked lease refuses keepalives. */
	lt_put(b, "lease/none", 0);
	uint64_t rev = lt_grant(b, 60);
	lt_put(b, "lease/revoked", rev);
	struct berth_result r = {0};
	assert_int_equal(berth_lease_revoke(b, rev, &r), 0);
	berth_result_free(&r);
	assert_false(lt_exists(b, "lease/revoked"));
	assert_int_equal(lt_keepalive(b, rev), BERTH_ENOTFOUND);
	assert_int_equal(lt_keepalive(b, 987654), BERTH_ENOTFOUND);
	assert_true(lt_exists(b, "lease/none"));
	berth_close(b);
	integ_finish(f);
}

/* After the leader dies, the new one expires a lease no earlier than its TTL plus one
 * election timeout after it took over, and does expire it. The election timeout is 1.5 s
 * here so that the grace stands out from the polling. */
static void test_cluster_leases_new_leader_grace(void **state)
{
	struct integ *f = *state;
	static const char *const slow[] = {"--election-ms", "1500", "--heartbeat-ms", "100", NULL};
	unsigned leader, next;
	integ_start(f, 3, slow, &leader);
	struct berth *b = cluster_client(&f->c, (leader + 1) % 3, 10000);
	assert_non_null(b);
	uint64_t id = lt_grant(b, 3);
	lt_put(b, "lease/grace", id);
	assert_true(lt_exists(b, "lease/grace")); /* a barrier: every member knows the key */
	cluster_kill(&f->c, leader);
	uint64_t t_kill = lt_now_ms();
	assert_int_equal(cluster_wait_leader(&f->c, 20000, &next, NULL), 0);
	uint64_t t_leader = lt_now_ms();
	assert_int_not_equal(next, leader);
	lt_wait_gone(b, "lease/grace", 20000);
	uint64_t since_leader = lt_now_ms() - t_leader;
	printf("new leader seen %llu ms after the kill; lease/grace gone %llu ms after that "
	       "(TTL 3000 + grace 1500)\n",
	       (unsigned long long)(t_leader - t_kill), (unsigned long long)since_leader);
	/* Without the grace it would go about 3000 ms after the takeover, which we see a
	 * little late; with it, about 4500. */
	assert_true(since_leader >= 3750);
	berth_close(b);
	assert_int_equal(cluster_restart(&f->c, leader), 0);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_leases_expiry_and_keepalive,
						integ_setup, integ_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_leases_new_leader_grace, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
