/*
 * base — the internal foundation every other folder builds on: the
 * allocator hook, growable buffers, error records, hex and UTF-8 helpers,
 * JSON text output and the hybrid logical clock.  Depends on nothing but
 * the C library and the public headers.
 */
#ifndef DC_BASE_H
#define DC_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>

#include "drivercore.h"

#if defined(__GNUC__)
#define DC__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DC__PRINTF(a, b)
#endif

/* ---- allocation (alloc.c) ---- */
void *dc__malloc(size_t n);
void *dc__calloc(size_t count, size_t size); /* checks count*size overflow */
void *dc__realloc(void *p, size_t n);
void dc__free(void *p);
char *dc__strndup(const char *s, size_t n);
/* A growable array: room for `need` elements of `size` bytes in the array
 * whose pointer is at `pp` (a `T **`) and whose capacity is *cap, growing
 * by doubling (from 8) with the sizes checked for overflow.  0 or
 * DC_ENOMEM; on failure the array and *cap are unchanged (still owned by
 * the caller).  DC__VEC_ROOM(v, n, cap) is room for one more element after
 * the n in v. */
int dc__vec_reserve(void *pp, size_t *cap, size_t need, size_t size);
#define DC__VEC_RESERVE(v, cap, need) dc__vec_reserve(&(v), &(cap), (need), sizeof *(v))
#define DC__VEC_ROOM(v, n, cap) DC__VEC_RESERVE(v, cap, (n) + 1)
/* dc_global_init with default options; returns 0 or an error code. */
int dc__ensure_init(void);
/* dc_global_init's part in base/: libsodium and the allocator (the public
 * dc_global_init, in replica/, then initialises SQLite). */
int dc__global_init_base(const dc_global_options *opts);

/* ---- files (os.c): each returns 0 or an errno value ---- */
/* Creates or truncates path for writing, readable by this user only (0600). */
FILE *dc__os_fopen_private(const char *path);
/* Creates an empty file, 0600; EEXIST if there is one. */
int dc__os_create_private(const char *path);
/* Creates path (0600, EEXIST if it exists) with n bytes, synced. */
int dc__os_write_new(const char *path, const void *p, size_t n);
/* Like dc__os_write_new, but the file appears whole or not at all (written
 * beside it, then linked in), and its directory is synced. */
int dc__os_publish_new(const char *path, const void *p, size_t n);
int dc__os_sync_file(const char *path);
int dc__os_sync_dir_of(const char *path);
/* rename(2); sync the directory after it (dc__os_sync_dir_of) to make it
 * durable. */
int dc__os_rename(const char *from, const char *to);
/* unlink(2); a missing file is not an error. */
int dc__os_remove(const char *path);
int dc__os_size(const char *path, int64_t *size);
/* This process's id (a forked child has another). */
long dc__os_pid(void);
/* Test seam: when set, called at each step ("write_new", "sync_file",
 * "rename", "sync_dir") before it runs; non-zero fails the step with EIO
 * (tests also kill the process from it).  NULL outside tests. */
extern int (*dc__os_fault)(const char *step);

/* ---- secrets (secret.c) ---- */
/* Secret buffer of n bytes in guarded memory (NULL on failure). */
uint8_t *dc__secret_alloc(size_t n);
void dc__secret_free(uint8_t *p);
/* Overwrites n bytes with zeros in a way the compiler keeps (plaintext in
 * ordinary buffers, before they are reused or freed). */
void dc__wipe(void *p, size_t n);
/* n bytes from the system's secure random source. */
void dc__random(uint8_t *p, size_t n);

/* ---- buffers (alloc.c) ---- */
int dc__buf_reserve(dc_buf *b, size_t extra); /* room for extra + NUL */
int dc__buf_put(dc_buf *b, const void *p, size_t n);
int dc__buf_putc(dc_buf *b, char c);
int dc__buf_puts(dc_buf *b, const char *s);
int dc__buf_printf(dc_buf *b, const char *fmt, ...) DC__PRINTF(2, 3);
void dc__buf_clear(dc_buf *b); /* size = 0, keeps memory */
/* Moves the content of src into dst (dst disposed first); src becomes empty. */
void dc__buf_move(dc_buf *dst, dc_buf *src);

