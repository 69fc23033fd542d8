/*
 * Tests of the driver registry (model/registry.c, docs/domain.md "The
 * registry"): the same person from two lines becomes one driver; facts the
 * lines disagree on are kept with their sources and flagged, and a later
 * round agreeing with one side settles them; bad rows are reported with
 * their line numbers while good rows import; header errors write nothing;
 * the CSV dialect (BOM, quotes, CRLF, blank lines); no identity number or
 * phone in clear in the materialised tables; lookups by identity number;
 * two offline importers converge through bundles; re-importing changes
 * nothing.
 *
 *   test_registry               the unit tests
 *   test_registry bench N [new] imports an N-row CSV and prints rows/s (then
 *                               merges the same rows from the other line and
 *                               lists conflicts, unless "new")
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "drivercore.h"
#include "../../common/replica_fixture.h"

static dc_test_dir g_d;

static int setup(void **state) {
    (void)state;
    if (dc_test_dir_make(&g_d, "registry"))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

/* A valid identity number: 17 digits and the GB 11643 check character. */
static void make_id(char out[19], const char *d17) {
    static const int W[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (d17[i] - '0') * W[i];
    memcpy(out, d17, 17);
    out[17] = "10X98765432"[sum % 11];
    out[18] = 0;
}

static char ID_A[19], ID_B[19], ID_C[19], ID_BAD[19];
#define PHONE_A "13800138000"
#define PHONE_A2 "13912345678"
#define PHONE_B "15100151000"
#define PHONE_C "18608512345"
#define HEADER                                                                                     \
    "name,id_number,phone,hukou_region,plate,employer,route,activity_area,business_scope,"         \
    "political_status\n"

static void ids(void) {
    make_id(ID_A, "52010219800101001");
    make_id(ID_B, "52011219900505002");
    make_id(ID_C, "52260119851212003");
    make_id(ID_BAD, "52010219800101004");
    ID_BAD[17] = ID_BAD[17] == '0' ? '1' : '0'; /* a wrong check digit */
}

static char *fmt(const char *f, ...) {
    static char buf[8][8192];
    static int k;
    char *b = buf[k++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof buf[0], f, ap);
    va_end(ap);
    return b;
}

/* A registry space on a fresh replica. */
static dc_replica *registry(const char *name, char space[33]) {
    dc_replica *r = dc_test_open(&g_d, name);
    dc_buf sp = DC_BUF_INIT;
    dc_test_ok(r, dc_space_create(&sp, r, "registry"));
    memcpy(space, sp.ptr, 33);
    dc_buf_dispose(&sp);
    return r;
}

static json_t *import(dc_replica *r, const char *space, int source, int round, const char *csv) {
    dc_buf rep = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_import_csv(&rep, r, space, source, round, (const uint8_t *)csv,
                                         strlen(csv)));
    json_error_t e;
    json_t *j = json_loads((const char *)rep.ptr, 0, &e);
    if (!j)
        fail_msg("report is not JSON: %s", (const char *)rep.ptr);
    dc_buf_dispose(&rep);
    return j;
}

static long jint(json_t *j, const char *key) {
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v))
        fail_msg("no integer \"%s\" in %s", key, json_dumps(j, 0));
    return (long)json_integer_value(v);
}

static json_t *find(dc_replica *r, const char *space, const char *id) {
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_find(&out, r, space, id));
    json_error_t e;
    json_t *j = json_loads((const char *)out.ptr, 0, &e);
    if (!j)
        fail_msg("find is not JSON: %s", (const char *)out.ptr);
    dc_buf_dispose(&out);
    return j;
}

static json_t *conflicts(dc_replica *r, const char *space, char **text) {
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_conflicts(&out, r, space));
    json_error_t e;
    json_t *j = json_loads((const char *)out.ptr, 0, &e);
    if (!j || !json_is_array(j))
        fail_msg("conflicts is not a JSON array: %s", (const char *)out.ptr);
    if (text)
        *text = strdup((const char *)out.ptr);
    dc_buf_dispose(&out);
    return j;
}

static const char *jstr(json_t *j, const char *key) {
    json_t *v = json_object_get(j, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool jset_has(json_t *j, const char *key, const char *member) {
    json_t *a = json_object_get(j, key), *v;
    size_t i;
    json_array_foreach(a, i, v) if (json_is_string(v) &&
                                    strcmp(json_string_value(v), member) == 0) return true;
    return false;
}

/* The conflict entries of `field` of driver `did` in a conflicts listing. */
static json_t *conflict_of(json_t *list, const char *did, const char *field) {
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) if (strcmp(jstr(d, "driver"), did) == 0) return json_object_get(
        json_object_get(d, "conflicts"), field);
    return NULL;
}

static bool has_entry(json_t *entries, const char *value, const char *source, long round) {
    size_t i;
    json_t *e;
    json_array_foreach(entries, i,
                       e) if (strcmp(jstr(e, "value"), value) == 0 &&
                              strcmp(jstr(e, "source"), source) == 0 &&
                              json_integer_value(json_object_get(e, "round")) == round) return true;
    return false;
}

static char *driver_id(dc_replica *r, const char *space, const char *id) {
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_driver_id(&out, r, space, id));
    char *s = strdup((const char *)out.ptr);
    dc_buf_dispose(&out);
    return s;
}

