/* tools/bench.c: the berth-bench program: subcommand dispatch, the shared helpers of
 * tools/bench.h, and `fsync`, the physical floor of a commit (write + fdatasync).
 *
 *   berth-bench kv ...        client cases against a running cluster (tools/bench_kv.c)
 *   berth-bench failover ...  leader kill to next acknowledged write (tools/bench_failover.c)
 *   berth-bench fsync ...     4 KiB write + fdatasync latency in a folder
 *   berth-bench sched ...     K berth-workers placing M tasks on N instances
 *                             (tools/bench_sched.c)
 *
 * docs/performance.md explains what each figure means. */
#include "tools/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_lat_add(struct bench_lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		uint64_t *p = realloc(l->ns, cap * sizeof(*p));
		if (p == NULL)
			return BERTH_ENOMEM;
		l->ns = p;
		l->cap = cap;
	}
	l->ns[l->n++] = ns;
	return 0;
}

void bench_lat_free(struct bench_lat *l)
{
	free(l->ns);
	*l = (struct bench_lat){0};
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p of the records at or below it. */
static double rank_us(const uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

int bench_summarize(const struct bench_lat *lats, size_t n, struct bench_summary *s)
{
	size_t total = 0, at = 0;
	*s = (struct bench_summary){0};
	for (size_t i = 0; i < n; i++)
		total += lats[i].n;
	if (total == 0)
		return 0;
	uint64_t *all = malloc(total * sizeof(*all));
	if (all == NULL)
		return BERTH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(all + at, lats[i].ns, lats[i].n * sizeof(*all));
		at += lats[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u64);
	s->n = total;
	s->p50_us = rank_us(all, total, 0.50);
	s->p90_us = rank_us(all, total, 0.90);
	s->p99_us = rank_us(all, total, 0.99);
	s->max_us = (double)all[total - 1] / 1000.0;
	free(all);
	return 0;
}

void bench_err_count(uint64_t *slots, int code)
{
	int i = code - BERTH_ERR_BASE;
	slots[i > 0 && i < BENCH_ERR_SLOTS && err_known(code) ? i : 0]++;
}

uint64_t bench_err_total(const uint64_t *slots)
{
	uint64_t t = 0;
	for (int i = 0; i < BENCH_ERR_SLOTS; i++)
		t += slots[i];
	return t;
}

static void err_list(const uint64_t *slots, char *buf, size_t len, bool json)
{
	size_t at = 0;
	buf[0] = '\0';
	for (int i = 0; i < BENCH_ERR_SLOTS && at < len; i++) {
		if (slots[i] == 0)
			continue;
		const char *name = i == 0 ? "other" : err_name(BERTH_ERR_BASE + i);
		int w = snprintf(buf + at, len - at, json ? "%s\"%s\": %llu" : "%s%s=%llu",
				 at ? (json ? ", " : " ") : "", name, (unsigned long long)slots[i]);
		if (w < 0)
			break;
		at += (size_t)w;
	}
	if (!json && at == 0)
		snprintf(buf, len, "none");
}

void bench_err_format(const uint64_t *slots, char *buf, size_t len)
{
	err_list(slots, buf, len, false);
}

void bench_err_json(const uint64_t *slots, char *buf, size_t len)
{
	char inner[1024];
	err_list(slots, inner, sizeof(inner), true);
	snprintf(buf, len, "{%s}", inner);
}

int bench_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t min, uint64_t max,
		    uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] == '\0' || s[0] == '-' || *end != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr,
			"berth-bench %s: --%s: expected an integer in %llu..%llu, got \"%s\"\n",
			cmd, opt, (unsigned long long)min, (unsigned long long)max, s);
		return BENCH_EXIT_USAGE;
	}
	*out = v;
	return 0;
}

int bench_parse_secs(const char *cmd, const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || !(v > 0.0 && v <= 86400.0)) {
		fprintf(stderr,
			"berth-bench %s: --%s: expected seconds in (0, 86400], got \"%s\"\n", cmd,
			opt, s);
		return BENCH_EXIT_USAGE;
	}
	*out = v;
	return 0;
}

int bench_parse_endpoints(const char *cmd, char *s, const char **out, size_t *n)
{
	*n = 0;
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == BENCH_MAX_ENDPOINTS) {
			fprintf(stderr, "berth-bench %s: --endpoints: more than %d endpoints\n",
				cmd, BENCH_MAX_ENDPOINTS);
			return BENCH_EXIT_USAGE;
		}
		out[(*n)++] = tok;
	}
	if (*n == 0) {
		fprintf(stderr, "berth-bench %s: --endpoints: no endpoint given\n", cmd);
		return BENCH_EXIT_USAGE;
	}
	return 0;
}

