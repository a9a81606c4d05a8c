/* tests/unit/test_codec.c: the msgpack codec (common/mp.c, msg.c, reply.c) against hostile
 * input: validation of every type family, truncation, lying counts, depth, padding,
 * integer encodings, round trips, malformed messages, a fixed-seed mutation fuzz
 * (BERTH_CODEC_SEED replays a run) and bad entries reaching the state machine.
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
#include "tests/unit/support.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- byte helpers ---------------------------------------------------------------------- */

/* A heap copy of exactly n bytes. */
static uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

static int hex_digit(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* "cc ff 00" -> 3 bytes, in an exact heap buffer. */
static uint8_t *hex(const char *s, size_t *n)
{
	uint8_t buf[256];
	size_t len = 0;
	for (; *s; s++) {
		if (*s == ' ')
			continue;
		assert_true(isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]));
		assert_true(len < sizeof(buf));
		buf[len++] = (uint8_t)(hex_digit(s[0]) * 16 + hex_digit(s[1]));
		s++;
	}
	*n = len;
	return dup_exact(buf, len);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The bytes in b, as an exact heap copy; b is closed. */
static uint8_t *buf_finish(struct mp_buf *b, size_t *n)
{
	assert_int_equal(mp_buf_error(b), 0);
	uint8_t *d = dup_exact(b->data, b->len);
	*n = b->len;
	mp_buf_close(b);
	return d;
}

/* ---- msgpack literals ------------------------------------------------------------------ */
/* A compact notation for hand-made (often malformed) inputs:
 *   {k: v, ...} map   [v, ...] array   nil true false   words are str (T, ts, x, ...)
 *   12 -5 integers (uint64 / int64)    1.5 float64      'text' str   b'text' bin (\xHH)
 *   #c1 00#  raw bytes copied as they are
 * Several top-level values are concatenated, which makes trailing bytes. */
static void lit_value(const char **s, struct mp_buf *out);

static void lit_skip(const char **s)
{
	while (**s == ' ')
		(*s)++;
}

static size_t lit_quoted(const char **s, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	for ((*s)++; **s != '\''; n++) {
		assert_true(**s != 0 && n < cap);
		if ((*s)[0] == '\\' && (*s)[1] == 'x') {
			buf[n] = (uint8_t)(hex_digit((*s)[2]) * 16 + hex_digit((*s)[3]));
			*s += 4;
		} else {
			buf[n] = (uint8_t) * *s;
			(*s)++;
		}
	}
	(*s)++;
	return n;
}

static void lit_seq(const char **s, struct mp_buf *out, char close, bool map)
{
	struct mp_buf sub;
	uint32_t count = 0;
	mp_buf_init(&sub);
	(*s)++;
	lit_skip(s);
	while (**s != close) {
		lit_value(s, &sub);
		if (map) {
			lit_skip(s);
			assert_int_equal(**s, ':');
			(*s)++;
			lit_value(s, &sub);
		}
		count++;
		lit_skip(s);
		if (**s == ',') {
			(*s)++;
			lit_skip(s);
		} else {
			assert_int_equal(**s, close);
		}
	}
	(*s)++;
	if (map)
		msgpack_pack_map(&out->pk, count);
	else
		msgpack_pack_array(&out->pk, count);
	mp_buf_append(out, sub.data, sub.len);
	mp_buf_close(&sub);
}

static void lit_value(const char **s, struct mp_buf *out)
{
	uint8_t buf[256];
	char *end;
	size_t n;
	lit_skip(s);
	const char *p = *s;
	if (*p == '{' || *p == '[') {
		lit_seq(s, out, *p == '{' ? '}' : ']', *p == '{');
	} else if (*p == '\'') {
		n = lit_quoted(s, buf, sizeof(buf));
		msgpack_pack_str(&out->pk, n);
		msgpack_pack_str_body(&out->pk, buf, n);
	} else if (p[0] == 'b' && p[1] == '\'') {
		(*s)++;
		n = lit_quoted(s, buf, sizeof(buf));
		mp_pack_bin(&out->pk, buf, n);
	} else if (*p == '#') {
		for ((*s)++, lit_skip(s); **s != '#'; lit_skip(s)) {
			uint8_t b = (uint8_t)(hex_digit((*s)[0]) * 16 + hex_digit((*s)[1]));
			mp_buf_append(out, &b, 1);
			*s += 2;
		}
		(*s)++;
	} else if (*p == '-' || isdigit((unsigned char)*p)) {
		n = strspn(p, "-0123456789.");
		if (memchr(p, '.', n) != NULL)
			msgpack_pack_double(&out->pk, strtod(p, &end));
		else if (*p == '-')
			msgpack_pack_int64(&out->pk, strtoll(p, &end, 10));
		else
			msgpack_pack_uint64(&out->pk, strtoull(p, &end, 10));
		assert_true(end == p + n);
		*s = end;
	} else {
		n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		assert_true(n > 0);
		*s += n;
		if (n == 3 && memcmp(p, "nil", 3) == 0)
			msgpack_pack_nil(&out->pk);
		else if (n == 4 && memcmp(p, "true", 4) == 0)
			msgpack_pack_true(&out->pk);
		else if (n == 5 && memcmp(p, "false", 5) == 0)
			msgpack_pack_false(&out->pk);
		else {
			msgpack_pack_str(&out->pk, n);
			msgpack_pack_str_body(&out->pk, p, n);
		}
	}
}

static uint8_t *lit(const char *s, size_t *n)
{
	struct mp_buf b;
	mp_buf_init(&b);
	for (lit_skip(&s); *s != 0; lit_skip(&s))
		lit_value(&s, &b);
	return buf_finish(&b, n);
}

/* ---- structure comparison: the name of the first differing field, or NULL -------------- */

static bool bytes_same(struct bytes a, struct bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static const char *op_diff(const struct msg_op *a, const struct msg_op *b)
{
	if (a->type != b->type)
		return "op type";
	if (a->flags != b->flags)
		return "op flags";
	if (!bytes_same(a->key, b->key))
		return "op key";
	if (!bytes_same(a->end, b->end))
		return "op end";
	if (!bytes_same(a->value, b->value))
		return "op value";
	if (a->delta != b->delta)
		return "op delta";
	if (a->lease != b->lease)
		return "op lease";
	if (a->limit != b->limit)
		return "op limit";
	if (a->rev != b->rev)
		return "op rev";
	return NULL;
}

static const char *txn_diff(const struct msg_txn *a, const struct msg_txn *b)
{
	const char *d = NULL;
	if (a->ncmp != b->ncmp || a->nsucc != b->nsucc || a->nfail != b->nfail)
		return "txn counts";
	for (uint32_t i = 0; i < a->ncmp; i++) {
		const struct msg_compare *x = &a->cmp[i], *y = &b->cmp[i];
		if (x->target != y->target || x->op != y->op)
			return "compare target/op";
		if (!bytes_same(x->key, y->key))
			return "compare key";
		if (!bytes_same(x->value, y->value))
			return "compare value";
		if (x->num != y->num)
			return "compare num";
	}
	for (uint32_t i = 0; d == NULL && i < a->nsucc; i++)
		d = op_diff(&a->succ[i], &b->succ[i]);
	for (uint32_t i = 0; d == NULL && i < a->nfail; i++)
		d = op_diff(&a->fail[i], &b->fail[i]);
	return d;
}

static const char *cmd_diff(const struct msg_cmd *a, const struct msg_cmd *b)
{
	if (a->type != b->type)
		return "type";
	if (a->time_ms != b->time_ms || a->session != b->session || a->seq != b->seq)
		return "ts/sid/seq";
	if (a->rev != b->rev)
		return "rev";
	if (a->lease != b->lease)
		return "lease";
	if (a->ttl != b->ttl)
		return "ttl";
	if (a->nleases != b->nleases)
		return "nleases";
	for (uint32_t i = 0; i < a->nleases; i++)
		if (a->leases[i] != b->leases[i])
			return "leases";
	return txn_diff(&a->txn, &b->txn);
}

static const char *req_diff(const struct msg_req *a, const struct msg_req *b)
{
	if (a->type != b->type)
		return "type";
	if (a->id != b->id || a->session != b->session || a->seq != b->seq)
		return "id/sid/seq";
	if (a->serializable != b->serializable)
		return "ser";
	if (a->rev != b->rev || a->lease != b->lease || a->ttl != b->ttl)
		return "rev/lease/ttl";
	if (a->watch_id != b->watch_id)
		return "wid";
	if (a->proto != b->proto || !bytes_same(a->token, b->token))
		return "proto/token";
	const char *d = op_diff(&a->watch, &b->watch);
	return d ? d : txn_diff(&a->txn, &b->txn);
}

static void assert_same(const char *diff)
{
	if (diff != NULL)
		fail_msg("structures differ in: %s", diff);
}

/* Every borrowed byte string lies inside [lo, lo + n). */
static bool in_buf(struct bytes b, const uint8_t *lo, size_t n)
{
	return b.n == 0 || (b.p >= lo && b.p + b.n <= lo + n);
}

static bool op_borrows(const struct msg_op *o, const uint8_t *lo, size_t n)
{
	return in_buf(o->key, lo, n) && in_buf(o->end, lo, n) && in_buf(o->value, lo, n);
}

static bool txn_borrows(const struct msg_txn *t, const uint8_t *lo, size_t n)
{
	for (uint32_t i = 0; i < t->ncmp; i++)
		if (!in_buf(t->cmp[i].key, lo, n) || !in_buf(t->cmp[i].value, lo, n))
			return false;
	for (uint32_t i = 0; i < t->nsucc; i++)
		if (!op_borrows(&t->succ[i], lo, n))
			return false;
	for (uint32_t i = 0; i < t->nfail; i++)
		if (!op_borrows(&t->fail[i], lo, n))
			return false;
	return true;
}

/* A failed decode leaves nothing allocated behind. */
static void assert_cmd_empty(const struct msg_cmd *c)
{
	assert_null(c->txn.cmp);
	assert_null(c->txn.succ);
	assert_null(c->txn.fail);
	assert_null(c->leases);
	assert_int_equal(c->nleases, 0);
	assert_int_equal(c->txn.ncmp + c->txn.nsucc + c->txn.nfail, 0);
}

static void assert_req_empty(const struct msg_req *r)
{
	assert_null(r->txn.cmp);
	assert_null(r->txn.succ);
	assert_null(r->txn.fail);
	assert_int_equal(r->txn.ncmp + r->txn.nsucc + r->txn.nfail, 0);
}

static void assert_reply_empty(const struct reply *r)
{
	assert_null(r->ops);
	assert_int_equal(r->nops, 0);
}

/* ---- samples: a value for every field ---------------------------------------------------- */

static const uint8_t odd_bytes[] = {0x00, 0xff, 0xc1, 0x80, 0x7f, 'k', 0x00};
static const int64_t odd_nums[] = {INT64_MIN, INT64_MIN + 1, -33, -32, -1,    0,
				   1,         127,           128, 255, 65536, INT64_MAX};
static uint8_t long_key[300];    /* bin16 */
static uint8_t big_value[70000]; /* bin32 */
static uint8_t cmp_keys[MSG_CMP_TARGET_COUNT * MSG_CMP_OP_COUNT][4];
static struct msg_compare s_cmp[MSG_CMP_TARGET_COUNT * MSG_CMP_OP_COUNT];
static struct msg_op s_succ[MSG_OP_TYPE_COUNT];
static struct msg_op s_fail[20];
static uint64_t s_leases[3] = {1, (uint64_t)1 << 32, UINT64_MAX};
static const uint8_t s_token[] = {'s', 'e', 0x00, 'r', 0xff, 't'};

/* A compare of every target and operator (30: array16), and an op of every type with
 * every field set. big: a 300-byte key, a 70,000-byte value and 20 failure ops (array16);
 * otherwise a few bytes each (for the fuzz). Uses static storage. */
static struct msg_txn sample_txn(bool big)
{
	uint32_t nc = 0, nfail = big ? 20 : 3;
	for (size_t i = 0; i < sizeof(long_key); i++)
		long_key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(big_value); i++)
		big_value[i] = (uint8_t)(i * 13 + 5);
	for (uint8_t tg = 0; tg < MSG_CMP_TARGET_COUNT; tg++) {
		for (uint8_t o = 0; o < MSG_CMP_OP_COUNT; o++, nc++) {
			uint8_t *k = cmp_keys[nc];
			k[0] = 0x00;
			k[1] = tg;
			k[2] = o;
			k[3] = 0xff;
			s_cmp[nc] = (struct msg_compare){.target = tg, .op = o, .key = {k, 4}};
			if (tg == MSG_CMP_VALUE)
				s_cmp[nc].value = (struct bytes){odd_bytes, o}; /* o = 0: empty */
			else
				s_cmp[nc].num = odd_nums[nc % ARRAY_LEN(odd_nums)];
		}
	}
	for (uint8_t ty = 0; ty < MSG_OP_TYPE_COUNT; ty++)
		s_succ[ty] = (struct msg_op){
			.type = ty,
			.flags = MSG_F_ALL,
			.key = {big ? long_key : odd_bytes, big ? sizeof(long_key) : 3},
			.end = {odd_bytes, 1}, /* one zero byte: "to the last key" */
			.value = {big ? big_value : odd_bytes + 1, big ? sizeof(big_value) : 4},
			.delta = odd_nums[ty],
			.lease = UINT64_MAX - ty,
			.limit = (uint64_t)UINT32_MAX + 1 + ty,
			.rev = (uint64_t)INT64_MAX + 1 + ty,
		};
	for (uint32_t i = 0; i < nfail; i++)
		s_fail[i] = (struct msg_op){
			.type = (uint8_t)(i % MSG_OP_TYPE_COUNT),
			.flags = (uint8_t)(i % 8),
			.key = {odd_bytes + i % 5, 1 + i % 2},
			.end = {odd_bytes, i % 3},
			.value = {odd_bytes, i % 7},
			.delta = (int64_t)i - 10,
			.lease = i,
			.limit = i * 1000,
			.rev = i,
		};
	return (struct msg_txn){nc, MSG_OP_TYPE_COUNT, nfail, s_cmp, s_succ, s_fail};
}

