/* client/aconn.c: one libuv connection: resolve, connect and hello under a deadline,
 * batched pipelined writes, reads fed to the protocol core, responses dispatched. */
#include "client/aconn.h"

#include "client/awatch.h"

#include "client/acall.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACONN_READ_BYTES (64 * 1024)

static void aconn_errmsg(struct aconn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void aconn_errmsg(struct aconn *conn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(conn->errmsg, sizeof(conn->errmsg), fmt, ap);
	va_end(ap);
}

static void aconn_unref(struct aconn *conn)
{
	struct berth_async *a = conn->a;
	if (--conn->refs > 0)
		return;
	for (struct aconn **pp = &a->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == conn) {
			*pp = conn->next;
			break;
		}
	}
	proto_close(&conn->proto);
	mp_buf_close(&conn->out);
	mp_buf_close(&conn->wbuf);
	free(conn->rbuf);
	free(conn);
	acall_unref(a);
}

static void aconn_handle_closed(uv_handle_t *h)
{
	aconn_unref(h->data);
}

void aconn_close(struct aconn *conn, const char *errmsg)
{
	struct berth_async *a = conn->a;
	uint64_t id;
	void *ctx;

	if (conn->state == ACONN_CLOSING)
		return;
	bool was_active = a->conn == conn;
	if (was_active)
		a->conn = NULL;
	conn->state = ACONN_CLOSING;
	if (errmsg != NULL && errmsg != conn->errmsg)
		snprintf(conn->errmsg, sizeof(conn->errmsg), "%s", errmsg);
	if (conn->errmsg[0] != '\0')
		snprintf(a->lasterr, sizeof(a->lasterr), "%s", conn->errmsg);
	a->dialing_held++; /* no new connection before acall_conn_down picks the endpoint */
	while (proto_pending_pop(&conn->proto, &id, &ctx) == 0) {
		if (ctx != NULL && ctx != conn) {
			conn->nlive--;
			acall_lost(ctx, conn);
		}
	}
	a->dialing_held--;
	if (conn->resolving)
		uv_cancel((uv_req_t *)&conn->gai); /* its callback still runs */
	uv_close((uv_handle_t *)&conn->tcp, aconn_handle_closed);
	uv_close((uv_handle_t *)&conn->timer, aconn_handle_closed);
	awatch_conn_down(a, conn);
	acall_conn_down(a, conn, was_active);
}

void aconn_retire(struct aconn *conn)
{
	conn->retiring = true;
	if (conn->a->conn == conn)
		conn->a->conn = NULL;
	aconn_close_if_idle(conn);
}

void aconn_close_if_idle(struct aconn *conn)
{
	if (conn->retiring && conn->nlive == 0 && conn->nwatches == 0)
		aconn_close(conn, NULL);
}

void aconn_abandon(struct aconn *conn, uint64_t id)
{
	if (proto_pending_abandon(&conn->proto, id) == 0)
		conn->nlive--;
	aconn_close_if_idle(conn);
}

static void aconn_flush(struct aconn *conn);

static void aconn_kick_idle(uv_idle_t *idle)
{
	(void)idle; /* its only job: the loop must not block in poll before the flush */
}

static void aconn_written(uv_write_t *req, int status)
{
	struct aconn *conn = req->data;
	conn->writing = false;
	mp_buf_reset(&conn->wbuf);
	if (status == UV_ECANCELED || conn->state == ACONN_CLOSING)
		return;
	if (status < 0) {
		aconn_errmsg(conn, "%s: send: %s", conn->peer, uv_strerror(status));
		aconn_close(conn, NULL);
		return;
	}
	aconn_flush(conn);
}

/* Hands what accumulated in out to the kernel: at once when it takes it all (the common
 * case: no write request, no callback, no change to the poll set), else the rest as one
 * libuv write; what comes meanwhile waits for it. */
static void aconn_flush(struct aconn *conn)
{
	if (conn->writing || conn->out.len == 0 || !conn->connected || conn->state == ACONN_CLOSING)
		return;
	conn->batches++; /* counted as sent from here: bytes may leave even on failure */
	uv_buf_t buf = uv_buf_init((char *)conn->out.data, (unsigned)conn->out.len);
	int rv = uv_try_write((uv_stream_t *)&conn->tcp, &buf, 1);
	if (rv >= 0 && (size_t)rv == conn->out.len) {
		conn->out.len = 0;
		return;
	}
	if (rv < 0 && rv != UV_EAGAIN) {
		aconn_errmsg(conn, "%s: send: %s", conn->peer, uv_strerror(rv));
		aconn_close(conn, NULL);
		return;
	}
	size_t done = rv > 0 ? (size_t)rv : 0;
	struct mp_buf tmp = conn->wbuf; /* swap the bytes, not the packers */
	conn->wbuf.data = conn->out.data;
	conn->wbuf.len = conn->out.len;
	conn->wbuf.cap = conn->out.cap;
	conn->out.data = tmp.data;
	conn->out.cap = tmp.cap;
	conn->out.len = 0;
	conn->out.err = 0;
	buf = uv_buf_init((char *)conn->wbuf.data + done, (unsigned)(conn->wbuf.len - done));
	conn->wreq.data = conn;
	if ((rv = uv_write(&conn->wreq, (uv_stream_t *)&conn->tcp, &buf, 1, aconn_written)) != 0) {
		aconn_errmsg(conn, "%s: send: %s", conn->peer, uv_strerror(rv));
		aconn_close(conn, NULL);
		return;
	}
	conn->writing = true;
}

