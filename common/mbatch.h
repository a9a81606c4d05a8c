/* common/mbatch.h: a batch log entry: several encoded commands (common/msg.h) in one raft
 * entry, so that one entry, one replication round and one disk write carry every write
 * a leader received in one loop iteration (docs/store.md, "Proposal batching").
 *
 * Layout: a msgpack array32 (0xdd, be32 count) of bin32 elements (0xc6, be32 length,
 * then one command exactly as msg_cmd_encode writes it), then the zero padding raft_uv
 * needs. A single command entry is a msgpack map, so the first byte tells them apart.
 *
 * The decoder trusts nothing: the count is at most MBATCH_MAX and backed by input bytes,
 * every element's length fits what is left, and each element must be a bin32. */
#ifndef BERTH_COMMON_MBATCH_H
#define BERTH_COMMON_MBATCH_H

#include "common/mp.h"
#include "common/msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBATCH_MAX 1024u         /* commands in one batch entry */
#define MBATCH_HDR 5u            /* array32 header; each element has a 5-byte bin32 one too */
#define MBATCH_SOFT_BYTES 65536u /* a leader closes a batch once it holds this many bytes */

/* Encoding into b (from empty): begin, one add per command, then end with the count. */
void mbatch_begin(struct mp_buf *b);
void mbatch_add(struct mp_buf *b, const struct msg_cmd *c);
void mbatch_end(struct mp_buf *b, uint32_t count);

/* The i-th element's command bytes of a batch built in b, where start is the offset of
 * its bin32 header (mbatch_add appends at b->len). */
struct bytes mbatch_element(const struct mp_buf *b, size_t start);

/* Decoding. */
struct mbatch_iter {
	const uint8_t *p;
	size_t left;
	uint32_t count, seen;
};

bool mbatch_is(const uint8_t *buf, size_t n);
/* 0 with it->count, or BERTH_EBADREQ. */
int mbatch_open(const uint8_t *buf, size_t n, struct mbatch_iter *it);
/* The next element: 0 with cmd, 1 after the last, or BERTH_EBADREQ. */
int mbatch_next(struct mbatch_iter *it, struct bytes *cmd);

#endif
