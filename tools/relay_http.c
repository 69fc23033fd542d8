/*
 * The relay's HTTP face on libmicrohttpd, shared by the relay daemon
 * (drivercore-relay.c) and `drivercore serve` (cmd_serve.c: a tablet as
 * the sync peer of phones, no relay), so both speak the same endpoints
 * (docs/relay.md) through one implementation over a dc_relay.
 *
 * Threading: MHD runs a small pool of worker threads, each with its own
 * epoll loop over many connections (not a thread per connection), so
 * thousands of idle or long-polling devices cost file descriptors and a
 * little memory, not threads.  A long-poll is an MHD-suspended connection
 * on a list; one waker thread resumes it when a change arrives in a space
 * its device belongs to, or when its timeout passes.  A sync request runs
 * on the worker that read it and holds the relay's store lock for one
 * step (commit included): a worker blocked on an fsync delays only the
 * connections of that worker, which is why there are several.
 *
 * Sync bodies may be compressed (docs/relay.md, "Compression"): a request
 * with `DC-Encoding: zstd` is decompressed (within the body cap) before the
 * step, and a reply is compressed when the request said
 * `DC-Accept-Encoding: zstd` and that makes it smaller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <zstd.h>

#include "drivercore.h"
#include "drivercore/relay.h"
#include "relay_http.h"

#define AUTH_BODY_MAX 4096
#define COMPRESS_MIN 256

/* ---- state ---- */

typedef struct waiter {
    struct waiter *next;
    struct MHD_Connection *conn;
    uint8_t device[32];
    uint64_t since;
    double deadline;
    int state; /* 0 waiting, 1 changed, 2 timed out or shutting down */
} waiter;

struct relay_http {
    dc_relay *rl;
    struct MHD_Daemon *d;
    size_t sync_max, budget_max;
    atomic_size_t budget; /* request body bytes buffered, all connections */
    unsigned max_waiters, nwait;
    int quiet;
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    waiter *waiters;
    bool stopping, kicked;
    const char *name;
    pthread_t waker;
    unsigned port;
};
typedef struct relay_http app;

static const char *g_name = "drivercore-relay";

enum { K_NONE, K_CHALLENGE, K_SESSION, K_SYNC, K_WAIT, K_HEALTH, K_METRICS, K_ATTACH };

typedef struct req {
    int kind;
    uint8_t *body;
    size_t n, cap, alloc;
    bool too_big, answered;
    waiter *w;
    double t0;
} req;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void relay_http_log(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            g_name, line);
}

static void tohex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(uint8_t *out, size_t n, const char *hex) {
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

/* ---- responses ---- */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
                                const void *p, size_t n, const char *session, long retry_after) {
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)p, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (ctype && strcmp(ctype, "application/x-dc-sync+zstd") == 0) {
        /* A compressed sync message (see send_sync). */
        ctype = "application/octet-stream";
        MHD_add_response_header(r, "DC-Encoding", "zstd");
    }
    if (ctype && strcmp(ctype, "application/octet-stream") == 0)
        MHD_add_response_header(r, "DC-Accept-Encoding", "zstd");
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (session && *session)
        MHD_add_response_header(r, "DC-Session", session);
    if (retry_after > 0) {
        char v[32];
        snprintf(v, sizeof v, "%ld", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return MHD_NO;
    enum MHD_Result ok = send_buf(c, status, "application/json", s, strlen(s), NULL, 0);
    free(s);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg,
                                  long retry_after) {
    json_t *j = json_pack("{s:s}", "error", msg);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    enum MHD_Result ok =
        send_buf(c, status, "application/json", s ? s : "{}", s ? strlen(s) : 2, NULL, retry_after);
    free(s);
    return ok;
}

static unsigned status_of(int rc) {
    switch (rc) {
    case DC_EBADSIG: return MHD_HTTP_UNAUTHORIZED;
    case DC_EBUSY: return MHD_HTTP_TOO_MANY_REQUESTS;
    case DC_ENOTFOUND: return MHD_HTTP_NOT_FOUND;
    case DC_ETOOBIG: return MHD_HTTP_CONTENT_TOO_LARGE;
    case DC_EDENIED: return MHD_HTTP_FORBIDDEN;
    case DC_ECORRUPT:
    case DC_EVERSION:
    case DC_EINVAL: return MHD_HTTP_BAD_REQUEST;
    case DC_ENOMEM: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* The bearer token of a request; false (and a refusal counted) if none. */
static bool bearer(app *a, struct MHD_Connection *c, uint8_t tok[32]) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0 || unhex(tok, 32, h + 7) != 0) {
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_AUTH);
        return false;
    }
    return true;
}

