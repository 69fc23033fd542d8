/*
 * Unit tests of the relay core (libdrivercore/relay/), without HTTP: the
 * admission of devices (challenges, tokens, the per-device rate limit), a
 * token checked before a sync request reaches the store, the store seam
 * (relay_store.h) over the relay's own SQLite store, the storage quota of
 * devices that share no space, and group commit (relay/commit.c): a
 * submitter is answered only once its group's transaction has returned.
 * What a user of the relay would check: who gets in, what is refused and
 * counted, what the store holds and answers.
 */
#include "../common/replica_fixture.h"

#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "drivercore/relay.h"
#include "relay/commit.h"
#include "relay/relay_int.h"
#include "relay/relay_store.h"
#include "replica/replica_int.h"

static dc_test_dir g_d;

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "unit-relay");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

static dc_relay *relay_at(const char *name, dc_relay_options *o) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_d.path, name);
    o->clock = dc_test_pinned;
    o->clock_user = &g_d;
    dc_relay *rl = NULL;
    if (dc_relay_open(&rl, path, o))
        fail_msg("relay %s: %s", path, dc_error_last());
    return rl;
}

static void device_key(uint8_t pk[32], dc_replica *r) {
    assert_int_equal(dc__unhex(pk, 32, dc_replica_device_id(r)), 0);
}

/* A token for replica r, the way a device gets one. */
static void token_for(uint8_t tok[32], dc_relay *rl, dc_replica *r) {
    uint8_t pk[32], ch[32], sig[64];
    device_key(pk, r);
    assert_int_equal(dc_relay_challenge(ch, NULL, rl, pk), 0);
    dc_test_ok(r, dc_relay_sign_challenge(sig, r, ch));
    if (dc_relay_session(tok, NULL, rl, pk, ch, sig))
        fail_msg("session: %s", dc_error_last());
}

/* The value of one metric line (name with its labels), or -1. */
static long long metric(dc_relay *rl, const char *name) {
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_relay_metrics(&b, rl), 0);
    assert_int_equal(dc__buf_reserve(&b, 1), 0);
    b.ptr[b.size] = 0;
    long long v = -1;
    size_t n = strlen(name);
    for (const char *p = (const char *)b.ptr; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            v = atoll(p + n + 1);
            break;
        }
    dc_buf_dispose(&b);
    return v;
}

static long long refusals(dc_relay *rl, const char *reason) {
    char name[128];
    snprintf(name, sizeof name, "drivercore_relay_refusals_total{reason=\"%s\"}", reason);
    return metric(rl, name);
}

/* One sync of r through the relay core, as the device's client runs it;
 * 0 or the relay's refusal. */
static int sync_via(dc_relay *rl, const uint8_t tok[32], dc_replica *r) {
    dc_sync *s = NULL;
    dc_test_ok(r, dc_sync_new(&s, r, DC_SYNC_INITIATOR));
    dc_test_ok(r, dc_sync_trust_peer_clock(s));
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    char sid[65] = "", next[65];
    int done = 0, rdone = 0, rc = 0;
    dc_test_ok(r, dc_sync_step(s, &m, &done, NULL, 0));
    for (int i = 0; m.size > 0; i++) {
        assert_true(i < 200);
        int64_t retry = 0;
        if ((rc = dc_relay_sync(&reply, next, &rdone, &retry, rl, tok, sid, m.ptr, m.size)))
            break;
        memcpy(sid, next, sizeof sid);
        if (reply.size == 0) /* 204: the relay is done */
            break;
        dc_test_ok(r, dc_sync_step(s, &m, &done, reply.ptr, reply.size));
    }
    if (!rc) {
        assert_true(done);
        dc_test_ok(r, dc_sync_note_relay(s));
    }
    dc_sync_free(s);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    return rc;
}

/* A note of `len` incompressible characters. */
static void write_note(dc_replica *r, const char *space, const char *id, size_t len) {
    char *v = malloc(len + 1);
    uint8_t raw[512];
    assert_true(len / 2 <= sizeof raw);
    randombytes_buf(raw, len / 2);
    dc__hex(v, raw, len / 2);
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, space));
    dc_test_ok(r, dc_txn_set(t, "note", id, "text", DC_STR, 0, v));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    free(v);
}

