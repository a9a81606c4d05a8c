/* tools/agent.c: the berth-agent program: the lease (granted, kept alive every TTL/3,
 * granted again when lost), the instances' registration (docs/commits.md, "Instances"),
 * the counters, and a clean stop on SIGTERM/SIGINT. The tasks are tools/agent_tasks.c. */
#include "tools/agent.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

uint64_t agent_rand(struct agent *ag)
{
	uint64_t z = (ag->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t agent_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t agent_backoff_ms(struct agent *ag, unsigned n)
{
	uint64_t ms = 20;
	for (unsigned i = 1; i < n && ms < 2000; i++)
		ms *= 2;
	if (ms > 2000)
		ms = 2000;
	return ms / 2 + agent_rand(ag) % (ms + 1);
}

long agent_instance_index(const struct agent *ag, const char *iid)
{
	for (size_t i = 0; i < ag->cfg->instances; i++)
		if (strcmp(ag->cfg->iids[i], iid) == 0)
			return (long)i;
	return -1;
}

void agent_print_counters(const struct agent *ag, const char *when)
{
	size_t running = 0;
	for (size_t i = 0; i < ag->ntasks; i++)
		running += ag->tasks[i]->local == AGENT_LOCAL_RUNNING ||
			   ag->tasks[i]->local == AGENT_LOCAL_KILLING;
	log_info("counters (%s): instances=%" PRIu64 " running=%zu started=%" PRIu64
		 " stopped=%" PRIu64 " failed=%" PRIu64 " conflicts=%" PRIu64 " retries=%" PRIu64
		 " regrants=%" PRIu64 " bad=%" PRIu64,
		 when, ag->cfg->instances, running, ag->n.started, ag->n.stopped, ag->n.failed,
		 ag->n.conflicts, ag->n.retries, ag->n.regrants, ag->n.bad);
}

static void agent_grant(struct agent *ag);
static void agent_register_all(struct agent *ag);

static void agent_grant_cb(uv_timer_t *tm)
{
	agent_grant(tm->data);
}

static void agent_register_cb(uv_timer_t *tm)
{
	agent_register_all(tm->data);
}

/* ---- Registration: put C/instances/I (ACTIVE unless it was DRAINING) and C/alive/I with
 * the lease, in one transaction per instance. ---- */

struct agent_reg {
	struct agent *ag;
	size_t i;
	uint64_t lease;
};

static void agent_reg_failed(struct agent *ag, size_t i, const char *what, int err, const char *msg)
{
	log_warn("register %s: %s: %s: %s", ag->cfg->iids[i], what, err_name(err), msg);
	ag->reg_needed[i] = true;
	if (!uv_is_active((uv_handle_t *)&ag->retry_timer))
		uv_timer_start(&ag->retry_timer, agent_register_cb, 500, 0);
}

static void agent_reg_done(struct berth_result *res, const char *msg, void *data)
{
	struct agent_reg *r = data;
	struct agent *ag = r->ag;
	ag->reg_pending--;
	if (res->err != 0 && r->lease == ag->lease) /* else: the new lease's round has it */
		agent_reg_failed(ag, r->i, "txn", res->err, msg);
	else if (r->lease == ag->lease)
		log_debug("registered %s (lease %" PRIx64 ")", ag->cfg->iids[r->i], r->lease);
	free(r);
	if (ag->reg_pending == 0 && !ag->stopping) {
		bool all = true;
		for (size_t i = 0; i < ag->cfg->instances; i++)
			all = all && !ag->reg_needed[i];
		if (all && !ag->registered) {
			ag->registered = true;
			log_info("registered %" PRIu64 " instances in cluster %s (lease %" PRIx64
				 ", ttl %" PRIu64 " s)",
				 ag->cfg->instances, ag->cfg->cluster, ag->lease,
				 ag->cfg->lease_ttl);
			if (!ag->listing && !ag->watching)
				agent_tasks_start(ag);
		}
	}
}

static void agent_reg_got(struct berth_result *res, const char *msg, void *data)
{
	struct agent_reg *r = data;
	struct agent *ag = r->ag;
	char ikey[MODEL_KEY_MAX], akey[MODEL_KEY_MAX], merr[256];
	struct model_instance in, old = {0};
	struct mp_buf b;
	const struct reply_kv *kv = res->err == 0 ? berth_result_kv(res) : NULL;
	if (res->err != 0 || r->lease != ag->lease || ag->stopping) {
		/* A lease granted meanwhile has registered (or will) every instance itself. */
		if (res->err != 0 && r->lease == ag->lease && !ag->stopping)
			agent_reg_failed(ag, r->i, "get", res->err, msg);
		ag->reg_pending--;
		free(r);
		return;
	}
	agent_config_instance(ag->cfg, r->i, &in);
	if (kv != NULL &&
	    model_instance_decode(kv->value.p, kv->value.n, &old, merr, sizeof(merr)) == 0 &&
	    old.status == MODEL_INSTANCE_DRAINING)
		in.status = MODEL_INSTANCE_DRAINING;
	else if (kv != NULL && old.id == NULL)
		log_warn("register %s: the stored record is refused (%s); writing a new one", in.id,
			 merr);
	model_instance_free(&old);
	in.registered_ms = agent_now_ms();
	in.lease = r->lease;
	mp_buf_init(&b);
	int rv = model_instance_encode(&in, &b, merr, sizeof(merr));
	model_key_instance(ikey, in.cluster, in.id);
	model_key_alive(akey, in.cluster, in.id);
	struct msg_op ops[2] = {
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)ikey, strlen(ikey)},
		 .value = {b.data, b.len}},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)akey, strlen(akey)},
		 .lease = r->lease},
	};
	struct msg_txn t = {.nsucc = 2, .succ = ops};
	if (rv == 0)
		rv = berth_async_txn(ag->a, &t, false, agent_reg_done, r);
	mp_buf_close(&b);
	if (rv != 0) {
		ag->reg_pending--;
		agent_reg_failed(ag, r->i, "txn", rv, rv == BERTH_EBADREQ ? merr : err_text(rv));
		free(r);
	}
}

