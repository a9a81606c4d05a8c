/* tests/unit/test_wire.c: the response envelope: round trips, and hostile input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/wire.h"

#include <stdlib.h>
#include <string.h>

static const struct wire_header t_hdr = {
	.rev = 17, .term = 4, .index = 99, .member = 2, .leader = 3};

/* A reply: {rev: 17, ok: true, r: [{t: 0, kvs: [{k, v...}], n: 1, more: true}, {t: 3, v: -5}]} */
static void t_reply(struct mp_buf *b)
{
	struct reply_kv kv = {.key = {(const uint8_t *)"key", 3},
			      .value = {(const uint8_t *)"v\0lue", 5},
			      .create_rev = 5,
			      .mod_rev = 16,
			      .version = 7,
			      .lease = 9};
	msgpack_packer *pk = &b->pk;
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "rev", 17);
	mp_pack_kv_bool(pk, "ok", 1);
	mp_pack_cstr(pk, "r");
	msgpack_pack_array(pk, 2);
	msgpack_pack_map(pk, 4);
	mp_pack_kv_u64(pk, "t", MSG_OP_RANGE);
	mp_pack_cstr(pk, "kvs");
	msgpack_pack_array(pk, 1);
	reply_pack_kv(pk, &kv, false);
	mp_pack_kv_u64(pk, "n", 1);
	mp_pack_kv_bool(pk, "more", 1);
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "t", MSG_OP_ADD);
	mp_pack_kv_i64(pk, "v", -5);
}

static void t_status(struct wire_status *st, uint32_t n)
{
	static const char *const peers[] = {"10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001"};
	static const char *const clients[] = {"10.0.0.1:7101", "10.0.0.2:7101", "10.0.0.3:7101"};
	memset(st, 0, sizeof(*st));
	*st = (struct wire_status){.id = 2,
				   .state = WIRE_FOLLOWER,
				   .term = 4,
				   .commit = 100,
				   .applied = 99,
				   .rev = 17,
				   .compacted = 3,
				   .leader = 3,
				   .nmembers = n};
	st->peer = (struct bytes){(const uint8_t *)peers[1], strlen(peers[1])};
	st->client = (struct bytes){(const uint8_t *)clients[1], strlen(clients[1])};
	for (uint32_t i = 0; i < n; i++) {
		st->members[i].id = i + 1;
		st->members[i].peer = (struct bytes){(const uint8_t *)peers[i % 3], 13};
		st->members[i].client = (struct bytes){(const uint8_t *)clients[i % 3], 13};
		st->members[i].role = (uint8_t)(i % WIRE_ROLE_COUNT);
	}
}

static void t_header_equal(const struct wire_header *h)
{
	assert_int_equal(h->rev, 17);
	assert_int_equal(h->term, 4);
	assert_int_equal(h->index, 99);
	assert_int_equal(h->member, 2);
	assert_int_equal(h->leader, 3);
}

/* Every strict prefix of buf fails with BERTH_EBADREQ. */
static void t_truncations(const uint8_t *buf, size_t n)
{
	for (size_t len = 0; len < n; len++) {
		struct wire_resp r;
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
		assert_non_null(copy);
		memcpy(copy, buf, len);
		assert_int_equal(wire_resp_decode(copy, len, &r), BERTH_EBADREQ);
		free(copy);
	}
}

static void test_wire_reply_round_trip(void **state)
{
	struct mp_buf rep, b;
	struct wire_resp r;
	(void)state;
	mp_buf_init(&rep);
	mp_buf_init(&b);
	t_reply(&rep);
	wire_resp_pack(&b, 123456789012ull, 0, NULL, &t_hdr, rep.data, rep.len, NULL);
	assert_int_equal(mp_buf_error(&b), 0);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.id, 123456789012ull);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.leader.n, 0);
	t_header_equal(&r.hdr);
	assert_true(r.has_reply);
	assert_false(r.has_status);
	assert_int_equal(r.reply.rev, 17);
	assert_true(r.reply.succeeded);
	assert_int_equal(r.reply.nops, 2);
	assert_int_equal(r.reply.ops[0].type, MSG_OP_RANGE);
	assert_int_equal(r.reply.ops[0].nkvs, 1);
	assert_true(r.reply.ops[0].more);
	assert_int_equal(r.reply.ops[0].count, 1);
	const struct reply_kv *kv = &r.reply.ops[0].kvs[0];
	assert_int_equal(kv->key.n, 3);
	assert_memory_equal(kv->key.p, "key", 3);
	assert_int_equal(kv->value.n, 5);
	assert_memory_equal(kv->value.p, "v\0lue", 5);
	assert_int_equal(kv->create_rev, 5);
	assert_int_equal(kv->mod_rev, 16);
	assert_int_equal(kv->version, 7);
	assert_int_equal(kv->lease, 9);
	assert_int_equal(r.reply.ops[1].type, MSG_OP_ADD);
	assert_int_equal(r.reply.ops[1].value, -5);
	wire_resp_free(&r);
	wire_resp_free(&r); /* idempotent */
	t_truncations(b.data, b.len);
	mp_buf_close(&rep);
	mp_buf_close(&b);
}

