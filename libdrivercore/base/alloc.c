/*
 * The allocator hook, caller-owned buffers and global initialisation.
 *
 * Every allocation the library makes goes through dc__malloc and friends so
 * an embedding application can route memory to its own allocator, and so
 * the test suite can fail the Nth allocation and check that every path
 * returns an error and leaks nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sodium.h>

#include "base/base.h"

static void *sys_malloc(size_t n, void *u) {
    (void)u;
    return malloc(n);
}
static void *sys_realloc(void *p, size_t n, void *u) {
    (void)u;
    return realloc(p, n);
}
static void sys_free(void *p, void *u) {
    (void)u;
    free(p);
}

static dc_allocator g_alloc = {sys_malloc, sys_realloc, sys_free, NULL};
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = DC_ERROR;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_allocator_set = 0;

static void init_once(void) {
    g_init_rc = sodium_init() < 0 ? DC_ERROR : 0;
}

int dc__ensure_init(void) {
    pthread_once(&g_once, init_once);
    if (g_init_rc != 0)
        return dc__last_set(g_init_rc, "libsodium could not initialise (sodium_init failed)");
    return 0;
}

int dc__global_init_base(const dc_global_options *opts) {
    int rc = dc__ensure_init();
    if (rc != 0)
        return rc;
    if (opts == NULL)
        return 0;
    if (opts->version < 1 || opts->version > DC_GLOBAL_OPTIONS_VERSION)
        return dc__last_set(DC_EINVAL,
                            "dc_global_init: options version %u is unknown (this "
                            "library knows 1..%d)",
                            opts->version, DC_GLOBAL_OPTIONS_VERSION);
    if (opts->allocator != NULL) {
        const dc_allocator *a = opts->allocator;
        if (a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL)
            return dc__last_set(DC_EINVAL, "dc_global_init: the allocator must set malloc_fn, "
                                           "realloc_fn and free_fn");
        pthread_mutex_lock(&g_lock);
        /* Swapping allocators while blocks from the old one are alive would
         * free them with the wrong function, so it is allowed once. */
        if (g_allocator_set && memcmp(&g_alloc, a, sizeof *a) != 0) {
            pthread_mutex_unlock(&g_lock);
            return dc__last_set(DC_EMISUSE, "dc_global_init: an allocator is already installed; "
                                            "it can be set once, before any other call");
        }
        g_alloc = *a;
        g_allocator_set = 1;
        pthread_mutex_unlock(&g_lock);
    }
    return 0;
}

const char *dc_version(void) {
    return "0.1.0";
}

void *dc__malloc(size_t n) {
    return g_alloc.malloc_fn(n ? n : 1, g_alloc.user);
}

void *dc__calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = dc__malloc(count * size);
    if (p)
        memset(p, 0, count * size > 0 ? count * size : 1);
    return p;
}

void *dc__realloc(void *p, size_t n) {
    return g_alloc.realloc_fn(p, n ? n : 1, g_alloc.user);
}

void dc__free(void *p) {
    if (p)
        g_alloc.free_fn(p, g_alloc.user);
}

/* The array's pointer is read and written through memcpy, so that one
 * function serves arrays of every element type without the caller casting
 * `T **` to `void **` (which C does not allow to alias). */
int dc__vec_reserve(void *pp, size_t *cap, size_t need, size_t size) {
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return DC_ENOMEM;
        nc *= 2;
    }
    if (size != 0 && nc > SIZE_MAX / size)
        return DC_ENOMEM;
    void *p;
    memcpy(&p, pp, sizeof p);
    void *q = dc__realloc(p, nc * size);
    if (!q)
        return DC_ENOMEM;
    memcpy(pp, &q, sizeof q);
    *cap = nc;
    return 0;
}