/* ---- endpoints ---- */

static enum MHD_Result do_challenge(app *a, struct MHD_Connection *c, req *q) {
    json_t *j = json_loadb((const char *)q->body, q->n, 0, NULL);
    uint8_t dev[32], ch[32];
    if (!j || unhex(dev, 32, json_string_value(json_object_get(j, "device")))) {
        json_decref(j);
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_MALFORMED);
        return send_error(c, 400, "expected {\"device\": HEX}", 0);
    }
    json_decref(j);
    int64_t exp;
    int rc = dc_relay_challenge(ch, &exp, a->rl, dev);
    if (rc)
        return send_error(c, rc == DC_EBUSY ? 503 : status_of(rc), dc_error_last(), 1);
    char hex[65];
    tohex(hex, ch, 32);
    return send_json(c, 200, json_pack("{s:s,s:I}", "challenge", hex, "expires", (json_int_t)exp));
}

static enum MHD_Result do_session(app *a, struct MHD_Connection *c, req *q) {
    json_t *j = json_loadb((const char *)q->body, q->n, 0, NULL);
    uint8_t dev[32], ch[32], sig[64], tok[32];
    if (!j || unhex(dev, 32, json_string_value(json_object_get(j, "device"))) ||
        unhex(ch, 32, json_string_value(json_object_get(j, "challenge"))) ||
        unhex(sig, 64, json_string_value(json_object_get(j, "signature")))) {
        json_decref(j);
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_MALFORMED);
        return send_error(c, 400,
                          "expected {\"device\": HEX, \"challenge\": HEX, \"signature\": HEX}", 0);
    }
    json_decref(j);
    int64_t exp;
    int rc = dc_relay_session(tok, &exp, a->rl, dev, ch, sig);
    if (rc)
        return send_error(c, rc == DC_EBUSY ? 503 : status_of(rc), dc_error_last(), 1);
    char hex[65];
    tohex(hex, tok, 32);
    enum MHD_Result ok =
        send_json(c, 200, json_pack("{s:s,s:I}", "token", hex, "expires", (json_int_t)exp));
    memset(hex, 0, sizeof hex);
    memset(tok, 0, sizeof tok);
    return ok;
}

/* Does a request header list `zstd` (DC-Accept-Encoding / DC-Encoding)? */
static bool says_zstd(struct MHD_Connection *c, const char *header) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, header);
    return v && strstr(v, "zstd") != NULL;
}

