/*
 * model/regspace.c — the registry in spaces that follow the organisation
 * (docs/domain.md, "Registry spaces" and "Moves"): a root whose key every
 * part derives its lookup and seal keys from, county and branch registries
 * that each keep the drivers of one county or one branch, the province's
 * view as the union of the parts, enrolment of a device into a part (and
 * its root), and the move of a driver between parts with his record, his
 * branch membership and his open cases.
 *
 * It exists so that a lost tablet exposes one branch and a county desk one
 * county, while the province office, a member of every part, still sees
 * the whole province; and so that a driver who goes to work in another
 * county is kept by that county without anything about him being lost.
 * Space creation and device enrolment happen here and nowhere else in the
 * registry, so that a consent step (a device accepting an invitation) has
 * one place to go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "drivercore/registry.h"
#include "drivercore/space.h"
#include "drivercore/txn.h"
#include "model/grievance_int.h"
#include "model/org_int.h"
#include "model/registry_int.h"

#define T_PART "registry"
#define ID_PART "part"
#define T_DRIVER "driver"
#define T_MOVED "moved"

/* ---- what a registry space is ---- */

static void copy_field(const dc_record *rec, const char *field, char *out, size_t cap) {
    dc__org_rec_str(rec, field, out, cap);
}

static int part_cb(void *user, const dc_record *rec) {
    dc__regpart *p = user;
    p->has = true;
    copy_field(rec, "root", p->root, sizeof p->root);
    copy_field(rec, "level", p->level, sizeof p->level);
    copy_field(rec, "region", p->region, sizeof p->region);
    copy_field(rec, "branch", p->branch, sizeof p->branch);
    return 0;
}

int dc__registry_part(dc_replica *r, const char *space, dc__regpart *p) {
    memset(p, 0, sizeof *p);
    int rc = dc__dom_each(r, space, T_PART, ID_PART, part_cb, p);
    if (rc)
        return rc;
    if (p->has && strlen(p->root) != 32)
        snprintf(p->root, sizeof p->root, "%s", space); /* a malformed record names no root */
    return 0;
}

int dc__registry_root(dc_replica *r, const char *space, char root[33]) {
    dc__regpart p;
    int rc = dc__registry_part(r, space, &p);
    if (rc)
        return rc;
    snprintf(root, 33, "%s", p.has ? p.root : space);
    return 0;
}

int dc__registry_subkey(dc_replica *r, const char *space, const char *context, uint8_t out[32]) {
    char root[33];
    int rc = dc__registry_root(r, space, root);
    if (rc)
        return rc;
    return dc__registry_root_subkey(r, space, root, context, out);
}

int dc__registry_root_subkey(dc_replica *r, const char *space, const char *root,
                             const char *context, uint8_t out[32]) {
    int rc = dc_space_derive_key(r, root, context, out);
    if ((rc == DC_ENOKEY || rc == DC_ENOTFOUND) && strcmp(root, space) != 0)
        return dc__model_fail(r, DC_ENOKEY,
                              "registry: space %s is a part of the registry %s, whose key this "
                              "device does not hold (the keys of every part come from it): ask "
                              "the province office to enrol this device (registry enrol)",
                              space, root);
    return rc;
}

typedef struct scope_ctx {
    dc_replica *r;
    const char *root;
    char (*v)[33];
    size_t n, cap;
    int rc;
} scope_ctx;

static int scope_push(scope_ctx *c, const char *hex) {
    if (DC__VEC_ROOM(c->v, c->n, c->cap))
        return DC_ENOMEM;
    memcpy(c->v[c->n++], hex, 33);
    return 0;
}

static int scope_each(void *user, const char *hex) {
    scope_ctx *c = user;
    if (strcmp(hex, c->root) == 0)
        return 0;
    dc__regpart p;
    int rc = dc__registry_part(c->r, hex, &p);
    if (rc)
        return rc;
    if (p.has && strcmp(p.root, c->root) == 0)
        return scope_push(c, hex) ? dc__model_fail(c->r, DC_ENOMEM, "registry: out of memory") : 0;
    return 0;
}

