/* client/berth.h: libberth, the client library of the berth store (blocking API).
 *
 * Everything talks to the store through this library: berthctl, workers, agents, the
 * harness. docs/protocol.md is the protocol underneath.
 *
 * A handle. berth_open validates the options and copies them; it does not connect. The
 * first call connects to an endpoint, says hello (the cluster token) and then keeps the
 * connection. A handle is not thread-safe: one thread at a time, one call at a time.
 *
 * Finding the leader. Writes and linearizable reads must reach the leader. A follower
 * answers BERTH_ENOTLEADER with the leader's address; the call then reconnects there (at
 * most max_redirects hops per call). When an endpoint cannot be reached the call tries
 * the next; after a round of failures it backs off (50 ms doubling to 1 s, jittered)
 * and tries again. Every call has one deadline, timeout_ms after it starts, that bounds
 * all of this: no call blocks longer (name resolution aside: getaddrinfo has no
 * timeout, so prefer numeric addresses).
 *
 * Exactly-once writes. Before its first write the handle opens a session on the store
 * (SESSION_OPEN, session_ttl_ms) and sends every write (a txn with a put, delete or
 * add; compact; lease grant and revoke) with (session, seq), seq going up by one per
 * write. When a write's outcome is unknown (it was sent and the connection failed, or a
 * node answered BERTH_ETIMEOUT or BERTH_EUNAVAILABLE), the call retries the SAME
 * (session, seq) on the current leader until the deadline: the store applies it at most
 * once and answers a retry with the first answer. If the store no longer knows the
 * session (it expired), a write that was certainly never applied goes again on a new
 * session; one that may have been applied is reported indeterminate.
 *
 * Errors. Every function returns 0 or a BERTH_E* code (common/err.h) and leaves a message
 * with context in berth_errmsg(). The library never logs and never aborts on anything
 * from the network. Each failure is either
 *   - definite: the request certainly did not take effect (BERTH_ENOCONN: nothing was
 *     sent; BERTH_ENOTLEADER, BERTH_EBADREQ, BERTH_EUNAUTHORIZED, BERTH_EPROTO... from a
 *     node; any error of the state machine, e.g. BERTH_ECOMPACTED, BERTH_ETYPE), or
 *   - indeterminate: err_indeterminate(code) is 1 (BERTH_ETIMEOUT: sent, no answer by the
 *     deadline; BERTH_EUNAVAILABLE: the retries ended another way, e.g. the session
 *     expired meanwhile). The write may or may not have been applied.
 * Reads and other requests that change nothing are retried freely until the deadline.
 *
 * Results. A call that got an answer fills a struct berth_result that owns the response
 * frame and its decoded form; free it with berth_result_free. The return code says how
 * the call ended:
 *   0                      the state machine answered (a txn whose compares failed is
 *                          a success: res->resp.reply.succeeded is false);
 *   res->resp.reply.err    the state machine refused the request (definite); the
 *                          response is in res (e.g. the compaction revision);
 *   res->resp.err          a node refused it at the request level (definite);
 *   anything else          no usable answer; has_resp is false.
 * Keys and values in a result borrow from the result: valid until berth_result_free. */
#ifndef BERTH_CLIENT_BERTH_H
#define BERTH_CLIENT_BERTH_H

#include "common/err.h"
#include "common/msg.h"
#include "common/reply.h"
#include "common/wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BERTH_ERRMSG_BYTES 256
#define BERTH_DEFAULT_TIMEOUT_MS 5000
#define BERTH_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define BERTH_DEFAULT_MAX_REDIRECTS 4
#define BERTH_DEFAULT_SESSION_TTL_MS 60000

struct berth;

struct berth_options {
	const char *const *endpoints; /* "host:port", "[v6addr]:port"; at least one */
	size_t nendpoints;
	const char *token;           /* the cluster token (NULL: empty) */
	uint32_t timeout_ms;         /* deadline of each call (0: 5000) */
	uint32_t connect_timeout_ms; /* each connection attempt (0: 1000, or timeout_ms) */
	uint32_t max_redirects;      /* BERTH_ENOTLEADER hops per call (0: 4) */
	uint32_t session_ttl_ms;     /* the session's inactivity timeout (0: 60000) */
	bool no_session;             /* writes without exactly-once: never retried once sent */
	size_t max_frame_bytes;      /* largest response accepted (0: 4 MiB) */
};

struct berth_result {
	int err;            /* the call's return code */
	bool indeterminate; /* err_indeterminate(err) */
	bool has_resp;      /* a response arrived: resp is valid */
	struct wire_resp resp;
	uint8_t *frame; /* owned: the bytes resp borrows from */
	size_t frame_len;
};

/* Creates a handle in *out (close it with berth_close). Copies everything in o. Does not
 * connect. 0; BERTH_EBADREQ for bad options (no endpoints, a malformed endpoint) with a
 * message in errbuf (may be NULL) naming the problem; BERTH_ENOMEM. */
