/* tests/integ/test_cluster_backup.c: backups on real processes: a snapshot saved from the
 * leader while writes go on, restored into three new members that hold exactly the state
 * at the saved revision; a save served by a follower; a client that goes away or stops
 * reading mid-transfer leaves the member serving, and the transfer limit answers
 * BERTH_EBUSY until its slot is free again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"
#include "tests/integ/rawconn.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define BK_KEYS 96
#define BK_VALUE_BYTES (64 * 1024) /* 6 MiB of values: a stream of about 12 MiB */
#define BK_LIVE_MAX 5000
#define BK_TIMEOUT_MS 10000
#define SNAPSEND_FIRST_FRAME (1u << 20) /* read by bk_raw_start */

/* Key i's value: its own bytes, so a value in the wrong key shows. */
static void bk_value(unsigned i, char *v)
{
	for (size_t j = 0; j < BK_VALUE_BYTES; j++)
		v[j] = (char)('A' + (i * 31 + j * 7) % 26);
	v[BK_VALUE_BYTES] = 0;
}

/* Writes every bk/ key (check false), or reads each back and asserts its value. */
static void bk_keys(struct berth *b, bool check)
{
	char key[32], *v = malloc(BK_VALUE_BYTES + 1);
	assert_non_null(v);
	for (unsigned i = 0; i < BK_KEYS; i++) {
		snprintf(key, sizeof(key), "bk/%03u", i);
		bk_value(i, v);
		if (check)
			integ_expect(b, key, v, false);
		else
			integ_put(b, key, v);
	}
	free(v);
}

static bool bk_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Writes live/N, one after the other, until told to stop; records each acknowledged
 * write's revision (0: not acknowledged). */
struct bk_writer {
	struct cluster *c;
	atomic_bool stop;
	atomic_uint done; /* writes attempted */
	uint64_t rev[BK_LIVE_MAX];
};

static void *bk_writer_run(void *arg)
{
	struct bk_writer *w = arg;
	struct berth *b = cluster_client(w->c, 0, 2000);
	char key[32];
	if (b == NULL)
		return NULL;
	uint64_t deadline = cluster_now_ms() + 60000;
	for (unsigned i = 0;
	     i < BK_LIVE_MAX && !atomic_load(&w->stop) && cluster_now_ms() < deadline; i++) {
		struct berth_result r = {0};
		snprintf(key, sizeof(key), "live/%05u", i);
		if (berth_put(b, key, strlen(key), key, strlen(key), 0, &r) == 0)
			w->rev[i] = r.resp.reply.rev;
		berth_result_free(&r);
		atomic_store(&w->done, i + 1);
	}
	berth_close(b);
	return NULL;
}

static void bk_wait_writes(struct bk_writer *w, unsigned n)
{
	uint64_t deadline = cluster_now_ms() + 20000;
	while (atomic_load(&w->done) < n && cluster_now_ms() < deadline)
		poll(NULL, 0, 5);
	assert_true(atomic_load(&w->done) >= n);
}

