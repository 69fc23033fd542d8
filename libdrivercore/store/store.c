/*
 * The replica's own bookkeeping in SQLite: identity, clock, the device
 * table, spaces and their keys, membership, and the change log with its
 * export order.  The materialised records are in apply.c and query.c.
 */
#include <stdio.h>
#include <string.h>

#include "crdt/crdt.h"
#include "store/store_int.h"

#define STEP_DONE(st) (sqlite3_step(st) == SQLITE_DONE)

/* ---- identity and clock ---- */

int dc__store_identity_load(dc__store *s, dc__identity *id, char *name, size_t cap, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT sign_pk, sign_sk, box_pk, box_sk, name FROM identity", -1,
                           &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "identity");
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? dc__err_set(err, DC_ENOTFOUND, "the replica has no identity")
                                 : dc__sql_err(s, err, "identity");
    }
    if (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 1) != 64 ||
        sqlite3_column_bytes(st, 2) != 32 || sqlite3_column_bytes(st, 3) != 32) {
        sqlite3_finalize(st);
        return dc__err_set(err, DC_ECORRUPT, "identity: stored keys have the wrong size");
    }
    memcpy(id->sign_pk, sqlite3_column_blob(st, 0), 32);
    memcpy(id->sign_sk, sqlite3_column_blob(st, 1), 64);
    memcpy(id->box_pk, sqlite3_column_blob(st, 2), 32);
    memcpy(id->box_sk, sqlite3_column_blob(st, 3), 32);
    const char *n = (const char *)sqlite3_column_text(st, 4);
    snprintf(name, cap, "%s", n ? n : "");
    sqlite3_finalize(st);
    return 0;
}

int dc__store_identity_save(dc__store *s, const dc__identity *id, const char *name, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO identity VALUES(1, ?, ?, ?, ?, ?)", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "identity");
    sqlite3_bind_blob(st, 1, id->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id->sign_sk, 64, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, id->box_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, id->box_sk, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "identity");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_identity_replace(dc__store *s, const dc__identity *id, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE identity SET sign_pk = ?, sign_sk = ?, box_pk = ?, box_sk = ? "
                           "WHERE one = 1",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "identity");
    sqlite3_bind_blob(st, 1, id->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id->sign_sk, 64, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, id->box_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, id->box_sk, 32, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "identity");
    sqlite3_finalize(st);
    /* The new identity has used no sequence number, and no relay holds
     * anything of it. */
    if (!rc && sqlite3_exec(s->db,
                            "UPDATE spaces SET my_seq = 0;"
                            "DELETE FROM meta WHERE key LIKE 'acked:%';",
                            NULL, NULL, NULL) != SQLITE_OK)
        rc = dc__sql_err(s, err, "identity");
    return rc;
}

int dc__store_hlc_load(dc__store *s, dc_hlc *h, dc__err *err) {
    sqlite3_stmt *st;
    *h = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'hlc'", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "clock");
    if (sqlite3_step(st) == SQLITE_ROW)
        *h = (dc_hlc)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

int dc__store_hlc_save(dc__store *s, dc_hlc h, dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_HLC_PUT, "INSERT OR REPLACE INTO meta(key, value) VALUES('hlc', ?)", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)h);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "clock");
    sqlite3_reset(st);
    return rc;
}

/* ---- devices ---- */

int dc__store_device_find(dc__store *s, const uint8_t pk[32], int64_t *did, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_DEVICE_GET, "SELECT did FROM devices WHERE pk = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_blob(st, 1, pk, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *did = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return dc__sql_err(s, err, "devices");
    return DC_ENOTFOUND;
}

int dc__store_device(dc__store *s, const uint8_t pk[32], int64_t *did, dc__err *err) {
    int rc = dc__store_device_find(s, pk, did, err);
    if (rc != DC_ENOTFOUND)
        return rc;
    sqlite3_stmt *st = dc__q(s, Q_DEVICE_PUT, "INSERT INTO devices(pk) VALUES(?)", err);
    if (!st)
        return err->code;
    sqlite3_bind_blob(st, 1, pk, 32, SQLITE_STATIC);
    if (!STEP_DONE(st))
        return dc__sql_err(s, err, "devices");
    *did = sqlite3_last_insert_rowid(s->db);
    sqlite3_reset(st);
    return 0;
}

int dc__store_device_pk(dc__store *s, int64_t did, uint8_t pk[32], dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_DEVPK, "SELECT pk FROM devices WHERE did = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, did);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32) {
        sqlite3_reset(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE
                   ? dc__err_set(err, DC_ECORRUPT, "devices: row %lld is missing", (long long)did)
                   : dc__sql_err(s, err, "devices");
    }
    memcpy(pk, sqlite3_column_blob(st, 0), 32);
    sqlite3_reset(st);
    return 0;
}

/* ---- spaces ---- */

#define SPACE_COLS                                                                                 \
    "sid, space_id, epoch, kid, my_seq, consent, inviter, EXISTS(SELECT 1 FROM space_keys k "      \
    "WHERE k.sid = spaces.sid AND k.epoch = spaces.epoch AND (spaces.kid IS NULL OR "              \
    "k.kid = spaces.kid))"

