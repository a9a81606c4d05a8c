/* tests/unit/model_run.h: the driver of the model-based test (test_model.c): one run is a
 * state machine (two for the determinism test), the model and the generator, driven side by
 * side; every reply and, after every step, the whole state are compared, and a mismatch is
 * reported with the seed, the step, the command and both replies. */
#ifndef BERTH_TESTS_MODEL_RUN_H
#define BERTH_TESTS_MODEL_RUN_H

#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/model.h"
#include "tests/unit/model_gen.h"
#include "tests/unit/rng.h"
#include "tests/unit/support.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_DEFAULT_TXNS 20000
#define STAT_ERRS 32 /* BERTH_E* codes counted, by code - BERTH_ERR_BASE */

/* The printed seed and the command count (BERTH_MODEL_SEED, BERTH_MODEL_TXNS): main sets
 * them, model_run_setup copies them into each run. */
extern uint64_t model_run_seed;
extern uint64_t model_run_txns;

struct run {
	const char *name;
	uint64_t seed;
	uint64_t txns;
	uint64_t step; /* commands generated so far: the failing one is printed */
	struct rng rng;
	struct fsm_config cfg;
	uint64_t hash_mask;
	unsigned long_pct; /* chance that a written key is a long one */
	struct tfsm t, t2;
	bool open, open2;
	struct model m;
	struct reply exp, act;
	struct gcmd g;
	struct mp_buf enc[GEN_BATCH];
	struct mp_buf out;
	uint8_t *arep[GEN_BATCH]; /* the single-entry machine's replies, for the batched one */
	size_t arep_n[GEN_BATCH];
	/* What the run covered, printed at the end. */
	uint64_t errs[STAT_ERRS];
	uint64_t else_branch, reopens, batches, compactions, past_reads, max_keys;
	/* For reports: whether the state is being checked after a step, and that step. */
	bool checking;
	bool reopened;  /* the step was a close and reopen */
	size_t batch_k; /* the step was a batch of this many entries */
};

/* The cmocka fixture: *state is a struct run with default settings; the teardown closes
 * whatever the test opened. */
int model_run_setup(void **state);
int model_run_teardown(void **state);

/* Each test draws from its own stream of the one printed seed. */
void model_run_start(struct run *x, const char *name, uint64_t stream);

/* fsm_apply and fsm_read fail only on fatal errors (store/fsm.h), never for a command. */
void model_run_check_fatal(struct run *x, int rv, struct fsm *f, const struct msg_cmd *c,
			   bool read);
/* Compares x->exp (the model) with x->act (the store) and counts what was covered. */
void model_run_expect(struct run *x, const struct msg_cmd *c, bool read);
/* c encoded into b as a log entry. */
void model_run_encode_cmd(struct mp_buf *b, const struct msg_cmd *c);
/* The whole state, after every step: every key (and every 8th step every key at a past
 * revision), the revision, the compaction point, the applied index and the leases. */
void model_run_check_state(struct run *x);
/* Prints what the run covered. */
void model_run_report(const struct run *x);
/* Random steps until x->txns commands: single commands and reads, and when asked, reopens
 * and batches; then the report and, for a long enough run, the coverage checks. */
void model_run_random(struct run *x, bool reopen, bool batches);
/* Reports a reply of the batched machine that differs from the same entry applied alone. */
void model_run_batch_differs(struct run *x, uint64_t step, size_t i, size_t k);

#endif
