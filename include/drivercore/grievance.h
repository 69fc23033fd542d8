/*
 * drivercore — grievances (诉求 / work orders) under the 12328 rule:
 * filing, steps by handlers, derived status and deadlines, converging
 * across offline handlers (docs/domain.md, "Grievance rules").
 *
 * A case is a `case` record whose events are its steps.  Its status,
 * deadlines and on-time figures are never stored: they are folded from the
 * steps in event order whenever they are read, so every replica holding
 * the same steps shows the same case.  Times come from the replica's clock:
 * the receipt is the time of the filing step, each step's time is the
 * time of its event ("@time").
 *
 * Thread safety: as the dc_replica.
 */
#ifndef DRIVERCORE_GRIEVANCE_H
#define DRIVERCORE_GRIEVANCE_H

#include "drivercore/calendar.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_case_options {
    unsigned int version; /* DC_CASE_OPTIONS_VERSION */
    /* The driver's registry id ("drv-..."), which need not exist (yet) in
     * any registry this replica holds: a hotline caller may not be
     * registered, and the case links to his record once it exists.  NULL
     * for an unregistered, unidentified caller. */
    const char *driver;
    /* Identity number given by a hotline caller, or NULL.  Never stored:
     * the registry checks it (dc_registry_driver_id; a bad number files
     * nothing), it gives the lookup hash (`caller_id_hash`) and, when
     * `driver` is NULL, the driver id the registry uses for that number. */
    const char *caller_id_number;
    const char *registry; /* registry space (hex id), needed with caller_id_number */
    const char *channel;  /* "12328", "12345", "group", "station", "app" */
    const char *category; /* free text, e.g. "freight_arrears", "enforcement" */
    const char *text;     /* what the driver asks, non-empty */
    int emergency;        /* non-zero: accident rescue, severe weather, illness: every
                           * deadline at once */
    const char *region;   /* county code, or NULL */
    /* Version 2. */
    int64_t amount; /* yuan at stake (unpaid freight, ...); 0: none */
    /* Non-zero: transfer the case, in the filing transaction, to the level
     * dc_case_route gives (分级分办); needs `region`. */
    int route;
} dc_case_options;

#define DC_CASE_OPTIONS_VERSION 2
#define DC_CASE_OPTIONS_INIT                                                                       \
    { DC_CASE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0 }

/*
 * File a case into `space` (hex id), received now (the replica's clock):
 * one transaction writing the case's fields and its first step,
 * {"action": "file"}.  `out` (may be NULL) receives the case as
 * dc_case_show prints it.  `cal` (may be NULL: plain Monday to Friday)
 * gives the working days of the deadlines shown.
 * Returns 0, DC_EINVAL (a bad channel, an empty category or text, a
 * caller_id_number without registry; nothing is written), DC_EDENIED /
 * DC_ENOKEY / DC_ENOTFOUND (the space), DC_ENOMEM, DC_EIO; the message is
 * on the replica.
 */
DC_EXTERN int dc_case_file(dc_buf *out, dc_replica *r, const char *space, const dc_case_options *o,
                           const dc_calendar *cal);

/*
 * The level a case goes to by its category, amount and urgency (分级分办,
 * docs/domain.md "Grading and routing by level"), and the organisation of
 * its county at that level: {"level": "branch"|"committee"|"joint_meeting",
 * "to": ORG|null, "rule": TEXT}.  Reads `category`, `amount`, `emergency`,
 * `region` and `driver` (whose branch the registry spaces held may give)
 * of `o`.  Returns 0, DC_EINVAL (empty category, bad options), DC_EMISUSE.
 */
DC_EXTERN int dc_case_route(dc_buf *out, dc_replica *r, const dc_case_options *o);

/*
 * Set (yuan > 0) or clear (0) the amount of a case, e.g. to what was
 * recovered; last writer wins.  `out` (may be NULL) receives the case as
 * dc_case_show prints it.  Returns 0, DC_EINVAL (negative), DC_ENOTFOUND,
 * DC_EDENIED, ...
 */
DC_EXTERN int dc_case_amount(dc_buf *out, dc_replica *r, const char *case_id, int64_t yuan,
                             const dc_calendar *cal);