static void space_row(sqlite3_stmt *st, dc__space *out) {
    memset(out, 0, sizeof *out);
    out->sid = sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) == 16)
        memcpy(out->id, sqlite3_column_blob(st, 1), 16);
    out->epoch = (uint32_t)sqlite3_column_int64(st, 2);
    if (sqlite3_column_bytes(st, 3) == DC_KEY_ID) {
        out->has_kid = true;
        memcpy(out->kid, sqlite3_column_blob(st, 3), DC_KEY_ID);
    }
    out->my_seq = (uint64_t)sqlite3_column_int64(st, 4);
    out->consent = sqlite3_column_int(st, 5);
    out->inviter = sqlite3_column_int64(st, 6);
    out->has_key = sqlite3_column_int(st, 7) != 0;
}

int dc__store_space_get(dc__store *s, const uint8_t id[16], dc__space *out, dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_SPACE_GET, "SELECT " SPACE_COLS " FROM spaces WHERE space_id = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            char hex[33];
            dc__hex(hex, id, 16);
            return dc__err_set(err, DC_ENOTFOUND, "space %s is not known on this device", hex);
        }
        return dc__sql_err(s, err, "spaces");
    }
    space_row(st, out);
    sqlite3_reset(st);
    return 0;
}

int dc__store_space_by_sid(dc__store *s, int64_t sid, dc__space *out, dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_SPACE_BY_SID, "SELECT " SPACE_COLS " FROM spaces WHERE sid = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        space_row(st, out);
    rc = rc == SQLITE_ROW ? 0
         : rc == SQLITE_DONE
             ? dc__err_set(err, DC_ENOTFOUND, "space row %lld is missing", (long long)sid)
             : dc__sql_err(s, err, "spaces");
    sqlite3_reset(st);
    return rc;
}

int dc__store_space_ensure(dc__store *s, const uint8_t id[16], dc__space *out, dc__err *err) {
    int rc = dc__store_space_get(s, id, out, err);
    if (rc != DC_ENOTFOUND)
        return rc;
    dc__err_clear(err); /* not an error here: the space is new */
    sqlite3_stmt *st = dc__q(s, Q_SPACE_PUT, "INSERT INTO spaces(space_id) VALUES(?)", err);
    if (!st)
        return err->code;
    sqlite3_bind_blob(st, 1, id, 16, SQLITE_STATIC);
    if (!STEP_DONE(st))
        return dc__sql_err(s, err, "spaces");
    sqlite3_reset(st);
    return dc__store_space_get(s, id, out, err);
}

static int exec_i64(dc__store *s, const char *sql, int64_t a, int64_t b, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "storage");
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "storage");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_space_set_seq(dc__store *s, int64_t sid, uint64_t seq, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_SEQ_PUT, "UPDATE spaces SET my_seq = ?2 WHERE sid = ?1", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "spaces");
    sqlite3_reset(st);
    return rc;
}

/* ---- change log ---- */

