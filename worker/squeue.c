/* worker/squeue.c: the scheduler's queues: pending tasks in buckets by a hash of their id,
 * and parked tasks (worker/worker.h).
 *
 * Why buckets: workers share nothing, so they must not all take the same tasks (a task
 * placed by another worker fails the compare of every transaction that carries it, and
 * with batches a whole transaction of some 55 tasks fails). Each worker starts at a
 * bucket of its own (drawn from its seed) and takes from there on, bucket after bucket:
 * workers work on different arcs of the hash space without talking. A bucket where
 * another worker was seen placing one of the queued tasks in the last SQUEUE_FOREIGN_MS
 * (through the watch, or sooner through a conflict on a task it took), and the
 * SQUEUE_SHADOW buckets after it (where that worker goes next), are passed over while
 * another bucket has tasks; when none has, the worker takes from such a bucket anyway,
 * so every task is taken by someone, a lone worker's or a crashed peer's included. */
#include "worker/worker.h"

#include <string.h>

#define SQUEUE_FOREIGN_MS 1000
#define SQUEUE_SHADOW 1 /* buckets after a foreign placement that are its worker's */

/* FNV-1a, then murmur3's finaliser: FNV alone leaves ids that differ in their last digits
 * (t0000000, t0000001...) in 2 of 16 buckets. */
static size_t squeue_bucket(const char *tid)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = tid; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (size_t)(h % SQUEUE_BUCKETS);
}

void squeue_init(struct worker *w)
{
	for (size_t b = 0; b < SQUEUE_BUCKETS; b++) {
		w->pending[b].prev = w->pending[b].next = &w->pending[b];
		w->foreign_ms[b] = 0;
	}
	w->parked.prev = w->parked.next = &w->parked;
	w->qstart = (size_t)(place_random(&w->rng) % SQUEUE_BUCKETS);
}

void squeue_unlink(struct worker *w, struct cache_task *t)
{
	if (t->queue == Q_PENDING || t->queue == Q_PARKED) {
		t->prev->next = t->next;
		t->next->prev = t->prev;
		t->prev = t->next = NULL;
		if (t->queue == Q_PENDING)
			w->npending--;
		else
			w->nparked--;
	}
	t->queue = Q_NONE;
}

void squeue_push(struct worker *w, struct cache_task *t, int q, bool front)
{
	struct cache_task *head = q == Q_PENDING ? &w->pending[squeue_bucket(t->id)] : &w->parked;
	squeue_unlink(w, t);
	if (front) {
		t->prev = head;
		t->next = head->next;
	} else {
		t->next = head;
		t->prev = head->prev;
	}
	t->prev->next = t;
	t->next->prev = t;
	t->queue = q;
	if (q == Q_PENDING)
		w->npending++;
	else
		w->nparked++;
}

void squeue_foreign(struct worker *w, const struct cache_task *t)
{
	if (t->queue == Q_PENDING)
		w->foreign_ms[squeue_bucket(t->id)] = uv_now(w->loop);
}

void squeue_taken(struct worker *w, const char *tid)
{
	w->foreign_ms[squeue_bucket(tid)] = uv_now(w->loop);
}

/* The bucket to take from next: the first from qstart with tasks and outside every
 * other worker's shadow, else the first with tasks; SQUEUE_BUCKETS when all are empty.
 * Another worker seen placing in bucket f has its commits in flight in the buckets after
 * f (it walks the same way): f and the SQUEUE_SHADOW buckets after it are its shadow. */
static size_t squeue_pick(const struct worker *w)
{
	uint64_t now = uv_now(w->loop);
	bool shadow[SQUEUE_BUCKETS] = {false};
	for (size_t f = 0; f < SQUEUE_BUCKETS; f++)
		if (w->foreign_ms[f] != 0 && now < w->foreign_ms[f] + SQUEUE_FOREIGN_MS)
			for (size_t k = 0; k <= SQUEUE_SHADOW; k++)
				shadow[(f + k) % SQUEUE_BUCKETS] = true;
	size_t any = SQUEUE_BUCKETS;
	for (size_t k = 0; k < SQUEUE_BUCKETS; k++) {
		size_t b = (w->qstart + k) % SQUEUE_BUCKETS;
		if (w->pending[b].next == &w->pending[b])
			continue;
		if (!shadow[b])
			return b;
		if (any == SQUEUE_BUCKETS)
			any = b;
	}
	return any;
}

struct cache_task *squeue_first(const struct worker *w)
{
	size_t b = squeue_pick(w);
	return b == SQUEUE_BUCKETS ? NULL : w->pending[b].next;
}

size_t squeue_take(struct worker *w, struct cache_task *first, squeue_pred pred, void *ctx,
		   struct cache_task **out, size_t max, size_t scan_max)
{
	size_t n = 0, scanned = 0, b0 = squeue_bucket(first->id);
	struct cache_task *from = first->next;
	squeue_unlink(w, first);
	out[n++] = first;
	for (size_t k = 0; k < SQUEUE_BUCKETS && n < max && scanned < scan_max; k++) {
		size_t b = (b0 + k) % SQUEUE_BUCKETS;
		struct cache_task *head = &w->pending[b];
		for (struct cache_task *t = k == 0 ? from : head->next, *next;
		     t != head && n < max && scanned < scan_max; t = next) {
			next = t->next;
			scanned++;
			int r = pred(first, t, ctx);
			if (r < 0)
				return n;
			if (r > 0) {
				squeue_unlink(w, t);
				out[n++] = t;
			}
		}
	}
	return n;
}
