/*
 * Unit tests of the holiday calendar and of grievances (model/calendar.c,
 * model/grievance.c): the 2026 schedule and its working weekends, the day
 * boundary in China Standard Time, TSV errors naming their line, RFC 3339
 * in and out, calendars published into a space, and the case fold — the
 * deadlines of the 12328 rule, emergency orders, return visits that reopen,
 * steps refused in the wrong state, and steps from two offline replicas
 * that cross and must converge to one state.
 *
 * Usage: test_grievance PATH/TO/cn-holidays-2026.tsv
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "base/base.h"
#include "drivercore.h"
#include "../../common/replica_fixture.h"

static const char *g_tsv_path;
static dc_test_dir g_d;
static dc_calendar *g_cal;

#define HOUR ((int64_t)3600000)

static int64_t at(const char *rfc3339) {
    int64_t ms;
    if (dc_time_parse(&ms, rfc3339) != 0)
        fail_msg("parse %s: %s", rfc3339, dc_error_last());
    return ms;
}

static char *cst(int64_t ms) {
    static char out[4][64];
    static int k;
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_time_cst(&b, ms), 0);
    char *s = out[k++ % 4];
    snprintf(s, 64, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

/* A space on a that b (if not NULL) has joined as a member. */
static char *shared_space(dc_replica *a, dc_replica *b, const char *name) {
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT;
    dc_test_ok(a, dc_space_create(&sp, a, name));
    if (b) {
        dc_test_ok(b, dc_replica_card(&card, b));
        dc_test_ok(a,
                   dc_space_add(a, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER));
        dc_test_sync_accept(a, b);
    }
    char *id = strdup((const char *)sp.ptr);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    return id;
}

/* ---- reading a case through its flat summary ---- */

typedef struct field_want {
    const char *key;
    dc__value v;
    char str[256];
    bool seen;
} field_want;

static int grab(void *user, const char *key, const dc__value *v) {
    field_want *w = user;
    if (strcmp(key, w->key) == 0) {
        w->v = *v;
        if (v->kind == DC_STR)
            snprintf(w->str, sizeof w->str, "%.*s", (int)v->len, v->str);
        w->seen = true;
    }
    return 0;
}

static field_want summary_field(dc_replica *r, const char *id, const char *key) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_case_summary(&b, r, NULL, id, g_cal));
    field_want w = {key, {DC_NULL, 0, NULL, 0}, "", false};
    assert_int_equal(dc__json_flat_each((const char *)b.ptr, grab, &w), 0);
    dc_buf_dispose(&b);
    if (!w.seen)
        fail_msg("summary has no key %s", key);
    return w;
}

static const char *status_of(dc_replica *r, const char *id) {
    static char s[256];
    snprintf(s, sizeof s, "%s", summary_field(r, id, "status").str);
    return s;
}

static int64_t ms_of(dc_replica *r, const char *id, const char *key) {
    field_want w = summary_field(r, id, key);
    return w.v.kind == DC_INT ? w.v.num : -1;
}

static char *show(dc_replica *r, const char *id) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_case_show(&b, r, id, g_cal));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

static void assert_contains(const char *hay, const char *needle) {
    assert_non_null(hay);
    if (!strstr(hay, needle)) {
        const char *h = hay ? hay : "(null)"; /* for GCC's -Wformat-overflow */
        fail_msg("expected %s in %s", needle, h);
    }
}

/* Files a case now (g_d.now) and returns its id (static storage per call). */
static char *file_case(dc_replica *r, const char *space, int emergency) {
    static char ids[8][32];
    static int k;
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.driver = "drv-0000000000000000abcd";
    o.channel = "12328";
    o.category = "freight_arrears";
    o.text = "运费拖欠 4200 元";
    o.emergency = emergency;
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_case_file(&b, r, space, &o, g_cal));
    const char *p = strstr((const char *)b.ptr, "\"case\":\"");
    assert_non_null(p);
    char *id = ids[k++ % 8];
    snprintf(id, 32, "%.15s", p + 8);
    assert_int_equal(strlen(id), 15);
    assert_memory_equal(id, "gr-", 3);
    dc_buf_dispose(&b);
    return id;
}

static int step(dc_replica *r, const char *id, const char *action, const char *to, int sat) {
    return dc_case_step(NULL, r, id, action, to, NULL, sat, g_cal);
}

/* ---- the calendar ---- */

static void test_calendar_2026_days(void **state) {
    (void)state;
    struct {
        int m, d, work;
    } days[] = {
        {1, 1, 0},   {1, 2, 0},   {1, 3, 0},  {1, 4, 1},   /* New Year; Sunday 4th worked */
        {1, 5, 1},   {1, 10, 0},  {2, 13, 1}, {2, 14, 1},  /* Saturday 14 Feb worked */
        {2, 15, 0},  {2, 23, 0},  {2, 24, 1}, {2, 28, 1},  /* Saturday 28 Feb worked */
        {3, 1, 0},   {4, 6, 0},   {5, 5, 0},  {5, 9, 1},   /* Labour Day; Saturday 9 May */
        {6, 19, 0},  {9, 20, 1},  {9, 25, 0}, {9, 28, 1},  /* Sunday 20 Sep worked */
        {10, 1, 0},  {10, 7, 0},  {10, 8, 1}, {10, 10, 1}, /* Saturday 10 Oct worked */
        {10, 11, 0}, {12, 25, 1},
    };
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
        if (dc_calendar_is_workday(g_cal, 2026, days[i].m, days[i].d) != days[i].work)
            fail_msg("2026-%02d-%02d should be %s", days[i].m, days[i].d,
                     days[i].work ? "a working day" : "a day off");
    assert_int_equal(dc_calendar_is_workday(g_cal, 2026, 2, 30), 0);
    /* Without a calendar: plain Monday to Friday. */
    assert_int_equal(dc_calendar_is_workday(NULL, 2026, 10, 1), 1);
    assert_int_equal(dc_calendar_is_workday(NULL, 2026, 10, 10), 0);
}

