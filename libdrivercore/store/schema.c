/*
 * Opening a replica file and its schema.  The schema version lives in the
 * meta table; an older file is migrated one step at a time inside a
 * transaction, and a file written by a newer library is refused rather than
 * guessed at.  Pragmas: WAL with synchronous=NORMAL, so an app crash loses
 * nothing and a power cut may lose the last commits but never tears one
 * (docs/storage.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

#define DC__PAGE_SIZE_STR "2048"

/* Step n takes a file from schema n-1 to schema n: its SQL, then (if any)
 * the part SQL cannot do, inside the same transaction. */
static int step2_fix(dc__store *s, dc__err *err);
static int step7_fix(dc__store *s, dc__err *err);
static int step8_fix(dc__store *s, dc__err *err);

static const struct {
    const char *sql;
    int (*fix)(dc__store *s, dc__err *err);
} MIGRATIONS[] = {
    {NULL, NULL},
    /* 1: the first schema */
    {"CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
     "CREATE TABLE identity(one INTEGER PRIMARY KEY CHECK (one = 1), sign_pk BLOB NOT NULL,"
     "  sign_sk BLOB NOT NULL, box_pk BLOB NOT NULL, box_sk BLOB NOT NULL, name TEXT NOT NULL);"
     "CREATE TABLE devices(did INTEGER PRIMARY KEY, pk BLOB NOT NULL UNIQUE);"
     "CREATE TABLE spaces(sid INTEGER PRIMARY KEY, space_id BLOB NOT NULL UNIQUE,"
     "  epoch INTEGER NOT NULL DEFAULT 0, my_seq INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE space_keys(sid INTEGER NOT NULL, epoch INTEGER NOT NULL, key BLOB NOT NULL,"
     "  PRIMARY KEY (sid, epoch)) WITHOUT ROWID;"
     "CREATE TABLE members(sid INTEGER NOT NULL, did INTEGER NOT NULL, role INTEGER NOT NULL,"
     "  ever_admin INTEGER NOT NULL, ever_writer INTEGER NOT NULL, box_pk BLOB NOT NULL,"
     "  name TEXT NOT NULL, hlc INTEGER NOT NULL, by_did INTEGER NOT NULL,"
     "  PRIMARY KEY (sid, did)) WITHOUT ROWID;"
     "CREATE TABLE changes(cno INTEGER PRIMARY KEY, sid INTEGER NOT NULL, hlc INTEGER NOT NULL,"
     "  hlc_max INTEGER NOT NULL, cid BLOB NOT NULL, author INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL, kind INTEGER NOT NULL, state INTEGER NOT NULL, env BLOB NOT NULL);"
     "CREATE UNIQUE INDEX changes_by_author ON changes(sid, author, seq);"
     "CREATE INDEX changes_by_time ON changes(sid, hlc, cid);"
     "CREATE INDEX changes_pending ON changes(state, hlc_max) WHERE state <> 0;"
     "CREATE TABLE records(rid INTEGER PRIMARY KEY, sid INTEGER NOT NULL, type TEXT NOT NULL,"
     "  id TEXT NOT NULL, del_hlc INTEGER NOT NULL DEFAULT 0,"
     "  del_did INTEGER NOT NULL DEFAULT 0, UNIQUE (sid, type, id));"
     "CREATE TABLE fields(rid INTEGER NOT NULL, field TEXT NOT NULL, kind INTEGER NOT NULL,"
     "  value, hlc INTEGER NOT NULL, did INTEGER NOT NULL,"
     "  PRIMARY KEY (rid, field)) WITHOUT ROWID;"
     "CREATE TABLE set_adds(rid INTEGER NOT NULL, field TEXT NOT NULL, kind INTEGER NOT NULL,"
     "  value, tag_did INTEGER NOT NULL, tag_seq INTEGER NOT NULL, tag_op INTEGER NOT NULL,"
     "  hlc INTEGER NOT NULL, PRIMARY KEY (rid, field, tag_did, tag_seq, tag_op)) WITHOUT ROWID;"
     /* Keyed like set_adds: a remove only ever takes away adds of the record
      * and field it names, whatever tags it lists. */
     "CREATE TABLE set_removed(rid INTEGER NOT NULL, field TEXT NOT NULL,"
     "  tag_did INTEGER NOT NULL, tag_seq INTEGER NOT NULL, tag_op INTEGER NOT NULL,"
     "  PRIMARY KEY (rid, field, tag_did, tag_seq, tag_op)) WITHOUT ROWID;"
     "CREATE TABLE events(rid INTEGER NOT NULL, hlc INTEGER NOT NULL, did INTEGER NOT NULL,"
     "  op INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (rid, hlc, did, op)) WITHOUT ROWID;",
     NULL},
    /* 2: removal, roles by sequence number, key rotation, consent, and the
     * items set aside (docs/storage.md, "Schema version 2"). */
    {"ALTER TABLE spaces ADD COLUMN kid BLOB;"
     "ALTER TABLE spaces ADD COLUMN consent INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE spaces ADD COLUMN inviter INTEGER NOT NULL DEFAULT 0;"
     /* Every space this device could read so far it had agreed to. */
     "UPDATE spaces SET consent = 2 WHERE EXISTS(SELECT 1 FROM space_keys k "
     "  WHERE k.sid = spaces.sid);"
     "ALTER TABLE space_keys RENAME TO space_keys_v1;"
     "CREATE TABLE space_keys(sid INTEGER NOT NULL, epoch INTEGER NOT NULL, kid BLOB NOT NULL,"
     "  key BLOB NOT NULL, PRIMARY KEY (sid, epoch, kid)) WITHOUT ROWID;"
     "CREATE TABLE member_auth(sid INTEGER NOT NULL, did INTEGER NOT NULL,"
     "  from_seq INTEGER NOT NULL, role INTEGER NOT NULL,"
     "  PRIMARY KEY (sid, did, from_seq)) WITHOUT ROWID;"
     "ALTER TABLE changes ADD COLUMN need INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX changes_membership ON changes(sid, kind) WHERE kind = 2;"
     "CREATE TABLE set_aside(n INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, space BLOB,"
     "  author BLOB, seq INTEGER NOT NULL, cid BLOB, code INTEGER NOT NULL, msg TEXT NOT NULL);",
     step2_fix},
    /* 3: the log first, the state folded in batches: a record's registers,
     * set adds and removed tags packed into its row, field names as
     * numbers, events as msgpack, and the changes not folded yet
     * (docs/storage.md, "Schema version 3").  The state is rebuilt from the
     * log by the first read. */
    {"CREATE TABLE pending(cno INTEGER PRIMARY KEY);"
     "CREATE TABLE names(nid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
     "ALTER TABLE records ADD COLUMN state BLOB;"
     "ALTER TABLE records ADD COLUMN nval INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE records ADD COLUMN nev INTEGER NOT NULL DEFAULT 0;"
     "DROP TABLE fields;"
     "DROP TABLE set_adds;"
     "DROP TABLE set_removed;"
     "DROP TABLE events;"
     "CREATE TABLE events(rid INTEGER NOT NULL, hlc INTEGER NOT NULL, did INTEGER NOT NULL,"
     "  op INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (rid, hlc, did, op)) WITHOUT ROWID;"
     "UPDATE records SET del_hlc = 0, del_did = 0;"
     "INSERT INTO pending(cno) SELECT cno FROM changes WHERE kind = 1 AND state = 0;",
     NULL},
    /* 4: reconciliation fingerprints beside the log, per space: buckets of
     * the items a sync offers with their counts and hash sums (docs/
     * storage.md, "Schema version 4").  Filled only in files that ask for
     * them (a relay's store: meta 'recon_buckets'); empty elsewhere. */
    {"CREATE TABLE recon_buckets(sid INTEGER NOT NULL, hlc INTEGER NOT NULL, cid BLOB NOT NULL,"
     "  n INTEGER NOT NULL, sum BLOB NOT NULL, PRIMARY KEY (sid, hlc, cid)) WITHOUT ROWID;",
     NULL},
    /* 5: attachments — their encrypted objects (chunks and manifests),
     * the manifests this device has opened, each space's fetch policy and
     * what was pushed to which peer (docs/storage.md, "Attachments").
     * Self-contained: it only adds tables. */
    {"CREATE TABLE att_objects(ono INTEGER PRIMARY KEY, sid INTEGER NOT NULL, oid BLOB NOT NULL,"
     "  kind INTEGER NOT NULL, at_ms INTEGER NOT NULL, body BLOB NOT NULL, UNIQUE (sid, oid));"
     "CREATE TABLE attachments(sid INTEGER NOT NULL, aid BLOB NOT NULL,"
     "  size INTEGER NOT NULL DEFAULT -1, nchunks INTEGER NOT NULL DEFAULT -1,"
     "  chunk INTEGER NOT NULL DEFAULT 0, media TEXT, want INTEGER NOT NULL DEFAULT 0,"
     "  at_ms INTEGER NOT NULL, PRIMARY KEY (sid, aid)) WITHOUT ROWID;"
     "CREATE TABLE att_parts(sid INTEGER NOT NULL, aid BLOB NOT NULL, idx INTEGER NOT NULL,"
     "  cid BLOB NOT NULL, PRIMARY KEY (sid, aid, idx)) WITHOUT ROWID;"
     "CREATE INDEX att_parts_by_cid ON att_parts(sid, cid);"
     "CREATE TABLE att_policy(sid INTEGER PRIMARY KEY, mode INTEGER NOT NULL,"
     "  max_bytes INTEGER NOT NULL);"
     "CREATE TABLE att_sent(peer BLOB NOT NULL, sid INTEGER NOT NULL, oid BLOB NOT NULL,"
     "  PRIMARY KEY (peer, sid, oid)) WITHOUT ROWID;",
     NULL},
    /* 6: history compaction — the point each space is compacted to and
     * its base, the state of the covered changes (docs/storage.md,
     * "Compaction").  Self-contained: it only adds tables. */
    {"CREATE TABLE compact_point(sid INTEGER NOT NULL, did INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL, PRIMARY KEY (sid, did)) WITHOUT ROWID;"
     "CREATE TABLE base_records(rid INTEGER PRIMARY KEY, state BLOB, nval INTEGER NOT NULL,"
     "  nev INTEGER NOT NULL, del_hlc INTEGER NOT NULL, del_did INTEGER NOT NULL);"
     "CREATE TABLE base_events(rid INTEGER NOT NULL, hlc INTEGER NOT NULL, did INTEGER NOT NULL,"
     "  op INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (rid, hlc, did, op)) WITHOUT ROWID;"
     "CREATE TABLE covered_items(sid INTEGER NOT NULL, hlc INTEGER NOT NULL, cid BLOB NOT NULL,"
     "  PRIMARY KEY (sid, hlc, cid)) WITHOUT ROWID;",
     NULL},
    /* 7: a record's key apart from its state: rkeys, clustered on
     * (sid, type's number in names, id), holds the key and the row number; rstate, keyed by
     * that number, the state; the view records joins them for reads, and
     * the old table's key index is gone (docs/storage.md, "Schema version
     * 7").  Value index rows carry the record's id.  The old table goes in
     * step7_fix, after the index rows have taken their ids. */
    {"INSERT INTO names(nid, name) SELECT (SELECT coalesce(max(nid) + 1, 0) FROM names)"
     "  + row_number() OVER (ORDER BY type) - 1, type FROM (SELECT DISTINCT type FROM records"
     "  WHERE type NOT IN (SELECT name FROM names));"
     "CREATE TABLE rkeys(sid INTEGER NOT NULL, tno INTEGER NOT NULL, id TEXT NOT NULL,"
     "  rid INTEGER NOT NULL, PRIMARY KEY (sid, tno, id)) WITHOUT ROWID;"
     "INSERT INTO rkeys(sid, tno, id, rid) SELECT r.sid, n.nid, r.id, r.rid FROM records r"
     "  JOIN names n ON n.name = r.type ORDER BY 1, 2, 3;"
     "CREATE TABLE rstate(rid INTEGER PRIMARY KEY, del_hlc INTEGER NOT NULL DEFAULT 0,"
     "  del_did INTEGER NOT NULL DEFAULT 0, state BLOB, nval INTEGER NOT NULL DEFAULT 0,"
     "  nev INTEGER NOT NULL DEFAULT 0);"
     "INSERT INTO rstate(rid, del_hlc, del_did, state, nval, nev)"
     "  SELECT rid, del_hlc, del_did, state, nval, nev FROM records ORDER BY rid;",
     step7_fix},
    /* 8: the envelopes' bytes as one append-only stream in chunks that each
     * fill a leaf page (logbytes), the changes naming theirs by (off, len)
     * instead of holding an `env` BLOB (docs/storage.md, "Schema version
     * 8").  The table is rebuilt: step8_fix moves the envelopes in cno
     * order and puts the new table in the old one's name. */
    {"CREATE TABLE logbytes(n INTEGER PRIMARY KEY, bytes BLOB NOT NULL);"
     "CREATE TABLE changes8(cno INTEGER PRIMARY KEY, sid INTEGER NOT NULL,"
     "  hlc INTEGER NOT NULL, hlc_max INTEGER NOT NULL, cid BLOB NOT NULL,"
     "  author INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
     "  state INTEGER NOT NULL, need INTEGER NOT NULL DEFAULT 0, off INTEGER NOT NULL,"
     "  len INTEGER NOT NULL);",
     step8_fix},
#ifdef DC_TEST_FUTURE
    /* A test build of a future release (tests/versions): one step more. */
    {"CREATE TABLE future_probe(x INTEGER);", NULL},
#endif
};
#define LATEST ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]) - 1)

