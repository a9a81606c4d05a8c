/* tools/bench_kv.c: `berth-bench kv`: N clients run one case for a duration or a request
 * count against a running cluster: threads with blocking handles (tools/bench_kv_threads.c)
 * or, with --conns, one libuv loop sharing asynchronous handles (tools/bench_kv_async.c).
 *
 * Cases (keys --key-bytes long, values --value-bytes, as etcd's benchmark: 8 and 256):
 *   put           puts, each thread cycling over its own keys
 *   get-lin       linearizable gets of keys the thread wrote in a setup phase
 *   get-ser       serializable gets of the same (any member answers)
 *   cas-distinct  txn: compare the version of one of the thread's own keys, then put
 *   cas-hot       every thread CASes one key: compare version = the last seen; a failed
 *                 compare reads the current version back (same txn) and counts a conflict
 * The --row and --json formats are also what tools/etcd-bench (the same cases against
 * etcd) prints, so that tools/bench-compare lines the two up.
 * Each request's latency (monotonic clock) goes into a per-thread array; the summary gives
 * requests/s (successes/s for cas-hot), p50/p90/p99/max and the failures by code.
 * Handles start rotated over the endpoints so serializable reads spread. Here: the options,
 * the requests both drivers build the same way, and the report. */
#include "tools/bench_kv.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kv_case_names[KV_CASE_COUNT] = {"put", "get-lin", "get-ser",
							 "cas-distinct", "cas-hot"};

void kv_key(const struct kv_config *cfg, unsigned t, unsigned i, char *out)
{
	char tail[9];
	snprintf(tail, sizeof(tail), "%03x%05x", t & 0xfff, i & 0xfffff);
	size_t pad = cfg->key_bytes - 8;
	memset(out, 'k', pad);
	memcpy(out + pad, tail, 8);
}

unsigned kv_setup_count(const struct kv_config *cfg)
{
	return cfg->kcase == KV_GET_LIN || cfg->kcase == KV_GET_SER ? KV_READ_KEYS : 1;
}

unsigned kv_setup_slot(const struct kv_config *cfg, unsigned n)
{
	return kv_setup_count(cfg) == 1 ? KV_SLOT_SETUP : n;
}

unsigned kv_setup_reads(const struct kv_config *cfg)
{
	return cfg->kcase == KV_CAS_DISTINCT ? KV_CAS_KEYS : cfg->kcase == KV_CAS_HOT;
}

void kv_cas_key(const struct kv_config *cfg, unsigned t, unsigned n, char *out)
{
	if (cfg->kcase == KV_CAS_HOT)
		kv_key(cfg, KV_HOT_CLIENT, KV_HOT_SLOT, out);
	else
		kv_key(cfg, t, KV_SLOT_CAS + n, out);
}

void kv_limits(const struct kv_config *cfg, unsigned id, uint64_t t_start_ns, uint64_t *quota,
	       uint64_t *deadline_ns)
{
	*quota = cfg->requests ? cfg->requests / cfg->clients + (id < cfg->requests % cfg->clients)
			       : UINT64_MAX;
	*deadline_ns = cfg->requests ? UINT64_MAX : t_start_ns + (uint64_t)(cfg->duration_s * 1e9);
}

void kv_cas_build(struct kv_cas *c, const struct kv_config *cfg, const char *key, const char *val,
		  int64_t version)
{
	c->cmp = (struct msg_compare){.target = MSG_CMP_VERSION,
				      .op = MSG_EQ,
				      .key = {(const uint8_t *)key, cfg->key_bytes},
				      .num = version};
	c->put = (struct msg_op){.type = MSG_OP_PUT,
				 .key = c->cmp.key,
				 .value = {(const uint8_t *)val, cfg->value_bytes}};
	c->get = (struct msg_op){.type = MSG_OP_RANGE, .key = c->cmp.key};
	c->txn = (struct msg_txn){.ncmp = 1,
				  .nsucc = 1,
				  .nfail = 1,
				  .cmp = &c->cmp,
				  .succ = &c->put,
				  .fail = &c->get};
}

bool kv_cas_answer(const struct berth_result *res, int64_t *version)
{
	if (res->resp.reply.succeeded) {
		(*version)++;
		return true;
	}
	const struct reply_kv *kv = berth_result_kv(res);
	*version = kv ? kv->version : 0;
	return false;
}

