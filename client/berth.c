/* client/berth.c: the public blocking API: the handle, results, and every call as a
 * request for call_run (client/call.c). */
#include "client/berth.h"

#include "client/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int berth_open(struct berth **out, const struct berth_options *o, char *errbuf, size_t errlen)
{
	struct berth *b;
	int rv;

	*out = NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return handle_nomem(errbuf, errlen);
	if ((rv = handle_opts_init(&b->opt, o, errbuf, errlen)) != 0)
		goto err_after_alloc;
	if ((rv = call_conn_init(&b->conn, b->opt.max_frame_bytes)) != 0) {
		rv = handle_nomem(errbuf, errlen); /* the frame cap passed handle_opts_init */
		goto err_after_opts;
	}
	b->rng = handle_seed(b);
	*out = b;
	return 0;
err_after_opts:
	handle_opts_close(&b->opt);
err_after_alloc:
	free(b);
	return rv;
}

void berth_close(struct berth *b)
{
	if (b == NULL)
		return;
	call_conn_close(&b->conn);
	handle_opts_close(&b->opt);
	free(b);
}

const char *berth_errmsg(const struct berth *b)
{
	return b->errmsg;
}

size_t berth_endpoint_count(const struct berth *b)
{
	return b->opt.neps;
}

const char *berth_endpoint(const struct berth *b, size_t i)
{
	return i < b->opt.neps ? b->opt.names[i] : NULL;
}

void berth_result_free(struct berth_result *res)
{
	if (res->has_resp)
		wire_resp_free(&res->resp);
	free(res->frame);
	memset(res, 0, sizeof(*res));
}

const struct reply_kv *berth_result_kv(const struct berth_result *res)
{
	if (!res->has_resp || !res->resp.has_reply || res->resp.reply.nops == 0 ||
	    res->resp.reply.ops[0].nkvs == 0)
		return NULL;
	return &res->resp.reply.ops[0].kvs[0];
}

static struct bytes berth_bytes(const void *p, size_t n)
{
	return (struct bytes){.p = p, .n = n};
}

int berth_txn(struct berth *b, const struct msg_txn *t, bool serializable, struct berth_result *res)
{
	struct msg_req req;
	enum policy_kind kind = handle_txn_req(&req, t, serializable);
	return call_run(b, &req, kind, res);
}

/* A transaction of one operation and no compares. */
static int berth_one(struct berth *b, const struct msg_op *op, bool serializable,
		     struct berth_result *res)
{
	struct msg_txn t = {.nsucc = 1, .succ = (struct msg_op *)op};
	return berth_txn(b, &t, serializable, res);
}

int berth_put(struct berth *b, const void *key, size_t klen, const void *value, size_t vlen,
	      uint64_t lease, struct berth_result *res)
{
	struct msg_op op = {.type = MSG_OP_PUT,
			    .key = berth_bytes(key, klen),
			    .value = berth_bytes(value, vlen),
			    .lease = lease};
	return berth_one(b, &op, false, res);
}

int berth_get(struct berth *b, const void *key, size_t klen, uint64_t rev, bool serializable,
	      struct berth_result *res)
{
	struct msg_op op = {.type = MSG_OP_RANGE, .key = berth_bytes(key, klen), .rev = rev};
	return berth_one(b, &op, serializable, res);
}

int berth_delete(struct berth *b, const void *key, size_t klen, bool prefix,
		 struct berth_result *res)
{
	struct msg_op op = {.type = MSG_OP_DEL,
			    .key = berth_bytes(key, klen),
			    .flags = prefix ? MSG_F_PREFIX : 0};
	return berth_one(b, &op, false, res);
}

int berth_range(struct berth *b, const struct berth_range *r, struct berth_result *res)
{
	struct msg_op op;
	handle_range_op(&op, r);
	return berth_one(b, &op, r->serializable, res);
}

int berth_compact(struct berth *b, uint64_t rev, struct berth_result *res)
{
	struct msg_req req = {.type = MSG_REQ_COMPACT, .rev = rev};
	return call_run(b, &req, POLICY_WRITE, res);
}

