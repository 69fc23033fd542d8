/*
 * Unit tests of replica/ and store/ through the public API: observers,
 * schema versions and foreign files at open, changes kept opaque until
 * their key arrives, held changes released by dc_replica_release_held,
 * the merge rules inside one transaction (delete then set, remove of an
 * add made in the same transaction), reads and find, and the reserved '@'
 * names.  The rules across replicas are exercised by tests/system.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "drivercore.h"
#include "../common/replica_fixture.h"

static dc_test_dir g_d;

static int setup(void **state) {
    (void)state;
    if (dc_test_dir_make(&g_d, "unit-replica"))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

/* ---- dc_global_init ---- */

/* dc_global_init sets SQLite up (docs/threading.md), so that its one-time
 * set-up is not the first open's: SQLite takes no more configuration.  The
 * first test of this program, before any replica is opened. */
static void test_global_init_sets_up_sqlite(void **state) {
    (void)state;
    assert_int_equal(dc_global_init(NULL), 0);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1), SQLITE_MISUSE);
}

/* ---- observers ---- */

typedef struct seen {
    int calls;
    char last_origin[16];
    char names[8][64];
    int stop_after; /* return non-zero at this call (0: never) */
} seen;

static int observer(void *user, const char *space, const char *type, const char *id,
                    const char *origin) {
    seen *s = user;
    assert_int_equal(strlen(space), 32);
    if (s->calls < 8)
        snprintf(s->names[s->calls], sizeof s->names[0], "%s/%s", type, id);
    snprintf(s->last_origin, sizeof s->last_origin, "%s", origin);
    s->calls++;
    return s->stop_after && s->calls >= s->stop_after;
}

