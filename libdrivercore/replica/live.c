/*
 * Live queries: a query kept open on a replica and delivered again when a
 * change touches its space and type and its result differs from the last
 * one delivered (include/drivercore/record.h, docs/reading.md).
 *
 * The notification paths (replica.c) mark the live queries of each record
 * they announce; once a commit, import or membership change is durable and
 * announced, dc__live_fire re-runs the marked queries and compares a digest
 * of each result with the last one delivered.  The callback may close live
 * queries, its own included: closes during a fire are deferred to its end.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "replica/replica_int.h"

struct dc_live {
    dc_replica *r; /* NULL once the replica closed */
    struct dc_live *next;
    char space[33];
    char *type, *where_field, *order_by, *id;
    void *where_bytes;
    dc_value where;
    dc_query_options o;
    dc_live_fn fn;
    void *user;
    bool dirty, closed, delivered;
    uint8_t digest[32];
};

static void sweep(dc_replica *r);

static void live_free(dc_live *q) {
    dc__free(q->type);
    dc__free(q->where_field);
    dc__free(q->order_by);
    dc__free(q->id);
    dc__free(q->where_bytes);
    dc__free(q);
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = dc__malloc(n + 1);
    if (!d)
        *oom = true;
    else
        memcpy(d, s, n + 1);
    return d;
}

/* Runs q and delivers its result if it differs from the last delivered.
 * The replica's error record is kept as the change left it. */
static void run(dc_live *q) {
    dc_replica *r = q->r;
    dc__err saved = r->err;
    dc_records *rs = NULL;
    if (dc_record_query(&rs, r, q->space, q->type, &q->o) == 0) {
        uint8_t d[32];
        dc__records_digest(rs, d);
        if (!q->delivered || sodium_memcmp(d, q->digest, sizeof d) != 0) {
            memcpy(q->digest, d, sizeof d);
            q->delivered = true;
            q->fn(q->user, rs);
        }
        dc_records_free(rs);
    }
    r->err = saved;
}

int dc_live_open(dc_live **out, dc_replica *r, const char *space, const char *type,
                 const dc_query_options *opts, dc_live_fn fn, void *user) {
    DC__CHECK(r);
    if (!out || !fn || !type)
        return dc__fail(r, DC_EMISUSE, "live query: out, type and fn must not be NULL");
    *out = NULL;
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    dc_query_options o;
    if (dc__query_options_read(r, "live query", opts, &o))
        return r->err.code;
    dc_live *q = dc__calloc(1, sizeof *q);
    if (!q)
        return dc__fail(r, DC_ENOMEM, "live query: out of memory");
    bool oom = false;
    dc__hex(q->space, sid, 16);
    q->r = r;
    q->fn = fn;
    q->user = user;
    q->o = o;
    q->type = dup_or_null(type, &oom);
    q->where_field = dup_or_null(q->o.where_field, &oom);
    q->order_by = dup_or_null(q->o.order_by, &oom);
    q->id = dup_or_null(q->o.id, &oom);
    if (q->o.where_field) {
        q->where = *q->o.where_value;
        if ((q->where.kind == DC_STR || q->where.kind == DC_BYTES) && q->where.ptr) {
            if (!(q->where_bytes = dc__malloc(q->where.len ? q->where.len : 1)))
                oom = true;
            else
                memcpy(q->where_bytes, q->where.ptr, q->where.len);
            q->where.ptr = q->where_bytes;
        }
        q->o.where_value = &q->where;
    }
    q->o.where_field = q->where_field;
    q->o.order_by = q->order_by;
    q->o.id = q->id;
    if (oom) {
        live_free(q);
        return dc__fail(r, DC_ENOMEM, "live query: out of memory");
    }
    /* The first result, or the reason there is none (an unknown space, a
     * bad value), before anything is registered. */
    dc_records *rs = NULL;
    int rc = dc_record_query(&rs, r, q->space, q->type, &q->o);
    if (rc) {
        live_free(q);
        return rc;
    }
    dc__records_digest(rs, q->digest);
    q->delivered = true;
    q->next = r->live;
    r->live = q;
    *out = q;
    r->live_firing++;
    fn(user, rs);
    r->live_firing--;
    dc_records_free(rs);
    if (q->closed) /* closed by its own first delivery */
        *out = NULL;
    sweep(r);
    return 0;
}

void dc__live_touch(dc_replica *r, const char *space, const char *type) {
    for (dc_live *q = r->live; q; q = q->next)
        if (!q->dirty && strcmp(q->space, space) == 0 && strcmp(q->type, type) == 0)
            q->dirty = true;
}

void dc__live_fire(dc_replica *r) {
    if (r->live_firing)
        return;
    r->live_firing++;
    for (dc_live *q = r->live; q; q = q->next)
        if (q->dirty && !q->closed) {
            q->dirty = false;
            run(q);
        }
    r->live_firing--;
    sweep(r);
}

/* Frees the live queries closed during a delivery. */
static void sweep(dc_replica *r) {
    for (dc_live **p = &r->live; *p;) {
        dc_live *q = *p;
        if (q->closed) {
            *p = q->next;
            live_free(q);
        } else {
            p = &q->next;
        }
    }
}

void dc__live_detach(dc_replica *r) {
    for (dc_live *q = r->live, *next; q; q = next) {
        next = q->next;
        q->next = NULL;
        q->r = NULL;
        if (q->closed)
            live_free(q);
    }
    r->live = NULL;
}

void dc_live_close(dc_live *q) {
    if (!q)
        return;
    dc_replica *r = q->r;
    if (!r) {
        live_free(q);
        return;
    }
    if (r->live_firing) {
        q->closed = true;
        return;
    }
    for (dc_live **p = &r->live; *p; p = &(*p)->next)
        if (*p == q) {
            *p = q->next;
            break;
        }
    live_free(q);
}

int dc_replica_refresh(dc_replica *r, int *changed) {
    DC__CHECK(r);
    if (changed)
        *changed = 0;
    int64_t v = 0;
    if (dc__store_data_version(r->st, &v, &r->err))
        return dc__fail_err(r, &r->err);
    if (v == r->data_version)
        return 0;
    r->data_version = v;
    if (changed)
        *changed = 1;
    /* Which records moved is not known here: every live query runs again,
     * and delivers only if its result changed. */
    for (dc_live *q = r->live; q; q = q->next)
        q->dirty = true;
    dc__live_fire(r);
    return 0;
}
