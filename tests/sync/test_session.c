/*
 * Tests of sync sessions (sync/session.c) between replicas in one process:
 * a device learns a space it was added to, concurrent edits converge, an
 * idle re-sync is cheap, a session cut after any message leaves both
 * replicas consistent and the next one completes, a non-member receives
 * nothing, a damaged message is refused without changing anything, and a
 * session over many spaces carries them all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "drivercore.h"
#include "../common/replica_fixture.h"

static dc_test_dir g_d;

typedef struct figures {
    long long sent, received, round_trips, changes_sent, changes_received;
} figures;

static long long field(const char *json, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(json, k);
    assert_non_null(p);
    return atoll(p + strlen(k));
}

/* Runs a whole session a (initiator) <-> b; stops after `cut` messages
 * from the initiator when cut > 0 (the link drops). */
static figures run(dc_replica *a, dc_replica *b, int cut) {
    dc_sync *sa, *sb;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT, rep = DC_BUF_INIT;
    int da = 0, db = 0, sent = 0;
    dc_test_ok(a, dc_sync_new(&sa, a, DC_SYNC_INITIATOR));
    dc_test_ok(b, dc_sync_new(&sb, b, DC_SYNC_RESPONDER));
    dc_test_ok(a, dc_sync_step(sa, &m, &da, NULL, 0));
    while (m.size > 0) {
        if (cut && ++sent > cut)
            break;
        dc_test_ok(b, dc_sync_step(sb, &reply, &db, m.ptr, m.size));
        if (reply.size == 0)
            break;
        dc_test_ok(a, dc_sync_step(sa, &m, &da, reply.ptr, reply.size));
    }
    if (!cut)
        assert_true(db); /* the responder (a relay) knows the session is over */
    if (!cut && reply.size)
        assert_true(da); /* and the initiator, if the responder spoke last */
    dc_test_ok(a, dc_sync_report(&rep, sa));
    figures f = {field((char *)rep.ptr, "bytes_sent"), field((char *)rep.ptr, "bytes_received"),
                 field((char *)rep.ptr, "round_trips"), field((char *)rep.ptr, "changes_sent"),
                 field((char *)rep.ptr, "changes_received")};
    dc_sync_free(sa);
    dc_sync_free(sb);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc_buf_dispose(&rep);
    return f;
}

static int64_t g_b_ahead;

static int64_t b_clock(void *user) {
    (void)user;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + g_b_ahead;
}

/* A session a -> b where b's clock runs `ahead` ms ahead, then a notes it
 * as a relay sync; returns that call's code. */
static int run_noting_rc(dc_replica *a, dc_replica *b_unused, int64_t ahead) {
    (void)b_unused;
    char path[512];
    snprintf(path, sizeof path, "%s/k-b.db", g_d.path);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = b_clock;
    g_b_ahead = ahead;
    dc_replica *b = NULL;
    dc_test_ok(NULL, dc_replica_open(&b, path, &o));
    dc_sync *sa, *sb;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    int da = 0, db = 0;
    dc_test_ok(a, dc_sync_new(&sa, a, DC_SYNC_INITIATOR));
    dc_test_ok(b, dc_sync_new(&sb, b, DC_SYNC_RESPONDER));
    assert_int_equal(dc_sync_note_relay(sa), DC_EMISUSE); /* not finished */
    dc_test_ok(a, dc_sync_step(sa, &m, &da, NULL, 0));
    while (m.size > 0) {
        dc_test_ok(b, dc_sync_step(sb, &reply, &db, m.ptr, m.size));
        if (reply.size == 0)
            break;
        dc_test_ok(a, dc_sync_step(sa, &m, &da, reply.ptr, reply.size));
    }
    assert_true(da);
    int rc = dc_sync_note_relay(sa);
    dc_sync_free(sa);
    dc_sync_free(sb);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc_replica_close(b);
    return rc;
}

static figures run_noting(dc_replica *a, dc_replica *b, int64_t ahead) {
    dc_test_ok(a, run_noting_rc(a, b, ahead));
    return (figures){0, 0, 0, 0, 0};
}

