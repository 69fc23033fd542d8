/*
 * Tests of model/stats.c: a small hand-made province whose every figure is
 * known, written through the generic transaction API exactly as
 * docs/domain.md lays the records out, with the clock pinned so every step
 * of every case lands at a chosen instant.  Each figure of dc_stats_at is
 * checked, including the on-time figures across the 2026 Labour Day
 * holiday and its working Saturday (the calendar file is argv[1]), the
 * fold of case steps (resolve/reopen order, an unsatisfied revisit, a step
 * after close), a deleted record, and the `space` filter and its errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "drivercore.h"
#include "../../common/replica_fixture.h"

static dc_test_dir g_d;
static const char *g_calendar_path;

/* An instant given in China Standard Time. */
static int64_t cst(int y, int mo, int d, int h, int mi) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return ((int64_t)timegm(&tm) - 8 * 3600) * 1000;
}

typedef struct world {
    dc_replica *r;
    char directory[33], registry[33], branch1[33], branch2[33], desk[33], desk2[33];
    dc_calendar *cal;
} world;

static void mkspace(world *w, char out[33], const char *name) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(w->r, dc_space_create(&b, w->r, name));
    memcpy(out, b.ptr, 33);
    dc_buf_dispose(&b);
}

static void set_s(dc_txn *t, const char *type, const char *id, const char *f, const char *v) {
    if (dc_txn_set(t, type, id, f, v ? DC_STR : DC_NULL, 0, v) != 0)
        fail_msg("set %s/%s.%s", type, id, f);
}

static void org(dc_txn *t, const char *id, const char *kind, const char *level) {
    set_s(t, "org", id, "name", id);
    set_s(t, "org", id, "kind", kind);
    set_s(t, "org", id, "level", level);
}

static void driver(dc_txn *t, const char *id, const char *status) {
    set_s(t, "driver", id, "name", id);
    set_s(t, "driver", id, "status", status);
}

static void secretary(dc_txn *t, const char *id, const char *role) {
    set_s(t, "secretary", id, "name", id);
    set_s(t, "secretary", id, "role", role);
}

static void link_(dc_txn *t, const char *from, const char *to, const char *level) {
    char id[128];
    snprintf(id, sizeof id, "%s/%s", from, to);
    set_s(t, "liaison", id, "from", from);
    set_s(t, "liaison", id, "to", to);
    set_s(t, "liaison", id, "level", level);
}

/* File a case received at `at` into `space`, with the records dc_case_file
 * writes (written by hand here so that steps can cross as they do when
 * handlers work offline, which dc_case_step refuses on one replica). */
static void file_case(world *w, const char *space, const char *id, int64_t at, int emergency) {
    dc_txn *t = NULL;
    g_d.now = at;
    dc_test_ok(w->r, dc_txn_begin(&t, w->r, space));
    set_s(t, "case", id, "driver", "drv-d1");
    set_s(t, "case", id, "channel", "12328");
    set_s(t, "case", id, "category", "freight_arrears");
    set_s(t, "case", id, "text", "运费拖欠");
    set_s(t, "case", id, "region", "520112");
    dc_test_ok(w->r, dc_txn_set(t, "case", id, "emergency", DC_BOOL, emergency, NULL));
    /* The filing step, as dc_case_file writes it: its time is the receipt. */
    dc_test_ok(w->r, dc_txn_event(t, "case", id));
    dc_test_ok(w->r, dc_txn_event_field(t, "action", DC_STR, 0, "file"));
    dc_test_ok(w->r, dc_txn_commit(t, NULL));
}

