/*
 * Unit tests of the organised side of the domain (include/drivercore/org.h,
 * docs/domain.md): regions and their code rules, organisations, Driver's
 * Homes with facilities, check-ins in the personal space, branch suggestion
 * by each of the four principles with its tie-breaks, the coverage report
 * (unassigned, doubly listed, roster against registry), secretaries' task
 * lists, study read state merged from several offline phones through
 * bundles, liaison chains counted per level with contact logs, the bulk
 * (_txn) forms, and bad arguments refused with nothing written.
 * Driver records are written here with dc_txn_set exactly as docs/domain.md
 * lays them out, as the registry area writes them.
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

#include "drivercore.h"
#include "../../common/replica_fixture.h"

static dc_test_dir g_d;

#define OK(r, call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s:%d: %s: %s", __FILE__, __LINE__, dc_error_name(rc_),                      \
                     dc_replica_errmsg(r));                                                        \
    } while (0)

/* The call fails with `code` and its message contains `needle`. */
#define FAILS(r, code, needle, call)                                                               \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (code))                                                                         \
            fail_msg("%s:%d: expected %s, got %s (%s)", __FILE__, __LINE__, dc_error_name(code),   \
                     dc_error_name(rc_), dc_replica_errmsg(r));                                    \
        if ((needle) && !strstr(dc_replica_errmsg(r), (needle)))                                   \
            fail_msg("%s:%d: message '%s' lacks '%s'", __FILE__, __LINE__, dc_replica_errmsg(r),   \
                     (const char *)(needle));                                                      \
    } while (0)

static char *space_new(dc_replica *r, const char *name) {
    dc_buf b = DC_BUF_INIT;
    OK(r, dc_space_create(&b, r, name));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

static void share(dc_replica *a, const char *space, dc_replica *b, int role) {
    dc_buf card = DC_BUF_INIT;
    OK(b, dc_replica_card(&card, b));
    OK(a, dc_space_add(a, space, (const char *)card.ptr, role));
    dc_buf_dispose(&card);
}

static json_t *parse(dc_buf *b) {
    json_error_t e;
    json_t *j = json_loads((const char *)b->ptr, 0, &e);
    if (!j)
        fail_msg("bad JSON (%s): %s", e.text, (const char *)b->ptr);
    dc_buf_dispose(b);
    return j;
}

static json_int_t jint(json_t *o, const char *path) {
    /* path: "a.b.c" through objects */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = o;
    for (char *k = strtok(buf, "."); k; k = strtok(NULL, "."))
        cur = json_object_get(cur, k);
    if (!json_is_integer(cur))
        fail_msg("no integer at %s", path);
    return json_integer_value(cur);
}

static const char *jstr(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "model-org");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

/* A driver record laid out as docs/domain.md says (registry space). */
static void put_driver(dc_replica *r, const char *reg, const char *id, const char *hukou,
                       const char *activity, const char *routes, const char *scope,
                       const char *status, const char *branch) {
    dc_txn *t;
    char buf[256];
    OK(r, dc_txn_begin(&t, r, reg));
    OK(r, dc_txn_set(t, "driver", id, "name", DC_STR, 0, id));
    OK(r, dc_txn_set(t, "driver", id, "hukou_region", DC_STR, 0, hukou));
    OK(r, dc_txn_set(t, "driver", id, "activity_area", DC_STR, 0, activity));
    OK(r, dc_txn_set(t, "driver", id, "status", DC_STR, 0, status));
    OK(r, dc_txn_set(t, "driver", id, "branch", branch ? DC_STR : DC_NULL, 0, branch));
    const char *lists[2] = {routes, scope}, *fields[2] = {"routes", "business_scope"};
    for (int k = 0; k < 2; k++) {
        if (!lists[k])
            continue;
        snprintf(buf, sizeof buf, "%s", lists[k]);
        for (char *p = strtok(buf, ","); p; p = strtok(NULL, ","))
            OK(r, dc_txn_add(t, "driver", id, fields[k], DC_STR, 0, p));
    }
    OK(r, dc_txn_commit(t, NULL));
}

static void put_branch(dc_replica *r, const char *space, const char *code, const char *hukou,
                       const char *activity, const char *routes, const char *scope) {
    dc_branch_options o = DC_BRANCH_OPTIONS_INIT;
    const char *rv[8], *sv[8];
    char rb[128], sb[128];
    size_t nr = 0, ns = 0;
    snprintf(rb, sizeof rb, "%s", routes ? routes : "");
    snprintf(sb, sizeof sb, "%s", scope ? scope : "");
    for (char *p = strtok(rb, ","); p; p = strtok(NULL, ","))
        rv[nr++] = p;
    for (char *p = strtok(sb, ","); p; p = strtok(NULL, ","))
        sv[ns++] = p;
    o.code = code;
    o.name = code;
    o.region = "520100";
    o.hukou_region = hukou;
    o.activity_area = activity;
    o.routes = rv;
    o.nroutes = nr;
    o.business_scope = sv;
    o.nbusiness_scope = ns;
    OK(r, dc_branch_put(NULL, r, space, &o));
}

/* ---- regions and organisations ---- */

static void test_regions(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "regions.db");
    char *dir = space_new(r, "directory");
    OK(r, dc_region_put(r, dir, "520000", "贵州省", "province", NULL));
    OK(r, dc_region_put(r, dir, "520100", "贵阳市", "city", "520000"));
    OK(r, dc_region_put(r, dir, "520112", "乌当区", "county", "520100"));
    OK(r, dc_region_put(r, dir, "520112001", "新天街道", "township", "520112"));
    OK(r, dc_region_put(r, dir, "520112001001", "某社区", "village", "520112001"));
    char *before = dc_test_dump(r);

    FAILS(r, DC_EINVAL, "is a county code, not a city",
          dc_region_put(r, dir, "520112", "x", "city", NULL));
    FAILS(r, DC_EINVAL, "cannot be the parent",
          dc_region_put(r, dir, "520112", "x", "county", "530100"));
    FAILS(r, DC_EINVAL, "cannot be the parent",
          dc_region_put(r, dir, "520100", "x", "city", "520112"));
    FAILS(r, DC_EINVAL, "not a region code", dc_region_put(r, dir, "52011", "x", "county", NULL));
    FAILS(r, DC_EINVAL, "not one of: province",
          dc_region_put(r, dir, "520000", "x", "state", NULL));
    FAILS(r, DC_EINVAL, "name is missing", dc_region_put(r, dir, "520000", "", "province", NULL));
    assert_int_equal(dc_region_put(NULL, dir, "520000", "x", "province", NULL), DC_EMISUSE);
    char *after = dc_test_dump(r);
    assert_string_equal(before, after); /* nothing half-applied */

    dc_buf b = DC_BUF_INIT;
    OK(r, dc_record_get(&b, r, dir, "region", "520112"));
    json_t *j = parse(&b);
    assert_string_equal(jstr(j, "level"), "county");
    assert_string_equal(jstr(j, "parent"), "520100");
    json_decref(j);

    /* Organisations. */
    dc_org_options o = DC_ORG_OPTIONS_INIT;
    o.kind = "committee";
    o.code = "520112";
    o.name = "乌当区道路货运行业党委";
    o.region = "520112";
    FAILS(r, DC_EINVAL, "level is missing", dc_org_put(NULL, r, dir, &o));
    o.level = "county";
    dc_buf id = DC_BUF_INIT;
    OK(r, dc_org_put(&id, r, dir, &o));
    assert_string_equal((const char *)id.ptr, "committee-520112");

    dc_org_options jm = DC_ORG_OPTIONS_INIT;
    const char *deps[] = {"department-cac", "department-police", "transport_dept-520112"};
    jm.kind = "joint_meeting";
    jm.code = "520112";
    jm.name = "乌当区联席会议";
    jm.level = "county";
    jm.departments = deps;
    jm.ndepartments = 3;
    OK(r, dc_org_put(NULL, r, dir, &jm));
    OK(r, dc_record_get(&b, r, dir, "org", "joint_meeting-520112"));
    j = parse(&b);
    assert_int_equal(json_array_size(json_object_get(j, "departments")), 3);
    json_decref(j);

    dc_org_options bad = jm;
    bad.kind = "enterprise";
    bad.level = NULL;
    FAILS(r, DC_EINVAL, "only a joint meeting", dc_org_put(NULL, r, dir, &bad));
    bad = jm;
    const char *bad_dep[] = {"police"};
    bad.departments = bad_dep;
    bad.ndepartments = 1;
    FAILS(r, DC_EINVAL, "not an organisation id", dc_org_put(NULL, r, dir, &bad));
    bad = o;
    bad.kind = "club";
    FAILS(r, DC_EINVAL, "kind 'club' is not one of", dc_org_put(NULL, r, dir, &bad));
    bad = o;
    bad.code = "a/b";
    FAILS(r, DC_EINVAL, "must not contain '/'", dc_org_put(NULL, r, dir, &bad));
    bad = o;
    bad.version = 99;
    FAILS(r, DC_EINVAL, "unknown version", dc_org_put(NULL, r, dir, &bad));

    dc_buf_dispose(&id);
    free(before);
    free(after);
    free(dir);
    dc_replica_close(r);
}

