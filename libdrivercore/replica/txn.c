/*
 * Local transactions: ops are collected in memory (validated as they come,
 * so a bad op is refused at once and the rest of the transaction stays
 * usable), then committed as one change envelope and applied through the
 * same merge code as a received change, inside one SQLite transaction.
 */
#include <math.h>
#include <string.h>

#include "replica/replica_int.h"

struct dc_txn {
    dc_replica *r;
    dc__space sp;
    dc__op *ops;
    size_t n, cap;
    char **strs; /* every string the ops point to, owned */
    size_t ns, scap;
    bool event_open;
};

#define T_CHECK(t)                                                                                 \
    do {                                                                                           \
        if (!(t))                                                                                  \
            return dc__last_set(DC_EMISUSE, "%s: the transaction handle is NULL", __func__);       \
        dc__err_clear(&(t)->r->err);                                                               \
    } while (0)

static int own(dc_txn *t, const char *s, size_t n, dc__str *out) {
    if (DC__VEC_ROOM(t->strs, t->ns, t->scap))
        return DC_ENOMEM;
    char *d = dc__strndup(s, n);
    if (!d)
        return DC_ENOMEM;
    t->strs[t->ns++] = d;
    out->p = d;
    out->n = (uint32_t)n;
    return 0;
}

static int check_name(dc_txn *t, const char *what, const char *s, bool key) {
    if (!s)
        return dc__fail(t->r, DC_EMISUSE, "%s is NULL", what);
    size_t n = strlen(s);
    if (n == 0 || n > DC_STR_MAX || !dc__utf8_valid((const uint8_t *)s, n))
        return dc__fail(t->r, DC_EINVAL, "%s must be 1 to %u bytes of valid UTF-8", what,
                        DC_STR_MAX);
    if (key && s[0] == '@')
        return dc__fail(t->r, DC_EINVAL, "%s '%.64s': names beginning with '@' are reserved", what,
                        s);
    return 0;
}

static int make_value(dc_txn *t, dc__value *v, int kind, int64_t num, const char *str) {
    memset(v, 0, sizeof *v);
    switch (kind) {
    case DC_NULL: v->kind = DC_NULL; return 0;
    case DC_BOOL:
        v->kind = DC_BOOL;
        v->num = num != 0;
        return 0;
    case DC_INT:
        v->kind = DC_INT;
        v->num = num;
        return 0;
    case DC_STR: {
        if (!str)
            return dc__fail(t->r, DC_EMISUSE, "a string value is NULL");
        size_t n = strlen(str);
        if (n > DC_STR_MAX || !dc__utf8_valid((const uint8_t *)str, n))
            return dc__fail(t->r, DC_EINVAL,
                            "a string value must be valid UTF-8 of at most %u "
                            "bytes",
                            DC_STR_MAX);
        dc__str s;
        if (own(t, str, n, &s))
            return dc__fail(t->r, DC_ENOMEM, "out of memory");
        v->kind = DC_STR;
        v->str = s.p;
        v->len = s.n;
        return 0;
    }
    case DC_FLOAT:
    case DC_BYTES:
        return dc__fail(t->r, DC_EINVAL,
                        "a %s value goes through the *_value calls (dc_txn_set_value ...) "
                        "with a dc_value",
                        kind == DC_FLOAT ? "floating-point" : "bytes");
    default: return dc__fail(t->r, DC_EINVAL, "unknown value kind %d", kind);
    }
}

/* A value given as a dc_value: any kind. */
static int make_any(dc_txn *t, dc__value *v, const dc_value *in) {
    if (!in)
        return dc__fail(t->r, DC_EMISUSE, "the value is NULL");
    switch (in->kind) {
    case DC_FLOAT:
        memset(v, 0, sizeof *v);
        if (!isfinite(in->real))
            return dc__fail(t->r, DC_EINVAL,
                            "a floating-point value must be finite (not NaN or infinite)");
        *v = dc__value_real(in->real);
        return 0;
    case DC_STR:
    case DC_BYTES: {
        memset(v, 0, sizeof *v);
        if (!in->ptr && in->len)
            return dc__fail(t->r, DC_EMISUSE, "the value's bytes are NULL");
        if (in->len > DC_STR_MAX ||
            (in->kind == DC_STR && !dc__utf8_valid((const uint8_t *)in->ptr, in->len)))
            return dc__fail(t->r, DC_EINVAL, "a %s value must be %sat most %u bytes",
                            in->kind == DC_STR ? "string" : "bytes",
                            in->kind == DC_STR ? "valid UTF-8 of " : "", DC_STR_MAX);
        dc__str s;
        if (own(t, in->len ? in->ptr : "", in->len, &s))
            return dc__fail(t->r, DC_ENOMEM, "out of memory");
        v->kind = in->kind;
        v->str = s.p;
        v->len = s.n;
        return 0;
    }
    default: return make_value(t, v, in->kind, in->num, NULL);
    }
}

