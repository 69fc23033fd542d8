/*
 * drivercore — the official holiday calendar and working-day arithmetic in
 * China Standard Time, behind the 12328 deadlines (docs/domain.md,
 * "Grievance rules").
 *
 * The calendar is data, replaced each year: a TSV file (date, kind, name;
 * kind "off" for a day off, "work" for a weekend day that is a working
 * day), or the `holiday` records of a space (the public directory).  A
 * date it does not list is a working day from Monday to Friday and a day
 * off on Saturday and Sunday.  The calendar covers the years from the
 * first to the last it lists: a count that runs outside them is an
 * estimate, which dc_calendar_due reports (never a silent count of plain
 * weekdays), until next year's schedule is published.
 *
 * Thread safety: a dc_calendar is immutable once loaded and may be shared
 * between threads.  Functions taking a dc_replica are used as the replica.
 */
#ifndef DRIVERCORE_CALENDAR_H
#define DRIVERCORE_CALENDAR_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_calendar dc_calendar;

/*
 * Parse TSV text: one day a line, `YYYY-MM-DD<TAB>off|work[<TAB>name]`;
 * lines starting with '#' and blank lines are skipped, a trailing CR is
 * ignored.  A date listed twice is an error.  On success *out is a
 * calendar to free with dc_calendar_free.  On failure *out is NULL and
 * dc_error_last() names the line: DC_EINVAL (bad line, not UTF-8),
 * DC_EMISUSE (NULL out or text), DC_ENOMEM.
 */
DC_EXTERN int dc_calendar_parse(dc_calendar **out, const uint8_t *tsv, size_t n);

/* Parse the TSV file at `path` (as dc_calendar_parse); DC_EIO if it cannot
 * be read, the message naming the file. */
DC_EXTERN int dc_calendar_load_file(dc_calendar **out, const char *path);

/*
 * The calendar from the `holiday` records of `space` (hex id).  Returns 0,
 * DC_ENOTFOUND if the space holds no holiday record, DC_ECORRUPT if one is
 * malformed (its id is not a date or its kind not off/work: a wrong
 * calendar would give wrong deadlines, so none is guessed), or the
 * replica's error for an unknown space; the message is on the replica.
 */
DC_EXTERN int dc_calendar_from_space(dc_calendar **out, dc_replica *r, const char *space);

/*
 * Write the calendar into `space` as `holiday` records (id: the date;
 * `kind`, `name`, `year`), in one transaction.  Days already published
 * with the same kind and name are not written again, and holiday records
 * of a year the calendar covers but does not list any more are deleted, so
 * publishing a corrected schedule replaces the old one.  Needs the member
 * or admin role in the space.  Returns 0 or the replica's error.
 */
DC_EXTERN int dc_calendar_publish(dc_replica *r, const char *space, const dc_calendar *c);

/* Free a calendar.  NULL is a no-op. */
DC_EXTERN void dc_calendar_free(dc_calendar *c);

/* The calendar as JSON: {"years": [Y, ...], "off": N, "work": N,
 * "days": [{"date": D, "kind": "off"|"work", "name": S}, ...]} (dates in
 * order).  Returns 0, DC_EMISUSE, DC_ENOMEM. */
DC_EXTERN int dc_calendar_json(dc_buf *out, const dc_calendar *c);

/* 1 if the date is a working day, 0 if not (also 0 for an impossible
 * date).  A NULL calendar means plain Monday to Friday. */
DC_EXTERN int dc_calendar_is_workday(const dc_calendar *c, int year, int month, int day);

/*
 * The end of the nth working day after the (CST) day of `from_ms`, as an
 * instant: 00:00 CST of the day after that working day, in ms since the
 * epoch.  The day of `from_ms` itself never counts, working or not.
 * n must be 1 to 100000; otherwise returns -1.  A NULL calendar means
 * plain Monday to Friday.
 */
DC_EXTERN int64_t dc_calendar_end_of_workdays(const dc_calendar *c, int64_t from_ms, int n);

/*
 * The years the calendar covers: the first and the last year it lists a
 * day of (either pointer may be NULL).  Returns 0, DC_ENOTFOUND (an empty
 * calendar), DC_EMISUSE.
 */
DC_EXTERN int dc_calendar_years(const dc_calendar *c, int *first, int *last);

/*
 * dc_calendar_end_of_workdays that says when it had to guess: `*due`
 * receives the end of the nth working day after the (CST) day of
 * `from_ms`, and `*estimated` (may be NULL) 1 when the count passed a day
 * of a year the calendar does not cover (before its first or after its
 * last year), whose holidays are unknown and were counted as plain
 * weekdays; else 0.  With a NULL calendar (plain weekdays by the caller's
 * choice) nothing is estimated.  Returns 0, DC_EINVAL (n not 1 to 100000),
 * DC_EMISUSE.
 */
DC_EXTERN int dc_calendar_due(int64_t *due, int *estimated, const dc_calendar *c, int64_t from_ms,
                              int n);

/* Writes `ms` as RFC 3339 in China Standard Time, e.g.
 * "2026-10-09T00:00:00+08:00" (".mmm" only when ms is not a whole second)
 * into `out`.  Returns 0, DC_EMISUSE, DC_ENOMEM. */
DC_EXTERN int dc_time_cst(dc_buf *out, int64_t ms);

/*
 * Parses an RFC 3339 instant ("2026-09-30T10:00:00+08:00", "...Z",
 * optional fraction of a second, 'T' or ' ' between date and time) into
 * ms since the epoch.  Returns 0, DC_EINVAL (dc_error_last() says why),
 * DC_EMISUSE.
 */
DC_EXTERN int dc_time_parse(int64_t *out, const char *text);

#ifdef __cplusplus
}
#endif
#endif
