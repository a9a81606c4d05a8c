/* tools/bench_kv.c: `berth-bench kv`: N client threads, each with its own libberth
 * handle, run one case for a duration or a request count against a running cluster.
 *
 * Cases (keys --key-bytes long, values --value-bytes, as etcd's benchmark: 8 and 256):
 *   put           puts, each thread cycling over its own keys
 *   get-lin       linearizable gets of keys the thread wrote in a setup phase
 *   get-ser       serializable gets of the same (any member answers)
 *   cas-distinct  txn: compare the version of one of the thread's own keys, then put
 *   cas-hot       every thread CASes one key: compare version = the last seen; a failed
 *                 compare reads the current version back (same txn) and counts a conflict
 * Each request's latency (monotonic clock) goes into a per-thread array; the summary gives
 * requests/s (successes/s for cas-hot), p50/p90/p99/max and the failures by code.
 * Threads start their handles rotated over the endpoints so serializable reads spread. */
#include "client/berth.h"
#include "tools/bench.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_MAX_CLIENTS 256
#define KV_KEYS_PER_THREAD 1000 /* put cycles over these */
#define KV_READ_KEYS 16         /* get: written in setup, per thread */
#define KV_CAS_KEYS 16          /* cas-distinct: per thread */

enum kv_case { KV_PUT, KV_GET_LIN, KV_GET_SER, KV_CAS_DISTINCT, KV_CAS_HOT, KV_CASE_COUNT };
static const char *const kv_case_names[KV_CASE_COUNT] = {"put", "get-lin", "get-ser",
							 "cas-distinct", "cas-hot"};

struct kv_config {
	const char *endpoints[BENCH_MAX_ENDPOINTS];
	size_t nendpoints;
	uint64_t clients, requests, value_bytes, key_bytes;
	double duration_s;
	enum kv_case kcase;
	bool json, row;
};

struct kv_thread {
	const struct kv_config *cfg;
	pthread_barrier_t *start;
	unsigned id;
	int setup_err; /* 0, or why setup failed (then errmsg says more) */
	char errmsg[BERTH_ERRMSG_BYTES];
	uint64_t t_start, t_end;
	uint64_t ok, conflicts;
	uint64_t errs[BENCH_ERR_SLOTS];
	struct bench_lat lat;
};

/* Key i of thread t: "%02x%06x" (8 bytes), left-padded with 'k' to key_bytes. cas-hot's
 * one key uses thread 0xff's slot 0xffffff, which no other case writes. */
static void kv_key(const struct kv_config *cfg, unsigned t, unsigned i, char *out)
{
	char tail[9];
	snprintf(tail, sizeof(tail), "%02x%06x", t & 0xff, i & 0xffffff);
	size_t pad = cfg->key_bytes - 8;
	memset(out, 'k', pad);
	memcpy(out + pad, tail, 8);
}

static int kv_put_one(struct berth *b, struct kv_thread *th, const char *key, const char *val)
{
	struct berth_result r;
	int rv = berth_put(b, key, th->cfg->key_bytes, val, th->cfg->value_bytes, 0, &r);
	berth_result_free(&r);
	return rv;
}

/* One CAS: compare version(key) == *version, then put; otherwise get the key, whose
 * version becomes *version. 0 with *won set; or the call's error. */
static int kv_cas(struct berth *b, const struct kv_config *cfg, const char *key, const char *val,
		  int64_t *version, bool *won)
{
	struct msg_compare cmp = {.target = MSG_CMP_VERSION,
				  .op = MSG_EQ,
				  .key = {(const uint8_t *)key, cfg->key_bytes},
				  .num = *version};
	struct msg_op put = {.type = MSG_OP_PUT,
			     .key = cmp.key,
			     .value = {(const uint8_t *)val, cfg->value_bytes}};
	struct msg_op get = {.type = MSG_OP_RANGE, .key = cmp.key};
	struct msg_txn t = {
		.ncmp = 1, .nsucc = 1, .nfail = 1, .cmp = &cmp, .succ = &put, .fail = &get};
	struct berth_result r;
	int rv = berth_txn(b, &t, false, &r);
	if (rv == 0) {
		*won = r.resp.reply.succeeded;
		if (*won) {
			(*version)++;
		} else {
			const struct reply_kv *kv = berth_result_kv(&r);
			*version = kv ? kv->version : 0;
		}
	}
	berth_result_free(&r);
	return rv;
}