/* (Re)registers every instance marked reg_needed with the current lease. */
static void agent_register_all(struct agent *ag)
{
	if (ag->stopping || ag->lease == 0)
		return;
	for (size_t i = 0; i < ag->cfg->instances; i++) {
		char key[MODEL_KEY_MAX];
		struct agent_reg *r;
		if (!ag->reg_needed[i])
			continue;
		if ((r = malloc(sizeof(*r))) == NULL) {
			agent_reg_failed(ag, i, "alloc", BERTH_ENOMEM, err_text(BERTH_ENOMEM));
			return;
		}
		*r = (struct agent_reg){ag, i, ag->lease};
		model_key_instance(key, ag->cfg->cluster, ag->cfg->iids[i]);
		int rv = berth_async_get(ag->a, key, strlen(key), 0, false, agent_reg_got, r);
		if (rv != 0) {
			free(r);
			agent_reg_failed(ag, i, "get", rv, err_text(rv));
			return;
		}
		ag->reg_needed[i] = false;
		ag->reg_pending++;
	}
}

/* ---- The lease ---- */

static void agent_granted(struct berth_result *res, const char *msg, void *data)
{
	struct agent *ag = data;
	ag->granting = false;
	if (ag->stopping)
		return;
	if (res->err != 0) {
		log_warn("lease grant: %s: %s", err_name(res->err), msg);
		uv_timer_start(&ag->retry_timer, agent_grant_cb, 500, 0);
		return;
	}
	ag->lease = res->resp.reply.id;
	log_info("lease %" PRIx64 " granted (ttl %" PRIu64 " s)", ag->lease, ag->cfg->lease_ttl);
	ag->registered = false;
	for (size_t i = 0; i < ag->cfg->instances; i++)
		ag->reg_needed[i] = true;
	agent_register_all(ag);
}

