/*
 * Unit tests of the typed read API (include/drivercore/record.h, "typed
 * reads"): a record's registers, sets and events read back with their
 * kinds; the record as a snapshot that outlives its replica; the errors a
 * caller meets; queries filtered, sorted and paged; the order of values;
 * and the typed view agreeing with the JSON view on the same state.
 */
#include <math.h>
#include <sqlite3.h>
#include <sodium.h>

#include "../common/replica_fixture.h"

static dc_test_dir g_d;

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "unit-reading");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

static dc_value v_int(int64_t n) {
    dc_value v = {DC_INT, n, 0, NULL, 0};
    return v;
}
static dc_value v_str(const char *s) {
    dc_value v = {DC_STR, 0, 0, s, strlen(s)};
    return v;
}
static dc_value v_real(double d) {
    dc_value v = {DC_FLOAT, 0, d, NULL, 0};
    return v;
}

static void write_sample(dc_replica *r, const char *sp) {
    static const uint8_t raw[4] = {0, 0xff, 7, 0};
    dc_value pic = {DC_BYTES, 0, 0, raw, sizeof raw}, lat = v_real(26.5783);
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "王师傅"));
    dc_test_ok(r, dc_txn_set(t, "driver", "d1", "age", DC_INT, 47, NULL));
    dc_test_ok(r, dc_txn_set(t, "driver", "d1", "member", DC_BOOL, 1, NULL));
    dc_test_ok(r, dc_txn_set(t, "driver", "d1", "note", DC_NULL, 0, NULL));
    dc_test_ok(r, dc_txn_set_value(t, "driver", "d1", "lat", &lat));
    dc_test_ok(r, dc_txn_set_value(t, "driver", "d1", "photo", &pic));
    dc_test_ok(r, dc_txn_add(t, "driver", "d1", "tags", DC_STR, 0, "hazmat"));
    dc_test_ok(r, dc_txn_add(t, "driver", "d1", "tags", DC_INT, 3, NULL));
    dc_test_ok(r, dc_txn_add(t, "driver", "d1", "tags", DC_STR, 0, "cold-chain"));
    dc_test_ok(r, dc_txn_add(t, "driver", "d1", "tags", DC_STR, 0, "hazmat")); /* again */
    dc_test_ok(r, dc_txn_event(t, "driver", "d1"));
    dc_test_ok(r, dc_txn_event_field(t, "what", DC_STR, 0, "checkin"));
    dc_test_ok(r, dc_txn_event_field(t, "home", DC_STR, 0, "Jinan-3"));
    dc_test_ok(r, dc_txn_event_field_value(t, "sig", &pic));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    g_d.now += 60000;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_event(t, "driver", "d1"));
    dc_test_ok(r, dc_txn_event_field(t, "what", DC_STR, 0, "study"));
    dc_test_ok(r, dc_txn_event_field(t, "minutes", DC_INT, 25, NULL));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

static void test_one_record(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "one.db");
    char *sp = dc_test_shared_space(r, NULL, 0);
    int64_t t0 = g_d.now;
    write_sample(r, sp);
    dc_record *rec = NULL;
    dc_test_ok(r, dc_record_read(&rec, r, sp, "driver", "d1"));
    assert_string_equal(dc_record_type(rec), "driver");
    assert_string_equal(dc_record_id(rec), "d1");
    /* Fields in name order, sets among them. */
    static const char *const names[] = {"age", "lat", "member", "name", "note", "photo", "tags"};
    assert_int_equal(dc_record_field_count(rec), 7);
    for (size_t i = 0; i < 7; i++) {
        const char *n;
        int set;
        assert_int_equal(dc_record_field_at(rec, i, &n, &set), 0);
        assert_string_equal(n, names[i]);
        assert_int_equal(set, i == 6);
    }
    assert_int_equal(dc_record_field_at(rec, 7, NULL, NULL), DC_EINVAL);
    /* Registers, typed. */
    int64_t age = 0;
    assert_int_equal(dc_record_get_int(rec, "age", &age), 0);
    assert_int_equal(age, 47);
    assert_string_equal(dc_record_get_str(rec, "name"), "王师傅");
    dc_value v;
    assert_int_equal(dc_record_get_value(rec, "member", &v), 0);
    assert_true(v.kind == DC_BOOL && v.num == 1);
    assert_int_equal(dc_record_get_value(rec, "note", &v), 0);
    assert_int_equal(v.kind, DC_NULL);
    assert_int_equal(dc_record_get_value(rec, "lat", &v), 0);
    assert_true(v.kind == DC_FLOAT && v.real == 26.5783);
    assert_int_equal(dc_record_get_value(rec, "photo", &v), 0);
    assert_true(v.kind == DC_BYTES && v.len == 4);
    assert_memory_equal(v.ptr, "\0\xff\x07\0", 4);
    /* The wrong kind, a set, a missing field. */
    assert_null(dc_record_get_str(rec, "age"));
    assert_int_equal(dc_record_get_int(rec, "name", &age), DC_EINVAL);
    assert_int_equal(dc_record_get_value(rec, "tags", &v), DC_EINVAL);
    assert_non_null(strstr(dc_error_last(), "is a set"));
    assert_int_equal(dc_record_get_value(rec, "phone", &v), DC_ENOTFOUND);
    /* The set: distinct members in value order (numbers before strings). */
    assert_int_equal(dc_record_set_size(rec, "tags"), 3);
    assert_int_equal(dc_record_set_at(rec, "tags", 0, &v), 0);
    assert_true(v.kind == DC_INT && v.num == 3);
    assert_int_equal(dc_record_set_at(rec, "tags", 1, &v), 0);
    assert_string_equal(v.ptr, "cold-chain");
    assert_int_equal(dc_record_set_at(rec, "tags", 2, &v), 0);
    assert_string_equal(v.ptr, "hazmat");
    assert_int_equal(dc_record_set_at(rec, "tags", 3, &v), DC_EINVAL);
    assert_int_equal(dc_record_set_at(rec, "name", 0, &v), DC_ENOTFOUND);
    dc_value hz = v_str("hazmat"), three = v_int(3), threef = v_real(3.0);
    assert_int_equal(dc_record_set_contains(rec, "tags", &hz), 1);
    assert_int_equal(dc_record_set_contains(rec, "tags", &three), 1);
    assert_int_equal(dc_record_set_contains(rec, "tags", &threef), 0); /* another kind */
    assert_int_equal(dc_record_set_size(rec, "name"), 0);
    /* Events in order, with their time, author and fields (keys sorted). */
    assert_int_equal(dc_record_event_count(rec), 2);
    dc_event_info e;
    assert_int_equal(dc_record_event_at(rec, 0, &e), 0);
    assert_true(e.time_ms == t0);
    assert_int_equal(e.nfields, 3);
    const char *k;
    assert_int_equal(dc_record_event_field_at(rec, 0, 0, &k, &v), 0);
    assert_string_equal(k, "home");
    assert_string_equal(v.ptr, "Jinan-3");
    /* Bytes in an event stay whole after the rows that follow it are read. */
    assert_int_equal(dc_record_event_field_at(rec, 0, 1, &k, &v), 0);
    assert_string_equal(k, "sig");
    assert_true(v.kind == DC_BYTES && v.len == 4);
    assert_memory_equal(v.ptr, "\0\xff\x07\0", 4);
    assert_int_equal(dc_record_event_field_at(rec, 0, 3, &k, &v), DC_EINVAL);
    assert_int_equal(dc_record_event_at(rec, 1, &e), 0);
    assert_true(e.time_ms == t0 + 60000);
    assert_int_equal(dc_record_event_get(rec, 1, "minutes", &v), 0);
    assert_true(v.kind == DC_INT && v.num == 25);
    assert_int_equal(dc_record_event_get(rec, 1, "home", &v), DC_ENOTFOUND);
    assert_int_equal(dc_record_event_at(rec, 2, &e), DC_EINVAL);
    /* The author is the device that wrote it, as the JSON view says. */
    dc_buf json = DC_BUF_INIT;
    dc_test_ok(r, dc_record_get(&json, r, sp, "driver", "d1"));
    char want[80];
    snprintf(want, sizeof want, "\"@author\":\"%s\"", e.author_hex);
    assert_non_null(strstr((const char *)json.ptr, want));
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", e.author[i]);
    assert_string_equal(hex, e.author_hex);
    dc_buf_dispose(&json);
    /* A snapshot: it outlives the replica that gave it. */
    dc_replica_close(r);
    assert_string_equal(dc_record_get_str(rec, "name"), "王师傅");
    assert_int_equal(dc_record_event_get(rec, 0, "what", &v), 0);
    assert_string_equal(v.ptr, "checkin");
    dc_record_free(rec);
    dc_record_free(NULL);
    free(sp);
}

