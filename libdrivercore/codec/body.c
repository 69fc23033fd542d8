/*
 * The msgpack change body and membership body (docs/format/body.md).
 *
 * Decoding hostile bytes: msgpack-c allocates a container's elements from
 * the count the input claims, before reading them, so a few bytes claiming
 * four billion elements would ask for ~100 GB.  bounds_scan() therefore
 * walks the structure first and refuses any count larger than the bytes
 * left to hold it (every element takes at least one byte) and any nesting
 * deeper than the format uses; only then does msgpack-c build the objects.
 */
#include <math.h>
#include <string.h>
#include <msgpack.h>

#include "codec/codec.h"
#include "codec/mpack.h"

/* Version 1: null, bool, int and str values.  Version 2 adds float and
 * bin (DC_FLOAT, DC_BYTES); a writer uses 2 only for a change that holds
 * one, so that releases reading only 1 still apply the rest. */
#define BODY_VERSION_MAX DC_BODY_VERSION_MAX
#define MEMBER_VERSION DC_MEMBER_VERSION_MAX

/* SET, and in the test build of a future version its copy under kind 6. */
#ifdef DC_TEST_FUTURE
#define SET_LIKE(k) ((k) == DC_OP_SET || (k) == DC_OP_FUTURE_SET)
#else
#define SET_LIKE(k) ((k) == DC_OP_SET)
#endif
#define MAX_DEPTH 8

/* ---- encoding ---- */

static bool v2_value(const dc__value *v) {
    return v->kind == DC_FLOAT || v->kind == DC_BYTES;
}

/* The version a body of these ops is written as: the lowest that holds
 * every value in it. */
static uint32_t body_version(const dc__op *ops, size_t nops) {
#ifdef DC_TEST_FUTURE
    for (size_t i = 0; i < nops; i++)
        if (ops[i].kind == DC_OP_FUTURE_SET)
            return 3;
#endif
    for (size_t i = 0; i < nops; i++) {
        if (v2_value(&ops[i].val))
            return 2;
        for (uint32_t f = 0; f < ops[i].nfields; f++)
            if (v2_value(&ops[i].vals[f]))
                return 2;
    }
    return 1;
}

int dc__body_encode(dc_buf *out, const dc__op *ops, size_t nops, dc__err *err) {
    msgpack_packer pk;
    dc__mp_sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, dc__mp_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, body_version(ops, nops));
    msgpack_pack_array(&pk, nops);
    for (size_t i = 0; i < nops; i++) {
        const dc__op *o = &ops[i];
        size_t len = SET_LIKE(o->kind) || o->kind == DC_OP_ADD ? 5
                     : o->kind == DC_OP_REMOVE                 ? 6
                     : o->kind == DC_OP_EVENT                  ? 4
                                                               : 3;
        msgpack_pack_array(&pk, len);
        msgpack_pack_uint32(&pk, (uint32_t)o->kind);
        dc__mp_pack_str(&pk, o->type.p, o->type.n);
        dc__mp_pack_str(&pk, o->id.p, o->id.n);
        if (SET_LIKE(o->kind) || o->kind == DC_OP_ADD || o->kind == DC_OP_REMOVE) {
            dc__mp_pack_str(&pk, o->field.p, o->field.n);
            dc__mp_pack_value(&pk, &o->val);
        }
        if (o->kind == DC_OP_REMOVE) {
            msgpack_pack_array(&pk, o->ntags);
            for (uint32_t t = 0; t < o->ntags; t++) {
                msgpack_pack_array(&pk, 3);
                msgpack_pack_bin(&pk, 32);
                msgpack_pack_bin_body(&pk, o->tags[t].dev, 32);
                msgpack_pack_uint64(&pk, o->tags[t].seq);
                msgpack_pack_uint32(&pk, o->tags[t].op);
            }
        }
        if (o->kind == DC_OP_EVENT) {
            msgpack_pack_array(&pk, (size_t)o->nfields * 2);
            for (uint32_t f = 0; f < o->nfields; f++) {
                dc__mp_pack_str(&pk, o->keys[f].p, o->keys[f].n);
                dc__mp_pack_value(&pk, &o->vals[f]);
            }
        }
    }
    if (sk.failed)
        return dc__err_set(err, DC_ENOMEM, "body: out of memory while encoding");
    return 0;
}

/* ---- bounds scan ---- */

