/* tests/unit/test_node_start.c: a member that can neither bootstrap nor join is refused
 * before it creates anything in its data directory (store/node.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "store/node.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static void test_node_refuses_without_bootstrap_or_join(void **state)
{
	char data[600], err[256];
	struct config cfg;
	struct stat st;
	uv_loop_t loop;
	(void)state;
	char *root = support_tmpdir();
	snprintf(data, sizeof(data), "%s/member", root);
	char *argv[] = {"berth-store",  "--id",        "1",           "--data",
			data,           "--peer-addr", "127.0.0.1:9", "--client-addr",
			"127.0.0.1:10", NULL};
	assert_int_equal(config_parse(&cfg, 9, argv, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(uv_loop_init(&loop), 0);
	struct node *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	assert_int_equal(node_start(n, &loop, &cfg), BERTH_EBADREQ);
	assert_int_not_equal(stat(data, &st), 0); /* nothing created */
	free(n);
	assert_int_equal(uv_loop_close(&loop), 0);
	support_rmrf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_refuses_without_bootstrap_or_join),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