static void write_n(dc_replica *r, const char *sp, const char *prefix, int txns, int ops) {
    char id[64];
    for (int k = 0; k < txns; k++) {
        dc_txn *t;
        dc_test_ok(r, dc_txn_begin(&t, r, sp));
        for (int j = 0; j < ops; j++) {
            snprintf(id, sizeof id, "%s-%d-%d", prefix, k, j);
            dc_test_ok(r, dc_txn_set(t, "driver", id, "n", DC_INT, j, NULL));
        }
        dc_test_ok(r, dc_txn_commit(t, NULL));
    }
}

static char *g_space;

/* a: admin of a space with history; b: added to it, knows nothing yet. */
static void setup_pair(dc_replica **a, dc_replica **b, const char *na, const char *nb) {
    *a = dc_test_open_wall(&g_d, na);
    *b = dc_test_open_wall(&g_d, nb);
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT;
    dc_test_ok(*a, dc_space_create(&sp, *a, "branch"));
    dc_test_ok(*b, dc_replica_card(&card, *b));
    dc_test_ok(*a, dc_space_add(*a, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER));
    free(g_space);
    g_space = strdup((const char *)sp.ptr);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
}

static void test_learn_and_converge(void **state) {
    (void)state;
    dc_replica *a, *b;
    setup_pair(&a, &b, "l-a.db", "l-b.db");
    write_n(a, g_space, "a", 40, 25);
    /* b has never heard of the space: the sync brings it, key and all. */
    figures f = run(b, a, 0);
    assert_int_equal(f.changes_received, 43); /* genesis, grant, name, 40 changes */
    /* Invited by a device it has no other space with: b reads once it
     * accepts, with no further sync. */
    char *db = dc_test_dump(b);
    assert_string_equal(db, "{}");
    free(db);
    dc_test_ok(b, dc_space_accept(b, g_space, 0));
    char *da = dc_test_dump(a);
    db = dc_test_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    /* Nothing to do: the reconciliation itself is one round trip; the
     * initiator then tells the responder it is done (so a relay frees the
     * session at once), all in a few hundred bytes. */
    f = run(b, a, 0);
    assert_int_equal(f.changes_received + f.changes_sent, 0);
    assert_true(f.round_trips <= 2);
    assert_true(f.sent + f.received <= 512);
    /* A session of several reconciliation rounds still ends on both
     * sides, so a relay sync is recorded (dc_sync_note_relay). */
    write_n(a, g_space, "many", 60, 1);
    f = run(b, a, 0);
    assert_int_equal(f.changes_received, 60);

    /* Both write offline; one session carries both ways. */
    write_n(a, g_space, "a2", 3, 5);
    write_n(b, g_space, "b2", 2, 5);
    f = run(a, b, 0);
    assert_int_equal(f.changes_sent, 3);
    assert_int_equal(f.changes_received, 2);
    da = dc_test_dump(a);
    db = dc_test_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* Many spaces in one session: each space's reconciliation reports its
 * findings to that space's state while more spaces are being added (a
 * responder meets them one by one), so the states must not move as the
 * session's list of them grows.  Both sides write in every space; one
 * session carries both ways and leaves the two replicas equal. */
static void test_many_spaces(void **state) {
    (void)state;
    enum { SPACES = 40 };
    dc_replica *a = dc_test_open_wall(&g_d, "m-a.db"), *b = dc_test_open_wall(&g_d, "m-b.db");
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(b, dc_replica_card(&card, b));
    char *ids[SPACES];
    for (int i = 0; i < SPACES; i++) {
        dc_buf sp = DC_BUF_INIT;
        dc_test_ok(a, dc_space_create(&sp, a, "yard"));
        dc_test_ok(a,
                   dc_space_add(a, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER));
        ids[i] = strdup((const char *)sp.ptr);
        dc_buf_dispose(&sp);
        write_n(a, ids[i], "a", 1, 2);
    }
    dc_buf_dispose(&card);
    figures f = run(b, a, 0);
    assert_int_equal(f.changes_received, SPACES * 4); /* genesis, grant, name, a change */
    for (int i = 0; i < SPACES; i++) {
        dc_test_ok(b, dc_space_accept(b, ids[i], 0));
        write_n(a, ids[i], "a2", 2, 1);
        write_n(b, ids[i], "b2", 1, 1);
    }
    f = run(b, a, 0);
    assert_int_equal(f.changes_received, SPACES * 2);
    assert_int_equal(f.changes_sent, SPACES);
    char *da = dc_test_dump(a), *db = dc_test_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    for (int i = 0; i < SPACES; i++)
        free(ids[i]);
    dc_replica_close(a);
    dc_replica_close(b);
}

