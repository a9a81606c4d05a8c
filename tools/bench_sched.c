/* tools/bench_sched.c: `berth-bench sched`: the options, the input (instances and tasks
 * written with the model's encoders, as berth-agent and `berthctl task run` write them),
 * the placement quality and the report. tools/bench_sched.h says what one run does;
 * docs/performance.md what the figures mean. */
#include "tools/bench_sched.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHED_INSTANCES_PER_TXN 64 /* two puts each: 128 operations */
#define SCHED_TASKS_PER_TXN 128
#define SCHED_LEASE_TTL_S 60

static uint64_t sched_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)(ts.tv_nsec / 1000000);
}

/* Sends a transaction of n puts; 0 or BENCH_EXIT_FAIL (printed). *rev: its revision. */
static int sched_put_all(struct sched_run *run, struct msg_op *ops, size_t n, const char *what,
			 uint64_t *rev)
{
	struct msg_txn txn = {.nsucc = (uint32_t)n, .succ = ops};
	struct berth_result r;
	int rv = berth_txn(run->b, &txn, false, &r);
	if (rv == 0 && r.resp.has_reply && r.resp.reply.succeeded && rev != NULL)
		*rev = r.resp.reply.rev;
	if (rv != 0 || !r.resp.has_reply || !r.resp.reply.succeeded)
		fprintf(stderr, "berth-bench sched: writing %s: %s: %s\n", what,
			err_name(rv ? rv : BERTH_EPROTO), berth_errmsg(run->b));
	berth_result_free(&r);
	return rv != 0 ? BENCH_EXIT_FAIL : 0;
}

/* Instance i: "i" and 6 digits, zone "zone-" + a letter round-robin, room for cfg->slots
 * tasks. */
static int sched_write_instances(struct sched_run *run)
{
	const struct sched_config *cfg = run->cfg;
	static char keys[2 * SCHED_INSTANCES_PER_TXN][MODEL_KEY_MAX];
	struct mp_buf vals[SCHED_INSTANCES_PER_TXN];
	struct msg_op ops[2 * SCHED_INSTANCES_PER_TXN];
	char id[32], zone[16], err[256];
	int rv = 0;
	for (uint64_t at = 0; at < cfg->instances && rv == 0; at += SCHED_INSTANCES_PER_TXN) {
		size_t n = 0;
		for (uint64_t i = at; i < cfg->instances && n < SCHED_INSTANCES_PER_TXN; i++, n++) {
			snprintf(id, sizeof(id), "i%06llu", (unsigned long long)i);
			snprintf(zone, sizeof(zone), "zone-%c", (char)('a' + i % cfg->zones));
			struct model_pair attr = {.name = "zone", .value = zone};
			struct model_instance in = {.id = id,
						    .cluster = (char *)cfg->cluster,
						    .cpu = (uint32_t)(cfg->slots * SCHED_TASK_CPU),
						    .memory =
							    (uint32_t)(cfg->slots * SCHED_TASK_MEM),
						    .attributes = &attr,
						    .nattributes = 1,
						    .status = MODEL_INSTANCE_ACTIVE,
						    .registered_ms = sched_now_ms(),
						    .lease = run->lease};
			mp_buf_init(&vals[n]);
			if (model_instance_encode(&in, &vals[n], err, sizeof(err)) != 0) {
				fprintf(stderr, "berth-bench sched: instance %s: %s\n", id, err);
				rv = BENCH_EXIT_FAIL;
				n++;
				break;
			}
			model_key_instance(keys[2 * n], cfg->cluster, id);
			model_key_alive(keys[2 * n + 1], cfg->cluster, id);
			ops[2 * n] = (struct msg_op){
				.type = MSG_OP_PUT,
				.key = {(const uint8_t *)keys[2 * n], strlen(keys[2 * n])},
				.value = {vals[n].data, vals[n].len}};
			ops[2 * n + 1] = (struct msg_op){
				.type = MSG_OP_PUT,
				.key = {(const uint8_t *)keys[2 * n + 1], strlen(keys[2 * n + 1])},
				.lease = run->lease};
		}
		if (rv == 0)
			rv = sched_put_all(run, ops, 2 * n, "instances", NULL);
		for (size_t j = 0; j < n; j++)
			mp_buf_close(&vals[j]);
	}
	return rv;
}

