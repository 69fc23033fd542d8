/*
 * drivercore — the driver registry (台账): two-line import in rounds,
 * merging the same person from several sources into one driver, keeping
 * conflicting values visible, and lookups by identity number without the
 * number in clear (docs/domain.md, "The registry" and "Sensitive values").
 * Thread safety: as the dc_replica (one thread at a time).
 */
#ifndef DRIVERCORE_REGISTRY_H
#define DRIVERCORE_REGISTRY_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dc_source {
    DC_SOURCE_ORGANISATION = 1, /* the organisation line */
    DC_SOURCE_TRANSPORT = 2     /* the transport line */
} dc_source;

/*
 * Import a list of drivers from `source` in verification `round` into the
 * registry `space` (hex id).  `csv` is n bytes of CSV (UTF-8, RFC 4180,
 * optional BOM) whose first line is the header
 * name,id_number,phone,hukou_region,plate,employer,route,activity_area,
 * business_scope,political_status.  Each person (identity number) is one
 * `driver` record however many sources and rounds name him; every good row
 * is kept as a report of its source and round, and facts the reports
 * disagree on are computed as conflicts (docs/domain.md, "The registry").
 * Good rows are imported even when some rows are bad.
 *
 * `report` receives {"rows": N, "imported": N, "new_drivers": N,
 * "merged": N, "unchanged": N, "flagged": N, "errors": [{"line": L,
 * "error": MSG}, ...]} (see docs/domain.md for each count); it is written
 * only on success.  The device must be a member or admin of the space.
 *
 * Returns 0 when the file was read (bad rows are in the report);
 * DC_EINVAL for an empty file, a wrong header, an unknown source or a
 * round below 1 (nothing written); DC_EMISUSE for NULL arguments; the
 * errors of dc_txn_begin (DC_ENOTFOUND, DC_ENOKEY, DC_EDENIED) and of
 * dc_txn_commit.  Rows are committed in batches of about 1,000 operations:
 * after a failure midway the earlier batches stay, and importing the same
 * file again is safe (rows already imported write nothing).
 * Thread safety: as the dc_replica (one thread at a time).
 */
DC_EXTERN int dc_registry_import_csv(dc_buf *report, dc_replica *r, const char *space, int source,
                                     int round, const uint8_t *csv, size_t n);

/*
 * Progress of a long operation: `done` units so far (rows of an import),
 * `bytes_done` of `bytes_total` input bytes read.  Return 0 to go on,
 * non-zero to stop (the operation returns DC_EUSER).
 */
typedef int (*dc_progress_fn)(void *user, uint64_t done, uint64_t bytes_done, uint64_t bytes_total);

typedef struct dc_registry_import_options {
    unsigned int version; /* DC_REGISTRY_IMPORT_OPTIONS_VERSION */
    int source;           /* DC_SOURCE_ORGANISATION or DC_SOURCE_TRANSPORT */
    int round;            /* 1, 2, ... */
    /* The level that verified the rows: "province", "city", "county",
     * "township", "village", "branch", or NULL (not said). */
    const char *level;
    /* How: "list" (NULL: a list from the line's system), "visit" (door to
     * door), "phone" (a phone check). */
    const char *method;
    /* Called about every 1,000 rows and at the end, or NULL. */
    dc_progress_fn progress;
    void *progress_user;
} dc_registry_import_options;

#define DC_REGISTRY_IMPORT_OPTIONS_VERSION 1
#define DC_REGISTRY_IMPORT_OPTIONS_INIT                                                            \
    { DC_REGISTRY_IMPORT_OPTIONS_VERSION, 0, 0, NULL, NULL, NULL, NULL }

/*
 * dc_registry_import_csv with a verification level and method (kept in
 * each report: docs/domain.md "Verification: level and method") and a
 * progress callback.  Rows of drivers that `space` forwards elsewhere (a
 * `moved` entry: "Moves") go to the registry space keeping them when this
 * device holds it and may write it, else they are not written and are
 * listed in the report's "moved_away".  The report also has "forwarded"
 * (rows written to another space).  Returns as dc_registry_import_csv, and
 * DC_EINVAL for an unknown level or method, DC_EUSER when the progress
 * callback stopped it (batches already committed stay).
 */
DC_EXTERN int dc_registry_import(dc_buf *report, dc_replica *r, const char *space,
                                 const dc_registry_import_options *o, const uint8_t *csv, size_t n);

/*
 * Drivers of the registry `space` with a fact in conflict, as JSON in id
 * order: [{"driver": ID, "name": NAME|null, "conflicts": {FIELD:
 * [{"value": V, "source": "organisation"|"transport", "round": N}, ...]},
 * "space": HEX}, ...], FIELD one of name, phone, hukou_region, employer,
 * activity_area, political_status (phones opened), "space" the registry
 * space keeping him.  Computed from the reports, so every replica holding
 * the same reports prints the same bytes.  Given a root, every part held
 * is read.  Walks every driver.  Returns 0, DC_EMISUSE, DC_ENOTFOUND /
 * DC_ENOKEY (space), DC_ECORRUPT (a sealed value does not open), DC_ENOMEM.
 */
DC_EXTERN int dc_registry_conflicts(dc_buf *out, dc_replica *r, const char *space);

