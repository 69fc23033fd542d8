/*
 * Grievances under the 12328 rule.  A case is one `case` record: its
 * registers say who filed what through which channel, and its events are
 * the steps handlers took (the first one, "file", is the receipt).  The
 * status, the level reached, the deadlines and whether each was met are
 * never stored: they are folded from the steps in event order (clock, then
 * device) every time the case is read.  Two handlers working offline only
 * ever add events, events merge as a union, and the fold is a function of
 * the ordered events, so every replica that has received the same steps
 * shows the same case — the convergence the domain needs comes from the
 * record layer's merge rules, not from any extra protocol.  The rules of
 * the fold are in docs/domain.md, "Grievance rules"; they are written so
 * that steps which cross (a resolve and a reopen, two transfers, a close
 * and an unsatisfied revisit) still end in a state a person would accept.
 *
 * This file reads a case, folds it, shows it and writes its steps; where a
 * case is routed is case_route.c, the desks' list of cases case_list.c.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivercore/registry.h"
#include "model/grievance_int.h"
#include "model/org_int.h"
#include "model/registry_int.h"
#include "model/read.h"

#define HOUR_MS ((int64_t)3600000)
#define FIELD_MAX 200 /* bytes of an id, channel, category, region or org id */

enum { ST_RECEIVED, ST_TRANSFERRED, ST_IN_PROGRESS, ST_RESOLVED, ST_REVISITED, ST_CLOSED };
static const char *const status_names[] = {"received",  "transferred", "in_progress", "resolved",
                                           "revisited", "closed",      NULL};

/* The four deadlines of the 12328 rule, in the order they are printed. */
enum { D_TRANSFER, D_FEEDBACK, D_REPLY, D_REVISIT, D_COUNT };
static const char *const due_names[] = {"transfer", "feedback", "reply", "revisit"};

static const char *const channels[] = {"12328", "12345", "group", "station", "app", NULL};
static const char *const actions[] = {"transfer", "feedback", "reply", "resolve",
                                      "revisit",  "reopen",   "close", NULL};

const char *const dc__case_deadline_names[DC__DL_N] = {"transfer", "feedback", "reply", "revisit"};

typedef struct step {
    char *action, *to, *note, *author; /* owned; NULL for JSON null */
    int satisfied;                     /* 1, 0, -1 (null) */
    int64_t t;                         /* "@time", ms */
    bool applied;                      /* changed the state when folded */
} step;

typedef struct cstate {
    dc_replica *r;
    bool found;
    char space[33];
    char *id, *driver, *channel, *category, *text, *region, *routed; /* owned or NULL */
    int emergency;
    bool has_amount;
    int64_t amount; /* yuan */
    step *steps;
    size_t nsteps, capsteps;
    int bad; /* an error while reading (ENOMEM, a corrupt event) */
    /* The fold's result. */
    int64_t received; /* -1: unknown */
    int status;
    const char *at; /* the `to` of the last transfer that took effect (borrowed) */
    int64_t resolved, first_resolved;
    int satisfied; /* of the last revisit that took effect */
    int reopened, revisits, satisfied_revisits;
    int64_t done[D_COUNT];
    dc_buf transfers;
} cstate;

static void cstate_dispose(cstate *c) {
    dc__free(c->id);
    dc__free(c->driver);
    dc__free(c->channel);
    dc__free(c->category);
    dc__free(c->text);
    dc__free(c->region);
    dc__free(c->routed);
    for (size_t i = 0; i < c->nsteps; i++) {
        dc__free(c->steps[i].action);
        dc__free(c->steps[i].to);
        dc__free(c->steps[i].note);
        dc__free(c->steps[i].author);
    }
    dc__free(c->steps);
    dc_buf_dispose(&c->transfers);
    memset(c, 0, sizeof *c);
}

static bool is_open(int st) {
    return st == ST_RECEIVED || st == ST_TRANSFERRED || st == ST_IN_PROGRESS;
}

/* A string value as an owned C string; NULL for anything else.  Sets
 * *oom when the copy fails. */
static char *dup_str(const dc_value *v, int *oom) {
    if (!v || v->kind != DC_STR)
        return NULL;
    char *s = dc__strndup(dc__vstr(v), v->len);
    if (!s)
        *oom = 1;
    return s;
}

/* ---- reading a case ---- */

/* Reads one step from its event: the keys a later version adds are
 * ignored (the step still counts). */
static int step_read(step *s, const dc_event *e) {
    int oom = 0;
    s->action = dup_str(dc_event_value(e, "action"), &oom);
    s->to = dup_str(dc_event_value(e, "to"), &oom);
    s->note = dup_str(dc_event_value(e, "note"), &oom);
    const dc_value *sat = dc_event_value(e, "satisfied");
    s->satisfied = sat && sat->kind == DC_BOOL ? (int)sat->num : -1;
    s->t = e->time_ms;
    char hex[65];
    dc__hex(hex, e->author, 32);
    if (!(s->author = dc__strndup(hex, 64)))
        oom = 1;
    return oom ? DC_ENOMEM : 0;
}

