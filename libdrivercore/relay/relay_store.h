/*
 * The relay core's storage seam.  Everything the relay core (relay.c)
 * does to durable storage goes through these functions and nothing else,
 * so a second backend — several relays over a shared PostgreSQL — is a new
 * file implementing them, not a rewrite of relay.c (docs/relay.md,
 * "Scaling past one machine").  store_replica.c implements them over a
 * keyless dc_replica in one SQLite file opened durable.
 *
 * Callers serialize all calls on one store with a lock: a backend may be
 * single-threaded.
 */
#ifndef DC_RELAY_STORE_H
#define DC_RELAY_STORE_H

#include "base/base.h"
#include "drivercore/sync.h"
#include "replica/sync_int.h"

typedef struct dc__relay_store dc__relay_store;

/* Opens (creating if absent) the durable store at `path`. */
int dc__relay_store_open(dc__relay_store **out, const char *path, dc_clock_fn clock,
                         void *clock_user, dc__err *err);
/* A store over a replica the caller opened and keeps (a tablet serving
 * phones: `drivercore serve`); close leaves the replica open. */
int dc__relay_store_wrap(dc__relay_store **out, dc_replica *r, dc__err *err);
void dc__relay_store_close(dc__relay_store *st);

/* A responder sync session for the authenticated `device`, whose spaces
 * are filtered by `allow` (called during steps, under the caller's lock). */
int dc__relay_store_session_new(dc_sync **out, dc__relay_store *st, const uint8_t device[32],
                                dc__sync_filter_fn allow, void *user, dc__err *err);
/* One responder step: reads the item sets, imports the pushed bundle
 * (committed durably before it returns), builds the reply. */
int dc__relay_store_session_step(dc__relay_store *st, dc_sync *s, dc_buf *out, int *done,
                                 const uint8_t *in, size_t n, dc__err *err);
void dc__relay_store_session_free(dc__relay_store *st, dc_sync *s);

/* Is `device` a member (any role) of `space` by the signed membership
 * held?  Does the store hold `space` at all? */
bool dc__relay_store_is_member(dc__relay_store *st, const uint8_t space[16],
                               const uint8_t device[32]);
bool dc__relay_store_knows(dc__relay_store *st, const uint8_t space[16]);
/* The member devices of `space`, in key order: *devs (dc__malloc'd array
 * of 32-byte keys, NULL when none) and *n. */
int dc__relay_store_members(dc__relay_store *st, const uint8_t space[16], uint8_t (**devs)[32],
                            size_t *n, dc__err *err);

/* The replica behind a store (the attachment endpoints, relay/attach.c,
 * keep their objects in its tables). */
dc_replica *dc__relay_store_replica(dc__relay_store *st);

/* The relay's store, under its store lock (relay.c): every call on it
 * between lock and unlock is serialised with the sync steps. */
struct dc_relay;
dc__relay_store *dc__relay_store_lock(struct dc_relay *rl);
void dc__relay_store_unlock(struct dc_relay *rl);

#endif
