/*
 * The replica file at rest, above the VFS: what kind of file is at a path
 * (absent, empty, an SQLite database in clear, an encrypted replica),
 * asking the app's key provider, creating an encrypted file, and the one
 * copy routine behind both the migration of a plaintext replica and a
 * rekey: the file is copied under the new key with VACUUM INTO into
 * REPLICA-rekey, synced, and renamed over the replica, so that a crash at
 * any point leaves either the old file or the new one, whole
 * (docs/format/at-rest.md, "Migration and rekey").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "store/store_int.h"

enum { FILE_ABSENT, FILE_EMPTY, FILE_PLAIN, FILE_ENCRYPTED, FILE_OTHER };

/* The page size of a new encrypted replica (and of the copy a migration or
 * rekey writes).  Every page written costs a cipher pass over the whole
 * page, and an update of one record rewrites whole pages: on the bench's
 * writes of records spread over a table, 2048-byte pages cost 12 % less CPU
 * than SQLite's default 4096, and 1024-byte ones lose again to deeper trees
 * and more overflow pages (measured, docs/format/at-rest.md). */
#define NEW_PAGE_SIZE 2048

/* ---- looking at a file ---- */

/* Reads the start of the file through SQLite's default VFS, which shares
 * descriptors and locks with any connection of this process that has the
 * file open (a plain open() and close() would drop their locks). */
static int probe(const char *path, int *kind, dc__ar_header *h, uint32_t *page_size, dc__err *err) {
    sqlite3_vfs *base = sqlite3_vfs_find(NULL);
    *kind = FILE_OTHER;
    *page_size = NEW_PAGE_SIZE;
    if (!base)
        return dc__err_set(err, DC_ERROR, "open: SQLite has no default VFS");
    /* stat(2), not SQLite's xAccess, which calls an empty file absent. */
    int64_t fsize = 0;
    int e = dc__os_size(path, &fsize);
    if (e == ENOENT) {
        *kind = FILE_ABSENT;
        return 0;
    }
    if (e)
        return dc__err_set(err, DC_EIO, "%s", strerror(e));
    if (fsize == 0) {
        *kind = FILE_EMPTY;
        return 0;
    }
    sqlite3_file *f = dc__calloc(1, (size_t)base->szOsFile);
    uint8_t *buf = dc__malloc(65536);
    int rc = 0;
    if (!f || !buf) {
        rc = dc__err_set(err, DC_ENOMEM, "open: out of memory");
        goto out;
    }
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_MAIN_DB;
    int src = base->xOpen(base, path, f, flags, &flags);
    if (src != SQLITE_OK) {
        f->pMethods = NULL;
        rc = dc__err_set(err, src == SQLITE_NOMEM ? DC_ENOMEM : DC_EIO, "%s", sqlite3_errstr(src));
        goto out;
    }
    sqlite3_int64 size = 0;
    src = f->pMethods->xFileSize(f, &size);
    if (src == SQLITE_OK && size > 0) {
        int n = size < 65536 ? (int)size : 65536;
        src = f->pMethods->xRead(f, buf, n, 0);
        if (src == SQLITE_OK && dc__ar_is_header(buf, (size_t)n)) {
            *kind = FILE_ENCRYPTED;
            rc = dc__ar_header_parse(h, buf, (size_t)n, err);
            if (!rc && (uint64_t)n < h->page_size)
                rc = dc__err_set(err, DC_ECORRUPT, "the at-rest header is truncated");
            for (uint32_t i = DC__AR_HEADER; !rc && i < h->page_size; i++)
                if (buf[i])
                    rc = dc__err_set(err, DC_ECORRUPT,
                                     "byte %u of the at-rest header block is not zero", i);
        } else if (src == SQLITE_OK && n >= 100 && memcmp(buf, "SQLite format 3", 16) == 0) {
            *kind = FILE_PLAIN;
            uint32_t ps = (uint32_t)buf[16] << 8 | buf[17];
            *page_size = ps == 1 ? 65536 : ps;
        }
    } else if (src == SQLITE_OK) {
        *kind = FILE_EMPTY;
    }
    f->pMethods->xClose(f);
    if (src != SQLITE_OK && !rc)
        rc = dc__err_set(err, DC_EIO, "%s", sqlite3_errstr(src));
out:
    dc__free(f);
    dc__free(buf);
    return rc;
}

/* ---- the key provider ---- */