static int g_heard;

static int count_remote(void *user, const char *space, const char *type, const char *id,
                        const char *origin) {
    (void)user;
    (void)space;
    (void)type;
    (void)id;
    g_heard += strcmp(origin, "remote") == 0;
    return 0;
}

static int count_in(dc_replica *r, const char *needle) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_record_list(&b, r, g_space, "driver"));
    int n = 0;
    for (const char *p = (const char *)b.ptr; (p = strstr(p, needle)); p++)
        n++;
    dc_buf_dispose(&b);
    return n;
}

/* b pulls from a in bundles of 4 KiB; stops after `cut` messages of b's
 * when cut > 0; returns b's done flag. */
static int pull_small(dc_replica *b, dc_replica *a, int cut) {
    dc_sync *sb, *sa;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    int db = 0, da = 0, sent = 0;
    dc_test_ok(b, dc_sync_new(&sb, b, DC_SYNC_INITIATOR));
    dc_test_ok(a, dc_sync_new(&sa, a, DC_SYNC_RESPONDER));
    dc_test_ok(b, dc_sync_set_chunk(sb, 4096));
    dc_test_ok(b, dc_sync_step(sb, &m, &db, NULL, 0));
    while (m.size > 0 && !(cut && ++sent > cut)) {
        dc_test_ok(a, dc_sync_step(sa, &reply, &da, m.ptr, m.size));
        if (reply.size == 0)
            break;
        dc_test_ok(b, dc_sync_step(sb, &m, &db, reply.ptr, reply.size));
    }
    dc_sync_free(sb);
    dc_sync_free(sa);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    return db;
}

/* A session's bundles are folded late (the next bundle's import folds the
 * last one): still, once the session ends, or is cut and freed, the
 * observer has heard of every record that arrived, and reads see them. */
static void test_observer_hears_every_bundle(void **state) {
    (void)state;
    dc_replica *a, *b;
    setup_pair(&a, &b, "o-a.db", "o-b.db");
    run(b, a, 0);
    dc_test_ok(b, dc_space_accept(b, g_space, 0));
    write_n(a, g_space, "o", 50, 4);
    dc_test_ok(b, dc_replica_observe(b, count_remote, NULL));
    g_heard = 0;
    assert_true(pull_small(b, a, 0));
    assert_int_equal(g_heard, 200);
    assert_int_equal(count_in(b, "\"o-"), 200);
    /* Cut after a few bundles: what arrived is heard of, and only that. */
    write_n(a, g_space, "p", 50, 4);
    g_heard = 0;
    assert_false(pull_small(b, a, 3));
    int held = count_in(b, "\"p-");
    assert_true(held > 0 && held < 200);
    assert_int_equal(g_heard, held);
    /* The next session brings the rest. */
    g_heard = 0;
    assert_true(pull_small(b, a, 0));
    assert_int_equal(count_in(b, "\"p-"), 200);
    assert_int_equal(g_heard, 200 - held);
    dc_test_ok(b, dc_replica_observe(b, NULL, NULL));
    char *da = dc_test_dump(a), *db = dc_test_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    dc_replica_close(a);
    dc_replica_close(b);
}

static void test_cut_and_resume(void **state) {
    (void)state;
    dc_replica *a, *b;
    setup_pair(&a, &b, "c-a.db", "c-b.db");
    run(b, a, 0);
    dc_test_ok(b, dc_space_accept(b, g_space, 0));
    write_n(a, g_space, "a", 30, 10);
    write_n(b, g_space, "b", 30, 10);
    /* Cut after every possible message count: each replica stays whole
     * (bundles import all or nothing) and a fresh session finishes. */
    for (int cut = 1; cut <= 3; cut++) {
        run(a, b, cut);
        figures f = run(a, b, 0);
        (void)f;
        char *da = dc_test_dump(a), *db = dc_test_dump(b);
        assert_string_equal(da, db);
        free(da);
        free(db);
        write_n(a, g_space, "more-a", 2, 3);
        write_n(b, g_space, "more-b", 2, 3);
    }
    /* After a completed sync nothing is resent. */
    run(a, b, 0);
    figures f = run(a, b, 0);
    assert_int_equal(f.changes_sent + f.changes_received, 0);
    dc_replica_close(a);
    dc_replica_close(b);
}

