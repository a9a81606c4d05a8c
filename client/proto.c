/* client/proto.c: request encoding, response decoding and the pending table; no I/O. */
#include "client/proto.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#define PROTO_MIN_SLOTS 16

int proto_init(struct proto *p, size_t max_frame_bytes)
{
	int rv;
	memset(p, 0, sizeof(*p));
	p->max_frame_bytes = max_frame_bytes ? max_frame_bytes : FRAME_MAX_DEFAULT;
	if ((rv = frame_reader_init(&p->reader, p->max_frame_bytes)) != 0)
		return rv;
	p->next_id = 1;
	return 0;
}

void proto_close(struct proto *p)
{
	frame_reader_close(&p->reader);
	free(p->slots);
	p->slots = NULL;
	p->nslots = 0;
	p->npending = 0;
}

void proto_reset(struct proto *p)
{
	frame_reader_close(&p->reader);
	(void)frame_reader_init(&p->reader, p->max_frame_bytes); /* checked in proto_init */
	if (p->slots != NULL)
		memset(p->slots, 0, p->nslots * sizeof(*p->slots));
	p->npending = 0;
}

static size_t proto_home(const struct proto *p, uint64_t id)
{
	return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (p->nslots - 1);
}

static size_t proto_find(const struct proto *p, uint64_t id)
{
	if (p->nslots == 0)
		return SIZE_MAX;
	for (size_t i = proto_home(p, id);; i = (i + 1) & (p->nslots - 1)) {
		if (p->slots[i].id == id)
			return i;
		if (p->slots[i].id == 0)
			return SIZE_MAX;
	}
}

static void proto_place(struct proto *p, uint64_t id, void *ctx)
{
	size_t i = proto_home(p, id);
	while (p->slots[i].id != 0)
		i = (i + 1) & (p->nslots - 1);
	p->slots[i].id = id;
	p->slots[i].ctx = ctx;
}

static int proto_insert(struct proto *p, uint64_t id, void *ctx)
{
	if ((p->npending + 1) * 2 > p->nslots) {
		size_t n = p->nslots ? p->nslots * 2 : PROTO_MIN_SLOTS;
		struct proto_slot *old = p->slots, *s = calloc(n, sizeof(*s));
		size_t oldn = p->nslots;
		if (s == NULL)
			return BERTH_ENOMEM;
		p->slots = s;
		p->nslots = n;
		for (size_t i = 0; i < oldn; i++)
			if (old[i].id != 0)
				proto_place(p, old[i].id, old[i].ctx);
		free(old);
	}
	proto_place(p, id, ctx);
	p->npending++;
	return 0;
}

/* Backward-shift deletion: no tombstones, so lookups stay short however long we run. */
static void proto_delete_at(struct proto *p, size_t i)
{
	size_t mask = p->nslots - 1;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (p->slots[j].id == 0)
			break;
		size_t home = proto_home(p, p->slots[j].id);
		/* Move j back into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			p->slots[i] = p->slots[j];
			i = j;
		}
	}
	p->slots[i].id = 0;
	p->slots[i].ctx = NULL;
	p->npending--;
}

int proto_pending_remove(struct proto *p, uint64_t id, void **ctx)
{
	size_t i = id ? proto_find(p, id) : SIZE_MAX;
	if (i == SIZE_MAX)
		return BERTH_ENOTFOUND;
	if (ctx != NULL)
		*ctx = p->slots[i].ctx;
	proto_delete_at(p, i);
	return 0;
}

int proto_pending_abandon(struct proto *p, uint64_t id)
{
	size_t i = id ? proto_find(p, id) : SIZE_MAX;
	if (i == SIZE_MAX)
		return BERTH_ENOTFOUND;
	p->slots[i].ctx = NULL;
	return 0;
}

int proto_pending_pop(struct proto *p, uint64_t *id, void **ctx)
{
	for (size_t i = 0; i < p->nslots && p->npending > 0; i++) {
		if (p->slots[i].id != 0) {
			*id = p->slots[i].id;
			return proto_pending_remove(p, *id, ctx);
		}
	}
	return BERTH_ENOTFOUND;
}

size_t proto_pending_count(const struct proto *p)
{
	return p->npending;
}

int proto_encode(struct proto *p, struct msg_req *r, struct mp_buf *out, void *ctx)
{
	static const uint8_t zero[FRAME_HEADER_BYTES];
	size_t mark = out->len;
	int rv;

	r->id = p->next_id;
	mp_buf_append(out, zero, sizeof(zero));
	msg_req_encode(out, r);
	if ((rv = mp_buf_error(out)) != 0) {
		out->len = mark;
		out->err = 0; /* the bytes before mark are intact: appends only grow */
		return rv;
	}
	size_t len = out->len - mark - FRAME_HEADER_BYTES;
	if ((rv = frame_encode_header(len, p->max_frame_bytes, out->data + mark)) != 0) {
		out->len = mark;
		return rv;
	}
	if ((rv = proto_insert(p, r->id, ctx)) != 0) {
		out->len = mark;
		return rv;
	}
	p->next_id++;
	return 0;
}

int proto_feed(struct proto *p, const void *data, size_t n, size_t *consumed)
{
	return frame_reader_feed(&p->reader, data, n, consumed);
}

int proto_next(struct proto *p, struct proto_resp *out)
{
	const uint8_t *payload;
	size_t len;
	int rv;

	memset(out, 0, sizeof(*out));
	if ((rv = frame_reader_next(&p->reader, &payload, &len)) != 0)
		return rv;
	/* The frame is copied: the reader reuses its buffer, and a caller keeps responses. */
	if ((out->frame = malloc(len)) == NULL)
		return BERTH_ENOMEM;
	memcpy(out->frame, payload, len);
	out->len = len;
	if ((rv = wire_resp_decode(out->frame, len, &out->resp)) != 0)
		goto err;
	if (out->resp.more) {
		/* A frame of a stream that goes on: its id stays pending. */
		size_t i = out->resp.id != 0 ? proto_find(p, out->resp.id) : SIZE_MAX;
		if (i == SIZE_MAX)
			goto err_pending;
		out->ctx = p->slots[i].ctx;
	} else if (out->resp.id != 0 && proto_pending_remove(p, out->resp.id, &out->ctx) != 0) {
		goto err_pending;
	}
	return 0;
err_pending:
	wire_resp_free(&out->resp);
	rv = BERTH_EBADREQ;
err:
	free(out->frame);
	memset(out, 0, sizeof(*out));
	return rv;
}

void proto_resp_free(struct proto_resp *r)
{
	if (r->frame != NULL)
		wire_resp_free(&r->resp);
	free(r->frame);
	memset(r, 0, sizeof(*r));
}
