/* client/model_key.c: the keyspace of the cluster model (client/model.h): keys built from
 * checked names, prefixes to list and watch, and keys taken apart again. */
#include "client/model.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MK_TASKDEFS "/berth/taskdefs/"
#define MK_CLUSTERS "/berth/c/"

/* The names after each kind's directory in a cluster's keyspace. */
static const char *const mk_dirs[] = {
	[MODEL_KEY_INSTANCE] = "instances", [MODEL_KEY_ALIVE] = "alive",
	[MODEL_KEY_ALLOC_CPU] = "alloc",    [MODEL_KEY_ALLOC_MEM] = "alloc",
	[MODEL_KEY_ALLOC_PORT] = "alloc",   [MODEL_KEY_TASK] = "tasks",
	[MODEL_KEY_PLACED] = "placed",      [MODEL_KEY_SERVICE] = "services",
	[MODEL_KEY_GROUP] = "group",
};

static int mk_ok(enum model_name_kind kind, const char *s)
{
	return model_name_check(kind, s) == NULL;
}

__attribute__((format(printf, 2, 3))) static int mk_print(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, MODEL_KEY_MAX, fmt, ap);
	va_end(ap);
	return n > 0 && n < MODEL_KEY_MAX ? 0 : BERTH_EBADREQ;
}

int model_key_family(char *out, const char *family)
{
	if (!mk_ok(MODEL_NAME, family))
		return BERTH_EBADREQ;
	return mk_print(out, MK_TASKDEFS "%s", family);
}

int model_key_taskdef(char *out, const char *family, uint32_t revision)
{
	if (!mk_ok(MODEL_NAME, family) || revision < 1 || revision > MODEL_REVISION_MAX)
		return BERTH_EBADREQ;
	return mk_print(out, MK_TASKDEFS "%s/%010u", family, (unsigned)revision);
}

/* /berth/c/<cluster>/<dir>/<name>[/<tail>] with the name of the given kind. */
static int mk_cluster(char *out, enum model_key_kind kind, const char *cluster,
		      enum model_name_kind nk, const char *name, const char *tail)
{
	if (!mk_ok(MODEL_NAME, cluster) || !mk_ok(nk, name))
		return BERTH_EBADREQ;
	return mk_print(out, MK_CLUSTERS "%s/%s/%s%s%s", cluster, mk_dirs[kind], name,
			tail != NULL ? "/" : "", tail != NULL ? tail : "");
}

int model_key_instance(char *out, const char *cluster, const char *iid)
{
	return mk_cluster(out, MODEL_KEY_INSTANCE, cluster, MODEL_NAME_ID, iid, NULL);
}

int model_key_alive(char *out, const char *cluster, const char *iid)
{
	return mk_cluster(out, MODEL_KEY_ALIVE, cluster, MODEL_NAME_ID, iid, NULL);
}

int model_key_alloc_cpu(char *out, const char *cluster, const char *iid)
{
	return mk_cluster(out, MODEL_KEY_ALLOC_CPU, cluster, MODEL_NAME_ID, iid, "cpu");
}

int model_key_alloc_mem(char *out, const char *cluster, const char *iid)
{
	return mk_cluster(out, MODEL_KEY_ALLOC_MEM, cluster, MODEL_NAME_ID, iid, "mem");
}

int model_key_alloc_port(char *out, const char *cluster, const char *iid, uint16_t port)
{
	char tail[16];
	if (port == 0)
		return BERTH_EBADREQ;
	snprintf(tail, sizeof(tail), "port/%u", (unsigned)port);
	return mk_cluster(out, MODEL_KEY_ALLOC_PORT, cluster, MODEL_NAME_ID, iid, tail);
}

int model_key_task(char *out, const char *cluster, const char *tid)
{
	return mk_cluster(out, MODEL_KEY_TASK, cluster, MODEL_NAME_ID, tid, NULL);
}