static int case_record(void *user, const dc_record *rec) {
    cstate *c = user;
    int oom = 0;
    c->found = true;
    c->id = dc__strndup(dc_record_id(rec), strlen(dc_record_id(rec)));
    oom |= !c->id;
    c->driver = dup_str(dc_record_value(rec, "driver"), &oom);
    c->channel = dup_str(dc_record_value(rec, "channel"), &oom);
    c->category = dup_str(dc_record_value(rec, "category"), &oom);
    c->text = dup_str(dc_record_value(rec, "text"), &oom);
    c->region = dup_str(dc_record_value(rec, "region"), &oom);
    c->routed = dup_str(dc_record_value(rec, "routed"), &oom);
    const dc_value *em = dc_record_value(rec, "emergency");
    c->emergency = em && em->kind == DC_BOOL && em->num;
    const dc_value *am = dc_record_value(rec, "amount");
    c->has_amount = am && am->kind == DC_INT;
    c->amount = c->has_amount ? am->num : 0;
    if (oom)
        return dc__model_fail(c->r, DC_ENOMEM, "case: out of memory");
    c->steps = dc_record_event_count(rec) ? dc__calloc(dc_record_event_count(rec), sizeof *c->steps)
                                          : NULL;
    if (dc_record_event_count(rec) && !c->steps)
        return dc__model_fail(c->r, DC_ENOMEM, "case: out of memory");
    c->capsteps = dc_record_event_count(rec);
    for (size_t i = 0; i < dc_record_event_count(rec); i++)
        if (step_read(&c->steps[c->nsteps++], dc_record_event(rec, i)))
            return dc__model_fail(c->r, DC_ENOMEM, "case: out of memory");
    return 0;
}

int dc__case_check_id(dc_replica *r, const char *what, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0)
        return dc__model_fail(r, DC_EINVAL, "case: the %s is empty", what);
    if (n > FIELD_MAX || !dc__utf8_valid((const uint8_t *)s, n))
        return dc__model_fail(r, DC_EINVAL, "case: the %s must be 1 to %d bytes of UTF-8", what,
                              FIELD_MAX);
    return 0;
}

/* Reads the case into c from one space; 0 when read or absent there. */
static int load_from(cstate *c, const char *space, const char *case_id) {
    int rc = dc__dom_each(c->r, space, "case", case_id, case_record, c);
    if (!rc && c->found)
        snprintf(c->space, sizeof c->space, "%s", space);
    return rc;
}

/* Reads the case into c from `space`, or from any space held when space is
 * NULL: the first (in space id order) that
 * does. */
static int load_case(cstate *c, dc_replica *r, const char *space, const char *case_id) {
    memset(c, 0, sizeof *c);
    c->r = r;
    if (dc__case_check_id(r, "case id", case_id))
        return DC_EINVAL;
    int rc = 0;
    if (space) {
        rc = load_from(c, space, case_id);
    } else {
        /* One query finds the space holding it, however many are held. */
        char where[33];
        rc = dc_record_locate(r, "case", case_id, where);
        if (rc == 0)
            rc = load_from(c, where, case_id);
        else if (rc == DC_ENOTFOUND)
            rc = 0;
    }
    if (!rc && !c->found)
        rc = dc__model_fail(r, DC_ENOTFOUND, "case %s: not found in %s this replica holds", case_id,
                            space ? "the space" : "any space");
    return rc;
}

/* ---- the fold ---- */

static void mark_done(cstate *c, int kind, int64_t t) {
    if (c->done[kind] < 0)
        c->done[kind] = t;
}

static void reopen(cstate *c) {
    c->status = ST_IN_PROGRESS;
    c->resolved = -1;
    c->done[D_REVISIT] = -1; /* the revisit deadline follows the next resolution */
    c->reopened++;
}

/* Applies the steps in event order; see docs/domain.md, "Grievance rules". */
static int fold(cstate *c) {
    c->received = -1;
    c->status = ST_RECEIVED;
    c->at = NULL;
    c->resolved = c->first_resolved = -1;
    c->satisfied = -1;
    c->reopened = c->revisits = c->satisfied_revisits = 0;
    for (int k = 0; k < D_COUNT; k++)
        c->done[k] = -1;
    dc__buf_clear(&c->transfers);
    for (size_t i = 0; i < c->nsteps; i++) {
        step *s = &c->steps[i];
        const char *a = s->action ? s->action : "";
        bool open = is_open(c->status);
        s->applied = false;
        if (c->received < 0) {
            /* The receipt is the filing step; a case written without one
             * (by hand, or by a tool that knows no better) is taken as
             * received at its first step. */
            c->received = s->t;
            if (strcmp(a, "file") == 0) {
                s->applied = true;
                continue;
            }
        }
        if (strcmp(a, "transfer") == 0 && open && s->to) {
            c->status = ST_TRANSFERRED;
            c->at = s->to;
            if ((c->transfers.size && dc__buf_putc(&c->transfers, ' ')) ||
                dc__buf_puts(&c->transfers, s->to))
                return DC_ENOMEM;
            mark_done(c, D_TRANSFER, s->t);
            s->applied = true;
        } else if ((strcmp(a, "feedback") == 0 || strcmp(a, "reply") == 0) && open) {
            c->status = ST_IN_PROGRESS;
            mark_done(c, D_TRANSFER, s->t);
            mark_done(c, D_FEEDBACK, s->t);
            if (a[0] == 'r')
                mark_done(c, D_REPLY, s->t);
            s->applied = true;
        } else if (strcmp(a, "resolve") == 0 && open) {
            c->status = ST_RESOLVED;
            c->resolved = s->t;
            if (c->first_resolved < 0)
                c->first_resolved = s->t;
            mark_done(c, D_TRANSFER, s->t);
            mark_done(c, D_FEEDBACK, s->t);
            mark_done(c, D_REPLY, s->t);
            s->applied = true;
        } else if (strcmp(a, "revisit") == 0 &&
                   (c->status == ST_RESOLVED || c->status == ST_REVISITED ||
                    (c->status == ST_CLOSED && s->satisfied == 0))) {
            /* An unsatisfied driver reopens the case even when a close
             * crossed the revisit: his answer is the later word. */
            c->revisits++;
            c->satisfied = s->satisfied;
            if (s->satisfied == 1)
                c->satisfied_revisits++;
            if (c->status != ST_CLOSED)
                mark_done(c, D_REVISIT, s->t);
            if (s->satisfied == 0)
                reopen(c);
            else
                c->status = ST_REVISITED;
            s->applied = true;
        } else if (strcmp(a, "reopen") == 0 && !open) {
            reopen(c);
            s->applied = true;
        } else if (strcmp(a, "close") == 0 &&
                   (c->status == ST_RESOLVED || c->status == ST_REVISITED)) {
            c->status = ST_CLOSED;
            s->applied = true;
        } else if (strcmp(a, "handover") == 0 && open && s->to) {
            /* A move of the driver: the case is now at the inflow county's
             * organisation; nobody handled it, so no deadline is met. */
            c->at = s->to;
            s->applied = true;
        }
        /* Anything else (a step that crossed a state change, an unknown
         * action from a later version) stays in the history unapplied. */
    }
    return 0;
}

