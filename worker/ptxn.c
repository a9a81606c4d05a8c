/* worker/ptxn.c: the Place and lost-instance release transactions (worker/ptxn.h). */
#include "worker/ptxn.h"

#include "common/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encodes t with its status changed (instance NULL keeps t's) and puts it at its key. */
static int put_task(struct txb *b, const char *cluster, const struct model_task *t,
		    enum model_task_status desired, enum model_task_status last,
		    const char *instance, const char *reason, uint64_t now_ms, char *err,
		    size_t errlen)
{
	char key[MODEL_KEY_MAX];
	struct model_task copy = *t; /* shallow: the encoder only reads */
	struct mp_buf out;
	copy.desired_status = desired;
	copy.last_status = last;
	if (instance != NULL)
		copy.instance = (char *)instance;
	if (reason != NULL)
		copy.stop_reason = (char *)reason;
	copy.updated_ms = now_ms > t->updated_ms ? now_ms : t->updated_ms;
	int rc = model_key_task(key, cluster, t->id);
	if (rc != 0) {
		snprintf(err, errlen, "task %s: not a valid key", t->id);
		return rc;
	}
	mp_buf_init(&out);
	rc = model_task_encode(&copy, &out, err, errlen);
	if (rc == 0)
		txb_put(b, TXB_SUCC, key, out.data, out.len);
	mp_buf_close(&out);
	return rc;
}

/* One instance's share of a Place: the sums of the picks it receives. */
struct share {
	const struct cache_inst *inst;
	int64_t cpu, mem;
};

/* One (group, instance) counter of a Place. */
struct gshare {
	const char *group, *iid;
	int64_t count;
	bool distinct; /* a task with distinctInstance: compare int <= 0 */
};

static bool has_distinct(const struct model_task *t)
{
	for (size_t i = 0; i < t->nconstraints; i++)
		if (t->constraints[i].type == MODEL_DISTINCT_INSTANCE)
			return true;
	return false;
}

static void place_compares(struct txb *b, const char *cluster, enum ptxn_conflict mode,
			   const struct share *s)
{
	char key[MODEL_KEY_MAX];
	const struct cache_inst *in = s->inst;
	model_key_instance(key, cluster, in->id);
	txb_cmp(b, MSG_CMP_MOD, MSG_EQ, key, in->rev);
	model_key_alive(key, cluster, in->id);
	txb_cmp(b, MSG_CMP_VERSION, MSG_GT, key, 0);
	model_key_alloc_cpu(key, cluster, in->id);
	if (mode == PTXN_FINE)
		txb_cmp(b, MSG_CMP_INT, MSG_LE, key, (int64_t)in->rec.cpu - s->cpu);
	else
		txb_cmp(b, MSG_CMP_MOD, MSG_EQ, key, in->cpu_rev);
	txb_add(b, TXB_SUCC, key, s->cpu);
	txb_get(b, TXB_FAIL, key);
	model_key_alloc_mem(key, cluster, in->id);
	if (mode == PTXN_FINE)
		txb_cmp(b, MSG_CMP_INT, MSG_LE, key, (int64_t)in->rec.memory - s->mem);
	else
		txb_cmp(b, MSG_CMP_MOD, MSG_EQ, key, in->mem_rev);
	txb_add(b, TXB_SUCC, key, s->mem);
	txb_get(b, TXB_FAIL, key);
	model_key_instance(key, cluster, in->id);
	txb_get(b, TXB_FAIL, key);
}

