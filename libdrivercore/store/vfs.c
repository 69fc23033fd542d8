/*
 * The at-rest VFS: an SQLite VFS shim that encrypts every page of a
 * replica file, of its WAL and of its rollback journal before it reaches
 * the disk, and authenticates it on the way back (docs/format/at-rest.md).
 *
 * Each connection to an encrypted file gets its own instance, registered
 * under a unique name while the connection lives, holding the keys of the
 * one or two database files it may open: the replica, and during a
 * migration or rekey the copy being written.  Keeping keys per instance
 * rather than in a process-wide table means there is no global state to
 * lock: SQLite's own VFS list (thread-safe) is the only registry.
 *
 * SQLite computes the WAL's and the journal's checksums over the page
 * bytes it hands to xWrite, so what xRead returns must be exactly those
 * bytes: SQLite leaves the last 40 bytes of every page to us (the reserve,
 * set at creation) and keeps them zero, so a read decrypts, checks the tag
 * and hands back the reserve zeroed.  A write whose reserve is not zero is
 * refused rather than encrypted over data.
 *
 * File layouts (all under one key, each page bound to its page number):
 *   - the database: a clear header of one page, then SQLite's pages, each
 *     encrypted in place with nonce || tag in its reserve;
 *   - the WAL: SQLite's own layout; each frame's page image is encrypted
 *     like a database page, and the two checksum words of each frame
 *     header are masked, since SQLite computed them over the plaintext;
 *   - the rollback journal: SQLite's own layout; each page image (an I/O
 *     of one page at an offset that is 4 modulo 8, which a journal header
 *     never is) is encrypted like a database page.
 * Any other file (temporary databases, statement journals spilled to
 * disk, super-journals) is refused: connections to encrypted files run
 * with temp_store=MEMORY, so SQLite never asks for one.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "store/store_int.h"

/* Which file of a database a wrapped file is. */
enum { KIND_MAIN = 1, KIND_WAL = 2, KIND_JOURNAL = 3 };

#define WAL_HDR 32
#define FRAME_HDR 24

dc__vfs_fault_fn dc__vfs_fault;

typedef struct ar_db {
    char *path;        /* the database's full pathname, as SQLite names it */
    dc__ar_keys *keys; /* guarded memory; NULL: this file is in clear */
    uint8_t header[DC__AR_HEADER];
    uint32_t page_size;
    /* A checkpoint copies pages from the WAL into the database, between
     * SQLITE_FCNTL_CKPT_START and SQLITE_FCNTL_CKPT_DONE on the database
     * file.  Meanwhile a page image read from the WAL is handed over as it
     * is stored, and kept here; the database write that follows, when it
     * carries exactly those bytes, stores them as they are.  A page is valid
     * under the same key, page number and associated data in either file,
     * so the copy costs no cipher work; any other write is encrypted as
     * usual, so nothing SQLite hands over is ever written in clear. */
    bool in_checkpoint;
    uint8_t *stored; /* the last page image handed over raw, page_size bytes */
    bool stored_valid;
} ar_db;

struct dc__vfs {
    sqlite3_vfs vfs; /* first: SQLite hands this pointer back */
    sqlite3_vfs *base;
    char name[48];
    bool registered;
    ar_db db[2];
    int ndb;
    /* The last failure this VFS diagnosed itself, with the SQLite code it
     * returned, so that the store can give a message naming the page. */
    int code;
    char msg[256];
    /* Nonces: 16 random bytes drawn for this connection, then a counter,
     * so that no two writes under a key share one, without a system call
     * per page; drawn again in a forked child, which would otherwise go on
     * with the parent's sequence. */
    uint8_t nonce_base[16];
    uint64_t nonce_count;
    long nonce_pid;
};