int dc__registry_scope(dc_replica *r, const char *space, char (**out)[33], size_t *n) {
    *out = NULL;
    *n = 0;
    dc__regpart p;
    int rc = dc__registry_part(r, space, &p);
    if (rc)
        return rc;
    scope_ctx c = {r, space, NULL, 0, 0, 0};
    if (scope_push(&c, space))
        return dc__model_fail(r, DC_ENOMEM, "registry: out of memory");
    if (!p.has || strcmp(p.root, space) == 0)
        rc = dc_space_each(r, scope_each, &c);
    if (rc) {
        dc__free(c.v);
        return rc;
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

bool dc__county_of(const char *code, size_t n, char out[7]) {
    if (!code)
        return false;
    int sig = dc__region_sig(code, n);
    if (sig < 6)
        return false;
    memcpy(out, code, 6);
    out[6] = 0;
    return dc__region_sig(out, 6) == 6;
}

/* ---- reports left behind by moves ---- */

typedef struct extra_ctx {
    dc_replica *r;
    dc__regextra *x;
    const char *space;
} extra_ctx;

static int extra_driver(void *user, const dc_record *rec) {
    extra_ctx *c = user;
    dc__regextra *x = c->x;
    if (!dc__registry_emptied(rec))
        return 0; /* filled again by a concurrent move: kept, read as such */
    size_t k = 0, nm = dc_record_set_size(rec, "reports");
    dc_value v;
    for (size_t i = 0; i < nm; i++)
        k += dc_record_set_at(rec, "reports", i, &v) == 0 && v.kind == DC_STR;
    if (!k || strlen(dc_record_id(rec)) != 24)
        return 0;
    /* Left behind in two spaces: one list with the reports of both. */
    size_t at = 0;
    while (at < x->n && strcmp(x->did[at], dc_record_id(rec)) != 0)
        at++;
    if (at < x->n) {
        char **list = dc__realloc(x->rep[at], (x->nrep[at] + k + 1) * sizeof *list);
        if (!list)
            return DC_ENOMEM;
        x->rep[at] = list;
        for (size_t i = 0; i < nm; i++)
            if (dc_record_set_at(rec, "reports", i, &v) == 0 && v.kind == DC_STR) {
                if (!(list[x->nrep[at]] = dc__strndup(dc__vstr(&v), v.len)))
                    return DC_ENOMEM;
                list[++x->nrep[at]] = NULL;
            }
        return 0;
    }
    /* Three arrays of one capacity: each grows from the same one, and the
     * capacity moves only when all three have. */
    size_t cdid = x->cap, crep = x->cap, cnrep = x->cap;
    if (DC__VEC_ROOM(x->did, x->n, cdid) || DC__VEC_ROOM(x->rep, x->n, crep) ||
        DC__VEC_ROOM(x->nrep, x->n, cnrep))
        return DC_ENOMEM;
    x->cap = cdid;
    char **list = dc__calloc(k + 1, sizeof *list);
    if (!list)
        return DC_ENOMEM;
    memcpy(x->did[x->n], dc_record_id(rec), 25);
    x->rep[x->n] = list;
    x->nrep[x->n] = 0;
    x->n++;
    for (size_t i = 0; i < nm; i++)
        if (dc_record_set_at(rec, "reports", i, &v) == 0 && v.kind == DC_STR) {
            if (!(list[x->nrep[x->n - 1]] = dc__strndup(dc__vstr(&v), v.len)))
                return DC_ENOMEM;
            x->nrep[x->n - 1]++;
        }
    return 0;
}

static int extra_moved(void *user, const dc_record *rec) {
    extra_ctx *c = user;
    /* Collected after the walk of `moved` (no read inside a walk of the
     * same space and type is needed, but keep the walks apart anyway). */
    return dc__dom_each(c->r, c->space, "driver", dc_record_id(rec), extra_driver, c);
}

int dc__registry_extras_load(dc_replica *r, char (*spaces)[33], size_t n, dc__regextra *x) {
    memset(x, 0, sizeof *x);
    for (size_t i = 0; i < n; i++) {
        extra_ctx c = {r, x, spaces[i]};
        int rc = dc__dom_each(r, spaces[i], T_MOVED, NULL, extra_moved, &c);
        if (rc == DC_ENOMEM)
            return dc__model_fail(r, rc, "registry: out of memory");
        if (rc)
            return rc;
    }
    /* Sorted by driver (a copy of the ids sorts with its lists). */
    for (size_t i = 1; i < x->n; i++)
        for (size_t j = i; j > 0 && strcmp(x->did[j - 1], x->did[j]) > 0; j--) {
            char t[25];
            memcpy(t, x->did[j], 25);
            memcpy(x->did[j], x->did[j - 1], 25);
            memcpy(x->did[j - 1], t, 25);
            char **tr = x->rep[j];
            x->rep[j] = x->rep[j - 1];
            x->rep[j - 1] = tr;
            size_t tn = x->nrep[j];
            x->nrep[j] = x->nrep[j - 1];
            x->nrep[j - 1] = tn;
        }
    return 0;
}

const char *const *dc__registry_extras_of(const dc__regextra *x, const char *did, size_t *n) {
    *n = 0;
    size_t lo = 0, hi = x ? x->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(x->did[mid], did);
        if (c == 0) {
            *n = x->nrep[mid];
            return (const char *const *)x->rep[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void dc__registry_extras_free(dc__regextra *x) {
    for (size_t i = 0; i < x->n; i++) {
        for (size_t j = 0; j < x->nrep[i]; j++)
            dc__free(x->rep[i][j]);
        dc__free(x->rep[i]);
    }
    dc__free(x->did);
    dc__free(x->rep);
    dc__free(x->nrep);
    memset(x, 0, sizeof *x);
}

/* ---- creating the root and the parts ---- */

static int write_part(dc_replica *r, const char *space, const char *root, const char *level,
                      const char *region, const char *branch) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    if (!(rc = dc_txn_set(t, T_PART, ID_PART, "root", DC_STR, 0, root)) &&
        !(rc = dc_txn_set(t, T_PART, ID_PART, "level", DC_STR, 0, level)) &&
        !(rc = dc__org_set_str(t, T_PART, ID_PART, "region", region)))
        rc = dc__org_set_str(t, T_PART, ID_PART, "branch", branch);
    return dc__org_finish(t, rc);
}

/* The one place where the registry creates a space: a consent step for the
 * devices added later belongs beside dc_registry_enrol, not here. */
static int create_space(dc_buf *out, dc_replica *r, const char *name) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_space_create(&b, r, name);
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    return rc;
}

int dc_registry_create(dc_buf *space, dc_replica *r, const char *region, const char *name) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_create: the replica handle is NULL");
    if (!space)
        return dc__model_fail(r, DC_EMISUSE, "dc_registry_create: space is NULL");
    if (!region || strlen(region) != 6 || dc__region_sig(region, 6) != 2)
        return dc__model_fail(r, DC_EINVAL,
                              "registry create: the region must be a province code of 6 digits "
                              "ending in 0000 (e.g. 520000), not '%.20s'",
                              region ? region : "");
    if (name && dc__org_text(r, "registry create: the name", name, true))
        return DC_EINVAL;
    dc_buf id = DC_BUF_INIT;
    int rc = create_space(&id, r, name ? name : "registry");
    if (!rc)
        rc = write_part(r, (const char *)id.ptr, (const char *)id.ptr, "province", region, NULL);
    if (!rc)
        dc__buf_move(space, &id);
    dc_buf_dispose(&id);
    return rc;
}

int dc_registry_part_create(dc_buf *space, dc_replica *r, const dc_registry_part_options *o) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_part_create: the replica handle is NULL");
    if (!space || !o)
        return dc__model_fail(r, DC_EMISUSE,
                              "dc_registry_part_create: space and options "
                              "must not be NULL");
    if (o->version != DC_REGISTRY_PART_OPTIONS_VERSION)
        return dc__model_fail(r, DC_EINVAL, "registry part: options version %u is not %d",
                              o->version, DC_REGISTRY_PART_OPTIONS_VERSION);
    if (!o->root)
        return dc__model_fail(r, DC_EINVAL, "registry part: the root is required");
    char county[7];
    if (!o->region || strlen(o->region) != 6 || !dc__county_of(o->region, 6, county))
        return dc__model_fail(r, DC_EINVAL,
                              "registry part: the region must be a county code of 6 digits "
                              "(e.g. 520112), not '%.20s'",
                              o->region ? o->region : "");
    int rc;
    if (o->branch && (rc = dc__org_prefixed(r, "registry part: the branch", o->branch, "branch-")))
        return rc;
    if (o->name && (rc = dc__org_text(r, "registry part: the name", o->name, true)))
        return rc;
    /* The root must be held: its key is what the part's keys come from. */
    dc__regpart rp;
    if ((rc = dc__registry_part(r, o->root, &rp)))
        return rc;
    if (rp.has && strcmp(rp.root, o->root) != 0)
        return dc__model_fail(r, DC_EINVAL,
                              "registry part: %s is itself a part (of %s), not a root", o->root,
                              rp.root);
    /* Only whether it can be derived: the key itself is wiped at once. */
    uint8_t probe[32];
    rc = dc_space_derive_key(r, o->root, "drivercore lookup v1", probe);
    dc__wipe(probe, sizeof probe);
    if (rc)
        return rc;
    char name[160];
    snprintf(name, sizeof name, "registry %s", o->branch ? o->branch : o->region);
    dc_buf id = DC_BUF_INIT;
    rc = create_space(&id, r, o->name ? o->name : name);
    if (!rc)
        rc = write_part(r, (const char *)id.ptr, o->root, o->branch ? "branch" : "county",
                        o->region, o->branch);
    if (!rc)
        dc__buf_move(space, &id);
    dc_buf_dispose(&id);
    return rc;
}

/* ---- enrolment ---- */

static int card_device(void *user, const char *key, const dc__value *v) {
    if (strcmp(key, "device") == 0 && v->kind == DC_STR && v->len == 64) {
        memcpy(user, v->str, 64);
        ((char *)user)[64] = 0;
    }
    return 0;
}

int dc_registry_enrol(dc_replica *r, const char *part, const char *card_json, int role) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_enrol: the replica handle is NULL");
    if (!part || !card_json)
        return dc__model_fail(r, DC_EMISUSE, "registry enrol: part and card must not be NULL");
    char root[33], device[65] = "";
    int rc = dc__registry_root(r, part, root);
    if (rc)
        return rc;
    /* The device named by the card: adding this very device to the root as
     * a reader would demote its own (admin) role there. */
    if (dc__json_flat_each(card_json, card_device, device) != 0)
        device[0] = 0;
    if ((rc = dc_space_add(r, part, card_json, role)))
        return rc;
    if (strcmp(root, part) == 0 || strcmp(device, dc_replica_device_id(r)) == 0)
        return 0;
    return dc_space_add(r, root, card_json, DC_ROLE_READER);
}

