/*
 * Unit tests of crdt/: the clock order and the merge rules on one record's
 * state (crdt/record.c), without the store around them — the register
 * (greatest clock wins, ties by the author's key), the set (add-wins
 * observed-remove: a remove names one tag), the delete (the greatest delete
 * clock hides everything at or before it; a later write shows again), and
 * the property the store relies on: any order, any number of repeats, the
 * same state, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crdt/crdt.h"

/* Device row `did` has the key whose every byte is did's low byte, so that
 * a larger did is a larger key (the tie-break order). */
static int pk_of(void *user, int64_t did, uint8_t pk[32], dc__err *err) {
    (void)user, (void)err;
    memset(pk, (int)(did & 0xff), 32);
    return 0;
}

static void key(uint8_t pk[32], int64_t did) {
    memset(pk, (int)(did & 0xff), 32);
}

static void init(dc__recstate *r) {
    memset(r, 0, sizeof *r);
    r->pk = pk_of;
}

static dc__value str(const char *s) {
    dc__value v = {DC_STR, 0, s, (uint32_t)strlen(s)};
    return v;
}

static void set(dc__recstate *r, uint32_t fid, const char *s, dc_hlc h, int64_t did) {
    uint8_t pk[32];
    key(pk, did);
    dc__value v = str(s);
    dc__err e = {0, ""};
    assert_int_equal(dc__rec_set(r, fid, &v, h, pk, did, &e), 0);
}

static void add(dc__recstate *r, uint32_t fid, const char *s, dc_hlc h, int64_t did, uint64_t seq,
                uint32_t op) {
    uint8_t pk[32];
    key(pk, did);
    dc__value v = str(s);
    dc__err e = {0, ""};
    assert_int_equal(dc__rec_add(r, fid, &v, h, pk, did, seq, op, &e), 0);
}

static void rm(dc__recstate *r, uint32_t fid, int64_t did, uint64_t seq, uint32_t op) {
    dc__err e = {0, ""};
    assert_int_equal(dc__rec_remove(r, fid, did, seq, op, &e), 0);
}

static void del(dc__recstate *r, dc_hlc h, int64_t did) {
    uint8_t pk[32];
    key(pk, did);
    bool now;
    dc__err e = {0, ""};
    assert_int_equal(dc__rec_delete(r, h, pk, did, &now, &e), 0);
}

/* The register of field fid, or NULL. */
static const char *reg(const dc__recstate *r, uint32_t fid) {
    for (size_t i = 0; i < r->d.nregs; i++)
        if (r->d.regs[i].fid == fid)
            return r->d.regs[i].val.str;
    return NULL;
}

/* Whether set field fid holds value s (under any tag). */
static bool has(const dc__recstate *r, uint32_t fid, const char *s) {
    for (size_t i = 0; i < r->d.nadds; i++)
        if (r->d.adds[i].fid == fid && r->d.adds[i].val.len == strlen(s) &&
            memcmp(r->d.adds[i].val.str, s, strlen(s)) == 0)
            return true;
    return false;
}

static void test_clock_order(void **state) {
    (void)state;
    uint8_t a[32], b[32];
    key(a, 1);
    key(b, 2);
    assert_true(dc__clock_later(20, a, 10, b));
    assert_false(dc__clock_later(10, b, 20, a));
    /* A tie in time: the larger key is later; a clock is not later than itself. */
    assert_true(dc__clock_later(10, b, 10, a));
    assert_false(dc__clock_later(10, a, 10, b));
    assert_false(dc__clock_later(10, a, 10, a));
}

static void test_register(void **state) {
    (void)state;
    dc__recstate x, y;
    init(&x);
    init(&y);
    /* The greatest clock wins, whichever arrives first. */
    set(&x, 1, "old", 10, 1);
    set(&x, 1, "new", 20, 2);
    set(&y, 1, "new", 20, 2);
    set(&y, 1, "old", 10, 1);
    assert_string_equal(reg(&x, 1), "new");
    assert_string_equal(reg(&y, 1), "new");
    /* A tie in time: the author with the larger key. */
    set(&x, 2, "from 5", 30, 5);
    set(&x, 2, "from 3", 30, 3);
    set(&y, 2, "from 3", 30, 3);
    set(&y, 2, "from 5", 30, 5);
    assert_string_equal(reg(&x, 2), "from 5");
    assert_string_equal(reg(&y, 2), "from 5");
    /* The same op again changes nothing. */
    x.changed = false;
    set(&x, 2, "from 5", 30, 5);
    assert_false(x.changed);
    dc__recstate_free(&x);
    dc__recstate_free(&y);
}

static void test_set_add_wins(void **state) {
    (void)state;
    dc__recstate r;
    init(&r);
    /* Two devices add the same value; one removes the add it saw. */
    add(&r, 7, "hazmat", 10, 1, 1, 0);
    add(&r, 7, "hazmat", 11, 2, 1, 0);
    rm(&r, 7, 1, 1, 0);
    assert_true(has(&r, 7, "hazmat")); /* the add it had not seen survives */
    rm(&r, 7, 2, 1, 0);
    assert_false(has(&r, 7, "hazmat"));
    /* A remove that arrives before its add: the add never shows. */
    rm(&r, 7, 3, 9, 2);
    add(&r, 7, "cold chain", 12, 3, 9, 2);
    assert_false(has(&r, 7, "cold chain"));
    /* The same add again is one add. */
    add(&r, 7, "waste", 13, 4, 1, 0);
    add(&r, 7, "waste", 13, 4, 1, 0);
    assert_int_equal(r.d.nadds, 1);
    dc__recstate_free(&r);
}

