/*
 * drivercore — the device-side sync client (docs/client.md): one sync of a
 * replica with a relay (or a tablet running `drivercore serve`) over HTTP,
 * done right once for every app.
 *
 * The client authenticates with the device key (challenge, signature,
 * token), runs the sync session (docs/protocol.md) one POST per message,
 * sizes the bundles to the link it measures so a cut loses little, retries
 * transient failures (no connection, a timeout, 5xx, 429) with exponential
 * backoff and full jitter, long-polls for changes, and records the outcome
 * in the replica, so that dc_replica_status ("last_sync") says when the
 * last sync succeeded and, if it failed, why, in words a support person
 * can act on.
 *
 * The HTTP itself is the app's: a transport (dc_transport) carries one
 * request at a time, so an Android app can hand it to OkHttp and an iOS
 * app to URLSession.  The library has no HTTP code and no libcurl; a
 * ready transport on libcurl is a separate small library,
 * libdrivercore-curl (include/drivercore/curl.h), for desktops, servers,
 * the CLI and tests.
 *
 * Thread safety: a dc_client belongs to the thread using its replica (like
 * dc_sync): its calls must not run concurrently with other calls on that
 * replica.  The one exception is dc_client_cancel, which any thread may
 * call at any time; the transport's cancel hook then runs on that thread.
 */
#ifndef DRIVERCORE_CLIENT_H
#define DRIVERCORE_CLIENT_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the transport: one HTTP request at a time ---- */

typedef struct dc_http_request dc_http_request;   /* read it with the getters below */
typedef struct dc_http_response dc_http_response; /* fill it with the setters below */

/* "GET" or "POST". */
DC_EXTERN const char *dc_http_request_method(const dc_http_request *q);
/* The absolute URL ("http://host:port/v1/sync"). */
DC_EXTERN const char *dc_http_request_url(const dc_http_request *q);
/* How many request headers to send, and the i-th one's name and value. */
DC_EXTERN size_t dc_http_request_header_count(const dc_http_request *q);
DC_EXTERN const char *dc_http_request_header_name(const dc_http_request *q, size_t i);
DC_EXTERN const char *dc_http_request_header_value(const dc_http_request *q, size_t i);
/* The body (POST; may be empty) and its length. */
DC_EXTERN const uint8_t *dc_http_request_body(const dc_http_request *q, size_t *n);
/* Give up connecting after this long (ms). */
DC_EXTERN int64_t dc_http_request_connect_timeout_ms(const dc_http_request *q);
/* Give up when no byte moved either way for this long (ms): a stalled
 * link.  A slow link that still moves bytes is not a failure. */
DC_EXTERN int64_t dc_http_request_stall_timeout_ms(const dc_http_request *q);
/* Give up after this long in all (ms); a long-poll's includes its wait. */
DC_EXTERN int64_t dc_http_request_timeout_ms(const dc_http_request *q);

/* The HTTP status of the answer (100..599). */
DC_EXTERN int dc_http_response_set_status(dc_http_response *r, int status);
/* A response header.  A transport may pass them all, or only those the
 * client reads: DC-Session, DC-Encoding, Retry-After (names compared
 * without case). */
DC_EXTERN int dc_http_response_add_header(dc_http_response *r, const char *name, const char *value);
/* Appends body bytes (called as often as convenient).  DC_ETOOBIG past
 * 80 MiB: the transport should then stop and return DC_ETOOBIG. */
DC_EXTERN int dc_http_response_append(dc_http_response *r, const uint8_t *p, size_t n);

/* Why a request failed without an answer (for the transport's return). */
enum {
    DC_HTTP_FAIL_CONNECT = 1, /* no connection: no network, DNS, refused, unreachable */
    DC_HTTP_FAIL_TIMEOUT = 2, /* connected, but the transfer stalled or took too long */
    DC_HTTP_FAIL_BROKEN = 3,  /* the connection broke mid-transfer */
    DC_HTTP_FAIL_CANCELED = 4 /* dc_client_cancel (the transport's cancel hook) stopped it */
};
/* Records a failure and its detail (the platform's own message). */
DC_EXTERN int dc_http_response_fail(dc_http_response *r, int why, const char *detail);

