/*
 * model/branch.c — mobile party branches (流动党员党支部): the branch
 * record with its four principles, the roster kept in the branch's space,
 * a driver's assignment kept in the registry (the register `branch` of his
 * driver record, so he is in at most one branch by construction), the
 * suggestion of a branch for a driver by the four principles, the coverage
 * report (应管尽管、全面覆盖), and the secretaries and instructors with
 * their task lists.  Scoring and the coverage rules are documented in
 * docs/domain.md ("Branch suggestion", "Coverage"); this file is their one
 * implementation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/org_int.h"
#include "model/registry_int.h"

/* ======================================================================
 * The branch record and its roster
 * ====================================================================== */

static int check_list(dc_replica *r, const char *what, const char *const *v, size_t n) {
    if (n && !v)
        return dc__model_fail(r, DC_EMISUSE, "%s: the list is NULL", what);
    for (size_t i = 0; i < n; i++) {
        int rc = dc__org_text(r, what, v[i], true);
        if (rc)
            return rc;
    }
    return 0;
}

int dc_branch_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_branch_options *o) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_branch_put_txn")))
        return rc;
    if (!o || o->version != DC_BRANCH_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "branch: options missing or of an unknown version");
    if ((rc = dc__org_id(r, "branch: the code", o->code)) ||
        (rc = dc__org_text(r, "branch: the name", o->name, true)) ||
        (rc = dc__org_region_check(r, "branch: the region", o->region)) ||
        (rc = check_list(r, "branch: a route", o->routes, o->nroutes)) ||
        (rc = check_list(r, "branch: a business scope", o->business_scope, o->nbusiness_scope)))
        return rc;
    if (o->hukou_region && *o->hukou_region &&
        (rc = dc__org_region_check(r, "branch: the hukou region", o->hukou_region)))
        return rc;
    if (o->activity_area && *o->activity_area &&
        (rc = dc__org_region_check(r, "branch: the activity area", o->activity_area)))
        return rc;

    dc_buf bid = DC_BUF_INIT;
    if (dc__buf_printf(&bid, "branch-%s", o->code))
        return dc__model_fail(r, DC_ENOMEM, "branch: out of memory");
    const char *k = (const char *)bid.ptr;
    if (!(rc = dc_txn_set(t, "branch", k, "name", DC_STR, 0, o->name)) &&
        !(rc = dc_txn_set(t, "branch", k, "region", DC_STR, 0, o->region)) &&
        !(rc = dc__org_set_str(t, "branch", k, "hukou_region", o->hukou_region)) &&
        !(rc = dc__org_set_str(t, "branch", k, "activity_area", o->activity_area))) {
        for (size_t i = 0; !rc && i < o->nroutes; i++)
            rc = dc_txn_add(t, "branch", k, "routes", DC_STR, 0, o->routes[i]);
        for (size_t i = 0; !rc && i < o->nbusiness_scope; i++)
            rc = dc_txn_add(t, "branch", k, "business_scope", DC_STR, 0, o->business_scope[i]);
    }
    if (!rc && id)
        dc__buf_move(id, &bid);
    dc_buf_dispose(&bid);
    return rc;
}

int dc_branch_put(dc_buf *id, dc_replica *r, const char *space, const dc_branch_options *o) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_branch_put_txn(id, r, t, o));
}

int dc_branch_member_add_txn(dc_replica *r, dc_txn *t, const char *branch, const char *driver,
                             const char *joined) {
    int rc;
    char today[11];
    if ((rc = dc__org_handles(r, t, "dc_branch_member_add_txn")) ||
        (rc = dc__org_prefixed(r, "branch member: the branch", branch, "branch-")) ||
        (rc = dc__org_driver(r, "branch member: the driver", driver)))
        return rc;
    if (joined && *joined) {
        if ((rc = dc__org_date_check(r, "branch member: the date joined", joined)))
            return rc;
    } else {
        dc__org_date(today, dc__org_now_ms());
        joined = today;
    }
    if ((rc = dc_txn_set(t, "member", driver, "branch", DC_STR, 0, branch)))
        return rc;
    return dc_txn_set(t, "member", driver, "joined", DC_STR, 0, joined);
}

