/* tests/unit/test_codec_fsm.c: bad entries reaching the state machine (store/fsm.c): every
 * malformed command, truncation and wrong-typed field is answered {err: BERTH_EBADREQ, rev}
 * and changes nothing else; a range over the empty prefix is a result, never fatal.
 *
 * Every input is handed to the code under test in a heap buffer of exactly its size, so
 * that ASan reports any read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/codec_bad.h"
#include "tests/unit/codec_cases.h"
#include "tests/unit/codec_lit.h"
#include "tests/unit/support.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bad entries reaching the state machine -------------------------------------------- */

/* The whole visible state as reply bytes: every key now, and every key at revision 2. */
static struct blob fsm_state(struct tfsm *t)
{
	struct msg_op ops[2] = {codec_cases_op_all(), codec_cases_op_all()};
	ops[1].rev = 2;
	struct msg_txn txn = {0, 2, 0, NULL, ops, NULL};
	struct reply r;
	assert_int_equal(tfsm_read(t, &txn, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 2);
	reply_free(&r);
	return (struct blob){codec_lit_dup(t->last, t->last_len), t->last_len};
}

/* Applies raw bytes at the next index; the reply is decoded into r (borrowing t->last). */
static void apply_raw(struct tfsm *t, const uint8_t *p, size_t n, struct reply *r)
{
	uint8_t *d = codec_lit_dup(p, n);
	mp_buf_reset(&t->out);
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	assert_int_equal(fsm_apply(&t->f, t->index + 1, d, n, &t->out), 0);
	assert_int_equal(fsm_batch_commit(&t->f), 0);
	t->index++;
	free(d);
	free(t->last);
	t->last = codec_lit_dup(t->out.data, t->out.len);
	t->last_len = t->out.len;
	assert_int_equal(reply_decode(t->last, t->last_len, r), 0);
}

/* A bad entry: {err: BERTH_EBADREQ, rev}, applied, and nothing else changed. */
static void check_refused(struct tfsm *t, const uint8_t *p, size_t n, const struct blob *before)
{
	struct fsm_meta m0 = t->f.saved, m1;
	struct reply r;
	apply_raw(t, p, n, &r);
	struct mp_buf want;
	size_t wn;
	mp_buf_init(&want);
	reply_pack_error(&want.pk, BERTH_EBADREQ, m0.rev);
	uint8_t *w = codec_lit_finish(&want, &wn);
	assert_int_equal(t->last_len, wn); /* exactly {err: BERTH_EBADREQ, rev} */
	assert_memory_equal(t->last, w, wn);
	free(w);
	assert_int_equal(r.err, BERTH_EBADREQ);
	assert_int_equal(r.rev, m0.rev);
	assert_int_equal(r.nops, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.id, 0);
	reply_free(&r);
	assert_int_equal(fsm_applied(&t->f), m0.applied + 1);
	assert_int_equal(t->index, m0.applied + 1);
	m1 = t->f.saved;
	m1.applied = m0.applied;
	assert_memory_equal(&m0, &m1, sizeof(m0)); /* revision, clock, leases, sessions */
	struct blob now = fsm_state(t);
	assert_int_equal(now.n, before->n);
	assert_memory_equal(now.p, before->p, now.n);
	free(now.p);
}

static void test_codec_fsm_bad_entries(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	size_t n;
	uint8_t *p;
	struct msg_cmd grant = {.type = MSG_CMD_LEASE_GRANT, .time_ms = 1000, .ttl = 60};
	assert_int_equal(tfsm_apply(t, &grant, &r), 0);
	reply_free(&r);
	struct msg_op put = op_put("a", "1");
	put.lease = 1;
	struct msg_cmd c = cmd_txn(NULL, 0, &put, 1, NULL, 0);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.rev, 1);
	reply_free(&r);
	t_put(t, "b", "2");
	t_put(t, "c", "3");
	t_del(t, "c");
	struct msg_cmd open = {.type = MSG_CMD_SESSION_OPEN, .time_ms = 1000, .ttl = 3600000};
	assert_int_equal(tfsm_apply(t, &open, &r), 0);
	uint64_t sid = r.id;
	assert_int_equal(sid, t->index);
	reply_free(&r);
	assert_int_equal(fsm_revision(&t->f), 4);
	struct blob before = fsm_state(t);

