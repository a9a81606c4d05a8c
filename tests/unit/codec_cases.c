/* tests/unit/codec_cases.c: known-good messages of every type, structure comparison and a
 * state machine fixture, shared by the codec tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/codec_cases.h"

#include "common/mp.h"
#include "store/fsm.h"
#include "tests/unit/codec_lit.h"
#include "tests/unit/support.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

double codec_cases_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t codec_cases_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- structure comparison: the name of the first differing field, or NULL -------------- */

bool codec_cases_bytes_same(struct bytes a, struct bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static const char *op_diff(const struct msg_op *a, const struct msg_op *b)
{
	if (a->type != b->type)
		return "op type";
	if (a->flags != b->flags)
		return "op flags";
	if (!codec_cases_bytes_same(a->key, b->key))
		return "op key";
	if (!codec_cases_bytes_same(a->end, b->end))
		return "op end";
	if (!codec_cases_bytes_same(a->value, b->value))
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
		if (!codec_cases_bytes_same(x->key, y->key))
			return "compare key";
		if (!codec_cases_bytes_same(x->value, y->value))
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

const char *codec_cases_cmd_diff(const struct msg_cmd *a, const struct msg_cmd *b)
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
	if (a->member != b->member || !codec_cases_bytes_same(a->peer, b->peer) ||
	    !codec_cases_bytes_same(a->client, b->client))
		return "mid/peer/client";
	return txn_diff(&a->txn, &b->txn);
}

const char *codec_cases_req_diff(const struct msg_req *a, const struct msg_req *b)
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
	if (a->proto != b->proto || !codec_cases_bytes_same(a->token, b->token))
		return "proto/token";
	if (a->member != b->member || !codec_cases_bytes_same(a->peer, b->peer) ||
	    !codec_cases_bytes_same(a->client, b->client) || a->nowait != b->nowait)
		return "mid/peer/client/nowait";
	const char *d = op_diff(&a->watch, &b->watch);
	return d ? d : txn_diff(&a->txn, &b->txn);
}

void codec_cases_assert_same(const char *diff)
{
	if (diff != NULL)
		fail_msg("structures differ in: %s", diff);
}

/* Every borrowed byte string lies inside [lo, lo + n). */
bool codec_cases_in_buf(struct bytes b, const uint8_t *lo, size_t n)
{
	return b.n == 0 || (b.p >= lo && b.p + b.n <= lo + n);
}

bool codec_cases_op_borrows(const struct msg_op *o, const uint8_t *lo, size_t n)
{
	return codec_cases_in_buf(o->key, lo, n) && codec_cases_in_buf(o->end, lo, n) &&
	       codec_cases_in_buf(o->value, lo, n);
}

bool codec_cases_txn_borrows(const struct msg_txn *t, const uint8_t *lo, size_t n)
{
	for (uint32_t i = 0; i < t->ncmp; i++)
		if (!codec_cases_in_buf(t->cmp[i].key, lo, n) ||
		    !codec_cases_in_buf(t->cmp[i].value, lo, n))
			return false;
	for (uint32_t i = 0; i < t->nsucc; i++)
		if (!codec_cases_op_borrows(&t->succ[i], lo, n))
			return false;
	for (uint32_t i = 0; i < t->nfail; i++)
		if (!codec_cases_op_borrows(&t->fail[i], lo, n))
			return false;
	return true;
}

/* A failed decode leaves nothing allocated behind. */
void codec_cases_assert_cmd_empty(const struct msg_cmd *c)
{
	assert_null(c->txn.cmp);
	assert_null(c->txn.succ);
	assert_null(c->txn.fail);
	assert_null(c->leases);
	assert_int_equal(c->nleases, 0);
	assert_int_equal(c->txn.ncmp + c->txn.nsucc + c->txn.nfail, 0);
}

void codec_cases_assert_req_empty(const struct msg_req *r)
{
	assert_null(r->txn.cmp);
	assert_null(r->txn.succ);
	assert_null(r->txn.fail);
	assert_int_equal(r->txn.ncmp + r->txn.nsucc + r->txn.nfail, 0);
}