int dc_branch_member_add(dc_replica *r, const char *space, const char *branch, const char *driver,
                         const char *joined) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_branch_member_add_txn(r, t, branch, driver, joined));
}

/* ---- a moving driver's roster entries ---- */

typedef struct roster_ctx {
    dc_replica *r;
    const char *driver, *from, *to, *space;
    char (*drop)[33]; /* spaces holding his entry on `from`'s roster */
    size_t ndrop, cdrop;
    char add[33]; /* the space holding `to`'s branch record */
} roster_ctx;

static int roster_entry(void *user, const dc__rec *rec) {
    roster_ctx *c = user;
    if (!c->from || !dc__org_rec_is(rec, "branch", c->from))
        return 0;
    if (c->ndrop == c->cdrop) {
        size_t nc = c->cdrop ? c->cdrop * 2 : 4;
        char(*v)[33] = dc__realloc(c->drop, nc * sizeof *v);
        if (!v)
            return dc__model_fail(c->r, DC_ENOMEM, "branch: out of memory");
        c->drop = v;
        c->cdrop = nc;
    }
    memcpy(c->drop[c->ndrop++], c->space, 33);
    return 0;
}

static int roster_branch(void *user, const dc__rec *rec) {
    roster_ctx *c = user;
    (void)rec;
    if (!c->add[0])
        memcpy(c->add, c->space, 33);
    return 0;
}

static int roster_space(void *user, const char *hex) {
    roster_ctx *c = user;
    c->space = hex;
    int rc = dc__records_each(c->r, hex, "member", c->driver, roster_entry, c);
    if (!rc)
        rc = dc__records_each(c->r, hex, "branch", c->to, roster_branch, c);
    return rc;
}

/* A roster write this device has no right to make is not an error: the
 * secretary who holds that roster makes it. */
static bool no_right(int rc) {
    return rc == DC_EDENIED || rc == DC_ENOKEY;
}

int dc__branch_roster_move(dc_replica *r, const char *driver, const char *from, const char *to,
                           const char *joined) {
    roster_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.driver = driver;
    c.from = from;
    c.to = to;
    int rc = dc__spaces_each(r, roster_space, &c);
    for (size_t i = 0; i < c.ndrop && !rc; i++) {
        dc_txn *t;
        if ((rc = dc_txn_begin(&t, r, c.drop[i])) == 0)
            rc = dc__org_finish(t, dc_txn_delete(t, "member", driver));
        if (no_right(rc))
            rc = 0;
    }
    if (!rc && c.add[0]) {
        rc = dc_branch_member_add(r, c.add, to, driver, joined);
        if (no_right(rc))
            rc = 0;
    }
    dc__free(c.drop);
    return rc;
}

int dc_branch_member_remove(dc_replica *r, const char *space, const char *driver) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_branch_member_remove: the replica handle is NULL");
    int rc = dc__org_driver(r, "branch member: the driver", driver);
    if (rc)
        return rc;
    rc = dc__org_exists(r, space, "member", driver);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND,
                              "branch member: %s is not on the roster held in "
                              "this space",
                              driver);
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    return dc__org_finish(t, dc_txn_delete(t, "member", driver));
}

int dc_branch_assign_txn(dc_replica *r, dc_txn *t, const char *driver, const char *branch) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_branch_assign_txn")) ||
        (rc = dc__org_driver(r, "branch assign: the driver", driver)))
        return rc;
    if (branch && *branch &&
        (rc = dc__org_prefixed(r, "branch assign: the branch", branch, "branch-")))
        return rc;
    return dc__org_set_str(t, "driver", driver, "branch", branch);
}

int dc_branch_assign(dc_replica *r, const char *registry, const char *driver, const char *branch) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_branch_assign: the replica handle is NULL");
    int rc = dc__org_driver(r, "branch assign: the driver", driver);
    if (rc)
        return rc;
    rc = dc__org_exists(r, registry, "driver", driver);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND,
                              "branch assign: no driver %s in the registry "
                              "space",
                              driver);
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, registry)))
        return rc;
    return dc__org_finish(t, dc_branch_assign_txn(r, t, driver, branch));
}

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

