/* tests/unit/test_wire_watch.c: pushed watch frames: round trips, every truncation, and
 * hostile frames refused without leaks (common/wire.h). */
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
	.rev = 9, .term = 2, .index = 40, .member = 1, .leader = 1};

/* A frame for watch 7: a put and a delete at revision 9, or cancelled. */
static void t_frame(struct mp_buf *b, bool more, int err, uint32_t nev)
{
	struct wire_event put = {.type = MSG_OP_PUT,
				 .kv = {.key = {(const uint8_t *)"w/a", 3},
					.value = {(const uint8_t *)"v\0x", 3},
					.create_rev = 5,
					.mod_rev = 9,
					.version = 2,
					.lease = 4}};
	struct wire_event del = {.type = MSG_OP_DEL,
				 .kv = {.key = {(const uint8_t *)"w/b", 3}, .mod_rev = 9}};
	struct wire_watch w = {.id = 7,
			       .rev = 9,
			       .more = more,
			       .err = err,
			       .compacted = err == BERTH_ECOMPACTED ? 6 : 0,
			       .nevents = nev};
	struct mp_buf ev;
	mp_buf_init(&ev);
	for (uint32_t i = 0; i < nev; i++)
		wire_event_pack(&ev.pk, i % 2 ? &del : &put);
	mp_buf_init(b);
	wire_watch_pack(b, &t_hdr, &w, ev.data, ev.len);
	mp_buf_close(&ev);
	assert_int_equal(mp_buf_error(b), 0);
}

static void test_watch_round_trip(void **state)
{
	struct mp_buf b;
	struct wire_resp r;
	(void)state;
	t_frame(&b, true, 0, 2);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.id, 0);
	assert_true(r.has_watch);
	assert_false(r.has_reply);
	assert_int_equal(r.hdr.rev, 9);
	assert_int_equal(r.watch.id, 7);
	assert_int_equal(r.watch.rev, 9);
	assert_true(r.watch.more);
	assert_int_equal(r.watch.err, 0);
	assert_int_equal(r.watch.nevents, 2);
	assert_int_equal(r.watch.events[0].type, MSG_OP_PUT);
	assert_int_equal(r.watch.events[0].kv.value.n, 3);
	assert_memory_equal(r.watch.events[0].kv.value.p, "v\0x", 3);
	assert_int_equal(r.watch.events[0].kv.create_rev, 5);
	assert_int_equal(r.watch.events[0].kv.version, 2);
	assert_int_equal(r.watch.events[0].kv.lease, 4);
	assert_int_equal(r.watch.events[1].type, MSG_OP_DEL);
	assert_int_equal(r.watch.events[1].kv.value.n, 0);
	assert_memory_equal(r.watch.events[1].kv.key.p, "w/b", 3);
	wire_resp_free(&r);
	/* Every strict prefix is refused. */
	for (size_t len = 0; len < b.len; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, b.data, len);
		assert_int_equal(wire_resp_decode(copy, len, &r), BERTH_EBADREQ);
		free(copy);
	}
	mp_buf_close(&b);

	/* Progress (no events) and a cancellation. */
	t_frame(&b, false, 0, 0);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_true(r.has_watch && !r.watch.more && r.watch.nevents == 0);
	wire_resp_free(&r);
	mp_buf_close(&b);
	t_frame(&b, false, BERTH_ECOMPACTED, 0);
	assert_int_equal(wire_resp_decode(b.data, b.len, &r), 0);
	assert_int_equal(r.watch.err, BERTH_ECOMPACTED);
	assert_int_equal(r.watch.compacted, 6);
	wire_resp_free(&r);
	mp_buf_close(&b);
}

/* {id, h: {}, w: <built by fn>} */
static int t_decode_w(uint64_t id, void (*fn)(msgpack_packer *pk))
{
	struct mp_buf b;
	struct wire_resp r;
	mp_buf_init(&b);
	msgpack_pack_map(&b.pk, 3);
	mp_pack_kv_u64(&b.pk, "id", id);
	mp_pack_cstr(&b.pk, "h");
	msgpack_pack_map(&b.pk, 0);
	mp_pack_cstr(&b.pk, "w");
	fn(&b.pk);
	int rv = wire_resp_decode(b.data, b.len, &r);
	if (rv == 0)
		wire_resp_free(&r);
	mp_buf_close(&b);
	return rv;
}

static void w_ok(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_kv_u64(pk, "rev", 1);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "t", MSG_OP_PUT);
	mp_pack_kv_bin(pk, "k", "k", 1);
}
static void w_no_rev(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, 0);
}
static void w_id0(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "id", 0);
	mp_pack_kv_u64(pk, "rev", 1);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, 0);
}
static void w_no_ev(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_kv_u64(pk, "rev", 1);
}
/* The second event is bad: the first was already allocated (leak check under ASan). */
static void t_two_events(msgpack_packer *pk, uint64_t type2, bool key2)
{
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_kv_u64(pk, "rev", 1);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, 2);
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "t", MSG_OP_PUT);
	mp_pack_kv_bin(pk, "k", "k", 1);
	msgpack_pack_map(pk, 1 + key2);
	mp_pack_kv_u64(pk, "t", type2);
	if (key2)
		mp_pack_kv_bin(pk, "k", "k", 1);
}
static void w_ev_range(msgpack_packer *pk)
{
	t_two_events(pk, MSG_OP_RANGE, true);
}
static void w_ev_add(msgpack_packer *pk)
{
	t_two_events(pk, MSG_OP_ADD, true);
}
static void w_ev_nokey(msgpack_packer *pk)
{
	t_two_events(pk, MSG_OP_DEL, false);
}
static void w_bad_err(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_kv_u64(pk, "rev", 1);
	mp_pack_kv_i64(pk, "err", 12345);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, 0);
}
static void w_bad_more(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	mp_pack_kv_u64(pk, "id", 1);
	mp_pack_kv_u64(pk, "rev", 1);
	mp_pack_kv_u64(pk, "more", 1);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, 0);
}
static void w_int(msgpack_packer *pk)
{
	msgpack_pack_uint64(pk, 3);
}

static void test_watch_hostile(void **state)
{
	(void)state;
	assert_int_equal(t_decode_w(0, w_ok), 0);             /* the control */
	assert_int_equal(t_decode_w(5, w_ok), BERTH_EBADREQ); /* only pushed frames (id 0) */
	assert_int_equal(t_decode_w(0, w_no_rev), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_id0), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_no_ev), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_ev_range), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_ev_add), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_ev_nokey), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_bad_err), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_bad_more), BERTH_EBADREQ);
	assert_int_equal(t_decode_w(0, w_int), BERTH_EBADREQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_round_trip),
		cmocka_unit_test(test_watch_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