static void test_end_of_workdays(void **state) {
    (void)state;
    struct {
        const char *from;
        int n;
        const char *due;
    } cases[] = {
        /* National Day: 1-7 Oct off, Saturday 10 Oct worked. */
        {"2026-09-30T10:00:00+08:00", 2, "2026-10-10T00:00:00+08:00"},
        {"2026-09-30T10:00:00+08:00", 5, "2026-10-14T00:00:00+08:00"},
        /* Mid-Autumn 25-27 Sep, then National Day. */
        {"2026-09-24T09:00:00+08:00", 2, "2026-09-30T00:00:00+08:00"},
        {"2026-09-24T09:00:00+08:00", 5, "2026-10-10T00:00:00+08:00"},
        /* Sunday 20 Sep is a working day. */
        {"2026-09-18T17:00:00+08:00", 2, "2026-09-22T00:00:00+08:00"},
        /* New Year 1-3 Jan off, Sunday 4 Jan worked. */
        {"2025-12-31T12:00:00+08:00", 2, "2026-01-06T00:00:00+08:00"},
        {"2025-12-31T12:00:00+08:00", 5, "2026-01-09T00:00:00+08:00"},
        /* Spring Festival: Sat 14 Feb worked, 15-23 off, Sat 28 Feb worked. */
        {"2026-02-13T23:59:00+08:00", 2, "2026-02-25T00:00:00+08:00"},
        {"2026-02-13T23:59:00+08:00", 5, "2026-02-28T00:00:00+08:00"},
        {"2026-02-27T08:00:00+08:00", 2, "2026-03-03T00:00:00+08:00"},
        /* The day boundary is CST: 00:01 on the 14th (16:01 UTC on the
         * 13th) is the 14th, so the 14th itself no longer counts. */
        {"2026-02-13T16:01:00Z", 2, "2026-02-26T00:00:00+08:00"},
        /* Receipt on a day off: counting starts the next day anyway. */
        {"2026-10-03T11:00:00+08:00", 2, "2026-10-10T00:00:00+08:00"},
        /* Labour Day 1-5 May off, Saturday 9 May worked. */
        {"2026-04-30T15:00:00+08:00", 2, "2026-05-08T00:00:00+08:00"},
        {"2026-04-30T15:00:00+08:00", 5, "2026-05-12T00:00:00+08:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t due = dc_calendar_end_of_workdays(g_cal, at(cases[i].from), cases[i].n);
        if (strcmp(cst(due), cases[i].due) != 0)
            fail_msg("%s + %d working days: got %s, want %s", cases[i].from, cases[i].n, cst(due),
                     cases[i].due);
    }
    /* Without a calendar, 1 Oct is a Thursday like any other. */
    assert_string_equal(cst(dc_calendar_end_of_workdays(NULL, at("2026-09-30T10:00:00+08:00"), 2)),
                        "2026-10-03T00:00:00+08:00");
    assert_true(dc_calendar_end_of_workdays(g_cal, 0, 0) == -1);
    assert_true(dc_calendar_end_of_workdays(g_cal, 0, 100001) == -1);
}

static void test_time_text(void **state) {
    (void)state;
    /* 2026-01-01 00:00 UTC is 1767225600000. */
    assert_true(at("2026-01-01T00:00:00Z") == 1767225600000);
    assert_true(at("2026-01-01T08:00:00+08:00") == 1767225600000);
    assert_true(at("2025-12-31T19:00:00-05:00") == 1767225600000);
    assert_true(at("2026-01-01 00:00:00.25z") == 1767225600250);
    assert_string_equal(cst(1767225600000), "2026-01-01T08:00:00+08:00");
    assert_string_equal(cst(1767225600007), "2026-01-01T08:00:00.007+08:00");
    assert_string_equal(cst(0), "1970-01-01T08:00:00+08:00");
    assert_string_equal(cst(-1), "1970-01-01T07:59:59.999+08:00");
    const char *bad[] = {"",
                         "2026-01-01",
                         "2026-01-01T00:00:00",
                         "2026-02-30T00:00:00Z",
                         "2026-01-01T24:00:00Z",
                         "2026-01-01T00:00:00+8:00",
                         "2026-01-01T00:00:00Zjunk",
                         "x026-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        if (dc_time_parse(&ms, bad[i]) != DC_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(dc_error_last(), "RFC 3339"));
    }
}

static void expect_parse_error(const char *tsv, const char *msg) {
    dc_calendar *c = (dc_calendar *)1;
    assert_int_equal(dc_calendar_parse(&c, (const uint8_t *)tsv, strlen(tsv)), DC_EINVAL);
    assert_null(c);
    if (!strstr(dc_error_last(), msg))
        fail_msg("expected '%s' in '%s'", msg, dc_error_last());
}

static void test_calendar_parse(void **state) {
    (void)state;
    const char *good = "# comment\r\n\n2027-01-01\toff\t元旦\r\n2026-12-27\twork\n"
                       "  \n2026-12-26\toff\tname\twith tab\n";
    dc_calendar *c;
    assert_int_equal(dc_calendar_parse(&c, (const uint8_t *)good, strlen(good)), 0);
    assert_int_equal(dc_calendar_is_workday(c, 2027, 1, 1), 0);
    assert_int_equal(dc_calendar_is_workday(c, 2026, 12, 27), 1); /* a Sunday, worked */
    assert_int_equal(dc_calendar_is_workday(c, 2026, 12, 26), 0);
    dc_buf j = DC_BUF_INIT;
    assert_int_equal(dc_calendar_json(&j, c), 0);
    assert_string_equal((const char *)j.ptr,
                        "{\"years\":[2026,2027],\"off\":2,\"work\":1,\"days\":["
                        "{\"date\":\"2026-12-26\",\"kind\":\"off\",\"name\":\"name\\twith tab\"},"
                        "{\"date\":\"2026-12-27\",\"kind\":\"work\",\"name\":\"\"},"
                        "{\"date\":\"2027-01-01\",\"kind\":\"off\",\"name\":\"元旦\"}]}");
    dc_buf_dispose(&j);
    dc_calendar_free(c);

    expect_parse_error("2026-01-01\toff\nbad line\n", "line 2: expected DATE<TAB>");
    expect_parse_error("# x\n2026-13-01\toff\n", "line 2: '2026-13-01' is not a date");
    expect_parse_error("2026-02-29\toff\n", "is not a date");
    expect_parse_error("2026-01-01\tholiday\n", "line 1: kind 'holiday' is neither");
    expect_parse_error("2026-01-02\toff\n2026-01-01\toff\n\n2026-01-02\twork\n",
                       "line 4: 2026-01-02 is already listed on line 1");
    expect_parse_error("2026-01-01\toff\t\xff\n", "not valid UTF-8");
    /* The real file loads; a missing one says which. */
    assert_int_equal(dc_calendar_load_file(&c, "/nonexistent/cal.tsv"), DC_EIO);
    assert_non_null(strstr(dc_error_last(), "/nonexistent/cal.tsv"));
    char path[512];
    snprintf(path, sizeof path, "%s/bad.tsv", g_d.path);
    FILE *f = fopen(path, "w");
    fputs("2026-01-01\toff\n2026-01-01\tof\n", f);
    fclose(f);
    assert_int_equal(dc_calendar_load_file(&c, path), DC_EINVAL);
    assert_non_null(strstr(dc_error_last(), "bad.tsv': line 2: kind 'of'"));
}

static void test_calendar_in_space(void **state) {
    (void)state;
    g_d.now = at("2026-03-01T10:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "cal-a.db"), *b = dc_test_open(&g_d, "cal-b.db");
    char *dir = shared_space(a, b, "directory");
    dc_calendar *c;
    assert_int_equal(dc_calendar_from_space(&c, a, dir), DC_ENOTFOUND);
    assert_null(c);
    dc_test_ok(a, dc_calendar_publish(a, dir, g_cal));
    dc_test_sync_accept(a, b);
    dc_test_ok(b, dc_calendar_from_space(&c, b, dir));
    dc_buf j1 = DC_BUF_INIT, j2 = DC_BUF_INIT;
    dc_test_ok(b, dc_calendar_json(&j1, c));
    dc_test_ok(b, dc_calendar_json(&j2, g_cal));
    assert_string_equal((const char *)j1.ptr, (const char *)j2.ptr);
    dc_calendar_free(c);

    /* Publishing again changes nothing; a corrected schedule for 2026
     * replaces the old one (10 Oct no longer worked), other years stay. */
    dc_buf st1 = DC_BUF_INIT, st2 = DC_BUF_INIT;
    dc_test_ok(a, dc_replica_status(&st1, a));
    dc_test_ok(a, dc_calendar_publish(a, dir, g_cal));
    dc_test_ok(a, dc_replica_status(&st2, a));
    assert_string_equal((const char *)st1.ptr, (const char *)st2.ptr);
    const char *fix = "2026-10-01\toff\tNational Day\n";
    dc_calendar *small;
    assert_int_equal(dc_calendar_parse(&small, (const uint8_t *)fix, strlen(fix)), 0);
    dc_test_ok(a, dc_calendar_publish(a, dir, small));
    dc_calendar_free(small);
    dc_test_ok(a, dc_calendar_from_space(&c, a, dir));
    assert_int_equal(dc_calendar_is_workday(c, 2026, 10, 10), 0);
    assert_int_equal(dc_calendar_is_workday(c, 2026, 10, 1), 0);
    assert_int_equal(dc_calendar_is_workday(c, 2026, 10, 2), 1);
    dc_calendar_free(c);

    /* A malformed holiday record is refused, not guessed at. */
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, dir));
    dc_test_ok(a, dc_txn_set(t, "holiday", "2026-11-11", "kind", DC_STR, 0, "maybe"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    assert_int_equal(dc_calendar_from_space(&c, a, dir), DC_ECORRUPT);
    assert_non_null(strstr(dc_replica_errmsg(a), "2026-11-11"));

    dc_buf_dispose(&j1);
    dc_buf_dispose(&j2);
    dc_buf_dispose(&st1);
    dc_buf_dispose(&st2);
    free(dir);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- cases ---- */

static void test_case_deadlines(void **state) {
    (void)state;
    g_d.now = at("2026-09-30T10:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "dl.db");
    char *sp = shared_space(a, NULL, "case desk");
    char *id = file_case(a, sp, 0);
    char *s = show(a, id);
    assert_contains(s, "\"status\":\"received\"");
    assert_contains(s, "\"received\":\"2026-09-30T10:00:00+08:00\"");
    assert_contains(s, "\"due\":{\"transfer\":\"2026-09-30T12:00:00+08:00\","
                       "\"feedback\":\"2026-10-10T00:00:00+08:00\","
                       "\"reply\":\"2026-10-14T00:00:00+08:00\",\"revisit\":null}");
    assert_contains(s, "\"driver_known\":false");
    assert_contains(s, "\"steps\":[{\"action\":\"file\"");
    free(s);

    /* Transfer late (3 h), feedback on time, resolve on 13 Oct (Tuesday):
     * reply on time, revisit due end of 15 Oct. */
    g_d.now += 3 * HOUR;
    dc_test_ok(a, step(a, id, "transfer", "committee-520100", -1));
    g_d.now = at("2026-10-09T09:00:00+08:00");
    dc_test_ok(a, step(a, id, "feedback", NULL, -1));
    g_d.now = at("2026-10-13T16:00:00+08:00");
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    s = show(a, id);
    assert_contains(s, "\"status\":\"resolved\",\"at\":\"committee-520100\","
                       "\"level\":\"committee\",\"resolved\":\"2026-10-13T16:00:00+08:00\"");
    assert_contains(s, "\"revisit\":\"2026-10-16T00:00:00+08:00\"");
    assert_contains(s, "\"on_time\":{\"transfer\":false,\"feedback\":true,\"reply\":true,"
                       "\"revisit\":null}");
    free(s);

    /* An unsatisfied driver reopens it: the revisit deadline is gone until
     * the next resolution, which sets a new one. */
    g_d.now = at("2026-10-14T10:00:00+08:00");
    dc_test_ok(a, step(a, id, "revisit", NULL, 0));
    assert_string_equal(status_of(a, id), "in_progress");
    assert_true(ms_of(a, id, "due_revisit_ms") == -1);
    assert_true(ms_of(a, id, "reopened") == 1);
    g_d.now = at("2026-10-16T18:00:00+08:00"); /* Friday */
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    assert_string_equal(cst(ms_of(a, id, "due_revisit_ms")), "2026-10-21T00:00:00+08:00");
    assert_true(ms_of(a, id, "first_resolved_ms") == at("2026-10-13T16:00:00+08:00"));
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "revisit", NULL, 1));
    assert_string_equal(status_of(a, id), "revisited");
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "close", NULL, -1));
    s = show(a, id);
    assert_contains(s, "\"status\":\"closed\"");
    assert_contains(s, "\"satisfied\":true,\"reopened\":1");
    assert_contains(s, "\"revisit\":true}");
    free(s);
    assert_true(ms_of(a, id, "revisits") == 2);
    assert_true(ms_of(a, id, "satisfied_revisits") == 1);

    free(sp);
    dc_replica_close(a);

    /* An emergency is received, transferred and handled at once: every
     * deadline is the moment of receipt, not the working days of an
     * ordinary order (issue 14).  (A new replica: the clock of the one
     * above never goes back to February.) */
    g_d.now = at("2026-02-13T23:00:00+08:00");
    a = dc_test_open(&g_d, "dl-em.db");
    sp = shared_space(a, NULL, "case desk");
    char *em = file_case(a, sp, 1);
    assert_true(ms_of(a, em, "due_transfer_ms") == g_d.now);
    assert_true(ms_of(a, em, "due_feedback_ms") == g_d.now);
    assert_true(ms_of(a, em, "due_reply_ms") == g_d.now);
    g_d.now += 1;
    dc_test_ok(a, step(a, em, "transfer", "joint_meeting-5201", -1));
    s = show(a, em);
    assert_contains(s, "\"emergency\":true");
    assert_contains(s, "\"level\":\"joint_meeting\"");
    assert_contains(s, "\"on_time\":{\"transfer\":false");
    free(s);
    free(sp);
    dc_replica_close(a);
}