int berth_open(struct berth **out, const struct berth_options *o, char *errbuf, size_t errlen);
/* Closes the connection and frees the handle. The session is left to expire. NULL: no-op. */
void berth_close(struct berth *b);
/* The last failure's message with context; "" after a success. Valid until the next call. */
const char *berth_errmsg(const struct berth *b);
/* The endpoints as configured. */
size_t berth_endpoint_count(const struct berth *b);
const char *berth_endpoint(const struct berth *b, size_t i);

/* Frees what a result owns and zeroes it. Safe on a zeroed or already freed result. */
void berth_result_free(struct berth_result *res);
/* The first key-value of the first operation's result (a get's key), or NULL. */
const struct reply_kv *berth_result_kv(const struct berth_result *res);

/* Every call below overwrites *res (free a previous result first) and returns res->err. */

/* A transaction (common/msg.h). Borrowed for the call only. serializable applies to a
 * transaction without writes (answered by any member, possibly stale). */
int berth_txn(struct berth *b, const struct msg_txn *t, bool serializable,
	      struct berth_result *res);

/* put key = value, attached to lease (0: none). */
int berth_put(struct berth *b, const void *key, size_t klen, const void *value, size_t vlen,
	      uint64_t lease, struct berth_result *res);
/* get key at rev (0: current). A missing key is a success without kvs:
 * berth_result_kv returns NULL. */
int berth_get(struct berth *b, const void *key, size_t klen, uint64_t rev, bool serializable,
	      struct berth_result *res);
/* delete key, or every key starting with it; reply.ops[0].deleted counts them. */
int berth_delete(struct berth *b, const void *key, size_t klen, bool prefix,
		 struct berth_result *res);

struct berth_range {
	const void *key; /* start, or the prefix */
	size_t klen;
	const void *end; /* [key, end); NULL with prefix false: the one key; "\0": to the last */
	size_t elen;
	bool prefix;
	uint64_t limit; /* 0: no limit */
	bool keys_only;
	bool count_only;
	uint64_t rev; /* 0: current */
	bool serializable;
};
int berth_range(struct berth *b, const struct berth_range *r, struct berth_result *res);

/* Compacts the history up to rev. */
int berth_compact(struct berth *b, uint64_t rev, struct berth_result *res);

/* Leases: grant (id 0: the store picks; ttl in seconds), revoke, keepalive. The reply
 * carries id and ttl. */
int berth_lease_grant(struct berth *b, int64_t ttl_s, uint64_t id, struct berth_result *res);
int berth_lease_revoke(struct berth *b, uint64_t id, struct berth_result *res);
int berth_lease_keepalive(struct berth *b, uint64_t id, struct berth_result *res);

/* One node's status (res->resp.status, has_status). endpoint NULL: the node the handle is
 * connected to (connecting to any if none); otherwise that endpoint, on a connection of
 * its own for this call. */
int berth_status(struct berth *b, const char *endpoint, struct berth_result *res);

/* Asks every configured endpoint separately (each within timeout_ms). out has n entries,
 * n == berth_endpoint_count(b); each gets its own result or error. Returns 0 when at least
 * one answered, else BERTH_ENOCONN. Free each out[i].res. */
struct berth_endpoint_status {
	const char *endpoint; /* borrowed from the handle */
	int err;
	char errmsg[BERTH_ERRMSG_BYTES];
	struct berth_result res;
};
int berth_status_all(struct berth *b, struct berth_endpoint_status *out, size_t n);

/* Watches (client/watch.c). A watch streams every change to a key, a prefix or a range
 * after a revision: in revision order, each change once, the changes of one transaction
 * together in one batch. It has a connection of its own to any member (watches need no
 * leader). When that connection fails, or its member has been without a leader for a
 * while (it cancels its watches with BERTH_ENOQUORUM), the watch resumes on the next
 * endpoint from the last revision it delivered: no gap, no duplicate. The handle must
 * outlive its watches; watches and calls on one handle must not run at the same time
 * from different threads (one thread at a time, as for calls). */
struct berth_watch;

struct berth_watch_options {
	const void *key; /* the key, the prefix, or the start of [key, end) */
	size_t klen;
	const void *end; /* NULL with prefix false: the one key; "\0" (elen 1): to the last */
	size_t elen;
	bool prefix;    /* every key starting with key (klen 0: every key) */
	bool keys_only; /* puts without their values */
	uint64_t rev;   /* changes after this revision; 0: after the current one */
};

struct berth_event {
	uint8_t type;       /* MSG_OP_PUT or MSG_OP_DEL */
	struct reply_kv kv; /* a delete: key, and mod_rev the deletion's revision */
};

/* What one berth_watch_next delivers: events of whole revisions, or none (a progress
 * notification: nothing changed up to rev). Free with berth_watch_batch_free. */
struct berth_watch_batch {
	uint64_t rev; /* every change up to rev has now been delivered */
	size_t nevents;
	struct berth_event *events; /* owned; keys and values borrow from frames */
	uint8_t **frames;           /* owned */
	size_t nframes;
};

