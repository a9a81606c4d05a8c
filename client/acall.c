/* client/acall.c: asynchronous calls from submission to their one callback: write
 * sessions, queues, connection choice, deadlines, and client/policy.h's verdicts. */
#include "client/acall.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for id, session and seq that the copy given to acall_submit does not carry yet. */
#define ACALL_ID_ROOM 32

static void acall_errmsg(struct acall *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void acall_errmsg(struct acall *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	handle_verrmsg(c->errmsg, fmt, ap); /* fmt may use c->errmsg itself */
	va_end(ap);
}

static void acall_push(struct acall_list *l, struct acall *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void acall_unlink(struct acall_list *l, struct acall *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static uint64_t acall_now(const struct berth_async *a)
{
	return uv_now(a->loop);
}

static void acall_closed(uv_handle_t *h)
{
	struct acall *c = h->data;
	struct berth_async *a = c->a;
	free(c);
	acall_unref(a);
}

static void acall_lane_take(struct acall *c);

/* Ends c: its callback runs once, then it is freed after its timer closes. indet: the
 * result is indeterminate whatever err says (a write cut off by close). */
static void acall_end(struct acall *c, int err, bool indet)
{
	struct berth_async *a = c->a;

	if (c->state == ACALL_LANE)
		acall_unlink(&a->laneq, c);
	else if (c->state == ACALL_QUEUED)
		acall_unlink(&a->waitq, c);
	else if (c->state == ACALL_SENT)
		aconn_abandon(c->conn, c->id);
	c->state = ACALL_DONE;
	if (c->lane != NULL) {
		c->lane->busy = false;
		a->free_lanes[a->nfree++] = (uint32_t)(c->lane - a->lanes);
		c->lane = NULL;
		if (a->laneq.head != NULL) {
			struct acall *n = a->laneq.head;
			acall_unlink(&a->laneq, n);
			acall_lane_take(n);
		}
	}
	if (c->aprev != NULL)
		c->aprev->anext = c->anext;
	else
		a->calls = c->anext;
	if (c->anext != NULL)
		c->anext->aprev = c->aprev;
	a->ncalls--;
	if (err != 0 && c->res.has_resp && c->res.resp.err != err &&
	    !(c->res.resp.has_reply && c->res.resp.reply.err == err))
		berth_result_free(&c->res); /* not the answer the error comes from */
	c->res.err = err;
	c->res.indeterminate = indet || err_indeterminate(err);
	if (err == 0)
		c->errmsg[0] = '\0';
	uv_timer_stop(&c->timer);
	c->cb(&c->res, c->errmsg, c->data);
	berth_result_free(&c->res);
	msg_req_free(&c->req);
	mp_buf_close(&c->reqbuf);
	uv_close((uv_handle_t *)&c->timer, acall_closed);
	acall_kick(a);
}

/* The call ends without an answer to return. */
static void acall_give_up(struct acall *c, bool refused)
{
	const char *what;
	int err = policy_give_up(&c->pol, refused, &what);
	if (c->state == ACALL_LANE)
		what = "not sent"; /* waited for a session all along: errmsg says so */
	if (what != NULL)
		acall_errmsg(c, "%s (%u ms); last: %s", what, c->a->opt.timeout_ms,
			     c->errmsg[0] ? c->errmsg : c->a->lasterr);
	if (c->opening) {
		err = policy_session_failed(err); /* the write itself was not sent */
		acall_errmsg(c, "open session: %s", c->errmsg);
	}
	acall_end(c, err, false);
}

static void acall_queue(struct acall *c)
{
	c->state = ACALL_QUEUED;
	acall_push(&c->a->waitq, c);
}

/* After a lost attempt or a verdict to go again: queued, unless it must end. */
static void acall_again(struct acall *c)
{
	if (!policy_may_send(&c->pol) || acall_now(c->a) >= c->deadline_ms)
		acall_give_up(c, false);
	else
		acall_queue(c);
}

/* The write's phase ends and its lane's SESSION_OPEN phase begins. */
static void acall_open_session(struct acall *c)
{
	c->wpol = c->pol;
	policy_start(&c->pol, POLICY_READ, false);
	c->opening = true;
	acall_queue(c);
}

/* The write goes (again) with the next sequence number of its lane's session. */
static void acall_lane_begin(struct acall *c)
{
	if (c->lane->session == 0) {
		acall_open_session(c);
		return;
	}
	c->req.session = c->lane->session;
	c->req.seq = ++c->lane->seq;
	acall_queue(c);
}

static void acall_lane_take(struct acall *c)
{
	struct berth_async *a = c->a;
	if (a->nfree == 0) {
		acall_errmsg(c, "every one of the %u sessions busy with an earlier write",
			     a->nlanes);
		c->state = ACALL_LANE;
		acall_push(&a->laneq, c);
		return;
	}
	c->lane = &a->lanes[a->free_lanes[--a->nfree]];
	c->lane->busy = true;
	c->errmsg[0] = '\0'; /* no longer waiting for one */
	acall_lane_begin(c);
}

static void acall_timer(uv_timer_t *t);

int acall_submit(struct berth_async *a, const struct msg_req *req, enum policy_kind kind,
		 berth_async_cb cb, void *data)
{
	struct acall *c;
	int rv;

	if (a->closing)
		return BERTH_ECLOSED;
	if (a->ncalls >= a->max_calls)
		return BERTH_EBUSY;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return BERTH_ENOMEM;
	mp_buf_init(&c->reqbuf);
	msg_req_encode(&c->reqbuf, req);
	if ((rv = mp_buf_error(&c->reqbuf)) != 0)
		goto err;
	size_t cap = a->opt.max_frame_bytes ? a->opt.max_frame_bytes : FRAME_MAX_DEFAULT;
	rv = BERTH_ETOOLARGE;
	if (c->reqbuf.len + ACALL_ID_ROOM > cap)
		goto err;
	if ((rv = msg_req_decode(c->reqbuf.data, c->reqbuf.len, &c->req)) != 0)
		goto err;
	c->a = a;
	c->cb = cb;
	c->data = data;
	uv_timer_init(a->loop, &c->timer);
	c->timer.data = c;
	c->deadline_ms = acall_now(a) + a->opt.timeout_ms;
	uv_timer_start(&c->timer, acall_timer, a->opt.timeout_ms, 0);
	c->anext = a->calls;
	if (a->calls != NULL)
		a->calls->aprev = c;
	a->calls = c;
	a->ncalls++;
	a->refs++;
	policy_start(&c->pol, kind, kind == POLICY_WRITE && !a->opt.no_session);
	if (c->pol.session)
		acall_lane_take(c);
	else
		acall_queue(c);
	acall_kick(a);
	return 0;
err:
	mp_buf_close(&c->reqbuf);
	free(c);
	return rv;
}

static void acall_retry(uv_timer_t *t)
{
	struct berth_async *a = t->data;
	a->backing_off = false;
	acall_kick(a);
}

/* A failed attempt to reach a member through the active connection: the next endpoint
 * (also after a hinted leader: the member that named it may not have noticed its death),
 * and a backoff once a round of them has failed. */
static void acall_pace(struct berth_async *a)
{
	a->next_ep = (a->next_ep + 1) % a->opt.neps;
	if (policy_pace_failed(&a->pace, a->opt.neps) && !a->backing_off) {
		a->backing_off = true;
		uv_timer_start(&a->retry, acall_retry, policy_pace_backoff_ms(&a->pace, &a->rng),
			       0);
	}
}

void acall_kick(struct berth_async *a)
{
	if (a->closing || a->waitq.head == NULL)
		return;
	if (a->conn == NULL) {
		if (a->backing_off || a->dialing_held > 0)
			return;
		bool from_list = !a->have_hint;
		const struct net_endpoint *ep = a->have_hint ? &a->hint : &a->opt.eps[a->next_ep];
		a->have_hint = false;
		if (aconn_start(a, ep, from_list) != 0) {
			snprintf(a->lasterr, sizeof(a->lasterr), "connect: %s",
				 err_text(BERTH_ENOMEM));
			acall_pace(a);
			if (!a->backing_off) { /* a retry later, not a loop now */
				a->backing_off = true;
				uv_timer_start(&a->retry, acall_retry, POLICY_BACKOFF_MIN_MS, 0);
			}
		}
		return;
	}
	struct aconn *conn = a->conn;
	while (conn->state == ACONN_READY && a->conn == conn && a->waitq.head != NULL) {
		struct acall *c = a->waitq.head;
		struct msg_req open = {.type = MSG_REQ_SESSION_OPEN, .ttl = a->opt.session_ttl_ms};
		acall_unlink(&a->waitq, c);
		c->state = ACALL_SENT;
		c->sent_ms = acall_now(a);
		c->recv_mark = conn->reads;
		int rv = aconn_send(conn, c->opening ? &open : &c->req, c);
		if (rv != 0) {
			acall_errmsg(c, "encode request: %s", err_text(rv));
			c->state = ACALL_IDLE; /* not on the connection */
			acall_end(c, rv, c->pol.maybe);
		}
	}
}

void acall_ready(struct berth_async *a, struct aconn *conn)
{
	(void)conn;
	acall_kick(a);
}

void acall_refused(struct berth_async *a, struct aconn *conn, int err)
{
	while (a->waitq.head != NULL) {
		struct acall *c = a->waitq.head;
		c->pol.last = err;
		acall_errmsg(c, "%s", conn->errmsg);
		acall_give_up(c, true);
	}
}

void acall_lost(struct acall *c, struct aconn *conn)
{
	c->conn = NULL;
	c->state = ACALL_IDLE;
	policy_lost(&c->pol, c->batch <= conn->batches);
	acall_errmsg(c, "%s", conn->errmsg[0] ? conn->errmsg : "connection closed");
	acall_again(c);
}

void acall_conn_down(struct berth_async *a, struct aconn *conn, bool was_active)
{
	if (a->closing)
		return;
	if (was_active && !conn->from_list && !conn->connected) {
		a->refused = conn->ep; /* a dead leader its followers still name */
		a->have_refused = true;
	}
	if (was_active)
		acall_pace(a);
	acall_kick(a);
}

/* The answer to a lane's SESSION_OPEN. */
static void acall_opened(struct acall *c, int err)
{
	const struct wire_resp *r = &c->res.resp;
	if (err == 0 && (!r->has_reply || r->reply.id == 0)) {
		err = BERTH_EBADREQ;
		acall_errmsg(c, "open session: no session id in the answer");
	} else if (err != 0) {
		acall_errmsg(c, "open session: %s", err_text(err));
	}
	if (err != 0) {
		berth_result_free(&c->res);
		acall_end(c, err, false);
		return;
	}
	c->lane->session = r->reply.id;
	c->lane->seq = 0;
	berth_result_free(&c->res);
	c->pol = c->wpol;
	c->opening = false;
	acall_lane_begin(c);
}

static void acall_done(struct acall *c, int err)
{
	if (err != 0)
		acall_errmsg(c, "%s", err_text(err));
	else if (c->req.type == MSG_REQ_STATUS && !c->res.resp.has_status) {
		berth_result_free(&c->res);
		acall_errmsg(c, "no status in the answer");
		err = BERTH_EBADREQ;
	}
	acall_end(c, err, false);
}

void acall_response(struct acall *c, struct proto_resp *pr)
{
	struct berth_async *a = c->a;
	struct aconn *conn = c->conn;
	int err;

	berth_result_free(&c->res);
	c->res.frame = pr->frame;
	c->res.frame_len = pr->len;
	c->res.resp = pr->resp;
	c->res.has_resp = true;
	memset(pr, 0, sizeof(*pr));
	c->conn = NULL;
	c->state = ACALL_IDLE;
	if (a->have_refused)
		policy_hint_refused(&c->pol, &a->refused);
	enum policy_verdict v = policy_response(&c->pol, &c->res.resp, a->opt.max_redirects, &err);
	a->answered_by = conn; /* for a watch's subscription (client/awatch.h) */
	const struct wire_resp *r = &c->res.resp;
	if (v != POLICY_DONE)
		acall_errmsg(c, "%s: %s", conn->peer, err_text(r->err ? r->err : r->reply.err));
	if (v != POLICY_DONE && v != POLICY_FAIL)
		berth_result_free(&c->res);
	switch (v) {
	case POLICY_DONE:
		a->pace = (struct policy_pace){0};
		a->have_refused = false;
		if (c->opening)
			acall_opened(c, err);
		else
			acall_done(c, err);
		break;
	case POLICY_RESESSION:
		c->lane->session = 0; /* expired: the write was never applied */
		acall_open_session(c);
		break;
	case POLICY_WAIT: {
		uint32_t ms = policy_backoff_ms(++c->pol.pace.rounds, &a->rng);
		uint64_t now = acall_now(a);
		c->state = ACALL_WAIT;
		if (now + ms > c->deadline_ms)
			ms = (uint32_t)(c->deadline_ms > now ? c->deadline_ms - now : 0);
		uv_timer_start(&c->timer, acall_timer, ms, 0);
		break;
	}
	case POLICY_REDIRECT:
		if (conn == a->conn || a->conn == NULL) {
			a->hint = c->pol.hint;
			a->have_hint = true;
		}
		if (conn == a->conn)
			aconn_retire(conn);
		acall_again(c);
		break;
	case POLICY_NEXT:
		a->pace.alive |= c->pol.pace.alive; /* a member without a leader: electing */
		if (conn == a->conn) {
			acall_pace(a);
			aconn_retire(conn);
		}
		acall_again(c);
		break;
	case POLICY_FAIL:
		acall_give_up(c, true);
		break;
	}
	a->answered_by = NULL;
	acall_kick(a);
}

static void acall_timer(uv_timer_t *t)
{
	struct acall *c = t->data;
	struct berth_async *a = c->a;
	uint64_t now = acall_now(a);

	if (c->state == ACALL_WAIT && now < c->deadline_ms) {
		uv_timer_start(&c->timer, acall_timer, c->deadline_ms - now, 0);
		acall_queue(c);
		acall_kick(a);
		return;
	}
	if (c->state == ACALL_SENT) {
		struct aconn *conn = c->conn;
		bool stalled = conn->reads == c->recv_mark;
		policy_lost(&c->pol, c->batch <= conn->batches);
		acall_errmsg(c, "%s: no answer", conn->peer);
		acall_give_up(c, false);
		if (stalled && conn->state != ACONN_CLOSING) {
			char msg[sizeof(conn->peer) + 64];
			snprintf(msg, sizeof(msg), "%s: nothing received for %u ms", conn->peer,
				 a->opt.timeout_ms);
			aconn_close(conn, msg);
		}
		return;
	}
	acall_give_up(c, false);
}

void acall_close_all(struct berth_async *a)
{
	while (a->calls != NULL) {
		struct acall *c = a->calls;
		bool indet = c->pol.maybe || c->wpol.maybe;
		if (c->state == ACALL_SENT && c->pol.kind == POLICY_WRITE)
			indet |= c->batch <= c->conn->batches;
		acall_errmsg(c, "%s", err_text(BERTH_ECLOSED));
		acall_end(c, BERTH_ECLOSED, indet);
	}
}
