/*
 * model/branch_suggest.c — the suggestion of a mobile party branch for a
 * driver by the four principles (hukou region, routes, activity area,
 * business scope; docs/domain.md, "Branch suggestion"): every branch of
 * the spaces held scored against the driver's values shown in the
 * registry, ranked, and printed as JSON.  Its one implementation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/org_int.h"
#include "model/registry_int.h"

/* ======================================================================
 * Suggestion by the four principles
 *
 * Each principle scores 0..100 in integers, so every replica ranks alike:
 *   hukou_region, activity_area: the deepest level on which the driver's
 *     and the branch's region codes agree: county 100, city 60, province
 *     30, none 0;
 *   routes, business_scope: the Jaccard overlap of the two sets,
 *     floor(100 * |A ∩ B| / |A ∪ B|), 0 when both are empty.
 * The total is the sum (0..400).  Ranking: total, then the principles in
 * the order the report gives them (hukou, routes, activity, scope), each
 * higher first, then the branch id bytewise.
 * ====================================================================== */

enum { P_HUKOU, P_ROUTES, P_ACTIVITY, P_SCOPE, P_N };
static const char *const principle_names[P_N] = {"hukou_region", "routes", "activity_area",
                                                 "business_scope"};

static int region_score(const char *a, const char *b, size_t bn) {
    if (!*a || !bn)
        return 0;
    switch (dc__region_common(a, strlen(a), b, bn)) {
    case 6: return 100;
    case 4: return 60;
    case 2: return 30;
    default: return 0;
    }
}

static int jaccard(const dc__strs *a, const dc__strs *b) {
    size_t both = 0;
    for (size_t i = 0; i < b->n; i++)
        if (dc__strs_has(a, b->v[i]))
            both++;
    size_t any = a->n + b->n - both;
    return any ? (int)(both * 100 / any) : 0;
}

typedef struct cand {
    char *id, *name;
    char space[33];
    int s[P_N];
    int total;
} cand;

typedef struct suggest_ctx {
    dc_replica *r;
    char hukou[64], activity[64];
    dc__strs routes, scope;
    cand *v;
    size_t n, cap;
    const char *space; /* the space being walked */
} suggest_ctx;

static int value_region(const dc_record *rec, const char *field, const char **p, size_t *n) {
    const dc_value *v = dc_record_value(rec, field);
    *p = v && v->kind == DC_STR ? dc__vstr(v) : "";
    *n = v && v->kind == DC_STR ? v->len : 0;
    return 0;
}

static int score_branch(void *user, const dc_record *rec) {
    suggest_ctx *c = user;
    if (DC__VEC_ROOM(c->v, c->n, c->cap))
        return DC_ENOMEM;
    cand *k = &c->v[c->n];
    memset(k, 0, sizeof *k);
    const dc_value *name = dc_record_value(rec, "name");
    k->id = dc__strndup(dc_record_id(rec), strlen(dc_record_id(rec)));
    k->name = name && name->kind == DC_STR ? dc__strndup(dc__vstr(name), name->len) : NULL;
    if (!k->id || (name && name->kind == DC_STR && !k->name)) {
        dc__free(k->id);
        dc__free(k->name);
        return DC_ENOMEM;
    }
    c->n++;
    memcpy(k->space, c->space, 32);
    k->space[32] = '\0';

    const char *p;
    size_t n;
    value_region(rec, "hukou_region", &p, &n);
    k->s[P_HUKOU] = region_score(c->hukou, p, n);
    value_region(rec, "activity_area", &p, &n);
    k->s[P_ACTIVITY] = region_score(c->activity, p, n);
    dc__strs routes = {0}, scope = {0};
    int rc = dc__strs_from_set(&routes, rec, "routes");
    if (!rc)
        rc = dc__strs_from_set(&scope, rec, "business_scope");
    dc__strs_sort(&routes);
    dc__strs_sort(&scope);
    k->s[P_ROUTES] = jaccard(&c->routes, &routes);
    k->s[P_SCOPE] = jaccard(&c->scope, &scope);
    dc__strs_free(&routes);
    dc__strs_free(&scope);
    for (int i = 0; i < P_N; i++)
        k->total += k->s[i];
    return rc;
}

static int suggest_space(void *user, const char *space) {
    suggest_ctx *c = user;
    c->space = space;
    return dc__dom_each(c->r, space, "branch", NULL, score_branch, c);
}

static int cand_by_id(const void *a, const void *b) {
    const cand *x = a, *y = b;
    int d = strcmp(x->id, y->id);
    return d ? d : strcmp(x->space, y->space);
}

static int cand_rank(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    for (int i = 0; i < P_N; i++)
        if (x->s[i] != y->s[i])
            return x->s[i] > y->s[i] ? -1 : 1;
    return strcmp(x->id, y->id);
}

typedef struct driver_view {
    suggest_ctx *c;
    dc_buf status, branch;
    bool found, has_branch;
    bool left; /* the space read forwards him */
} driver_view;

/* The value shown of a reported fact (the fold of his reports) into a
 * fixed buffer, "" when none. */