int aconn_send(struct aconn *conn, struct msg_req *req, struct acall *c)
{
	int rv = proto_encode(&conn->proto, req, &conn->out, c);
	if (rv != 0)
		return rv;
	if (c != NULL) {
		c->conn = conn;
		c->id = req->id;
		c->batch = conn->batches + 1;
		conn->nlive++;
	}
	/* Gathered: the iteration's end writes it with whatever else this connection gets. */
	if (!uv_is_active((uv_handle_t *)&conn->a->flush_kick))
		uv_idle_start(&conn->a->flush_kick, aconn_kick_idle);
	return 0;
}

void aconn_flush_all(uv_check_t *check)
{
	struct berth_async *a = check->data;
	if (uv_is_active((uv_handle_t *)&a->flush_kick))
		uv_idle_stop(&a->flush_kick);
	for (struct aconn *conn = a->conns; conn != NULL; conn = conn->next)
		aconn_flush(conn);
}

/* A frame with id 0: the server speaking about the connection. A pushed watch frame
 * (has_watch) belongs to a watch opened on this connection: the asynchronous API opens
 * none yet, so it is dropped here, where watches will be routed. Anything else is an
 * error the server closes the connection after. */
static void aconn_frame0(struct aconn *conn, struct proto_resp *pr)
{
	bool watch = pr->resp.has_watch;
	if (watch) {
		awatch_frame(conn->a, conn, pr);
		return;
	}
	if (pr->resp.err == 0)
		aconn_errmsg(conn, "%s: malformed response: id 0 without an error", conn->peer);
	else
		aconn_errmsg(conn, "%s: the member closed the connection: %s", conn->peer,
			     err_text(pr->resp.err));
	proto_resp_free(pr);
	aconn_close(conn, NULL);
}

static void aconn_hello(struct aconn *conn, struct proto_resp *pr)
{
	int err = pr->resp.err;
	proto_resp_free(pr);
	if (err == 0) {
		conn->state = ACONN_READY;
		uv_timer_stop(&conn->timer);
		acall_ready(conn->a, conn);
		return;
	}
	aconn_errmsg(conn, "%s: hello: %s", conn->peer, err_text(err));
	if ((err = policy_hello_refused(err)) != BERTH_ENOCONN)
		acall_refused(conn->a, conn, err);
	aconn_close(conn, NULL);
}

static void aconn_dispatch(struct aconn *conn, struct proto_resp *pr)
{
	if (pr->resp.id == 0) {
		aconn_frame0(conn, pr);
	} else if (pr->resp.more) {
		/* A stream's frame: no call of this API asks for one (the id stays pending:
		 * closing hands its call back to be sent again). */
		proto_resp_free(pr);
		aconn_errmsg(conn, "%s: malformed response: a stream frame for a call", conn->peer);
		aconn_close(conn, NULL);
	} else if (pr->ctx == conn) {
		aconn_hello(conn, pr);
	} else if (pr->ctx == NULL) {
		proto_resp_free(pr); /* its call ended first */
	} else {
		conn->nlive--;
		acall_response(pr->ctx, pr);
		proto_resp_free(pr);
		aconn_close_if_idle(conn);
	}
}

static void aconn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct aconn *conn = h->data;
	(void)hint;
	*buf = uv_buf_init((char *)conn->rbuf, ACONN_READ_BYTES);
}

static void aconn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct aconn *conn = s->data;
	struct proto_resp pr;
	size_t off = 0, used;
	int rv = 0;

	if (nread == 0 || conn->state == ACONN_CLOSING)
		return;
	if (nread < 0) {
		if (nread == UV_EOF)
			aconn_errmsg(conn, "%s: connection closed by the member", conn->peer);
		else
			aconn_errmsg(conn, "%s: receive: %s", conn->peer, uv_strerror((int)nread));
		aconn_close(conn, NULL);
		return;
	}
	conn->last_recv_ms = uv_now(conn->a->loop);
	conn->reads++;
	while (off < (size_t)nread && conn->state != ACONN_CLOSING) {
		if ((rv = proto_feed(&conn->proto, buf->base + off, (size_t)nread - off, &used)) !=
		    0)
			break;
		off += used;
		while (conn->state != ACONN_CLOSING && (rv = proto_next(&conn->proto, &pr)) == 0)
			aconn_dispatch(conn, &pr);
		if (rv != BERTH_ENOTFOUND)
			break;
		rv = 0;
	}
	if (rv != 0 && conn->state != ACONN_CLOSING) {
		aconn_errmsg(conn, "%s: malformed response: %s", conn->peer, err_text(rv));
		aconn_close(conn, NULL);
	}
}

