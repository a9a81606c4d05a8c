/* tools/agent_config.c: berth-agent's option table and its parser (the style of
 * store/config.c: one table gives the command line, the defaults and --help). */
#include "tools/agent.h"

#include "common/err.h"
#include "common/log.h"
#include "common/opttab.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define U(field, def, min, max, help) OPTTAB_U64(struct agent_config, field, def, min, max, help)
#define S(field, def, help) OPTTAB_STR(struct agent_config, field, def, help)
#define M(field, count, help) OPTTAB_MULTI(struct agent_config, field, count, help)

/* Names are the field names with '_' written '-' on the command line. */
static const struct opttab_opt agent_opts[] = {
	S(endpoints, "", "the store's members, HOST:PORT,... (default: $BERTH_ENDPOINTS)"),
	S(token, "", "the cluster token (default: $BERTH_TOKEN, or none)"),
	S(cluster, "default", "the cluster the instances join"),
	U(instances, "1", 1, AGENT_INSTANCES_MAX, "instances this process registers"),
	S(id_prefix, "", "instance ids are PREFIX-0, PREFIX-1, ... (default: the host name)"),
	S(ids, "", "the instance ids, ID,... (instead of --id-prefix; sets --instances)"),
	U(cpu, "4096", 1, MODEL_CPU_MAX, "cpu units each instance offers (1024 per vCPU)"),
	U(memory, "8192", 1, MODEL_MEMORY_MAX, "MiB each instance offers"),
	S(ports, "", "host ports each instance offers, e.g. 8000-8099,9000 (default: none)"),
	M(attribute, nattribute, "NAME=VALUE, an attribute of every instance (repeatable)"),
	S(zones, "", "ZONE,...: attribute zone of the instances, assigned round-robin"),
	U(lease_ttl, "10", 1, 3600, "the agent's lease, seconds (keepalive every third)"),
	S(mode, "sim", "sim (a timer per task) or exec (the containers' commands)"),
	S(run_ms, "0", "sim: run time, MS or MIN-MAX (uniform); 0: until stopped"),
	S(fail_rate, "0", "sim: the fraction of runs that end with exit code 1, 0..1"),
	U(stop_grace_ms, "5000", 0, 3600000, "exec: SIGTERM, then SIGKILL after this"),
	U(stats_ms, "10000", 0, 86400000, "counters printed this often (0: only at exit)"),
	U(timeout_ms, "5000", 100, 600000, "deadline of each call to the store"),
	U(shutdown_ms, "15000", 100, 3600000, "SIGTERM: longest wait for runs to be reported"),
	S(log_level, "info", "error, warn, info or debug (default: $BERTH_LOG_LEVEL, or info)"),
};
#define AGENT_NOPTS (sizeof(agent_opts) / sizeof(agent_opts[0]))

void agent_config_usage(FILE *to)
{
	fprintf(to, "usage: berth-agent --endpoints HOST:PORT,... [OPTIONS]\n\noptions:\n");
	opttab_usage(to, agent_opts, AGENT_NOPTS, 16);
}

/* Splits s (copied into buf) at commas into out[max]; empty items refused. */
static int split_list(const char *s, char *buf, size_t buflen, char **out, size_t max, size_t *n,
		      const char *opt, char *err, size_t errlen)
{
	char *save = NULL;
	*n = 0;
	snprintf(buf, buflen, "%s", s);
	if (buf[0] == 0 || buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,")) {
		snprintf(err, errlen, "--%s: '%.200s' has an empty item", opt, s);
		return BERTH_EBADREQ;
	}
	for (char *it = strtok_r(buf, ",", &save); it != NULL; it = strtok_r(NULL, ",", &save)) {
		if (*n == max) {
			snprintf(err, errlen, "--%s: more than %zu items", opt, max);
			return BERTH_EBADREQ;
		}
		out[(*n)++] = it;
	}
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	errno = 0;
	unsigned long p = strtoul(s, &end, 10);
	if (errno != 0 || *end != 0 || end == s || s[0] == '-' || s[0] == '+' || p < 1 || p > 65535)
		return BERTH_EBADREQ;
	*out = (uint16_t)p;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct model_port_range *x = a, *y = b;
	return (x->from > y->from) - (x->from < y->from);
}