/* dc_case_get: the same facts as the JSON views, typed. */
static void test_case_typed(void **state) {
    (void)state;
    g_d.now = at("2026-09-30T10:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "typed.db");
    char *sp = shared_space(a, NULL, "case desk");
    char *id = file_case(a, sp, 0);
    dc_case_info c;
    memset(&c, 0, sizeof c);
    assert_int_equal(dc_case_get(a, sp, id, g_cal, &c), DC_EINVAL); /* no version */
    c.version = DC_CASE_INFO_VERSION;
    dc_test_ok(a, dc_case_get(a, NULL, id, g_cal, &c)); /* found in the spaces held */
    assert_string_equal(c.id, id);
    assert_string_equal(c.space, sp);
    assert_string_equal(c.status, "received");
    assert_true(c.open);
    assert_string_equal(c.channel, "12328");
    assert_string_equal(c.category, "freight_arrears");
    assert_string_equal(c.driver, "drv-0000000000000000abcd");
    assert_string_equal(c.level, "");
    assert_true(c.received_ms == g_d.now && c.resolved_ms == -1);
    assert_true(c.due_ms[0] == at("2026-09-30T12:00:00+08:00"));
    assert_true(c.due_ms[1] == at("2026-10-10T00:00:00+08:00"));
    assert_true(c.due_ms[2] == at("2026-10-14T00:00:00+08:00"));
    assert_true(c.due_ms[3] == -1);
    for (int k = 0; k < DC_CASE_DEADLINES; k++)
        assert_true(c.done_ms[k] == -1);
    assert_string_equal(dc_case_deadline_name(2), "reply");
    assert_null(dc_case_deadline_name(4));
    /* Transferred late, resolved: the typed view and the summary agree. */
    g_d.now += 3 * HOUR;
    int64_t transferred = g_d.now;
    dc_test_ok(a, step(a, id, "transfer", "committee-520100", -1));
    g_d.now = at("2026-10-13T16:00:00+08:00");
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    c.version = DC_CASE_INFO_VERSION;
    dc_test_ok(a, dc_case_get(a, sp, id, g_cal, &c));
    assert_string_equal(c.status, "resolved");
    assert_false(c.open);
    assert_string_equal(c.at, "committee-520100");
    assert_string_equal(c.level, "committee");
    assert_true(c.done_ms[0] == transferred);
    assert_true(c.due_ms[0] < c.done_ms[0]); /* late */
    assert_true(c.resolved_ms == g_d.now);
    assert_true(c.due_ms[3] == ms_of(a, id, "due_revisit_ms"));
    assert_true(c.due_ms[2] == ms_of(a, id, "due_reply_ms"));
    /* Not there. */
    c.version = DC_CASE_INFO_VERSION;
    assert_int_equal(dc_case_get(a, NULL, "gr-000000000000", g_cal, &c), DC_ENOTFOUND);
    assert_non_null(strstr(dc_replica_errmsg(a), "gr-000000000000"));
    assert_int_equal(dc_case_get(a, sp, NULL, g_cal, &c), DC_EMISUSE);

    /* dc_case_file_info: filed, and handed back typed, as dc_case_get
     * reads it later; a bad call files nothing. */
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.driver = "drv-0000000000000000beef";
    o.channel = "app";
    o.category = "overloading_fine";
    o.text = "罚款不合理";
    o.amount = 200;
    dc_case_info f, g;
    memset(&f, 0, sizeof f);
    assert_int_equal(dc_case_file_info(&f, a, sp, &o, g_cal), DC_EINVAL); /* no version */
    f.version = DC_CASE_INFO_VERSION;
    o.text = "";
    assert_int_equal(dc_case_file_info(&f, a, sp, &o, g_cal), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(a), "text"));
    dc_buf list = DC_BUF_INIT;
    dc_test_ok(a, dc_record_list(&list, a, sp, "case"));
    assert_null(strstr((const char *)list.ptr, "beef"));
    dc_buf_dispose(&list);
    o.text = "罚款不合理";
    dc_test_ok(a, dc_case_file_info(&f, a, sp, &o, g_cal));
    assert_memory_equal(f.id, "gr-", 3);
    assert_int_equal(strlen(f.id), 15);
    assert_string_equal(f.space, sp);
    assert_string_equal(f.driver, "drv-0000000000000000beef");
    assert_string_equal(f.status, "received");
    assert_true(f.has_amount && f.amount == 200);
    assert_true(f.received_ms == g_d.now && f.due_ms[0] == g_d.now + 2 * HOUR);
    memset(&g, 0, sizeof g);
    g.version = DC_CASE_INFO_VERSION;
    dc_test_ok(a, dc_case_get(a, sp, f.id, g_cal, &g));
    assert_memory_equal(&f.due_ms, &g.due_ms, sizeof f.due_ms);
    assert_string_equal(f.category, g.category);
    assert_int_equal(dc_case_file_info(NULL, a, sp, &o, g_cal), DC_EMISUSE);
    assert_int_equal(dc_case_file_info(&f, NULL, sp, &o, g_cal), DC_EMISUSE);
    free(sp);
    dc_replica_close(a);
}