static enum MHD_Result do_sync(app *a, struct MHD_Connection *c, req *q) {
    uint8_t tok[32], dev[32];
    if (!bearer(a, c, tok))
        return send_error(c, 401, "missing or malformed Authorization: Bearer TOKEN", 0);
    /* The token is checked apart from the step so that a bad token (401)
     * and a change refused by the store (DC_EBADSIG: 403) stay apart. */
    if (dc_relay_auth(dev, a->rl, tok) != 0)
        return send_error(c, 401, dc_error_last(), 0);
    const uint8_t *in = q->body ? q->body : tok;
    size_t n = q->n;
    uint8_t *plain = NULL;
    if (says_zstd(c, "DC-Encoding")) {
        /* A compressed message: its declared size is checked against the
         * cap before anything is allocated (no decompression bombs). */
        unsigned long long sz = ZSTD_getFrameContentSize(in, n);
        if (sz == ZSTD_CONTENTSIZE_UNKNOWN || sz == ZSTD_CONTENTSIZE_ERROR) {
            dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_MALFORMED);
            return send_error(c, 400, "DC-Encoding: zstd, but the body is not a sized zstd frame",
                              0);
        }
        if (sz > a->sync_max) {
            dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_SIZE);
            return send_error(c, 413, "request body too large (decompressed)", 0);
        }
        if (!(plain = malloc(sz ? sz : 1)))
            return send_error(c, 503, "out of memory", 1);
        size_t got = ZSTD_decompress(plain, sz, in, n);
        if (ZSTD_isError(got) || got != sz) {
            free(plain);
            dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_MALFORMED);
            return send_error(c, 400, "DC-Encoding: zstd, but the body does not decompress", 0);
        }
        in = plain;
        n = got;
    }
    const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "DC-Session");
    dc_buf out = DC_BUF_INIT;
    char sout[65];
    int done = 0;
    int64_t retry = 0;
    int rc = dc_relay_sync(&out, sout, &done, &retry, a->rl, tok, sid, in, n);
    free(plain);
    char dh[17];
    tohex(dh, dev, 8);
    enum MHD_Result ok;
    if (rc) {
        unsigned st = status_of(rc);
        if (rc == DC_EBADSIG)
            st = MHD_HTTP_FORBIDDEN;
        if (!a->quiet || st != 429)
            relay_http_log("sync device=%s status=%u in=%zu: %s", dh, st, q->n, dc_error_last());
        ok = send_error(c, st, dc_error_last(), retry > 0 ? (long)((retry + 999) / 1000) : 0);
    } else {
        const void *body = out.ptr;
        size_t len = out.size;
        const char *ctype = "application/octet-stream";
        void *z = NULL;
        if (len >= COMPRESS_MIN && says_zstd(c, "DC-Accept-Encoding")) {
            size_t cap = ZSTD_compressBound(len);
            if ((z = malloc(cap)) != NULL) {
                size_t zn = ZSTD_compress(z, cap, out.ptr, out.size, 3);
                if (!ZSTD_isError(zn) && zn < len) {
                    body = z;
                    len = zn;
                    ctype = "application/x-dc-sync+zstd";
                }
            }
        }
        if (!a->quiet)
            relay_http_log("sync device=%s status=%d in=%zu out=%zu (%zu sent) done=%d %.1fms", dh,
                           out.size ? 200 : 204, q->n, out.size, len, done,
                           (mono() - q->t0) * 1000);
        ok = send_buf(c, out.size ? 200 : 204, ctype, body, len, done ? NULL : sout, 0);
        free(z);
    }
    dc_buf_dispose(&out);
    return ok;
}

static enum MHD_Result do_wait(app *a, struct MHD_Connection *c, req *q) {
    if (q->w) {
        /* Resumed by the waker: it has taken the waiter off the list. */
        int changed = q->w->state == 1;
        free(q->w);
        q->w = NULL;
        dc_relay_note(a->rl, DC_RELAY_EV_WAIT_END);
        return send_json(c, 200,
                         json_pack("{s:b,s:I}", "changed", changed, "generation",
                                   (json_int_t)dc_relay_generation(a->rl)));
    }
    uint8_t tok[32], dev[32];
    if (!bearer(a, c, tok))
        return send_error(c, 401, "missing or malformed Authorization: Bearer TOKEN", 0);
    if (dc_relay_auth(dev, a->rl, tok) != 0)
        return send_error(c, 401, dc_error_last(), 0);
    const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timeout");
    const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    double timeout = t ? strtod(t, NULL) : 25;
    if (!(timeout >= 0))
        timeout = 0;
    if (timeout > 60)
        timeout = 60;
    uint64_t since = s ? strtoull(s, NULL, 10) : dc_relay_wait_since(a->rl, dev);
    int changed = 0;
    dc_relay_changed(&changed, a->rl, dev, since);
    if (changed || timeout == 0)
        return send_json(c, 200,
                         json_pack("{s:b,s:I}", "changed", changed, "generation",
                                   (json_int_t)dc_relay_generation(a->rl)));
    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return send_error(c, 503, "out of memory", 1);
    w->conn = c;
    memcpy(w->device, dev, 32);
    w->since = since;
    w->deadline = mono() + timeout;
    pthread_mutex_lock(&a->wmu);
    if (a->nwait >= a->max_waiters || a->stopping) {
        pthread_mutex_unlock(&a->wmu);
        free(w);
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_BUSY);
        return send_error(c, 503, "too many devices waiting; sync on a timer instead", 5);
    }
    /* Suspended before it is listed, so the waker never resumes a
     * connection that is not suspended yet. */
    MHD_suspend_connection(c);
    w->next = a->waiters;
    a->waiters = w;
    a->nwait++;
    q->w = w;
    pthread_mutex_unlock(&a->wmu);
    dc_relay_note(a->rl, DC_RELAY_EV_WAIT_BEGIN);
    return MHD_YES;
}

