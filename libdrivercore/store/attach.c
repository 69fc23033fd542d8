/*
 * Attachments in the replica file (docs/attachments.md, docs/storage.md
 * "Attachments"): the encrypted objects by (space, id), exactly as they
 * travel, so a relay and a device store them alike; the manifests this
 * device has opened (one row per attachment, one per chunk of it); each
 * space's fetch policy; and which objects were pushed to which peer, so a
 * sync never offers a peer what it already took.
 *
 * Finding which attachments a space still uses reads the records' stored
 * state and event bodies for the reference text ("att1:" and 64 hex
 * digits): strings are stored as raw bytes inside them, so an SQL instr()
 * picks the few rows that hold one and only those are scanned.
 */
#include <string.h>

#include "store/store_int.h"

#define REF_PREFIX "att1:"
#define REF_PREFIX_LEN 5
#define REF_LEN (REF_PREFIX_LEN + 64)

static int prep(dc__store *s, sqlite3_stmt **st, const char *sql, dc__err *err) {
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "attachments");
    return 0;
}

/* Steps a statement without results and finalizes it. */
static int run(dc__store *s, sqlite3_stmt *st, dc__err *err) {
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_obj_has(dc__store *s, int64_t sid, const uint8_t oid[32], bool *has, dc__err *err) {
    sqlite3_stmt *st;
    int rc =
        prep(s, &st, "SELECT EXISTS(SELECT 1 FROM att_objects WHERE sid = ? AND oid = ?)", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, oid, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *has = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    rc = rc == SQLITE_ROW ? 0 : dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_obj_put(dc__store *s, int64_t sid, const uint8_t oid[32], int kind, const uint8_t *p,
                      size_t n, int64_t now_ms, bool *fresh, dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "INSERT OR IGNORE INTO att_objects(sid, oid, kind, at_ms, body) "
                  "VALUES(?, ?, ?, ?, ?)",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, oid, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, kind);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_blob64(st, 5, p, n, SQLITE_STATIC);
    rc = run(s, st, err);
    if (!rc && fresh)
        *fresh = sqlite3_changes(s->db) > 0;
    return rc;
}

int dc__store_obj_get(dc__store *s, int64_t sid, const uint8_t oid[32], dc_buf *out, dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st, "SELECT body FROM att_objects WHERE sid = ? AND oid = ?", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, oid, 32, SQLITE_STATIC);
    int x = sqlite3_step(st);
    dc__buf_clear(out);
    if (x == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        rc = dc__buf_put(out, p, n) ? dc__err_set(err, DC_ENOMEM, "attachments: out of memory") : 0;
    } else {
        rc = x == SQLITE_DONE ? DC_ENOTFOUND : dc__sql_err(s, err, "attachments");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_obj_drop(dc__store *s, int64_t sid, const uint8_t oid[32], dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st, "DELETE FROM att_objects WHERE sid = ? AND oid = ?", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, oid, 32, SQLITE_STATIC);
    return run(s, st, err);
}

int dc__store_att_put(dc__store *s, int64_t sid, const uint8_t aid[32], const dc__manifest *m,
                      int64_t now_ms, dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "INSERT INTO attachments(sid, aid, size, nchunks, chunk, media, at_ms) "
                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(sid, aid) DO UPDATE SET "
                  "size = ?3, nchunks = ?4, chunk = ?5, media = ?6 WHERE size < 0",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, aid, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)m->size);
    sqlite3_bind_int64(st, 4, m->nchunks);
    sqlite3_bind_int64(st, 5, m->chunk);
    sqlite3_bind_text(st, 6, m->media, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, now_ms);
    if ((rc = run(s, st, err)))
        return rc;
    if ((rc = prep(s, &st, "INSERT OR IGNORE INTO att_parts(sid, aid, idx, cid) VALUES(?, ?, ?, ?)",
                   err)))
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, aid, 32, SQLITE_STATIC);
    for (uint32_t i = 0; i < m->nchunks && !rc; i++) {
        sqlite3_bind_int64(st, 3, i);
        sqlite3_bind_blob(st, 4, m->cids + (size_t)i * 32, 32, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = dc__sql_err(s, err, "attachments");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_att_want(dc__store *s, int64_t sid, const uint8_t aid[32], int64_t now_ms,
                       dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "INSERT INTO attachments(sid, aid, want, at_ms) VALUES(?, ?, 1, ?) "
                  "ON CONFLICT(sid, aid) DO UPDATE SET want = 1",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, aid, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    return run(s, st, err);
}

#define ATT_COLS                                                                                   \
    "SELECT a.sid, a.aid, a.size, a.nchunks, a.chunk, a.media, a.want, a.at_ms, "                  \
    "(SELECT count(*) FROM att_parts p JOIN att_objects o ON o.sid = p.sid AND o.oid = p.cid "     \
    " WHERE p.sid = a.sid AND p.aid = a.aid) FROM attachments a "

static void read_row(sqlite3_stmt *st, dc__att_row *a) {
    memset(a, 0, sizeof *a);
    if (sqlite3_column_bytes(st, 1) == 32)
        memcpy(a->aid, sqlite3_column_blob(st, 1), 32);
    a->size = sqlite3_column_int64(st, 2);
    a->nchunks = sqlite3_column_int64(st, 3);
    a->chunk = (uint32_t)sqlite3_column_int64(st, 4);
    const unsigned char *m = sqlite3_column_text(st, 5);
    if (m)
        snprintf(a->media, sizeof a->media, "%s", (const char *)m);
    a->want = sqlite3_column_int(st, 6) != 0;
    a->at_ms = sqlite3_column_int64(st, 7);
    a->present = (uint32_t)sqlite3_column_int64(st, 8);
}

int dc__store_att_get(dc__store *s, int64_t sid, const uint8_t aid[32], dc__att_row *out,
                      dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st, ATT_COLS "WHERE a.sid = ? AND a.aid = ?", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, aid, 32, SQLITE_STATIC);
    int x = sqlite3_step(st);
    if (x == SQLITE_ROW)
        read_row(st, out);
    rc = x == SQLITE_ROW ? 0 : x == SQLITE_DONE ? DC_ENOTFOUND : dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_att_each(dc__store *s, int64_t sid, dc__att_fn fn, void *user, dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st, ATT_COLS "WHERE ?1 = 0 OR a.sid = ?1 ORDER BY a.sid, a.aid", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    int x;
    dc__att_row a;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        read_row(st, &a);
        rc = fn(user, sqlite3_column_int64(st, 0), &a);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_att_parts(dc__store *s, int64_t sid, const uint8_t aid[32], dc__part_fn fn,
                        void *user, dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "SELECT p.idx, p.cid, EXISTS(SELECT 1 FROM att_objects o WHERE o.sid = p.sid "
                  "AND o.oid = p.cid) FROM att_parts p WHERE p.sid = ? AND p.aid = ? "
                  "ORDER BY p.idx",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, aid, 32, SQLITE_STATIC);
    int x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        uint8_t cid[32] = {0};
        if (sqlite3_column_bytes(st, 1) == 32)
            memcpy(cid, sqlite3_column_blob(st, 1), 32);
        rc = fn(user, (uint32_t)sqlite3_column_int64(st, 0), cid, sqlite3_column_int(st, 2) != 0);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Every reference text in p[0..n): fn(aid). */
static int scan(const uint8_t *p, size_t n, dc__aid_fn fn, void *user) {
    for (size_t i = 0; i + REF_LEN <= n; i++) {
        if (p[i] != 'a' || memcmp(p + i, REF_PREFIX, REF_PREFIX_LEN) != 0)
            continue;
        uint8_t aid[32];
        size_t k = 0;
        for (; k < 64; k++) {
            int v = hexval(p[i + REF_PREFIX_LEN + k]);
            if (v < 0)
                break;
            if (k % 2 == 0)
                aid[k / 2] = (uint8_t)(v << 4);
            else
                aid[k / 2] |= (uint8_t)v;
        }
        if (k < 64)
            continue;
        int rc = fn(user, aid);
        if (rc)
            return rc;
        i += REF_LEN - 1;
    }
    return 0;
}

int dc__store_att_refs(dc__store *s, int64_t sid, dc__aid_fn fn, void *user, dc__err *err) {
    int rc = dc__store_fold(s, NULL, err);
    if (rc)
        return rc;
    static const char *const sql[2] = {
        "SELECT state FROM records WHERE sid = ? AND nval + nev > 0 AND state IS NOT NULL "
        "AND instr(state, CAST('" REF_PREFIX "' AS BLOB)) > 0",
        "SELECT e.body FROM events e JOIN records r ON r.rid = e.rid WHERE r.sid = ? "
        "AND r.nval + r.nev > 0 AND instr(e.body, CAST('" REF_PREFIX "' AS BLOB)) > 0"};
    for (int q = 0; q < 2 && !rc; q++) {
        sqlite3_stmt *st;
        if ((rc = prep(s, &st, sql[q], err)))
            return rc;
        sqlite3_bind_int64(st, 1, sid);
        int x;
        while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW)
            rc = scan(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), fn, user);
        if (!rc && x != SQLITE_DONE)
            rc = dc__sql_err(s, err, "attachments");
        sqlite3_finalize(st);
    }
    return rc;
}

int dc__store_att_forget(dc__store *s, int64_t sid, const uint8_t aid[32], uint64_t *objects,
                         dc__err *err) {
    static const char *const sql[] = {
        /* its chunks no other attachment of the space lists */
        "DELETE FROM att_objects WHERE sid = ?1 AND oid IN (SELECT p.cid FROM att_parts p "
        "WHERE p.sid = ?1 AND p.aid = ?2 AND NOT EXISTS (SELECT 1 FROM att_parts q "
        "WHERE q.sid = ?1 AND q.cid = p.cid AND q.aid <> ?2))",
        "DELETE FROM att_objects WHERE sid = ?1 AND oid = ?2",
        "DELETE FROM att_parts WHERE sid = ?1 AND aid = ?2",
        "DELETE FROM attachments WHERE sid = ?1 AND aid = ?2"};
    uint64_t gone = 0;
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st;
        int rc = prep(s, &st, sql[i], err);
        if (rc)
            return rc;
        sqlite3_bind_int64(st, 1, sid);
        sqlite3_bind_blob(st, 2, aid, 32, SQLITE_STATIC);
        if ((rc = run(s, st, err)))
            return rc;
        if (i < 2)
            gone += (uint64_t)sqlite3_changes(s->db);
    }
    if (objects)
        *objects = gone;
    return 0;
}

