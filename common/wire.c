/* common/wire.c: the response envelope and node status: encoding, hostile decoding. */
#include "common/wire.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static void wire_header_pack(msgpack_packer *pk, const struct wire_header *h)
{
	msgpack_pack_map(pk, 5);
	mp_pack_kv_u64(pk, "rev", h->rev);
	mp_pack_kv_u64(pk, "term", h->term);
	mp_pack_kv_u64(pk, "index", h->index);
	mp_pack_kv_u64(pk, "member", h->member);
	mp_pack_kv_u64(pk, "leader", h->leader);
}

static void wire_status_pack(msgpack_packer *pk, const struct wire_status *s)
{
	msgpack_pack_map(pk, 12);
	mp_pack_kv_u64(pk, "id", s->id);
	mp_pack_kv_bin(pk, "peer", s->peer.p, s->peer.n);
	mp_pack_kv_bin(pk, "client", s->client.p, s->client.n);
	mp_pack_kv_u64(pk, "state", s->state);
	mp_pack_kv_u64(pk, "term", s->term);
	mp_pack_kv_u64(pk, "commit", s->commit);
	mp_pack_kv_u64(pk, "applied", s->applied);
	mp_pack_kv_u64(pk, "rev", s->rev);
	mp_pack_kv_u64(pk, "compacted", s->compacted);
	mp_pack_kv_u64(pk, "leader", s->leader);
	mp_pack_cstr(pk, "members");
	msgpack_pack_array(pk, s->nmembers);
	for (uint32_t i = 0; i < s->nmembers; i++) {
		const struct wire_member *m = &s->members[i];
		msgpack_pack_map(pk, 4);
		mp_pack_kv_u64(pk, "id", m->id);
		mp_pack_kv_bin(pk, "peer", m->peer.p, m->peer.n);
		mp_pack_kv_bin(pk, "client", m->client.p, m->client.n);
		mp_pack_kv_u64(pk, "role", m->role);
	}
	mp_pack_kv_u64(pk, "v", 1);
}

void wire_resp_pack(struct mp_buf *b, uint64_t id, int err, const char *leader,
		    const struct wire_header *h, const uint8_t *reply, size_t reply_len,
		    const struct wire_status *st)
{
	msgpack_packer *pk = &b->pk;
	msgpack_pack_map(pk, 2 + (err != 0) + (leader != NULL) + (reply != NULL) + (st != NULL));
	mp_pack_kv_u64(pk, "id", id);
	if (err != 0)
		mp_pack_kv_i64(pk, "err", err);
	if (leader != NULL)
		mp_pack_kv_bin(pk, "leader", leader, strlen(leader));
	mp_pack_cstr(pk, "h");
	wire_header_pack(pk, h);
	if (reply != NULL) {
		mp_pack_cstr(pk, "r");
		mp_buf_append(b, reply, reply_len); /* already one msgpack map */
	}
	if (st != NULL) {
		mp_pack_cstr(pk, "st");
		wire_status_pack(pk, st);
	}
}

void wire_event_pack(msgpack_packer *pk, const struct wire_event *e)
{
	bool put = e->type == MSG_OP_PUT;
	msgpack_pack_map(pk, 6 + put);
	mp_pack_kv_u64(pk, "t", e->type);
	mp_pack_kv_bin(pk, "k", e->kv.key.p, e->kv.key.n);
	if (put)
		mp_pack_kv_bin(pk, "v", e->kv.value.p, e->kv.value.n);
	mp_pack_kv_i64(pk, "c", e->kv.create_rev);
	mp_pack_kv_i64(pk, "m", e->kv.mod_rev);
	mp_pack_kv_i64(pk, "ver", e->kv.version);
	mp_pack_kv_u64(pk, "l", e->kv.lease);
}

void wire_watch_pack(struct mp_buf *b, const struct wire_header *h, const struct wire_watch *w,
		     const uint8_t *events, size_t events_len)
{
	msgpack_packer *pk = &b->pk;
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "id", 0);
	mp_pack_cstr(pk, "h");
	wire_header_pack(pk, h);
	mp_pack_cstr(pk, "w");
	msgpack_pack_map(pk, 3 + w->more + (w->err != 0) + (w->compacted != 0));
	mp_pack_kv_u64(pk, "id", w->id);
	mp_pack_kv_u64(pk, "rev", w->rev);
	if (w->more)
		mp_pack_kv_bool(pk, "more", 1);
	if (w->err != 0)
		mp_pack_kv_i64(pk, "err", w->err);
	if (w->compacted != 0)
		mp_pack_kv_u64(pk, "crev", w->compacted);
	mp_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, w->nevents);
	mp_buf_append(b, events, events_len);
}