/* ---- admission ---- */

static void test_admission(void **state) {
    (void)state;
    dc_relay_options o = DC_RELAY_OPTIONS_INIT;
    dc_relay *rl = relay_at("admission.db", &o);
    dc_replica *a = dc_test_open(&g_d, "adm-a.db"), *b = dc_test_open(&g_d, "adm-b.db");
    uint8_t pa[32], pb[32], ch[32], sig[64], tok[32], who[32];
    device_key(pa, a);
    device_key(pb, b);
    /* The right signature over a fresh challenge: a token for that device. */
    assert_int_equal(dc_relay_challenge(ch, NULL, rl, pa), 0);
    dc_test_ok(a, dc_relay_sign_challenge(sig, a, ch));
    assert_int_equal(dc_relay_session(tok, NULL, rl, pa, ch, sig), 0);
    assert_int_equal(dc_relay_auth(who, rl, tok), 0);
    assert_memory_equal(who, pa, 32);
    /* The same challenge again: taken at the first attempt. */
    assert_int_equal(dc_relay_session(tok, NULL, rl, pa, ch, sig), DC_EBADSIG);
    /* A challenge issued to a, answered by b with b's own signature. */
    assert_int_equal(dc_relay_challenge(ch, NULL, rl, pa), 0);
    dc_test_ok(b, dc_relay_sign_challenge(sig, b, ch));
    assert_int_equal(dc_relay_session(tok, NULL, rl, pb, ch, sig), DC_EBADSIG);
    /* A damaged signature. */
    assert_int_equal(dc_relay_challenge(ch, NULL, rl, pa), 0);
    dc_test_ok(a, dc_relay_sign_challenge(sig, a, ch));
    sig[10] ^= 1;
    assert_int_equal(dc_relay_session(tok, NULL, rl, pa, ch, sig), DC_EBADSIG);
    /* A challenge answered after its 60 s. */
    assert_int_equal(dc_relay_challenge(ch, NULL, rl, pa), 0);
    dc_test_ok(a, dc_relay_sign_challenge(sig, a, ch));
    g_d.now += 61000;
    assert_int_equal(dc_relay_session(tok, NULL, rl, pa, ch, sig), DC_EBADSIG);
    /* A token past its 10 minutes. */
    token_for(tok, rl, a);
    assert_int_equal(dc_relay_auth(who, rl, tok), 0);
    g_d.now += 601000;
    assert_int_equal(dc_relay_auth(who, rl, tok), DC_EBADSIG);
    assert_int_equal(refusals(rl, "auth"), 5);
    assert_int_equal(metric(rl, "drivercore_relay_auth_total"), 2);
    dc_relay_close(rl);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* A bad token is refused before the store sees anything; a device over
 * its rate is refused with the time to wait. */
static void test_token_and_rate_before_the_store(void **state) {
    (void)state;
    dc_relay_options o = DC_RELAY_OPTIONS_INIT;
    o.rate_per_s = 1;
    o.rate_burst = 2;
    dc_relay *rl = relay_at("rate.db", &o);
    dc_replica *a = dc_test_open(&g_d, "rate-a.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    write_note(a, sp, "n1", 100);
    uint8_t bad[32], tok[32];
    randombytes_buf(bad, sizeof bad);
    assert_int_equal(sync_via(rl, bad, a), DC_EBADSIG);
    assert_int_equal(refusals(rl, "auth"), 1);
    assert_int_equal(metric(rl, "drivercore_relay_sync_sessions_total"), 0);
    assert_int_equal(metric(rl, "drivercore_relay_changes_in_total"), 0);
    token_for(tok, rl, a);
    /* Two requests in the burst (a message that is not one: malformed),
     * the third at the same instant refused for the rate. */
    const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    dc_buf out = DC_BUF_INIT;
    char sid[65];
    int done;
    int64_t retry = 0;
    for (int i = 0; i < 2; i++)
        assert_int_equal(dc_relay_sync(&out, sid, &done, &retry, rl, tok, NULL, junk, 8),
                         DC_ECORRUPT);
    assert_int_equal(dc_relay_sync(&out, sid, &done, &retry, rl, tok, NULL, junk, 8), DC_EBUSY);
    assert_true(retry > 0 && retry <= 1001);
    assert_int_equal(refusals(rl, "rate"), 1);
    /* A second later the bucket holds one token again: one request is
     * taken (and answered: malformed), the next refused. */
    g_d.now += 1000;
    assert_int_equal(dc_relay_sync(&out, sid, &done, &retry, rl, tok, NULL, junk, 8), DC_ECORRUPT);
    assert_int_equal(dc_relay_sync(&out, sid, &done, &retry, rl, tok, NULL, junk, 8), DC_EBUSY);
    assert_int_equal(refusals(rl, "rate"), 2);
    assert_int_equal(refusals(rl, "malformed"), 3);
    dc_buf_dispose(&out);
    dc_relay_close(rl);
    dc_replica_close(a);
    free(sp);
}

/* ---- the store seam over the SQLite store ---- */

static int cmp32(const void *x, const void *y) {
    return memcmp(x, y, 32);
}

/* A relay over its SQLite store `name`, which *st gets (the relay owns it). */
static dc_relay *relay_over_store(const char *name, dc__relay_store **st) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_d.path, name);
    dc__err e = {0, ""};
    assert_int_equal(dc__relay_store_open_sqlite(st, path, dc_test_pinned, &g_d, &e), 0);
    dc_relay_options o = DC_RELAY_OPTIONS_INIT;
    o.clock = dc_test_pinned;
    o.clock_user = &g_d;
    dc_relay *rl = NULL;
    assert_int_equal(dc__relay_open_store(&rl, *st, &o), 0); /* takes st over */
    return rl;
}

