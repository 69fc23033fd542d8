/*
 * model/org.c — the public facts of the directory space: regions in five
 * levels, organisations, Driver's Homes with their facilities, and the
 * check-ins a driver keeps in his personal space; plus the helpers the
 * other files of this area share (org_int.h).  It exists so that every
 * office, tablet and phone describes a region, an organisation or a
 * station with the same record id (the code), and two devices entering the
 * same thing merge instead of duplicating (docs/domain.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/org_int.h"

/* ======================================================================
 * Shared helpers (org_int.h)
 * ====================================================================== */

int dc__org_text(dc_replica *r, const char *what, const char *s, bool required) {
    if (!s || !*s) {
        if (required)
            return dc__model_fail(r, DC_EINVAL, "%s is missing (give a non-empty text)", what);
        return 0;
    }
    if (!dc__utf8_valid((const uint8_t *)s, strlen(s)))
        return dc__model_fail(r, DC_EINVAL, "%s is not valid UTF-8", what);
    return 0;
}

int dc__org_id(dc_replica *r, const char *what, const char *s) {
    if (!s || !*s)
        return dc__model_fail(r, DC_EINVAL, "%s is missing", what);
    size_t n = strlen(s);
    if (n > 200)
        return dc__model_fail(r, DC_EINVAL, "%s is longer than 200 bytes", what);
    if (!dc__utf8_valid((const uint8_t *)s, n))
        return dc__model_fail(r, DC_EINVAL, "%s is not valid UTF-8", what);
    if (s[0] == ' ' || s[n - 1] == ' ')
        return dc__model_fail(r, DC_EINVAL, "%s '%s' has leading or trailing spaces", what, s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* '/' separates the parts of composite ids ("<from>/<to>"), so a
         * part containing one would make two different pairs collide. */
        if (c == '/' || c < 0x20 || c == 0x7f)
            return dc__model_fail(r, DC_EINVAL,
                                  "%s '%s' must not contain '/' or control "
                                  "characters",
                                  what, s);
    }
    return 0;
}

int dc__org_prefixed(dc_replica *r, const char *what, const char *s, const char *prefix) {
    int rc = dc__org_id(r, what, s);
    if (rc)
        return rc;
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0 || s[n] == '\0')
        return dc__model_fail(r, DC_EINVAL, "%s '%s' is not an id of the form '%s...'", what, s,
                              prefix);
    return 0;
}

int dc__org_driver(dc_replica *r, const char *what, const char *s) {
    return dc__org_prefixed(r, what, s, "drv-");
}

bool dc__org_in_list(const char *s, const char *const *list) {
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

int dc__org_enum(dc_replica *r, const char *what, const char *s, const char *const *allowed) {
    if (dc__org_in_list(s, allowed))
        return 0;
    char list[400];
    size_t at = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i] && at < sizeof list - 1; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", allowed[i]);
    if (!s || !*s)
        return dc__model_fail(r, DC_EINVAL, "%s is missing (one of: %s)", what, list);
    return dc__model_fail(r, DC_EINVAL, "%s '%.64s' is not one of: %s", what, s, list);
}

static bool is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

int dc__org_date_check(dc_replica *r, const char *what, const char *s) {
    if (!s || !*s)
        return dc__model_fail(r, DC_EINVAL, "%s is missing (a date YYYY-MM-DD)", what);
    bool shape = strlen(s) == 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; shape && i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            shape = false;
    if (shape) {
        int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
        if (y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= month_days(y, m))
            return 0;
    }
    return dc__model_fail(r, DC_EINVAL, "%s '%.32s' is not a date YYYY-MM-DD", what, s);
}

int dc__region_sig(const char *code, size_t n) {
    if (n != 6 && n != 9 && n != 12)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (code[i] < '0' || code[i] > '9')
            return 0;
    if (code[0] == '0' && code[1] == '0')
        return 0;
    if (n > 6)
        return (int)n;
    if (memcmp(code + 2, "0000", 4) == 0)
        return 2;
    if (memcmp(code + 4, "00", 2) == 0)
        return 4;
    return 6;
}

const char *dc__region_level_name(int sig) {
    switch (sig) {
    case 2: return "province";
    case 4: return "city";
    case 6: return "county";
    case 9: return "township";
    case 12: return "village";
    default: return NULL;
    }
}

