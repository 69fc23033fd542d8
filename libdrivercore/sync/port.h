/*
 * The port a sync session (sync/session.c) runs over: everything it asks
 * of the store it syncs, and nothing else.  Sessions belong to sync/ and
 * know no replica, no SQL and no key; a replica (replica/sync_port.c) or
 * a relay's store (relay/store_sqlite.c) fills this struct, and the same
 * session code, the same protocol, serves both (libdrivercore/README.md,
 * docs/protocol.md, "Sessions").
 *
 * What a port offers: the spaces it holds, the items (hlc, change id) of
 * a space, a bundle of items read, a bundle imported with typed counts,
 * membership (the spaces a device has a role in), and this side's device
 * key for the hello.  Every function runs on the thread calling
 * dc_sync_step.  Errors: a DC_ code with `err` filled.
 */
#ifndef DC_SYNC_PORT_H
#define DC_SYNC_PORT_H

#include "base/base.h"
#include "sync/recon.h"

/* What a responder over a store needs (a relay's: relay/store_sqlite.c). */
typedef struct dc__sync_store {
    void *user;
    /* The store's wall clock, ms since the epoch (a relay's is the one
     * devices adopt). */
    int64_t (*wall_ms)(void *user);
    /* Opens space `id` for a session: *sp is the port's handle (NULL when
     * the store does not know the space: the session then reconciles it
     * against an empty set) and *set its item set, valid until
     * space_close. */
    int (*space_open)(void *user, const uint8_t id[16], void **sp, dc__recon_set *set,
                      dc__err *err);
    void (*space_close)(void *user, void *sp);
    /* Every item of a space, in order (a space pushed whole). */
    int (*space_items)(void *user, void *sp, int (*fn)(void *, uint64_t, const uint8_t[32]),
                       void *fu, dc__err *err);
    /* Appends the envelope of item (hlc, id) to a bundle being built. */
    int (*bundle_add)(void *user, void *sp, dc_buf *bundle, uint64_t hlc, const uint8_t id[32],
                      dc__err *err);
    /* Membership: the spaces whose membership names `device` with a role. */
    int (*spaces_of)(void *user, const uint8_t device[32], int (*fn)(void *, const uint8_t[16]),
                     void *fu, dc__err *err);
    /* Imports a bundle the peer pushed, setting aside what is malformed or
     * forged, durably before it returns; `lead_ms` is how far ahead of the
     * store's clock the peer's clock may be for what it sends.  The counts
     * are typed: *fresh changes new to the store, *set_aside refused. */
    int (*import)(void *user, const uint8_t *bundle, size_t n, int64_t lead_ms, uint64_t *fresh,
                  uint64_t *set_aside, dc__err *err);
} dc__sync_store;

/* The name the relay's store knows it by. */
typedef dc__sync_store dc__sync_backend;

/* The whole port: the store, and what a replica adds (each may be NULL:
 * a responder over a store). */
typedef struct dc__sync_port {
    dc__sync_store store; /* its `user` is every function's */

    /* The side's hybrid logical clock, corrected by a trusted peer's and
     * widened by a direct peer's lead for one import (NULL: the store's
     * wall clock is authoritative and never corrected). */
    dc__clock *clock;
    /* This device's signing key (32 bytes), named in an initiator's hello. */
    const uint8_t *device;
    /* Before each step: 0 when the store may sync now (no transaction
     * open, a clock that reads a time), else why not. */
    int (*step_begin)(void *user, dc__err *err);
    /* Every space the store holds (an initiator offers them all). */
    int (*spaces)(void *user, int (*fn)(void *, const uint8_t[16]), void *fu, dc__err *err);
    /* One consistent read around the bundle_add calls of one message. */
    int (*read_begin)(void *user, dc__err *err);
    void (*read_end)(void *user);
    /* After a step (`imported`: this step imported a bundle; `done`: the
     * session ended, or is freed): the store settles what its imports left
     * (folding, observers, compaction), adding what compaction dropped and
     * the spaces that need a snapshot to the two counts. */
    void (*settle)(void *user, bool imported, bool done, uint64_t *compacted,
                   uint64_t *snapshot_needed);
    /* Records a session's error where the caller of the public API reads it
     * (a replica's dc_replica_errmsg) and returns its code (NULL: the
     * thread's last error). */
    int (*fail)(void *user, const dc__err *e);
    /* Frees `user` with the session (may be NULL). */
    void (*close)(void *user);
} dc__sync_port;

#endif