static int scan(const uint8_t *p, size_t n, size_t *pos, int depth, uint64_t *objects) {
    if (depth > MAX_DEPTH || *pos >= n)
        return -1;
    uint8_t c = p[(*pos)++];
    uint64_t len = 0, count = 0;
    size_t lenbytes = 0, fixed = 0;
    int container = 0; /* 1 array, 2 map */
    (*objects)++;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if (c >= 0x80 && c <= 0x8f) {
        count = c & 0x0f;
        container = 2;
    } else if (c >= 0x90 && c <= 0x9f) {
        count = c & 0x0f;
        container = 1;
    } else if (c >= 0xa0 && c <= 0xbf) {
        len = c & 0x1f;
    } else {
        /* clang-format off: one msgpack type byte per line reads as the spec's table */
        switch (c) {
        case 0xc4:
        case 0xd9: lenbytes = 1; break;
        case 0xc5:
        case 0xda: lenbytes = 2; break;
        case 0xc6:
        case 0xdb: lenbytes = 4; break;
        case 0xc7:
            lenbytes = 1;
            fixed = 1;
            break;
        case 0xc8:
            lenbytes = 2;
            fixed = 1;
            break;
        case 0xc9:
            lenbytes = 4;
            fixed = 1;
            break;
        case 0xca: fixed = 4; break;
        case 0xcb: fixed = 8; break;
        case 0xcc:
        case 0xd0: fixed = 1; break;
        case 0xcd:
        case 0xd1: fixed = 2; break;
        case 0xce:
        case 0xd2: fixed = 4; break;
        case 0xcf:
        case 0xd3: fixed = 8; break;
        case 0xd4: fixed = 2; break;
        case 0xd5: fixed = 3; break;
        case 0xd6: fixed = 5; break;
        case 0xd7: fixed = 9; break;
        case 0xd8: fixed = 17; break;
        case 0xdc:
            lenbytes = 2;
            container = 1;
            break;
        case 0xdd:
            lenbytes = 4;
            container = 1;
            break;
        case 0xde:
            lenbytes = 2;
            container = 2;
            break;
        case 0xdf:
            lenbytes = 4;
            container = 2;
            break;
        default: return -1; /* 0xc1: never used */
        }
        /* clang-format on */
        if (n - *pos < lenbytes)
            return -1;
        for (size_t i = 0; i < lenbytes; i++)
            len = len << 8 | p[(*pos)++];
        if (container) {
            count = len;
            len = 0;
        }
    }
    if (container) {
        uint64_t elems = container == 2 ? count * 2 : count;
        if (elems > n - *pos)
            return -1;
        for (uint64_t i = 0; i < elems; i++) {
            /* The commonest elements without a call (as the call would
             * take them): one-byte scalars and short strings. */
            if (depth < MAX_DEPTH && *pos < n) {
                uint8_t e = p[*pos];
                if (e <= 0x7f || e >= 0xe0 || e == 0xc0 || e == 0xc2 || e == 0xc3) {
                    (*pos)++;
                    (*objects)++;
                    continue;
                }
                if (e >= 0xa0 && e <= 0xbf) {
                    if ((size_t)(e & 0x1f) > n - *pos - 1)
                        return -1;
                    *pos += 1 + (size_t)(e & 0x1f);
                    (*objects)++;
                    continue;
                }
            }
            if (scan(p, n, pos, depth + 1, objects))
                return -1;
        }
        return 0;
    }
    if (fixed > n - *pos || len > n - *pos - fixed)
        return -1;
    *pos += fixed + (size_t)len;
    return 0;
}

/* The bounds scan of a whole msgpack message: 0 with its object count in
 * *objects, or an error naming `what`. */
static int scan_checked(const uint8_t *p, size_t n, uint64_t max_objects, const char *what,
                        uint64_t *objects, dc__err *err) {
    size_t pos = 0;
    *objects = 0;
    if (scan(p, n, &pos, 0, objects) != 0)
        return dc__err_set(err, DC_ECORRUPT,
                           "%s: malformed msgpack (truncated, too deeply "
                           "nested, or a count larger than the data)",
                           what);
    if (*objects > max_objects)
        return dc__err_set(err, DC_ETOOBIG, "%s: %llu msgpack objects exceeds the limit of %llu",
                           what, (unsigned long long)*objects, (unsigned long long)max_objects);
    if (pos != n)
        return dc__err_set(err, DC_ECORRUPT, "%s: %zu trailing bytes after the body", what,
                           n - pos);
    return 0;
}

