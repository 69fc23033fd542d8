/*
 * The device-side sync client (include/drivercore/client.h,
 * docs/client.md): authentication with the device key, the sync session
 * carried one POST per message, bundle sizes fitted to the measured link,
 * retries with exponential backoff and full jitter, the long-poll, and the
 * outcome recorded in the replica for `drivercore status`.
 *
 * It exists once so that the CLI, the demo, the load bench and the mobile
 * bindings share one behaviour (before, three copies had drifted: one knew
 * that a relay may end a session with no final message, the others did
 * not).  It speaks HTTP only through the app's transport (dc_transport),
 * so the library stays free of any HTTP stack; the relay's small JSON
 * answers are read with the strict flat reader of base/json.c.
 */
#include <pthread.h>
#include <stddef.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec/codec.h"
#include "drivercore/client.h"
#include "drivercore/relay.h"
#include "drivercore/sync.h"
#include "client/client_int.h"
#include "replica/port.h"
#include "sync/session.h"

#define RESP_MAX ((size_t)80 << 20) /* a response body, as carried */
#define MSG_MAX ((size_t)64 << 20)  /* a sync message (protocol limit) */
#define MAX_MESSAGES 100000         /* a session that never ends is a bug */
#define MAX_SESSIONS 3              /* per attempt: see "unheard" below */
#define MAX_RATE_WAITS 20           /* 429s within one session */
#define COMPRESS_MIN 256            /* smaller bodies are sent as they are */
#define CHUNK_START ((size_t)32 << 10)
#define CHUNK_SECONDS 10.0    /* transfer time aimed at per message */
#define TOKEN_MARGIN_MS 30000 /* renew a token this long before it expires */

/* ---- requests and responses ---- */

#define MAX_HEADERS 8

struct dc_http_request {
    const char *method;
    char url[1200];
    const char *hname[MAX_HEADERS];
    char hval[MAX_HEADERS][160];
    size_t nh;
    const uint8_t *body;
    size_t n;
    int64_t connect_ms, stall_ms, total_ms;
};

struct dc_http_response {
    int status;
    dc_buf body;
    bool too_big;
    char session[72];
    bool zstd;        /* DC-Encoding: zstd */
    bool accepts;     /* DC-Accept-Encoding: zstd */
    long retry_after; /* seconds; 0: none */
    int fail;         /* DC_HTTP_FAIL_*, 0: an answer arrived */
    char detail[256];
};

const char *dc_http_request_method(const dc_http_request *q) {
    return q ? q->method : "";
}
const char *dc_http_request_url(const dc_http_request *q) {
    return q ? q->url : "";
}
size_t dc_http_request_header_count(const dc_http_request *q) {
    return q ? q->nh : 0;
}
const char *dc_http_request_header_name(const dc_http_request *q, size_t i) {
    return q && i < q->nh ? q->hname[i] : "";
}
const char *dc_http_request_header_value(const dc_http_request *q, size_t i) {
    return q && i < q->nh ? q->hval[i] : "";
}
const uint8_t *dc_http_request_body(const dc_http_request *q, size_t *n) {
    if (n)
        *n = q ? q->n : 0;
    return q && q->n ? q->body : (const uint8_t *)"";
}
int64_t dc_http_request_connect_timeout_ms(const dc_http_request *q) {
    return q ? q->connect_ms : 0;
}
int64_t dc_http_request_stall_timeout_ms(const dc_http_request *q) {
    return q ? q->stall_ms : 0;
}
int64_t dc_http_request_timeout_ms(const dc_http_request *q) {
    return q ? q->total_ms : 0;
}

int dc_http_response_set_status(dc_http_response *r, int status) {
    if (!r || status < 100 || status > 599)
        return dc__last_set(DC_EMISUSE, "dc_http_response_set_status: bad response or status");
    r->status = status;
    return 0;
}

int dc_http_response_add_header(dc_http_response *r, const char *name, const char *value) {
    if (!r || !name || !value)
        return dc__last_set(DC_EMISUSE, "dc_http_response_add_header: NULL argument");
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strcspn(value, "\r\n");
    if (strcasecmp(name, "DC-Session") == 0) {
        if (n < sizeof r->session) {
            memcpy(r->session, value, n);
            r->session[n] = 0;
        }
    } else if (strcasecmp(name, "DC-Encoding") == 0) {
        r->zstd = strncasecmp(value, "zstd", 4) == 0 && n == 4;
    } else if (strcasecmp(name, "DC-Accept-Encoding") == 0) {
        r->accepts = strncasecmp(value, "zstd", 4) == 0;
    } else if (strcasecmp(name, "Retry-After") == 0) {
        long v = strtol(value, NULL, 10);
        r->retry_after = v > 0 && v < 3600 ? v : 0;
    }
    return 0;
}

int dc_http_response_append(dc_http_response *r, const uint8_t *p, size_t n) {
    if (!r || (!p && n))
        return dc__last_set(DC_EMISUSE, "dc_http_response_append: NULL argument");
    if (r->body.size + n > RESP_MAX) {
        r->too_big = true;
        return dc__last_set(DC_ETOOBIG, "the answer exceeds %zu bytes", RESP_MAX);
    }
    return dc__buf_put(&r->body, p, n) ? dc__last_set(DC_ENOMEM, "out of memory") : 0;
}