/* The chain level of an org id: its kind, the part before the first '-'
 * (docs/domain.md: org ids are `<kind>-<code>`, drivers `drv-...`). */
static int put_level(dc_buf *b, const char *at) {
    static const char *const kinds[] = {
        "branch",         "committee",        "joint_meeting", "department", "org_dept",
        "transport_dept", "station_operator", "enterprise",    "operator",   NULL};
    if (!at)
        return dc__buf_puts(b, "null");
    const char *dash = strchr(at, '-');
    size_t n = dash ? (size_t)(dash - at) : 0;
    if (n == 3 && strncmp(at, "drv", 3) == 0)
        return dc__buf_puts(b, "\"party_member_driver\"");
    for (size_t i = 0; kinds[i]; i++)
        if (strlen(kinds[i]) == n && strncmp(at, kinds[i], n) == 0)
            return dc__buf_printf(b, "\"%s\"", kinds[i]);
    return dc__buf_puts(b, "\"org\"");
}

/* The end of the nth working day after `from`, and whether it had to be
 * counted past the years the calendar covers. */
static int64_t workdays(const dc_calendar *cal, int64_t from, int n, bool *est) {
    int64_t due = -1;
    int e = 0;
    if (dc_calendar_due(&due, &e, cal, from, n) != 0)
        return -1;
    *est = e != 0;
    return due;
}

/* The four deadlines (docs/domain.md, "Time and the calendar").  An
 * emergency is received, transferred and handled at once: every deadline
 * is the instant the clock starts (the receipt; the resolution for the
 * return visit). */
static void dues(const cstate *c, const dc_calendar *cal, int64_t due[D_COUNT], bool est[D_COUNT]) {
    for (int k = 0; k < D_COUNT; k++) {
        due[k] = -1;
        est[k] = false;
    }
    if (c->received < 0)
        return;
    if (c->emergency) {
        due[D_TRANSFER] = due[D_FEEDBACK] = due[D_REPLY] = c->received;
        due[D_REVISIT] = c->resolved;
        return;
    }
    due[D_TRANSFER] = c->received + 2 * HOUR_MS;
    due[D_FEEDBACK] = workdays(cal, c->received, 2, &est[D_FEEDBACK]);
    due[D_REPLY] = workdays(cal, c->received, 5, &est[D_REPLY]);
    if (c->resolved >= 0)
        due[D_REVISIT] = workdays(cal, c->resolved, 2, &est[D_REVISIT]);
}

/* ---- output ---- */

static int put_str(dc_buf *b, const char *s) {
    return s ? dc__json_str(b, s, strlen(s)) : dc__buf_puts(b, "null");
}

int dc__case_json_time(dc_buf *b, int64_t ms) {
    if (ms < 0)
        return dc__buf_puts(b, "null");
    dc_buf t = DC_BUF_INIT;
    int rc = dc_time_cst(&t, ms) || dc__buf_printf(b, "\"%s\"", (const char *)t.ptr);
    dc_buf_dispose(&t);
    return rc;
}

static int put_ms(dc_buf *b, int64_t ms) {
    return ms < 0 ? dc__buf_puts(b, "null") : dc__buf_printf(b, "%lld", (long long)ms);
}

static int put_tri(dc_buf *b, int v) {
    return dc__buf_puts(b, v < 0 ? "null" : v ? "true" : "false");
}

/* Whether a `driver` record with this id exists in a space held: the link
 * from a hotline case to the registry appears as soon as the record does.
 * One query over every space held, since a driver may be kept in any part
 * of the registry (docs/domain.md, "Registry spaces"). */
static int driver_known(dc_replica *r, const char *driver, const char *only, bool *known) {
    (void)only;
    *known = false;
    if (!driver)
        return 0;
    char where[33];
    int rc = dc_record_locate(r, "driver", driver, where);
    if (rc == DC_ENOTFOUND)
        return 0;
    *known = rc == 0;
    return rc;
}

/* ,"warnings":[...]: a line per deadline counted past the calendar's years,
 * so an estimate is never shown as if it were known. */
static int put_warnings(dc_buf *b, const dc_calendar *cal, const int64_t due[D_COUNT],
                        const bool est[D_COUNT]) {
    int first = 0, last = 0, rc = dc__buf_puts(b, ",\"warnings\":[");
    bool any = false;
    if (cal)
        dc_calendar_years(cal, &first, &last);
    for (int k = 0; k < D_COUNT && !rc; k++) {
        if (!est[k] || due[k] < 0)
            continue;
        /* The instant printed in "due", and the year of the day it ends
         * (the instant is 00:00 of the day after). */
        char when[40], day[16], msg[400];
        dc_buf t = DC_BUF_INIT;
        if (dc_time_cst(&t, due[k]) != 0) {
            dc_buf_dispose(&t);
            return DC_ENOMEM;
        }
        snprintf(when, sizeof when, "%s", (const char *)t.ptr);
        if (dc_time_cst(&t, due[k] - 1) != 0) {
            dc_buf_dispose(&t);
            return DC_ENOMEM;
        }
        snprintf(day, sizeof day, "%.10s", (const char *)t.ptr);
        dc_buf_dispose(&t);
        snprintf(msg, sizeof msg,
                 "the %s deadline (%s) is counted past the years the holiday calendar covers "
                 "(%d-%d) as plain weekdays: it is an estimate until the %.4s schedule is "
                 "published (drivercore calendar publish)",
                 due_names[k], when, first, last, day);
        rc = (any && dc__buf_putc(b, ',')) || dc__json_str(b, msg, strlen(msg));
        any = true;
    }
    return rc || dc__buf_putc(b, ']');
}