/*
 * The driver with this identity number (blanks and a lower-case x are
 * accepted) as JSON: {"driver": ID, "id_number": ..., "phone": ..., the
 * record's registers and sets (set members sorted; a reported fact shows
 * the value shown, the fold of his reports), "sources": [{"source",
 * "round", "level", "method"}, ...], "verified_round": N, "verified":
 * {...the latest}, "flagged": BOOL, "conflicts": {...as
 * dc_registry_conflicts}, "space": the registry space keeping him,
 * "@events": [...] if any}.  Given a root, every part of it this replica
 * holds is searched (docs/domain.md, "Registry spaces").  Only a device
 * holding the root's key can call it.  Returns 0, DC_ENOTFOUND (no such
 * driver, or unknown space; the message says where he moved when the space
 * forwards him), DC_EINVAL (not a valid identity number, check digit
 * included), DC_ENOKEY, DC_ECORRUPT, DC_ENOMEM, DC_EMISUSE.
 */
DC_EXTERN int dc_registry_find(dc_buf *out, dc_replica *r, const char *space,
                               const char *id_number);

/*
 * The registry record id for an identity number: `out` receives the 24
 * characters "drv-" + 20 hex (text, not JSON), whether or not the driver
 * exists.  The id depends on the space's key: other areas use it to refer
 * to a driver (case --driver, branch rosters) without holding the number.
 * Returns 0, DC_EINVAL (not a valid identity number), DC_ENOTFOUND /
 * DC_ENOKEY (space), DC_EMISUSE.
 */
DC_EXTERN int dc_registry_driver_id(dc_buf *out, dc_replica *r, const char *space,
                                    const char *id_number);

/* ---- registry spaces that follow the organisation (need to know) ----
 * docs/domain.md, "Registry spaces" and "Moves". */

/*
 * Create the province registry's root: a space named `name` (NULL:
 * "registry") with its `registry`/`part` record (level "province", region
 * `region`, e.g. "520000").  Its key is the root of every part's lookup and
 * seal keys; it holds no drivers.  `space` receives its hex id.  Returns 0,
 * DC_EINVAL (region not a province code), the errors of dc_space_create.
 */
DC_EXTERN int dc_registry_create(dc_buf *space, dc_replica *r, const char *region,
                                 const char *name);

typedef struct dc_registry_part_options {
    unsigned int version; /* DC_REGISTRY_PART_OPTIONS_VERSION */
    const char *root;     /* hex id of the root, which this device holds */
    const char *region;   /* county code (6 digits) */
    const char *branch;   /* "branch-<code>" for a branch registry, or NULL */
    const char *name;     /* NULL: "registry <region>" or "registry <branch>" */
} dc_registry_part_options;

#define DC_REGISTRY_PART_OPTIONS_VERSION 1
#define DC_REGISTRY_PART_OPTIONS_INIT                                                              \
    { DC_REGISTRY_PART_OPTIONS_VERSION, NULL, NULL, NULL, NULL }

/*
 * Create a county registry (branch NULL) or a branch registry of the root:
 * a space with its `registry`/`part` record.  `space` receives its hex id.
 * Returns 0, DC_EINVAL (not a county code, not a branch id), DC_ENOTFOUND /
 * DC_ENOKEY (the root is not held), the errors of dc_space_create.
 */
DC_EXTERN int dc_registry_part_create(dc_buf *space, dc_replica *r,
                                      const dc_registry_part_options *o);

/*
 * Enrol the device of `card_json` into the registry space `part` with
 * `role`, and into its root as a reader, so that it can derive the keys:
 * the one place where a device joins a registry.  The root add is skipped
 * for this device itself (it holds the root already).  Needs the admin role
 * in both.  Returns 0 or the errors of dc_space_add.
 */
DC_EXTERN int dc_registry_enrol(dc_replica *r, const char *part, const char *card_json, int role);

/*
 * The registry spaces this replica holds, as JSON: [{"space": HEX, "root":
 * HEX, "level": "province"|"county"|"branch", "region": CODE|null,
 * "branch": ORG|null}, ...] sorted by level, region, branch and id.  A
 * space of the layout before parts (holding drivers, no part record) is
 * listed as its own root with level "province" and region null.
 */
DC_EXTERN int dc_registry_spaces(dc_buf *out, dc_replica *r);

typedef struct dc_registry_move_options {
    unsigned int version; /* DC_REGISTRY_MOVE_OPTIONS_VERSION */
    /* Assign him to this branch ("branch-..."); NULL: the branch of a branch
     * registry `to`, else his branch stays. */
    const char *branch;
    /* Non-zero: leave his open cases alone. */
    int keep_cases;
    /* The date of the move (YYYY-MM-DD); NULL: today (UTC). */
    const char *date;
} dc_registry_move_options;

#define DC_REGISTRY_MOVE_OPTIONS_VERSION 1
#define DC_REGISTRY_MOVE_OPTIONS_INIT                                                              \
    { DC_REGISTRY_MOVE_OPTIONS_VERSION, NULL, 0, NULL }

/*
 * Move driver `driver` ("drv-...") from the registry space `from` to `to`
 * (both of one root, both writable here): his record follows him (copied,
 * then deleted from `from`, which keeps a `moved` entry), his branch
 * membership and his open cases follow him (docs/domain.md, "Moves").  `o`
 * may be NULL.  `out` (may be NULL) receives {"driver", "from": {"space",
 * "region", "branch"}, "to": {...}, "registers": N, "members": N,
 * "events": N, "cases": [...], "cases_not_handed_over": [...]}.  Running
 * it again after a failure midway completes it.  Returns 0, DC_ENOTFOUND
 * (no such driver in `from`), DC_EINVAL (same space, different roots, bad
 * branch or date), DC_EDENIED / DC_ENOKEY, DC_ENOMEM, DC_EIO.
 */
DC_EXTERN int dc_registry_move(dc_buf *out, dc_replica *r, const char *from, const char *driver,
                               const char *to, const dc_registry_move_options *o);

#ifdef __cplusplus
}
#endif
#endif
