/*
 * model/stats.c — the report's table (docs/domain.md, "Statistics")
 * computed from the records a replica holds: counts of drivers, party
 * members, organisations, branches, secretaries, Driver's Homes, study
 * items and liaison links, and the grievance figures (collected, resolved,
 * rate, settled inside the county, on-time per 12328 deadline,
 * satisfaction, median time to resolve).
 *
 * It exists so that a province office, which holds every space, and a
 * county desk, which holds its county's, both get their figures from the
 * same code over the same records, with nothing stored that could drift
 * from them.  It must stay fast at province scale (257,000 drivers): each
 * record type of each space is walked exactly once, typed (dc_record_each,
 * without events where no figure comes from events), and a
 * case's state comes from the one fold of "Grievance rules" in grievance.c
 * (dc__case_facts_of, behind dc_case_summary), so the figures always agree with
 * `case show`, and every replica holding the same steps prints the same
 * figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "drivercore/grievance.h"
#include "model/grievance_int.h"
#include "model/org_int.h"
#include "model/registry_int.h"
#include "model/read.h"

/* ---- a set of strings (open addressing), with one small value each ----
 * Distinct counts (liaison ends, secretaries as persons, branches seen both
 * in the directory and as branch records) need membership tests
 * over tens of thousands of ids; the org map keeps each org's level. */

typedef struct strkey {
    const char *p; /* in the set's arena; NULL: an empty slot */
    uint32_t n, val;
    uint64_t h; /* its hash: growing rehashes nothing, a probe compares it first */
} strkey;

typedef struct strset {
    strkey *slot;
    size_t n, cap; /* cap is a power of two, or 0 */
    dc__arena keys;
} strset;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a: ids are short, this is plenty */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void strset_free(strset *s) {
    dc__free(s->slot);
    dc__arena_free(&s->keys);
    memset(s, 0, sizeof *s);
}

static int strset_grow(strset *s) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    strkey *ns = dc__calloc(ncap, sizeof *ns);
    if (!ns)
        return DC_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i].p)
            continue;
        size_t j = (size_t)s->slot[i].h & (ncap - 1);
        while (ns[j].p)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slot[i];
    }
    dc__free(s->slot);
    s->slot = ns;
    s->cap = ncap;
    return 0;
}

/* The slot of key (n bytes), or -1 when absent. */
static long strset_find(const strset *s, const char *key, size_t n) {
    if (!s->cap)
        return -1;
    uint64_t h = hash_bytes(key, n);
    size_t j = (size_t)h & (s->cap - 1);
    while (s->slot[j].p) {
        if (s->slot[j].h == h && s->slot[j].n == n && memcmp(s->slot[j].p, key, n) == 0)
            return (long)j;
        j = (j + 1) & (s->cap - 1);
    }
    return -1;
}

/* Adds key with val (an existing key keeps its value).  Returns 1 if it was
 * new, 0 if already there, or DC_ENOMEM (negative). */
static int strset_add(strset *s, const char *key, size_t n, uint32_t val) {
    if (n > UINT32_MAX)
        return DC_ENOMEM;
    if ((s->n + 1) * 2 > s->cap && strset_grow(s))
        return DC_ENOMEM;
    uint64_t h = hash_bytes(key, n);
    size_t j = (size_t)h & (s->cap - 1);
    for (; s->slot[j].p; j = (j + 1) & (s->cap - 1))
        if (s->slot[j].h == h && s->slot[j].n == n && memcmp(s->slot[j].p, key, n) == 0)
            return 0;
    if (!(s->slot[j].p = dc__arena_strndup(&s->keys, key, n)))
        return DC_ENOMEM;
    s->slot[j].h = h;
    s->slot[j].n = (uint32_t)n;
    s->slot[j].val = val;
    s->n++;
    return 1;
}

/* ---- the figures ---- */

enum { ADMIN_NONE = 0, ADMIN_COUNTY = 1, ADMIN_CITY = 2, ADMIN_PROVINCE = 3 };
enum { DL_TRANSFER, DL_FEEDBACK, DL_REPLY, DL_REVISIT, DL_N };
static const char *const DL_NAME[DL_N] = {"transfer", "feedback", "reply", "revisit"};

/* The grievance figures of a set of cases (all of them, a region's, a
 * channel's, ...). */
typedef struct casefig {
    uint64_t collected, resolved, inside;
    uint64_t dl_due[DL_N], dl_met[DL_N];
    uint64_t revisits, satisfied;
    int64_t amount, recovered;
} casefig;