static void agent_grant(struct agent *ag)
{
	if (ag->granting || ag->stopping)
		return;
	int rv = berth_async_lease_grant(ag->a, (int64_t)ag->cfg->lease_ttl, 0, agent_granted, ag);
	if (rv != 0) {
		log_warn("lease grant: %s", err_name(rv));
		uv_timer_start(&ag->retry_timer, agent_grant_cb, 500, 0);
		return;
	}
	ag->granting = true;
}

static void agent_kept(struct berth_result *res, const char *msg, void *data)
{
	struct agent *ag = data;
	if (ag->stopping || ag->lease == 0)
		return;
	if (res->err == BERTH_ENOTFOUND) {
		/* Expired: the store has deleted every alive key; a new lease, then every
		 * instance again (the tasks on them are left as they are). */
		log_warn("lease %" PRIx64 " lost (expired); granting a new one", ag->lease);
		ag->lease = 0;
		ag->n.regrants++;
		agent_grant(ag);
	} else if (res->err != 0) {
		log_warn("lease keepalive: %s: %s", err_name(res->err), msg);
	}
}

static void agent_keepalive(uv_timer_t *tm)
{
	struct agent *ag = tm->data;
	if (ag->lease == 0 || ag->stopping)
		return;
	int rv = berth_async_lease_keepalive(ag->a, ag->lease, agent_kept, ag);
	if (rv != 0)
		log_warn("lease keepalive: %s", err_name(rv));
}

static void agent_stats(uv_timer_t *tm)
{
	agent_print_counters(tm->data, "periodic");
}

/* ---- Stopping ---- */

static void agent_closed(void *data)
{
	struct agent *ag = data;
	ag->closed = true;
}

static void agent_finish(struct agent *ag)
{
	if (ag->a == NULL)
		return;
	uv_timer_stop(&ag->shutdown_timer);
	uv_close((uv_handle_t *)&ag->keepalive_timer, NULL);
	uv_close((uv_handle_t *)&ag->stats_timer, NULL);
	uv_close((uv_handle_t *)&ag->retry_timer, NULL);
	uv_close((uv_handle_t *)&ag->list_timer, NULL);
	uv_close((uv_handle_t *)&ag->shutdown_timer, NULL);
	uv_close((uv_handle_t *)&ag->sigterm, NULL);
	uv_close((uv_handle_t *)&ag->sigint, NULL);
	if (ag->watch != NULL)
		berth_async_watch_close(ag->watch);
	ag->watch = NULL;
	/* The pending calls end first (their callbacks run inside close and may touch the
	 * tasks), then the tasks are freed. */
	struct berth_async *a = ag->a;
	berth_async_close(a, agent_closed, ag);
	ag->a = NULL;
	agent_tasks_close(ag);
}

static void agent_revoked(struct berth_result *res, const char *msg, void *data)
{
	struct agent *ag = data;
	if (res->err != 0)
		log_warn("lease revoke: %s: %s (the lease expires by itself)", err_name(res->err),
			 msg);
	else
		log_info("lease %" PRIx64 " revoked: the instances are gone", ag->lease);
	agent_finish(ag);
}

/* Once every run is reported (or the shutdown deadline passed): revoke the lease, close. */
static void agent_revoke(struct agent *ag)
{
	if (ag->revoking)
		return;
	ag->revoking = true;
	if (ag->lease != 0 && berth_async_lease_revoke(ag->a, ag->lease, agent_revoked, ag) == 0)
		return;
	agent_finish(ag);
}

void agent_shutdown_check(struct agent *ag)
{
	if (ag->stopping && !ag->revoking && agent_tasks_busy(ag) == 0)
		agent_revoke(ag);
}

static void agent_shutdown_late(uv_timer_t *tm)
{
	struct agent *ag = tm->data;
	log_warn("shutdown: %zu tasks not reported after %" PRIu64 " ms; leaving them",
		 agent_tasks_busy(ag), ag->cfg->shutdown_ms);
	agent_revoke(ag);
}

