/*
 * store — the replica's SQLite file: schema and migrations, the change log,
 * membership, space keys, and the materialised state of records with the
 * merge rules applied (docs/storage.md).  This folder is the only one that
 * includes sqlite3.h; everything above speaks to it through this header.
 */
#ifndef DC_STORE_H
#define DC_STORE_H

#include "base/base.h"
#include "codec/codec.h"
#include "crdt/crdt.h"
#include "crypto/crypto.h"

#define DC_SCHEMA_VERSION 6

typedef struct dc__store dc__store;

/* Initialises SQLite (sqlite3_initialize, idempotent and thread-safe), as
 * dc_global_init does once for the process: 0 or DC_ERROR in err. */
int dc__store_global_init(dc__err *err);
/* Opens (or creates) the replica file.  key NULL: in clear (an encrypted
 * file is DC_EKEY).  Otherwise encrypted at rest with the key `key` gives:
 * asked with DC_KEY_OPEN for an encrypted file, DC_KEY_NEW for a new file
 * or a plaintext one, which is migrated first (docs/format/at-rest.md). */
int dc__store_open(dc__store **out, const char *path, bool must_exist, bool durable, dc_key_fn key,
                   void *key_user, dc__err *err);
void dc__store_close(dc__store *s);
bool dc__store_encrypted(const dc__store *s);
/* Re-encrypts the file under a key asked from `key` with DC_KEY_NEW (a copy
 * renamed into place), closing and reopening the connection.  On failure
 * the file keeps its old key and the store is reopened on it; if even that
 * fails, the store has no connection and every later call fails. */
int dc__store_rekey(dc__store *s, dc_key_fn key, void *key_user, dc__err *err);
/* SQLite's integrity check, which reads (and so authenticates) every page:
 * 0, DC_ECORRUPT with the first problem, or the error of the read. */
int dc__store_integrity_check(dc__store *s, dc__err *err);
/* False after a rekey that could not reopen the file. */
bool dc__store_alive(const dc__store *s);

/* The WAL's checkpoints on a thread of their own (store/checkpoint.c): from
 * start to stop, a commit of this handle that leaves 1,000 frames or more
 * in the WAL has them copied back by that thread, on a connection of its
 * own, instead of in line.  NULL (nothing to stop) when it cannot help:
 * an encrypted file, one core, no thread.  Stop joins the thread once it
 * has done what it was asked. */
typedef struct dc__store_ckpt dc__store_ckpt;
dc__store_ckpt *dc__store_ckpt_start(dc__store *s);
void dc__store_ckpt_stop(dc__store *s, dc__store_ckpt *c);

/* One SQLite write transaction (BEGIN IMMEDIATE ... COMMIT). */
int dc__store_begin(dc__store *s, dc__err *err);
int dc__store_commit(dc__store *s, dc__err *err);
void dc__store_rollback(dc__store *s);
/* A read transaction (BEGIN DEFERRED): the reads until dc__store_read_end
 * see one snapshot.  read_end commits it if one is open (no-op else). */
int dc__store_read_begin(dc__store *s, dc__err *err);
void dc__store_read_end(dc__store *s);
/* The connection's page cache, in KiB (a relay's many read connections
 * keep small ones). */
int dc__store_cache_kib(dc__store *s, int kib, dc__err *err);
/* An online backup of the file at `path` (in clear) into `dest`: a
 * consistent snapshot taken while writers go on (VACUUM INTO: one read
 * transaction, compacted), written beside `dest` and renamed over it once
 * complete and checked.  DC_ENOTFOUND when there is no file at `path`. */
int dc__store_backup(const char *path, const char *dest, dc__err *err);
/* A savepoint inside the open transaction (one bundle of a group import):
 * released into the transaction, or rolled back to alone.  One at a time
 * (the log's last chunk held in memory keeps one copy for it). */
int dc__store_savepoint(dc__store *s, dc__err *err);
int dc__store_savepoint_release(dc__store *s, dc__err *err);
void dc__store_savepoint_rollback(dc__store *s);

/* ---- identity and clock ---- */
/* DC_ENOTFOUND when the replica has no identity yet. */
int dc__store_identity_load(dc__store *s, dc__identity *id, char *name, size_t cap, dc__err *err);
int dc__store_identity_save(dc__store *s, const dc__identity *id, const char *name, dc__err *err);
/* Replaces the device identity (docs/recovery.md): new key pairs, every
 * space's sequence number back to 0, no relay acknowledgement. */
