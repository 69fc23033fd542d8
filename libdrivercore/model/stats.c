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
 * record type of each space is walked exactly once with dc__records_each,
 * and a case's state comes from the one fold of "Grievance rules" in
 * grievance.c (through dc_case_summary), so the figures always agree with
 * `case show`, and every replica holding the same steps prints the same
 * figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "replica/records.h"
#include "drivercore/grievance.h"

/* ---- a set of strings (open addressing), with one small value each ----
 * Distinct counts (liaison ends, secretaries as persons, branches seen both
 * in the directory and as branch records) need membership tests
 * over tens of thousands of ids; the org map keeps each org's level. */

typedef struct strset {
    char **keys;
    unsigned char *vals;
    size_t n, cap; /* cap is a power of two, or 0 */
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
    for (size_t i = 0; i < s->cap; i++)
        dc__free(s->keys[i]);
    dc__free(s->keys);
    dc__free(s->vals);
    memset(s, 0, sizeof *s);
}

static int strset_grow(strset *s) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    char **nk = dc__calloc(ncap, sizeof *nk);
    unsigned char *nv = dc__calloc(ncap, 1);
    if (!nk || !nv) {
        dc__free(nk);
        dc__free(nv);
        return DC_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i])
            continue;
        size_t j = (size_t)hash_bytes(s->keys[i], strlen(s->keys[i])) & (ncap - 1);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = s->keys[i];
        nv[j] = s->vals[i];
    }
    dc__free(s->keys);
    dc__free(s->vals);
    s->keys = nk;
    s->vals = nv;
    s->cap = ncap;
    return 0;
}

/* The slot of key (n bytes), or -1 when absent. */
static long strset_find(const strset *s, const char *key, size_t n) {
    if (!s->cap)
        return -1;
    size_t j = (size_t)hash_bytes(key, n) & (s->cap - 1);
    while (s->keys[j]) {
        if (strlen(s->keys[j]) == n && memcmp(s->keys[j], key, n) == 0)
            return (long)j;
        j = (j + 1) & (s->cap - 1);
    }
    return -1;
}

/* Adds key with val (an existing key keeps its value).  Returns 1 if it was
 * new, 0 if already there, or DC_ENOMEM (negative). */
static int strset_add(strset *s, const char *key, size_t n, unsigned char val) {
    if (strset_find(s, key, n) >= 0)
        return 0;
    if ((s->n + 1) * 2 > s->cap && strset_grow(s))
        return DC_ENOMEM;
    size_t j = (size_t)hash_bytes(key, n) & (s->cap - 1);
    while (s->keys[j])
        j = (j + 1) & (s->cap - 1);
    if (!(s->keys[j] = dc__strndup(key, n)))
        return DC_ENOMEM;
    s->vals[j] = val;
    s->n++;
    return 1;
}

/* ---- the figures ---- */

enum { ADMIN_NONE = 0, ADMIN_COUNTY = 1, ADMIN_CITY = 2, ADMIN_PROVINCE = 3 };
enum { DL_TRANSFER, DL_FEEDBACK, DL_REPLY, DL_REVISIT, DL_N };
static const char *const DL_NAME[DL_N] = {"transfer", "feedback", "reply", "revisit"};

typedef struct stats {
    dc_replica *r;
    const dc_calendar *cal;
    int64_t now;
    const char *space; /* the space being walked */
    dc_buf scratch;    /* one case summary */

    uint64_t drivers, pm_drivers, operators, committees, joint_meetings, stations, study,
        enterprises, departments;
    strset branches;    /* org ids of kind branch, and branch records */
    strset secretaries; /* person ids holding the role secretary */
    strset cadres, liaison_pm, liaison_drivers;
    strset orgs; /* org id -> ADMIN_* level, for inside_county */

    uint64_t collected, resolved, inside;
    uint64_t dl_due[DL_N], dl_met[DL_N];
    uint64_t revisits, satisfied;
    int64_t *resolve_ms;
    size_t nresolve, cresolve;
} stats;

