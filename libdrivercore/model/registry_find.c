/*
 * model/registry_find.c — the registry's reads that answer in JSON: the
 * drivers whose sources disagree (`dc_registry_conflicts`), everything known
 * of one person found by identity number (`dc_registry_find`, his sealed
 * values opened for a member holding the space key), and the driver id of
 * an identity number.  Values are folded from the reports (registry.c);
 * nothing here writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "drivercore/record.h"
#include "drivercore/registry.h"
#include "model/org_int.h"
#include "model/registry_facts.h"
#include "model/registry_int.h"
#include "model/read.h"

/* ---- reading: conflicts and lookups ---- */

/* Appends {FIELD: [{"value", "source", "round"}, ...], ...} for the facts in
 * conflict among `rp`; *any tells whether there was one.  Phones are shown
 * opened: only a member holding the space key gets this far. */
static int conflicts_json(dc_buf *b, dc_replica *r, const keys *k, const char *did,
                          const report *rp, size_t nr, bool *any, dc_buf *plain) {
    int rc = 0;
    *any = false;
    if (dc__buf_putc(b, '{'))
        return DC_ENOMEM;
    for (int f = 0; f < NFACT && !rc; f++) {
        fold fo;
        if ((rc = dc__reg_fold_fact(&fo, rp, nr, f)))
            break;
        if (fo.conflict) {
            rc = dc__buf_printf(b, "%s\"%s\":[", *any ? "," : "",
                                dc__reg_cols[dc__reg_facts[f].col]);
            *any = true;
            for (size_t i = 0; i < fo.n && !rc; i++) {
                const char *v = fo.e[i].value;
                if (f == F_PHONE) {
                    if ((rc = dc__reg_unseal(plain, k, did, "phone", v))) {
                        if (rc == DC_ECORRUPT)
                            rc = dc__model_fail(r, rc,
                                                "registry: a sealed phone of driver %s does not "
                                                "open (damaged, or sealed under another key)",
                                                did);
                        break;
                    }
                    v = (const char *)plain->ptr;
                }
                rc = dc__buf_puts(b, i ? ",{\"value\":" : "{\"value\":") ||
                     dc__json_str(b, v, strlen(v)) ||
                     dc__buf_printf(b, ",\"source\":\"%s\",\"round\":%lld}",
                                    dc__reg_sources[fo.e[i].source], (long long)fo.e[i].round);
                if (f == F_PHONE)
                    sodium_memzero(plain->ptr, plain->size);
            }
            if (!rc)
                rc = dc__buf_putc(b, ']');
        }
        dc__reg_fold_dispose(&fo);
    }
    if (!rc)
        rc = dc__buf_putc(b, '}');
    if (rc && rc != DC_ECORRUPT)
        rc = DC_ENOMEM;
    return rc;
}

typedef struct read_ctx {
    dc_replica *r;
    keys k;
    dc_buf *out;
    dc_buf plain, tmp, shown;
    strs reports;
    strs others; /* reports of other copies of the driver found (kept twice) */
    size_t count;
    const char *space;   /* the space being walked */
    char primary[33];    /* find: the first space found keeping him */
    char any[33];        /* find: the first space found holding a copy of him */
    bool left;           /* find: the space walked forwards him (a copy left behind) */
    strs moved;          /* conflicts: drivers the space walked forwards, sorted */
    dc__regextra extras; /* conflicts: reports left behind by moves */
} read_ctx;

static void read_ctx_dispose(read_ctx *c) {
    dc__reg_keys_free(&c->k);
    if (c->plain.ptr)
        sodium_memzero(c->plain.ptr, c->plain.asize);
    dc_buf_dispose(&c->plain);
    dc_buf_dispose(&c->tmp);
    dc_buf_dispose(&c->shown);
    dc__strs_free(&c->reports);
    dc__strs_free(&c->others);
    dc__strs_free(&c->moved);
    dc__registry_extras_free(&c->extras);
}

static int moved_id(void *user, const dc_record *rec) {
    return dc__strs_push(user, dc_record_id(rec), strlen(dc_record_id(rec))) ? DC_ENOMEM : 0;
}

/* The drivers `space` forwards elsewhere (its `moved` entries), in id
 * order: copies of them there were left behind by a move. */
static int load_moved(dc_replica *r, const char *space, strs *out) {
    dc__reg_strs_clear(out);
    int rc = dc__dom_each(r, space, "moved", NULL, moved_id, out);
    return rc == DC_ENOMEM ? dc__model_fail(r, rc, "registry: out of memory") : rc;
}