static int kind_of(const char *method, const char *url) {
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    if (post && strcmp(url, "/v1/auth/challenge") == 0)
        return K_CHALLENGE;
    if (post && strcmp(url, "/v1/auth/session") == 0)
        return K_SESSION;
    if (post && strcmp(url, "/v1/sync") == 0)
        return K_SYNC;
    if (get && strcmp(url, "/v1/wait") == 0)
        return K_WAIT;
    if (get && strcmp(url, "/healthz") == 0)
        return K_HEALTH;
    if (get && strcmp(url, "/metrics") == 0)
        return K_METRICS;
    if ((get || post) && strncmp(url, "/v1/attach/", 11) == 0)
        return K_ATTACH; /* relay_attach.c */
    return K_NONE;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
    (void)version;
    app *a = cls;
    req *q = *con_cls;
    if (!q) {
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        *con_cls = q;
        q->t0 = mono();
        q->kind = kind_of(method, url);
        if (q->kind == K_NONE) {
            q->answered = true;
            return send_error(c, 404, "no such endpoint", 0);
        }
        q->cap = q->kind == K_SYNC                                ? a->sync_max
                 : q->kind == K_CHALLENGE || q->kind == K_SESSION ? AUTH_BODY_MAX
                 : q->kind == K_ATTACH                            ? RELAY_ATTACH_BODY_MAX
                                                                  : 0;
        /* Refused before a byte of the body is read: MHD then closes the
         * connection instead of reading the rest. */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > q->cap) {
            q->answered = true;
            dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_SIZE);
            relay_http_log("%s %s refused: a body of %s bytes exceeds the cap of %zu", method, url,
                           cl, q->cap);
            return send_error(c, 413, "request body too large", 0);
        }
        return MHD_YES;
    }
    if (q->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_big || q->n + n > q->cap) {
            q->too_big = true;
            return MHD_YES;
        }
        size_t want = q->n + n;
        if (want > q->alloc) {
            /* Grows by doubling, within the cap; the bytes held count
             * against a budget shared by all connections. */
            size_t na = q->alloc ? q->alloc : 4096;
            while (na < want)
                na *= 2;
            if (na > q->cap)
                na = q->cap;
            if (atomic_fetch_add(&a->budget, na - q->alloc) + (na - q->alloc) > a->budget_max) {
                atomic_fetch_sub(&a->budget, na - q->alloc);
                q->too_big = true;
                return MHD_YES;
            }
            uint8_t *b = realloc(q->body, na);
            if (!b) {
                atomic_fetch_sub(&a->budget, na - q->alloc);
                q->too_big = true;
                return MHD_YES;
            }
            q->body = b;
            q->alloc = na;
        }
        uint8_t *b = q->body;
        memcpy(b + q->n, upload, n);
        q->body = b;
        q->n = want;
        return MHD_YES;
    }
    q->answered = q->kind != K_WAIT;
    if (q->too_big) {
        q->answered = true;
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_SIZE);
        relay_http_log(
            "%s %s refused: body over the cap of %zu bytes (or the relay's buffer budget)", method,
            url, q->cap);
        return send_error(c, 413, "request body too large", 0);
    }
    switch (q->kind) {
    case K_CHALLENGE: return do_challenge(a, c, q);
    case K_SESSION: return do_session(a, c, q);
    case K_SYNC: return do_sync(a, c, q);
    case K_WAIT: {
        enum MHD_Result ok = do_wait(a, c, q);
        q->answered = q->w == NULL;
        return ok;
    }
    case K_ATTACH: {
        uint8_t tok[32];
        if (!bearer(a, c, tok))
            return send_error(c, 401, "missing or malformed Authorization: Bearer TOKEN", 0);
        return relay_attach_handle(a->rl, c, method, url, tok, q->body, q->n, a->quiet);
    }
    case K_HEALTH: return send_buf(c, 200, "text/plain", "ok\n", 3, NULL, 0);
    case K_METRICS: {
        dc_buf m = DC_BUF_INIT;
        if (dc_relay_metrics(&m, a->rl) != 0)
            return send_error(c, 503, dc_error_last(), 1);
        enum MHD_Result ok = send_buf(c, 200, "text/plain; version=0.0.4", m.ptr, m.size, NULL, 0);
        dc_buf_dispose(&m);
        return ok;
    }
    default: return send_error(c, 404, "no such endpoint", 0);
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    app *a = cls;
    req *q = *con_cls;
    if (!q)
        return;
    atomic_fetch_sub(&a->budget, q->alloc);
    free(q->body);
    free(q->w); /* never listed here: the waker unlists before resuming */
    free(q);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code) {
    (void)c;
    (void)socket_ctx;
    app *a = cls;
    dc_relay_note(a->rl, code == MHD_CONNECTION_NOTIFY_STARTED ? DC_RELAY_EV_CONN_OPEN
                                                               : DC_RELAY_EV_CONN_CLOSE);
}

