/* store/server.c: client connections, hello, and request dispatch (docs/protocol.md). */
#include "store/server.h"

#include "common/err.h"
#include "common/log.h"
#include "common/reply.h"
#include "common/wire.h"
#include "store/node.h"
#include "store/propose.h"
#include "store/snapsend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERVER_READ_BYTES (16 * 1024)
/* A client that does not read its responses is cut off once this much waits to be sent. */
#define SERVER_MAX_UNSENT_BYTES ((size_t)64 << 20)
/* Responses to one connection are gathered during a loop iteration and written together
 * at its end (server_flush_output); a connection's gathered bytes go out at once past
 * this many. */
#define SERVER_GATHER_BYTES (64 * 1024)

struct conn {
	uv_tcp_t tcp;
	struct node *node;
	struct frame_reader reader;
	bool hello_ok;
	bool closing;
	struct pending *reqs; /* requests in flight for this connection */
	struct watcher *watchers;
	struct conn *next, **prevp;
	uint8_t *gather; /* frames gathered this iteration, not yet handed to libuv (owned) */
	size_t glen, gcap;
	struct conn *gnext; /* in the server's list of connections with gathered frames */
	bool gathered;      /* ... is in that list */
	char peer[64];
	char rbuf[SERVER_READ_BYTES];
};

static void server_conn_close(struct conn *c);

struct server_write {
	uv_write_t req;
	struct conn *conn; /* alive until this callback: uv_close cancels writes first */
	uint8_t *data;     /* owned */
	void (*done)(void *arg, int status);
	void *arg;
};

static void server_write_cb(uv_write_t *req, int status)
{
	struct server_write *w = req->data;
	struct conn *c = w->conn;
	/* A failed write closes the connection through its read side. */
	free(w->data);
	if (w->done != NULL)
		w->done(w->arg, status);
	free(w);
	if (!c->closing && c->watchers != NULL &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WATCH_WINDOW_BYTES)
		watch_wake(c->node);
}

static int server_conn_write_now(struct conn *c, uint8_t *data, size_t len,
				 void (*done)(void *arg, int status), void *arg)
{
	struct server_write *w = c->closing ? NULL : malloc(sizeof(*w));
	if (w == NULL) {
		free(data);
		return c->closing ? BERTH_ECLOSED : BERTH_ENOMEM;
	}
	*w = (struct server_write){.conn = c, .data = data, .done = done, .arg = arg};
	w->req.data = w;
	uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, server_write_cb) != 0) {
		free(data);
		free(w);
		return BERTH_ECLOSED;
	}
	return 0;
}

/* Hands the gathered frames to libuv (one write). A failure closes the connection. */
static void server_conn_flush(struct conn *c)
{
	if (c->glen == 0)
		return;
	uint8_t *data = c->gather;
	size_t len = c->glen;
	c->gather = NULL;
	c->glen = c->gcap = 0;
	if (server_conn_write_now(c, data, len, NULL, NULL) != 0 && !c->closing) {
		log_error("%s: responses could not be sent: closing", c->peer);
		server_conn_close(c);
	}
}

void server_flush_output(struct node *n)
{
	struct conn *c;
	while ((c = n->srv.gathered) != NULL) {
		n->srv.gathered = c->gnext;
		c->gathered = false;
		server_conn_flush(c);
	}
}

int server_conn_write(struct conn *c, uint8_t *data, size_t len,
		      void (*done)(void *arg, int status), void *arg)
{
	server_conn_flush(c); /* frames keep their order on the connection */
	return server_conn_write_now(c, data, len, done, arg);
}

