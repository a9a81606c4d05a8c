/* worker/cache.c: the worker's in-memory copy of a cluster's keys (worker/cache.h). */
#include "worker/cache.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cache_init(struct cache *c, const char *cluster, const struct cache_hooks *hooks)
{
	memset(c, 0, sizeof(*c));
	if (model_name_check(MODEL_NAME, cluster) != NULL ||
	    model_key_prefix(c->prefix, -1, cluster, NULL) != 0)
		return BERTH_EBADREQ;
	snprintf(c->cluster, sizeof(c->cluster), "%s", cluster);
	c->plen = strlen(c->prefix);
	wmap_init(&c->insts);
	wmap_init(&c->tasks);
	wmap_init(&c->svcs);
	wmap_init(&c->groups);
	if (hooks != NULL)
		c->hooks = *hooks;
	return 0;
}

static void inst_clear_rec(struct cache_inst *in)
{
	if (in->has_rec)
		model_instance_free(&in->rec);
	free(in->attrs);
	in->attrs = NULL;
	in->has_rec = false;
}

static void inst_free(struct cache_inst *in)
{
	inst_clear_rec(in);
	wmap_close(&in->ports);
	free(in->id);
	free(in);
}

static void task_free(struct cache *c, struct cache_task *t)
{
	if (c->hooks.task_free != NULL)
		c->hooks.task_free(c, t, c->hooks.data);
	model_task_free(&t->rec);
	free(t->id);
	free(t);
}

static void svc_free(struct cache_svc *s)
{
	model_service_free(&s->rec);
	free(s->name);
	free(s);
}

void cache_reset(struct cache *c)
{
	const char *k;
	void *v;
	for (size_t i = 0; (i = wmap_next(&c->insts, i, &k, &v)) != 0;)
		inst_free(v);
	for (size_t i = 0; (i = wmap_next(&c->tasks, i, &k, &v)) != 0;)
		task_free(c, v);
	for (size_t i = 0; (i = wmap_next(&c->svcs, i, &k, &v)) != 0;)
		svc_free(v);
	for (size_t i = 0; (i = wmap_next(&c->groups, i, &k, &v)) != 0;)
		free(v);
	wmap_close(&c->insts);
	wmap_close(&c->tasks);
	wmap_close(&c->svcs);
	wmap_close(&c->groups);
	c->rev = 0;
}

void cache_close(struct cache *c)
{
	cache_reset(c);
}

struct cache_inst *cache_inst(const struct cache *c, const char *iid)
{
	return wmap_get(&c->insts, iid);
}

struct cache_task *cache_task(const struct cache *c, const char *tid)
{
	return wmap_get(&c->tasks, tid);
}

/* "group\x01iid", cut to MODEL_KEY_MAX - 1 bytes as snprintf would: built with memcpy,
 * because every placement decision builds one per instance (snprintf was 40% of a
 * worker's instructions, docs/performance.md). */
void cache_group_key(char *out, const char *group, const char *iid)
{
	size_t room = MODEL_KEY_MAX - 1, g = strlen(group), n = g < room ? g : room;
	memcpy(out, group, n);
	if (n < room)
		out[n++] = '\x01';
	size_t i = strlen(iid), m = i < room - n ? i : room - n;
	memcpy(out + n, iid, m);
	out[n + m] = '\0';
}

int64_t cache_group(const struct cache *c, const char *group, const char *iid)
{
	char k[MODEL_KEY_MAX];
	cache_group_key(k, group, iid);
	struct cache_count *n = wmap_get(&c->groups, k);
	return n == NULL ? 0 : n->value;
}

/* The verdict on a record read at kv: rc as its decoder returned it (BERTH_ENOTFOUND for a
 * delete), match whether its id and cluster are its key's. A refused record is logged and
 * counted. 0: use it; BERTH_ENOMEM; anything else: the key is absent. */
static int judged(struct cache *c, const char *what, const char *name, const struct reply_kv *kv,
		  int rc, bool match, const char *err)
{
	if (rc == 0 && !match) {
		rc = BERTH_EBADREQ;
		err = "its id or cluster does not match its key";
	}
	if (rc != 0 && rc != BERTH_ENOTFOUND && rc != BERTH_ENOMEM) {
		c->bad++;
		log_warn("%s %s at revision %lld refused: %s", what, name, (long long)kv->mod_rev,
			 err);
	}
	return rc;
}

static void capacity(struct cache *c)
{
	if (c->hooks.capacity != NULL)
		c->hooks.capacity(c, c->hooks.data);
}

/* The instance entry, created empty when absent (NULL: out of memory). */
static struct cache_inst *inst_get(struct cache *c, const char *iid)
{
	struct cache_inst *in = wmap_get(&c->insts, iid);
	if (in != NULL)
		return in;
	in = calloc(1, sizeof(*in));
	if (in == NULL || (in->id = strdup(iid)) == NULL) {
		free(in);
		return NULL;
	}
	wmap_init(&in->ports);
	if (wmap_put(&c->insts, iid, in) != 0) {
		free(in->id);
		free(in);
		return NULL;
	}
	return in;
}

