/*
 * model/branch_coverage.c — the coverage report (应管尽管、全面覆盖,
 * docs/domain.md "Coverage"): the registry's party-member drivers and
 * branch assignments set against the branches' rosters, telling who has no
 * branch, who is listed twice and who is listed where the registry does not
 * put him.  Its one implementation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/org_int.h"
#include "model/registry_int.h"

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
static int is_party_member(const dc_record *rec, const dc__regextra *extras) {
    size_t nx;
    const char *const *x = dc__registry_extras_of(extras, dc_record_id(rec), &nx);
    dc_buf b = DC_BUF_INIT;
    int has = dc__registry_shown(rec, "status", &b, x, nx);
    int pm = has > 0 && (strcmp((const char *)b.ptr, "probationary") == 0 ||
                         strcmp((const char *)b.ptr, "member") == 0);
    dc_buf_dispose(&b);
    return has < 0 ? -1 : pm;
}

static int push_entry(cover_ctx *c, const char *driver, size_t dn, const char *branch, size_t bn,
                      int src, bool pm) {
    if (DC__VEC_ROOM(c->v, c->n, c->cap))
        return DC_ENOMEM;
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

static int cover_moved(void *user, const dc_record *rec) {
    return dc__strs_push(&((cover_ctx *)user)->moved, dc_record_id(rec), strlen(dc_record_id(rec)));
}

static int cover_driver(void *user, const dc_record *rec) {
    cover_ctx *c = user;
    if (dc__strs_has(&c->moved, dc_record_id(rec)) && dc__registry_emptied(rec)) {
        /* Left behind by a move: not where he is kept; a report written
         * there concurrently with the move is news for his record. */
        if (dc_record_set_size(rec, "reports") > 0)
            return dc__strs_push(&c->behind, dc_record_id(rec), strlen(dc_record_id(rec)));
        return 0;
    }
    const dc_value *b = dc_record_value(rec, "branch");
    bool has = b && b->kind == DC_STR && b->len > 0;
    int ispm = is_party_member(rec, &c->extras);
    if (ispm < 0)
        return DC_ENOMEM;
    bool pm = ispm;
    if (!pm && !has)
        return 0;
    return push_entry(c, dc_record_id(rec), strlen(dc_record_id(rec)), has ? dc__vstr(b) : NULL,
                      has ? b->len : 0, SRC_REGISTRY, pm);
}

static int cover_member(void *user, const dc_record *rec) {
    cover_ctx *c = user;
    const dc_value *b = dc_record_value(rec, "branch");
    if (!b || b->kind != DC_STR || b->len == 0)
        return 0;
    int rc = push_entry(c, dc_record_id(rec), strlen(dc_record_id(rec)), dc__vstr(b), b->len,
                        SRC_ROSTER, false);
    return rc ? rc : dc__strs_push(&c->held, dc__vstr(b), b->len);
}

static int cover_branch(void *user, const dc_record *rec) {
    cover_ctx *c = user;
    return dc__strs_push(&c->held, dc_record_id(rec), strlen(dc_record_id(rec)));
}

static int cover_space(void *user, const char *space) {
    cover_ctx *c = user;
    int rc = dc__dom_each(c->r, space, "branch", NULL, cover_branch, c);
    return rc ? rc : dc__dom_each(c->r, space, "member", NULL, cover_member, c);
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
        if (!(rc = dc__dom_each(r, scope[i], "moved", NULL, cover_moved, &c))) {
            dc__strs_sort(&c.moved);
            rc = dc__dom_each(r, scope[i], "driver", NULL, cover_driver, &c);
        }
    }
    dc__free(scope);
    if (!rc)
        rc = dc_space_each(r, cover_space, &c);
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