/* One or more commands of every type; returns how many (out has room for 16). */
static size_t sample_cmds(struct msg_cmd *out, bool big)
{
	size_t n = 0;
	out[n++] = (struct msg_cmd){.type = MSG_CMD_TXN,
				    .time_ms = UINT64_MAX,
				    .session = 42,
				    .seq = UINT64_MAX - 1,
				    .txn = sample_txn(big)};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_TXN, .time_ms = 1};
	out[n++] = (struct msg_cmd){
		.type = MSG_CMD_COMPACT, .time_ms = 2, .session = 1, .seq = 1, .rev = UINT64_MAX};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .time_ms = 3, .ttl = 60};
	out[n++] = (struct msg_cmd){
		.type = MSG_CMD_LEASE_GRANT, .lease = UINT64_MAX, .ttl = INT64_MIN};
	out[n++] = (struct msg_cmd){
		.type = MSG_CMD_LEASE_REVOKE, .session = UINT64_MAX, .seq = 1, .lease = 7};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_LEASE_EXPIRE, .nleases = 3, .leases = s_leases};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_LEASE_EXPIRE, .time_ms = 9};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = FSM_SESSION_MAX_TTL_MS};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = -1};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_TICK, .time_ms = 123456789};
	return n;
}

/* One or more requests of every type; returns how many (out has room for 16). */
static size_t sample_reqs(struct msg_req *out, bool big)
{
	size_t n = 0;
	struct msg_op w = {.type = MSG_OP_RANGE,
			   .flags = MSG_F_ALL,
			   .key = {odd_bytes, 2},
			   .end = {odd_bytes + 2, 3},
			   .value = {odd_bytes, 1},
			   .delta = -1,
			   .lease = 5,
			   .limit = 6,
			   .rev = 7};
	out[n++] = (struct msg_req){.type = MSG_REQ_HELLO,
				    .id = 1,
				    .proto = MSG_PROTOCOL_VERSION,
				    .token = {s_token, sizeof(s_token)}};
	out[n++] = (struct msg_req){.type = MSG_REQ_HELLO, .proto = UINT32_MAX};
	out[n++] = (struct msg_req){.type = MSG_REQ_TXN,
				    .id = UINT64_MAX,
				    .session = 3,
				    .seq = 4,
				    .serializable = true,
				    .txn = sample_txn(big)};
	out[n++] = (struct msg_req){.type = MSG_REQ_TXN, .id = 2};
	out[n++] = (struct msg_req){.type = MSG_REQ_COMPACT, .id = 3, .rev = UINT64_MAX};
	out[n++] = (struct msg_req){.type = MSG_REQ_LEASE_GRANT, .ttl = 10};
	out[n++] = (struct msg_req){.type = MSG_REQ_LEASE_GRANT, .lease = 9, .ttl = INT64_MAX};
	out[n++] = (struct msg_req){.type = MSG_REQ_LEASE_REVOKE, .lease = 9};
	out[n++] = (struct msg_req){.type = MSG_REQ_LEASE_KEEPALIVE, .lease = UINT64_MAX};
	out[n++] = (struct msg_req){.type = MSG_REQ_SESSION_OPEN, .ttl = 1000};
	out[n++] = (struct msg_req){.type = MSG_REQ_WATCH, .id = 8, .rev = UINT64_MAX, .watch = w};
	out[n++] = (struct msg_req){.type = MSG_REQ_WATCH_CANCEL, .watch_id = 3};
	out[n++] = (struct msg_req){.type = MSG_REQ_STATUS, .id = 77, .session = 1, .seq = 2};
	return n;
}

static uint8_t *encode_cmd(const struct msg_cmd *c, size_t *n)
{
	struct mp_buf b;
	mp_buf_init(&b);
	msg_cmd_encode(&b, c);
	return buf_finish(&b, n);
}

static uint8_t *encode_req(const struct msg_req *r, size_t *n)
{
	struct mp_buf b;
	mp_buf_init(&b);
	msg_req_encode(&b, r);
	return buf_finish(&b, n);
}

/* A reply with every field, packed by hand with the reply helpers. */
static const uint8_t kv1_key[] = {0x00, 0x01, 0xff};

static uint8_t *sample_reply(size_t *n)
{
	struct mp_buf b;
	struct reply_kv kv1 = {{kv1_key, 3}, {odd_bytes, 5}, INT64_MIN, INT64_MAX, 0, UINT64_MAX};
	struct reply_kv kv2 = {{odd_bytes + 5, 1}, {odd_bytes, 3}, 1, 2, 3, 4};
	mp_buf_init(&b);
	msgpack_packer *pk = &b.pk;
	msgpack_pack_map(pk, 6);
	mp_pack_kv_i64(pk, "err", 0);
	mp_pack_kv_u64(pk, "rev", UINT64_MAX);
	mp_pack_kv_bool(pk, "ok", true);
	mp_pack_kv_u64(pk, "id", 9);
	mp_pack_kv_i64(pk, "ttl", -5);
	mp_pack_cstr(pk, "r");
	msgpack_pack_array(pk, 4);
	msgpack_pack_map(pk, 4);
	mp_pack_kv_u64(pk, "t", MSG_OP_RANGE);
	mp_pack_kv_u64(pk, "n", 3);
	mp_pack_kv_bool(pk, "more", true);
	mp_pack_cstr(pk, "kvs");
	msgpack_pack_array(pk, 2);
	reply_pack_kv(pk, &kv1, false);
	reply_pack_kv(pk, &kv2, true);
	msgpack_pack_map(pk, 1);
	mp_pack_kv_u64(pk, "t", MSG_OP_PUT);
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "t", MSG_OP_DEL);
	mp_pack_kv_u64(pk, "d", UINT64_MAX);
	msgpack_pack_map(pk, 2);
	mp_pack_kv_u64(pk, "t", MSG_OP_ADD);
	mp_pack_kv_i64(pk, "v", INT64_MIN);
	return buf_finish(&b, n);
}

/* ---- 1. mp_validate ------------------------------------------------------------------- */

struct typed_hex {
	const char *hex;
	msgpack_object_type type;
};

static const struct typed_hex valid_hex[] = {
	{"00", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"7f", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"e0", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"ff", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"c0", MSGPACK_OBJECT_NIL},
	{"c2", MSGPACK_OBJECT_BOOLEAN},
	{"c3", MSGPACK_OBJECT_BOOLEAN},
	{"cc 80", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"cd ff ff", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"ce 00 01 00 00", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"cf ff ff ff ff ff ff ff ff", MSGPACK_OBJECT_POSITIVE_INTEGER},
	{"d0 80", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"d1 80 00", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"d2 80 00 00 00", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"d3 80 00 00 00 00 00 00 00", MSGPACK_OBJECT_NEGATIVE_INTEGER},
	{"ca 3f c0 00 00", MSGPACK_OBJECT_FLOAT32},
	{"cb 3f f8 00 00 00 00 00 00", MSGPACK_OBJECT_FLOAT64},
	{"a0", MSGPACK_OBJECT_STR},
	{"a3 61 62 63", MSGPACK_OBJECT_STR},
	{"d9 00", MSGPACK_OBJECT_STR},
	{"d9 03 61 62 63", MSGPACK_OBJECT_STR},
	{"da 00 03 61 62 63", MSGPACK_OBJECT_STR},
	{"db 00 00 00 03 61 62 63", MSGPACK_OBJECT_STR},
	{"c4 00", MSGPACK_OBJECT_BIN},
	{"c4 02 00 ff", MSGPACK_OBJECT_BIN},
	{"c5 00 02 00 ff", MSGPACK_OBJECT_BIN},
	{"c6 00 00 00 02 00 ff", MSGPACK_OBJECT_BIN},
	{"90", MSGPACK_OBJECT_ARRAY},
	{"93 01 02 03", MSGPACK_OBJECT_ARRAY},
	{"dc 00 00", MSGPACK_OBJECT_ARRAY},
	{"dc 00 02 c0 c3", MSGPACK_OBJECT_ARRAY},
	{"dd 00 00 00 00", MSGPACK_OBJECT_ARRAY},
	{"dd 00 00 00 02 a1 61 cc ff", MSGPACK_OBJECT_ARRAY},
	{"80", MSGPACK_OBJECT_MAP},
	{"81 a1 61 01", MSGPACK_OBJECT_MAP},
	{"de 00 00", MSGPACK_OBJECT_MAP},
	{"de 00 01 a1 61 92 01 02", MSGPACK_OBJECT_MAP},
	{"df 00 00 00 00", MSGPACK_OBJECT_MAP},
	{"df 00 00 00 02 a1 61 c0 a1 62 81 a0 90", MSGPACK_OBJECT_MAP},
	{"93 93 c0 c2 c3 82 01 02 03 04 c4 01 00", MSGPACK_OBJECT_ARRAY},
};

/* Generated encodings: header bytes, then `count` copies of `fill` bytes. */
static uint8_t *gen(const char *header, size_t count, const char *fill, size_t *n)
{
	size_t hn, fn;
	uint8_t *h = hex(header, &hn), *f = hex(fill, &fn);
	uint8_t *d = malloc(hn + count * fn + 1);
	assert_non_null(d);
	memcpy(d, h, hn);
	for (size_t i = 0; i < count; i++)
		memcpy(d + hn + i * fn, f, fn);
	*n = hn + count * fn;
	free(h);
	free(f);
	return d;
}