	/* Every malformed command of the decoder table. */
	for (size_t i = 0; i < codec_bad_ncmds; i++) {
		p = codec_lit_pack(codec_bad_cmds[i].bad, &n);
		check_refused(t, p, n, &before);
		free(p);
	}
	/* Every truncation of a valid command through the session. */
	struct msg_op put_d = op_put("d", "4");
	struct msg_cmd good = cmd_txn(NULL, 0, &put_d, 1, NULL, 0);
	good.time_ms = 999999;
	good.session = sid;
	good.seq = 1;
	size_t enc_n;
	uint8_t *enc = codec_cases_encode_cmd(&good, &enc_n);
	for (size_t k = 0; k < enc_n; k++)
		check_refused(t, enc, k, &before);
	/* The same command with a wrong-typed field, or an unknown op type. */
	static const char *const wrong[] = {
		"{T: 1, ts: 999999, sid: %s, seq: 1, x: {s: [{t: 1, k: b'd', v: 4}]}}",
		"{T: 1, ts: 999999, sid: %s, seq: 1, x: {s: [{t: 9, k: b'd', v: b'4'}]}}",
		"{T: 1, ts: 999999, sid: %s, seq: 1, x: {s: [{t: 1, k: b'd', v: b'4', l: -1}]}}",
		"{T: 9, ts: 999999, sid: %s, seq: 1, x: {s: [{t: 1, k: b'd', v: b'4'}]}}",
		"{T: 0, ts: 999999, sid: %s, seq: 1, x: {s: [{t: 1, k: b'd', v: b'4'}]}}",
		"{T: 255, ts: 999999, sid: %s, seq: 1, x: {s: [{t: 1, k: b'd', v: b'4'}]}}",
		"{T: 2, ts: 999999, sid: %s, seq: 1, rev: -1}",
		"{T: 3, ts: 999999, sid: %s, seq: 1, ttl: '60'}",
		"{T: 5, ts: 999999, sid: %s, seq: 1, leases: [1, -1]}",
	};
	for (size_t i = 0; i < ARRAY_LEN(wrong); i++) {
		char text[256], num[32];
		snprintf(num, sizeof(num), "%" PRIu64, sid);
		const char *at = strstr(wrong[i], "%s");
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - wrong[i]), wrong[i], num,
			 at + 2);
		p = codec_lit_pack(text, &n);
		check_refused(t, p, n, &before);
		free(p);
	}
	/* Garbage. */
	uint64_t s = 99;
	for (int i = 0; i < 300; i++) {
		uint8_t g[64];
		size_t len = codec_cases_rng_next(&s) % sizeof(g);
		for (size_t k = 0; k < len; k++)
			g[k] = (uint8_t)codec_cases_rng_next(&s);
		if (i % 3 == 0 && len > 0)
			g[0] = 0x80 | (g[0] & 0x0f); /* a fixmap: gets further */
		struct msg_cmd probe;
		if (msg_cmd_decode(g, len, &probe) == 0) {
			msg_cmd_free(&probe);
			continue;
		}
		check_refused(t, g, len, &before);
	}
	free(before.p);

	/* The state machine still works, and the session never saw seq 1. */
	uint64_t rev = fsm_revision(&t->f);
	size_t padded = (enc_n + 7) / 8 * 8;
	uint8_t *pad = calloc(1, padded);
	assert_non_null(pad);
	memcpy(pad, enc, enc_n);
	apply_raw(t, pad, padded, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, rev + 1);
	assert_int_equal(r.nops, 1);
	reply_free(&r);
	struct blob first = {codec_lit_dup(t->last, t->last_len), t->last_len};
	assert_string_equal(t_get(t, "d"), "4");
	apply_raw(t, pad, padded, &r); /* a retry: the first reply, nothing applied */
	reply_free(&r);
	assert_int_equal(t->last_len, first.n);
	assert_memory_equal(t->last, first.p, first.n);
	assert_int_equal(fsm_revision(&t->f), rev + 1);
	free(first.p);
	free(pad);
	free(enc);
}

/* A range or a delete over the empty prefix means every key (txn_check accepts it and
 * txn_prefix_end gives it no upper bound). Whatever the outcome, it must be a result:
 * a fatal error from a client's request would stop every member at that entry. */
static void test_codec_fsm_range_empty_prefix(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	t_put(t, "a", "1");
	t_put(t, "b", "2");
	struct msg_op all = op_range("", NULL);
	struct msg_txn read = {0, 1, 0, NULL, &all, NULL};
	assert_int_equal(tfsm_read(t, &read, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 2);
	reply_free(&r);
	struct msg_cmd c = cmd_txn(NULL, 0, &all, 1, NULL, 0);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].count, 2);
	reply_free(&r);
	struct msg_op del = op_del("");
	del.flags = MSG_F_PREFIX;
	c = cmd_txn(NULL, 0, &del, 1, NULL, 0);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ops[0].deleted, 2);
	assert_int_equal(r.rev, 3);
	reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_codec_fsm_bad_entries, codec_cases_fsm_setup,
						codec_cases_fsm_teardown),
		cmocka_unit_test_setup_teardown(test_codec_fsm_range_empty_prefix,
						codec_cases_fsm_setup, codec_cases_fsm_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
