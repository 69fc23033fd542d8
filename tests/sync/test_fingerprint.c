/*
 * Reconciliation fingerprints kept in a store (issue 8): the bucketed item
 * set of sync/bucketset.c answers every question of the reconciliation
 * exactly as the in-memory set does, and a session over it finds exactly
 * the true differences; a store that keeps bucket rows beside its log
 * (store/fingerprint.c, schema 4) keeps them in step through group imports
 * and bucket splits, and builds them once for a store written without them.
 * Also the group import itself: bundles of several "sessions" committed in
 * one transaction, a bad one refused alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "drivercore.h"
#include "drivercore/relay.h"
#include "replica/replica_int.h"
#include "store/store.h"
#include "sync/recon.h"
#include "../common/replica_fixture.h"
#include "../common/recon_items.h"

static uint64_t g_rng;
static int cmp_item(const void *x, const void *y) {
    return dc__recon_item_cmp(x, y);
}

/* ---- an in-memory "store" of sorted items cut into buckets ---- */

typedef struct mstore {
    dc__recon_item *v;
    size_t n;
    dc__recon_bucket *b;
    size_t nb;
    bool lie; /* report one bucket's count one too high */
} mstore;

/* Cuts the sorted items into buckets of 1..maxb items (the first bucket's
 * bound is (0, zeros), as a store's is). */
static void mstore_cut(mstore *m, size_t maxb) {
    m->b = calloc(m->n + 1, sizeof *m->b);
    assert_non_null(m->b);
    m->nb = 0;
    size_t i = 0;
    while (i < m->n || m->nb == 0) {
        size_t k = 1 + (size_t)(dc_test_rnd(&g_rng) % maxb);
        if (i + k > m->n)
            k = m->n - i;
        dc__recon_bucket *b = &m->b[m->nb];
        memset(b, 0, sizeof *b);
        if (m->nb > 0) {
            b->ts = m->v[i].ts;
            memcpy(b->id, m->v[i].id, 32);
        }
        for (size_t j = i; j < i + k; j++) {
            uint8_t h[32];
            dc__recon_item_hash(h, m->v[j].id);
            dc__recon_sum_add(b->sum, h);
        }
        b->n = k;
        m->nb++;
        i += k;
        if (k == 0)
            break;
    }
}

static int ms_buckets(void *user, dc__recon_bucket **out, size_t *n) {
    mstore *m = user;
    *out = malloc((m->nb ? m->nb : 1) * sizeof **out);
    if (!*out)
        return DC_ENOMEM;
    memcpy(*out, m->b, m->nb * sizeof **out);
    *n = m->nb;
    if (m->lie && m->nb)
        (*out)[m->nb / 2].n++;
    return 0;
}

static int ms_items(void *user, const dc__recon_item *lo, const dc__recon_item *hi,
                    dc__recon_item **out, size_t *n) {
    mstore *m = user;
    *out = malloc((m->n ? m->n : 1) * sizeof **out);
    if (!*out)
        return DC_ENOMEM;
    *n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (dc__recon_item_cmp(&m->v[i], lo) >= 0 && (!hi || dc__recon_item_cmp(&m->v[i], hi) < 0))
            (*out)[(*n)++] = m->v[i];
    return 0;
}

typedef struct walk {
    dc__recon_item *v;
    size_t n;
} walk;

static int collect(void *ctx, const dc__recon_item *it) {
    walk *w = ctx;
    w->v[w->n++] = *it;
    return 0;
}

