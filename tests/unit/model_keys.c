/* tests/unit/model_keys.c: the key universe of the model-based test: the keys, bounds and
 * prefixes, built once and sorted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/kv.h"
#include "tests/unit/model_keys.h"

#include <stdlib.h>
#include <string.h>

#define MODEL_KEY_CAP 640 /* longest universe key or bound */

struct ukey {
	uint8_t b[MODEL_KEY_CAP];
	size_t n;
};

/* A key is `run` bytes of 'm' followed by `tail`: runs of 447 and 448 put keys on both
 * sides of the 448-byte inline limit (KV_INLINE), and the longer ones share buckets. */
struct uspec {
	size_t run;
	const char *tail;
	size_t n;
};
#define US(run, lit)                                                                               \
	{                                                                                          \
		run, lit, sizeof(lit) - 1                                                          \
	}

static const struct uspec key_specs[] = {
	US(0, "a"),     US(0, "ab"),     US(0, "abc"),        US(0, "a\xff"),    US(0, "ac"),
	US(0, "b"),     US(0, "b\0"),    US(0, "b\0\0"),      US(0, "b\0a"),     US(0, "b\x01"),
	US(0, "ba"),    US(0, "b\xff"),  US(0, "b\xff\xff"),  US(0, "b\xff\0"),  US(0, "c"),
	US(0, "m"),     US(0, "x/"),     US(0, "x/1"),        US(0, "x/1/a"),    US(0, "x/10"),
	US(0, "x/2"),   US(0, "z"),      US(0, "zz"),         US(0, "\0"),       US(0, "\0\0"),
	US(0, "\x01"),  US(0, "\xff"),   US(0, "\xff\0"),     US(0, "\xff\xff"), US(447, ""),
	US(447, "l"),   US(447, "m"),    US(447, "n"),        US(447, "lx"),     US(447, "na"),
	US(447, "nb"),  US(448, "\0"),   US(448, "\0\0"),     US(448, "\0a"),    US(448, "a"),
	US(448, "a\0"), US(448, "ab"),   US(448, "b"),        US(448, "c"),      US(448, "m"),
	US(448, "m\0"), US(448, "\xff"), US(448, "\xff\xff"), US(598, "z"),
};

/* Range bounds that are never keys (ranges also use the keys themselves). */
static const struct uspec bound_specs[] = {
	US(0, "a\0"),   US(0, "aa"),      US(0, "b\0\x01"), US(0, "bz"),     US(0, "m\0"),
	US(0, "x/1\0"), US(0, "x0"),      US(0, "y"),       US(0, "\0\x01"), US(0, "\xfe"),
	US(100, ""),    US(448, "a\xff"), US(448, "b\0"),   US(447, "o"),    US(448, "\0\x01"),
	US(446, "n"),   US(448, "m\xff"),
};

static const struct uspec prefix_specs[] = {
	US(0, ""),         US(0, "a"),   US(0, "ab"),  US(0, "b"),   US(0, "b\0"),
	US(0, "b\xff"),    US(0, "x/"),  US(0, "x/1"), US(0, "\0"),  US(0, "\xff"),
	US(0, "\xff\xff"), US(0, "m"),   US(0, "zz"),  US(0, "q"),   US(447, ""),
	US(448, ""),       US(448, "a"), US(447, "n"), US(447, "l"), US(448, "\xff"),
};

#define NSPEC(a) (sizeof(a) / sizeof(a[0]))

static struct ukey ukeys[MODEL_MAX_KEYS]; /* sorted: index order is key order */
static size_t nukeys;
static struct ukey ubounds[NSPEC(bound_specs)];
static struct ukey uprefixes[NSPEC(prefix_specs)];
static size_t ushort_idx[MODEL_MAX_KEYS], ulong_idx[MODEL_MAX_KEYS], nshort, nlong;

static struct bytes ub(const struct ukey *k)
{
	return (struct bytes){k->b, k->n};
}

int model_keys_cmp(struct bytes a, struct bytes b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c != 0)
		return c < 0 ? -1 : 1;
	return a.n < b.n ? -1 : a.n > b.n;
}

bool model_keys_eq(struct bytes a, struct bytes b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void ukey_make(struct ukey *k, const struct uspec *s)
{
	assert_true(s->run + s->n <= MODEL_KEY_CAP);
	memset(k->b, 'm', s->run);
	memcpy(k->b + s->run, s->tail, s->n);
	k->n = s->run + s->n;
}

static int ukey_qsort_cmp(const void *a, const void *b)
{
	return model_keys_cmp(ub(a), ub(b));
}

void model_keys_init(void)
{
	if (nukeys > 0)
		return;
	assert_true(NSPEC(key_specs) <= MODEL_MAX_KEYS);
	for (size_t i = 0; i < NSPEC(key_specs); i++)
		ukey_make(&ukeys[nukeys++], &key_specs[i]);
	qsort(ukeys, nukeys, sizeof(ukeys[0]), ukey_qsort_cmp);
	for (size_t i = 0; i < nukeys; i++) {
		assert_true(i == 0 || model_keys_cmp(ub(&ukeys[i - 1]), ub(&ukeys[i])) < 0);
		if (ukeys[i].n > KV_INLINE)
			ulong_idx[nlong++] = i;
		else
			ushort_idx[nshort++] = i;
	}
	for (size_t i = 0; i < NSPEC(bound_specs); i++)
		ukey_make(&ubounds[i], &bound_specs[i]);
	for (size_t i = 0; i < NSPEC(prefix_specs); i++)
		ukey_make(&uprefixes[i], &prefix_specs[i]);
}

int model_keys_find(struct bytes k)
{
	size_t lo = 0, hi = nukeys;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = model_keys_cmp(ub(&ukeys[mid]), k);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

size_t model_keys_count(void)
{
	return nukeys;
}

struct bytes model_keys_get(size_t i)
{
	return ub(&ukeys[i]);
}

struct bytes model_keys_pick(enum model_keys_set s, struct rng *r)
{
	switch (s) {
	case MODEL_KEYS_SHORT:
		return ub(&ukeys[ushort_idx[rng_below(r, nshort)]]);
	case MODEL_KEYS_LONG:
		return ub(&ukeys[ulong_idx[rng_below(r, nlong)]]);
	case MODEL_KEYS_BOUND:
		return ub(&ubounds[rng_below(r, NSPEC(bound_specs))]);
	default:
		return ub(&uprefixes[rng_below(r, NSPEC(prefix_specs))]);
	}
}
