/*
 * The stored forms of a record's state (docs/storage.md, "Schema version
 * 3"): its registers, set adds and removed tags, packed into one column of
 * its row, and the fields of an event.  Both are msgpack; a decoder refuses anything but
 * the shapes written here, so a damaged file reads as DC_ECORRUPT, never as
 * a crash or a wrong value.
 */
#include <stdlib.h>
#include <string.h>
#include <msgpack.h>

#include "codec/codec.h"

/* The objects a state column may hold: a bound against a damaged file, far
 * above any record a device writes. */
#define RECORD_MAX_OBJECTS (1u << 24)
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
    case DC_FLOAT: msgpack_pack_double(pk, dc__real(v)); break;
    case DC_BYTES:
        msgpack_pack_bin(pk, v->len);
        msgpack_pack_bin_body(pk, v->str, v->len);
        break;
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
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *v = dc__value_real(o->via.f64); return 0;
    case MSGPACK_OBJECT_BIN:
        v->kind = DC_BYTES;
        v->str = o->via.bin.ptr;
        v->len = o->via.bin.size;
        return 0;
    default: return -1;
    }
}

/* Each entry is a fixed number of msgpack objects in one flat array. */
#define REG_OBJS 4
#define ADD_OBJS 6
#define RM_OBJS 4

int dc__recdata_encode(dc_buf *out, const dc__recdata *d, dc__err *err) {
    msgpack_packer pk;
    sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, buf_write);
    /* Clocks are stored from the smallest of the record's: most of a
     * record's fields were written together, and a small difference packs
     * into fewer bytes than a timestamp. */
    dc_hlc base = UINT64_MAX;
    for (size_t i = 0; i < d->nregs; i++)
        base = d->regs[i].hlc < base ? d->regs[i].hlc : base;
    for (size_t i = 0; i < d->nadds; i++)
        base = d->adds[i].hlc < base ? d->adds[i].hlc : base;
    if (base == UINT64_MAX)
        base = 0;
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, base);
    msgpack_pack_array(&pk, d->nregs * REG_OBJS);
    for (size_t i = 0; i < d->nregs; i++) {
        const dc__reg *g = &d->regs[i];
        msgpack_pack_uint32(&pk, g->fid);
        pack_value(&pk, &g->val);
        msgpack_pack_uint64(&pk, g->hlc - base);
        msgpack_pack_int64(&pk, g->did);
    }
    msgpack_pack_array(&pk, d->nadds * ADD_OBJS);
    for (size_t i = 0; i < d->nadds; i++) {
        const dc__sadd *a = &d->adds[i];
        msgpack_pack_uint32(&pk, a->fid);
        pack_value(&pk, &a->val);
        msgpack_pack_int64(&pk, a->did);
        msgpack_pack_uint64(&pk, a->seq);
        msgpack_pack_uint32(&pk, a->op);
        msgpack_pack_uint64(&pk, a->hlc - base);
    }
    msgpack_pack_array(&pk, d->nrm * RM_OBJS);
    for (size_t i = 0; i < d->nrm; i++) {
        const dc__stag *t = &d->rm[i];
        msgpack_pack_uint32(&pk, t->fid);
        msgpack_pack_int64(&pk, t->did);
        msgpack_pack_uint64(&pk, t->seq);
        msgpack_pack_uint32(&pk, t->op);
    }
    return sk.failed ? dc__err_set(err, DC_ENOMEM, "record: out of memory") : 0;
}

void dc__recdata_free(dc__recdata *d) {
    dc__free(d->regs);
    dc__free(d->adds);
    dc__free(d->rm);
    memset(d, 0, sizeof *d);
}

static bool u32(const msgpack_object *o, uint32_t *v) {
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
        return false;
    *v = (uint32_t)o->via.u64;
    return true;
}

static bool u64(const msgpack_object *o, uint64_t *v) {
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > (uint64_t)INT64_MAX)
        return false;
    *v = o->via.u64;
    return true;
}

static bool i64(const msgpack_object *o, int64_t *v) {
    uint64_t u;
    if (!u64(o, &u))
        return false;
    *v = (int64_t)u;
    return true;
}

int dc__recdata_decode(const uint8_t *p, size_t n, dc__recdata *d, dc__err *err) {
    memset(d, 0, sizeof *d);
    if (n == 0)
        return 0;
    msgpack_unpacked u;
    int rc = dc__msgpack_unpack_checked(&u, p, n, RECORD_MAX_OBJECTS, "record", err);
    if (rc)
        return rc;
    const msgpack_object *root = &u.data;
    const msgpack_object_array *part = root->type == MSGPACK_OBJECT_ARRAY ? &root->via.array : NULL;
    uint64_t base;
    if (!part || part->size != 4 || !u64(&part->ptr[0], &base)) {
        rc = dc__err_set(err, DC_ECORRUPT, "record: the state column is malformed");
        goto out;
    }
    part = &(msgpack_object_array){part->size - 1, part->ptr + 1};
    if (part->ptr[0].type != MSGPACK_OBJECT_ARRAY || part->ptr[1].type != MSGPACK_OBJECT_ARRAY ||
        part->ptr[2].type != MSGPACK_OBJECT_ARRAY || part->ptr[0].via.array.size % REG_OBJS ||
        part->ptr[1].via.array.size % ADD_OBJS || part->ptr[2].via.array.size % RM_OBJS) {
        rc = dc__err_set(err, DC_ECORRUPT, "record: the state column is malformed");
        goto out;
    }
    size_t nr = part->ptr[0].via.array.size / REG_OBJS, na = part->ptr[1].via.array.size / ADD_OBJS,
           nm = part->ptr[2].via.array.size / RM_OBJS;
    if ((nr && !(d->regs = dc__malloc(nr * sizeof *d->regs))) ||
        (na && !(d->adds = dc__malloc(na * sizeof *d->adds))) ||
        (nm && !(d->rm = dc__malloc(nm * sizeof *d->rm)))) {
        rc = dc__err_set(err, DC_ENOMEM, "record: out of memory");
        goto out;
    }
    const msgpack_object *o = part->ptr[0].via.array.ptr;
    for (size_t i = 0; i < nr; i++, o += REG_OBJS) {
        dc__reg *g = &d->regs[i];
        if (!u32(&o[0], &g->fid) || get_value(&g->val, &o[1]) || !u64(&o[2], &g->hlc) ||
            !i64(&o[3], &g->did) || g->hlc > UINT64_MAX - base)
            goto bad;
        g->hlc += base;
    }
    o = part->ptr[1].via.array.ptr;
    for (size_t i = 0; i < na; i++, o += ADD_OBJS) {
        dc__sadd *a = &d->adds[i];
        if (!u32(&o[0], &a->fid) || get_value(&a->val, &o[1]) || !i64(&o[2], &a->did) ||
            !u64(&o[3], &a->seq) || !u32(&o[4], &a->op) || !u64(&o[5], &a->hlc) ||
            a->hlc > UINT64_MAX - base)
            goto bad;
        a->hlc += base;
    }
    o = part->ptr[2].via.array.ptr;
    for (size_t i = 0; i < nm; i++, o += RM_OBJS) {
        dc__stag *t = &d->rm[i];
        if (!u32(&o[0], &t->fid) || !i64(&o[1], &t->did) || !u64(&o[2], &t->seq) ||
            !u32(&o[3], &t->op))
            goto bad;
    }
    d->nregs = nr;
    d->nadds = na;
    d->nrm = nm;
    goto out;
bad:
    rc = dc__err_set(err, DC_ECORRUPT, "record: an entry of the state column is malformed");
out:
    if (rc)
        dc__recdata_free(d);
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