/* ---- listing ---- */

typedef struct listed {
    char space[33];
    dc__regpart p;
    int rank; /* 0 province, 1 county, 2 branch */
} listed;

typedef struct list_ctx {
    dc_replica *r;
    listed *v;
    size_t n, cap;
} list_ctx;

static int stop_at_first(void *user, const dc_record *rec) {
    (void)rec;
    *(bool *)user = true;
    return 1;
}

static int list_each(void *user, const char *hex) {
    list_ctx *c = user;
    dc__regpart p;
    int rc = dc__registry_part(c->r, hex, &p);
    if (rc)
        return rc;
    if (!p.has) {
        /* A registry of the layout before parts: it holds drivers. */
        bool any = false;
        rc = dc__dom_each(c->r, hex, T_DRIVER, NULL, stop_at_first, &any);
        if (rc < 0)
            return rc;
        if (!any)
            return 0;
        snprintf(p.root, sizeof p.root, "%s", hex);
        snprintf(p.level, sizeof p.level, "province");
    }
    if (DC__VEC_ROOM(c->v, c->n, c->cap))
        return dc__model_fail(c->r, DC_ENOMEM, "registry spaces: out of memory");
    listed *l = &c->v[c->n++];
    memcpy(l->space, hex, 33);
    l->p = p;
    l->rank = strcmp(p.level, "branch") == 0 ? 2 : strcmp(p.level, "county") == 0 ? 1 : 0;
    return 0;
}

