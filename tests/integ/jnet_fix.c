/* tests/integ/jnet_fix.c: the harness tests' fixture: network, members, nemesis, checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/jnet_fix.h"

#include "client/net.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct jfix *current;

/* Removes what the test made: members, network, folder. */
void jfix_close(struct jfix *f)
{
	if (f->nodes_up)
		nodes_close(&f->nodes, 5000);
	f->nodes_up = false;
	netns_destroy(&f->net);
	if (f->dir[0] != '\0') {
		char path[512];
		for (unsigned i = 1; i <= NETNS_MAX_NODES; i++) {
			snprintf(path, sizeof path, "%s/n%u.log", f->dir, i);
			unlink(path);
			snprintf(path, sizeof path, "%s/n%u", f->dir, i);
			rmdir(path); /* the leaked run's mount point */
		}
		rmdir(f->dir);
		f->dir[0] = '\0';
	}
}

/* run-unit's SIGTERM (a test too slow) or a Ctrl-C: remove everything, then die. */
static void jfix_signal(int sig)
{
	if (current != NULL)
		jfix_close(current);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_event(void *ctx, const char *f, json_t *value)
{
	struct jfix *x = ctx;
	json_array_append_new(x->events, json_pack("{s:s, s:O}", "f", f, "value", value));
}

void jfix_id(char *id, char tag)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned v = (unsigned)getpid();
	size_t n = 0;
	id[n++] = tag;
	char tmp[8];
	size_t k = 0;
	do {
		tmp[k++] = digits[v % 36];
		v /= 36;
	} while (v > 0 && k < 5);
	while (k > 0)
		id[n++] = tmp[--k];
	id[n] = '\0';
}

int jfix_setup(void **state)
{
	struct jfix *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	f->net.lock_fd = -1;
	f->events = json_array();
	*state = current = f;
	signal(SIGTERM, jfix_signal);
	signal(SIGINT, jfix_signal);
	return 0;
}

/* The last lines of every log of the run, for a test that failed. */
static void jfix_dump_logs(const struct jfix *f)
{
	for (unsigned i = 0; f->nodes_up && i < f->nodes.n; i++) {
		FILE *lf = fopen(f->nodes.node[i].log, "r");
		if (lf == NULL)
			continue;
		char lines[20][256];
		unsigned n = 0;
		while (fgets(lines[n % 20], sizeof lines[0], lf) != NULL)
			n++;
		fclose(lf);
		printf("--- %s\n", f->nodes.node[i].log);
		for (unsigned k = n > 20 ? n - 20 : 0; k < n; k++)
			printf("%s", lines[k % 20]);
	}
}

int jfix_teardown(void **state)
{
	struct jfix *f = *state;
	current = NULL;
	if (!f->passed)
		jfix_dump_logs(f);
	jfix_close(f);
	json_decref(f->events);
	free(f);
	return 0;
}

/* Makes the net (n nodes, members of them) and starts the members with faketime. */
void jfix_start(struct jfix *f, unsigned n, unsigned members, unsigned tmpfs_mib)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof f->dir, "%s/berth-jnet-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	jfix_id(f->id, 't');
	int rc = netns_create(&f->net, f->id, n);
	if (rc != 0)
		fail_msg("cannot make the test network (this test needs root, iproute2 and "
			 "iptables): %s",
			 f->net.errmsg);
	const char *bin = getenv("BERTH_STORE_BIN");
	const char *extra[] = {"--election-ms", "300", "--heartbeat-ms", "50", NULL};
	struct nodes_options o = {.bin = bin != NULL ? bin : "build/berth-store",
				  .dir = f->dir,
				  .net = &f->net,
				  .members = members,
				  .extra = extra,
				  .token = JNET_TOKEN,
				  .faketime = true,
				  .tmpfs_mib = tmpfs_mib};
	rc = nodes_init(&f->nodes, &o);
	if (rc != 0)
		fail_msg("nodes_init: %s", f->nodes.errmsg);
	f->nodes_up = true;
	rc = nodes_start_members(&f->nodes);
	if (rc != 0)
		fail_msg("nodes_start_members: %s", f->nodes.errmsg);
	struct nemesis_options no = {.nodes = &f->nodes,
				     .seed = 42,
				     .event = on_event,
				     .ctx = f,
				     .loss_p = 0.1,
				     .clock_jump_ms = 2LL * 86400 * 1000,
				     .leader_wait_ms = JNET_WAIT_MS};
	assert_int_equal(nemesis_init(&f->nm, &no), 0);
}

