/*
 * History compaction (docs/data-model.md, "Compaction"): the coverage rule,
 * kept tombstones, removed tags, a late device with old changes, a member
 * that compacts to an admin's point, and what a non-admin may not publish.
 */
#include "../common/replica_fixture.h"

#include <sodium.h>

#include "codec/codec.h"
#include "replica/replica_int.h"

#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)

typedef struct fx {
    dc_test_dir d;
    dc_replica *a, *b, *c; /* a: admin; b, c: members */
    char *space;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    if (!f || dc_test_dir_make(&f->d, "compact"))
        return -1;
    f->a = dc_test_open(&f->d, "a.dcr");
    f->b = dc_test_open(&f->d, "b.dcr");
    f->c = dc_test_open(&f->d, "c.dcr");
    f->space = dc_test_shared_space(f->a, f->b, DC_ROLE_MEMBER);
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(f->c, dc_replica_card(&card, f->c));
    dc_test_ok(f->a, dc_space_add(f->a, f->space, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
    dc_test_sync_into(f->a, f->c);
    dc_test_ok(f->c, dc_space_accept(f->c, f->space, 0));
    dc_test_sync_into(f->a, f->b);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    dc_replica_close(f->a);
    dc_replica_close(f->b);
    dc_replica_close(f->c);
    free(f->space);
    dc_test_dir_remove(&f->d);
    free(f);
    return 0;
}

static void set_str(dc_replica *r, const char *space, const char *id, const char *field,
                    const char *v) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, space));
    dc_test_ok(r, dc_txn_set(t, "truck", id, field, DC_STR, 0, v));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

static void one_op(dc_replica *r, const char *space, int op, const char *id, const char *v) {
    dc_txn *t;
    dc_test_ok(r, dc_txn_begin(&t, r, space));
    if (op == DC_OP_ADD)
        dc_test_ok(r, dc_txn_add(t, "truck", id, "tags", DC_STR, 0, v));
    else if (op == DC_OP_REMOVE)
        dc_test_ok(r, dc_txn_remove(t, "truck", id, "tags", DC_STR, 0, v));
    else
        dc_test_ok(r, dc_txn_delete(t, "truck", id));
    dc_test_ok(r, dc_txn_commit(t, NULL));
}

/* n writes of truck `id`'s plate ("P-0", "P-1", ... for prefix P), by a
 * and b in turn. */
static void plates(fx *f, int n, const char *prefix, const char *id) {
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%s-%d", prefix, i);
        set_str(i % 2 ? f->a : f->b, f->space, id, "plate", v);
    }
}

static void sync2(dc_replica *x, dc_replica *y) {
    dc_test_sync_into(x, y);
    dc_test_sync_into(y, x);
}

static int count_env(void *user, uint64_t index, const uint8_t *env, size_t n) {
    (void)index, (void)env, (void)n;
    ++*(size_t *)user;
    return 0;
}

/* The envelopes a replica holds and passes on. */
static size_t log_len(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_bundle_export(&b, r, NULL));
    size_t n = 0;
    uint64_t count = 0;
    dc__err err;
    assert_int_equal(dc__bundle_parse(b.ptr, b.size, &count, count_env, &n, &err), 0);
    dc_buf_dispose(&b);
    return n;
}