int dc__store_change_find(dc__store *s, int64_t sid, int64_t author_did, uint64_t seq,
                          uint8_t id[32], dc__err *err) {
    sqlite3_stmt *st = dc__q(
        s, Q_CHANGE_FIND, "SELECT cid FROM changes WHERE sid = ? AND author = ? AND seq = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, author_did);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) == 32)
            memcpy(id, sqlite3_column_blob(st, 0), 32);
        rc = 1;
    } else {
        rc = rc == SQLITE_DONE ? 0 : dc__sql_err(s, err, "change log");
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- the log's byte stream (docs/storage.md, "Schema version 8") ----
 *
 * The envelopes' bytes, appended in `cno` order, in chunks of
 * meta('log_chunk') bytes: logbytes row n holds the stream's bytes
 * [n * C, (n + 1) * C), only the last one short.  A change row names its
 * envelope by (off, len). */

static int log_chunk(dc__store *s, int64_t *c, dc__err *err) {
    if (!s->log_chunk) {
        int64_t v;
        int rc = dc__store_meta_get(s, "log_chunk", &v, err);
        if (rc == DC_ENOTFOUND || (!rc && (v < 64 || v > 65536)))
            return dc__err_set(err, DC_ECORRUPT, "change log: the stream's chunk size is missing");
        if (rc)
            return rc;
        s->log_chunk = v;
    }
    *c = s->log_chunk;
    return 0;
}

void dc__store_env_done(dc__store *s) {
    if (s->lr_on && s->q[Q_LOG_READ])
        sqlite3_reset(s->q[Q_LOG_READ]);
    s->lr_on = false;
}

/* Puts the reader's statement on chunk n: a step or two forward when it
 * stands just before (reads in stream order), a seek otherwise. */
static int log_seek(dc__store *s, int64_t n, dc__err *err) {
    sqlite3_stmt *st = s->q[Q_LOG_READ];
    if (s->lr_on && s->lr_n == n)
        return 0;
    if (!(s->lr_on && n > s->lr_n && n - s->lr_n <= 4)) {
        s->lr_on = false;
        if (!(st = dc__q(s, Q_LOG_READ, "SELECT n, bytes FROM logbytes WHERE n >= ?1 ORDER BY n",
                         err)))
            return err->code;
        sqlite3_bind_int64(st, 1, n);
        s->lr_on = true;
        s->lr_n = n - 1;
    }
    while (s->lr_n < n) {
        int r = sqlite3_step(st);
        if (r != SQLITE_ROW) {
            dc__store_env_done(s);
            return r == SQLITE_DONE ? dc__err_set(err, DC_ECORRUPT,
                                                  "change log: the bytes of an envelope are "
                                                  "missing from the stream")
                                    : dc__sql_err(s, err, "change log");
        }
        s->lr_n = sqlite3_column_int64(st, 0);
    }
    if (s->lr_n != n) {
        dc__store_env_done(s);
        return dc__err_set(err, DC_ECORRUPT,
                           "change log: the bytes of an envelope are missing from the stream");
    }
    return 0;
}

/* ---- the stream's last chunk in memory (docs/storage.md, "The last chunk
 * in memory") ----
 *
 * While a write transaction runs, the partly full last chunk lives in the
 * handle: appends fill it, a chunk that fills is written whole (INSERT, or
 * UPDATE of a row flushed earlier), and the rest is written once, before
 * the COMMIT.  Read again from logbytes at the first append of each
 * transaction, so that what another connection appended in between is
 * seen. */

void dc__store_tail_forget(dc__store *s) {
    s->lt_on = false;
    s->lt_broken = false;
    s->sp_on = false;
}

void dc__store_tail_free(dc__store *s) {
    dc__store_tail_forget(s);
    dc__free(s->lt);
    dc__free(s->sp);
    s->lt = s->sp = NULL;
}

/* A transaction that ended under the handle (SQLite rolls back on its own
 * after some errors) takes the bytes not yet written with it. */
static void tail_check(dc__store *s) {
    if (s->lt_on && sqlite3_get_autocommit(s->db))
        dc__store_tail_forget(s);
}

/* The last chunk read from logbytes: the rightmost row when it is short,
 * else the next chunk, empty (and no row). */
static int tail_load(dc__store *s, int64_t c, dc__err *err) {
    if (!s->lt && !(s->lt = dc__malloc((size_t)c)))
        return dc__err_set(err, DC_ENOMEM, "change log: out of memory");
    sqlite3_stmt *st =
        dc__q(s, Q_LOG_TAIL, "SELECT n, bytes FROM logbytes ORDER BY n DESC LIMIT 1", err);
    if (!st)
        return err->code;
    int rc = 0, r = sqlite3_step(st);
    s->lt_n = 0;
    s->lt_len = 0;
    s->lt_stored = -1;
    if (r == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0), have = sqlite3_column_bytes(st, 1);
        if (n < 0 || have > c)
            rc = dc__err_set(err, DC_ECORRUPT, "change log: a chunk of the stream is too long");
        else if (have == c)
            s->lt_n = n + 1;
        else {
            s->lt_n = n;
            s->lt_len = s->lt_stored = have;
            if (have)
                memcpy(s->lt, sqlite3_column_blob(st, 1), (size_t)have);
        }
    } else if (r != SQLITE_DONE) {
        rc = dc__sql_err(s, err, "change log");
    }
    sqlite3_reset(st);
    if (!rc) {
        s->lt_on = true;
        s->lt_broken = false;
    }
    return rc;
}

/* Writes k bytes at p as chunk n of the stream: a new row, or the row
 * flushed earlier in the transaction. */
static int chunk_write(dc__store *s, int64_t n, bool row, const uint8_t *p, size_t k,
                       dc__err *err) {
    dc__store_env_done(s);
    sqlite3_stmt *st =
        row ? dc__q(s, Q_LOG_SET, "UPDATE logbytes SET bytes = ?2 WHERE n = ?1", err)
            : dc__q(s, Q_LOG_ADD, "INSERT INTO logbytes(n, bytes) VALUES(?1, ?2)", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, n);
    sqlite3_bind_blob(st, 2, p, (int)k, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "change log");
    sqlite3_reset(st);
    return rc;
}

int dc__store_tail_flush(dc__store *s, dc__err *err) {
    tail_check(s);
    if (!s->lt_on)
        return 0;
    if (s->lt_broken)
        return dc__err_set(err, DC_EIO,
                           "change log: an earlier write of the stream failed; the transaction "
                           "is rolled back");
    if (s->lt_len == 0 || s->lt_len == s->lt_stored)
        return 0;
    int rc = chunk_write(s, s->lt_n, s->lt_stored >= 0, s->lt, (size_t)s->lt_len, err);
    if (rc)
        s->lt_broken = true;
    else
        s->lt_stored = s->lt_len;
    return rc;
}

int dc__store_tail_mark(dc__store *s, dc__err *err) {
    tail_check(s);
    /* One copy only: a savepoint inside another would lose the outer one's
     * tail, and a rollback to the outer one would then corrupt the stream. */
    if (s->sp_on)
        return dc__err_set(err, DC_EMISUSE,
                           "storage: savepoints do not nest (the log's last chunk keeps one copy)");
    s->sp_on = true;
    s->sp_outer = sqlite3_get_autocommit(s->db) != 0;
    s->sp_lt_on = s->lt_on;
    if (!s->lt_on)
        return 0;
    if (!s->sp && !(s->sp = dc__malloc((size_t)s->log_chunk))) {
        s->sp_on = false;
        return dc__err_set(err, DC_ENOMEM, "change log: out of memory");
    }
    s->sp_n = s->lt_n;
    s->sp_len = s->lt_len;
    s->sp_stored = s->lt_stored;
    s->sp_broken = s->lt_broken;
    memcpy(s->sp, s->lt, (size_t)s->lt_len);
    return 0;
}

void dc__store_tail_unmark(dc__store *s) {
    s->sp_on = false;
}

void dc__store_tail_restore(dc__store *s) {
    if (!s->sp_on) {
        /* No copy to put back (no savepoint was marked): what the handle
         * holds may not match the rows any more, so the transaction can
         * only roll back. */
        if (s->lt_on)
            s->lt_broken = true;
        return;
    }
    s->sp_on = false;
    s->lt_on = s->sp_lt_on;
    if (!s->lt_on)
        return;
    s->lt_n = s->sp_n;
    s->lt_len = s->sp_len;
    s->lt_stored = s->sp_stored;
    s->lt_broken = s->sp_broken;
    memcpy(s->lt, s->sp, (size_t)s->sp_len);
}

int dc__store_env(dc__store *s, int64_t off, int64_t len, const uint8_t **env, dc__err *err) {
    int64_t c = 0;
    int rc = log_chunk(s, &c, err);
    if (rc)
        return rc;
    if (off < 0 || len <= 0 || len > INT32_MAX || off > INT64_MAX - len)
        return dc__err_set(err, DC_ECORRUPT, "change log: an envelope's place is out of range");
    dc__buf_clear(&s->envbuf);
    if (dc__buf_reserve(&s->envbuf, (size_t)len))
        return dc__err_set(err, DC_ENOMEM, "change log: out of memory");
    tail_check(s);
    for (int64_t n = off / c; n <= (off + len - 1) / c; n++) {
        const uint8_t *p;
        int64_t have;
        if (s->lt_on && n >= s->lt_n) {
            /* The last chunk, in memory (appended in this transaction). */
            p = s->lt;
            have = n == s->lt_n ? s->lt_len : 0;
        } else {
            if ((rc = log_seek(s, n, err)))
                return rc;
            sqlite3_stmt *st = s->q[Q_LOG_READ];
            p = sqlite3_column_blob(st, 1);
            have = sqlite3_column_bytes(st, 1);
        }
        int64_t from = (off > n * c ? off : n * c) - n * c;
        int64_t to = (off + len < (n + 1) * c ? off + len : (n + 1) * c) - n * c;
        if (to > have) {
            dc__store_env_done(s);
            return dc__err_set(err, DC_ECORRUPT, "change log: an envelope runs past the stream");
        }
        if (dc__buf_put(&s->envbuf, p + from, (size_t)(to - from)))
            return dc__err_set(err, DC_ENOMEM, "change log: out of memory");
    }
    *env = s->envbuf.ptr;
    return 0;
}

/* Appends n bytes to the stream; *off is where they start.  They go to the
 * last chunk in memory; each chunk they fill is written whole. */
static int log_append(dc__store *s, const uint8_t *p, size_t n, int64_t *off, dc__err *err) {
    int64_t c = 0;
    int rc = log_chunk(s, &c, err);
    if (rc)
        return rc;
    tail_check(s);
    if (!s->lt_on && (rc = tail_load(s, c, err)))
        return rc;
    if (s->lt_broken)
        return dc__err_set(err, DC_EIO,
                           "change log: an earlier write of the stream failed; the transaction "
                           "is rolled back");
    *off = s->lt_n * c + s->lt_len;
    while (!rc && n) {
        size_t k = (size_t)(c - s->lt_len) < n ? (size_t)(c - s->lt_len) : n;
        if (s->lt_len + (int64_t)k < c) {
            memcpy(s->lt + s->lt_len, p, k);
            s->lt_len += (int64_t)k;
            break;
        }
        /* The chunk fills: written whole, straight from p when it is all
         * new bytes. */
        if (s->lt_len == 0) {
            rc = chunk_write(s, s->lt_n, false, p, k, err);
        } else {
            memcpy(s->lt + s->lt_len, p, k);
            rc = chunk_write(s, s->lt_n, s->lt_stored >= 0, s->lt, (size_t)c, err);
        }
        if (rc) {
            s->lt_broken = true;
            break;
        }
        s->lt_n++;
        s->lt_len = 0;
        s->lt_stored = -1;
        p += k;
        n -= k;
    }
    /* Outside a transaction (no caller does this today), each statement
     * commits at once: the rest is written now. */
    if (!rc && sqlite3_get_autocommit(s->db)) {
        rc = dc__store_tail_flush(s, err);
        dc__store_tail_forget(s);
    }
    return rc;
}

/* One int64 from a cached one-row query of one parameter; *v unchanged
 * when there is no row. */
static int q_i64(dc__store *s, int which, const char *sql, int64_t a, int64_t *v, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, which, sql, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, a);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else if (r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "change log");
    sqlite3_reset(st);
    return rc;
}