struct gen_case {
	const char *header;
	size_t count;
	const char *fill;
	msgpack_object_type type;
	uint32_t size; /* str/bin length, array/map count */
};

static const struct gen_case gen_cases[] = {
	{"bf", 31, "61", MSGPACK_OBJECT_STR, 31},
	{"da 01 2c", 300, "62", MSGPACK_OBJECT_STR, 300},
	{"db 00 01 11 70", 70000, "63", MSGPACK_OBJECT_STR, 70000},
	{"c5 01 2c", 300, "00", MSGPACK_OBJECT_BIN, 300},
	{"c6 00 01 11 70", 70000, "ff", MSGPACK_OBJECT_BIN, 70000},
	{"9f", 15, "c0", MSGPACK_OBJECT_ARRAY, 15},
	{"dc 00 14", 20, "01", MSGPACK_OBJECT_ARRAY, 20},
	{"dd 00 01 11 70", 70000, "c3", MSGPACK_OBJECT_ARRAY, 70000},
	{"8f", 15, "01 c0", MSGPACK_OBJECT_MAP, 15},
	{"de 00 14", 20, "a0 01", MSGPACK_OBJECT_MAP, 20},
	{"df 00 01 11 70", 70000, "02 c2", MSGPACK_OBJECT_MAP, 70000},
};

static uint32_t obj_size(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return o->via.str.size;
	case MSGPACK_OBJECT_BIN:
		return o->via.bin.size;
	case MSGPACK_OBJECT_ARRAY:
		return o->via.array.size;
	case MSGPACK_OBJECT_MAP:
		return o->via.map.size;
	default:
		return 0;
	}
}

/* Accepted with used == n; bytes after the object are not examined (0xc1 is never valid);
 * mp_doc_init agrees and msgpack-c sees the expected type. */
static void check_valid(const uint8_t *p, size_t n, msgpack_object_type type, uint32_t size)
{
	uint8_t *d = dup_exact(p, n);
	size_t used = 0;
	struct mp_doc doc;
	assert_int_equal(mp_validate(d, n, MP_MAX_DEPTH, &used), 0);
	assert_int_equal(used, n);
	uint8_t *t = malloc(n + 2);
	assert_non_null(t);
	memcpy(t, p, n);
	t[n] = 0xc1;
	t[n + 1] = 0xc1;
	used = 0;
	assert_int_equal(mp_validate(t, n + 2, MP_MAX_DEPTH, &used), 0);
	assert_int_equal(used, n);
	assert_int_equal(mp_doc_init(&doc, d, n), 0);
	assert_int_equal(doc.root->type, type);
	if (size != UINT32_MAX)
		assert_int_equal(obj_size(doc.root), size);
	mp_doc_close(&doc);
	assert_null(doc.root);
	free(t);
	free(d);
}

static void test_codec_validate_every_type(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(valid_hex); i++) {
		size_t n;
		uint8_t *p = hex(valid_hex[i].hex, &n);
		check_valid(p, n, valid_hex[i].type, UINT32_MAX);
		free(p);
	}
	for (size_t i = 0; i < ARRAY_LEN(gen_cases); i++) {
		const struct gen_case *g = &gen_cases[i];
		size_t n;
		uint8_t *p = gen(g->header, g->count, g->fill, &n);
		check_valid(p, n, g->type, g->size);
		free(p);
	}
}

static void test_codec_validate_ext_rejected(void **state)
{
	static const char *const bad[] = {
		"c1",
		"d4 01 00",
		"d5 01 00 00",
		"d6 ff 00 00 00 00",
		"d7 01 00 00 00 00 00 00 00 00",
		"d8 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		"c7 01 05 00",
		"c7 00 05",
		"c8 00 01 05 00",
		"c9 00 00 00 01 05 00",
		"91 c1",
		"92 01 c1",
		"81 a1 61 c1",
		"81 c1 01",
		"92 01 d4 01 00",
		"dc 00 01 c7 00 05",
		"df 00 00 00 01 a0 d6 ff 00 00 00 00",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t n, used = 12345;
		struct mp_doc doc;
		uint8_t *p = hex(bad[i], &n);
		assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
		assert_int_equal(used, 12345); /* untouched on failure */
		assert_int_equal(mp_doc_init(&doc, p, n), BERTH_EBADREQ);
		free(p);
	}
}

/* Every strict prefix of a valid encoding is refused, by mp_validate, mp_doc_init and the
 * decoder the encoding belongs to. */
static void check_prefixes(const uint8_t *p, size_t n, int which)
{
	for (size_t k = 0; k < n; k++) {
		uint8_t *d = dup_exact(p, k);
		size_t used;
		struct mp_doc doc;
		struct msg_cmd c;
		struct msg_req r;
		struct reply rp;
		assert_int_equal(mp_validate(d, k, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
		assert_int_equal(mp_doc_init(&doc, d, k), BERTH_EBADREQ);
		if (which == 1) {
			assert_int_equal(msg_cmd_decode(d, k, &c), BERTH_EBADREQ);
			assert_cmd_empty(&c);
		} else if (which == 2) {
			assert_int_equal(msg_req_decode(d, k, &r), BERTH_EBADREQ);
			assert_req_empty(&r);
		} else if (which == 3) {
			assert_int_equal(reply_decode(d, k, &rp), BERTH_EBADREQ);
			assert_reply_empty(&rp);
		}
		free(d);
	}
}

static void test_codec_validate_truncated(void **state)
{
	struct msg_cmd cmds[16];
	struct msg_req reqs[16];
	size_t n;
	uint8_t *p;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(valid_hex); i++) {
		p = hex(valid_hex[i].hex, &n);
		check_prefixes(p, n, 0);
		free(p);
	}
	/* The generated ones up to a few hundred bytes (prefix checks are quadratic). */
	for (size_t i = 0; i < ARRAY_LEN(gen_cases); i++) {
		if (gen_cases[i].count > 300)
			continue;
		p = gen(gen_cases[i].header, gen_cases[i].count, gen_cases[i].fill, &n);
		check_prefixes(p, n, 0);
		free(p);
	}
	size_t nc = sample_cmds(cmds, false);
	for (size_t i = 0; i < nc; i++) {
		p = encode_cmd(&cmds[i], &n);
		check_prefixes(p, n, 1);
		free(p);
	}
	size_t nr = sample_reqs(reqs, false);
	for (size_t i = 0; i < nr; i++) {
		p = encode_req(&reqs[i], &n);
		check_prefixes(p, n, 2);
		free(p);
	}
	p = sample_reply(&n);
	check_prefixes(p, n, 3);
	free(p);
}

/* Headers claiming far more elements or bytes than follow. */
static const char *const lying_hex[] = {
	"dd 04 00 00 00 c0 c0 c0",             /* array32 of 2^26 */
	"dd ff ff ff ff c0 c0 c0",             /* array32 of 2^32 - 1 */
	"dd 80 00 00 00 c0 c0 c0",             /* array32 of 2^31 */
	"df ff ff ff ff c0 c0 c0",             /* map32 of 2^32 - 1 pairs */
	"df 80 00 00 00 c0 c0 c0",             /* map32 of 2^31 pairs: 2^32 children */
	"df 00 00 00 02 01 02 03",             /* 4 children, 3 bytes */
	"dd 00 00 00 03 01 02",                /* one short */
	"dc ff ff 01 02 03",                   /* array16 */
	"de ff ff 01 02 03",                   /* map16 */
	"9f 01 02",                            /* fixarray */
	"8f 01 02 03",                         /* fixmap */
	"81 01",                               /* a map missing its value */
	"92 01 dd ff ff ff ff c0",             /* nested */
	"81 a1 54 dd 04 00 00 00 01 02 03",    /* as a map value */
	"db ff ff ff ff 61 62 63",             /* str32 of 4 GiB - 1 */
	"db 80 00 00 00 61 62 63",             /* str32 of 2 GiB */
	"c6 ff ff ff ff 00 00 00",             /* bin32 of 4 GiB - 1 */
	"c6 00 00 00 04 00 00 00",             /* bin32 one short */
	"da ff ff 61",                         /* str16 */
	"c5 ff ff 61",                         /* bin16 */
	"d9 ff 61",                            /* str8 */
	"c4 ff 61",                            /* bin8 */
	"bf 61",                               /* fixstr */
	"dd ff ff ff",                         /* the count itself truncated */
	"df ff",                               /* likewise */
	"db ff ff",                            /* likewise */
	"cf 00 00 00",                         /* uint64 body truncated */
	"cb 00",                               /* float64 body truncated */
	"92 c4 ff ff",                         /* bin8 inside an array */
	"91 82 a1 61 01 a1 62 db 00 00 01 00", /* str32 nested deep */
};

static void check_lying(const uint8_t *p, size_t n)
{
	size_t used;
	struct mp_doc doc;
	struct msg_cmd c;
	struct msg_req r;
	struct reply rp;
	assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
	assert_int_equal(mp_doc_init(&doc, p, n), BERTH_EBADREQ);
	assert_int_equal(msg_cmd_decode(p, n, &c), BERTH_EBADREQ);
	assert_cmd_empty(&c);
	assert_int_equal(msg_req_decode(p, n, &r), BERTH_EBADREQ);
	assert_req_empty(&r);
	assert_int_equal(reply_decode(p, n, &rp), BERTH_EBADREQ);
	assert_reply_empty(&rp);
}

static void test_codec_validate_lying_counts(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(lying_hex); i++) {
		size_t n;
		uint8_t *p = hex(lying_hex[i], &n);
		check_lying(p, n);
		free(p);
	}
	/* The same lies inside otherwise well-formed messages. */
	static const char *const in_msgs[] = {
		"{T: 5, leases: #dd 04 00 00 00 01 02 03#}",
		"{T: 1, x: {c: #dd ff ff ff ff#, s: []}}",
		"{T: 1, x: {s: [{t: 1, k: #db ff ff ff ff 61#}]}}",
		"{T: 2, x: {s: #de ff ff 01 02 03#}}",
		"{r: #dd 04 00 00 00 01 02 03#, rev: 1}",
		"{r: [{t: 0, kvs: #dd ff ff ff ff#}]}",
	};
	for (size_t i = 0; i < ARRAY_LEN(in_msgs); i++) {
		size_t n;
		uint8_t *p = lit(in_msgs[i], &n);
		check_lying(p, n);
		free(p);
	}
}

/* msgpack-c alone reserves 1.6 GB for the 2^26 header: refusing it must cost nothing. */
static void test_codec_validate_lying_counts_fast(void **state)
{
	static const char *const cases[] = {"dd 04 00 00 00 c0 c0 c0", "df ff ff ff ff c0 c0 c0",
					    "db ff ff ff ff 61 62 63", "c6 ff ff ff ff 00 00 00"};
	const int rounds = 20000;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;
		uint8_t *p = hex(cases[i], &n);
		double t0 = now_s();
		for (int k = 0; k < rounds; k++)
			check_lying(p, n);
		double dt = now_s() - t0;
		printf("lying header %s: %d x 5 decoders in %.3f s\n", cases[i], rounds, dt);
		assert_true(dt < 2.0);
		free(p);
	}
}

/* d nested one-element containers around a nil: arrays (0x91) or maps (0x81 0xa0). */
static uint8_t *nested(unsigned d, bool maps, size_t *n)
{
	return gen("", d, maps ? "81 a0" : "91", n);
}

static uint8_t *nested_nil(unsigned d, bool maps, size_t *n)
{
	size_t k;
	uint8_t *p = nested(d, maps, &k);
	p[k] = 0xc0; /* gen leaves one spare byte */
	*n = k + 1;
	uint8_t *e = dup_exact(p, *n);
	free(p);
	return e;
}

/* Depth as mp.c counts it: the number of nested non-empty containers. A scalar is depth
 * 0, [nil] depth 1; max_depth is clamped to MP_MAX_DEPTH. */
