/* store/server.h: berth-store's client API server (docs/protocol.md).
 *
 * One libuv loop. Connections speak frames (common/frame.h); the first must be a hello.
 * Writes are proposed to raft on the leader; a write's response is sent only once the
 * LMDB batch holding it has committed (store/rfsm.h). Linearizable reads wait for a raft
 * barrier, one barrier for every read queued before it was appended, then read committed
 * state; serializable reads are answered at once by any member. A follower answers
 * requests that need the leader with BERTH_ENOTLEADER and the leader's client address.
 *
 * Lifetimes: a connection owns its pending requests' link; when it closes, its pending
 * requests stay alive (raft still holds their apply requests) and their responses are
 * dropped. A request struct is freed after its raft callback and its response. */
#ifndef BERTH_STORE_SERVER_H
#define BERTH_STORE_SERVER_H

#include "common/frame.h"
#include "common/mp.h"
#include "common/msg.h"
#include "common/wire.h"

#include <raft.h>
#include <stdbool.h>
#include <uv.h>

struct node;
struct conn;

struct pending {
	struct conn *conn; /* NULL once the connection is gone */
	struct node *node;
	uint64_t id;
	struct raft_apply apply;
	uint8_t *reply; /* owned: encoded reply map, once applied */
	size_t reply_len;
	uint64_t batch;
	uint8_t *frame; /* owned copy of a read's request frame (msg_req borrows from it) */
	struct msg_req req;
	void (*done)(struct node *n); /* a proposal of the node's own: called when it ends */
	struct pending *next;         /* in one of the server's queues */
	struct pending *cnext;        /* in its connection's list */
	struct pending **cprevp;      /* link pointing at this one in the connection's list */
};

struct server {
	uv_tcp_t listener;
	bool listening;
	struct conn *conns;
	unsigned nconns;
	unsigned inflight;           /* proposals raft has not called back */
	struct pending *commit_wait; /* applied writes waiting for their batch to commit */
	struct pending *reads_next;  /* linearizable reads waiting for the next barrier */
	struct pending *reads_cur;   /* ... covered by the barrier in flight */
	unsigned reads_waiting;      /* in both read queues; at most max_pending */
	struct raft_barrier barrier;
	bool barrier_inflight;
	uint64_t ready_term; /* term whose first barrier completed: reads may be served */
	uint64_t responses;
	/* This iteration's batch of writes (store/propose.h): requests linked through next,
	 * in arrival order, and the entry being built. */
	struct pending *qhead, **qtail;
	unsigned qn;
	struct mp_buf qbuf;
	uint64_t batches, batched; /* batch entries proposed, and the requests they held */
	struct conn *gathered;     /* connections with responses gathered this iteration */
	struct snapsend *sends;    /* backup transfers (store/snapsend.h) */
	unsigned nsends;           /* ... holding a read transaction */
};

/* Starts listening on the configured client address. 0 or an error (logged). */
int server_start(struct node *n);
/* Stops accepting and closes every connection (asynchronously). */
void server_stop(struct node *n);
/* After raft has closed: frees every request still queued (nobody is left to answer).
 * Must run before the state machine closes. */
void server_drain(struct node *n);
/* Once per loop iteration, after the batch was flushed: release what can be released. */
void server_iteration(struct node *n);
/* The iteration's very end: writes every connection's gathered responses, one write per
 * connection (responses are gathered, in order, as they are answered). */
void server_flush_output(struct node *n);
/* Answers p (when its connection is still there) with its reply (err 0) or err, and
 * frees it; frees p unanswered. For store/propose.c. */
void server_finish(struct pending *p, int err);
void server_pending_free(struct pending *p);
/* Answers p (when its connection is still there) with err, or with the status st when
 * err is 0 (st may be NULL), and frees it. For requests handled outside this file. */
void server_answer(struct pending *p, int err, const struct wire_status *st);
/* Proposes a command of the node's own (no client waits for it: a lease expiry, a
 * compaction); done is called once it ends, however it ends. 0 or BERTH_ENOMEM (then
 * done is not called). */
int server_propose_internal(struct node *n, const struct msg_cmd *cmd,
			    void (*done)(struct node *n));

/* For store/watch.c: a connection's watch list, the bytes queued on it and not yet
 * written, and pushing one frame: b holds 4 bytes reserved for the frame header, then one
 * msgpack map; the server takes b's memory (b is left empty). */
struct watcher **server_conn_watchers(struct conn *c);
size_t server_conn_unsent(struct conn *c);
void server_conn_push(struct conn *c, struct mp_buf *b);
/* Connections, for store/snapsend.c. server_conn_write queues one whole frame (header
 * included); data's ownership moves in every case. done (may be NULL) is called once
 * libuv has written it or given up (status < 0; also when the connection closes first).
 * 0, or BERTH_ECLOSED / BERTH_ENOMEM (then done is not called). */
int server_conn_write(struct conn *c, uint8_t *data, size_t len,
		      void (*done)(void *arg, int status), void *arg);
/* Answers request id with a request-level error. */
void server_conn_error(struct conn *c, uint64_t id, int err);
/* Closes c now (requests in flight live on, their answers dropped). */
void server_conn_drop(struct conn *c);
const char *server_conn_peer(const struct conn *c);

#endif
