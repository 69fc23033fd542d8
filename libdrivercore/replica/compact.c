/*
 * History compaction (docs/data-model.md, "Compaction"): acks (what a
 * device holds), the point an admin computes from them and publishes, and a
 * replica compacting itself to the effective point.  The file's side is
 * store/compact.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "drivercore/space.h"
#include "replica/attach_int.h"
#include "replica/replica_int.h"

#define VEC_VERSION 1
#define VEC_HEAD 13 /* version, clock, count */
#define VEC_ENTRY 40
#define DAY_MS 86400000LL
#define HORIZON_DEFAULT_MS (30 * DAY_MS)

/* A version vector: (author key, seq) sorted by key, and a clock. */
typedef struct vent {
    uint8_t pk[32];
    uint64_t seq;
} vent;

typedef struct vec {
    dc_hlc clock;
    vent *e;
    size_t n, cap;
} vec;

static void vec_free(vec *v) {
    dc__free(v->e);
    memset(v, 0, sizeof *v);
}

static int vec_push(vec *v, const uint8_t pk[32], uint64_t seq) {
    if (DC__VEC_ROOM(v->e, v->n, v->cap))
        return DC_ENOMEM;
    memcpy(v->e[v->n].pk, pk, 32);
    v->e[v->n++].seq = seq;
    return 0;
}

static uint64_t vec_get(const vec *v, const uint8_t pk[32]) {
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(v->e[mid].pk, pk, 32);
        if (!c)
            return v->e[mid].seq;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static void put_u64(uint8_t *p, uint64_t x) {
    for (int i = 7; i >= 0; i--, x >>= 8)
        p[i] = (uint8_t)x;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | p[i];
    return x;
}

/* docs/format/body.md, "Compaction records". */
static int vec_encode(dc_buf *out, const vec *v) {
    uint8_t head[VEC_HEAD];
    head[0] = VEC_VERSION;
    put_u64(head + 1, v->clock);
    uint32_t n = (uint32_t)v->n;
    for (int i = 0; i < 4; i++)
        head[9 + i] = (uint8_t)(n >> (24 - 8 * i));
    dc__buf_clear(out);
    if (dc__buf_put(out, head, sizeof head))
        return DC_ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        uint8_t e[VEC_ENTRY];
        memcpy(e, v->e[i].pk, 32);
        put_u64(e + 32, v->e[i].seq);
        if (dc__buf_put(out, e, sizeof e))
            return DC_ENOMEM;
    }
    return 0;
}

/* False (v empty) for anything but a well-formed vector: it is ignored. */
static bool vec_decode(vec *v, const uint8_t *p, size_t n) {
    memset(v, 0, sizeof *v);
    if (!dc__vector_valid(p, n))
        return false;
    v->clock = get_u64(p + 1);
    for (size_t i = VEC_HEAD; i < n; i += VEC_ENTRY)
        if (vec_push(v, p + i, get_u64(p + i + 32))) {
            vec_free(v);
            return false;
        }
    return true;
}

static int held_add(void *user, int64_t did, const uint8_t pk[32], uint64_t seq) {
    (void)did;
    return vec_push(user, pk, seq) ? DC_ENOMEM : 0;
}

/* What this replica holds of `sid`, as an ack states it. */
static int held_vec(dc_replica *r, int64_t sid, bool unauth, vec *v, dc__err *e) {
    int rc = dc__store_held_prefix(r->st, sid, unauth, held_add, v, e);
    if (rc == DC_ENOMEM && !e->code)
        rc = dc__err_set(e, DC_ENOMEM, "compaction: out of memory");
    return rc;
}

/* Writes one library op on this device's behalf, as a change of its own. */
static int write_op(dc_replica *r, dc__space *sp, const dc__op *op, dc__err *e) {
    dc__buf_clear(&r->body);
    int rc = dc__body_encode(&r->body, op, 1, e);
    if (rc)
        return rc;
    dc_hlc h = dc__clock_tick(&r->clock);
    uint8_t cid[32];
    return dc__envelope_new(r, sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL, cid,
                            e);
}

/* Begins a write on `space`; *role gets this device's role there. */
static int begin_space(dc_replica *r, const char *what, const char *space, int min_role,
                       dc__space *sp, int *role, dc__err *e) {
    int rc = dc__space_begin(r, space, sp, role, e);
    if (rc)
        return rc;
    if (*role < min_role) {
        dc__store_rollback(r->st);
        return dc__err_set(e, DC_EDENIED, "%s: this device is not a member of the space", what);
    }
    if (!sp->has_key) {
        dc__store_rollback(r->st);
        return dc__err_set(e, DC_ENOKEY,
                           "%s: this device does not hold the current key of the "
                           "space yet: sync, then try again",
                           what);
    }
    return 0;
}

