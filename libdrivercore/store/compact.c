/*
 * History compaction in the file (docs/storage.md, "Compaction"): the point
 * each space is compacted to, the base (the state folded from the covered
 * changes only) and the step that folds covered changes into the base and
 * drops their envelopes.  The rules are in docs/data-model.md, "Compaction";
 * replica/compact.c decides the point.
 */
#include <stdio.h>
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

/* The first column of the first row of `sql` (0 when none). */
static int one_int(dc__store *s, const char *what, const char *sql, int64_t *v, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, what);
    int x = sqlite3_step(st);
    *v = x == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int rc = x == SQLITE_ROW || x == SQLITE_DONE ? 0 : dc__sql_err(s, err, what);
    sqlite3_finalize(st);
    return rc;
}

int dc__store_compact_dropped_all(dc__store *s, int64_t *n, dc__err *err) {
    return one_int(s, "compaction",
                   "SELECT coalesce(sum(value), 0) FROM meta WHERE key LIKE 'compact_dropped:%'", n,
                   err);
}

int dc__store_compact_mark(dc__store *s, int64_t *mark, dc__err *err) {
    return one_int(s, "compaction", "SELECT coalesce(sum(seq), 0) FROM compact_point", mark, err);
}

int dc__store_covered_by_point(dc__store *s, const uint8_t space[16], const uint8_t pk[32],
                               uint64_t seq, bool *covered, dc__err *err) {
    *covered = false;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT p.seq FROM compact_point p JOIN spaces sp ON sp.sid = p.sid "
                           "JOIN devices d ON d.did = p.did WHERE sp.space_id = ?1 AND d.pk = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_blob(st, 1, space, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, pk, 32, SQLITE_STATIC);
    int x = sqlite3_step(st), rc = 0;
    if (x == SQLITE_ROW)
        *covered = seq <= (uint64_t)sqlite3_column_int64(st, 0);
    else if (x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_covered_has(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32],
                          bool *held, dc__err *err) {
    *held = false;
    sqlite3_stmt *st =
        dc__q(s, Q_COVERED_HAS,
              "SELECT 1 FROM covered_items WHERE sid = ?1 AND hlc = ?2 AND cid = ?3", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)hlc);
    sqlite3_bind_blob(st, 3, cid, 32, SQLITE_STATIC);
    int x = sqlite3_step(st), rc = 0;
    if (x == SQLITE_ROW)
        *held = true;
    else if (x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_reset(st);
    return rc;
}

int dc__store_covered_note(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32],
                           dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_COVERED_NOTE,
              "INSERT OR IGNORE INTO covered_items(sid, hlc, cid) VALUES(?1, ?2, ?3)", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)hlc);
    sqlite3_bind_blob(st, 3, cid, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "compaction");
    sqlite3_reset(st);
    /* A new held item: the fingerprints count it (a relay's store). */
    if (!rc && sqlite3_changes(s->db) > 0)
        rc = dc__store_fp_covered(s, sid, hlc, cid, err);
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
        "UPDATE rstate SET (state, nval, nev, del_hlc, del_did) = (SELECT b.state, b.nval, "
        "b.nev, b.del_hlc, b.del_did FROM base_records b WHERE b.rid = rstate.rid) "
        "WHERE rid IN (SELECT k.rid FROM rkeys k JOIN base_records b ON b.rid = k.rid "
        "WHERE k.sid = ?1)",
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
                           "SELECT r.rid, r.type, r.state, r.id FROM records r JOIN base_records b "
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
            dc__str id = {(const char *)sqlite3_column_text(st, 3),
                          (uint32_t)sqlite3_column_bytes(st, 3)};
            rc = dc__store_index_update(s, sqlite3_column_int64(st, 0), sid, &type, &id, &d, err);
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
    size_t n, cap, cap_seq;
} ptab;