/* Schema 2, the part SQL cannot do: keys get their key id, and every
 * space's membership is resolved into member_auth by the rule of
 * crdt/membership.c (version-1 grants only raise a role, so every change
 * accepted before stays accepted). */
static int step2_fix(dc__store *s, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT sid, epoch, key FROM space_keys_v1", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "migration 2");
    int rc = 0, x;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_bytes(st, 2) == 32)
            rc = dc__store_key_put(s, sqlite3_column_int64(st, 0),
                                   (uint32_t)sqlite3_column_int64(st, 1),
                                   sqlite3_column_blob(st, 2), err);
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "migration 2");
    sqlite3_finalize(st);
    if (rc || (rc = dc__sql_exec(s, "DROP TABLE space_keys_v1", err)))
        return rc;
    if (sqlite3_prepare_v2(s->db, "SELECT sid FROM spaces ORDER BY sid", -1, &st, NULL) !=
        SQLITE_OK)
        return dc__sql_err(s, err, "migration 2");
    int64_t *sids = NULL;
    size_t n = 0;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t *p = dc__realloc(sids, (n + 1) * sizeof *p);
        if (!p)
            rc = dc__err_set(err, DC_ENOMEM, "migration 2: out of memory");
        else
            (sids = p)[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && !rc; i++) {
        dc__mresolved *r;
        if (!(rc = dc__store_membership_resolve(s, sids[i], &r, err)))
            dc__mresolved_free(r);
    }
    dc__free(sids);
    return rc ? dc__err_prefix(err, "migrating the replica to schema 2") : 0;
}