static int end_write(dc_replica *r, int rc, dc_hlc saved, dc__err *e) {
    if (!rc && !(rc = dc__store_hlc_save(r->st, r->clock.last, e)))
        rc = dc__store_commit(r->st, e);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.last = saved;
        r->key_sid = 0;
        return dc__fail_err(r, e);
    }
    return 0;
}

static int write_ack(dc_replica *r, dc__space *sp, dc__err *e) {
    vec v = {0};
    int rc = held_vec(r, sp->sid, false, &v, e);
    dc_buf b = DC_BUF_INIT;
    if (!rc) {
        v.clock = r->clock.last;
        if (vec_encode(&b, &v))
            rc = dc__err_set(e, DC_ENOMEM, "space ack: out of memory");
    }
    if (!rc) {
        char hex[65];
        dc__hex(hex, r->id->sign_pk, 32);
        dc__op op;
        memset(&op, 0, sizeof op);
        op.kind = DC_OP_SET;
        op.type = (dc__str){"@ack", 4};
        op.id = (dc__str){hex, 64};
        op.field = (dc__str){"held", 4};
        op.val = (dc__value){DC_BYTES, 0, (const char *)b.ptr, (uint32_t)b.size};
        rc = write_op(r, sp, &op, e);
    }
    dc_buf_dispose(&b);
    vec_free(&v);
    return rc;
}

int dc_space_ack(dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space ack: a transaction is open on this replica");
    if (dc__clone_refuse(r, "space ack"))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    int role;
    dc_hlc saved = r->clock.last;
    int rc = begin_space(r, "space ack", space, DC_ROLE_READER, &sp, &role, &e);
    if (rc)
        return dc__fail_err(r, &e);
    rc = write_ack(r, &sp, &e);
    return end_write(r, rc, saved, &e);
}

/* ---- reading acks and points from the state ---- */

typedef struct ackread {
    vec v;
    bool found;
} ackread;

static int ack_rec(void *user, const dc__rec *rec) {
    ackread *a = user;
    for (size_t i = 0; i < rec->nf; i++) {
        const dc__rfield *f = &rec->f[i];
        if (!f->member && strcmp(f->name, "held") == 0 && f->v.kind == DC_BYTES)
            a->found = vec_decode(&a->v, (const uint8_t *)f->v.str, f->v.len);
    }
    return 0;
}

/* The latest well-formed ack of `dev` in `sid` (found false if none). */
static int read_ack(dc_replica *r, int64_t sid, const uint8_t dev[32], ackread *a, dc__err *e) {
    char hex[65];
    dc__hex(hex, dev, 32);
    memset(a, 0, sizeof *a);
    return dc__store_records_walk(r->st, sid, "@ack", hex, false, ack_rec, a, e);
}

typedef struct pointread {
    vec v; /* the component-wise maximum so far */
    int rc;
} pointread;

/* Component-wise maximum of two sorted vectors, into *into. */
static int vec_max(vec *into, const vec *b) {
    vec out = {0};
    size_t i = 0, j = 0;
    while (i < into->n || j < b->n) {
        int c = i == into->n ? 1 : j == b->n ? -1 : memcmp(into->e[i].pk, b->e[j].pk, 32);
        int rc;
        if (c < 0)
            rc = vec_push(&out, into->e[i].pk, into->e[i].seq), i++;
        else if (c > 0)
            rc = vec_push(&out, b->e[j].pk, b->e[j].seq), j++;
        else
            rc = vec_push(&out, b->e[j].pk,
                          into->e[i].seq > b->e[j].seq ? into->e[i].seq : b->e[j].seq),
            i++, j++;
        if (rc) {
            vec_free(&out);
            return DC_ENOMEM;
        }
    }
    out.clock = into->clock > b->clock ? into->clock : b->clock;
    vec_free(into);
    *into = out;
    return 0;
}

static int point_rec(void *user, const dc__rec *rec) {
    pointread *p = user;
    for (size_t i = 0; i < rec->ne; i++) {
        const dc__rev *ev = &rec->events[i];
        for (uint32_t k = 0; k < ev->nf; k++) {
            if (ev->keys[k].n != 1 || ev->keys[k].p[0] != 'p' || ev->vals[k].kind != DC_BYTES)
                continue;
            vec v;
            if (!vec_decode(&v, (const uint8_t *)ev->vals[k].str, ev->vals[k].len))
                continue;
            int rc = vec_max(&p->v, &v);
            vec_free(&v);
            if (rc)
                return DC_ENOMEM;
        }
    }
    return 0;
}

