/* client/call.c: one call from start to deadline: connect and hello, leader discovery by
 * redirect, failover and backoff, the session and exactly-once retries of writes. */
#include "client/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int call_conn_init(struct call_conn *c, size_t max_frame_bytes)
{
	int rv;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if ((rv = proto_init(&c->proto, max_frame_bytes)) != 0)
		return rv;
	if ((c->rbuf = malloc(CALL_READ_BYTES)) == NULL) {
		proto_close(&c->proto);
		return BERTH_ENOMEM;
	}
	mp_buf_init(&c->out);
	return 0;
}

static void call_conn_drop(struct call_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	proto_reset(&c->proto);
}

void call_conn_close(struct call_conn *c)
{
	call_conn_drop(c);
	proto_close(&c->proto);
	mp_buf_close(&c->out);
	free(c->rbuf);
	c->rbuf = NULL;
}

void call_errmsg(struct berth *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	handle_verrmsg(b->errmsg, fmt, ap); /* fmt may use b->errmsg itself */
	va_end(ap);
}

int call_finish(struct berth_result *res, int err)
{
	res->err = err;
	res->indeterminate = err_indeterminate(err) != 0;
	return err;
}

static void call_take(struct berth_result *res, struct proto_resp *pr)
{
	berth_result_free(res);
	res->frame = pr->frame;
	res->frame_len = pr->len;
	res->resp = pr->resp;
	res->has_resp = true;
	memset(pr, 0, sizeof(*pr));
}

int call_exchange(struct berth *b, struct call_conn *c, struct msg_req *req, uint64_t deadline_ms,
		  struct berth_result *res, bool *sent)
{
	struct proto_resp pr;
	uint8_t *buf = c->rbuf;
	size_t n;
	int rv;

	*sent = false;
	mp_buf_reset(&c->out);
	if ((rv = proto_encode(&c->proto, req, &c->out, NULL)) != 0) {
		call_errmsg(b, "encode request: %s", err_text(rv));
		return rv;
	}
	rv = net_send_all(c->fd, c->out.data, c->out.len, deadline_ms, &n, b->errmsg,
			  sizeof(b->errmsg));
	*sent = n > 0;
	if (rv != 0)
		goto fail;
	for (;;) {
		rv = net_recv(c->fd, buf, CALL_READ_BYTES, deadline_ms, &n, b->errmsg,
			      sizeof(b->errmsg));
		for (size_t off = 0; rv == 0 && off < n;) {
			size_t used;
			if ((rv = proto_feed(&c->proto, buf + off, n - off, &used)) != 0)
				break;
			off += used;
			if ((rv = proto_next(&c->proto, &pr)) == 0 && pr.resp.id == 0 &&
			    pr.resp.err == 0) {
				proto_resp_free(&pr);
				rv = BERTH_EBADREQ; /* id 0 must carry an error */
			} else if (rv == 0) {
				/* One request in flight: the answer is ours or the
				 * connection's (id 0), and either ends the wait. */
				call_take(res, &pr);
				return 0;
			}
			if (rv == BERTH_ENOTFOUND)
				rv = 0;
		}
		if (rv == BERTH_ECLOSED || rv == BERTH_ETIMEOUT)
			goto fail;
		if (rv != 0) {
			call_errmsg(b, "malformed response: %s", err_text(rv));
			rv = BERTH_ECLOSED;
			goto fail;
		}
	}
fail:
	call_conn_drop(c);
	return rv;
}

/* Prefixes b->errmsg with the peer's address. */
static void call_blame(struct berth *b, const char *peer)
{
	if (strncmp(b->errmsg, "connect ", 8) == 0 || strncmp(b->errmsg, "resolve ", 8) == 0)
		return; /* already names it */
	call_errmsg(b, "%s: %s", peer, b->errmsg);
}

int call_conn_open(struct berth *b, struct call_conn *c, const struct net_endpoint *ep,
		   uint64_t deadline_ms)
{
	struct msg_req hello = {.type = MSG_REQ_HELLO, .proto = MSG_PROTOCOL_VERSION};
	struct berth_result res = {0};
	bool sent;
	int rv;

	call_conn_drop(c);
	snprintf(c->peer, sizeof(c->peer), strchr(ep->host, ':') ? "[%s]:%s" : "%s:%s", ep->host,
		 ep->port);
	rv = net_connect(ep, b->opt.connect_timeout_ms, deadline_ms, &c->fd, b->errmsg,
			 sizeof(b->errmsg));
	if (rv != 0)
		return rv;
	hello.token.p = b->opt.token;
	hello.token.n = b->opt.token_len;
	rv = call_exchange(b, c, &hello, deadline_ms, &res, &sent);
	if (rv == 0 && res.resp.err != 0) {
		rv = res.resp.err;
		call_errmsg(b, "hello: %s", err_text(rv));
		rv = policy_hello_refused(rv); /* definite, or try elsewhere */
		call_conn_drop(c);
	} else if (rv != 0 && rv != BERTH_ETIMEOUT) {
		rv = BERTH_ENOCONN;
	}
	berth_result_free(&res);
	if (rv != 0)
		call_blame(b, c->peer);
	return rv;
}

/* Sleeps ms, never past the deadline. */
static void call_backoff(uint32_t ms, uint64_t deadline_ms)
{
	uint64_t now = net_now_ms();
	if (now >= deadline_ms)
		return;
	if (now + ms > deadline_ms)
		ms = (uint32_t)(deadline_ms - now);
	net_sleep_ms(ms);
}

