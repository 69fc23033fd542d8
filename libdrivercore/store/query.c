/*
 * Reads of the materialised state as canonical JSON: the dump, one record,
 * records of a type (optionally with a field equal to a value), status and
 * space listings.  "Canonical" means the bytes depend only on the state:
 * keys sorted bytewise, set members sorted by their JSON text, events in
 * clock order, so two replicas that hold the same changes print the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

typedef struct entry {
    char *key;
    size_t kn;
    char *json;
    size_t jn;
} entry;

typedef struct entries {
    entry *v;
    size_t n, cap;
} entries;

static void entries_free(entries *e) {
    for (size_t i = 0; i < e->n; i++) {
        dc__free(e->v[i].key);
        dc__free(e->v[i].json);
    }
    dc__free(e->v);
    memset(e, 0, sizeof *e);
}

static int entries_add(entries *e, const char *k, size_t kn, const char *j, size_t jn) {
    if (DC__VEC_ROOM(e->v, e->n, e->cap))
        return DC_ENOMEM;
    entry *x = &e->v[e->n];
    x->key = dc__strndup(k, kn);
    x->json = dc__strndup(j, jn);
    if (!x->key || !x->json) {
        dc__free(x->key);
        dc__free(x->json);
        return DC_ENOMEM;
    }
    x->kn = kn;
    x->jn = jn;
    e->n++;
    return 0;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int entry_key_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    return bytes_cmp(x->key, x->kn, y->key, y->kn);
}

static int entry_json_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    return bytes_cmp(x->json, x->jn, y->json, y->jn);
}

/* Every read of the state first folds what is pending (fold.c), so it sees
 * every change committed to the file before it began. */
#define FOLD_FIRST(s, err)                                                                         \
    do {                                                                                           \
        int frc_ = dc__store_fold((s), NULL, (err));                                               \
        if (frc_)                                                                                  \
            return frc_;                                                                           \
    } while (0)

/* The name of field number fid, for reads. */
static int fname(dc__store *s, uint32_t fid, const char **p, size_t *n, dc__err *err) {
    return dc__store_name_of(s, fid, p, n, err);
}

static bool has_reg(const dc__recdata *d, uint32_t fid) {
    for (size_t i = 0; i < d->nregs; i++)
        if (d->regs[i].fid == fid)
            return true;
    return false;
}

typedef struct evkey {
    const char *k;
    size_t kn;
    int which; /* index into the event's fields, or -1 @author, -2 @time */
} evkey;

static int evkey_cmp(const void *a, const void *b) {
    const evkey *x = a, *y = b;
    return bytes_cmp(x->k, x->kn, y->k, y->kn);
}

/* An event as canonical JSON: its fields with "@author" and "@time"
 * added, keys sorted bytewise (docs/data-model.md, "Events"). */
static int put_event(dc_buf *b, const dc__str *keys, const dc__value *vals, uint32_t nf,
                     const uint8_t *pk, int64_t ms) {
    evkey *ks = dc__calloc((size_t)nf + 2, sizeof *ks);
    if (!ks)
        return DC_ENOMEM;
    for (uint32_t i = 0; i < nf; i++)
        ks[i] = (evkey){keys[i].p, keys[i].n, (int)i};
    ks[nf] = (evkey){"@author", 7, -1};
    ks[nf + 1] = (evkey){"@time", 5, -2};
    qsort(ks, (size_t)nf + 2, sizeof *ks, evkey_cmp);
    int w = dc__buf_putc(b, '{');
    for (size_t i = 0; i < (size_t)nf + 2; i++) {
        if (i)
            w |= dc__buf_putc(b, ',');
        w |= dc__json_str(b, ks[i].k, ks[i].kn);
        w |= dc__buf_putc(b, ':');
        if (ks[i].which == -1) {
            char hex[65];
            dc__hex(hex, pk, 32);
            w |= dc__json_str(b, hex, 64);
        } else if (ks[i].which == -2) {
            w |= dc__buf_printf(b, "%lld", (long long)ms);
        } else {
            w |= dc__json_value(b, &vals[ks[i].which]);
        }
    }
    w |= dc__buf_putc(b, '}');
    dc__free(ks);
    return w ? DC_ENOMEM : 0;
}

int dc__store_event_json(dc_buf *b, const dc__rev *e) {
    return put_event(b, e->keys, e->vals, e->nf, e->author, e->time);
}

/* An event row (its stored body, author and clock) as canonical JSON. */
static int event_json(dc_buf *b, const void *body, size_t n, const uint8_t *pk, dc_hlc h,
                      dc__err *err) {
    dc__str *keys;
    dc__value *vals;
    uint32_t nf;
    int rc = dc__event_decode(body, n, &keys, &vals, &nf, err);
    if (rc)
        return rc;
    rc = put_event(b, keys, vals, nf, pk, (int64_t)DC_HLC_MS(h));
    dc__free(vals);
    return rc ? dc__err_set(err, DC_ENOMEM, "read: out of memory") : 0;
}

static const char *const SQL_EVENTS =
    "SELECT e.hlc, d.pk, e.body FROM events e JOIN devices d ON d.did = e.did WHERE e.rid = ? "
    "ORDER BY e.hlc, d.pk, e.op";

/* Appends the JSON object of one record (its `state` column is sp, sn, its
 * event count nev); *empty is set when it has no visible content (then
 * nothing is appended). */