int dc__store_identity_replace(dc__store *s, const dc__identity *id, dc__err *err);
int dc__store_hlc_load(dc__store *s, dc_hlc *h, dc__err *err);
int dc__store_hlc_save(dc__store *s, dc_hlc h, dc__err *err);
/* Integer values in the meta table (0 / DC_ENOTFOUND when absent). */
int dc__store_meta_get(dc__store *s, const char *key, int64_t *v, dc__err *err);
int dc__store_meta_put(dc__store *s, const char *key, int64_t v, dc__err *err);
/* Text values in the meta table (out gets the UTF-8 text and a NUL). */
int dc__store_meta_get_text(dc__store *s, const char *key, dc_buf *out, dc__err *err);
int dc__store_meta_put_text(dc__store *s, const char *key, const char *v, dc__err *err);
/* Blob values in the meta table (DC_ENOTFOUND when absent or of another
 * size). */
int dc__store_meta_blob_put(dc__store *s, const char *key, const uint8_t *p, size_t n,
                            dc__err *err);
int dc__store_meta_blob_get(dc__store *s, const char *key, uint8_t *p, size_t n, dc__err *err);
/* Every applied change of `sid` becomes opaque (its key is gone). */
int dc__store_changes_reset_opaque(dc__store *s, int64_t sid, dc__err *err);
/* After a complete sync with a relay: this device's changes of space `sid`
 * up to sequence number `seq` are durably on the relay. */
int dc__store_mark_acked(dc__store *s, int64_t sid, uint64_t seq, dc__err *err);

/* ---- devices ---- */
/* The local row id for a device public key, or DC_ENOTFOUND (err left
 * clear) when the file has no row for it; reads only. */
int dc__store_device_find(dc__store *s, const uint8_t pk[32], int64_t *did, dc__err *err);
/* The local row id for a device public key, created if absent. */
int dc__store_device(dc__store *s, const uint8_t pk[32], int64_t *did, dc__err *err);
/* The public key of a device row (into pk); 0 or an error. */
int dc__store_device_pk(dc__store *s, int64_t did, uint8_t pk[32], dc__err *err);

/* ---- spaces ---- */
/* Whether this device has agreed to a space (docs/security.md, "Consent"):
 * NONE: it only carries the space; INVITED: a grant names it, not accepted
 * yet; ACCEPTED: created or accepted here, readable; DECLINED: refused. */
enum {
    DC_CONSENT_NONE = 0,
    DC_CONSENT_INVITED = 1,
    DC_CONSENT_ACCEPTED = 2,
    DC_CONSENT_DECLINED = 3
};

typedef struct dc__space {
    int64_t sid;
    uint8_t id[16];
    uint32_t epoch; /* current key epoch */
    bool has_kid;   /* the current key is named (after a rotation) */
    uint8_t kid[DC_KEY_ID];
    uint64_t my_seq; /* last sequence number this device used here */
    bool has_key;    /* we hold the current key */
    int consent;
    int64_t inviter; /* device row of the admin whose grant invited us */
} dc__space;

/* Called with the 16-byte id of a space; non-zero stops the walk. */
typedef int (*dc__space_fn)(void *user, const uint8_t id[16]);
typedef int (*dc__sid_fn)(void *user, int64_t sid);

/* DC_ENOTFOUND if unknown. */
int dc__store_space_get(dc__store *s, const uint8_t id[16], dc__space *out, dc__err *err);
int dc__store_space_by_sid(dc__store *s, int64_t sid, dc__space *out, dc__err *err);
/* Get, or create the row of a space first seen in a bundle. */
int dc__store_space_ensure(dc__store *s, const uint8_t id[16], dc__space *out, dc__err *err);
int dc__store_space_set_seq(dc__store *s, int64_t sid, uint64_t seq, dc__err *err);
int dc__store_space_set_consent(dc__store *s, int64_t sid, int consent, int64_t inviter,
                                dc__err *err);
/* Is device `did` a member (any role) of a space, other than `sid`, that
 * this device has accepted? */
int dc__store_trusted(dc__store *s, int64_t sid, int64_t did, bool *trusted, dc__err *err);
/* fn(sid) for every space in the INVITED state. */
int dc__store_invited_each(dc__store *s, dc__sid_fn fn, void *user, dc__err *err);

/* ---- keys (members.c) ---- */
/* Stores a key of (space, epoch) under its key id; a duplicate is ignored. */
int dc__store_key_put(dc__store *s, int64_t sid, uint32_t epoch, const uint8_t key[32],
                      dc__err *err);
/* Copies the key of (sid, epoch) with id `kid` (NULL: the first of that
 * epoch) into `key` (caller's secret memory); DC_ENOKEY if absent. */
int dc__store_key_get(dc__store *s, int64_t sid, uint32_t epoch, const uint8_t *kid,
                      uint8_t key[32], dc__err *err);
/* fn for each key of `sid` (of `epoch` only when epoch >= 0); the key is
 * in guarded memory, valid during the call. */
typedef int (*dc__key_fn)(void *user, uint32_t epoch, const uint8_t kid[DC_KEY_ID],
                          const uint8_t key[32]);
