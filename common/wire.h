/* common/wire.h: what the server sends back: the response envelope and node status.
 *
 * Every response is one frame (common/frame.h) holding a msgpack map:
 *   {id: request id, err: request-level error (absent = ok), leader: "host:port" (with
 *    BERTH_ENOTLEADER, when the leader is known), h: header, r: reply (common/reply.h),
 *    st: status}
 * The header {rev, term, index, member, leader} says which revision the answer reflects,
 * the answering member's raft term and applied index, its id and the leader it knows.
 * Watch frames are pushed, not answers: {id: 0, h, w: watch} (below). A frame with id 0
 * and no `w` is a connection-level error.
 * A request-level error means the request did not reach the state machine on this node
 * (not leader, unavailable, bad request, too large, unauthorized...); err_indeterminate()
 * tells whether it may still take effect. A reply's own err is the state machine's answer.
 * docs/protocol.md has the whole protocol. Decoding borrows from the input buffer.
 *
 * Streams. A request may be answered by several frames with its id: every frame but the
 * last carries `more: true` and the last does not (proto.h keeps the id pending until
 * then). The one stream today is a snapshot (MSG_REQ_SNAPSHOT): chunks
 *   {id, h, more: true, off: offset of the chunk in the stream, chunk: bin}
 * in order and without gaps, then {id, h, snap: {size, crc, rev, applied}}: the stream's
 * length, the CRC-32 (zlib's) of all its bytes, and the revision and applied index of the
 * state it holds. A stream the node has to give up ends with {id, err} instead. */
#ifndef BERTH_COMMON_WIRE_H
#define BERTH_COMMON_WIRE_H

#include "common/reply.h"

struct wire_header {
	uint64_t rev;
	uint64_t term;
	uint64_t index;
	uint64_t member;
	uint64_t leader;
};

enum wire_role { WIRE_VOTER = 0, WIRE_STANDBY, WIRE_SPARE, WIRE_ROLE_COUNT };
enum wire_state {
	WIRE_FOLLOWER = 0,
	WIRE_CANDIDATE,
	WIRE_LEADER,
	WIRE_UNAVAILABLE,
	WIRE_STATE_COUNT
};

struct wire_member {
	uint64_t id;
	struct bytes peer;   /* raft address */
	struct bytes client; /* client API address */
	uint8_t role;        /* enum wire_role */
};

#define WIRE_MAX_MEMBERS 64

struct wire_status {
	uint64_t id;
	struct bytes peer;
	struct bytes client;
	uint8_t state; /* enum wire_state */
	uint64_t term;
	uint64_t commit;
	uint64_t applied;
	uint64_t rev;
	uint64_t compacted;
	uint64_t leader;
	uint32_t nmembers;
	struct wire_member members[WIRE_MAX_MEMBERS];
};

/* One change seen by a watch: a put (MSG_OP_PUT) or a delete (MSG_OP_DEL; kv.mod_rev is
 * the deletion's revision, version 0, no value). */
struct wire_event {
	uint8_t type;
	struct reply_kv kv;
};

/* A pushed watch frame: w = {id, rev, more?, ev: [event], err?, crev?}.
 *   id    the watch (the id the WATCH request's reply carried)
 *   rev   every change at or below rev has been sent on this watch: the resume point
 *   ev    the matching changes after the previous frame's rev, in revision order (changes
 *         of one revision in the order the transaction made them)
 *   more  the last revision's changes continue in the next frame (one revision larger
 *         than a frame); rev then stays below that revision until its last part
 *   err   the watch is cancelled (BERTH_ECOMPACTED with crev the compaction revision,
 *         BERTH_EWATCHOVERFLOW, BERTH_ENOQUORUM...): no frame follows for it
 * A frame without events is a progress notification: nothing more up to rev. */
struct wire_watch {
	uint64_t id;
	uint64_t rev;
	bool more;
	int err;
	uint64_t compacted;
	uint32_t nevents;
	struct wire_event *events; /* owned when decoded */
};

/* The end of a snapshot stream. */
struct wire_snap {
	uint64_t size;
	uint32_t crc;
	uint64_t rev;
	uint64_t applied;
};

/* Bounds the decoder enforces on a chunk (the frame cap bounds it anyway). */
#define WIRE_CHUNK_MAX ((size_t)2 << 20)

struct wire_resp {
	uint64_t id;
	int err;
	bool more;          /* not the last frame for this id */
	uint64_t off;       /* with chunk */
	struct bytes chunk; /* a piece of a stream (n == 0: none) */
	bool has_snap;
	struct wire_snap snap;
	struct bytes leader;
	struct wire_header hdr;
	bool has_reply;
	struct reply reply;
	bool has_status;
	struct wire_status status;
	bool has_watch; /* a pushed watch frame (id 0) */
	struct wire_watch watch;
};

/* Appends one response map to b. reply (may be NULL) is an already encoded reply map,
 * copied as is; leader may be NULL; st may be NULL. */
void wire_resp_pack(struct mp_buf *b, uint64_t id, int err, const char *leader,
		    const struct wire_header *h, const uint8_t *reply, size_t reply_len,
		    const struct wire_status *st);
/* Appends one watch frame's map to b: w's fields but its events, which come already
 * packed (nevents wire_event_pack maps in events[0..events_len)). */
void wire_watch_pack(struct mp_buf *b, const struct wire_header *h, const struct wire_watch *w,
		     const uint8_t *events, size_t events_len);
/* Appends one event map {t, k, v?, c, m, ver, l}. */
void wire_event_pack(msgpack_packer *pk, const struct wire_event *e);

/* 0, BERTH_EBADREQ or BERTH_ENOMEM; nothing to free on failure. */
/* One frame of a snapshot stream: a chunk (n at most WIRE_CHUNK_MAX), or its end. */
void wire_chunk_pack(struct mp_buf *b, uint64_t id, const struct wire_header *h, uint64_t off,
		     const uint8_t *p, size_t n);
void wire_snap_pack(struct mp_buf *b, uint64_t id, const struct wire_header *h,
		    const struct wire_snap *s);
/* 0, BERTH_EBADREQ or BERTH_ENOMEM; nothing to free on failure. A frame with `more` must
 * carry a chunk and nothing else; `snap` must not come with `more`. */
int wire_resp_decode(const uint8_t *buf, size_t n, struct wire_resp *r);
void wire_resp_free(struct wire_resp *r);

const char *wire_state_name(uint8_t state);
const char *wire_role_name(uint8_t role);

#endif
