/* client/ctl.h: berthctl's parsed command line and its output: readable text with
 * escaped bytes, or JSON (--json) with binary-safe keys and values (docs/berthctl.md). */
#ifndef BERTH_CLIENT_CTL_H
#define BERTH_CLIENT_CTL_H

#include "client/berth.h"

#include <jansson.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Positional arguments: instance attributes ID NAME=VALUE... sets up to 64 at once. */
#define CTL_MAX_POS 72
/* --strategy and --constraint, each given up to this many times (the model's own limits,
 * 5 and 10, are checked by the command with a clear message). */
#define CTL_MAX_LIST 16

struct ctl {
	const char *cmd; /* the command's name, for messages */
	const char *endpoints;
	const char *token;
	uint32_t timeout_ms;
	bool json;
	const char *pos[CTL_MAX_POS]; /* positional arguments after the command */
	int npos;
	bool prefix, serializable, keys_only, count_only, no_wait;
	uint64_t lease, rev, limit, id;
	uint64_t num; /* the command's numeric argument (compact REV, lease TTL or ID) */
	/* The cluster commands' options as given (client/ctl_sched.c checks them): NULL when
	 * absent; cluster is "default" unless --cluster names another. */
	const char *cluster, *taskdef, *count, *group, *started_by, *status, *instance, *reason,
		*min_healthy, *max_percent;
	const char *strategies[CTL_MAX_LIST];
	int nstrategies;
	const char *constraints[CTL_MAX_LIST];
	int nconstraints;
};

/* Command options, one bit each; a command's table entry says which it takes. */
enum ctl_opt_bit {
	O_LEASE = 1 << 0,
	O_REV = 1 << 1,
	O_SER = 1 << 2,
	O_PREFIX = 1 << 3,
	O_LIMIT = 1 << 4,
	O_KEYS = 1 << 5,
	O_COUNT = 1 << 6,
	O_ID = 1 << 7,
	O_NOWAIT = 1 << 8,
	/* the cluster commands' options: strings kept in struct ctl */
	O_CLUSTER = 1 << 9,
	O_TASKDEF = 1 << 10,
	O_NUMBER = 1 << 11, /* --count */
	O_STRATEGY = 1 << 12,
	O_CONSTRAINT = 1 << 13,
	O_GROUP = 1 << 14,
	O_STARTED_BY = 1 << 15,
	O_STATUS = 1 << 16,
	O_INSTANCE = 1 << 17,
	O_REASON = 1 << 18,
	O_MIN_HEALTHY = 1 << 19,
	O_MAX_PERCENT = 1 << 20,
};

/* One command of the table: its name (one or two words), how many positional arguments,
 * which options, its usage line and help, and what runs it (returns the exit status). */
struct ctl_cmd {
	const char *name;
	int minpos, maxpos;
	unsigned opts;
	const char *usage;
	const char *help;
	int (*run)(struct ctl *c, struct berth *b);
};

/* The cluster commands (client/ctl_sched.c): taskdef, instance, task, service, cluster. */
extern const struct ctl_cmd ctl_sched_cmds[];
extern const size_t ctl_sched_ncmds;

enum ctl_show {
	CTL_SHOW_PUT,
	CTL_SHOW_GET,
	CTL_SHOW_DEL,
	CTL_SHOW_RANGE,
	CTL_SHOW_TXN,
	CTL_SHOW_COMPACT,
	CTL_SHOW_LEASE_GRANT,
	CTL_SHOW_LEASE_REVOKE,
	CTL_SHOW_LEASE_KEEPALIVE,
};

/* Prints "berthctl: message" on stderr; returns 1 (the exit status). */
int ctl_usage_error(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the outcome of a call (r->err) as text or JSON, frees r, and returns the exit
 * status: 0, 1 (definite failure, or a get that found nothing) or 2 (indeterminate). */
int ctl_report(struct ctl *c, struct berth *b, struct berth_result *r, enum ctl_show show);

/* berthctl snapshot save: what was saved (err 0), or why nothing was; the exit status. */
int ctl_snapshot_report(struct ctl *c, struct berth *b, int err, const char *file,
			const struct berth_snapshot *s);
/* Prints a failure that is not a call's (a record not found, a conflict that outlived its
 * retries) as "berthctl: COMMAND: message" on stderr, or {"error": ...} on stdout with
 * --json, under the code err; returns the exit status (1, or 2 when err is indeterminate). */
int ctl_fail(struct ctl *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints a JSON document on stdout, then decrefs it (NULL: out of memory). */
void ctl_json_print(json_t *o);

/* Prints a failed call's error (r->err; 0 means an answer without a result) as text on
 * stderr or JSON, and returns the exit status (1 or 2). r is not freed. */
int ctl_report_error(struct ctl *c, struct berth *b, const struct berth_result *r);

/* The key-value commands (client/ctl_kv.c): c->pos holds their arguments, c->num the
 * number main parsed (compact REV, lease TTL or ID). */
int ctl_put(struct ctl *c, struct berth *b);
int ctl_get(struct ctl *c, struct berth *b);
int ctl_del(struct ctl *c, struct berth *b);
int ctl_ls(struct ctl *c, struct berth *b);
int ctl_range(struct ctl *c, struct berth *b);
int ctl_txn(struct ctl *c, struct berth *b);
int ctl_compact(struct ctl *c, struct berth *b);
int ctl_lease_grant(struct ctl *c, struct berth *b);
int ctl_lease_revoke(struct ctl *c, struct berth *b);
int ctl_lease_keepalive(struct ctl *c, struct berth *b);
int ctl_watch_cmd(struct ctl *c, struct berth *b);
int ctl_snapshot_save(struct ctl *c, struct berth *b);

/* berthctl member list, add, remove, transfer (client/ctl_member.c): the configuration
 * as a table or JSON; c->num is the member id, c->pos the addresses. */
int ctl_member_list(struct ctl *c, struct berth *b);
int ctl_member_add(struct ctl *c, struct berth *b);
int ctl_member_remove(struct ctl *c, struct berth *b);
int ctl_member_transfer(struct ctl *c, struct berth *b);

/* berthctl status: every endpoint's answer, as a table or JSON. */
int ctl_status(struct ctl *c, struct berth *b);
/* Prints the id of the member that reports itself leader (the highest term); 1 if none. */
int ctl_leader(struct ctl *c, struct berth *b);

/* berthctl watch: streams changes to key (a prefix with c->prefix; [key, end) when end
 * is not NULL, "" meaning to the last key) after c->rev until c->limit events (0: for
 * ever). Returns the exit status. */
int ctl_watch(struct ctl *c, struct berth *b, const char *key, const char *end);

/* Writes p[0..n) readably: printable ASCII and valid UTF-8 as is, backslash as \\,
 * \n \r \t, every other byte as \xHH. */
void ctl_escape(FILE *f, const uint8_t *p, size_t n);

#endif
