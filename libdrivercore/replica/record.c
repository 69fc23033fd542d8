/*
 * Reading records: one, all of a type, or those whose field holds a value.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

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
