/* common/frame.h: length-prefixed framing: a 4-byte big-endian length N, then N bytes.
 *
 * No I/O here: the connection code reads bytes, feeds them in and takes frames out.
 *
 *	struct frame_reader r;
 *	frame_reader_init(&r, max_frame_bytes);
 *	on each read of n bytes at p:
 *		while (n > 0) {
 *			size_t used;
 *			if (frame_reader_feed(&r, p, n, &used) != 0)
 *				close the connection;
 *			p += used, n -= used;
 *			while ((rv = frame_reader_next(&r, &payload, &len)) == 0)
 *				handle(payload, len);
 *			if (rv != BERTH_ENOTFOUND)
 *				close the connection;
 *		}
 *	frame_reader_close(&r);
 *
 * Memory. The reader holds at most one frame: the 4 header bytes in the struct and the
 * payload in a heap buffer that it owns. The buffer grows only as payload bytes arrive
 * (geometrically, never past the frame's length), so a peer that claims 4 MiB and sends
 * one byte costs at most 64 bytes, not 4 MiB. The buffer is reused for the next frame; after a
 * frame above FRAME_KEEP_BYTES it shrinks back when a smaller frame starts. The buffer
 * never exceeds max_frame_bytes.
 *
 * Why one frame at a time: a taken frame is dropped by resetting two counters, so many
 * small frames in one read cost one copy each and no memmove or compaction ever.
 *
 * Errors. A length above max_frame_bytes is BERTH_ETOOLARGE and a zero length is
 * BERTH_EBADREQ. Both poison the reader: every later feed and next returns the same code,
 * and the connection must be closed (the stream cannot be resynchronised). BERTH_ENOMEM
 * does not poison: nothing was lost, and the bytes not consumed may be fed again. */
#ifndef BERTH_COMMON_FRAME_H
#define BERTH_COMMON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_BYTES 4
/* The default cap on one frame's payload (DESIGN.md section 3: one request frame at most
 * 4 MiB); servers and clients may configure another per reader. */
#define FRAME_MAX_DEFAULT ((size_t)4 << 20)
/* A buffer grown past this is shrunk back to it when the next, smaller, frame starts. */
#define FRAME_KEEP_BYTES (64 * 1024)

/* Fields are private: use the functions. */
struct frame_reader {
	uint8_t *buf; /* owned: the current frame's payload */
	size_t cap;   /* bytes allocated at buf */
	size_t have;  /* payload bytes received */
	size_t len;   /* payload length from the header, valid once hdr_have == 4 */
	size_t max_frame_bytes;
	uint8_t hdr[FRAME_HEADER_BYTES];
	uint8_t hdr_have; /* header bytes received, 0..4 */
	uint8_t taken;    /* 1: the complete frame was handed out by next */
	int err;          /* sticky: BERTH_ETOOLARGE or BERTH_EBADREQ once poisoned */
};

/* Prepares r, which the caller provides. Allocates nothing (the buffer comes with the
 * first payload byte), so a failure leaves nothing to clean up.
 * max_frame_bytes must be 1..UINT32_MAX, else BERTH_EBADREQ. */
int frame_reader_init(struct frame_reader *r, size_t max_frame_bytes);

/* Frees the buffer. Any payload borrowed from r is invalid afterwards. */
void frame_reader_close(struct frame_reader *r);

/* Copies up to n bytes from data into r and sets *consumed to how many it took (always
 * set, also on error). It stops at the end of a frame: bytes after a complete frame that
 * has not been taken by frame_reader_next stay with the caller, to be fed again after.
 * A frame taken by the last frame_reader_next is released first, so its payload pointer
 * becomes invalid. data may be NULL when n is 0.
 * Returns 0; BERTH_ETOOLARGE or BERTH_EBADREQ when the header just completed (or an earlier
 * one) is bad, poisoning r, with *consumed counting the header's bytes; BERTH_ENOMEM when
 * the buffer cannot grow, *consumed counting the bytes copied before. */
int frame_reader_feed(struct frame_reader *r, const void *data, size_t n, size_t *consumed);

/* Takes the complete frame: 0 with *payload and *len set. The payload is borrowed from r,
 * valid until the next frame_reader_feed, frame_reader_next or frame_reader_close call;
 * the caller may modify it in place but must copy what it keeps. *len >= 1.
 * BERTH_ENOTFOUND: no complete frame yet (need more bytes); this also releases a frame
 * taken before. BERTH_ETOOLARGE / BERTH_EBADREQ: r is poisoned (see above). */
int frame_reader_next(struct frame_reader *r, const uint8_t **payload, size_t *len);

/* Bytes held now: header bytes plus payload bytes of the current frame, including a
 * taken frame not yet released. */
size_t frame_reader_buffered(const struct frame_reader *r);

/* Bytes allocated for the payload buffer (for memory accounting). */
size_t frame_reader_capacity(const struct frame_reader *r);

/* Writes the header for a payload of payload_len bytes: 0, BERTH_EBADREQ for 0 bytes,
 * BERTH_ETOOLARGE above max or above UINT32_MAX. out is untouched on error. */
int frame_encode_header(size_t payload_len, size_t max, uint8_t out[FRAME_HEADER_BYTES]);

#endif
