/*
 * drivercore — the replica: one SQLite file on one device, holding that
 * device's identity, the spaces it belongs to, their change logs and the
 * materialised state of their records.
 *
 * Thread safety: a dc_replica is used by one thread at a time (it is not
 * internally locked).  Several replicas, of the same or different files, may
 * be used from different threads at once.
 */
#ifndef DRIVERCORE_REPLICA_H
#define DRIVERCORE_REPLICA_H

#include "drivercore/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_replica dc_replica;

/* Returns the current wall-clock time in milliseconds since the Unix epoch. */
typedef int64_t (*dc_clock_fn)(void *user);

/* ---- the key that encrypts the replica file at rest (docs/format/at-rest.md) ---- */

/* An at-rest key is 32 bytes. */
#define DC_KEY_BYTES 32
DC_EXTERN size_t dc_key_bytes(void);

/* Why a key provider is called (its `purpose`). */
#define DC_KEY_OPEN 1 /* the key of an existing encrypted replica */
#define DC_KEY_NEW                                                                                 \
    2 /* a key for a file about to be encrypted: a new replica, a plaintext one                    \
         being migrated, or dc_replica_rekey.  Store it before returning. */

/* Where a key provider puts the key: memory owned by the library (libsodium
 * guarded memory, wiped after use).  Valid only during the provider call. */
typedef struct dc_key dc_key;

/*
 * Inside a key provider: give the key, exactly DC_KEY_BYTES bytes (from
 * Android Keystore, the iOS Keychain, a key file, ...).  The bytes are
 * copied; wipe your own copy.  Returns 0, DC_EMISUSE (NULL), DC_EINVAL
 * (wrong length, or a key was already given in this call).
 */
DC_EXTERN int dc_key_set(dc_key *k, const uint8_t *key, size_t n);

/*
 * Inside a key provider: give a passphrase (1..1024 bytes) instead of a
 * key.  The library derives the key with Argon2id (libsodium's
 * crypto_pwhash) under the salt and cost stored in the file's clear
 * header; a new file gets a random salt and the costs of
 * docs/format/at-rest.md (3 passes over 32 MiB: 0.07 s on a desktop
 * core, some tenths of a second on a phone, at every open).  Prefer a
 * random key kept by the platform.  Returns as dc_key_set.
 */
DC_EXTERN int dc_key_set_passphrase(dc_key *k, const char *pass, size_t n);

/*
 * A key provider.  Called synchronously, on the calling thread, at most once
 * per dc_replica_open or dc_replica_rekey.  It gives the key with exactly
 * one dc_key_set or dc_key_set_passphrase and returns 0; a non-zero return
 * refuses, and the call that asked fails with DC_EUSER having changed
 * nothing.  For DC_KEY_NEW it must have stored the key durably (the
 * Keychain, a wrapped key in app storage) before returning: once the call
 * that asked succeeds, the file opens only with that key.  It must not call
 * into the library except dc_key_set*.
 */
typedef int (*dc_key_fn)(void *user, dc_key *key, int purpose);

typedef struct dc_replica_options {
    unsigned int version; /* DC_REPLICA_OPTIONS_VERSION */
    /* Name recorded in the device card when the replica is created. NULL: "". */
    const char *device_name;
    /* Wall clock.  NULL: the system clock. Tests pin time with this. */
    dc_clock_fn clock;
    void *clock_user;
    /* A remote change stamped more than this many ms ahead of our clock is
     * held aside until our clock catches up.  0: the default, one hour. */
    int64_t max_clock_skew_ms;
    /* Non-zero: open an existing replica only, never create one. */
    int must_exist;
    /* Version 2.  Non-zero: every commit is durable before it returns
     * (synchronous=FULL), so a power cut loses nothing acknowledged; a
     * relay acknowledges changes to devices and sets this.  0: WAL with
     * synchronous=NORMAL (an app crash loses nothing; a power cut may lose
     * the last commits, never half of one). */
    int durable;
    /* Version 3.  Encryption at rest (docs/format/at-rest.md).  NULL: the
     * file is in clear, as with versions 1 and 2, and an encrypted file is
     * refused with DC_EKEY.  Non-NULL: the replica file, its WAL and its
     * journals are encrypted with the key this provider gives: an encrypted
     * file asks for DC_KEY_OPEN; a new file, or an existing plaintext replica
     * (migrated once, in a copy renamed into place, so a crash at any point
     * loses nothing), asks for DC_KEY_NEW.  ":memory:" cannot be encrypted. */
    dc_key_fn key_provider;
    void *key_user;
    /* Version 4.  An id of this installation of the app (1..127 bytes of
     * UTF-8), kept where backups never go: Android's noBackupFilesDir, a
     * ...ThisDeviceOnly Keychain item (docs/recovery.md).  The file records
     * it; opened later with another id — a restored backup, a copied file —
     * the replica is marked cloned ("copied") before it can write anything
     * that collides with the original.  NULL: no such check. */
    const char *install_id;
} dc_replica_options;

