/* tests/unit/test_worker_squeue.c: the worker's pending queue (worker/squeue.c): every task
 * pushed comes out once; two workers with different seeds start in different buckets and
 * take different tasks; a bucket where another worker placed is passed over while others
 * have tasks, and taken from when none has; squeue_take's predicate, limit and depth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_TASKS 2000

struct t_queue {
	uv_loop_t loop;
	struct worker w;
	struct cache_task tasks[T_TASKS];
	char ids[T_TASKS][16];
};

static struct t_queue *t_open(uint64_t seed)
{
	struct t_queue *q = calloc(1, sizeof(*q));
	assert_non_null(q);
	assert_int_equal(uv_loop_init(&q->loop), 0);
	q->w.loop = &q->loop;
	q->w.rng = seed;
	squeue_init(&q->w);
	for (size_t i = 0; i < T_TASKS; i++) {
		snprintf(q->ids[i], sizeof(q->ids[i]), "t%07zu", i);
		q->tasks[i].id = q->ids[i];
		squeue_push(&q->w, &q->tasks[i], Q_PENDING, i % 2 == 0);
	}
	assert_int_equal(q->w.npending, T_TASKS);
	return q;
}

static void t_close(struct t_queue *q)
{
	assert_int_equal(uv_loop_close(&q->loop), 0);
	free(q);
}

static int t_all(const struct cache_task *first, const struct cache_task *t, void *ctx)
{
	(void)first;
	(void)t;
	(void)ctx;
	return 1;
}

/* Every task comes out exactly once, in batches. */
static void test_worker_squeue_drains(void **state)
{
	(void)state;
	struct t_queue *q = t_open(1);
	static bool seen[T_TASKS];
	memset(seen, 0, sizeof(seen));
	struct cache_task *out[64], *first;
	size_t total = 0;
	while ((first = squeue_first(&q->w)) != NULL) {
		size_t n = squeue_take(&q->w, first, t_all, NULL, out, 64, SIZE_MAX);
		assert_true(n >= 1 && n <= 64);
		for (size_t i = 0; i < n; i++) {
			size_t k = (size_t)(out[i] - q->tasks);
			assert_false(seen[k]);
			seen[k] = true;
			assert_int_equal(out[i]->queue, Q_NONE);
		}
		total += n;
	}
	assert_int_equal(total, T_TASKS);
	assert_int_equal(q->w.npending, 0);
	t_close(q);
}

/* Two workers with other seeds start elsewhere: their first batches do not overlap. */
static void test_worker_squeue_seeds_apart(void **state)
{
	(void)state;
	struct t_queue *a = t_open(1), *b = t_open(2);
	assert_int_not_equal(a->w.qstart, b->w.qstart);
	struct cache_task *oa[64], *ob[64];
	size_t na = squeue_take(&a->w, squeue_first(&a->w), t_all, NULL, oa, 64, SIZE_MAX);
	size_t nb = squeue_take(&b->w, squeue_first(&b->w), t_all, NULL, ob, 64, SIZE_MAX);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			assert_string_not_equal(oa[i]->id, ob[j]->id);
	t_close(a);
	t_close(b);
}

/* A bucket another worker places from is passed over (with the one after it) while
 * other buckets have tasks; taken from once they are empty, or once the mark is old. */
static void test_worker_squeue_foreign(void **state)
{
	(void)state;
	struct t_queue *q = t_open(1);
	struct cache_task *first = squeue_first(&q->w);
	assert_non_null(first);
	squeue_taken(&q->w, first->id); /* another worker took a task of this bucket */
	struct cache_task *next = squeue_first(&q->w);
	assert_non_null(next);
	assert_ptr_not_equal(next, first);
	/* The same through the watch: a queued task placed by someone else. */
	squeue_foreign(&q->w, next);
	struct cache_task *third = squeue_first(&q->w);
	assert_ptr_not_equal(third, next);
	assert_ptr_not_equal(third, first);
	/* A task not queued marks nothing. */
	struct cache_task loose = {.id = (char *)"zzz", .queue = Q_NONE};
	squeue_foreign(&q->w, &loose);
	assert_ptr_equal(squeue_first(&q->w), third);
	/* Take everything but the marked buckets: then they are taken from anyway. */
	struct cache_task *out[T_TASKS];
	size_t left = T_TASKS;
	while ((first = squeue_first(&q->w)) != NULL)
		left -= squeue_take(&q->w, first, t_all, NULL, out, T_TASKS, SIZE_MAX);
	assert_int_equal(left, 0);
	t_close(q);
}

static int t_even(const struct cache_task *first, const struct cache_task *t, void *ctx)
{
	size_t *calls = ctx;
	(*calls)++;
	(void)first;
	return (t->id[7] - '0') % 2 == 0;
}

static int t_stop(const struct cache_task *first, const struct cache_task *t, void *ctx)
{
	(void)first;
	(void)t;
	(void)ctx;
	return -1;
}

/* The predicate chooses, max and scan_max bound, -1 stops; first always comes out. */
static void test_worker_squeue_take(void **state)
{
	(void)state;
	struct t_queue *q = t_open(3);
	struct cache_task *out[T_TASKS];
	size_t calls = 0;
	struct cache_task *first = squeue_first(&q->w);
	size_t n = squeue_take(&q->w, first, t_even, &calls, out, 10, SIZE_MAX);
	assert_int_equal(n, 10);
	assert_ptr_equal(out[0], first);
	for (size_t i = 1; i < n; i++)
		assert_int_equal((out[i]->id[7] - '0') % 2, 0);
	calls = 0;
	n = squeue_take(&q->w, squeue_first(&q->w), t_even, &calls, out, T_TASKS, 7);
	assert_int_equal(calls, 7);
	assert_true(n <= 8);
	n = squeue_take(&q->w, squeue_first(&q->w), t_stop, NULL, out, T_TASKS, SIZE_MAX);
	assert_int_equal(n, 1);
	/* Unlink and push again: counts stay right; parked tasks are not pending. */
	size_t pending = q->w.npending;
	squeue_push(&q->w, out[0], Q_PARKED, false);
	assert_int_equal(q->w.nparked, 1);
	assert_int_equal(q->w.npending, pending);
	squeue_push(&q->w, out[0], Q_PENDING, true);
	assert_int_equal(q->w.nparked, 0);
	assert_int_equal(q->w.npending, pending + 1);
	squeue_unlink(&q->w, out[0]);
	squeue_unlink(&q->w, out[0]);
	assert_int_equal(q->w.npending, pending);
	t_close(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_squeue_drains),
		cmocka_unit_test(test_worker_squeue_seeds_apart),
		cmocka_unit_test(test_worker_squeue_foreign),
		cmocka_unit_test(test_worker_squeue_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
