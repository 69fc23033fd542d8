/*
 * sync/recon — sans-IO range-based set reconciliation (docs/protocol.md).
 *
 * Two peers each hold a set of items (timestamp, id) — one item per change
 * of one space, the timestamp being the change's HLC and the id its
 * BLAKE2b-256 change id — and want to learn, with traffic that grows with
 * the difference rather than with the history, which items each side lacks.
 * The method is Meyer's range-based set reconciliation as Negentropy runs
 * it: compare fingerprints of ranges of the ordered items, split the ranges
 * whose fingerprints differ, and list ids once a range is small.
 *
 * This module does no I/O and touches no SQL: the item set is reached
 * through dc__recon_set (a table of function pointers) so that the store can
 * answer range sums from a tree of per-bucket sums, and the caller carries
 * the message bytes over whatever link exists.  The session tells each side
 * which of its own items the peer lacks ("send") and what it lacks itself
 * ("need": always the count, the ids too when the session runs with full
 * 32-byte ids); moving the changes themselves is the caller's business.
 *
 * Thread safety: a session is used by one thread at a time; the item set
 * must not be modified while a call on the session is running.
 */
#ifndef DC_SYNC_RECON_H
#define DC_SYNC_RECON_H

#include "base/base.h"

#define DC_RECON_ID_SIZE 32
#define DC_RECON_TS_INF UINT64_MAX /* reserved: the bound "infinity" */

/* One item.  Items are totally ordered by (ts, id), id compared as bytes. */
typedef struct dc__recon_item {
    uint64_t ts;
    uint8_t id[DC_RECON_ID_SIZE];
} dc__recon_item;

/*
 * A range bound: the items >= (ts, id zero-padded).  ts == DC_RECON_TS_INF is
 * the bound after every item.  id_len is how many bytes of the id the wire
 * carries (the rest is zero).
 */
typedef struct dc__recon_bound {
    uint64_t ts;
    uint8_t id[DC_RECON_ID_SIZE];
    uint8_t id_len;
} dc__recon_bound;

/*
 * The item hash behind fingerprints: BLAKE2b-256(id).  A range's sum is the
 * sum of its items' hashes as 256-bit little-endian integers modulo 2^256:
 * additive, so a store keeps per-bucket sums in a tree and answers any range
 * in O(log n) without scanning, and a new item updates O(log n) sums.
 */
void dc__recon_item_hash(uint8_t out[32], const uint8_t id[DC_RECON_ID_SIZE]);
void dc__recon_sum_add(uint8_t acc[32], const uint8_t x[32]); /* acc += x mod 2^256 */
void dc__recon_sum_sub(uint8_t acc[32], const uint8_t x[32]); /* acc -= x mod 2^256 */

/* -1, 0, 1 as item a sorts before, equal to, after item b. */
int dc__recon_item_cmp(const dc__recon_item *a, const dc__recon_item *b);
/* True when item `it` lies at or above bound `b`. */
bool dc__recon_item_ge_bound(const dc__recon_item *it, const dc__recon_bound *b);

/*
 * What reconciliation needs from an item set, by rank (0 = smallest item).
 * Every function returns 0 or a negative DC_ error; the session passes a
 * store's error up unchanged.  Ranks are only used within one call into the
 * session, so a store may take new items between messages.
 */
typedef int (*dc__recon_each_fn)(void *ctx, const dc__recon_item *it);
typedef struct dc__recon_set {
    void *user;
    int (*size)(void *user, size_t *out);
    /* The rank of the first item >= b (size when there is none). */
    int (*lower_bound)(void *user, const dc__recon_bound *b, size_t *out);
    /* The sum (see dc__recon_item_hash) of the items of ranks [lo, hi). */
    int (*sum)(void *user, size_t lo, size_t hi, uint8_t out[32]);
    /* The item of rank r < size. */
    int (*item)(void *user, size_t r, dc__recon_item *out);
    /* Calls fn on the items of ranks [lo, hi) in order; a non-zero return
     * from fn stops the walk and is returned. */
    int (*each)(void *user, size_t lo, size_t hi, dc__recon_each_fn fn, void *ctx);
} dc__recon_set;

/* ---- an in-memory item set (memset.c): tests, benches, small tools ----
 * A sorted array with prefix sums of the item hashes: lower_bound is a
 * binary search, a range sum two lookups and a subtraction.  Adding items
 * re-sorts and rebuilds the prefix sums lazily, on the next query. */
typedef struct dc__recon_memset dc__recon_memset;
int dc__recon_memset_new(dc__recon_memset **out);
void dc__recon_memset_free(dc__recon_memset *m);
/* Adds n items (duplicates are ignored; ts must be < DC_RECON_TS_INF). */
int dc__recon_memset_add(dc__recon_memset *m, const dc__recon_item *items, size_t n);
size_t dc__recon_memset_size(const dc__recon_memset *m);
bool dc__recon_memset_has(dc__recon_memset *m, const dc__recon_item *it);
/* The dc__recon_set view of m, valid while m lives. */
dc__recon_set dc__recon_memset_view(dc__recon_memset *m);

/* ---- a set answered from per-bucket sums a store keeps (bucketset.c) ----
 * A store cuts the items of a set, in order, into buckets and keeps for
 * each its lower bound (an item key: the first bucket's is (0, zeros)), its
 * count and the sum of its items' hashes.  The view reads the bucket rows
 * once per refresh and the items of at most a few buckets per query, so a
 * session's memory follows the buckets it touches, not the set's size. */
