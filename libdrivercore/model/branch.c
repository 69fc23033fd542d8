/*
 * model/branch.c — mobile party branches (流动党员党支部): the branch
 * record with its four principles, the roster kept in the branch's space,
 * a driver's assignment kept in the registry (the register `branch` of his
 * driver record, so he is in at most one branch by construction), the
 * suggestion of a branch for a driver by the four principles, the coverage
 * report (应管尽管、全面覆盖), and the secretaries and instructors with
 * their task lists.  This file holds the branch record, its roster and the
 * assignment; the suggestion is branch_suggest.c, the coverage report
 * branch_coverage.c (their rules: docs/domain.md, "Branch suggestion",
 * "Coverage"), the secretaries secretary.c.
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

static int roster_entry(void *user, const dc_record *rec) {
    roster_ctx *c = user;
    if (!c->from || !dc__org_rec_is(rec, "branch", c->from))
        return 0;
    if (DC__VEC_ROOM(c->drop, c->ndrop, c->cdrop))
        return dc__model_fail(c->r, DC_ENOMEM, "branch: out of memory");
    memcpy(c->drop[c->ndrop++], c->space, 33);
    return 0;
}

static int roster_branch(void *user, const dc_record *rec) {
    roster_ctx *c = user;
    (void)rec;
    if (!c->add[0])
        memcpy(c->add, c->space, 33);
    return 0;
}

static int roster_space(void *user, const char *hex) {
    roster_ctx *c = user;
    c->space = hex;
    int rc = dc__dom_each(c->r, hex, "member", c->driver, roster_entry, c);
    if (!rc)
        rc = dc__dom_each(c->r, hex, "branch", c->to, roster_branch, c);
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
    int rc = dc_space_each(r, roster_space, &c);
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