int dc_http_response_fail(dc_http_response *r, int why, const char *detail) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_http_response_fail: NULL response");
    r->fail =
        why >= DC_HTTP_FAIL_CONNECT && why <= DC_HTTP_FAIL_CANCELED ? why : DC_HTTP_FAIL_BROKEN;
    snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
    return 0;
}

static void resp_reset(dc_http_response *r) {
    dc_buf b = r->body;
    dc__buf_clear(&b);
    memset(r, 0, sizeof *r);
    r->body = b;
}

/* ---- the client ---- */

/* What kind of failure the last attempt met: decides retrying, and the
 * words of `drivercore status`. */
enum {
    K_NONE,
    K_UNREACHABLE, /* no connection */
    K_TIMEOUT,     /* stalled or too slow */
    K_BROKEN,      /* the connection broke */
    K_SERVER,      /* 5xx */
    K_BUSY,        /* 429 */
    K_SESSION,     /* the relay lost our session (404), or ended it early */
    K_AUTH,        /* 401 */
    K_REFUSED,     /* 403: a change refused */
    K_PROTOCOL,    /* 400, 413, malformed answers, version */
    K_LOCAL,       /* the replica */
    K_CANCELED
};
static const char *const kind_names[] = {"",        "unreachable", "timeout", "broken",
                                         "server",  "busy",        "session", "auth",
                                         "refused", "protocol",    "local",   "canceled"};

struct dc_client {
    dc_replica *r;
    char base[1024];
    dc_transport t;
    dc_client_options o;
    /* token: 64 hex chars + NUL, in guarded memory */
    char *token;
    int64_t token_expires; /* relay clock, ms; 0: none */
    bool relay_zstd;       /* the relay takes compressed bodies */
    bool no_chunk_ask;     /* the relay refused byte 6 (an older relay) */
    double rate;           /* bytes/s measured on large messages; 0: none yet */
    double rtt;            /* seconds, the quickest small request seen; 0: none */
    size_t chunk;
    size_t chunk_cap; /* halved when a message is lost to the link */
    /* cancellation */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool busy, canceled;
    /* the last failure of an attempt */
    int kind;
    int code;
    long http_status;
    long retry_after;
    char why[480];
    /* figures of the last sync */
    uint64_t bytes_sent, bytes_received, round_trips, changes_sent, changes_received, spaces;
    uint64_t set_aside;
    uint64_t snapshot_needed; /* spaces needing a snapshot after the last session */
    int64_t clock_offset;
    int64_t clock_error; /* its bound (sync/session.h); -1: unknown */
    unsigned attempts, sessions, requests;
    uint64_t wire_sent, wire_received;
    double seconds;
    dc_http_response resp;
    dc_buf zbuf;
    void *zc, *zd;
    dc__att_figures att; /* attachments moved by the last sync (attach_sync.c) */
};

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int dc_client_new(dc_client **out, dc_replica *r, const char *url, const dc_transport *t,
                  const dc_client_options *opts) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_client_new: out is NULL");
    *out = NULL;
    if (!r) {
        if (t && t->release)
            t->release(t->user);
        return dc__last_set(DC_EMISUSE, "dc_client_new: the replica handle is NULL");
    }
    dc__replica_err_clear(r);
    int rc = 0;
    size_t n = url ? strlen(url) : 0;
    while (n && url[n - 1] == '/')
        n--;
    if (!t || t->version != DC_TRANSPORT_VERSION || !t->request)
        rc = dc__fail(r, DC_EINVAL, "sync client: the transport is missing, or of another version");
    else if (opts && (opts->version < 1 || opts->version > DC_CLIENT_OPTIONS_VERSION))
        rc = dc__fail(r, DC_EINVAL, "sync client: options of version %u, expected %d",
                      opts->version, DC_CLIENT_OPTIONS_VERSION);
    else if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        rc = dc__fail(r, DC_EINVAL, "the relay URL must begin with http:// or https://: %s",
                      url ? url : "(none)");
    else if (n >= 1024)
        rc = dc__fail(r, DC_EINVAL, "the relay URL is longer than 1023 bytes");
    dc_client *c = rc ? NULL : dc__calloc(1, sizeof *c);
    if (!rc && (!c || !(c->token = sodium_malloc(65)))) {
        dc__free(c);
        c = NULL;
        rc = dc__fail(r, DC_ENOMEM, "sync client: out of memory");
    }
    if (rc) {
        if (t && t->release)
            t->release(t->user);
        return rc;
    }
    c->r = r;
    memcpy(c->base, url, n);
    c->base[n] = 0;
    c->t = *t;
    dc_client_options d = DC_CLIENT_OPTIONS_INIT;
    c->o = d;
    if (opts) /* an older caller's struct ends before the later fields */
        memcpy(&c->o, opts,
               opts->version == 1 ? offsetof(dc_client_options, metered) : sizeof c->o);
    c->o.version = DC_CLIENT_OPTIONS_VERSION;
    if (!c->o.max_attempts)
        c->o.max_attempts = 6;
    if (c->o.backoff_base_ms <= 0)
        c->o.backoff_base_ms = 500;
    if (c->o.backoff_max_ms <= 0)
        c->o.backoff_max_ms = 30000;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 15000;
    if (c->o.stall_timeout_ms <= 0)
        c->o.stall_timeout_ms = 30000;
    if (c->o.request_timeout_ms <= 0)
        c->o.request_timeout_ms = 600000;
    c->chunk = c->o.chunk_bytes ? c->o.chunk_bytes : CHUNK_START;
    c->chunk_cap = (size_t)4 << 20;
    c->token[0] = 0;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = c;
    return 0;
}

