/* tests/unit/test_jepsen_lin_random.c: the register checker against a brute-force judge on
 * thousands of random small histories, valid and invalid, and on a large simulated one.
 * BERTH_LIN_SEED replays one seed of the random comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jepsen/lin.h"
#include "tests/unit/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { JUDGE_MAX = 8 };

/* --- the judge: every order of the operations that respects real time ---------------- */

struct judge {
	const struct lin_op *ops;
	size_t n;
	int64_t vals[2 * JUDGE_MAX + 1]; /* state ids: 0 absent, i + 1 vals[i] */
	size_t nvals;
	unsigned char seen[1 << JUDGE_MAX][2 * JUDGE_MAX + 2];
};

static size_t judge_id(struct judge *j, bool null, int64_t v)
{
	if (null)
		return 0;
	for (size_t i = 0; i < j->nvals; i++)
		if (j->vals[i] == v)
			return i + 1;
	j->vals[j->nvals++] = v;
	return j->nvals;
}

static bool judge_ignored(const struct lin_op *o)
{
	return o->f == LIN_READ && o->info;
}

/* Placing the operations not in mask, from register state st: true when every definite
 * one can be placed. An operation may be placed when no definite operation still
 * unplaced completed before its invocation. */
static bool judge_place(struct judge *j, unsigned mask, size_t st)
{
	bool done = true;
	for (size_t i = 0; i < j->n; i++)
		if (!(mask >> i & 1) && !j->ops[i].info)
			done = false;
	if (done)
		return true;
	if (j->seen[mask][st])
		return false;
	j->seen[mask][st] = 1;
	for (size_t i = 0; i < j->n; i++) {
		const struct lin_op *o = &j->ops[i];
		if (mask >> i & 1 || judge_ignored(o))
			continue;
		bool blocked = false;
		for (size_t k = 0; k < j->n; k++)
			if (!(mask >> k & 1) && !j->ops[k].info && j->ops[k].complete < o->invoke)
				blocked = true;
		if (blocked)
			continue;
		size_t a = judge_id(j, o->a_null, o->a), next;
		if (o->f == LIN_READ) {
			if (a != st)
				continue;
			next = st;
		} else if (o->f == LIN_WRITE) {
			next = a;
		} else {
			if (a != st)
				continue;
			next = judge_id(j, false, o->b);
		}
		if (judge_place(j, mask | 1u << i, next))
			return true;
	}
	return false;
}

static bool judge(const struct lin_op *ops, size_t n)
{
	static struct judge j;
	memset(&j, 0, sizeof(j));
	j.ops = ops;
	j.n = n;
	for (size_t i = 0; i < n; i++) {
		judge_id(&j, ops[i].a_null, ops[i].a);
		if (ops[i].f == LIN_CAS)
			judge_id(&j, false, ops[i].b);
	}
	unsigned ignored = 0;
	for (size_t i = 0; i < n; i++)
		if (judge_ignored(&ops[i]))
			ignored |= 1u << i;
	return judge_place(&j, ignored, 0);
}

/* --- random histories --------------------------------------------------------------- */

/* A register simulated by nproc processes: each operation is invoked, takes effect at some
 * step (or, for an info one, perhaps never) and completes, in a random interleaving. With
 * corrupt, one operation's result or outcome is changed afterwards. Returns the count. */