void codec_cases_assert_reply_empty(const struct reply *r)
{
	assert_null(r->ops);
	assert_int_equal(r->nops, 0);
}

/* ---- samples: a value for every field ---------------------------------------------------- */

const uint8_t codec_cases_odd_bytes[] = {0x00, 0xff, 0xc1, 0x80, 0x7f, 'k', 0x00};
static const int64_t odd_nums[] = {INT64_MIN, INT64_MIN + 1, -33, -32, -1,    0,
				   1,         127,           128, 255, 65536, INT64_MAX};
static uint8_t long_key[300];    /* bin16 */
static uint8_t big_value[70000]; /* bin32 */
static uint8_t cmp_keys[MSG_CMP_TARGET_COUNT * MSG_CMP_OP_COUNT][4];
static struct msg_compare s_cmp[MSG_CMP_TARGET_COUNT * MSG_CMP_OP_COUNT];
static struct msg_op s_succ[MSG_OP_TYPE_COUNT];
static struct msg_op s_fail[20];
uint64_t codec_cases_leases[3] = {1, (uint64_t)1 << 32, UINT64_MAX};
static const uint8_t s_token[] = {'s', 'e', 0x00, 'r', 0xff, 't'};
/* The longest member address: MSG_MEMBER_ADDR_MAX bytes, "127.0.0.1:7001" first. */
static uint8_t s_addr[MSG_MEMBER_ADDR_MAX];

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
	memset(s_addr, 'x', sizeof(s_addr));
	memcpy(s_addr, "127.0.0.1:7001", 14);
	for (uint8_t tg = 0; tg < MSG_CMP_TARGET_COUNT; tg++) {
		for (uint8_t o = 0; o < MSG_CMP_OP_COUNT; o++, nc++) {
			uint8_t *k = cmp_keys[nc];
			k[0] = 0x00;
			k[1] = tg;
			k[2] = o;
			k[3] = 0xff;
			s_cmp[nc] = (struct msg_compare){.target = tg, .op = o, .key = {k, 4}};
			if (tg == MSG_CMP_VALUE)
				s_cmp[nc].value =
					(struct bytes){codec_cases_odd_bytes, o}; /* o = 0: empty */
			else
				s_cmp[nc].num = odd_nums[nc % ARRAY_LEN(odd_nums)];
		}
	}
	for (uint8_t ty = 0; ty < MSG_OP_TYPE_COUNT; ty++)
		s_succ[ty] = (struct msg_op){
			.type = ty,
			.flags = MSG_F_ALL,
			.key = {big ? long_key : codec_cases_odd_bytes, big ? sizeof(long_key) : 3},
			.end = {codec_cases_odd_bytes, 1}, /* one zero byte: "to the last key" */
			.value = {big ? big_value : codec_cases_odd_bytes + 1,
				  big ? sizeof(big_value) : 4},
			.delta = odd_nums[ty],
			.lease = UINT64_MAX - ty,
			.limit = (uint64_t)UINT32_MAX + 1 + ty,
			.rev = (uint64_t)INT64_MAX + 1 + ty,
		};
	for (uint32_t i = 0; i < nfail; i++)
		s_fail[i] = (struct msg_op){
			.type = (uint8_t)(i % MSG_OP_TYPE_COUNT),
			.flags = (uint8_t)(i % 8),
			.key = {codec_cases_odd_bytes + i % 5, 1 + i % 2},
			.end = {codec_cases_odd_bytes, i % 3},
			.value = {codec_cases_odd_bytes, i % 7},
			.delta = (int64_t)i - 10,
			.lease = i,
			.limit = i * 1000,
			.rev = i,
		};
	return (struct msg_txn){nc, MSG_OP_TYPE_COUNT, nfail, s_cmp, s_succ, s_fail};
}