void dc_client_free(dc_client *c) {
    if (!c)
        return;
    if (c->t.release)
        c->t.release(c->t.user);
    sodium_memzero(c->token, 65);
    sodium_free(c->token);
    dc_buf_dispose(&c->resp.body);
    dc_buf_dispose(&c->zbuf);
    dc__zstd_free_ctx(c->zc, c->zd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    dc__free(c);
}

void dc_client_cancel(dc_client *c) {
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    bool busy = c->busy;
    if (busy)
        c->canceled = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (busy && c->t.cancel)
        c->t.cancel(c->t.user);
}

static bool canceled(dc_client *c) {
    pthread_mutex_lock(&c->mu);
    bool v = c->canceled;
    pthread_mutex_unlock(&c->mu);
    return v;
}

static void set_busy(dc_client *c, bool busy) {
    pthread_mutex_lock(&c->mu);
    c->busy = busy;
    c->canceled = false;
    pthread_mutex_unlock(&c->mu);
}

/* Sleeps ms, or less if cancelled; true when cancelled. */
static bool nap(dc_client *c, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->canceled && pthread_cond_timedwait(&c->cv, &c->mu, &ts) == 0) {
    }
    bool v = c->canceled;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* Records why this attempt failed; returns the code. */
static int failed(dc_client *c, int kind, int code, long status, const char *fmt, ...)
    DC__PRINTF(5, 6);
static int failed(dc_client *c, int kind, int code, long status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    c->kind = kind;
    c->code = code;
    c->http_status = status;
    return code;
}

/* The relay's reason in an error answer ({"error": "..."}), or "". */
typedef struct jread {
    const char *want;
    dc_buf *str;
    int64_t num;
    int kind;
} jread;

static int jfield(void *user, const char *key, const dc__value *v) {
    jread *j = user;
    if (strcmp(key, j->want) != 0)
        return 0;
    j->kind = v->kind;
    j->num = v->num;
    if (v->kind == DC_STR) {
        dc__buf_clear(j->str);
        if (dc__buf_put(j->str, v->str, v->len))
            return DC_ENOMEM;
    }
    return 0;
}

/* One field of a flat JSON answer: 0, or DC_ECORRUPT / DC_ENOTFOUND. */
static int json_field(const dc_buf *body, const char *key, int kind, dc_buf *str, int64_t *num) {
    if (!body->size || memchr(body->ptr, 0, body->size))
        return DC_ECORRUPT;
    dc_buf tmp = DC_BUF_INIT;
    jread j = {key, str ? str : &tmp, 0, -1};
    int rc = dc__json_flat_each((const char *)body->ptr, jfield, &j);
    dc_buf_dispose(&tmp);
    if (rc)
        return DC_ECORRUPT;
    if (j.kind != kind)
        return DC_ENOTFOUND;
    if (num)
        *num = j.num;
    return 0;
}

static void relay_reason(const dc_http_response *r, char *out, size_t cap) {
    dc_buf s = DC_BUF_INIT;
    if (json_field(&r->body, "error", DC_STR, &s, NULL) == 0)
        snprintf(out, cap, "%s", (const char *)s.ptr);
    else
        snprintf(out, cap, "no reason given");
    dc_buf_dispose(&s);
}

/* The words for an HTTP error status, kind and code included. */
static int http_refusal(dc_client *c, const char *what) {
    const dc_http_response *r = &c->resp;
    char why[300];
    relay_reason(r, why, sizeof why);
    long st = r->status;
    c->retry_after = r->retry_after;
    if (st == 429)
        return failed(c, K_BUSY, DC_EBUSY, st,
                      "the relay is busy and asked to retry later (HTTP 429 on %s: %s)", what, why);
    if (st >= 500)
        return failed(c, K_SERVER, DC_EIO, st,
                      "the relay failed (HTTP %ld on %s: %s); if this lasts, tell the relay's "
                      "operator",
                      st, what, why);
    if (st == 401)
        return failed(c, K_AUTH, DC_EBADSIG, st,
                      "the relay refused this device's key (HTTP 401 on %s: %s); check that the "
                      "phone's replica is the one registered with its spaces",
                      what, why);
    if (st == 403 && strstr(why, "relay: storage quota:"))
        return failed(c, K_REFUSED, DC_EDENIED, st,
                      "the relay refused to store more of this device (HTTP 403 on %s: %s); what "
                      "it writes in spaces no other device has joined is capped: add a member to "
                      "the space, or ask the relay's operator",
                      what, why);
    if (st == 403)
        return failed(c, K_REFUSED, DC_EDENIED, st,
                      "the relay refused a change of this device (HTTP 403 on %s: %s); the device "
                      "may have lost its role in a space: ask the space's admin",
                      what, why);
    if (st == 404)
        return failed(c, K_SESSION, DC_ENOTFOUND, st,
                      "the relay lost the sync session (HTTP 404 on %s: %s)", what, why);
    return failed(c, K_PROTOCOL, st == 413 ? DC_ETOOBIG : DC_ECORRUPT, st,
                  "the relay refused %s (HTTP %ld: %s); if this repeats, update the app", what, st,
                  why);
}

/* Carries one request; 0 when an answer (any status) is in c->resp. */
static int call(dc_client *c, const char *method, const char *path, const char *ctype,
                bool sync_msg, const char *session, const uint8_t *body, size_t n,
                int64_t extra_ms) {
    if (canceled(c))
        return failed(c, K_CANCELED, DC_EUSER, 0, "the sync was cancelled by the app");
    dc_http_request q;
    memset(&q, 0, sizeof q);
    q.method = method;
    snprintf(q.url, sizeof q.url, "%s%s", c->base, path);
    if (c->token[0] && strncmp(path, "/v1/auth/", 9) != 0) {
        q.hname[q.nh] = "Authorization";
        snprintf(q.hval[q.nh++], sizeof q.hval[0], "Bearer %s", c->token);
    }
    if (ctype) {
        q.hname[q.nh] = "Content-Type";
        snprintf(q.hval[q.nh++], sizeof q.hval[0], "%s", ctype);
    }
    if (session && *session) {
        q.hname[q.nh] = "DC-Session";
        snprintf(q.hval[q.nh++], sizeof q.hval[0], "%s", session);
    }
    if (sync_msg && !c->o.no_compression) {
        q.hname[q.nh] = "DC-Accept-Encoding";
        snprintf(q.hval[q.nh++], sizeof q.hval[0], "zstd");
        if (c->relay_zstd && n >= COMPRESS_MIN) {
            dc__err e = {0};
            dc__buf_clear(&c->zbuf); /* the zstd helpers append */
            if (dc__zstd_compress_with(&c->zc, &c->zbuf, body, n, 3, &e) == 0 && c->zbuf.size < n) {
                q.hname[q.nh] = "DC-Encoding";
                snprintf(q.hval[q.nh++], sizeof q.hval[0], "zstd");
                body = c->zbuf.ptr;
                n = c->zbuf.size;
            }
        }
    }
    q.body = body;
    q.n = n;
    q.connect_ms = c->o.connect_timeout_ms;
    q.stall_ms = c->o.stall_timeout_ms + extra_ms;
    q.total_ms = c->o.request_timeout_ms + extra_ms;
    resp_reset(&c->resp);
    double t0 = mono_s();
    c->requests++;
    int rc = c->t.request(c->t.user, &q, &c->resp);
    double dt = mono_s() - t0;
    c->wire_sent += n;
    c->wire_received += c->resp.body.size;
    if (canceled(c))
        return failed(c, K_CANCELED, DC_EUSER, 0, "the sync was cancelled by the app");
    if (rc != 0 || c->resp.fail || c->resp.status < 100) {
        int f = c->resp.fail;
        const char *d = c->resp.detail[0] ? c->resp.detail : "no detail";
        if (f == DC_HTTP_FAIL_CANCELED)
            return failed(c, K_CANCELED, DC_EUSER, 0, "the sync was cancelled by the app");
        if (c->resp.too_big)
            return failed(c, K_PROTOCOL, DC_ETOOBIG, 0,
                          "the relay's answer to %s was larger than %zu bytes", path, RESP_MAX);
        if (f == DC_HTTP_FAIL_CONNECT)
            return failed(c, K_UNREACHABLE, DC_EIO, 0,
                          "cannot reach the relay at %s (%s); check mobile data or Wi-Fi, and "
                          "the relay address",
                          c->base, d);
        if (f == DC_HTTP_FAIL_TIMEOUT)
            return failed(c, K_TIMEOUT, DC_EIO, 0,
                          "the link to the relay stalled (%s): weak signal; the sync resumes "
                          "where it stopped",
                          d);
        return failed(c, K_BROKEN, DC_EIO, 0,
                      "the connection to the relay broke (%s); the sync resumes where it "
                      "stopped",
                      d);
    }
    if (c->resp.accepts)
        c->relay_zstd = true;
    if (c->resp.zstd) {
        dc__err e = {0};
        dc__buf_clear(&c->zbuf);
        if (dc__zstd_decompress_with(&c->zd, &c->zbuf, c->resp.body.ptr, c->resp.body.size, MSG_MAX,
                                     &e) != 0)
            return failed(c, K_PROTOCOL, DC_ECORRUPT, c->resp.status,
                          "the relay's compressed answer to %s is malformed (%s)", path, e.msg);
        dc__buf_move(&c->resp.body, &c->zbuf);
    }
    /* The link's figures: the quickest small request is the round trip;
     * large ones give the throughput net of it. */
    size_t moved = n + c->resp.body.size;
    if (moved < 1024 && (c->rtt == 0 || dt < c->rtt))
        c->rtt = dt;
    if (moved >= 4096 && dt > c->rtt) {
        double bps = (double)moved / (dt - c->rtt > 0.001 ? dt - c->rtt : 0.001);
        c->rate = c->rate > 0 ? (c->rate + bps) / 2 : bps;
    }
    return 0;
}

/* The bundle size to ask for next: ~CHUNK_SECONDS of transfer at the
 * measured rate, a power of two (nearest) in 4 KiB .. 4 MiB, and no more
 * than the cap, which a message lost to the link halves (a link cut that
 * often loses less) and each message that arrives doubles back. */
static size_t next_chunk(dc_client *c) {
    if (c->o.chunk_bytes)
        return c->o.chunk_bytes;
    if (c->rate <= 0)
        return c->chunk < c->chunk_cap ? c->chunk : c->chunk_cap;
    double want = c->rate * CHUNK_SECONDS;
    size_t k = 12;
    while (k < 22 && (double)((size_t)1 << k) * 1.41421356 < want)
        k++;
    c->chunk = (size_t)1 << k;
    if (c->chunk > c->chunk_cap)
        c->chunk = c->chunk_cap;
    return c->chunk;
}

/* A message was lost to the link (stalled or broken): smaller bundles. */
static void chunk_lost(dc_client *c) {
    size_t half = c->chunk / 2;
    c->chunk_cap = half < ((size_t)4 << 10) ? (size_t)4 << 10 : half;
}

/* A message arrived: the cap recovers. */
static void chunk_arrived(dc_client *c) {
    if (c->chunk_cap < ((size_t)4 << 20))
        c->chunk_cap *= 2;
}

/* ---- authentication ---- */

static int authenticate(dc_client *c) {
    char body[400], chhex[65], sighex[129];
    uint8_t ch[32], sig[64], tok[32];
    dc_buf s = DC_BUF_INIT;
    int64_t exp = 0;
    int rc;
    c->token[0] = 0;
    snprintf(body, sizeof body, "{\"device\":\"%s\"}", dc_replica_device_id(c->r));
    if ((rc = call(c, "POST", "/v1/auth/challenge", "application/json", false, NULL,
                   (const uint8_t *)body, strlen(body), 0)))
        goto out;
    if (c->resp.status != 200) {
        rc = http_refusal(c, "the challenge request");
        goto out;
    }
    if (json_field(&c->resp.body, "challenge", DC_STR, &s, NULL) ||
        dc__unhex(ch, 32, (const char *)s.ptr)) {
        rc = failed(c, K_PROTOCOL, DC_ECORRUPT, 200,
                    "the relay's answer to the challenge request is malformed");
        goto out;
    }
    if ((rc = dc_relay_sign_challenge(sig, c->r, ch))) {
        rc =
            failed(c, K_LOCAL, rc, 0, "signing the relay's challenge: %s", dc_replica_errmsg(c->r));
        goto out;
    }
    dc__hex(chhex, ch, 32);
    dc__hex(sighex, sig, 64);
    snprintf(body, sizeof body, "{\"device\":\"%s\",\"challenge\":\"%s\",\"signature\":\"%s\"}",
             dc_replica_device_id(c->r), chhex, sighex);
    if ((rc = call(c, "POST", "/v1/auth/session", "application/json", false, NULL,
                   (const uint8_t *)body, strlen(body), 0)))
        goto out;
    if (c->resp.status != 200) {
        rc = http_refusal(c, "authentication");
        goto out;
    }
    if (json_field(&c->resp.body, "token", DC_STR, &s, NULL) ||
        dc__unhex(tok, 32, (const char *)s.ptr)) {
        rc = failed(c, K_PROTOCOL, DC_ECORRUPT, 200, "the relay's token is malformed");
        goto out;
    }
    json_field(&c->resp.body, "expires", DC_INT, NULL, &exp);
    dc__hex(c->token, tok, 32);
    c->token_expires = exp;
out:
    sodium_memzero(tok, sizeof tok);
    if (s.ptr)
        sodium_memzero(s.ptr, s.size);
    dc_buf_dispose(&s);
    if (c->resp.body.ptr)
        sodium_memzero(c->resp.body.ptr, c->resp.body.size); /* the token's hex */
    return rc;
}

/* A token good for a while yet; the relay's clock is ours corrected. */
static int ensure_token(dc_client *c) {
    int64_t now = dc__replica_now_ms(c->r);
    if (c->token[0] && (c->token_expires == 0 || now + TOKEN_MARGIN_MS < c->token_expires))
        return 0;
    return authenticate(c);
}

/* ---- one session ---- */

/* Adds a session's figures. */
static void add_figures(dc_client *c, dc_sync *s) {
    dc__sync_figures f;
    dc__sync_get_figures(s, &f);
    c->bytes_sent += f.bytes_sent;
    c->bytes_received += f.bytes_received;
    c->round_trips += f.round_trips;
    c->changes_sent += f.changes_sent;
    c->changes_received += f.changes_received;
    c->set_aside += f.set_aside;
    if (f.spaces > c->spaces)
        c->spaces = f.spaces;
    if (c->sessions == 1) {
        c->clock_offset = f.clock_offset_ms;
        c->clock_error = f.clock_error_ms;
    }
    /* The session compacted what the points it brought allow; a space
     * whose covered history this replica misses needs a snapshot. */
    c->snapshot_needed = dc__compact_late_spaces(c->r);
}

/* One initiator session to its end.  *unheard (begin another session at
 * once): the relay ended it (no session id, no message) before our side
 * was done — it had finished on our last message and dropped its bare
 * final one; everything was exchanged, and a new short session ends
 * properly.  Also set when an older relay refused the bundle-size byte. */
static int session(dc_client *c, bool *unheard) {
    dc_sync *s = NULL;
    dc_buf m = DC_BUF_INIT;
    char sid[72] = "";
    int rc, done = 0, waits = 0;
    *unheard = false;
    c->sessions++;
    /* The relay's clock is this device's time (docs/data-model.md); a
     * tablet serving phones (drivercore serve) is taken as their relay. */
    if ((rc = dc_sync_new(&s, c->r, DC_SYNC_INITIATOR)) || (rc = dc_sync_trust_peer_clock(s))) {
        rc = failed(c, K_LOCAL, rc, 0, "%s", dc_replica_errmsg(c->r));
        goto out;
    }
    bool asked = !c->no_chunk_ask;
    if (asked)
        dc_sync_set_chunk(s, next_chunk(c));
    if ((rc = dc_sync_step(s, &m, &done, NULL, 0))) {
        rc = failed(c, K_LOCAL, rc, 0, "%s", dc_replica_errmsg(c->r));
        goto out;
    }
    for (int i = 0; m.size > 0; i++) {
        if (i == MAX_MESSAGES) {
            rc = failed(c, K_PROTOCOL, DC_ECORRUPT, 0,
                        "the sync session did not finish after %d messages", MAX_MESSAGES);
            goto out;
        }
        if ((rc = call(c, "POST", "/v1/sync", "application/octet-stream", true, sid, m.ptr, m.size,
                       0))) {
            if (c->kind == K_TIMEOUT || c->kind == K_BROKEN)
                chunk_lost(c);
            goto out;
        }
        long st = c->resp.status;
        if (st == 429 && waits++ < MAX_RATE_WAITS) {
            /* Rate-limited: the message was not taken; send it again. */
            if (nap(c, c->resp.retry_after > 0 ? c->resp.retry_after * 1000 : 200)) {
                rc = failed(c, K_CANCELED, DC_EUSER, 0, "the sync was cancelled by the app");
                goto out;
            }
            i--;
            continue;
        }
        if (st == 400 && i == 0 && asked && !c->no_chunk_ask) {
            /* An older relay reads byte 6 as a reserved bit: nothing was
             * taken; begin again at once, asking no more. */
            c->no_chunk_ask = true;
            *unheard = true;
            goto out;
        }
        if (st == 401)
            c->token[0] = 0; /* expired: authenticate at the next attempt */
        if (st != 200 && st != 204) {
            rc = http_refusal(c, "the sync");
            goto out;
        }
        if (c->resp.session[0])
            snprintf(sid, sizeof sid, "%s", c->resp.session);
        if (c->resp.body.size == 0) {
            *unheard = !done && !c->resp.session[0];
            break;
        }
        chunk_arrived(c);
        if (asked && !c->o.chunk_bytes)
            dc_sync_set_chunk(s, next_chunk(c));
        if ((rc = dc_sync_step(s, &m, &done, c->resp.body.ptr, c->resp.body.size))) {
            int k = rc == DC_ECORRUPT || rc == DC_EVERSION || rc == DC_ETOOBIG ? K_PROTOCOL
                    : rc == DC_EDENIED || rc == DC_EBADSIG                     ? K_REFUSED
                                                                               : K_LOCAL;
            rc = failed(c, k, rc, 0, "%s", dc_replica_errmsg(c->r));
            goto out;
        }
    }
    if (!done && !*unheard) {
        rc =
            failed(c, K_SESSION, DC_EIO, 0, "the relay stopped answering before the session ended");
        goto out;
    }
    /* The relay's clock corrects ours; what we wrote is now durably there. */
    if (done && (rc = dc_sync_note_relay(s))) {
        rc = failed(c, K_LOCAL, rc, 0, "recording the relay sync: %s", dc_replica_errmsg(c->r));
        goto out;
    }
out:
    if (s)
        add_figures(c, s);
    dc_sync_free(s);
    dc_buf_dispose(&m);
    return rc;
}

static bool transient(int kind) {
    return kind == K_UNREACHABLE || kind == K_TIMEOUT || kind == K_BROKEN || kind == K_SERVER ||
           kind == K_BUSY || kind == K_SESSION || kind == K_AUTH;
}

/* ---- the outcome, for `drivercore status` ---- */

static void record(dc_client *c, int rc) {
    dc__replica_note_sync(c->r, c->base, c->attempts, rc ? kind_names[c->kind] : NULL, c->why);
}

static void zero_figures(dc_client *c) {
    c->bytes_sent = c->bytes_received = c->round_trips = 0;
    c->changes_sent = c->changes_received = c->spaces = c->set_aside = 0;
    c->clock_offset = 0;
    c->clock_error = -1;
    c->attempts = c->sessions = c->requests = 0;
    c->wire_sent = c->wire_received = 0;
    c->seconds = 0;
    memset(&c->att, 0, sizeof c->att);
}

int dc_client_sync(dc_client *c) {
    if (!c)
        return dc__last_set(DC_EMISUSE, "dc_client_sync: the client is NULL");
    dc_replica *r = c->r;
    dc__replica_err_clear(r);
    if (dc__replica_in_txn(r))
        return dc__fail(r, DC_EMISUSE, "sync: a transaction is open on this replica");
    set_busy(c, true);
    zero_figures(c);
    double t0 = mono_s();
    int rc = 0;
    c->kind = K_NONE;
    for (;;) {
        c->attempts++;
        c->kind = K_NONE;
        c->retry_after = 0;
        rc = ensure_token(c);
        bool unheard = true;
        for (int k = 0; !rc && unheard && k < MAX_SESSIONS; k++)
            rc = session(c, &unheard);
        if (!rc && unheard)
            rc = failed(c, K_SESSION, DC_EIO, 0,
                        "%d sync sessions ended without the relay's final message", MAX_SESSIONS);
        /* The records first; then the attachments they reference, chunk
         * by chunk (what a failed attempt finished stays done). */
        if (!rc)
            rc = dc__client_attach(c, &c->att);
        if (!rc || !transient(c->kind) || c->attempts >= c->o.max_attempts)
            break;
        /* Full jitter: a uniform wait up to the exponential bound, so a
         * yard of phones that lost the relay together do not return
         * together; a 429's Retry-After is a floor. */
        int64_t cap = c->o.backoff_base_ms;
        for (unsigned i = 1; i < c->attempts && cap < c->o.backoff_max_ms; i++)
            cap *= 2;
        if (cap > c->o.backoff_max_ms)
            cap = c->o.backoff_max_ms;
        int64_t wait = (int64_t)randombytes_uniform((uint32_t)(cap > 0 ? cap : 1));
        if (c->kind == K_SESSION || c->kind == K_AUTH)
            wait = 0; /* begin again at once: the link is fine */
        if (c->retry_after * 1000 > wait)
            wait = c->retry_after * 1000;
        if (nap(c, wait)) {
            rc = failed(c, K_CANCELED, DC_EUSER, 0, "the sync was cancelled by the app");
            break;
        }
    }
    c->seconds = mono_s() - t0;
    if (rc)
        dc__fail(r, rc, "sync with %s failed after %u attempt%s: %s", c->base, c->attempts,
                 c->attempts == 1 ? "" : "s", c->why);
    record(c, rc);
    set_busy(c, false);
    return rc;
}

int dc_client_wait(int *changed, dc_client *c, int timeout_s) {
    if (!changed || !c)
        return dc__last_set(DC_EMISUSE, "dc_client_wait: NULL argument");
    *changed = 0;
    dc_replica *r = c->r;
    dc__replica_err_clear(r);
    if (timeout_s < 0 || timeout_s > 60)
        return dc__fail(r, DC_EINVAL, "wait: the timeout is 0..60 seconds, not %d", timeout_s);
    set_busy(c, true);
    char path[64];
    snprintf(path, sizeof path, "/v1/wait?timeout=%d", timeout_s);
    int rc = ensure_token(c);
    if (!rc)
        rc = call(c, "GET", path, NULL, false, NULL, NULL, 0, (int64_t)timeout_s * 1000);
    if (!rc && c->resp.status != 200) {
        if (c->resp.status == 401)
            c->token[0] = 0;
        rc = http_refusal(c, "the wait");
    }
    int64_t v = 0;
    if (!rc && json_field(&c->resp.body, "changed", DC_BOOL, NULL, &v))
        rc = failed(c, K_PROTOCOL, DC_ECORRUPT, 200, "the relay's answer to the wait is malformed");
    if (!rc)
        *changed = v != 0;
    else
        dc__fail(r, rc, "wait on %s: %s", c->base, c->why);
    set_busy(c, false);
    return rc;
}

int dc_client_figures_get(const dc_client *c, dc_client_figures *out) {
    if (!out || !c)
        return dc__last_set(DC_EMISUSE, "dc_client_figures_get: NULL argument");
    unsigned int version = out->version;
    if (version < 1 || version > DC_CLIENT_FIGURES_VERSION)
        return dc__last_set(DC_EINVAL,
                            "dc_client_figures_get: figures version %u is not one of 1 to %d",
                            version, DC_CLIENT_FIGURES_VERSION);
    dc_client_figures f = {.version = version,
                           .bytes_sent = c->bytes_sent,
                           .bytes_received = c->bytes_received,
                           .round_trips = c->round_trips,
                           .changes_sent = c->changes_sent,
                           .changes_received = c->changes_received,
                           .spaces = c->spaces,
                           .clock_offset_ms = c->clock_offset,
                           .set_aside = c->set_aside,
                           .attach_objects_sent = c->att.sent,
                           .attach_bytes_sent = c->att.bytes_sent,
                           .attach_objects_received = c->att.received,
                           .attach_bytes_received = c->att.bytes_received,
                           .attach_refused = c->att.refused,
                           .attach_missing = c->att.missing,
                           .attach_held = c->att.held,
                           .snapshot_needed = c->snapshot_needed};
    /* Version 1's struct ends before attach_held. */
    memcpy(out, &f, version == 1 ? offsetof(dc_client_figures, attach_held) : sizeof f);
    return 0;
}

int dc_client_report(dc_buf *out, const dc_client *c) {
    if (!out || !c)
        return dc__last_set(DC_EMISUSE, "dc_client_report: NULL argument");
    dc_client_figures f = {.version = DC_CLIENT_FIGURES_VERSION};
    dc_client_figures_get(c, &f);
    dc__buf_clear(out);
    /* The bound of clock_offset_ms's error; null while none is known. */
    char err[24] = "null";
    if (c->clock_error >= 0)
        snprintf(err, sizeof err, "%lld", (long long)c->clock_error);
    if (dc__buf_printf(
            out,
            "{\"bytes_sent\":%llu,\"bytes_received\":%llu,\"round_trips\":%llu,"
            "\"changes_sent\":%llu,\"changes_received\":%llu,\"spaces\":%llu,"
            "\"clock_offset_ms\":%lld,\"set_aside\":%llu,"
            "\"attach_objects_sent\":%llu,\"attach_bytes_sent\":%llu,"
            "\"attach_objects_received\":%llu,\"attach_bytes_received\":%llu,"
            "\"attach_refused\":%llu,\"attach_missing\":%llu,\"attach_held\":%llu,"
            "\"snapshot_needed\":%llu,\"clock_error_ms\":%s}",
            (unsigned long long)f.bytes_sent, (unsigned long long)f.bytes_received,
            (unsigned long long)f.round_trips, (unsigned long long)f.changes_sent,
            (unsigned long long)f.changes_received, (unsigned long long)f.spaces,
            (long long)f.clock_offset_ms, (unsigned long long)f.set_aside,
            (unsigned long long)f.attach_objects_sent, (unsigned long long)f.attach_bytes_sent,
            (unsigned long long)f.attach_objects_received,
            (unsigned long long)f.attach_bytes_received, (unsigned long long)f.attach_refused,
            (unsigned long long)f.attach_missing, (unsigned long long)f.attach_held,
            (unsigned long long)f.snapshot_needed, err))
        return dc__last_set(DC_ENOMEM, "out of memory");
    return 0;
}

int dc_client_stats(dc_buf *out, const dc_client *c) {
    if (!out || !c)
        return dc__last_set(DC_EMISUSE, "dc_client_stats: NULL argument");
    dc__buf_clear(out);
    if (dc__buf_printf(out,
                       "{\"attempts\":%u,\"sessions\":%u,\"http_requests\":%u,"
                       "\"body_bytes_sent\":%llu,\"body_bytes_received\":%llu,"
                       "\"seconds\":%.3f,\"chunk_bytes\":%zu}",
                       c->attempts, c->sessions, c->requests, (unsigned long long)c->wire_sent,
                       (unsigned long long)c->wire_received, c->seconds,
                       c->o.chunk_bytes ? c->o.chunk_bytes : c->chunk))
        return dc__last_set(DC_ENOMEM, "out of memory");
    return 0;
}

/* ---- for the attachment phase (attach_sync.c) ---- */

int dc__client_call(dc_client *c, const char *method, const char *path, const uint8_t *body,
                    size_t n, long *status, const dc_buf **resp) {
    /* A download on a slow link outlives a token (10 min): renewed ahead,
     * so it never costs an attempt. */
    int rc = ensure_token(c);
    if (!rc)
        rc = call(c, method, path, body ? "application/octet-stream" : NULL, false, NULL, body, n,
                  0);
    if (rc)
        return rc;
    *status = c->resp.status;
    *resp = &c->resp.body;
    if (c->resp.status == 401)
        c->token[0] = 0; /* expired: authenticate at the next attempt */
    return 0;
}

int dc__client_refusal(dc_client *c, const char *what) {
    return http_refusal(c, what);
}

int dc__client_local(dc_client *c, int code, const char *msg) {
    return failed(c, K_LOCAL, code, 0, "%s", msg);
}

dc_replica *dc__client_replica(dc_client *c) {
    return c->r;
}

const char *dc__client_base(const dc_client *c) {
    return c->base;
}

bool dc__client_metered(const dc_client *c) {
    return c->o.metered != 0;
}
