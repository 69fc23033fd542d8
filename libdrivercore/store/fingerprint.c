/*
 * Reconciliation fingerprints kept beside the log (schema 4,
 * docs/storage.md "Schema version 4"): per space, the items a sync offers —
 * every envelope but rejected ones and unauthorised changes, in (hlc, cid)
 * order, and the items of envelopes compacted away (`covered_items`) — are cut into buckets of
 * fewer than FP_SPLIT items, and each bucket row holds its lower bound, its count and the sum of
 * its items' hashes (sync/recon.h).  A session then answers range fingerprints from these rows
 * (sync/bucketset.c) and reads the items of a bucket only where a range bound falls inside it,
 * instead of loading the space's whole item set: a relay serving ten thousand devices keeps its
 * memory.
 *
 * The rows are kept only in files that asked for them (a relay's store:
 * meta 'recon_buckets' = 1, read at every open, so any handle writing the
 * file keeps them in step); a device's replica has none and loads its item
 * sets as before.  Every change of the log that becomes, or stops being,
 * an offered item updates one bucket row inside the writer's transaction;
 * a bucket that reaches FP_SPLIT items is cut in two at its middle item.
 */
#include <string.h>

#include "store/store_int.h"
#include "sync/recon.h"

#define FP_SPLIT 512 /* a bucket of this many items is cut in two */

#define OFFERED_SQL "state <> 3 AND (state <> 4 OR kind = 2)"

static bool offered(int kind, int state) {
    return state != DC_CHANGE_REJECTED &&
           (state != DC_CHANGE_UNAUTHORISED || kind == DC_ENV_KIND_MEMBERSHIP);
}

/* The items of `sid` in [lo, hi) (hi NULL: to the end): the log's offered
 * envelopes and the items of those compacted away (`covered_items`), which
 * the file still counts as held. */
static int read_items(dc__store *s, int64_t sid, const dc__recon_item *lo, const dc__recon_item *hi,
                      dc__recon_item **out, size_t *n, dc__err *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st =
        dc__q(s, hi ? Q_FP_ITEMS : Q_FP_ITEMS_TAIL,
              hi ? "SELECT hlc, cid FROM changes WHERE sid = ?1 AND (hlc, cid) >= "
                   "(?2, ?3) AND (hlc, cid) < (?4, ?5) AND " OFFERED_SQL " UNION ALL "
                   "SELECT hlc, cid FROM covered_items WHERE sid = ?1 AND (hlc, cid) >= "
                   "(?2, ?3) AND (hlc, cid) < (?4, ?5) ORDER BY 1, 2"
                 : "SELECT hlc, cid FROM changes WHERE sid = ?1 AND (hlc, cid) >= "
                   "(?2, ?3) AND " OFFERED_SQL " UNION ALL SELECT hlc, cid FROM covered_items "
                   "WHERE sid = ?1 AND (hlc, cid) >= (?2, ?3) ORDER BY 1, 2",
              err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)lo->ts);
    sqlite3_bind_blob(st, 3, lo->id, 32, SQLITE_STATIC);
    if (hi) {
        sqlite3_bind_int64(st, 4, (int64_t)hi->ts);
        sqlite3_bind_blob(st, 5, hi->id, 32, SQLITE_STATIC);
    }
    size_t cap = 0;
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != 32) {
            rc = dc__err_set(err, DC_ECORRUPT, "change log: a change id of the wrong size");
            break;
        }
        if (DC__VEC_ROOM(*out, *n, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "fingerprints: out of memory");
            break;
        }
        (*out)[*n].ts = (uint64_t)sqlite3_column_int64(st, 0);
        memcpy((*out)[*n].id, sqlite3_column_blob(st, 1), 32);
        (*n)++;
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "fingerprints");
    sqlite3_reset(st);
    if (rc) {
        dc__free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int put_bucket(dc__store *s, int64_t sid, uint64_t ts, const uint8_t id[32], size_t idlen,
                      uint64_t n, const uint8_t sum[32], dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_FP_PUT,
                             "INSERT OR REPLACE INTO recon_buckets(sid, hlc, cid, n, sum) "
                             "VALUES(?, ?, ?, ?, ?)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)ts);
    sqlite3_bind_blob(st, 3, id, (int)idlen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)n);
    sqlite3_bind_blob(st, 5, sum, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "fingerprints");
    sqlite3_reset(st);
    return rc;
}

/* Cuts the bucket starting at (ts, id) of `sid`, holding n items, at its
 * middle item: both halves get their counts and sums from its items. */
