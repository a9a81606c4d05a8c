/* tests/unit/fsm_check.h: helpers shared by the state machine tests (test_fsm_*.c): byte
 * string literals and operation builders, applying and reading with exact checks that report
 * the caller's line, whole-database snapshots, long keys, and the fixture that owns each
 * test's state machine. */
#ifndef BERTH_TESTS_FSM_CHECK_H
#define BERTH_TESTS_FSM_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "store/kv.h"
#include "tests/unit/support.h"

#include <stdbool.h>

/* A byte string literal that may hold zero bytes: LIT("a\0") is two bytes long. */
#define LIT(s) ((struct bytes){(const uint8_t *)(s), sizeof(s) - 1})
/* The same as an initializer, for static tables. (clang-format would spread this one-line
 * brace list over four lines.) */
// clang-format off
#define LITI(s) {(const uint8_t *)(s), sizeof(s) - 1}
// clang-format on

/* Assertions that report the caller's line (the helpers below are called many times). */
#define EQ_AT(a, b, file, line)                                                                    \
	_assert_int_equal(cast_to_largest_integral_type(a), cast_to_largest_integral_type(b),      \
			  file, line)

struct bytes fsm_check_bytes(const void *p, size_t n);
/* v as a stored msgpack integer (what `add` writes and `int` compares read). */
struct bytes fsm_check_int(int64_t v, uint8_t buf[9]);
int fsm_check_bytes_cmp(struct bytes a, struct bytes b);
int fsm_check_bytes_qsort_cmp(const void *a, const void *b);
void fsm_check_bytes_eq_at(struct bytes got, struct bytes want, const char *file, int line);

/* ---- operation builders on byte strings ---- */

struct msg_op fsm_check_put_b(struct bytes k, struct bytes v);
struct msg_op fsm_check_get_at(struct bytes k, uint64_t rev);
struct msg_op fsm_check_del_b(struct bytes k);
struct msg_op fsm_check_add_b(struct bytes k, int64_t delta);
struct msg_op fsm_check_span(uint8_t type, struct bytes start, struct bytes end);
struct msg_op fsm_check_prefix(uint8_t type, struct bytes p);
/* Every key: [one zero byte, end). Keys are never empty, so none sorts before it. (The
 * empty prefix means the same; test_fsm_range_empty_prefix tests it on its own.) */
struct msg_op fsm_check_all_keys(uint8_t type);

/* ---- applying and reading ---- */

/* Applies one txn at the next index; only a fatal apply error fails here. */
void fsm_check_run(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
		   uint32_t nsucc, struct msg_op *fail, uint32_t nfail, struct reply *r);
/* No compares: the success branch runs, one result per op unless rejected. */
void fsm_check_run_ops(struct tfsm *t, struct msg_op *ops, uint32_t n, struct reply *r);
void fsm_check_read_txn(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ,
			uint32_t nsucc, struct msg_op *fail, uint32_t nfail, struct reply *r);
void fsm_check_read_ops(struct tfsm *t, struct msg_op *ops, uint32_t n, struct reply *r);
/* Applies one write that must succeed and raise the revision by exactly one. */
void fsm_check_put_ok(struct tfsm *t, struct bytes k, struct bytes v);

/* A rejected command: {err, rev} and nothing else. */
#define CHECK_ERR(r, err, rev) fsm_check_err(__FILE__, __LINE__, (r), (err), (rev))
void fsm_check_err(const char *file, int line, struct reply *r, int err, uint64_t rev);

#define CHECK_KV(kv, k, v, c, m, ver)                                                              \
	fsm_check_kv(__FILE__, __LINE__, (kv), (k), (v), (c), (m), (ver))
void fsm_check_kv(const char *file, int line, const struct reply_kv *kv, struct bytes k,
		  struct bytes v, int64_t c, int64_t m, int64_t ver);

/* Reads one key (at rev; 0 = current) through fsm_read and checks its one record. */
#define CHECK_GET(t, k, rev, v, c, m, ver)                                                         \
	fsm_check_get(__FILE__, __LINE__, (t), (k), (rev), (v), (c), (m), (ver))
void fsm_check_get(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev,
		   struct bytes v, int64_t c, int64_t m, int64_t ver);

#define CHECK_MISSING(t, k, rev) fsm_check_missing(__FILE__, __LINE__, (t), (k), (rev))
void fsm_check_missing(const char *file, int line, struct tfsm *t, struct bytes k, uint64_t rev);

/* Checks the keys of one op result, in order. */
void fsm_check_keys_at(const char *file, int line, const struct reply_op *o,
		       const struct bytes *keys, size_t n);

/* CHECK_RANGE(t, op, keys, n, count, more) runs one range op through fsm_read: exactly
 * keys[0..n) in order, then count and more. keys and n may come from SK() (test_fsm_range.c). */
#define CHECK_RANGE(t, op, ...) fsm_check_range(__FILE__, __LINE__, (t), (op), __VA_ARGS__)
void fsm_check_range(const char *file, int line, struct tfsm *t, struct msg_op op,
		     const struct bytes *keys, size_t n, uint64_t count, bool more);

/* ---- whole-database state, to prove that a rejected command changed nothing ---- */

struct fsm_check_state {
	struct mp_buf db; /* every record of the data tables (not meta: the applied index
			   * moves on with every entry, even a rejected one) */
	uint64_t rev;
};

void fsm_check_state_take(struct tfsm *t, struct fsm_check_state *s);

/* Asserts the database and revision equal the state taken before; releases it. */
#define CHECK_UNCHANGED(t, s) fsm_check_unchanged(__FILE__, __LINE__, (t), (s))
void fsm_check_unchanged(const char *file, int line, struct tfsm *t,
			 struct fsm_check_state *before);

/* Entries of the revision log (revs table) at revision rev; checks their sub numbers run
 * 0, 1, 2... and that each points at a hist key of that revision. */
size_t fsm_check_revs_at(struct tfsm *t, uint64_t rev);

/* ---- long keys ---- */

struct fsm_check_lkey {
	uint8_t b[KV_KEY_HARD_MAX];
	size_t n;
};

/* fill bytes of 'p', then tail[0..tn). */
struct bytes fsm_check_lkey(struct fsm_check_lkey *k, size_t fill, const void *tail, size_t tn);

/* ---- the fixture ---- */

/* The configuration tfsm_open uses when given NULL. */
void fsm_check_config(struct fsm_config *cfg);

/* Each test's state machine lives in the fixture, so that a failing test (cmocka jumps
 * out of it) still has its database closed and its directory removed by the teardown. */
int fsm_check_setup(void **state);
int fsm_check_teardown(void **state);
void fsm_check_close(struct tfsm *t);

#endif
