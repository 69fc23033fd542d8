/*
 * Unit tests of store/ below the public API: the fold (pending changes
 * folded into the records' state; a space's state forgotten and rebuilt
 * from the log gives the same dump), field names as numbers (a number given
 * in a transaction that rolled back is forgotten, a committed one survives a
 * reopen), value indexes through a rebuild, schema step 7 on a file
 * with a value index, schema step 8 and the log's byte stream (its last
 * chunk held by the handle through savepoints, rollbacks and a second
 * handle's appends).  The replica is made
 * through the public API; its store is reached through replica_int.h.
 */
#include "../common/replica_fixture.h"

#include <sqlite3.h>

#include "replica/replica_int.h"
#include "store/store_int.h"

static dc_test_dir g_d;

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "unit-store");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

static int64_t count(dc_replica *r, const char *sql) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(r->st->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* A space with a day of a branch's edits: registers, set adds and
 * removes, events, a delete and a record written again after it. */
static char *busy_space(dc_replica *r) {
    char *sp = dc_test_shared_space(r, NULL, 0);
    for (int c = 0; c < 5; c++) {
        dc_txn *t;
        dc_test_ok(r, dc_txn_begin(&t, r, sp));
        for (int i = 0; i < 40; i++) {
            char id[16], v[16];
            snprintf(id, sizeof id, "d%02d", i);
            snprintf(v, sizeof v, "v%d-%d", c, i);
            dc_test_ok(r, dc_txn_set(t, "driver", id, "status", DC_STR, 0, v));
            dc_test_ok(r, dc_txn_add(t, "driver", id, "tags", DC_STR, 0, c % 2 ? "a" : "b"));
            if (c == 3 && i % 5 == 0)
                dc_test_ok(r, dc_txn_remove(t, "driver", id, "tags", DC_STR, 0, "b"));
            if (c == 2 && i % 7 == 0)
                dc_test_ok(r, dc_txn_delete(t, "driver", id));
            if (i % 3 == 0) {
                dc_test_ok(r, dc_txn_event(t, "driver", id));
                dc_test_ok(r, dc_txn_event_field(t, "round", DC_INT, c, NULL));
            }
        }
        dc_test_ok(r, dc_txn_commit(t, NULL));
        g_d.now += 1000;
    }
    return sp;
}

static void test_fold_and_rebuild(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "fold.db");
    char *sp = busy_space(r);
    /* Commits leave their changes pending; a read folds them all.  (A
     * remove reads the state to name the tags it removes, so the commits
     * before the last one holding removes were folded then.) */
    int64_t pending = count(r, "SELECT count(*) FROM pending");
    if (pending != 2)
        fail_msg("%lld changes pending after the two commits since the last remove",
                 (long long)pending);
    char *before = dc_test_dump(r);
    assert_int_equal(count(r, "SELECT count(*) FROM pending"), 0);
    /* The state forgotten: every applied change pending again, the rows'
     * state empty; the next read rebuilds exactly the same. */
    dc__space s;
    uint8_t sid[16];
    dc__err e = {0, ""};
    assert_int_equal(dc__space_id_parse(r, sp, sid), 0);
    assert_int_equal(dc__store_space_get(r->st, sid, &s, &e), 0);
    assert_int_equal(dc__store_begin(r->st, &e), 0);
    assert_int_equal(dc__store_state_clear(r->st, s.sid, &e), 0);
    assert_int_equal(dc__store_commit(r->st, &e), 0);
    assert_true(count(r, "SELECT count(*) FROM pending") >= 5);
    assert_int_equal(count(r, "SELECT count(*) FROM records WHERE state IS NOT NULL"), 0);
    char *after = dc_test_dump(r);
    assert_string_equal(before, after);
    free(before);
    free(after);
    dc_replica_close(r);
    free(sp);
}

/* One set, committed by r in its own transaction. */
static void set_name(dc_replica *r, const char *sp, const char *id, const char *name) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_set(t, "driver", id, "name", DC_STR, 0, name));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

typedef struct envs {
    dc_buf out; /* a bundle being built */
    bool bad;   /* spoil the signature of the changes added */
} envs;

