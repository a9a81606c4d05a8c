/* store/snapshot.c: the whole database as a versioned byte stream, and back.
 *
 * Stream (all integers big-endian):
 *   "BERTHSNP"  u32 version (1)
 *   records:    u8 table (1..8, non-decreasing)  u32 key length  key  u32 value length  value
 *   trailer:    u8 0xff  u64 record count  u32 CRC-32 of every byte before the CRC
 * Tables in order: meta, keys, hist, revs, leases, lkeys, sess, sessdl; records in each in
 * LMDB order, so equal databases give equal streams. */
#include "store/fsm.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SNAP_MAGIC "BERTHSNP"
#define SNAP_VERSION 1
#define SNAP_END 0xff
#define SNAP_MAX_KEY 511                  /* LMDB's key limit */
#define SNAP_MAX_VALUE ((size_t)96 << 20) /* larger than any record berth writes */
#define SNAP_CHUNK (64 * 1024)

#define SNAP_TABLES 8

static void snap_tables(struct fsm *f, MDB_dbi t[SNAP_TABLES])
{
	t[0] = f->kv.meta;
	t[1] = f->kv.keys;
	t[2] = f->kv.hist;
	t[3] = f->kv.revs;
	t[4] = f->kv.leases;
	t[5] = f->kv.lkeys;
	t[6] = f->kv.sess;
	t[7] = f->kv.sessdl;
}

struct snap_out {
	fsm_write_fn write;
	void *ctx;
	uint8_t buf[SNAP_CHUNK];
	size_t len;
	uLong crc;
	int err;
};

static void snap_put(struct snap_out *o, const void *p, size_t n)
{
	const uint8_t *b = p;
	o->crc = crc32(o->crc, b, (uInt)n);
	while (n > 0 && o->err == 0) {
		size_t take = SNAP_CHUNK - o->len < n ? SNAP_CHUNK - o->len : n;
		memcpy(o->buf + o->len, b, take);
		o->len += take;
		b += take;
		n -= take;
		if (o->len == SNAP_CHUNK) {
			o->err = o->write(o->ctx, o->buf, o->len);
			o->len = 0;
		}
	}
}

static void snap_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t snap_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int fsm_snapshot_write(struct fsm *f, fsm_write_fn write, void *ctx)
{
	struct snap_out *o = malloc(sizeof(*o));
	MDB_txn *txn;
	size_t ntables = SNAP_TABLES;
	MDB_dbi tables[SNAP_TABLES];
	uint64_t count = 0;
	uint8_t hdr[12];

	snap_tables(f, tables);
	int rc;

	if (o == NULL)
		return BERTH_ENOMEM;
	o->write = write;
	o->ctx = ctx;
	o->len = 0;
	o->crc = crc32(0, Z_NULL, 0);
	o->err = 0;
	/* One read transaction: a consistent state while writers go on. */
	if ((rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &txn)) != 0) {
		free(o);
		return kv_err(&f->kv, rc, "snapshot begin");
	}
	memcpy(hdr, SNAP_MAGIC, 8);
	snap_u32(hdr + 8, SNAP_VERSION);
	snap_put(o, hdr, 12);
	for (size_t t = 0; t < ntables && rc == 0 && o->err == 0; t++) {
		MDB_cursor *cur;
		MDB_val k, v;
		if ((rc = mdb_cursor_open(txn, tables[t], &cur)) != 0)
			break;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && o->err == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			uint8_t rh[5];
			rh[0] = (uint8_t)(t + 1);
			snap_u32(rh + 1, (uint32_t)k.mv_size);
			snap_put(o, rh, 5);
			snap_put(o, k.mv_data, k.mv_size);
			snap_u32(rh, (uint32_t)v.mv_size);
			snap_put(o, rh, 4);
			snap_put(o, v.mv_data, v.mv_size);
			count++;
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	mdb_txn_abort(txn);
	int rv = rc ? kv_err(&f->kv, rc, "snapshot read") : o->err;
	if (rv == 0) {
		uint8_t tr[13];
		tr[0] = SNAP_END;
		kv_be64_put(tr + 1, count);
		snap_put(o, tr, 9);
		snap_u32(tr, (uint32_t)o->crc);
		/* The CRC is not part of what it covers, so it bypasses snap_put: flush first
		 * when the chunk has no room left for it. */
		if (o->err == 0 && o->len + 4 > SNAP_CHUNK) {
			o->err = o->write(o->ctx, o->buf, o->len);
			o->len = 0;
		}
		memcpy(o->buf + o->len, tr, 4);
		o->len += 4;
		rv = o->err ? o->err : write(ctx, o->buf, o->len);
	}
	free(o);
	return rv;
}

struct snap_buf {
	const uint8_t *p;
	size_t n;
};

struct snap_in {
	fsm_read_fn read;
	void *ctx;
	uLong crc;
	const struct snap_buf *whole; /* set when the stream is a buffer: no bytes may follow */
};

static int snap_take(struct snap_in *in, void *buf, size_t n)
{
	if (n == 0)
		return 0;
	int rv = in->read(in->ctx, buf, n);
	if (rv != 0)
		return rv;
	in->crc = crc32(in->crc, buf, (uInt)n);
	return 0;
}

