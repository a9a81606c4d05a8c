/* tests/unit/test_log.c: the logger: level filter, line format, truncation, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* stderr goes to a temporary file between capture_start and capture_stop. */
struct capture {
	FILE *file;
	int saved_fd;
	char text[64 * 1024];
	size_t len;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved_fd = dup(STDERR_FILENO);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restores stderr, then reads what was written (NUL-terminated) into c->text. */
static const char *capture_stop(struct capture *c)
{
	size_t n;

	assert_true(dup2(c->saved_fd, STDERR_FILENO) >= 0);
	close(c->saved_fd);
	rewind(c->file);
	n = fread(c->text, 1, sizeof(c->text) - 1, c->file);
	c->text[n] = '\0';
	c->len = n;
	fclose(c->file);
	return c->text;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_INFO);
	log_set_prefix("store 1");
	return 0;
}

static int calls;

static int counted(void)
{
	calls++;
	return 42;
}

static void test_log_level_filter(void **state)
{
	struct capture c;
	const char *out;

	(void)state;
	assert_int_equal(log_get_level(), LOG_INFO);
	calls = 0;
	capture_start(&c);
	log_debug("hidden %d", counted());
	out = capture_stop(&c);
	assert_int_equal(calls, 0);
	assert_string_equal(out, "");

	capture_start(&c);
	log_info("shown %d", counted());
	log_warn("warn %d", counted());
	log_error("error %d", counted());
	out = capture_stop(&c);
	assert_int_equal(calls, 3);
	assert_int_equal(count_lines(out), 3);
	assert_non_null(strstr(out, " INFO store 1: shown 42\n"));
	assert_non_null(strstr(out, " WARN store 1: warn 42\n"));
	assert_non_null(strstr(out, " ERROR store 1: error 42\n"));

	log_set_level(LOG_ERROR);
	calls = 0;
	capture_start(&c);
	log_info("no %d", counted());
	log_warn("no %d", counted());
	log_error("yes %d", counted());
	out = capture_stop(&c);
	assert_int_equal(calls, 1);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, " ERROR store 1: yes 42\n"));

	/* Debug lines name the source position. */
	log_set_level(LOG_DEBUG);
	calls = 0;
	capture_start(&c);
	log_debug("dbg %d", counted());
	out = capture_stop(&c);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(out, " DEBUG store 1: test_log.c:"));
	assert_non_null(strstr(out, ": dbg 42\n"));

	/* Out-of-range levels are clamped. */
	log_set_level((enum log_level)99);
	assert_int_equal(log_get_level(), LOG_DEBUG);
	log_set_level((enum log_level)(-5));
	assert_int_equal(log_get_level(), LOG_ERROR);
}

static void test_log_parse_level(void **state)
{
	enum log_level l = LOG_WARN;

	(void)state;
	assert_int_equal(log_parse_level("error", &l), 0);
	assert_int_equal(l, LOG_ERROR);
	assert_int_equal(log_parse_level("WARN", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_parse_level("Info", &l), 0);
	assert_int_equal(l, LOG_INFO);
	assert_int_equal(log_parse_level("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_parse_level("verbose", &l), BERTH_EBADREQ);
	assert_int_equal(log_parse_level("", &l), BERTH_EBADREQ);
	assert_int_equal(log_parse_level("info ", &l), BERTH_EBADREQ);
	assert_int_equal(log_parse_level(NULL, &l), BERTH_EBADREQ);
	assert_int_equal(l, LOG_DEBUG); /* untouched by failures */
}

static void test_log_init_from_env(void **state)
{
	struct capture c;
	const char *out;

	(void)state;
	setenv("BERTH_LOG_LEVEL", "debug", 1);
	log_init_from_env();
	assert_int_equal(log_get_level(), LOG_DEBUG);
	setenv("BERTH_LOG_LEVEL", "warn", 1);
	log_init_from_env();
	assert_int_equal(log_get_level(), LOG_WARN);

	setenv("BERTH_LOG_LEVEL", "loud", 1);
	capture_start(&c);
	log_init_from_env();
	out = capture_stop(&c);
	assert_int_equal(log_get_level(), LOG_WARN);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, " WARN store 1: ignoring BERTH_LOG_LEVEL=\"loud\""));

	unsetenv("BERTH_LOG_LEVEL");
	log_init_from_env();
	assert_int_equal(log_get_level(), LOG_WARN);
}

static void test_log_format(void **state)
{
	struct capture c;
	const char *out;
	regex_t re;
	regmatch_t m[2];
	struct tm tm;
	time_t before, after, logged;

	(void)state;
	assert_int_equal(regcomp(&re,
				 "^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
				 "\\.[0-9]{3}Z INFO store 1: hello world 7 x\n$",
				 REG_EXTENDED),
			 0);
	before = time(NULL);
	capture_start(&c);
	errno = EAGAIN;
	log_info("hello %s %d %c", "world", 7, 'x');
	assert_int_equal(errno, EAGAIN);
	out = capture_stop(&c);
	after = time(NULL);
	assert_int_equal(regexec(&re, out, 2, m, 0), 0);
	regfree(&re);

	/* The wall clock, in UTC. */
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(out, "%Y-%m-%dT%H:%M:%S", &tm));
	logged = timegm(&tm);
	assert_true(logged >= before - 1);
	assert_true(logged <= after + 1);

	/* No prefix: the level is followed by the message. */
	log_set_prefix(NULL);
	capture_start(&c);
	log_warn("bare");
	out = capture_stop(&c);
	assert_non_null(strstr(out, "Z WARN bare\n"));
	log_set_prefix("");
	capture_start(&c);
	log_warn("bare");
	out = capture_stop(&c);
	assert_non_null(strstr(out, "Z WARN bare\n"));

	/* A long prefix is cut at LOG_PREFIX_MAX bytes. */
	char prefix[200];

	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	log_set_prefix(prefix);
	capture_start(&c);
	log_warn("m");
	out = capture_stop(&c);
	prefix[LOG_PREFIX_MAX] = '\0';
	const char *at = strstr(out, prefix);

	assert_non_null(at);
	assert_string_equal(at + LOG_PREFIX_MAX, ": m\n");
}

