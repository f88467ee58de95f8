/*
 * pcmap.h - an open-addressing hash map from a 64-bit key to a 64-bit
 * value, for the caches keyed by pc or address (symbols, CFI rules, pages).
 * Key 0 is reserved for empty slots: callers key by pc, never 0.
 */
#ifndef GTO_PCMAP_H
#define GTO_PCMAP_H

#include <stddef.h>
#include <stdint.h>

struct gto_pcmap {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap;   /* a power of two, or 0 */
    size_t used;
};

/* The value of KEY, or 0 when absent (store value + 1 to tell 0 apart). */
uint64_t gto_pcmap_get(const struct gto_pcmap *m, uint64_t key);
/* Sets KEY (non-zero) to VAL; 0, or -1 when out of memory. */
int gto_pcmap_put(struct gto_pcmap *m, uint64_t key, uint64_t val);
void gto_pcmap_free(struct gto_pcmap *m);

#endif
