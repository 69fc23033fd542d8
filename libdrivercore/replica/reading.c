/*
 * Typed reads: a record copied out of the store's walk into one block the
 * caller owns, and queries over a type (filter, order, page).
 *
 * The store hands a record over for the length of a callback (dc__rec:
 * registers in name order, one entry per set member, typed events).  A
 * dc_record is that record made to last: measured first, then copied into
 * a single allocation, so that freeing it is one call and reading it never
 * touches the replica again (docs/reading.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "replica/records.h"
#include "replica/replica_int.h"

typedef struct tfield {
    const char *name;
    int set;
    size_t n;
    dc_value *v;
} tfield;

typedef struct tevent {
    int64_t time;
    uint8_t author[32];
    char author_hex[65];
    size_t n;
    const char **keys;
    dc_value *v;
} tevent;

struct dc_record {
    const char *type, *id;
    size_t nf;
    tfield *f;
    size_t ne;
    tevent *e;
};

struct dc_records {
    size_t n, total;
    dc_record **rec;
};

/* ---- values ---- */

static int kind_rank(const dc_value *v) {
    switch (v->kind) {
    case DC_NULL: return 0;
    case DC_BOOL: return v->num ? 2 : 1;
    case DC_INT:
    case DC_FLOAT: return 3;
    case DC_STR: return 4;
    default: return 5;
    }
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (an > bn) - (an < bn);
}

/* An integer against a float, exactly (no rounding of the integer). */
static int int_float_cmp(int64_t i, double d) {
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    /* The cast truncates toward zero, and a double's integer part is
     * itself a double: t is exact (no libm: the library links none). */
    int64_t di = (int64_t)d;
    double t = (double)di;
    if (i != di)
        return i < di ? -1 : 1;
    return t < d ? -1 : t > d ? 1 : -1; /* equal value: the integer first */
}

int dc_value_compare(const dc_value *a, const dc_value *b) {
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    int ra = kind_rank(a), rb = kind_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 3:
        if (a->kind == DC_INT && b->kind == DC_INT)
            return (a->num > b->num) - (a->num < b->num);
        if (a->kind == DC_FLOAT && b->kind == DC_FLOAT)
            return (a->real > b->real) - (a->real < b->real);
        if (a->kind == DC_INT)
            return int_float_cmp(a->num, b->real);
        return -int_float_cmp(b->num, a->real);
    case 4:
    case 5: return bytes_cmp(a->ptr, a->len, b->ptr, b->len);
    default: return 0;
    }
}

static dc_value pub_of(const dc__value *v) {
    dc_value o;
    memset(&o, 0, sizeof o);
    o.kind = v->kind;
    switch (v->kind) {
    case DC_BOOL:
    case DC_INT: o.num = v->num; break;
    case DC_FLOAT: o.real = dc__real(v); break;
    case DC_STR:
    case DC_BYTES:
        o.ptr = v->str;
        o.len = v->len;
        break;
    default: break;
    }
    return o;
}

/* The same value (as dc__value_eq, on public values): same kind, equal. */
static bool value_same(const dc_value *a, const dc_value *b) {
    return a->kind == b->kind && dc_value_compare(a, b) == 0;
}

/* ---- copying a record out ---- */

#define ALIGN(n) (((n) + 15) & ~(size_t)15)

static int entry_cmp(const void *x, const void *y) {
    const dc__rfield *a = *(const dc__rfield *const *)x, *b = *(const dc__rfield *const *)y;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    dc_value va = pub_of(&a->v), vb = pub_of(&b->v);
    return dc_value_compare(&va, &vb);
}

/* Copies n bytes (NUL added) at *pos; returns the copy. */
static const char *put_bytes(char **pos, const void *p, size_t n) {
    char *d = *pos;
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    *pos += n + 1;
    return d;
}

static void put_value(char **pos, dc_value *o, const dc__value *v) {
    *o = pub_of(v);
    if (v->kind == DC_STR || v->kind == DC_BYTES)
        o->ptr = put_bytes(pos, v->str, v->len);
}