static int value_region(const dc__rec *rec, const char *field, const char **p, size_t *n) {
    const dc__value *v = dc__rec_value(rec, field);
    *p = v && v->kind == DC_STR ? v->str : "";
    *n = v && v->kind == DC_STR ? v->len : 0;
    return 0;
}

static int score_branch(void *user, const dc__rec *rec) {
    suggest_ctx *c = user;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        cand *v = dc__realloc(c->v, nc * sizeof *v);
        if (!v)
            return DC_ENOMEM;
        c->v = v;
        c->cap = nc;
    }
    cand *k = &c->v[c->n];
    memset(k, 0, sizeof *k);
    const dc__value *name = dc__rec_value(rec, "name");
    k->id = dc__strndup(rec->id, strlen(rec->id));
    k->name = name && name->kind == DC_STR ? dc__strndup(name->str, name->len) : NULL;
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
    return dc__records_each(c->r, space, "branch", NULL, score_branch, c);
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
static int shown_str(const dc__rec *rec, const char *field, char *out, size_t cap) {
    dc_buf b = DC_BUF_INIT;
    int has = dc__registry_shown(rec, field, &b, NULL, 0);
    out[0] = 0;
    if (has > 0)
        snprintf(out, cap, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
    return has < 0 ? has : 0;
}

static int read_driver(void *user, const dc__rec *rec) {
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
    const dc__value *v = dc__rec_value(rec, "branch");
    if (v && v->kind == DC_STR) {
        d->has_branch = true;
        if (dc__buf_put(&d->branch, v->str, v->len))
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
        rc = left < 0 ? left : dc__records_each(r, scope[i], "driver", driver, read_driver, &d);
    }
    dc__free(scope);
    if (!rc && !d.found)
        rc = dc__model_fail(r, DC_ENOTFOUND,
                            "branch suggest: no driver %s in the registry "
                            "space",
                            driver);
    if (!rc)
        rc = dc__spaces_each(r, suggest_space, &c);
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

/* ======================================================================
 * Coverage
 *
 * Entries (driver, branch, source) come from the registry (every party-
 * member driver, and every driver with a branch) and from the rosters
 * (`member` records of every space held).  Sorted by driver, each group
 * tells whether the driver is a party member without a branch, listed on
 * several rosters, or listed where the registry does not put him.
 * ====================================================================== */

enum { SRC_REGISTRY = 0, SRC_ROSTER = 1 };

typedef struct entry {
    char *driver, *branch; /* branch NULL: none */
    int src;
    bool pm; /* registry entries: a party member */
} entry;

typedef struct cover_ctx {
    dc_replica *r;
    entry *v;
    size_t n, cap;
    dc__strs held;   /* branches whose roster this replica holds */
    dc__strs moved;  /* drivers the registry space walked forwards (sorted) */
    dc__strs behind; /* copies left behind by a move that still hold reports */
    dc__regextra extras;
} cover_ctx;

/* A party member by the status shown (the fold of his reports, with any
 * left behind by a move). */
static int is_party_member(const dc__rec *rec, const dc__regextra *extras) {
    size_t nx;
    const char *const *x = dc__registry_extras_of(extras, rec->id, &nx);
    dc_buf b = DC_BUF_INIT;
    int has = dc__registry_shown(rec, "status", &b, x, nx);
    int pm = has > 0 && (strcmp((const char *)b.ptr, "probationary") == 0 ||
                         strcmp((const char *)b.ptr, "member") == 0);
    dc_buf_dispose(&b);
    return has < 0 ? -1 : pm;
}

static int push_entry(cover_ctx *c, const char *driver, size_t dn, const char *branch, size_t bn,
                      int src, bool pm) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 256;
        entry *v = dc__realloc(c->v, nc * sizeof *v);
        if (!v)
            return DC_ENOMEM;
        c->v = v;
        c->cap = nc;
    }
    entry *e = &c->v[c->n];
    e->driver = dc__strndup(driver, dn);
    e->branch = branch ? dc__strndup(branch, bn) : NULL;
    e->src = src;
    e->pm = pm;
    if (!e->driver || (branch && !e->branch)) {
        dc__free(e->driver);
        dc__free(e->branch);
        return DC_ENOMEM;
    }
    c->n++;
    return 0;
}

