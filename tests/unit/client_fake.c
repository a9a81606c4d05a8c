/* tests/unit/client_fake.c: scripted fake berth-store nodes (see client_fake.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/client_fake.h"

#include "common/err.h"
#include "common/frame.h"
#include "common/msg.h"
#include "common/reply.h"
#include "common/wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKE_POLL_MS 10

static int fake_listen(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

uint16_t fake_dead_port(void)
{
	uint16_t port;
	close(fake_listen(&port));
	return port;
}

static void fake_send(int fd, const uint8_t *p, size_t n)
{
	uint8_t hdr[FRAME_HEADER_BYTES];
	assert_int_equal(frame_encode_header(n, FRAME_MAX_DEFAULT, hdr), 0);
	/* The client may have gone already: errors are fine, SIGPIPE is not. */
	(void)send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL);
	(void)send(fd, p, n, MSG_NOSIGNAL);
}

/* Sends the answers held back, newest first. */
static void fake_release(struct fake *f)
{
	while (f->nheld > 0) {
		struct fake_held *h = &f->held[--f->nheld];
		fake_send(h->fd, h->frame, h->len);
		free(h->frame);
	}
}

static void fake_respond_as(struct fake *f, int fd, uint64_t id, int err, const char *leader,
			    const struct mp_buf *reply, const struct wire_status *st, bool hold)
{
	struct wire_header h = {.rev = f->rev, .term = 2, .index = 10, .member = 1};
	struct mp_buf b;
	mp_buf_init(&b);
	wire_resp_pack(&b, id, err, leader, &h, reply ? reply->data : NULL, reply ? reply->len : 0,
		       st);
	assert_int_equal(mp_buf_error(&b), 0);
	if (!hold) {
		fake_send(fd, b.data, b.len);
		mp_buf_close(&b);
		return;
	}
	assert_true(f->hold <= FAKE_HOLD_MAX);
	struct fake_held *held = &f->held[f->nheld++];
	held->fd = fd;
	held->session = 0;
	held->frame = mp_buf_take(&b, &held->len);
	if (f->nheld == f->hold)
		fake_release(f);
}

static void fake_respond(struct fake *f, int fd, uint64_t id, int err, const char *leader,
			 const struct mp_buf *reply, const struct wire_status *st)
{
	fake_respond_as(f, fd, id, err, leader, reply, st, false);
}

/* The reply to a txn: one result per success op. */
static void fake_txn_reply(struct fake *f, const struct msg_req *r, struct mp_buf *out)
{
	msgpack_packer *pk = &out->pk;
	bool writes = msg_txn_writes(&r->txn);
	if (writes)
		f->rev++;
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "rev", f->rev);
	mp_pack_kv_bool(pk, "ok", 1);
	mp_pack_cstr(pk, "r");
	msgpack_pack_array(pk, r->txn.nsucc);
	for (uint32_t i = 0; i < r->txn.nsucc; i++) {
		const struct msg_op *op = &r->txn.succ[i];
		struct reply_kv kv = {.key = op->key,
				      .value = {(const uint8_t *)"val", 3},
				      .create_rev = 1,
				      .mod_rev = 2,
				      .version = 3};
		msgpack_pack_map(pk, op->type == MSG_OP_RANGE ? 3 : 1);
		mp_pack_kv_u64(pk, "t", op->type);
		if (op->type == MSG_OP_RANGE) {
			mp_pack_cstr(pk, "kvs");
			msgpack_pack_array(pk, 1);
			reply_pack_kv(pk, &kv, false);
			mp_pack_kv_u64(pk, "n", 1);
		}
	}
}

/* FAKE_ODD_FRAMES: a pushed watch frame (a progress notification for watch 5), then a
 * stream chunk for the first txn, the real answer for later ones. */
