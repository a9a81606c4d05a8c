/* client/wbatch.h: joining a watch's frames into what one delivery hands over: the
 * events of whole revisions (client/watch.c implements it; client/awatch.c uses it too).
 * Internal to libberth. */
#ifndef BERTH_CLIENT_WBATCH_H
#define BERTH_CLIENT_WBATCH_H

#include "client/berth.h"
#include "client/proto.h"

/* A revision split over frames is joined in memory up to this size. */
#define WBATCH_JOIN_MAX_BYTES ((size_t)256 << 20)

/* Appends a watch frame's events to p (keys and values keep borrowing from the frame,
 * which p takes), counting its bytes in *bytes. Takes and frees *pr in every case. 0;
 * BERTH_ENOMEM; BERTH_EWATCHOVERFLOW past WBATCH_JOIN_MAX_BYTES. */
int wbatch_join(struct berth_watch_batch *p, size_t *bytes, struct proto_resp *pr);

#endif