int dc__region_common(const char *a, size_t an, const char *b, size_t bn) {
    int sa = dc__region_sig(a, an), sb = dc__region_sig(b, bn);
    int lim = sa < sb ? sa : sb;
    static const int levels[] = {6, 4, 2};
    for (size_t i = 0; i < 3; i++)
        if (levels[i] <= lim && memcmp(a, b, (size_t)levels[i]) == 0)
            return levels[i];
    return 0;
}

int dc__org_region_check(dc_replica *r, const char *what, const char *s) {
    if (!s || !*s)
        return dc__model_fail(r, DC_EINVAL, "%s is missing (a region code)", what);
    if (!dc__region_sig(s, strlen(s)))
        return dc__model_fail(r, DC_EINVAL,
                              "%s '%.32s' is not a region code (6 digits for a "
                              "province 520000, city 520100 or county 520112; 9 for a "
                              "township; 12 for a village)",
                              what, s);
    return 0;
}

/* Through base's clock_gettime: timespec_get needs Android API 29, and
 * the library targets 24 (docs/building.md, "The C library"). */
int64_t dc__org_now_ms(void) {
    return dc__os_wall_ms();
}

void dc__org_date(char out[11], int64_t ms) {
    /* Days to civil date (H. Hinnant's algorithm), exact for any instant. */
    int64_t z = (ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    unsigned yy = (unsigned)(y < 0 ? 0 : y % 10000);
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int dc__org_handles(dc_replica *r, const void *t, const char *fn) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "%s: the replica handle is NULL", fn);
    if (!t)
        return dc__model_fail(r, DC_EMISUSE, "%s: the transaction handle is NULL", fn);
    return 0;
}

int dc__org_begin(dc_txn **t, dc_replica *r, const char *space) {
    *t = NULL;
    if (!r)
        return dc__last_set(DC_EMISUSE, "the replica handle is NULL");
    return dc_txn_begin(t, r, space);
}

int dc__org_finish(dc_txn *t, int rc) {
    if (rc) {
        dc_txn_rollback(t);
        return rc;
    }
    return dc_txn_commit(t, NULL);
}

int dc__org_set_str(dc_txn *t, const char *type, const char *id, const char *field, const char *s) {
    if (!s || !*s)
        return dc_txn_set(t, type, id, field, DC_NULL, 0, NULL);
    return dc_txn_set(t, type, id, field, DC_STR, 0, s);
}

static int found_one(void *user, const dc_record *rec) {
    (void)rec;
    *(int *)user = 1;
    return 0;
}

int dc__org_exists(dc_replica *r, const char *space, const char *type, const char *id) {
    int found = 0;
    int rc = dc__dom_each(r, space, type, id, found_one, &found);
    return rc ? rc : found;
}

const char *dc__org_rec_str(const dc_record *rec, const char *field, char *out, size_t cap) {
    const dc_value *v = dc_record_value(rec, field);
    out[0] = '\0';
    if (v && v->kind == DC_STR) {
        size_t n = v->len < cap - 1 ? v->len : cap - 1;
        memcpy(out, dc__vstr(v), n);
        out[n] = '\0';
    }
    return out;
}

bool dc__org_rec_is(const dc_record *rec, const char *field, const char *s) {
    const dc_value *v = dc_record_value(rec, field);
    return v && v->kind == DC_STR && v->len == strlen(s) && memcmp(dc__vstr(v), s, v->len) == 0;
}

bool dc__org_rec_has(const dc_record *rec, const char *field, const char *s) {
    dc_value v = {DC_STR, 0, 0, s, strlen(s)};
    return dc_record_set_contains(rec, field, &v) == 1;
}

int dc__strs_push(dc__strs *s, const char *p, size_t n) {
    if (DC__VEC_ROOM(s->v, s->n, s->cap))
        return DC_ENOMEM;
    char *d = dc__strndup(p, n);
    if (!d)
        return DC_ENOMEM;
    s->v[s->n++] = d;
    return 0;
}