typedef struct ar_file {
    sqlite3_file base; /* pMethods = &ar_io */
    dc__vfs *vfs;
    ar_db *db;
    sqlite3_file *real;
    int kind;
    uint32_t page; /* page size */
    uint8_t *buf;  /* scratch: one frame (header + page) */
    /* The last frame header (WAL) or page number (journal) written: the
     * page image that follows it names its page by it. */
    int64_t last_off;
    uint32_t last_pgno;
    bool has_last;
    /* WAL: the header of frame `last_off`, masked, not written yet.  SQLite
     * writes a frame as its header then its page image; held back, the two
     * go to the disk in one write, which saves as much time as the cipher
     * costs.  Any other operation on the file writes it first. */
    bool pending;
    uint8_t pending_hdr[24];
} ar_file;

#define REAL_OFFSET ((sizeof(ar_file) + 15) & ~(size_t)15)

static const sqlite3_io_methods ar_io;

static void next_nonce(dc__vfs *v, uint8_t n[DC__AR_NONCE]) {
    long pid = dc__os_pid();
    if (pid != v->nonce_pid || v->nonce_count == UINT64_MAX) {
        dc__random(v->nonce_base, sizeof v->nonce_base);
        v->nonce_count = 0;
        v->nonce_pid = pid;
    }
    memcpy(n, v->nonce_base, 16);
    dc__store_be64(n + 16, v->nonce_count++);
}

/* ---- diagnostics ---- */

static int fail(dc__vfs *v, int code, const char *fmt, ...) DC__PRINTF(3, 4);
static int fail(dc__vfs *v, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
    v->code = code;
    return code;
}

static const char *kind_name(int kind) {
    return kind == KIND_WAL ? "WAL of " : kind == KIND_JOURNAL ? "rollback journal of " : "";
}

static int fault(int op) {
    return dc__vfs_fault ? dc__vfs_fault(op) : 0;
}

static bool zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int not_authentic(ar_file *f, uint32_t pgno, const char *how) {
    return fail(f->vfs, SQLITE_IOERR_DATA,
                "page %u %s%s%s%s failed authentication: the file was damaged or tampered with, "
                "or written under another key; restore it from a copy or re-sync",
                pgno, f->kind == KIND_MAIN ? "of " : "in the ", kind_name(f->kind), f->db->path,
                how);
}

/* ---- raw I/O on the wrapped file ---- */

static int rread(ar_file *f, void *p, int n, int64_t off) {
    if (fault(DC__VFS_READ))
        return SQLITE_IOERR_READ;
    return f->real->pMethods->xRead(f->real, p, n, off);
}

static int rwrite(ar_file *f, const void *p, int n, int64_t off) {
    if (fault(DC__VFS_WRITE))
        return SQLITE_IOERR_WRITE;
    return f->real->pMethods->xWrite(f->real, p, n, off);
}

/* Checks a page SQLite hands us before encrypting it: its reserve must be
 * free, and page 1 must describe the page size and reserve this file was
 * created with (otherwise SQLite's content would overlap the nonce and tag). */
static int check_plain_page(ar_file *f, const uint8_t *p, uint32_t pgno) {
    uint32_t P = f->page;
    if (!dc__ar_reserve_clear(p, P))
        return fail(f->vfs, SQLITE_IOERR_WRITE,
                    "refusing to write page %u of %s%s: its last %d bytes are in use, but the "
                    "at-rest cipher needs them (the database lost its reserve)",
                    pgno, kind_name(f->kind), f->db->path, DC__AR_RESERVE);
    if (pgno == 1 && memcmp(p, "SQLite format 3", 16) == 0) {
        uint32_t ps = (uint32_t)p[16] << 8 | p[17];
        if (ps == 1)
            ps = 65536;
        if (ps != P || p[20] != DC__AR_RESERVE)
            return fail(f->vfs, SQLITE_IOERR_WRITE,
                        "refusing to write page 1 of %s%s: it describes %u-byte pages with %u "
                        "reserved bytes, the file was created for %u and %d",
                        kind_name(f->kind), f->db->path, ps, p[20], P, DC__AR_RESERVE);
    }
    return SQLITE_OK;
}

/* Encrypts page `pgno` (SQLite's bytes p) into dst. */
static int seal_into(ar_file *f, uint8_t *dst, const uint8_t *p, uint32_t pgno) {
    int rc = check_plain_page(f, p, pgno);
    if (rc)
        return rc;
    uint8_t nonce[DC__AR_NONCE];
    next_nonce(f->vfs, nonce);
    dc__ar_page_seal(f->db->keys, pgno, dst, p, f->page, nonce);
    return SQLITE_OK;
}