static int kv_setup(struct berth *b, struct kv_thread *th, const char *val)
{
	const struct kv_config *cfg = th->cfg;
	char key[1024];
	int rv = 0;
	switch (cfg->kcase) {
	case KV_PUT: /* connect and open the session outside the measured part */
	case KV_CAS_DISTINCT:
	case KV_CAS_HOT:
		kv_key(cfg, th->id, 0xfffffe, key);
		rv = kv_put_one(b, th, key, val);
		break;
	case KV_GET_LIN:
	case KV_GET_SER:
		for (unsigned i = 0; i < KV_READ_KEYS && rv == 0; i++) {
			kv_key(cfg, th->id, i, key);
			rv = kv_put_one(b, th, key, val);
		}
		break;
	default:
		break;
	}
	if (rv != 0)
		snprintf(th->errmsg, sizeof(th->errmsg), "%s", berth_errmsg(b));
	return rv;
}

static void *kv_thread_run(void *arg)
{
	struct kv_thread *th = arg;
	const struct kv_config *cfg = th->cfg;
	const char *eps[BENCH_MAX_ENDPOINTS];
	for (size_t i = 0; i < cfg->nendpoints; i++)
		eps[i] = cfg->endpoints[(i + th->id) % cfg->nendpoints];
	struct berth_options o = {.endpoints = eps, .nendpoints = cfg->nendpoints};
	struct berth *b = NULL;
	char *val = malloc(cfg->value_bytes);
	char key[1024];
	int64_t versions[KV_CAS_KEYS] = {0}, hot_version = 0;

	if (val == NULL)
		th->setup_err = BERTH_ENOMEM;
	else
		th->setup_err = berth_open(&b, &o, th->errmsg, sizeof(th->errmsg));
	if (th->setup_err == 0) {
		memset(val, 'v', cfg->value_bytes);
		th->setup_err = kv_setup(b, th, val);
	}
	pthread_barrier_wait(th->start);
	if (th->setup_err != 0)
		goto out;

	uint64_t quota = cfg->requests ? cfg->requests / cfg->clients +
						 (th->id < cfg->requests % cfg->clients)
				       : UINT64_MAX;
	th->t_start = bench_now_ns();
	uint64_t deadline =
		cfg->requests ? UINT64_MAX : th->t_start + (uint64_t)(cfg->duration_s * 1e9);
	for (uint64_t i = 0; i < quota; i++) {
		uint64_t t0 = bench_now_ns();
		if (t0 >= deadline)
			break;
		struct berth_result r;
		bool won = true;
		int rv;
		switch (cfg->kcase) {
		case KV_PUT:
			kv_key(cfg, th->id, (unsigned)(i % KV_KEYS_PER_THREAD), key);
			rv = kv_put_one(b, th, key, val);
			break;
		case KV_GET_LIN:
		case KV_GET_SER:
			kv_key(cfg, th->id, (unsigned)(i % KV_READ_KEYS), key);
			rv = berth_get(b, key, cfg->key_bytes, 0, cfg->kcase == KV_GET_SER, &r);
			if (rv == 0 && berth_result_kv(&r) == NULL)
				rv = BERTH_ENOTFOUND; /* setup wrote it: a lost write */
			berth_result_free(&r);
			break;
		case KV_CAS_DISTINCT: {
			unsigned k = (unsigned)(i % KV_CAS_KEYS);
			kv_key(cfg, th->id, 0x100000 + k, key);
			rv = kv_cas(b, cfg, key, val, &versions[k], &won);
			break;
		}
		default: /* KV_CAS_HOT */
			kv_key(cfg, 0xff, 0xffffff, key);
			rv = kv_cas(b, cfg, key, val, &hot_version, &won);
			break;
		}
		uint64_t t1 = bench_now_ns();
		if (bench_lat_add(&th->lat, t1 - t0) != 0) {
			bench_err_count(th->errs, BERTH_ENOMEM);
			break;
		}
		if (rv != 0)
			bench_err_count(th->errs, rv);
		else if (!won)
			th->conflicts++;
		else
			th->ok++;
	}
	th->t_end = bench_now_ns();
out:
	berth_close(b);
	free(val);
	return NULL;
}

