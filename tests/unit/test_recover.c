/*
 * Cloned replicas and their recovery, through the public C API
 * (docs/recovery.md): a phone's replica file is copied as a backup takes
 * it, the original writes on, the copy writes offline.  The tests check
 * what an app and the people behind it see: the copy is marked cloned when
 * it meets the original's changes ("conflict", "ahead") or at once when its
 * installation id differs ("copied"); it then refuses to sign (DC_ECLONED)
 * while reads and imports go on; dc_replica_recover gives it a new
 * identity that keeps its data; once an admin adds the new card every
 * replica converges with nothing lost.  Bundles carry the changes, so the
 * test runs anywhere the C suite runs (under qemu-user too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "drivercore.h"
#include "../common/replica_fixture.h"

static dc_test_dir g_d;

static void path_of(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", g_d.path, name);
}

/* Opens `name` in the test directory, with `install` as install_id. */
static dc_replica *open_as(const char *name, const char *install) {
    char path[512];
    path_of(path, sizeof path, name);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = dc_test_pinned;
    o.clock_user = &g_d;
    o.install_id = install;
    dc_replica *r = NULL;
    if (dc_replica_open(&r, path, &o))
        fail_msg("open %s: %s", path, dc_error_last());
    return r;
}

/* A backup: the file as it is on disk (its handle closed first, so SQLite
 * has folded the WAL into it). */
static void copy_file(const char *from, const char *to) {
    char a[512], b[512];
    path_of(a, sizeof a, from);
    path_of(b, sizeof b, to);
    FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static int import_from(dc_replica *from, dc_replica *to) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(from, dc_bundle_export(&b, from, NULL));
    int rc = dc_bundle_import(to, b.ptr, b.size, NULL);
    dc_buf_dispose(&b);
    return rc;
}

static void set(dc_replica *r, const char *space, const char *id, const char *value) {
    dc_txn *t = NULL;
    dc_test_ok(r, dc_txn_begin(&t, r, space));
    dc_test_ok(r, dc_txn_set(t, "d", id, "n", DC_STR, 0, value));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

static char *text(dc_replica *r, int (*fn)(dc_buf *, dc_replica *)) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, fn(&b, r));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

static int dump_all(dc_buf *out, dc_replica *r) {
    return dc_replica_dump(out, r, NULL);
}

