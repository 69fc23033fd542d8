/*
 * model/grievance_int.h — the grievance fold for the rest of the model:
 * the facts of one case as the fold of "Grievance rules" derives them
 * (docs/domain.md), read straight from a record the caller is walking, so
 * that statistics, the desks' case list and a driver's move use the one
 * fold behind `case show` without a JSON round trip; and the handover of a
 * moving driver's open cases.
 */
#ifndef DC_MODEL_GRIEVANCE_INT_H
#define DC_MODEL_GRIEVANCE_INT_H

#include "drivercore/grievance.h"
#include "model/read.h"

enum {
    DC__CASE_RECEIVED,
    DC__CASE_TRANSFERRED,
    DC__CASE_IN_PROGRESS,
    DC__CASE_RESOLVED,
    DC__CASE_REVISITED,
    DC__CASE_CLOSED
};
enum { DC__DL_TRANSFER, DC__DL_FEEDBACK, DC__DL_REPLY, DC__DL_REVISIT, DC__DL_N };

#define DC__CASE_TEXT 201 /* an id, channel, category, region or org id, and its NUL */

typedef struct dc__case_facts {
    char id[DC__CASE_TEXT], driver[DC__CASE_TEXT], channel[DC__CASE_TEXT], category[DC__CASE_TEXT],
        region[DC__CASE_TEXT], at[DC__CASE_TEXT], routed[32];
    char level[32]; /* the kind of `at` ("branch", ...), "" before any transfer */
    bool emergency, has_amount;
    int64_t amount;
    int status;                 /* DC__CASE_* */
    int64_t received, resolved; /* ms, -1 when none */
    int64_t due[DC__DL_N], done[DC__DL_N];
    bool estimated[DC__DL_N]; /* the deadline was counted past the calendar's years */
    int revisits, satisfied_revisits, reopened;
    dc_buf transfers; /* the `to` of every transfer that took effect, space-separated */
} dc__case_facts;

/* Folds the case record `rec` of `space` (being walked by the caller) into
 * f (f->transfers is reset; dispose f when done).  0, DC_ENOMEM or
 * DC_ECORRUPT, with a message on the replica. */
int dc__case_facts_of(dc__case_facts *f, dc_replica *r, const dc_record *rec,
                      const dc_calendar *cal);
void dc__case_facts_dispose(dc__case_facts *f);
bool dc__case_open(int status);
const char *dc__case_status_name(int status);
extern const char *const dc__case_deadline_names[DC__DL_N];

/*
 * Hands the open cases of `driver` over to `county` (docs/domain.md,
 * "Moves"): in every space held that this device may write, each open case
 * of his gets its region set and a step {"action": "handover", "to":
 * "committee-<county>", "note"}.  `handed` and `left` receive the case ids
 * as JSON strings separated by commas (cases it could not write go to
 * `left`).  `from` (may be NULL) is the county he leaves, for the note.
 */
int dc__case_handover(dc_replica *r, const char *driver, const char *county, const char *from,
                      dc_buf *handed, dc_buf *left);

/* ---- what the files of grievances share (grievance.c, case_route.c,
 * case_list.c) ---- */

/* Checks an id, category or region given to a case call: 1 to 200 bytes
 * of UTF-8.  0 or DC_EINVAL with a message naming `what`. */
int dc__case_check_id(dc_replica *r, const char *what, const char *s);
/* An instant as JSON: its China Standard Time text, or null when ms < 0. */
int dc__case_json_time(dc_buf *b, int64_t ms);
/* The level (branch, committee, joint_meeting) and organisation a case
 * goes to, and the rule that says so (case_route.c). */
int dc__case_route_of(dc_replica *r, const char *category, int64_t amount, int emergency,
                      const char *region, const char *driver, char level[32],
                      char to[DC__CASE_TEXT], const char **rule);
/* `<kind>-<county>`, or the city's when the directory has only that. */
int dc__case_org_of(dc_replica *r, const char *kind, const char *county, char to[DC__CASE_TEXT]);
#endif