static void test_wire_status_round_trip(void **state)
{
	struct wire_status st;
	struct wire_resp r;
	struct mp_buf b;
	(void)state;
	mp_buf_init(&b);
	t_status(&st, 5);
	wire_resp_pack(&b, 7, 0, NULL, &t_hdr, NULL, 0, &st);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.id, 7);
	assert_false(r.has_reply);
	assert_true(r.has_status);
	const struct wire_status *s = &r.status;
	assert_int_equal(s->id, 2);
	assert_int_equal(s->state, WIRE_FOLLOWER);
	assert_int_equal(s->term, 4);
	assert_int_equal(s->commit, 100);
	assert_int_equal(s->applied, 99);
	assert_int_equal(s->rev, 17);
	assert_int_equal(s->compacted, 3);
	assert_int_equal(s->leader, 3);
	assert_int_equal(s->peer.n, 13);
	assert_memory_equal(s->peer.p, "10.0.0.2:7001", 13);
	assert_memory_equal(s->client.p, "10.0.0.2:7101", 13);
	assert_int_equal(s->nmembers, 5);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(s->members[i].id, i + 1);
		assert_int_equal(s->members[i].role, i % WIRE_ROLE_COUNT);
		assert_memory_equal(s->members[i].client.p, st.members[i].client.p, 13);
		assert_memory_equal(s->members[i].peer.p, st.members[i].peer.p, 13);
	}
	wire_resp_free(&r);
	t_truncations(b.data, b.len);
	mp_buf_reset(&b);

	/* The largest member list decodes. */
	t_status(&st, WIRE_MAX_MEMBERS);
	wire_resp_pack(&b, 8, 0, NULL, &t_hdr, NULL, 0, &st);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.status.nmembers, WIRE_MAX_MEMBERS);
	assert_int_equal(r.status.members[WIRE_MAX_MEMBERS - 1].id, WIRE_MAX_MEMBERS);
	wire_resp_free(&r);
	mp_buf_close(&b);
	assert_string_equal(wire_state_name(WIRE_LEADER), "leader");
	assert_string_equal(wire_state_name(200), "unknown");
	assert_string_equal(wire_role_name(WIRE_STANDBY), "standby");
}

static void test_wire_error_with_leader(void **state)
{
	struct wire_resp r;
	struct mp_buf b;
	(void)state;
	mp_buf_init(&b);
	wire_resp_pack(&b, 5, BERTH_ENOTLEADER, "10.0.0.3:7101", &t_hdr, NULL, 0, NULL);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.id, 5);
	assert_int_equal(r.err, BERTH_ENOTLEADER);
	assert_int_equal(r.leader.n, 13);
	assert_memory_equal(r.leader.p, "10.0.0.3:7101", 13);
	t_header_equal(&r.hdr);
	assert_false(r.has_reply);
	wire_resp_free(&r);
	t_truncations(b.data, b.len);
	mp_buf_reset(&b);
	wire_resp_pack(&b, 0, BERTH_EUNAVAILABLE, NULL, &t_hdr, NULL, 0, NULL);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.id, 0);
	assert_int_equal(r.err, BERTH_EUNAVAILABLE);
	assert_true(err_indeterminate(r.err));
	wire_resp_free(&r);
	mp_buf_close(&b);
}

/* Hand-built responses: the map {id: 1, h: {}, KEY: value written by fn}. */
typedef void (*t_field_fn)(msgpack_packer *pk);

static int t_decode_with(const char *key, t_field_fn fn, bool with_id)
{
	struct wire_resp r;
	struct mp_buf b;
	int rv;
	mp_buf_init(&b);
	msgpack_pack_map(&b.pk, 2 + with_id);
	if (with_id)
		mp_pack_kv_u64(&b.pk, "id", 1);
	mp_pack_cstr(&b.pk, "h");
	msgpack_pack_map(&b.pk, 0);
	mp_pack_cstr(&b.pk, key);
	fn(&b.pk);
	uint8_t *copy = malloc(b.len);
	assert_non_null(copy);
	memcpy(copy, b.data, b.len);
	rv = wire_resp_decode(copy, b.len, &r);
	if (rv == 0)
		wire_resp_free(&r);
	free(copy);
	mp_buf_close(&b);
	return rv;
}