static int seal_and_write(ar_file *f, const uint8_t *p, uint32_t pgno, int64_t off) {
    int rc = seal_into(f, f->buf, p, pgno);
    return rc ? rc : rwrite(f, f->buf, (int)f->page, off);
}

/* Writes a WAL frame header held back (see ar_file). */
static int flush_pending(ar_file *f) {
    if (!f->pending)
        return SQLITE_OK;
    f->pending = false;
    return rwrite(f, f->pending_hdr, FRAME_HDR, f->last_off);
}

/* ---- the database file: one clear header page, then the pages ---- */

static int main_read(ar_file *f, uint8_t *out, int n, int64_t off) {
    int64_t P = f->page, H = P;
    int result = SQLITE_OK;
    while (n > 0) {
        int64_t pg = off / P, in = off % P;
        int take = (int)(P - in < n ? P - in : n);
        uint8_t *p = (in == 0 && take == P) ? out : f->buf;
        int rc = rread(f, p, (int)P, H + pg * P);
        if (rc == SQLITE_IOERR_SHORT_READ && zero(p, (size_t)P)) {
            /* Beyond the end of the file: zeros, as SQLite expects. */
            memset(out, 0, (size_t)take);
            result = SQLITE_IOERR_SHORT_READ;
        } else if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
            return rc;
        } else if (dc__ar_page_open(f->db->keys, (uint32_t)(pg + 1), p, (size_t)P) != 0) {
            return not_authentic(f, (uint32_t)(pg + 1), rc ? " (truncated)" : "");
        } else if (p != out) {
            memcpy(out, p + in, (size_t)take);
        }
        out += take;
        off += take;
        n -= take;
    }
    return result;
}

static int main_write(ar_file *f, const uint8_t *p, int n, int64_t off) {
    int64_t P = f->page;
    if (off % P || n % P)
        return fail(f->vfs, SQLITE_IOERR_WRITE,
                    "refusing a write of %d bytes at offset %lld of %s: the at-rest cipher writes "
                    "whole pages only",
                    n, (long long)off, f->db->path);
    ar_db *db = f->db;
    for (; n > 0; n -= (int)P, off += P, p += P) {
        int rc;
        if (db->in_checkpoint && db->stored_valid && memcmp(p, db->stored, (size_t)P) == 0)
            rc = rwrite(f, p, (int)P, off + P); /* copied as stored: see ar_db */
        else
            rc = seal_and_write(f, p, (uint32_t)(off / P + 1), off + P);
        db->stored_valid = false;
        if (rc)
            return rc;
    }
    return SQLITE_OK;
}

/* ---- the WAL: SQLite's frames, page images encrypted, checksums masked ---- */

/* Reads frame k (header and page image) into f->buf and unmasks its
 * header.  *absent: the frame is wholly beyond the end of the file. */
static int wal_load(ar_file *f, int64_t fo, bool *absent) {
    int F = FRAME_HDR + (int)f->page;
    *absent = false;
    int rc = rread(f, f->buf, F, fo);
    if (rc == SQLITE_IOERR_SHORT_READ && zero(f->buf, (size_t)F)) {
        *absent = true;
        return rc;
    }
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        return rc;
    dc__ar_frame_mask(f->db->keys, (uint64_t)fo, f->buf);
    return rc;
}

/* A checkpoint's read of one page image: handed over as stored (see ar_db).
 * Returns -1 when this read is not one (the caller reads it as usual). */
static int wal_read_stored(ar_file *f, uint8_t *out, int n, int64_t off) {
    ar_db *db = f->db;
    int64_t F = FRAME_HDR + f->page;
    db->stored_valid = false;
    if (!db->in_checkpoint || n != (int)f->page || off < WAL_HDR ||
        (off - WAL_HDR) % F != FRAME_HDR)
        return -1;
    if (!db->stored && !(db->stored = dc__malloc(f->page)))
        return -1;
    int rc = rread(f, out, n, off);
    if (rc == SQLITE_OK) {
        memcpy(db->stored, out, f->page);
        db->stored_valid = true;
    }
    return rc == SQLITE_IOERR_SHORT_READ ? -1 : rc;
}