static void test_codec_validate_depth(void **state)
{
	size_t n, used;
	uint8_t *p;
	struct mp_doc doc;
	(void)state;
	for (int maps = 0; maps < 2; maps++) {
		p = nested_nil(MP_MAX_DEPTH, maps, &n);
		assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), 0);
		assert_int_equal(used, n);
		assert_int_equal(mp_doc_init(&doc, p, n), 0);
		const msgpack_object *o = doc.root;
		for (unsigned i = 0; i < MP_MAX_DEPTH; i++) {
			assert_int_equal(o->type, maps ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY);
			assert_int_equal(obj_size(o), 1);
			o = maps ? &o->via.map.ptr[0].val : &o->via.array.ptr[0];
		}
		assert_int_equal(o->type, MSGPACK_OBJECT_NIL);
		mp_doc_close(&doc);
		free(p);

		p = nested_nil(MP_MAX_DEPTH + 1, maps, &n);
		assert_int_equal(mp_validate(p, n, MP_MAX_DEPTH, &used), BERTH_EBADREQ);
		assert_int_equal(mp_doc_init(&doc, p, n), BERTH_EBADREQ);
		free(p);
	}
	/* Both edges for every max_depth, and the clamp above MP_MAX_DEPTH. */
	static const unsigned over[] = {MP_MAX_DEPTH + 1, 100, UINT32_MAX};
	for (unsigned md = 0; md <= MP_MAX_DEPTH + ARRAY_LEN(over); md++) {
		unsigned arg = md <= MP_MAX_DEPTH ? md : over[md - MP_MAX_DEPTH - 1];
		unsigned eff = md <= MP_MAX_DEPTH ? md : MP_MAX_DEPTH;
		p = nested_nil(eff, false, &n);
		assert_int_equal(mp_validate(p, n, arg, &used), 0);
		assert_int_equal(used, n);
		free(p);
		p = nested_nil(eff + 1, false, &n);
		assert_int_equal(mp_validate(p, n, arg, &used), BERTH_EBADREQ);
		free(p);
	}
	/* Coming back up: two siblings each MP_MAX_DEPTH deep, then a scalar. */
	size_t k;
	uint8_t *deep = nested_nil(MP_MAX_DEPTH - 1, false, &k);
	uint8_t *two = malloc(2 * k + 2);
	assert_non_null(two);
	two[0] = 0x93;
	memcpy(two + 1, deep, k);
	memcpy(two + 1 + k, deep, k);
	two[1 + 2 * k] = 0x05;
	assert_int_equal(mp_validate(two, 2 * k + 2, MP_MAX_DEPTH, &used), 0);
	assert_int_equal(used, 2 * k + 2);
	free(two);
	free(deep);
	/* Through a decoder: {T: 7, junk: <d arrays>} is d + 1 deep. */
	for (unsigned d = MP_MAX_DEPTH - 1; d <= MP_MAX_DEPTH; d++) {
		struct mp_buf b;
		struct msg_cmd c;
		p = nested_nil(d, false, &k);
		mp_buf_init(&b);
		msgpack_pack_map(&b.pk, 2);
		mp_pack_kv_u64(&b.pk, "T", MSG_CMD_TICK);
		mp_pack_cstr(&b.pk, "junk");
		mp_buf_append(&b, p, k);
		free(p);
		p = buf_finish(&b, &n);
		if (d < MP_MAX_DEPTH) {
			assert_int_equal(msg_cmd_decode(p, n, &c), 0);
			assert_int_equal(c.type, MSG_CMD_TICK);
			msg_cmd_free(&c);
		} else {
			assert_int_equal(msg_cmd_decode(p, n, &c), BERTH_EBADREQ);
		}
		free(p);
	}
}

/* The same bound must hold when the innermost container is empty: [[]] is as deep as
 * [[nil]]. mp_validate checks the depth only when a container has children, so an empty
 * one may sit one level below max_depth. */
static void test_codec_validate_depth_empty_container(void **state)
{
	uint8_t deep[MP_MAX_DEPTH + 1];
	static const uint8_t two[] = {0x91, 0x90}; /* [[]] */
	static const uint8_t map0[] = {0x80};      /* {} */
	size_t used = 0;
	(void)state;
	memset(deep, 0x91, MP_MAX_DEPTH); /* 16 one-element arrays ... */
	deep[MP_MAX_DEPTH] = 0x90;        /* ... around []: 17 levels */
	assert_int_equal(mp_validate(deep, sizeof(deep), MP_MAX_DEPTH, &used), BERTH_EBADREQ);
	/* max_depth 1 refuses [[nil]] but takes [[]]; max_depth 0 refuses [nil] but takes {}. */
	assert_int_equal(mp_validate(two, sizeof(two), 1, &used), BERTH_EBADREQ);
	assert_int_equal(mp_validate(map0, sizeof(map0), 0, &used), BERTH_EBADREQ);
}

/* ---- 2. mp_doc_init: padding ------------------------------------------------------------- */

static void test_codec_doc_padding(void **state)
{
	static const uint8_t obj[] = {0x93, 0x01, 0xa1, 0x61, 0xc4, 0x01, 0xff};
	struct mp_doc doc;
	uint8_t buf[sizeof(obj) + 8];
	(void)state;
	for (size_t pad = 0; pad <= 8; pad++) {
		memcpy(buf, obj, sizeof(obj));
		memset(buf + sizeof(obj), 0, pad);
		uint8_t *d = dup_exact(buf, sizeof(obj) + pad);
		int rv = mp_doc_init(&doc, d, sizeof(obj) + pad);
		if (pad == 8) {
			assert_int_equal(rv, BERTH_EBADREQ);
		} else {
			assert_int_equal(rv, 0);
			assert_int_equal(doc.root->type, MSGPACK_OBJECT_ARRAY);
			assert_int_equal(doc.root->via.array.size, 3);
			assert_int_equal(doc.root->via.array.ptr[0].via.u64, 1);
			/* Strings and binaries borrow from the input. */
			assert_ptr_equal(doc.root->via.array.ptr[1].via.str.ptr, (char *)d + 3);
			assert_ptr_equal(doc.root->via.array.ptr[2].via.bin.ptr, (char *)d + 6);
			mp_doc_close(&doc);
		}
		/* Any non-zero byte anywhere in the padding. */
		for (size_t at = 0; at < pad; at++) {
			static const uint8_t nz[] = {0x01, 0x80, 0xc0, 0xff};
			for (size_t v = 0; v < ARRAY_LEN(nz); v++) {
				d[sizeof(obj) + at] = nz[v];
				assert_int_equal(mp_doc_init(&doc, d, sizeof(obj) + pad),
						 BERTH_EBADREQ);
				d[sizeof(obj) + at] = 0;
			}
		}
		free(d);
	}
	/* A zero scalar followed by zeros: the object is the first byte. */
	uint8_t zeros[9] = {0};
	for (size_t n = 1; n <= 9; n++) {
		uint8_t *d = dup_exact(zeros, n);
		int rv = mp_doc_init(&doc, d, n);
		assert_int_equal(rv, n <= 8 ? 0 : BERTH_EBADREQ);
		if (rv == 0) {
			assert_int_equal(doc.root->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			mp_doc_close(&doc);
		}
		free(d);
	}
	assert_int_equal(mp_doc_init(&doc, zeros, 0), BERTH_EBADREQ);
	/* The three decoders, on a command, a request and a reply with 0..8 zero bytes. */
	static const char *const msgs[] = {"{T: 7, ts: 5}", "{T: 10, id: 5}", "{rev: 5}"};
	for (int which = 0; which < 3; which++) {
		for (size_t pad = 0; pad <= 8; pad++) {
			size_t n;
			uint8_t *p = lit(msgs[which], &n);
			uint8_t *d = calloc(1, n + pad);
			assert_non_null(d);
			memcpy(d, p, n);
			struct msg_cmd c;
			struct msg_req r;
			struct reply rp;
			int want = pad < 8 ? 0 : BERTH_EBADREQ;
			if (which == 0) {
				assert_int_equal(msg_cmd_decode(d, n + pad, &c), want);
				assert_int_equal(c.time_ms, pad < 8 ? 5 : c.time_ms);
				msg_cmd_free(&c);
			} else if (which == 1) {
				assert_int_equal(msg_req_decode(d, n + pad, &r), want);
				assert_int_equal(r.id, pad < 8 ? 5 : r.id);
				msg_req_free(&r);
			} else {
				assert_int_equal(reply_decode(d, n + pad, &rp), want);
				assert_int_equal(rp.rev, pad < 8 ? 5 : rp.rev);
				reply_free(&rp);
			}
			free(d);
			free(p);
		}
	}
}

/* ---- 3. integers ----------------------------------------------------------------------- */

struct int_case {
	int64_t v;
	const char *hex;
};

static const struct int_case int_cases[] = {
	{0, "00"},
	{1, "01"},
	{127, "7f"},
	{128, "cc 80"},
	{255, "cc ff"},
	{256, "cd 01 00"},
	{INT16_MAX, "cd 7f ff"},
	{65535, "cd ff ff"},
	{65536, "ce 00 01 00 00"},
	{INT32_MAX, "ce 7f ff ff ff"},
	{UINT32_MAX, "ce ff ff ff ff"},
	{(int64_t)UINT32_MAX + 1, "cf 00 00 00 01 00 00 00 00"},
	{INT64_MAX, "cf 7f ff ff ff ff ff ff ff"},
	{-1, "ff"},
	{-32, "e0"},
	{-33, "d0 df"},
	{INT8_MIN, "d0 80"},
	{INT8_MIN - 1, "d1 ff 7f"},
	{INT16_MIN, "d1 80 00"},
	{INT16_MIN - 1, "d2 ff ff 7f ff"},
	{INT32_MIN, "d2 80 00 00 00"},
	{(int64_t)INT32_MIN - 1, "d3 ff ff ff ff 7f ff ff ff"},
	{INT64_MIN, "d3 80 00 00 00 00 00 00 00"},
};

static void test_codec_int_boundaries(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(int_cases); i++) {
		size_t n;
		uint8_t out[9];
		int64_t v = 0x5a5a;
		uint8_t *want = hex(int_cases[i].hex, &n);
		assert_int_equal(mp_int_encode(int_cases[i].v, out), n);
		assert_memory_equal(out, want, n);
		assert_int_equal(mp_value_int(want, n, &v), 0);
		assert_true(v == int_cases[i].v);
		/* The same bytes as msgpack-c's own packer, and valid msgpack. */
		struct mp_buf b;
		mp_buf_init(&b);
		msgpack_pack_int64(&b.pk, int_cases[i].v);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, want, n);
		mp_buf_close(&b);
		size_t used;
		assert_int_equal(mp_validate(want, n, 0, &used), 0);
		assert_int_equal(used, n);
		free(want);
	}
}