/* The change at (off, len) has left the log: the chunks it covered that
 * no live change overlaps go.  Offsets grow with cno, so only the nearest
 * live change before and after can share a chunk with it; the stream's
 * last chunk stays (the next append continues it, and no offset is ever
 * given twice). */
static int log_free(dc__store *s, int64_t cno, int64_t off, int64_t len, dc__err *err) {
    int64_t c = 0, prev_end = 0, next_off = INT64_MAX;
    int rc = log_chunk(s, &c, err);
    if (!rc)
        rc = q_i64(s, Q_LOG_PREV,
                   "SELECT off + len FROM changes WHERE cno < ?1 ORDER BY cno DESC LIMIT 1", cno,
                   &prev_end, err);
    if (!rc)
        rc = q_i64(s, Q_LOG_NEXT, "SELECT off FROM changes WHERE cno > ?1 ORDER BY cno LIMIT 1",
                   cno, &next_off, err);
    if (rc || len <= 0)
        return rc;
    int64_t lo = off / c, hi = (off + len - 1) / c;
    if (lo < (prev_end + c - 1) / c)
        lo = (prev_end + c - 1) / c;
    if (next_off != INT64_MAX && hi > next_off / c - 1)
        hi = next_off / c - 1;
    if (lo > hi)
        return 0;
    sqlite3_stmt *st = dc__q(s, Q_LOG_FREE,
                             "DELETE FROM logbytes WHERE n BETWEEN ?1 AND ?2 AND "
                             "n < (SELECT max(n) FROM logbytes)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "change log");
    sqlite3_reset(st);
    return rc;
}

int dc__store_change_put(dc__store *s, int64_t sid, const dc__envelope *e, const uint8_t id[32],
                         int64_t author_did, int state, int need, dc__err *err) {
    /* The bytes first: the change row is the last row inserted, so that
     * dc__store_last_cno is its number. */
    int64_t off = 0;
    int rc = log_append(s, e->raw, e->raw_len, &off, err);
    if (rc)
        return rc;
    sqlite3_stmt *st =
        dc__q(s, Q_CHANGE_PUT,
              "INSERT INTO changes(sid, hlc, hlc_max, cid, author, seq, kind, state, "
              "need, off, len) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)e->hlc_min);
    sqlite3_bind_int64(st, 3, (int64_t)e->hlc_max);
    sqlite3_bind_blob(st, 4, id, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, author_did);
    sqlite3_bind_int64(st, 6, (int64_t)e->seq);
    sqlite3_bind_int(st, 7, e->kind);
    sqlite3_bind_int(st, 8, state);
    sqlite3_bind_int(st, 9, need);
    sqlite3_bind_int64(st, 10, off);
    sqlite3_bind_int64(st, 11, (int64_t)e->raw_len);
    rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "change log");
    sqlite3_reset(st);
    if (!rc)
        rc = dc__store_fp_put(s, sid, e->hlc_min, id, e->kind, state, err);
    return rc;
}

int dc__store_change_state(dc__store *s, int64_t cno, int *state, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT state FROM changes WHERE cno = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "change log");
    sqlite3_bind_int64(st, 1, cno);
    int rc = sqlite3_step(st);
    *state = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    rc = rc == SQLITE_ROW ? 0 : dc__sql_err(s, err, "change log");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_record_insert(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id,
                            int64_t del_hlc, int64_t del_did, const void *state, size_t nstate,
                            int64_t nval, int64_t nev, int64_t *rid, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_REC_NEW,
                             "INSERT INTO rstate(del_hlc, del_did, state, nval, nev) "
                             "VALUES(?1, ?2, ?3, ?4, ?5)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, del_hlc);
    sqlite3_bind_int64(st, 2, del_did);
    if (state)
        sqlite3_bind_blob(st, 3, state, (int)nstate, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, nval);
    sqlite3_bind_int64(st, 5, nev);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "records");
    sqlite3_reset(st);
    if (rc)
        return rc;
    *rid = sqlite3_last_insert_rowid(s->db);
    uint32_t tno;
    if ((rc = dc__store_name_id(s, type->p, type->n, true, &tno, err)))
        return rc;
    if (!(st = dc__q(s, Q_RKEY_NEW, "INSERT INTO rkeys(sid, tno, id, rid) VALUES(?1, ?2, ?3, ?4)",
                     err)))
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, tno);
    sqlite3_bind_text(st, 3, id->p, (int)id->n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, *rid);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "records");
    sqlite3_reset(st);
    return rc;
}