/* Reads records into the open write transaction; 0 or an error (nothing is committed). */
static int snap_load(struct fsm *f, MDB_txn *txn, struct snap_in *in)
{
	size_t ntables = SNAP_TABLES;
	MDB_dbi tables[SNAP_TABLES];
	uint8_t hdr[12], kbuf[SNAP_MAX_KEY], *vbuf = NULL;
	size_t vcap = 0;
	uint64_t count = 0;
	unsigned last = 1;
	int rv, rc;

	snap_tables(f, tables);
	if ((rv = snap_take(in, hdr, 12)) != 0)
		return rv;
	if (memcmp(hdr, SNAP_MAGIC, 8) != 0 || snap_get32(hdr + 8) != SNAP_VERSION)
		return BERTH_ECORRUPT;
	for (size_t t = 0; t < ntables; t++)
		if ((rc = mdb_drop(txn, tables[t], 0)) != 0)
			return kv_err(&f->kv, rc, "restore drop");
	for (;;) {
		uint8_t rh[5], lb[4];
		if ((rv = snap_take(in, rh, 1)) != 0)
			break;
		if (rh[0] == SNAP_END)
			break;
		if (rh[0] < last || rh[0] > ntables) {
			rv = BERTH_ECORRUPT;
			break;
		}
		last = rh[0];
		if ((rv = snap_take(in, rh + 1, 4)) != 0)
			break;
		uint32_t kn = snap_get32(rh + 1);
		if (kn == 0 || kn > SNAP_MAX_KEY) {
			rv = BERTH_ECORRUPT;
			break;
		}
		if ((rv = snap_take(in, kbuf, kn)) != 0 || (rv = snap_take(in, lb, 4)) != 0)
			break;
		size_t vn = snap_get32(lb);
		if (vn > SNAP_MAX_VALUE) {
			rv = BERTH_ECORRUPT;
			break;
		}
		if (vn > vcap) {
			uint8_t *nb = realloc(vbuf, vn);
			if (nb == NULL) {
				rv = BERTH_ENOMEM;
				break;
			}
			vbuf = nb;
			vcap = vn;
		}
		if ((rv = snap_take(in, vbuf, vn)) != 0)
			break;
		/* Records arrive in LMDB order; MDB_APPEND checks that, and is fast. */
		MDB_val k = {kn, kbuf}, v = {vn, vbuf};
		if ((rc = mdb_put(txn, tables[last - 1], &k, &v, MDB_APPEND)) != 0) {
			rv = rc == MDB_KEYEXIST ? BERTH_ECORRUPT
						: kv_err(&f->kv, rc, "restore put");
			break;
		}
		count++;
	}
	free(vbuf);
	if (rv != 0)
		return rv;
	uint8_t tr[12];
	if ((rv = snap_take(in, tr, 8)) != 0)
		return rv;
	uint32_t want = (uint32_t)in->crc;
	if ((rv = in->read(in->ctx, tr + 8, 4)) != 0)
		return rv;
	if (kv_be64_get(tr) != count || snap_get32(tr + 8) != want)
		return BERTH_ECORRUPT;
	if (in->whole != NULL && in->whole->n != 0)
		return BERTH_ECORRUPT; /* trailing bytes: not a stream this code wrote */
	return 0;
}

static int snap_restore(struct fsm *f, struct snap_in *inp)
{
	struct snap_in in = *inp;
	struct fsm_meta m = {0};
	MDB_txn *txn;
	if (f->batch != NULL)
		return BERTH_EINTERNAL;
	int rc = mdb_txn_begin(f->kv.env, NULL, 0, &txn), rv;
	if (rc != 0)
		return kv_err(&f->kv, rc, "restore begin");
	if ((rv = snap_load(f, txn, &in)) != 0 || (rv = fsm_meta_load(f, txn, &m)) != 0) {
		mdb_txn_abort(txn);
		if (rv == BERTH_ECORRUPT)
			snprintf(f->errmsg, sizeof(f->errmsg), "fsm restore: corrupt snapshot");
		return rv;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return kv_err(&f->kv, rc, "restore commit");
	f->m = f->saved = m;
	return 0;
}

int fsm_restore(struct fsm *f, fsm_read_fn read, void *ctx)
{
	struct snap_in in = {read, ctx, crc32(0, Z_NULL, 0), NULL};
	return snap_restore(f, &in);
}

static int snap_buf_read(void *ctx, void *buf, size_t n)
{
	struct snap_buf *b = ctx;
	if (n > b->n)
		return BERTH_ECORRUPT; /* truncated */
	memcpy(buf, b->p, n);
	b->p += n;
	b->n -= n;
	return 0;
}

int fsm_restore_buf(struct fsm *f, const uint8_t *buf, size_t n)
{
	struct snap_buf b = {buf, n};
	struct snap_in in = {snap_buf_read, &b, crc32(0, Z_NULL, 0), &b};
	return snap_restore(f, &in);
}

int fsm_snapshot_peek(const uint8_t *buf, size_t n, uint64_t *applied)
{
	size_t pos = 12;
	*applied = 0;
	if (n < 12 || memcmp(buf, SNAP_MAGIC, 8) != 0 || snap_get32(buf + 8) != SNAP_VERSION)
		return BERTH_ECORRUPT;
	/* Meta records come first (table 1); a missing "applied" reads 0, as in the table. */
	while (pos < n && buf[pos] == 1) {
		if (n - pos < 5)
			return BERTH_ECORRUPT;
		size_t kn = snap_get32(buf + pos + 1);
		pos += 5;
		if (kn > n - pos || n - pos - kn < 4)
			return BERTH_ECORRUPT;
		const uint8_t *k = buf + pos;
		pos += kn;
		size_t vn = snap_get32(buf + pos);
		pos += 4;
		if (vn > n - pos)
			return BERTH_ECORRUPT;
		if (kn == 7 && memcmp(k, "applied", 7) == 0) {
			if (vn != 8)
				return BERTH_ECORRUPT;
			*applied = kv_be64_get(buf + pos);
			return 0;
		}
		pos += vn;
	}
	return pos < n ? 0 : BERTH_ECORRUPT;
}