static int ptab_add(void *user, int64_t did, const uint8_t pk[32], uint64_t seq) {
    (void)pk;
    ptab *t = user;
    if (DC__VEC_ROOM(t->did, t->n, t->cap) || DC__VEC_ROOM(t->seq, t->n, t->cap_seq))
        return DC_ENOMEM;
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
    if (sqlite3_prepare_v2(s->db, "UPDATE rstate SET state = ?2 WHERE rid = ?1", -1, &up, NULL) !=
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

/* The covered changes of `sid` in `state`, by row; *cnos is dc__malloc'd. */
static int covered_cnos(dc__store *s, int64_t sid, int state, int64_t **cnos, size_t *n,
                        dc__err *err) {
    *cnos = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT c.cno FROM changes c JOIN compact_point p ON p.sid = c.sid "
                           "AND p.did = c.author WHERE c.sid = ?1 AND c.kind = 1 AND "
                           "c.state = ?2 AND c.seq <= p.seq",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int(st, 2, state);
    size_t cap = 0;
    int rc = 0, x;
    while ((x = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(*cnos, *n, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "compaction: out of memory");
            break;
        }
        (*cnos)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "compaction");
    sqlite3_finalize(st);
    return rc;
}

static int raise_point(dc__store *s, int64_t sid, int64_t did, uint64_t seq, dc__err *err);

/* Envelope `cno` leaves the log; its item (hlc, id) stays in
 * `covered_items`, so that reconciliation with a peer that still holds the
 * envelope finds it here and does not send it again.  The fingerprints
 * (a relay's store) keep counting an item that was offered; one that was
 * not (an unauthorised change) joins them. */
static int drop_one(dc__store *s, int64_t cno, bool offered, dc__err *err) {
    int rc = run2(s,
                  "INSERT OR IGNORE INTO covered_items(sid, hlc, cid) SELECT sid, hlc, cid "
                  "FROM changes WHERE cno = ?1",
                  cno, 0, err);
    if (!rc && !offered && dc__store_fp_on(s) && sqlite3_changes(s->db) > 0)
        rc = dc__store_fp_state(s, cno, DC_CHANGE_APPLIED, err);
    return rc ? rc : dc__store_change_delete(s, cno, err);
}

/* Adds n to the count of envelopes of `sid` dropped so far, for the
 * status (dc__store_compact_dropped). */
static int count_dropped(dc__store *s, int64_t sid, uint64_t n, uint64_t *dropped, dc__err *err) {
    int64_t so_far = 0;
    int rc = 0;
    if (n && !(rc = dc__store_compact_dropped(s, sid, &so_far, err))) {
        char key[48];
        snprintf(key, sizeof key, "compact_dropped:%lld", (long long)sid);
        rc = dc__store_meta_put(s, key, so_far + (int64_t)n, err);
    }
    if (!rc && dropped)
        *dropped += n;
    return rc;
}

/* Every covered envelope leaves the log (drop_one). */
static int drop_covered(dc__store *s, int64_t sid, uint64_t *dropped, dc__err *err) {
    int64_t *cnos;
    size_t n;
    int rc = covered_cnos(s, sid, DC_CHANGE_APPLIED, &cnos, &n, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = drop_one(s, cnos[i], true, err);
    dc__free(cnos);
    return rc ? rc : count_dropped(s, sid, n, dropped, err);
}

int dc__store_compact_log(dc__store *s, int64_t sid, const int64_t *dids, const uint64_t *seqs,
                          size_t n, uint64_t *dropped, dc__err *err) {
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = raise_point(s, sid, dids[i], seqs[i], err);
    if (rc)
        return rc;
    /* Changes only, in any state but rejected: a relay applies none, and
     * every counted member held each of them applied. */
    static const int STATES[] = {DC_CHANGE_APPLIED, DC_CHANGE_HELD, DC_CHANGE_OPAQUE,
                                 DC_CHANGE_FUTURE, DC_CHANGE_UNAUTHORISED};
    size_t m = 0;
    for (size_t k = 0; k < sizeof STATES / sizeof STATES[0] && !rc; k++) {
        int64_t *cnos;
        size_t nc;
        rc = covered_cnos(s, sid, STATES[k], &cnos, &nc, err);
        for (size_t i = 0; i < nc && !rc; i++)
            rc = drop_one(s, cnos[i], STATES[k] != DC_CHANGE_UNAUTHORISED, err);
        dc__free(cnos);
        m += nc;
    }
    return rc ? rc : count_dropped(s, sid, m, dropped, err);
}

int dc__store_space_log(dc__store *s, int64_t sid, int64_t *envelopes, int64_t *covered,
                        dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT count(*) FROM changes WHERE sid = ?1), "
                           "(SELECT count(*) FROM covered_items WHERE sid = ?1)",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "compaction");
    sqlite3_bind_int64(st, 1, sid);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *envelopes = sqlite3_column_int64(st, 0);
        *covered = sqlite3_column_int64(st, 1);
    } else {
        rc = dc__sql_err(s, err, "compaction");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_compact_dropped(dc__store *s, int64_t sid, int64_t *n, dc__err *err) {
    char key[48];
    snprintf(key, sizeof key, "compact_dropped:%lld", (long long)sid);
    int rc = dc__store_meta_get(s, key, n, err);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        *n = 0;
        rc = 0;
    }
    return rc;
}

/* Covered changes are final: one withdrawn here is applied again. */
static int finalise(dc__store *s, int64_t sid, dc__err *err) {
    int64_t *cnos;
    size_t n;
    int rc = covered_cnos(s, sid, DC_CHANGE_UNAUTHORISED, &cnos, &n, err);
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
    /* The changes above the point wait while the covered ones are folded
     * over the base. */
    static const char *const ABOVE =
        "DELETE FROM pending WHERE cno IN (SELECT c.cno FROM changes c LEFT JOIN compact_point p "
        "ON p.sid = c.sid AND p.did = c.author WHERE c.sid = ?1 AND (p.seq IS NULL OR "
        "c.seq > p.seq))";
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
    /* Whatever is pending is folded first, so that `pending` then holds
     * this space's changes alone. */
    int rc = dc__store_fold(s, NULL, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = raise_point(s, sid, dids[i], seqs[i], err);
    /* Covered changes are final: one a removal withdrew here after every
     * writer held it applied is applied again (docs/data-model.md). */
    if (!rc)
        rc = finalise(s, sid, err);
    /* The state goes back to the base (or to nothing), the covered changes
     * are folded over it: the state at the point. */
    if (!rc && !(rc = dc__store_state_clear(s, sid, err)) && !(rc = run2(s, ABOVE, sid, 0, err)))
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

/* ---- snapshots: the base of a space, with names and keys in place of
 * this file's row numbers (docs/format/bundle.md, "Snapshots") ---- */

typedef struct idmap {
    int64_t *from; /* local row (fid or did) */
    size_t n, cap;
} idmap;

/* The snapshot index of local row `id`, added if new. */
static int idmap_get(idmap *m, int64_t id, uint32_t *out) {
    for (size_t i = 0; i < m->n; i++)
        if (m->from[i] == id) {
            *out = (uint32_t)i;
            return 0;
        }
    if (DC__VEC_ROOM(m->from, m->n, m->cap))
        return DC_ENOMEM;
    m->from[m->n] = id;
    *out = (uint32_t)m->n++;
    return 0;
}

static int put32(dc_buf *b, uint32_t x) {
    uint8_t p[4] = {(uint8_t)(x >> 24), (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
    return dc__buf_put(b, p, 4) ? DC_ENOMEM : 0;
}

static int put64(dc_buf *b, uint64_t x) {
    int rc = put32(b, (uint32_t)(x >> 32));
    return rc ? rc : put32(b, (uint32_t)x);
}

static int putbytes(dc_buf *b, const void *p, size_t n) {
    int rc = put32(b, (uint32_t)n);
    return rc ? rc : n && dc__buf_put(b, p, n) ? DC_ENOMEM : 0;
}

static int cmp_reg(const void *a, const void *b) {
    const dc__reg *x = a, *y = b;
    return (x->fid > y->fid) - (x->fid < y->fid);
}

static int cmp_tag4(uint32_t f1, int64_t d1, uint64_t s1, uint32_t o1, uint32_t f2, int64_t d2,
                    uint64_t s2, uint32_t o2) {
    if (f1 != f2)
        return f1 < f2 ? -1 : 1;
    if (d1 != d2)
        return (uint64_t)d1 < (uint64_t)d2 ? -1 : 1;
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    return (o1 > o2) - (o1 < o2);
}

static int cmp_add(const void *a, const void *b) {
    const dc__sadd *x = a, *y = b;
    return cmp_tag4(x->fid, x->did, x->seq, x->op, y->fid, y->did, y->seq, y->op);
}

static int cmp_rm(const void *a, const void *b) {
    const dc__stag *x = a, *y = b;
    return cmp_tag4(x->fid, x->did, x->seq, x->op, y->fid, y->did, y->seq, y->op);
}

/* Rewrites a record's field numbers and device rows through fn, sorted
 * again as stored. */
typedef int (*remap_fn)(void *user, bool field, int64_t in, int64_t *out);

/* One entry's field number and device row through fn. */
static int remap_one(remap_fn fn, void *user, uint32_t *fid, int64_t *did) {
    int64_t v;
    int rc = fn(user, true, *fid, &v);
    if (rc)
        return rc;
    *fid = (uint32_t)v;
    return fn(user, false, *did, did);
}

static int remap_state(dc__recdata *d, remap_fn fn, void *user) {
    int rc = 0;
    for (size_t i = 0; i < d->nregs && !rc; i++)
        rc = remap_one(fn, user, &d->regs[i].fid, &d->regs[i].did);
    for (size_t i = 0; i < d->nadds && !rc; i++)
        rc = remap_one(fn, user, &d->adds[i].fid, &d->adds[i].did);
    for (size_t i = 0; i < d->nrm && !rc; i++)
        rc = remap_one(fn, user, &d->rm[i].fid, &d->rm[i].did);
    if (rc)
        return rc;
    if (d->nregs > 1)
        qsort(d->regs, d->nregs, sizeof *d->regs, cmp_reg);
    if (d->nadds > 1)
        qsort(d->adds, d->nadds, sizeof *d->adds, cmp_add);
    if (d->nrm > 1)
        qsort(d->rm, d->nrm, sizeof *d->rm, cmp_rm);
    return 0;
}

typedef struct maker {
    idmap names, devs;
} maker;

static int to_index(void *user, bool field, int64_t in, int64_t *out) {
    maker *m = user;
    uint32_t i = 0;
    if (!field && in == 0) {
        *out = 0;
        return 0;
    }
    int rc = idmap_get(field ? &m->names : &m->devs, in, &i);
    *out = field ? (int64_t)i : (int64_t)i + 1; /* device index 0: none */
    return rc;
}

/* A reader of the plaintext; any overrun is DC_ECORRUPT. */
typedef struct rd {
    const uint8_t *p;
    size_t n, at;
    bool bad;
} rd;

static const uint8_t *take(rd *r, size_t n) {
    if (r->bad || r->n - r->at < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->at;
    r->at += n;
    return p;
}

static uint32_t get32(rd *r) {
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint64_t get64(rd *r) {
    uint64_t hi = get32(r);
    return hi << 32 | get32(r);
}

static const uint8_t *getbytes(rd *r, size_t *n) {
    *n = get32(r);
    return take(r, *n);
}

/* The covered-items ledger (version 2): the reconciliation items of every
 * covered envelope, those dropped here (`covered_items`) and the covered
 * changes still in the log (not membership, which is never compacted and
 * syncs as usual; not the rejected or unauthorised ones, which are not
 * items), in (hlc, id) order: u32 n, n x (u64 hlc, 32-byte id). */
static int ledger_make(dc__store *s, int64_t sid, dc_buf *out, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT hlc, cid FROM covered_items WHERE sid = ?1 UNION SELECT c.hlc, "
                           "c.cid FROM changes c JOIN compact_point p ON p.sid = c.sid AND "
                           "p.did = c.author WHERE c.sid = ?1 AND c.kind = 1 AND c.seq <= p.seq "
                           "AND c.state NOT IN (3, 4) ORDER BY 1, 2",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "snapshot");
    sqlite3_bind_int64(st, 1, sid);
    size_t at = out->size;
    uint32_t n = 0;
    int rc = put32(out, 0), x = SQLITE_DONE;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != 32) {
            rc = dc__err_set(err, DC_ECORRUPT, "snapshot: a change id of the wrong size");
            break;
        }
        if (!(rc = put64(out, (uint64_t)sqlite3_column_int64(st, 0))) &&
            dc__buf_put(out, sqlite3_column_blob(st, 1), 32))
            rc = DC_ENOMEM;
        n++;
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "snapshot");
    sqlite3_finalize(st);
    if (!rc)
        for (int i = 0; i < 4; i++)
            out->ptr[at + (size_t)i] = (uint8_t)(n >> (24 - 8 * i));
    return rc;
}

/* Loads the ledger into `covered_items`, but for the items this log holds
 * (they are counted from the log already; one it drops as covered goes
 * there then). */
static int ledger_load(dc__store *s, int64_t sid, rd *r, dc__err *err) {
    uint32_t n = get32(r);
    if (r->bad || n > (r->n - r->at) / 40)
        return r->bad = true, 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR IGNORE INTO covered_items(sid, hlc, cid) SELECT ?1, ?2, ?3 "
                           "WHERE NOT EXISTS (SELECT 1 FROM changes WHERE sid = ?1 AND hlc = ?2 "
                           "AND cid = ?3)",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "snapshot");
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc && !r->bad; i++) {
        uint64_t h = get64(r);
        const uint8_t *id = take(r, 32);
        if (r->bad || h > INT64_MAX) {
            r->bad = true;
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, sid);
        sqlite3_bind_int64(st, 2, (int64_t)h);
        sqlite3_bind_blob(st, 3, id, 32, SQLITE_STATIC);
        if (!STEP_DONE(st))
            rc = dc__sql_err(s, err, "snapshot");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_snapshot_make(dc__store *s, int64_t sid, dc_buf *out, dc__err *err) {
    maker m = {0};
    dc_buf recs = DC_BUF_INIT, tmp = DC_BUF_INIT;
    int rc = dc__store_fold(s, NULL, err);
    sqlite3_stmt *st = NULL, *ev = NULL;
    uint32_t nrec = 0;
    if (!rc && (sqlite3_prepare_v2(s->db,
                                   "SELECT r.rid, r.type, r.id, b.state, b.nval, b.nev, "
                                   "b.del_hlc, b.del_did FROM base_records b JOIN records r ON "
                                   "r.rid = b.rid WHERE r.sid = ?1 ORDER BY r.type, r.id",
                                   -1, &st, NULL) != SQLITE_OK ||
                sqlite3_prepare_v2(s->db,
                                   "SELECT hlc, did, op, body FROM base_events WHERE rid = ?1 "
                                   "ORDER BY hlc, did, op",
                                   -1, &ev, NULL) != SQLITE_OK))
        rc = dc__sql_err(s, err, "snapshot");
    if (st)
        sqlite3_bind_int64(st, 1, sid);
    int x = SQLITE_DONE;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v;
        dc__recdata d;
        memset(&d, 0, sizeof d);
        dc__buf_clear(&tmp);
        if (sqlite3_column_bytes(st, 3) &&
            !(rc = dc__recdata_decode(sqlite3_column_blob(st, 3),
                                      (size_t)sqlite3_column_bytes(st, 3), &d, err))) {
            if ((rc = remap_state(&d, to_index, &m)) == DC_ENOMEM)
                rc = dc__err_set(err, DC_ENOMEM, "snapshot: out of memory");
            if (!rc)
                rc = dc__recdata_encode(&tmp, &d, err);
            dc__recdata_free(&d);
        }
        if (rc || (rc = to_index(&m, false, sqlite3_column_int64(st, 7), &v)) ||
            (rc = putbytes(&recs, sqlite3_column_text(st, 1),
                           (size_t)sqlite3_column_bytes(st, 1))) ||
            (rc = putbytes(&recs, sqlite3_column_text(st, 2),
                           (size_t)sqlite3_column_bytes(st, 2))) ||
            (rc = put64(&recs, (uint64_t)sqlite3_column_int64(st, 6))) ||
            (rc = put32(&recs, (uint32_t)v)) ||
            (rc = put64(&recs, (uint64_t)sqlite3_column_int64(st, 4))) ||
            (rc = put64(&recs, (uint64_t)sqlite3_column_int64(st, 5))) ||
            (rc = putbytes(&recs, tmp.ptr, tmp.size)))
            break;
        /* its events */
        sqlite3_reset(ev);
        sqlite3_bind_int64(ev, 1, sqlite3_column_int64(st, 0));
        dc_buf evs = DC_BUF_INIT;
        uint32_t ne = 0;
        int y;
        while (!rc && (y = sqlite3_step(ev)) == SQLITE_ROW) {
            if (!(rc = to_index(&m, false, sqlite3_column_int64(ev, 1), &v)) &&
                !(rc = put64(&evs, (uint64_t)sqlite3_column_int64(ev, 0))) &&
                !(rc = put32(&evs, (uint32_t)v)) &&
                !(rc = put32(&evs, (uint32_t)sqlite3_column_int64(ev, 2))))
                rc =
                    putbytes(&evs, sqlite3_column_blob(ev, 3), (size_t)sqlite3_column_bytes(ev, 3));
            ne++;
        }
        if (!rc && y != SQLITE_DONE)
            rc = dc__sql_err(s, err, "snapshot");
        if (!rc && !(rc = put32(&recs, ne)) && evs.size && dc__buf_put(&recs, evs.ptr, evs.size))
            rc = DC_ENOMEM;
        dc_buf_dispose(&evs);
        nrec++;
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "snapshot");
    sqlite3_finalize(st);
    sqlite3_finalize(ev);
    /* The point, by device index. */
    ptab pt = {0};
    if (!rc && (rc = dc__store_compact_points(s, sid, ptab_add, &pt, err)) == DC_ENOMEM)
        rc = dc__err_set(err, DC_ENOMEM, "snapshot: out of memory");
    dc_buf head = DC_BUF_INIT;
    if (!rc)
        rc = put32(&head, (uint32_t)pt.n);
    for (size_t i = 0; i < pt.n && !rc; i++) {
        int64_t v;
        if (!(rc = to_index(&m, false, pt.did[i], &v)) && !(rc = put32(&head, (uint32_t)v)))
            rc = put64(&head, pt.seq[i]);
    }
    dc__free(pt.did);
    dc__free(pt.seq);
    /* names and devices, then the point, then the records */
    dc__buf_clear(out);
    if (!rc)
        rc = put32(out, (uint32_t)m.names.n);
    for (size_t i = 0; i < m.names.n && !rc; i++) {
        const char *p;
        size_t n;
        if (!(rc = dc__store_name_of(s, (uint32_t)m.names.from[i], &p, &n, err)))
            rc = putbytes(out, p, n);
    }
    if (!rc)
        rc = put32(out, (uint32_t)m.devs.n);
    for (size_t i = 0; i < m.devs.n && !rc; i++) {
        uint8_t pk[32];
        if (!(rc = dc__store_device_pk(s, m.devs.from[i], pk, err)) && dc__buf_put(out, pk, 32))
            rc = DC_ENOMEM;
    }
    if (!rc && (dc__buf_put(out, head.ptr, head.size) || put32(out, nrec) ||
                (recs.size && dc__buf_put(out, recs.ptr, recs.size))))
        rc = DC_ENOMEM;
    if (!rc)
        rc = ledger_make(s, sid, out, err);
    if (rc == DC_ENOMEM && !err->code)
        rc = dc__err_set(err, DC_ENOMEM, "snapshot: out of memory");
    dc_buf_dispose(&head);
    dc_buf_dispose(&recs);
    dc_buf_dispose(&tmp);
    dc__free(m.names.from);
    dc__free(m.devs.from);
    return rc;
}

typedef struct loader {
    int64_t *fids, *dids; /* snapshot index -> local row */
    uint32_t nnames, ndevs;
} loader;

static int to_local(void *user, bool field, int64_t in, int64_t *out) {
    loader *l = user;
    if (field) {
        if (in < 0 || in >= l->nnames)
            return DC_ECORRUPT;
        *out = l->fids[in];
        return 0;
    }
    if (in == 0) {
        *out = 0;
        return 0;
    }
    if (in < 0 || in > l->ndevs)
        return DC_ECORRUPT;
    *out = l->dids[in - 1];
    return 0;
}

/* The snapshot's field names and devices, each given its local row (l). */
static int load_names_devices(dc__store *s, rd *r, loader *l, dc__err *err) {
    size_t n = r->n;
    int rc = 0;
    l->nnames = get32(r);
    if (l->nnames > n / 4 + 1)
        return dc__err_set(err, DC_ECORRUPT, "snapshot: malformed (names)");
    if (!(l->fids = dc__malloc((l->nnames + 1) * sizeof *l->fids)))
        return dc__err_set(err, DC_ENOMEM, "snapshot: out of memory");
    for (uint32_t i = 0; i < l->nnames && !rc && !r->bad; i++) {
        size_t ln;
        const uint8_t *q = getbytes(r, &ln);
        uint32_t fid;
        if (q && !(rc = dc__store_name_id(s, (const char *)q, ln, true, &fid, err)))
            l->fids[i] = fid;
    }
    l->ndevs = rc ? 0 : get32(r);
    if (!rc && l->ndevs > n / 32 + 1)
        r->bad = true;
    if (!rc && !r->bad && !(l->dids = dc__malloc((l->ndevs + 1) * sizeof *l->dids)))
        rc = dc__err_set(err, DC_ENOMEM, "snapshot: out of memory");
    for (uint32_t i = 0; i < l->ndevs && !rc && !r->bad; i++) {
        const uint8_t *pk = take(r, 32);
        if (pk)
            rc = dc__store_device(s, pk, &l->dids[i], err);
    }
    return rc;
}

/* The snapshot's compaction point, raised to where this replica's is not
 * already past it. */
static int load_point(dc__store *s, int64_t sid, rd *r, loader *l, dc__err *err) {
    int rc = 0;
    uint32_t np = get32(r);
    for (uint32_t i = 0; i < np && !rc && !r->bad; i++) {
        int64_t did;
        uint32_t idx = get32(r);
        uint64_t seq = get64(r);
        if (r->bad || to_local(l, false, idx, &did) || !did || seq > INT64_MAX)
            r->bad = true;
        else
            rc = raise_point(s, sid, did, seq, err);
    }
    return rc;
}

/* A base record's events, into base_events. */
static int load_events(dc__store *s, int64_t rid, rd *r, loader *l, dc__err *err) {
    int rc = 0;
    uint32_t ne = get32(r);
    for (uint32_t k = 0; k < ne && !rc && !r->bad; k++) {
        uint64_t h = get64(r);
        int64_t did;
        uint32_t didx = get32(r), op = get32(r);
        size_t bl;
        const uint8_t *body = getbytes(r, &bl);
        if (r->bad || to_local(l, false, didx, &did) || !did || !bl) {
            r->bad = true;
            break;
        }
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db,
                               "INSERT OR REPLACE INTO base_events(rid, hlc, did, op, body) "
                               "VALUES(?1, ?2, ?3, ?4, ?5)",
                               -1, &st, NULL) != SQLITE_OK)
            return dc__sql_err(s, err, "snapshot");
        sqlite3_bind_int64(st, 1, rid);
        sqlite3_bind_int64(st, 2, (int64_t)h);
        sqlite3_bind_int64(st, 3, did);
        sqlite3_bind_int64(st, 4, op);
        sqlite3_bind_blob(st, 5, body, (int)bl, SQLITE_STATIC);
        if (!STEP_DONE(st))
            rc = dc__sql_err(s, err, "snapshot");
        sqlite3_finalize(st);
    }
    return rc;
}

/* One base record: its row in records (made if new), its state with the
 * snapshot's field and device numbers made local (encoded into tmp), its
 * base_records row and its events.  A malformed record sets r->bad. */
static int load_record(dc__store *s, int64_t sid, rd *r, loader *l, dc_buf *tmp, dc__err *err) {
    size_t tl, il, sl;
    const uint8_t *type = getbytes(r, &tl), *id = getbytes(r, &il);
    uint64_t del_hlc = get64(r);
    int64_t del_did;
    uint32_t del_idx = get32(r);
    int64_t nval = (int64_t)get64(r), nev = (int64_t)get64(r);
    const uint8_t *state = getbytes(r, &sl);
    int rc = 0;
    if (r->bad || to_local(l, false, del_idx, &del_did) || tl == 0 || il == 0 ||
        !dc__utf8_valid(type, tl) || !dc__utf8_valid(id, il)) {
        r->bad = true;
        return 0;
    }
    dc__buf_clear(tmp);
    if (sl) {
        dc__recdata d;
        if ((rc = dc__recdata_decode(state, sl, &d, err)))
            return rc;
        if (remap_state(&d, to_local, l))
            r->bad = true;
        else
            rc = dc__recdata_encode(tmp, &d, err);
        dc__recdata_free(&d);
        if (rc || r->bad)
            return rc;
    }
    /* The record's row, made if new. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT rid FROM records WHERE sid = ?1 AND type = ?2 AND id = ?3", -1,
                           &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "snapshot");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, (const char *)type, (int)tl, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, (const char *)id, (int)il, SQLITE_STATIC);
    int64_t rid = 0;
    int x = sqlite3_step(st);
    if (x == SQLITE_ROW)
        rid = sqlite3_column_int64(st, 0);
    else if (x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "snapshot");
    sqlite3_finalize(st);
    dc__str ts = {(const char *)type, (uint32_t)tl}, is = {(const char *)id, (uint32_t)il};
    if (!rc && !rid)
        rc = dc__store_record_insert(s, sid, &ts, &is, 0, 0, NULL, 0, 0, 0, &rid, err);
    if (!rc && sqlite3_prepare_v2(s->db,
                                  "INSERT INTO base_records(rid, state, nval, nev, del_hlc, "
                                  "del_did) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                  -1, &st, NULL) != SQLITE_OK)
        rc = dc__sql_err(s, err, "snapshot");
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, rid);
    if (tmp->size)
        sqlite3_bind_blob(st, 2, tmp->ptr, (int)tmp->size, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, nval);
    sqlite3_bind_int64(st, 4, nev);
    sqlite3_bind_int64(st, 5, (int64_t)del_hlc);
    sqlite3_bind_int64(st, 6, del_did);
    if (!STEP_DONE(st))
        rc = dc__sql_err(s, err, "snapshot");
    sqlite3_finalize(st);
    return rc ? rc : load_events(s, rid, r, l, err);
}

int dc__store_snapshot_load(dc__store *s, int64_t sid, const uint8_t *p, size_t n, bool ledger,
                            uint64_t *dropped, dc__err *err) {
    rd r = {p, n, 0, false};
    loader l = {0};
    int rc = dc__store_fold(s, NULL, err);
    if (rc)
        return rc;
    if ((rc = load_names_devices(s, &r, &l, err)) && !l.fids)
        return rc; /* malformed before anything was read, or out of memory */
    if (!rc && !r.bad)
        rc = load_point(s, sid, &r, &l, err);
    /* The base replaces this replica's. */
    static const char *const CLEAR[] = {
        "DELETE FROM base_events WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "DELETE FROM base_records WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
    };
    for (size_t i = 0; i < 2 && !rc && !r.bad; i++)
        rc = run2(s, CLEAR[i], sid, 0, err);
    uint32_t nrec = rc || r.bad ? 0 : get32(&r);
    dc_buf tmp = DC_BUF_INIT;
    for (uint32_t i = 0; i < nrec && !rc && !r.bad; i++)
        rc = load_record(s, sid, &r, &l, &tmp, err);
    dc_buf_dispose(&tmp);
    if (!rc && !r.bad && ledger)
        rc = ledger_load(s, sid, &r, err);
    if (!rc && (r.bad || r.at != r.n))
        rc = dc__err_set(err, DC_ECORRUPT, "snapshot: malformed");
    dc__free(l.fids);
    dc__free(l.dids);
    /* What the log holds at or below the point is in the base now: it goes,
     * and the state is the base with the rest folded over it. */
    if (!rc && !(rc = finalise(s, sid, err)) && !(rc = drop_covered(s, sid, dropped, err)) &&
        !(rc = dc__store_state_clear(s, sid, err)))
        rc = dc__store_fold(s, NULL, err);
    return rc;
}

/* ---- giving space back (docs/storage.md, "Giving space back") ---- */

static int db_bytes(dc__store *s, int64_t *bytes, int64_t *free_pages, dc__err *err) {
    int64_t pages, size;
    int rc = one_int(s, "vacuum", "PRAGMA page_count", &pages, err);
    if (!rc)
        rc = one_int(s, "vacuum", "PRAGMA page_size", &size, err);
    if (!rc && free_pages)
        rc = one_int(s, "vacuum", "PRAGMA freelist_count", free_pages, err);
    if (!rc)
        *bytes = pages * size;
    return rc;
}

int dc__store_vacuum(dc__store *s, int64_t *before, int64_t *after, int64_t *free_before,
                     dc__err *err) {
    int64_t busy = 0;
    int rc = db_bytes(s, before, free_before, err);
    if (!rc)
        rc = dc__sql_exec(s, "VACUUM", err);
    if (!rc)
        rc = one_int(s, "vacuum", "PRAGMA wal_checkpoint(TRUNCATE)", &busy, err);
    if (!rc)
        rc = db_bytes(s, after, NULL, err);
    if (rc == DC_EBUSY)
        return dc__err_set(err, DC_EBUSY,
                           "vacuum: another connection is using the file; try again when it "
                           "is idle (nothing was changed)");
    return rc;
}
