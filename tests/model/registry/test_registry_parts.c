/*
 * Tests of the registry in spaces that follow the organisation
 * (model/regspace.c, docs/domain.md "Registry spaces" and "Moves"): a root
 * and its county and branch registries give a person one id everywhere; a
 * desk enrolled in its county's part holds that part and the root's key,
 * nothing else; the root's view is the union of the parts; a move carries
 * the record, the branch membership and the open cases, leaves a forwarding
 * entry that later imports follow, and both counties' statistics stay
 * right; imports record the level and method of verification and report
 * progress.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "drivercore.h"
#include "../../common/replica_fixture.h"

static dc_test_dir g_d;

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "regparts");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

static void make_id(char out[19], const char *d17) {
    static const int W[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (d17[i] - '0') * W[i];
    memcpy(out, d17, 17);
    out[17] = "10X98765432"[sum % 11];
    out[18] = 0;
}

#define HEADER                                                                                     \
    "name,id_number,phone,hukou_region,plate,employer,route,activity_area,business_scope,"         \
    "political_status\n"

static char *fmt(const char *f, ...) {
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof buf[0], f, ap);
    va_end(ap);
    return b;
}

static json_t *jbuf(const dc_buf *b) {
    json_error_t e;
    json_t *j = json_loadb((const char *)b->ptr, b->size, 0, &e);
    if (!j)
        fail_msg("not JSON: %s", (const char *)b->ptr);
    return j;
}

static long long jint(json_t *o, const char *k) {
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static json_t *import(dc_replica *r, const char *space, int source, int round, const char *level,
                      const char *method, const char *csv) {
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = source;
    o.round = round;
    o.level = level;
    o.method = method;
    dc_buf rep = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_import(&rep, r, space, &o, (const uint8_t *)csv, strlen(csv)));
    json_t *j = jbuf(&rep);
    dc_buf_dispose(&rep);
    return j;
}

static json_t *find(dc_replica *r, const char *space, const char *idn) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_find(&b, r, space, idn));
    json_t *j = jbuf(&b);
    dc_buf_dispose(&b);
    return j;
}

static void exchange(dc_replica *from, dc_replica *to) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(from, dc_bundle_export(&b, from, NULL));
    dc_test_ok(to, dc_bundle_import(to, b.ptr, b.size, NULL));
    dc_test_ok(to, dc_test_accept_invitations(to));
    dc_buf_dispose(&b);
}

static void part(dc_replica *r, const char *root, const char *region, const char *branch,
                 char out[33]) {
    dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
    o.root = root;
    o.region = region;
    o.branch = branch;
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_part_create(&b, r, &o));
    memcpy(out, b.ptr, 33);
    dc_buf_dispose(&b);
}

static void enrol(dc_replica *admin, const char *space, dc_replica *who, int role) {
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(who, dc_replica_card(&card, who));
    dc_test_ok(admin, dc_registry_enrol(admin, space, (const char *)card.ptr, role));
    dc_buf_dispose(&card);
}

static char ID_A[19], ID_B[19], ID_C[19];

/* ---- tests ---- */

