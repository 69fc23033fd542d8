/*
 * Tests of the sync client (include/drivercore/client.h) against an
 * in-process relay core behind a scripted transport: the transport plays
 * the relay daemon's endpoints (docs/relay.md) over dc_relay_* calls, and
 * can fail on cue — no connection, 429 with Retry-After, 503, an old relay
 * refusing the bundle-size byte, a request that hangs until cancelled.
 * What a user would check: the sync lands, transient failures are retried
 * with bounded backoff, permanent ones are not, and `status` says when and
 * why the last sync failed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/base.h"
#include "drivercore.h"
#include "drivercore/relay.h"
#include "../common/replica_fixture.h"

static dc_test_dir g_d;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hex, both ways: the library's own helpers (base/base.h). */
#define tohex dc__hex
static int unhex(uint8_t *out, size_t n, const char *hex) {
    char buf[130];
    if (strlen(hex) < 2 * n || 2 * n >= sizeof buf)
        return -1;
    memcpy(buf, hex, 2 * n);
    buf[2 * n] = 0;
    return dc__unhex(out, n, buf);
}

/* The hex value of "key":"..." in a small JSON body. */
static int json_hex(uint8_t *out, size_t n, const uint8_t *body, size_t len, const char *key) {
    char buf[1024], k[64];
    snprintf(buf, sizeof buf, "%.*s", (int)len, (const char *)body);
    snprintf(k, sizeof k, "\"%s\":\"", key);
    const char *p = strstr(buf, k);
    return p ? unhex(out, n, p + strlen(k)) : -1;
}

/* ---- the scripted relay ---- */

typedef struct fake {
    dc_relay *rl;
    int connect_failures; /* the next N requests find no connection */
    int busy_once;        /* the next sync request gets 429, Retry-After: 1 */
    int always_503;       /* every sync request gets 503 */
    int old_relay;        /* 400 for a sync message whose byte 6 is set */
    int hang;             /* requests block until cancelled */
    volatile int cancel;
    int requests, syncs;
    uint8_t asked[64]; /* byte 6 of each sync message */
} fake;

static const char *header(const dc_http_request *q, const char *name) {
    for (size_t i = 0; i < dc_http_request_header_count(q); i++)
        if (strcmp(dc_http_request_header_name(q, i), name) == 0)
            return dc_http_request_header_value(q, i);
    return NULL;
}

static int answer(dc_http_response *r, int status, const char *json) {
    dc_http_response_set_status(r, status);
    if (json)
        dc_http_response_append(r, (const uint8_t *)json, strlen(json));
    return 0;
}