/* ---- Driver's Homes and check-ins ---- */

static void test_stations_and_checkins(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "stations.db");
    char *dir = space_new(r, "directory");
    char *me = space_new(r, "driver drv-me");
    const char *fac[] = {"study_room", "kitchen", "showers", "massage_chairs"};
    dc_station_options o = DC_STATION_OPTIONS_INIT;
    o.code = "520112-01";
    o.name = "乌当区司机之家";
    o.site = "logistics_park";
    o.region = "520112";
    o.operator_org = "station_operator-pubu";
    o.agreement = "区交通运输局、区总工会与贵州瀑布冷链食品投资有限公司共建共管协议";
    o.facilities = fac;
    o.nfacilities = 4;
    dc_buf id = DC_BUF_INIT;
    OK(r, dc_station_put(&id, r, dir, &o));
    assert_string_equal((const char *)id.ptr, "dh-520112-01");
    dc_station_options o2 = DC_STATION_OPTIONS_INIT;
    const char *fac2[] = {"parking", "rest", "meals"};
    o2.code = "520402-01";
    o2.name = "安顺经开区司机之家";
    o2.site = "logistics_park";
    o2.region = "520402";
    o2.facilities = fac2;
    o2.nfacilities = 3;
    OK(r, dc_station_put(NULL, r, dir, &o2));

    /* Facilities change after the fact. */
    OK(r, dc_station_facility(r, dir, "dh-520402-01", "showers", 1));
    OK(r, dc_station_facility(r, dir, "dh-520112-01", "kitchen", 0));
    FAILS(r, DC_ENOTFOUND, "no station", dc_station_facility(r, dir, "dh-nope", "showers", 1));
    FAILS(r, DC_EINVAL, "facility 'sauna'",
          dc_station_facility(r, dir, "dh-520402-01", "sauna", 1));

    dc_buf b = DC_BUF_INIT;
    OK(r, dc_station_list(&b, r, dir, NULL, "showers"));
    json_t *j = parse(&b);
    json_t *st = json_object_get(j, "stations");
    assert_int_equal(json_array_size(st), 2);
    OK(r, dc_station_list(&b, r, dir, "5201", NULL));
    json_decref(j);
    j = parse(&b);
    st = json_object_get(j, "stations");
    assert_int_equal(json_array_size(st), 1);
    json_t *s0 = json_array_get(st, 0);
    assert_string_equal(jstr(s0, "station"), "dh-520112-01");
    assert_string_equal(jstr(s0, "operator"), "station_operator-pubu");
    json_t *f = json_object_get(s0, "facilities");
    assert_int_equal(json_array_size(f), 3); /* kitchen removed */
    assert_string_equal(json_string_value(json_array_get(f, 0)), "massage_chairs");
    json_decref(j);
    OK(r, dc_station_list(&b, r, dir, NULL, "kitchen"));
    j = parse(&b);
    assert_int_equal(json_array_size(json_object_get(j, "stations")), 0);
    json_decref(j);

    dc_station_options bad = o;
    bad.site = "motel";
    FAILS(r, DC_EINVAL, "site 'motel'", dc_station_put(NULL, r, dir, &bad));
    bad = o;
    bad.region = "guiyang";
    FAILS(r, DC_EINVAL, "not a region code", dc_station_put(NULL, r, dir, &bad));

    /* Check-ins are the driver's own, in his personal space. */
    dc_checkin_options c = DC_CHECKIN_OPTIONS_INIT;
    c.station = "dh-520112-01";
    c.used = "massage_chairs";
    c.feedback = "按摩椅很舒服";
    c.rating = 5;
    c.at_ms = g_d.now;
    OK(r, dc_checkin(r, me, &c));
    dc_checkin_options c2 = DC_CHECKIN_OPTIONS_INIT;
    c2.station = "dh-520112-01";
    c2.at_ms = g_d.now + 3600000;
    OK(r, dc_checkin(r, me, &c2));
    char *before = dc_test_dump(r);
    dc_checkin_options bc = c;
    bc.rating = 6;
    FAILS(r, DC_EINVAL, "rating 6", dc_checkin(r, me, &bc));
    bc = c;
    bc.used = "sauna";
    FAILS(r, DC_EINVAL, "facility used 'sauna'", dc_checkin(r, me, &bc));
    bc = c;
    bc.station = "520112-01";
    FAILS(r, DC_EINVAL, "'dh-...'", dc_checkin(r, me, &bc));
    char *after = dc_test_dump(r);
    assert_string_equal(before, after);

    OK(r, dc_checkin_list(&b, r, me));
    j = parse(&b);
    json_t *ci = json_object_get(j, "checkins");
    assert_int_equal(json_array_size(ci), 2);
    assert_string_equal(jstr(json_array_get(ci, 0), "used"), "massage_chairs");
    assert_int_equal(jint(json_array_get(ci, 0), "rating"), 5);
    assert_true(json_is_null(json_object_get(json_array_get(ci, 1), "rating")));
    json_decref(j);
    /* Nothing of the check-ins is in the directory. */
    OK(r, dc_replica_dump(&b, r, dir));
    assert_null(strstr((const char *)b.ptr, "checkin"));
    dc_buf_dispose(&b);

    dc_buf_dispose(&id);
    free(before);
    free(after);
    free(dir);
    free(me);
    dc_replica_close(r);
}