int dc__store_keys_each(dc__store *s, int64_t sid, int64_t epoch, dc__key_fn fn, void *user,
                        dc__err *err);
int dc__store_keys_drop(dc__store *s, int64_t sid, dc__err *err);

/* JSON for dc_space_list / dc_space_members. */
int dc__store_space_list_json(dc__store *s, dc_buf *out, const uint8_t self[32], dc__err *err);
int dc__store_members_json(dc__store *s, dc_buf *out, int64_t sid, dc__err *err);

/* ---- membership (members.c) ---- */
typedef struct dc__member {
    int role;         /* current (display) role; 0: not a member */
    bool ever_admin;  /* some envelope of it was judged with the role admin */
    bool ever_writer; /* ... with member or admin */
    uint8_t box_pk[32];
    int64_t did;    /* its device row (0 if not a member row) */
    int64_t by_did; /* the admin whose op set the role */
} dc__member;

int dc__store_member_get(dc__store *s, int64_t sid, const uint8_t dev[32], dc__member *out,
                         dc__err *err);
/* The role device `did` held for its envelope `seq` in space `sid`. */
int dc__store_role_at(dc__store *s, int64_t sid, int64_t did, uint64_t seq, int *role,
                      dc__err *err);
/* fn for each current member (role > 0) of `sid`, in key order. */
typedef int (*dc__member_fn)(void *user, const uint8_t pk[32], const uint8_t box_pk[32], int role);
int dc__store_members_each(dc__store *s, int64_t sid, dc__member_fn fn, void *user, dc__err *err);
/* The highest sequence number of dev's envelopes this replica holds in sid. */
int dc__store_max_seq(dc__store *s, int64_t sid, const uint8_t dev[32], uint64_t *seq,
                      dc__err *err);

typedef struct dc__mchanged {
    int64_t did;
    uint8_t pk[32];
} dc__mchanged;

/* A space's membership resolved (crdt/membership.c) and written back. */
typedef struct dc__mresolved {
    dc__mres m;
    dc__menv *envs; /* its membership envelopes, with `valid` set */
    uint8_t **raw;  /* their bytes (envs and ops point into them) */
    size_t *rawlen;
    int64_t *cnos;
    int *states;
    size_t nenv;
    dc__mchanged *changed; /* devices whose authority changed */
    size_t nchanged, cchanged;
} dc__mresolved;

/* Resolves the membership of space `sid` from its applied and unauthorised
 * membership envelopes, writes members, member_auth, the envelopes'
 * states and the current epoch where they changed, and returns the result
 * (free with dc__mresolved_free). */
int dc__store_membership_resolve(dc__store *s, int64_t sid, dc__mresolved **out, dc__err *err);
void dc__mresolved_free(dc__mresolved *r);

/* A change whose fate may move with its author's authority. */
typedef struct dc__authchange {
    int64_t cno;
    uint64_t seq;
    int state;
    int need; /* role its ops need: 0 not known yet, 2 member, 3 admin */
} dc__authchange;
typedef int (*dc__authchange_fn)(void *user, const dc__authchange *c);
/* fn for each change (not membership) of author `did` in `sid` that is
 * applied, held, opaque or unauthorised, in (hlc, id) order. */
int dc__store_author_changes(dc__store *s, int64_t sid, int64_t did, dc__authchange_fn fn,
                             void *user, dc__err *err);
int dc__store_change_set_need(dc__store *s, int64_t cno, int need, dc__err *err);

/* An item set aside by an import (docs/security.md): kept for status. */
typedef struct dc__setaside {
    int64_t at_ms;
    const uint8_t *space;  /* 16 bytes or NULL */
    const uint8_t *author; /* 32 bytes or NULL */
    uint64_t seq;
    const uint8_t *cid; /* 32 bytes or NULL */
    int code;
    const char *msg;
} dc__setaside;
int dc__store_set_aside(dc__store *s, const dc__setaside *a, dc__err *err);
/* Whether an envelope (by change id) is already recorded as set aside. */
int dc__store_set_aside_has(dc__store *s, const uint8_t cid[32], bool *has, dc__err *err);

/* ---- change log ---- */
/* APPLIED: in the state.  HELD: too far in the future, waits for our
 * clock.  OPAQUE: no key yet.  REJECTED: signed by a writer but its body
 * turned out undecodable when its key arrived; kept (so it is never
 * fetched again) but never applied. */
/* UNAUTHORISED: validly signed, but its author did not hold the role it
 * needs for that sequence number by the membership known; re-judged
 * whenever the membership of its space changes (docs/data-model.md). */
