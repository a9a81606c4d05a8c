/* common/mbatch.c: the batch log entry's codec (common/mbatch.h). */
#include "common/mbatch.h"

#include "common/err.h"

#include <string.h>

static void mbatch_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t mbatch_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void mbatch_begin(struct mp_buf *b)
{
	static const uint8_t hdr[MBATCH_HDR] = {0xdd};
	mp_buf_append(b, hdr, sizeof(hdr));
}

void mbatch_add(struct mp_buf *b, const struct msg_cmd *c)
{
	static const uint8_t hdr[MBATCH_HDR] = {0xc6};
	size_t start = b->len;
	mp_buf_append(b, hdr, sizeof(hdr));
	msg_cmd_encode(b, c);
	if (mp_buf_error(b) == 0)
		mbatch_be32(b->data + start + 1, (uint32_t)(b->len - start - MBATCH_HDR));
}

void mbatch_end(struct mp_buf *b, uint32_t count)
{
	if (mp_buf_error(b) == 0 && b->len >= MBATCH_HDR)
		mbatch_be32(b->data + 1, count);
}

struct bytes mbatch_element(const struct mp_buf *b, size_t start)
{
	return (struct bytes){b->data + start + MBATCH_HDR, mbatch_get32(b->data + start + 1)};
}

bool mbatch_is(const uint8_t *buf, size_t n)
{
	return n >= MBATCH_HDR && buf[0] == 0xdd;
}

int mbatch_open(const uint8_t *buf, size_t n, struct mbatch_iter *it)
{
	memset(it, 0, sizeof(*it));
	if (!mbatch_is(buf, n))
		return BERTH_EBADREQ;
	it->count = mbatch_get32(buf + 1);
	it->p = buf + MBATCH_HDR;
	it->left = n - MBATCH_HDR;
	if (it->count == 0 || it->count > MBATCH_MAX || it->count > it->left / MBATCH_HDR)
		return BERTH_EBADREQ;
	return 0;
}

int mbatch_next(struct mbatch_iter *it, struct bytes *cmd)
{
	if (it->seen == it->count)
		return 1;
	if (it->left < MBATCH_HDR || it->p[0] != 0xc6)
		return BERTH_EBADREQ;
	uint32_t len = mbatch_get32(it->p + 1);
	if (len > it->left - MBATCH_HDR)
		return BERTH_EBADREQ;
	cmd->p = it->p + MBATCH_HDR;
	cmd->n = len;
	it->p += MBATCH_HDR + len;
	it->left -= MBATCH_HDR + (size_t)len;
	it->seen++;
	return 0;
}