/* "8000-8099,9000" into sorted, disjoint ranges. */
static int parse_ports(struct agent_config *c, char *err, size_t errlen)
{
	char buf[sizeof(c->ports)], *items[MODEL_PORT_RANGES_MAX + 1];
	size_t n;
	c->nport_ranges = 0;
	if (c->ports[0] == 0)
		return 0;
	if (split_list(c->ports, buf, sizeof(buf), items, MODEL_PORT_RANGES_MAX, &n, "ports", err,
		       errlen))
		return BERTH_EBADREQ;
	for (size_t i = 0; i < n; i++) {
		struct model_port_range *r = &c->port_ranges[i];
		char *dash = strchr(items[i], '-');
		if (dash != NULL)
			*dash = 0;
		if (parse_port(items[i], &r->from) ||
		    parse_port(dash ? dash + 1 : items[i], &r->to) || r->to < r->from) {
			if (dash != NULL)
				*dash = '-';
			snprintf(err, errlen,
				 "--ports: '%.100s' is not PORT or FROM-TO with 1 <= FROM <= TO "
				 "<= 65535",
				 items[i]);
			return BERTH_EBADREQ;
		}
	}
	qsort(c->port_ranges, n, sizeof(c->port_ranges[0]), cmp_range);
	for (size_t i = 1; i < n; i++)
		if (c->port_ranges[i].from <= c->port_ranges[i - 1].to) {
			snprintf(err, errlen, "--ports: %u-%u and %u-%u overlap",
				 c->port_ranges[i - 1].from, c->port_ranges[i - 1].to,
				 c->port_ranges[i].from, c->port_ranges[i].to);
			return BERTH_EBADREQ;
		}
	c->nport_ranges = n;
	return 0;
}

/* The instance ids: --ids, or PREFIX-i (PREFIX: --id-prefix or the host name). */
static int parse_ids(struct agent_config *c, char *err, size_t errlen)
{
	char prefix[sizeof(c->id_prefix)];
	const char *bad;
	if (c->ids[0] != 0) {
		char *buf = malloc(sizeof(c->ids)), *items[AGENT_INSTANCES_MAX];
		size_t n;
		if (buf == NULL)
			return BERTH_ENOMEM;
		int rv = split_list(c->ids, buf, sizeof(c->ids), items, AGENT_INSTANCES_MAX, &n,
				    "ids", err, errlen);
		if (rv == 0 && (c->iids = calloc(n, sizeof(*c->iids))) == NULL)
			rv = BERTH_ENOMEM;
		for (size_t i = 0; rv == 0 && i < n; i++) {
			if ((bad = model_name_check(MODEL_NAME_ID, items[i])) != NULL) {
				snprintf(err, errlen, "--ids: '%.130s': %s", items[i], bad);
				rv = BERTH_EBADREQ;
			}
			for (size_t j = 0; rv == 0 && j < i; j++)
				if (strcmp(items[i], items[j]) == 0) {
					snprintf(err, errlen, "--ids: '%s' twice", items[i]);
					rv = BERTH_EBADREQ;
				}
			if (rv == 0)
				strcpy(c->iids[i], items[i]);
		}
		free(buf);
		c->instances = n;
		return rv;
	}
	if (c->id_prefix[0] != 0) {
		snprintf(prefix, sizeof(prefix), "%s", c->id_prefix);
	} else if (gethostname(prefix, sizeof(prefix)) != 0 || prefix[0] == 0) {
		snprintf(err, errlen, "--id-prefix: the host name is not available; give one");
		return BERTH_EBADREQ;
	}
	prefix[sizeof(prefix) - 1] = 0;
	if ((bad = model_name_check(MODEL_NAME_ID, prefix)) != NULL) {
		snprintf(err, errlen, "--id-prefix%s: '%s': %s",
			 c->id_prefix[0] ? "" : " (the host name)", prefix, bad);
		return BERTH_EBADREQ;
	}
	if ((c->iids = calloc(c->instances, sizeof(*c->iids))) == NULL)
		return BERTH_ENOMEM;
	for (size_t i = 0; i < c->instances; i++)
		snprintf(c->iids[i], sizeof(c->iids[i]), "%s-%zu", prefix, i);
	return 0;
}