int dc__strs_from_set(dc__strs *s, const dc_record *rec, const char *field) {
    size_t n;
    const dc_value *vs = dc_record_set_values(rec, field, &n);
    for (size_t i = 0; i < n; i++) {
        const dc_value v = vs[i];
        if (v.kind == DC_STR) {
            int rc = dc__strs_push(s, dc__vstr(&v), v.len);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dc__strs_sort(dc__strs *s) {
    if (s->n < 2)
        return;
    qsort(s->v, s->n, sizeof *s->v, cmp_str);
    size_t w = 1;
    for (size_t i = 1; i < s->n; i++) {
        if (strcmp(s->v[i], s->v[w - 1]) == 0)
            dc__free(s->v[i]);
        else
            s->v[w++] = s->v[i];
    }
    s->n = w;
}

bool dc__strs_has(const dc__strs *s, const char *p) {
    return s->n && bsearch(&p, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

void dc__strs_free(dc__strs *s) {
    for (size_t i = 0; i < s->n; i++)
        dc__free(s->v[i]);
    dc__free(s->v);
    memset(s, 0, sizeof *s);
}

int dc__org_key(dc_buf *b, const char *key, bool first) {
    int rc = first ? 0 : dc__buf_putc(b, ',');
    if (!rc)
        rc = dc__json_str(b, key, strlen(key));
    return rc ? rc : dc__buf_putc(b, ':');
}

int dc__org_jstr(dc_buf *b, const char *s) {
    return s ? dc__json_str(b, s, strlen(s)) : dc__buf_puts(b, "null");
}

int dc__org_jfield(dc_buf *b, const dc_record *rec, const char *field) {
    return dc__dom_json_value(b, dc_record_value(rec, field));
}

int dc__org_jset(dc_buf *b, const dc_record *rec, const char *field) {
    dc__strs s = {0};
    int rc = dc__strs_from_set(&s, rec, field);
    dc__strs_sort(&s);
    if (!rc)
        rc = dc__buf_putc(b, '[');
    for (size_t i = 0; !rc && i < s.n; i++) {
        if (i)
            rc = dc__buf_putc(b, ',');
        if (!rc)
            rc = dc__org_jstr(b, s.v[i]);
    }
    if (!rc)
        rc = dc__buf_putc(b, ']');
    dc__strs_free(&s);
    return rc;
}

int dc__org_out(dc_buf *out, dc_buf *b) {
    dc__buf_move(out, b);
    return 0;
}

const char *dc__ev_str(const dc_event *e, const char *key) {
    const dc_value *v = dc_event_value(e, key);
    return v && v->kind == DC_STR ? dc__vstr(v) : NULL;
}

int dc__ev_bool(const dc_event *e, const char *key) {
    const dc_value *v = dc_event_value(e, key);
    return v && v->kind == DC_BOOL ? (v->num != 0) : -1;
}

/* ======================================================================
 * Regions
 * ====================================================================== */

static const char *const region_levels[] = {"province", "city",    "county",
                                            "township", "village", NULL};

int dc_region_put_txn(dc_replica *r, dc_txn *t, const char *code, const char *name,
                      const char *level, const char *parent) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_region_put_txn")) ||
        (rc = dc__org_region_check(r, "region: the code", code)) ||
        (rc = dc__org_text(r, "region: the name", name, true)) ||
        (rc = dc__org_enum(r, "region: the level", level, region_levels)))
        return rc;
    int sig = dc__region_sig(code, strlen(code));
    /* The level is redundant with the code, and saying both catches a
     * mistyped code (a county code entered as a city) at the desk. */
    if (strcmp(level, dc__region_level_name(sig)) != 0)
        return dc__model_fail(r, DC_EINVAL, "region: code %s is a %s code, not a %s code", code,
                              dc__region_level_name(sig), level);
    if (parent && *parent) {
        if ((rc = dc__org_region_check(r, "region: the parent", parent)))
            return rc;
        int ps = dc__region_sig(parent, strlen(parent));
        if (ps >= sig || strncmp(parent, code, (size_t)ps) != 0)
            return dc__model_fail(r, DC_EINVAL,
                                  "region: %s (%s) cannot be the parent of %s "
                                  "(%s): a parent is a higher level whose code is a prefix",
                                  parent, dc__region_level_name(ps), code, level);
    }
    if ((rc = dc_txn_set(t, "region", code, "name", DC_STR, 0, name)) ||
        (rc = dc_txn_set(t, "region", code, "level", DC_STR, 0, level)) ||
        (rc = dc__org_set_str(t, "region", code, "parent", parent)))
        return rc;
    return 0;
}

int dc_region_put(dc_replica *r, const char *space, const char *code, const char *name,
                  const char *level, const char *parent) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_region_put_txn(r, t, code, name, level, parent));
}

/* ======================================================================
 * Organisations
 * ====================================================================== */

static const char *const org_kinds[] = {
    "org_dept",   "transport_dept",   "committee",  "branch",   "joint_meeting",
    "department", "station_operator", "enterprise", "operator", NULL};
static const char *const org_levels[] = {"province", "city", "county", NULL};

/* An org id is "<kind>-<code>" with a known kind. */
static int org_id_check(dc_replica *r, const char *what, const char *s) {
    int rc = dc__org_id(r, what, s);
    if (rc)
        return rc;
    for (size_t i = 0; org_kinds[i]; i++) {
        size_t n = strlen(org_kinds[i]);
        if (strncmp(s, org_kinds[i], n) == 0 && s[n] == '-' && s[n + 1])
            return 0;
    }
    return dc__model_fail(r, DC_EINVAL,
                          "%s '%s' is not an organisation id '<kind>-<code>' "
                          "(kinds: org_dept, transport_dept, committee, branch, joint_meeting, "
                          "department, station_operator, enterprise, operator)",
                          what, s);
}

int dc_org_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_org_options *o) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_org_put_txn")))
        return rc;
    if (!o || o->version != DC_ORG_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "org: options missing or of an unknown version");
    if ((rc = dc__org_enum(r, "org: the kind", o->kind, org_kinds)) ||
        (rc = dc__org_id(r, "org: the code", o->code)) ||
        (rc = dc__org_text(r, "org: the name", o->name, true)))
        return rc;
    bool leveled = strcmp(o->kind, "committee") == 0 || strcmp(o->kind, "joint_meeting") == 0;
    if (leveled || (o->level && *o->level))
        if ((rc = dc__org_enum(r, "org: the level", o->level, org_levels)))
            return rc;
    if (o->region && *o->region && (rc = dc__org_region_check(r, "org: the region", o->region)))
        return rc;
    if (o->parent && *o->parent && (rc = org_id_check(r, "org: the parent", o->parent)))
        return rc;
    if (o->ndepartments && strcmp(o->kind, "joint_meeting") != 0)
        return dc__model_fail(r, DC_EINVAL,
                              "org: only a joint meeting has member departments "
                              "(this is a %s)",
                              o->kind);
    for (size_t i = 0; i < o->ndepartments; i++)
        if ((rc = org_id_check(r, "org: a member department", o->departments[i])))
            return rc;

    dc_buf oid = DC_BUF_INIT;
    if (dc__buf_printf(&oid, "%s-%s", o->kind, o->code))
        return dc__model_fail(r, DC_ENOMEM, "org: out of memory");
    const char *k = (const char *)oid.ptr;
    if (!(rc = dc_txn_set(t, "org", k, "name", DC_STR, 0, o->name)) &&
        !(rc = dc_txn_set(t, "org", k, "kind", DC_STR, 0, o->kind)) &&
        !(rc = dc__org_set_str(t, "org", k, "level", o->level)) &&
        !(rc = dc__org_set_str(t, "org", k, "region", o->region)) &&
        !(rc = dc__org_set_str(t, "org", k, "parent", o->parent)))
        for (size_t i = 0; !rc && i < o->ndepartments; i++)
            rc = dc_txn_add(t, "org", k, "departments", DC_STR, 0, o->departments[i]);
    if (!rc && id)
        dc__buf_move(id, &oid);
    dc_buf_dispose(&oid);
    return rc;
}