static long count_drivers(dc_replica *r, const char *space) {
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(r, dc_record_list(&out, r, space, "driver"));
    json_t *j = json_loads((const char *)out.ptr, 0, NULL);
    long n = (long)json_object_size(j);
    json_decref(j);
    dc_buf_dispose(&out);
    return n;
}

/* ---- merge of two sources ---- */

static void test_merge_two_sources(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("merge.db", sp);
    json_t *rep = import(
        r, sp, DC_SOURCE_ORGANISATION, 1,
        fmt(HEADER "张三,%s,%s,520102,贵A12345,顺丰冷链,贵阳-遵义,花溪物流园,冷链;普货,正式党员\n"
                   "李四,%s,%s,520112,贵A54321,乌当渣土,,乌当区,渣土,masses\n",
            ID_A, PHONE_A, ID_B, PHONE_B));
    assert_int_equal(jint(rep, "rows"), 2);
    assert_int_equal(jint(rep, "imported"), 2);
    assert_int_equal(jint(rep, "new_drivers"), 2);
    assert_int_equal(jint(rep, "flagged"), 0);
    json_decref(rep);
    /* The transport line finds 张三 again (identity number typed with a
     * lower-case x or spaces would match too) and one new person. */
    char spaced[40];
    snprintf(spaced, sizeof spaced, "%.6s %.8s %.4s", ID_A, ID_A + 6, ID_A + 14);
    rep = import(r, sp, DC_SOURCE_TRANSPORT, 1,
                 fmt(HEADER "张三,%s,%s,520102,贵A 67890,顺丰冷链,贵阳-遵义,花溪物流园,冷链,\n"
                            "王五,%s,%s,522601,,,,,,\n",
                     spaced, PHONE_A, ID_C, PHONE_C));
    assert_int_equal(jint(rep, "imported"), 2);
    assert_int_equal(jint(rep, "new_drivers"), 1);
    assert_int_equal(jint(rep, "merged"), 1);
    assert_int_equal(jint(rep, "flagged"), 0);
    json_decref(rep);
    assert_int_equal(count_drivers(r, sp), 3);

    json_t *a = find(r, sp, ID_A);
    char *did = driver_id(r, sp, ID_A);
    assert_string_equal(jstr(a, "driver"), did);
    assert_int_equal(strlen(did), 24);
    assert_memory_equal(did, "drv-", 4);
    assert_string_equal(jstr(a, "id_number"), ID_A);
    assert_string_equal(jstr(a, "phone"), PHONE_A);
    assert_string_equal(jstr(a, "name"), "张三");
    assert_string_equal(jstr(a, "status"), "member");
    /* Sets union: both plates (normalised), scopes mapped to codes. */
    assert_true(jset_has(a, "plates", "贵A12345"));
    assert_true(jset_has(a, "plates", "贵A67890"));
    assert_true(jset_has(a, "business_scope", "cold_chain"));
    assert_true(jset_has(a, "business_scope", "general_cargo"));
    assert_int_equal(json_array_size(json_object_get(a, "sources")), 2);
    assert_false(json_is_true(json_object_get(a, "flagged")));
    assert_int_equal(json_integer_value(json_object_get(a, "verified_round")), 1);
    /* Field names of the record: the sealed values never leave find. */
    assert_null(json_object_get(a, "id_sealed"));
    assert_null(json_object_get(a, "reports"));
    json_decref(a);
    /* 王五: a status not reported is absent, not invented. */
    json_t *c = find(r, sp, ID_C);
    assert_null(json_object_get(c, "status"));
    assert_string_equal(jstr(c, "hukou_region"), "522601");
    json_decref(c);
    free(did);
    dc_replica_close(r);
}

/* ---- conflicts, and a later round settling them ---- */