static void f_str(msgpack_packer *pk)
{
	mp_pack_cstr(pk, "x");
}
static void f_int(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, 3);
}
static void f_neg(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, -1);
}
static void f_unknown_err(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, 9999);
}
static void f_huge_err(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, (int64_t)1 << 40 | 7004);
}
static void f_known_err(msgpack_packer *pk)
{
	msgpack_pack_int64(pk, BERTH_EBUSY);
}
static void f_map0(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 0);
}
static void f_array0(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 0);
}

static void f_reply_bad_err(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	mp_pack_kv_i64(pk, "err", 12345);
}

static void f_reply_bad_op(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	mp_pack_cstr(pk, "r");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	mp_pack_kv_u64(pk, "t", MSG_OP_TYPE_COUNT);
}

static void t_status_members(msgpack_packer *pk, uint32_t n, uint64_t role, uint64_t state)
{
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_kv_u64(pk, "state", state);
	mp_pack_cstr(pk, "members");
	msgpack_pack_array(pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_map(pk, 2);
		mp_pack_kv_u64(pk, "id", i + 1);
		mp_pack_kv_u64(pk, "role", role);
	}
}

static void f_st_ok(msgpack_packer *pk)
{
	t_status_members(pk, 3, WIRE_VOTER, WIRE_LEADER);
}
static void f_st_too_many(msgpack_packer *pk)
{
	t_status_members(pk, WIRE_MAX_MEMBERS + 1, 0, 0);
}
static void f_st_bad_role(msgpack_packer *pk)
{
	t_status_members(pk, 1, WIRE_ROLE_COUNT, 0);
}
static void f_st_bad_state(msgpack_packer *pk)
{
	t_status_members(pk, 1, 0, WIRE_STATE_COUNT);
}

static void f_st_no_id(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	mp_pack_kv_u64(pk, "term", 1);
}

static void test_wire_hostile(void **state)
{
	(void)state;
	/* Controls: the same builder accepts well-formed fields. */
	assert_int_equal(t_decode_with("err", f_known_err, true), 0);
	assert_int_equal(t_decode_with("st", f_st_ok, true), 0);
	assert_int_equal(t_decode_with("leader", f_str, true), 0);
	assert_int_equal(t_decode_with("r", f_map0, true), 0);
	assert_int_equal(t_decode_with("zzz", f_int, true), 0); /* unknown keys are ignored */

	assert_int_equal(t_decode_with("x", f_int, false), BERTH_EBADREQ); /* no id */
	assert_int_equal(t_decode_with("id", f_str, false), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("id", f_neg, false), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("err", f_str, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("err", f_unknown_err, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("err", f_huge_err, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("leader", f_int, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("r", f_array0, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("r", f_reply_bad_err, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("r", f_reply_bad_op, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("st", f_int, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("st", f_st_too_many, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("st", f_st_bad_role, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("st", f_st_bad_state, true), BERTH_EBADREQ);
	assert_int_equal(t_decode_with("st", f_st_no_id, true), BERTH_EBADREQ);

	/* Not a map; trailing bytes; the header of the wrong type. */
	static const uint8_t arr[] = {0x91, 0x01};
	static const uint8_t trailing[] = {0x82, 0xa2, 'i', 'd', 0x01, 0xa1, 'h', 0x80, 0x01};
	static const uint8_t h_int[] = {0x82, 0xa2, 'i', 'd', 0x01, 0xa1, 'h', 0x05};
	static const uint8_t no_h[] = {0x81, 0xa2, 'i', 'd', 0x01};
	struct wire_resp r;
	assert_int_equal(wire_resp_decode(arr, sizeof(arr), &r), BERTH_EBADREQ);
	assert_int_equal(wire_resp_decode(trailing, sizeof(trailing), &r), BERTH_EBADREQ);
	assert_int_equal(wire_resp_decode(h_int, sizeof(h_int), &r), BERTH_EBADREQ);
	assert_int_equal(wire_resp_decode(no_h, sizeof(no_h), &r), BERTH_EBADREQ);
	assert_int_equal(wire_resp_decode(trailing, sizeof(trailing) - 1, &r), 0);
	wire_resp_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_reply_round_trip),
		cmocka_unit_test(test_wire_status_round_trip),
		cmocka_unit_test(test_wire_error_with_leader),
		cmocka_unit_test(test_wire_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
