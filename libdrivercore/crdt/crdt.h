/*
 * crdt — the total order every merge rule stands on.  An op's clock is
 * (hybrid logical timestamp, author device key); two ops never share both,
 * because one device's timestamps strictly increase.  The rules that use
 * it (register, set, event, delete) are documented in docs/data-model.md;
 * record.c applies them to one record's state, for store/fold.c.
 */
#ifndef DC_CRDT_H
#define DC_CRDT_H

#include "base/base.h"
#include "codec/codec.h"

/* True when clock (h1, pk1) is later than (h2, pk2): by timestamp, ties
 * broken by the bytes of the device key. */
bool dc__clock_later(dc_hlc h1, const uint8_t pk1[32], dc_hlc h2, const uint8_t pk2[32]);

/* The same order as SQL, for the rows the store keeps per op (events):
 * true when the row's clock (HCOL, PKEXPR) is at or before the clock bound
 * to parameters ?H and ?P.  `dc__clock_later` is the rule; this is its
 * complement, written once for the statement that purges. */
#define DC__CLOCK_NOT_AFTER_SQL(HCOL, PKEXPR, H, P)                                                \
    "(" HCOL " < " H " OR (" HCOL " = " H " AND " PKEXPR " <= " P "))"

/* ---- one record's state (record.c) ---- */

/* The key of device row `did`, needed only to break a timestamp tie. */
typedef int (*dc__pk_fn)(void *user, int64_t did, uint8_t pk[32], dc__err *err);

/* A record's state as a merge sees it: registers, present set adds and
 * removed tags (sorted, as stored), and the clock of the greatest delete
 * (0 if none). */
typedef struct dc__recstate {
    dc__recdata d;
    size_t capregs, capadds, caprm;
    dc_hlc del_hlc;
    int64_t del_did;
    dc__pk_fn pk;
    void *pk_user;
    bool changed; /* set by the calls below when the state moved */
} dc__recstate;

/* Takes over a decoded state (its arrays become the state's). */
void dc__recstate_adopt(dc__recstate *r, dc__recdata *d);
void dc__recstate_free(dc__recstate *r);
/* Is an op with clock (h, pk) after the record's delete (so visible)? */
int dc__rec_visible(const dc__recstate *r, dc_hlc h, const uint8_t pk[32], bool *out, dc__err *err);
/* Register rule: the field keeps the value of the greatest clock. */
int dc__rec_set(dc__recstate *r, uint32_t fid, const dc__value *v, dc_hlc h, const uint8_t pk[32],
                int64_t did, dc__err *err);
/* Set rule (add-wins observed-remove): an add tagged (did, seq, op) is
 * present unless hidden by the delete clock or named by a remove. */
int dc__rec_add(dc__recstate *r, uint32_t fid, const dc__value *v, dc_hlc h, const uint8_t pk[32],
                int64_t did, uint64_t seq, uint32_t op, dc__err *err);
/* A remove names one tag of field `fid`: remembered, and the add goes. */
int dc__rec_remove(dc__recstate *r, uint32_t fid, int64_t did, uint64_t seq, uint32_t op,
                   dc__err *err);
/* Delete rule: the greatest delete clock is kept, and every register and
 * set add at or before it goes.  *later says whether (h, pk) became the
 * delete clock (the caller then purges the record's events likewise). */
int dc__rec_delete(dc__recstate *r, dc_hlc h, const uint8_t pk[32], int64_t did, bool *later,
                   dc__err *err);

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
