/* client/call.c: one call from start to deadline: connect and hello, leader discovery by
 * redirect, failover and backoff, the session and exactly-once retries of writes. */
#include "client/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALL_BACKOFF_MIN_MS 50
#define CALL_BACKOFF_MAX_MS 1000

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
	char tmp[BERTH_ERRMSG_BYTES];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap); /* fmt may use b->errmsg itself */
	va_end(ap);
	memcpy(b->errmsg, tmp, sizeof(tmp));
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
	rv = net_connect(ep, b->connect_timeout_ms, deadline_ms, &c->fd, b->errmsg,
			 sizeof(b->errmsg));
	if (rv != 0)
		return rv;
	hello.token.p = b->token;
	hello.token.n = b->token_len;
	rv = call_exchange(b, c, &hello, deadline_ms, &res, &sent);
	if (rv == 0 && res.resp.err != 0) {
		rv = res.resp.err;
		call_errmsg(b, "hello: %s", err_text(rv));
		/* A token or version refusal is definite; anything else: try elsewhere. */
		if (rv != BERTH_EUNAUTHORIZED && rv != BERTH_EPROTO)
			rv = BERTH_ENOCONN;
		call_conn_drop(c);
	} else if (rv != 0 && rv != BERTH_ETIMEOUT) {
		rv = BERTH_ENOCONN;
	}
	berth_result_free(&res);
	if (rv != 0)
		call_blame(b, c->peer);
	return rv;
}

static uint32_t call_rand(struct berth *b)
{
	uint64_t x = b->rng; /* xorshift64: jitter only */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return (uint32_t)(x >> 32);
}

/* Sleeps before round `round` (1, 2...): 50 ms doubling to 1 s, between half and all of
 * it, never past the deadline. */
static void call_backoff(struct berth *b, unsigned round, uint64_t deadline_ms)
{
	uint32_t ms = CALL_BACKOFF_MIN_MS;
	for (unsigned i = 1; i < round && ms < CALL_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > CALL_BACKOFF_MAX_MS)
		ms = CALL_BACKOFF_MAX_MS;
	ms = ms / 2 + call_rand(b) % (ms / 2 + 1);
	uint64_t now = net_now_ms();
	if (now >= deadline_ms)
		return;
	if (now + ms > deadline_ms)
		ms = (uint32_t)(deadline_ms - now);
	net_sleep_ms(ms);
}

/* The state of one call across its attempts. */
struct call_state {
	uint64_t deadline_ms;
	bool sent;      /* some attempt's bytes left this process */
	bool maybe;     /* some attempt may have been applied (writes) */
	bool have_hint; /* connect to hint next */
	unsigned fails; /* failed attempts since the last backoff */
	unsigned rounds;
	unsigned redirects;
	int last; /* the last definite refusal from a node, or 0 */
	struct net_endpoint hint;
};

static void call_failed(struct berth *b, struct call_state *s, bool from_list)
{
	if (from_list)
		b->next_ep = (b->next_ep + 1) % b->neps;
	if (++s->fails >= b->neps) {
		s->fails = 0;
		call_backoff(b, ++s->rounds, s->deadline_ms);
	}
}

/* The leader's address from a BERTH_ENOTLEADER answer, if usable. */
static bool call_hint(struct berth *b, struct call_state *s, const struct wire_resp *r)
{
	char addr[NET_HOST_MAX + 10], err[NET_ERR_BYTES];
	if (r->leader.n == 0 || r->leader.n >= sizeof(addr) || s->redirects >= b->max_redirects)
		return false;
	memcpy(addr, r->leader.p, r->leader.n);
	addr[r->leader.n] = '\0';
	if (net_endpoint_parse(addr, &s->hint, err, sizeof(err)) != 0)
		return false;
	s->redirects++;
	return true;
}

/* The call ends without an answer to return: say which kind of failure it is. */
static int call_give_up(struct berth *b, const struct call_state *s, bool refused,
			struct berth_result *res)
{
	const char *what = NULL;
	int err;

	if (s->maybe) {
		err = refused ? BERTH_EUNAVAILABLE : BERTH_ETIMEOUT;
		what = "the write may have been applied";
	} else if (s->last != 0) {
		err = s->last;
	} else if (s->sent) {
		err = BERTH_ETIMEOUT;
		what = "sent, no answer before the deadline";
	} else {
		err = BERTH_ENOCONN;
		what = "no member reachable";
	}
	if (what != NULL)
		call_errmsg(b, "%s (%u ms); last: %s", what, b->timeout_ms, b->errmsg);
	if (!res->has_resp || res->resp.err != err)
		berth_result_free(res);
	return call_finish(res, err);
}

static int call_session_open(struct berth *b, uint64_t deadline_ms);