/* Task i: "t" and 7 digits, PROVISIONING, desired RUNNING, group family:bench. */
static int sched_write_tasks(struct sched_run *run)
{
	const struct sched_config *cfg = run->cfg;
	static char keys[SCHED_TASKS_PER_TXN][MODEL_KEY_MAX];
	struct mp_buf vals[SCHED_TASKS_PER_TXN];
	struct msg_op ops[SCHED_TASKS_PER_TXN];
	char id[32], err[256];
	int rv = 0;
	struct model_task t = {.cluster = (char *)cfg->cluster,
			       .family = "bench",
			       .revision = 1,
			       .cpu = SCHED_TASK_CPU,
			       .memory = SCHED_TASK_MEM,
			       .group = "family:bench",
			       .strategies = (struct model_strategy *)cfg->strategies,
			       .nstrategies = cfg->nstrategies,
			       .desired_status = MODEL_TASK_RUNNING,
			       .last_status = MODEL_TASK_PROVISIONING};
	run->first_write_ns = bench_now_ns();
	for (uint64_t at = 0; at < cfg->tasks && rv == 0; at += SCHED_TASKS_PER_TXN) {
		size_t n = 0;
		t.created_ms = t.updated_ms = sched_now_ms();
		for (uint64_t i = at; i < cfg->tasks && n < SCHED_TASKS_PER_TXN; i++, n++) {
			snprintf(id, sizeof(id), "t%07llu", (unsigned long long)i);
			t.id = id;
			mp_buf_init(&vals[n]);
			if (model_task_encode(&t, &vals[n], err, sizeof(err)) != 0) {
				fprintf(stderr, "berth-bench sched: task %s: %s\n", id, err);
				rv = BENCH_EXIT_FAIL;
				n++;
				break;
			}
			model_key_task(keys[n], cfg->cluster, id);
			ops[n] = (struct msg_op){.type = MSG_OP_PUT,
						 .key = {(const uint8_t *)keys[n], strlen(keys[n])},
						 .value = {vals[n].data, vals[n].len}};
		}
		uint64_t sent = bench_now_ns();
		for (size_t j = 0; j < n; j++)
			run->created_ns[at + j] = sent;
		if (rv == 0)
			rv = sched_put_all(run, ops, n, "tasks", &run->tasks_rev);
		for (size_t j = 0; j < n; j++)
			mp_buf_close(&vals[j]);
	}
	return rv;
}

/* Deletes every key of the cluster; 0 or BENCH_EXIT_FAIL (printed). */
static int sched_clean(struct sched_run *run)
{
	char prefix[MODEL_KEY_MAX];
	struct berth_result r;
	model_key_prefix(prefix, -1, run->cfg->cluster, NULL); /* the whole cluster */
	int rv = berth_delete(run->b, prefix, strlen(prefix), true, &r);
	if (rv != 0)
		fprintf(stderr, "berth-bench sched: deleting %s: %s: %s\n", prefix, err_name(rv),
			berth_errmsg(run->b));
	berth_result_free(&r);
	return rv != 0 ? BENCH_EXIT_FAIL : 0;
}

/* Instances used and the largest difference between zones, from where each task went. */
static void sched_quality(const struct sched_run *run, struct sched_result *res)
{
	const struct sched_config *cfg = run->cfg;
	uint64_t zone[SCHED_MAX_ZONES] = {0};
	uint8_t *used = calloc(cfg->instances, 1);
	if (used == NULL)
		return;
	for (uint64_t i = 0; i < cfg->tasks; i++) {
		if (run->placed_ns[i] == 0)
			continue;
		uint32_t in = run->on_instance[i];
		res->used += !used[in];
		used[in] = 1;
		zone[in % cfg->zones]++;
	}
	uint64_t lo = UINT64_MAX, hi = 0;
	for (uint64_t z = 0; z < cfg->zones; z++) {
		lo = zone[z] < lo ? zone[z] : lo;
		hi = zone[z] > hi ? zone[z] : hi;
	}
	res->zone_diff = hi - lo;
	free(used);
}

