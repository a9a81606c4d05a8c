/* client/berthctl.c: berthctl, the operators' command line client (docs/berthctl.md).
 *
 * Exit status: 0 success (a txn whose compares failed included), 1 a definite failure or
 * a bad command line (reported before contacting anyone), 2 an indeterminate failure (a
 * write that may or may not have been applied). */
#include "client/berth.h"
#include "client/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_DEFAULT_ENDPOINTS "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"
#define CTL_MAX_ENDPOINTS 64
/* Membership changes wait for catch-up and commits: their default deadline. */
#define CTL_MEMBER_TIMEOUT_MS 30000

/* --cluster when none is given; may be given once over it. */
static const char ctl_default_cluster[] = "default";

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

/* The command called `full` ("put", "lease grant", "task run"), or NULL. */
static const struct ctl_cmd *ctl_find(const char *full)
{
	for (size_t k = 0; k < CTL_NCMDS; k++)
		if (strcmp(ctl_cmds[k].name, full) == 0)
			return &ctl_cmds[k];
	for (size_t k = 0; k < ctl_sched_ncmds; k++)
		if (strcmp(ctl_sched_cmds[k].name, full) == 0)
			return &ctl_sched_cmds[k];
	return NULL;
}

/* Whether `word` is the first of two-word commands ("lease", "task"); with `say`, the
 * question to ask when it comes alone ("lease: grant, revoke or keepalive?"). */
static bool ctl_group(const char *word, char *say, size_t n)
{
	size_t wl = strlen(word), used = 0, found = 0;
	const char *seconds[32];
	for (size_t k = 0; k < CTL_NCMDS + ctl_sched_ncmds; k++) {
		const char *name =
			k < CTL_NCMDS ? ctl_cmds[k].name : ctl_sched_cmds[k - CTL_NCMDS].name;
		if (strncmp(name, word, wl) == 0 && name[wl] == ' ' && found < 32)
			seconds[found++] = name + wl + 1;
	}
	if (say != NULL && found > 0) {
		used = (size_t)snprintf(say, n, "%s: ", word);
		for (size_t i = 0; i < found && used < n; i++)
			used += (size_t)snprintf(say + used, n - used, "%s%s", seconds[i],
						 i + 2 < found   ? ", "
						 : i + 1 < found ? " or "
								 : "?");
	}
	return found > 0;
}

static void ctl_help(FILE *f, const struct ctl_cmd *cmd)
{
	if (cmd != NULL) {
		fprintf(f, "usage: berthctl [GLOBAL OPTIONS] %s\n\n%s\n", cmd->usage, cmd->help);
		return;
	}
	fprintf(f, "usage: berthctl [GLOBAL OPTIONS] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < CTL_NCMDS; i++)
		fprintf(f, "  %s\n", ctl_cmds[i].usage);
	for (size_t i = 0; i < ctl_sched_ncmds; i++)
		fprintf(f, "  %s\n", ctl_sched_cmds[i].usage);
	fprintf(f,
		"\nglobal options:\n"
		"  --endpoints A,B,C  host:port list (env BERTH_ENDPOINTS; default %s)\n"
		"  --token T          cluster token (env BERTH_TOKEN)\n"
		"  --timeout MS       deadline of each request, retries across a leader change\n"
		"                     included (default %u)\n"
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
} ctl_flags[] = {{"--lease", O_LEASE},
		 {"--rev", O_REV},
		 {"--serializable", O_SER},
		 {"--prefix", O_PREFIX},
		 {"--limit", O_LIMIT},
		 {"--keys-only", O_KEYS},
		 {"--count-only", O_COUNT},
		 {"--id", O_ID},
		 {"--no-wait", O_NOWAIT},
		 {"--cluster", O_CLUSTER},
		 {"--taskdef", O_TASKDEF},
		 {"--count", O_NUMBER},
		 {"--strategy", O_STRATEGY},
		 {"--constraint", O_CONSTRAINT},
		 {"--group", O_GROUP},
		 {"--started-by", O_STARTED_BY},
		 {"--status", O_STATUS},
		 {"--instance", O_INSTANCE},
		 {"--reason", O_REASON},
		 {"--min-healthy", O_MIN_HEALTHY},
		 {"--max-percent", O_MAX_PERCENT}};

/* A cluster command's option: kept as text for the command to check. 0 or 1. */
static int ctl_text_opt(struct ctl *c, unsigned bit, const char *name, const char *v)
{
	const char **one = bit == O_CLUSTER       ? &c->cluster
			   : bit == O_TASKDEF     ? &c->taskdef
			   : bit == O_NUMBER      ? &c->count
			   : bit == O_GROUP       ? &c->group
			   : bit == O_STARTED_BY  ? &c->started_by
			   : bit == O_STATUS      ? &c->status
			   : bit == O_INSTANCE    ? &c->instance
			   : bit == O_REASON      ? &c->reason
			   : bit == O_MIN_HEALTHY ? &c->min_healthy
			   : bit == O_MAX_PERCENT ? &c->max_percent
						  : NULL;
	if (one != NULL) {
		if (*one != NULL && !(bit == O_CLUSTER && *one == ctl_default_cluster))
			return ctl_usage_error(c, "%s given twice", name);
		*one = v;
		return 0;
	}
	const char **list = bit == O_STRATEGY ? c->strategies : c->constraints;
	int *n = bit == O_STRATEGY ? &c->nstrategies : &c->nconstraints;
	if (*n == CTL_MAX_LIST)
		return ctl_usage_error(c, "%s given more than %d times", name, CTL_MAX_LIST);
	list[(*n)++] = v;
	return 0;
}

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
	if (bit >= O_CLUSTER)
		return ctl_text_opt(c, bit, name, v);
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
		} else if (cmd == NULL && word == NULL && ctl_group(a, NULL, 0)) {
			word = a;
		} else if (cmd == NULL) {
			char full[64];
			snprintf(full, sizeof(full), "%s%s%s", word ? word : "", word ? " " : "",
				 a);
			if ((cmd = ctl_find(full)) == NULL)
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
	if (cmd == NULL) {
		char say[256];
		if (word == NULL)
			return ctl_usage_error(c, "no command (try --help)");
		ctl_group(word, say, sizeof(say));
		return ctl_usage_error(c, "%s", say);
	}
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

	c.cluster = ctl_default_cluster;
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