int64_t dc__store_last_cno(dc__store *s) {
    return sqlite3_last_insert_rowid(s->db);
}

int dc__store_change_delete(dc__store *s, int64_t cno, dc__err *err) {
    dc__store_env_done(s);
    /* Freeing sees the stream as written: its last chunk included. */
    int rc0 = dc__store_tail_flush(s, err);
    if (rc0)
        return rc0;
    int64_t off = -1, len = 0;
    sqlite3_stmt *st = dc__q(s, Q_LOG_SPAN, "SELECT off, len FROM changes WHERE cno = ?1", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, cno);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW) {
        off = sqlite3_column_int64(st, 0);
        len = sqlite3_column_int64(st, 1);
    } else if (r != SQLITE_DONE) {
        rc = dc__sql_err(s, err, "change log");
    }
    sqlite3_reset(st);
    if (!rc)
        rc = exec_i64(s, "DELETE FROM pending WHERE cno = ?1", cno, 0, err);
    if (!rc)
        rc = exec_i64(s, "DELETE FROM changes WHERE cno = ?1", cno, 0, err);
    if (!rc && off >= 0)
        rc = log_free(s, cno, off, len, err);
    return rc;
}

int dc__store_change_set_state(dc__store *s, int64_t cno, int state, dc__err *err) {
    int rc = dc__store_fp_state(s, cno, state, err);
    return rc ? rc : exec_i64(s, "UPDATE changes SET state = ?2 WHERE cno = ?1", cno, state, err);
}

