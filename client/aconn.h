/* client/aconn.h: one libuv connection of the asynchronous API: connect under a
 * deadline, hello, pipelined requests, responses dispatched by id (client/aconn.c).
 * Internal to libberth (client/berth_async.h is the public API).
 *
 * Lifecycle: aconn_start allocates and starts connecting; ACONN_CONNECTING (resolve,
 * TCP connect, hello: all within connect_timeout_ms) -> ACONN_READY -> ACONN_CLOSING.
 * aconn_close fails every request still pending on it through acall_lost, closes its
 * libuv handles and frees it in their close callbacks; it then reports to the handle
 * (acall_conn_down) once. The handle keeps every connection on its list until freed.
 *
 * Dispatch of each response frame: the hello's answer finishes the connect; an id whose
 * call is waiting goes to acall_response; an abandoned id (its call ended first) is
 * dropped; id 0 is the server speaking about the connection (aconn_frame0: an error,
 * after which the server closes, or a pushed watch frame, to be routed there once this
 * API opens watches); a stream frame (`more`) is an error: no call asks for a stream. */
#ifndef BERTH_CLIENT_ACONN_H
#define BERTH_CLIENT_ACONN_H

#include "client/net.h"
#include "client/proto.h"
#include "common/mp.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct berth_async;
struct acall;

enum aconn_state { ACONN_CONNECTING, ACONN_READY, ACONN_CLOSING };

struct aconn {
	struct berth_async *a;
	enum aconn_state state;
	bool retiring;  /* takes no new requests; closed when nlive reaches 0 */
	bool from_list; /* the endpoint came from the configured list (not a redirect) */
	bool connected; /* TCP connected (reading) */
	int refs;       /* libuv handles and requests still open: freed at 0 */
	uv_tcp_t tcp;
	uv_timer_t timer; /* connect + hello deadline */
	uv_connect_t connect;
	uv_getaddrinfo_t gai;
	uv_write_t wreq;
	bool writing;          /* wbuf is being written */
	struct mp_buf out;     /* encoded requests waiting for the next write */
	struct mp_buf wbuf;    /* the write in progress */
	uint64_t batches;      /* writes handed to libuv so far */
	size_t nlive;          /* calls waiting for an answer here (not abandoned) */
	unsigned nwatches;     /* watches subscribed here: a retiring connection stays for them */
	uint64_t last_recv_ms; /* uv_now of the last bytes read */
	uint64_t reads;        /* reads that brought bytes */
	bool resolving;        /* gai in flight */
	struct proto proto;
	uint8_t *rbuf; /* owned: the read buffer */
	struct net_endpoint ep;
	char peer[NET_HOST_MAX + 10];
	char errmsg[256];   /* why it closed */
	struct aconn *next; /* in the handle's list */
};

/* Starts a connection to ep (from_list: a configured endpoint). 0 or BERTH_ENOMEM;
 * connection failures are reported later through aconn_close. */
int aconn_start(struct berth_async *a, const struct net_endpoint *ep, bool from_list);

/* The handle's check callback: hands every connection's gathered requests to the kernel
 * (aconn_send gathers them; client/acall.h). */
void aconn_flush_all(uv_check_t *check);

/* Encodes req for call c (sets its id) into the next write and starts writing. 0;
 * BERTH_ENOMEM / BERTH_ETOOLARGE (nothing queued). */
int aconn_send(struct aconn *conn, struct msg_req *req, struct acall *c);

/* No new requests; closes once the calls waiting on it have their answers and no watch
 * is subscribed on it (client/awatch.h). */
void aconn_retire(struct aconn *conn);

/* Closes conn (no-op when closing already): fails its pending calls, closes its
 * handles. errmsg (may be NULL) says why. */
void aconn_close(struct aconn *conn, const char *errmsg);

/* A retiring connection with no call waiting and no watch left: closes it. */
void aconn_close_if_idle(struct aconn *conn);

/* Call c, sent on conn with id, gave up (its deadline): its answer will be dropped. */
void aconn_abandon(struct aconn *conn, uint64_t id);

#endif
