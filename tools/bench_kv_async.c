/* tools/bench_kv_async.c: `berth-bench kv --conns N`: every client on one libuv loop,
 * sharing N handles of libberth's asynchronous API (their calls pipelined on one
 * connection each). Each client keeps one request in flight and sends the next from the
 * last one's callback, as a thread with a blocking handle would; latency runs from the
 * call to its callback. */
#include "tools/bench_kv.h"

#include "client/berth_async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv_run;

struct kv_client {
	struct kv_run *run;
	struct berth_async *a; /* borrowed: clients share handles */
	unsigned id;
	struct kv_stats *st;
	unsigned setup_next; /* the setup write, then read, to make next */
	uint64_t i, quota, deadline_ns, t0;
	int64_t versions[KV_CAS_KEYS], hot_version;
	int64_t *cas_version; /* the CAS in flight compares this */
	char key[1024];
};

struct kv_run {
	const struct kv_config *cfg;
	struct kv_client *clients;
	struct berth_async **handles; /* cfg->conns of them */
	char *val;                    /* value_bytes of 'v' */
	uint64_t setup_done, finished;
};

static void kv_next(struct kv_client *cl);

static void kv_close_all(struct kv_run *run)
{
	for (uint64_t h = 0; h < run->cfg->conns; h++)
		if (run->handles[h] != NULL)
			berth_async_close(run->handles[h], NULL, NULL);
}

static void kv_finish(struct kv_client *cl)
{
	cl->st->t_end = bench_now_ns();
	if (++cl->run->finished == cl->run->cfg->clients)
		kv_close_all(cl->run); /* uv_run returns once they are gone */
}

/* Every client is set up: all start measuring together, as threads behind a barrier. */
static void kv_begin(struct kv_run *run)
{
	const struct kv_config *cfg = run->cfg;
	for (uint64_t i = 0; i < cfg->clients; i++) {
		if (run->clients[i].st->setup_err != 0) {
			kv_close_all(run);
			return;
		}
	}
	for (uint64_t i = 0; i < cfg->clients; i++) {
		struct kv_client *cl = &run->clients[i];
		cl->st->t_start = bench_now_ns();
		kv_limits(cfg, cl->id, cl->st->t_start, &cl->quota, &cl->deadline_ns);
		kv_next(cl);
	}
}

static void kv_setup_step(struct kv_client *cl);

static void kv_setup_cb(struct berth_result *res, const char *errmsg, void *data)
{
	struct kv_client *cl = data;
	if (res->err != 0) {
		cl->st->setup_err = res->err;
		snprintf(cl->st->errmsg, sizeof(cl->st->errmsg), "%s", errmsg);
	}
	kv_setup_step(cl);
}

/* A setup read: the version its CAS compares start from. */
static void kv_setup_read_cb(struct berth_result *res, const char *errmsg, void *data)
{
	struct kv_client *cl = data;
	if (res->err == 0) {
		const struct reply_kv *kv = berth_result_kv(res);
		unsigned n = cl->setup_next - 1 - kv_setup_count(cl->run->cfg);
		*(cl->run->cfg->kcase == KV_CAS_HOT ? &cl->hot_version : &cl->versions[n]) =
			kv ? kv->version : 0;
	}
	kv_setup_cb(res, errmsg, data);
}

/* The client's setup writes, then its setup reads, one at a time; the last client done
 * starts them all. */
static void kv_setup_step(struct kv_client *cl)
{
	const struct kv_config *cfg = cl->run->cfg;
	unsigned puts = kv_setup_count(cfg);
	if (cl->st->setup_err == 0 && cl->setup_next < puts + kv_setup_reads(cfg)) {
		unsigned n = cl->setup_next++;
		int rv;
		if (n < puts) {
			kv_key(cfg, cl->id, kv_setup_slot(cfg, n), cl->key);
			rv = berth_async_put(cl->a, cl->key, cfg->key_bytes, cl->run->val,
					     cfg->value_bytes, 0, kv_setup_cb, cl);
		} else {
			kv_cas_key(cfg, cl->id, n - puts, cl->key);
			rv = berth_async_get(cl->a, cl->key, cfg->key_bytes, 0, false,
					     kv_setup_read_cb, cl);
		}
		if (rv == 0)
			return;
		cl->st->setup_err = rv;
		snprintf(cl->st->errmsg, sizeof(cl->st->errmsg), "%s", err_text(rv));
	}
	if (++cl->run->setup_done == cfg->clients)
		kv_begin(cl->run);
}

static void kv_cb(struct berth_result *res, const char *errmsg, void *data)
{
	struct kv_client *cl = data;
	const struct kv_config *cfg = cl->run->cfg;
	uint64_t t1 = bench_now_ns();
	bool won = true;
	int rv = res->err;
	(void)errmsg;
	if (rv == 0 && (cfg->kcase == KV_GET_LIN || cfg->kcase == KV_GET_SER) &&
	    berth_result_kv(res) == NULL)
		rv = BERTH_ENOTFOUND; /* setup wrote it: a lost write */
	else if (rv == 0 && cl->cas_version != NULL)
		won = kv_cas_answer(res, cl->cas_version);
	if (bench_lat_add(&cl->st->lat, t1 - cl->t0) != 0) {
		bench_err_count(cl->st->errs, BERTH_ENOMEM);
		kv_finish(cl);
		return;
	}
	if (rv != 0)
		bench_err_count(cl->st->errs, rv);
	else if (!won)
		cl->st->conflicts++;
	else
		cl->st->ok++;
	cl->i++;
	kv_next(cl);
}