static void test_case_refusals(void **state) {
    (void)state;
    g_d.now = at("2026-05-06T10:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "ref.db");
    char *sp = shared_space(a, NULL, "desk");
    char *id = file_case(a, sp, 0);
    char *before = show(a, id);
    /* Steps that make no sense now are refused and write nothing. */
    assert_int_equal(step(a, id, "close", NULL, -1), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(a), "resolve it first"));
    assert_int_equal(step(a, id, "revisit", NULL, 1), DC_EINVAL);
    assert_int_equal(step(a, id, "reopen", NULL, -1), DC_EINVAL);
    assert_int_equal(step(a, id, "escalate", NULL, -1), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(a), "not one of transfer"));
    assert_int_equal(step(a, id, "transfer", NULL, -1), DC_EINVAL);
    assert_int_equal(step(a, id, "feedback", "branch-1", -1), DC_EINVAL);
    assert_int_equal(step(a, id, "resolve", NULL, 1), DC_EINVAL);
    char *after = show(a, id);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(dc_case_show(&(dc_buf)DC_BUF_INIT, a, "gr-000000000000", g_cal), DC_ENOTFOUND);
    assert_int_equal(step(a, "gr-000000000000", "resolve", NULL, -1), DC_ENOTFOUND);
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    dc_test_ok(a, step(a, id, "close", NULL, -1));
    assert_int_equal(step(a, id, "feedback", NULL, -1), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(a), "is closed"));
    dc_test_ok(a, step(a, id, "reopen", NULL, -1));
    assert_string_equal(status_of(a, id), "in_progress");

    /* Filing checks its input before writing anything. */
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.channel = "fax";
    o.category = "x";
    o.text = "y";
    assert_int_equal(dc_case_file(NULL, a, sp, &o, g_cal), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(a), "channel 'fax'"));
    o.channel = "app";
    o.text = "";
    assert_int_equal(dc_case_file(NULL, a, sp, &o, g_cal), DC_EINVAL);
    o.text = "y";
    o.caller_id_number = "520101198001010017";
    assert_int_equal(dc_case_file(NULL, a, sp, &o, g_cal), DC_EINVAL); /* no registry */
    free(sp);
    dc_replica_close(a);
}