int berth_lease_grant(struct berth *b, int64_t ttl_s, uint64_t id, struct berth_result *res)
{
	struct msg_req req = {.type = MSG_REQ_LEASE_GRANT, .ttl = ttl_s, .lease = id};
	return call_run(b, &req, POLICY_WRITE, res);
}

int berth_lease_revoke(struct berth *b, uint64_t id, struct berth_result *res)
{
	struct msg_req req = {.type = MSG_REQ_LEASE_REVOKE, .lease = id};
	return call_run(b, &req, POLICY_WRITE, res);
}

int berth_lease_keepalive(struct berth *b, uint64_t id, struct berth_result *res)
{
	/* Not through the log (the leader extends it in memory): safe to repeat. */
	struct msg_req req = {.type = MSG_REQ_LEASE_KEEPALIVE, .lease = id};
	return call_run(b, &req, POLICY_READ, res);
}

/* STATUS from one endpoint on a connection of its own. */
static int berth_status_at(struct berth *b, const char *endpoint, struct berth_result *res)
{
	struct msg_req req = {.type = MSG_REQ_STATUS};
	struct net_endpoint ep;
	struct call_conn c;
	uint64_t deadline = net_now_ms() + b->opt.timeout_ms;
	bool sent;
	int rv;

	memset(res, 0, sizeof(*res));
	b->errmsg[0] = '\0';
	if ((rv = net_endpoint_parse(endpoint, &ep, b->errmsg, sizeof(b->errmsg))) != 0)
		return call_finish(res, rv);
	if ((rv = call_conn_init(&c, b->opt.max_frame_bytes)) != 0)
		return call_finish(res, rv);
	if ((rv = call_conn_open(b, &c, &ep, deadline)) == 0) {
		rv = call_exchange(b, &c, &req, deadline, res, &sent);
		if (rv == 0 && res->resp.err != 0) {
			rv = res->resp.err;
			call_errmsg(b, "%s: %s", c.peer, err_text(rv));
		} else if (rv == 0 && !res->resp.has_status) {
			rv = BERTH_EBADREQ;
			call_errmsg(b, "%s: no status in the answer", c.peer);
		} else if (rv != 0) {
			call_errmsg(b, "%s: %s", c.peer, b->errmsg);
			if (rv == BERTH_ECLOSED)
				rv = BERTH_ENOCONN; /* a status changes nothing */
		}
	} else if (rv == BERTH_ETIMEOUT) {
		rv = BERTH_ENOCONN;
	}
	call_conn_close(&c);
	if (rv != 0 && (!res->has_resp || res->resp.err != rv))
		berth_result_free(res);
	return call_finish(res, rv);
}

int berth_status(struct berth *b, const char *endpoint, struct berth_result *res)
{
	struct msg_req req = {.type = MSG_REQ_STATUS};
	int rv;
	if (endpoint != NULL)
		return berth_status_at(b, endpoint, res);
	if ((rv = call_run(b, &req, POLICY_ANY, res)) == 0 && !res->resp.has_status) {
		berth_result_free(res);
		call_errmsg(b, "no status in the answer");
		return call_finish(res, BERTH_EBADREQ);
	}
	return rv;
}

int berth_status_all(struct berth *b, struct berth_endpoint_status *out, size_t n)
{
	size_t answered = 0;
	if (n != b->opt.neps) {
		call_errmsg(b, "status_all: %zu entries for %zu endpoints", n, b->opt.neps);
		return BERTH_EBADREQ;
	}
	for (size_t i = 0; i < n; i++) {
		out[i].endpoint = b->opt.names[i];
		out[i].err = berth_status_at(b, b->opt.names[i], &out[i].res);
		memcpy(out[i].errmsg, b->errmsg, sizeof(out[i].errmsg));
		answered += out[i].err == 0;
	}
	if (answered == 0) {
		call_errmsg(b, "no endpoint answered");
		return BERTH_ENOCONN;
	}
	b->errmsg[0] = '\0';
	return 0;
}
