/*
 * Unit tests of attachments (include/drivercore/attach.h, docs/attachments.md)
 * through the public API, with the replica file read and damaged through
 * SQLite where a user of a lost phone or a bad disk would: a file put and
 * got back byte for byte through callbacks and files; the same content
 * stored once (dedup of whole files and of shared chunks); a flipped byte
 * in a stored chunk refused, never handed over, dropped and reported; ids
 * keyed per space; what a reader, a bad id or a bad media type get; the
 * policy; and collection of what no record references.  The checks a sync
 * applies to received objects are exercised through the internal entry
 * points (a chunk under another chunk's id, a manifest from another space).
 * Every allocation of a put, a get and an ls fails in turn, as in
 * tests/system/test_oom.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "drivercore.h"
#include "replica/attach_int.h"
#include "../common/replica_fixture.h"

static dc_test_dir g_d;

/* A counting allocator (installed by main) that fails call number fail_at. */
static long g_calls, g_fail_at, g_failed, g_live;

static void *c_malloc(size_t n, void *user) {
    (void)user;
    if (++g_calls == g_fail_at) {
        g_failed++;
        return NULL;
    }
    void *p = malloc(n);
    g_live += p != NULL;
    return p;
}

static void *c_realloc(void *p, size_t n, void *user) {
    (void)user;
    if (++g_calls == g_fail_at) {
        g_failed++;
        return NULL;
    }
    void *q = realloc(p, n);
    g_live += q && !p;
    return q;
}

static void c_free(void *p, void *user) {
    (void)user;
    g_live -= p != NULL;
    free(p);
}

static char *new_space(dc_replica *r) {
    dc_buf sp = DC_BUF_INIT;
    dc_test_ok(r, dc_space_create(&sp, r, "branch"));
    char *id = strdup((const char *)sp.ptr);
    dc_buf_dispose(&sp);
    return id;
}

/* A deterministic file of n bytes (seed s). */
static uint8_t *make_file(size_t n, uint32_t s) {
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (uint8_t)(s >> 16);
    }
    return p;
}

typedef struct reader {
    const uint8_t *p;
    size_t n, at, step;
    int stop_at; /* abort after this many calls (0: never) */
    int calls;
} reader;

static int read_fn(void *user, uint8_t *buf, size_t cap, size_t *got) {
    reader *rd = user;
    if (rd->stop_at && ++rd->calls >= rd->stop_at)
        return 1;
    size_t k = rd->n - rd->at;
    if (k > cap)
        k = cap;
    if (rd->step && k > rd->step)
        k = rd->step; /* short reads, as a pipe gives */
    memcpy(buf, rd->p + rd->at, k);
    rd->at += k;
    *got = k;
    return 0;
}

typedef struct writer {
    uint8_t *p;
    size_t n, cap;
} writer;

static int write_fn(void *user, const uint8_t *p, size_t n) {
    writer *w = user;
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->p = realloc(w->p, w->cap);
    }
    memcpy(w->p + w->n, p, n);
    w->n += n;
    return 0;
}

static void put_bytes(dc_replica *r, const char *space, const uint8_t *p, size_t n,
                      char id[DC_ATTACH_ID_SIZE]) {
    reader rd = {p, n, 0, 100000, 0, 0};
    dc_test_ok(r, dc_attach_put(id, r, space, "video/mp4", read_fn, &rd));
}

/* Rows of att_objects in the replica file. */
static int count_objects(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_d.path, name);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM att_objects", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_put_get_roundtrip(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "rt.db");
    char *space = new_space(r);
    size_t n = 3 * 262144 + 1234; /* three whole chunks and a short one */
    uint8_t *file = make_file(n, 7);
    char id[DC_ATTACH_ID_SIZE];
    put_bytes(r, space, file, n, id);
    assert_int_equal(strlen(id), DC_ATTACH_ID_LEN);
    assert_memory_equal(id, "att1:", 5);
    int64_t size;
    uint32_t present, total;
    dc_test_ok(r, dc_attach_stat(&size, &present, &total, r, space, id));
    assert_int_equal(size, (int64_t)n);
    assert_int_equal(total, 4);
    assert_int_equal(present, 4);
    writer w = {0};
    dc_test_ok(r, dc_attach_get(r, space, id, write_fn, &w));
    assert_int_equal(w.n, n);
    assert_memory_equal(w.p, file, n);
    /* To a file: the same bytes, and no .part file left behind. */
    char out[512];
    snprintf(out, sizeof out, "%s/out.bin", g_d.path);
    dc_test_ok(r, dc_attach_get_file(r, space, id, out));
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    uint8_t *back = malloc(n + 1);
    assert_int_equal(fread(back, 1, n + 1, f), n);
    fclose(f);
    assert_memory_equal(back, file, n);
    /* An empty file is an attachment of no chunks. */
    char eid[DC_ATTACH_ID_SIZE];
    put_bytes(r, space, file, 0, eid);
    writer we = {0};
    dc_test_ok(r, dc_attach_get(r, space, eid, write_fn, &we));
    assert_int_equal(we.n, 0);
    free(back);
    free(w.p);
    free(we.p);
    free(file);
    free(space);
    dc_replica_close(r);
}