static int add_changes(void *user, uint64_t i, const uint8_t *p, size_t n) {
    envs *v = user;
    dc__envelope e;
    dc__err err = {0, ""};
    (void)i;
    assert_int_equal(dc__envelope_parse(&e, p, n, &err), 0);
    if (e.kind != DC_ENV_KIND_CHANGE)
        return 0;
    uint8_t *copy = malloc(n);
    memcpy(copy, p, n);
    if (v->bad)
        copy[e.sig - p] ^= 1;
    int rc = dc__bundle_add(&v->out, copy, n);
    free(copy);
    return rc;
}

/* The change envelopes of `from`'s export, appended to the bundle. */
static void add_from(envs *v, dc_replica *from) {
    dc_buf b = DC_BUF_INIT;
    uint64_t count;
    dc__err err = {0, ""};
    dc_test_ok(from, dc_bundle_export(&b, from, NULL));
    assert_int_equal(dc__bundle_parse(b.ptr, b.size, &count, add_changes, v, &err), 0);
    dc_buf_dispose(&b);
}

/* An import decodes each change once and hands the body to the fold
 * (docs/storage.md, "Bodies opened once").  An import that fails rolls its
 * changes back, and the row numbers they had go to the next import's
 * changes: the fold must apply those, never a body kept from the failed
 * one. */
static void test_failed_import_keeps_no_body(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "kept-a.db"), *b = dc_test_open(&g_d, "kept-b.db");
    dc_replica *r = dc_test_open(&g_d, "kept-r.db");
    char *sp = dc_test_shared_space(a, b, DC_ROLE_MEMBER);
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(r, dc_replica_card(&card, r));
    dc_test_ok(a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
    dc_test_sync_into(a, b);
    dc_test_sync_into(a, r);
    dc_test_ok(r, dc_space_accept(r, sp, 0));
    int64_t held = count(r, "SELECT count(*) FROM changes");
    set_name(a, sp, "d1", "written by a");
    set_name(b, sp, "d1", "written by b");

    /* a's change, then b's with a broken signature: all or nothing. */
    envs v = {DC_BUF_INIT, false};
    assert_int_equal(dc__bundle_begin(&v.out), 0);
    add_from(&v, a);
    v.bad = true;
    add_from(&v, b);
    assert_int_equal(dc__bundle_finish(&v.out), 0);
    assert_int_equal(dc_bundle_import(r, v.out.ptr, v.out.size, NULL), DC_EBADSIG);
    assert_int_equal(count(r, "SELECT count(*) FROM changes"), held);
    dc_buf_dispose(&v.out);

    /* b's change alone: stored in the row a's had, and folded as b's. */
    v = (envs){DC_BUF_INIT, false};
    assert_int_equal(dc__bundle_begin(&v.out), 0);
    add_from(&v, b);
    assert_int_equal(dc__bundle_finish(&v.out), 0);
    dc_test_ok(r, dc_bundle_import(r, v.out.ptr, v.out.size, NULL));
    dc_buf_dispose(&v.out);
    assert_int_equal(count(r, "SELECT count(*) FROM changes"), held + 1);
    assert_int_equal(count(r, "SELECT count(*) FROM pending"), 0);
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(r, dc_record_get(&rec, r, sp, "driver", "d1"));
    if (!strstr((const char *)rec.ptr, "written by b") || strstr((const char *)rec.ptr, "by a"))
        fail_msg("the record holds %s", (const char *)rec.ptr);
    dc_buf_dispose(&rec);
    free(sp);
    dc_replica_close(a);
    dc_replica_close(b);
    dc_replica_close(r);
}

static void test_names(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "names.db");
    dc__store *s = r->st;
    dc__err e = {0, ""};
    uint32_t a = 0, b = 0, again = 0;
    /* Numbered in a transaction that rolls back: forgotten. */
    assert_int_equal(dc__store_begin(s, &e), 0);
    assert_int_equal(dc__store_name_id(s, "plate", 5, true, &a, &e), 0);
    dc__store_rollback(s);
    assert_int_equal(dc__store_name_id(s, "plate", 5, false, &again, &e), DC_ENOTFOUND);
    /* Committed: the same number both ways, and after a reopen. */
    assert_int_equal(dc__store_begin(s, &e), 0);
    assert_int_equal(dc__store_name_id(s, "plate", 5, true, &a, &e), 0);
    assert_int_equal(dc__store_name_id(s, "名字", strlen("名字"), true, &b, &e), 0);
    assert_int_equal(dc__store_commit(s, &e), 0);
    assert_int_not_equal(a, b);
    const char *p;
    size_t n;
    assert_int_equal(dc__store_name_of(s, b, &p, &n, &e), 0);
    assert_true(n == strlen("名字") && memcmp(p, "名字", n) == 0);
    dc_replica_close(r);
    r = dc_test_open(&g_d, "names.db");
    assert_int_equal(dc__store_name_id(r->st, "plate", 5, false, &again, &e), 0);
    assert_int_equal(again, a);
    assert_int_equal(dc__store_name_id(r->st, "名字", strlen("名字"), false, &again, &e), 0);
    assert_int_equal(again, b);
    dc_replica_close(r);
}