static bool in_sorted(const strs *s, const char *id) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->v[mid], id);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int collect_reports(strs *s, const dc_record *rec) {
    dc__reg_strs_clear(s);
    return dc__strs_from_set(s, rec, F_REPORTS);
}

static int conflicts_cb(void *user, const dc_record *rec) {
    read_ctx *c = user;
    if (in_sorted(&c->moved, dc_record_id(rec)) && dc__registry_emptied(rec))
        return 0; /* left behind by a move: judged where he is kept */
    if (collect_reports(&c->reports, rec))
        return dc__model_fail(c->r, DC_ENOMEM, "registry conflicts: out of memory");
    size_t nx;
    const char *const *x = dc__registry_extras_of(&c->extras, dc_record_id(rec), &nx);
    for (size_t i = 0; i < nx; i++)
        if (dc__strs_push(&c->reports, x[i], strlen(x[i])))
            return dc__model_fail(c->r, DC_ENOMEM, "registry conflicts: out of memory");
    if (c->reports.n < 2)
        return 0; /* one report cannot disagree with itself */
    report *rp;
    size_t nr;
    if (dc__reg_reports_parse(&rp, &nr, &c->reports, NULL))
        return dc__model_fail(c->r, DC_ENOMEM, "registry conflicts: out of memory");
    bool any;
    dc__buf_clear(&c->tmp);
    int rc = conflicts_json(&c->tmp, c->r, &c->k, dc_record_id(rec), rp, nr, &any, &c->plain);
    dc__reg_reports_free(rp, nr);
    if (rc || !any)
        goto out;
    /* One entry; the entries of several spaces are sorted by driver at the
     * end (each starts {"driver":"drv-...", so the text sorts by id). */
    dc_buf *e = &c->plain;
    dc__buf_clear(e);
    int has = dc__registry_shown(rec, "name", &c->shown, x, nx);
    if (has < 0 || dc__buf_puts(e, "{\"driver\":") ||
        dc__json_str(e, dc_record_id(rec), strlen(dc_record_id(rec))) ||
        dc__buf_puts(e, ",\"name\":") ||
        (has ? dc__json_str(e, (const char *)c->shown.ptr, c->shown.size)
             : dc__buf_puts(e, "null")) ||
        dc__buf_puts(e, ",\"conflicts\":") || dc__buf_put(e, c->tmp.ptr, c->tmp.size) ||
        dc__buf_printf(e, ",\"space\":\"%s\"}", c->space) ||
        dc__strs_push(&c->others, (const char *)e->ptr, e->size))
        rc = DC_ENOMEM;
    sodium_memzero(e->ptr, e->size); /* it held opened phones */
out:
    if (rc == DC_ENOMEM)
        return dc__model_fail(c->r, rc, "registry conflicts: out of memory");
    return rc;
}

int dc_registry_conflicts(dc_buf *out, dc_replica *r, const char *space) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_conflicts: the replica is NULL");
    if (!out || !space)
        return dc__model_fail(r, DC_EMISUSE, "registry conflicts: out and space must not be NULL");
    read_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    dc_buf b = DC_BUF_INIT;
    c.out = &b;
    char(*scope)[33] = NULL;
    size_t nscope = 0;
    int rc = dc__reg_keys_derive(&c.k, r, space);
    if (!rc)
        rc = dc__registry_scope(r, space, &scope, &nscope);
    if (!rc)
        rc = dc__registry_extras_load(r, scope, nscope, &c.extras);
    if (!rc && dc__buf_putc(&b, '['))
        rc = dc__model_fail(r, DC_ENOMEM, "registry conflicts: out of memory");
    /* Given a root, every part of it held: the province's view. */
    for (size_t i = 0; i < nscope && !rc; i++) {
        c.space = scope[i];
        if (!(rc = load_moved(r, scope[i], &c.moved)))
            rc = dc__dom_each(r, scope[i], TYPE_DRIVER, NULL, conflicts_cb, &c);
    }
    dc__free(scope);
    if (!rc && c.others.n > 1)
        qsort(c.others.v, c.others.n, sizeof *c.others.v, dc__reg_str_cmp);
    for (size_t i = 0; i < c.others.n && !rc; i++)
        if ((i && dc__buf_putc(&b, ',')) || dc__buf_puts(&b, c.others.v[i]))
            rc = dc__model_fail(r, DC_ENOMEM, "registry conflicts: out of memory");
    for (size_t i = 0; i < c.others.n; i++)
        sodium_memzero(c.others.v[i], strlen(c.others.v[i]));
    if (!rc && dc__buf_putc(&b, ']'))
        rc = dc__model_fail(r, DC_ENOMEM, "registry conflicts: out of memory");
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    read_ctx_dispose(&c);
    return rc;
}

