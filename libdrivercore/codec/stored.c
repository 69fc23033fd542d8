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
#include "codec/mpack.h"

/* The objects a state column may hold: a bound against a damaged file, far
 * above any record a device writes. */
#define RECORD_MAX_OBJECTS (1u << 24)
#define EVENT_MAX_OBJECTS (2u * DC_EVENT_MAX_FIELDS + 1u)

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
    dc__mp_sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, dc__mp_write);
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
        dc__mp_pack_value(&pk, &g->val);
        msgpack_pack_uint64(&pk, g->hlc - base);
        msgpack_pack_int64(&pk, g->did);
    }
    msgpack_pack_array(&pk, d->nadds * ADD_OBJS);
    for (size_t i = 0; i < d->nadds; i++) {
        const dc__sadd *a = &d->adds[i];
        msgpack_pack_uint32(&pk, a->fid);
        dc__mp_pack_value(&pk, &a->val);
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

/* ---- reading a state column ----
 *
 * The column's layout is fixed: an array of a base clock and three flat
 * arrays of scalars.  It is read in place by a reader of that layout, every
 * read checked against the end of the bytes, rather than through msgpack-c's
 * object tree (a pre-walk to bound the objects, a zone, an object per
 * scalar): a walk over a province reads a quarter of a million of these,
 * and the tree cost more than the SQLite read of the row.  The reader
 * accepts exactly what msgpack-c would have decoded into the shapes below
 * (an integer in a signed encoding with a non-negative value counts as
 * unsigned, as msgpack-c types it) and refuses everything else. */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

enum { SC_NIL, SC_BOOL, SC_POS, SC_NEG, SC_STR, SC_FLOAT, SC_BIN };

typedef struct scalar {
    int type;
    uint64_t u; /* SC_BOOL, SC_POS */
    int64_t i;  /* SC_NEG */
    double d;   /* SC_FLOAT */
    const char *s;
    uint32_t n; /* SC_STR, SC_BIN */
} scalar;

static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Takes n bytes, or fails (truncated). */
static const uint8_t *take(rd *r, size_t n) {
    if ((size_t)(r->end - r->p) < n)
        return NULL;
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static bool rd_array(rd *r, uint32_t *n) {
    const uint8_t *c = take(r, 1), *q;
    if (!c)
        return false;
    if ((*c & 0xf0) == 0x90) {
        *n = *c & 0x0f;
    } else if (*c == 0xdc && (q = take(r, 2))) {
        *n = (uint32_t)be(q, 2);
    } else if (*c == 0xdd && (q = take(r, 4))) {
        *n = (uint32_t)be(q, 4);
    } else {
        return false;
    }
    /* Every element takes a byte at least: a count beyond the bytes left is
     * a lie, refused before anything is allocated for it. */
    return *n <= (size_t)(r->end - r->p);
}

static bool rd_scalar(rd *r, scalar *v) {
    const uint8_t *c = take(r, 1), *q;
    if (!c)
        return false;
    uint8_t t = *c;
    int w = 0;
    if (t <= 0x7f) {
        v->type = SC_POS;
        v->u = t;
        return true;
    }
    if (t >= 0xe0) {
        v->type = SC_NEG;
        v->i = (int8_t)t;
        return true;
    }
    if (t >= 0xa0 && t <= 0xbf) {
        v->type = SC_STR;
        v->n = t & 0x1f;
        return (v->s = (const char *)take(r, v->n)) != NULL;
    }
    switch (t) {
    case 0xc0: v->type = SC_NIL; return true;
    case 0xc2:
    case 0xc3:
        v->type = SC_BOOL;
        v->u = t == 0xc3;
        return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        w = 1 << (t - 0xcc);
        if (!(q = take(r, (size_t)w)))
            return false;
        v->type = SC_POS;
        v->u = be(q, w);
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        w = 1 << (t - 0xd0);
        if (!(q = take(r, (size_t)w)))
            return false;
        uint64_t u = be(q, w);
        int64_t x = w == 8 ? (int64_t)u
                           : (int64_t)(u ^ (1ull << (8 * w - 1))) - (int64_t)(1ull << (8 * w - 1));
        if (x >= 0) {
            v->type = SC_POS;
            v->u = (uint64_t)x;
        } else {
            v->type = SC_NEG;
            v->i = x;
        }
        return true;
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
        w = 1 << (t - 0xd9);
        if (!(q = take(r, (size_t)w)))
            return false;
        v->type = SC_STR;
        v->n = (uint32_t)be(q, w);
        return (v->s = (const char *)take(r, v->n)) != NULL;
    case 0xca:
    case 0xcb: {
        /* Floats (body format 2): float32 widened, as msgpack-c does. */
        w = t == 0xca ? 4 : 8;
        if (!(q = take(r, (size_t)w)))
            return false;
        uint64_t u = be(q, w);
        v->type = SC_FLOAT;
        if (w == 4) {
            uint32_t b32 = (uint32_t)u;
            float f;
            memcpy(&f, &b32, sizeof f);
            v->d = f;
        } else {
            memcpy(&v->d, &u, sizeof v->d);
        }
        return true;
    }
    case 0xc4:
    case 0xc5:
    case 0xc6:
        w = 1 << (t - 0xc4);
        if (!(q = take(r, (size_t)w)))
            return false;
        v->type = SC_BIN;
        v->n = (uint32_t)be(q, w);
        return (v->s = (const char *)take(r, v->n)) != NULL;
    default: return false; /* ext, arrays and maps */
    }
}

static bool rd_value(rd *r, dc__value *v) {
    scalar x;
    if (!rd_scalar(r, &x))
        return false;
    memset(v, 0, sizeof *v);
    switch (x.type) {
    case SC_NIL: v->kind = DC_NULL; return true;
    case SC_BOOL:
        v->kind = DC_BOOL;
        v->num = (int64_t)x.u;
        return true;
    case SC_POS:
        if (x.u > (uint64_t)INT64_MAX)
            return false;
        v->kind = DC_INT;
        v->num = (int64_t)x.u;
        return true;
    case SC_NEG:
        v->kind = DC_INT;
        v->num = x.i;
        return true;
    case SC_FLOAT: *v = dc__value_real(x.d); return true;
    case SC_BIN:
        v->kind = DC_BYTES;
        v->str = x.s;
        v->len = x.n;
        return true;
    default:
        v->kind = DC_STR;
        v->str = x.s;
        v->len = x.n;
        return true;
    }
}

static bool rd_u64(rd *r, uint64_t *v) {
    scalar x;
    if (!rd_scalar(r, &x) || x.type != SC_POS || x.u > (uint64_t)INT64_MAX)
        return false;
    *v = x.u;
    return true;
}

static bool rd_u32(rd *r, uint32_t *v) {
    uint64_t u;
    if (!rd_u64(r, &u) || u > UINT32_MAX)
        return false;
    *v = (uint32_t)u;
    return true;
}

static bool rd_i64(rd *r, int64_t *v) {
    uint64_t u;
    if (!rd_u64(r, &u))
        return false;
    *v = (int64_t)u;
    return true;
}

int dc__recdata_decode(const uint8_t *p, size_t n, dc__recdata *d, dc__err *err) {
    memset(d, 0, sizeof *d);
    if (n == 0)
        return 0;
    rd r = {p, p + n};
    uint32_t root, nr, na, nm;
    uint64_t base;
    if (!rd_array(&r, &root) || root != 4 || !rd_u64(&r, &base))
        return dc__err_set(err, DC_ECORRUPT, "record: the state column is malformed");
    /* The registers' array; the adds' and the removes' are read after. */
    if (!rd_array(&r, &nr) || nr % REG_OBJS)
        return dc__err_set(err, DC_ECORRUPT, "record: the state column is malformed");
    nr /= REG_OBJS;
    if ((uint64_t)nr * REG_OBJS > RECORD_MAX_OBJECTS)
        return dc__err_set(err, DC_ETOOBIG, "record: the state column holds too many entries");
    if (nr && !(d->regs = dc__malloc(nr * sizeof *d->regs)))
        return dc__err_set(err, DC_ENOMEM, "record: out of memory");
    for (uint32_t i = 0; i < nr; i++) {
        dc__reg *g = &d->regs[i];
        if (!rd_u32(&r, &g->fid) || !rd_value(&r, &g->val) || !rd_u64(&r, &g->hlc) ||
            !rd_i64(&r, &g->did) || g->hlc > UINT64_MAX - base)
            goto bad;
        g->hlc += base;
    }
    d->nregs = nr;
    if (!rd_array(&r, &na) || na % ADD_OBJS)
        goto malformed;
    na /= ADD_OBJS;
    if ((uint64_t)nr * REG_OBJS + (uint64_t)na * ADD_OBJS > RECORD_MAX_OBJECTS)
        goto toobig;
    if (na && !(d->adds = dc__malloc(na * sizeof *d->adds)))
        goto nomem;
    for (uint32_t i = 0; i < na; i++) {
        dc__sadd *a = &d->adds[i];
        if (!rd_u32(&r, &a->fid) || !rd_value(&r, &a->val) || !rd_i64(&r, &a->did) ||
            !rd_u64(&r, &a->seq) || !rd_u32(&r, &a->op) || !rd_u64(&r, &a->hlc) ||
            a->hlc > UINT64_MAX - base)
            goto bad;
        a->hlc += base;
    }
    d->nadds = na;
    if (!rd_array(&r, &nm) || nm % RM_OBJS)
        goto malformed;
    nm /= RM_OBJS;
    if ((uint64_t)nr * REG_OBJS + (uint64_t)na * ADD_OBJS + (uint64_t)nm * RM_OBJS >
        RECORD_MAX_OBJECTS)
        goto toobig;
    if (nm && !(d->rm = dc__malloc(nm * sizeof *d->rm)))
        goto nomem;
    for (uint32_t i = 0; i < nm; i++) {
        dc__stag *t = &d->rm[i];
        if (!rd_u32(&r, &t->fid) || !rd_i64(&r, &t->did) || !rd_u64(&r, &t->seq) ||
            !rd_u32(&r, &t->op))
            goto bad;
    }
    d->nrm = nm;
    if (r.p != r.end) {
        dc__recdata_free(d);
        return dc__err_set(err, DC_ECORRUPT, "record: %zu trailing bytes after the state",
                           (size_t)(r.end - r.p));
    }
    return 0;
malformed:
    dc__recdata_free(d);
    return dc__err_set(err, DC_ECORRUPT, "record: the state column is malformed");
toobig:
    dc__recdata_free(d);
    return dc__err_set(err, DC_ETOOBIG, "record: the state column holds too many entries");
nomem:
    dc__recdata_free(d);
    return dc__err_set(err, DC_ENOMEM, "record: out of memory");
bad:
    dc__recdata_free(d);
    return dc__err_set(err, DC_ECORRUPT, "record: an entry of the state column is malformed");
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
    dc__mp_sink sk = {out, 0};
    msgpack_packer_init(&pk, &sk, dc__mp_write);
    msgpack_pack_array(&pk, (size_t)n * 2);
    for (uint32_t i = 0; i < n; i++) {
        dc__mp_pack_str(&pk, s[i].k->p, s[i].k->n);
        dc__mp_pack_value(&pk, s[i].v);
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