void jfix_note_pids(struct jfix *f)
{
	for (unsigned i = 0; i < f->nodes.n && f->npids < 32; i++)
		if (f->nodes.node[i].pid != 0 &&
		    (f->npids == 0 || f->pids[f->npids - 1] != f->nodes.node[i].pid))
			f->pids[f->npids++] = f->nodes.node[i].pid;
}

unsigned jfix_leader(struct jfix *f)
{
	unsigned l;
	if (nodes_leader(&f->nodes, JNET_WAIT_MS, &l, NULL) != 0)
		fail_msg("%s", f->nodes.errmsg);
	return l;
}

/* A put through a handle on the given endpoints (NULL: every node): its code. */
int jfix_put(struct jfix *f, const char **eps, size_t n, uint32_t timeout_ms, const char *key,
	     const char *value)
{
	struct berth_options o = {.endpoints = eps != NULL ? eps : f->nodes.eps,
				  .nendpoints = eps != NULL ? n : f->nodes.n,
				  .token = JNET_TOKEN,
				  .timeout_ms = timeout_ms};
	struct berth *b = NULL;
	assert_int_equal(berth_open(&b, &o, NULL, 0), 0);
	struct berth_result res = {0};
	int rc = berth_put(b, key, strlen(key), value, strlen(value), 0, &res);
	berth_result_free(&res);
	berth_close(b);
	return rc;
}

/* Polls a serializable get on node i until key holds value. */
void jfix_wait_value(struct jfix *f, unsigned i, const char *key, const char *value)
{
	const char *ep[] = {f->nodes.node[i].client};
	struct berth_options o = {
		.endpoints = ep, .nendpoints = 1, .token = JNET_TOKEN, .timeout_ms = 1000};
	struct berth *b = NULL;
	assert_int_equal(berth_open(&b, &o, NULL, 0), 0);
	uint64_t deadline = net_now_ms() + JNET_WAIT_MS;
	bool seen = false;
	while (!seen && net_now_ms() < deadline) {
		struct berth_result res = {0};
		if (berth_get(b, key, strlen(key), 0, true, &res) == 0) {
			const struct reply_kv *kv = berth_result_kv(&res);
			seen = kv != NULL && kv->value.n == strlen(value) &&
			       memcmp(kv->value.p, value, kv->value.n) == 0;
		}
		berth_result_free(&res);
		if (!seen)
			net_sleep_ms(50);
	}
	berth_close(b);
	if (!seen)
		fail_msg("n%u never showed %s = %s", i + 1, key, value);
}

/* The last event's f and value. */
json_t *jfix_last_event(struct jfix *f, const char *want_f)
{
	size_t n = json_array_size(f->events);
	assert_true(n > 0);
	json_t *e = json_array_get(f->events, n - 1);
	assert_string_equal(json_string_value(json_object_get(e, "f")), want_f);
	return json_object_get(e, "value");
}

unsigned jfix_rules(struct jfix *f, unsigned i)
{
	unsigned c = 99;
	assert_int_equal(netns_rule_count(&f->net, i, &c), 0);
	return c;
}

unsigned jfix_node(json_t *name)
{
	const char *s = json_string_value(name);
	assert_non_null(s);
	assert_true(s[0] == 'n' && atoi(s + 1) >= 1);
	return (unsigned)atoi(s + 1) - 1;
}