static int apply_instance(struct cache *c, int type, const struct reply_kv *kv, const char *iid)
{
	char err[256];
	struct cache_inst *in = inst_get(c, iid);
	if (in == NULL)
		return BERTH_ENOMEM;
	if (kv->mod_rev <= in->rev)
		return 0;
	in->rev = kv->mod_rev;
	inst_clear_rec(in);
	if (type != MSG_OP_PUT)
		return 0;
	int rc = model_instance_decode(kv->value.p, kv->value.n, &in->rec, err, sizeof(err));
	bool match =
		rc == 0 && strcmp(in->rec.cluster, c->cluster) == 0 && strcmp(in->rec.id, iid) == 0;
	if (rc == 0 && !match)
		model_instance_free(&in->rec);
	rc = judged(c, "instance", iid, kv, rc, match, err);
	if (rc != 0)
		return rc == BERTH_ENOMEM ? rc : 0;
	in->attrs = calloc(in->rec.nattributes + 1, sizeof(*in->attrs));
	if (in->attrs == NULL) {
		model_instance_free(&in->rec);
		return BERTH_ENOMEM;
	}
	for (size_t i = 0; i < in->rec.nattributes; i++) {
		in->attrs[i].name = in->rec.attributes[i].name;
		in->attrs[i].value = in->rec.attributes[i].value;
	}
	in->has_rec = true;
	capacity(c);
	return 0;
}

static int apply_alive(struct cache *c, int type, const struct reply_kv *kv, const char *iid)
{
	struct cache_inst *in = inst_get(c, iid);
	if (in == NULL)
		return BERTH_ENOMEM;
	if (kv->mod_rev <= in->alive_rev)
		return 0;
	in->alive_rev = kv->mod_rev;
	bool was = in->alive;
	in->alive = type == MSG_OP_PUT;
	if (in->alive && !was)
		capacity(c);
	if (!in->alive && was && c->hooks.lost != NULL)
		c->hooks.lost(c, in, c->hooks.data);
	return 0;
}

/* A counter's value: a missing or unreadable key reads 0 (as the store's int compares). */
static int64_t counter_value(struct cache *c, int type, const struct reply_kv *kv)
{
	int64_t v = 0;
	if (type == MSG_OP_PUT && mp_value_int(kv->value.p, kv->value.n, &v) != 0) {
		c->bad++;
		log_warn("counter %.*s is not an integer: read as 0", (int)kv->key.n,
			 (const char *)kv->key.p);
		v = 0;
	}
	return v;
}

static int apply_alloc(struct cache *c, int type, const struct reply_kv *kv,
		       const struct model_key *k)
{
	struct cache_inst *in = inst_get(c, k->instance);
	if (in == NULL)
		return BERTH_ENOMEM;
	int64_t *used = k->kind == MODEL_KEY_ALLOC_CPU ? &in->cpu_used : &in->mem_used;
	int64_t *rev = k->kind == MODEL_KEY_ALLOC_CPU ? &in->cpu_rev : &in->mem_rev;
	if (kv->mod_rev <= *rev)
		return 0;
	*rev = kv->mod_rev;
	int64_t v = counter_value(c, type, kv), old = *used;
	*used = v;
	if (v < old)
		capacity(c);
	if (v > old && c->hooks.used != NULL)
		c->hooks.used(c, in, kv->mod_rev, c->hooks.data);
	return 0;
}

static int apply_port(struct cache *c, int type, const struct model_key *k)
{
	struct cache_inst *in = inst_get(c, k->instance);
	char p[8];
	if (in == NULL)
		return BERTH_ENOMEM;
	snprintf(p, sizeof(p), "%u", k->port);
	if (type == MSG_OP_PUT)
		return wmap_put(&in->ports, p, (void *)1);
	if (wmap_del(&in->ports, p) != NULL)
		capacity(c);
	return 0;
}

static int apply_placed(struct cache *c, int type, const struct model_key *k)
{
	struct cache_inst *in = inst_get(c, k->instance);
	if (in == NULL)
		return BERTH_ENOMEM;
	/* The watch delivers a put of a new key once and a delete once, in order. */
	if (type == MSG_OP_PUT) {
		in->nplaced++;
	} else if (in->nplaced > 0) {
		in->nplaced--;
		capacity(c);
	}
	return 0;
}

