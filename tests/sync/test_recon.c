/*
 * Unit tests of libdrivercore/sync/recon: range-based set reconciliation
 * between two in-memory item sets with known differences.  Every scenario
 * runs a whole session in process, checks that each side's findings are
 * exactly the true differences (SEND: our items the peer lacks; NEED: the
 * count always, the ids too in full-id mode), that every message stays
 * under the cap, and reports the bytes and round trips it took.  Hostile
 * input (every truncation of real messages, random corruption, wrong
 * versions, oversize) must be refused with the right code, never crash.
 * Sets hold ~100,000 items so the suite stays fast; bench/reconcile.c runs
 * the same protocol at 1,000,000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sync/recon.h"
#include "../common/recon_items.h"

#define N_UNIT 100000

/* ---- deterministic items ---- */

static uint64_t g_rng;
enum { BOTH = 0, A_ONLY = 1, B_ONLY = 2 };
enum { LAYOUT_SCATTERED, LAYOUT_NEWEST, LAYOUT_FIRST, LAYOUT_MIDDLE, LAYOUT_LAST };

typedef struct scenario {
    dc__recon_memset *a, *b;
    dc__recon_item *a_only, *b_only;
    size_t na, nb;
} scenario;

#define BASE_MS 1700000000000ull

/* n common items about 30 s apart, plus da items only A has and db only B
 * has, placed by layout. */
static void scenario_make(scenario *sc, size_t n, size_t da, size_t db, int layout, uint64_t seed) {
    g_rng = seed;
    memset(sc, 0, sizeof *sc);
    assert_int_equal(dc__recon_memset_new(&sc->a), 0);
    assert_int_equal(dc__recon_memset_new(&sc->b), 0);
    dc__recon_item *common = calloc(n ? n : 1, sizeof *common);
    sc->a_only = calloc(da ? da : 1, sizeof *sc->a_only);
    sc->b_only = calloc(db ? db : 1, sizeof *sc->b_only);
    assert_non_null(common);
    uint64_t ms = BASE_MS;
    for (size_t i = 0; i < n; i++) {
        ms += 1 + dc_test_rnd(&g_rng) % 60000;
        dc_test_item(&common[i], ms, &g_rng);
    }
    uint64_t end = ms, tail = ms;
    for (size_t k = 0; k < da + db; k++) {
        dc__recon_item *it = k < da ? &sc->a_only[k] : &sc->b_only[k - da];
        uint64_t t;
        switch (layout) {
        case LAYOUT_NEWEST:
            tail += 1 + dc_test_rnd(&g_rng) % 60000;
            t = tail;
            break;
        case LAYOUT_FIRST: t = BASE_MS - 1 - k; break;
        case LAYOUT_MIDDLE: t = BASE_MS + (end - BASE_MS) / 2 + k; break;
        case LAYOUT_LAST: t = end + 1 + k; break;
        default: t = BASE_MS + dc_test_rnd(&g_rng) % (end - BASE_MS + 1);
        }
        dc_test_item(it, t, &g_rng);
    }
    /* Newest: A's and B's own items interleave in time, as two devices
     * writing through the same offline week would. */
    if (layout == LAYOUT_NEWEST)
        for (size_t k = 0; k < da + db; k++) {
            size_t j = (size_t)(dc_test_rnd(&g_rng) % (da + db));
            dc__recon_item *x = k < da ? &sc->a_only[k] : &sc->b_only[k - da];
            dc__recon_item *y = j < da ? &sc->a_only[j] : &sc->b_only[j - da];
            uint64_t t = x->ts;
            x->ts = y->ts;
            y->ts = t;
        }
    assert_int_equal(dc__recon_memset_add(sc->a, common, n), 0);
    assert_int_equal(dc__recon_memset_add(sc->b, common, n), 0);
    assert_int_equal(dc__recon_memset_add(sc->a, sc->a_only, da), 0);
    assert_int_equal(dc__recon_memset_add(sc->b, sc->b_only, db), 0);
    sc->na = da;
    sc->nb = db;
    free(common);
}

static void scenario_free(scenario *sc) {
    dc__recon_memset_free(sc->a);
    dc__recon_memset_free(sc->b);
    free(sc->a_only);
    free(sc->b_only);
}

/* ---- running a session in process ---- */

typedef struct run {
    dc__recon *a, *b;
    size_t messages, bytes, largest;
    size_t limit; /* stop after this many messages (0: run to the end) */
    bool a_done, b_done;
} run;