/* Every question the reconciliation asks, put to both views. */
static void compare_views(dc__recon_set *a, dc__recon_set *b, const mstore *m, int rounds) {
    size_t na, nb;
    assert_int_equal(a->size(a->user, &na), 0);
    assert_int_equal(b->size(b->user, &nb), 0);
    assert_int_equal(na, nb);
    assert_int_equal(na, m->n);
    for (int q = 0; q < rounds; q++) {
        /* A bound: an item's own key, a prefix of it, one between items,
         * or infinity. */
        dc__recon_bound bd;
        memset(&bd, 0, sizeof bd);
        int kind = (int)(dc_test_rnd(&g_rng) % 4);
        if (m->n == 0 || kind == 3) {
            bd.ts = dc_test_rnd(&g_rng) % 5 == 0 ? DC_RECON_TS_INF : (dc_test_rnd(&g_rng) >> 8);
        } else {
            const dc__recon_item *it = &m->v[dc_test_rnd(&g_rng) % m->n];
            bd.ts = it->ts + (kind == 2 ? 1 : 0);
            bd.id_len = kind == 0 ? 32 : (uint8_t)(dc_test_rnd(&g_rng) % 33);
            memcpy(bd.id, it->id, bd.id_len);
        }
        size_t ra, rb;
        assert_int_equal(a->lower_bound(a->user, &bd, &ra), 0);
        assert_int_equal(b->lower_bound(b->user, &bd, &rb), 0);
        assert_int_equal(ra, rb);
        if (!m->n)
            continue;
        size_t lo = (size_t)(dc_test_rnd(&g_rng) % (m->n + 1)),
               hi = (size_t)(dc_test_rnd(&g_rng) % (m->n + 1));
        if (lo > hi) {
            size_t t = lo;
            lo = hi;
            hi = t;
        }
        uint8_t sa[32], sb[32];
        assert_int_equal(a->sum(a->user, lo, hi, sa), 0);
        assert_int_equal(b->sum(b->user, lo, hi, sb), 0);
        assert_memory_equal(sa, sb, 32);
        size_t r = (size_t)(dc_test_rnd(&g_rng) % m->n);
        dc__recon_item ia, ib;
        assert_int_equal(a->item(a->user, r, &ia), 0);
        assert_int_equal(b->item(b->user, r, &ib), 0);
        assert_int_equal(dc__recon_item_cmp(&ia, &ib), 0);
        if (hi - lo <= 2000) {
            walk wa = {calloc(hi - lo + 1, sizeof *wa.v), 0},
                 wb = {calloc(hi - lo + 1, sizeof *wb.v), 0};
            assert_int_equal(a->each(a->user, lo, hi, collect, &wa), 0);
            assert_int_equal(b->each(b->user, lo, hi, collect, &wb), 0);
            assert_int_equal(wa.n, hi - lo);
            assert_int_equal(wb.n, hi - lo);
            assert_memory_equal(wa.v, wb.v, wa.n * sizeof *wa.v);
            free(wa.v);
            free(wb.v);
        }
    }
}

static void test_bucketset_answers_as_memset(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 7, 600, 20000};
    size_t maxb[] = {1, 3, 64, 511};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (size_t bi = 0; bi < sizeof maxb / sizeof *maxb; bi++) {
            g_rng = 0xb0c4e7u + si * 31 + bi;
            mstore m = {0};
            m.n = sizes[si];
            m.v = calloc(m.n + 1, sizeof *m.v);
            for (size_t i = 0; i < m.n; i++)
                dc_test_item(&m.v[i], 1700000000000ull + i * 1000, &g_rng);
            qsort(m.v, m.n, sizeof *m.v, cmp_item);
            mstore_cut(&m, maxb[bi]);
            dc__recon_memset *ms = NULL;
            assert_int_equal(dc__recon_memset_new(&ms), 0);
            assert_int_equal(dc__recon_memset_add(ms, m.v, m.n), 0);
            dc__bucketset *bs = NULL;
            dc__bucketset_src src = {&m, ms_buckets, ms_items};
            assert_int_equal(dc__bucketset_new(&bs, &src), 0);
            dc__recon_set va = dc__recon_memset_view(ms), vb = dc__bucketset_view(bs);
            compare_views(&va, &vb, &m, 300);
            /* The whole set's size and sum come from the bucket rows alone. */
            dc__bucketset_refresh(bs);
            uint64_t before = dc__bucketset_loads(bs);
            size_t n;
            uint8_t s1[32], s2[32];
            assert_int_equal(vb.size(vb.user, &n), 0);
            assert_int_equal(vb.sum(vb.user, 0, n, s1), 0);
            assert_int_equal(va.sum(va.user, 0, n, s2), 0);
            assert_memory_equal(s1, s2, 32);
            assert_int_equal(dc__bucketset_loads(bs), before);
            dc__bucketset_free(bs);
            dc__recon_memset_free(ms);
            free(m.v);
            free(m.b);
        }
    }
}

/* A store whose bucket rows disagree with its items is refused, not
 * trusted. */
static void test_bucketset_refuses_wrong_sums(void **state) {
    (void)state;
    g_rng = 77;
    mstore m = {0};
    m.n = 1000;
    m.v = calloc(m.n, sizeof *m.v);
    for (size_t i = 0; i < m.n; i++)
        dc_test_item(&m.v[i], 1700000000000ull + i, &g_rng);
    qsort(m.v, m.n, sizeof *m.v, cmp_item);
    mstore_cut(&m, 100);
    m.lie = true;
    dc__bucketset *bs = NULL;
    dc__bucketset_src src = {&m, ms_buckets, ms_items};
    assert_int_equal(dc__bucketset_new(&bs, &src), 0);
    dc__recon_set v = dc__bucketset_view(bs);
    dc__recon_item it;
    int bad = 0;
    for (size_t r = 0; r < m.n; r += 10)
        bad += v.item(v.user, r < m.n ? r : 0, &it) == DC_ECORRUPT;
    assert_true(bad > 0);
    dc__bucketset_free(bs);
    free(m.v);
    free(m.b);
}

