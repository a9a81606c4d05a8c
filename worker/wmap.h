/* worker/wmap.h: a hash map from NUL-terminated strings to pointers, for the worker's
 * cache (instances, tasks, services, counters by key).
 *
 * Open addressing with linear probing; the map copies each key and owns the copy; it
 * never owns the values (the caller frees them, e.g. while iterating before wmap_close).
 * Lookups do not allocate. Pointers returned for keys stay valid until that entry is
 * removed or the map is closed. */
#ifndef BERTH_WORKER_WMAP_H
#define BERTH_WORKER_WMAP_H

#include <stddef.h>

struct wmap_slot {
	char *key; /* owned; NULL: empty; wmap's tombstone marker: removed */
	void *val;
};

struct wmap {
	struct wmap_slot *slots; /* owned */
	size_t cap;              /* 0 or a power of two */
	size_t n;                /* live entries */
	size_t used;             /* live entries and tombstones */
};

/* An empty map; allocates nothing. */
void wmap_init(struct wmap *m);
/* Frees the keys and the table (not the values); leaves an empty map. */
void wmap_close(struct wmap *m);
/* The value stored under key, or NULL. */
void *wmap_get(const struct wmap *m, const char *key);
/* Stores val under key (replacing a previous value). 0 or BERTH_ENOMEM (nothing changed). */
int wmap_put(struct wmap *m, const char *key, void *val);
/* Removes key; returns its value, or NULL when it was absent. */
void *wmap_del(struct wmap *m, const char *key);
/* Iteration: i starts at 0; returns the index after the entry found (give it back for the
 * next one) with *key and *val set, or 0 at the end. Removing the entry just returned
 * is allowed during iteration; adding is not. */
size_t wmap_next(const struct wmap *m, size_t i, const char **key, void **val);

#endif
