/* client/ctl_instance.c: berthctl instance list, describe, drain, activate and
 * attributes: instances as their agents registered them, with their usage; the status
 * and the attributes changed by compare-and-swap on the record (docs/commits.md). */
#include "client/ctl_sched.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *ctl_inst_status(const struct model_instance *in)
{
	return in->status == MODEL_INSTANCE_DRAINING ? "DRAINING" : "ACTIVE";
}

static void ctl_print_ranges(const struct model_instance *in)
{
	for (size_t i = 0; i < in->nports; i++) {
		if (in->ports[i].from == in->ports[i].to)
			printf("%s%" PRIu16, i ? "," : "", in->ports[i].from);
		else
			printf("%s%" PRIu16 "-%" PRIu16, i ? "," : "", in->ports[i].from,
			       in->ports[i].to);
	}
	if (in->nports == 0)
		printf("-");
}

static void ctl_print_attrs(const struct model_instance *in, const char *sep)
{
	for (size_t i = 0; i < in->nattributes; i++)
		printf("%s%s=%s", i ? sep : "", in->attributes[i].name, in->attributes[i].value);
	if (in->nattributes == 0)
		printf("-");
}

int ctl_instance_list(struct ctl *c, struct berth *b)
{
	struct ctl_view v = {0};
	int code = ctl_cluster_check(c);
	if (code != 0 || (code = ctl_view_load(c, b, NULL, &v)) != 0) {
		ctl_view_free(&v);
		return code;
	}
	json_t *list = json_array();
	if (!c->json)
		printf("%-20s %-8s %-5s %-7s %-8s %-6s %-15s %s\n", "ID", "STATUS", "ALIVE", "CPU",
		       "MEMORY", "TASKS", "PORTS", "ATTRIBUTES");
	for (size_t i = 0; i < v.ninst; i++) {
		const struct ctl_inst *in = &v.inst[i];
		if (!in->has_rec)
			continue;
		if (c->json) {
			json_t *o = model_instance_to_json(&in->rec);
			if (o != NULL)
				json_object_set_new(o, "alive", json_boolean(in->alive));
			json_array_append_new(list, o);
			continue;
		}
		printf("%-20s %-8s %-5s %-7" PRIu32 " %-8" PRIu32 " %-6zu ", in->id,
		       ctl_inst_status(&in->rec), in->alive ? "yes" : "no", in->rec.cpu,
		       in->rec.memory, in->nplaced);
		ctl_print_ranges(&in->rec);
		printf(" ");
		ctl_print_attrs(&in->rec, ",");
		printf("\n");
	}
	if (c->json)
		ctl_json_print(
			json_pack("{sO sI}", "instances", list, "revision", (json_int_t)v.rev));
	json_decref(list);
	ctl_view_free(&v);
	return 0;
}

/* The instance pos[0], or exit 1 when it is not a valid id. */
static int ctl_iid(struct ctl *c)
{
	const char *why = model_name_check(MODEL_NAME_ID, c->pos[0]);
	if (why != NULL)
		return ctl_usage_error(c, "instance \"%s\": %s", c->pos[0], why);
	return ctl_cluster_check(c);
}

int ctl_instance_describe(struct ctl *c, struct berth *b)
{
	struct ctl_view v = {0};
	int code = ctl_iid(c);
	if (code == 0)
		code = ctl_view_load(c, b, c->pos[0], &v);
	if (code == 0 && (v.ninst == 0 || !v.inst[0].has_rec))
		code = ctl_fail(c, BERTH_ENOTFOUND, "instance %s not found in cluster %s",
				c->pos[0], c->cluster);
	if (code != 0) {
		ctl_view_free(&v);
		return code;
	}
	const struct ctl_inst *in = &v.inst[0];
	if (c->json) {
		json_t *o = model_instance_to_json(&in->rec);
		if (o != NULL)
			json_object_set_new(o, "usage", ctl_inst_json(in));
		ctl_json_print(o);
	} else {
		printf("instance %s (cluster %s): %s, %s\n", in->id, c->cluster,
		       ctl_inst_status(&in->rec), in->alive ? "alive" : "not alive (no agent)");
		printf("  registered at %" PRIu64 " ms, lease %" PRIu64 "\n", in->rec.registered_ms,
		       in->rec.lease);
		printf("  cpu: %" PRId64 " of %" PRIu32 " used\n", in->cpu_used, in->rec.cpu);
		printf("  memory: %" PRId64 " of %" PRIu32 " MiB used\n", in->mem_used,
		       in->rec.memory);
		printf("  ports offered: ");
		ctl_print_ranges(&in->rec);
		printf("\n  ports in use:");
		for (size_t i = 0; i < in->nports; i++)
			printf(" %" PRIu16, in->ports[i]);
		printf("%s\n  attributes: ", in->nports ? "" : " -");
		ctl_print_attrs(&in->rec, " ");
		printf("\n  tasks placed (%zu):", in->nplaced);
		for (size_t i = 0; i < in->nplaced; i++)
			printf(" %s", in->placed[i]);
		printf("\n");
	}
	ctl_view_free(&v);
	return 0;
}

/* What an edit of an instance record does: a status, or attribute changes. */
struct ctl_inst_edit {
	int status;             /* -1: unchanged */
	char **names, **values; /* attribute changes; value "" removes */
	int n;
	struct model_instance after;
};