/* Schema 7, the part that depends on what the file holds: value index rows
 * (made by a first declaration only) take their record's id while the old
 * records table still finds it by rowid; then a view of the new tables
 * takes its name. */
static int step7_fix(dc__store *s, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_schema WHERE name = 'ixvals'", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "migration 7");
    int x = sqlite3_step(st), rc = 0;
    sqlite3_finalize(st);
    if (x != SQLITE_ROW && x != SQLITE_DONE)
        return dc__sql_err(s, err, "migration 7");
    if (x == SQLITE_ROW)
        rc = dc__sql_exec(s,
                          "ALTER TABLE ixvals ADD COLUMN id TEXT NOT NULL DEFAULT '';"
                          "UPDATE ixvals SET id = coalesce((SELECT r.id FROM records r "
                          "  WHERE r.rid = ixvals.rid), '');",
                          err);
    if (!rc)
        rc = dc__sql_exec(s,
                          "DROP TABLE records;"
                          "CREATE VIEW records(sid, type, id, rid, del_hlc, del_did, state, nval,"
                          "  nev) AS SELECT k.sid, n.name, k.id, k.rid, s.del_hlc, s.del_did,"
                          "  s.state, s.nval, s.nev FROM rkeys k JOIN names n ON n.nid = k.tno"
                          "  JOIN rstate s ON s.rid = k.rid;",
                          err);
    return rc ? dc__err_prefix(err, "migrating the replica to schema 7") : 0;
}