/* ---- suggestion by the four principles ---- */

typedef struct sugg {
    const char *branch;
    int score, p[4];
} sugg;

static void suggestions(dc_replica *r, const char *reg, const char *driver, size_t limit, sugg *out,
                        size_t *n) {
    dc_buf b = DC_BUF_INIT;
    OK(r, dc_branch_suggest(&b, r, reg, driver, limit));
    json_t *j = parse(&b);
    json_t *a = json_object_get(j, "suggestions");
    static char ids[32][64];
    *n = json_array_size(a);
    for (size_t i = 0; i < *n; i++) {
        json_t *s = json_array_get(a, i);
        snprintf(ids[i], sizeof ids[i], "%s", jstr(s, "branch"));
        out[i].branch = ids[i];
        out[i].score = (int)jint(s, "score");
        out[i].p[0] = (int)jint(s, "principles.hukou_region");
        out[i].p[1] = (int)jint(s, "principles.routes");
        out[i].p[2] = (int)jint(s, "principles.activity_area");
        out[i].p[3] = (int)jint(s, "principles.business_scope");
    }
    json_decref(j);
}

static void test_suggest_each_principle(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "suggest.db");
    char *reg = space_new(r, "registry");
    char *b1 = space_new(r, "branch 1"), *b2 = space_new(r, "branch 2");
    put_driver(r, reg, "drv-a", "520112", "520402", "贵阳-重庆,贵阳-昆明", "cold_chain",
               "probationary", NULL);
    sugg s[32];
    size_t n;

    /* Principle 1 alone: hukou county > city > province > elsewhere. */
    put_branch(r, b1, "h-county", "520112", NULL, NULL, NULL);
    put_branch(r, b1, "h-city", "520113", NULL, NULL, NULL);
    put_branch(r, b2, "h-prov", "520201", NULL, NULL, NULL);
    put_branch(r, b2, "h-none", "530102", NULL, NULL, NULL);
    put_branch(r, b2, "h-cityonly", "520100", NULL, NULL, NULL);
    suggestions(r, reg, "drv-a", 10, s, &n);
    assert_int_equal(n, 5);
    assert_string_equal(s[0].branch, "branch-h-county");
    assert_int_equal(s[0].p[0], 100);
    /* A branch whose hukou region is the city itself agrees on the city. */
    assert_string_equal(s[1].branch, "branch-h-city");
    assert_string_equal(s[2].branch, "branch-h-cityonly");
    assert_int_equal(s[1].p[0], 60);
    assert_int_equal(s[2].p[0], 60);
    assert_string_equal(s[3].branch, "branch-h-prov");
    assert_int_equal(s[3].p[0], 30);
    assert_string_equal(s[4].branch, "branch-h-none");
    assert_int_equal(s[4].score, 0);

    /* Principle 2 alone: route overlap (Jaccard). */
    dc_replica *r2 = dc_test_open(&g_d, "suggest2.db");
    char *reg2 = space_new(r2, "registry"), *bb = space_new(r2, "branches");
    put_driver(r2, reg2, "drv-a", "520112", "520402", "贵阳-重庆,贵阳-昆明", "cold_chain",
               "probationary", NULL);
    put_branch(r2, bb, "r-same", NULL, NULL, "贵阳-重庆,贵阳-昆明", NULL);
    put_branch(r2, bb, "r-half", NULL, NULL, "贵阳-重庆", NULL);
    put_branch(r2, bb, "r-third", NULL, NULL, "贵阳-重庆,贵阳-长沙", NULL);
    put_branch(r2, bb, "r-none", NULL, NULL, "贵阳-广州", NULL);
    suggestions(r2, reg2, "drv-a", 10, s, &n);
    assert_int_equal(n, 4);
    assert_string_equal(s[0].branch, "branch-r-same");
    assert_int_equal(s[0].p[1], 100);
    assert_string_equal(s[1].branch, "branch-r-half");
    assert_int_equal(s[1].p[1], 50);
    assert_string_equal(s[2].branch, "branch-r-third");
    assert_int_equal(s[2].p[1], 33);
    assert_int_equal(s[3].p[1], 0);

    /* Principles 3 and 4 on a third replica. */
    dc_replica *r3 = dc_test_open(&g_d, "suggest3.db");
    char *reg3 = space_new(r3, "registry"), *b3 = space_new(r3, "branches");
    put_driver(r3, reg3, "drv-a", "520112", "520402", NULL, "cold_chain,general_cargo", "member",
               "branch-x");
    put_branch(r3, b3, "a-county", NULL, "520402", NULL, NULL);
    put_branch(r3, b3, "a-city", NULL, "520403", NULL, NULL);
    put_branch(r3, b3, "s-both", NULL, NULL, NULL, "general_cargo,cold_chain");
    put_branch(r3, b3, "s-one", NULL, NULL, NULL, "cold_chain,hazardous");
    suggestions(r3, reg3, "drv-a", 10, s, &n);
    assert_int_equal(n, 4);
    /* a-county 100 and s-both 100 tie on the total: activity (3rd
     * principle) comes before scope (4th) in the tie-break. */
    assert_string_equal(s[0].branch, "branch-a-county");
    assert_int_equal(s[0].p[2], 100);
    assert_string_equal(s[1].branch, "branch-s-both");
    assert_int_equal(s[1].p[3], 100);
    assert_string_equal(s[2].branch, "branch-a-city");
    assert_int_equal(s[2].p[2], 60);
    assert_string_equal(s[3].branch, "branch-s-one");
    assert_int_equal(s[3].p[3], 33);
    dc_buf b = DC_BUF_INIT;
    OK(r3, dc_branch_suggest(&b, r3, reg3, "drv-a", 1));
    json_t *j = parse(&b);
    assert_string_equal(jstr(j, "current"), "branch-x");
    assert_string_equal(jstr(j, "status"), "member");
    assert_int_equal(jint(j, "branches"), 4);
    assert_int_equal(json_array_size(json_object_get(j, "suggestions")), 1);
    json_decref(j);

    /* All four together, and ties broken by id. */
    put_branch(r3, b3, "all", "520112", "520402", NULL, "cold_chain,general_cargo");
    put_branch(r3, b3, "twin-b", "520112", NULL, NULL, NULL);
    put_branch(r3, b3, "twin-a", "520112", NULL, NULL, NULL);
    /* The same branch record held in two spaces is counted once. */
    char *b4 = space_new(r3, "copy");
    put_branch(r3, b4, "twin-a", "520112", NULL, NULL, NULL);
    suggestions(r3, reg3, "drv-a", 0, s, &n);
    assert_int_equal(n, 5); /* the default limit */
    assert_string_equal(s[0].branch, "branch-all");
    assert_int_equal(s[0].score, 300);
    /* twin-a, twin-b (hukou 100) rank before a-county (activity 100). */
    assert_string_equal(s[1].branch, "branch-twin-a");
    assert_string_equal(s[2].branch, "branch-twin-b");
    assert_string_equal(s[3].branch, "branch-a-county");
    OK(r3, dc_branch_suggest(&b, r3, reg3, "drv-a", 100));
    j = parse(&b);
    assert_int_equal(jint(j, "branches"), 7);
    json_decref(j);

    FAILS(r3, DC_ENOTFOUND, "no driver drv-b", dc_branch_suggest(&b, r3, reg3, "drv-b", 5));
    FAILS(r3, DC_EINVAL, "'drv-...'", dc_branch_suggest(&b, r3, reg3, "a", 5));
    dc_buf_dispose(&b);

    free(reg);
    free(b1);
    free(b2);
    free(reg2);
    free(bb);
    free(reg3);
    free(b3);
    free(b4);
    dc_replica_close(r);
    dc_replica_close(r2);
    dc_replica_close(r3);
}