static int listed_cmp(const void *a, const void *b) {
    const listed *x = a, *y = b;
    int c;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if ((c = strcmp(x->p.region, y->p.region)) || (c = strcmp(x->p.branch, y->p.branch)))
        return c;
    return strcmp(x->space, y->space);
}

int dc_registry_spaces(dc_buf *out, dc_replica *r) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_spaces: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_registry_spaces: out is NULL");
    list_ctx c = {r, NULL, 0, 0};
    int rc = dc_space_each(r, list_each, &c);
    dc_buf b = DC_BUF_INIT;
    if (!rc) {
        if (c.n > 1)
            qsort(c.v, c.n, sizeof *c.v, listed_cmp);
        int e = dc__buf_putc(&b, '[');
        for (size_t i = 0; i < c.n && !e; i++) {
            const listed *l = &c.v[i];
            e = dc__buf_printf(&b,
                               "%s{\"space\":\"%s\",\"root\":\"%s\",\"level\":\"%s\",\"region\":",
                               i ? "," : "", l->space, l->p.root, l->p.level) ||
                dc__org_jstr(&b, l->p.region[0] ? l->p.region : NULL) ||
                dc__buf_puts(&b, ",\"branch\":") ||
                dc__org_jstr(&b, l->p.branch[0] ? l->p.branch : NULL) || dc__buf_putc(&b, '}');
        }
        if (e || dc__buf_putc(&b, ']'))
            rc = dc__model_fail(r, DC_ENOMEM, "registry spaces: out of memory");
    }
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    dc__free(c.v);
    return rc;
}