int dc__msgpack_unpack_checked(void *unpacked, const uint8_t *p, size_t n, uint64_t max_objects,
                               const char *what, dc__err *err) {
    msgpack_unpacked *u = unpacked;
    uint64_t objects;
    int rc = scan_checked(p, n, max_objects, what, &objects, err);
    if (rc)
        return rc;
    msgpack_unpacked_init(u);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(u, (const char *)p, n, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
        msgpack_unpacked_destroy(u);
        return dc__err_set(err, DC_ENOMEM, "%s: out of memory decoding msgpack", what);
    }
    if (r != MSGPACK_UNPACK_SUCCESS || off != n) {
        msgpack_unpacked_destroy(u);
        return dc__err_set(err, DC_ECORRUPT, "%s: malformed msgpack", what);
    }
    return 0;
}

/* As dc__msgpack_unpack_checked, into a zone the caller destroys (once
 * this returns 0) and sized by the scan's count: the objects' arrays
 * (strings stay in `p`) take one allocation, where msgpack-c's own zone
 * starts at 8 KB and grows a chunk at a time. */
static int unpack_sized(msgpack_zone *z, msgpack_object *root, const uint8_t *p, size_t n,
                        uint64_t max_objects, const char *what, dc__err *err) {
    uint64_t objects;
    int rc = scan_checked(p, n, max_objects, what, &objects, err);
    if (rc)
        return rc;
    if (!msgpack_zone_init(z, (size_t)objects * sizeof(msgpack_object) + 64))
        return dc__err_set(err, DC_ENOMEM, "%s: out of memory decoding msgpack", what);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack((const char *)p, n, &off, z, root);
    if (r == MSGPACK_UNPACK_SUCCESS && off == n)
        return 0;
    msgpack_zone_destroy(z);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return dc__err_set(err, DC_ENOMEM, "%s: out of memory decoding msgpack", what);
    return dc__err_set(err, DC_ECORRUPT, "%s: malformed msgpack", what);
}

int dc__body_check_limits(const uint8_t *p, size_t n, dc__err *err) {
    if (n > DC_BODY_MAX_SIZE)
        return dc__err_set(err, DC_ETOOBIG,
                           "body: %zu bytes exceeds the limit of %u; split the "
                           "transaction",
                           n, DC_BODY_MAX_SIZE);
    size_t pos = 0;
    uint64_t objects = 0;
    if (scan(p, n, &pos, 0, &objects) != 0 || pos != n)
        return dc__err_set(err, DC_ECORRUPT, "body: malformed msgpack");
    if (objects > DC_BODY_MAX_OBJECTS)
        return dc__err_set(err, DC_ETOOBIG,
                           "body: %llu msgpack objects exceeds the limit of %u; "
                           "split the transaction",
                           (unsigned long long)objects, DC_BODY_MAX_OBJECTS);
    return 0;
}

/* ---- decoding ---- */

typedef struct body_mem {
    msgpack_zone zone; /* the objects, while decoding */
    bool zoned;
    dc__op *ops;
    dc__tag *tags;
    dc__str *keys;
    dc__value *vals;
} body_mem;

void dc__body_free(dc__body *b) {
    if (!b || !b->mem)
        return;
    body_mem *m = b->mem;
    if (m->zoned)
        msgpack_zone_destroy(&m->zone);
    dc__free(m->ops);
    dc__free(m->tags);
    dc__free(m->keys);
    dc__free(m->vals);
    dc__free(m);
    b->mem = NULL;
    b->ops = NULL;
    b->nops = 0;
}

static int get_str(dc__str *s, const msgpack_object *o, bool nonempty, bool key) {
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > DC_STR_MAX)
        return -1;
    if (nonempty && o->via.str.size == 0)
        return -1;
    if (!dc__utf8_valid((const uint8_t *)o->via.str.ptr, o->via.str.size))
        return -1;
    if (key && o->via.str.size > 0 && o->via.str.ptr[0] == '@')
        return -1;
    s->p = o->via.str.ptr;
    s->n = o->via.str.size;
    return 0;
}

