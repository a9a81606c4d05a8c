/* client/handle.h: what libberth's two handles share (client/handle.c): the options of
 * struct berth_options checked and copied, with their defaults, and error messages.
 * Internal to libberth. */
#ifndef BERTH_CLIENT_HANDLE_H
#define BERTH_CLIENT_HANDLE_H

#include "client/berth.h"
#include "client/net.h"
#include "client/policy.h"

#include <stdarg.h>

/* The options as a handle keeps them: every default filled in. */
struct handle_opts {
	struct net_endpoint *eps; /* owned, neps of them */
	char **names;             /* owned: the endpoint strings as given */
	size_t neps;
	uint8_t *token; /* owned (NULL: empty) */
	size_t token_len;
	uint32_t timeout_ms;
	uint32_t connect_timeout_ms; /* at most timeout_ms */
	uint32_t max_redirects;
	uint32_t session_ttl_ms;
	bool no_session;
	size_t max_frame_bytes; /* 0: FRAME_MAX_DEFAULT (proto_init accepted it) */
};

/* Checks o and copies it into h (caller's memory; nothing to clean up on failure). 0;
 * BERTH_EBADREQ (no endpoints, a malformed endpoint, a bad frame cap) or BERTH_ENOMEM,
 * with a message in errbuf (may be NULL; "" after a success). */
int handle_opts_init(struct handle_opts *h, const struct berth_options *o, char *errbuf,
		     size_t errlen);
void handle_opts_close(struct handle_opts *h);
/* Writes "out of memory" into errbuf (may be NULL) and returns BERTH_ENOMEM. */
int handle_nomem(char *errbuf, size_t errlen);
/* A non-zero seed for a handle's jitter generator, from the time and the handle's address. */
uint64_t handle_seed(const void *handle);

/* A transaction call's request (t borrowed) and its kind: with a write it goes as a write
 * and never serializable; without, a serializable read may be answered by any member. */
enum policy_kind handle_txn_req(struct msg_req *req, const struct msg_txn *t, bool serializable);
/* The one operation of a berth_range call. */
void handle_range_op(struct msg_op *op, const struct berth_range *r);

/* Formats into dst (BERTH_ERRMSG_BYTES, cut to fit); the arguments may include dst. */
void handle_errmsg(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void handle_verrmsg(char *dst, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