static void test_absent_and_errors(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "absent.db");
    char *sp = dc_test_shared_space(r, NULL, 0);
    write_sample(r, sp);
    dc_record *rec = (dc_record *)1;
    assert_int_equal(dc_record_read(&rec, r, sp, "driver", "d2"), DC_ENOTFOUND);
    assert_null(rec);
    assert_non_null(strstr(dc_replica_errmsg(r), "d2"));
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_delete(t, "driver", "d1"));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    assert_int_equal(dc_record_read(&rec, r, sp, "driver", "d1"), DC_ENOTFOUND);
    assert_int_equal(dc_record_read(&rec, r, "00112233445566778899aabbccddeeff", "driver", "d1"),
                     DC_ENOTFOUND);
    assert_int_equal(dc_record_read(&rec, r, "not a space", "driver", "d1"), DC_EINVAL);
    assert_int_equal(dc_record_read(NULL, r, sp, "driver", "d1"), DC_EMISUSE);
    assert_int_equal(dc_record_read(&rec, NULL, sp, "driver", "d1"), DC_EMISUSE);
    dc_records *rs = NULL;
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION + 1, NULL, NULL, NULL, 0, 0, 0, 1, NULL, 0};
    assert_int_equal(dc_record_query(&rs, r, sp, "driver", &o), DC_EINVAL);
    o.version = DC_QUERY_OPTIONS_VERSION;
    o.where_field = "name";
    assert_int_equal(dc_record_query(&rs, r, sp, "driver", &o), DC_EMISUSE);
    dc_value nan = v_real(NAN);
    o.where_value = &nan;
    assert_int_equal(dc_record_query(&rs, r, sp, "driver", &o), DC_EINVAL);
    assert_null(rs);
    /* Accessors on NULL say so rather than crash. */
    assert_null(dc_record_id(NULL));
    assert_int_equal(dc_record_field_count(NULL), 0);
    assert_int_equal(dc_record_event_at(NULL, 0, NULL), DC_EMISUSE);
    assert_null(dc_records_at(NULL, 0));
    dc_replica_close(r);
    free(sp);
}

/* 40 trucks: n = i % 7 (absent on every 10th), in set "route" A or B. */
static void write_trucks(dc_replica *r, const char *sp) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%02d", i);
        if (i % 10)
            dc_test_ok(r, dc_txn_set(t, "truck", id, "n", DC_INT, i % 7, NULL));
        dc_test_ok(r, dc_txn_set(t, "truck", id, "plate", DC_STR, 0, id));
        dc_test_ok(r, dc_txn_add(t, "truck", id, "route", DC_STR, 0, i % 2 ? "A" : "B"));
        dc_test_ok(r, dc_txn_event(t, "truck", id));
        dc_test_ok(r, dc_txn_event_field(t, "k", DC_INT, i, NULL));
    }
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