static void test_non_member_and_bad_message(void **state) {
    (void)state;
    dc_replica *a, *b;
    setup_pair(&a, &b, "n-a.db", "n-b.db");
    write_n(a, g_space, "a", 5, 5);
    dc_replica *c = dc_test_open_wall(&g_d, "n-c.db");
    figures f = run(c, a, 0);
    assert_int_equal(f.changes_received, 0);
    char *dcs = dc_test_dump(c);
    assert_string_equal(dcs, "{}");
    free(dcs);
    /* A damaged hello: refused, nothing changes. */
    dc_sync *sa, *sb;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    int da = 0, db = 0;
    dc_test_ok(b, dc_sync_new(&sa, b, DC_SYNC_INITIATOR));
    dc_test_ok(a, dc_sync_new(&sb, a, DC_SYNC_RESPONDER));
    dc_test_ok(b, dc_sync_step(sa, &m, &da, NULL, 0));
    char *before = dc_test_dump(a);
    m.ptr[0] ^= 0xff;
    assert_int_equal(dc_sync_step(sb, &reply, &db, m.ptr, m.size), DC_ECORRUPT);
    assert_non_null(strstr(dc_replica_errmsg(a), "sync"));
    m.ptr[0] ^= 0xff;
    m.ptr[3] = 9; /* a future protocol version */
    dc_sync_free(sb);
    dc_test_ok(a, dc_sync_new(&sb, a, DC_SYNC_RESPONDER));
    assert_int_equal(dc_sync_step(sb, &reply, &db, m.ptr, m.size), DC_EVERSION);
    /* Truncated anywhere: refused. */
    m.ptr[3] = 1;
    for (size_t n = 0; n < m.size; n += 7) {
        dc_sync_free(sb);
        dc_test_ok(a, dc_sync_new(&sb, a, DC_SYNC_RESPONDER));
        assert_int_not_equal(dc_sync_step(sb, &reply, &db, m.ptr, n), 0);
    }
    char *after = dc_test_dump(a);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* Misuse. */
    assert_int_equal(dc_sync_step(sa, &m, &da, NULL, 0), DC_EMISUSE);
    dc_sync_free(sa);
    dc_sync_free(sb);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc_replica_close(a);
    dc_replica_close(b);
    dc_replica_close(c);
}

