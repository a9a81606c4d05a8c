/* worker/stats.c: the worker's counters and latency histograms, printed as one line. */
#include "worker/worker.h"

#include <stdio.h>

void stats_record(struct stats_hist *h, uint64_t us)
{
	unsigned b = 0;
	while (b + 1 < STATS_BUCKETS && (1ull << (b + 1)) <= us)
		b++;
	h->bucket[b]++;
	h->n++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

/* The upper bound of the bucket holding quantile q (0..1), in microseconds. */
static uint64_t stats_quantile(const struct stats_hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->n), seen = 0;
	if (h->n == 0)
		return 0;
	for (unsigned b = 0; b < STATS_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen > want)
			return (2ull << b) < h->max_us ? (2ull << b) : h->max_us;
	}
	return h->max_us;
}

void stats_print(struct worker *w, const char *when)
{
	const struct worker_stats *s = &w->stats;
	printf("berth-worker %s %s: placements %llu commits %llu conflicts %llu retries %llu "
	       "parked %llu released %llu service-writes %llu service-conflicts %llu errors %llu "
	       "queue %zu parked-now %zu inflight %zu decision-us p50 %llu p99 %llu "
	       "commit-us p50 %llu p99 %llu max %llu rev %llu\n",
	       w->cfg->name, when, (unsigned long long)s->placements,
	       (unsigned long long)s->commits, (unsigned long long)s->conflicts,
	       (unsigned long long)s->retries, (unsigned long long)s->parked,
	       (unsigned long long)s->released, (unsigned long long)s->svc_writes,
	       (unsigned long long)s->svc_conflicts, (unsigned long long)s->errors, w->npending,
	       w->nparked, w->inflight, (unsigned long long)stats_quantile(&s->decision, 0.5),
	       (unsigned long long)stats_quantile(&s->decision, 0.99),
	       (unsigned long long)stats_quantile(&s->commit, 0.5),
	       (unsigned long long)stats_quantile(&s->commit, 0.99),
	       (unsigned long long)s->commit.max_us, (unsigned long long)w->cache.rev);
	fflush(stdout);
}