/* A state machine answer to a write; 1 when the write must go again on a new session. */
static int call_answered(struct berth *b, const struct call_state *s, bool write,
			 struct berth_result *res)
{
	int re = res->resp.has_reply ? res->resp.reply.err : 0;
	if (write && (re == BERTH_ESESSION || re == BERTH_ESTALESEQ) && s->maybe) {
		call_errmsg(b, "%s: %s while retrying a write that may have been applied",
			    b->conn.peer, err_text(re));
		berth_result_free(res);
		return call_finish(res, BERTH_EUNAVAILABLE);
	}
	if (write && re == BERTH_ESESSION)
		return 1;
	if (re != 0)
		call_errmsg(b, "%s", err_text(re));
	else
		b->errmsg[0] = '\0';
	return call_finish(res, re);
}

/* Runs req until an answer or the deadline. */
static int call_until(struct berth *b, struct msg_req *req, enum call_kind kind,
		      uint64_t deadline_ms, struct berth_result *res)
{
	struct call_state s = {.deadline_ms = deadline_ms};
	struct call_conn *c = &b->conn;
	bool write = kind == CALL_WRITE && !b->no_session;
	bool refused = false;
	int rv;

	memset(res, 0, sizeof(*res));
	if (write && b->session == 0 && (rv = call_session_open(b, deadline_ms)) != 0)
		return call_finish(res, rv);
	if (write) {
		req->session = b->session;
		req->seq = ++b->seq;
	}
	while (net_now_ms() < deadline_ms) {
		/* Without a session a write whose outcome is unknown must not go again. */
		if (s.maybe && !write)
			break;
		if (c->fd < 0) {
			bool from_list = !s.have_hint;
			const struct net_endpoint *ep = s.have_hint ? &s.hint : &b->eps[b->next_ep];
			s.have_hint = false;
			rv = call_conn_open(b, c, ep, deadline_ms);
			if (rv == BERTH_EUNAUTHORIZED || rv == BERTH_EPROTO) {
				s.last = rv;
				refused = true;
				break;
			}
			if (rv != 0) {
				call_failed(b, &s, from_list);
				continue;
			}
		}
		bool sent;
		rv = call_exchange(b, c, req, deadline_ms, res, &sent);
		s.sent |= sent;
		if (rv == BERTH_ENOMEM || rv == BERTH_ETOOLARGE)
			return call_finish(res, rv); /* not sent: definite */
		if (rv != 0) {
			s.maybe |= sent && (kind == CALL_WRITE || kind == CALL_ONCE);
			call_blame(b, c->peer);
			if (rv == BERTH_ETIMEOUT)
				break;
			call_failed(b, &s, true);
			continue;
		}
		int e = res->resp.err;
		if (e == 0) {
			if ((rv = call_answered(b, &s, write, res)) != 1)
				return rv;
			/* The session expired before this write was ever applied. */
			berth_result_free(res);
			b->session = 0;
			if ((rv = call_session_open(b, deadline_ms)) != 0)
				return call_finish(res, rv);
			req->session = b->session;
			req->seq = ++b->seq;
			continue;
		}
		call_errmsg(b, "%s: %s", c->peer, err_text(e));
		if (e == BERTH_EBUSY || e == BERTH_ENOQUORUM) {
			s.last = e;
			call_backoff(b, ++s.rounds, deadline_ms);
			continue;
		}
		call_conn_drop(c);
		if (e == BERTH_ENOTLEADER) {
			s.last = e;
			if (!(s.have_hint = call_hint(b, &s, &res->resp)))
				call_failed(b, &s, true);
		} else if (err_indeterminate(e)) {
			s.maybe |= kind == CALL_WRITE || kind == CALL_ONCE;
			call_failed(b, &s, true);
		} else {
			s.last = e;
			refused = true;
			break;
		}
	}
	return call_give_up(b, &s, refused, res);
}

/* Opens the handle's session. Opening twice is harmless (the spare expires), so it is
 * retried like a read. A failure here means the write was never sent: definite. */
static int call_session_open(struct berth *b, uint64_t deadline_ms)
{
	struct msg_req req = {.type = MSG_REQ_SESSION_OPEN, .ttl = b->session_ttl_ms};
	struct berth_result res;
	int rv = call_until(b, &req, CALL_READ, deadline_ms, &res);
	if (rv == 0 && (!res.resp.has_reply || res.resp.reply.id == 0)) {
		call_errmsg(b, "session open: no session id in the answer");
		rv = BERTH_EBADREQ;
	}
	if (rv == 0) {
		b->session = res.resp.reply.id;
		b->seq = 0;
	} else {
		call_errmsg(b, "open session: %s", b->errmsg);
		if (err_indeterminate(rv))
			rv = BERTH_ENOCONN; /* the write itself was not sent */
	}
	berth_result_free(&res);
	return rv;
}

int call_run(struct berth *b, struct msg_req *req, enum call_kind kind, struct berth_result *res)
{
	b->errmsg[0] = '\0';
	return call_until(b, req, kind, net_now_ms() + b->timeout_ms, res);
}