int ptxn_place(struct txb *b, const char *cluster, enum ptxn_conflict mode,
	       const struct ptxn_pick *picks, size_t n, uint64_t now_ms, char *err, size_t errlen)
{
	char key[MODEL_KEY_MAX];
	struct share *sh = calloc(n, sizeof(*sh));
	struct gshare *gs = calloc(n, sizeof(*gs));
	size_t nsh = 0, ngs = 0;
	int rc = 0;
	if (sh == NULL || gs == NULL) {
		rc = BERTH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct model_task *t = &picks[i].task->rec;
		size_t j = 0, g = 0;
		while (j < nsh && sh[j].inst != picks[i].inst)
			j++;
		if (j == nsh)
			sh[nsh++].inst = picks[i].inst;
		sh[j].cpu += t->cpu;
		sh[j].mem += t->memory;
		while (g < ngs && !(strcmp(gs[g].group, t->group) == 0 &&
				    strcmp(gs[g].iid, picks[i].inst->id) == 0))
			g++;
		if (g == ngs) {
			gs[ngs].group = t->group;
			gs[ngs++].iid = picks[i].inst->id;
		}
		gs[g].count++;
		gs[g].distinct |= has_distinct(t);
	}
	for (size_t j = 0; j < nsh; j++)
		place_compares(b, cluster, mode, &sh[j]);
	for (size_t g = 0; g < ngs; g++) {
		if ((rc = model_key_group(key, cluster, gs[g].group, gs[g].iid)) != 0) {
			snprintf(err, errlen, "group %s: not a valid key", gs[g].group);
			goto out;
		}
		if (gs[g].distinct)
			txb_cmp(b, MSG_CMP_INT, MSG_LE, key, 0);
		txb_add(b, TXB_SUCC, key, gs[g].count);
	}
	for (size_t i = 0; i < n; i++) {
		const struct cache_task *t = picks[i].task;
		const char *iid = picks[i].inst->id;
		if ((rc = model_key_task(key, cluster, t->id)) != 0) {
			snprintf(err, errlen, "task %s: not a valid key", t->id);
			goto out;
		}
		txb_cmp(b, MSG_CMP_MOD, MSG_EQ, key, t->rev);
		txb_get(b, TXB_FAIL, key);
		for (size_t p = 0; p < t->rec.nhost_ports; p++) {
			model_key_alloc_port(key, cluster, iid, t->rec.host_ports[p]);
			txb_cmp(b, MSG_CMP_VERSION, MSG_EQ, key, 0);
			txb_put(b, TXB_SUCC, key, t->id, strlen(t->id));
		}
		rc = put_task(b, cluster, &t->rec, MODEL_TASK_RUNNING, MODEL_TASK_PENDING, iid,
			      NULL, now_ms, err, errlen);
		if (rc != 0)
			goto out;
		model_key_placed(key, cluster, iid, t->id);
		txb_put(b, TXB_SUCC, key, "", 0);
	}
out:
	free(sh);
	free(gs);
	if (rc == BERTH_ENOMEM)
		snprintf(err, errlen, "%s", err_text(rc));
	return rc;
}

size_t ptxn_place_fit(const struct ptxn_pick *picks, size_t n, size_t max_ops)
{
	size_t cmp = 0, succ = 0, fail = 0;
	for (size_t i = 0; i < n; i++) {
		const struct model_task *t = &picks[i].task->rec;
		bool new_inst = true, new_group = true, distinct = false;
		for (size_t j = 0; j < i; j++) {
			if (picks[j].inst != picks[i].inst)
				continue;
			new_inst = false;
			if (strcmp(picks[j].task->rec.group, t->group) == 0) {
				new_group = false;
				distinct |= has_distinct(&picks[j].task->rec);
			}
		}
		size_t c = cmp + 1 + t->nhost_ports + (new_inst ? 4 : 0) +
			   (has_distinct(t) && !distinct ? 1 : 0);
		size_t s = succ + 2 + t->nhost_ports + (new_inst ? 2 : 0) + (new_group ? 1 : 0);
		size_t f = fail + 1 + (new_inst ? 3 : 0);
		if (i > 0 && (c > max_ops || s > max_ops || f > max_ops))
			return i;
		cmp = c, succ = s, fail = f;
	}
	return n;
}

int ptxn_release_lost(struct txb *b, const char *cluster, const struct cache_task *t,
		      const char *reason, uint64_t now_ms, char *err, size_t errlen)
{
	char key[MODEL_KEY_MAX];
	const char *iid = t->rec.instance;
	if (iid == NULL) {
		snprintf(err, errlen, "task %s is not placed", t->id);
		return BERTH_EBADREQ;
	}
	if (model_key_task(key, cluster, t->id) != 0) {
		snprintf(err, errlen, "task %s: not a valid key", t->id);
		return BERTH_EBADREQ;
	}
	txb_cmp(b, MSG_CMP_MOD, MSG_EQ, key, t->rev);
	txb_get(b, TXB_FAIL, key);
	model_key_alive(key, cluster, iid);
	txb_cmp(b, MSG_CMP_VERSION, MSG_EQ, key, 0);
	txb_get(b, TXB_FAIL, key);
	int rc = put_task(b, cluster, &t->rec, MODEL_TASK_STOPPED, MODEL_TASK_STOPPED, NULL, reason,
			  now_ms, err, errlen);
	if (rc != 0)
		return rc;
	model_key_alloc_cpu(key, cluster, iid);
	txb_add(b, TXB_SUCC, key, -(int64_t)t->rec.cpu);
	model_key_alloc_mem(key, cluster, iid);
	txb_add(b, TXB_SUCC, key, -(int64_t)t->rec.memory);
	for (size_t p = 0; p < t->rec.nhost_ports; p++) {
		model_key_alloc_port(key, cluster, iid, t->rec.host_ports[p]);
		txb_del(b, TXB_SUCC, key);
	}
	if (model_key_group(key, cluster, t->rec.group, iid) == 0)
		txb_add(b, TXB_SUCC, key, -1);
	model_key_placed(key, cluster, iid, t->id);
	txb_del(b, TXB_SUCC, key);
	return 0;
}