static int copy_rec(const dc__rec *rec, dc_record **out) {
    *out = NULL;
    /* The entries sorted by name, then value: a field's set members run
     * together, in value order. */
    const dc__rfield **ord = NULL;
    if (rec->nf && !(ord = dc__malloc(rec->nf * sizeof *ord)))
        return DC_ENOMEM;
    for (size_t i = 0; i < rec->nf; i++)
        ord[i] = &rec->f[i];
    if (rec->nf > 1)
        qsort(ord, rec->nf, sizeof *ord, entry_cmp);
    size_t nf = 0, chars = strlen(rec->type) + strlen(rec->id) + 2, nkv = 0;
    for (size_t i = 0; i < rec->nf; i++) {
        if (i == 0 || strcmp(ord[i]->name, ord[i - 1]->name) != 0 ||
            ord[i]->member != ord[i - 1]->member) {
            nf++;
            chars += strlen(ord[i]->name) + 1;
        }
        if (ord[i]->v.kind == DC_STR || ord[i]->v.kind == DC_BYTES)
            chars += ord[i]->v.len + 1;
    }
    for (size_t i = 0; i < rec->ne; i++) {
        const dc__rev *e = &rec->events[i];
        nkv += e->nf;
        for (uint32_t k = 0; k < e->nf; k++) {
            chars += e->keys[k].n + 1;
            if (e->vals[k].kind == DC_STR || e->vals[k].kind == DC_BYTES)
                chars += e->vals[k].len + 1;
        }
    }
    size_t o_f = ALIGN(sizeof(dc_record));
    size_t o_v = o_f + ALIGN(nf * sizeof(tfield));
    size_t o_e = o_v + ALIGN(rec->nf * sizeof(dc_value));
    size_t o_ev = o_e + ALIGN(rec->ne * sizeof(tevent));
    size_t o_k = o_ev + ALIGN(nkv * sizeof(dc_value));
    size_t o_c = o_k + ALIGN(nkv * sizeof(char *));
    char *blk = dc__calloc(1, o_c + chars);
    if (!blk) {
        dc__free(ord);
        return DC_ENOMEM;
    }
    dc_record *r = (dc_record *)(void *)blk;
    r->f = (tfield *)(void *)(blk + o_f);
    r->e = (tevent *)(void *)(blk + o_e);
    dc_value *vals = (dc_value *)(void *)(blk + o_v);
    dc_value *evals = (dc_value *)(void *)(blk + o_ev);
    const char **keys = (const char **)(void *)(blk + o_k);
    char *pos = blk + o_c;
    r->type = put_bytes(&pos, rec->type, strlen(rec->type));
    r->id = put_bytes(&pos, rec->id, strlen(rec->id));
    tfield *cur = NULL;
    for (size_t i = 0; i < rec->nf; i++) {
        if (!cur || strcmp(ord[i]->name, cur->name) != 0 || ord[i]->member != cur->set) {
            cur = &r->f[r->nf++];
            cur->name = put_bytes(&pos, ord[i]->name, strlen(ord[i]->name));
            cur->set = ord[i]->member;
            cur->v = vals + i;
        }
        put_value(&pos, &vals[i], &ord[i]->v);
        cur->n++;
    }
    r->ne = rec->ne;
    for (size_t i = 0; i < rec->ne; i++) {
        const dc__rev *e = &rec->events[i];
        tevent *t = &r->e[i];
        t->time = e->time;
        memcpy(t->author, e->author, 32);
        dc__hex(t->author_hex, e->author, 32);
        t->n = e->nf;
        t->keys = keys;
        t->v = evals;
        for (uint32_t k = 0; k < e->nf; k++) {
            keys[k] = put_bytes(&pos, e->keys[k].p, e->keys[k].n);
            put_value(&pos, &evals[k], &e->vals[k]);
        }
        keys += e->nf;
        evals += e->nf;
    }
    dc__free(ord);
    *out = r;
    return 0;
}

void dc_record_free(dc_record *rec) {
    dc__free(rec);
}