static void kv_report(const struct kv_config *cfg, struct kv_thread *th)
{
	uint64_t ok = 0, conflicts = 0, errs[BENCH_ERR_SLOTS] = {0}, t0 = UINT64_MAX, t1 = 0;
	struct bench_lat *lats = calloc(cfg->clients, sizeof(*lats));
	struct bench_summary s = {0};
	for (uint64_t i = 0; i < cfg->clients; i++) {
		ok += th[i].ok;
		conflicts += th[i].conflicts;
		for (int k = 0; k < BENCH_ERR_SLOTS; k++)
			errs[k] += th[i].errs[k];
		t0 = th[i].t_start < t0 ? th[i].t_start : t0;
		t1 = th[i].t_end > t1 ? th[i].t_end : t1;
		if (lats)
			lats[i] = th[i].lat;
	}
	if (lats == NULL || bench_summarize(lats, cfg->clients, &s) != 0)
		fprintf(stderr, "berth-bench kv: out of memory: no percentiles\n");
	free(lats);
	double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	double rate = secs > 0 ? (double)ok / secs : 0;
	double cfrac = ok ? (double)conflicts / (double)ok : 0;
	const char *name = kv_case_names[cfg->kcase];
	char ebuf[1024];
	if (cfg->json) {
		bench_err_json(errs, ebuf, sizeof(ebuf));
		printf("{\"case\": \"%s\", \"clients\": %llu, \"requests\": %zu, \"ok\": %llu, "
		       "\"seconds\": %.3f, \"ok_per_s\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
		       "\"p99_us\": %.1f, \"max_us\": %.1f, \"conflicts\": %llu, "
		       "\"conflicts_per_success\": %.3f, \"errors\": %s}\n",
		       name, (unsigned long long)cfg->clients, s.n, (unsigned long long)ok, secs,
		       rate, s.p50_us, s.p90_us, s.p99_us, s.max_us, (unsigned long long)conflicts,
		       cfrac, ebuf);
		return;
	}
	bench_err_format(errs, ebuf, sizeof(ebuf));
	char conf[64] = "-";
	if (cfg->kcase == KV_CAS_HOT)
		snprintf(conf, sizeof(conf), "%.2f", cfrac);
	if (cfg->row) { /* one line of the `make bench-kv` table (tools/bench-kv) */
		printf("%-13s %7llu %9.0f %9.2f %9.2f %9.2f %9.2f %10s  %s\n", name,
		       (unsigned long long)cfg->clients, rate, s.p50_us / 1000, s.p90_us / 1000,
		       s.p99_us / 1000, s.max_us / 1000, conf, ebuf);
		return;
	}
	printf("kv %s, %llu clients: %zu requests in %.2f s, %llu succeeded: %.0f/s\n", name,
	       (unsigned long long)cfg->clients, s.n, secs, (unsigned long long)ok, rate);
	printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", s.p50_us / 1000,
	       s.p90_us / 1000, s.p99_us / 1000, s.max_us / 1000);
	if (cfg->kcase == KV_CAS_HOT)
		printf("  conflicts: %llu (%.2f per success)\n", (unsigned long long)conflicts,
		       cfrac);
	printf("  errors: %s\n", ebuf);
}

static void kv_usage(FILE *f)
{
	fprintf(f,
		"usage: berth-bench kv [--endpoints A,B,C] [--clients 1] [--duration 5 | "
		"--requests N]\n"
		"         [--value-bytes 256] [--key-bytes 8]\n"
		"         [--case put|get-lin|get-ser|cas-distinct|cas-hot] [--json | --row]\n"
		"  --requests N is the total over all clients; otherwise each runs --duration s.\n"
		"  Endpoints default to 127.0.0.1:7101,7102,7103.\n");
}