int dc__store_att_orphans(dc__store *s, int64_t sid, int64_t before_ms, uint64_t *objects,
                          dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "DELETE FROM att_objects WHERE sid = ?1 AND at_ms <= ?2 AND ((kind = 1 AND "
                  "NOT EXISTS (SELECT 1 FROM att_parts p WHERE p.sid = ?1 AND p.cid = oid)) OR "
                  "(kind = 2 AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sid = ?1 AND "
                  "a.aid = oid)))",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, before_ms);
    if ((rc = run(s, st, err)))
        return rc;
    *objects = (uint64_t)sqlite3_changes(s->db);
    /* What was sent of objects no longer here is forgotten too. */
    if ((rc = prep(s, &st,
                   "DELETE FROM att_sent WHERE sid = ?1 AND NOT EXISTS (SELECT 1 FROM "
                   "att_objects o WHERE o.sid = ?1 AND o.oid = att_sent.oid)",
                   err)))
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    return run(s, st, err);
}

int dc__store_att_policy_get(dc__store *s, int64_t sid, int *mode, uint64_t *max_bytes,
                             dc__err *err) {
    sqlite3_stmt *st;
    *mode = 0;
    *max_bytes = 0;
    int rc = prep(s, &st, "SELECT mode, max_bytes FROM att_policy WHERE sid = ?", err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    int x = sqlite3_step(st);
    if (x == SQLITE_ROW) {
        *mode = sqlite3_column_int(st, 0);
        *max_bytes = (uint64_t)sqlite3_column_int64(st, 1);
    }
    rc = x == SQLITE_ROW || x == SQLITE_DONE ? 0 : dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_att_policy_put(dc__store *s, int64_t sid, int mode, uint64_t max_bytes,
                             dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st, "INSERT OR REPLACE INTO att_policy(sid, mode, max_bytes) VALUES(?, ?, ?)",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int(st, 2, mode);
    sqlite3_bind_int64(st, 3, (int64_t)max_bytes);
    return run(s, st, err);
}

int dc__store_obj_unsent(dc__store *s, const uint8_t peer[16], int64_t sid, size_t max,
                         dc__obj_fn fn, void *user, dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st,
                  "SELECT o.oid, o.kind FROM att_objects o WHERE o.sid = ?1 AND NOT EXISTS "
                  "(SELECT 1 FROM att_sent t WHERE t.peer = ?2 AND t.sid = ?1 AND t.oid = o.oid) "
                  "ORDER BY o.kind, o.ono LIMIT ?3",
                  err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, peer, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)max);
    int x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 32)
            continue;
        rc = fn(user, sqlite3_column_blob(st, 0), sqlite3_column_int(st, 1));
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "attachments");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_obj_mark_sent(dc__store *s, const uint8_t peer[16], int64_t sid,
                            const uint8_t oid[32], dc__err *err) {
    sqlite3_stmt *st;
    int rc = prep(s, &st, "INSERT OR IGNORE INTO att_sent(peer, sid, oid) VALUES(?, ?, ?)", err);
    if (rc)
        return rc;
    sqlite3_bind_blob(st, 1, peer, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, sid);
    sqlite3_bind_blob(st, 3, oid, 32, SQLITE_STATIC);
    return run(s, st, err);
}