/* Schema 8: the stream's chunk size, from this file's usable page size
 * (the page less the bytes an encrypted file reserves, docs/format/
 * at-rest.md): a leaf cell of logbytes is its payload — a 4-byte record
 * header and the bytes — kept whole while the payload is at most the
 * usable size less 35 (SQLite's maxLocal), so a full chunk is usable − 39
 * bytes and its row fills one leaf page.  Kept in meta('log_chunk'): it
 * never changes for a file. */
static int chunk_size(dc__store *s, int64_t *c, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "migration 8");
    int64_t page = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    int reserve = -1;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) != SQLITE_OK)
        reserve = 0;
    if (page < 512 || reserve < 0 || reserve > 255)
        return dc__err_set(err, DC_EIO, "migration 8: the file's page size is not known");
    *c = page - reserve - 39;
    return 0;
}

static int step8_fix(dc__store *s, dc__err *err) {
    int64_t c = 0;
    int rc = chunk_size(s, &c, err);
    if (!rc)
        rc = dc__store_meta_put(s, "log_chunk", c, err);
    s->log_chunk = 0;
    sqlite3_stmt *st = NULL, *in = NULL, *ch = NULL;
    if (!rc &&
        (sqlite3_prepare_v2(s->db,
                            "SELECT cno, sid, hlc, hlc_max, cid, author, seq, kind, state, need, "
                            "env FROM changes ORDER BY cno",
                            -1, &st, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(s->db, "INSERT INTO logbytes(n, bytes) VALUES(?1, ?2)", -1, &in,
                            NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(s->db,
                            "INSERT INTO changes8(cno, sid, hlc, hlc_max, cid, author, seq, kind,"
                            " state, need, off, len) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                            " ?10, ?11, ?12)",
                            -1, &ch, NULL) != SQLITE_OK))
        rc = dc__sql_err(s, err, "migration 8");
    /* The chunk being filled, and the stream's length so far. */
    dc_buf chunk = {0};
    int64_t off = 0, n = 0;
    int x = SQLITE_DONE;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 10);
        size_t len = (size_t)sqlite3_column_bytes(st, 10);
        sqlite3_reset(ch);
        for (int i = 0; i < 10; i++)
            sqlite3_bind_value(ch, i + 1, sqlite3_column_value(st, i));
        sqlite3_bind_int64(ch, 11, off);
        sqlite3_bind_int64(ch, 12, (int64_t)len);
        if (sqlite3_step(ch) != SQLITE_DONE) {
            rc = dc__sql_err(s, err, "migration 8");
            break;
        }
        off += (int64_t)len;
        while (!rc && len) {
            size_t k = (size_t)c - chunk.size < len ? (size_t)c - chunk.size : len;
            if (dc__buf_put(&chunk, p, k)) {
                rc = dc__err_set(err, DC_ENOMEM, "migration 8: out of memory");
                break;
            }
            p += k;
            len -= k;
            if (chunk.size == (size_t)c) {
                sqlite3_reset(in);
                sqlite3_bind_int64(in, 1, n++);
                sqlite3_bind_blob(in, 2, chunk.ptr, (int)chunk.size, SQLITE_STATIC);
                if (sqlite3_step(in) != SQLITE_DONE)
                    rc = dc__sql_err(s, err, "migration 8");
                dc__buf_clear(&chunk);
            }
        }
    }
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "migration 8");
    if (!rc && chunk.size) {
        sqlite3_reset(in);
        sqlite3_bind_int64(in, 1, n);
        sqlite3_bind_blob(in, 2, chunk.ptr, (int)chunk.size, SQLITE_STATIC);
        if (sqlite3_step(in) != SQLITE_DONE)
            rc = dc__sql_err(s, err, "migration 8");
    }
    dc_buf_dispose(&chunk);
    sqlite3_finalize(st);
    sqlite3_finalize(in);
    sqlite3_finalize(ch);
    s->env_inline = false;
    if (!rc)
        rc =
            dc__sql_exec(s,
                         "DROP TABLE changes;"
                         "ALTER TABLE changes8 RENAME TO changes;"
                         "CREATE UNIQUE INDEX changes_by_author ON changes(sid, author, seq);"
                         "CREATE INDEX changes_by_time ON changes(sid, hlc, cid);"
                         "CREATE INDEX changes_pending ON changes(state, hlc_max) WHERE state <> 0;"
                         "CREATE INDEX changes_membership ON changes(sid, kind) WHERE kind = 2;",
                         err);
    return rc ? dc__err_prefix(err, "migrating the replica to schema 8") : 0;
}

