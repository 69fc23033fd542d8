/*
 * The replica's face to the attachment objects, for the folders above it
 * that are not the public API (docs/attachments.md): the relay's
 * attachment endpoints (relay/attach.c: which objects are held, store one a
 * writer pushes, serve one to a member) and the client's attachment phase
 * (client/attach_sync.c: what to push, what to fetch, taking in what came).
 * Implemented in replica/attach_port.c over the store; nothing of the
 * handle's insides, the store or the keys shows.  Every call is made
 * outside any transaction of the handle, by one thread at a time (the
 * relay holds its store lock).
 */
#ifndef DC_REPLICA_ATTACH_PORT_H
#define DC_REPLICA_ATTACH_PORT_H

#include "base/base.h"
#include "drivercore/replica.h"

/* A space as this port names it: its id, and the row the replica keeps
 * it under (opaque to the caller). */
typedef struct dc__att_space {
    uint8_t id[16];
    int64_t row;
} dc__att_space;

/* A growing list of 32-byte ids (dc__malloc'd; free p). */
typedef struct dc__ids {
    uint8_t *p;
    size_t n, cap;
} dc__ids;
/* Appends an id (a callback for the store's walks): 0 or DC_ENOMEM.
 * _add16 stores a 16-byte id in a zero-padded slot. */
int dc__ids_add(void *user, const uint8_t id[32]);
int dc__ids_add16(void *user, const uint8_t id[16]);

/* The space `id`: DC_ENOTFOUND (err set) when this replica does not hold it. */
int dc__att_space_get(dc_replica *r, const uint8_t id[16], dc__att_space *sp, dc__err *err);
/* The spaces this replica holds, each in a zero-padded 32-byte slot of
 * *out (free out->p). */
int dc__att_spaces(dc_replica *r, dc__ids *out, dc__err *err);
/* The role of `device` in `sp` (*role 0 when it is no member). */
int dc__att_role(dc_replica *r, const dc__att_space *sp, const uint8_t device[32], int *role,
                 dc__err *err);
/* The storage quota's figures (docs/relay.md, "Limits"): *solo, is
 * `device` the only member of `space` (or is the space not held); and when
 * it is, *held, the bytes the device stores in such spaces. */
int dc__att_solo(dc_replica *r, const uint8_t space[16], const uint8_t device[32], bool *solo,
                 int64_t *held, dc__err *err);

/* ---- objects (manifests and chunks, as sent: sealed) ---- */
/* The framing of an object received (dc__att_parse): *kind, or
 * DC_ECORRUPT / DC_EVERSION with a message on err.  Checks no AEAD: a
 * relay holds no key. */
int dc__att_obj_kind(const uint8_t *p, size_t n, int *kind, dc__err *err);
/* The 16 bytes naming a peer by its address (`base`, the relay's URL) in
 * the record of what was sent where. */
void dc__att_peer_id(uint8_t out[16], const char *base);
int dc__att_obj_has(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], bool *has,
                    dc__err *err);
/* Stores an object of `kind` (dc__att_parse), stamped with the replica's
 * clock; *fresh: it was not held before. */
int dc__att_obj_put(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], int kind,
                    const uint8_t *p, size_t n, bool *fresh, dc__err *err);
/* The object's bytes (replacing out's); DC_ENOTFOUND when not held. */
int dc__att_obj_get(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], dc_buf *out,
                    dc__err *err);
int dc__att_obj_drop(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], dc__err *err);
/* fn with each object of `sp` not yet known to be on `peer` (16 bytes
 * naming it), up to `max`, chunks before manifests. */
typedef int (*dc__att_obj_fn)(void *user, const uint8_t oid[32], int kind);
int dc__att_obj_unsent(dc_replica *r, const uint8_t peer[16], const dc__att_space *sp, size_t max,
                       dc__att_obj_fn fn, void *user, dc__err *err);
int dc__att_obj_mark_sent(dc_replica *r, const uint8_t peer[16], const dc__att_space *sp,
                          const uint8_t oid[32], dc__err *err);

/* ---- attachments ---- */
/* What this replica knows of an attachment. */
typedef struct dc__att_state {
    int64_t size;     /* -1: its manifest is not opened here yet */
    int64_t nchunks;  /* chunks it has */
    uint32_t present; /* chunks held */
    bool want;        /* asked for (fetch it whatever the policy) */
} dc__att_state;
/* DC_ENOTFOUND (err set) when the attachment has no row here. */
int dc__att_state_get(dc_replica *r, const dc__att_space *sp, const uint8_t aid[32],
                      dc__att_state *out, dc__err *err);
/* The chunks of attachment `aid` not held here, in file order (free
 * out->p); err's code 0 on DC_ENOMEM. */
int dc__att_missing(dc_replica *r, const dc__att_space *sp, const uint8_t aid[32], dc__ids *out,
                    dc__err *err);
/* The space's fetch policy (mode 0 when none was set). */
int dc__att_policy(dc_replica *r, const dc__att_space *sp, int *mode, uint64_t *max_bytes,
                   dc__err *err);
/* The attachments of `sp` a sync should look at: every one a live record
 * references, and every one asked for.  *aids: dc__malloc'd, n x 32. */
int dc__att_wanted(dc_replica *r, const dc__att_space *sp, uint8_t **aids, size_t *n, dc__err *err);
/* Checks a manifest object received for attachment `aid` (framing, AEAD,
 * and that its content hashes to `aid`) and stores it with its chunk list;
 * a chunk object received under id `cid` (framing, AEAD, and that its
 * plaintext hashes to `cid`).  DC_ECORRUPT / DC_EVERSION / DC_ETOOBIG with
 * a message on err; DC_ENOKEY when the key of its epoch is not here. */
int dc__att_receive_manifest(dc_replica *r, const dc__att_space *sp, const uint8_t aid[32],
                             const uint8_t *obj, size_t n, dc__err *err);
int dc__att_receive_chunk(dc_replica *r, const dc__att_space *sp, const uint8_t cid[32],
                          const uint8_t *obj, size_t n, dc__err *err);

#endif