/* One or more commands of every type; returns how many (out has room for 24). */
size_t codec_cases_cmds(struct msg_cmd *out, bool big)
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
	out[n++] = (struct msg_cmd){
		.type = MSG_CMD_LEASE_EXPIRE, .nleases = 3, .leases = codec_cases_leases};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_LEASE_EXPIRE, .time_ms = 9};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = FSM_SESSION_MAX_TTL_MS};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = -1};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_TICK, .time_ms = 123456789};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_MEMBER,
				    .time_ms = 5,
				    .member = MSG_MEMBER_ID_MAX,
				    .peer = {s_addr, sizeof(s_addr)},
				    .client = {s_addr, 14}};
	out[n++] = (struct msg_cmd){.type = MSG_CMD_MEMBER, .member = 1};
	return n;
}

/* One or more requests of every type; returns how many (out has room for 24). */
size_t codec_cases_reqs(struct msg_req *out, bool big)
{
	size_t n = 0;
	struct msg_op w = {.type = MSG_OP_RANGE,
			   .flags = MSG_F_ALL,
			   .key = {codec_cases_odd_bytes, 2},
			   .end = {codec_cases_odd_bytes + 2, 3},
			   .value = {codec_cases_odd_bytes, 1},
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
	out[n++] = (struct msg_req){.type = MSG_REQ_SNAPSHOT, .id = 78};
	out[n++] = (struct msg_req){.type = MSG_REQ_MEMBER_LIST, .id = 78, .serializable = true};
	out[n++] = (struct msg_req){.type = MSG_REQ_MEMBER_ADD,
				    .id = 79,
				    .member = MSG_MEMBER_ID_MAX,
				    .peer = {s_addr, sizeof(s_addr)},
				    .client = {s_addr, 1},
				    .nowait = true};
	out[n++] = (struct msg_req){.type = MSG_REQ_MEMBER_REMOVE, .member = 4};
	out[n++] = (struct msg_req){.type = MSG_REQ_MEMBER_TRANSFER};
	out[n++] = (struct msg_req){.type = MSG_REQ_MEMBER_TRANSFER, .member = 2};
	return n;
}

uint8_t *codec_cases_encode_cmd(const struct msg_cmd *c, size_t *n)
{
	struct mp_buf b;
	mp_buf_init(&b);
	msg_cmd_encode(&b, c);
	return codec_lit_finish(&b, n);
}

uint8_t *codec_cases_encode_req(const struct msg_req *r, size_t *n)
{
	struct mp_buf b;
	mp_buf_init(&b);
	msg_req_encode(&b, r);
	return codec_lit_finish(&b, n);
}

/* A reply with every field, packed by hand with the reply helpers. */
const uint8_t codec_cases_kv1_key[] = {0x00, 0x01, 0xff};

uint8_t *codec_cases_reply(size_t *n)
{
	struct mp_buf b;
	struct reply_kv kv1 = {{codec_cases_kv1_key, 3},
			       {codec_cases_odd_bytes, 5},
			       INT64_MIN,
			       INT64_MAX,
			       0,
			       UINT64_MAX};
	struct reply_kv kv2 = {
		{codec_cases_odd_bytes + 5, 1}, {codec_cases_odd_bytes, 3}, 1, 2, 3, 4};
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
	return codec_lit_finish(&b, n);
}

/* ---- the state machine ----------------------------------------------------------------- */

/* The state machine tests get a fresh one from setup; teardown removes it even when an
 * assertion failed. */
int codec_cases_fsm_setup(void **state)
{
	struct tfsm *t = malloc(sizeof(*t));
	if (t == NULL)
		return -1;
	tfsm_open(t, NULL);
	*state = t;
	return 0;
}

int codec_cases_fsm_teardown(void **state)
{
	tfsm_close(*state);
	free(*state);
	return 0;
}

/* Every key: [0x00, end). Keys are never empty, so nothing is below 0x00. (The empty
 * prefix would say the same, but see test_codec_fsm_range_empty_prefix.) */
struct msg_op codec_cases_op_all(void)
{
	static const uint8_t zero = 0;
	return (struct msg_op){.type = MSG_OP_RANGE, .key = {&zero, 1}, .end = {&zero, 1}};
}