static void test_codec_int_non_shortest_accepted(void **state)
{
	static const struct int_case cases[] = {
		{5, "cc 05"},
		{5, "cd 00 05"},
		{5, "ce 00 00 00 05"},
		{5, "cf 00 00 00 00 00 00 00 05"},
		{5, "d0 05"},
		{-1, "d0 ff"},
		{-1, "d1 ff ff"},
		{-1, "d2 ff ff ff ff"},
		{-1, "d3 ff ff ff ff ff ff ff ff"},
		{127, "d0 7f"},
		{-32768, "d3 ff ff ff ff ff ff 80 00"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;
		int64_t v = 0;
		uint8_t *p = hex(cases[i].hex, &n);
		assert_int_equal(mp_value_int(p, n, &v), 0);
		assert_true(v == cases[i].v);
		free(p);
	}
}

static void test_codec_int_rejects(void **state)
{
	static const char *const bad[] = {
		"c0",
		"c2",
		"c3",
		"c1",
		"ca 00 00 00 00",
		"cb 00 00 00 00 00 00 00 00",
		"a1 31",
		"a0",
		"c4 01 05",
		"90",
		"91 01",
		"80",
		"d4 00 01",
		"cf 80 00 00 00 00 00 00 00", /* INT64_MAX + 1 */
		"cf ff ff ff ff ff ff ff ff", /* UINT64_MAX */
		"01 00",
		"7f 7f",
		"cc 05 00",
		"d0 ff ff",
		"d3 00 00 00 00 00 00 00 00 00", /* trailing */
		"cc",
		"cd 01",
		"ce 00 00 00",
		"cf 00",
		"d0",
		"d1 00",
		"d2 00 00",
		"d3 00 00", /* short */
	};
	(void)state;
	int64_t v = 77;
	uint8_t one = 0;
	assert_int_equal(mp_value_int(&one, 0, &v), BERTH_ETYPE);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t n;
		uint8_t *p = hex(bad[i], &n);
		assert_int_equal(mp_value_int(p, n, &v), BERTH_ETYPE);
		free(p);
	}
	assert_int_equal(v, 77); /* never written on failure */
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random values of every width: encode, compare with msgpack-c, decode. */
static void test_codec_int_random_round_trip(void **state)
{
	uint64_t s = 12345;
	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = rng_next(&s);
		int64_t v = (int64_t)(r >> (r & 63));
		if (i & 1)
			v = ~v; /* -v - 1, without overflow at INT64_MIN */
		uint8_t out[9];
		size_t n = mp_int_encode(v, out);
		struct mp_buf b;
		mp_buf_init(&b);
		msgpack_pack_int64(&b.pk, v);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, out, n);
		mp_buf_close(&b);
		int64_t back;
		uint8_t *d = dup_exact(out, n);
		assert_int_equal(mp_value_int(d, n, &back), 0);
		assert_true(back == v);
		free(d);
	}
}

/* ---- 4. round trips ------------------------------------------------------------------- */

static void check_cmd_round_trip(const struct msg_cmd *c)
{
	size_t n;
	uint8_t *p = encode_cmd(c, &n);
	for (size_t pad = 0; pad < 8; pad++) {
		uint8_t *d = calloc(1, n + pad);
		assert_non_null(d);
		memcpy(d, p, n);
		struct msg_cmd got;
		assert_int_equal(msg_cmd_decode(d, n + pad, &got), 0);
		assert_same(cmd_diff(c, &got));
		assert_true(txn_borrows(&got.txn, d, n));
		msg_cmd_free(&got);
		assert_cmd_empty(&got);
		free(d);
	}
	/* Padded to 8 bytes, as raft log entries are. */
	size_t padded = (n + 7) / 8 * 8;
	uint8_t *d = calloc(1, padded);
	assert_non_null(d);
	memcpy(d, p, n);
	struct msg_cmd got;
	assert_int_equal(msg_cmd_decode(d, padded, &got), 0);
	assert_same(cmd_diff(c, &got));
	msg_cmd_free(&got);
	free(d);
	free(p);
}

static void test_codec_cmd_round_trip(void **state)
{
	struct msg_cmd cmds[16];
	unsigned seen = 0;
	(void)state;
	size_t n = sample_cmds(cmds, true);
	for (size_t i = 0; i < n; i++) {
		check_cmd_round_trip(&cmds[i]);
		seen |= 1u << cmds[i].type;
	}
	assert_int_equal(seen, ((1u << MSG_CMD_TYPE_END) - 1) & ~1u); /* every type */
	/* Array32 branches: 65,536 one-key ranges. */
	struct msg_op *ops = calloc(65536, sizeof(*ops));
	assert_non_null(ops);
	for (uint32_t i = 0; i < 65536; i++)
		ops[i] = (struct msg_op){.type = MSG_OP_RANGE, .key = {odd_bytes + i % 7, 1}};
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
	uint8_t *p = encode_cmd(c, &n), *w = lit(want, &wn);
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
	uint8_t *p = encode_cmd(&tick, &n), *w;
	w = hex("84 a1 54 07 a2 74 73 7b a3 73 69 64 00 a3 73 65 71 00", &n);
	assert_memory_equal(p, w, n);
	free(p);
	free(w);
	struct msg_cmd compact = {.type = MSG_CMD_COMPACT, .session = 5, .seq = 6, .rev = 70000};
	check_cmd_bytes(&compact, "{T: 2, ts: 0, sid: 5, seq: 6, rev: 70000}");
	struct msg_cmd grant = {.type = MSG_CMD_LEASE_GRANT, .lease = 9, .ttl = -1};
	check_cmd_bytes(&grant, "{T: 3, ts: 0, sid: 0, seq: 0, lease: 9, ttl: -1}");
	struct msg_cmd revoke = {.type = MSG_CMD_LEASE_REVOKE, .lease = 9};
	check_cmd_bytes(&revoke, "{T: 4, ts: 0, sid: 0, seq: 0, lease: 9}");
	struct msg_cmd expire = {.type = MSG_CMD_LEASE_EXPIRE, .nleases = 3, .leases = s_leases};
	check_cmd_bytes(&expire, "{T: 5, ts: 0, sid: 0, seq: 0, leases: [1, 4294967296, "
				 "18446744073709551615]}");
	struct msg_cmd open = {.type = MSG_CMD_SESSION_OPEN, .ttl = 5000};
	check_cmd_bytes(&open, "{T: 6, ts: 0, sid: 0, seq: 0, ttl: 5000}");
	struct msg_req hello = {.type = MSG_REQ_HELLO, .id = 1, .proto = 1, .token = B("tk")};
	size_t hn, wn;
	uint8_t *h = encode_req(&hello, &hn);
	w = lit("{T: 1, id: 1, sid: 0, seq: 0, proto: 1, token: b'tk'}", &wn);
	assert_int_equal(hn, wn);
	assert_memory_equal(h, w, hn);
	free(h);
	free(w);
}

static void test_codec_req_round_trip(void **state)
{
	struct msg_req reqs[16];
	unsigned seen = 0;
	(void)state;
	size_t nr = sample_reqs(reqs, true);
	for (size_t i = 0; i < nr; i++) {
		size_t n;
		uint8_t *p = encode_req(&reqs[i], &n);
		for (size_t pad = 0; pad < 8; pad++) {
			uint8_t *d = calloc(1, n + pad);
			assert_non_null(d);
			memcpy(d, p, n);
			struct msg_req got;
			assert_int_equal(msg_req_decode(d, n + pad, &got), 0);
			assert_same(req_diff(&reqs[i], &got));
			assert_true(txn_borrows(&got.txn, d, n) && op_borrows(&got.watch, d, n) &&
				    in_buf(got.token, d, n));
			msg_req_free(&got);
			assert_req_empty(&got);
			free(d);
		}
		seen |= 1u << reqs[i].type;
		free(p);
	}
	assert_int_equal(seen, ((1u << MSG_REQ_TYPE_END) - 1) & ~1u);
}

static void assert_kv(const struct reply_kv *kv, const char *key, const char *value, int64_t create,
		      int64_t mod, int64_t version, uint64_t lease)
{
	assert_true(bytes_same(kv->key, B(key)));
	assert_true(bytes_same(kv->value, B(value)));
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
	uint8_t *p = sample_reply(&n);
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
	assert_true(bytes_same(o[0].kvs[0].key, (struct bytes){kv1_key, 3}));
	assert_true(bytes_same(o[0].kvs[0].value, (struct bytes){odd_bytes, 5}));
	assert_true(o[0].kvs[0].create_rev == INT64_MIN);
	assert_true(o[0].kvs[0].mod_rev == INT64_MAX);
	assert_int_equal(o[0].kvs[0].version, 0);
	assert_true(o[0].kvs[0].lease == UINT64_MAX);
	assert_true(bytes_same(o[0].kvs[1].key, (struct bytes){odd_bytes + 5, 1}));
	assert_int_equal(o[0].kvs[1].value.n, 0); /* keys only */
	assert_int_equal(o[0].kvs[1].create_rev, 1);
	assert_int_equal(o[0].kvs[1].mod_rev, 2);
	assert_int_equal(o[0].kvs[1].version, 3);
	assert_int_equal(o[0].kvs[1].lease, 4);
	assert_true(in_buf(o[0].kvs[0].key, p, n) && in_buf(o[0].kvs[0].value, p, n));
	assert_int_equal(o[1].type, MSG_OP_PUT);
	assert_int_equal(o[1].nkvs, 0);
	assert_null(o[1].kvs);
	assert_int_equal(o[2].type, MSG_OP_DEL);
	assert_true(o[2].deleted == UINT64_MAX);
	assert_int_equal(o[3].type, MSG_OP_ADD);
	assert_true(o[3].value == INT64_MIN);
	reply_free(&r);
	assert_reply_empty(&r);
	free(p);

	struct mp_buf b;
	mp_buf_init(&b);
	reply_pack_error(&b.pk, BERTH_ECOMPACTED, 77);
	p = buf_finish(&b, &n);
	assert_int_equal(reply_decode(p, n, &r), 0);
	assert_int_equal(r.err, BERTH_ECOMPACTED);
	assert_int_equal(r.rev, 77);
	assert_int_equal(r.nops, 0);
	assert_false(r.succeeded);
	reply_free(&r);
	free(p);
}

/* The state machine tests get a fresh one from setup; teardown removes it even when an
 * assertion failed. */
static int fsm_setup(void **state)
{
	struct tfsm *t = malloc(sizeof(*t));
	if (t == NULL)
		return -1;
	tfsm_open(t, NULL);
	*state = t;
	return 0;
}

static int fsm_teardown(void **state)
{
	tfsm_close(*state);
	free(*state);
	return 0;
}

/* Every key: [0x00, end). Keys are never empty, so nothing is below 0x00. (The empty
 * prefix would say the same, but see test_codec_fsm_range_empty_prefix.) */