static void test_store_seam_sqlite(void **state) {
    (void)state;
    dc__relay_store *st = NULL;
    dc__err e = {0, ""};
    dc_relay *rl = relay_over_store("seam.db", &st);
    assert_string_equal(st->ops->name, "sqlite");
    dc_replica *a = dc_test_open(&g_d, "seam-a.db"), *b = dc_test_open(&g_d, "seam-b.db");
    dc_replica *x = dc_test_open(&g_d, "seam-x.db");
    char *sp = dc_test_shared_space(a, b, 2);
    uint8_t sid[16], pa[32], pb[32], ta[32], tb[32], tx[32];
    assert_int_equal(dc__unhex(sid, 16, sp), 0);
    device_key(pa, a);
    device_key(pb, b);
    write_note(a, sp, "from-a", 64);
    /* Nothing held yet: no members. */
    uint8_t(*devs)[32] = NULL;
    size_t n = 9;
    assert_int_equal(st->ops->members(st, sid, &devs, &n, &e), 0);
    assert_int_equal(n, 0);
    token_for(ta, rl, a);
    assert_int_equal(sync_via(rl, ta, a), 0);
    assert_int_equal(st->ops->ready(st, &e), 0);
    /* The membership the space's admin signed, read back through the seam. */
    assert_int_equal(st->ops->members(st, sid, &devs, &n, &e), 0);
    assert_int_equal(n, 2);
    uint8_t want[2][32];
    memcpy(want[0], pa, 32);
    memcpy(want[1], pb, 32);
    qsort(want, 2, 32, cmp32);
    assert_memory_equal(devs, want, 64);
    dc__free(devs);
    /* b receives what a pushed. */
    token_for(tb, rl, b);
    assert_int_equal(sync_via(rl, tb, b), 0);
    dc_buf d = DC_BUF_INIT;
    dc_test_ok(b, dc_replica_dump(&d, b, NULL));
    assert_int_equal(dc__buf_reserve(&d, 1), 0);
    d.ptr[d.size] = 0;
    assert_non_null(strstr((const char *)d.ptr, "from-a"));
    /* x, no member, holding a copy: its session moves nothing either way. */
    dc_test_sync_into(a, x);
    write_note(a, sp, "later", 64);
    assert_int_equal(sync_via(rl, ta, a), 0);
    long long in = metric(rl, "drivercore_relay_changes_in_total");
    long long out = metric(rl, "drivercore_relay_changes_out_total");
    token_for(tx, rl, x);
    assert_int_equal(sync_via(rl, tx, x), 0);
    assert_int_equal(metric(rl, "drivercore_relay_changes_in_total"), in);
    assert_int_equal(metric(rl, "drivercore_relay_changes_out_total"), out);
    /* The store's own figures: the pushed bundles went through group
     * commit. */
    dc_buf mb = DC_BUF_INIT;
    assert_int_equal(st->ops->metrics(st, &mb), 0);
    assert_int_equal(dc__buf_reserve(&mb, 1), 0);
    mb.ptr[mb.size] = 0;
    assert_non_null(strstr((const char *)mb.ptr, "drivercore_relay_commit_groups_total"));
    assert_null(strstr((const char *)mb.ptr, "commit_groups_total{store=\"sqlite\"} 0\n"));
    dc_buf_dispose(&mb);
    dc_buf_dispose(&d);
    dc_relay_close(rl);
    dc_replica_close(a);
    dc_replica_close(b);
    dc_replica_close(x);
    free(sp);
}

