/* store/fsm.h: berth's replicated state machine on LMDB (DESIGN.md section 3).
 *
 * The state machine applies commands (common/msg.h) in log order and answers reads. Apply
 * is deterministic: a command's effect depends only on the command, its log index and the
 * state before it: no clock (time comes inside commands, stamped by the leader), no
 * randomness, and every iteration is in key order. Two members that applied the same
 * entries hold the same logical database (compare with fsm_snapshot_write: the streams
 * are byte-identical), whatever batches they committed them in.
 *
 * A business outcome (a compare that failed, a missing key, an `add` on a non-integer, an
 * exceeded limit) is a result encoded into the reply, and the entry still counts as
 * applied. fsm_apply fails only on local fatal conditions (the LMDB map is full, I/O
 * error, corruption, out of memory): then the batch must be aborted, which leaves the
 * database and every counter exactly as the last commit left them, and the node must
 * stop applying (its log is intact; an operator grows the map and restarts it).
 *
 * Batches. Entries are applied inside one LMDB write transaction per batch:
 * fsm_batch_begin, any number of fsm_apply, fsm_batch_commit. Results must not be
 * released to clients before the commit returns 0 (reads would not see them yet).
 *
 * Restart. The applied index is written in the same LMDB transaction as the data it
 * covers, so the database is always exactly "every entry up to applied". On restart,
 * raft restores its latest snapshot and re-applies the entries after it. fsm_restore is
 * skipped by the caller when fsm_applied() is already at or past the snapshot's index (the
 * database already contains it), and fsm_apply skips every entry at or below the applied
 * index (returning an empty result). Entries are never applied twice and never missed:
 * raft only truncates its log below a snapshot, and a snapshot is only taken of applied
 * state. With KV_SYNC_NOMETA an OS crash may roll the database back by the last commit;
 * the applied index rolls back with it and raft re-applies those entries from its log,
 * which is durable before anything is applied.
 *
 * Restore from a backup (berth-store restore, store/restore.h). A backup is a snapshot
 * stream taken from a member of another cluster, whose log indexes mean nothing to the
 * new cluster: every member of the new cluster starts from the same file with a fresh
 * raft log (index 1 holds the bootstrap configuration). fsm_reset_log makes the database
 * fit that log, so that the rule above holds again: the applied index becomes 0 (every
 * entry of the new log is applied; keeping the old index would skip the new cluster's
 * first entries) and every session is dropped (a session's id is the index of the entry
 * that opened it: the new log reuses those numbers, and a write retried by a client of
 * the old cluster must not be answered from the old cluster's table; libberth opens a new
 * session on BERTH_ESESSION), and so is the address book of members (store/addrbook.h:
 * the old cluster's ids and addresses must not shadow the new --bootstrap; the new
 * leader records the new members'). Everything else is kept: keys with their revisions and
 * history, the cluster revision, the compaction point, leases (a new leader gives every
 * lease its full TTL plus one election timeout, store/ttl.h) and the clock.
 *
 * Threads: one. Reads open their own read transaction and see the last commit. */
#ifndef BERTH_STORE_FSM_H
#define BERTH_STORE_FSM_H

#include "common/msg.h"
#include "common/mbatch.h"
#include "store/kv.h"

#include <stdbool.h>
#include <stdint.h>

#define FSM_FORMAT 1 /* the database layout; a different one is refused */

/* Limits. Every member must run with the same values: they decide results. */
struct fsm_config {
	size_t max_key_bytes;     /* 1 KiB; at most KV_KEY_HARD_MAX */
	size_t max_value_bytes;   /* 1 MiB */
	uint32_t max_txn_ops;     /* 128: compares, success ops, failure ops, each */
	size_t max_result_bytes;  /* 3 MiB: a range cut here answers more = true */
	uint32_t max_sessions;    /* 65,536 open sessions */
	uint32_t max_leases;      /* 1,048,576 live leases */
	size_t map_bytes;         /* LMDB map size: 64 GiB (address space only) */
	enum kv_sync sync;        /* KV_SYNC_NONE: the raft log is the durable record */
	const char *boot_id_path; /* NULL: the kernel's (store/kvmark.h; tests fake one) */
};

#define FSM_LEASE_MAX_TTL_S 9000000000LL /* etcd's bound */
#define FSM_SESSION_MAX_TTL_MS (7LL * 24 * 3600 * 1000)

struct fsm_meta {
	uint64_t applied;    /* last applied raft index */
	uint64_t rev;        /* cluster revision */
	uint64_t compacted;  /* reads below this revision answer E_COMPACTED */
	uint64_t clock_ms;   /* max of the timestamps of applied commands */
	uint64_t next_lease; /* next id the state machine assigns */
	uint64_t nleases;
	uint64_t nsessions;
};

struct fsm {
	struct kv kv;
	struct fsm_config cfg;
	struct fsm_meta m;     /* working values (include the open batch) */
	struct fsm_meta saved; /* values of the last commit */
	MDB_txn *batch;        /* the open batch, or NULL */
	/* The command being applied. */
	MDB_txn *txn;      /* where writes go: the batch or a child of it */
	uint64_t rev_next; /* revision its changes get */
	uint32_t sub;      /* changes so far at rev_next */
	bool changed;
	uint64_t index;
	char errmsg[256];
};

void fsm_config_default(struct fsm_config *c);
/* 0, or BERTH_EBADREQ naming the bad limit in *why (static text). */
int fsm_config_validate(const struct fsm_config *c, const char **why);

/* Opens the database in directory dir (created if missing). Nothing to close on failure;
 * errmsg says why. BERTH_EBUSY: another process holds the directory. */
int fsm_open(struct fsm *f, const char *dir, const struct fsm_config *cfg);
/* Returns 0, or an error (errmsg) when the final flush failed: see kv_close. */
int fsm_close(struct fsm *f);

