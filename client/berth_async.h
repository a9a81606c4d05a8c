/* client/berth_async.h: libberth's asynchronous API, on the caller's libuv loop.
 *
 * For programs that run one libuv loop and keep many calls in flight (scheduler workers,
 * agents, benchmarks). The protocol, the options, the results and the retry policy are
 * the blocking API's (client/berth.h, client/policy.h): read its header comment first;
 * this one says what differs.
 *
 * A handle. berth_async_open binds a handle to a uv_loop_t and copies the options; it
 * does not connect. The first call connects to an endpoint and says hello; every call
 * then goes, pipelined, over that one connection (to the leader once one is found), and
 * their answers may come back in any order. Everything runs on the loop's thread: the
 * handle is not thread-safe, and callbacks run from uv_run, never from inside a call
 * function (only berth_async_close runs callbacks before it returns: see Close). While
 * open, the handle's connection keeps the loop alive. libuv writes with write(2), so a
 * member closing a connection raises SIGPIPE: berth_async_open sets SIGPIPE to SIG_IGN
 * when its disposition is the default (a program that handles SIGPIPE itself keeps its
 * handler; it must not let it end the process).
 *
 * Calls. Each call function returns 0 and later runs its callback exactly once, or
 * returns an error at once (BERTH_EBADREQ, BERTH_ETOOLARGE, BERTH_ENOMEM, BERTH_EBUSY
 * with more than max_calls calls pending, BERTH_ECLOSED after close) and never runs it.
 * What a call borrows (keys, values, the txn) is copied before it returns.
 *
 * Leader discovery, redirects, failover, backoff and deadlines are the blocking API's:
 * a follower's BERTH_ENOTLEADER moves the handle to the leader it names (the old
 * connection is closed once the calls on it have their answers), a failed connection
 * moves it to the next endpoint, a round of failures backs off (50 ms doubling to 1 s,
 * jittered), and each call has its own deadline, timeout_ms after it was made (a uv
 * timer). A call whose connection fails is sent again on the next one until its
 * deadline. A connection on which a call reaches its deadline without anything
 * arriving since the call was sent is considered dead and closed.
 *
 * Exactly-once writes. A store session remembers only its latest sequence number and
 * reply (store/session.h), so two writes of one session in flight at once could not
 * both be retried safely: the later one applied makes the earlier one's retry stale. The
 * handle therefore keeps up to `sessions` sessions, each with at most one write in
 * flight: a write takes a free session (opening it lazily, on first use, with
 * SESSION_OPEN), is sent with (session, seq + 1) and keeps that pair on every retry
 * until it ends; only then may the session carry the next write. Writes beyond
 * `sessions` wait (within their own deadline) for one to be free. Why each write is
 * applied at most once: its retries are all of the latest sequence of its session, which
 * the store applies once and then answers from the stored reply; and once it has ended,
 * a late copy of it is older than the session's next write and refused (BERTH_ESTALESEQ)
 * if that one was applied first. An expired session is the blocking API's case: a write
 * certainly never applied goes again on a new session, one that may have been is
 * reported BERTH_EUNAVAILABLE.
 *
 * Results. The callback gets the same struct berth_result as the blocking call (err,
 * indeterminate, the response) and a message with context ("" after a success). Both
 * belong to the library and are freed when the callback returns: to keep the result,
 * copy *res and zero *res (then berth_result_free the copy later). Every failure is
 * definite or indeterminate exactly as in the blocking API.
 *
 * Close. berth_async_close fails every pending call through its callback with
 * BERTH_ECLOSED (res->indeterminate set for a write that may have been applied: it was
 * sent and has no answer), closes the connections and timers and frees the handle after
 * libuv's close callbacks, then runs close_cb. */
#ifndef BERTH_CLIENT_BERTH_ASYNC_H
#define BERTH_CLIENT_BERTH_ASYNC_H

#include "client/berth.h"

#include <uv.h>

#define BERTH_ASYNC_DEFAULT_SESSIONS 64
#define BERTH_ASYNC_MAX_SESSIONS 4096
#define BERTH_ASYNC_DEFAULT_MAX_CALLS 65536
#define BERTH_ASYNC_MAX_MAX_CALLS (1u << 24)

struct berth_async;

/* What the asynchronous handle adds to struct berth_options. */
struct berth_async_limits {
	uint32_t sessions;  /* writes in flight at once, one session each (0: 64; <= 4096) */
	uint32_t max_calls; /* calls pending at once before BERTH_EBUSY (0: 65536; <= 2^24) */
};

/* A call's end. res and errmsg are valid during the callback only (see Results). */
typedef void (*berth_async_cb)(struct berth_result *res, const char *errmsg, void *data);
typedef void (*berth_async_close_cb)(void *data);

/* Creates a handle on loop in *out. Copies o and lim (lim NULL: the defaults). Does not
 * connect. 0; BERTH_EBADREQ for bad options (as berth_open, and limits out of range)
 * with a message in errbuf (may be NULL); BERTH_ENOMEM. */