/* ---- arenas (alloc.c) ----
 * Many small strings with one lifetime (the fields of a record being read,
 * the ids a walk has counted): copied into blocks, freed all at once.  A
 * copy never moves, so pointers stay valid until the reset. */
typedef struct dc__arena {
    char **blk; /* blk[0] is kept by a reset */
    size_t nblk, cblk;
    size_t used, cap; /* in the last block */
} dc__arena;

/* A NUL-terminated copy of n bytes at p (p may be NULL when n is 0), or
 * NULL when out of memory. */
const char *dc__arena_strndup(dc__arena *a, const void *p, size_t n);
/* Forgets every copy; keeps the first block for the next use. */
void dc__arena_reset(dc__arena *a);
void dc__arena_free(dc__arena *a);

/* ---- errors (error.c) ---- */
typedef struct dc__err {
    int code;
    char msg[512];
} dc__err;

/* Record an error and return `code` (so callers can `return dc__err_set(...)`). */
int dc__err_set(dc__err *e, int code, const char *fmt, ...) DC__PRINTF(3, 4);
/* Prefix an existing message: "<prefix>: <old message>"; returns e->code. */
int dc__err_prefix(dc__err *e, const char *fmt, ...) DC__PRINTF(2, 3);
/* Append to an existing message: "<old message><suffix>"; returns e->code. */
int dc__err_suffix(dc__err *e, const char *suffix);
void dc__err_clear(dc__err *e);
/* The thread-local error behind dc_error_last(); returns code. */
int dc__last_set(int code, const char *fmt, ...) DC__PRINTF(2, 3);
int dc__last_from(const dc__err *e);
void dc__last_clear(void);

/* ---- hex, UTF-8 (util.c) ---- */
/* Writes 2n hex chars and a NUL into out (size >= 2n+1). */
void dc__hex(char *out, const uint8_t *p, size_t n);
/* Decodes exactly 2n hex chars (either case) into out; 0 or DC_EINVAL. */
int dc__unhex(uint8_t *out, size_t n, const char *hex);
bool dc__utf8_valid(const uint8_t *s, size_t n);
void dc__store_be64(uint8_t *p, uint64_t v);
uint64_t dc__load_be64(const uint8_t *p);
void dc__store_be32(uint8_t *p, uint32_t v);
uint32_t dc__load_be32(const uint8_t *p);

/* The name of a dc_role value ("reader", "member", "admin"), or NULL. */
const char *dc__role_name(int role);

/* ---- JSON text (json.c) ---- */
/* Appends s (n bytes of valid UTF-8) as a JSON string literal. */
int dc__json_str(dc_buf *b, const char *s, size_t n);
/* Reads the JSON string literal at p into out (UTF-8, no NUL inside);
 * returns the position after it, or NULL if malformed. */
const char *dc__json_read_string(const char *p, dc_buf *out);

typedef struct dc__value {
    int kind;        /* dc_kind */
    int64_t num;     /* DC_BOOL, DC_INT; DC_FLOAT: the double's bits (dc__real) */
    const char *str; /* DC_STR, DC_BYTES: not NUL-terminated in decoded bodies */
    uint32_t len;
} dc__value;

/* A DC_FLOAT value's number, and the value of a number. */
static inline double dc__real(const dc__value *v) {
    double d;
    memcpy(&d, &v->num, sizeof d);
    return d;
}
static inline dc__value dc__value_real(double d) {
    dc__value v = {DC_FLOAT, 0, NULL, 0};
    memcpy(&v.num, &d, sizeof d);
    return v;
}

/* The same value (kind and content; floats compared as numbers). */
bool dc__value_eq(const dc__value *a, const dc__value *b);