static void fake_odd_frames(struct fake *f, int fd, const struct msg_req *r)
{
	struct wire_header h = {.rev = f->rev, .term = 2, .index = 10, .member = 1};
	struct wire_watch w = {.id = 5, .rev = f->rev};
	struct mp_buf b;
	mp_buf_init(&b);
	wire_watch_pack(&b, &h, &w, NULL, 0);
	assert_int_equal(mp_buf_error(&b), 0);
	fake_send(fd, b.data, b.len);
	mp_buf_reset(&b);
	if (!f->chunk_sent) {
		f->chunk_sent = 1;
		wire_chunk_pack(&b, r->id, &h, 0, (const uint8_t *)"x", 1);
		assert_int_equal(mp_buf_error(&b), 0);
		fake_send(fd, b.data, b.len);
	} else {
		fake_txn_reply(f, r, &b);
		fake_respond(f, fd, r->id, 0, NULL, &b, NULL);
	}
	mp_buf_close(&b);
}

/* Handles one request; returns 0 to keep the connection, -1 to close it. */
static int fake_handle(struct fake *f, int fd, const uint8_t *p, size_t n)
{
	struct msg_req r;
	struct mp_buf reply;
	int keep = 0;

	assert_int_equal(msg_req_decode(p, n, &r), 0);
	atomic_fetch_add(&f->received, 1);
	if (f->nlog < FAKE_LOG_MAX) {
		struct fake_req *l = &f->log[f->nlog++];
		l->type = r.type;
		l->id = r.id;
		l->session = r.session;
		l->seq = r.seq;
		l->op_type = r.type == MSG_REQ_TXN && r.txn.nsucc ? r.txn.succ[0].type : 0xff;
	}
	mp_buf_init(&reply);
	bool sessioned_txn = r.type == MSG_REQ_TXN && r.session != 0;
	if (r.type == MSG_REQ_HELLO) {
		bool bad = f->token != NULL && (r.token.n != strlen(f->token) ||
						memcmp(r.token.p, f->token, r.token.n) != 0);
		fake_respond(f, fd, r.id, bad ? BERTH_EUNAUTHORIZED : 0, NULL, NULL, NULL);
		keep = bad ? -1 : 0;
	} else if (f->mode == FAKE_NOTLEADER) {
		fake_respond(f, fd, r.id, BERTH_ENOTLEADER, f->leader[0] ? f->leader : NULL, NULL,
			     NULL);
	} else if (r.type == MSG_REQ_SESSION_OPEN) {
		msgpack_pack_map(&reply.pk, 2);
		mp_pack_kv_u64(&reply.pk, "id", f->session_id++);
		mp_pack_kv_i64(&reply.pk, "ttl", r.ttl);
		fake_respond(f, fd, r.id, 0, NULL, &reply, NULL);
	} else if (f->mode == FAKE_CLOSE_ON_WRITE &&
		   (sessioned_txn || r.type == MSG_REQ_MEMBER_ADD ||
		    r.type == MSG_REQ_MEMBER_REMOVE || r.type == MSG_REQ_MEMBER_TRANSFER)) {
		keep = -1;
	} else if (f->mode == FAKE_SILENT) {
		/* no answer */
	} else if (f->mode == FAKE_MALFORMED && r.type == MSG_REQ_TXN) {
		static const uint8_t junk[] = {0xc1, 0x00, 0x17};
		fake_send(fd, junk, sizeof(junk));
	} else if (sessioned_txn && (f->mode == FAKE_ESESSION ||
				     (f->mode == FAKE_ESESSION_FIRST && !f->esession_sent))) {
		f->esession_sent = 1;
		reply_pack_error(&reply.pk, BERTH_ESESSION, f->rev);
		fake_respond(f, fd, r.id, 0, NULL, &reply, NULL);
	} else if (f->mode == FAKE_ODD_FRAMES && r.type == MSG_REQ_TXN) {
		fake_odd_frames(f, fd, &r);
	} else if (r.type == MSG_REQ_TXN) {
		for (unsigned i = 0; i < f->nheld && r.session != 0; i++)
			f->overlaps += f->held[i].session == r.session;
		fake_txn_reply(f, &r, &reply);
		fake_respond_as(f, fd, r.id, 0, NULL, &reply, NULL, f->hold > 0);
		if (f->nheld > 0)
			f->held[f->nheld - 1].session = r.session;
	} else if (r.type == MSG_REQ_STATUS) {
		struct wire_status st = {.id = 1,
					 .state = WIRE_LEADER,
					 .term = 2,
					 .rev = f->rev,
					 .leader = 1,
					 .nmembers = 1};
		st.client.p = (const uint8_t *)f->addr;
		st.client.n = strlen(f->addr);
		st.members[0].id = 1;
		st.members[0].client = st.client;
		fake_respond(f, fd, r.id, 0, NULL, NULL, &st);
	} else {
		fake_respond(f, fd, r.id, BERTH_EBADREQ, NULL, NULL, NULL);
	}
	mp_buf_close(&reply);
	msg_req_free(&r);
	return keep;
}

