/* jepsen/lin_cache.c: the hash set of configurations of the linearizability search
 * (jepsen/lin_cache.h). */
#include "jepsen/lin_cache.h"

#include <stdlib.h>
#include <string.h>

/* An entry: state, then per part its first stored word and how many, then the words. */
struct lin_entry {
	uint32_t state, skip[2], len[2];
	uint64_t w[];
};

struct lin_slot {
	uint64_t hash; /* 0: empty (hashes are never 0) */
	struct lin_entry *e;
};

struct lin_block {
	struct lin_block *next;
	size_t used, cap; /* in uint64_t words */
	uint64_t mem[];
};

enum { BLOCK_WORDS = 1 << 20 };

void lin_cache_free(struct lin_cache *c)
{
	while (c->blocks != NULL) {
		struct lin_block *b = c->blocks;
		c->blocks = b->next;
		free(b);
	}
	free(c->slots);
	*c = (struct lin_cache){0};
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_of(const struct lin_entry *k)
{
	uint64_t h = mix(((uint64_t)k->state << 32 | k->skip[0]) + 0x9e3779b97f4a7c15ull);
	h = mix(h ^ ((uint64_t)k->skip[1] << 32 | k->len[0]));
	for (size_t i = 0; i < k->len[0] + k->len[1]; i++)
		h = mix(h ^ (k->w[i] + i));
	return h ? h : 1;
}

static int grow(struct lin_cache *c)
{
	size_t n = c->nslots ? c->nslots * 2 : 1024;
	struct lin_slot *s = calloc(n, sizeof(*s));
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < c->nslots; i++) {
		if (c->slots[i].hash == 0)
			continue;
		size_t j = c->slots[i].hash & (n - 1);
		while (s[j].hash != 0)
			j = (j + 1) & (n - 1);
		s[j] = c->slots[i];
	}
	c->bytes += (n - c->nslots) * sizeof(*s);
	free(c->slots);
	c->slots = s;
	c->nslots = n;
	return 0;
}

static struct lin_entry *entry_alloc(struct lin_cache *c, size_t len)
{
	size_t need = (sizeof(struct lin_entry) + 7) / 8 + len;
	struct lin_block *b = c->blocks;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = need > BLOCK_WORDS ? need : BLOCK_WORDS;
		b = malloc(sizeof(*b) + cap * sizeof(uint64_t));
		if (b == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = c->blocks;
		c->blocks = b;
		c->bytes += sizeof(*b) + cap * sizeof(uint64_t);
	}
	struct lin_entry *e = (struct lin_entry *)(b->mem + b->used);
	b->used += need;
	return e;
}

/* The stored part of words [from, to): without leading words equal to lead and trailing
 * zero words. */
static void trim(const uint64_t *bits, size_t from, size_t to, uint64_t lead, uint32_t *skip,
		 uint32_t *len)
{
	size_t a = from, b = to;
	while (a < b && bits[a] == lead)
		a++;
	while (b > a && bits[b - 1] == 0)
		b--;
	*skip = (uint32_t)a;
	*len = (uint32_t)(b - a);
}

int lin_cache_add(struct lin_cache *c, uint32_t state, const uint64_t *bits, size_t nwords,
		  size_t split)
{
	/* The key, built in a scratch entry on the stack for small sets. */
	union {
		struct lin_entry e;
		uint64_t space[32];
	} scratch;
	struct lin_entry *k = &scratch.e;
	k->state = state;
	trim(bits, 0, split, UINT64_MAX, &k->skip[0], &k->len[0]);
	trim(bits, split, nwords, 0, &k->skip[1], &k->len[1]);
	size_t len = (size_t)k->len[0] + k->len[1];
	size_t words = (sizeof(struct lin_entry) + 7) / 8 + len;
	if (words > 32 && (k = malloc(words * 8)) == NULL)
		return -1;
	if (k != &scratch.e)
		*k = scratch.e;
	memcpy(k->w, bits + k->skip[0], k->len[0] * sizeof(uint64_t));
	memcpy(k->w + k->len[0], bits + k->skip[1], k->len[1] * sizeof(uint64_t));
	uint64_t h = hash_of(k);
	int rv = 1;
	if (2 * (c->count + 1) > c->nslots && grow(c) != 0) {
		rv = -1;
		goto out;
	}
	size_t j = h & (c->nslots - 1);
	for (; c->slots[j].hash != 0; j = (j + 1) & (c->nslots - 1)) {
		const struct lin_entry *e = c->slots[j].e;
		if (c->slots[j].hash == h && e->state == state &&
		    memcmp(e->skip, k->skip, sizeof(e->skip)) == 0 &&
		    memcmp(e->len, k->len, sizeof(e->len)) == 0 &&
		    memcmp(e->w, k->w, len * sizeof(uint64_t)) == 0) {
			rv = 0;
			goto out;
		}
	}
	struct lin_entry *e = entry_alloc(c, len);
	if (e == NULL) {
		rv = -1;
		goto out;
	}
	memcpy(e, k, words * 8);
	c->slots[j] = (struct lin_slot){.hash = h, .e = e};
	c->count++;
out:
	if (k != &scratch.e)
		free(k);
	return rv;
}