static void test_observers(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "obs-a.db"), *b = dc_test_open(&g_d, "obs-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    seen sa = {0}, sb = {0};
    dc_test_ok(a, dc_replica_observe(a, observer, &sa));
    dc_test_ok(b, dc_replica_observe(b, observer, &sb));
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "Huang"));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "phone", DC_STR, 0, "139"));
    dc_test_ok(a, dc_txn_add(t, "driver", "d2", "tags", DC_STR, 0, "cold chain"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    /* One call per record touched, however many ops touched it. */
    assert_int_equal(sa.calls, 2);
    assert_string_equal(sa.last_origin, "local");
    assert_string_equal(sa.names[0], "driver/d1");
    assert_string_equal(sa.names[1], "driver/d2");
    dc_test_sync_into(a, b);
    assert_int_equal(sb.calls, 2);
    assert_string_equal(sb.last_origin, "remote");
    /* A non-zero return stops the batch and is DC_EUSER; the data stays. */
    sa = (seen){0};
    sa.stop_after = 1;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d3", "name", DC_STR, 0, "Yang"));
    dc_test_ok(a, dc_txn_set(t, "driver", "d4", "name", DC_STR, 0, "Xiao"));
    assert_int_equal(dc_txn_commit(t, NULL), DC_EUSER);
    assert_int_equal(sa.calls, 1);
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(a, dc_record_get(&rec, a, sp, "driver", "d4"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"Xiao\"}");
    /* Cleared: no more calls. */
    dc_test_ok(a, dc_replica_observe(a, NULL, NULL));
    sa.calls = 0;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d5", "name", DC_STR, 0, "Zhang"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    assert_int_equal(sa.calls, 0);
    dc_buf_dispose(&rec);
    free(sp);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- open: versions and foreign files ---- */

static void test_open_refuses_newer_and_foreign(void **state) {
    (void)state;
    char path[512];
    dc_replica *r = dc_test_open(&g_d, "ver.db");
    dc_replica_close(r);
    snprintf(path, sizeof path, "%s/ver.db", g_d.path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key = 'schema'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    r = NULL;
    assert_int_equal(dc_replica_open(&r, path, NULL), DC_EVERSION);
    assert_null(r);
    assert_non_null(strstr(dc_error_last(), "newer"));

    /* Another program's database: refused, and left as it was (journal
     * mode included, which SQLite keeps in the file). */
    snprintf(path, sizeof path, "%s/foreign.db", g_d.path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE notes(x); INSERT INTO notes VALUES(1)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(dc_replica_open(&r, path, NULL), DC_ECORRUPT);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* must_exist never creates a file. */
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = 1;
    snprintf(path, sizeof path, "%s/absent.db", g_d.path);
    assert_int_equal(dc_replica_open(&r, path, &o), DC_ENOTFOUND);
    assert_int_equal(access(path, F_OK), -1);
}

/* Opening a replica that another connection is writing takes no write lock
 * (docs/storage.md, "Opening"): a reader opens and reads at once, where it
 * used to wait for the lock and give up with DC_EBUSY after 5 s. */
static void test_open_while_another_writes(void **state) {
    (void)state;
    char path[512];
    dc_replica *r = dc_test_open(&g_d, "busy.db");
    char *sp = dc_test_shared_space(r, NULL, 0);
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "Ahmadi"));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    dc_replica_close(r);
    snprintf(path, sizeof path, "%s/busy.db", g_d.path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "BEGIN IMMEDIATE; INSERT INTO meta(key, value) "
                                  "VALUES('busy-test', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* The lock is held: another connection cannot take it. */
    sqlite3 *other;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_BUSY);
    sqlite3_close(other);
    r = NULL;
    dc_replica_options o = dc_test_pinned_options(&g_d);
    o.must_exist = 1;
    dc_test_ok(r, dc_replica_open(&r, path, &o));
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(r, dc_record_get(&rec, r, sp, "driver", "d1"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"Ahmadi\"}");
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    dc_buf_dispose(&rec);
    dc_replica_close(r);
    free(sp);
}

/* ---- opaque until the key comes ---- */

static void test_opaque_until_granted(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "op-a.db"), *c = dc_test_open(&g_d, "op-c.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "home", "h1", "name", DC_STR, 0, "Wudang"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    /* C carries the space without being in it: kept, verified, unreadable. */
    dc_buf b = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_test_ok(a, dc_bundle_export(&b, a, NULL));
    dc_test_ok(c, dc_bundle_import(c, b.ptr, b.size, &rep));
    /* The space's name and the home (the creator has no device name). */
    assert_non_null(strstr((const char *)rep.ptr, "\"opaque\":2"));
    char *dc = dc_test_dump(c);
    assert_string_equal(dc, "{}");
    free(dc);
    /* C passes them on intact: a third replica holding the key would accept. */
    dc_buf fwd = DC_BUF_INIT;
    dc_test_ok(c, dc_bundle_export(&fwd, c, sp));
    assert_true(fwd.size > 100);
    /* Granted, C is invited: still nothing decrypted, nothing readable. */
    dc_buf card = DC_BUF_INIT, list = DC_BUF_INIT;
    dc_test_ok(c, dc_replica_card(&card, c));
    dc_test_ok(a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_READER));
    dc_test_ok(a, dc_bundle_export(&b, a, NULL));
    dc_test_ok(c, dc_bundle_import(c, b.ptr, b.size, &rep));
    assert_non_null(strstr((const char *)rep.ptr, "\"released\":0"));
    dc_test_ok(c, dc_space_list(&list, c));
    assert_non_null(strstr((const char *)list.ptr, "\"state\":\"invited\""));
    assert_non_null(strstr((const char *)list.ptr, dc_replica_device_id(a)));
    dc_buf rec = DC_BUF_INIT;
    assert_int_equal(dc_record_get(&rec, c, sp, "home", "h1"), DC_EDENIED);
    assert_non_null(strstr(dc_replica_errmsg(c), "space accept"));
    dc = dc_test_dump(c);
    assert_string_equal(dc, "{}");
    free(dc);
    /* Once accepted, the changes C already held are applied. */
    dc_test_ok(c, dc_space_accept(c, sp, 0));
    dc_test_ok(c, dc_space_list(&list, c));
    assert_non_null(strstr((const char *)list.ptr, "\"state\":\"accepted\""));
    char *da = dc_test_dump(a);
    dc = dc_test_dump(c);
    assert_string_equal(da, dc);
    assert_non_null(strstr(dc, "Wudang"));
    /* A reader cannot write. */
    assert_int_equal(dc_txn_begin(&t, c, sp), DC_EDENIED);
    assert_null(t);
    free(da);
    free(dc);
    free(sp);
    dc_buf_dispose(&b);
    dc_buf_dispose(&rep);
    dc_buf_dispose(&fwd);
    dc_buf_dispose(&card);
    dc_buf_dispose(&list);
    dc_buf_dispose(&rec);
    dc_replica_close(a);
    dc_replica_close(c);
}

/* ---- held until the clock catches up ---- */

static void test_held_release(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "held-a.db"), *b = dc_test_open(&g_d, "held-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    int64_t base = g_d.now;
    /* A's clock runs two hours ahead when it writes. */
    g_d.now = base + 2 * 3600 * 1000;
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "status", DC_STR, 0, "verified"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    g_d.now = base;
    dc_buf bun = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_test_ok(a, dc_bundle_export(&bun, a, NULL));
    dc_test_ok(b, dc_bundle_import(b, bun.ptr, bun.size, &rep));
    assert_non_null(strstr((const char *)rep.ptr, "\"held\":1"));
    dc_buf rec = DC_BUF_INIT;
    assert_int_equal(dc_record_get(&rec, b, sp, "driver", "d1"), DC_ENOTFOUND);
    uint64_t n = 99;
    dc_test_ok(b, dc_replica_release_held(&n, b));
    assert_int_equal(n, 0);                            /* still too early */
    g_d.now = base + 2 * 3600 * 1000 - 30 * 60 * 1000; /* within the hour of skew */
    dc_test_ok(b, dc_replica_release_held(&n, b));
    assert_int_equal(n, 1);
    dc_test_ok(b, dc_record_get(&rec, b, sp, "driver", "d1"));
    assert_string_equal((const char *)rec.ptr, "{\"status\":\"verified\"}");
    /* B's own next write is stamped after what it accepted. */
    dc_test_ok(b, dc_txn_begin(&t, b, sp));
    dc_test_ok(b, dc_txn_set(t, "driver", "d1", "status", DC_STR, 0, "re-checked"));
    dc_test_ok(b, dc_txn_commit(t, NULL));
    dc_test_ok(b, dc_record_get(&rec, b, sp, "driver", "d1"));
    assert_string_equal((const char *)rec.ptr, "{\"status\":\"re-checked\"}");
    g_d.now = base;
    free(sp);
    dc_buf_dispose(&bun);
    dc_buf_dispose(&rep);
    dc_buf_dispose(&rec);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- two handles writing one file (a UI thread and a sync thread) ---- */

static void test_two_writing_handles(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "two.db"), *a2 = dc_test_open(&g_d, "two.db"),
               *b = dc_test_open(&g_d, "two-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_txn *t1, *t2;
    /* Interleaved: both take the next sequence number at commit, each after
     * the other's timestamps. */
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        dc_test_ok(a, dc_txn_begin(&t1, a, sp));
        dc_test_ok(a2, dc_txn_begin(&t2, a2, sp));
        dc_test_ok(a, dc_txn_set(t1, "note", id, "by", DC_STR, 0, "first handle"));
        dc_test_ok(a2, dc_txn_add(t2, "note", id, "tags", DC_STR, 0, "x"));
        /* A remove of an add in the same transaction names it by the number
         * the change will get, which the other handle takes first. */
        dc_test_ok(a2, dc_txn_remove(t2, "note", id, "tags", DC_STR, 0, "x"));
        dc_test_ok(a2, dc_txn_set(t2, "note", id, "later", DC_STR, 0, "second handle"));
        dc_test_ok(a, dc_txn_commit(t1, NULL));
        dc_test_ok(a2, dc_txn_commit(t2, NULL));
    }
    dc_test_sync_into(a2, b);
    char *da = dc_test_dump(a), *d2 = dc_test_dump(a2), *db = dc_test_dump(b);
    assert_string_equal(da, d2);
    assert_string_equal(da, db);
    assert_non_null(strstr(da, "second handle"));
    assert_null(strstr(da, "tags")); /* each remove took away its own add */
    free(da);
    free(d2);
    free(db);
    free(sp);
    dc_replica_close(a);
    dc_replica_close(a2);
    dc_replica_close(b);
}

/* ---- a read snapshot (dc_replica_read_begin) ---- */

static int count_rec(void *user, const dc_record *rec) {
    (void)rec;
    (*(int *)user)++;
    return 0;
}

static int notes(dc_replica *r, const char *sp) {
    int n = 0;
    dc_test_ok(r, dc_record_each(r, sp, "note", NULL, count_rec, &n));
    return n;
}

static void note(dc_replica *r, const char *sp, const char *id) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_set(t, "note", id, "text", DC_STR, 0, id));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

/* The reads of a snapshot see one state of the file: what was committed
 * before it began (by any handle, folded by the begin), nothing committed
 * by another handle meanwhile; after its end, everything. */
static void test_read_snapshot(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "snap.db"), *a2 = dc_test_open(&g_d, "snap.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    note(a, sp, "n0");
    note(a2, sp, "n1"); /* pending for a: the begin folds it */
    dc_test_ok(a, dc_replica_read_begin(a));
    assert_int_equal(notes(a, sp), 2);
    note(a2, sp, "n2");
    assert_int_equal(notes(a, sp), 2);
    /* Nested pairs: only the outermost ends the read. */
    dc_test_ok(a, dc_replica_read_begin(a));
    uint64_t n = 0;
    dc_test_ok(a, dc_record_count(a, sp, "note", &n));
    assert_true(n == 2);
    dc_test_ok(a, dc_replica_read_end(a));
    assert_int_equal(notes(a, sp), 2);
    /* Only reads inside: a write fails, and says why. */
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "note", "n9", "text", DC_STR, 0, "n9"));
    assert_int_equal(dc_txn_commit(t, NULL), DC_EBUSY); /* freed either way */
    assert_non_null(strstr(dc_replica_errmsg(a), "dc_replica_read_end"));
    /* The other writes too: an import, a new space; nothing of them stays. */
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_space_create(&b, a, "x"), DC_EBUSY);
    assert_non_null(strstr(dc_replica_errmsg(a), "read snapshot"));
    dc_buf_dispose(&b);
    dc_test_ok(a, dc_replica_read_end(a));
    assert_int_equal(notes(a, sp), 3);
    dc_test_ok(a, dc_record_count(a, sp, "note", &n));
    assert_true(n == 3);
    /* An end without a begin is a misuse, with a message. */
    assert_int_equal(dc_replica_read_end(a), DC_EMISUSE);
    assert_non_null(strstr(dc_replica_errmsg(a), "dc_replica_read_begin"));
    free(sp);
    dc_replica_close(a);
    dc_replica_close(a2);
}