static int get_value(dc__value *v, const msgpack_object *o, uint64_t version) {
    memset(v, 0, sizeof *v);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: v->kind = DC_NULL; return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        v->kind = DC_BOOL;
        v->num = o->via.boolean ? 1 : 0;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -1;
        v->kind = DC_INT;
        v->num = (int64_t)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v->kind = DC_INT;
        v->num = o->via.i64;
        return 0;
    case MSGPACK_OBJECT_STR: {
        dc__str s;
        if (get_str(&s, o, false, false))
            return -1;
        v->kind = DC_STR;
        v->str = s.p;
        v->len = s.n;
        return 0;
    }
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* Version 2; finite only, so that every replica compares alike. */
        if (version < 2 || !isfinite(o->via.f64))
            return -1;
        *v = dc__value_real(o->via.f64);
        return 0;
    case MSGPACK_OBJECT_BIN:
        if (version < 2 || o->via.bin.size > DC_STR_MAX)
            return -1;
        v->kind = DC_BYTES;
        v->str = o->via.bin.ptr;
        v->len = o->via.bin.size;
        return 0;
    default: return -1;
    }
}

static bool is_uint(const msgpack_object *o, uint64_t max) {
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= max;
}

int dc__body_decode(dc__body *out, const uint8_t *p, size_t n, dc__err *err) {
    memset(out, 0, sizeof *out);
    if (n > DC_BODY_MAX_SIZE)
        return dc__err_set(err, DC_ETOOBIG, "body: %zu bytes exceeds the limit", n);
    body_mem *m = dc__calloc(1, sizeof *m);
    if (!m)
        return dc__err_set(err, DC_ENOMEM, "body: out of memory");
    msgpack_object top;
    int rc = unpack_sized(&m->zone, &top, p, n, DC_BODY_MAX_OBJECTS, "body", err);
    if (rc) {
        dc__free(m);
        return rc;
    }
    m->zoned = true;
    out->mem = m;
    const msgpack_object *root = &top;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2 ||
        root->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = dc__err_set(err, DC_ECORRUPT, "body: not a change body");
        goto fail;
    }
    uint64_t version = root->via.array.ptr[0].via.u64;
    if (version == 0 || version > BODY_VERSION_MAX) {
        rc = version > BODY_VERSION_MAX
                 ? dc__err_set(err, DC_EVERSION,
                               "body: version %llu is newer than this library "
                               "reads (%d)",
                               (unsigned long long)version, BODY_VERSION_MAX)
                 : dc__err_set(err, DC_ECORRUPT, "body: version 0 does not exist");
        goto fail;
    }
    if (root->via.array.size != 2 || root->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY) {
        rc = dc__err_set(err, DC_ECORRUPT, "body: a version %llu body must be [%llu, ops]",
                         (unsigned long long)version, (unsigned long long)version);
        goto fail;
    }
    const msgpack_object_array *ops = &root->via.array.ptr[1].via.array;
    if (ops->size > DC_BODY_MAX_OPS) {
        rc = dc__err_set(err, DC_ETOOBIG, "body: %u ops exceeds the limit of %u", ops->size,
                         DC_BODY_MAX_OPS);
        goto fail;
    }
    /* First pass: shapes, and how many tags and event fields to allocate. */
    size_t ntags = 0, nfields = 0;
    for (uint32_t i = 0; i < ops->size; i++) {
        const msgpack_object *o = &ops->ptr[i];
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 3 ||
            !is_uint(&o->via.array.ptr[0], 255)) {
            rc = dc__err_set(err, DC_ECORRUPT, "body: op %u is malformed", i);
            goto fail;
        }
        uint64_t kind = o->via.array.ptr[0].via.u64;
        uint32_t want = (SET_LIKE(kind) && (kind == DC_OP_SET || version >= 3)) || kind == DC_OP_ADD
                            ? 5
                        : kind == DC_OP_REMOVE ? 6
                        : kind == DC_OP_EVENT  ? 4
                        : kind == DC_OP_DELETE ? 3
                                               : 0;
        if (want == 0 || o->via.array.size != want) {
            rc = dc__err_set(err, DC_ECORRUPT,
                             "body: op %u has unknown kind %llu or wrong "
                             "length",
                             i, (unsigned long long)kind);
            goto fail;
        }
        if (kind == DC_OP_REMOVE) {
            const msgpack_object *t = &o->via.array.ptr[5];
            if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size > DC_REMOVE_MAX_TAGS) {
                rc = dc__err_set(err, DC_ECORRUPT, "body: op %u: bad tag list", i);
                goto fail;
            }
            ntags += t->via.array.size;
        }
        if (kind == DC_OP_EVENT) {
            const msgpack_object *f = &o->via.array.ptr[3];
            if (f->type != MSGPACK_OBJECT_ARRAY || f->via.array.size % 2 != 0 ||
                f->via.array.size / 2 > DC_EVENT_MAX_FIELDS) {
                rc = dc__err_set(err, DC_ECORRUPT, "body: op %u: bad event fields", i);
                goto fail;
            }
            nfields += f->via.array.size / 2;
        }
    }
    m->ops = dc__calloc(ops->size ? ops->size : 1, sizeof(dc__op));
    m->tags = dc__calloc(ntags ? ntags : 1, sizeof(dc__tag));
    m->keys = dc__calloc(nfields ? nfields : 1, sizeof(dc__str));
    m->vals = dc__calloc(nfields ? nfields : 1, sizeof(dc__value));
    if (!m->ops || !m->tags || !m->keys || !m->vals) {
        rc = dc__err_set(err, DC_ENOMEM, "body: out of memory");
        goto fail;
    }
    size_t ti = 0, fi = 0;
    for (uint32_t i = 0; i < ops->size; i++) {
        const msgpack_object *a = ops->ptr[i].via.array.ptr;
        dc__op *op = &m->ops[i];
        op->kind = (int)a[0].via.u64;
        if (get_str(&op->type, &a[1], true, false) || get_str(&op->id, &a[2], true, false)) {
            rc = dc__err_set(err, DC_ECORRUPT,
                             "body: op %u: type and id must be non-empty "
                             "UTF-8 strings",
                             i);
            goto fail;
        }
        if (SET_LIKE(op->kind) || op->kind == DC_OP_ADD || op->kind == DC_OP_REMOVE) {
            if (get_str(&op->field, &a[3], true, true) || get_value(&op->val, &a[4], version)) {
                rc = dc__err_set(err, DC_ECORRUPT, "body: op %u: bad field name or value", i);
                goto fail;
            }
        }
        if (op->kind == DC_OP_REMOVE) {
            const msgpack_object_array *t = &a[5].via.array;
            op->tags = &m->tags[ti];
            op->ntags = t->size;
            for (uint32_t k = 0; k < t->size; k++, ti++) {
                const msgpack_object *e = &t->ptr[k];
                if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 ||
                    e->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
                    e->via.array.ptr[0].via.bin.size != 32 ||
                    !is_uint(&e->via.array.ptr[1], INT64_MAX) ||
                    !is_uint(&e->via.array.ptr[2], UINT32_MAX)) {
                    rc = dc__err_set(err, DC_ECORRUPT, "body: op %u: tag %u is malformed", i, k);
                    goto fail;
                }
                memcpy(m->tags[ti].dev, e->via.array.ptr[0].via.bin.ptr, 32);
                m->tags[ti].seq = e->via.array.ptr[1].via.u64;
                m->tags[ti].op = (uint32_t)e->via.array.ptr[2].via.u64;
            }
        }
        if (op->kind == DC_OP_EVENT) {
            const msgpack_object_array *f = &a[3].via.array;
            op->keys = &m->keys[fi];
            op->vals = &m->vals[fi];
            op->nfields = f->size / 2;
            for (uint32_t k = 0; k < op->nfields; k++, fi++) {
                if (get_str(&m->keys[fi], &f->ptr[2 * k], true, true) ||
                    get_value(&m->vals[fi], &f->ptr[2 * k + 1], version)) {
                    rc = dc__err_set(err, DC_ECORRUPT, "body: op %u: event field %u is malformed",
                                     i, k);
                    goto fail;
                }
                for (uint32_t j = 0; j < k; j++)
                    if (op->keys[j].n == op->keys[k].n &&
                        memcmp(op->keys[j].p, op->keys[k].p, op->keys[k].n) == 0) {
                        rc = dc__err_set(err, DC_ECORRUPT, "body: op %u: event key repeated", i);
                        goto fail;
                    }
            }
        }
    }
    out->ops = m->ops;
    out->nops = ops->size;
    /* msgpack-c's unpack refers to strings in `p` rather than copying
     * them, so once the ops are built its objects are no longer needed:
     * a fold holds many decoded bodies at once. */
    msgpack_zone_destroy(&m->zone);
    m->zoned = false;
    return 0;