int model_key_placed(char *out, const char *cluster, const char *iid, const char *tid)
{
	if (!mk_ok(MODEL_NAME_ID, tid))
		return BERTH_EBADREQ;
	return mk_cluster(out, MODEL_KEY_PLACED, cluster, MODEL_NAME_ID, iid, tid);
}

int model_key_service(char *out, const char *cluster, const char *name)
{
	return mk_cluster(out, MODEL_KEY_SERVICE, cluster, MODEL_NAME, name, NULL);
}

int model_key_group(char *out, const char *cluster, const char *group, const char *iid)
{
	if (!mk_ok(MODEL_NAME_ID, iid))
		return BERTH_EBADREQ;
	return mk_cluster(out, MODEL_KEY_GROUP, cluster, MODEL_NAME_GROUP, group, iid);
}

int model_key_prefix(char *out, int kind, const char *cluster, const char *name)
{
	switch (kind) {
	case MODEL_KEY_FAMILY:
		return cluster == NULL && name == NULL ? mk_print(out, MK_TASKDEFS) : BERTH_EBADREQ;
	case MODEL_KEY_TASKDEF:
		if (cluster != NULL || !mk_ok(MODEL_NAME, name))
			return BERTH_EBADREQ;
		return mk_print(out, MK_TASKDEFS "%s/", name);
	case MODEL_KEY_PLACED:
		return mk_cluster(out, MODEL_KEY_PLACED, cluster, MODEL_NAME_ID, name, "");
	case MODEL_KEY_ALLOC_PORT:
		return mk_cluster(out, MODEL_KEY_ALLOC_PORT, cluster, MODEL_NAME_ID, name, "port/");
	case MODEL_KEY_GROUP:
		return mk_cluster(out, MODEL_KEY_GROUP, cluster, MODEL_NAME_GROUP, name, "");
	case MODEL_KEY_INSTANCE:
	case MODEL_KEY_ALIVE:
	case MODEL_KEY_TASK:
	case MODEL_KEY_SERVICE:
		if (name != NULL || !mk_ok(MODEL_NAME, cluster))
			return BERTH_EBADREQ;
		return mk_print(out, MK_CLUSTERS "%s/%s/", cluster, mk_dirs[kind]);
	case -1:
		if (name != NULL || !mk_ok(MODEL_NAME, cluster))
			return BERTH_EBADREQ;
		return mk_print(out, MK_CLUSTERS "%s/", cluster);
	default:
		return BERTH_EBADREQ;
	}
}

/* Copies a checked name into a field of the parsed key. */
static int mk_take(char *dst, size_t cap, enum model_name_kind kind, const char *s)
{
	if (!mk_ok(kind, s) || strlen(s) >= cap)
		return BERTH_EBADREQ;
	strcpy(dst, s);
	return 0;
}

/* A decimal number without sign or leading zeros (exactly `width` digits when > 0). */
static int mk_number(const char *s, size_t width, uint64_t max, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v = 0;
	if (n == 0 || n > 10 || strspn(s, "0123456789") != n || (width > 0 && n != width) ||
	    (width == 0 && s[0] == '0'))
		return BERTH_EBADREQ;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (v < 1 || v > max)
		return BERTH_EBADREQ;
	*out = v;
	return 0;
}

