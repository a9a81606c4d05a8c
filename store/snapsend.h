/* store/snapsend.h: serving MSG_REQ_SNAPSHOT, the backup stream: a member sends its
 * committed state to a client as chunk frames and a final frame (common/wire.h).
 *
 * Any member serves it, from one LMDB read transaction (fsm_snapshot_open) held for the
 * whole transfer: the stream is the state of the member's last commit when the request
 * arrived, and batches go on committing meanwhile (an LMDB reader never blocks the
 * writer). The final frame carries the stream's length, its CRC-32, and the revision and
 * applied index of that state.
 *
 * Flow control: at most SNAPSEND_WINDOW frames of at most SNAPSEND_CHUNK bytes per
 * transfer are handed to libuv at a time; the next chunk is produced when one has been
 * written, so a transfer costs the loop one chunk's copy and CRC at a time, never the
 * whole state, and its unsent bytes stay bounded whatever the client does.
 *
 * Limits: at most cfg.max_snapshot_sends transfers hold a read transaction at once on a
 * member; a request beyond that is answered BERTH_EBUSY and starts nothing. A transfer
 * whose client takes no chunk for cfg.snapshot_idle_ms is cut: its connection is closed.
 *
 * Lifetimes: the read transaction is released as soon as a transfer ends, however it
 * ends (the last byte written to libuv, the client gone, cut, the member stopping, an
 * LMDB failure, which ends the stream with a BERTH_EIO frame). The struct itself lives
 * until libuv has called back every write it made. */
#ifndef BERTH_STORE_SNAPSEND_H
#define BERTH_STORE_SNAPSEND_H

#include <stdint.h>

#define SNAPSEND_CHUNK ((size_t)1 << 20)
#define SNAPSEND_WINDOW 2

struct node;
struct conn;

/* Starts a transfer for request id on connection c, or answers it BERTH_EBUSY (too many)
 * or BERTH_ENOMEM / BERTH_EIO (nothing could be started). */
void snapsend_start(struct node *n, struct conn *c, uint64_t id);
/* Connection c is closing: ends its transfers and releases their read transactions. */
void snapsend_conn_gone(struct node *n, struct conn *c);
/* Once per loop iteration: cuts transfers that made no progress for snapshot_idle_ms. */
void snapsend_tick(struct node *n);

#endif
