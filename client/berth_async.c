/* client/berth_async.c: the public asynchronous API: the handle's open and close, and
 * every call as a request for acall_submit (client/acall.c). */
#include "client/berth_async.h"

#include "client/acall.h"
#include "client/awatch.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void berth_async_free(struct berth_async *a)
{
	handle_opts_close(&a->opt);
	free(a->lanes);
	free(a->free_lanes);
	free(a);
}

static int berth_async_limits_check(struct berth_async *a, const struct berth_async_limits *lim,
				    char *errbuf, size_t errlen)
{
	uint32_t sessions = lim && lim->sessions ? lim->sessions : BERTH_ASYNC_DEFAULT_SESSIONS;
	uint32_t calls = lim && lim->max_calls ? lim->max_calls : BERTH_ASYNC_DEFAULT_MAX_CALLS;
	if (sessions > BERTH_ASYNC_MAX_SESSIONS) {
		snprintf(errbuf, errlen, "sessions %u: at most %u", sessions,
			 BERTH_ASYNC_MAX_SESSIONS);
		return BERTH_EBADREQ;
	}
	if (calls > BERTH_ASYNC_MAX_MAX_CALLS) {
		snprintf(errbuf, errlen, "max_calls %u: at most %u", calls,
			 BERTH_ASYNC_MAX_MAX_CALLS);
		return BERTH_EBADREQ;
	}
	a->nlanes = sessions;
	a->max_calls = calls;
	return 0;
}

/* libuv writes to sockets with write(2), which raises SIGPIPE when the member has closed
 * the connection; its default action would end the process over a network event. */
static void berth_async_ignore_sigpipe(void)
{
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) != 0 || (sa.sa_flags & SA_SIGINFO) ||
	    sa.sa_handler != SIG_DFL)
		return; /* the program chose: leave it */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

