/*
 * The merge rules, applied to the materialised state (docs/data-model.md).
 *
 * Every op carries a clock (hlc_min of its change + its index, and the
 * author's key), so all ops of all devices are totally ordered.  Then:
 *   register  the field keeps the value with the greatest clock;
 *   set       an add is visible unless a remove named its tag (add-wins:
 *             a remove only names the adds its author had seen);
 *   event     kept once, keyed by its clock;
 *   delete    the record's delete clock is the greatest delete seen, and
 *             everything at or before it is purged and stays invisible.
 * Each rule is a max or a union over the set of ops, so any order of
 * arrival, with any duplicates, ends in the same rows.  A record is live
 * while it has at least one field value, set member or event.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/crdt.h"
#include "store/store_int.h"

#define STEP_DONE(st) (sqlite3_step(st) == SQLITE_DONE)

/* (h, pk) > (del_hlc, pk of del_did)? A record never deleted has del 0. */
static int after_delete(dc__store *s, dc_hlc h, const uint8_t pk[32], int64_t del_hlc,
                        int64_t del_did, bool *out, dc__err *err) {
    uint8_t dpk[32] = {0};
    /* The delete's author key is needed only to break a timestamp tie. */
    if ((int64_t)h == del_hlc && del_did) {
        int rc = dc__store_device_pk(s, del_did, dpk, err);
        if (rc)
            return rc;
    }
    *out = dc__clock_later(h, pk, (dc_hlc)del_hlc, dpk);
    return 0;
}

static bool str_eq(const char *c, const dc__str *s) {
    return c && strlen(c) == s->n && memcmp(c, s->p, s->n) == 0;
}

/* Finds (or creates) the record row, using the one-record cache. */
static int record(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id, bool create,
                  dc__err *err) {
    if (s->cache_rid && s->cache_sid == sid && str_eq(s->cache_type, type) &&
        str_eq(s->cache_id, id))
        return 0;
    dc__store_cache_reset(s);
    sqlite3_stmt *st = dc__q(s, Q_REC_GET,
                             "SELECT rid, del_hlc, del_did FROM records "
                             "WHERE sid = ? AND type = ? AND id = ?",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type->p, (int)type->n, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id->p, (int)id->n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->cache_rid = sqlite3_column_int64(st, 0);
        s->cache_del_hlc = sqlite3_column_int64(st, 1);
        s->cache_del_did = sqlite3_column_int64(st, 2);
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return dc__sql_err(s, err, "records");
    }
    sqlite3_reset(st);
    if (!s->cache_rid) {
        if (!create)
            return DC_ENOTFOUND;
        st = dc__q(s, Q_REC_PUT, "INSERT INTO records(sid, type, id) VALUES(?, ?, ?)", err);
        if (!st)
            return err->code;
        sqlite3_bind_int64(st, 1, sid);
        sqlite3_bind_text(st, 2, type->p, (int)type->n, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, id->p, (int)id->n, SQLITE_STATIC);
        if (!STEP_DONE(st))
            return dc__sql_err(s, err, "records");
        sqlite3_reset(st);
        s->cache_rid = sqlite3_last_insert_rowid(s->db);
        s->cache_del_hlc = s->cache_del_did = 0;
    }
    s->cache_sid = sid;
    s->cache_type = dc__strndup(type->p, type->n);
    s->cache_id = dc__strndup(id->p, id->n);
    if (!s->cache_type || !s->cache_id) {
        dc__store_cache_reset(s);
        return dc__err_set(err, DC_ENOMEM, "records: out of memory");
    }
    return 0;
}

static void bind_value(sqlite3_stmt *st, int col, const dc__value *v) {
    switch (v->kind) {
    case DC_BOOL:
    case DC_INT: sqlite3_bind_int64(st, col, v->num); break;
    case DC_STR: sqlite3_bind_text(st, col, v->str, (int)v->len, SQLITE_STATIC); break;
    default: sqlite3_bind_null(st, col);
    }
}

static int touch(dc__touched *t, int64_t rid) {
    if (!t)
        return 0;
    if (t->n && t->rids[t->n - 1] == rid)
        return 0;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        int64_t *p = dc__realloc(t->rids, nc * sizeof *p);
        if (!p)
            return DC_ENOMEM;
        t->rids = p;
        t->cap = nc;
    }
    t->rids[t->n++] = rid;
    return 0;
}