/* ---- clocks a timestamp cannot hold ---- */

static void test_clock_out_of_range(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "clock-a.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    dc_txn *t = NULL;
    int64_t saved = g_d.now;
    /* Before 1970, and after the year 10889 (48 bits of milliseconds). */
    const int64_t bad[] = {-1, INT64_C(1) << 48, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g_d.now = bad[i];
        assert_int_equal(dc_txn_begin(&t, a, sp), DC_ECLOCK);
        assert_null(t);
        assert_non_null(strstr(dc_replica_errmsg(a), "clock"));
        dc_buf b = DC_BUF_INIT;
        assert_int_equal(dc_space_create(&b, a, "x"), DC_ECLOCK);
        assert_int_equal(dc_space_rotate(a, sp), DC_ECLOCK);
        assert_int_equal(dc_bundle_import(a, NULL, 0, NULL), DC_ECLOCK);
        dc_buf_dispose(&b);
        /* A replica does not open on such a clock either. */
        char path[512];
        snprintf(path, sizeof path, "%s/clock-b.db", g_d.path);
        dc_replica_options o = dc_test_pinned_options(&g_d);
        dc_replica *r = NULL;
        assert_int_equal(dc_replica_open(&r, path, &o), DC_ECLOCK);
        assert_null(r);
    }
    g_d.now = saved;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_txn_rollback(t);
    /* A skew bound beyond what a timestamp can hold is refused at open. */
    char path[512];
    snprintf(path, sizeof path, "%s/clock-c.db", g_d.path);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.max_clock_skew_ms = INT64_MAX;
    dc_replica *r = NULL;
    assert_int_equal(dc_replica_open(&r, path, &o), DC_EINVAL);
    free(sp);
    dc_replica_close(a);
}