/* Frames b (4 reserved bytes, then the payload) and gathers it. Takes b's memory. */
static int server_write_frame(struct conn *c, struct mp_buf *b)
{
	if (mp_buf_error(b) != 0 || frame_encode_header(b->len - 4, FRAME_MAX_DEFAULT, b->data)) {
		mp_buf_close(b);
		return BERTH_ETOOLARGE;
	}
	if (c->closing) {
		mp_buf_close(b);
		return BERTH_ECLOSED;
	}
	if (c->glen + b->len > c->gcap) {
		size_t cap = c->gcap ? c->gcap : 4096;
		while (cap < c->glen + b->len)
			cap *= 2;
		uint8_t *g = realloc(c->gather, cap);
		if (g == NULL) {
			mp_buf_close(b);
			return BERTH_ENOMEM;
		}
		c->gather = g;
		c->gcap = cap;
	}
	memcpy(c->gather + c->glen, b->data, b->len);
	c->glen += b->len;
	mp_buf_close(b);
	if (c->glen >= SERVER_GATHER_BYTES) {
		server_conn_flush(c);
	} else if (!c->gathered) {
		c->gathered = true;
		c->gnext = c->node->srv.gathered;
		c->node->srv.gathered = c;
		node_kick(c->node); /* the iteration's end flushes it: do not sleep before */
	}
	return 0;
}

struct watcher **server_conn_watchers(struct conn *c)
{
	return &c->watchers;
}

size_t server_conn_unsent(struct conn *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + c->glen;
}

void server_conn_push(struct conn *c, struct mp_buf *b)
{
	if (c->closing) {
		mp_buf_close(b);
		return;
	}
	if (server_write_frame(c, b) != 0)
		log_error("%s: watch frame could not be sent: closing", c->peer);
	else
		return;
	server_conn_close(c); /* a gap in a watch must never pass unnoticed */
}

/* Sends one response frame. st may be NULL; reply may be NULL. */
static void server_send(struct conn *c, uint64_t id, int err, const uint8_t *reply,
			size_t reply_len, const struct wire_status *st)
{
	struct node *n = c->node;
	struct wire_header h;
	struct mp_buf b;
	static const uint8_t hdr[4];
	const char *leader = err == BERTH_ENOTLEADER ? node_leader_client(n) : NULL;

	if (c->closing)
		return;
	if (server_conn_unsent(c) > SERVER_MAX_UNSENT_BYTES) {
		log_warn("%s: does not read its responses (%zu bytes unsent): closing", c->peer,
			 server_conn_unsent(c));
		server_conn_close(c);
		return;
	}
	node_header(n, &h);
	mp_buf_init(&b);
	mp_buf_append(&b, hdr, 4);
	wire_resp_pack(&b, id, err, leader, &h, reply, reply_len, st);
	int rv = server_write_frame(c, &b);
	if (rv == BERTH_ETOOLARGE || rv == BERTH_ENOMEM)
		log_error("%s: response %llu too large or out of memory", c->peer,
			  (unsigned long long)id);
	if (rv == 0)
		n->srv.responses++;
}

void server_conn_error(struct conn *c, uint64_t id, int err)
{
	server_send(c, id, err, NULL, 0, NULL);
}

const char *server_conn_peer(const struct conn *c)
{
	return c->peer;
}

static void server_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	frame_reader_close(&c->reader);
	free(c);
}

static void server_conn_close(struct conn *c)
{
	if (c->closing)
		return;
	if (c->glen > 0) {
		/* What was answered goes out first (an error, then the close). */
		uint8_t *data = c->gather;
		size_t len = c->glen;
		c->gather = NULL;
		c->glen = c->gcap = 0;
		(void)server_conn_write_now(c, data, len, NULL, NULL);
	}
	c->closing = true;
	snapsend_conn_gone(c->node, c);
	/* Pending requests outlive the connection: raft still holds them. */
	for (struct pending *p = c->reqs; p != NULL; p = p->cnext)
		p->conn = NULL;
	c->reqs = NULL;
	watch_conn_gone(c->node, &c->watchers);
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	c->node->srv.nconns--;
	if (c->gathered) {
		struct conn **pp = &c->node->srv.gathered;
		while (*pp != c)
			pp = &(*pp)->gnext;
		*pp = c->gnext;
		c->gathered = false;
	}
	free(c->gather);
	c->gather = NULL;
	c->glen = c->gcap = 0;
	uv_close((uv_handle_t *)&c->tcp, server_conn_closed);
}

void server_conn_drop(struct conn *c)
{
	server_conn_close(c);
}

