/* store/config.c: the option table of berth-store and its parser. */
#include "store/config.h"

#include "common/err.h"
#include "common/log.h"
#include "common/opttab.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define U(field, def, min, max, help) OPTTAB_U64(struct config, field, def, min, max, help)
#define S(field, def, help) OPTTAB_STR(struct config, field, def, help)
#define F(field, help) OPTTAB_FLAG(struct config, field, help)

/* Names are the field names with '_' written '-' on the command line. */
static const struct opttab_opt config_opts[] = {
	U(id, NULL, 1, UINT32_MAX, "this member's id (required)"),
	S(data, NULL, "data directory: raft log in DIR/raft, state in DIR/state (required)"),
	S(peer_addr, NULL, "host:port for raft traffic between members (required)"),
	S(client_addr, NULL, "host:port where clients connect (required)"),
	S(bootstrap, "",
	  "the members, ID=PEER/CLIENT,...: bootstraps a new cluster on an empty data "
	  "directory; on every start it also names the members' client addresses"),
	F(join, "start on an empty data directory and wait to be added to a running "
		"cluster (berthctl member add); harmless on later starts: keep it"),
	S(token, "", "cluster token clients must present (default: $BERTH_TOKEN, or none)"),
	S(log_level, "info", "error, warn, info or debug (default: $BERTH_LOG_LEVEL, or info)"),
	U(election_ms, "400", 100, 60000,
	  "raft election timeout, milliseconds: followers elect after hearing no leader for "
	  "1-2x this; failover takes about 1.7x (docs/operations.md: loaded hosts)"),
	U(heartbeat_ms, "50", 10, 10000,
	  "raft heartbeat interval, milliseconds (below --election-ms, about 1/8 of it)"),
	U(snapshot_threshold, "32768", 16, UINT32_MAX, "entries between snapshots"),
	U(snapshot_trailing, "16384", 16, UINT32_MAX, "entries kept after a snapshot"),
	U(max_inflight, "1024", 1, 65536, "raft entries in flight to a follower"),
	U(max_batch, "256", 1, 65536, "applied entries per LMDB write transaction"),
	U(max_pending, "4096", 1, 1000000, "client proposals in flight before BERTH_EBUSY"),
	U(max_conns, "4096", 1, 1000000, "client connections"),
	U(map_mib, "65536", 1, 1u << 24, "LMDB map size, MiB (address space)"),
	U(max_key_bytes, "1024", 1, KV_KEY_HARD_MAX, "largest key (same on every member)"),
	U(max_value_bytes, "1048576", 0, 64u << 20, "largest value (same on every member)"),
	U(max_txn_ops, "128", 1, 65536, "compares, and operations per branch, per txn"),
	U(session_ttl_ms, "60000", 1000, FSM_SESSION_MAX_TTL_MS, "longest client session TTL"),
	U(compact_keep, "100000", 0, UINT32_MAX,
	  "revisions of history kept by automatic compaction (0: off)"),
	U(max_watchers, "10000", 1, 10000000, "watches open on this member"),
	U(watch_progress_ms, "1000", 10, 3600000,
	  "an idle watch gets a progress notification this often, milliseconds"),
	U(watch_max_lag, "10000", 1, UINT32_MAX,
	  "a watch whose client does not read and is this many revisions behind is cancelled"),
	U(max_snapshot_sends, "2", 1, 64, "backup transfers served at once (more: BERTH_EBUSY)"),
	U(snapshot_idle_ms, "30000", 100, 3600000,
	  "a backup transfer whose client takes nothing this long is cut, milliseconds"),
};
#define CONFIG_NOPTS (sizeof(config_opts) / sizeof(config_opts[0]))

void config_usage(FILE *to)
{
	fprintf(to, "usage: berth-store [OPTIONS]\n"
		    "       berth-store dump DIR [--values]\n"
		    "       berth-store restore FILE OPTIONS (a new member from a backup)\n"
		    "       berth-store --version\n\noptions:\n");
	opttab_usage(to, config_opts, CONFIG_NOPTS, 20);
}

int config_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= hostlen)
		return BERTH_EBADREQ;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != 0 || end == colon + 1 || p < 1 || p > 65535)
		return BERTH_EBADREQ;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	*port = (int)p;
	return 0;
}