static int wal_read(ar_file *f, uint8_t *out, int n, int64_t off) {
    int64_t F = FRAME_HDR + f->page;
    int result = wal_read_stored(f, out, n, off);
    if (result >= 0)
        return result;
    result = SQLITE_OK;
    if (off < WAL_HDR) {
        /* The WAL header is in clear. */
        int take = (int)(WAL_HDR - off < n ? WAL_HDR - off : n);
        int rc = rread(f, out, take, off);
        if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
            return rc;
        if (rc)
            result = rc;
        out += take;
        off += take;
        n -= take;
    }
    while (n > 0) {
        int64_t fo = WAL_HDR + (off - WAL_HDR) / F * F, in = off - fo;
        int take = (int)(F - in < n ? F - in : n);
        bool absent;
        int rc = wal_load(f, fo, &absent);
        if (absent) {
            memset(out, 0, (size_t)take);
            result = SQLITE_IOERR_SHORT_READ;
        } else if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
            return rc;
        } else {
            if (rc)
                result = rc;
            if (in + take > FRAME_HDR) {
                uint32_t pgno = dc__load_be32(f->buf);
                if (dc__ar_page_open(f->db->keys, pgno, f->buf + FRAME_HDR, f->page) != 0 &&
                    in >= FRAME_HDR)
                    /* A read of the page image alone is SQLite reading a
                     * committed page: a failure is damage.  A read that
                     * takes the frame header too is recovery (or a checksum
                     * rewrite) walking the log: the page is left zero, its
                     * checksum will not match, and SQLite ends the log
                     * before that frame as it does for any torn frame. */
                    return not_authentic(f, pgno, "");
            }
            memcpy(out, f->buf + in, (size_t)take);
        }
        out += take;
        off += take;
        n -= take;
    }
    return result;
}

static int wal_write(ar_file *f, const uint8_t *p, int n, int64_t off) {
    int64_t F = FRAME_HDR + f->page;
    if (off < WAL_HDR) {
        int rc = flush_pending(f);
        if (off + n > WAL_HDR)
            goto unaligned;
        return rc ? rc : rwrite(f, p, n, off);
    }
    while (n > 0) {
        int64_t fo = WAL_HDR + (off - WAL_HDR) / F * F, in = off - fo;
        int rc;
        if (in == 0 && n >= FRAME_HDR) {
            if ((rc = flush_pending(f)))
                return rc;
            memcpy(f->pending_hdr, p, FRAME_HDR);
            f->last_off = fo;
            f->last_pgno = dc__load_be32(p);
            f->has_last = true;
            dc__ar_frame_mask(f->db->keys, (uint64_t)fo, f->pending_hdr);
            f->pending = true;
            in = FRAME_HDR;
            p += FRAME_HDR;
            n -= FRAME_HDR;
            off += FRAME_HDR;
        } else if (in == FRAME_HDR && n >= (int)f->page) {
            uint32_t pgno;
            if (f->pending && f->last_off == fo) {
                /* The usual case: header and page image in one write. */
                f->pending = false;
                rc = seal_into(f, f->buf + FRAME_HDR, p, f->last_pgno);
                if (!rc) {
                    memcpy(f->buf, f->pending_hdr, FRAME_HDR);
                    rc = rwrite(f, f->buf, (int)F, fo);
                }
                p += f->page;
                n -= (int)f->page;
                off += f->page;
                if (rc)
                    return rc;
                continue;
            }
            if ((rc = flush_pending(f)))
                return rc;
            if (f->has_last && f->last_off == fo) {
                pgno = f->last_pgno;
            } else {
                /* A page image rewritten in place (a page changed twice in
                 * one transaction): its header is already on disk. */
                uint8_t hdr[4];
                rc = rread(f, hdr, 4, fo);
                if (rc)
                    return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_WRITE : rc;
                pgno = dc__load_be32(hdr);
            }
            rc = seal_and_write(f, p, pgno, off);
            p += f->page;
            n -= (int)f->page;
            off += f->page;
        } else {
            goto unaligned;
        }
        if (rc)
            return rc;
    }
    return SQLITE_OK;
unaligned:
    return fail(f->vfs, SQLITE_IOERR_WRITE,
                "refusing a write of %d bytes at offset %lld of the WAL of %s: not a whole frame "
                "header or page image",
                n, (long long)off, f->db->path);
}

