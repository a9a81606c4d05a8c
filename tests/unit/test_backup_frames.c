/* tests/unit/test_backup_frames.c: the framing of a snapshot stream (common/wire.h): chunk
 * and end frames through the codec, the protocol core keeping the request pending until
 * the last frame (client/proto.h), and the download's checks on order, size and CRC
 * (client/snapsave.h); malformed frames of each kind are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/proto.h"
#include "client/snapsave.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const struct wire_header t_hdr = {.rev = 9, .term = 2, .index = 30, .member = 3};

/* Appends one whole frame (header and payload) holding the map in m to s. */
static void t_frame(struct mp_buf *s, struct mp_buf *m)
{
	uint8_t hdr[FRAME_HEADER_BYTES];
	assert_int_equal(mp_buf_error(m), 0);
	assert_int_equal(frame_encode_header(m->len, FRAME_MAX_DEFAULT, hdr), 0);
	mp_buf_append(s, hdr, sizeof(hdr));
	mp_buf_append(s, m->data, m->len);
	mp_buf_close(m);
}

static void t_chunk(struct mp_buf *s, uint64_t id, uint64_t off, const uint8_t *p, size_t n)
{
	struct mp_buf m;
	mp_buf_init(&m);
	wire_chunk_pack(&m, id, &t_hdr, off, p, n);
	t_frame(s, &m);
}

static void t_end(struct mp_buf *s, uint64_t id, uint64_t size, uint32_t crc)
{
	struct mp_buf m;
	struct wire_snap e = {size, crc, 41, 77};
	mp_buf_init(&m);
	wire_snap_pack(&m, id, &t_hdr, &e);
	t_frame(s, &m);
}

static uint32_t t_crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(crc32(0, Z_NULL, 0), p, (uInt)n);
}

static void test_backup_frames_codec(void **state)
{
	static const uint8_t data[] = "0123456789";
	struct mp_buf m;
	struct wire_resp r;
	(void)state;
	mp_buf_init(&m);
	wire_chunk_pack(&m, 5, &t_hdr, 1234, data, 10);
	assert_int_equal(wire_resp_decode(m.data, m.len, &r), 0);
	assert_true(r.more);
	assert_int_equal(r.id, 5);
	assert_int_equal(r.off, 1234);
	assert_int_equal(r.chunk.n, 10);
	assert_memory_equal(r.chunk.p, data, 10);
	assert_false(r.has_snap || r.has_reply || r.has_status);
	assert_int_equal(r.hdr.member, 3);
	wire_resp_free(&r);
	mp_buf_reset(&m);
	struct wire_snap e = {UINT64_MAX, UINT32_MAX, 41, 77};
	wire_snap_pack(&m, 5, &t_hdr, &e);
	assert_int_equal(wire_resp_decode(m.data, m.len, &r), 0);
	assert_false(r.more);
	assert_true(r.has_snap);
	assert_int_equal(r.snap.size, e.size);
	assert_int_equal(r.snap.crc, e.crc);
	assert_int_equal(r.snap.rev, e.rev);
	assert_int_equal(r.snap.applied, e.applied);
	wire_resp_free(&r);
	mp_buf_close(&m);
}