/* A county's row of by_region (cities and the province are summed from
 * the counties when printed). */
typedef struct regrow {
    char code[7];
    uint64_t drivers, pm, enterprises, inflow, outflow, moved_in, moved_out;
    casefig cases;
} regrow;

/* A named bucket of cases (a channel, a category, a level). */
typedef struct bucket {
    char name[DC__CASE_TEXT];
    casefig cases;
} bucket;

typedef struct buckets {
    bucket *v;
    size_t n, cap;
} buckets;

typedef struct stats {
    dc_replica *r;
    const dc_calendar *cal;
    int64_t now;
    const char *space; /* the space being walked */
    char county[7];    /* the county of the registry part being walked, "" if none */
    strset moved;      /* drivers the space being walked forwards elsewhere */
    dc_buf shown[3];   /* the values shown of a driver's facts (on_driver) */
    dc__case_facts facts;
    dc__regextra extras; /* reports left behind by moves, per driver */

    uint64_t drivers, pm_drivers, operators, committees, joint_meetings, stations, study,
        enterprises, departments;
    strset seen;        /* driver ids counted */
    strset branches;    /* org ids of kind branch, and branch records */
    strset secretaries; /* person ids holding the role secretary */
    strset cadres, liaison_pm, liaison_drivers;
    strset orgs;  /* org id -> ADMIN_* level, for inside_county */
    strset names; /* region code -> index into name_v */
    char **name_v;
    size_t nname, cname;

    casefig all;
    int64_t *resolve_ms;
    size_t nresolve, cresolve;
    uint64_t estimated;

    regrow *rows;
    size_t nrows, crows;
    int rowmap[4096]; /* open addressing on the county code: index + 1, 0 empty */
    buckets channel, category, level;
} stats;

static bool value_is(const dc_value *v, const char *s) {
    return v && v->kind == DC_STR && v->len == strlen(s) && memcmp(dc__vstr(v), s, v->len) == 0;
}

/* The administrative level a string names ("province", "city", "county"). */
static unsigned char level_of_name(const dc_value *v) {
    if (value_is(v, "province"))
        return ADMIN_PROVINCE;
    if (value_is(v, "city"))
        return ADMIN_CITY;
    if (value_is(v, "county"))
        return ADMIN_COUNTY;
    return ADMIN_NONE;
}

/* The level of an org a case was transferred to: its org record's `level`
 * when this replica holds the directory, else the region code in its id
 * (`<kind>-<code>`): 6 digits ending in 0000 are a province, in 00 a
 * city (GB/T 2260), other codes a county.  A target that is not an org id
 * (a party-member driver, say) is below the county. */
static unsigned char target_level(const stats *s, const char *id, size_t n) {
    long slot = strset_find(&s->orgs, id, n);
    if (slot >= 0 && s->orgs.slot[slot].val != ADMIN_NONE)
        return s->orgs.slot[slot].val;
    const char *dash = memchr(id, '-', n);
    if (!dash)
        return ADMIN_NONE;
    const char *code = dash + 1;
    size_t k = 0;
    while (code + k < id + n && code[k] >= '0' && code[k] <= '9')
        k++;
    if (k != 6)
        return ADMIN_NONE;
    if (memcmp(code + 2, "0000", 4) == 0)
        return ADMIN_PROVINCE;
    if (memcmp(code + 4, "00", 2) == 0)
        return ADMIN_CITY;
    return ADMIN_COUNTY;
}

static int nomem(stats *s) {
    return dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory");
}

/* Adds the value of register `field` (a string) to set `set`. */
static int add_field(stats *s, strset *set, const dc_record *rec, const char *field) {
    const dc_value *v = dc_record_value(rec, field);
    if (!v || v->kind != DC_STR || v->len == 0)
        return 0;
    return strset_add(set, dc__vstr(v), v->len, 0) < 0 ? nomem(s) : 0;
}

/* ---- region rows ---- */

/* The row of a county (created on first use), or NULL (no county). */
static regrow *row_of(stats *s, const char *county) {
    if (!county || strlen(county) != 6)
        return NULL;
    unsigned key = (unsigned)strtoul(county, NULL, 10);
    size_t cap = sizeof s->rowmap / sizeof s->rowmap[0];
    size_t j = (key * 2654435761u) % cap;
    for (size_t probes = 0; probes < cap; probes++, j = (j + 1) % cap) {
        if (s->rowmap[j] == 0)
            break;
        if (strcmp(s->rows[s->rowmap[j] - 1].code, county) == 0)
            return &s->rows[s->rowmap[j] - 1];
    }
    if (s->rowmap[j] != 0 || s->nrows + 1 >= cap / 2)
        return NULL; /* more counties than a province has: no row, still in the totals */
    if (DC__VEC_ROOM(s->rows, s->nrows, s->crows))
        return NULL;
    regrow *g = &s->rows[s->nrows++];
    memset(g, 0, sizeof *g);
    memcpy(g->code, county, 7);
    s->rowmap[j] = (int)s->nrows;
    return g;
}