static void test_parts_keys_and_need_to_know(void **state) {
    (void)state;
    make_id(ID_A, "52011219790512031");
    make_id(ID_B, "52060319830917052");
    dc_replica *office = dc_test_open(&g_d, "office.db"), *desk = dc_test_open(&g_d, "desk.db");
    dc_buf b = DC_BUF_INIT;
    char root[33], wd[33], ws[33], br[33];
    dc_test_ok(office, dc_registry_create(&b, office, "520000", NULL));
    memcpy(root, b.ptr, 33);
    part(office, root, "520112", NULL, wd);
    part(office, root, "520603", NULL, ws);
    part(office, root, "520112", "branch-520112-01", br);
    /* Bad parts are refused and write nothing. */
    dc_registry_part_options bad = DC_REGISTRY_PART_OPTIONS_INIT;
    bad.root = root;
    bad.region = "520100"; /* a city */
    assert_int_equal(dc_registry_part_create(&b, office, &bad), DC_EINVAL);
    bad.region = "520112";
    bad.branch = "committee-520112";
    assert_int_equal(dc_registry_part_create(&b, office, &bad), DC_EINVAL);
    bad.branch = NULL;
    bad.root = wd; /* a part is no root */
    assert_int_equal(dc_registry_part_create(&b, office, &bad), DC_EINVAL);
    assert_int_equal(dc_registry_create(&b, office, "520112", NULL), DC_EINVAL);
    dc_buf_dispose(&b);

    /* One person, one id in every part: the keys come from the root. */
    dc_buf i1 = DC_BUF_INIT, i2 = DC_BUF_INIT, i3 = DC_BUF_INIT;
    dc_test_ok(office, dc_registry_driver_id(&i1, office, wd, ID_A));
    dc_test_ok(office, dc_registry_driver_id(&i2, office, ws, ID_A));
    dc_test_ok(office, dc_registry_driver_id(&i3, office, root, ID_A));
    assert_string_equal((const char *)i1.ptr, (const char *)i2.ptr);
    assert_string_equal((const char *)i1.ptr, (const char *)i3.ptr);
    char did_a[32];
    snprintf(did_a, sizeof did_a, "%s", (const char *)i1.ptr);
    dc_buf_dispose(&i1);
    dc_buf_dispose(&i2);
    dc_buf_dispose(&i3);

    json_decref(import(office, wd, DC_SOURCE_TRANSPORT, 1, "county", NULL,
                       fmt(HEADER "黄红兴,%s,13985011172,520112,贵A5K721,,,520112,渣土,\n", ID_A)));
    json_decref(import(office, ws, DC_SOURCE_TRANSPORT, 1, "county", NULL,
                       fmt(HEADER "杨飞,%s,13985022245,520603,贵D1234,,,520603,冷链,\n", ID_B)));

    /* The Wudang desk is enrolled in Wudang's county registry only: it gets
     * the root's key (as a reader) and that part, not Wanshan's. */
    enrol(office, wd, desk, DC_ROLE_MEMBER);
    exchange(office, desk);
    json_t *a = find(desk, wd, ID_A);
    assert_string_equal(jstr(a, "name"), "黄红兴");
    assert_string_equal(jstr(a, "phone"), "13985011172");
    assert_string_equal(jstr(a, "space"), wd);
    json_decref(a);
    dc_buf out = DC_BUF_INIT;
    assert_int_equal(dc_registry_find(&out, desk, ws, ID_B) == 0, 0);
    /* It carries Wanshan's part for others, unreadable, and says so. */
    assert_int_equal(dc_record_get(&out, desk, ws, "driver", did_a), DC_EDENIED);
    assert_non_null(strstr(dc_replica_errmsg(desk), "not a member"));
    /* The root's view on the desk is only what it holds. */
    assert_int_equal(dc_registry_find(&out, desk, root, ID_B), DC_ENOTFOUND);
    a = find(desk, root, ID_A);
    assert_string_equal(jstr(a, "space"), wd);
    json_decref(a);
    /* It may not write the root (a reader there). */
    dc_txn *t = NULL;
    assert_int_equal(dc_txn_begin(&t, desk, root), DC_EDENIED);

    /* The office's root view is the union. */
    a = find(office, root, ID_B);
    assert_string_equal(jstr(a, "space"), ws);
    json_decref(a);
    dc_test_ok(office, dc_registry_spaces(&out, office));
    json_t *l = jbuf(&out);
    assert_int_equal(json_array_size(l), 4);
    assert_string_equal(jstr(json_array_get(l, 0), "level"), "province");
    assert_string_equal(jstr(json_array_get(l, 0), "space"), root);
    assert_string_equal(jstr(json_array_get(l, 1), "region"), "520112");
    assert_string_equal(jstr(json_array_get(l, 2), "region"), "520603");
    assert_string_equal(jstr(json_array_get(l, 3), "branch"), "branch-520112-01");
    json_decref(l);
    dc_test_ok(desk, dc_registry_spaces(&out, desk));
    l = jbuf(&out);
    assert_int_equal(json_array_size(l), 2); /* the root and Wudang's part */
    json_decref(l);

    /* A device holding a part without the root cannot derive the keys: it
     * is told which root to ask for. */
    dc_replica *lone = dc_test_open(&g_d, "lone.db");
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(lone, dc_replica_card(&card, lone));
    dc_test_ok(office, dc_space_add(office, wd, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
    exchange(office, lone);
    assert_int_equal(dc_registry_find(&out, lone, wd, ID_A), DC_ENOKEY);
    assert_non_null(strstr(dc_replica_errmsg(lone), root));
    assert_non_null(strstr(dc_replica_errmsg(lone), "registry enrol"));
    dc_buf_dispose(&out);
    dc_replica_close(lone);
    dc_replica_close(desk);
    dc_replica_close(office);
}

static int stop_at_two(void *user, uint64_t rows, uint64_t done, uint64_t total) {
    int *calls = user;
    (*calls)++;
    assert_true(done <= total);
    return rows >= 2000 ? 1 : 0;
}

static void test_level_method_and_progress(void **state) {
    (void)state;
    make_id(ID_A, "52011219790512031");
    dc_replica *r = dc_test_open(&g_d, "lm.db");
    dc_buf b = DC_BUF_INIT;
    char root[33], wd[33];
    dc_test_ok(r, dc_registry_create(&b, r, "520000", NULL));
    memcpy(root, b.ptr, 33);
    part(r, root, "520112", NULL, wd);
    json_decref(import(r, wd, DC_SOURCE_TRANSPORT, 1, NULL, NULL,
                       fmt(HEADER "黄红兴,%s,,520112,,,,,,群众\n", ID_A)));
    json_decref(import(r, wd, DC_SOURCE_ORGANISATION, 2, "branch", "visit",
                       fmt(HEADER "黄红兴,%s,,520112,,,,,,正式党员\n", ID_A)));
    json_t *a = find(r, wd, ID_A);
    json_t *src = json_object_get(a, "sources");
    assert_int_equal(json_array_size(src), 2);
    assert_true(json_is_null(json_object_get(json_array_get(src, 0), "level")));
    assert_string_equal(jstr(json_array_get(src, 0), "method"), "list");
    assert_string_equal(jstr(json_array_get(src, 1), "level"), "branch");
    assert_string_equal(jstr(json_array_get(src, 1), "method"), "visit");
    json_t *v = json_object_get(a, "verified");
    assert_int_equal(jint(v, "round"), 2);
    assert_string_equal(jstr(v, "method"), "visit");
    /* Round 2 is a single value against a single earlier value: it is the
     * later report of a different line, so the two are in conflict. */
    assert_true(json_is_true(json_object_get(a, "flagged")));
    json_decref(a);
    /* A list without level and with the default method is format 1, the
     * same member as before levels existed: re-importing it is unchanged. */
    json_t *rep = import(r, wd, DC_SOURCE_TRANSPORT, 1, NULL, "list",
                         fmt(HEADER "黄红兴,%s,,520112,,,,,,群众\n", ID_A));
    assert_int_equal(jint(rep, "unchanged"), 1);
    json_decref(rep);
    /* Unknown level or method: refused, nothing written. */
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = DC_SOURCE_TRANSPORT;
    o.round = 1;
    o.level = "nation";
    const char *csv = HEADER "x,110101190001011234,,,,,,,,\n";
    assert_int_equal(dc_registry_import(&b, r, wd, &o, (const uint8_t *)csv, strlen(csv)),
                     DC_EINVAL);
    o.level = NULL;
    o.method = "fax";
    assert_int_equal(dc_registry_import(&b, r, wd, &o, (const uint8_t *)csv, strlen(csv)),
                     DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(r), "list, visit, phone"));

    /* Progress: called as rows go; a non-zero return stops with DC_EUSER,
     * the batches before it committed. */
    size_t cap = 4000 * 80 + 200, n = 0;
    char *big = malloc(cap);
    n += (size_t)snprintf(big, cap, "%s", HEADER);
    for (int i = 0; i < 4000; i++) {
        char d17[18], idn[19];
        snprintf(d17, sizeof d17, "5201121980%07d", i);
        make_id(idn, d17);
        n += (size_t)snprintf(big + n, cap - n, "司机%d,%s,,,,,,,,\n", i, idn);
    }
    int calls = 0;
    o.method = NULL;
    o.progress = stop_at_two;
    o.progress_user = &calls;
    assert_int_equal(dc_registry_import(&b, r, wd, &o, (const uint8_t *)big, n), DC_EUSER);
    assert_int_equal(calls, 2);
    assert_non_null(strstr(dc_replica_errmsg(r), "importing the file again is safe"));
    o.progress = NULL;
    dc_test_ok(r, dc_registry_import(&b, r, wd, &o, (const uint8_t *)big, n));
    json_t *j = jbuf(&b);
    assert_true(jint(j, "unchanged") >= 1000); /* the batches before the stop stayed */
    assert_int_equal(jint(j, "imported"), 4000);
    json_decref(j);
    free(big);
    dc_buf_dispose(&b);
    dc_replica_close(r);
}

static json_t *stats_of(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_stats_at(&b, r, NULL, NULL, g_d.now));
    json_t *j = jbuf(&b);
    dc_buf_dispose(&b);
    return j;
}