enum {
    DC_CHANGE_APPLIED = 0,
    DC_CHANGE_HELD = 1,
    DC_CHANGE_OPAQUE = 2,
    DC_CHANGE_REJECTED = 3,
    DC_CHANGE_UNAUTHORISED = 4,
    /* FUTURE (since schema 3): its body is of a version newer than this
     * library reads: kept and passed on, applied once the library is
     * upgraded (the first open by a library that reads it re-tries it). */
    DC_CHANGE_FUTURE = 5
};

/* 1 if (space, author, seq) is already in the log (its id into `id`), 0 if
 * not, or an error. */
int dc__store_change_find(dc__store *s, int64_t sid, int64_t author_did, uint64_t seq,
                          uint8_t id[32], dc__err *err);
/* `need`: the role the change's ops need (0 not known yet). */
int dc__store_change_put(dc__store *s, int64_t sid, const dc__envelope *e, const uint8_t id[32],
                         int64_t author_did, int state, int need, dc__err *err);
int dc__store_change_state(dc__store *s, int64_t cno, int *state, dc__err *err);
/* The cno of the change just put (the last insert). */
int64_t dc__store_last_cno(dc__store *s);
int dc__store_change_set_state(dc__store *s, int64_t cno, int state, dc__err *err);
/* Deletes a change from the log (and from `pending`): a change compacted
 * away, or one of this device's own changes re-signed by a recovery
 * (docs/recovery.md), so that the other copy's change under the same
 * number can arrive.  The chunks of the byte stream no live change
 * overlaps any more go with it (docs/storage.md, "Schema version 8"). */
int dc__store_change_delete(dc__store *s, int64_t cno, dc__err *err);

/* The envelope stored at (off, len) of the log's byte stream (the changes
 * row's `off` and `len`): *env points into a buffer of the handle, valid
 * until the next call, dc__store_env_done or any write to the log.
 * Successive reads in stream order step along the chunks without seeking
 * again; a caller ends its reads with dc__store_env_done (before it
 * writes, and before it leaves). */
int dc__store_env(dc__store *s, int64_t off, int64_t len, const uint8_t **env, dc__err *err);
void dc__store_env_done(dc__store *s);

/* Calls fn for each change of `sid` in `state` (all spaces if sid is 0)
 * whose hlc_max is <= max_hlc, in log order.  The envelope bytes are only
 * valid during the call. */
typedef int (*dc__change_fn)(void *user, int64_t cno, int64_t sid, const uint8_t *env, size_t n);
int dc__store_changes_in_state(dc__store *s, int64_t sid, int state, dc_hlc max_hlc,
                               dc__change_fn fn, void *user, dc__err *err);

/* ---- sync support ---- */
/* Calls fn for each envelope of space `sid` that may be passed on (any
 * state but rejected), in (hlc, change id) order: the items reconciled. */
typedef int (*dc__item_fn)(void *user, uint64_t hlc, const uint8_t id[32]);
int dc__store_space_items(dc__store *s, int64_t sid, dc__item_fn fn, void *user, dc__err *err);
/* The envelope of (sid, hlc, change id) appended to a bundle being built;
 * DC_ENOTFOUND if it is not held. */
int dc__store_bundle_add_item(dc__store *s, dc_buf *bundle, int64_t sid, uint64_t hlc,
                              const uint8_t id[32], dc__err *err);
/* The member devices (any role) of a space, in key order. */
typedef int (*dc__device_fn)(void *user, const uint8_t device[32]);
int dc__store_space_devices(dc__store *s, const uint8_t space[16], dc__device_fn fn, void *user,
                            dc__err *err);
/* Every space known (held with a key, or only carried), and the spaces
 * whose membership lists `device` with any role. */
int dc__store_spaces_known(dc__store *s, dc__space_fn fn, void *user, dc__err *err);
int dc__store_spaces_of(dc__store *s, const uint8_t device[32], dc__space_fn fn, void *user,
                        dc__err *err);

/* The relay's storage quota for devices that share no space (docs/
 * relay.md, "Limits").  *solo: no device but `device` holds a role in
 * `space` (also true of a space the store does not know).  *bytes: what
 * `device` keeps in such spaces, its "solo" bytes: the envelopes it
 * authored there, and the attachment objects of those it is a member of. */
int dc__store_space_solo(dc__store *s, const uint8_t space[16], const uint8_t device[32],
                         bool *solo, dc__err *err);
int dc__store_solo_bytes(dc__store *s, const uint8_t device[32], int64_t *bytes, dc__err *err);

/* Appends every envelope held (of `space` if not NULL) to a bundle:
 * membership first, then changes in (space, hlc, id) order. */
int dc__store_export(dc__store *s, dc_buf *bundle, const uint8_t *space, dc__err *err);

/* ---- reconciliation fingerprints (fingerprint.c) ----
 * Per-bucket counts and hash sums of the items a sync offers, kept beside
 * the log in files that turned them on (a relay's store), so a session
 * reads O(buckets) rows instead of a space's whole item set. */
