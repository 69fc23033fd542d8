/*
 * drivercore-relay: the relay daemon (docs/relay.md).  The relay core of
 * libdrivercore/relay/ (authentication, sync sessions, rate limits, change
 * notification, metrics) behind libmicrohttpd, which parses HTTP and owns
 * the sockets.
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
 * Shutdown: SIGTERM or SIGINT stops accepting, answers every long-poll
 * ("changed": false), lets requests in flight finish, closes the store
 * and exits 0.  SIGKILL loses nothing acknowledged: a sync reply is sent
 * only after the changes it answers are committed with synchronous=FULL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "drivercore.h"
#include "drivercore/relay.h"

#define AUTH_BODY_MAX 4096

/* ---- configuration and state ---- */

typedef struct waiter {
    struct waiter *next;
    struct MHD_Connection *conn;
    uint8_t device[32];
    uint64_t since;
    double deadline;
    int state; /* 0 waiting, 1 changed, 2 timed out or shutting down */
} waiter;

typedef struct app {
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
} app;

enum { K_NONE, K_CHALLENGE, K_SESSION, K_SYNC, K_WAIT, K_HEALTH, K_METRICS };

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

static void logf_(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ drivercore-relay: %s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, line);
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

static enum MHD_Result do_sync(app *a, struct MHD_Connection *c, req *q) {
    uint8_t tok[32], dev[32];
    if (!bearer(a, c, tok))
        return send_error(c, 401, "missing or malformed Authorization: Bearer TOKEN", 0);
    /* The token is checked apart from the step so that a bad token (401)
     * and a change refused by the store (DC_EBADSIG: 403) stay apart. */
    if (dc_relay_auth(dev, a->rl, tok) != 0)
        return send_error(c, 401, dc_error_last(), 0);
    const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "DC-Session");
    dc_buf out = DC_BUF_INIT;
    char sout[65];
    int done = 0;
    int64_t retry = 0;
    int rc =
        dc_relay_sync(&out, sout, &done, &retry, a->rl, tok, sid, q->body ? q->body : tok, q->n);
    char dh[17];
    tohex(dh, dev, 8);
    enum MHD_Result ok;
    if (rc) {
        unsigned st = status_of(rc);
        if (rc == DC_EBADSIG)
            st = MHD_HTTP_FORBIDDEN;
        if (!a->quiet || st != 429)
            logf_("sync device=%s status=%u in=%zu: %s", dh, st, q->n, dc_error_last());
        ok = send_error(c, st, dc_error_last(), retry > 0 ? (long)((retry + 999) / 1000) : 0);
    } else {
        if (!a->quiet)
            logf_("sync device=%s status=%d in=%zu out=%zu done=%d %.1fms", dh,
                  out.size ? 200 : 204, q->n, out.size, done, (mono() - q->t0) * 1000);
        ok = send_buf(c, out.size ? 200 : 204, "application/octet-stream", out.ptr, out.size,
                      done ? NULL : sout, 0);
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
                                                                  : 0;
        /* Refused before a byte of the body is read: MHD then closes the
         * connection instead of reading the rest. */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > q->cap) {
            q->answered = true;
            dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_SIZE);
            logf_("%s %s refused: a body of %s bytes exceeds the cap of %zu", method, url, cl,
                  q->cap);
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
        logf_("%s %s refused: body over the cap of %zu bytes (or the relay's buffer budget)",
              method, url, q->cap);
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

/* ---- a clock for tests and demos ----
 * The relay's clock is authoritative for the devices (it corrects theirs),
 * so a story told at a fixed date needs the relay on the same calendar:
 * --clock-file maps a file whose first 8 bytes another process writes. */
static int64_t file_clock(void *user) {
    return *(volatile const int64_t *)user;
}

/* ---- main ---- */

