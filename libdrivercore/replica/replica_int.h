/*
 * Private to replica/: the dc_replica handle and the steps the public
 * functions share — sealing and storing a new envelope, ingesting a
 * received one, and telling observers.
 */
#ifndef DC_REPLICA_INT_H
#define DC_REPLICA_INT_H

#include "base/base.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "replica/import_port.h"
#include "replica/port.h"
#include "store/store.h"

struct dc_txn;

struct dc_replica {
    dc__store *st;
    dc__identity *id;
    int64_t self_did;
    char device_hex[65];
    char name[128];
    dc__clock clock;
    dc__err err;
    dc_observer_fn obs;
    void *obs_user;
    struct dc_live *live; /* live queries (live.c), newest first */
    int live_firing;      /* inside dc__live_fire: closes are deferred */
    int64_t data_version; /* as dc_replica_refresh last saw it (0: never) */
    struct dc_txn *txn;   /* the open transaction, if any */
    void *cctx, *dctx;    /* zstd contexts, reused */
    /* The last space key used, in guarded memory allocated once: a
     * sodium_malloc per change costs an mmap and an mprotect, a measurable
     * share of a merge.  A (space, epoch) key never changes once stored. */
    uint8_t *key;
    int64_t key_sid;
    uint32_t key_epoch;
    uint8_t key_kid[DC_KEY_ID];
    dc_buf body, zbody; /* scratch for encode/decode */
    /* Another copy uses this identity (recover.c): the mark in the file,
     * and, during an import, what showed it (persisted when it ends). */
    bool cloned;
    bool clone_seen;
    char clone_why[160];
    /* dc_replica_read_begin's nesting, and whether the outermost began a
     * read transaction (reading.c). */
    int read_depth;
    bool read_began;
};

/* dc__fail and dc__fail_err: replica/port.h. */
/* Validates a handle at the API boundary. */
#define DC__CHECK(r)                                                                               \
    do {                                                                                           \
        if (!(r))                                                                                  \
            return dc__last_set(DC_EMISUSE, "%s: the replica handle is NULL", __func__);           \
        dc__err_clear(&(r)->err);                                                                  \
        if (!dc__store_alive((r)->st))                                                             \
            return dc__fail((r), DC_EIO,                                                           \
                            "the replica file was rekeyed but could not be reopened; close this "  \
                            "handle and open the file again with the new key");                    \
    } while (0)

/* DC_EBUSY, saying why, while a read snapshot (dc_replica_read_begin) is
 * open on the handle: only reads belong inside one. */
int dc__replica_writable(dc_replica *r, dc__err *err);
/* Begins a write transaction (dc__store_begin) and brings the clock up to
 * what any handle on this file has stored, so that several handles (a UI
 * thread's and a sync thread's) may write one file. */
int dc__replica_begin(dc_replica *r, dc__err *err);

/* Parses a 32-char hex space id. */
int dc__space_id_parse(dc_replica *r, const char *hex, uint8_t id[16]);
/* Begins a write on `space` (hex id) by this device, the clock checked:
 * *sp is filled and *role gets the device's role there (0: none); on
 * failure nothing is left begun.  The caller checks the role it needs. */
int dc__space_begin(dc_replica *r, const char *space, dc__space *sp, int *role, dc__err *e);

/* Encode-side: seal a body as a new envelope of this device in `sp`, store
 * it in the log (applied state) and advance the space's sequence number.
 * Must run inside a store transaction.  `env_out` (may be NULL) receives the
 * envelope, `id_out` its change id. */
int dc__envelope_new(dc_replica *r, dc__space *sp, int kind, const uint8_t *body, size_t n,
                     dc_hlc hlc_min, dc_hlc hlc_max, dc_buf *env_out, uint8_t id_out[32],
                     dc__err *e);

/* The key of (sid, epoch) with id `kid` (NULL: any key of that epoch),
 * from the one-slot cache or the store; NULL with DC_ENOKEY (or another
 * error) in err when there is none. */
const uint8_t *dc__space_key(dc_replica *r, int64_t sid, uint32_t epoch, const uint8_t *kid,
                             dc__err *err);
/* The key this device writes `sp` with: its current epoch's. */
const uint8_t *dc__space_write_key(dc_replica *r, const dc__space *sp, dc__err *err);

/* The plaintext body of a stored change (decrypted, decompressed) into
 * `out`, which the caller wipes. */
int dc__change_plain(dc_replica *r, const dc__envelope *e, int64_t sid, dc_buf *out, dc__err *err);

