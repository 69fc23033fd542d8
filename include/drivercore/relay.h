/*
 * drivercore — the relay core (docs/relay.md): a replica that holds no
 * space key, stores the envelopes devices push, verifies their signatures
 * and their authors' write rights from the clear membership, and serves
 * each space only to its members.  It never sees plaintext.
 *
 * This is the relay without HTTP: device authentication (challenge,
 * Ed25519 signature, short-lived token), responder sync sessions keyed by
 * a session id, per-device rate limits, change notification for
 * long-polling devices, and counters in the Prometheus text format.  The
 * `drivercore-relay` daemon puts it behind libmicrohttpd; a test or an
 * embedded relay may drive it directly.
 *
 * Thread safety: a dc_relay is internally locked and may be called from
 * any number of threads at once.  One lock guards the in-memory tables
 * (tokens, sessions, rate buckets, counters: short critical sections);
 * the store runs sync steps of different sessions at once (a relay's own
 * store: over several read connections, imports committed in groups by
 * one writer thread; a replica given to dc_relay_open_replica: one step at
 * a time).  Authentication never waits behind a sync.  Errors are
 * reported through the thread-local dc_error_last().
 */
#ifndef DRIVERCORE_RELAY_H
#define DRIVERCORE_RELAY_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_relay dc_relay;

typedef struct dc_relay_options {
    unsigned int version; /* DC_RELAY_OPTIONS_VERSION */
    /* Lifetimes, in ms.  0: the defaults (60 s, 10 min, 2 min). */
    int64_t challenge_ttl_ms;
    int64_t token_ttl_ms;
    int64_t session_ttl_ms; /* idle time after which a sync session is dropped */
    /* Per-device token bucket on sync requests: `rate` per second, up to
     * `burst` at once.  0: the defaults (50/s, 200). */
    double rate_per_s;
    double rate_burst;
    /* Table caps; a full table refuses new entries (DC_EBUSY) after
     * dropping expired ones.  0: the defaults (1,000,000 challenges and
     * tokens, 100,000 sessions, 8 sessions per device). */
    unsigned int max_challenges;
    unsigned int max_tokens;
    unsigned int max_sessions;
    unsigned int max_sessions_per_device;
    /* Wall clock; NULL: the system clock.  Also passed to the replica. */
    dc_clock_fn clock;
    void *clock_user;
    /* Version 2.  The storage quota, in bytes, of a device in the spaces
     * where no other device is a member (its "solo" bytes: the envelopes
     * it authored there, and their attachment objects).  A push past it
     * is refused (DC_EDENIED) until another member joins.  0: the default
     * (4 MiB); negative: no quota. */
    int64_t solo_quota_bytes;
} dc_relay_options;

#define DC_RELAY_OPTIONS_VERSION 2
#define DC_RELAY_OPTIONS_INIT                                                                      \
    { DC_RELAY_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, 0 }

/* The bytes an authenticating device signs: this 25-byte prefix (its NUL
 * included), then the 32-byte challenge. */
#define DC_RELAY_AUTH_PREFIX "drivercore relay auth v1"
#define DC_RELAY_AUTH_PREFIX_LEN 25

/*
 * Open the relay's store at `path` (created if absent) as a durable
 * replica: WAL with synchronous=FULL, so a change acknowledged to a device
 * survives a power cut.  The store keeps reconciliation fingerprints beside
 * its log (built once when an older store is first opened) and commits the
 * imports of concurrent sessions in groups.  `opts` may be NULL.  On
 * failure *out is NULL.  Returns 0 or the codes of dc_replica_open,
 * DC_ENOMEM.
 */
DC_EXTERN int dc_relay_open(dc_relay **out, const char *path, const dc_relay_options *opts);