/* A failed attempt: the next endpoint, and a backoff after a round of failures. Also
 * after a hinted leader that could not be reached: the member that named it has not
 * noticed yet, the others may have. */
static void call_failed(struct berth *b, struct policy_call *p, uint64_t deadline_ms)
{
	b->next_ep = (b->next_ep + 1) % b->opt.neps;
	if (policy_pace_failed(&p->pace, b->opt.neps))
		call_backoff(policy_pace_backoff_ms(&p->pace, &b->rng), deadline_ms);
}

/* The call ends without an answer to return: say which kind of failure it is. */
static int call_give_up(struct berth *b, const struct policy_call *p, bool refused,
			struct berth_result *res)
{
	const char *what;
	int err = policy_give_up(p, refused, &what);
	if (what != NULL)
		call_errmsg(b, "%s (%u ms); last: %s", what, b->opt.timeout_ms, b->errmsg);
	if (!res->has_resp || res->resp.err != err)
		berth_result_free(res);
	return call_finish(res, err);
}

static int call_session_open(struct berth *b, uint64_t deadline_ms);

/* Runs req until an answer or the deadline; client/policy.h decides after each attempt. */
static int call_until(struct berth *b, struct msg_req *req, enum policy_kind kind,
		      uint64_t deadline_ms, struct berth_result *res)
{
	struct policy_call p;
	struct call_conn *c = &b->conn;
	bool write = kind == POLICY_WRITE && !b->opt.no_session;
	bool refused = false, have_hint = false;
	int rv;

	memset(res, 0, sizeof(*res));
	policy_start(&p, kind, write);
	if (write && b->session == 0 && (rv = call_session_open(b, deadline_ms)) != 0)
		return call_finish(res, rv);
	if (write) {
		req->session = b->session;
		req->seq = ++b->seq;
	}
	while (net_now_ms() < deadline_ms && policy_may_send(&p)) {
		if (c->fd < 0) {
			bool hinted = have_hint;
			const struct net_endpoint *ep =
				have_hint ? &p.hint : &b->opt.eps[b->next_ep];
			have_hint = false;
			rv = call_conn_open(b, c, ep, deadline_ms);
			if (rv == BERTH_EUNAUTHORIZED || rv == BERTH_EPROTO) {
				p.last = rv;
				refused = true;
				break;
			}
			if (rv != 0) {
				if (hinted)
					policy_hint_refused(&p, &p.hint);
				call_failed(b, &p, deadline_ms);
				continue;
			}
		}
		bool sent;
		rv = call_exchange(b, c, req, deadline_ms, res, &sent);
		if (rv == BERTH_ENOMEM || rv == BERTH_ETOOLARGE)
			return call_finish(res, rv); /* not sent: definite */
		if (rv != 0) {
			policy_lost(&p, sent);
			call_blame(b, c->peer);
			if (rv == BERTH_ETIMEOUT)
				break;
			call_failed(b, &p, deadline_ms);
			continue;
		}
		int err;
		switch (policy_response(&p, &res->resp, b->opt.max_redirects, &err)) {
		case POLICY_DONE:
			if (err != 0)
				call_errmsg(b, "%s", err_text(err));
			else
				b->errmsg[0] = '\0';
			return call_finish(res, err);
		case POLICY_RESESSION:
			/* The session expired before this write was ever applied. */
			berth_result_free(res);
			b->session = 0;
			if ((rv = call_session_open(b, deadline_ms)) != 0)
				return call_finish(res, rv);
			req->session = b->session;
			req->seq = ++b->seq;
			continue;
		case POLICY_WAIT:
			call_errmsg(b, "%s: %s", c->peer, err_text(res->resp.err));
			call_backoff(policy_backoff_ms(++p.pace.rounds, &b->rng), deadline_ms);
			continue;
		case POLICY_REDIRECT:
		case POLICY_NEXT:
			call_errmsg(b, "%s: %s", c->peer, err_text(res->resp.err));
			call_conn_drop(c);
			if (!(have_hint = p.have_hint))
				call_failed(b, &p, deadline_ms);
			continue;
		case POLICY_FAIL:
			if (res->resp.err != 0) {
				call_errmsg(b, "%s: %s", c->peer, err_text(res->resp.err));
				call_conn_drop(c);
			} else {
				call_errmsg(b, "%s: %s while retrying", c->peer,
					    err_text(res->resp.reply.err));
			}
			refused = true;
			break;
		}
		break;
	}
	return call_give_up(b, &p, refused, res);
}

/* Opens the handle's session. Opening twice is harmless (the spare expires), so it is
 * retried like a read. A failure here means the write was never sent: definite. */
static int call_session_open(struct berth *b, uint64_t deadline_ms)
{
	struct msg_req req = {.type = MSG_REQ_SESSION_OPEN, .ttl = b->opt.session_ttl_ms};
	struct berth_result res;
	int rv = call_until(b, &req, POLICY_READ, deadline_ms, &res);
	if (rv == 0 && (!res.resp.has_reply || res.resp.reply.id == 0)) {
		call_errmsg(b, "session open: no session id in the answer");
		rv = BERTH_EBADREQ;
	}
	if (rv == 0) {
		b->session = res.resp.reply.id;
		b->seq = 0;
	} else {
		call_errmsg(b, "open session: %s", b->errmsg);
		rv = policy_session_failed(rv); /* the write itself was not sent */
	}
	berth_result_free(&res);
	return rv;
}

int call_run(struct berth *b, struct msg_req *req, enum policy_kind kind, struct berth_result *res)
{
	b->errmsg[0] = '\0';
	return call_until(b, req, kind, net_now_ms() + b->opt.timeout_ms, res);
}