static void test_index_through_rebuild(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "ix.db");
    char *sp = busy_space(r);
    /* No declaration: no index tables at all. */
    assert_int_equal(count(r, "SELECT count(*) FROM sqlite_master WHERE name = 'ixvals'"), 0);
    dc_test_ok(r, dc_index_declare(r, sp, "driver", "tags"));
    int64_t rows = count(r, "SELECT count(*) FROM ixvals");
    assert_true(rows > 0);
    uint8_t sid[16];
    dc__space s;
    dc__err e = {0, ""};
    assert_int_equal(dc__space_id_parse(r, sp, sid), 0);
    assert_int_equal(dc__store_space_get(r->st, sid, &s, &e), 0);
    assert_int_equal(dc__store_begin(r->st, &e), 0);
    assert_int_equal(dc__store_state_clear(r->st, s.sid, &e), 0);
    assert_int_equal(dc__store_commit(r->st, &e), 0);
    assert_int_equal(count(r, "SELECT count(*) FROM ixvals"), 0);
    /* The fold writes them again: the same rows. */
    char *d = dc_test_dump(r);
    free(d);
    assert_int_equal(count(r, "SELECT count(*) FROM ixvals"), rows);
    dc_replica_close(r);
    free(sp);
}

/* Schema 7 (docs/storage.md, "Schema version 7"): a file of schema 6 with a
 * value index — records a rowid table with its key index, index rows
 * without ids — migrates: the same dump, every index row with its record's
 * id, the keys and states apart with no index beside them, and a record
 * made afterwards gets a row number no other record has. */
/* Every envelope of the log, by row number, read through the stream. */
typedef struct logcopy {
    int64_t *cno;
    dc_buf *env;
    size_t n;
} logcopy;

static logcopy log_read(dc_replica *r) {
    logcopy l = {0};
    size_t n = (size_t)count(r, "SELECT count(*) FROM changes");
    l.cno = calloc(n ? n : 1, sizeof *l.cno);
    l.env = calloc(n ? n : 1, sizeof *l.env);
    assert_non_null(l.cno);
    assert_non_null(l.env);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(r->st->db, "SELECT cno, off, len FROM changes ORDER BY cno",
                                        -1, &st, NULL),
                     SQLITE_OK);
    dc__err e = {0, ""};
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(l.n < n);
        const uint8_t *p;
        int64_t len = sqlite3_column_int64(st, 2);
        if (dc__store_env(r->st, sqlite3_column_int64(st, 1), len, &p, &e))
            fail_msg("reading envelope %lld: %s", (long long)sqlite3_column_int64(st, 0), e.msg);
        l.cno[l.n] = sqlite3_column_int64(st, 0);
        l.env[l.n] = (dc_buf)DC_BUF_INIT;
        assert_int_equal(dc__buf_put(&l.env[l.n], p, (size_t)len), 0);
        l.n++;
    }
    dc__store_env_done(r->st);
    sqlite3_finalize(st);
    assert_int_equal(l.n, n);
    return l;
}

static void log_free_copy(logcopy *l) {
    for (size_t i = 0; i < l->n; i++)
        dc_buf_dispose(&l->env[i]);
    free(l->cno);
    free(l->env);
}

/* The stream's invariants: offsets grow with cno without overlapping,
 * every chunk but the last is full, and every chunk but the last
 * overlaps a live change (the others were freed). */