static void test_conflicts_and_rounds(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("conflicts.db", sp);
    json_decref(import(r, sp, DC_SOURCE_ORGANISATION, 1,
                       fmt(HEADER "张三,%s,%s,520102,,顺丰冷链,,花溪,,正式党员\n"
                                  "李四,%s,%s,520112,,,,,,群众\n",
                           ID_A, PHONE_A, ID_B, PHONE_B)));
    json_t *rep = import(r, sp, DC_SOURCE_TRANSPORT, 1,
                         fmt(HEADER "张三,%s,%s,520102,,满帮平台,,花溪,,预备党员\n"
                                    "李四,%s,%s,520112,,,,,,masses\n",
                             ID_A, PHONE_A2, ID_B, PHONE_B));
    assert_int_equal(jint(rep, "flagged"), 1);
    json_decref(rep);
    char *did = driver_id(r, sp, ID_A);
    json_t *list = conflicts(r, sp, NULL);
    assert_int_equal(json_array_size(list), 1);
    json_t *d = json_array_get(list, 0);
    assert_string_equal(jstr(d, "driver"), did);
    assert_string_equal(jstr(d, "name"), "张三");
    json_t *emp = conflict_of(list, did, "employer");
    assert_int_equal(json_array_size(emp), 2);
    assert_true(has_entry(emp, "顺丰冷链", "organisation", 1));
    assert_true(has_entry(emp, "满帮平台", "transport", 1));
    json_t *ph = conflict_of(list, did, "phone");
    assert_true(has_entry(ph, PHONE_A, "organisation", 1));
    assert_true(has_entry(ph, PHONE_A2, "transport", 1));
    json_t *st = conflict_of(list, did, "political_status");
    assert_true(has_entry(st, "member", "organisation", 1));
    assert_true(has_entry(st, "probationary", "transport", 1));
    /* Facts both lines agree on are not in conflict. */
    assert_null(conflict_of(list, did, "hukou_region"));
    assert_null(conflict_of(list, did, "name"));
    json_decref(list);
    json_t *a = find(r, sp, ID_A);
    assert_true(json_is_true(json_object_get(a, "flagged")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "conflicts"), "employer")),
                     2);
    json_decref(a);

    /* Round 3 (re-verification) by the transport line agrees with the
     * organisation line's employer: settled.  Its phone agrees with its own
     * round-1 phone: that settles the phone on the transport value.  The
     * status gets a third value: still in conflict, now member vs the new. */
    rep = import(r, sp, DC_SOURCE_TRANSPORT, 3,
                 fmt(HEADER "张三,%s,%s,520102,,顺丰冷链,,花溪,,积极分子\n", ID_A, PHONE_A2));
    assert_int_equal(jint(rep, "flagged"), 1);
    json_decref(rep);
    list = conflicts(r, sp, NULL);
    assert_null(conflict_of(list, did, "employer"));
    assert_null(conflict_of(list, did, "phone"));
    st = conflict_of(list, did, "political_status");
    assert_int_equal(json_array_size(st), 2);
    assert_true(has_entry(st, "member", "organisation", 1));
    assert_true(has_entry(st, "activist", "transport", 3));
    json_decref(list);
    a = find(r, sp, ID_A);
    assert_string_equal(jstr(a, "employer"), "顺丰冷链");
    assert_string_equal(jstr(a, "phone"), PHONE_A2);
    assert_int_equal(json_integer_value(json_object_get(a, "verified_round")), 3);
    json_decref(a);

    /* Round 4 by the organisation line says activist too: settled, no
     * flagged driver left. */
    rep = import(r, sp, DC_SOURCE_ORGANISATION, 4, fmt(HEADER "张三,%s,,,,,,,,activist\n", ID_A));
    assert_int_equal(jint(rep, "flagged"), 0);
    json_decref(rep);
    list = conflicts(r, sp, NULL);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    a = find(r, sp, ID_A);
    assert_string_equal(jstr(a, "status"), "activist");
    assert_false(json_is_true(json_object_get(a, "flagged")));
    json_decref(a);

    /* A line disagreeing in a later round is a conflict too (not a silent
     * overwrite): transport round 5 gives another hukou region. */
    json_decref(import(r, sp, DC_SOURCE_TRANSPORT, 5, fmt(HEADER "李四,%s,,520113,,,,,,\n", ID_B)));
    char *didb = driver_id(r, sp, ID_B);
    list = conflicts(r, sp, NULL);
    json_t *hk = conflict_of(list, didb, "hukou_region");
    assert_true(has_entry(hk, "520112", "organisation", 1));
    assert_true(has_entry(hk, "520113", "transport", 5));
    json_decref(list);
    free(didb);
    free(did);
    dc_replica_close(r);
}

/* ---- bad rows and headers ---- */

