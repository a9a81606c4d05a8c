/* client/ctl_sched.h: what berthctl's cluster commands share (docs/berthctl.md, "The
 * cluster"): checked options, reads of records, compare-and-swap writes with bounded
 * retries, and the commands themselves, one file per kind of record.
 *
 * Every function that returns an int returns berthctl's exit status (0, 1, or 2 when a
 * write's outcome is unknown) after printing what went wrong, unless it says otherwise.
 * Options are checked before anything is sent: a bad one exits 1 having contacted no one
 * (berth_open does not connect). */
#ifndef BERTH_CLIENT_CTL_SCHED_H
#define BERTH_CLIENT_CTL_SCHED_H

#include "client/ctl.h"
#include "client/model.h"

/* Attempts of one compare-and-swap before giving up with BERTH_EBUSY (jittered backoff
 * between them: docs/commits.md). */
#define CTL_CAS_ATTEMPTS 10
/* The largest task definition file read (the model refuses what encodes over 64 KiB). */
#define CTL_TASKDEF_FILE_MAX (1u << 20)
/* Tasks created by one transaction of task run (one compare and one put each; the store
 * allows 128 of each). */
#define CTL_RUN_BATCH 128
/* Keys per page when listing (the store also cuts a page at its result limit, 3 MiB). */
#define CTL_PAGE_KEYS 500

/* Unix time in milliseconds. */
uint64_t ctl_now_ms(void);
/* A seed for model_id_new, from getrandom (the clock if that fails). */
uint64_t ctl_seed(void);
/* Sleeps before attempt `attempt` (1, 2, ...) of a compare-and-swap: 10 ms doubling to
 * 320 ms, jittered by up to half. */
void ctl_backoff(uint64_t *rng, int attempt);

/* An integer option or argument in min..max; "what: must be MIN..MAX" otherwise. */
int ctl_uint_arg(struct ctl *c, const char *what, const char *s, uint32_t min, uint32_t max,
		 uint32_t *out);
/* --cluster's name, checked. */
int ctl_cluster_check(struct ctl *c);
/* --strategy and --constraint into model records (the caller frees them, also on failure:
 * the arrays are zeroed first). memberOf expressions go through ctl_expression_check. */
int ctl_placement(struct ctl *c, struct model_strategy *st, size_t *nst,
		  struct model_constraint *co, size_t *nco);
/* The one place where a memberOf expression is checked with the cluster query language
 * (client/query.h): its error names the column. */
int ctl_expression_check(struct ctl *c, const char *expression);
/* "FAMILY" or "FAMILY:REV" into family (MODEL_NAME_MAX + 1 bytes) and *rev (0: latest). */
int ctl_taskdef_ref(struct ctl *c, const char *ref, char *family, uint32_t *rev);
/* The task definition family:rev (rev 0: the latest) into *out (free it). */
int ctl_taskdef_load(struct ctl *c, struct berth *b, const char *family, uint32_t rev,
		     struct model_taskdef *out);

/* A linearizable get of key into *r (free it); *kv is the key or NULL when missing. */
int ctl_read(struct ctl *c, struct berth *b, const char *key, struct berth_result *r,
	     const struct reply_kv **kv);
/* Puts key = value (mp_buf) if the key's mod_rev is still mod_rev (0: it must not exist).
 * 0 with *won telling whether the compare held; otherwise the exit status of the failed
 * call. */
int ctl_cas_put(struct ctl *c, struct berth *b, const char *key, uint64_t mod_rev,
		const struct mp_buf *value, bool *won);

/* A read-modify-write of one record (docs/commits.md: compare R(key), put): reads key,
 * lets edit make the new value from the current one (kv NULL: the key is missing), puts
 * it if the key's mod_rev is unchanged, and starts again when another writer got there
 * first (CTL_CAS_ATTEMPTS, then BERTH_EBUSY). edit returns 0 with the new value appended
 * to out, or 0 with out left empty when there is nothing to write, or an exit status
 * (after printing why) that ends it all. *written says whether a put was made. */
