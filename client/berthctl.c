/* client/berthctl.c: berthctl, the operators' command line client (docs/berthctl.md).
 *
 * Exit status: 0 success (a txn whose compares failed included), 1 a definite failure or
 * a bad command line (reported before contacting anyone), 2 an indeterminate failure (a
 * write that may or may not have been applied). */
#include "client/berth.h"
#include "client/ctl.h"
#include "client/txnjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_DEFAULT_ENDPOINTS "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
#define CTL_MAX_ENDPOINTS 64
#define CTL_MAX_STDIN (64u << 20)
/* Membership changes wait for catch-up and commits: their default deadline. */
#define CTL_MEMBER_TIMEOUT_MS 30000

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
};

struct ctl_cmd {
	const char *name;
	int minpos, maxpos;
	unsigned opts;
	const char *usage;
	const char *help;
	int (*run)(struct ctl *c, struct berth *b);
};

static int ctl_put(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	const char *k = c->pos[0], *v = c->pos[1];
	berth_put(b, k, strlen(k), v, strlen(v), c->lease, &r);
	return ctl_report(c, b, &r, CTL_SHOW_PUT);
}

static int ctl_get(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_get(b, c->pos[0], strlen(c->pos[0]), c->rev, c->serializable, &r);
	return ctl_report(c, b, &r, CTL_SHOW_GET);
}

static int ctl_del(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_delete(b, c->pos[0], strlen(c->pos[0]), c->prefix, &r);
	return ctl_report(c, b, &r, CTL_SHOW_DEL);
}

static int ctl_range_run(struct ctl *c, struct berth *b, struct berth_range *q)
{
	struct berth_result r;
	q->limit = c->limit;
	q->keys_only = c->keys_only;
	q->count_only = c->count_only;
	q->rev = c->rev;
	q->serializable = c->serializable;
	berth_range(b, q, &r);
	return ctl_report(c, b, &r, CTL_SHOW_RANGE);
}

static int ctl_ls(struct ctl *c, struct berth *b)
{
	const char *p = c->npos > 0 ? c->pos[0] : "";
	struct berth_range q = {.key = p, .klen = strlen(p), .prefix = true};
	if (q.klen == 0) { /* every key: [ "\0", end of keyspace ) */
		q.key = "";
		q.klen = 1;
		q.end = "";
		q.elen = 1;
		q.prefix = false;
	}
	return ctl_range_run(c, b, &q);
}

static int ctl_range(struct ctl *c, struct berth *b)
{
	struct berth_range q = {.key = c->pos[0], .klen = strlen(c->pos[0])};
	if (c->npos > 1) {
		q.end = c->pos[1];
		q.elen = strlen(c->pos[1]);
	}
	if (q.elen == 0) { /* no END: to the last key */
		q.end = "";
		q.elen = 1;
	}
	return ctl_range_run(c, b, &q);
}

static int ctl_txn(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	struct txnjson t;
	char err[256];
	size_t len = 0, cap = 0;
	char *text = NULL;
	int rv;

	while (!feof(stdin) && !ferror(stdin)) {
		if (cap - len < 4096) {
			if (cap >= CTL_MAX_STDIN) {
				free(text);
				return ctl_usage_error(c, "txn: the spec on stdin is too large");
			}
			cap = cap ? cap * 2 : 8192;
			char *p = realloc(text, cap);
			if (p == NULL) {
				free(text);
				return ctl_usage_error(c, "txn: out of memory");
			}
			text = p;
		}
		len += fread(text + len, 1, cap - len, stdin);
	}
	if (ferror(stdin)) {
		free(text);
		return ctl_usage_error(c, "txn: reading stdin: %s", strerror(errno));
	}
	rv = txnjson_parse(text ? text : "", len, &t, err, sizeof(err));
	free(text);
	if (rv != 0)
		return ctl_usage_error(c, "txn: %s", err);
	berth_txn(b, &t.txn, t.serializable || c->serializable, &r);
	rv = ctl_report(c, b, &r, CTL_SHOW_TXN);
	txnjson_free(&t);
	return rv;
}

