/*
 * The relay's clock as a device adopts it (docs/protocol.md, "The peer's
 * clock"): a phone syncs with a relay over a fake link whose messages take
 * a set time to arrive, every clock pinned, so the true offset is known to
 * the millisecond.  What the phone adopts must be within the bound the
 * session reports, that bound within the link's round trip, and a fast
 * sync after a slow one must not move the clock by more than the bounds.
 */
#include <stdint.h>

#include "../common/replica_fixture.h"

#define HOUR (3600LL * 1000)

typedef struct link {
    int64_t up_ms;         /* phone to relay, every message */
    int64_t first_down_ms; /* relay to phone, its first message */
    int64_t down_ms;       /* relay to phone, the later ones */
    size_t chunk;          /* the bundle size the phone asks for (0: the default) */
} link;

typedef struct world {
    dc_test_dir pd, rd; /* the phone's clock and the relay's (the true time) */
    dc_replica *phone, *relay;
    char *space;
} world;

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    assert_int_equal(dc_test_dir_make(&w->pd, "clock-p"), 0);
    assert_int_equal(dc_test_dir_make(&w->rd, "clock-r"), 0);
    w->phone = dc_test_open(&w->pd, "phone.db");
    w->relay = dc_test_open(&w->rd, "relay.db");
    w->space = dc_test_shared_space(w->relay, w->phone, DC_ROLE_MEMBER);
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    dc_replica_close(w->phone);
    dc_replica_close(w->relay);
    free(w->space);
    dc_test_dir_remove(&w->pd);
    dc_test_dir_remove(&w->rd);
    free(w);
    return 0;
}

/* True time passes: both clocks move on. */
static void pass(world *w, int64_t ms) {
    w->pd.now += ms;
    w->rd.now += ms;
}

static void write_some(world *w, const char *prefix, int n) {
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s%d", prefix, i);
        dc_txn *t;
        dc_test_ok(w->relay, dc_txn_begin(&t, w->relay, w->space));
        dc_test_ok(w->relay, dc_txn_set(t, "note", id, "text", DC_STR, 0, "a line of text"));
        dc_test_ok(w->relay, dc_txn_commit(t, NULL));
    }
}

static long long json_int(const dc_buf *b, const char *key) {
    char want[64];
    snprintf(want, sizeof want, "\"%s\":", key);
    const char *at = strstr((const char *)b->ptr, want);
    assert_non_null(at);
    assert_true(at[strlen(want)] != 'n'); /* not null */
    return atoll(at + strlen(want));
}

/* The correction the phone's clock applies (dc_replica_status). */
static long long correction(world *w) {
    dc_buf st = DC_BUF_INIT;
    dc_test_ok(w->phone, dc_replica_status(&st, w->phone));
    long long v = json_int(&st, "clock_offset_ms");
    dc_buf_dispose(&st);
    return v;
}

/* One sync of the phone (trusting the relay's clock) over the link; the
 * bound the session reports on its offset; *messages, the relay's. */
static long long sync_over(world *w, const link *l, int *messages) {
    dc_sync *s = NULL, *r = NULL;
    dc_test_ok(w->phone, dc_sync_new(&s, w->phone, DC_SYNC_INITIATOR));
    dc_test_ok(w->phone, dc_sync_trust_peer_clock(s));
    if (l->chunk)
        dc_test_ok(w->phone, dc_sync_set_chunk(s, l->chunk));
    dc_test_ok(w->relay, dc_sync_new(&r, w->relay, DC_SYNC_RESPONDER));
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT, rep = DC_BUF_INIT;
    int done = 0, rdone = 0, n = 0;
    dc_test_ok(w->phone, dc_sync_step(s, &m, &done, NULL, 0));
    while (m.size > 0) {
        assert_true(n < 200);
        pass(w, l->up_ms);
        dc_test_ok(w->relay, dc_sync_step(r, &reply, &rdone, m.ptr, m.size));
        if (reply.size == 0)
            break;
        pass(w, n++ == 0 ? l->first_down_ms : l->down_ms);
        dc_test_ok(w->phone, dc_sync_step(s, &m, &done, reply.ptr, reply.size));
    }
    assert_true(done);
    dc_test_ok(w->phone, dc_sync_note_relay(s));
    dc_test_ok(w->phone, dc_sync_report(&rep, s));
    long long bound = json_int(&rep, "clock_error_ms");
    dc_sync_free(s);
    dc_sync_free(r);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc_buf_dispose(&rep);
    *messages = n;
    return bound;
}