static void sched_report(const struct sched_config *cfg, const struct sched_result *r)
{
	double rate = r->seconds > 0 ? (double)r->placed / r->seconds : 0;
	double e2e = r->e2e_seconds > 0 ? (double)r->placed / r->e2e_seconds : 0;
	double frac = r->commits ? (double)r->conflicts / (double)r->commits : 0;
	if (cfg->row) { /* one line of the `make bench-sched` table (tools/bench-sched) */
		printf("%-7s %7llu %9.0f %9.0f %9.1f %9.1f %9llu %9llu %7.3f %8llu %9llu "
		       "%7llu/%llu\n",
		       cfg->conflict, (unsigned long long)cfg->workers, rate, e2e,
		       r->t.p50_us / 1000, r->t.p99_us / 1000, (unsigned long long)r->commits,
		       (unsigned long long)r->conflicts, frac, (unsigned long long)r->used,
		       (unsigned long long)r->zone_diff, (unsigned long long)r->placed,
		       (unsigned long long)cfg->tasks);
		return;
	}
	printf("sched %s, %llu workers, %llu instances (%llu zones, room for %llu tasks "
	       "each), %llu tasks, strategy %s\n",
	       cfg->conflict, (unsigned long long)cfg->workers, (unsigned long long)cfg->instances,
	       (unsigned long long)cfg->zones, (unsigned long long)cfg->slots,
	       (unsigned long long)cfg->tasks, cfg->strategy_text);
	printf("  placed %llu of %llu in %.2f s from the workers' start: %.0f placements/s\n",
	       (unsigned long long)r->placed, (unsigned long long)cfg->tasks, r->seconds, rate);
	printf("  end to end (from the first task write, %.2f s): %.0f placements/s\n",
	       r->e2e_seconds, e2e);
	printf("  time to place: p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms\n",
	       r->t.p50_us / 1000, r->t.p90_us / 1000, r->t.p99_us / 1000, r->t.max_us / 1000);
	printf("  commits %llu  conflicts %llu  conflict fraction %.3f  (workers reporting "
	       "%llu of %llu, placements %llu)\n",
	       (unsigned long long)r->commits, (unsigned long long)r->conflicts, frac,
	       (unsigned long long)r->workers_ok, (unsigned long long)cfg->workers,
	       (unsigned long long)r->placements_reported);
	printf("  quality: instances used %llu, largest difference between zones %llu\n",
	       (unsigned long long)r->used, (unsigned long long)r->zone_diff);
}

static void sched_usage(FILE *f)
{
	fprintf(f,
		"usage: berth-bench sched --endpoints H:P,... [--instances 10000] [--tasks 100000]\n"
		"         [--workers 1] [--conflict fine|coarse] [--zones 3] [--slots S]\n"
		"         [--strategy spread:attribute:zone --strategy binpack:memory ...]\n"
		"         [--batch N] [--max-inflight N] (given to the workers; default theirs)\n"
		"         [--cluster NAME] [--worker-bin PATH] [--timeout 600] [--row]\n");
}