static void test_cluster_backup_restore(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	static struct bk_writer w; /* large: not on the stack */
	struct berth_snapshot snap;
	pthread_t th;
	char file[600];
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	snprintf(file, sizeof(file), "%s/backup.snap", c->root);
	struct berth *b = cluster_client(c, leader, BK_TIMEOUT_MS);
	assert_non_null(b);
	bk_keys(b, false);

	/* The save while writes go on. */
	memset(&w, 0, sizeof(w));
	w.c = c;
	assert_int_equal(pthread_create(&th, NULL, bk_writer_run, &w), 0);
	bk_wait_writes(&w, 20);
	unsigned before = atomic_load(&w.done);
	int rv = berth_snapshot_save(b, file, &snap);
	if (rv != 0)
		printf("snapshot save: %s: %s\n", err_name(rv), berth_errmsg(b));
	assert_int_equal(rv, 0);
	unsigned after = atomic_load(&w.done);
	bk_wait_writes(&w, after + 20);
	atomic_store(&w.stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);
	integ_put(b, "after/save", "1");
	unsigned nlive = atomic_load(&w.done);
	printf("saved %llu bytes at revision %llu from member %llu; %u writes ran alongside\n",
	       (unsigned long long)snap.size, (unsigned long long)snap.rev,
	       (unsigned long long)snap.member, after - before);

	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal((uint64_t)st.st_size, snap.size);
	assert_true(snap.size > 3 * (1u << 20)); /* several 1 MiB chunks */
	assert_true(snap.member >= 1 && snap.member <= 3);
	char part[700];
	snprintf(part, sizeof(part), "%s.part", file);
	assert_false(bk_exists(part));
	/* Every write acknowledged before the save began is in it, none after it ended. */
	for (unsigned i = 0; i < before; i++)
		assert_true(w.rev[i] == 0 || w.rev[i] <= snap.rev);
	for (unsigned i = after; i < nlive; i++)
		assert_true(w.rev[i] == 0 || w.rev[i] > snap.rev);

	/* A new cluster: every member restored from the file into a new directory. */
	integ_finish(f);
	f->passed = false;
	for (unsigned i = 0; i < 3; i++) {
		const char *const words[] = {"restore", file, NULL};
		int status;
		snprintf(c->m[i].dir, sizeof(c->m[i].dir), "%s/r%u", c->root, i + 1);
		assert_int_equal(cluster_run_tool(c, i, words, 30000, &status), 0);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* The restored state is in no raft log yet: each member marks it (store/kvmark.h). */
	for (unsigned i = 0; i < 3; i++) {
		char base[CLUSTER_PATH_BYTES + 32];
		snprintf(base, sizeof(base), "%s/state/base", c->m[i].dir);
		assert_true(bk_exists(base));
	}
	/* Small snapshots, so that the members take one in this test. */
	const char *const snapopts[] = {"--snapshot-threshold", "16", "--snapshot-trailing", "16"};
	for (unsigned i = 0; i < 4; i++)
		snprintf(c->extra[c->nextra++], sizeof(c->extra[0]), "%s", snapopts[i]);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_restart(c, i), 0);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	for (unsigned i = 0; i < 3; i++) {
		struct cluster_status cs;
		assert_int_equal(cluster_status(c, i, &cs), 0);
		assert_int_equal(cs.rev, snap.rev);
	}
	berth_close(b);
	b = cluster_client(c, leader, BK_TIMEOUT_MS);
	assert_non_null(b);
	bk_keys(b, true);
	for (unsigned i = 0; i < nlive; i++) {
		char key[32];
		if (w.rev[i] == 0)
			continue; /* unknown outcome: either way is right */
		snprintf(key, sizeof(key), "live/%05u", i);
		integ_expect(b, key, w.rev[i] <= snap.rev ? key : NULL, false);
	}
	integ_expect(b, "after/save", NULL, false);
	/* The new cluster takes writes at the next revision, on every member. */
	assert_int_equal(integ_put(b, "new/1", "x"), snap.rev + 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cluster_wait_value(c, i, "new/1", "x", 10000), 0);

	/* Writes until every member's raft snapshot holds the state: the mark goes. */
	uint64_t deadline = cluster_now_ms() + 20000;
	unsigned marked = 3, n = 0;
	while (marked > 0 && cluster_now_ms() < deadline && n < 2000) {
		char key[32];
		snprintf(key, sizeof(key), "new/more/%04u", n++);
		integ_put(b, key, "y");
		marked = 0;
		for (unsigned i = 0; i < 3; i++) {
			char base[CLUSTER_PATH_BYTES + 32];
			snprintf(base, sizeof(base), "%s/state/base", c->m[i].dir);
			marked += bk_exists(base);
		}
	}
	assert_int_equal(marked, 0);
	/* Now a member whose machine "restarted" rebuilds the restored state from raft. */
	unsigned v = (leader + 1) % 3;
	assert_int_equal(cluster_crash_machine(c, v), 0);
	assert_int_equal(cluster_restart(c, v), 0);
	berth_close(b);
	b = cluster_client_only(c, v, BK_TIMEOUT_MS);
	assert_non_null(b);
	assert_int_equal(cluster_wait_value(c, v, "new/1", "x", 10000), 0);
	char *bv = malloc(BK_VALUE_BYTES + 1), bkey[32];
	assert_non_null(bv);
	for (unsigned i = 0; i < BK_KEYS; i++) { /* serializable: on the rebuilt member */
		snprintf(bkey, sizeof(bkey), "bk/%03u", i);
		bk_value(i, bv);
		integ_expect(b, bkey, bv, true);
	}
	free(bv);
	berth_close(b);
	integ_finish(f);
}

static void test_cluster_backup_follower(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct berth_snapshot snap;
	char file[600], part[700];
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	struct berth *b = cluster_client(c, leader, BK_TIMEOUT_MS);
	assert_non_null(b);
	uint64_t rev = integ_put(b, "f/1", "one");
	unsigned fo = (leader + 1) % 3;
	assert_int_equal(cluster_wait_value(c, fo, "f/1", "one", 10000), 0);
	struct berth *bf = cluster_client_only(c, fo, BK_TIMEOUT_MS);
	assert_non_null(bf);
	snprintf(file, sizeof(file), "%s/follower.snap", c->root);
	assert_int_equal(berth_snapshot_save(bf, file, &snap), 0);
	assert_int_equal(snap.member, fo + 1);
	assert_true(snap.rev >= rev);
	assert_true(bk_exists(file));
	/* A file that cannot be written: an error, and nothing left behind. */
	snprintf(file, sizeof(file), "%s/no/such/dir/x.snap", c->root);
	assert_int_equal(berth_snapshot_save(bf, file, &snap), BERTH_EIO);
	snprintf(part, sizeof(part), "%s.part", file);
	assert_false(bk_exists(file) || bk_exists(part));
	berth_close(bf);
	berth_close(b);
	integ_finish(f);
}

