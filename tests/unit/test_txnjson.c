/* tests/unit/test_txnjson.c: berthctl's JSON transaction spec, base64 and UTF-8 checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/b64.h"
#include "client/txnjson.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static void t_bytes(struct bytes b, const char *want, size_t n)
{
	assert_int_equal(b.n, n);
	if (n > 0)
		assert_memory_equal(b.p, want, n);
}

static void test_txnjson_full_spec(void **state)
{
	static const char spec[] =
		"{\"compare\": ["
		" {\"key\": \"a\", \"target\": \"value\", \"op\": \"=\", \"value\": \"x\"},"
		" {\"key\": \"n\", \"target\": \"int\", \"op\": \">=\", \"value\": -3},"
		" {\"key_b64\": \"AGI=\", \"target\": \"version\", \"op\": \"!=\", \"value\": 0},"
		" {\"key\": \"c\", \"target\": \"create\", \"op\": \"<\", \"value\": 5},"
		" {\"key\": \"m\", \"target\": \"mod\", \"op\": \"<=\", \"value\": 6},"
		" {\"key\": \"v\", \"target\": \"value\", \"op\": \">\", \"value_b64\": \"/w==\"},"
		" {\"key\": \"w\", \"target\": \"mod\", \"op\": \"==\", \"value\": 1}],"
		" \"success\": ["
		" {\"op\": \"put\", \"key\": \"a\", \"value\": \"y\", \"lease\": 7},"
		" {\"op\": \"get\", \"key\": \"a\", \"rev\": 4},"
		" {\"op\": \"range\", \"key\": \"p/\", \"prefix\": true, \"limit\": 10,"
		"  \"keys_only\": true},"
		" {\"op\": \"range\", \"key\": \"a\", \"end\": \"b\", \"count_only\": true},"
		" {\"op\": \"delete\", \"key\": \"d/\", \"prefix\": true},"
		" {\"op\": \"add\", \"key\": \"n\", \"delta\": -2}],"
		" \"failure\": [{\"op\": \"get\", \"key\": \"a\"}],"
		" \"serializable\": true}";
	struct txnjson t;
	char err[256];
	(void)state;
	assert_int_equal(txnjson_parse(spec, strlen(spec), &t, err, sizeof(err)), 0);
	assert_true(t.serializable);
	assert_int_equal(t.txn.ncmp, 7);
	assert_int_equal(t.txn.nsucc, 6);
	assert_int_equal(t.txn.nfail, 1);
	const struct msg_compare *c = t.txn.cmp;
	assert_int_equal(c[0].target, MSG_CMP_VALUE);
	assert_int_equal(c[0].op, MSG_EQ);
	t_bytes(c[0].key, "a", 1);
	t_bytes(c[0].value, "x", 1);
	assert_int_equal(c[1].target, MSG_CMP_INT);
	assert_int_equal(c[1].op, MSG_GE);
	assert_int_equal(c[1].num, -3);
	t_bytes(c[2].key, "\0b", 2);
	assert_int_equal(c[2].target, MSG_CMP_VERSION);
	assert_int_equal(c[2].op, MSG_NE);
	assert_int_equal(c[3].target, MSG_CMP_CREATE);
	assert_int_equal(c[3].op, MSG_LT);
	assert_int_equal(c[3].num, 5);
	assert_int_equal(c[4].target, MSG_CMP_MOD);
	assert_int_equal(c[4].op, MSG_LE);
	assert_int_equal(c[5].op, MSG_GT);
	t_bytes(c[5].value, "\xff", 1);
	assert_int_equal(c[6].op, MSG_EQ);
	const struct msg_op *s = t.txn.succ;
	assert_int_equal(s[0].type, MSG_OP_PUT);
	t_bytes(s[0].value, "y", 1);
	assert_int_equal(s[0].lease, 7);
	assert_int_equal(s[1].type, MSG_OP_RANGE);
	assert_int_equal(s[1].flags, 0);
	assert_int_equal(s[1].rev, 4);
	assert_int_equal(s[2].flags, MSG_F_PREFIX | MSG_F_KEYS_ONLY);
	assert_int_equal(s[2].limit, 10);
	assert_int_equal(s[3].flags, MSG_F_COUNT_ONLY);
	t_bytes(s[3].end, "b", 1);
	assert_int_equal(s[4].type, MSG_OP_DEL);
	assert_int_equal(s[4].flags, MSG_F_PREFIX);
	assert_int_equal(s[5].type, MSG_OP_ADD);
	assert_int_equal(s[5].delta, -2);
	assert_int_equal(t.txn.fail[0].type, MSG_OP_RANGE);
	assert_true(msg_txn_writes(&t.txn));
	txnjson_free(&t);
	txnjson_free(&t);

	/* The empty object is an empty transaction. */
	assert_int_equal(txnjson_parse("{}", 2, &t, err, sizeof(err)), 0);
	assert_int_equal(t.txn.ncmp + t.txn.nsucc + t.txn.nfail, 0);
	assert_false(t.serializable);
	txnjson_free(&t);
}