static void test_relay_bookkeeping(void **state) {
    (void)state;
    dc_replica *a, *b;
    setup_pair(&a, &b, "k-a.db", "k-b.db");
    write_n(a, g_space, "a", 3, 2);
    dc_buf st = DC_BUF_INIT;
    dc_test_ok(a, dc_replica_status(&st, a));
    assert_non_null(strstr((char *)st.ptr, "\"last_relay_sync_ms\":null"));
    /* genesis, grant, name and three changes: none acknowledged yet */
    assert_non_null(strstr((char *)st.ptr, "\"unacked\":6"));
    /* b stands in for the relay, its clock 90 minutes ahead of a's. */
    figures f = run_noting(a, b, 90 * 60 * 1000);
    (void)f;
    dc_test_ok(a, dc_replica_status(&st, a));
    assert_non_null(strstr((char *)st.ptr, "\"unacked\":0"));
    const char *off = strstr((char *)st.ptr, "\"clock_offset_ms\":");
    assert_non_null(off);
    long long offset = atoll(off + 18);
    assert_true(offset > 5400000 - 2000 && offset < 5400000 + 2000);
    assert_null(strstr((char *)st.ptr, "\"last_relay_sync_ms\":null"));
    /* The correction moves the timestamps of what a writes next. */
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, g_space));
    dc_test_ok(a, dc_txn_event(t, "driver", "x"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(a, dc_record_get(&rec, a, g_space, "driver", "x"));
    const char *tm = strstr((char *)rec.ptr, "\"@time\":");
    assert_non_null(tm);
    long long at = atoll(tm + 8);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long wall = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    assert_true(at > wall + 89 * 60 * 1000 && at < wall + 91 * 60 * 1000);
    dc_test_ok(a, dc_replica_status(&st, a));
    assert_non_null(strstr((char *)st.ptr, "\"unacked\":1"));
    /* A relay's clock is adopted however far off (a phone's clock reset by
     * a dead battery), as long as it reads a plausible time; one that reads
     * 1990 corrects nothing. */
    dc_test_ok(a, run_noting_rc(a, b, 40LL * 24 * 3600 * 1000));
    dc_test_ok(a, dc_replica_status(&st, a));
    off = strstr((char *)st.ptr, "\"clock_offset_ms\":");
    offset = atoll(off + 18);
    assert_true(offset > 40LL * 86400000 - 2000 && offset < 40LL * 86400000 + 2000);
    struct timespec t1990 = {0};
    clock_gettime(CLOCK_REALTIME, &t1990);
    int64_t to_1990 = INT64_C(631152000000) - ((int64_t)t1990.tv_sec * 1000 + offset);
    assert_int_equal(run_noting_rc(a, b, to_1990), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(a), "plausible"));
    dc_buf_dispose(&st);
    dc_buf_dispose(&rec);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* Two phones at a truck stop, no relay: the tablet's clock leads by three
 * hours.  The phone does not adopt it, but takes what the tablet sends in
 * that session at once (nothing held); a lead of weeks still waits. */
static void test_direct_peer_clock_lead(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/lead-a.db", g_d.path);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = b_clock;
    g_b_ahead = 3LL * 3600 * 1000;
    dc_replica *tablet = NULL, *phone = dc_test_open_wall(&g_d, "lead-b.db");
    dc_test_ok(NULL, dc_replica_open(&tablet, path, &o));
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT, st = DC_BUF_INIT;
    dc_test_ok(tablet, dc_space_create(&sp, tablet, "yard"));
    dc_test_ok(phone, dc_replica_card(&card, phone));
    dc_test_ok(tablet,
               dc_space_add(tablet, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER));
    write_n(tablet, (const char *)sp.ptr, "t", 3, 2);
    run(phone, tablet, 0);
    dc_test_ok(phone, dc_replica_status(&st, phone));
    assert_non_null(strstr((char *)st.ptr, "\"held\":0"));
    dc_test_ok(phone, dc_space_accept(phone, (const char *)sp.ptr, 0));
    char *dt = dc_test_dump(tablet), *dp = dc_test_dump(phone);
    assert_string_equal(dt, dp);
    free(dt);
    free(dp);
    /* Its own clock stays its own (no relay): the offset is not stored. */
    assert_non_null(strstr((char *)st.ptr, "\"clock_offset_ms\":0"));
    /* Weeks ahead: beyond what a direct peer is trusted with. */
    g_b_ahead = 30LL * 24 * 3600 * 1000;
    write_n(tablet, (const char *)sp.ptr, "late", 1, 1);
    run(phone, tablet, 0);
    dc_test_ok(phone, dc_replica_status(&st, phone));
    assert_non_null(strstr((char *)st.ptr, "\"held\":1"));
    g_b_ahead = 0;
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    dc_buf_dispose(&st);
    dc_replica_close(tablet);
    dc_replica_close(phone);
}

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "sync");
}

static int teardown(void **state) {
    (void)state;
    free(g_space);
    return dc_test_dir_remove(&g_d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learn_and_converge),
        cmocka_unit_test(test_many_spaces),
        cmocka_unit_test(test_cut_and_resume),
        cmocka_unit_test(test_non_member_and_bad_message),
        cmocka_unit_test(test_relay_bookkeeping),
        cmocka_unit_test(test_direct_peer_clock_lead),
        cmocka_unit_test(test_observer_hears_every_bundle),
    };
    return cmocka_run_group_tests_name("sync-session", tests, setup, teardown);
}