struct dc__recon_bucket;
struct dc__recon_item;
/* Turns them on for this file (built from the log once, in a transaction
 * of its own); every handle then keeps them in step. */
int dc__store_fp_enable(dc__store *s, dc__err *err);
bool dc__store_fp_on(const dc__store *s);
/* Keeping them: a change put in the log with `state`, and a change whose
 * state is about to become `state` (called before the row changes). */
int dc__store_fp_put(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32], int kind,
                     int state, dc__err *err);
int dc__store_fp_state(dc__store *s, int64_t cno, int state, dc__err *err);
/* An item that joins `covered_items` without leaving the offered log (one
 * that arrives covered, or an unauthorised change compacted away). */
int dc__store_fp_covered(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32],
                         dc__err *err);
/* Reading them: every bucket of `sid` in order, and its items in [lo, hi)
 * (hi NULL: to the end); both dc__malloc'd. */
int dc__store_fp_buckets(dc__store *s, int64_t sid, struct dc__recon_bucket **out, size_t *n,
                         dc__err *err);
int dc__store_fp_items(dc__store *s, int64_t sid, const struct dc__recon_item *lo,
                       const struct dc__recon_item *hi, struct dc__recon_item **out, size_t *n,
                       dc__err *err);

/* ---- materialised state (fold.c) ---- */
typedef struct dc__touched {
    int64_t *rids;
    size_t n, cap;
} dc__touched;

/* An applied change (row `cno`, `nops` ops) is put in `pending`: the state
 * takes it at the next fold.  Inside the caller's transaction. */
int dc__store_pending_add(dc__store *s, int64_t cno, uint32_t nops, dc__err *err);

/* A change body an import has already opened (decrypted, decompressed) and
 * decoded: `body`'s strings point into `plain`. */
typedef struct dc__opened {
    dc_buf plain;
    dc__body body;
} dc__opened;
/* Wipes and frees an opened body (it starts empty again). */
void dc__opened_free(dc__opened *o);
/* dc__store_pending_add of a change whose body the caller has opened: the
 * handle keeps it (taking it: *o is left empty) for its next fold, which
 * then does not open the envelope again, if the change `cid` is still row
 * `cno` when it folds.  Kept within a bound (the ops of one fold batch);
 * dropped on a rollback and at the end of every fold. */
int dc__store_pending_add_opened(dc__store *s, int64_t cno, uint32_t nops, const uint8_t cid[32],
                                 dc__opened *o, dc__err *err);

/* Folds every pending change into the state (docs/storage.md, "Folding"),
 * a window at a time: each window its own transaction when called outside
 * one, else inside the caller's.  `touched` (may be NULL) collects the
 * records whose state moved.  Every read of the state below folds first. */
int dc__store_fold(dc__store *s, dc__touched *touched, dc__err *err);
/* A handle of this process waits for another's write lock (its busy
 * handler, each poll): a fold between two windows lets the lock go then. */
void dc__store_lock_waited(void);
/* The spaces (sid) whose published compaction point (`@compact` record)
 * gained an event in this handle's folds since the last call: *sids is
 * dc__malloc'd (NULL when none), the list starts empty again. */
void dc__store_point_noticed(dc__store *s, int64_t **sids, size_t *n);
/* Has this handle left enough ops unfolded that it should fold now? */
bool dc__store_fold_due(const dc__store *s);

/* A read snapshot for many reads in a row (a walk over every space): folds
 * what is pending, then opens one read transaction in which nothing is
 * pending, so the reads until dc__store_snapshot_end see one state of the
 * file and none of them takes the file's locks again.  No write may be made
 * on this handle meanwhile.  *began is false when the caller is already in
 * a transaction (its reads are one snapshot already) or when other handles
 * kept committing while it tried (the reads then fold one by one, as
 * without it).  Returns 0 or an error; end it whatever the reads return. */
int dc__store_snapshot_begin(dc__store *s, bool *began, dc__err *err);
void dc__store_snapshot_end(dc__store *s, bool began);

/* Forgets the materialised state of space `sid` (its records' registers,
 * set adds and removes, events) and puts every applied change of it back
 * in `pending`, so that the next fold rebuilds it from the log. */
int dc__store_state_clear(dc__store *s, int64_t sid, dc__err *err);
/* Adds every record row of `sid` to `t` (observers of a rebuild). */
int dc__store_space_rids(dc__store *s, int64_t sid, dc__touched *t, dc__err *err);

/* The set adds of (record, field, value) visible now: their tags, for a
 * remove.  *tags is allocated with dc__malloc. */
int dc__store_observed_tags(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id,
                            const dc__str *field, const dc__value *v, dc__tag **tags,
                            uint32_t *ntags, dc__err *err);

