/*
 * The deterministic randomness of the tests that replay a seed (splitmix64:
 * each call advances *state and returns the next of a well-spread
 * sequence), shared so that a seed printed by one test means the same
 * sequence in every file that uses it.  Header-only.
 */
#ifndef DC_TEST_RNG_H
#define DC_TEST_RNG_H

#include <stdint.h>

static inline uint64_t dc_test_rnd(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
