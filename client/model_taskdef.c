/* client/model_taskdef.c: task definitions: their field tables, their rules (names, ports,
 * essential containers, task-level cpu and memory), and the register JSON input. */
#include "client/model_field.h"

#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_UNSET UINT32_MAX /* task-level cpu or memory not given: the sums fill it */

static const char *const mt_protocols[] = {"tcp", "udp", NULL};

static const struct mf mt_port_fields[] = {
	{MF_FIELD_("containerPort", MF_U16, struct model_port_mapping, container_port),
	 .flags = MF_REQ, .min = 1, .max = 65535},
	{MF_FIELD_("hostPort", MF_U16, struct model_port_mapping, host_port), .flags = MF_ZERO,
	 .min = 1, .max = 65535},
	{MF_FIELD_("protocol", MF_ENUM, struct model_port_mapping, protocol), .names = mt_protocols,
	 .def = MODEL_TCP},
};

static const struct model_rec mt_port_rec = {
	.size = sizeof(struct model_port_mapping),
	.fields = mt_port_fields,
	.nfields = sizeof(mt_port_fields) / sizeof(mt_port_fields[0]),
};

static const struct mf mt_env_fields[] = {
	{MF_FIELD_("name", MF_STR, struct model_pair, name), .flags = MF_REQ, .min = 1,
	 .max = MODEL_ENV_NAME_MAX, .cs = MCS_ENV},
	{MF_FIELD_("value", MF_STR, struct model_pair, value), .flags = MF_REQ,
	 .max = MODEL_ENV_VALUE_MAX, .cs = MCS_TEXT},
};

static const struct model_rec mt_env_rec = {
	.size = sizeof(struct model_pair),
	.fields = mt_env_fields,
	.nfields = sizeof(mt_env_fields) / sizeof(mt_env_fields[0]),
};

/* Names unique within a container (environment) or a taskdef (containers). */
static int mt_unique(const char *const *names, size_t n, size_t stride, struct model_path *p,
		     const char *list, const char *field)
{
	for (size_t i = 1; i < n; i++) {
		const char *a = *(const char *const *)((const char *)names + i * stride);
		for (size_t k = 0; k < i; k++)
			if (strcmp(a, *(const char *const *)((const char *)names + k * stride)) ==
			    0) {
				model_field_push(p, list);
				model_field_push_index(p, i);
				model_field_push(p, field);
				return model_field_fail(p, "\"%.60s\" is used twice", a);
			}
	}
	return 0;
}

static int mt_container_check(const void *rec, struct model_path *p)
{
	const struct model_container *c = rec;
	if (c->nenvironment == 0)
		return 0;
	return mt_unique((const char *const *)&c->environment[0].name, c->nenvironment,
			 sizeof(c->environment[0]), p, "environment", "name");
}

static const struct mf mt_container_fields[] = {
	{MF_FIELD_("name", MF_STR, struct model_container, name), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("image", MF_STR, struct model_container, image), .flags = MF_REQ, .min = 1,
	 .max = MODEL_IMAGE_MAX, .cs = MCS_IMAGE},
	{MF_FIELD_("command", MF_STRS, struct model_container, command),
	 .count_off = offsetof(struct model_container, ncommand), .max = MODEL_COMMAND_MAX,
	 .elem_max = MODEL_ARG_MAX, .cs = MCS_TEXT},
	{MF_FIELD_("environment", MF_ARRAY, struct model_container, environment),
	 .count_off = offsetof(struct model_container, nenvironment), .max = MODEL_ENV_MAX,
	 .sub = &mt_env_rec},
	{MF_FIELD_("cpu", MF_U32, struct model_container, cpu), .max = MODEL_CPU_MAX},
	{MF_FIELD_("memory", MF_U32, struct model_container, memory), .max = MODEL_MEMORY_MAX},
	{MF_FIELD_("portMappings", MF_ARRAY, struct model_container, ports),
	 .count_off = offsetof(struct model_container, nports), .max = MODEL_HOST_PORTS_MAX,
	 .sub = &mt_port_rec},
	{MF_FIELD_("essential", MF_BOOL, struct model_container, essential), .def = 1},
};

static const struct model_rec mt_container_rec = {
	.size = sizeof(struct model_container),
	.fields = mt_container_fields,
	.nfields = sizeof(mt_container_fields) / sizeof(mt_container_fields[0]),
	.check = mt_container_check,
};

static void mt_sums(const struct model_taskdef *td, uint64_t *cpu, uint64_t *mem)
{
	*cpu = *mem = 0;
	for (size_t i = 0; i < td->ncontainers; i++) {
		*cpu += td->containers[i].cpu;
		*mem += td->containers[i].memory;
	}
}

static void mt_fill(void *rec)
{
	struct model_taskdef *td = rec;
	uint64_t cpu, mem;
	mt_sums(td, &cpu, &mem);
	if (td->cpu == MODEL_UNSET && cpu <= MODEL_CPU_MAX)
		td->cpu = (uint32_t)cpu;
	if (td->memory == MODEL_UNSET && mem <= MODEL_MEMORY_MAX)
		td->memory = (uint32_t)mem;
}