/* ---- the waker: resumes long-polls ---- */

static void on_change(void *user, uint64_t gen) {
    (void)gen;
    app *a = user;
    pthread_mutex_lock(&a->wmu);
    a->kicked = true;
    pthread_cond_signal(&a->wcv);
    pthread_mutex_unlock(&a->wmu);
}

/* Takes the waiters whose `state` is set off the list and resumes them
 * (under wmu). */
static void resume_decided(app *a) {
    for (waiter **p = &a->waiters; *p;) {
        waiter *w = *p;
        if (w->state) {
            *p = w->next;
            a->nwait--;
            MHD_resume_connection(w->conn);
        } else {
            p = &w->next;
        }
    }
}

/* The devices to wake in one tick: an open-addressing hash set of 32-byte
 * keys (device ids are public keys: their bytes are already spread). */
typedef struct devset {
    uint8_t (*k)[32];
    bool *used;
    size_t cap, n;
    bool all; /* wake everyone (the window outran the notes, or a failure) */
} devset;

static int devset_add(void *user, const uint8_t d[32]) {
    devset *s = user;
    if ((s->n + 1) * 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        devset t = {calloc(nc, 32), calloc(nc, sizeof(bool)), nc, 0, false};
        if (!t.k || !t.used) {
            free(t.k);
            free(t.used);
            s->all = true;
            return 0;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i])
                devset_add(&t, s->k[i]);
        free(s->k);
        free(s->used);
        *s = t;
    }
    uint64_t h;
    memcpy(&h, d, sizeof h);
    for (size_t i = h % s->cap;; i = (i + 1) % s->cap) {
        if (!s->used[i]) {
            s->used[i] = true;
            memcpy(s->k[i], d, 32);
            s->n++;
            return 0;
        }
        if (memcmp(s->k[i], d, 32) == 0)
            return 0;
    }
}

static bool devset_has(const devset *s, const uint8_t d[32]) {
    if (s->all)
        return true;
    if (!s->cap)
        return false;
    uint64_t h;
    memcpy(&h, d, sizeof h);
    for (size_t i = h % s->cap;; i = (i + 1) % s->cap) {
        if (!s->used[i])
            return false;
        if (memcmp(s->k[i], d, 32) == 0)
            return true;
    }
}

static void *waker(void *arg) {
    app *a = arg;
    uint64_t seen = dc_relay_generation(a->rl);
    pthread_mutex_lock(&a->wmu);
    while (!a->stopping) {
        if (!a->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->wcv, &a->wmu, &ts);
        }
        a->kicked = false;
        if (a->stopping)
            break;
        uint64_t gen = dc_relay_generation(a->rl);
        bool check = gen != seen;
        /* Who is to be woken, for the changes since the last tick: one pass
         * over the changed spaces' members, not one query per waiter.  A
         * waiter that began after `seen` checked the older changes itself
         * when it was parked. */
        devset wake = {NULL, NULL, 0, 0, false};
        if (check && dc_relay_devices_to_wake(a->rl, seen, gen, devset_add, &wake) != 0)
            wake.all = true;
        seen = gen;
        double now = mono();
        /* Only the waker removes waiters, so the pointers stay valid while
         * the membership checks run without wmu (they take the relay's
         * locks, and new waiters may be pushed at the head meanwhile). */
        size_t n = 0;
        for (waiter *w = a->waiters; w; w = w->next)
            n++;
        waiter **snap = malloc((n ? n : 1) * sizeof *snap);
        n = 0;
        for (waiter *w = a->waiters; snap && w; w = w->next)
            snap[n++] = w;
        pthread_mutex_unlock(&a->wmu);
        int *st = calloc(n ? n : 1, sizeof *st);
        for (size_t i = 0; snap && st && i < n; i++) {
            bool changed = check && devset_has(&wake, snap[i]->device);
            st[i] = changed ? 1 : now >= snap[i]->deadline ? 2 : 0;
        }
        free(wake.k);
        free(wake.used);
        pthread_mutex_lock(&a->wmu);
        for (size_t i = 0; snap && st && i < n; i++)
            snap[i]->state = st[i];
        resume_decided(a);
        free(snap);
        free(st);
    }
    pthread_mutex_unlock(&a->wmu);
    return NULL;
}