static casefig *bucket_of(buckets *b, const char *name) {
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0)
            return &b->v[i].cases;
    if (DC__VEC_ROOM(b->v, b->n, b->cap))
        return NULL;
    bucket *k = &b->v[b->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    return &k->cases;
}

/* ---- drivers ---- */

/* The county a move event names under `key` ("from", "to"), into out[7]. */
static bool move_end(const dc_event *e, const char *key, char out[7]) {
    const dc_value *v = dc_event_value(e, key);
    if (!v || v->kind != DC_STR || v->len != 6)
        return false;
    memcpy(out, dc__vstr(v), 6);
    out[6] = 0;
    return true;
}

static int on_driver(void *user, const dc_record *rec) {
    stats *s = user;
    size_t idn = strlen(dc_record_id(rec));
    /* A copy left behind where a move forwards him: he is counted where he
     * is kept. */
    if (strset_find(&s->moved, dc_record_id(rec), idn) >= 0 && dc__registry_emptied(rec))
        return 0;
    int fresh = strset_add(&s->seen, dc_record_id(rec), idn, 0);
    if (fresh < 0)
        return nomem(s);
    if (fresh == 0)
        return 0; /* kept twice: counted once, where first met */
    s->drivers++;
    /* The values shown of the three facts read here, from one pass over
     * his reports. */
    static const char *const FIELDS[3] = {"status", "activity_area", "hukou_region"};
    int has[3];
    size_t nx;
    const char *const *x = dc__registry_extras_of(&s->extras, dc_record_id(rec), &nx);
    if (dc__registry_shown_n(rec, FIELDS, 3, s->shown, has, x, nx))
        return nomem(s);
    const char *status = (const char *)s->shown[0].ptr;
    bool pm = has[0] && (strcmp(status, "probationary") == 0 || strcmp(status, "member") == 0);
    s->pm_drivers += pm;
    /* His county: the part keeping him, else (a root of the layout before
     * parts) his activity area's, else his hukou region's. */
    char county[7], hukou[7];
    bool has_hukou =
        has[2] && dc__county_of((const char *)s->shown[2].ptr, s->shown[2].size, hukou);
    bool has_county = s->county[0] != 0;
    if (has_county)
        memcpy(county, s->county, 7);
    else if ((has_county = has[1] && dc__county_of((const char *)s->shown[1].ptr, s->shown[1].size,
                                                   county)) == false &&
             has_hukou) {
        memcpy(county, hukou, 7);
        has_county = true;
    }
    regrow *g = has_county ? row_of(s, county) : NULL;
    if (has_county && !g)
        return nomem(s);
    if (g) {
        g->drivers++;
        g->pm += pm;
        if (has_hukou && strcmp(hukou, county) != 0) {
            g->inflow++;
            regrow *h = row_of(s, hukou);
            if (!h)
                return nomem(s);
            h->outflow++;
        }
    }
    for (size_t i = 0; i < dc_record_event_count(rec); i++) {
        const dc_event *e = dc_record_event(rec, i);
        char from[7] = "", to_c[7] = "";
        if (!value_is(dc_event_value(e, "kind"), "move") || !move_end(e, "to", to_c) ||
            (move_end(e, "from", from) && strcmp(from, to_c) == 0))
            continue;
        regrow *to = row_of(s, to_c);
        if (!to)
            return nomem(s);
        to->moved_in++;
    }
    return 0;
}

static int on_moved(void *user, const dc_record *rec) {
    stats *s = user;
    if (strset_add(&s->moved, dc_record_id(rec), strlen(dc_record_id(rec)), 0) < 0)
        return nomem(s);
    char to[7];
    const dc_value *v = dc_record_value(rec, "region");
    if (s->county[0] && v && v->kind == DC_STR && dc__county_of(dc__vstr(v), v->len, to) &&
        strcmp(to, s->county) != 0) {
        regrow *g = row_of(s, s->county);
        if (!g)
            return nomem(s);
        g->moved_out++;
    }
    return 0;
}

/* ---- the directory ---- */