/* A hotline caller not in the registry: the case keeps the id and links to
 * the driver record once the registry has it; an identity number given on
 * the phone is hashed, never stored. */
static void test_case_unregistered_caller(void **state) {
    (void)state;
    g_d.now = at("2026-06-01T10:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "caller.db");
    char *desk = shared_space(a, NULL, "desk");
    char *reg = shared_space(a, NULL, "registry");
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.caller_id_number = "52010119800101005x";
    o.registry = reg;
    o.channel = "12345";
    o.category = "road_passage";
    o.text = "限行";
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(a, dc_case_file(&b, a, desk, &o, g_cal));
    char id[16];
    snprintf(id, sizeof id, "%.15s", strstr((const char *)b.ptr, "gr-"));
    field_want drv = summary_field(a, id, "driver");
    assert_int_equal(drv.v.kind, DC_STR);
    assert_int_equal(strlen(drv.str), 24);
    assert_memory_equal(drv.str, "drv-", 4);
    assert_contains((const char *)b.ptr, "\"driver_known\":false");
    dc_buf d = DC_BUF_INIT;
    dc_test_ok(a, dc_replica_dump(&d, a, NULL));
    assert_null(strstr((const char *)d.ptr, "52010119800101005"));
    assert_non_null(strstr((const char *)d.ptr, "\"caller_id_hash\":\""));
    /* The same number, spaced and upper-cased, is the same caller. */
    o.caller_id_number = " 520101 19800101005X";
    dc_test_ok(a, dc_case_file(&b, a, desk, &o, g_cal));
    assert_contains((const char *)b.ptr, drv.str);

    /* A mistyped number is refused by the registry's check, nothing filed. */
    o.caller_id_number = "520101198001010051";
    assert_int_not_equal(dc_case_file(NULL, a, desk, &o, g_cal), 0);
    assert_non_null(strstr(dc_replica_errmsg(a), "check digit"));

    /* The registry learns of him: the link appears. */
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, reg));
    dc_test_ok(a, dc_txn_set(t, "driver", drv.str, "name", DC_STR, 0, "黄师傅"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    char *s = show(a, id);
    assert_contains(s, "\"driver_known\":true");
    free(s);
    dc_buf_dispose(&b);
    dc_buf_dispose(&d);
    free(desk);
    free(reg);
    dc_replica_close(a);
}

/* Two handlers offline, each with a replica of the case space, exchange
 * bundles afterwards: both must show the same case, decided by the fold. */
static void test_case_concurrent(void **state) {
    (void)state;
    g_d.now = at("2026-07-01T09:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "con-a.db"), *b = dc_test_open(&g_d, "con-b.db");
    char *sp = shared_space(a, b, "case gr");
    char *id = file_case(a, sp, 0);
    dc_test_sync_accept(a, b);

    /* Two transfers cross: both kept, the later one (B, by clock) wins. */
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "transfer", "branch-52010001", -1));
    g_d.now += 1000;
    dc_test_ok(b, step(b, id, "transfer", "committee-520100", -1));
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    char *sa = show(a, id), *sb = show(b, id);
    assert_string_equal(sa, sb);
    assert_contains(sa, "\"at\":\"committee-520100\"");
    field_want tr = summary_field(a, id, "transfers");
    assert_string_equal(tr.str, "branch-52010001 committee-520100");
    free(sa);
    free(sb);

    /* Both see a resolution. */
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    dc_test_sync_accept(a, b);
    /* A reopens (the driver called back) while B, offline, closes: the
     * close is later by clock but lands on a reopened case, so it stays
     * in the history unapplied; the case is in progress on both. */
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "reopen", NULL, -1));
    g_d.now += 1000;
    dc_test_ok(b, step(b, id, "close", NULL, -1));
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    sa = show(a, id);
    sb = show(b, id);
    assert_string_equal(sa, sb);
    assert_contains(sa, "\"status\":\"in_progress\"");
    assert_contains(sa, "{\"action\":\"close\",\"to\":null,\"note\":null,\"satisfied\":null,"
                        "\"author\":\"");
    assert_contains(sa, "\"applied\":false}]");
    free(sa);
    free(sb);

    /* Two resolutions cross: the first by clock counts, the second is
     * history.  Then an unsatisfied revisit (A) crosses a close (B, later):
     * the close lands on a reopened case and is not applied. */
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    g_d.now += 1000;
    dc_test_ok(b, step(b, id, "resolve", NULL, -1));
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    assert_string_equal(status_of(a, id), "resolved");
    int64_t res = ms_of(a, id, "resolved_ms");
    assert_true(res == ms_of(b, id, "resolved_ms"));
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "revisit", NULL, 0));
    g_d.now += 1000;
    dc_test_ok(b, step(b, id, "close", NULL, -1));
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    assert_string_equal(status_of(a, id), "in_progress");
    assert_string_equal(status_of(b, id), "in_progress");

    /* The same crossing with the clocks the other way: B closes first, A's
     * unsatisfied revisit comes later and still reopens. */
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    dc_test_sync_accept(a, b);
    g_d.now += HOUR;
    dc_test_ok(b, step(b, id, "close", NULL, -1));
    g_d.now += 1000;
    dc_test_ok(a, step(a, id, "revisit", NULL, 0));
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    sa = show(a, id);
    sb = show(b, id);
    assert_string_equal(sa, sb);
    assert_contains(sa, "\"status\":\"in_progress\"");
    free(sa);
    free(sb);

    /* Resolve (B, later) vs reopen (A, earlier) on a resolved case that B
     * had not seen resolved: the later step wins, so B's resolution holds. */
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "reopen", NULL, -1)); /* A: resolve, then reopen */
    g_d.now += 1000;
    dc_test_ok(b, step(b, id, "resolve", NULL, -1)); /* B saw neither: still open there */
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    sa = show(a, id);
    sb = show(b, id);
    assert_string_equal(sa, sb);
    assert_contains(sa, "\"status\":\"resolved\"");
    free(sa);
    free(sb);
    free(sp);
    dc_replica_close(a);
    dc_replica_close(b);
}

