/* A hash map from strings to pointers (open addressing, linear probing, tombstone-free deletion by
 * backward shift). Keys are copied; values are borrowed: the map never frees them. Iteration order
 * is unspecified and changes when the map is modified. */
#ifndef GANTRY_HMAP_H
#define GANTRY_HMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hmap;

/* A new empty map. Never NULL. */
struct hmap *hmap_new(void);
/* Frees the map and its keys (not the values). Accepts NULL. */
void hmap_free(struct hmap *m);
/* The value for key, or NULL. */
void *hmap_get(const struct hmap *m, const char *key);
/* Sets key to value (non-NULL), replacing any value it had. Returns the old value or NULL. */
void *hmap_put(struct hmap *m, const char *key, void *value);
/* Removes key. Returns its value, or NULL when it was not there. */
void *hmap_del(struct hmap *m, const char *key);
/* The number of keys. */
size_t hmap_size(const struct hmap *m);

/* Iteration: for (size_t it = 0; hmap_next(m, &it, &k, &v);) { ... }. Do not modify the map while
 * iterating. */
bool hmap_next(const struct hmap *m, size_t *it, const char **key, void **value);

#endif