static int on_org(void *user, const dc_record *rec) {
    stats *s = user;
    const dc_value *kind = dc_record_value(rec, "kind");
    size_t idn = strlen(dc_record_id(rec));
    if (strset_add(&s->orgs, dc_record_id(rec), idn, level_of_name(dc_record_value(rec, "level"))) <
        0)
        return nomem(s);
    if (value_is(kind, "operator"))
        s->operators++;
    else if (value_is(kind, "committee"))
        s->committees++;
    else if (value_is(kind, "joint_meeting"))
        s->joint_meetings++;
    else if (value_is(kind, "enterprise")) {
        s->enterprises++;
        const dc_value *rg = dc_record_value(rec, "region");
        char county[7];
        if (rg && rg->kind == DC_STR && dc__county_of(dc__vstr(rg), rg->len, county)) {
            regrow *g = row_of(s, county);
            if (!g)
                return nomem(s);
            g->enterprises++;
        }
    } else if (value_is(kind, "department"))
        s->departments++;
    else if (value_is(kind, "branch") && strset_add(&s->branches, dc_record_id(rec), idn, 0) < 0)
        return nomem(s);
    return 0;
}

static int on_region(void *user, const dc_record *rec) {
    stats *s = user;
    const dc_value *nm = dc_record_value(rec, "name");
    size_t idn = strlen(dc_record_id(rec));
    if (!nm || nm->kind != DC_STR || idn != 6 ||
        strset_find(&s->names, dc_record_id(rec), idn) >= 0)
        return 0;
    if (DC__VEC_ROOM(s->name_v, s->nname, s->cname))
        return nomem(s);
    if (!(s->name_v[s->nname] = dc__strndup(dc__vstr(nm), nm->len)) ||
        strset_add(&s->names, dc_record_id(rec), idn, (uint32_t)s->nname) < 0)
        return nomem(s);
    s->nname++;
    return 0;
}

static int on_branch(void *user, const dc_record *rec) {
    stats *s = user;
    return strset_add(&s->branches, dc_record_id(rec), strlen(dc_record_id(rec)), 0) < 0 ? nomem(s)
                                                                                         : 0;
}

/* A secretary record's id is `<branch org id>/<person id>`: one person may
 * lead two branches (the report's 187 secretaries for 209 branches), so
 * secretaries are counted as distinct persons with the role secretary. */
static int on_secretary(void *user, const dc_record *rec) {
    stats *s = user;
    const dc_value *role = dc_record_value(rec, "role");
    if (role && !value_is(role, "secretary"))
        return 0;
    const char *slash = strrchr(dc_record_id(rec), '/');
    const char *person = slash ? slash + 1 : dc_record_id(rec);
    return strset_add(&s->secretaries, person, strlen(person), 0) < 0 ? nomem(s) : 0;
}

/* Adds the live records of `type` in the space to *n, without reading them. */
static int count(stats *s, const char *space, const char *type, uint64_t *n) {
    uint64_t k = 0;
    int rc = dc_record_count(s->r, space, type, &k);
    *n += k;
    return rc;
}

static int on_liaison(void *user, const dc_record *rec) {
    stats *s = user;
    const dc_value *level = dc_record_value(rec, "level");
    int rc = 0;
    if (value_is(level, "cadre")) {
        if (!(rc = add_field(s, &s->cadres, rec, "from")))
            rc = add_field(s, &s->liaison_pm, rec, "to");
    } else if (value_is(level, "party_member")) {
        rc = add_field(s, &s->liaison_drivers, rec, "to");
    }
    return rc;
}

/* ---- a case, as the grievance fold sees it ----
 * The state of a case is derived by grievance.c's fold (dc__case_facts_of,
 * the code behind `case show`), so the figures here can never disagree
 * with what `case show` prints. */

static int push_resolve(stats *s, int64_t ms) {
    if (DC__VEC_ROOM(s->resolve_ms, s->nresolve, s->cresolve))
        return nomem(s);
    s->resolve_ms[s->nresolve++] = ms;
    return 0;
}

static bool above_county(const stats *s, const dc__case_facts *f) {
    const char *p = (const char *)f->transfers.ptr, *end = p + f->transfers.size;
    while (p && p < end) {
        const char *q = memchr(p, ' ', (size_t)(end - p));
        size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
        if (n && target_level(s, p, n) >= ADMIN_CITY)
            return true;
        p += n + 1;
    }
    return false;
}