static int setup(void **state) {
    (void)state;
    if (dc_test_dir_make(&g_d, "model-grievance"))
        return -1;
    if (dc_calendar_load_file(&g_cal, g_tsv_path) != 0) {
        fprintf(stderr, "%s\n", dc_error_last());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dc_calendar_free(g_cal);
    return dc_test_dir_remove(&g_d);
}

/* ---- issue 14: the calendar's years, emergencies, amounts, routing, the
 * desks' daily view ---- */

static void test_calendar_coverage(void **state) {
    (void)state;
    int first = 0, last = 0;
    dc_test_ok(NULL, dc_calendar_years(g_cal, &first, &last));
    assert_int_equal(first, 2026);
    assert_int_equal(last, 2026);
    /* Inside 2026: known, not estimated; the same as the old call. */
    int64_t due = 0;
    int est = -1;
    dc_test_ok(NULL, dc_calendar_due(&due, &est, g_cal, at("2026-09-30T10:00:00+08:00"), 2));
    assert_int_equal(est, 0);
    assert_string_equal(cst(due), "2026-10-10T00:00:00+08:00");
    assert_true(due == dc_calendar_end_of_workdays(g_cal, at("2026-09-30T10:00:00+08:00"), 2));
    /* Into 2027, which the calendar does not hold: an estimate, said so. */
    dc_test_ok(NULL, dc_calendar_due(&due, &est, g_cal, at("2026-12-30T10:00:00+08:00"), 5));
    assert_int_equal(est, 1);
    assert_string_equal(cst(due), "2027-01-07T00:00:00+08:00");
    /* Before 2026 too; with no calendar (plain weekdays by choice) never. */
    dc_test_ok(NULL, dc_calendar_due(&due, &est, g_cal, at("2025-12-29T10:00:00+08:00"), 1));
    assert_int_equal(est, 1);
    dc_test_ok(NULL, dc_calendar_due(&due, &est, NULL, at("2026-12-30T10:00:00+08:00"), 5));
    assert_int_equal(est, 0);
    assert_int_equal(dc_calendar_due(&due, &est, g_cal, 0, 0), DC_EINVAL);
    assert_int_equal(dc_calendar_due(NULL, &est, g_cal, 0, 1), DC_EMISUSE);
    dc_calendar *empty = NULL;
    dc_test_ok(NULL, dc_calendar_parse(&empty, (const uint8_t *)"# nothing\n", 10));
    assert_int_equal(dc_calendar_years(empty, &first, &last), DC_ENOTFOUND);
    dc_calendar_free(empty);

    /* A case received on 30 December: its feedback and reply deadlines run
     * into 2027 and case show says they are estimates. */
    g_d.now = at("2026-12-30T10:00:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "cal-est.db");
    char *sp = shared_space(a, NULL, "desk");
    char *id = file_case(a, sp, 0);
    char *s = show(a, id);
    assert_contains(s, "\"warnings\":[\"the feedback deadline (2027-01-02T00:00:00+08:00)");
    assert_contains(s, "the reply deadline (2027-01-07T00:00:00+08:00)");
    assert_contains(s, "until the 2027 schedule is published");
    free(s);
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(a, dc_case_summary(&b, a, NULL, id, g_cal));
    assert_contains((const char *)b.ptr, "\"estimated\":\"feedback reply\"");
    /* Statistics count the estimated deadlines they used. */
    dc_test_ok(a, dc_stats_at(&b, a, NULL, g_cal, at("2027-02-01T00:00:00+08:00")));
    assert_contains((const char *)b.ptr, "\"calendar\":{\"years\":[2026,2026],\"estimated\":2}");
    /* A case well inside the year has none. */
    g_d.now = at("2026-12-31T10:00:00+08:00");
    dc_buf_dispose(&b);
    free(sp);
    dc_replica_close(a);
}

static void test_emergency_at_once(void **state) {
    (void)state;
    g_d.now = at("2026-07-14T02:10:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "em.db");
    char *sp = shared_space(a, NULL, "desk");
    /* Filed and routed in one transaction: transferred at the instant of
     * receipt, so "at once" is met. */
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.driver = "drv-0000000000000000abcd";
    o.channel = "12328";
    o.category = "help";
    o.text = "暴雨被困，请求救援";
    o.emergency = 1;
    o.region = "520112";
    o.route = 1;
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(a, dc_case_file(&b, a, sp, &o, g_cal));
    char id[32];
    const char *p = strstr((const char *)b.ptr, "\"case\":\"");
    snprintf(id, sizeof id, "%.15s", p + 8);
    char *s = show(a, id);
    assert_contains(s, "\"routed\":\"joint_meeting\"");
    assert_contains(s, "\"at\":\"joint_meeting-520112\"");
    assert_contains(s, "\"due\":{\"transfer\":\"2026-07-14T02:10:00+08:00\",\"feedback\":"
                       "\"2026-07-14T02:10:00+08:00\",\"reply\":\"2026-07-14T02:10:00+08:00\","
                       "\"revisit\":null}");
    assert_contains(s, "\"on_time\":{\"transfer\":true,\"feedback\":null");
    free(s);
    /* Handled ten minutes later: late, as the rule means; resolved, the
     * return visit is due at the resolution. */
    g_d.now += 10 * 60000;
    dc_test_ok(a, step(a, id, "feedback", NULL, -1));
    g_d.now += HOUR;
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    int64_t resolved = g_d.now;
    s = show(a, id);
    assert_contains(s, "\"feedback\":false");
    free(s);
    assert_true(ms_of(a, id, "due_revisit_ms") == resolved);
    dc_buf_dispose(&b);
    free(sp);
    dc_replica_close(a);
}

static void test_amount_and_routing(void **state) {
    (void)state;
    g_d.now = at("2026-09-23T14:20:00+08:00");
    dc_replica *a = dc_test_open(&g_d, "route.db");
    char *sp = shared_space(a, NULL, "desk");
    /* The directory names only the city's committee for a small zone. */
    dc_org_options org = DC_ORG_OPTIONS_INIT;
    org.kind = "committee";
    org.code = "520400";
    org.name = "安顺市道路货运行业党委";
    org.level = "city";
    dc_test_ok(a, dc_org_put(NULL, a, sp, &org));
    struct {
        const char *category;
        int64_t amount;
        int emergency;
        const char *level, *to;
    } cases[] = {
        {"freight_arrears", 4200, 0, "committee", "committee-520112"}, /* no branch known */
        {"freight_arrears", 20000, 0, "committee", "committee-520112"},
        {"freight_arrears", 80000, 0, "joint_meeting", "joint_meeting-520112"},
        {"contract", 0, 0, "committee", "committee-520112"},
        {"enforcement", 0, 0, "joint_meeting", "joint_meeting-520112"},
        {"road_passage", 100, 0, "joint_meeting", "joint_meeting-520112"},
        {"insurance", 0, 0, "committee", "committee-520112"},
        {"consultation", 0, 0, "committee", "committee-520112"},
        {"services", 0, 1, "joint_meeting", "joint_meeting-520112"},
        {"something_new", 0, 0, "committee", "committee-520112"},
    };
    dc_buf b = DC_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dc_case_options o = DC_CASE_OPTIONS_INIT;
        o.category = cases[i].category;
        o.amount = cases[i].amount;
        o.emergency = cases[i].emergency;
        o.region = "520112";
        dc_test_ok(a, dc_case_route(&b, a, &o));
        char want[200];
        snprintf(want, sizeof want, "{\"level\":\"%s\",\"to\":\"%s\",\"rule\":", cases[i].level,
                 cases[i].to);
        if (strncmp((const char *)b.ptr, want, strlen(want)) != 0)
            fail_msg("%s %lld: %s", cases[i].category, (long long)cases[i].amount,
                     (const char *)b.ptr);
    }
    /* A driver with a branch: the branch's matters go to his branch. */
    char reg[33];
    dc_buf rs = DC_BUF_INIT;
    dc_test_ok(a, dc_space_create(&rs, a, "registry"));
    memcpy(reg, rs.ptr, 33);
    dc_buf_dispose(&rs);
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, reg));
    dc_test_ok(a, dc_txn_set(t, "driver", "drv-00000000000000000001", "branch", DC_STR, 0,
                             "branch-520471-01"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.driver = "drv-00000000000000000001";
    o.channel = "group";
    o.category = "freight_arrears";
    o.text = "运费要不到，咋办？";
    o.region = "520471";
    o.amount = 4200;
    dc_test_ok(a, dc_case_route(&b, a, &o));
    assert_contains((const char *)b.ptr, "\"level\":\"branch\",\"to\":\"branch-520471-01\"");
    o.category = "enforcement"; /* his branch does not take what needs the police */
    dc_test_ok(a, dc_case_route(&b, a, &o));
    assert_contains((const char *)b.ptr, "\"level\":\"joint_meeting\"");
    o.category = "freight_arrears";
    /* Without a region: the level, no organisation; refused with --route. */
    o.region = NULL;
    dc_test_ok(a, dc_case_route(&b, a, &o));
    assert_contains((const char *)b.ptr, "\"level\":\"branch\"");
    o.driver = NULL;
    dc_test_ok(a, dc_case_route(&b, a, &o));
    assert_contains((const char *)b.ptr, "\"level\":\"committee\",\"to\":null");
    o.route = 1;
    assert_int_equal(dc_case_file(&b, a, sp, &o, g_cal), DC_EINVAL);
    /* A small zone whose committee is its city's: the directory held names
     * only the city's, so the case goes there. */
    o.driver = NULL;
    o.region = "520471";
    o.category = "insurance";
    dc_test_ok(a, dc_case_route(&b, a, &o));
    assert_contains((const char *)b.ptr, "\"to\":\"committee-520400\"");

    /* Amounts: at filing, corrected later, summed by stats. */
    o.driver = "drv-00000000000000000001";
    o.category = "freight_arrears";
    o.region = "520471";
    o.route = 1;
    o.amount = 4200;
    dc_test_ok(a, dc_case_file(&b, a, sp, &o, g_cal));
    assert_contains((const char *)b.ptr, "\"amount\":4200,\"routed\":\"branch\"");
    assert_contains((const char *)b.ptr, "\"on_time\":{\"transfer\":true");
    char id[32];
    snprintf(id, sizeof id, "%.15s", strstr((const char *)b.ptr, "\"case\":\"") + 8);
    o.route = 0;
    o.amount = 1500;
    o.category = "contract";
    dc_test_ok(a, dc_case_file(&b, a, sp, &o, g_cal));
    o.amount = -1;
    assert_int_equal(dc_case_file(&b, a, sp, &o, g_cal), DC_EINVAL);
    /* Options of version 1 still work (no amount read). */
    dc_case_options v1 = o;
    v1.version = 1;
    v1.amount = -5; /* past the end of a version-1 struct: never read */
    dc_test_ok(a, dc_case_file(&b, a, sp, &v1, g_cal));
    assert_contains((const char *)b.ptr, "\"amount\":null");
    g_d.now += 20 * HOUR;
    dc_test_ok(a, step(a, id, "resolve", NULL, -1));
    dc_test_ok(a, dc_case_amount(&b, a, id, 4000, g_cal));
    assert_contains((const char *)b.ptr, "\"amount\":4000");
    assert_int_equal(dc_case_amount(&b, a, id, -1, g_cal), DC_EINVAL);
    dc_test_ok(a, dc_stats_at(&b, a, NULL, g_cal, g_d.now));
    assert_contains((const char *)b.ptr, "\"amount_yuan\":5500,\"recovered_yuan\":4000}");
    assert_contains((const char *)b.ptr, "\"by_level\":{\"branch\":{\"collected\":1");
    dc_test_ok(a, dc_case_amount(NULL, a, id, 0, g_cal));
    dc_test_ok(a, dc_case_summary(&b, a, NULL, id, g_cal));
    assert_contains((const char *)b.ptr, "\"amount\":null");
    dc_buf_dispose(&b);
    free(sp);
    dc_replica_close(a);
}

static json_t *list_of(dc_replica *r, const dc_case_list_options *o) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_case_list(&b, r, o, g_cal));
    json_t *j = json_loads((const char *)b.ptr, 0, NULL);
    if (!j)
        fail_msg("not JSON: %s", (const char *)b.ptr);
    dc_buf_dispose(&b);
    return j;
}