/* Compacts `r`; its JSON, to free. */
static char *compact(dc_replica *r, const char *space, int64_t horizon_ms) {
    dc_buf b = DC_BUF_INIT;
    dc_compact_options o = {1, horizon_ms};
    dc_test_ok(r, dc_space_compact(&b, r, space, &o));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

/* The figures of a whole sync session, `a` initiating (its report). */
typedef struct figs {
    long long sent, received, changes_received, round_trips;
} figs;

static long long json_int(const char *j, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(j, k);
    assert_non_null(p);
    return atoll(p + strlen(k));
}

static figs session(dc_replica *a, dc_replica *b) {
    dc_sync *sa, *sb;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT, rep = DC_BUF_INIT;
    int da = 0, db = 0;
    dc_test_ok(a, dc_sync_new(&sa, a, DC_SYNC_INITIATOR));
    dc_test_ok(b, dc_sync_new(&sb, b, DC_SYNC_RESPONDER));
    dc_test_ok(a, dc_sync_step(sa, &m, &da, NULL, 0));
    while (m.size > 0) {
        dc_test_ok(b, dc_sync_step(sb, &reply, &db, m.ptr, m.size));
        if (reply.size == 0)
            break;
        dc_test_ok(a, dc_sync_step(sa, &m, &da, reply.ptr, reply.size));
    }
    dc_test_ok(a, dc_sync_report(&rep, sa));
    const char *j = (const char *)rep.ptr;
    figs f = {json_int(j, "bytes_sent"), json_int(j, "bytes_received"),
              json_int(j, "changes_received"), json_int(j, "round_trips")};
    dc_sync_free(sa);
    dc_sync_free(sb);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
    dc_buf_dispose(&rep);
    return f;
}

/* The bytes of envelopes and reconciliation `a` received in a session. */
static long long session_bytes(dc_replica *a, dc_replica *b) {
    return session(a, b).received;
}

/* dc_replica_status's JSON, to free. */
static char *status(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_replica_status(&b, r));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

/* The status's "compaction" entry of `space` (a pointer into st). */
static const char *compaction_of(const char *st, const char *space) {
    const char *c = strstr(st, "\"compaction\":[");
    assert_non_null(c);
    char key[64];
    snprintf(key, sizeof key, "{\"space\":\"%s\",\"compacted\"", space);
    return strstr(c, key);
}

/* `from`'s log imported into `to`: the envelopes `to` dropped as it
 * compacted at the import's end (its report's "compacted"). */
static long long import_compacted(dc_replica *from, dc_replica *to) {
    dc_buf b = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_test_ok(from, dc_bundle_export(&b, from, NULL));
    dc_test_ok(to, dc_bundle_import(to, b.ptr, b.size, &rep));
    const char *k = strstr((const char *)rep.ptr, "\"compacted\":");
    assert_non_null(k);
    long long n = atoll(k + strlen("\"compacted\":"));
    assert_non_null(strstr((const char *)rep.ptr, "\"snapshot_needed\":0}"));
    dc_buf_dispose(&b);
    dc_buf_dispose(&rep);
    return n;
}

/* Everyone acks and syncs, the admin publishes, everyone compacts. */
static void compact_all(fx *f) {
    dc_test_ok(f->b, dc_space_ack(f->b, f->space));
    dc_test_ok(f->c, dc_space_ack(f->c, f->space));
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    char *j = compact(f->a, f->space, 0);
    assert_non_null(strstr(j, "\"published\":true"));
    assert_non_null(strstr(j, "\"counted\":3"));
    free(j);
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    free(compact(f->b, f->space, 0));
    free(compact(f->c, f->space, 0));
    /* (their own acks, written as they compacted) */
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    sync2(f->a, f->b);
}

/* Nothing is compacted while a member has not said what it holds. */
static void test_waits_for_acks(void **state) {
    fx *f = *state;
    for (int i = 0; i < 5; i++)
        set_str(f->a, f->space, "t1", "plate", "A-1");
    sync2(f->a, f->b);
    size_t before = log_len(f->a);
    char *j = compact(f->a, f->space, 0);
    assert_non_null(strstr(j, "\"published\":false"));
    assert_non_null(strstr(j, "\"waiting\":2"));
    assert_non_null(strstr(j, "\"dropped\":0"));
    free(j);
    /* (its own ack is one more change) */
    assert_int_equal(log_len(f->a), before + 1);
}

/* Covered changes leave every log; the state is unchanged; an old bundle
 * with them is a duplicate everywhere and never brings them back. */
static void test_covered_dropped_and_refused(void **state) {
    fx *f = *state;
    plates(f, 20, "A", "t1");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    dc_buf old = DC_BUF_INIT;
    dc_test_ok(f->b, dc_bundle_export(&old, f->b, NULL));
    char *before = dc_test_dump(f->a);
    size_t len_before = log_len(f->a);
    compact_all(f);
    char *da = dc_test_dump(f->a), *db = dc_test_dump(f->b), *dc = dc_test_dump(f->c);
    assert_string_equal(da, before);
    assert_string_equal(db, before);
    assert_string_equal(dc, before);
    size_t la = log_len(f->a);
    /* The 20 writes (and the setup's names) went; five acks and a point
     * came. */
    assert_true(la + 14 <= len_before);
    assert_int_equal(log_len(f->b), la);
    /* The old history again: covered, dropped as duplicates. */
    dc_buf rep = DC_BUF_INIT;
    dc_test_ok(f->a, dc_bundle_import(f->a, old.ptr, old.size, &rep));
    assert_non_null(strstr((const char *)rep.ptr, "\"new\":0"));
    assert_int_equal(log_len(f->a), la);
    char *again = dc_test_dump(f->a);
    assert_string_equal(again, before);
    free(again);
    free(before);
    free(da);
    free(db);
    free(dc);
    dc_buf_dispose(&rep);
    dc_buf_dispose(&old);
}

/* A deleted record stays deleted after compaction: a late device's edit
 * older than the delete does not bring it back; a later one does, as
 * without compaction. */
static void test_tombstone_no_resurrection(void **state) {
    fx *f = *state;
    set_str(f->a, f->space, "t9", "plate", "X-9");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    /* c goes offline and edits the record (an old clock) ... */
    set_str(f->c, f->space, "t9", "driver", "Wang");
    f->d.now += HOUR_MS;
    /* ... while a deletes it and everyone else compacts, c left out. */
    one_op(f->a, f->space, DC_OP_DELETE, "t9", NULL);
    dc_test_ok(f->b, dc_space_ack(f->b, f->space));
    sync2(f->a, f->b);
    f->d.now += 2 * DAY_MS;
    dc_test_ok(f->b, dc_space_ack(f->b, f->space));
    sync2(f->a, f->b);
    char *j = compact(f->a, f->space, DAY_MS);
    assert_non_null(strstr(j, "\"published\":true"));
    assert_non_null(strstr(j, dc_replica_device_id(f->c))); /* left out */
    assert_non_null(strstr(j, "\"snapshot_needed\":false"));
    free(j);
    sync2(f->a, f->b);
    free(compact(f->b, f->space, 0));
    /* The record is deleted, its row (the tombstone) kept. */
    dc_buf rec = DC_BUF_INIT;
    assert_int_equal(dc_record_get(&rec, f->a, f->space, "truck", "t9"), DC_ENOTFOUND);
    /* c returns with its old edit. */
    sync2(f->c, f->a);
    sync2(f->a, f->b);
    assert_int_equal(dc_record_get(&rec, f->a, f->space, "truck", "t9"), DC_ENOTFOUND);
    assert_int_equal(dc_record_get(&rec, f->b, f->space, "truck", "t9"), DC_ENOTFOUND);
    /* c missed the delete, compacted away: it is told so. */
    char *j2 = compact(f->c, f->space, 0);
    assert_non_null(strstr(j2, "\"snapshot_needed\":true"));
    free(j2);
    /* A later edit resurrects it, with only the later content. */
    set_str(f->c, f->space, "t9", "driver", "Li");
    sync2(f->c, f->a);
    sync2(f->a, f->b);
    dc_test_ok(f->a, dc_record_get(&rec, f->a, f->space, "truck", "t9"));
    assert_string_equal((const char *)rec.ptr, "{\"driver\":\"Li\"}");
    char *da = dc_test_dump(f->a), *db = dc_test_dump(f->b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    dc_buf_dispose(&rec);
}

/* Removed tags of covered adds go; the set still reads the same, and an
 * add named by a remove never comes back. */
static void test_removed_tags(void **state) {
    fx *f = *state;
    one_op(f->a, f->space, DC_OP_ADD, "t2", "reefer");
    one_op(f->a, f->space, DC_OP_ADD, "t2", "tanker");
    dc_buf old = DC_BUF_INIT;
    dc_test_ok(f->a, dc_bundle_export(&old, f->a, NULL));
    one_op(f->a, f->space, DC_OP_REMOVE, "t2", "reefer");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    compact_all(f);
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(f->b, dc_record_get(&rec, f->b, f->space, "truck", "t2"));
    assert_string_equal((const char *)rec.ptr, "{\"tags\":[\"tanker\"]}");
    /* The add again, from an old bundle: covered, not re-added. */
    dc_test_ok(f->b, dc_bundle_import(f->b, old.ptr, old.size, NULL));
    dc_test_ok(f->b, dc_record_get(&rec, f->b, f->space, "truck", "t2"));
    assert_string_equal((const char *)rec.ptr, "{\"tags\":[\"tanker\"]}");
    dc_buf_dispose(&rec);
    dc_buf_dispose(&old);
}

/* A member left out past the horizon, whose history was compacted away
 * while it was gone, is told it needs a snapshot and compacts nothing. */
static void test_late_device_told(void **state) {
    fx *f = *state;
    set_str(f->a, f->space, "t3", "plate", "B-1");
    f->d.now += 2 * DAY_MS;
    dc_test_ok(f->b, dc_space_ack(f->b, f->space));
    sync2(f->a, f->b);
    char *j = compact(f->a, f->space, DAY_MS);
    assert_non_null(strstr(j, "\"published\":true"));
    free(j);
    sync2(f->a, f->b);
    free(compact(f->b, f->space, 0));
    /* c never saw t3's change, now gone from a and b: the import that
     * brings it the point compacts nothing and says so. */
    dc_buf b = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_test_ok(f->a, dc_bundle_export(&b, f->a, NULL));
    dc_test_ok(f->c, dc_bundle_import(f->c, b.ptr, b.size, &rep));
    assert_non_null(strstr((const char *)rep.ptr, "\"compacted\":0,\"snapshot_needed\":1}"));
    dc_buf_dispose(&b);
    dc_buf_dispose(&rep);
    /* Its status says so, naming the authors whose covered changes it
     * lacks (a's among them), and that nothing is compacted. */
    char *sa = status(f->a), *sc = status(f->c);
    char a_dev[80];
    const char *dv = strstr(sa, "\"device\":\"");
    assert_non_null(dv);
    snprintf(a_dev, sizeof a_dev, "\"%.64s\"", dv + strlen("\"device\":\""));
    const char *e = compaction_of(sc, f->space);
    assert_non_null(e);
    assert_non_null(strstr(e, "\"compacted\":{\"authors\":0,\"changes\":0}"));
    assert_non_null(strstr(e, "\"dropped\":0,\"pending\":false,\"snapshot_needed\":true"));
    const char *miss = strstr(e, "\"missing\":[");
    assert_non_null(miss);
    const char *hit = strstr(miss, a_dev);
    assert_true(hit && hit < strchr(miss, ']'));
    /* a and b are compacted and miss nothing. */
    e = compaction_of(sa, f->space);
    assert_non_null(e);
    assert_non_null(strstr(e, "\"snapshot_needed\":false,\"missing\":[]}"));
    free(sa);
    free(sc);
    sync2(f->a, f->c);
    j = compact(f->c, f->space, 0);
    assert_non_null(strstr(j, "\"snapshot_needed\":true"));
    assert_non_null(strstr(j, "\"dropped\":0"));
    free(j);
}

/* A member compacts by itself once the point reaches it, by a bundle or
 * by a sync session; compacting again then drops nothing more. */
static void test_compacts_when_point_arrives(void **state) {
    fx *f = *state;
    plates(f, 12, "K", "t4");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    dc_test_ok(f->b, dc_space_ack(f->b, f->space));
    dc_test_ok(f->c, dc_space_ack(f->c, f->space));
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    sync2(f->a, f->b);
    char *before = dc_test_dump(f->a);
    size_t full = log_len(f->c);
    char *j = compact(f->a, f->space, 0);
    assert_non_null(strstr(j, "\"published\":true"));
    free(j);
    /* b: by a bundle. */
    long long n = import_compacted(f->a, f->b);
    assert_true(n >= 12);
    /* (the point, encrypted and in clear, and a's ack came) */
    assert_true(log_len(f->b) + (size_t)n <= full + 3);
    j = compact(f->b, f->space, 0);
    assert_non_null(strstr(j, "\"dropped\":0,\"snapshot_needed\":false"));
    free(j);
    /* Its status: compacted to the published point, n envelopes dropped. */
    char *sb = status(f->b);
    const char *e = compaction_of(sb, f->space);
    assert_non_null(e);
    char want[96];
    snprintf(want, sizeof want, "\"dropped\":%lld,\"pending\":false,\"snapshot_needed\":false", n);
    assert_non_null(strstr(e, want));
    const char *cp = strstr(e, "\"compacted\":{\"authors\":"), *pp = strstr(e, "\"published\":{");
    assert_non_null(cp);
    assert_non_null(pp);
    assert_true(atoll(strstr(cp, "\"changes\":") + 10) >= 12);
    /* (compacted to exactly the published point) */
    assert_int_equal(strncmp(cp + 13, pp + 13, strchr(pp, '}') - pp - 13), 0);
    free(sb);
    /* c: by a session with b (the point, a's ack and b's came). */
    session_bytes(f->c, f->b);
    assert_true(log_len(f->c) + (size_t)n <= full + 4);
    char *db = dc_test_dump(f->b), *dc = dc_test_dump(f->c);
    assert_string_equal(db, before);
    assert_string_equal(dc, before);
    free(db);
    free(dc);
    free(before);
}

/* A member's compact publishes nothing: only an admin's point counts. */
static void test_member_does_not_publish(void **state) {
    fx *f = *state;
    set_str(f->b, f->space, "t4", "plate", "C-1");
    dc_test_ok(f->c, dc_space_ack(f->c, f->space));
    dc_test_ok(f->a, dc_space_ack(f->a, f->space));
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    sync2(f->a, f->b);
    size_t before = log_len(f->b);
    char *j = compact(f->b, f->space, 0);
    assert_non_null(strstr(j, "\"published\":false"));
    assert_non_null(strstr(j, "\"dropped\":0"));
    assert_non_null(strstr(j, "\"point\":{}"));
    free(j);
    assert_int_equal(log_len(f->b), before + 1); /* its ack */
    /* Bad arguments are errors, not crashes. */
    dc_buf b = DC_BUF_INIT;
    dc_compact_options bad = {2, 0};
    assert_int_equal(dc_space_compact(&b, f->b, f->space, &bad), DC_EINVAL);
    assert_int_equal(dc_space_compact(&b, f->b, "nothex", NULL), DC_EINVAL);
    assert_int_equal(dc_space_compact(NULL, f->b, f->space, NULL), DC_EMISUSE);
    assert_int_equal(dc_space_ack(f->b, "00000000000000000000000000000000"), DC_ENOTFOUND);
    dc_buf_dispose(&b);
}

/* A removal arriving after compaction withdraws nothing covered, and the
 * state is rebuilt from the base: every replica agrees. */
static void test_rebuild_from_base(void **state) {
    fx *f = *state;
    set_str(f->c, f->space, "t5", "plate", "D-1");
    sync2(f->c, f->a);
    sync2(f->a, f->b);
    compact_all(f);
    /* b writes after compaction, then is removed: its later write goes,
     * c's covered one stays. */
    set_str(f->b, f->space, "t6", "plate", "E-1");
    sync2(f->a, f->b);
    dc_test_ok(f->a, dc_space_remove(f->a, f->space, dc_replica_device_id(f->c)));
    sync2(f->a, f->b);
    dc_buf rec = DC_BUF_INIT;
    dc_test_ok(f->a, dc_record_get(&rec, f->a, f->space, "truck", "t5"));
    assert_string_equal((const char *)rec.ptr, "{\"plate\":\"D-1\"}");
    dc_test_ok(f->b, dc_record_get(&rec, f->b, f->space, "truck", "t6"));
    char *da = dc_test_dump(f->a), *db = dc_test_dump(f->b);
    assert_string_equal(da, db);
    free(da);
    free(db);
    dc_buf_dispose(&rec);
}

/* The pages compaction freed go back to the file system, the result typed
 * (the bindings' Replica.vacuum()) as the JSON says it. */
static void test_vacuum_typed(void **state) {
    fx *f = *state;
    char note[512];
    for (int i = 0; i < 300; i++) {
        snprintf(note, sizeof note, "%0400d", i); /* a long note, written again and again */
        set_str(f->a, f->space, "t9", "note", note);
    }
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    compact_all(f);
    dc_vacuum_result v = {.version = DC_VACUUM_RESULT_VERSION + 1};
    assert_int_equal(dc_replica_vacuum_typed(f->a, &v), DC_EINVAL);
    assert_int_equal(v.bytes_before, 0); /* refused before anything is done */
    assert_int_equal(dc_replica_vacuum_typed(f->a, NULL), DC_EMISUSE);
    v.version = DC_VACUUM_RESULT_VERSION;
    dc_test_ok(f->a, dc_replica_vacuum_typed(f->a, &v));
    assert_true(v.free_pages_before > 0);
    assert_true(v.bytes_after < v.bytes_before);
    /* Nothing left to give back; the JSON call says the same sizes. */
    dc_buf out = DC_BUF_INIT;
    dc_test_ok(f->a, dc_replica_vacuum(&out, f->a));
    char want[128];
    snprintf(want, sizeof want,
             "{\"bytes_before\":%lld,\"bytes_after\":%lld,\"free_pages_before\":0}",
             (long long)v.bytes_after, (long long)v.bytes_after);
    assert_string_equal((const char *)out.ptr, want);
    dc_buf_dispose(&out);
    /* Not inside a transaction. */
    dc_txn *t;
    dc_test_ok(f->a, dc_txn_begin(&t, f->a, f->space));
    assert_int_equal(dc_replica_vacuum_typed(f->a, &v), DC_EMISUSE);
    dc_txn_rollback(t);
}

/* A new member starts from a snapshot instead of the whole history: the
 * same state as everyone, then the changes above the point as usual. */
static void test_new_member_from_snapshot(void **state) {
    fx *f = *state;
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof v, "S-%d", i);
        set_str(f->a, f->space, i % 2 ? "t7" : "t8", "plate", v);
    }
    one_op(f->a, f->space, DC_OP_ADD, "t7", "reefer");
    one_op(f->a, f->space, DC_OP_DELETE, "t8", NULL);
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    compact_all(f);
    set_str(f->b, f->space, "t7", "driver", "Zhao"); /* above the point */
    sync2(f->a, f->b);
    dc_buf snap = DC_BUF_INIT, card = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_test_ok(f->a, dc_space_snapshot(&snap, f->a, f->space));
    /* d joins: the compacted log alone would miss the history. */
    dc_replica *d = dc_test_open(&f->d, "d.dcr");
    dc_test_ok(d, dc_replica_card(&card, d));
    dc_test_ok(f->a, dc_space_add(f->a, f->space, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_test_sync_into(f->a, d);
    dc_test_ok(d, dc_space_accept(d, f->space, 0));
    char *j = compact(d, f->space, 0);
    assert_non_null(strstr(j, "\"snapshot_needed\":true"));
    free(j);
    dc_test_ok(d, dc_space_snapshot_load(d, snap.ptr, snap.size, &rep));
    assert_non_null(strstr((const char *)rep.ptr, f->space));
    dc_test_sync_into(f->a, d);
    char *da = dc_test_dump(f->a), *dd = dc_test_dump(d);
    assert_string_equal(dd, da);
    assert_non_null(strstr(da, "Zhao"));
    assert_null(strstr(da, "\"t8\"")); /* deleted, and stays so */
    free(da);
    free(dd);
    j = compact(d, f->space, 0);
    assert_non_null(strstr(j, "\"snapshot_needed\":false"));
    free(j);
    /* Loading it twice changes nothing. */
    dc_test_ok(d, dc_space_snapshot_load(d, snap.ptr, snap.size, NULL));
    da = dc_test_dump(f->a);
    dd = dc_test_dump(d);
    assert_string_equal(dd, da);
    free(da);
    free(dd);
    dc_replica_close(d);
    dc_buf_dispose(&snap);
    dc_buf_dispose(&card);
    dc_buf_dispose(&rep);
}

/* A compacted device syncing with a peer that still holds every envelope
 * (a relay, which cannot compact; here a member that has not compacted
 * yet) is not sent the covered history again: the items of the dropped
 * envelopes stay in its reconciliation set.  A member that started from a
 * snapshot is sent them once, verifies and remembers them, and not again. */
static void test_peer_holding_history_sends_it_once(void **state) {
    fx *f = *state;
    plates(f, 30, "R", "t9");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    dc_test_ok(f->b, dc_space_ack(f->b, f->space));
    dc_test_ok(f->c, dc_space_ack(f->c, f->space));
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    char *j = compact(f->a, f->space, 0);
    assert_non_null(strstr(j, "\"published\":true"));
    free(j);
    /* b compacts as the point reaches it (the import's end); c has not
     * heard of the point yet and holds every envelope. */
    size_t full = log_len(f->c);
    assert_true(import_compacted(f->a, f->b) >= 30);
    sync2(f->a, f->b);
    assert_true(log_len(f->b) + 25 <= full);
    /* c holds every envelope: b is sent none of them (below: a tenth of
     * what the same history costs a member that lacks it; in fact the
     * reconciliation's hundred-odd bytes). */
    long long b_from_c = session_bytes(f->b, f->c);
    char *db = dc_test_dump(f->b), *dc = dc_test_dump(f->c);
    assert_string_equal(db, dc);
    free(db);
    free(dc);
    /* The session brought c the point: c compacted once it ended. */
    assert_true(log_len(f->c) + 25 <= full);

    /* d starts from a's snapshot; its peers have compacted and send it
     * nothing of the covered history (they no longer hold it). */
    dc_buf snap = DC_BUF_INIT, card = DC_BUF_INIT;
    dc_test_ok(f->a, dc_space_snapshot(&snap, f->a, f->space));
    dc_replica *d = dc_test_open(&f->d, "d.dcr");
    dc_test_ok(d, dc_replica_card(&card, d));
    dc_test_ok(f->a, dc_space_add(f->a, f->space, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_test_sync_into(f->a, d);
    dc_test_ok(d, dc_space_accept(d, f->space, 0));
    dc_test_ok(d, dc_space_snapshot_load(d, snap.ptr, snap.size, NULL));
    size_t d_log = log_len(d);
    long long d_from_a = session_bytes(d, f->a);
    long long d_from_c = session_bytes(d, f->c);
    assert_true(log_len(d) <= d_log + 2); /* (acks at most) */
    assert_true(b_from_c < 30 * 100);
    assert_true(d_from_a < 30 * 100);
    assert_true(d_from_c < 30 * 100);
    char *dd = dc_test_dump(d), *da = dc_test_dump(f->a);
    assert_string_equal(dd, da);
    free(dd);
    free(da);
    dc_replica_close(d);
    dc_buf_dispose(&snap);
    dc_buf_dispose(&card);
}

/* The snapshot `snap` of `maker` as version 1 wrote it: the same, without
 * the covered-items ledger that ends the plaintext (docs/format/bundle.md),
 * encrypted and signed again by its maker. */
static void as_version1(dc_replica *maker, const char *space, const dc_buf *snap, dc_buf *out) {
    uint8_t id[16];
    dc__err e = {0};
    assert_int_equal(dc__space_id_parse(maker, space, id), 0);
    dc__space sp;
    assert_int_equal(dc__store_space_get(maker->st, id, &sp, &e), 0);
    const uint8_t *key = dc__space_write_key(maker, &sp, &e);
    assert_non_null(key);
    size_t clen = snap->size - 92 - 64;
    uint8_t *plain = malloc(clen);
    unsigned long long pl = 0;
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &pl, NULL, snap->ptr + 92,
                                                                clen, snap->ptr, 92, snap->ptr + 64,
                                                                key),
                     0);
    /* The ledger: u32 k, then k items of 40 bytes, at the end. */
    size_t k = 1;
    for (; k * 40 + 4 <= pl; k++) {
        const uint8_t *c = plain + pl - 4 - 40 * k;
        if (((uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3]) == k)
            break;
    }
    assert_true(k * 40 + 4 <= pl);
    size_t plen = pl - 4 - 40 * k;
    size_t nclen = plen + crypto_aead_xchacha20poly1305_ietf_ABYTES;
    dc__buf_clear(out);
    assert_int_equal(dc__buf_reserve(out, 92 + nclen + 64), 0);
    memcpy(out->ptr, snap->ptr, 92);
    out->ptr[3] = 1;
    for (int i = 0; i < 4; i++)
        out->ptr[88 + i] = (uint8_t)((uint32_t)nclen >> (24 - 8 * i));
    unsigned long long cl = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out->ptr + 92, &cl, plain, plen, out->ptr, 92, NULL,
                                               out->ptr + 64, key);
    crypto_sign_detached(out->ptr + 92 + cl, NULL, out->ptr, 92 + cl, maker->id->sign_sk);
    out->size = 92 + cl + 64;
    free(plain);
}

/* A member that starts from a snapshot knows the items of the covered
 * history from its ledger: syncing by session with a compacted peer, its
 * reconciliation finds nothing missing, from the first session on (and
 * nothing is sent).  One from a version 1 snapshot (no ledger) still
 * loads, and the same state, but asks for the covered items in vain at
 * every session: what the ledger saves. */
static void test_snapshot_carries_ledger(void **state) {
    fx *f = *state;
    plates(f, 30, "L", "t5");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    compact_all(f);
    set_str(f->b, f->space, "t5", "driver", "Wu"); /* above the point */
    sync2(f->a, f->b);
    /* Two compacted peers in step: the floor of a session. */
    figs floor = session(f->b, f->a);
    assert_int_equal(floor.changes_received, 0);
    dc_buf snap = DC_BUF_INIT, old = DC_BUF_INIT;
    dc_test_ok(f->a, dc_space_snapshot(&snap, f->a, f->space));
    assert_int_equal(snap.ptr[3], 2);
    as_version1(f->a, f->space, &snap, &old);
    figs first[2], again[2], rev[2];
    for (int v = 0; v < 2; v++) {
        char name[16];
        snprintf(name, sizeof name, "d%d.dcr", v);
        dc_replica *d = dc_test_open(&f->d, name);
        dc_buf card = DC_BUF_INIT;
        dc_test_ok(d, dc_replica_card(&card, d));
        dc_test_ok(f->a, dc_space_add(f->a, f->space, (const char *)card.ptr, DC_ROLE_MEMBER));
        dc_buf_dispose(&card);
        dc_test_sync_into(f->a, d);
        dc_test_ok(d, dc_space_accept(d, f->space, 0));
        const dc_buf *sn = v ? &old : &snap;
        dc_test_ok(d, dc_space_snapshot_load(d, sn->ptr, sn->size, NULL));
        char *dd = dc_test_dump(d), *da = dc_test_dump(f->a);
        assert_string_equal(dd, da);
        free(dd);
        free(da);
        sync2(f->a, f->b); /* (b hears of d's grant) */
        first[v] = session(d, f->a);
        again[v] = session(d, f->b);
        rev[v] = session(f->a, d);
        assert_int_equal(rev[v].changes_received, 0);
        assert_int_equal(first[v].changes_received, 0);
        assert_int_equal(again[v].changes_received, 0);
        dc_replica_close(d);
    }
    fprintf(stderr,
            "DEBUG floor %lld %lld %lld; v2 %lld %lld %lld / %lld %lld; v1 %lld %lld %lld / %lld "
            "%lld\n",
            floor.sent, floor.received, floor.round_trips, first[0].sent, first[0].received,
            first[0].round_trips, again[0].sent, again[0].received, first[1].sent,
            first[1].received, first[1].round_trips, again[1].sent, again[1].received);
    /* With the ledger: d's item set is its peers', so every session is
     * the floor, from the first on, either side initiating (within a few
     * bytes: the floor was measured before d's grant, and a range's
     * fingerprint and bounds take a byte more or less with the items). */
    for (int k = 0; k < 3; k++) {
        const figs *x = k == 0 ? &first[0] : k == 1 ? &again[0] : &rev[0];
        assert_true(x->sent <= floor.sent + 8 && x->sent + 8 >= floor.sent);
        assert_true(x->received <= floor.received + 8 && x->received + 8 >= floor.received);
        assert_int_equal(x->round_trips, floor.round_trips);
    }
    /* Without it, every session costs more: the covered items, missing
     * from d's set, are found again each time (and never sent). */
    assert_true(first[1].received > floor.received);
    assert_true(again[1].received > floor.received);
    assert_true(rev[1].sent > floor.sent && rev[1].received > floor.received);
    dc_buf_dispose(&snap);
    dc_buf_dispose(&old);
}

/* A forged, damaged, truncated or unsigned snapshot is refused whole, and
 * so is one whose maker is not an admin; only an admin makes one. */
static void test_snapshot_refused(void **state) {
    fx *f = *state;
    set_str(f->a, f->space, "t1", "plate", "F-1");
    sync2(f->a, f->b);
    sync2(f->a, f->c);
    compact_all(f);
    dc_buf snap = DC_BUF_INIT, tmp = DC_BUF_INIT;
    assert_int_equal(dc_space_snapshot(&tmp, f->b, f->space), DC_EDENIED);
    dc_test_ok(f->a, dc_space_snapshot(&snap, f->a, f->space));
    char *before = dc_test_dump(f->b);
    uint8_t *bad = malloc(snap.size);
    assert_non_null(bad);
    size_t at[] = {10, 30, 100, snap.size - 70, snap.size - 1};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        memcpy(bad, snap.ptr, snap.size);
        bad[at[k]] ^= 0x20;
        assert_int_equal(dc_space_snapshot_load(f->b, bad, snap.size, NULL), DC_EBADSIG);
    }
    /* unsigned: the signature bytes zeroed */
    memcpy(bad, snap.ptr, snap.size);
    memset(bad + snap.size - 64, 0, 64);
    assert_int_equal(dc_space_snapshot_load(f->b, bad, snap.size, NULL), DC_EBADSIG);
    assert_int_equal(dc_space_snapshot_load(f->b, snap.ptr, snap.size - 5, NULL), DC_ECORRUPT);
    assert_int_equal(dc_space_snapshot_load(f->b, snap.ptr, 20, NULL), DC_ECORRUPT);
    free(bad);
    /* Its maker demoted: refused. */
    dc_buf card = DC_BUF_INIT;
    dc_test_ok(f->b, dc_replica_card(&card, f->b));
    dc_test_ok(f->a, dc_space_set_role(f->a, f->space, dc_replica_device_id(f->b), DC_ROLE_ADMIN));
    dc_test_ok(f->a, dc_space_set_role(f->a, f->space, dc_replica_device_id(f->a), DC_ROLE_MEMBER));
    sync2(f->a, f->c);
    assert_int_equal(dc_space_snapshot_load(f->c, snap.ptr, snap.size, NULL), DC_EDENIED);
    char *after = dc_test_dump(f->b);
    assert_string_equal(after, before);
    free(before);
    free(after);
    dc_buf_dispose(&card);
    dc_buf_dispose(&snap);
    dc_buf_dispose(&tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waits_for_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_covered_dropped_and_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_no_resurrection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_device_told, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compacts_when_point_arrives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_does_not_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_from_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_member_from_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_carries_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_holding_history_sends_it_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vacuum_typed, setup, teardown),
    };
    return cmocka_run_group_tests_name("compact", tests, NULL, NULL);
}