static int ctl_compact(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_compact(b, c->num, &r);
	return ctl_report(c, b, &r, CTL_SHOW_COMPACT);
}

static int ctl_lease_grant(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_lease_grant(b, (int64_t)c->num, c->id, &r);
	return ctl_report(c, b, &r, CTL_SHOW_LEASE_GRANT);
}

static int ctl_lease_revoke(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_lease_revoke(b, c->num, &r);
	return ctl_report(c, b, &r, CTL_SHOW_LEASE_REVOKE);
}

static int ctl_lease_keepalive(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_lease_keepalive(b, c->num, &r);
	return ctl_report(c, b, &r, CTL_SHOW_LEASE_KEEPALIVE);
}

static int ctl_watch_cmd(struct ctl *c, struct berth *b)
{
	return ctl_watch(c, b, c->npos > 0 ? c->pos[0] : "", c->npos > 1 ? c->pos[1] : NULL);
}

static int ctl_snapshot_save(struct ctl *c, struct berth *b)
{
	struct berth_snapshot s;
	int err = berth_snapshot_save(b, c->pos[0], &s);
	return ctl_snapshot_report(c, b, err, c->pos[0], &s);
}

static const struct ctl_cmd ctl_cmds[] = {
	{"put", 2, 2, O_LEASE, "put KEY VALUE [--lease ID]",
	 "Sets KEY to VALUE (attached to lease ID) and prints the new revision.", ctl_put},
	{"get", 1, 1, O_REV | O_SER, "get KEY [--rev N] [--serializable]",
	 "Prints KEY's value (at revision N). A missing key exits 1.", ctl_get},
	{"del", 1, 1, O_PREFIX, "del KEY [--prefix]",
	 "Deletes KEY, or every key starting with KEY, and prints how many.", ctl_del},
	{"ls", 0, 1, O_LIMIT | O_KEYS | O_COUNT | O_REV | O_SER,
	 "ls [PREFIX] [--limit N] [--keys-only] [--count-only] [--rev N] [--serializable]",
	 "Lists the keys starting with PREFIX (every key without one).", ctl_ls},
	{"range", 1, 2, O_LIMIT | O_KEYS | O_COUNT | O_REV | O_SER,
	 "range START [END] [--limit N] [--keys-only] [--count-only] [--rev N] [--serializable]",
	 "Lists the keys in [START, END), or from START to the last key.", ctl_range},
	{"txn", 0, 0, O_SER, "txn < SPEC.json",
	 "Runs the transaction described by the JSON on stdin (docs/berthctl.md).", ctl_txn},
	{"compact", 1, 1, 0, "compact REV", "Compacts the history up to revision REV.",
	 ctl_compact},
	{"watch", 0, 2, O_PREFIX | O_REV | O_KEYS | O_LIMIT,
	 "watch [KEY [END]] [--prefix] [--rev N] [--keys-only] [--limit N]",
	 "Prints every change to KEY (to keys starting with KEY; in [KEY, END), END \"\" "
	 "meaning to the last key) after revision N (default: from now), one line each "
	 "(\"REV put KEY VALUE\" or \"REV del KEY\"; --json: one object per revision), "
	 "until N events (--limit) or interrupted. Resumes on another member without a gap.",
	 ctl_watch_cmd},
	{"status", 0, 0, 0, "status",
	 "Asks every endpoint for its status and prints the members as a table.", ctl_status},
	{"leader", 0, 0, 0, "leader",
	 "Prints the id of the member that reports itself leader (exits 1 when none does).",
	 ctl_leader},
	{"lease grant", 1, 1, O_ID, "lease grant TTL [--id N]",
	 "Grants a lease of TTL seconds (with id N, else the store picks one).", ctl_lease_grant},
	{"lease revoke", 1, 1, 0, "lease revoke ID", "Revokes lease ID; its keys are deleted.",
	 ctl_lease_revoke},
	{"lease keepalive", 1, 1, 0, "lease keepalive ID",
	 "Renews lease ID once and prints its TTL.", ctl_lease_keepalive},
	{"snapshot save", 1, 1, 0, "snapshot save FILE",
	 "Saves a member's committed state into FILE (a backup for berth-store restore): "
	 "written to FILE.part, checked, synced, then renamed. The timeout applies to each "
	 "frame.",
	 ctl_snapshot_save},
	{"member list", 0, 0, O_SER, "member list [--serializable]",
	 "Prints the members: id, role, leader, raft and client addresses (the leader's view; "
	 "any member's with --serializable).",
	 ctl_member_list},
	{"member add", 3, 3, O_NOWAIT, "member add ID PEER-ADDR CLIENT-ADDR [--no-wait]",
	 "Adds member ID (started with --join) as a spare, lets it catch up and promotes it to "
	 "voter; waits for the promotion unless --no-wait (default --timeout 30000).",
	 ctl_member_add},
	{"member remove", 1, 1, 0, "member remove ID",
	 "Removes member ID (the leader hands leadership over first).", ctl_member_remove},
	{"member transfer", 0, 1, 0, "member transfer [ID]",
	 "Moves leadership to voter ID (without ID: to the most up-to-date voter).",
	 ctl_member_transfer},
};

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void ctl_help(FILE *f, const struct ctl_cmd *cmd)
{
	if (cmd != NULL) {
		fprintf(f, "usage: berthctl [GLOBAL OPTIONS] %s\n\n%s\n", cmd->usage, cmd->help);
		return;
	}
	fprintf(f, "usage: berthctl [GLOBAL OPTIONS] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < CTL_NCMDS; i++)
		fprintf(f, "  %s\n", ctl_cmds[i].usage);
	fprintf(f,
		"\nglobal options:\n"
		"  --endpoints A,B,C  host:port list (env BERTH_ENDPOINTS; default %s)\n"
		"  --token T          cluster token (env BERTH_TOKEN)\n"
		"  --timeout MS       deadline of each request (default %u)\n"
		"  --json             machine-readable output\n"
		"  --help             this text; COMMAND --help for one command\n"
		"\nexit status: 0 ok, 1 definite failure, 2 outcome unknown\n",
		CTL_DEFAULT_ENDPOINTS, BERTH_DEFAULT_TIMEOUT_MS);
}

/* The option's value: "--opt=value" or the next argument. */
static const char *ctl_optarg(struct ctl *c, int argc, char **argv, int *i, const char *eq)
{
	if (eq != NULL)
		return eq + 1;
	if (*i + 1 >= argc) {
		ctl_usage_error(c, "%s needs a value", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static int ctl_num(struct ctl *c, const char *what, const char *s, uint64_t *out)
{
	char *end;
	if (s[0] < '0' || s[0] > '9')
		return ctl_usage_error(c, "%s: \"%s\" is not a non-negative integer", what, s);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ctl_usage_error(c, "%s: \"%s\" is not a non-negative integer", what, s);
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} ctl_flags[] = {{"--lease", O_LEASE},      {"--rev", O_REV},     {"--serializable", O_SER},
		 {"--prefix", O_PREFIX},    {"--limit", O_LIMIT}, {"--keys-only", O_KEYS},
		 {"--count-only", O_COUNT}, {"--id", O_ID},       {"--no-wait", O_NOWAIT}};

/* One command option; 0, or the exit code of a usage error. */
static int ctl_cmd_opt(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv, int *i)
{
	char name[32];
	const char *a = argv[*i], *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	unsigned bit = 0;
	const char *v;
	if (n >= sizeof(name))
		return ctl_usage_error(c, "unknown option %s", a);
	memcpy(name, a, n);
	name[n] = '\0';
	for (size_t k = 0; k < sizeof(ctl_flags) / sizeof(ctl_flags[0]); k++)
		if (strcmp(name, ctl_flags[k].name) == 0)
			bit = ctl_flags[k].bit;
	if (bit == 0 || cmd == NULL || !(cmd->opts & bit))
		return ctl_usage_error(c, "unknown option %s%s%s", name, cmd ? " for " : "",
				       cmd ? cmd->name : "");
	bool flag = bit & (O_SER | O_PREFIX | O_KEYS | O_COUNT | O_NOWAIT);
	if (flag) {
		if (eq != NULL)
			return ctl_usage_error(c, "%s takes no value", name);
		c->serializable |= bit == O_SER;
		c->prefix |= bit == O_PREFIX;
		c->keys_only |= bit == O_KEYS;
		c->count_only |= bit == O_COUNT;
		c->no_wait |= bit == O_NOWAIT;
		return 0;
	}
	if ((v = ctl_optarg(c, argc, argv, i, eq)) == NULL)
		return 1;
	uint64_t *dst = bit == O_LEASE   ? &c->lease
			: bit == O_REV   ? &c->rev
			: bit == O_LIMIT ? &c->limit
					 : &c->id;
	return ctl_num(c, name, v, dst);
}

static int ctl_parse(struct ctl *c, int argc, char **argv, const struct ctl_cmd **cmdp)
{
	const struct ctl_cmd *cmd = NULL;
	const char *word = NULL;
	bool help = false;
	int rv;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *v;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				if (c->npos < CTL_MAX_POS)
					c->pos[c->npos++] = argv[i];
				else
					return ctl_usage_error(c, "too many arguments");
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help = true;
		} else if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (n == 11 && strncmp(a, "--endpoints", n) == 0) {
			if ((c->endpoints = ctl_optarg(c, argc, argv, &i, eq)) == NULL)
				return 1;
		} else if (n == 7 && strncmp(a, "--token", n) == 0) {
			if ((c->token = ctl_optarg(c, argc, argv, &i, eq)) == NULL)
				return 1;
		} else if (n == 9 && strncmp(a, "--timeout", n) == 0) {
			uint64_t ms;
			if ((v = ctl_optarg(c, argc, argv, &i, eq)) == NULL ||
			    ctl_num(c, "--timeout", v, &ms) != 0)
				return 1;
			if (ms == 0 || ms > 3600000)
				return ctl_usage_error(
					c, "--timeout: %s is out of range (1..3600000 ms)", v);
			c->timeout_ms = (uint32_t)ms;
		} else if (a[0] == '-' && a[1] == '-' && cmd != NULL) {
			if ((rv = ctl_cmd_opt(c, cmd, argc, argv, &i)) != 0)
				return rv;
		} else if (a[0] == '-' && a[1] != '\0' && cmd == NULL) {
			return ctl_usage_error(c, "unknown option %s (before a command)", a);
		} else if (cmd == NULL && word == NULL &&
			   (strcmp(a, "lease") == 0 || strcmp(a, "snapshot") == 0 ||
			    strcmp(a, "member") == 0)) {
			word = a;
		} else if (cmd == NULL) {
			char full[64];
			snprintf(full, sizeof(full), "%s%s%s", word ? word : "", word ? " " : "",
				 a);
			for (size_t k = 0; k < CTL_NCMDS && cmd == NULL; k++)
				if (strcmp(ctl_cmds[k].name, full) == 0)
					cmd = &ctl_cmds[k];
			if (cmd == NULL)
				return ctl_usage_error(c, "unknown command \"%s\" (try --help)",
						       full);
		} else if (c->npos < CTL_MAX_POS) {
			c->pos[c->npos++] = a;
		} else {
			return ctl_usage_error(c, "too many arguments");
		}
	}
	if (help) {
		ctl_help(stdout, cmd);
		exit(0);
	}
	if (cmd == NULL)
		return ctl_usage_error(c, word == NULL ? "no command (try --help)"
					  : strcmp(word, "lease") == 0
						  ? "lease: grant, revoke or keepalive?"
					  : strcmp(word, "snapshot") == 0
						  ? "snapshot: save?"
						  : "member: list, add, remove or transfer?");
	if (c->npos < cmd->minpos || c->npos > cmd->maxpos)
		return ctl_usage_error(c, "usage: berthctl %s", cmd->usage);
	if (cmd->run == ctl_watch_cmd && c->npos == 0 && !c->prefix)
		return ctl_usage_error(c, "watch: a KEY, or --prefix (an empty prefix: every key)");
	if (cmd->run == ctl_watch_cmd && c->npos == 2 && c->prefix)
		return ctl_usage_error(c, "watch: --prefix takes no END");
	if (c->keys_only && c->count_only)
		return ctl_usage_error(c, "--keys-only and --count-only exclude each other");
	*cmdp = cmd;
	return 0;
}

/* Splits the endpoint list in place. */
static int ctl_endpoints(struct ctl *c, char *list, const char **eps, size_t *n)
{
	*n = 0;
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		if (*n == CTL_MAX_ENDPOINTS)
			return ctl_usage_error(c, "--endpoints: more than %d", CTL_MAX_ENDPOINTS);
		eps[(*n)++] = t;
	}
	if (*n == 0)
		return ctl_usage_error(c, "--endpoints: empty list");
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = {.timeout_ms = 0};
	const struct ctl_cmd *cmd = NULL;
	const char *eps[CTL_MAX_ENDPOINTS];
	char err[BERTH_ERRMSG_BYTES], *list;
	struct berth *b;
	size_t neps;
	int rv;

	c.endpoints = getenv("BERTH_ENDPOINTS");
	c.token = getenv("BERTH_TOKEN");
	if ((rv = ctl_parse(&c, argc, argv, &cmd)) != 0)
		return rv;
	c.cmd = cmd->name;
	if (cmd->run == ctl_compact || cmd->run == ctl_lease_revoke ||
	    cmd->run == ctl_lease_keepalive || cmd->run == ctl_lease_grant) {
		if (ctl_num(&c, cmd->name, c.pos[0], &c.num) != 0)
			return 1;
		if (cmd->run == ctl_lease_grant && (c.num == 0 || c.num > INT32_MAX))
			return ctl_usage_error(&c, "lease grant: TTL must be 1..%d seconds",
					       INT32_MAX);
	}
	bool change = cmd->run == ctl_member_add || cmd->run == ctl_member_remove ||
		      cmd->run == ctl_member_transfer;
	if (change && c.npos > 0) {
		if (ctl_num(&c, cmd->name, c.pos[0], &c.num) != 0)
			return 1;
		if (c.num > UINT32_MAX || (c.num == 0 && cmd->run != ctl_member_transfer))
			return ctl_usage_error(&c, "%s: the member id must be 1..%u", cmd->name,
					       UINT32_MAX);
	}
	if (c.timeout_ms == 0)
		c.timeout_ms = change ? CTL_MEMBER_TIMEOUT_MS : BERTH_DEFAULT_TIMEOUT_MS;
	if ((list = strdup(c.endpoints && *c.endpoints ? c.endpoints : CTL_DEFAULT_ENDPOINTS)) ==
	    NULL)
		return ctl_usage_error(&c, "out of memory");
	if ((rv = ctl_endpoints(&c, list, eps, &neps)) != 0)
		goto out;
	struct berth_options o = {
		.endpoints = eps, .nendpoints = neps, .token = c.token, .timeout_ms = c.timeout_ms};
	if (berth_open(&b, &o, err, sizeof(err)) != 0) {
		rv = ctl_usage_error(&c, "%s", err);
		goto out;
	}
	rv = cmd->run(&c, b);
	berth_close(b);
out:
	free(list);
	return rv;
}