static void run_session(run *r, dc__recon_memset *ma, dc__recon_memset *mb,
                        const dc__recon_options *o) {
    dc__err err;
    dc__recon_set va = dc__recon_memset_view(ma), vb = dc__recon_memset_view(mb);
    size_t limit = r->limit;
    memset(r, 0, sizeof *r);
    assert_int_equal(dc__recon_new(&r->a, DC_RECON_INITIATOR, &va, o, &err), 0);
    assert_int_equal(dc__recon_new(&r->b, DC_RECON_RESPONDER, &vb, o, &err), 0);
    size_t cap = o ? o->max_message : DC_RECON_MAX_MESSAGE_DEFAULT;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    assert_int_equal(dc__recon_start(r->a, &m), 0);
    dc__recon *turn = r->b;
    bool *turn_done = &r->b_done;
    for (;;) {
        r->messages++;
        r->bytes += m.size;
        if (m.size > r->largest)
            r->largest = m.size;
        assert_true(m.size <= cap);
        if (limit && r->messages >= limit)
            break;
        bool done = false;
        int rc = dc__recon_step(turn, &reply, &done, m.ptr, m.size);
        if (rc != 0)
            fail_msg("step failed: %s", dc__recon_err(turn)->msg);
        *turn_done = done;
        if (reply.size == 0) {
            assert_true(done);
            break;
        }
        dc__buf_move(&m, &reply);
        turn = turn == r->a ? r->b : r->a;
        turn_done = turn == r->a ? &r->a_done : &r->b_done;
        assert_true(r->messages < 20000);
    }
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    if (!limit) {
        assert_true(r->a_done);
        assert_true(r->b_done);
    }
}

static void run_free(run *r) {
    dc__recon_free(r->a);
    dc__recon_free(r->b);
}

static int cmp_item(const void *x, const void *y) {
    return dc__recon_item_cmp(x, y);
}
static int cmp_id(const void *x, const void *y) {
    return memcmp(((const dc__recon_item *)x)->id, ((const dc__recon_item *)y)->id, 32);
}

/* The findings `got` (n of them) must be exactly `want` (m of them). */
static void expect_items(const dc__recon_item *got, size_t n, const dc__recon_item *want, size_t m,
                         bool ids_only) {
    assert_int_equal(n, m);
    if (n == 0)
        return;
    dc__recon_item *g = malloc(n * sizeof *g), *w = malloc(m * sizeof *w);
    assert_non_null(g);
    assert_non_null(w);
    memcpy(g, got, n * sizeof *g);
    memcpy(w, want, m * sizeof *w);
    qsort(g, n, sizeof *g, ids_only ? cmp_id : cmp_item);
    qsort(w, m, sizeof *w, ids_only ? cmp_id : cmp_item);
    for (size_t i = 0; i < n; i++) {
        if (ids_only)
            assert_memory_equal(g[i].id, w[i].id, 32);
        else
            assert_int_equal(dc__recon_item_cmp(&g[i], &w[i]), 0);
    }
    free(g);
    free(w);
}

/* Both sides' findings are the true differences of the scenario. */
static void expect_exact(const run *r, const scenario *sc, bool full_ids) {
    size_t n;
    const dc__recon_item *v = dc__recon_sends(r->a, &n);
    expect_items(v, n, sc->a_only, sc->na, false);
    v = dc__recon_sends(r->b, &n);
    expect_items(v, n, sc->b_only, sc->nb, false);
    assert_int_equal(dc__recon_need_count(r->a), sc->nb);
    assert_int_equal(dc__recon_need_count(r->b), sc->na);
    assert_int_equal(dc__recon_send_count(r->a), sc->na);
    assert_int_equal(dc__recon_send_count(r->b), sc->nb);
    v = dc__recon_needs(r->a, &n);
    if (full_ids)
        expect_items(v, n, sc->b_only, sc->nb, true);
    else
        assert_int_equal(n, 0);
    v = dc__recon_needs(r->b, &n);
    if (full_ids)
        expect_items(v, n, sc->a_only, sc->na, true);
    else
        assert_int_equal(n, 0);
}

static void report(const char *name, const run *r) {
    printf("# recon %-28s messages=%zu round_trips=%zu bytes=%zu largest=%zu\n", name, r->messages,
           (r->messages + 1) / 2, r->bytes, r->largest);
}

