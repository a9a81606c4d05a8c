/* client/awatch.h: watches on the asynchronous handle (client/awatch.c): the hooks the
 * handle's connection and call code use. Internal to libberth (client/berth_async.h is
 * the public API).
 *
 * A watch subscribes with a WATCH call (any member) on the handle's connection and learns
 * which connection answered (berth_async.answered_by). Pushed frames arrive on that
 * connection with id 0 and are routed here by (connection, watch id). When the connection
 * closes, every watch on it subscribes again from the last revision it delivered, on
 * whichever connection the handle has next: no gap, no duplicate. */
#ifndef BERTH_CLIENT_AWATCH_H
#define BERTH_CLIENT_AWATCH_H

#include "client/acall.h"

/* A pushed watch frame arrived on conn (takes pr). */
void awatch_frame(struct berth_async *a, struct aconn *conn, struct proto_resp *pr);
/* conn is closing: its watches subscribe again elsewhere. */
void awatch_conn_down(struct berth_async *a, struct aconn *conn);
/* The handle is closing: every watch ends with BERTH_ECLOSED through its callback. */
void awatch_close_all(struct berth_async *a);

#endif
