/*
 * The op clock order (see crdt.h).  Kept apart from the storage code so
 * the one rule every replica must agree on is written exactly once.
 */
#include <string.h>

#include "crdt/crdt.h"

bool dc__clock_later(dc_hlc h1, const uint8_t pk1[32], dc_hlc h2, const uint8_t pk2[32]) {
    if (h1 != h2)
        return h1 > h2;
    return memcmp(pk1, pk2, 32) > 0;
}
