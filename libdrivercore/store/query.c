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
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        entry *p = dc__realloc(e->v, nc * sizeof *p);
        if (!p)
            return DC_ENOMEM;
        e->v = p;
        e->cap = nc;
    }
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

/* An event row as canonical JSON: its fields with "@author" and "@time"
 * added, keys sorted bytewise (docs/data-model.md, "Events"). */
static int event_json(dc_buf *b, const void *body, size_t n, const uint8_t *pk, dc_hlc h,
                      dc__err *err) {
    dc__str *keys;
    dc__value *vals;
    uint32_t nf;
    int rc = dc__event_decode(body, n, &keys, &vals, &nf, err);
    if (rc)
        return rc;
    evkey *ks = dc__calloc((size_t)nf + 2, sizeof *ks);
    if (!ks) {
        dc__free(vals);
        return dc__err_set(err, DC_ENOMEM, "read: out of memory");
    }
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
            w |= dc__buf_printf(b, "%lld", (long long)DC_HLC_MS(h));
        } else {
            w |= dc__json_value(b, &vals[ks[i].which]);
        }
    }
    w |= dc__buf_putc(b, '}');
    dc__free(ks);
    dc__free(vals);
    return w ? dc__err_set(err, DC_ENOMEM, "read: out of memory") : 0;
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

/* ---- structured reads for the model layer ---- */

typedef struct recbuf {
    dc__rfield *f;
    size_t nf, cap;
    char **owned; /* every string the fields and events point to */
    size_t nowned, ocap;
    const char **events;
    size_t ne, ecap;
    dc_buf ev;
} recbuf;

static void recbuf_reset(recbuf *b) {
    for (size_t i = 0; i < b->nowned; i++)
        dc__free(b->owned[i]);
    b->nowned = b->nf = b->ne = 0;
}

static void recbuf_free(recbuf *b) {
    recbuf_reset(b);
    dc__free(b->f);
    dc__free(b->owned);
    dc__free(b->events);
    dc_buf_dispose(&b->ev);
    memset(b, 0, sizeof *b);
}

static const char *own_text(recbuf *b, const void *p, size_t n) {
    if (b->nowned == b->ocap) {
        size_t nc = b->ocap ? b->ocap * 2 : 32;
        char **o = dc__realloc(b->owned, nc * sizeof *o);
        if (!o)
            return NULL;
        b->owned = o;
        b->ocap = nc;
    }
    char *d = dc__strndup(p ? (const char *)p : "", p ? n : 0);
    if (d)
        b->owned[b->nowned++] = d;
    return d;
}

static int add_field(recbuf *b, const char *name, size_t nn, const dc__value *v, bool member) {
    if (b->nf == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16;
        dc__rfield *f = dc__realloc(b->f, nc * sizeof *f);
        if (!f)
            return DC_ENOMEM;
        b->f = f;
        b->cap = nc;
    }
    dc__rfield *f = &b->f[b->nf];
    memset(f, 0, sizeof *f);
    f->member = member;
    if (!(f->name = own_text(b, name, nn)))
        return DC_ENOMEM;
    f->v = *v;
    if (v->kind == DC_STR && !(f->v.str = own_text(b, v->str, v->len)))
        return DC_ENOMEM;
    b->nf++;
    return 0;
}

