/* client/awatch.c: watches on the asynchronous handle: a WATCH call on the handle's
 * connection, pushed frames routed by (connection, watch id), resumption from the last
 * delivered revision when the connection goes, revisions split over frames joined. */
#include "client/awatch.h"

#include "client/wbatch.h"

#include <stdlib.h>
#include <string.h>

enum awatch_state {
	AWATCH_IDLE,        /* needs a subscription (its timer may be backing off) */
	AWATCH_SUBSCRIBING, /* its WATCH call is under way */
	AWATCH_ACTIVE,      /* subscribed as wid on conn */
	AWATCH_ENDED,       /* ended or closed: freed once its timer and call are done */
};

struct berth_async_watch {
	struct berth_async *a;
	berth_async_watch_cb cb;
	void *data;
	enum awatch_state state;
	uint8_t *keys; /* owned: key then end */
	size_t klen, elen;
	uint8_t flags;
	uint64_t rev; /* everything up to rev delivered */
	bool started; /* the first subscription answered (rev is known) */
	struct aconn *conn;
	uint64_t wid;
	uint32_t idle_ms;
	unsigned round; /* failed subscriptions in a row: the backoff */
	bool calling;   /* a WATCH call holds a pointer to this watch */
	bool timer_closed;
	uv_timer_t timer; /* backoff before subscribing, or the idle deadline when active */
	uint64_t resumes, compacted;
	struct berth_watch_batch part;
	size_t part_bytes;
	struct berth_async_watch *prev, *next; /* in the handle's list */
};

static void awatch_subscribe(struct berth_async_watch *w);

/* Leaves the connection it is subscribed on (a retiring one may close then). */
static void awatch_detach(struct berth_async_watch *w)
{
	struct aconn *conn = w->conn;
	bool active = w->state == AWATCH_ACTIVE;
	w->conn = NULL;
	w->wid = 0;
	if (!active || conn == NULL)
		return;
	conn->nwatches--;
	if (conn->state != ACONN_CLOSING)
		aconn_close_if_idle(conn);
}

static void awatch_free_if_done(struct berth_async_watch *w)
{
	if (w->state != AWATCH_ENDED || w->calling || !w->timer_closed)
		return;
	struct berth_async *a = w->a;
	berth_watch_batch_free(&w->part);
	free(w->keys);
	free(w);
	acall_unref(a);
}

static void awatch_timer_closed(uv_handle_t *h)
{
	struct berth_async_watch *w = h->data;
	w->timer_closed = true;
	awatch_free_if_done(w);
}

/* Takes w off the handle: nothing more is delivered. */
static void awatch_end(struct berth_async_watch *w)
{
	struct berth_async *a = w->a;
	if (w->state == AWATCH_ENDED)
		return;
	awatch_detach(w);
	w->state = AWATCH_ENDED;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		a->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	uv_close((uv_handle_t *)&w->timer, awatch_timer_closed);
}

/* Ends w with err through its callback (it is freed afterwards). */
static void awatch_fail(struct berth_async_watch *w, int err)
{
	awatch_end(w);
	w->cb(w, err, NULL, w->data);
	awatch_free_if_done(w);
}

static void awatch_timer_cb(uv_timer_t *t)
{
	struct berth_async_watch *w = t->data;
	if (w->state == AWATCH_IDLE) {
		awatch_subscribe(w);
	} else if (w->state == AWATCH_ACTIVE && w->conn != NULL) {
		/* Nothing for idle_ms, not even a progress notification: the member is gone
		 * or stuck. Closing the connection moves the handle and resubscribes. */
		aconn_close(w->conn, "watch: nothing arrived in time");
	}
}

/* Back to IDLE: subscribe again after a pause (none for the first try after a loss). */
static void awatch_again(struct berth_async_watch *w, bool pause)
{
	awatch_detach(w);
	w->state = AWATCH_IDLE;
	berth_watch_batch_free(&w->part);
	w->part_bytes = 0;
	uint64_t ms = pause ? policy_backoff_ms(++w->round, &w->a->rng) : 0;
	uv_timer_start(&w->timer, awatch_timer_cb, ms, 0);
}

static void awatch_subscribed(struct berth_result *res, const char *errmsg, void *data)
{
	struct berth_async_watch *w = data;
	struct aconn *conn = w->a->answered_by;
	int err = res->err;
	(void)errmsg;
	w->calling = false;
	if (w->state == AWATCH_ENDED) { /* closed meanwhile; the member drops it with conn */
		awatch_free_if_done(w);
		return;
	}
	if (w->a->closing) { /* awatch_close_all ends it next */
		w->state = AWATCH_IDLE;
		return;
	}
	if (err == 0 && (!res->resp.has_reply || res->resp.reply.id == 0 || conn == NULL))
		err = BERTH_EBADREQ;
	if (err == BERTH_EBADREQ || err == BERTH_ETOOLARGE || err == BERTH_EUNAUTHORIZED ||
	    err == BERTH_EPROTO) {
		awatch_fail(w, err); /* a definite refusal of this watch */
		return;
	}
	if (err != 0) {
		awatch_again(w, true); /* unreachable, busy, timed out: later, maybe elsewhere */
		return;
	}
	w->state = AWATCH_ACTIVE;
	w->conn = conn;
	conn->nwatches++;
	w->wid = res->resp.reply.id;
	w->round = 0;
	if (!w->started)
		w->rev = res->resp.reply.rev;
	else
		w->resumes++;
	w->started = true;
	uv_timer_start(&w->timer, awatch_timer_cb, w->idle_ms, 0);
}

