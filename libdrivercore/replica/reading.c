/*
 * Typed reads: a record copied out of the store's walk into one block the
 * caller owns, queries over a type (filter, order, page), and walks that
 * hand each record over as a view, valid during a callback, over the
 * store's own decoded record (no copy of its strings).
 *
 * The store hands a record over for the length of a callback (dc__rec:
 * registers in name order, one entry per set member, typed events).  A
 * dc_record is that record made to last: measured first, then copied into
 * a single allocation, so that freeing it is one call and reading it never
 * touches the replica again (docs/reading.md).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

typedef struct tfield {
    const char *name;
    int set;
    size_t n;
    dc_value *v;
} tfield;

struct dc_record {
    const char *type, *id;
    size_t nf;
    tfield *f;
    size_t ne;
    dc_event *e;
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
    chars += rec->ne * 33; /* each event's author key */
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
    size_t o_ev = o_e + ALIGN(rec->ne * sizeof(dc_event));
    size_t o_k = o_ev + ALIGN(nkv * sizeof(dc_value));
    size_t o_c = o_k + ALIGN(nkv * sizeof(char *));
    char *blk = dc__calloc(1, o_c + chars);
    if (!blk) {
        dc__free(ord);
        return DC_ENOMEM;
    }
    dc_record *r = (dc_record *)(void *)blk;
    r->f = (tfield *)(void *)(blk + o_f);
    r->e = (dc_event *)(void *)(blk + o_e);
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
        dc_event *t = &r->e[i];
        t->time_ms = e->time;
        t->author = (const uint8_t *)put_bytes(&pos, e->author, 32);
        t->nfields = e->nf;
        t->keys = keys;
        t->values = evals;
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

/* The space, known and readable: 0, or an error on the replica.  With
 * `unaccepted_empty`, a space not accepted is no error: *empty is set. */
static int resolve_as(dc_replica *r, const char *space, const char *type, dc__space *sp,
                      bool unaccepted_empty, bool *empty) {
    uint8_t sid[16];
    *empty = false;
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    if (!type)
        return dc__fail(r, DC_EMISUSE, "the type is NULL");
    if (dc__store_space_get(r->st, sid, sp, &r->err))
        return dc__fail_err(r, &r->err);
    if (unaccepted_empty && sp->consent != DC_CONSENT_ACCEPTED) {
        *empty = true;
        return 0;
    }
    return dc__space_readable(r, sp);
}