/* ---- coverage ---- */

static json_t *coverage(dc_replica *r, const char *reg) {
    dc_buf b = DC_BUF_INIT;
    OK(r, dc_branch_coverage(&b, r, reg));
    return parse(&b);
}

static int list_has(json_t *a, const char *s) {
    for (size_t i = 0; i < json_array_size(a); i++)
        if (strcmp(json_string_value(json_array_get(a, i)), s) == 0)
            return 1;
    return 0;
}

static void test_coverage(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "coverage.db");
    char *reg = space_new(r, "registry"), *sa = space_new(r, "branch A"),
         *sb = space_new(r, "branch B");
    put_branch(r, sa, "A", "520112", NULL, NULL, NULL);
    put_branch(r, sb, "B", "520113", NULL, NULL, NULL);
    put_driver(r, reg, "drv-p1", "520112", "520112", NULL, NULL, "member", "branch-A");
    put_driver(r, reg, "drv-p2", "520112", "520112", NULL, NULL, "probationary", NULL);
    put_driver(r, reg, "drv-p3", "520112", "520112", NULL, NULL, "member", "branch-A");
    put_driver(r, reg, "drv-p4", "520112", "520112", NULL, NULL, "member", "branch-B");
    put_driver(r, reg, "drv-p5", "520112", "520112", NULL, NULL, "masses", NULL);
    put_driver(r, reg, "drv-p6", "520112", "520112", NULL, NULL, "member", "branch-C");
    put_driver(r, reg, "drv-p7", "520112", "520112", NULL, NULL, "activist", NULL);
    OK(r, dc_branch_member_add(r, sa, "branch-A", "drv-p1", "2025-03-01"));
    OK(r, dc_branch_member_add(r, sa, "branch-A", "drv-p3", NULL));
    OK(r, dc_branch_member_add(r, sb, "branch-B", "drv-p3", NULL));
    OK(r, dc_branch_member_add(r, sa, "branch-A", "drv-p4", NULL));
    OK(r, dc_branch_member_add(r, sa, "branch-A", "drv-ghost", NULL));

    json_t *j = coverage(r, reg);
    assert_int_equal(jint(j, "party_member_drivers"), 5);
    assert_int_equal(jint(j, "assigned"), 4);
    json_t *un = json_object_get(j, "unassigned");
    assert_int_equal(json_array_size(un), 1);
    assert_true(list_has(un, "drv-p2"));
    json_t *multi = json_object_get(j, "multiple_rosters");
    assert_int_equal(json_array_size(multi), 1);
    assert_true(list_has(multi, "drv-p3"));
    json_t *mis = json_object_get(j, "roster_mismatch");
    assert_int_equal(json_array_size(mis), 2);
    assert_string_equal(jstr(json_array_get(mis, 0), "driver"), "drv-p3");
    assert_string_equal(jstr(json_array_get(mis, 1), "driver"), "drv-p4");
    assert_string_equal(jstr(json_array_get(mis, 1), "registry"), "branch-B");
    assert_true(list_has(json_object_get(j, "unknown_drivers"), "drv-ghost"));
    assert_true(json_is_false(json_object_get(j, "covered")));
    assert_int_equal(jint(j, "branches.branch-A.registry"), 2);
    assert_int_equal(jint(j, "branches.branch-A.roster"), 4);
    assert_int_equal(jint(j, "branches.branch-C.registry"), 1);
    json_decref(j);

    /* Put everything right: the report comes out clean. */
    OK(r, dc_branch_assign(r, reg, "drv-p2", "branch-B"));
    OK(r, dc_branch_member_add(r, sb, "branch-B", "drv-p2", NULL));
    OK(r, dc_branch_member_remove(r, sb, "drv-p3"));
    OK(r, dc_branch_assign(r, reg, "drv-p4", "branch-A"));
    OK(r, dc_branch_member_remove(r, sa, "drv-ghost"));
    j = coverage(r, reg);
    assert_int_equal(jint(j, "assigned"), 5);
    assert_int_equal(json_array_size(json_object_get(j, "unassigned")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "roster_mismatch")), 0);
    assert_true(json_is_true(json_object_get(j, "covered")));
    json_decref(j);

    /* Unassigning puts him back on the list. */
    OK(r, dc_branch_assign(r, reg, "drv-p1", NULL));
    j = coverage(r, reg);
    assert_true(list_has(json_object_get(j, "unassigned"), "drv-p1"));
    /* ... and his listing on A's roster now disagrees with the registry. */
    assert_string_equal(jstr(json_array_get(json_object_get(j, "roster_mismatch"), 0), "driver"),
                        "drv-p1");
    json_decref(j);

    FAILS(r, DC_ENOTFOUND, "no driver drv-zz", dc_branch_assign(r, reg, "drv-zz", "branch-A"));
    FAILS(r, DC_EINVAL, "'branch-...'", dc_branch_assign(r, reg, "drv-p1", "A"));
    FAILS(r, DC_ENOTFOUND, "not on the roster", dc_branch_member_remove(r, sb, "drv-p1"));
    FAILS(r, DC_EINVAL, "not a date",
          dc_branch_member_add(r, sa, "branch-A", "drv-p1", "2025-02-30"));
    free(reg);
    free(sa);
    free(sb);
    dc_replica_close(r);
}