/* The record with the pair name=value set (value "": removed). 0 or -1 (no memory). */
static int ctl_attr_set(struct model_instance *in, const char *name, const char *value)
{
	size_t i = 0;
	while (i < in->nattributes && strcmp(in->attributes[i].name, name) != 0)
		i++;
	if (value[0] == '\0') {
		if (i < in->nattributes) {
			free(in->attributes[i].name);
			free(in->attributes[i].value);
			memmove(&in->attributes[i], &in->attributes[i + 1],
				(in->nattributes - i - 1) * sizeof(*in->attributes));
			in->nattributes--;
		}
		return 0;
	}
	char *v = strdup(value);
	if (v == NULL)
		return -1;
	if (i < in->nattributes) {
		free(in->attributes[i].value);
		in->attributes[i].value = v;
		return 0;
	}
	struct model_pair *p = realloc(in->attributes, (i + 1) * sizeof(*p));
	if (p == NULL || (p[i].name = strdup(name)) == NULL) {
		if (p != NULL)
			in->attributes = p;
		free(v);
		return -1;
	}
	p[i].value = v;
	in->attributes = p;
	in->nattributes++;
	return 0;
}

static int ctl_inst_edit(struct ctl *c, struct berth *b, void *arg, const struct reply_kv *kv,
			 struct mp_buf *out)
{
	struct ctl_inst_edit *e = arg;
	char err[256];
	(void)b;
	model_instance_free(&e->after);
	if (kv == NULL)
		return ctl_fail(c, BERTH_ENOTFOUND, "instance %s not found in cluster %s",
				c->pos[0], c->cluster);
	if (model_instance_decode(kv->value.p, kv->value.n, &e->after, err, sizeof(err)) != 0)
		return ctl_fail(c, BERTH_ECORRUPT, "instance %s: %s", c->pos[0], err);
	if (e->status >= 0) {
		if ((int)e->after.status == e->status)
			return 0; /* nothing to write */
		e->after.status = (enum model_instance_status)e->status;
	}
	for (int i = 0; i < e->n; i++)
		if (ctl_attr_set(&e->after, e->names[i], e->values[i]) != 0)
			return ctl_fail(c, BERTH_ENOMEM, "out of memory");
	int rv = model_instance_encode(&e->after, out, err, sizeof(err));
	return rv == 0 ? 0 : ctl_fail(c, rv, "instance %s: %s", c->pos[0], err);
}

static int ctl_instance_status(struct ctl *c, struct berth *b, enum model_instance_status to)
{
	char key[MODEL_KEY_MAX];
	struct ctl_inst_edit e = {.status = (int)to};
	bool written;
	int code = ctl_iid(c);
	if (code != 0)
		return code;
	model_key_instance(key, c->cluster, c->pos[0]);
	code = ctl_cas_edit(c, b, key, ctl_inst_edit, &e, &written);
	if (code == 0 && c->json)
		ctl_json_print(model_instance_to_json(&e.after));
	else if (code == 0)
		printf("instance %s %s %s\n", c->pos[0], written ? "is now" : "was already",
		       ctl_inst_status(&e.after));
	model_instance_free(&e.after);
	return code;
}

int ctl_instance_drain(struct ctl *c, struct berth *b)
{
	return ctl_instance_status(c, b, MODEL_INSTANCE_DRAINING);
}

int ctl_instance_activate(struct ctl *c, struct berth *b)
{
	return ctl_instance_status(c, b, MODEL_INSTANCE_ACTIVE);
}

int ctl_instance_attributes(struct ctl *c, struct berth *b)
{
	char key[MODEL_KEY_MAX], *names[CTL_MAX_POS], *values[CTL_MAX_POS];
	char buf[CTL_MAX_POS][MODEL_ATTR_NAME_MAX + 1];
	struct ctl_inst_edit e = {.status = -1, .names = names, .values = values};
	bool written = false;
	int code = ctl_iid(c);
	for (int i = 1; code == 0 && i < c->npos; i++) {
		const char *a = c->pos[i], *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : 0;
		if (eq == NULL || n == 0 || n > MODEL_ATTR_NAME_MAX)
			return ctl_usage_error(c,
					       "attribute \"%s\": NAME=VALUE expected (NAME 1..%d "
					       "bytes; NAME= removes it)",
					       a, MODEL_ATTR_NAME_MAX);
		memcpy(buf[e.n], a, n);
		buf[e.n][n] = '\0';
		names[e.n] = buf[e.n];
		values[e.n++] = (char *)eq + 1;
	}
	if (code != 0)
		return code;
	model_key_instance(key, c->cluster, c->pos[0]);
	if (e.n == 0) { /* show: the record as it is */
		struct berth_result r;
		const struct reply_kv *kv;
		char err[256];
		if ((code = ctl_read(c, b, key, &r, &kv)) != 0)
			return code;
		if (kv == NULL)
			code = ctl_fail(c, BERTH_ENOTFOUND, "instance %s not found in cluster %s",
					c->pos[0], c->cluster);
		else if (model_instance_decode(kv->value.p, kv->value.n, &e.after, err,
					       sizeof(err)) != 0)
			code = ctl_fail(c, BERTH_ECORRUPT, "instance %s: %s", c->pos[0], err);
		berth_result_free(&r);
	} else {
		code = ctl_cas_edit(c, b, key, ctl_inst_edit, &e, &written);
	}
	if (code == 0 && c->json) {
		json_t *o = model_instance_to_json(&e.after);
		ctl_json_print(json_pack("{sO}", "attributes", json_object_get(o, "attributes")));
		json_decref(o);
	} else if (code == 0) {
		for (size_t i = 0; i < e.after.nattributes; i++)
			printf("%s=%s\n", e.after.attributes[i].name, e.after.attributes[i].value);
	}
	model_instance_free(&e.after);
	return code;
}