/* A whole reconciliation with the responder answering from buckets finds
 * exactly the differences. */
static void test_session_over_buckets(void **state) {
    (void)state;
    g_rng = 4242;
    size_t common = 30000, da = 120, db = 90;
    dc__recon_item *all = calloc(common + da + db, sizeof *all);
    for (size_t i = 0; i < common + da + db; i++)
        dc_test_item(&all[i], 1700000000000ull + i * 997, &g_rng);
    /* A: common + a-only (the first da after common); B: common + b-only. */
    dc__recon_memset *ma = NULL;
    assert_int_equal(dc__recon_memset_new(&ma), 0);
    assert_int_equal(dc__recon_memset_add(ma, all, common + da), 0);
    mstore m = {0};
    m.n = common + db;
    m.v = calloc(m.n, sizeof *m.v);
    memcpy(m.v, all, common * sizeof *m.v);
    memcpy(m.v + common, all + common + da, db * sizeof *m.v);
    qsort(m.v, m.n, sizeof *m.v, cmp_item);
    mstore_cut(&m, 400);
    dc__bucketset *bs = NULL;
    dc__bucketset_src src = {&m, ms_buckets, ms_items};
    assert_int_equal(dc__bucketset_new(&bs, &src), 0);
    dc__recon_set va = dc__recon_memset_view(ma), vb = dc__bucketset_view(bs);
    dc__err err;
    dc__recon *a = NULL, *b = NULL;
    assert_int_equal(dc__recon_new(&a, DC_RECON_INITIATOR, &va, NULL, &err), 0);
    assert_int_equal(dc__recon_new(&b, DC_RECON_RESPONDER, &vb, NULL, &err), 0);
    dc_buf msg = DC_BUF_INIT, reply = DC_BUF_INIT;
    assert_int_equal(dc__recon_start(a, &msg), 0);
    dc__recon *turn = b;
    int guard = 0;
    for (;;) {
        bool done = false;
        if (turn == b)
            dc__bucketset_refresh(bs); /* as a relay does at every step */
        if (dc__recon_step(turn, &reply, &done, msg.ptr, msg.size) != 0)
            fail_msg("step: %s", dc__recon_err(turn)->msg);
        if (reply.size == 0)
            break;
        dc__buf_move(&msg, &reply);
        turn = turn == a ? b : a;
        assert_true(++guard < 1000);
    }
    size_t n;
    const dc__recon_item *v = dc__recon_sends(a, &n);
    assert_int_equal(n, da);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = common; j < common + da && !found; j++)
            found = dc__recon_item_cmp(&v[i], &all[j]) == 0;
        assert_true(found);
    }
    v = dc__recon_sends(b, &n);
    assert_int_equal(n, db);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = common + da; j < common + da + db && !found; j++)
            found = dc__recon_item_cmp(&v[i], &all[j]) == 0;
        assert_true(found);
    }
    /* Far fewer buckets read than the set holds: 210 differences
     * scattered over 30,000 items touch a few buckets each round. */
    assert_true(dc__bucketset_loads(bs) < m.nb / 2);
    printf("# session over %zu buckets of %zu items: %llu bucket reads\n", m.nb, m.n,
           (unsigned long long)dc__bucketset_loads(bs));
    dc_buf_dispose(&msg);
    dc_buf_dispose(&reply);
    dc__recon_free(a);
    dc__recon_free(b);
    dc__bucketset_free(bs);
    dc__recon_memset_free(ma);
    free(m.v);
    free(m.b);
    free(all);
}

/* ---- the store's bucket rows ---- */

static dc_test_dir g_d;

static dc_replica *open_at(const char *name, bool durable) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = name;
    o.durable = durable;
    return dc_test_open_with(&g_d, name, &o);
}

static int add_it(void *user, uint64_t hlc, const uint8_t id[32]) {
    dc__recon_item it;
    it.ts = hlc;
    memcpy(it.id, id, 32);
    return dc__recon_memset_add(user, &it, 1);
}

