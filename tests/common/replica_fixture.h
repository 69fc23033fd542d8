/*
 * The replica fixture every C test shares (rather than a copy per file):
 * replicas opened in a scratch directory with a pinned clock (or the wall
 * clock, or options of the test's own), a call checked with the replica's
 * message, a space shared between two replicas through a bundle (the second
 * joins by accepting, as its user would), one replica's changes carried to
 * another (optionally accepting the invitations they bring), and a
 * replica's dump as a string.  Header-only.
 */
#ifndef DC_TEST_REPLICA_FIXTURE_H
#define DC_TEST_REPLICA_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "drivercore.h"
#include "consent.h"

typedef struct dc_test_dir {
    char path[256];
    int64_t now; /* the pinned clock, ms since the epoch */
} dc_test_dir;

static inline int64_t dc_test_pinned(void *user) {
    return ((const dc_test_dir *)user)->now;
}

/* A scratch directory $TMPDIR/dc-<tag>-XXXXXX (/tmp without TMPDIR), the
 * clock pinned at 2026-01-01 00:00 UTC; 0 or -1. */
static inline int dc_test_dir_make(dc_test_dir *d, const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(d->path, sizeof d->path, "%s/dc-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    d->now = 1767225600000; /* 2026-01-01 00:00 UTC */
    return mkdtemp(d->path) ? 0 : -1;
}

static inline int dc_test_dir_remove(dc_test_dir *d) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
    return system(cmd) == 0 ? 0 : -1;
}

static inline void dc_test_ok(dc_replica *r, int rc) {
    if (rc != 0)
        fail_msg("%s: %s", dc_error_name(rc), r ? dc_replica_errmsg(r) : dc_error_last());
}

/* A replica file `name` in the directory, opened with `o` (NULL: the
 * defaults, the wall clock among them). */
static inline dc_replica *dc_test_open_with(dc_test_dir *d, const char *name,
                                            const dc_replica_options *o) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", d->path, name);
    dc_replica *r = NULL;
    if (dc_replica_open(&r, path, o))
        fail_msg("open %s: %s", path, dc_error_last());
    return r;
}

/* The options of a replica whose clock is pinned to d->now. */
static inline dc_replica_options dc_test_pinned_options(dc_test_dir *d) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = dc_test_pinned;
    o.clock_user = d;
    return o;
}

/* A replica file `name` in the directory, its clock pinned to d->now. */
static inline dc_replica *dc_test_open(dc_test_dir *d, const char *name) {
    dc_replica_options o = dc_test_pinned_options(d);
    return dc_test_open_with(d, name, &o);
}

/* A replica file `name` in the directory on the wall clock. */
static inline dc_replica *dc_test_open_wall(dc_test_dir *d, const char *name) {
    return dc_test_open_with(d, name, NULL);
}

/* A space created on `a` that `b` (if not NULL) has joined with `role`;
 * the id, to free. */
static inline char *dc_test_shared_space(dc_replica *a, dc_replica *b, int role) {
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT, bundle = DC_BUF_INIT;
    dc_test_ok(a, dc_space_create(&sp, a, "branch"));
    if (b) {
        dc_test_ok(b, dc_replica_card(&card, b));
        dc_test_ok(a, dc_space_add(a, (const char *)sp.ptr, (const char *)card.ptr, role));
        dc_test_ok(a, dc_bundle_export(&bundle, a, NULL));
        dc_test_ok(b, dc_bundle_import(b, bundle.ptr, bundle.size, NULL));
        dc_test_ok(b, dc_space_accept(b, (const char *)sp.ptr, 0));
    }
    char *id = strdup((const char *)sp.ptr);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    dc_buf_dispose(&bundle);
    return id;
}

/* Everything `from` holds, imported by `to`. */
static inline void dc_test_sync_into(dc_replica *from, dc_replica *to) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(from, dc_bundle_export(&b, from, NULL));
    dc_test_ok(to, dc_bundle_import(to, b.ptr, b.size, NULL));
    dc_buf_dispose(&b);
}

/* Everything `from` holds, imported by `to`, whose user then accepts the
 * invitations it brought. */
static inline void dc_test_sync_accept(dc_replica *from, dc_replica *to) {
    dc_test_sync_into(from, to);
    if (dc_test_accept_invitations(to) != 0)
        fail_msg("accept: %s", dc_replica_errmsg(to));
}

/* The replica's dump (dc_replica_dump), to free. */
static inline char *dc_test_dump(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_replica_dump(&b, r, NULL));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

#endif