static int split(dc__store *s, int64_t sid, uint64_t ts, const uint8_t *id, size_t idlen,
                 dc__err *err) {
    dc__recon_item lo, hi, *items = NULL;
    memset(&lo, 0, sizeof lo);
    lo.ts = ts;
    memcpy(lo.id, id, idlen);
    bool has_hi = false;
    sqlite3_stmt *st = dc__q(s, Q_FP_NEXT,
                             "SELECT hlc, cid FROM recon_buckets WHERE sid = ?1 AND (hlc, cid) > "
                             "(?2, ?3) ORDER BY hlc, cid LIMIT 1",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)ts);
    sqlite3_bind_blob(st, 3, id, (int)idlen, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        has_hi = true;
        memset(&hi, 0, sizeof hi);
        hi.ts = (uint64_t)sqlite3_column_int64(st, 0);
        size_t k = (size_t)sqlite3_column_bytes(st, 1);
        if (k) /* the first bucket's bound is empty (and its blob NULL) */
            memcpy(hi.id, sqlite3_column_blob(st, 1), k > 32 ? 32 : k);
    }
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return dc__sql_err(s, err, "fingerprints");
    size_t n;
    int rc = read_items(s, sid, &lo, has_hi ? &hi : NULL, &items, &n, err);
    if (rc || n < 2) {
        dc__free(items);
        return rc;
    }
    size_t m = n / 2;
    uint8_t a[32] = {0}, b[32] = {0}, h[32];
    for (size_t i = 0; i < n; i++) {
        dc__recon_item_hash(h, items[i].id);
        dc__recon_sum_add(i < m ? a : b, h);
    }
    if (!(rc = put_bucket(s, sid, ts, id, idlen, m, a, err)))
        rc = put_bucket(s, sid, items[m].ts, items[m].id, 32, n - m, b, err);
    dc__free(items);
    return rc;
}

/* Adds (sign 1) or takes away (-1) item (hlc, cid) in its bucket. */
static int fp_move(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32], int sign,
                   dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_FP_FIND,
                             "SELECT hlc, cid, n, sum FROM recon_buckets WHERE sid = ?1 AND "
                             "(hlc, cid) <= (?2, ?3) ORDER BY hlc DESC, cid DESC LIMIT 1",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)hlc);
    sqlite3_bind_blob(st, 3, cid, 32, SQLITE_STATIC);
    uint64_t ts = 0, n = 0;
    uint8_t id[32] = {0}, sum[32] = {0};
    size_t idlen = 0;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        ts = (uint64_t)sqlite3_column_int64(st, 0);
        idlen = (size_t)sqlite3_column_bytes(st, 1);
        if (idlen > 32)
            idlen = 32;
        if (idlen)
            memcpy(id, sqlite3_column_blob(st, 1), idlen);
        n = (uint64_t)sqlite3_column_int64(st, 2);
        if (sqlite3_column_bytes(st, 3) == 32)
            memcpy(sum, sqlite3_column_blob(st, 3), 32);
    }
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return dc__sql_err(s, err, "fingerprints");
    /* No row: the space's first bucket, from the lowest bound (0, ""). */
    uint8_t h[32];
    dc__recon_item_hash(h, cid);
    if (sign > 0) {
        dc__recon_sum_add(sum, h);
        n++;
    } else {
        if (n == 0)
            return dc__err_set(err, DC_ECORRUPT, "fingerprints: a bucket would go below zero");
        dc__recon_sum_sub(sum, h);
        n--;
    }
    int rc = put_bucket(s, sid, ts, id, idlen, n, sum, err);
    if (!rc && n >= FP_SPLIT)
        rc = split(s, sid, ts, id, idlen, err);
    return rc;
}

int dc__store_fp_put(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32], int kind,
                     int state, dc__err *err) {
    if (!s->fp || !offered(kind, state))
        return 0;
    return fp_move(s, sid, hlc, cid, 1, err);
}

int dc__store_fp_covered(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t cid[32],
                         dc__err *err) {
    return s->fp ? fp_move(s, sid, hlc, cid, 1, err) : 0;
}

int dc__store_fp_state(dc__store *s, int64_t cno, int state, dc__err *err) {
    if (!s->fp)
        return 0;
    sqlite3_stmt *st = dc__q(s, Q_FP_ROW,
                             "SELECT sid, hlc, cid, kind, state FROM changes "
                             "WHERE cno = ?",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, cno);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        sqlite3_reset(st);
        return r == SQLITE_DONE ? 0 : dc__sql_err(s, err, "fingerprints");
    }
    int64_t sid = sqlite3_column_int64(st, 0);
    uint64_t hlc = (uint64_t)sqlite3_column_int64(st, 1);
    uint8_t cid[32] = {0};
    if (sqlite3_column_bytes(st, 2) == 32)
        memcpy(cid, sqlite3_column_blob(st, 2), 32);
    int kind = sqlite3_column_int(st, 3), was = sqlite3_column_int(st, 4);
    sqlite3_reset(st);
    bool before = offered(kind, was), after = offered(kind, state);
    return before == after ? 0 : fp_move(s, sid, hlc, cid, after ? 1 : -1, err);
}