/* ---- secretaries ---- */

static json_t *secretary(dc_replica *r, const char *space, const char *id) {
    dc_buf b = DC_BUF_INIT;
    OK(r, dc_secretary_show(&b, r, space, id));
    json_t *j = parse(&b);
    json_t *one = json_incref(json_array_get(json_object_get(j, "secretaries"), 0));
    json_decref(j);
    return one;
}

static void test_secretary_tasks(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "sec-a.db"), *b = dc_test_open(&g_d, "sec-b.db");
    char *reg = space_new(a, "registry");
    share(a, reg, b, DC_ROLE_MEMBER);
    dc_secretary_options o = DC_SECRETARY_OPTIONS_INIT;
    o.branch = "branch-wudang";
    o.person = "xuxin";
    o.name = "许鑫";
    o.from_dept = "transport_dept-520112";
    dc_buf id = DC_BUF_INIT;
    OK(a, dc_secretary_put(&id, a, reg, &o));
    const char *sec = "branch-wudang/xuxin";
    assert_string_equal((const char *)id.ptr, sec);
    OK(a, dc_secretary_task(a, reg, sec, "走访瀑布冷链市场", "2026-01-10"));
    OK(a, dc_secretary_task(a, reg, sec, "核实台账", NULL));
    OK(a, dc_secretary_task(a, reg, sec, "推送学习材料", "2026-01-05"));
    OK(a, dc_secretary_done(a, reg, sec, "核实台账", 1));
    json_t *s = secretary(a, reg, sec);
    assert_string_equal(jstr(s, "role"), "secretary");
    assert_int_equal(jint(s, "open"), 2);
    assert_int_equal(jint(s, "done"), 1);
    json_t *t0 = json_array_get(json_object_get(s, "tasks"), 0);
    assert_string_equal(jstr(t0, "task"), "走访瀑布冷链市场");
    assert_string_equal(jstr(t0, "due"), "2026-01-10");
    assert_true(
        json_is_true(json_object_get(json_array_get(json_object_get(s, "tasks"), 1), "done")));
    json_decref(s);
    /* Undo, and done keeps the due date. */
    OK(a, dc_secretary_done(a, reg, sec, "核实台账", 0));
    OK(a, dc_secretary_done(a, reg, sec, "推送学习材料", 1));
    s = secretary(a, reg, sec);
    assert_int_equal(jint(s, "open"), 2);
    json_t *t2 = json_array_get(json_object_get(s, "tasks"), 2);
    assert_true(json_is_true(json_object_get(t2, "done")));
    assert_string_equal(jstr(t2, "due"), "2026-01-05");
    json_decref(s);

    /* Two tablets mark the same task offline: the later mark wins on both. */
    dc_test_sync_accept(a, b);
    g_d.now += 1000;
    OK(a, dc_secretary_done(a, reg, sec, "走访瀑布冷链市场", 1));
    g_d.now += 1000;
    OK(b, dc_secretary_done(b, reg, sec, "走访瀑布冷链市场", 0));
    dc_test_sync_accept(a, b);
    dc_test_sync_accept(b, a);
    char *da = dc_test_dump(a), *db = dc_test_dump(b);
    assert_string_equal(da, db);
    s = secretary(a, reg, sec);
    assert_true(
        json_is_false(json_object_get(json_array_get(json_object_get(s, "tasks"), 0), "done")));
    json_decref(s);

    FAILS(a, DC_ENOTFOUND, "has no task", dc_secretary_done(a, reg, sec, "不存在", 1));
    FAILS(a, DC_ENOTFOUND, "no secretary", dc_secretary_done(a, reg, "branch-x/y", "t", 1));
    FAILS(a, DC_ENOTFOUND, "no secretary", dc_secretary_task(a, reg, "branch-x/y", "t", NULL));
    FAILS(a, DC_EINVAL, "due date", dc_secretary_task(a, reg, sec, "t", "2026-13-01"));
    FAILS(a, DC_EINVAL, "task is missing", dc_secretary_task(a, reg, sec, "", NULL));
    dc_secretary_options bad = o;
    bad.role = "chair";
    FAILS(a, DC_EINVAL, "role 'chair'", dc_secretary_put(NULL, a, reg, &bad));
    bad = o;
    bad.branch = "wudang";
    FAILS(a, DC_EINVAL, "'branch-...'", dc_secretary_put(NULL, a, reg, &bad));
    dc_buf b2 = DC_BUF_INIT;
    FAILS(a, DC_ENOTFOUND, "no secretary", dc_secretary_show(&b2, a, reg, "branch-x/y"));
    /* An instructor. */
    o.person = "zhidao";
    o.role = "instructor";
    OK(a, dc_secretary_put(NULL, a, reg, &o));
    OK(a, dc_secretary_show(&b2, a, reg, NULL));
    json_t *all = parse(&b2);
    assert_int_equal(json_array_size(json_object_get(all, "secretaries")), 2);
    json_decref(all);

    dc_buf_dispose(&id);
    free(da);
    free(db);
    free(reg);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- study: read state merged from offline phones ---- */