static int value_json(dc_buf *b, const dc__value *v) {
    switch (v->kind) {
    case DC_BOOL: return dc__buf_puts(b, v->num ? "true" : "false");
    case DC_INT: return dc__buf_printf(b, "%lld", (long long)v->num);
    case DC_STR: return dc__json_str(b, v->str, v->len);
    default: return dc__buf_puts(b, "null");
    }
}

typedef struct kv {
    const char *k;
    size_t kn;
    int which; /* index into the op's fields, or -1 @author, -2 @time */
} kv;

static int kv_cmp(const void *a, const void *b) {
    const kv *x = a, *y = b;
    size_t n = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kn > y->kn) - (x->kn < y->kn);
}

/* The stored form of an event: canonical JSON (keys sorted bytewise) with
 * the author and time added, so a dump prints it as stored. */
static int event_json(dc_buf *b, const dc__op *op, const uint8_t author[32], dc_hlc h) {
    kv *keys = dc__calloc((size_t)op->nfields + 2, sizeof *keys);
    if (!keys)
        return DC_ENOMEM;
    for (uint32_t i = 0; i < op->nfields; i++)
        keys[i] = (kv){op->keys[i].p, op->keys[i].n, (int)i};
    keys[op->nfields] = (kv){"@author", 7, -1};
    keys[op->nfields + 1] = (kv){"@time", 5, -2};
    size_t n = (size_t)op->nfields + 2;
    qsort(keys, n, sizeof *keys, kv_cmp);
    int rc = dc__buf_putc(b, '{');
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc |= dc__buf_putc(b, ',');
        rc |= dc__json_str(b, keys[i].k, keys[i].kn);
        rc |= dc__buf_putc(b, ':');
        if (keys[i].which == -1) {
            char hex[65];
            dc__hex(hex, author, 32);
            rc |= dc__json_str(b, hex, 64);
        } else if (keys[i].which == -2) {
            rc |= dc__buf_printf(b, "%lld", (long long)DC_HLC_MS(h));
        } else {
            rc |= value_json(b, &op->vals[keys[i].which]);
        }
    }
    rc |= dc__buf_putc(b, '}');
    dc__free(keys);
    return rc ? DC_ENOMEM : 0;
}

static int purge(dc__store *s, int which, const char *sql, int64_t rid, dc_hlc h,
                 const uint8_t pk[32], dc__err *err) {
    sqlite3_stmt *st = dc__q(s, which, sql, err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, (int64_t)h);
    sqlite3_bind_blob(st, 3, pk, 32, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "delete");
    sqlite3_reset(st);
    return rc;
}

static int apply_delete(dc__store *s, int64_t rid, dc_hlc h, const uint8_t pk[32], int64_t did,
                        dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_REC_DEL,
                             "UPDATE records SET del_hlc = ?, del_did = ? "
                             "WHERE rid = ?",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, (int64_t)h);
    sqlite3_bind_int64(st, 2, did);
    sqlite3_bind_int64(st, 3, rid);
    if (!STEP_DONE(st))
        return dc__sql_err(s, err, "delete");
    sqlite3_reset(st);
    s->cache_del_hlc = (int64_t)h;
    s->cache_del_did = did;
    int rc;
    if ((rc = purge(s, Q_PURGE_FIELDS,
                    "DELETE FROM fields WHERE rid = ?1 AND (hlc < ?2 OR (hlc = ?2 AND "
                    "(SELECT pk FROM devices WHERE did = fields.did) <= ?3))",
                    rid, h, pk, err)))
        return rc;
    if ((rc = purge(s, Q_PURGE_SETS,
                    "DELETE FROM set_adds WHERE rid = ?1 AND (hlc < ?2 OR (hlc = ?2 AND "
                    "(SELECT pk FROM devices WHERE did = set_adds.tag_did) <= ?3))",
                    rid, h, pk, err)))
        return rc;
    return purge(s, Q_PURGE_EVENTS,
                 "DELETE FROM events WHERE rid = ?1 AND (hlc < ?2 OR (hlc = ?2 AND "
                 "(SELECT pk FROM devices WHERE did = events.did) <= ?3))",
                 rid, h, pk, err);
}

/* The register set of an existing record in one statement: find the
 * record, check the op is after its delete clock, and upsert the field
 * last-writer-wins.  Two statements per op (lookup, then upsert) cost about
 * a third more than this on the write path, which is the bench's wall.
 * Returns 1 when a row was written, 0 when nothing was (record unknown,
 * op hidden by a delete, or an older write: the caller then takes the
 * general path, which tells these apart), or an error. */