static void check_stream(dc_replica *r) {
    int64_t c = count(r, "SELECT value FROM meta WHERE key = 'log_chunk'");
    assert_int_equal(c, count(r, "PRAGMA page_size") - 39);
    assert_int_equal(count(r, "SELECT count(*) FROM changes a JOIN changes b ON b.cno = "
                              "(SELECT min(cno) FROM changes WHERE cno > a.cno) "
                              "WHERE b.off < a.off + a.len"),
                     0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM logbytes WHERE n < (SELECT max(n) FROM logbytes) AND "
             "length(bytes) <> %lld",
             (long long)c);
    assert_int_equal(count(r, sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM logbytes b WHERE n < (SELECT max(n) FROM logbytes) AND "
             "NOT EXISTS (SELECT 1 FROM changes c WHERE c.off < (b.n + 1) * %lld AND "
             "c.off + c.len > b.n * %lld)",
             (long long)c, (long long)c);
    assert_int_equal(count(r, sql), 0);
}

/* Takes a schema-8 file back to schema 7: the envelopes into changes.env
 * again, the stream gone. */
static void to_schema7(dc_replica *r) {
    logcopy l = log_read(r);
    assert_int_equal(
        sqlite3_exec(r->st->db,
                     "BEGIN;"
                     "CREATE TABLE changes_v7(cno INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
                     "  hlc INTEGER NOT NULL, hlc_max INTEGER NOT NULL, cid BLOB NOT NULL,"
                     "  author INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
                     "  state INTEGER NOT NULL, env BLOB NOT NULL,"
                     "  need INTEGER NOT NULL DEFAULT 0);"
                     "INSERT INTO changes_v7 SELECT cno, sid, hlc, hlc_max, cid, author, seq,"
                     "  kind, state, x'', need FROM changes;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(r->st->db, "UPDATE changes_v7 SET env = ?2 WHERE cno = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < l.n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, l.cno[i]);
        sqlite3_bind_blob(st, 2, l.env[i].ptr, (int)l.env[i].size, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    }
    sqlite3_finalize(st);
    assert_int_equal(
        sqlite3_exec(r->st->db,
                     "DROP TABLE changes; DROP TABLE logbytes;"
                     "ALTER TABLE changes_v7 RENAME TO changes;"
                     "CREATE UNIQUE INDEX changes_by_author ON changes(sid, author, seq);"
                     "CREATE INDEX changes_by_time ON changes(sid, hlc, cid);"
                     "CREATE INDEX changes_pending ON changes(state, hlc_max) WHERE state <> 0;"
                     "CREATE INDEX changes_membership ON changes(sid, kind) WHERE kind = 2;"
                     "DELETE FROM meta WHERE key = 'log_chunk';"
                     "UPDATE meta SET value = 7 WHERE key = 'schema'; COMMIT;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    log_free_copy(&l);
}

static void test_step7_migrates(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "s7.db");
    char *sp = busy_space(r);
    dc_test_ok(r, dc_index_declare(r, sp, "driver", "tags"));
    char *before = dc_test_dump(r);
    int64_t rows = count(r, "SELECT count(*) FROM ixvals"),
            max_rid = count(r, "SELECT max(rid) FROM records");
    assert_true(rows > 0);
    to_schema7(r);
    assert_int_equal(
        sqlite3_exec(r->st->db,
                     "BEGIN;"
                     "CREATE TABLE records_v6(rid INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
                     "  type TEXT NOT NULL, id TEXT NOT NULL, del_hlc INTEGER NOT NULL DEFAULT 0,"
                     "  del_did INTEGER NOT NULL DEFAULT 0, state BLOB,"
                     "  nval INTEGER NOT NULL DEFAULT 0, nev INTEGER NOT NULL DEFAULT 0,"
                     "  UNIQUE (sid, type, id));"
                     "INSERT INTO records_v6 SELECT rid, sid, type, id, del_hlc, del_did, state,"
                     "  nval, nev FROM records;"
                     "DROP VIEW records; DROP TABLE rkeys; DROP TABLE rstate;"
                     "ALTER TABLE records_v6 RENAME TO records;"
                     "ALTER TABLE ixvals DROP COLUMN id;"
                     "UPDATE meta SET value = 6 WHERE key = 'schema'; COMMIT;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    dc_replica_close(r);
    r = dc_test_open(&g_d, "s7.db");
    assert_int_equal(count(r, "SELECT value FROM meta WHERE key = 'schema'"),
                     dc__store_schema_latest());
    char *after = dc_test_dump(r);
    assert_string_equal(before, after);
    assert_int_equal(count(r, "SELECT count(*) FROM ixvals"), rows);
    assert_int_equal(count(r, "SELECT count(*) FROM ixvals x WHERE x.id IS NOT "
                              "(SELECT r.id FROM records r WHERE r.rid = x.rid)"),
                     0);
    /* records is a view of rkeys and rstate, and no index holds a key twice. */
    assert_int_equal(count(r, "SELECT count(*) FROM sqlite_master WHERE name = 'records' "
                              "AND type = 'view'"),
                     1);
    assert_int_equal(count(r, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                              "tbl_name IN ('records', 'rkeys', 'rstate')"),
                     0);
    assert_int_equal(count(r, "SELECT count(*) FROM rkeys"),
                     count(r, "SELECT count(*) FROM rstate"));
    /* The type is kept as its number in names. */
    assert_int_equal(count(r, "SELECT count(*) FROM rkeys k JOIN names n ON n.nid = k.tno "
                              "WHERE typeof(k.tno) = 'integer' AND n.name = 'driver'"),
                     count(r, "SELECT count(*) FROM records WHERE type = 'driver'"));
    assert_true(count(r, "SELECT count(*) FROM records WHERE type = 'driver'") >= 40);
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, sp));
    dc_test_ok(r, dc_txn_add(t, "driver", "new-one", "tags", DC_STR, 0, "a"));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    free(after);
    after = dc_test_dump(r);
    assert_true(strstr(after, "new-one") != NULL);
    assert_int_equal(count(r, "SELECT rid FROM records WHERE id = 'new-one'"), max_rid + 1);
    assert_int_equal(count(r, "SELECT count(*) FROM ixvals WHERE id = 'new-one' AND rid = "
                              "(SELECT rid FROM records WHERE id = 'new-one')"),
                     1);
    dc_replica_close(r);
    free(before);
    free(after);
    free(sp);
}

typedef struct seen {
    int n, bad;
} seen;

static int on_record(void *user, const char *space, const char *type, const char *id,
                     const char *origin) {
    seen *x = user;
    x->n++;
    /* The records written: type driver, ids d00 .. d39. */
    if (strcmp(type, "driver") != 0 || strncmp(id, "d", 1) != 0 || strlen(id) != 3 ||
        strlen(space) != 32 || strcmp(origin, "remote") != 0)
        x->bad++;
    return 0;
}

/* Schema 7: rkeys has no index by row number, so an import's notifications
 * name each record from what its fold kept, not by a walk of every key:
 * each of the 40 records is named once, right. */
/* Compacts `space` of r up to now. */
static void compact_all(dc_replica *r, const char *space) {
    dc_buf b = DC_BUF_INIT;
    dc_compact_options o = {1, 0};
    dc_test_ok(r, dc_space_compact(&b, r, space, &o));
    dc_buf_dispose(&b);
}

/* Schema step 8: a schema-7 file (two busy spaces, one compacted) moves
 * its envelopes into the stream; every envelope reads back equal, the
 * dump is the same, and the file goes on taking changes. */
static void test_step8_migrates(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "s8.db");
    char *sp = busy_space(r), *sp2 = busy_space(r);
    check_stream(r);
    int64_t chunks = count(r, "SELECT count(*) FROM logbytes"),
            changes = count(r, "SELECT count(*) FROM changes");
    compact_all(r, sp2);
    /* Compaction dropped envelopes, and the chunks only they covered. */
    assert_true(count(r, "SELECT count(*) FROM changes") < changes);
    assert_true(count(r, "SELECT count(*) FROM logbytes") < chunks);
    check_stream(r);
    logcopy before = log_read(r);
    assert_true(before.n >= 8);
    char *dump = dc_test_dump(r);
    dc_buf exp1 = DC_BUF_INIT;
    dc_test_ok(r, dc_bundle_export(&exp1, r, NULL));
    to_schema7(r);
    dc_replica_close(r);

    r = dc_test_open(&g_d, "s8.db");
    assert_int_equal(count(r, "SELECT value FROM meta WHERE key = 'schema'"),
                     dc__store_schema_latest());
    assert_int_equal(count(r, "SELECT count(*) FROM pragma_table_info('changes') "
                              "WHERE name = 'env'"),
                     0);
    check_stream(r);
    /* Moved in cno order, one after the other. */
    assert_int_equal(count(r, "SELECT count(*) FROM changes a JOIN changes b ON b.cno = "
                              "(SELECT min(cno) FROM changes WHERE cno > a.cno) "
                              "WHERE b.off <> a.off + a.len"),
                     0);
    assert_int_equal(count(r, "SELECT min(off) FROM changes"), 0);
    logcopy after = log_read(r);
    assert_int_equal(after.n, before.n);
    for (size_t i = 0; i < after.n; i++) {
        assert_int_equal(after.cno[i], before.cno[i]);
        assert_int_equal(after.env[i].size, before.env[i].size);
        assert_memory_equal(after.env[i].ptr, before.env[i].ptr, before.env[i].size);
    }
    char *dump2 = dc_test_dump(r);
    assert_string_equal(dump, dump2);
    dc_buf exp2 = DC_BUF_INIT;
    dc_test_ok(r, dc_bundle_export(&exp2, r, NULL));
    assert_int_equal(exp1.size, exp2.size);
    assert_memory_equal(exp1.ptr, exp2.ptr, exp1.size);
    /* New changes go on at the stream's end. */
    set_name(r, sp, "d01", "Ana");
    check_stream(r);
    free(dump2);
    dump2 = dc_test_dump(r);
    assert_true(strstr(dump2, "Ana") != NULL);
    dc_buf_dispose(&exp1);
    dc_buf_dispose(&exp2);
    log_free_copy(&before);
    log_free_copy(&after);
    free(dump);
    free(dump2);
    dc_replica_close(r);
    free(sp);
    free(sp2);
}

static int fixed_key(void *user, dc_key *k, int purpose) {
    (void)user, (void)purpose;
    uint8_t key[32];
    memset(key, 0x5a, sizeof key);
    return dc_key_set(k, key, sizeof key);
}

/* An encrypted file's chunks fit its usable page, which the at-rest
 * cipher's reserve makes smaller: a full chunk's row still fills one leaf
 * page, and the envelopes read back through it. */
static void test_stream_encrypted(void **state) {
    (void)state;
    dc_replica_options o = dc_test_pinned_options(&g_d);
    o.key_provider = fixed_key;
    dc_replica *r = dc_test_open_with(&g_d, "enc.db", &o);
    char *sp = busy_space(r);
    int reserve = -1;
    assert_int_equal(sqlite3_file_control(r->st->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve),
                     SQLITE_OK);
    assert_true(reserve > 0);
    assert_int_equal(count(r, "SELECT value FROM meta WHERE key = 'log_chunk'"),
                     count(r, "PRAGMA page_size") - reserve - 39);
    assert_int_equal(count(r, "SELECT count(*) FROM logbytes"),
                     count(r, "SELECT count(*) FROM dbstat WHERE name = 'logbytes' AND "
                              "pagetype = 'leaf'"));
    assert_int_equal(count(r, "SELECT count(*) FROM dbstat WHERE name = 'logbytes' AND "
                              "pagetype = 'overflow'"),
                     0);
    logcopy l = log_read(r);
    assert_true(l.n >= 5);
    log_free_copy(&l);
    dc_replica_close(r);
    free(sp);
}

/* ---- the stream's last chunk in memory ---- */

/* Envelopes of made-up bytes, put straight into the change log of a space
 * number no space has (so that the replica's dump does not show them):
 * what each change row must read back as. */
typedef struct fakelog {
    int64_t cno[128];
    size_t len[128];
    uint8_t seed[128];
    size_t n;
    uint64_t seq;
    uint32_t lcg;
} fakelog;

enum { FAKE_SID = 424242 };

static void fake_bytes(uint8_t *b, size_t len, uint8_t seed) {
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(seed * 31u + i * 7u + i / 251u);
}

/* One envelope of len bytes (0: a length from 1 to 4,999) through s. */
static void fake_put(dc__store *s, fakelog *f, size_t len) {
    assert_true(len <= 8192);
    if (!len) {
        f->lcg = f->lcg * 1103515245u + 12345u;
        len = 1 + (f->lcg >> 8) % 4999;
    }
    assert_true(f->n < 128);
    uint8_t *b = malloc(len), id[32];
    assert_non_null(b);
    uint8_t seed = (uint8_t)(f->seq * 13 + 5);
    fake_bytes(b, len, seed);
    f->seq++;
    memset(id, 0, sizeof id);
    memcpy(id, &f->seq, sizeof f->seq);
    dc__envelope e;
    memset(&e, 0, sizeof e);
    e.kind = 1;
    e.seq = f->seq;
    e.hlc_min = e.hlc_max = f->seq;
    e.raw = b;
    e.raw_len = len;
    dc__err err = {0, ""};
    if (dc__store_change_put(s, FAKE_SID, &e, id, 1, DC_CHANGE_APPLIED, 0, &err))
        fail_msg("putting envelope %llu: %s", (unsigned long long)f->seq, err.msg);
    f->cno[f->n] = dc__store_last_cno(s);
    f->len[f->n] = len;
    f->seed[f->n] = seed;
    f->n++;
    free(b);
}

/* Every envelope of f (the first n) reads back equal through s, in cno
 * order and then backwards (a seek each); with `contiguous`, each starts
 * where the one before ends. */
static void fake_check(dc__store *s, const fakelog *f, size_t n, bool contiguous) {
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(s->db, "SELECT off, len FROM changes WHERE cno = ?1", -1, &st, NULL),
        SQLITE_OK);
    uint8_t *want = malloc(8192);
    assert_non_null(want);
    int64_t end = -1;
    for (size_t k = 0; k < 2 * n; k++) {
        size_t i = k < n ? k : 2 * n - 1 - k;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, f->cno[i]);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t off = sqlite3_column_int64(st, 0), len = sqlite3_column_int64(st, 1);
        assert_int_equal(len, f->len[i]);
        if (contiguous && k < n && end >= 0 && off != end)
            fail_msg("envelope %zu starts at %lld, the one before ends at %lld", i, (long long)off,
                     (long long)end);
        end = off + len;
        const uint8_t *p;
        dc__err err = {0, ""};
        if (dc__store_env(s, off, len, &p, &err))
            fail_msg("reading envelope %zu (cno %lld): %s", i, (long long)f->cno[i], err.msg);
        fake_bytes(want, f->len[i], f->seed[i]);
        if (memcmp(p, want, f->len[i]) != 0)
            fail_msg("envelope %zu (cno %lld, %zu bytes at %lld) reads back changed", i,
                     (long long)f->cno[i], f->len[i], (long long)off);
    }
    dc__store_env_done(s);
    sqlite3_finalize(st);
    free(want);
}

