/*
 * drivercore — the organised side of the domain: regions in five levels,
 * organisations, Driver's Homes (stations, facilities, check-ins), mobile
 * branches formed by the four principles (with a suggestion for a driver
 * without a branch and a coverage report), secretaries and their task
 * lists, online study (items, read state, discussion, theme activities)
 * and liaison chains with contact logs.  Which space holds which record,
 * and every rule below, is in docs/domain.md.
 *
 * Writes.  Every write comes in two forms:
 *   dc_X(..., dc_replica *r, const char *space, ...)  one transaction of its
 *       own: validated first, then committed whole or not at all;
 *   dc_X_txn(..., dc_replica *r, dc_txn *t, ...)  adds its operations to a
 *       transaction the caller opened with dc_txn_begin on `r` (and commits
 *       or rolls back), so bulk loads write thousands of records per change.
 *       The arguments are validated before any operation is added; if a
 *       _txn call fails the caller should roll the transaction back (an
 *       out-of-memory failure may leave it half filled).  The _txn forms do
 *       not check that records they refer to exist, because those may be
 *       written earlier in the same transaction; the plain forms do.
 * Keep one change under DC_BODY_MAX_OPS (100,000) operations: the cost of
 * each write in operations is given beside it.
 *
 * Reads return JSON in a caller-owned dc_buf; their shapes are in
 * docs/domain.md.  Errors: 0 or a negative DC_ code, with a message on the
 * replica (dc_replica_errmsg) naming the bad argument and what is allowed.
 * Besides the codes listed with each function, any call may return those
 * of dc_txn_begin / dc_txn_commit / the record reads (DC_ENOTFOUND for an
 * unknown space, DC_ENOKEY, DC_EDENIED, DC_EIO, DC_ENOMEM), and DC_EMISUSE
 * for a NULL handle or output.
 * Times are ms since the epoch (UTC); 0 for a time argument means "now" by
 * the system clock.  Dates are "YYYY-MM-DD".
 *
 * Thread safety: as the dc_replica (one thread at a time).
 */
#ifndef DRIVERCORE_ORG_H
#define DRIVERCORE_ORG_H

#include "drivercore/txn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- regions (directory space) ---- */

/*
 * Put region `code` (Chinese administrative code: 6 digits for province
 * "520000", city "520100" and county "520112", 9 for a township, 12 for a
 * village) with its `name`, `level` ("province", "city", "county",
 * "township", "village"; it must match the shape of the code) and `parent`
 * (a code of a higher level that is a prefix of this one, or NULL).
 * Returns 0 or DC_EINVAL.  3 operations.
 */
DC_EXTERN int dc_region_put(dc_replica *r, const char *space, const char *code, const char *name,
                            const char *level, const char *parent);
DC_EXTERN int dc_region_put_txn(dc_replica *r, dc_txn *t, const char *code, const char *name,
                                const char *level, const char *parent);

/* ---- organisations (directory space) ---- */

typedef struct dc_org_options {
    unsigned int version; /* DC_ORG_OPTIONS_VERSION */
    /* "org_dept", "transport_dept", "committee", "branch", "joint_meeting",
     * "department", "station_operator", "enterprise", "operator" */
    const char *kind;
    const char *code; /* the org's own code; the record id is "<kind>-<code>" */
    const char *name;
    const char *level;  /* "province"/"city"/"county": required for committees
                         * and joint meetings, optional for other kinds */
    const char *region; /* region code, or NULL */
    const char *parent; /* org id ("<kind>-<code>") or NULL */
    /* joint meetings only: org ids of member departments, added to the set */
    const char *const *departments;
    size_t ndepartments;
} dc_org_options;

#define DC_ORG_OPTIONS_VERSION 1
#define DC_ORG_OPTIONS_INIT                                                                        \
    { DC_ORG_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/* Put an organisation; `id` (may be NULL) receives its id.  Returns 0 or
 * DC_EINVAL.  6 + ndepartments operations. */
DC_EXTERN int dc_org_put(dc_buf *id, dc_replica *r, const char *space, const dc_org_options *o);
DC_EXTERN int dc_org_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_org_options *o);

/* ---- Driver's Homes (directory space) and check-ins (personal space) ---- */

typedef struct dc_station_options {
    unsigned int version; /* DC_STATION_OPTIONS_VERSION */
    const char *code;     /* the record id is "dh-<code>" */
    const char *name;
    /* "service_area", "trunk_road", "logistics_park", "freight_hub", "enterprise" */
    const char *site;
    const char *region;       /* region code */
    const char *address;      /* or NULL */
    const char *operator_org; /* org id of the operator, or NULL */
    const char *agreement;    /* text of the co-management agreement, or NULL */
    /* "study_room", "kitchen", "showers", "massage_chairs", "parking",
     * "rest", "meals": added to the set (never removed by a put) */
    const char *const *facilities;
    size_t nfacilities;
} dc_station_options;