/* The phone's clock error now: its corrected clock minus the true time. */
static long long error_now(world *w) {
    return (long long)(w->pd.now + correction(w) - w->rd.now);
}

static long long labs_ll(long long v) {
    return v < 0 ? -v : v;
}

/* A phone three hours slow, on a link whose first answer takes 7 s to come
 * down (a 2G link carrying a bundle): the clock it adopts is off by no
 * more than the bound the session reports, and that bound by no more than
 * half the slowest round trip.  Taking the relay's stamp at arrival, as
 * before, set the clock 7 s slow. */
static void slow_first_message(void **state) {
    world *w = *state;
    w->pd.now -= 3 * HOUR;
    write_some(w, "a", 5);
    link slow = {.up_ms = 300, .first_down_ms = 7000, .down_ms = 7000, .chunk = 0};
    int n = 0;
    long long bound = sync_over(w, &slow, &n);
    assert_true(n >= 1);
    long long err = error_now(w);
    print_message("slow link: clock off by %lld ms, bound %lld ms, %d answers\n", err, bound, n);
    assert_true(bound >= 0);
    assert_true(labs_ll(err) <= bound);
    assert_true(bound <= (slow.up_ms + slow.down_ms) / 2 + 1);

    /* A fast sync after the slow one: the clock moves by no more than the
     * two bounds together, and ends within the fast one's. */
    long long before = correction(w);
    write_some(w, "b", 3);
    link fast = {.up_ms = 50, .first_down_ms = 60, .down_ms = 60, .chunk = 0};
    long long fbound = sync_over(w, &fast, &n);
    long long jump = correction(w) - before;
    err = error_now(w);
    print_message("fast link: jump %lld ms, clock off by %lld ms, bound %lld ms\n", jump, err,
                  fbound);
    assert_true(fbound >= 0 && fbound <= (fast.up_ms + fast.down_ms) / 2 + 1);
    assert_true(labs_ll(jump) <= bound + fbound);
    assert_true(labs_ll(err) <= fbound);

    /* Another fast sync, lopsided the other way: the correction in place
     * is within what it tells, so the clock does not move (no noise). */
    before = correction(w);
    write_some(w, "c", 2);
    link lopsided = {.up_ms = 90, .first_down_ms = 20, .down_ms = 20, .chunk = 0};
    (void)sync_over(w, &lopsided, &n);
    assert_int_equal(correction(w), before);
}

/* Later, quicker answers of one session narrow what the first one told:
 * a first answer that took 20 s and later ones of a fraction of a second
 * leave the clock within the quick ones' round trip. */
static void narrowed_within_a_session(void **state) {
    world *w = *state;
    w->pd.now += 2 * HOUR; /* a phone two hours fast */
    write_some(w, "d", 300);
    link l = {.up_ms = 200, .first_down_ms = 20000, .down_ms = 150, .chunk = 4096};
    int n = 0;
    long long bound = sync_over(w, &l, &n);
    long long err = error_now(w);
    print_message("narrowed: %d answers, clock off by %lld ms, bound %lld ms\n", n, err, bound);
    assert_true(n > 1); /* answers after the slow first one */
    assert_true(labs_ll(err) <= bound);
    assert_true(bound <= (l.up_ms + l.down_ms) / 2 + 1);
}

/* A phone whose clock is right is not moved by a slow link's noise. */
static void right_clock_stays(void **state) {
    world *w = *state;
    write_some(w, "e", 5);
    link slow = {.up_ms = 300, .first_down_ms = 7000, .down_ms = 7000, .chunk = 0};
    int n = 0;
    long long bound = sync_over(w, &slow, &n);
    assert_true(bound >= 0);
    assert_int_equal(correction(w), 0);
    assert_int_equal(error_now(w), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(slow_first_message, setup, teardown),
        cmocka_unit_test_setup_teardown(narrowed_within_a_session, setup, teardown),
        cmocka_unit_test_setup_teardown(right_clock_stays, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
