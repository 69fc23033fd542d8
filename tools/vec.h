/*
 * A growable array for the programs around the library: the `drivercore`
 * tool, the relay daemon, the benchmarks.  They link the shared
 * libdrivercore, whose exported symbols are the public API only, so the
 * library's own `dc__vec_reserve` (base/base.h) is out of their reach;
 * this is the same helper with the same contract, on the C library's
 * realloc (the tools allocate with malloc, not the library's hook).
 * Header-only, so that each program compiles it in without a library of
 * its own.
 */
#ifndef DRIVERCORE_TOOLS_VEC_H
#define DRIVERCORE_TOOLS_VEC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room for `need` elements of `size` bytes in the array whose pointer is
 * at `pp` (a `T **`) and whose capacity is *cap, growing by doubling (from
 * 8) with the sizes checked for overflow.  0, or -1 when memory runs out
 * (then the array and *cap are unchanged, still owned by the caller).  The
 * pointer is read and written through memcpy so that one function serves
 * every element type without casting `T **` to `void **`. */
static inline int vec_reserve(void *pp, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return -1;
        nc *= 2;
    }
    if (size != 0 && nc > SIZE_MAX / size)
        return -1;
    void *p;
    memcpy(&p, pp, sizeof p);
    void *q = realloc(p, nc * size);
    if (!q)
        return -1;
    memcpy(pp, &q, sizeof q);
    *cap = nc;
    return 0;
}

/* VEC_RESERVE(v, cap, need): room for `need` elements in v; VEC_ROOM(v, n,
 * cap): room for one more after the n in v. */
#define VEC_RESERVE(v, cap, need) vec_reserve(&(v), &(cap), (need), sizeof *(v))
#define VEC_ROOM(v, n, cap) VEC_RESERVE(v, cap, (size_t)(n) + 1)

#endif