static const char *member_state(json_t *item, const char *driver) {
    return json_string_value(json_object_get(json_object_get(item, "members"), driver));
}

static void test_study_offline_merge(void **state) {
    (void)state;
    dc_replica *sec = dc_test_open(&g_d, "study-sec.db"), *p1 = dc_test_open(&g_d, "study-p1.db"),
               *p2 = dc_test_open(&g_d, "study-p2.db");
    char *br = space_new(sec, "branch wanshan");
    share(sec, br, p1, DC_ROLE_MEMBER);
    share(sec, br, p2, DC_ROLE_MEMBER);
    put_branch(sec, br, "wanshan", "520603", "520603", NULL, NULL);
    OK(sec, dc_branch_member_add(sec, br, "branch-wanshan", "drv-yangfei", NULL));
    OK(sec, dc_branch_member_add(sec, br, "branch-wanshan", "drv-p2", NULL));
    OK(sec, dc_branch_member_add(sec, br, "branch-wanshan", "drv-p3", NULL));
    dc_study_options o = DC_STUDY_OPTIONS_INIT;
    o.id = "st-1";
    o.title = "微党课：货车司机权益保障";
    o.kind = "micro_lesson";
    o.media = "正文……（离线可读）";
    o.pushed_ms = g_d.now;
    OK(sec, dc_study_push(NULL, sec, br, &o));
    o.id = NULL;
    o.title = "行业新闻";
    o.kind = "news";
    dc_buf rid = DC_BUF_INIT;
    OK(sec, dc_study_push(&rid, sec, br, &o));
    assert_int_equal(rid.size, 15); /* "st-" + 12 hex */
    char *item2 = strdup((const char *)rid.ptr);
    dc_buf_dispose(&rid);
    dc_test_sync_accept(sec, p1);
    dc_test_sync_accept(sec, p2);

    /* At night, offline: p1 reads and completes, p2 opens it and asks. */
    g_d.now += 3600000;
    OK(p1, dc_study_read(p1, br, "st-1", "drv-yangfei", 0));
    OK(p1, dc_study_read(p1, br, "st-1", "drv-yangfei", 1));
    OK(p1, dc_study_read(p1, br, item2, "drv-yangfei", 0));
    OK(p2, dc_study_read(p2, br, "st-1", "drv-p2", 0));
    OK(p2, dc_study_discuss(p2, br, "st-1", "drv-p2", "遇到不懂的和大家讨论"));
    /* A receipt from someone not on the roster is counted apart. */
    OK(p2, dc_study_read(p2, br, "st-1", "drv-visitor", 1));

    /* Before syncing, the secretary sees nobody has read. */
    dc_buf b = DC_BUF_INIT;
    OK(sec, dc_study_show(&b, sec, br, "st-1"));
    json_t *j = parse(&b);
    assert_int_equal(jint(j, "read"), 0);
    assert_string_equal(member_state(j, "drv-yangfei"), "unread");
    json_decref(j);

    /* Bundles arrive in any order, some twice. */
    dc_test_sync_accept(p2, sec);
    dc_test_sync_accept(p1, sec);
    dc_test_sync_accept(p2, sec);
    dc_test_sync_accept(sec, p1);
    dc_test_sync_accept(sec, p2);
    char *d0 = dc_test_dump(sec), *d1 = dc_test_dump(p1), *d2 = dc_test_dump(p2);
    assert_string_equal(d0, d1);
    assert_string_equal(d0, d2);

    OK(sec, dc_study_show(&b, sec, br, "st-1"));
    j = parse(&b);
    assert_string_equal(jstr(j, "media"), "正文……（离线可读）");
    assert_string_equal(member_state(j, "drv-yangfei"), "done");
    assert_string_equal(member_state(j, "drv-p2"), "read");
    assert_string_equal(member_state(j, "drv-p3"), "unread");
    assert_int_equal(jint(j, "read"), 2);
    assert_int_equal(jint(j, "done"), 1);
    assert_int_equal(jint(j, "unread"), 1);
    assert_int_equal(jint(j, "others"), 1);
    assert_int_equal(jint(j, "posts"), 1);
    json_t *talk = json_object_get(j, "discussion");
    assert_int_equal(json_array_size(talk), 1);
    assert_string_equal(jstr(json_array_get(talk, 0), "driver"), "drv-p2");
    assert_string_equal(jstr(json_array_get(talk, 0), "device"), dc_replica_device_id(p2));
    json_decref(j);

    /* A later "read" does not undo "done". */
    g_d.now += 1000;
    OK(p1, dc_study_read(p1, br, "st-1", "drv-yangfei", 0));
    dc_test_sync_accept(p1, sec);

    /* Theme activity and who took part. */
    dc_buf aid = DC_BUF_INIT;
    OK(sec, dc_study_activity(&aid, sec, br, "act-1", "主题党日：安全行车", "2026-01-15"));
    OK(sec, dc_study_join(sec, br, "act-1", "drv-yangfei"));
    /* p2 has not received the activity yet. */
    FAILS(p2, DC_ENOTFOUND, "no activity", dc_study_join(p2, br, "act-1", "drv-p2"));
    dc_test_sync_accept(sec, p2);
    OK(p2, dc_study_join(p2, br, "act-1", "drv-p2"));
    dc_test_sync_accept(p2, sec);

    OK(sec, dc_study_show(&b, sec, br, NULL));
    j = parse(&b);
    assert_int_equal(jint(j, "members"), 3);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 2);
    /* The other item's id is random: it may sort before "st-1". */
    json_t *st1 = json_array_get(items, 0);
    if (strcmp(jstr(st1, "item"), "st-1") != 0)
        st1 = json_array_get(items, 1);
    assert_string_equal(jstr(st1, "item"), "st-1");
    assert_int_equal(jint(st1, "done"), 1);
    assert_null(json_object_get(st1, "media")); /* only when one item is asked for */
    assert_int_equal(jint(j, "by_member.drv-yangfei.read"), 2);
    assert_int_equal(jint(j, "by_member.drv-yangfei.done"), 1);
    assert_int_equal(jint(j, "by_member.drv-p3.unread"), 2);
    json_t *act = json_array_get(json_object_get(j, "activities"), 0);
    assert_string_equal(jstr(act, "activity"), "act-1");
    assert_int_equal(jint(act, "joined"), 2);
    assert_int_equal(jint(act, "members_joined"), 2);
    json_decref(j);

    FAILS(sec, DC_ENOTFOUND, "no study st-9", dc_study_read(sec, br, "st-9", "drv-p2", 0));
    FAILS(sec, DC_EINVAL, "'drv-...'", dc_study_read(sec, br, "st-1", "p2", 0));
    FAILS(sec, DC_EINVAL, "'st-...'", dc_study_read(sec, br, "1", "drv-p2", 0));
    FAILS(sec, DC_EINVAL, "text is missing", dc_study_discuss(sec, br, "st-1", "drv-p2", ""));
    FAILS(sec, DC_ENOTFOUND, "no study item", dc_study_show(&b, sec, br, "st-9"));
    o.kind = "podcast";
    FAILS(sec, DC_EINVAL, "kind 'podcast'", dc_study_push(NULL, sec, br, &o));
    FAILS(sec, DC_EINVAL, "not a date", dc_study_activity(NULL, sec, br, NULL, "x", "15/01/26"));
    FAILS(sec, DC_ENOTFOUND, "no activity", dc_study_join(sec, br, "act-9", "drv-p2"));

    dc_buf_dispose(&aid);
    free(item2);
    free(d0);
    free(d1);
    free(d2);
    free(br);
    dc_replica_close(sec);
    dc_replica_close(p1);
    dc_replica_close(p2);
}

