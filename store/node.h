/* store/node.h: a berth-store member: the state machine, raft over raft_uv (TCP), and the
 * client API server, on one libuv loop.
 *
 * Data directory: DIR/raft holds raft_uv's log segments, snapshots and metadata; DIR/state
 * the LMDB database. Every loop iteration ends in a check handle that commits the open
 * LMDB batch, releases responses (store/server.h) and drops replies nobody claimed.
 *
 * Fatal conditions (the state machine cannot apply; raft_apply fails in a way that
 * leaves raft's log and disk in disagreement, RAFT-NOTES.md) end the process with status
 * 1 after logging: a supervisor restarts it, and restart is always safe (store/fsm.h). */
#ifndef BERTH_STORE_NODE_H
#define BERTH_STORE_NODE_H

#include "common/wire.h"
#include "store/compactor.h"
#include "store/config.h"
#include "store/fsm.h"
#include "store/member.h"
#include "store/rfsm.h"
#include "store/server.h"
#include "store/snapguard.h"
#include "store/ttl.h"
#include "store/watch.h"

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

struct node {
	uv_loop_t *loop;
	struct config cfg;
	struct fsm fsm;
	struct rfsm rfsm;
	struct raft_uv_transport transport;
	struct raft_io io;
	struct snapguard snapguard; /* wraps io: one InstallSnapshot in flight per follower */
	struct raft raft;
	uv_check_t check;
	uv_idle_t kick; /* running while work is pending: the loop must not block */
	uv_signal_t sigterm, sigint;
	struct server srv;
	struct ttl ttl;
	struct compactor compactor;
	struct watch_hub watch;
	struct member member;
	uint64_t applied_seen; /* raft_last_applied at the previous iteration's end */
	bool stopping;
	int exit_code;
	char raft_dir[1100];
	char state_dir[1100];
};

/* Opens the database, starts raft (bootstrapping a new cluster when asked) and the
 * server. Returns 0, or an error after logging why; on error the caller runs the loop
 * until node_closed and exits non-zero. */
int node_start(struct node *n, uv_loop_t *loop, const struct config *cfg);
/* Begins a clean shutdown (also on SIGTERM and SIGINT). */
void node_stop(struct node *n);
/* Logs a fatal condition and exits the process with status 1 (see above). */
void node_fatal(struct node *n, const char *what, int rv);

/* Makes sure the end-of-iteration hook runs again without waiting for I/O: raft_uv
 * fires callbacks from its own prepare and check handles, possibly after this node's
 * hook in the same iteration, and nothing else would wake the loop before the next
 * heartbeat. */
void node_kick(struct node *n);

/* Raft accessors for the server. */
bool node_is_leader(struct node *n);
/* The leader's client address, or NULL when no leader is known or it is this node. */
const char *node_leader_client(struct node *n);
void node_header(struct node *n, struct wire_header *h);

#endif