/* A step at `at`: satisfied 1/0, or -1 for none; `to` may be NULL. */
static void step(world *w, const char *space, const char *id, int64_t at, const char *action,
                 const char *to, int satisfied) {
    dc_txn *t = NULL;
    g_d.now = at;
    dc_test_ok(w->r, dc_txn_begin(&t, w->r, space));
    dc_test_ok(w->r, dc_txn_event(t, "case", id));
    dc_test_ok(w->r, dc_txn_event_field(t, "action", DC_STR, 0, action));
    dc_test_ok(w->r, dc_txn_event_field(t, "to", to ? DC_STR : DC_NULL, 0, to));
    dc_test_ok(w->r, dc_txn_event_field(t, "note", DC_NULL, 0, NULL));
    dc_test_ok(w->r, dc_txn_event_field(t, "satisfied", satisfied < 0 ? DC_NULL : DC_BOOL,
                                        satisfied, NULL));
    dc_test_ok(w->r, dc_txn_commit(t, NULL));
}

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    char path[512];
    if (dc_test_dir_make(&g_d, "model-stats"))
        return -1;
    snprintf(path, sizeof path, "%s/office.db", g_d.path);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = dc_test_pinned;
    o.clock_user = &g_d;
    g_d.now = cst(2026, 1, 5, 9, 0);
    if (dc_replica_open(&w->r, path, &o) != 0)
        return -1;
    if (dc_calendar_load_file(&w->cal, g_calendar_path) != 0)
        return -1;
    *state = w;

    mkspace(w, w->directory, "directory");
    mkspace(w, w->registry, "registry");
    mkspace(w, w->branch1, "branch 520112-01");
    mkspace(w, w->branch2, "branch 520113-01");
    mkspace(w, w->desk, "desk 520112");
    mkspace(w, w->desk2, "desk 520113");

    dc_txn *t = NULL;
    dc_test_ok(w->r, dc_txn_begin(&t, w->r, w->directory));
    org(t, "operator-1", "operator", NULL);
    org(t, "operator-2", "operator", NULL);
    org(t, "operator-3", "operator", NULL);
    org(t, "committee-520000", "committee", "province");
    org(t, "committee-520100", "committee", "city");
    org(t, "committee-520112", "committee", "county");
    org(t, "joint_meeting-gy", "joint_meeting", "province"); /* level from the record */
    org(t, "joint_meeting-520112", "joint_meeting", "county");
    org(t, "enterprise-520112-1", "enterprise", NULL);
    org(t, "department-520112-police", "department", NULL);
    org(t, "department-520112-union", "department", NULL);
    org(t, "branch-520112-01", "branch", NULL);
    org(t, "branch-520112-02", "branch", NULL);
    set_s(t, "station", "dh-520112-1", "name", "乌当区司机之家");
    set_s(t, "station", "dh-520402-1", "name", "黔城智慧物流园司机之家");
    dc_test_ok(w->r, dc_txn_commit(t, NULL));
    dc_test_ok(w->r, dc_txn_begin(&t, w->r, w->directory));
    dc_test_ok(w->r, dc_txn_delete(t, "org", "operator-3")); /* deleted: not counted */
    dc_test_ok(w->r, dc_txn_commit(t, NULL));

    dc_test_ok(w->r, dc_txn_begin(&t, w->r, w->registry));
    driver(t, "drv-d1", "masses");
    driver(t, "drv-d2", "applicant");
    driver(t, "drv-d3", "activist");
    driver(t, "drv-pm1", "member");
    driver(t, "drv-pm2", "probationary");
    driver(t, "drv-pm3", "member");
    secretary(t, "branch-520112-01/p1", "secretary");
    secretary(t, "branch-520112-02/p1", "secretary"); /* one person, two branches */
    secretary(t, "branch-520113-01/p2", "secretary");
    secretary(t, "branch-520112-01/p3", "instructor"); /* not a secretary */
    link_(t, "c1", "drv-pm1", "cadre");
    link_(t, "c1", "drv-pm2", "cadre");
    link_(t, "c2", "drv-pm2", "cadre");
    link_(t, "drv-pm1", "drv-d1", "party_member");
    link_(t, "drv-pm1", "drv-d2", "party_member");
    link_(t, "drv-pm2", "drv-d2", "party_member");
    link_(t, "drv-pm2", "drv-d3", "party_member");
    dc_test_ok(w->r, dc_txn_commit(t, NULL));

    dc_test_ok(w->r, dc_txn_begin(&t, w->r, w->branch1));
    set_s(t, "branch", "branch-520112-01", "name", "乌当区货车司机流动党员党支部");
    set_s(t, "study", "st-1", "title", "微党课");
    set_s(t, "study", "st-2", "title", "微视频");
    dc_test_ok(w->r, dc_txn_commit(t, NULL));
    dc_test_ok(w->r, dc_txn_begin(&t, w->r, w->branch2));
    set_s(t, "branch", "branch-520113-01", "name", "白云区货车司机流动党员党支部");
    set_s(t, "study", "st-1", "title", "新闻");
    dc_test_ok(w->r, dc_txn_commit(t, NULL));

    /* In time order (the clock only moves forward).  A: every deadline
     * met, inside the county, resolved in 72 h.  B: climbs to the city,
     * late everywhere, an unsatisfied revisit reopens it, resolved again
     * (312 h) and never revisited.  C: an emergency transferred half an
     * hour late, then nothing. */
    file_case(w, w->desk, "gr-a", cst(2026, 3, 2, 10, 0), 0);
    step(w, w->desk, "gr-a", cst(2026, 3, 2, 11, 0), "transfer", "committee-520112", -1);
    step(w, w->desk, "gr-a", cst(2026, 3, 3, 10, 0), "feedback", NULL, -1);
    file_case(w, w->desk, "gr-b", cst(2026, 3, 4, 10, 0), 0);
    step(w, w->desk, "gr-b", cst(2026, 3, 4, 13, 0), "transfer", "committee-520100", -1);
    step(w, w->desk, "gr-a", cst(2026, 3, 5, 9, 0), "reply", NULL, -1);
    step(w, w->desk, "gr-a", cst(2026, 3, 5, 10, 0), "resolve", NULL, -1);
    step(w, w->desk, "gr-a", cst(2026, 3, 6, 10, 0), "revisit", NULL, 1);
    file_case(w, w->desk, "gr-c", cst(2026, 3, 6, 10, 0), 1);
    step(w, w->desk, "gr-c", cst(2026, 3, 6, 10, 30), "transfer", "drv-pm1", -1);
    step(w, w->desk, "gr-b", cst(2026, 3, 9, 10, 0), "feedback", NULL, -1);
    step(w, w->desk, "gr-b", cst(2026, 3, 13, 10, 0), "resolve", NULL, -1);
    step(w, w->desk, "gr-b", cst(2026, 3, 16, 10, 0), "revisit", NULL, 0);
    step(w, w->desk, "gr-b", cst(2026, 3, 17, 10, 0), "resolve", NULL, -1);
    /* D (second desk): across Labour Day (05-01..05 off, Saturday 05-09
     * worked): feedback in time only with the holidays, reply late only
     * with the working Saturday; resolved, closed, then an unsatisfied
     * revisit that crossed the close reopens it. */
    file_case(w, w->desk2, "gr-d", cst(2026, 4, 30, 10, 0), 0);
    step(w, w->desk2, "gr-d", cst(2026, 4, 30, 11, 0), "transfer", "branch-520112-01", -1);
    step(w, w->desk2, "gr-d", cst(2026, 5, 7, 20, 0), "feedback", NULL, -1);
    step(w, w->desk2, "gr-d", cst(2026, 5, 12, 8, 0), "reply", NULL, -1);
    step(w, w->desk2, "gr-d", cst(2026, 5, 12, 10, 0), "resolve", NULL, -1);
    step(w, w->desk2, "gr-d", cst(2026, 5, 13, 10, 0), "close", NULL, -1);
    step(w, w->desk2, "gr-d", cst(2026, 5, 14, 10, 0), "revisit", NULL, 0);
    /* E: resolved after its feedback and reply deadlines, then reopened:
     * open.  F: a reopen while open (no effect), resolved in 48 h,
     * revisited satisfied. */
    file_case(w, w->desk, "gr-e", cst(2026, 6, 1, 10, 0), 0);
    file_case(w, w->desk, "gr-f", cst(2026, 6, 1, 10, 0), 0);
    step(w, w->desk, "gr-e", cst(2026, 6, 1, 10, 10), "transfer", "joint_meeting-gy", -1);
    step(w, w->desk, "gr-f", cst(2026, 6, 1, 10, 30), "transfer", "joint_meeting-520100", -1);
    step(w, w->desk, "gr-f", cst(2026, 6, 1, 12, 0), "reopen", NULL, -1);
    step(w, w->desk, "gr-f", cst(2026, 6, 3, 10, 0), "resolve", NULL, -1);
    step(w, w->desk, "gr-f", cst(2026, 6, 4, 10, 0), "revisit", NULL, 1);
    step(w, w->desk, "gr-e", cst(2026, 6, 9, 10, 0), "resolve", NULL, -1);
    step(w, w->desk, "gr-e", cst(2026, 6, 9, 11, 0), "reopen", NULL, -1);
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    dc_calendar_free(w->cal);
    dc_replica_close(w->r);
    free(w);
    return dc_test_dir_remove(&g_d);
}