typedef struct dc__recon_bucket {
    uint64_t ts;
    uint8_t id[DC_RECON_ID_SIZE]; /* lower bound, inclusive */
    uint64_t n;
    uint8_t sum[32];
} dc__recon_bucket;

typedef struct dc__bucketset_src {
    void *user;
    /* Every bucket of the set, in order (*out dc__malloc'd; none: NULL, 0). */
    int (*buckets)(void *user, dc__recon_bucket **out, size_t *n);
    /* The items in [lo, hi), in order (hi NULL: to the end; *out
     * dc__malloc'd). */
    int (*items)(void *user, const dc__recon_item *lo, const dc__recon_item *hi,
                 dc__recon_item **out, size_t *n);
} dc__bucketset_src;

typedef struct dc__bucketset dc__bucketset;
int dc__bucketset_new(dc__bucketset **out, const dc__bucketset_src *src);
void dc__bucketset_free(dc__bucketset *s);
/* Forgets what was read: the next query reads the buckets again (call it
 * whenever the snapshot the store answers from may have moved). */
void dc__bucketset_refresh(dc__bucketset *s);
/* How many buckets' items were read so far. */
uint64_t dc__bucketset_loads(const dc__bucketset *s);
dc__recon_set dc__bucketset_view(dc__bucketset *s);

/* ---- the session ---- */
enum { DC_RECON_INITIATOR = 1, DC_RECON_RESPONDER = 2 };
/* Kinds of finding reported to dc__recon_options.on_found. */
enum {
    DC_RECON_SEND = 1, /* an item of ours the peer lacks (ts and id exact) */
    DC_RECON_NEED = 2  /* an id the peer has and we lack (ts unknown: 0) */
};

/*
 * Called once per finding, as soon as it is certain.  `it` is borrowed for
 * the call.  A non-zero return aborts the call into the session, which
 * returns DC_EUSER.  When on_found is NULL the session keeps the findings
 * in lists instead (dc__recon_sends, dc__recon_needs).
 */
typedef int (*dc__recon_found_fn)(void *user, int kind, const dc__recon_item *it);

typedef struct dc__recon_options {
    unsigned int version;       /* DC_RECON_OPTIONS_VERSION */
    unsigned int buckets;       /* ranges a differing range splits into: 2..64 */
    unsigned int first_buckets; /* ranges of the initiator's first message: 1..64 */
    unsigned int idlist_max;    /* a differing range of at most this many of our
                                   items is sent as an id list: 1..1024 */
    unsigned int id_bytes;      /* bytes per id in id lists (initiator): 8..32;
                                   32 sends the ids themselves and makes the
                                   NEED findings carry ids; below 32 sends salted
                                   hashes of that length and NEED is a count */
    unsigned int fp_bytes;      /* bytes of a range fingerprint (initiator): 8..16 */
    size_t max_message;         /* cap on a message, both ways: 16 KiB..64 MiB */
    const uint8_t *salt;        /* 16 bytes (initiator), or NULL for random */
    dc__recon_found_fn on_found;
    void *on_found_user;
} dc__recon_options;

#define DC_RECON_OPTIONS_VERSION 1
#define DC_RECON_MAX_MESSAGE_DEFAULT (512u << 10)
/* The defaults (docs/protocol.md, "Parameters"): 8-way splits, id lists up
 * to 32 items with 8-byte salted entries, 12-byte salted fingerprints — the
 * smallest figures that meet DESIGN.md's reconcile targets at 1,000,000
 * items (bench/reconcile.c prints them). */
#define DC_RECON_OPTIONS_INIT                                                                      \
    { DC_RECON_OPTIONS_VERSION, 8, 8, 32, 8, 12, DC_RECON_MAX_MESSAGE_DEFAULT, NULL, NULL, NULL }

typedef struct dc__recon dc__recon;

/*
 * A new session over `set` (borrowed: it must outlive the session).  `opts`
 * may be NULL for the defaults; a responder takes id_bytes, fp_bytes and the
 * salt from the initiator's first message and ignores its own.  On failure
 * *out is NULL, err says why, and the code is DC_EINVAL or DC_ENOMEM.
 */
int dc__recon_new(dc__recon **out, int role, const dc__recon_set *set,
                  const dc__recon_options *opts, dc__err *err);
void dc__recon_free(dc__recon *s);

/* The initiator's first message, into out (replacing its content). */
int dc__recon_start(dc__recon *s, dc_buf *out);

/*
 * Consumes the peer's message (p, n) and writes the reply into out.  When
 * *done is set the reconciliation is complete for this side: out then holds
 * either a last message the peer still needs (size > 0: send it) or nothing.
 * Errors: DC_ECORRUPT, DC_ETOOBIG, DC_EVERSION for a bad message (the session
 * is then unusable: start a new one), DC_EMISUSE for a call out of turn,
 * DC_EUSER from on_found, a store's error from the set.  s's error record
 * (dc__recon_err) says what failed.
 */
int dc__recon_step(dc__recon *s, dc_buf *out, bool *done, const uint8_t *p, size_t n);

const dc__err *dc__recon_err(const dc__recon *s);

/* Findings kept when on_found is NULL. */
const dc__recon_item *dc__recon_sends(const dc__recon *s, size_t *n);
const dc__recon_item *dc__recon_needs(const dc__recon *s, size_t *n);
/* Totals, kept in either case.  need_count is exact in every mode. */
uint64_t dc__recon_send_count(const dc__recon *s);
uint64_t dc__recon_need_count(const dc__recon *s);

#endif
