/*
 * The relay core's tables (core.h): a small hash map keyed by 32 bytes,
 * chained, doubling, hashed with SipHash under a random process-wide key
 * (device keys are chosen by whoever connects: an unkeyed hash could be
 * flooded).  Entries are the caller's; the map only links them.
 */
#include <sodium.h>
#include <string.h>

#include "relay/core.h"
static uint8_t hash_key[crypto_shorthash_KEYBYTES];

void dc__relay_map_key_init(void) {
    /* The hash key is process-wide and set once; a race between two
     * relays opening at once would at worst write random bytes twice. */
    static int keyed;
    if (!keyed) {
        randombytes_buf(hash_key, sizeof hash_key);
        keyed = 1;
    }
}

static size_t slot(const map *m, const uint8_t key[32]) {
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, 32, hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (m->nb - 1));
}

ent *dc__relay_map_find(const map *m, const uint8_t key[32]) {
    if (!m->nb)
        return NULL;
    for (ent *e = m->b[slot(m, key)]; e; e = e->next)
        if (memcmp(e->key, key, 32) == 0)
            return e;
    return NULL;
}

static int map_grow(map *m) {
    size_t nb = m->nb ? m->nb * 2 : 256;
    ent **b = dc__calloc(nb, sizeof *b);
    if (!b)
        return DC_ENOMEM;
    map old = *m;
    m->b = b;
    m->nb = nb;
    for (size_t i = 0; i < old.nb; i++)
        for (ent *e = old.b[i], *nx; e; e = nx) {
            nx = e->next;
            size_t k = slot(m, e->key);
            e->next = b[k];
            b[k] = e;
        }
    dc__free(old.b);
    return 0;
}

int dc__relay_map_put(map *m, ent *e) {
    if (m->n >= m->nb && map_grow(m))
        return DC_ENOMEM;
    size_t k = slot(m, e->key);
    e->next = m->b[k];
    m->b[k] = e;
    m->n++;
    return 0;
}

void dc__relay_map_unlink(map *m, ent *x) {
    for (ent **p = &m->b[slot(m, x->key)]; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            m->n--;
            return;
        }
}
