/*
 * model/case_route.c — grading and routing a grievance by level (分级分办,
 * docs/domain.md "Grading and routing by level"): the level a case of a
 * category, amount and urgency goes to, and the organisation that takes
 * it there (the driver's branch, or the committee or joint meeting of his
 * county).  dc_case_file routes a new case with it; dc_case_route says
 * where a case would go without filing it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/grievance_int.h"
#include "model/org_int.h"
#include "model/registry_int.h"
#include "model/read.h"

/* ---- grading and routing by level (分级分办) ----
 * The table of docs/domain.md, "Grading and routing by level": the first
 * line that matches gives the level. */

static const char *const ROUTE_MONEY[] = {"freight_arrears", "contract", NULL};
static const char *const ROUTE_JOINT[] = {"enforcement", "road_passage", NULL};
static const char *const ROUTE_COMMITTEE[] = {"insurance", "help", NULL};
static const char *const ROUTE_BRANCH[] = {"consultation", "suggestion", "services", NULL};

#define ROUTE_COMMITTEE_ABOVE 10000 /* yuan */
#define ROUTE_JOINT_ABOVE 50000     /* yuan */

static const char *route_level(const char *category, int64_t amount, int emergency,
                               const char **rule) {
    if (emergency) {
        *rule = "an emergency: several departments act at once";
        return "joint_meeting";
    }
    if (dc__org_in_list(category, ROUTE_JOINT)) {
        *rule = "enforcement and road passage: police, transport and urban management together";
        return "joint_meeting";
    }
    if (dc__org_in_list(category, ROUTE_MONEY) && amount > ROUTE_JOINT_ABOVE) {
        *rule = "money owed above 50,000 yuan: market regulation, courts and unions";
        return "joint_meeting";
    }
    if (dc__org_in_list(category, ROUTE_MONEY) && amount > ROUTE_COMMITTEE_ABOVE) {
        *rule = "money owed above 10,000 yuan: the industry committee's departments";
        return "committee";
    }
    if (dc__org_in_list(category, ROUTE_COMMITTEE)) {
        *rule = "insurance and requests for help: the industry committee";
        return "committee";
    }
    if (dc__org_in_list(category, ROUTE_MONEY)) {
        *rule = "money owed up to 10,000 yuan: the branch settles it with the firm";
        return "branch";
    }
    if (dc__org_in_list(category, ROUTE_BRANCH)) {
        *rule = "consultations, suggestions and services: answered in the branch";
        return "branch";
    }
    *rule = "any other matter: the industry committee";
    return "committee";
}

typedef struct branch_of_ctx {
    char branch[DC__CASE_TEXT];
} branch_of_ctx;

static int read_branch(void *user, const dc_record *rec) {
    dc__org_rec_str(rec, "branch", ((branch_of_ctx *)user)->branch, DC__CASE_TEXT);
    return 0;
}

/* `committee-<code>` or `joint_meeting-<code>` of the county, or of its
 * city when the directory held has only the city's (three small zones
 * share their host's committee). */
int dc__case_org_of(dc_replica *r, const char *kind, const char *county, char to[DC__CASE_TEXT]) {
    char id[DC__CASE_TEXT], where[33];
    snprintf(to, DC__CASE_TEXT, "%s-%s", kind, county);
    if (dc_record_locate(r, "org", to, where) == 0)
        return 0;
    snprintf(id, sizeof id, "%s-%.4s00", kind, county);
    if (dc_record_locate(r, "org", id, where) == 0)
        snprintf(to, DC__CASE_TEXT, "%s", id);
    return 0;
}

int dc__case_route_of(dc_replica *r, const char *category, int64_t amount, int emergency,
                      const char *region, const char *driver, char level[32],
                      char to[DC__CASE_TEXT], const char **rule) {
    const char *lv = route_level(category, amount, emergency, rule);
    char county[7];
    to[0] = 0;
    if (strcmp(lv, "branch") == 0 && driver) {
        /* His branch, read from the registry part keeping him. */
        char where[33];
        branch_of_ctx b = {""};
        if (dc_record_locate(r, "driver", driver, where) == 0) {
            int rc = dc__dom_each(r, where, "driver", driver, read_branch, &b);
            if (rc)
                return rc;
        }
        if (b.branch[0]) {
            snprintf(to, DC__CASE_TEXT, "%s", b.branch);
            snprintf(level, 32, "%s", lv);
            return 0;
        }
    }
    if (strcmp(lv, "branch") == 0)
        lv = "committee"; /* no branch known: the county's committee takes it */
    snprintf(level, 32, "%s", lv);
    if (region && dc__county_of(region, strlen(region), county))
        return dc__case_org_of(r, lv, county, to);
    return 0;
}

int dc_case_route(dc_buf *out, dc_replica *r, const dc_case_options *o) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_case_route: the replica handle is NULL");
    if (!out || !o)
        return dc__model_fail(r, DC_EMISUSE, "dc_case_route: out and options must not be NULL");
    if (o->version != 1 && o->version != DC_CASE_OPTIONS_VERSION)
        return dc__model_fail(r, DC_EINVAL, "dc_case_route: options version %u is not 1 or %d",
                              o->version, DC_CASE_OPTIONS_VERSION);
    if (dc__case_check_id(r, "category", o->category) ||
        (o->region && dc__case_check_id(r, "region", o->region)) ||
        (o->driver && dc__case_check_id(r, "driver id", o->driver)))
        return DC_EINVAL;
    int64_t amount = o->version >= 2 ? o->amount : 0;
    if (amount < 0)
        return dc__model_fail(r, DC_EINVAL, "case: the amount must be whole yuan, 0 or more");
    char level[32], to[DC__CASE_TEXT];
    const char *rule;
    int rc = dc__case_route_of(r, o->category, amount, o->emergency, o->region, o->driver, level,
                               to, &rule);
    if (rc)
        return rc;
    dc_buf b = DC_BUF_INIT;
    if (dc__buf_printf(&b, "{\"level\":\"%s\",\"to\":", level) ||
        dc__org_jstr(&b, to[0] ? to : NULL) || dc__buf_puts(&b, ",\"rule\":") ||
        dc__org_jstr(&b, rule) || dc__buf_putc(&b, '}')) {
        dc_buf_dispose(&b);
        return dc__model_fail(r, DC_ENOMEM, "case route: out of memory");
    }
    dc__buf_move(out, &b);
    return 0;
}