/* Names the find output uses itself; record fields of these names (none
 * today) are left out rather than printed twice. */
static bool own_key(const char *name) {
    static const char *const OWN[] = {"driver",       "id_number", "phone",          "id_sealed",
                                      "phone_sealed", "flagged",   "verified_round", "sources",
                                      "conflicts",    "verified",  "space",          F_REPORTS};
    for (size_t i = 0; i < sizeof OWN / sizeof OWN[0]; i++)
        if (strcmp(name, OWN[i]) == 0)
            return true;
    return false;
}

static int put_sealed(read_ctx *c, const char *did, const char *key, const char *what,
                      const dc_value *v) {
    dc_buf *b = c->out;
    if (!v || v->kind != DC_STR)
        return 0;
    char *hex = dc__strndup(dc__vstr(v), v->len);
    if (!hex)
        return DC_ENOMEM;
    int rc = dc__reg_unseal(&c->plain, &c->k, did, what, hex);
    dc__free(hex);
    if (rc == DC_ECORRUPT)
        return dc__model_fail(c->r, rc,
                              "registry: the sealed %s of driver %s does not open (damaged, or "
                              "sealed under another key)",
                              what, did);
    if (rc)
        return rc;
    rc = dc__buf_printf(b, ",\"%s\":", key) ||
         dc__json_str(b, (const char *)c->plain.ptr, c->plain.size);
    sodium_memzero(c->plain.ptr, c->plain.size);
    return rc ? DC_ENOMEM : 0;
}

/* The source entries of `find`: dc__reg_distinct (round, source, level, method),
 * sorted. */
static int src_cmp(const void *a, const void *b) {
    const report *x = a, *y = b;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return (x->method > y->method) - (x->method < y->method);
}

static int put_source(dc_buf *b, const report *p) {
    return dc__buf_printf(b, "{\"source\":\"%s\",\"round\":%lld,\"level\":",
                          dc__reg_sources[p->source], (long long)p->round) ||
           dc__org_jstr(b, p->level ? dc__reg_levels[p->level] : NULL) ||
           dc__buf_printf(b, ",\"method\":\"%s\"}", dc__reg_methods[p->method]);
}

