/* client/acall.h: the asynchronous handle and its calls: queues, write sessions, the
 * per-call deadline, and what each attempt's outcome leads to, as client/policy.h
 * decides (client/acall.c). Internal to libberth (client/berth_async.h is public).
 *
 * A call's life: submitted (acall_submit) -> a write first takes a session lane, waiting
 * in laneq if every lane is busy -> QUEUED in waitq until the active connection is ready
 * -> SENT on a connection -> its answer, or the connection's loss, or WAIT (back-pressure
 * backoff on its timer) -> QUEUED again ... -> ended once (acall_finish: the callback,
 * then its timer is closed and the call freed in the close callback). The deadline timer
 * runs from submission; when it fires the call ends wherever it is. */
#ifndef BERTH_CLIENT_ACALL_H
#define BERTH_CLIENT_ACALL_H

#include "client/aconn.h"
#include "client/berth_async.h"
#include "client/handle.h"
#include "client/policy.h"

/* A write session: at most one write in flight on it (client/berth_async.h says why). */
struct alane {
	uint64_t session; /* 0: not opened (or expired) */
	uint64_t seq;     /* the last sequence number used */
	bool busy;
};

enum acall_state {
	ACALL_LANE,   /* a write waiting for a free session (laneq) */
	ACALL_QUEUED, /* waiting for a ready connection (waitq) */
	ACALL_SENT,   /* on conn with id, waiting for the answer */
	ACALL_WAIT,   /* backing off on its timer */
	ACALL_IDLE,   /* between two steps, on no list (never across a return to the loop) */
	ACALL_DONE,   /* ended: its timer is closing */
};

struct acall {
	struct berth_async *a;
	berth_async_cb cb;
	void *data;
	enum acall_state state;
	struct policy_call pol;  /* the current phase (the write, or its session open) */
	struct policy_call wpol; /* the write's, while its session opens */
	bool opening;            /* the phase is SESSION_OPEN for its lane */
	struct msg_req req;      /* borrows from reqbuf */
	struct mp_buf reqbuf;    /* owned: the request as given, encoded */
	struct alane *lane;      /* a write's session, while it holds one */
	struct aconn *conn;      /* ACALL_SENT: where, with id */
	uint64_t id;
	uint64_t batch;     /* conn->batches when it was queued: sent once they pass it */
	uint64_t sent_ms;   /* uv_now when sent */
	uint64_t recv_mark; /* conn->reads when sent: nothing arrived since if unchanged */
	uint64_t deadline_ms;
	uv_timer_t timer;
	struct berth_result res;
	char errmsg[BERTH_ERRMSG_BYTES];
	struct acall *prev, *next;   /* in laneq or waitq */
	struct acall *aprev, *anext; /* every live call */
};

struct acall_list {
	struct acall *head, *tail;
};

struct berth_async {
	uv_loop_t *loop;
	struct handle_opts opt;
	uint32_t max_calls;
	struct alane *lanes; /* owned, nlanes */
	uint32_t nlanes;
	uint32_t *free_lanes; /* owned: a stack of free lane indexes */
	uint32_t nfree;
	struct aconn *conn;  /* the active connection (connecting or ready), or NULL */
	struct aconn *conns; /* every connection not yet freed */
	size_t next_ep;
	bool have_hint;
	struct net_endpoint hint;
	bool have_refused; /* refused: a hinted leader not reached since the last answer */
	struct net_endpoint refused;
	struct policy_pace pace; /* connection failures since the last answer */
	uv_timer_t retry;        /* the backoff before the next connection */
	/* Requests gathered during a loop iteration go out at its end, one write per
	 * connection: the check handle (unreferenced: it never keeps a loop alive) flushes,
	 * the idle handle runs only while something waits, so that the loop does not block
	 * in poll first. */
	uv_check_t flush;
	uv_idle_t flush_kick;
	bool backing_off;
	unsigned dialing_held; /* > 0: acall_kick starts no connection */
	uint64_t rng;
	struct acall_list laneq, waitq;
	struct acall *calls; /* every live call */
	size_t ncalls;
	int refs; /* calls and connections not yet freed, the retry timer, the flush handles */
	bool closing;
	berth_async_close_cb close_cb;
	void *close_data;
	char lasterr[BERTH_ERRMSG_BYTES];  /* the last connection failure */
	struct berth_async_watch *watches; /* client/awatch.c */
	struct aconn *answered_by; /* during a call's callback: the connection that answered */
};

/* Takes the request (copies it: encoded into the call's buffer and decoded back) and
 * starts the call. 0, or an error and the callback never runs. */
int acall_submit(struct berth_async *a, const struct msg_req *req, enum policy_kind kind,
		 berth_async_cb cb, void *data);

/* Ends every call with BERTH_ECLOSED (the close path). */
void acall_close_all(struct berth_async *a);

/* From client/aconn.c. */
void acall_ready(struct berth_async *a, struct aconn *conn);
void acall_refused(struct berth_async *a, struct aconn *conn, int err);
void acall_response(struct acall *c, struct proto_resp *pr);
void acall_lost(struct acall *c, struct aconn *conn);
void acall_conn_down(struct berth_async *a, struct aconn *conn, bool was_active);
/* A libuv object of the handle was freed: drops one reference. */
void acall_unref(struct berth_async *a);
/* Connects or sends what waits, as the handle's state allows. */
void acall_kick(struct berth_async *a);

#endif
