/*
 * Value indexes: declared per (space, type, field), kept by the fold, read
 * by queries that filter on the field (docs/storage.md, "Value indexes";
 * docs/reading.md).
 *
 * An index is local: a declaration is this replica's physical design, not
 * data, so it is not synced; each device declares what its screens look up.
 * Its rows say which live records hold which value in the field — a
 * register's value, or each distinct member of a set (unless a register of
 * the same name hides the set, as reads do).  The fold rewrites a record's
 * rows whenever it saves the record's state; the declaration fills them
 * from the state at once.  Handles on one file see each other's
 * declarations through meta 'index_epoch', checked at every fold.
 */
#include <string.h>

#include "store/store_int.h"

typedef struct dc__ixdef {
    int64_t ix, sid;
    char *type;
    size_t ntype;
    uint32_t fid;
} dc__ixdef;

void dc__store_index_free(dc__store *s) {
    for (size_t i = 0; i < s->nix; i++)
        dc__free(s->ix[i].type);
    dc__free(s->ix);
    s->ix = NULL;
    s->nix = 0;
    s->ix_epoch = -1;
}

static int load(dc__store *s, int64_t epoch, dc__err *err) {
    dc__store_index_free(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT ix, sid, type, fid FROM ixdefs ORDER BY ix", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "indexes");
    int r, rc = 0;
    size_t cap = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (DC__VEC_ROOM(s->ix, s->nix, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "indexes: out of memory");
            break;
        }
        dc__ixdef *d = &s->ix[s->nix];
        d->ix = sqlite3_column_int64(st, 0);
        d->sid = sqlite3_column_int64(st, 1);
        d->ntype = (size_t)sqlite3_column_bytes(st, 2);
        d->fid = (uint32_t)sqlite3_column_int64(st, 3);
        if (!(d->type = dc__malloc(d->ntype + 1))) {
            rc = dc__err_set(err, DC_ENOMEM, "indexes: out of memory");
            break;
        }
        memcpy(d->type, sqlite3_column_text(st, 2), d->ntype);
        d->type[d->ntype] = 0;
        s->nix++;
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "indexes");
    sqlite3_finalize(st);
    if (rc)
        dc__store_index_free(s);
    else
        s->ix_epoch = epoch;
    return rc;
}

int dc__store_index_sync(dc__store *s, dc__err *err) {
    int64_t epoch = 0;
    int rc = dc__store_meta_get(s, "index_epoch", &epoch, err);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        epoch = 0;
    } else if (rc) {
        return rc;
    }
    if (epoch == s->ix_epoch)
        return 0;
    if (epoch == 0) { /* no index was ever declared: no index tables */
        dc__store_index_free(s);
        s->ix_epoch = 0;
        return 0;
    }
    return load(s, epoch, err);
}

/* The index tables, made by the first declaration (a replica that
 * declares none carries none); meta 'index_epoch' >= 1 says they exist. */
static const char *const TABLES =
    "CREATE TABLE IF NOT EXISTS ixdefs(ix INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
    "  type TEXT NOT NULL, fid INTEGER NOT NULL, UNIQUE (sid, type, fid));"
    "CREATE TABLE IF NOT EXISTS ixvals(ix INTEGER NOT NULL, k INTEGER NOT NULL, v,"
    "  rid INTEGER NOT NULL, id TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ixvals_v ON ixvals(ix, k, v);"
    "CREATE INDEX IF NOT EXISTS ixvals_rid ON ixvals(rid);";

int dc__store_index_clear_space(dc__store *s, int64_t sid, dc__err *err) {
    int rc = dc__store_index_sync(s, err);
    if (rc || s->ix_epoch <= 0)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db, "DELETE FROM ixvals WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)", -1,
            &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "index");
    sqlite3_bind_int64(st, 1, sid);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "index");
    sqlite3_finalize(st);
    return rc;
}

/* Binds a value as (kind, value) at 2 and 3. */
static void bind_value(sqlite3_stmt *st, const dc__value *v) {
    sqlite3_bind_int(st, 2, v->kind);
    switch (v->kind) {
    case DC_BOOL:
    case DC_INT: sqlite3_bind_int64(st, 3, v->num); break;
    case DC_FLOAT: sqlite3_bind_double(st, 3, dc__real(v)); break;
    case DC_STR: sqlite3_bind_text(st, 3, v->len ? v->str : "", (int)v->len, SQLITE_STATIC); break;
    case DC_BYTES:
        sqlite3_bind_blob(st, 3, v->len ? v->str : "", (int)v->len, SQLITE_STATIC);
        break;
    default: sqlite3_bind_null(st, 3);
    }
}

static int put(dc__store *s, int64_t ix, const dc__value *v, int64_t rid, const dc__str *id,
               dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_IX_PUT, "INSERT INTO ixvals(ix, k, v, rid, id) VALUES(?1, ?2, ?3, ?4, ?5)", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, ix);
    bind_value(st, v);
    sqlite3_bind_int64(st, 4, rid);
    sqlite3_bind_text(st, 5, id->p, (int)id->n, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "index");
    sqlite3_reset(st);
    return rc;
}

