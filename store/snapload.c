/* store/snapload.c: reading a snapshot stream (store/snapfmt.h) back: an atomic restore
 * into the database, a check that touches nothing, and a peek at the applied index. */
#include "store/snapfmt.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct snap_buf {
	const uint8_t *p;
	size_t n;
};

struct snap_in {
	fsm_read_fn read;
	void *ctx;
	uLong crc;
	uint64_t bytes;               /* read so far */
	const struct snap_buf *whole; /* set when the stream is a buffer: no bytes may follow */
};

/* Where the records of a stream go: 0 or an error that stops the load. */
typedef int (*snap_sink_fn)(void *ctx, unsigned table, const MDB_val *k, const MDB_val *v);

static int snap_take(struct snap_in *in, void *buf, size_t n)
{
	if (n == 0)
		return 0;
	int rv = in->read(in->ctx, buf, n);
	if (rv != 0)
		return rv;
	in->crc = crc32(in->crc, buf, (uInt)n);
	in->bytes += n;
	return 0;
}

/* Reads a whole stream, handing every record to sink (table 1..SNAP_TABLES); 0 once the
 * trailer, count and CRC are right, else BERTH_ECORRUPT or the read or sink error. */
static int snap_load(struct snap_in *in, snap_sink_fn sink, void *ctx, uint64_t *records)
{
	uint8_t hdr[SNAP_HEADER_BYTES], kbuf[SNAP_MAX_KEY], *vbuf = NULL;
	size_t vcap = 0;
	uint64_t count = 0;
	unsigned last = 1;
	int rv;

	if ((rv = snap_take(in, hdr, SNAP_HEADER_BYTES)) != 0)
		return rv;
	if (memcmp(hdr, SNAP_MAGIC, 8) != 0 || snap_get32(hdr + 8) != SNAP_VERSION)
		return BERTH_ECORRUPT;
	for (;;) {
		uint8_t rh[5], lb[4];
		if ((rv = snap_take(in, rh, 1)) != 0)
			break;
		if (rh[0] == SNAP_END)
			break;
		if (rh[0] < last || rh[0] > SNAP_TABLES) {
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
		MDB_val k = {kn, kbuf}, v = {vn, vbuf};
		if ((rv = sink(ctx, last, &k, &v)) != 0)
			break;
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
	in->bytes += 4;
	if (kv_be64_get(tr) != count || snap_get32(tr + 8) != want)
		return BERTH_ECORRUPT;
	if (in->whole != NULL && in->whole->n != 0)
		return BERTH_ECORRUPT; /* trailing bytes: not a stream this code wrote */
	if (records != NULL)
		*records = count;
	return 0;
}

struct snap_db {
	struct fsm *f;
	MDB_txn *txn;
	MDB_dbi tables[SNAP_TABLES];
};

static int snap_db_put(void *ctx, unsigned table, const MDB_val *k, const MDB_val *v)
{
	struct snap_db *d = ctx;
	MDB_val kk = *k, vv = *v;
	/* Records arrive in LMDB order; MDB_APPEND checks that, and is fast. */
	int rc = mdb_put(d->txn, d->tables[table - 1], &kk, &vv, MDB_APPEND);
	if (rc == 0)
		return 0;
	return rc == MDB_KEYEXIST ? BERTH_ECORRUPT : kv_err(&d->f->kv, rc, "restore put");
}

static int snap_restore(struct fsm *f, struct snap_in *in)
{
	struct snap_db d = {.f = f};
	struct fsm_meta m = {0};
	int rc, rv = 0;
	if (f->batch != NULL)
		return BERTH_EINTERNAL;
	snap_tables(f, d.tables);
	if ((rc = mdb_txn_begin(f->kv.env, NULL, 0, &d.txn)) != 0)
		return kv_err(&f->kv, rc, "restore begin");
	for (size_t t = 0; t < SNAP_TABLES && rv == 0; t++)
		if ((rc = mdb_drop(d.txn, d.tables[t], 0)) != 0)
			rv = kv_err(&f->kv, rc, "restore drop");
	if (rv != 0 || (rv = snap_load(in, snap_db_put, &d, NULL)) != 0 ||
	    (rv = fsm_meta_load(f, d.txn, &m)) != 0) {
		mdb_txn_abort(d.txn);
		if (rv == BERTH_ECORRUPT)
			snprintf(f->errmsg, sizeof(f->errmsg), "fsm restore: corrupt snapshot");
		return rv;
	}
	if ((rc = mdb_txn_commit(d.txn)) != 0)
		return kv_err(&f->kv, rc, "restore commit");
	f->m = f->saved = m;
	return 0;
}

int fsm_restore(struct fsm *f, fsm_read_fn read, void *ctx)
{
	struct snap_in in = {read, ctx, crc32(0, Z_NULL, 0), 0, NULL};
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
	struct snap_in in = {snap_buf_read, &b, crc32(0, Z_NULL, 0), 0, &b};
	return snap_restore(f, &in);
}

/* The check's sink: meta values, nothing stored. */
static int snap_check_rec(void *ctx, unsigned table, const MDB_val *k, const MDB_val *v)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {{"format", offsetof(struct fsm_snapshot_info, format)},
		      {"applied", offsetof(struct fsm_snapshot_info, applied)},
		      {"rev", offsetof(struct fsm_snapshot_info, rev)},
		      {"compacted", offsetof(struct fsm_snapshot_info, compacted)}};
	struct fsm_snapshot_info *info = ctx;
	if (table != 1)
		return 0;
	/* The counters are be64 (store/kv.h); other entries (the address book) are not. */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (k->mv_size != strlen(fields[i].name) ||
		    memcmp(k->mv_data, fields[i].name, k->mv_size) != 0)
			continue;
		if (v->mv_size != 8)
			return BERTH_ECORRUPT;
		*(uint64_t *)((char *)info + fields[i].off) = kv_be64_get(v->mv_data);
	}
	return 0;
}

int fsm_snapshot_check(fsm_read_fn read, void *ctx, struct fsm_snapshot_info *info)
{
	struct snap_in in = {read, ctx, crc32(0, Z_NULL, 0), 0, NULL};
	memset(info, 0, sizeof(*info));
	int rv = snap_load(&in, snap_check_rec, info, &info->records);
	if (rv == 0 && info->format != 0 && info->format != FSM_FORMAT)
		rv = BERTH_ECORRUPT;
	info->bytes = in.bytes;
	return rv;
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