static int cover_moved(void *user, const dc__rec *rec) {
    return dc__strs_push(&((cover_ctx *)user)->moved, rec->id, strlen(rec->id));
}

static int cover_driver(void *user, const dc__rec *rec) {
    cover_ctx *c = user;
    if (dc__strs_has(&c->moved, rec->id) && dc__registry_emptied(rec)) {
        /* Left behind by a move: not where he is kept; a report written
         * there concurrently with the move is news for his record. */
        for (size_t i = 0; i < rec->nf; i++)
            if (rec->f[i].member && strcmp(rec->f[i].name, "reports") == 0)
                return dc__strs_push(&c->behind, rec->id, strlen(rec->id));
        return 0;
    }
    const dc__value *b = dc__rec_value(rec, "branch");
    bool has = b && b->kind == DC_STR && b->len > 0;
    int ispm = is_party_member(rec, &c->extras);
    if (ispm < 0)
        return DC_ENOMEM;
    bool pm = ispm;
    if (!pm && !has)
        return 0;
    return push_entry(c, rec->id, strlen(rec->id), has ? b->str : NULL, has ? b->len : 0,
                      SRC_REGISTRY, pm);
}

static int cover_member(void *user, const dc__rec *rec) {
    cover_ctx *c = user;
    const dc__value *b = dc__rec_value(rec, "branch");
    if (!b || b->kind != DC_STR || b->len == 0)
        return 0;
    int rc = push_entry(c, rec->id, strlen(rec->id), b->str, b->len, SRC_ROSTER, false);
    return rc ? rc : dc__strs_push(&c->held, b->str, b->len);
}

static int cover_branch(void *user, const dc__rec *rec) {
    cover_ctx *c = user;
    return dc__strs_push(&c->held, rec->id, strlen(rec->id));
}

static int cover_space(void *user, const char *space) {
    cover_ctx *c = user;
    int rc = dc__records_each(c->r, space, "branch", NULL, cover_branch, c);
    return rc ? rc : dc__records_each(c->r, space, "member", NULL, cover_member, c);
}

static int entry_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int d = strcmp(x->driver, y->driver);
    if (d)
        return d;
    if (x->src != y->src)
        return x->src - y->src;
    if (!x->branch || !y->branch)
        return (x->branch != NULL) - (y->branch != NULL);
    return strcmp(x->branch, y->branch);
}

/* Per-branch counts: (branch, src) pairs sorted, counted in runs. */
typedef struct bcount {
    const char *branch;
    int src;
} bcount;

static int bcount_cmp(const void *a, const void *b) {
    const bcount *x = a, *y = b;
    int d = strcmp(x->branch, y->branch);
    return d ? d : x->src - y->src;
}

static int json_driver_list(dc_buf *b, const dc__strs *s) {
    int rc = dc__buf_putc(b, '[');
    for (size_t i = 0; !rc && i < s->n; i++) {
        if (i)
            rc = dc__buf_putc(b, ',');
        if (!rc)
            rc = dc__org_jstr(b, s->v[i]);
    }
    return rc ? rc : dc__buf_putc(b, ']');
}