/* ---- compaction: the clear point ---- */

static void space_log(dc__relay_store *st, const uint8_t sid[16], int64_t *env, int64_t *cov) {
    dc__err e = {0, ""};
    assert_int_equal(st->ops->space_log(st, sid, env, cov, &e), 0);
}

static char *dump_of(dc_replica *r) {
    dc_buf d = DC_BUF_INIT;
    dc_test_ok(r, dc_replica_dump(&d, r, NULL));
    char *s = strndup((const char *)d.ptr, d.size);
    dc_buf_dispose(&d);
    return s;
}

/* A clear point covering every envelope up to seq 1000 of a, b and c, as
 * the membership body of version 3 holds it (docs/format/body.md). */
static void forged_point(dc_buf *body, dc_replica *const *who, size_t n) {
    uint8_t pk[3][32], vec[13 + 3 * 40];
    for (size_t i = 0; i < n; i++)
        device_key(pk[i], who[i]);
    qsort(pk, n, 32, cmp32);
    memset(vec, 0, sizeof vec);
    vec[0] = 1;
    vec[12] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        memcpy(vec + 13 + i * 40, pk[i], 32);
        vec[13 + i * 40 + 32 + 6] = 0x03; /* seq 1000 = 0x03e8 */
        vec[13 + i * 40 + 32 + 7] = 0xe8;
    }
    dc__member_op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_MOP_COMPACT;
    op.point = vec;
    op.point_len = (uint32_t)(13 + n * 40);
    dc__err e = {0, ""};
    assert_int_equal(dc__member_encode(body, &op, 1, &e), 0);
}

/* A membership envelope of `body` by `by` in space `sid` (its next seq),
 * its signature damaged if `damage`: a bundle of one. */
static void membership_bundle(dc_buf *bundle, dc_replica *by, bool damage, const uint8_t sid[16],
                              const dc_buf *body) {
    dc__space sp;
    dc__err e = {0, ""};
    assert_int_equal(dc__store_space_get(by->st, sid, &sp, &e), 0);
    dc__envelope h;
    memset(&h, 0, sizeof h);
    h.version = DC_ENV_VERSION;
    h.kind = DC_ENV_KIND_MEMBERSHIP;
    memcpy(h.space, sid, 16);
    h.epoch = sp.epoch;
    device_key(h.author, by);
    h.seq = sp.my_seq + 1;
    h.hlc_min = h.hlc_max = (uint64_t)dc_test_pinned(&g_d) << 16;
    dc_buf env = DC_BUF_INIT;
    assert_int_equal(dc__envelope_seal(&env, &h, body->ptr, body->size, NULL, NULL, by->id, &e), 0);
    if (damage)
        env.ptr[env.size - 5] ^= 1;
    dc__buf_clear(bundle);
    assert_int_equal(dc__bundle_begin(bundle), 0);
    assert_int_equal(dc__bundle_add(bundle, env.ptr, env.size), 0);
    assert_int_equal(dc__bundle_finish(bundle), 0);
    dc_buf_dispose(&env);
}

/* Three devices and a relay: once the admin compacts, the relay drops the
 * covered envelopes and keeps their items; the devices converge through
 * it; a new member from a snapshot gets nothing twice; a point forged by
 * a member or under a bad signature changes nothing on the relay. */