/* ---- turning them on ---- */

typedef struct builder {
    dc__store *s;
    int64_t sid;
    uint64_t n;
    uint8_t sum[32];
    dc__recon_item lo;
    size_t lolen; /* 0: the first bucket, bound (0, "") */
} builder;

static int flush_bucket(builder *b, dc__err *err) {
    if (!b->n)
        return 0;
    return put_bucket(b->s, b->sid, b->lolen ? b->lo.ts : 0, b->lo.id, b->lolen, b->n, b->sum, err);
}

int dc__store_fp_enable(dc__store *s, dc__err *err) {
    int64_t on = 0;
    int rc = dc__store_meta_get(s, "recon_buckets", &on, err);
    if (rc && rc != DC_ENOTFOUND)
        return rc;
    if (on == 1) {
        s->fp = true;
        return 0;
    }
    /* Built once from the log, in one transaction: the buckets of every
     * space at FP_SPLIT / 2 items each. */
    if ((rc = dc__store_begin(s, err)))
        return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = dc__sql_exec(s, "DELETE FROM recon_buckets", err)))
        goto fail;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT sid, hlc, cid FROM changes WHERE " OFFERED_SQL
                           " UNION ALL SELECT sid, hlc, cid FROM covered_items ORDER BY 1, 2, 3",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = dc__sql_err(s, err, "fingerprints");
        goto fail;
    }
    builder b;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.sid = -1;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_int64(st, 0);
        dc__recon_item it;
        it.ts = (uint64_t)sqlite3_column_int64(st, 1);
        memset(it.id, 0, 32);
        if (sqlite3_column_bytes(st, 2) == 32)
            memcpy(it.id, sqlite3_column_blob(st, 2), 32);
        if (sid != b.sid || b.n == FP_SPLIT / 2) {
            if ((rc = flush_bucket(&b, err)))
                goto fail;
            bool first = sid != b.sid;
            b.sid = sid;
            b.n = 0;
            memset(b.sum, 0, 32);
            b.lo = it;
            b.lolen = first ? 0 : 32;
        }
        uint8_t h[32];
        dc__recon_item_hash(h, it.id);
        dc__recon_sum_add(b.sum, h);
        b.n++;
    }
    if (r != SQLITE_DONE) {
        rc = dc__sql_err(s, err, "fingerprints");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = flush_bucket(&b, err)) || (rc = dc__store_meta_put(s, "recon_buckets", 1, err)) ||
        (rc = dc__store_commit(s, err)))
        goto fail;
    s->fp = true;
    return 0;
fail:
    sqlite3_finalize(st);
    dc__store_rollback(s);
    return dc__err_prefix(err, "building the reconciliation fingerprints");
}

/* ---- reading them ---- */

int dc__store_fp_buckets(dc__store *s, int64_t sid, dc__recon_bucket **out, size_t *n,
                         dc__err *err) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = dc__q(s, Q_FP_ALL,
                             "SELECT hlc, cid, n, sum FROM recon_buckets WHERE sid = ? "
                             "ORDER BY hlc, cid",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    size_t cap = 0;
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(*out, *n, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "fingerprints: out of memory");
            break;
        }
        dc__recon_bucket *b = &(*out)[(*n)++];
        memset(b, 0, sizeof *b);
        b->ts = (uint64_t)sqlite3_column_int64(st, 0);
        size_t k = (size_t)sqlite3_column_bytes(st, 1);
        if (k)
            memcpy(b->id, sqlite3_column_blob(st, 1), k > 32 ? 32 : k);
        b->n = (uint64_t)sqlite3_column_int64(st, 2);
        if (sqlite3_column_bytes(st, 3) == 32)
            memcpy(b->sum, sqlite3_column_blob(st, 3), 32);
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "fingerprints");
    sqlite3_reset(st);
    if (rc) {
        dc__free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int dc__store_fp_items(dc__store *s, int64_t sid, const dc__recon_item *lo,
                       const dc__recon_item *hi, dc__recon_item **out, size_t *n, dc__err *err) {
    return read_items(s, sid, lo, hi, out, n, err);
}

bool dc__store_fp_on(const dc__store *s) {
    return s->fp;
}