#define FAKE_CONNS 8

struct fake_conn {
	int fd; /* -1: free */
	struct frame_reader rd;
};

/* Reads what one connection has; returns -1 when it must close. */
static int fake_read(struct fake *f, struct fake_conn *c)
{
	uint8_t buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return -1;
	for (size_t off = 0; off < (size_t)n;) {
		const uint8_t *p;
		size_t used, len;
		assert_int_equal(frame_reader_feed(&c->rd, buf + off, (size_t)n - off, &used), 0);
		off += used;
		while (frame_reader_next(&c->rd, &p, &len) == 0)
			if (fake_handle(f, c->fd, p, len) != 0)
				return -1;
	}
	return 0;
}

/* Serves up to FAKE_CONNS connections at once, until stop. */
static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct fake_conn cs[FAKE_CONNS];
	for (int i = 0; i < FAKE_CONNS; i++)
		cs[i].fd = -1;
	while (!atomic_load(&f->stop)) {
		struct pollfd pfd[FAKE_CONNS + 1] = {{.fd = f->lfd, .events = POLLIN}};
		for (int i = 0; i < FAKE_CONNS; i++)
			pfd[i + 1] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
		/* Held answers go as soon as the client pauses (or hold of them wait). */
		if (poll(pfd, FAKE_CONNS + 1, f->nheld > 0 ? 0 : FAKE_POLL_MS) <= 0) {
			fake_release(f);
			continue;
		}
		for (int i = 0; i < FAKE_CONNS; i++) {
			if (cs[i].fd < 0 || pfd[i + 1].revents == 0 || fake_read(f, &cs[i]) == 0)
				continue;
			frame_reader_close(&cs[i].rd);
			close(cs[i].fd);
			cs[i].fd = -1;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		for (int i = 0; i < FAKE_CONNS; i++) {
			if (cs[i].fd >= 0)
				continue;
			if ((cs[i].fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
				f->conns++;
				assert_int_equal(frame_reader_init(&cs[i].rd, FRAME_MAX_DEFAULT),
						 0);
			}
			break;
		}
	}
	for (int i = 0; i < FAKE_CONNS; i++) {
		if (cs[i].fd >= 0) {
			frame_reader_close(&cs[i].rd);
			close(cs[i].fd);
		}
	}
	return NULL;
}

void fake_start(struct fake *f, enum fake_mode mode)
{
	uint16_t port;
	f->mode = mode;
	if (f->session_id == 0)
		f->session_id = 42;
	f->lfd = fake_listen(&port);
	assert_int_equal(listen(f->lfd, 16), 0);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", port);
	atomic_store(&f->stop, 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	for (unsigned i = 0; i < f->nheld; i++)
		free(f->held[i].frame);
	f->nheld = 0;
	close(f->lfd);
	f->lfd = -1;
}

size_t fake_count(const struct fake *f, uint8_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nlog; i++)
		n += f->log[i].type == type;
	return n;
}

const struct fake_req *fake_nth(const struct fake *f, uint8_t type, size_t index)
{
	for (size_t i = 0; i < f->nlog; i++)
		if (f->log[i].type == type && index-- == 0)
			return &f->log[i];
	fail_msg("no request %zu of type %u", index, type);
	return NULL;
}
