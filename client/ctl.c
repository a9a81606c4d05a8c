/* client/ctl.c: berthctl's output: results and errors as text or JSON, the status table. */
#include "client/ctl.h"

#include "client/txnjson.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int ctl_usage_error(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	(void)c;
	fputs("berthctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void ctl_escape(FILE *f, const uint8_t *p, size_t n)
{
	int utf8 = txnjson_utf8(p, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (ch == '\\')
			fputs("\\\\", f);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if ((ch >= 0x20 && ch < 0x7f) || (ch >= 0x80 && utf8))
			fputc(ch, f);
		else
			fprintf(f, "\\x%02x", ch);
	}
}

static int ctl_exit(int err)
{
	return err == 0 ? 0 : err_indeterminate(err) ? 2 : 1;
}

void ctl_json_print(json_t *o)
{
	if (o == NULL || json_dumpf(o, stdout, JSON_INDENT(2)) != 0)
		fputs("{\"error\": {\"message\": \"out of memory\"}}", stdout);
	fputc('\n', stdout);
	json_decref(o);
}

static json_t *ctl_json_header(const struct wire_header *h)
{
	return json_pack("{sI sI sI sI sI}", "revision", (json_int_t)h->rev, "term",
			 (json_int_t)h->term, "index", (json_int_t)h->index, "member",
			 (json_int_t)h->member, "leader", (json_int_t)h->leader);
}

static json_t *ctl_json_error(int err, const char *msg)
{
	return json_pack("{sisssssb}", "code", err, "name", err_name(err), "message", msg,
			 "indeterminate", err_indeterminate(err));
}

static json_t *ctl_json_kv(const struct reply_kv *kv, bool keys_only)
{
	json_t *o = json_pack("{sIsIsIsI}", "create_revision", (json_int_t)kv->create_rev,
			      "mod_revision", (json_int_t)kv->mod_rev, "version",
			      (json_int_t)kv->version, "lease", (json_int_t)kv->lease);
	if (o != NULL) {
		txnjson_set_bytes(o, "key", kv->key.p, kv->key.n);
		if (!keys_only)
			txnjson_set_bytes(o, "value", kv->value.p, kv->value.n);
	}
	return o;
}

static json_t *ctl_json_op(const struct reply_op *op, bool keys_only)
{
	static const char *const names[] = {"range", "put", "delete", "add"};
	json_t *o = json_pack("{ss}", "op", names[op->type]);
	if (o == NULL)
		return NULL;
	if (op->type == MSG_OP_RANGE) {
		json_t *kvs = json_array();
		for (uint32_t i = 0; i < op->nkvs; i++)
			json_array_append_new(kvs, ctl_json_kv(&op->kvs[i], keys_only));
		json_object_set_new(o, "kvs", kvs);
		json_object_set_new(o, "count", json_integer((json_int_t)op->count));
		json_object_set_new(o, "more", json_boolean(op->more));
	} else if (op->type == MSG_OP_DEL) {
		json_object_set_new(o, "deleted", json_integer((json_int_t)op->deleted));
	} else if (op->type == MSG_OP_ADD) {
		json_object_set_new(o, "value", json_integer(op->value));
	}
	return o;
}

static void ctl_print_kvs(const struct reply_op *op, bool keys_only, bool count_only)
{
	if (count_only) {
		printf("%" PRIu64 "\n", op->count);
		return;
	}
	for (uint32_t i = 0; i < op->nkvs; i++) {
		ctl_escape(stdout, op->kvs[i].key.p, op->kvs[i].key.n);
		if (!keys_only) {
			fputc('\t', stdout);
			ctl_escape(stdout, op->kvs[i].value.p, op->kvs[i].value.n);
		}
		fputc('\n', stdout);
	}
	if (op->more)
		fprintf(stderr, "(%" PRIu64 " keys in all; raise --limit for more)\n", op->count);
}

static void ctl_print_txn(const struct reply *rp)
{
	printf("%s\n", rp->succeeded ? "SUCCESS" : "FAILURE");
	for (uint32_t i = 0; i < rp->nops; i++) {
		const struct reply_op *op = &rp->ops[i];
		switch (op->type) {
		case MSG_OP_RANGE:
			printf("range: %" PRIu64 " key(s)\n", op->count);
			ctl_print_kvs(op, false, false);
			break;
		case MSG_OP_PUT:
			printf("put: OK\n");
			break;
		case MSG_OP_DEL:
			printf("delete: %" PRIu64 " deleted\n", op->deleted);
			break;
		default:
			printf("add: %" PRId64 "\n", op->value);
			break;
		}
	}
	printf("revision %" PRIu64 "\n", rp->rev);
}

/* Text output of a successful call. Returns the exit status. */
static int ctl_print(struct ctl *c, const struct reply *rp, enum ctl_show show)
{
	const struct reply_op *op0 = rp->nops > 0 ? &rp->ops[0] : NULL;
	switch (show) {
	case CTL_SHOW_PUT:
		printf("OK (revision %" PRIu64 ")\n", rp->rev);
		break;
	case CTL_SHOW_GET:
		if (op0 == NULL || op0->nkvs == 0) {
			fputs("berthctl: get: ", stderr);
			ctl_escape(stderr, (const uint8_t *)c->pos[0], strlen(c->pos[0]));
			fputs(": not found\n", stderr);
			return 1;
		}
		ctl_escape(stdout, op0->kvs[0].value.p, op0->kvs[0].value.n);
		fputc('\n', stdout);
		break;
	case CTL_SHOW_DEL:
		printf("deleted %" PRIu64 " (revision %" PRIu64 ")\n", op0 ? op0->deleted : 0,
		       rp->rev);
		break;
	case CTL_SHOW_RANGE:
		if (op0 != NULL)
			ctl_print_kvs(op0, c->keys_only, c->count_only);
		break;
	case CTL_SHOW_TXN:
		ctl_print_txn(rp);
		break;
	case CTL_SHOW_COMPACT:
		printf("compacted up to revision %" PRIu64 "\n", c->num);
		break;
	case CTL_SHOW_LEASE_GRANT:
		printf("lease %" PRIu64 " granted, TTL %" PRId64 "s\n", rp->id, rp->ttl);
		break;
	case CTL_SHOW_LEASE_REVOKE:
		printf("lease %" PRIu64 " revoked\n", rp->id ? rp->id : c->num);
		break;
	case CTL_SHOW_LEASE_KEEPALIVE:
		printf("lease %" PRIu64 " kept alive, TTL %" PRId64 "s\n", rp->id ? rp->id : c->num,
		       rp->ttl);
		break;
	}
	return 0;
}

/* JSON output of a successful call. */
static int ctl_print_json(struct ctl *c, const struct wire_resp *w, enum ctl_show show)
{
	const struct reply *rp = &w->reply;
	json_t *o = json_pack("{so sI}", "header", ctl_json_header(&w->hdr), "revision",
			      (json_int_t)rp->rev);
	int code = 0;
	if (o == NULL) {
		ctl_json_print(NULL);
		return 1;
	}
	if (show == CTL_SHOW_TXN) {
		json_t *a = json_array();
		for (uint32_t i = 0; i < rp->nops; i++)
			json_array_append_new(a, ctl_json_op(&rp->ops[i], false));
		json_object_set_new(o, "succeeded", json_boolean(rp->succeeded));
		json_object_set_new(o, "results", a);
	} else if (rp->nops > 0 && (show == CTL_SHOW_GET || show == CTL_SHOW_RANGE)) {
		json_t *op = ctl_json_op(&rp->ops[0], c->keys_only);
		json_object_update(o, op);
		json_object_del(o, "op");
		json_decref(op);
		code = show == CTL_SHOW_GET && rp->ops[0].nkvs == 0;
	} else if (rp->nops > 0 && show == CTL_SHOW_DEL) {
		json_object_set_new(o, "deleted", json_integer((json_int_t)rp->ops[0].deleted));
	} else if (show >= CTL_SHOW_LEASE_GRANT) {
		json_object_set_new(o, "id", json_integer((json_int_t)(rp->id ? rp->id : c->num)));
		if (show != CTL_SHOW_LEASE_REVOKE)
			json_object_set_new(o, "ttl", json_integer(rp->ttl));
	} else if (show == CTL_SHOW_GET) {
		json_object_set_new(o, "kvs", json_array());
		code = 1;
	}
	ctl_json_print(o);
	return code;
}

int ctl_fail(struct ctl *c, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->json)
		ctl_json_print(json_pack("{so}", "error", ctl_json_error(err, msg)));
	else
		fprintf(stderr, "berthctl: %s: %s\n", c->cmd, msg);
	return ctl_exit(err);
}

