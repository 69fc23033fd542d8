/*
 * drivercore — common definitions: export macro, library version, the
 * caller-owned byte buffer, global initialisation and the allocator hook.
 */
#ifndef DRIVERCORE_COMMON_H
#define DRIVERCORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DC_EXTERN __declspec(dllexport)
#elif defined(__GNUC__)
#define DC_EXTERN __attribute__((visibility("default")))
#else
#define DC_EXTERN
#endif

#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 1
#define DC_VERSION_PATCH 0

/* "0.1.0": the library's version, as built. */
DC_EXTERN const char *dc_version(void);

/*
 * A byte buffer owned by the caller and filled by the library.  Initialise
 * with DC_BUF_INIT (or dc_buf_init), pass to any function that outputs
 * bytes, read `ptr`/`size`, then release with dc_buf_dispose.  The library
 * always keeps a NUL byte after `size` so text output can be used as a C
 * string.  A buffer may be reused: outputs replace its content.
 */
typedef struct dc_buf {
    uint8_t *ptr;
    size_t size;
    size_t asize; /* allocated size; 0 when ptr is not owned by the library */
} dc_buf;

#define DC_BUF_INIT                                                                                \
    { NULL, 0, 0 }

DC_EXTERN void dc_buf_init(dc_buf *b);
DC_EXTERN void dc_buf_dispose(dc_buf *b);

/*
 * Allocator hook.  All memory the library allocates itself (and zstd's,
 * through ZSTD_customMem) goes through these; secrets use libsodium's
 * guarded allocator instead.  SQLite and msgpack-c allocate on their own.
 */
/* ---- values ---- */

/* The kind of a field's value (docs/data-model.md, "Records, fields,
 * values"). */
typedef enum dc_kind {
    DC_NULL = 0,
    DC_BOOL = 1,
    DC_INT = 2,
    DC_STR = 3,
    DC_FLOAT = 4, /* a finite IEEE 754 double (change body v2) */
    DC_BYTES = 5  /* up to 1 MiB of any bytes (change body v2) */
} dc_kind;

/*
 * A value of any kind, for the calls ending in _value.  DC_BOOL and DC_INT
 * use `num`; DC_FLOAT `real` (finite: NaN and infinities are DC_EINVAL);
 * DC_STR `ptr`/`len` (valid UTF-8, no NUL needed) and DC_BYTES `ptr`/`len`
 * (at most 1 MiB).  The bytes are copied by the call.
 *
 * A change that holds a DC_FLOAT or DC_BYTES value is written as change
 * body version 2 (docs/format/body.md): a replica of a release before it
 * keeps such changes, passes them on, and applies them once upgraded.
 */
typedef struct dc_value {
    int kind;
    int64_t num;
    double real;
    const void *ptr;
    size_t len;
} dc_value;

typedef struct dc_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} dc_allocator;

typedef struct dc_global_options {
    unsigned int version;          /* DC_GLOBAL_OPTIONS_VERSION */
    const dc_allocator *allocator; /* NULL: the C library's malloc */
} dc_global_options;

#define DC_GLOBAL_OPTIONS_VERSION 1
#define DC_GLOBAL_OPTIONS_INIT                                                                     \
    { DC_GLOBAL_OPTIONS_VERSION, NULL }

/*
 * Initialise the library: calls sodium_init() and sqlite3_initialize() and
 * installs the allocator.  Idempotent and thread-safe; every other function
 * initialises what it needs implicitly with default options, so calling it
 * is needed only to set an allocator, which must then happen before any
 * other drivercore call (calling it at start-up also keeps SQLite's one-time
 * set-up out of the first dc_replica_open; an application that configures
 * SQLite itself with sqlite3_config must do so before, as SQLite requires
 * it before sqlite3_initialize).  `opts` may be NULL.  Returns 0,
 * DC_EINVAL for an unknown options version, or DC_ERROR if libsodium or
 * SQLite cannot initialise.
 */
DC_EXTERN int dc_global_init(const dc_global_options *opts);

#ifdef __cplusplus
}
#endif
#endif