static json_t *stats_json(world *w, const char *space, const dc_calendar *cal) {
    dc_buf b = DC_BUF_INIT;
    json_error_t e;
    dc_test_ok(w->r, dc_stats_at(&b, w->r, space, cal, cst(2026, 11, 29, 12, 0)));
    json_t *j = json_loadb((const char *)b.ptr, b.size, 0, &e);
    if (!j)
        fail_msg("stats is not JSON (%s): %s", e.text, (const char *)b.ptr);
    dc_buf_dispose(&b);
    return j;
}

/* The JSON text of the value at a dotted path, for exact comparisons
 * ("98.34" must print as 98.34, not 98.339999). */
static void expect(json_t *root, const char *path, const char *want) {
    char buf[256], *save = NULL;
    json_t *j = root;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    if (!j)
        fail_msg("%s: missing", path);
    char *got = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    if (strcmp(got, want) != 0) {
        char *all = json_dumps(root, JSON_COMPACT);
        fail_msg("%s: got %s, want %s\n%s", path, got, want, all);
    }
    free(got);
}

static void test_counts(void **state) {
    world *w = *state;
    json_t *j = stats_json(w, NULL, w->cal);
    expect(j, "as_of", "\"2026-11-29T12:00:00+08:00\"");
    expect(j, "drivers", "6");
    expect(j, "party_member_drivers", "3");
    expect(j, "operators", "2");
    expect(j, "committees", "3");
    expect(j, "branches", "3");
    expect(j, "secretaries", "2");
    expect(j, "stations", "2");
    expect(j, "joint_meetings", "2");
    expect(j, "study_items", "3");
    expect(j, "enterprises", "1");
    expect(j, "departments", "2");
    expect(j, "liaison.cadres", "2");
    expect(j, "liaison.party_member_drivers", "2");
    expect(j, "liaison.drivers", "3");
    json_decref(j);
}

