/*
 * dc_case_get: a case typed, from the one fold behind `case show`
 * (dc__case_facts_of, grievance.c), for apps; no JSON on the way.
 */
#include <stdio.h>
#include <string.h>

#include "model/grievance_int.h"

typedef struct get_ctx {
    dc_replica *r;
    const dc_calendar *cal;
    dc_case_info *out;
    bool found;
} get_ctx;

static int one(void *user, const dc_record *rec);

const char *dc_case_deadline_name(int i) {
    return i >= 0 && i < DC__DL_N ? dc__case_deadline_names[i] : NULL;
}

int dc_case_get(dc_replica *r, const char *space, const char *case_id, const dc_calendar *cal,
                dc_case_info *out) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_get: the replica handle is NULL");
    if (!case_id || !out)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_get: case_id and out must not be NULL");
    if (out->version != DC_CASE_INFO_VERSION)
        return dc__model_fail(r, DC_EINVAL, "dc_case_get: version %u, this library fills %u",
                              out->version, DC_CASE_INFO_VERSION);
    memset(out, 0, sizeof *out);
    out->version = DC_CASE_INFO_VERSION;
    char sp[33];
    if (!space) {
        int rc = dc_record_locate(r, "case", case_id, sp);
        if (rc == DC_ENOTFOUND)
            return dc__model_fail(r, DC_ENOTFOUND, "case %s is not in any space this device holds",
                                  case_id);
        if (rc)
            return rc;
        space = sp;
    }
    get_ctx c = {r, cal, out, false};
    int rc = dc__dom_each(r, space, "case", case_id, one, &c);
    if (rc)
        return rc;
    if (!c.found)
        return dc__model_fail(r, DC_ENOTFOUND, "case %s is not in space %s", case_id, space);
    snprintf(out->space, sizeof out->space, "%s", space);
    return 0;
}

static int one(void *user, const dc_record *rec) {
    get_ctx *c = user;
    dc_case_info *o = c->out;
    dc__case_facts f;
    memset(&f, 0, sizeof f);
    int rc = dc__case_facts_of(&f, c->r, rec, c->cal);
    if (!rc) {
        c->found = true;
        memcpy(o->id, f.id, sizeof o->id);
        memcpy(o->driver, f.driver, sizeof o->driver);
        memcpy(o->channel, f.channel, sizeof o->channel);
        memcpy(o->category, f.category, sizeof o->category);
        memcpy(o->region, f.region, sizeof o->region);
        memcpy(o->at, f.at, sizeof o->at);
        memcpy(o->level, f.level, sizeof o->level);
        memcpy(o->routed, f.routed, sizeof o->routed);
        o->status = dc__case_status_name(f.status);
        o->open = dc__case_open(f.status);
        o->emergency = f.emergency;
        o->has_amount = f.has_amount;
        o->amount = f.amount;
        o->received_ms = f.received;
        o->resolved_ms = f.resolved;
        for (int k = 0; k < DC__DL_N; k++) {
            o->due_ms[k] = f.due[k];
            o->done_ms[k] = f.done[k];
            o->estimated[k] = f.estimated[k];
        }
        o->revisits = f.revisits;
        o->satisfied_revisits = f.satisfied_revisits;
        o->reopened = f.reopened;
    }
    dc__case_facts_dispose(&f);
    return rc;
}