static int fake_request(void *user, const dc_http_request *q, dc_http_response *r) {
    fake *f = user;
    f->requests++;
    if (f->hang) {
        while (!f->cancel)
            usleep(1000);
        dc_http_response_fail(r, DC_HTTP_FAIL_CANCELED, "cancelled");
        return -1;
    }
    if (f->connect_failures > 0) {
        f->connect_failures--;
        dc_http_response_fail(r, DC_HTTP_FAIL_CONNECT, "Connection refused");
        return -1;
    }
    const char *url = dc_http_request_url(q), *path = strstr(url, "/v1/");
    size_t n;
    const uint8_t *body = dc_http_request_body(q, &n);
    char json[256], hex[129];
    uint8_t dev[32], ch[32], sig[64], tok[32];
    int64_t exp;
    if (!path)
        return answer(r, 404, "{\"error\":\"no such endpoint\"}");
    if (strcmp(path, "/v1/auth/challenge") == 0) {
        if (json_hex(dev, 32, body, n, "device") || dc_relay_challenge(ch, &exp, f->rl, dev))
            return answer(r, 400, "{\"error\":\"bad challenge request\"}");
        tohex(hex, ch, 32);
        snprintf(json, sizeof json, "{\"challenge\":\"%s\",\"expires\":%lld}", hex, (long long)exp);
        return answer(r, 200, json);
    }
    if (strcmp(path, "/v1/auth/session") == 0) {
        if (json_hex(dev, 32, body, n, "device") || json_hex(ch, 32, body, n, "challenge") ||
            json_hex(sig, 64, body, n, "signature"))
            return answer(r, 400, "{\"error\":\"malformed\"}");
        if (dc_relay_session(tok, &exp, f->rl, dev, ch, sig))
            return answer(r, 401, "{\"error\":\"bad signature\"}");
        tohex(hex, tok, 32);
        snprintf(json, sizeof json, "{\"token\":\"%s\",\"expires\":%lld}", hex, (long long)exp);
        return answer(r, 200, json);
    }
    const char *auth = header(q, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) || unhex(tok, 32, auth + 7))
        return answer(r, 401, "{\"error\":\"no token\"}");
    if (strncmp(path, "/v1/wait", 8) == 0)
        return answer(r, 200, "{\"changed\":false,\"generation\":0}");
    if (strcmp(path, "/v1/sync") != 0)
        return answer(r, 404, "{\"error\":\"no such endpoint\"}");
    if (f->syncs < 64)
        f->asked[f->syncs] = n > 6 ? body[6] : 0;
    f->syncs++;
    if (f->always_503)
        return answer(r, 503, "{\"error\":\"relay: out of memory\"}");
    if (f->busy_once) {
        f->busy_once = 0;
        dc_http_response_add_header(r, "Retry-After", "1");
        return answer(r, 429, "{\"error\":\"relay: rate limit; retry later\"}");
    }
    if (f->old_relay && n > 6 && body[6])
        return answer(r, 400,
                      "{\"error\":\"sync: malformed message (version 0 or reserved bits "
                      "set); start a new session\"}");
    dc_buf out = DC_BUF_INIT;
    char sid[65];
    int done = 0;
    int64_t retry = 0;
    int rc = dc_relay_sync(&out, sid, &done, &retry, f->rl, tok, header(q, "DC-Session"), body, n);
    if (rc) {
        dc_buf_dispose(&out);
        return answer(r, rc == DC_ENOTFOUND ? 404 : 400, "{\"error\":\"refused\"}");
    }
    if (!done)
        dc_http_response_add_header(r, "DC-Session", sid);
    dc_http_response_set_status(r, out.size ? 200 : 204);
    dc_http_response_append(r, out.ptr, out.size);
    dc_buf_dispose(&out);
    return 0;
}

static void fake_cancel(void *user) {
    ((fake *)user)->cancel = 1;
}

static dc_client *client_for(dc_replica *r, fake *f, unsigned attempts) {
    dc_transport t = DC_TRANSPORT_INIT;
    t.request = fake_request;
    t.cancel = fake_cancel;
    t.user = f;
    dc_client_options o = DC_CLIENT_OPTIONS_INIT;
    o.max_attempts = attempts;
    o.backoff_base_ms = 20;
    o.backoff_max_ms = 200;
    dc_client *c = NULL;
    dc_test_ok(r, dc_client_new(&c, r, "http://relay.test:8443", &t, &o));
    return c;
}

/* The "last_sync" object of the status, as text. */
static char *last_sync(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_replica_status(&b, r));
    const char *p = strstr((const char *)b.ptr, "\"last_sync\":");
    assert_non_null(p);
    char *s = strdup(p);
    dc_buf_dispose(&b);
    return s;
}

typedef struct world {
    fake f;
    dc_replica *a, *b;
    char space[33];
} world;