/* Makes request i of the case: 0, or the call's immediate refusal. */
static int kv_request(struct kv_client *cl)
{
	const struct kv_config *cfg = cl->run->cfg;
	struct kv_cas c;
	cl->cas_version = NULL;
	switch (cfg->kcase) {
	case KV_PUT:
		kv_key(cfg, cl->id, (unsigned)(cl->i % KV_KEYS_PER_THREAD), cl->key);
		return berth_async_put(cl->a, cl->key, cfg->key_bytes, cl->run->val,
				       cfg->value_bytes, 0, kv_cb, cl);
	case KV_GET_LIN:
	case KV_GET_SER:
		kv_key(cfg, cl->id, (unsigned)(cl->i % KV_READ_KEYS), cl->key);
		return berth_async_get(cl->a, cl->key, cfg->key_bytes, 0, cfg->kcase == KV_GET_SER,
				       kv_cb, cl);
	case KV_CAS_DISTINCT: {
		unsigned k = (unsigned)(cl->i % KV_CAS_KEYS);
		kv_cas_key(cfg, cl->id, k, cl->key);
		cl->cas_version = &cl->versions[k];
		break;
	}
	default: /* KV_CAS_HOT */
		kv_cas_key(cfg, cl->id, 0, cl->key);
		cl->cas_version = &cl->hot_version;
		break;
	}
	kv_cas_build(&c, cfg, cl->key, cl->run->val, *cl->cas_version);
	return berth_async_txn(cl->a, &c.txn, false, kv_cb, cl);
}

/* Sends the client's next request, or finishes it. A call refused at once counts as a
 * failed request (no callback will come). */
static void kv_next(struct kv_client *cl)
{
	for (;;) {
		cl->t0 = bench_now_ns();
		if (cl->i >= cl->quota || cl->t0 >= cl->deadline_ns) {
			kv_finish(cl);
			return;
		}
		int rv = kv_request(cl);
		if (rv == 0)
			return;
		bench_err_count(cl->st->errs, rv);
		cl->i++;
	}
}

/* Opens the handles (handle h starts at endpoint h) and gives client i handle i % conns. */
static int kv_open(struct kv_run *run, uv_loop_t *loop)
{
	const struct kv_config *cfg = run->cfg;
	const char *eps[BENCH_MAX_ENDPOINTS];
	char err[BERTH_ERRMSG_BYTES];
	uint64_t per = (cfg->clients + cfg->conns - 1) / cfg->conns;
	struct berth_async_limits lim = {.sessions = (uint32_t)per};
	for (uint64_t h = 0; h < cfg->conns; h++) {
		for (size_t i = 0; i < cfg->nendpoints; i++)
			eps[i] = cfg->endpoints[(i + h) % cfg->nendpoints];
		struct berth_options o = {.endpoints = eps, .nendpoints = cfg->nendpoints};
		int rv = berth_async_open(&run->handles[h], loop, &o, &lim, err, sizeof(err));
		if (rv != 0) {
			fprintf(stderr, "berth-bench kv: %s: %s\n", err_name(rv), err);
			return BENCH_EXIT_FAIL;
		}
	}
	for (uint64_t i = 0; i < cfg->clients; i++)
		run->clients[i].a = run->handles[i % cfg->conns];
	return 0;
}

int kv_async_run(const struct kv_config *cfg, struct kv_stats *st)
{
	struct kv_run run = {.cfg = cfg};
	uv_loop_t loop;
	int rv = BENCH_EXIT_FAIL;

	run.clients = calloc(cfg->clients, sizeof(*run.clients));
	run.handles = calloc(cfg->conns, sizeof(*run.handles));
	run.val = malloc(cfg->value_bytes ? cfg->value_bytes : 1);
	if (run.clients == NULL || run.handles == NULL || run.val == NULL ||
	    uv_loop_init(&loop) != 0) {
		fprintf(stderr, "berth-bench kv: out of memory\n");
		goto out;
	}
	memset(run.val, 'v', cfg->value_bytes);
	for (uint64_t i = 0; i < cfg->clients; i++)
		run.clients[i] = (struct kv_client){.run = &run, .id = (unsigned)i, .st = &st[i]};
	if ((rv = kv_open(&run, &loop)) == 0)
		for (uint64_t i = 0; i < cfg->clients; i++)
			kv_setup_step(&run.clients[i]);
	else
		kv_close_all(&run);
	uv_run(&loop, UV_RUN_DEFAULT); /* until every handle is closed */
	uv_loop_close(&loop);
out:
	free(run.clients);
	free(run.handles);
	free(run.val);
	return rv;
}