static int find_cb(void *user, const dc_record *rec) {
    read_ctx *c = user;
    dc_buf *b = c->out;
    const char *did = dc_record_id(rec);
    int rc = 0;
    c->count++;
    if (dc__buf_puts(b, "{\"driver\":") || dc__json_str(b, did, strlen(did)))
        goto nomem;
    /* The phone shown is the fold's (sealed in the reports), not the
     * register's: docs/domain.md, "The value shown". */
    int hp = dc__registry_shown(rec, "phone_sealed", &c->shown, (const char *const *)c->others.v,
                                c->others.n);
    if (hp < 0)
        goto nomem;
    dc_value phone = {DC_STR, 0, 0, c->shown.ptr, c->shown.size};
    if ((rc = put_sealed(c, did, "id_number", "id_number", dc_record_value(rec, "id_sealed"))) ||
        (rc = put_sealed(c, did, "phone", "phone", hp ? &phone : NULL)))
        goto fail;
    /* Registers in name order, then sets in name order (as the store
     * gave them: its registers first). */
    size_t nf = dc_record_field_count(rec);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nf; i++) {
            const char *name;
            int member;
            if (dc_record_field_at(rec, i, &name, &member) || member != pass || own_key(name))
                continue;
            if (!member) {
                if (dc__buf_putc(b, ',') || dc__json_str(b, name, strlen(name)) ||
                    dc__buf_putc(b, ':'))
                    goto nomem;
                int has = dc__reg_fact_of_reg(name) >= 0
                              ? dc__registry_shown(rec, name, &c->shown,
                                                   (const char *const *)c->others.v, c->others.n)
                              : 0;
                if (has < 0 || (has ? dc__json_str(b, (const char *)c->shown.ptr, c->shown.size)
                                    : dc__dom_json_value(b, dc_record_value(rec, name))))
                    goto nomem;
                continue;
            }
            if (dc__buf_putc(b, ',') || dc__json_str(b, name, strlen(name)) ||
                dc__buf_puts(b, ":["))
                goto nomem;
            /* Members sorted by their JSON text, as in the canonical dump. */
            strs *m = &c->reports; /* reused as scratch before the reports */
            dc__reg_strs_clear(m);
            size_t n = dc_record_set_size(rec, name);
            for (size_t j = 0; j < n; j++) {
                dc_value v;
                dc__buf_clear(&c->tmp);
                if (dc_record_set_at(rec, name, j, &v) || dc__dom_json_value(&c->tmp, &v) ||
                    dc__strs_push(m, (const char *)c->tmp.ptr, c->tmp.size))
                    goto nomem;
            }
            qsort(m->v, m->n, sizeof *m->v, dc__reg_str_cmp);
            for (size_t j = 0; j < m->n; j++)
                if ((j && dc__buf_putc(b, ',')) || dc__buf_puts(b, m->v[j]))
                    goto nomem;
            if (dc__buf_putc(b, ']'))
                goto nomem;
        }
    /* His reports: this record's and those of any other copy found. */
    if (collect_reports(&c->reports, rec))
        goto nomem;
    for (size_t i = 0; i < c->others.n; i++)
        if (dc__strs_push(&c->reports, c->others.v[i], strlen(c->others.v[i])))
            goto nomem;
    report *rp;
    size_t nr;
    if (dc__reg_reports_parse(&rp, &nr, &c->reports, NULL))
        goto nomem;
    /* Sources: the dc__reg_distinct (round, source, level, method) of the reports. */
    report *src = nr ? dc__calloc(nr, sizeof *src) : NULL;
    if (nr && !src) {
        dc__reg_reports_free(rp, nr);
        goto nomem;
    }
    for (size_t i = 0; i < nr; i++) {
        src[i].source = rp[i].source;
        src[i].round = rp[i].round;
        src[i].level = rp[i].level;
        src[i].method = rp[i].method;
    }
    if (nr > 1)
        qsort(src, nr, sizeof *src, src_cmp);
    rc = dc__buf_puts(b, ",\"sources\":[");
    size_t ns = 0, latest = 0;
    for (size_t i = 0; i < nr && !rc; i++) {
        if (i && src_cmp(&src[i], &src[i - 1]) == 0)
            continue;
        rc = (ns++ && dc__buf_putc(b, ',')) || put_source(b, &src[i]);
        if (src[i].round != src[latest].round)
            latest = i;
    }
    int64_t maxround = nr ? src[nr - 1].round : 0;
    bool any = false;
    dc__buf_clear(&c->tmp);
    if (!rc)
        rc = dc__buf_printf(b, "],\"verified_round\":%lld,\"verified\":", (long long)maxround);
    if (!rc)
        rc = nr ? put_source(b, &src[latest]) : dc__buf_puts(b, "null");
    dc__free(src);
    if (rc) {
        dc__reg_reports_free(rp, nr);
        goto nomem;
    }
    rc = conflicts_json(&c->tmp, c->r, &c->k, did, rp, nr, &any, &c->plain);
    dc__reg_reports_free(rp, nr);
    if (rc == DC_ECORRUPT)
        goto fail;
    if (rc || dc__buf_printf(b, ",\"flagged\":%s,\"conflicts\":", any ? "true" : "false") ||
        dc__buf_put(b, c->tmp.ptr, c->tmp.size) || dc__buf_printf(b, ",\"space\":\"%s\"", c->space))
        goto nomem;
    if (dc_record_event_count(rec)) {
        if (dc__buf_puts(b, ",\"@events\":["))
            goto nomem;
        for (size_t i = 0; i < dc_record_event_count(rec); i++)
            if ((i && dc__buf_putc(b, ',')) || dc__dom_event_json(b, dc_record_event(rec, i)))
                goto nomem;
        if (dc__buf_putc(b, ']'))
            goto nomem;
    }
    if (dc__buf_putc(b, '}'))
        goto nomem;
    return 0;
nomem:
    rc = DC_ENOMEM;
fail:
    if (rc == DC_ENOMEM)
        return dc__model_fail(c->r, rc, "registry find: out of memory");
    return rc;
}

/* Pass 1 of find: where he is kept; the reports of every copy after the
 * first (a driver kept twice is one person). */
