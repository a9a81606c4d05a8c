/* common/frame.c: the incremental length-prefixed frame reader and header encoder. */
#include "common/frame.h"

#include "common/err.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Smallest buffer allocated, unless the frame itself is smaller. */
#define FRAME_MIN_ALLOC 64

int frame_reader_init(struct frame_reader *r, size_t max_frame_bytes)
{
	if (max_frame_bytes == 0 || max_frame_bytes > UINT32_MAX)
		return BERTH_EBADREQ;
	memset(r, 0, sizeof(*r));
	r->max_frame_bytes = max_frame_bytes;
	return 0;
}

void frame_reader_close(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
	r->have = 0;
	r->hdr_have = 0;
	r->taken = 0;
}

/* Forget the taken frame; the buffer stays for the next one. */
static void frame_release(struct frame_reader *r)
{
	r->taken = 0;
	r->hdr_have = 0;
	r->have = 0;
	r->len = 0;
}

static int frame_complete(const struct frame_reader *r)
{
	return r->hdr_have == FRAME_HEADER_BYTES && r->have == r->len;
}

/* Header complete: check the length and, after a big frame, give memory back. */
static int frame_start(struct frame_reader *r)
{
	uint32_t len = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
		       (uint32_t)r->hdr[2] << 8 | (uint32_t)r->hdr[3];

	if (len == 0)
		return r->err = BERTH_EBADREQ;
	if (len > r->max_frame_bytes)
		return r->err = BERTH_ETOOLARGE;
	r->len = len;
	r->have = 0;
	if (r->cap > FRAME_KEEP_BYTES && len <= FRAME_KEEP_BYTES) {
		/* Shrinking may fail; keeping the bigger buffer is then fine. */
		uint8_t *p = realloc(r->buf, FRAME_KEEP_BYTES);

		if (p != NULL) {
			r->buf = p;
			r->cap = FRAME_KEEP_BYTES;
		}
	}
	return 0;
}

/* Make room for want payload bytes (want <= r->len). */
static int frame_reserve(struct frame_reader *r, size_t want)
{
	size_t cap;
	uint8_t *p;

	if (want <= r->cap)
		return 0;
	/* Double, but never below what arrived, and never past the frame. */
	cap = r->cap < FRAME_MIN_ALLOC ? FRAME_MIN_ALLOC : r->cap * 2;
	if (cap < want)
		cap = want;
	if (cap > r->len)
		cap = r->len;
	assert(cap >= want);
	p = realloc(r->buf, cap);
	if (p == NULL)
		return BERTH_ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

int frame_reader_feed(struct frame_reader *r, const void *data, size_t n, size_t *consumed)
{
	const uint8_t *in = data;
	size_t used = 0;
	int rv = 0;

	*consumed = 0;
	if (r->err != 0)
		return r->err;
	if (r->taken)
		frame_release(r);
	if (frame_complete(r))
		return 0; /* a complete frame waits to be taken */

	while (r->hdr_have < FRAME_HEADER_BYTES && used < n) {
		r->hdr[r->hdr_have++] = in[used++];
		if (r->hdr_have == FRAME_HEADER_BYTES) {
			rv = frame_start(r);
			if (rv != 0)
				goto out;
		}
	}
	if (r->hdr_have == FRAME_HEADER_BYTES && used < n && r->have < r->len) {
		size_t chunk = r->len - r->have;

		if (chunk > n - used)
			chunk = n - used;
		rv = frame_reserve(r, r->have + chunk);
		if (rv != 0)
			goto out;
		memcpy(r->buf + r->have, in + used, chunk);
		r->have += chunk;
		used += chunk;
	}
out:
	*consumed = used;
	return rv;
}

int frame_reader_next(struct frame_reader *r, const uint8_t **payload, size_t *len)
{
	if (r->err != 0)
		return r->err;
	if (r->taken) {
		frame_release(r);
		return BERTH_ENOTFOUND;
	}
	if (!frame_complete(r))
		return BERTH_ENOTFOUND;
	r->taken = 1;
	*payload = r->buf;
	*len = r->len;
	return 0;
}

size_t frame_reader_buffered(const struct frame_reader *r)
{
	return r->hdr_have + r->have;
}

size_t frame_reader_capacity(const struct frame_reader *r)
{
	return r->cap;
}

int frame_encode_header(size_t payload_len, size_t max, uint8_t out[FRAME_HEADER_BYTES])
{
	if (payload_len == 0)
		return BERTH_EBADREQ;
	if (payload_len > max || payload_len > UINT32_MAX)
		return BERTH_ETOOLARGE;
	out[0] = (uint8_t)(payload_len >> 24);
	out[1] = (uint8_t)(payload_len >> 16);
	out[2] = (uint8_t)(payload_len >> 8);
	out[3] = (uint8_t)payload_len;
	return 0;
}
