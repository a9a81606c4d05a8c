/* tests/bench/bench_fsm.c: apply throughput of the state machine (make bench-fsm).
 *
 * Encodes N commands up front, then applies them to a fresh database and reports
 * transactions per second, for three commands (a put; a compare-and-swap txn; a txn of 10
 * puts) and two ways of committing (one LMDB write transaction per entry, or one per
 * batch of entries), each repeated --runs times; the table shows medians. It lives under
 * tests/ because tools/ may not include store internals. */
#include "common/err.h"
#include "common/msg.h"
#include "store/fsm.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum bench_case { BENCH_PUT, BENCH_CAS, BENCH_TXN10, BENCH_NCASES };
static const char *bench_case_names[] = {"put", "cas-txn", "txn-10-puts"};

struct bench_opts {
	uint64_t entries;
	unsigned runs;
	unsigned batch;
	enum kv_sync sync;
	size_t value_bytes;
};

struct bench_cmd {
	uint8_t *p;
	size_t n;
};

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Command i of a case. Keys cycle over 10,000 names so the database stays realistic. */
static struct bench_cmd bench_encode(enum bench_case c, uint64_t i, const uint8_t *value, size_t vn)
{
	char keys[10][32];
	struct msg_op ops[10];
	struct msg_compare cmp;
	struct msg_cmd cmd = {.type = MSG_CMD_TXN, .time_ms = 1000 + i};
	unsigned nops = c == BENCH_TXN10 ? 10 : 1;
	for (unsigned j = 0; j < nops; j++) {
		int kn = snprintf(keys[j], sizeof(keys[j]), "/bench/%06llu",
				  (unsigned long long)((i * nops + j) % 10000));
		ops[j] = (struct msg_op){.type = MSG_OP_PUT,
					 .key = {(const uint8_t *)keys[j], (size_t)kn},
					 .value = {value, vn}};
	}
	cmd.txn.succ = ops;
	cmd.txn.nsucc = nops;
	if (c == BENCH_CAS) {
		/* Compare-and-swap on the version the key has at this point of the run. */
		cmp = (struct msg_compare){.target = MSG_CMP_VERSION,
					   .op = MSG_EQ,
					   .key = ops[0].key,
					   .num = (int64_t)(i / 10000)};
		cmd.txn.cmp = &cmp;
		cmd.txn.ncmp = 1;
	}
	struct mp_buf b;
	mp_buf_init(&b);
	msg_cmd_encode(&b, &cmd);
	static const uint8_t zero[8];
	mp_buf_append(&b, zero, (8 - b.len % 8) % 8);
	if (mp_buf_error(&b)) {
		fprintf(stderr, "bench-fsm: out of memory encoding\n");
		exit(1);
	}
	struct bench_cmd out;
	out.p = mp_buf_take(&b, &out.n);
	return out;
}

