/*
 * The guarded memory all secrets live in, and randomness: in base/ so that
 * every folder that holds a secret (crypto/'s keys, model/'s sealed
 * fields) reaches them without depending on crypto/.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>

#include "base/base.h"

/* Guarded memory is costly to make and unmake: sodium_malloc maps pages,
 * puts guard pages around them and locks them (a handful of system calls),
 * and a walk that derives a key per record, or a fold per commit, paid that
 * for every 32-byte key.  Small secrets therefore come from a pool of
 * guarded blocks: a freed block is wiped and kept for the next one.  The
 * pool makes at most POOL_MAX blocks in the life of the process and
 * remembers each (a free finds out by its address whether a block is the
 * pool's); beyond that, and for larger secrets, sodium_malloc as before. */
#define POOL_BLOCK 128
#define POOL_MAX 64

static struct {
    pthread_mutex_t mu;
    uint8_t *made[POOL_MAX]; /* every block the pool made */
    size_t nmade;
    uint8_t *free[POOL_MAX]; /* those not in use, wiped */
    size_t nfree;
} pool = {PTHREAD_MUTEX_INITIALIZER, {NULL}, 0, {NULL}, 0};

uint8_t *dc__secret_alloc(size_t n) {
    if (n > POOL_BLOCK)
        return sodium_malloc(n);
    uint8_t *p = NULL;
    pthread_mutex_lock(&pool.mu);
    if (pool.nfree) {
        p = pool.free[--pool.nfree];
    } else if (pool.nmade < POOL_MAX && (p = sodium_malloc(POOL_BLOCK)) != NULL) {
        pool.made[pool.nmade++] = p;
    }
    pthread_mutex_unlock(&pool.mu);
    return p ? p : sodium_malloc(n);
}

void dc__secret_free(uint8_t *p) {
    if (!p)
        return;
    pthread_mutex_lock(&pool.mu);
    bool mine = false;
    for (size_t i = 0; i < pool.nmade && !mine; i++)
        mine = pool.made[i] == p;
    if (mine) {
        sodium_memzero(p, POOL_BLOCK);
        pool.free[pool.nfree++] = p;
    }
    pthread_mutex_unlock(&pool.mu);
    /* sodium_free wipes the memory before releasing it. */
    if (!mine)
        sodium_free(p);
}

void dc__wipe(void *p, size_t n) {
    if (p && n)
        sodium_memzero(p, n);
}

void dc__random(uint8_t *p, size_t n) {
    randombytes_buf(p, n);
}