static bool value_is(const dc__value *v, const char *s) {
    return v && v->kind == DC_STR && v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

/* The administrative level a string names ("province", "city", "county"). */
static unsigned char level_of_name(const dc__value *v) {
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
    if (slot >= 0 && s->orgs.vals[slot] != ADMIN_NONE)
        return s->orgs.vals[slot];
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

/* Adds the value of register `field` (a string) to set `set`. */
static int add_field(stats *s, strset *set, const dc__rec *rec, const char *field) {
    const dc__value *v = dc__rec_value(rec, field);
    if (!v || v->kind != DC_STR || v->len == 0)
        return 0;
    return strset_add(set, v->str, v->len, 0) < 0
               ? dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory")
               : 0;
}

static int on_driver(void *user, const dc__rec *rec) {
    stats *s = user;
    const dc__value *st = dc__rec_value(rec, "status");
    s->drivers++;
    if (value_is(st, "probationary") || value_is(st, "member"))
        s->pm_drivers++;
    return 0;
}

static int on_org(void *user, const dc__rec *rec) {
    stats *s = user;
    const dc__value *kind = dc__rec_value(rec, "kind");
    size_t idn = strlen(rec->id);
    if (strset_add(&s->orgs, rec->id, idn, level_of_name(dc__rec_value(rec, "level"))) < 0)
        return dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory");
    if (value_is(kind, "operator"))
        s->operators++;
    else if (value_is(kind, "committee"))
        s->committees++;
    else if (value_is(kind, "joint_meeting"))
        s->joint_meetings++;
    else if (value_is(kind, "enterprise"))
        s->enterprises++;
    else if (value_is(kind, "department"))
        s->departments++;
    else if (value_is(kind, "branch") && strset_add(&s->branches, rec->id, idn, 0) < 0)
        return dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory");
    return 0;
}

static int on_branch(void *user, const dc__rec *rec) {
    stats *s = user;
    return strset_add(&s->branches, rec->id, strlen(rec->id), 0) < 0
               ? dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory")
               : 0;
}

/* A secretary record's id is `<branch org id>/<person id>`: one person may
 * lead two branches (the report's 187 secretaries for 209 branches), so
 * secretaries are counted as distinct persons with the role secretary. */
static int on_secretary(void *user, const dc__rec *rec) {
    stats *s = user;
    const dc__value *role = dc__rec_value(rec, "role");
    if (role && !value_is(role, "secretary"))
        return 0;
    const char *slash = strrchr(rec->id, '/');
    const char *person = slash ? slash + 1 : rec->id;
    return strset_add(&s->secretaries, person, strlen(person), 0) < 0
               ? dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory")
               : 0;
}

static int on_count(void *user, const dc__rec *rec) {
    (void)rec;
    (*(uint64_t *)user)++;
    return 0;
}

static int on_liaison(void *user, const dc__rec *rec) {
    stats *s = user;
    const dc__value *level = dc__rec_value(rec, "level");
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
 * The state of a case is derived by grievance.c's fold (dc_case_summary),
 * so the figures here can never disagree with what `case show` prints:
 * one fold, read through its flat summary. */

typedef struct case_sum {
    const stats *s;
    bool resolved, above_county;
    int64_t received, resolved_ms;
    int64_t due[DL_N], done[DL_N];
    int64_t revisits, satisfied;
} case_sum;

static int64_t num_or_null(const dc__value *v) {
    return v->kind == DC_INT ? v->num : -1;
}

static int summary_field(void *user, const char *key, const dc__value *v) {
    case_sum *c = user;
    if (strcmp(key, "status") == 0) {
        c->resolved = value_is(v, "resolved") || value_is(v, "revisited") || value_is(v, "closed");
    } else if (strcmp(key, "transfers") == 0 && v->kind == DC_STR) {
        /* The `to` of every transfer that took effect, space-separated. */
        const char *p = v->str, *end = v->str + v->len;
        while (p < end) {
            const char *q = memchr(p, ' ', (size_t)(end - p));
            size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
            if (n && target_level(c->s, p, n) >= ADMIN_CITY)
                c->above_county = true;
            p += n + 1;
        }
    } else if (strcmp(key, "received_ms") == 0) {
        c->received = num_or_null(v);
    } else if (strcmp(key, "resolved_ms") == 0) {
        c->resolved_ms = num_or_null(v);
    } else if (strcmp(key, "revisits") == 0 && v->kind == DC_INT) {
        c->revisits = v->num;
    } else if (strcmp(key, "satisfied_revisits") == 0 && v->kind == DC_INT) {
        c->satisfied = v->num;
    } else {
        for (int k = 0; k < DL_N; k++) {
            char name[32];
            snprintf(name, sizeof name, "due_%s_ms", DL_NAME[k]);
            if (strcmp(key, name) == 0)
                c->due[k] = num_or_null(v);
            snprintf(name, sizeof name, "done_%s_ms", DL_NAME[k]);
            if (strcmp(key, name) == 0)
                c->done[k] = num_or_null(v);
        }
    }
    return 0;
}

static int push_resolve(stats *s, int64_t ms) {
    if (s->nresolve == s->cresolve) {
        size_t nc = s->cresolve ? s->cresolve * 2 : 256;
        int64_t *p = dc__realloc(s->resolve_ms, nc * sizeof *p);
        if (!p)
            return dc__model_fail(s->r, DC_ENOMEM, "stats: out of memory");
        s->resolve_ms = p;
        s->cresolve = nc;
    }
    s->resolve_ms[s->nresolve++] = ms;
    return 0;
}

static int on_case(void *user, const dc__rec *rec) {
    stats *s = user;
    case_sum c;
    int rc;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.received = c.resolved_ms = -1;
    for (int k = 0; k < DL_N; k++)
        c.due[k] = c.done[k] = -1;
    /* Reading the case again inside the walk is allowed (records.h: each
     * record is loaded in full before the callback runs). */
    dc__buf_clear(&s->scratch);
    if ((rc = dc_case_summary(&s->scratch, s->r, s->space, rec->id, s->cal)) != 0)
        return rc;
    if (dc__json_flat_each((const char *)s->scratch.ptr, summary_field, &c) != 0)
        return dc__model_fail(s->r, DC_ECORRUPT,
                              "stats: the summary of case %s is not a "
                              "flat JSON object",
                              rec->id);

    s->collected++;
    if (!c.above_county)
        s->inside++;
    s->revisits += (uint64_t)c.revisits;
    s->satisfied += (uint64_t)c.satisfied;
    if (c.resolved) {
        s->resolved++;
        if (c.resolved_ms >= 0 && c.received >= 0 && c.resolved_ms >= c.received &&
            push_resolve(s, c.resolved_ms - c.received))
            return DC_ENOMEM;
    }
    /* A deadline counts once it has passed or been met; met when the step
     * that meets it came at or before it. */
    for (int k = 0; k < DL_N && s->cal; k++) {
        if (c.due[k] < 0 || (c.done[k] < 0 && c.due[k] >= s->now))
            continue;
        s->dl_due[k]++;
        if (c.done[k] >= 0 && c.done[k] <= c.due[k])
            s->dl_met[k]++;
    }
    return 0;
}

/* ---- walking the spaces ---- */

typedef struct space_list {
    char (*hex)[33];
    size_t n, cap;
} space_list;

static int collect_space(void *user, const char *hex) {
    space_list *l = user;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char(*p)[33] = dc__realloc(l->hex, nc * sizeof *p);
        if (!p)
            return DC_ENOMEM;
        l->hex = p;
        l->cap = nc;
    }
    memcpy(l->hex[l->n++], hex, 33);
    return 0;
}

static int walk(stats *s, const char *space, const char *type, dc__rec_fn fn, void *user) {
    return dc__records_each(s->r, space, type, NULL, fn, user);
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

static int render(dc_buf *b, stats *s) {
    int rc = 0;
    char when[64] = "null";
    dc_buf t = DC_BUF_INIT;
    if (dc_time_cst(&t, s->now) == 0 && t.size + 3 < sizeof when)
        snprintf(when, sizeof when, "\"%s\"", (const char *)t.ptr);
    dc_buf_dispose(&t);
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
    rc |= dc__buf_printf(b, "\"cases\":{\"collected\":%llu,\"resolved\":%llu,\"resolution_rate\":",
                         (unsigned long long)s->collected, (unsigned long long)s->resolved);
    rc |= put_percent(b, s->resolved, s->collected);
    rc |= dc__buf_puts(b, ",\"inside_county\":");
    rc |= put_percent(b, s->inside, s->collected);
    rc |= dc__buf_puts(b, ",\"on_time\":{");
    for (int i = 0; i < DL_N; i++) {
        rc |= dc__buf_printf(b, "%s\"%s\":", i ? "," : "", DL_NAME[i]);
        rc |= s->cal ? put_percent(b, s->dl_met[i], s->dl_due[i]) : dc__buf_puts(b, "null");
    }
    rc |= dc__buf_puts(b, "},\"satisfaction_rate\":");
    rc |= put_percent(b, s->satisfied, s->revisits);
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
    rc |= dc__buf_printf(b, ",\"revisits\":%llu,\"satisfied\":%llu}}",
                         (unsigned long long)s->revisits, (unsigned long long)s->satisfied);
    return rc ? DC_ENOMEM : 0;
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
    if ((rc = dc__spaces_each(r, collect_space, &l))) {
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
     * of each org a case was transferred to, wherever the case is held. */
    for (size_t i = 0; i < l.n && !rc; i++)
        rc = walk(&s, l.hex[i], "org", on_org, &s);
    for (size_t i = 0; i < l.n && !rc; i++) {
        const char *sp = l.hex[i];
        s.space = sp;
        if ((rc = walk(&s, sp, "driver", on_driver, &s)) ||
            (rc = walk(&s, sp, "branch", on_branch, &s)) ||
            (rc = walk(&s, sp, "secretary", on_secretary, &s)) ||
            (rc = walk(&s, sp, "station", on_count, &s.stations)) ||
            (rc = walk(&s, sp, "study", on_count, &s.study)) ||
            (rc = walk(&s, sp, "liaison", on_liaison, &s)) ||
            (rc = walk(&s, sp, "case", on_case, &s)))
            break;
    }
    if (!rc && (rc = render(&b, &s)) != 0)
        dc__model_fail(r, rc, "stats: out of memory");
    if (!rc)
        dc__buf_move(out, &b);
done:
    dc_buf_dispose(&b);
    dc_buf_dispose(&s.scratch);
    dc__free(l.hex);
    dc__free(s.resolve_ms);
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