static void test_txnjson_errors(void **state)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{"", "line 1"},
		{"{\"success\": [", "line 1"},
		{"[]", "must be a JSON object"},
		{"{\"sucess\": []}", "unknown field \"sucess\""},
		{"{\"success\": {}}", "\"success\" must be an array"},
		{"{\"success\": [1]}", "success[0]: an operation must be an object"},
		{"{\"success\": [{\"key\": \"a\"}]}", "success[0]: missing \"op\""},
		{"{\"success\": [{\"op\": \"frob\", \"key\": \"a\"}]}", "unknown op \"frob\""},
		{"{\"success\": [{\"op\": \"put\", \"key\": \"a\", \"vaule\": \"x\"}]}",
		 "success[0]: unknown field \"vaule\""},
		{"{\"success\": [{\"op\": \"put\", \"key\": \"a\"}]}", "missing \"value\""},
		{"{\"success\": [{\"op\": \"put\", \"value\": \"a\"}]}", "missing \"key\""},
		{"{\"success\": [{\"op\": \"get\", \"key\": \"a\", \"key_b64\": \"YQ==\"}]}",
		 "not both"},
		{"{\"success\": [{\"op\": \"get\", \"key_b64\": \"YQ=\"}]}", "not valid base64"},
		{"{\"success\": [{\"op\": \"get\", \"key\": 5}]}", "must be a string"},
		{"{\"success\": [{\"op\": \"get\", \"key\": \"a\", \"rev\": -1}]}", "non-negative"},
		{"{\"success\": [{\"op\": \"range\", \"key\": \"a\", \"end\": \"b\", \"prefix\": true}]}",
		 "\"end\" or \"prefix\""},
		{"{\"success\": [{\"op\": \"range\", \"key\": \"a\", \"prefix\": 1}]}",
		 "true or false"},
		{"{\"failure\": [{\"op\": \"get\", \"key\": \"a\"}, {\"op\": \"add\", \"key\": \"n\"}]}",
		 "failure[1]: missing \"delta\""},
		{"{\"failure\": [{\"op\": \"add\", \"key\": \"n\", \"delta\": 1.5}]}", "integer"},
		{"{\"compare\": [{\"key\": \"a\", \"op\": \"=\", \"value\": 1}]}",
		 "missing \"target\""},
		{"{\"compare\": [{\"key\": \"a\", \"target\": \"size\", \"op\": \"=\"}]}",
		 "unknown target \"size\""},
		{"{\"compare\": [{\"key\": \"a\", \"target\": \"mod\", \"op\": \"=<\", \"value\": 1}]}",
		 "unknown op \"=<\""},
		{"{\"compare\": [{\"key\": \"a\", \"target\": \"mod\", \"op\": \"=\", \"value\": \"1\"}]}",
		 "must be an integer for target mod"},
		{"{\"compare\": [{\"key\": \"a\", \"target\": \"value\", \"op\": \"=\"}]}",
		 "compare[0]: missing \"value\""},
		{"{\"compare\": [{\"key\": \"a\", \"target\": \"int\", \"op\": \"=\", \"value_b64\": \"\"}]}",
		 "for target value"},
		{"{\"serializable\": \"yes\"}", "\"serializable\" must be true or false"},
		{"{\"success\": [], \"success\": []}", "duplicate"},
	};
	char err[256];
	struct txnjson t;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		int rv = txnjson_parse(cases[i].spec, strlen(cases[i].spec), &t, err, sizeof(err));
		if (rv != BERTH_EBADREQ || strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu (%s): rv %d, message \"%s\", want \"%s\"", i,
				 cases[i].spec, rv, err, cases[i].msg);
		assert_null(t.root); /* nothing left to free */
	}
}

static void test_txnjson_b64(void **state)
{
	static const char *const enc[] = {"", "AA==", "AAE=", "AAEC", "AAECAw=="};
	static const uint8_t raw[] = {0, 1, 2, 3};
	char out[16];
	uint8_t dec[16];
	size_t n;
	(void)state;
	for (size_t len = 0; len <= 4; len++) {
		assert_int_equal(b64_encoded_len(len), strlen(enc[len]));
		b64_encode(raw, len, out);
		assert_string_equal(out, enc[len]);
		assert_int_equal(b64_decode(enc[len], strlen(enc[len]), dec, &n), 0);
		assert_int_equal(n, len);
		if (len > 0)
			assert_memory_equal(dec, raw, len);
	}
	b64_encode((const uint8_t *)"\xfb\xff", 2, out);
	assert_string_equal(out, "+/8=");
	static const char *const bad[] = {"A", "AA=", "A===", "AA=A", "AA==AAAA", "AA A", "AA-_"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b64_decode(bad[i], strlen(bad[i]), dec, &n), BERTH_EBADREQ);
}

static void test_txnjson_utf8_and_bytes(void **state)
{
	(void)state;
	assert_true(txnjson_utf8((const uint8_t *)"", 0));
	assert_true(txnjson_utf8((const uint8_t *)"plain", 5));
	assert_true(txnjson_utf8((const uint8_t *)"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12));
	assert_false(txnjson_utf8((const uint8_t *)"a\0b", 3));             /* NUL */
	assert_false(txnjson_utf8((const uint8_t *)"\xc3", 1));             /* truncated */
	assert_false(txnjson_utf8((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
	assert_false(txnjson_utf8((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
	assert_false(txnjson_utf8((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(txnjson_utf8((const uint8_t *)"\xff", 1));

	json_t *o = json_object();
	assert_int_equal(txnjson_set_bytes(o, "key", (const uint8_t *)"ab", 2), 0);
	assert_int_equal(txnjson_set_bytes(o, "value", (const uint8_t *)"\xff\x00", 2), 0);
	assert_string_equal(json_string_value(json_object_get(o, "key")), "ab");
	assert_string_equal(json_string_value(json_object_get(o, "key_b64")), "YWI=");
	assert_null(json_object_get(o, "value"));
	assert_string_equal(json_string_value(json_object_get(o, "value_b64")), "/wA=");
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txnjson_full_spec),
		cmocka_unit_test(test_txnjson_errors),
		cmocka_unit_test(test_txnjson_b64),
		cmocka_unit_test(test_txnjson_utf8_and_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
