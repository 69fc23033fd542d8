/*
 * History compaction in the file (docs/storage.md, "Compaction"): the point
 * each space is compacted to, the base (the state folded from the covered
 * changes only) and the step that folds covered changes into the base and
 * drops their envelopes.  The rules are in docs/data-model.md, "Compaction";
 * replica/compact.c decides the point.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define STEP_DONE(st) (sqlite3_step(st) == SQLITE_DONE)

/* Runs one statement binding ?1 = a, ?2 = b. */
static int run2(dc__store *s, const char *sql, int64_t a, int64_t b, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_compact_points(dc__store *s, int64_t sid, dc__vent_fn fn, void *user, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT p.did, d.pk, p.seq FROM compact_point p JOIN devices d "
                           "ON d.did = p.did WHERE p.sid = ?1 ORDER BY d.pk",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    int rc = 0, x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != 32) {
            rc = dc__err_set(err, DC_ECORRUPT, "compaction: a device key is not 32 bytes");
            break;
        }
        rc = fn(user, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                (uint64_t)sqlite3_column_int64(st, 2));
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_compact_covered(dc__store *s, int64_t sid, int64_t did, uint64_t seq, bool *covered,
                              dc__err *err) {
    *covered = false;
    sqlite3_stmt *st = dc__q(s, Q_COMPACT_COVERED,
                             "SELECT seq FROM compact_point WHERE sid = ?1 AND did = ?2", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, did);
    int x = sqlite3_step(st), rc = 0;
    if (x == SQLITE_ROW)
        *covered = seq <= (uint64_t)sqlite3_column_int64(st, 0);
    else if (x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_reset(st);
    return rc;
}

int dc__store_held_prefix(dc__store *s, int64_t sid, bool unauth, dc__vent_fn fn, void *user,
                          dc__err *err) {
    /* Per author: the compacted point, then every envelope kept (membership,
     * any state) or applied (changes) above it, in sequence order; the
     * prefix runs while the numbers follow one another. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT a.did, d.pk, coalesce((SELECT seq FROM compact_point p WHERE p.sid = ?1 "
            "AND p.did = a.did), 0) FROM (SELECT DISTINCT author AS did FROM changes "
            "WHERE sid = ?1 UNION SELECT did FROM compact_point WHERE sid = ?1) a "
            "JOIN devices d ON d.did = a.did ORDER BY d.pk",
            -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq FROM changes WHERE sid = ?1 AND author = ?2 AND seq > ?3 "
                           "AND (kind = 2 OR state = 0 OR (?4 AND state = 4)) ORDER BY seq",
                           -1, &q, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return dc__sql_err(s, err, "compaction");
    }
    sqlite3_bind_int64(st, 1, sid);
    int rc = 0, x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t did = sqlite3_column_int64(st, 0);
        uint64_t at = (uint64_t)sqlite3_column_int64(st, 2);
        uint8_t pk[32];
        if (sqlite3_column_bytes(st, 1) != 32) {
            rc = dc__err_set(err, DC_ECORRUPT, "compaction: a device key is not 32 bytes");
            break;
        }
        memcpy(pk, sqlite3_column_blob(st, 1), 32);
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, sid);
        sqlite3_bind_int64(q, 2, did);
        sqlite3_bind_int64(q, 3, (int64_t)at);
        sqlite3_bind_int(q, 4, unauth);
        int y;
        while ((y = sqlite3_step(q)) == SQLITE_ROW) {
            uint64_t seq = (uint64_t)sqlite3_column_int64(q, 0);
            if (seq != at + 1)
                break;
            at = seq;
        }
        if (y != SQLITE_ROW && y != SQLITE_DONE)
            rc = dc__sql_err(s, err, "compaction");
        else if (at)
            rc = fn(user, did, pk, at);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(q);
    sqlite3_finalize(st);
    return rc;
}

int dc__store_base_restore(dc__store *s, int64_t sid, dc__err *err) {
    static const char *const SQL[] = {
        "UPDATE records SET (state, nval, nev, del_hlc, del_did) = (SELECT b.state, b.nval, "
        "b.nev, b.del_hlc, b.del_did FROM base_records b WHERE b.rid = records.rid) "
        "WHERE sid = ?1 AND rid IN (SELECT rid FROM base_records)",
        "INSERT OR REPLACE INTO events(rid, hlc, did, op, body) SELECT e.rid, e.hlc, e.did, "
        "e.op, e.body FROM base_events e JOIN records r ON r.rid = e.rid WHERE r.sid = ?1",
    };
    for (size_t i = 0; i < sizeof SQL / sizeof SQL[0]; i++) {
        int rc = run2(s, SQL[i], sid, 0, err);
        if (rc)
            return rc;
    }
    if (!s->nix)
        return 0;
    /* The fold writes the index rows of what it refolds; the records the
     * base alone holds get theirs here. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT r.rid, r.type, r.state FROM records r JOIN base_records b "
                           "ON b.rid = r.rid WHERE r.sid = ?1 AND r.state IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    int rc = 0, x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        dc__str type = {(const char *)sqlite3_column_text(st, 1),
                        (uint32_t)sqlite3_column_bytes(st, 1)};
        dc__recdata d;
        if (!(rc = dc__recdata_decode(sqlite3_column_blob(st, 2),
                                      (size_t)sqlite3_column_bytes(st, 2), &d, err))) {
            rc = dc__store_index_update(s, sqlite3_column_int64(st, 0), sid, &type, &d, err);
            dc__recdata_free(&d);
        }
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}

/* The compacted point of one author, looked up in a sorted array. */
typedef struct ptab {
    int64_t *did;
    uint64_t *seq;
    size_t n, cap;
} ptab;

static int ptab_add(void *user, int64_t did, const uint8_t pk[32], uint64_t seq) {
    (void)pk;
    ptab *t = user;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        int64_t *d = dc__realloc(t->did, nc * sizeof *d);
        if (!d)
            return DC_ENOMEM;
        t->did = d;
        uint64_t *q = dc__realloc(t->seq, nc * sizeof *q);
        if (!q)
            return DC_ENOMEM;
        t->seq = q;
        t->cap = nc;
    }
    t->did[t->n] = did;
    t->seq[t->n++] = seq;
    return 0;
}

static uint64_t ptab_get(const ptab *t, int64_t did) {
    for (size_t i = 0; i < t->n; i++)
        if (t->did[i] == did)
            return t->seq[i];
    return 0;
}

/* Removed tags of covered adds leave the base: such an add never arrives
 * again (an import drops it as covered). */
static int prune_removed(dc__store *s, int64_t sid, const ptab *pt, dc__err *err) {
    sqlite3_stmt *st, *up;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT rid, state FROM records WHERE sid = ?1 AND state IS NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    if (sqlite3_prepare_v2(s->db, "UPDATE records SET state = ?2 WHERE rid = ?1", -1, &up, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(st);
        return dc__sql_err(s, err, "compaction");
    }
    sqlite3_bind_int64(st, 1, sid);
    dc_buf out = DC_BUF_INIT;
    int rc = 0, x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        dc__recdata d;
        if ((rc = dc__recdata_decode(sqlite3_column_blob(st, 1),
                                     (size_t)sqlite3_column_bytes(st, 1), &d, err)))
            break;
        size_t keep = 0;
        for (size_t i = 0; i < d.nrm; i++)
            if (d.rm[i].seq > ptab_get(pt, d.rm[i].did))
                d.rm[keep++] = d.rm[i];
        if (keep != d.nrm) {
            d.nrm = keep;
            dc__buf_clear(&out);
            bool empty = !d.nregs && !d.nadds && !d.nrm;
            if (!empty)
                rc = dc__recdata_encode(&out, &d, err);
            if (!rc) {
                sqlite3_reset(up);
                sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
                if (empty)
                    sqlite3_bind_null(up, 2);
                else
                    sqlite3_bind_blob(up, 2, out.ptr, (int)out.size, SQLITE_STATIC);
                if (!STEP_DONE(up))
                    rc = dc__sql_err(s, err, "compaction");
            }
        }
        dc__recdata_free(&d);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    dc_buf_dispose(&out);
    sqlite3_finalize(up);
    sqlite3_finalize(st);
    return rc;
}

/* Every covered envelope leaves the log (and the fingerprints). */
static int drop_covered(dc__store *s, int64_t sid, uint64_t *dropped, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT c.cno FROM changes c JOIN compact_point p ON p.sid = c.sid "
                           "AND p.did = c.author WHERE c.sid = ?1 AND c.kind = 1 AND "
                           "c.state = 0 AND c.seq <= p.seq",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    int64_t *cnos = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, x;
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            int64_t *p = dc__realloc(cnos, nc * sizeof *p);
            if (!p) {
                rc = dc__err_set(err, DC_ENOMEM, "compaction: out of memory");
                break;
            }
            cnos = p;
            cap = nc;
        }
        cnos[n++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && !rc; i++)
        if (!(rc = dc__store_fp_state(s, cnos[i], DC_CHANGE_REJECTED, err)))
            rc = dc__store_change_delete(s, cnos[i], err);
    dc__free(cnos);
    if (!rc && dropped)
        *dropped += n;
    return rc;
}

static int finalise(dc__store *s, int64_t sid, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT c.cno FROM changes c JOIN compact_point p ON p.sid = c.sid "
                           "AND p.did = c.author WHERE c.sid = ?1 AND c.kind = 1 AND "
                           "c.state = 4 AND c.seq <= p.seq",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    int64_t *cnos = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, x;
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            int64_t *p = dc__realloc(cnos, nc * sizeof *p);
            if (!p) {
                rc = dc__err_set(err, DC_ENOMEM, "compaction: out of memory");
                break;
            }
            cnos = p;
            cap = nc;
        }
        cnos[n++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && !rc; i++)
        rc = dc__store_change_set_state(s, cnos[i], DC_CHANGE_APPLIED, err);
    dc__free(cnos);
    return rc;
}

static int raise_point(dc__store *s, int64_t sid, int64_t did, uint64_t seq, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO compact_point(sid, did, seq) VALUES(?1, ?2, ?3) "
                           "ON CONFLICT(sid, did) DO UPDATE SET seq = max(seq, excluded.seq)",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, did);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_compact(dc__store *s, int64_t sid, const int64_t *dids, const uint64_t *seqs,
                      size_t n, uint64_t *dropped, dc__err *err) {
    static const char *const RESET[] = {
        /* A fold part way through a batch on another handle reads it again. */
        "INSERT INTO meta(key, value) VALUES('state_epoch', 1) ON CONFLICT(key) DO UPDATE "
        "SET value = value + 1 WHERE ?1 = ?1",
        "DELETE FROM events WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "UPDATE records SET del_hlc = 0, del_did = 0, state = NULL, nval = 0, nev = 0 "
        "WHERE sid = ?1",
    };
    static const char *const COVERED =
        "INSERT OR IGNORE INTO pending(cno) SELECT c.cno FROM changes c JOIN compact_point p "
        "ON p.sid = c.sid AND p.did = c.author WHERE c.sid = ?1 AND c.kind = 1 AND "
        "c.state = 0 AND c.seq <= p.seq";
    static const char *const BASE[] = {
        "DELETE FROM base_events WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "DELETE FROM base_records WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "INSERT INTO base_records(rid, state, nval, nev, del_hlc, del_did) SELECT rid, state, "
        "nval, nev, del_hlc, del_did FROM records WHERE sid = ?1 AND (state IS NOT NULL OR "
        "nev > 0 OR del_hlc > 0)",
        "INSERT INTO base_events(rid, hlc, did, op, body) SELECT e.rid, e.hlc, e.did, e.op, "
        "e.body FROM events e JOIN records r ON r.rid = e.rid WHERE r.sid = ?1",
    };
    static const char *const REST =
        "INSERT OR IGNORE INTO pending(cno) SELECT cno FROM changes WHERE sid = ?1 AND "
        "kind = 1 AND state = 0";
    /* Whatever is pending is folded first, so that `pending` then holds the
     * covered changes alone. */
    int rc = dc__store_fold(s, NULL, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = raise_point(s, sid, dids[i], seqs[i], err);
    /* Covered changes are final: one a removal withdrew here after every
     * writer held it applied is applied again (docs/data-model.md). */
    if (!rc)
        rc = finalise(s, sid, err);
    /* The state goes back to the base (or to nothing), the covered changes
     * are folded over it: the state at the point. */
    if (!rc)
        rc = dc__store_index_clear_space(s, sid, err);
    for (size_t i = 0; i < sizeof RESET / sizeof RESET[0] && !rc; i++)
        rc = run2(s, RESET[i], sid, 0, err);
    if (!rc && !(rc = dc__store_base_restore(s, sid, err)) && !(rc = run2(s, COVERED, sid, 0, err)))
        rc = dc__store_fold(s, NULL, err);
    ptab pt = {0};
    if (!rc && (rc = dc__store_compact_points(s, sid, ptab_add, &pt, err)) == DC_ENOMEM)
        rc = dc__err_set(err, DC_ENOMEM, "compaction: out of memory");
    if (!rc)
        rc = prune_removed(s, sid, &pt, err);
    dc__free(pt.did);
    dc__free(pt.seq);
    for (size_t i = 0; i < sizeof BASE / sizeof BASE[0] && !rc; i++)
        rc = run2(s, BASE[i], sid, 0, err);
    /* The envelopes go; the changes above the point are folded again over
     * the base, which gives the state as it was. */
    if (!rc && !(rc = drop_covered(s, sid, dropped, err)) && !(rc = run2(s, REST, sid, 0, err)))
        rc = dc__store_fold(s, NULL, err);
    return rc;
}

int dc__store_member_since(dc__store *s, int64_t sid, const uint8_t pk[32], dc_hlc *hlc,
                           dc__err *err) {
    *hlc = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT m.hlc FROM members m JOIN devices d ON d.did = m.did "
                           "WHERE m.sid = ?1 AND d.pk = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_blob(st, 2, pk, 32, SQLITE_STATIC);
    int x = sqlite3_step(st), rc = 0;
    if (x == SQLITE_ROW)
        *hlc = (dc_hlc)sqlite3_column_int64(st, 0);
    else if (x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}