static void test_bad_rows(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("bad.db", sp);
    const char *csv = fmt(HEADER "张三,%s,%s,520102,,,,,,\n"     /* 2 good */
                                 "坏校验,%s,,,,,,,,\n"           /* 3 check digit */
                                 ",%s,,,,,,,,\n"                 /* 4 no name */
                                 "无号,,,,,,,,,\n"               /* 5 no id */
                                 "少列,%s,,,\n"                  /* 6 columns */
                                 "\xe5\xbc\xa0\xff,%s,,,,,,,,\n" /* 7 invalid UTF-8 */
                                 "坏电话,%s,2345,,,,,,,\n"       /* 8 phone */
                                 "坏身份,%s,,,,,,,,党委书记\n"   /* 9 status */
                                 "短号,1234567,,,,,,,,\n"        /* 10 id format */
                                 "李四,%s,,,,,,,,\n"             /* 11 good */
                                 "\"未闭合,%s,,,,,,,,\n"         /* 12 unterminated */
                                 "王五,%s,,,,,,,,\n",            /* swallowed by 12 */
                          ID_A, PHONE_A, ID_BAD, ID_C, ID_C, ID_C, ID_C, ID_C, ID_B, ID_C, ID_C);
    json_t *rep = import(r, sp, DC_SOURCE_ORGANISATION, 1, csv);
    assert_int_equal(jint(rep, "imported"), 2);
    assert_int_equal(jint(rep, "rows"), 11); /* line 13 is inside line 12's quote */
    json_t *errs = json_object_get(rep, "errors");
    static const struct {
        long line;
        const char *words;
    } want[] = {{3, "check digit"},
                {4, "name is empty"},
                {5, "id_number is empty"},
                {6, "expected 10 columns, found 5"},
                {7, "UTF-8"},
                {8, "phone"},
                {9, "political_status"},
                {10, "18 characters"},
                {12, "not closed"}};
    assert_int_equal(json_array_size(errs), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *e = json_array_get(errs, i);
        assert_int_equal(json_integer_value(json_object_get(e, "line")), want[i].line);
        if (!strstr(jstr(e, "error"), want[i].words))
            fail_msg("line %ld: '%s' does not say '%s'", want[i].line, jstr(e, "error"),
                     want[i].words);
        /* A message never repeats an identity number or phone. */
        assert_null(strstr(jstr(e, "error"), ID_BAD));
        assert_null(strstr(jstr(e, "error"), ID_C));
    }
    json_decref(rep);
    assert_int_equal(count_drivers(r, sp), 2);
    dc_buf out = DC_BUF_INIT;
    assert_int_equal(dc_registry_find(&out, r, sp, ID_C), DC_ENOTFOUND);
    dc_buf_dispose(&out);
    dc_replica_close(r);
}

static void test_header_errors(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("header.db", sp);
    static const char *bad[] = {
        "",
        "\n\n",
        "name,id,phone,hukou_region,plate,employer,route,activity_area,business_scope,"
        "political_status\n",
        "name,id_number,phone,hukou_region,plate,employer,route,activity_area,business_scope\n",
        "name,id_number,phone,hukou_region,plate,employer,route,activity_area,business_scope,"
        "political_status,extra\n",
        "张三,110105194912310029,,,,,,,,\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dc_buf rep = DC_BUF_INIT;
        char *csv = fmt("%s张三,%s,,,,,,,,\n", bad[i], ID_A);
        assert_int_equal(dc_registry_import_csv(&rep, r, sp, DC_SOURCE_TRANSPORT, 1,
                                                (const uint8_t *)csv, strlen(csv)),
                         DC_EINVAL);
        assert_non_null(strstr(dc_replica_errmsg(r), "header"));
        dc_buf_dispose(&rep);
    }
    assert_int_equal(count_drivers(r, sp), 0);
    /* Bad arguments. */
    dc_buf rep = DC_BUF_INIT;
    assert_int_equal(
        dc_registry_import_csv(&rep, r, sp, 3, 1, (const uint8_t *)HEADER, strlen(HEADER)),
        DC_EINVAL);
    assert_int_equal(dc_registry_import_csv(&rep, r, sp, DC_SOURCE_TRANSPORT, 0,
                                            (const uint8_t *)HEADER, strlen(HEADER)),
                     DC_EINVAL);
    assert_int_equal(dc_registry_import_csv(&rep, NULL, sp, 1, 1, NULL, 0), DC_EMISUSE);
    assert_int_not_equal(dc_registry_import_csv(&rep, r, "00112233445566778899aabbccddeeff", 1, 1,
                                                (const uint8_t *)HEADER, strlen(HEADER)),
                         0);
    /* A header alone is a file with no rows: fine. */
    dc_test_ok(r, dc_registry_import_csv(&rep, r, sp, DC_SOURCE_TRANSPORT, 1,
                                         (const uint8_t *)HEADER, strlen(HEADER)));
    assert_non_null(strstr((const char *)rep.ptr, "\"rows\":0"));
    dc_buf_dispose(&rep);
    dc_replica_close(r);
}

/* ---- the CSV dialect ---- */