/* One run: a fresh database, every command applied; returns transactions per second. */
static double bench_run(const struct bench_opts *o, const struct bench_cmd *cmds, int *failed)
{
	char dir[] = "/tmp/berth-bench-XXXXXX";
	struct fsm f;
	struct fsm_config cfg;
	struct mp_buf out;
	if (mkdtemp(dir) == NULL) {
		perror("bench-fsm: mkdtemp");
		exit(1);
	}
	fsm_config_default(&cfg);
	cfg.sync = o->sync;
	cfg.map_bytes = (size_t)8 << 30;
	if (fsm_open(&f, dir, &cfg) != 0) {
		fprintf(stderr, "bench-fsm: %s\n", f.errmsg);
		exit(1);
	}
	mp_buf_init(&out);
	double t0 = bench_now();
	int rv = 0;
	for (uint64_t i = 0; i < o->entries && rv == 0;) {
		rv = fsm_batch_begin(&f);
		for (unsigned j = 0; j < o->batch && i < o->entries && rv == 0; j++, i++) {
			mp_buf_reset(&out);
			rv = fsm_apply(&f, i + 1, cmds[i].p, cmds[i].n, &out);
		}
		if (rv == 0)
			rv = fsm_batch_commit(&f);
		else
			fsm_batch_abort(&f);
	}
	double secs = bench_now() - t0;
	if (rv != 0 || fsm_applied(&f) != o->entries) {
		fprintf(stderr, "bench-fsm: apply failed: %s %s\n", err_name(rv), f.kv.errmsg);
		*failed = 1;
	}
	mp_buf_close(&out);
	fsm_close(&f);
	nftw(dir, bench_rm, 16, FTW_DEPTH | FTW_PHYS);
	return (double)o->entries / secs;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void bench_usage(FILE *to)
{
	fprintf(to,
		"usage: bench-fsm [--entries N] [--runs R] [--batch B] [--sync full|nometa|none]\n"
		"                 [--value-bytes V]\n"
		"  Defaults: 20000 entries, 5 runs, batch 256, sync nometa, 256-byte values.\n"
		"  Each case runs with one LMDB write transaction per entry and per batch of B.\n");
}

int main(int argc, char **argv)
{
	struct bench_opts o = {20000, 5, 256, KV_SYNC_NOMETA, 256};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		unsigned long long n = v ? strtoull(v, &end, 10) : 0;
		bool num_ok = v && *v && end && *end == 0 && n > 0;
		if (!strcmp(a, "--help")) {
			bench_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--entries") && num_ok && n <= 10000000) {
			o.entries = n;
		} else if (!strcmp(a, "--runs") && num_ok && n <= 101) {
			o.runs = (unsigned)n;
		} else if (!strcmp(a, "--batch") && num_ok && n <= 1000000) {
			o.batch = (unsigned)n;
		} else if (!strcmp(a, "--value-bytes") && v && end && *end == 0 && n <= 1 << 20) {
			o.value_bytes = (size_t)n;
		} else if (!strcmp(a, "--sync") && v && !strcmp(v, "full")) {
			o.sync = KV_SYNC_FULL;
		} else if (!strcmp(a, "--sync") && v && !strcmp(v, "nometa")) {
			o.sync = KV_SYNC_NOMETA;
		} else if (!strcmp(a, "--sync") && v && !strcmp(v, "none")) {
			o.sync = KV_SYNC_NONE;
		} else {
			fprintf(stderr, "bench-fsm: bad option or value: %s %s\n", a, v ? v : "");
			bench_usage(stderr);
			return 2;
		}
		i++;
	}
	uint8_t *value = malloc(o.value_bytes ? o.value_bytes : 1);
	struct bench_cmd *cmds = calloc(o.entries, sizeof(*cmds));
	double *rates = calloc(o.runs, sizeof(*rates));
	if (value == NULL || cmds == NULL || rates == NULL) {
		fprintf(stderr, "bench-fsm: out of memory\n");
		return 1;
	}
	memset(value, 'v', o.value_bytes);
	static const char *sync_names[] = {"full", "nometa", "none"};
	printf("bench-fsm: %llu entries per run, %u runs (median), %zu-byte values, sync %s\n",
	       (unsigned long long)o.entries, o.runs, o.value_bytes, sync_names[o.sync]);
	printf("%-12s %16s %16s %8s\n", "command", "txn/s batch=1", "txn/s batch=B", "ratio");
	int failed = 0;
	for (int c = 0; c < BENCH_NCASES; c++) {
		for (uint64_t i = 0; i < o.entries; i++)
			cmds[i] = bench_encode((enum bench_case)c, i, value, o.value_bytes);
		double med[2];
		unsigned batches[2] = {1, o.batch};
		for (int b = 0; b < 2; b++) {
			struct bench_opts ob = o;
			ob.batch = batches[b];
			for (unsigned r = 0; r < o.runs; r++)
				rates[r] = bench_run(&ob, cmds, &failed);
			qsort(rates, o.runs, sizeof(*rates), bench_cmp_double);
			med[b] = rates[o.runs / 2];
		}
		printf("%-12s %16.0f %16.0f %7.1fx\n", bench_case_names[c], med[0], med[1],
		       med[1] / med[0]);
		fflush(stdout);
		for (uint64_t i = 0; i < o.entries; i++)
			free(cmds[i].p);
	}
	printf("(B = %u entries per LMDB write transaction)\n", o.batch);
	free(value);
	free(cmds);
	free(rates);
	return failed;
}