static int render(dc_buf *out, const cstate *c, const dc_calendar *cal, bool known) {
    dc_buf b = DC_BUF_INIT;
    int64_t due[D_COUNT];
    bool est[D_COUNT];
    dues(c, cal, due, est);
    int rc = dc__buf_puts(&b, "{\"case\":") || put_str(&b, c->id) ||
             dc__buf_printf(&b, ",\"space\":\"%s\",\"driver\":", c->space) ||
             put_str(&b, c->driver) ||
             dc__buf_printf(&b, ",\"driver_known\":%s,\"channel\":", known ? "true" : "false") ||
             put_str(&b, c->channel) || dc__buf_puts(&b, ",\"category\":") ||
             put_str(&b, c->category) || dc__buf_puts(&b, ",\"text\":") || put_str(&b, c->text) ||
             dc__buf_printf(&b, ",\"emergency\":%s,\"region\":", c->emergency ? "true" : "false") ||
             put_str(&b, c->region) || dc__buf_puts(&b, ",\"received\":") ||
             dc__case_json_time(&b, c->received) ||
             dc__buf_printf(&b, ",\"status\":\"%s\",\"at\":", status_names[c->status]) ||
             put_str(&b, c->at) || dc__buf_puts(&b, ",\"level\":") || put_level(&b, c->at) ||
             dc__buf_puts(&b, ",\"resolved\":") || dc__case_json_time(&b, c->resolved) ||
             dc__buf_puts(&b, ",\"satisfied\":") || put_tri(&b, c->satisfied) ||
             dc__buf_printf(&b, ",\"reopened\":%d,\"due\":{", c->reopened);
    for (int k = 0; k < D_COUNT && !rc; k++)
        rc = dc__buf_printf(&b, "%s\"%s\":", k ? "," : "", due_names[k]) ||
             dc__case_json_time(&b, due[k]);
    rc = rc || dc__buf_puts(&b, "},\"on_time\":{");
    for (int k = 0; k < D_COUNT && !rc; k++) {
        int v = c->done[k] < 0 || due[k] < 0 ? -1 : c->done[k] <= due[k];
        rc = dc__buf_printf(&b, "%s\"%s\":", k ? "," : "", due_names[k]) || put_tri(&b, v);
    }
    rc = rc || dc__buf_puts(&b, "},\"steps\":[");
    for (size_t i = 0; i < c->nsteps && !rc; i++) {
        const step *s = &c->steps[i];
        rc = dc__buf_puts(&b, i ? ",{\"action\":" : "{\"action\":") || put_str(&b, s->action) ||
             dc__buf_puts(&b, ",\"to\":") || put_str(&b, s->to) || dc__buf_puts(&b, ",\"note\":") ||
             put_str(&b, s->note) || dc__buf_puts(&b, ",\"satisfied\":") ||
             put_tri(&b, s->satisfied) || dc__buf_puts(&b, ",\"author\":") ||
             put_str(&b, s->author) || dc__buf_puts(&b, ",\"time\":") ||
             dc__case_json_time(&b, s->t) ||
             dc__buf_printf(&b, ",\"applied\":%s}", s->applied ? "true" : "false");
    }
    rc = rc || dc__buf_puts(&b, "],\"amount\":") ||
         (c->has_amount ? dc__buf_printf(&b, "%lld", (long long)c->amount)
                        : dc__buf_puts(&b, "null")) ||
         dc__buf_puts(&b, ",\"routed\":") || put_str(&b, c->routed) ||
         put_warnings(&b, cal, due, est) || dc__buf_putc(&b, '}');
    if (rc) {
        dc_buf_dispose(&b);
        return DC_ENOMEM;
    }
    dc__buf_move(out, &b);
    return 0;
}

static int show_loaded(dc_buf *out, dc_replica *r, cstate *c, const dc_calendar *cal,
                       const char *registry) {
    bool known;
    int rc = fold(c);
    if (rc)
        return dc__model_fail(r, rc, "case: out of memory");
    if ((rc = driver_known(r, c->driver, registry, &known)) != 0)
        return rc;
    if (render(out, c, cal, known))
        return dc__model_fail(r, DC_ENOMEM, "case: out of memory");
    return 0;
}

/* Reads the case (from `space`, or any space held when NULL) and renders
 * it, every read in one read snapshot (dc_replica_read_begin). */
static int show_case(dc_buf *out, dc_replica *r, const char *space, const char *case_id,
                     const dc_calendar *cal, const char *registry) {
    bool snap = false;
    int rc = dc__dom_read_begin(r, &snap);
    if (!rc) {
        cstate c;
        rc = load_case(&c, r, space, case_id);
        if (!rc)
            rc = show_loaded(out, r, &c, cal, registry);
        cstate_dispose(&c);
    }
    dc__dom_read_end(r, snap);
    return rc;
}

int dc_case_show(dc_buf *out, dc_replica *r, const char *case_id, const dc_calendar *cal) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_show: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_show: out is NULL");
    return show_case(out, r, NULL, case_id, cal, NULL);
}