/* ---- rules inside one transaction ---- */

static void test_one_transaction_rules(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "one.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    dc_txn *t;
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "old"));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "plate", DC_STR, 0, "GZ-A"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    /* Delete then set in one transaction: the record is recreated with only
     * the later field (ops are ordered inside a change). */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_delete(t, "driver", "d1"));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "new"));
    /* Set twice: the later op wins. */
    dc_test_ok(a, dc_txn_set(t, "driver", "d2", "n", DC_INT, 1, NULL));
    dc_test_ok(a, dc_txn_set(t, "driver", "d2", "n", DC_INT, 2, NULL));
    /* Add then remove the same value: gone; another value stays. */
    dc_test_ok(a, dc_txn_add(t, "driver", "d2", "tags", DC_STR, 0, "x"));
    dc_test_ok(a, dc_txn_add(t, "driver", "d2", "tags", DC_STR, 0, "y"));
    dc_test_ok(a, dc_txn_remove(t, "driver", "d2", "tags", DC_STR, 0, "x"));
    assert_int_equal(dc_txn_op_count(t), 7);
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_test_ok(a, dc_record_get(&rec, a, sp, "driver", "d1"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"new\"}");
    dc_test_ok(a, dc_record_get(&rec, a, sp, "driver", "d2"));
    assert_string_equal((const char *)rec.ptr, "{\"n\":2,\"tags\":[\"y\"]}");
    /* A delete alone hides the record from reads and the dump. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_delete(t, "driver", "d2"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    assert_int_equal(dc_record_get(&rec, a, sp, "driver", "d2"), DC_ENOTFOUND);
    char *d = dc_test_dump(a);
    assert_null(strstr(d, "\"d2\""));
    free(d);
    /* An empty transaction commits nothing. */
    dc_buf cid = DC_BUF_INIT;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_commit(t, &cid));
    assert_int_equal(cid.size, 0);
    dc_buf_dispose(&cid);
    dc_buf_dispose(&rec);
    free(sp);
    dc_replica_close(a);
}