static struct msg_op op_all(void)
{
	static const uint8_t zero = 0;
	return (struct msg_op){.type = MSG_OP_RANGE, .key = {&zero, 1}, .end = {&zero, 1}};
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
	struct msg_op ops[7] = {op_all(),       op_get("a"),  op_all(),        op_all(),
				op_add("b", 3), op_del("zz"), op_put("c", "x")};
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

/* ---- 5. bad messages ------------------------------------------------------------------ */

/* good decodes; bad is the same message with one thing wrong (good NULL: nothing to
 * compare with). */
struct bad_case {
	const char *good;
	const char *bad;
};

#define TXN_CMP "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 0}]}}"
#define TXN_VAL "{T: 1, x: {c: [{t: 0, o: 0, k: b'a', v: b'x'}]}}"
#define TXN_OP "{T: 1, x: {s: [{t: 1, k: b'a', v: b'1'}]}}"

static const struct bad_case bad_cmds[] = {
	/* not a map */
	{NULL, ""},
	{NULL, "nil"},
	{NULL, "1"},
	{NULL, "'T'"},
	{NULL, "b'T'"},
	{NULL, "[1]"},
	{NULL, "[]"},
	{NULL, "true"},
	{NULL, "1.5"},
	{NULL, "[{T: 7}]"},
	/* the type */
	{"{T: 7}", "{}"},
	{"{T: 7}", "{ts: 7}"},
	{"{T: 7}", "{t: 7}"},
	{"{T: 7}", "{T: '7'}"},
	{"{T: 7}", "{T: b'7'}"},
	{"{T: 7}", "{T: -7}"},
	{"{T: 7}", "{T: nil}"},
	{"{T: 7}", "{T: true}"},
	{"{T: 7}", "{T: 7.0}"},
	{"{T: 7}", "{T: [7]}"},
	{"{T: 7}", "{T: 263}"},
	{"{T: 7}", "{T: 4294967303}"},
	{"{T: 7}", "{T: #d4 00 07#}"},
	/* fields every command has */
	{"{T: 7, ts: 1}", "{T: 7, ts: -1}"},
	{"{T: 7, ts: 1}", "{T: 7, ts: '1'}"},
	{"{T: 7, ts: 1}", "{T: 7, ts: 1.0}"},
	{"{T: 7, sid: 1}", "{T: 7, sid: -1}"},
	{"{T: 7, sid: 1}", "{T: 7, sid: nil}"},
	{"{T: 7, seq: 1}", "{T: 7, seq: -1}"},
	{"{T: 7, seq: 1}", "{T: 7, seq: false}"},
	/* ext and 0xc1 anywhere, even in a field nobody reads */
	{"{T: 7, junk: 1}", "{T: 7, junk: #c1#}"},
	{"{T: 7, junk: 1}", "{T: 7, junk: #c7 01 05 ab#}"},
	{"{T: 7, junk: [1]}", "{T: 7, junk: [#d6 ff 00 00 00 00#]}"},
	/* trailing bytes */
	{"{T: 7} #00 00 00 00 00 00 00#", "{T: 7} #00 00 00 00 00 00 00 00#"},
	{"{T: 7} #00#", "{T: 7} #01#"},
	{"{T: 7} #00 00#", "{T: 7} #00 c0#"},
	{"{T: 7}", "{T: 7} {T: 7}"},
	/* txn */
	{TXN_OP, "{T: 1}"},
	{TXN_OP, "{T: 1, x: nil}"},
	{TXN_OP, "{T: 1, x: []}"},
	{TXN_OP, "{T: 1, x: 1}"},
	{TXN_OP, "{T: 1, x: b'x'}"},
	{"{T: 1, x: {c: []}}", "{T: 1, x: {c: {}}}"},
	{"{T: 1, x: {c: []}}", "{T: 1, x: {c: 1}}"},
	{"{T: 1, x: {s: []}}", "{T: 1, x: {s: {}}}"},
	{"{T: 1, x: {s: []}}", "{T: 1, x: {s: nil}}"},
	{"{T: 1, x: {f: []}}", "{T: 1, x: {f: {}}}"},
	{"{T: 1, x: {f: []}}", "{T: 1, x: {f: 'x'}}"},
	/* compares */
	{TXN_CMP, "{T: 1, x: {c: [1]}}"},
	{TXN_CMP, "{T: 1, x: {c: [[]]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{o: 0, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a'}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 5, o: 0, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 255, o: 0, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 257, o: 0, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: -1, o: 0, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: '1', o: 0, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 6, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 255, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 262, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: -1, k: b'a', n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: 1, n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: nil, n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: [], n: 0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: '0'}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 0.0}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: nil}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: b'0'}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 9223372036854775808}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 18446744073709551615}]}}"},
	{TXN_CMP, "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', v: b'x'}]}}"},
	{TXN_VAL, "{T: 1, x: {c: [{t: 0, o: 0, k: b'a'}]}}"},
	{TXN_VAL, "{T: 1, x: {c: [{t: 0, o: 0, k: b'a', n: 1}]}}"},
	{TXN_VAL, "{T: 1, x: {c: [{t: 0, o: 0, k: b'a', v: 1}]}}"},
	{TXN_VAL, "{T: 1, x: {c: [{t: 0, o: 0, k: b'a', v: nil}]}}"},
	{TXN_VAL, "{T: 1, x: {c: [{t: 0, o: 0, k: b'a', v: []}]}}"},
	/* ops */
	{TXN_OP, "{T: 1, x: {s: [1]}}"},
	{TXN_OP, "{T: 1, x: {s: ['op']}}"},
	{TXN_OP, "{T: 1, x: {s: [[1, b'a']]}}"},
	{TXN_OP, "{T: 1, x: {s: [{k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 4, k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 255, k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 257, k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: -1, k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: '1', k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1.0, k: b'a', v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1, v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1, k: 1, v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1, k: nil, v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1, k: {}, v: b'1'}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1, k: b'a', v: 1}]}}"},
	{TXN_OP, "{T: 1, x: {s: [{t: 1, k: b'a', v: nil}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: 8}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: 15}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: 128}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: 263}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: -1}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: '1'}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', f: 7}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', f: true}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', e: b'b'}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', e: 1}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', e: b'b'}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', e: nil}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', e: b'b'}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', e: []}]}}"},
	{"{T: 1, x: {s: [{t: 3, k: b'a', d: -9223372036854775808}]}}",
	 "{T: 1, x: {s: [{t: 3, k: b'a', d: 9223372036854775808}]}}"},
	{"{T: 1, x: {s: [{t: 3, k: b'a', d: 1}]}}", "{T: 1, x: {s: [{t: 3, k: b'a', d: '1'}]}}"},
	{"{T: 1, x: {s: [{t: 3, k: b'a', d: 1}]}}", "{T: 1, x: {s: [{t: 3, k: b'a', d: 1.0}]}}"},
	{"{T: 1, x: {s: [{t: 1, k: b'a', l: 18446744073709551615}]}}",
	 "{T: 1, x: {s: [{t: 1, k: b'a', l: -1}]}}"},
	{"{T: 1, x: {s: [{t: 1, k: b'a', l: 1}]}}", "{T: 1, x: {s: [{t: 1, k: b'a', l: '1'}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', lim: 1}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', lim: -1}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', lim: 1}]}}",
	 "{T: 1, x: {s: [{t: 0, k: b'a', lim: nil}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', r: 1}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', r: -1}]}}"},
	{"{T: 1, x: {s: [{t: 0, k: b'a', r: 1}]}}", "{T: 1, x: {s: [{t: 0, k: b'a', r: 1.0}]}}"},
	{"{T: 1, x: {f: [{t: 0, k: b'a'}]}}", "{T: 1, x: {f: [{t: 4, k: b'a'}]}}"},
	/* the failure comes after allocations: nothing may leak */
	{"{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 0}, {t: 2, o: 1, k: b'b', n: 5}]}}",
	 "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 0}, {t: 2, o: 9, k: b'b', n: 5}]}}"},
	{"{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 0}], s: [{t: 0, k: b'a'}, {t: 1, k: b'b'}], "
	 "f: [{t: 2, k: b'c'}]}}",
	 "{T: 1, x: {c: [{t: 1, o: 0, k: b'a', n: 0}], s: [{t: 0, k: b'a'}, {t: 1, k: b'b'}], "
	 "f: [{t: 2, k: b'c', f: 64}]}}"},
	/* compact */
	{"{T: 2, rev: 5}", "{T: 2}"},
	{"{T: 2, rev: 5}", "{T: 2, rev: -5}"},
	{"{T: 2, rev: 5}", "{T: 2, rev: '5'}"},
	{"{T: 2, rev: 5}", "{T: 2, rev: nil}"},
	{"{T: 2, rev: 5}", "{T: 2, rev: 5.0}"},
	{"{T: 2, rev: 5}", "{T: 2, Rev: 5}"},
	/* lease grant */
	{"{T: 3, ttl: 10}", "{T: 3}"},
	{"{T: 3, ttl: 10}", "{T: 3, lease: 7}"},
	{"{T: 3, ttl: 10}", "{T: 3, ttl: '10'}"},
	{"{T: 3, ttl: 10}", "{T: 3, ttl: nil}"},
	{"{T: 3, ttl: 10}", "{T: 3, ttl: 10.0}"},
	{"{T: 3, ttl: 10}", "{T: 3, ttl: 18446744073709551615}"},
	{"{T: 3, ttl: 10, lease: 7}", "{T: 3, ttl: 10, lease: -7}"},
	{"{T: 3, ttl: 10, lease: 7}", "{T: 3, ttl: 10, lease: '7'}"},
	/* lease revoke */
	{"{T: 4, lease: 7}", "{T: 4}"},
	{"{T: 4, lease: 7}", "{T: 4, lease: -7}"},
	{"{T: 4, lease: 7}", "{T: 4, lease: b'7'}"},
	{"{T: 4, lease: 7}", "{T: 4, ttl: 7}"},
	/* lease expire */
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: {}}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: 1}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: nil}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: [1, -2]}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: [1, '2']}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: [1, nil]}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: [1, [2]]}"},
	{"{T: 5, leases: [1, 2]}", "{T: 5, leases: [1, 2.0]}"},
	/* session open */
	{"{T: 6, ttl: 1000}", "{T: 6}"},
	{"{T: 6, ttl: 1000}", "{T: 6, ttl: 'x'}"},
	{"{T: 6, ttl: 1000}", "{T: 6, ttl: 18446744073709551615}"},
	{"{T: 6, ttl: 1000}", "{T: 6, ttl: [1000]}"},
};

static const struct bad_case bad_reqs[] = {
	{NULL, ""},
	{NULL, "nil"},
	{NULL, "[]"},
	{NULL, "[{T: 10}]"},
	{"{T: 10}", "{T: 0}"},
	{"{T: 10}", "{T: -10}"},
	{"{T: 10}", "{T: '10'}"},
	{"{T: 10}", "{T: 266}"},
	{"{T: 10}", "{id: 10}"},
	{"{T: 10, id: 1}", "{T: 10, id: -1}"},
	{"{T: 10, id: 1}", "{T: 10, id: '1'}"},
	{"{T: 10, sid: 1}", "{T: 10, sid: -1}"},
	{"{T: 10, seq: 1}", "{T: 10, seq: nil}"},
	{"{T: 10} #00#", "{T: 10} #00 01#"},
	{"{T: 10, junk: 1}", "{T: 10, junk: #c1#}"},
	/* hello */
	{"{T: 1, proto: 4294967295, token: b'secret'}", "{T: 1}"},
	{"{T: 1, proto: 4294967295, token: b'secret'}", "{T: 1, proto: 4294967296}"},
	{"{T: 1, proto: 4294967295, token: b'secret'}", "{T: 1, proto: -1, token: b'secret'}"},
	{"{T: 1, proto: 4294967295, token: b'secret'}", "{T: 1, proto: '1', token: b'secret'}"},
	{"{T: 1, proto: 1, token: 'secret'}", "{T: 1, proto: 1, token: 1}"},
	{"{T: 1, proto: 1, token: 'secret'}", "{T: 1, proto: 1, token: nil}"},
	/* txn */
	{"{T: 2, ser: true, x: {s: [{t: 0, k: b'a'}]}}",
	 "{T: 2, ser: 1, x: {s: [{t: 0, k: b'a'}]}}"},
	{"{T: 2, ser: true, x: {s: [{t: 0, k: b'a'}]}}",
	 "{T: 2, ser: nil, x: {s: [{t: 0, k: b'a'}]}}"},
	{"{T: 2, ser: true, x: {s: [{t: 0, k: b'a'}]}}",
	 "{T: 2, ser: 'true', x: {s: [{t: 0, k: b'a'}]}}"},
	{"{T: 2, ser: false, x: {s: [{t: 0, k: b'a'}]}}", "{T: 2, ser: false}"},
	{"{T: 2, x: {s: [{t: 0, k: b'a'}]}}", "{T: 2, x: [{s: [{t: 0, k: b'a'}]}]}"},
	{"{T: 2, x: {s: [{t: 0, k: b'a'}]}}", "{T: 2, x: {s: [{t: 0}]}}"},
	{"{T: 2, x: {s: [{t: 0, k: b'a'}]}}", "{T: 2, x: {s: [{t: 0, k: b'a', f: 9}]}}"},
	/* compact, leases, sessions */
	{"{T: 3, rev: 1}", "{T: 3}"},
	{"{T: 3, rev: 1}", "{T: 3, rev: -1}"},
	{"{T: 4, ttl: 5}", "{T: 4}"},
	{"{T: 4, ttl: 5}", "{T: 4, ttl: '5'}"},
	{"{T: 4, ttl: 5, lease: 1}", "{T: 4, ttl: 5, lease: -1}"},
	{"{T: 5, lease: 1}", "{T: 5}"},
	{"{T: 5, lease: 1}", "{T: 5, lease: -1}"},
	{"{T: 6, lease: 1}", "{T: 6}"},
	{"{T: 6, lease: 1}", "{T: 6, lease: '1'}"},
	{"{T: 7, ttl: 1}", "{T: 7}"},
	{"{T: 7, ttl: 1}", "{T: 7, ttl: 18446744073709551615}"},
	/* watch */
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3, w: nil}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3, w: []}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3, w: {}}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3, w: {t: 0}}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3, w: {t: 0, k: b'a', f: 8}}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: 3, w: {t: 4, k: b'a', f: 1}}"},
	{"{T: 8, rev: 3, w: {t: 0, k: b'a', f: 1}}", "{T: 8, rev: -3, w: {t: 0, k: b'a', f: 1}}"},
	{"{T: 9, wid: 3}", "{T: 9}"},
	{"{T: 9, wid: 3}", "{T: 9, wid: -3}"},
	{"{T: 9, wid: 3}", "{T: 9, wid: '3'}"},
};

