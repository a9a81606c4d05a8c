/* client/handle.c: the options both handles keep, and their error messages. */
#include "client/handle.h"

#include "client/proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void handle_opts_close(struct handle_opts *h)
{
	if (h->names != NULL)
		for (size_t i = 0; i < h->neps; i++)
			free(h->names[i]);
	free(h->names);
	free(h->eps);
	free(h->token);
	memset(h, 0, sizeof(*h));
}

int handle_opts_init(struct handle_opts *h, const struct berth_options *o, char *errbuf,
		     size_t errlen)
{
	char scratch[BERTH_ERRMSG_BYTES];
	struct proto probe;
	int rv = BERTH_ENOMEM;

	if (errbuf == NULL || errlen == 0) {
		errbuf = scratch;
		errlen = sizeof(scratch);
	}
	errbuf[0] = '\0';
	memset(h, 0, sizeof(*h));
	if (o == NULL || o->nendpoints == 0 || o->endpoints == NULL) {
		snprintf(errbuf, errlen, "no endpoints");
		return BERTH_EBADREQ;
	}
	h->eps = calloc(o->nendpoints, sizeof(*h->eps));
	h->names = calloc(o->nendpoints, sizeof(*h->names));
	if (h->eps == NULL || h->names == NULL)
		goto err;
	h->neps = o->nendpoints;
	for (size_t i = 0; i < h->neps; i++) {
		if ((rv = net_endpoint_parse(o->endpoints[i], &h->eps[i], errbuf, errlen)) != 0)
			goto err;
		rv = BERTH_ENOMEM;
		if ((h->names[i] = strdup(o->endpoints[i])) == NULL)
			goto err;
	}
	if (o->token != NULL && o->token[0] != '\0') {
		h->token_len = strlen(o->token);
		if ((h->token = malloc(h->token_len)) == NULL)
			goto err;
		memcpy(h->token, o->token, h->token_len);
	}
	if ((rv = proto_init(&probe, o->max_frame_bytes)) != 0) {
		snprintf(errbuf, errlen, "max_frame_bytes: %s", err_text(rv));
		goto err;
	}
	proto_close(&probe);
	h->timeout_ms = o->timeout_ms ? o->timeout_ms : BERTH_DEFAULT_TIMEOUT_MS;
	h->connect_timeout_ms =
		o->connect_timeout_ms ? o->connect_timeout_ms : BERTH_DEFAULT_CONNECT_TIMEOUT_MS;
	if (h->connect_timeout_ms > h->timeout_ms)
		h->connect_timeout_ms = h->timeout_ms;
	h->max_redirects = o->max_redirects ? o->max_redirects : BERTH_DEFAULT_MAX_REDIRECTS;
	h->session_ttl_ms = o->session_ttl_ms ? o->session_ttl_ms : BERTH_DEFAULT_SESSION_TTL_MS;
	h->no_session = o->no_session;
	h->max_frame_bytes = o->max_frame_bytes;
	return 0;
err:
	if (rv == BERTH_ENOMEM)
		snprintf(errbuf, errlen, "%s", err_text(rv));
	handle_opts_close(h);
	return rv;
}

enum policy_kind handle_txn_req(struct msg_req *req, const struct msg_txn *t, bool serializable)
{
	*req = (struct msg_req){.type = MSG_REQ_TXN, .txn = *t, .serializable = serializable};
	if (msg_txn_writes(t)) {
		req->serializable = false;
		return POLICY_WRITE;
	}
	return serializable ? POLICY_ANY : POLICY_READ;
}

void handle_range_op(struct msg_op *op, const struct berth_range *r)
{
	*op = (struct msg_op){.type = MSG_OP_RANGE,
			      .key = {r->key, r->klen},
			      .end = {r->end, r->end ? r->elen : 0},
			      .limit = r->limit,
			      .rev = r->rev};
	op->flags =
		(uint8_t)((r->prefix ? MSG_F_PREFIX : 0) | (r->keys_only ? MSG_F_KEYS_ONLY : 0) |
			  (r->count_only ? MSG_F_COUNT_ONLY : 0));
}

int handle_nomem(char *errbuf, size_t errlen)
{
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "%s", err_text(BERTH_ENOMEM));
	return BERTH_ENOMEM;
}

uint64_t handle_seed(const void *handle)
{
	uint64_t x = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15u ^ (uint64_t)(uintptr_t)handle;
	return x | 1;
}

void handle_verrmsg(char *dst, const char *fmt, va_list ap)
{
	char tmp[BERTH_ERRMSG_BYTES];
	vsnprintf(tmp, sizeof(tmp), fmt, ap); /* fmt's arguments may be dst itself */
	memcpy(dst, tmp, sizeof(tmp));
}

void handle_errmsg(char *dst, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	handle_verrmsg(dst, fmt, ap);
	va_end(ap);
}