/* ---- reads ---- */

static void test_find_and_list(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "find.db");
    char *sp = dc_test_shared_space(a, NULL, 0);
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set(t, "driver", "d1", "county", DC_STR, 0, "Wudang"));
    dc_test_ok(a, dc_txn_set(t, "driver", "d2", "county", DC_STR, 0, "Wanshan"));
    dc_test_ok(a, dc_txn_add(t, "driver", "d3", "county", DC_STR, 0, "Wudang"));
    dc_test_ok(a, dc_txn_set(t, "driver", "d4", "party", DC_BOOL, 1, NULL));
    dc_test_ok(a, dc_txn_set(t, "station", "s1", "county", DC_STR, 0, "Wudang"));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(a, dc_record_find(&out, a, sp, "driver", "county", DC_STR, 0, "Wudang"));
    assert_string_equal((const char *)out.ptr,
                        "{\"d1\":{\"county\":\"Wudang\"},\"d3\":{\"county\":[\"Wudang\"]}}");
    dc_test_ok(a, dc_record_find(&out, a, sp, "driver", "party", DC_BOOL, 1, NULL));
    assert_string_equal((const char *)out.ptr, "{\"d4\":{\"party\":true}}");
    /* A bool is not the integer 1. */
    dc_test_ok(a, dc_record_find(&out, a, sp, "driver", "party", DC_INT, 1, NULL));
    assert_string_equal((const char *)out.ptr, "{}");
    dc_test_ok(a, dc_record_list(&out, a, sp, "station"));
    assert_string_equal((const char *)out.ptr, "{\"s1\":{\"county\":\"Wudang\"}}");
    /* Reserved names and bad input are refused before anything is written. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    assert_int_equal(dc_txn_set(t, "@space", "x", "f", DC_INT, 1, NULL), DC_EINVAL);
    assert_int_equal(dc_txn_set(t, "driver", "d9", "@f", DC_INT, 1, NULL), DC_EINVAL);
    assert_int_equal(dc_txn_set(t, "driver", "d9", "f", DC_STR, 0, "\xc3\x28"), DC_EINVAL);
    assert_int_equal(dc_txn_set(t, "driver", "", "f", DC_INT, 1, NULL), DC_EINVAL);
    assert_int_equal(dc_txn_event_field(t, "k", DC_INT, 1, NULL), DC_EMISUSE);
    assert_int_equal(dc_txn_op_count(t), 0);
    dc_txn_rollback(t);
    /* The space name is the library's record: listed, not dumped. */
    dc_test_ok(a, dc_space_list(&out, a));
    assert_non_null(strstr((const char *)out.ptr, "\"name\":\"branch\""));
    char *d = dc_test_dump(a);
    assert_null(strstr(d, "@space"));
    free(d);
    dc_buf_dispose(&out);
    free(sp);
    dc_replica_close(a);
}