static int ask(dc_key_fn fn, void *user, int purpose, dc_key **out, const char *path,
               dc__err *err) {
    *out = NULL;
    dc_key *k = dc__key_new();
    if (!k)
        return dc__err_set(err, DC_ENOMEM, "open: out of guarded memory for the key");
    int urc = fn(user, k, purpose);
    if (urc != 0) {
        dc__key_free(k);
        return dc__err_set(err, DC_EUSER,
                           "the key provider refused to give the %skey of %s (it returned %d); "
                           "nothing was changed",
                           purpose == DC_KEY_NEW ? "new " : "", path, urc);
    }
    if (k->kind == DC__KEY_NONE) {
        dc__key_free(k);
        return dc__err_set(err, DC_EKEY,
                           "the key provider returned without giving a key for %s (call "
                           "dc_key_set or dc_key_set_passphrase once)",
                           path);
    }
    *out = k;
    return 0;
}

/* A new key and header: asks the provider (DC_KEY_NEW), derives the master
 * key into `master` (guarded memory) and seals the header with it. */
static int new_key(dc__ar_header *h, uint8_t *master, uint32_t page_size, dc_key_fn fn, void *user,
                   const char *path, dc__err *err) {
    dc_key *k;
    int rc = ask(fn, user, DC_KEY_NEW, &k, path, err);
    if (rc)
        return rc;
    dc__ar_header_new(h, page_size,
                      k->kind == DC__KEY_PASSPHRASE ? DC__AR_KDF_ARGON2ID : DC__AR_KDF_RAW);
    rc = dc__ar_master(master, k, h, err);
    dc__key_free(k);
    if (!rc)
        dc__ar_header_seal(h, master);
    return rc;
}

/* The header block of a new file: the header, then zeros to one page. */
static int write_header(const char *path, const dc__ar_header *h, bool publish, dc__err *err) {
    uint8_t *block = dc__calloc(1, h->page_size);
    if (!block)
        return dc__err_set(err, DC_ENOMEM, "out of memory");
    dc__ar_header_encode(block, h);
    int e = publish ? dc__os_publish_new(path, block, h->page_size)
                    : dc__os_write_new(path, block, h->page_size);
    dc__free(block);
    if (e == EEXIST)
        return dc__err_set(err, DC_EBUSY,
                           "%s appeared while it was being created (another process?); open it "
                           "again",
                           path);
    if (e)
        return dc__err_set(err, DC_EIO, "cannot create %s: %s", path, strerror(e));
    return 0;
}

/* ---- the copy behind migration and rekey ---- */

typedef struct copy_names {
    char tmp[4096], tmp_journal[4120], tmp_wal[4120], wal[4120];
} copy_names;

static int names(copy_names *n, const char *path, dc__err *err) {
    if ((size_t)snprintf(n->tmp, sizeof n->tmp, "%s-rekey", path) >= sizeof n->tmp)
        return dc__err_set(err, DC_EINVAL, "open: the path %s is too long", path);
    snprintf(n->tmp_journal, sizeof n->tmp_journal, "%s-journal", n->tmp);
    snprintf(n->tmp_wal, sizeof n->tmp_wal, "%s-wal", n->tmp);
    snprintf(n->wal, sizeof n->wal, "%s-wal", path);
    return 0;
}

static void remove_tmp(const copy_names *n) {
    dc__os_remove(n->tmp);
    dc__os_remove(n->tmp_journal);
    dc__os_remove(n->tmp_wal);
}

static int exec(sqlite3 *db, const char *sql, const char *what, dc__err *err) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    dc__store tmp = {.db = db};
    return dc__sql_err(&tmp, err, what);
}

/*
 * Copies the replica at `path`, read through `v` (whose first database is
 * `path`, encrypted or in clear), into a file encrypted under a new key
 * asked from fn, and renames it over `path`.  On success *h and `master`
 * describe the new file.  On failure `path` is as it was, except when
 * *renamed is set: the new file is in place (so *h and `master` describe
 * it) but its directory could not be synced, and a power cut could still
 * bring the old one back.
 */