/* fsync: what one durable append costs on this disk; every raft commit pays it at least
 * once (the leader's log append, and a follower's before it acknowledges). */
int bench_fsync_main(int argc, char **argv)
{
	static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
					     {"dir", required_argument, NULL, 'd'},
					     {"bytes", required_argument, NULL, 'b'},
					     {"overwrite", no_argument, NULL, 'o'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	uint64_t count = 1000, bytes = 4096;
	const char *dir = "build";
	bool overwrite = false, json = false;
	int c, rv;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if ((rv = bench_parse_u64("fsync", "count", optarg, 1, 1000000, &count)))
				return rv;
			break;
		case 'b':
			if ((rv = bench_parse_u64("fsync", "bytes", optarg, 1, 1 << 24, &bytes)))
				return rv;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'o':
			overwrite = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: berth-bench fsync [--count 1000] [--bytes 4096] [--dir build] "
			       "[--overwrite] [--json]\n");
			return 0;
		default:
			return BENCH_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "berth-bench fsync: unexpected argument \"%s\"\n", argv[optind]);
		return BENCH_EXIT_USAGE;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/bench-fsync.%ld", dir, (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		fprintf(stderr, "berth-bench fsync: open %s: %s\n", path, strerror(errno));
		return BENCH_EXIT_FAIL;
	}
	unlink(path); /* gone when closed, also if we are killed */
	char *buf = malloc(bytes);
	struct bench_lat lat = {0};
	struct bench_summary s;
	rv = BENCH_EXIT_FAIL;
	if (buf == NULL)
		goto err_after_open;
	memset(buf, 'x', bytes);
	for (uint64_t i = 0; i < count; i++) {
		off_t off = overwrite ? 0 : (off_t)(i * bytes);
		uint64_t t0 = bench_now_ns();
		if (pwrite(fd, buf, bytes, off) != (ssize_t)bytes || fdatasync(fd) != 0) {
			fprintf(stderr, "berth-bench fsync: %s: %s\n", path, strerror(errno));
			goto err_after_buf;
		}
		if (bench_lat_add(&lat, bench_now_ns() - t0) != 0)
			goto err_after_buf;
	}
	if (bench_summarize(&lat, 1, &s) != 0)
		goto err_after_buf;
	const char *mode = overwrite ? "overwrite" : "append";
	if (json)
		printf("{\"case\": \"fsync\", \"mode\": \"%s\", \"bytes\": %llu, \"count\": %zu, "
		       "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n",
		       mode, (unsigned long long)bytes, s.n, s.p50_us, s.p90_us, s.p99_us,
		       s.max_us);
	else
		printf("fsync %s %llu B x %zu in %s: p50 %.0f us  p90 %.0f us  p99 %.0f us  max "
		       "%.0f us\n",
		       mode, (unsigned long long)bytes, s.n, dir, s.p50_us, s.p90_us, s.p99_us,
		       s.max_us);
	rv = 0;
err_after_buf:
	bench_lat_free(&lat);
	free(buf);
err_after_open:
	close(fd);
	return rv;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berth-bench kv|failover|fsync|sched [options]   (--help after each)\n"
		"  kv        client cases against a running cluster: put, get-lin, get-ser,\n"
		"            cas-distinct, cas-hot; throughput, latency p50/p90/p99/max, errors\n"
		"  failover  SIGKILL the leader under writes (tools/berth-cluster): time to the\n"
		"            next acknowledged write, catch-up of the restarted member\n"
		"  fsync     4 KiB write + fdatasync latency: the physical floor of a commit\n"
		"  sched     K berth-workers place M tasks on N instances: placements/s,\n"
		"            time to place, conflicts per commit, placement quality\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return BENCH_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "kv") == 0)
		return bench_kv_main(argc - 1, argv + 1);
	if (strcmp(cmd, "failover") == 0)
		return bench_failover_main(argc - 1, argv + 1);
	if (strcmp(cmd, "fsync") == 0)
		return bench_fsync_main(argc - 1, argv + 1);
	if (strcmp(cmd, "sched") == 0)
		return bench_sched_main(argc - 1, argv + 1);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "berth-bench: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return BENCH_EXIT_USAGE;
}