/* Opens a watch: connects to a member (trying each endpoint within the handle's timeout)
 * and subscribes. 0; BERTH_EBADREQ / BERTH_ETOOLARGE (bad range: definite); BERTH_ENOCONN
 * (no member reachable); BERTH_ENOMEM. Message in berth_errmsg(b). */
int berth_watch_open(struct berth *b, const struct berth_watch_options *o,
		     struct berth_watch **out);
/* Waits up to timeout_ms for the next batch. 0 with *out filled; BERTH_ETIMEOUT: nothing
 * arrived (not a failure: call again); BERTH_ENOCONN: disconnected and no member could be
 * reached in time (the watch tries again at the next call). A watch that ended returns
 * the reason now and at every later call: BERTH_ECOMPACTED (berth_watch_compacted says
 * the compaction revision: re-list and watch again from it), BERTH_EWATCHOVERFLOW (it
 * read too slowly; a new watch from berth_watch_rev continues without a gap). */
int berth_watch_next(struct berth_watch *w, uint32_t timeout_ms, struct berth_watch_batch *out);
void berth_watch_batch_free(struct berth_watch_batch *batch);
/* Every change up to this revision has been delivered: where a new watch would resume. */
uint64_t berth_watch_rev(const struct berth_watch *w);
uint64_t berth_watch_compacted(const struct berth_watch *w);
/* Resumptions so far (reconnections to a member). */
uint64_t berth_watch_resumes(const struct berth_watch *w);
/* Cancels the watch on its member (best effort), closes its connection, frees it. */
void berth_watch_close(struct berth_watch *w);
/* Backups (docs/operations.md, "Back up and restore"). Asks one member for a snapshot of
 * its committed state (any member serves it: the handle's endpoints are tried in turn)
 * and writes it to path: first into path ".part", checking that the chunks follow each
 * other without gap and that the total size and the CRC-32 match the stream's last frame,
 * then fsync, rename to path, and fsync of the directory. A file at path is replaced only
 * by a complete, checked snapshot; on any failure neither path nor path.part is left
 * (an earlier file at path stays). The file is the snapshot stream of docs/store.md, what
 * `berth-store restore` reads.
 *
 * Deadlines: connecting, and then each frame, within timeout_ms: a transfer that makes
 * progress is never cut. A member with every transfer slot taken (BERTH_EBUSY) or out of
 * reach is left for the next; the rounds go on, with a pause, until timeout_ms from the
 * start. A transfer that fails once started is not restarted.
 *
 * 0 with *out filled. Failures are all definite (nothing is saved, nothing changed on
 * the store): BERTH_ENOCONN (no member reachable), BERTH_EBUSY, BERTH_ECLOSED (the
 * connection failed or went silent mid-transfer), BERTH_ECORRUPT (the stream does not add
 * up), BERTH_EIO (the local file), BERTH_EBADREQ (path), or a node's error. */
struct berth_snapshot {
	uint64_t member;  /* the member that served it */
	uint64_t rev;     /* the revision of the state saved */
	uint64_t applied; /* that member's applied raft index for it */
	uint64_t size;    /* bytes */
	uint32_t crc;     /* CRC-32 (zlib's) of the file */
};
int berth_snapshot_save(struct berth *b, const char *path, struct berth_snapshot *out);
/* Membership (client/berth_member.c; docs/protocol.md, docs/operations.md). Each answers
 * with a member's status: res->resp.status lists the configuration (id, raft address,
 * client address, role) and the leader. Ids are 1..MSG_MEMBER_ID_MAX; addresses are
 * "host:port" of at most MSG_MEMBER_ADDR_MAX bytes (else BERTH_EBADREQ, nothing sent).
 * A change is sent once: when its outcome is unknown (BERTH_ETIMEOUT) it is not retried;
 * list the members to see where it stands. One change at a time: BERTH_EBUSY after the
 * deadline means another change kept the leader busy. */

/* The configuration as the leader sees it (serializable: as any member sees it). */
int berth_member_list(struct berth *b, bool serializable, struct berth_result *res);
/* Adds member id (raft address peer, client address client) as a spare, lets it catch
 * up and promotes it to voter; returns once it is a voter, or with nowait once the
 * promotion has started. BERTH_EEXISTS: the id is a voter already, or an address is
 * another member's; BERTH_ETIMEOUT: it did not catch up (it stays a spare; the same call
 * again resumes) or the deadline passed first. */
int berth_member_add(struct berth *b, uint64_t id, const char *peer, const char *client,
		     bool nowait, struct berth_result *res);
/* Removes member id (the leader too: it hands leadership over first). BERTH_ENOTFOUND:
 * no such member. */
int berth_member_remove(struct berth *b, uint64_t id, struct berth_result *res);
/* Moves leadership to voter id (0: the store picks one); returns once another member
 * leads. BERTH_ETIMEOUT: three attempts of an election timeout each ended without one. */
int berth_member_transfer(struct berth *b, uint64_t id, struct berth_result *res);

#endif