static int set_fast(dc__store *s, int64_t sid, const dc__op *op, dc_hlc h, const uint8_t pk[32],
                    int64_t did, dc__err *err) {
    sqlite3_stmt *st = dc__q(
        s, Q_FIELD_FAST,
        "INSERT INTO fields(rid, field, kind, value, hlc, did) "
        "SELECT r.rid, ?4, ?5, ?6, ?7, ?8 FROM records r WHERE r.sid = ?1 AND r.type = ?2 AND "
        "r.id = ?3 AND (r.del_hlc < ?7 OR (r.del_hlc = ?7 AND ?9 > "
        "(SELECT pk FROM devices WHERE did = r.del_did))) "
        "ON CONFLICT(rid, field) DO UPDATE SET kind = excluded.kind, value = excluded.value, "
        "hlc = excluded.hlc, did = excluded.did WHERE excluded.hlc > fields.hlc OR "
        "(excluded.hlc = fields.hlc AND ?9 > (SELECT pk FROM devices WHERE did = fields.did))",
        err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, op->type.p, (int)op->type.n, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, op->id.p, (int)op->id.n, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, op->field.p, (int)op->field.n, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, op->val.kind);
    bind_value(st, 6, &op->val);
    sqlite3_bind_int64(st, 7, (int64_t)h);
    sqlite3_bind_int64(st, 8, did);
    sqlite3_bind_blob(st, 9, pk, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(s->db) > 0) : -1;
    sqlite3_reset(st);
    return rc < 0 ? dc__sql_err(s, err, "set") : rc;
}