typedef struct dc_case_list_options {
    unsigned int version; /* DC_CASE_LIST_OPTIONS_VERSION */
    const char *space;    /* hex id, or NULL: every space held */
    /* Keep cases whose status is one of these ("received", "transferred",
     * "in_progress", "resolved", "revisited", "closed", or "open" for the
     * first three); none: any status. */
    const char *const *statuses;
    size_t nstatuses;
    int overdue;           /* non-zero: only cases with a deadline past and not met */
    int64_t due_before_ms; /* non-zero: only cases whose next deadline is before it */
    /* Keep cases at one of these levels ("branch", "committee",
     * "joint_meeting", "party_member_driver", ..., "none" before any
     * transfer); none: any level. */
    const char *const *levels;
    size_t nlevels;
    int64_t now_ms; /* the instant of "overdue"; 0: the system clock */
} dc_case_list_options;

#define DC_CASE_LIST_OPTIONS_VERSION 1
#define DC_CASE_LIST_OPTIONS_INIT                                                                  \
    { DC_CASE_LIST_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, NULL, 0, 0 }

/*
 * The desks' daily view (docs/domain.md): the cases of every space held (or
 * `o->space`), filtered, sorted by the next deadline (earliest first; cases
 * with nothing pending after them, by receipt; ties by id), as {"as_of": T,
 * "count": N, "cases": [{"case", "space", "driver", "channel", "category",
 * "emergency", "region", "amount", "status", "at", "level", "received",
 * "next": {"deadline", "due", "overdue", "estimated"}|null, "overdue":
 * [KIND, ...]}, ...]}.  `o` may be NULL (everything).  Returns 0,
 * DC_EINVAL (unknown status), DC_ENOTFOUND (space not held), DC_ENOMEM.
 */
DC_EXTERN int dc_case_list(dc_buf *out, dc_replica *r, const dc_case_list_options *o,
                           const dc_calendar *cal);

/*
 * Add a step to a case (found in any space this replica holds): action
 * "transfer" (to: org id, required), "feedback", "reply", "resolve",
 * "revisit" (satisfied: 1 yes, 0 no, -1 not asked), "reopen", "close";
 * `to` only with transfer, `satisfied` other than -1 only with revisit;
 * `note` (may be NULL) with any.  The step must make sense in the case's
 * current state as this replica sees it (no resolving a closed case, no
 * revisit before a resolution, ...): otherwise DC_EINVAL and nothing is
 * written.  Steps that cross with others made offline are reconciled by
 * the fold (docs/domain.md).  `out` (may be NULL) receives the case as
 * shown after the step.  Returns 0, DC_EINVAL, DC_ENOTFOUND (no such case
 * here), DC_EDENIED, DC_ENOMEM, DC_EIO.
 */
DC_EXTERN int dc_case_step(dc_buf *out, dc_replica *r, const char *case_id, const char *action,
                           const char *to, const char *note, int satisfied, const dc_calendar *cal);

/* dc_case_step on a case known to be in `space` (hex id; NULL: any space
 * held): a desk stepping thousands of cases skips the search of every space
 * for each.  DC_ENOTFOUND if `space` does not hold the case. */
DC_EXTERN int dc_case_step_in(dc_buf *out, dc_replica *r, const char *space, const char *case_id,
                              const char *action, const char *to, const char *note, int satisfied,
                              const dc_calendar *cal);

/*
 * A case, typed (what an app's case screen reads; the JSON below is the
 * CLI's): its fields, its status and level, and its four deadlines (the
 * 12328 rule, docs/domain.md) with when each was met.  Its steps are the
 * events of its `case` record (dc_record_read).  `space` may be NULL: the
 * first space held that has the case.  Text fields are NUL-terminated, ""
 * when absent.  Times are ms since the epoch, -1 when none.  Returns 0,
 * DC_ENOTFOUND (no space held has the case), DC_EDENIED (not a member),
 * DC_EINVAL (version), DC_ENOMEM.
 */