/* ---- the rollback journal: page images encrypted ---- */

/* A journal record is pgno (4) || page || checksum (4), after a header
 * that starts on a sector boundary: page images sit at offsets that are 4
 * modulo 8, and nothing else of one page's size does. */
static bool journal_page(const ar_file *f, int n, int64_t off) {
    return n == (int)f->page && (off & 7) == 4;
}

static int journal_read(ar_file *f, uint8_t *out, int n, int64_t off) {
    if (!journal_page(f, n, off))
        return rread(f, out, n, off);
    int rc = rread(f, f->buf, n + 4, off - 4);
    if (rc == SQLITE_IOERR_SHORT_READ && zero(f->buf, (size_t)n + 4)) {
        memset(out, 0, (size_t)n);
        return rc;
    }
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        return rc;
    uint32_t pgno = dc__load_be32(f->buf);
    if (dc__ar_page_open(f->db->keys, pgno, f->buf + 4, f->page) != 0)
        return not_authentic(f, pgno, "");
    memcpy(out, f->buf + 4, (size_t)n);
    return SQLITE_OK;
}

static int journal_write(ar_file *f, const uint8_t *p, int n, int64_t off) {
    if (!journal_page(f, n, off)) {
        if (n == 4) {
            f->last_off = off;
            f->last_pgno = dc__load_be32(p);
            f->has_last = true;
        }
        return rwrite(f, p, n, off);
    }
    uint32_t pgno;
    if (f->has_last && f->last_off == off - 4) {
        pgno = f->last_pgno;
    } else {
        uint8_t b[4];
        int rc = rread(f, b, 4, off - 4);
        if (rc)
            return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_IOERR_WRITE : rc;
        pgno = dc__load_be32(b);
    }
    return seal_and_write(f, p, pgno, off);
}

/* ---- sqlite3_io_methods ---- */

static int x_close(sqlite3_file *pf) {
    ar_file *f = (ar_file *)pf;
    int frc = flush_pending(f);
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    if (frc)
        rc = frc;
    if (f->buf) {
        sodium_memzero(f->buf, FRAME_HDR + f->page);
        dc__free(f->buf);
        f->buf = NULL;
    }
    return rc;
}

static int x_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off) {
    ar_file *f = (ar_file *)pf;
    int rc = flush_pending(f);
    if (rc)
        return rc;
    switch (f->kind) {
    case KIND_MAIN: return main_read(f, p, n, off);
    case KIND_WAL: return wal_read(f, p, n, off);
    default: return journal_read(f, p, n, off);
    }
}

static int x_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off) {
    ar_file *f = (ar_file *)pf;
    switch (f->kind) {
    case KIND_MAIN: return main_write(f, p, n, off);
    case KIND_WAL: return wal_write(f, p, n, off);
    default: return journal_write(f, p, n, off);
    }
}

static int64_t header_size(const ar_file *f) {
    return f->kind == KIND_MAIN ? f->page : 0;
}

static int x_truncate(sqlite3_file *pf, sqlite3_int64 size) {
    ar_file *f = (ar_file *)pf;
    int rc = flush_pending(f);
    if (rc)
        return rc;
    if (fault(DC__VFS_TRUNCATE))
        return SQLITE_IOERR_TRUNCATE;
    f->has_last = false;
    return f->real->pMethods->xTruncate(f->real, size + header_size(f));
}

static int x_sync(sqlite3_file *pf, int flags) {
    ar_file *f = (ar_file *)pf;
    int rc = flush_pending(f);
    if (rc)
        return rc;
    if (fault(DC__VFS_SYNC))
        return SQLITE_IOERR_FSYNC;
    return f->real->pMethods->xSync(f->real, flags);
}