typedef struct fpsrc {
    dc__store *s;
    int64_t sid;
} fpsrc;

static int st_buckets(void *user, dc__recon_bucket **out, size_t *n) {
    fpsrc *f = user;
    dc__err e = {0};
    return dc__store_fp_buckets(f->s, f->sid, out, n, &e);
}

static int st_items(void *user, const dc__recon_item *lo, const dc__recon_item *hi,
                    dc__recon_item **out, size_t *n) {
    fpsrc *f = user;
    dc__err e = {0};
    return dc__store_fp_items(f->s, f->sid, lo, hi, out, n, &e);
}

/* The bucket rows of `space` in r's store describe exactly the items a
 * sync offers; returns how many rows there are. */
static size_t check_rows(dc_replica *r, const char *space_hex, size_t want_items) {
    uint8_t id[16];
    for (int i = 0; i < 16; i++) {
        unsigned x;
        sscanf(space_hex + 2 * i, "%2x", &x);
        id[i] = (uint8_t)x;
    }
    dc__space sp;
    dc__err e = {0};
    assert_int_equal(dc__store_space_get(r->st, id, &sp, &e), 0);
    dc__recon_memset *ms = NULL;
    assert_int_equal(dc__recon_memset_new(&ms), 0);
    assert_int_equal(dc__store_space_items(r->st, sp.sid, add_it, ms, &e), 0);
    assert_int_equal(dc__recon_memset_size(ms), want_items);
    mstore m = {0};
    m.n = want_items;
    m.v = calloc(m.n + 1, sizeof *m.v);
    dc__recon_set va = dc__recon_memset_view(ms);
    walk w = {m.v, 0};
    assert_int_equal(va.each(va.user, 0, m.n, collect, &w), 0);
    fpsrc f = {r->st, sp.sid};
    dc__bucketset *bs = NULL;
    dc__bucketset_src src = {&f, st_buckets, st_items};
    assert_int_equal(dc__bucketset_new(&bs, &src), 0);
    dc__recon_set vb = dc__bucketset_view(bs);
    /* Every bucket read through (each checks its count and sum). */
    walk all = {calloc(m.n + 1, sizeof *all.v), 0};
    assert_int_equal(vb.each(vb.user, 0, m.n, collect, &all), 0);
    assert_int_equal(all.n, m.n);
    assert_memory_equal(all.v, m.v, m.n * sizeof *m.v);
    free(all.v);
    compare_views(&va, &vb, &m, 200);
    dc__recon_bucket *rows = NULL;
    size_t nrows = 0;
    assert_int_equal(dc__store_fp_buckets(r->st, sp.sid, &rows, &nrows, &e), 0);
    for (size_t i = 0; i < nrows; i++)
        assert_true(rows[i].n < 512);
    free(rows);
    dc__bucketset_free(bs);
    dc__recon_memset_free(ms);
    free(m.v);
    return nrows;
}