/* Appends an op with its type and id; fills *out. */
static int new_op(dc_txn *t, int kind, const char *type, const char *id, const char *field,
                  dc__op **out) {
    int rc;
    /* Types beginning with '@' hold the library's own records (a space's
     * name), kept out of dumps and lists. */
    if ((rc = check_name(t, "the type", type, true)) || (rc = check_name(t, "the id", id, false)))
        return rc;
    if (field && (rc = check_name(t, "the field name", field, true)))
        return rc;
    if (t->n >= DC_BODY_MAX_OPS)
        return dc__fail(t->r, DC_ETOOBIG,
                        "a transaction holds at most %u ops; commit and "
                        "start another",
                        DC_BODY_MAX_OPS);
    size_t had = t->cap;
    if (DC__VEC_ROOM(t->ops, t->n, t->cap))
        return dc__fail(t->r, DC_ENOMEM, "out of memory");
    /* Zeroed so txn_free can tell a half-built op from garbage. */
    memset(t->ops + had, 0, (t->cap - had) * sizeof *t->ops);
    dc__op *op = &t->ops[t->n];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    if (own(t, type, strlen(type), &op->type) || own(t, id, strlen(id), &op->id) ||
        (field && own(t, field, strlen(field), &op->field)))
        return dc__fail(t->r, DC_ENOMEM, "out of memory");
    *out = op;
    return 0;
}

int dc_txn_begin(dc_txn **out, dc_replica *r, const char *space) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_txn_begin: out is NULL");
    *out = NULL;
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE,
                        "a transaction is already open on this replica; commit "
                        "or roll it back first");
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    dc__space sp;
    dc__member me;
    int rc = dc__store_space_get(r->st, sid, &sp, &r->err);
    if (!rc)
        rc = dc__store_member_get(r->st, sp.sid, r->id->sign_pk, &me, &r->err);
    if (rc)
        return dc__fail_err(r, &r->err);
    if (dc__space_readable(r, &sp))
        return r->err.code;
    if (dc__clock_check(&r->clock, &r->err))
        return dc__fail_err(r, &r->err);
    if (dc__clone_refuse(r, "transaction"))
        return r->err.code;
    if (me.role < DC_ROLE_MEMBER)
        return dc__fail(r, DC_EDENIED, "this device is %s of space %s and cannot write to it",
                        me.role ? "only a reader" : "not a member", space);
    if (!sp.has_key)
        return dc__fail(r, DC_ENOKEY, "this device has no key for space %s yet", space);
    dc_txn *t = dc__calloc(1, sizeof *t);
    if (!t)
        return dc__fail(r, DC_ENOMEM, "out of memory");
    t->r = r;
    t->sp = sp;
    r->txn = t;
    *out = t;
    return 0;
}

/* A SET or ADD of a value already checked and owned. */
static int put_value(dc_txn *t, int kind, const char *type, const char *id, const char *field,
                     const dc__value *v) {
    dc__op *op = NULL;
    int rc = new_op(t, kind, type, id, field, &op);
    if (!rc) {
        op->val = *v;
        t->n++;
        t->event_open = false;
    }
    return rc;
}

int dc_txn_set(dc_txn *t, const char *type, const char *id, const char *field, int kind,
               int64_t num, const char *str) {
    T_CHECK(t);
    dc__value v;
    int rc = make_value(t, &v, kind, num, str);
    return rc ? rc : put_value(t, DC_OP_SET, type, id, field, &v);
}

int dc_txn_add(dc_txn *t, const char *type, const char *id, const char *field, int kind,
               int64_t num, const char *str) {
    T_CHECK(t);
    dc__value v;
    int rc = make_value(t, &v, kind, num, str);
    return rc ? rc : put_value(t, DC_OP_ADD, type, id, field, &v);
}

int dc_txn_set_value(dc_txn *t, const char *type, const char *id, const char *field,
                     const dc_value *in) {
    T_CHECK(t);
    dc__value v;
    int rc = make_any(t, &v, in);
    return rc ? rc : put_value(t, DC_OP_SET, type, id, field, &v);
}

int dc_txn_add_value(dc_txn *t, const char *type, const char *id, const char *field,
                     const dc_value *in) {
    T_CHECK(t);
    dc__value v;
    int rc = make_any(t, &v, in);
    return rc ? rc : put_value(t, DC_OP_ADD, type, id, field, &v);
}