int dc__store_changes_in_state(dc__store *s, int64_t sid, int state, dc_hlc max_hlc,
                               dc__change_fn fn, void *user, dc__err *err) {
    /* Collect the row numbers first: fn changes the state column, and a
     * SELECT must not step over rows that are being updated under it. */
    sqlite3_stmt *st;
    /* Held, opaque and the other states but applied are found through the
     * partial index changes_pending, which SQLite uses only when the query
     * says `state <> 0` in so many words: without it this scanned the whole
     * log, at every slice of every import. */
    if (sqlite3_prepare_v2(s->db,
                           state != DC_CHANGE_APPLIED
                               ? "SELECT cno FROM changes WHERE state = ?1 AND state <> 0 AND "
                                 "hlc_max <= ?2 AND (?3 = 0 OR sid = ?3) ORDER BY sid, hlc, cid"
                               : "SELECT cno FROM changes WHERE state = ?1 AND hlc_max <= ?2 "
                                 "AND (?3 = 0 OR sid = ?3) ORDER BY sid, hlc, cid",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "change log");
    sqlite3_bind_int(st, 1, state);
    sqlite3_bind_int64(st, 2, max_hlc > (dc_hlc)INT64_MAX ? INT64_MAX : (int64_t)max_hlc);
    sqlite3_bind_int64(st, 3, sid);
    int64_t *cnos = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(cnos, n, cap)) {
            sqlite3_finalize(st);
            dc__free(cnos);
            return dc__err_set(err, DC_ENOMEM, "change log: out of memory");
        }
        cnos[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        dc__free(cnos);
        return dc__sql_err(s, err, "change log");
    }
    rc = 0;
    if (n && sqlite3_prepare_v2(s->db, "SELECT sid, off, len FROM changes WHERE cno = ?", -1, &st,
                                NULL) != SQLITE_OK) {
        dc__free(cnos);
        return dc__sql_err(s, err, "change log");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, cnos[i]);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = dc__sql_err(s, err, "change log");
            break;
        }
        /* Copy: fn may write, which ends the reader's buffer. */
        int64_t csid = sqlite3_column_int64(st, 0);
        size_t len = (size_t)sqlite3_column_int64(st, 2);
        const uint8_t *at;
        if ((rc = dc__store_env(s, sqlite3_column_int64(st, 1), (int64_t)len, &at, err)))
            break;
        uint8_t *env = dc__malloc(len);
        if (!env) {
            rc = dc__err_set(err, DC_ENOMEM, "change log: out of memory");
            break;
        }
        memcpy(env, at, len);
        dc__store_env_done(s);
        sqlite3_reset(st);
        rc = fn(user, cnos[i], csid, env, len);
        dc__free(env);
    }
    dc__store_env_done(s);
    if (n)
        sqlite3_finalize(st);
    dc__free(cnos);
    return rc;
}

