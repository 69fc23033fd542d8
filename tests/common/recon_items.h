/*
 * Reconciliation items for the sync tests: an item at a millisecond with a
 * low counter and an id drawn from a seeded sequence (rng.h), so that a
 * test's sets are the same on every run.  Header-only.
 */
#ifndef DC_TEST_RECON_ITEMS_H
#define DC_TEST_RECON_ITEMS_H

#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "sync/recon.h"

static inline void dc_test_item(dc__recon_item *it, uint64_t ms, uint64_t *rng) {
    it->ts = (ms << 16) | (dc_test_rnd(rng) & 0xff);
    for (int i = 0; i < 32; i += 8) {
        uint64_t v = dc_test_rnd(rng);
        memcpy(it->id + i, &v, 8);
    }
}

#endif
