/*
 * Reading records: one, all of a type, or those whose field holds a value.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "replica/records.h"
#include "replica/replica_int.h"

/* The space, known: 0, or an error on the replica. */
static int lookup(dc_replica *r, const char *space, const char *type, dc__space *sp) {
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    if (!type)
        return dc__fail(r, DC_EMISUSE, "the type is NULL");
    if (dc__store_space_get(r->st, sid, sp, &r->err))
        return dc__fail_err(r, &r->err);
    return 0;
}

/* The space, known and accepted (readable). */
static int resolve(dc_replica *r, const char *space, const char *type, dc__space *sp) {
    int rc = lookup(r, space, type, sp);
    return rc ? rc : dc__space_readable(r, sp);
}

int dc_record_get(dc_buf *out, dc_replica *r, const char *space, const char *type, const char *id) {
    DC__CHECK(r);
    dc__space sp;
    if (!out || !id)
        return dc__fail(r, DC_EMISUSE, "record get: out and id must not be NULL");
    if (resolve(r, space, type, &sp))
        return r->err.code;
    int rc = dc__store_record_json(r->st, out, sp.sid, type, id, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_record_list(dc_buf *out, dc_replica *r, const char *space, const char *type) {
    DC__CHECK(r);
    dc__space sp;
    if (!out)
        return dc__fail(r, DC_EMISUSE, "record list: out is NULL");
    if (resolve(r, space, type, &sp))
        return r->err.code;
    int rc = dc__store_list_json(r->st, out, sp.sid, type, NULL, NULL, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

static int find(dc_buf *out, dc_replica *r, const char *space, const char *type, const char *field,
                const dc__value *v) {
    dc__space sp;
    if (!out || !field)
        return dc__fail(r, DC_EMISUSE, "record find: out and field must not be NULL");
    if (resolve(r, space, type, &sp))
        return r->err.code;
    int rc = dc__store_list_json(r->st, out, sp.sid, type, field, v, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_record_find(dc_buf *out, dc_replica *r, const char *space, const char *type,
                   const char *field, int kind, int64_t num, const char *str) {
    DC__CHECK(r);
    dc__value v = {kind, num, NULL, 0};
    if (kind == DC_STR) {
        if (!str)
            return dc__fail(r, DC_EMISUSE, "record find: the string value is NULL");
        v.str = str;
        v.len = (uint32_t)strlen(str);
    } else if (kind == DC_BOOL) {
        v.num = num != 0;
    } else if (kind == DC_FLOAT || kind == DC_BYTES) {
        return dc__fail(r, DC_EINVAL, "record find: a %s value goes through dc_record_find_value",
                        kind == DC_FLOAT ? "floating-point" : "bytes");
    } else if (kind != DC_NULL && kind != DC_INT) {
        return dc__fail(r, DC_EINVAL, "record find: unknown value kind %d", kind);
    }
    return find(out, r, space, type, field, &v);
}

int dc_record_find_value(dc_buf *out, dc_replica *r, const char *space, const char *type,
                         const char *field, const dc_value *in) {
    DC__CHECK(r);
    if (!in)
        return dc__fail(r, DC_EMISUSE, "record find: the value is NULL");
    dc__value v = {in->kind, in->num, in->ptr, (uint32_t)in->len};
    switch (in->kind) {
    case DC_NULL:
    case DC_INT: break;
    case DC_BOOL: v.num = in->num != 0; break;
    case DC_FLOAT:
        if (!isfinite(in->real))
            return dc__fail(r, DC_EINVAL, "record find: a float must be finite");
        v = dc__value_real(in->real);
        break;
    case DC_STR:
    case DC_BYTES:
        if ((!in->ptr && in->len) || in->len > DC_STR_MAX)
            return dc__fail(r, DC_EINVAL, "record find: the value's bytes are NULL or too long");
        break;
    default: return dc__fail(r, DC_EINVAL, "record find: unknown value kind %d", in->kind);
    }
    return find(out, r, space, type, field, &v);
}

/* ---- the model layer's interface (records.h) ---- */

/* The space, known: 0 or an error on the replica.  *held is false for a
 * space this device has not accepted: it feeds no domain logic, so to the
 * model it holds no records. */
static int model_space(dc_replica *r, const char *space, const char *type, dc__space *sp,
                       bool *held) {
    dc__err_clear(&r->err);
    *held = false;
    if (lookup(r, space, type, sp))
        return r->err.code;
    *held = sp->consent == DC_CONSENT_ACCEPTED;
    return 0;
}

static int walk(dc_replica *r, const char *space, const char *type, const char *id, bool events,
                dc__rec_fn fn, void *user) {
    dc__space sp;
    bool held;
    if (model_space(r, space, type, &sp, &held) || !held)
        return r->err.code;
    int rc = dc__store_records_walk(r->st, sp.sid, type, id, events, fn, user, &r->err);
    if (rc && r->err.code == 0)
        return rc; /* the callback's own code; it recorded its message */
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc__records_each(dc_replica *r, const char *space, const char *type, const char *id,
                     dc__rec_fn fn, void *user) {
    return walk(r, space, type, id, true, fn, user);
}

int dc__records_each_fields(dc_replica *r, const char *space, const char *type, const char *id,
                            dc__rec_fn fn, void *user) {
    return walk(r, space, type, id, false, fn, user);
}

int dc__records_snapshot(dc_replica *r, bool *began) {
    dc__err_clear(&r->err);
    int rc = dc__store_snapshot_begin(r->st, began, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

void dc__records_snapshot_end(dc_replica *r, bool began) {
    dc__store_snapshot_end(r->st, began);
}

int dc__records_count(dc_replica *r, const char *space, const char *type, uint64_t *n) {
    dc__space sp;
    bool held;
    *n = 0;
    if (model_space(r, space, type, &sp, &held) || !held)
        return r->err.code;
    int rc = dc__store_records_count(r->st, sp.sid, type, n, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

const dc__value *dc__rev_value(const dc__rev *e, const char *key) {
    size_t n = strlen(key);
    for (uint32_t i = 0; i < e->nf; i++)
        if (e->keys[i].n == n && memcmp(e->keys[i].p, key, n) == 0)
            return &e->vals[i];
    return NULL;
}

int dc__rev_json(dc_buf *b, const dc__rev *e) {
    return dc__store_event_json(b, e);
}

int dc__record_locate(dc_replica *r, const char *type, const char *id, char space[33]) {
    uint8_t sp[16];
    dc__err e = {0};
    int rc = dc__store_record_locate(r->st, type, id, sp, &e);
    if (rc == 0)
        dc__hex(space, sp, 16);
    else if (rc != DC_ENOTFOUND)
        dc__fail_err(r, &e);
    return rc;
}

const dc__value *dc__rec_value(const dc__rec *rec, const char *field) {
    for (size_t i = 0; i < rec->nf; i++)
        if (!rec->f[i].member && strcmp(rec->f[i].name, field) == 0)
            return &rec->f[i].v;
    return NULL;
}

typedef struct spaces_ctx {
    dc__space_hex_fn fn;
    void *user;
} spaces_ctx;

static int space_hex(void *user, const uint8_t id[16]) {
    spaces_ctx *c = user;
    char hex[33];
    dc__hex(hex, id, 16);
    return c->fn(c->user, hex);
}

int dc__spaces_each(dc_replica *r, dc__space_hex_fn fn, void *user) {
    spaces_ctx c = {fn, user};
    dc__err_clear(&r->err);
    int rc = dc__store_spaces_each(r->st, space_hex, &c, &r->err);
    if (rc && r->err.code == 0)
        return rc;
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc__space_subkey(dc_replica *r, const char *space, const char *context, uint8_t out[32]) {
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    dc__space sp;
    if (dc__store_space_get(r->st, sid, &sp, &r->err))
        return dc__fail_err(r, &r->err);
    /* Not accepted: its key is not opened here. */
    if (dc__space_readable(r, &sp))
        return r->err.code = DC_ENOKEY;
    /* The genesis key (epoch 0), which every member holds (later keys'
     * lockboxes carry it): derived keys, such as the lookup hash of an
     * identity number, stay the same across rotations. */
    const uint8_t *key = dc__space_key(r, sp.sid, 0, NULL, &r->err);
    if (!key)
        return dc__fail_err(r, &r->err);
    crypto_generichash(out, 32, (const uint8_t *)context, strlen(context), key, DC_SPACE_KEY);
    return 0;
}