/* One scenario through one session, checked. */
static run check_case(const char *name, size_t n, size_t da, size_t db, int layout,
                      const dc__recon_options *o) {
    scenario sc;
    scenario_make(&sc, n, da, db, layout, 0x5eed0000u + n + da * 7 + db * 13 + (size_t)layout);
    run r = {0};
    run_session(&r, sc.a, sc.b, o);
    expect_exact(&r, &sc, o && o->id_bytes == 32);
    report(name, &r);
    run_free(&r);
    scenario_free(&sc);
    return r;
}

/* ---- tests ---- */

static void test_sums(void **state) {
    (void)state;
    uint8_t a[32], b[32], c[32];
    memset(a, 0xff, 32);
    memset(b, 0, 32);
    b[0] = 1;
    memcpy(c, a, 32);
    dc__recon_sum_add(c, b); /* 2^256 - 1 + 1 wraps to 0 */
    for (int i = 0; i < 32; i++)
        assert_int_equal(c[i], 0);
    dc__recon_sum_sub(c, b);
    assert_memory_equal(c, a, 32);

    /* The memory set's range sums equal sums computed item by item. */
    scenario sc;
    scenario_make(&sc, 1000, 0, 0, LAYOUT_SCATTERED, 1);
    dc__recon_set v = dc__recon_memset_view(sc.a);
    uint8_t got[32], want[32] = {0};
    assert_int_equal(v.sum(v.user, 100, 900, got), 0);
    for (size_t i = 100; i < 900; i++) {
        dc__recon_item it;
        uint8_t h[32];
        assert_int_equal(v.item(v.user, i, &it), 0);
        dc__recon_item_hash(h, it.id);
        dc__recon_sum_add(want, h);
    }
    assert_memory_equal(got, want, 32);
    assert_int_equal(v.sum(v.user, 901, 900, got), DC_EINVAL);
    scenario_free(&sc);
}

static void test_empty_sets(void **state) {
    (void)state;
    run r = check_case("both empty", 0, 0, 0, LAYOUT_SCATTERED, NULL);
    assert_int_equal(r.messages, 2);
    check_case("initiator empty", 0, 0, 5000, LAYOUT_SCATTERED, NULL);
    check_case("responder empty", 0, 5000, 0, LAYOUT_SCATTERED, NULL);
    check_case("initiator has 1", 0, 1, 0, LAYOUT_SCATTERED, NULL);
}

static void test_identical(void **state) {
    (void)state;
    run r = check_case("d0 identical", N_UNIT, 0, 0, LAYOUT_SCATTERED, NULL);
    /* DESIGN.md: d=0 costs at most 256 bytes in one round trip. */
    assert_int_equal(r.messages, 2);
    assert_true(r.bytes <= 256);
}

static void test_d1(void **state) {
    (void)state;
    static const struct {
        const char *name;
        int layout;
    } at[] = {{"d1 first", LAYOUT_FIRST},
              {"d1 middle", LAYOUT_MIDDLE},
              {"d1 last", LAYOUT_LAST},
              {"d1 scattered", LAYOUT_SCATTERED}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        run r = check_case(at[i].name, N_UNIT, 1, 0, at[i].layout, NULL);
        assert_true(r.bytes <= 2048);
        assert_true((r.messages + 1) / 2 <= 4);
        r = check_case(at[i].name, N_UNIT, 0, 1, at[i].layout, NULL);
        assert_true(r.bytes <= 2048);
        assert_true((r.messages + 1) / 2 <= 4);
    }
}

static void test_d100_scattered(void **state) {
    (void)state;
    run r = check_case("d100 scattered", N_UNIT, 50, 50, LAYOUT_SCATTERED, NULL);
    assert_true(r.bytes <= 64 * 1024);
}

static void test_d10000_newest(void **state) {
    (void)state;
    run r = check_case("d10000 newest", N_UNIT, 5000, 5000, LAYOUT_NEWEST, NULL);
    assert_true((r.messages + 1) / 2 <= 4);
    assert_true(r.bytes <= 10000 * 120 / 10);
}

static void test_d10000_scattered(void **state) {
    (void)state;
    check_case("d10000 scattered", N_UNIT, 5000, 5000, LAYOUT_SCATTERED, NULL);
}

static void test_full_ids(void **state) {
    (void)state;
    /* With 32-byte ids in the lists, NEED carries the ids themselves. */
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.id_bytes = 32;
    check_case("full ids d100", N_UNIT, 50, 50, LAYOUT_SCATTERED, &o);
    check_case("full ids d10000 newest", N_UNIT, 5000, 5000, LAYOUT_NEWEST, &o);
    check_case("full ids initiator empty", 0, 0, 20000, LAYOUT_SCATTERED, &o);
    check_case("full ids responder empty", 0, 20000, 0, LAYOUT_SCATTERED, &o);
}

