/* worker/wconfig.h: berth-worker's options: one table (worker/wconfig.c, parsed by
 * common/opttab) gives the command line, the defaults, the environment and --help; the
 * checks here refuse what the table cannot express, naming the option. */
#ifndef BERTH_WORKER_WCONFIG_H
#define BERTH_WORKER_WCONFIG_H

#include "client/model.h"

#include <stdint.h>
#include <stdio.h>

#define WCONFIG_MAX_ENDPOINTS 16
#define WCONFIG_BATCH_MAX 1024 /* --batch */

enum wconfig_result { WCONFIG_OK = 0, WCONFIG_HELP, WCONFIG_ERROR };

struct wconfig {
	char endpoints[4096]; /* host:port,host:port */
	char token[256];
	char cluster[MODEL_NAME_MAX + 1];
	char name[128];
	char conflict[16]; /* fine | coarse */
	char commit[16];   /* incremental | group */
	uint64_t batch;    /* tasks decided together (incremental) */
	uint64_t max_retries;
	uint64_t seed; /* 0: from getrandom */
	uint64_t stats_ms;
	char log_level[16];
	uint64_t max_inflight;
	uint64_t timeout_ms;
	uint64_t max_txn_ops;
	/* Derived. */
	char *eps[WCONFIG_MAX_ENDPOINTS]; /* into eps_buf */
	size_t neps;
	char eps_buf[4096];
	int coarse; /* --conflict coarse */
	int group;  /* --commit group */
};

/* Parses argv (argv[0] is the program name) over the defaults and the environment
 * (BERTH_ENDPOINTS, BERTH_TOKEN, BERTH_LOG_LEVEL; the command line wins). WCONFIG_ERROR
 * leaves a message naming the option in err. */
enum wconfig_result wconfig_parse(struct wconfig *c, int argc, char **argv, char *err,
				  size_t errlen);
void wconfig_usage(FILE *to);

#endif
