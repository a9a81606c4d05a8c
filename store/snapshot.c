/* store/snapshot.c: the whole database as a versioned byte stream (store/snapfmt.h),
 * produced piece by piece from one LMDB read transaction. */
#include "store/snapfmt.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SNAP_CHUNK (64 * 1024) /* fsm_snapshot_write's callback size */

/* The stream is made of pieces: the header, then per record its 5-byte head, the key, the
 * value's length and the value (borrowed from LMDB pages, valid while the read
 * transaction lives), then the trailer and the CRC. */
struct snap_piece {
	const uint8_t *p;
	size_t n;
};

enum snap_stage { SNAP_S_HEADER, SNAP_S_RECORDS, SNAP_S_CRC, SNAP_S_DONE };

struct fsm_snapshot {
	struct fsm *f;
	MDB_txn *txn;
	MDB_cursor *cur; /* on tables[table]; NULL before the table's first record */
	MDB_dbi tables[SNAP_TABLES];
	unsigned table;
	enum snap_stage stage;
	uint64_t count;
	uLong crc;
	struct snap_piece piece[4];
	unsigned npiece, ipiece;
	uint8_t head[SNAP_HEADER_BYTES]; /* the stream header, a record head or the trailer */
	uint8_t vlen[4];
	uint8_t crcb[4];
};

int fsm_snapshot_open(struct fsm *f, struct fsm_snapshot **out, struct fsm_meta *at)
{
	struct fsm_snapshot *s = calloc(1, sizeof(*s));
	struct fsm_meta m = {0};
	int rc, rv;

	*out = NULL;
	if (s == NULL)
		return BERTH_ENOMEM;
	s->f = f;
	snap_tables(f, s->tables);
	s->crc = crc32(0, Z_NULL, 0);
	if ((rc = mdb_txn_begin(f->kv.env, NULL, MDB_RDONLY, &s->txn)) != 0) {
		free(s);
		return kv_err(&f->kv, rc, "snapshot begin");
	}
	if ((rv = fsm_meta_load(f, s->txn, &m)) != 0) {
		fsm_snapshot_close(s);
		return rv;
	}
	if (at != NULL)
		*at = m;
	*out = s;
	return 0;
}

void fsm_snapshot_close(struct fsm_snapshot *s)
{
	if (s == NULL)
		return;
	if (s->cur != NULL)
		mdb_cursor_close(s->cur);
	if (s->txn != NULL)
		mdb_txn_abort(s->txn);
	free(s);
}

static void snap_stage_piece(struct fsm_snapshot *s, const void *p, size_t n, bool covered)
{
	s->piece[s->npiece++] = (struct snap_piece){p, n};
	if (covered && n > 0)
		s->crc = crc32(s->crc, p, (uInt)n);
}

/* Stages the next record, or the trailer when every table is done. */
static int snap_stage_record(struct fsm_snapshot *s)
{
	MDB_val k, v;
	int rc;
	while (s->table < SNAP_TABLES) {
		if (s->cur == NULL) {
			if ((rc = mdb_cursor_open(s->txn, s->tables[s->table], &s->cur)) != 0)
				return kv_err(&s->f->kv, rc, "snapshot cursor");
			rc = mdb_cursor_get(s->cur, &k, &v, MDB_FIRST);
		} else {
			rc = mdb_cursor_get(s->cur, &k, &v, MDB_NEXT);
		}
		if (rc == 0) {
			s->head[0] = (uint8_t)(s->table + 1);
			snap_put32(s->head + 1, (uint32_t)k.mv_size);
			snap_put32(s->vlen, (uint32_t)v.mv_size);
			snap_stage_piece(s, s->head, 5, true);
			snap_stage_piece(s, k.mv_data, k.mv_size, true);
			snap_stage_piece(s, s->vlen, 4, true);
			snap_stage_piece(s, v.mv_data, v.mv_size, true);
			s->count++;
			return 0;
		}
		if (rc != MDB_NOTFOUND)
			return kv_err(&s->f->kv, rc, "snapshot read");
		mdb_cursor_close(s->cur);
		s->cur = NULL;
		s->table++;
	}
	s->head[0] = SNAP_END;
	kv_be64_put(s->head + 1, s->count);
	snap_stage_piece(s, s->head, 9, true);
	s->stage = SNAP_S_CRC;
	return 0;
}

/* Stages the next pieces of the stream; nothing when it is over. */
static int snap_stage(struct fsm_snapshot *s)
{
	s->npiece = s->ipiece = 0;
	switch (s->stage) {
	case SNAP_S_HEADER:
		memcpy(s->head, SNAP_MAGIC, 8);
		snap_put32(s->head + 8, SNAP_VERSION);
		snap_stage_piece(s, s->head, SNAP_HEADER_BYTES, true);
		s->stage = SNAP_S_RECORDS;
		return 0;
	case SNAP_S_RECORDS:
		return snap_stage_record(s);
	case SNAP_S_CRC:
		/* The CRC covers every byte before it, the trailer included. */
		snap_put32(s->crcb, (uint32_t)s->crc);
		snap_stage_piece(s, s->crcb, 4, false);
		s->stage = SNAP_S_DONE;
		return 0;
	case SNAP_S_DONE:
		return 0;
	}
	return BERTH_EINTERNAL;
}

int fsm_snapshot_read(struct fsm_snapshot *s, void *buf, size_t cap, size_t *n)
{
	uint8_t *out = buf;
	int rv;
	*n = 0;
	while (*n < cap) {
		if (s->ipiece == s->npiece) {
			if (s->stage == SNAP_S_DONE)
				break;
			if ((rv = snap_stage(s)) != 0)
				return rv;
			continue;
		}
		struct snap_piece *p = &s->piece[s->ipiece];
		size_t take = p->n < cap - *n ? p->n : cap - *n;
		if (take > 0)
			memcpy(out + *n, p->p, take);
		*n += take;
		p->p += take;
		p->n -= take;
		if (p->n == 0)
			s->ipiece++;
	}
	return 0;
}

int fsm_snapshot_write(struct fsm *f, fsm_write_fn write, void *ctx)
{
	struct fsm_snapshot *s;
	uint8_t *buf = malloc(SNAP_CHUNK);
	size_t n;
	int rv;

	if (buf == NULL)
		return BERTH_ENOMEM;
	if ((rv = fsm_snapshot_open(f, &s, NULL)) != 0) {
		free(buf);
		return rv;
	}
	/* Every call but the last gets a full chunk. */
	while ((rv = fsm_snapshot_read(s, buf, SNAP_CHUNK, &n)) == 0 && n > 0)
		if ((rv = write(ctx, buf, n)) != 0)
			break;
	fsm_snapshot_close(s);
	free(buf);
	return rv;
}