int berth_async_open(struct berth_async **out, uv_loop_t *loop, const struct berth_options *o,
		     const struct berth_async_limits *lim, char *errbuf, size_t errlen)
{
	char scratch[BERTH_ERRMSG_BYTES];
	struct berth_async *a;
	int rv;

	*out = NULL;
	if (errbuf == NULL || errlen == 0) { /* the limits and the loop say what is wrong */
		errbuf = scratch;
		errlen = sizeof(scratch);
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return handle_nomem(errbuf, errlen);
	if ((rv = handle_opts_init(&a->opt, o, errbuf, errlen)) != 0)
		goto err;
	rv = BERTH_EBADREQ;
	if (loop == NULL) {
		snprintf(errbuf, errlen, "no loop");
		goto err;
	}
	if ((rv = berth_async_limits_check(a, lim, errbuf, errlen)) != 0)
		goto err;
	a->lanes = calloc(a->nlanes, sizeof(*a->lanes));
	a->free_lanes = calloc(a->nlanes, sizeof(*a->free_lanes));
	if (a->lanes == NULL || a->free_lanes == NULL) {
		rv = handle_nomem(errbuf, errlen);
		goto err;
	}
	a->loop = loop;
	for (uint32_t i = 0; i < a->nlanes; i++) /* lane 0 on top: used lanes get reused */
		a->free_lanes[a->nfree++] = a->nlanes - 1 - i;
	a->rng = handle_seed(a);
	berth_async_ignore_sigpipe();
	uv_timer_init(loop, &a->retry);
	a->retry.data = a;
	uv_check_init(loop, &a->flush);
	a->flush.data = a;
	uv_check_start(&a->flush, aconn_flush_all);
	uv_unref((uv_handle_t *)&a->flush);
	uv_idle_init(loop, &a->flush_kick);
	a->flush_kick.data = a;
	a->refs = 3; /* the retry timer and the two flush handles */
	*out = a;
	return 0;
err:
	berth_async_free(a);
	return rv;
}

void acall_unref(struct berth_async *a)
{
	if (--a->refs > 0 || !a->closing)
		return;
	berth_async_close_cb cb = a->close_cb;
	void *data = a->close_data;
	berth_async_free(a);
	if (cb != NULL)
		cb(data);
}

/* The retry timer's and the flush handles' close callback. */
static void berth_async_retry_closed(uv_handle_t *h)
{
	acall_unref(h->data);
}

void berth_async_close(struct berth_async *a, berth_async_close_cb close_cb, void *data)
{
	if (a == NULL || a->closing)
		return;
	a->closing = true;
	a->close_cb = close_cb;
	a->close_data = data;
	acall_close_all(a);
	awatch_close_all(a);
	for (struct aconn *conn = a->conns; conn != NULL; conn = conn->next)
		aconn_close(conn, "closed");
	uv_close((uv_handle_t *)&a->retry, berth_async_retry_closed);
	uv_close((uv_handle_t *)&a->flush, berth_async_retry_closed);
	uv_close((uv_handle_t *)&a->flush_kick, berth_async_retry_closed);
}

size_t berth_async_pending(const struct berth_async *a)
{
	return a->ncalls;
}

static struct bytes berth_async_bytes(const void *p, size_t n)
{
	return (struct bytes){.p = p, .n = n};
}

int berth_async_txn(struct berth_async *a, const struct msg_txn *t, bool serializable,
		    berth_async_cb cb, void *data)
{
	struct msg_req req;
	enum policy_kind kind = handle_txn_req(&req, t, serializable);
	return acall_submit(a, &req, kind, cb, data);
}

static int berth_async_one(struct berth_async *a, const struct msg_op *op, bool serializable,
			   berth_async_cb cb, void *data)
{
	struct msg_txn t = {.nsucc = 1, .succ = (struct msg_op *)op};
	return berth_async_txn(a, &t, serializable, cb, data);
}

int berth_async_put(struct berth_async *a, const void *key, size_t klen, const void *value,
		    size_t vlen, uint64_t lease, berth_async_cb cb, void *data)
{
	struct msg_op op = {.type = MSG_OP_PUT,
			    .key = berth_async_bytes(key, klen),
			    .value = berth_async_bytes(value, vlen),
			    .lease = lease};
	return berth_async_one(a, &op, false, cb, data);
}

int berth_async_get(struct berth_async *a, const void *key, size_t klen, uint64_t rev,
		    bool serializable, berth_async_cb cb, void *data)
{
	struct msg_op op = {.type = MSG_OP_RANGE, .key = berth_async_bytes(key, klen), .rev = rev};
	return berth_async_one(a, &op, serializable, cb, data);
}

int berth_async_delete(struct berth_async *a, const void *key, size_t klen, bool prefix,
		       berth_async_cb cb, void *data)
{
	struct msg_op op = {.type = MSG_OP_DEL,
			    .key = berth_async_bytes(key, klen),
			    .flags = prefix ? MSG_F_PREFIX : 0};
	return berth_async_one(a, &op, false, cb, data);
}

int berth_async_add(struct berth_async *a, const void *key, size_t klen, int64_t delta,
		    berth_async_cb cb, void *data)
{
	struct msg_op op = {
		.type = MSG_OP_ADD, .key = berth_async_bytes(key, klen), .delta = delta};
	return berth_async_one(a, &op, false, cb, data);
}

int berth_async_range(struct berth_async *a, const struct berth_range *r, berth_async_cb cb,
		      void *data)
{
	struct msg_op op;
	handle_range_op(&op, r);
	return berth_async_one(a, &op, r->serializable, cb, data);
}

int berth_async_compact(struct berth_async *a, uint64_t rev, berth_async_cb cb, void *data)
{
	struct msg_req req = {.type = MSG_REQ_COMPACT, .rev = rev};
	return acall_submit(a, &req, POLICY_WRITE, cb, data);
}

int berth_async_lease_grant(struct berth_async *a, int64_t ttl_s, uint64_t id, berth_async_cb cb,
			    void *data)
{
	struct msg_req req = {.type = MSG_REQ_LEASE_GRANT, .ttl = ttl_s, .lease = id};
	return acall_submit(a, &req, POLICY_WRITE, cb, data);
}

int berth_async_lease_revoke(struct berth_async *a, uint64_t id, berth_async_cb cb, void *data)
{
	struct msg_req req = {.type = MSG_REQ_LEASE_REVOKE, .lease = id};
	return acall_submit(a, &req, POLICY_WRITE, cb, data);
}

int berth_async_lease_keepalive(struct berth_async *a, uint64_t id, berth_async_cb cb, void *data)
{
	/* Not through the log (the leader extends it in memory): safe to repeat. */
	struct msg_req req = {.type = MSG_REQ_LEASE_KEEPALIVE, .lease = id};
	return acall_submit(a, &req, POLICY_READ, cb, data);
}

int berth_async_status(struct berth_async *a, berth_async_cb cb, void *data)
{
	struct msg_req req = {.type = MSG_REQ_STATUS};
	return acall_submit(a, &req, POLICY_ANY, cb, data);
}