/* A value as JSON: null, true/false, a decimal integer, a string, a
 * number with a point or an exponent (a float: the shortest digits that
 * read back as the same double), or {"@bytes":"<base64>"}; null for a NULL
 * `v` (a field that is absent).  The library's one writer of values as
 * JSON: the dump, the JSON reads and the domain's JSON edges all call it. */
int dc__json_value(dc_buf *b, const dc__value *v);

/* Called per key of a flat object; the value's string is valid only during
 * the call.  A non-zero return stops the walk and is returned. */
typedef int (*dc__json_field_fn)(void *user, const char *key, const dc__value *v);
/* Walks a flat JSON object of strings, integers, booleans and nulls (the
 * shape of cards and stored events).  0, DC_ECORRUPT, or fn's return. */
int dc__json_flat_each(const char *json, dc__json_field_fn fn, void *user);

/* ---- the platform (os.c) ---- */
int64_t dc__os_mono_ms(void); /* a monotonic clock, in ms */
void dc__os_sleep_ms(int ms);
/* The system clock, in ms since 1970 (for notes, never for ordering). */
int64_t dc__os_wall_ms(void);

/* ---- hybrid logical clock (hlc.c) ----
 * A timestamp is (physical ms << 16) | counter: 48 bits of milliseconds since
 * the Unix epoch (good to the year 10889) and a 16-bit logical counter. */
typedef uint64_t dc_hlc;
#define DC_HLC_MS(h) ((int64_t)((h) >> 16))
#define DC_HLC_MAKE(ms, c) ((((uint64_t)(ms)) << 16) | (uint64_t)(c))

typedef struct dc__clock {
    dc_hlc last;     /* the highest timestamp issued or received */
    dc_clock_fn now; /* wall clock; NULL = system clock */
    void *now_user;
    int64_t max_skew_ms; /* remote timestamps beyond now+this are held */
    int64_t offset_ms;   /* correction learnt from a relay, added to the wall clock */
    int64_t lead_ms;     /* during a direct sync: how far the peer's clock leads ours
                          * (0..DC_PEER_LEAD_MAX_MS), added to the bound of held stamps */
} dc__clock;

/* How far a direct (non-relay) peer's clock may lead ours and still have its
 * changes accepted in that session: two phones whose clocks differ by hours
 * sync at once; beyond this, changes wait for our clock (or a relay sync). */
#define DC_PEER_LEAD_MAX_MS (7LL * 24 * 3600 * 1000)
/* A relay's clock is adopted only if it reads a plausible time (2020-01-01
 * to 2200-01-01): a relay whose own clock is broken corrects nobody. */
#define DC_PLAUSIBLE_MIN_MS INT64_C(1577836800000)
#define DC_PLAUSIBLE_MAX_MS INT64_C(7258118400000)

int64_t dc__clock_wall_ms(const dc__clock *c);
/* 0 if the wall clock (with its correction) reads a time a timestamp can
 * hold, else DC_ECLOCK with a message.  Every call that writes checks it. */
int dc__clock_check(const dc__clock *c, dc__err *err);
/* True for a time in ms that a timestamp can hold (1970 to the year 10889). */
bool dc__clock_ms_valid(int64_t ms);
#define DC_HLC_MAX_MS ((int64_t)((UINT64_C(1) << 48) - 1))
/* The next local timestamp: strictly greater than every earlier one. */
dc_hlc dc__clock_tick(dc__clock *c);
/* The latest millisecond a remote timestamp may carry now: the wall clock
 * plus the allowed skew (and a direct peer's lead), or the latest stamp
 * already accepted, whichever is later. */
int64_t dc__clock_limit_ms(const dc__clock *c);
/* True when a remote timestamp is acceptable now (not too far ahead). */
bool dc__clock_acceptable(const dc__clock *c, dc_hlc remote);
/* Merge an accepted remote timestamp into the clock. */
void dc__clock_observe(dc__clock *c, dc_hlc remote);

#endif