/* Hello and a snapshot request on a raw connection; the first frame, a chunk. */
static int bk_raw_start(struct cluster *c, unsigned i)
{
	struct msg_req req = {.type = MSG_REQ_SNAPSHOT, .id = 7};
	struct rawconn_resp r;
	int fd = rawconn_open(c->m[i].client_port, 2000);
	assert_true(fd >= 0);
	/* A fixed receive buffer (no autotuning): what the kernels can hold of the stream
	 * stays well below its size, so a client that stops reading stalls the transfer. */
	int small = 256 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(rawconn_hello(fd, 1, NULL, 2000), 0);
	assert_int_equal(rawconn_send_req(fd, &req), 0);
	assert_int_equal(rawconn_recv(fd, 5000, &r), RAWCONN_OK);
	assert_int_equal(r.resp.id, 7);
	assert_true(r.resp.more);
	assert_int_equal(r.resp.off, 0);
	rawconn_resp_free(&r);
	return fd;
}

/* One member serving one transfer at a time, cut after idle_ms, with BK_KEYS of data; a
 * handle on it, file (600 bytes) a path in the cluster's folder, and in *fd a transfer
 * stalled by a raw client that read only its first chunk. */
static struct berth *bk_stalled(struct integ *f, const char *idle_ms, char *file, int *fd)
{
	const char *const extra[] = {"--max-snapshot-sends", "1", "--snapshot-idle-ms", idle_ms,
				     NULL};
	integ_start(f, 1, extra, NULL);
	struct berth *b = cluster_client(&f->c, 0, BK_TIMEOUT_MS);
	assert_non_null(b);
	bk_keys(b, false);
	snprintf(file, 600, "%s/one.snap", f->c.root);
	*fd = bk_raw_start(&f->c, 0);
	return b;
}

/* One member, one transfer at a time: a transfer stalled by a client that stops reading
 * makes the next save BERTH_EBUSY; a client that closes mid-transfer frees its slot at
 * once (the idle cut is 60 s here), and the member goes on serving. */
static void test_cluster_backup_disconnect(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct berth_snapshot snap;
	char file[600];
	int fd;
	struct berth *b = bk_stalled(f, "60000", file, &fd);
	struct berth *quick = cluster_client(c, 0, 600);
	assert_non_null(quick);
	assert_int_equal(berth_snapshot_save(quick, file, &snap), BERTH_EBUSY);
	assert_false(bk_exists(file));
	berth_close(quick);
	close(fd); /* gone mid-transfer */
	assert_int_equal(berth_snapshot_save(b, file, &snap), 0);
	assert_true(snap.size > 6 * (1u << 20));
	/* Gone right after the request, and after reading one chunk: the same. */
	for (int k = 0; k < 2; k++) {
		fd = k ? bk_raw_start(c, 0) : rawconn_open(c->m[0].client_port, 2000);
		if (k == 0) {
			struct msg_req req = {.type = MSG_REQ_SNAPSHOT, .id = 3};
			assert_int_equal(rawconn_hello(fd, 1, NULL, 2000), 0);
			assert_int_equal(rawconn_send_req(fd, &req), 0);
		}
		close(fd);
		assert_int_equal(berth_snapshot_save(b, file, &snap), 0);
	}
	integ_put(b, "still/serving", "yes");
	integ_expect(b, "still/serving", "yes", false);
	berth_close(b);
	integ_finish(f);
}

/* A client that stops reading is cut after --snapshot-idle-ms, which frees its slot. */
static void test_cluster_backup_idle_cut(void **state)
{
	struct integ *f = *state;
	struct berth_snapshot snap;
	char file[600];
	int fd;
	struct berth *b = bk_stalled(f, "500", file, &fd);
	/* Busy at first; the save waits and retries until the cut frees the slot. */
	assert_int_equal(berth_snapshot_save(b, file, &snap), 0);
	/* The stalled connection was closed: what the kernels still held, then the end,
	 * well before the whole stream. */
	static uint8_t sink[64 * 1024];
	struct timeval tv = {.tv_sec = 5};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	uint64_t got = 0, deadline = cluster_now_ms() + 20000;
	ssize_t r;
	while ((r = recv(fd, sink, sizeof(sink), 0)) > 0 && cluster_now_ms() < deadline)
		got += (uint64_t)r;
	assert_int_equal(r, 0);
	assert_true(got + SNAPSEND_FIRST_FRAME < snap.size);
	close(fd);
	integ_put(b, "still/serving", "yes");
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_backup_restore, integ_setup,
						integ_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_backup_follower, integ_setup,
						integ_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_backup_disconnect, integ_setup,
						integ_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_backup_idle_cut, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
