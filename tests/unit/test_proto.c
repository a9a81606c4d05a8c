/* tests/unit/test_proto.c: the client's sans-I/O protocol core: encoding, ids, responses
 * matched out of order, partial and garbage frames, the pending table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/proto.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static const struct wire_header t_hdr = {.rev = 3, .term = 1, .index = 4, .member = 1};

/* Appends a framed response for id (with err) to s. */
static void t_frame_resp(struct mp_buf *s, uint64_t id, int err)
{
	struct mp_buf b;
	uint8_t hdr[FRAME_HEADER_BYTES];
	mp_buf_init(&b);
	wire_resp_pack(&b, id, err, NULL, &t_hdr, NULL, 0, NULL);
	assert_int_equal(frame_encode_header(b.len, FRAME_MAX_DEFAULT, hdr), 0);
	mp_buf_append(s, hdr, sizeof(hdr));
	mp_buf_append(s, b.data, b.len);
	assert_int_equal(mp_buf_error(s), 0);
	mp_buf_close(&b);
}

/* Feeds all of data; stores each response's ctx in got (as it arrives), returns how many;
 * the first error other than BERTH_ENOTFOUND goes to *err. */
static size_t t_feed(struct proto *p, const uint8_t *data, size_t n, size_t chunk, void **got,
		     int *err)
{
	size_t ngot = 0;
	*err = 0;
	while (n > 0) {
		size_t used, take = n < chunk ? n : chunk;
		if ((*err = proto_feed(p, data, take, &used)) != 0)
			return ngot;
		data += used;
		n -= used;
		struct proto_resp r;
		int rv;
		while ((rv = proto_next(p, &r)) == 0) {
			got[ngot++] = r.ctx;
			proto_resp_free(&r);
		}
		if (rv != BERTH_ENOTFOUND) {
			*err = rv;
			return ngot;
		}
	}
	return ngot;
}

static void test_proto_encode(void **state)
{
	struct proto p;
	struct mp_buf out;
	struct msg_op op = {.type = MSG_OP_PUT,
			    .key = {(const uint8_t *)"k", 1},
			    .value = {(const uint8_t *)"v", 1}};
	struct msg_req req = {
		.type = MSG_REQ_TXN, .session = 9, .seq = 4, .txn = {.nsucc = 1, .succ = &op}};
	struct msg_req back;
	(void)state;
	assert_int_equal(proto_init(&p, 0), 0);
	mp_buf_init(&out);
	for (uint64_t i = 1; i <= 3; i++) {
		mp_buf_reset(&out);
		req.id = 777; /* overwritten */
		assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
		assert_int_equal(req.id, i);
		assert_int_equal(proto_pending_count(&p), i);
		uint32_t len = (uint32_t)out.data[0] << 24 | (uint32_t)out.data[1] << 16 |
			       (uint32_t)out.data[2] << 8 | out.data[3];
		assert_int_equal(len, out.len - FRAME_HEADER_BYTES);
		assert_int_equal(msg_req_decode(out.data + 4, out.len - 4, &back), 0);
		assert_int_equal(back.type, MSG_REQ_TXN);
		assert_int_equal(back.id, i);
		assert_int_equal(back.session, 9);
		assert_int_equal(back.seq, 4);
		assert_int_equal(back.txn.nsucc, 1);
		assert_int_equal(back.txn.succ[0].type, MSG_OP_PUT);
		assert_memory_equal(back.txn.succ[0].key.p, "k", 1);
		msg_req_free(&back);
	}
	/* Appends: a second request goes after the first in the same buffer. */
	size_t first = out.len;
	assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
	assert_int_equal(out.len, 2 * first);
	/* Reset empties the table; ids keep going up. */
	proto_reset(&p);
	assert_int_equal(proto_pending_count(&p), 0);
	mp_buf_reset(&out);
	assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
	assert_int_equal(req.id, 5);
	mp_buf_close(&out);
	proto_close(&p);
}

static void test_proto_encode_too_large(void **state)
{
	static uint8_t big[200];
	struct proto p;
	struct mp_buf out;
	struct msg_op op = {.type = MSG_OP_PUT, .key = {big, 1}, .value = {big, sizeof(big)}};
	struct msg_req req = {.type = MSG_REQ_TXN, .txn = {.nsucc = 1, .succ = &op}};
	(void)state;
	assert_int_equal(proto_init(&p, 128), 0);
	mp_buf_init(&out);
	mp_buf_append(&out, "xy", 2);
	assert_int_equal(proto_encode(&p, &req, &out, NULL), BERTH_ETOOLARGE);
	assert_int_equal(out.len, 2); /* untouched */
	assert_int_equal(proto_pending_count(&p), 0);
	op.value.n = 10;
	assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
	assert_int_equal(req.id, 1); /* the failed encode used no id */
	mp_buf_close(&out);
	proto_close(&p);
	assert_int_equal(proto_init(&p, (size_t)UINT32_MAX + 1), BERTH_EBADREQ);
}

