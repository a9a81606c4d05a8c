/* tests/unit/test_codec_fuzz.c: a fixed-seed mutation fuzz of the three decoders (common/mp.c,
 * msg.c, reply.c): whatever a mutant is, a decoder refuses it with BERTH_EBADREQ and leaves
 * nothing allocated, or returns a result that lies inside the input and re-encodes to
 * itself. BERTH_CODEC_SEED replays a run; BERTH_CODEC_MUTANTS sets its length.
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
#include "tests/unit/codec_cases.h"
#include "tests/unit/codec_lit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mutation fuzz --------------------------------------------------------------------- */

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
	struct msg_cmd cmds[24];
	struct msg_req reqs[24];
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
	size_t nc = codec_cases_cmds(cmds, false);
	for (size_t i = 0; i < nc; i++, n++)
		out[n].p = codec_cases_encode_cmd(&cmds[i], &out[n].n);
	size_t nr = codec_cases_reqs(reqs, false);
	for (size_t i = 0; i < nr; i++, n++)
		out[n].p = codec_cases_encode_req(&reqs[i], &out[n].n);
	out[n].p = codec_cases_reply(&out[n].n);
	n++;
	for (size_t i = 0; i < ARRAY_LEN(lits); i++, n++)
		out[n].p = codec_lit_pack(lits[i], &out[n].n);
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
	int rounds = 1 + (int)(codec_cases_rng_next(&z->rng) % 4);
	for (int r = 0; r < rounds; r++) {
		uint64_t x = codec_cases_rng_next(&z->rng);
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
				buf[at + i] = (x >> 12) & 1
						      ? (uint8_t)codec_cases_rng_next(&z->rng)
						      : interesting[codec_cases_rng_next(&z->rng) %
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
	uint8_t *e = codec_cases_encode_cmd(c, &n);
	if (msg_cmd_decode(e, n, &d) != 0) {
		free(e);
		return "re-encoded command refused";
	}
	diff = codec_cases_cmd_diff(c, &d);
	uint8_t *e2 = codec_cases_encode_cmd(&d, &n2);
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
	uint8_t *e = codec_cases_encode_req(r, &n);
	if (msg_req_decode(e, n, &d) != 0) {
		free(e);
		return "re-encoded request refused";
	}
	diff = codec_cases_req_diff(r, &d);
	uint8_t *e2 = codec_cases_encode_req(&d, &n2);
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
		if (c.type == 0 || c.type >= MSG_CMD_TYPE_END ||
		    !codec_cases_txn_borrows(&c.txn, m, n) || c.nleases > MSG_MAX_EXPIRE)
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
		if (r.type == 0 || r.type >= MSG_REQ_TYPE_END ||
		    !codec_cases_txn_borrows(&r.txn, m, n) ||
		    !codec_cases_op_borrows(&r.watch, m, n) || !codec_cases_in_buf(r.token, m, n))
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
				if (!codec_cases_in_buf(rp.ops[i].kvs[k].key, m, n) ||
				    !codec_cases_in_buf(rp.ops[i].kvs[k].value, m, n))
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
	double t0 = codec_cases_now_s();
	for (z.iter = 0; z.iter < total; z.iter++) {
		const struct blob *b = &corpus[codec_cases_rng_next(&z.rng) % nc];
		size_t n = b->n;
		memcpy(work, b->p, n);
		mutate(&z, work, &n, cap);
		uint8_t *m = codec_lit_dup(work, n);
		fuzz_one(&z, m, n);
		free(m);
	}
	double dt = codec_cases_now_s() - t0;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
