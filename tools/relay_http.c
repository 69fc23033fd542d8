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
#include <limits.h>
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
#include "hex.h"
#include "relay_http.h"

#define AUTH_BODY_MAX 4096
#define COMPRESS_MIN 256

/* ---- state ---- */

/* Memory budgets by client address and device (see budget_charge). */
#define BUDGET_SLOTS 4096
typedef struct bent {
    struct bent *next;
    uint8_t k[33];
    size_t used;
} bent;
typedef struct budgets {
    pthread_mutex_t mu;
    bent *slot[BUDGET_SLOTS];
} budgets;

/* A suspended long-poll.  Waiters are found by device (a hash of chains,
 * so the changes of a generation cost a lookup per member of the spaces
 * that changed, not a pass over every waiter) and by deadline (a list in
 * deadline order: timeouts are taken from its head). */
typedef struct waiter {
    struct waiter *next_dev;        /* the chain of its hash slot */
    struct waiter *prev_t, *next_t; /* deadline order */
    struct waiter *next_new;        /* parked since the waker's last tick */
    bool on_new;                    /* on that list (a->wnew) */
    struct MHD_Connection *conn;
    uint8_t device[32];
    uint64_t checked; /* its own check covered the changes up to here */
    double deadline;
    int state; /* 0 waiting, 1 changed, 2 timed out or shutting down */
} waiter;

struct relay_http {
    dc_relay *rl;
    struct MHD_Daemon *d;
    size_t sync_max, budget_max;
    atomic_size_t budget; /* request body bytes buffered, all connections */
    size_t mem_addr, mem_dev;
    double header_s, body_grace_s, body_min_rate;
    unsigned idle_s;
    budgets bud;
    unsigned max_conn;
    atomic_uint conns; /* connections open, all workers */
    unsigned max_waiters, nwait;
    int quiet;
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    waiter **wslot; /* hash of waiters by device */
    size_t nwslot;
    waiter *whead, *wtail; /* deadline order */
    waiter *wnew;          /* parked since the last tick */
    uint64_t seen;         /* the generation the waker has handled */
    bool stopping, kicked;
    const char *name;
    pthread_t waker;
    unsigned port;
    pthread_mutex_t cmu; /* the list of connections */
    struct conn_ctx *conns_list;
    double swept;
};
typedef struct relay_http app;

static const char *g_name = "drivercore-relay";

enum { K_NONE, K_CHALLENGE, K_SESSION, K_SYNC, K_WAIT, K_HEALTH, K_READY, K_METRICS, K_ATTACH };

typedef struct req {
    int kind;
    uint8_t *body;
    size_t n, cap, alloc;
    bool too_big, answered;
    bool over_memory; /* a body over its address's or device's budget */
    bool authed;      /* dev holds the device of a checked token */
    uint8_t dev[32];
    uint8_t akey[33]; /* the client address, as a budget key */
    waiter *w;
    double t0;
} req;

/* What MHD keeps per connection for us (its socket context), listed (under
 * the app's cmu) for the header deadline: the waker shuts down a
 * connection whose request headers are late. */
typedef struct conn_ctx {
    struct conn_ctx *prev, *next;
    int fd;
    double t_req;    /* when the current request's headers began to be due */
    bool in_headers; /* between requests: headers awaited */
    bool cut;        /* shut down by the deadline */
} conn_ctx;

/* ---- memory budgets per client address and per device ----
 * Body bytes buffered, by a 33-byte key (a tag, then an address or a
 * device id), in a small chained hash under its own lock.  Keys with
 * nothing charged are dropped, so the table holds only the clients with a
 * body in flight. */

static size_t bslot(const uint8_t k[33]) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 33; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return (size_t)(h % BUDGET_SLOTS);
}

/* Charges `delta` to key k within `limit`; false (nothing charged) when it
 * would go over or memory is short. */