static int mt_check(const void *rec, struct model_path *p)
{
	const struct model_taskdef *td = rec;
	size_t nhost = 0, essential = 0, old = p->len;
	uint64_t cpu, mem;
	int rv;

	if ((rv = mt_unique((const char *const *)&td->containers[0].name, td->ncontainers,
			    sizeof(td->containers[0]), p, "containerDefinitions", "name")) != 0)
		return rv;
	for (size_t i = 0; i < td->ncontainers; i++) {
		const struct model_container *c = &td->containers[i];
		essential += c->essential;
		for (size_t k = 0; k < c->nports; k++) {
			uint16_t hp = c->ports[k].host_port;
			if (hp == 0)
				continue;
			model_field_push(p, "containerDefinitions");
			model_field_push_index(p, i);
			model_field_push(p, "portMappings");
			model_field_push_index(p, k);
			model_field_push(p, "hostPort");
			if (++nhost > MODEL_HOST_PORTS_MAX)
				return model_field_fail(p, "more than %d host ports in the task",
							MODEL_HOST_PORTS_MAX);
			for (size_t j = 0; j <= i; j++)
				for (size_t q = 0; q < (j < i ? td->containers[j].nports : k); q++)
					if (td->containers[j].ports[q].host_port == hp)
						return model_field_fail(
							p,
							"%u is already mapped by "
							"containerDefinitions[%zu].portMappings[%zu]",
							hp, j, q);
			model_field_pop(p, old);
		}
	}
	if (essential == 0)
		return model_field_fail_at(p, "containerDefinitions",
					   "at least one container must be essential");
	mt_sums(td, &cpu, &mem);
	if (td->cpu < cpu) {
		model_field_push(p, "cpu");
		return model_field_fail(p, "%" PRIu32 " does not cover the containers' %" PRIu64,
					td->cpu, cpu);
	}
	if (td->memory < mem) {
		model_field_push(p, "memory");
		return model_field_fail(p, "%" PRIu32 " does not cover the containers' %" PRIu64,
					td->memory, mem);
	}
	if (td->memory == 0)
		return model_field_fail_at(p, "memory",
					   "must be given for the task or for its containers");
	return 0;
}

static const struct mf mt_taskdef_fields[] = {
	{MF_FIELD_("family", MF_STR, struct model_taskdef, family), .flags = MF_REQ, .min = 1,
	 .max = MODEL_NAME_MAX, .cs = MCS_NAME},
	{MF_FIELD_("revision", MF_U32, struct model_taskdef, revision), .flags = MF_OUT,
	 .max = MODEL_REVISION_MAX},
	{MF_FIELD_("containerDefinitions", MF_ARRAY, struct model_taskdef, containers),
	 .flags = MF_REQ, .count_off = offsetof(struct model_taskdef, ncontainers), .min = 1,
	 .max = MODEL_CONTAINERS_MAX, .sub = &mt_container_rec},
	{MF_FIELD_("cpu", MF_U32, struct model_taskdef, cpu), .flags = MF_NUMSTR,
	 .max = MODEL_CPU_MAX, .def = MODEL_UNSET},
	{MF_FIELD_("memory", MF_U32, struct model_taskdef, memory), .flags = MF_NUMSTR,
	 .max = MODEL_MEMORY_MAX, .def = MODEL_UNSET},
};

static const struct model_rec mt_taskdef_rec = {
	.size = sizeof(struct model_taskdef),
	.fields = mt_taskdef_fields,
	.nfields = sizeof(mt_taskdef_fields) / sizeof(mt_taskdef_fields[0]),
	.fill = mt_fill,
	.check = mt_check,
};

static int mt_size(size_t n, char *err, size_t errlen)
{
	if (n <= MODEL_TASKDEF_BYTES_MAX)
		return 0;
	snprintf(err, errlen, "the task definition is %zu bytes encoded; at most %d", n,
		 MODEL_TASKDEF_BYTES_MAX);
	return BERTH_ETOOLARGE;
}

int model_taskdef_encode(const struct model_taskdef *td, struct mp_buf *out, char *err,
			 size_t errlen)
{
	size_t start = out->len;
	int rv = model_codec_encode(&mt_taskdef_rec, td, out, err, errlen);
	if (rv == 0 && (rv = mt_size(out->len - start, err, errlen)) != 0)
		out->len = start;
	return rv;
}

int model_taskdef_decode(const uint8_t *p, size_t n, struct model_taskdef *out, char *err,
			 size_t errlen)
{
	int rv;
	if ((rv = mt_size(n, err, errlen)) != 0) {
		memset(out, 0, sizeof(*out));
		return rv;
	}
	return model_codec_decode(&mt_taskdef_rec, p, n, out, err, errlen);
}

/* The record, then its encoded size. */
static int mt_from_json(const json_t *obj, bool input, struct model_taskdef *out, char *err,
			size_t errlen)
{
	struct mp_buf b;
	int rv = model_json_decode(&mt_taskdef_rec, obj, input, out, err, errlen);
	if (rv != 0)
		return rv;
	mp_buf_init(&b);
	rv = model_taskdef_encode(out, &b, err, errlen);
	mp_buf_close(&b);
	if (rv != 0)
		model_taskdef_free(out);
	return rv;
}

int model_taskdef_from_json(const json_t *obj, struct model_taskdef *out, char *err, size_t errlen)
{
	return mt_from_json(obj, false, out, err, errlen);
}

int model_taskdef_parse_json(const char *text, size_t len, struct model_taskdef *out, char *err,
			     size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	memset(out, 0, sizeof(*out));
	if (root == NULL) {
		snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return BERTH_EBADREQ;
	}
	int rv = mt_from_json(root, true, out, err, errlen);
	json_decref(root);
	return rv;
}

json_t *model_taskdef_to_json(const struct model_taskdef *td)
{
	return model_json_to(&mt_taskdef_rec, td);
}

size_t model_taskdef_host_ports(const struct model_taskdef *td, uint16_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < td->ncontainers; i++)
		for (size_t k = 0; k < td->containers[i].nports; k++)
			if (td->containers[i].ports[k].host_port != 0 && n < MODEL_HOST_PORTS_MAX)
				out[n++] = td->containers[i].ports[k].host_port;
	return n;
}

void model_taskdef_free(struct model_taskdef *td)
{
	model_field_free(&mt_taskdef_rec, td);
}
