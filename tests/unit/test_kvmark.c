/* tests/unit/test_kvmark.c: the unsynced marker's rule (store/kvmark.h): a database the
 * machine may have lost writes of is discarded, one the process alone left is kept; a
 * restored base opens with synced commits and no marker. Boot ids come from a file the
 * test writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/fsm.h"
#include "store/kv.h"
#include "store/kvmark.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mk {
	char *dir;
	char boot[4200], state[4200];
};

static void mk_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static bool mk_has(const struct mk *m, const char *name)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s", m->state, name);
	return access(path, F_OK) == 0;
}

static int mk_setup(void **state)
{
	struct mk *m = calloc(1, sizeof(*m));
	m->dir = support_tmpdir();
	snprintf(m->boot, sizeof(m->boot), "%s/boot_id", m->dir);
	snprintf(m->state, sizeof(m->state), "%s/state", m->dir);
	mk_write(m->boot, "boot-one\n");
	*state = m;
	return 0;
}

static int mk_teardown(void **state)
{
	struct mk *m = *state;
	support_rmrf(m->dir);
	free(m->dir);
	free(m);
	return 0;
}

/* Opens the state with the test's boot id. */
static void mk_open(struct mk *m, struct fsm *f)
{
	struct fsm_config cfg;
	tfsm_config(&cfg);
	cfg.sync = KV_SYNC_NONE;
	cfg.boot_id_path = m->boot;
	assert_int_equal(fsm_open(f, m->state, &cfg), 0);
}

/* Applies an undecodable entry (an error result; the applied index still advances). */
static void mk_put(struct fsm *f, uint64_t index)
{
	static const uint8_t junk[8] = {0xc1};
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(fsm_apply_one(f, index, junk, sizeof(junk), &out), 0);
	mp_buf_close(&out);
	assert_int_equal(fsm_applied(f), index);
}

/* A process that dies without closing: the marker stays, as the page cache would keep
 * the data. Simulated by a clean close followed by writing the marker back. */
static void mk_crash(struct mk *m, struct fsm *f, const char *boot)
{
	char path[4300];
	assert_int_equal(fsm_close(f), 0);
	snprintf(path, sizeof(path), "%s/%s", m->state, KVMARK_FILE);
	mk_write(path, boot);
}

static void test_kvmark_clean_close(void **state)
{
	struct mk *m = *state;
	struct fsm f;
	mk_open(m, &f);
	assert_true(mk_has(m, KVMARK_FILE));
	assert_false(f.kv.discarded);
	mk_put(&f, 1);
	assert_int_equal(fsm_close(&f), 0);
	assert_false(mk_has(m, KVMARK_FILE));
	mk_open(m, &f);
	assert_false(f.kv.discarded);
	assert_int_equal(fsm_applied(&f), 1);
	assert_int_equal(fsm_close(&f), 0);
}

static void test_kvmark_same_boot_kept(void **state)
{
	struct mk *m = *state;
	struct fsm f;
	mk_open(m, &f);
	mk_put(&f, 1);
	mk_crash(m, &f, "boot-one\n");
	mk_open(m, &f);
	assert_false(f.kv.discarded);
	assert_int_equal(fsm_applied(&f), 1);
	assert_int_equal(fsm_close(&f), 0);
}

static void test_kvmark_other_boot_discarded(void **state)
{
	struct mk *m = *state;
	/* Another boot, a torn marker, an empty one, one with junk after the id. */
	const char *markers[] = {"boot-two\n", "boot-o", "", "boot-one\nmore"};
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		struct fsm f;
		mk_open(m, &f);
		mk_put(&f, fsm_applied(&f) + 1);
		mk_crash(m, &f, markers[i]);
		mk_open(m, &f);
		assert_true(f.kv.discarded);
		assert_int_equal(fsm_applied(&f), 0); /* an empty database: raft replays */
		assert_int_equal(fsm_close(&f), 0);
	}
}

static void test_kvmark_no_boot_id(void **state)
{
	struct mk *m = *state;
	struct fsm f;
	/* Without a boot id to compare, a process crash cannot be told from a machine's. */
	mk_open(m, &f);
	mk_put(&f, 1);
	mk_crash(m, &f, "boot-one\n");
	assert_int_equal(unlink(m->boot), 0);
	mk_open(m, &f);
	assert_true(f.kv.discarded);
	assert_int_equal(fsm_applied(&f), 0);
	/* ...but a clean close still keeps it. */
	mk_put(&f, 1);
	assert_int_equal(fsm_close(&f), 0);
	mk_open(m, &f);
	assert_false(f.kv.discarded);
	assert_int_equal(fsm_applied(&f), 1);
	assert_int_equal(fsm_close(&f), 0);
}

static void test_kvmark_base(void **state)
{
	struct mk *m = *state;
	struct fsm f;
	char err[256];
	mk_open(m, &f);
	mk_put(&f, 1);
	assert_int_equal(fsm_close(&f), 0);
	assert_int_equal(kvmark_base_set(m->state, err, sizeof(err)), 0);
	assert_true(kvmark_base_present(m->state));
	/* A restored base: synced commits, no marker, nothing discarded whatever the boot. */
	mk_write(m->boot, "boot-three\n");
	mk_open(m, &f);
	assert_true(f.kv.base);
	assert_int_equal(f.kv.sync, KV_SYNC_NOMETA);
	assert_false(mk_has(m, KVMARK_FILE));
	assert_int_equal(fsm_applied(&f), 1);
	assert_int_equal(fsm_close(&f), 0);
	assert_int_equal(kvmark_base_clear(m->state, err, sizeof(err)), 0);
	assert_false(kvmark_base_present(m->state));
	mk_open(m, &f);
	assert_false(f.kv.base);
	assert_int_equal(f.kv.sync, KV_SYNC_NONE);
	assert_int_equal(fsm_close(&f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kvmark_clean_close, mk_setup, mk_teardown),
		cmocka_unit_test_setup_teardown(test_kvmark_same_boot_kept, mk_setup, mk_teardown),
		cmocka_unit_test_setup_teardown(test_kvmark_other_boot_discarded, mk_setup,
						mk_teardown),
		cmocka_unit_test_setup_teardown(test_kvmark_no_boot_id, mk_setup, mk_teardown),
		cmocka_unit_test_setup_teardown(test_kvmark_base, mk_setup, mk_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
