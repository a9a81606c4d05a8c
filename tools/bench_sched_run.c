/* tools/bench_sched_run.c: the measured part of `berth-bench sched`: the berth-worker
 * children (started, stopped with SIGTERM, their final statistics lines read), and the
 * watch on the tasks prefix that times each placement (tools/bench_sched.h). */
#include "tools/bench_sched.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCHED_STOP_WAIT_NS 20000000000ull /* SIGTERM, then SIGKILL after 20 s */
#define SCHED_KEEPALIVE_NS 10000000000ull

static void sched_out_path(const struct sched_run *run, size_t k, char *out, size_t n)
{
	snprintf(out, n, "%s/w%zu.out", run->dir, k);
}

/* Starts worker k with its stdout and stderr in run->dir/wK.out; 0 or -1 (printed). */
static int sched_start_worker(struct sched_run *run, size_t k)
{
	const struct sched_config *cfg = run->cfg;
	char path[512], name[32], seed[32], batch[32], inflight[32];
	sched_out_path(run, k, path, sizeof(path));
	snprintf(name, sizeof(name), "w%zu", k);
	snprintf(seed, sizeof(seed), "%zu", k + 1);
	snprintf(batch, sizeof(batch), "%llu", (unsigned long long)cfg->batch);
	snprintf(inflight, sizeof(inflight), "%llu", (unsigned long long)cfg->max_inflight);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "berth-bench sched: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* a bench killed by a signal takes its workers with it */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		const char *argv[32] = {"berth-worker",
					"--endpoints",
					cfg->endpoint_list,
					"--cluster",
					cfg->cluster,
					"--conflict",
					cfg->conflict,
					"--name",
					name,
					"--seed",
					seed,
					"--stats-ms",
					"0",
					"--log-level",
					"warn"};
		size_t n = 15;
		if (cfg->batch != 0) {
			argv[n++] = "--batch";
			argv[n++] = batch;
		}
		if (cfg->max_inflight != 0) {
			argv[n++] = "--max-inflight";
			argv[n++] = inflight;
		}
		argv[n] = NULL;
		execv(cfg->worker_bin, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", cfg->worker_bin, strerror(errno));
		_exit(127);
	}
	close(fd);
	if (pid < 0) {
		fprintf(stderr, "berth-bench sched: fork: %s\n", strerror(errno));
		return -1;
	}
	run->pids[k] = pid;
	return 0;
}

/* SIGTERM to every worker started, then waits for each (SIGKILL after the grace). */
static void sched_stop_workers(struct sched_run *run)
{
	for (size_t k = 0; k < run->cfg->workers; k++)
		if (run->pids[k] > 0)
			kill(run->pids[k], SIGTERM);
	uint64_t deadline = bench_now_ns() + SCHED_STOP_WAIT_NS;
	for (size_t k = 0; k < run->cfg->workers; k++) {
		while (run->pids[k] > 0) {
			int st;
			pid_t p = waitpid(run->pids[k], &st, WNOHANG);
			if (p == run->pids[k] || (p < 0 && errno != EINTR)) {
				run->pids[k] = 0;
				break;
			}
			if (bench_now_ns() > deadline) {
				fprintf(stderr,
					"berth-bench sched: worker w%zu did not stop; SIGKILL\n",
					k);
				kill(run->pids[k], SIGKILL);
				waitpid(run->pids[k], &st, 0);
				run->pids[k] = 0;
				break;
			}
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
		}
	}
}

/* Adds worker k's final statistics to res; its output is printed when there is none. */
static void sched_read_worker(struct sched_run *run, size_t k, struct sched_result *res)
{
	char path[512], line[1024];
	unsigned long long pl, co, cf;
	bool found = false;
	sched_out_path(run, k, path, sizeof(path));
	FILE *f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		const char *at = strstr(line, " final: ");
		if (at != NULL && sscanf(at, " final: placements %llu commits %llu conflicts %llu",
					 &pl, &co, &cf) == 3) {
			res->placements_reported += pl;
			res->commits += co;
			res->conflicts += cf;
			res->workers_ok++;
			found = true;
			if (!run->cfg->row) /* the worker's own counters, latencies included */
				fprintf(stderr, "  %s", line);
		}
	}
	if (!found) {
		fprintf(stderr, "berth-bench sched: worker w%zu printed no final statistics%s\n", k,
			f ? "; its output:" : "");
		if (f != NULL) {
			rewind(f);
			while (fgets(line, sizeof(line), f) != NULL)
				fprintf(stderr, "  %s", line);
		}
	}
	if (f != NULL)
		fclose(f);
	unlink(path);
}