int dc__store_export(dc__store *s, dc_buf *bundle, const uint8_t *space, dc__err *err) {
    static const char *const SQL[2] = {
        /* Membership travels whatever this replica judged it: the
         * resolution is a function of the set of membership envelopes, so
         * every replica must come to hold the same set. */
        ("SELECT c.off, c.len FROM changes c JOIN spaces p ON p.sid = c.sid WHERE c.kind = 2 AND "
         "c.state <> 3 AND (?1 IS NULL OR p.space_id = ?1) "
         "ORDER BY p.space_id, c.hlc, c.cid"),
        /* Rejected and unauthorised envelopes stay in the log (so they
         * are never fetched again) but are not passed on: a peer would
         * refuse or set them aside too. */
        ("SELECT c.off, c.len FROM spaces p JOIN changes c ON c.sid = p.sid WHERE c.kind = 1 AND "
         "c.state NOT IN (3, 4) AND (?1 IS NULL OR p.space_id = ?1) "
         "ORDER BY p.space_id, c.hlc, c.cid"),
    };
    /* Membership first, so a reader of the bundle knows who may write
     * before it meets the changes. */
    for (int pass = 0; pass < 2; pass++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, SQL[pass], -1, &st, NULL) != SQLITE_OK)
            return dc__sql_err(s, err, "export");
        if (space)
            sqlite3_bind_blob(st, 1, space, 16, SQLITE_STATIC);
        int rc, x = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const uint8_t *env;
            int64_t len = sqlite3_column_int64(st, 1);
            if ((x = dc__store_env(s, sqlite3_column_int64(st, 0), len, &env, err)))
                break;
            if (dc__bundle_add(bundle, env, (size_t)len)) {
                x = dc__err_set(err, DC_ENOMEM, "export: out of memory");
                break;
            }
        }
        dc__store_env_done(s);
        sqlite3_finalize(st);
        if (x)
            return x;
        if (rc != SQLITE_DONE)
            return dc__sql_err(s, err, "export");
    }
    return 0;
}

/* ---- sync support ---- */

int dc__store_space_items(dc__store *s, int64_t sid, dc__item_fn fn, void *user, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT hlc, cid FROM changes WHERE sid = ?1 AND state <> 3 AND "
                           "(state <> 4 OR kind = 2) UNION ALL SELECT hlc, cid FROM "
                           "covered_items WHERE sid = ?1 ORDER BY 1, 2",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "change log");
    sqlite3_bind_int64(st, 1, sid);
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 1) != 32) {
            rc = dc__err_set(err, DC_ECORRUPT, "change log: a change id of the wrong size");
            break;
        }
        rc = fn(user, (uint64_t)sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1));
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "change log");
    sqlite3_finalize(st);
    return rc;
}

/* An item asked for that the log no longer holds: one compacted away is
 * skipped (its effect is in the base; a peer that lacks it needs a snapshot,
 * docs/data-model.md "Compaction"), any other is an error. */
static int covered_item(dc__store *s, int64_t sid, uint64_t hlc, const uint8_t id[32],
                        dc__err *err) {
    bool held;
    int rc = dc__store_covered_has(s, sid, hlc, id, &held, err);
    if (!rc && !held)
        rc = dc__err_set(err, DC_ENOTFOUND, "sync: a change to send is no longer held");
    return rc;
}

int dc__store_bundle_add_item(dc__store *s, dc_buf *bundle, int64_t sid, uint64_t hlc,
                              const uint8_t id[32], dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_ENV_BY_ITEM,
                             "SELECT off, len FROM changes WHERE sid = ? AND "
                             "hlc = ? AND cid = ?",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)hlc);
    sqlite3_bind_blob(st, 3, id, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    const uint8_t *env;
    if (r == SQLITE_ROW) {
        int64_t len = sqlite3_column_int64(st, 1);
        rc = dc__store_env(s, sqlite3_column_int64(st, 0), len, &env, err);
        if (!rc && dc__bundle_add(bundle, env, (size_t)len))
            rc = dc__err_set(err, DC_ENOMEM, "sync: out of memory");
        dc__store_env_done(s);
    } else if (r == SQLITE_DONE)
        rc = covered_item(s, sid, hlc, id, err);
    else
        rc = dc__sql_err(s, err, "change log");
    sqlite3_reset(st);
    return rc;
}

static int spaces_query(dc__store *s, const char *sql, const uint8_t *dev, dc__space_fn fn,
                        void *user, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "spaces");
    if (dev)
        sqlite3_bind_blob(st, 1, dev, 32, SQLITE_STATIC);
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        uint8_t id[16];
        memcpy(id, sqlite3_column_blob(st, 0), 16);
        rc = fn(user, id);
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "spaces");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_spaces_each(dc__store *s, dc__space_fn fn, void *user, dc__err *err) {
    return spaces_query(s,
                        "SELECT p.space_id FROM spaces p WHERE p.consent = 2 AND "
                        "EXISTS(SELECT 1 FROM space_keys k "
                        "WHERE k.sid = p.sid) ORDER BY p.space_id",
                        NULL, fn, user, err);
}

int dc__store_spaces_known(dc__store *s, dc__space_fn fn, void *user, dc__err *err) {
    return spaces_query(s, "SELECT space_id FROM spaces ORDER BY space_id", NULL, fn, user, err);
}

int dc__store_spaces_of(dc__store *s, const uint8_t device[32], dc__space_fn fn, void *user,
                        dc__err *err) {
    return spaces_query(s,
                        "SELECT p.space_id FROM spaces p JOIN members m ON m.sid = p.sid JOIN "
                        "devices d ON d.did = m.did WHERE d.pk = ?1 AND m.role > 0 "
                        "ORDER BY p.space_id",
                        device, fn, user, err);
}

/* ---- meta values and acknowledgements ---- */