/* The effective point of `sid`: the maximum of every valid published one. */
static int read_point(dc_replica *r, int64_t sid, vec *out, dc__err *e) {
    pointread p = {0};
    int rc = dc__store_records_walk(r->st, sid, "@compact", "point", true, point_rec, &p, e);
    if (rc == DC_ENOMEM && !e->code)
        rc = dc__err_set(e, DC_ENOMEM, "compaction: out of memory");
    if (rc)
        vec_free(&p.v);
    else
        *out = p.v;
    return rc;
}

/* ---- compacting to the effective point ---- */

typedef struct ctab {
    int64_t *did;
    uint64_t *seq;
    size_t n;
} ctab;

typedef struct apply_res {
    bool late;    /* the replica misses covered history: needs a snapshot */
    size_t nmiss; /* authors whose covered envelopes it lacks */
    uint64_t dropped;
} apply_res;

/* The point `p` as rows for the store (*t, to free), and whether it is
 * above the point `sid` is compacted to (*moves). */
static int point_rows(dc_replica *r, int64_t sid, const vec *p, ctab *t, bool *moves, dc__err *e) {
    vec cur = {0};
    *moves = false;
    int rc = dc__store_compact_points(r->st, sid, held_add, &cur, e);
    if (rc == DC_ENOMEM && !e->code)
        rc = dc__err_set(e, DC_ENOMEM, "compaction: out of memory");
    if (!rc && (!(t->did = dc__malloc((p->n ? p->n : 1) * sizeof *t->did)) ||
                !(t->seq = dc__malloc((p->n ? p->n : 1) * sizeof *t->seq))))
        rc = dc__err_set(e, DC_ENOMEM, "compaction: out of memory");
    for (size_t i = 0; !rc && i < p->n; i++) {
        *moves |= vec_get(&cur, p->e[i].pk) < p->e[i].seq;
        rc = dc__store_device(r->st, p->e[i].pk, &t->did[t->n], e);
        t->seq[t->n++] = p->e[i].seq;
    }
    vec_free(&cur);
    return rc;
}

/* Compacts `sid` to its effective point when it holds it, inside the open
 * transaction.  Points at or below what is compacted change nothing. */
static int apply_point(dc_replica *r, int64_t sid, apply_res *res, dc__err *e) {
    memset(res, 0, sizeof *res);
    vec p = {0}, held = {0};
    int rc = read_point(r, sid, &p, e);
    if (!rc && p.n)
        rc = held_vec(r, sid, true, &held, e);
    for (size_t i = 0; !rc && i < p.n; i++)
        if (vec_get(&held, p.e[i].pk) < p.e[i].seq) {
            res->late = true;
            res->nmiss++;
        }
    /* A replica missing covered history compacts nothing: it never folds a
     * partial history as if it were whole. */
    ctab t = {0};
    bool moves = false;
    if (!rc && p.n && !res->late && !(rc = point_rows(r, sid, &p, &t, &moves, e)) && moves)
        rc = dc__store_compact(r->st, sid, t.did, t.seq, t.n, &res->dropped, e);
    dc__free(t.did);
    dc__free(t.seq);
    vec_free(&p);
    vec_free(&held);
    return rc;
}

/* ---- the clear point (a relay's store) ---- */

int dc__compact_clear(dc_replica *r, int64_t sid, const dc__mresolved *res, dc__err *e) {
    vec p = {0};
    int rc = 0;
    for (size_t i = 0; i < res->nenv && !rc; i++) {
        const dc__menv *env = &res->envs[i];
        for (size_t j = 0; env->valid && j < env->nops && !rc; j++) {
            const dc__member_op *op = &env->ops[j];
            if (op->kind != DC_MOP_COMPACT)
                continue;
            vec v;
            /* The decoder checked the vector's shape: false is memory. */
            if (!vec_decode(&v, op->point, op->point_len) || vec_max(&p, &v))
                rc = dc__err_set(e, DC_ENOMEM, "compaction: out of memory");
            vec_free(&v);
            /* Dead objects go once, when the point is first accepted: the
             * same content may be attached again later. */
            bool fresh = res->states[i] != DC_CHANGE_APPLIED;
            for (uint32_t k = 0; fresh && k < op->ndead && !rc; k++)
                rc = dc__store_obj_drop(r->st, sid, op->dead + (size_t)k * 32, e);
        }
    }
    /* No gap check, unlike a device: a relay folds nothing, and what it
     * lacks at or below the point every counted member already holds. */
    ctab t = {0};
    bool moves = false;
    if (!rc && p.n && !(rc = point_rows(r, sid, &p, &t, &moves, e)) && moves)
        rc = dc__store_compact_log(r->st, sid, t.did, t.seq, t.n, NULL, e);
    dc__free(t.did);
    dc__free(t.seq);
    vec_free(&p);
    return rc;
}