/* --attribute NAME=VALUE (repeatable) and --zones: checked by encoding instance 0 the way
 * it will be registered, so the model's rules and messages apply. */
static int parse_attributes(struct agent_config *c, char *err, size_t errlen)
{
	char merr[256];
	for (unsigned i = 0; i < c->nattribute; i++) {
		char *eq = strchr(c->attribute[i], '=');
		if (eq == NULL || eq == c->attribute[i]) {
			snprintf(err, errlen, "--attribute: '%.200s' is not NAME=VALUE",
				 c->attribute[i]);
			return BERTH_EBADREQ;
		}
		*eq = 0;
		c->attrs[i] = (struct model_pair){c->attribute[i], eq + 1};
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c->attrs[j].name, c->attribute[i]) == 0) {
				snprintf(err, errlen, "--attribute: %s given twice",
					 c->attribute[i]);
				return BERTH_EBADREQ;
			}
		if (c->zones[0] != 0 && strcmp(c->attribute[i], "zone") == 0) {
			snprintf(err, errlen, "--attribute zone and --zones exclude each other");
			return BERTH_EBADREQ;
		}
	}
	c->nattrs = c->nattribute;
	if (c->zones[0] != 0 && split_list(c->zones, c->zonebuf, sizeof(c->zonebuf), c->zone_list,
					   AGENT_ZONES_MAX, &c->nzones, "zones", err, errlen))
		return BERTH_EBADREQ;
	if (c->nzones > 0 && c->nattrs == MODEL_ATTRS_MAX) {
		snprintf(err, errlen, "--zones: no room for zone after %d attributes",
			 MODEL_ATTRS_MAX);
		return BERTH_EBADREQ;
	}
	/* Every zone once, and the attributes, through the model's own checks. */
	for (size_t z = 0; z < (c->nzones ? c->nzones : 1); z++) {
		struct model_instance in;
		struct mp_buf b;
		agent_config_instance(c, z, &in);
		in.registered_ms = 1;
		in.lease = 1;
		mp_buf_init(&b);
		int rv = model_instance_encode(&in, &b, merr, sizeof(merr));
		mp_buf_close(&b);
		if (rv == BERTH_EBADREQ) {
			snprintf(err, errlen, "--attribute or --zones: %s", merr);
			return rv;
		}
		if (rv != 0)
			return rv;
	}
	return 0;
}

static int parse_sim(struct agent_config *c, char *err, size_t errlen)
{
	char *end, *dash;
	unsigned long long lo, hi;
	errno = 0;
	lo = strtoull(c->run_ms, &end, 10);
	dash = end;
	hi = lo;
	if (*dash == '-' && end != c->run_ms)
		hi = strtoull(dash + 1, &end, 10);
	if (errno != 0 || end == c->run_ms || *end != 0 || c->run_ms[0] == '-' ||
	    (dash[0] == '-' && (dash[1] < '0' || dash[1] > '9')) || lo > hi ||
	    hi > AGENT_RUN_MS_MAX) {
		snprintf(err, errlen, "--run-ms: '%s' is not MS or MIN-MAX with MIN <= MAX <= %u",
			 c->run_ms, AGENT_RUN_MS_MAX);
		return BERTH_EBADREQ;
	}
	c->run_min_ms = lo;
	c->run_max_ms = hi;
	errno = 0;
	double f = strtod(c->fail_rate, &end);
	if (errno != 0 || end == c->fail_rate || *end != 0 || !isfinite(f) || f < 0 || f > 1) {
		snprintf(err, errlen, "--fail-rate: '%s' is not a number in 0..1", c->fail_rate);
		return BERTH_EBADREQ;
	}
	c->fail_rate_v = f;
	return 0;
}