static int coverage_json(dc_buf *b, cover_ctx *c) {
    size_t pm = 0, assigned = 0, nmis = 0;
    dc__strs unassigned = {0}, doubly = {0}, unknown = {0}, twice = {0};
    dc_buf mis = DC_BUF_INIT;
    bcount *bc = dc__calloc(c->n ? c->n : 1, sizeof *bc);
    size_t nbc = 0;
    int rc = bc ? 0 : DC_ENOMEM;
    for (size_t i = 0; !rc && i < c->n;) {
        size_t j = i;
        while (j < c->n && strcmp(c->v[j].driver, c->v[i].driver) == 0)
            j++;
        const entry *reg = c->v[i].src == SRC_REGISTRY ? &c->v[i] : NULL;
        /* Registry entries sort first; more than one is a driver kept in two
         * registry spaces (docs/domain.md, "Registry spaces"). */
        size_t r0 = i;
        while (r0 < j && c->v[r0].src == SRC_REGISTRY)
            r0++;
        size_t nr = j - r0; /* roster entries c->v[r0..j) */
        if (r0 - i > 1 && (rc = dc__strs_push(&twice, c->v[i].driver, strlen(c->v[i].driver))))
            break;
        for (size_t k = i; k < j; k++)
            if (c->v[k].branch)
                bc[nbc++] = (bcount){c->v[k].branch, c->v[k].src};
        if (reg && reg->pm) {
            pm++;
            if (reg->branch)
                assigned++;
            else
                rc = dc__strs_push(&unassigned, reg->driver, strlen(reg->driver));
        }
        if (!rc && !reg && nr)
            rc = dc__strs_push(&unknown, c->v[i].driver, strlen(c->v[i].driver));
        if (!rc && nr > 1)
            rc = dc__strs_push(&doubly, c->v[i].driver, strlen(c->v[i].driver));
        bool listed_right = false;
        for (size_t k = r0; reg && reg->branch && k < j; k++)
            if (strcmp(c->v[k].branch, reg->branch) == 0)
                listed_right = true;
        bool mismatch = false;
        if (reg) {
            /* On a roster the registry does not name, or missing from the
             * held roster of the branch the registry names. */
            if (nr > (listed_right ? 1u : 0u))
                mismatch = true;
            if (reg->branch && !listed_right && dc__strs_has(&c->held, reg->branch))
                mismatch = true;
        }
        if (!rc && mismatch) {
            rc = dc__buf_puts(&mis, nmis++ ? ",{\"driver\":" : "{\"driver\":");
            if (!rc)
                rc = dc__org_jstr(&mis, reg->driver);
            if (!rc && !(rc = dc__org_key(&mis, "registry", false)))
                rc = dc__org_jstr(&mis, reg->branch);
            if (!rc)
                rc = dc__buf_puts(&mis, ",\"rosters\":[");
            for (size_t k = r0; !rc && k < j; k++) {
                if (k > r0)
                    rc = dc__buf_putc(&mis, ',');
                if (!rc)
                    rc = dc__org_jstr(&mis, c->v[k].branch);
            }
            if (!rc)
                rc = dc__buf_puts(&mis, "]}");
        }
        i = j;
    }
    if (!rc)
        rc = dc__buf_printf(
            b,
            "{\"party_member_drivers\":%zu,\"assigned\":%zu,"
            "\"unassigned_count\":%zu,\"covered\":%s,\"unassigned\":",
            pm, assigned, unassigned.n,
            unassigned.n == 0 && nmis == 0 && doubly.n == 0 && twice.n == 0 ? "true" : "false");
    if (!rc)
        rc = json_driver_list(b, &unassigned);
    if (!rc && !(rc = dc__buf_puts(b, ",\"multiple_rosters\":")))
        rc = json_driver_list(b, &doubly);
    if (!rc && !(rc = dc__buf_puts(b, ",\"roster_mismatch\":[")) &&
        !(rc = dc__buf_put(b, mis.ptr, mis.size)) &&
        !(rc = dc__buf_puts(b, "],\"unknown_drivers\":")))
        rc = json_driver_list(b, &unknown);
    if (!rc && !(rc = dc__buf_puts(b, ",\"rosters_held\":")))
        rc = json_driver_list(b, &c->held);
    if (!rc && !(rc = dc__buf_puts(b, ",\"kept_twice\":")))
        rc = json_driver_list(b, &twice);
    dc__strs_sort(&c->behind);
    if (!rc && !(rc = dc__buf_puts(b, ",\"left_behind\":")))
        rc = json_driver_list(b, &c->behind);
    if (!rc) {
        qsort(bc, nbc, sizeof *bc, bcount_cmp);
        rc = dc__buf_puts(b, ",\"branches\":{");
        size_t nb = 0;
        for (size_t i = 0; !rc && i < nbc;) {
            size_t cnt[2] = {0, 0}, j = i;
            while (j < nbc && strcmp(bc[j].branch, bc[i].branch) == 0)
                cnt[bc[j++].src]++;
            if (nb++)
                rc = dc__buf_putc(b, ',');
            if (!rc)
                rc = dc__org_jstr(b, bc[i].branch);
            if (!rc)
                rc = dc__buf_printf(b, ":{\"registry\":%zu,\"roster\":%zu}", cnt[0], cnt[1]);
            i = j;
        }
        if (!rc)
            rc = dc__buf_puts(b, "}}");
    }
    dc__free(bc);
    dc__strs_free(&unassigned);
    dc__strs_free(&doubly);
    dc__strs_free(&unknown);
    dc__strs_free(&twice);
    dc_buf_dispose(&mis);
    return rc;
}