static struct pending *server_pending_new(struct conn *c, uint64_t id)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->conn = c;
	p->node = c->node;
	p->id = id;
	p->cnext = c->reqs;
	p->cprevp = &c->reqs;
	if (c->reqs != NULL)
		c->reqs->cprevp = &p->cnext;
	c->reqs = p;
	return p;
}

void server_pending_free(struct pending *p)
{
	if (p->conn != NULL) {
		*p->cprevp = p->cnext;
		if (p->cnext != NULL)
			p->cnext->cprevp = p->cprevp;
	}
	msg_req_free(&p->req);
	free(p->frame);
	free(p->reply);
	free(p);
}

/* Answers a pending request (if its connection is still there) and frees it. */
void server_finish(struct pending *p, int err)
{
	if (p->done != NULL)
		p->done(p->node);
	if (p->conn != NULL)
		server_send(p->conn, p->id, err, err ? NULL : p->reply, p->reply_len, NULL);
	server_pending_free(p);
}

void server_answer(struct pending *p, int err, const struct wire_status *st)
{
	if (p->conn != NULL)
		server_send(p->conn, p->id, err, NULL, 0, err ? NULL : st);
	server_pending_free(p);
}

static void server_read_now(struct node *n, struct pending *p)
{
	struct mp_buf out;
	mp_buf_init(&out);
	int rv = fsm_read(&n->fsm, &p->req.txn, &out);
	if (rv != 0) {
		mp_buf_close(&out);
		node_fatal(n, "read", rv);
		return;
	}
	p->reply = mp_buf_take(&out, &p->reply_len);
	server_finish(p, mp_buf_error(&out));
}

static void server_barrier_cb(struct raft_barrier *req, int status)
{
	struct node *n = req->data;
	struct pending *reads = n->srv.reads_cur;
	node_kick(n);
	n->srv.reads_cur = NULL;
	n->srv.barrier_inflight = false;
	if (status == 0 && node_is_leader(n)) {
		n->srv.ready_term = raft_current_term(&n->raft);
		/* Everything before the barrier is applied; make it visible to reads. */
		if (rfsm_flush(&n->rfsm) != 0) {
			node_fatal(n, "flush", rfsm_fatal(&n->rfsm));
			return;
		}
	}
	while (reads != NULL) {
		struct pending *p = reads;
		reads = p->next;
		n->srv.reads_waiting--;
		if (status == 0 && n->srv.ready_term == raft_current_term(&n->raft))
			server_read_now(n, p);
		else
			server_finish(p, BERTH_ENOTLEADER);
	}
}

/* Appends a barrier when reads wait or this leader's term has none yet. */
static void server_maybe_barrier(struct node *n)
{
	struct server *s = &n->srv;
	if (s->barrier_inflight || !node_is_leader(n))
		return;
	if (s->reads_next == NULL && s->ready_term == raft_current_term(&n->raft))
		return;
	s->barrier.data = n;
	int rv = raft_barrier(&n->raft, &s->barrier, server_barrier_cb);
	if (rv != 0) {
		log_warn("raft_barrier: %s", raft_strerror(rv));
		return;
	}
	s->barrier_inflight = true;
	s->reads_cur = s->reads_next;
	s->reads_next = NULL;
}

static void server_status(struct conn *c, uint64_t id)
{
	struct wire_status st;
	member_status(c->node, &st);
	server_send(c, id, 0, NULL, 0, &st);
}

/* Constant time: a token check must not tell how many bytes matched. */
static bool server_token_ok(const struct node *n, struct bytes tok)
{
	size_t want = strlen(n->cfg.token);
	unsigned char diff = tok.n != want;
	for (size_t i = 0; i < want; i++)
		diff |= (unsigned char)(n->cfg.token[i] ^ (i < tok.n ? tok.p[i] : 0));
	return want == 0 || diff == 0;
}