int fsm_batch_begin(struct fsm *f);
/* Applies the log entry at `index` (buf: one encoded command, maybe zero-padded) and
 * appends its result (a reply map, common/reply.h) to out. An entry at or below the
 * applied index is skipped and appends nothing. Returns 0 or a fatal error (above). */
int fsm_apply(struct fsm *f, uint64_t index, const uint8_t *buf, size_t n, struct mp_buf *out);
int fsm_batch_commit(struct fsm *f);
void fsm_batch_abort(struct fsm *f);
/* begin + apply + commit, aborting on failure. */
/* The same for an entry that may be a batch (common/mbatch.h): every command applied in
 * order, each with its own revision and reply, all under the one index. ends[i] is
 * out->len after the i-th reply; *nends is how many (1 for a single command; 0 when the
 * entry was skipped as already applied). A malformed batch answers one error result
 * after the replies of the elements before the damage. */
int fsm_apply_entry(struct fsm *f, uint64_t index, const uint8_t *buf, size_t n, struct mp_buf *out,
		    size_t ends[MBATCH_MAX], unsigned *nends);
int fsm_apply_one(struct fsm *f, uint64_t index, const uint8_t *buf, size_t n, struct mp_buf *out);

/* Answers a transaction without writes (gets and ranges, compares allowed) from the last
 * commit, appending a reply map to out. Returns 0 (business errors are in the reply), or
 * a fatal error. A transaction with writes answers BERTH_EBADREQ in the reply. */
int fsm_read(struct fsm *f, const struct msg_txn *t, struct mp_buf *out);

/* Committed values. */
uint64_t fsm_applied(const struct fsm *f);
uint64_t fsm_revision(const struct fsm *f);
uint64_t fsm_compacted(const struct fsm *f);

/* Snapshots: a versioned byte stream of the whole database, consistent while writes go
 * on (it reads one LMDB read transaction). The callback returns 0 or an error that stops
 * the stream. Format in docs/store.md. */
typedef int (*fsm_write_fn)(void *ctx, const void *buf, size_t n);
int fsm_snapshot_write(struct fsm *f, fsm_write_fn write, void *ctx);
/* A snapshot stream produced piece by piece, for a transfer spread over many loop
 * iterations (store/snapsend.h): fsm_snapshot_open begins one LMDB read transaction, so
 * the stream is the state of the last commit at that moment, however long the transfer
 * takes and whatever batches commit meanwhile (an LMDB reader never blocks the writer;
 * pages freed while it lives are not reused until it ends, so the file may grow during a
 * long transfer). *at (may be NULL) gets the meta values of that state.
 * fsm_snapshot_read fills buf with the next bytes, cap of them unless the stream ends:
 * *n == 0 means it has ended. fsm_snapshot_close releases the read transaction; it is
 * needed after an error too, and before the database closes. NULL: no-op. */
struct fsm_snapshot;
int fsm_snapshot_open(struct fsm *f, struct fsm_snapshot **out, struct fsm_meta *at);
int fsm_snapshot_read(struct fsm_snapshot *s, void *buf, size_t cap, size_t *n);
void fsm_snapshot_close(struct fsm_snapshot *s);
/* Replaces the whole database with a snapshot stream, atomically: on any error (bad
 * magic or version, truncation, checksum, bad record, full map) nothing changes. Must not
 * be called with a batch open. */
typedef int (*fsm_read_fn)(void *ctx, void *buf, size_t n); /* exactly n bytes, or error */
int fsm_restore(struct fsm *f, fsm_read_fn read, void *ctx);
/* Convenience for a snapshot held in memory. */
int fsm_restore_buf(struct fsm *f, const uint8_t *buf, size_t n);
/* The applied index recorded in a snapshot held in memory, without restoring it: 0, or
 * BERTH_ECORRUPT when the header or the meta records cannot be read. (The CRC is only
 * checked by a restore.) */
int fsm_snapshot_peek(const uint8_t *buf, size_t n, uint64_t *applied);
/* Reads a whole stream and checks it without a database: magic, version, record framing
 * and sizes, table order, the record count, the CRC and the meta values (each a be64; a
 * format this build reads). Key order inside a table is checked by a restore (which then
 * changes nothing). 0 with info filled; BERTH_ECORRUPT; or the read callback's error.
 * info->bytes counts what was read: a caller holding more bytes than that after a 0 has
 * a file with trailing garbage. */
struct fsm_snapshot_info {
	uint64_t bytes;   /* length of the stream */
	uint64_t records; /* records in it */
	uint64_t format, applied, rev, compacted;
};
int fsm_snapshot_check(fsm_read_fn read, void *ctx, struct fsm_snapshot_info *info);
/* After a restore from a backup, before the first entry of a new cluster's log: applied
 * index 0, no sessions and no member addresses, in one commit (see "Restore from a backup" above). Must not be
 * called with a batch open. 0 or an LMDB failure (nothing changed). */
int fsm_reset_log(struct fsm *f);

/* Leases as the leader's expiry clock needs them: id and TTL of every live lease, in id
 * order. The callback returns 0 to go on. */
typedef int (*fsm_lease_fn)(void *ctx, uint64_t id, int64_t ttl_s);
int fsm_lease_foreach(struct fsm *f, fsm_lease_fn fn, void *ctx);
/* One committed lease: 0 with its TTL, BERTH_ENOTFOUND, or an LMDB failure. */
int fsm_lease_get(struct fsm *f, uint64_t id, int64_t *ttl_s);

/* Internal to store/: reads the meta table into m and checks the database format. */
int fsm_meta_load(struct fsm *f, MDB_txn *txn, struct fsm_meta *m);

#endif
