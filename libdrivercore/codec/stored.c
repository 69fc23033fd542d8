/*
 * The stored forms of a record's state (docs/storage.md, "Schema version
 * 3"): the registers of a record row, packed into one column, and the
 * fields of an event.  Both are msgpack; a decoder refuses anything but
 * the shapes written here, so a damaged file reads as DC_ECORRUPT, never as
 * a crash or a wrong value.
 */
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>

#include "codec/codec.h"

/* A record holds at most this many registers (the body's limit on one
 * transaction's ops bounds what one change adds; this bounds the row). */
#define REGS_MAX_OBJECTS (4u * 65536u + 1u)
#define EVENT_MAX_OBJECTS (2u * DC_EVENT_MAX_FIELDS + 1u)

typedef struct sink {
    dc_buf *buf;
    int failed;
} sink;

static int buf_write(void *data, const char *p, size_t n) {
    sink *s = data;
    if (!s->failed && dc__buf_put(s->buf, p, n))
        s->failed = 1;
    return s->failed ? -1 : 0;
}

static void pack_str(msgpack_packer *pk, const char *p, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, p, n);
}

static void pack_value(msgpack_packer *pk, const dc__value *v) {
    switch (v->kind) {
    case DC_BOOL:
        if (v->num)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case DC_INT: msgpack_pack_int64(pk, v->num); break;
    case DC_STR: pack_str(pk, v->str, v->len); break;
    default: msgpack_pack_nil(pk);
    }
}

static int get_value(dc__value *v, const msgpack_object *o) {
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
    case MSGPACK_OBJECT_STR:
        v->kind = DC_STR;
        v->str = o->via.str.ptr;
        v->len = o->via.str.size;
        return 0;
    default: return -1;
    }
}

int dc__regs_encode(dc_buf *out, const dc__reg *regs, size_t n, dc__err *err) {
    msgpack_packer pk;
    sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, buf_write);
    msgpack_pack_array(&pk, n * 4);
    for (size_t i = 0; i < n; i++) {
        pack_str(&pk, regs[i].field.p, regs[i].field.n);
        pack_value(&pk, &regs[i].val);
        msgpack_pack_uint64(&pk, regs[i].hlc);
        msgpack_pack_int64(&pk, regs[i].did);
    }
    return sk.failed ? dc__err_set(err, DC_ENOMEM, "record: out of memory") : 0;
}

int dc__regs_decode(const uint8_t *p, size_t n, dc__reg **regs, size_t *nregs, dc__err *err) {
    *regs = NULL;
    *nregs = 0;
    msgpack_unpacked u;
    int rc = dc__msgpack_unpack_checked(&u, p, n, REGS_MAX_OBJECTS, "record", err);
    if (rc)
        return rc;
    const msgpack_object *root = &u.data;
    size_t count = root->type == MSGPACK_OBJECT_ARRAY ? root->via.array.size : 1;
    if (root->type != MSGPACK_OBJECT_ARRAY || count % 4 != 0) {
        rc = dc__err_set(err, DC_ECORRUPT, "record: the registers column is malformed");
        goto out;
    }
    dc__reg *v = count ? dc__malloc(count / 4 * sizeof *v) : NULL;
    if (count && !v) {
        rc = dc__err_set(err, DC_ENOMEM, "record: out of memory");
        goto out;
    }
    const msgpack_object *o = root->via.array.ptr;
    for (size_t i = 0; i < count / 4; i++, o += 4) {
        dc__reg *g = &v[i];
        if (o[0].type != MSGPACK_OBJECT_STR || get_value(&g->val, &o[1]) ||
            o[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            o[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            dc__free(v);
            rc = dc__err_set(err, DC_ECORRUPT, "record: register %zu is malformed", i);
            goto out;
        }
        g->field = (dc__str){o[0].via.str.ptr, o[0].via.str.size};
        g->hlc = o[2].via.u64;
        g->did = (int64_t)o[3].via.u64;
    }
    *regs = v;
    *nregs = count / 4;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

typedef struct kv {
    const dc__str *k;
    const dc__value *v;
} kv;

static int kv_cmp(const void *a, const void *b) {
    const dc__str *x = ((const kv *)a)->k, *y = ((const kv *)b)->k;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

int dc__event_encode(dc_buf *out, const dc__str *keys, const dc__value *vals, uint32_t n,
                     dc__err *err) {
    kv *s = dc__malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return dc__err_set(err, DC_ENOMEM, "event: out of memory");
    for (uint32_t i = 0; i < n; i++)
        s[i] = (kv){&keys[i], &vals[i]};
    qsort(s, n, sizeof *s, kv_cmp);
    msgpack_packer pk;
    sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, buf_write);
    msgpack_pack_array(&pk, (size_t)n * 2);
    for (uint32_t i = 0; i < n; i++) {
        pack_str(&pk, s[i].k->p, s[i].k->n);
        pack_value(&pk, s[i].v);
    }
    dc__free(s);
    return sk.failed ? dc__err_set(err, DC_ENOMEM, "event: out of memory") : 0;
}

int dc__event_decode(const uint8_t *p, size_t n, dc__str **keys, dc__value **vals, uint32_t *nf,
                     dc__err *err) {
    *keys = NULL;
    *vals = NULL;
    *nf = 0;
    msgpack_unpacked u;
    int rc = dc__msgpack_unpack_checked(&u, p, n, EVENT_MAX_OBJECTS, "event", err);
    if (rc)
        return rc;
    const msgpack_object *root = &u.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size % 2 != 0) {
        rc = dc__err_set(err, DC_ECORRUPT, "event: the stored body is malformed");
        goto out;
    }
    uint32_t count = root->via.array.size / 2;
    /* One block: the keys, then the values. */
    void *block = dc__malloc((count ? count : 1) * (sizeof(dc__str) + sizeof(dc__value)));
    if (!block) {
        rc = dc__err_set(err, DC_ENOMEM, "event: out of memory");
        goto out;
    }
    dc__value *v = block;
    dc__str *k = (dc__str *)(v + (count ? count : 1));
    const msgpack_object *o = root->via.array.ptr;
    for (uint32_t i = 0; i < count; i++, o += 2) {
        if (o[0].type != MSGPACK_OBJECT_STR || get_value(&v[i], &o[1])) {
            dc__free(block);
            rc = dc__err_set(err, DC_ECORRUPT, "event: field %u is malformed", i);
            goto out;
        }
        k[i] = (dc__str){o[0].via.str.ptr, o[0].via.str.size};
    }
    *vals = v;
    *keys = k;
    *nf = count;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}
