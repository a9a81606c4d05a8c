/* tools/bench_kv_threads.c: `berth-bench kv`'s default driver: one thread per client,
 * each with its own blocking libberth handle (started at a different endpoint, so that
 * serializable reads spread), all measuring from one barrier. */
#include "tools/bench_kv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv_thread {
	const struct kv_config *cfg;
	pthread_barrier_t *start;
	unsigned id;
	struct kv_stats *st;
};

static int kv_put_one(struct berth *b, const struct kv_config *cfg, const char *key,
		      const char *val)
{
	struct berth_result r;
	int rv = berth_put(b, key, cfg->key_bytes, val, cfg->value_bytes, 0, &r);
	berth_result_free(&r);
	return rv;
}

static int kv_cas_one(struct berth *b, const struct kv_config *cfg, const char *key,
		      const char *val, int64_t *version, bool *won)
{
	struct kv_cas c;
	struct berth_result r;
	kv_cas_build(&c, cfg, key, val, *version);
	int rv = berth_txn(b, &c.txn, false, &r);
	if (rv == 0)
		*won = kv_cas_answer(&r, version);
	berth_result_free(&r);
	return rv;
}

/* The setup writes, then the setup reads into versions (cas-hot: hot_version). */
static int kv_setup(struct berth *b, struct kv_thread *th, const char *val, int64_t *versions,
		    int64_t *hot_version)
{
	const struct kv_config *cfg = th->cfg;
	char key[1024];
	int rv = 0;
	for (unsigned n = 0; n < kv_setup_count(cfg) && rv == 0; n++) {
		kv_key(cfg, th->id, kv_setup_slot(cfg, n), key);
		rv = kv_put_one(b, cfg, key, val);
	}
	for (unsigned n = 0; n < kv_setup_reads(cfg) && rv == 0; n++) {
		struct berth_result r;
		kv_cas_key(cfg, th->id, n, key);
		rv = berth_get(b, key, cfg->key_bytes, 0, false, &r);
		if (rv == 0) {
			const struct reply_kv *kv = berth_result_kv(&r);
			*(cfg->kcase == KV_CAS_HOT ? hot_version : &versions[n]) =
				kv ? kv->version : 0;
		}
		berth_result_free(&r);
	}
	if (rv != 0)
		snprintf(th->st->errmsg, sizeof(th->st->errmsg), "%s", berth_errmsg(b));
	return rv;
}

/* One request of the case; *won false for a CAS that lost. */
static int kv_request(struct berth *b, struct kv_thread *th, uint64_t i, const char *val,
		      int64_t *versions, int64_t *hot_version, bool *won)
{
	const struct kv_config *cfg = th->cfg;
	struct berth_result r;
	char key[1024];
	int rv;
	switch (cfg->kcase) {
	case KV_PUT:
		kv_key(cfg, th->id, (unsigned)(i % KV_KEYS_PER_THREAD), key);
		return kv_put_one(b, cfg, key, val);
	case KV_GET_LIN:
	case KV_GET_SER:
		kv_key(cfg, th->id, (unsigned)(i % KV_READ_KEYS), key);
		rv = berth_get(b, key, cfg->key_bytes, 0, cfg->kcase == KV_GET_SER, &r);
		if (rv == 0 && berth_result_kv(&r) == NULL)
			rv = BERTH_ENOTFOUND; /* setup wrote it: a lost write */
		berth_result_free(&r);
		return rv;
	case KV_CAS_DISTINCT: {
		unsigned k = (unsigned)(i % KV_CAS_KEYS);
		kv_cas_key(cfg, th->id, k, key);
		return kv_cas_one(b, cfg, key, val, &versions[k], won);
	}
	default: /* KV_CAS_HOT */
		kv_cas_key(cfg, th->id, 0, key);
		return kv_cas_one(b, cfg, key, val, hot_version, won);
	}
}

static void *kv_thread_run(void *arg)
{
	struct kv_thread *th = arg;
	const struct kv_config *cfg = th->cfg;
	struct kv_stats *st = th->st;
	const char *eps[BENCH_MAX_ENDPOINTS];
	for (size_t i = 0; i < cfg->nendpoints; i++)
		eps[i] = cfg->endpoints[(i + th->id) % cfg->nendpoints];
	struct berth_options o = {.endpoints = eps, .nendpoints = cfg->nendpoints};
	struct berth *b = NULL;
	char *val = malloc(cfg->value_bytes ? cfg->value_bytes : 1);
	int64_t versions[KV_CAS_KEYS] = {0}, hot_version = 0;
	uint64_t quota, deadline;

	if (val == NULL)
		st->setup_err = BERTH_ENOMEM;
	else
		st->setup_err = berth_open(&b, &o, st->errmsg, sizeof(st->errmsg));
	if (st->setup_err == 0) {
		memset(val, 'v', cfg->value_bytes);
		st->setup_err = kv_setup(b, th, val, versions, &hot_version);
	}
	pthread_barrier_wait(th->start);
	if (st->setup_err != 0)
		goto out;
	st->t_start = bench_now_ns();
	kv_limits(cfg, th->id, st->t_start, &quota, &deadline);
	for (uint64_t i = 0; i < quota; i++) {
		uint64_t t0 = bench_now_ns();
		if (t0 >= deadline)
			break;
		bool won = true;
		int rv = kv_request(b, th, i, val, versions, &hot_version, &won);
		if (bench_lat_add(&st->lat, bench_now_ns() - t0) != 0) {
			bench_err_count(st->errs, BERTH_ENOMEM);
			break;
		}
		if (rv != 0)
			bench_err_count(st->errs, rv);
		else if (!won)
			st->conflicts++;
		else
			st->ok++;
	}
	st->t_end = bench_now_ns();
out:
	berth_close(b);
	free(val);
	return NULL;
}

int kv_threads_run(const struct kv_config *cfg, struct kv_stats *st)
{
	struct kv_thread *th = calloc(cfg->clients, sizeof(*th));
	pthread_t *tids = calloc(cfg->clients, sizeof(*tids));
	pthread_barrier_t start;
	uint64_t started = 0;
	int rv = BENCH_EXIT_FAIL;
	if (th == NULL || tids == NULL || pthread_barrier_init(&start, NULL, cfg->clients) != 0) {
		fprintf(stderr, "berth-bench kv: out of memory\n");
		goto out;
	}
	for (; started < cfg->clients; started++) {
		th[started] = (struct kv_thread){
			.cfg = cfg, .start = &start, .id = (unsigned)started, .st = &st[started]};
		if (pthread_create(&tids[started], NULL, kv_thread_run, &th[started]) != 0)
			break;
	}
	if (started < cfg->clients) {
		/* The barrier counts every client: it cannot be passed now. */
		fprintf(stderr, "berth-bench kv: cannot start thread %llu\n",
			(unsigned long long)started);
		exit(BENCH_EXIT_FAIL);
	}
	for (uint64_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&start);
	rv = 0;
out:
	free(th);
	free(tids);
	return rv;
}
