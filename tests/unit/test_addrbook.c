/* tests/unit/test_addrbook.c: member address records: record, replace, forget, limits,
 * and that they survive a reopen and travel in snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/addrbook.h"
#include "tests/unit/snap_stream.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <string.h>

static struct msg_cmd member_cmd(uint64_t id, const char *peer, const char *client)
{
	struct msg_cmd c = {.type = MSG_CMD_MEMBER, .member = id};
	if (peer != NULL) {
		c.peer = B(peer);
		c.client = B(client);
	}
	return c;
}

/* Applies and returns the reply's error (0 = recorded). */
static int apply_member(struct tfsm *t, uint64_t id, const char *peer, const char *client)
{
	struct msg_cmd c = member_cmd(id, peer, client);
	struct reply r;
	assert_int_equal(tfsm_apply(t, &c, &r), 0);
	int err = r.err;
	reply_free(&r);
	return err;
}

static unsigned load(struct tfsm *t, struct addrbook_entry *e)
{
	unsigned n = 99;
	assert_int_equal(addrbook_load(&t->f, e, &n), 0);
	return n;
}

static void test_addrbook_record_replace_forget(void **state)
{
	struct addrbook_entry e[ADDRBOOK_MAX];
	struct tfsm t;
	(void)state;
	tfsm_open(&t, NULL);
	assert_int_equal(load(&t, e), 0);
	uint64_t rev = fsm_revision(&t.f);
	assert_int_equal(apply_member(&t, 7, "10.0.0.7:7001", "10.0.0.7:7101"), 0);
	assert_int_equal(apply_member(&t, 2, "10.0.0.2:7001", "10.0.0.2:7101"), 0);
	assert_int_equal(load(&t, e), 2);
	assert_int_equal(e[0].id, 2); /* id order */
	assert_string_equal(e[0].peer, "10.0.0.2:7001");
	assert_string_equal(e[0].client, "10.0.0.2:7101");
	assert_int_equal(e[1].id, 7);
	/* The same id again replaces its addresses. */
	assert_int_equal(apply_member(&t, 7, "h7:1", "h7:2"), 0);
	assert_int_equal(load(&t, e), 2);
	assert_string_equal(e[1].peer, "h7:1");
	assert_string_equal(e[1].client, "h7:2");
	/* Forgetting: the record goes; an unknown id is no error. */
	assert_int_equal(apply_member(&t, 2, NULL, NULL), 0);
	assert_int_equal(apply_member(&t, 99, NULL, NULL), 0);
	assert_int_equal(load(&t, e), 1);
	assert_int_equal(e[0].id, 7);
	/* Addresses are not keys: the revision never moves, the applied index does. */
	assert_int_equal(fsm_revision(&t.f), rev);
	assert_int_equal(fsm_applied(&t.f), t.index);
	/* The counters in the meta table are untouched by the records beside them. */
	t_put(&t, "k", "v");
	assert_int_equal(fsm_revision(&t.f), rev + 1);
	assert_string_equal(t_get(&t, "k"), "v");
	tfsm_close(&t);
}

static void test_addrbook_limit(void **state)
{
	struct addrbook_entry e[ADDRBOOK_MAX];
	struct tfsm t;
	char addr[32];
	(void)state;
	tfsm_open(&t, NULL);
	for (uint64_t id = 1; id <= ADDRBOOK_MAX; id++) {
		snprintf(addr, sizeof(addr), "h%llu:1", (unsigned long long)id);
		assert_int_equal(apply_member(&t, id, addr, addr), 0);
	}
	assert_int_equal(apply_member(&t, 1000, "h:1", "h:2"), BERTH_ETOOLARGE);
	/* Replacing an existing record is still allowed at the limit. */
	assert_int_equal(apply_member(&t, ADDRBOOK_MAX, "new:1", "new:2"), 0);
	assert_int_equal(load(&t, e), ADDRBOOK_MAX);
	assert_string_equal(e[ADDRBOOK_MAX - 1].peer, "new:1");
	/* One forgotten makes room again. */
	assert_int_equal(apply_member(&t, 1, NULL, NULL), 0);
	assert_int_equal(apply_member(&t, 1000, "h:1", "h:2"), 0);
	assert_int_equal(load(&t, e), ADDRBOOK_MAX);
	tfsm_close(&t);
}

/* A command with one empty address is refused, whoever built it. */
static void test_addrbook_bad_command(void **state)
{
	struct addrbook_entry e[ADDRBOOK_MAX];
	struct tfsm t;
	struct reply r;
	(void)state;
	tfsm_open(&t, NULL);
	/* The encoder writes both addresses, the decoder refuses the empty one: the entry
	 * answers BERTH_EBADREQ deterministically and records nothing. */
	struct msg_cmd c = member_cmd(3, "h:1", "h:2");
	c.client.n = 0;
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, BERTH_EBADREQ);
	reply_free(&r);
	assert_int_equal(fsm_applied(&t.f), t.index);
	assert_int_equal(load(&t, e), 0);
	tfsm_close(&t);
}

static void test_addrbook_reopen_and_snapshot(void **state)
{
	struct addrbook_entry e[ADDRBOOK_MAX];
	struct tfsm a, b;
	struct sbuf sa = {0}, sb = {0};
	(void)state;
	tfsm_open(&a, NULL);
	t_put(&a, "x", "1");
	assert_int_equal(apply_member(&a, 4, "10.0.0.4:7001", "10.0.0.4:7101"), 0);
	assert_int_equal(apply_member(&a, 5, "10.0.0.5:7001", "10.0.0.5:7101"), 0);
	assert_int_equal(tfsm_reopen(&a, NULL), 0);
	assert_int_equal(load(&a, e), 2);
	assert_string_equal(e[1].client, "10.0.0.5:7101");
	/* A snapshot carries the records; a restore replaces whatever was there. */
	snap_stream_of(&a.f, &sa);
	tfsm_open(&b, NULL);
	assert_int_equal(apply_member(&b, 9, "old:1", "old:2"), 0);
	assert_int_equal(fsm_restore_buf(&b.f, sa.p, sa.n), 0);
	assert_int_equal(load(&b, e), 2);
	assert_int_equal(e[0].id, 4);
	assert_string_equal(e[0].peer, "10.0.0.4:7001");
	assert_string_equal(e[1].client, "10.0.0.5:7101");
	assert_string_equal(t_get(&b, "x"), "1");
	snap_stream_of(&b.f, &sb);
	snap_stream_eq(&sa, &sb);
	snap_stream_free(&sa);
	snap_stream_free(&sb);
	tfsm_close(&a);
	tfsm_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrbook_record_replace_forget),
		cmocka_unit_test(test_addrbook_limit),
		cmocka_unit_test(test_addrbook_bad_command),
		cmocka_unit_test(test_addrbook_reopen_and_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