/* A task's record arrived: when it is placed for the first time, note when and where. */
static void sched_event(struct sched_run *run, const struct berth_event *e, uint64_t now,
			struct sched_result *res)
{
	struct model_key key;
	struct model_task t;
	char err[256];
	unsigned long long ti, ii;
	char tail;
	if (e->type != MSG_OP_PUT ||
	    model_key_parse((const char *)e->kv.key.p, e->kv.key.n, &key) != 0 ||
	    key.kind != MODEL_KEY_TASK || sscanf(key.task, "t%7llu%c", &ti, &tail) != 1 ||
	    ti >= run->cfg->tasks || run->placed_ns[ti] != 0)
		return;
	if (model_task_decode(e->kv.value.p, e->kv.value.n, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-bench sched: task %s: %s\n", key.task, err);
		return;
	}
	if (t.last_status != MODEL_TASK_PROVISIONING && t.instance != NULL &&
	    sscanf(t.instance, "i%6llu%c", &ii, &tail) == 1 && ii < run->cfg->instances) {
		run->placed_ns[ti] = now;
		run->on_instance[ti] = (uint32_t)ii;
		res->placed++;
	}
	model_task_free(&t);
}

/* SIGINT or SIGTERM while the workers run: the watch loop ends within its 500 ms poll and
 * the run cleans up as usual (workers stopped, their folder removed). */
static volatile sig_atomic_t sched_signal;

static void sched_on_signal(int sig)
{
	sched_signal = sig;
}

/* Watches from the last task write until every task is placed or the deadline. */
static int sched_watch(struct sched_run *run, struct sched_result *res, uint64_t deadline)
{
	const struct sched_config *cfg = run->cfg;
	char prefix[MODEL_KEY_MAX];
	struct berth_watch *w = NULL;
	uint64_t from = run->tasks_rev, keepalive = bench_now_ns() + SCHED_KEEPALIVE_NS;
	uint64_t last_ns = run->first_write_ns;
	int rv = 0;
	model_key_prefix(prefix, MODEL_KEY_TASK, cfg->cluster, NULL);
	while (res->placed < cfg->tasks && bench_now_ns() < deadline && sched_signal == 0) {
		if (w == NULL) {
			struct berth_watch_options o = {
				.key = prefix, .klen = strlen(prefix), .prefix = true, .rev = from};
			if ((rv = berth_watch_open(run->b, &o, &w)) != 0) {
				fprintf(stderr, "berth-bench sched: watch: %s\n",
					berth_errmsg(run->b));
				return BENCH_EXIT_FAIL;
			}
		}
		struct berth_watch_batch batch;
		rv = berth_watch_next(w, 500, &batch);
		uint64_t now = bench_now_ns();
		if (rv == 0) {
			uint64_t before = res->placed;
			for (size_t i = 0; i < batch.nevents; i++)
				sched_event(run, &batch.events[i], now, res);
			if (res->placed > before)
				last_ns = now;
			berth_watch_batch_free(&batch);
		} else if (rv == BERTH_EWATCHOVERFLOW) {
			from = berth_watch_rev(w); /* a new watch continues without a gap */
			berth_watch_close(w);
			w = NULL;
		} else if (rv != BERTH_ETIMEOUT && rv != BERTH_ENOCONN) {
			fprintf(stderr, "berth-bench sched: watch: %s\n", err_name(rv));
			berth_watch_close(w);
			return BENCH_EXIT_FAIL;
		}
		if (now > keepalive) { /* the instances' alive keys hang on the lease */
			struct berth_result r;
			if (berth_lease_keepalive(run->b, run->lease, &r) != 0)
				fprintf(stderr, "berth-bench sched: lease keepalive: %s\n",
					berth_errmsg(run->b));
			berth_result_free(&r);
			keepalive = now + SCHED_KEEPALIVE_NS;
		}
	}
	berth_watch_close(w);
	res->seconds = last_ns > run->workers_ns ? (double)(last_ns - run->workers_ns) / 1e9 : 0;
	res->e2e_seconds = (double)(last_ns - run->first_write_ns) / 1e9;
	return 0;
}

int sched_measure(struct sched_run *run, struct sched_result *res)
{
	const struct sched_config *cfg = run->cfg;
	const char *tmp = getenv("TMPDIR");
	snprintf(run->dir, sizeof(run->dir), "%s/berth-bench-sched.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(run->dir) == NULL) {
		fprintf(stderr, "berth-bench sched: mkdtemp %s: %s\n", run->dir, strerror(errno));
		return BENCH_EXIT_FAIL;
	}
	uint64_t deadline = bench_now_ns() + (uint64_t)(cfg->timeout_s * 1e9);
	int rv = 0;
	struct sigaction sa = {.sa_handler = sched_on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sched_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	run->workers_ns = bench_now_ns();
	for (size_t k = 0; k < cfg->workers && rv == 0; k++)
		if (sched_start_worker(run, k) != 0)
			rv = BENCH_EXIT_FAIL;
	if (rv == 0)
		rv = sched_watch(run, res, deadline);
	sched_stop_workers(run);
	for (size_t k = 0; k < cfg->workers; k++)
		sched_read_worker(run, k, res);
	rmdir(run->dir);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (sched_signal != 0) {
		fprintf(stderr, "berth-bench sched: interrupted by signal %d: workers stopped\n",
			(int)sched_signal);
		rv = BENCH_EXIT_FAIL;
	}
	struct bench_lat lat = {0};
	for (uint64_t i = 0; i < cfg->tasks && rv == 0; i++)
		if (run->placed_ns[i] != 0 &&
		    bench_lat_add(&lat, run->placed_ns[i] - run->created_ns[i]) != 0)
			rv = BENCH_EXIT_FAIL;
	if (rv == 0 && bench_summarize(&lat, 1, &res->t) != 0)
		rv = BENCH_EXIT_FAIL;
	bench_lat_free(&lat);
	return rv;
}
