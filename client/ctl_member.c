/* client/ctl_member.c: berthctl member list, add, remove and transfer: the calls and the
 * configuration they answer with, as a table or JSON (docs/berthctl.md). */
#include "client/ctl.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>

/* The configuration in a member's answer. */
static void ctl_member_table(const struct wire_status *s)
{
	printf("%-6s %-8s %-7s %-22s %s\n", "ID", "ROLE", "LEADER", "PEER", "CLIENT");
	for (uint32_t i = 0; i < s->nmembers; i++) {
		const struct wire_member *m = &s->members[i];
		printf("%-6" PRIu64 " %-8s %-7s %-22.*s %.*s\n", m->id, wire_role_name(m->role),
		       m->id == s->leader ? "yes" : "", (int)m->peer.n, (const char *)m->peer.p,
		       (int)m->client.n, (const char *)m->client.p);
	}
	if (s->leader == 0)
		printf("(no leader known to member %" PRIu64 ")\n", s->id);
}

static void ctl_member_json(const struct wire_status *s)
{
	json_t *ms = json_array();
	for (uint32_t i = 0; i < s->nmembers; i++) {
		const struct wire_member *m = &s->members[i];
		json_array_append_new(ms, json_pack("{sI ss# ss# ss sb}", "id", (json_int_t)m->id,
						    "peer", (const char *)m->peer.p, m->peer.n,
						    "client", (const char *)m->client.p,
						    m->client.n, "role", wire_role_name(m->role),
						    "leader", m->id == s->leader));
	}
	json_t *o = json_pack("{sI sI sI so}", "leader", (json_int_t)s->leader, "term",
			      (json_int_t)s->term, "answered_by", (json_int_t)s->id, "members", ms);
	if (o == NULL || json_dumpf(o, stdout, JSON_INDENT(2)) != 0)
		fputs("{\"error\": {\"message\": \"out of memory\"}}", stdout);
	fputc('\n', stdout);
	json_decref(o);
}

static int ctl_member_report(struct ctl *c, struct berth *b, struct berth_result *r)
{
	int code = 0;
	if (r->err == 0 && r->has_resp && r->resp.has_status) {
		if (c->json)
			ctl_member_json(&r->resp.status);
		else
			ctl_member_table(&r->resp.status);
	} else {
		code = ctl_report_error(c, b, r);
	}
	berth_result_free(r);
	return code;
}

int ctl_member_list(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_member_list(b, c->serializable, &r);
	return ctl_member_report(c, b, &r);
}

int ctl_member_add(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_member_add(b, c->num, c->pos[1], c->pos[2], c->no_wait, &r);
	return ctl_member_report(c, b, &r);
}

int ctl_member_remove(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_member_remove(b, c->num, &r);
	return ctl_member_report(c, b, &r);
}

int ctl_member_transfer(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_member_transfer(b, c->num, &r);
	return ctl_member_report(c, b, &r);
}