static void test_csv_dialect(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("dialect.db", sp);
    const char *csv =
        fmt("\xef\xbb\xbf"
            "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
            "business_scope,political_status\r\n"
            "\r\n"
            "\"张,三\",%s,\"138-0013-8000\",520102,,\"贵州\"\"黔运\"\"物流, 有限公司\",,,"
            "\"冷链；普货\",\"入党申请人\"\r\n"
            "   \r\n"
            "\"多\n行\",%s,,,,,,,,\r\n" /* line 5-6: a line break inside a name: bad */
            "李四 ,%s,,520112,,,,,construction_waste; hazardous ;,发展对象\r\n" /* line 7 */
            "\"王五\"x,%s,,,,,,,,\r\n"                                          /* line 8 */
            "赵六,%s,,,,,,,,积极分子",                                          /* line 9 */
            ID_A, ID_C, ID_B, ID_C, ID_C);
    json_t *rep = import(r, sp, DC_SOURCE_ORGANISATION, 1, csv);
    json_t *errs = json_object_get(rep, "errors");
    assert_int_equal(json_array_size(errs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(errs, 0), "line")), 5);
    assert_non_null(strstr(jstr(json_array_get(errs, 0), "error"), "line break"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(errs, 1), "line")), 8);
    assert_non_null(strstr(jstr(json_array_get(errs, 1), "error"), "quote"));
    assert_int_equal(jint(rep, "rows"), 5);
    assert_int_equal(jint(rep, "imported"), 3);
    json_decref(rep);
    json_t *a = find(r, sp, ID_A);
    assert_string_equal(jstr(a, "name"), "张,三");
    assert_string_equal(jstr(a, "employer"), "贵州\"黔运\"物流, 有限公司");
    assert_string_equal(jstr(a, "phone"), PHONE_A);
    assert_string_equal(jstr(a, "status"), "applicant");
    assert_true(jset_has(a, "business_scope", "cold_chain"));
    assert_true(jset_has(a, "business_scope", "general_cargo"));
    json_decref(a);
    json_t *b = find(r, sp, ID_B);
    assert_string_equal(jstr(b, "name"), "李四");
    assert_string_equal(jstr(b, "status"), "candidate");
    assert_int_equal(json_array_size(json_object_get(b, "business_scope")), 2);
    assert_true(jset_has(b, "business_scope", "hazardous"));
    json_decref(b);
    json_t *c = find(r, sp, ID_C);
    assert_string_equal(jstr(c, "name"), "赵六");
    assert_string_equal(jstr(c, "status"), "activist");
    json_decref(c);
    dc_replica_close(r);
}

/* ---- sensitive values ---- */

static bool contains(const void *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp((const char *)hay + i, needle, k) == 0)
            return true;
    return false;
}

static void scan_file_for(const char *path, const char *const *needles, size_t nn) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    for (size_t k = 0; k < nn; k++)
        if (contains(buf, (size_t)n, needles[k]))
            fail_msg("%s holds %s in clear", path, needles[k]);
    free(buf);
}

static void test_no_clear_values(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("clear.db", sp);
    json_decref(
        import(r, sp, DC_SOURCE_ORGANISATION, 1,
               fmt(HEADER "张三,%s,%s,,,,,,,\n李四,%s,%s,,,,,,,\n", ID_A, PHONE_A, ID_B, PHONE_B)));
    json_decref(
        import(r, sp, DC_SOURCE_TRANSPORT, 2, fmt(HEADER "张三,%s,%s,,,,,,,\n", ID_A, PHONE_A2)));
    /* The values are there for a member... */
    json_t *a = find(r, sp, ID_A);
    assert_string_equal(jstr(a, "id_number"), ID_A);
    json_decref(a);
    char *dump;
    {
        dc_buf b = DC_BUF_INIT;
        dc_test_ok(r, dc_replica_dump(&b, r, NULL));
        dump = strdup((const char *)b.ptr);
        dc_buf_dispose(&b);
    }
    dc_replica_close(r);
    const char *needles[] = {ID_A, ID_B, PHONE_A, PHONE_A2, PHONE_B,
                             /* also a part long enough to identify someone */
                             fmt("%.14s", ID_A)};
    size_t nn = sizeof needles / sizeof needles[0];
    for (size_t k = 0; k < nn; k++)
        if (strstr(dump, needles[k]))
            fail_msg("the dump holds %s in clear", needles[k]);
    free(dump);
    /* ...but not in the materialised tables, read with SQLite itself. */
    sqlite3 *db;
    char path[600];
    snprintf(path, sizeof path, "%s/clear.db", g_d.path);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    static const char *const Q[] = {
        /* every register and set member of every record */
        "SELECT state FROM records WHERE state IS NOT NULL",
        "SELECT CAST(name AS BLOB) FROM names",
        "SELECT body FROM events",
        "SELECT CAST(id AS BLOB) FROM records",
    };
    long values = 0, regs = 0;
    for (size_t q = 0; q < sizeof Q / sizeof Q[0]; q++) {
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, Q[q], -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const void *p = sqlite3_column_blob(st, 0);
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            values++;
            regs += q == 0;
            for (size_t k = 0; k < nn && p; k++)
                if (contains(p, n, needles[k]))
                    fail_msg("%s: a value holds %s in clear", Q[q], needles[k]);
        }
        sqlite3_finalize(st);
    }
    /* The queries did read the records: both people's registers, and the
     * rest of the state. */
    assert_true(regs >= 2);
    assert_true(values > 5);
    sqlite3_close(db);
    /* The whole file too (the change log is encrypted). */
    scan_file_for(path, needles, nn);
    snprintf(path, sizeof path, "%s/clear.db-wal", g_d.path);
    scan_file_for(path, needles, nn);
}