int dc__compact_apply(dc_replica *r, int64_t sid, bool *late, dc__err *e) {
    apply_res res;
    int rc = apply_point(r, sid, &res, e);
    if (late)
        *late = res.late;
    return rc;
}

int dc__compact_auto(dc_replica *r, uint64_t *dropped, uint64_t *late) {
    int64_t *sids;
    size_t n;
    dc__store_point_noticed(r->st, &sids, &n);
    if (!n || r->txn) {
        dc__free(sids);
        return 0;
    }
    dc__err e = {0};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        apply_res res;
        if ((rc = dc__replica_begin(r, &e)))
            break;
        if (!(rc = apply_point(r, sids[i], &res, &e)))
            rc = dc__store_commit(r->st, &e);
        if (rc) {
            dc__store_rollback(r->st);
            break;
        }
        if (dropped)
            *dropped += res.dropped;
        if (late)
            *late += res.late;
    }
    dc__free(sids);
    /* The compaction folded the space again: the points it saw are not
     * new. */
    dc__store_point_noticed(r->st, &sids, &n);
    dc__free(sids);
    return rc;
}

/* ---- the status (dc_replica_status's "compaction") ---- */

typedef struct idlist {
    uint8_t (*id)[16];
    size_t n, cap;
} idlist;

static int id_add(void *user, const uint8_t id[16]) {
    idlist *l = user;
    if (DC__VEC_ROOM(l->id, l->n, l->cap))
        return DC_ENOMEM;
    memcpy(l->id[l->n++], id, 16);
    return 0;
}

static uint64_t vec_sum(const vec *v) {
    uint64_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += v->e[i].seq;
    return n;
}

/* One space's entry, or nothing when it is neither compacted nor has a
 * published point. */
static int status_space(dc_replica *r, const uint8_t id[16], dc_buf *out, bool *first, dc__err *e) {
    dc__space sp;
    vec p = {0}, held = {0}, cur = {0};
    int64_t dropped = 0;
    int rc = dc__store_space_get(r->st, id, &sp, e);
    if (!rc)
        rc = read_point(r, sp.sid, &p, e);
    if (!rc && (rc = dc__store_compact_points(r->st, sp.sid, held_add, &cur, e)) == DC_ENOMEM)
        rc = dc__err_set(e, DC_ENOMEM, "status: out of memory");
    if (rc || (!p.n && !cur.n))
        goto out;
    if ((rc = held_vec(r, sp.sid, true, &held, e)) ||
        (rc = dc__store_compact_dropped(r->st, sp.sid, &dropped, e)))
        goto out;
    bool pending = false, late = false;
    for (size_t i = 0; i < p.n; i++) {
        late |= vec_get(&held, p.e[i].pk) < p.e[i].seq;
        pending |= vec_get(&cur, p.e[i].pk) < p.e[i].seq;
    }
    char hex[33];
    dc__hex(hex, id, 16);
    int w = dc__buf_printf(out,
                           "%s{\"space\":\"%s\",\"compacted\":{\"authors\":%zu,\"changes\":%llu},"
                           "\"published\":{\"authors\":%zu,\"changes\":%llu},\"dropped\":%lld,"
                           "\"pending\":%s,\"snapshot_needed\":%s,\"missing\":[",
                           *first ? "" : ",", hex, cur.n, (unsigned long long)vec_sum(&cur), p.n,
                           (unsigned long long)vec_sum(&p), (long long)dropped,
                           pending && !late ? "true" : "false", late ? "true" : "false");
    bool one = false;
    for (size_t i = 0; i < p.n && !w; i++) {
        if (vec_get(&held, p.e[i].pk) >= p.e[i].seq)
            continue;
        char pk[65];
        dc__hex(pk, p.e[i].pk, 32);
        w |= (one && dc__buf_putc(out, ',')) || dc__json_str(out, pk, 64);
        one = true;
    }
    w |= dc__buf_puts(out, "]}");
    *first = false;
    if (w)
        rc = dc__err_set(e, DC_ENOMEM, "status: out of memory");
out:
    vec_free(&p);
    vec_free(&held);
    vec_free(&cur);
    return rc;
}

/* Does this replica miss covered history of `id`'s published point? */
static int late_one(void *user, const uint8_t id[16]) {
    void **u = user;
    dc_replica *r = u[0];
    dc__err *e = u[2];
    dc__space sp;
    vec p = {0}, held = {0};
    int rc = dc__store_space_get(r->st, id, &sp, e);
    if (!rc)
        rc = read_point(r, sp.sid, &p, e);
    if (!rc && p.n)
        rc = held_vec(r, sp.sid, true, &held, e);
    bool late = false;
    for (size_t i = 0; !rc && i < p.n; i++)
        late |= vec_get(&held, p.e[i].pk) < p.e[i].seq;
    *(uint64_t *)u[1] += late;
    vec_free(&p);
    vec_free(&held);
    return rc;
}