/*
 * The app's HTTP.  `request` carries one request and returns 0 when an
 * answer arrived (whatever its status), or -1 after dc_http_response_fail.
 * It may block for as long as the request's timeouts allow.  `cancel`
 * (may be NULL) is called from another thread by dc_client_cancel: make
 * the request in flight return soon (with DC_HTTP_FAIL_CANCELED).
 * `release` (may be NULL) is called once by dc_client_free.
 */
typedef struct dc_transport {
    unsigned int version; /* DC_TRANSPORT_VERSION */
    int (*request)(void *user, const dc_http_request *q, dc_http_response *r);
    void (*cancel)(void *user);
    void (*release)(void *user);
    void *user;
} dc_transport;

#define DC_TRANSPORT_VERSION 1
#define DC_TRANSPORT_INIT                                                                          \
    { DC_TRANSPORT_VERSION, NULL, NULL, NULL, NULL }

/* ---- the client ---- */

typedef struct dc_client dc_client;

typedef struct dc_client_options {
    unsigned int version; /* DC_CLIENT_OPTIONS_VERSION */
    /* Attempts per dc_client_sync, the first included: 0 → 6.  Only
     * transient failures are retried. */
    unsigned int max_attempts;
    /* Backoff before retry n (1, 2, ...): a uniformly random wait in
     * [0, min(backoff_max_ms, backoff_base_ms << (n-1))] ("full jitter"),
     * and never less than a 429's Retry-After.  0 → 500 ms and 30 s. */
    int64_t backoff_base_ms;
    int64_t backoff_max_ms;
    /* Timeouts of each request (see dc_http_request_*): 0 → 15 s connect,
     * 30 s stall, 10 min in all. */
    int64_t connect_timeout_ms;
    int64_t stall_timeout_ms;
    int64_t request_timeout_ms;
    /* The largest bundle per message (dc_sync_set_chunk).  0: adapt to the
     * link: start at 32 KiB and aim at ~10 s of transfer per message from
     * the throughput measured (4 KiB .. 4 MiB), halved after a message
     * lost to the link. */
    size_t chunk_bytes;
    /* 1: do not compress message bodies (DC-Encoding: zstd). */
    int no_compression;
    /* Version 2.  1: the link is metered (mobile data): spaces whose
     * attachment policy is DC_ATTACH_FETCH_UNDER fetch only attachments up
     * to their size cap (include/drivercore/attach.h). */
    int metered;
} dc_client_options;