static int record_json(dc__store *s, dc_buf *out, int64_t rid, const void *sp, size_t sn,
                       int64_t nev, bool *empty, dc__err *err) {
    entries top = {0}, members = {0};
    dc_buf tmp = DC_BUF_INIT;
    dc__recdata d;
    *empty = true;
    int rc = dc__recdata_decode(sp, sn, &d, err);
    if (rc)
        return rc;
    const char *name;
    size_t nn;
    for (size_t i = 0; i < d.nregs && !rc; i++) {
        dc__buf_clear(&tmp);
        if ((rc = fname(s, d.regs[i].fid, &name, &nn, err)))
            break;
        rc = dc__json_value(&tmp, &d.regs[i].val) ||
                     entries_add(&top, name, nn, (const char *)tmp.ptr, tmp.size)
                 ? DC_ENOMEM
                 : 0;
    }
    /* Sets: the adds of each field not shadowed by a register of the same
     * name, their distinct values sorted by JSON text. */
    for (size_t i = 0; i < d.nadds && !rc;) {
        size_t j = i;
        while (j < d.nadds && d.adds[j].fid == d.adds[i].fid)
            j++;
        if (!has_reg(&d, d.adds[i].fid)) {
            for (size_t k = i; k < j && !rc; k++) {
                dc__buf_clear(&tmp);
                rc = dc__json_value(&tmp, &d.adds[k].val) ||
                             entries_add(&members, "", 0, (const char *)tmp.ptr, tmp.size)
                         ? DC_ENOMEM
                         : 0;
            }
            if (!rc && !(rc = fname(s, d.adds[i].fid, &name, &nn, err))) {
                qsort(members.v, members.n, sizeof(entry), entry_json_cmp);
                dc__buf_clear(&tmp);
                int w = dc__buf_putc(&tmp, '[');
                for (size_t k = 0; k < members.n; k++) {
                    if (k && bytes_cmp(members.v[k].json, members.v[k].jn, members.v[k - 1].json,
                                       members.v[k - 1].jn) == 0)
                        continue;
                    if (tmp.size > 1)
                        w |= dc__buf_putc(&tmp, ',');
                    w |= dc__buf_put(&tmp, members.v[k].json, members.v[k].jn);
                }
                w |= dc__buf_putc(&tmp, ']');
                rc = w || entries_add(&top, name, nn, (const char *)tmp.ptr, tmp.size) ? DC_ENOMEM
                                                                                       : 0;
            }
            entries_free(&members);
        }
        i = j;
    }
    if (!rc && nev > 0) {
        sqlite3_stmt *st = dc__q(s, Q_JSON_EVENTS, SQL_EVENTS, err);
        if (!st) {
            rc = err->code;
        } else {
            sqlite3_bind_int64(st, 1, rid);
            int r;
            dc__buf_clear(&tmp);
            while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
                if (sqlite3_column_bytes(st, 1) != 32) {
                    rc = dc__err_set(err, DC_ECORRUPT, "read: an event's author is missing");
                    break;
                }
                rc = dc__buf_putc(&tmp, tmp.size ? ',' : '[') ? DC_ENOMEM : 0;
                if (!rc)
                    rc = event_json(&tmp, sqlite3_column_blob(st, 2),
                                    (size_t)sqlite3_column_bytes(st, 2), sqlite3_column_blob(st, 1),
                                    (dc_hlc)sqlite3_column_int64(st, 0), err);
            }
            if (!rc && r != SQLITE_DONE)
                rc = dc__sql_err(s, err, "read");
            sqlite3_reset(st);
            if (!rc && tmp.size)
                rc = dc__buf_putc(&tmp, ']') ||
                             entries_add(&top, "@events", 7, (const char *)tmp.ptr, tmp.size)
                         ? DC_ENOMEM
                         : 0;
        }
    }
    if (!rc && top.n) {
        *empty = false;
        qsort(top.v, top.n, sizeof(entry), entry_key_cmp);
        rc |= dc__buf_putc(out, '{');
        for (size_t i = 0; i < top.n; i++) {
            if (i)
                rc |= dc__buf_putc(out, ',');
            rc |= dc__json_str(out, top.v[i].key, top.v[i].kn);
            rc |= dc__buf_putc(out, ':');
            rc |= dc__buf_put(out, top.v[i].json, top.v[i].jn);
        }
        rc |= dc__buf_putc(out, '}');
    }
    if (rc == DC_ENOMEM || (rc && err->code != rc))
        rc = dc__err_set(err, DC_ENOMEM, "read: out of memory");
    dc__recdata_free(&d);
    entries_free(&top);
    entries_free(&members);
    dc_buf_dispose(&tmp);
    return rc;
}

