/* client/policy.h: libberth's retry policy without I/O, shared by the blocking calls
 * (client/call.c) and the libuv ones (client/acall.c).
 *
 * One struct policy_call follows one request across its attempts. The transport reports
 * what happened (a response arrived, the connection failed after some bytes left, a
 * connection attempt failed) and the policy says what to do next and, when the call
 * ends without an answer, which error it ends with: definite or indeterminate as
 * client/berth.h documents. The transport owns the clock, the sockets and the sleeping;
 * the policy owns the decisions, so both APIs decide identically:
 *
 *	response      -> policy_response: DONE, RESESSION, REDIRECT, NEXT, WAIT or FAIL
 *	lost after send -> policy_lost (records that the request may have been applied)
 *	connect failed -> policy_pace_failed (a round of failures: back off for
 *	                  policy_pace_backoff_ms); a hint's: policy_hint_refused too
 *	deadline / FAIL -> policy_give_up
 *
 * Writes sent with a session keep their (session, seq) across every attempt: the store
 * applies a sequence at most once per session and answers a retry with the first reply
 * (store/session.h). A session only remembers its latest sequence, so at most one write
 * per session may be unresolved at a time; the asynchronous API keeps one session per
 * write in flight for that reason (client/acall.h). */
#ifndef BERTH_CLIENT_POLICY_H
#define BERTH_CLIENT_POLICY_H

#include "client/net.h"
#include "common/wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_BACKOFF_MIN_MS 50
#define POLICY_BACKOFF_MAX_MS 1000
/* The longest backoff after a round in which a member answered but knew no leader: the
 * cluster is alive and electing one, so the client asks again soon (an election takes
 * about one election timeout, 400-800 ms by default) rather than after up to a second. */
#define POLICY_NOLEADER_BACKOFF_MAX_MS 100

enum policy_kind {
	POLICY_READ,  /* changes nothing: retried freely; must reach the leader */
	POLICY_ANY,   /* changes nothing and any member may answer (serializable, status) */
	POLICY_WRITE, /* goes through the log: sent with (session, seq), retried as the same */
	POLICY_ONCE,  /* changes something without a session (membership): never sent again once
			 it may have reached a node; a definite refusal (a redirect) may go again */
};

enum policy_verdict {
	POLICY_DONE,      /* the call ends with *err and the response (the answer) */
	POLICY_RESESSION, /* the write's session expired and the write was never applied:
			     open a new session, send it again with the new (session, seq) */
	POLICY_REDIRECT,  /* reconnect to p->hint, the leader a follower named */
	POLICY_NEXT,      /* drop this connection, try the next endpoint */
	POLICY_WAIT,      /* back-pressure (BUSY, NOQUORUM): back off, then send again */
	POLICY_FAIL,      /* give up now: policy_give_up(p, true) */
};

/* Consecutive failed attempts and the backoff rounds they make. */
struct policy_pace {
	unsigned fails;  /* failed attempts since the last backoff */
	unsigned rounds; /* backoffs so far */
	bool alive;      /* a member answered in this round, without a leader to name */
};

struct policy_call {
	enum policy_kind kind;
	bool session;   /* a write carrying (session, seq): may be sent again */
	bool sent;      /* some attempt's bytes left this process */
	bool maybe;     /* some attempt of a write may have been applied */
	bool have_hint; /* hint holds the leader to connect to next */
	bool have_refused;
	unsigned redirects;
	int last; /* the last definite refusal from a node, or 0 */
	struct policy_pace pace;
	struct net_endpoint hint;
	struct net_endpoint refused; /* a hinted leader that could not be reached */
};

/* Starts p for a request of that kind; session: a write carrying (session, seq). */
void policy_start(struct policy_call *p, enum policy_kind kind, bool session);

/* A response r arrived for the request. Sets *err for DONE (0, or the state machine's
 * refusal: the response is the answer either way). REDIRECT has filled p->hint and
 * counted a redirect (at most max_redirects; never to the endpoint policy_hint_refused
 * recorded: followers keep naming a dead leader until their election timer fires). NEXT,
 * WAIT and FAIL have recorded the node's refusal in p->last or, for an indeterminate one,
 * p->maybe; a NEXT for BERTH_ENOTLEADER has marked p->pace alive. */
enum policy_verdict policy_response(struct policy_call *p, const struct wire_resp *r,
				    uint32_t max_redirects, int *err);

/* The connection failed (or the response was malformed, or the attempt's deadline
 * passed) after sent bytes of the request had been written: 0 or more. */
void policy_lost(struct policy_call *p, bool sent);

/* May the request be sent (again)? Not a write without a session once it may have been
 * applied: nothing would stop it being applied twice. */
bool policy_may_send(const struct policy_call *p);

/* The connection to ep, a leader some member named, failed: later hints naming it are
 * not followed in this call (the next endpoint of the list is tried instead). */
void policy_hint_refused(struct policy_call *p, const struct net_endpoint *ep);

/* One failed attempt (connect, or an attempt that ended in NEXT) out of a round of
 * nendpoints: true when the round is complete and the caller must back off for
 * policy_pace_backoff_ms(pace, rng) before the next one. */
bool policy_pace_failed(struct policy_pace *pace, size_t nendpoints);

/* The backoff before the next round: policy_backoff_ms(pace->rounds), at most
 * POLICY_NOLEADER_BACKOFF_MAX_MS when pace->alive (a member answered in the round that
 * ended, without a leader: an election is under way). Clears pace->alive. */
uint32_t policy_pace_backoff_ms(struct policy_pace *pace, uint64_t *rng);

/* The jittered backoff before round `round` (1, 2...): 50 ms doubling to 1 s, between
 * half and all of it. rng: the caller's generator state (non-zero). */
uint32_t policy_backoff_ms(unsigned round, uint64_t *rng);
/* xorshift64 over *rng (non-zero): jitter only. */
uint32_t policy_rand(uint64_t *rng);

/* The call ends without an answer to return (the deadline passed, or FAIL). Returns the
 * error and sets *what to the reason for the message (NULL when p->last is returned):
 * - a write that may have been applied: indeterminate (BERTH_EUNAVAILABLE when a node
 *   refused the retry, e.g. its session expired, refused true; BERTH_ETIMEOUT otherwise);
 * - a node's definite refusal: that code;
 * - sent, no answer: BERTH_ETIMEOUT (indeterminate);
 * - never sent: BERTH_ENOCONN (definite). */
int policy_give_up(const struct policy_call *p, bool refused, const char **what);

/* A hello refused with err: BERTH_EUNAUTHORIZED and BERTH_EPROTO are definite refusals
 * of every call; anything else means "try another member" (BERTH_ENOCONN). */
int policy_hello_refused(int err);

/* The error a write reports when opening its session failed with err: the write itself
 * was not sent, so an indeterminate failure of the open is BERTH_ENOCONN. */
int policy_session_failed(int err);

#endif