static const char *case_at(json_t *l, size_t i) {
    return json_string_value(
        json_object_get(json_array_get(json_object_get(l, "cases"), i), "case"));
}

static void test_case_list(void **state) {
    (void)state;
    g_d.now = at("2026-03-02T09:00:00+08:00"); /* Monday */
    dc_replica *a = dc_test_open(&g_d, "list.db");
    char *sp = shared_space(a, NULL, "desk"), *sp2 = shared_space(a, NULL, "desk 2");
    char c1[32], c2[32], c3[32], c4[32], c5[32];
    snprintf(c1, sizeof c1, "%s", file_case(a, sp, 0)); /* Mon 09:00 */
    g_d.now += HOUR;
    snprintf(c2, sizeof c2, "%s", file_case(a, sp, 0)); /* Mon 10:00 */
    dc_test_ok(a, step(a, c2, "transfer", "committee-520112", -1));
    g_d.now += HOUR;
    snprintf(c3, sizeof c3, "%s", file_case(a, sp2, 0)); /* Mon 11:00, other desk */
    dc_test_ok(a, step(a, c3, "transfer", "joint_meeting-520112", -1));
    dc_test_ok(a, step(a, c3, "resolve", NULL, -1));
    g_d.now += HOUR;
    snprintf(c4, sizeof c4, "%s", file_case(a, sp, 0)); /* Mon 12:00 */
    dc_test_ok(a, step(a, c4, "transfer", "branch-520112-01", -1));
    dc_test_ok(a, step(a, c4, "resolve", NULL, -1));
    dc_test_ok(a, step(a, c4, "revisit", NULL, 1));
    g_d.now += HOUR;
    snprintf(c5, sizeof c5, "%s", file_case(a, sp, 1)); /* Mon 13:00, an emergency */

    /* Tuesday 09:00: everything, by the next deadline. */
    g_d.now = at("2026-03-03T09:00:00+08:00");
    dc_case_list_options o = DC_CASE_LIST_OPTIONS_INIT;
    o.now_ms = g_d.now;
    json_t *l = list_of(a, &o);
    assert_int_equal(json_integer_value(json_object_get(l, "count")), 5);
    /* c1: transfer due Mon 11:00 (overdue); c5: at once, Mon 13:00
     * (overdue); c2 (its feedback) and c3 (resolved: its return visit) both
     * by the end of Wednesday, so by case id; c4 revisited: nothing
     * pending, last. */
    assert_string_equal(case_at(l, 0), c1);
    assert_string_equal(case_at(l, 1), c5);
    bool c2_first = strcmp(c2, c3) < 0;
    assert_string_equal(case_at(l, 2), c2_first ? c2 : c3);
    assert_string_equal(case_at(l, 3), c2_first ? c3 : c2);
    assert_string_equal(case_at(l, 4), c4);
    json_t *first = json_array_get(json_object_get(l, "cases"), 0);
    json_t *next = json_object_get(first, "next");
    assert_string_equal(json_string_value(json_object_get(next, "deadline")), "transfer");
    assert_true(json_is_true(json_object_get(next, "overdue")));
    assert_int_equal(json_array_size(json_object_get(first, "overdue")), 1);
    assert_true(
        json_is_null(json_object_get(json_array_get(json_object_get(l, "cases"), 4), "next")));
    json_decref(l);
    /* Filters. */
    o.overdue = 1;
    l = list_of(a, &o);
    assert_int_equal(json_integer_value(json_object_get(l, "count")), 2);
    json_decref(l);
    o.overdue = 0;
    const char *open[] = {"open"};
    o.statuses = open;
    o.nstatuses = 1;
    l = list_of(a, &o);
    assert_int_equal(json_integer_value(json_object_get(l, "count")), 3);
    json_decref(l);
    const char *lv[] = {"joint_meeting", "none"};
    o.statuses = NULL;
    o.nstatuses = 0;
    o.levels = lv;
    o.nlevels = 2;
    l = list_of(a, &o);
    assert_int_equal(json_integer_value(json_object_get(l, "count")), 3); /* c1, c5, c3 */
    json_decref(l);
    o.levels = NULL;
    o.nlevels = 0;
    o.due_before_ms = at("2026-03-04T00:00:00+08:00");
    l = list_of(a, &o);
    assert_int_equal(json_integer_value(json_object_get(l, "count")), 2); /* c1, c5 */
    json_decref(l);
    o.due_before_ms = 0;
    o.space = sp2;
    l = list_of(a, &o);
    assert_int_equal(json_integer_value(json_object_get(l, "count")), 1);
    assert_string_equal(case_at(l, 0), c3);
    json_decref(l);
    /* Refusals. */
    const char *bad[] = {"pending"};
    o.space = NULL;
    o.statuses = bad;
    o.nstatuses = 1;
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_case_list(&b, a, &o, g_cal), DC_EINVAL);
    assert_contains(dc_replica_errmsg(a), "not one of open");
    o.statuses = NULL;
    o.nstatuses = 0;
    o.space = "00000000000000000000000000000000";
    assert_true(dc_case_list(&b, a, &o, g_cal) != 0);
    assert_int_equal(dc_case_list(NULL, a, NULL, g_cal), DC_EMISUSE);
    dc_test_ok(a, dc_case_list(&b, a, NULL, g_cal)); /* no options: everything */
    dc_buf_dispose(&b);
    free(sp);
    free(sp2);
    dc_replica_close(a);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/cn-holidays-2026.tsv\n", argv[0]);
        return 2;
    }
    g_tsv_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_typed),
        cmocka_unit_test(test_calendar_2026_days),
        cmocka_unit_test(test_end_of_workdays),
        cmocka_unit_test(test_time_text),
        cmocka_unit_test(test_calendar_parse),
        cmocka_unit_test(test_calendar_in_space),
        cmocka_unit_test(test_case_deadlines),
        cmocka_unit_test(test_case_refusals),
        cmocka_unit_test(test_case_unregistered_caller),
        cmocka_unit_test(test_case_concurrent),
        cmocka_unit_test(test_calendar_coverage),
        cmocka_unit_test(test_emergency_at_once),
        cmocka_unit_test(test_amount_and_routing),
        cmocka_unit_test(test_case_list),
    };
    return cmocka_run_group_tests_name("model-grievance", tests, setup, teardown);
}