int dc_case_summary(dc_buf *out, dc_replica *r, const char *space, const char *case_id,
                    const dc_calendar *cal) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_summary: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_summary: out is NULL");
    cstate c;
    int rc = load_case(&c, r, space, case_id);
    if (!rc && fold(&c))
        rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
    if (!rc) {
        int64_t due[D_COUNT];
        bool est[D_COUNT];
        dc_buf b = DC_BUF_INIT;
        dues(&c, cal, due, est);
        int e =
            dc__buf_puts(&b, "{\"case\":") || put_str(&b, c.id) ||
            dc__buf_printf(&b, ",\"space\":\"%s\",\"driver\":", c.space) || put_str(&b, c.driver) ||
            dc__buf_puts(&b, ",\"channel\":") || put_str(&b, c.channel) ||
            dc__buf_puts(&b, ",\"category\":") || put_str(&b, c.category) ||
            dc__buf_printf(&b, ",\"emergency\":%s,\"region\":", c.emergency ? "true" : "false") ||
            put_str(&b, c.region) ||
            dc__buf_printf(&b, ",\"status\":\"%s\",\"at\":", status_names[c.status]) ||
            put_str(&b, c.at) || dc__buf_puts(&b, ",\"level\":") || put_level(&b, c.at) ||
            dc__buf_puts(&b, ",\"transfers\":") ||
            put_str(&b, c.transfers.size ? (const char *)c.transfers.ptr : "") ||
            dc__buf_puts(&b, ",\"received_ms\":") || put_ms(&b, c.received) ||
            dc__buf_puts(&b, ",\"resolved_ms\":") || put_ms(&b, c.resolved) ||
            dc__buf_puts(&b, ",\"first_resolved_ms\":") || put_ms(&b, c.first_resolved) ||
            dc__buf_printf(&b, ",\"revisits\":%d,\"satisfied_revisits\":%d,\"reopened\":%d",
                           c.revisits, c.satisfied_revisits, c.reopened);
        for (int k = 0; k < D_COUNT && !e; k++)
            e = dc__buf_printf(&b, ",\"due_%s_ms\":", due_names[k]) || put_ms(&b, due[k]);
        for (int k = 0; k < D_COUNT && !e; k++)
            e = dc__buf_printf(&b, ",\"done_%s_ms\":", due_names[k]) || put_ms(&b, c.done[k]);
        e = e || dc__buf_puts(&b, ",\"amount\":") ||
            (c.has_amount ? dc__buf_printf(&b, "%lld", (long long)c.amount)
                          : dc__buf_puts(&b, "null")) ||
            dc__buf_puts(&b, ",\"routed\":") || put_str(&b, c.routed) ||
            dc__buf_puts(&b, ",\"estimated\":\"");
        for (int k = 0, n = 0; k < D_COUNT && !e; k++)
            if (est[k] && due[k] >= 0)
                e = dc__buf_printf(&b, "%s%s", n++ ? " " : "", due_names[k]);
        e = e || dc__buf_puts(&b, "\"}");
        if (e) {
            dc_buf_dispose(&b);
            rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
        } else {
            dc__buf_move(out, &b);
        }
    }
    cstate_dispose(&c);
    return rc;
}

/* ---- writing ---- */

/* The registry's lookup hash of an identity number (docs/domain.md,
 * "Sensitive values"): BLAKE2b-256 keyed with the registry's lookup key
 * over the number upper-cased with spaces removed.  The key lives in
 * guarded memory and is wiped before return. */