#define DC_STATION_OPTIONS_VERSION 1
#define DC_STATION_OPTIONS_INIT                                                                    \
    { DC_STATION_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/* Put a Driver's Home; `id` (may be NULL) receives "dh-<code>".  Returns 0
 * or DC_EINVAL.  6 + nfacilities operations. */
DC_EXTERN int dc_station_put(dc_buf *id, dc_replica *r, const char *space,
                             const dc_station_options *o);
DC_EXTERN int dc_station_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_station_options *o);

/* Add (present != 0) or remove a facility of station `station` ("dh-...").
 * Returns 0, DC_EINVAL, DC_ENOTFOUND (no such station). */
DC_EXTERN int dc_station_facility(dc_replica *r, const char *space, const char *station,
                                  const char *facility, int present);

/*
 * The stations of `space` as JSON {"stations": [{"station": ID, "name": ...,
 * "site": ..., "region": ..., "address": ..., "operator": ..., "agreement":
 * ..., "facilities": [...]}, ...]} in id order, only those whose region code
 * starts with `region` and that offer `facility` when these are not NULL.
 */
DC_EXTERN int dc_station_list(dc_buf *out, dc_replica *r, const char *space, const char *region,
                              const char *facility);

typedef struct dc_checkin_options {
    unsigned int version; /* DC_CHECKIN_OPTIONS_VERSION */
    const char *station;  /* "dh-<code>" */
    int64_t at_ms;        /* when; 0: now */
    const char *used;     /* a facility name, or NULL */
    const char *feedback; /* text, or NULL */
    int rating;           /* 1..5, or 0 for none */
} dc_checkin_options;

#define DC_CHECKIN_OPTIONS_VERSION 1
#define DC_CHECKIN_OPTIONS_INIT                                                                    \
    { DC_CHECKIN_OPTIONS_VERSION, NULL, 0, NULL, NULL, 0 }

/* Record a visit to a Driver's Home in the driver's personal `space` (his
 * whereabouts stay in his space).  Returns 0 or DC_EINVAL.  1 event. */
DC_EXTERN int dc_checkin(dc_replica *r, const char *space, const dc_checkin_options *o);

/* The check-ins of a personal space: {"checkins": [{"station": ID, "at": MS,
 * "used": ..., "feedback": ..., "rating": N|null}, ...]} by station, then
 * in event order. */
DC_EXTERN int dc_checkin_list(dc_buf *out, dc_replica *r, const char *space);

/* ---- branches and the four principles ---- */

typedef struct dc_branch_options {
    unsigned int version; /* DC_BRANCH_OPTIONS_VERSION */
    const char *code;     /* the branch org id is "branch-<code>" */
    const char *name;
    const char *region;        /* region code of the branch */
    const char *hukou_region;  /* principle 1: household-registration region code */
    const char *const *routes; /* principle 2: added to the set */
    size_t nroutes;
    const char *activity_area;         /* principle 3: region code */
    const char *const *business_scope; /* principle 4: added to the set */
    size_t nbusiness_scope;
} dc_branch_options;

#define DC_BRANCH_OPTIONS_VERSION 1
#define DC_BRANCH_OPTIONS_INIT                                                                     \
    { DC_BRANCH_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0 }

/* Put the `branch` record (the four principles) into the branch's space;
 * `id` (may be NULL) receives "branch-<code>".  The branch's directory
 * entry is a separate dc_org_put of kind "branch".  Returns 0 or DC_EINVAL.
 * 5 + nroutes + nbusiness_scope operations. */
DC_EXTERN int dc_branch_put(dc_buf *id, dc_replica *r, const char *space,
                            const dc_branch_options *o);
DC_EXTERN int dc_branch_put_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_branch_options *o);

/* Put driver `driver` ("drv-...") on the roster of branch `branch` in the
 * branch's space, joined on `joined` (NULL: today, UTC).  2 operations. */
DC_EXTERN int dc_branch_member_add(dc_replica *r, const char *space, const char *branch,
                                   const char *driver, const char *joined);
DC_EXTERN int dc_branch_member_add_txn(dc_replica *r, dc_txn *t, const char *branch,
                                       const char *driver, const char *joined);