/* ---- start and stop ---- */

void relay_http_block_signals(void) {
    /* Signals are taken synchronously by the main thread (sigwait); the
     * threads started later inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int relay_http_wait_signal(void) {
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    return sig;
}

relay_http *relay_http_start(dc_relay *rl, const relay_http_options *o, char *err, size_t errcap) {
    if (o->name)
        g_name = o->name;
    /* HOST:PORT, the host possibly [v6]. */
    char host[256];
    const char *colon = o->listen ? strrchr(o->listen, ':') : NULL;
    if (!colon || (size_t)(colon - o->listen) >= sizeof host) {
        snprintf(err, errcap, "--listen wants HOST:PORT, got %s",
                 o->listen ? o->listen : "nothing");
        return NULL;
    }
    memcpy(host, o->listen, (size_t)(colon - o->listen));
    host[colon - o->listen] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errcap, "cannot resolve %s: %s", o->listen, gai_strerror(gai));
        return NULL;
    }
    app *a = calloc(1, sizeof *a);
    if (!a) {
        freeaddrinfo(ai);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    a->rl = rl;
    a->sync_max = o->sync_max ? o->sync_max : (size_t)64 << 20;
    a->max_waiters = o->max_waiters ? o->max_waiters : 20000;
    a->quiet = o->quiet;
    a->budget_max = a->sync_max * 8 > ((size_t)1 << 30) ? a->sync_max * 8 : ((size_t)1 << 30);
    unsigned threads = o->threads ? o->threads : 4;
    pthread_mutex_init(&a->wmu, NULL);
    pthread_cond_init(&a->wcv, NULL);
    dc_relay_on_change(rl, on_change, a);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                            o->max_conn ? o->max_conn : 10000u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            o->per_ip ? o->per_ip : 1024u, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)120, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_NOTIFY_CONNECTION,
                            on_connection, a, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!a->d) {
        dc_relay_on_change(rl, NULL, NULL);
        pthread_mutex_destroy(&a->wmu);
        pthread_cond_destroy(&a->wcv);
        free(a);
        snprintf(err, errcap, "cannot listen on %s (address in use, or not ours?)", o->listen);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? (unsigned)info->port : 0u;
    relay_http_log("listening on %s port %u, %u threads", host[0] ? host : "*", a->port, threads);
    pthread_create(&a->waker, NULL, waker, a);
    return a;
}

unsigned relay_http_port(const relay_http *h) {
    return h ? h->port : 0;
}

void relay_http_stop(relay_http *a) {
    if (!a)
        return;
    MHD_quiesce_daemon(a->d); /* no new connections */
    pthread_mutex_lock(&a->wmu);
    a->stopping = true;
    pthread_cond_signal(&a->wcv);
    pthread_mutex_unlock(&a->wmu);
    pthread_join(a->waker, NULL);
    /* Every long-poll gets its answer before the daemon stops. */
    pthread_mutex_lock(&a->wmu);
    for (waiter *w = a->waiters; w; w = w->next)
        w->state = 2;
    resume_decided(a);
    pthread_mutex_unlock(&a->wmu);
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    MHD_stop_daemon(a->d); /* waits for requests in flight */
    dc_relay_on_change(a->rl, NULL, NULL);
    pthread_mutex_destroy(&a->wmu);
    pthread_cond_destroy(&a->wcv);
    free(a);
}

/* ---- for the attachment endpoints (relay_attach.c) ---- */

enum MHD_Result relay_http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const void *p, size_t n) {
    return send_buf(c, status, ctype, p, n, NULL, 0);
}

enum MHD_Result relay_http_refuse(struct MHD_Connection *c, unsigned status, const char *msg) {
    return send_error(c, status, msg, status == 429 || status == 503 ? 1 : 0);
}

unsigned relay_http_status_of(int rc) {
    return status_of(rc);
}

int relay_http_unhex(uint8_t *out, size_t n, const char *hex) {
    return unhex(out, n, hex);
}