static void add_case(casefig *c, const dc__case_facts *f, bool resolved, bool inside,
                     const bool counted[DL_N], const bool met[DL_N]) {
    c->collected++;
    c->resolved += resolved;
    c->inside += inside;
    c->revisits += (uint64_t)f->revisits;
    c->satisfied += (uint64_t)f->satisfied_revisits;
    if (f->has_amount) {
        c->amount += f->amount;
        if (resolved)
            c->recovered += f->amount;
    }
    for (int k = 0; k < DL_N; k++) {
        c->dl_due[k] += counted[k];
        c->dl_met[k] += met[k];
    }
}

static int on_case(void *user, const dc_record *rec) {
    stats *s = user;
    dc__case_facts *f = &s->facts;
    int rc = dc__case_facts_of(f, s->r, rec, s->cal);
    if (rc)
        return rc;
    bool resolved = f->status == DC__CASE_RESOLVED || f->status == DC__CASE_REVISITED ||
                    f->status == DC__CASE_CLOSED;
    bool inside = !above_county(s, f);
    if (resolved && f->resolved >= 0 && f->received >= 0 && f->resolved >= f->received &&
        push_resolve(s, f->resolved - f->received))
        return DC_ENOMEM;
    /* A deadline counts once it has passed or been met; met when the step
     * that meets it came at or before it. */
    bool counted[DL_N] = {false}, met[DL_N] = {false};
    for (int k = 0; k < DL_N && s->cal; k++) {
        if (f->due[k] < 0 || (f->done[k] < 0 && f->due[k] >= s->now))
            continue;
        counted[k] = true;
        met[k] = f->done[k] >= 0 && f->done[k] <= f->due[k];
        s->estimated += f->estimated[k];
    }
    add_case(&s->all, f, resolved, inside, counted, met);
    char county[7];
    casefig *b[4] = {NULL, NULL, NULL, NULL};
    if (dc__county_of(f->region, strlen(f->region), county)) {
        regrow *g = row_of(s, county);
        if (!g)
            return nomem(s);
        b[0] = &g->cases;
    }
    if (!(b[1] = bucket_of(&s->channel, f->channel[0] ? f->channel : "none")) ||
        !(b[2] = bucket_of(&s->category, f->category[0] ? f->category : "none")) ||
        !(b[3] = bucket_of(&s->level, f->level[0] ? f->level : "none")))
        return nomem(s);
    for (int i = 0; i < 4; i++)
        if (b[i])
            add_case(b[i], f, resolved, inside, counted, met);
    return 0;
}

/* ---- walking the spaces ---- */

typedef struct space_list {
    char (*hex)[33];
    size_t n, cap;
} space_list;

static int collect_space(void *user, const char *hex) {
    space_list *l = user;
    if (DC__VEC_ROOM(l->hex, l->n, l->cap))
        return DC_ENOMEM;
    memcpy(l->hex[l->n++], hex, 33);
    return 0;
}

/* Walks the records of `type` in `space`; their events are read only for
 * the types whose figures come from events (drivers' moves, cases' steps). */