static int caller_hash(dc_replica *r, const char *registry, const char *number, char hex[65]) {
    size_t n = strlen(number);
    char *norm = dc__malloc(n + 1);
    uint8_t *key = dc__secret_alloc(32);
    uint8_t h[32];
    size_t m = 0;
    int rc = 0;
    if (!norm || !key) {
        rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = number[i];
        if (ch == ' ' || ch == '\t')
            continue;
        norm[m++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
    }
    if (m == 0) {
        rc = dc__model_fail(r, DC_EINVAL, "case: the caller's identity number is empty");
        goto out;
    }
    if ((rc = dc__registry_subkey(r, registry, "drivercore lookup v1", key)) != 0)
        goto out;
    crypto_generichash(h, sizeof h, (const uint8_t *)norm, m, key, 32);
    dc__hex(hex, h, sizeof h);
out:
    if (norm) {
        sodium_memzero(norm, n + 1);
        dc__free(norm);
    }
    if (key)
        dc__secret_free(key);
    sodium_memzero(h, sizeof h);
    return rc;
}

/* Files the case (dc_case_file without its output): `id` receives its id. */
static int file_case(char id[16], dc_replica *r, const char *space, const dc_case_options *o) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_file: the replica handle is NULL");
    if (!space || !o)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_file: space and options must not be NULL");
    if (o->version != 1 && o->version != DC_CASE_OPTIONS_VERSION)
        return dc__model_fail(r, DC_EINVAL, "dc_case_file: options version %u is not 1 or %d",
                              o->version, DC_CASE_OPTIONS_VERSION);
    /* Version 1 ends at `region`: the later fields are not there to read. */
    int64_t amount = o->version >= 2 ? o->amount : 0;
    int route = o->version >= 2 ? o->route : 0;
    if (amount < 0)
        return dc__model_fail(r, DC_EINVAL, "case: the amount must be whole yuan, 0 or more");
    if (!dc__org_in_list(o->channel, channels))
        return dc__model_fail(r, DC_EINVAL,
                              "case: channel '%.40s' is not one of 12328, "
                              "12345, group, station, app",
                              o->channel ? o->channel : "");
    if (dc__case_check_id(r, "category", o->category) ||
        (o->driver && dc__case_check_id(r, "driver id", o->driver)) ||
        (o->region && dc__case_check_id(r, "region", o->region)))
        return DC_EINVAL;
    if (!o->text || !*o->text)
        return dc__model_fail(r, DC_EINVAL,
                              "case: the text is empty: say what the driver "
                              "asks for");
    if (o->caller_id_number && !o->registry)
        return dc__model_fail(r, DC_EINVAL,
                              "case: a caller's identity number needs the "
                              "registry space to hash it in");

    char hash[65] = "", driver[64] = "";
    int rc;
    if (o->caller_id_number) {
        /* The registry checks the number (length, GB 11643 check digit) and
         * gives its driver id, so the link is the registry's own; the full
         * lookup hash is kept beside it for a later match. */
        dc_buf did = DC_BUF_INIT;
        rc = dc_registry_driver_id(&did, r, o->registry, o->caller_id_number);
        if (!rc)
            snprintf(driver, sizeof driver, "%s", (const char *)did.ptr);
        dc_buf_dispose(&did);
        if (rc || (rc = caller_hash(r, o->registry, o->caller_id_number, hash)) != 0)
            return rc;
        if (strncmp(driver + 4, hash, strlen(driver) - 4) != 0)
            return dc__model_fail(r, DC_ERROR,
                                  "case: the registry's driver id and the "
                                  "caller's lookup hash disagree");
    }
    const char *drv = o->driver ? o->driver : (driver[0] ? driver : NULL);
    char level[32] = "", to[DC__CASE_TEXT] = "";
    const char *rule = NULL;
    if (route) {
        if (!o->region)
            return dc__model_fail(r, DC_EINVAL,
                                  "case: routing by level (分级分办) needs the county the case "
                                  "belongs to (region)");
        if ((rc = dc__case_route_of(r, o->category, amount, o->emergency, o->region, drv, level, to,
                                    &rule)) != 0)
            return rc;
        if (!to[0])
            return dc__model_fail(r, DC_EINVAL,
                                  "case: region '%.20s' names no county to route the case in",
                                  o->region);
    }

    uint8_t nonce[6];
    memcpy(id, "gr-", 3);
    randombytes_buf(nonce, sizeof nonce);
    dc__hex(id + 3, nonce, sizeof nonce);

    dc_txn *t = NULL;
    if ((rc = dc_txn_begin(&t, r, space)) != 0)
        return rc;
    rc = dc_txn_set(t, "case", id, "driver", drv ? DC_STR : DC_NULL, 0, drv);
    if (!rc)
        rc = dc_txn_set(t, "case", id, "caller_id_hash", hash[0] ? DC_STR : DC_NULL, 0,
                        hash[0] ? hash : NULL);
    if (!rc)
        rc = dc_txn_set(t, "case", id, "channel", DC_STR, 0, o->channel);
    if (!rc)
        rc = dc_txn_set(t, "case", id, "category", DC_STR, 0, o->category);
    if (!rc)
        rc = dc_txn_set(t, "case", id, "text", DC_STR, 0, o->text);
    if (!rc)
        rc = dc_txn_set(t, "case", id, "emergency", DC_BOOL, o->emergency != 0, NULL);
    if (!rc)
        rc = dc_txn_set(t, "case", id, "region", o->region ? DC_STR : DC_NULL, 0, o->region);
    if (!rc && amount > 0)
        rc = dc_txn_set(t, "case", id, "amount", DC_INT, amount, NULL);
    /* The filing step: its "@time" is the receipt, on the replica's clock. */
    if (!rc)
        rc = dc_txn_event(t, "case", id);
    if (!rc)
        rc = dc_txn_event_field(t, "action", DC_STR, 0, "file");
    /* Routed: the transfer to its level in the same transaction, so at the
     * same instant as the receipt ("at once"). */
    if (!rc && route) {
        char note[300];
        snprintf(note, sizeof note, "分级分办: %s", rule);
        if (!(rc = dc_txn_set(t, "case", id, "routed", DC_STR, 0, level)) &&
            !(rc = dc_txn_event(t, "case", id)) &&
            !(rc = dc_txn_event_field(t, "action", DC_STR, 0, "transfer")) &&
            !(rc = dc_txn_event_field(t, "to", DC_STR, 0, to)) &&
            !(rc = dc_txn_event_field(t, "note", DC_STR, 0, note)))
            rc = dc_txn_event_field(t, "satisfied", DC_NULL, 0, NULL);
    }
    if (rc) {
        dc_txn_rollback(t);
        return rc;
    }
    return dc_txn_commit(t, NULL);
}

int dc_case_file(dc_buf *out, dc_replica *r, const char *space, const dc_case_options *o,
                 const dc_calendar *cal) {
    char id[16];
    int rc = file_case(id, r, space, o);
    if (rc || !out)
        return rc;
    return show_case(out, r, space, id, cal, o->driver ? NULL : o->registry);
}

int dc_case_file_info(dc_case_info *out, dc_replica *r, const char *space, const dc_case_options *o,
                      const dc_calendar *cal) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_file_info: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_file_info: out must not be NULL");
    if (out->version != DC_CASE_INFO_VERSION)
        return dc__model_fail(r, DC_EINVAL, "dc_case_file_info: info version %u is not %d",
                              out->version, DC_CASE_INFO_VERSION);
    char id[16];
    int rc = file_case(id, r, space, o);
    return rc ? rc : dc_case_get(r, space, id, cal, out);
}

/* Refuses a step that makes no sense in the state this replica sees, so a
 * handler learns at once; steps that cross offline are the fold's job. */