fail:
    dc__body_free(out);
    return rc;
}

/* ---- membership body ---- */

static void pack_bin(msgpack_packer *pk, const uint8_t *p, size_t n) {
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

int dc__member_encode_version(dc_buf *out, const dc__member_op *ops, size_t nops, int version,
                              dc__err *err) {
    if (version != 1 && version != 2 && version != MEMBER_VERSION)
        return dc__err_set(err, DC_EINVAL, "membership: cannot write body version %d", version);
    msgpack_packer pk;
    dc__mp_sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, dc__mp_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint32(&pk, (uint32_t)version);
    msgpack_pack_array(&pk, nops);
    for (size_t i = 0; i < nops; i++) {
        const dc__member_op *o = &ops[i];
        switch (o->kind) {
        case DC_MOP_GENESIS:
            msgpack_pack_array(&pk, version == 1 ? 5 : 4);
            msgpack_pack_uint32(&pk, DC_MOP_GENESIS);
            pack_bin(&pk, o->device, 32);
            pack_bin(&pk, o->box_pk, 32);
            pack_bin(&pk, o->nonce, 16);
            if (version == 1)
                dc__mp_pack_str(&pk, o->name, strlen(o->name));
            break;
        case DC_MOP_GRANT:
            msgpack_pack_array(&pk, version == 1 ? 7 : 8);
            msgpack_pack_uint32(&pk, DC_MOP_GRANT);
            pack_bin(&pk, o->device, 32);
            pack_bin(&pk, o->box_pk, 32);
            msgpack_pack_uint32(&pk, (uint32_t)o->role);
            if (version == 1)
                dc__mp_pack_str(&pk, o->name, strlen(o->name));
            else
                msgpack_pack_uint64(&pk, o->upto);
            msgpack_pack_uint32(&pk, o->epoch);
            if (version != 1)
                pack_bin(&pk, o->kid, DC_KEY_ID);
            pack_bin(&pk, o->sealed, 80);
            break;
        case DC_MOP_REMOVE:
            msgpack_pack_array(&pk, 3);
            msgpack_pack_uint32(&pk, DC_MOP_REMOVE);
            pack_bin(&pk, o->device, 32);
            msgpack_pack_uint64(&pk, o->upto);
            break;
        case DC_MOP_ROTATE:
        case DC_MOP_LOCKBOX:
            msgpack_pack_array(&pk, 4);
            msgpack_pack_uint32(&pk, (uint32_t)o->kind);
            msgpack_pack_uint32(&pk, o->epoch);
            pack_bin(&pk, o->kid, DC_KEY_ID);
            pack_bin(&pk, o->lockbox, o->lockbox_len);
            break;
        case DC_MOP_COMPACT:
            msgpack_pack_array(&pk, 3);
            msgpack_pack_uint32(&pk, DC_MOP_COMPACT);
            pack_bin(&pk, o->point, o->point_len);
            pack_bin(&pk, o->ndead ? o->dead : o->point, (size_t)o->ndead * 32);
            break;
        default: /* DC_MOP_KEY */
            msgpack_pack_array(&pk, 5);
            msgpack_pack_uint32(&pk, DC_MOP_KEY);
            pack_bin(&pk, o->device, 32);
            msgpack_pack_uint32(&pk, o->epoch);
            pack_bin(&pk, o->kid, DC_KEY_ID);
            pack_bin(&pk, o->sealed, 80);
            break;
        }
        if (version == 1 && o->kind != DC_MOP_GENESIS && o->kind != DC_MOP_GRANT)
            return dc__err_set(err, DC_EINVAL, "membership: op kind %d needs body version 2",
                               o->kind);
        if (version < 3 && o->kind == DC_MOP_COMPACT)
            return dc__err_set(err, DC_EINVAL, "membership: op kind %d needs body version 3",
                               o->kind);
    }
    if (sk.failed)
        return dc__err_set(err, DC_ENOMEM, "membership: out of memory while encoding");
    return 0;
}

int dc__member_encode(dc_buf *out, const dc__member_op *ops, size_t nops, dc__err *err) {
    /* The lowest version that holds the ops: a library reading version 2
     * applies every body without a clear point. */
    int version = 2;
    for (size_t i = 0; i < nops; i++)
        if (ops[i].kind == DC_MOP_COMPACT)
            version = 3;
    return dc__member_encode_version(out, ops, nops, version, err);
}

static uint64_t be64(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | p[i];
    return x;
}

bool dc__vector_valid(const uint8_t *p, size_t n) {
    if (n < 13 || p[0] != 1)
        return false;
    uint32_t cnt = (uint32_t)p[9] << 24 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 8 | p[12];
    if ((n - 13) % 40 || (n - 13) / 40 != cnt)
        return false;
    for (uint32_t i = 0; i < cnt; i++) {
        const uint8_t *e = p + 13 + (size_t)i * 40;
        uint64_t seq = be64(e + 32);
        if (seq == 0 || seq > INT64_MAX || (i && memcmp(e - 40, e, 32) >= 0))
            return false;
    }
    return true;
}

static bool get_bin(uint8_t *dst, size_t n, const msgpack_object *o) {
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n)
        return false;
    memcpy(dst, o->via.bin.ptr, n);
    return true;
}