int dc__sql_err(dc__store *s, dc__err *err, const char *what) {
    int rc = sqlite3_extended_errcode(s->db);
    int code = DC_EIO;
    switch (rc & 0xff) {
    case SQLITE_NOMEM: code = DC_ENOMEM; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = DC_EBUSY; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = DC_ECORRUPT; break;
    case SQLITE_CONSTRAINT: code = DC_ECONFLICT; break;
    case SQLITE_TOOBIG: code = DC_ETOOBIG; break;
    default: break;
    }
    char msg[256];
    int own = s->vfs ? dc__vfs_take_error(s->vfs, rc, msg, sizeof msg) : 0;
    if (own)
        return dc__err_set(err, own, "%s: %s", what, msg);
    return dc__err_set(err, code, "%s: %s", what, sqlite3_errmsg(s->db));
}

int dc__sql_exec(dc__store *s, const char *sql, dc__err *err) {
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "storage");
    return 0;
}

sqlite3_stmt *dc__q(dc__store *s, int which, const char *sql, dc__err *err) {
    sqlite3_stmt *st = s->q[which];
    if (!st) {
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            dc__sql_err(s, err, "storage: preparing a statement");
            return NULL;
        }
        s->q[which] = st;
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return st;
}

static int user_version(dc__store *s, int *v, dc__err *err) {
    sqlite3_stmt *st;
    *v = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL) !=
        SQLITE_OK) {
        /* No meta table: an empty file, or not a replica at all. */
        sqlite3_stmt *any;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_schema", -1, &any, NULL) !=
            SQLITE_OK)
            return dc__sql_err(s, err, "open");
        int n = sqlite3_step(any) == SQLITE_ROW ? sqlite3_column_int(any, 0) : -1;
        sqlite3_finalize(any);
        if (n < 0)
            return dc__sql_err(s, err, "open");
        if (n > 0)
            return dc__err_set(err, DC_ECORRUPT,
                               "open: the file is an SQLite database but not a "
                               "drivercore replica");
        return 0;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int(st, 0);
    else if (rc != SQLITE_DONE)
        rc = dc__sql_err(s, err, "open");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : rc;
}