static void test_queries(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "query.db");
    char *sp = dc_test_shared_space(r, NULL, 0);
    write_trucks(r, sp);
    /* Everything, in id order, with events. */
    dc_records *rs;
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", NULL));
    assert_int_equal(dc_records_count(rs), 40);
    assert_int_equal(dc_records_total(rs), 40);
    for (size_t i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "t%02zu", i);
        assert_string_equal(dc_record_id(dc_records_at(rs, i)), id);
        assert_int_equal(dc_record_event_count(dc_records_at(rs, i)), 1);
    }
    assert_null(dc_records_at(rs, 40));
    dc_records_free(rs);
    /* A page in id order, fields only. */
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 5, 10, 0, NULL, 0};
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    assert_int_equal(dc_records_count(rs), 10);
    assert_int_equal(dc_records_total(rs), 40);
    assert_string_equal(dc_record_id(dc_records_at(rs, 0)), "t05");
    assert_string_equal(dc_record_id(dc_records_at(rs, 9)), "t14");
    assert_int_equal(dc_record_event_count(dc_records_at(rs, 0)), 0);
    dc_records_free(rs);
    /* Filtered on a set member and on a register. */
    dc_value a = v_str("A"), four = v_int(4);
    o = (dc_query_options){DC_QUERY_OPTIONS_VERSION, "route", &a, NULL, 0, 0, 0, 0, NULL, 0};
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    assert_int_equal(dc_records_count(rs), 20);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(dc_record_set_contains(dc_records_at(rs, i), "route", &a), 1);
    dc_records_free(rs);
    o.where_field = "n";
    o.where_value = &four;
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    /* i % 7 == 4 and i % 10 != 0: 4, 11, 18, 25, 32, 39. */
    assert_int_equal(dc_records_count(rs), 6);
    assert_string_equal(dc_record_id(dc_records_at(rs, 5)), "t39");
    dc_records_free(rs);
    /* Sorted by n descending, ties by id, records without n last; paged. */
    o = (dc_query_options){DC_QUERY_OPTIONS_VERSION, NULL, NULL, "n", 1, 0, 0, 0, NULL, 0};
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    assert_int_equal(dc_records_count(rs), 40);
    int64_t prev = INT64_MAX;
    const char *prev_id = "";
    for (size_t i = 0; i < 36; i++) {
        const dc_record *x = dc_records_at(rs, i);
        int64_t n;
        assert_int_equal(dc_record_get_int(x, "n", &n), 0);
        assert_true(n <= prev);
        if (n == prev)
            assert_true(strcmp(prev_id, dc_record_id(x)) < 0);
        prev = n;
        prev_id = dc_record_id(x);
    }
    static const char *const last[] = {"t00", "t10", "t20", "t30"};
    for (size_t i = 36; i < 40; i++)
        assert_string_equal(dc_record_id(dc_records_at(rs, i)), last[i - 36]);
    dc_records_free(rs);
    o.descending = 0;
    o.offset = 34;
    o.limit = 4;
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    assert_int_equal(dc_records_count(rs), 4);
    assert_int_equal(dc_records_total(rs), 40);
    /* n == 6 holds t06, t13, t27, t34 (t20 has no n), then t00 and t10. */
    assert_string_equal(dc_record_id(dc_records_at(rs, 0)), "t27");
    assert_string_equal(dc_record_id(dc_records_at(rs, 1)), "t34");
    assert_string_equal(dc_record_id(dc_records_at(rs, 2)), "t00");
    assert_string_equal(dc_record_id(dc_records_at(rs, 3)), "t10");
    dc_records_free(rs);
    o.offset = 100;
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    assert_int_equal(dc_records_count(rs), 0);
    assert_int_equal(dc_records_total(rs), 40);
    dc_records_free(rs);
    /* An unknown type: nothing, not an error. */
    dc_test_ok(r, dc_record_query(&rs, r, sp, "trailer", NULL));
    assert_int_equal(dc_records_total(rs), 0);
    dc_records_free(rs);
    dc_replica_close(r);
    free(sp);
}

/* What two replicas merged reads the same, typed, on both. */
static void test_merged_state(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "merge-a.db"), *b = dc_test_open(&g_d, "merge-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "case", "c1", "status", DC_STR, 0, "filed"));
    dc_test_ok(a, dc_txn_add(t, "case", "c1", "evidence", DC_STR, 0, "waybill"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    g_d.now += 1000;
    dc_test_ok(b, dc_txn_begin(&t, b, sp));
    dc_test_ok(b, dc_txn_set(t, "case", "c1", "status", DC_STR, 0, "heard"));
    dc_test_ok(b, dc_txn_add(t, "case", "c1", "evidence", DC_STR, 0, "photo"));
    dc_test_ok(b, dc_txn_commit(t, NULL));
    dc_test_sync_into(a, b);
    dc_test_sync_into(b, a);
    dc_replica *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        dc_record *rec;
        dc_test_ok(both[i], dc_record_read(&rec, both[i], sp, "case", "c1"));
        assert_string_equal(dc_record_get_str(rec, "status"), "heard"); /* the later write */
        assert_int_equal(dc_record_set_size(rec, "evidence"), 2);
        dc_value v;
        assert_int_equal(dc_record_set_at(rec, "evidence", 0, &v), 0);
        assert_string_equal(v.ptr, "photo");
        dc_record_free(rec);
    }
    dc_replica_close(a);
    dc_replica_close(b);
    free(sp);
}

static void test_value_order(void **state) {
    (void)state;
    static const uint8_t b0[1] = {0}, b1[2] = {0, 0};
    dc_value asc[] = {
        {DC_NULL, 0, 0, NULL, 0},
        {DC_BOOL, 0, 0, NULL, 0},
        {DC_BOOL, 1, 0, NULL, 0},
        v_real(-1e300),
        v_int(INT64_MIN),
        v_int(-1),
        v_real(-0.5),
        v_int(0),
        v_real(1.5),
        v_int(2),
        v_real(2.0), /* after the integer of the same value */
        v_real(9223372036854775807.0),
        v_str(""),
        v_str("A"),
        v_str("a"),
        v_str("王"),
        {DC_BYTES, 0, 0, NULL, 0},
        {DC_BYTES, 0, 0, b0, 1},
        {DC_BYTES, 0, 0, b1, 2},
    };
    size_t n = sizeof asc / sizeof asc[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = dc_value_compare(&asc[i], &asc[j]);
            int want = (i > j) - (i < j);
            if ((c > 0) - (c < 0) != want)
                fail_msg("compare(%zu, %zu) = %d, want %d", i, j, c, want);
        }
    /* INT64_MAX against the double just above it. */
    dc_value big = v_int(INT64_MAX);
    assert_true(dc_value_compare(&big, &asc[11]) < 0);
}

/* ---- live queries ---- */

typedef struct seen_live {
    int deliveries;
    size_t count, total;
    char first[16];
    dc_live *self; /* closed by the callback at delivery `close_at` */
    int close_at;
} seen_live;

static void on_live(void *user, const dc_records *rs) {
    seen_live *s = user;
    s->deliveries++;
    s->count = dc_records_count(rs);
    s->total = dc_records_total(rs);
    snprintf(s->first, sizeof s->first, "%s",
             rs && dc_records_count(rs) ? dc_record_id(dc_records_at(rs, 0)) : "");
    if (s->close_at && s->deliveries == s->close_at) {
        dc_live_close(s->self);
        s->self = NULL;
    }
}

static int observed;
static int count_obs(void *user, const char *space, const char *type, const char *id,
                     const char *origin) {
    (void)user, (void)space, (void)type, (void)id, (void)origin;
    observed++;
    return 0;
}

static void put_truck(dc_replica *r, const char *sp, const char *id, const char *route, int n) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_set(t, "truck", id, "n", DC_INT, n, NULL));
    dc_test_ok(r, dc_txn_add(t, "truck", id, "route", DC_STR, 0, route));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