static void test_dedup(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "dedup.db");
    char *space = new_space(r);
    size_t n = 600000; /* chunks: 262144, 262144, 75712 */
    uint8_t *a = make_file(n, 1);
    char id1[DC_ATTACH_ID_SIZE], id2[DC_ATTACH_ID_SIZE], id3[DC_ATTACH_ID_SIZE];
    put_bytes(r, space, a, n, id1);
    assert_int_equal(count_objects("dedup.db"), 3 + 1);
    /* The same file again: the same id, nothing stored. */
    put_bytes(r, space, a, n, id2);
    assert_string_equal(id1, id2);
    assert_int_equal(count_objects("dedup.db"), 4);
    /* A file sharing its first two chunks: only its third chunk and its
     * manifest are new. */
    uint8_t *b = make_file(n, 2);
    memcpy(b, a, 2 * 262144);
    put_bytes(r, space, b, n, id3);
    assert_string_not_equal(id1, id3);
    assert_int_equal(count_objects("dedup.db"), 4 + 2);
    /* Both read back whole. */
    writer w = {0};
    dc_test_ok(r, dc_attach_get(r, space, id3, write_fn, &w));
    assert_int_equal(w.n, n);
    assert_memory_equal(w.p, b, n);
    /* Another space: another id for the same bytes (keyed per space). */
    char *other = new_space(r);
    char id4[DC_ATTACH_ID_SIZE];
    put_bytes(r, other, a, n, id4);
    assert_string_not_equal(id1, id4);
    free(w.p);
    free(a);
    free(b);
    free(space);
    free(other);
    dc_replica_close(r);
}

/* Flips one byte of the stored object of chunk `idx` of attachment `id`
 * (offset `off` into the object). */
static void flip_chunk(const char *name, const char *id, int idx, int off) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_d.path, name);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    uint8_t aid[32];
    for (int i = 0; i < 32; i++) {
        unsigned x;
        sscanf(id + 5 + 2 * i, "%2x", &x);
        aid[i] = (uint8_t)x;
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT o.ono, o.body FROM att_objects o JOIN att_parts p "
                                        "ON p.sid = o.sid AND p.cid = o.oid WHERE p.aid = ? AND "
                                        "p.idx = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, aid, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, idx);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t ono = sqlite3_column_int64(st, 0);
    int n = sqlite3_column_bytes(st, 1);
    uint8_t *body = malloc((size_t)n);
    memcpy(body, sqlite3_column_blob(st, 1), (size_t)n);
    sqlite3_finalize(st);
    body[off < 0 ? n + off : off] ^= 0x01;
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE att_objects SET body = ? WHERE ono = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, body, n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ono);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(body);
}

static void test_flipped_byte_refused(void **state) {
    (void)state;
    /* Ciphertext, nonce, tag and header: each flip is refused. */
    const int offsets[] = {100, 25, -1, 9};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        char name[32];
        snprintf(name, sizeof name, "flip%zu.db", k);
        dc_replica *r = dc_test_open(&g_d, name);
        char *space = new_space(r);
        size_t n = 3 * 262144;
        uint8_t *file = make_file(n, 3);
        char id[DC_ATTACH_ID_SIZE];
        put_bytes(r, space, file, n, id);
        dc_replica_close(r);
        flip_chunk(name, id, 1, offsets[k]);
        r = dc_test_open(&g_d, name);
        writer w = {0};
        int rc = dc_attach_get(r, space, id, write_fn, &w);
        assert_int_equal(rc, DC_ECORRUPT);
        assert_non_null(strstr(dc_replica_errmsg(r), "chunk 2 of 3"));
        /* Only the sound chunk before it was handed over, never a byte of
         * the damaged one. */
        assert_int_equal(w.n, 262144);
        assert_memory_equal(w.p, file, 262144);
        /* Dropped, so a sync fetches it again; meanwhile: not here. */
        uint32_t present, total;
        dc_test_ok(r, dc_attach_stat(NULL, &present, &total, r, space, id));
        assert_int_equal(present, 2);
        assert_int_equal(total, 3);
        assert_int_equal(dc_attach_get(r, space, id, write_fn, &w), DC_ENOTFOUND);
        assert_non_null(strstr(dc_replica_errmsg(r), "2 of 3 chunks"));
        /* A file target gets nothing at all. */
        char out[512];
        snprintf(out, sizeof out, "%s/flip-out.bin", g_d.path);
        unlink(out);
        assert_int_equal(dc_attach_get_file(r, space, id, out), DC_ENOTFOUND);
        assert_int_equal(access(out, F_OK), -1);
        free(w.p);
        free(file);
        free(space);
        dc_replica_close(r);
    }
}