int dc_org_put(dc_buf *id, dc_replica *r, const char *space, const dc_org_options *o) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_org_put_txn(id, r, t, o));
}

/* ======================================================================
 * Driver's Homes
 * ====================================================================== */

static const char *const station_sites[] = {"service_area", "trunk_road", "logistics_park",
                                            "freight_hub",  "enterprise", NULL};
static const char *const facilities[] = {"study_room", "kitchen", "showers", "massage_chairs",
                                         "parking",    "rest",    "meals",   NULL};

int dc_station_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_station_options *o) {
    int rc;
    if ((rc = dc__org_handles(r, t, "dc_station_put_txn")))
        return rc;
    if (!o || o->version != DC_STATION_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "station: options missing or of an unknown version");
    if ((rc = dc__org_id(r, "station: the code", o->code)) ||
        (rc = dc__org_text(r, "station: the name", o->name, true)) ||
        (rc = dc__org_enum(r, "station: the site", o->site, station_sites)) ||
        (rc = dc__org_region_check(r, "station: the region", o->region)) ||
        (rc = dc__org_text(r, "station: the address", o->address, false)) ||
        (rc = dc__org_text(r, "station: the agreement", o->agreement, false)))
        return rc;
    if (o->operator_org && *o->operator_org &&
        (rc = org_id_check(r, "station: the operator", o->operator_org)))
        return rc;
    for (size_t i = 0; i < o->nfacilities; i++)
        if ((rc = dc__org_enum(r, "station: a facility", o->facilities[i], facilities)))
            return rc;

    dc_buf sid = DC_BUF_INIT;
    if (dc__buf_printf(&sid, "dh-%s", o->code))
        return dc__model_fail(r, DC_ENOMEM, "station: out of memory");
    const char *k = (const char *)sid.ptr;
    if (!(rc = dc_txn_set(t, "station", k, "name", DC_STR, 0, o->name)) &&
        !(rc = dc_txn_set(t, "station", k, "site", DC_STR, 0, o->site)) &&
        !(rc = dc_txn_set(t, "station", k, "region", DC_STR, 0, o->region)) &&
        !(rc = dc__org_set_str(t, "station", k, "address", o->address)) &&
        !(rc = dc__org_set_str(t, "station", k, "operator", o->operator_org)) &&
        !(rc = dc__org_set_str(t, "station", k, "agreement", o->agreement)))
        for (size_t i = 0; !rc && i < o->nfacilities; i++)
            rc = dc_txn_add(t, "station", k, "facilities", DC_STR, 0, o->facilities[i]);
    if (!rc && id)
        dc__buf_move(id, &sid);
    dc_buf_dispose(&sid);
    return rc;
}