static void server_hello(struct conn *c, const struct msg_req *r)
{
	if (r->type != MSG_REQ_HELLO) {
		server_send(c, r->id, BERTH_EUNAUTHORIZED, NULL, 0, NULL);
		server_conn_close(c);
		return;
	}
	if (r->proto != MSG_PROTOCOL_VERSION || !server_token_ok(c->node, r->token)) {
		if (r->proto == MSG_PROTOCOL_VERSION)
			log_warn("%s: wrong cluster token", c->peer);
		server_send(c, r->id,
			    r->proto != MSG_PROTOCOL_VERSION ? BERTH_EPROTO : BERTH_EUNAUTHORIZED,
			    NULL, 0, NULL);
		server_conn_close(c);
		return;
	}
	c->hello_ok = true;
	server_send(c, r->id, 0, NULL, 0, NULL);
}

/* Keepalives are the leader's alone and are not logged (store/ttl.h). */
static void server_keepalive(struct node *n, struct pending *p)
{
	struct mp_buf out;
	int64_t ttl_s = 0;
	if (!node_is_leader(n)) {
		server_finish(p, BERTH_ENOTLEADER);
		return;
	}
	int rv = ttl_keepalive(n, p->req.lease, &ttl_s);
	if (rv == BERTH_EUNAVAILABLE) { /* the leader has not confirmed its term yet */
		server_finish(p, rv);
		return;
	}
	mp_buf_init(&out);
	if (rv != 0) {
		reply_pack_error(&out.pk, rv, fsm_revision(&n->fsm));
	} else {
		msgpack_pack_map(&out.pk, 3);
		mp_pack_kv_u64(&out.pk, "id", p->req.lease);
		mp_pack_kv_i64(&out.pk, "ttl", ttl_s);
		mp_pack_kv_u64(&out.pk, "rev", fsm_revision(&n->fsm));
	}
	p->reply = mp_buf_take(&out, &p->reply_len);
	server_finish(p, mp_buf_error(&out));
}

/* WATCH and WATCH_CANCEL, answered by this member (store/watch.h). The reply is {id:
 * watch id, rev: the revision after which events start}; errors are request-level. */
static void server_watch(struct conn *c, struct pending *p)
{
	struct node *n = c->node;
	uint64_t wid = p->req.watch_id, start = fsm_revision(&n->fsm);
	struct mp_buf out;
	int rv;
	if (p->req.type == MSG_REQ_WATCH)
		rv = watch_create(n, c, &c->watchers, &p->req, &wid, &start);
	else
		rv = watch_cancel(n, &c->watchers, wid);
	if (rv != 0) {
		server_finish(p, rv);
		return;
	}
	mp_buf_init(&out);
	msgpack_pack_map(&out.pk, 2);
	mp_pack_kv_u64(&out.pk, "id", wid);
	mp_pack_kv_u64(&out.pk, "rev", start);
	p->reply = mp_buf_take(&out, &p->reply_len);
	server_finish(p, mp_buf_error(&out));
}

/* A request for the state machine: propose it, or queue or answer a read. The pending
 * struct takes the frame copy (reads keep it: the decoded request borrows from it). */