/* ---- floats and bytes (change body v2) ---- */

static void test_float_and_bytes(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "kinds-a.db"), *b = dc_test_open(&g_d, "kinds-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_txn *t;
    dc_value lat = {DC_FLOAT, 0, 26.5783, NULL, 0}, whole = {DC_FLOAT, 0, 3.0, NULL, 0};
    dc_value big = {DC_FLOAT, 0, 1e21, NULL, 0}, third = {DC_FLOAT, 0, 1.0 / 3.0, NULL, 0};
    static const uint8_t raw[5] = {0, 1, 2, 0xff, 0};
    dc_value pic = {DC_BYTES, 0, 0, raw, sizeof raw};
    dc_value empty = {DC_BYTES, 0, 0, NULL, 0};
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_set_value(t, "checkin", "c1", "lat", &lat));
    dc_test_ok(a, dc_txn_set_value(t, "checkin", "c1", "n", &whole));
    dc_test_ok(a, dc_txn_set_value(t, "checkin", "c1", "big", &big));
    dc_test_ok(a, dc_txn_set_value(t, "checkin", "c1", "third", &third));
    dc_test_ok(a, dc_txn_set_value(t, "checkin", "c1", "pic", &pic));
    dc_test_ok(a, dc_txn_add_value(t, "checkin", "c1", "tags", &empty));
    dc_test_ok(a, dc_txn_add_value(t, "checkin", "c1", "tags", &lat));
    dc_test_ok(a, dc_txn_event(t, "checkin", "c1"));
    dc_test_ok(a, dc_txn_event_field_value(t, "at", &lat));
    /* Not a value: NaN and infinities, and floats through the old calls. */
    dc_value nan = {DC_FLOAT, 0, NAN, NULL, 0}, inf = {DC_FLOAT, 0, INFINITY, NULL, 0};
    assert_int_equal(dc_txn_set_value(t, "checkin", "c1", "x", &nan), DC_EINVAL);
    assert_int_equal(dc_txn_add_value(t, "checkin", "c1", "x", &inf), DC_EINVAL);
    assert_int_equal(dc_txn_set(t, "checkin", "c1", "x", DC_FLOAT, 0, NULL), DC_EINVAL);
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(a, dc_record_get(&rec, a, sp, "checkin", "c1"));
    /* Shortest digits that read back as the same double; ".0" on a whole
     * number; bytes in base64; set members sorted by their JSON text. */
    const char *want = "{\"@events\":[{\"@author\":\"";
    assert_memory_equal(rec.ptr, want, strlen(want));
    assert_non_null(strstr((const char *)rec.ptr, "\"at\":26.5783}]"));
    assert_non_null(strstr((const char *)rec.ptr,
                           "\"big\":1e+21,\"lat\":26.5783,\"n\":3.0,\"pic\":{\"@bytes\":"
                           "\"AAEC/wA=\"},\"tags\":[26.5783,{\"@bytes\":\"\"}],"
                           "\"third\":0.3333333333333333}"));
    /* Found by value, and only by the same value. */
    dc_test_ok(a, dc_record_find_value(&rec, a, sp, "checkin", "lat", &lat));
    assert_non_null(strstr((const char *)rec.ptr, "\"c1\":"));
    dc_value other = {DC_FLOAT, 0, 26.5784, NULL, 0};
    dc_test_ok(a, dc_record_find_value(&rec, a, sp, "checkin", "lat", &other));
    assert_string_equal((const char *)rec.ptr, "{}");
    dc_test_ok(a, dc_record_find_value(&rec, a, sp, "checkin", "pic", &pic));
    assert_non_null(strstr((const char *)rec.ptr, "\"c1\":"));
    dc_test_ok(a, dc_record_find_value(&rec, a, sp, "checkin", "tags", &empty));
    assert_non_null(strstr((const char *)rec.ptr, "\"c1\":"));
    /* A remove of a float member takes exactly that member. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    dc_test_ok(a, dc_txn_remove_value(t, "checkin", "c1", "tags", &lat));
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_test_ok(a, dc_record_get(&rec, a, sp, "checkin", "c1"));
    assert_non_null(strstr((const char *)rec.ptr, "\"tags\":[{\"@bytes\":\"\"}]"));
    /* Another replica reads the same bytes. */
    dc_test_sync_into(a, b);
    char *da = dc_test_dump(a), *db = dc_test_dump(b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    dc_buf_dispose(&rec);
    free(sp);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- an import's new records beside ones already held ---- */

/* Sets `field` of records PREFIX<from> .. PREFIX<to - 1> of `type` to `v`. */
static void set_range(dc_txn *t, const char *type, const char *prefix, int from, int to,
                      const char *v) {
    char id[32];
    for (int i = from; i < to; i++) {
        snprintf(id, sizeof id, "%s%02d", prefix, i);
        if (dc_txn_set(t, type, id, "name", DC_STR, 0, v) != 0)
            fail_msg("set %s %s", type, id);
    }
}

static void test_import_beside_held_records(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "beside-a.db"), *b = dc_test_open(&g_d, "beside-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_txn *t;
    /* B holds drivers d10..d19 and trucks t00..t09. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    set_range(t, "driver", "d", 10, 20, "first");
    set_range(t, "truck", "t", 0, 10, "first");
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_test_sync_into(a, b);
    /* One import then brings drivers below, among and above those B holds
     * (d00..d29: d10..d19 change), trucks all above them (t10..t19, new),
     * and a type B has never seen. */
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    set_range(t, "driver", "d", 0, 30, "second");
    set_range(t, "truck", "t", 10, 20, "second");
    set_range(t, "branch", "b", 0, 5, "second");
    dc_test_ok(a, dc_txn_commit(t, NULL));
    dc_test_sync_into(a, b);
    char *da = dc_test_dump(a), *db = dc_test_dump(b);
    assert_string_equal(da, db);
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(b, dc_record_get(&rec, b, sp, "driver", "d15"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"second\"}");
    dc_test_ok(b, dc_record_get(&rec, b, sp, "truck", "t05"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"first\"}");
    dc_test_ok(b, dc_record_get(&rec, b, sp, "truck", "t15"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"second\"}");
    dc_test_ok(b, dc_record_get(&rec, b, sp, "branch", "b04"));
    assert_string_equal((const char *)rec.ptr, "{\"name\":\"second\"}");
    free(da);
    free(db);
    dc_buf_dispose(&rec);
    free(sp);
    dc_replica_close(a);
    dc_replica_close(b);
}

/* ---- a large import: its hash beside the checks, its checkpoints ---- */

/* A bundle of `n` transactions, each setting one record's note to 2,400
 * characters that do not compress much (hex of a generator's output). */
static void big_history(dc_replica *a, const char *sp, int n) {
    char note[2401], id[16];
    uint64_t x = 88172645463325252u;
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < 2400; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            note[i] = "0123456789abcdef"[x & 15];
        }
        note[2400] = 0;
        snprintf(id, sizeof id, "r%04d", k % 500);
        dc_txn *t;
        dc_test_ok(a, dc_txn_begin(&t, a, sp));
        dc_test_ok(a, dc_txn_set(t, "note", id, "text", DC_STR, 0, note));
        dc_test_ok(a, dc_txn_commit(t, NULL));
    }
}

static off_t file_size(const char *name) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", g_d.path, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_large_import(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "large-a.db"), *b = dc_test_open(&g_d, "large-b.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    big_history(a, sp, 900);
    dc_buf bundle = DC_BUF_INIT;
    dc_test_ok(a, dc_bundle_export(&bundle, a, NULL));
    /* Big enough for the import to checkpoint on the other core and for
     * the signature checks to run on threads. */
    assert_true(bundle.size >= (size_t)1 << 20);
    char *before = dc_test_dump(b);
    /* A damaged hash refuses the whole bundle, though the checks started
     * before it was known. */
    bundle.ptr[bundle.size - 1] ^= 1;
    assert_int_equal(dc_bundle_import(b, bundle.ptr, bundle.size, NULL), DC_ECORRUPT);
    assert_non_null(strstr(dc_replica_errmsg(b), "checksum mismatch"));
    assert_non_null(strstr(dc_replica_errmsg(b), "nothing was imported"));
    /* A damaged length too: the hash is named, as it was checked first. */
    bundle.ptr[bundle.size - 1] ^= 1;
    bundle.ptr[16] ^= 0x40;
    assert_int_equal(dc_bundle_import(b, bundle.ptr, bundle.size, NULL), DC_ECORRUPT);
    assert_non_null(strstr(dc_replica_errmsg(b), "checksum mismatch"));
    bundle.ptr[16] ^= 0x40;
    /* Not a bundle at all: said so, whatever its hash. */
    bundle.ptr[0] ^= 1;
    assert_int_equal(dc_bundle_import(b, bundle.ptr, bundle.size, NULL), DC_ECORRUPT);
    assert_non_null(strstr(dc_replica_errmsg(b), "bad magic"));
    bundle.ptr[0] ^= 1;
    char *refused = dc_test_dump(b);
    assert_string_equal(before, refused);
    /* Whole: every record, and the import's pages copied from the WAL into
     * the file before the call returned (the WAL alone would hold them). */
    off_t small = file_size("large-b.db");
    dc_test_ok(b, dc_bundle_import(b, bundle.ptr, bundle.size, NULL));
    assert_true(file_size("large-b.db") >= small + (off_t)(bundle.size / 2));
    char *da = dc_test_dump(a), *db = dc_test_dump(b);
    assert_string_equal(da, db);
    dc_replica_close(b);
    b = dc_test_open(&g_d, "large-b.db");
    char *again = dc_test_dump(b);
    assert_string_equal(da, again);
    free(before);
    free(refused);
    free(da);
    free(db);
    free(again);
    free(sp);
    dc_buf_dispose(&bundle);
    dc_replica_close(a);
    dc_replica_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_init_sets_up_sqlite),
        cmocka_unit_test(test_observers),
        cmocka_unit_test(test_open_refuses_newer_and_foreign),
        cmocka_unit_test(test_open_while_another_writes),
        cmocka_unit_test(test_opaque_until_granted),
        cmocka_unit_test(test_held_release),
        cmocka_unit_test(test_clock_out_of_range),
        cmocka_unit_test(test_two_writing_handles),
        cmocka_unit_test(test_read_snapshot),
        cmocka_unit_test(test_one_transaction_rules),
        cmocka_unit_test(test_find_and_list),
        cmocka_unit_test(test_float_and_bytes),
        cmocka_unit_test(test_import_beside_held_records),
        cmocka_unit_test(test_large_import),
    };
    return cmocka_run_group_tests_name("replica", tests, setup, teardown);
}