static int apply_group(struct cache *c, int type, const struct reply_kv *kv,
		       const struct model_key *k)
{
	char key[MODEL_KEY_MAX];
	cache_group_key(key, k->group, k->instance);
	struct cache_count *n = wmap_get(&c->groups, key);
	if (n != NULL && kv->mod_rev <= n->rev)
		return 0;
	int64_t v = counter_value(c, type, kv);
	if (n == NULL) {
		if (type != MSG_OP_PUT)
			return 0;
		if ((n = calloc(1, sizeof(*n))) == NULL)
			return BERTH_ENOMEM;
		if (wmap_put(&c->groups, key, n) != 0) {
			free(n);
			return BERTH_ENOMEM;
		}
	}
	int64_t old = n->value;
	n->value = v;
	n->rev = kv->mod_rev;
	if (v < old)
		capacity(c);
	return 0;
}

static int apply_task(struct cache *c, int type, const struct reply_kv *kv, const char *tid)
{
	char err[256];
	struct cache_task *t = wmap_get(&c->tasks, tid);
	if (t != NULL && kv->mod_rev <= t->rev)
		return 0;
	struct model_task rec;
	int rc = type == MSG_OP_PUT
			 ? model_task_decode(kv->value.p, kv->value.n, &rec, err, sizeof(err))
			 : BERTH_ENOTFOUND;
	bool match = rc == 0 && strcmp(rec.id, tid) == 0 && strcmp(rec.cluster, c->cluster) == 0;
	if (rc == 0 && !match)
		model_task_free(&rec);
	if ((rc = judged(c, "task", tid, kv, rc, match, err)) == BERTH_ENOMEM)
		return rc;
	if (rc != 0) { /* deleted, or unreadable: absent */
		if (t != NULL) {
			if (c->hooks.task != NULL)
				c->hooks.task(c, t, true, c->hooks.data);
			wmap_del(&c->tasks, tid);
			task_free(c, t);
		}
		return 0;
	}
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL || (t->id = strdup(tid)) == NULL || wmap_put(&c->tasks, tid, t)) {
			if (t != NULL)
				free(t->id);
			free(t);
			model_task_free(&rec);
			return BERTH_ENOMEM;
		}
	} else {
		model_task_free(&t->rec);
	}
	t->rec = rec;
	t->rev = kv->mod_rev;
	if (c->hooks.task != NULL)
		c->hooks.task(c, t, false, c->hooks.data);
	return 0;
}

static int apply_service(struct cache *c, int type, const struct reply_kv *kv, const char *name)
{
	char err[256];
	struct cache_svc *s = wmap_get(&c->svcs, name);
	if (s != NULL && kv->mod_rev <= s->rev)
		return 0;
	struct model_service rec;
	int rc = type == MSG_OP_PUT
			 ? model_service_decode(kv->value.p, kv->value.n, &rec, err, sizeof(err))
			 : BERTH_ENOTFOUND;
	bool match = rc == 0 && strcmp(rec.name, name) == 0 && strcmp(rec.cluster, c->cluster) == 0;
	if (rc == 0 && !match)
		model_service_free(&rec);
	if ((rc = judged(c, "service", name, kv, rc, match, err)) == BERTH_ENOMEM)
		return rc;
	if (rc != 0) {
		if (s != NULL) {
			wmap_del(&c->svcs, name);
			svc_free(s);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL || (s->name = strdup(name)) == NULL || wmap_put(&c->svcs, name, s)) {
			if (s != NULL)
				free(s->name);
			free(s);
			model_service_free(&rec);
			return BERTH_ENOMEM;
		}
	} else {
		model_service_free(&s->rec);
	}
	s->rec = rec;
	s->rev = kv->mod_rev;
	if (c->hooks.service != NULL)
		c->hooks.service(c, s, c->hooks.data);
	return 0;
}

int cache_apply(struct cache *c, int type, const struct reply_kv *kv)
{
	struct model_key k;
	if (kv->key.n < c->plen || memcmp(kv->key.p, c->prefix, c->plen) != 0 ||
	    model_key_parse((const char *)kv->key.p, kv->key.n, &k) != 0 ||
	    strcmp(k.cluster, c->cluster) != 0)
		return 0; /* not one of ours: ignored */
	switch (k.kind) {
	case MODEL_KEY_INSTANCE:
		return apply_instance(c, type, kv, k.instance);
	case MODEL_KEY_ALIVE:
		return apply_alive(c, type, kv, k.instance);
	case MODEL_KEY_ALLOC_CPU:
	case MODEL_KEY_ALLOC_MEM:
		return apply_alloc(c, type, kv, &k);
	case MODEL_KEY_ALLOC_PORT:
		return apply_port(c, type, &k);
	case MODEL_KEY_PLACED:
		return apply_placed(c, type, &k);
	case MODEL_KEY_GROUP:
		return apply_group(c, type, kv, &k);
	case MODEL_KEY_TASK:
		return apply_task(c, type, kv, k.task);
	case MODEL_KEY_SERVICE:
		return apply_service(c, type, kv, k.service);
	case MODEL_KEY_FAMILY:
	case MODEL_KEY_TASKDEF:
		break;
	}
	return 0;
}