/* ---- moves ---- */

/* A copy of one driver record, as read (a query's page of one). */
typedef struct drec {
    bool found;
    dc_records *rs;
    const dc_record *rec;
} drec;

static void drec_dispose(drec *d) {
    dc_records_free(d->rs);
    memset(d, 0, sizeof *d);
}

static int drec_read(drec *d, dc_replica *r, const char *space, const char *did) {
    memset(d, 0, sizeof *d);
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 1, did, 1};
    int rc = dc_record_query(&d->rs, r, space, T_DRIVER, &o);
    if (rc)
        return rc;
    d->rec = dc_records_at(d->rs, 0);
    d->found = d->rec != NULL;
    return 0;
}

static bool same_value(const dc_value *a, const dc_value *b) {
    if (a->kind != b->kind)
        return false;
    if (a->kind == DC_STR)
        return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
    return a->kind == DC_NULL || a->num == b->num;
}

/* Does `d` hold register (member false) or set member (true) `name` with
 * value v? */
static bool drec_has(const drec *d, const char *name, bool member, const dc_value *v) {
    if (!d->rec)
        return false;
    if (member)
        return dc_record_set_contains(d->rec, name, v) == 1;
    const dc_value *x = dc_record_value(d->rec, name);
    return x && same_value(x, v);
}

/* A record's entries: its registers in name order, then each member of its
 * sets (sets in name order, members in value order). */
typedef struct entries {
    const dc_record *rec;
    size_t nf, i, j;
    int pass;
} entries;

static bool entry_next(entries *it, const char **name, bool *member, dc_value *v) {
    for (; it->pass < 2; it->pass++, it->i = 0, it->j = 0)
        for (; it->rec && it->i < it->nf; it->i++, it->j = 0) {
            int set;
            if (dc_record_field_at(it->rec, it->i, name, &set) || set != it->pass)
                continue;
            *member = set;
            if (!set) {
                *v = *dc_record_value(it->rec, *name);
                it->i++;
                return true;
            }
            if (it->j < dc_record_set_size(it->rec, *name) &&
                dc_record_set_at(it->rec, *name, it->j, v) == 0) {
                it->j++;
                return true;
            }
        }
    return false;
}

static entries entries_of(const drec *d) {
    entries it = {d->rec, d->rec ? dc_record_field_count(d->rec) : 0, 0, 0, 0};
    return it;
}

/* What makes two driver events the same: their keys and values without
 * the author and time the record layer adds, and their original time (the
 * "at" a move copied, else their own): a record moved away and back holds
 * each event once. */
static int ev_key(dc_buf *out, const dc_event *e) {
    int64_t at = -1;
    dc__buf_clear(out);
    for (size_t i = 0; i < e->nfields; i++) {
        const char *key = e->keys[i];
        const dc_value *v = &e->values[i];
        if (strcmp(key, "at") == 0 && v->kind == DC_INT)
            at = v->num;
        if (key[0] == '@' || strcmp(key, "at") == 0)
            continue;
        if (dc__buf_printf(out, "%s=%d:", key, v->kind) ||
            (v->kind == DC_STR ? dc__buf_put(out, v->ptr, v->len)
                               : dc__buf_printf(out, "%lld", (long long)v->num)) ||
            dc__buf_putc(out, '\n'))
            return DC_ENOMEM;
    }
    return dc__buf_printf(out, "@%lld", (long long)(at >= 0 ? at : e->time_ms)) ? DC_ENOMEM : 0;
}