static void test_live_queries(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "live-a.db"), *b = dc_test_open(&g_d, "live-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    put_truck(a, sp, "t1", "A", 5);
    dc_test_ok(a, dc_replica_observe(a, count_obs, NULL));
    dc_value route_a = v_str("A");
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, "route", &route_a, "n", 0, 0, 0, 0, NULL, 0};
    seen_live s;
    memset(&s, 0, sizeof s);
    dc_live *q = NULL;
    dc_test_ok(a, dc_live_open(&q, a, sp, "truck", &o, on_live, &s));
    /* The first result at once. */
    assert_int_equal(s.deliveries, 1);
    assert_int_equal(s.count, 1);
    /* Another type, and a truck outside the filter: the same result, not
     * delivered again. */
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "Li"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    put_truck(a, sp, "t2", "B", 1);
    assert_int_equal(s.deliveries, 1);
    /* A local commit that changes the result. */
    put_truck(a, sp, "t3", "A", 2);
    assert_int_equal(s.deliveries, 2);
    assert_int_equal(s.count, 2);
    assert_string_equal(s.first, "t3"); /* ordered by n */
    /* A merge from another device. */
    put_truck(b, sp, "t4", "A", 0);
    dc_test_sync_into(b, a);
    assert_int_equal(s.deliveries, 3);
    assert_int_equal(s.count, 3);
    assert_string_equal(s.first, "t4");
    /* A change of a field of a record in the result. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "truck", "t1", "n", DC_INT, -1, NULL));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    assert_int_equal(s.deliveries, 4);
    assert_string_equal(s.first, "t1");
    /* A delete. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_delete(t, "truck", "t1"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    assert_int_equal(s.deliveries, 5);
    assert_int_equal(s.count, 2);
    /* The observer heard every record all along. */
    assert_true(observed >= 6);
    /* A second live query that closes itself at its second delivery. */
    seen_live s2;
    memset(&s2, 0, sizeof s2);
    s2.close_at = 2;
    dc_test_ok(a, dc_live_open(&s2.self, a, sp, "truck", NULL, on_live, &s2));
    assert_int_equal(s2.deliveries, 1);
    put_truck(a, sp, "t5", "A", 9);
    assert_int_equal(s.deliveries, 6);
    assert_int_equal(s2.deliveries, 2);
    assert_null(s2.self);
    put_truck(a, sp, "t6", "A", 10);
    assert_int_equal(s.deliveries, 7);
    assert_int_equal(s2.deliveries, 2); /* closed */
    /* A change through another handle on the file: seen at the refresh. */
    dc_replica *a2 = dc_test_open(&g_d, "live-a.db");
    put_truck(a2, sp, "t7", "A", 11);
    assert_int_equal(s.deliveries, 7);
    int changed = -1;
    dc_test_ok(a, dc_replica_refresh(a, &changed));
    assert_int_equal(changed, 1);
    assert_int_equal(s.deliveries, 8);
    dc_test_ok(a, dc_replica_refresh(a, &changed));
    assert_int_equal(changed, 0);
    assert_int_equal(s.deliveries, 8);
    /* Another handle's change outside the filter: looked at, not delivered. */
    put_truck(a2, sp, "t8", "B", 12);
    dc_test_ok(a, dc_replica_refresh(a, &changed));
    assert_int_equal(changed, 1);
    assert_int_equal(s.deliveries, 8);
    dc_replica_close(a2);
    /* Errors. */
    dc_live *bad = NULL;
    assert_int_equal(
        dc_live_open(&bad, a, "00112233445566778899aabbccddeeff", "truck", NULL, on_live, &s),
        DC_ENOTFOUND);
    assert_null(bad);
    assert_int_equal(dc_live_open(&bad, a, sp, "truck", NULL, NULL, NULL), DC_EMISUSE);
    /* Closing the replica stops it; closing it afterwards frees it. */
    dc_replica_close(a);
    dc_live_close(q);
    dc_live_close(NULL);
    dc_replica_close(b);
    free(sp);
}

/* ---- value indexes ---- */

/* The ids of a query's page, comma-separated. */
static void ids_of(dc_replica *r, const char *sp, const char *field, const dc_value *v, char *out,
                   size_t cap) {
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, field, v, NULL, 0, 0, 0, 0, NULL, 0};
    dc_records *rs;
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    out[0] = 0;
    for (size_t i = 0; i < dc_records_count(rs); i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? "," : "", dc_record_id(dc_records_at(rs, i)));
    }
    dc_records_free(rs);
}

static void test_indexes(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "ix-a.db"), *b = dc_test_open(&g_d, "ix-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    for (int i = 0; i < 300; i++) {
        char id[16], plate[16];
        snprintf(id, sizeof id, "t%03d", i);
        snprintf(plate, sizeof plate, "P-%d", i % 150);
        dc_test_ok(a, dc_txn_set(t, "truck", id, "plate", DC_STR, 0, plate));
        dc_test_ok(a, dc_txn_add(t, "truck", id, "route", DC_STR, 0, i % 3 ? "A" : "B"));
        dc_test_ok(a, dc_txn_set(t, "truck", id, "load", DC_INT, i % 7, NULL));
    }
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_test_sync_into(a, b);
    /* Declared on a only: b answers by walking the type, a by its index. */
    dc_test_ok(a, dc_index_declare(a, sp, "truck", "plate"));
    dc_test_ok(a, dc_index_declare(a, sp, "truck", "route"));
    dc_test_ok(a, dc_index_declare(a, sp, "truck", "load"));
    dc_test_ok(a, dc_index_declare(a, sp, "truck", "plate"));  /* again: no-op */
    dc_test_ok(a, dc_index_declare(a, sp, "truck", "driver")); /* a field nobody wrote yet */
    assert_int_equal(dc_index_declare(a, "00112233445566778899aabbccddeeff", "truck", "plate"),
                     DC_ENOTFOUND);
    assert_int_equal(dc_index_declare(a, sp, "truck", ""), DC_EMISUSE);
    /* The rows are there: one per plate, route and load of each record. */
    char path[512];
    snprintf(path, sizeof path, "%s/ix-a.db", g_d.path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM ixvals", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 900);
    sqlite3_finalize(st);
    sqlite3_close(db);
    static char x[8192], y[8192];
    dc_value p17 = v_str("P-17"), ra = v_str("A"), rb = v_str("B"), l3 = v_int(3),
             none = v_str("P-999");
    const dc_value *probes[] = {&p17, &ra, &rb, &l3, &none};
    const char *fields[] = {"plate", "route", "route", "load", "plate"};
    for (int i = 0; i < 5; i++) {
        ids_of(a, sp, fields[i], probes[i], x, sizeof x);
        ids_of(b, sp, fields[i], probes[i], y, sizeof y);
        assert_string_equal(x, y);
    }
    ids_of(a, sp, "plate", &p17, x, sizeof x);
    assert_string_equal(x, "t017,t167");
    /* Kept by commits: a changed register, a removed member, a delete. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "truck", "t017", "plate", DC_STR, 0, "X-1"));
    dc_test_ok(a, dc_txn_remove(t, "truck", "t001", "route", DC_STR, 0, "A"));
    dc_test_ok(a, dc_txn_delete(t, "truck", "t167"));
    dc_test_ok(a, dc_txn_set(t, "truck", "t200", "driver", DC_STR, 0, "Li"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    ids_of(a, sp, "plate", &p17, x, sizeof x);
    assert_string_equal(x, "");
    dc_value x1 = v_str("X-1"), li = v_str("Li");
    ids_of(a, sp, "plate", &x1, x, sizeof x);
    assert_string_equal(x, "t017");
    ids_of(a, sp, "driver", &li, x, sizeof x);
    assert_string_equal(x, "t200");
    ids_of(a, sp, "route", &ra, x, sizeof x);
    assert_null(strstr(x, "t001"));
    /* Kept by merges. */
    dc_test_ok(b, dc_txn_begin(&t, b, sp));
    dc_test_ok(b, dc_txn_set(t, "truck", "t999", "plate", DC_STR, 0, "P-17"));
    dc_test_ok(b, dc_txn_commit(t, NULL));
    dc_test_sync_into(a, b);
    dc_test_sync_into(b, a);
    for (int i = 0; i < 5; i++) {
        ids_of(a, sp, fields[i], probes[i], x, sizeof x);
        ids_of(b, sp, fields[i], probes[i], y, sizeof y);
        assert_string_equal(x, y);
    }
    ids_of(a, sp, "plate", &p17, x, sizeof x);
    assert_string_equal(x, "t999");
    /* A second handle on the file keeps the index it did not declare. */
    dc_replica *a2 = dc_test_open(&g_d, "ix-a.db");
    dc_test_ok(a2, dc_txn_begin(&t, a2, sp));
    dc_test_ok(a2, dc_txn_set(t, "truck", "t500", "plate", DC_STR, 0, "X-1"));
    dc_test_ok(a2, dc_txn_commit(t, NULL));
    dc_replica_close(a2);
    ids_of(a, sp, "plate", &x1, x, sizeof x);
    assert_string_equal(x, "t017,t500");
    /* And it survives a reopen. */
    dc_replica_close(a);
    a = dc_test_open(&g_d, "ix-a.db");
    ids_of(a, sp, "plate", &x1, x, sizeof x);
    assert_string_equal(x, "t017,t500");
    dc_replica_close(a);
    dc_replica_close(b);
    free(sp);
}