/* Device a (admin) and b (member) of one space; a wrote a record. */
static void world_new(world *w, const char *tag) {
    memset(w, 0, sizeof *w);
    char path[512], an[64], bn[64];
    snprintf(path, sizeof path, "%s/relay-%s.db", g_d.path, tag);
    if (dc_relay_open(&w->f.rl, path, NULL))
        fail_msg("relay: %s", dc_error_last());
    snprintf(an, sizeof an, "a-%s.db", tag);
    snprintf(bn, sizeof bn, "b-%s.db", tag);
    w->a = dc_test_open_wall(&g_d, an);
    w->b = dc_test_open_wall(&g_d, bn);
    dc_buf sp = DC_BUF_INIT;
    dc_test_ok(w->a, dc_space_create(&sp, w->a, "branch"));
    snprintf(w->space, sizeof w->space, "%s", (const char *)sp.ptr);
    dc_buf_dispose(&sp);
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(w->b, dc_replica_card(&card, w->b));
    dc_test_ok(w->a, dc_space_add(w->a, w->space, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
    dc_txn *t = NULL;
    dc_test_ok(w->a, dc_txn_begin(&t, w->a, w->space));
    dc_test_ok(w->a, dc_txn_set(t, "note", "n1", "text", DC_STR, 0, "hello"));
    dc_test_ok(w->a, dc_txn_commit(t, NULL));
}

static void world_free(world *w) {
    dc_replica_close(w->a);
    dc_replica_close(w->b);
    dc_relay_close(w->f.rl);
}

static void test_sync_lands_and_status_says_ok(void **st) {
    (void)st;
    world w;
    world_new(&w, "ok");
    char *ls = last_sync(w.b);
    assert_non_null(strstr(ls, "\"last_sync\":null"));
    free(ls);
    dc_client *ca = client_for(w.a, &w.f, 3), *cb = client_for(w.b, &w.f, 3);
    dc_test_ok(w.a, dc_client_sync(ca));
    dc_test_ok(w.b, dc_client_sync(cb));
    dc_test_ok(w.b, dc_space_accept(w.b, w.space, 0)); /* the invitation, consented to */
    dc_buf rec = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_test_ok(w.b, dc_record_get(&rec, w.b, w.space, "note", "n1"));
    assert_non_null(strstr((const char *)rec.ptr, "hello"));
    dc_test_ok(w.b, dc_client_report(&rep, cb));
    assert_non_null(strstr((const char *)rep.ptr, "\"changes_received\":"));
    assert_null(strstr((const char *)rep.ptr, "\"changes_received\":0"));
    /* The same figures, typed. */
    dc_client_figures fig = {0};
    assert_int_equal(dc_client_figures_get(cb, &fig), DC_EINVAL); /* no version */
    fig.version = DC_CLIENT_FIGURES_VERSION;
    dc_test_ok(w.b, dc_client_figures_get(cb, &fig));
    assert_true(fig.changes_received > 0 && fig.bytes_received > 0 && fig.round_trips > 0);
    /* Every figure is the report's. */
    const struct {
        const char *key;
        long long v;
    } figs[] = {{"bytes_sent", (long long)fig.bytes_sent},
                {"bytes_received", (long long)fig.bytes_received},
                {"round_trips", (long long)fig.round_trips},
                {"changes_sent", (long long)fig.changes_sent},
                {"changes_received", (long long)fig.changes_received},
                {"spaces", (long long)fig.spaces},
                {"clock_offset_ms", (long long)fig.clock_offset_ms},
                {"set_aside", (long long)fig.set_aside},
                {"attach_objects_sent", (long long)fig.attach_objects_sent},
                {"attach_bytes_sent", (long long)fig.attach_bytes_sent},
                {"attach_objects_received", (long long)fig.attach_objects_received},
                {"attach_bytes_received", (long long)fig.attach_bytes_received},
                {"attach_refused", (long long)fig.attach_refused},
                {"attach_missing", (long long)fig.attach_missing},
                {"attach_held", (long long)fig.attach_held},
                {"snapshot_needed", (long long)fig.snapshot_needed}};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"%s\":%lld", figs[i].key, figs[i].v);
        const char *at = strstr((const char *)rep.ptr, want);
        assert_non_null(at);
        assert_true(at[strlen(want)] == ',' || at[strlen(want)] == '}');
    }
    assert_int_equal(dc_client_figures_get(NULL, &fig), DC_EMISUSE);
    /* A caller built against version 1 gets the fields it knows and not a
     * byte past them. */
    dc_client_figures v1;
    memset(&v1, 0xAB, sizeof v1);
    v1.version = 1;
    dc_test_ok(w.b, dc_client_figures_get(cb, &v1));
    assert_int_equal(v1.version, 1);
    assert_true(v1.changes_received == fig.changes_received && v1.bytes_sent == fig.bytes_sent &&
                v1.attach_missing == fig.attach_missing);
    assert_true(v1.attach_held == 0xABABABABABABABABull);
    v1.version = DC_CLIENT_FIGURES_VERSION + 1;
    assert_int_equal(dc_client_figures_get(cb, &v1), DC_EINVAL);
    ls = last_sync(w.b);
    assert_non_null(strstr(ls, "\"ok\":true"));
    assert_non_null(strstr(ls, "\"failures\":0"));
    assert_non_null(strstr(ls, "\"reason\":null"));
    assert_non_null(strstr(ls, "\"peer\":\"http://relay.test:8443\""));
    free(ls);
    /* The client asked for bundle sizes (byte 6 of its messages). */
    assert_true(w.f.asked[0] >= 12 && w.f.asked[0] <= 22);
    /* The long-poll answers. */
    int changed = 1;
    dc_test_ok(w.b, dc_client_wait(&changed, cb, 0));
    assert_int_equal(changed, 0);
    dc_buf_dispose(&rec);
    dc_buf_dispose(&rep);
    dc_client_free(ca);
    dc_client_free(cb);
    world_free(&w);
}