static void test_cases(void **state) {
    world *w = *state;
    json_t *j = stats_json(w, NULL, w->cal);
    expect(j, "cases.collected", "6");
    expect(j, "cases.resolved", "3"); /* A, B, F; D reopened */
    expect(j, "cases.resolution_rate", "50.0");
    expect(j, "cases.inside_county", "50.0");        /* A, C, D */
    expect(j, "cases.on_time.transfer", "66.67");    /* A, D, E, F */
    expect(j, "cases.on_time.feedback", "50.0");     /* A, D, F (by its resolve) */
    expect(j, "cases.on_time.reply", "33.33");       /* A, F; D is 8 h late */
    expect(j, "cases.on_time.revisit", "66.67");     /* A, F of A, B, F */
    expect(j, "cases.satisfaction_rate", "50.0");    /* A, F of A, B, D, F */
    expect(j, "cases.median_resolve_hours", "72.0"); /* 48 72 312 */
    expect(j, "cases.revisits", "4");
    expect(j, "cases.satisfied", "2");
    json_decref(j);
}

/* The same cases broken down by region (province -> city -> county),
 * channel, category and the level each is at (issue 14). */
static void test_breakdowns(void **state) {
    world *w = *state;
    json_t *j = stats_json(w, NULL, w->cal);
    /* Every case is Wudang's: the county, its city and the province each
     * carry all six, with the overall figures. */
    expect(j, "by_region.520112.level", "\"county\"");
    expect(j, "by_region.520112.parent", "\"520100\"");
    expect(j, "by_region.520100.level", "\"city\"");
    expect(j, "by_region.520100.parent", "\"520000\"");
    expect(j, "by_region.520000.parent", "null");
    for (int i = 0; i < 3; i++) {
        static const char *const R[] = {"520112", "520100", "520000"};
        char k[96];
        snprintf(k, sizeof k, "by_region.%s.cases.collected", R[i]);
        expect(j, k, "6");
        snprintf(k, sizeof k, "by_region.%s.cases.on_time.reply", R[i]);
        expect(j, k, "33.33");
        snprintf(k, sizeof k, "by_region.%s.cases.inside_county", R[i]);
        expect(j, k, "50.0");
    }
    expect(j, "by_channel.12328.collected", "6");
    expect(j, "by_channel.12328.resolution_rate", "50.0");
    expect(j, "by_category.freight_arrears.on_time.transfer", "66.67");
    /* Levels: A and B at committees, C at a party-member driver, D at a
     * branch, E and F at joint meetings. */
    expect(j, "by_level.committee.collected", "2");
    expect(j, "by_level.party_member_driver.collected", "1");
    expect(j, "by_level.branch.collected", "1");
    expect(j, "by_level.joint_meeting.collected", "2");
    expect(j, "by_level.branch.resolved", "0"); /* D reopened */
    expect(j, "cases.amount_yuan", "0");
    expect(j, "calendar.estimated", "0");
    json_decref(j);
}