uint64_t dc__compact_late_spaces(dc_replica *r) {
    uint64_t n = 0;
    dc__err e = {0};
    void *u[3] = {r, &n, &e};
    dc__store_spaces_known(r->st, late_one, u, &e);
    return n;
}

int dc__compact_status_json(dc_replica *r, dc_buf *out, dc__err *e) {
    idlist l = {0};
    int rc = dc__store_spaces_known(r->st, id_add, &l, e);
    if (rc == DC_ENOMEM && !e->code)
        rc = dc__err_set(e, DC_ENOMEM, "status: out of memory");
    if (!rc && dc__buf_puts(out, ",\"compaction\":["))
        rc = dc__err_set(e, DC_ENOMEM, "status: out of memory");
    bool first = true;
    for (size_t i = 0; i < l.n && !rc; i++)
        rc = status_space(r, l.id[i], out, &first, e);
    if (!rc && dc__buf_putc(out, ']'))
        rc = dc__err_set(e, DC_ENOMEM, "status: out of memory");
    dc__free(l.id);
    return rc;
}

/* ---- the admin's compaction ---- */

typedef struct counting {
    dc_replica *r;
    int64_t sid;
    int64_t now_ms, horizon_ms;
    vec point;
    bool first, waiting;
    size_t counted, left_out, waiting_n;
    dc_buf *left;
    dc__err *e;
} counting;

/* P := min(P, v) component-wise; authors absent from v go to 0 (out). */
static int vec_min(vec *into, const vec *v) {
    size_t k = 0;
    for (size_t i = 0; i < into->n; i++) {
        uint64_t s = vec_get(v, into->e[i].pk);
        if (s < into->e[i].seq)
            into->e[i].seq = s;
        if (into->e[i].seq)
            into->e[k++] = into->e[i];
    }
    into->n = k;
    return 0;
}

static int count_member(void *user, const uint8_t pk[32], const uint8_t box_pk[32], int role) {
    (void)box_pk;
    counting *c = user;
    vec v = {0};
    int rc;
    if (memcmp(pk, c->r->id->sign_pk, 32) == 0) {
        if ((rc = held_vec(c->r, c->sid, false, &v, c->e)))
            return rc;
    } else {
        ackread a;
        if ((rc = read_ack(c->r, c->sid, pk, &a, c->e)))
            return rc;
        dc_hlc since = 0;
        if (!a.found && (rc = dc__store_member_since(c->r->st, c->sid, pk, &since, c->e)))
            return rc;
        /* Its last ack, or (none yet) when it became a member, against the
         * horizon: past it, the member is left out; within it, one that
         * never acked is waited for. */
        /* A reader is counted once its ack has arrived (its acks cannot
         * travel through a relay, which cannot tell them from a forged
         * write): one never heard of is not waited for. */
        if (!a.found && role < DC_ROLE_MEMBER)
            return 0;
        dc_hlc at = a.found ? a.v.clock : since;
        bool past = c->now_ms - (int64_t)(at >> 16) > c->horizon_ms;
        if (!a.found && !past) {
            c->waiting = true;
            c->waiting_n++;
            return 0;
        }
        if (past) {
            char hex[65];
            dc__hex(hex, pk, 32);
            c->left_out++;
            if ((c->left->size > 1 && dc__buf_put(c->left, ",", 1)) ||
                dc__json_str(c->left, hex, 64))
                rc = dc__err_set(c->e, DC_ENOMEM, "space compact: out of memory");
            vec_free(&a.v);
            return rc;
        }
        v = a.v;
    }
    c->counted++;
    if (c->first) {
        vec_free(&c->point);
        c->point = v;
        c->first = false;
        return 0;
    }
    vec_min(&c->point, &v);
    vec_free(&v);
    return 0;
}

static int put_vec_json(dc_buf *b, const vec *v) {
    if (dc__buf_put(b, "{", 1))
        return DC_ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        char hex[65], num[32];
        dc__hex(hex, v->e[i].pk, 32);
        snprintf(num, sizeof num, ":%llu", (unsigned long long)v->e[i].seq);
        if ((i && dc__buf_put(b, ",", 1)) || dc__json_str(b, hex, 64) ||
            dc__buf_put(b, num, strlen(num)))
            return DC_ENOMEM;
    }
    return dc__buf_put(b, "}", 1) ? DC_ENOMEM : 0;
}

/* Dead attachment objects listed in one point: 4,096 ids are 128 KiB of
 * the membership body's 256; the rest wait for the next compaction. */
#define DEAD_MAX 4096

