/* tests/unit/test_msg.c: the message codecs (common/msg.c, reply.c): round trips of every
 * command, request and reply type with every field, the wire format pinned byte for byte,
 * replies from a real state machine, malformed messages refused without leaks, and the
 * error table.
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

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- round trips ---------------------------------------------------------------------- */

static void check_cmd_round_trip(const struct msg_cmd *c)
{
	size_t n;
	uint8_t *p = codec_cases_encode_cmd(c, &n);
	for (size_t pad = 0; pad < 8; pad++) {
		uint8_t *d = calloc(1, n + pad);
		assert_non_null(d);
		memcpy(d, p, n);
		struct msg_cmd got;
		assert_int_equal(msg_cmd_decode(d, n + pad, &got), 0);
		codec_cases_assert_same(codec_cases_cmd_diff(c, &got));
		assert_true(codec_cases_txn_borrows(&got.txn, d, n));
		msg_cmd_free(&got);
		codec_cases_assert_cmd_empty(&got);
		free(d);
	}
	/* Padded to 8 bytes, as raft log entries are. */
	size_t padded = (n + 7) / 8 * 8;
	uint8_t *d = calloc(1, padded);
	assert_non_null(d);
	memcpy(d, p, n);
	struct msg_cmd got;
	assert_int_equal(msg_cmd_decode(d, padded, &got), 0);
	codec_cases_assert_same(codec_cases_cmd_diff(c, &got));
	msg_cmd_free(&got);
	free(d);
	free(p);
}

static void test_codec_cmd_round_trip(void **state)
{
	struct msg_cmd cmds[24];
	unsigned seen = 0;
	(void)state;
	size_t n = codec_cases_cmds(cmds, true);
	for (size_t i = 0; i < n; i++) {
		check_cmd_round_trip(&cmds[i]);
		seen |= 1u << cmds[i].type;
	}
	assert_int_equal(seen, ((1u << MSG_CMD_TYPE_END) - 1) & ~1u); /* every type */
	/* Array32 branches: 65,536 one-key ranges. */
	struct msg_op *ops = calloc(65536, sizeof(*ops));
	assert_non_null(ops);
	for (uint32_t i = 0; i < 65536; i++)
		ops[i] = (struct msg_op){.type = MSG_OP_RANGE,
					 .key = {codec_cases_odd_bytes + i % 7, 1}};
	struct msg_cmd big = cmd_txn(NULL, 0, ops, 65536, ops, 3);
	check_cmd_round_trip(&big);
	free(ops);
	/* The expire list at its bound. */
	uint64_t *ids = calloc(MSG_MAX_EXPIRE, sizeof(*ids));
	assert_non_null(ids);
	for (uint32_t i = 0; i < MSG_MAX_EXPIRE; i++)
		ids[i] = UINT64_MAX - i;
	struct msg_cmd ex = {
		.type = MSG_CMD_LEASE_EXPIRE, .nleases = MSG_MAX_EXPIRE, .leases = ids};
	check_cmd_round_trip(&ex);
	free(ids);
}

/* The wire format, pinned: field names, order and integer widths. */
static void check_cmd_bytes(const struct msg_cmd *c, const char *want)
{
	size_t n, wn;
	uint8_t *p = codec_cases_encode_cmd(c, &n), *w = codec_lit_pack(want, &wn);
	assert_int_equal(n, wn);
	assert_memory_equal(p, w, n);
	free(p);
	free(w);
}