/* Without a calendar the on-time figures are null, the rest unchanged. */
static void test_no_calendar(void **state) {
    world *w = *state;
    json_t *j = stats_json(w, NULL, NULL);
    expect(j, "cases.on_time.feedback", "null");
    expect(j, "cases.on_time.transfer", "null");
    expect(j, "cases.resolution_rate", "50.0");
    json_decref(j);
}

/* Two decimals, rounded half up, exactly: the report's 3731 / 3794. */
static void test_rate_rounding(void **state) {
    (void)state;
    char path[512];
    dc_replica *r = NULL;
    dc_buf sp = DC_BUF_INIT, out = DC_BUF_INIT;
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = dc_test_pinned;
    o.clock_user = &g_d;
    snprintf(path, sizeof path, "%s/rate.db", g_d.path);
    dc_test_ok(NULL, dc_replica_open(&r, path, &o));
    dc_test_ok(r, dc_space_create(&sp, r, "desk"));
    dc_txn *t = NULL;
    dc_test_ok(r, dc_txn_begin(&t, r, (const char *)sp.ptr));
    for (int i = 0; i < 3794; i++) {
        char id[32];
        snprintf(id, sizeof id, "gr-%04d", i);
        dc_test_ok(r, dc_txn_set(t, "case", id, "received", DC_INT, g_d.now, NULL));
        if (i < 3731) {
            dc_test_ok(r, dc_txn_event(t, "case", id));
            dc_test_ok(r, dc_txn_event_field(t, "action", DC_STR, 0, "resolve"));
        }
    }
    dc_test_ok(r, dc_txn_commit(t, NULL));
    dc_test_ok(r, dc_stats_at(&out, r, NULL, NULL, g_d.now));
    assert_non_null(strstr((const char *)out.ptr,
                           "\"collected\":3794,\"resolved\":3731,\"resolution_rate\":98.34,"));
    dc_buf_dispose(&out);
    dc_buf_dispose(&sp);
    dc_replica_close(r);
}

static void test_space_filter(void **state) {
    world *w = *state;
    json_t *j = stats_json(w, w->registry, w->cal);
    expect(j, "drivers", "6");
    expect(j, "committees", "0");
    expect(j, "liaison.drivers", "3");
    expect(j, "cases.collected", "0");
    expect(j, "cases.resolution_rate", "null");
    expect(j, "cases.median_resolve_hours", "null");
    json_decref(j);
    /* The second desk alone: D. */
    j = stats_json(w, w->desk2, w->cal);
    expect(j, "cases.collected", "1");
    expect(j, "cases.resolved", "0");
    expect(j, "cases.inside_county", "100.0");
    expect(j, "cases.on_time.transfer", "100.0");
    expect(j, "cases.on_time.feedback", "100.0");
    expect(j, "cases.on_time.reply", "0.0");
    expect(j, "cases.on_time.revisit", "null");
    expect(j, "cases.median_resolve_hours", "null");
    expect(j, "drivers", "0");
    json_decref(j);
}

static void test_errors(void **state) {
    world *w = *state;
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_stats_at(&b, w->r, "00000000000000000000000000000000", w->cal, 0),
                     DC_ENOTFOUND);
    assert_non_null(strstr(dc_replica_errmsg(w->r), "holds no key"));
    assert_int_equal(dc_stats_at(NULL, w->r, NULL, w->cal, 0), DC_EMISUSE);
    assert_int_equal(dc_stats(&b, NULL, NULL, NULL), DC_EMISUSE);
    /* dc_stats runs as of the system clock: every 2026 deadline passed. */
    dc_test_ok(w->r, dc_stats(&b, w->r, NULL, w->cal));
    assert_non_null(strstr((const char *)b.ptr, "\"collected\":6,"));
    dc_buf_dispose(&b);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_stats CALENDAR.tsv\n");
        return 2;
    }
    g_calendar_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_breakdowns),    cmocka_unit_test(test_no_calendar),
        cmocka_unit_test(test_rate_rounding), cmocka_unit_test(test_space_filter),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