/* ---- liaison chains ---- */

static void test_liaison(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "liaison.db");
    char *reg = space_new(r, "registry");
    put_driver(r, reg, "drv-jiang", "520112", "520112", NULL, NULL, "member", NULL);
    put_driver(r, reg, "drv-xiao", "520112", "520112", NULL, NULL, "activist", NULL);
    put_driver(r, reg, "drv-d2", "520112", "520112", NULL, NULL, "applicant", NULL);
    OK(r, dc_liaison_cadre(r, reg, "cadre-1", "组织委员甲", "520112001", "township_org_member"));
    OK(r, dc_liaison_cadre(r, reg, "cadre-2", "村支书乙", "520112001001", "village_secretary"));
    dc_buf id = DC_BUF_INIT;
    OK(r, dc_liaison_link(&id, r, reg, "cadre-1", "drv-jiang", "cadre"));
    assert_string_equal((const char *)id.ptr, "cadre-1/drv-jiang");
    OK(r, dc_liaison_link(NULL, r, reg, "cadre-1", "drv-pm2", "cadre"));
    OK(r, dc_liaison_link(NULL, r, reg, "cadre-2", "drv-pm2", "cadre"));
    OK(r, dc_liaison_link(NULL, r, reg, "drv-jiang", "drv-xiao", "party_member"));
    OK(r, dc_liaison_link(NULL, r, reg, "drv-jiang", "drv-d2", "party_member"));
    OK(r, dc_liaison_link(NULL, r, reg, "drv-pm2", "drv-d3", "party_member"));
    /* The same pair entered twice is one link. */
    OK(r, dc_liaison_link(NULL, r, reg, "drv-pm2", "drv-d3", "party_member"));
    OK(r, dc_liaison_contact(r, reg, "cadre-1/drv-jiang", "call", "2026-01-02", NULL));
    OK(r, dc_liaison_contact(r, reg, "cadre-1/drv-jiang", "visit", "2026-01-05", "走访"));
    OK(r, dc_liaison_contact(r, reg, "drv-jiang/drv-xiao", "call", "2026-01-03",
                             "问工作情况，关注入党申请进度"));
    OK(r, dc_liaison_contact(r, reg, "drv-jiang/drv-xiao", "message", "2026-01-01", NULL));
    OK(r, dc_liaison_contact(r, reg, "drv-jiang/drv-d2", "call", NULL, NULL));

    dc_buf b = DC_BUF_INIT;
    OK(r, dc_liaison_show(&b, r, reg, NULL));
    json_t *j = parse(&b);
    assert_int_equal(jint(j, "cadres"), 2);
    assert_int_equal(jint(j, "party_member_drivers"), 2);
    assert_int_equal(jint(j, "drivers"), 3);
    assert_int_equal(jint(j, "links.cadre"), 3);
    assert_int_equal(jint(j, "links.party_member"), 3);
    assert_int_equal(jint(j, "contacts.cadre"), 2);
    assert_int_equal(jint(j, "contacts.party_member"), 3);
    assert_int_equal(jint(j, "contacts.call"), 3);
    assert_int_equal(jint(j, "contacts.visit"), 1);
    assert_int_equal(jint(j, "contacts.message"), 1);
    assert_null(json_object_get(j, "chain"));
    json_decref(j);

    OK(r, dc_liaison_show(&b, r, reg, "drv-jiang"));
    j = parse(&b);
    json_t *chain = json_object_get(j, "chain");
    assert_int_equal(json_array_size(chain), 2);
    json_t *c0 = json_array_get(chain, 0), *c1 = json_array_get(chain, 1);
    assert_string_equal(jstr(c0, "to"), "drv-d2");
    assert_string_equal(jstr(c0, "status"), "applicant");
    assert_string_equal(jstr(c1, "to"), "drv-xiao");
    assert_string_equal(jstr(c1, "status"), "activist"); /* his application progress */
    assert_int_equal(json_array_size(json_object_get(c1, "contacts")), 2);
    assert_string_equal(jstr(c1, "last_contact"), "2026-01-03");
    json_decref(j);

    char *before = dc_test_dump(r);
    FAILS(r, DC_EINVAL, "'drv-...'", dc_liaison_link(NULL, r, reg, "cadre-1", "cadre-2", "cadre"));
    FAILS(r, DC_EINVAL, "party-member driver (from)",
          dc_liaison_link(NULL, r, reg, "cadre-1", "drv-x", "party_member"));
    FAILS(r, DC_EINVAL, "himself", dc_liaison_link(NULL, r, reg, "drv-x", "drv-x", "party_member"));
    FAILS(r, DC_EINVAL, "level 'boss'", dc_liaison_link(NULL, r, reg, "a", "drv-x", "boss"));
    FAILS(r, DC_ENOTFOUND, "no link",
          dc_liaison_contact(r, reg, "cadre-9/drv-x", "call", NULL, NULL));
    FAILS(r, DC_EINVAL, "how 'fax'",
          dc_liaison_contact(r, reg, "cadre-1/drv-jiang", "fax", NULL, NULL));
    FAILS(r, DC_EINVAL, "not a link id", dc_liaison_contact(r, reg, "cadre-1", "call", NULL, NULL));
    FAILS(r, DC_EINVAL, "title 'mayor'", dc_liaison_cadre(r, reg, "c", "n", "520112", "mayor"));
    char *after = dc_test_dump(r);
    assert_string_equal(before, after);

    dc_buf_dispose(&id);
    free(before);
    free(after);
    free(reg);
    dc_replica_close(r);
}