/* Envelopes that break the stream rules, each built by hand. */
static void test_backup_frames_codec_malformed(void **state)
{
	(void)state;
	for (int c = 0; c < 9; c++) {
		struct mp_buf m;
		struct wire_resp r;
		mp_buf_init(&m);
		msgpack_pack_map(&m.pk, c == 8 ? 5 : 4 + (c >= 4 && c != 6));
		mp_pack_kv_u64(&m.pk, "id", 1);
		mp_pack_cstr(&m.pk, "h");
		msgpack_pack_map(&m.pk, 0);
		switch (c) {
		case 0: /* more without a chunk */
			mp_pack_kv_bool(&m.pk, "more", 1);
			mp_pack_kv_u64(&m.pk, "off", 0);
			break;
		case 1: /* a chunk without its offset */
			mp_pack_kv_bool(&m.pk, "more", 1);
			mp_pack_kv_bin(&m.pk, "chunk", "x", 1);
			break;
		case 2: /* an empty chunk */
			mp_pack_kv_bool(&m.pk, "more", 1);
			mp_pack_kv_bin(&m.pk, "chunk", "", 0);
			break;
		case 3: /* more that is not a boolean */
			mp_pack_kv_u64(&m.pk, "more", 1);
			mp_pack_kv_bin(&m.pk, "chunk", "x", 1);
			break;
		case 4: /* a chunk on a last frame */
			mp_pack_kv_bin(&m.pk, "chunk", "x", 1);
			mp_pack_kv_u64(&m.pk, "off", 0);
			mp_pack_kv_i64(&m.pk, "err", 0);
			break;
		case 5: /* an end with a CRC past 32 bits */
		case 6: /* an end without its size */
			mp_pack_cstr(&m.pk, "snap");
			msgpack_pack_map(&m.pk, c == 5 ? 4 : 3);
			if (c == 5)
				mp_pack_kv_u64(&m.pk, "size", 1);
			mp_pack_kv_u64(&m.pk, "crc", c == 5 ? (uint64_t)1 << 32 : 1);
			mp_pack_kv_u64(&m.pk, "rev", 1);
			mp_pack_kv_u64(&m.pk, "applied", 1);
			if (c == 5)
				mp_pack_kv_u64(&m.pk, "x", 1);
			break;
		case 7: /* an end on a frame that says more */
			mp_pack_kv_bool(&m.pk, "more", 1);
			mp_pack_cstr(&m.pk, "snap");
			msgpack_pack_map(&m.pk, 0);
			mp_pack_kv_u64(&m.pk, "x", 0);
			break;
		case 8: /* an error on a frame that says more */
			mp_pack_kv_bool(&m.pk, "more", 1);
			mp_pack_kv_u64(&m.pk, "off", 0);
			mp_pack_kv_bin(&m.pk, "chunk", "x", 1);
			mp_pack_kv_i64(&m.pk, "err", BERTH_EIO);
			break;
		}
		assert_int_equal(mp_buf_error(&m), 0);
		if (wire_resp_decode(m.data, m.len, &r) == 0) {
			wire_resp_free(&r);
			fail_msg("malformed stream frame %d decoded", c);
		}
		mp_buf_close(&m);
	}
}

/* A whole stream through the protocol core, split at every size from 1 byte. */
static void test_backup_frames_proto_stream(void **state)
{
	uint8_t data[3000];
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	for (size_t split = 1; split < 200; split += 13) {
		struct proto p;
		struct mp_buf out, in;
		struct msg_req req = {.type = MSG_REQ_SNAPSHOT};
		int ctx = 0;
		assert_int_equal(proto_init(&p, 0), 0);
		mp_buf_init(&out);
		mp_buf_init(&in);
		assert_int_equal(proto_encode(&p, &req, &out, &ctx), 0);
		t_chunk(&in, req.id, 0, data, 1000);
		t_chunk(&in, req.id, 1000, data + 1000, 2000);
		t_end(&in, req.id, 3000, t_crc(data, 3000));
		struct snapsave_rx rx = {.crc = snapsave_crc_init()};
		unsigned frames = 0;
		for (size_t off = 0; off < in.len;) {
			size_t used, n = in.len - off < split ? in.len - off : split;
			struct proto_resp pr;
			int rv;
			assert_int_equal(proto_feed(&p, in.data + off, n, &used), 0);
			off += used;
			while ((rv = proto_next(&p, &pr)) == 0) {
				assert_ptr_equal(pr.ctx, &ctx);
				assert_int_equal(snapsave_frame(&rx, &pr.resp, NULL, NULL), 0);
				/* Pending until the last frame. */
				assert_int_equal(proto_pending_count(&p), pr.resp.more ? 1 : 0);
				frames++;
				proto_resp_free(&pr);
			}
			assert_int_equal(rv, BERTH_ENOTFOUND);
		}
		assert_int_equal(frames, 3);
		assert_true(rx.ended);
		assert_int_equal(rx.off, 3000);
		mp_buf_close(&out);
		mp_buf_close(&in);
		proto_close(&p);
	}
}

