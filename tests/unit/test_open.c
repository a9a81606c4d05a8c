/* tests/unit/test_open.c: fsm_open's refusals (store/fsm.c): a directory another open holds,
 * each bad configuration value, paths that are files or missing, a data file that is not
 * LMDB, another database format; none leaves a descriptor or a lock behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "store/fsm.h"
#include "store/kv.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- open errors ---- */

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static struct fsm_config test_config(void)
{
	struct fsm_config cfg;
	fsm_config_default(&cfg);
	cfg.sync = KV_SYNC_NONE;
	cfg.map_bytes = (size_t)64 << 20;
	return cfg;
}

static void test_snapshot_open_busy(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm f2;
	struct fsm_config cfg = test_config();
	int fds0 = open_fds();
	tfsm_open(&t, NULL);
	snap_check_put1(&t, "k", "1");
	int fds = open_fds();
	assert_int_equal(fsm_open(&f2, t.dir, &cfg), BERTH_EBUSY);
	assert_non_null(strstr(f2.errmsg, t.dir));
	assert_int_equal(open_fds(), fds);
	/* Again: the refused open left no lock behind. */
	assert_int_equal(fsm_open(&f2, t.dir, &cfg), BERTH_EBUSY);
	assert_int_equal(open_fds(), fds);
	/* The holder is undisturbed. */
	assert_int_equal(snap_check_put1(&t, "k", "2"), 2);
	assert_string_equal(t_get(&t, "k"), "2");

	/* Once it closes, the directory opens, with its data. */
	fsm_close(&t.f);
	assert_int_equal(fsm_open(&f2, t.dir, &cfg), 0);
	assert_int_equal(fsm_revision(&f2), 2);
	assert_int_equal(fsm_applied(&f2), 2);
	fsm_close(&f2);
	assert_int_equal(open_fds(), fds0); /* every descriptor of both opens is closed */
	tfsm_close(&t);                     /* closing a closed fsm is harmless */
}

static void test_snapshot_open_bad_config(void **state)
{
	(void)state;
	char *base = support_tmpdir(), path[4200];
	struct fsm f;
	struct stat st;
	const char *why;
	snprintf(path, sizeof(path), "%s/never", base);
	struct fsm_config good = test_config(), bad[8];
	for (size_t i = 0; i < 8; i++)
		bad[i] = good;
	bad[0].max_key_bytes = 0;
	bad[1].max_key_bytes = KV_KEY_HARD_MAX + 1;
	bad[2].max_value_bytes = ((size_t)64 << 20) + 1;
	bad[3].max_txn_ops = 0;
	bad[4].max_txn_ops = 65537;
	bad[5].max_result_bytes = 1023;
	bad[6].map_bytes = ((size_t)64 << 10) - 1;
	bad[7].sync = (enum kv_sync)(KV_SYNC_NONE + 1);
	static const char *names[] = {"max_key_bytes", "max_key_bytes", "max_value_bytes",
				      "max_txn_ops",   "max_txn_ops",   "max_result_bytes",
				      "map_bytes",     "sync"};
	int fds = open_fds();
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(fsm_config_validate(&bad[i], &why), BERTH_EBADREQ);
		assert_non_null(why);
		assert_non_null(strstr(why, names[i]));
		assert_int_equal(fsm_open(&f, path, &bad[i]), BERTH_EBADREQ);
		assert_non_null(strstr(f.errmsg, "fsm config: "));
		assert_non_null(strstr(f.errmsg, why));
		/* Refused before touching the disk. */
		assert_int_equal(stat(path, &st), -1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(open_fds(), fds);

	/* Each limit at its bound is accepted, and the smallest map opens. */
	good.max_key_bytes = KV_KEY_HARD_MAX;
	good.max_value_bytes = (size_t)64 << 20;
	good.max_txn_ops = 65536;
	good.max_result_bytes = 1024;
	good.map_bytes = (size_t)64 << 10;
	assert_int_equal(fsm_config_validate(&good, &why), 0);
	assert_null(why);
	int rv = fsm_open(&f, path, &good);
	if (rv != 0)
		print_error("fsm_open with a 64 KiB map: %s\n", f.errmsg);
	assert_int_equal(rv, 0);
	assert_int_equal(fsm_revision(&f), 0);
	fsm_close(&f);
	support_rmrf(base);
	free(base);
}

static void test_snapshot_open_bad_dir(void **state)
{
	(void)state;
	char *base = support_tmpdir(), file[4200], path[4300];
	struct fsm f;
	struct fsm_config cfg = test_config();
	snprintf(file, sizeof(file), "%s/file", base);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	int fds = open_fds();

	/* Under a regular file; the file itself; under a missing directory. */
	snprintf(path, sizeof(path), "%.4000s/db", file);
	assert_int_equal(fsm_open(&f, path, &cfg), BERTH_EIO);
	assert_non_null(strstr(f.errmsg, path));
	assert_int_equal(fsm_open(&f, file, &cfg), BERTH_EIO);
	assert_non_null(strstr(f.errmsg, file));
	snprintf(path, sizeof(path), "%s/missing/db", base);
	assert_int_equal(fsm_open(&f, path, &cfg), BERTH_EIO);
	assert_non_null(strstr(f.errmsg, path));
	assert_int_equal(open_fds(), fds);

	/* A data file that is not LMDB. */
	snprintf(path, sizeof(path), "%s/junk", base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(file, sizeof(file), "%.4000s/data.mdb", path);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	static char junk[16384];
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	int rv = fsm_open(&f, path, &cfg);
	assert_int_not_equal(rv, 0);
	assert_int_equal(rv, BERTH_ECORRUPT);
	assert_true(f.errmsg[0] != 0);
	assert_int_equal(open_fds(), fds);

	support_rmrf(base);
	free(base);
}

/* A database written in another format is refused with a message saying so. */
static void test_snapshot_open_other_format(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm_config cfg = test_config();
	MDB_txn *txn;
	tfsm_open(&t, NULL);
	snap_check_put1(&t, "k", "1");
	assert_int_equal(mdb_txn_begin(t.f.kv.env, NULL, 0, &txn), 0);
	assert_int_equal(kv_meta_put(&t.f.kv, txn, "format", 2), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	fsm_close(&t.f);
	int fds = open_fds();
	assert_int_equal(fsm_open(&t.f, t.dir, &cfg), BERTH_ECORRUPT);
	assert_string_equal(t.f.errmsg, "fsm: database format 2, this build reads 1");
	assert_int_equal(open_fds(), fds);
	/* The refused open released the directory. */
	struct tfsm other;
	tfsm_open(&other, NULL);
	assert_int_equal(fsm_open(&t.f, t.dir, &cfg), BERTH_ECORRUPT);
	tfsm_close(&other);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_open_busy),
		cmocka_unit_test(test_snapshot_open_bad_config),
		cmocka_unit_test(test_snapshot_open_bad_dir),
		cmocka_unit_test(test_snapshot_open_other_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
