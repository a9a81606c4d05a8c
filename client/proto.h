/* client/proto.h: the client side of the wire protocol, without any I/O (sans-I/O core).
 *
 * One struct proto per connection. It numbers requests, encodes them into frames, reads
 * response frames out of whatever bytes the transport hands it, decodes them and matches
 * them to the requests still waiting, in any order. The blocking transport (client/berth.c)
 * and the libuv one drive the same core:
 *
 *	proto_encode(&p, &req, &out, ctx);     write out.data[0..out.len) to the socket
 *	on each read of n bytes at buf:
 *		while (n > 0) {
 *			if (proto_feed(&p, buf, n, &used) != 0) close the connection;
 *			buf += used, n -= used;
 *			while ((rv = proto_next(&p, &resp)) == 0) handle(&resp), free it;
 *			if (rv != BERTH_ENOTFOUND) close the connection;
 *		}
 *	on close: while (proto_pending_pop(&p, &id, &ctx) == 0) fail(ctx);
 *
 * Request ids start at 1 and only go up (0 is the server's "this connection" id: a
 * response with id 0 reports a connection-level error, e.g. a frame it could not parse,
 * and the server closes right after). The pending table is an open-addressing hash on
 * the id, so any number of requests may be in flight. */
#ifndef BERTH_CLIENT_PROTO_H
#define BERTH_CLIENT_PROTO_H

#include "common/frame.h"
#include "common/msg.h"
#include "common/wire.h"

#include <stddef.h>
#include <stdint.h>

struct proto_slot {
	uint64_t id; /* 0: empty */
	void *ctx;
};

/* Fields are private: use the functions. */
struct proto {
	struct frame_reader reader;
	size_t max_frame_bytes;
	uint64_t next_id;
	struct proto_slot *slots; /* owned; power-of-two size, at most half full */
	size_t nslots;
	size_t npending;
};

/* A decoded response. `resp` borrows from `frame`, which the response owns. */
struct proto_resp {
	uint8_t *frame; /* owned: the frame's payload */
	size_t len;
	struct wire_resp resp;
	void *ctx; /* the request's ctx; NULL for id 0 */
};

/* Prepares p (caller's memory). max_frame_bytes caps a response (0: FRAME_MAX_DEFAULT).
 * 0 or BERTH_EBADREQ (bad cap); nothing to clean up on failure. */
int proto_init(struct proto *p, size_t max_frame_bytes);
/* Frees everything; pending ctx pointers are forgotten (pop them first if they matter). */
void proto_close(struct proto *p);
/* For a new connection: empties the reader and the pending table. Ids keep increasing,
 * so a late answer from an old connection can never match a new request. */
void proto_reset(struct proto *p);

/* Gives r the next id (r->id is overwritten), registers it as pending with ctx and appends
 * one frame (header and payload) to out. 0; BERTH_ENOMEM; BERTH_ETOOLARGE when the request
 * exceeds the frame cap (nothing registered, out as it was). */
int proto_encode(struct proto *p, struct msg_req *r, struct mp_buf *out, void *ctx);

/* Hands bytes read from the socket to the frame reader (common/frame.h: frame_reader_feed).
 * 0, or an error after which the connection must be closed. */
int proto_feed(struct proto *p, const void *data, size_t n, size_t *consumed);

/* Takes the next complete response: 0 with *out filled (free it with proto_resp_free).
 * A response to a pending id removes it from the table and gives back its ctx; a
 * response with id 0 (a connection-level error) has ctx NULL and leaves the table alone.
 * A response to an abandoned id (proto_pending_abandon) removes it and has ctx NULL.
 * A frame of a stream that goes on (out->resp.more, common/wire.h) gives back its ctx and
 * leaves the id pending: the stream's last frame (no `more`) removes it.
 * BERTH_ENOTFOUND: need more bytes. BERTH_EBADREQ: a malformed response, or one whose id
 * is neither 0 nor pending; BERTH_ETOOLARGE: an oversized frame; BERTH_ENOMEM (the frame
 * is lost). After any error but BERTH_ENOTFOUND the connection must be closed. */
int proto_next(struct proto *p, struct proto_resp *out);
void proto_resp_free(struct proto_resp *r);

/* Forgets one pending id (the caller gave up on it): 0, or BERTH_ENOTFOUND. A later
 * response with that id is then a protocol error, so abandon only on connections that
 * are about to close, or keep the id pending with a ctx that ignores the answer. */
int proto_pending_remove(struct proto *p, uint64_t id, void **ctx);
/* Keeps id pending but forgets its ctx (the caller gave up on it while the connection
 * stays open): its response, when it comes, is returned with ctx NULL and id non-zero,
 * to be dropped. 0, or BERTH_ENOTFOUND. */
int proto_pending_abandon(struct proto *p, uint64_t id);
/* Takes any one pending request out (to fail them all on close): 0 or BERTH_ENOTFOUND. */
int proto_pending_pop(struct proto *p, uint64_t *id, void **ctx);
size_t proto_pending_count(const struct proto *p);

#endif