int berth_async_open(struct berth_async **out, uv_loop_t *loop, const struct berth_options *o,
		     const struct berth_async_limits *lim, char *errbuf, size_t errlen);
/* Fails every pending call (BERTH_ECLOSED), closes everything and frees the handle once
 * libuv has closed its handles; then close_cb(data) (may be NULL). The handle must not
 * be used after this returns; callbacks run from here see BERTH_ECLOSED for new calls. */
void berth_async_close(struct berth_async *a, berth_async_close_cb close_cb, void *data);
/* Calls made and not yet ended. */
size_t berth_async_pending(const struct berth_async *a);

/* The calls: as their blocking counterparts in client/berth.h. */
int berth_async_txn(struct berth_async *a, const struct msg_txn *t, bool serializable,
		    berth_async_cb cb, void *data);
int berth_async_put(struct berth_async *a, const void *key, size_t klen, const void *value,
		    size_t vlen, uint64_t lease, berth_async_cb cb, void *data);
int berth_async_get(struct berth_async *a, const void *key, size_t klen, uint64_t rev,
		    bool serializable, berth_async_cb cb, void *data);
int berth_async_delete(struct berth_async *a, const void *key, size_t klen, bool prefix,
		       berth_async_cb cb, void *data);
/* add delta to the integer at key (missing: 0), exactly once. */
int berth_async_add(struct berth_async *a, const void *key, size_t klen, int64_t delta,
		    berth_async_cb cb, void *data);
int berth_async_range(struct berth_async *a, const struct berth_range *r, berth_async_cb cb,
		      void *data);
int berth_async_compact(struct berth_async *a, uint64_t rev, berth_async_cb cb, void *data);
int berth_async_lease_grant(struct berth_async *a, int64_t ttl_s, uint64_t id, berth_async_cb cb,
			    void *data);
int berth_async_lease_revoke(struct berth_async *a, uint64_t id, berth_async_cb cb, void *data);
int berth_async_lease_keepalive(struct berth_async *a, uint64_t id, berth_async_cb cb, void *data);
/* The status of the member the handle is connected to (any member: connecting to one if
 * none); res->resp.status. */
int berth_async_status(struct berth_async *a, berth_async_cb cb, void *data);

/* Watches (client/awatch.c): the blocking API's watches (client/berth.h) on the loop.
 * A watch subscribes through the handle's connection (any member serves it) and its
 * events come pushed on that connection; when the connection fails, closes or stays
 * silent for idle_ms (not even a progress notification), or its member has lost the
 * leader (BERTH_ENOQUORUM), the watch subscribes again from the last revision it
 * delivered, on the handle's next connection: no gap, no duplicate, and the callback
 * does not hear of it. idle_ms must exceed the members' --watch-progress-ms (1 s).
 *
 * The callback runs from uv_run with err 0 and a batch (events of whole revisions, or
 * none: a progress notification; everything up to batch->rev delivered), valid during
 * the callback only (to keep it, copy *batch and zero it, then berth_watch_batch_free the
 * copy later); or once with err != 0 and no batch when the watch has ended, after which
 * it is freed: BERTH_ECOMPACTED (berth_async_watch_compacted says to where, but only
 * inside this callback), BERTH_EWATCHOVERFLOW, BERTH_EBADREQ / BERTH_ETOOLARGE (refused),
 * BERTH_ECLOSED (the handle closed). Unreachable members are retried with the handle's
 * backoff for ever: a watch does not give up. */
#define BERTH_ASYNC_WATCH_IDLE_MS 10000

struct berth_async_watch;

struct berth_async_watch_options {
	struct berth_watch_options w; /* what to watch and from where (client/berth.h) */
	uint32_t idle_ms;             /* silence that ends a connection (0: 10000) */
};

typedef void (*berth_async_watch_cb)(struct berth_async_watch *w, int err,
				     struct berth_watch_batch *batch, void *data);

/* Starts a watch (*out). 0; BERTH_EBADREQ (bad range), BERTH_ENOMEM, BERTH_EBUSY (too
 * many calls pending), BERTH_ECLOSED: then the callback never runs. */
int berth_async_watch(struct berth_async *a, const struct berth_async_watch_options *o,
		      berth_async_watch_cb cb, void *data, struct berth_async_watch **out);
/* Stops a watch that has not ended: no callback runs for it afterwards. Safe from its
 * own callback (with err 0). */
void berth_async_watch_close(struct berth_async_watch *w);
/* Every change up to this revision has been delivered. */
uint64_t berth_async_watch_rev(const struct berth_async_watch *w);
uint64_t berth_async_watch_compacted(const struct berth_async_watch *w);
/* Subscriptions after the first (resumptions). */
uint64_t berth_async_watch_resumes(const struct berth_async_watch *w);

#endif