static int mk_parse_cluster(char **c, size_t nc, struct model_key *k)
{
	uint64_t v;
	if (nc < 3 || mk_take(k->cluster, sizeof(k->cluster), MODEL_NAME, c[0]) != 0)
		return BERTH_EBADREQ;
	const char *dir = c[1], *a = c[2];
	if (nc == 3) {
		for (int kind = MODEL_KEY_INSTANCE; kind <= MODEL_KEY_SERVICE; kind++)
			if (kind != MODEL_KEY_ALLOC_CPU && kind != MODEL_KEY_ALLOC_MEM &&
			    kind != MODEL_KEY_ALLOC_PORT && kind != MODEL_KEY_PLACED &&
			    strcmp(dir, mk_dirs[kind]) == 0) {
				k->kind = (enum model_key_kind)kind;
				if (kind == MODEL_KEY_SERVICE)
					return mk_take(k->service, sizeof(k->service), MODEL_NAME,
						       a);
				if (kind == MODEL_KEY_TASK)
					return mk_take(k->task, sizeof(k->task), MODEL_NAME_ID, a);
				return mk_take(k->instance, sizeof(k->instance), MODEL_NAME_ID, a);
			}
		return BERTH_EBADREQ;
	}
	if (strcmp(dir, "alloc") == 0) {
		if (mk_take(k->instance, sizeof(k->instance), MODEL_NAME_ID, a) != 0)
			return BERTH_EBADREQ;
		if (nc == 4 && strcmp(c[3], "cpu") == 0)
			k->kind = MODEL_KEY_ALLOC_CPU;
		else if (nc == 4 && strcmp(c[3], "mem") == 0)
			k->kind = MODEL_KEY_ALLOC_MEM;
		else if (nc == 5 && strcmp(c[3], "port") == 0 &&
			 mk_number(c[4], 0, 65535, &v) == 0) {
			k->kind = MODEL_KEY_ALLOC_PORT;
			k->port = (uint16_t)v;
		} else
			return BERTH_EBADREQ;
		return 0;
	}
	if (nc != 4)
		return BERTH_EBADREQ;
	if (strcmp(dir, "placed") == 0) {
		k->kind = MODEL_KEY_PLACED;
		if (mk_take(k->instance, sizeof(k->instance), MODEL_NAME_ID, a) != 0)
			return BERTH_EBADREQ;
		return mk_take(k->task, sizeof(k->task), MODEL_NAME_ID, c[3]);
	}
	if (strcmp(dir, "group") == 0) {
		k->kind = MODEL_KEY_GROUP;
		if (mk_take(k->group, sizeof(k->group), MODEL_NAME_GROUP, a) != 0)
			return BERTH_EBADREQ;
		return mk_take(k->instance, sizeof(k->instance), MODEL_NAME_ID, c[3]);
	}
	return BERTH_EBADREQ;
}

int model_key_parse(const char *key, size_t n, struct model_key *out)
{
	char buf[MODEL_KEY_MAX], *c[8];
	size_t nc = 0;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (n >= sizeof(buf) || memchr(key, '\0', n) != NULL)
		return BERTH_EBADREQ;
	memcpy(buf, key, n);
	buf[n] = '\0';
	size_t skip = strncmp(buf, MK_TASKDEFS, strlen(MK_TASKDEFS)) == 0   ? strlen(MK_TASKDEFS)
		      : strncmp(buf, MK_CLUSTERS, strlen(MK_CLUSTERS)) == 0 ? strlen(MK_CLUSTERS)
									    : 0;
	if (skip == 0)
		return BERTH_EBADREQ;
	for (char *s = buf + skip;; s++) {
		if (nc == sizeof(c) / sizeof(c[0]))
			return BERTH_EBADREQ;
		c[nc++] = s;
		if ((s = strchr(s, '/')) == NULL)
			break;
		*s = '\0';
	}
	if (skip == strlen(MK_CLUSTERS))
		return mk_parse_cluster(c, nc, out) == 0
			       ? 0
			       : (memset(out, 0, sizeof(*out)), BERTH_EBADREQ);
	if (nc > 2 || mk_take(out->family, sizeof(out->family), MODEL_NAME, c[0]) != 0)
		goto bad;
	out->kind = MODEL_KEY_FAMILY;
	if (nc == 2) {
		if (mk_number(c[1], 10, MODEL_REVISION_MAX, &v) != 0)
			goto bad;
		out->kind = MODEL_KEY_TASKDEF;
		out->revision = (uint32_t)v;
	}
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return BERTH_EBADREQ;
}