/* The same point in clear, as a membership envelope a relay can check
 * (docs/format/body.md, "Membership body v3"), with the attachment objects
 * no record references any more that arrived before `before_ms`. */
static int write_clear_point(dc_replica *r, dc__space *sp, const dc_buf *point, int64_t before_ms,
                             dc__err *e) {
    dc__ids dead;
    int rc = dc__att_dead(r, sp, before_ms, DEAD_MAX, &dead, e);
    if (rc)
        return rc;
    dc__member_op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_MOP_COMPACT;
    op.point = point->ptr;
    op.point_len = (uint32_t)point->size;
    op.dead = dead.p;
    op.ndead = (uint32_t)dead.n;
    rc = dc__membership_write(r, sp, &op, 1, e);
    dc__free(dead.p);
    return rc;
}

int dc_space_compact(dc_buf *out, dc_replica *r, const char *space,
                     const dc_compact_options *opts) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "space compact: out is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space compact: a transaction is open on this replica");
    if (opts && opts->version != 1)
        return dc__fail(r, DC_EINVAL, "space compact: unknown options version %d", opts->version);
    if (opts && opts->horizon_ms < 0)
        return dc__fail(r, DC_EINVAL, "space compact: the horizon is negative");
    if (dc__clone_refuse(r, "space compact"))
        return r->err.code;
    dc__err e = {0};
    dc__space sp;
    int role;
    dc_hlc saved = r->clock.last;
    int rc = begin_space(r, "space compact", space, DC_ROLE_READER, &sp, &role, &e);
    if (rc)
        return dc__fail_err(r, &e);
    dc_buf left = DC_BUF_INIT;
    counting c = {0};
    c.r = r;
    c.sid = sp.sid;
    c.now_ms = (int64_t)(dc__clock_tick(&r->clock) >> 16);
    c.horizon_ms = opts && opts->horizon_ms ? opts->horizon_ms : HORIZON_DEFAULT_MS;
    c.first = true;
    c.left = &left;
    c.e = &e;
    bool published = false;
    if (dc__buf_put(&left, "[", 1))
        rc = dc__err_set(&e, DC_ENOMEM, "space compact: out of memory");
    /* The state holds the acks: fold first (a read does). */
    if (!rc)
        rc = dc__store_fold(r->st, NULL, &e);
    /* An admin computes and publishes a point; a member compacts to the
     * points admins published. */
    if (!rc && role == DC_ROLE_ADMIN)
        rc = dc__store_members_each(r->st, sp.sid, count_member, &c, &e);
    if (!rc && role == DC_ROLE_ADMIN && !c.waiting && c.point.n) {
        vec cur = {0};
        if (!(rc = read_point(r, sp.sid, &cur, &e))) {
            bool above = false;
            for (size_t i = 0; i < c.point.n; i++)
                above |= vec_get(&cur, c.point.e[i].pk) < c.point.e[i].seq;
            if (above) {
                dc_buf b = DC_BUF_INIT;
                c.point.clock = r->clock.last;
                if (vec_encode(&b, &c.point))
                    rc = dc__err_set(&e, DC_ENOMEM, "space compact: out of memory");
                static const dc__str key = {"p", 1};
                dc__value val = {DC_BYTES, 0, (const char *)b.ptr, (uint32_t)b.size};
                dc__op op;
                memset(&op, 0, sizeof op);
                op.kind = DC_OP_EVENT;
                op.type = (dc__str){"@compact", 8};
                op.id = (dc__str){"point", 5};
                op.nfields = 1;
                op.keys = (dc__str *)&key;
                op.vals = &val;
                if (!rc && !(rc = write_op(r, &sp, &op, &e)))
                    rc = write_clear_point(r, &sp, &b, c.now_ms - c.horizon_ms, &e);
                published = !rc;
                dc_buf_dispose(&b);
            }
        }
        vec_free(&cur);
    }
    apply_res res = {0};
    if (!rc && !(rc = dc__store_fold(r->st, NULL, &e)))
        rc = apply_point(r, sp.sid, &res, &e);
    /* This device's own ack follows what it now holds. */
    if (!rc)
        rc = write_ack(r, &sp, &e);
    if (!rc && dc__buf_put(&left, "]", 1))
        rc = dc__err_set(&e, DC_ENOMEM, "space compact: out of memory");
    vec point = {0};
    if (!rc)
        rc = read_point(r, sp.sid, &point, &e);
    rc = end_write(r, rc, saved, &e);
    if (!rc) {
        char head[200];
        char hex[33];
        dc__hex(hex, sp.id, 16);
        dc__buf_clear(out);
        snprintf(head, sizeof head,
                 "{\"space\":\"%s\",\"published\":%s,\"counted\":%zu,\"waiting\":%zu,"
                 "\"dropped\":%llu,\"snapshot_needed\":%s,\"left_out\":",
                 hex, published ? "true" : "false", c.counted, c.waiting_n,
                 (unsigned long long)res.dropped, res.late ? "true" : "false");
        if (dc__buf_put(out, head, strlen(head)) || dc__buf_put(out, left.ptr, left.size) ||
            dc__buf_put(out, ",\"point\":", 9) || put_vec_json(out, &point) ||
            dc__buf_put(out, "}", 1))
            rc = dc__fail(r, DC_ENOMEM, "space compact: out of memory (the compaction was made)");
    }
    vec_free(&point);
    vec_free(&c.point);
    dc_buf_dispose(&left);
    return rc;
}

