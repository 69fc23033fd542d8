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
 * Drivers of the registry `space` with a fact in conflict, as JSON in id
 * order: [{"driver": ID, "name": NAME|null, "conflicts": {FIELD:
 * [{"value": V, "source": "organisation"|"transport", "round": N}, ...]}},
 * ...], FIELD one of name, phone, hukou_region, employer, activity_area,
 * political_status (phones opened).  Computed from the reports, so every
 * replica holding the same reports prints the same bytes.  Walks every
 * driver.  Returns 0, DC_EMISUSE, DC_ENOTFOUND / DC_ENOKEY (space),
 * DC_ECORRUPT (a sealed value does not open), DC_ENOMEM.
 */
DC_EXTERN int dc_registry_conflicts(dc_buf *out, dc_replica *r, const char *space);

/*
 * The driver with this identity number (blanks and a lower-case x are
 * accepted) as JSON: {"driver": ID, "id_number": ..., "phone": ..., the
 * record's registers and sets (set members sorted), "sources": [{"source",
 * "round"}, ...], "verified_round": N, "flagged": BOOL, "conflicts":
 * {...as dc_registry_conflicts}, "@events": [...] if any}.  Only a member
 * of the space, holding its key, can call it.  Returns 0, DC_ENOTFOUND (no
 * such driver, or unknown space), DC_EINVAL (not a valid identity number,
 * check digit included), DC_ENOKEY, DC_ECORRUPT, DC_ENOMEM, DC_EMISUSE.
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

#ifdef __cplusplus
}
#endif
#endif