int ctl_report_error(struct ctl *c, struct berth *b, const struct berth_result *r)
{
	int err = r->err ? r->err : BERTH_EBADREQ;
	const char *msg = r->err ? berth_errmsg(b) : "the answer carries no result";
	int code = ctl_exit(err);
	if (c->json) {
		json_t *o = json_pack("{so}", "error", ctl_json_error(err, msg));
		if (o != NULL && r->has_resp)
			json_object_set_new(o, "header", ctl_json_header(&r->resp.hdr));
		ctl_json_print(o);
	} else {
		fprintf(stderr, "berthctl: %s: %s (%s)%s\n", c->cmd, msg[0] ? msg : err_text(err),
			err_name(err),
			code == 2 ? "\nberthctl: the outcome is unknown: it may have been applied"
				  : "");
	}
	return code;
}

int ctl_report(struct ctl *c, struct berth *b, struct berth_result *r, enum ctl_show show)
{
	int code;
	if (r->err == 0 && r->has_resp && r->resp.has_reply)
		code = c->json ? ctl_print_json(c, &r->resp, show)
			       : ctl_print(c, &r->resp.reply, show);
	else
		code = ctl_report_error(c, b, r);
	berth_result_free(r);
	return code;
}

int ctl_snapshot_report(struct ctl *c, struct berth *b, int err, const char *file,
			const struct berth_snapshot *s)
{
	if (err != 0) {
		const char *msg = berth_errmsg(b);
		if (c->json)
			ctl_json_print(json_pack("{so}", "error", ctl_json_error(err, msg)));
		else
			fprintf(stderr, "berthctl: %s: %s (%s)\nberthctl: no snapshot was saved\n",
				c->cmd, msg[0] ? msg : err_text(err), err_name(err));
		return ctl_exit(err);
	}
	char crc[16];
	snprintf(crc, sizeof(crc), "%08" PRIx32, s->crc);
	if (c->json)
		ctl_json_print(json_pack("{sssIsIsIsssI}", "file", file, "revision",
					 (json_int_t)s->rev, "applied_index",
					 (json_int_t)s->applied, "size", (json_int_t)s->size,
					 "crc32", crc, "member", (json_int_t)s->member));
	else
		printf("saved %s: revision %" PRIu64 ", applied index %" PRIu64 ", %" PRIu64
		       " bytes, crc32 %s, from member %" PRIu64 "\n",
		       file, s->rev, s->applied, s->size, crc, s->member);
	return 0;
}

