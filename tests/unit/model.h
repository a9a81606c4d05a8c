/* tests/unit/model.h: the reference model of the state machine for the model-based test
 * (test_model.c): a small in-memory store written from the documented semantics
 * (DESIGN.md section 3, docs/store.md, store/txn.h, store/fsm.h, store/compact.h,
 * store/lease.h, common/msg.h), to compare with store/fsm.c reply by reply.
 *
 * The model keeps, per key of a fixed universe, every version (or tombstone) back to the
 * compaction point, so a read at revision R is the newest version at or before R. */
#ifndef BERTH_TESTS_MODEL_H
#define BERTH_TESTS_MODEL_H

#include "common/msg.h"
#include "common/reply.h"
#include "tests/unit/model_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_KEY_BYTES 1024 /* fsm_config_default's key limit */

/* One version of a key: a value, or a tombstone. */
struct mver {
	uint64_t rev; /* the revision of this change: the version's mod_rev */
	bool live;
	uint8_t *val; /* owned */
	size_t vn;
	int64_t create_rev;
	int64_t version;
	uint64_t lease;
};

struct mhist {
	struct mver *v; /* oldest first, nothing older than needed for reads at >= compacted */
	size_t n, cap;
};

struct mlease {
	uint64_t id;
	int64_t ttl;
};

/* A zeroed struct model is the empty store at revision 0; model_free releases it. */
struct model {
	struct mhist hist[MODEL_MAX_KEYS]; /* by universe index */
	uint64_t rev;
	uint64_t compacted;
	uint64_t next_lease;   /* the last id the state machine picked */
	struct mlease *leases; /* by id */
	size_t nleases, lcap;
	/* The command being applied: its changes, committed at rev + 1 when it succeeds. */
	struct mver pend[MODEL_MAX_KEYS];
	bool changed[MODEL_MAX_KEYS];
	bool any_changed;
	uint64_t dropped; /* keys deleted by lease revoke or expiry, for the report */
};

void model_free(struct model *m);

/* The committed current version of key i, NULL when absent. */
const struct mver *model_current(const struct model *m, size_t i);
/* The index of lease id in m->leases, or -1. */
int model_lease_find(const struct model *m, uint64_t id);
/* A stored value read as a msgpack integer (written here from the msgpack spec, not with
 * common/mp.c): exactly one integer that fits int64. */
bool model_int(const uint8_t *p, size_t n, int64_t *out);

/* Compares first (against the state before, stopping at the first that does not hold),
 * then one branch in order; any error rejects the whole transaction. write_ok false
 * answers as fsm_read does. The reply goes to r, which is overwritten (reply_free it after). */
void model_txn(struct model *m, const struct msg_txn *t, bool write_ok, struct reply *r);
/* Applies command c to the model; r receives the reply the state machine must give. */
void model_apply(struct model *m, const struct msg_cmd *c, struct reply *r);

#endif
