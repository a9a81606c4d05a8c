/* client/ctl_sched.c: berthctl's cluster commands: their table, and what they share:
 * checked options, task definition references, reads, compare-and-swap writes, listing
 * in pages (docs/berthctl.md, "The cluster"; docs/commits.md). */
#include "client/ctl_sched.h"

#include "client/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define CS O_CLUSTER
#define PLACEMENT (O_STRATEGY | O_CONSTRAINT)

const struct ctl_cmd ctl_sched_cmds[] = {
	{"taskdef register", 1, 1, CS, "taskdef register FILE",
	 "Registers the ECS task definition JSON in FILE (\"-\": stdin) as the family's next "
	 "revision and prints FAMILY:REVISION.",
	 ctl_taskdef_register},
	{"taskdef list", 0, 1, CS, "taskdef list [FAMILY]",
	 "Prints every registered FAMILY:REVISION (of one family).", ctl_taskdef_list},
	{"taskdef describe", 1, 1, CS, "taskdef describe FAMILY[:REV]",
	 "Prints a task definition (the latest revision without REV).", ctl_taskdef_describe},
	{"instance list", 0, 0, CS, "instance list [--cluster NAME]",
	 "Prints the cluster's instances: status, alive, cpu and memory used of total, tasks.",
	 ctl_instance_list},
	{"instance describe", 1, 1, CS, "instance describe ID",
	 "Prints an instance: resources, attributes, usage, ports in use, tasks placed.",
	 ctl_instance_describe},
	{"instance drain", 1, 1, CS, "instance drain ID",
	 "Sets the instance DRAINING: no new placements; services move their tasks off it.",
	 ctl_instance_drain},
	{"instance activate", 1, 1, CS, "instance activate ID",
	 "Sets a DRAINING instance ACTIVE again.", ctl_instance_activate},
	{"instance attributes", 1, CTL_MAX_POS, CS, "instance attributes ID [NAME=VALUE...]",
	 "Prints the instance's attributes; with NAME=VALUE sets them (NAME= removes one).",
	 ctl_instance_attributes},
	{"task run", 0, 0, CS | O_TASKDEF | O_NUMBER | PLACEMENT | O_GROUP | O_STARTED_BY,
	 "task run --taskdef FAMILY[:REV] --count N [--strategy S]... [--constraint C]... "
	 "[--group G] [--started-by X]",
	 "Creates N tasks (PROVISIONING) for the workers to place; prints their ids.",
	 ctl_task_run},
	{"task list", 0, 0, CS | O_STATUS | O_INSTANCE | O_GROUP,
	 "task list [--status S] [--instance ID] [--group G]",
	 "Prints the cluster's tasks (with that last status, on that instance, in that group).",
	 ctl_task_list},
	{"task describe", 1, 1, CS, "task describe ID", "Prints a task.", ctl_task_describe},
	{"task stop", 1, 1, CS | O_REASON, "task stop ID [--reason R]",
	 "Asks for the task to stop (desired STOPPED; a task not yet placed stops at once).",
	 ctl_task_stop},
	{"service create", 1, 1,
	 CS | O_TASKDEF | O_NUMBER | PLACEMENT | O_MIN_HEALTHY | O_MAX_PERCENT,
	 "service create NAME --taskdef FAMILY[:REV] --count N [--strategy S]... "
	 "[--constraint C]... [--min-healthy P] [--max-percent P]",
	 "Creates a service that keeps N tasks of the task definition running.",
	 ctl_service_create},
	{"service update", 1, 1, CS | O_TASKDEF | O_NUMBER,
	 "service update NAME [--count N] [--taskdef FAMILY[:REV]]",
	 "Changes the desired count and/or the task definition (a new PRIMARY deployment).",
	 ctl_service_update},
	{"service delete", 1, 1, CS, "service delete NAME",
	 "Marks the service INACTIVE; refused while its desired count is above 0 or any of its "
	 "tasks has not stopped.",
	 ctl_service_delete},
	{"service list", 0, 0, CS, "service list [--cluster NAME]", "Prints the services.",
	 ctl_service_list},
	{"service describe", 1, 1, CS, "service describe NAME",
	 "Prints a service, its deployments and its tasks by status.", ctl_service_describe},
	{"cluster describe", 0, 0, CS, "cluster describe [--cluster NAME]",
	 "Prints each instance's utilisation: cpu and memory used of total, ports in use, "
	 "tasks, zone; then the cluster's totals.",
	 ctl_cluster_describe},
};
const size_t ctl_sched_ncmds = sizeof(ctl_sched_cmds) / sizeof(ctl_sched_cmds[0]);

uint64_t ctl_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

uint64_t ctl_seed(void)
{
	uint64_t s;
	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s)) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		s = ((uint64_t)t.tv_sec << 32) ^ (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 16);
	}
	return s;
}