int dc__store_dump(dc__store *s, dc_buf *out, const uint8_t *space, dc__err *err) {
    FOLD_FIRST(s, err);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT p.space_id, r.type, r.id, r.rid, r.state, r.nev FROM records r "
                           "JOIN spaces p ON p.sid = r.sid WHERE (?1 IS NULL OR p.space_id = ?1) "
                           "AND p.consent = 2 AND substr(r.type, 1, 1) <> '@' "
                           "ORDER BY p.space_id, r.type, r.id",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "dump");
    if (space)
        sqlite3_bind_blob(st, 1, space, 16, SQLITE_STATIC);
    dc__buf_clear(out);
    int rc = dc__buf_putc(out, '{') ? dc__err_set(err, DC_ENOMEM, "dump: out of memory") : 0;
    uint8_t cur_space[16];
    dc_buf cur_type = DC_BUF_INIT, rec = DC_BUF_INIT;
    bool have_space = false, have_type = false;
    int r = SQLITE_DONE;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        bool empty;
        dc__buf_clear(&rec);
        if ((rc = record_json(s, &rec, sqlite3_column_int64(st, 3), sqlite3_column_blob(st, 4),
                              (size_t)sqlite3_column_bytes(st, 4), sqlite3_column_int64(st, 5),
                              &empty, err)))
            break;
        if (empty)
            continue;
        const uint8_t *sp = sqlite3_column_blob(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        size_t tn = (size_t)sqlite3_column_bytes(st, 1);
        bool new_space = !have_space || memcmp(sp, cur_space, 16) != 0;
        bool new_type = new_space || !have_type ||
                        bytes_cmp((const char *)cur_type.ptr, cur_type.size, type, tn) != 0;
        int w = 0;
        if (new_space) {
            if (have_space)
                w |= dc__buf_puts(out, "}},");
            char hex[33];
            dc__hex(hex, sp, 16);
            w |= dc__json_str(out, hex, 32);
            w |= dc__buf_putc(out, ':');
            w |= dc__buf_putc(out, '{');
            memcpy(cur_space, sp, 16);
            have_space = true;
            have_type = false;
        }
        if (new_type) {
            if (have_type)
                w |= dc__buf_puts(out, "},");
            w |= dc__json_str(out, type, tn);
            w |= dc__buf_puts(out, ":{");
            dc__buf_clear(&cur_type);
            w |= dc__buf_put(&cur_type, type, tn);
            have_type = true;
        } else {
            w |= dc__buf_putc(out, ',');
        }
        w |= dc__json_str(out, (const char *)sqlite3_column_text(st, 2),
                          (size_t)sqlite3_column_bytes(st, 2));
        w |= dc__buf_putc(out, ':');
        w |= dc__buf_put(out, rec.ptr, rec.size);
        if (w)
            rc = dc__err_set(err, DC_ENOMEM, "dump: out of memory");
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "dump");
    sqlite3_finalize(st);
    if (!rc && ((have_space && dc__buf_puts(out, "}}")) || dc__buf_putc(out, '}')))
        rc = dc__err_set(err, DC_ENOMEM, "dump: out of memory");
    dc_buf_dispose(&cur_type);
    dc_buf_dispose(&rec);
    return rc;
}

