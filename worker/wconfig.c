/* worker/wconfig.c: the option table of berth-worker and its parser. */
#include "worker/wconfig.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum wconfig_type { WCONFIG_U64, WCONFIG_STR };

struct wconfig_opt {
	const char *name;
	enum wconfig_type type;
	size_t off;
	size_t size; /* strings: buffer size */
	const char *def;
	uint64_t min, max; /* numbers */
	const char *help;
};

/* The option macros read better as written than in the formatter's layout. */
// clang-format off
#define U(field, def, min, max, help) \
	{#field, WCONFIG_U64, offsetof(struct wconfig, field), 0, def, min, max, help}
#define S(field, def, help) \
	{#field, WCONFIG_STR, offsetof(struct wconfig, field), \
	 sizeof(((struct wconfig *)0)->field), def, 0, 0, help}
// clang-format on

/* Names are the field names with '_' written '-' on the command line. */
static const struct wconfig_opt wconfig_opts[] = {
	S(endpoints, "",
	  "the store's members, host:port,... (default: $BERTH_ENDPOINTS; required)"),
	S(token, "", "cluster token (default: $BERTH_TOKEN, or none)"),
	S(cluster, "default", "the cluster whose tasks this worker places"),
	S(name, "", "this worker's name in its log and statistics (default: worker-PID)"),
	S(conflict, "fine",
	  "fine: int compares on the allocation counters; coarse: any change to an "
	  "instance's usage since it was read conflicts"),
	S(commit, "incremental",
	  "incremental: one transaction per task; group: the queued tasks of one RunTask "
	  "(same group and startedBy) all or nothing"),
	U(max_retries, "8", 0, 1000, "placement attempts after a conflict before a task is parked"),
	U(seed, "0", 0, UINT64_MAX, "random seed for tie-breaks and backoff (0: from getrandom)"),
	U(stats_ms, "10000", 0, 86400000, "statistics every this many ms (0: only at exit)"),
	S(log_level, "info", "error, warn, info or debug (default: $BERTH_LOG_LEVEL, or info)"),
	U(max_inflight, "64", 1, 4096, "placement transactions in flight at once"),
	U(timeout_ms, "5000", 100, 600000, "deadline of each call to the store"),
	U(max_txn_ops, "128", 16, 65536, "the store's --max-txn-ops: the largest group commit"),
};
#define WCONFIG_NOPTS (sizeof(wconfig_opts) / sizeof(wconfig_opts[0]))

static void wconfig_dash(const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s", name);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = '-';
}

void wconfig_usage(FILE *to)
{
	char name[64];
	fprintf(to, "usage: berth-worker [OPTIONS]\n\n"
		    "Places the cluster's PROVISIONING tasks onto its instances, releases the "
		    "tasks of lost\ninstances and keeps services at their desired counts "
		    "(docs/worker.md).\n\noptions:\n");
	for (size_t i = 0; i < WCONFIG_NOPTS; i++) {
		const struct wconfig_opt *o = &wconfig_opts[i];
		wconfig_dash(o->name, name, sizeof(name));
		fprintf(to, "  --%-14s %s", name, o->help);
		if (o->def != NULL && o->def[0] != 0)
			fprintf(to, " [%s]", o->def);
		fputc('\n', to);
	}
}

static int wconfig_set(struct wconfig *c, const struct wconfig_opt *o, const char *v, char *err,
		       size_t errlen)
{
	char name[64];
	wconfig_dash(o->name, name, sizeof(name));
	if (o->type == WCONFIG_STR) {
		if (strlen(v) >= o->size) {
			snprintf(err, errlen, "--%s: longer than %zu bytes", name, o->size - 1);
			return BERTH_EBADREQ;
		}
		memcpy((char *)c + o->off, v, strlen(v) + 1);
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || *end != 0 || end == v || v[0] == '-' || n < o->min || n > o->max) {
		snprintf(err, errlen, "--%s: '%s' is not a number in %llu..%llu", name, v,
			 (unsigned long long)o->min, (unsigned long long)o->max);
		return BERTH_EBADREQ;
	}
	*(uint64_t *)((char *)c + o->off) = n;
	return 0;
}

static int wconfig_endpoints(struct wconfig *c, char *err, size_t errlen)
{
	char *save = NULL;
	memcpy(c->eps_buf, c->endpoints, sizeof(c->eps_buf));
	c->neps = 0;
	if (c->endpoints[0] == 0) {
		snprintf(err, errlen, "--endpoints (or BERTH_ENDPOINTS) is required");
		return BERTH_EBADREQ;
	}
	for (char *e = strtok_r(c->eps_buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		const char *colon = strrchr(e, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (colon == NULL || colon == e || colon[1] == 0 || *end != 0 || port < 1 ||
		    port > 65535) {
			snprintf(err, errlen, "--endpoints: '%.200s' is not host:port", e);
			return BERTH_EBADREQ;
		}
		if (c->neps == WCONFIG_MAX_ENDPOINTS) {
			snprintf(err, errlen, "--endpoints: more than %d", WCONFIG_MAX_ENDPOINTS);
			return BERTH_EBADREQ;
		}
		c->eps[c->neps++] = e;
	}
	if (c->neps == 0) {
		snprintf(err, errlen, "--endpoints: no endpoint in '%.200s'", c->endpoints);
		return BERTH_EBADREQ;
	}
	return 0;
}

static int wconfig_validate(struct wconfig *c, char *err, size_t errlen)
{
	enum log_level lvl;
	const char *why;
	if (wconfig_endpoints(c, err, errlen) != 0)
		return BERTH_EBADREQ;
	if ((why = model_name_check(MODEL_NAME, c->cluster)) != NULL) {
		snprintf(err, errlen, "--cluster: '%.200s': %s", c->cluster, why);
		return BERTH_EBADREQ;
	}
	if (strcmp(c->conflict, "fine") != 0 && strcmp(c->conflict, "coarse") != 0) {
		snprintf(err, errlen, "--conflict: '%s' is not fine or coarse", c->conflict);
		return BERTH_EBADREQ;
	}
	c->coarse = strcmp(c->conflict, "coarse") == 0;
	if (strcmp(c->commit, "incremental") != 0 && strcmp(c->commit, "group") != 0) {
		snprintf(err, errlen, "--commit: '%s' is not incremental or group", c->commit);
		return BERTH_EBADREQ;
	}
	c->group = strcmp(c->commit, "group") == 0;
	if (log_parse_level(c->log_level, &lvl) != 0) {
		snprintf(err, errlen,
			 "--log-level (or BERTH_LOG_LEVEL): '%s' is not error, warn, info or debug",
			 c->log_level);
		return BERTH_EBADREQ;
	}
	if (c->name[0] == 0)
		snprintf(c->name, sizeof(c->name), "worker-%ld", (long)getpid());
	for (const char *p = c->name; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			snprintf(err, errlen, "--name: printable characters without spaces only");
			return BERTH_EBADREQ;
		}
	return 0;
}

/* An environment variable as the default of a string option. */
static void wconfig_env(char *dst, size_t size, const char *var)
{
	const char *env = getenv(var);
	if (env != NULL && *env != 0 && strlen(env) < size)
		strcpy(dst, env);
}

enum wconfig_result wconfig_parse(struct wconfig *c, int argc, char **argv, char *err,
				  size_t errlen)
{
	struct option longopts[WCONFIG_NOPTS + 2];
	char names[WCONFIG_NOPTS][64];
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < WCONFIG_NOPTS; i++) {
		wconfig_dash(wconfig_opts[i].name, names[i], sizeof(names[i]));
		longopts[i] = (struct option){names[i], required_argument, NULL, (int)i + 256};
		if (wconfig_set(c, &wconfig_opts[i], wconfig_opts[i].def, err, errlen))
			return WCONFIG_ERROR;
	}
	longopts[WCONFIG_NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[WCONFIG_NOPTS + 1] = (struct option){NULL, 0, NULL, 0};
	wconfig_env(c->endpoints, sizeof(c->endpoints), "BERTH_ENDPOINTS");
	wconfig_env(c->token, sizeof(c->token), "BERTH_TOKEN");
	wconfig_env(c->log_level, sizeof(c->log_level), "BERTH_LOG_LEVEL");
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h')
			return WCONFIG_HELP;
		if (ch >= 256 && ch < 256 + (int)WCONFIG_NOPTS) {
			if (wconfig_set(c, &wconfig_opts[ch - 256], optarg, err, errlen))
				return WCONFIG_ERROR;
			continue;
		}
		snprintf(err, errlen, "%s: '%s'",
			 ch == ':' ? "missing value for option" : "unknown option",
			 argv[optind - 1]);
		return WCONFIG_ERROR;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return WCONFIG_ERROR;
	}
	return wconfig_validate(c, err, errlen) ? WCONFIG_ERROR : WCONFIG_OK;
}