/* ---- lookups ---- */

static void test_lookup(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("lookup.db", sp);
    char idx[19];
    make_id(idx, "11010519491231002"); /* check character X */
    assert_int_equal(idx[17], 'X');
    json_decref(import(r, sp, DC_SOURCE_ORGANISATION, 1, fmt(HEADER "张三,%s,,,,,,,,\n", idx)));
    char lower[40];
    snprintf(lower, sizeof lower, " %.17sx ", idx);
    json_t *a = find(r, sp, lower);
    assert_string_equal(jstr(a, "id_number"), idx);
    json_decref(a);
    dc_buf out = DC_BUF_INIT;
    assert_int_equal(dc_registry_find(&out, r, sp, ID_B), DC_ENOTFOUND);
    assert_int_equal(dc_registry_find(&out, r, sp, ID_BAD), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(r), "check digit"));
    assert_int_equal(dc_registry_find(&out, r, sp, "12345"), DC_EINVAL);
    assert_int_equal(dc_registry_driver_id(&out, r, sp, ID_BAD), DC_EINVAL);
    /* The id is per space (keyed by the space key): another registry space
     * gives another id, so ids do not link people across registries. */
    dc_buf sp2 = DC_BUF_INIT;
    dc_test_ok(r, dc_space_create(&sp2, r, "registry 2"));
    char *d1 = driver_id(r, sp, idx), *d2 = driver_id(r, (const char *)sp2.ptr, idx);
    assert_string_not_equal(d1, d2);
    free(d1);
    free(d2);
    dc_buf_dispose(&sp2);
    dc_buf_dispose(&out);
    dc_replica_close(r);
}

/* A field an app wrote on a driver record with the generic API (a float
 * register, a set of bytes) is shown by `find` as the record read shows it:
 * both are written by the library's one value writer. */
static void test_find_shows_app_values(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("appvalues.db", sp);
    json_decref(import(r, sp, DC_SOURCE_ORGANISATION, 1, fmt(HEADER "张三,%s,,,,,,,,\n", ID_A)));
    char *did = driver_id(r, sp, ID_A);
    dc_txn *t = NULL;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_value w = {.kind = DC_FLOAT, .real = 1.5};
    dc_value ph = {.kind = DC_BYTES, .ptr = "\x01\x02\xff", .len = 3};
    dc_test_ok(r, dc_txn_set_value(t, "driver", did, "load_t", &w));
    dc_test_ok(r, dc_txn_add_value(t, "driver", did, "photos", &ph));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    json_t *a = find(r, sp, ID_A);
    json_t *load = json_object_get(a, "load_t");
    assert_true(json_is_real(load));
    assert_true(json_real_value(load) == 1.5);
    json_t *photos = json_object_get(a, "photos");
    assert_true(json_is_array(photos) && json_array_size(photos) == 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(photos, 0), "@bytes")),
                        "AQL/");
    /* The same text as the record read of the replica. */
    dc_buf rec = DC_BUF_INIT, out = DC_BUF_INIT;
    dc_test_ok(r, dc_record_get(&rec, r, sp, "driver", did));
    dc_test_ok(r, dc_registry_find(&out, r, sp, ID_A));
    assert_non_null(strstr((const char *)rec.ptr, "\"load_t\":1.5"));
    assert_non_null(strstr((const char *)out.ptr, "\"load_t\":1.5"));
    assert_non_null(strstr((const char *)rec.ptr, "{\"@bytes\":\"AQL/\"}"));
    assert_non_null(strstr((const char *)out.ptr, "\"photos\":[{\"@bytes\":\"AQL/\"}]"));
    dc_buf_dispose(&rec);
    dc_buf_dispose(&out);
    json_decref(a);
    free(did);
    dc_replica_close(r);
}

/* ---- idempotence ---- */

static void test_reimport_changes_nothing(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("again.db", sp);
    const char *csv = fmt(HEADER "张三,%s,%s,520102,贵A1,甲,线,区,冷链,群众\n"
                                 "李四,%s,%s,520112,贵A2,乙,线,区,普货,群众\n",
                          ID_A, PHONE_A, ID_B, PHONE_B);
    json_decref(import(r, sp, DC_SOURCE_ORGANISATION, 1, csv));
    dc_buf s1 = DC_BUF_INIT, s2 = DC_BUF_INIT;
    dc_test_ok(r, dc_replica_status(&s1, r));
    json_t *rep = import(r, sp, DC_SOURCE_ORGANISATION, 1, csv);
    assert_int_equal(jint(rep, "unchanged"), 2);
    assert_int_equal(jint(rep, "merged"), 2);
    json_decref(rep);
    dc_test_ok(r, dc_replica_status(&s2, r));
    assert_string_equal((const char *)s1.ptr, (const char *)s2.ptr); /* no new change */
    dc_buf_dispose(&s1);
    dc_buf_dispose(&s2);
    /* The same person twice in one file (two rows of one batch). */
    rep = import(r, sp, DC_SOURCE_TRANSPORT, 1,
                 fmt(HEADER "张三,%s,,,,,,,,\n张三,%s,,,,丙,,,,\n", ID_A, ID_A));
    assert_int_equal(jint(rep, "imported"), 2);
    assert_int_equal(jint(rep, "flagged"), 1); /* 甲 vs 丙 (the second row) */
    json_decref(rep);
    dc_replica_close(r);
}