static void aconn_connected(uv_connect_t *req, int status)
{
	struct aconn *conn = req->data;
	struct berth_async *a = conn->a;
	struct msg_req hello = {.type = MSG_REQ_HELLO, .proto = MSG_PROTOCOL_VERSION};
	int rv;

	if (conn->state == ACONN_CLOSING)
		return;
	if (status < 0) {
		aconn_errmsg(conn, "connect %s: %s", conn->peer, uv_strerror(status));
		aconn_close(conn, NULL);
		return;
	}
	conn->connected = true;
	uv_tcp_nodelay(&conn->tcp, 1); /* requests are small and answered one by one */
	if ((rv = uv_read_start((uv_stream_t *)&conn->tcp, aconn_alloc, aconn_read)) != 0) {
		aconn_errmsg(conn, "%s: receive: %s", conn->peer, uv_strerror(rv));
		aconn_close(conn, NULL);
		return;
	}
	hello.token.p = a->opt.token;
	hello.token.n = a->opt.token_len;
	if ((rv = proto_encode(&conn->proto, &hello, &conn->out, conn)) != 0) {
		aconn_errmsg(conn, "%s: hello: %s", conn->peer, err_text(rv));
		aconn_close(conn, NULL);
		return;
	}
	aconn_flush(conn);
}

/* Connect and hello did not finish within connect_timeout_ms, or an earlier step failed
 * and left its message (reported from here, never from inside aconn_start). */
static void aconn_timeout(uv_timer_t *t)
{
	struct aconn *conn = t->data;
	if (conn->errmsg[0] == '\0')
		aconn_errmsg(conn, "connect %s: timed out after %u ms", conn->peer,
			     conn->a->opt.connect_timeout_ms);
	aconn_close(conn, NULL);
}

static void aconn_fail_soon(struct aconn *conn)
{
	uv_timer_start(&conn->timer, aconn_timeout, 0, 0);
}

static void aconn_connect_to(struct aconn *conn, const struct sockaddr *sa)
{
	conn->connect.data = conn;
	int rv = uv_tcp_connect(&conn->connect, &conn->tcp, sa, aconn_connected);
	if (rv != 0) {
		aconn_errmsg(conn, "connect %s: %s", conn->peer, uv_strerror(rv));
		aconn_fail_soon(conn);
	}
}

static void aconn_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct aconn *conn = req->data;
	conn->resolving = false;
	if (conn->state != ACONN_CLOSING) {
		if (status < 0 || res == NULL) {
			aconn_errmsg(conn, "resolve %s: %s", conn->peer,
				     status < 0 ? uv_strerror(status) : "no address");
			aconn_close(conn, NULL);
		} else {
			aconn_connect_to(conn, res->ai_addr);
		}
	}
	uv_freeaddrinfo(res);
	aconn_unref(conn);
}

int aconn_start(struct berth_async *a, const struct net_endpoint *ep, bool from_list)
{
	struct aconn *conn = calloc(1, sizeof(*conn));
	struct sockaddr_storage ss;
	int port = atoi(ep->port);

	if (conn == NULL || (conn->rbuf = malloc(ACONN_READ_BYTES)) == NULL)
		goto err_nomem;
	if (proto_init(&conn->proto, a->opt.max_frame_bytes) != 0) /* checked by open */
		goto err_nomem;
	mp_buf_init(&conn->out);
	mp_buf_init(&conn->wbuf);
	conn->a = a;
	conn->ep = *ep;
	conn->from_list = from_list;
	snprintf(conn->peer, sizeof(conn->peer), strchr(ep->host, ':') ? "[%s]:%s" : "%s:%s",
		 ep->host, ep->port);
	uv_tcp_init(a->loop, &conn->tcp); /* cannot fail for AF_UNSPEC */
	uv_timer_init(a->loop, &conn->timer);
	conn->tcp.data = conn;
	conn->timer.data = conn;
	conn->refs = 2;
	conn->next = a->conns;
	a->conns = conn;
	a->refs++;
	a->conn = conn;
	uv_timer_start(&conn->timer, aconn_timeout, a->opt.connect_timeout_ms, 0);
	if (uv_ip4_addr(ep->host, port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(ep->host, port, (struct sockaddr_in6 *)&ss) == 0) {
		aconn_connect_to(conn, (struct sockaddr *)&ss);
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	conn->gai.data = conn;
	int rv = uv_getaddrinfo(a->loop, &conn->gai, aconn_resolved, ep->host, ep->port, &hints);
	if (rv != 0) {
		aconn_errmsg(conn, "resolve %s: %s", conn->peer, uv_strerror(rv));
		aconn_fail_soon(conn);
	} else {
		conn->refs++;
		conn->resolving = true;
	}
	return 0;
err_nomem:
	if (conn != NULL)
		free(conn->rbuf);
	free(conn);
	return BERTH_ENOMEM;
}