/* ---- reading ---- */

/* The space, known and readable: 0, or an error on the replica. */
static int resolve(dc_replica *r, const char *space, const char *type, dc__space *sp) {
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    if (!type)
        return dc__fail(r, DC_EMISUSE, "the type is NULL");
    if (dc__store_space_get(r->st, sid, sp, &r->err))
        return dc__fail_err(r, &r->err);
    return dc__space_readable(r, sp);
}

static int one(void *user, const dc__rec *rec) {
    return copy_rec(rec, user);
}

int dc_record_read(dc_record **out, dc_replica *r, const char *space, const char *type,
                   const char *id) {
    DC__CHECK(r);
    if (!out || !id)
        return dc__fail(r, DC_EMISUSE, "record read: out and id must not be NULL");
    *out = NULL;
    dc__space sp;
    if (resolve(r, space, type, &sp))
        return r->err.code;
    int rc = dc__store_records_walk(r->st, sp.sid, type, id, true, one, out, &r->err);
    if (rc == DC_ENOMEM && r->err.code == 0)
        return dc__fail(r, DC_ENOMEM, "record read: out of memory");
    if (rc)
        return dc__fail_err(r, &r->err);
    if (!*out)
        return dc__fail(r, DC_ENOTFOUND, "record %s/%s is not in space %s (absent or deleted)",
                        type, id, space);
    return 0;
}

typedef struct qctx {
    dc_replica *r;
    int64_t sid;
    const char *type;
    const dc_query_options *o;
    dc__value where;
    size_t want; /* records worth keeping in id order: offset + limit */
    dc_records *rs;
    size_t cap;
} qctx;

static bool matches(const dc__rec *rec, const char *field, const dc__value *v) {
    for (size_t i = 0; i < rec->nf; i++)
        if (strcmp(rec->f[i].name, field) == 0 && dc__value_eq(&rec->f[i].v, v))
            return true;
    return false;
}

static int collect(void *user, const dc__rec *rec) {
    qctx *q = user;
    if (q->o->where_field && !matches(rec, q->o->where_field, &q->where))
        return 0;
    q->rs->total++;
    /* In id order without a sort, what lies past the page is only
     * counted; what lies before the offset is not kept either. */
    if (!q->o->order_by && (q->rs->total <= q->o->offset || (q->want && q->rs->total > q->want)))
        return 0;
    if (DC__VEC_ROOM(q->rs->rec, q->rs->n, q->cap))
        return DC_ENOMEM;
    int rc = copy_rec(rec, &q->rs->rec[q->rs->n]);
    if (!rc)
        q->rs->n++;
    return rc;
}

/* One id the index gave: the record read and collected (collect checks
 * the value again, so a stale row can never add a record). */
static int by_id(void *user, const char *id) {
    qctx *q = user;
    return dc__store_records_walk(q->r->st, q->sid, q->type, id, q->o->with_events != 0, collect, q,
                                  &q->r->err);
}

static const dc_value *reg_of(const dc_record *rec, const char *field) {
    for (size_t i = 0; i < rec->nf; i++)
        if (!rec->f[i].set && strcmp(rec->f[i].name, field) == 0)
            return rec->f[i].v;
    return NULL;
}

/* qsort has no context argument in C11: the sort's key travels here (one
 * sort at a time per thread). */
static _Thread_local const dc_query_options *sort_opts;

static int order_cmp(const void *x, const void *y) {
    const dc_record *a = *(dc_record *const *)x, *b = *(dc_record *const *)y;
    const dc_value *va = reg_of(a, sort_opts->order_by), *vb = reg_of(b, sort_opts->order_by);
    int c;
    if (!va || !vb) {
        c = (va == NULL) - (vb == NULL); /* without the field: last either way */
    } else {
        c = dc_value_compare(va, vb);
        if (sort_opts->descending)
            c = -c;
    }
    return c ? c : strcmp(a->id, b->id);
}