/*
 * A relay core over a replica the caller opened (`drivercore serve`: a
 * secretary's tablet acting as the sync peer of the phones in its yard).
 * The same authentication, sessions and filter as dc_relay_open: a device
 * is served the spaces it is a member of (and may upload a space the
 * replica has never heard of), nothing else; what it pushes is imported
 * into `r`, verified like any import.  `r` is borrowed: it must outlive the
 * relay, and while the relay is open every call on `r` must go through
 * the relay (its store lock serialises the sync steps on it), so the
 * caller must not use `r` meanwhile.  opts->clock, if set, is the relay's
 * clock for tokens and challenges only; `r` keeps its own.
 * dc_relay_close leaves `r` open.
 */
DC_EXTERN int dc_relay_open_replica(dc_relay **out, dc_replica *r, const dc_relay_options *opts);

/* Drops every session and token, closes the store (not a replica given to
 * dc_relay_open_replica).  NULL is a no-op.  No other call may be running. */
DC_EXTERN void dc_relay_close(dc_relay *rl);

/*
 * Authentication, step 1: a fresh 32-byte random challenge for `device`
 * (its Ed25519 public key), valid challenge_ttl_ms; *expires_ms (may be
 * NULL) receives its expiry time.  DC_EBUSY when the table is full.
 */
DC_EXTERN int dc_relay_challenge(uint8_t challenge[32], int64_t *expires_ms, dc_relay *rl,
                                 const uint8_t device[32]);

/*
 * Authentication, step 2: `sig` is the device's Ed25519 signature over
 * DC_RELAY_AUTH_PREFIX (with its NUL) || challenge.  A challenge is used
 * once, whatever the outcome, and only by the device it was issued to.
 * On success `token` receives 32 random bytes to present with every
 * request (the relay keeps only their hash), valid token_ttl_ms.
 * Returns 0, DC_EBADSIG (unknown, expired, replayed or foreign challenge;
 * bad signature), DC_EBUSY (token table full).
 */
DC_EXTERN int dc_relay_session(uint8_t token[32], int64_t *expires_ms, dc_relay *rl,
                               const uint8_t device[32], const uint8_t challenge[32],
                               const uint8_t sig[64]);

/* The device a token was issued to.  DC_EBADSIG if unknown or expired. */
DC_EXTERN int dc_relay_auth(uint8_t device[32], dc_relay *rl, const uint8_t token[32]);

/*
 * One sync request: `in` is the device's next message of an initiator
 * session (docs/protocol.md, "Sessions").  `session` is the 64-hex id the
 * previous reply returned, or NULL/"" to begin a session.  `out` receives
 * the responder's reply (may be empty: nothing to send), `session_out` (65
 * bytes) the session id to send back, *done whether the relay's side has
 * finished (the session is then dropped).  The reply is produced only after
 * the changes the message carried are durably stored.
 * Returns 0; DC_EBADSIG (bad token); DC_EBUSY with *retry_after_ms set
 * (rate limit, or the session is in use); DC_ENOTFOUND (unknown or expired
 * session: begin a new one); the errors of dc_sync_step (DC_ECORRUPT,
 * DC_EVERSION, DC_ETOOBIG, DC_EDENIED, ...: the session is dropped).
 */
DC_EXTERN int dc_relay_sync(dc_buf *out, char session_out[65], int *done, int64_t *retry_after_ms,
                            dc_relay *rl, const uint8_t token[32], const char *session,
                            const uint8_t *in, size_t n);

/* The relay's change generation: it grows by one per space that received
 * changes from a device. */
DC_EXTERN uint64_t dc_relay_generation(dc_relay *rl);

/*
 * The generation a long-polling `device` should wait from when it names
 * none: the generation when its last sync session began (so what arrived
 * during that session is not missed), or the current one.
 */
DC_EXTERN uint64_t dc_relay_wait_since(dc_relay *rl, const uint8_t device[32]);

/*
 * Has any space `device` is a member of received changes from another
 * device after generation `since`?  *changed receives the answer.  When
 * `since` is older than the notification ring holds, the answer is yes
 * (a spurious sync costs one round trip; a missed one costs a change).
 */