int dc_station_put(dc_buf *id, dc_replica *r, const char *space, const dc_station_options *o) {
    dc_txn *t;
    int rc = dc__org_begin(&t, r, space);
    if (rc)
        return rc;
    return dc__org_finish(t, dc_station_put_txn(id, r, t, o));
}

int dc_station_facility(dc_replica *r, const char *space, const char *station, const char *facility,
                        int present) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_station_facility: the replica handle is NULL");
    int rc;
    if ((rc = dc__org_prefixed(r, "station: the station", station, "dh-")) ||
        (rc = dc__org_enum(r, "station: the facility", facility, facilities)))
        return rc;
    rc = dc__org_exists(r, space, "station", station);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return dc__model_fail(r, DC_ENOTFOUND,
                              "station: no station %s in this space (put it "
                              "first)",
                              station);
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    rc = present ? dc_txn_add(t, "station", station, "facilities", DC_STR, 0, facility)
                 : dc_txn_remove(t, "station", station, "facilities", DC_STR, 0, facility);
    return dc__org_finish(t, rc);
}

typedef struct station_walk {
    dc_buf b;
    const char *region, *facility;
    size_t n;
} station_walk;

static int station_one(void *user, const dc_record *rec) {
    station_walk *w = user;
    char region[64];
    dc__org_rec_str(rec, "region", region, sizeof region);
    if (w->region && strncmp(region, w->region, strlen(w->region)) != 0)
        return 0;
    if (w->facility && !dc__org_rec_has(rec, "facilities", w->facility))
        return 0;
    dc_buf *b = &w->b;
    int rc = dc__buf_puts(b, w->n++ ? ",{" : "{");
    if (!rc && !(rc = dc__org_key(b, "station", true)))
        rc = dc__org_jstr(b, dc_record_id(rec));
    static const char *const fields[] = {"name",    "site",     "region",
                                         "address", "operator", "agreement"};
    for (size_t i = 0; !rc && i < sizeof fields / sizeof fields[0]; i++)
        if (!(rc = dc__org_key(b, fields[i], false)))
            rc = dc__org_jfield(b, rec, fields[i]);
    if (!rc && !(rc = dc__org_key(b, "facilities", false)))
        rc = dc__org_jset(b, rec, "facilities");
    return rc ? rc : dc__buf_putc(b, '}');
}

