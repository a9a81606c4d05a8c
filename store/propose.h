/* store/propose.h: how the leader's server turns requests into raft entries.
 *
 * A client's transaction with writes is not proposed at once: it joins this loop
 * iteration's batch, and at the iteration's end (propose_flush, from server_iteration)
 * the batch goes to raft as one entry (common/mbatch.h), or as a plain command entry when
 * it holds one. Every command keeps its own revision, reply and exactly-once session
 * record; what the batch saves is raft's per-entry work on every member (an entry, a
 * disk write, an AppendEntries and its result, an apply) and the leader's per-entry
 * callbacks. A batch also closes when it holds MBATCH_MAX commands or
 * MBATCH_SOFT_BYTES. The loop reaches its end right after reading the requests, so a
 * lone write waits for nothing.
 *
 * Everything else (leases, sessions, members, the node's own proposals) is proposed at
 * once, after the open batch is flushed, so the log keeps the order requests arrived in.
 *
 * Answers: BERTH_ENOTLEADER off the leader (also when leadership is lost before the
 * flush), BERTH_EBUSY when max_pending proposals are in flight or queued,
 * BERTH_EUNAVAILABLE when raft gives up on the entry (its outcome unknown). A reply is
 * released once its LMDB batch has committed (server_iteration). */
#ifndef BERTH_STORE_PROPOSE_H
#define BERTH_STORE_PROPOSE_H

#include "common/msg.h"

struct node;
struct pending;

/* Proposes cmd for p (answered through the server in every case). */
void propose_cmd(struct node *n, struct pending *p, const struct msg_cmd *cmd);
/* Sends the open batch to raft, if any. */
void propose_flush(struct node *n);
/* Frees the open batch's requests unanswered (shutdown: nobody is left to answer). */
void propose_drain(struct node *n);

#endif
