/* client/ctl.h: berthctl's parsed command line and its output: readable text with
 * escaped bytes, or JSON (--json) with binary-safe keys and values (docs/berthctl.md). */
#ifndef BERTH_CLIENT_CTL_H
#define BERTH_CLIENT_CTL_H

#include "client/berth.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_MAX_POS 4

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
};

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
/* Prints a failed call's error (r->err; 0 means an answer without a result) as text on
 * stderr or JSON, and returns the exit status (1 or 2). r is not freed. */
int ctl_report_error(struct ctl *c, struct berth *b, const struct berth_result *r);

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