#define DC_CLIENT_OPTIONS_VERSION 2
#define DC_CLIENT_OPTIONS_INIT                                                                     \
    { DC_CLIENT_OPTIONS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/*
 * A client syncing `r` (borrowed: it must outlive the client) with the
 * relay at `url` ("http://host:port" or "https://..."), over `transport`
 * (copied; its `release` is called by dc_client_free, and on failure
 * here).  `opts` may be NULL.  On failure *out is NULL and the error is
 * on `r` (DC_EINVAL: a bad URL or transport; DC_ENOMEM).
 */
DC_EXTERN int dc_client_new(dc_client **out, dc_replica *r, const char *url,
                            const dc_transport *transport, const dc_client_options *opts);

/*
 * One sync: authenticate if needed, run sessions until one finishes, retry
 * transient failures with backoff.  Then, the relay's clock and
 * acknowledgements are recorded (dc_sync_note_relay), and either way the
 * outcome ("last_sync" in dc_replica_status).  Returns 0, or the error of
 * the last attempt with its message on the replica (dc_replica_errmsg):
 * DC_EIO (no connection, timeouts, 5xx, after every attempt), DC_EBUSY
 * (still rate-limited), DC_EBADSIG (the relay refused the device key),
 * DC_EDENIED (a change refused), DC_ECORRUPT/DC_EVERSION (protocol),
 * DC_EUSER (cancelled), or an error of the replica.
 */
DC_EXTERN int dc_client_sync(dc_client *c);

/*
 * Long-poll: wait up to `timeout_s` (0..60) for changes in this device's
 * spaces, sent by others since its last sync.  *changed is 1 when the
 * relay says so (then dc_client_sync).  Not retried: on an error, sync on
 * a timer instead.  Returns 0, DC_EIO, DC_EBADSIG, DC_EUSER (cancelled).
 */
DC_EXTERN int dc_client_wait(int *changed, dc_client *c, int timeout_s);

/*
 * The figures of the last dc_client_sync, summed over its sessions, as
 * JSON with the keys of dc_sync_report: {"bytes_sent", "bytes_received",
 * "round_trips", "changes_sent", "changes_received", "spaces",
 * "clock_offset_ms", "set_aside"} (bytes of the protocol's messages,
 * before compression; the clock offset of its first session), then the
 * attachments moved after the records (docs/attachments.md):
 * "attach_objects_sent", "attach_bytes_sent", "attach_objects_received",
 * "attach_bytes_received" (chunks and manifests, as carried),
 * "attach_refused" (objects the relay served that failed their check:
 * refused, asked again once, and counted here if still bad) and
 * "attach_missing" (wanted, but the relay does not hold them yet),
 * "attach_held" (objects of this device the relay does not hold, in the
 * spaces where it refused to store one — HTTP 403: the device is no writer
 * there, or its storage quota is full; they are offered again at the next
 * sync); and "snapshot_needed": the spaces of this replica whose published
 * compaction point it misses covered history for after the sync (a late
 * device: it must load a snapshot, docs/data-model.md "Compaction").  "spaces" is the most spaces
 * one session went over (each session goes over all of them), not a sum.
 * Last, "clock_error_ms": the most "clock_offset_ms" can be off (null if
 * unknown; docs/protocol.md, "The peer's clock"; not in the typed figures).
 */
DC_EXTERN int dc_client_report(dc_buf *out, const dc_client *c);

/*
 * The same figures typed, for the bindings and an app's native code: the
 * caller sets `version` (DC_CLIENT_FIGURES_VERSION); every field has the
 * meaning of the JSON key of the same name.  All 0 before the first sync.
 * Returns 0, DC_EMISUSE (NULL), DC_EINVAL (a version it does not know).
 */
typedef struct dc_client_figures {
    unsigned int version; /* DC_CLIENT_FIGURES_VERSION, set by the caller */
    uint64_t bytes_sent, bytes_received, round_trips, changes_sent, changes_received, spaces;
    int64_t clock_offset_ms;
    uint64_t set_aside;
    uint64_t attach_objects_sent, attach_bytes_sent, attach_objects_received, attach_bytes_received,
        attach_refused, attach_missing;
    uint64_t attach_held, snapshot_needed; /* version 2 */
} dc_client_figures;

/* 2: attach_held and snapshot_needed.  A caller built against version 1
 * (the struct without them) still passes 1 and gets the fields it knows. */
#define DC_CLIENT_FIGURES_VERSION 2

DC_EXTERN int dc_client_figures_get(const dc_client *c, dc_client_figures *out);

/*
 * The transfer figures of the last dc_client_sync as JSON: {"attempts",
 * "sessions", "http_requests", "body_bytes_sent", "body_bytes_received"
 * (as carried: compressed), "seconds", "chunk_bytes" (the last asked)}.
 */
DC_EXTERN int dc_client_stats(dc_buf *out, const dc_client *c);

/*
 * From any thread: stop the sync or wait in progress (the transport's
 * cancel hook is called, a backoff sleep ends); it returns DC_EUSER.  The
 * flag stays until dc_client_sync or dc_client_wait is called again.
 */
DC_EXTERN void dc_client_cancel(dc_client *c);

/* Frees the client (and releases the transport).  NULL is a no-op. */
DC_EXTERN void dc_client_free(dc_client *c);

#ifdef __cplusplus
}
#endif
#endif