/* ---- the bulk forms ---- */

static void test_bulk_txn(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "bulk.db");
    char *reg = space_new(r, "registry"), *br = space_new(r, "branch");
    dc_txn *t;
    char from[32], to[32];
    OK(r, dc_txn_begin(&t, r, reg));
    for (int i = 0; i < 300; i++) {
        snprintf(from, sizeof from, "cadre-%d", i);
        OK(r, dc_liaison_cadre_txn(r, t, from, "x", "520112001", "village_secretary"));
        for (int k = 0; k < 2; k++) {
            snprintf(to, sizeof to, "drv-pm%d-%d", i, k);
            OK(r, dc_liaison_link_txn(NULL, r, t, from, to, "cadre"));
            char link[80];
            snprintf(link, sizeof link, "%s/%s", from, to);
            OK(r, dc_liaison_contact_txn(r, t, link, "call", "2026-01-01", NULL));
        }
    }
    /* A bad call in the middle adds nothing; the transaction goes on. */
    size_t ops = dc_txn_op_count(t);
    FAILS(r, DC_EINVAL, "level", dc_liaison_link_txn(NULL, r, t, "a", "drv-b", "x"));
    assert_int_equal(dc_txn_op_count(t), ops);
    OK(r, dc_txn_commit(t, NULL));
    dc_buf b = DC_BUF_INIT;
    OK(r, dc_liaison_show(&b, r, reg, NULL));
    json_t *j = parse(&b);
    assert_int_equal(jint(j, "cadres"), 300);
    assert_int_equal(jint(j, "party_member_drivers"), 600);
    assert_int_equal(jint(j, "contacts.cadre"), 600);
    json_decref(j);

    /* Study items and receipts in one change; the items need not exist
     * before the transaction. */
    OK(r, dc_txn_begin(&t, r, br));
    for (int i = 0; i < 200; i++) {
        char item[32];
        snprintf(item, sizeof item, "st-%d", i);
        dc_study_options o = DC_STUDY_OPTIONS_INIT;
        o.id = item;
        o.title = "t";
        o.kind = "article";
        o.pushed_ms = g_d.now;
        OK(r, dc_study_push_txn(NULL, r, t, &o));
        OK(r, dc_study_read_txn(r, t, item, "drv-a", i % 2));
    }
    OK(r, dc_branch_member_add_txn(r, t, "branch-x", "drv-a", "2026-01-01"));
    OK(r, dc_txn_commit(t, NULL));
    OK(r, dc_study_show(&b, r, br, NULL));
    j = parse(&b);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 200);
    assert_int_equal(jint(j, "by_member.drv-a.read"), 200);
    assert_int_equal(jint(j, "by_member.drv-a.done"), 100);
    json_decref(j);

    assert_int_equal(dc_region_put_txn(r, NULL, "520000", "x", "province", NULL), DC_EMISUSE);
    free(reg);
    free(br);
    dc_replica_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_stations_and_checkins),
        cmocka_unit_test(test_suggest_each_principle),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_secretary_tasks),
        cmocka_unit_test(test_study_offline_merge),
        cmocka_unit_test(test_liaison),
        cmocka_unit_test(test_bulk_txn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
