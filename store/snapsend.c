/* store/snapsend.c: the backup stream of MSG_REQ_SNAPSHOT, chunk by chunk as the
 * connection drains (store/snapsend.h). */
#include "store/snapsend.h"

#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "store/node.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct snapsend {
	struct node *node;
	struct conn *conn; /* NULL once the connection is gone */
	char peer[64];
	uint64_t id;
	struct fsm_snapshot *snap; /* NULL once released */
	struct fsm_meta at;        /* the state the stream holds */
	uint8_t *buf;              /* owned: one chunk */
	uint64_t off;              /* bytes of the stream produced so far */
	uLong crc;
	unsigned inflight;    /* frames handed to libuv, not called back yet */
	uint64_t progress_ms; /* loop time of the start or of the last write done */
	struct snapsend *next, **prevp;
};

/* Ends the transfer's hold on the database: the read transaction and its slot. */
static void snapsend_release(struct snapsend *s)
{
	if (s->snap == NULL)
		return;
	fsm_snapshot_close(s->snap);
	s->snap = NULL;
	s->node->srv.nsends--;
	free(s->buf);
	s->buf = NULL;
}

/* Frees s once nothing refers to it any more. */
static void snapsend_maybe_free(struct snapsend *s)
{
	if (s->snap != NULL || s->inflight > 0)
		return;
	*s->prevp = s->next;
	if (s->next != NULL)
		s->next->prevp = s->prevp;
	free(s);
}

static void snapsend_written(void *arg, int status);

/* Frames the packed map in b (which starts with 4 bytes for the header) and queues it. */
static int snapsend_queue(struct snapsend *s, struct mp_buf *b)
{
	size_t len;
	if (mp_buf_error(b) != 0 || frame_encode_header(b->len - 4, FRAME_MAX_DEFAULT, b->data)) {
		mp_buf_close(b);
		return BERTH_ENOMEM;
	}
	uint8_t *data = mp_buf_take(b, &len);
	int rv = server_conn_write(s->conn, data, len, snapsend_written, s);
	if (rv == 0)
		s->inflight++;
	return rv;
}

/* The stream is over: its end, or an error frame, and the read transaction goes. */
static void snapsend_end(struct snapsend *s, int err)
{
	static const uint8_t hdr[4];
	struct wire_header h;
	struct mp_buf b;
	struct wire_snap end = {s->off, (uint32_t)s->crc, s->at.rev, s->at.applied};
	snapsend_release(s);
	node_header(s->node, &h);
	mp_buf_init(&b);
	mp_buf_append(&b, hdr, 4);
	if (err != 0)
		wire_resp_pack(&b, s->id, err, NULL, &h, NULL, 0, NULL);
	else
		wire_snap_pack(&b, s->id, &h, &end);
	if (snapsend_queue(s, &b) != 0)
		log_warn("%s: snapshot %llu: the last frame could not be queued", s->peer,
			 (unsigned long long)s->id);
	else if (err == 0)
		log_info("%s: snapshot sent: %llu bytes, revision %llu, applied %llu", s->peer,
			 (unsigned long long)s->off, (unsigned long long)s->at.rev,
			 (unsigned long long)s->at.applied);
}

/* Produces chunks while the window has room. */
static void snapsend_pump(struct snapsend *s)
{
	static const uint8_t hdr[4];
	while (s->conn != NULL && s->snap != NULL && s->inflight < SNAPSEND_WINDOW) {
		struct wire_header h;
		struct mp_buf b;
		size_t n;
		int rv = fsm_snapshot_read(s->snap, s->buf, SNAPSEND_CHUNK, &n);
		if (rv != 0) {
			log_error("%s: snapshot %llu: %s: %s", s->peer, (unsigned long long)s->id,
				  err_name(rv), s->node->fsm.kv.errmsg);
			snapsend_end(s, BERTH_EIO);
			return;
		}
		if (n == 0) {
			snapsend_end(s, 0);
			return;
		}
		node_header(s->node, &h);
		mp_buf_init(&b);
		mp_buf_append(&b, hdr, 4);
		wire_chunk_pack(&b, s->id, &h, s->off, s->buf, n);
		if ((rv = snapsend_queue(s, &b)) != 0) {
			log_warn("%s: snapshot %llu: %s: giving up", s->peer,
				 (unsigned long long)s->id, err_name(rv));
			snapsend_release(s);
			return;
		}
		s->crc = crc32(s->crc, s->buf, (uInt)n);
		s->off += n;
	}
}

static void snapsend_written(void *arg, int status)
{
	struct snapsend *s = arg;
	s->inflight--;
	if (status == 0) {
		s->progress_ms = uv_now(s->node->loop);
		snapsend_pump(s);
	}
	snapsend_maybe_free(s);
}

void snapsend_start(struct node *n, struct conn *c, uint64_t id)
{
	struct snapsend *s;
	int rv;
	if (n->srv.nsends >= n->cfg.max_snapshot_sends) {
		server_conn_error(c, id, BERTH_EBUSY);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->buf = malloc(SNAPSEND_CHUNK)) == NULL) {
		free(s);
		server_conn_error(c, id, BERTH_ENOMEM);
		return;
	}
	if ((rv = fsm_snapshot_open(&n->fsm, &s->snap, &s->at)) != 0) {
		log_error("%s: snapshot: %s: %s", server_conn_peer(c), err_name(rv),
			  n->fsm.kv.errmsg);
		free(s->buf);
		free(s);
		server_conn_error(c, id, rv == BERTH_ENOMEM ? rv : BERTH_EIO);
		return;
	}
	s->node = n;
	s->conn = c;
	s->id = id;
	s->crc = crc32(0, Z_NULL, 0);
	s->progress_ms = uv_now(n->loop);
	snprintf(s->peer, sizeof(s->peer), "%s", server_conn_peer(c));
	s->next = n->srv.sends;
	s->prevp = &n->srv.sends;
	if (s->next != NULL)
		s->next->prevp = &s->next;
	n->srv.sends = s;
	n->srv.nsends++;
	log_info("%s: snapshot %llu: sending revision %llu, applied %llu", s->peer,
		 (unsigned long long)id, (unsigned long long)s->at.rev,
		 (unsigned long long)s->at.applied);
	snapsend_pump(s);
	snapsend_maybe_free(s);
}

void snapsend_conn_gone(struct node *n, struct conn *c)
{
	struct snapsend *s = n->srv.sends;
	while (s != NULL) {
		struct snapsend *next = s->next;
		if (s->conn == c) {
			if (s->snap != NULL)
				log_warn("%s: snapshot %llu: the client went away after %llu bytes",
					 s->peer, (unsigned long long)s->id,
					 (unsigned long long)s->off);
			s->conn = NULL;
			snapsend_release(s);
			snapsend_maybe_free(s); /* its writes are still called back: kept */
		}
		s = next;
	}
}

void snapsend_tick(struct node *n)
{
	uint64_t now = uv_now(n->loop);
	/* Closing a connection changes the list: look again from its start each time. */
	for (unsigned round = 0; round <= n->cfg.max_snapshot_sends; round++) {
		struct snapsend *s = n->srv.sends;
		while (s != NULL && (s->snap == NULL || s->conn == NULL ||
				     now - s->progress_ms < n->cfg.snapshot_idle_ms))
			s = s->next;
		if (s == NULL)
			return;
		log_warn("%s: snapshot %llu: no chunk taken for %llu ms: closing", s->peer,
			 (unsigned long long)s->id, (unsigned long long)(now - s->progress_ms));
		server_conn_drop(s->conn);
	}
}