static bool get_name(char *dst, size_t cap, const msgpack_object *o) {
    dc__str s;
    if (get_str(&s, o, false, false) || s.n >= cap)
        return false;
    memcpy(dst, s.p, s.n);
    dst[s.n] = 0;
    return true;
}

/* One op of a version-1 body: GENESIS and GRANT, with the device's name. */
static bool decode_op_v1(dc__member_op *m, const msgpack_object *e, uint32_t len) {
    if (m->kind == DC_MOP_GENESIS && len == 5) {
        m->role = DC_ROLE_ADMIN;
        return get_bin(m->device, 32, &e[1]) && get_bin(m->box_pk, 32, &e[2]) &&
               get_bin(m->nonce, 16, &e[3]) && get_name(m->name, sizeof m->name, &e[4]);
    }
    if (m->kind == DC_MOP_GRANT && len == 7) {
        bool ok = get_bin(m->device, 32, &e[1]) && get_bin(m->box_pk, 32, &e[2]) &&
                  is_uint(&e[3], DC_ROLE_ADMIN) && e[3].via.u64 >= DC_ROLE_READER &&
                  get_name(m->name, sizeof m->name, &e[4]) && is_uint(&e[5], UINT32_MAX) &&
                  get_bin(m->sealed, 80, &e[6]);
        if (ok) {
            m->role = (int)e[3].via.u64;
            m->epoch = (uint32_t)e[5].via.u64;
        }
        return ok;
    }
    return false;
}