static int walk(stats *s, const char *space, const char *type, dc_record_fn fn, void *user) {
    bool events = strcmp(type, "driver") == 0 || strcmp(type, "case") == 0;
    return events ? dc__dom_each(s->r, space, type, NULL, fn, user)
                  : dc__dom_each_fields(s->r, space, type, NULL, fn, user);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* num/den as a percent with two decimals, rounded half up, exactly (no
 * binary fractions: 3731/3794 must print 98.34 on every machine); null
 * when there is nothing to divide. */
static int put_percent(dc_buf *b, uint64_t num, uint64_t den) {
    if (den == 0)
        return dc__buf_puts(b, "null");
    uint64_t h = (num * 20000u + den) / (2u * den); /* hundredths of a percent */
    return dc__buf_printf(b, "%llu.%02llu", (unsigned long long)(h / 100),
                          (unsigned long long)(h % 100));
}

/* The figures every set of cases has, up to the satisfaction rate: the
 * start of `cases` and of each CASES object. */
static int put_casefig_head(dc_buf *b, const stats *s, const casefig *c) {
    int rc = dc__buf_printf(b, "{\"collected\":%llu,\"resolved\":%llu,\"resolution_rate\":",
                            (unsigned long long)c->collected, (unsigned long long)c->resolved);
    rc |= put_percent(b, c->resolved, c->collected);
    rc |= dc__buf_puts(b, ",\"inside_county\":");
    rc |= put_percent(b, c->inside, c->collected);
    rc |= dc__buf_puts(b, ",\"on_time\":{");
    for (int i = 0; i < DL_N; i++) {
        rc |= dc__buf_printf(b, "%s\"%s\":", i ? "," : "", DL_NAME[i]);
        rc |= s->cal ? put_percent(b, c->dl_met[i], c->dl_due[i]) : dc__buf_puts(b, "null");
    }
    rc |= dc__buf_puts(b, "},\"satisfaction_rate\":");
    rc |= put_percent(b, c->satisfied, c->revisits);
    return rc;
}

/* CASES of docs/domain.md: the figures of a set of cases. */
static int put_casefig(dc_buf *b, const stats *s, const casefig *c) {
    int rc = put_casefig_head(b, s, c);
    rc |= dc__buf_printf(b, ",\"amount_yuan\":%lld,\"recovered_yuan\":%lld}", (long long)c->amount,
                         (long long)c->recovered);
    return rc;
}

static void casefig_add(casefig *into, const casefig *c) {
    into->collected += c->collected;
    into->resolved += c->resolved;
    into->inside += c->inside;
    into->revisits += c->revisits;
    into->satisfied += c->satisfied;
    into->amount += c->amount;
    into->recovered += c->recovered;
    for (int k = 0; k < DL_N; k++) {
        into->dl_due[k] += c->dl_due[k];
        into->dl_met[k] += c->dl_met[k];
    }
}

static void regrow_add(regrow *into, const regrow *g) {
    into->drivers += g->drivers;
    into->pm += g->pm;
    into->enterprises += g->enterprises;
    into->inflow += g->inflow;
    into->outflow += g->outflow;
    into->moved_in += g->moved_in;
    into->moved_out += g->moved_out;
    casefig_add(&into->cases, &g->cases);
}

static int cmp_code(const void *a, const void *b) {
    return strcmp(((const regrow *)a)->code, ((const regrow *)b)->code);
}

static int put_region(dc_buf *b, const stats *s, const regrow *g, const char *level,
                      const char *parent, bool first) {
    long slot = strset_find(&s->names, g->code, 6);
    int rc = dc__buf_printf(b, "%s\"%s\":{\"level\":\"%s\",\"parent\":", first ? "" : ",", g->code,
                            level);
    rc |= parent ? dc__buf_printf(b, "\"%s\"", parent) : dc__buf_puts(b, "null");
    rc |= dc__buf_puts(b, ",\"name\":");
    rc |= slot >= 0 ? dc__json_str(b, s->name_v[s->names.slot[slot].val],
                                   strlen(s->name_v[s->names.slot[slot].val]))
                    : dc__buf_puts(b, "null");
    rc |= dc__buf_printf(b,
                         ",\"drivers\":%llu,\"party_member_drivers\":%llu,\"enterprises\":%llu,"
                         "\"inflow\":%llu,\"outflow\":%llu,\"moved_in\":%llu,\"moved_out\":%llu,"
                         "\"cases\":",
                         (unsigned long long)g->drivers, (unsigned long long)g->pm,
                         (unsigned long long)g->enterprises, (unsigned long long)g->inflow,
                         (unsigned long long)g->outflow, (unsigned long long)g->moved_in,
                         (unsigned long long)g->moved_out);
    rc |= put_casefig(b, s, &g->cases);
    rc |= dc__buf_putc(b, '}');
    return rc;
}

/* by_region: the counties, their cities (....00) and the province (..0000),
 * each the sum of what is below it, codes sorted. */
static int put_regions(dc_buf *b, stats *s) {
    size_t n = s->nrows;
    regrow *all = n ? dc__calloc(3 * n, sizeof *all) : NULL;
    if (n && !all)
        return DC_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        all[k++] = s->rows[i];
    /* Cities and provinces: the counties summed into their 4- and 2-digit
     * prefixes (a county code that is itself a city's is not one). */
    for (int lv = 0; lv < 2; lv++) {
        size_t m = k;
        for (size_t i = 0; i < n; i++) {
            char code[7];
            snprintf(code, sizeof code, "%.*s%s", lv ? 2 : 4, s->rows[i].code, lv ? "0000" : "00");
            size_t j = m;
            while (j < k && strcmp(all[j].code, code) != 0)
                j++;
            if (j == k) {
                memset(&all[k], 0, sizeof all[k]);
                memcpy(all[k++].code, code, 7);
            }
            regrow_add(&all[j], &s->rows[i]);
        }
    }
    if (k > 1)
        qsort(all, k, sizeof *all, cmp_code);
    int rc = dc__buf_puts(b, "\"by_region\":{");
    for (size_t i = 0; i < k && !rc; i++) {
        const char *code = all[i].code;
        int sig = dc__region_sig(code, 6);
        char parent[7];
        bool province = sig == 2, city = sig == 4;
        if (province)
            parent[0] = 0;
        else
            snprintf(parent, sizeof parent, "%.*s%s", city ? 2 : 4, code, city ? "0000" : "00");
        rc = put_region(b, s, &all[i],
                        province ? "province"
                        : city   ? "city"
                                 : "county",
                        province ? NULL : parent, i == 0);
    }
    dc__free(all);
    return rc || dc__buf_putc(b, '}');
}

static int cmp_bucket(const void *a, const void *b) {
    return strcmp(((const bucket *)a)->name, ((const bucket *)b)->name);
}

static int put_buckets(dc_buf *b, const stats *s, const char *key, buckets *k) {
    if (k->n > 1)
        qsort(k->v, k->n, sizeof *k->v, cmp_bucket);
    int rc = dc__buf_printf(b, ",\"%s\":{", key);
    for (size_t i = 0; i < k->n && !rc; i++)
        rc = (i && dc__buf_putc(b, ',')) || dc__json_str(b, k->v[i].name, strlen(k->v[i].name)) ||
             dc__buf_putc(b, ':') || put_casefig(b, s, &k->v[i].cases);
    return rc || dc__buf_putc(b, '}');
}

static int render(dc_buf *b, stats *s) {
    int rc = 0;
    char when[64] = "null";
    dc_buf t = DC_BUF_INIT;
    if (dc_time_cst(&t, s->now) == 0 && t.size + 3 < sizeof when)
        snprintf(when, sizeof when, "\"%s\"", (const char *)t.ptr);
    dc_buf_dispose(&t);
    const casefig *c = &s->all;
    rc |= dc__buf_printf(
        b,
        "{\"as_of\":%s,\"drivers\":%llu,\"party_member_drivers\":%llu,\"operators\":%llu,"
        "\"committees\":%llu,\"branches\":%llu,\"secretaries\":%llu,\"stations\":%llu,"
        "\"joint_meetings\":%llu,\"study_items\":%llu,\"enterprises\":%llu,"
        "\"departments\":%llu,\"liaison\":{\"cadres\":%llu,\"party_member_drivers\":%llu,"
        "\"drivers\":%llu},",
        when, (unsigned long long)s->drivers, (unsigned long long)s->pm_drivers,
        (unsigned long long)s->operators, (unsigned long long)s->committees,
        (unsigned long long)s->branches.n, (unsigned long long)s->secretaries.n,
        (unsigned long long)s->stations, (unsigned long long)s->joint_meetings,
        (unsigned long long)s->study, (unsigned long long)s->enterprises,
        (unsigned long long)s->departments, (unsigned long long)s->cadres.n,
        (unsigned long long)s->liaison_pm.n, (unsigned long long)s->liaison_drivers.n);
    rc |= dc__buf_puts(b, "\"cases\":");
    rc |= put_casefig_head(b, s, c);
    rc |= dc__buf_puts(b, ",\"median_resolve_hours\":");
    if (s->nresolve == 0) {
        rc |= dc__buf_puts(b, "null");
    } else {
        qsort(s->resolve_ms, s->nresolve, sizeof *s->resolve_ms, cmp_i64);
        size_t m = s->nresolve / 2;
        double ms = s->nresolve % 2
                        ? (double)s->resolve_ms[m]
                        : ((double)s->resolve_ms[m - 1] + (double)s->resolve_ms[m]) / 2.0;
        rc |= dc__buf_printf(b, "%.2f", ms / 3600000.0);
    }
    rc |= dc__buf_printf(b,
                         ",\"revisits\":%llu,\"satisfied\":%llu,\"amount_yuan\":%lld,"
                         "\"recovered_yuan\":%lld},",
                         (unsigned long long)c->revisits, (unsigned long long)c->satisfied,
                         (long long)c->amount, (long long)c->recovered);
    rc |= put_regions(b, s);
    rc |= put_buckets(b, s, "by_channel", &s->channel);
    rc |= put_buckets(b, s, "by_category", &s->category);
    rc |= put_buckets(b, s, "by_level", &s->level);
    int first = 0, last = 0;
    rc |= dc__buf_puts(b, ",\"calendar\":{\"years\":");
    rc |= s->cal && dc_calendar_years(s->cal, &first, &last) == 0
              ? dc__buf_printf(b, "[%d,%d]", first, last)
              : dc__buf_puts(b, "null");
    rc |= dc__buf_printf(b, ",\"estimated\":%llu}}", (unsigned long long)s->estimated);
    return rc ? DC_ENOMEM : 0;
}

/* The registry part a space is, for the county of its drivers. */
static int enter_space(stats *s, const char *sp) {
    s->space = sp;
    s->county[0] = 0;
    strset_free(&s->moved);
    dc__regpart p;
    int rc = dc__registry_part(s->r, sp, &p);
    if (rc)
        return rc;
    if (p.has && (strcmp(p.level, "county") == 0 || strcmp(p.level, "branch") == 0)) {
        char county[7];
        if (dc__county_of(p.region, strlen(p.region), county))
            memcpy(s->county, county, 7);
    }
    return walk(s, sp, "moved", on_moved, s);
}

int dc_stats_at(dc_buf *out, dc_replica *r, const char *space, const dc_calendar *cal,
                int64_t now_ms) {
    if (!r)
        return DC_EMISUSE;
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "stats: out is NULL");
    stats s;
    space_list l = {NULL, 0, 0};
    dc_buf b = DC_BUF_INIT;
    int rc;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.cal = cal;
    s.now = now_ms;
    /* Every space read from one state of the file (and the file's locks
     * taken once, not per walk). */
    bool snap = false;
    if ((rc = dc__dom_read_begin(r, &snap)))
        goto done;
    if ((rc = dc_space_each(r, collect_space, &l))) {
        if (rc == DC_ENOMEM)
            dc__model_fail(r, rc, "stats: out of memory");
        goto done;
    }
    if (space) {
        size_t i = 0;
        while (i < l.n && strcmp(l.hex[i], space) != 0)
            i++;
        if (i == l.n) {
            rc = dc__model_fail(r, DC_ENOTFOUND,
                                "stats: this replica holds no key for space '%s' (see "
                                "`drivercore space list`); statistics read only spaces it holds",
                                space);
            goto done;
        }
        memcpy(l.hex[0], l.hex[i], 33);
        l.n = 1;
    }
    /* Orgs of every space first: the inside-county figure needs the level
     * of each org a case was transferred to, wherever the case is held;
     * region names come with them. */
    for (size_t i = 0; i < l.n && !rc; i++)
        if (!(rc = walk(&s, l.hex[i], "org", on_org, &s)))
            rc = walk(&s, l.hex[i], "region", on_region, &s);
    if (!rc)
        rc = dc__registry_extras_load(r, l.hex, l.n, &s.extras);
    for (size_t i = 0; i < l.n && !rc; i++) {
        const char *sp = l.hex[i];
        if ((rc = enter_space(&s, sp)) || (rc = walk(&s, sp, "driver", on_driver, &s)) ||
            (rc = walk(&s, sp, "branch", on_branch, &s)) ||
            (rc = walk(&s, sp, "secretary", on_secretary, &s)) ||
            (rc = count(&s, sp, "station", &s.stations)) ||
            (rc = count(&s, sp, "study", &s.study)) ||
            (rc = walk(&s, sp, "liaison", on_liaison, &s)) ||
            (rc = walk(&s, sp, "case", on_case, &s)))
            break;
    }
    if (!rc && (rc = render(&b, &s)) != 0)
        dc__model_fail(r, rc, "stats: out of memory");
    if (!rc)
        dc__buf_move(out, &b);
done:
    dc__dom_read_end(r, snap);
    dc_buf_dispose(&b);
    for (int i = 0; i < 3; i++)
        dc_buf_dispose(&s.shown[i]);
    dc__case_facts_dispose(&s.facts);
    dc__registry_extras_free(&s.extras);
    dc__free(l.hex);
    dc__free(s.resolve_ms);
    dc__free(s.rows);
    dc__free(s.channel.v);
    dc__free(s.category.v);
    dc__free(s.level.v);
    for (size_t i = 0; i < s.nname; i++)
        dc__free(s.name_v[i]);
    dc__free(s.name_v);
    strset_free(&s.seen);
    strset_free(&s.moved);
    strset_free(&s.names);
    strset_free(&s.branches);
    strset_free(&s.secretaries);
    strset_free(&s.cadres);
    strset_free(&s.liaison_pm);
    strset_free(&s.liaison_drivers);
    strset_free(&s.orgs);
    return rc;
}

int dc_stats(dc_buf *out, dc_replica *r, const char *space, const dc_calendar *cal) {
    dc__clock system;
    memset(&system, 0, sizeof system); /* no hook, no offset: the system clock */
    return dc_stats_at(out, r, space, cal, dc__clock_wall_ms(&system));
}