/* ---- the typed sync status ---- */

/* The sum of the per-space "KEY":N of dc_replica_status's JSON. */
static long long json_sum(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    long long n = 0;
    for (const char *p = strstr(json, pat); p; p = strstr(p + 1, pat))
        n += strtoll(p + strlen(pat), NULL, 10);
    return n;
}

static void test_sync_status(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "status-a.db"), *b = dc_test_open(&g_d, "status-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    put_truck(a, sp, "t1", "A", 1);
    put_truck(a, sp, "t2", "A", 2);
    dc_sync_status st;
    memset(&st, 0, sizeof st);
    assert_int_equal(dc_replica_sync_status(a, &st), DC_EINVAL); /* no version */
    st.version = DC_SYNC_STATUS_VERSION;
    dc_test_ok(a, dc_replica_sync_status(a, &st));
    /* No client ran; nothing acknowledged: the typed figures agree with the JSON. */
    assert_int_equal(st.has_last, 0);
    assert_int_equal(st.last_relay_sync_ms, 0);
    dc_buf j = DC_BUF_INIT;
    dc_test_ok(a, dc_replica_status(&j, a));
    assert_true(st.unacked >= 2);
    assert_int_equal((long long)st.unacked, json_sum((const char *)j.ptr, "unacked"));
    assert_int_equal((long long)st.held, json_sum((const char *)j.ptr, "held"));
    assert_int_equal((long long)st.opaque, json_sum((const char *)j.ptr, "opaque"));
    dc_buf_dispose(&j);
    assert_int_equal(dc_replica_sync_status(a, NULL), DC_EMISUSE);
    dc_replica_close(a);
    dc_replica_close(b);
    free(sp);
}

/* ---- streaming walks (dc_record_each) and what layered code needs ---- */

typedef struct walked {
    int n, stop_at, code;
    char ids[64][16];
    int events[64];
    dc_records *copies; /* the same records, copied by a query */
    dc_replica *r;
} walked;

static int walk_fn(void *user, const dc_record *rec) {
    walked *w = user;
    if (w->stop_at && w->n == w->stop_at)
        return w->code ? dc_replica_set_error(w->r, w->code, "stopped at %s", dc_record_id(rec))
                       : 1;
    snprintf(w->ids[w->n], sizeof w->ids[0], "%s", dc_record_id(rec));
    w->events[w->n] = (int)dc_record_event_count(rec);
    /* The view says what the copy of the same record says. */
    const dc_record *c = w->copies ? dc_records_at(w->copies, (size_t)w->n) : NULL;
    if (c) {
        assert_string_equal(dc_record_id(c), dc_record_id(rec));
        assert_int_equal(dc_record_field_count(c), dc_record_field_count(rec));
        for (size_t i = 0; i < dc_record_field_count(rec); i++) {
            const char *a, *b;
            int sa, sb;
            assert_int_equal(dc_record_field_at(rec, i, &a, &sa), 0);
            assert_int_equal(dc_record_field_at(c, i, &b, &sb), 0);
            assert_string_equal(a, b);
            assert_int_equal(sa, sb);
            size_t n = sa ? dc_record_set_size(rec, a) : 1;
            assert_int_equal(n, sa ? dc_record_set_size(c, b) : 1);
            for (size_t k = 0; k < n; k++) {
                dc_value va, vb;
                if (sa) {
                    assert_int_equal(dc_record_set_at(rec, a, k, &va), 0);
                    assert_int_equal(dc_record_set_at(c, b, k, &vb), 0);
                } else {
                    va = *dc_record_value(rec, a);
                    vb = *dc_record_value(c, b);
                }
                assert_int_equal(va.kind, vb.kind);
                assert_int_equal(dc_value_compare(&va, &vb), 0);
            }
        }
        assert_int_equal(dc_record_event_count(c), dc_record_event_count(rec));
        for (size_t i = 0; i < dc_record_event_count(rec); i++) {
            const dc_event *ea = dc_record_event(rec, i), *eb = dc_record_event(c, i);
            assert_true(ea->time_ms == eb->time_ms);
            assert_memory_equal(ea->author, eb->author, 32);
            assert_int_equal(ea->nfields, eb->nfields);
            for (size_t k = 0; k < ea->nfields; k++) {
                assert_string_equal(ea->keys[k], eb->keys[k]);
                assert_int_equal(dc_value_compare(&ea->values[k], &eb->values[k]), 0);
            }
        }
    }
    w->n++;
    return 0;
}