/* Record (space hex, type, id) of a touched rid, for observers. */
int dc__store_record_name(dc__store *s, int64_t rid, char space_hex[33], dc_buf *type, dc_buf *id,
                          dc__err *err);

/* ---- history compaction (compact.c, docs/storage.md "Compaction") ---- */
/* One author's sequence number in a version vector (a point, a holding). */
typedef int (*dc__vent_fn)(void *user, int64_t did, const uint8_t pk[32], uint64_t seq);
/* fn for each author of the point space `sid` is compacted to, by key. */
int dc__store_compact_points(dc__store *s, int64_t sid, dc__vent_fn fn, void *user, dc__err *err);
/* Is change `seq` of author `did` at or below the compacted point? */
int dc__store_compact_covered(dc__store *s, int64_t sid, int64_t did, uint64_t seq, bool *covered,
                              dc__err *err);
/* Is change `seq` of the author with key `pk` in the space with id `space`
 * at or below the point that space is compacted to here?  Reads only (a
 * relay's read connection asks it of a bundle in the shared log): a space
 * or author this file does not know is not covered. */
int dc__store_covered_by_point(dc__store *s, const uint8_t space[16], const uint8_t pk[32],
                               uint64_t seq, bool *covered, dc__err *err);
/* Envelopes the file dropped by compaction so far, every space together
 * (the sum of dc__store_compact_dropped). */
int dc__store_compact_dropped_all(dc__store *s, int64_t *n, dc__err *err);
/* The sum of every compaction point's sequence numbers in the file: it
 * moves whenever a point is raised. */
int dc__store_compact_mark(dc__store *s, int64_t *mark, dc__err *err);
/* Is item (hlc, cid) of `sid` one compacted away here (its envelope dropped,
 * its item kept in `covered_items` so that reconciliation still counts it
 * held)? */
int dc__store_covered_has(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32],
                          bool *held, dc__err *err);
/* Records item (hlc, cid) of `sid` as covered: a verified envelope at or
 * below the point arrived and was dropped (a member that started from a
 * snapshot learns the items of the history it never held this way, once). */
int dc__store_covered_note(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32],
                           dc__err *err);
/* fn for each author of `sid`: the highest seq s such that this replica
 * holds every envelope of that author up to s applied (changes; also
 * unauthorised ones with `unauth`) or kept (membership), the compacted ones
 * included; authors at 0 are skipped. */
int dc__store_held_prefix(dc__store *s, int64_t sid, bool unauth, dc__vent_fn fn, void *user,
                          dc__err *err);
/* Compacts `sid` to the point (dids[i], seqs[i]) raised over the current
 * one, inside the caller's transaction: the covered changes folded into the
 * base (unauthorised ones applied first: covered changes are final), their
 * envelopes dropped, the state folded again (*dropped counts them).  The caller checked that the
 * replica holds the point. */
int dc__store_compact(dc__store *s, int64_t sid, const int64_t *dids, const uint64_t *seqs,
                      size_t n, uint64_t *dropped, dc__err *err);
/* The clock of the membership op that set the role of device `pk` in `sid`
 * (0 if none): how long it has been a member, for a member that never acked. */
int dc__store_member_since(dc__store *s, int64_t sid, const uint8_t pk[32], dc_hlc *hlc,
                           dc__err *err);
/* Compacts the log of `sid` alone to the point (dids[i], seqs[i]) raised
 * over the current one, inside the caller's transaction: for a file that
 * never reads the space (a relay's store, docs/relay.md "Compaction").
 * Every change envelope at or below the point, in any state, leaves the
 * log; its item stays in `covered_items` (and in the fingerprints);
 * membership envelopes stay.  *dropped counts them (may be NULL). */
int dc__store_compact_log(dc__store *s, int64_t sid, const int64_t *dids, const uint64_t *seqs,
                          size_t n, uint64_t *dropped, dc__err *err);
/* What the file keeps of `sid`: *envelopes in its log (any kind and
 * state), *covered items of envelopes compacted away. */
int dc__store_space_log(dc__store *s, int64_t sid, int64_t *envelopes, int64_t *covered,
                        dc__err *err);
/* Checkpoints, VACUUMs and truncates the WAL, outside any transaction:
 * *before / *after the database's size in bytes (pages x page size),
 * *free_before its free pages before.  DC_EBUSY when another connection
 * holds the file. */
int dc__store_vacuum(dc__store *s, int64_t *before, int64_t *after, int64_t *free_before,
                     dc__err *err);
/* The envelopes of `sid` this file dropped as it compacted, so far. */
int dc__store_compact_dropped(dc__store *s, int64_t sid, int64_t *n, dc__err *err);
/* A snapshot's plaintext (version 2): the base of `sid`, its point and
 * its covered-items ledger, with field names and device keys in place of
 * row numbers (docs/format/bundle.md). */