static void server_request(struct conn *c, const struct msg_req *r, uint8_t *frame)
{
	struct node *n = c->node;
	struct msg_cmd cmd = {.session = r->session, .seq = r->seq};
	struct pending *p = server_pending_new(c, r->id);
	if (p == NULL) {
		free(frame);
		server_send(c, r->id, BERTH_ENOMEM, NULL, 0, NULL);
		return;
	}
	p->frame = frame;
	p->req = *r;
	/* Leader-stamped wall-clock time: the state machine's clock (store/fsm.h). */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cmd.time_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	switch (r->type) {
	case MSG_REQ_TXN:
		if (!msg_txn_writes(&r->txn)) {
#ifdef BERTH_JEPSEN_BROKEN_READS
			/* The harness's proof of teeth (docs/jepsen.md): every read answered from
			 * this member's own state, leader or not. Only in build/berth-store-broken. */
			if (true) {
#else
			if (r->serializable) {
#endif
				server_read_now(n, p);
			} else if (!node_is_leader(n)) {
				server_finish(p, BERTH_ENOTLEADER);
			} else if (n->srv.reads_waiting >= n->cfg.max_pending) {
				server_finish(p, BERTH_EBUSY); /* each holds its frame */
			} else {
				p->next = n->srv.reads_next;
				n->srv.reads_next = p;
				n->srv.reads_waiting++;
				server_maybe_barrier(n);
			}
			return;
		}
		cmd.type = MSG_CMD_TXN;
		cmd.txn = r->txn;
		break;
	case MSG_REQ_COMPACT:
		cmd.type = MSG_CMD_COMPACT;
		cmd.rev = r->rev;
		break;
	case MSG_REQ_LEASE_GRANT:
		cmd.type = MSG_CMD_LEASE_GRANT;
		cmd.lease = r->lease;
		cmd.ttl = r->ttl;
		break;
	case MSG_REQ_LEASE_REVOKE:
		cmd.type = MSG_CMD_LEASE_REVOKE;
		cmd.lease = r->lease;
		break;
	case MSG_REQ_SESSION_OPEN:
		cmd.type = MSG_CMD_SESSION_OPEN;
		cmd.ttl = r->ttl > (int64_t)n->cfg.session_ttl_ms ? (int64_t)n->cfg.session_ttl_ms
								  : r->ttl;
		break;
	case MSG_REQ_LEASE_KEEPALIVE:
		server_keepalive(n, p);
		return;
	case MSG_REQ_WATCH:
	case MSG_REQ_WATCH_CANCEL:
		server_watch(c, p);
		return;
	case MSG_REQ_MEMBER_LIST:
	case MSG_REQ_MEMBER_ADD:
	case MSG_REQ_MEMBER_REMOVE:
	case MSG_REQ_MEMBER_TRANSFER:
		member_request(n, p); /* takes p */
		return;
	default:
		server_finish(p, BERTH_EBADREQ);
		return;
	}
	propose_cmd(n, p, &cmd);
}

int server_propose_internal(struct node *n, const struct msg_cmd *cmd, void (*done)(struct node *n))
{
	struct pending *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return BERTH_ENOMEM;
	p->node = n;
	p->done = done;
	propose_cmd(n, p, cmd);
	return 0;
}

static void server_frame(struct conn *c, const uint8_t *payload, size_t len)
{
	struct msg_req r;
	uint8_t *copy = malloc(len);
	if (copy == NULL) {
		server_send(c, 0, BERTH_ENOMEM, NULL, 0, NULL);
		server_conn_close(c);
		return;
	}
	memcpy(copy, payload, len);
	if (msg_req_decode(copy, len, &r) != 0) {
		free(copy);
		log_warn("%s: malformed request: closing", c->peer);
		server_send(c, 0, BERTH_EBADREQ, NULL, 0, NULL);
		server_conn_close(c);
		return;
	}
	if (!c->hello_ok) {
		server_hello(c, &r);
		msg_req_free(&r);
		free(copy);
		return;
	}
	if (r.type == MSG_REQ_STATUS || r.type == MSG_REQ_HELLO || r.type == MSG_REQ_SNAPSHOT) {
		if (r.type == MSG_REQ_STATUS)
			server_status(c, r.id);
		else if (r.type == MSG_REQ_SNAPSHOT)
			snapsend_start(c->node, c, r.id);
		else
			server_send(c, r.id, 0, NULL, 0, NULL);
		msg_req_free(&r);
		free(copy);
		return;
	}
	server_request(c, &r, copy); /* takes r's allocations and the copy */
}

static void server_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;
	(void)hint;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	size_t off = 0;
	if (nread < 0) {
		server_conn_close(c);
		return;
	}
	while (off < (size_t)nread && !c->closing) {
		size_t used;
		const uint8_t *payload;
		size_t len;
		int rv = frame_reader_feed(&c->reader, buf->base + off, (size_t)nread - off, &used);
		off += used;
		while (rv == 0 && !c->closing &&
		       (rv = frame_reader_next(&c->reader, &payload, &len)) == 0)
			server_frame(c, payload, len);
		if (rv != 0 && rv != BERTH_ENOTFOUND) {
			log_warn("%s: %s frame: closing", c->peer,
				 rv == BERTH_ETOOLARGE ? "oversized" : "bad");
			server_send(c, 0, rv, NULL, 0, NULL);
			server_conn_close(c);
			return;
		}
	}
}