static void fake_forget(fakelog *f, size_t from) {
    f->n = from;
}

/* The stream's last chunk is kept in the handle during a transaction
 * (docs/storage.md, "The last chunk in memory"): envelopes appended in a
 * transaction read back inside it; a rollback to a savepoint, or of the
 * whole transaction, puts the tail back as it was; another handle on the
 * file appending between this handle's transactions is seen; a delete in
 * the transaction sees the tail written.  Every envelope reads back equal
 * from either handle, the stream keeps its invariants, and the replica's
 * dump is unchanged. */
static void test_stream_tail(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "tail.db");
    char *sp = busy_space(r);
    char *dump = dc_test_dump(r);
    dc__store *a = r->st, *b = NULL;
    dc__err err = {0, ""};
    if (dc__store_open(&b, a->path, true, true, NULL, NULL, &err))
        fail_msg("a second handle: %s", err.msg);
    fakelog f;
    memset(&f, 0, sizeof f);
    f.lcg = 11;
    size_t committed;

    /* Appends and reads in one transaction; a savepoint rolled back (its
     * envelopes over several chunks), then more appends. */
    dc_test_ok(r, dc__store_begin(a, &err));
    for (int i = 0; i < 25; i++)
        fake_put(a, &f, 0);
    fake_check(a, &f, f.n, true);
    size_t at = f.n;
    dc_test_ok(r, dc__store_savepoint(a, &err));
    fake_put(a, &f, 100);
    fake_put(a, &f, 3 * 2009 + 5);
    fake_put(a, &f, 0);
    fake_check(a, &f, f.n, true);
    dc__store_savepoint_rollback(a);
    fake_forget(&f, at);
    /* The other handle sees nothing of the transaction yet. */
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(b->db, "SELECT count(*) FROM changes WHERE sid = 424242", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 0);
    sqlite3_finalize(st);
    for (int i = 0; i < 6; i++)
        fake_put(a, &f, 0);
    dc_test_ok(r, dc__store_savepoint(a, &err));
    fake_put(a, &f, 2009);
    fake_put(a, &f, 7);
    dc_test_ok(r, dc__store_savepoint_release(a, &err));
    fake_check(a, &f, f.n, true);
    dc_test_ok(r, dc__store_commit(a, &err));
    committed = f.n;
    fake_check(b, &f, committed, true);

    /* The other handle appends; this one goes on after its bytes (no
     * read in between: its next transaction reads the tail again). */
    for (int round = 0; round < 3; round++) {
        dc__store *w = round % 2 ? a : b;
        dc_test_ok(r, dc__store_begin(w, &err));
        for (int i = 0; i < 4 + round; i++)
            fake_put(w, &f, 0);
        fake_check(w, &f, f.n, true);
        dc_test_ok(r, dc__store_commit(w, &err));
    }
    fake_check(a, &f, f.n, true);
    fake_check(b, &f, f.n, true);

    /* A transaction rolled back leaves no bytes: the next append takes
     * their place. */
    at = f.n;
    dc_test_ok(r, dc__store_begin(a, &err));
    fake_put(a, &f, 2500);
    fake_put(a, &f, 0);
    dc__store_rollback(a);
    fake_forget(&f, at);
    dc_test_ok(r, dc__store_begin(a, &err));
    fake_put(a, &f, 0);
    fake_put(a, &f, 0);
    dc_test_ok(r, dc__store_commit(a, &err));
    fake_check(b, &f, f.n, true);
    check_stream(r);

    /* A delete in the transaction, of an envelope appended in it and of
     * an older one: the chunks freed are those no live envelope touches. */
    dc_test_ok(r, dc__store_begin(a, &err));
    fake_put(a, &f, 0);
    fake_put(a, &f, 0);
    dc_test_ok(r, dc__store_change_delete(a, f.cno[f.n - 2], &err));
    dc_test_ok(r, dc__store_change_delete(a, f.cno[3], &err));
    f.cno[f.n - 2] = f.cno[f.n - 1];
    f.len[f.n - 2] = f.len[f.n - 1];
    f.seed[f.n - 2] = f.seed[f.n - 1];
    f.n--;
    memmove(&f.cno[3], &f.cno[4], (f.n - 4) * sizeof f.cno[0]);
    memmove(&f.len[3], &f.len[4], (f.n - 4) * sizeof f.len[0]);
    memmove(&f.seed[3], &f.seed[4], (f.n - 4) * sizeof f.seed[0]);
    f.n--;
    fake_put(a, &f, 0);
    fake_check(a, &f, f.n, false);
    dc_test_ok(r, dc__store_commit(a, &err));
    fake_check(b, &f, f.n, false);
    assert_int_equal(count(r, "SELECT count(*) FROM changes WHERE sid = 424242"), (int64_t)f.n);
    check_stream(r);
    dc__store_close(b);

    /* The replica is as it was, and goes on taking changes. */
    char *dump2 = dc_test_dump(r);
    assert_string_equal(dump, dump2);
    set_name(r, sp, "d01", "Ana");
    check_stream(r);
    free(dump2);
    dump2 = dc_test_dump(r);
    assert_true(strstr(dump2, "Ana") != NULL);
    logcopy l = log_read(r);
    log_free_copy(&l);
    free(dump);
    free(dump2);
    dc_replica_close(r);
    free(sp);
}

