/* client/call.h: libberth's internals: the handle, its connection, and one call with
 * leader discovery, retries, the session and the deadline (client/call.c), deciding
 * through client/policy.h. Not part of the public API (client/berth.h is). */
#ifndef BERTH_CLIENT_CALL_H
#define BERTH_CLIENT_CALL_H

#include "client/berth.h"
#include "client/handle.h"
#include "client/net.h"
#include "client/policy.h"
#include "client/proto.h"

#define CALL_READ_BYTES (16 * 1024) /* size of call_conn.rbuf */

/* One connection: a socket with its protocol state. fd -1: not connected. */
struct call_conn {
	int fd;
	struct proto proto;
	struct mp_buf out;
	uint8_t *rbuf;                /* owned: bytes read from the socket */
	char peer[NET_HOST_MAX + 10]; /* "host:port" for messages */
};

struct berth {
	struct handle_opts opt;
	struct call_conn conn;
	size_t next_ep;   /* the endpoint to try next */
	uint64_t session; /* 0: none open */
	uint64_t seq;     /* the last sequence number used in the session */
	uint64_t rng;
	char errmsg[BERTH_ERRMSG_BYTES];
};

/* 0 or BERTH_ENOMEM / BERTH_EBADREQ (bad frame cap). fd -1. */
int call_conn_init(struct call_conn *c, size_t max_frame_bytes);
/* Closes the socket (if open) and frees everything. */
void call_conn_close(struct call_conn *c);

/* Connects c to ep and says hello. 0; BERTH_ENOCONN (unreachable, or the connection
 * failed during the hello); BERTH_EUNAUTHORIZED / BERTH_EPROTO (refused: definite);
 * BERTH_ETIMEOUT (deadline). The message is in b->errmsg. */
int call_conn_open(struct berth *b, struct call_conn *c, const struct net_endpoint *ep,
		   uint64_t deadline_ms);

/* Sends req on an open c and waits for its response, filling res. 0 (a response, which
 * may carry a request-level err); BERTH_ECLOSED (connection failed or the response was
 * malformed: c is closed; *sent says whether any byte left); BERTH_ETIMEOUT (deadline; c
 * is closed); BERTH_ENOMEM / BERTH_ETOOLARGE (the request could not be encoded; nothing
 * sent). */
int call_exchange(struct berth *b, struct call_conn *c, struct msg_req *req, uint64_t deadline_ms,
		  struct berth_result *res, bool *sent);

/* Sends req (its id, session and seq are set here) and fills res. Returns res->err. */
int call_run(struct berth *b, struct msg_req *req, enum policy_kind kind, struct berth_result *res);

/* Formats into b->errmsg (cut to fit); the arguments may include b->errmsg. */
void call_errmsg(struct berth *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets res->err and res->indeterminate; returns err. */
int call_finish(struct berth_result *res, int err);

#endif