static int check_step(dc_replica *r, const cstate *c, const char *action) {
    const char *st = status_names[c->status];
    if (c->status == ST_CLOSED && strcmp(action, "reopen") != 0)
        return dc__model_fail(r, DC_EINVAL, "case %s is closed: reopen it before a %s", c->id,
                              action);
    if ((strcmp(action, "transfer") == 0 || strcmp(action, "feedback") == 0 ||
         strcmp(action, "reply") == 0 || strcmp(action, "resolve") == 0) &&
        !is_open(c->status))
        return dc__model_fail(r, DC_EINVAL, "case %s is %s: reopen it before a %s", c->id, st,
                              action);
    if ((strcmp(action, "revisit") == 0 || strcmp(action, "close") == 0) &&
        c->status != ST_RESOLVED && c->status != ST_REVISITED)
        return dc__model_fail(r, DC_EINVAL,
                              "case %s is %s: a %s follows a resolution "
                              "(resolve it first)",
                              c->id, st, action);
    if (strcmp(action, "reopen") == 0 && is_open(c->status))
        return dc__model_fail(r, DC_EINVAL,
                              "case %s is still open (%s): there is nothing to "
                              "reopen",
                              c->id, st);
    return 0;
}

int dc_case_step(dc_buf *out, dc_replica *r, const char *case_id, const char *action,
                 const char *to, const char *note, int satisfied, const dc_calendar *cal) {
    return dc_case_step_in(out, r, NULL, case_id, action, to, note, satisfied, cal);
}

int dc_case_step_in(dc_buf *out, dc_replica *r, const char *space, const char *case_id,
                    const char *action, const char *to, const char *note, int satisfied,
                    const dc_calendar *cal) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_step: the replica handle is NULL");
    if (!dc__org_in_list(action, actions))
        return dc__model_fail(r, DC_EINVAL,
                              "case: action '%.40s' is not one of transfer, "
                              "feedback, reply, resolve, revisit, reopen, close",
                              action ? action : "");
    bool transfer = strcmp(action, "transfer") == 0, revisit = strcmp(action, "revisit") == 0;
    if (transfer && dc__case_check_id(r, "organisation to transfer to", to))
        return DC_EINVAL;
    if (!transfer && to)
        return dc__model_fail(r, DC_EINVAL,
                              "case: only a transfer goes to an organisation, "
                              "not a %s",
                              action);
    if (revisit && satisfied != 0 && satisfied != 1)
        return dc__model_fail(r, DC_EINVAL,
                              "case: a return visit records whether the driver "
                              "is satisfied (yes or no)");
    if (!revisit && satisfied != -1)
        return dc__model_fail(r, DC_EINVAL,
                              "case: only a return visit records satisfaction, "
                              "not a %s",
                              action);
    if (note && !dc__utf8_valid((const uint8_t *)note, strlen(note)))
        return dc__model_fail(r, DC_EINVAL, "case: the note is not valid UTF-8");

    /* The reads before the write in one read snapshot, ended before the
     * commit. */
    cstate c;
    bool snap = false;
    memset(&c, 0, sizeof c);
    int rc = dc__dom_read_begin(r, &snap);
    if (!rc)
        rc = load_case(&c, r, space, case_id);
    if (!rc && fold(&c))
        rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
    if (!rc)
        rc = check_step(r, &c, action);
    dc_txn *t = NULL;
    if (!rc)
        rc = dc_txn_begin(&t, r, c.space);
    dc__dom_read_end(r, snap);
    if (!rc) {
        rc = dc_txn_event(t, "case", c.id);
        if (!rc)
            rc = dc_txn_event_field(t, "action", DC_STR, 0, action);
        if (!rc)
            rc = dc_txn_event_field(t, "to", to ? DC_STR : DC_NULL, 0, to);
        if (!rc)
            rc = dc_txn_event_field(t, "note", note ? DC_STR : DC_NULL, 0, note);
        if (!rc)
            rc = dc_txn_event_field(t, "satisfied", satisfied < 0 ? DC_NULL : DC_BOOL,
                                    satisfied > 0, NULL);
        if (rc)
            dc_txn_rollback(t);
        else
            rc = dc_txn_commit(t, NULL);
    }
    char held[33];
    snprintf(held, sizeof held, "%s", c.space);
    cstate_dispose(&c);
    if (rc || !out)
        return rc;
    return show_case(out, r, held, case_id, cal, NULL);
}

int dc_case_amount(dc_buf *out, dc_replica *r, const char *case_id, int64_t yuan,
                   const dc_calendar *cal) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_amount: the replica handle is NULL");
    if (yuan < 0)
        return dc__model_fail(r, DC_EINVAL, "case: the amount must be whole yuan, 0 or more");
    cstate c;
    bool snap = false;
    memset(&c, 0, sizeof c);
    int rc = dc__dom_read_begin(r, &snap);
    if (!rc)
        rc = load_case(&c, r, NULL, case_id);
    dc_txn *t = NULL;
    if (!rc)
        rc = dc_txn_begin(&t, r, c.space);
    dc__dom_read_end(r, snap);
    if (!rc) {
        rc = yuan ? dc_txn_set(t, "case", c.id, "amount", DC_INT, yuan, NULL)
                  : dc_txn_set(t, "case", c.id, "amount", DC_NULL, 0, NULL);
        if (rc)
            dc_txn_rollback(t);
        else
            rc = dc_txn_commit(t, NULL);
    }
    char space[33];
    snprintf(space, sizeof space, "%s", c.space);
    cstate_dispose(&c);
    if (rc || !out)
        return rc;
    return show_case(out, r, space, case_id, cal, NULL);
}

/* ---- the fold for the rest of the model (grievance_int.h) ---- */

bool dc__case_open(int status) {
    return is_open(status);
}

const char *dc__case_status_name(int status) {
    return status >= 0 && status <= ST_CLOSED ? status_names[status] : "received";
}