/* ---- snapshots (docs/format/bundle.md, "Snapshots") ---- */

#define SNAP_HEAD 92 /* magic, version, space, maker, epoch, key id, nonce, length */
/* 2: with the covered-items ledger; 1 (without) still loads. */
#define SNAP_VERSION 2
#define SNAP_SIG 64

int dc_space_snapshot(dc_buf *out, dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "space snapshot: out is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "space snapshot: a transaction is open on this replica");
    dc__err e = {0};
    dc__space sp;
    int role;
    dc_hlc saved = r->clock.last;
    int rc = begin_space(r, "space snapshot", space, DC_ROLE_READER, &sp, &role, &e);
    if (rc)
        return dc__fail_err(r, &e);
    if (role != DC_ROLE_ADMIN) {
        dc__store_rollback(r->st);
        return dc__fail(r, DC_EDENIED, "space snapshot: only an admin of the space makes one");
    }
    dc_buf plain = DC_BUF_INIT;
    const uint8_t *key = NULL;
    if (!(rc = dc__store_snapshot_make(r->st, sp.sid, &plain, &e)))
        key = dc__space_write_key(r, &sp, &e);
    if (!rc && !key)
        rc = e.code;
    if (!rc) {
        size_t clen = plain.size + crypto_aead_xchacha20poly1305_ietf_ABYTES;
        uint8_t head[SNAP_HEAD];
        memcpy(head, "DCS", 3);
        head[3] = SNAP_VERSION;
        memcpy(head + 4, sp.id, 16);
        memcpy(head + 20, r->id->sign_pk, 32);
        for (int i = 0; i < 4; i++)
            head[52 + i] = (uint8_t)(sp.epoch >> (24 - 8 * i));
        memset(head + 56, 0, DC_KEY_ID);
        if (sp.has_kid)
            memcpy(head + 56, sp.kid, DC_KEY_ID);
        randombytes_buf(head + 64, 24);
        for (int i = 0; i < 4; i++)
            head[88 + i] = (uint8_t)((uint32_t)clen >> (24 - 8 * i));
        dc__buf_clear(out);
        if (clen > UINT32_MAX || dc__buf_reserve(out, SNAP_HEAD + clen + SNAP_SIG))
            rc = dc__err_set(&e, DC_ENOMEM, "space snapshot: out of memory");
        if (!rc) {
            memcpy(out->ptr, head, SNAP_HEAD);
            unsigned long long cl = 0;
            crypto_aead_xchacha20poly1305_ietf_encrypt(out->ptr + SNAP_HEAD, &cl, plain.ptr,
                                                       plain.size, head, SNAP_HEAD, NULL, head + 64,
                                                       key);
            crypto_sign_detached(out->ptr + SNAP_HEAD + cl, NULL, out->ptr, SNAP_HEAD + cl,
                                 r->id->sign_sk);
            out->size = SNAP_HEAD + cl + SNAP_SIG;
        }
    }
    if (plain.asize)
        sodium_memzero(plain.ptr, plain.size);
    dc_buf_dispose(&plain);
    /* Nothing was written: the read transaction ends. */
    dc__store_rollback(r->st);
    r->clock.last = saved;
    return rc ? dc__fail_err(r, &e) : 0;
}