static void test_transient_failures_are_retried(void **st) {
    (void)st;
    world w;
    world_new(&w, "retry");
    dc_client *c = client_for(w.a, &w.f, 6);
    /* Two attempts find no connection, then a 429 inside the session. */
    w.f.connect_failures = 2;
    w.f.busy_once = 1;
    double t0 = mono();
    dc_test_ok(w.a, dc_client_sync(c));
    double took = mono() - t0;
    assert_true(took >= 1.0); /* Retry-After: 1 was honoured */
    assert_true(took < 5.0);  /* backoff stays within its bounds */
    dc_buf s = DC_BUF_INIT;
    dc_test_ok(w.a, dc_client_stats(&s, c));
    assert_non_null(strstr((const char *)s.ptr, "\"attempts\":3"));
    dc_buf_dispose(&s);
    char *ls = last_sync(w.a);
    assert_non_null(strstr(ls, "\"ok\":true"));
    assert_non_null(strstr(ls, "\"attempts\":3"));
    free(ls);
    dc_client_free(c);
    world_free(&w);
}

static void test_failure_is_recorded_with_its_reason(void **st) {
    (void)st;
    world w;
    world_new(&w, "fail");
    dc_client *c = client_for(w.a, &w.f, 3);
    w.f.connect_failures = 1000;
    assert_int_equal(dc_client_sync(c), DC_EIO);
    assert_non_null(strstr(dc_replica_errmsg(w.a), "after 3 attempts"));
    assert_int_equal(w.f.requests, 3);
    char *ls = last_sync(w.a);
    assert_non_null(strstr(ls, "\"ok\":false"));
    assert_non_null(strstr(ls, "\"reason\":\"unreachable\""));
    assert_non_null(strstr(ls, "\"failures\":1"));
    assert_non_null(strstr(ls, "\"ok_ms\":null"));
    assert_non_null(strstr(ls, "check mobile data or Wi-Fi"));
    free(ls);
    /* A relay that answers 503: "server", and the count of failures grows. */
    w.f.connect_failures = 0;
    w.f.always_503 = 1;
    assert_int_equal(dc_client_sync(c), DC_EIO);
    ls = last_sync(w.a);
    assert_non_null(strstr(ls, "\"reason\":\"server\""));
    assert_non_null(strstr(ls, "\"failures\":2"));
    assert_non_null(strstr(ls, "tell the relay's operator"));
    free(ls);
    /* Then a success clears the reason and keeps its time. */
    w.f.always_503 = 0;
    dc_test_ok(w.a, dc_client_sync(c));
    ls = last_sync(w.a);
    assert_non_null(strstr(ls, "\"ok\":true"));
    assert_non_null(strstr(ls, "\"failures\":0"));
    assert_non_null(strstr(ls, "\"error\":null"));
    assert_null(strstr(ls, "\"ok_ms\":null"));
    free(ls);
    dc_client_free(c);
    world_free(&w);
}

