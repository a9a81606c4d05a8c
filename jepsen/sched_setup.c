/* jepsen/sched_setup.c: the sched workload's cluster: its task definitions and service
 * (through libberth and client/model.h), the recorder, the berth-worker and berth-agent
 * processes on the host, and the nemesis's hooks that kill and restart them
 * (jepsen/sched.h). */
#include "jepsen/sched.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sched_ids_add(struct sched_ids *s, const char *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		void *p = realloc(s->id, cap * sizeof(*s->id));
		if (p == NULL)
			return BERTH_ENOMEM;
		s->id = p;
		s->cap = cap;
	}
	snprintf(s->id[s->n++], sizeof(s->id[0]), "%s", id);
	return 0;
}

void sched_ids_take(struct sched_ids *s, size_t i, char out[MODEL_TASK_ID_LEN + 1])
{
	memcpy(out, s->id[i], sizeof(s->id[0]));
	memcpy(s->id[i], s->id[--s->n], sizeof(s->id[0]));
}

bool sched_ids_has(const struct sched_ids *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->id[i], id) == 0)
			return true;
	return false;
}

void sched_ids_free(struct sched_ids *s)
{
	free(s->id);
	memset(s, 0, sizeof(*s));
}

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Registers family as revision 1 (a fresh store: the family must be new). */
static int setup_taskdef(struct berth *b, const char *family, uint32_t cpu, uint32_t mem,
			 uint16_t host_port)
{
	char name[] = "main", image[] = "berth/jepsen-sched", fam[MODEL_NAME_MAX + 1];
	char fkey[MODEL_KEY_MAX], tkey[MODEL_KEY_MAX], err[256];
	snprintf(fam, sizeof(fam), "%s", family);
	struct model_port_mapping pm = {.container_port = 8080, .host_port = host_port};
	struct model_container c = {.name = name,
				    .image = image,
				    .cpu = cpu,
				    .memory = mem,
				    .ports = host_port ? &pm : NULL,
				    .nports = host_port ? 1 : 0,
				    .essential = true};
	struct model_taskdef td = {.family = fam,
				   .revision = 1,
				   .containers = &c,
				   .ncontainers = 1,
				   .cpu = cpu,
				   .memory = mem};
	struct mp_buf rec;
	uint8_t one[9];
	mp_buf_init(&rec);
	int rc = model_taskdef_encode(&td, &rec, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "berth-jepsen: sched: taskdef %s: %s\n", family, err);
		mp_buf_close(&rec);
		return rc;
	}
	model_key_family(fkey, family);
	model_key_taskdef(tkey, family, 1);
	struct bytes fk = {(const uint8_t *)fkey, strlen(fkey)};
	struct msg_compare cmp = {.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = fk};
	struct msg_op put[2] = {
		{.type = MSG_OP_PUT, .key = fk, .value = {one, mp_int_encode(1, one)}},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)tkey, strlen(tkey)},
		 .value = {rec.data, rec.len}}};
	struct msg_txn t = {.ncmp = 1, .nsucc = 2, .cmp = &cmp, .succ = put};
	struct berth_result r = {0};
	rc = berth_txn(b, &t, false, &r);
	if (rc == 0 && !r.resp.reply.succeeded)
		rc = BERTH_EEXISTS;
	if (rc != 0)
		fprintf(stderr, "berth-jepsen: sched: registering %s: %s %s\n", family,
			err_name(rc), berth_errmsg(b));
	berth_result_free(&r);
	mp_buf_close(&rec);
	return rc;
}

/* The service: SCHED_SVC_FAMILY:1 at desired_max tasks, spread over zones and then
 * instances; the workers add its PRIMARY deployment. */
