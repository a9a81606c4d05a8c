/* tests/unit/test_restore.c: berth-store restore (store/restore.h): a backup file becomes
 * a new member's data directory (the state, applied index 0, no sessions, a bootstrapped
 * raft log), and every bad file or bad directory is refused with nothing created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "store/addrbook.h"
#include "store/restore.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/snap_stream.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* A folder for the test: the backup file and the data directories. */
struct rt {
	char *root;
	char file[600];
	char data[600];
	struct sbuf stream; /* the backup's bytes */
	struct fsm_meta m;  /* the state it holds */
};

static void rt_write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* A backup of a state with keys (one of them past the inline limit), history, a lease
 * with a key attached, a compaction and an open session. */
static void rt_setup(struct rt *r)
{
	struct tfsm t;
	char big[3000], key[600];
	memset(r, 0, sizeof(*r));
	r->root = support_tmpdir();
	snprintf(r->file, sizeof(r->file), "%s/backup.snap", r->root);
	snprintf(r->data, sizeof(r->data), "%s/data", r->root);
	tfsm_open(&t, NULL);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	snap_check_put1(&t, "a", "1");
	snap_check_put1(&t, "b", big);
	snap_check_put1(&t, key, "long");
	snap_check_put1(&t, "a", "2");
	snap_check_cmd_ok(&t, (struct msg_cmd){.type = MSG_CMD_LEASE_GRANT, .lease = 7, .ttl = 30});
	struct msg_op put = op_put("leased", "x");
	put.lease = 7;
	snap_check_txn_ok(&t, NULL, 0, &put, 1, NULL, 0);
	assert_int_equal(snap_check_compact(&t, 2), 0);
	snap_check_cmd_ok(&t, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = 60000});
	assert_int_equal(t.f.m.nsessions, 1);
	/* The old cluster's address book: a restore must forget it. */
	snap_check_cmd_ok(&t, (struct msg_cmd){.type = MSG_CMD_MEMBER,
					       .member = 3,
					       .peer = {(const uint8_t *)"10.9.9.9:7001", 13},
					       .client = {(const uint8_t *)"10.9.9.9:7101", 13}});
	struct addrbook_entry book[ADDRBOOK_MAX];
	unsigned nbook = 0;
	assert_int_equal(addrbook_load(&t.f, book, &nbook), 0);
	assert_int_equal(nbook, 1);
	r->m = t.f.m;
	snap_stream_of(&t.f, &r->stream);
	tfsm_close(&t);
	rt_write_file(r->file, r->stream.p, r->stream.n);
}

static void rt_teardown(struct rt *r)
{
	snap_stream_free(&r->stream);
	support_rmrf(r->root);
	free(r->root);
}

/* The member options of member 1 of a two-member cluster on data; bootstrap or not. */
static void rt_config(struct config *c, const char *data, bool bootstrap)
{
	char dcopy[600];
	char err[256];
	snprintf(dcopy, sizeof(dcopy), "%s", data);
	char *argv[] = {"restore-test",
			"--id",
			"1",
			"--data",
			dcopy,
			"--peer-addr",
			"127.0.0.1:9",
			"--client-addr",
			"127.0.0.1:10",
			"--bootstrap",
			"1=127.0.0.1:9/127.0.0.1:10,2=127.0.0.1:11/127.0.0.1:12",
			NULL};
	int argc = bootstrap ? 11 : 9;
	assert_int_equal(config_parse(c, argc, argv, err, sizeof(err)), CONFIG_OK);
}

static bool rt_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int rt_restore(struct rt *r, const char *file, struct restore_info *info)
{
	struct config c;
	char err[512] = "";
	rt_config(&c, r->data, true);
	int rv = restore_run(&c, file, info, err, sizeof(err));
	assert_true(rv == 0 || err[0] != 0); /* a refusal always says why */
	return rv;
}