static void test_notify_names(void **state) {
    (void)state;
    dc_replica *a = dc_test_open(&g_d, "na.db"), *b = dc_test_open(&g_d, "nb.db");
    char *sp = dc_test_shared_space(a, b, 2);
    dc_txn *t;
    dc_test_ok(a, dc_txn_begin(&t, a, sp));
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%02d", i);
        dc_test_ok(a, dc_txn_set(t, "driver", id, "status", DC_STR, 0, "on duty"));
    }
    dc_test_ok(a, dc_txn_commit(t, NULL));
    seen x = {0, 0};
    dc_test_ok(b, dc_replica_observe(b, on_record, &x));
    dc_test_sync_into(a, b);
    assert_int_equal(x.bad, 0);
    assert_int_equal(x.n, 40);
    assert_true(b->st->ntn >= 40);
    dc_replica_close(a);
    dc_replica_close(b);
    free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_and_rebuild),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_failed_import_keeps_no_body),
        cmocka_unit_test(test_index_through_rebuild),
        cmocka_unit_test(test_step7_migrates),
        cmocka_unit_test(test_step8_migrates),
        cmocka_unit_test(test_stream_encrypted),
        cmocka_unit_test(test_stream_tail),
        cmocka_unit_test(test_notify_names),
    };
    return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