int dc__store_apply(dc__store *s, int64_t sid, const dc__body *b, dc_hlc hlc_min,
                    const uint8_t author[32], int64_t author_did, uint64_t seq,
                    dc__touched *touched, dc__err *err) {
    dc_buf json = DC_BUF_INIT;
    int rc = 0;
    for (uint32_t i = 0; i < b->nops && !rc; i++) {
        const dc__op *op = &b->ops[i];
        dc_hlc h = hlc_min + i;
        /* Observers need the record's row id, which the fast path does not
         * return; without one, most sets finish here. */
        if (op->kind == DC_OP_SET && !touched) {
            rc = set_fast(s, sid, op, h, author, author_did, err);
            if (rc == 1) {
                rc = 0;
                continue;
            }
            if (rc)
                break;
        }
        if ((rc = record(s, sid, &op->type, &op->id, true, err)))
            break;
        int64_t rid = s->cache_rid;
        bool visible;
        if ((rc = after_delete(s, h, author, s->cache_del_hlc, s->cache_del_did, &visible, err)))
            break;
        sqlite3_stmt *st;
        switch (op->kind) {
        case DC_OP_SET:
            if (!visible)
                break;
            st = dc__q(s, Q_FIELD_UPSERT,
                       "INSERT INTO fields(rid, field, kind, value, hlc, did) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(rid, field) DO UPDATE SET "
                       "kind = excluded.kind, value = excluded.value, hlc = excluded.hlc, "
                       "did = excluded.did WHERE excluded.hlc > fields.hlc OR "
                       "(excluded.hlc = fields.hlc AND ?7 > "
                       "(SELECT pk FROM devices WHERE did = fields.did))",
                       err);
            if (!st) {
                rc = err->code;
                break;
            }
            sqlite3_bind_int64(st, 1, rid);
            sqlite3_bind_text(st, 2, op->field.p, (int)op->field.n, SQLITE_STATIC);
            sqlite3_bind_int(st, 3, op->val.kind);
            bind_value(st, 4, &op->val);
            sqlite3_bind_int64(st, 5, (int64_t)h);
            sqlite3_bind_int64(st, 6, author_did);
            sqlite3_bind_blob(st, 7, author, 32, SQLITE_STATIC);
            rc = STEP_DONE(st) ? touch(touched, rid) : dc__sql_err(s, err, "set");
            sqlite3_reset(st);
            break;
        case DC_OP_ADD: {
            if (!visible)
                break;
            st = dc__q(s, Q_SETRM_HAS,
                       "SELECT 1 FROM set_removed WHERE rid = ? AND field = ? AND "
                       "tag_did = ? AND tag_seq = ? AND tag_op = ?",
                       err);
            if (!st) {
                rc = err->code;
                break;
            }
            sqlite3_bind_int64(st, 1, rid);
            sqlite3_bind_text(st, 2, op->field.p, (int)op->field.n, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, author_did);
            sqlite3_bind_int64(st, 4, (int64_t)seq);
            sqlite3_bind_int64(st, 5, i);
            int r = sqlite3_step(st);
            sqlite3_reset(st);
            if (r == SQLITE_ROW)
                break; /* removed before it arrived */
            if (r != SQLITE_DONE) {
                rc = dc__sql_err(s, err, "add");
                break;
            }
            st = dc__q(s, Q_SETADD_PUT,
                       "INSERT OR IGNORE INTO set_adds(rid, field, kind, value, tag_did, tag_seq, "
                       "tag_op, hlc) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                       err);
            if (!st) {
                rc = err->code;
                break;
            }
            sqlite3_bind_int64(st, 1, rid);
            sqlite3_bind_text(st, 2, op->field.p, (int)op->field.n, SQLITE_STATIC);
            sqlite3_bind_int(st, 3, op->val.kind);
            bind_value(st, 4, &op->val);
            sqlite3_bind_int64(st, 5, author_did);
            sqlite3_bind_int64(st, 6, (int64_t)seq);
            sqlite3_bind_int64(st, 7, i);
            sqlite3_bind_int64(st, 8, (int64_t)h);
            rc = STEP_DONE(st) ? touch(touched, rid) : dc__sql_err(s, err, "add");
            sqlite3_reset(st);
            break;
        }
        case DC_OP_REMOVE:
            for (uint32_t t = 0; t < op->ntags && !rc; t++) {
                int64_t tdid;
                if ((rc = dc__store_device(s, op->tags[t].dev, &tdid, err)))
                    break;
                st = dc__q(s, Q_SETRM_PUT,
                           "INSERT OR IGNORE INTO set_removed(rid, field, tag_did, "
                           "tag_seq, tag_op) VALUES(?, ?, ?, ?, ?)",
                           err);
                if (!st) {
                    rc = err->code;
                    break;
                }
                sqlite3_bind_int64(st, 1, rid);
                sqlite3_bind_text(st, 2, op->field.p, (int)op->field.n, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, tdid);
                sqlite3_bind_int64(st, 4, (int64_t)op->tags[t].seq);
                sqlite3_bind_int64(st, 5, op->tags[t].op);
                rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "remove");
                sqlite3_reset(st);
                if (rc)
                    break;
                st = dc__q(s, Q_SETADD_DEL,
                           "DELETE FROM set_adds WHERE rid = ? AND field = ? AND "
                           "tag_did = ? AND tag_seq = ? AND tag_op = ?",
                           err);
                if (!st) {
                    rc = err->code;
                    break;
                }
                sqlite3_bind_int64(st, 1, rid);
                sqlite3_bind_text(st, 2, op->field.p, (int)op->field.n, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, tdid);
                sqlite3_bind_int64(st, 4, (int64_t)op->tags[t].seq);
                sqlite3_bind_int64(st, 5, op->tags[t].op);
                rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "remove");
                if (!rc && sqlite3_changes(s->db) > 0)
                    rc = touch(touched, rid);
                sqlite3_reset(st);
            }
            break;
        case DC_OP_EVENT:
            if (!visible)
                break;
            dc__buf_clear(&json);
            if (event_json(&json, op, author, h)) {
                rc = dc__err_set(err, DC_ENOMEM, "event: out of memory");
                break;
            }
            st = dc__q(s, Q_EVENT_PUT,
                       "INSERT OR IGNORE INTO events(rid, hlc, did, op, body) "
                       "VALUES(?, ?, ?, ?, ?)",
                       err);
            if (!st) {
                rc = err->code;
                break;
            }
            sqlite3_bind_int64(st, 1, rid);
            sqlite3_bind_int64(st, 2, (int64_t)h);
            sqlite3_bind_int64(st, 3, author_did);
            sqlite3_bind_int64(st, 4, i);
            sqlite3_bind_text(st, 5, (const char *)json.ptr, (int)json.size, SQLITE_STATIC);
            rc = STEP_DONE(st) ? touch(touched, rid) : dc__sql_err(s, err, "event");
            sqlite3_reset(st);
            break;
        case DC_OP_DELETE:
            if (!visible)
                break;
            rc = apply_delete(s, rid, h, author, author_did, err);
            if (!rc)
                rc = touch(touched, rid);
            break;
        default: rc = dc__err_set(err, DC_ECORRUPT, "op %u: unknown kind %d", i, op->kind);
        }
        if (rc == DC_ENOMEM && err->code != DC_ENOMEM)
            dc__err_set(err, DC_ENOMEM, "apply: out of memory");
    }
    dc_buf_dispose(&json);
    return rc;
}