static int load_rec(dc__store *s, int64_t rid, const void *sp, size_t sn, int64_t nev, recbuf *b,
                    dc__err *err) {
    dc__recdata d;
    int rc = dc__recdata_decode(sp, sn, &d, err);
    if (rc)
        return rc;
    const char *name;
    size_t nn;
    size_t first = b->nf;
    for (size_t i = 0; i < d.nregs && !rc; i++)
        if (!(rc = dc__store_name_of(s, d.regs[i].fid, &name, &nn, err)))
            rc = add_field(b, name, nn, &d.regs[i].val, false);
    /* Registers in field order, as they were read before. */
    for (size_t i = first + 1; i < b->nf && !rc; i++)
        for (size_t k = i; k > first && strcmp(b->f[k - 1].name, b->f[k].name) > 0; k--) {
            dc__rfield t = b->f[k];
            b->f[k] = b->f[k - 1];
            b->f[k - 1] = t;
        }
    /* Each distinct value of a set not shadowed by a register. */
    for (size_t i = 0; i < d.nadds && !rc; i++) {
        const dc__sadd *a = &d.adds[i];
        bool dup = has_reg(&d, a->fid);
        for (size_t k = 0; k < i && !dup; k++)
            dup = d.adds[k].fid == a->fid && dc__value_eq(&d.adds[k].val, &a->val);
        if (!dup && !(rc = dc__store_name_of(s, a->fid, &name, &nn, err)))
            rc = add_field(b, name, nn, &a->val, true);
    }
    if (!rc && nev > 0) {
        sqlite3_stmt *st = dc__q(s, Q_LOAD_EVENTS, SQL_EVENTS, err);
        if (!st) {
            rc = err->code;
        } else {
            /* Cached: a walk over a province's drivers loads hundreds of
             * thousands of records.  Run to completion before the caller's
             * callback, so a callback may itself read records. */
            sqlite3_bind_int64(st, 1, rid);
            int r = SQLITE_DONE;
            while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
                if (b->ne == b->ecap) {
                    size_t nc = b->ecap ? b->ecap * 2 : 16;
                    const char **e = dc__realloc(b->events, nc * sizeof *e);
                    if (!e) {
                        rc = DC_ENOMEM;
                        break;
                    }
                    b->events = e;
                    b->ecap = nc;
                }
                if (sqlite3_column_bytes(st, 1) != 32) {
                    rc = dc__err_set(err, DC_ECORRUPT, "read: an event's author is missing");
                    break;
                }
                dc__buf_clear(&b->ev);
                if ((rc = event_json(
                         &b->ev, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
                         sqlite3_column_blob(st, 1), (dc_hlc)sqlite3_column_int64(st, 0), err)))
                    break;
                const char *t = own_text(b, b->ev.ptr, b->ev.size);
                if (!t)
                    rc = DC_ENOMEM;
                else
                    b->events[b->ne++] = t;
            }
            if (!rc && r != SQLITE_DONE)
                rc = dc__sql_err(s, err, "read");
            sqlite3_reset(st);
        }
    }
    dc__recdata_free(&d);
    if (rc == DC_ENOMEM && err->code != DC_ENOMEM)
        return dc__err_set(err, DC_ENOMEM, "read: out of memory");
    return rc;
}

int dc__store_records_each(dc__store *s, int64_t sid, const char *type, const char *id,
                           dc__rec_fn fn, void *user, dc__err *err) {
    FOLD_FIRST(s, err);
    /* Two statements, not "(?3 IS NULL OR id = ?3)": SQLite cannot use the
     * (sid, type, id) index for that disjunction and would scan the whole
     * type for every lookup of one record. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           id ? "SELECT rid, type, id, state, nev FROM records WHERE sid = ?1 "
                                "AND type = ?2 AND id = ?3"
                              : "SELECT rid, type, id, state, nev FROM records WHERE sid = ?1 "
                                "AND type = ?2 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "read");
    sqlite3_bind_int64(st, 1, sid);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    if (id)
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    recbuf b;
    memset(&b, 0, sizeof b);
    int r, rc = 0;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        recbuf_reset(&b);
        if ((rc = load_rec(s, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 3),
                           (size_t)sqlite3_column_bytes(st, 3), sqlite3_column_int64(st, 4), &b,
                           err)))
            break;
        if (b.nf == 0 && b.ne == 0)
            continue; /* not live */
        dc__rec rec = {(const char *)sqlite3_column_text(st, 1),
                       (const char *)sqlite3_column_text(st, 2),
                       b.nf,
                       b.f,
                       b.ne,
                       b.events};
        rc = fn(user, &rec);
    }
    if (!rc && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "read");
    sqlite3_finalize(st);
    recbuf_free(&b);
    return rc;
}

int dc__store_record_locate(dc__store *s, const char *type, const char *id, uint8_t space[16],
                            dc__err *err) {
    FOLD_FIRST(s, err);
    sqlite3_stmt *st =
        dc__q(s, Q_LOCATE,
              /* Spaces as the outer loop (CROSS JOIN fixes the order): each probe
               * then uses the (sid, type, id) index; the other order scans. */
              "SELECT p.space_id FROM spaces p CROSS JOIN records r ON r.sid = p.sid AND "
              "r.type = ?1 AND r.id = ?2 WHERE p.consent = 2 AND "
              "EXISTS(SELECT 1 FROM space_keys k WHERE k.sid = p.sid) "
              "AND "
              "(r.nval > 0 OR r.nev > 0) "
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
        dc__tag *p = dc__realloc(*tags, (n + 1) * sizeof *p);
        if (!p) {
            rc = dc__err_set(err, DC_ENOMEM, "remove: out of memory");
            break;
        }
        *tags = p;
        dc__tag *t = &p[n++];
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
