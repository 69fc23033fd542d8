/*
 * crdt — the total order every merge rule stands on.  An op's clock is
 * (hybrid logical timestamp, author device key); two ops never share both,
 * because one device's timestamps strictly increase.  The rules that use
 * it (register, set, event, delete) are documented in docs/data-model.md
 * and applied to the stored state by store/apply.c.
 */
#ifndef DC_CRDT_H
#define DC_CRDT_H

#include "base/base.h"
#include "codec/codec.h"

/* True when clock (h1, pk1) is later than (h2, pk2): by timestamp, ties
 * broken by the bytes of the device key. */
bool dc__clock_later(dc_hlc h1, const uint8_t pk1[32], dc_hlc h2, const uint8_t pk2[32]);

/* ---- membership (membership.c, docs/data-model.md "Membership") ---- */

/* One membership envelope of a space, as the replay sees it. */
typedef struct dc__menv {
    dc_hlc hlc_min;
    const uint8_t *author; /* 32 bytes */
    uint64_t seq;
    const dc__member_op *ops;
    size_t nops;
    bool valid; /* out: accepted by the replay */
} dc__menv;

/* A device has `role` for its envelopes with seq >= from, up to the next
 * segment's from. */
typedef struct dc__mseg {
    uint64_t from;
    int role;
} dc__mseg;

typedef struct dc__mapplied {
    uint64_t seq;
    uint32_t env;
    int need; /* the role it needed */
} dc__mapplied;

typedef struct dc__mdev {
    const uint8_t *pk;     /* 32 bytes, borrowed from the envelopes */
    int role;              /* of the last op naming it: 0 removed (or only an author) */
    const uint8_t *box_pk; /* from the last GENESIS or GRANT naming it, or NULL */
    const char *name;      /* from that op if it was version 1, else NULL */
    dc_hlc hlc;            /* the clock of the last op naming it (with `by`) */
    const uint8_t *by;
    dc__mseg *segs; /* its role by its own sequence numbers */
    size_t nseg, cseg;
    dc__mapplied *applied; /* its envelopes the replay accepted */
    size_t napplied, capplied;
} dc__mdev;

typedef struct dc__mres {
    dc__mdev *devs; /* every device named by an op or authoring a valid envelope */
    size_t ndev, cdev;
    uint32_t *slots; /* hash index into devs (1-based) */
    size_t nslots;
    bool has_epoch; /* a valid rotation exists; else the current key is epoch 0's */
    uint32_t epoch;
    uint8_t kid[DC_KEY_ID];
    dc_hlc epoch_hlc;
    const uint8_t *epoch_by;
    size_t nadmin;   /* devices whose role from now on is admin */
    size_t restarts; /* how often the replay had to start again */
} dc__mres;

/* Resolves the membership of one space from all its membership envelopes
 * (any order): fills `m` (zero it first; free with dc__mres_free) and sets
 * each envelope's `valid`.  The envelopes must outlive `m`. */
int dc__membership_resolve(dc__mres *m, dc__menv *envs, size_t n, dc__err *err);
void dc__mres_free(dc__mres *m);
const dc__mdev *dc__mres_find(const dc__mres *m, const uint8_t pk[32]);
/* The role a device holds for its envelope with sequence number seq. */
int dc__mres_role_at(const dc__mres *m, const uint8_t pk[32], uint64_t seq);
int dc__mseg_role_at(const dc__mseg *segs, size_t n, uint64_t seq);

#endif