static int x_file_size(sqlite3_file *pf, sqlite3_int64 *size) {
    ar_file *f = (ar_file *)pf;
    int rc = flush_pending(f);
    if (rc)
        return rc;
    rc = f->real->pMethods->xFileSize(f->real, size);
    if (rc == SQLITE_OK) {
        *size -= header_size(f);
        if (*size < 0)
            *size = 0;
    }
    return rc;
}

static int x_lock(sqlite3_file *pf, int level) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xLock(f->real, level);
}

static int x_unlock(sqlite3_file *pf, int level) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xUnlock(f->real, level);
}

static int x_check_reserved(sqlite3_file *pf, int *out) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int x_file_control(sqlite3_file *pf, int op, void *arg) {
    ar_file *f = (ar_file *)pf;
    int frc = flush_pending(f);
    if (frc)
        return frc;
    if ((op == SQLITE_FCNTL_CKPT_START || op == SQLITE_FCNTL_CKPT_DONE) && f->kind == KIND_MAIN) {
        f->db->in_checkpoint = op == SQLITE_FCNTL_CKPT_START;
        f->db->stored_valid = false;
    }
    if (op == SQLITE_FCNTL_SIZE_HINT && f->kind == KIND_MAIN) {
        sqlite3_int64 hint = *(sqlite3_int64 *)arg + header_size(f);
        return f->real->pMethods->xFileControl(f->real, op, &hint);
    }
    int rc = f->real->pMethods->xFileControl(f->real, op, arg);
    if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK) {
        char *inner = *(char **)arg;
        *(char **)arg = sqlite3_mprintf("dc-at-rest/%z", inner);
    }
    return rc;
}

static int x_sector_size(sqlite3_file *pf) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int x_device_characteristics(sqlite3_file *pf) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int x_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int x_shm_lock(sqlite3_file *pf, int offset, int n, int flags) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void x_shm_barrier(sqlite3_file *pf) {
    ar_file *f = (ar_file *)pf;
    f->real->pMethods->xShmBarrier(f->real);
}

static int x_shm_unmap(sqlite3_file *pf, int del) {
    ar_file *f = (ar_file *)pf;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

/* Version 2: shared memory for the WAL index, and no xFetch, so SQLite
 * never maps the (encrypted) file into memory. */
static const sqlite3_io_methods ar_io = {
    2,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    NULL,
    NULL,
};

/* ---- sqlite3_vfs ---- */

static ar_db *find_db(dc__vfs *v, const char *path) {
    for (int i = 0; path && i < v->ndb; i++)
        if (strcmp(v->db[i].path, path) == 0)
            return &v->db[i];
    return NULL;
}

static bool any_keyed(const dc__vfs *v) {
    for (int i = 0; i < v->ndb; i++)
        if (v->db[i].keys)
            return true;
    return false;
}

static int check_header(ar_file *f) {
    uint32_t P = f->page;
    int rc = rread(f, f->buf, (int)P, 0);
    if (rc == SQLITE_OK && memcmp(f->buf, f->db->header, DC__AR_HEADER) == 0 &&
        zero(f->buf + DC__AR_HEADER, P - DC__AR_HEADER))
        return SQLITE_OK;
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        return rc;
    return fail(f->vfs, SQLITE_CANTOPEN,
                "the at-rest header of %s changed while it was being opened (another process "
                "rekeyed or replaced it?); open it again",
                f->db->path);
}

static int x_open(sqlite3_vfs *pv, sqlite3_filename name, sqlite3_file *pf, int flags,
                  int *out_flags) {
    dc__vfs *v = (dc__vfs *)pv;
    ar_file *f = (ar_file *)pf;
    sqlite3_vfs *base = v->base;
    int kind = 0;
    const char *dbname = NULL;
    if (flags & SQLITE_OPEN_MAIN_DB) {
        kind = KIND_MAIN;
        dbname = name;
    } else if (flags & SQLITE_OPEN_WAL) {
        kind = KIND_WAL;
        dbname = sqlite3_filename_database(name);
    } else if (flags & SQLITE_OPEN_MAIN_JOURNAL) {
        kind = KIND_JOURNAL;
        dbname = sqlite3_filename_database(name);
    }
    ar_db *db = find_db(v, dbname);
    pf->pMethods = NULL;
    if (!db || !db->keys) {
        /* A file in clear: handed to the base VFS as it is, in our slot. */
        if (any_keyed(v) && (!db || !kind))
            return fail(v, SQLITE_CANTOPEN,
                        "refusing to open %s%s: SQLite asked for a %s on a connection to an "
                        "encrypted replica, and it would be written in clear",
                        kind ? "" : "a temporary file", kind ? name : "",
                        kind ? "database file this connection has no key for" : "temporary file");
        return base->xOpen(base, name, pf, flags, out_flags);
    }
    memset(f, 0, sizeof *f);
    f->vfs = v;
    f->db = db;
    f->kind = kind;
    f->page = db->page_size;
    f->real = (sqlite3_file *)((char *)pf + REAL_OFFSET);
    f->buf = dc__malloc(FRAME_HDR + (size_t)f->page);
    if (!f->buf)
        return SQLITE_NOMEM;
    int rc =
        fault(DC__VFS_OPEN) ? SQLITE_CANTOPEN : base->xOpen(base, name, f->real, flags, out_flags);
    if (rc == SQLITE_OK && kind == KIND_MAIN)
        rc = check_header(f);
    if (rc != SQLITE_OK) {
        if (f->real->pMethods)
            f->real->pMethods->xClose(f->real);
        dc__free(f->buf);
        return rc;
    }
    pf->pMethods = &ar_io;
    return SQLITE_OK;
}

static int x_delete(sqlite3_vfs *pv, const char *name, int sync_dir) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xDelete(b, name, sync_dir);
}

