/* client/ctl_taskdef.c: berthctl taskdef register, list and describe: ECS task definition
 * JSON in, the register transaction of docs/commits.md with bounded retries, revisions
 * listed from the keys alone. */
#include "client/ctl_sched.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* FILE ("-": stdin) into a new NUL-terminated buffer of at most CTL_TASKDEF_FILE_MAX. */
static int ctl_read_file(struct ctl *c, const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n = 0;
	if (f == NULL)
		return ctl_usage_error(c, "%s: %s", path, strerror(errno));
	if ((buf = malloc(CTL_TASKDEF_FILE_MAX + 1)) == NULL) {
		if (f != stdin)
			fclose(f);
		return ctl_usage_error(c, "out of memory");
	}
	while (n <= CTL_TASKDEF_FILE_MAX && !feof(f) && !ferror(f))
		n += fread(buf + n, 1, CTL_TASKDEF_FILE_MAX + 1 - n, f);
	int bad = ferror(f), big = n > CTL_TASKDEF_FILE_MAX;
	if (f != stdin)
		fclose(f);
	if (bad || big) {
		free(buf);
		return bad ? ctl_usage_error(c, "%s: read error", path)
			   : ctl_usage_error(c, "%s: larger than %u bytes", path,
					     CTL_TASKDEF_FILE_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static void ctl_taskdef_print(const struct model_taskdef *td)
{
	printf("%s:%" PRIu32 "  cpu %" PRIu32 "  memory %" PRIu32 " MiB\n", td->family,
	       td->revision, td->cpu, td->memory);
	for (size_t i = 0; i < td->ncontainers; i++) {
		const struct model_container *k = &td->containers[i];
		printf("  container %s: %s  cpu %" PRIu32 "  memory %" PRIu32 "%s\n", k->name,
		       k->image, k->cpu, k->memory, k->essential ? "  essential" : "");
		if (k->ncommand > 0) {
			printf("    command:");
			for (size_t a = 0; a < k->ncommand; a++) {
				fputc(' ', stdout);
				ctl_escape(stdout, (const uint8_t *)k->command[a],
					   strlen(k->command[a]));
			}
			fputc('\n', stdout);
		}
		for (size_t e = 0; e < k->nenvironment; e++) {
			printf("    env %s=", k->environment[e].name);
			ctl_escape(stdout, (const uint8_t *)k->environment[e].value,
				   strlen(k->environment[e].value));
			fputc('\n', stdout);
		}
		for (size_t p = 0; p < k->nports; p++) {
			const struct model_port_mapping *m = &k->ports[p];
			if (m->host_port)
				printf("    port %" PRIu16 " -> host %" PRIu16 "/%s\n",
				       m->container_port, m->host_port,
				       m->protocol == MODEL_UDP ? "udp" : "tcp");
			else
				printf("    port %" PRIu16 "/%s (not published)\n",
				       m->container_port, m->protocol == MODEL_UDP ? "udp" : "tcp");
		}
	}
}

/* One attempt of the register transaction: family key at version v holding latest.
 * *done when it committed; otherwise v and latest are what the failure branch read. */
static int ctl_register_once(struct ctl *c, struct berth *b, struct model_taskdef *td, int64_t *v,
			     int64_t *latest, bool *done)
{
	char fkey[MODEL_KEY_MAX], tkey[MODEL_KEY_MAX], err[256];
	uint8_t num[9];
	struct mp_buf rec;
	struct berth_result r;
	int code = 0;
	if (*latest < 0 || *latest >= MODEL_REVISION_MAX)
		return ctl_fail(c, BERTH_ETOOLARGE, "family %s: no revision after %" PRId64,
				td->family, *latest);
	td->revision = (uint32_t)*latest + 1;
	model_key_family(fkey, td->family);
	model_key_taskdef(tkey, td->family, td->revision);
	mp_buf_init(&rec);
	int rv = model_taskdef_encode(td, &rec, err, sizeof(err));
	if (rv != 0) {
		mp_buf_close(&rec);
		return ctl_fail(c, rv, "%s", err);
	}
	struct bytes fk = {(const uint8_t *)fkey, strlen(fkey)};
	struct msg_compare cmp[2] = {
		{.target = MSG_CMP_VERSION, .op = MSG_EQ, .key = fk, .num = *v},
		{.target = MSG_CMP_INT, .op = MSG_EQ, .key = fk, .num = *latest}};
	struct msg_op succ[2] = {
		{.type = MSG_OP_PUT, .key = fk, .value = {num, mp_int_encode(td->revision, num)}},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)tkey, strlen(tkey)},
		 .value = {rec.data, rec.len}}};
	struct msg_op fail = {.type = MSG_OP_RANGE, .key = fk};
	struct msg_txn t = {
		.ncmp = 2, .nsucc = 2, .nfail = 1, .cmp = cmp, .succ = succ, .fail = &fail};
	if (berth_txn(b, &t, false, &r) != 0 || !r.resp.has_reply) {
		code = ctl_report_error(c, b, &r);
	} else if (r.resp.reply.succeeded) {
		*done = true;
	} else {
		const struct reply_op *op = r.resp.reply.nops ? &r.resp.reply.ops[0] : NULL;
		*v = 0;
		*latest = 0;
		if (op != NULL && op->nkvs > 0) {
			*v = op->kvs[0].version;
			if (mp_value_int(op->kvs[0].value.p, op->kvs[0].value.n, latest) != 0)
				code = ctl_fail(c, BERTH_ECORRUPT,
						"%s does not hold a revision number", fkey);
		}
	}
	berth_result_free(&r);
	mp_buf_close(&rec);
	return code;
}

