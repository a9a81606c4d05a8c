/* tests/unit/support.h: helpers shared by the unit tests: temporary directories, command
 * builders, and applying commands to a state machine with the reply decoded. */
#ifndef BERTH_TESTS_SUPPORT_H
#define BERTH_TESTS_SUPPORT_H

#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"

#include <stdint.h>

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); the returned string is
 * owned by the caller. support_rmrf removes a tree. */
char *support_tmpdir(void);
void support_rmrf(const char *path);

/* A state machine on a fresh temporary directory, with default limits (or cfg). */
struct tfsm {
	struct fsm f;
	char *dir;
	uint64_t index; /* last index given to tfsm_apply */
	struct mp_buf out;
	uint8_t *last; /* bytes of the last reply (owned) */
	size_t last_len;
};
/* The configuration tfsm_open uses when given NULL: default limits, no fsync, a 1 GiB
 * map. Tests change limits on top of it. */
void tfsm_config(struct fsm_config *c);
void tfsm_open(struct tfsm *t, const struct fsm_config *cfg); /* asserts success */
void tfsm_close(struct tfsm *t);                              /* and removes the dir */
/* Closes the state machine and opens its directory again with cfg (NULL: tfsm_config).
 * Returns fsm_open's result; on success the applied index is what it was, and t->index
 * follows it. */
int tfsm_reopen(struct tfsm *t, const struct fsm_config *cfg);

/* Encodes c, applies it at the next index in its own batch, decodes the reply into r
 * (reply_free it). Returns fsm_apply's result (0 unless fatal). */
int tfsm_apply(struct tfsm *t, const struct msg_cmd *c, struct reply *r);
/* The same through fsm_read (read-only txn). */
int tfsm_read(struct tfsm *t, const struct msg_txn *txn, struct reply *r);

/* Builders: they borrow the strings (NUL-terminated) they are given. */
struct bytes B(const char *s);
struct msg_op op_put(const char *k, const char *v);
struct msg_op op_get(const char *k);
struct msg_op op_range(const char *start, const char *end); /* end NULL: prefix range */
struct msg_op op_del(const char *k);
struct msg_op op_add(const char *k, int64_t delta);
struct msg_compare cmp_num(uint8_t target, const char *k, uint8_t op, int64_t num);
struct msg_compare cmp_val(const char *k, uint8_t op, const char *v);
/* A txn command with the given compares and branches (arrays borrowed). */
struct msg_cmd cmd_txn(struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ, uint32_t nsucc,
		       struct msg_op *fail, uint32_t nfail);
/* Shorthands that apply and check nothing but fatal errors. */
void t_put(struct tfsm *t, const char *k, const char *v);
void t_del(struct tfsm *t, const char *k);
/* Current value of k as a NUL-terminated copy in a static buffer, or NULL if missing. */
const char *t_get(struct tfsm *t, const char *k);

#endif