#define KV_OK "{k: b'a', v: b'1', c: 1, m: 1, ver: 1, l: 0}"

static const struct bad_case bad_replies[] = {
	{NULL, ""},
	{NULL, "nil"},
	{NULL, "[]"},
	{NULL, "1"},
	{NULL, "[{rev: 1}]"},
	{"{rev: 1}", "{rev: -1}"},
	{"{rev: 1}", "{rev: '1'}"},
	{"{rev: 1}", "{rev: 1} #02#"},
	{"{err: 7002, rev: 1}", "{err: '7002', rev: 1}"},
	{"{err: 7002, rev: 1}", "{err: 7002.0, rev: 1}"},
	{"{err: 7002, rev: 1}", "{err: nil, rev: 1}"},
	{"{ok: true}", "{ok: 1}"},
	{"{ok: true}", "{ok: nil}"},
	{"{id: 1}", "{id: -1}"},
	{"{ttl: -1}", "{ttl: '1'}"},
	{"{ttl: -1}", "{ttl: 18446744073709551615}"},
	{"{r: []}", "{r: {}}"},
	{"{r: []}", "{r: 1}"},
	{"{r: []}", "{r: nil}"},
	{"{r: [{t: 0}]}", "{r: [{}]}"},
	{"{r: [{t: 0}]}", "{r: [1]}"},
	{"{r: [{t: 0}]}", "{r: [{t: 4}]}"},
	{"{r: [{t: 0}]}", "{r: [{t: 260}]}"},
	{"{r: [{t: 0}]}", "{r: [{t: -1}]}"},
	{"{r: [{t: 0}]}", "{r: [{t: '0'}]}"},
	{"{r: [{t: 0, n: 1, more: false}]}", "{r: [{t: 0, n: -1, more: false}]}"},
	{"{r: [{t: 0, n: 1, more: false}]}", "{r: [{t: 0, n: 1, more: 0}]}"},
	{"{r: [{t: 0, n: 1, more: false}]}", "{r: [{t: 0, n: 1, more: nil}]}"},
	{"{r: [{t: 2, d: 1}]}", "{r: [{t: 2, d: -1}]}"},
	{"{r: [{t: 3, v: -1}]}", "{r: [{t: 3, v: '-1'}]}"},
	{"{r: [{t: 3, v: -1}]}", "{r: [{t: 3, v: 18446744073709551615}]}"},
	{"{r: [{t: 0, kvs: []}]}", "{r: [{t: 0, kvs: {}}]}"},
	{"{r: [{t: 0, kvs: []}]}", "{r: [{t: 0, kvs: [1]}]}"},
	{"{r: [{t: 0, kvs: []}]}", "{r: [{t: 0, kvs: [{}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}]}", "{r: [{t: 0, kvs: [{k: 1, v: b'1'}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}]}", "{r: [{t: 0, kvs: [{k: b'a', v: 1}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}]}", "{r: [{t: 0, kvs: [{k: b'a', c: '1'}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}]}",
	 "{r: [{t: 0, kvs: [{k: b'a', m: 9223372036854775808}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}]}", "{r: [{t: 0, kvs: [{k: b'a', ver: nil}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}]}", "{r: [{t: 0, kvs: [{k: b'a', l: -1}]}]}"},
	/* the failure comes after allocations: nothing may leak */
	{"{r: [{t: 0, kvs: [" KV_OK ", " KV_OK "]}, {t: 0, kvs: [" KV_OK ", " KV_OK "]}]}",
	 "{r: [{t: 0, kvs: [" KV_OK ", " KV_OK "]}, {t: 0, kvs: [" KV_OK ", {k: b'b', l: '1'}]}]}"},
	{"{r: [{t: 0, kvs: [" KV_OK "]}, {t: 1}]}", "{r: [{t: 0, kvs: [" KV_OK "]}, {t: 9}]}"},
};

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
			assert_cmd_empty(&c);
	} else if (which == 2) {
		if ((rv = msg_req_decode(p, n, &r)) == 0)
			msg_req_free(&r);
		else
			assert_req_empty(&r);
	} else {
		if ((rv = reply_decode(p, n, &rp)) == 0)
			reply_free(&rp);
		else
			assert_reply_empty(&rp);
	}
	return rv;
}

static void check_bad_table(const struct bad_case *cases, size_t n, int which)
{
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *p;
		if (cases[i].good != NULL) {
			p = lit(cases[i].good, &len);
			if (decode_as(which, p, len) != 0)
				fail_msg("good case refused: %s", cases[i].good);
			free(p);
		}
		p = lit(cases[i].bad, &len);
		if (decode_as(which, p, len) != BERTH_EBADREQ)
			fail_msg("bad case not refused with BERTH_EBADREQ: %s", cases[i].bad);
		free(p);
	}
}

static void test_codec_bad_cmds(void **state)
{
	(void)state;
	check_bad_table(bad_cmds, ARRAY_LEN(bad_cmds), 1);
}

static void test_codec_bad_reqs(void **state)
{
	(void)state;
	check_bad_table(bad_reqs, ARRAY_LEN(bad_reqs), 2);
}

static void test_codec_bad_replies(void **state)
{
	(void)state;
	check_bad_table(bad_replies, ARRAY_LEN(bad_replies), 3);
}

/* Type numbers around the ends of both enums, with every field a type could want. */
static void test_codec_bad_type_numbers(void **state)
{
	static const uint64_t cmd_types[] = {
		0,         MSG_CMD_TYPE_END,  MSG_CMD_TYPE_END + 1,
		255,       256 + MSG_CMD_TXN, ((uint64_t)1 << 32) + MSG_CMD_TXN,
		UINT64_MAX};
	static const uint64_t req_types[] = {0, MSG_REQ_TYPE_END, 255, 256 + MSG_REQ_TXN,
					     UINT64_MAX};
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
			uint8_t *p = buf_finish(&b, &n);
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
		uint8_t *p = buf_finish(&b, &n);
		int rv = msg_cmd_decode(p, n, &c);
		if (count <= MSG_MAX_EXPIRE) {
			assert_int_equal(rv, 0);
			assert_int_equal(c.nleases, count);
			assert_int_equal(c.leases[count - 1], count);
			msg_cmd_free(&c);
		} else {
			assert_int_equal(rv, BERTH_EBADREQ);
		}
		assert_cmd_empty(&c);
		free(p);
	}
}

/* ---- 8. the error table -------------------------------------------------------------- */

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
		uint8_t *p = buf_finish(&b, &n);
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
		uint8_t *p = buf_finish(&b, &n);
		assert_int_equal(reply_decode(p, n, &r), BERTH_EBADREQ);
		assert_reply_empty(&r);
		free(p);
	}
	assert_int_equal(ARRAY_LEN(known), last - BERTH_ERR_BASE); /* no gaps */
}

/* ---- 6. mutation fuzz ------------------------------------------------------------------ */

struct blob {
	uint8_t *p;
	size_t n;
};

struct fuzz {
	uint64_t seed, rng;
	long iter;
	const uint8_t *m; /* the current mutant */
	size_t n;
	long ok[3], bad[3];
};

static void fuzz_fail(const struct fuzz *z, const char *what, int rv)
{
	fprintf(stderr, "codec fuzz: seed 0x%" PRIx64 " mutant %ld: %s (rv %d)\nmutant:", z->seed,
		z->iter, what, rv);
	for (size_t i = 0; i < z->n; i++)
		fprintf(stderr, " %02x", z->m[i]);
	fprintf(stderr, "\n");
	fail_msg("codec fuzz: %s; replay with BERTH_CODEC_SEED=0x%" PRIx64, what, z->seed);
}

static size_t fuzz_corpus(struct blob *out, size_t cap)
{
	struct msg_cmd cmds[16];
	struct msg_req reqs[16];
	size_t n = 0;
	static const char *const lits[] = {
		"{T: 1, ts: 5, sid: 1, seq: 2, x: {c: [{t: 0, o: 1, k: b'a', v: b'x'}], s: [{t: 1, "
		"k: b'a', v: b'1', l: 3}], f: [{t: 0, k: b'a', e: #00#, f: 2, lim: 10, r: 4}]}}",
		"{ok: true, r: [{t: 0, n: 2, more: true, kvs: [" KV_OK
		", {k: b'b', c: 2, m: 3, ver: "
		"2, l: 9}]}, {t: 3, v: -5}, {t: 2, d: 7}, {t: 1}], rev: 3}",
		"{err: 7013, rev: 3}",
		"{id: 4, ttl: 60, rev: 0}",
	};
	size_t nc = sample_cmds(cmds, false);
	for (size_t i = 0; i < nc; i++, n++)
		out[n].p = encode_cmd(&cmds[i], &out[n].n);
	size_t nr = sample_reqs(reqs, false);
	for (size_t i = 0; i < nr; i++, n++)
		out[n].p = encode_req(&reqs[i], &out[n].n);
	out[n].p = sample_reply(&out[n].n);
	n++;
	for (size_t i = 0; i < ARRAY_LEN(lits); i++, n++)
		out[n].p = lit(lits[i], &out[n].n);
	assert_true(n <= cap);
	return n;
}

static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
				      0xc1, 0xc2, 0xc3, 0xc4, 0xc6, 0xc7, 0xcc, 0xcf, 0xd0, 0xd3,
				      0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
static const uint32_t interesting32[] = {0xffffffff, 0x04000000, 0x7fffffff, 0x80000000,
					 0x00010000, 0x0000ffff, 0x00000000, 0x00000001};

/* Mutates buf[0..*n) in place (room for cap bytes). */
static void mutate(struct fuzz *z, uint8_t *buf, size_t *n, size_t cap)
{
	int rounds = 1 + (int)(rng_next(&z->rng) % 4);
	for (int r = 0; r < rounds; r++) {
		uint64_t x = rng_next(&z->rng);
		size_t len = *n, at = len ? (size_t)(x >> 16) % len : 0;
		switch (x % 9) {
		case 0: /* flip a bit */
			if (len)
				buf[at] ^= (uint8_t)(1u << ((x >> 8) & 7));
			break;
		case 1: /* a random byte */
			if (len)
				buf[at] = (uint8_t)(x >> 8);
			break;
		case 2: /* an interesting byte */
			if (len)
				buf[at] = interesting[(x >> 8) % ARRAY_LEN(interesting)];
			break;
		case 3: /* truncate */
			*n = len ? (size_t)(x >> 8) % len : 0;
			break;
		case 4: { /* insert 1..4 bytes */
			size_t k = 1 + (x >> 8) % 4;
			if (len + k > cap)
				break;
			memmove(buf + at + k, buf + at, len - at);
			for (size_t i = 0; i < k; i++)
				buf[at + i] = (x >> 12) & 1 ? (uint8_t)rng_next(&z->rng)
							    : interesting[rng_next(&z->rng) %
									  ARRAY_LEN(interesting)];
			*n = len + k;
			break;
		}
		case 5: { /* delete 1..4 bytes */
			size_t k = 1 + (x >> 8) % 4;
			if (at + k > len)
				k = len - at;
			memmove(buf + at, buf + at + k, len - at - k);
			*n = len - k;
			break;
		}
		case 6: { /* duplicate a chunk */
			size_t k = 1 + (x >> 8) % 16;
			if (at + k > len || len + k > cap)
				break;
			memmove(buf + at + k, buf + at, len - at);
			*n = len + k;
			break;
		}
		case 7: /* a big-endian count or length */
			if (at + 4 <= len) {
				uint32_t v = interesting32[(x >> 8) % ARRAY_LEN(interesting32)];
				for (int i = 0; i < 4; i++)
					buf[at + i] = (uint8_t)(v >> (24 - 8 * i));
			}
			break;
		default: { /* zero padding, sometimes too much */
			size_t k = (x >> 8) % 10;
			if (len + k <= cap) {
				memset(buf + len, 0, k);
				*n = len + k;
			}
			break;
		}
		}
	}
}