/* Re-emits one stored event: its keys, with its original time kept as "at"
 * (unless it has one: an event moved twice keeps its first time). */
static int copy_event(dc_txn *t, const char *did, const dc_event *e) {
    int rc = dc_txn_event(t, T_DRIVER, did);
    bool has_at = false;
    for (size_t i = 0; i < e->nfields && !rc; i++) {
        const char *key = e->keys[i];
        const dc_value *v = &e->values[i];
        has_at |= strcmp(key, "at") == 0;
        if (key[0] != '@')
            rc = dc_txn_event_field(t, key, v->kind, v->num, dc__vstr(v));
    }
    if (!rc && !has_at)
        rc = dc_txn_event_field(t, "at", DC_INT, e->time_ms, NULL);
    return rc;
}

/* The county a part stands for, for the `moves` event and the forward; a
 * root (the province's, or a registry of the layout before parts) stands
 * for none. */
static const char *part_county(const dc__regpart *p) {
    bool part = strcmp(p->level, "county") == 0 || strcmp(p->level, "branch") == 0;
    return part && p->region[0] ? p->region : NULL;
}

static int put_end(dc_buf *b, const char *key, const char *space, const dc__regpart *p,
                   const char *branch) {
    return dc__buf_printf(b, ",\"%s\":{\"space\":\"%s\",\"region\":", key, space) ||
           dc__org_jstr(b, part_county(p)) || dc__buf_puts(b, ",\"branch\":") ||
           dc__org_jstr(b, branch && *branch ? branch : NULL) || dc__buf_putc(b, '}');
}

typedef struct hopinfo {
    bool found;
    char *space; /* [33] */
} hopinfo;

static int moved_cb(void *user, const dc_record *rec) {
    hopinfo *h = user;
    h->found = true;
    copy_field(rec, "space", h->space, 33);
    return 0;
}

bool dc__registry_emptied(const dc_record *rec) {
    const dc_value *h = dc_record_value(rec, "id_hash");
    return !h || h->kind != DC_STR;
}

int dc__registry_left_behind(dc_replica *r, const char *space, const char *driver) {
    char where[33] = "";
    hopinfo h = {false, where};
    int rc = dc__dom_each(r, space, T_MOVED, driver, moved_cb, &h);
    return rc ? rc : h.found;
}