static int space_fn(void *user, const char *space) {
    walked *w = user;
    if (w->stop_at && w->n == w->stop_at)
        return 42;
    snprintf(w->ids[w->n++], sizeof w->ids[0], "%.15s", space);
    return 0;
}

static void test_walks(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "walk.db");
    char *sp = dc_test_shared_space(r, NULL, 0);
    write_trucks(r, sp);
    write_sample(r, sp);
    /* Every record, in id order, each as the query's copy says. */
    walked w;
    memset(&w, 0, sizeof w);
    w.r = r;
    dc_test_ok(r, dc_record_query(&w.copies, r, sp, "truck", NULL));
    dc_test_ok(r, dc_record_each(r, sp, "truck", NULL, walk_fn, &w));
    assert_int_equal(w.n, 40);
    assert_string_equal(w.ids[0], "t00");
    assert_string_equal(w.ids[39], "t39");
    assert_int_equal(w.events[7], 1);
    dc_records_free(w.copies);
    /* The sample: registers, a set in value order, events, as the copy. */
    memset(&w, 0, sizeof w);
    w.r = r;
    dc_test_ok(r, dc_record_query(&w.copies, r, sp, "driver", NULL));
    dc_test_ok(r, dc_record_each(r, sp, "driver", NULL, walk_fn, &w));
    assert_int_equal(w.n, 1);
    dc_records_free(w.copies);
    /* Sets whose names fall between the registers' come in name order in
     * a view as in a copy: a, b[], c, d[], e. */
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_set(t, "mix", "m1", "e", DC_INT, 5, NULL));
    dc_test_ok(r, dc_txn_add(t, "mix", "m1", "d", DC_STR, 0, "z"));
    dc_test_ok(r, dc_txn_add(t, "mix", "m1", "b", DC_STR, 0, "y"));
    dc_test_ok(r, dc_txn_set(t, "mix", "m1", "c", DC_STR, 0, "c"));
    dc_test_ok(r, dc_txn_add(t, "mix", "m1", "b", DC_INT, 1, NULL));
    dc_test_ok(r, dc_txn_add(t, "mix", "m1", "d", DC_STR, 0, "a"));
    dc_test_ok(r, dc_txn_set(t, "mix", "m1", "a", DC_BOOL, 1, NULL));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    memset(&w, 0, sizeof w);
    w.r = r;
    dc_test_ok(r, dc_record_query(&w.copies, r, sp, "mix", NULL));
    const dc_record *m1 = dc_records_at(w.copies, 0);
    static const char *const mixed[] = {"a", "b", "c", "d", "e"};
    assert_int_equal(dc_record_field_count(m1), 5);
    for (size_t i = 0; i < 5; i++) {
        const char *nm;
        assert_int_equal(dc_record_field_at(m1, i, &nm, NULL), 0);
        assert_string_equal(nm, mixed[i]);
    }
    dc_test_ok(r, dc_record_each(r, sp, "mix", NULL, walk_fn, &w));
    assert_int_equal(w.n, 1);
    dc_records_free(w.copies);
    /* Cheap reads: NULL for what is missing, no error recorded. */
    const dc_record *d1 = NULL;
    dc_records *rs;
    dc_test_ok(r, dc_record_query(&rs, r, sp, "driver", NULL));
    d1 = dc_records_at(rs, 0);
    dc_value miss;
    assert_int_equal(dc_record_get_value(d1, "phone", &miss), DC_ENOTFOUND);
    char last[256];
    snprintf(last, sizeof last, "%s", dc_error_last());
    assert_string_equal(dc_record_value(d1, "name")->ptr, "王师傅");
    assert_true(dc_record_value(d1, "age")->num == 47);
    assert_null(dc_record_value(d1, "tags")); /* a set */
    size_t ntags = 9;
    const dc_value *tags = dc_record_set_values(d1, "tags", &ntags);
    assert_int_equal(ntags, 3);
    assert_true(tags[0].kind == DC_INT && tags[0].num == 3);
    assert_string_equal(tags[2].ptr, "hazmat");
    assert_null(dc_record_set_values(d1, "name", &ntags)); /* a register */
    assert_int_equal(ntags, 0);
    assert_null(dc_record_value(d1, "phone"));
    assert_int_equal(dc_error_last_code(), DC_ENOTFOUND);
    assert_string_equal(dc_error_last(), last);
    const dc_event *e = dc_record_event(d1, 1);
    assert_non_null(e);
    assert_true(dc_event_value(e, "minutes")->num == 25);
    assert_null(dc_event_value(e, "home"));
    assert_null(dc_record_event(d1, 2));
    dc_records_free(rs);
    /* Fields only, a page, a filter, one id. */
    dc_value a = v_str("A");
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 5, 10, 0, NULL, 0};
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_record_each(r, sp, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 10);
    assert_string_equal(w.ids[0], "t05");
    assert_string_equal(w.ids[9], "t14");
    assert_int_equal(w.events[0], 0);
    o = (dc_query_options){DC_QUERY_OPTIONS_VERSION, "route", &a, NULL, 0, 0, 0, 1, NULL, 0};
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_record_each(r, sp, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 20);
    assert_string_equal(w.ids[0], "t01");
    o.id = "t03";
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_record_each(r, sp, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 1);
    assert_string_equal(w.ids[0], "t03");
    o.id = "t04"; /* route B: no match */
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_record_each(r, sp, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 0);
    /* With a value index the same records come. */
    dc_test_ok(r, dc_index_declare(r, sp, "truck", "route"));
    o.id = NULL;
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_record_each(r, sp, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 20);
    assert_string_equal(w.ids[19], "t39");
    /* A version 1 struct: the fields after with_events are not read. */
    o = (dc_query_options){1, NULL, NULL, NULL, 0, 0, 2, 0, (const char *)1, 1};
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_record_each(r, sp, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 2);
    dc_test_ok(r, dc_record_query(&rs, r, sp, "truck", &o));
    assert_int_equal(dc_records_count(rs), 2);
    dc_records_free(rs);
    /* fn stops the walk: its code comes back, with its message if any. */
    memset(&w, 0, sizeof w);
    w.stop_at = 3;
    assert_int_equal(dc_record_each(r, sp, "truck", NULL, walk_fn, &w), 1);
    assert_int_equal(w.n, 3);
    w = (walked){.stop_at = 2, .code = DC_EUSER, .r = r};
    assert_int_equal(dc_record_each(r, sp, "truck", NULL, walk_fn, &w), DC_EUSER);
    assert_int_equal(dc_replica_errcode(r), DC_EUSER);
    assert_string_equal(dc_replica_errmsg(r), "stopped at t02");
    /* Errors: a sort, a bad version, NULL fn, an unknown space. */
    o = (dc_query_options){DC_QUERY_OPTIONS_VERSION, NULL, NULL, "n", 0, 0, 0, 0, NULL, 0};
    assert_int_equal(dc_record_each(r, sp, "truck", &o, walk_fn, &w), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(r), "dc_record_query"));
    o.version = 9;
    o.order_by = NULL;
    assert_int_equal(dc_record_each(r, sp, "truck", &o, walk_fn, &w), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(r), "version 9"));
    assert_int_equal(dc_record_each(r, sp, "truck", NULL, NULL, &w), DC_EMISUSE);
    assert_int_equal(
        dc_record_each(r, "00112233445566778899aabbccddeeff", "truck", NULL, walk_fn, &w),
        DC_ENOTFOUND);
    /* Counts and where a record lives. */
    uint64_t n = 0;
    dc_test_ok(r, dc_record_count(r, sp, "truck", &n));
    assert_true(n == 40);
    dc_test_ok(r, dc_record_count(r, sp, "bus", &n));
    assert_true(n == 0);
    char where[33];
    dc_test_ok(r, dc_record_locate(r, "truck", "t17", where));
    assert_string_equal(where, sp);
    assert_int_equal(dc_record_locate(r, "truck", "t99", where), DC_ENOTFOUND);
    assert_non_null(strstr(dc_replica_errmsg(r), "t99"));
    /* The spaces read, and fn's stop. */
    char *sp2 = dc_test_shared_space(r, NULL, 0);
    memset(&w, 0, sizeof w);
    dc_test_ok(r, dc_space_each(r, space_fn, &w));
    assert_int_equal(w.n, 2);
    assert_true(strcmp(w.ids[0], w.ids[1]) < 0);
    assert_true(strncmp(w.ids[0], sp, 15) == 0 || strncmp(w.ids[1], sp, 15) == 0);
    w = (walked){.stop_at = 1};
    assert_int_equal(dc_space_each(r, space_fn, &w), 42);
    /* Derived keys: stable, one per context and per space, never the
     * space key's bytes in the clear (only its hash output). */
    uint8_t *k1 = sodium_malloc(32), *k2 = sodium_malloc(32), *k3 = sodium_malloc(32);
    dc_test_ok(r, dc_space_derive_key(r, sp, "test/lookup", k1));
    dc_test_ok(r, dc_space_derive_key(r, sp, "test/lookup", k2));
    assert_memory_equal(k1, k2, 32);
    dc_test_ok(r, dc_space_derive_key(r, sp, "test/other", k2));
    assert_memory_not_equal(k1, k2, 32);
    dc_test_ok(r, dc_space_derive_key(r, sp2, "test/lookup", k3));
    assert_memory_not_equal(k1, k3, 32);
    /* The same on a rotated space: derived from the genesis key. */
    dc_test_ok(r, dc_space_rotate(r, sp));
    dc_test_ok(r, dc_space_derive_key(r, sp, "test/lookup", k2));
    assert_memory_equal(k1, k2, 32);
    assert_int_equal(dc_space_derive_key(r, sp, NULL, k2), DC_EMISUSE);
    assert_int_equal(dc_space_derive_key(r, "nope", "x", k2), DC_EINVAL);
    sodium_free(k1);
    sodium_free(k2);
    sodium_free(k3);
    /* dc_replica_set_error: recorded, and cleared by code 0. */
    assert_int_equal(dc_replica_set_error(r, DC_EINVAL, "case %s: %d", "c1", 7), DC_EINVAL);
    assert_string_equal(dc_replica_errmsg(r), "case c1: 7");
    assert_int_equal(dc_replica_set_error(r, 0, NULL), 0);
    assert_int_equal(dc_replica_errcode(r), 0);
    assert_int_equal(dc_replica_set_error(NULL, DC_EINVAL, "x"), DC_EMISUSE);
    dc_replica_close(r);
    free(sp);
    free(sp2);
}

