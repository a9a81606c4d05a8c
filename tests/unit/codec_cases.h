/* tests/unit/codec_cases.h: known-good messages for the codec tests (a command and a request
 * of every type with every field set, a reply with every field), the ways to compare
 * decoded structures with them, and a state machine fixture. */
#ifndef BERTH_TESTS_CODEC_CASES_H
#define BERTH_TESTS_CODEC_CASES_H

#include "common/msg.h"
#include "common/reply.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An owned byte string. */
struct blob {
	uint8_t *p;
	size_t n;
};

/* A reply's kv that decodes, in the notation of codec_lit_pack. */
#define KV_OK "{k: b'a', v: b'1', c: 1, m: 1, ver: 1, l: 0}"

/* Monotonic seconds. */
double codec_cases_now_s(void);
/* The next value of a seeded generator (splitmix64): the same seed, the same sequence. */
uint64_t codec_cases_rng_next(uint64_t *s);

/* ---- structure comparison ---- */
bool codec_cases_bytes_same(struct bytes a, struct bytes b);
/* The name of the first differing field, or NULL. */
const char *codec_cases_cmd_diff(const struct msg_cmd *a, const struct msg_cmd *b);
const char *codec_cases_req_diff(const struct msg_req *a, const struct msg_req *b);
/* Fails the test, naming the field, when diff is not NULL. */
void codec_cases_assert_same(const char *diff);
/* Every borrowed byte string lies inside [lo, lo + n). */
bool codec_cases_in_buf(struct bytes b, const uint8_t *lo, size_t n);
bool codec_cases_op_borrows(const struct msg_op *o, const uint8_t *lo, size_t n);
bool codec_cases_txn_borrows(const struct msg_txn *t, const uint8_t *lo, size_t n);
/* A failed decode leaves nothing allocated behind. */
void codec_cases_assert_cmd_empty(const struct msg_cmd *c);
void codec_cases_assert_req_empty(const struct msg_req *r);
void codec_cases_assert_reply_empty(const struct reply *r);

/* ---- samples: a value for every field ---- */
extern const uint8_t codec_cases_odd_bytes[7];
extern uint64_t codec_cases_leases[3];
extern const uint8_t codec_cases_kv1_key[3];
/* One or more commands (requests) of every type; returns how many (out has room for 16).
 * big: a 300-byte key, a 70,000-byte value and 20 failure ops in the txn; otherwise a few
 * bytes each (for the fuzz). They borrow static storage. */
size_t codec_cases_cmds(struct msg_cmd *out, bool big);
size_t codec_cases_reqs(struct msg_req *out, bool big);
/* Encodings in exact heap buffers (free them). */
uint8_t *codec_cases_encode_cmd(const struct msg_cmd *c, size_t *n);
uint8_t *codec_cases_encode_req(const struct msg_req *r, size_t *n);
/* A reply with every field, packed by hand with the reply helpers. */
uint8_t *codec_cases_reply(size_t *n);

/* ---- the state machine ---- */
/* cmocka setup and teardown: *state is a fresh struct tfsm (support.h). */
int codec_cases_fsm_setup(void **state);
int codec_cases_fsm_teardown(void **state);
/* A range over every key. */
struct msg_op codec_cases_op_all(void);

#endif
