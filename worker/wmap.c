/* worker/wmap.c: the string-keyed hash map (worker/wmap.h). */
#include "worker/wmap.h"

#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char wmap_tomb_byte;
#define WMAP_TOMB (&wmap_tomb_byte)

/* FNV-1a, 64 bits. */
static uint64_t wmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

void wmap_init(struct wmap *m)
{
	memset(m, 0, sizeof(*m));
}

void wmap_close(struct wmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != WMAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	wmap_init(m);
}

/* The slot holding key, or SIZE_MAX. */
static size_t wmap_find(const struct wmap *m, const char *key)
{
	if (m->cap == 0)
		return SIZE_MAX;
	size_t mask = m->cap - 1;
	for (size_t i = (size_t)wmap_hash(key) & mask, k = 0; k < m->cap; i = (i + 1) & mask, k++) {
		const char *s = m->slots[i].key;
		if (s == NULL)
			return SIZE_MAX;
		if (s != WMAP_TOMB && strcmp(s, key) == 0)
			return i;
	}
	return SIZE_MAX;
}

void *wmap_get(const struct wmap *m, const char *key)
{
	size_t i = wmap_find(m, key);
	return i == SIZE_MAX ? NULL : m->slots[i].val;
}

/* Places an owned key in a table known to have room and not to hold it. */
static void wmap_insert(struct wmap_slot *slots, size_t cap, char *key, void *val)
{
	size_t mask = cap - 1, i = (size_t)wmap_hash(key) & mask;
	while (slots[i].key != NULL && slots[i].key != WMAP_TOMB)
		i = (i + 1) & mask;
	slots[i].key = key;
	slots[i].val = val;
}

static int wmap_grow(struct wmap *m)
{
	size_t cap = m->cap == 0 ? 16 : m->cap;
	while ((m->n + 1) * 2 > cap)
		cap *= 2;
	struct wmap_slot *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return BERTH_ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != WMAP_TOMB)
			wmap_insert(slots, cap, m->slots[i].key, m->slots[i].val);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->n;
	return 0;
}

int wmap_put(struct wmap *m, const char *key, void *val)
{
	size_t i = wmap_find(m, key);
	if (i != SIZE_MAX) {
		m->slots[i].val = val;
		return 0;
	}
	/* Keep live entries and tombstones under 3/4 of the table. */
	if ((m->used + 1) * 4 > m->cap * 3 && wmap_grow(m) != 0)
		return BERTH_ENOMEM;
	char *copy = strdup(key);
	if (copy == NULL)
		return BERTH_ENOMEM;
	size_t mask = m->cap - 1;
	i = (size_t)wmap_hash(key) & mask;
	while (m->slots[i].key != NULL && m->slots[i].key != WMAP_TOMB)
		i = (i + 1) & mask;
	if (m->slots[i].key == NULL)
		m->used++;
	m->slots[i].key = copy;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

void *wmap_del(struct wmap *m, const char *key)
{
	size_t i = wmap_find(m, key);
	if (i == SIZE_MAX)
		return NULL;
	void *val = m->slots[i].val;
	free(m->slots[i].key);
	m->slots[i].key = WMAP_TOMB;
	m->slots[i].val = NULL;
	m->n--;
	return val;
}

size_t wmap_next(const struct wmap *m, size_t i, const char **key, void **val)
{
	for (; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != WMAP_TOMB) {
			*key = m->slots[i].key;
			*val = m->slots[i].val;
			return i + 1;
		}
	return 0;
}
