/* tests/unit/test_snapshot_read.c: the snapshot stream read piece by piece (store/fsm.h,
 * fsm_snapshot_open/read/close), as a backup transfer reads it: the same bytes as
 * fsm_snapshot_write whatever the piece sizes, the state of the moment it was opened
 * while batches commit, and a stream closed half way holds nothing back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "tests/unit/snap_check.h"
#include "tests/unit/snap_stream.h"
#include "tests/unit/support.h"

#include <stdlib.h>
#include <string.h>

/* Reads the whole stream of s in pieces of `piece` bytes into out. */
static void t_read_all(struct fsm_snapshot *s, size_t piece, struct sbuf *out)
{
	uint8_t *buf = malloc(piece);
	size_t n;
	assert_non_null(buf);
	memset(out, 0, sizeof(*out));
	for (unsigned guard = 0; guard < 10000000; guard++) {
		assert_int_equal(fsm_snapshot_read(s, buf, piece, &n), 0);
		if (n == 0)
			break;
		assert_int_equal(snap_stream_write(out, buf, n), 0);
	}
	/* Once ended, it stays ended. */
	assert_int_equal(fsm_snapshot_read(s, buf, piece, &n), 0);
	assert_int_equal(n, 0);
	free(buf);
}

static void t_fill(struct tfsm *t, const char *prefix, int n)
{
	char key[64], val[5000];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%04d", prefix, i);
		memset(val, 'a' + i % 26, sizeof(val) - 1);
		val[sizeof(val) - 1 - (size_t)(i % 100)] = 0;
		snap_check_put1(t, key, val);
	}
}

static void test_snapshot_read_pieces(void **state)
{
	static const size_t pieces[] = {1, 3, 4, 5, 9, 4096, 65536, 1 << 20};
	struct tfsm t;
	struct sbuf whole;
	(void)state;
	tfsm_open(&t, NULL);
	t_fill(&t, "p", 60);
	snap_check_cmd_ok(&t, (struct msg_cmd){.type = MSG_CMD_SESSION_OPEN, .ttl = 1000});
	snap_stream_of(&t.f, &whole);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct fsm_snapshot *s;
		struct fsm_meta at;
		struct sbuf got;
		assert_int_equal(fsm_snapshot_open(&t.f, &s, &at), 0);
		assert_int_equal(at.applied, fsm_applied(&t.f));
		assert_int_equal(at.rev, fsm_revision(&t.f));
		t_read_all(s, pieces[i], &got);
		fsm_snapshot_close(s);
		snap_stream_eq(&got, &whole);
		snap_stream_free(&got);
	}
	snap_stream_free(&whole);
	tfsm_close(&t);
}

/* Opened, then batches commit (puts, deletes, a compaction): the stream is still the
 * state at the opening, byte for byte; a stream opened afterwards has the new state. */
static void test_snapshot_read_consistent(void **state)
{
	struct tfsm t;
	struct sbuf before, got, after;
	struct fsm_snapshot *s, *s2;
	struct fsm_meta at;
	uint8_t buf[1000];
	size_t n;
	(void)state;
	tfsm_open(&t, NULL);
	t_fill(&t, "c", 40);
	snap_stream_of(&t.f, &before);
	uint64_t rev = fsm_revision(&t.f);
	assert_int_equal(fsm_snapshot_open(&t.f, &s, &at), 0);
	/* Half way through, then writes. */
	assert_int_equal(fsm_snapshot_read(s, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, sizeof(buf));
	t_fill(&t, "c", 40);
	t_fill(&t, "d", 10);
	snap_check_del1(&t, "c/", true);
	assert_int_equal(snap_check_compact(&t, rev + 5), 0);
	assert_true(fsm_revision(&t.f) > rev);
	/* A second stream at the same time sees the new state. */
	assert_int_equal(fsm_snapshot_open(&t.f, &s2, NULL), 0);
	t_read_all(s2, 4096, &after);
	fsm_snapshot_close(s2);
	t_read_all(s, 777, &got);
	fsm_snapshot_close(s);
	assert_int_equal(at.rev, rev);
	assert_true(got.n == before.n - sizeof(buf));
	assert_memory_equal(got.p, before.p + sizeof(buf), got.n);
	struct sbuf now;
	snap_stream_of(&t.f, &now);
	snap_stream_eq(&after, &now);
	snap_stream_free(&now);
	snap_stream_free(&before);
	snap_stream_free(&got);
	snap_stream_free(&after);
	tfsm_close(&t);
}

/* Streams closed half way, many times: nothing is held (LMDB has a bounded reader table,
 * 126 slots: a leaked reader per stream would fail here), and writes go on. */
static void test_snapshot_read_close_early(void **state)
{
	struct tfsm t;
	uint8_t buf[64];
	size_t n;
	(void)state;
	tfsm_open(&t, NULL);
	t_fill(&t, "e", 20);
	for (int i = 0; i < 300; i++) {
		struct fsm_snapshot *s;
		assert_int_equal(fsm_snapshot_open(&t.f, &s, NULL), 0);
		if (i % 2)
			assert_int_equal(fsm_snapshot_read(s, buf, sizeof(buf), &n), 0);
		fsm_snapshot_close(s);
	}
	fsm_snapshot_close(NULL);
	assert_true(snap_check_put1(&t, "after", "1") > 20);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_read_pieces),
		cmocka_unit_test(test_snapshot_read_consistent),
		cmocka_unit_test(test_snapshot_read_close_early),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