static void test_restore_roundtrip(void **state)
{
	struct rt r;
	struct restore_info info;
	struct fsm_config fc;
	struct fsm f;
	char path[700];
	(void)state;
	rt_setup(&r);
	assert_int_equal(rt_restore(&r, r.file, &info), 0);
	assert_int_equal(info.bytes, r.stream.n);
	assert_int_equal(info.crc,
			 (uint32_t)crc32(crc32(0, Z_NULL, 0), r.stream.p, (uInt)r.stream.n));
	assert_int_equal(info.rev, r.m.rev);
	assert_int_equal(info.applied, r.m.applied);
	assert_true(info.records > 10);
	/* A fresh raft log holding the configuration at index 1. */
	snprintf(path, sizeof(path), "%s/raft/0000000000000001-0000000000000001", r.data);
	assert_true(rt_exists(path));
	/* The state: everything but the applied index and the sessions. */
	snprintf(path, sizeof(path), "%s/state", r.data);
	tfsm_config(&fc);
	assert_int_equal(fsm_open(&f, path, &fc), 0);
	assert_int_equal(fsm_applied(&f), 0);
	assert_int_equal(fsm_revision(&f), r.m.rev);
	assert_int_equal(fsm_compacted(&f), r.m.compacted);
	assert_int_equal(f.m.nleases, r.m.nleases);
	assert_int_equal(f.m.next_lease, r.m.next_lease);
	assert_int_equal(f.m.clock_ms, r.m.clock_ms);
	assert_int_equal(f.m.nsessions, 0);
	struct addrbook_entry book[ADDRBOOK_MAX];
	unsigned nbook = 1;
	assert_int_equal(addrbook_load(&f, book, &nbook), 0);
	assert_int_equal(nbook, 0);
	int64_t ttl = 0;
	assert_int_equal(fsm_lease_get(&f, 7, &ttl), 0);
	assert_int_equal(ttl, 30);
	/* The first entries of the new log apply (index 2: 1 is the configuration). */
	struct tfsm t = {.f = f, .dir = NULL, .index = 1};
	mp_buf_init(&t.out);
	assert_int_equal(snap_check_put1(&t, "after", "restore"), r.m.rev + 1);
	assert_int_equal(fsm_applied(&t.f), 2);
	assert_string_equal(t_get(&t, "a"), "2");
	assert_int_equal(strlen(t_get(&t, "b")), 2999);
	assert_string_equal(t_get(&t, "leased"), "x");
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.sess), 0);
	assert_int_equal(snap_check_table_entries(&t, t.f.kv.sessdl), 0);
	mp_buf_close(&t.out);
	free(t.last);
	fsm_close(&t.f);
	rt_teardown(&r);
}

/* Refused with BERTH_ECORRUPT, and the data directory as it was: absent, or (made empty
 * beforehand) still there and empty. */
static void rt_refused(struct rt *r, const uint8_t *p, size_t n, bool dir_first)
{
	struct restore_info info;
	char bad[700];
	snprintf(bad, sizeof(bad), "%s/bad.snap", r->root);
	rt_write_file(bad, p, n);
	if (dir_first)
		assert_int_equal(mkdir(r->data, 0700), 0);
	assert_int_equal(rt_restore(r, bad, &info), BERTH_ECORRUPT);
	if (dir_first) {
		assert_int_equal(rmdir(r->data), 0); /* fails unless empty */
	}
	assert_false(rt_exists(r->data));
	unlink(bad);
}

static void test_restore_refuses_truncated_and_corrupt(void **state)
{
	struct rt r;
	(void)state;
	rt_setup(&r);
	size_t n = r.stream.n;
	uint8_t *copy = malloc(n + 1);
	assert_non_null(copy);
	/* Truncated: nothing, a few bytes, inside the header, records and trailer. */
	static const size_t cuts[] = {0, 1, 8, 11, 12, 13, 100, 1000};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		rt_refused(&r, r.stream.p, cuts[i], i % 2 == 0);
	for (size_t k = 1; k <= 16; k++)
		rt_refused(&r, r.stream.p, n - (n * k) / 17, false);
	for (size_t cut = n - 13; cut < n; cut++)
		rt_refused(&r, r.stream.p, cut, cut % 2 == 0);
	/* A flipped byte anywhere: the magic, the version, a record, the count, the CRC. */
	static const size_t at[] = {0, 7, 11, 12, 20, 500, 2000};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]) + 3; i++) {
		size_t pos = i < sizeof(at) / sizeof(at[0]) ? at[i] : n - 1 - (i - 7) * 4;
		memcpy(copy, r.stream.p, n);
		copy[pos] ^= 0x20;
		rt_refused(&r, copy, n, i % 2 == 1);
	}
	/* One byte too many. */
	memcpy(copy, r.stream.p, n);
	copy[n] = 0;
	rt_refused(&r, copy, n + 1, false);
	free(copy);
	rt_teardown(&r);
}