static int resolve(dc_replica *r, const char *space, const char *type, dc__space *sp) {
    bool empty;
    return resolve_as(r, space, type, sp, false, &empty);
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

int dc__query_options_read(dc_replica *r, const char *what, const dc_query_options *in,
                           dc_query_options *o) {
    memset(o, 0, sizeof *o);
    o->version = DC_QUERY_OPTIONS_VERSION;
    o->with_events = 1;
    if (in && in->version == 1) /* shorter: its own fields only */
        memcpy(o, in, offsetof(dc_query_options, id));
    else if (in && in->version == DC_QUERY_OPTIONS_VERSION)
        *o = *in;
    else if (in)
        return dc__fail(r, DC_EINVAL, "%s: options version %u, this library reads 1 to %u", what,
                        in->version, DC_QUERY_OPTIONS_VERSION);
    o->version = DC_QUERY_OPTIONS_VERSION;
    if (o->where_field && !o->where_value)
        return dc__fail(r, DC_EMISUSE, "%s: where_field without a where_value", what);
    return 0;
}

/* The options (dc__query_options_read) and the filter's value. */
static int options_of(dc_replica *r, const char *what, const dc_query_options *in,
                      dc_query_options *o, dc__value *where) {
    memset(where, 0, sizeof *where);
    if (dc__query_options_read(r, what, in, o))
        return r->err.code;
    if (!o->where_field)
        return 0;
    const dc_value *w = o->where_value;
    where->kind = w->kind;
    switch (w->kind) {
    case DC_NULL: break;
    case DC_BOOL: where->num = w->num != 0; break;
    case DC_INT: where->num = w->num; break;
    case DC_FLOAT:
        if (!isfinite(w->real))
            return dc__fail(r, DC_EINVAL, "%s: a float must be finite", what);
        *where = dc__value_real(w->real);
        break;
    case DC_STR:
    case DC_BYTES:
        if ((!w->ptr && w->len) || w->len > DC_STR_MAX)
            return dc__fail(r, DC_EINVAL, "%s: the value's bytes are NULL or too long", what);
        where->str = w->ptr;
        where->len = (uint32_t)w->len;
        break;
    default: return dc__fail(r, DC_EINVAL, "%s: unknown value kind %d", what, w->kind);
    }
    return 0;
}

/* A walk over the records a query selects: the value index when one is
 * declared on where_field, else every record of the type (or the one id);
 * each record that matches goes to `fn`.  0, fn's code, or an error. */
typedef struct qctx {
    dc_replica *r;
    int64_t sid;
    const char *type;
    const dc_query_options *o;
    dc__value where;
    dc__rec_fn fn;
    void *user;
} qctx;

static bool matches(const dc__rec *rec, const char *field, const dc__value *v) {
    for (size_t i = 0; i < rec->nf; i++)
        if (strcmp(rec->f[i].name, field) == 0 && dc__value_eq(&rec->f[i].v, v))
            return true;
    return false;
}

static int matching(void *user, const dc__rec *rec) {
    qctx *q = user;
    if (q->o->where_field && !matches(rec, q->o->where_field, &q->where))
        return 0;
    return q->fn(q->user, rec);
}

/* One id the index gave: the record read and checked (the value is
 * checked again, so a stale row can never add a record). */
static int by_id(void *user, const char *id) {
    qctx *q = user;
    if (q->o->id && strcmp(id, q->o->id) != 0)
        return 0;
    return dc__store_records_walk(q->r->st, q->sid, q->type, id, q->o->with_events != 0, matching,
                                  q, &q->r->err);
}

static int query_walk(qctx *q) {
    bool indexed = false;
    int rc = 0;
    if (q->o->where_field)
        rc = dc__store_index_lookup(q->r->st, q->sid, q->type, q->o->where_field, &q->where,
                                    &indexed, by_id, q, &q->r->err);
    if (!rc && !indexed)
        rc = dc__store_records_walk(q->r->st, q->sid, q->type, q->o->id, q->o->with_events != 0,
                                    matching, q, &q->r->err);
    return rc;
}

/* What a query and a walk share: the options read into *o, the space
 * resolved, q made ready to walk (its fn and user still to set), and how
 * many records in id order are worth reading (offset + limit, 0: all).
 * 0 or an error on the replica; *empty for a space read as empty. */
static int query_ready(dc_replica *r, const char *what, const char *space, const char *type,
                       const dc_query_options *opts, dc_query_options *o, qctx *q, size_t *want,
                       bool *empty) {
    memset(q, 0, sizeof *q);
    *want = 0;
    *empty = false;
    if (options_of(r, what, opts, o, &q->where))
        return r->err.code;
    if (o->order_by && strcmp(what, "record each") == 0)
        return dc__fail(r, DC_EINVAL,
                        "record each: a walk goes in id order and cannot sort by %s; sort "
                        "with dc_record_query",
                        o->order_by);
    if (o->limit)
        *want = o->offset + o->limit < o->offset ? SIZE_MAX : o->offset + o->limit;
    dc__space sp;
    if (resolve_as(r, space, type, &sp, o->unaccepted_empty != 0, empty))
        return r->err.code;
    q->r = r;
    q->sid = sp.sid;
    q->type = type;
    q->o = o;
    return 0;
}

typedef struct collect_ctx {
    const dc_query_options *o;
    size_t want; /* records worth keeping in id order: offset + limit */
    dc_records *rs;
    size_t cap;
} collect_ctx;

static int collect(void *user, const dc__rec *rec) {
    collect_ctx *c = user;
    c->rs->total++;
    /* In id order without a sort, what lies past the page is only
     * counted; what lies before the offset is not kept either. */
    if (!c->o->order_by && (c->rs->total <= c->o->offset || (c->want && c->rs->total > c->want)))
        return 0;
    if (DC__VEC_ROOM(c->rs->rec, c->rs->n, c->cap))
        return DC_ENOMEM;
    int rc = copy_rec(rec, &c->rs->rec[c->rs->n]);
    if (!rc)
        c->rs->n++;
    return rc;
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
    dc_query_options o;
    qctx q;
    collect_ctx c = {&o, 0, NULL, 0};
    bool empty;
    if (query_ready(r, "record query", space, type, opts, &o, &q, &c.want, &empty))
        return r->err.code;
    if (!(c.rs = dc__calloc(1, sizeof *c.rs)))
        return dc__fail(r, DC_ENOMEM, "record query: out of memory");
    q.fn = collect;
    q.user = &c;
    int rc = empty ? 0 : query_walk(&q);
    if (rc) {
        dc_records_free(c.rs);
        if (rc == DC_ENOMEM && r->err.code == 0)
            return dc__fail(r, DC_ENOMEM, "record query: out of memory");
        return dc__fail_err(r, &r->err);
    }
    dc_records *rs = c.rs;
    if (o.order_by) {
        sort_opts = &o;
        if (rs->n > 1)
            qsort(rs->rec, rs->n, sizeof *rs->rec, order_cmp);
        sort_opts = NULL;
        /* The page of the sorted whole. */
        size_t from = o.offset < rs->n ? o.offset : rs->n;
        size_t to = c.want && c.want < rs->n ? c.want : rs->n;
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

/* ---- walks: a record as a view ---- */

/* The scratch a walk's views are made in, grown to the largest record
 * seen and reused: a record costs no allocation once the walk is warm.
 * Strings are not copied: the store's are NUL-terminated and live for the
 * callback, as the view does. */
typedef struct view {
    dc_record rec;
    const dc__rfield **ord, **mem;
    tfield *f;
    dc_value *v;
    size_t capo, capm, capf, capv;
    dc_event *e;
    const char **keys;
    dc_value *ev;
    size_t cape, capk, capev;
} view;

static void view_free(view *w) {
    dc__free(w->ord);
    dc__free(w->mem);
    dc__free(w->f);
    dc__free(w->v);
    dc__free(w->e);
    dc__free(w->keys);
    dc__free(w->ev);
}

static int view_make(view *w, const dc__rec *rec) {
    size_t nkv = 0;
    for (size_t i = 0; i < rec->ne; i++)
        nkv += rec->events[i].nf;
    if (DC__VEC_RESERVE(w->ord, w->capo, rec->nf) || DC__VEC_RESERVE(w->mem, w->capm, rec->nf) ||
        DC__VEC_RESERVE(w->f, w->capf, rec->nf) || DC__VEC_RESERVE(w->v, w->capv, rec->nf) ||
        DC__VEC_RESERVE(w->e, w->cape, rec->ne) || DC__VEC_RESERVE(w->keys, w->capk, nkv) ||
        DC__VEC_RESERVE(w->ev, w->capev, nkv))
        return DC_ENOMEM;
    /* The store gives the registers first, in name order (distinct names:
     * no set shares a register's name), then the set members.  Members
     * are sorted among themselves (a record has few), then merged with the
     * registers: a record without sets costs no comparison at all. */
    size_t nreg = 0;
    while (nreg < rec->nf && !rec->f[nreg].member)
        nreg++;
    const dc__rfield **mem = w->mem;
    size_t nmem = 0;
    for (size_t i = nreg; i < rec->nf; i++) {
        const dc__rfield *x = &rec->f[i];
        size_t j = nmem++;
        while (j > 0 && entry_cmp(&mem[j - 1], &x) > 0) {
            mem[j] = mem[j - 1];
            j--;
        }
        mem[j] = x;
    }
    /* Each set's place among the registers by a binary search (its
     * members follow each other in mem). */
    size_t a = 0, b = 0, k = 0;
    while (b < nmem) {
        size_t lo = a, hi = nreg;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(rec->f[mid].name, mem[b]->name) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        while (a < lo)
            w->ord[k++] = &rec->f[a++];
        const char *name = mem[b]->name;
        do
            w->ord[k++] = mem[b++];
        while (b < nmem && (mem[b]->name == name || strcmp(mem[b]->name, name) == 0));
    }
    while (a < nreg)
        w->ord[k++] = &rec->f[a++];
    dc_record *r = &w->rec;
    r->type = rec->type;
    r->id = rec->id;
    r->nf = 0;
    r->f = w->f;
    tfield *cur = NULL;
    for (size_t i = 0; i < rec->nf; i++) {
        const dc__rfield *x = w->ord[i];
        if (!x->member || !cur || !cur->set ||
            (cur->name != x->name && strcmp(x->name, cur->name) != 0)) {
            cur = &w->f[r->nf++];
            cur->name = x->name;
            cur->set = x->member;
            cur->n = 0;
            cur->v = w->v + i;
        }
        w->v[i] = pub_of(&x->v);
        cur->n++;
    }
    r->ne = rec->ne;
    r->e = w->e;
    const char **keys = w->keys;
    dc_value *vals = w->ev;
    for (size_t i = 0; i < rec->ne; i++) {
        const dc__rev *e = &rec->events[i];
        dc_event *t = &w->e[i];
        t->time_ms = e->time;
        t->author = e->author;
        t->nfields = e->nf;
        t->keys = keys;
        t->values = vals;
        for (uint32_t k = 0; k < e->nf; k++) {
            keys[k] = e->keys[k].p;
            vals[k] = pub_of(&e->vals[k]);
        }
        keys += e->nf;
        vals += e->nf;
    }
    return 0;
}

typedef struct wctx {
    dc_replica *r;
    const dc_query_options *o;
    size_t seen, want;
    bool done, nomem;
    dc_record_fn fn;
    void *user;
    view w;
} wctx;

static int walk_one(void *user, const dc__rec *rec) {
    wctx *c = user;
    c->seen++;
    if (c->seen <= c->o->offset)
        return 0;
    if (c->want && c->seen > c->want) {
        c->done = true;
        return 1;
    }
    if (view_make(&c->w, rec)) {
        c->nomem = true;
        return DC_ENOMEM;
    }
    return c->fn(c->user, &c->w.rec);
}

int dc_record_each(dc_replica *r, const char *space, const char *type, const dc_query_options *opts,
                   dc_record_fn fn, void *user) {
    DC__CHECK(r);
    if (!fn)
        return dc__fail(r, DC_EMISUSE, "record each: fn is NULL");
    dc_query_options o;
    qctx q;
    wctx c;
    memset(&c, 0, sizeof c);
    bool empty;
    if (query_ready(r, "record each", space, type, opts, &o, &q, &c.want, &empty) || empty)
        return r->err.code;
    c.r = r;
    c.o = &o;
    c.fn = fn;
    c.user = user;
    q.fn = walk_one;
    q.user = &c;
    int rc = query_walk(&q);
    view_free(&c.w);
    if (c.done && rc == 1)
        return 0;
    if (c.nomem && rc == DC_ENOMEM)
        return dc__fail(r, DC_ENOMEM, "record each: out of memory");
    if (rc && r->err.code == 0)
        return rc; /* fn's own code */
    return rc ? dc__fail_err(r, &r->err) : 0;
}

/* ---- a record's position in a query's order ---- */

typedef struct pctx {
    const char *id;
    dc_record *target; /* the record, copied (its order key outlives the walk) */
    uint64_t before;   /* matching records that sort before it */
    bool nomem;
    view w;
} pctx;

static int pos_target(void *user, const dc__rec *rec) {
    pctx *c = user;
    if (c->target)
        return 0;
    if (copy_rec(rec, &c->target)) {
        c->nomem = true;
        return DC_ENOMEM;
    }
    return 0;
}

/* With order_by: each record as a view (no copy, no allocation once the
 * view is warm), compared by the sort's own order_cmp. */
static int pos_sorted(void *user, const dc__rec *rec) {
    pctx *c = user;
    if (view_make(&c->w, rec)) {
        c->nomem = true;
        return DC_ENOMEM;
    }
    const dc_record *a = &c->w.rec;
    if (order_cmp(&a, &c->target) < 0)
        c->before++;
    return 0;
}

/* Without order_by: the id order, so the ids below it. */
static int pos_by_id(void *user, const dc__rec *rec) {
    pctx *c = user;
    if (strcmp(rec->id, c->id) < 0)
        c->before++;
    return 0;
}

static int position_in(dc_replica *r, const char *space, const char *type,
                       const dc_query_options *opts, const char *id, uint64_t *pos, pctx *c) {
    dc_query_options o;
    qctx q;
    size_t want;
    bool empty;
    if (query_ready(r, "record position", space, type, opts, &o, &q, &want, &empty))
        return r->err.code;
    if (o.id && strcmp(o.id, id) != 0)
        return dc__fail(r, DC_EINVAL, "record position: opts->id is %s, not the record's id %s",
                        o.id, id);
    /* The page is not the position's: the whole list, its fields only. */
    o.offset = o.limit = 0;
    o.with_events = 0;
    o.id = id;
    q.fn = pos_target;
    q.user = c;
    int rc = empty ? 0 : query_walk(&q);
    if (!rc && !c->target)
        return dc__fail(r, DC_ENOTFOUND,
                        "record position: %s %s is not in the list (absent, deleted or not "
                        "matching %s)",
                        type, id, o.where_field ? o.where_field : "the query");
    o.id = NULL;
    c->id = id;
    q.fn = o.order_by ? pos_sorted : pos_by_id;
    if (!rc) {
        sort_opts = &o;
        rc = query_walk(&q);
        sort_opts = NULL;
    }
    if (rc) {
        if (c->nomem && rc == DC_ENOMEM)
            return dc__fail(r, DC_ENOMEM, "record position: out of memory");
        return dc__fail_err(r, &r->err);
    }
    *pos = c->before;
    return 0;
}

int dc_record_position(dc_replica *r, const char *space, const char *type,
                       const dc_query_options *opts, const char *id, uint64_t *pos) {
    DC__CHECK(r);
    if (!id || !pos)
        return dc__fail(r, DC_EMISUSE, "record position: id and pos must not be NULL");
    *pos = 0;
    /* Two walks (the record, then the records before it) as one state. */
    if (dc_replica_read_begin(r))
        return r->err.code;
    pctx c;
    memset(&c, 0, sizeof c);
    int rc = position_in(r, space, type, opts, id, pos, &c);
    dc_record_free(c.target);
    view_free(&c.w);
    dc_replica_read_end(r);
    return rc;
}

int dc_record_count(dc_replica *r, const char *space, const char *type, uint64_t *n) {
    DC__CHECK(r);
    if (!n)
        return dc__fail(r, DC_EMISUSE, "record count: n is NULL");
    *n = 0;
    dc__space sp;
    if (resolve(r, space, type, &sp))
        return r->err.code;
    int rc = dc__store_records_count(r->st, sp.sid, type, n, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_record_locate(dc_replica *r, const char *type, const char *id, char space[33]) {
    DC__CHECK(r);
    if (!type || !id || !space)
        return dc__fail(r, DC_EMISUSE, "record locate: type, id and space must not be NULL");
    uint8_t sp[16];
    int rc = dc__store_record_locate(r->st, type, id, sp, &r->err);
    if (rc == DC_ENOTFOUND)
        return dc__fail(r, DC_ENOTFOUND, "no space this device reads holds a live %s %s", type, id);
    if (rc)
        return dc__fail_err(r, &r->err);
    dc__hex(space, sp, 16);
    return 0;
}

int dc_replica_read_begin(dc_replica *r) {
    DC__CHECK(r);
    if (r->read_depth++ > 0)
        return 0;
    bool began = false;
    int rc = dc__store_snapshot_begin(r->st, &began, &r->err);
    if (rc) {
        r->read_depth = 0;
        return dc__fail_err(r, &r->err);
    }
    r->read_began = began;
    return 0;
}

int dc_replica_read_end(dc_replica *r) {
    /* Not DC__CHECK: the error a read inside left stays on the handle, so
     * that a caller may end the read before returning that error. */
    if (!r)
        return dc__last_set(DC_EMISUSE, "%s: the replica handle is NULL", __func__);
    if (r->read_depth == 0)
        return dc__fail(r, DC_EMISUSE, "read end: no dc_replica_read_begin to end");
    if (--r->read_depth > 0)
        return 0;
    dc__store_snapshot_end(r->st, r->read_began);
    r->read_began = false;
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

/* Fields are in name order (bytewise, as strcmp), one per name, in a copy
 * as in a view: a binary search. */
static const tfield *field_of(const dc_record *rec, const char *field) {
    size_t lo = 0, hi = rec->nf;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rec->f[mid].name, field);
        if (c == 0)
            return &rec->f[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
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

static const dc_event *event_of(const dc_record *rec, size_t i) {
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
    const dc_event *e = event_of(rec, i);
    if (!e)
        return dc_error_last_code();
    if (!out)
        return dc__last_set(DC_EMISUSE, "record event: out is NULL");
    out->time_ms = e->time_ms;
    memcpy(out->author, e->author, 32);
    dc__hex(out->author_hex, e->author, 32);
    out->nfields = e->nfields;
    return 0;
}

int dc_record_event_field_at(const dc_record *rec, size_t i, size_t j, const char **key,
                             dc_value *out) {
    const dc_event *e = event_of(rec, i);
    if (!e)
        return dc_error_last_code();
    if (j >= e->nfields)
        return dc__last_set(DC_EINVAL, "record %s: field %zu of event %zu, which has %zu", rec->id,
                            j, i, e->nfields);
    if (key)
        *key = e->keys[j];
    if (out)
        *out = e->values[j];
    return 0;
}

int dc_record_event_get(const dc_record *rec, size_t i, const char *key, dc_value *out) {
    const dc_event *e = event_of(rec, i);
    if (!e)
        return dc_error_last_code();
    if (!key || !out)
        return dc__last_set(DC_EMISUSE, "record event: key and out must not be NULL");
    const dc_value *v = dc_event_value(e, key);
    if (!v)
        return dc__last_set(DC_ENOTFOUND, "record %s: event %zu has no field %s", rec->id, i, key);
    *out = *v;
    return 0;
}

/* ---- cheap reads ---- */

const dc_value *dc_record_value(const dc_record *rec, const char *field) {
    const tfield *f = rec && field ? field_of(rec, field) : NULL;
    return f && !f->set ? f->v : NULL;
}

const dc_value *dc_record_set_values(const dc_record *rec, const char *field, size_t *n) {
    const tfield *f = set_of(rec, field);
    if (n)
        *n = f ? f->n : 0;
    return f ? f->v : NULL;
}

const dc_event *dc_record_event(const dc_record *rec, size_t i) {
    return rec && i < rec->ne ? &rec->e[i] : NULL;
}

const dc_value *dc_event_value(const dc_event *e, const char *key) {
    if (!e || !key)
        return NULL;
    for (size_t j = 0; j < e->nfields; j++)
        if (strcmp(e->keys[j], key) == 0)
            return &e->values[j];
    return NULL;
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
            const dc_event *ev = &rec->e[e];
            h_u64(&h, (uint64_t)ev->time_ms);
            crypto_generichash_update(&h, ev->author, 32);
            h_u64(&h, ev->nfields);
            for (size_t k = 0; k < ev->nfields; k++) {
                h_bytes(&h, ev->keys[k], strlen(ev->keys[k]));
                h_value(&h, &ev->values[k]);
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