#define DC_REPLICA_OPTIONS_VERSION 4
#define DC_REPLICA_OPTIONS_INIT                                                                    \
    { DC_REPLICA_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL }

/*
 * Open the replica at `path`, creating the file and a fresh device identity
 * (Ed25519 signing key pair, X25519 key pair) on first open, and migrating
 * an older schema step by step.  `opts` may be NULL.
 *
 * On success *out is a handle to close with dc_replica_close.  On failure
 * *out is NULL, nothing needs freeing, and dc_error_last() says why.
 * Returns 0, DC_EMISUSE, DC_EIO, DC_ECORRUPT (not a replica, or a damaged or
 * tampered page), DC_EVERSION (written by a newer library), DC_EBUSY,
 * DC_ENOTFOUND (must_exist), DC_ENOMEM, DC_EKEY (the file is encrypted and
 * no key, or the wrong key, was given), DC_EUSER (the key provider refused).
 */
DC_EXTERN int dc_replica_open(dc_replica **out, const char *path, const dc_replica_options *opts);

/*
 * Encrypt the replica file under a new key, asked from `key_provider` with
 * DC_KEY_NEW (a plaintext replica becomes encrypted).  The file is copied
 * into REPLICA-rekey under the new key, synced and renamed over the
 * replica: killed at any point, the replica opens with the old key or with
 * the new one and has lost nothing.  So keep the old key until this returns
 * 0.  No other connection may have the file open (DC_EBUSY), and no
 * transaction may be open on `r` (DC_EMISUSE; sync sessions may stay).  On failure
 * the replica stays under its old key and `r` stays usable, except after
 * DC_EIO or DC_ENOMEM while reopening the renamed file, when every later
 * call on `r` fails: close it and open the file again with the new key.
 * One DC_EIO leaves the new key in place with `r` usable: the directory
 * could not be synced after the rename (the message says so), so a power
 * cut could still bring back the old file: keep both keys.
 */
DC_EXTERN int dc_replica_rekey(dc_replica *r, dc_key_fn key_provider, void *user);

/* 1 if the replica file is encrypted at rest, 0 if not (or r is NULL). */
DC_EXTERN int dc_replica_encrypted(const dc_replica *r);

/* Close a replica and wipe its secrets from memory.  NULL is a no-op. */
DC_EXTERN void dc_replica_close(dc_replica *r);

/* The last error code on this handle (DC_OK if none). */
DC_EXTERN int dc_replica_errcode(const dc_replica *r);

/* The last error message on this handle: never NULL, "" if none.  Owned by
 * the handle; valid until the next call on it. */
DC_EXTERN const char *dc_replica_errmsg(const dc_replica *r);

/*
 * For code layered on the core (the domain of domain.h, an app's own
 * model): records an error on the handle, as the core's calls do, so that
 * dc_replica_errcode / dc_replica_errmsg report it, and returns `code`
 * (a DC_E* code; 0 clears the error).  The message is printf-formatted,
 * cut at the handle's message size (docs/errors.md).  A dc_record_each
 * callback that stops a walk with an error calls it before returning.
 */