int dc__store_record_json(dc__store *s, dc_buf *out, int64_t sid, const char *type, const char *id,
                          dc__err *err) {
    FOLD_FIRST(s, err);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT rid, state, nev FROM records WHERE sid = ? AND type = ? AND "
                           "id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "read");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = 0;
    bool empty = true;
    dc__buf_clear(out);
    if (r == SQLITE_ROW)
        rc = record_json(s, out, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                         (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_int64(st, 2), &empty,
                         err);
    else if (r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "read");
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (empty)
        return dc__err_set(err, DC_ENOTFOUND, "record %s/%s does not exist (or was deleted)", type,
                           id);
    return 0;
}

/* Does the record hold field fid = v: its register, or (no register of
 * that name) a member of its set? */
static bool matches(const dc__recdata *d, uint32_t fid, const dc__value *v) {
    for (size_t i = 0; i < d->nregs; i++)
        if (d->regs[i].fid == fid)
            return dc__value_eq(&d->regs[i].val, v);
    for (size_t i = 0; i < d->nadds; i++)
        if (d->adds[i].fid == fid && dc__value_eq(&d->adds[i].val, v))
            return true;
    return false;
}

int dc__store_list_json(dc__store *s, dc_buf *out, int64_t sid, const char *type, const char *field,
                        const dc__value *v, dc__err *err) {
    FOLD_FIRST(s, err);
    uint32_t fid = 0;
    bool none = false; /* a field no record has ever had matches nothing */
    if (field) {
        int x = dc__store_name_id(s, field, strlen(field), false, &fid, err);
        if (x == DC_ENOTFOUND)
            none = true;
        else if (x)
            return x;
    }
    sqlite3_stmt *st;
    /* A value index would cost a B-tree write per op on the hot path, so
     * find walks the records of the type and tests each
     * (docs/data-model.md). */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT rid, id, state, nev FROM records WHERE sid = ?1 AND type = ?2 "
                           "ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "read");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    dc__buf_clear(out);
    int rc = dc__buf_putc(out, '{') ? dc__err_set(err, DC_ENOMEM, "read: out of memory") : 0;
    int r = SQLITE_DONE;
    bool first = true;
    dc_buf rec = DC_BUF_INIT;
    while (!rc && !none && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rid = sqlite3_column_int64(st, 0);
        const void *sp = sqlite3_column_blob(st, 2);
        size_t sn = (size_t)sqlite3_column_bytes(st, 2);
        if (field) {
            dc__recdata d;
            if ((rc = dc__recdata_decode(sp, sn, &d, err)))
                break;
            bool hit = matches(&d, fid, v);
            dc__recdata_free(&d);
            if (!hit)
                continue;
        }
        bool empty;
        dc__buf_clear(&rec);
        if ((rc = record_json(s, &rec, rid, sp, sn, sqlite3_column_int64(st, 3), &empty, err)) ||
            empty)
            continue;
        int w = first ? 0 : dc__buf_putc(out, ',');
        first = false;
        w |= dc__json_str(out, (const char *)sqlite3_column_text(st, 1),
                          (size_t)sqlite3_column_bytes(st, 1));
        w |= dc__buf_putc(out, ':');
        w |= dc__buf_put(out, rec.ptr, rec.size);
        if (w)
            rc = dc__err_set(err, DC_ENOMEM, "read: out of memory");
    }
    if (!rc && !none && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "read");
    sqlite3_finalize(st);
    dc_buf_dispose(&rec);
    if (!rc && dc__buf_putc(out, '}'))
        rc = dc__err_set(err, DC_ENOMEM, "read: out of memory");
    return rc;
}

/* The string register `field` of a `state` column into out (cleared);
 * *found false when it has none. */
static int state_text(dc__store *s, const void *p, size_t n, const char *field, dc_buf *out,
                      bool *found, dc__err *err) {
    *found = false;
    dc__buf_clear(out);
    uint32_t fid;
    if (!n)
        return 0;
    int rc = dc__store_name_id(s, field, strlen(field), false, &fid, err);
    if (rc)
        return rc == DC_ENOTFOUND ? 0 : rc;
    dc__recdata d;
    if ((rc = dc__recdata_decode(p, n, &d, err)))
        return rc;
    for (size_t i = 0; i < d.nregs && !rc; i++)
        if (d.regs[i].fid == fid && d.regs[i].val.kind == DC_STR) {
            *found = true;
            if (dc__buf_put(out, d.regs[i].val.str, d.regs[i].val.len))
                rc = dc__err_set(err, DC_ENOMEM, "read: out of memory");
        }
    dc__recdata_free(&d);
    return rc;
}

static const char *role_name(int role) {
    return dc__role_name(role);
}

static const char *const CONSENT_NAME[] = {"carried", "invited", "accepted", "declined"};

int dc__store_space_list_json(dc__store *s, dc_buf *out, const uint8_t self[32], dc__err *err) {
    FOLD_FIRST(s, err);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT p.space_id, p.epoch, (SELECT m.role FROM members m JOIN devices d ON "
            "d.did = m.did WHERE m.sid = p.sid AND d.pk = ?1), EXISTS(SELECT 1 FROM space_keys k "
            "WHERE k.sid = p.sid AND k.epoch = p.epoch AND (p.kid IS NULL OR k.kid = p.kid)), "
            "CASE WHEN p.consent = 2 THEN (SELECT r.state FROM records r WHERE r.sid = p.sid "
            "AND r.type = '@space' AND r.id = 'meta') END, p.consent, "
            "(SELECT d.pk FROM devices d WHERE d.did = p.inviter) FROM spaces p "
            "ORDER BY p.space_id",
            -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "spaces");
    sqlite3_bind_blob(st, 1, self, 32, SQLITE_STATIC);
    dc__buf_clear(out);
    dc_buf name = DC_BUF_INIT;
    int w = dc__buf_putc(out, '['), r, rc = 0;
    bool first = true;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        char hex[33];
        bool named;
        dc__hex(hex, sqlite3_column_blob(st, 0), 16);
        w |= dc__buf_printf(out, "%s{\"space\":\"%s\",\"name\":", first ? "" : ",", hex);
        first = false;
        if ((rc = state_text(s, sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4),
                             "name", &name, &named, err)))
            break;
        if (named)
            w |= dc__json_str(out, (const char *)name.ptr, name.size);
        else
            w |= dc__buf_puts(out, "null");
        const char *rn =
            sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : role_name(sqlite3_column_int(st, 2));
        int consent = sqlite3_column_int(st, 5);
        w |= dc__buf_printf(out, ",\"role\":%s%s%s,\"epoch\":%lld,\"has_key\":%s,\"state\":\"%s\"",
                            rn ? "\"" : "", rn ? rn : "null", rn ? "\"" : "",
                            (long long)sqlite3_column_int64(st, 1),
                            sqlite3_column_int(st, 3) ? "true" : "false",
                            CONSENT_NAME[consent >= 0 && consent <= 3 ? consent : 0]);
        if (sqlite3_column_bytes(st, 6) == 32) {
            char inv[65];
            dc__hex(inv, sqlite3_column_blob(st, 6), 32);
            w |= dc__buf_printf(out, ",\"inviter\":\"%s\"", inv);
        }
        w |= dc__buf_putc(out, '}');
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "spaces");
    sqlite3_finalize(st);
    dc_buf_dispose(&name);
    if (rc)
        return rc;
    w |= dc__buf_putc(out, ']');
    return w ? dc__err_set(err, DC_ENOMEM, "out of memory") : 0;
}

int dc__store_members_json(dc__store *s, dc_buf *out, int64_t sid, dc__err *err) {
    FOLD_FIRST(s, err);
    sqlite3_stmt *st;
    /* A member's name is the register of its @member record, else the name
     * a version-1 grant carried. */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT d.pk, m.role, (SELECT r.state FROM records r WHERE "
                           "r.sid = m.sid AND r.type = '@member' AND r.id = lower(hex(d.pk))), "
                           "m.name FROM members m JOIN devices d ON d.did = m.did "
                           "WHERE m.sid = ? AND m.role > 0 ORDER BY d.pk",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "members");
    sqlite3_bind_int64(st, 1, sid);
    dc__buf_clear(out);
    dc_buf name = DC_BUF_INIT;
    int w = dc__buf_putc(out, '['), r, rc = 0;
    bool first = true;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        char hex[65];
        bool named;
        dc__hex(hex, sqlite3_column_blob(st, 0), 32);
        const char *rn = role_name(sqlite3_column_int(st, 1));
        w |= dc__buf_printf(out, "%s{\"device\":\"%s\",\"role\":\"%s\",\"name\":", first ? "" : ",",
                            hex, rn ? rn : "unknown");
        if ((rc = state_text(s, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
                             "name", &name, &named, err)))
            break;
        if (named)
            w |= dc__json_str(out, (const char *)name.ptr, name.size);
        else
            w |= dc__json_str(out, (const char *)sqlite3_column_text(st, 3),
                              (size_t)sqlite3_column_bytes(st, 3));
        w |= dc__buf_putc(out, '}');
        first = false;
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "members");
    sqlite3_finalize(st);
    dc_buf_dispose(&name);
    if (rc)
        return rc;
    w |= dc__buf_putc(out, ']');
    return w ? dc__err_set(err, DC_ENOMEM, "out of memory") : 0;
}