static void test_relay_compacts(void **state) {
    (void)state;
    dc__relay_store *st = NULL;
    dc__err e = {0, ""};
    dc_relay *rl = relay_over_store("compact.db", &st);
    dc_replica *a = dc_test_open(&g_d, "cp-a.db"), *b = dc_test_open(&g_d, "cp-b.db");
    dc_replica *c = dc_test_open(&g_d, "cp-c.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(c, dc_replica_card(&card, c));
    dc_test_ok(a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_test_sync_into(a, c);
    dc_test_ok(c, dc_space_accept(c, sp, 0));
    uint8_t sid[16], ta[32], tb[32], tc[32];
    assert_int_equal(dc__unhex(sid, 16, sp), 0);
    token_for(ta, rl, a);
    token_for(tb, rl, b);
    token_for(tc, rl, c);
    dc_replica *all[3] = {a, b, c};
    const uint8_t *tok[3] = {ta, tb, tc};
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < 3; i++) {
            char id[16];
            snprintf(id, sizeof id, "n%d", round % 2);
            write_note(all[i], sp, id, 40);
            assert_int_equal(sync_via(rl, tok[i], all[i]), 0);
        }
    for (int i = 0; i < 3; i++)
        assert_int_equal(sync_via(rl, tok[i], all[i]), 0);
    dc_test_ok(b, dc_space_ack(b, sp));
    dc_test_ok(c, dc_space_ack(c, sp));
    for (int i = 0; i < 4; i++)
        assert_int_equal(sync_via(rl, tok[(i + 1) % 3], all[(i + 1) % 3]), 0);
    int64_t env0, cov0, env, cov;
    space_log(st, sid, &env0, &cov0);
    assert_int_equal(cov0, 0);
    assert_true(env0 >= 12);

    /* A point b (a member, not an admin) signed: refused, nothing dropped. */
    dc_buf body = DC_BUF_INIT, bundle = DC_BUF_INIT;
    forged_point(&body, all, 3);
    membership_bundle(&bundle, b, false, sid, &body);
    (void)dc__relay_store_import_shared(st, bundle.ptr, bundle.size, &e);
    space_log(st, sid, &env, &cov);
    assert_int_equal(cov, 0);
    assert_true(env >= env0);
    /* The admin's point under a damaged signature: refused as forged. */
    membership_bundle(&bundle, a, true, sid, &body);
    (void)dc__relay_store_import_shared(st, bundle.ptr, bundle.size, &e); /* (set aside) */
    space_log(st, sid, &env, &cov);
    assert_int_equal(cov, 0);
    assert_true(env >= env0);

    int64_t env1 = env; /* (b's forged envelope is kept, unauthorised) */
    /* The admin compacts: the relay drops the covered envelopes. */
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(a, dc_space_compact(&out, a, sp, NULL));
    assert_non_null(strstr((const char *)out.ptr, "\"published\":true"));
    assert_int_equal(sync_via(rl, ta, a), 0);
    space_log(st, sid, &env, &cov);
    /* (a's push: the point, encrypted and in clear, and a's ack) */
    assert_true(cov >= 12);
    assert_int_equal(env, env1 + 3 - cov);
    /* b and c converge through it, and compact by the encrypted point. */
    for (int i = 1; i < 3; i++)
        assert_int_equal(sync_via(rl, tok[i], all[i]), 0);
    char *da = dump_of(a);
    for (int i = 1; i < 3; i++) {
        char *d = dump_of(all[i]);
        assert_string_equal(d, da);
        free(d);
    }
    /* A sync after that sends nothing either way. */
    long long in = metric(rl, "drivercore_relay_changes_in_total");
    long long outn = metric(rl, "drivercore_relay_changes_out_total");
    for (int i = 0; i < 3; i++)
        assert_int_equal(sync_via(rl, tok[i], all[i]), 0);
    assert_int_equal(metric(rl, "drivercore_relay_changes_in_total"), in);
    assert_int_equal(metric(rl, "drivercore_relay_changes_out_total"), outn);

    /* A new member from a snapshot: what it holds is never sent again. */
    dc_replica *d = dc_test_open(&g_d, "cp-d.db");
    dc_buf_dispose(&card);
    dc_test_ok(d, dc_replica_card(&card, d));
    dc_test_ok(a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_MEMBER));
    assert_int_equal(sync_via(rl, ta, a), 0);
    uint8_t td[32];
    token_for(td, rl, d);
    assert_int_equal(sync_via(rl, td, d), 0);
    dc_test_ok(d, dc_space_accept(d, sp, 0));
    dc_buf snap = DC_BUF_INIT;
    dc_test_ok(a, dc_space_snapshot(&snap, a, sp));
    dc_test_ok(d, dc_space_snapshot_load(d, snap.ptr, snap.size, NULL));
    assert_int_equal(sync_via(rl, td, d), 0);
    assert_int_equal(sync_via(rl, ta, a), 0);
    outn = metric(rl, "drivercore_relay_changes_out_total");
    assert_int_equal(sync_via(rl, td, d), 0);
    assert_int_equal(metric(rl, "drivercore_relay_changes_out_total"), outn);
    free(da);
    da = dump_of(a);
    char *dd = dump_of(d);
    assert_string_equal(dd, da);
    free(dd);
    free(da);

    dc_buf_dispose(&snap);
    dc_buf_dispose(&out);
    dc_buf_dispose(&body);
    dc_buf_dispose(&bundle);
    dc_buf_dispose(&card);
    dc_relay_close(rl);
    dc_replica_close(a);
    dc_replica_close(b);
    dc_replica_close(c);
    dc_replica_close(d);
    free(sp);
}