static void test_move_follows_the_driver(void **state) {
    (void)state;
    make_id(ID_A, "52011219790512031"); /* registered in Wudang */
    make_id(ID_C, "52011219880622034");
    dc_replica *office = dc_test_open(&g_d, "mv-office.db"),
               *wdesk = dc_test_open(&g_d, "mv-wudang.db");
    dc_buf b = DC_BUF_INIT;
    char root[33], wd[33], ws[33], wsb[33], brsp[33], desk[33];
    dc_test_ok(office, dc_registry_create(&b, office, "520000", NULL));
    memcpy(root, b.ptr, 33);
    part(office, root, "520112", NULL, wd);
    part(office, root, "520603", NULL, ws);
    part(office, root, "520603", "branch-520603-01", wsb);
    dc_test_ok(office, dc_space_create(&b, office, "branch 520603-01"));
    memcpy(brsp, b.ptr, 33);
    dc_branch_options bo = DC_BRANCH_OPTIONS_INIT;
    bo.code = "520603-01";
    bo.name = "万山区货车司机流动党员党支部";
    bo.region = "520603";
    dc_test_ok(office, dc_branch_put(NULL, office, brsp, &bo));
    dc_test_ok(office, dc_space_create(&b, office, "desk 520112"));
    memcpy(desk, b.ptr, 33);
    enrol(office, wd, wdesk, DC_ROLE_MEMBER);
    json_decref(import(office, wd, DC_SOURCE_TRANSPORT, 1, "county", NULL,
                       fmt(HEADER "杨飞,%s,13985022245,520112,贵A7L093,,,520112,冷链,\n"
                                  "庄科城,%s,,520112,,,,520112,,\n",
                           ID_A, ID_C)));
    json_decref(import(office, wd, DC_SOURCE_ORGANISATION, 1, "county", NULL,
                       fmt(HEADER "杨飞,%s,,520112,,,,,,正式党员\n", ID_A)));
    dc_buf id = DC_BUF_INIT;
    dc_test_ok(office, dc_registry_driver_id(&id, office, wd, ID_A));
    char did[32];
    snprintf(did, sizeof did, "%s", (const char *)id.ptr);
    dc_buf_dispose(&id);
    /* An open case and a settled one, filed in Wudang. */
    dc_case_options co = DC_CASE_OPTIONS_INIT;
    co.driver = did;
    co.channel = "group";
    co.category = "freight_arrears";
    co.text = "运费拖欠";
    co.region = "520112";
    dc_test_ok(office, dc_case_file(&b, office, desk, &co, NULL));
    json_t *c1 = jbuf(&b);
    char open_case[32], done_case[32];
    snprintf(open_case, sizeof open_case, "%s", jstr(c1, "case"));
    json_decref(c1);
    dc_test_ok(office, dc_case_file(&b, office, desk, &co, NULL));
    c1 = jbuf(&b);
    snprintf(done_case, sizeof done_case, "%s", jstr(c1, "case"));
    json_decref(c1);
    g_d.now += 3600000;
    dc_test_ok(office, dc_case_step(NULL, office, done_case, "resolve", NULL, NULL, -1, NULL));
    exchange(office, wdesk);

    /* Yang Fei goes to work in Wanshan, into its branch. */
    g_d.now = 1772000000000; /* late February 2026 */
    dc_registry_move_options mo = DC_REGISTRY_MOVE_OPTIONS_INIT;
    mo.date = "2026-02-25";
    dc_test_ok(office, dc_registry_move(&b, office, wd, did, wsb, &mo));
    json_t *m = jbuf(&b);
    assert_string_equal(jstr(json_object_get(m, "from"), "region"), "520112");
    assert_string_equal(jstr(json_object_get(m, "to"), "region"), "520603");
    assert_string_equal(jstr(json_object_get(m, "to"), "branch"), "branch-520603-01");
    assert_int_equal(json_array_size(json_object_get(m, "cases")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "cases"), 0)),
                        open_case);
    assert_true(jint(m, "members") >= 3);
    json_decref(m);
    /* His record: everything, in the branch registry. */
    json_t *a = find(office, root, ID_A);
    assert_string_equal(jstr(a, "space"), wsb);
    assert_string_equal(jstr(a, "name"), "杨飞");
    assert_string_equal(jstr(a, "phone"), "13985022245");
    assert_string_equal(jstr(a, "status"), "member");
    assert_string_equal(jstr(a, "branch"), "branch-520603-01");
    assert_string_equal(jstr(a, "id_number"), ID_A);
    assert_int_equal(json_array_size(json_object_get(a, "sources")), 2);
    json_t *ev = json_array_get(json_object_get(a, "@events"), 0);
    assert_string_equal(jstr(ev, "kind"), "move");
    assert_string_equal(jstr(ev, "from"), "520112");
    assert_string_equal(jstr(ev, "to"), "520603");
    assert_string_equal(jstr(ev, "date"), "2026-02-25");
    json_decref(a);
    /* Left behind in Wudang: a forwarding entry and an empty record. */
    dc_test_ok(office, dc_record_get(&b, office, wd, "moved", did));
    a = jbuf(&b);
    assert_string_equal(jstr(a, "space"), wsb);
    assert_string_equal(jstr(a, "region"), "520603");
    json_decref(a);
    dc_test_ok(office, dc_record_get(&b, office, wd, "driver", did));
    assert_null(strstr((const char *)b.ptr, "reports"));
    assert_null(strstr((const char *)b.ptr, "杨飞"));
    /* His branch membership: on the roster of the branch space held. */
    dc_test_ok(office, dc_record_get(&b, office, brsp, "member", did));
    assert_non_null(strstr((const char *)b.ptr, "branch-520603-01"));
    /* His open case: now Wanshan's, at its committee; the settled one stays. */
    dc_test_ok(office, dc_case_show(&b, office, open_case, NULL));
    a = jbuf(&b);
    assert_string_equal(jstr(a, "region"), "520603");
    assert_string_equal(jstr(a, "at"), "committee-520603");
    assert_string_equal(jstr(a, "status"), "received"); /* a handover meets no deadline */
    json_t *steps = json_object_get(a, "steps");
    assert_string_equal(jstr(json_array_get(steps, 1), "action"), "handover");
    json_decref(a);
    dc_test_ok(office, dc_case_show(&b, office, done_case, NULL));
    a = jbuf(&b);
    assert_string_equal(jstr(a, "region"), "520112");
    json_decref(a);

    /* Both sides' statistics. */
    json_t *s = stats_of(office);
    assert_int_equal(jint(s, "drivers"), 2);
    assert_int_equal(jint(s, "party_member_drivers"), 1);
    json_t *reg = json_object_get(s, "by_region");
    json_t *w = json_object_get(reg, "520112"), *n = json_object_get(reg, "520603");
    assert_int_equal(jint(w, "drivers"), 1);
    assert_int_equal(jint(w, "moved_out"), 1);
    assert_int_equal(jint(w, "outflow"), 1); /* his hukou is Wudang's */
    assert_int_equal(jint(n, "drivers"), 1);
    assert_int_equal(jint(n, "party_member_drivers"), 1);
    assert_int_equal(jint(n, "moved_in"), 1);
    assert_int_equal(jint(n, "inflow"), 1);
    assert_int_equal(jint(json_object_get(n, "cases"), "collected"), 1);
    assert_int_equal(jint(json_object_get(w, "cases"), "collected"), 1);
    json_decref(s);

    /* The Wudang desk, offline, had imported a round-2 row for him before
     * the move reached it: the row stays (adds win over the move's removes)
     * and is read with his record; nothing is lost. */
    g_d.now -= 60000; /* its clock is a minute behind the office's move */
    json_decref(import(wdesk, wd, DC_SOURCE_TRANSPORT, 2, "county", "phone",
                       fmt(HEADER "杨飞,%s,13985099999,520112,,,,,,\n", ID_A)));
    g_d.now += 120000;
    exchange(wdesk, office);
    a = find(office, root, ID_A);
    assert_string_equal(jstr(a, "space"), wsb);
    assert_int_equal(json_array_size(json_object_get(a, "sources")), 3);
    assert_string_equal(jstr(a, "phone"), "13985099999"); /* round 2, a later round */
    json_decref(a);
    dc_test_ok(office, dc_branch_coverage(&b, office, root));
    a = jbuf(&b);
    assert_int_equal(json_array_size(json_object_get(a, "left_behind")), 1);
    assert_int_equal(json_array_size(json_object_get(a, "kept_twice")), 0);
    json_decref(a);
    s = stats_of(office);
    assert_int_equal(jint(s, "drivers"), 2);
    json_decref(s);
    /* Moving again merges what was left behind: no second move. */
    dc_test_ok(office, dc_registry_move(&b, office, wd, did, wsb, &mo));
    dc_test_ok(office, dc_branch_coverage(&b, office, root));
    a = jbuf(&b);
    assert_int_equal(json_array_size(json_object_get(a, "left_behind")), 0);
    json_decref(a);
    dc_test_ok(office, dc_record_get(&b, office, wsb, "driver", did));
    a = jbuf(&b);
    assert_int_equal(json_array_size(json_object_get(a, "@events")), 1);
    json_decref(a);

    /* After the move, Wudang's list names him again: the row goes where he
     * is kept (this device may write there)... */
    json_t *rep = import(office, wd, DC_SOURCE_TRANSPORT, 3, NULL, NULL,
                         fmt(HEADER "杨飞,%s,,520112,,,,,,\n", ID_A));
    assert_int_equal(jint(rep, "forwarded"), 1);
    assert_int_equal(json_array_size(json_object_get(rep, "moved_away")), 0);
    json_decref(rep);
    a = find(office, root, ID_A);
    assert_int_equal(jint(a, "verified_round"), 3);
    json_decref(a);
    /* ...and on the Wudang desk, which does not hold Wanshan's registry,
     * it is not written: the report says where he went. */
    exchange(office, wdesk);
    rep = import(wdesk, wd, DC_SOURCE_TRANSPORT, 4, NULL, NULL,
                 fmt(HEADER "杨飞,%s,,520112,,,,,,\n庄科城,%s,,520112,,,,,,\n", ID_A, ID_C));
    assert_int_equal(jint(rep, "imported"), 1);
    assert_int_equal(jint(rep, "forwarded"), 0);
    json_t *away = json_array_get(json_object_get(rep, "moved_away"), 0);
    assert_int_equal(jint(away, "line"), 2);
    assert_string_equal(jstr(away, "driver"), did);
    assert_string_equal(jstr(away, "region"), "520603");
    json_decref(rep);
    assert_int_equal(dc_registry_find(&b, wdesk, wd, ID_A), DC_ENOTFOUND);
    assert_non_null(strstr(dc_replica_errmsg(wdesk), "moved"));

    /* Refusals: same space, another root, no such driver. */
    assert_int_equal(dc_registry_move(&b, office, wd, did, wd, &mo), DC_EINVAL);
    assert_int_equal(dc_registry_move(&b, office, ws, did, wd, &mo), DC_ENOTFOUND);
    char other[33];
    dc_test_ok(office, dc_registry_create(&b, office, "520000", "registry (another)"));
    memcpy(other, b.ptr, 33);
    assert_int_equal(dc_registry_move(&b, office, wsb, did, other, &mo), DC_EINVAL);
    assert_non_null(strstr(dc_replica_errmsg(office), "different registries"));
    dc_buf_dispose(&b);
    dc_replica_close(wdesk);
    dc_replica_close(office);
}

int main(void) {
    if (dc_global_init(NULL) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parts_keys_and_need_to_know, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_method_and_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_follows_the_driver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