int dc_branch_coverage(dc_buf *out, dc_replica *r, const char *registry) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_branch_coverage: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_branch_coverage: out is NULL");
    cover_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    dc_buf b = DC_BUF_INIT;
    char(*scope)[33] = NULL;
    size_t nscope = 0;
    int rc = dc__registry_scope(r, registry, &scope, &nscope);
    if (!rc)
        rc = dc__registry_extras_load(r, scope, nscope, &c.extras);
    for (size_t i = 0; i < nscope && !rc; i++) {
        dc__strs_free(&c.moved);
        if (!(rc = dc__records_each(r, scope[i], "moved", NULL, cover_moved, &c))) {
            dc__strs_sort(&c.moved);
            rc = dc__records_each(r, scope[i], "driver", NULL, cover_driver, &c);
        }
    }
    dc__free(scope);
    if (!rc)
        rc = dc__spaces_each(r, cover_space, &c);
    if (!rc) {
        dc__strs_sort(&c.held);
        qsort(c.v, c.n, sizeof *c.v, entry_cmp);
        rc = coverage_json(&b, &c);
    }
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "branch coverage: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &b);
    for (size_t i = 0; i < c.n; i++) {
        dc__free(c.v[i].driver);
        dc__free(c.v[i].branch);
    }
    dc__free(c.v);
    dc__strs_free(&c.held);
    dc__strs_free(&c.moved);
    dc__strs_free(&c.behind);
    dc__registry_extras_free(&c.extras);
    dc_buf_dispose(&b);
    return rc;
}

/* ======================================================================
 * Secretaries and instructors, with task lists
 *
 * A task is named by its text.  Adding it and marking it done or not done
 * are events {"task", "due", "done"} on the secretary's record; the state
 * of a task is that of its last event in event order (clock order), so two
 * offline tablets marking the same task converge on the later mark.
 * ====================================================================== */

static const char *const secretary_roles[] = {"secretary", "instructor", NULL};

int dc_secretary_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_secretary_options *o) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_secretary_put_txn")))
        return rc;
    if (!o || o->version != DC_SECRETARY_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "secretary: options missing or of an unknown version");
    const char *role = o->role && *o->role ? o->role : "secretary";
    if ((rc = dc__org_prefixed(r, "secretary: the branch", o->branch, "branch-")) ||
        (rc = dc__org_id(r, "secretary: the person id", o->person)) ||
        (rc = dc__org_text(r, "secretary: the name", o->name, true)) ||
        (rc = dc__org_enum(r, "secretary: the role", role, secretary_roles)))
        return rc;
    if (o->from_dept && *o->from_dept &&
        (rc = dc__org_id(r, "secretary: the sending department", o->from_dept)))
        return rc;
    dc_buf sid = DC_BUF_INIT;
    if (dc__buf_printf(&sid, "%s/%s", o->branch, o->person))
        return dc__model_fail(r, DC_ENOMEM, "secretary: out of memory");
    const char *k = (const char *)sid.ptr;
    if (!(rc = dc_txn_set(t, "secretary", k, "name", DC_STR, 0, o->name)) &&
        !(rc = dc_txn_set(t, "secretary", k, "branch", DC_STR, 0, o->branch)) &&
        !(rc = dc__org_set_str(t, "secretary", k, "from_dept", o->from_dept)))
        rc = dc_txn_set(t, "secretary", k, "role", DC_STR, 0, role);
    if (!rc && id)
        dc__buf_move(id, &sid);
    dc_buf_dispose(&sid);
    return rc;
}