static void test_small_cap(void **state) {
    (void)state;
    /* A 16 KiB cap forces continuation on nearly every message. */
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.max_message = 16 << 10;
    run r = check_case("cap16k d10000 scattered", N_UNIT, 5000, 5000, LAYOUT_SCATTERED, &o);
    assert_true(r.largest <= o.max_message);
    assert_true(r.messages > 4);
    o.id_bytes = 32;
    r = check_case("cap16k full ids d10000", N_UNIT, 5000, 5000, LAYOUT_SCATTERED, &o);
    assert_true(r.largest <= o.max_message);
    r = check_case("cap16k full ids one empty", 0, 0, 30000, LAYOUT_SCATTERED, &o);
    assert_true(r.largest <= o.max_message);
}

static void test_options(void **state) {
    (void)state;
    dc__err err;
    dc__recon *s = (dc__recon *)1;
    dc__recon_memset *m;
    assert_int_equal(dc__recon_memset_new(&m), 0);
    dc__recon_set v = dc__recon_memset_view(m);
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.max_message = 1000;
    assert_int_equal(dc__recon_new(&s, DC_RECON_INITIATOR, &v, &o, &err), DC_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.msg, "max_message"));
    o = (dc__recon_options)DC_RECON_OPTIONS_INIT;
    o.id_bytes = 4;
    assert_int_equal(dc__recon_new(&s, DC_RECON_INITIATOR, &v, &o, &err), DC_EINVAL);
    assert_int_equal(dc__recon_new(&s, 7, &v, NULL, &err), DC_EINVAL);
    /* Out of turn. */
    assert_int_equal(dc__recon_new(&s, DC_RECON_RESPONDER, &v, NULL, &err), 0);
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc__recon_start(s, &b), DC_EMISUSE);
    dc__recon_free(s);
    assert_int_equal(dc__recon_new(&s, DC_RECON_INITIATOR, &v, NULL, &err), 0);
    bool done;
    assert_int_equal(dc__recon_step(s, &b, &done, (const uint8_t *)"x", 1), DC_EMISUSE);
    dc__recon_free(s);
    dc_buf_dispose(&b);
    dc__recon_memset_free(m);
}

/* ---- resumption ---- */

/* Moves every item of `from` the session said to send into `to`. */
static void move_sends(dc__recon *s, dc__recon_memset *to) {
    size_t n;
    const dc__recon_item *v = dc__recon_sends(s, &n);
    assert_int_equal(dc__recon_memset_add(to, v, n), 0);
}

static void test_resume(void **state) {
    (void)state;
    scenario sc;
    scenario_make(&sc, N_UNIT, 5000, 5000, LAYOUT_SCATTERED, 77);
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.max_message = 16 << 10;
    /* Cut after every possible message count: what the cut session found
     * is moved, then a fresh session must find exactly what is left. */
    size_t cuts[] = {1, 2, 5, 20, 60, 150};
    size_t full_bytes = 0;
    {
        run r = {0};
        run_session(&r, sc.a, sc.b, &o);
        full_bytes = r.bytes;
        run_free(&r);
    }
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        scenario s2;
        scenario_make(&s2, N_UNIT, 5000, 5000, LAYOUT_SCATTERED, 77);
        run r = {0};
        r.limit = cuts[c];
        run_session(&r, s2.a, s2.b, &o);
        size_t na, nb;
        dc__recon_sends(r.a, &na);
        dc__recon_sends(r.b, &nb);
        move_sends(r.a, s2.b);
        move_sends(r.b, s2.a);
        run_free(&r);
        /* What is still missing on each side. */
        dc__recon_item *ra = malloc(5000 * sizeof *ra), *rb = malloc(5000 * sizeof *rb);
        size_t nra = 0, nrb = 0;
        for (size_t i = 0; i < 5000; i++) {
            if (!dc__recon_memset_has(s2.b, &s2.a_only[i]))
                ra[nra++] = s2.a_only[i];
            if (!dc__recon_memset_has(s2.a, &s2.b_only[i]))
                rb[nrb++] = s2.b_only[i];
        }
        assert_int_equal(nra, 5000 - na);
        assert_int_equal(nrb, 5000 - nb);
        run r2 = {0};
        run_session(&r2, s2.a, s2.b, &o);
        size_t n;
        const dc__recon_item *v = dc__recon_sends(r2.a, &n);
        expect_items(v, n, ra, nra, false);
        v = dc__recon_sends(r2.b, &n);
        expect_items(v, n, rb, nrb, false);
        printf("# recon resume after %zu messages: moved %zu+%zu, second session %zu bytes "
               "(whole session %zu)\n",
               cuts[c], na, nb, r2.bytes, full_bytes);
        run_free(&r2);
        free(ra);
        free(rb);
        scenario_free(&s2);
    }
    scenario_free(&sc);
}