/* ,"set_aside":{"count":N,"recent":[{...}, ...]}: the items imports set
 * aside (docs/security.md), newest first, at most 10 listed. */
static int set_aside_json(dc__store *s, dc_buf *out, dc__err *err) {
    sqlite3_stmt *st;
    int64_t count = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM set_aside", -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "status");
    if (sqlite3_step(st) == SQLITE_ROW)
        count = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db,
                           "SELECT at_ms, space, author, seq, code, msg FROM set_aside "
                           "ORDER BY n DESC LIMIT 10",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "status");
    int w = dc__buf_printf(out, ",\"set_aside\":{\"count\":%lld,\"recent\":[", (long long)count);
    bool first = true;
    while (sqlite3_step(st) == SQLITE_ROW) {
        w |= dc__buf_printf(out, "%s{\"at_ms\":%lld", first ? "" : ",",
                            (long long)sqlite3_column_int64(st, 0));
        first = false;
        if (sqlite3_column_bytes(st, 1) == 16) {
            char hex[33];
            dc__hex(hex, sqlite3_column_blob(st, 1), 16);
            w |= dc__buf_printf(out, ",\"space\":\"%s\"", hex);
        }
        if (sqlite3_column_bytes(st, 2) == 32) {
            char hex[65];
            dc__hex(hex, sqlite3_column_blob(st, 2), 32);
            w |= dc__buf_printf(out, ",\"device\":\"%s\",\"seq\":%lld", hex,
                                (long long)sqlite3_column_int64(st, 3));
        }
        w |= dc__buf_printf(
            out, ",\"error\":\"%s\",\"message\":", dc_error_name(sqlite3_column_int(st, 4)));
        w |= dc__json_str(out, (const char *)sqlite3_column_text(st, 5),
                          (size_t)sqlite3_column_bytes(st, 5));
        w |= dc__buf_putc(out, '}');
    }
    sqlite3_finalize(st);
    w |= dc__buf_puts(out, "]}");
    return w ? DC_ENOMEM : 0;
}