int ctl_taskdef_register(struct ctl *c, struct berth *b)
{
	struct model_taskdef td = {0};
	char err[256], *text = NULL;
	size_t len = 0;
	int64_t v = 0, latest = 0;
	bool done = false;
	int code;
	uint64_t rng = ctl_seed();
	if ((code = ctl_read_file(c, c->pos[0], &text, &len)) != 0)
		return code;
	code = model_taskdef_parse_json(text, len, &td, err, sizeof(err));
	free(text);
	if (code != 0)
		return ctl_usage_error(c, "taskdef register: %s: %s", c->pos[0], err);
	/* The first attempt assumes a new family; a failed compare reads the real one. */
	for (int attempt = 1; code == 0 && !done; attempt++) {
		if (attempt > CTL_CAS_ATTEMPTS) {
			code = ctl_fail(c, BERTH_EBUSY, "family %s: %d attempts lost the race",
					td.family, CTL_CAS_ATTEMPTS);
			break;
		}
		if (attempt > 2)
			ctl_backoff(&rng, attempt - 2);
		code = ctl_register_once(c, b, &td, &v, &latest, &done);
	}
	if (done && c->json)
		ctl_json_print(model_taskdef_to_json(&td));
	else if (done)
		printf("%s:%" PRIu32 "\n", td.family, td.revision);
	model_taskdef_free(&td);
	return code;
}

struct ctl_revs {
	json_t *list; /* --json: the names */
	size_t n;
};

static int ctl_taskdef_key(struct ctl *c, void *arg, const struct reply_kv *kv)
{
	struct ctl_revs *rv = arg;
	struct model_key k;
	char name[MODEL_NAME_MAX + 16];
	if (model_key_parse((const char *)kv->key.p, kv->key.n, &k) != 0 ||
	    k.kind != MODEL_KEY_TASKDEF)
		return 0;
	snprintf(name, sizeof(name), "%s:%" PRIu32, k.family, k.revision);
	if (c->json)
		json_array_append_new(rv->list, json_string(name));
	else
		printf("%s\n", name);
	rv->n++;
	return 0;
}

int ctl_taskdef_list(struct ctl *c, struct berth *b)
{
	char prefix[MODEL_KEY_MAX];
	struct ctl_revs rv = {.list = json_array()};
	const char *why = c->npos ? model_name_check(MODEL_NAME, c->pos[0]) : NULL;
	int code;
	if (why != NULL) {
		json_decref(rv.list);
		return ctl_usage_error(c, "family \"%s\": %s", c->pos[0], why);
	}
	model_key_prefix(prefix, c->npos ? MODEL_KEY_TASKDEF : MODEL_KEY_FAMILY, NULL,
			 c->npos ? c->pos[0] : NULL);
	code = ctl_range_all(c, b, prefix, true, ctl_taskdef_key, &rv, NULL);
	if (code == 0 && c->json)
		ctl_json_print(json_pack("{sO}", "taskDefinitions", rv.list));
	json_decref(rv.list);
	return code;
}

int ctl_taskdef_describe(struct ctl *c, struct berth *b)
{
	char family[MODEL_NAME_MAX + 1];
	uint32_t rev;
	struct model_taskdef td = {0};
	int code = ctl_taskdef_ref(c, c->pos[0], family, &rev);
	if (code == 0)
		code = ctl_taskdef_load(c, b, family, rev, &td);
	if (code == 0 && c->json)
		ctl_json_print(model_taskdef_to_json(&td));
	else if (code == 0)
		ctl_taskdef_print(&td);
	model_taskdef_free(&td);
	return code;
}
