/*
 * pcmap.c - see pcmap.h.  Linear probing with a multiplicative hash: pcs
 * of one program cluster in a few pages, so their low bits alone would
 * collide in runs.
 */
#include <stdlib.h>

#include "pcmap.h"

static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

uint64_t gto_pcmap_get(const struct gto_pcmap *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (!m->keys[i])
            return 0;
    }
}

static int grow(struct gto_pcmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof(*keys));
    uint64_t *vals = calloc(cap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->keys[j])
            continue;
        size_t i = slot_of(m->keys[j], cap);
        while (keys[i])
            i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int gto_pcmap_put(struct gto_pcmap *m, uint64_t key, uint64_t val)
{
    /* Keep the load under one half: probes stay short. */
    if ((m->used + 1) * 2 > m->cap && grow(m) < 0)
        return -1;
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->used++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

void gto_pcmap_free(struct gto_pcmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = m->vals = NULL;
    m->cap = m->used = 0;
}