static int usage(void) {
    fprintf(stderr, "usage: drivercore-relay --store PATH --listen HOST:PORT [options]\n"
                    "  --threads N          MHD worker threads (default 4)\n"
                    "  --max-connections N  connections at once (default 10000)\n"
                    "  --per-ip N           connections per client address (default 1024)\n"
                    "  --max-body BYTES     sync request body cap (default 67108864)\n"
                    "  --max-waiters N      long-polling devices at once (default 20000)\n"
                    "  --rate R --burst B   per-device sync requests per second, burst (50, 200)\n"
                    "  --token-ttl SECONDS  session token lifetime (default 600)\n"
                    "  --challenge-ttl SECONDS  challenge lifetime (default 60)\n"
                    "  --quiet              log only refusals and lifecycle\n"
                    "  --clock-file PATH    tests and demos only: the wall clock is the native\n"
                    "                       int64 of ms since the epoch at the start of PATH\n"
                    "                       (mapped, so another process can move time)\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *store = NULL, *listen_at = NULL;
    unsigned threads = 4, max_conn = 10000, per_ip = 1024;
    app a;
    memset(&a, 0, sizeof a);
    a.sync_max = (size_t)64 << 20;
    a.max_waiters = 20000;
    dc_relay_options ro = DC_RELAY_OPTIONS_INIT;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--quiet") == 0) {
            a.quiet = 1;
            continue;
        }
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage();
            return 0;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(o, "--store") == 0)
            store = v;
        else if (strcmp(o, "--listen") == 0)
            listen_at = v;
        else if (strcmp(o, "--threads") == 0)
            threads = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--max-connections") == 0)
            max_conn = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--per-ip") == 0)
            per_ip = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--max-body") == 0)
            a.sync_max = (size_t)strtoull(v, NULL, 10);
        else if (strcmp(o, "--max-waiters") == 0)
            a.max_waiters = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(o, "--rate") == 0)
            ro.rate_per_s = strtod(v, NULL);
        else if (strcmp(o, "--burst") == 0)
            ro.rate_burst = strtod(v, NULL);
        else if (strcmp(o, "--challenge-ttl") == 0)
            ro.challenge_ttl_ms = (int64_t)(strtod(v, NULL) * 1000);
        else if (strcmp(o, "--token-ttl") == 0)
            ro.token_ttl_ms = (int64_t)(strtod(v, NULL) * 1000);
        else if (strcmp(o, "--clock-file") == 0) {
            int fd = open(v, O_RDONLY | O_CLOEXEC);
            void *m = fd >= 0 ? mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
            if (fd >= 0)
                close(fd);
            if (m == MAP_FAILED) {
                fprintf(stderr, "drivercore-relay: cannot map the clock file %s\n", v);
                return 2;
            }
            ro.clock = file_clock;
            ro.clock_user = m;
        } else
            return usage();
    }
    if (!store || !listen_at || threads < 1 || threads > 64)
        return usage();
    a.budget_max = a.sync_max * 8 > ((size_t)1 << 30) ? a.sync_max * 8 : ((size_t)1 << 30);

    /* HOST:PORT, the host possibly [v6]. */
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    if (!colon || (size_t)(colon - listen_at) >= sizeof host) {
        fprintf(stderr, "drivercore-relay: --listen wants HOST:PORT, got %s\n", listen_at);
        return 2;
    }
    memcpy(host, listen_at, (size_t)(colon - listen_at));
    host[colon - listen_at] = 0;
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
        fprintf(stderr, "drivercore-relay: cannot resolve %s: %s\n", listen_at, gai_strerror(gai));
        return 2;
    }

    /* Signals are taken synchronously by the main thread (sigwait); the
     * threads started below inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Room for the connection limit in file descriptors. */
    struct rlimit rlim;
    if (getrlimit(RLIMIT_NOFILE, &rlim) == 0 && rlim.rlim_cur < rlim.rlim_max) {
        rlim.rlim_cur = rlim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rlim);
    }

    int rc = dc_relay_open(&a.rl, store, &ro);
    if (rc) {
        freeaddrinfo(ai);
        logf_("cannot open the store: %s", dc_error_last());
        return 1;
    }
    pthread_mutex_init(&a.wmu, NULL);
    pthread_cond_init(&a.wcv, NULL);
    dc_relay_on_change(a.rl, on_change, &a);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a.d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, &a, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, max_conn,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768, MHD_OPTION_NOTIFY_COMPLETED, completed,
        &a, MHD_OPTION_NOTIFY_CONNECTION, on_connection, &a, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!a.d) {
        logf_("cannot listen on %s (address in use, or not ours?)", listen_at);
        dc_relay_close(a.rl);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a.d, MHD_DAEMON_INFO_BIND_PORT);
    logf_("listening on %s port %u, store %s, %u threads", host[0] ? host : "*",
          info ? (unsigned)info->port : 0u, store, threads);
    pthread_t wt;
    pthread_create(&wt, NULL, waker, &a);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    logf_("signal %d: stopping", sig);
    MHD_quiesce_daemon(a.d); /* no new connections */
    pthread_mutex_lock(&a.wmu);
    a.stopping = true;
    pthread_cond_signal(&a.wcv);
    pthread_mutex_unlock(&a.wmu);
    pthread_join(wt, NULL);
    /* Every long-poll gets its answer before the daemon stops. */
    pthread_mutex_lock(&a.wmu);
    for (waiter *w = a.waiters; w; w = w->next)
        w->state = 2;
    resume_decided(&a);
    pthread_mutex_unlock(&a.wmu);
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    MHD_stop_daemon(a.d); /* waits for requests in flight */
    dc_relay_close(a.rl);
    logf_("stopped; store closed");
    return 0;
}