/* Test seam (tests/system/test_migrate.c): when set, called every few
 * SQLite steps while a migration runs, so a test can stop the process at
 * any point of it.  NULL in production. */
void (*dc__store_migrate_step)(void);

static int migrate_progress(void *user) {
    (void)user;
    if (dc__store_migrate_step)
        dc__store_migrate_step();
    return 0;
}

static int migrate(dc__store *s, dc__err *err) {
    int v, rc;
    if ((rc = dc__sql_exec(s, "BEGIN IMMEDIATE", err)))
        return rc;
    if (dc__store_migrate_step)
        sqlite3_progress_handler(s->db, 16, migrate_progress, NULL);
    if ((rc = user_version(s, &v, err)))
        goto fail;
    if (v > LATEST) {
        rc = dc__err_set(err, DC_EVERSION,
                         "open: the replica has schema version %d, newer than "
                         "this library's %d; upgrade drivercore",
                         v, LATEST);
        goto fail;
    }
    s->env_inline = v < 8;
    for (int step = v + 1; step <= LATEST; step++) {
        if ((rc = dc__sql_exec(s, MIGRATIONS[step].sql, err)) ||
            (MIGRATIONS[step].fix && (rc = MIGRATIONS[step].fix(s, err))))
            goto fail;
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', %d)",
                 step);
        if ((rc = dc__sql_exec(s, sql, err)))
            goto fail;
    }
    rc = dc__sql_exec(s, "COMMIT", err);
    sqlite3_progress_handler(s->db, 0, NULL, NULL);
    s->env_inline = false;
    return rc;
fail:
    s->env_inline = false;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_progress_handler(s->db, 0, NULL, NULL);
    return rc;
}

/* Waiting for another connection's write lock (a sync thread importing in
 * short slices while the UI thread writes): retry every millisecond, not
 * with SQLite's growing sleeps, so the lock is taken soon after it is free;
 * give up after 5 s (DC_EBUSY). */
static int busy_wait(void *user, int count) {
    (void)user;
    if (count >= 5000)
        return 0;
    dc__store_lock_waited(); /* a fold in this process lets the lock go */
    sqlite3_sleep(1);
    return 1;
}

int dc__store_schema_version(dc__store *s, int *v, dc__err *err) {
    return user_version(s, v, err);
}

int dc__store_schema_latest(void) {
    return LATEST;
}