/* A chunk for an id nobody waits for, or for id 0, is a protocol error. */
static void test_backup_frames_proto_unknown_id(void **state)
{
	(void)state;
	for (uint64_t id = 0; id < 3; id++) {
		struct proto p;
		struct mp_buf out, in;
		struct proto_resp pr;
		struct msg_req req = {.type = MSG_REQ_SNAPSHOT};
		size_t used;
		assert_int_equal(proto_init(&p, 0), 0);
		mp_buf_init(&out);
		mp_buf_init(&in);
		assert_int_equal(proto_encode(&p, &req, &out, NULL), 0);
		assert_int_equal(req.id, 1);
		/* id 0, id 2 (never sent), and id 1 after its stream has ended. */
		if (id == 1)
			t_end(&in, 1, 0, snapsave_crc_init());
		t_chunk(&in, id == 1 ? 1 : id, 0, (const uint8_t *)"x", 1);
		assert_int_equal(proto_feed(&p, in.data, in.len, &used), 0);
		if (id == 1) {
			assert_int_equal(proto_next(&p, &pr), 0);
			proto_resp_free(&pr);
			size_t more;
			assert_int_equal(proto_feed(&p, in.data + used, in.len - used, &more), 0);
			used += more;
		}
		assert_int_equal(used, in.len);
		assert_int_equal(proto_next(&p, &pr), BERTH_EBADREQ);
		mp_buf_close(&out);
		mp_buf_close(&in);
		proto_close(&p);
	}
}

static int t_rx(struct snapsave_rx *rx, struct mp_buf *m)
{
	struct wire_resp r;
	assert_int_equal(
		wire_resp_decode(m->data + FRAME_HEADER_BYTES, m->len - FRAME_HEADER_BYTES, &r), 0);
	mp_buf_reset(m);
	int rv = snapsave_frame(rx, &r, NULL, NULL);
	wire_resp_free(&r);
	return rv;
}

/* Gaps, overlaps, wrong sizes and CRCs, frames after the end, a stream given up. */
static void test_backup_frames_checks(void **state)
{
	static const uint8_t d[8] = "abcdefgh";
	struct mp_buf m;
	(void)state;
	mp_buf_init(&m);
	for (int c = 0; c < 8; c++) {
		struct snapsave_rx rx = {.crc = snapsave_crc_init()};
		t_chunk(&m, 1, 0, d, 4);
		assert_int_equal(t_rx(&rx, &m), 0);
		int want = BERTH_ECORRUPT;
		switch (c) {
		case 0: /* a gap */
			t_chunk(&m, 1, 5, d + 5, 3);
			break;
		case 1: /* an overlap */
			t_chunk(&m, 1, 3, d + 3, 5);
			break;
		case 2: /* the end says more bytes than came */
			t_end(&m, 1, 8, t_crc(d, 8));
			break;
		case 3: /* the CRC of other bytes */
			t_end(&m, 1, 4, t_crc(d + 1, 4));
			break;
		case 4: /* the node gave up */
			mp_buf_append(&m, (const uint8_t[4]){0}, 4);
			wire_resp_pack(&m, 1, BERTH_EIO, NULL, &t_hdr, NULL, 0, NULL);
			assert_int_equal(frame_encode_header(m.len - 4, FRAME_MAX_DEFAULT, m.data),
					 0);
			want = BERTH_EIO;
			break;
		case 5: /* a last frame that is no end */
			mp_buf_append(&m, (const uint8_t[4]){0}, 4);
			wire_resp_pack(&m, 1, 0, NULL, &t_hdr, NULL, 0, NULL);
			assert_int_equal(frame_encode_header(m.len - 4, FRAME_MAX_DEFAULT, m.data),
					 0);
			want = BERTH_EBADREQ;
			break;
		default: /* right, then one more frame after the end */
			t_end(&m, 1, 4, t_crc(d, 4));
			assert_int_equal(t_rx(&rx, &m), 0);
			if (c == 6)
				t_chunk(&m, 1, 4, d + 4, 4);
			else
				t_end(&m, 1, 4, t_crc(d, 4));
			break;
		}
		assert_int_equal(t_rx(&rx, &m), want);
	}
	mp_buf_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_frames_codec),
		cmocka_unit_test(test_backup_frames_codec_malformed),
		cmocka_unit_test(test_backup_frames_proto_stream),
		cmocka_unit_test(test_backup_frames_proto_unknown_id),
		cmocka_unit_test(test_backup_frames_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