typedef int (*ctl_edit_fn)(struct ctl *c, struct berth *b, void *arg, const struct reply_kv *kv,
			   struct mp_buf *out);
int ctl_cas_edit(struct ctl *c, struct berth *b, const char *key, ctl_edit_fn edit, void *arg,
		 bool *written);

/* Every key under prefix at one revision (in pages of CTL_PAGE_KEYS, or fewer when the
 * store cuts a result, each read at the first page's revision), handed to fn in key order; fn returns 0 to go on, else an
 * exit status that stops the walk and is returned. *rev (may be NULL): that revision. */
typedef int (*ctl_kv_fn)(struct ctl *c, void *arg, const struct reply_kv *kv);
int ctl_range_all(struct ctl *c, struct berth *b, const char *prefix, bool keys_only, ctl_kv_fn fn,
		  void *arg, uint64_t *rev);
/* Prints "  strategy S" and "  constraint C" lines, in their command line forms. */
void ctl_print_placement(const struct model_strategy *st, size_t nst,
			 const struct model_constraint *co, size_t nco);
/* A record that failed to decode, while listing: a warning on stderr; listing goes on. */
void ctl_warn_record(struct ctl *c, const struct reply_kv *kv, const char *why);

/* The commands (client/ctl_taskdef.c, ctl_instance.c, ctl_task.c, ctl_service.c,
 * ctl_cluster.c). */
int ctl_taskdef_register(struct ctl *c, struct berth *b);
int ctl_taskdef_list(struct ctl *c, struct berth *b);
int ctl_taskdef_describe(struct ctl *c, struct berth *b);
int ctl_instance_list(struct ctl *c, struct berth *b);
int ctl_instance_describe(struct ctl *c, struct berth *b);
int ctl_instance_drain(struct ctl *c, struct berth *b);
int ctl_instance_activate(struct ctl *c, struct berth *b);
int ctl_instance_attributes(struct ctl *c, struct berth *b);
int ctl_task_run(struct ctl *c, struct berth *b);
int ctl_task_list(struct ctl *c, struct berth *b);
int ctl_task_describe(struct ctl *c, struct berth *b);
int ctl_task_stop(struct ctl *c, struct berth *b);
int ctl_service_create(struct ctl *c, struct berth *b);
int ctl_service_update(struct ctl *c, struct berth *b);
int ctl_service_delete(struct ctl *c, struct berth *b);
int ctl_service_list(struct ctl *c, struct berth *b);
int ctl_service_describe(struct ctl *c, struct berth *b);
int ctl_cluster_describe(struct ctl *c, struct berth *b);

/* The state of a cluster's instances as one read saw it (client/ctl_cluster.c): each
 * instance with whether it is alive, its allocation counters, the ports held and the
 * tasks placed on it, and (when the read included tasks) how many are PENDING and
 * RUNNING there. */
struct ctl_inst {
	char id[MODEL_ID_MAX + 1];
	struct model_instance rec;
	bool has_rec, alive;
	int64_t cpu_used, mem_used;
	uint16_t *ports; /* owned */
	size_t nports;
	char **placed; /* owned: task ids */
	size_t nplaced;
	uint32_t pending, running;
};
struct ctl_view {
	uint64_t rev;
	struct ctl_inst *inst; /* owned, in key order */
	size_t ninst;
	size_t tasks[4];  /* tasks by last status (whole-cluster reads) */
	size_t nservices; /* services (whole-cluster reads) */
};
/* Reads the whole cluster (iid NULL) or one instance's keys into *v (free it with
 * ctl_view_free, also after a failure). */
int ctl_view_load(struct ctl *c, struct berth *b, const char *iid, struct ctl_view *v);
void ctl_view_free(struct ctl_view *v);
/* The instance's zone: attribute "zone", else "ecs.availability-zone", else NULL. */
const char *ctl_inst_zone(const struct ctl_inst *in);
/* An instance's usage as JSON: {"id", "status", "alive", "zone", "cpu": {"used",
 * "total"}, "memory": {...}, "ports": [...], "tasks": {"placed", "pending", "running"}}. */
json_t *ctl_inst_json(const struct ctl_inst *in);

#endif
