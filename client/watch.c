/* client/watch.c: blocking watches: a connection of their own, resumption from the last
 * delivered revision on another member, and reassembly of revisions split over frames. */
#include "client/berth.h"

#include "client/call.h"
#include "client/policy.h"
#include "client/wbatch.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct berth_watch {
	struct berth *b;
	struct call_conn conn;
	uint8_t *keys; /* owned: key then end */
	size_t klen, elen;
	uint8_t flags;
	uint64_t rev; /* everything up to rev delivered */
	uint64_t wid; /* the member's id for this watch; 0: not subscribed */
	size_t ep;    /* endpoint of the current or next connection */
	size_t rlen;  /* unfed bytes at conn.rbuf + roff */
	size_t roff;
	int ended; /* 0, or why the watch ended */
	uint64_t compacted;
	uint64_t resumes;
	struct berth_watch_batch part; /* a revision arriving in several frames */
	size_t part_bytes;
};

void berth_watch_batch_free(struct berth_watch_batch *batch)
{
	for (size_t i = 0; i < batch->nframes; i++)
		free(batch->frames[i]);
	free(batch->frames);
	free(batch->events);
	memset(batch, 0, sizeof(*batch));
}

uint64_t berth_watch_rev(const struct berth_watch *w)
{
	return w->rev;
}

uint64_t berth_watch_compacted(const struct berth_watch *w)
{
	return w->compacted;
}

uint64_t berth_watch_resumes(const struct berth_watch *w)
{
	return w->resumes;
}

/* Drops the connection and whatever part of a revision arrived on it. */
static void watch_drop(struct berth_watch *w)
{
	if (w->conn.fd >= 0)
		close(w->conn.fd);
	w->conn.fd = -1;
	proto_reset(&w->conn.proto);
	w->rlen = w->roff = 0;
	w->wid = 0;
	berth_watch_batch_free(&w->part);
	w->part_bytes = 0;
}

/* The next frame on the connection, reading until the deadline. 0 with *pr; BERTH_ETIMEOUT;
 * BERTH_ECLOSED (connection lost or a malformed frame: dropped). */
static int watch_frame(struct berth_watch *w, uint64_t deadline_ms, struct proto_resp *pr)
{
	struct berth *b = w->b;
	struct call_conn *c = &w->conn;
	for (;;) {
		while (w->rlen > 0) {
			size_t used;
			int rv = proto_feed(&c->proto, c->rbuf + w->roff, w->rlen, &used);
			w->roff += used;
			w->rlen -= used;
			if (rv == 0 && (rv = proto_next(&c->proto, pr)) == 0)
				return 0;
			if (rv != BERTH_ENOTFOUND) {
				call_errmsg(b, "%s: malformed frame: %s", c->peer, err_text(rv));
				watch_drop(w);
				return BERTH_ECLOSED;
			}
		}
		int rv = proto_next(&c->proto, pr); /* a frame completed by earlier bytes */
		if (rv == 0)
			return 0;
		w->roff = 0;
		rv = net_recv(c->fd, c->rbuf, CALL_READ_BYTES, deadline_ms, &w->rlen, b->errmsg,
			      sizeof(b->errmsg));
		if (rv == BERTH_ETIMEOUT)
			return rv;
		if (rv != 0) {
			watch_drop(w);
			return BERTH_ECLOSED;
		}
	}
}

/* Connects to endpoint w->ep and subscribes from w->rev. 0; a definite refusal of the
 * request (BERTH_EBADREQ, BERTH_ETOOLARGE, BERTH_EUNAUTHORIZED...) or BERTH_ENOCONN /
 * BERTH_ETIMEOUT (try elsewhere). */
