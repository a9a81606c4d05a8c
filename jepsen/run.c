/* jepsen/run.c: one harness run, step by step (jepsen/run.h). */
#include "jepsen/run.h"

#include "common/err.h"
#include "jepsen/check.h"
#include "jepsen/logscan.h"
#include "jepsen/plot.h"
#include "jepsen/wl.h"

#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_TOKEN "berth-jepsen"
#define RUN_STOP_MS 5000

/* The first SIGINT or SIGTERM ends the client phase (the run heals, recovers, reads the
 * final state and judges); a second one also skips the recovery wait and the final reads. */
static volatile sig_atomic_t run_signalled, run_signals;

static void run_on_signal(int sig)
{
	run_signalled = sig;
	run_signals = run_signals < 2 ? run_signals + 1 : 2;
}

struct run {
	const struct run_config *cfg;
	const struct workload *wl;
	char dir[512];
	char id[NETNS_ID_MAX + 1];
	struct netns net;
	bool net_up;
	struct nodes nodes;
	bool nodes_up;
	struct nemesis nm;
	bool nm_up;
	bool wl_up; /* the workload's setup was called: its close is due */
	struct wl_shared sh;
	struct wl_client *clients;
	pthread_t *threads;
	unsigned nthreads;
	json_t *crashes; /* statuses of members that died of a signal we did not send */
	unsigned faults;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const struct run *r, const char *fmt, ...)
{
	va_list ap;
	if (r->cfg->quiet)
		return;
	fprintf(stderr, "berth-jepsen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Sleeps ms, or less when a signal came. */
static void nap(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* The nemesis's events go into the history (process "nemesis", type info). A "revive"
 * names members that died by themselves: a signal we did not send is a crash. */
static void run_event(void *ctx, const char *f, json_t *value)
{
	struct run *r = ctx;
	hist_append(r->sh.hist, HIST_NEMESIS, HIST_INFO, f, NULL, value);
	if (strncmp(f, "start-", 6) == 0)
		r->faults++;
	char *text = json_dumps(value, JSON_COMPACT);
	say(r, "%s %s", f, text ? text : "");
	free(text);
	json_t *st = json_object_get(value, "exit_status");
	const char *node;
	json_t *v;
	json_object_foreach(st, node, v)
	{
		if (json_is_integer(v) && logscan_crash_status((int)json_integer_value(v)))
			json_array_append_new(r->crashes,
					      json_pack("{s:s,s:I}", "node", node, "status",
							json_integer_value(v)));
	}
}

static void *client_main(void *arg)
{
	struct wl_client *c = arg;
	const struct run_config *cfg = c->sh->cfg;
	uint64_t interval_us = cfg->concurrency * 1000000 / cfg->rate;
	uint64_t next = mono_ms() * 1000;
	while (!atomic_load(&c->sh->stop)) {
		c->sh->wl->op(c);
		next += interval_us;
		uint64_t now = mono_ms() * 1000;
		if (next > now)
			nap((next - now) / 1000);
		else
			next = now; /* behind: no catching up in a burst */
	}
	return NULL;
}

/* Steps 1-2: the folder, the history, the network, the members, a leader. */
static int run_setup(struct run *r)
{
	const struct run_config *cfg = r->cfg;
	char err[512];
	if (mkdir(r->dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "berth-jepsen: %s: %s\n", r->dir, strerror(errno));
		return RUN_SETUP;
	}
	char path[640];
	snprintf(path, sizeof(path), "%s/history.jsonl", r->dir);
	r->sh.hist = hist_open(path, err, sizeof(err));
	if (r->sh.hist == NULL) {
		fprintf(stderr, "berth-jepsen: %s\n", err);
		return RUN_SETUP;
	}
	unsigned spares = 0;
	for (unsigned i = 0; i < cfg->nkinds; i++)
		if (cfg->kinds[i] == NEMESIS_MEMBER_GROW && cfg->nodes < 5)
			spares = 5 - (unsigned)cfg->nodes;
	snprintf(r->id, sizeof(r->id), "j%llx", (unsigned long long)getpid() & 0xfffff);
	if (netns_create(&r->net, r->id, (unsigned)cfg->nodes + spares) != 0) {
		fprintf(stderr, "berth-jepsen: the network: %s\n", r->net.errmsg);
		return RUN_SETUP;
	}
	r->net_up = true;
	char election[24];
	snprintf(election, sizeof(election), "%llu", (unsigned long long)cfg->election_ms);
	const char *extra[] = {"--election-ms", election, NULL};
	struct nodes_options no = {.bin = cfg->store_bin,
				   .dir = r->dir,
				   .net = &r->net,
				   .members = (unsigned)cfg->nodes,
				   .extra = extra,
				   .token = RUN_TOKEN,
				   .faketime = cfg->faketime != 0,
				   .tmpfs_mib = (unsigned)cfg->tmpfs_mib,
				   .keep_data = cfg->keep_data != 0};
	if (nodes_init(&r->nodes, &no) != 0) {
		fprintf(stderr, "berth-jepsen: the members: %s\n", r->nodes.errmsg);
		return RUN_SETUP;
	}
	r->nodes_up = true;
	r->sh.nodes = &r->nodes;
	if (nodes_start_members(&r->nodes) != 0) {
		fprintf(stderr, "berth-jepsen: starting the members: %s\n", r->nodes.errmsg);
		return RUN_SETUP;
	}
	unsigned leader;
	if (nodes_leader(&r->nodes, 20000, &leader, NULL) != 0) {
		fprintf(stderr, "berth-jepsen: no leader elected in 20 s\n");
		return RUN_SETUP;
	}
	say(r, "run %s: %llu members in namespaces bj-%s-n*, leader n%u; out %s", r->id,
	    (unsigned long long)cfg->nodes, r->id, leader + 1, r->dir);
	struct nemesis_options nmo = {.nodes = &r->nodes,
				      .seed = cfg->seed,
				      .event = run_event,
				      .ctx = r,
				      .grow_to = spares ? 5 : 0,
				      .helpers = &r->sh.helpers};
	if (nemesis_init(&r->nm, &nmo) != 0) {
		fprintf(stderr, "berth-jepsen: the nemesis: %s\n", r->nm.errmsg);
		return RUN_SETUP;
	}
	r->nm_up = true;
	return 0;
}

/* A handle on every node, node first (then the others in order). */
static struct berth *run_client_at(struct run *r, unsigned first)
{
	const char *eps[NETNS_MAX_NODES];
	size_t n = r->nodes.n;
	for (size_t k = 0; k < n; k++)
		eps[k] = r->nodes.eps[(first + k) % n];
	struct berth_options o = {.endpoints = eps,
				  .nendpoints = n,
				  .token = RUN_TOKEN,
				  .timeout_ms = (uint32_t)r->cfg->op_timeout_ms};
	struct berth *b = NULL;
	char err[256];
	if (berth_open(&b, &o, err, sizeof(err)) != 0) {
		snprintf(r->nodes.errmsg, sizeof(r->nodes.errmsg), "%s", err);
		return NULL;
	}
	return b;
}

/* Step 3: the setup of the workload and the client threads. */
static int run_clients(struct run *r)
{
	const struct run_config *cfg = r->cfg;
	struct berth *b = nodes_client(&r->nodes, (uint32_t)cfg->op_timeout_ms * 4);
	if (b == NULL) {
		fprintf(stderr, "berth-jepsen: a client: %s\n", r->nodes.errmsg);
		return RUN_SETUP;
	}
	r->wl_up = true;
	int rc = r->wl->setup != NULL ? r->wl->setup(&r->sh, b) : 0;
	berth_close(b);
	if (rc != 0)
		return RUN_SETUP;
	r->clients = calloc(cfg->concurrency, sizeof(*r->clients));
	r->threads = calloc(cfg->concurrency, sizeof(*r->threads));
	if (r->clients == NULL || r->threads == NULL)
		return RUN_SETUP;
	for (unsigned i = 0; i < cfg->concurrency; i++) {
		struct wl_client *c = &r->clients[i];
		c->sh = &r->sh;
		c->thread = i;
		c->process = (int)i;
		c->rng = (cfg->seed + 1) * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull;
		c->rng = c->rng ? c->rng : 1;
		c->seen = malloc(cfg->keys * sizeof(*c->seen));
		c->b = nodes_client(&r->nodes, (uint32_t)cfg->op_timeout_ms);
		c->b_read = run_client_at(r, i % (unsigned)cfg->nodes);
		if (c->seen == NULL || c->b == NULL || c->b_read == NULL) {
			fprintf(stderr, "berth-jepsen: a client: %s\n", r->nodes.errmsg);
			return RUN_SETUP;
		}
		for (uint64_t k = 0; k < cfg->keys; k++)
			c->seen[k] = -2;
	}
	for (unsigned i = 0; i < cfg->concurrency; i++) {
		if (pthread_create(&r->threads[i], NULL, client_main, &r->clients[i]) != 0) {
			fprintf(stderr, "berth-jepsen: a client thread: %s\n", strerror(errno));
			atomic_store(&r->sh.stop, true);
			return RUN_SETUP;
		}
		r->nthreads++;
	}
	return 0;
}

/* Step 4: the schedule until the time limit (or a signal). */
static void run_faults(struct run *r)
{
	const struct run_config *cfg = r->cfg;
	uint64_t start = mono_ms(), end = start + cfg->time_limit_s * 1000;
	struct nemesis_schedule sc;
	bool faults = cfg->nkinds > 0 &&
		      nemesis_schedule_init(&sc, cfg->kinds, cfg->nkinds, (uint32_t)cfg->fault_ms,
					    (uint32_t)cfg->calm_ms, start) == 0;
	uint64_t last_say = start;
	while (!run_signalled) {
		uint64_t now = mono_ms();
		if (now >= end)
			break;
		uint64_t wait = faults ? nemesis_schedule_step(&r->nm, &sc, now) : 1000;
		now = mono_ms();
		if (wait > 200)
			wait = 200;
		if (now + wait > end)
			wait = end > now ? end - now : 0;
		if (now - last_say >= 10000) {
			uint64_t ops = 0;
			for (unsigned i = 0; i < r->nthreads; i++)
				ops += r->clients[i].ops;
			say(r, "%llu s: %llu operations, %u faults",
			    (unsigned long long)(now - start) / 1000, (unsigned long long)ops,
			    r->faults);
			last_say = now;
		}
		nap(wait);
	}
}

/* Steps 5-6: stop the clients, heal, recover, final reads; stop the members and the net. */
static int run_finish(struct run *r)
{
	int final_rc = 0;
	atomic_store(&r->sh.stop, true);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	r->nthreads = 0;
	if (r->nm_up) {
		if (nemesis_heal_all(&r->nm) != 0)
			say(r, "healing: %s", r->nm.errmsg);
		say(r, "healed; %llu s to recover", (unsigned long long)r->cfg->recovery_s);
		for (uint64_t t = 0; t < r->cfg->recovery_s * 10 && run_signals < 2; t++)
			nap(100);
		if (r->clients != NULL && run_signals < 2)
			for (unsigned i = 0; i < r->cfg->concurrency; i++)
				if (r->clients[i].b != NULL && r->wl->final(&r->clients[i]) != 0)
					final_rc = 1;
	}
	return final_rc;
}

static void run_close(struct run *r)
{
	if (r->clients != NULL)
		for (unsigned i = 0; i < r->cfg->concurrency; i++) {
			if (r->clients[i].watch != NULL)
				berth_watch_close(r->clients[i].watch);
			berth_close(r->clients[i].b);
			berth_close(r->clients[i].b_read);
			free(r->clients[i].seen);
		}
	free(r->clients);
	free(r->threads);
	r->clients = NULL;
	r->threads = NULL;
	if (r->wl_up && r->wl->close != NULL)
		r->wl->close(&r->sh);
	r->wl_up = false;
	if (r->nodes_up) {
		for (unsigned i = 0; i < r->nodes.n; i++)
			if (r->nodes.node[i].pid > 0)
				nodes_alive(&r->nodes, i); /* reap a crash before closing */
		unsigned killed = nodes_close(&r->nodes, RUN_STOP_MS);
		if (killed > 0)
			say(r, "%u members had to be killed at the end", killed);
		for (unsigned i = 0; i < r->nodes.n; i++)
			if (logscan_crash_status(r->nodes.node[i].last_status))
				json_array_append_new(r->crashes,
						      json_pack("{s:s,s:i}", "node",
								r->net.node[i].ns, "status",
								r->nodes.node[i].last_status));
		r->nodes_up = false;
	}
	if (r->net_up) {
		if (netns_destroy(&r->net) != 0)
			fprintf(stderr, "berth-jepsen: removing the network: %s\n", r->net.errmsg);
		r->net_up = false;
	}
}

/* Step 7: the checker, the logs, results.json, the plots, the verdict. */
static int run_judge(struct run *r, int final_rc)
{
	const struct run_config *cfg = r->cfg;
	char path[640], err[512];
	struct history h = {0};
	json_t *result = NULL, *logs = json_array();
	snprintf(path, sizeof(path), "%s/history.jsonl", r->dir);
	if (hist_load(path, &h, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-jepsen: %s: %s\n", path, err);
		result = json_pack("{s:s,s:s}", "valid", "unknown", "error", err);
	} else {
		result = r->wl->check(&h, cfg, err, sizeof(err));
		if (result == NULL)
			result = json_pack("{s:s,s:s}", "valid", "unknown", "error", err);
	}
	/* Every log of the run: the members' (n1.log...) and the workload's programs'. */
	glob_t g;
	snprintf(path, sizeof(path), "%s/*.log", r->dir);
	if (glob(path, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			logscan_file(g.gl_pathv[i], logs);
		globfree(&g);
	}
	enum check_verdict v = check_verdict_of(result);
	const char *why = NULL;
	if (json_array_size(logs) > 0 || json_array_size(r->crashes) > 0) {
		v = CHECK_INVALID;
		why = "a member crashed or a log reported an error (see \"logs\" and \"crashes\")";
	} else if (v == CHECK_VALID && final_rc != 0) {
		v = CHECK_UNKNOWN;
		why = "the final reads did not complete";
	}
	json_t *all = json_pack("{s:o,s:s,s:s,s:o,s:o,s:o}", "valid", check_valid_json(v),
				"workload", cfg->workload, "nemesis", cfg->nemesis, "checker",
				result, "logs", logs, "crashes", json_incref(r->crashes));
	json_object_set_new(all, "seed", json_integer((json_int_t)cfg->seed));
	json_object_set_new(all, "faults", json_integer(r->faults));
	if (why != NULL)
		json_object_set_new(all, "reason", json_string(why));
	snprintf(path, sizeof(path), "%s/results.json", r->dir);
	if (json_dump_file(all, path, JSON_INDENT(2)) != 0)
		fprintf(stderr, "berth-jepsen: %s: cannot write it\n", path);
	if (h.n > 0 && plot_history(&h, r->dir, err, sizeof(err)) != 0)
		fprintf(stderr, "berth-jepsen: plots: %s\n", err);
	const char *summary = json_string_value(json_object_get(result, "summary"));
	printf("berth-jepsen: %s %s %llus: %s%s%s (%s) %s\n", cfg->workload, cfg->nemesis,
	       (unsigned long long)cfg->time_limit_s,
	       v == CHECK_VALID     ? "valid"
	       : v == CHECK_INVALID ? "INVALID"
				    : "unknown",
	       why ? ": " : "", why ? why : "", summary ? summary : "", r->dir);
	fflush(stdout);
	json_decref(all);
	hist_free(&h);
	return v == CHECK_VALID ? RUN_VALID : v == CHECK_INVALID ? RUN_INVALID : RUN_UNKNOWN;
}

int run_main(const struct run_config *cfg_in)
{
	struct run_config cfg = *cfg_in;
	struct run r = {.cfg = &cfg};
	if (cfg.seed == 0)
		cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	r.wl = wl_find(cfg.workload);
	r.sh.cfg = &cfg;
	r.sh.dir = r.dir;
	r.sh.wl = r.wl;
	r.crashes = json_array();
	atomic_init(&r.sh.next_value, 1);
	atomic_init(&r.sh.stop, false);
	if (cfg.out[0] != 0)
		snprintf(r.dir, sizeof(r.dir), "%s", cfg.out);
	else
		snprintf(r.dir, sizeof(r.dir), "jepsen-out-%s-%llu", cfg.workload,
			 (unsigned long long)time(NULL));
	say(&r, "seed %llu", (unsigned long long)cfg.seed);
	struct sigaction sa = {.sa_handler = run_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc = run_setup(&r);
	if (rc == 0)
		rc = run_clients(&r);
	int final_rc = 0;
	if (rc == 0)
		run_faults(&r);
	final_rc = run_finish(&r);
	run_close(&r);
	if (r.sh.hist != NULL) {
		char err[256];
		if (hist_close(r.sh.hist, err, sizeof(err)) != 0)
			fprintf(stderr, "berth-jepsen: history: %s\n", err);
		r.sh.hist = NULL;
	}
	if (rc == 0 && run_signalled)
		fprintf(stderr, "berth-jepsen: stopped by signal %d; judging what was recorded\n",
			(int)run_signalled);
	if (rc == 0)
		rc = run_judge(&r, final_rc);
	json_decref(r.crashes);
	return rc;
}

int run_cleanup(void)
{
	char report[2048] = "";
	unsigned removed = 0;
	int rc = netns_cleanup_all(&removed, report, sizeof(report));
	printf("berth-jepsen cleanup: %u run(s) removed%s%s\n", removed, report[0] ? ": " : "",
	       report);
	return rc == 0 ? 0 : 1;
}