/* Streams with a correct CRC that are still wrong: another magic or version, a count that
 * does not match, a meta value of the wrong size, keys out of order (only the load into
 * LMDB can see that: what it created is removed again). */
static void test_restore_refuses_crafted(void **state)
{
	struct rt r;
	struct sbuf s;
	size_t nrec;
	(void)state;
	rt_setup(&r);
	struct srec *rec = snap_stream_parse(&r.stream, &nrec);
	snap_stream_build("BERTHSNQ", 1, rec, nrec, nrec, &s);
	rt_refused(&r, s.p, s.n, false);
	snap_stream_free(&s);
	snap_stream_build("BERTHSNP", 2, rec, nrec, nrec, &s);
	rt_refused(&r, s.p, s.n, true);
	snap_stream_free(&s);
	snap_stream_build("BERTHSNP", 1, rec, nrec, nrec + 1, &s);
	rt_refused(&r, s.p, s.n, false);
	snap_stream_free(&s);
	/* The first meta record with a 7-byte value. */
	assert_int_equal(rec[0].table, 1);
	size_t vn = rec[0].vn;
	rec[0].vn = 7;
	snap_stream_build("BERTHSNP", 1, rec, nrec, nrec, &s);
	rt_refused(&r, s.p, s.n, false);
	snap_stream_free(&s);
	rec[0].vn = vn;
	/* Two keys of the keys table swapped. */
	size_t k = 0;
	while (k + 1 < nrec && !(rec[k].table == 2 && rec[k + 1].table == 2))
		k++;
	assert_true(k + 1 < nrec);
	struct srec tmp = rec[k];
	rec[k] = rec[k + 1];
	rec[k + 1] = tmp;
	snap_stream_build("BERTHSNP", 1, rec, nrec, nrec, &s);
	rt_refused(&r, s.p, s.n, true);
	rt_refused(&r, s.p, s.n, false);
	snap_stream_free(&s);
	free(rec);
	rt_teardown(&r);
}

static void test_restore_refuses_directories_and_options(void **state)
{
	struct rt r;
	struct restore_info info;
	struct config c;
	char err[512], path[700];
	(void)state;
	rt_setup(&r);
	/* A data directory in use: refused, its file untouched. */
	assert_int_equal(mkdir(r.data, 0700), 0);
	snprintf(path, sizeof(path), "%s/keep", r.data);
	rt_write_file(path, (const uint8_t *)"x", 1);
	assert_int_equal(rt_restore(&r, r.file, &info), BERTH_EBADREQ);
	assert_true(rt_exists(path));
	snprintf(path, sizeof(path), "%s/state", r.data);
	assert_false(rt_exists(path));
	support_rmrf(r.data);
	/* A file where the directory should be. */
	rt_write_file(r.data, (const uint8_t *)"x", 1);
	assert_int_equal(rt_restore(&r, r.file, &info), BERTH_EBADREQ);
	unlink(r.data);
	/* No --bootstrap: no members for the new cluster. */
	rt_config(&c, r.data, false);
	assert_int_equal(restore_run(&c, r.file, &info, err, sizeof(err)), BERTH_EBADREQ);
	assert_non_null(strstr(err, "--bootstrap"));
	/* A missing file. */
	snprintf(path, sizeof(path), "%s/missing.snap", r.root);
	assert_int_equal(rt_restore(&r, path, &info), BERTH_EIO);
	assert_false(rt_exists(r.data));
	/* And the good file still restores. */
	assert_int_equal(rt_restore(&r, r.file, &info), 0);
	rt_teardown(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_roundtrip),
		cmocka_unit_test(test_restore_refuses_truncated_and_corrupt),
		cmocka_unit_test(test_restore_refuses_crafted),
		cmocka_unit_test(test_restore_refuses_directories_and_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