int dc_record_query(dc_records **out, dc_replica *r, const char *space, const char *type,
                    const dc_query_options *opts) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "record query: out is NULL");
    *out = NULL;
    dc_query_options def = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 1};
    const dc_query_options *o = opts ? opts : &def;
    if (o->version != DC_QUERY_OPTIONS_VERSION)
        return dc__fail(r, DC_EINVAL, "record query: options version %u, this library reads %u",
                        o->version, DC_QUERY_OPTIONS_VERSION);
    qctx q;
    memset(&q, 0, sizeof q);
    q.r = r;
    q.o = o;
    if (o->where_field) {
        const dc_value *w = o->where_value;
        if (!w)
            return dc__fail(r, DC_EMISUSE, "record query: where_field without a where_value");
        q.where.kind = w->kind;
        switch (w->kind) {
        case DC_NULL: break;
        case DC_BOOL: q.where.num = w->num != 0; break;
        case DC_INT: q.where.num = w->num; break;
        case DC_FLOAT:
            if (!isfinite(w->real))
                return dc__fail(r, DC_EINVAL, "record query: a float must be finite");
            q.where = dc__value_real(w->real);
            break;
        case DC_STR:
        case DC_BYTES:
            if ((!w->ptr && w->len) || w->len > DC_STR_MAX)
                return dc__fail(r, DC_EINVAL,
                                "record query: the value's bytes are NULL or too long");
            q.where.str = w->ptr;
            q.where.len = (uint32_t)w->len;
            break;
        default: return dc__fail(r, DC_EINVAL, "record query: unknown value kind %d", w->kind);
        }
    }
    if (o->limit)
        q.want = o->offset + o->limit < o->offset ? SIZE_MAX : o->offset + o->limit;
    dc__space sp;
    if (resolve(r, space, type, &sp))
        return r->err.code;
    if (!(q.rs = dc__calloc(1, sizeof *q.rs)))
        return dc__fail(r, DC_ENOMEM, "record query: out of memory");
    bool indexed = false;
    int rc = 0;
    if (o->where_field) {
        q.sid = sp.sid;
        q.type = type;
        rc = dc__store_index_lookup(r->st, sp.sid, type, o->where_field, &q.where, &indexed, by_id,
                                    &q, &r->err);
    }
    if (!rc && !indexed)
        rc = dc__store_records_walk(r->st, sp.sid, type, NULL, o->with_events != 0, collect, &q,
                                    &r->err);
    if (rc) {
        dc_records_free(q.rs);
        if (rc == DC_ENOMEM && r->err.code == 0)
            return dc__fail(r, DC_ENOMEM, "record query: out of memory");
        return dc__fail_err(r, &r->err);
    }
    dc_records *rs = q.rs;
    if (o->order_by) {
        sort_opts = o;
        if (rs->n > 1)
            qsort(rs->rec, rs->n, sizeof *rs->rec, order_cmp);
        sort_opts = NULL;
        /* The page of the sorted whole. */
        size_t from = o->offset < rs->n ? o->offset : rs->n;
        size_t to = q.want && q.want < rs->n ? q.want : rs->n;
        for (size_t i = 0; i < from; i++)
            dc_record_free(rs->rec[i]);
        for (size_t i = to; i < rs->n; i++)
            dc_record_free(rs->rec[i]);
        memmove(rs->rec, rs->rec + from, (to - from) * sizeof *rs->rec);
        rs->n = to - from;
    }
    *out = rs;
    return 0;
}

size_t dc_records_count(const dc_records *rs) {
    return rs ? rs->n : 0;
}

size_t dc_records_total(const dc_records *rs) {
    return rs ? rs->total : 0;
}

const dc_record *dc_records_at(const dc_records *rs, size_t i) {
    return rs && i < rs->n ? rs->rec[i] : NULL;
}

void dc_records_free(dc_records *rs) {
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        dc_record_free(rs->rec[i]);
    dc__free(rs->rec);
    dc__free(rs);
}

/* ---- accessors ---- */

const char *dc_record_type(const dc_record *rec) {
    return rec ? rec->type : NULL;
}

const char *dc_record_id(const dc_record *rec) {
    return rec ? rec->id : NULL;
}