static void test_delete(void **state) {
    (void)state;
    dc__recstate r;
    init(&r);
    set(&r, 1, "before", 10, 1);
    add(&r, 2, "member", 10, 1, 1, 1);
    del(&r, 20, 2);
    assert_null(reg(&r, 1));
    assert_false(has(&r, 2, "member"));
    /* An op from before the delete, arriving after it, stays hidden. */
    set(&r, 1, "late but old", 15, 3);
    add(&r, 2, "late but old", 15, 3, 1, 0);
    assert_null(reg(&r, 1));
    assert_int_equal(r.d.nadds, 0);
    /* A tie with the delete's clock: the larger key is after it. */
    set(&r, 3, "same time, larger key", 20, 3);
    set(&r, 4, "same time, smaller key", 20, 1);
    assert_string_equal(reg(&r, 3), "same time, larger key");
    assert_null(reg(&r, 4));
    /* A write after the delete brings the record back. */
    set(&r, 1, "after", 25, 1);
    assert_string_equal(reg(&r, 1), "after");
    /* An older delete arriving late changes nothing. */
    r.changed = false;
    del(&r, 12, 4);
    assert_false(r.changed);
    assert_true(r.del_hlc == 20 && r.del_did == 2);
    dc__recstate_free(&r);
}

/* ---- any order, any repeats: one state ---- */

typedef struct rop {
    int kind; /* 0 set, 1 add, 2 remove, 3 delete */
    uint32_t fid;
    char val[8];
    dc_hlc h;
    int64_t did;
    uint64_t seq;
    uint32_t op;
} rop;

static uint64_t g_rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void apply(dc__recstate *r, const rop *o) {
    switch (o->kind) {
    case 0: set(r, o->fid, o->val, o->h, o->did); break;
    case 1: add(r, o->fid, o->val, o->h, o->did, o->seq, o->op); break;
    case 2: rm(r, o->fid, o->did, o->seq, o->op); break;
    default: del(r, o->h, o->did);
    }
}

static void encoded(const dc__recstate *r, dc_buf *out) {
    dc__err e = {0, ""};
    dc_buf_dispose(out);
    assert_int_equal(dc__recdata_encode(out, &r->d, &e), 0);
    assert_int_equal(
        dc__buf_printf(out, "|%llu/%lld", (unsigned long long)r->del_hlc, (long long)r->del_did),
        0);
}

static void test_any_order_same_state(void **state) {
    (void)state;
    enum { N = 60, ORDERS = 40, ROUNDS = 30 };
    for (int round = 0; round < ROUNDS; round++) {
        rop ops[N];
        size_t n = 0, nadds = 0;
        uint64_t seq[6] = {0};
        for (int i = 0; i < N; i++) {
            rop *o = &ops[n];
            memset(o, 0, sizeof *o);
            o->did = 1 + (int64_t)(rnd() % 5);
            /* Times collide often, so ties are exercised. */
            o->h = 100 + rnd() % 40;
            o->fid = 1 + (uint32_t)(rnd() % 3);
            snprintf(o->val, sizeof o->val, "v%d", (int)(rnd() % 4));
            uint64_t k = rnd() % 10;
            o->kind = k < 4 ? 0 : k < 7 ? 1 : k < 9 ? 2 : 3;
            if (o->kind == 1) {
                o->seq = ++seq[o->did];
                o->op = (uint32_t)(rnd() % 3);
                nadds++;
            } else if (o->kind == 2) {
                if (!nadds)
                    continue;
                /* A remove names the tag of an add generated earlier. */
                const rop *a;
                do
                    a = &ops[rnd() % n];
                while (a->kind != 1);
                o->fid = a->fid;
                o->did = a->did;
                o->seq = a->seq;
                o->op = a->op;
            }
            /* One device never stamps two ops alike: keep (h, did) unique
             * among sets, adds and deletes. */
            bool clash = false;
            for (size_t k2 = 0; k2 < n && !clash; k2++)
                clash =
                    ops[k2].kind != 2 && o->kind != 2 && ops[k2].h == o->h && ops[k2].did == o->did;
            if (!clash)
                n++;
        }
        dc_buf first = DC_BUF_INIT, now = DC_BUF_INIT;
        size_t order[N];
        for (int t = 0; t < ORDERS; t++) {
            for (size_t i = 0; i < n; i++)
                order[i] = i;
            for (size_t i = n; i > 1; i--) {
                size_t j = rnd() % i, tmp = order[i - 1];
                order[i - 1] = order[j];
                order[j] = tmp;
            }
            dc__recstate r;
            init(&r);
            for (size_t i = 0; i < n; i++) {
                apply(&r, &ops[order[i]]);
                if (rnd() % 4 == 0) /* delivered twice */
                    apply(&r, &ops[order[rnd() % (i + 1)]]);
            }
            encoded(&r, t ? &now : &first);
            if (t && (now.size != first.size || memcmp(now.ptr, first.ptr, now.size) != 0))
                fail_msg("round %d: order %d left another state", round, t);
            dc__recstate_free(&r);
        }
        dc_buf_dispose(&first);
        dc_buf_dispose(&now);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_order),          cmocka_unit_test(test_register),
        cmocka_unit_test(test_set_add_wins),         cmocka_unit_test(test_delete),
        cmocka_unit_test(test_any_order_same_state),
    };
    return cmocka_run_group_tests_name("crdt", tests, NULL, NULL);
}