int dc__store_connect(dc__store *s, bool must_exist, dc__err *err) {
    s->ix_epoch = -1; /* the declared indexes are read at the first fold */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (must_exist ? 0 : SQLITE_OPEN_CREATE);
    int rc;
    if (sqlite3_open_v2(s->path, &s->db, flags, s->vfs ? dc__vfs_name(s->vfs) : NULL) !=
        SQLITE_OK) {
        return s->db ? dc__sql_err(s, err, "open")
                     : dc__err_set(err, DC_ENOMEM, "open: out of memory");
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_handler(s->db, busy_wait, NULL);
    if (s->vfs) {
        /* Encrypted: every page keeps its last bytes for the nonce and tag
         * (this sets them for a new file; an existing one has them), and
         * SQLite keeps its temporary files in memory, never on disk. */
        int reserve = DC__AR_RESERVE;
        char sql[80];
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
        snprintf(sql, sizeof sql, "PRAGMA page_size=%u; PRAGMA temp_store=MEMORY;",
                 dc__vfs_page_size(s->vfs));
        if ((rc = dc__sql_exec(s, sql, err)))
            return rc;
    } else if ((rc = dc__sql_exec(s, "PRAGMA page_size=" DC__PAGE_SIZE_STR, err))) {
        /* A new file in clear takes 2048-byte pages (an existing one keeps
         * its own): a commit writes a few pages at the log's tail, so small
         * pages halve the bytes it writes, and a change envelope of a few
         * kilobytes spills into overflow pages instead of leaving most of a
         * large page empty (docs/storage.md, "Schema version 3"). */
        return rc;
    }
    /* Refuse a foreign SQLite file before changing anything in it (the
     * journal mode is persistent). */
    int v;
    if ((rc = user_version(s, &v, err)))
        return rc;
    if ((rc = dc__sql_exec(s,
                           s->durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                      : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                           err)) ||
        (rc = dc__sql_exec(s, "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;", err)) ||
        /* A file at this library's schema is not written to open it: no
         * write lock (migrate checks the version again under it). */
        (v != LATEST && (rc = migrate(s, err))))
        return rc;
    /* A file that keeps fingerprints keeps them whichever handle writes. */
    int64_t fp = 0;
    rc = dc__store_meta_get(s, "recon_buckets", &fp, err);
    s->fp = rc == 0 && fp == 1;
    return rc == DC_ENOTFOUND ? 0 : rc;
}

int dc__store_global_init(dc__err *err) {
    /* SQLite's own set-up (its mutexes, memory, VFSes, built-in functions)
     * runs once per process; without this call the first sqlite3_open_v2
     * does it (docs/storage.md, "Memory to open"). */
    int rc = sqlite3_initialize();
    if (rc != SQLITE_OK)
        return dc__err_set(err, DC_ERROR, "SQLite could not initialise: %s", sqlite3_errstr(rc));
    return 0;
}

int dc__store_open(dc__store **out, const char *path, bool must_exist, bool durable, dc_key_fn key,
                   void *key_user, dc__err *err) {
    *out = NULL;
    bool memory = strcmp(path, ":memory:") == 0;
    if (must_exist && !memory && access(path, F_OK) != 0)
        return dc__err_set(err, DC_ENOTFOUND, "open: no replica at %s (create it first)", path);
    dc__store *s = dc__calloc(1, sizeof *s);
    if (!s)
        return dc__err_set(err, DC_ENOMEM, "open: out of memory");
    s->durable = durable;
    s->path = dc__strndup(path, strlen(path));
    int rc;
    if (!s->path) {
        rc = dc__err_set(err, DC_ENOMEM, "open: out of memory");
        goto fail;
    }
    if ((rc = dc__store_atrest_prepare(s, must_exist, key, key_user, err)) ||
        (rc = dc__store_connect(s, must_exist, err)))
        goto fail;
    *out = s;
    return 0;
fail:
    dc__store_close(s);
    return rc;
}

int dc__store_integrity_check(dc__store *s, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "integrity check");
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = dc__sql_err(s, err, "integrity check");
    } else {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        char own[256];
        /* A page that failed authentication is reported by SQLite as "unable
         * to get the page"; the VFS knows which and why. */
        if (msg && strcmp(msg, "ok") == 0)
            rc = 0;
        else if (s->vfs && dc__vfs_take_error(s->vfs, SQLITE_IOERR_DATA, own, sizeof own))
            rc = dc__err_set(err, DC_ECORRUPT, "integrity check: %s", own);
        else
            rc = dc__err_set(err, DC_ECORRUPT, "integrity check: %s", msg ? msg : "(no answer)");
    }
    sqlite3_finalize(st);
    return rc;
}

bool dc__store_encrypted(const dc__store *s) {
    return s->vfs != NULL;
}

void dc__store_disconnect(dc__store *s) {
    for (int i = 0; i < Q__COUNT; i++) {
        sqlite3_finalize(s->q[i]);
        s->q[i] = NULL;
    }
    dc__zstd_free_ctx(NULL, s->zdctx);
    s->zdctx = NULL;
    dc__names_reset(&s->names);
    dc__store_tnames_free(s);
    dc__store_opened_clear(s);
    dc__free(s->opened);
    s->opened = NULL;
    s->copened = 0;
    dc__store_index_free(s);
    dc_buf_dispose(&s->envbuf);
    dc__store_tail_free(s);
    s->log_chunk = 0;
    s->lr_on = false;
    if (s->db) {
        /* Every statement is finalized by now, so this closes the file at
         * once (a deferred close would outlive the VFS it uses). */
        sqlite3_stmt *st;
        while ((st = sqlite3_next_stmt(s->db, NULL)) != NULL)
            sqlite3_finalize(st);
        sqlite3_close(s->db);
        s->db = NULL;
    }
}

void dc__store_close(dc__store *s) {
    if (!s)
        return;
    dc__store_disconnect(s);
    dc__vfs_free(s->vfs);
    dc__free(s->noticed);
    dc__free(s->path);
    dc__free(s);
}

int dc__store_begin(dc__store *s, dc__err *err) {
    /* Another connection may have appended since: the stream's last chunk
     * is read again at this transaction's first append. */
    dc__store_tail_forget(s);
    return dc__sql_exec(s, "BEGIN IMMEDIATE", err);
}