int dc__store_status_json(dc__store *s, dc_buf *out, const uint8_t self[32], dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT p.space_id, (SELECT m.role FROM members m JOIN devices d ON d.did = m.did "
            "WHERE m.sid = p.sid AND d.pk = ?1), (SELECT count(*) FROM changes c WHERE "
            "c.sid = p.sid), (SELECT count(*) FROM changes c WHERE c.sid = p.sid AND c.state = 1), "
            "(SELECT count(*) FROM changes c WHERE c.sid = p.sid AND c.state = 2), "
            "(SELECT count(*) FROM changes c WHERE c.sid = p.sid AND c.state = 3), "
            "p.my_seq - coalesce((SELECT value FROM meta WHERE key = 'acked:' || "
            "lower(hex(p.space_id))), 0), "
            "(SELECT count(*) FROM changes c WHERE c.sid = p.sid AND c.state = 4), "
            "(SELECT count(*) FROM changes c WHERE c.sid = p.sid AND c.state = 5), "
            "p.consent, p.epoch FROM spaces p "
            "ORDER BY p.space_id",
            -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "status");
    sqlite3_bind_blob(st, 1, self, 32, SQLITE_STATIC);
    dc_hlc h = 0;
    dc__store_hlc_load(s, &h, err);
    char dev[65];
    dc__hex(dev, self, 32);
    dc__buf_clear(out);
    int64_t offset = 0, synced = 0;
    dc__store_meta_get(s, "clock_offset", &offset, err);
    bool have_sync = dc__store_meta_get(s, "relay_sync_ms", &synced, err) == 0;
    dc__err_clear(err);
    char last[32] = "null";
    if (have_sync)
        snprintf(last, sizeof last, "%lld", (long long)synced);
    int w = dc__buf_printf(out,
                           "{\"device\":\"%s\",\"encrypted\":%s,\"hlc\":%llu,"
                           "\"clock_offset_ms\":%lld,\"last_relay_sync_ms\":%s,\"spaces\":[",
                           dev, s->vfs ? "true" : "false", (unsigned long long)h, (long long)offset,
                           last),
        r;
    bool first = true;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char hex[33];
        dc__hex(hex, sqlite3_column_blob(st, 0), 16);
        const char *rn =
            sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : role_name(sqlite3_column_int(st, 1));
        int consent = sqlite3_column_int(st, 9);
        w |= dc__buf_printf(
            out,
            "%s{\"space\":\"%s\",\"role\":%s%s%s,\"changes\":%lld,"
            "\"held\":%lld,\"opaque\":%lld,\"rejected\":%lld,\"unacked\":%lld,"
            "\"unauthorised\":%lld,\"state\":\"%s\",\"epoch\":%lld,\"future\":%lld}",
            first ? "" : ",", hex, rn ? "\"" : "", rn ? rn : "null", rn ? "\"" : "",
            (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
            (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5),
            (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7),
            CONSENT_NAME[consent >= 0 && consent <= 3 ? consent : 0],
            (long long)sqlite3_column_int64(st, 10), (long long)sqlite3_column_int64(st, 8));
        first = false;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return dc__sql_err(s, err, "status");
    w |= dc__buf_putc(out, ']');
    if (!w)
        w = set_aside_json(s, out, err);
    if (w < 0 && w != DC_ENOMEM)
        return w;
    w |= dc__buf_putc(out, '}');
    return w ? dc__err_set(err, DC_ENOMEM, "out of memory") : 0;
}

/* ---- structured reads for the model layer ----
 *
 * A walk over a province's drivers reads hundreds of thousands of records,
 * so a record costs no allocation once the walk is warm: its strings (field
 * names, values, event keys) are copied, NUL-terminated, into an arena that
 * is emptied for the next record, and its fields and events go in arrays
 * kept for the whole walk.  Events are handed over typed (dc__rev), never as
 * JSON text the model would have to parse again. */

/* The order of field names, for registers in name order: the rank of each
 * field number among the names seen by this walk, computed again when a
 * new number appears (a handful of times per walk). */
typedef struct ranks {
    uint32_t *rank; /* by field number; 0: not ranked yet, else rank + 1 */
    size_t cap;
    uint32_t *fids; /* the numbers ranked */
    size_t n, cfids;
} ranks;

static const char *rank_name(dc__store *s, uint32_t fid) {
    const char *p = "";
    size_t n;
    dc__err e = {0};
    dc__store_name_of(s, fid, &p, &n, &e);
    return p;
}

static int rank_cmp_s(dc__store *s, uint32_t a, uint32_t b) {
    return strcmp(rank_name(s, a), rank_name(s, b));
}

static int rank_of(dc__store *s, ranks *k, uint32_t fid, uint32_t *out, dc__err *err) {
    if (fid < k->cap && k->rank[fid]) {
        *out = k->rank[fid] - 1;
        return 0;
    }
    const char *p;
    size_t n;
    int rc = dc__store_name_of(s, fid, &p, &n, err);
    if (rc)
        return rc;
    size_t had = k->cap;
    if (DC__VEC_RESERVE(k->rank, k->cap, (size_t)fid + 1))
        return DC_ENOMEM;
    memset(k->rank + had, 0, (k->cap - had) * sizeof *k->rank);
    if (DC__VEC_ROOM(k->fids, k->n, k->cfids))
        return DC_ENOMEM;
    /* Insert fid into the sorted list, then renumber. */
    size_t at = k->n;
    while (at > 0 && rank_cmp_s(s, k->fids[at - 1], fid) > 0) {
        k->fids[at] = k->fids[at - 1];
        at--;
    }
    k->fids[at] = fid;
    k->n++;
    for (size_t i = 0; i < k->n; i++)
        k->rank[k->fids[i]] = (uint32_t)i + 1;
    *out = (uint32_t)at;
    return 0;
}

typedef struct recbuf {
    dc__arena a;
    ranks rk;
    dc__rfield *f;
    uint32_t *frank; /* rank of each register's name, beside f */
    size_t nf, cap;
    dc__rev *ev;
    size_t ne, ecap;
    dc__str *keys; /* every event's keys, then values, by offset */
    dc__value *vals;
    size_t nkv, kvcap;
    uint8_t *authors; /* 32 bytes per event */
    size_t acap;
    uint8_t *state; /* a copy of the state column */
    size_t scap;
} recbuf;

static void recbuf_reset(recbuf *b) {
    dc__arena_reset(&b->a);
    b->nf = b->ne = b->nkv = 0;
}

static void recbuf_free(recbuf *b) {
    dc__arena_free(&b->a);
    dc__free(b->rk.rank);
    dc__free(b->rk.fids);
    dc__free(b->f);
    dc__free(b->frank);
    dc__free(b->ev);
    dc__free(b->keys);
    dc__free(b->vals);
    dc__free(b->authors);
    dc__free(b->state);
    memset(b, 0, sizeof *b);
}

static int add_field(recbuf *b, const char *name, size_t nn, const dc__value *v, bool member,
                     uint32_t rank) {
    /* Parallel arrays of one capacity: each grows from it to the same size;
     * b->cap moves once both have. */
    size_t cf = b->cap;
    if (DC__VEC_ROOM(b->f, b->nf, cf) || DC__VEC_ROOM(b->frank, b->nf, b->cap))
        return DC_ENOMEM;
    dc__rfield *f = &b->f[b->nf];
    memset(f, 0, sizeof *f);
    f->member = member;
    if (!(f->name = dc__arena_strndup(&b->a, name, nn)))
        return DC_ENOMEM;
    f->v = *v;
    /* Copied: strings NUL-terminated for the model, bytes kept with them. */
    if ((v->kind == DC_STR || v->kind == DC_BYTES) &&
        !(f->v.str = dc__arena_strndup(&b->a, v->str, v->len)))
        return DC_ENOMEM;
    b->frank[b->nf] = rank;
    b->nf++;
    return 0;
}

/* Appends the typed event of one events row (body n bytes, author pk,
 * clock h); its keys and values go in b->keys/b->vals from offset b->nkv,
 * and its pointers are set by fix_events once every event is read. */
static int add_event(recbuf *b, const void *body, size_t n, const uint8_t *pk, dc_hlc h,
                     dc__err *err) {
    dc__str *keys;
    dc__value *vals;
    uint32_t nf;
    int rc = dc__event_decode(body, n, &keys, &vals, &nf, err);
    if (rc)
        return rc;
    size_t ce = b->ecap; /* parallel arrays: as in add_field */
    if (DC__VEC_ROOM(b->ev, b->ne, ce) || dc__vec_reserve(&b->authors, &b->ecap, b->ne + 1, 32)) {
        dc__free(vals);
        return DC_ENOMEM;
    }
    size_t ck = b->kvcap; /* parallel arrays: as in add_field */
    if (DC__VEC_RESERVE(b->keys, ck, b->nkv + nf) ||
        DC__VEC_RESERVE(b->vals, b->kvcap, b->nkv + nf)) {
        dc__free(vals);
        return DC_ENOMEM;
    }
    dc__rev *e = &b->ev[b->ne];
    e->time = (int64_t)DC_HLC_MS(h);
    e->nf = nf;
    /* Offsets until every event is read (the arrays may still move). */
    e->keys = (const dc__str *)(uintptr_t)b->nkv;
    memcpy(b->authors + 32 * b->ne, pk, 32);
    for (uint32_t i = 0; i < nf && !rc; i++) {
        dc__str *k = &b->keys[b->nkv + i];
        dc__value *v = &b->vals[b->nkv + i];
        *v = vals[i];
        k->n = keys[i].n;
        if (!(k->p = dc__arena_strndup(&b->a, keys[i].p, keys[i].n)) ||
            ((v->kind == DC_STR || v->kind == DC_BYTES) &&
             !(v->str = dc__arena_strndup(&b->a, vals[i].str, vals[i].len))))
            rc = DC_ENOMEM;
    }
    dc__free(vals);
    if (rc)
        return rc;
    b->nkv += nf;
    b->ne++;
    return 0;
}

static void fix_events(recbuf *b) {
    for (size_t i = 0; i < b->ne; i++) {
        size_t at = (size_t)(uintptr_t)b->ev[i].keys;
        b->ev[i].keys = b->keys + at;
        b->ev[i].vals = b->vals + at;
        b->ev[i].author = b->authors + 32 * i;
    }
}

static int load_rec(dc__store *s, int64_t rid, const void *sp, size_t sn, int64_t nev, bool events,
                    recbuf *b, dc__err *err) {
    /* The state is copied first: decoding points into it, and the row's
     * memory belongs to SQLite. */
    if (sn > b->scap) {
        uint8_t *p = dc__realloc(b->state, sn);
        if (!p)
            return dc__err_set(err, DC_ENOMEM, "read: out of memory");
        b->state = p;
        b->scap = sn;
    }
    if (sn)
        memcpy(b->state, sp, sn);
    dc__recdata d;
    int rc = dc__recdata_decode(b->state, sn, &d, err);
    if (rc)
        return rc;
    const char *name;
    size_t nn;
    uint32_t rank = 0;
    /* Every name ranked first: ranking a new one renumbers the others. */
    for (size_t i = 0; i < d.nregs && !rc; i++)
        rc = rank_of(s, &b->rk, d.regs[i].fid, &rank, err);
    for (size_t i = 0; i < d.nregs && !rc; i++)
        if (!(rc = dc__store_name_of(s, d.regs[i].fid, &name, &nn, err)))
            rc = add_field(b, name, nn, &d.regs[i].val, false, b->rk.rank[d.regs[i].fid] - 1);
    /* Registers in name order (what the model has always been given). */
    for (size_t i = 1; i < b->nf && !rc; i++)
        for (size_t k = i; k > 0 && b->frank[k - 1] > b->frank[k]; k--) {
            dc__rfield t = b->f[k];
            uint32_t tr = b->frank[k];
            b->f[k] = b->f[k - 1];
            b->frank[k] = b->frank[k - 1];
            b->f[k - 1] = t;
            b->frank[k - 1] = tr;
        }
    /* Each distinct value of a set not shadowed by a register. */
    for (size_t i = 0; i < d.nadds && !rc; i++) {
        const dc__sadd *a = &d.adds[i];
        bool dup = has_reg(&d, a->fid);
        for (size_t k = 0; k < i && !dup; k++)
            dup = d.adds[k].fid == a->fid && dc__value_eq(&d.adds[k].val, &a->val);
        if (!dup && !(rc = dc__store_name_of(s, a->fid, &name, &nn, err)))
            rc = add_field(b, name, nn, &a->val, true, 0);
    }
    dc__recdata_free(&d);
    if (!rc && nev > 0 && events) {
        sqlite3_stmt *st = dc__q(s, Q_LOAD_EVENTS, SQL_EVENTS, err);
        if (!st) {
            rc = err->code;
        } else {
            /* Run to completion before the caller's callback, so that a
             * callback may itself read records. */
            sqlite3_bind_int64(st, 1, rid);
            int r = SQLITE_DONE;
            while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
                if (sqlite3_column_bytes(st, 1) != 32) {
                    rc = dc__err_set(err, DC_ECORRUPT, "read: an event's author is missing");
                    break;
                }
                rc =
                    add_event(b, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
                              sqlite3_column_blob(st, 1), (dc_hlc)sqlite3_column_int64(st, 0), err);
            }
            if (!rc && r != SQLITE_DONE && r != SQLITE_ROW)
                rc = dc__sql_err(s, err, "read");
            sqlite3_reset(st);
        }
    }
    if (!rc)
        fix_events(b);
    if (rc == DC_ENOMEM && err->code != DC_ENOMEM)
        return dc__err_set(err, DC_ENOMEM, "read: out of memory");
    return rc;
}