int dc_registry_move(dc_buf *out, dc_replica *r, const char *from, const char *driver,
                     const char *to, const dc_registry_move_options *o) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_move: the replica handle is NULL");
    if (!from || !to)
        return dc__model_fail(r, DC_EMISUSE, "registry move: from and to must not be NULL");
    dc_registry_move_options defaults = DC_REGISTRY_MOVE_OPTIONS_INIT;
    if (!o)
        o = &defaults;
    if (o->version != DC_REGISTRY_MOVE_OPTIONS_VERSION)
        return dc__model_fail(r, DC_EINVAL, "registry move: options version %u is not %d",
                              o->version, DC_REGISTRY_MOVE_OPTIONS_VERSION);
    int rc;
    if ((rc = dc__org_driver(r, "registry move: the driver", driver)))
        return rc;
    if (o->branch && (rc = dc__org_prefixed(r, "registry move: the branch", o->branch, "branch-")))
        return rc;
    char today[11];
    const char *date = o->date;
    if (date && (rc = dc__org_date_check(r, "registry move: the date", date)))
        return rc;
    if (!date) {
        dc__org_date(today, dc__org_now_ms());
        date = today;
    }
    if (strcmp(from, to) == 0)
        return dc__model_fail(r, DC_EINVAL,
                              "registry move: %s is both where he is kept and "
                              "where he should go",
                              from);
    dc__regpart pf, pt;
    if ((rc = dc__registry_part(r, from, &pf)) || (rc = dc__registry_part(r, to, &pt)))
        return rc;
    const char *rf = pf.has ? pf.root : from, *rt = pt.has ? pt.root : to;
    if (strcmp(rf, rt) != 0)
        return dc__model_fail(r, DC_EINVAL,
                              "registry move: %s and %s belong to different registries (roots "
                              "%s and %s): a driver moves only between parts of one registry",
                              from, to, rf, rt);
    /* His branch after the move: the one asked for, else the branch of a
     * branch registry, else the one on his record. */
    const char *new_branch = o->branch ? o->branch : pt.branch[0] ? pt.branch : NULL;

    drec src, dst;
    if ((rc = drec_read(&src, r, from, driver)))
        return rc;
    if (!src.found) {
        drec_dispose(&src);
        return dc__model_fail(r, DC_ENOTFOUND,
                              "registry move: no driver %s is kept in space %s (registry find "
                              "says where he is)",
                              driver, from);
    }
    if ((rc = drec_read(&dst, r, to, driver))) {
        drec_dispose(&src);
        return rc;
    }
    char old_branch[96] = "";
    long registers = 0, members = 0, events = 0;
    dc_txn *t = NULL;
    /* `from` already forwards him to `to`: what is there was left behind
     * (written concurrently with the earlier move); this merges it, and is
     * not a move of its own. */
    int merge = 0;
    {
        char fwd_to[33] = "";
        hopinfo h = {false, fwd_to};
        if ((rc = dc__dom_each(r, from, T_MOVED, driver, moved_cb, &h)))
            goto out;
        merge = h.found && strcmp(fwd_to, to) == 0;
    }
    /* 1. His record, into `to`: every register, set member and event that
     *    `to` does not hold yet, and the move itself. */
    if ((rc = dc__org_begin(&t, r, to)))
        goto out;
    entries it = entries_of(&src);
    const char *name;
    bool member;
    dc_value v;
    while (!rc && entry_next(&it, &name, &member, &v)) {
        if (!member && strcmp(name, "branch") == 0) {
            if (v.kind == DC_STR)
                snprintf(old_branch, sizeof old_branch, "%.*s", (int)v.len, dc__vstr(&v));
            if (new_branch)
                continue;
        }
        /* A null register is what an earlier move left behind: nothing to
         * carry (and it must not overwrite the value kept in `to`). */
        if (!member && v.kind == DC_NULL)
            continue;
        if (drec_has(&dst, name, member, &v))
            continue;
        if (member) {
            rc = dc_txn_add(t, T_DRIVER, driver, name, v.kind, v.num, dc__vstr(&v));
            members++;
        } else {
            rc = dc_txn_set(t, T_DRIVER, driver, name, v.kind, v.num, dc__vstr(&v));
            registers++;
        }
    }
    dc_buf ka = DC_BUF_INIT, kb = DC_BUF_INIT;
    size_t sne = dc_record_event_count(src.rec), dne = dc_record_event_count(dst.rec);
    for (size_t i = 0; i < sne && !rc; i++) {
        bool have = false;
        if ((rc = ev_key(&ka, dc_record_event(src.rec, i))))
            break;
        for (size_t j = 0; j < dne && !have && !rc; j++)
            if (!(rc = ev_key(&kb, dc_record_event(dst.rec, j))))
                have = ka.size == kb.size && memcmp(ka.ptr, kb.ptr, ka.size) == 0;
        if (!have && !rc) {
            rc = copy_event(t, driver, dc_record_event(src.rec, i));
            events++;
        }
    }
    dc_buf_dispose(&ka);
    dc_buf_dispose(&kb);
    if (!rc && new_branch && !merge)
        rc = dc_txn_set(t, T_DRIVER, driver, "branch", DC_STR, 0, new_branch);
    if (!rc) {
        int e = dc__org_exists(r, to, T_MOVED, driver);
        rc = e < 0 ? e : e ? dc_txn_delete(t, T_MOVED, driver) : 0;
    }
    if (!rc && !merge && !(rc = dc_txn_event(t, T_DRIVER, driver)) &&
        !(rc = dc_txn_event_field(t, "kind", DC_STR, 0, "move")) &&
        !(rc = dc_txn_event_field(t, "from", part_county(&pf) ? DC_STR : DC_NULL, 0,
                                  part_county(&pf))) &&
        !(rc = dc_txn_event_field(t, "to", part_county(&pt) ? DC_STR : DC_NULL, 0,
                                  part_county(&pt))) &&
        !(rc = dc_txn_event_field(t, "from_branch", old_branch[0] ? DC_STR : DC_NULL, 0,
                                  old_branch[0] ? old_branch : NULL)) &&
        !(rc = dc_txn_event_field(t, "to_branch", (new_branch || old_branch[0]) ? DC_STR : DC_NULL,
                                  0,
                                  new_branch      ? new_branch
                                  : old_branch[0] ? old_branch
                                                  : NULL)))
        rc = dc_txn_event_field(t, "date", DC_STR, 0, date);
    rc = dc__org_finish(t, rc);
    t = NULL;
    if (rc)
        goto out;
    /* 2. Only then, where he was: a forwarding entry, and his record
     *    emptied.  A crash before this leaves him kept twice, never nowhere.
     *    Emptied, not deleted: a delete would also hide a report another
     *    device added there before the move but sent after it (its clock
     *    earlier than the delete's), and it would be lost.  Removing the set
     *    members this device has seen leaves such concurrent adds in place
     *    (adds win), where the union of find and a later move collect them;
     *    the registers become null. */
    if ((rc = dc__org_begin(&t, r, from)))
        goto out;
    if (!merge && ((rc = dc_txn_set(t, T_MOVED, driver, "space", DC_STR, 0, to)) ||
                   (rc = dc__org_set_str(t, T_MOVED, driver, "region", part_county(&pt))) ||
                   (rc = dc__org_set_str(t, T_MOVED, driver, "branch",
                                         new_branch ? new_branch : old_branch)) ||
                   (rc = dc_txn_set(t, T_MOVED, driver, "date", DC_STR, 0, date)))) {
        dc_txn_rollback(t);
        t = NULL;
        goto out;
    }
    it = entries_of(&src);
    while (!rc && entry_next(&it, &name, &member, &v)) {
        if (member)
            rc = dc_txn_remove(t, T_DRIVER, driver, name, v.kind, v.num, dc__vstr(&v));
        else if (v.kind != DC_NULL)
            rc = dc_txn_set(t, T_DRIVER, driver, name, DC_NULL, 0, NULL);
    }
    rc = dc__org_finish(t, rc);
    t = NULL;
    if (rc)
        goto out;
    /* 3. His branch membership: the rosters this device holds follow. */
    if (!merge && new_branch && strcmp(new_branch, old_branch) != 0 &&
        (rc = dc__branch_roster_move(r, driver, old_branch[0] ? old_branch : NULL, new_branch,
                                     date)))
        goto out;
    /* 4. His open cases, to the county he now works in. */
    dc_buf handed = DC_BUF_INIT, left = DC_BUF_INIT;
    if (!merge && !o->keep_cases && part_county(&pt) &&
        (!part_county(&pf) || strcmp(pf.region, pt.region) != 0))
        rc = dc__case_handover(r, driver, pt.region, part_county(&pf), &handed, &left);
    if (!rc && out) {
        dc_buf b = DC_BUF_INIT;
        int e = dc__buf_puts(&b, "{\"driver\":") || dc__org_jstr(&b, driver) ||
                put_end(&b, "from", from, &pf, old_branch) ||
                put_end(&b, "to", to, &pt, new_branch ? new_branch : old_branch) ||
                dc__buf_printf(&b, ",\"registers\":%ld,\"members\":%ld,\"events\":%ld,\"cases\":[",
                               registers, members, events) ||
                dc__buf_put(&b, handed.ptr ? (const char *)handed.ptr : "", handed.size) ||
                dc__buf_puts(&b, "],\"cases_not_handed_over\":[") ||
                dc__buf_put(&b, left.ptr ? (const char *)left.ptr : "", left.size) ||
                dc__buf_puts(&b, "]}");
        if (e)
            rc = dc__model_fail(r, DC_ENOMEM, "registry move: out of memory");
        else
            dc__buf_move(out, &b);
        dc_buf_dispose(&b);
    }
    dc_buf_dispose(&handed);
    dc_buf_dispose(&left);
out:
    dc_txn_rollback(t);
    drec_dispose(&src);
    drec_dispose(&dst);
    return rc;
}