static int agent_config_validate(struct agent_config *c, char *err, size_t errlen)
{
	enum log_level lvl;
	const char *bad;
	char *items[AGENT_ENDPOINTS_MAX];
	int rv;
	if (c->endpoints[0] == 0) {
		snprintf(err, errlen, "--endpoints (or BERTH_ENDPOINTS) is required");
		return BERTH_EBADREQ;
	}
	if (split_list(c->endpoints, c->epsbuf, sizeof(c->epsbuf), items, AGENT_ENDPOINTS_MAX,
		       &c->neps, "endpoints", err, errlen))
		return BERTH_EBADREQ;
	for (size_t i = 0; i < c->neps; i++) {
		const char *colon = strrchr(items[i], ':');
		if (colon == NULL || colon == items[i] || colon[1] == 0) {
			snprintf(err, errlen, "--endpoints: '%.200s' is not HOST:PORT", items[i]);
			return BERTH_EBADREQ;
		}
		c->eps[i] = items[i];
	}
	if ((bad = model_name_check(MODEL_NAME, c->cluster)) != NULL) {
		snprintf(err, errlen, "--cluster: '%.100s': %s", c->cluster, bad);
		return BERTH_EBADREQ;
	}
	if (log_parse_level(c->log_level, &lvl) != 0) {
		snprintf(err, errlen,
			 "--log-level (or BERTH_LOG_LEVEL): '%s' is not error, warn, info or debug",
			 c->log_level);
		return BERTH_EBADREQ;
	}
	if (strcmp(c->mode, "sim") != 0 && strcmp(c->mode, "exec") != 0) {
		snprintf(err, errlen, "--mode: '%s' is not sim or exec", c->mode);
		return BERTH_EBADREQ;
	}
	c->exec = strcmp(c->mode, "exec") == 0;
	if ((rv = parse_sim(c, err, errlen)) != 0 || (rv = parse_ports(c, err, errlen)) != 0 ||
	    (rv = parse_ids(c, err, errlen)) != 0 || (rv = parse_attributes(c, err, errlen)) != 0)
		return rv;
	return 0;
}

enum agent_config_result agent_config_parse(struct agent_config *c, int argc, char **argv,
					    char *err, size_t errlen)
{
	static const struct opttab_env envs[] = {{"BERTH_ENDPOINTS", "endpoints"},
						 {"BERTH_TOKEN", "token"},
						 {"BERTH_LOG_LEVEL", "log_level"}};
	enum opttab_result r = opttab_parse(agent_opts, AGENT_NOPTS, envs, 3, c, sizeof(*c), argc,
					    argv, err, errlen);
	if (r != OPTTAB_OK)
		return r == OPTTAB_HELP ? AGENT_CONFIG_HELP : AGENT_CONFIG_ERROR;
	int rv = agent_config_validate(c, err, errlen);
	if (rv == BERTH_ENOMEM)
		snprintf(err, errlen, "%s", err_text(rv));
	return rv ? AGENT_CONFIG_ERROR : AGENT_CONFIG_OK;
}

void agent_config_free(struct agent_config *c)
{
	free(c->iids);
	c->iids = NULL;
}

void agent_config_instance(const struct agent_config *c, size_t i, struct model_instance *out)
{
	static struct model_pair attrs[MODEL_ATTRS_MAX];
	size_t n = c->nattrs;
	memcpy(attrs, c->attrs, n * sizeof(attrs[0]));
	if (c->nzones > 0)
		attrs[n++] = (struct model_pair){"zone", c->zone_list[i % c->nzones]};
	*out = (struct model_instance){
		.id = c->iids != NULL ? (char *)c->iids[i] : "x",
		.cluster = (char *)c->cluster,
		.cpu = (uint32_t)c->cpu,
		.memory = (uint32_t)c->memory,
		.ports = (struct model_port_range *)c->port_ranges,
		.nports = c->nport_ranges,
		.attributes = attrs,
		.nattributes = n,
		.status = MODEL_INSTANCE_ACTIVE,
	};
}