/* Take a driver off the roster held in `space`.  DC_ENOTFOUND if absent. */
DC_EXTERN int dc_branch_member_remove(dc_replica *r, const char *space, const char *driver);

/*
 * Assign driver `driver` to branch `branch` ("branch-...", or NULL to
 * unassign): sets the register `branch` of his record in the registry
 * space, so a driver is in at most one branch by construction.  The plain
 * form checks that the driver exists (DC_ENOTFOUND).  1 operation.
 */
DC_EXTERN int dc_branch_assign(dc_replica *r, const char *registry, const char *driver,
                               const char *branch);
DC_EXTERN int dc_branch_assign_txn(dc_replica *r, dc_txn *t, const char *driver,
                                   const char *branch);

/*
 * Suggest branches for driver `driver` of the `registry` space by the four
 * principles, scoring every `branch` record of every space this replica
 * holds (docs/domain.md, "Branch suggestion"):
 * {"driver": ID, "status": S, "current": BRANCH|null, "branches": N,
 *  "suggestions": [{"branch": ID, "name": ..., "space": HEX, "score": N,
 *  "principles": {"hukou_region": N, "routes": N, "activity_area": N,
 *  "business_scope": N}}, ...]} best first, at most `limit` (0: 5).
 * Returns 0, DC_ENOTFOUND (no such driver), DC_EINVAL.
 */
DC_EXTERN int dc_branch_suggest(dc_buf *out, dc_replica *r, const char *registry,
                                const char *driver, size_t limit);

/*
 * The coverage report (应管尽管): party-member drivers (status shown
 * "probationary" or "member") of `registry` (given a root: every part of it
 * held) with no branch, rosters of the branch spaces held that disagree
 * with the registry, drivers listed on more than one roster, drivers kept
 * in two registry spaces ("kept_twice") or with reports left behind by a
 * move ("left_behind"), and per-branch counts (docs/domain.md).
 */
DC_EXTERN int dc_branch_coverage(dc_buf *out, dc_replica *r, const char *registry);

/* ---- secretaries and instructors (registry space) ---- */

typedef struct dc_secretary_options {
    unsigned int version; /* DC_SECRETARY_OPTIONS_VERSION */
    const char *branch;   /* "branch-..." */
    const char *person;   /* person id; the record id is "<branch>/<person>" */
    const char *name;
    const char *from_dept; /* org id of the sending department, or NULL */
    const char *role;      /* "secretary" (NULL) or "instructor" */
} dc_secretary_options;

#define DC_SECRETARY_OPTIONS_VERSION 1
#define DC_SECRETARY_OPTIONS_INIT                                                                  \
    { DC_SECRETARY_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL }

/* Put a secretary or instructor; `id` (may be NULL) receives the record id.
 * 4 operations. */
DC_EXTERN int dc_secretary_put(dc_buf *id, dc_replica *r, const char *space,
                               const dc_secretary_options *o);
DC_EXTERN int dc_secretary_put_txn(dc_buf *id, dc_replica *r, dc_txn *t,
                                   const dc_secretary_options *o);

/* Add `task` (its text names it) to a secretary's list, due on `due`
 * (date or NULL), not done.  1 event. */
DC_EXTERN int dc_secretary_task(dc_replica *r, const char *space, const char *secretary,
                                const char *task, const char *due);
DC_EXTERN int dc_secretary_task_txn(dc_replica *r, dc_txn *t, const char *secretary,
                                    const char *task, const char *due);

/* Mark a task done (done != 0) or not done again.  DC_ENOTFOUND if the
 * secretary or the task is unknown.  1 event. */
DC_EXTERN int dc_secretary_done(dc_replica *r, const char *space, const char *secretary,
                                const char *task, int done);

/* Secretaries with their task lists: {"secretaries": [{"secretary": ID,
 * "name": ..., "branch": ..., "from_dept": ..., "role": ..., "tasks":
 * [{"task": T, "due": D|null, "done": BOOL}, ...], "open": N, "done": N},
 * ...]}, only `secretary` when not NULL (DC_ENOTFOUND if absent). */
DC_EXTERN int dc_secretary_show(dc_buf *out, dc_replica *r, const char *space,
                                const char *secretary);

/* ---- online study (branch space) ---- */

typedef struct dc_study_options {
    unsigned int version; /* DC_STUDY_OPTIONS_VERSION */
    const char *id;       /* "st-<n>"; NULL: "st-" + 12 random hex digits */
    const char *title;
    const char *kind;  /* "micro_video", "micro_lesson", "article", "news" */
    const char *media; /* text or URL kept for offline reading, or NULL */
    int64_t pushed_ms; /* 0: now */
} dc_study_options;