int dc_secretary_put(dc_buf *id, dc_replica *r, const char *space, const dc_secretary_options *o) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_secretary_put_txn(id, r, t, o));
}

static int task_event(dc_txn *t, const char *secretary, const char *task, const char *due,
                      int done) {
    int rc = dc_txn_event(t, "secretary", secretary);
    if (!rc)
        rc = dc_txn_event_field(t, "task", DC_STR, 0, task);
    if (!rc)
        rc = dc_txn_event_field(t, "due", due && *due ? DC_STR : DC_NULL, 0, due);
    if (!rc)
        rc = dc_txn_event_field(t, "done", DC_BOOL, done != 0, NULL);
    return rc;
}

static int check_task(dc_replica *r, const char *secretary, const char *task, const char *due) {
    int rc;
    if ((rc = dc__org_text(r, "secretary: the secretary id", secretary, true)) ||
        (rc = dc__org_text(r, "secretary: the task", task, true)))
        return rc;
    if (due && *due && (rc = dc__org_date_check(r, "secretary: the due date", due)))
        return rc;
    return 0;
}

int dc_secretary_task_txn(dc_replica *r, dc_txn *t, const char *secretary, const char *task,
                          const char *due) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_secretary_task_txn")) ||
        (rc = check_task(r, secretary, task, due)))
        return rc;
    return task_event(t, secretary, task, due, 0);
}

/* ---- folding the task events of one secretary ---- */

typedef struct task {
    char *task, *due;
    bool done;
} task;

typedef struct tasks {
    task *v;
    size_t n, cap;
} tasks;

static void tasks_free(tasks *ts) {
    for (size_t i = 0; i < ts->n; i++) {
        dc__free(ts->v[i].task);
        dc__free(ts->v[i].due);
    }
    dc__free(ts->v);
    memset(ts, 0, sizeof *ts);
}

static int tasks_fold(tasks *ts, const dc__rec *rec) {
    int rc = 0;
    for (size_t i = 0; !rc && i < rec->ne; i++) {
        const dc__rev *ev = &rec->events[i];
        const char *name = dc__ev_str(ev, "task"), *due = dc__ev_str(ev, "due");
        if (!name)
            continue; /* not a task event */
        task *k = NULL;
        for (size_t j = 0; j < ts->n && !k; j++)
            if (strcmp(ts->v[j].task, name) == 0)
                k = &ts->v[j];
        if (!k) {
            if (ts->n == ts->cap) {
                size_t nc = ts->cap ? ts->cap * 2 : 8;
                task *v = dc__realloc(ts->v, nc * sizeof *v);
                if (!v) {
                    rc = DC_ENOMEM;
                    break;
                }
                ts->v = v;
                ts->cap = nc;
            }
            k = &ts->v[ts->n];
            memset(k, 0, sizeof *k);
            if (!(k->task = dc__strndup(name, strlen(name)))) {
                rc = DC_ENOMEM;
                break;
            }
            ts->n++;
        }
        k->done = dc__ev_bool(ev, "done") == 1;
        if (due) {
            dc__free(k->due);
            if (!(k->due = dc__strndup(due, strlen(due))))
                rc = DC_ENOMEM;
        }
    }
    return rc;
}

typedef struct task_lookup {
    const char *task;
    bool secretary, found;
    char *due;
} task_lookup;

static int lookup_task(void *user, const dc__rec *rec) {
    task_lookup *l = user;
    tasks ts = {0};
    l->secretary = true;
    int rc = tasks_fold(&ts, rec);
    for (size_t i = 0; !rc && i < ts.n; i++)
        if (strcmp(ts.v[i].task, l->task) == 0) {
            l->found = true;
            if (ts.v[i].due && !(l->due = dc__strndup(ts.v[i].due, strlen(ts.v[i].due))))
                rc = DC_ENOMEM;
        }
    tasks_free(&ts);
    return rc;
}