/* One op of a version-2 or -3 body (docs/format/body.md, "Membership body
 * v2" and "v3"). */
static bool decode_op_v2(dc__member_op *m, const msgpack_object *e, uint32_t len) {
    bool ok;
    switch (m->kind) {
    case DC_MOP_GENESIS:
        m->role = DC_ROLE_ADMIN;
        return len == 4 && get_bin(m->device, 32, &e[1]) && get_bin(m->box_pk, 32, &e[2]) &&
               get_bin(m->nonce, 16, &e[3]);
    case DC_MOP_GRANT:
        ok = len == 8 && get_bin(m->device, 32, &e[1]) && get_bin(m->box_pk, 32, &e[2]) &&
             is_uint(&e[3], DC_ROLE_ADMIN) && e[3].via.u64 >= DC_ROLE_READER &&
             is_uint(&e[4], DC_MEMBER_MAX_SEQ) && is_uint(&e[5], UINT32_MAX) &&
             get_bin(m->kid, DC_KEY_ID, &e[6]) && get_bin(m->sealed, 80, &e[7]);
        if (ok) {
            m->role = (int)e[3].via.u64;
            m->upto = e[4].via.u64;
            m->epoch = (uint32_t)e[5].via.u64;
        }
        return ok;
    case DC_MOP_REMOVE:
        ok = len == 3 && get_bin(m->device, 32, &e[1]) && is_uint(&e[2], DC_MEMBER_MAX_SEQ);
        if (ok)
            m->upto = e[2].via.u64;
        return ok;
    case DC_MOP_ROTATE:
    case DC_MOP_LOCKBOX:
        /* Epoch 0 is the genesis key's: a rotation always makes a later one
         * (a lockbox may be sealed with any key). */
        ok = len == 4 && is_uint(&e[1], UINT32_MAX) &&
             (m->kind == DC_MOP_LOCKBOX || e[1].via.u64 >= 1) &&
             get_bin(m->kid, DC_KEY_ID, &e[2]) && e[3].type == MSGPACK_OBJECT_BIN &&
             e[3].via.bin.size >= DC_LOCKBOX_MIN && e[3].via.bin.size <= DC_LOCKBOX_MAX;
        if (ok) {
            m->epoch = (uint32_t)e[1].via.u64;
            m->lockbox = (const uint8_t *)e[3].via.bin.ptr;
            m->lockbox_len = e[3].via.bin.size;
        }
        return ok;
    case DC_MOP_COMPACT:
        /* Version 3: the point and the dead attachment objects. */
        ok = m->version >= 3 && len == 3 && e[1].type == MSGPACK_OBJECT_BIN &&
             dc__vector_valid((const uint8_t *)e[1].via.bin.ptr, e[1].via.bin.size) &&
             e[2].type == MSGPACK_OBJECT_BIN && e[2].via.bin.size % 32 == 0;
        if (ok) {
            m->point = (const uint8_t *)e[1].via.bin.ptr;
            m->point_len = e[1].via.bin.size;
            m->dead = (const uint8_t *)e[2].via.bin.ptr;
            m->ndead = e[2].via.bin.size / 32;
        }
        return ok;
    case DC_MOP_KEY:
        ok = len == 5 && get_bin(m->device, 32, &e[1]) && is_uint(&e[2], UINT32_MAX) &&
             get_bin(m->kid, DC_KEY_ID, &e[3]) && get_bin(m->sealed, 80, &e[4]);
        if (ok)
            m->epoch = (uint32_t)e[2].via.u64;
        return ok;
    default: return false;
    }
}