static const char *const SQL_EACH_ALL =
    "SELECT rid, type, id, state, nev FROM records WHERE sid = ?1 AND type = ?2 ORDER BY id";
static const char *const SQL_EACH_ONE =
    "SELECT rid, type, id, state, nev FROM records WHERE sid = ?1 AND type = ?2 AND id = ?3";

int dc__store_records_walk(dc__store *s, int64_t sid, const char *type, const char *id, bool events,
                           dc__rec_fn fn, void *user, dc__err *err) {
    FOLD_FIRST(s, err);
    /* Two statements, not "(?3 IS NULL OR id = ?3)": SQLite cannot use the
     * (sid, type, id) index for that disjunction and would scan the whole
     * type for every lookup of one record.  The cached one, unless a walk
     * further up (a callback reading records) is using it. */
    int which = id ? Q_EACH_ONE : Q_EACH_ALL;
    const char *sql = id ? SQL_EACH_ONE : SQL_EACH_ALL;
    sqlite3_stmt *st = NULL;
    bool own = s->q[which] && sqlite3_stmt_busy(s->q[which]);
    if (own) {
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
            return dc__sql_err(s, err, "read");
    } else if (!(st = dc__q(s, which, sql, err))) {
        return err->code;
    }
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    if (id)
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    recbuf b;
    memset(&b, 0, sizeof b);
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        recbuf_reset(&b);
        int64_t nev = sqlite3_column_int64(st, 4);
        if ((rc = load_rec(s, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 3),
                           (size_t)sqlite3_column_bytes(st, 3), nev, events, &b, err)))
            break;
        if (b.nf == 0 && b.ne == 0 && (events || nev == 0))
            continue; /* not live */
        const char *rtype = dc__arena_strndup(&b.a, sqlite3_column_text(st, 1),
                                              (size_t)sqlite3_column_bytes(st, 1));
        const char *rid = dc__arena_strndup(&b.a, sqlite3_column_text(st, 2),
                                            (size_t)sqlite3_column_bytes(st, 2));
        if (!rtype || !rid) {
            rc = dc__err_set(err, DC_ENOMEM, "read: out of memory");
            break;
        }
        dc__rec rec = {rtype, rid, b.nf, b.f, b.ne, b.ev};
        rc = fn(user, &rec);
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "read");
    if (own)
        sqlite3_finalize(st);
    else
        sqlite3_reset(st);
    recbuf_free(&b);
    return rc;
}

