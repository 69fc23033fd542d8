/*
 * The replica's narrow face to the folders above it that are not the
 * public API: the relay (relay/) and the sync client (client/).  What a
 * sync session needs of a replica is the port of sync/port.h, which
 * replica/sync_port.c fills; what a relay serving a replica
 * (relay/store_replica.c), a relay's challenge signed by a device
 * (relay/sign.c) and the sync client (client/client.c) need is here:
 * membership, signing, the handle's error and clock, a sync's outcome
 * recorded — nothing of the handle's insides, the store or the keys.
 */
#ifndef DC_REPLICA_PORT_H
#define DC_REPLICA_PORT_H

#include "base/base.h"
#include "drivercore/replica.h"

/* Records an error on the handle (dc_replica_errmsg) and returns code. */
int dc__fail(dc_replica *r, int code, const char *fmt, ...) DC__PRINTF(3, 4);
/* Copies an error record onto the handle and returns its code. */
int dc__fail_err(dc_replica *r, const dc__err *e);
/* Clears the handle's error: a public call begins. */
void dc__replica_err_clear(dc_replica *r);

/* The replica's wall clock, ms since the epoch, with the correction a
 * relay's clock taught it. */
int64_t dc__replica_now_ms(dc_replica *r);

/* Records the outcome of a sync with `peer` after `attempts` attempts, as
 * dc_replica_sync_status reads it: success when `reason` is NULL, else the
 * failure's kind (`reason`) and message (`why`).  Best effort: a failure
 * to record leaves the previous outcome. */
void dc__replica_note_sync(dc_replica *r, const char *peer, uint64_t attempts, const char *reason,
                           const char *why);

/* Is `device` a member (any role) of `space`, by the membership this
 * replica holds?  Reads only clear membership: no key needed. */
bool dc__replica_is_member(dc_replica *r, const uint8_t space[16], const uint8_t device[32]);

/* Does this replica hold `space` at all? */
bool dc__replica_knows(dc_replica *r, const uint8_t space[16]);

/* Calls fn with each member device (any role) of `space`, in key order. */
int dc__replica_space_devices(dc_replica *r, const uint8_t space[16],
                              int (*fn)(void *user, const uint8_t device[32]), void *user);

/* True while a transaction is open on the handle. */
bool dc__replica_in_txn(const dc_replica *r);

/* Signs m[0..n) with this device's key (the secret key never leaves the
 * replica's guarded memory): 0, or the handle's error (a NULL handle, a
 * file rekeyed away) recorded as any public call's. */
int dc__replica_sign(dc_replica *r, uint8_t sig[64], const uint8_t *m, size_t n);

/* How many spaces of this replica have a published compaction point it
 * misses covered history for (each needs a snapshot; the sync client
 * reports it); 0 where it cannot tell. */
uint64_t dc__compact_late_spaces(dc_replica *r);

#endif