static void test_store_rows_in_step(void **state) {
    (void)state;
    dc_replica *dev = open_at("device.db", false);
    dc_buf sp = DC_BUF_INIT;
    assert_int_equal(dc_space_create(&sp, dev, "depot"), 0);
    char space[33];
    snprintf(space, sizeof space, "%s", (const char *)sp.ptr);
    dc_buf_dispose(&sp);
    /* The relay store: keyless, durable, fingerprints on while empty. */
    dc_replica *rs = open_at("relay.db", true);
    dc__err e = {0};
    if (dc__store_fp_enable(rs->st, &e) != 0)
        fail_msg("fp_enable: %s", e.msg);
    assert_true(dc__store_fp_on(rs->st));
    /* Four rounds of 400 changes, each exported and imported as one group
     * of four "sessions" (the same bundle twice: the second adds nothing;
     * one garbage bundle, refused alone). */
    size_t changes = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 400; i++) {
            dc_txn *t = NULL;
            char rid[32];
            snprintf(rid, sizeof rid, "r%d-%d", round, i);
            assert_int_equal(dc_txn_begin(&t, dev, space), 0);
            assert_int_equal(dc_txn_set(t, "note", rid, "text", DC_STR, 0, "x"), 0);
            assert_int_equal(dc_txn_commit(t, NULL), 0);
            changes++;
        }
        dc_buf b = DC_BUF_INIT;
        assert_int_equal(dc_bundle_export(&b, dev, space), 0);
        static const uint8_t junk[] = "not a bundle at all";
        dc__import_req q[4];
        memset(q, 0, sizeof q);
        q[0].data = b.ptr;
        q[0].size = b.size;
        q[1].data = junk;
        q[1].size = sizeof junk;
        q[2] = q[0];
        uint8_t *checked = NULL;
        assert_int_equal(dc__bundle_precheck(b.ptr, b.size, &checked, &q[3].nchecked), 0);
        q[3].data = b.ptr;
        q[3].size = b.size;
        q[3].checked = checked;
        dc__err ge = {0};
        if (dc__import_group(rs, q, 4, &ge) != 0)
            fail_msg("group import: %s", ge.msg);
        assert_int_equal(q[0].rc, 0);
        assert_int_not_equal(q[1].rc, 0);
        assert_int_equal(q[2].rc, 0);
        assert_int_equal(q[3].rc, 0);
        assert_true(q[0].counts.fresh > 0);
        assert_int_equal(q[2].counts.fresh, 0);
        assert_int_equal(q[3].counts.fresh, 0);
        free(checked);
        dc_buf_dispose(&b);
    }
    /* Genesis and membership are items too: every item of the log. */
    dc__space row;
    uint8_t sid16[16];
    for (int i = 0; i < 16; i++) {
        unsigned x;
        sscanf(space + 2 * i, "%2x", &x);
        sid16[i] = (uint8_t)x;
    }
    assert_int_equal(dc__store_space_get(rs->st, sid16, &row, &e), 0);
    dc__recon_memset *ms = NULL;
    assert_int_equal(dc__recon_memset_new(&ms), 0);
    assert_int_equal(dc__store_space_items(rs->st, row.sid, add_it, ms, &e), 0);
    size_t items = dc__recon_memset_size(ms);
    dc__recon_memset_free(ms);
    assert_true(items >= changes);
    size_t rows = check_rows(rs, space, items);
    assert_true(rows >= 3); /* 1,600 items went through splits */
    dc_replica_close(rs);

    /* An older store (no rows: fingerprints never turned on) is indexed at
     * its first open, to the same items. */
    dc_replica *old = open_at("old.db", true);
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_bundle_export(&b, dev, space), 0);
    assert_int_equal(dc_bundle_import(old, b.ptr, b.size, NULL), 0);
    dc_buf_dispose(&b);
    assert_false(dc__store_fp_on(old->st));
    dc_replica_close(old);
    old = open_at("old.db", true);
    assert_false(dc__store_fp_on(old->st));
    if (dc__store_fp_enable(old->st, &e) != 0)
        fail_msg("fp_enable: %s", e.msg);
    size_t rows2 = check_rows(old, space, items);
    assert_true(rows2 >= 3);
    dc_replica_close(old);
    /* Reopened, the file keeps them on by itself. */
    old = open_at("old.db", true);
    assert_true(dc__store_fp_on(old->st));
    dc_replica_close(old);
    dc_replica_close(dev);
}

/* The online backup: a consistent copy that opens, with the same items. */
static void test_backup(void **state) {
    (void)state;
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/old.db", g_d.path);
    snprintf(dst, sizeof dst, "%s/backup.db", g_d.path);
    assert_int_equal(dc_relay_backup(src, dst), 0);
    dc_replica *a = open_at("old.db", true), *b = open_at("backup.db", true);
    dc_buf da = DC_BUF_INIT, db = DC_BUF_INIT;
    assert_int_equal(dc_bundle_export(&da, a, NULL), 0);
    assert_int_equal(dc_bundle_export(&db, b, NULL), 0);
    assert_int_equal(da.size, db.size);
    assert_memory_equal(da.ptr, db.ptr, da.size);
    assert_true(dc__store_fp_on(b->st));
    dc_buf_dispose(&da);
    dc_buf_dispose(&db);
    dc_replica_close(a);
    dc_replica_close(b);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none.db", g_d.path);
    assert_int_equal(dc_relay_backup(missing, dst), DC_ENOTFOUND);
    assert_non_null(strstr(dc_error_last(), "none.db"));
}

int main(void) {
    if (dc_global_init(NULL) != 0)
        return 1;
    if (dc_test_dir_make(&g_d, "fp"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucketset_answers_as_memset),
        cmocka_unit_test(test_bucketset_refuses_wrong_sums),
        cmocka_unit_test(test_session_over_buckets),
        cmocka_unit_test(test_store_rows_in_step),
        cmocka_unit_test(test_backup),
    };
    int rc = cmocka_run_group_tests_name("fingerprint", tests, NULL, NULL);
    if (dc_test_dir_remove(&g_d) != 0)
        rc = rc ? rc : 1;
    return rc;
}
