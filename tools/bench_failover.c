/* tools/bench_failover.c: `berth-bench failover`: SIGKILL the leader of a local cluster
 * under writes and measure the time to the next acknowledged write.
 *
 * The cluster is the one tools/berth-cluster manages (BERTH_CLUSTER_DIR,
 * BERTH_CLUSTER_PORT, BERTH_BIN are passed through the environment); it must be up. Each
 * run: ask the launcher for the leader; start a writer thread doing puts in a loop; send
 * the leader SIGKILL (kill(2) on the pid in the launcher's BERTH_CLUSTER_DIR/nID.pid, as
 * etcd-bench failover does for etcd: no launcher start-up inside the figure); the figure
 * is the time from just before that kill to the first put acknowledged by another member
 * (the response header names the member that answered, so an answer the dead leader sent
 * before dying never counts). Meanwhile the other members are asked for their status, to
 * split the figure into the election (a member says it is the leader) and the rest (the
 * client finding it, the write's commit). Then: stop the writer; `berth-cluster restart
 * ID`; wait until the member has applied what the leader had committed. Reports each run
 * and the median. Every member it kills it restarts, also when a run fails. */
#include "client/berth.h"
#include "tools/bench.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define FO_MAX_RUNS 100

struct fo_writer {
	const char *const *endpoints;
	size_t nendpoints;
	uint64_t old_leader;
	atomic_bool stop;
	atomic_uint_fast64_t ack_ns; /* first ack from another member (0: none yet) */
	atomic_uint_fast64_t new_leader;
	uint64_t puts, errs[BENCH_ERR_SLOTS];
	char errmsg[BERTH_ERRMSG_BYTES];
};

static void fo_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void *fo_writer_run(void *arg)
{
	struct fo_writer *w = arg;
	struct berth_options o = {
		.endpoints = w->endpoints, .nendpoints = w->nendpoints, .timeout_ms = 10000};
	struct berth *b = NULL;
	char key[16], val[256];
	memset(val, 'v', sizeof(val));
	if (berth_open(&b, &o, w->errmsg, sizeof(w->errmsg)) != 0)
		return NULL;
	for (uint64_t i = 0; !atomic_load(&w->stop); i++) {
		struct berth_result r;
		snprintf(key, sizeof(key), "fo%06x", (unsigned)(i & 0xffffff));
		int rv = berth_put(b, key, 8, val, sizeof(val), 0, &r);
		uint64_t now = bench_now_ns();
		if (rv == 0) {
			w->puts++;
			if (r.resp.hdr.member != w->old_leader && atomic_load(&w->ack_ns) == 0) {
				atomic_store(&w->new_leader, r.resp.hdr.member);
				atomic_store(&w->ack_ns, now);
			}
		} else {
			bench_err_count(w->errs, rv);
		}
		berth_result_free(&r);
	}
	berth_close(b);
	return NULL;
}

/* Runs "CLUSTER ARGS" and reads its first line into out; 0 when it exited 0. */
static int fo_cluster(const char *cluster, const char *args, char *out, size_t len)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "%s %s", cluster, args);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	char line[4096] = "";
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	while (fgetc(p) != EOF) /* drain */
		;
	int st = pclose(p);
	line[strcspn(line, "\n")] = '\0';
	if (out != NULL)
		snprintf(out, len, "%s", line);
	return st == 0 ? 0 : -1;
}

/* Asks every member but old (1-based) for its status; the id of one that says it is the
 * leader (and the time in *t_ns), or 0. */
static uint64_t fo_elected(struct berth *b, const char **eps, size_t n, unsigned old,
			   uint64_t *t_ns)
{
	for (size_t i = 0; i < n; i++) {
		struct berth_result r;
		if (i + 1 == old)
			continue;
		int rv = berth_status(b, eps[i], &r);
		bool leads = rv == 0 && r.resp.has_status && r.resp.status.state == WIRE_LEADER &&
			     r.resp.status.id != old;
		uint64_t id = leads ? r.resp.status.id : 0;
		berth_result_free(&r);
		if (leads) {
			*t_ns = bench_now_ns();
			return id;
		}
	}
	return 0;
}

/* Waits until member id (client endpoint ep) has applied at least the leader's commit
 * index, read once after the restart. Seconds waited, or -1 after deadline_s. */