int dc__store_observed_tags(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id,
                            const dc__str *field, const dc__value *v, dc__tag **tags,
                            uint32_t *ntags, dc__err *err) {
    *tags = NULL;
    *ntags = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT d.pk, a.tag_seq, a.tag_op FROM records r JOIN set_adds a ON "
            "a.rid = r.rid JOIN devices d ON d.did = a.tag_did WHERE r.sid = ? AND "
            "r.type = ? AND r.id = ? AND a.field = ? AND a.kind = ? AND a.value IS ?",
            -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "remove");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type->p, (int)type->n, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id->p, (int)id->n, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, field->p, (int)field->n, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, v->kind);
    bind_value(st, 6, v);
    int rc;
    uint32_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*ntags >= DC_REMOVE_MAX_TAGS) {
            sqlite3_finalize(st);
            dc__free(*tags);
            *tags = NULL;
            *ntags = 0;
            return dc__err_set(err, DC_ETOOBIG,
                               "remove: the value was added more than %u times; "
                               "a remove names at most that many adds",
                               DC_REMOVE_MAX_TAGS);
        }
        if (*ntags == cap) {
            uint32_t nc = cap ? cap * 2 : 4;
            dc__tag *p = dc__realloc(*tags, nc * sizeof *p);
            if (!p) {
                sqlite3_finalize(st);
                dc__free(*tags);
                *tags = NULL;
                *ntags = 0;
                return dc__err_set(err, DC_ENOMEM, "remove: out of memory");
            }
            *tags = p;
            cap = nc;
        }
        dc__tag *t = &(*tags)[(*ntags)++];
        memcpy(t->dev, sqlite3_column_blob(st, 0), 32);
        t->seq = (uint64_t)sqlite3_column_int64(st, 1);
        t->op = (uint32_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        dc__free(*tags);
        *tags = NULL;
        *ntags = 0;
        return dc__sql_err(s, err, "remove");
    }
    return 0;
}

int dc__store_record_name(dc__store *s, int64_t rid, char space_hex[33], dc_buf *type, dc_buf *id,
                          dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT p.space_id, r.type, r.id FROM records r JOIN spaces p "
                           "ON p.sid = r.sid WHERE r.rid = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "records");
    sqlite3_bind_int64(st, 1, rid);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        dc__hex(space_hex, sqlite3_column_blob(st, 0), 16);
        dc__buf_clear(type);
        dc__buf_clear(id);
        rc =
            dc__buf_put(type, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1)) ||
                    dc__buf_put(id, sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2))
                ? dc__err_set(err, DC_ENOMEM, "out of memory")
                : 0;
    } else {
        rc = dc__sql_err(s, err, "records");
    }
    sqlite3_finalize(st);
    return rc;
}

int dc__store_state_clear(dc__store *s, int64_t sid, dc__err *err) {
    static const char *const SQL[] = {
        "DELETE FROM fields WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "DELETE FROM set_adds WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "DELETE FROM set_removed WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        "DELETE FROM events WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        /* Rows stay (observers name them); their delete clocks go. */
        "UPDATE records SET del_hlc = 0, del_did = 0 WHERE sid = ?1",
    };
    dc__store_cache_reset(s);
    for (size_t i = 0; i < sizeof SQL / sizeof SQL[0]; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, SQL[i], -1, &st, NULL) != SQLITE_OK)
            return dc__sql_err(s, err, "rebuild");
        sqlite3_bind_int64(st, 1, sid);
        int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "rebuild");
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    return 0;
}

int dc__store_space_rids(dc__store *s, int64_t sid, dc__touched *t, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT rid FROM records WHERE sid = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "rebuild");
    sqlite3_bind_int64(st, 1, sid);
    int x, rc = 0;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW)
        if (touch(t, sqlite3_column_int64(st, 0)))
            rc = dc__err_set(err, DC_ENOMEM, "rebuild: out of memory");
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "rebuild");
    sqlite3_finalize(st);
    return rc;
}