char *dc__strndup(const char *s, size_t n) {
    char *d = dc__malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* ---- arenas ---- */

#define ARENA_FIRST 16384    /* the block a reset keeps */
#define ARENA_MAX (1u << 20) /* blocks grow by doubling up to this */

void dc__arena_reset(dc__arena *a) {
    for (size_t i = 1; i < a->nblk; i++)
        dc__free(a->blk[i]);
    a->nblk = a->nblk ? 1 : 0;
    a->used = 0;
    a->cap = a->nblk ? ARENA_FIRST : 0;
}

void dc__arena_free(dc__arena *a) {
    for (size_t i = 0; i < a->nblk; i++)
        dc__free(a->blk[i]);
    dc__free(a->blk);
    memset(a, 0, sizeof *a);
}

const char *dc__arena_strndup(dc__arena *a, const void *p, size_t n) {
    if (n > SIZE_MAX / 4)
        return NULL;
    while (a->used + n + 1 > a->cap) {
        /* The first block is ARENA_FIRST bytes (a reset keeps it); later
         * ones double up to ARENA_MAX, so a long walk makes few. */
        size_t cap = a->nblk == 0 ? ARENA_FIRST : a->cap >= ARENA_MAX ? ARENA_MAX : a->cap * 2;
        if (a->nblk > 0 && cap < n + 1)
            cap = n + 1;
        if (a->nblk == a->cblk) {
            size_t nc = a->cblk ? a->cblk * 2 : 8;
            char **b = dc__realloc(a->blk, nc * sizeof *b);
            if (!b)
                return NULL;
            a->blk = b;
            a->cblk = nc;
        }
        char *blk = dc__malloc(cap);
        if (!blk)
            return NULL;
        a->blk[a->nblk++] = blk;
        a->used = 0;
        a->cap = cap;
    }
    char *d = a->blk[a->nblk - 1] + a->used;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    a->used += n + 1;
    return d;
}

void dc_buf_init(dc_buf *b) {
    if (b) {
        b->ptr = NULL;
        b->size = b->asize = 0;
    }
}

void dc_buf_dispose(dc_buf *b) {
    if (!b)
        return;
    if (b->asize)
        dc__free(b->ptr);
    b->ptr = NULL;
    b->size = b->asize = 0;
}

int dc__buf_reserve(dc_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->size - 1)
        return DC_ENOMEM;
    size_t need = b->size + extra + 1;
    if (need <= b->asize)
        return 0;
    size_t na = b->asize ? b->asize : 64;
    while (na < need)
        na = na > SIZE_MAX / 2 ? need : na * 2;
    uint8_t *p;
    if (b->asize) {
        p = dc__realloc(b->ptr, na);
    } else {
        /* A buffer whose memory the library does not own is copied, never freed. */
        p = dc__malloc(na);
        if (p && b->size)
            memcpy(p, b->ptr, b->size);
    }
    if (!p)
        return DC_ENOMEM;
    b->ptr = p;
    b->asize = na;
    return 0;
}

int dc__buf_put(dc_buf *b, const void *p, size_t n) {
    if (dc__buf_reserve(b, n))
        return DC_ENOMEM;
    if (n)
        memcpy(b->ptr + b->size, p, n);
    b->size += n;
    b->ptr[b->size] = 0;
    return 0;
}

int dc__buf_putc(dc_buf *b, char c) {
    return dc__buf_put(b, &c, 1);
}

int dc__buf_puts(dc_buf *b, const char *s) {
    return dc__buf_put(b, s, strlen(s));
}

int dc__buf_printf(dc_buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DC_ERROR;
    if ((size_t)n < sizeof tmp)
        return dc__buf_put(b, tmp, (size_t)n);
    if (dc__buf_reserve(b, (size_t)n))
        return DC_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->size, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->size += (size_t)n;
    return 0;
}

void dc__buf_clear(dc_buf *b) {
    b->size = 0;
    if (b->asize)
        b->ptr[0] = 0;
}

void dc__buf_move(dc_buf *dst, dc_buf *src) {
    dc_buf_dispose(dst);
    *dst = *src;
    src->ptr = NULL;
    src->size = src->asize = 0;
}