static json_t *ctl_json_status(const struct wire_status *s)
{
	json_t *o =
		json_pack("{sI ss# ss# ss sI sI sI sI sI sI}", "id", (json_int_t)s->id, "peer",
			  (const char *)s->peer.p, s->peer.n, "client", (const char *)s->client.p,
			  s->client.n, "state", wire_state_name(s->state), "term",
			  (json_int_t)s->term, "commit", (json_int_t)s->commit, "applied",
			  (json_int_t)s->applied, "revision", (json_int_t)s->rev, "compacted",
			  (json_int_t)s->compacted, "leader", (json_int_t)s->leader);
	json_t *ms = json_array();
	for (uint32_t i = 0; o != NULL && i < s->nmembers; i++) {
		const struct wire_member *m = &s->members[i];
		json_array_append_new(ms, json_pack("{sI ss# ss# ss}", "id", (json_int_t)m->id,
						    "peer", (const char *)m->peer.p, m->peer.n,
						    "client", (const char *)m->client.p,
						    m->client.n, "role", wire_role_name(m->role)));
	}
	if (o != NULL)
		json_object_set_new(o, "members", ms);
	else
		json_decref(ms);
	return o;
}

static const char *ctl_role(const struct wire_status *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->nmembers; i++)
		if (s->members[i].id == id)
			return wire_role_name(s->members[i].role);
	return "-";
}

