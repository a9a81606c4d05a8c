/* store/snapfmt.h: the snapshot stream's format, shared by its writer (store/snapshot.c)
 * and its reader (store/snapload.c). Internal to store/.
 *
 * Stream (all integers big-endian):
 *   "BERTHSNP"  u32 version (1)
 *   records:    u8 table (1..8, non-decreasing)  u32 key length  key  u32 value length  value
 *   trailer:    u8 0xff  u64 record count  u32 CRC-32 of every byte before the CRC
 * Tables in order: meta, keys, hist, revs, leases, lkeys, sess, sessdl; records in each in
 * LMDB order, so equal databases give equal streams. docs/store.md has the same. */
#ifndef BERTH_STORE_SNAPFMT_H
#define BERTH_STORE_SNAPFMT_H

#include "store/fsm.h"

#define SNAP_MAGIC "BERTHSNP"
#define SNAP_VERSION 1
#define SNAP_HEADER_BYTES 12
#define SNAP_END 0xff
#define SNAP_MAX_KEY 511                  /* LMDB's key limit */
#define SNAP_MAX_VALUE ((size_t)96 << 20) /* larger than any record berth writes */
#define SNAP_TABLES 8

/* The tables in stream order. */
static inline void snap_tables(const struct fsm *f, MDB_dbi t[SNAP_TABLES])
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

static inline void snap_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t snap_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