/* ---- the storage quota of devices that share no space ---- */

static void test_solo_quota(void **state) {
    (void)state;
    dc_relay_options o = DC_RELAY_OPTIONS_INIT;
    o.solo_quota_bytes = 6000;
    dc_relay *rl = relay_at("quota.db", &o);
    dc_replica *a = dc_test_open(&g_d, "quota-a.db"), *b = dc_test_open(&g_d, "quota-b.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    uint8_t ta[32], tb[32];
    token_for(ta, rl, a);
    write_note(a, sp, "small", 200);
    assert_int_equal(sync_via(rl, ta, a), 0);
    long long in = metric(rl, "drivercore_relay_changes_in_total");
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "big%d", i);
        write_note(a, sp, id, 1000);
    }
    /* Past the quota: refused as such, nothing of the push stored. */
    assert_int_equal(sync_via(rl, ta, a), DC_EDENIED);
    assert_non_null(strstr(dc_error_last(), "storage quota"));
    assert_int_equal(refusals(rl, "quota"), 1);
    assert_int_equal(refusals(rl, "denied"), 0);
    assert_int_equal(metric(rl, "drivercore_relay_changes_in_total"), in);
    /* b added in a's next push: the grant lifts the quota for it. */
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(b, dc_replica_card(&card, b));
    dc_test_ok(a, dc_space_add(a, sp, (const char *)card.ptr, 2));
    /* Not at once: a refused device waits 2 s (429), so it cannot make
     * the relay read its solo bytes at its full request rate. */
    assert_int_equal(sync_via(rl, ta, a), DC_EBUSY);
    assert_int_equal(refusals(rl, "quota"), 2);
    g_d.now += 2000;
    assert_int_equal(sync_via(rl, ta, a), 0);
    assert_true(metric(rl, "drivercore_relay_changes_in_total") >= in + 11);
    token_for(tb, rl, b);
    assert_int_equal(sync_via(rl, tb, b), 0);
    dc_test_ok(b, dc_space_accept(b, sp, 0));
    assert_int_equal(sync_via(rl, tb, b), 0);
    dc_buf d = DC_BUF_INIT;
    dc_test_ok(b, dc_replica_dump(&d, b, NULL));
    assert_int_equal(dc__buf_reserve(&d, 1), 0);
    d.ptr[d.size] = 0;
    assert_non_null(strstr((const char *)d.ptr, "big9"));
    assert_non_null(strstr((const char *)d.ptr, "small"));
    assert_int_equal(refusals(rl, "quota"), 2);
    dc_buf_dispose(&d);
    dc_buf_dispose(&card);
    dc_relay_close(rl);
    dc_replica_close(a);
    dc_replica_close(b);
    free(sp);
}

/* ---- group commit ---- */

typedef struct fake_store {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    bool in_first, release, fail_next;
    size_t sizes[16];
} fake_store;