/* A command that decoded must encode and decode to the same struct, and encode to the same
 * bytes again. */
static const char *cmd_stable(const struct msg_cmd *c)
{
	size_t n, n2;
	struct msg_cmd d;
	const char *diff = NULL;
	uint8_t *e = encode_cmd(c, &n);
	if (msg_cmd_decode(e, n, &d) != 0) {
		free(e);
		return "re-encoded command refused";
	}
	diff = cmd_diff(c, &d);
	uint8_t *e2 = encode_cmd(&d, &n2);
	if (diff == NULL && (n2 != n || memcmp(e, e2, n) != 0))
		diff = "re-encoding differs";
	msg_cmd_free(&d);
	free(e2);
	free(e);
	return diff;
}

static const char *req_stable(const struct msg_req *r)
{
	size_t n, n2;
	struct msg_req d;
	const char *diff = NULL;
	uint8_t *e = encode_req(r, &n);
	if (msg_req_decode(e, n, &d) != 0) {
		free(e);
		return "re-encoded request refused";
	}
	diff = req_diff(r, &d);
	uint8_t *e2 = encode_req(&d, &n2);
	if (diff == NULL && (n2 != n || memcmp(e, e2, n) != 0))
		diff = "re-encoding differs";
	msg_req_free(&d);
	free(e2);
	free(e);
	return diff;
}

static void fuzz_one(struct fuzz *z, const uint8_t *m, size_t n)
{
	struct msg_cmd c;
	struct msg_req r;
	struct reply rp;
	size_t used;
	const char *diff;
	int rv;
	z->m = m;
	z->n = n;

	rv = mp_validate(m, n, MP_MAX_DEPTH, &used);
	if (rv != 0 && rv != BERTH_EBADREQ)
		fuzz_fail(z, "mp_validate: unexpected code", rv);
	if (rv == 0 && (used == 0 || used > n ||
			mp_validate(m, used - 1, MP_MAX_DEPTH, &used) != BERTH_EBADREQ))
		fuzz_fail(z, "mp_validate: used is not the object's exact length", rv);

	rv = msg_cmd_decode(m, n, &c);
	if (rv != 0 && rv != BERTH_EBADREQ)
		fuzz_fail(z, "msg_cmd_decode: unexpected code", rv);
	if (rv == 0) {
		z->ok[0]++;
		if (c.type == 0 || c.type >= MSG_CMD_TYPE_END || !txn_borrows(&c.txn, m, n) ||
		    c.nleases > MSG_MAX_EXPIRE)
			fuzz_fail(z, "msg_cmd_decode: out-of-range result", rv);
		if ((diff = cmd_stable(&c)) != NULL)
			fuzz_fail(z, diff, rv);
		msg_cmd_free(&c);
	} else {
		z->bad[0]++;
		if (c.txn.cmp || c.txn.succ || c.txn.fail || c.leases)
			fuzz_fail(z, "msg_cmd_decode: failed but left memory", rv);
	}

	rv = msg_req_decode(m, n, &r);
	if (rv != 0 && rv != BERTH_EBADREQ)
		fuzz_fail(z, "msg_req_decode: unexpected code", rv);
	if (rv == 0) {
		z->ok[1]++;
		if (r.type == 0 || r.type >= MSG_REQ_TYPE_END || !txn_borrows(&r.txn, m, n) ||
		    !op_borrows(&r.watch, m, n) || !in_buf(r.token, m, n))
			fuzz_fail(z, "msg_req_decode: out-of-range result", rv);
		if ((diff = req_stable(&r)) != NULL)
			fuzz_fail(z, diff, rv);
		msg_req_free(&r);
	} else {
		z->bad[1]++;
		if (r.txn.cmp || r.txn.succ || r.txn.fail)
			fuzz_fail(z, "msg_req_decode: failed but left memory", rv);
	}

	rv = reply_decode(m, n, &rp);
	if (rv != 0 && rv != BERTH_EBADREQ)
		fuzz_fail(z, "reply_decode: unexpected code", rv);
	if (rv == 0) {
		z->ok[2]++;
		if (!err_known(rp.err))
			fuzz_fail(z, "reply_decode: unknown error code accepted", rv);
		for (uint32_t i = 0; i < rp.nops; i++) {
			if (rp.ops[i].type >= MSG_OP_TYPE_COUNT)
				fuzz_fail(z, "reply_decode: bad op type accepted", rv);
			for (uint32_t k = 0; k < rp.ops[i].nkvs; k++)
				if (!in_buf(rp.ops[i].kvs[k].key, m, n) ||
				    !in_buf(rp.ops[i].kvs[k].value, m, n))
					fuzz_fail(z, "reply_decode: kv outside the input", rv);
		}
		reply_free(&rp);
	} else {
		z->bad[2]++;
		if (rp.ops != NULL)
			fuzz_fail(z, "reply_decode: failed but left memory", rv);
	}
}

static void test_codec_fuzz(void **state)
{
	struct blob corpus[64];
	struct fuzz z = {0};
	const char *env = getenv("BERTH_CODEC_SEED");
	const char *iters = getenv("BERTH_CODEC_MUTANTS");
	long total = iters ? strtol(iters, NULL, 0) : 200000;
	(void)state;
	z.seed = env ? strtoull(env, NULL, 0) : 0xc0dec5eed;
	z.rng = z.seed;
	printf("codec fuzz: seed 0x%" PRIx64 " (BERTH_CODEC_SEED=0x%" PRIx64
	       " replays), %ld mutants\n",
	       z.seed, z.seed, total);
	size_t nc = fuzz_corpus(corpus, ARRAY_LEN(corpus)), cap = 0;
	for (size_t i = 0; i < nc; i++) {
		cap = corpus[i].n > cap ? corpus[i].n : cap;
		fuzz_one(&z, corpus[i].p, corpus[i].n); /* every seed decodes somewhere */
	}
	cap += 64;
	uint8_t *work = malloc(cap);
	assert_non_null(work);
	double t0 = now_s();
	for (z.iter = 0; z.iter < total; z.iter++) {
		const struct blob *b = &corpus[rng_next(&z.rng) % nc];
		size_t n = b->n;
		memcpy(work, b->p, n);
		mutate(&z, work, &n, cap);
		uint8_t *m = dup_exact(work, n);
		fuzz_one(&z, m, n);
		free(m);
	}
	double dt = now_s() - t0;
	printf("codec fuzz: %.2f s; decoded ok/refused: cmd %ld/%ld, req %ld/%ld, reply %ld/%ld\n",
	       dt, z.ok[0], z.bad[0], z.ok[1], z.bad[1], z.ok[2], z.bad[2]);
	/* The mutants must exercise both outcomes of every decoder. */
	for (int i = 0; i < 3; i++) {
		assert_true(z.ok[i] >= total / 100);
		assert_true(z.bad[i] >= total / 10);
	}
	free(work);
	for (size_t i = 0; i < nc; i++)
		free(corpus[i].p);
}

/* ---- 7. bad entries reaching the state machine ----------------------------------------- */

/* The whole visible state as reply bytes: every key now, and every key at revision 2. */
static struct blob fsm_state(struct tfsm *t)
{
	struct msg_op ops[2] = {op_all(), op_all()};
	ops[1].rev = 2;
	struct msg_txn txn = {0, 2, 0, NULL, ops, NULL};
	struct reply r;
	assert_int_equal(tfsm_read(t, &txn, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.nops, 2);
	reply_free(&r);
	return (struct blob){dup_exact(t->last, t->last_len), t->last_len};
}

/* Applies raw bytes at the next index; the reply is decoded into r (borrowing t->last). */
static void apply_raw(struct tfsm *t, const uint8_t *p, size_t n, struct reply *r)
{
	uint8_t *d = dup_exact(p, n);
	mp_buf_reset(&t->out);
	assert_int_equal(fsm_batch_begin(&t->f), 0);
	assert_int_equal(fsm_apply(&t->f, t->index + 1, d, n, &t->out), 0);
	assert_int_equal(fsm_batch_commit(&t->f), 0);
	t->index++;
	free(d);
	free(t->last);
	t->last = dup_exact(t->out.data, t->out.len);
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
	uint8_t *w = buf_finish(&want, &wn);
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
	for (size_t i = 0; i < ARRAY_LEN(bad_cmds); i++) {
		p = lit(bad_cmds[i].bad, &n);
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
	uint8_t *enc = encode_cmd(&good, &enc_n);
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
		p = lit(text, &n);
		check_refused(t, p, n, &before);
		free(p);
	}
	/* Garbage. */
	uint64_t s = 99;
	for (int i = 0; i < 300; i++) {
		uint8_t g[64];
		size_t len = rng_next(&s) % sizeof(g);
		for (size_t k = 0; k < len; k++)
			g[k] = (uint8_t)rng_next(&s);
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
	struct blob first = {dup_exact(t->last, t->last_len), t->last_len};
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
		cmocka_unit_test(test_codec_validate_every_type),
		cmocka_unit_test(test_codec_validate_ext_rejected),
		cmocka_unit_test(test_codec_validate_truncated),
		cmocka_unit_test(test_codec_validate_lying_counts),
		cmocka_unit_test(test_codec_validate_lying_counts_fast),
		cmocka_unit_test(test_codec_validate_depth),
		cmocka_unit_test(test_codec_validate_depth_empty_container),
		cmocka_unit_test(test_codec_doc_padding),
		cmocka_unit_test(test_codec_int_boundaries),
		cmocka_unit_test(test_codec_int_non_shortest_accepted),
		cmocka_unit_test(test_codec_int_rejects),
		cmocka_unit_test(test_codec_int_random_round_trip),
		cmocka_unit_test(test_codec_cmd_round_trip),
		cmocka_unit_test(test_codec_cmd_exact_bytes),
		cmocka_unit_test(test_codec_req_round_trip),
		cmocka_unit_test(test_codec_reply_round_trip_packed),
		cmocka_unit_test_setup_teardown(test_codec_reply_round_trip_fsm, fsm_setup,
						fsm_teardown),
		cmocka_unit_test(test_codec_bad_cmds),
		cmocka_unit_test(test_codec_bad_reqs),
		cmocka_unit_test(test_codec_bad_replies),
		cmocka_unit_test(test_codec_bad_type_numbers),
		cmocka_unit_test(test_codec_bad_expire_count),
		cmocka_unit_test(test_codec_reply_err_codes),
		cmocka_unit_test(test_codec_fuzz),
		cmocka_unit_test_setup_teardown(test_codec_fsm_bad_entries, fsm_setup,
						fsm_teardown),
		cmocka_unit_test_setup_teardown(test_codec_fsm_range_empty_prefix, fsm_setup,
						fsm_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
