/* jepsen/main.c: the berth-jepsen program: a table of subcommands: `run` (one run under
 * faults: jepsen/run.h), `cleanup` (leftovers of earlier runs) and `check`, which runs a
 * workload's checker on a history file (docs/jepsen.md).
 *
 *   berth-jepsen run [--workload W] [--nemesis K,K...] [--time-limit-s N] ... (--help)
 *   berth-jepsen cleanup
 *
 *   berth-jepsen check --workload register|set|bank|watch|sessions|sched [--total N] [--negative-ok]
 *                      [--max-states N] [--results FILE] HISTORY.jsonl
 *
 * check prints one line, the verdict ("valid", "INVALID" or "unknown") and the checker's
 * counts, and writes {"valid", "workload", "history", WORKLOAD: the checker's result} to
 * FILE. Exit status: 0 valid, 1 invalid, 2 unknown, 64 usage, 65 a history that cannot be
 * read or checked, 74 results that cannot be written. Further subcommands join cmds[]. */
#include "jepsen/check.h"
#include "jepsen/history.h"
#include "jepsen/run.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	EXIT_VALID = 0,
	EXIT_INVALID = 1,
	EXIT_UNKNOWN = 2,
	EXIT_USAGE = 64,
	EXIT_DATA = 65,
	EXIT_IO = 74,
};

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int check_main(int argc, char **argv);

static int run_cmd(int argc, char **argv)
{
	struct run_config cfg;
	int rc = run_parse(argc, argv, &cfg);
	if (rc == -1)
		return 0;
	if (rc != 0)
		return rc;
	return run_main(&cfg);
}

static int cleanup_cmd(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "berth-jepsen cleanup: takes no arguments\n");
		return EXIT_USAGE;
	}
	return run_cleanup();
}

static const struct cmd cmds[] = {
	{"run", run_cmd, "run [OPTIONS]   (run --help lists them)"},
	{"cleanup", cleanup_cmd, "cleanup        (removes what earlier runs left behind)"},
	{"check", check_main,
	 "check --workload register|set|bank|watch|sessions|sched [--total N] [--negative-ok]\n"
	 "                     [--max-states N] [--results FILE] HISTORY.jsonl"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  berth-jepsen %s\n", cmds[i].usage);
}

/* A whole decimal integer in [min, max], or -1 with a message naming the option. */
static int parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
			"berth-jepsen: --%s: \"%s\" is not an integer from %" PRId64 " to %" PRId64
			"\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

struct check_opts {
	const char *workload, *history, *results;
	int64_t total, max_states;
	bool have_total, negative_ok;
};

static json_t *run_checker(const struct check_opts *o, const struct history *h, char *err,
			   size_t errlen)
{
	if (strcmp(o->workload, "register") == 0)
		return check_register(h, (uint64_t)o->max_states, err, errlen);
	if (strcmp(o->workload, "set") == 0)
		return check_set(h, err, errlen);
	if (strcmp(o->workload, "bank") == 0)
		return check_bank(h, o->total, o->negative_ok, err, errlen);
	if (strcmp(o->workload, "sessions") == 0)
		return check_counter(h, err, errlen);
	if (strcmp(o->workload, "sched") == 0)
		return check_sched(h, err, errlen);
	return check_watch(h, err, errlen);
}

/* Parses check's command line into o: 0, or -1 after a message. */
static int check_parse(int argc, char **argv, struct check_opts *o)
{
	static const struct option opts[] = {{"workload", required_argument, NULL, 'w'},
					     {"total", required_argument, NULL, 't'},
					     {"negative-ok", no_argument, NULL, 'n'},
					     {"max-states", required_argument, NULL, 'm'},
					     {"results", required_argument, NULL, 'r'},
					     {0}};
	static const char *const workloads[] = {"register", "set",      "bank",
						"watch",    "sessions", "sched"};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			o->workload = optarg;
			break;
		case 't':
			if (parse_i64("total", optarg, INT64_MIN, INT64_MAX, &o->total) != 0)
				return -1;
			o->have_total = true;
			break;
		case 'n':
			o->negative_ok = true;
			break;
		case 'm':
			if (parse_i64("max-states", optarg, 1, INT64_MAX, &o->max_states) != 0)
				return -1;
			break;
		case 'r':
			o->results = optarg;
			break;
		default:
			fprintf(stderr,
				"berth-jepsen: check: unknown option or missing value: %s\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (o->workload == NULL) {
		fprintf(stderr, "berth-jepsen: check: --workload is required\n");
		return -1;
	}
	bool known = false;
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		known |= strcmp(o->workload, workloads[i]) == 0;
	if (!known) {
		fprintf(stderr,
			"berth-jepsen: check: unknown workload \"%s\" (register, set, bank, "
			"watch, sessions, sched)\n",
			o->workload);
		return -1;
	}
	bool bank = strcmp(o->workload, "bank") == 0;
	if (bank != o->have_total || (!bank && o->negative_ok)) {
		fprintf(stderr,
			"berth-jepsen: check: --total is required by bank and only by bank; "
			"--negative-ok is for bank only\n");
		return -1;
	}
	if (o->max_states != 0 && strcmp(o->workload, "register") != 0) {
		fprintf(stderr, "berth-jepsen: check: --max-states is for register only\n");
		return -1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "berth-jepsen: check: one history file expected\n");
		return -1;
	}
	o->history = argv[optind];
	return 0;
}

static int check_main(int argc, char **argv)
{
	struct check_opts o = {0};
	struct history h;
	char err[512];
	if (check_parse(argc, argv, &o) != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (hist_load(o.history, &h, err, sizeof(err)) != 0) {
		fprintf(stderr, "berth-jepsen: check: %s: %s\n", o.history, err);
		return EXIT_DATA;
	}
	json_t *r = run_checker(&o, &h, err, sizeof(err));
	hist_free(&h);
	if (r == NULL) {
		fprintf(stderr, "berth-jepsen: check: %s: %s\n", o.history, err);
		return EXIT_DATA;
	}
	enum check_verdict v = check_verdict_of(r);
	printf("%s %s: %s\n",
	       v == CHECK_VALID     ? "valid"
	       : v == CHECK_INVALID ? "INVALID"
				    : "unknown",
	       o.workload, json_string_value(json_object_get(r, "summary")));
	int rv = v == CHECK_VALID ? EXIT_VALID : v == CHECK_INVALID ? EXIT_INVALID : EXIT_UNKNOWN;
	if (o.results != NULL) {
		json_t *all =
			json_pack("{s:O,s:s,s:s,s:O}", "valid", json_object_get(r, "valid"),
				  "workload", o.workload, "history", o.history, o.workload, r);
		if (all == NULL || json_dump_file(all, o.results, JSON_INDENT(2)) != 0) {
			fprintf(stderr, "berth-jepsen: check: cannot write %s\n", o.results);
			rv = EXIT_IO;
		}
		json_decref(all);
	}
	json_decref(r);
	return rv;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "berth-jepsen: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