static int recrypt(dc__vfs *v, const char *path, dc_key_fn fn, void *user, dc__ar_header *h,
                   uint8_t *master, bool *renamed, dc__err *err) {
    copy_names n;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    dc__store tmp = {0};
    int rc, ver, made = 0, page_size = 0, reserve = DC__AR_RESERVE, step, e;
    int64_t wal_size = 0;
    *renamed = false;
    if ((rc = names(&n, path, err)))
        return rc;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, dc__vfs_name(v)) !=
        SQLITE_OK) {
        tmp.db = db;
        tmp.vfs = v;
        rc = db ? dc__sql_err(&tmp, err, "open") : dc__err_set(err, DC_ENOMEM, "out of memory");
        goto fail;
    }
    tmp.db = db;
    tmp.vfs = v;
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    /* Exclusive locking: the first write transaction takes an exclusive
     * lock on the file and keeps it until close, so no other connection,
     * in this process or another, can read or write it meanwhile. */
    if ((rc = exec(db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;", "open", err)))
        goto fail;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = dc__sql_err(&tmp, err, "open");
        if (rc == DC_EBUSY)
            rc = dc__err_set(err, DC_EBUSY,
                             "another connection has %s open; close it first (the file is "
                             "re-encrypted only while nobody else uses it)",
                             path);
        goto fail;
    }
    /* Only a replica of a schema this library knows is copied: another
     * database, or a newer one, stays untouched. */
    rc = dc__store_schema_version(&tmp, &ver, err);
    if (!rc && ver > dc__store_schema_latest())
        rc = dc__err_set(err, DC_EVERSION,
                         "the replica has schema version %d, newer than this library's %d; "
                         "upgrade drivercore",
                         ver, dc__store_schema_latest());
    if (rc || (rc = exec(db, "COMMIT", "open", err)))
        goto fail;
    /* The copy gets the page size of new encrypted replicas (VACUUM INTO
     * honours it); the VFS refuses any page of another size. */
    page_size = NEW_PAGE_SIZE;
    {
        char sql[48];
        snprintf(sql, sizeof sql, "PRAGMA page_size=%d", page_size);
        if ((rc = exec(db, sql, "copy", err)))
            goto fail;
    }
    if ((rc = new_key(h, master, (uint32_t)page_size, fn, user, path, err)))
        goto fail;
    /* A copy left by an earlier attempt that was killed is only
     * ciphertext, but it is in the way. */
    remove_tmp(&n);
    if ((rc = write_header(n.tmp, h, false, err)))
        goto fail;
    made = 1;
    if ((rc = dc__vfs_add(v, n.tmp, h, master, err)))
        goto fail;
    /* VACUUM INTO writes the copy with the reserve the source asks for. */
    sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    if (sqlite3_prepare_v2(db, "VACUUM INTO ?", -1, &st, NULL) != SQLITE_OK) {
        rc = dc__sql_err(&tmp, err, "copy");
        goto fail;
    }
    sqlite3_bind_text(st, 1, n.tmp, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        rc = dc__sql_err(&tmp, err, "copy");
        goto fail;
    }
    e = dc__os_sync_file(n.tmp);
    if (e) {
        rc = dc__err_set(err, DC_EIO, "copy: cannot sync %s: %s", n.tmp, strerror(e));
        goto fail;
    }
    /* The last connection: this checkpoints the old WAL into the old file
     * and deletes it, so no stale WAL is left under the replica's name. */
    if (sqlite3_close(db) != SQLITE_OK) {
        rc = dc__sql_err(&tmp, err, "copy");
        goto fail;
    }
    db = NULL;
    if (dc__os_size(n.wal, &wal_size) == 0 && wal_size > 0) {
        rc = dc__err_set(err, DC_EBUSY,
                         "%s still has a WAL after its last connection closed (another process "
                         "opened it?); nothing was changed",
                         path);
        goto fail;
    }
    if ((e = dc__os_rename(n.tmp, path))) {
        rc = dc__err_set(err, DC_EIO, "cannot rename %s over %s: %s", n.tmp, path, strerror(e));
        goto fail;
    }
    *renamed = true;
    dc__vfs_truncate(v, 1);
    if ((e = dc__os_sync_dir_of(path)))
        return dc__err_set(err, DC_EIO,
                           "the file is under its new key, but its directory could not be synced "
                           "(%s): until it is, a power cut could bring back the old file; keep the "
                           "old key too",
                           strerror(e));
    return 0;
fail:
    if (db)
        sqlite3_close(db);
    if (made)
        remove_tmp(&n);
    dc__vfs_truncate(v, 1);
    return rc;
}

/* A fresh VFS for s->path with the given header and master key. */
static int attach_vfs(dc__store *s, const dc__ar_header *h, const uint8_t *master, dc__err *err) {
    dc__vfs *v;
    int rc = dc__vfs_new(&v, err);
    if (!rc && (rc = dc__vfs_add(v, s->path, h, master, err))) {
        dc__vfs_free(v);
        return rc;
    }
    if (!rc)
        s->vfs = v;
    return rc;
}

/* ---- opening ---- */

int dc__store_atrest_prepare(dc__store *s, bool must_exist, dc_key_fn fn, void *user,
                             dc__err *err) {
    const char *path = s->path;
    dc__ar_header h;
    uint32_t page_size;
    int kind, rc;
    bool memory = strcmp(path, ":memory:") == 0;
    if (memory) {
        if (fn)
            return dc__err_set(err, DC_EINVAL,
                               "open: an in-memory replica cannot be encrypted (nothing of it "
                               "reaches the disk); give no key provider");
        return 0;
    }
    if ((rc = probe(path, &kind, &h, &page_size, err)))
        return rc;
    if (!fn) {
        if (kind == FILE_ENCRYPTED)
            return dc__err_set(err, DC_EKEY,
                               "the replica is encrypted; open it with its key (a key provider "
                               "in the options; the CLI's --key-file or DRIVERCORE_PASSPHRASE)");
        /* A replica made here is readable by this user only; SQLite
         * creates its WAL and journals with the same mode. */
        if (kind == FILE_ABSENT && !must_exist) {
            int e = dc__os_create_private(path);
            if (e && e != EEXIST)
                return dc__err_set(err, DC_EIO, "cannot create the file: %s", strerror(e));
        }
        return 0;
    }
    if (kind == FILE_OTHER)
        return dc__err_set(err, DC_ECORRUPT,
                           "the file is neither an SQLite database nor an encrypted replica");
    if (kind == FILE_ABSENT && must_exist)
        return dc__err_set(err, DC_ENOTFOUND, "no replica there (create it first)");
    uint8_t *master = sodium_malloc(DC_KEY_BYTES);
    if (!master)
        return dc__err_set(err, DC_ENOMEM, "open: out of guarded memory for the key");
    if (kind == FILE_ENCRYPTED) {
        dc_key *k;
        if (!(rc = ask(fn, user, DC_KEY_OPEN, &k, path, err))) {
            rc = dc__ar_master(master, k, &h, err);
            dc__key_free(k);
            if (!rc && dc__ar_header_verify(&h, master) != 0)
                rc = dc__err_set(err, DC_EKEY,
                                 "the %s given does not open this replica (a wrong %s, or the "
                                 "file's header was altered)",
                                 h.kdf == DC__AR_KDF_ARGON2ID ? "passphrase" : "key",
                                 h.kdf == DC__AR_KDF_ARGON2ID ? "passphrase" : "key");
        }
    } else if (kind == FILE_ABSENT) {
        if (!(rc = new_key(&h, master, NEW_PAGE_SIZE, fn, user, path, err)))
            rc = write_header(path, &h, true, err);
    } else {
        /* A replica in clear (or an empty file): migrate it once. */
        dc__vfs *v;
        bool renamed = false;
        if (!(rc = dc__vfs_new(&v, err))) {
            if (!(rc = dc__vfs_add(v, path, NULL, NULL, err)))
                rc = recrypt(v, path, fn, user, &h, master, &renamed, err);
            dc__vfs_free(v);
        }
        /* Encrypted but the rename not yet durable: a power cut could
         * bring back the file in clear, which loses nothing; go on. */
        if (rc && renamed)
            rc = 0;
        if (rc)
            dc__err_prefix(err, "encrypting the replica (it stays in clear)");
    }
    if (!rc)
        rc = attach_vfs(s, &h, master, err);
    sodium_free(master);
    return rc;
}

int dc__store_rekey(dc__store *s, dc_key_fn fn, void *user, dc__err *err) {
    if (strcmp(s->path, ":memory:") == 0)
        return dc__err_set(err, DC_EINVAL, "rekey: an in-memory replica cannot be encrypted");
    uint8_t *master = sodium_malloc(DC_KEY_BYTES);
    if (!master)
        return dc__err_set(err, DC_ENOMEM, "rekey: out of guarded memory for the key");
    dc__ar_header h;
    /* The copy reads the file through the store's own VFS (its keys), or
     * through a VFS that reads it in clear. */
    dc__vfs *v = s->vfs;
    int rc = 0;
    bool reopen = true, renamed = false;
    dc__store_disconnect(s);
    if (!v && !(rc = dc__vfs_new(&v, err)) && (rc = dc__vfs_add(v, s->path, NULL, NULL, err))) {
        dc__vfs_free(v);
        v = NULL;
    }
    if (!rc)
        rc = recrypt(v, s->path, fn, user, &h, master, &renamed, err);
    if (v && v != s->vfs)
        dc__vfs_free(v);
    if (!rc || renamed) {
        /* The file has the new key now: the old VFS cannot read it. */
        dc__vfs_free(s->vfs);
        s->vfs = NULL;
        int arc = attach_vfs(s, &h, master, err);
        if (arc) {
            rc = arc;
            reopen = false;
        }
    }
    sodium_free(master);
    if (rc)
        dc__err_prefix(err, "rekey %s", s->path);
    if (reopen) {
        dc__err e2 = {0};
        int crc = dc__store_connect(s, true, &e2);
        if (crc) {
            dc__store_disconnect(s);
            if (!rc) {
                *err = e2;
                rc = crc;
            }
        }
    }
    return rc;
}

bool dc__store_alive(const dc__store *s) {
    return s->db != NULL;
}
