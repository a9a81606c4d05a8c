/* tests/unit/model_gen.h: the command generator of the model-based test (test_model.c). It
 * looks at the model to aim at keys and leases that exist, and draws from the run's rng. */
#ifndef BERTH_TESTS_MODEL_GEN_H
#define BERTH_TESTS_MODEL_GEN_H

#include "common/msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEN_MAX_CMP 4 /* compares per generated txn */
#define GEN_MAX_OPS 6 /* operations per branch */
#define GEN_BATCH 8   /* entries per batch, at most */
#define GEN_BUF 4096  /* bytes a generated command may borrow */

/* A generated command and everything it borrows. */
struct gcmd {
	struct msg_cmd c;
	bool read; /* answered by fsm_read instead of being applied */
	struct msg_compare cmp[GEN_MAX_CMP];
	struct msg_op succ[GEN_MAX_OPS];
	struct msg_op fail[GEN_MAX_OPS];
	uint64_t leases[4];
	uint8_t buf[GEN_BUF];
	size_t used;
};

struct run;

/* Any command into g; `log_only` leaves out reads (inside a batch they would not see the
 * batch). Uses x's rng, model, step and long_pct. */
void model_gen_cmd(struct run *x, struct gcmd *g, bool log_only);

#endif