static bool budget_charge(budgets *b, const uint8_t k[33], size_t delta, size_t limit) {
    pthread_mutex_lock(&b->mu);
    bent **p = &b->slot[bslot(k)];
    while (*p && memcmp((*p)->k, k, 33) != 0)
        p = &(*p)->next;
    bool ok = true;
    if (!*p) {
        bent *e = delta <= limit ? calloc(1, sizeof *e) : NULL;
        if (!e)
            ok = false;
        else {
            memcpy(e->k, k, 33);
            e->used = delta;
            *p = e;
        }
    } else if ((*p)->used + delta > limit) {
        ok = false;
    } else {
        (*p)->used += delta;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static void budget_release(budgets *b, const uint8_t k[33], size_t delta) {
    if (!delta)
        return;
    pthread_mutex_lock(&b->mu);
    bent **p = &b->slot[bslot(k)];
    while (*p && memcmp((*p)->k, k, 33) != 0)
        p = &(*p)->next;
    if (*p) {
        (*p)->used -= delta < (*p)->used ? delta : (*p)->used;
        if (!(*p)->used) {
            bent *e = *p;
            *p = e->next;
            free(e);
        }
    }
    pthread_mutex_unlock(&b->mu);
}

static void budgets_free(budgets *b) {
    for (size_t i = 0; i < BUDGET_SLOTS; i++)
        while (b->slot[i]) {
            bent *e = b->slot[i];
            b->slot[i] = e->next;
            free(e);
        }
    pthread_mutex_destroy(&b->mu);
}

static void dev_key(uint8_t k[33], const uint8_t dev[32]) {
    k[0] = 'd';
    memcpy(k + 1, dev, 32);
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_int g_json; /* relay_http_log_json */

void relay_http_log_json(int on) {
    atomic_store(&g_json, on);
}

/* A line's `key=value` words as JSON fields (numbers as numbers), its
 * first word as "event", the whole line as "msg". */
static void log_fields(json_t *o, const char *line) {
    const char *sp = strchr(line, ' ');
    size_t k = sp ? (size_t)(sp - line) : strlen(line);
    char ev[32];
    snprintf(ev, sizeof ev, "%.*s", (int)(k < sizeof ev - 1 ? k : sizeof ev - 1), line);
    size_t e = strlen(ev);
    while (e && (ev[e - 1] == ':' || ev[e - 1] == ',' || ev[e - 1] == ';'))
        ev[--e] = 0;
    json_object_set_new(o, "event", json_string(ev));
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        const char *eq = memchr(w, '=', (size_t)(p - w));
        if (!eq || eq == w || (size_t)(eq - w) >= 32)
            continue;
        char key[32], val[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - w), w);
        size_t vn = (size_t)(p - eq - 1);
        snprintf(val, sizeof val, "%.*s", (int)(vn < sizeof val - 1 ? vn : sizeof val - 1), eq + 1);
        vn = strlen(val);
        while (vn && (val[vn - 1] == ':' || val[vn - 1] == ','))
            val[--vn] = 0;
        bool alnum_key = true;
        for (const char *c = key; *c; c++)
            alnum_key &= (*c >= 'a' && *c <= 'z') || *c == '_';
        if (!alnum_key || json_object_get(o, key))
            continue;
        char *end = NULL;
        double d = strtod(val, &end);
        bool num = end && *end == 0 && vn && strcmp(key, "device") != 0;
        json_object_set_new(o, key, num ? json_real(d) : json_string(val));
    }
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
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (atomic_load(&g_json)) {
        json_t *o = json_object();
        char *s = NULL;
        if (o) {
            json_object_set_new(o, "ts", json_string(when));
            json_object_set_new(o, "program", json_string(g_name));
            log_fields(o, line);
            json_object_set_new(o, "msg", json_string(line));
            s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
        }
        if (s) {
            fprintf(stderr, "%s\n", s);
            free(s);
            return;
        }
    }
    fprintf(stderr, "%s %s: %s\n", when, g_name, line);
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
    if (!h || strncmp(h, "Bearer ", 7) != 0 || hex_decode(tok, 32, h + 7) != 0) {
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_AUTH);
        return false;
    }
    return true;
}