#define DC_STUDY_OPTIONS_VERSION 1
#define DC_STUDY_OPTIONS_INIT                                                                      \
    { DC_STUDY_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0 }

/* Push a study item to the branch space; `id` (may be NULL) receives its
 * id.  4 operations. */
DC_EXTERN int dc_study_push(dc_buf *id, dc_replica *r, const char *space,
                            const dc_study_options *o);
DC_EXTERN int dc_study_push_txn(dc_buf *id, dc_replica *r, dc_txn *t, const dc_study_options *o);

/* A read receipt of `driver` for `item`; done != 0: completed.  Written by
 * the reader's own device, offline if need be; receipts merge as events.
 * The plain form checks that the item exists (DC_ENOTFOUND).  1 event. */
DC_EXTERN int dc_study_read(dc_replica *r, const char *space, const char *item, const char *driver,
                            int done);
DC_EXTERN int dc_study_read_txn(dc_replica *r, dc_txn *t, const char *item, const char *driver,
                                int done);

/* A discussion post (云讨论) of `driver` under `item`.  1 event. */
DC_EXTERN int dc_study_discuss(dc_replica *r, const char *space, const char *item,
                               const char *driver, const char *text);

/* A theme activity "act-<n>" (`id` NULL: random) with `title` on `date`;
 * `out_id` (may be NULL) receives its id.  2 operations. */
DC_EXTERN int dc_study_activity(dc_buf *out_id, dc_replica *r, const char *space, const char *id,
                                const char *title, const char *date);
DC_EXTERN int dc_study_activity_txn(dc_buf *out_id, dc_replica *r, dc_txn *t, const char *id,
                                    const char *title, const char *date);

/* Record that `driver` took part in `activity`.  1 operation. */
DC_EXTERN int dc_study_join(dc_replica *r, const char *space, const char *activity,
                            const char *driver);
DC_EXTERN int dc_study_join_txn(dc_replica *r, dc_txn *t, const char *activity, const char *driver);

/*
 * Study state of a branch space, per member of its roster
 * (docs/domain.md, "Study"): with `item` NULL, every item with counts and
 * every member's totals, and the activities; with `item`, that item with
 * each member's state ("unread", "read", "done") and its discussion.
 * DC_ENOTFOUND if `item` is absent.
 */
DC_EXTERN int dc_study_show(dc_buf *out, dc_replica *r, const char *space, const char *item);

/* ---- liaison chains (registry space) ---- */

/* Put cadre `id` (person id) with `name`, `region` (code) and `title`
 * ("township_org_member" or "village_secretary").  4 operations. */
DC_EXTERN int dc_liaison_cadre(dc_replica *r, const char *space, const char *id, const char *name,
                               const char *region, const char *title);
DC_EXTERN int dc_liaison_cadre_txn(dc_replica *r, dc_txn *t, const char *id, const char *name,
                                   const char *region, const char *title);

/*
 * Link `from` to `to`: level "cadre" (a cadre to a party-member driver
 * "drv-...") or "party_member" (a party-member driver to a driver).  `id`
 * (may be NULL) receives the link id "<from>/<to>".  3 operations.
 */
DC_EXTERN int dc_liaison_link(dc_buf *id, dc_replica *r, const char *space, const char *from,
                              const char *to, const char *level);
DC_EXTERN int dc_liaison_link_txn(dc_buf *id, dc_replica *r, dc_txn *t, const char *from,
                                  const char *to, const char *level);

/* Log a contact on link `link`: `how` "call", "visit" or "message", on
 * `date` (NULL: today, UTC), with `note` (or NULL).  The plain form checks
 * that the link exists (DC_ENOTFOUND).  1 event. */
DC_EXTERN int dc_liaison_contact(dc_replica *r, const char *space, const char *link,
                                 const char *how, const char *date, const char *note);
DC_EXTERN int dc_liaison_contact_txn(dc_replica *r, dc_txn *t, const char *link, const char *how,
                                     const char *date, const char *note);

/*
 * Liaison chains as JSON: totals per level ({"cadres", "party_member_drivers",
 * "drivers", "links": {"cadre", "party_member"}, "contacts": {"cadre",
 * "party_member", "call", "visit", "message"}}); with `from`, also the
 * links from that person with their contacts and, for drivers held in the
 * space, their political status (the application progress followed).
 */
DC_EXTERN int dc_liaison_show(dc_buf *out, dc_replica *r, const char *space, const char *from);

#ifdef __cplusplus
}
#endif
#endif