void ctl_backoff(uint64_t *rng, int attempt)
{
	uint64_t ms = 10u << (attempt < 6 ? attempt - 1 : 5);
	*rng = *rng * 6364136223846793005u + 1442695040888963407u;
	ms += (*rng >> 33) % (ms / 2 + 1);
	struct timespec t = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

int ctl_uint_arg(struct ctl *c, const char *what, const char *s, uint32_t min, uint32_t max,
		 uint32_t *out)
{
	char *end = (char *)s;
	errno = 0;
	unsigned long long v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
	if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0' || v < min || v > max)
		return ctl_usage_error(c, "%s: \"%s\" must be %u..%u", what, s, min, max);
	*out = (uint32_t)v;
	return 0;
}

int ctl_cluster_check(struct ctl *c)
{
	const char *why = model_name_check(MODEL_NAME, c->cluster);
	return why ? ctl_usage_error(c, "--cluster \"%s\": %s", c->cluster, why) : 0;
}

int ctl_expression_check(struct ctl *c, const char *expression)
{
	/* The model checked length and UTF-8; the grammar is the query language's. */
	struct query *q = NULL;
	char err[256];
	if (query_compile(expression, &q, err, sizeof(err)) != 0)
		return ctl_usage_error(c, "--constraint \"memberOf:%s\": %s", expression, err);
	query_free(q);
	return 0;
}

int ctl_placement(struct ctl *c, struct model_strategy *st, size_t *nst,
		  struct model_constraint *co, size_t *nco)
{
	char err[256];
	memset(st, 0, sizeof(*st) * MODEL_STRATEGIES_MAX);
	memset(co, 0, sizeof(*co) * MODEL_CONSTRAINTS_MAX);
	*nst = *nco = 0;
	if (c->nstrategies > MODEL_STRATEGIES_MAX)
		return ctl_usage_error(c, "--strategy: at most %d", MODEL_STRATEGIES_MAX);
	if (c->nconstraints > MODEL_CONSTRAINTS_MAX)
		return ctl_usage_error(c, "--constraint: at most %d", MODEL_CONSTRAINTS_MAX);
	for (int i = 0; i < c->nstrategies; i++, (*nst)++)
		if (model_strategy_parse(c->strategies[i], &st[i], err, sizeof(err)) != 0)
			return ctl_usage_error(c, "--strategy \"%s\": %s", c->strategies[i], err);
	for (int i = 0; i < c->nconstraints; i++, (*nco)++) {
		if (model_constraint_parse(c->constraints[i], &co[i], err, sizeof(err)) != 0)
			return ctl_usage_error(c, "--constraint \"%s\": %s", c->constraints[i],
					       err);
		if (co[i].type == MODEL_DISTINCT_INSTANCE)
			for (int k = 0; k < i; k++)
				if (co[k].type == MODEL_DISTINCT_INSTANCE)
					return ctl_usage_error(
						c, "--constraint: distinctInstance given twice");
		if (co[i].type == MODEL_MEMBER_OF && ctl_expression_check(c, co[i].expression) != 0)
			return 1;
	}
	return 0;
}

int ctl_taskdef_ref(struct ctl *c, const char *ref, char *family, uint32_t *rev)
{
	const char *colon = strchr(ref, ':');
	size_t n = colon ? (size_t)(colon - ref) : strlen(ref);
	const char *why;
	*rev = 0;
	if (n > MODEL_NAME_MAX)
		return ctl_usage_error(c, "task definition \"%s\": the family is longer than %d",
				       ref, MODEL_NAME_MAX);
	memcpy(family, ref, n);
	family[n] = '\0';
	if ((why = model_name_check(MODEL_NAME, family)) != NULL)
		return ctl_usage_error(c, "task definition \"%s\": family: %s", ref, why);
	if (colon != NULL)
		return ctl_uint_arg(c, "task definition revision", colon + 1, 1, MODEL_REVISION_MAX,
				    rev);
	return 0;
}

int ctl_read(struct ctl *c, struct berth *b, const char *key, struct berth_result *r,
	     const struct reply_kv **kv)
{
	if (berth_get(b, key, strlen(key), 0, false, r) != 0 || !r->resp.has_reply) {
		int code = ctl_report_error(c, b, r);
		berth_result_free(r);
		return code;
	}
	*kv = berth_result_kv(r);
	return 0;
}

int ctl_taskdef_load(struct ctl *c, struct berth *b, const char *family, uint32_t rev,
		     struct model_taskdef *out)
{
	char key[MODEL_KEY_MAX], err[256];
	struct berth_result r;
	const struct reply_kv *kv;
	int64_t latest;
	int rv;
	if (rev == 0) {
		model_key_family(key, family);
		if ((rv = ctl_read(c, b, key, &r, &kv)) != 0)
			return rv;
		if (kv == NULL || mp_value_int(kv->value.p, kv->value.n, &latest) != 0 ||
		    latest < 1 || latest > MODEL_REVISION_MAX) {
			berth_result_free(&r);
			return ctl_fail(c, BERTH_ENOTFOUND, "task definition family \"%s\" %s",
					family, kv ? "holds no revision number" : "not found");
		}
		rev = (uint32_t)latest;
		berth_result_free(&r);
	}
	model_key_taskdef(key, family, rev);
	if ((rv = ctl_read(c, b, key, &r, &kv)) != 0)
		return rv;
	if (kv == NULL)
		rv = ctl_fail(c, BERTH_ENOTFOUND, "task definition %s:%u not found", family, rev);
	else if (model_taskdef_decode(kv->value.p, kv->value.n, out, err, sizeof(err)) != 0)
		rv = ctl_fail(c, BERTH_ECORRUPT, "task definition %s:%u: %s", family, rev, err);
	berth_result_free(&r);
	return rv;
}

int ctl_cas_put(struct ctl *c, struct berth *b, const char *key, uint64_t mod_rev,
		const struct mp_buf *value, bool *won)
{
	struct msg_compare cmp = {.target = MSG_CMP_MOD,
				  .op = MSG_EQ,
				  .key = {(const uint8_t *)key, strlen(key)},
				  .num = (int64_t)mod_rev};
	struct msg_op put = {
		.type = MSG_OP_PUT, .key = cmp.key, .value = {value->data, value->len}};
	struct msg_txn t = {.ncmp = 1, .nsucc = 1, .cmp = &cmp, .succ = &put};
	struct berth_result r;
	int code = 0;
	if (berth_txn(b, &t, false, &r) != 0 || !r.resp.has_reply)
		code = ctl_report_error(c, b, &r);
	else
		*won = r.resp.reply.succeeded;
	berth_result_free(&r);
	return code;
}

int ctl_cas_edit(struct ctl *c, struct berth *b, const char *key, ctl_edit_fn edit, void *arg,
		 bool *written)
{
	uint64_t rng = ctl_seed();
	bool won = false;
	int code = 0;
	*written = false;
	for (int attempt = 1; code == 0 && !won; attempt++) {
		struct berth_result r;
		const struct reply_kv *kv;
		struct mp_buf out;
		if (attempt > CTL_CAS_ATTEMPTS)
			return ctl_fail(c, BERTH_EBUSY,
					"%s: changed by others %d times in a row; try again", key,
					CTL_CAS_ATTEMPTS);
		if (attempt > 1)
			ctl_backoff(&rng, attempt - 1);
		if ((code = ctl_read(c, b, key, &r, &kv)) != 0)
			return code;
		uint64_t mod = kv ? (uint64_t)kv->mod_rev : 0;
		mp_buf_init(&out);
		code = edit(c, b, arg, kv, &out);
		berth_result_free(&r);
		if (code == 0 && out.len == 0)
			won = true; /* nothing to write */
		else if (code == 0 && (code = ctl_cas_put(c, b, key, mod, &out, &won)) == 0)
			*written = won;
		mp_buf_close(&out);
	}
	return code;
}

int ctl_range_all(struct ctl *c, struct berth *b, const char *prefix, bool keys_only, ctl_kv_fn fn,
		  void *arg, uint64_t *rev)
{
	size_t plen = strlen(prefix);
	char end[MODEL_KEY_MAX + 1], start[MODEL_KEY_MAX + 2];
	size_t slen = plen;
	uint64_t at = 0;
	bool more = true;
	int code = 0;
	/* Every prefix here ends in '/': the range ends before the next character. */
	memcpy(end, prefix, plen);
	end[plen - 1]++;
	memcpy(start, prefix, plen);
	while (more && code == 0) {
		struct berth_range q = {.key = start,
					.klen = slen,
					.end = end,
					.elen = plen,
					.limit = CTL_PAGE_KEYS,
					.keys_only = keys_only,
					.rev = at};
		struct berth_result r;
		if (berth_range(b, &q, &r) != 0 || !r.resp.has_reply || r.resp.reply.nops != 1) {
			code = ctl_report_error(c, b, &r);
			berth_result_free(&r);
			break;
		}
		const struct reply_op *op = &r.resp.reply.ops[0];
		if (at == 0)
			at = r.resp.reply.rev;
		for (uint32_t i = 0; i < op->nkvs && code == 0; i++)
			code = fn(c, arg, &op->kvs[i]);
		more = op->more && op->nkvs > 0;
		if (more) { /* the next page starts just after the last key */
			const struct bytes *k = &op->kvs[op->nkvs - 1].key;
			if (k->n + 1 > sizeof(start))
				more = false;
			else {
				memcpy(start, k->p, k->n);
				start[k->n] = '\0';
				slen = k->n + 1;
			}
		}
		berth_result_free(&r);
	}
	if (rev != NULL)
		*rev = at;
	return code;
}

void ctl_print_placement(const struct model_strategy *st, size_t nst,
			 const struct model_constraint *co, size_t nco)
{
	char s[MODEL_EXPRESSION_MAX + 32];
	for (size_t i = 0; i < nst; i++) {
		model_strategy_format(&st[i], s, sizeof(s));
		printf("  strategy %s\n", s);
	}
	for (size_t i = 0; i < nco; i++) {
		model_constraint_format(&co[i], s, sizeof(s));
		printf("  constraint %s\n", s);
	}
}

void ctl_warn_record(struct ctl *c, const struct reply_kv *kv, const char *why)
{
	fprintf(stderr, "berthctl: %s: skipping ", c->cmd);
	ctl_escape(stderr, kv->key.p, kv->key.n);
	fprintf(stderr, ": %s\n", why);
}