int dc_space_snapshot_load(dc_replica *r, const uint8_t *data, size_t n, dc_buf *report) {
    DC__CHECK(r);
    if (!data && n)
        return dc__fail(r, DC_EMISUSE, "snapshot load: data is NULL");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "snapshot load: a transaction is open on this replica");
    if (n < SNAP_HEAD + SNAP_SIG || memcmp(data, "DCS", 3) != 0)
        return dc__fail(r, DC_ECORRUPT, "snapshot load: not a snapshot");
    if (data[3] < 1 || data[3] > SNAP_VERSION)
        return dc__fail(r, DC_EVERSION, "snapshot load: version %u; this library reads 1 to %d",
                        data[3], SNAP_VERSION);
    uint32_t clen =
        (uint32_t)data[88] << 24 | (uint32_t)data[89] << 16 | (uint32_t)data[90] << 8 | data[91];
    if (clen < crypto_aead_xchacha20poly1305_ietf_ABYTES ||
        (size_t)clen != n - SNAP_HEAD - SNAP_SIG)
        return dc__fail(r, DC_ECORRUPT, "snapshot load: its length does not match (truncated?)");
    if (crypto_sign_verify_detached(data + n - SNAP_SIG, data, n - SNAP_SIG, data + 20) != 0)
        return dc__fail(r, DC_EBADSIG, "snapshot load: bad signature (forged or damaged)");
    char hex[33];
    dc__hex(hex, data + 4, 16);
    dc__err e = {0};
    dc__space sp;
    int role;
    dc_hlc saved = r->clock.last;
    int rc = begin_space(r, "snapshot load", hex, DC_ROLE_READER, &sp, &role, &e);
    if (rc)
        return dc__fail_err(r, &e);
    dc__member maker;
    uint8_t *plain = NULL;
    size_t plain_n = 0;
    uint64_t dropped = 0;
    if ((rc = dc__store_member_get(r->st, sp.sid, data + 20, &maker, &e)))
        goto out;
    if (maker.role != DC_ROLE_ADMIN) {
        rc = dc__err_set(&e, DC_EDENIED,
                         "snapshot load: its maker is not an admin of the space; refused");
        goto out;
    }
    uint32_t epoch =
        (uint32_t)data[52] << 24 | (uint32_t)data[53] << 16 | (uint32_t)data[54] << 8 | data[55];
    static const uint8_t zero[DC_KEY_ID] = {0};
    const uint8_t *kid = memcmp(data + 56, zero, DC_KEY_ID) ? data + 56 : NULL;
    const uint8_t *key = dc__space_key(r, sp.sid, epoch, kid, &e);
    if (!key) {
        rc = e.code;
        goto out;
    }
    size_t plen = clen - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    plain_n = plen + 1;
    if (!(plain = dc__malloc(plain_n))) {
        rc = dc__err_set(&e, DC_ENOMEM, "snapshot load: out of memory");
        goto out;
    }
    unsigned long long pl = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &pl, NULL, data + SNAP_HEAD, clen, data,
                                                   SNAP_HEAD, data + 64, key) != 0) {
        rc = dc__err_set(&e, DC_EBADSIG, "snapshot load: it does not decrypt (damaged)");
        goto out;
    }
    rc = dc__store_snapshot_load(r->st, sp.sid, plain, (size_t)pl, data[3] >= 2, &dropped, &e);
out:
    if (plain) {
        sodium_memzero(plain, plain_n);
        dc__free(plain);
    }
    if ((rc = end_write(r, rc, saved, &e)))
        return rc;
    if (report) {
        char j[160];
        snprintf(j, sizeof j, "{\"space\":\"%s\",\"dropped\":%llu}", hex,
                 (unsigned long long)dropped);
        dc__buf_clear(report);
        if (dc__buf_put(report, j, strlen(j)))
            return dc__fail(r, DC_ENOMEM, "snapshot load: out of memory (it was loaded)");
    }
    return 0;
}

/* ---- giving space back ---- */

static int vacuum(dc_replica *r, int64_t *before, int64_t *after, int64_t *free_before) {
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "vacuum: a transaction is open on this replica");
    dc__err e = {0};
    int rc = dc__store_vacuum(r->st, before, after, free_before, &e);
    return rc ? dc__fail_err(r, &e) : 0;
}

int dc_replica_vacuum(dc_buf *out, dc_replica *r) {
    DC__CHECK(r);
    int64_t before = 0, after = 0, free_before = 0;
    int rc = vacuum(r, &before, &after, &free_before);
    if (rc)
        return rc;
    if (out) {
        dc__buf_clear(out);
        if (dc__buf_printf(
                out, "{\"bytes_before\":%lld,\"bytes_after\":%lld,\"free_pages_before\":%lld}",
                (long long)before, (long long)after, (long long)free_before))
            return dc__fail(r, DC_ENOMEM, "vacuum: out of memory (the file was vacuumed)");
    }
    return 0;
}

int dc_replica_vacuum_typed(dc_replica *r, dc_vacuum_result *out) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "vacuum: no result to fill (out is NULL)");
    if (out->version < 1 || out->version > DC_VACUUM_RESULT_VERSION)
        return dc__fail(r, DC_EINVAL,
                        "vacuum: result version %u is not one this library knows (1..%d)",
                        out->version, DC_VACUUM_RESULT_VERSION);
    return vacuum(r, &out->bytes_before, &out->bytes_after, &out->free_pages_before);
}