/* A tablet (admin) and a phone (member) of one space; returns its id. */
static char *branch(dc_replica *tablet, dc_replica *phone) {
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT;
    dc_test_ok(tablet, dc_space_create(&sp, tablet, "branch"));
    dc_test_ok(phone, dc_replica_card(&card, phone));
    dc_test_ok(tablet,
               dc_space_add(tablet, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_test_sync_into(tablet, phone);
    dc_test_ok(phone, dc_space_accept(phone, (const char *)sp.ptr, 0));
    char *id = strdup((const char *)sp.ptr);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    return id;
}

/* The "card" object of dc_replica_recover's result, as text. */
static char *card_of(const char *rec) {
    const char *p = strstr(rec, "\"card\":");
    assert_non_null(p);
    p += 7;
    const char *end = strchr(p, '}');
    assert_non_null(end);
    return strndup(p, (size_t)(end - p + 1));
}

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "unit-recover");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

/* The copy writes under a sequence number the original used: marked at the
 * first import that brings the original's change, refused, recovered,
 * re-enrolled; every replica then shows every write. */
static void test_conflict_recovered_nothing_lost(void **state) {
    (void)state;
    dc_replica *tablet = open_as("c-tablet.db", NULL), *phone = open_as("c-phone.db", NULL);
    char *space = branch(tablet, phone);
    set(phone, space, "1", "before");
    dc_test_sync_into(phone, tablet);
    char old_id[65];
    snprintf(old_id, sizeof old_id, "%s", dc_replica_device_id(phone));
    dc_replica_close(phone);
    copy_file("c-phone.db", "c-restored.db");
    phone = open_as("c-phone.db", NULL);
    dc_replica *restored = open_as("c-restored.db", NULL);
    assert_string_equal(dc_replica_device_id(restored), old_id);

    set(phone, space, "2", "original");
    dc_test_sync_into(phone, tablet);
    set(restored, space, "3", "restored"); /* nothing tells it yet */
    assert_int_equal(dc_replica_cloned(restored), 0);

    /* The tablet's bundle carries the original's change under the number
     * the copy used: refused as a whole, and the copy marked. */
    assert_int_equal(import_from(tablet, restored), DC_ECONFLICT);
    assert_int_equal(dc_replica_cloned(restored), 1);
    char *st = text(restored, dc_replica_status);
    assert_non_null(strstr(st, "\"cloned\":{\"why\":\"conflict\""));
    assert_non_null(strstr(st, space));
    free(st);
    dc_txn *t = NULL;
    assert_int_equal(dc_txn_begin(&t, restored, space), DC_ECLONED);
    assert_null(t);
    assert_non_null(strstr(dc_replica_errmsg(restored), "dc_replica_recover"));
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_space_create(&b, restored, "mine"), DC_ECLONED);
    dc_buf_dispose(&b);
    /* Reading goes on. */
    dc_test_ok(restored, dc_record_get(&b, restored, space, "d", "3"));
    assert_non_null(strstr((const char *)b.ptr, "restored"));
    dc_buf_dispose(&b);
    /* The mark is in the file: a second handle sees it. */
    dc_replica *again = open_as("c-restored.db", NULL);
    assert_int_equal(dc_replica_cloned(again), 1);
    dc_replica_close(again);

    char *rec = text(restored, dc_replica_recover);
    assert_int_equal(dc_replica_cloned(restored), 0);
    assert_string_not_equal(dc_replica_device_id(restored), old_id);
    char want[200];
    snprintf(want, sizeof want, "\"previous\":\"%s\"", old_id);
    assert_non_null(strstr(rec, want));
    snprintf(want, sizeof want, "\"replaces\":\"%s\"", old_id);
    assert_non_null(strstr(rec, want));
    /* Both of the old identity's changes: bundles carry no relay's
     * acknowledgement, so "before" is re-signed too (same value). */
    assert_non_null(strstr(rec, "\"resigned\":2,"));
    snprintf(want, sizeof want, "\"spaces\":[\"%s\"]", space);
    assert_non_null(strstr(rec, want));
    st = text(restored, dc_replica_status);
    assert_non_null(strstr(st, "\"cloned\":null"));
    free(st);
    /* Nobody's member yet: an admin must add the new card. */
    assert_int_equal(dc_txn_begin(&t, restored, space), DC_EDENIED);
    char *card = card_of(rec);
    dc_test_ok(tablet, dc_space_add(tablet, space, card, DC_ROLE_MEMBER));
    free(card);
    free(rec);

    dc_test_sync_into(tablet, restored);
    dc_test_sync_into(restored, tablet);
    dc_test_sync_into(tablet, phone);
    set(restored, space, "4", "after");
    dc_test_sync_into(restored, tablet);
    dc_test_sync_into(tablet, phone);
    dc_test_sync_into(tablet, restored);
    char *dt = text(tablet, dump_all), *dp = text(phone, dump_all), *dr = text(restored, dump_all);
    assert_string_equal(dt, dp);
    assert_string_equal(dt, dr);
    assert_non_null(strstr(dt, "\"before\""));
    assert_non_null(strstr(dt, "\"original\""));
    assert_non_null(strstr(dt, "\"restored\""));
    assert_non_null(strstr(dt, "\"after\""));
    free(dt);
    free(dp);
    free(dr);
    free(space);
    dc_replica_close(tablet);
    dc_replica_close(phone);
    dc_replica_close(restored);
}

/* The original wrote further and the copy wrote nothing: "ahead".  The
 * import succeeds (the original's change is valid), and the copy must not
 * write under the numbers it would take next. */