/* A set that takes new items while the session runs: every SEND reported
 * must still be missing at the peer, and the session must end. */
static void test_growing_set(void **state) {
    (void)state;
    scenario sc;
    scenario_make(&sc, 20000, 300, 300, LAYOUT_SCATTERED, 99);
    dc__err err;
    dc__recon_set va = dc__recon_memset_view(sc.a), vb = dc__recon_memset_view(sc.b);
    dc__recon *a, *b;
    assert_int_equal(dc__recon_new(&a, DC_RECON_INITIATOR, &va, NULL, &err), 0);
    assert_int_equal(dc__recon_new(&b, DC_RECON_RESPONDER, &vb, NULL, &err), 0);
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    assert_int_equal(dc__recon_start(a, &m), 0);
    dc__recon *turn = b;
    g_rng = 4242;
    for (int i = 0; i < 100; i++) {
        bool done;
        assert_int_equal(dc__recon_step(turn, &reply, &done, m.ptr, m.size), 0);
        /* Between messages each side writes a few new changes anywhere. */
        dc__recon_item fresh[3];
        for (int k = 0; k < 3; k++)
            dc_test_item(&fresh[k], BASE_MS + dc_test_rnd(&g_rng) % (20000ull * 30000), &g_rng);
        assert_int_equal(dc__recon_memset_add(i % 2 ? sc.a : sc.b, fresh, 3), 0);
        if (reply.size == 0)
            break;
        dc__buf_move(&m, &reply);
        turn = turn == a ? b : a;
    }
    size_t n;
    const dc__recon_item *v = dc__recon_sends(a, &n);
    for (size_t i = 0; i < n; i++)
        assert_false(dc__recon_memset_has(sc.b, &v[i]));
    v = dc__recon_sends(b, &n);
    for (size_t i = 0; i < n; i++)
        assert_false(dc__recon_memset_has(sc.a, &v[i]));
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc__recon_free(a);
    dc__recon_free(b);
    scenario_free(&sc);
}

/* ---- hostile input ---- */

static const uint8_t SALT[16] = "fixed-test-salt";

/* The first two messages of a d=100 session (over small sets). */
static void two_messages(scenario *sc, dc_buf *m1, dc_buf *m2, const dc__recon_options *o) {
    dc__err err;
    dc__recon_set va = dc__recon_memset_view(sc->a), vb = dc__recon_memset_view(sc->b);
    dc__recon *a, *b;
    assert_int_equal(dc__recon_new(&a, DC_RECON_INITIATOR, &va, o, &err), 0);
    assert_int_equal(dc__recon_new(&b, DC_RECON_RESPONDER, &vb, o, &err), 0);
    assert_int_equal(dc__recon_start(a, m1), 0);
    bool done;
    assert_int_equal(dc__recon_step(b, m2, &done, m1->ptr, m1->size), 0);
    dc__recon_free(a);
    dc__recon_free(b);
}

/* Feeds msg to a responder (first message) or to an initiator after its
 * start (second message); returns the step's code. */
static int feed(scenario *sc, int which, const uint8_t *p, size_t n, const dc__recon_options *o) {
    dc__err err;
    dc__recon_set va = dc__recon_memset_view(sc->a), vb = dc__recon_memset_view(sc->b);
    dc__recon *s;
    dc_buf out = DC_BUF_INIT;
    bool done;
    int rc;
    if (which == 1) {
        assert_int_equal(dc__recon_new(&s, DC_RECON_RESPONDER, &vb, o, &err), 0);
    } else {
        assert_int_equal(dc__recon_new(&s, DC_RECON_INITIATOR, &va, o, &err), 0);
        assert_int_equal(dc__recon_start(s, &out), 0);
    }
    rc = dc__recon_step(s, &out, &done, p, n);
    if (rc != 0) {
        assert_int_equal(dc__recon_err(s)->code, rc);
        assert_true(strncmp(dc__recon_err(s)->msg, "reconcile: ", 11) == 0);
        /* A failed session refuses to go on. */
        assert_int_equal(dc__recon_step(s, &out, &done, p, n), DC_EMISUSE);
    }
    dc_buf_dispose(&out);
    dc__recon_free(s);
    return rc;
}