static void kv_report(const struct kv_config *cfg, struct kv_stats *th)
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
	/* Connections: the threads driver opens one per client. */
	unsigned long long conns = cfg->conns ? cfg->conns : cfg->clients;
	char ebuf[1024];
	if (cfg->json) {
		bench_err_json(errs, ebuf, sizeof(ebuf));
		printf("{\"case\": \"%s\", \"clients\": %llu, \"conns\": %llu, \"requests\": %zu, "
		       "\"ok\": %llu, \"seconds\": %.3f, \"ok_per_s\": %.1f, \"p50_us\": %.1f, "
		       "\"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"conflicts\": %llu, "
		       "\"conflicts_per_success\": %.3f, \"errors\": %s}\n",
		       name, (unsigned long long)cfg->clients, conns, s.n, (unsigned long long)ok,
		       secs, rate, s.p50_us, s.p90_us, s.p99_us, s.max_us,
		       (unsigned long long)conflicts, cfrac, ebuf);
		return;
	}
	bench_err_format(errs, ebuf, sizeof(ebuf));
	char conf[64] = "-";
	if (cfg->kcase == KV_CAS_HOT)
		snprintf(conf, sizeof(conf), "%.2f", cfrac);
	if (cfg->row) { /* one line of the `make bench-kv` table (tools/bench-kv) */
		printf("%-13s %7llu %5llu %9.0f %9.2f %9.2f %9.2f %9.2f %10s  %s\n", name,
		       (unsigned long long)cfg->clients, conns, rate, s.p50_us / 1000,
		       s.p90_us / 1000, s.p99_us / 1000, s.max_us / 1000, conf, ebuf);
		return;
	}
	printf("kv %s, %llu clients", name, (unsigned long long)cfg->clients);
	if (cfg->conns > 0)
		printf(" on one loop, %llu connections", (unsigned long long)cfg->conns);
	printf(": %zu requests in %.2f s, %llu succeeded: %.0f/s\n", s.n, secs,
	       (unsigned long long)ok, rate);
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
		"usage: berth-bench kv [--endpoints A,B,C] [--clients 1] [--conns N] [--duration 5 "
		"| --requests N]\n"
		"         [--value-bytes 256] [--key-bytes 8]\n"
		"         [--case put|get-lin|get-ser|cas-distinct|cas-hot] [--json | --row]\n"
		"  --requests N is the total over all clients; otherwise each runs --duration s.\n"
		"  Each client is a thread with its own blocking handle; with --conns N they run on\n"
		"  one libuv loop instead, sharing N asynchronous handles (N <= --clients).\n"
		"  --clients: at most %d with --conns, %d without.\n"
		"  Endpoints default to 127.0.0.1:7101,7102,7103.\n",
		KV_MAX_CLIENTS, KV_MAX_THREADS);
}

static int kv_parse(int argc, char **argv, struct kv_config *cfg, char *epbuf, size_t eplen)
{
	static const struct option opts[] = {{"endpoints", required_argument, NULL, 'e'},
					     {"clients", required_argument, NULL, 'c'},
					     {"conns", required_argument, NULL, 'o'},
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
		case 'o':
			rv = bench_parse_u64("kv", "conns", optarg, 1, KV_MAX_CLIENTS, &cfg->conns);
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
	if (cfg->conns == 0 && cfg->clients > KV_MAX_THREADS) {
		fprintf(stderr,
			"berth-bench kv: --clients: more than %d clients need --conns (one thread "
			"each otherwise)\n",
			KV_MAX_THREADS);
		return BENCH_EXIT_USAGE;
	}
	if (cfg->conns > cfg->clients) {
		fprintf(stderr, "berth-bench kv: --conns: at most --clients (%llu)\n",
			(unsigned long long)cfg->clients);
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

	struct kv_stats *st = calloc(cfg.clients, sizeof(*st));
	if (st == NULL) {
		fprintf(stderr, "berth-bench kv: out of memory\n");
		return BENCH_EXIT_FAIL;
	}
	rv = cfg.conns > 0 ? kv_async_run(&cfg, st) : kv_threads_run(&cfg, st);
	for (uint64_t i = 0; rv == 0 && i < cfg.clients; i++) {
		if (st[i].setup_err != 0) {
			fprintf(stderr, "berth-bench kv: client %llu: setup failed: %s: %s\n",
				(unsigned long long)i, err_name(st[i].setup_err), st[i].errmsg);
			rv = BENCH_EXIT_FAIL;
		}
	}
	if (rv == 0)
		kv_report(&cfg, st);
	for (uint64_t i = 0; i < cfg.clients; i++)
		bench_lat_free(&st[i].lat);
	free(st);
	return rv;
}