static void test_log_truncates_long_message(void **state)
{
	struct capture c;
	const char *out, *msg;
	char *big = malloc(5001);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', 5000);
	big[5000] = '\0';
	capture_start(&c);
	log_info("%s", big);
	out = capture_stop(&c);
	assert_int_equal(count_lines(out), 1);
	msg = strstr(out, "store 1: ");
	assert_non_null(msg);
	msg += strlen("store 1: ");
	assert_int_equal(strlen(msg), LOG_MESSAGE_MAX + strlen("...\n"));
	assert_int_equal(strspn(msg, "a"), LOG_MESSAGE_MAX);
	assert_string_equal(msg + LOG_MESSAGE_MAX, "...\n");

	/* Exactly LOG_MESSAGE_MAX bytes is kept whole, with no marker. */
	big[LOG_MESSAGE_MAX] = '\0';
	capture_start(&c);
	log_info("%s", big);
	out = capture_stop(&c);
	msg = strstr(out, "store 1: ") + strlen("store 1: ");
	assert_int_equal(strlen(msg), LOG_MESSAGE_MAX + 1);
	assert_int_equal(msg[LOG_MESSAGE_MAX], '\n');

	/* A cut never splits a UTF-8 sequence: "é" (2 bytes) straddling the limit goes. */
	memset(big, 'a', 5000);
	big[LOG_MESSAGE_MAX - 1] = (char)0xC3;
	big[LOG_MESSAGE_MAX] = (char)0xA9;
	capture_start(&c);
	log_info("%s", big);
	out = capture_stop(&c);
	msg = strstr(out, "store 1: ") + strlen("store 1: ");
	assert_int_equal(strspn(msg, "a"), LOG_MESSAGE_MAX - 1);
	assert_string_equal(msg + LOG_MESSAGE_MAX - 1, "...\n");
	free(big);
}

static void test_log_replaces_newlines(void **state)
{
	struct capture c;
	const char *out;

	(void)state;
	capture_start(&c);
	log_error("a\nb\r\nc%s", "\nd\n");
	out = capture_stop(&c);
	assert_int_equal(count_lines(out), 1);
	assert_non_null(strstr(out, " ERROR store 1: a b  c d \n"));
}

#define THREADS 4
#define LINES_PER_THREAD 300

static void *writer(void *arg)
{
	long id = (long)(intptr_t)arg;
	char pad[400];

	memset(pad, 'a' + (char)id, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < LINES_PER_THREAD; i++)
		log_info("t%ld %s end", id, pad);
	return NULL;
}

/* Lines written at once from several threads come out whole. */
static void test_log_threads_do_not_interleave(void **state)
{
	struct capture c;
	pthread_t t[THREADS];
	static char text[THREADS * LINES_PER_THREAD * 512];
	FILE *f;
	size_t n;
	char *line, *save = NULL;
	int lines = 0;

	(void)state;
	capture_start(&c);
	f = c.file;
	for (long i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* capture_stop reads at most 64 KiB; read the whole file here instead. */
	assert_true(dup2(c.saved_fd, STDERR_FILENO) >= 0);
	close(c.saved_fd);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *msg = strstr(line, "store 1: t");
		char expect[400];
		long id;

		assert_non_null(msg);
		id = msg[strlen("store 1: t")] - '0';
		assert_true(id >= 0 && id < THREADS);
		memset(expect, 'a' + (char)id, sizeof(expect) - 1);
		expect[sizeof(expect) - 1] = '\0';
		assert_non_null(strstr(msg, expect));
		assert_int_equal(strlen(msg), strlen("store 1: t0 ") + 399 + strlen(" end"));
		lines++;
	}
	assert_int_equal(lines, THREADS * LINES_PER_THREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_log_level_filter, setup),
		cmocka_unit_test_setup(test_log_parse_level, setup),
		cmocka_unit_test_setup(test_log_init_from_env, setup),
		cmocka_unit_test_setup(test_log_format, setup),
		cmocka_unit_test_setup(test_log_truncates_long_message, setup),
		cmocka_unit_test_setup(test_log_replaces_newlines, setup),
		cmocka_unit_test_setup(test_log_threads_do_not_interleave, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