static void server_accept(uv_stream_t *l, int status)
{
	struct node *n = l->data;
	struct sockaddr_storage sa;
	int salen = sizeof(sa);
	if (status != 0)
		return;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL || frame_reader_init(&c->reader, FRAME_MAX_DEFAULT) != 0) {
		free(c);
		return;
	}
	c->node = n;
	uv_tcp_init(n->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, server_conn_closed);
		return;
	}
	c->next = n->srv.conns;
	c->prevp = &n->srv.conns;
	if (c->next != NULL)
		c->next->prevp = &c->next;
	n->srv.conns = c;
	n->srv.nconns++;
	snprintf(c->peer, sizeof(c->peer), "client");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0 &&
	    sa.ss_family == AF_INET) {
		char ip[32];
		uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
			 ntohs(((struct sockaddr_in *)&sa)->sin_port));
	}
	if (n->srv.nconns > n->cfg.max_conns || n->stopping) {
		server_conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, server_alloc, server_read);
}

int server_start(struct node *n)
{
	char host[CONFIG_ADDR_MAX];
	int port, rv;
	struct sockaddr_in sa;
	mp_buf_init(&n->srv.qbuf);
	n->srv.qtail = &n->srv.qhead;
	config_split_addr(n->cfg.client_addr, host, sizeof(host), &port);
	if ((rv = uv_ip4_addr(host, port, &sa)) != 0) {
		log_error("--client-addr %s: %s (an IPv4 address is needed)", n->cfg.client_addr,
			  uv_strerror(rv));
		return BERTH_EBADREQ;
	}
	uv_tcp_init(n->loop, &n->srv.listener);
	n->srv.listener.data = n;
	if ((rv = uv_tcp_bind(&n->srv.listener, (struct sockaddr *)&sa, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&n->srv.listener, 512, server_accept)) != 0) {
		log_error("listen on %s: %s", n->cfg.client_addr, uv_strerror(rv));
		uv_close((uv_handle_t *)&n->srv.listener, NULL);
		return BERTH_EIO;
	}
	n->srv.listening = true;
	return 0;
}

void server_stop(struct node *n)
{
	watch_stop(n);
	if (n->srv.listening) {
		uv_close((uv_handle_t *)&n->srv.listener, NULL);
		n->srv.listening = false;
	}
	while (n->srv.conns != NULL)
		server_conn_close(n->srv.conns);
}

void server_drain(struct node *n)
{
	propose_drain(n);
	struct pending *lists[3] = {n->srv.commit_wait, n->srv.reads_next, n->srv.reads_cur};
	n->srv.commit_wait = n->srv.reads_next = n->srv.reads_cur = NULL;
	n->srv.reads_waiting = 0;
	for (int i = 0; i < 3; i++) {
		while (lists[i] != NULL) {
			struct pending *p = lists[i];
			lists[i] = p->next;
			server_pending_free(p); /* connections are gone: nobody to answer */
		}
	}
}

void server_iteration(struct node *n)
{
	struct server *s = &n->srv;
	propose_flush(n);
	uint64_t committed = rfsm_committed(&n->rfsm);
	struct pending **pp = &s->commit_wait;
	while (*pp != NULL) {
		struct pending *p = *pp;
		if (p->batch < committed) {
			*pp = p->next;
			server_finish(p, 0);
		} else {
			pp = &p->next;
		}
	}
	if (!node_is_leader(n)) {
		/* Reads that wait for a barrier fail when the barrier does; queued ones now. */
		while (s->reads_next != NULL) {
			struct pending *p = s->reads_next;
			s->reads_next = p->next;
			s->reads_waiting--;
			server_finish(p, BERTH_ENOTLEADER);
		}
	}
	server_maybe_barrier(n);
	watch_iteration(n);
	snapsend_tick(n);
}