static int kv_parse(int argc, char **argv, struct kv_config *cfg, char *epbuf, size_t eplen)
{
	static const struct option opts[] = {{"endpoints", required_argument, NULL, 'e'},
					     {"clients", required_argument, NULL, 'c'},
					     {"duration", required_argument, NULL, 'd'},
					     {"requests", required_argument, NULL, 'n'},
					     {"value-bytes", required_argument, NULL, 'v'},
					     {"key-bytes", required_argument, NULL, 'k'},
					     {"case", required_argument, NULL, 'C'},
					     {"json", no_argument, NULL, 'j'},
					     {"row", no_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	int c, rv;
	snprintf(epbuf, eplen, "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103");
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		rv = 0;
		switch (c) {
		case 'e':
			if (strlen(optarg) >= eplen) {
				fprintf(stderr, "berth-bench kv: --endpoints: too long\n");
				return BENCH_EXIT_USAGE;
			}
			snprintf(epbuf, eplen, "%s", optarg);
			break;
		case 'c':
			rv = bench_parse_u64("kv", "clients", optarg, 1, KV_MAX_CLIENTS,
					     &cfg->clients);
			break;
		case 'd':
			rv = bench_parse_secs("kv", "duration", optarg, &cfg->duration_s);
			break;
		case 'n':
			rv = bench_parse_u64("kv", "requests", optarg, 1, UINT32_MAX,
					     &cfg->requests);
			break;
		case 'v':
			rv = bench_parse_u64("kv", "value-bytes", optarg, 0, 1 << 20,
					     &cfg->value_bytes);
			break;
		case 'k':
			rv = bench_parse_u64("kv", "key-bytes", optarg, 8, 1000, &cfg->key_bytes);
			break;
		case 'C':
			cfg->kcase = KV_CASE_COUNT;
			for (int i = 0; i < KV_CASE_COUNT; i++)
				if (strcmp(optarg, kv_case_names[i]) == 0)
					cfg->kcase = (enum kv_case)i;
			if (cfg->kcase == KV_CASE_COUNT) {
				fprintf(stderr,
					"berth-bench kv: --case: unknown case \"%s\" (put, "
					"get-lin, get-ser, cas-distinct, cas-hot)\n",
					optarg);
				return BENCH_EXIT_USAGE;
			}
			break;
		case 'j':
			cfg->json = true;
			break;
		case 'r':
			cfg->row = true;
			break;
		case 'h':
			kv_usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "berth-bench kv: %s needs a value\n", argv[optind - 1]);
			return BENCH_EXIT_USAGE;
		default:
			fprintf(stderr, "berth-bench kv: unknown option \"%s\"\n",
				argv[optind - 1]);
			kv_usage(stderr);
			return BENCH_EXIT_USAGE;
		}
		if (rv != 0)
			return rv;
	}
	if (optind != argc) {
		fprintf(stderr, "berth-bench kv: unexpected argument \"%s\"\n", argv[optind]);
		return BENCH_EXIT_USAGE;
	}
	if (cfg->json && cfg->row) {
		fprintf(stderr, "berth-bench kv: --json and --row exclude each other\n");
		return BENCH_EXIT_USAGE;
	}
	return bench_parse_endpoints("kv", epbuf, cfg->endpoints, &cfg->nendpoints);
}

int bench_kv_main(int argc, char **argv)
{
	struct kv_config cfg = {.clients = 1, .duration_s = 5, .value_bytes = 256, .key_bytes = 8};
	char epbuf[4096];
	int rv = kv_parse(argc, argv, &cfg, epbuf, sizeof(epbuf));
	if (rv != 0)
		return rv;

	struct kv_thread *th = calloc(cfg.clients, sizeof(*th));
	pthread_t *tids = calloc(cfg.clients, sizeof(*tids));
	pthread_barrier_t start;
	uint64_t started = 0;
	rv = BENCH_EXIT_FAIL;
	if (th == NULL || tids == NULL || pthread_barrier_init(&start, NULL, cfg.clients) != 0) {
		fprintf(stderr, "berth-bench kv: out of memory\n");
		goto out;
	}
	for (; started < cfg.clients; started++) {
		th[started] =
			(struct kv_thread){.cfg = &cfg, .start = &start, .id = (unsigned)started};
		if (pthread_create(&tids[started], NULL, kv_thread_run, &th[started]) != 0)
			break;
	}
	if (started < cfg.clients) {
		/* The barrier counts every client: it cannot be passed now. */
		fprintf(stderr, "berth-bench kv: cannot start thread %llu\n",
			(unsigned long long)started);
		exit(BENCH_EXIT_FAIL);
	}
	for (uint64_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_barrier_destroy(&start);
	for (uint64_t i = 0; i < started; i++) {
		if (th[i].setup_err != 0) {
			fprintf(stderr, "berth-bench kv: client %llu: setup failed: %s: %s\n",
				(unsigned long long)i, err_name(th[i].setup_err), th[i].errmsg);
			goto out;
		}
	}
	kv_report(&cfg, th);
	rv = 0;
out:
	for (uint64_t i = 0; th != NULL && i < started; i++)
		bench_lat_free(&th[i].lat);
	free(th);
	free(tids);
	return rv;
}