int dc_station_list(dc_buf *out, dc_replica *r, const char *space, const char *region,
                    const char *facility) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_station_list: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_station_list: out is NULL");
    int rc;
    if (facility && *facility &&
        (rc = dc__org_enum(r, "station list: the facility", facility, facilities)))
        return rc;
    station_walk w = {DC_BUF_INIT, region && *region ? region : NULL,
                      facility && *facility ? facility : NULL, 0};
    rc = dc__buf_puts(&w.b, "{\"stations\":[");
    if (!rc)
        rc = dc__dom_each(r, space, "station", NULL, station_one, &w);
    if (!rc)
        rc = dc__buf_puts(&w.b, "]}");
    if (rc == DC_ENOMEM && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "station list: out of memory");
    if (!rc)
        dc__org_out(out, &w.b);
    dc_buf_dispose(&w.b);
    return rc;
}

/* ======================================================================
 * Check-ins (personal space)
 * ====================================================================== */

int dc_checkin(dc_replica *r, const char *space, const dc_checkin_options *o) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_checkin: the replica handle is NULL");
    if (!o || o->version != DC_CHECKIN_OPTIONS_VERSION)
        return dc__model_fail(r, o ? DC_EINVAL : DC_EMISUSE,
                              "checkin: options missing or of an unknown version");
    int rc;
    if ((rc = dc__org_prefixed(r, "checkin: the station", o->station, "dh-")) ||
        (rc = dc__org_text(r, "checkin: the feedback", o->feedback, false)))
        return rc;
    if (o->used && *o->used &&
        (rc = dc__org_enum(r, "checkin: the facility used", o->used, facilities)))
        return rc;
    if (o->rating < 0 || o->rating > 5)
        return dc__model_fail(r, DC_EINVAL, "checkin: the rating %d is not 1 to 5 (0 for none)",
                              o->rating);
    if (o->at_ms < 0)
        return dc__model_fail(r, DC_EINVAL, "checkin: the time is before 1970");
    int64_t at = o->at_ms ? o->at_ms : dc__org_now_ms();
    dc_txn *t;
    if ((rc = dc__org_begin(&t, r, space)))
        return rc;
    if (!(rc = dc_txn_event(t, "checkin", o->station)) &&
        !(rc = dc_txn_event_field(t, "at", DC_INT, at, NULL)) &&
        !(rc = dc_txn_event_field(t, "used", o->used && *o->used ? DC_STR : DC_NULL, 0, o->used)) &&
        !(rc = dc_txn_event_field(t, "feedback", o->feedback && *o->feedback ? DC_STR : DC_NULL, 0,
                                  o->feedback)))
        rc = dc_txn_event_field(t, "rating", o->rating ? DC_INT : DC_NULL, o->rating, NULL);
    return dc__org_finish(t, rc);
}

typedef struct checkin_walk {
    dc_buf b;
    size_t n;
} checkin_walk;

static int checkin_one(void *user, const dc_record *rec) {
    checkin_walk *w = user;
    int rc = 0;
    for (size_t i = 0; !rc && i < dc_record_event_count(rec); i++) {
        const dc_event *ev = dc_record_event(rec, i);
        dc_buf *b = &w->b;
        rc = dc__buf_puts(b, w->n++ ? ",{" : "{");
        if (!rc && !(rc = dc__org_key(b, "station", true)))
            rc = dc__org_jstr(b, dc_record_id(rec));
        static const char *const keys[] = {"at", "used", "feedback", "rating"};
        for (size_t k = 0; !rc && k < 4; k++)
            if (!(rc = dc__org_key(b, keys[k], false)))
                rc = dc__dom_json_value(b, dc_event_value(ev, keys[k]));
        if (!rc)
            rc = dc__buf_putc(b, '}');
    }
    return rc;
}

int dc_checkin_list(dc_buf *out, dc_replica *r, const char *space) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_checkin_list: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_checkin_list: out is NULL");
    checkin_walk w = {DC_BUF_INIT, 0};
    int rc = dc__buf_puts(&w.b, "{\"checkins\":[");
    if (!rc)
        rc = dc__dom_each(r, space, "checkin", NULL, checkin_one, &w);
    if (!rc)
        rc = dc__buf_puts(&w.b, "]}");
    if (rc && !*dc_replica_errmsg(r))
        dc__model_fail(r, rc, "checkin list: %s", dc_strerror(rc));
    if (!rc)
        dc__org_out(out, &w.b);
    dc_buf_dispose(&w.b);
    return rc;
}
