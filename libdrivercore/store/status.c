/*
 * Totals over every space for a sync status (dc_replica_sync_status): the
 * changes held, opaque, rejected, unauthorised or of a future format, and
 * those this device wrote that no relay has acknowledged (its sequence
 * number beyond the space's meta 'acked:' value, as dc_replica_status
 * counts them per space).
 */
#include <string.h>

#include "store/store_int.h"

int dc__store_totals(dc__store *s, dc__totals *t, dc__err *err) {
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT coalesce(sum(state = 1), 0), coalesce(sum(state = 2), 0), "
                           "coalesce(sum(state = 3), 0), coalesce(sum(state = 4), 0), "
                           "coalesce(sum(state = 5), 0) FROM changes",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "status");
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        t->held = (uint64_t)sqlite3_column_int64(st, 0);
        t->opaque = (uint64_t)sqlite3_column_int64(st, 1);
        t->rejected = (uint64_t)sqlite3_column_int64(st, 2);
        t->unauthorised = (uint64_t)sqlite3_column_int64(st, 3);
        t->future = (uint64_t)sqlite3_column_int64(st, 4);
    } else {
        rc = dc__sql_err(s, err, "status");
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT coalesce(sum(max(p.my_seq - coalesce((SELECT value FROM meta "
                           "WHERE key = 'acked:' || lower(hex(p.space_id))), 0), 0)), 0) "
                           "FROM spaces p",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "status");
    if (sqlite3_step(st) == SQLITE_ROW)
        t->unacked = (uint64_t)sqlite3_column_int64(st, 0);
    else
        rc = dc__sql_err(s, err, "status");
    sqlite3_finalize(st);
    return rc;
}