size_t dc_record_field_count(const dc_record *rec) {
    return rec ? rec->nf : 0;
}

int dc_record_field_at(const dc_record *rec, size_t i, const char **name, int *is_set) {
    if (!rec)
        return dc__last_set(DC_EMISUSE, "record: the record is NULL");
    if (i >= rec->nf)
        return dc__last_set(DC_EINVAL, "record %s: field %zu of %zu", rec->id, i, rec->nf);
    if (name)
        *name = rec->f[i].name;
    if (is_set)
        *is_set = rec->f[i].set;
    return 0;
}

static const tfield *field_of(const dc_record *rec, const char *field) {
    for (size_t i = 0; i < rec->nf; i++)
        if (strcmp(rec->f[i].name, field) == 0)
            return &rec->f[i];
    return NULL;
}

int dc_record_get_value(const dc_record *rec, const char *field, dc_value *out) {
    if (!rec || !field || !out)
        return dc__last_set(DC_EMISUSE, "record get: record, field and out must not be NULL");
    const tfield *f = field_of(rec, field);
    if (!f)
        return dc__last_set(DC_ENOTFOUND, "record %s has no field %s", rec->id, field);
    if (f->set)
        return dc__last_set(DC_EINVAL, "record %s: field %s is a set (dc_record_set_at)", rec->id,
                            field);
    *out = f->v[0];
    return 0;
}

const char *dc_record_get_str(const dc_record *rec, const char *field) {
    dc_value v;
    if (dc_record_get_value(rec, field, &v) || v.kind != DC_STR)
        return NULL;
    return v.ptr;
}

int dc_record_get_int(const dc_record *rec, const char *field, int64_t *out) {
    dc_value v;
    if (!out)
        return dc__last_set(DC_EMISUSE, "record get: out is NULL");
    int rc = dc_record_get_value(rec, field, &v);
    if (rc)
        return rc;
    if (v.kind != DC_INT)
        return dc__last_set(DC_EINVAL, "record %s: field %s holds no integer", rec->id, field);
    *out = v.num;
    return 0;
}

static const tfield *set_of(const dc_record *rec, const char *field) {
    const tfield *f = rec && field ? field_of(rec, field) : NULL;
    return f && f->set ? f : NULL;
}

size_t dc_record_set_size(const dc_record *rec, const char *field) {
    const tfield *f = set_of(rec, field);
    return f ? f->n : 0;
}

int dc_record_set_at(const dc_record *rec, const char *field, size_t i, dc_value *out) {
    if (!rec || !field || !out)
        return dc__last_set(DC_EMISUSE, "record set: record, field and out must not be NULL");
    const tfield *f = set_of(rec, field);
    if (!f)
        return dc__last_set(DC_ENOTFOUND, "record %s has no set %s", rec->id, field);
    if (i >= f->n)
        return dc__last_set(DC_EINVAL, "record %s: member %zu of set %s, which has %zu", rec->id, i,
                            field, f->n);
    *out = f->v[i];
    return 0;
}

int dc_record_set_contains(const dc_record *rec, const char *field, const dc_value *v) {
    const tfield *f = set_of(rec, field);
    if (!f || !v)
        return 0;
    for (size_t i = 0; i < f->n; i++)
        if (value_same(&f->v[i], v))
            return 1;
    return 0;
}

size_t dc_record_event_count(const dc_record *rec) {
    return rec ? rec->ne : 0;
}

static const tevent *event_of(const dc_record *rec, size_t i) {
    if (!rec) {
        dc__last_set(DC_EMISUSE, "record: the record is NULL");
        return NULL;
    }
    if (i >= rec->ne) {
        dc__last_set(DC_EINVAL, "record %s: event %zu of %zu", rec->id, i, rec->ne);
        return NULL;
    }
    return &rec->e[i];
}