/* ---- clones (recover.c, docs/recovery.md) ---- */
/* At open: loads the clone mark, records or compares the install id. */
int dc__clone_open(dc_replica *r, const char *install_id, dc__err *err);
/* An import met an envelope signed by this device's own key that the
 * replica does not hold: remembered on the handle (`why` a JSON object),
 * persisted by dc__clone_persist once the import's transaction ended. */
void dc__clone_seen(dc_replica *r, const char *why, const uint8_t space[16], uint64_t seq);
void dc__clone_persist(dc_replica *r);
/* DC_ECLONED recorded on the replica, with what to do, when it is cloned;
 * else 0.  Every call that signs with the identity asks first. */
int dc__clone_refuse(dc_replica *r, const char *what);
/* Appends ,"cloned":{...}|null,"previous":HEX|null to a status object. */
int dc__clone_status_json(dc_replica *r, dc_buf *out);

/* 0 if this device has accepted `sp` (its records may be read), else
 * DC_EDENIED recorded on the replica with what to do. */
int dc__space_readable(dc_replica *r, const dc__space *sp);

/* Seals and stores one membership envelope of this device's ops (body
 * version 2) in `sp`, inside an open store transaction; the caller has it
 * judged by marking the space dirty (dc__ingest_dirty). */
int dc__membership_write(dc_replica *r, dc__space *sp, const dc__member_op *ops, size_t n,
                         dc__err *e);

/* Live queries (live.c): a record of (space, type) changed — marks the
 * live queries on it; then, once the change is durable and announced,
 * re-runs the marked ones and delivers what changed. */
void dc__live_touch(dc_replica *r, const char *space, const char *type);
void dc__live_fire(dc_replica *r);
/* Detaches every live query (the replica is closing). */
void dc__live_detach(dc_replica *r);
/* A digest of a query result (reading.c): equal results, equal digests. */
void dc__records_digest(const dc_records *rs, uint8_t out[32]);
/* Query options as this version reads them (NULL: the defaults; a
 * version 1 struct: its fields only) with where_value checked present:
 * 0, or an error on the replica naming `what` (reading.c). */
int dc__query_options_read(dc_replica *r, const char *what, const dc_query_options *in,
                           dc_query_options *out);

/* Calls the observer for each touched record (after commit). */
int dc__notify(dc_replica *r, dc__touched *t, const char *origin);
/* Calls the observer for each record the ops of a local commit name. */
int dc__notify_ops(dc_replica *r, const uint8_t space[16], const dc__op *ops, size_t n,
                   const char *origin);
/* Folds what is pending into the state, adding the records that moved to
 * `t`, then tells the observer of every record in `t` (after an import, a
 * release or a re-judging, once committed).  A failed fold leaves the
 * changes pending, to be folded by the next read, and returns its error in
 * err; DC_EUSER when the observer stopped the notifications. */
int dc__fold_notify(dc_replica *r, dc__touched *t, dc__err *err);

/* Decrypt, decompress and decode a verified change envelope, and check
 * that its author held the role its ops need for its sequence number (the
 * role it held for that number: `role`, or -1 to look it up)
 * (member; admin for ops on the library's own records, types beginning
 * with '@').  *need (may be NULL) receives that role.  0: it may be applied
 * (stored applied and put in `pending` by the caller); DC_EDENIED when the
 * author lacked the role; a bad body's own error otherwise.  `keep` (may
 * be NULL) receives, when it may be applied, the decoded body with its
 * plaintext, for the fold (dc__store_pending_add_opened). */
int dc__change_check(dc_replica *r, const dc__envelope *e, int64_t sid, int64_t author_did,
                     int role, int *need, dc__opened *keep, dc__err *err);

/* ---- receiving envelopes (bundle_io.c, authority.c) ---- */

/* Import flags: set aside (record and skip) forged, conflicting or broken
 * envelopes instead of refusing the whole bundle. */
#define DC__IMPORT_SET_ASIDE 1u
/* ... and fold late (a sync session): what an earlier import left pending
 * is folded first, while this import's signatures are checked on the
 * other cores, and this import's changes are left pending for the caller
 * to fold (at its next import, or with dc__fold_notify when it ends). */
#define DC__IMPORT_FOLD_LATE 2u

/* One import or release in progress, inside a store transaction. */
/* ---- signatures checked ahead (verify.c) ---- */
typedef struct dc__span {
    const uint8_t *p;
    size_t n;
} dc__span;
typedef struct dc__verifier dc__verifier;
/* Starts threads checking the signatures of envelopes v[0..n) ahead of the
 * caller (none for a few envelopes or one core): DC_ENOMEM or 0. */