static void agent_signal(uv_signal_t *s, int signum)
{
	struct agent *ag = s->data;
	if (ag->stopping)
		return;
	log_info("%s: stopping every run, reporting it STOPPED, then revoking the lease",
		 strsignal(signum));
	ag->stopping = true;
	uv_timer_stop(&ag->keepalive_timer);
	uv_timer_stop(&ag->retry_timer);
	uv_timer_stop(&ag->list_timer);
	uv_timer_start(&ag->shutdown_timer, agent_shutdown_late, ag->cfg->shutdown_ms, 0);
	if (ag->watch != NULL)
		berth_async_watch_close(ag->watch);
	ag->watch = NULL;
	agent_tasks_stop_all(ag);
	agent_shutdown_check(ag);
}

int main(int argc, char **argv)
{
	static struct agent_config cfg;
	static struct agent ag;
	char err[512];
	uv_loop_t loop;
	enum log_level lvl;
	switch (agent_config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case AGENT_CONFIG_HELP:
		agent_config_usage(stdout);
		agent_config_free(&cfg);
		return 0;
	case AGENT_CONFIG_ERROR:
		fprintf(stderr, "berth-agent: %s\n(berth-agent --help lists the options)\n", err);
		agent_config_free(&cfg);
		return 2;
	case AGENT_CONFIG_OK:
		break;
	}
	log_parse_level(cfg.log_level, &lvl);
	log_set_level(lvl);
	log_set_prefix("agent");
	ag.cfg = &cfg;
	ag.loop = &loop;
	if (getrandom(&ag.rng, sizeof(ag.rng), 0) != sizeof(ag.rng))
		ag.rng = agent_now_ms() ^ (uint64_t)getpid() << 32;
	if ((ag.reg_needed = calloc(cfg.instances, sizeof(bool))) == NULL) {
		fprintf(stderr, "berth-agent: %s\n", err_text(BERTH_ENOMEM));
		return 1;
	}
	uv_loop_init(&loop);
	struct berth_options o = {.endpoints = cfg.eps,
				  .nendpoints = cfg.neps,
				  .token = cfg.token,
				  .timeout_ms = (uint32_t)cfg.timeout_ms};
	struct berth_async_limits lim = {.sessions = 32};
	if (berth_async_open(&ag.a, &loop, &o, &lim, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-agent: --endpoints: %s\n", err);
		uv_loop_close(&loop);
		free(ag.reg_needed);
		agent_config_free(&cfg);
		return 2;
	}
	uv_timer_t *timers[] = {&ag.keepalive_timer, &ag.stats_timer, &ag.retry_timer,
				&ag.list_timer, &ag.shutdown_timer};
	for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
		uv_timer_init(&loop, timers[i]);
		timers[i]->data = &ag;
	}
	uv_signal_init(&loop, &ag.sigterm);
	uv_signal_init(&loop, &ag.sigint);
	ag.sigterm.data = ag.sigint.data = &ag;
	uv_signal_start(&ag.sigterm, agent_signal, SIGTERM);
	uv_signal_start(&ag.sigint, agent_signal, SIGINT);
	uint64_t every = cfg.lease_ttl * 1000 / 3;
	uv_timer_start(&ag.keepalive_timer, agent_keepalive, every, every);
	if (cfg.stats_ms > 0)
		uv_timer_start(&ag.stats_timer, agent_stats, cfg.stats_ms, cfg.stats_ms);
	log_info("starting: %" PRIu64 " instances (%s ...) in cluster %s, %s mode, %zu endpoints",
		 cfg.instances, cfg.iids[0], cfg.cluster, cfg.mode, cfg.neps);
	agent_grant(&ag);
	uv_run(&loop, UV_RUN_DEFAULT);
	agent_print_counters(&ag, "exit");
	int rc = uv_loop_close(&loop) == 0 ? 0 : 1;
	free(ag.reg_needed);
	free(ag.tasks);
	agent_config_free(&cfg);
	return rc;
}