static int setup_service(struct berth *b, uint32_t desired)
{
	char name[] = SCHED_SERVICE, cluster[] = SCHED_CLUSTER, family[] = SCHED_SVC_FAMILY;
	char zone[] = "attribute:zone", iid[] = "instanceId", key[MODEL_KEY_MAX], err[256];
	struct model_strategy st[2] = {{MODEL_SPREAD, zone}, {MODEL_SPREAD, iid}};
	struct model_service s = {.name = name,
				  .cluster = cluster,
				  .family = family,
				  .revision = 1,
				  .desired_count = desired,
				  .strategies = st,
				  .nstrategies = 2,
				  .config = {100, 200},
				  .status = MODEL_SERVICE_ACTIVE,
				  .created_ms = unix_ms()};
	struct mp_buf rec;
	mp_buf_init(&rec);
	int rc = model_service_encode(&s, &rec, err, sizeof(err));
	if (rc == 0) {
		model_key_service(key, SCHED_CLUSTER, SCHED_SERVICE);
		struct bytes k = {(const uint8_t *)key, strlen(key)};
		struct msg_compare cmp = {.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = k};
		struct msg_op put = {.type = MSG_OP_PUT, .key = k, .value = {rec.data, rec.len}};
		struct msg_txn t = {.ncmp = 1, .nsucc = 1, .cmp = &cmp, .succ = &put};
		struct berth_result r = {0};
		rc = berth_txn(b, &t, false, &r);
		if (rc == 0 && !r.resp.reply.succeeded)
			rc = BERTH_EEXISTS;
		snprintf(err, sizeof(err), "%s %s", err_name(rc), berth_errmsg(b));
		berth_result_free(&r);
	}
	if (rc != 0)
		fprintf(stderr, "berth-jepsen: sched: the service: %s\n", err);
	mp_buf_close(&rec);
	return rc;
}

/* The workers and agents, on every node's client address. */
static int setup_procs(struct sched *s, const struct run_config *cfg, struct nodes *nodes,
		       const char *dir)
{
	const char *eps[NETNS_MAX_NODES];
	char list[NETNS_MAX_NODES * 32] = "", name[32], cpu[16], mem[16], per[16], port[16];
	size_t n = nodes_endpoints(nodes, false, eps, NETNS_MAX_NODES);
	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
			 eps[i]);
	snprintf(cpu, sizeof(cpu), "%d", SCHED_INST_CPU);
	snprintf(mem, sizeof(mem), "%d", SCHED_INST_MEM);
	snprintf(per, sizeof(per), "%d", SCHED_INSTANCES_PER_AGENT);
	snprintf(port, sizeof(port), "%d", SCHED_PORT);
	for (unsigned i = 0; i < s->nworkers + s->nagents; i++) {
		bool worker = i < s->nworkers;
		unsigned k = worker ? i + 1 : i - s->nworkers + 1;
		snprintf(name, sizeof(name), "%s%u", worker ? "worker" : "agent", k);
		const char *wargv[] = {cfg->worker_bin, "--endpoints", list, "--cluster",
				       SCHED_CLUSTER,   "--name",      name, "--stats-ms",
				       "5000",          NULL};
		const char *aargv[] = {
			cfg->agent_bin, "--endpoints", list,          "--cluster", SCHED_CLUSTER,
			"--instances",  per,           "--id-prefix", name,        "--zones",
			"a,b",          "--cpu",       cpu,           "--memory",  mem,
			"--ports",      port,          "--lease-ttl", "3",         "--shutdown-ms",
			"3000",         "--stats-ms",  "5000",        NULL};
		const char *bin = worker ? cfg->worker_bin : cfg->agent_bin;
		if (access(bin, X_OK) != 0) {
			fprintf(stderr, "berth-jepsen: sched: %s: not an executable program (%s)\n",
				bin, worker ? "--worker-bin" : "--agent-bin");
			return BERTH_EBADREQ;
		}
		int rc = procs_add(&s->procs, name, dir, worker ? wargv : aargv);
		if (rc == 0)
			rc = procs_start(&s->procs, i);
		if (rc != 0) {
			fprintf(stderr, "berth-jepsen: sched: %s\n", s->procs.errmsg);
			return rc;
		}
	}
	return 0;
}

