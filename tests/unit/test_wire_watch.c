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

/* One watch map, field by field: what a hostile frame may get wrong. */
struct t_w {
	uint64_t id;    /* the watch id */
	bool no_rev;    /* leave out rev */
	bool no_ev;     /* leave out ev */
	int64_t err;    /* err field when non-zero */
	bool more_int;  /* more as an integer, not a bool */
	int nev;        /* events: a good put, then (nev 2) the second below */
	uint64_t type2; /* the second event's type */
	bool key2;      /* the second event has a key */
	bool not_map;   /* w is an integer */
};

static void t_w_pack(msgpack_packer *pk, const struct t_w *w)
{
	if (w->not_map) {
		msgpack_pack_uint64(pk, 3);
		return;
	}
	msgpack_pack_map(pk, 1 + !w->no_rev + !w->no_ev + (w->err != 0) + w->more_int);
	mp_pack_kv_u64(pk, "id", w->id);
	if (!w->no_rev)
		mp_pack_kv_u64(pk, "rev", 1);
	if (w->err != 0)
		mp_pack_kv_i64(pk, "err", w->err);
	if (w->more_int)
		mp_pack_kv_u64(pk, "more", 1);
	if (w->no_ev)
		return;
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, (uint32_t)w->nev);
	for (int i = 0; i < w->nev; i++) {
		bool second = i == 1;
		bool key = !second || w->key2;
		msgpack_pack_map(pk, 1 + key);
		mp_pack_kv_u64(pk, "t", second ? w->type2 : MSG_OP_PUT);
		if (key)
			mp_pack_kv_bin(pk, "k", "k", 1);
	}
}

/* {id, h: {}, w: ...}: decodes it (freeing what it got) and returns the result. */
static int t_decode_w(uint64_t id, struct t_w w)
{
	struct mp_buf b;
	struct wire_resp r;
	mp_buf_init(&b);
	msgpack_pack_map(&b.pk, 3);
	mp_pack_kv_u64(&b.pk, "id", id);
	mp_pack_cstr(&b.pk, "h");
	msgpack_pack_map(&b.pk, 0);
	mp_pack_cstr(&b.pk, "w");
	t_w_pack(&b.pk, &w);
	int rv = wire_resp_decode(b.data, b.len, &r);
	if (rv == 0)
		wire_resp_free(&r);
	mp_buf_close(&b);
	return rv;
}

static void test_watch_hostile(void **state)
{
	const struct t_w ok = {.id = 1, .nev = 2, .type2 = MSG_OP_DEL, .key2 = true};
	struct t_w w;
	(void)state;
	assert_int_equal(t_decode_w(0, ok), 0);             /* the control */
	assert_int_equal(t_decode_w(5, ok), BERTH_EBADREQ); /* only pushed frames (id 0) */
	w = ok, w.no_rev = true;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.id = 0;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.no_ev = true;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	/* A bad second event: the first was already decoded (ASan checks nothing leaks). */
	w = ok, w.type2 = MSG_OP_RANGE;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.type2 = MSG_OP_ADD;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.key2 = false;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.err = 12345;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.err = BERTH_ECOMPACTED; /* a known code is fine */
	assert_int_equal(t_decode_w(0, w), 0);
	w = ok, w.more_int = true;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
	w = ok, w.not_map = true;
	assert_int_equal(t_decode_w(0, w), BERTH_EBADREQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_round_trip),
		cmocka_unit_test(test_watch_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