static void test_codec_cmd_exact_bytes(void **state)
{
	struct msg_op put = op_put("a", "1");
	put.lease = 300;
	struct msg_compare cmp = cmp_num(MSG_CMP_INT, "n", MSG_GE, -33);
	struct msg_cmd txn = cmd_txn(&cmp, 1, &put, 1, NULL, 0);
	txn.time_ms = 1000;
	(void)state;
	check_cmd_bytes(&txn, "{T: 1, ts: 1000, sid: 0, seq: 0, x: {c: [{t: 4, o: 5, k: b'n', "
			      "n: -33}], s: [{t: 1, k: b'a', v: b'1', l: 300}], f: []}}");
	struct msg_cmd tick = {.type = MSG_CMD_TICK, .time_ms = 123};
	check_cmd_bytes(&tick, "{T: 7, ts: 123, sid: 0, seq: 0}");
	size_t n;
	uint8_t *p = codec_cases_encode_cmd(&tick, &n), *w;
	w = codec_lit_hex("84 a1 54 07 a2 74 73 7b a3 73 69 64 00 a3 73 65 71 00", &n);
	assert_memory_equal(p, w, n);
	free(p);
	free(w);
	struct msg_cmd compact = {.type = MSG_CMD_COMPACT, .session = 5, .seq = 6, .rev = 70000};
	check_cmd_bytes(&compact, "{T: 2, ts: 0, sid: 5, seq: 6, rev: 70000}");
	struct msg_cmd grant = {.type = MSG_CMD_LEASE_GRANT, .lease = 9, .ttl = -1};
	check_cmd_bytes(&grant, "{T: 3, ts: 0, sid: 0, seq: 0, lease: 9, ttl: -1}");
	struct msg_cmd revoke = {.type = MSG_CMD_LEASE_REVOKE, .lease = 9};
	check_cmd_bytes(&revoke, "{T: 4, ts: 0, sid: 0, seq: 0, lease: 9}");
	struct msg_cmd expire = {
		.type = MSG_CMD_LEASE_EXPIRE, .nleases = 3, .leases = codec_cases_leases};
	check_cmd_bytes(&expire, "{T: 5, ts: 0, sid: 0, seq: 0, leases: [1, 4294967296, "
				 "18446744073709551615]}");
	struct msg_cmd open = {.type = MSG_CMD_SESSION_OPEN, .ttl = 5000};
	check_cmd_bytes(&open, "{T: 6, ts: 0, sid: 0, seq: 0, ttl: 5000}");
	struct msg_req hello = {.type = MSG_REQ_HELLO, .id = 1, .proto = 1, .token = B("tk")};
	size_t hn, wn;
	uint8_t *h = codec_cases_encode_req(&hello, &hn);
	w = codec_lit_pack("{T: 1, id: 1, sid: 0, seq: 0, proto: 1, token: b'tk'}", &wn);
	assert_int_equal(hn, wn);
	assert_memory_equal(h, w, hn);
	free(h);
	free(w);
}

static void test_codec_req_round_trip(void **state)
{
	struct msg_req reqs[24];
	unsigned seen = 0;
	(void)state;
	size_t nr = codec_cases_reqs(reqs, true);
	for (size_t i = 0; i < nr; i++) {
		size_t n;
		uint8_t *p = codec_cases_encode_req(&reqs[i], &n);
		for (size_t pad = 0; pad < 8; pad++) {
			uint8_t *d = calloc(1, n + pad);
			assert_non_null(d);
			memcpy(d, p, n);
			struct msg_req got;
			assert_int_equal(msg_req_decode(d, n + pad, &got), 0);
			codec_cases_assert_same(codec_cases_req_diff(&reqs[i], &got));
			assert_true(codec_cases_txn_borrows(&got.txn, d, n) &&
				    codec_cases_op_borrows(&got.watch, d, n) &&
				    codec_cases_in_buf(got.token, d, n));
			msg_req_free(&got);
			codec_cases_assert_req_empty(&got);
			free(d);
		}
		seen |= 1u << reqs[i].type;
		free(p);
	}
	/* Every type. */
	assert_int_equal(seen, ((1u << MSG_REQ_TYPE_END) - 1) & ~1u);
}

static void assert_kv(const struct reply_kv *kv, const char *key, const char *value, int64_t create,
		      int64_t mod, int64_t version, uint64_t lease)
{
	assert_true(codec_cases_bytes_same(kv->key, B(key)));
	assert_true(codec_cases_bytes_same(kv->value, B(value)));
	assert_int_equal(kv->create_rev, create);
	assert_int_equal(kv->mod_rev, mod);
	assert_int_equal(kv->version, version);
	assert_int_equal(kv->lease, lease);
}