DC_EXTERN int dc_relay_changed(int *changed, dc_relay *rl, const uint8_t device[32],
                               uint64_t since);

/*
 * The devices to wake for the changes noted in generations (from, to]:
 * fn(user, device) once per member of each space that changed, except a
 * space's only pusher in that window.  Membership is read once per space
 * (and cached until the next import), so waking ten thousand waiters costs
 * a hash lookup each, not a store query each.  DC_ETOOBIG when the window
 * reaches past the notes remembered: the caller should wake everyone.
 */
typedef int (*dc_relay_device_fn)(void *user, const uint8_t device[32]);
DC_EXTERN int dc_relay_devices_to_wake(dc_relay *rl, uint64_t from, uint64_t to,
                                       dc_relay_device_fn fn, void *user);

/* Called (from the thread of a sync request, no lock held) after changes
 * arrived, so a daemon can wake its long-polling devices.  NULL clears. */
typedef void (*dc_relay_change_fn)(void *user, uint64_t generation);
DC_EXTERN void dc_relay_on_change(dc_relay *rl, dc_relay_change_fn fn, void *user);

/* Events the HTTP layer sees and the core counts for the metrics. */
enum {
    DC_RELAY_EV_CONN_OPEN = 1,
    DC_RELAY_EV_CONN_CLOSE,
    DC_RELAY_EV_WAIT_BEGIN,
    DC_RELAY_EV_WAIT_END,
    DC_RELAY_EV_REFUSE_AUTH,        /* missing or malformed credentials */
    DC_RELAY_EV_REFUSE_SIZE,        /* body over the cap */
    DC_RELAY_EV_REFUSE_MALFORMED,   /* unparsable request */
    DC_RELAY_EV_REFUSE_BUSY,        /* a limit of the HTTP layer (waiters) */
    DC_RELAY_EV_REFUSE_CONNECTIONS, /* the connection cap */
    DC_RELAY_EV_REFUSE_DEADLINE,    /* a request too slow to send its headers or body */
    DC_RELAY_EV_REFUSE_MEMORY,      /* a body over its address's or device's memory budget */
    DC_RELAY_EV_REFUSE_QUOTA        /* a device in no space over its storage quota */
};
DC_EXTERN void dc_relay_note(dc_relay *rl, int event);

/* The counters in the Prometheus text exposition format. */
DC_EXTERN int dc_relay_metrics(dc_buf *out, dc_relay *rl);

/* 0 when the relay's store takes writes now (for a readiness probe); else
 * the error that stops it (a shared database unreachable: DC_EIO), with
 * the reason in dc_error_last(). */
DC_EXTERN int dc_relay_ready(dc_relay *rl);

/* The kind of store the relay runs on: "sqlite" (its own file) or
 * "replica" (dc_relay_open_replica); a string owned by the library. */
DC_EXTERN const char *dc_relay_store_kind(const dc_relay *rl);

/*
 * An online backup of a relay's SQLite store at `store` into the file
 * `dest`, while a relay may be serving from it: one consistent snapshot,
 * compacted, checked, written beside `dest` and renamed over it.  To
 * restore, stop the relay and put the backup in place of the store (its
 * -wal and -shm files removed); devices send again whatever the backup
 * lacks at their next sync.  Returns 0, DC_ENOTFOUND (no store),
 * DC_ECORRUPT (not a store), DC_EIO.
 */
DC_EXTERN int dc_relay_backup(const char *store, const char *dest);

/*
 * The device side: signs a relay's challenge with the device key of `r`
 * (Ed25519 over DC_RELAY_AUTH_PREFIX with its NUL || challenge).  The key
 * never leaves the replica's guarded memory.
 */
DC_EXTERN int dc_relay_sign_challenge(uint8_t sig[64], dc_replica *r, const uint8_t challenge[32]);

#ifdef __cplusplus
}
#endif
#endif