/* The rows of index `x` for record (rid, id) with state `d`. */
static int rows(dc__store *s, const dc__ixdef *x, int64_t rid, const dc__str *id,
                const dc__recdata *d, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_IX_DEL, "DELETE FROM ixvals WHERE ix = ?1 AND rid = ?2", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, x->ix);
    sqlite3_bind_int64(st, 2, rid);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dc__sql_err(s, err, "index");
    sqlite3_reset(st);
    bool reg = false;
    for (size_t i = 0; i < d->nregs && !rc; i++)
        if (d->regs[i].fid == x->fid) {
            reg = true;
            rc = put(s, x->ix, &d->regs[i].val, rid, id, err);
        }
    /* A set's distinct members, unless a register hides it. */
    for (size_t i = 0; i < d->nadds && !rc && !reg; i++) {
        if (d->adds[i].fid != x->fid)
            continue;
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = d->adds[k].fid == x->fid && dc__value_eq(&d->adds[k].val, &d->adds[i].val);
        if (!dup)
            rc = put(s, x->ix, &d->adds[i].val, rid, id, err);
    }
    return rc;
}

int dc__store_index_update(dc__store *s, int64_t rid, int64_t sid, const dc__str *type,
                           const dc__str *id, const dc__recdata *d, dc__err *err) {
    int rc = 0;
    for (size_t i = 0; i < s->nix && !rc; i++) {
        const dc__ixdef *x = &s->ix[i];
        if (x->sid == sid && x->ntype == type->n && memcmp(x->type, type->p, type->n) == 0)
            rc = rows(s, x, rid, id, d, err);
    }
    return rc;
}

/* The index of (sid, type, fid), or NULL. */
static const dc__ixdef *find(dc__store *s, int64_t sid, const char *type, uint32_t fid) {
    size_t n = strlen(type);
    for (size_t i = 0; i < s->nix; i++)
        if (s->ix[i].sid == sid && s->ix[i].fid == fid && s->ix[i].ntype == n &&
            memcmp(s->ix[i].type, type, n) == 0)
            return &s->ix[i];
    return NULL;
}

int dc__store_index_declare(dc__store *s, int64_t sid, const char *type, const char *field,
                            dc__err *err) {
    /* The state first: the index is filled from it. */
    int rc = dc__store_fold(s, NULL, err);
    if (rc || (rc = dc__store_begin(s, err)))
        return rc;
    uint32_t fid = 0;
    int64_t epoch = 0;
    sqlite3_stmt *st = NULL;
    if ((rc = dc__sql_exec(s, TABLES, err)) || (rc = dc__store_index_sync(s, err)) ||
        (rc = dc__store_name_id(s, field, strlen(field), true, &fid, err)))
        goto out;
    if (find(s, sid, type, fid))
        goto out; /* declared before: nothing to do */
    if (sqlite3_prepare_v2(s->db, "INSERT INTO ixdefs(sid, type, fid) VALUES(?1, ?2, ?3)", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = dc__sql_err(s, err, "index");
        goto out;
    }
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, fid);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = dc__sql_err(s, err, "index");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    dc__ixdef x = {sqlite3_last_insert_rowid(s->db), sid, (char *)type, strlen(type), fid};
    /* Filled from every record of the type as it stands. */
    if (sqlite3_prepare_v2(s->db, "SELECT rid, state, id FROM records WHERE sid = ?1 AND type = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = dc__sql_err(s, err, "index");
        goto out;
    }
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    int r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        if (!n)
            continue;
        dc__recdata d;
        if ((rc = dc__recdata_decode(sqlite3_column_blob(st, 1), n, &d, err)))
            break;
        dc__str id = {(const char *)sqlite3_column_text(st, 2),
                      (size_t)sqlite3_column_bytes(st, 2)};
        rc = rows(s, &x, sqlite3_column_int64(st, 0), &id, &d, err);
        dc__recdata_free(&d);
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "index");
    if (!rc)
        rc = dc__store_meta_get(s, "index_epoch", &epoch, err);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        rc = 0;
    }
    if (!rc)
        rc = dc__store_meta_put(s, "index_epoch", epoch + 1, err);
out:
    sqlite3_finalize(st);
    if (!rc)
        rc = dc__store_commit(s, err);
    else
        dc__store_rollback(s);
    /* Reloaded at the next use, from what is committed. */
    s->ix_epoch = -1;
    return rc;
}

int dc__store_index_lookup(dc__store *s, int64_t sid, const char *type, const char *field,
                           const dc__value *v, bool *indexed, dc__id_fn fn, void *user,
                           dc__err *err) {
    *indexed = false;
    int rc = dc__store_fold(s, NULL, err);
    if (rc || (rc = dc__store_index_sync(s, err)))
        return rc;
    uint32_t fid;
    rc = dc__store_name_id(s, field, strlen(field), false, &fid, err);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        return 0; /* a name never written: no index on it */
    }
    const dc__ixdef *x = rc || s->ix_epoch <= 0 ? NULL : find(s, sid, type, fid);
    if (!x)
        return rc;
    *indexed = true;
    /* The ids first, the statement done, then the callback: it reads
     * records itself. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT DISTINCT id FROM ixvals WHERE ix = ?1 AND k = ?2 AND v IS ?3 "
                           "ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "index");
    sqlite3_bind_int64(st, 1, x->ix);
    bind_value(st, v);
    dc_buf ids = DC_BUF_INIT;
    int r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
        if (dc__buf_put(&ids, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0)) ||
            dc__buf_putc(&ids, 0))
            rc = dc__err_set(err, DC_ENOMEM, "index: out of memory");
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "index");
    sqlite3_finalize(st);
    for (size_t at = 0; !rc && at < ids.size;) {
        const char *id = (const char *)ids.ptr + at;
        at += strlen(id) + 1;
        rc = fn(user, id);
    }
    dc_buf_dispose(&ids);
    return rc;
}

int dc__store_data_version(dc__store *s, int64_t *v, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "data version");
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else
        rc = dc__sql_err(s, err, "data version");
    sqlite3_finalize(st);
    return rc;
}