int dc__member_decode(dc__member_op **out, size_t *nout, const uint8_t *p, size_t n, dc__err *err) {
    *out = NULL;
    *nout = 0;
    if (n > DC_MEMBER_MAX_SIZE)
        return dc__err_set(err, DC_ETOOBIG,
                           "membership: body of %zu bytes exceeds the limit of "
                           "%u",
                           n, DC_MEMBER_MAX_SIZE);
    msgpack_unpacked u;
    int rc = dc__msgpack_unpack_checked(&u, p, n, DC_MEMBER_MAX_OBJECTS, "membership", err);
    if (rc)
        return rc;
    const msgpack_object *root = &u.data;
    dc__member_op *ops = NULL;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 2 ||
        !is_uint(&root->via.array.ptr[0], UINT32_MAX) ||
        root->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY) {
        rc = dc__err_set(err, DC_ECORRUPT, "membership: not a membership body");
        goto done;
    }
    uint64_t version = root->via.array.ptr[0].via.u64;
    if (version == 0 || version > MEMBER_VERSION) {
        rc = version > MEMBER_VERSION
                 ? dc__err_set(err, DC_EVERSION,
                               "membership: body version %llu is newer than this "
                               "library reads (%d); upgrade drivercore",
                               (unsigned long long)version, MEMBER_VERSION)
                 : dc__err_set(err, DC_ECORRUPT, "membership: version 0 does not exist");
        goto done;
    }
    const msgpack_object_array *a = &root->via.array.ptr[1].via.array;
    if (a->size == 0 || a->size > DC_MEMBER_MAX_OPS) {
        rc = dc__err_set(err, DC_ECORRUPT, "membership: %u ops (1..%u allowed)", a->size,
                         DC_MEMBER_MAX_OPS);
        goto done;
    }
    ops = dc__calloc(a->size, sizeof *ops);
    if (!ops) {
        rc = dc__err_set(err, DC_ENOMEM, "membership: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < a->size; i++) {
        const msgpack_object *o = &a->ptr[i];
        dc__member_op *m = &ops[i];
        bool ok = o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size >= 3 &&
                  is_uint(&o->via.array.ptr[0], 255);
        if (ok) {
            m->kind = (int)o->via.array.ptr[0].via.u64;
            m->version = (int)version;
            ok = version == 1 ? decode_op_v1(m, o->via.array.ptr, o->via.array.size)
                              : decode_op_v2(m, o->via.array.ptr, o->via.array.size);
        }
        if (!ok) {
            rc = dc__err_set(err, DC_ECORRUPT, "membership: op %u is malformed", i);
            goto done;
        }
    }
    *out = ops;
    *nout = a->size;
    ops = NULL;
done:
    dc__free(ops);
    msgpack_unpacked_destroy(&u);
    return rc;
}
