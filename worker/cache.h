/* worker/cache.h: the worker's in-memory copy of one cluster's keys (docs/worker.md).
 *
 * Fed with the key-values of a list at revision R and then with a watch's events from R
 * (cache_apply), and with what a failed transaction's failure branch returned. Every
 * record and counter remembers the mod_rev it was read at, and an update not newer than
 * what the cache holds is ignored (nor are its hooks called again), so out-of-band refreshes and the watch can be mixed in any
 * order without going back in time.
 *
 * Tables: instances (record, alive, cpu and memory in use, ports in use, tasks placed),
 * tasks, services, group counters (group, instance). Keys of the cluster the cache does
 * not know are ignored; a record that does not decode is logged once per revision and
 * ignored (the key is treated as absent), never trusted.
 *
 * The cache calls its hooks after each change so the scheduler can keep its queues:
 * task (a task record was written or removed), capacity (something that may let a parked
 * task fit: an instance joined or changed, an instance came alive, a counter went down, a
 * port or placed key was removed), lost (alive/I was deleted), service, used (an
 * instance's usage went up). Hooks must not change the cache. */
#ifndef BERTH_WORKER_CACHE_H
#define BERTH_WORKER_CACHE_H

#include "client/model.h"
#include "client/query.h"
#include "common/reply.h"
#include "worker/wmap.h"

#include <stdbool.h>
#include <stdint.h>

struct cache_inst {
	char *id; /* owned */
	bool has_rec;
	struct model_instance rec; /* valid when has_rec */
	int64_t rev;               /* mod_rev of instances/I (deletion rev once deleted) */
	struct query_attr *attrs;  /* owned: rec's attributes as the query matcher reads them */
	bool alive;
	int64_t alive_rev;
	int64_t cpu_used, cpu_rev; /* alloc/I/cpu and its mod_rev */
	int64_t mem_used, mem_rev;
	uint64_t busy_ms;    /* the scheduler's: another worker placed on it then (loop ms) */
	uint32_t held;       /* the scheduler's: its own placements on it in flight */
	int64_t mine_rev[4]; /* the scheduler's: revisions of its last commits on it */
	struct wmap ports;   /* "port" -> (void *)1: alloc/I/port/P present */
	uint64_t nplaced;    /* placed/I/<tid> keys */
	size_t idx;          /* scratch for the scheduler */
};

struct cache_task {
	char *id; /* owned */
	struct model_task rec;
	int64_t rev;            /* mod_rev of tasks/T */
	struct query **queries; /* owned by the scheduler (memberOf, compiled lazily) */
	int queue;              /* the scheduler's bookkeeping (worker/sched.c) */
	unsigned tries;         /* placement attempts since it was queued */
	struct cache_task *prev, *next;
};

struct cache_svc {
	char *name; /* owned */
	struct model_service rec;
	int64_t rev;
};

struct cache_count {
	int64_t value;
	int64_t rev;
};

struct cache;
struct cache_hooks {
	void (*task)(struct cache *c, struct cache_task *t, bool removed, void *data);
	void (*capacity)(struct cache *c, void *data);
	void (*lost)(struct cache *c, struct cache_inst *in, void *data);
	void (*service)(struct cache *c, struct cache_svc *s, void *data);
	/* Called before a task is freed (its record removed, or the cache reset). */
	void (*task_free)(struct cache *c, struct cache_task *t, void *data);
	void *data;
	/* alloc/I/cpu or alloc/I/mem went up, written at revision rev (may be NULL). */
	void (*used)(struct cache *c, struct cache_inst *in, int64_t rev, void *data);
};

struct cache {
	char cluster[MODEL_NAME_MAX + 1];
	char prefix[MODEL_KEY_MAX]; /* /berth/c/<cluster>/ */
	size_t plen;
	struct wmap insts;  /* iid -> struct cache_inst */
	struct wmap tasks;  /* tid -> struct cache_task */
	struct wmap svcs;   /* name -> struct cache_svc */
	struct wmap groups; /* "group\x01iid" -> struct cache_count */
	struct cache_hooks hooks;
	uint64_t rev; /* everything up to rev has been applied (list, then watch) */
	uint64_t bad; /* records refused by their decoder */
};

/* An empty cache of cluster (a valid name): 0, BERTH_EBADREQ. */
int cache_init(struct cache *c, const char *cluster, const struct cache_hooks *hooks);
/* Frees everything (task_free runs for each task). */
void cache_close(struct cache *c);
/* Forgets everything (before a new list). */
void cache_reset(struct cache *c);

/* One key-value: type MSG_OP_PUT (kv carries the value) or MSG_OP_DEL (kv->mod_rev is
 * the deletion's revision). Applied only when newer than what the cache holds for that
 * key. 0 or BERTH_ENOMEM. */
int cache_apply(struct cache *c, int type, const struct reply_kv *kv);

struct cache_inst *cache_inst(const struct cache *c, const char *iid);
struct cache_task *cache_task(const struct cache *c, const char *tid);
/* The group counter of (group, iid): 0 when absent. */
int64_t cache_group(const struct cache *c, const char *group, const char *iid);
/* The group counter's key in the groups table into out[MODEL_KEY_MAX]. */
void cache_group_key(char *out, const char *group, const char *iid);

#endif