int dc__store_snapshot_make(dc__store *s, int64_t sid, dc_buf *out, dc__err *err);
/* Loads one (checked, decrypted) as the base of `sid`, inside the caller's
 * transaction: the point raised, the envelopes it covers dropped from the
 * log (*dropped), the state the base with the rest folded over it, and
 * (`ledger`: a version 2 snapshot) its covered items into `covered_items`.
 * DC_ECORRUPT for a malformed one. */
int dc__store_snapshot_load(dc__store *s, int64_t sid, const uint8_t *p, size_t n, bool ledger,
                            uint64_t *dropped, dc__err *err);
/* The base of `sid` copied back into its records and events (a rebuild). */
int dc__store_base_restore(dc__store *s, int64_t sid, dc__err *err);

/* ---- reads (store/query.c) ---- */
int dc__store_dump(dc__store *s, dc_buf *out, const uint8_t *space, dc__err *err);
int dc__store_record_json(dc__store *s, dc_buf *out, int64_t sid, const char *type, const char *id,
                          dc__err *err);
int dc__store_list_json(dc__store *s, dc_buf *out, int64_t sid, const char *type, const char *field,
                        const dc__value *v, dc__err *err);
int dc__store_status_json(dc__store *s, dc_buf *out, const uint8_t self[32], dc__err *err);

/* A live record as the model layer reads it: register values in name
 * order, then one entry per distinct set member (member = true), then its
 * events in event order, typed.  Every string (names, values, event keys)
 * is NUL-terminated.  Valid only during the callback. */
typedef struct dc__rfield {
    const char *name;
    dc__value v;
    bool member;
} dc__rfield;

/* An event: its fields (keys sorted bytewise, as stored) and what the
 * record layer adds to every event: its author and the time of its clock,
 * the "@author" and "@time" of its canonical JSON (docs/data-model.md). */
typedef struct dc__rev {
    int64_t time;          /* ms since the epoch: the physical part of its clock */
    const uint8_t *author; /* the author device's 32-byte signing key */
    uint32_t nf;
    const dc__str *keys;
    const dc__value *vals;
} dc__rev;

typedef struct dc__rec {
    const char *type, *id;
    size_t nf;
    const dc__rfield *f;
    size_t ne;
    const dc__rev *events;
} dc__rec;

typedef int (*dc__rec_fn)(void *user, const dc__rec *rec);

/* Calls fn for each live record of `type` in space `sid` (only record `id`
 * when not NULL), in id order.  A non-zero return from fn stops the walk
 * and is returned.  fn may read records itself. */
int dc__store_records_each(dc__store *s, int64_t sid, const char *type, const char *id,
                           dc__rec_fn fn, void *user, dc__err *err);
/* The same; without `events`, no event is read (rec->ne is 0, and a record
 * holding only events is given with no fields). */
int dc__store_records_walk(dc__store *s, int64_t sid, const char *type, const char *id, bool events,
                           dc__rec_fn fn, void *user, dc__err *err);
/* How many live records of `type` space `sid` holds. */
int dc__store_records_count(dc__store *s, int64_t sid, const char *type, uint64_t *n, dc__err *err);
/* Appends the canonical JSON of an event (as dump and dc_record_get print
 * it). 0 or DC_ENOMEM. */
int dc__store_event_json(dc_buf *b, const dc__rev *e);

/* The changes of every space by state, and those this device wrote that
 * no relay acknowledged (status.c). */
typedef struct dc__totals {
    uint64_t unacked, held, opaque, rejected, unauthorised, future;
} dc__totals;
int dc__store_totals(dc__store *s, dc__totals *t, dc__err *err);

/* SQLite's data_version of this connection: it moves when another
 * connection (another handle, another process) commits to the file. */
int dc__store_data_version(dc__store *s, int64_t *v, dc__err *err);

/* Value indexes (index.c, docs/reading.md): declared per (space, type,
 * field), filled at once from the state and kept by the fold.  Declaring
 * one twice is a no-op. */
int dc__store_index_declare(dc__store *s, int64_t sid, const char *type, const char *field,
                            dc__err *err);
/* The ids (in id order) of the live records of (sid, type) whose `field`
 * holds v, through the index: *indexed false (and no call) when there is
 * none on that field.  fn may read records. */
typedef int (*dc__id_fn)(void *user, const char *id);
int dc__store_index_lookup(dc__store *s, int64_t sid, const char *type, const char *field,
                           const dc__value *v, bool *indexed, dc__id_fn fn, void *user,
                           dc__err *err);

/* The first space (by id) holding a key and a live record (type, id):
 * one query, however many spaces the replica holds.  DC_ENOTFOUND if none. */
int dc__store_record_locate(dc__store *s, const char *type, const char *id, uint8_t space[16],
                            dc__err *err);