/* The nemesis's helper hooks (jepsen/nemesis.h). */
static int hook_kill(void *ctx, enum nemesis_role role, uint64_t pick, json_t *value, char *err,
		     size_t errlen)
{
	struct sched *s = ((struct wl_shared *)ctx)->priv;
	unsigned from = role == NEMESIS_ROLE_WORKER ? 0 : s->nworkers;
	unsigned to = role == NEMESIS_ROLE_WORKER ? s->nworkers : s->nworkers + s->nagents;
	unsigned up[PROCS_MAX], n = 0;
	for (unsigned i = from; i < to; i++)
		if (procs_alive(&s->procs, i))
			up[n++] = i;
	if (n == 0) {
		snprintf(err, errlen, "nemesis: no %s runs",
			 role == NEMESIS_ROLE_WORKER ? "worker" : "agent");
		return BERTH_ECLOSED;
	}
	unsigned i = up[pick % n];
	pid_t pid = s->procs.p[i].pid;
	int rc = procs_kill(&s->procs, i);
	if (rc != 0) {
		snprintf(err, errlen, "nemesis: %s", s->procs.errmsg);
		return rc;
	}
	json_object_set_new(value, "processes", json_pack("[s]", s->procs.p[i].name));
	json_object_set_new(value, "pids", json_pack("[I]", (json_int_t)pid));
	return 0;
}

static int hook_restart(void *ctx, json_t *value, char *err, size_t errlen)
{
	struct sched *s = ((struct wl_shared *)ctx)->priv;
	json_t *done = json_array();
	int first = 0;
	for (unsigned i = 0; i < s->procs.n; i++) {
		if (!s->procs.p[i].killed)
			continue;
		int rc = procs_start(&s->procs, i);
		if (rc == 0)
			json_array_append_new(done, json_string(s->procs.p[i].name));
		else if (first == 0) {
			first = rc;
			snprintf(err, errlen, "nemesis: %s", s->procs.errmsg);
		}
	}
	json_object_set_new(value, "restarted", done);
	return first;
}

int sched_setup(struct wl_shared *sh, struct berth *b)
{
	const struct run_config *cfg = sh->cfg;
	struct sched *s = calloc(1, sizeof(*s));
	struct berth_result r = {0};
	char prefix[MODEL_KEY_MAX];
	if (s == NULL)
		return 1;
	sh->priv = s;
	pthread_mutex_init(&s->mu, NULL);
	procs_init(&s->procs, sh->nodes->token);
	s->nworkers = (unsigned)cfg->sched_workers;
	s->nagents = (unsigned)cfg->sched_agents;
	/* Three service tasks an instance at most (of the four that fit), two at least; run
	 * tasks hold the one host port of an instance, and leave one instance's port free. */
	unsigned insts = s->nagents * SCHED_INSTANCES_PER_AGENT;
	s->desired_max = 3 * insts;
	s->desired_min = 2 * insts;
	s->run_live_max = insts - 1;
	model_key_prefix(prefix, -1, SCHED_CLUSTER, NULL);
	int rc = berth_get(b, prefix, strlen(prefix), 0, false, &r);
	uint64_t from = r.resp.reply.rev;
	berth_result_free(&r);
	if (rc != 0) {
		fprintf(stderr, "berth-jepsen: sched: reading the revision: %s\n", berth_errmsg(b));
		return 1;
	}
	struct berth *rb = nodes_client(sh->nodes, (uint32_t)cfg->op_timeout_ms);
	if (rb == NULL || sched_rec_start(&s->rec, rb, sh->hist, prefix, from) != 0) {
		fprintf(stderr, "berth-jepsen: sched: the recorder: %s\n", sh->nodes->errmsg);
		return 1;
	}
	if (setup_taskdef(b, SCHED_SVC_FAMILY, 256, 256, 0) != 0 ||
	    setup_taskdef(b, SCHED_RUN_FAMILY, 128, 128, SCHED_PORT) != 0 ||
	    setup_service(b, s->desired_max) != 0)
		return 1;
	if (setup_procs(s, cfg, sh->nodes, sh->dir) != 0)
		return 1;
	sh->helpers =
		(struct nemesis_helpers){.kill = hook_kill, .restart = hook_restart, .ctx = sh};
	return 0;
}

void sched_close(struct wl_shared *sh)
{
	struct sched *s = sh->priv;
	if (s == NULL)
		return;
	sh->helpers = (struct nemesis_helpers){0};
	sched_rec_stop(&s->rec);
	unsigned killed = procs_close(&s->procs, SCHED_STOP_MS);
	if (killed > 0)
		fprintf(stderr, "berth-jepsen: sched: %u workers or agents had to be killed\n",
			killed);
	sched_ids_free(&s->live);
	sched_ids_free(&s->acked);
	sched_ids_free(&s->stopped);
	pthread_mutex_destroy(&s->mu);
	free(s);
	sh->priv = NULL;
}