static void test_ahead(void **state) {
    (void)state;
    dc_replica *tablet = open_as("a-tablet.db", NULL), *phone = open_as("a-phone.db", NULL);
    char *space = branch(tablet, phone);
    dc_replica_close(phone);
    copy_file("a-phone.db", "a-restored.db");
    phone = open_as("a-phone.db", NULL);
    dc_replica *restored = open_as("a-restored.db", NULL);
    set(phone, space, "1", "later");
    dc_test_sync_into(phone, tablet);
    assert_int_equal(import_from(tablet, restored), 0);
    assert_int_equal(dc_replica_cloned(restored), 1);
    char *st = text(restored, dc_replica_status);
    assert_non_null(strstr(st, "\"cloned\":{\"why\":\"ahead\""));
    free(st);
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(restored, dc_record_get(&b, restored, space, "d", "1"));
    assert_non_null(strstr((const char *)b.ptr, "later"));
    dc_buf_dispose(&b);
    dc_txn *t = NULL;
    assert_int_equal(dc_txn_begin(&t, restored, space), DC_ECLONED);
    /* The original itself is not marked by its own changes. */
    assert_int_equal(import_from(tablet, phone), 0);
    assert_int_equal(dc_replica_cloned(phone), 0);
    free(space);
    dc_replica_close(tablet);
    dc_replica_close(phone);
    dc_replica_close(restored);
}

/* The app keeps an installation id out of backups; a file opened under
 * another one is a copy, marked before it writes anything. */
static void test_install_id(void **state) {
    (void)state;
    dc_replica *tablet = open_as("i-tablet.db", NULL), *phone = open_as("i-phone.db", "inst-a");
    char *space = branch(tablet, phone);
    dc_replica_close(phone);
    copy_file("i-phone.db", "i-restored.db");
    phone = open_as("i-phone.db", "inst-a");
    assert_int_equal(dc_replica_cloned(phone), 0);
    dc_replica *restored = open_as("i-restored.db", "inst-b");
    assert_int_equal(dc_replica_cloned(restored), 1);
    char *st = text(restored, dc_replica_status);
    assert_non_null(strstr(st, "\"cloned\":{\"why\":\"copied\""));
    free(st);
    dc_txn *t = NULL;
    assert_int_equal(dc_txn_begin(&t, restored, space), DC_ECLONED);
    /* Reopened under its own (new) id, the mark stays until recovery. */
    dc_replica_close(restored);
    restored = open_as("i-restored.db", "inst-b");
    assert_int_equal(dc_replica_cloned(restored), 1);
    dc_test_ok(restored, dc_replica_recover(NULL, restored));
    assert_int_equal(dc_replica_cloned(restored), 0);
    dc_replica_close(restored);
    restored = open_as("i-restored.db", "inst-b");
    assert_int_equal(dc_replica_cloned(restored), 0);
    /* Opened with no id at all: no check. */
    dc_replica_close(phone);
    phone = open_as("i-phone.db", NULL);
    assert_int_equal(dc_replica_cloned(phone), 0);
    free(space);
    dc_replica_close(tablet);
    dc_replica_close(phone);
    dc_replica_close(restored);
}

static void test_misuse(void **state) {
    (void)state;
    assert_int_equal(dc_replica_cloned(NULL), DC_EMISUSE);
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_replica_recover(&b, NULL), DC_EMISUSE);
    dc_replica *r = open_as("m.db", NULL);
    dc_buf sp = DC_BUF_INIT;
    dc_test_ok(r, dc_space_create(&sp, r, "solo"));
    char id[65];
    snprintf(id, sizeof id, "%s", dc_replica_device_id(r));
    dc_txn *t = NULL;
    dc_test_ok(r, dc_txn_begin(&t, r, (const char *)sp.ptr));
    assert_int_equal(dc_replica_recover(&b, r), DC_EMISUSE);
    assert_string_equal(dc_replica_device_id(r), id); /* nothing changed */
    dc_txn_rollback(t);
    /* An identity can be retired on purpose too: the card changes. */
    dc_test_ok(r, dc_replica_recover(&b, r));
    assert_string_not_equal(dc_replica_device_id(r), id);
    assert_non_null(strstr((const char *)b.ptr, "\"not_resigned\":"));
    dc_buf_dispose(&b);
    dc_buf_dispose(&sp);
    dc_replica_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conflict_recovered_nothing_lost),
        cmocka_unit_test(test_ahead),
        cmocka_unit_test(test_install_id),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests_name("recover", tests, setup, teardown);
}