DC_EXTERN int dc_replica_set_error(dc_replica *r, int code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* This device's id: the hex of its Ed25519 public key (64 chars). Owned by
 * the handle, valid until close. */
DC_EXTERN const char *dc_replica_device_id(const dc_replica *r);

/*
 * The device card, as JSON: {"device": HEX, "box": HEX, "name": STR,
 * "sig": HEX} — the device id, its X25519 public key, its name and an
 * Ed25519 signature binding them.  Hand it to a space admin, who adds the
 * device with dc_space_add.
 */
DC_EXTERN int dc_replica_card(dc_buf *out, dc_replica *r);

/*
 * The canonical JSON dump of the live state of all spaces this device can
 * read (or only `space`, a hex space id, when not NULL):
 * {SPACE: {TYPE: {ID: {FIELD: value | [set members], "@events": [...]}}}}
 * Keys are sorted bytewise, set members sorted by their JSON text, events
 * in merge order with "@author" and "@time" added; deleted records absent,
 * and so are the library's own records (types beginning with '@', such as
 * a space's name).
 * Two replicas holding the same changes produce byte-identical output.
 */
DC_EXTERN int dc_replica_dump(dc_buf *out, dc_replica *r, const char *space);

/*
 * Observer: called after a local commit or a merge has become durable, once
 * per record touched.  `origin` is "local" or "remote".  Returning non-zero
 * stops the remaining notifications of that batch, and the call that
 * committed returns DC_EUSER (its data stays committed).  An observer must
 * not call back into the replica that called it.
 */
typedef int (*dc_observer_fn)(void *user, const char *space, const char *type, const char *id,
                              const char *origin);

/* Set (or clear, with NULL) the replica's observer. */
DC_EXTERN int dc_replica_observe(dc_replica *r, dc_observer_fn fn, void *user);

/*
 * Apply changes that were held aside because their timestamps were too far
 * ahead of our clock, for those our clock has now caught up with.  Import
 * does this too; call it on a timer if changes may wait long.  *applied
 * (may be NULL) receives how many were applied.
 */
DC_EXTERN int dc_replica_release_held(uint64_t *applied, dc_replica *r);

/*
 * Status as JSON: {"device": HEX, "encrypted": BOOL, "hlc": N, "clock_offset_ms": N,
 * "last_relay_sync_ms": N|null, "spaces": [{"space": HEX, "role": STR,
 * "changes": N, "held": N, "opaque": N, "rejected": N, "unacked": N}, ...]}
 * — "unacked": changes this device wrote that no relay has acknowledged as
 * durably stored (users of other sync systems lose data silently because
 * they cannot see this).  "last_sync": null before the sync client
 * (client.h) first ran, then {"peer": URL, "attempt_ms": N, "ok": BOOL,
 * "ok_ms": N|null (the last success), "failures": N (failed syncs since
 * it), "attempts": N (of the last sync), "reason": null|"unreachable"|
 * "timeout"|"broken"|"server"|"busy"|"session"|"auth"|"refused"|
 * "protocol"|"local"|"canceled", "error": null|STR (why, in words a
 * support person can act on)} (docs/client.md).  "compaction": one entry
 * per space that is compacted or has a published compaction point
 * (docs/data-model.md, "Compaction"): {"space": HEX, "compacted":
 * {"authors": N, "changes": N} (the point this replica compacted to: its
 * authors, and the changes it covers, the sum of its sequence numbers),
 * "published": {...} (the effective point admins published, alike),
 * "dropped": N (envelopes this file dropped compacting, so far), "pending":
 * BOOL (a published point ahead of the compacted one that this replica
 * could compact to), "snapshot_needed": BOOL (a published point ahead of
 * what it holds: it misses covered history and needs a snapshot),
 * "missing": [HEX, ...] (the authors whose covered changes it lacks)}.
 */
DC_EXTERN int dc_replica_status(dc_buf *out, dc_replica *r);

/*
 * The same, typed, for an app's sync status screen (what the bindings hand
 * over after each sync): this device's clock offset from its relay, when a
 * relay last acknowledged, the changes not yet acknowledged and those kept
 * aside, over all spaces; and the sync client's last outcome.  Strings are
 * NUL-terminated and cut to fit.  0, or the errors of a read.
 */
#define DC_SYNC_STATUS_VERSION 1
typedef struct dc_sync_status {
    unsigned int version; /* DC_SYNC_STATUS_VERSION, set by the caller */
    int64_t clock_offset_ms;
    int64_t last_relay_sync_ms; /* 0: never */
    uint64_t unacked;           /* changes written here no relay has acknowledged */
    uint64_t held, opaque, rejected, unauthorised, future;
    int has_last;       /* the sync client has run on this replica */
    int ok;             /* its last sync succeeded */
    int64_t attempt_ms; /* when it last tried */
    int64_t ok_ms;      /* when it last succeeded (0: never) */
    int64_t failures;   /* failed syncs since then */
    int64_t attempts;   /* attempts of the last sync */
    char reason[16];    /* "" when ok, else as "reason" in dc_replica_status */
    char error[512];    /* why, in words a support person can act on */
    char peer[256];     /* the relay's URL */
} dc_sync_status;

DC_EXTERN int dc_replica_sync_status(dc_replica *r, dc_sync_status *out);

/*
 * Cloned replicas (docs/recovery.md).  A replica is marked cloned when its
 * device identity is used by another copy: an import met an envelope of
 * its own key that it does not hold (a different change under a sequence
 * number it used: "conflict"; a sequence number beyond its last: "ahead"),
 * or dc_replica_open was given another install_id than the file recorded
 * ("copied").  From then on every call that signs — dc_txn_begin,
 * dc_space_create, dc_space_add, _set_role, _remove, _rotate —
 * fails with DC_ECLONED; reads, imports and syncs go on.
 *
 * dc_replica_cloned: 1 if marked cloned, 0 if not, DC_EMISUSE (NULL).
 * The reason, with the space and sequence number that showed it, is in
 * dc_replica_status ("cloned").
 */
DC_EXTERN int dc_replica_cloned(dc_replica *r);

/*
 * Recover a cloned replica (or retire an identity on purpose): a new
 * device identity that keeps every record and key the replica holds, in
 * one transaction.  Every change the old identity wrote that no relay has
 * acknowledged is re-signed under the new identity (same ops, new
 * sequence numbers and timestamps) and the old envelope is withdrawn, so
 * nothing written is lost; membership changes and changes to the
 * library's own records (which need an admin) are counted, not re-signed.
 * The clone mark is cleared.  An admin must then add the new card to the
 * device's spaces (until then dc_txn_begin is DC_EDENIED, and the re-signed
 * changes wait here, applied and unacknowledged).
 *
 * `out` (may be NULL) receives {"device": NEW_ID, "previous": OLD_ID,
 * "card": CARD (dc_replica_card's JSON plus "replaces": OLD_ID),
 * "resigned": N, "not_resigned": N, "spaces": [SPACE, ...] (the spaces
 * to re-enrol in: those whose membership named the old identity)}.
 * No transaction may be open on `r` (DC_EMISUSE).  Returns 0, DC_EMISUSE,
 * DC_ENOMEM, DC_EIO, DC_ECORRUPT (a stored change that does not decode).
 * On failure nothing changed.  A sync client made before the call holds
 * the old identity's token: make a new one.
 */
DC_EXTERN int dc_replica_recover(dc_buf *out, dc_replica *r);

/*
 * Gives back to the file system the pages the replica no longer uses (the
 * log rows compaction dropped leave free pages that later writes only
 * reuse: docs/storage.md, "Giving space back").  Checkpoints the WAL, then
 * rewrites the database compactly (SQLite's VACUUM, through the at-rest
 * encryption when the replica is encrypted, its temporary copy in memory),
 * then truncates the WAL.  Takes the write lock for as long as it runs (a
 * few hundred ms for a few MB) and needs about the file's size again in
 * memory (encrypted) or on disk (in clear) meanwhile.
 *
 * `out` (may be NULL) receives {"bytes_before": N, "bytes_after": N,
 * "free_pages_before": N}: the database's size (pages times page size)
 * before and after, and its free pages before.  No transaction may be open
 * on `r` (DC_EMISUSE).  Returns 0, DC_EMISUSE, DC_EBUSY (another
 * connection holds the file: try again), DC_EIO, DC_ENOMEM.  On failure the
 * file is as it was.  One thread at a time, like every call on `r`.
 */
DC_EXTERN int dc_replica_vacuum(dc_buf *out, dc_replica *r);

/*
 * dc_replica_vacuum's result, typed (the bindings' Replica.vacuum()): the
 * caller sets `version` (DC_VACUUM_RESULT_VERSION); each field has the
 * meaning of the JSON key of the same name.
 */
typedef struct dc_vacuum_result {
    unsigned int version; /* DC_VACUUM_RESULT_VERSION, set by the caller */
    int64_t bytes_before, bytes_after, free_pages_before;
} dc_vacuum_result;

#define DC_VACUUM_RESULT_VERSION 1

/* dc_replica_vacuum, its result in `out` (required).  Also DC_EINVAL for
 * a version it does not know, checked before anything is done. */
DC_EXTERN int dc_replica_vacuum_typed(dc_replica *r, dc_vacuum_result *out);

#ifdef __cplusplus
}
#endif
#endif
