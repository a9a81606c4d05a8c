/* store/main.c: the berth-store program: a member of a cluster (store/node.h),
 * `berth-store dump DIR`, an offline look at a data directory, or `berth-store restore
 * FILE OPTIONS`, a new member's data directory from a backup (store/restore.h). */
#include "common/err.h"
#include "common/log.h"
#include "store/config.h"
#include "store/node.h"
#include "store/fsm.h"
#include "store/restore.h"
#include "store/version.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Prints bytes as text, escaping anything not printable; at most max bytes. */
static void main_print_bytes(struct bytes b, size_t max)
{
	size_t n = b.n < max ? b.n : max;
	for (size_t i = 0; i < n; i++) {
		int c = b.p[i];
		if (isprint(c) && c != '\\' && c != '"')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	if (n < b.n)
		printf("...(%zu bytes)", b.n);
}

struct main_dump {
	bool values;
	uint64_t n;
};

static int main_dump_key(void *ctx, const struct kv_rec *r)
{
	struct main_dump *d = ctx;
	printf("key \"");
	main_print_bytes(r->key, 200);
	printf("\" create=%lld mod=%lld version=%lld lease=%llu", (long long)r->create_rev,
	       (long long)r->mod_rev, (long long)r->version, (unsigned long long)r->lease);
	if (d->values) {
		printf(" value=\"");
		main_print_bytes(r->value, 200);
		putchar('"');
	}
	putchar('\n');
	d->n++;
	return 0;
}

static int main_dump(const char *dir, bool values)
{
	struct fsm f;
	struct fsm_config cfg;
	MDB_txn *txn;
	MDB_stat st;
	struct main_dump d = {values, 0};

	/* An inspection must not create anything: refuse a directory without a database. */
	char path[4096];
	struct stat st_data;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &st_data) != 0) {
		fprintf(stderr,
			"berth-store dump: %s is not a berth data directory (no data.mdb)\n", dir);
		return 1;
	}
	fsm_config_default(&cfg);
	int rv = fsm_open(&f, dir, &cfg);
	if (rv != 0) {
		fprintf(stderr, "berth-store dump: %s\n", f.errmsg);
		return 1;
	}
	printf("applied %llu\nrevision %llu\ncompacted %llu\nclock_ms %llu\nleases %llu\n"
	       "sessions %llu\n",
	       (unsigned long long)f.m.applied, (unsigned long long)f.m.rev,
	       (unsigned long long)f.m.compacted, (unsigned long long)f.m.clock_ms,
	       (unsigned long long)f.m.nleases, (unsigned long long)f.m.nsessions);
	if (mdb_txn_begin(f.kv.env, NULL, MDB_RDONLY, &txn) == 0) {
		if (mdb_stat(txn, f.kv.hist, &st) == 0)
			printf("history_entries %zu\n", st.ms_entries);
		if (mdb_stat(txn, f.kv.revs, &st) == 0)
			printf("changes_retained %zu\n", st.ms_entries);
		rv = kv_scan(&f.kv, txn, (struct bytes){NULL, 0}, (struct bytes){NULL, 0},
			     main_dump_key, &d);
		mdb_txn_abort(txn);
	}
	printf("keys %llu\n", (unsigned long long)d.n);
	if (rv != 0)
		fprintf(stderr, "berth-store dump: %s: %s\n", err_name(rv), f.kv.errmsg);
	fsm_close(&f);
	return rv ? 1 : 0;
}

/* berth-store restore FILE OPTIONS: exit 0, 1 (refused or failed: nothing created) or 2
 * (a bad command line). */
static int main_restore(int argc, char **argv)
{
	struct config cfg;
	struct restore_info info;
	char err[1024];
	if (argc < 3 || argv[2][0] == '-') {
		fprintf(stderr,
			"usage: berth-store restore FILE --id N --data DIR --peer-addr "
			"HOST:PORT --client-addr HOST:PORT --bootstrap ID=PEER/CLIENT,...\n");
		return 2;
	}
	/* FILE stands where the parser expects the program's name. */
	switch (config_parse(&cfg, argc - 2, argv + 2, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "berth-store restore: %s\n", err);
		return 2;
	default:
		break;
	}
	int rv = restore_run(&cfg, argv[2], &info, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "berth-store restore: %s (%s); nothing was created\n", err,
			err_name(rv));
		return rv == BERTH_EBADREQ && cfg.nmembers == 0 ? 2 : 1;
	}
	printf("restored %s into %s: revision %llu (applied index %llu where it was saved), "
	       "%llu records, %llu bytes, crc32 %08lx; member %llu of %u, a new raft log\n",
	       argv[2], cfg.data, (unsigned long long)info.rev, (unsigned long long)info.applied,
	       (unsigned long long)info.records, (unsigned long long)info.bytes,
	       (unsigned long)info.crc, (unsigned long long)cfg.id, cfg.nmembers);
	return 0;
}

static int main_run(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	enum log_level level;
	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "berth-store: %s\n(berth-store --help lists the options)\n", err);
		return 2;
	default:
		break;
	}
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "store %llu", (unsigned long long)cfg.id);
	log_parse_level(cfg.log_level, &level);
	log_set_level(level);
	log_set_prefix(prefix);
	signal(SIGPIPE, SIG_IGN);

	uv_loop_t loop;
	struct node *n = malloc(sizeof(*n));
	if (n == NULL || uv_loop_init(&loop) != 0) {
		fprintf(stderr, "berth-store: out of memory\n");
		free(n);
		return 1;
	}
	int rv = node_start(n, &loop, &cfg);
	uv_run(&loop, UV_RUN_DEFAULT);
	int code = rv != 0 ? 1 : n->exit_code;
	if (uv_loop_close(&loop) != 0)
		log_warn("loop closed with handles still open");
	free(n);
	return code;
}

int main(int argc, char **argv)
{
#ifdef BERTH_JEPSEN_BROKEN_READS
	fprintf(stderr, "berth-store: BROKEN BUILD for the harness's proof of teeth: linearizable "
			"reads are answered from any member's own state (docs/jepsen.md)\n");
#endif
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		int v = version_raft_built();
		printf("berth-store %s (libraft %d.%d.%d)\n", BERTH_VERSION, v / 10000,
		       v / 100 % 100, v % 100);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "dump")) {
		bool values = false;
		if (argc < 3) {
			fprintf(stderr, "usage: berth-store dump DIR [--values]\n");
			return 2;
		}
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--values")) {
				values = true;
			} else {
				fprintf(stderr, "berth-store dump: unknown option '%s'\n", argv[i]);
				return 2;
			}
		}
		return main_dump(argv[2], values);
	}
	if (argc >= 2 && !strcmp(argv[1], "restore"))
		return main_restore(argc, argv);
	return main_run(argc, argv);
}