static int watch_subscribe(struct berth_watch *w, bool first, uint64_t deadline_ms)
{
	struct berth *b = w->b;
	struct call_conn *c = &w->conn;
	struct msg_req req = {.type = MSG_REQ_WATCH, .rev = w->rev};
	struct proto_resp pr;
	size_t sent;
	int rv;

	watch_drop(w);
	if ((rv = call_conn_open(b, c, &b->opt.eps[w->ep], deadline_ms)) != 0)
		return rv;
	req.watch.type = MSG_OP_RANGE;
	req.watch.flags = w->flags;
	req.watch.key = (struct bytes){w->keys, w->klen};
	req.watch.end = (struct bytes){w->keys + w->klen, w->elen};
	mp_buf_reset(&c->out);
	if ((rv = proto_encode(&c->proto, &req, &c->out, NULL)) != 0 ||
	    (rv = net_send_all(c->fd, c->out.data, c->out.len, deadline_ms, &sent, b->errmsg,
			       sizeof(b->errmsg))) != 0) {
		watch_drop(w);
		return rv == BERTH_ENOMEM || rv == BERTH_ETOOLARGE ? rv : BERTH_ENOCONN;
	}
	for (;;) {
		if ((rv = watch_frame(w, deadline_ms, &pr)) != 0)
			return rv == BERTH_ETIMEOUT ? rv : BERTH_ENOCONN;
		if (pr.resp.id == req.id)
			break;
		proto_resp_free(&pr); /* nothing else can come before the answer */
	}
	rv = pr.resp.err;
	if (rv == 0 && (!pr.resp.has_reply || pr.resp.reply.id == 0))
		rv = BERTH_EBADREQ;
	if (rv == 0) {
		w->wid = pr.resp.reply.id;
		if (first)
			w->rev = pr.resp.reply.rev;
		else
			w->resumes++;
	} else {
		call_errmsg(b, "%s: watch: %s", c->peer, err_text(rv));
		watch_drop(w);
	}
	proto_resp_free(&pr);
	return rv;
}

/* Tries every endpoint, in rounds with a pause, until subscribed or the deadline. */
static int watch_connect(struct berth_watch *w, bool first, uint64_t deadline_ms)
{
	struct berth *b = w->b;
	struct policy_pace pace = {0};
	while (net_now_ms() < deadline_ms) {
		int rv = watch_subscribe(w, first, deadline_ms);
		if (rv == 0)
			return 0;
		if (rv == BERTH_EBADREQ || rv == BERTH_ETOOLARGE || rv == BERTH_EUNAUTHORIZED ||
		    rv == BERTH_EPROTO || rv == BERTH_ENOMEM)
			return rv;
		w->ep = (w->ep + 1) % b->opt.neps;
		if (policy_pace_failed(&pace, b->opt.neps)) {
			uint64_t now = net_now_ms();
			uint64_t ms = policy_backoff_ms(pace.rounds, &b->rng);
			if (now + ms > deadline_ms)
				ms = deadline_ms > now ? deadline_ms - now : 0;
			net_sleep_ms((uint32_t)ms);
		}
	}
	call_errmsg(w->b, "watch: no member reachable: %s", w->b->errmsg);
	return BERTH_ENOCONN;
}

int berth_watch_open(struct berth *b, const struct berth_watch_options *o, struct berth_watch **out)
{
	struct berth_watch *w;
	int rv;
	*out = NULL;
	b->errmsg[0] = '\0';
	if ((o->klen > 0 && o->key == NULL) || (o->elen > 0 && o->end == NULL) ||
	    (o->prefix && o->elen > 0)) {
		call_errmsg(b, "watch: a prefix has no end, and lengths need pointers");
		return BERTH_EBADREQ;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->keys = malloc(o->klen + o->elen + 1)) == NULL ||
	    call_conn_init(&w->conn, b->opt.max_frame_bytes) != 0) {
		if (w != NULL)
			free(w->keys);
		free(w);
		call_errmsg(b, "watch: %s", err_text(BERTH_ENOMEM));
		return BERTH_ENOMEM;
	}
	w->b = b;
	if (o->klen > 0)
		memcpy(w->keys, o->key, o->klen);
	if (o->elen > 0)
		memcpy(w->keys + o->klen, o->end, o->elen);
	w->klen = o->klen;
	w->elen = o->elen;
	w->flags = (uint8_t)((o->prefix ? MSG_F_PREFIX : 0) | (o->keys_only ? MSG_F_KEYS_ONLY : 0));
	w->rev = o->rev;
	w->ep = b->next_ep;
	if ((rv = watch_connect(w, true, net_now_ms() + b->opt.timeout_ms)) != 0) {
		berth_watch_close(w);
		return rv;
	}
	*out = w;
	return 0;
}

