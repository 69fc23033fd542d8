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
    Q_REC_NEW,
    Q_RKEY_NEW,
    Q_REGS_GET,
    Q_SET_HAS,
    Q_NAME_ID,
    Q_NAME_PUT,
    Q_NAME_OF,
    Q_EACH_ALL,
    Q_EACH_ONE,
    Q_COUNT,
    Q_IX_DEL,
    Q_IX_PUT,
    Q_FP_ITEMS,
    Q_FP_ITEMS_TAIL,
    Q_FP_PUT,
    Q_FP_NEXT,
    Q_FP_FIND,
    Q_FP_ROW,
    Q_COMPACT_COVERED,
    Q_COVERED_HAS,
    Q_COVERED_NOTE,
    Q_FP_ALL,
    Q_LOG_READ,
    Q_LOG_TAIL,
    Q_LOG_SET,
    Q_LOG_ADD,
    Q_LOG_FREE,
    Q_LOG_SPAN,
    Q_LOG_PREV,
    Q_LOG_NEXT,
    Q__COUNT
};

/* ---- the at-rest VFS (vfs.c) ---- */
typedef struct dc__vfs dc__vfs;
/* A VFS instance for one connection, registered under a unique name. */
int dc__vfs_new(dc__vfs **out, dc__err *err);
const char *dc__vfs_name(const dc__vfs *v);
/* The page size of the first database (0 if it is in clear). */
uint32_t dc__vfs_page_size(const dc__vfs *v);
/* The files of the database at `path` (its WAL and journal too) are
 * encrypted with the keys of header h and master key `master`, or in clear
 * when h is NULL.  At most two databases per instance. */
int dc__vfs_add(dc__vfs *v, const char *path, const dc__ar_header *h,
                const uint8_t master[DC_KEY_BYTES], dc__err *err);
/* Forgets the databases added after the first n. */
void dc__vfs_truncate(dc__vfs *v, int n);
/* SQLite's full pathname of path (dc__malloc'd). */
int dc__vfs_full_path(dc__vfs *v, const char *path, char **out, dc__err *err);
/* Unregisters and wipes; NULL ok.  No connection may still use it. */
void dc__vfs_free(dc__vfs *v);
/* If the VFS itself diagnosed the failure SQLite reports as sqlite_code,
 * copies its message and returns the drivercore code; else 0. */
int dc__vfs_take_error(dc__vfs *v, int sqlite_code, char *msg, size_t cap);
/* Test seam: called before each I/O on an encrypted file; non-zero fails
 * it (tests also kill the process from it).  NULL outside tests. */
enum { DC__VFS_OPEN = 1, DC__VFS_READ, DC__VFS_WRITE, DC__VFS_SYNC, DC__VFS_TRUNCATE };
typedef int (*dc__vfs_fault_fn)(int op);
extern dc__vfs_fault_fn dc__vfs_fault;

/* The field names this handle has seen, both ways (names.c). */
typedef struct dc__names {
    char **name; /* by number; NULL where not seen */
    uint32_t *len;
    size_t cap;
    uint32_t *slot; /* open-addressing hash of names: number + 1 */
    size_t nslot, count;
} dc__names;

void dc__names_reset(dc__names *c);
/* The number of field name (p, n); with `create`, a new name is numbered
 * (inside the caller's write transaction), else DC_ENOTFOUND (no message). */
int dc__store_name_id(dc__store *s, const char *p, size_t n, bool create, uint32_t *fid,
                      dc__err *err);
/* The name of field number `fid` (valid while the handle is open). */
int dc__store_name_of(dc__store *s, uint32_t fid, const char **p, size_t *n, dc__err *err);