static void test_proto_out_of_order(void **state)
{
	int ctx[4];
	void *got[8];
	struct proto p;
	struct mp_buf out, in;
	struct msg_req req = {.type = MSG_REQ_STATUS};
	int err;
	(void)state;
	for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
		assert_int_equal(proto_init(&p, 0), 0);
		mp_buf_init(&out);
		mp_buf_init(&in);
		for (int i = 0; i < 4; i++)
			assert_int_equal(proto_encode(&p, &req, &out, &ctx[i]), 0);
		/* Answers 3, 1, 4, then a connection-level error (id 0), then 2. */
		t_frame_resp(&in, 3, 0);
		t_frame_resp(&in, 1, 0);
		t_frame_resp(&in, 4, BERTH_EBUSY);
		t_frame_resp(&in, 0, BERTH_EBADREQ);
		t_frame_resp(&in, 2, 0);
		assert_int_equal(t_feed(&p, in.data, in.len, chunk, got, &err), 5);
		assert_int_equal(err, 0);
		assert_ptr_equal(got[0], &ctx[2]);
		assert_ptr_equal(got[1], &ctx[0]);
		assert_ptr_equal(got[2], &ctx[3]);
		assert_null(got[3]);
		assert_ptr_equal(got[3 + 1], &ctx[1]);
		assert_int_equal(proto_pending_count(&p), 0);
		mp_buf_close(&out);
		mp_buf_close(&in);
		proto_close(&p);
	}
}

static void test_proto_partial_frame(void **state)
{
	struct proto p;
	struct mp_buf out, in;
	struct msg_req req = {.type = MSG_REQ_STATUS};
	struct proto_resp r;
	size_t used;
	(void)state;
	assert_int_equal(proto_init(&p, 0), 0);
	mp_buf_init(&out);
	mp_buf_init(&in);
	assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
	t_frame_resp(&in, 1, BERTH_ENOTLEADER);
	for (size_t i = 0; i + 1 < in.len; i++) {
		assert_int_equal(proto_feed(&p, in.data + i, 1, &used), 0);
		assert_int_equal(used, 1);
		assert_int_equal(proto_next(&p, &r), BERTH_ENOTFOUND);
	}
	assert_int_equal(proto_pending_count(&p), 1);
	assert_int_equal(proto_feed(&p, in.data + in.len - 1, 1, &used), 0);
	assert_int_equal(proto_next(&p, &r), 0);
	assert_int_equal(r.resp.id, 1);
	assert_int_equal(r.resp.err, BERTH_ENOTLEADER);
	assert_int_equal(r.resp.hdr.rev, 3);
	assert_int_equal(r.len, in.len - FRAME_HEADER_BYTES);
	proto_resp_free(&r);
	proto_resp_free(&r);
	assert_int_equal(proto_next(&p, &r), BERTH_ENOTFOUND);
	mp_buf_close(&out);
	mp_buf_close(&in);
	proto_close(&p);
}

static void test_proto_garbage(void **state)
{
	struct proto p;
	struct mp_buf out, in;
	struct msg_req req = {.type = MSG_REQ_STATUS};
	void *got[4];
	int err;
	(void)state;

	/* Not msgpack. */
	static const uint8_t junk[] = {0, 0, 0, 3, 0xc1, 0x00, 0x17};
	assert_int_equal(proto_init(&p, 0), 0);
	assert_int_equal(t_feed(&p, junk, sizeof(junk), 64, got, &err), 0);
	assert_int_equal(err, BERTH_EBADREQ);
	proto_close(&p);

	/* A zero length; a length over the cap. */
	static const uint8_t zero[] = {0, 0, 0, 0};
	static const uint8_t huge[] = {0x7f, 0, 0, 0, 1, 2};
	assert_int_equal(proto_init(&p, 1024), 0);
	assert_int_equal(t_feed(&p, zero, sizeof(zero), 64, got, &err), 0);
	assert_int_equal(err, BERTH_EBADREQ);
	proto_close(&p);
	assert_int_equal(proto_init(&p, 1024), 0);
	assert_int_equal(t_feed(&p, huge, sizeof(huge), 64, got, &err), 0);
	assert_int_equal(err, BERTH_ETOOLARGE);
	proto_close(&p);

	/* A well-formed response to an id nobody asked for. */
	assert_int_equal(proto_init(&p, 0), 0);
	mp_buf_init(&out);
	mp_buf_init(&in);
	assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
	t_frame_resp(&in, 2, 0);
	assert_int_equal(t_feed(&p, in.data, in.len, 64, got, &err), 0);
	assert_int_equal(err, BERTH_EBADREQ);
	assert_int_equal(proto_pending_count(&p), 1);
	mp_buf_close(&out);
	mp_buf_close(&in);
	proto_close(&p);
}

