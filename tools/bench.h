/* tools/bench.h: berth-bench's shared parts: the clock, latency records, error counts,
 * summaries and option parsing, and the entry point of each subcommand.
 *
 * berth-bench talks to the store only through libberth (never store/ internals). Every
 * subcommand returns the process exit status: 0 done, 1 the benchmark failed (cluster
 * unreachable, setup failed), 2 a bad command line (a message names the option). */
#ifndef BERTH_TOOLS_BENCH_H
#define BERTH_TOOLS_BENCH_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2
#define BENCH_MAX_ENDPOINTS 16
/* Error counts: one slot per BERTH_E* code (code - BERTH_ERR_BASE), slot 0 for others. */
#define BENCH_ERR_SLOTS 64

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* One thread's latencies (nanoseconds), grown on demand. */
struct bench_lat {
	uint64_t *ns; /* owned */
	size_t n;
	size_t cap;
};
/* 0 or BERTH_ENOMEM. */
int bench_lat_add(struct bench_lat *l, uint64_t ns);
void bench_lat_free(struct bench_lat *l);

/* Latency percentiles over every thread's records, in microseconds. */
struct bench_summary {
	size_t n;
	double p50_us, p90_us, p99_us, max_us;
};
/* Merges and sorts n arrays; 0 or BERTH_ENOMEM. An empty input gives zeros. */
int bench_summarize(const struct bench_lat *lats, size_t n, struct bench_summary *s);

/* Counts failures by code. */
void bench_err_count(uint64_t *slots, int code);
/* Writes "none" or "BERTH_ETIMEOUT=3 BERTH_EBUSY=1" into buf. */
void bench_err_format(const uint64_t *slots, char *buf, size_t len);
/* The same as a JSON object {"BERTH_ETIMEOUT": 3}. */
void bench_err_json(const uint64_t *slots, char *buf, size_t len);
uint64_t bench_err_total(const uint64_t *slots);

/* Option values: 0, or BENCH_EXIT_USAGE after printing "berth-bench CMD: --opt: ..." */
int bench_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
		    uint64_t *out);
int bench_parse_secs(const char *cmd, const char *opt, const char *s, double *out);
/* Splits a comma-separated list in place (s is modified) into at most
 * BENCH_MAX_ENDPOINTS entries. */
int bench_parse_endpoints(const char *cmd, char *s, const char **out, size_t *n);

/* The subcommands (argv[0] is the subcommand's name). */
int bench_kv_main(int argc, char **argv);
int bench_failover_main(int argc, char **argv);
int bench_fsync_main(int argc, char **argv);
int bench_sched_main(int argc, char **argv);

#endif