/* A space this device was invited to and has not accepted: DC_EDENIED
 * for a read, nothing for a walk asking for unaccepted_empty. */
static void test_walk_unaccepted(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "ua-a.db"), *b = dc_test_open(&g_d, "ua-b.db");
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT, bundle = DC_BUF_INIT;
    dc_test_ok(a, dc_space_create(&sp, a, "branch"));
    const char *s = (const char *)sp.ptr;
    write_trucks(a, s);
    dc_test_ok(b, dc_replica_card(&card, b));
    dc_test_ok(a, dc_space_add(a, s, (const char *)card.ptr, DC_ROLE_READER));
    dc_test_ok(a, dc_bundle_export(&bundle, a, NULL));
    dc_test_ok(b, dc_bundle_import(b, bundle.ptr, bundle.size, NULL));
    walked w;
    memset(&w, 0, sizeof w);
    assert_int_equal(dc_record_each(b, s, "truck", NULL, walk_fn, &w), DC_EDENIED);
    assert_non_null(strstr(dc_replica_errmsg(b), "accept"));
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 0, NULL, 1};
    dc_test_ok(b, dc_record_each(b, s, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 0);
    dc_records *rs;
    dc_test_ok(b, dc_record_query(&rs, b, s, "truck", &o));
    assert_int_equal(dc_records_total(rs), 0);
    dc_records_free(rs);
    uint8_t *k = sodium_malloc(32);
    assert_int_equal(dc_space_derive_key(b, s, "x", k), DC_ENOKEY);
    assert_non_null(strstr(dc_replica_errmsg(b), "accept"));
    sodium_free(k);
    memset(&w, 0, sizeof w);
    dc_test_ok(b, dc_space_each(b, space_fn, &w));
    assert_int_equal(w.n, 0);
    /* Accepted: it reads. */
    dc_test_ok(b, dc_space_accept(b, s, 0));
    o.unaccepted_empty = 0;
    dc_test_ok(b, dc_record_each(b, s, "truck", &o, walk_fn, &w));
    assert_int_equal(w.n, 40);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    dc_buf_dispose(&bundle);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* Every record of the query's full list is at its index there, whatever
 * page the options name (offset and limit are not the position's). */
static void check_positions(dc_replica *r, const char *sp, const char *type,
                            const dc_query_options *opts, size_t expect) {
    dc_query_options whole = *opts;
    whole.offset = whole.limit = 0;
    dc_records *rs;
    dc_test_ok(r, dc_record_query(&rs, r, sp, type, &whole));
    assert_int_equal(dc_records_count(rs), expect);
    dc_query_options paged = *opts;
    paged.offset = 3;
    paged.limit = 2;
    for (size_t i = 0; i < dc_records_count(rs); i++) {
        const char *id = dc_record_id(dc_records_at(rs, i));
        uint64_t pos = 999;
        dc_test_ok(r, dc_record_position(r, sp, type, &paged, id, &pos));
        assert_int_equal(pos, i);
        paged.id = id; /* opts->id equal to the record's: the same answer */
        pos = 999;
        dc_test_ok(r, dc_record_position(r, sp, type, &paged, id, &pos));
        assert_int_equal(pos, i);
        paged.id = NULL;
    }
    dc_records_free(rs);
}

static void test_positions(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "position.db");
    char *sp = dc_test_shared_space(r, NULL, 0);
    write_trucks(r, sp); /* n = i % 7 (ties), none on t00, t10, t20, t30 */
    /* Members: names with ties and one without, ages as integers and
     * floats (and a string, which sorts after numbers). */
    static const char *const names[] = {"Wang", "Li", NULL, "Zhang", "Li", "Álvarez", "Wang", "Li"};
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    for (int i = 0; i < 8; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", 7 - i); /* ids not in insertion order */
        if (names[i])
            dc_test_ok(r, dc_txn_set(t, "member", id, "name", DC_STR, 0, names[i]));
        dc_value real = v_real(30.5 + i);
        if (i % 3 == 0)
            dc_test_ok(r, dc_txn_set_value(t, "member", id, "age", &real));
        else if (i == 4)
            dc_test_ok(r, dc_txn_set(t, "member", id, "age", DC_STR, 0, "unknown"));
        else
            dc_test_ok(r, dc_txn_set(t, "member", id, "age", DC_INT, 30 + i % 4, NULL));
        dc_test_ok(r, dc_txn_set(t, "member", id, "branch", DC_STR, 0, i % 2 ? "north" : "south"));
    }
    dc_test_ok(r, dc_txn_commit(t, NULL));

    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 1, NULL, 0};
    check_positions(r, sp, "truck", &o, 40); /* id order */
    o.order_by = "n";                        /* numbers, ties, missing */
    check_positions(r, sp, "truck", &o, 40);
    o.descending = 1;
    check_positions(r, sp, "truck", &o, 40);
    o.order_by = "plate";
    check_positions(r, sp, "truck", &o, 40);
    o.descending = 0;
    check_positions(r, sp, "member", &o, 8); /* nobody has a plate: id order */
    o.order_by = "name";                     /* strings, ties, one missing */
    check_positions(r, sp, "member", &o, 8);
    o.descending = 1;
    check_positions(r, sp, "member", &o, 8);
    o.order_by = "age"; /* integers, floats and a string */
    check_positions(r, sp, "member", &o, 8);
    o.descending = 0;
    check_positions(r, sp, "member", &o, 8);
    /* Two rows known by hand: the first and the last. */
    uint64_t pos;
    o.order_by = "n";
    dc_test_ok(r, dc_record_position(r, sp, "truck", &o, "t07", &pos));
    assert_int_equal(pos, 0); /* the smallest n (0), the smallest id */
    dc_test_ok(r, dc_record_position(r, sp, "truck", &o, "t30", &pos));
    assert_int_equal(pos, 39); /* no n: last, the largest id */

    /* Filtered lists: a register and a set member, with and without an
     * index on the field. */
    dc_value north = {DC_STR, 0, 0, "north", 5};
    dc_value route_a = {DC_STR, 0, 0, "A", 1};
    o.where_field = "branch";
    o.where_value = &north;
    o.order_by = "name";
    check_positions(r, sp, "member", &o, 4);
    o.where_field = "route";
    o.where_value = &route_a;
    o.order_by = "n";
    check_positions(r, sp, "truck", &o, 20);
    o.order_by = NULL;
    check_positions(r, sp, "truck", &o, 20);
    dc_test_ok(r, dc_index_declare(r, sp, "truck", "route"));
    o.order_by = "n";
    o.descending = 1;
    check_positions(r, sp, "truck", &o, 20);
    /* A record the filter leaves out, or none at all: not found. */
    pos = 7;
    assert_int_equal(dc_record_position(r, sp, "truck", &o, "t02", &pos), DC_ENOTFOUND);
    assert_non_null(strstr(dc_replica_errmsg(r), "t02"));
    assert_int_equal(pos, 0);
    assert_int_equal(dc_record_position(r, sp, "truck", &o, "t99", &pos), DC_ENOTFOUND);
    assert_int_equal(dc_record_position(r, sp, "truck", NULL, "t99", &pos), DC_ENOTFOUND);
    assert_int_equal(dc_record_position(r, sp, "nothing", NULL, "t01", &pos), DC_ENOTFOUND);
    /* opts NULL: the whole type in id order; a deleted record is gone
     * from it and the ones after it move up. */
    dc_test_ok(r, dc_record_position(r, sp, "truck", NULL, "t02", &pos));
    assert_int_equal(pos, 2);
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_delete(t, "truck", "t01"));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    assert_int_equal(dc_record_position(r, sp, "truck", NULL, "t01", &pos), DC_ENOTFOUND);
    dc_test_ok(r, dc_record_position(r, sp, "truck", NULL, "t02", &pos));
    assert_int_equal(pos, 1);
    /* Misuse. */
    o.id = "t03";
    assert_int_equal(dc_record_position(r, sp, "truck", &o, "t01", &pos), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(r), "t03"));
    o.id = NULL;
    assert_int_equal(dc_record_position(r, sp, "truck", &o, NULL, &pos), DC_EMISUSE);
    assert_int_equal(dc_record_position(r, sp, "truck", &o, "t01", NULL), DC_EMISUSE);
    assert_int_equal(dc_record_position(NULL, sp, "truck", &o, "t01", &pos), DC_EMISUSE);
    assert_int_equal(dc_record_position(r, "zz", "truck", &o, "t01", &pos), DC_EINVAL);
    /* Inside a read snapshot, as the query sees it. */
    dc_test_ok(r, dc_replica_read_begin(r));
    o.where_field = NULL;
    o.where_value = NULL;
    o.order_by = "plate";
    check_positions(r, sp, "truck", &o, 39);
    dc_test_ok(r, dc_replica_read_end(r));
    free(sp);
    dc_replica_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_record),  cmocka_unit_test(test_absent_and_errors),
        cmocka_unit_test(test_queries),     cmocka_unit_test(test_merged_state),
        cmocka_unit_test(test_value_order), cmocka_unit_test(test_live_queries),
        cmocka_unit_test(test_indexes),     cmocka_unit_test(test_sync_status),
        cmocka_unit_test(test_walks),       cmocka_unit_test(test_walk_unaccepted),
        cmocka_unit_test(test_positions),
    };
    return cmocka_run_group_tests_name("reading", tests, setup, teardown);
}
