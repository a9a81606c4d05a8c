/* worker/wconfig.c: the option table of berth-worker and its parser. */
#include "worker/wconfig.h"

#include "common/err.h"
#include "common/log.h"
#include "common/opttab.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WOPT_U64(field, def, min, max, help) OPTTAB_U64(struct wconfig, field, def, min, max, help)
#define WOPT_STR(field, def, help) OPTTAB_STR(struct wconfig, field, def, help)

/* Names are the field names with '_' written '-' on the command line (common/opttab.h). */
static const struct opttab_opt wconfig_opts[] = {
	WOPT_STR(endpoints, "",
		 "the store's members, host:port,... (default: $BERTH_ENDPOINTS; required)"),
	WOPT_STR(token, "", "cluster token (default: $BERTH_TOKEN, or none)"),
	WOPT_STR(cluster, "default", "the cluster whose tasks this worker places"),
	WOPT_STR(name, "", "this worker's name in its log and statistics (default: worker-PID)"),
	WOPT_STR(conflict, "fine",
		 "fine: int compares on the allocation counters; coarse: any change to an "
		 "instance's usage since it was read conflicts"),
	WOPT_STR(commit, "incremental",
		 "incremental: one transaction per task; group: the queued tasks of one RunTask "
		 "(same group and startedBy) all or nothing"),
	WOPT_U64(batch, "256", 1, WCONFIG_BATCH_MAX,
		 "incremental: tasks alike decided together and committed in as few "
		 "transactions as --max-txn-ops allows (1: one task per transaction)"),
	WOPT_U64(max_retries, "8", 0, 1000,
		 "placement attempts after a conflict before a task is parked"),
	WOPT_U64(seed, "0", 0, UINT64_MAX,
		 "random seed for tie-breaks and backoff (0: from getrandom)"),
	WOPT_U64(stats_ms, "10000", 0, 86400000, "statistics every this many ms (0: only at exit)"),
	WOPT_STR(log_level, "info",
		 "error, warn, info or debug (default: $BERTH_LOG_LEVEL, or info)"),
	WOPT_U64(max_inflight, "8", 1, 4096,
		 "placement transactions in flight at once (each up to --batch tasks)"),
	WOPT_U64(timeout_ms, "5000", 100, 600000, "deadline of each call to the store"),
	WOPT_U64(max_txn_ops, "128", 16, 65536,
		 "the store's --max-txn-ops: the largest group commit"),
};
#define WCONFIG_NOPTS (sizeof(wconfig_opts) / sizeof(wconfig_opts[0]))

void wconfig_usage(FILE *to)
{
	fprintf(to, "usage: berth-worker [OPTIONS]\n\n"
		    "Places the cluster's PROVISIONING tasks onto its instances, releases the "
		    "tasks of lost\ninstances and keeps services at their desired counts "
		    "(docs/worker.md).\n\noptions:\n");
	opttab_usage(to, wconfig_opts, WCONFIG_NOPTS, 14);
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

enum wconfig_result wconfig_parse(struct wconfig *c, int argc, char **argv, char *err,
				  size_t errlen)
{
	static const struct opttab_env envs[] = {{"BERTH_ENDPOINTS", "endpoints"},
						 {"BERTH_TOKEN", "token"},
						 {"BERTH_LOG_LEVEL", "log_level"}};
	enum opttab_result r = opttab_parse(wconfig_opts, WCONFIG_NOPTS, envs, 3, c, sizeof(*c),
					    argc, argv, err, errlen);
	if (r != OPTTAB_OK)
		return r == OPTTAB_HELP ? WCONFIG_HELP : WCONFIG_ERROR;
	return wconfig_validate(c, err, errlen) ? WCONFIG_ERROR : WCONFIG_OK;
}
