/* tests/unit/ctl_run.h: the berthctl program run as a child process by the tests: its
 * exit status, stdout and stderr captured, stdin given, killed after a deadline. Shared by
 * the unit tests against fake nodes and the integration tests on real clusters. */
#ifndef BERTH_TESTS_UNIT_CTL_RUN_H
#define BERTH_TESTS_UNIT_CTL_RUN_H

#define CTL_RUN_LIMIT_MS 10000    /* a run that takes longer is killed: it hung */
#define CTL_RUN_OUT_MAX (1 << 20) /* stdout and stderr kept, each */
#define CTL_RUN_ARGS_MAX 40

struct ctl_run {
	int status; /* the exit code */
	char out[CTL_RUN_OUT_MAX];
	char err[CTL_RUN_OUT_MAX];
};

/* A cmocka group setup: finds berthctl next to the test binary's folder
 * (build/tests/test_x or build/integ/test_x -> build/berthctl); asserts it is there. */
int ctl_run_setup(void **state);

/* Runs berthctl with args (NULL-terminated, without the program), stdin from in (NULL:
 * empty), BERTH_ENDPOINTS and BERTH_TOKEN cleared; asserts it exited by itself within
 * CTL_RUN_LIMIT_MS. */
void ctl_run(struct ctl_run *r, const char *in, const char *const *args);

/* ctl_run, then asserts the exit status and that stdout contains out_has and stderr
 * err_has (each NULL: anything), printing both on failure. The run is kept in a static
 * buffer until the next call. */
const struct ctl_run *ctl_expect(const char *in, const char *const *args, int status,
				 const char *out_has, const char *err_has);

#endif