static int x_access(sqlite3_vfs *pv, const char *name, int flags, int *out) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xAccess(b, name, flags, out);
}

static int x_full_pathname(sqlite3_vfs *pv, const char *name, int n, char *out) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xFullPathname(b, name, n, out);
}

static void *x_dlopen(sqlite3_vfs *pv, const char *name) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xDlOpen(b, name);
}

static void x_dlerror(sqlite3_vfs *pv, int n, char *msg) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    b->xDlError(b, n, msg);
}

static void (*x_dlsym(sqlite3_vfs *pv, void *h, const char *sym))(void) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xDlSym(b, h, sym);
}

static void x_dlclose(sqlite3_vfs *pv, void *h) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    b->xDlClose(b, h);
}

static int x_randomness(sqlite3_vfs *pv, int n, char *out) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xRandomness(b, n, out);
}

static int x_sleep(sqlite3_vfs *pv, int us) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xSleep(b, us);
}

static int x_current_time(sqlite3_vfs *pv, double *t) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xCurrentTime(b, t);
}

static int x_get_last_error(sqlite3_vfs *pv, int n, char *msg) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    return b->xGetLastError ? b->xGetLastError(b, n, msg) : 0;
}

static int x_current_time64(sqlite3_vfs *pv, sqlite3_int64 *t) {
    sqlite3_vfs *b = ((dc__vfs *)pv)->base;
    if (b->iVersion >= 2 && b->xCurrentTimeInt64)
        return b->xCurrentTimeInt64(b, t);
    double d;
    int rc = b->xCurrentTime(b, &d);
    *t = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

/* ---- the store's interface ---- */

int dc__vfs_new(dc__vfs **out, dc__err *err) {
    *out = NULL;
    sqlite3_vfs *base = sqlite3_vfs_find(NULL);
    if (!base)
        return dc__err_set(err, DC_ERROR, "open: SQLite has no default VFS");
    dc__vfs *v = dc__calloc(1, sizeof *v);
    if (!v)
        return dc__err_set(err, DC_ENOMEM, "open: out of memory");
    v->base = base;
    /* The address makes the name unique among the instances alive. */
    snprintf(v->name, sizeof v->name, "dc-at-rest-%p", (void *)v);
    sqlite3_vfs *s = &v->vfs;
    s->iVersion = 2;
    s->szOsFile = (int)(REAL_OFFSET + (size_t)base->szOsFile);
    s->mxPathname = base->mxPathname;
    s->zName = v->name;
    s->xOpen = x_open;
    s->xDelete = x_delete;
    s->xAccess = x_access;
    s->xFullPathname = x_full_pathname;
    s->xDlOpen = x_dlopen;
    s->xDlError = x_dlerror;
    s->xDlSym = x_dlsym;
    s->xDlClose = x_dlclose;
    s->xRandomness = x_randomness;
    s->xSleep = x_sleep;
    s->xCurrentTime = x_current_time;
    s->xGetLastError = x_get_last_error;
    s->xCurrentTimeInt64 = x_current_time64;
    int rc = sqlite3_vfs_register(s, 0);
    if (rc != SQLITE_OK) {
        dc__free(v);
        return dc__err_set(err, rc == SQLITE_NOMEM ? DC_ENOMEM : DC_ERROR,
                           "open: cannot register the at-rest VFS: %s", sqlite3_errstr(rc));
    }
    v->registered = true;
    *out = v;
    return 0;
}

const char *dc__vfs_name(const dc__vfs *v) {
    return v->name;
}

uint32_t dc__vfs_page_size(const dc__vfs *v) {
    return v->ndb ? v->db[0].page_size : 0;
}

int dc__vfs_full_path(dc__vfs *v, const char *path, char **out, dc__err *err) {
    int n = v->base->mxPathname + 1;
    char *p = dc__malloc((size_t)n);
    *out = NULL;
    if (!p)
        return dc__err_set(err, DC_ENOMEM, "open: out of memory");
    int rc = v->base->xFullPathname(v->base, path, n, p);
    if (rc != SQLITE_OK && rc != SQLITE_OK_SYMLINK) {
        dc__free(p);
        return dc__err_set(err, rc == SQLITE_NOMEM ? DC_ENOMEM : DC_EIO,
                           "open: cannot resolve the path %s: %s", path, sqlite3_errstr(rc));
    }
    *out = p;
    return 0;
}

int dc__vfs_add(dc__vfs *v, const char *path, const dc__ar_header *h,
                const uint8_t master[DC_KEY_BYTES], dc__err *err) {
    if (v->ndb == (int)(sizeof v->db / sizeof v->db[0]))
        return dc__err_set(err, DC_ERROR, "open: too many files on one at-rest VFS");
    ar_db *d = &v->db[v->ndb];
    memset(d, 0, sizeof *d);
    int rc = dc__vfs_full_path(v, path, &d->path, err);
    if (rc)
        return rc;
    if (h) {
        d->keys = sodium_malloc(sizeof *d->keys);
        if (!d->keys) {
            dc__free(d->path);
            return dc__err_set(err, DC_ENOMEM, "open: out of guarded memory for the file keys");
        }
        dc__ar_keys_derive(d->keys, master, h);
        dc__ar_header_encode(d->header, h);
        d->page_size = h->page_size;
    }
    v->ndb++;
    return 0;
}

static void db_clear(ar_db *d) {
    dc__free(d->path);
    if (d->keys)
        sodium_free(d->keys);
    dc__free(d->stored); /* ciphertext: nothing to wipe */
    memset(d, 0, sizeof *d);
}

void dc__vfs_free(dc__vfs *v) {
    if (!v)
        return;
    if (v->registered)
        sqlite3_vfs_unregister(&v->vfs);
    for (int i = 0; i < v->ndb; i++)
        db_clear(&v->db[i]);
    dc__free(v);
}

int dc__vfs_take_error(dc__vfs *v, int sqlite_code, char *msg, size_t cap) {
    int code = v->code;
    v->code = 0;
    if (!code || code != sqlite_code)
        return 0;
    snprintf(msg, cap, "%s", v->msg);
    return code == SQLITE_IOERR_DATA ? DC_ECORRUPT : DC_EIO;
}

void dc__vfs_truncate(dc__vfs *v, int n) {
    while (v->ndb > n)
        db_clear(&v->db[--v->ndb]);
}
