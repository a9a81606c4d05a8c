/* store/kv.h: the state machine's LMDB database: environment, tables, key encoding,
 * records and ordered scans. No business rules live here (store/fsm.c has them).
 *
 * Tables (named LMDB databases in one environment):
 *   meta     name -> big-endian u64: applied index, revision, compaction, clock, ...;
 *            and "member/" . be64(id) -> member addresses (store/addrbook.h)
 *   keys     ek(key) -> record              every live key, its current version
 *   hist     ek(key) . be64(rev) -> record  every version and tombstone until compacted
 *   revs     be64(rev) . be32(sub) -> hist key     changes in revision order (watches)
 *   leases   be64(id) -> be64(ttl seconds)
 *   lkeys    be64(lease) . ek(key) -> ""    keys attached to each lease
 *   sess     be64(sid) -> session record
 *   sessdl   be64(deadline_ms) . be64(sid) -> ""   sessions by expiry
 *
 * Key encoding. Debian's LMDB caps keys at 511 bytes and berth allows 1 KiB. A key of at
 * most KV_INLINE bytes is its own LMDB key. A longer key K goes into the bucket of its
 * first KV_INLINE bytes P: ek(K) = P . 0x00 . be64(hash(K)) . be16(slot). Every short key
 * compares against a bucket exactly as against the keys in it, so LMDB order is user-key
 * order everywhere except inside one bucket, and scans sort each bucket in memory by the
 * full key (stored in every record). Hash collisions take the next free slot; a key keeps
 * its slot while it has history. See docs/store.md.
 *
 * `hist` uses a comparator (kv_hist_cmp): the ek part as bytes, then the revision, so all
 * versions of a key are adjacent and in revision order. Every program that opens the
 * database must install it: kv_open does.
 *
 * Borrowing: records returned by lookups and scans point into LMDB pages and are valid
 * until the next write in the transaction or its end. */
#ifndef BERTH_STORE_KV_H
#define BERTH_STORE_KV_H

#include "common/msg.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#define KV_INLINE 448                     /* longest key stored as itself */
#define KV_EK_MAX (KV_INLINE + 1 + 8 + 2) /* longest encoded key */
#define KV_HK_MAX (KV_EK_MAX + 8)         /* longest hist key */
#define KV_KEY_HARD_MAX 4096              /* the key limit can be configured up to this */

enum kv_sync {
	KV_SYNC_FULL = 0, /* fsync data and meta page at every commit */
	KV_SYNC_NOMETA,   /* MDB_NOMETASYNC: the last commit may roll back after an OS crash */
	KV_SYNC_NONE      /* MDB_NOSYNC, with the unsynced marker (store/kvmark.h) */
};

enum kv_rec_kind { KV_PUT = 1, KV_DEL = 2 };

struct kv_rec {
	uint8_t kind; /* enum kv_rec_kind */
	int64_t create_rev;
	int64_t mod_rev;
	int64_t version;
	uint64_t lease;
	struct bytes key;
	struct bytes value;
};

struct kv {
	MDB_env *env;
	MDB_dbi meta, keys, hist, revs, leases, lkeys, sess, sessdl;
	uint64_t hash_mask; /* tests narrow it to force bucket collisions */
	enum kv_sync sync;
	bool discarded; /* KV_SYNC_NONE: kv_open removed a database a machine crash may have torn */
	bool base;      /* DIR/base was there: opened with KV_SYNC_NOMETA instead of NONE */
	char dir[4096];
	char errmsg[256];
};

/* Opens (creating if needed) the database in directory `dir`. map_bytes is the LMDB map
 * size (address space; the file grows as needed). With KV_SYNC_NONE the unsynced marker's
 * rule applies first (store/kvmark.h; boot_id_path NULL: the kernel's), and kv->discarded
 * tells whether it removed the database. On failure nothing is left open and errmsg says
 * why. Returns 0, BERTH_EIO or BERTH_EBUSY (another process holds it). */
int kv_open(struct kv *kv, const char *dir, size_t map_bytes, enum kv_sync sync,
	    const char *boot_id_path);
/* With KV_SYNC_NONE, flushes the database before closing it and then removes the marker;
 * a failure there leaves the marker (logged by the caller through errmsg: returns 0 or
 * BERTH_EIO). */
int kv_close(struct kv *kv);

/* Maps an LMDB return code to a BERTH_E* code and records context in kv->errmsg. */
int kv_err(struct kv *kv, int mdb_rc, const char *what);

/* Records. kv_rec_size is the encoded size; kv_rec_write fills exactly that many bytes. */
size_t kv_rec_size(const struct kv_rec *r);
void kv_rec_write(const struct kv_rec *r, uint8_t *out);
/* 0 or BERTH_ECORRUPT. The record borrows from `v`. */
int kv_rec_read(const MDB_val *v, struct kv_rec *r);

/* Finds the encoded key for `key`: out/out_len receive it (out has KV_EK_MAX bytes).
 * For a long key, an existing slot with this key (live or in history) is reused;
 * otherwise the lowest free slot of its hash. Returns 0, BERTH_ETOOLARGE when every slot
 * of the hash is taken, or an LMDB failure. */
int kv_ek(struct kv *kv, MDB_txn *txn, struct bytes key, uint8_t *out, size_t *out_len);
/* 1 when the stored key `ek` is in a bucket (a long key). */
bool kv_ek_is_bucket(const uint8_t *ek, size_t n);

/* Point lookups on the current state: 0 with *r, BERTH_ENOTFOUND, or an error. */
int kv_get(struct kv *kv, MDB_txn *txn, struct bytes key, struct kv_rec *r);
/* Latest version of `key` at or before `rev` in history; BERTH_ENOTFOUND when the key did
 * not exist then (including a tombstone). */
int kv_get_at(struct kv *kv, MDB_txn *txn, struct bytes key, uint64_t rev, struct kv_rec *r);

/* Ordered scans. The callback returns 0 to go on, 1 to stop, or an error to abort. */
typedef int (*kv_scan_cb)(void *ctx, const struct kv_rec *r);

/* Every live key in [start, end) in key order; end with n == 0 means no upper bound. */
int kv_scan(struct kv *kv, MDB_txn *txn, struct bytes start, struct bytes end, kv_scan_cb cb,
	    void *ctx);
/* Every key that existed at revision `rev`, in [start, end), from history. */
int kv_scan_at(struct kv *kv, MDB_txn *txn, struct bytes start, struct bytes end, uint64_t rev,
	       kv_scan_cb cb, void *ctx);

/* hist keys: ek . be64(rev). */
size_t kv_hk(const uint8_t *ek, size_t ek_len, uint64_t rev, uint8_t *out);

/* Meta values (big-endian u64); a missing name reads 0. */
int kv_meta_get(struct kv *kv, MDB_txn *txn, const char *name, uint64_t *v);
int kv_meta_put(struct kv *kv, MDB_txn *txn, const char *name, uint64_t v);

/* Big-endian helpers. */
void kv_be64_put(uint8_t *p, uint64_t v);
uint64_t kv_be64_get(const uint8_t *p);

#endif