struct dc__store {
    sqlite3 *db;
    dc__vfs *vfs; /* NULL: the file is in clear (SQLite's default VFS) */
    char *path;
    bool durable;
    sqlite3_stmt *q[Q__COUNT];
    void *zdctx;      /* zstd context for the bodies a fold opens */
    int64_t unfolded; /* ops this handle put in `pending` since its last fold */
    bool folding;     /* a fold is running (reads inside it do not fold) */
    bool fp;          /* the file keeps reconciliation fingerprints (fingerprint.c) */
    dc__names names;
    /* The names of the records the current fold cycle touched (rid, sid,
     * and type and id in tn_buf), so that notifying them needs no lookup
     * by number, which rkeys has no index for (docs/storage.md, "Schema
     * version 7"): forgotten by a rollback, and by the first touch of an
     * empty list once they are many. */
    struct dc__tname *tn;
    size_t ntn, ctn;
    bool tn_sorted;
    dc_buf tn_buf;
    /* Value indexes (index.c): the declarations as of meta 'index_epoch'. */
    struct dc__ixdef *ix;
    size_t nix;
    int64_t ix_epoch; /* -1: not loaded */
    /* Spaces whose `@compact` point a fold of this handle added an event
     * to, for the replica to compact once its import ends (compact.c). */
    int64_t *noticed;
    size_t nnoticed, cnoticed;
    /* Bodies this handle's imports opened, in row order, for its next fold
     * (fold.c, dc__store_pending_add_opened). */
    struct dc__opened_row *opened;
    size_t nopened, copened;
    uint64_t opened_ops;
    /* The log's byte stream (store.c, docs/storage.md "Schema version 8"):
     * its chunk size (0: not read yet), the chunk the reader's statement
     * (q[Q_LOG_READ]) stands on (lr_on), and the buffer an envelope is
     * read into. */
    int64_t log_chunk;
    int64_t lr_n;
    bool lr_on;
    dc_buf envbuf;
    /* The stream's last, partly full chunk while a write transaction runs
     * (docs/storage.md, "The last chunk in memory"): its number, the bytes
     * held (lt_len < C, in lt of C bytes) and how many of them its row in
     * logbytes holds (-1: no row yet).  lt_on: read in this transaction;
     * lt_broken: a write of the stream failed half way (the transaction
     * may only roll back).  sp_*: the same at the savepoint (dc_group). */
    uint8_t *lt, *sp;
    int64_t lt_n, lt_len, lt_stored;
    int64_t sp_n, sp_len, sp_stored;
    bool lt_on, lt_broken;
    bool sp_on, sp_lt_on, sp_broken, sp_outer;
    /* A migration from before schema 8 is running: the envelopes are still
     * in changes.env (step 2 resolves memberships from them). */
    bool env_inline;
};

/* The stream's last chunk kept in memory (store.c): written to logbytes
 * (flush, before a COMMIT or a RELEASE that ends the transaction), forgotten
 * (a transaction begins or ends), freed (the handle closes); the savepoint's
 * copy taken, dropped, and put back by a rollback to it. */
int dc__store_tail_flush(dc__store *s, dc__err *err);
void dc__store_tail_forget(dc__store *s);
void dc__store_tail_free(dc__store *s);
int dc__store_tail_mark(dc__store *s, dc__err *err);
void dc__store_tail_unmark(dc__store *s);
void dc__store_tail_restore(dc__store *s);

/* Drops the bodies kept for the fold (wiped). */
void dc__store_opened_clear(dc__store *s);

/* The declared indexes, reloaded when another handle declared one. */
int dc__store_index_sync(dc__store *s, dc__err *err);
/* A record's state was saved: its index rows follow (none when nothing is
 * declared on its space and type). */
int dc__store_index_update(dc__store *s, int64_t rid, int64_t sid, const dc__str *type,
                           const dc__str *id, const dc__recdata *d, dc__err *err);
/* A record's rows made (schema 7: its state row in rstate, whose row
 * number is its rid, and its key in rkeys, the type as its number in
 * names), with the state columns given
 * (state NULL when `state` is NULL): the caller's write transaction. */
/* The names the fold kept for notifications forgotten / freed. */
void dc__store_tnames_clear(dc__store *s);
void dc__store_tnames_free(dc__store *s);
int dc__store_record_insert(dc__store *s, int64_t sid, const dc__str *type, const dc__str *id,
                            int64_t del_hlc, int64_t del_did, const void *state, size_t nstate,
                            int64_t nval, int64_t nev, int64_t *rid, dc__err *err);
void dc__store_index_free(dc__store *s);
/* A space's state is rebuilt: its index rows go (the fold writes them
 * again).  Nothing when no index was ever declared. */
int dc__store_index_clear_space(dc__store *s, int64_t sid, dc__err *err);

/* A prepared statement from the cache, reset and with bindings cleared. */
sqlite3_stmt *dc__q(dc__store *s, int which, const char *sql, dc__err *err);
/* Maps the connection's last SQLite error into err and returns the code. */
int dc__sql_err(dc__store *s, dc__err *err, const char *what);
/* Runs SQL text with no results. */
int dc__sql_exec(dc__store *s, const char *sql, dc__err *err);

/* Opens s->db on s->path through s->vfs (if any), sets the pragmas and
 * migrates the schema (schema.c). */
int dc__store_connect(dc__store *s, bool must_exist, dc__err *err);
/* Finalizes the cached statements and closes s->db. */
void dc__store_disconnect(dc__store *s);
/* Schema version of a connection: 0 for an empty file; DC_ECORRUPT for a
 * database that is not a replica (schema.c). */
int dc__store_schema_version(dc__store *s, int *v, dc__err *err);
/* The highest schema version this library knows. */
int dc__store_schema_latest(void);
/* Test seam: called every few SQLite steps of a migration (schema.c). */
extern void (*dc__store_migrate_step)(void);
/* At rest (atrest.c): looks at the file, asks the key provider if there is
 * one, creates or migrates the file, and sets s->vfs.  fn NULL: clear. */
int dc__store_atrest_prepare(dc__store *s, bool must_exist, dc_key_fn fn, void *user, dc__err *err);

#endif
