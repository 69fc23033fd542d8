/*
 * Field names as small integers (the `names` table, docs/storage.md): a
 * record's state stores each field's number, not its name, which repeats
 * in every record of a type.  Names are only ever added, so a number once
 * read stays right; the cache is forgotten on a rollback, which may have
 * taken away a name this handle added.
 */
#include <string.h>

#include "store/store_int.h"

static uint64_t name_hash(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

void dc__names_reset(dc__names *c) {
    for (size_t i = 0; i < c->cap; i++)
        dc__free(c->name[i]);
    dc__free(c->name);
    dc__free(c->len);
    dc__free(c->slot);
    memset(c, 0, sizeof *c);
}

/* Remembers fid <-> name (the name copied). */
static int remember(dc__names *c, uint32_t fid, const char *p, size_t n) {
    if (fid >= c->cap) {
        /* Parallel arrays of one capacity, each grown from it to the same
         * size; c->cap moves once both have, and the new slots are zeroed. */
        size_t had = c->cap, cn = had;
        if (DC__VEC_RESERVE(c->name, cn, (size_t)fid + 1) ||
            DC__VEC_RESERVE(c->len, c->cap, (size_t)fid + 1))
            return DC_ENOMEM;
        memset(c->name + had, 0, (c->cap - had) * sizeof *c->name);
        memset(c->len + had, 0, (c->cap - had) * sizeof *c->len);
    }
    if (c->name[fid])
        return 0;
    /* The hash table of names stays at most half full. */
    if ((c->count + 1) * 2 > c->nslot) {
        size_t ns = c->nslot ? c->nslot * 2 : 128;
        uint32_t *slot = dc__calloc(ns, sizeof *slot);
        if (!slot)
            return DC_ENOMEM;
        for (size_t i = 0; i < c->nslot; i++)
            if (c->slot[i]) {
                uint32_t f = c->slot[i] - 1;
                size_t at = (size_t)name_hash(c->name[f], c->len[f]) & (ns - 1);
                while (slot[at])
                    at = (at + 1) & (ns - 1);
                slot[at] = f + 1;
            }
        dc__free(c->slot);
        c->slot = slot;
        c->nslot = ns;
    }
    if (!(c->name[fid] = dc__strndup(p, n)))
        return DC_ENOMEM;
    c->len[fid] = (uint32_t)n;
    size_t at = (size_t)name_hash(p, n) & (c->nslot - 1);
    while (c->slot[at])
        at = (at + 1) & (c->nslot - 1);
    c->slot[at] = fid + 1;
    c->count++;
    return 0;
}

static bool cached(const dc__names *c, const char *p, size_t n, uint32_t *fid) {
    if (!c->nslot)
        return false;
    size_t at = (size_t)name_hash(p, n) & (c->nslot - 1);
    for (; c->slot[at]; at = (at + 1) & (c->nslot - 1)) {
        uint32_t f = c->slot[at] - 1;
        if (c->len[f] == n && memcmp(c->name[f], p, n) == 0) {
            *fid = f;
            return true;
        }
    }
    return false;
}

int dc__store_name_id(dc__store *s, const char *p, size_t n, bool create, uint32_t *fid,
                      dc__err *err) {
    if (cached(&s->names, p, n, fid))
        return 0;
    sqlite3_stmt *st = dc__q(s, Q_NAME_ID, "SELECT nid FROM names WHERE name = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, p, (int)n, SQLITE_STATIC);
    int r = sqlite3_step(st);
    int64_t nid = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return dc__sql_err(s, err, "names");
    if (nid < 0) {
        if (!create)
            return DC_ENOTFOUND;
        /* Numbered from 0, densely: the smallest msgpack integers. */
        st = dc__q(s, Q_NAME_PUT,
                   "INSERT INTO names(nid, name) VALUES((SELECT coalesce(max(nid) + 1, 0) "
                   "FROM names), ?)",
                   err);
        if (!st)
            return err->code;
        sqlite3_bind_text(st, 1, p, (int)n, SQLITE_STATIC);
        r = sqlite3_step(st);
        sqlite3_reset(st);
        if (r != SQLITE_DONE)
            return dc__sql_err(s, err, "names");
        nid = sqlite3_last_insert_rowid(s->db);
    }
    if (nid > (int64_t)UINT32_MAX - 1)
        return dc__err_set(err, DC_ECORRUPT, "names: number %lld out of range", (long long)nid);
    *fid = (uint32_t)nid;
    return remember(&s->names, *fid, p, n) ? dc__err_set(err, DC_ENOMEM, "names: out of memory")
                                           : 0;
}

int dc__store_name_of(dc__store *s, uint32_t fid, const char **p, size_t *n, dc__err *err) {
    dc__names *c = &s->names;
    if (fid < c->cap && c->name[fid]) {
        *p = c->name[fid];
        *n = c->len[fid];
        return 0;
    }
    sqlite3_stmt *st = dc__q(s, Q_NAME_OF, "SELECT name FROM names WHERE nid = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, fid);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW)
        rc = remember(c, fid, (const char *)sqlite3_column_text(st, 0),
                      (size_t)sqlite3_column_bytes(st, 0))
                 ? dc__err_set(err, DC_ENOMEM, "names: out of memory")
                 : 0;
    else
        rc = r == SQLITE_DONE
                 ? dc__err_set(err, DC_ECORRUPT, "names: field number %u is not named", fid)
                 : dc__sql_err(s, err, "names");
    sqlite3_reset(st);
    if (rc)
        return rc;
    *p = c->name[fid];
    *n = c->len[fid];
    return 0;
}