/* "Commits" a group: the first one waits to be released; a failing one
 * refuses every bundle of the group, as a failed transaction does. */
static int fake_commit(void *user, dc__import_req *reqs, size_t n, dc__err *err) {
    fake_store *f = user;
    pthread_mutex_lock(&f->mu);
    int call = f->calls++;
    if (call < 16)
        f->sizes[call] = n;
    if (call == 0) {
        f->in_first = true;
        pthread_cond_broadcast(&f->cv);
        while (!f->release)
            pthread_cond_wait(&f->cv, &f->mu);
    }
    bool fail = f->fail_next;
    f->fail_next = false;
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < n; i++) {
        reqs[i].rc = fail ? DC_EIO : 0;
        reqs[i].counts.fresh = fail ? 0 : 1; /* "durable" */
    }
    return fail ? dc__err_set(err, DC_EIO, "disk full") : 0;
}

typedef struct submitter {
    dc__committer *c;
    dc__import_req req;
    int rc;
    volatile int returned;
    pthread_t th;
} submitter;

static void *submit(void *arg) {
    submitter *s = arg;
    s->rc = dc__committer_submit(s->c, &s->req);
    s->returned = 1;
    return NULL;
}

static void test_group_commit_acknowledges_after_the_commit(void **state) {
    (void)state;
    fake_store f = {.calls = 0};
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    dc__committer *c = NULL;
    assert_int_equal(dc__committer_new(&c, fake_commit, &f, 0, 0), 0);
    static const uint8_t data[4] = {0};
    submitter s[4];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 4; i++) {
        s[i].c = c;
        s[i].req.data = data;
        s[i].req.size = sizeof data;
    }
    /* The first group's transaction is held open... */
    assert_int_equal(pthread_create(&s[0].th, NULL, submit, &s[0]), 0);
    pthread_mutex_lock(&f.mu);
    while (!f.in_first)
        pthread_cond_wait(&f.cv, &f.mu);
    pthread_mutex_unlock(&f.mu);
    /* ...while three more sessions submit theirs. */
    for (int i = 1; i < 4; i++)
        assert_int_equal(pthread_create(&s[i].th, NULL, submit, &s[i]), 0);
    usleep(200 * 1000);
    /* Nobody is answered before its transaction has returned. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(s[i].returned, 0);
    pthread_mutex_lock(&f.mu);
    f.release = true;
    pthread_cond_broadcast(&f.cv);
    pthread_mutex_unlock(&f.mu);
    for (int i = 0; i < 4; i++) {
        pthread_join(s[i].th, NULL);
        assert_int_equal(s[i].rc, 0);
        assert_int_equal(s[i].req.counts.fresh, 1);
    }
    /* The three that waited went in one transaction: one fsync. */
    dc__commit_stats cs;
    dc__committer_stats(c, &cs);
    assert_int_equal(cs.groups, 2);
    assert_int_equal(cs.bundles, 4);
    assert_int_equal(f.sizes[1], 3);
    dc__err e = {0, ""};
    assert_int_equal(dc__committer_health(c, &e), 0);
    /* A transaction that fails refuses its bundle and makes the store
     * unhealthy until one commits again. */
    f.fail_next = true;
    dc__import_req r = {.data = data, .size = sizeof data};
    assert_int_equal(dc__committer_submit(c, &r), DC_EIO);
    assert_int_equal(r.counts.fresh, 0);
    assert_int_equal(dc__committer_health(c, &e), DC_EIO);
    assert_non_null(strstr(e.msg, "disk full"));
    memset(&r, 0, sizeof r);
    r.data = data;
    r.size = sizeof data;
    assert_int_equal(dc__committer_submit(c, &r), 0);
    assert_int_equal(dc__committer_health(c, &e), 0);
    dc__committer_free(c);
    pthread_mutex_destroy(&f.mu);
    pthread_cond_destroy(&f.cv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admission),
        cmocka_unit_test(test_token_and_rate_before_the_store),
        cmocka_unit_test(test_store_seam_sqlite),
        cmocka_unit_test(test_relay_compacts),
        cmocka_unit_test(test_solo_quota),
        cmocka_unit_test(test_group_commit_acknowledges_after_the_commit),
    };
    return cmocka_run_group_tests_name("relay", tests, setup, teardown);
}