static void test_proto_pending_table(void **state)
{
	enum { N = 5000 };
	static uint64_t ids[N];
	struct proto p;
	struct mp_buf out;
	struct msg_req req = {.type = MSG_REQ_STATUS};
	void *ctx;
	uint64_t id, x = 88172645463325252ull;
	(void)state;
	assert_int_equal(proto_init(&p, 0), 0);
	mp_buf_init(&out);
	for (size_t i = 0; i < N; i++) {
		mp_buf_reset(&out);
		assert_int_equal(proto_encode(&p, &req, &out, (void *)(uintptr_t)(i + 1)), 0);
		ids[i] = req.id;
	}
	assert_int_equal(proto_pending_count(&p), N);
	/* Remove half in a scrambled order; every other id must stay findable. */
	for (size_t i = N - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t j = (size_t)(x % (i + 1));
		uint64_t t = ids[i];
		ids[i] = ids[j];
		ids[j] = t;
	}
	for (size_t i = 0; i < N / 2; i++) {
		assert_int_equal(proto_pending_remove(&p, ids[i], &ctx), 0);
		assert_int_equal((uintptr_t)ctx, ids[i]); /* ctx i + 1 went with id i + 1 */
		assert_int_equal(proto_pending_remove(&p, ids[i], &ctx), BERTH_ENOTFOUND);
	}
	for (size_t i = N / 2; i < N; i++) {
		assert_int_equal(proto_pending_remove(&p, ids[i], &ctx), 0);
		assert_int_equal((uintptr_t)ctx, ids[i]);
		ids[i] = 0;
		if (i == N - 10)
			break;
	}
	size_t left = 0;
	while (proto_pending_pop(&p, &id, &ctx) == 0) {
		assert_int_equal((uintptr_t)ctx, id);
		left++;
	}
	assert_int_equal(left, 9);
	assert_int_equal(proto_pending_count(&p), 0);
	assert_int_equal(proto_pending_remove(&p, 0, &ctx), BERTH_ENOTFOUND);
	mp_buf_close(&out);
	proto_close(&p);
}

/* An abandoned id stays pending: its answer comes back with ctx NULL, not as an error. */
static void test_proto_abandon(void **state)
{
	struct proto p;
	struct mp_buf out, in;
	struct msg_req req = {.type = MSG_REQ_STATUS};
	void *got[4];
	int err, a = 1, b = 2;
	(void)state;
	assert_int_equal(proto_init(&p, 0), 0);
	mp_buf_init(&out);
	mp_buf_init(&in);
	assert_int_equal(proto_encode(&p, &req, &out, &a), 0);
	uint64_t first = req.id;
	assert_int_equal(proto_encode(&p, &req, &out, &b), 0);
	assert_int_equal(proto_pending_abandon(&p, first), 0);
	assert_int_equal(proto_pending_abandon(&p, 999), BERTH_ENOTFOUND);
	assert_int_equal(proto_pending_abandon(&p, 0), BERTH_ENOTFOUND);
	assert_int_equal(proto_pending_count(&p), 2);
	t_frame_resp(&in, req.id, 0);
	t_frame_resp(&in, first, 0);
	assert_int_equal(t_feed(&p, in.data, in.len, in.len, got, &err), 2);
	assert_int_equal(err, 0);
	assert_ptr_equal(got[0], &b);
	assert_null(got[1]);
	assert_int_equal(proto_pending_count(&p), 0);
	/* Answered once: a second answer to it is a protocol error. */
	mp_buf_reset(&in);
	t_frame_resp(&in, first, 0);
	assert_int_equal(t_feed(&p, in.data, in.len, in.len, got, &err), 0);
	assert_int_equal(err, BERTH_EBADREQ);
	mp_buf_close(&in);
	mp_buf_close(&out);
	proto_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_encode),
		cmocka_unit_test(test_proto_encode_too_large),
		cmocka_unit_test(test_proto_out_of_order),
		cmocka_unit_test(test_proto_partial_frame),
		cmocka_unit_test(test_proto_garbage),
		cmocka_unit_test(test_proto_pending_table),
		cmocka_unit_test(test_proto_abandon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