static void test_received_objects_checked(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "recv.db");
    char *space = new_space(r);
    char *other = new_space(r);
    size_t n = 2 * 262144;
    uint8_t *file = make_file(n, 4);
    char id[DC_ATTACH_ID_SIZE];
    put_bytes(r, space, file, n, id);
    /* Read the stored objects back through the store. */
    uint8_t sid[16], oid[16];
    for (int i = 0; i < 16; i++) {
        unsigned x, y;
        sscanf(space + 2 * i, "%2x", &x);
        sscanf(other + 2 * i, "%2x", &y);
        sid[i] = (uint8_t)x;
        oid[i] = (uint8_t)y;
    }
    dc__space sp, osp;
    dc__err e = {0};
    assert_int_equal(dc__store_space_get(r->st, sid, &sp, &e), 0);
    assert_int_equal(dc__store_space_get(r->st, oid, &osp, &e), 0);
    uint8_t aid[32];
    for (int i = 0; i < 32; i++) {
        unsigned x;
        sscanf(id + 5 + 2 * i, "%2x", &x);
        aid[i] = (uint8_t)x;
    }
    dc_buf man = DC_BUF_INIT, c0 = DC_BUF_INIT;
    assert_int_equal(dc__store_obj_get(r->st, sp.sid, aid, &man, &e), 0);
    dc__att_hdr h;
    assert_int_equal(dc__att_parse(&h, man.ptr, man.size, &e), 0);
    assert_int_equal(h.kind, DC_ATT_KIND_MANIFEST);
    /* The manifest as received again: accepted. */
    assert_int_equal(dc__att_take_manifest(r, &sp, aid, man.ptr, man.size, &e), 0);
    /* In another space (whose keys do not include the one it names), or
     * under another id: refused. */
    assert_int_equal(dc__att_take_manifest(r, &osp, aid, man.ptr, man.size, &e), DC_ENOKEY);
    uint8_t wrong[32];
    memcpy(wrong, aid, 32);
    wrong[0] ^= 1;
    assert_int_equal(dc__att_take_manifest(r, &sp, wrong, man.ptr, man.size, &e), DC_ECORRUPT);
    /* A manifest is no chunk. */
    assert_int_equal(dc__att_take_chunk(r, &sp, aid, man.ptr, man.size, &e), DC_ECORRUPT);
    /* A chunk under its own id: accepted; under another chunk's: refused. */
    uint8_t cids[64];
    dc__manifest m;
    dc_buf plain = DC_BUF_INIT;
    const uint8_t *key = dc__space_key(r, sp.sid, h.epoch, h.kid, &e);
    assert_non_null(key);
    assert_int_equal(dc__att_open(&plain, &h, man.ptr, key, sp.id, aid, &e), 0);
    assert_int_equal(dc__manifest_decode(&m, plain.ptr, plain.size, &e), 0);
    assert_int_equal(m.nchunks, 2);
    memcpy(cids, m.cids, 64);
    assert_int_equal(dc__store_obj_get(r->st, sp.sid, cids, &c0, &e), 0);
    assert_int_equal(dc__att_take_chunk(r, &sp, cids, c0.ptr, c0.size, &e), 0);
    assert_int_equal(dc__att_take_chunk(r, &sp, cids + 32, c0.ptr, c0.size, &e), DC_ECORRUPT);
    /* Truncated, or a newer version: refused before any cryptography. */
    assert_int_equal(dc__att_take_chunk(r, &sp, cids, c0.ptr, 50, &e), DC_ECORRUPT);
    c0.ptr[3] = 2;
    assert_int_equal(dc__att_take_chunk(r, &sp, cids, c0.ptr, c0.size, &e), DC_EVERSION);
    dc_buf_dispose(&plain);
    dc_buf_dispose(&man);
    dc_buf_dispose(&c0);
    free(file);
    free(space);
    free(other);
    dc_replica_close(r);
}