/* ---- convergence of two offline importers ---- */

static void exchange(dc_replica *from, dc_replica *to) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(from, dc_bundle_export(&b, from, NULL));
    dc_test_ok(to, dc_bundle_import(to, b.ptr, b.size, NULL));
    if (dc_test_accept_invitations(to) != 0)
        fail_msg("accept: %s", dc_replica_errmsg(to));
    dc_buf_dispose(&b);
}

static char *text_of(int which, dc_replica *r, const char *sp, const char *id) {
    dc_buf b = DC_BUF_INIT;
    if (which == 0)
        dc_test_ok(r, dc_replica_dump(&b, r, NULL));
    else if (which == 1)
        dc_test_ok(r, dc_registry_conflicts(&b, r, sp));
    else
        dc_test_ok(r, dc_registry_find(&b, r, sp, id));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

static void test_two_offline_importers_converge(void **state) {
    (void)state;
    char sp[33];
    dc_replica *a = registry("sec_a.db", sp);
    dc_replica *b = dc_test_open(&g_d, "sec_b.db");
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(b, dc_replica_card(&card, b));
    dc_test_ok(a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
    exchange(a, b);
    /* Offline: each secretary imports one line; neither sees the other's
     * disagreement, so neither import can flag it. */
    json_t *ra = import(a, sp, DC_SOURCE_ORGANISATION, 1,
                        fmt(HEADER "张三,%s,%s,520102,贵A1,顺丰冷链,,花溪,冷链,正式党员\n"
                                   "李四,%s,,520112,,,,,,群众\n",
                            ID_A, PHONE_A, ID_B));
    g_d.now += 60000;
    json_t *rb = import(b, sp, DC_SOURCE_TRANSPORT, 1,
                        fmt(HEADER "张叁,%s,%s,520102,贵A2,满帮平台,,花溪,普货,正式党员\n"
                                   "王五,%s,,522601,,,,,,\n",
                            ID_A, PHONE_A2, ID_C));
    assert_int_equal(jint(ra, "flagged"), 0);
    assert_int_equal(jint(rb, "flagged"), 0);
    json_decref(ra);
    json_decref(rb);
    exchange(a, b);
    exchange(b, a);
    for (int w = 0; w < 3; w++) {
        char *x = text_of(w, a, sp, ID_A), *y = text_of(w, b, sp, ID_A);
        if (strcmp(x, y) != 0) {
            fprintf(stderr, "A: %s\nB: %s\n", x, y);
            fail_msg("replicas differ (%s):\n%s\n%s",
                     w == 0   ? "dump"
                     : w == 1 ? "conflicts"
                              : "find",
                     x, y);
        }
        free(x);
        free(y);
    }
    char *did = driver_id(a, sp, ID_A);
    json_t *list = conflicts(a, sp, NULL);
    assert_int_equal(json_array_size(list), 1);
    assert_true(has_entry(conflict_of(list, did, "name"), "张三", "organisation", 1));
    assert_true(has_entry(conflict_of(list, did, "name"), "张叁", "transport", 1));
    assert_true(has_entry(conflict_of(list, did, "employer"), "满帮平台", "transport", 1));
    assert_true(has_entry(conflict_of(list, did, "phone"), PHONE_A2, "transport", 1));
    assert_null(conflict_of(list, did, "political_status"));
    json_decref(list);
    assert_int_equal(count_drivers(a, sp), 3);
    json_t *fa = find(a, sp, ID_A);
    assert_true(json_is_true(json_object_get(fa, "flagged")));
    assert_true(jset_has(fa, "plates", "贵A1") && jset_has(fa, "plates", "贵A2"));
    json_decref(fa);

    /* Two concurrent re-verifications settling differently: both reports
     * are kept, the fold sees two values in round 2: still in conflict,
     * the same on both. */
    json_decref(
        import(a, sp, DC_SOURCE_ORGANISATION, 2, fmt(HEADER "张三,%s,,,,顺丰冷链,,,,\n", ID_A)));
    json_decref(
        import(b, sp, DC_SOURCE_TRANSPORT, 2, fmt(HEADER "张三,%s,,,,满帮平台,,,,\n", ID_A)));
    exchange(a, b);
    exchange(b, a);
    char *x = text_of(1, a, sp, NULL), *y = text_of(1, b, sp, NULL);
    assert_string_equal(x, y);
    assert_non_null(strstr(x, "\"round\":2"));
    free(x);
    free(y);
    x = text_of(0, a, sp, NULL);
    y = text_of(0, b, sp, NULL);
    assert_string_equal(x, y);
    free(x);
    free(y);
    free(did);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- garbage in: a report, never a crash ---- */

static void test_garbage_rows(void **state) {
    (void)state;
    char sp[33];
    dc_replica *r = registry("garbage.db", sp);
    /* Seeded, so a failure replays. */
    uint64_t x = 0x9E3779B97F4A7C15u;
    static const char *const bits[] = {
        ",",  "\"", "\"\"", "\n", "\r\n", "\r",       " ",  "；",           ";", "\xff", "\xe5\xbc",
        "张", "x",  "X",    "0",  "1",    "正式党员", "\t", "\xef\xbb\xbf", ""};
    for (int round = 1; round <= 40; round++) {
        char csv[4096];
        size_t k = (size_t)snprintf(csv, sizeof csv, "%s", HEADER);
        for (int i = 0; i < 200 && k < sizeof csv - 64; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (x % 7 == 0) {
                k += (size_t)snprintf(csv + k, sizeof csv - k, "%s", x % 2 ? ID_A : ID_B);
                continue;
            }
            const char *b = bits[x % (sizeof bits / sizeof bits[0])];
            memcpy(csv + k, b, strlen(b));
            k += strlen(b);
        }
        dc_buf rep = DC_BUF_INIT;
        dc_test_ok(
            r, dc_registry_import_csv(&rep, r, sp, round % 2 + 1, round, (const uint8_t *)csv, k));
        json_t *j = json_loads((const char *)rep.ptr, 0, NULL);
        assert_non_null(j);
        assert_int_equal(jint(j, "rows"),
                         jint(j, "imported") + (long)json_array_size(json_object_get(j, "errors")));
        json_decref(j);
        dc_buf_dispose(&rep);
    }
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_conflicts(&out, r, sp));
    dc_buf_dispose(&out);
    dc_replica_close(r);
}

/* ---- throughput ---- */

static char *big_csv(long n, size_t *len) {
    size_t cap = (size_t)n * 160 + 256, k = 0;
    char *s = malloc(cap);
    k += (size_t)snprintf(s, cap, "%s", HEADER);
    for (long i = 0; i < n; i++) {
        char d17[40], id[19];
        /* Unique numbers: the region, then eleven digits that carry i. */
        snprintf(d17, sizeof d17, "520102%011lld", 19600101000LL + i);
        make_id(id, d17);
        k += (size_t)snprintf(s + k, cap - k,
                              "司机%ld,%s,1%010lld,5201%02ld,贵A%05ld,企业%ld,贵阳-遵义,园区%ld,"
                              "冷链;普货,%s\n",
                              i, id, 3000000000LL + i, i % 30 + 1, i % 100000, i % 500, i % 50,
                              i % 40 == 0 ? "正式党员" : "群众");
    }
    *len = k;
    return s;
}

static bool g_only_new; /* bench: skip the merge and conflicts phases */

static double run_bench(long n, bool print) {
    char sp[33];
    dc_replica *r = registry(fmt("bench%ld.db", n), sp);
    size_t len;
    char *csv = big_csv(n, &len);
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    dc_buf rep = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_import_csv(&rep, r, sp, DC_SOURCE_ORGANISATION, 1,
                                         (const uint8_t *)csv, len));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    if (!strstr((const char *)rep.ptr, fmt("\"new_drivers\":%ld,", n)))
        fail_msg("bench report: %s", (const char *)rep.ptr);
    if (g_only_new) {
        printf("registry import: %ld rows new in %.2f s = %.0f rows/s (CPU %.2f s)\n", n, s,
               (double)n / s, cpu);
        dc_buf_dispose(&rep);
        free(csv);
        dc_replica_close(r);
        return (double)n / s;
    }
    /* The second line merges into every driver. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dc_test_ok(
        r, dc_registry_import_csv(&rep, r, sp, DC_SOURCE_TRANSPORT, 1, (const uint8_t *)csv, len));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s2 = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dc_buf c = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_conflicts(&c, r, sp));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s3 = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (print)
        printf("registry import: %ld rows new in %.2f s = %.0f rows/s (CPU %.2f s); merged in %.2f "
               "s = %.0f "
               "rows/s; conflicts scan %.2f s\n",
               n, s, (double)n / s, cpu, s2, (double)n / s2, s3);
    dc_buf_dispose(&c);
    dc_buf_dispose(&rep);
    free(csv);
    dc_replica_close(r);
    return (double)n / s;
}

static void test_throughput_small(void **state) {
    (void)state;
    run_bench(1500, false);
}

int main(int argc, char **argv) {
    ids();
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "bench") == 0) {
        g_only_new = argc == 4 && strcmp(argv[3], "new") == 0;
        if (setup(NULL))
            return 1;
        run_bench(atol(argv[2]), true);
        teardown(NULL);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge_two_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_and_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_shows_app_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_dialect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_clear_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_offline_importers_converge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput_small, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