int wbatch_join(struct berth_watch_batch *p, size_t *bytes, struct proto_resp *pr)
{
	struct wire_watch *ww = &pr->resp.watch;
	uint8_t **frames = realloc(p->frames, (p->nframes + 1) * sizeof(*frames));
	struct berth_event *ev = frames == NULL ? NULL : p->events;
	if (frames != NULL)
		p->frames = frames;
	if (frames != NULL && ww->nevents > 0 &&
	    (ev = realloc(p->events, (p->nevents + ww->nevents) * sizeof(*ev))) != NULL)
		p->events = ev;
	if (frames == NULL || (ww->nevents > 0 && ev == NULL)) {
		proto_resp_free(pr);
		return BERTH_ENOMEM;
	}
	for (uint32_t i = 0; i < ww->nevents; i++) {
		p->events[p->nevents + i].type = ww->events[i].type;
		p->events[p->nevents + i].kv = ww->events[i].kv; /* borrows from the frame */
	}
	p->nevents += ww->nevents;
	p->frames[p->nframes++] = pr->frame;
	*bytes += pr->len;
	wire_resp_free(&pr->resp); /* the decoded events array; the frame is kept */
	memset(pr, 0, sizeof(*pr));
	return *bytes > WBATCH_JOIN_MAX_BYTES ? BERTH_EWATCHOVERFLOW : 0;
}

int berth_watch_next(struct berth_watch *w, uint32_t timeout_ms, struct berth_watch_batch *out)
{
	struct berth *b = w->b;
	uint64_t deadline_ms = net_now_ms() + timeout_ms;
	struct proto_resp pr;
	int rv;

	memset(out, 0, sizeof(*out));
	b->errmsg[0] = '\0';
	while (w->ended == 0) {
		if (w->conn.fd < 0) {
			if ((rv = watch_connect(w, false, deadline_ms)) != 0) {
				if (rv == BERTH_ENOCONN)
					return rv;
				w->ended = rv;
				break;
			}
		}
		rv = watch_frame(w, deadline_ms, &pr);
		if (rv == BERTH_ETIMEOUT)
			return rv;
		if (rv != 0) {
			w->ep = (w->ep + 1) % b->opt.neps; /* resume elsewhere */
			continue;
		}
		struct wire_watch *ww = &pr.resp.watch;
		if (!pr.resp.has_watch || ww->id != w->wid) {
			bool conn_err = pr.resp.id == 0 && !pr.resp.has_watch;
			proto_resp_free(&pr); /* an old watch's frame, or an answer to a cancel */
			if (conn_err) {
				watch_drop(w);
				w->ep = (w->ep + 1) % b->opt.neps;
			}
			continue;
		}
		if (ww->err != 0) {
			int err = ww->err;
			uint64_t crev = ww->compacted;
			proto_resp_free(&pr);
			call_errmsg(b, "%s: watch cancelled: %s", w->conn.peer, err_text(err));
			watch_drop(w);
			if (err == BERTH_ENOQUORUM) {
				w->ep = (w->ep + 1) % b->opt.neps;
				continue;
			}
			w->compacted = crev;
			w->ended = err;
			break;
		}
		bool more = ww->more;
		uint64_t rev = ww->rev;
		if ((rv = wbatch_join(&w->part, &w->part_bytes, &pr)) != 0) {
			w->ended = rv;
			watch_drop(w);
			break;
		}
		if (more)
			continue;
		*out = w->part;
		memset(&w->part, 0, sizeof(w->part));
		w->part_bytes = 0;
		if (rev > w->rev) /* a lagging member's progress never moves it back */
			w->rev = rev;
		out->rev = w->rev;
		return 0;
	}
	if (b->errmsg[0] == '\0')
		call_errmsg(b, "watch ended: %s", err_text(w->ended));
	return w->ended;
}

void berth_watch_close(struct berth_watch *w)
{
	if (w == NULL)
		return;
	if (w->conn.fd >= 0 && w->wid != 0) { /* best effort: the member frees it anyway */
		struct msg_req req = {.type = MSG_REQ_WATCH_CANCEL, .watch_id = w->wid};
		size_t sent;
		char err[64];
		mp_buf_reset(&w->conn.out);
		if (proto_encode(&w->conn.proto, &req, &w->conn.out, NULL) == 0)
			net_send_all(w->conn.fd, w->conn.out.data, w->conn.out.len,
				     net_now_ms() + 100, &sent, err, sizeof(err));
	}
	berth_watch_batch_free(&w->part);
	call_conn_close(&w->conn);
	free(w->keys);
	free(w);
}