int dc__store_records_each(dc__store *s, int64_t sid, const char *type, const char *id,
                           dc__rec_fn fn, void *user, dc__err *err) {
    return dc__store_records_walk(s, sid, type, id, true, fn, user, err);
}

int dc__store_records_count(dc__store *s, int64_t sid, const char *type, uint64_t *n,
                            dc__err *err) {
    *n = 0;
    FOLD_FIRST(s, err);
    sqlite3_stmt *st = dc__q(s, Q_COUNT,
                             "SELECT count(*) FROM records WHERE sid = ?1 AND type = ?2 AND "
                             "(nval > 0 OR nev > 0)",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    else
        rc = dc__sql_err(s, err, "read");
    sqlite3_reset(st);
    return rc;
}

int dc__store_record_locate(dc__store *s, const char *type, const char *id, uint8_t space[16],
                            dc__err *err) {
    FOLD_FIRST(s, err);
    sqlite3_stmt *st =
        dc__q(s, Q_LOCATE,
              /* The accepted spaces in id order (the range on space_id
               * makes SQLite walk its index instead of sorting), one probe
               * of the (sid, type, id) index each, the key checked only
               * where the record is, stopping at the first space holding
               * it: a record held is found after half the probes on
               * average (about a third cheaper than probing every space
               * and sorting the hits, over 400 drivers of the generated
               * province). */
              "SELECT p.space_id FROM spaces p WHERE p.space_id >= x'' AND p.consent = 2 "
              "AND EXISTS(SELECT 1 FROM records r WHERE r.sid = p.sid AND r.type = ?1 AND "
              "r.id = ?2 AND (r.nval > 0 OR r.nev > 0)) AND "
              "EXISTS(SELECT 1 FROM space_keys k WHERE k.sid = p.sid) "
              "ORDER BY p.space_id LIMIT 1",
              err);
    if (!st)
        return err->code;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16) {
        memcpy(space, sqlite3_column_blob(st, 0), 16);
        rc = 0;
    } else {
        rc = r == SQLITE_DONE ? DC_ENOTFOUND : dc__sql_err(s, err, "read");
    }
    sqlite3_reset(st);
    return rc;
}

int dc__store_observed_tags(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id,
                            const dc__str *field, const dc__value *v, dc__tag **tags,
                            uint32_t *ntags, dc__err *err) {
    *tags = NULL;
    *ntags = 0;
    FOLD_FIRST(s, err);
    uint32_t fid;
    int rc = dc__store_name_id(s, field->p, field->n, false, &fid, err);
    if (rc)
        return rc == DC_ENOTFOUND ? 0 : rc; /* no record ever had the field */
    sqlite3_stmt *st = dc__q(
        s, Q_REGS_GET, "SELECT state FROM records WHERE sid = ? AND type = ? AND id = ?", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type->p, (int)type->n, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id->p, (int)id->n, SQLITE_STATIC);
    int r = sqlite3_step(st);
    dc__recdata d;
    memset(&d, 0, sizeof d);
    if (r == SQLITE_ROW)
        rc = dc__recdata_decode(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &d,
                                err);
    else if (r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "remove");
    uint32_t n = 0;
    size_t cap = 0;
    for (size_t i = 0; i < d.nadds && !rc; i++) {
        const dc__sadd *a = &d.adds[i];
        if (a->fid != fid || !dc__value_eq(&a->val, v))
            continue;
        if (n >= DC_REMOVE_MAX_TAGS) {
            rc = dc__err_set(err, DC_ETOOBIG,
                             "remove: the value was added more than %u times; "
                             "a remove names at most that many adds",
                             DC_REMOVE_MAX_TAGS);
            break;
        }
        if (DC__VEC_ROOM(*tags, n, cap)) {
            rc = dc__err_set(err, DC_ENOMEM, "remove: out of memory");
            break;
        }
        dc__tag *t = &(*tags)[n++];
        t->seq = a->seq;
        t->op = a->op;
        rc = dc__store_device_pk(s, a->did, t->dev, err);
    }
    sqlite3_reset(st);
    dc__recdata_free(&d);
    if (rc) {
        dc__free(*tags);
        *tags = NULL;
        return rc;
    }
    *ntags = n;
    return 0;
}