static void ctl_status_table(struct berth_endpoint_status *st, size_t n)
{
	const struct wire_status *best = NULL;
	printf("%-22s %-6s %-11s %-7s %-6s %-9s %-9s %-22s %s\n", "ENDPOINT", "ID", "STATE", "ROLE",
	       "TERM", "APPLIED", "REVISION", "PEER", "CLIENT");
	for (size_t i = 0; i < n; i++) {
		if (st[i].err != 0) {
			printf("%-22s unreachable: %s\n", st[i].endpoint, st[i].errmsg);
			continue;
		}
		const struct wire_status *s = &st[i].res.resp.status;
		if (best == NULL || s->term > best->term)
			best = s;
		printf("%-22s %-6" PRIu64 " %-11s %-7s %-6" PRIu64 " %-9" PRIu64 " %-9" PRIu64
		       " %-22.*s %.*s\n",
		       st[i].endpoint, s->id, wire_state_name(s->state), ctl_role(s, s->id),
		       s->term, s->applied, s->rev, (int)s->peer.n, (const char *)s->peer.p,
		       (int)s->client.n, (const char *)s->client.p);
	}
	/* Members that no endpoint answered for, as the most recent answer lists them. */
	for (uint32_t k = 0; best != NULL && k < best->nmembers; k++) {
		const struct wire_member *m = &best->members[k];
		bool seen = false;
		for (size_t i = 0; i < n && !seen; i++)
			seen = st[i].err == 0 && st[i].res.resp.status.id == m->id;
		if (!seen)
			printf("%-22s %-6" PRIu64 " %-11s %-7s %-6s %-9s %-9s %-22.*s %.*s\n",
			       "(no answer)", m->id, "-", wire_role_name(m->role), "-", "-", "-",
			       (int)m->peer.n, (const char *)m->peer.p, (int)m->client.n,
			       (const char *)m->client.p);
	}
}

int ctl_status(struct ctl *c, struct berth *b)
{
	size_t n = berth_endpoint_count(b);
	struct berth_endpoint_status *st = calloc(n, sizeof(*st));
	int rv;
	if (st == NULL)
		return ctl_usage_error(c, "out of memory");
	rv = berth_status_all(b, st, n);
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *o = st[i].err == 0
					    ? ctl_json_status(&st[i].res.resp.status)
					    : json_pack("{so}", "error",
							ctl_json_error(st[i].err, st[i].errmsg));
			if (o != NULL)
				json_object_set_new(o, "endpoint", json_string(st[i].endpoint));
			json_array_append_new(a, o);
		}
		ctl_json_print(json_pack("{so}", "endpoints", a));
	} else {
		ctl_status_table(st, n);
	}
	for (size_t i = 0; i < n; i++)
		berth_result_free(&st[i].res);
	free(st);
	if (rv != 0 && !c->json)
		fprintf(stderr, "berthctl: status: %s\n", berth_errmsg(b));
	return rv == 0 ? 0 : 1;
}

int ctl_leader(struct ctl *c, struct berth *b)
{
	size_t n = berth_endpoint_count(b);
	struct berth_endpoint_status *st = calloc(n, sizeof(*st));
	const struct wire_status *best = NULL;
	if (st == NULL)
		return ctl_usage_error(c, "out of memory");
	berth_status_all(b, st, n);
	/* A member cut off from the others may still believe it leads an older term: the
	 * highest term wins. */
	for (size_t i = 0; i < n; i++) {
		const struct wire_status *s = &st[i].res.resp.status;
		if (st[i].err == 0 && st[i].res.has_resp && st[i].res.resp.has_status &&
		    s->state == WIRE_LEADER && (best == NULL || s->term > best->term))
			best = s;
	}
	int rv = best != NULL ? 0 : 1;
	if (c->json) {
		json_t *o = best ? json_pack("{sIsIss#}", "id", (json_int_t)best->id, "term",
					     (json_int_t)best->term, "client",
					     (const char *)best->client.p, (int)best->client.n)
				 : json_pack("{sn}", "id");
		ctl_json_print(o);
	} else if (best != NULL) {
		printf("%llu\n", (unsigned long long)best->id);
	} else {
		fprintf(stderr, "berthctl: leader: no member reports itself leader\n");
	}
	for (size_t i = 0; i < n; i++)
		berth_result_free(&st[i].res);
	free(st);
	return rv;
}
