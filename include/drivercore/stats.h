/*
 * drivercore — statistics computed from the records a replica holds, in
 * the shape of the report's table (docs/domain.md, "Statistics").
 * Nothing is stored: the figures are folded from the records on each call,
 * so every replica holding the same records prints the same figures.
 * Thread safety: as the dc_replica.
 */
#ifndef DRIVERCORE_STATS_H
#define DRIVERCORE_STATS_H

#include "drivercore/calendar.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The statistics as one JSON object over every space this replica holds a
 * key for (or only `space`, a hex space id, when not NULL), as of the
 * instant `now_ms` (ms since the epoch): a deadline counts in the on-time
 * figures once it has passed at `now_ms` or has been met.
 *
 *   {"as_of": RFC3339, "drivers": N, "party_member_drivers": N,
 *    "operators": N, "committees": N, "branches": N, "secretaries": N,
 *    "stations": N, "joint_meetings": N, "study_items": N,
 *    "enterprises": N, "departments": N,
 *    "liaison": {"cadres": N, "party_member_drivers": N, "drivers": N},
 *    "cases": {"collected": N, "resolved": N, "resolution_rate": P,
 *              "inside_county": P, "on_time": {"transfer": P,
 *              "feedback": P, "reply": P, "revisit": P},
 *              "satisfaction_rate": P, "median_resolve_hours": H,
 *              "revisits": N, "satisfied": N}}
 *
 * P is a percent with two decimals, or null when nothing was counted; H
 * is hours with two decimals, or null.  `cal` gives the working days of
 * the deadlines; when NULL the on-time figures are null (all others are
 * computed).  `out` receives the JSON (replacing its content).
 * Returns 0, DC_EMISUSE (NULL r or out), DC_ENOTFOUND (`space` is not
 * held), DC_ENOMEM, DC_EIO; the message is on the replica.
 */
DC_EXTERN int dc_stats_at(dc_buf *out, dc_replica *r, const char *space, const dc_calendar *cal,
                          int64_t now_ms);

/* dc_stats_at as of the system clock's now. */
DC_EXTERN int dc_stats(dc_buf *out, dc_replica *r, const char *space, const dc_calendar *cal);

#ifdef __cplusplus
}
#endif
#endif