static void test_codec_reply_round_trip_packed(void **state)
{
	size_t n;
	struct reply r;
	(void)state;
	uint8_t *p = codec_cases_reply(&n);
	assert_int_equal(reply_decode(p, n, &r), 0);
	assert_int_equal(r.err, 0);
	assert_true(r.rev == UINT64_MAX);
	assert_true(r.succeeded);
	assert_int_equal(r.id, 9);
	assert_int_equal(r.ttl, -5);
	assert_int_equal(r.nops, 4);
	const struct reply_op *o = r.ops;
	assert_int_equal(o[0].type, MSG_OP_RANGE);
	assert_int_equal(o[0].count, 3);
	assert_true(o[0].more);
	assert_int_equal(o[0].nkvs, 2);
	assert_true(
		codec_cases_bytes_same(o[0].kvs[0].key, (struct bytes){codec_cases_kv1_key, 3}));
	assert_true(codec_cases_bytes_same(o[0].kvs[0].value,
					   (struct bytes){codec_cases_odd_bytes, 5}));
	assert_true(o[0].kvs[0].create_rev == INT64_MIN);
	assert_true(o[0].kvs[0].mod_rev == INT64_MAX);
	assert_int_equal(o[0].kvs[0].version, 0);
	assert_true(o[0].kvs[0].lease == UINT64_MAX);
	assert_true(codec_cases_bytes_same(o[0].kvs[1].key,
					   (struct bytes){codec_cases_odd_bytes + 5, 1}));
	assert_int_equal(o[0].kvs[1].value.n, 0); /* keys only */
	assert_int_equal(o[0].kvs[1].create_rev, 1);
	assert_int_equal(o[0].kvs[1].mod_rev, 2);
	assert_int_equal(o[0].kvs[1].version, 3);
	assert_int_equal(o[0].kvs[1].lease, 4);
	assert_true(codec_cases_in_buf(o[0].kvs[0].key, p, n) &&
		    codec_cases_in_buf(o[0].kvs[0].value, p, n));
	assert_int_equal(o[1].type, MSG_OP_PUT);
	assert_int_equal(o[1].nkvs, 0);
	assert_null(o[1].kvs);
	assert_int_equal(o[2].type, MSG_OP_DEL);
	assert_true(o[2].deleted == UINT64_MAX);
	assert_int_equal(o[3].type, MSG_OP_ADD);
	assert_true(o[3].value == INT64_MIN);
	reply_free(&r);
	codec_cases_assert_reply_empty(&r);
	free(p);

	struct mp_buf b;
	mp_buf_init(&b);
	reply_pack_error(&b.pk, BERTH_ECOMPACTED, 77);
	p = codec_lit_finish(&b, &n);
	assert_int_equal(reply_decode(p, n, &r), 0);
	assert_int_equal(r.err, BERTH_ECOMPACTED);
	assert_int_equal(r.rev, 77);
	assert_int_equal(r.nops, 0);
	assert_false(r.succeeded);
	reply_free(&r);
	free(p);
}

static void test_codec_reply_round_trip_fsm(void **state)
{
	struct tfsm *t = *state;
	struct reply r;
	struct msg_cmd grant = {.type = MSG_CMD_LEASE_GRANT, .ttl = 60};
	assert_int_equal(tfsm_apply(t, &grant, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.ttl, 60);
	assert_int_equal(r.rev, 0);
	assert_int_equal(r.nops, 0);
	reply_free(&r);
	struct msg_op put_a = op_put("a", "one");
	put_a.lease = 1;
	struct msg_cmd c = cmd_txn(NULL, 0, &put_a, 1, NULL, 0);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 1);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].type, MSG_OP_PUT);
	reply_free(&r);
	t_put(t, "b", "\x05"); /* the msgpack integer 5 */

	struct msg_compare holds = cmp_num(MSG_CMP_MOD, "a", MSG_EQ, 1);
	struct msg_op ops[7] = {codec_cases_op_all(), op_get("a"),    codec_cases_op_all(),
				codec_cases_op_all(), op_add("b", 3), op_del("zz"),
				op_put("c", "x")};
	ops[1].flags = MSG_F_KEYS_ONLY;
	ops[2].flags = MSG_F_COUNT_ONLY;
	ops[3].limit = 1;
	c = cmd_txn(&holds, 1, ops, 7, NULL, 0);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 7);
	assert_int_equal(r.ops[0].type, MSG_OP_RANGE);
	assert_int_equal(r.ops[0].count, 2);
	assert_false(r.ops[0].more);
	assert_int_equal(r.ops[0].nkvs, 2);
	assert_kv(&r.ops[0].kvs[0], "a", "one", 1, 1, 1, 1);
	assert_kv(&r.ops[0].kvs[1], "b", "\x05", 2, 2, 1, 0);
	assert_int_equal(r.ops[1].nkvs, 1);
	assert_kv(&r.ops[1].kvs[0], "a", "", 1, 1, 1, 1);
	assert_int_equal(r.ops[2].count, 2);
	assert_int_equal(r.ops[2].nkvs, 0);
	assert_false(r.ops[2].more);
	assert_int_equal(r.ops[3].count, 2);
	assert_int_equal(r.ops[3].nkvs, 1);
	assert_true(r.ops[3].more);
	assert_kv(&r.ops[3].kvs[0], "a", "one", 1, 1, 1, 1);
	assert_int_equal(r.ops[4].type, MSG_OP_ADD);
	assert_int_equal(r.ops[4].value, 8);
	assert_int_equal(r.ops[5].type, MSG_OP_DEL);
	assert_int_equal(r.ops[5].deleted, 0);
	assert_int_equal(r.ops[6].type, MSG_OP_PUT);
	reply_free(&r);

	struct msg_compare fails = cmp_val("a", MSG_EQ, "two");
	struct msg_op get_c = op_get("c");
	c = cmd_txn(&fails, 1, ops, 7, &get_c, 1);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 1);
	assert_int_equal(r.ops[0].nkvs, 1);
	assert_kv(&r.ops[0].kvs[0], "c", "x", 3, 3, 1, 0);
	reply_free(&r);

	struct msg_op add_a = op_add("a", 1); /* "one" is not an integer */
	c = cmd_txn(NULL, 0, &add_a, 1, NULL, 0);
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	assert_int_equal(r.err, BERTH_ETYPE);
	assert_int_equal(r.rev, 3);
	assert_int_equal(r.nops, 0);
	reply_free(&r);

	struct msg_cmd open = {.type = MSG_CMD_SESSION_OPEN, .ttl = 1000};
	assert_int_equal(tfsm_apply(t, &open, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.id, t->index);
	assert_int_equal(r.ttl, 1000);
	assert_int_equal(r.rev, 3);
	reply_free(&r);
}

