/*
 * Shared helpers of the system tests: a check macro that survives NDEBUG
 * and names the drivercore error, temporary directories, a seeded PRNG
 * (so every randomised run replays from its printed seed), pinned clocks
 * for dc_replica_options.clock, and small helpers around replicas.  Header
 * only (static functions), so each test stays one self-contained program.
 */
#ifndef DC_SYSTEST_H
#define DC_SYSTEST_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivercore.h"

#if defined(__GNUC__)
#define ST_UNUSED __attribute__((unused))
#else
#define ST_UNUSED
#endif

/* Fails the program (exit 1) with a message; used for every check. */
static ST_UNUSED void st_die(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: FAILED: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

#define ST_FAIL(...) st_die(__FILE__, __LINE__, __VA_ARGS__)
#define ST_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            st_die(__FILE__, __LINE__, "check failed: %s", #cond);                                 \
    } while (0)
/* A drivercore call that must succeed; r (may be NULL) gives the message. */
#define ST_OK(r, call)                                                                             \
    do {                                                                                           \
        int st_rc_ = (call);                                                                       \
        if (st_rc_ != 0)                                                                           \
            st_die(__FILE__, __LINE__, "%s returned %s: %s", #call, dc_error_name(st_rc_),         \
                   (r) ? dc_replica_errmsg(r) : dc_error_last());                                  \
    } while (0)
/* A call that must fail with exactly `want`. */
#define ST_EXPECT(want, call)                                                                      \
    do {                                                                                           \
        int st_rc_ = (call);                                                                       \
        if (st_rc_ != (want))                                                                      \
            st_die(__FILE__, __LINE__, "%s returned %s, expected %s", #call,                       \
                   dc_error_name(st_rc_), dc_error_name(want));                                    \
    } while (0)

/* ---- temporary directories ---- */

/* A fresh directory under $TMPDIR (or /tmp); the path is static storage. */
static ST_UNUSED const char *st_tmpdir(const char *tag) {
    static char path[4096];
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(path, sizeof path, "%s/dc-%s-XXXXXX", base, tag);
    if (!mkdtemp(path))
        ST_FAIL("mkdtemp %s: %s", path, strerror(errno));
    return path;
}

/* Removes a directory tree of plain files and subdirectories. */
static ST_UNUSED void st_rmtree(const char *path) {
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            st_rmtree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

static ST_UNUSED char *st_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        ST_FAIL("out of memory");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- PRNG: xorshift64*, seeded, so a run replays from its seed ---- */

typedef struct st_rng {
    uint64_t s;
} st_rng;

static ST_UNUSED void st_seed(st_rng *r, uint64_t seed) {
    r->s = seed * UINT64_C(0x9E3779B97F4A7C15) + UINT64_C(0x632BE59BD9B4E019);
    if (r->s == 0)
        r->s = 1;
}

static ST_UNUSED uint64_t st_next(st_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in [0, n). */
static ST_UNUSED uint64_t st_below(st_rng *r, uint64_t n) {
    return n ? st_next(r) % n : 0;
}

/* True with probability pct/100. */
static ST_UNUSED int st_chance(st_rng *r, unsigned pct) {
    return st_below(r, 100) < pct;
}

/* ---- pinned clocks ---- */

typedef struct st_clock {
    int64_t now_ms;
} st_clock;

static ST_UNUSED int64_t st_clock_fn(void *user) {
    return ((st_clock *)user)->now_ms;
}

static ST_UNUSED dc_replica *st_open(const char *path, const char *name, st_clock *clock) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = name;
    if (clock) {
        o.clock = st_clock_fn;
        o.clock_user = clock;
    }
    dc_replica *r = NULL;
    int rc = dc_replica_open(&r, path, &o);
    if (rc != 0)
        ST_FAIL("dc_replica_open %s: %s: %s", path, dc_error_name(rc), dc_error_last());
    return r;
}

/* A copy of a buffer's content as a C string (the library keeps a NUL). */
static ST_UNUSED char *st_strdup_buf(const dc_buf *b) {
    char *s = malloc(b->size + 1);
    if (!s)
        ST_FAIL("out of memory");
    if (b->size)
        memcpy(s, b->ptr, b->size);
    s[b->size] = 0;
    return s;
}

/* The whole dump (all spaces) as a malloc'd string. */
static ST_UNUSED char *st_dump(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    ST_OK(r, dc_replica_dump(&b, r, NULL));
    char *s = st_strdup_buf(&b);
    dc_buf_dispose(&b);
    return s;
}

static ST_UNUSED char *st_status(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    ST_OK(r, dc_replica_status(&b, r));
    char *s = st_strdup_buf(&b);
    dc_buf_dispose(&b);
    return s;
}

/* Reads the integer member `"key": N` from JSON (its first occurrence);
 * -1 if absent. */
static ST_UNUSED long long st_json_int(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return strtoll(p, NULL, 10);
}

/* Sums every `"key": N` in the JSON text (e.g. "held" over all spaces). */
static ST_UNUSED long long st_json_sum(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    long long sum = 0;
    for (const char *p = strstr(json, pat); p; p = strstr(p, pat)) {
        p += strlen(pat);
        while (*p == ' ')
            p++;
        sum += strtoll(p, NULL, 10);
    }
    return sum;
}

/* Prints where two texts first differ, with some context. */
static ST_UNUSED void st_show_diff(const char *what_a, const char *a, const char *what_b,
                                   const char *b) {
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    size_t from = i > 60 ? i - 60 : 0;
    fprintf(stderr, "first difference at byte %zu (lengths %zu and %zu)\n", i, strlen(a),
            strlen(b));
    fprintf(stderr, "  %s: ...%.160s\n", what_a, a + from);
    fprintf(stderr, "  %s: ...%.160s\n", what_b, b + from);
}

#endif