/* Calls fn with the 16-byte id of every space this replica holds a key for. */
int dc__store_spaces_each(dc__store *s, dc__space_fn fn, void *user, dc__err *err);

/* ---- attachments (attach.c, docs/attachments.md) ---- */
/* Encrypted attachment objects (chunks and manifests) by (space, id).  A
 * relay holds these and nothing else of attachments. */
int dc__store_obj_has(dc__store *s, int64_t sid, const uint8_t oid[32], bool *has, dc__err *err);
/* Stores an object unless one is held under its id (*fresh: it was not). */
int dc__store_obj_put(dc__store *s, int64_t sid, const uint8_t oid[32], int kind, const uint8_t *p,
                      size_t n, int64_t now_ms, bool *fresh, dc__err *err);
/* The object's bytes into `out` (replaced); DC_ENOTFOUND if not held. */
int dc__store_obj_get(dc__store *s, int64_t sid, const uint8_t oid[32], dc_buf *out, dc__err *err);
int dc__store_obj_drop(dc__store *s, int64_t sid, const uint8_t oid[32], dc__err *err);

/* An attachment this device knows of: its manifest opened (size >= 0), or
 * only referenced / asked for so far (size -1). */
typedef struct dc__att_row {
    uint8_t aid[32];
    int64_t size;
    int64_t nchunks;
    uint32_t chunk;
    uint32_t present; /* chunks held */
    char media[DC_ATT_MEDIA_MAX + 1];
    bool want;
    int64_t at_ms;
} dc__att_row;

/* Records an opened manifest: the attachment's row and its chunk list. */
int dc__store_att_put(dc__store *s, int64_t sid, const uint8_t aid[32], const dc__manifest *m,
                      int64_t now_ms, dc__err *err);
/* Marks an attachment wanted (fetch it at the next sync), adding its row. */
int dc__store_att_want(dc__store *s, int64_t sid, const uint8_t aid[32], int64_t now_ms,
                       dc__err *err);
/* DC_ENOTFOUND if the attachment has no row. */
int dc__store_att_get(dc__store *s, int64_t sid, const uint8_t aid[32], dc__att_row *out,
                      dc__err *err);
/* fn for each attachment of `sid` (every space when 0), by space and id. */
typedef int (*dc__att_fn)(void *user, int64_t sid, const dc__att_row *a);
int dc__store_att_each(dc__store *s, int64_t sid, dc__att_fn fn, void *user, dc__err *err);
/* fn for each chunk of an attachment, in file order, and whether it is held. */
typedef int (*dc__part_fn)(void *user, uint32_t idx, const uint8_t cid[32], bool present);
int dc__store_att_parts(dc__store *s, int64_t sid, const uint8_t aid[32], dc__part_fn fn,
                        void *user, dc__err *err);
/* fn for each attachment id a live record of `sid` names (a string value
 * holding "att1:" and 64 hex digits, in a register, a set or an event);
 * an id named twice may be reported twice. */
typedef int (*dc__aid_fn)(void *user, const uint8_t aid[32]);
int dc__store_att_refs(dc__store *s, int64_t sid, dc__aid_fn fn, void *user, dc__err *err);
/* Forgets an attachment: its row, its chunk list, its manifest and every
 * chunk no other attachment of the space lists.  *objects (may be NULL)
 * gets the number of objects removed. */
int dc__store_att_forget(dc__store *s, int64_t sid, const uint8_t aid[32], uint64_t *objects,
                         dc__err *err);
/* Removes the objects of `sid` stored at or before `before_ms` that no
 * attachment known here uses: chunks no chunk list names, manifests of
 * attachments without a row (what a peer pushed and no record of this
 * device references), and the record of what was sent of objects no
 * longer held.  *objects gets how many objects went. */
int dc__store_att_orphans(dc__store *s, int64_t sid, int64_t before_ms, uint64_t *objects,
                          dc__err *err);
/* A space's fetch policy (mode 0 when none was set). */
int dc__store_att_policy_get(dc__store *s, int64_t sid, int *mode, uint64_t *max_bytes,
                             dc__err *err);
int dc__store_att_policy_put(dc__store *s, int64_t sid, int mode, uint64_t max_bytes, dc__err *err);
/* Objects of `sid` not yet known to be on `peer` (16 bytes naming it), up
 * to `max`, chunks before manifests. */
typedef int (*dc__obj_fn)(void *user, const uint8_t oid[32], int kind);
int dc__store_obj_unsent(dc__store *s, const uint8_t peer[16], int64_t sid, size_t max,
                         dc__obj_fn fn, void *user, dc__err *err);
int dc__store_obj_mark_sent(dc__store *s, const uint8_t peer[16], int64_t sid,
                            const uint8_t oid[32], dc__err *err);

#endif