void dc__case_facts_dispose(dc__case_facts *f) {
    dc_buf_dispose(&f->transfers);
}

static void copy_text(char out[DC__CASE_TEXT], const char *s) {
    snprintf(out, DC__CASE_TEXT, "%s", s ? s : "");
}

/* The level name of an org id, as `case show` prints it ("" for none). */
static void level_name(char out[32], const char *at) {
    dc_buf b = DC_BUF_INIT;
    out[0] = 0;
    if (at && put_level(&b, at) == 0 && b.size >= 2 && b.ptr[0] == '"')
        snprintf(out, 32, "%.*s", (int)(b.size - 2), (const char *)b.ptr + 1);
    dc_buf_dispose(&b);
}

int dc__case_facts_of(dc__case_facts *f, dc_replica *r, const dc_record *rec,
                      const dc_calendar *cal) {
    cstate c;
    memset(&c, 0, sizeof c);
    c.r = r;
    dc_buf keep = f->transfers;
    memset(f, 0, sizeof *f);
    f->transfers = keep;
    dc__buf_clear(&f->transfers);
    int rc = case_record(&c, rec);
    if (!rc && fold(&c))
        rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
    if (!rc) {
        bool est[D_COUNT];
        copy_text(f->id, c.id);
        copy_text(f->driver, c.driver);
        copy_text(f->channel, c.channel);
        copy_text(f->category, c.category);
        copy_text(f->region, c.region);
        copy_text(f->at, c.at);
        snprintf(f->routed, sizeof f->routed, "%s", c.routed ? c.routed : "");
        level_name(f->level, c.at);
        f->emergency = c.emergency != 0;
        f->has_amount = c.has_amount;
        f->amount = c.amount;
        f->status = c.status;
        f->received = c.received;
        f->resolved = c.resolved;
        dues(&c, cal, f->due, est);
        for (int k = 0; k < D_COUNT; k++) {
            f->done[k] = c.done[k];
            f->estimated[k] = est[k];
        }
        f->revisits = c.revisits;
        f->satisfied_revisits = c.satisfied_revisits;
        f->reopened = c.reopened;
        if (c.transfers.size && dc__buf_put(&f->transfers, c.transfers.ptr, c.transfers.size))
            rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
    }
    cstate_dispose(&c);
    return rc;
}

/* ---- a moving driver's open cases ---- */

typedef struct hand_ctx {
    dc_replica *r;
    const char *driver, *space;
    char (*sp)[33];
    char (*id)[DC__CASE_TEXT];
    size_t n, cap;
} hand_ctx;

static int hand_case(void *user, const dc_record *rec) {
    hand_ctx *h = user;
    if (!dc__org_rec_is(rec, "driver", h->driver))
        return 0;
    cstate c;
    memset(&c, 0, sizeof c);
    c.r = h->r;
    int rc = case_record(&c, rec);
    if (!rc && fold(&c))
        rc = dc__model_fail(h->r, DC_ENOMEM, "case: out of memory");
    bool open = !rc && is_open(c.status);
    cstate_dispose(&c);
    if (rc || !open)
        return rc;
    /* Two arrays of one capacity: each grows from the same one, and the
     * capacity moves only when both have. */
    size_t csp = h->cap, cid = h->cap;
    if (DC__VEC_ROOM(h->sp, h->n, csp) || DC__VEC_ROOM(h->id, h->n, cid))
        return dc__model_fail(h->r, DC_ENOMEM, "case: out of memory");
    h->cap = csp;
    snprintf(h->sp[h->n], 33, "%s", h->space);
    snprintf(h->id[h->n], DC__CASE_TEXT, "%s", dc_record_id(rec));
    h->n++;
    return 0;
}

static int hand_space(void *user, const char *hex) {
    hand_ctx *h = user;
    h->space = hex;
    return dc__dom_each(h->r, hex, "case", NULL, hand_case, h);
}

int dc__case_handover(dc_replica *r, const char *driver, const char *county, const char *from,
                      dc_buf *handed, dc_buf *left) {
    hand_ctx h;
    memset(&h, 0, sizeof h);
    h.r = r;
    h.driver = driver;
    /* Collected first, written after: no write while a walk is open. */
    int rc = dc_space_each(r, hand_space, &h);
    char to[DC__CASE_TEXT], note[200];
    if (!rc)
        rc = dc__case_org_of(r, "committee", county, to);
    snprintf(note, sizeof note, "司机流动：从%s转入%s，诉求随人移交", from ? from : "原地区",
             county);
    for (size_t i = 0; i < h.n && !rc; i++) {
        dc_txn *t = NULL;
        int w = dc_txn_begin(&t, r, h.sp[i]);
        if (!w) {
            if (!(w = dc_txn_set(t, "case", h.id[i], "region", DC_STR, 0, county)) &&
                !(w = dc_txn_event(t, "case", h.id[i])) &&
                !(w = dc_txn_event_field(t, "action", DC_STR, 0, "handover")) &&
                !(w = dc_txn_event_field(t, "to", DC_STR, 0, to)) &&
                !(w = dc_txn_event_field(t, "note", DC_STR, 0, note)))
                w = dc_txn_event_field(t, "satisfied", DC_NULL, 0, NULL);
            w = w ? (dc_txn_rollback(t), w) : dc_txn_commit(t, NULL);
        }
        dc_buf *into = w ? left : handed;
        if (w == DC_ENOMEM || w == DC_EIO)
            rc = w;
        else if ((into->size && dc__buf_putc(into, ',')) ||
                 dc__json_str(into, h.id[i], strlen(h.id[i])))
            rc = dc__model_fail(r, DC_ENOMEM, "case: out of memory");
    }
    dc__free(h.sp);
    dc__free(h.id);
    return rc;
}