static void test_hostile(void **state) {
    (void)state;
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.salt = SALT;
    for (int full = 0; full < 2; full++) {
        o.id_bytes = full ? 32 : 16;
        scenario sc;
        scenario_make(&sc, 3000, 50, 50, LAYOUT_SCATTERED, 5);
        dc_buf m1 = DC_BUF_INIT, m2 = DC_BUF_INIT;
        two_messages(&sc, &m1, &m2, &o);
        assert_int_equal(feed(&sc, 1, m1.ptr, m1.size, &o), 0);
        assert_int_equal(feed(&sc, 2, m2.ptr, m2.size, &o), 0);
        /* Every strict prefix is refused: a message ends at the top bound. */
        for (size_t n = 0; n < m1.size; n++)
            assert_int_equal(feed(&sc, 1, m1.ptr, n, &o), DC_ECORRUPT);
        for (size_t n = 0; n < m2.size; n++)
            assert_int_equal(feed(&sc, 2, m2.ptr, n, &o), DC_ECORRUPT);

        uint8_t *x = malloc(m1.size + 1);
        memcpy(x, m1.ptr, m1.size);
        x[2] = 2;
        assert_int_equal(feed(&sc, 1, x, m1.size, &o), DC_EVERSION);
        x[2] = 0;
        assert_int_equal(feed(&sc, 1, x, m1.size, &o), DC_ECORRUPT);
        x[2] = 1;
        x[3] |= 0x80;
        assert_int_equal(feed(&sc, 1, x, m1.size, &o), DC_ECORRUPT);
        x[3] = 0;
        assert_int_equal(feed(&sc, 1, x, m1.size, &o), DC_ECORRUPT); /* no opening */
        x[3] = 1;
        x[0] ^= 1;
        assert_int_equal(feed(&sc, 1, x, m1.size, &o), DC_ECORRUPT);
        x[0] ^= 1;
        x[4] = 7; /* id size out of range */
        assert_int_equal(feed(&sc, 1, x, m1.size, &o), DC_ECORRUPT);
        free(x);
        /* Trailing bytes after the top bound. */
        uint8_t *y = malloc(m2.size + 1);
        memcpy(y, m2.ptr, m2.size);
        y[m2.size] = 0;
        assert_int_equal(feed(&sc, 2, y, m2.size + 1, &o), DC_ECORRUPT);
        free(y);
        /* Oversize. */
        uint8_t *big = calloc(o.max_message + 1, 1);
        memcpy(big, m1.ptr, m1.size);
        assert_int_equal(feed(&sc, 1, big, o.max_message + 1, &o), DC_ETOOBIG);
        free(big);

        /* Random corruption: refused with a decoding error, or accepted;
         * never a crash (the ASan build checks the memory side). */
        g_rng = 31337;
        for (int i = 0; i < 3000; i++) {
            dc_buf *src = i % 2 ? &m2 : &m1;
            uint8_t *z = malloc(src->size);
            memcpy(z, src->ptr, src->size);
            int flips = 1 + (int)(dc_test_rnd(&g_rng) % 4);
            for (int f = 0; f < flips; f++)
                z[dc_test_rnd(&g_rng) % src->size] ^= (uint8_t)(1u << (dc_test_rnd(&g_rng) % 8));
            if (dc_test_rnd(&g_rng) % 4 == 0 && src->size > 8)
                z[4 + dc_test_rnd(&g_rng) % (src->size - 4)] = (uint8_t)dc_test_rnd(&g_rng);
            int rc = feed(&sc, i % 2 ? 2 : 1, z, src->size, &o);
            assert_true(rc == 0 || rc == DC_ECORRUPT || rc == DC_EVERSION || rc == DC_ETOOBIG);
            free(z);
        }
        dc_buf_dispose(&m1);
        dc_buf_dispose(&m2);
        scenario_free(&sc);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums),
        cmocka_unit_test(test_empty_sets),
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_d1),
        cmocka_unit_test(test_d100_scattered),
        cmocka_unit_test(test_d10000_newest),
        cmocka_unit_test(test_d10000_scattered),
        cmocka_unit_test(test_full_ids),
        cmocka_unit_test(test_small_cap),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_growing_set),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests_name("sync-recon", tests, NULL, NULL);
}
