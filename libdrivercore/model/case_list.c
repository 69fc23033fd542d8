/*
 * model/case_list.c — the desks' daily view (dc_case_list): the cases of
 * the spaces held, filtered by status and level, each with its earliest
 * pending deadline and the deadlines it has missed, as the fold of
 * grievance.c gives them (dc__case_facts_of), printed as JSON in the order
 * a desk works them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/grievance_int.h"
#include "model/org_int.h"
#include "model/registry_int.h"
#include "model/read.h"

/* ---- the desks' daily view ---- */

typedef struct listed_case {
    dc__case_facts f;
    char space[33];
    int next;         /* the earliest pending deadline, or -1 */
    unsigned overdue; /* bit k: deadline k is pending and past */
} listed_case;

typedef struct list_ctx {
    dc_replica *r;
    const dc_case_list_options *o;
    const dc_calendar *cal;
    int64_t now;
    const char *space;
    listed_case *v;
    size_t n, cap;
} list_ctx;

/* A deadline is pending while it applies and has not been met: the revisit
 * only while the case stands resolved (or revisited), the others while
 * nothing has met them. */
static bool pending(const dc__case_facts *f, int k) {
    if (f->due[k] < 0 || f->done[k] >= 0)
        return false;
    if (k == DC__DL_REVISIT)
        return f->status == DC__CASE_RESOLVED;
    return dc__case_open(f->status);
}

/* One of the six statuses of a case. */
static bool known_status(const char *s) {
    for (int k = DC__CASE_RECEIVED; k <= DC__CASE_CLOSED; k++)
        if (strcmp(s, dc__case_status_name(k)) == 0)
            return true;
    return false;
}

static bool want_status(const dc_case_list_options *o, int status) {
    if (!o || o->nstatuses == 0)
        return true;
    for (size_t i = 0; i < o->nstatuses; i++)
        if (strcmp(o->statuses[i], dc__case_status_name(status)) == 0 ||
            (strcmp(o->statuses[i], "open") == 0 && dc__case_open(status)))
            return true;
    return false;
}

static bool want_level(const dc_case_list_options *o, const char *level) {
    if (!o || o->nlevels == 0)
        return true;
    for (size_t i = 0; i < o->nlevels; i++)
        if (strcmp(o->levels[i], level[0] ? level : "none") == 0)
            return true;
    return false;
}

static int list_case(void *user, const dc_record *rec) {
    list_ctx *x = user;
    if (DC__VEC_ROOM(x->v, x->n, x->cap))
        return dc__model_fail(x->r, DC_ENOMEM, "case list: out of memory");
    listed_case *l = &x->v[x->n];
    memset(l, 0, sizeof *l);
    int rc = dc__case_facts_of(&l->f, x->r, rec, x->cal);
    if (rc) {
        dc__case_facts_dispose(&l->f);
        return rc;
    }
    snprintf(l->space, sizeof l->space, "%s", x->space);
    l->next = -1;
    for (int k = 0; k < DC__DL_N; k++) {
        if (!pending(&l->f, k))
            continue;
        if (l->next < 0 || l->f.due[k] < l->f.due[l->next])
            l->next = k;
        if (l->f.due[k] < x->now)
            l->overdue |= 1u << k;
    }
    const dc_case_list_options *o = x->o;
    bool keep = want_status(o, l->f.status) && want_level(o, l->f.level) &&
                (!o || !o->overdue || l->overdue) &&
                (!o || !o->due_before_ms || (l->next >= 0 && l->f.due[l->next] < o->due_before_ms));
    if (!keep) {
        dc__case_facts_dispose(&l->f);
        return 0;
    }
    x->n++;
    return 0;
}

static int listed_cmp(const void *a, const void *b) {
    const listed_case *x = a, *y = b;
    if ((x->next >= 0) != (y->next >= 0))
        return x->next >= 0 ? -1 : 1;
    int64_t tx = x->next >= 0 ? x->f.due[x->next] : x->f.received;
    int64_t ty = y->next >= 0 ? y->f.due[y->next] : y->f.received;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->f.id, y->f.id);
}

static int list_spaces(void *user, const char *hex) {
    list_ctx *x = user;
    x->space = hex;
    return dc__dom_each(x->r, hex, "case", NULL, list_case, x);
}

static int put_text(dc_buf *b, const char *s) {
    return dc__org_jstr(b, s && *s ? s : NULL);
}