/* ---- bad messages --------------------------------------------------------------------- */

/* The tables are in codec_bad.c. */

/* which: 1 command, 2 request, 3 reply. Returns the decoder's answer. */
static int decode_as(int which, const uint8_t *p, size_t n)
{
	struct msg_cmd c;
	struct msg_req r;
	struct reply rp;
	int rv;
	if (which == 1) {
		if ((rv = msg_cmd_decode(p, n, &c)) == 0)
			msg_cmd_free(&c);
		else
			codec_cases_assert_cmd_empty(&c);
	} else if (which == 2) {
		if ((rv = msg_req_decode(p, n, &r)) == 0)
			msg_req_free(&r);
		else
			codec_cases_assert_req_empty(&r);
	} else {
		if ((rv = reply_decode(p, n, &rp)) == 0)
			reply_free(&rp);
		else
			codec_cases_assert_reply_empty(&rp);
	}
	return rv;
}

static void check_bad_table(const struct bad_case *cases, size_t n, int which)
{
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *p;
		if (cases[i].good != NULL) {
			p = codec_lit_pack(cases[i].good, &len);
			if (decode_as(which, p, len) != 0)
				fail_msg("good case refused: %s", cases[i].good);
			free(p);
		}
		p = codec_lit_pack(cases[i].bad, &len);
		if (decode_as(which, p, len) != BERTH_EBADREQ)
			fail_msg("bad case not refused with BERTH_EBADREQ: %s", cases[i].bad);
		free(p);
	}
}

static void test_codec_bad_cmds(void **state)
{
	(void)state;
	check_bad_table(codec_bad_cmds, codec_bad_ncmds, 1);
}

static void test_codec_bad_reqs(void **state)
{
	(void)state;
	check_bad_table(codec_bad_reqs, codec_bad_nreqs, 2);
}

static void test_codec_bad_replies(void **state)
{
	(void)state;
	check_bad_table(codec_bad_replies, codec_bad_nreplies, 3);
}

/* Type numbers around the ends of both enums, with every field a type could want. */
static void test_codec_bad_type_numbers(void **state)
{
	static const uint64_t cmd_types[] = {
		0,         MSG_CMD_TYPE_END,  MSG_CMD_TYPE_END + 1,
		255,       256 + MSG_CMD_TXN, ((uint64_t)1 << 32) + MSG_CMD_TXN,
		UINT64_MAX};
	static const uint64_t req_types[] = {0,   MSG_REQ_TYPE_END,  MSG_REQ_TYPE_END + 1,
					     255, 256 + MSG_REQ_TXN, UINT64_MAX};
	(void)state;
	for (int which = 1; which <= 2; which++) {
		const uint64_t *types = which == 1 ? cmd_types : req_types;
		size_t nt = which == 1 ? ARRAY_LEN(cmd_types) : ARRAY_LEN(req_types);
		for (size_t i = 0; i < nt + 1; i++) {
			/* The last round: a valid type, so the fields are proven fine. */
			uint64_t type = i < nt ? types[i] : MSG_CMD_TXN + (which == 2);
			struct mp_buf b;
			size_t n;
			mp_buf_init(&b);
			msgpack_pack_map(&b.pk, 6);
			mp_pack_kv_u64(&b.pk, "T", type);
			mp_pack_kv_u64(&b.pk, "rev", 1);
			mp_pack_kv_u64(&b.pk, "lease", 1);
			mp_pack_kv_i64(&b.pk, "ttl", 1);
			mp_pack_kv_u64(&b.pk, "proto", 1);
			mp_pack_cstr(&b.pk, "x");
			msgpack_pack_map(&b.pk, 0);
			uint8_t *p = codec_lit_finish(&b, &n);
			assert_int_equal(decode_as(which, p, n), i < nt ? BERTH_EBADREQ : 0);
			free(p);
		}
	}
}