int dc__verifier_start(dc__verifier **out, const dc__span *v, size_t n);
/* The signature of envelope i (parsed as e): 0 or DC_EBADSIG with err,
 * exactly as dc__envelope_verify; vf may be NULL (then it checks here). */
int dc__verifier_check(dc__verifier *vf, size_t i, const dc__envelope *e, dc__err *err);
/* Lets `ms` milliseconds pass (an import's pause between slices, its
 * write lock let go) checking signatures ahead meanwhile, so that the core
 * is not idle; sleeps what is left when none is left to check.  vf may be
 * NULL. */
void dc__verifier_pause(dc__verifier *vf, int ms);
void dc__verifier_stop(dc__verifier *vf);
/* A verifier answering from a precheck (no threads). */
int dc__verifier_prechecked(dc__verifier **out, const uint8_t *checked, size_t n);

typedef struct dc__ingest {
    dc_replica *r;
    unsigned flags;
    dc__import_counts n;
    dc__touched touched;
    int64_t *dirty; /* spaces whose membership envelopes changed */
    size_t ndirty, cdirty;
    int64_t *keyed; /* spaces with changes to re-try: a key came, or authority */
    size_t nkeyed, ckeyed;
    int64_t *prov; /* membership envelopes stored by this import, to count */
    size_t nprov, cprov;
    uint8_t c_space[16], c_author[32]; /* the last envelope's space and author rows */
    int64_t c_sid, c_did;
    dc__verifier *vf; /* the import's signatures, checked ahead (may be NULL) */
    size_t at;        /* the index of the envelope being ingested, for vf */
    dc__err err;
} dc__ingest;

/* Imports a bundle (all or nothing unless DC__IMPORT_SET_ASIDE). */
int dc__import(dc_replica *r, const uint8_t *data, size_t size, unsigned flags,
               dc__import_counts *counts);

/* Notes that the membership of space `sid` changed in this ingest. */
int dc__ingest_dirty(dc__ingest *g, int64_t sid);
/* Notes that changes of `sid` kept opaque may apply now. */
int dc__ingest_keyed(dc__ingest *g, int64_t sid);
/* Resolves the membership of every dirty space and settles what follows
 * from it: keys sealed to this device, consent, changes whose author's
 * authority moved (re-judged; the state rebuilt if an applied one lost
 * it), held and opaque changes that may now apply.  Repeats until nothing
 * moves. */
int dc__ingest_settle(dc__ingest *g);
/* Settles (dc__ingest_settle) and then releases held changes whose time
 * has come and opaque changes of the spaces noted keyed, until nothing
 * moves.  Inside the caller's store transaction. */
int dc__ingest_finish(dc__ingest *g);
/* Compacts space `sid` to its effective point when it holds it (replica/
 * compact.c), inside the open transaction; *late (may be NULL): it misses
 * covered history and needs a snapshot. */
int dc__compact_apply(dc_replica *r, int64_t sid, bool *late, dc__err *e);
/* The clear compaction points of `sid` (docs/relay.md, "Compaction"), in a
 * store that never reads the space (a relay's): its log is compacted to the
 * maximum of the valid points of its membership just resolved (res), and
 * the attachment objects a newly valid point lists as dead are deleted.
 * Inside the open transaction.  A device's replica compacts by the
 * encrypted point instead. */
struct dc__mresolved;
int dc__compact_clear(dc_replica *r, int64_t sid, const struct dc__mresolved *res, dc__err *e);
/* Compacts, each in a transaction of its own, the spaces whose published
 * point a fold of this handle has just moved (docs/data-model.md,
 * "Compaction"), to their effective point where this replica holds it;
 * adds the envelopes dropped to *dropped and the spaces it cannot compact
 * (it misses covered history: a snapshot is needed) to *late (either may
 * be NULL).  Cheap when no point moved.  Called once an import ends; an
 * error leaves the space as it was (the import stands). */
int dc__compact_auto(dc_replica *r, uint64_t *dropped, uint64_t *late);
/* Appends ,"compaction":[...] to a status object: per space compacted or
 * with a published point, its compacted and published points' sizes, the
 * envelopes dropped so far, and whether it misses covered history (the
 * authors it misses) — docs/data-model.md, "Compaction". */
int dc__compact_status_json(dc_replica *r, dc_buf *out, dc__err *e);
/* Records an item set aside, with the message in g->err, and clears it. */
int dc__ingest_set_aside(dc__ingest *g, const dc__envelope *e, int code);
void dc__ingest_free(dc__ingest *g);

#endif