static int put_listed(dc_buf *b, const listed_case *l) {
    const dc__case_facts *f = &l->f;
    int rc = dc__buf_puts(b, "{\"case\":") || put_text(b, f->id) ||
             dc__buf_printf(b, ",\"space\":\"%s\",\"driver\":", l->space) ||
             put_text(b, f->driver) || dc__buf_puts(b, ",\"channel\":") ||
             put_text(b, f->channel) || dc__buf_puts(b, ",\"category\":") ||
             put_text(b, f->category) ||
             dc__buf_printf(b, ",\"emergency\":%s,\"region\":", f->emergency ? "true" : "false") ||
             put_text(b, f->region) || dc__buf_puts(b, ",\"amount\":") ||
             (f->has_amount ? dc__buf_printf(b, "%lld", (long long)f->amount)
                            : dc__buf_puts(b, "null")) ||
             dc__buf_printf(b, ",\"status\":\"%s\",\"at\":", dc__case_status_name(f->status)) ||
             put_text(b, f->at) || dc__buf_puts(b, ",\"level\":") || put_text(b, f->level) ||
             dc__buf_puts(b, ",\"received\":") || dc__case_json_time(b, f->received) ||
             dc__buf_puts(b, ",\"next\":");
    if (!rc && l->next >= 0)
        rc = dc__buf_printf(b, "{\"deadline\":\"%s\",\"due\":", dc__case_deadline_names[l->next]) ||
             dc__case_json_time(b, f->due[l->next]) ||
             dc__buf_printf(b, ",\"overdue\":%s,\"estimated\":%s}",
                            (l->overdue >> l->next) & 1 ? "true" : "false",
                            f->estimated[l->next] ? "true" : "false");
    else if (!rc)
        rc = dc__buf_puts(b, "null");
    rc = rc || dc__buf_puts(b, ",\"overdue\":[");
    for (int k = 0, n = 0; k < DC__DL_N && !rc; k++)
        if ((l->overdue >> k) & 1)
            rc = dc__buf_printf(b, "%s\"%s\"", n++ ? "," : "", dc__case_deadline_names[k]);
    return rc || dc__buf_puts(b, "]}");
}

int dc_case_list(dc_buf *out, dc_replica *r, const dc_case_list_options *o,
                 const dc_calendar *cal) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_list: the replica handle is NULL");
    if (!out)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_list: out is NULL");
    if (o && o->version != DC_CASE_LIST_OPTIONS_VERSION)
        return dc__model_fail(r, DC_EINVAL, "case list: options version %u is not %d", o->version,
                              DC_CASE_LIST_OPTIONS_VERSION);
    if (o && ((o->nstatuses && !o->statuses) || (o->nlevels && !o->levels)))
        return dc__model_fail(r, DC_EMISUSE, "case list: a filter list is NULL");
    for (size_t i = 0; o && i < o->nstatuses; i++)
        if (!o->statuses[i] ||
            (strcmp(o->statuses[i], "open") != 0 && !known_status(o->statuses[i])))
            return dc__model_fail(r, DC_EINVAL,
                                  "case list: status '%.40s' is not one of open, received, "
                                  "transferred, in_progress, resolved, revisited, closed",
                                  o->statuses[i] ? o->statuses[i] : "");
    for (size_t i = 0; o && i < o->nlevels; i++)
        if (!o->levels[i] || !*o->levels[i])
            return dc__model_fail(r, DC_EINVAL, "case list: a level is empty");
    list_ctx x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.o = o;
    x.cal = cal;
    if (o && o->now_ms) {
        x.now = o->now_ms;
    } else {
        dc__clock system;
        memset(&system, 0, sizeof system);
        x.now = dc__clock_wall_ms(&system);
    }
    int rc;
    if (o && o->space) {
        rc = list_spaces(&x, o->space);
    } else {
        rc = dc_space_each(r, list_spaces, &x);
    }
    dc_buf b = DC_BUF_INIT;
    if (!rc) {
        if (x.n > 1)
            qsort(x.v, x.n, sizeof *x.v, listed_cmp);
        int e = dc__buf_puts(&b, "{\"as_of\":") || dc__case_json_time(&b, x.now) ||
                dc__buf_printf(&b, ",\"count\":%zu,\"cases\":[", x.n);
        for (size_t i = 0; i < x.n && !e; i++)
            e = (i && dc__buf_putc(&b, ',')) || put_listed(&b, &x.v[i]);
        if (e || dc__buf_puts(&b, "]}"))
            rc = dc__model_fail(r, DC_ENOMEM, "case list: out of memory");
    }
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    for (size_t i = 0; i < x.n; i++)
        dc__case_facts_dispose(&x.v[i].f);
    dc__free(x.v);
    return rc;
}
