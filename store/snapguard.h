/* store/snapguard.h: one InstallSnapshot in flight per follower.
 *
 * libraft 0.22.1 sends a follower the whole snapshot again on every heartbeat while that
 * follower persists the copy it already has: the follower rejects the heartbeat anchored
 * at the snapshot's index, the leader takes the rejection as a failed install and sends
 * the snapshot again (progress.c, progressMaybeDecrement in the SNAPSHOT state). Each
 * copy is read from disk into memory and queued on the follower's connection, and each
 * copy the follower receives while installing leaks there (docs/known-issues.md). With
 * a 290 MB snapshot a leader was OOM-killed at 23.7 GB.
 *
 * The guard sits between libraft and raft_uv (it wraps the raft_io's send and start
 * methods). It lets one InstallSnapshot through to a follower and refuses the copies
 * that follow (the send fails at once, libraft frees the copy and carries on as after a
 * failed send) until one of:
 *   - the follower acknowledges entries up to the snapshot's index or later (an
 *     AppendEntries result that is not a rejection): it has installed the snapshot;
 *   - the transport reports the send failed (the connection broke: send it again);
 *   - SNAPGUARD_HOLD_MS pass (a follower that restarted mid-install gets a new copy).
 * Each install is logged once, with the number of copies refused. Messages of every
 * other type pass through untouched. */
#ifndef BERTH_STORE_SNAPGUARD_H
#define BERTH_STORE_SNAPGUARD_H

#include <raft.h>
#include <stdint.h>

#define SNAPGUARD_SLOTS 16      /* followers tracked at once (more: not guarded) */
#define SNAPGUARD_HOLD_MS 20000 /* longest time a copy is refused after a send */

struct snapguard_slot {
	raft_id server;    /* 0: free */
	raft_index index;  /* the snapshot's last index */
	uint64_t since_ms; /* when it was let through */
	uint64_t refused;  /* copies refused since */
	bool sending;      /* the transport still holds it */
	struct raft_io_send *req;
	raft_io_send_cb cb;
};

struct snapguard {
	struct raft_io *io;
	int (*send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
		    raft_io_send_cb cb);
	int (*start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		     raft_io_recv_cb recv);
	raft_io_recv_cb recv;
	struct snapguard_slot slot[SNAPGUARD_SLOTS];
	uint64_t sent, refused; /* totals, for the tests and the log */
};

#define SNAPGUARD_MAX 8 /* guarded raft_io instances in one process */

/* Wraps io (initialised by raft_uv_init, not yet given to raft_init). g stays registered
 * for the life of the process (raft_uv may complete sends after raft_uv_close). Returns
 * 0, or BERTH_EBUSY when SNAPGUARD_MAX ios are guarded already (io untouched). */
int snapguard_install(struct snapguard *g, struct raft_io *io);

#endif