static void awatch_req(const struct berth_async_watch *w, struct msg_req *req)
{
	*req = (struct msg_req){.type = MSG_REQ_WATCH, .rev = w->rev};
	req->watch.type = MSG_OP_RANGE;
	req->watch.flags = w->flags;
	req->watch.key = (struct bytes){w->keys, w->klen};
	req->watch.end = (struct bytes){w->keys + w->klen, w->elen};
}

static void awatch_subscribe(struct berth_async_watch *w)
{
	struct msg_req req;
	awatch_req(w, &req);
	w->state = AWATCH_SUBSCRIBING;
	int rv = acall_submit(w->a, &req, POLICY_ANY, awatch_subscribed, w);
	if (rv == 0) {
		w->calling = true;
		return;
	}
	if (rv == BERTH_EBUSY || rv == BERTH_ENOMEM)
		awatch_again(w, true);
	else
		awatch_fail(w, rv);
}

void awatch_frame(struct berth_async *a, struct aconn *conn, struct proto_resp *pr)
{
	struct berth_async_watch *w = a->watches;
	while (w != NULL &&
	       !(w->state == AWATCH_ACTIVE && w->conn == conn && w->wid == pr->resp.watch.id))
		w = w->next;
	if (w == NULL) {
		proto_resp_free(pr); /* a watch closed or resubscribed elsewhere */
		return;
	}
	struct wire_watch *ww = &pr->resp.watch;
	uv_timer_start(&w->timer, awatch_timer_cb, w->idle_ms, 0);
	if (ww->err != 0) {
		int err = ww->err;
		w->compacted = ww->compacted;
		proto_resp_free(pr);
		if (err == BERTH_ENOQUORUM) { /* a member without a leader: go elsewhere */
			awatch_again(w, true);
			aconn_close(conn, "watch: the member has no leader");
			return;
		}
		awatch_fail(w, err);
		return;
	}
	bool more = ww->more;
	uint64_t rev = ww->rev;
	int rv = wbatch_join(&w->part, &w->part_bytes, pr);
	if (rv != 0) {
		awatch_fail(w, rv);
		return;
	}
	if (more)
		return;
	struct berth_watch_batch batch = w->part;
	memset(&w->part, 0, sizeof(w->part));
	w->part_bytes = 0;
	if (rev > w->rev) /* a lagging member's progress never moves it back */
		w->rev = rev;
	batch.rev = w->rev;
	w->cb(w, 0, &batch, w->data);
	berth_watch_batch_free(&batch);
}

void awatch_conn_down(struct berth_async *a, struct aconn *conn)
{
	for (struct berth_async_watch *w = a->watches; w != NULL; w = w->next)
		if (w->state == AWATCH_ACTIVE && w->conn == conn)
			awatch_again(w,
				     false); /* resubscribes at once: it queues for a connection */
}

void awatch_close_all(struct berth_async *a)
{
	while (a->watches != NULL)
		awatch_fail(a->watches, BERTH_ECLOSED);
}

int berth_async_watch(struct berth_async *a, const struct berth_async_watch_options *o,
		      berth_async_watch_cb cb, void *data, struct berth_async_watch **out)
{
	const struct berth_watch_options *wo = &o->w;
	struct berth_async_watch *w;
	*out = NULL;
	if (a->closing)
		return BERTH_ECLOSED;
	if (cb == NULL || (wo->klen > 0 && wo->key == NULL) || (wo->elen > 0 && wo->end == NULL) ||
	    (wo->prefix && wo->elen > 0) || (wo->klen == 0 && !wo->prefix))
		return BERTH_EBADREQ;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->keys = malloc(wo->klen + wo->elen + 1)) == NULL) {
		free(w);
		return BERTH_ENOMEM;
	}
	w->a = a;
	w->cb = cb;
	w->data = data;
	if (wo->klen > 0)
		memcpy(w->keys, wo->key, wo->klen);
	if (wo->elen > 0)
		memcpy(w->keys + wo->klen, wo->end, wo->elen);
	w->klen = wo->klen;
	w->elen = wo->elen;
	w->flags =
		(uint8_t)((wo->prefix ? MSG_F_PREFIX : 0) | (wo->keys_only ? MSG_F_KEYS_ONLY : 0));
	w->rev = wo->rev;
	w->started = wo->rev != 0;
	w->idle_ms = o->idle_ms ? o->idle_ms : BERTH_ASYNC_WATCH_IDLE_MS;
	uv_timer_init(a->loop, &w->timer);
	w->timer.data = w;
	a->refs++; /* the timer: freed in its close callback */
	w->next = a->watches;
	if (a->watches != NULL)
		a->watches->prev = w;
	a->watches = w;
	struct msg_req req;
	awatch_req(w, &req);
	int rv = acall_submit(a, &req, POLICY_ANY, awatch_subscribed, w);
	if (rv != 0) { /* refused at once: no callback will run */
		awatch_end(w);
		return rv;
	}
	w->state = AWATCH_SUBSCRIBING;
	w->calling = true;
	*out = w;
	return 0;
}

void berth_async_watch_close(struct berth_async_watch *w)
{
	if (w == NULL || w->state == AWATCH_ENDED)
		return;
	awatch_end(w);
	awatch_free_if_done(w);
}

uint64_t berth_async_watch_rev(const struct berth_async_watch *w)
{
	return w->rev;
}

uint64_t berth_async_watch_compacted(const struct berth_async_watch *w)
{
	return w->compacted;
}

uint64_t berth_async_watch_resumes(const struct berth_async_watch *w)
{
	return w->resumes;
}