static void test_codec_bad_expire_count(void **state)
{
	(void)state;
	for (uint32_t count = MSG_MAX_EXPIRE - 1; count <= MSG_MAX_EXPIRE + 2; count++) {
		struct mp_buf b;
		size_t n;
		struct msg_cmd c;
		mp_buf_init(&b);
		msgpack_pack_map(&b.pk, 2);
		mp_pack_kv_u64(&b.pk, "T", MSG_CMD_LEASE_EXPIRE);
		mp_pack_cstr(&b.pk, "leases");
		msgpack_pack_array(&b.pk, count);
		for (uint32_t i = 0; i < count; i++)
			msgpack_pack_uint64(&b.pk, i + 1);
		uint8_t *p = codec_lit_finish(&b, &n);
		int rv = msg_cmd_decode(p, n, &c);
		if (count <= MSG_MAX_EXPIRE) {
			assert_int_equal(rv, 0);
			assert_int_equal(c.nleases, count);
			assert_int_equal(c.leases[count - 1], count);
			msg_cmd_free(&c);
		} else {
			assert_int_equal(rv, BERTH_EBADREQ);
		}
		codec_cases_assert_cmd_empty(&c);
		free(p);
	}
}

/* ---- the error table ----------------------------------------------------------------- */

static void test_codec_reply_err_codes(void **state)
{
#define CODE_(name, num, text) num,
	static const int64_t known[] = {BERTH_ERRORS(CODE_)};
#undef CODE_
	int64_t last = known[ARRAY_LEN(known) - 1];
	const int64_t unknown[] = {1,
				   -1,
				   BERTH_ERR_BASE,
				   last + 1,
				   8000,
				   INT32_MAX,
				   INT32_MIN,
				   (int64_t)BERTH_EBADREQ + ((int64_t)1 << 32),
				   ((int64_t)1 << 32),
				   INT64_MIN,
				   INT64_MAX};
	(void)state;
	for (size_t i = 0; i <= ARRAY_LEN(known); i++) {
		int64_t code = i < ARRAY_LEN(known) ? known[i] : 0;
		struct mp_buf b;
		struct reply r;
		size_t n;
		mp_buf_init(&b);
		reply_pack_error(&b.pk, (int)code, 4);
		uint8_t *p = codec_lit_finish(&b, &n);
		assert_int_equal(reply_decode(p, n, &r), 0);
		assert_int_equal(r.err, code);
		assert_int_equal(r.rev, 4);
		reply_free(&r);
		free(p);
	}
	for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
		struct mp_buf b;
		struct reply r;
		size_t n;
		mp_buf_init(&b);
		msgpack_pack_map(&b.pk, 2);
		mp_pack_kv_i64(&b.pk, "err", unknown[i]);
		mp_pack_kv_u64(&b.pk, "rev", 4);
		uint8_t *p = codec_lit_finish(&b, &n);
		assert_int_equal(reply_decode(p, n, &r), BERTH_EBADREQ);
		codec_cases_assert_reply_empty(&r);
		free(p);
	}
	assert_int_equal(ARRAY_LEN(known), last - BERTH_ERR_BASE); /* no gaps */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_cmd_round_trip),
		cmocka_unit_test(test_codec_cmd_exact_bytes),
		cmocka_unit_test(test_codec_req_round_trip),
		cmocka_unit_test(test_codec_reply_round_trip_packed),
		cmocka_unit_test_setup_teardown(test_codec_reply_round_trip_fsm,
						codec_cases_fsm_setup, codec_cases_fsm_teardown),
		cmocka_unit_test(test_codec_bad_cmds),
		cmocka_unit_test(test_codec_bad_reqs),
		cmocka_unit_test(test_codec_bad_replies),
		cmocka_unit_test(test_codec_bad_type_numbers),
		cmocka_unit_test(test_codec_bad_expire_count),
		cmocka_unit_test(test_codec_reply_err_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