static int sched_options(int argc, char **argv, struct sched_config *cfg)
{
	static const struct option opts[] = {{"endpoints", required_argument, NULL, 'e'},
					     {"instances", required_argument, NULL, 'n'},
					     {"tasks", required_argument, NULL, 'm'},
					     {"workers", required_argument, NULL, 'k'},
					     {"conflict", required_argument, NULL, 'c'},
					     {"zones", required_argument, NULL, 'z'},
					     {"slots", required_argument, NULL, 's'},
					     {"strategy", required_argument, NULL, 'S'},
					     {"cluster", required_argument, NULL, 'C'},
					     {"worker-bin", required_argument, NULL, 'w'},
					     {"timeout", required_argument, NULL, 't'},
					     {"batch", required_argument, NULL, 'b'},
					     {"max-inflight", required_argument, NULL, 'i'},
					     {"row", no_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	static char eps[1024];
	char err[256];
	int c, rv = 0;
	optind = 1;
	while (rv == 0 && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			snprintf(cfg->endpoint_list, sizeof(cfg->endpoint_list), "%s", optarg);
			snprintf(eps, sizeof(eps), "%s", optarg);
			rv = bench_parse_endpoints("sched", eps, cfg->endpoints, &cfg->nendpoints);
			break;
		case 'n':
			rv = bench_parse_u64("sched", "instances", optarg, 1, SCHED_MAX_INSTANCES,
					     &cfg->instances);
			break;
		case 'm':
			rv = bench_parse_u64("sched", "tasks", optarg, 1, SCHED_MAX_TASKS,
					     &cfg->tasks);
			break;
		case 'k':
			rv = bench_parse_u64("sched", "workers", optarg, 1, SCHED_MAX_WORKERS,
					     &cfg->workers);
			break;
		case 'z':
			rv = bench_parse_u64("sched", "zones", optarg, 1, SCHED_MAX_ZONES,
					     &cfg->zones);
			break;
		case 's':
			rv = bench_parse_u64("sched", "slots", optarg, 1,
					     MODEL_CPU_MAX / SCHED_TASK_CPU, &cfg->slots);
			break;
		case 'c':
			cfg->conflict = optarg;
			if (strcmp(optarg, "fine") != 0 && strcmp(optarg, "coarse") != 0) {
				fprintf(stderr,
					"berth-bench sched: --conflict: fine or coarse, got "
					"\"%s\"\n",
					optarg);
				rv = BENCH_EXIT_USAGE;
			}
			break;
		case 'S':
			if (cfg->nstrategies == MODEL_STRATEGIES_MAX) {
				fprintf(stderr, "berth-bench sched: --strategy: at most %d\n",
					MODEL_STRATEGIES_MAX);
				rv = BENCH_EXIT_USAGE;
			} else if (model_strategy_parse(optarg, &cfg->strategies[cfg->nstrategies],
							err, sizeof(err)) != 0) {
				fprintf(stderr, "berth-bench sched: --strategy \"%s\": %s\n",
					optarg, err);
				rv = BENCH_EXIT_USAGE;
			} else {
				size_t at = strlen(cfg->strategy_text);
				snprintf(cfg->strategy_text + at, sizeof(cfg->strategy_text) - at,
					 "%s%s", at ? "," : "", optarg);
				cfg->nstrategies++;
			}
			break;
		case 'C': {
			const char *why = model_name_check(MODEL_NAME, optarg);
			if (why != NULL) {
				fprintf(stderr, "berth-bench sched: --cluster \"%s\": %s\n", optarg,
					why);
				rv = BENCH_EXIT_USAGE;
			} else {
				snprintf(cfg->cluster, sizeof(cfg->cluster), "%s", optarg);
			}
			break;
		}
		case 'w':
			cfg->worker_bin = optarg;
			break;
		case 't':
			rv = bench_parse_secs("sched", "timeout", optarg, &cfg->timeout_s);
			break;
		case 'b':
			rv = bench_parse_u64("sched", "batch", optarg, 1, SCHED_MAX_BATCH,
					     &cfg->batch);
			break;
		case 'i':
			rv = bench_parse_u64("sched", "max-inflight", optarg, 1, SCHED_MAX_INFLIGHT,
					     &cfg->max_inflight);
			break;
		case 'r':
			cfg->row = true;
			break;
		case 'h':
			sched_usage(stdout);
			return -1;
		case ':':
			fprintf(stderr, "berth-bench sched: %s needs a value\n", argv[optind - 1]);
			return BENCH_EXIT_USAGE;
		default:
			fprintf(stderr, "berth-bench sched: unknown option \"%s\"\n",
				argv[optind - 1]);
			return BENCH_EXIT_USAGE;
		}
	}
	if (rv != 0)
		return rv;
	if (optind != argc) {
		fprintf(stderr, "berth-bench sched: unexpected argument \"%s\"\n", argv[optind]);
		return BENCH_EXIT_USAGE;
	}
	if (cfg->nendpoints == 0) {
		fprintf(stderr, "berth-bench sched: --endpoints is required\n");
		return BENCH_EXIT_USAGE;
	}
	if (cfg->slots == 0) /* room for the average share and half again */
		cfg->slots = (cfg->tasks * 3 + cfg->instances * 2 - 1) / (cfg->instances * 2);
	if (cfg->slots * SCHED_TASK_MEM > MODEL_MEMORY_MAX) {
		fprintf(stderr,
			"berth-bench sched: %llu tasks per instance exceed an instance's "
			"memory limit; give more --instances or a smaller --slots\n",
			(unsigned long long)cfg->slots);
		return BENCH_EXIT_USAGE;
	}
	if (cfg->slots * cfg->instances < cfg->tasks) {
		fprintf(stderr,
			"berth-bench sched: %llu instances with room for %llu tasks each "
			"cannot hold %llu tasks\n",
			(unsigned long long)cfg->instances, (unsigned long long)cfg->slots,
			(unsigned long long)cfg->tasks);
		return BENCH_EXIT_USAGE;
	}
	if (cfg->nstrategies == 0) {
		static const char *const def[] = {"spread:attribute:zone", "binpack:memory"};
		for (size_t i = 0; i < 2; i++)
			if (model_strategy_parse(def[i], &cfg->strategies[i], err, sizeof(err)) !=
			    0)
				return BENCH_EXIT_FAIL;
		cfg->nstrategies = 2;
		snprintf(cfg->strategy_text, sizeof(cfg->strategy_text), "%s,%s", def[0], def[1]);
	}
	return 0;
}

int bench_sched_main(int argc, char **argv)
{
	static char worker_bin[4096];
	struct sched_config cfg = {.instances = 10000,
				   .tasks = 100000,
				   .workers = 1,
				   .zones = 3,
				   .conflict = "fine",
				   .timeout_s = 600};
	const char *bin = getenv("BERTH_BIN");
	snprintf(worker_bin, sizeof(worker_bin), "%s/berth-worker", bin && *bin ? bin : "./build");
	cfg.worker_bin = worker_bin;
	snprintf(cfg.cluster, sizeof(cfg.cluster), "bench-sched-%ld", (long)getpid());
	int rv = sched_options(argc, argv, &cfg);
	if (rv != 0) {
		for (size_t i = 0; i < cfg.nstrategies; i++)
			model_strategy_free(&cfg.strategies[i]);
		return rv < 0 ? 0 : rv;
	}
	if (access(cfg.worker_bin, X_OK) != 0) {
		fprintf(stderr,
			"berth-bench sched: %s is not an executable (--worker-bin or "
			"BERTH_BIN)\n",
			cfg.worker_bin);
		rv = BENCH_EXIT_USAGE;
		goto out_cfg;
	}
	struct sched_run run = {.cfg = &cfg};
	struct sched_result res = {0};
	struct berth_options o = {
		.endpoints = cfg.endpoints, .nendpoints = cfg.nendpoints, .timeout_ms = 10000};
	char err[256];
	run.created_ns = calloc(cfg.tasks, sizeof(*run.created_ns));
	run.placed_ns = calloc(cfg.tasks, sizeof(*run.placed_ns));
	run.on_instance = calloc(cfg.tasks, sizeof(*run.on_instance));
	rv = BENCH_EXIT_FAIL;
	if (run.created_ns == NULL || run.placed_ns == NULL || run.on_instance == NULL) {
		fprintf(stderr, "berth-bench sched: out of memory\n");
		goto out_run;
	}
	if (berth_open(&run.b, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-bench sched: %s\n", err);
		goto out_run;
	}
	struct berth_result r;
	if (sched_clean(&run) != 0)
		goto out_open;
	if (berth_lease_grant(run.b, SCHED_LEASE_TTL_S, 0, &r) != 0) {
		fprintf(stderr, "berth-bench sched: lease grant: %s\n", berth_errmsg(run.b));
		berth_result_free(&r);
		goto out_open;
	}
	run.lease = r.resp.reply.id;
	berth_result_free(&r);
	if (sched_write_instances(&run) == 0 && sched_write_tasks(&run) == 0 &&
	    sched_measure(&run, &res) == 0) {
		sched_quality(&run, &res);
		sched_report(&cfg, &res);
		rv = res.placed == cfg.tasks ? 0 : BENCH_EXIT_FAIL;
		if (rv != 0)
			fprintf(stderr,
				"berth-bench sched: %llu of %llu tasks placed by the "
				"deadline\n",
				(unsigned long long)res.placed, (unsigned long long)cfg.tasks);
	}
	berth_lease_revoke(run.b, run.lease, &r);
	berth_result_free(&r);
	if (sched_clean(&run) != 0)
		rv = BENCH_EXIT_FAIL;
out_open:
	berth_close(run.b);
out_run:
	free(run.created_ns);
	free(run.placed_ns);
	free(run.on_instance);
out_cfg:
	for (size_t i = 0; i < cfg.nstrategies; i++)
		model_strategy_free(&cfg.strategies[i]);
	return rv;
}