static bool same_str(const dc__str *a, const dc__str *b) {
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static int put_remove(dc_txn *t, const char *type, const char *id, const char *field,
                      const dc__value *v) {
    dc__op *op = NULL;
    int rc = new_op(t, DC_OP_REMOVE, type, id, field, &op);
    if (rc)
        return rc;
    op->val = *v;
    /* A remove names the adds this device has seen: those stored, and
     * those made earlier in this transaction. */
    dc__tag *tags;
    uint32_t ntags;
    if ((rc = dc__store_observed_tags(t->r->st, t->sp.sid, &op->type, &op->id, &op->field, &op->val,
                                      &tags, &ntags, &t->r->err)))
        return dc__fail_err(t->r, &t->r->err);
    uint32_t extra = 0;
    for (size_t i = 0; i < t->n; i++)
        extra += t->ops[i].kind == DC_OP_ADD && same_str(&t->ops[i].type, &op->type) &&
                 same_str(&t->ops[i].id, &op->id) && same_str(&t->ops[i].field, &op->field) &&
                 dc__value_eq(&t->ops[i].val, &op->val);
    if (extra > DC_REMOVE_MAX_TAGS - ntags) {
        dc__free(tags);
        return dc__fail(t->r, DC_ETOOBIG,
                        "remove: the value was added more than %u times; a "
                        "remove names at most that many adds",
                        DC_REMOVE_MAX_TAGS);
    }
    if (extra) {
        dc__tag *p = dc__realloc(tags, (ntags + extra) * sizeof *p);
        if (!p) {
            dc__free(tags);
            return dc__fail(t->r, DC_ENOMEM, "out of memory");
        }
        tags = p;
        for (size_t i = 0; i < t->n; i++) {
            const dc__op *a = &t->ops[i];
            if (a->kind == DC_OP_ADD && same_str(&a->type, &op->type) &&
                same_str(&a->id, &op->id) && same_str(&a->field, &op->field) &&
                dc__value_eq(&a->val, &op->val)) {
                memcpy(tags[ntags].dev, t->r->id->sign_pk, 32);
                tags[ntags].seq = t->sp.my_seq + 1;
                tags[ntags].op = (uint32_t)i;
                ntags++;
            }
        }
    }
    op->tags = tags;
    op->ntags = ntags;
    t->n++;
    t->event_open = false;
    return 0;
}

int dc_txn_remove(dc_txn *t, const char *type, const char *id, const char *field, int kind,
                  int64_t num, const char *str) {
    T_CHECK(t);
    dc__value v;
    int rc = make_value(t, &v, kind, num, str);
    return rc ? rc : put_remove(t, type, id, field, &v);
}

int dc_txn_remove_value(dc_txn *t, const char *type, const char *id, const char *field,
                        const dc_value *in) {
    T_CHECK(t);
    dc__value v;
    int rc = make_any(t, &v, in);
    return rc ? rc : put_remove(t, type, id, field, &v);
}

int dc_txn_event(dc_txn *t, const char *type, const char *id) {
    T_CHECK(t);
    dc__op *op = NULL;
    int rc = new_op(t, DC_OP_EVENT, type, id, NULL, &op);
    if (rc)
        return rc;
    t->n++;
    t->event_open = true;
    return 0;
}

static int put_event_field(dc_txn *t, const char *key, const dc__value *v) {
    if (!t->event_open)
        return dc__fail(t->r, DC_EMISUSE, "event field: start an event with dc_txn_event first");
    int rc = check_name(t, "the event key", key, true);
    if (rc)
        return rc;
    dc__op *op = &t->ops[t->n - 1];
    if (op->nfields >= DC_EVENT_MAX_FIELDS)
        return dc__fail(t->r, DC_ETOOBIG, "an event holds at most %u keys", DC_EVENT_MAX_FIELDS);
    for (uint32_t i = 0; i < op->nfields; i++)
        if (strcmp(op->keys[i].p, key) == 0)
            return dc__fail(t->r, DC_EINVAL, "event key '%.64s' given twice", key);
    dc__str *k = dc__realloc(op->keys, (op->nfields + 1) * sizeof *k);
    if (!k)
        return dc__fail(t->r, DC_ENOMEM, "out of memory");
    op->keys = k;
    dc__value *vs = dc__realloc(op->vals, (op->nfields + 1) * sizeof *vs);
    if (!vs)
        return dc__fail(t->r, DC_ENOMEM, "out of memory");
    op->vals = vs;
    if (own(t, key, strlen(key), &op->keys[op->nfields]))
        return dc__fail(t->r, DC_ENOMEM, "out of memory");
    op->vals[op->nfields++] = *v;
    return 0;
}

int dc_txn_event_field(dc_txn *t, const char *key, int kind, int64_t num, const char *str) {
    T_CHECK(t);
    dc__value v;
    int rc = make_value(t, &v, kind, num, str);
    return rc ? rc : put_event_field(t, key, &v);
}

int dc_txn_event_field_value(dc_txn *t, const char *key, const dc_value *in) {
    T_CHECK(t);
    dc__value v;
    int rc = make_any(t, &v, in);
    return rc ? rc : put_event_field(t, key, &v);
}

int dc_txn_delete(dc_txn *t, const char *type, const char *id) {
    T_CHECK(t);
    dc__op *op = NULL;
    int rc = new_op(t, DC_OP_DELETE, type, id, NULL, &op);
    if (!rc) {
        t->n++;
        t->event_open = false;
    }
    return rc;
}

size_t dc_txn_op_count(const dc_txn *t) {
    return t ? t->n : 0;
}

static void txn_free(dc_txn *t) {
    for (size_t i = 0; i < t->n; i++) {
        if (t->ops[i].kind == DC_OP_REMOVE)
            dc__free(t->ops[i].tags);
        dc__free(t->ops[i].keys);
        dc__free(t->ops[i].vals);
    }
    /* An op being built when an allocation failed may hold arrays too. */
    if (t->n < t->cap && t->ops) {
        dc__free(t->ops[t->n].keys);
        dc__free(t->ops[t->n].vals);
    }
    for (size_t i = 0; i < t->ns; i++)
        dc__free(t->strs[i]);
    dc__free(t->strs);
    dc__free(t->ops);
    t->r->txn = NULL;
    dc__free(t);
}

void dc_txn_rollback(dc_txn *t) {
    if (t)
        txn_free(t);
}

/* A remove names the adds of this transaction by the sequence number the
 * change will get; if another handle on the file took that number first,
 * they are renamed to the one it gets now. */
static void renumber_own_tags(dc_txn *t, const uint8_t self[32], uint64_t from, uint64_t to) {
    for (size_t i = 0; i < t->n; i++)
        for (uint32_t k = 0; t->ops[i].kind == DC_OP_REMOVE && k < t->ops[i].ntags; k++) {
            dc__tag *g = &t->ops[i].tags[k];
            if (g->seq == from && memcmp(g->dev, self, 32) == 0)
                g->seq = to;
        }
}

int dc_txn_commit(dc_txn *t, dc_buf *change_id) {
    T_CHECK(t);
    dc_replica *r = t->r;
    if (change_id)
        dc__buf_clear(change_id);
    if (t->n == 0) {
        txn_free(t);
        return 0;
    }
    dc__err e = {0};
    dc_hlc saved = r->clock.last;
    int rc = dc__clock_check(&r->clock, &e);
    if (rc || (rc = dc__replica_begin(r, &e)))
        goto fail;
    /* Inside the write transaction: the space as it is now (another handle
     * on this file may have written, or imported a rotation, since begin). */
    uint64_t seq_was = t->sp.my_seq;
    if ((rc = dc__store_space_by_sid(r->st, t->sp.sid, &t->sp, &e)))
        goto rollback;
    if (t->sp.my_seq != seq_was)
        renumber_own_tags(t, r->id->sign_pk, seq_was + 1, t->sp.my_seq + 1);
    dc_hlc hmin = dc__clock_tick(&r->clock);
    dc_hlc hmax = hmin + (t->n - 1);
    r->clock.last = hmax;
    uint8_t cid[32];
    dc__buf_clear(&r->body);
    rc = dc__body_encode(&r->body, t->ops, t->n, &e);
    if (!rc)
        rc = dc__body_check_limits(r->body.ptr, r->body.size, &e);
    if (rc)
        goto rollback;
    if ((rc = dc__envelope_new(r, &t->sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, hmin, hmax,
                               NULL, cid, &e)) ||
        (rc = dc__store_hlc_save(r->st, r->clock.last, &e)) || (rc = dc__store_commit(r->st, &e)))
        goto rollback;
    if (change_id) {
        char hex[65];
        dc__hex(hex, cid, 32);
        dc__buf_put(change_id, hex, 64);
    }
    rc = dc__notify_ops(r, t->sp.id, t->ops, t->n, "local");
    txn_free(t);
    /* The change is durable in the log; the state takes it at the next
     * read, or now when this handle has left many ops unfolded.  A failed
     * fold leaves them pending (the next read folds them) and is not this
     * commit's failure. */
    if (dc__store_fold_due(r->st)) {
        dc__err fe = {0};
        dc__store_fold(r->st, NULL, &fe);
    }
    dc__live_fire(r);
    return rc;
rollback:
    dc__store_rollback(r->st);
fail:
    r->clock.last = saved;
    txn_free(t);
    return dc__fail_err(r, &e);
}
