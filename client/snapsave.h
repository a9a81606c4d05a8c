/* client/snapsave.h: libberth's backup download (berth_snapshot_save in client/berth.h):
 * the checks on a snapshot stream's frames, without I/O, for the download loop in
 * client/snapsave.c and for tests. Not part of the public API. */
#ifndef BERTH_CLIENT_SNAPSAVE_H
#define BERTH_CLIENT_SNAPSAVE_H

#include "common/wire.h"

#include <stdint.h>

/* What has arrived of one stream so far. Zero it, then set crc = snapsave_crc_init(). */
struct snapsave_rx {
	uint64_t off; /* bytes received */
	uint32_t crc; /* CRC-32 of them */
	bool ended;
};

uint32_t snapsave_crc_init(void);
/* One frame of the stream (common/wire.h), in arrival order. A chunk must continue the
 * stream exactly where it stands (its offset the bytes received so far); the last frame
 * must carry the end, whose size and CRC must be those of the bytes received. 0; the
 * frame's own error for a stream the node gave up; BERTH_ECORRUPT (a gap, an overlap,
 * a wrong size or CRC, a frame after the end); BERTH_EBADREQ (a last frame without the
 * end of a snapshot). For a chunk, *data and *n (may be NULL) get its bytes. */
int snapsave_frame(struct snapsave_rx *rx, const struct wire_resp *r, const uint8_t **data,
		   size_t *n);

#endif
