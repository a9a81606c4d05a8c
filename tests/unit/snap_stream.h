/* tests/unit/snap_stream.h: snapshot streams in memory for the snapshot tests: a sink for
 * fsm_snapshot_write, a source for fsm_restore that can fail on cue, and a stream split
 * into records and built back from them. */
#ifndef BERTH_TESTS_SNAP_STREAM_H
#define BERTH_TESTS_SNAP_STREAM_H

#include "store/fsm.h"

#include <stddef.h>
#include <stdint.h>

struct sbuf {
	uint8_t *p;
	size_t n, cap;
	unsigned calls; /* write callbacks received */
};

/* The fsm_snapshot_write callback: appends buf to the sbuf ctx. */
int snap_stream_write(void *ctx, const void *buf, size_t n);
void snap_stream_free(struct sbuf *s);
/* The whole database of f as a snapshot stream (snap_stream_free it). */
void snap_stream_of(struct fsm *f, struct sbuf *s);
/* Asserts that a and b hold the same bytes. */
void snap_stream_eq(const struct sbuf *a, const struct sbuf *b);

/* A stream for fsm_restore: hands out p[0..n) and fails with fail_rv once a read would
 * go past fail_at. */
struct reader {
	const uint8_t *p;
	size_t n, pos, fail_at;
	int fail_rv;
	unsigned calls;
};
/* The fsm_restore callback; ctx is a struct reader. */
int snap_stream_read(void *ctx, void *buf, size_t n);

/* One record of a stream, borrowing its bytes. */
struct srec {
	uint8_t table;
	const uint8_t *k, *v;
	size_t kn, vn;
};
/* Splits a stream written by fsm_snapshot_write into records (free the array). */
struct srec *snap_stream_parse(const struct sbuf *s, size_t *count);
/* Writes a stream: magic, version, records, then `count` and a correct CRC. */
void snap_stream_build(const char *magic, uint32_t version, const struct srec *r, size_t n,
		       uint64_t count, struct sbuf *out);

#endif
