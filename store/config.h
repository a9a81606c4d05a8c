/* store/config.h: berth-store's configuration: one table of options (store/config.c)
 * generates the command line, the defaults, --help and the validation. */
#ifndef BERTH_STORE_CONFIG_H
#define BERTH_STORE_CONFIG_H

#include "store/fsm.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_ADDR_MAX 256
#define CONFIG_MAX_MEMBERS 16

struct config_member {
	uint64_t id;
	char peer[CONFIG_ADDR_MAX];
	char client[CONFIG_ADDR_MAX];
};

struct config {
	uint64_t id;
	char data[1024];
	char peer_addr[CONFIG_ADDR_MAX];
	char client_addr[CONFIG_ADDR_MAX];
	char bootstrap[4096];
	uint64_t join; /* --join: 1 */
	char token[256];
	char log_level[16];
	uint64_t election_ms;
	uint64_t heartbeat_ms;
	uint64_t snapshot_threshold;
	uint64_t snapshot_trailing;
	uint64_t max_inflight;
	uint64_t max_batch;
	uint64_t max_pending;
	uint64_t max_conns;
	uint64_t map_mib;
	uint64_t max_key_bytes;
	uint64_t max_value_bytes;
	uint64_t max_txn_ops;
	uint64_t session_ttl_ms;
	uint64_t compact_keep;
	uint64_t max_watchers;
	uint64_t watch_progress_ms;
	uint64_t watch_max_lag;
	uint64_t max_snapshot_sends;
	uint64_t snapshot_idle_ms;
	/* Derived from bootstrap. */
	struct config_member members[CONFIG_MAX_MEMBERS];
	unsigned nmembers;
};

enum config_result { CONFIG_OK = 0, CONFIG_HELP, CONFIG_ERROR };

/* Parses argv (after the program name) over the defaults, and BERTH_TOKEN for the token.
 * CONFIG_ERROR leaves a message naming the option in err. */
enum config_result config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen);
void config_usage(FILE *to);
/* Splits "host:port"; 0 or BERTH_EBADREQ. host gets at most hostlen - 1 bytes. */
int config_split_addr(const char *addr, char *host, size_t hostlen, int *port);
/* The state machine limits the options set. */
void config_fsm(const struct config *c, struct fsm_config *out);
/* The client address of member id, or NULL. */
const char *config_client_of(const struct config *c, uint64_t id);

#endif
