/* String-keyed hash map with open addressing and backward-shift deletion. */
#include "common/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct slot {
	char *key; /* NULL = empty */
	void *value;
	uint64_t hash;
};

struct hmap {
	struct slot *slots;
	size_t cap; /* a power of two */
	size_t n;
};

/* FNV-1a: short keys, no adversarial inputs that could not be bounded elsewhere. */
static uint64_t hash_of(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h;
}

struct hmap *hmap_new(void)
{
	struct hmap *m = xcalloc(1, sizeof(*m));
	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	return m;
}

void hmap_free(struct hmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static size_t find(const struct hmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return i;
	}
}

static void grow(struct hmap *m)
{
	struct slot *old = m->slots;
	size_t oldcap = m->cap;
	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].key)
			continue;
		size_t j = find(m, old[i].key, old[i].hash);
		m->slots[j] = old[i];
	}
	free(old);
}

void *hmap_get(const struct hmap *m, const char *key)
{
	const struct slot *s = &m->slots[find(m, key, hash_of(key))];
	return s->key ? s->value : NULL;
}

void *hmap_put(struct hmap *m, const char *key, void *value)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	uint64_t h = hash_of(key);
	struct slot *s = &m->slots[find(m, key, h)];
	if (s->key) {
		void *old = s->value;
		s->value = value;
		return old;
	}
	s->key = xstrdup(key);
	s->value = value;
	s->hash = h;
	m->n++;
	return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	size_t i = find(m, key, hash_of(key));
	if (!m->slots[i].key)
		return NULL;
	void *value = m->slots[i].value;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->n--;
	/* Backward shift: move later members of the probe run into the hole when their home slot
	 * lies at or before it, so that lookups never stop early. */
	for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;
		bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return value;
}

size_t hmap_size(const struct hmap *m)
{
	return m->n;
}

bool hmap_next(const struct hmap *m, size_t *it, const char **key, void **value)
{
	while (*it < m->cap) {
		const struct slot *s = &m->slots[(*it)++];
		if (s->key) {
			if (key)
				*key = s->key;
			if (value)
				*value = s->value;
			return true;
		}
	}
	return false;
}