int dc__store_meta_get(dc__store *s, const char *key, int64_t *v, dc__err *err) {
    sqlite3_stmt *st;
    *v = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = r == SQLITE_DONE ? DC_ENOTFOUND : dc__sql_err(s, err, "meta");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_meta_put(dc__store *s, const char *key, int64_t v, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "meta");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_meta_blob_put(dc__store *s, const char *key, const uint8_t *p, size_t n,
                            dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, p, (int)n, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "meta");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_meta_blob_get(dc__store *s, const char *key, uint8_t *p, size_t n, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB &&
        (size_t)sqlite3_column_bytes(st, 0) == n) {
        memcpy(p, sqlite3_column_blob(st, 0), n);
        rc = 0;
    } else {
        rc = r == SQLITE_ROW || r == SQLITE_DONE ? DC_ENOTFOUND : dc__sql_err(s, err, "meta");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_changes_reset_opaque(dc__store *s, int64_t sid, dc__err *err) {
    return exec_i64(s, "UPDATE changes SET state = 2 WHERE sid = ?1 AND kind = 1 AND state = ?2",
                    sid, DC_CHANGE_APPLIED, err);
}

/* Text values in the same table (the sync client's last failure reason:
 * a sentence, so not an integer). */
int dc__store_meta_get_text(dc__store *s, const char *key, dc_buf *out, dc__err *err) {
    sqlite3_stmt *st;
    dc__buf_clear(out);
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        rc =
            dc__buf_put(out, t ? t : (const unsigned char *)"", (size_t)sqlite3_column_bytes(st, 0))
                ? dc__err_set(err, DC_ENOMEM, "out of memory")
                : 0;
    } else {
        rc = r == SQLITE_DONE ? DC_ENOTFOUND : dc__sql_err(s, err, "meta");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_meta_put_text(dc__store *s, const char *key, const char *v, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "meta");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_mark_acked(dc__store *s, int64_t sid, uint64_t seq, dc__err *err) {
    /* meta key "acked:<space hex>" = the last sequence number the relay is
     * known to hold durably (meta is a key/value table: no schema change). */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO meta(key, value) SELECT 'acked:' || "
                           "lower(hex(space_id)), max(?2, coalesce((SELECT value FROM meta "
                           "WHERE key = 'acked:' || lower(hex(space_id))), 0)) FROM spaces "
                           "WHERE sid = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "meta");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_int64(st, 2, (int64_t)seq);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "meta");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_space_solo(dc__store *s, const uint8_t space[16], const uint8_t device[32],
                         bool *solo, dc__err *err) {
    sqlite3_stmt *st;
    *solo = true;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 1 FROM spaces p JOIN members m ON m.sid = p.sid "
                           "WHERE p.space_id = ?1 AND m.role > 0 AND m.did NOT IN "
                           "(SELECT did FROM devices WHERE pk = ?2) LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "quota");
    sqlite3_bind_blob(st, 1, space, 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, device, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW)
        *solo = false;
    else if (r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "quota");
    sqlite3_finalize(st);
    return rc;
}

/* One pass over the spaces (an index probe into members each), then the
 * device's envelopes in the solo ones by changes_by_author and their
 * objects by att_objects' (sid, oid) index. */
int dc__store_solo_bytes(dc__store *s, const uint8_t device[32], int64_t *bytes, dc__err *err) {
    sqlite3_stmt *st;
    *bytes = 0;
    if (sqlite3_prepare_v2(
            s->db,
            "WITH me(did) AS (SELECT did FROM devices WHERE pk = ?1), "
            "solo(sid) AS (SELECT p.sid FROM spaces p WHERE NOT EXISTS (SELECT 1 FROM members m "
            "  WHERE m.sid = p.sid AND m.role > 0 AND m.did NOT IN (SELECT did FROM me))) "
            "SELECT (SELECT COALESCE(SUM(c.len), 0) FROM solo JOIN changes c "
            "  ON c.sid = solo.sid AND c.author IN (SELECT did FROM me)) + "
            "(SELECT COALESCE(SUM(length(o.body)), 0) FROM solo JOIN att_objects o "
            "  ON o.sid = solo.sid WHERE EXISTS (SELECT 1 FROM members m JOIN me "
            "  ON m.did = me.did WHERE m.sid = solo.sid AND m.role > 0))",
            -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "quota");
    sqlite3_bind_blob(st, 1, device, 32, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW)
        *bytes = sqlite3_column_int64(st, 0);
    else
        rc = dc__sql_err(s, err, "quota");
    sqlite3_finalize(st);
    return rc;
}

int dc__store_space_devices(dc__store *s, const uint8_t space[16], dc__device_fn fn, void *user,
                            dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT d.pk FROM spaces p JOIN members m ON m.sid = p.sid "
                           "JOIN devices d ON d.did = m.did WHERE p.space_id = ? AND "
                           "m.role > 0 ORDER BY d.pk",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "members");
    sqlite3_bind_blob(st, 1, space, 16, SQLITE_STATIC);
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_bytes(st, 0) == 32)
            rc = fn(user, sqlite3_column_blob(st, 0));
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "members");
    sqlite3_finalize(st);
    return rc;
}