int dc__store_commit(dc__store *s, dc__err *err) {
    int rc = dc__store_tail_flush(s, err);
    if (!rc)
        rc = dc__sql_exec(s, "COMMIT", err);
    if (rc)
        dc__store_rollback(s);
    dc__store_tail_forget(s);
    return rc;
}

int dc__store_read_begin(dc__store *s, dc__err *err) {
    return dc__sql_exec(s, "BEGIN", err);
}

void dc__store_read_end(dc__store *s) {
    /* A read transaction appends nothing; were it to, its bytes are
     * written before the COMMIT, or it all rolls back. */
    dc__err e = {0, ""};
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, dc__store_tail_flush(s, &e) ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    dc__store_tail_forget(s);
}

int dc__store_cache_kib(dc__store *s, int kib, dc__err *err) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", kib);
    return dc__sql_exec(s, sql, err);
}

int dc__store_backup(const char *path, const char *dest, dc__err *err) {
    if (access(path, F_OK) != 0)
        return dc__err_set(err, DC_ENOTFOUND, "backup: no store at %s", path);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.partial", dest) >= (int)sizeof tmp)
        return dc__err_set(err, DC_EINVAL, "backup: the path %s is too long", dest);
    dc__os_remove(tmp);
    dc__store s;
    memset(&s, 0, sizeof s);
    /* VACUUM INTO copies one read transaction's snapshot: writers go on
     * (WAL), the copy is consistent and compact.  It is a plain SQLite
     * file in clear: an encrypted replica is not backed up this way. */
    if (sqlite3_open_v2(path, &s.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        int rc = s.db ? dc__sql_err(&s, err, "backup: opening the store")
                      : dc__err_set(err, DC_ENOMEM, "backup: out of memory");
        sqlite3_close(s.db);
        return rc;
    }
    sqlite3_busy_handler(s.db, busy_wait, NULL);
    int v = 0, rc = user_version(&s, &v, err);
    if (!rc && v == 0)
        rc = dc__err_set(err, DC_ECORRUPT, "backup: %s is not a drivercore store", path);
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_prepare_v2(s.db, "VACUUM INTO ?", -1, &st, NULL) != SQLITE_OK)
        rc = dc__sql_err(&s, err, "backup");
    if (!rc) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = dc__sql_err(&s, err, "backup: copying");
    }
    sqlite3_finalize(st);
    sqlite3_close(s.db);
    /* The copy is checked before it replaces anything. */
    memset(&s, 0, sizeof s);
    if (!rc &&
        sqlite3_open_v2(tmp, &s.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        rc = dc__sql_err(&s, err, "backup: reading the copy");
    if (!rc)
        rc = dc__store_integrity_check(&s, err);
    sqlite3_close(s.db);
    int e = 0;
    if (!rc && ((e = dc__os_sync_file(tmp)) || (e = dc__os_rename(tmp, dest)) ||
                (e = dc__os_sync_dir_of(dest))))
        rc = dc__err_set(err, DC_EIO, "backup: writing %s: %s", dest, strerror(e));
    if (rc)
        dc__os_remove(tmp);
    return rc;
}

int dc__store_savepoint(dc__store *s, dc__err *err) {
    /* The stream's last chunk as it is now, for a rollback to it. */
    int rc = dc__store_tail_mark(s, err);
    if (!rc && (rc = dc__sql_exec(s, "SAVEPOINT dc_group", err)))
        dc__store_tail_unmark(s);
    return rc;
}

int dc__store_savepoint_release(dc__store *s, dc__err *err) {
    /* A savepoint that began the transaction commits it when released. */
    bool outer = s->sp_on && s->sp_outer;
    int rc = outer ? dc__store_tail_flush(s, err) : 0;
    if (!rc)
        rc = dc__sql_exec(s, "RELEASE dc_group", err);
    dc__store_tail_unmark(s);
    if (outer)
        dc__store_tail_forget(s);
    return rc;
}

void dc__store_savepoint_rollback(dc__store *s) {
    dc__names_reset(&s->names);
    /* Row numbers of records made inside may be given again. */
    dc__store_tnames_clear(s);
    dc__store_opened_clear(s);
    sqlite3_exec(s->db, "ROLLBACK TO dc_group; RELEASE dc_group", NULL, NULL, NULL);
    /* The stream's last chunk as it was at the savepoint. */
    dc__store_tail_restore(s);
}

void dc__store_rollback(dc__store *s) {
    /* A name this handle numbered inside the transaction is gone with it. */
    dc__names_reset(&s->names);
    dc__store_tnames_clear(s);
    /* Its rows may be numbered again for other changes. */
    dc__store_opened_clear(s);
    /* The bytes appended in memory go with the transaction. */
    dc__store_tail_forget(s);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}