static size_t gen(struct rng *r, struct lin_op *ops, size_t want, unsigned nproc, bool corrupt,
		  bool small_values)
{
	enum { IDLE, INVOKED, APPLIED };
	int phase[16] = {0};
	size_t cur[16] = {0};
	bool null = true;
	int64_t reg = 0, nextval = 1;
	size_t n = 0, done = 0;
	uint64_t at = 0;
	while (done < want) {
		unsigned p = (unsigned)rng_below(r, nproc);
		struct lin_op *o = &ops[cur[p]];
		if (phase[p] == IDLE) {
			if (n == want)
				continue;
			cur[p] = n;
			o = &ops[n++];
			*o = (struct lin_op){.process = (int)p, .invoke = at++};
			unsigned k = (unsigned)rng_below(r, 10);
			o->f = k < 4 ? LIN_READ : k < 7 ? LIN_WRITE : LIN_CAS;
			o->a = nextval++;
			if (o->f == LIN_CAS) {
				o->b = o->a;
				o->a_null = rng_pct(r, 20);
				o->a = small_values ? (int64_t)rng_below(r, (uint64_t)nextval)
						    : reg;
			}
			o->info = o->f != LIN_READ && rng_pct(r, 15);
			phase[p] = INVOKED;
		} else if (phase[p] == INVOKED) {
			phase[p] = APPLIED;
			if (o->info && rng_pct(r, 50))
				continue; /* never takes effect */
			if (o->f == LIN_READ) {
				o->a_null = null;
				o->a = reg;
			} else if (o->f == LIN_WRITE) {
				null = false;
				reg = o->a;
			} else if (o->a_null == null && (null || o->a == reg)) {
				null = false;
				reg = o->b;
			} else {
				o->process = -1; /* a failed cas: dropped below */
			}
		} else {
			o->complete = at++;
			phase[p] = IDLE;
			done++;
		}
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (ops[i].process >= 0)
			ops[m++] = ops[i];
	if (corrupt && m > 0) {
		struct lin_op *o = &ops[rng_below(r, m)];
		if (o->f == LIN_READ) {
			o->a_null = rng_pct(r, 30);
			o->a = (int64_t)rng_below(r, (uint64_t)nextval + 1);
		} else if (o->f == LIN_CAS) {
			o->a_null = false;
			o->a = (int64_t)rng_below(r, (uint64_t)nextval);
		} else {
			o->info = !o->info;
		}
	}
	return m;
}

static void test_jepsen_lin_random_vs_judge(void **state)
{
	const char *env = getenv("BERTH_LIN_SEED");
	uint64_t first = env ? strtoull(env, NULL, 10) : 1, count = env ? 1 : 20000;
	size_t valid = 0, invalid = 0;
	(void)state;
	for (uint64_t seed = first; seed < first + count; seed++) {
		struct rng r = {seed};
		struct lin_op ops[JUDGE_MAX];
		size_t want = 2 + rng_below(&r, JUDGE_MAX - 1);
		unsigned nproc = 1 + (unsigned)rng_below(&r, 4);
		size_t n = gen(&r, ops, want, nproc, rng_pct(&r, 50), rng_pct(&r, 50));
		struct lin_result res;
		assert_int_equal(lin_check(ops, n, 0, &res), 0);
		bool want_valid = judge(ops, n);
		if ((res.verdict == LIN_VALID) != want_valid || res.verdict == LIN_UNKNOWN)
			fail_msg("seed %llu: lin_check %d, judge %s (BERTH_LIN_SEED=%llu)",
				 (unsigned long long)seed, res.verdict,
				 want_valid ? "valid" : "invalid", (unsigned long long)seed);
		want_valid ? valid++ : invalid++;
	}
	printf("random histories: %zu valid, %zu invalid\n", valid, invalid);
	if (count > 1) {
		assert_true(valid > count / 5);
		assert_true(invalid > count / 5);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 5,000 operations of 10 processes on one key: valid, within seconds; with one read
 * changed to a value overwritten long before, invalid. */
static void test_jepsen_lin_large(void **state)
{
	enum { N = 5000 };
	struct lin_op *ops = malloc(N * sizeof(*ops));
	struct rng r = {42};
	struct lin_result res;
	(void)state;
	assert_non_null(ops);
	size_t n = gen(&r, ops, N, 10, false, false);
	assert_true(n > N * 3 / 4);
	double t0 = now_s();
	assert_int_equal(lin_check(ops, n, 0, &res), 0);
	double t = now_s() - t0;
	printf("large: %zu ops, %llu states, %.2f s\n", n, (unsigned long long)res.states, t);
	assert_int_equal(res.verdict, LIN_VALID);
	assert_true(t < 20.0); /* seconds on a loaded machine; about 0.1 s alone */

	size_t victim = SIZE_MAX, old = SIZE_MAX;
	for (size_t i = n / 2; i < n && victim == SIZE_MAX; i++)
		if (ops[i].f == LIN_READ && !ops[i].a_null)
			victim = i;
	for (size_t i = victim - 200; i > 0 && old == SIZE_MAX; i--)
		if (ops[i].f == LIN_WRITE && !ops[i].info)
			old = i;
	assert_true(victim != SIZE_MAX && old != SIZE_MAX);
	ops[victim].a = ops[old].a; /* a value overwritten long before */
	t0 = now_s();
	assert_int_equal(lin_check(ops, n, 0, &res), 0);
	printf("large, one stale read: verdict %d, %llu states, %.2f s\n", res.verdict,
	       (unsigned long long)res.states, now_s() - t0);
	assert_int_equal(res.verdict, LIN_INVALID);
	assert_int_equal(res.bad, victim);
	free(ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_lin_random_vs_judge),
		cmocka_unit_test(test_jepsen_lin_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
