/* client/berth_member.c: libberth's membership calls: list, add, remove, transfer. */
#include "client/call.h"

#include <string.h>

/* A membership answer must carry the status; a refusal keeps its response. */
static int berth_member_run(struct berth *b, struct msg_req *req, enum policy_kind kind,
			    struct berth_result *res)
{
	int rv = call_run(b, req, kind, res);
	if (rv == 0 && !res->resp.has_status) {
		berth_result_free(res);
		call_errmsg(b, "no member list in the answer");
		return call_finish(res, BERTH_EBADREQ);
	}
	return rv;
}

static int berth_member_bad(struct berth *b, struct berth_result *res, const char *what)
{
	memset(res, 0, sizeof(*res));
	call_errmsg(b, "%s", what);
	return call_finish(res, BERTH_EBADREQ);
}

static bool berth_member_addr_ok(const char *a)
{
	size_t n = a != NULL ? strlen(a) : 0;
	return n > 0 && n <= MSG_MEMBER_ADDR_MAX && strchr(a, ':') != NULL;
}

int berth_member_list(struct berth *b, bool serializable, struct berth_result *res)
{
	struct msg_req req = {.type = MSG_REQ_MEMBER_LIST, .serializable = serializable};
	return berth_member_run(b, &req, serializable ? POLICY_ANY : POLICY_READ, res);
}

int berth_member_add(struct berth *b, uint64_t id, const char *peer, const char *client,
		     bool nowait, struct berth_result *res)
{
	if (id == 0 || id > MSG_MEMBER_ID_MAX)
		return berth_member_bad(b, res, "member id must be 1..4294967295");
	if (!berth_member_addr_ok(peer) || !berth_member_addr_ok(client))
		return berth_member_bad(b, res, "addresses must be host:port, at most 255 bytes");
	struct msg_req req = {.type = MSG_REQ_MEMBER_ADD,
			      .member = id,
			      .peer = {(const uint8_t *)peer, strlen(peer)},
			      .client = {(const uint8_t *)client, strlen(client)},
			      .nowait = nowait};
	return berth_member_run(b, &req, POLICY_ONCE, res);
}

int berth_member_remove(struct berth *b, uint64_t id, struct berth_result *res)
{
	if (id == 0 || id > MSG_MEMBER_ID_MAX)
		return berth_member_bad(b, res, "member id must be 1..4294967295");
	struct msg_req req = {.type = MSG_REQ_MEMBER_REMOVE, .member = id};
	return berth_member_run(b, &req, POLICY_ONCE, res);
}

int berth_member_transfer(struct berth *b, uint64_t id, struct berth_result *res)
{
	if (id > MSG_MEMBER_ID_MAX)
		return berth_member_bad(b, res, "member id must be 0..4294967295");
	struct msg_req req = {.type = MSG_REQ_MEMBER_TRANSFER, .member = id};
	return berth_member_run(b, &req, POLICY_ONCE, res);
}