#define DC_CASE_DEADLINES 4 /* transfer, feedback, reply, revisit */
#define DC_CASE_INFO_VERSION 1
typedef struct dc_case_info {
    unsigned int version; /* DC_CASE_INFO_VERSION, set by the caller */
    char id[201], space[33], driver[201], channel[201], category[201], region[201];
    char at[201];       /* the organisation it was last transferred to */
    char level[32];     /* the kind of `at` ("branch", ...), "" before any transfer */
    char routed[32];    /* the level dc_case_route chose at filing, or "" */
    const char *status; /* "received", "transferred", "in_progress", "resolved",
                         * "revisited" or "closed" (static) */
    int open;           /* received, transferred or in progress */
    int emergency;
    int has_amount;
    int64_t amount; /* yuan */
    int64_t received_ms, resolved_ms;
    int64_t due_ms[DC_CASE_DEADLINES];  /* by dc_case_deadline_name(i); -1 none (yet) */
    int64_t done_ms[DC_CASE_DEADLINES]; /* when it was met, -1 not yet */
    int estimated[DC_CASE_DEADLINES];   /* counted past the years the calendar covers */
    int revisits, satisfied_revisits, reopened;
} dc_case_info;

DC_EXTERN int dc_case_get(dc_replica *r, const char *space, const char *case_id,
                          const dc_calendar *cal, dc_case_info *out);
/* "transfer", "feedback", "reply", "revisit" for 0..3; NULL otherwise. */
DC_EXTERN const char *dc_case_deadline_name(int i);

/*
 * dc_case_file, handing the new case back typed, as dc_case_get fills
 * `out` (its version set by the caller), instead of as JSON: what the
 * bindings and an app's native code call.  Returns as dc_case_file, and
 * DC_EINVAL for an info version it does not know (nothing is filed).
 */
DC_EXTERN int dc_case_file_info(dc_case_info *out, dc_replica *r, const char *space,
                                const dc_case_options *o, const dc_calendar *cal);

/*
 * The case as JSON, keys in this order: {"case": ID, "space": S, "driver":
 * ID|null, "driver_known": BOOL (a `driver` record with that id exists in
 * a space this replica holds), "channel", "category", "text", "emergency":
 * BOOL, "region": CODE|null, "received": T, "status": "received" |
 * "transferred" | "in_progress" | "resolved" | "revisited" | "closed",
 * "at": ORG|null, "level": KIND|null, "resolved": T|null, "satisfied":
 * BOOL|null, "reopened": N, "due": {"transfer": T, "feedback": T, "reply":
 * T, "revisit": T|null}, "on_time": {KIND: BOOL|null, ...}, "steps":
 * [{"action", "to", "note", "satisfied", "author", "time": T, "applied":
 * BOOL}, ...], "amount": YUAN|null, "routed": LEVEL|null, "warnings":
 * [TEXT, ...]} where T is RFC 3339 with offset +08:00; a warning says a
 * deadline was counted past the years the calendar covers.  An emergency's
 * deadlines are all at once (docs/domain.md).  DC_ENOTFOUND if no space
 * held by this replica has the case.
 */
DC_EXTERN int dc_case_show(dc_buf *out, dc_replica *r, const char *case_id, const dc_calendar *cal);

/*
 * The same case as one flat JSON object with times in ms since the epoch,
 * for statistics and for bindings that read it with a flat parser:
 * {"case", "space", "driver", "channel", "category", "emergency", "region",
 * "status", "at", "level", "transfers" (the `to` of every transfer that
 * took effect, space-separated), "received_ms", "resolved_ms" (current
 * resolution or null), "first_resolved_ms", "revisits", "satisfied_revisits",
 * "reopened", "due_transfer_ms", "due_feedback_ms", "due_reply_ms",
 * "due_revisit_ms", "done_transfer_ms", "done_feedback_ms", "done_reply_ms",
 * "done_revisit_ms"} (null when not done), "amount", "routed", "estimated"
 * (the kinds of the deadlines counted past the calendar's years,
 * space-separated).  `space` (may be NULL: any)
 * limits the search.  Returns 0 or DC_ENOTFOUND.
 */
DC_EXTERN int dc_case_summary(dc_buf *out, dc_replica *r, const char *space, const char *case_id,
                              const dc_calendar *cal);

#ifdef __cplusplus
}
#endif
#endif