/* "1=127.0.0.1:7001/127.0.0.1:7101,2=..." into c->members. */
static int config_members(struct config *c, char *err, size_t errlen)
{
	char spec[sizeof(c->bootstrap)], host[CONFIG_ADDR_MAX], *save = NULL;
	int port;
	memcpy(spec, c->bootstrap, sizeof(spec));
	c->nmembers = 0;
	for (char *item = strtok_r(spec, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *slash = eq ? strchr(eq, '/') : NULL, *end;
		if (c->nmembers == CONFIG_MAX_MEMBERS) {
			snprintf(err, errlen, "--bootstrap: more than %d members",
				 CONFIG_MAX_MEMBERS);
			return BERTH_EBADREQ;
		}
		struct config_member *m = &c->members[c->nmembers];
		if (eq == NULL || slash == NULL) {
			snprintf(err, errlen, "--bootstrap: '%.100s' is not ID=PEER/CLIENT", item);
			return BERTH_EBADREQ;
		}
		*eq = *slash = 0;
		errno = 0;
		unsigned long long id = strtoull(item, &end, 10);
		if (errno || *end || end == item || id == 0 || id > UINT32_MAX ||
		    strlen(eq + 1) >= CONFIG_ADDR_MAX || strlen(slash + 1) >= CONFIG_ADDR_MAX ||
		    config_split_addr(eq + 1, host, sizeof(host), &port) ||
		    config_split_addr(slash + 1, host, sizeof(host), &port)) {
			snprintf(err, errlen, "--bootstrap: bad member '%.40s=%.80s/%.80s'", item,
				 eq + 1, slash + 1);
			return BERTH_EBADREQ;
		}
		for (unsigned i = 0; i < c->nmembers; i++)
			if (c->members[i].id == id) {
				snprintf(err, errlen, "--bootstrap: id %llu twice", id);
				return BERTH_EBADREQ;
			}
		m->id = id;
		strcpy(m->peer, eq + 1);
		strcpy(m->client, slash + 1);
		c->nmembers++;
	}
	return 0;
}

static int config_validate(struct config *c, char *err, size_t errlen)
{
	char host[CONFIG_ADDR_MAX];
	int port;
	enum log_level lvl;
	if (c->id == 0 || c->data[0] == 0 || c->peer_addr[0] == 0 || c->client_addr[0] == 0) {
		snprintf(err, errlen, "--id, --data, --peer-addr and --client-addr are required");
		return BERTH_EBADREQ;
	}
	if (config_split_addr(c->peer_addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "--peer-addr: '%.200s' is not host:port", c->peer_addr);
		return BERTH_EBADREQ;
	}
	if (config_split_addr(c->client_addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "--client-addr: '%.200s' is not host:port", c->client_addr);
		return BERTH_EBADREQ;
	}
	if (log_parse_level(c->log_level, &lvl) != 0) {
		snprintf(err, errlen,
			 "--log-level (or BERTH_LOG_LEVEL): '%s' is not error, warn, info or debug",
			 c->log_level);
		return BERTH_EBADREQ;
	}
	if (c->heartbeat_ms >= c->election_ms) {
		snprintf(err, errlen, "--heartbeat-ms must be below --election-ms");
		return BERTH_EBADREQ;
	}
	if (config_members(c, err, errlen) != 0)
		return BERTH_EBADREQ;
	if (c->join && c->nmembers > 0) {
		snprintf(err, errlen,
			 "--join and --bootstrap exclude each other: --bootstrap "
			 "creates a cluster, --join waits to be added to a running one");
		return BERTH_EBADREQ;
	}
	if (c->nmembers > 0 && config_client_of(c, c->id) == NULL) {
		snprintf(err, errlen, "--bootstrap does not name this member (id %llu)",
			 (unsigned long long)c->id);
		return BERTH_EBADREQ;
	}
	return 0;
}

enum config_result config_parse(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	static const struct opttab_env envs[] = {{"BERTH_TOKEN", "token"},
						 {"BERTH_LOG_LEVEL", "log_level"}};
	enum opttab_result r = opttab_parse(config_opts, CONFIG_NOPTS, envs, 2, c, sizeof(*c), argc,
					    argv, err, errlen);
	if (r != OPTTAB_OK)
		return r == OPTTAB_HELP ? CONFIG_HELP : CONFIG_ERROR;
	return config_validate(c, err, errlen) ? CONFIG_ERROR : CONFIG_OK;
}

void config_fsm(const struct config *c, struct fsm_config *out)
{
	fsm_config_default(out);
	out->max_key_bytes = c->max_key_bytes;
	out->max_value_bytes = c->max_value_bytes;
	out->max_txn_ops = (uint32_t)c->max_txn_ops;
	out->map_bytes = (size_t)c->map_mib << 20;
}

const char *config_client_of(const struct config *c, uint64_t id)
{
	for (unsigned i = 0; i < c->nmembers; i++)
		if (c->members[i].id == id)
			return c->members[i].client;
	return NULL;
}