static void test_errors(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "err.db");
    char *space = new_space(r);
    char id[DC_ATTACH_ID_SIZE];
    uint8_t byte = 1;
    reader rd = {&byte, 1, 0, 0, 0, 0};
    assert_int_equal(dc_attach_put(id, r, space, "not a type", read_fn, &rd), DC_EINVAL);
    assert_int_equal(dc_attach_put(id, r, "zz", NULL, read_fn, &rd), DC_EINVAL);
    assert_int_equal(dc_attach_put(NULL, r, space, NULL, read_fn, &rd), DC_EMISUSE);
    assert_int_equal(dc_attach_put(id, NULL, space, NULL, read_fn, &rd), DC_EMISUSE);
    /* The read callback stops it: nothing is stored. */
    size_t n = 900000;
    uint8_t *file = make_file(n, 5);
    reader stop = {file, n, 0, 100000, 5, 0};
    assert_int_equal(dc_attach_put(id, r, space, NULL, read_fn, &stop), DC_EUSER);
    assert_int_equal(id[0], 0);
    assert_int_equal(count_objects("err.db"), 0);
    /* Ids: malformed, unknown (then wanted). */
    writer w = {0};
    assert_int_equal(dc_attach_get(r, space, "att1:xyz", write_fn, &w), DC_EINVAL);
    const char *unknown = "att1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    assert_int_equal(dc_attach_stat(NULL, NULL, NULL, r, space, unknown), DC_ENOTFOUND);
    assert_int_equal(dc_attach_get(r, space, unknown, write_fn, &w), DC_ENOTFOUND);
    assert_non_null(strstr(dc_replica_errmsg(r), "next sync"));
    int64_t size = 0;
    dc_test_ok(r, dc_attach_stat(&size, NULL, NULL, r, space, unknown));
    assert_int_equal(size, -1);
    dc_buf ls = DC_BUF_INIT;
    dc_test_ok(r, dc_attach_ls(&ls, r, space));
    assert_non_null(strstr((const char *)ls.ptr, "\"wanted\":true"));
    /* Policy. */
    assert_int_equal(dc_attach_policy_set(r, space, 9, 0), DC_EINVAL);
    dc_test_ok(r, dc_attach_policy_set(r, space, DC_ATTACH_FETCH_UNDER, 1000000));
    /* A reader may not put. */
    dc_replica *b = dc_test_open(&g_d, "err-reader.db");
    dc_buf card = DC_BUF_INIT, bundle = DC_BUF_INIT;
    dc_test_ok(b, dc_replica_card(&card, b));
    dc_test_ok(r, dc_space_add(r, space, (const char *)card.ptr, DC_ROLE_READER));
    dc_test_ok(r, dc_bundle_export(&bundle, r, NULL));
    dc_test_ok(b, dc_bundle_import(b, bundle.ptr, bundle.size, NULL));
    dc_test_ok(b, dc_space_accept(b, space, 0));
    reader rb = {file, 1000, 0, 0, 0, 0};
    assert_int_equal(dc_attach_put(id, b, space, NULL, read_fn, &rb), DC_EDENIED);
    assert_non_null(strstr(dc_replica_errmsg(b), "reader"));
    dc_buf_dispose(&card);
    dc_buf_dispose(&bundle);
    dc_buf_dispose(&ls);
    dc_replica_close(b);
    free(w.p);
    free(file);
    free(space);
    dc_replica_close(r);
}

static void set_ref(dc_replica *r, const char *space, const char *rid, const char *value) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, space));
    dc_test_ok(r, dc_txn_set(t, "grievance", rid, "photo", DC_STR, 0, value));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