static double fo_catch_up(struct berth *b, const char *ep, double deadline_s)
{
	uint64_t t0 = bench_now_ns(), target = 0;
	while ((double)(bench_now_ns() - t0) / 1e9 < deadline_s) {
		struct berth_result r;
		if (target == 0) { /* the leader's commit index, from any member's view */
			struct berth_endpoint_status st[BENCH_MAX_ENDPOINTS];
			size_t n = berth_endpoint_count(b);
			memset(st, 0, sizeof(st));
			berth_status_all(b, st, n);
			for (size_t i = 0; i < n; i++) {
				const struct wire_status *s = &st[i].res.resp.status;
				if (st[i].err == 0 && st[i].res.resp.has_status &&
				    s->state == WIRE_LEADER && s->commit > target)
					target = s->commit;
				berth_result_free(&st[i].res);
			}
		}
		if (target != 0 && berth_status(b, ep, &r) == 0 && r.resp.has_status &&
		    r.resp.status.applied >= target) {
			berth_result_free(&r);
			return (double)(bench_now_ns() - t0) / 1e9;
		}
		berth_result_free(&r);
		fo_sleep_ms(20);
	}
	return -1;
}

/* The pid of member id from the launcher's pid file, or 0. */
static pid_t fo_pid(unsigned id)
{
	const char *dir = getenv("BERTH_CLUSTER_DIR");
	char path[4200];
	long pid = 0;
	snprintf(path, sizeof(path), "%s/n%u.pid", dir && *dir ? dir : "./build/cluster", id);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* The wall-clock time as the members' logs write it ("15:04:05.123"), to find the kill
 * in them. */
static void fo_wall(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(buf, len, "%H:%M:%S", &tm);
	snprintf(buf + k, len - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void fo_usage(FILE *f)
{
	fprintf(f, "usage: berth-bench failover [--runs 5] [--cluster tools/berth-cluster] "
		   "[--settle 1]\n"
		   "  Needs a cluster up through tools/berth-cluster; its environment\n"
		   "  (BERTH_CLUSTER_DIR, BERTH_CLUSTER_PORT, BERTH_BIN) is passed through.\n"
		   "  --settle S: seconds of writes before each kill.\n");
}

static int fo_parse(int argc, char **argv, uint64_t *runs, const char **cluster, double *settle)
{
	static const struct option opts[] = {{"runs", required_argument, NULL, 'r'},
					     {"cluster", required_argument, NULL, 'c'},
					     {"settle", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	int c, rv = 0;
	optind = 1;
	opterr = 0;
	while (rv == 0 && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rv = bench_parse_u64("failover", "runs", optarg, 1, FO_MAX_RUNS, runs);
			break;
		case 'c':
			*cluster = optarg;
			break;
		case 's':
			rv = bench_parse_secs("failover", "settle", optarg, settle);
			break;
		case 'h':
			fo_usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "berth-bench failover: %s needs a value\n",
				argv[optind - 1]);
			return BENCH_EXIT_USAGE;
		default:
			fprintf(stderr, "berth-bench failover: unknown option \"%s\"\n",
				argv[optind - 1]);
			fo_usage(stderr);
			return BENCH_EXIT_USAGE;
		}
	}
	if (rv == 0 && optind != argc) {
		fprintf(stderr, "berth-bench failover: unexpected argument \"%s\"\n", argv[optind]);
		return BENCH_EXIT_USAGE;
	}
	return rv;
}

/* One run; the failover time in seconds in *took, or -1 with a message on stderr. */
static int fo_run(unsigned run, const char *cluster, struct berth *b, const char **eps, size_t n,
		  double settle, double *took)
{
	char out[4096], args[64];
	if (fo_cluster(cluster, "leader", out, sizeof(out)) != 0 || atoi(out) < 1 ||
	    (size_t)atoi(out) > n) {
		fprintf(stderr, "berth-bench failover: run %u: no leader (\"%s\")\n", run, out);
		return -1;
	}
	unsigned leader = (unsigned)atoi(out);
	struct fo_writer w = {.endpoints = eps, .nendpoints = n, .old_leader = leader};
	pthread_t tid;
	if (pthread_create(&tid, NULL, fo_writer_run, &w) != 0)
		return -1;
	fo_sleep_ms((unsigned)(settle * 1000));
	uint64_t puts_before = w.puts; /* racy read, only informative */
	pid_t pid = fo_pid(leader);
	char wall[32];
	fo_wall(wall, sizeof(wall));
	uint64_t t_kill = bench_now_ns();
	int krv = pid > 0 ? kill(pid, SIGKILL) : -1;
	if (krv != 0)
		fprintf(stderr, "berth-bench failover: run %u: no pid to kill for member %u\n", run,
			leader);
	/* Wait for the writer's first acknowledgement from another member (deadline 30 s),
	 * asking the other members meanwhile when one of them becomes the leader. */
	uint64_t t_elected = 0, elected = 0;
	while (krv == 0 && atomic_load(&w.ack_ns) == 0 && bench_now_ns() - t_kill < 30000000000u) {
		if (t_elected == 0)
			elected = fo_elected(b, eps, n, leader, &t_elected);
		fo_sleep_ms(t_elected == 0 ? 5 : 1);
	}
	atomic_store(&w.stop, true);
	pthread_join(tid, NULL);
	uint64_t ack = atomic_load(&w.ack_ns);
	*took = ack ? (double)(ack - t_kill) / 1e9 : -1;

	/* The killed process may not be reaped yet (kill -0 still succeeds on a zombie, and
	 * the launcher then says "member is running"): retry for up to 10 s. */
	snprintf(args, sizeof(args), "restart %u >/dev/null 2>&1", leader);
	int rrv = -1;
	for (int k = 0; krv == 0 && rrv != 0 && k < 100; k++)
		if ((rrv = fo_cluster(cluster, args, NULL, 0)) != 0)
			fo_sleep_ms(100);
	if (krv != 0)
		rrv = 0;
	double catch_up = rrv == 0 ? fo_catch_up(b, eps[leader - 1], 60) : -1;
	char ebuf[1024];
	bench_err_format(w.errs, ebuf, sizeof(ebuf));
	if (krv != 0 || ack == 0)
		fprintf(stderr, "berth-bench failover: run %u: %s\n", run,
			krv ? "kill failed" : "no write acknowledged in 30 s");
	printf("run %u: killed leader %u (pid %ld) at %s; member %llu leader after "
	       "%.3f s; next write acknowledged by member %llu after %.3f s; restarted member "
	       "caught up in %.2f s; %llu puts (%llu before the kill), errors: %s\n",
	       run, leader, (long)pid, wall, (unsigned long long)elected,
	       t_elected ? (double)(t_elected - t_kill) / 1e9 : -1.0,
	       (unsigned long long)atomic_load(&w.new_leader), *took, catch_up,
	       (unsigned long long)w.puts, (unsigned long long)puts_before, ebuf);
	fflush(stdout);
	if (rrv != 0 || catch_up < 0) {
		fprintf(stderr, "berth-bench failover: run %u: member %u did not %s\n", run, leader,
			rrv ? "restart" : "catch up in 60 s");
		return -1;
	}
	return ack ? 0 : -1;
}

int bench_failover_main(int argc, char **argv)
{
	uint64_t runs = 5;
	const char *cluster = "tools/berth-cluster";
	double settle = 1.0, took[FO_MAX_RUNS];
	int rv = fo_parse(argc, argv, &runs, &cluster, &settle);
	if (rv != 0)
		return rv;
	char epbuf[4096];
	const char *eps[BENCH_MAX_ENDPOINTS];
	size_t n;
	if (fo_cluster(cluster, "endpoints", epbuf, sizeof(epbuf)) != 0 || epbuf[0] == '\0') {
		fprintf(stderr, "berth-bench failover: \"%s endpoints\" failed: is a cluster up?\n",
			cluster);
		return BENCH_EXIT_FAIL;
	}
	if (bench_parse_endpoints("failover", epbuf, eps, &n) != 0)
		return BENCH_EXIT_FAIL;
	struct berth_options o = {.endpoints = eps, .nendpoints = n, .timeout_ms = 2000};
	struct berth *b;
	char err[BERTH_ERRMSG_BYTES];
	if (berth_open(&b, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-bench failover: %s\n", err);
		return BENCH_EXIT_FAIL;
	}
	rv = 0;
	for (unsigned i = 0; i < runs && rv == 0; i++)
		if (fo_run(i + 1, cluster, b, eps, n, settle, &took[i]) != 0)
			rv = BENCH_EXIT_FAIL;
	berth_close(b);
	if (rv != 0)
		return rv;
	qsort(took, runs, sizeof(took[0]), cmp_double);
	double median = runs % 2 ? took[runs / 2] : (took[runs / 2 - 1] + took[runs / 2]) / 2;
	printf("failover: %llu runs, leader kill to next acknowledged write: median %.3f s "
	       "(min %.3f, max %.3f)\n",
	       (unsigned long long)runs, median, took[0], took[runs - 1]);
	return 0;
}