int dc_record_event_at(const dc_record *rec, size_t i, dc_event_info *out) {
    const tevent *e = event_of(rec, i);
    if (!e)
        return dc_error_last_code();
    if (!out)
        return dc__last_set(DC_EMISUSE, "record event: out is NULL");
    out->time_ms = e->time;
    memcpy(out->author, e->author, 32);
    memcpy(out->author_hex, e->author_hex, sizeof out->author_hex);
    out->nfields = e->n;
    return 0;
}

int dc_record_event_field_at(const dc_record *rec, size_t i, size_t j, const char **key,
                             dc_value *out) {
    const tevent *e = event_of(rec, i);
    if (!e)
        return dc_error_last_code();
    if (j >= e->n)
        return dc__last_set(DC_EINVAL, "record %s: field %zu of event %zu, which has %zu", rec->id,
                            j, i, e->n);
    if (key)
        *key = e->keys[j];
    if (out)
        *out = e->v[j];
    return 0;
}

int dc_record_event_get(const dc_record *rec, size_t i, const char *key, dc_value *out) {
    const tevent *e = event_of(rec, i);
    if (!e)
        return dc_error_last_code();
    if (!key || !out)
        return dc__last_set(DC_EMISUSE, "record event: key and out must not be NULL");
    for (size_t j = 0; j < e->n; j++)
        if (strcmp(e->keys[j], key) == 0) {
            *out = e->v[j];
            return 0;
        }
    return dc__last_set(DC_ENOTFOUND, "record %s: event %zu has no field %s", rec->id, i, key);
}

/* ---- digests (live queries compare results by them) ---- */

static void h_bytes(crypto_generichash_state *h, const void *p, size_t n) {
    uint64_t len = n;
    crypto_generichash_update(h, (const unsigned char *)&len, sizeof len);
    if (n)
        crypto_generichash_update(h, p, n);
}

static void h_u64(crypto_generichash_state *h, uint64_t v) {
    crypto_generichash_update(h, (const unsigned char *)&v, sizeof v);
}

static void h_value(crypto_generichash_state *h, const dc_value *v) {
    h_u64(h, (uint64_t)v->kind);
    switch (v->kind) {
    case DC_BOOL:
    case DC_INT: h_u64(h, (uint64_t)v->num); break;
    case DC_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->real, sizeof bits);
        h_u64(h, bits);
        break;
    }
    case DC_STR:
    case DC_BYTES: h_bytes(h, v->ptr, v->len); break;
    default: break;
    }
}

void dc__records_digest(const dc_records *rs, uint8_t out[32]) {
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    h_u64(&h, rs->total);
    h_u64(&h, rs->n);
    for (size_t i = 0; i < rs->n; i++) {
        const dc_record *rec = rs->rec[i];
        h_bytes(&h, rec->id, strlen(rec->id));
        h_u64(&h, rec->nf);
        for (size_t f = 0; f < rec->nf; f++) {
            h_bytes(&h, rec->f[f].name, strlen(rec->f[f].name));
            h_u64(&h, (uint64_t)rec->f[f].set);
            h_u64(&h, rec->f[f].n);
            for (size_t k = 0; k < rec->f[f].n; k++)
                h_value(&h, &rec->f[f].v[k]);
        }
        h_u64(&h, rec->ne);
        for (size_t e = 0; e < rec->ne; e++) {
            h_u64(&h, (uint64_t)rec->e[e].time);
            crypto_generichash_update(&h, rec->e[e].author, 32);
            h_u64(&h, rec->e[e].n);
            for (size_t k = 0; k < rec->e[e].n; k++) {
                h_bytes(&h, rec->e[e].keys[k], strlen(rec->e[e].keys[k]));
                h_value(&h, &rec->e[e].v[k]);
            }
        }
    }
    crypto_generichash_final(&h, out, 32);
}

int dc_index_declare(dc_replica *r, const char *space, const char *type, const char *field) {
    DC__CHECK(r);
    if (!type || !field || !*field)
        return dc__fail(r, DC_EMISUSE, "index declare: type and field must be given");
    dc__space sp;
    if (resolve(r, space, type, &sp))
        return r->err.code;
    int rc = dc__store_index_declare(r->st, sp.sid, type, field, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}