int dc_secretary_task(dc_replica *r, const char *space, const char *secretary, const char *task,
                      const char *due) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_secretary_task: the replica handle is NULL");
    int rc = check_task(r, secretary, task, due);
    if (rc)
        return rc;
    rc = dc__org_exists(r, space, "secretary", secretary);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND, "secretary: no secretary %s in this space",
                              secretary);
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    return dc__org_finish(t, task_event(t, secretary, task, due, 0));
}

int dc_secretary_done(dc_replica *r, const char *space, const char *secretary, const char *task,
                      int done) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_secretary_done: the replica handle is NULL");
    int rc = check_task(r, secretary, task, NULL);
    if (rc)
        return rc;
    task_lookup l = {task, false, false, NULL};
    rc = dc__records_each(r, space, "secretary", secretary, lookup_task, &l);
    if (!rc && !l.secretary)
        rc = dc__model_fail(r, DC_ENOTFOUND, "secretary: no secretary %s in this space", secretary);
    else if (!rc && !l.found)
        rc = dc__model_fail(r, DC_ENOTFOUND,
                            "secretary: %s has no task '%.100s' (add it "
                            "first)",
                            secretary, task);
    dc_txn *t = NULL;
    if (!rc && !(rc = dc__org_begin(&t, r, space)))
        rc = dc__org_finish(t, task_event(t, secretary, task, l.due, done));
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "secretary: %s", dc_strerror(rc));
    dc__free(l.due);
    return rc;
}

typedef struct sec_walk {
    dc_buf b;
    size_t n;
} sec_walk;

static int secretary_one(void *user, const dc__rec *rec) {
    sec_walk *w = user;
    dc_buf *b = &w->b;
    tasks ts = {0};
    int rc = tasks_fold(&ts, rec);
    if (!rc)
        rc = dc__buf_puts(b, w->n++ ? ",{\"secretary\":" : "{\"secretary\":");
    if (!rc)
        rc = dc__org_jstr(b, rec->id);
    static const char *const fields[] = {"name", "branch", "from_dept", "role"};
    for (size_t i = 0; !rc && i < 4; i++)
        if (!(rc = dc__org_key(b, fields[i], false)))
            rc = dc__org_jfield(b, rec, fields[i]);
    size_t done = 0;
    if (!rc)
        rc = dc__buf_puts(b, ",\"tasks\":[");
    for (size_t i = 0; !rc && i < ts.n; i++) {
        done += ts.v[i].done;
        rc = dc__buf_puts(b, i ? ",{\"task\":" : "{\"task\":");
        if (!rc)
            rc = dc__org_jstr(b, ts.v[i].task);
        if (!rc && !(rc = dc__org_key(b, "due", false)))
            rc = dc__org_jstr(b, ts.v[i].due);
        if (!rc)
            rc = dc__buf_printf(b, ",\"done\":%s}", ts.v[i].done ? "true" : "false");
    }
    if (!rc)
        rc = dc__buf_printf(b, "],\"open\":%zu,\"done\":%zu}", ts.n - done, done);
    tasks_free(&ts);
    return rc;
}

int dc_secretary_show(dc_buf *out, dc_replica *r, const char *space, const char *secretary) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_secretary_show: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_secretary_show: out is NULL");
    sec_walk w = {DC_BUF_INIT, 0};
    const char *one = secretary && *secretary ? secretary : NULL;
    int rc = dc__buf_puts(&w.b, "{\"secretaries\":[");
    if (!rc)
        rc = dc__records_each(r, space, "secretary", one, secretary_one, &w);
    if (!rc && one && w.n == 0)
        rc = dc__model_fail(r, DC_ENOTFOUND, "secretary: no secretary %s in this space", one);
    if (!rc)
        rc = dc__buf_puts(&w.b, "]}");
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "secretary show: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &w.b);
    dc_buf_dispose(&w.b);
    return rc;
}