static void test_gc(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "gc.db");
    char *space = new_space(r);
    size_t n = 600000;
    uint8_t *a = make_file(n, 8), *b = make_file(n, 9);
    memcpy(b, a, 262144); /* one chunk shared */
    char ida[DC_ATTACH_ID_SIZE], idb[DC_ATTACH_ID_SIZE], idc[DC_ATTACH_ID_SIZE];
    put_bytes(r, space, a, n, ida);
    put_bytes(r, space, b, n, idb);
    put_bytes(r, space, a, 1000, idc); /* referenced from an event */
    set_ref(r, space, "g1", ida);
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, space));
    dc_test_ok(r, dc_txn_event(t, "grievance", "g2"));
    dc_test_ok(r, dc_txn_event_field(t, "note", DC_STR, 0, "photo of the yard: see "));
    dc_test_ok(r, dc_txn_event_field(t, "photo", DC_STR, 0, idc));
    dc_test_ok(r, dc_txn_commit(t, NULL));
    int before = count_objects("gc.db"); /* a: 3 + 1, b: 2 + 1, c: 1 + 1 */
    assert_int_equal(before, 9);
    uint64_t removed = 99;
    /* Too young to collect. */
    dc_test_ok(r, dc_attach_gc(&removed, r, space, 60000));
    assert_int_equal(removed, 0);
    g_d.now += 120000;
    dc_test_ok(r, dc_attach_gc(&removed, r, space, 60000));
    assert_int_equal(removed, 1);                         /* b: nothing references it */
    assert_int_equal(count_objects("gc.db"), before - 3); /* its manifest and own 2 chunks */
    writer w = {0};
    dc_test_ok(r, dc_attach_get(r, space, ida, write_fn, &w)); /* the shared chunk stayed */
    assert_int_equal(w.n, n);
    assert_memory_equal(w.p, a, n);
    assert_int_equal(dc_attach_stat(NULL, NULL, NULL, r, space, idb), DC_ENOTFOUND);
    /* The reference overwritten: a goes too; c stays (its event). */
    set_ref(r, space, "g1", "no photo");
    dc_test_ok(r, dc_attach_gc(&removed, r, NULL, 0));
    assert_int_equal(removed, 1);
    assert_int_equal(count_objects("gc.db"), 2);
    dc_test_ok(r, dc_attach_stat(NULL, NULL, NULL, r, space, idc));
    free(w.p);
    free(a);
    free(b);
    free(space);
    dc_replica_close(r);
}

/* Every allocation of a put, a get and an ls failing in turn: an error
 * code each time (never a crash), nothing leaked, and a put that failed
 * left nothing half-stored (the next put and get give the file back). */
static void test_out_of_memory(void **state) {
    (void)state;
    dc_replica *r = dc_test_open(&g_d, "oom.db");
    char *space = new_space(r);
    size_t n = 600000;
    uint8_t *file = make_file(n, 12);
    char id[DC_ATTACH_ID_SIZE];
    put_bytes(r, space, file, n, id); /* the handle's caches, allocated once */
    long runs = 0;
    for (long k = 1;; k++) {
        file[0] = (uint8_t)k; /* a new first chunk and manifest each run */
        file[1] = (uint8_t)(k >> 8);
        long live = g_live, failed = g_failed;
        g_fail_at = g_calls + k;
        reader rd = {file, n, 0, 100000, 0, 0};
        int put = dc_attach_put(id, r, space, NULL, read_fn, &rd);
        writer w = {0};
        int get = put ? 0 : dc_attach_get(r, space, id, write_fn, &w);
        dc_buf ls = DC_BUF_INIT;
        int lsrc = dc_attach_ls(&ls, r, NULL);
        dc_buf_dispose(&ls);
        g_fail_at = 0;
        assert_true(put <= 0 && get <= 0 && lsrc <= 0);
        /* Fewer live blocks is fine (a failure may drop a cache). */
        if (g_live > live)
            fail_msg("allocation %ld failed: %ld blocks leaked", k, g_live - live);
        if (!put && !get) {
            assert_int_equal(w.n, n);
            assert_memory_equal(w.p, file, n);
        }
        free(w.p);
        if (put) { /* nothing half-stored: it goes through now */
            put_bytes(r, space, file, n, id);
            writer w2 = {0};
            dc_test_ok(r, dc_attach_get(r, space, id, write_fn, &w2));
            assert_memory_equal(w2.p, file, n);
            free(w2.p);
        }
        runs++;
        if (g_failed == failed)
            break; /* past the last allocation */
    }
    print_message("out of memory: put, get and ls with each of %ld allocations failing\n", runs);
    assert_true(runs > 5);
    free(file);
    free(space);
    dc_replica_close(r);
}

int main(void) {
    if (dc_test_dir_make(&g_d, "test-attach"))
        return 1;
    static const dc_allocator alloc = {c_malloc, c_realloc, c_free, NULL};
    dc_global_options go = DC_GLOBAL_OPTIONS_INIT;
    go.allocator = &alloc;
    if (dc_global_init(&go) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_roundtrip),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_flipped_byte_refused),
        cmocka_unit_test(test_received_objects_checked),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gc),
        cmocka_unit_test(test_out_of_memory),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (dc_test_dir_remove(&g_d) != 0)
        return 1;
    return rc;
}