static int wire_watch_unpack(const msgpack_object *o, struct wire_watch *w)
{
	int64_t err;
	int more = 0;
	const msgpack_object *m, *ev;
	if (o->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(o, "id"), &w->id) ||
	    w->id == 0 || mp_get_u64(mp_map_get(o, "rev"), &w->rev) ||
	    mp_opt_i64(o, "err", 0, &err) || err != (int)err || !err_known((int)err) ||
	    mp_opt_u64(o, "crev", 0, &w->compacted))
		return BERTH_EBADREQ;
	if ((m = mp_map_get(o, "more")) != NULL && mp_get_bool(m, &more))
		return BERTH_EBADREQ;
	w->err = (int)err;
	w->more = more != 0;
	if ((ev = mp_map_get(o, "ev")) == NULL || ev->type != MSGPACK_OBJECT_ARRAY)
		return BERTH_EBADREQ;
	if (ev->via.array.size == 0)
		return 0;
	if ((w->events = calloc(ev->via.array.size, sizeof(*w->events))) == NULL)
		return BERTH_ENOMEM;
	w->nevents = ev->via.array.size;
	for (uint32_t i = 0; i < w->nevents; i++) {
		const msgpack_object *e = &ev->via.array.ptr[i];
		uint64_t t;
		if (e->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(e, "t"), &t) ||
		    (t != MSG_OP_PUT && t != MSG_OP_DEL) ||
		    reply_kv_unpack(e, &w->events[i].kv) != 0)
			return BERTH_EBADREQ;
		w->events[i].type = (uint8_t)t;
	}
	return 0;
}

void wire_chunk_pack(struct mp_buf *b, uint64_t id, const struct wire_header *h, uint64_t off,
		     const uint8_t *p, size_t n)
{
	msgpack_packer *pk = &b->pk;
	msgpack_pack_map(pk, 5);
	mp_pack_kv_u64(pk, "id", id);
	mp_pack_cstr(pk, "h");
	wire_header_pack(pk, h);
	mp_pack_kv_bool(pk, "more", true);
	mp_pack_kv_u64(pk, "off", off);
	mp_pack_kv_bin(pk, "chunk", p, n);
}

void wire_snap_pack(struct mp_buf *b, uint64_t id, const struct wire_header *h,
		    const struct wire_snap *s)
{
	msgpack_packer *pk = &b->pk;
	msgpack_pack_map(pk, 3);
	mp_pack_kv_u64(pk, "id", id);
	mp_pack_cstr(pk, "h");
	wire_header_pack(pk, h);
	mp_pack_cstr(pk, "snap");
	msgpack_pack_map(pk, 4);
	mp_pack_kv_u64(pk, "size", s->size);
	mp_pack_kv_u64(pk, "crc", s->crc);
	mp_pack_kv_u64(pk, "rev", s->rev);
	mp_pack_kv_u64(pk, "applied", s->applied);
}

/* The stream fields: `more` with its chunk, or the end of a snapshot. */
static int wire_stream_unpack(const msgpack_object *m, struct wire_resp *r)
{
	const msgpack_object *o;
	uint64_t crc;
	int more = 0;
	if ((o = mp_map_get(m, "more")) != NULL && mp_get_bool(o, &more))
		return BERTH_EBADREQ;
	r->more = more != 0;
	if (r->more) {
		if (r->err != 0 || mp_map_get(m, "r") || mp_map_get(m, "st") ||
		    mp_map_get(m, "snap") || mp_get_u64(mp_map_get(m, "off"), &r->off) ||
		    mp_get_bytes(mp_map_get(m, "chunk"), &r->chunk.p, &r->chunk.n) ||
		    r->chunk.n == 0 || r->chunk.n > WIRE_CHUNK_MAX)
			return BERTH_EBADREQ;
		return 0;
	}
	if (mp_map_get(m, "chunk") != NULL || mp_map_get(m, "off") != NULL)
		return BERTH_EBADREQ;
	if ((o = mp_map_get(m, "snap")) == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(o, "size"), &r->snap.size) ||
	    mp_get_u64(mp_map_get(o, "crc"), &crc) || crc > UINT32_MAX ||
	    mp_get_u64(mp_map_get(o, "rev"), &r->snap.rev) ||
	    mp_get_u64(mp_map_get(o, "applied"), &r->snap.applied))
		return BERTH_EBADREQ;
	r->snap.crc = (uint32_t)crc;
	r->has_snap = true;
	return 0;
}

