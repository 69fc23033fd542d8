/*
 * Private to store/: the store handle, its cache of prepared statements and
 * helpers to map SQLite failures to drivercore errors.
 */
#ifndef DC_STORE_INT_H
#define DC_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

enum {
    Q_DEVICE_GET,
    Q_DEVICE_PUT,
    Q_SPACE_GET,
    Q_SPACE_PUT,
    Q_MEMBER_GET,
    Q_MEMBER_PUT,
    Q_MEMBER_PK,
    Q_CHANGE_FIND,
    Q_CHANGE_PUT,
    Q_REC_GET,
    Q_REC_PUT,
    Q_SETADD_PUT,
    Q_SETRM_HAS,
    Q_SETRM_PUT,
    Q_SETADD_DEL,
    Q_EVENT_PUT,
    Q_PURGE_SETS,
    Q_PURGE_EVENTS,
    Q_DEVPK,
    Q_KEY_GET,
    Q_HLC_PUT,
    Q_SEQ_PUT,
    Q_LOAD_SETS,
    Q_LOAD_EVENTS,
    Q_JSON_SETS,
    Q_JSON_EVENTS,
    Q_ENV_BY_ITEM,
    Q_LOCATE,
    Q_KEY_PUT,
    Q_ROLE_AT,
    Q_AUTH_DEL,
    Q_AUTH_PUT,
    Q_MEMBERS_DEL,
    Q_EPOCH_PUT,
    Q_NEED_PUT,
    Q_CONSENT_PUT,
    Q_TRUSTED,
    Q_ASIDE_PUT,
    Q_ASIDE_TRIM,
    Q_SPACE_BY_SID,
    Q_PENDING_ADD,
    Q_PENDING_ANY,
    Q_PENDING_DEL,
    Q_PENDING_READ,
    Q_REC_SAVE,
    Q_REGS_GET,
    Q_SET_HAS,
    Q__COUNT
};

struct dc__store {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    void *zdctx;      /* zstd context for the bodies a fold opens */
    int64_t unfolded; /* ops this handle put in `pending` since its last fold */
    bool folding;     /* a fold is running (reads inside it do not fold) */
};

/* A prepared statement from the cache, reset and with bindings cleared. */
sqlite3_stmt *dc__q(dc__store *s, int which, const char *sql, dc__err *err);
/* Maps the connection's last SQLite error into err and returns the code. */
int dc__sql_err(dc__store *s, dc__err *err, const char *what);
/* Runs SQL text with no results. */
int dc__sql_exec(dc__store *s, const char *sql, dc__err *err);

#endif
