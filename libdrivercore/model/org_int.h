/*
 * model/org_int.h — helpers shared by the files of the organised side of
 * the domain (org.c, branch*.c, secretary.c, study.c, liaison.c, and the
 * registry's): argument checks
 * whose messages name what is allowed, region codes, dates, transaction
 * wrappers, reading fields of a record, and JSON output.  Implemented in
 * org.c.  Nothing here touches SQL: writes go through dc_txn_*, reads
 * through the public typed API (model/read.h).
 */
#ifndef DC_MODEL_ORG_INT_H
#define DC_MODEL_ORG_INT_H

#include "model/read.h"

/* ---- argument checks: 0, or the code with a message on the replica ---- */

/* Non-empty valid UTF-8 text (required) or NULL/"" allowed (!required). */
int dc__org_text(dc_replica *r, const char *what, const char *s, bool required);
/* An id usable as (part of) a record id: 1..200 bytes of UTF-8, no '/',
 * no control characters, no surrounding spaces. */
int dc__org_id(dc_replica *r, const char *what, const char *s);
/* A driver id: an id that starts with "drv-" (docs/domain.md). */
int dc__org_driver(dc_replica *r, const char *what, const char *s);
/* An id that starts with `prefix` ("branch-", "dh-", ...). */
int dc__org_prefixed(dc_replica *r, const char *what, const char *s, const char *prefix);
/* Whether s (may be NULL) is one of the NULL-terminated list. */
bool dc__org_in_list(const char *s, const char *const *list);
/* One of the NULL-terminated `allowed` names; the message lists them. */
int dc__org_enum(dc_replica *r, const char *what, const char *s, const char *const *allowed);
/* A valid calendar date "YYYY-MM-DD". */
int dc__org_date_check(dc_replica *r, const char *what, const char *s);
/* A region code of 6, 9 or 12 digits (see dc__region_sig). */
int dc__org_region_check(dc_replica *r, const char *what, const char *s);

/* ---- region codes ----
 * Chinese administrative codes are hierarchical: 2 digits of province, 2
 * of city, 2 of county, 3 of township, 3 of village.  A 6-digit code pads
 * the missing levels with zeros (province 520000, city 520100). */

/* The number of significant leading digits of a code: 2 (province), 4
 * (city), 6 (county), 9 (township), 12 (village); 0 if not a code. */
int dc__region_sig(const char *code, size_t n);
/* The level name for a number of significant digits, or NULL. */
const char *dc__region_level_name(int sig);
/* The deepest of 2, 4, 6 digits on which two codes agree, limited by the
 * less specific of the two (0: not in the same province). */
int dc__region_common(const char *a, size_t an, const char *b, size_t bn);

/* ---- time ---- */
int64_t dc__org_now_ms(void);
/* "YYYY-MM-DD" (UTC) of an instant into out[11]. */
void dc__org_date(char out[11], int64_t ms);

/* ---- transactions ---- */
int dc__org_begin(dc_txn **t, dc_replica *r, const char *space);
/* Commits when rc is 0, rolls back otherwise; returns the outcome. */
int dc__org_finish(dc_txn *t, int rc);
/* DC_EMISUSE (on the replica, or thread-local if r is NULL) unless both
 * handles are given. */
int dc__org_handles(dc_replica *r, const void *t, const char *fn);
/* Sets register `field` to string s, or null when s is NULL or "". */
int dc__org_set_str(dc_txn *t, const char *type, const char *id, const char *field, const char *s);

/* 1 if the record exists (live) in `space`, 0 if not, or an error code. */
int dc__org_exists(dc_replica *r, const char *space, const char *type, const char *id);

/* Moves driver `driver` from the roster of branch `from` (NULL: none) to
 * the roster of branch `to` in the branch spaces this replica holds and may
 * write (docs/domain.md, "Moves"); rosters it does not hold are left for
 * their secretaries (the coverage report shows the mismatch).  Returns 0
 * or an error other than a lack of rights. */
int dc__branch_roster_move(dc_replica *r, const char *driver, const char *from, const char *to,
                           const char *joined);

/* ---- reading a dc_record ---- */
/* The string of register `field` copied into a NUL-terminated buffer
 * (truncated to cap-1), or "" when absent or not a string; returns out. */
const char *dc__org_rec_str(const dc_record *rec, const char *field, char *out, size_t cap);
/* True if register `field` is a string equal to s. */
bool dc__org_rec_is(const dc_record *rec, const char *field, const char *s);
/* True if set `field` contains the string s. */
bool dc__org_rec_has(const dc_record *rec, const char *field, const char *s);

/* ---- a growable list of owned strings ---- */
typedef struct dc__strs {
    char **v;
    size_t n, cap;
} dc__strs;

int dc__strs_push(dc__strs *s, const char *p, size_t n);
/* The set members of `field` (string members only), copied. */
int dc__strs_from_set(dc__strs *s, const dc_record *rec, const char *field);
void dc__strs_sort(dc__strs *s);                     /* bytewise; removes duplicates */
bool dc__strs_has(const dc__strs *s, const char *p); /* sorted lists only */
void dc__strs_free(dc__strs *s);

/* ---- JSON output ---- */
/* ,"key": (a comma first unless `first`). */
int dc__org_key(dc_buf *b, const char *key, bool first);
/* A C string as JSON, or null for NULL. */
int dc__org_jstr(dc_buf *b, const char *s);
/* Register `field` of rec as JSON (null when absent). */
int dc__org_jfield(dc_buf *b, const dc_record *rec, const char *field);
/* The string members of set `field`, sorted, as a JSON array. */
int dc__org_jset(dc_buf *b, const dc_record *rec, const char *field);
/* Copies a finished document into the caller's buffer. */
int dc__org_out(dc_buf *out, dc_buf *b);

/* ---- reading an event (a dc_event, typed) ---- */
/* The string value of field `key`, or NULL when absent or not a string. */
const char *dc__ev_str(const dc_event *e, const char *key);
/* 1 for true, 0 for false, -1 when absent or not a boolean. */
int dc__ev_bool(const dc_event *e, const char *key);

#endif