static int wire_header_unpack(const msgpack_object *o, struct wire_header *h)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
		return BERTH_EBADREQ;
	if (mp_opt_u64(o, "rev", 0, &h->rev) || mp_opt_u64(o, "term", 0, &h->term) ||
	    mp_opt_u64(o, "index", 0, &h->index) || mp_opt_u64(o, "member", 0, &h->member) ||
	    mp_opt_u64(o, "leader", 0, &h->leader))
		return BERTH_EBADREQ;
	return 0;
}

static int wire_status_unpack(const msgpack_object *o, struct wire_status *s)
{
	uint64_t state;
	const msgpack_object *ms;
	if (o->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(o, "id"), &s->id) ||
	    mp_opt_bytes(o, "peer", &s->peer.p, &s->peer.n) ||
	    mp_opt_bytes(o, "client", &s->client.p, &s->client.n) ||
	    mp_opt_u64(o, "state", WIRE_UNAVAILABLE, &state) || state >= WIRE_STATE_COUNT ||
	    mp_opt_u64(o, "term", 0, &s->term) || mp_opt_u64(o, "commit", 0, &s->commit) ||
	    mp_opt_u64(o, "applied", 0, &s->applied) || mp_opt_u64(o, "rev", 0, &s->rev) ||
	    mp_opt_u64(o, "compacted", 0, &s->compacted) || mp_opt_u64(o, "leader", 0, &s->leader))
		return BERTH_EBADREQ;
	s->state = (uint8_t)state;
	if ((ms = mp_map_get(o, "members")) == NULL)
		return 0;
	if (ms->type != MSGPACK_OBJECT_ARRAY || ms->via.array.size > WIRE_MAX_MEMBERS)
		return BERTH_EBADREQ;
	s->nmembers = ms->via.array.size;
	for (uint32_t i = 0; i < s->nmembers; i++) {
		const msgpack_object *m = &ms->via.array.ptr[i];
		struct wire_member *w = &s->members[i];
		uint64_t role;
		if (m->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(m, "id"), &w->id) ||
		    mp_opt_bytes(m, "peer", &w->peer.p, &w->peer.n) ||
		    mp_opt_bytes(m, "client", &w->client.p, &w->client.n) ||
		    mp_opt_u64(m, "role", 0, &role) || role >= WIRE_ROLE_COUNT)
			return BERTH_EBADREQ;
		w->role = (uint8_t)role;
	}
	return 0;
}

int wire_resp_decode(const uint8_t *buf, size_t n, struct wire_resp *r)
{
	struct mp_doc d;
	int64_t err;
	int rv;
	const msgpack_object *o;
	memset(r, 0, sizeof(*r));
	if ((rv = mp_doc_init(&d, buf, n)) != 0)
		return rv;
	const msgpack_object *m = d.root;
	rv = BERTH_EBADREQ;
	if (m->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(m, "id"), &r->id) ||
	    mp_opt_i64(m, "err", 0, &err) || err != (int)err || !err_known((int)err) ||
	    mp_opt_bytes(m, "leader", &r->leader.p, &r->leader.n) ||
	    wire_header_unpack(mp_map_get(m, "h"), &r->hdr))
		goto out;
	r->err = (int)err;
	if ((o = mp_map_get(m, "r")) != NULL) {
		if ((rv = reply_unpack(o, &r->reply)) != 0)
			goto out;
		r->has_reply = true;
		rv = BERTH_EBADREQ;
	}
	if ((o = mp_map_get(m, "st")) != NULL) {
		if (wire_status_unpack(o, &r->status) != 0)
			goto out;
		r->has_status = true;
	}
	if ((o = mp_map_get(m, "w")) != NULL) {
		r->has_watch = true; /* so that a failure frees what was decoded */
		if (r->id != 0 || (rv = wire_watch_unpack(o, &r->watch)) != 0) {
			rv = rv == BERTH_ENOMEM ? rv : BERTH_EBADREQ;
			goto out;
		}
		rv = BERTH_EBADREQ;
	}
	if (wire_stream_unpack(m, r) != 0)
		goto out;
	rv = 0;
out:
	mp_doc_close(&d);
	if (rv != 0)
		wire_resp_free(r);
	return rv;
}

void wire_resp_free(struct wire_resp *r)
{
	if (r->has_reply)
		reply_free(&r->reply);
	r->has_reply = false;
	if (r->has_watch)
		free(r->watch.events);
	r->watch.events = NULL;
	r->watch.nevents = 0;
	r->has_watch = false;
}

const char *wire_state_name(uint8_t state)
{
	static const char *names[] = {"follower", "candidate", "leader", "unavailable"};
	return state < WIRE_STATE_COUNT ? names[state] : "unknown";
}

const char *wire_role_name(uint8_t role)
{
	static const char *names[] = {"voter", "standby", "spare"};
	return role < WIRE_ROLE_COUNT ? names[role] : "unknown";
}