static void test_old_relay_without_bundle_sizes(void **st) {
    (void)st;
    world w;
    world_new(&w, "old");
    w.f.old_relay = 1;
    dc_client *c = client_for(w.a, &w.f, 1); /* within one attempt */
    dc_test_ok(w.a, dc_client_sync(c));
    /* Asked once, refused, then not again. */
    assert_true(w.f.asked[0] != 0);
    for (int i = 1; i < w.f.syncs && i < 64; i++)
        assert_int_equal(w.f.asked[i], 0);
    dc_client_free(c);
    world_free(&w);
}

typedef struct canceller {
    dc_client *c;
    double delay;
} canceller;

static void *cancel_later(void *arg) {
    canceller *k = arg;
    usleep((useconds_t)(k->delay * 1e6));
    dc_client_cancel(k->c);
    return NULL;
}

static void test_cancel_from_another_thread(void **st) {
    (void)st;
    world w;
    world_new(&w, "cancel");
    dc_client *c = client_for(w.a, &w.f, 6);
    /* A request that hangs: the transport's cancel hook ends it. */
    w.f.hang = 1;
    canceller k = {c, 0.2};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &k);
    double t0 = mono();
    assert_int_equal(dc_client_sync(c), DC_EUSER);
    assert_true(mono() - t0 < 3.0);
    pthread_join(th, NULL);
    char *ls = last_sync(w.a);
    assert_non_null(strstr(ls, "\"reason\":\"canceled\""));
    free(ls);
    /* A backoff sleep is cut short too. */
    w.f.hang = 0;
    w.f.cancel = 0;
    dc_client_free(c);
    dc_transport t = DC_TRANSPORT_INIT;
    t.request = fake_request;
    t.user = &w.f;
    dc_client_options o = DC_CLIENT_OPTIONS_INIT;
    o.backoff_base_ms = 60000;
    o.backoff_max_ms = 60000;
    dc_test_ok(w.a, dc_client_new(&c, w.a, "http://relay.test:8443", &t, &o));
    w.f.connect_failures = 1000;
    k.c = c;
    k.delay = 0.3;
    pthread_create(&th, NULL, cancel_later, &k);
    t0 = mono();
    assert_int_equal(dc_client_sync(c), DC_EUSER);
    assert_true(mono() - t0 < 5.0);
    pthread_join(th, NULL);
    dc_client_free(c);
    world_free(&w);
}

static void test_misuse(void **st) {
    (void)st;
    dc_replica *r = dc_test_open_wall(&g_d, "misuse.db");
    dc_client *c = (dc_client *)1;
    dc_transport t = DC_TRANSPORT_INIT;
    assert_int_equal(dc_client_new(&c, r, "http://x", &t, NULL), DC_EINVAL);
    assert_null(c);
    t.request = fake_request;
    assert_int_equal(dc_client_new(&c, r, "ftp://x", &t, NULL), DC_EINVAL);
    assert_int_equal(dc_client_new(&c, NULL, "http://x", &t, NULL), DC_EMISUSE);
    assert_int_equal(dc_client_sync(NULL), DC_EMISUSE);
    dc_client_cancel(NULL);
    dc_client_free(NULL);
    dc_replica_close(r);
}

static int setup(void **st) {
    (void)st;
    return dc_test_dir_make(&g_d, "client");
}

static int teardown(void **st) {
    (void)st;
    return dc_test_dir_remove(&g_d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_lands_and_status_says_ok),
        cmocka_unit_test(test_transient_failures_are_retried),
        cmocka_unit_test(test_failure_is_recorded_with_its_reason),
        cmocka_unit_test(test_old_relay_without_bundle_sizes),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests_name("sync-client", tests, setup, teardown);
}