/* ---- endpoints ---- */

static enum MHD_Result do_challenge(app *a, struct MHD_Connection *c, req *q) {
    json_t *j = json_loadb((const char *)q->body, q->n, 0, NULL);
    uint8_t dev[32], ch[32];
    if (!j || hex_decode(dev, 32, json_string_value(json_object_get(j, "device")))) {
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
    hex_encode(hex, ch, 32);
    return send_json(c, 200, json_pack("{s:s,s:I}", "challenge", hex, "expires", (json_int_t)exp));
}

static enum MHD_Result do_session(app *a, struct MHD_Connection *c, req *q) {
    json_t *j = json_loadb((const char *)q->body, q->n, 0, NULL);
    uint8_t dev[32], ch[32], sig[64], tok[32];
    if (!j || hex_decode(dev, 32, json_string_value(json_object_get(j, "device"))) ||
        hex_decode(ch, 32, json_string_value(json_object_get(j, "challenge"))) ||
        hex_decode(sig, 64, json_string_value(json_object_get(j, "signature")))) {
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
    hex_encode(hex, tok, 32);
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
    hex_encode(dh, dev, 8);
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

static size_t wslot_of(const app *a, const uint8_t d[32]) {
    uint64_t h;
    memcpy(&h, d, sizeof h); /* a public key: its bytes are spread */
    return (size_t)(h & (a->nwslot - 1));
}

/* Lists a waiter (under wmu): by device, by deadline, and as new. */
static void park(app *a, waiter *w) {
    size_t k = wslot_of(a, w->device);
    w->next_dev = a->wslot[k];
    a->wslot[k] = w;
    waiter *p = a->wtail; /* deadlines mostly come in order: from the tail */
    while (p && p->deadline > w->deadline)
        p = p->prev_t;
    w->prev_t = p;
    w->next_t = p ? p->next_t : a->whead;
    if (w->next_t)
        w->next_t->prev_t = w;
    else
        a->wtail = w;
    if (p)
        p->next_t = w;
    else
        a->whead = w;
    w->next_new = a->wnew;
    a->wnew = w;
    w->on_new = true;
    a->nwait++;
}

/* Unlists a waiter with its state set and resumes its connection (under
 * wmu); the request's completion frees it. */
static void resume(app *a, waiter *w, int state) {
    /* Off the list of new ones too: once resumed, its request may free it
     * at any moment, so no list may keep it. */
    if (w->on_new) {
        for (waiter **p = &a->wnew; *p; p = &(*p)->next_new)
            if (*p == w) {
                *p = w->next_new;
                break;
            }
        w->on_new = false;
    }
    for (waiter **p = &a->wslot[wslot_of(a, w->device)]; *p; p = &(*p)->next_dev)
        if (*p == w) {
            *p = w->next_dev;
            break;
        }
    if (w->prev_t)
        w->prev_t->next_t = w->next_t;
    else
        a->whead = w->next_t;
    if (w->next_t)
        w->next_t->prev_t = w->prev_t;
    else
        a->wtail = w->prev_t;
    w->state = state;
    a->nwait--;
    MHD_resume_connection(w->conn);
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
    uint64_t checked = dc_relay_generation(a->rl);
    if (checked < since)
        checked = since;
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
    w->checked = checked;
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
    park(a, w);
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
    if (get && strcmp(url, "/readyz") == 0)
        return K_READY;
    if (get && strcmp(url, "/metrics") == 0)
        return K_METRICS;
    if ((get || post) && strncmp(url, "/v1/attach/", 11) == 0)
        return K_ATTACH; /* relay_attach.c */
    return K_NONE;
}

/* A request's first call, its headers in: the header deadline, the
 * client's address as a budget key, the endpoint, the token of those that
 * need one and the declared body size, each checked before a byte of the
 * body is read. */
static enum MHD_Result begin_request(app *a, struct MHD_Connection *c, req *q, const char *url,
                                     const char *method) {
    q->t0 = mono();
    q->kind = kind_of(method, url);
    /* Every request's headers arrive within the header deadline, from
     * the connect or the previous request's end (the waker cuts a
     * connection still sending them then; this catches the last). */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *cx = ci ? ci->socket_context : NULL;
    double took = 0;
    if (cx) {
        pthread_mutex_lock(&a->cmu);
        cx->in_headers = false;
        took = q->t0 - cx->t_req;
        pthread_mutex_unlock(&a->cmu);
    }
    if (took > a->header_s) {
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_DEADLINE);
        relay_http_log("%s %s refused: headers took %.1fs (deadline %.0fs)", method, url, took,
                       a->header_s);
        return MHD_NO; /* closes the connection */
    }
    /* The client address, as a budget key. */
    q->akey[0] = 'a';
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ai && ai->client_addr) {
        const struct sockaddr *sa = ai->client_addr;
        if (sa->sa_family == AF_INET)
            memcpy(q->akey + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        else if (sa->sa_family == AF_INET6)
            memcpy(q->akey + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    if (q->kind == K_NONE) {
        q->answered = true;
        return send_error(c, 404, "no such endpoint", 0);
    }
    if (q->kind == K_SYNC || q->kind == K_ATTACH) {
        /* The token is checked before a byte of the body is read or
         * buffered: a client without one costs no memory. */
        uint8_t tok[32];
        if (!bearer(a, c, tok)) {
            q->answered = true;
            return send_error(c, 401, "missing or malformed Authorization: Bearer TOKEN", 0);
        }
        if (dc_relay_auth(q->dev, a->rl, tok) != 0) {
            q->answered = true;
            return send_error(c, 401, dc_error_last(), 0);
        }
        q->authed = true;
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
        relay_http_log("%s %s refused: a body of %s bytes exceeds the cap of %zu", method, url, cl,
                       q->cap);
        return send_error(c, 413, "request body too large", 0);
    }
    return MHD_YES;
}

/* Room for the body to grow to `want` bytes: by doubling, within the cap;
 * the bytes held count against a budget shared by all connections and
 * those of the request's address and device.  False when the body cannot
 * grow (q->too_big or q->over_memory says why). */
static bool grow_body(app *a, req *q, size_t want) {
    size_t na = q->alloc ? q->alloc : 4096;
    while (na < want)
        na *= 2;
    if (na > q->cap)
        na = q->cap;
    if (atomic_fetch_add(&a->budget, na - q->alloc) + (na - q->alloc) > a->budget_max) {
        atomic_fetch_sub(&a->budget, na - q->alloc);
        q->too_big = true;
        return false;
    }
    /* And against the budgets of its address and its device. */
    uint8_t dk[33];
    dev_key(dk, q->dev);
    size_t d = na - q->alloc;
    bool addr_ok = budget_charge(&a->bud, q->akey, d, a->mem_addr);
    bool dev_ok = addr_ok && (!q->authed || budget_charge(&a->bud, dk, d, a->mem_dev));
    if (!dev_ok) {
        if (addr_ok)
            budget_release(&a->bud, q->akey, d);
        atomic_fetch_sub(&a->budget, d);
        q->over_memory = true;
        return false;
    }
    uint8_t *b = realloc(q->body, na);
    if (!b) {
        atomic_fetch_sub(&a->budget, d);
        budget_release(&a->bud, q->akey, d);
        if (q->authed)
            budget_release(&a->bud, dk, d);
        q->too_big = true;
        return false;
    }
    q->body = b;
    q->alloc = na;
    return true;
}

/* A body's next bytes, kept unless the request is refused already. */
static enum MHD_Result take_body(app *a, req *q, const char *upload, size_t n) {
    if (q->over_memory)
        return MHD_YES;
    if (q->too_big || q->n + n > q->cap) {
        q->too_big = true;
        return MHD_YES;
    }
    size_t want = q->n + n;
    if (want > q->alloc && !grow_body(a, q, want))
        return MHD_YES;
    uint8_t *b = q->body;
    memcpy(b + q->n, upload, n);
    q->body = b;
    q->n = want;
    return MHD_YES;
}

/* The answer, the whole body in: a refusal for a body over a budget or the
 * cap, or the endpoint's. */
static enum MHD_Result answer(app *a, struct MHD_Connection *c, req *q, const char *url,
                              const char *method) {
    q->answered = q->kind != K_WAIT;
    if (q->over_memory) {
        q->answered = true;
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_MEMORY);
        relay_http_log("%s %s refused: over the body memory budget of its address or device",
                       method, url);
        return send_error(c, 503, "over the memory budget of this address or device", 1);
    }
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
    case K_READY: {
        /* Ready: not stopping, and the store takes writes now.  A load
         * balancer sends no new device here otherwise. */
        pthread_mutex_lock(&a->wmu);
        bool stopping = a->stopping;
        pthread_mutex_unlock(&a->wmu);
        if (stopping)
            return send_error(c, 503, "stopping", 0);
        if (dc_relay_ready(a->rl) != 0)
            return send_error(c, 503, dc_error_last(), 1);
        return send_buf(c, 200, "text/plain", "ready\n", 6, NULL, 0);
    }
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
        return begin_request(a, c, q, url, method);
    }
    if (q->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    /* A body slower than the minimum rate after its grace period (a byte
     * a minute) is cut off. */
    double el = mono() - q->t0;
    if (*upload_size && el > a->body_grace_s && (double)q->n < a->body_min_rate * el) {
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_DEADLINE);
        relay_http_log("%s %s refused: %zu body bytes in %.1fs (under %.0f bytes/s)", method, url,
                       q->n, el, a->body_min_rate);
        return MHD_NO;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return take_body(a, q, upload, n);
    }
    return answer(a, c, q, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)toe;
    app *a = cls;
    /* A kept-alive connection's next request is due from now. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *cx = ci ? ci->socket_context : NULL;
    if (cx) {
        pthread_mutex_lock(&a->cmu);
        cx->in_headers = true;
        cx->t_req = mono();
        pthread_mutex_unlock(&a->cmu);
    }
    req *q = *con_cls;
    if (!q)
        return;
    atomic_fetch_sub(&a->budget, q->alloc);
    budget_release(&a->bud, q->akey, q->alloc);
    if (q->authed) {
        uint8_t dk[33];
        dev_key(dk, q->dev);
        budget_release(&a->bud, dk, q->alloc);
    }
    free(q->body);
    free(q->w); /* never listed here: the waker unlists before resuming */
    free(q);
    *con_cls = NULL;
}

/* The connection cap, over all workers: MHD divides its own limit among
 * the workers of its pool, so with uneven accepts one worker would refuse
 * while others had room.  MHD's limit is set high and this one counts. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len) {
    (void)addr;
    (void)len;
    app *a = cls;
    if (atomic_load(&a->conns) >= a->max_conn) {
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_CONNECTIONS);
        return MHD_NO;
    }
    return MHD_YES;
}

/* MHD notifies a connection closed before it closes the socket, so a
 * descriptor on the list (under cmu) is still this connection's. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code) {
    app *a = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&a->conns, 1);
        conn_ctx *cx = calloc(1, sizeof *cx);
        const union MHD_ConnectionInfo *fi =
            cx ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
        if (cx) {
            cx->fd = fi ? fi->connect_fd : -1;
            cx->t_req = mono();
            cx->in_headers = true;
            pthread_mutex_lock(&a->cmu);
            cx->next = a->conns_list;
            if (a->conns_list)
                a->conns_list->prev = cx;
            a->conns_list = cx;
            pthread_mutex_unlock(&a->cmu);
        }
        *socket_ctx = cx;
    } else {
        atomic_fetch_sub(&a->conns, 1);
        conn_ctx *cx = *socket_ctx;
        if (cx) {
            pthread_mutex_lock(&a->cmu);
            if (cx->prev)
                cx->prev->next = cx->next;
            else
                a->conns_list = cx->next;
            if (cx->next)
                cx->next->prev = cx->prev;
            pthread_mutex_unlock(&a->cmu);
        }
        free(cx);
        *socket_ctx = NULL;
    }
    dc_relay_note(a->rl, code == MHD_CONNECTION_NOTIFY_STARTED ? DC_RELAY_EV_CONN_OPEN
                                                               : DC_RELAY_EV_CONN_CLOSE);
}

/* ---- the header deadline ---- */

/* Shuts down every connection whose request headers are past the deadline
 * (a byte a minute keeps the idle timeout from firing, not this): MHD then
 * reads the end of the stream and closes it.  At most 4 times a second;
 * one pass over the connections under cmu. */
static void sweep_headers(app *a, double now) {
    if (now - a->swept < 0.25)
        return;
    a->swept = now;
    unsigned cut = 0;
    pthread_mutex_lock(&a->cmu);
    for (conn_ctx *cx = a->conns_list; cx; cx = cx->next)
        if (cx->in_headers && !cx->cut && cx->fd >= 0 && now - cx->t_req > a->header_s) {
            cx->cut = true;
            shutdown(cx->fd, SHUT_RDWR);
            cut++;
        }
    pthread_mutex_unlock(&a->cmu);
    for (unsigned i = 0; i < cut; i++)
        dc_relay_note(a->rl, DC_RELAY_EV_REFUSE_DEADLINE);
    if (cut)
        relay_http_log("headers refused: %u connection%s past the header deadline (%.0fs) closed",
                       cut, cut == 1 ? "" : "s", a->header_s);
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

static void *waker(void *arg) {
    app *a = arg;
    pthread_mutex_lock(&a->wmu);
    a->seen = dc_relay_generation(a->rl);
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
        sweep_headers(a, mono());
        /* The window of changes to handle, and the waiters parked since
         * the last tick.  Only the waker unlists waiters, so the new ones
         * stay valid while the checks below run without wmu (they take
         * the relay's locks). */
        uint64_t from = a->seen, to = dc_relay_generation(a->rl);
        a->seen = to;
        waiter *fresh = a->wnew;
        a->wnew = NULL;
        for (waiter *w = fresh; w; w = w->next_new)
            w->on_new = false;
        pthread_mutex_unlock(&a->wmu);
        /* Who is to be woken for the window: one pass over the changed
         * spaces' members. */
        devset wake = {NULL, NULL, 0, 0, false};
        if (to > from && dc_relay_devices_to_wake(a->rl, from, to, devset_add, &wake) != 0)
            wake.all = true;
        /* A waiter parked after its own check but before this window was
         * begun missed the generations in between: checked alone. */
        size_t nlate = 0;
        for (waiter *w = fresh; w; w = w->next_new)
            nlate += w->checked < from;
        waiter **late = nlate ? calloc(nlate, sizeof *late) : NULL;
        nlate = 0;
        for (waiter *w = fresh; w; w = w->next_new) {
            int changed = 0;
            if (w->checked < from &&
                (!late || dc_relay_changed(&changed, a->rl, w->device, w->checked) != 0 ||
                 changed)) {
                if (late)
                    late[nlate++] = w;
                else
                    wake.all = true;
            }
        }
        double now = mono();
        pthread_mutex_lock(&a->wmu);
        /* The late ones first: only this thread resumes waiters, so they
         * are all still listed (after a resume, a waiter's memory is its
         * request's to free). */
        for (size_t i = 0; i < nlate; i++)
            resume(a, late[i], 1);
        if (wake.all) {
            while (a->whead)
                resume(a, a->whead, 1);
        } else {
            for (size_t i = 0; i < wake.cap; i++) {
                if (!wake.used[i])
                    continue;
                waiter *w = a->wslot[wslot_of(a, wake.k[i])];
                while (w) {
                    waiter *nx = w->next_dev;
                    if (memcmp(w->device, wake.k[i], 32) == 0)
                        resume(a, w, 1);
                    w = nx;
                }
            }
        }
        while (a->whead && a->whead->deadline <= now)
            resume(a, a->whead, 2);
        free(late);
        free(wake.k);
        free(wake.used);
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
    a->mem_addr = o->mem_per_address ? o->mem_per_address : a->sync_max * 4;
    a->mem_dev = o->mem_per_device ? o->mem_per_device : a->sync_max;
    a->header_s = o->header_s ? o->header_s : 30;
    a->idle_s = o->idle_s ? o->idle_s : 30;
    a->body_grace_s = o->body_grace_s ? o->body_grace_s : 10;
    a->body_min_rate = o->body_min_rate ? o->body_min_rate : 512;
    pthread_mutex_init(&a->bud.mu, NULL);
    unsigned threads = o->threads ? o->threads : 8;
    a->max_conn = o->max_conn ? o->max_conn : 10000u;
    atomic_init(&a->conns, 0);
    for (a->nwslot = 1024; a->nwslot < a->max_waiters; a->nwslot *= 2) {
    }
    if (!(a->wslot = calloc(a->nwslot, sizeof *a->wslot))) {
        freeaddrinfo(ai);
        free(a);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->wmu, NULL);
    pthread_mutex_init(&a->cmu, NULL);
    pthread_cond_init(&a->wcv, NULL);
    dc_relay_on_change(rl, on_change, a);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* TLS options only when asked for (MHD logs them as misplaced else). */
    struct MHD_OptionItem tls[3] = {
        {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    bool use_tls = o->tls_cert_pem || o->tls_key_pem;
    if (use_tls) {
        if (!o->tls_cert_pem || !o->tls_key_pem ||
            MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            freeaddrinfo(ai);
            dc_relay_on_change(rl, NULL, NULL);
            pthread_mutex_destroy(&a->wmu);
            pthread_mutex_destroy(&a->cmu);
            pthread_cond_destroy(&a->wcv);
            free(a->wslot);
            budgets_free(&a->bud);
            free(a);
            snprintf(err, errcap,
                     !o->tls_cert_pem || !o->tls_key_pem
                         ? "TLS wants both a certificate and its key"
                         : "this libmicrohttpd was built without TLS");
            return NULL;
        }
        flags |= MHD_USE_TLS;
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->tls_cert_pem};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key_pem};
    }
    a->d = MHD_start_daemon(
        flags, 0, accept_policy, a, handler, a, MHD_OPTION_ARRAY, tls, MHD_OPTION_SOCK_ADDR,
        ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
        a->max_conn * threads, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        o->per_ip == UINT_MAX ? 0u
        : o->per_ip           ? o->per_ip
                              : 1024u,
        MHD_OPTION_CONNECTION_TIMEOUT, a->idle_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!a->d) {
        dc_relay_on_change(rl, NULL, NULL);
        pthread_mutex_destroy(&a->wmu);
        pthread_mutex_destroy(&a->cmu);
        pthread_cond_destroy(&a->wcv);
        free(a->wslot);
        budgets_free(&a->bud);
        free(a);
        snprintf(err, errcap,
                 use_tls ? "cannot listen on %s (address in use, not ours, or a TLS certificate "
                           "or key that GnuTLS cannot read?)"
                         : "cannot listen on %s (address in use, or not ours?)",
                 o->listen);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? (unsigned)info->port : 0u;
    relay_http_log("listening on %s port %u, %u threads%s", host[0] ? host : "*", a->port, threads,
                   use_tls ? ", TLS" : "");
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
    while (a->whead)
        resume(a, a->whead, 2);
    pthread_mutex_unlock(&a->wmu);
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    MHD_stop_daemon(a->d); /* waits for requests in flight */
    dc_relay_on_change(a->rl, NULL, NULL);
    pthread_mutex_destroy(&a->wmu);
    pthread_mutex_destroy(&a->cmu);
    pthread_cond_destroy(&a->wcv);
    free(a->wslot);
    budgets_free(&a->bud);
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
    return hex_decode(out, n, hex);
}