static int locate_cb(void *user, const dc_record *rec) {
    read_ctx *c = user;
    if (!c->any[0])
        snprintf(c->any, sizeof c->any, "%s", c->space);
    if (!c->primary[0] && !(c->left && dc__registry_emptied(rec))) {
        snprintf(c->primary, sizeof c->primary, "%s", c->space);
        return 0;
    }
    if (dc__strs_from_set(&c->others, rec, F_REPORTS))
        return dc__model_fail(c->r, DC_ENOMEM, "registry find: out of memory");
    return 0;
}

/* The driver id for an identity number, with the lookup key of `space`. */
static int lookup_id(char did[DID_LEN + 1], dc_replica *r, const keys *k, const char *id_number,
                     const char *what) {
    char id[19];
    const char *why = dc__reg_id_normalise(id, id_number, strlen(id_number));
    if (why)
        return dc__model_fail(r, DC_EINVAL, "%s: %s", what, why);
    uint8_t h[32];
    dc__reg_id_hash(h, k, id);
    sodium_memzero(id, sizeof id);
    dc__reg_driver_id(did, h);
    return 0;
}

int dc_registry_find(dc_buf *out, dc_replica *r, const char *space, const char *id_number) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_find: the replica is NULL");
    if (!out || !space || !id_number)
        return dc__model_fail(r, DC_EMISUSE,
                              "registry find: out, space and id_number must not be NULL");
    read_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    dc_buf b = DC_BUF_INIT;
    c.out = &b;
    char did[DID_LEN + 1];
    char(*scope)[33] = NULL;
    size_t nscope = 0;
    int rc = dc__reg_keys_derive(&c.k, r, space);
    if (!rc)
        rc = lookup_id(did, r, &c.k, id_number, "registry find");
    if (!rc)
        rc = dc__registry_scope(r, space, &scope, &nscope);
    for (size_t i = 0; i < nscope && !rc; i++) {
        c.space = scope[i];
        int left = dc__registry_left_behind(r, scope[i], did);
        if (left < 0) {
            rc = left;
            break;
        }
        c.left = left;
        rc = dc__dom_each(r, scope[i], TYPE_DRIVER, did, locate_cb, &c);
    }
    dc__free(scope);
    /* Only copies left behind.  Where they forward him is held here and
     * does not keep him either (two devices moved him at once, in opposite
     * directions): the first of them, with the reports of all.  Otherwise
     * he is kept where this device cannot read: say where, below. */
    if (!rc && !c.primary[0] && c.any[0]) {
        hop h = {false, false, ""};
        dc__dom_each(r, c.any, "moved", did, dc__reg_hop_moved, &h);
        dc__regpart dest;
        if (h.moved && dc__registry_part(r, h.space, &dest) == 0 && dest.has)
            memcpy(c.primary, c.any, 33); /* its part is held: he is not there */
    }
    if (!rc && c.primary[0]) {
        c.space = c.primary;
        rc = dc__dom_each(r, c.primary, TYPE_DRIVER, did, find_cb, &c);
    }
    if (!rc && c.count == 0) {
        /* Not kept here: say where he went, when this space knows. */
        hop h = {false, false, ""};
        dc__dom_each(r, c.any[0] ? c.any : space, "moved", did, dc__reg_hop_moved, &h);
        rc = h.moved ? dc__model_fail(r, DC_ENOTFOUND,
                                      "registry find: this driver moved to registry space %s; "
                                      "this device does not hold it",
                                      h.space)
                     : dc__model_fail(r, DC_ENOTFOUND,
                                      "registry find: no driver with this identity number in "
                                      "space %s%s",
                                      space, nscope > 1 ? " or its parts held here" : "");
    }
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    read_ctx_dispose(&c);
    return rc;
}

int dc_registry_driver_id(dc_buf *out, dc_replica *r, const char *space, const char *id_number) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_driver_id: the replica is NULL");
    if (!out || !space || !id_number)
        return dc__model_fail(r, DC_EMISUSE,
                              "registry driver id: out, space and id_number must not be NULL");
    keys k = {NULL};
    char did[DID_LEN + 1];
    int rc = dc__reg_keys_derive_n(&k, r, space, 1); /* an id needs only the lookup key */
    if (!rc)
        rc = lookup_id(did, r, &k, id_number, "registry driver id");
    dc__reg_keys_free(&k);
    if (rc)
        return rc;
    dc__buf_clear(out);
    if (dc__buf_put(out, did, DID_LEN))
        return dc__model_fail(r, DC_ENOMEM, "registry driver id: out of memory");
    return 0;
}