static int shown_str(const dc_record *rec, const char *field, char *out, size_t cap) {
    dc_buf b = DC_BUF_INIT;
    int has = dc__registry_shown(rec, field, &b, NULL, 0);
    out[0] = 0;
    if (has > 0)
        snprintf(out, cap, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
    return has < 0 ? has : 0;
}

static int read_driver(void *user, const dc_record *rec) {
    driver_view *d = user;
    suggest_ctx *c = d->c;
    if (d->found || (d->left && dc__registry_emptied(rec)))
        return 0; /* kept twice: the first copy found; or left behind by a move */
    d->found = true;
    char status[32];
    int rc0;
    if ((rc0 = shown_str(rec, "hukou_region", c->hukou, sizeof c->hukou)) ||
        (rc0 = shown_str(rec, "activity_area", c->activity, sizeof c->activity)) ||
        (rc0 = shown_str(rec, "status", status, sizeof status)))
        return rc0;
    if (status[0] && dc__buf_puts(&d->status, status))
        return DC_ENOMEM;
    const dc_value *v = dc_record_value(rec, "branch");
    if (v && v->kind == DC_STR) {
        d->has_branch = true;
        if (dc__buf_put(&d->branch, dc__vstr(v), v->len))
            return DC_ENOMEM;
    }
    int rc = dc__strs_from_set(&c->routes, rec, "routes");
    if (!rc)
        rc = dc__strs_from_set(&c->scope, rec, "business_scope");
    dc__strs_sort(&c->routes);
    dc__strs_sort(&c->scope);
    return rc;
}

static int suggest_json(dc_buf *b, const suggest_ctx *c, const driver_view *d, const char *driver,
                        size_t limit) {
    int rc = dc__buf_puts(b, "{\"driver\":");
    if (!rc)
        rc = dc__org_jstr(b, driver);
    if (!rc && !(rc = dc__org_key(b, "status", false)))
        rc = dc__org_jstr(b, d->status.size ? (const char *)d->status.ptr : NULL);
    if (!rc && !(rc = dc__org_key(b, "current", false)))
        rc = dc__org_jstr(b, d->has_branch ? (const char *)d->branch.ptr : NULL);
    if (!rc)
        rc = dc__buf_printf(b, ",\"branches\":%zu,\"suggestions\":[", c->n);
    for (size_t i = 0; !rc && i < c->n && i < limit; i++) {
        const cand *k = &c->v[i];
        rc = dc__buf_puts(b, i ? ",{\"branch\":" : "{\"branch\":");
        if (!rc)
            rc = dc__org_jstr(b, k->id);
        if (!rc && !(rc = dc__org_key(b, "name", false)))
            rc = dc__org_jstr(b, k->name);
        if (!rc && !(rc = dc__org_key(b, "space", false)))
            rc = dc__org_jstr(b, k->space);
        if (!rc)
            rc = dc__buf_printf(b, ",\"score\":%d,\"principles\":{", k->total);
        for (int p = 0; !rc && p < P_N; p++)
            rc = dc__buf_printf(b, "%s\"%s\":%d", p ? "," : "", principle_names[p], k->s[p]);
        if (!rc)
            rc = dc__buf_puts(b, "}}");
    }
    return rc ? rc : dc__buf_puts(b, "]}");
}

int dc_branch_suggest(dc_buf *out, dc_replica *r, const char *registry, const char *driver,
                      size_t limit) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_branch_suggest: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_branch_suggest: out is NULL");
    int rc = dc__org_driver(r, "branch suggest: the driver", driver);
    if (rc)
        return rc;
    suggest_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    driver_view d = {&c, DC_BUF_INIT, DC_BUF_INIT, false, false, false};
    dc_buf b = DC_BUF_INIT;
    char(*scope)[33] = NULL;
    size_t nscope = 0;
    rc = dc__registry_scope(r, registry, &scope, &nscope);
    for (size_t i = 0; i < nscope && !rc && !d.found; i++) {
        /* Not a copy a move left behind: where he is kept. */
        int left = dc__registry_left_behind(r, scope[i], driver);
        d.left = left > 0;
        rc = left < 0 ? left : dc__dom_each(r, scope[i], "driver", driver, read_driver, &d);
    }
    dc__free(scope);
    if (!rc && !d.found)
        rc = dc__model_fail(r, DC_ENOTFOUND,
                            "branch suggest: no driver %s in the registry "
                            "space",
                            driver);
    if (!rc)
        rc = dc_space_each(r, suggest_space, &c);
    if (!rc) {
        /* A branch record held in two spaces counts once: the copy in the
         * space with the smallest id, so every replica picks the same. */
        qsort(c.v, c.n, sizeof *c.v, cand_by_id);
        size_t w = 0;
        for (size_t i = 0; i < c.n; i++) {
            if (w && strcmp(c.v[w - 1].id, c.v[i].id) == 0) {
                dc__free(c.v[i].id);
                dc__free(c.v[i].name);
            } else {
                c.v[w++] = c.v[i];
            }
        }
        c.n = w;
        qsort(c.v, c.n, sizeof *c.v, cand_rank);
        rc = suggest_json(&b, &c, &d, driver, limit ? limit : 5);
    }
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "branch suggest: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &b);
    for (size_t i = 0; i < c.n; i++) {
        dc__free(c.v[i].id);
        dc__free(c.v[i].name);
    }
    dc__free(c.v);
    dc__strs_free(&c.routes);
    dc__strs_free(&c.scope);
    dc_buf_dispose(&d.status);
    dc_buf_dispose(&d.branch);
    dc_buf_dispose(&b);
    return rc;
}
